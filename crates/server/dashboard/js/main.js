// The dashboard's entry point: language, layout, and the hash router.
//
// Pages live at `#/users`, `#/users/NAME`, `#/security`, `#/audit`, `#/system`, plus
// `#/login` and `#/password`. When the session ends, the page the operator was on is kept
// and reopened after the next login.

import { api, ApiError, hasSession, onSessionExpired, SessionExpired } from './api.js';
import { h, replace } from './dom.js';
import { notice } from './forms.js';
import { initialLanguage, language, LANGUAGES, setLanguage, t } from './i18n.js';
import * as audit from './pages/audit.js';
import * as login from './pages/login.js';
import * as security from './pages/security.js';
import * as system from './pages/system.js';
import * as user from './pages/user.js';
import * as users from './pages/users.js';

const RETURN_KEY = 'spiritus.return-to';
const DEFAULT_PAGE = '#/users';

const NAVIGATION = [
  ['#/users', 'nav.users'],
  ['#/security', 'nav.security'],
  ['#/audit', 'nav.audit'],
  ['#/system', 'nav.system'],
];

const root = document.getElementById('app');

/** Splits the hash into a page name and its argument (`#/users/alice` → users, alice). */
function currentRoute() {
  const parts = window.location.hash.replace(/^#\/?/, '').split('/');
  return {
    page: parts[0] || '',
    argument: parts.length > 1 ? decodeURIComponent(parts.slice(1).join('/')) : null,
  };
}

/** Goes to `hash`, rendering even when the hash does not change. */
export function navigate(hash) {
  if (window.location.hash === hash) {
    render();
  } else {
    window.location.hash = hash;
  }
}

/** Remembers the page to come back to and opens the login page. */
function toLogin() {
  const here = window.location.hash;
  if (here && !here.startsWith('#/login') && !here.startsWith('#/password')) {
    window.sessionStorage.setItem(RETURN_KEY, here);
  }
  navigate('#/login');
}

/** After a login: the page kept when the session ended, or the users page. */
function afterLogin(mustChangePassword) {
  if (mustChangePassword) {
    navigate('#/password');
    return;
  }
  const back = window.sessionStorage.getItem(RETURN_KEY);
  window.sessionStorage.removeItem(RETURN_KEY);
  navigate(back || DEFAULT_PAGE);
}

function languageSwitch() {
  const other = LANGUAGES.find((code) => code !== language());
  return h('button', {
    type: 'button',
    class: 'language',
    lang: other,
    'data-language': other,
    text: t(`language.${other}`),
    on: {
      click: () => {
        setLanguage(other);
        render();
      },
    },
  });
}

async function logout() {
  try {
    await api('POST', '/api/auth/logout');
  } catch (error) {
    if (!(error instanceof SessionExpired)) {
      window.alert(t('error.logout_failed'));
      return;
    }
  }
  window.sessionStorage.removeItem(RETURN_KEY);
  navigate('#/login');
}

function layout(active) {
  const links = NAVIGATION.map(([hash, key]) =>
    h('a', {
      href: hash,
      text: t(key),
      'aria-current': active.startsWith(hash) ? 'page' : null,
    }),
  );
  const content = h('main', { id: 'content', tabindex: '-1' });
  replace(
    root,
    // The hash belongs to the router, so the skip link moves the focus itself.
    h('a', {
      class: 'skip',
      href: '#content',
      text: t('nav.skip'),
      on: {
        click: (event) => {
          event.preventDefault();
          content.focus();
        },
      },
    }),
    h(
      'header',
      { class: 'top' },
      h('span', { class: 'brand', text: t('app.name') }),
      h('nav', { 'aria-label': t('nav.label') }, links),
      h(
        'div',
        { class: 'session' },
        languageSwitch(),
        h('button', { type: 'button', class: 'logout', text: t('nav.logout'), on: { click: logout } }),
      ),
    ),
    content,
  );
  return content;
}

function bare() {
  const content = h('main', { id: 'content', class: 'bare', tabindex: '-1' });
  replace(root, h('div', { class: 'corner' }, languageSwitch()), content);
  return content;
}

const PAGES = {
  users: (content) => users.render(content, { navigate }),
  user: (content, argument) => user.render(content, argument, { navigate }),
  security: (content) => security.render(content),
  audit: (content) => audit.render(content),
  system: (content) => system.render(content),
};

/** Shows the page the hash names. */
async function render() {
  const { page, argument } = currentRoute();
  if (page === 'login') {
    login.renderLogin(bare(), { afterLogin });
    return;
  }
  if (page === 'password') {
    login.renderPasswordChange(bare(), { afterLogin, toLogin });
    return;
  }
  if (!hasSession()) {
    toLogin();
    return;
  }
  const name = page === 'users' && argument ? 'user' : page;
  const show = PAGES[name];
  if (!show) {
    navigate(DEFAULT_PAGE);
    return;
  }
  const content = layout(`#/${page}`);
  try {
    await show(content, argument);
  } catch (error) {
    if (error instanceof SessionExpired) {
      return;
    }
    if (error instanceof ApiError && error.code === 'password_change_required') {
      navigate('#/password');
      return;
    }
    if (error instanceof ApiError && error.code === 'second_factor_enrolment_required' && name !== 'security') {
      navigate('#/security');
      return;
    }
    content.appendChild(notice('error', t('error.page_failed')));
  }
}

onSessionExpired(toLogin);
setLanguage(initialLanguage());
window.addEventListener('hashchange', render);
render();
