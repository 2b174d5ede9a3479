// The dashboard in a real browser (Debian's Chromium through playwright-core) against the
// real `spiritus` binary: forced password change, TOTP enrolment and login, a user's life
// (create, QR code, renew, edit), Persian with right-to-left layout and Jalali dates, the
// audit viewer, session revocation and an expired session. Throughout, the page must record
// no CSP violation, no console error and no dialog that injected markup could open.
//
// Screenshots of the main pages in both languages go to a temporary folder, or to
// SPIRITUS_SCREENSHOTS_DIR when set (`SPIRITUS_SCREENSHOTS_DIR=$PWD/docs/screenshots` refreshes
// the committed ones), so a test run leaves the working tree unchanged.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

import { currentStep, nextStepAfter, startServer, totp } from './support.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SHOTS = process.env.SPIRITUS_SCREENSHOTS_DIR || join(tmpdir(), 'spiritus-screenshots');
const NEW_PASSWORD = 'correct horse battery staple';
const PAYLOAD = '<img src=x onerror=alert(1)>';
const NOTE = `${PAYLOAD}<script>alert(2)</script> یادداشت راست‌به‌چپ with mixed text`;
/** The newest TOTP step used; each step is accepted once per account. */
let usedStep = 0;
const SEEDED_USERS = Number(process.env.SPIRITUS_DASHBOARD_USERS || 3000);

/** Collects everything that must stay empty: CSP violations, console errors, dialogs. */
function watch(page) {
  const problems = { csp: [], console: [], dialogs: [], pageErrors: [] };
  let allowedConsole = null;
  page.on('console', (message) => {
    if (message.type() !== 'error') {
      return;
    }
    const text = message.text();
    if (allowedConsole && allowedConsole.test(text)) {
      return;
    }
    problems.console.push(text);
  });
  page.on('pageerror', (error) => problems.pageErrors.push(String(error)));
  page.on('dialog', async (dialog) => {
    if (dialog.type() === 'confirm') {
      await dialog.accept();
    } else {
      problems.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      await dialog.dismiss();
    }
  });
  return {
    problems,
    allowConsole(pattern) {
      allowedConsole = pattern;
    },
    async csp() {
      return page.evaluate(() => window.__cspViolations.slice());
    },
  };
}

async function screenshot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

async function login(page, username, password) {
  await page.getByLabel(/^(User name|نام کاربری)$/).fill(username);
  await page.getByLabel(/^(Password|گذرواژه)$/).fill(password);
  await page.getByRole('button', { name: /^(Log in|ورود)$/ }).click();
}

async function switchLanguage(page, code) {
  await page.locator(`button[data-language="${code}"]`).click();
  await page.waitForFunction((lang) => document.documentElement.lang === lang, code);
}

