// The Solar Hijri (Jalali) calendar, computed from the Gregorian date.
//
// Days are counted from a known new year (1405-01-01 = 2026-03-21) with the 33-year
// arithmetic leap rule, which agrees with the official astronomical calendar for the years
// a panel shows (1343–1472 at least).

const ANCHOR_YEAR = 1405;
const ANCHOR_UTC_DAY = Date.UTC(2026, 2, 21) / 86400000;
/** Years are walked one at a time; this bounds the walk to about ±1000 years. */
const MAX_YEARS_WALKED = 1000;

/** Checks whether Jalali year `year` has 366 days. */
export function isLeapJalaliYear(year) {
  return (((25 * year + 11) % 33) + 33) % 33 < 8;
}

function yearLength(year) {
  return isLeapJalaliYear(year) ? 366 : 365;
}

/** Days in Jalali month `month` (1–12) of `year`. */
export function jalaliMonthLength(year, month) {
  if (month <= 6) {
    return 31;
  }
  if (month <= 11) {
    return 30;
  }
  return isLeapJalaliYear(year) ? 30 : 29;
}

/**
 * Converts a Gregorian date (month 1–12) to `[year, month, day]` in the Jalali calendar.
 * Throws a RangeError for dates too far from today's era.
 */
export function gregorianToJalali(year, month, day) {
  let days = Date.UTC(year, month - 1, day) / 86400000 - ANCHOR_UTC_DAY;
  let jalaliYear = ANCHOR_YEAR;
  let walked = 0;
  while (days < 0) {
    jalaliYear -= 1;
    days += yearLength(jalaliYear);
    walked += 1;
    if (walked > MAX_YEARS_WALKED) {
      throw new RangeError('date out of range');
    }
  }
  while (days >= yearLength(jalaliYear)) {
    days -= yearLength(jalaliYear);
    jalaliYear += 1;
    walked += 1;
    if (walked > MAX_YEARS_WALKED) {
      throw new RangeError('date out of range');
    }
  }
  let jalaliMonth = 1;
  while (days >= jalaliMonthLength(jalaliYear, jalaliMonth)) {
    days -= jalaliMonthLength(jalaliYear, jalaliMonth);
    jalaliMonth += 1;
  }
  return [jalaliYear, jalaliMonth, days + 1];
}
