// The JSON API with the operator's token (kept in sessionStorage: this tab only, gone when it
// closes). Errors come back as ApiError with the HTTP status and the server's message.

const KEY = 'oxide.token';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  get token() { return sessionStorage.getItem(KEY) || ''; },
  set token(t) {
    if (t) sessionStorage.setItem(KEY, t);
    else sessionStorage.removeItem(KEY);
  },
  role: '',  // 'admin' | 'viewer', found at login
};

// Called with the ApiError when the token is refused (401): the app logs out.
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export async function call(method, path, body, token = session.token) {
  return (await callWithHeaders(method, path, body, token)).json;
}

// As call(), plus the response headers (paging).
async function callWithHeaders(method, path, body, token = session.token) {
  const headers = {Authorization: 'Bearer ' + token};
  const init = {method, headers, cache: 'no-store'};
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network', 'the server cannot be reached (' + e.message + ')');
  }
  const text = await resp.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!resp.ok) {
    // Two error shapes: {"error":{"code","message"}} and the access refusals'
    // {"error":"<code>","message"}.
    const e = json && json.error;
    const code = typeof e === 'string' ? e : (e && e.code) || 'http_' + resp.status;
    const message = (typeof e === 'object' && e && e.message) || (json && json.message) ||
                    resp.status + ' ' + resp.statusText;
    const err = new ApiError(resp.status, code, message);
    if (resp.status === 401 && token === session.token) onUnauthorized(err);
    throw err;
  }
  return {json, headers: resp.headers};
}

// Every device: the list is paged (X-Next-After names where the next page starts) on servers
// that page it; at most `maxPages` pages of 1000.
export async function allDevices(maxPages = 20) {
  const out = [];
  let after = '';
  for (let i = 0; i < maxPages; i++) {
    const {json, headers} = await callWithHeaders(
        'GET', '/api/v1/devices?limit=1000' + (after ? '&after=' + encodeURIComponent(after) : ''));
    out.push(...(json || []));
    const next = headers.get('X-Next-After');
    if (!next || next === after || !(json || []).length) break;
    after = next;
  }
  return out;
}

// Every row of a list answered as {<key>: [...], next_after} (campaigns, models): follows
// `next_after` until null, at most `maxPages` pages of 1000, so a fleet past the server's
// default page (500) is shown whole. A repeated cursor ends the walk (no loop on a bad server).
export async function allPages(path, key, maxPages = 20) {
  const out = [];
  let after = '';
  const sep = path.includes('?') ? '&' : '?';
  for (let i = 0; i < maxPages; i++) {
    const json = await call(
        'GET', path + sep + 'limit=1000' + (after ? '&after=' + encodeURIComponent(after) : ''));
    const rows = (json && json[key]) || [];
    out.push(...rows);
    const next = json && json.next_after;
    if (!next || next === after || !rows.length) break;
    after = next;
  }
  return out;
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body ?? {});

// null when the route does not exist on this server (not merged or an older server).
export async function getOptional(path) {
  try {
    return await get(path);
  } catch (e) {
    if (e.status === 404 || e.status === 405) return null;
    throw e;
  }
}

// 'admin' or 'viewer' for a valid token; throws ApiError (401) for a refused one. Listing the
// tokens is the one read only an admin may do, so it tells the roles apart without writing.
export async function roleOf(token) {
  await call('GET', '/api/v1/devices?limit=1', undefined, token);
  try {
    await call('GET', '/api/v1/tokens', undefined, token);
    return 'admin';
  } catch (e) {
    if (e.status === 403) return 'viewer';
    throw e;
  }
}
