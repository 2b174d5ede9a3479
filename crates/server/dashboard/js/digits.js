// Digits in Persian and Latin script: shown in the language's own digits, and read from
// whatever digits the operator typed (Persian ۰–۹, Arabic-Indic ٠–٩ or Latin 0–9).

const PERSIAN_ZERO = 0x06f0;
const ARABIC_INDIC_ZERO = 0x0660;

/** Writes every Latin digit of `text` as a Persian digit. */
export function toPersianDigits(text) {
  return String(text).replace(/[0-9]/g, (digit) =>
    String.fromCharCode(PERSIAN_ZERO + Number(digit)),
  );
}

/**
 * Writes every Persian or Arabic-Indic digit of `text` as a Latin digit, and the Persian
 * decimal separator (٫) as a dot, so that `۱۲۳۴۵۶` reads as `123456` and `۱٫۵` as `1.5`.
 */
export function toLatinDigits(text) {
  return String(text)
    .replace(/[\u06f0-\u06f9]/g, (digit) => String(digit.charCodeAt(0) - PERSIAN_ZERO))
    .replace(/[\u0660-\u0669]/g, (digit) => String(digit.charCodeAt(0) - ARABIC_INDIC_ZERO))
    .replace(/\u066b/g, '.');
}

/** Reads a number typed in any of the accepted digits; `null` when it is not one. */
export function parseNumber(text) {
  const latin = toLatinDigits(text).trim();
  if (!/^-?[0-9]+(\.[0-9]+)?$/.test(latin)) {
    return null;
  }
  return Number(latin);
}

/** Reads a whole number typed in any of the accepted digits; `null` when it is not one. */
export function parseWhole(text) {
  const latin = toLatinDigits(text).trim();
  if (!/^[0-9]+$/.test(latin)) {
    return null;
  }
  return Number(latin);
}
