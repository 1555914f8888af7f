// Jobs list: live (list + watch), status chips with counts, name search, label selector,
// kubectl's columns plus a progress bar, row and multi-select actions.

import { collection, liveList } from '../api.js';
import { $, $$, debounce, html, raw, routeHref, setParam, shortDuration, timeAgo } from '../util.js';
import { JOB_STATES, completions, description, images, jobDurationMs, jobPhase, jobReason, jobState, owner, phaseClass, isFinished } from '../jobs-model.js';
import { deleteJobs, rerunJob, setSuspend } from './job-detail.js';

const ROW_LIMIT = 500;

export function statusBadge(phase, text = phase, title = '') {
  return html`<span class="badge ${phaseClass(phase)}" title="${title}">${text}</span>`;
}

export function progress(job) {
  const c = completions(job);
  return html`<rl-progress succeeded="${job.status?.succeeded || 0}" failed="${job.status?.failed || 0}" active="${job.status?.active || 0}" total="${c ?? 1}"></rl-progress>`;
}

export function durationCell(job) {
  const ms = jobDurationMs(job);
  if (ms === null) return html`<span class="muted">—</span>`;
  if (!isFinished(job) && job.status?.startTime) return html`<span data-since="${Date.parse(job.status.startTime)}">${shortDuration(ms)}</span>`;
  return shortDuration(ms);
}

export function ownerCell(job) {
  const o = owner(job, 'CronJob');
  if (o) return html`<a href="${routeHref(['cronjobs', job.metadata.namespace, o.name])}">CronJob ${o.name}</a>`;
  const manual = job.metadata?.annotations?.['cronjob.kubernetes.io/instantiate'] === 'manual';
  return manual ? 'manual run' : html`<span class="muted">manual</span>`;
}

export function jobLink(job) {
  return routeHref(['jobs', job.metadata.namespace, job.metadata.name]);
}

