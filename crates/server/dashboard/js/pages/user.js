// One user: details, subscription link with its QR code and a copy button, and every action
// (edit, renew, add traffic, reset usage, enable or disable, new link, delete).

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { failureText, field, FieldProblem, form, notice } from '../forms.js';
import { formatBytes, formatDaysFrom, formatQuota, formatTime } from '../format.js';
import { t } from '../i18n.js';
import * as check from '../validate.js';
import { statusBadge, usageBar } from './users.js';

function path(name, suffix = '') {
  return `/api/admin/users/${encodeURIComponent(name)}${suffix}`;
}

export async function render(content, name, { navigate }) {
  const user = await api('GET', path(name));
  show(content, user, navigate);
}

function show(content, user, navigate, message = null) {
  const refresh = (updated, key) => show(content, updated, navigate, key ? t(key) : null);
  replace(
    content,
    h(
      'div',
      { class: 'page-head' },
      h('h1', { dir: 'ltr', text: user.name }),
      h('a', { href: '#/users', class: 'back', text: t('user.back') }),
    ),
    message ? notice('success', message) : null,
    details(user),
    subscription(user, refresh),
    h(
      'section',
      { class: 'card actions-card' },
      h('h2', { text: t('user.actions') }),
      quickActions(user, refresh, navigate),
      h(
        'div',
        { class: 'action-forms' },
        editForm(user, refresh),
        renewForm(user, refresh),
        addTrafficForm(user, refresh),
      ),
    ),
  );
}

function details(user) {
  const rows = [
    ['user.status', statusBadge(user.status)],
    ['user.usage', usageBar(user)],
    ['user.upload', formatBytes(user.upload_bytes)],
    ['user.download', formatBytes(user.download_bytes)],
    ['user.quota', formatQuota(user.traffic_limit_gb)],
    ['user.expires', h('span', {}, h('span', { class: 'date', text: formatTime(user.expire_at) }), ' ', h('span', { class: 'relative', text: formatDaysFrom(user.expire_at) }))],
    ['user.created', h('span', { class: 'date', text: formatTime(user.created_at) })],
    ['user.note', h('span', { class: 'note-text', dir: 'auto', text: user.note || t('user.no_note') })],
  ];
  return h(
    'section',
    { class: 'card' },
    h('h2', { text: t('user.details') }),
    h('dl', { class: 'facts' }, rows.map(([key, value]) => [h('dt', { text: t(key) }), h('dd', {}, value)])),
  );
}

function subscription(user, refresh) {
  const link = h('input', {
    id: 'subscription-link',
    type: 'text',
    readonly: true,
    dir: 'ltr',
    value: user.subscription_url,
    spellcheck: 'false',
  });
  const copied = h('span', { class: 'copied', role: 'status' });
  const copy = h('button', {
    type: 'button',
    class: 'secondary',
    text: t('user.copy'),
    on: {
      click: async () => {
        copied.textContent = (await copyText(link)) ? t('user.copied') : t('user.copy_failed');
      },
    },
  });
  const qr = h('img', {
    class: 'qr',
    alt: t('user.qr_alt', { name: user.name }),
    src: `${path(user.name, '/subscription-qr')}?v=${encodeURIComponent(user.subscription_url.slice(-12))}`,
    width: '256',
    height: '256',
  });
  const rotate = h('button', {
    type: 'button',
    class: 'secondary',
    text: t('user.rotate'),
    on: {
      click: async () => {
        if (window.confirm(t('user.rotate_confirm'))) {
          refresh(await api('POST', path(user.name, '/rotate-subscription')), 'user.rotated');
        }
      },
    },
  });
  return h(
    'section',
    { class: 'card subscription' },
    h('h2', { text: t('user.subscription') }),
    h('p', { class: 'hint', text: t('user.subscription_hint') }),
    h('div', { class: 'qr-box' }, qr),
    h('label', { for: 'subscription-link', text: t('user.link') }),
    h('div', { class: 'copy-row' }, link, copy, copied),
    h('div', { class: 'buttons' }, rotate),
  );
}

async function copyText(input) {
  try {
    await navigator.clipboard.writeText(input.value);
    return true;
  } catch {
    input.select();
    return false;
  }
}

