// Small helpers shared by every page: safe HTML templates, time formatting, URL state.

/** Marks a string as already-escaped HTML. */
export class Html {
  constructor(s) { this.s = s; }
  toString() { return this.s; }
}

export function raw(s) { return new Html(String(s)); }

export function esc(v) {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function part(v) {
  if (v instanceof Html) return v.s;
  if (Array.isArray(v)) return v.map(part).join('');
  if (v === null || v === undefined || v === false) return '';
  return esc(v);
}

/** Tagged template: interpolations are escaped unless they are Html (or arrays of it). */
export function html(strings, ...values) {
  let out = strings[0];
  values.forEach((v, i) => { out += part(v) + strings[i + 1]; });
  return new Html(out);
}

export function $(sel, root = document) { return root.querySelector(sel); }
export function $$(sel, root = document) { return [...root.querySelectorAll(sel)]; }

export function parseTime(t) { return t ? new Date(t).getTime() : null; }

/** 3d4h, 5m10s, 42s — the way kubectl prints ages. */
export function shortDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '';
  let s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  let m = Math.floor(s / 60); s %= 60;
  if (m < 60) return s && m < 10 ? `${m}m${s}s` : `${m}m`;
  let h = Math.floor(m / 60); m %= 60;
  if (h < 24) return m && h < 10 ? `${h}h${m}m` : `${h}h`;
  const d = Math.floor(h / 24); h %= 24;
  return h && d < 10 ? `${d}d${h}h` : `${d}d`;
}

export function age(t) {
  const ms = parseTime(t);
  return ms === null ? '' : shortDuration(Date.now() - ms);
}

export function fmtTime(t) {
  const ms = parseTime(t);
  if (ms === null) return '';
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** A <time> element with a relative text that the ticker keeps fresh. */
export function timeAgo(t) {
  if (!t) return html`<span class="muted">—</span>`;
  return html`<time datetime="${t}" data-ago title="${fmtTime(t)}">${age(t)} ago</time>`;
}

export function countdown(t) {
  if (!t) return html`<span class="muted">—</span>`;
  return html`<time datetime="${t}" data-until title="${fmtTime(t)}">${untilText(t)}</time>`;
}

export function untilText(t) {
  const ms = parseTime(t) - Date.now();
  return ms <= 0 ? 'now' : `in ${shortDuration(ms)}`;
}

/** Refreshes every relative time on the page (called once a second). */
export function tick(root = document) {
  for (const el of root.querySelectorAll('time[data-ago]')) el.textContent = `${age(el.getAttribute('datetime'))} ago`;
  for (const el of root.querySelectorAll('time[data-until]')) el.textContent = untilText(el.getAttribute('datetime'));
  for (const el of root.querySelectorAll('[data-since]')) {
    el.textContent = shortDuration(Date.now() - Number(el.getAttribute('data-since')));
  }
}

/** The hash route: `#/jobs/default/pi?tab=logs` → {path: ['jobs','default','pi'], params}. */
export function currentRoute() {
  const h = location.hash.replace(/^#/, '') || '/';
  const [p, q] = h.split('?');
  return { path: p.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(q || '') };
}

export function routeHref(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const qs = q.toString();
  return `#/${path.map(encodeURIComponent).join('/')}${qs ? `?${qs}` : ''}`;
}

/** Updates one query parameter of the current route without adding a history entry. */
export function setParam(key, value) {
  const r = currentRoute();
  if (value === undefined || value === null || value === '') r.params.delete(key); else r.params.set(key, value);
  const qs = r.params.toString();
  history.replaceState(null, '', `#/${r.path.map(encodeURIComponent).join('/')}${qs ? `?${qs}` : ''}`);
}

export function debounce(fn, ms) {
  let t = null;
  const d = (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
  d.cancel = () => clearTimeout(t);
  return d;
}

export function getPath(obj, path) {
  let cur = obj;
  for (const k of splitPath(path)) {
    if (cur === null || cur === undefined) return undefined;
    cur = cur[k];
  }
  return cur;
}

/** Sets a dotted path (`spec.template.spec.containers[0].image`), creating objects on the way;
 * `undefined` deletes the key. */
export function setPath(obj, path, value) {
  const keys = splitPath(path);
  let cur = obj;
  keys.slice(0, -1).forEach((k, i) => {
    if (cur[k] === null || typeof cur[k] !== 'object') cur[k] = typeof keys[i + 1] === 'number' ? [] : {};
    cur = cur[k];
  });
  const last = keys[keys.length - 1];
  if (value === undefined) { if (Array.isArray(cur)) cur.splice(last, 1); else delete cur[last]; } else cur[last] = value;
}

export function splitPath(path) {
  const out = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]);
  return out;
}

export function clone(o) { return o === undefined ? undefined : JSON.parse(JSON.stringify(o)); }

export function randomSuffix(n = 5) {
  const a = 'bcdfghjklmnpqrstvwxz2456789';
  let s = '';
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  for (const b of bytes) s += a[b % a.length];
  return s;
}

/** DNS-1123 subdomain check as the API server does it for object names. */
export function dnsNameProblem(name, max = 63) {
  if (!name) return 'Required: lower-case letters, digits and "-"';
  if (name.length > max) return `At most ${max} characters`;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) return 'Lower-case letters, digits and "-", starting and ending with a letter or digit';
  return '';
}

export function toast(message, kind = 'info') {
  let box = document.getElementById('toasts');
  if (!box) {
    box = document.createElement('div');
    box.id = 'toasts';
    box.setAttribute('role', 'status');
    box.setAttribute('aria-live', 'polite');
    document.body.append(box);
  }
  const t = document.createElement('div');
  t.className = `toast ${kind}`;
  t.textContent = message;
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 9000 : 4000);
}

/** A modal dialog; resolves with the value of the button pressed (or null on Escape). */
export function dialog({ title, body, buttons }) {
  return new Promise((resolve) => {
    const d = document.createElement('dialog');
    d.className = 'modal';
    d.setAttribute('aria-labelledby', 'dialog-title');
    d.innerHTML = `${html`<h2 id="dialog-title">${title}</h2>`}<div class="dialog-body">${body instanceof Html ? body.s : esc(body)}</div>
      <form method="dialog" class="actions">${buttons.map((b) => html`<button value="${b.value}" class="${b.kind || ''}">${b.label}</button>`.s).join('')}</form>`;
    document.body.append(d);
    d.addEventListener('close', () => {
      const form = d.querySelector('.dialog-body');
      const data = Object.fromEntries(new FormData(form.querySelector('form') || document.createElement('form')));
      resolve(d.returnValue ? { button: d.returnValue, data } : null);
      d.remove();
    });
    d.showModal();
    const first = d.querySelector('.dialog-body input, .dialog-body select, form.actions button');
    first?.focus();
  });
}
