// The data layer: every request of the UI goes through here. It adds the
// ACL token, turns error answers into APIError (with the server's exact
// message), and runs blocking queries (?index=) for live views, so views
// never poll on a timer.

const TOKEN_KEY = 'shoal.token';
// WAIT is the blocking query wait: an idle view costs one request per
// watch per WAIT.
const WAIT = '5m';
// MIN_GAP spaces the requests of one watch on a busy cluster, where the
// index moves all the time: at most one per MIN_GAP ms per watch.
const MIN_GAP = 500;

export function token() {
  return localStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(t) {
  if (t) localStorage.setItem(TOKEN_KEY, t);
  else localStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new Event(TOKEN_EVENT));
}

const TOKEN_EVENT = 'shoal-token';
// onTokenChange calls fn whenever the token changes, in this page
// (setToken) or in another tab of the same UI, until signal aborts.
export function onTokenChange(fn, signal) {
  window.addEventListener(TOKEN_EVENT, () => fn(), {signal});
  window.addEventListener('storage', (e) => { if (e.key === TOKEN_KEY || e.key === null) fn(); }, {signal});
}

// APIError is a failed request: status is the HTTP status (0 when the
// agent could not be reached), message the body the server wrote.
export class APIError extends Error {
  constructor(status, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
  }
}

const listeners = new Set();
// onConnection registers fn(ok, error) for the agent's reachability.
export function onConnection(fn) {
  listeners.add(fn);
}
function connection(ok, err) {
  for (const fn of listeners) fn(ok, err);
}

// request sends one request. It resolves to {status, index, data, text}:
// data is the parsed JSON body (null when none or not JSON). A 404 with
// allow404 resolves with data null; any other status >= 400 rejects with
// APIError.
export async function request(method, path, {body, signal, allow404 = false, raw = false} = {}) {
  const headers = {};
  const t = token();
  if (t) headers['X-Consul-Token'] = t;
  let resp;
  try {
    resp = await fetch(path, {method, body, signal, headers, cache: 'no-store', credentials: 'same-origin'});
  } catch (e) {
    if (signal?.aborted) throw e;
    connection(false, e);
    throw new APIError(0, `cannot reach the agent: ${e.message}`);
  }
  connection(true);
  const text = await resp.text();
  const index = Number(resp.headers.get('X-Consul-Index') || 0);
  if (resp.status === 404 && allow404) return {status: 404, index, data: null, text};
  if (!resp.ok) throw new APIError(resp.status, text.trim() || resp.statusText);
  let data = null;
  if (!raw && text !== '') {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  return {status: resp.status, index, data, text};
}

export const get = async (path, opts) => (await request('GET', path, opts)).data;
export const put = async (path, body, opts) => (await request('PUT', path, {...opts, body})).data;
export const del = async (path, opts) => (await request('DELETE', path, opts)).data;

// sleep waits ms or until signal aborts. It removes its abort listener
// when the time is up: a watch sleeps many times on one signal, and
// listeners left behind would pile up for as long as the view is open.
function sleep(ms, signal) {
  return new Promise((resolve) => {
    const done = () => { clearTimeout(t); signal.removeEventListener('abort', done); resolve(); };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, {once: true});
  });
}

// visible resolves when the page is visible, at once if it is, or when
// signal aborts.
function visible(signal) {
  if (!document.hidden || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (document.hidden && !signal.aborted) return;
      document.removeEventListener('visibilitychange', check);
      window.removeEventListener('pageshow', check);
      signal.removeEventListener('abort', check);
      resolve();
    };
    document.addEventListener('visibilitychange', check);
    window.addEventListener('pageshow', check);
    signal.addEventListener('abort', check);
    check();
  });
}

