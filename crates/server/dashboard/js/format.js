// Numbers, sizes and dates as the chosen language writes them. Persian uses Persian digits
// and the Solar Hijri (Jalali) calendar; English uses ISO-like Gregorian dates. Times are
// shown in the browser's time zone.

import { gregorianToJalali } from './jalali.js';
import { language, localDigits, t } from './i18n.js';

const SIZE_UNITS = [
  ['size.tb', 1e12],
  ['size.gb', 1e9],
  ['size.mb', 1e6],
  ['size.kb', 1e3],
];

function pad(number) {
  return String(number).padStart(2, '0');
}

/** Formats a number with the language's digits (and decimal separator in Persian). */
export function formatNumber(value, fractionDigits = 0) {
  const text = Number(value).toFixed(fractionDigits);
  return language() === 'fa' ? localDigits(text).replace('.', '\u066b') : text;
}

/** Bytes in decimal units, as quotas are written. */
export function formatBytes(bytes) {
  for (const [unit, size] of SIZE_UNITS) {
    if (bytes >= size) {
      return t(unit, { value: formatNumber(bytes / size, 2) });
    }
  }
  return t('size.b', { value: formatNumber(bytes) });
}

/** Formats a quota in GB, or "unlimited" for 0. */
export function formatQuota(gigabytes) {
  if (!gigabytes) {
    return t('users.unlimited');
  }
  return t('size.gb', { value: formatNumber(gigabytes, gigabytes % 1 === 0 ? 0 : 3) });
}

/** Formats the calendar date of `date`: Jalali `1405/01/01` in Persian, `2026-03-21` in English. */
export function formatDay(date) {
  const year = date.getFullYear();
  const month = date.getMonth() + 1;
  const day = date.getDate();
  if (language() === 'fa') {
    const [jy, jm, jd] = gregorianToJalali(year, month, day);
    return localDigits(`${jy}/${pad(jm)}/${pad(jd)}`);
  }
  return `${year}-${pad(month)}-${pad(day)}`;
}

/** Formats a time from the API (RFC 3339) as a local date and time; '' when absent or unreadable. */
export function formatTime(iso) {
  if (!iso) {
    return '';
  }
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return String(iso);
  }
  return `${formatDay(date)} ${localDigits(`${pad(date.getHours())}:${pad(date.getMinutes())}`)}`;
}

/** Describes how far `iso` is from `now`, in whole days, as text ("in 3 days", "2 days ago"). */
export function formatDaysFrom(iso, now = Date.now()) {
  const days = Math.round((new Date(iso).getTime() - now) / 86400000);
  if (days === 0) {
    return t('time.today');
  }
  return days > 0 ? t('time.in_days', { days }) : t('time.days_ago', { days: -days });
}

/** Formats a duration in seconds as days, hours and minutes. */
export function formatDuration(seconds) {
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return t('time.duration', { days, hours, minutes });
}
