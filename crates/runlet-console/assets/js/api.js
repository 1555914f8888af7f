// The console's only way to the cluster: the public Kubernetes REST API with a bearer token.
// list + watch keep every view live; a 410 Gone re-lists; a dropped stream reconnects with
// back-off; a 401 signs the user out.

const KEY = 'runlet.console.token';

export const bus = new EventTarget();
let connection = 'live';

export function token() {
  return sessionStorage.getItem(KEY) || localStorage.getItem(KEY) || '';
}

export function setToken(t, remember) {
  sessionStorage.setItem(KEY, t);
  if (remember) localStorage.setItem(KEY, t); else localStorage.removeItem(KEY);
}

export function signOut() {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
  setConnection('signed-out');
}

export function setConnection(state) {
  if (state === connection) return;
  connection = state;
  bus.dispatchEvent(new CustomEvent('connection', { detail: state }));
}

export function connectionState() { return connection; }

/** A failed API call, carrying the server's metav1.Status. */
export class ApiError extends Error {
  constructor(code, status) {
    super(status?.message || `HTTP ${code}`);
    this.code = code;
    this.status = status || null;
  }
  get causes() { return this.status?.details?.causes || []; }
  get reason() { return this.status?.reason || ''; }
}

function url(path, query) {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, v);
  return u;
}

/** One API request. `body` objects are sent as JSON, strings as YAML unless `contentType` says. */
export async function api(method, path, { query, body, contentType, signal, raw: wantRaw, accept } = {}) {
  const headers = { Accept: accept || 'application/json' };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  let payload;
  if (body !== undefined) {
    if (typeof body === 'string') { payload = body; headers['Content-Type'] = contentType || 'application/yaml'; }
    else { payload = JSON.stringify(body); headers['Content-Type'] = contentType || 'application/json'; }
  }
  let res;
  try {
    res = await fetch(url(path, query), { method, headers, body: payload, signal, cache: 'no-store' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, { message: `cannot reach the server: ${e.message}` });
  }
  if (res.status === 401) {
    signOut();
  }
  if (!res.ok) {
    let status = null;
    try { status = await res.json(); } catch { /* not a Status */ }
    throw new ApiError(res.status, status);
  }
  if (wantRaw) return res;
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path, query, opts = {}) => api('GET', path, { ...opts, query });

/** Collection path for a resource: `('batch/v1','jobs','default')`. */
export function collection(groupVersion, plural, ns) {
  const base = groupVersion === 'v1' ? '/api/v1' : `/apis/${groupVersion}`;
  return ns ? `${base}/namespaces/${encodeURIComponent(ns)}/${plural}` : `${base}/${plural}`;
}

export function objectPath(groupVersion, plural, ns, name) {
  return `${collection(groupVersion, plural, ns)}/${encodeURIComponent(name)}`;
}

/** Every item of a list, paging through `limit`/`continue`; returns {items, resourceVersion}. */
export async function listAll(path, query = {}, signal) {
  const items = [];
  let cont = '';
  let rv = '';
  for (let page = 0; page < 1000; page++) {
    const list = await api('GET', path, { query: { ...query, limit: 500, continue: cont || undefined }, signal });
    items.push(...(list.items || []));
    rv = list.metadata?.resourceVersion || rv;
    cont = list.metadata?.continue || '';
    if (!cont) break;
  }
  return { items, resourceVersion: rv };
}

/** Reads a streamed response line by line. */
export async function readLines(res, onLine, signal) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        onLine(line);
      }
      if (signal?.aborted) break;
    }
    if (buf) onLine(buf);
  } finally {
    try { reader.releaseLock(); } catch { /* already released */ }
  }
}

class Relist extends Error {}

const sleep = (ms, signal) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

/**
 * A live view of a collection: lists, then watches from the list's resourceVersion, and calls
 * `onChange(items)` (an array, coalesced to at most one call per animation frame) after every
 * change. Returns `{stop(), items()}`.
 */
export function liveList(path, query, onChange, { onError } = {}) {
  const ctl = new AbortController();
  const items = new Map();
  const key = (o) => `${o.metadata?.namespace || ''}/${o.metadata?.name}`;
  let pending = false;
  const notify = () => {
    if (pending || ctl.signal.aborted) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; if (!ctl.signal.aborted) onChange([...items.values()]); });
  };
  (async () => {
    let backoff = 500;
    let rv = '';
    while (!ctl.signal.aborted) {
      try {
        if (!rv) {
          const list = await listAll(path, query, ctl.signal);
          items.clear();
          for (const o of list.items) items.set(key(o), o);
          rv = list.resourceVersion;
          notify();
          setConnection('live');
        }
        const res = await api('GET', path, {
          query: { ...query, watch: 1, resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: 240 },
          signal: ctl.signal,
          raw: true,
        });
        setConnection('live');
        backoff = 500;
        await readLines(res, (line) => {
          if (!line.trim()) return;
          const ev = JSON.parse(line);
          const o = ev.object || {};
          if (ev.type === 'ERROR') {
            if (o.code === 410) throw new Relist();
            throw new ApiError(o.code || 500, o);
          }
          if (o.metadata?.resourceVersion) rv = o.metadata.resourceVersion;
          if (ev.type === 'BOOKMARK') return;
          if (ev.type === 'DELETED') items.delete(key(o)); else items.set(key(o), o);
          notify();
        }, ctl.signal);
      } catch (e) {
        if (ctl.signal.aborted || e.name === 'AbortError') return;
        if (e instanceof Relist || e.code === 410) { rv = ''; continue; }
        if (e.code === 401) { onError?.(e); return; }
        if (e.code === 403 || e.code === 404) { onError?.(e); rv = ''; await sleep(5000, ctl.signal); continue; }
        setConnection('reconnecting');
        onError?.(e);
        await sleep(backoff, ctl.signal);
        backoff = Math.min(backoff * 2, 10000);
        rv = '';
      }
    }
  })();
  return { stop: () => ctl.abort(), items: () => [...items.values()] };
}

/** A live single object (a watch with a field selector on its name). */
export function liveObject(groupVersion, plural, ns, name, onChange, opts) {
  return liveList(collection(groupVersion, plural, ns), { fieldSelector: `metadata.name=${name}` }, (items) => onChange(items[0] || null), opts);
}

/** The server's description and next runs of a cron schedule (see runlet-console's schedule.rs). */
const scheduleCache = new Map();
export async function scheduleInfo(schedule, timeZone, count = 5) {
  const k = `${schedule}\u0000${timeZone || ''}\u0000${count}`;
  const hit = scheduleCache.get(k);
  if (hit && hit.at > Date.now() - 20000 && (!hit.info.next[0] || Date.parse(hit.info.next[0]) > Date.now())) return hit.info;
  const res = await fetch(new URL(`api/schedule?${new URLSearchParams({ schedule, timeZone: timeZone || '', count })}`, location.href.split('#')[0]));
  const info = await res.json();
  scheduleCache.set(k, { at: Date.now(), info });
  return info;
}
