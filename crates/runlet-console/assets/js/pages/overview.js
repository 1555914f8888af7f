// Overview: Jobs by state, failing now (with reason), next CronJob runs with countdowns, nodes
// ready, live events.

import { collection, liveList, scheduleInfo } from '../api.js';
import { $, countdown, html, routeHref, timeAgo } from '../util.js';
import { JOB_STATES, jobPhase, jobReason, nodeReady, phaseClass } from '../jobs-model.js';
import { eventsTable } from './events.js';

export function render({ main, ns, onCleanup }) {
  main.innerHTML = html`<div class="page-head"><h1>Overview</h1><p class="muted">${ns ? html`Namespace <b>${ns}</b>` : 'All namespaces'}</p></div>
    <section aria-label="Jobs by state" class="tiles"></section>
    <div class="grid2">
      <section class="card"><h2>Failing now</h2><div class="failing"></div></section>
      <section class="card"><h2>Next CronJob runs</h2><div class="next-runs"></div></section>
    </div>
    <div class="grid2">
      <section class="card"><h2>Nodes</h2><div class="nodes-sum"></div></section>
      <section class="card"><h2>Latest events</h2><div class="ev"></div></section>
    </div>`.s;
  let jobs = [];
  let cronjobs = [];
  const drawJobs = () => {
    const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0]));
    for (const j of jobs) counts[jobPhase(j)]++;
    $('.tiles', main).innerHTML = html`${JOB_STATES.filter((s) => s !== 'Pending').map((s) => html`<a class="tile ${phaseClass(s)}" href="${routeHref(['jobs'], { ns, status: s })}"><span class="n">${counts[s]}</span><span>${s}</span></a>`)}
      <a class="tile" href="${routeHref(['cronjobs'], { ns })}"><span class="n">${cronjobs.length}</span><span>CronJobs</span></a>`.s;
    const failing = jobs.filter((j) => jobPhase(j) === 'Failed').sort((a, b) => (b.metadata.creationTimestamp || '').localeCompare(a.metadata.creationTimestamp || '')).slice(0, 8);
    $('.failing', main).innerHTML = failing.length ? html`<ul class="plain">${failing.map((j) => html`<li><a href="${routeHref(['jobs', j.metadata.namespace, j.metadata.name])}">${j.metadata.name}</a> <span class="bad-text small">${jobReason(j)}</span> ${timeAgo(j.metadata.creationTimestamp)}</li>`)}</ul>`.s : '<p class="muted">Nothing is failing.</p>';
  };
  const drawCron = async () => {
    const active = cronjobs.filter((c) => !c.spec?.suspend);
    const rows = await Promise.all(active.map(async (c) => ({ c, info: await scheduleInfo(c.spec.schedule, c.spec.timeZone, 1).catch(() => null) })));
    rows.sort((a, b) => String(a.info?.next?.[0] || '~').localeCompare(String(b.info?.next?.[0] || '~')));
    $('.next-runs', main).innerHTML = rows.length ? html`<ul class="plain">${rows.slice(0, 8).map(({ c, info }) => html`<li><a href="${routeHref(['cronjobs', c.metadata.namespace, c.metadata.name])}">${c.metadata.name}</a> ${countdown(info?.next?.[0])} <span class="muted small">${info?.description || c.spec.schedule}</span></li>`)}</ul>`.s : '<p class="muted">No active CronJobs.</p>';
  };
  const w1 = liveList(collection('batch/v1', 'jobs', ns), {}, (items) => { jobs = items; drawJobs(); });
  const w2 = liveList(collection('batch/v1', 'cronjobs', ns), {}, (items) => { cronjobs = items; drawJobs(); drawCron(); });
  const w3 = liveList('/api/v1/nodes', {}, (items) => {
    const ready = items.filter(nodeReady).length;
    $('.nodes-sum', main).innerHTML = html`<p><a href="#/nodes"><b>${ready}</b> of ${items.length} node${items.length === 1 ? '' : 's'} ready</a></p>`.s;
  });
  const w4 = liveList(collection('v1', 'events', ns), {}, (items) => { $('.ev', main).innerHTML = eventsTable(items, { limit: 8 }).s; });
  const t = setInterval(drawCron, 30000);
  onCleanup(() => { w1.stop(); w2.stop(); w3.stop(); w4.stop(); clearInterval(t); });
}
