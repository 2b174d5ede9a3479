// The logged-in account's own security: TOTP enrolment with its QR code, backup codes,
// passkeys, the password, and the active sessions with a revoke button each.

import { api } from '../api.js';
import { toLatinDigits } from '../digits.js';
import { h, replace } from '../dom.js';
import { failureText, field, FieldProblem, form, notice } from '../forms.js';
import { formatNumber, formatTime } from '../format.js';
import { t } from '../i18n.js';
import { passkeysSupported, registerPasskey } from '../passkeys.js';

export async function render(content) {
  const [factors, sessions] = await Promise.all([
    api('GET', '/api/auth/second-factors'),
    api('GET', '/api/auth/sessions').catch((error) => ({ error })),
  ]);
  const again = () => render(content);
  replace(
    content,
    h('div', { class: 'page-head' }, h('h1', { text: t('security.title') })),
    factors.enrolment_required ? notice('error', t('security.enrolment_required')) : null,
    totpCard(factors, again),
    backupCard(factors),
    passkeyCard(factors, again),
    sessionsCard(sessions, again),
    passwordCard(),
  );
}

function card(titleKey, ...children) {
  return h('section', { class: 'card' }, h('h2', { text: t(titleKey) }), children);
}

function passwordAndCode() {
  return [
    field({ name: 'password', label: 'security.password', type: 'password', attrs: { autocomplete: 'current-password' } }),
    field({ name: 'code', label: 'security.code', hint: 'login.code_hint', attrs: { autocomplete: 'one-time-code', inputmode: 'numeric' } }),
  ];
}

function requireFilled(values, names) {
  for (const name of names) {
    if (!values[name]) {
      throw new FieldProblem(name, 'form.required');
    }
  }
}

function codeList(codes) {
  return h(
    'div',
    { class: 'backup-codes' },
    h('p', { class: 'notice warning', role: 'status', text: t('security.codes_once') }),
    h('ol', { class: 'codes', dir: 'ltr' }, codes.map((code) => h('li', { text: code }))),
  );
}

function totpCard(factors, again) {
  if (factors.totp) {
    const [password, code] = passwordAndCode();
    return card(
      'security.totp',
      h('p', { class: 'state on', text: t('security.totp_on') }),
      h('h3', { text: t('security.totp_disable') }),
      form({
        fields: [password, code],
        submit: 'security.totp_disable_submit',
        onSubmit: async (values) => {
          requireFilled(values, ['password', 'code']);
          await api('POST', '/api/auth/totp/disable', { password: password.input.value, code: toLatinDigits(values.code) });
          await again();
        },
      }),
    );
  }
  const area = h('div', {});
  const start = h('button', {
    type: 'button',
    class: 'primary',
    text: t('security.totp_setup'),
    on: {
      click: async () => {
        start.disabled = true;
        try {
          showEnrolment(area, await api('POST', '/api/auth/totp/setup'), again);
        } catch (error) {
          replace(area, notice('error', failureText(error)));
        } finally {
          start.disabled = false;
        }
      },
    },
  });
  return card('security.totp', h('p', { class: 'state off', text: t('security.totp_off') }), start, area);
}

function showEnrolment(area, setup, again) {
  const code = field({ name: 'code', label: 'security.totp_code', hint: 'login.code_hint', attrs: { autocomplete: 'one-time-code', inputmode: 'numeric' } });
  const result = h('div', {});
  replace(
    area,
    h('p', { text: t('security.totp_scan') }),
    h('img', { class: 'qr', src: `data:image/png;base64,${setup.qr_png}`, alt: t('security.totp_qr_alt'), width: '256', height: '256' }),
    h('p', {}, t('security.totp_secret'), ' ', h('code', { id: 'totp-secret', dir: 'ltr', text: setup.secret })),
    form({
      fields: [code],
      submit: 'security.totp_confirm',
      onSubmit: async (values) => {
        requireFilled(values, ['code']);
        const answer = await api('POST', '/api/auth/totp/confirm', { code: toLatinDigits(values.code) });
        replace(
          area,
          notice('success', t('security.totp_enabled')),
          codeList(answer.backup_codes),
          h('button', { type: 'button', class: 'secondary', text: t('security.done'), on: { click: again } }),
        );
      },
    }),
    result,
  );
  code.input.focus();
}

function backupCard(factors) {
  const [password, code] = passwordAndCode();
  const area = h('div', {});
  return card(
    'security.backup',
    h('p', { text: t('security.backup_left', { count: factors.backup_codes_left }) }),
    factors.totp || factors.passkeys.length
      ? form({
          fields: [password, code],
          submit: 'security.backup_regenerate',
          onSubmit: async (values) => {
            requireFilled(values, ['password', 'code']);
            const answer = await api('POST', '/api/auth/backup-codes', { password: password.input.value, code: toLatinDigits(values.code) });
            replace(area, codeList(answer.backup_codes));
          },
        })
      : h('p', { class: 'hint', text: t('security.backup_needs_factor') }),
    area,
  );
}

