// The console shell: sign-in gate, navigation, namespace picker, connection indicator, theme,
// keyboard shortcuts, and the hash router that mounts one page at a time (each page registers
// cleanups that stop its watches when you leave).

import { bus, connectionState, liveList, setConnection, signOut, token } from './api.js';
import { $, currentRoute, dialog, html, routeHref, tick } from './util.js';
import './components/progress.js';
import './components/log-viewer.js';
import './components/yaml-editor.js';
import * as signin from './pages/signin.js';
import * as overview from './pages/overview.js';
import * as jobs from './pages/jobs.js';
import * as jobDetail from './pages/job-detail.js';
import * as jobForm from './pages/job-form.js';
import * as cronjobs from './pages/cronjobs.js';
import * as cronjobDetail from './pages/cronjob-detail.js';
import * as pods from './pages/pods.js';
import * as nodes from './pages/nodes.js';
import * as events from './pages/events.js';

const NAV = [
  ['overview', 'Overview', 'o'],
  ['jobs', 'Jobs', 'j'],
  ['cronjobs', 'CronJobs', 'c'],
  ['pods', 'Pods', 'p'],
  ['nodes', 'Nodes', 'n'],
  ['events', 'Events', 'e'],
];

const app = document.getElementById('app');
let cleanups = [];
let nsWatch = null;
let shellBuilt = false;

function applyTheme() {
  const t = localStorage.getItem('runlet.console.theme');
  if (t) document.documentElement.dataset.theme = t; else delete document.documentElement.dataset.theme;
}

function effectiveTheme() {
  return document.documentElement.dataset.theme || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
}

/** The namespace in the URL (`ns`); '' means all namespaces. Defaults to the last one used. */
export function currentNamespace() {
  const p = currentRoute().params;
  if (p.has('ns')) return p.get('ns');
  return localStorage.getItem('runlet.console.ns') ?? 'default';
}

function buildShell() {
  app.innerHTML = html`
    <header class="top">
      <button type="button" class="icon menu" aria-controls="nav" aria-expanded="false" aria-label="Menu">☰</button>
      <a class="brand" href="#/overview"><img src="favicon.svg" alt="" width="22" height="22"> runlet</a>
      <label class="ns-picker"><span>Namespace</span> <select id="ns-select" aria-label="Namespace"><option value="">All namespaces</option></select></label>
      <span class="spacer"></span>
      <span class="conn" id="conn" role="status" aria-live="polite"><span class="dot" aria-hidden="true"></span><span class="conn-text">live</span></span>
      <button type="button" class="icon" id="theme-btn" aria-label="Switch to dark theme">◐</button>
      <button type="button" class="icon" id="help-btn" aria-label="Keyboard shortcuts" aria-keyshortcuts="?">?</button>
      <button type="button" id="signout-btn">Sign out</button>
    </header>
    <div class="layout">
      <nav id="nav" aria-label="Main">
        <ul>${NAV.map(([id, label, key]) => html`<li><a href="#/${id}" data-nav="${id}" aria-keyshortcuts="g ${key}">${label}</a></li>`)}</ul>
      </nav>
      <main id="main" tabindex="-1"></main>
    </div>`.s;
  shellBuilt = true;
  const menu = $('.menu');
  menu.addEventListener('click', () => {
    const open = menu.getAttribute('aria-expanded') !== 'true';
    menu.setAttribute('aria-expanded', String(open));
    $('#nav').classList.toggle('open', open);
  });
  $('#nav').addEventListener('click', (e) => {
    if (e.target.closest('a')) { menu.setAttribute('aria-expanded', 'false'); $('#nav').classList.remove('open'); }
  });
  $('#ns-select').addEventListener('change', (e) => {
    const ns = e.target.value;
    localStorage.setItem('runlet.console.ns', ns);
    const r = currentRoute();
    // Detail pages belong to their namespace: go to the list of that kind instead.
    const path = r.path.length >= 3 ? [r.path[0]] : r.path;
    r.params.set('ns', ns);
    location.hash = routeHref(path.length ? path : ['overview'], Object.fromEntries(r.params));
  });
  $('#theme-btn').addEventListener('click', () => {
    const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
    localStorage.setItem('runlet.console.theme', next);
    applyTheme();
    updateThemeButton();
  });
  $('#help-btn').addEventListener('click', showHelp);
  $('#signout-btn').addEventListener('click', () => { signOut(); route(); });
  updateThemeButton();
  showConnection(connectionState());
  nsWatch = liveList('/api/v1/namespaces', {}, (items) => {
    const sel = $('#ns-select');
    if (!sel) return;
    const names = items.map((n) => n.metadata.name).sort();
    const cur = currentNamespace();
    if (cur && !names.includes(cur)) names.unshift(cur);
    sel.innerHTML = html`<option value="">All namespaces</option>${names.map((n) => html`<option>${n}</option>`)}`.s;
    sel.value = cur;
  });
}

