// The system page: version, uptime, storage backends and the proxy core's state.

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { formatDuration } from '../format.js';
import { t } from '../i18n.js';

/** Flattens the core's status object into label/value rows (`a.b: value`). */
function flatten(value, prefix = '') {
  if (value === null || typeof value !== 'object') {
    return [[prefix, value === null ? '—' : String(value)]];
  }
  if (Array.isArray(value)) {
    return value.length ? value.flatMap((item, index) => flatten(item, `${prefix}[${index}]`)) : [[prefix, '—']];
  }
  return Object.entries(value).flatMap(([key, item]) => flatten(item, prefix ? `${prefix}.${key}` : key));
}

export async function render(content) {
  const system = await api('GET', '/api/admin/system');
  const coreRows = flatten(system.core);
  replace(
    content,
    h('div', { class: 'page-head' }, h('h1', { text: t('system.title') })),
    h(
      'section',
      { class: 'card' },
      h('h2', { text: t('system.panel') }),
      h(
        'dl',
        { class: 'facts' },
        h('dt', { text: t('system.version') }),
        h('dd', { dir: 'ltr', id: 'system-version', text: system.version }),
        h('dt', { text: t('system.uptime') }),
        h('dd', { text: formatDuration(system.uptime_seconds) }),
        h('dt', { text: t('system.database') }),
        h('dd', { dir: 'ltr', text: system.database }),
        h('dt', { text: t('system.ephemeral') }),
        h('dd', { dir: 'ltr', text: system.ephemeral_store }),
      ),
    ),
    h(
      'section',
      { class: 'card' },
      h('h2', { text: t('system.core') }),
      h('dl', { class: 'facts core', dir: 'ltr' }, coreRows.map(([key, value]) => [h('dt', { text: key }), h('dd', { text: value })])),
    ),
  );
}