function actionButton(labelKey, handler) {
  const problem = h('span', { class: 'form-error', role: 'alert' });
  const button = h('button', {
    type: 'button',
    class: 'secondary',
    text: t(labelKey),
    on: {
      click: async () => {
        problem.textContent = '';
        button.disabled = true;
        try {
          await handler();
        } catch (error) {
          problem.textContent = failureText(error);
        } finally {
          button.disabled = false;
        }
      },
    },
  });
  return [button, problem];
}

function quickActions(user, refresh, navigate) {
  const toggle =
    user.status === 'disabled'
      ? actionButton('user.enable', async () => refresh(await api('POST', path(user.name, '/enable')), 'user.enabled'))
      : actionButton('user.disable', async () => refresh(await api('POST', path(user.name, '/disable')), 'user.disabled'));
  return h(
    'div',
    { class: 'buttons quick' },
    toggle,
    actionButton('user.reset_usage', async () => {
      if (window.confirm(t('user.reset_confirm'))) {
        refresh(await api('POST', path(user.name, '/reset-usage')), 'user.usage_reset');
      }
    }),
    actionButton('user.delete', async () => {
      if (window.confirm(t('user.delete_confirm', { name: user.name }))) {
        await api('DELETE', path(user.name));
        navigate('#/users');
      }
    }),
  );
}

/** `YYYY-MM-DD` of an RFC 3339 time, for a date input. */
function dateInputValue(iso) {
  return iso ? iso.slice(0, 10) : '';
}

function editForm(user, refresh) {
  const quota = field({ name: 'traffic_limit_gb', label: 'users.quota_gb', value: String(user.traffic_limit_gb), hint: 'users.quota_hint', attrs: { inputmode: 'decimal' } });
  const expires = field({ name: 'expire_at', label: 'user.expire_date', type: 'date', value: dateInputValue(user.expire_at), hint: 'user.expire_date_hint' });
  const note = field({ name: 'note', label: 'users.note', type: 'textarea', value: user.note, attrs: { dir: 'auto' } });
  return h(
    'div',
    { class: 'action-form' },
    h('h3', { text: t('user.edit') }),
    form({
      fields: [quota, expires, note],
      submit: 'user.save',
      onSubmit: async (values) => {
        if (!/^\d{4}-\d{2}-\d{2}$/.test(values.expire_at)) {
          throw new FieldProblem('expire_at', 'form.date');
        }
        const updated = await api('PATCH', path(user.name), {
          traffic_limit_gb: check.gigabytes('traffic_limit_gb', values.traffic_limit_gb),
          expire_at: `${values.expire_at}T${user.expire_at.slice(11)}`,
          note: check.note('note', note.input.value),
        });
        refresh(updated, 'user.saved');
      },
    }),
  );
}

function renewForm(user, refresh) {
  const quota = field({ name: 'traffic_limit_gb', label: 'users.quota_gb', value: String(user.traffic_limit_gb), attrs: { inputmode: 'decimal' } });
  const days = field({ name: 'expire_days', label: 'users.expire_days', value: '30', attrs: { inputmode: 'numeric' } });
  return h(
    'div',
    { class: 'action-form' },
    h('h3', { text: t('user.renew') }),
    h('p', { class: 'hint', text: t('user.renew_hint') }),
    form({
      fields: [quota, days],
      submit: 'user.renew_submit',
      onSubmit: async (values) => {
        const renewed = await api('POST', path(user.name, '/renew'), {
          traffic_limit_gb: check.gigabytes('traffic_limit_gb', values.traffic_limit_gb),
          expire_days: check.whole('expire_days', values.expire_days, 1, 365),
        });
        refresh(renewed, 'user.renewed');
      },
    }),
  );
}

function addTrafficForm(user, refresh) {
  const amount = field({ name: 'gb', label: 'user.add_gb', value: '5', attrs: { inputmode: 'decimal' } });
  return h(
    'div',
    { class: 'action-form' },
    h('h3', { text: t('user.add_traffic') }),
    form({
      fields: [amount],
      submit: 'user.add_submit',
      onSubmit: async (values) => {
        const gb = check.gigabytes('gb', values.gb);
        if (gb <= 0) {
          throw new FieldProblem('gb', 'form.positive');
        }
        refresh(await api('POST', path(user.name, '/add-traffic'), { gb }), 'user.traffic_added');
      },
    }),
  );
}