function passkeyCard(factors, again) {
  const rows = factors.passkeys.map((passkey) => passkeyRow(passkey, again));
  const list = rows.length
    ? h('ul', { class: 'passkeys' }, rows)
    : h('p', { class: 'hint', text: t('security.no_passkeys') });
  if (!factors.passkeys_available) {
    return card('security.passkeys', list, h('p', { class: 'hint', text: t('security.passkeys_off') }));
  }
  if (!passkeysSupported()) {
    return card('security.passkeys', list, h('p', { class: 'hint', text: t('security.passkeys_unsupported') }));
  }
  const name = field({ name: 'name', label: 'security.passkey_name', value: t('security.passkey_default_name'), attrs: { dir: 'auto' } });
  const area = h('div', {});
  return card(
    'security.passkeys',
    list,
    form({
      fields: [name],
      submit: 'security.passkey_add',
      onSubmit: async (values) => {
        requireFilled(values, ['name']);
        const added = await registerPasskey(values.name);
        if (added.backup_codes) {
          replace(area, codeList(added.backup_codes));
        } else {
          await again();
        }
      },
    }),
    area,
  );
}

function passkeyRow(passkey, again) {
  const [password, code] = passwordAndCode();
  const removal = h(
    'details',
    {},
    h('summary', { text: t('security.passkey_remove') }),
    form({
      fields: [password, code],
      submit: 'security.passkey_remove_submit',
      onSubmit: async (values) => {
        requireFilled(values, ['password', 'code']);
        await api('DELETE', `/api/auth/webauthn/credentials/${encodeURIComponent(passkey.id)}`, {
          password: password.input.value,
          code: toLatinDigits(values.code),
        });
        await again();
      },
    }),
  );
  return h(
    'li',
    {},
    h('strong', { dir: 'auto', text: passkey.name }),
    h('span', { class: 'hint', text: t('security.passkey_dates', { created: formatTime(passkey.created_at), used: passkey.last_used_at ? formatTime(passkey.last_used_at) : t('security.never') }) }),
    removal,
  );
}

function sessionsCard(sessions, again) {
  if (sessions.error) {
    return card('security.sessions', notice('error', failureText(sessions.error)));
  }
  const rows = sessions.items.map((session) => {
    const problem = h('span', { class: 'form-error', role: 'alert' });
    const revoke = h('button', {
      type: 'button',
      class: 'secondary',
      text: t('security.revoke'),
      on: {
        click: async () => {
          revoke.disabled = true;
          try {
            await api('DELETE', `/api/auth/sessions/${encodeURIComponent(session.id)}`);
            await again();
          } catch (error) {
            problem.textContent = failureText(error);
            revoke.disabled = false;
          }
        },
      },
    });
    return h(
      'tr',
      { 'data-session': session.id },
      h('td', { class: 'date', text: formatTime(session.created_at) }),
      h('td', { dir: 'ltr', text: session.ip || '' }),
      h('td', { class: 'agent', dir: 'ltr', text: session.user_agent || '' }),
      h('td', {}, session.current ? h('span', { class: 'badge status-active', text: t('security.this_session') }) : [revoke, problem]),
    );
  });
  return card(
    'security.sessions',
    h('p', { text: t('security.sessions_count', { count: formatNumber(sessions.items.length) }) }),
    h(
      'table',
      { class: 'sessions' },
      h('thead', {}, h('tr', {}, ['security.started', 'security.address', 'security.agent', 'security.session_action'].map((key) => h('th', { scope: 'col', text: t(key) })))),
      h('tbody', {}, rows),
    ),
  );
}

function passwordCard() {
  const current = field({ name: 'current', label: 'password.current', type: 'password', attrs: { autocomplete: 'current-password' } });
  const next = field({ name: 'new', label: 'password.new', type: 'password', hint: 'password.new_hint', attrs: { autocomplete: 'new-password' } });
  return card(
    'security.password_change',
    h('p', { class: 'hint', text: t('security.password_hint') }),
    form({
      fields: [current, next],
      submit: 'password.submit',
      onSubmit: async () => {
        if (!current.input.value) {
          throw new FieldProblem('current', 'form.required');
        }
        await api('POST', '/api/auth/password', { current: current.input.value, new: next.input.value });
        window.location.hash = '#/login';
      },
    }),
  );
}
