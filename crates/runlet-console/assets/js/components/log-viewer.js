// <rl-log-viewer>: live container logs through `pods/log?follow=true`.
//
// Set `.namespace`, then `.pods` (live pod objects; may change), optionally `.select({pod,
// container})`. One pod or all pods merged with a coloured prefix; container (init containers
// grouped); current or previous attempt; tail; timestamps; wrap; search with a match count and
// "only matching lines"; follow that pauses when you scroll up and offers "N new lines";
// download of the whole log. An empty pane always says why.

import { api, ApiError, readLines } from '../api.js';
import { esc } from '../util.js';
import { podIndex } from '../jobs-model.js';

const MAX_LINES = 50000;
const COLOURS = 8;

class RlLogViewer extends HTMLElement {
  constructor() {
    super();
    this.namespace = 'default';
    this._pods = [];
    this.sel = { pod: '', container: '', previous: false, tail: '1000', timestamps: false, wrap: true, follow: true, query: '', only: false };
    this.lines = [];
    this.streams = new Map();
    this.newLines = 0;
    this.status = new Map();
  }

  connectedCallback() {
    if (this.built) return;
    this.built = true;
    const id = `lv${Math.random().toString(36).slice(2, 8)}`;
    this.innerHTML = `
      <div class="log-toolbar" role="toolbar" aria-label="Log options">
        <label>Pod <select name="pod"></select></label>
        <label>Container <select name="container"></select></label>
        <label>Attempt <select name="previous"><option value="">current</option><option value="1">previous</option></select></label>
        <label>Tail <select name="tail"><option value="100">100 lines</option><option value="1000" selected>1000 lines</option><option value="">all</option></select></label>
        <label class="check"><input type="checkbox" name="timestamps"> timestamps</label>
        <label class="check"><input type="checkbox" name="wrap" checked> wrap</label>
        <button type="button" name="follow" aria-pressed="true">Following</button>
        <span class="search"><label for="${id}-q" class="sr-only">Search logs</label><input id="${id}-q" type="search" name="query" placeholder="Search logs" autocomplete="off"><output name="count" aria-live="polite"></output></span>
        <label class="check"><input type="checkbox" name="only"> only matching</label>
        <button type="button" name="download">Download</button>
      </div>
      <div class="log-pane-wrap">
        <pre class="log wrap" tabindex="0" role="log" aria-label="Log output" aria-live="off"></pre>
        <button type="button" class="new-lines" hidden>0 new lines ↓</button>
      </div>`;
    this.pane = this.querySelector('pre.log');
    this.tb = this.querySelector('.log-toolbar');
    this.newBtn = this.querySelector('.new-lines');
    this.tb.addEventListener('change', (e) => this.onOption(e.target));
    this.tb.querySelector('[name=query]').addEventListener('input', (e) => { this.sel.query = e.target.value; this.renderAll(); });
    this.tb.querySelector('[name=follow]').addEventListener('click', () => this.setFollow(!this.sel.follow));
    this.tb.querySelector('[name=download]').addEventListener('click', () => this.download());
    this.newBtn.addEventListener('click', () => this.setFollow(true));
    this.pane.addEventListener('scroll', () => {
      const atBottom = this.pane.scrollTop + this.pane.clientHeight >= this.pane.scrollHeight - 24;
      if (!atBottom && this.sel.follow && !this.programmatic) this.setFollow(false);
      this.programmatic = false;
    });
    this.renderOptions();
    this.restart();
  }

  disconnectedCallback() { this.stopAll(); }

  set pods(list) {
    const before = this.podKey();
    this._pods = [...list].sort((a, b) => (podIndex(a) ?? 0) - (podIndex(b) ?? 0) || (a.metadata.creationTimestamp || '').localeCompare(b.metadata.creationTimestamp || ''));
    if (!this.built) return;
    this.renderOptions();
    // Streams for pods that just started (or newly appeared in "all pods") begin now.
    if (this.podKey() !== before || [...this.selectedPods()].some((p) => !this.streams.has(p.metadata.name) && this.canStream(p))) this.ensureStreams();
  }

  get pods() { return this._pods; }

  select({ pod, container }) {
    if (pod !== undefined) this.sel.pod = pod;
    if (container !== undefined) this.sel.container = container;
    if (this.built) { this.renderOptions(); this.restart(); }
  }

  podKey() { return this._pods.map((p) => `${p.metadata.name}:${p.status?.phase}`).join(','); }

  selectedPods() {
    if (!this.sel.pod && this._pods.length === 1) return this._pods;
    if (this.sel.pod === '*' || !this.sel.pod) return this.sel.pod === '*' ? this._pods : this._pods.slice(-1);
    return this._pods.filter((p) => p.metadata.name === this.sel.pod);
  }

