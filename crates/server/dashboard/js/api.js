// The JSON API in browser-session mode: the tokens travel in HttpOnly cookies, and every
// unsafe request echoes the csrf_token cookie in X-CSRF-Token. An expired access token is
// renewed once with the refresh cookie. When that fails too, the session is over, so the
// handler set with onSessionExpired takes the operator back to the login page.

const TIMEOUT_MS = 20000;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A refusal or failure of an API call, with the server's machine-readable code. */
export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || null;
  }
}

/** The session ended (expired or revoked) and could not be renewed. */
export class SessionExpired extends Error {}

let sessionExpiredHandler = () => {};
let refreshing = null;

/** Sets what happens when the session is over. */
export function onSessionExpired(handler) {
  sessionExpiredHandler = handler;
}

/** Reads the CSRF token from its script-readable cookie; '' when there is none. */
export function csrfToken() {
  for (const pair of document.cookie.split(';')) {
    const [name, ...rest] = pair.trim().split('=');
    if (name === 'csrf_token') {
      return rest.join('=');
    }
  }
  return '';
}

/** Checks whether the browser has session cookies at all (the session may have expired). */
export function hasSession() {
  return csrfToken() !== '';
}

async function send(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  if (!SAFE_METHODS.has(method)) {
    headers['X-CSRF-Token'] = csrfToken();
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    return await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal: controller.signal,
    });
  } catch (error) {
    const code = error.name === 'AbortError' ? 'timeout' : 'network';
    throw new ApiError(0, code, String(error.message || error), null);
  } finally {
    clearTimeout(timer);
  }
}

async function errorFrom(response) {
  let detail = {};
  try {
    detail = (await response.json()).error || {};
  } catch {
    detail = {};
  }
  return new ApiError(
    response.status,
    detail.code || `http_${response.status}`,
    detail.message || response.statusText,
    detail.field,
  );
}

/** Renews the access token with the refresh cookie; concurrent callers share one attempt. */
async function renewSession() {
  if (!refreshing) {
    refreshing = send('POST', '/api/auth/refresh')
      .then((response) => response.ok)
      .catch(() => false)
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

/**
 * Calls the API and returns the parsed JSON body (null for 204). Throws ApiError for a
 * refusal, SessionExpired when the session is over.
 */
export async function api(method, path, body) {
  let response = await send(method, path, body);
  if (response.status === 401 && !path.startsWith('/api/auth/login')) {
    const error = await errorFrom(response);
    if (error.code !== 'unauthorized') {
      throw error;
    }
    if (!(await renewSession())) {
      sessionExpiredHandler();
      throw new SessionExpired('the session has ended');
    }
    response = await send(method, path, body);
    if (response.status === 401) {
      sessionExpiredHandler();
      throw new SessionExpired('the session has ended');
    }
  }
  if (!response.ok) {
    throw await errorFrom(response);
  }
  if (response.status === 204) {
    return null;
  }
  return response.json();
}

/**
 * Checks whether an error sends the operator to another page (the login, the password
 * change or second-factor enrolment) rather than being shown where it happened.
 */
export function leadsElsewhere(error) {
  if (error instanceof SessionExpired) {
    return true;
  }
  return (
    error instanceof ApiError &&
    ['password_change_required', 'second_factor_enrolment_required'].includes(error.code)
  );
}

/** Builds a query string from the non-empty entries of `params`. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') {
      search.set(name, String(value));
    }
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
