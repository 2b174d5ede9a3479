// Labelled form fields with their error message beside them, and a form runner that shows
// an API refusal next to the field it names (or above the buttons when it names none).

import { ApiError, SessionExpired } from './api.js';
import { h, uniqueId } from './dom.js';
import { errorText, t } from './i18n.js';

/**
 * Builds a labelled field. `spec`: name, label (message key), type ('text', 'password', 'textarea',
 * 'select', 'date'), value, options ([value, message key] pairs for a select), hint (message
 * key), and any extra input attributes in `attrs`.
 */
export function field(spec) {
  const id = uniqueId(`field-${spec.name}`);
  const errorId = `${id}-error`;
  const common = {
    id,
    name: spec.name,
    'aria-describedby': errorId,
    ...(spec.attrs || {}),
  };
  let input;
  if (spec.type === 'textarea') {
    input = h('textarea', { ...common, rows: 3 });
    input.value = spec.value ?? '';
  } else if (spec.type === 'select') {
    input = h(
      'select',
      common,
      spec.options.map(([value, key]) => h('option', { value, text: t(key) })),
    );
    input.value = spec.value ?? spec.options[0][0];
  } else {
    input = h('input', { ...common, type: spec.type || 'text', value: spec.value ?? '' });
  }
  const error = h('p', { class: 'field-error', id: errorId, 'aria-live': 'polite', hidden: true });
  const row = h(
    'div',
    { class: 'field' },
    h('label', { for: id, text: t(spec.label) }),
    input,
    spec.hint ? h('p', { class: 'hint', text: t(spec.hint) }) : null,
    error,
  );
  return { name: spec.name, row, input, error };
}

/** Shows `message` under a field and marks the field invalid. */
export function showFieldError(entry, message) {
  entry.error.textContent = message;
  entry.error.hidden = false;
  entry.input.setAttribute('aria-invalid', 'true');
}

function clearErrors(fields, formError) {
  for (const entry of fields) {
    entry.error.textContent = '';
    entry.error.hidden = true;
    entry.input.removeAttribute('aria-invalid');
  }
  formError.textContent = '';
  formError.hidden = true;
}

/** A field-level refusal raised by client-side checks before anything is sent. */
export class FieldProblem extends Error {
  constructor(field, messageKey, params = {}) {
    super(messageKey);
    this.field = field;
    this.messageKey = messageKey;
    this.params = params;
  }
}

/**
 * Builds a form of `fields` (from `field`) with a submit button labelled `submit` (message key).
 * `onSubmit(values)` gets the trimmed values by name; a FieldProblem or an ApiError it throws
 * is shown next to its field, or above the buttons. `extra` are more buttons.
 */
export function form({ fields, submit, onSubmit, extra = [], className = '' }) {
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const button = h('button', { type: 'submit', class: 'primary', text: t(submit) });
  const element = h(
    'form',
    { class: `form ${className}`, novalidate: true },
    fields.map((entry) => entry.row),
    formError,
    h('div', { class: 'buttons' }, button, extra),
  );
  element.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(fields, formError);
    const values = {};
    for (const entry of fields) {
      values[entry.name] =
        typeof entry.input.value === 'string' ? entry.input.value.trim() : entry.input.value;
    }
    button.disabled = true;
    element.setAttribute('aria-busy', 'true');
    try {
      await onSubmit(values);
    } catch (error) {
      showProblem(error, fields, formError);
    } finally {
      button.disabled = false;
      element.removeAttribute('aria-busy');
    }
  });
  return element;
}

function showProblem(error, fields, formError) {
  if (error instanceof SessionExpired) {
    return;
  }
  let message;
  let fieldName = null;
  if (error instanceof FieldProblem) {
    message = t(error.messageKey, error.params);
    fieldName = error.field;
  } else if (error instanceof ApiError) {
    message = errorText(error);
    fieldName = error.field;
  } else {
    message = t('error.unknown');
  }
  const entry = fields.find((candidate) => candidate.name === fieldName);
  if (entry) {
    showFieldError(entry, message);
    entry.input.focus();
  } else {
    formError.textContent = message;
    formError.hidden = false;
  }
}

/** Builds a message box for a whole page section: loading failures and confirmations. */
export function notice(kind, text) {
  return h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status', text });
}

/** Returns the text to show for any failure of a page's loading call. */
export function failureText(error) {
  if (error instanceof ApiError) {
    return errorText(error);
  }
  return t('error.unknown');
}