  containersOf(pod) {
    return { init: (pod?.spec?.initContainers || []).map((c) => c.name), main: (pod?.spec?.containers || []).map((c) => c.name) };
  }

  renderOptions() {
    const podSel = this.tb.querySelector('[name=pod]');
    const pods = this._pods;
    if (!this.sel.pod && pods.length) this.sel.pod = pods.length > 1 ? '*' : pods[0].metadata.name;
    podSel.innerHTML = (pods.length > 1 ? `<option value="*">All pods (merged)</option>` : '')
      + pods.map((p) => `<option value="${esc(p.metadata.name)}">${esc(p.metadata.name)}${podIndex(p) !== null ? ` (index ${podIndex(p)})` : ''}</option>`).join('')
      + (pods.length ? '' : '<option value="">no pods</option>');
    podSel.value = this.sel.pod;
    const first = this.selectedPods()[0];
    const { init, main } = this.containersOf(first);
    if (!this.sel.container || ![...init, ...main].includes(this.sel.container)) this.sel.container = main[0] || init[0] || '';
    const cSel = this.tb.querySelector('[name=container]');
    cSel.innerHTML = (init.length ? `<optgroup label="init containers">${init.map((c) => `<option>${esc(c)}</option>`).join('')}</optgroup>` : '')
      + `<optgroup label="containers">${main.map((c) => `<option>${esc(c)}</option>`).join('')}</optgroup>`;
    cSel.value = this.sel.container;
  }

  onOption(t) {
    if (!t.name) return;
    if (t.name === 'pod') { this.sel.pod = t.value; this.renderOptions(); this.restart(); }
    if (t.name === 'container') { this.sel.container = t.value; this.restart(); }
    if (t.name === 'previous') { this.sel.previous = !!t.value; this.restart(); }
    if (t.name === 'tail') { this.sel.tail = t.value; this.restart(); }
    if (t.name === 'timestamps') { this.sel.timestamps = t.checked; this.restart(); }
    if (t.name === 'wrap') { this.sel.wrap = t.checked; this.pane.classList.toggle('wrap', t.checked); }
    if (t.name === 'only') { this.sel.only = t.checked; this.renderAll(); }
    this.dispatchEvent(new CustomEvent('selection', { detail: { ...this.sel }, bubbles: true }));
  }

  setFollow(on) {
    this.sel.follow = on;
    const b = this.tb.querySelector('[name=follow]');
    b.setAttribute('aria-pressed', String(on));
    b.textContent = on ? 'Following' : 'Paused';
    if (on) {
      this.newLines = 0;
      this.newBtn.hidden = true;
      this.scrollToEnd();
    }
  }

  scrollToEnd() {
    this.programmatic = true;
    this.pane.scrollTop = this.pane.scrollHeight;
  }

  stopAll() {
    for (const s of this.streams.values()) s.abort();
    this.streams.clear();
  }

  restart() {
    this.stopAll();
    this.lines = [];
    this.status.clear();
    this.renderAll();
    this.ensureStreams();
  }

  canStream(p) {
    const started = (p.status?.containerStatuses || []).concat(p.status?.initContainerStatuses || [])
      .some((cs) => cs.state?.running || cs.state?.terminated || cs.lastState?.terminated);
    return started || ['Running', 'Succeeded', 'Failed'].includes(p.status?.phase);
  }

  ensureStreams() {
    const pods = this.selectedPods();
    const merged = pods.length > 1;
    for (const p of pods) {
      const name = p.metadata.name;
      if (this.streams.has(name)) continue;
      if (!this.canStream(p)) {
        this.status.set(name, `Pod ${name} is ${p.status?.phase || 'Pending'}${p.spec?.nodeName ? '' : ' (not yet scheduled to a node)'}: its log starts when a container runs.`);
        continue;
      }
      this.status.delete(name);
      const ctl = new AbortController();
      this.streams.set(name, ctl);
      this.stream(p, merged, ctl);
    }
    this.renderEmpty();
  }

