// Logging in (the password, then a TOTP code, a backup code or a passkey when the account
// has a second factor) and the forced password change.

import { api, ApiError } from '../api.js';
import { toLatinDigits } from '../digits.js';
import { h, replace } from '../dom.js';
import { field, FieldProblem, form } from '../forms.js';
import { t } from '../i18n.js';
import { loginWithPasskey, passkeysSupported } from '../passkeys.js';

function card(titleKey, ...children) {
  return h('section', { class: 'card login' }, h('h1', { text: t(titleKey) }), children);
}

/** Shows the password step. */
export function renderLogin(content, { afterLogin }) {
  const username = field({
    name: 'username',
    label: 'login.username',
    attrs: { autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false' },
  });
  const password = field({
    name: 'password',
    label: 'login.password',
    type: 'password',
    attrs: { autocomplete: 'current-password' },
  });
  const loginForm = form({
    fields: [username, password],
    submit: 'login.submit',
    onSubmit: async (values) => {
      if (!values.username) {
        throw new FieldProblem('username', 'form.required');
      }
      if (!password.input.value) {
        throw new FieldProblem('password', 'form.required');
      }
      const answer = await api('POST', '/api/auth/login?cookie=true', {
        username: values.username,
        password: password.input.value,
      });
      if (answer.mfa_required) {
        renderSecondFactor(content, answer, { afterLogin });
      } else {
        afterLogin(answer.must_change_password);
      }
    },
  });
  replace(content, card('login.title', h('p', { class: 'lead', text: t('login.lead') }), loginForm));
  username.input.focus();
}

/** Shows the second-factor step for a login `challenge`. */
function renderSecondFactor(content, challenge, { afterLogin }) {
  const code = field({
    name: 'code',
    label: 'login.code',
    hint: 'login.code_hint',
    attrs: { autocomplete: 'one-time-code', inputmode: 'numeric', spellcheck: 'false' },
  });
  const codeForm = form({
    fields: [code],
    submit: 'login.verify',
    onSubmit: async (values) => {
      if (!values.code) {
        throw new FieldProblem('code', 'form.required');
      }
      const answer = await api('POST', '/api/auth/2fa?cookie=true', {
        challenge: challenge.challenge,
        code: toLatinDigits(values.code),
      });
      afterLogin(answer.must_change_password);
    },
  });
  const passkeyError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const passkeyButton =
    challenge.methods.includes('webauthn') && passkeysSupported()
      ? h('button', {
          type: 'button',
          class: 'secondary',
          text: t('login.passkey'),
          on: {
            click: async () => {
              passkeyError.hidden = true;
              try {
                const answer = await loginWithPasskey(challenge.challenge);
                afterLogin(answer.must_change_password);
              } catch (error) {
                passkeyError.textContent =
                  error instanceof ApiError ? t(`error.${error.code}`) : t('login.passkey_failed');
                passkeyError.hidden = false;
              }
            },
          },
        })
      : null;
  replace(
    content,
    card(
      'login.second_factor',
      h('p', { class: 'lead', text: t('login.second_factor_lead') }),
      codeForm,
      passkeyButton ? h('div', { class: 'alternative' }, passkeyButton, passkeyError) : null,
    ),
  );
  code.input.focus();
}

/** The password change an account must make before anything else. */
export function renderPasswordChange(content, { toLogin }) {
  const current = field({
    name: 'current',
    label: 'password.current',
    type: 'password',
    attrs: { autocomplete: 'current-password' },
  });
  const next = field({
    name: 'new',
    label: 'password.new',
    type: 'password',
    hint: 'password.new_hint',
    attrs: { autocomplete: 'new-password' },
  });
  const repeat = field({
    name: 'repeat',
    label: 'password.repeat',
    type: 'password',
    attrs: { autocomplete: 'new-password' },
  });
  const done = h('p', { class: 'notice success', role: 'status', hidden: true });
  const changeForm = form({
    fields: [current, next, repeat],
    submit: 'password.submit',
    onSubmit: async () => {
      if (!current.input.value) {
        throw new FieldProblem('current', 'form.required');
      }
      if (next.input.value !== repeat.input.value) {
        throw new FieldProblem('repeat', 'password.mismatch');
      }
      await api('POST', '/api/auth/password', {
        current: current.input.value,
        new: next.input.value,
      });
      // A password change ends every session, this one included.
      done.textContent = t('password.changed');
      done.hidden = false;
      window.setTimeout(toLogin, 1500);
    },
  });
  replace(
    content,
    card('password.title', h('p', { class: 'lead', text: t('password.lead') }), changeForm, done),
  );
  current.input.focus();
}
