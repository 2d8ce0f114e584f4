// The console's only way to talk to hookq: the documented /v1 API on the
// same origin, with the bearer token kept in sessionStorage (this tab only).
// The token never goes into a URL, the DOM or a log.

const KEY = 'hookq.token';

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || null;
  }
}

export function token() {
  try { return sessionStorage.getItem(KEY) || ''; } catch { return ''; }
}

export function setToken(t) {
  try { if (t) sessionStorage.setItem(KEY, t); else sessionStorage.removeItem(KEY); } catch { /* storage off */ }
}

let onUnauthorized = () => {};
export function whenUnauthorized(fn) { onUnauthorized = fn; }

// Calls the API. Resolves with the parsed JSON (null for 204); rejects with
// an ApiError carrying the API's code, message and field.
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  const t = opts.token ?? token();
  if (t) headers.Authorization = 'Bearer ' + t;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer', signal: opts.signal,
    });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'Cannot reach hookq-producer at ' + location.host + '. Is it running?');
  }
  let j = null;
  const text = await res.text();
  if (text) { try { j = JSON.parse(text); } catch { j = null; } }
  if (res.ok) return j;
  const e = j && j.error ? j.error : {};
  const err = new ApiError(res.status, e.code || 'http_' + res.status, e.message || res.statusText || 'request failed', e.field);
  if (res.status === 401 && !opts.noAuthPrompt) onUnauthorized(err);
  throw err;
}

const WORDS = {
  unauthorized: 'The API token was not accepted. Sign in again with the value of HOOKQ_API_TOKEN.',
  redis_unavailable: 'hookq cannot reach Redis right now. Nothing was changed; try again in a moment.',
  already_queued: 'This delivery is already queued or being attempted right now.',
  payload_expired: 'The event payload has expired (HOOKQ_RETENTION), so this delivery cannot be re-sent.',
  ambiguous: 'Several organisations used this event id. Enter the org id to choose one.',
  method_not_allowed: 'The API refused this action (method not allowed).',
};

// The error in words for a person: the API's own sentence, plus what to do.
export function describe(err) {
  if (!err) return 'Something went wrong.';
  if (!(err instanceof ApiError)) return String(err.message || err);
  if (err.code === 'validation_failed') return err.message.charAt(0).toUpperCase() + err.message.slice(1) + '.';
  if (err.code === 'not_found') return 'Not found: ' + err.message + '.';
  if (err.code === 'malformed_json' || err.code === 'invalid_body') return 'The console sent a request the API could not read: ' + err.message;
  if (WORDS[err.code]) return WORDS[err.code];
  if (err.status === 413) return 'The request is larger than HOOKQ_MAX_BODY allows.';
  if (err.status >= 500) return 'hookq-producer answered ' + err.status + ': ' + err.message;
  return err.message;
}

export const enc = encodeURIComponent;
