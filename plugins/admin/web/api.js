// The console's only way to the server: fetch with a bearer token (never a cookie). The token comes
// from the URL's fragment (`#token=…`, which browsers never send to the server) or the login form,
// and is kept in this tab's sessionStorage only.
const KEY = 'trellis-admin-token';

export function initialToken() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem(KEY, decodeURIComponent(match[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem(KEY) || '';
}

export function saveToken(token) {
  if (token) sessionStorage.setItem(KEY, token);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export async function api(token, path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
  let data;
  try {
    data = await response.json();
  } catch {
    throw new ApiError(response.status, 'ERR_ADMIN_BAD_ANSWER', `the console answered ${response.status} without JSON`);
  }
  if (!response.ok) {
    const error = data && data.error ? data.error : { code: 'ERR_ADMIN_BAD_ANSWER', message: `status ${response.status}` };
    throw new ApiError(response.status, error.code, error.message, error.details);
  }
  return data;
}
