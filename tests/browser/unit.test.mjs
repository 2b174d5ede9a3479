// Unit checks of the dashboard's pure modules, run by Node without a browser: the message
// tables, the Jalali calendar and digit handling.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { MESSAGES } from '../../crates/server/dashboard/js/messages.js';
import { gregorianToJalali, isLeapJalaliYear } from '../../crates/server/dashboard/js/jalali.js';
import {
  parseNumber,
  parseWhole,
  toLatinDigits,
  toPersianDigits,
} from '../../crates/server/dashboard/js/digits.js';

const SCRIPTS = new URL('../../crates/server/dashboard/js/', import.meta.url).pathname;

function scriptTexts(dir = SCRIPTS) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      return scriptTexts(path);
    }
    return entry.name.endsWith('.js') ? [[path, readFileSync(path, 'utf8')]] : [];
  });
}

test('English and Persian have the same keys and no empty message', () => {
  const english = Object.keys(MESSAGES.en).sort();
  const persian = Object.keys(MESSAGES.fa).sort();
  assert.deepEqual(persian, english);
  for (const [language, table] of Object.entries(MESSAGES)) {
    for (const [key, value] of Object.entries(table)) {
      assert.ok(typeof value === 'string' && value.trim() !== '', `${language} ${key} is empty`);
    }
  }
});

test('Persian messages keep the placeholders of the English ones', () => {
  const placeholders = (text) => (text.match(/\{\w+\}/g) || []).sort();
  for (const [key, value] of Object.entries(MESSAGES.en)) {
    assert.deepEqual(placeholders(MESSAGES.fa[key]), placeholders(value), key);
  }
});

test('every message key the scripts name exists', () => {
  const namespaces = new Set(Object.keys(MESSAGES.en).map((key) => key.split('.')[0]));
  const missing = [];
  for (const [path, text] of scriptTexts()) {
    if (path.endsWith('messages.js')) {
      continue;
    }
    for (const [, key] of text.matchAll(/'([a-z]+\.[a-z0-9_]+)'/g)) {
      if (namespaces.has(key.split('.')[0]) && !(key in MESSAGES.en)) {
        missing.push(`${path}: ${key}`);
      }
    }
  }
  for (const status of ['active', 'disabled', 'limited', 'expired']) {
    if (!(`status.${status}` in MESSAGES.en)) missing.push(`status.${status}`);
  }
  for (const size of ['25', '50', '100']) {
    if (!(`users.size_${size}` in MESSAGES.en)) missing.push(`users.size_${size}`);
  }
  assert.deepEqual(missing, []);
});

test('Gregorian dates convert to the known Jalali dates', () => {
  const known = [
    [[2026, 3, 21], [1405, 1, 1]],
    [[2026, 3, 20], [1404, 12, 29]],
    [[2025, 3, 21], [1404, 1, 1]],
    [[2025, 3, 20], [1403, 12, 30]],
    [[2024, 3, 20], [1403, 1, 1]],
    [[2000, 1, 1], [1378, 10, 11]],
    [[1979, 2, 11], [1357, 11, 22]],
    [[2026, 12, 5], [1405, 9, 14]],
    [[2030, 9, 23], [1409, 7, 1]],
  ];
  for (const [gregorian, jalali] of known) {
    assert.deepEqual(gregorianToJalali(...gregorian), jalali, gregorian.join('-'));
  }
});

test('leap years follow the 33-year rule', () => {
  const leap = [1358, 1362, 1366, 1370, 1375, 1379, 1383, 1387, 1391, 1395, 1399, 1403, 1408];
  for (let year = 1358; year <= 1408; year += 1) {
    assert.equal(isLeapJalaliYear(year), leap.includes(year), String(year));
  }
});

test('dates far outside the supported era are refused, not looped on', () => {
  assert.throws(() => gregorianToJalali(-5000, 1, 1), RangeError);
});

test('digits convert between Persian, Arabic-Indic and Latin', () => {
  assert.equal(toLatinDigits('۱۲۳۴۵۶'), '123456');
  assert.equal(toLatinDigits('٦٥٤٣٢١'), '654321');
  assert.equal(toPersianDigits('1405/01/01'), '۱۴۰۵/۰۱/۰۱');
  assert.equal(parseNumber('۱٫۵'), 1.5);
  assert.equal(parseNumber('2.25'), 2.25);
  assert.equal(parseNumber('1e3'), null);
  assert.equal(parseNumber(''), null);
  assert.equal(parseWhole('۳۰'), 30);
  assert.equal(parseWhole('3.5'), null);
});

test('the test TOTP generator matches the RFC 6238 vector', async () => {
  const { totp } = await import('./support.mjs');
  // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", T = 59 s: 94287082.
  assert.equal(totp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 1), '287082');
});
