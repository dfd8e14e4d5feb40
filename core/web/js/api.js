// api.js — the REST API client. Same origin only; the bearer token (when
// the server wants one) lives in sessionStorage, so it is gone when the
// tab closes and is never written into the page.
const TOKEN_KEY = 'connectord.token';

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.error || body.message)) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
    this.errors = (body && Array.isArray(body.errors)) ? body.errors : [];
  }
}

// Numbers a JavaScript number cannot hold exactly: an integer beyond 2^53
// (a 17-digit account number written as a YAML integer,
// 12345678901234567, reads as 12345678901234568) or a decimal of more
// than 15 significant digits. With exact parsing they are kept as their
// source text (JSON.rawJSON), which JSON.stringify writes back as it was
// read: a connector edited in the page keeps the values no one touched.
const RAW = typeof JSON.rawJSON === 'function' && typeof JSON.isRawJSON === 'function';

function inexact(v, src) {
  if (/^-?\d+$/.test(src)) return !Number.isSafeInteger(v);
  if (!Number.isFinite(v)) return true;
  const digits = src.split(/[eE]/)[0].replace(/[-+.]/g, '').replace(/^0+/, '').replace(/0+$/, '');
  return digits.length > 15;
}

function exactReviver(key, v, ctx) {
  if (typeof v !== 'number' || !ctx || typeof ctx.source !== 'string') return v;
  return inexact(v, ctx.source) ? JSON.rawJSON(ctx.source) : v;
}

// JSON.parse, with exact: numbers kept as written (see above).
export function parseJSON(text, exact = false) {
  return exact && RAW ? JSON.parse(text, exactReviver) : JSON.parse(text);
}

// A number kept as its source text by parseJSON.
export const isRawNumber = (v) => RAW && JSON.isRawJSON(v);

// Text of a value for an input: the source text of a kept number.
export const valueText = (v) => (isRawNumber(v) ? v.rawJSON : String(v));

// The words of an HTML or text body, at most 200 characters.
function plainText(text) {
  return text.replace(/<(script|style)[^]*?<\/\1\s*>/gi, ' ').replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ').trim().slice(0, 200);
}

let askToken = null; // set by the page: async (reason) => token or null

export function onTokenNeeded(fn) { askToken = fn; }
export function token() { return sessionStorage.getItem(TOKEN_KEY); }
export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// request('GET', '/connectors', {query: {status: 'ACTIVE'}, body: {...}})
// resolves to the parsed JSON body of a 2xx answer, rejects with ApiError.
// A 401 asks for a token once and retries with it.
// exact: numbers JavaScript cannot hold are kept as written (parseJSON).
export async function request(method, path, { query, body, allow, headers: extra, exact } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    const headers = { Accept: 'application/json', ...(extra || {}) };
    const t = token();
    if (t) headers.Authorization = `Bearer ${t}`;
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(url, init);
    } catch (e) {
      throw new ApiError(0, { error: `Cannot reach connectord (${e.message})` });
    }
    let data = null;
    const text = await res.text();
    if (text) {
      // Not the API's JSON (a proxy's error page): its text, without markup.
      try { data = parseJSON(text, exact); } catch { data = { error: plainText(text) }; }
    }
    if (res.status === 401 && askToken) {
      const fresh = await askToken(data && data.error);
      if (fresh) { setToken(fresh); continue; }
    }
    if (res.ok || (allow && allow.includes(res.status))) return Object.assign(data || {}, { _status: res.status });
    throw new ApiError(res.status, data);
  }
  throw new ApiError(401, { error: 'Authentication failed' });
}

const id = (x) => encodeURIComponent(String(x));

export const api = {
  list: (query) => request('GET', '/connectors', { query }),
  // Read to be edited and saved whole: its numbers exactly.
  get: (cid) => request('GET', `/connectors/${id(cid)}`, { exact: true }),
  create: (body) => request('POST', '/connectors', { body }),
  // version: the updated_at the form was filled from. The server refuses
  // (412) a save over someone else's change made since, instead of undoing it.
  update: (cid, body, version) => request('PUT', `/connectors/${id(cid)}`,
    { body, headers: version ? { 'If-Match': `"${version}"` } : undefined }),
  remove: (cid, force) => request('DELETE', `/connectors/${id(cid)}`, { query: { force: force ? 'true' : undefined } }),
  validate: (body) => request('POST', '/connectors/validate', { body }),
  // A failed test is a documented 4xx/5xx answer with run_id and steps: hand it back.
  test: (cid) => request('POST', `/connectors/${id(cid)}/test`, { body: {}, allow: [503, 504] }),
  run: (cid, runDate) => request('POST', `/connectors/${id(cid)}/run`, { body: runDate ? { run_date: runDate } : {} }),
  pause: (cid) => request('POST', `/connectors/${id(cid)}/pause`, { body: {} }),
  resume: (cid) => request('POST', `/connectors/${id(cid)}/resume`, { body: {} }),
  history: (cid, query) => request('GET', `/connectors/${id(cid)}/history`, { query }),
  runDetail: (cid, rid, query) => request('GET', `/connectors/${id(cid)}/runs/${id(rid)}`, { query }),
  cancelRun: (cid, rid) => request('POST', `/connectors/${id(cid)}/runs/${id(rid)}/cancel`, { body: {} }),
  backfill: (cid, from, to) => request('POST', `/connectors/${id(cid)}/backfill`, { body: { from_date: from, to_date: to } }),
  backfillGet: (cid, bid) => request('GET', `/connectors/${id(cid)}/backfills/${id(bid)}`),
  backfillCancel: (cid, bid) => request('POST', `/connectors/${id(cid)}/backfills/${id(bid)}/cancel`, { body: {} }),
  plugins: () => request('GET', '/plugins'),
  // Optional endpoint: null when this connectord has no template list.
  templates: async () => {
    try {
      return await request('GET', '/templates');
    } catch (e) {
      if (e.status === 404 || e.status === 405) return null;
      throw e;
    }
  },
};