test('dashboard flows in a real browser', { timeout: 600000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI === 'true') {
      assert.fail(`Chromium is missing at ${CHROMIUM}`);
    }
    t.skip(`Chromium is missing at ${CHROMIUM}`);
    return;
  }
  const server = await startServer();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update'],
  });
  try {
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      timezoneId: 'UTC',
      locale: 'en-US',
      viewport: { width: 1200, height: 800 },
    });
    await context.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (event) => {
        window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
      });
    });
    const page = await context.newPage();
    page.setDefaultTimeout(20000);
    const watcher = watch(page);
    const base = server.baseUrl;

    // First login with the one-time password, then the forced change.
    await page.goto(`${base}/`);
    await page.waitForURL(/#\/login$/);
    assert.equal(await page.getAttribute('html', 'dir'), 'ltr');
    await screenshot(page, 'login-en');
    await switchLanguage(page, 'fa');
    assert.equal(await page.getAttribute('html', 'dir'), 'rtl');
    await screenshot(page, 'login-fa');
    await switchLanguage(page, 'en');
    await login(page, 'admin', server.ownerPassword);
    await page.waitForURL(/#\/password$/);
    await page.getByLabel('Current password').fill(server.ownerPassword);
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('New password again').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.waitForURL(/#\/login$/);
    await login(page, 'admin', NEW_PASSWORD);
    await page.waitForURL(/#\/users$/);

    // TOTP enrolment: the secret is read from the page, the code computed here.
    await page.getByRole('link', { name: 'Security', exact: true }).click();
    await page.getByRole('button', { name: 'Set up' }).click();
    const secret = (await page.locator('#totp-secret').textContent()).trim();
    assert.match(secret, /^[A-Z2-7]+=*$/);
    assert.ok(await page.locator('img.qr').evaluate((image) => image.complete && image.naturalWidth > 0));
    const enrolStep = currentStep();
    await page.getByLabel('Code from the app').fill(totp(secret, enrolStep));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.locator('ol.codes li').first().waitFor();
    const codes = await page.locator('ol.codes li').allTextContents();
    assert.equal(codes.length, 10);
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByText('On: logins ask for a code from your app.').waitFor();
    await screenshot(page, 'security-en');

    // Log out and in again with the password and a TOTP code typed in Persian digits.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/#\/login$/);
    await login(page, 'admin', NEW_PASSWORD);
    const loginStep = await nextStepAfter(enrolStep);
    usedStep = loginStep;
    const persianCode = totp(secret, loginStep).replace(/[0-9]/g, (d) => String.fromCharCode(0x06f0 + Number(d)));
    await page.getByLabel('Code', { exact: true }).fill(persianCode);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(/#\/users$/);

    // A user name holding markup is refused next to its field and shown as text nowhere else.
    await page.getByRole('button', { name: 'New user' }).click();
    await page.getByLabel('Name', { exact: true }).fill(PAYLOAD);
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.locator('.field-error:not([hidden])').filter({ hasText: 'ASCII letters' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('alice');
    await page.getByLabel('Note').fill(NOTE);
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.waitForURL(/#\/users\/alice$/);
    assert.equal(await page.locator('.note-text').textContent(), NOTE);

    // The subscription: QR code from this origin, link, copy button.
    const qr = page.locator('img.qr');
    await qr.waitFor();
    await page.waitForFunction(() => {
      const image = document.querySelector('img.qr');
      return image && image.complete && image.naturalWidth > 0;
    });
    const link = await page.locator('#subscription-link').inputValue();
    assert.ok(link.startsWith(`${base}/sub/`), link);
    await screenshot(page, 'user-en');

    // Renew, then set a known expiry to check the Jalali date later.
    const renewForm = page.locator('.action-form').filter({ has: page.getByRole('heading', { name: 'Renew' }) });
    await renewForm.getByLabel('Quota (GB)').fill('25');
    await renewForm.getByLabel('Valid for (days)').fill('۶۰');
    await renewForm.getByRole('button', { name: 'Renew' }).click();
    await page.getByText('The user was renewed.').waitFor();
    assert.match(await page.locator('.facts').first().textContent(), /25 GB/);
    const editForm = page.locator('.action-form').filter({ has: page.getByRole('heading', { name: 'Edit' }) });
    await editForm.getByLabel('Expiry date').fill('2027-03-21');
    await editForm.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Changes saved.').waitFor();
    assert.match(await page.locator('.facts').first().textContent(), /2027-03-21/);

    // Persian: mirrored layout, Persian digits, Jalali date (2027-03-21 is 1406-01-01).
    await switchLanguage(page, 'fa');
    assert.equal(await page.getAttribute('html', 'dir'), 'rtl');
    assert.equal(await page.getAttribute('html', 'lang'), 'fa');
    const facts = await page.locator('.facts').first().textContent();
    assert.ok(facts.includes('۱۴۰۶/۰۱/۰۱'), facts);
    assert.ok(facts.includes('۲۵ گیگابایت'), facts);
    await screenshot(page, 'user-fa');

    // The users table with many users: one page from the server, and the total.
    const seedToken = await bearer(server, secret);
    const seedingStarted = Date.now();
    for (let start = 1; start <= SEEDED_USERS; start += 1000) {
      const count = Math.min(1000, SEEDED_USERS - start + 1);
      const token = seedToken;
      const seeded = await server.call('POST', '/api/admin/users/bulk', { prefix: 'bulk', count, start, pad: 6, traffic_limit_gb: 1, expire_days: 30 }, token);
      assert.equal(seeded.status, 201, JSON.stringify(seeded.body));
    }
    t.diagnostic(`seeded ${SEEDED_USERS} users in ${Date.now() - seedingStarted} ms`);
    const listStarted = Date.now();
    await page.getByRole('link', { name: 'کاربران', exact: true }).click();
    const summary = page.locator('.summary');
    await summary.waitFor();
    t.diagnostic(`users page with ${SEEDED_USERS + 1} users shown in ${Date.now() - listStarted} ms`);
    const total = SEEDED_USERS + 1;
    assert.equal(await summary.getAttribute('data-total'), String(total));
    assert.equal(await page.locator('table.users tbody tr').count(), 50);
    const persianTotal = String(total).replace(/[0-9]/g, (d) => String.fromCharCode(0x06f0 + Number(d)));
    assert.ok((await summary.textContent()).includes(persianTotal));
    await screenshot(page, 'users-fa');
    const nextStarted = Date.now();
    await page.getByRole('button', { name: 'بعدی' }).click();
    await page.getByText('صفحهٔ ۲').waitFor();
    t.diagnostic(`page 2 shown in ${Date.now() - nextStarted} ms`);

    // An attacker's login with markup as the user name lands in the audit log as text.
    const refused = await server.call('POST', '/api/auth/login', { username: PAYLOAD, password: 'x' });
    assert.equal(refused.status, 401);
    await page.getByRole('link', { name: 'دفتر رویداد', exact: true }).click();
    await page.locator('[data-valid="true"]').waitFor();
    const names = await page.locator('td.actor .username').allTextContents();
    assert.ok(names.includes(PAYLOAD), names.join(' | '));
    await screenshot(page, 'audit-fa');

    await page.getByRole('link', { name: 'سامانه', exact: true }).click();
    await page.locator('#system-version').waitFor();
    await screenshot(page, 'system-fa');
    await page.getByRole('link', { name: 'امنیت', exact: true }).click();
    await page.locator('table.sessions').waitFor();
    await screenshot(page, 'security-fa');
    await switchLanguage(page, 'en');

    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await page.locator('table.users').waitFor();
    await screenshot(page, 'users-en');
    await page.getByRole('link', { name: 'Audit log', exact: true }).click();
    await page.locator('[data-valid="true"]').waitFor();
    await screenshot(page, 'audit-en');
    await page.getByRole('link', { name: 'System', exact: true }).click();
    await page.locator('#system-version').waitFor();
    await screenshot(page, 'system-en');

    // A failing API call leaves the page usable: a clear message and a retry that works. A
    // slow one shows that it is loading. The refused request's console line is expected.
    watcher.allowConsole(/ERR_FAILED/);
    await page.route('**/api/admin/users?*', (route) => route.abort('failed'), { times: 1 });
    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await page.getByText('The panel could not be reached. Check the connection and try again.').waitFor();
    await page.getByRole('button', { name: 'Try again' }).click();
    await page.locator('table.users').waitFor();
    watcher.allowConsole(null);
    await page.route(
      '**/api/admin/users?*',
      async (route) => {
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await route.continue();
      },
      { times: 1 },
    );
    const pageBefore = await page.locator('.pager span').textContent();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByText('Loading…').waitFor();
    await page.waitForFunction((before) => {
      const label = document.querySelector('.pager span');
      return label && label.textContent !== before;
    }, pageBefore);

    // Another session (an API login) shows on the security page and can be revoked there.
    const otherToken = await bearer(server, secret);
    await page.getByRole('link', { name: 'Security', exact: true }).click();
    const apiRows = page.locator('table.sessions tbody tr').filter({ hasText: 'spiritus-browser-test' });
    await apiRows.first().waitFor();
    assert.equal(await apiRows.count(), 2);
    // Newest first: the first row is the session of otherToken.
    await apiRows.first().getByRole('button', { name: 'Revoke' }).click();
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('table.sessions tbody tr')];
      return rows.filter((row) => row.textContent.includes('spiritus-browser-test')).length === 1;
    });
    const revoked = await server.call('GET', '/api/auth/sessions', undefined, otherToken);
    assert.equal(revoked.status, 401, 'the revoked session still works');
    const kept = await server.call('GET', '/api/auth/sessions', undefined, seedToken);
    assert.equal(kept.status, 200);

    // The session ends in the middle of work (revoked elsewhere): back to login, then back to
    // the same page. The refused calls of that moment are the only console errors allowed.
    await page.getByRole('link', { name: 'Audit log', exact: true }).click();
    await page.locator('[data-valid="true"]').waitFor();
    watcher.allowConsole(/status of 401/);
    const ended = await server.call('POST', '/api/admin/incident/accounts/admin/revoke-sessions', undefined, seedToken);
    assert.equal(ended.status, 200, JSON.stringify(ended.body));
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/#\/login$/);
    watcher.allowConsole(null);
    await login(page, 'admin', NEW_PASSWORD);
    await page.getByLabel('Code', { exact: true }).fill(codes[0]);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(/#\/audit$/);
    await page.locator('[data-valid="true"]').waitFor();

    // Nothing injected ran, and the policy was never violated.
    assert.equal(await page.locator('img[src="x"]').count(), 0);
    assert.deepEqual(await watcher.csp(), []);
    assert.deepEqual(watcher.problems.csp, []);
    assert.deepEqual(watcher.problems.console, []);
    assert.deepEqual(watcher.problems.pageErrors, []);
    assert.deepEqual(watcher.problems.dialogs, []);
    await context.close();
  } finally {
    await browser.close();
    await server.stop();
  }
});

/** A bearer token for the owner through the API, with a fresh TOTP step each time. */
async function bearer(server, secret) {
  const first = await server.call('POST', '/api/auth/login', { username: 'admin', password: NEW_PASSWORD });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  if (!first.body.mfa_required) {
    return first.body.access_token;
  }
  const step = await nextStepAfter(usedStep);
  usedStep = step;
  const second = await server.call('POST', '/api/auth/2fa', { challenge: first.body.challenge, code: totp(secret, step) });
  assert.equal(second.status, 200, JSON.stringify(second.body));
  return second.body.access_token;
}