  async stream(pod, merged, ctl) {
    const name = pod.metadata.name;
    const finished = ['Succeeded', 'Failed'].includes(pod.status?.phase);
    const query = {
      container: this.sel.container || undefined,
      follow: !finished && !this.sel.previous ? 'true' : undefined,
      previous: this.sel.previous ? 'true' : undefined,
      timestamps: this.sel.timestamps ? 'true' : undefined,
      tailLines: this.sel.tail || undefined,
    };
    const colour = merged ? this._pods.indexOf(pod) % COLOURS : -1;
    try {
      const res = await api('GET', `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/pods/${encodeURIComponent(name)}/log`, { query, raw: true, signal: ctl.signal, accept: 'text/plain, */*' });
      let batch = [];
      let scheduled = false;
      const flush = () => { scheduled = false; const b = batch; batch = []; this.append(b); };
      await readLines(res, (line) => {
        batch.push({ pod: merged ? name : '', colour, text: line });
        if (!scheduled) { scheduled = true; requestAnimationFrame(flush); }
      }, ctl.signal);
      if (batch.length) flush();
      if (!ctl.signal.aborted) {
        this.status.set(name, finished || this.sel.previous ? `End of the log of ${name}.` : `The log stream of ${name} ended.`);
        this.renderEmpty();
      }
    } catch (e) {
      if (ctl.signal.aborted || e.name === 'AbortError') return;
      const msg = e instanceof ApiError ? e.message : String(e);
      this.status.set(name, `No log for ${name}: ${msg}`);
      this.renderEmpty();
    }
  }

  matches(l) {
    const q = this.sel.query.toLowerCase();
    return !q || l.text.toLowerCase().includes(q) || l.pod.toLowerCase().includes(q);
  }

  lineHtml(l) {
    const prefix = l.pod ? `<span class="prefix c${l.colour}">${esc(l.pod)}</span> ` : '';
    let text = esc(l.text);
    const q = this.sel.query;
    if (q) {
      const re = new RegExp(esc(q).replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi');
      text = text.replace(re, (m) => `<mark>${m}</mark>`);
    }
    return `<span class="line${q && this.matches(l) ? ' hit' : ''}">${prefix}${text}\n</span>`;
  }

  append(batch) {
    if (!batch.length) return;
    this.lines.push(...batch);
    if (this.lines.length > MAX_LINES) { this.lines.splice(0, this.lines.length - MAX_LINES); this.renderAll(); return; }
    const shown = batch.filter((l) => !this.sel.only || this.matches(l));
    this.pane.querySelector('.empty')?.remove();
    this.pane.insertAdjacentHTML('beforeend', shown.map((l) => this.lineHtml(l)).join(''));
    this.updateCount();
    if (this.sel.follow) this.scrollToEnd();
    else {
      this.newLines += batch.length;
      this.newBtn.hidden = false;
      this.newBtn.textContent = `${this.newLines} new line${this.newLines === 1 ? '' : 's'} ↓`;
    }
  }

  renderAll() {
    if (!this.pane) return;
    const shown = this.lines.filter((l) => !this.sel.only || this.matches(l));
    this.pane.innerHTML = shown.map((l) => this.lineHtml(l)).join('');
    this.updateCount();
    this.renderEmpty();
    if (this.sel.follow) this.scrollToEnd();
  }

  updateCount() {
    const out = this.tb.querySelector('[name=count]');
    if (!this.sel.query) { out.textContent = ''; return; }
    const n = this.lines.filter((l) => this.matches(l)).length;
    out.textContent = `${n} match${n === 1 ? '' : 'es'}`;
  }

  renderEmpty() {
    if (!this.pane) return;
    this.pane.querySelector('.empty')?.remove();
    if (this.pane.querySelector('.line')) return;
    let why;
    if (!this._pods.length) why = 'No pods yet: the Job has not created any, or they were removed.';
    else if (this.status.size) why = [...this.status.values()].join('\n');
    else if (this.lines.length && this.sel.only) why = 'No line matches the search.';
    else if (this.streams.size) why = this.sel.follow ? 'No output yet. Following: new lines appear here as they are written.' : 'No output yet.';
    else why = 'The log is empty.';
    this.pane.insertAdjacentHTML('beforeend', `<span class="empty">${esc(why)}</span>`);
  }

  async download() {
    const pods = this.selectedPods();
    const parts = [];
    for (const p of pods) {
      try {
        const res = await api('GET', `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/pods/${encodeURIComponent(p.metadata.name)}/log`, {
          query: { container: this.sel.container || undefined, previous: this.sel.previous ? 'true' : undefined, timestamps: this.sel.timestamps ? 'true' : undefined },
          raw: true,
          accept: 'text/plain, */*',
        });
        const text = await res.text();
        parts.push(pods.length > 1 ? text.split('\n').filter(Boolean).map((l) => `${p.metadata.name} ${l}`).join('\n') + '\n' : text);
      } catch (e) {
        parts.push(`# ${p.metadata.name}: ${e.message}\n`);
      }
    }
    const blob = new Blob(parts, { type: 'text/plain' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `${pods.length === 1 ? pods[0].metadata.name : 'pods'}-${this.sel.container || 'log'}.log`;
    document.body.append(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }
}

customElements.define('rl-log-viewer', RlLogViewer);
