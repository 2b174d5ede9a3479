// The chosen language: its messages, its direction, and its digits.

import { MESSAGES } from './messages.js';
import { toPersianDigits } from './digits.js';

export const LANGUAGES = ['en', 'fa'];
const STORAGE_KEY = 'spiritus.language';
const RIGHT_TO_LEFT = new Set(['fa']);

let current = 'en';

/** Returns the language in use. */
export function language() {
  return current;
}

/** Picks the stored language, or the browser's when it is Persian, or English. */
export function initialLanguage() {
  let stored = null;
  try {
    stored = window.localStorage.getItem(STORAGE_KEY);
  } catch {
    stored = null;
  }
  if (LANGUAGES.includes(stored)) {
    return stored;
  }
  return (navigator.language || '').toLowerCase().startsWith('fa') ? 'fa' : 'en';
}

/** Switches the language and mirrors the page for a right-to-left one. */
export function setLanguage(code) {
  current = LANGUAGES.includes(code) ? code : 'en';
  const root = document.documentElement;
  root.lang = current;
  root.dir = RIGHT_TO_LEFT.has(current) ? 'rtl' : 'ltr';
  document.title = t('app.title');
  try {
    window.localStorage.setItem(STORAGE_KEY, current);
  } catch {
    // Storage may be switched off; the choice then lasts for this page only.
  }
}

/** Writes Latin digits in the language's digits. */
export function localDigits(text) {
  return current === 'fa' ? toPersianDigits(text) : String(text);
}

/**
 * Returns the message `key` in the current language, with `{name}` placeholders filled from
 * `params` (numbers in the language's digits). A missing key shows as the key itself.
 */
export function t(key, params = {}) {
  const table = MESSAGES[current] || MESSAGES.en;
  const template = table[key] ?? MESSAGES.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) => {
    if (!(name in params)) {
      return whole;
    }
    const value = params[name];
    return typeof value === 'number' ? localDigits(value) : String(value);
  });
}

/** Returns the message for an API error code, falling back to the server's own text. */
export function errorText(error) {
  // The server's English text names the exact rule a field broke.
  if (current === 'en' && error.field && error.message) {
    return error.message;
  }
  const key = `error.${error.code}`;
  const table = MESSAGES[current] || MESSAGES.en;
  if (table[key]) {
    return table[key];
  }
  return current === 'en' && error.message ? error.message : t('error.unknown');
}
