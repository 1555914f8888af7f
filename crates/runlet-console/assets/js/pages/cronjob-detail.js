// CronJob detail: schedule in words with the next runs (from the server), last schedule and
// last success; Run now (name editable), Suspend/Resume, Edit YAML, Delete. Tabs: Runs (every
// Job it created, scheduled and manual), Skipped runs, Events, YAML.

import { collection, liveList, liveObject, objectPath, scheduleInfo } from '../api.js';
import { $, countdown, fmtTime, html, routeHref, setParam, timeAgo } from '../util.js';
import { jobPhase, jobState } from '../jobs-model.js';
import { cronState, deleteCronJob, miniBar, runNow, runsOf, setCronSuspend } from './cronjobs.js';
import { durationCell, progress, statusBadge } from './jobs.js';
import { eventsTable } from './events.js';
import { yamlTab } from './yaml-tab.js';

const TABS = [['runs', 'Runs'], ['skipped', 'Skipped runs'], ['events', 'Events'], ['yaml', 'YAML']];
const SKIP_REASONS = ['MissSchedule', 'JobAlreadyActive', 'TooManyMissedTimes', 'UnparseableSchedule', 'InvalidSchedule', 'UnknownTimeZone', 'UnsupportedSchedule'];

/** A time as the clock on the wall in the CronJob's zone reads it. */
function inZone(t, zone) {
  try {
    return new Date(t).toLocaleString(undefined, { timeZone: zone || 'UTC', weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' });
  } catch {
    return t;
  }
}

export function render({ main, route, onCleanup }) {
  const [, ns, name] = route.path;
  let tab = route.params.get('tab') || 'runs';
  let cj = null;
  let jobs = [];
  let events = [];
  main.innerHTML = html`<nav class="crumbs" aria-label="Breadcrumb"><a href="${routeHref(['cronjobs'], { ns })}">CronJobs</a> › <span>${ns}</span></nav>
    <div class="page-head"><h1><span class="kind">CronJob</span> ${name} <span class="head-status"></span></h1>
      <div class="actions" role="group" aria-label="CronJob actions">
        <button type="button" class="primary" data-act="run" disabled>Run now</button>
        <button type="button" data-act="suspend" disabled>Suspend</button>
        <button type="button" data-act="edit" disabled>Edit YAML</button>
        <button type="button" class="danger" data-act="delete" disabled>Delete</button>
      </div></div>
    <div class="grid2">
      <section class="card schedule" aria-label="Schedule"></section>
      <section class="card history" aria-label="History"></section>
    </div>
    <div class="tabs" role="tablist" aria-label="CronJob sections">${TABS.map(([id, label]) => html`<button type="button" role="tab" id="tab-${id}" data-tab="${id}" aria-selected="${String(id === tab)}" aria-controls="panel" tabindex="${id === tab ? 0 : -1}">${label}</button>`)}</div>
    <section id="panel" role="tabpanel" class="panel"></section>`.s;
  const panels = {};
  const panel = $('#panel', main);

  async function drawSchedule() {
    if (!cj) return;
    const info = await scheduleInfo(cj.spec.schedule, cj.spec.timeZone, 5).catch(() => null);
    const policy = { Allow: 'Allow — runs may overlap', Forbid: 'Forbid — skip a run while the previous one is active', Replace: 'Replace — stop the running Job and start the new one' }[cj.spec.concurrencyPolicy || 'Allow'];
    $('.schedule', main).innerHTML = html`<h2>Schedule</h2>
      <p class="big"><code>${cj.spec.schedule}</code> — ${info?.valid ? info.description : html`<span class="bad-text">${info?.error || ''}</span>`} <span class="muted">(${cj.spec.timeZone || 'UTC'})</span></p>
      ${cj.spec.suspend ? html`<p class="badge pause">Suspended: no new runs are scheduled</p>` : html`<h3>Next runs</h3><ol class="next-list">${(info?.next || []).map((t) => html`<li><time datetime="${t}">${inZone(t, cj.spec.timeZone)}</time> — ${countdown(t)}</li>`)}</ol>`}
      <dl class="kv"><div><dt>Concurrency</dt><dd>${policy}</dd></div>
        ${cj.spec.startingDeadlineSeconds !== undefined ? html`<div><dt>Starting deadline</dt><dd>${cj.spec.startingDeadlineSeconds}s</dd></div>` : ''}
        <div><dt>History kept</dt><dd>${cj.spec.successfulJobsHistoryLimit ?? 3} successful, ${cj.spec.failedJobsHistoryLimit ?? 1} failed</dd></div></dl>`.s;
  }

  function drawHeader() {
    if (!cj) return;
    // The actions act on the CronJob: enabled once it has loaded (a click before did nothing).
    for (const b of main.querySelectorAll('[data-act]')) b.disabled = false;
    const runs = runsOf(cj, jobs);
    const [st, cls] = cronState(cj, runs);
    $('.head-status', main).innerHTML = html`<span class="badge ${cls}">${st}</span>`.s;
    $('[data-act=suspend]', main).textContent = cj.spec.suspend ? 'Resume' : 'Suspend';
    $('.history', main).innerHTML = html`<h2>History</h2><dl class="stats">
      <div><dt>Last schedule</dt><dd>${timeAgo(cj.status?.lastScheduleTime)}</dd></div>
      <div><dt>Last success</dt><dd>${timeAgo(cj.status?.lastSuccessfulTime)}</dd></div>
      <div><dt>Active</dt><dd>${(cj.status?.active || []).length}</dd></div>
      <div><dt>Runs kept</dt><dd>${runs.length}</dd></div></dl>
      <p>${miniBar(runs)}</p>`.s;
  }

  function fill(which) {
    const el = panels[which];
    if (!el || el.hidden) return;
    if (which === 'runs') {
      const runs = cj ? runsOf(cj, jobs).reverse() : [];
      el.innerHTML = html`<div class="table-wrap"><table class="list runs"><thead><tr><th scope="col">Status</th><th scope="col">Job</th><th scope="col">Trigger</th><th scope="col">Completions</th><th scope="col">Duration</th><th scope="col">Started</th></tr></thead><tbody>
        ${runs.length ? runs.map((j) => html`<tr><td>${statusBadge(jobPhase(j), jobState(j))}</td><td class="name"><a href="${routeHref(['jobs', ns, j.metadata.name])}">${j.metadata.name}</a></td>
          <td>${j.metadata.annotations?.['cronjob.kubernetes.io/instantiate'] === 'manual' ? 'manual' : html`scheduled <span class="muted small">${fmtTime(j.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'])}</span>`}</td>
          <td>${progress(j)}</td><td>${durationCell(j)}</td><td>${timeAgo(j.status?.startTime || j.metadata.creationTimestamp)}</td></tr>`) : html`<tr><td colspan="6" class="empty-row">No runs yet.</td></tr>`}
        </tbody></table></div>
        <p class="muted small">Jobs beyond the history limits are deleted by the CronJob controller; their execution records stay with the server's records resource when it has one.</p>`.s;
    }
    if (which === 'skipped') {
      const skipped = events.filter((e) => SKIP_REASONS.includes(e.reason) || e.type === 'Warning');
      el.innerHTML = skipped.length ? eventsTable(skipped, { showObject: false }).s : '<p class="muted empty-row">No skipped or missed runs.</p>';
    }
    if (which === 'events') el.innerHTML = eventsTable(events, { showObject: true }).s;
    if (which === 'yaml') el.yaml.update();
  }

  function renderTab() {
    for (const b of main.querySelectorAll('[role=tab]')) { const on = b.dataset.tab === tab; b.setAttribute('aria-selected', String(on)); b.tabIndex = on ? 0 : -1; }
    panel.setAttribute('aria-labelledby', `tab-${tab}`);
    if (!panels[tab]) {
      const el = document.createElement('div');
      panels[tab] = el;
      panel.append(el);
      if (tab === 'yaml') el.yaml = yamlTab(el, { path: () => objectPath('batch/v1', 'cronjobs', ns, name), object: () => cj });
    }
    for (const [id, el] of Object.entries(panels)) el.hidden = id !== tab;
    fill(tab);
  }

  main.addEventListener('click', async (e) => {
    const t = e.target.closest('[data-tab]');
    if (t) { tab = t.dataset.tab; setParam('tab', tab); renderTab(); return; }
    const a = e.target.closest('[data-act]');
    if (!a || !cj) return;
    if (a.dataset.act === 'run') { const j = await runNow(cj); if (j) { tab = 'runs'; setParam('tab', 'runs'); renderTab(); } }
    if (a.dataset.act === 'suspend') setCronSuspend(cj, !cj.spec.suspend);
    if (a.dataset.act === 'edit') { tab = 'yaml'; setParam('tab', 'yaml'); renderTab(); panels.yaml.yaml.edit(); }
    if (a.dataset.act === 'delete' && await deleteCronJob(cj)) location.hash = routeHref(['cronjobs'], { ns });
  });
  $('.tabs', main).addEventListener('keydown', (e) => {
    if (!['ArrowLeft', 'ArrowRight'].includes(e.key)) return;
    const tabs = [...main.querySelectorAll('[role=tab]')];
    const i = (tabs.findIndex((b) => b.dataset.tab === tab) + (e.key === 'ArrowRight' ? 1 : -1) + tabs.length) % tabs.length;
    tab = tabs[i].dataset.tab;
    setParam('tab', tab);
    renderTab();
    tabs[i].focus();
  });

  let lastSched = '';
  const w1 = liveObject('batch/v1', 'cronjobs', ns, name, (o) => {
    if (!o) { $('.schedule', main).innerHTML = html`<p class="muted">No CronJob ${name} in ${ns}.</p>`.s; return; }
    cj = o;
    const k = `${o.spec.schedule}|${o.spec.timeZone}|${o.spec.suspend}|${o.spec.concurrencyPolicy}`;
    if (k !== lastSched) { lastSched = k; drawSchedule(); }
    drawHeader();
    fill('runs');
    fill('yaml');
  });
  const w2 = liveList(collection('batch/v1', 'jobs', ns), {}, (items) => { jobs = items; drawHeader(); fill('runs'); });
  const w3 = liveList(collection('v1', 'events', ns), {}, (items) => {
    events = items.filter((e) => e.involvedObject?.kind === 'CronJob' && e.involvedObject?.name === name);
    fill('events');
    fill('skipped');
  });
  const t = setInterval(drawSchedule, 30000);
  onCleanup(() => { w1.stop(); w2.stop(); w3.stop(); clearInterval(t); });
  renderTab();
}
