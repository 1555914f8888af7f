// Pods: a live list (owner Job and index, node, status, exit code, restarts, logs) and a pod
// page with its containers and the log viewer.

import { collection, liveList, liveObject } from '../api.js';
import { $, debounce, fmtTime, html, routeHref, setParam } from '../util.js';
import { podPhaseClass, podStatusText } from '../jobs-model.js';
import { podRows, podTableHead } from './job-detail.js';

export function render(ctx) {
  if (ctx.route.path.length >= 3) return renderPod(ctx);
  const { main, route, ns, onCleanup } = ctx;
  let q = route.params.get('q') || '';
  let phase = route.params.get('phase') || '';
  main.innerHTML = html`<div class="page-head"><h1>Pods</h1></div>
    <div class="filters">
      <label class="grow"><span class="sr-only">Search pods</span><input type="search" data-search placeholder="Search by pod or Job name  ( / )" value="${q}"></label>
      <label>Phase <select name="phase">${['', 'Pending', 'Running', 'Succeeded', 'Failed'].map((p) => html`<option value="${p}" ${p === phase ? html`selected` : ''}>${p || 'any'}</option>`)}</select></label>
    </div>
    <div class="table-wrap"><table class="list pods">${podTableHead({ showJob: true, showNs: !ns })}<tbody><tr><td colspan="11" class="muted">Loading…</td></tr></tbody></table></div>
    <p class="more muted"></p>`.s;
  let items = [];
  const draw = () => {
    const shown = items
      .filter((p) => !phase || p.status?.phase === phase)
      .filter((p) => !q || p.metadata.name.includes(q) || (p.metadata.labels?.['batch.kubernetes.io/job-name'] || '').includes(q))
      .sort((a, b) => (b.metadata.creationTimestamp || '').localeCompare(a.metadata.creationTimestamp || ''));
    $('tbody', main).innerHTML = shown.length ? podRows(shown.slice(0, 500), { showJob: true, showNs: !ns }).map((h) => h.s).join('') : html`<tr><td colspan="11" class="empty-row">No pods.</td></tr>`.s;
    $('.more', main).textContent = shown.length > 500 ? `Showing the newest 500 of ${shown.length} pods.` : '';
  };
  main.addEventListener('click', (e) => {
    const b = e.target.closest('[data-pod-logs]');
    if (!b) return;
    const row = b.closest('tr').querySelector('td.name a');
    location.hash = `${row.getAttribute('href')}?tab=logs`;
  });
  $('[data-search]', main).addEventListener('input', debounce((e) => { q = e.target.value.trim(); setParam('q', q); draw(); }, 150));
  $('[name=phase]', main).addEventListener('change', (e) => { phase = e.target.value; setParam('phase', phase); draw(); });
  const w = liveList(collection('v1', 'pods', ns), {}, (list) => { items = list; draw(); });
  onCleanup(() => w.stop());
}

function renderPod({ main, route, onCleanup }) {
  const [, ns, name] = route.path;
  main.innerHTML = html`<nav class="crumbs" aria-label="Breadcrumb"><a href="${routeHref(['pods'], { ns })}">Pods</a> › <span>${ns}</span></nav>
    <div class="page-head"><h1><span class="kind">Pod</span> ${name} <span class="head-status"></span></h1></div>
    <section class="card pod-summary" aria-label="Pod status"></section>
    <section class="card"><h2>Logs</h2><rl-log-viewer></rl-log-viewer></section>`.s;
  const lv = $('rl-log-viewer', main);
  lv.namespace = ns;
  lv.sel.container = route.params.get('container') || '';
  const w = liveObject('v1', 'pods', ns, name, (p) => {
    if (!p) { $('.pod-summary', main).innerHTML = html`<p class="muted">Pod ${name} does not exist (any more).</p>`.s; return; }
    $('.head-status', main).innerHTML = html`<span class="badge ${podPhaseClass(p)}">${podStatusText(p)}</span>`.s;
    const job = p.metadata.labels?.['batch.kubernetes.io/job-name'];
    const statuses = [...(p.status?.initContainerStatuses || []).map((s) => ({ ...s, init: true })), ...(p.status?.containerStatuses || [])];
    $('.pod-summary', main).innerHTML = html`<dl class="stats">
        <div><dt>Job</dt><dd>${job ? html`<a href="${routeHref(['jobs', ns, job])}">${job}</a>` : '—'}</dd></div>
        <div><dt>Node</dt><dd>${p.spec?.nodeName || 'unscheduled'}</dd></div>
        <div><dt>Phase</dt><dd>${p.status?.phase || 'Pending'}</dd></div>
        <div><dt>Started</dt><dd>${fmtTime(p.status?.startTime)}</dd></div>
      </dl>
      <div class="table-wrap"><table class="list"><thead><tr><th scope="col">Container</th><th scope="col">Image</th><th scope="col">State</th><th scope="col">Exit code</th><th scope="col">Restarts</th></tr></thead><tbody>
      ${statuses.map((s) => { const st = s.state || {}; const t = st.terminated; return html`<tr><td>${s.name}${s.init ? ' (init)' : ''}</td><td class="mono">${s.image}</td><td>${st.running ? 'Running' : t ? `Terminated: ${t.reason || ''}` : st.waiting ? `Waiting: ${st.waiting.reason || ''}` : ''}</td><td>${t ? t.exitCode : '—'}</td><td>${s.restartCount || 0}</td></tr>`; })}
      </tbody></table></div>`.s;
    lv.pods = [p];
  });
  onCleanup(() => w.stop());
}
