// The users table: name search, status filter, sort and paging all done by the server
// (`GET /api/admin/users`), so a panel with 100 000 users loads one page at a time. Creating
// one user and creating many at once are forms above the table.

import { api, leadsElsewhere, query } from '../api.js';
import { h, replace } from '../dom.js';
import { failureText, field, form, notice } from '../forms.js';
import { formatBytes, formatDaysFrom, formatNumber, formatQuota, formatTime } from '../format.js';
import { t } from '../i18n.js';
import * as check from '../validate.js';

const STATUSES = ['active', 'disabled', 'limited', 'expired'];
const SORTS = [
  ['name', 'users.sort_name'],
  ['-created_at', 'users.sort_newest'],
  ['expire_at', 'users.sort_expiring'],
  ['-used_bytes', 'users.sort_usage'],
];
const PAGE_SIZES = ['25', '50', '100'];

/** Builds a status badge: the class gives the colour and the text the meaning. */
export function statusBadge(status) {
  return h('span', { class: `badge status-${status}`, text: t(`status.${status}`) });
}

/** Used traffic against the quota, as a progress bar with the figures beside it. */
export function usageBar(user) {
  const used = formatBytes(user.used_bytes);
  if (!user.traffic_limit_gb) {
    return h('span', { class: 'usage', text: t('users.usage_unlimited', { used }) });
  }
  const limit = user.traffic_limit_gb * 1e9;
  const label = t('users.usage_of', { used, quota: formatQuota(user.traffic_limit_gb) });
  return h(
    'span',
    { class: 'usage' },
    h('progress', {
      max: String(limit),
      value: String(Math.min(user.used_bytes, limit)),
      'aria-label': label,
    }),
    h('span', { text: label }),
  );
}

function userRow(user) {
  return h(
    'tr',
    {},
    h(
      'td',
      { class: 'name' },
      h('a', { href: `#/users/${encodeURIComponent(user.name)}`, text: user.name, dir: 'ltr' }),
      user.note ? h('span', { class: 'note', text: user.note, dir: 'auto' }) : null,
    ),
    h('td', {}, statusBadge(user.status)),
    h('td', {}, usageBar(user)),
    h(
      'td',
      {},
      h('span', { class: 'date', text: formatTime(user.expire_at) }),
      h('span', { class: 'relative', text: formatDaysFrom(user.expire_at) }),
    ),
  );
}

/** Makes the table state: filters and the cursor of every page visited so far. */
function freshState() {
  return { prefix: '', status: '', sort: 'name', limit: '50', cursors: [null], page: 0 };
}

let remembered = freshState();

export async function render(content, { navigate }) {
  const state = remembered;
  const table = h('div', { class: 'table-area', 'aria-live': 'polite' });

  const search = field({
    name: 'name_prefix',
    label: 'users.search',
    value: state.prefix,
    attrs: { type: 'search', spellcheck: 'false', autocapitalize: 'none' },
  });
  const status = field({
    name: 'status',
    label: 'users.status_filter',
    type: 'select',
    value: state.status,
    options: [['', 'users.all_statuses'], ...STATUSES.map((code) => [code, `status.${code}`])],
  });
  const sort = field({ name: 'sort', label: 'users.sort', type: 'select', value: state.sort, options: SORTS });
  const limit = field({
    name: 'limit',
    label: 'users.page_size',
    type: 'select',
    value: state.limit,
    options: PAGE_SIZES.map((size) => [size, `users.size_${size}`]),
  });
  const filters = form({
    fields: [search, status, sort, limit],
    submit: 'users.apply',
    className: 'filters',
    onSubmit: async (values) => {
      check.namePrefix('name_prefix', values.name_prefix);
      Object.assign(state, {
        prefix: values.name_prefix,
        status: values.status,
        sort: values.sort,
        limit: values.limit,
        cursors: [null],
        page: 0,
      });
      await loadPage(state, table);
    },
  });

  replace(
    content,
    h(
      'div',
      { class: 'page-head' },
      h('h1', { text: t('users.title') }),
      h(
        'div',
        { class: 'actions' },
        disclosure('users.create', createForm(navigate)),
        disclosure('users.bulk_create', bulkForm(state, table)),
      ),
    ),
    filters,
    table,
  );
  await loadPage(state, table);
}

/** Builds a button that shows or hides `body` below it. */
function disclosure(labelKey, body) {
  const panel = h('div', { class: 'panel', hidden: true }, body);
  const button = h('button', {
    type: 'button',
    class: 'secondary',
    'aria-expanded': 'false',
    text: t(labelKey),
    on: {
      click: () => {
        panel.hidden = !panel.hidden;
        button.setAttribute('aria-expanded', String(!panel.hidden));
        if (!panel.hidden) {
          panel.querySelector('input')?.focus();
        }
      },
    },
  });
  return h('div', { class: 'disclosure' }, button, panel);
}