export function render({ main, route, ns, onCleanup }) {
  const p = route.params;
  const state = { status: p.get('status') || '', q: p.get('q') || '', selector: p.get('selector') || '', selected: new Set() };
  main.innerHTML = html`
    <div class="page-head">
      <h1>Jobs</h1>
      <div class="actions"><a class="button primary" href="${routeHref(['jobs', 'new'], { ns: ns || 'default' })}" data-create aria-keyshortcuts="c">Create Job</a></div>
    </div>
    <div class="filters">
      <div class="chips" role="group" aria-label="Filter by status"></div>
      <label class="grow"><span class="sr-only">Search Jobs by name</span><input type="search" data-search name="q" placeholder="Search by name  ( / )" value="${state.q}" aria-keyshortcuts="/"></label>
      <label><span class="sr-only">Label selector</span><input name="selector" placeholder="Label selector, e.g. app=web" value="${state.selector}" spellcheck="false"></label>
    </div>
    <div class="bulk" role="region" aria-label="Selected Jobs" hidden>
      <span class="bulk-count"></span>
      <button type="button" data-bulk="rerun">Rerun</button>
      <button type="button" data-bulk="suspend">Suspend</button>
      <button type="button" data-bulk="resume">Resume</button>
      <button type="button" class="danger" data-bulk="delete">Delete</button>
    </div>
    <p class="list-error field-error" role="alert"></p>
    <div class="table-wrap">
      <table class="list jobs">
        <caption class="sr-only">Jobs</caption>
        <thead><tr>
          <th scope="col" class="sel"><input type="checkbox" aria-label="Select all shown Jobs" data-all></th>
          <th scope="col">Status</th><th scope="col">Name</th>${ns ? '' : raw('<th scope="col">Namespace</th>')}
          <th scope="col">Completions</th><th scope="col">Duration</th><th scope="col" class="hide-sm">Started</th>
          <th scope="col" class="hide-sm">Owner</th><th scope="col" class="wide">Images</th><th scope="col"><span class="sr-only">Actions</span></th>
        </tr></thead>
        <tbody><tr><td colspan="10" class="muted">Loading…</td></tr></tbody>
      </table>
    </div>
    <p class="more muted"></p>`.s;

  let all = [];
  const tbody = $('tbody', main);

  const visible = () => all
    .filter((j) => !state.status || jobPhase(j) === state.status)
    .filter((j) => !state.q || j.metadata.name.includes(state.q.toLowerCase()) || description(j).toLowerCase().includes(state.q.toLowerCase()))
    .sort((a, b) => (b.metadata.creationTimestamp || '').localeCompare(a.metadata.creationTimestamp || '') || a.metadata.name.localeCompare(b.metadata.name));

  function renderChips() {
    const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0]));
    for (const j of all) counts[jobPhase(j)] = (counts[jobPhase(j)] || 0) + 1;
    $('.chips', main).innerHTML = html`${[['', 'All', all.length], ...JOB_STATES.filter((s) => s !== 'Pending').map((s) => [s, s, counts[s]])].map(([v, label, n]) =>
      html`<button type="button" class="chip ${v ? phaseClass(v) : ''}" data-status="${v}" aria-pressed="${String(state.status === v)}">${label} <span class="count">${n}</span></button>`)}`.s;
  }

  function renderRows() {
    const rows = visible();
    const shown = rows.slice(0, ROW_LIMIT);
    tbody.innerHTML = shown.length ? shown.map((j) => {
      const key = `${j.metadata.namespace}/${j.metadata.name}`;
      const phase = jobPhase(j);
      const desc = description(j);
      return html`<tr data-key="${key}">
        <td class="sel"><input type="checkbox" aria-label="Select ${j.metadata.name}" data-key="${key}" ${state.selected.has(key) ? raw('checked') : ''}></td>
        <td>${statusBadge(phase, jobState(j), jobReason(j))}</td>
        <td class="name"><a href="${jobLink(j)}">${j.metadata.name}</a>${desc ? html`<div class="desc">${desc}</div>` : ''}</td>
        ${ns ? '' : html`<td>${j.metadata.namespace}</td>`}
        <td class="progress-cell">${progress(j)}</td>
        <td>${durationCell(j)}</td>
        <td class="hide-sm">${timeAgo(j.status?.startTime || j.metadata.creationTimestamp)}</td>
        <td class="hide-sm">${ownerCell(j)}</td>
        <td class="wide mono">${images(j.spec?.template?.spec).join(', ')}</td>
        <td class="row-actions">
          <a class="button small" href="${routeHref(['jobs', j.metadata.namespace, j.metadata.name], { tab: 'logs' })}" aria-label="Logs of ${j.metadata.name}">Logs</a>
          <button type="button" class="small" data-act="rerun" data-key="${key}" aria-label="Rerun ${j.metadata.name}">Rerun</button>
          <button type="button" class="small hide-sm" data-act="${j.spec?.suspend ? 'resume' : 'suspend'}" data-key="${key}" aria-label="${j.spec?.suspend ? 'Resume' : 'Suspend'} ${j.metadata.name}" ${isFinished(j) ? raw('disabled') : ''}>${j.spec?.suspend ? 'Resume' : 'Suspend'}</button>
          <button type="button" class="small danger" data-act="delete" data-key="${key}" aria-label="Delete ${j.metadata.name}">Delete</button>
        </td></tr>`;
    }) .map((h) => h.s).join('') : html`<tr><td colspan="10" class="empty-row">${all.length ? 'No Job matches these filters.' : html`No Jobs ${ns ? html`in <b>${ns}</b>` : ''} yet. <a href="${routeHref(['jobs', 'new'], { ns: ns || 'default' })}">Create one</a>.`}</td></tr>`.s;
    $('.more', main).textContent = rows.length > ROW_LIMIT ? `Showing the newest ${ROW_LIMIT} of ${rows.length} Jobs; narrow the search to see others.` : '';
    renderBulk();
  }

  function renderBulk() {
    for (const k of [...state.selected]) if (!all.some((j) => `${j.metadata.namespace}/${j.metadata.name}` === k)) state.selected.delete(k);
    const bar = $('.bulk', main);
    bar.hidden = state.selected.size === 0;
    $('.bulk-count', main).textContent = `${state.selected.size} selected`;
  }

  const byKey = (k) => all.find((j) => `${j.metadata.namespace}/${j.metadata.name}` === k);

  main.addEventListener('click', async (e) => {
    const chip = e.target.closest('[data-status]');
    if (chip) { state.status = chip.dataset.status; setParam('status', state.status); renderChips(); renderRows(); return; }
    const act = e.target.closest('[data-act]');
    if (act) {
      const job = byKey(act.dataset.key);
      if (!job) return;
      if (act.dataset.act === 'rerun') rerunJob(job);
      if (act.dataset.act === 'suspend') setSuspend(job, true);
      if (act.dataset.act === 'resume') setSuspend(job, false);
      if (act.dataset.act === 'delete') deleteJobs([job]);
      return;
    }
    const bulk = e.target.closest('[data-bulk]');
    if (bulk) {
      const jobs = [...state.selected].map(byKey).filter(Boolean);
      if (bulk.dataset.bulk === 'rerun') for (const j of jobs) await rerunJob(j, { quiet: true });
      if (bulk.dataset.bulk === 'suspend') for (const j of jobs) await setSuspend(j, true);
      if (bulk.dataset.bulk === 'resume') for (const j of jobs) await setSuspend(j, false);
      if (bulk.dataset.bulk === 'delete' && await deleteJobs(jobs)) state.selected.clear();
      renderRows();
    }
  });
  main.addEventListener('change', (e) => {
    if (e.target.matches('[data-all]')) {
      for (const j of visible().slice(0, ROW_LIMIT)) {
        const k = `${j.metadata.namespace}/${j.metadata.name}`;
        if (e.target.checked) state.selected.add(k); else state.selected.delete(k);
      }
      renderRows();
    } else if (e.target.matches('td.sel input')) {
      if (e.target.checked) state.selected.add(e.target.dataset.key); else state.selected.delete(e.target.dataset.key);
      renderBulk();
    }
  });
  $('[name=q]', main).addEventListener('input', debounce((e) => { state.q = e.target.value.trim(); setParam('q', state.q); renderRows(); }, 120));

  let watch = null;
  const start = () => {
    watch?.stop();
    $('.list-error', main).textContent = '';
    watch = liveList(collection('batch/v1', 'jobs', ns), { labelSelector: state.selector || undefined }, (items) => {
      all = items;
      renderChips();
      renderRows();
    }, { onError: (e) => { $('.list-error', main).textContent = e.message; } });
  };
  $('[name=selector]', main).addEventListener('input', debounce((e) => { state.selector = e.target.value.trim(); setParam('selector', state.selector); start(); }, 400));
  renderChips();
  start();
  onCleanup(() => watch?.stop());
  void $$;
}
