// The audit viewer: filters, the entries newest first with paging, the latest signed tree
// head, and the result of verifying the whole chain. Every field of an entry is shown as
// text: user names and user agents in failed logins are whatever an attacker typed.

import { api, leadsElsewhere, query } from '../api.js';
import { h, replace } from '../dom.js';
import { failureText, field, FieldProblem, form, notice } from '../forms.js';
import { formatNumber, formatTime } from '../format.js';
import { t } from '../i18n.js';

export async function render(content) {
  const state = { filters: {}, cursors: [null], page: 0 };
  const entries = h('div', { class: 'table-area', 'aria-live': 'polite' });
  const integrity = h('section', { class: 'card integrity' }, h('h2', { text: t('audit.integrity') }));
  replace(
    content,
    h('div', { class: 'page-head' }, h('h1', { text: t('audit.title') })),
    integrity,
    filterForm(state, entries),
    entries,
  );
  await Promise.all([loadIntegrity(integrity), loadEntries(state, entries)]);
}

function filterForm(state, entries) {
  const actor = field({ name: 'actor', label: 'audit.actor', hint: 'audit.actor_hint', attrs: { dir: 'ltr', spellcheck: 'false' } });
  const action = field({ name: 'action', label: 'audit.action', attrs: { dir: 'ltr', spellcheck: 'false', placeholder: 'login' } });
  const ip = field({ name: 'ip', label: 'audit.ip', attrs: { dir: 'ltr', spellcheck: 'false' } });
  const resource = field({ name: 'resource_type', label: 'audit.resource_type', attrs: { dir: 'ltr', spellcheck: 'false' } });
  const success = field({
    name: 'success',
    label: 'audit.outcome',
    type: 'select',
    options: [['', 'audit.any'], ['true', 'audit.succeeded'], ['false', 'audit.failed']],
  });
  const from = field({ name: 'from', label: 'audit.from', type: 'date' });
  const to = field({ name: 'to', label: 'audit.to', type: 'date' });
  return form({
    fields: [actor, action, ip, resource, success, from, to],
    submit: 'audit.apply',
    className: 'filters',
    onSubmit: async (values) => {
      for (const name of ['from', 'to']) {
        if (values[name] && !/^\d{4}-\d{2}-\d{2}$/.test(values[name])) {
          throw new FieldProblem(name, 'form.date');
        }
      }
      state.filters = {
        actor: values.actor,
        action: values.action,
        ip: values.ip,
        resource_type: values.resource_type,
        success: values.success,
        from: values.from ? new Date(`${values.from}T00:00:00`).toISOString() : '',
        to: values.to ? new Date(`${values.to}T23:59:59.999`).toISOString() : '',
      };
      state.cursors = [null];
      state.page = 0;
      await loadEntries(state, entries);
    },
  });
}

async function loadIntegrity(area) {
  const heading = area.firstChild;
  replace(area, heading, h('p', { class: 'loading', text: t('common.loading') }));
  try {
    const [head, verdict] = await Promise.all([
      api('GET', '/api/admin/audit/tree-head'),
      api('POST', '/api/admin/audit/verify'),
    ]);
    const status = verdict.valid
      ? notice('success', t('audit.valid', { entries: formatNumber(verdict.entries) }))
      : notice('error', t('audit.invalid', { index: formatNumber(verdict.first_failure?.index ?? 0), kind: verdict.first_failure?.kind ?? '' }));
    status.setAttribute('data-valid', String(verdict.valid));
    replace(
      area,
      heading,
      status,
      h('h3', { text: t('audit.tree_head') }),
      h(
        'dl',
        { class: 'facts' },
        h('dt', { text: t('audit.tree_size') }),
        h('dd', { text: formatNumber(head.tree_size) }),
        h('dt', { text: t('audit.signed_at') }),
        h('dd', { class: 'date', text: formatTime(head.timestamp) }),
        h('dt', { text: t('audit.root_hash') }),
        h('dd', {}, h('code', { dir: 'ltr', class: 'hash', text: head.root_hash })),
        h('dt', { text: t('audit.key_id') }),
        h('dd', {}, h('code', { dir: 'ltr', text: head.key_id })),
      ),
      h('button', { type: 'button', class: 'secondary', text: t('audit.verify_again'), on: { click: () => loadIntegrity(area).catch(() => {}) } }),
    );
  } catch (error) {
    replace(area, heading, notice('error', failureText(error)));
  }
}