async function loadPage(state, table) {
  replace(table, h('p', { class: 'loading', text: t('common.loading') }));
  let page;
  try {
    page = await api(
      'GET',
      `/api/admin/users${query({
        limit: state.limit,
        cursor: state.cursors[state.page],
        status: state.status,
        name_prefix: state.prefix,
        sort: state.sort,
      })}`,
    );
  } catch (error) {
    if (leadsElsewhere(error)) {
      throw error;
    }
    // Shown in place with a retry, so the filters above stay usable.
    replace(table, notice('error', failureText(error)), retryButton(() => loadPage(state, table).catch(() => {})));
    return;
  }
  state.cursors[state.page + 1] = page.next_cursor;
  const first = state.page * Number(state.limit) + 1;
  const last = state.page * Number(state.limit) + page.items.length;
  const summary = page.items.length
    ? t('users.showing', { first: formatNumber(first), last: formatNumber(last), total: formatNumber(page.total) })
    : t('users.none');
  replace(
    table,
    h('p', { class: 'summary', 'data-total': String(page.total), text: summary }),
    page.items.length
      ? h(
          'table',
          { class: 'users' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['users.name', 'users.status', 'users.usage', 'users.expires'].map((key) =>
                h('th', { scope: 'col', text: t(key) }),
              ),
            ),
          ),
          h('tbody', {}, page.items.map(userRow)),
        )
      : null,
    pager(state, table, page),
  );
}

function retryButton(retry) {
  return h('button', { type: 'button', class: 'secondary', text: t('common.retry'), on: { click: retry } });
}

function pager(state, table, page) {
  const go = (delta) => async () => {
    state.page += delta;
    await loadPage(state, table).catch(() => {});
  };
  return h(
    'nav',
    { class: 'pager', 'aria-label': t('users.paging') },
    h('button', { type: 'button', class: 'secondary', text: t('users.previous'), disabled: state.page === 0, on: { click: go(-1) } }),
    h('span', { text: t('users.page', { page: formatNumber(state.page + 1) }) }),
    h('button', { type: 'button', class: 'secondary', text: t('users.next'), disabled: !page.next_cursor, on: { click: go(1) } }),
  );
}

function createForm(navigate) {
  const name = field({ name: 'name', label: 'users.name', attrs: { spellcheck: 'false', autocapitalize: 'none', dir: 'ltr' } });
  const quota = field({ name: 'traffic_limit_gb', label: 'users.quota_gb', value: '10', hint: 'users.quota_hint', attrs: { inputmode: 'decimal' } });
  const days = field({ name: 'expire_days', label: 'users.expire_days', value: '30', attrs: { inputmode: 'numeric' } });
  const note = field({ name: 'note', label: 'users.note', type: 'textarea', attrs: { dir: 'auto' } });
  return form({
    fields: [name, quota, days, note],
    submit: 'users.create_submit',
    onSubmit: async (values) => {
      const created = await api('POST', '/api/admin/users', {
        name: check.userName('name', values.name),
        traffic_limit_gb: check.gigabytes('traffic_limit_gb', values.traffic_limit_gb),
        expire_days: check.whole('expire_days', values.expire_days, 1, 365),
        note: check.note('note', note.input.value),
      });
      navigate(`#/users/${encodeURIComponent(created.name)}`);
    },
  });
}

function bulkForm(state, table) {
  const prefix = field({ name: 'prefix', label: 'users.bulk_prefix', attrs: { spellcheck: 'false', dir: 'ltr' } });
  const count = field({ name: 'count', label: 'users.bulk_count', value: '10', attrs: { inputmode: 'numeric' } });
  const start = field({ name: 'start', label: 'users.bulk_start', value: '1', attrs: { inputmode: 'numeric' } });
  const pad = field({ name: 'pad', label: 'users.bulk_pad', value: '3', hint: 'users.bulk_pad_hint', attrs: { inputmode: 'numeric' } });
  const quota = field({ name: 'traffic_limit_gb', label: 'users.quota_gb', value: '10', attrs: { inputmode: 'decimal' } });
  const days = field({ name: 'expire_days', label: 'users.expire_days', value: '30', attrs: { inputmode: 'numeric' } });
  const done = h('p', { class: 'notice success', role: 'status', hidden: true });
  const bulk = form({
    fields: [prefix, count, start, pad, quota, days],
    submit: 'users.bulk_submit',
    onSubmit: async (values) => {
      const answer = await api('POST', '/api/admin/users/bulk', {
        prefix: check.namePrefix('prefix', check.required('prefix', values.prefix)),
        count: check.whole('count', values.count, 1, 1000),
        start: check.whole('start', values.start, 0, 1000000000),
        pad: check.whole('pad', values.pad, 0, 10),
        traffic_limit_gb: check.gigabytes('traffic_limit_gb', values.traffic_limit_gb),
        expire_days: check.whole('expire_days', values.expire_days, 1, 365),
      });
      done.textContent = t('users.bulk_done', { count: answer.items.length });
      done.hidden = false;
      state.cursors = [null];
      state.page = 0;
      await loadPage(state, table);
    },
  });
  return h('div', {}, bulk, done);
}
