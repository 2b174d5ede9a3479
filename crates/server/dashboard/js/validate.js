// Client-side checks that mirror the server's rules, so an obvious mistake is shown next to
// its field at once, in the chosen language, without a round trip. The server checks again.

import { parseNumber, parseWhole } from './digits.js';
import { FieldProblem } from './forms.js';

const NAME_PATTERN = /^[A-Za-z0-9_-]{3,255}$/;
const MAX_NOTE_CHARS = 2000;

/** A value that must not be empty. */
export function required(field, raw) {
  if (!raw) {
    throw new FieldProblem(field, 'form.required');
  }
  return raw;
}

/** Checks a VPN user name: 3–255 ASCII letters, digits, '_' or '-'. */
export function userName(field, raw) {
  if (!raw) {
    throw new FieldProblem(field, 'form.required');
  }
  if (!NAME_PATTERN.test(raw)) {
    throw new FieldProblem(field, 'users.name_rule');
  }
  return raw;
}

/** Checks a prefix for name search or bulk creation: the same characters, possibly empty. */
export function namePrefix(field, raw) {
  if (raw && !/^[A-Za-z0-9_-]{1,255}$/.test(raw)) {
    throw new FieldProblem(field, 'users.name_rule');
  }
  return raw;
}

/** Reads a quota in GB: 0 (unlimited) to 10000 with at most three decimals. */
export function gigabytes(field, raw) {
  const value = parseNumber(raw);
  if (value === null || value < 0 || value > 10000 || Math.round(value * 1000) !== value * 1000) {
    throw new FieldProblem(field, 'form.gigabytes');
  }
  return value;
}

/** Reads a whole number from `min` to `max`. */
export function whole(field, raw, min, max) {
  const value = parseWhole(raw);
  if (value === null || value < min || value > max) {
    throw new FieldProblem(field, 'form.whole_range', { min, max });
  }
  return value;
}

/** Checks a note of at most 2000 characters. */
export function note(field, raw) {
  if ([...raw].length > MAX_NOTE_CHARS) {
    throw new FieldProblem(field, 'form.note_length', { max: MAX_NOTE_CHARS });
  }
  return raw;
}