// whileVisible is a signal for one blocking read: it aborts with signal,
// and also when the page is hidden (another tab, a minimised window) or
// left (pagehide: it may be kept in the back/forward cache). Browsers
// allow six HTTP/1.1 connections per host and a view holds up to three
// blocking queries, so two hidden pages would otherwise hold every
// connection to the agent, and the next tab could not even load the UI.
// (Consul's UI drops its blocking queries when hidden, too.) release
// removes its listeners; hidden says why it aborted.
function whileVisible(signal) {
  const c = new AbortController();
  const r = {signal: c.signal, hidden: false};
  const hide = () => { r.hidden = true; c.abort(); };
  const onAbort = () => c.abort();
  const onVisibility = () => { if (document.hidden) hide(); };
  signal.addEventListener('abort', onAbort);
  document.addEventListener('visibilitychange', onVisibility);
  window.addEventListener('pagehide', hide);
  r.release = () => {
    signal.removeEventListener('abort', onAbort);
    document.removeEventListener('visibilitychange', onVisibility);
    window.removeEventListener('pagehide', hide);
  };
  if (signal.aborted) c.abort();
  else if (document.hidden) hide();
  return r;
}

// watch follows path with blocking queries until signal aborts: it calls
// onData(data, index) with the first answer and again whenever the
// answer's X-Consul-Index changes (data is null for a 404). On an error
// it calls onError(err), backs off (0.5 s doubling to 10 s) and retries.
// An endpoint without an index is read once. While the page is hidden it
// holds no blocking query (see whileVisible); it resumes from the same
// index when the page is visible again, so a change made meanwhile shows
// at once.
export function watch(path, signal, onData, onError) {
  const sep = path.includes('?') ? '&' : '?';
  (async () => {
    let index = 0;
    let backoff = 0;
    let first = true;
    while (!signal.aborted) {
      if (index) await visible(signal);
      if (signal.aborted) return;
      const started = Date.now();
      const url = index ? `${path}${sep}index=${index}&wait=${WAIT}` : path;
      const read = index ? whileVisible(signal) : {signal, release() {}};
      let r;
      try {
        r = await request('GET', url, {signal: read.signal, allow404: true});
      } catch (e) {
        if (signal.aborted) return;
        if (read.hidden) continue; // resumes once the page is visible
        if (onError) onError(e);
        backoff = Math.min(backoff ? backoff * 2 : 500, 10000);
        await sleep(backoff, signal);
        continue;
      } finally {
        read.release();
      }
      backoff = 0;
      if (signal.aborted) return;
      if (first || r.index !== index) onData(r.data, r.index);
      if (!r.index) return; // not a blocking endpoint
      // An index that went backwards (a snapshot restore, a new leader)
      // restarts from scratch, as Consul advises.
      index = r.index < index ? 0 : r.index;
      // Space the reads of a churning watch; the first blocking read
      // follows the initial one at once.
      const gap = MIN_GAP - (Date.now() - started);
      if (!first && gap > 0) await sleep(gap, signal);
      first = false;
    }
  })();
}

// b64bytes decodes a base64 KV value.
export function b64bytes(s) {
  if (!s) return new Uint8Array(0);
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// kvPath is the API path of a KV key or prefix, each segment escaped.
export function kvPath(key) {
  return '/v1/kv/' + key.split('/').map(encodeURIComponent).join('/');
}

// follow keeps a derived read fresh: it watches each of the trigger
// paths with blocking queries and, on the first answers and whenever one
// changes, reads path once (without an index) and calls onData with it.
// Reads are coalesced: changes that arrive during a read cause one more.
// It serves endpoints whose own index does not cover all the data they
// return (e.g. /v1/shoal/services blocks on the service statuses only,
// though its counts come from the allocations).
export function follow(triggers, path, signal, onData, onError) {
  let running = false;
  let again = false;
  const refresh = async () => {
    if (running) { again = true; return; }
    running = true;
    do {
      again = false;
      try {
        const r = await request('GET', path, {signal, allow404: true});
        if (!signal.aborted) onData(r.status === 404 ? null : r.data);
      } catch (e) {
        if (!signal.aborted && onError) onError(e);
      }
    } while (again && !signal.aborted);
    running = false;
  };
  for (const t of triggers) watch(t, signal, refresh, onError);
}
