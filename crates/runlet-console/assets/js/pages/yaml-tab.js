// The YAML tab of a detail page: view the live object; Edit → change → review the diff
// against the live object → save with PUT. Server validation errors are pinned to their line;
// a 409 Conflict shows the newer version beside the edit.

import { api, ApiError } from '../api.js';
import { $, dialog, html } from '../util.js';
import { forDisplay } from '../jobs-model.js';
import { lineOfPath, parse, stringify, YamlError } from '../yaml.js';

/** Line diff (LCS) of two texts: [{op: ' '|'-'|'+', line}]. */
export function diffLines(a, b) {
  const x = a.split('\n');
  const y = b.split('\n');
  if (x.length * y.length > 4e6) return [...x.map((line) => ({ op: '-', line })), ...y.map((line) => ({ op: '+', line }))];
  const m = x.length;
  const n = y.length;
  const dp = Array.from({ length: m + 1 }, () => new Uint32Array(n + 1));
  for (let i = m - 1; i >= 0; i--) for (let j = n - 1; j >= 0; j--) dp[i][j] = x[i] === y[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
  const out = [];
  let i = 0;
  let j = 0;
  while (i < m && j < n) {
    if (x[i] === y[j]) { out.push({ op: ' ', line: x[i] }); i++; j++; } else if (dp[i + 1][j] >= dp[i][j + 1]) out.push({ op: '-', line: x[i++] }); else out.push({ op: '+', line: y[j++] });
  }
  while (i < m) out.push({ op: '-', line: x[i++] });
  while (j < n) out.push({ op: '+', line: y[j++] });
  return out;
}

export function diffHtml(d) {
  const changed = d.map((e, k) => (e.op !== ' ' ? k : -1)).filter((k) => k >= 0);
  const keep = new Set();
  for (const k of changed) for (let c = k - 3; c <= k + 3; c++) keep.add(c);
  let last = -1;
  const parts = [];
  d.forEach((e, k) => {
    if (!keep.has(k)) return;
    if (last >= 0 && k > last + 1) parts.push(html`<span class="diff-gap">…</span>\n`);
    parts.push(html`<span class="diff-${e.op === '+' ? 'add' : e.op === '-' ? 'del' : 'ctx'}">${e.op} ${e.line}</span>\n`);
    last = k;
  });
  return html`<pre class="diff" aria-label="Changes">${parts}</pre>`;
}

export function yamlTab(el, { path, object, editing = false }) {
  el.innerHTML = html`
    <div class="yaml-bar" role="toolbar" aria-label="YAML actions">
      <button type="button" data-y="edit">Edit</button>
      <button type="button" class="primary" data-y="save" hidden>Review and save</button>
      <button type="button" data-y="cancel" hidden>Cancel</button>
      <span class="yaml-note muted" aria-live="polite"></span>
    </div>
    <p class="field-error yaml-status" role="alert"></p>
    <div class="yaml-split">
      <rl-yaml-editor label="Object YAML" readonly></rl-yaml-editor>
      <div class="newer" hidden><h3>Newer version on the server</h3><pre class="yaml-newer"></pre></div>
    </div>`.s;
  const ed = $('rl-yaml-editor', el);
  let isEditing = false;
  let base = '';
  const shown = () => (object() ? stringify(forDisplay(object())) : '');
  const setMode = (on) => {
    isEditing = on;
    ed.readOnly = !on;
    $('[data-y=edit]', el).hidden = on;
    $('[data-y=save]', el).hidden = !on;
    $('[data-y=cancel]', el).hidden = !on;
    $('.yaml-status', el).textContent = '';
    $('.newer', el).hidden = true;
    ed.setErrors([]);
    if (!on) ed.value = shown();
  };
  const api_ = {
    update() {
      if (!isEditing) { ed.value = shown(); return; }
      const now = object()?.metadata?.resourceVersion;
      const was = parseSafe(base)?.metadata?.resourceVersion;
      $('.yaml-note', el).textContent = now && was && now !== was ? 'The object changed on the server since you started editing.' : '';
    },
    edit() {
      base = shown();
      ed.value = base;
      setMode(true);
      ed.querySelector('textarea')?.focus();
    },
    stop() {},
  };
  el.addEventListener('click', async (e) => {
    const b = e.target.closest('[data-y]');
    if (!b) return;
    if (b.dataset.y === 'edit') api_.edit();
    if (b.dataset.y === 'cancel') setMode(false);
    if (b.dataset.y === 'save') await save();
  });

  async function save() {
    const text = ed.value;
    let obj;
    try {
      obj = parse(text);
    } catch (err) {
      ed.setErrors([{ line: err instanceof YamlError ? err.line : 0, message: err.message }]);
      return;
    }
    const live = shown();
    const d = diffLines(live, stringify(obj));
    if (!d.some((x) => x.op !== ' ')) { $('.yaml-status', el).textContent = 'Nothing changed.'; return; }
    const ok = await dialog({ title: 'Save these changes?', body: diffHtml(d), buttons: [{ value: 'save', label: 'Save', kind: 'primary' }, { value: 'cancel', label: 'Keep editing' }] });
    if (!ok || ok.button !== 'save') return;
    try {
      await api('PUT', path(), { body: obj });
      setMode(false);
      $('.yaml-note', el).textContent = 'Saved.';
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      $('.yaml-status', el).textContent = err.message;
      ed.setErrors(err.causes.map((c) => ({ line: c.field ? lineOfPath(text, c.field) : 0, message: `${c.field ? `${c.field}: ` : ''}${c.message}` })));
      if (err.code === 409) {
        try {
          const newer = await api('GET', path());
          $('.newer', el).hidden = false;
          $('.yaml-newer', el).textContent = stringify(forDisplay(newer));
          $('.yaml-status', el).textContent = `${err.message} — the newer version is shown beside your edit; copy your changes onto it (edit its resourceVersion) and save again.`;
        } catch { /* keep the message */ }
      }
    }
  }
  if (editing) setTimeout(() => api_.edit(), 0);
  return api_;
}

function parseSafe(t) { try { return parse(t); } catch { return null; } }