function updateThemeButton() {
  const b = $('#theme-btn');
  if (b) b.setAttribute('aria-label', effectiveTheme() === 'dark' ? 'Switch to light theme' : 'Switch to dark theme');
}

function showConnection(state) {
  const c = $('#conn');
  if (!c) return;
  c.dataset.state = state;
  c.querySelector('.conn-text').textContent = { live: 'live', reconnecting: 'reconnecting…', 'signed-out': 'signed out' }[state] || state;
}

bus.addEventListener('connection', (e) => {
  showConnection(e.detail);
  if (e.detail === 'signed-out' && shellBuilt) route();
});

function showHelp() {
  dialog({
    title: 'Keyboard shortcuts',
    body: html`<dl class="keys">
      <dt><kbd>?</kbd></dt><dd>this help</dd>
      <dt><kbd>/</kbd></dt><dd>search the current list</dd>
      <dt><kbd>c</kbd></dt><dd>create (on Jobs and CronJobs)</dd>
      ${NAV.map(([, label, key]) => html`<dt><kbd>g</kbd> <kbd>${key}</kbd></dt><dd>go to ${label}</dd>`)}
      <dt><kbd>Esc</kbd></dt><dd>close a dialog</dd>
    </dl>`,
    buttons: [{ value: 'ok', label: 'Close' }],
  });
}

let gPressed = 0;
document.addEventListener('keydown', (e) => {
  const t = e.target;
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (t instanceof HTMLElement && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) return;
  if (document.querySelector('dialog[open]')) return;
  if (!token()) return;
  if (e.key === '?') { e.preventDefault(); showHelp(); return; }
  if (e.key === '/') {
    const s = document.querySelector('[data-search]');
    if (s) { e.preventDefault(); s.focus(); }
    return;
  }
  if (e.key === 'g') { gPressed = Date.now(); return; }
  if (Date.now() - gPressed < 1500) {
    const hit = NAV.find(([, , k]) => k === e.key);
    gPressed = 0;
    if (hit) { e.preventDefault(); location.hash = `#/${hit[0]}`; }
    return;
  }
  if (e.key === 'c') {
    const c = document.querySelector('[data-create]');
    if (c) { e.preventDefault(); c.click(); }
  }
});

function pageFor(path) {
  const [kind, a, b] = path;
  switch (kind) {
    case undefined: case 'overview': return overview;
    case 'jobs': return a === 'new' ? jobForm : a && b ? jobDetail : jobs;
    case 'cronjobs': return a === 'new' ? jobForm : a && b ? cronjobDetail : cronjobs;
    case 'pods': return pods;
    case 'nodes': return nodes;
    case 'events': return events;
    default: return null;
  }
}

export function route() {
  for (const c of cleanups) { try { c(); } catch { /* page already gone */ } }
  cleanups = [];
  const r = currentRoute();
  if (!token() || r.path[0] === 'signin') {
    if (nsWatch) { nsWatch.stop(); nsWatch = null; }
    shellBuilt = false;
    signin.render({ root: app, route: r, done: () => { setConnection('live'); location.hash = r.params.get('next') || '#/overview'; route(); } });
    return;
  }
  if (!shellBuilt) buildShell();
  const ns = currentNamespace();
  const sel = $('#ns-select');
  if (sel && sel.value !== ns) {
    if (![...sel.options].some((o) => o.value === ns)) sel.insertAdjacentHTML('beforeend', html`<option>${ns}</option>`.s);
    sel.value = ns;
  }
  for (const a of document.querySelectorAll('[data-nav]')) {
    const id = a.dataset.nav;
    a.href = routeHref([id], currentRoute().params.has('ns') ? { ns } : {});
    const active = (r.path[0] || 'overview') === id;
    if (active) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  // A fresh <main> per page: listeners a page put on it must not outlive the page.
  const old = $('#main');
  const main = old.cloneNode(false);
  main.className = '';
  old.replaceWith(main);
  const page = pageFor(r.path);
  if (!page) {
    main.innerHTML = html`<h1>Not found</h1><p>No page at <code>${location.hash}</code>. <a href="#/overview">Overview</a></p>`.s;
    return;
  }
  document.title = 'runlet console';
  page.render({ main, route: r, ns, onCleanup: (f) => cleanups.push(f) });
  if (!r.params.has('focus')) main.focus({ preventScroll: true });
}

applyTheme();
window.addEventListener('hashchange', route);
setInterval(() => tick(), 1000);
route();