async function loadEntries(state, area) {
  replace(area, h('p', { class: 'loading', text: t('common.loading') }));
  let page;
  try {
    page = await api('GET', `/api/admin/audit${query({ ...state.filters, limit: 50, cursor: state.cursors[state.page] })}`);
  } catch (error) {
    if (leadsElsewhere(error)) {
      throw error;
    }
    replace(area, notice('error', failureText(error)));
    return;
  }
  state.cursors[state.page + 1] = page.next_cursor;
  replace(
    area,
    page.items.length
      ? h(
          'table',
          { class: 'audit' },
          h(
            'thead',
            {},
            h('tr', {}, ['audit.time', 'audit.actor', 'audit.ip', 'audit.action', 'audit.resource', 'audit.outcome', 'audit.details'].map((key) => h('th', { scope: 'col', text: t(key) }))),
          ),
          h('tbody', {}, page.items.map(entryRow)),
        )
      : h('p', { text: t('audit.none') }),
    h(
      'nav',
      { class: 'pager', 'aria-label': t('users.paging') },
      h('button', { type: 'button', class: 'secondary', text: t('users.previous'), disabled: state.page === 0, on: { click: () => turn(state, area, -1) } }),
      h('span', { text: t('users.page', { page: formatNumber(state.page + 1) }) }),
      h('button', { type: 'button', class: 'secondary', text: t('users.next'), disabled: !page.next_cursor, on: { click: () => turn(state, area, 1) } }),
    ),
  );
}

function turn(state, area, delta) {
  state.page += delta;
  loadEntries(state, area).catch(() => {});
}

/** Shows the name an entry is about: the user name a login used, or the actor's id and role. */
function actorText(entry) {
  const username = entry.after && typeof entry.after.username === 'string' ? entry.after.username : null;
  const actor = `${entry.actor_id} (${entry.actor_role})`;
  return username ? [h('span', { class: 'username', dir: 'auto', text: username }), h('span', { class: 'hint', text: actor })] : actor;
}

function entryRow(entry) {
  const agent = entry.context && typeof entry.context.user_agent === 'string' ? entry.context.user_agent : '';
  const detail = {};
  for (const key of ['before', 'after', 'context', 'error']) {
    if (entry[key] !== null && entry[key] !== undefined) {
      detail[key] = entry[key];
    }
  }
  return h(
    'tr',
    { class: entry.success ? 'ok' : 'failed' },
    h('td', { class: 'date' }, h('span', { text: formatTime(entry.time) }), h('span', { class: 'hint', text: `#${formatNumber(entry.index)}` })),
    h('td', { class: 'actor' }, actorText(entry)),
    h('td', { dir: 'ltr', text: entry.ip || '' }),
    h('td', { dir: 'ltr', text: entry.action }),
    h('td', { dir: 'ltr', text: [entry.resource_type, entry.resource_id].filter(Boolean).join(' ') }),
    h('td', {}, h('span', { class: `badge ${entry.success ? 'status-active' : 'status-expired'}`, text: entry.success ? t('audit.succeeded') : t('audit.failed') })),
    h(
      'td',
      { class: 'details' },
      agent ? h('span', { class: 'agent', dir: 'ltr', text: agent }) : null,
      Object.keys(detail).length
        ? h('details', {}, h('summary', { text: t('audit.more') }), h('pre', { dir: 'ltr', text: JSON.stringify(detail, null, 2) }))
        : null,
    ),
  );
}
