// CronJobs list: status, schedule in words with its zone, next-run countdown, last run result,
// active count, the last 10 runs as a mini bar, age; Run now, Suspend/Resume, Delete.

import { api, collection, liveList, objectPath, scheduleInfo } from '../api.js';
import { $, countdown, debounce, dialog, html, randomSuffix, routeHref, setParam, timeAgo, toast } from '../util.js';
import { jobFromCronJob, jobPhase, owner, phaseClass } from '../jobs-model.js';

export function runsOf(cj, jobs) {
  return jobs.filter((j) => owner(j, 'CronJob')?.uid === cj.metadata.uid || (owner(j, 'CronJob')?.name === cj.metadata.name && j.metadata.namespace === cj.metadata.namespace))
    .sort((a, b) => (a.metadata.creationTimestamp || '').localeCompare(b.metadata.creationTimestamp || ''));
}

export function cronState(cj, runs) {
  if (cj.spec?.suspend) return ['Suspended', 'pause'];
  if ((cj.status?.active || []).length) return ['Active', 'run'];
  const last = runs[runs.length - 1];
  if (last && jobPhase(last) === 'Failed') return ['Failing', 'bad'];
  return ['Scheduled', 'ok'];
}

export function miniBar(runs) {
  const last = runs.slice(-10);
  return html`<span class="minibar" role="img" aria-label="Last ${last.length} runs: ${last.map((j) => jobPhase(j)).join(', ') || 'none'}">${last.map((j) => html`<span class="${phaseClass(jobPhase(j))}" title="${j.metadata.name}: ${jobPhase(j)}"></span>`)}</span>`;
}

export async function runNow(cj, { ask = true } = {}) {
  let name = `${cj.metadata.name.slice(0, 52)}-manual-${randomSuffix(3)}`;
  if (ask) {
    const r = await dialog({
      title: `Run ${cj.metadata.name} now?`,
      body: html`<form class="stack"><label for="run-name">Job name</label><input id="run-name" name="name" value="${name}" spellcheck="false" required><p class="muted">A Job from the CronJob's template, as <code>kubectl create job --from=cronjob/${cj.metadata.name}</code> makes it.</p></form>`,
      buttons: [{ value: 'run', label: 'Run now', kind: 'primary' }, { value: 'cancel', label: 'Cancel' }],
    });
    if (!r || r.button !== 'run') return null;
    name = (r.data.name || name).trim();
  }
  try {
    const job = await api('POST', collection('batch/v1', 'jobs', cj.metadata.namespace), { body: jobFromCronJob(cj, name) });
    toast(`Started ${name}`);
    return job;
  } catch (e) {
    toast(`Run now failed: ${e.message}`, 'error');
    return null;
  }
}

export async function setCronSuspend(cj, suspend) {
  try {
    await api('PATCH', objectPath('batch/v1', 'cronjobs', cj.metadata.namespace, cj.metadata.name), { body: { spec: { suspend } }, contentType: 'application/merge-patch+json' });
    toast(`${suspend ? 'Suspended' : 'Resumed'} ${cj.metadata.name}`);
  } catch (e) {
    toast(`Failed: ${e.message}`, 'error');
  }
}

export async function deleteCronJob(cj) {
  const r = await dialog({
    title: `Delete CronJob ${cj.metadata.name}?`,
    body: html`<form class="stack"><fieldset><legend>Its Jobs</legend>
      <label class="check"><input type="radio" name="propagation" value="Background" checked> <span><b>Background</b> — delete its Jobs and pods too</span></label>
      <label class="check"><input type="radio" name="propagation" value="Orphan"> <span><b>Orphan</b> — keep its Jobs</span></label></fieldset></form>`,
    buttons: [{ value: 'delete', label: 'Delete', kind: 'danger' }, { value: 'cancel', label: 'Cancel' }],
  });
  if (!r || r.button !== 'delete') return false;
  try {
    await api('DELETE', objectPath('batch/v1', 'cronjobs', cj.metadata.namespace, cj.metadata.name), { body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: r.data.propagation || 'Background' } });
    toast(`Deleted ${cj.metadata.name}`);
    return true;
  } catch (e) {
    toast(`Delete failed: ${e.message}`, 'error');
    return false;
  }
}

export function render({ main, route, ns, onCleanup }) {
  let q = route.params.get('q') || '';
  main.innerHTML = html`<div class="page-head"><h1>CronJobs</h1>
      <div class="actions"><a class="button primary" href="${routeHref(['cronjobs', 'new'], { ns: ns || 'default' })}" data-create>Create CronJob</a></div></div>
    <div class="filters"><label class="grow"><span class="sr-only">Search CronJobs by name</span><input type="search" data-search placeholder="Search by name  ( / )" value="${q}"></label></div>
    <div class="table-wrap"><table class="list cronjobs"><thead><tr><th scope="col">Status</th><th scope="col">Name</th>${ns ? '' : html`<th scope="col">Namespace</th>`}<th scope="col">Schedule</th><th scope="col">Next run</th><th scope="col" class="hide-sm">Last run</th><th scope="col">Active</th><th scope="col" class="hide-sm">Last 10 runs</th><th scope="col" class="hide-sm">Age</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
    <tbody><tr><td colspan="10" class="muted">Loading…</td></tr></tbody></table></div>`.s;
  let cjs = [];
  let jobs = [];
  const infos = new Map();
  const draw = () => {
    const shown = cjs.filter((c) => !q || c.metadata.name.includes(q)).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    $('tbody', main).innerHTML = shown.length ? shown.map((c) => {
      const runs = runsOf(c, jobs);
      const [st, cls] = cronState(c, runs);
      const info = infos.get(`${c.spec.schedule}|${c.spec.timeZone || ''}`);
      const last = runs[runs.length - 1];
      const key = `${c.metadata.namespace}/${c.metadata.name}`;
      return html`<tr><td><span class="badge ${cls}">${st}</span></td>
        <td class="name"><a href="${routeHref(['cronjobs', c.metadata.namespace, c.metadata.name])}">${c.metadata.name}</a></td>
        ${ns ? '' : html`<td>${c.metadata.namespace}</td>`}
        <td><code>${c.spec.schedule}</code><div class="desc">${info ? (info.valid ? info.description : html`<span class="bad-text">${info.error}</span>`) : ''} <span class="muted">(${c.spec.timeZone || 'UTC'})</span></div></td>
        <td>${c.spec.suspend ? html`<span class="muted">suspended</span>` : countdown(info?.next?.[0])}</td>
        <td class="hide-sm">${last ? html`<span class="badge ${phaseClass(jobPhase(last))}">${jobPhase(last)}</span> ${timeAgo(last.metadata.creationTimestamp)}` : c.status?.lastScheduleTime ? timeAgo(c.status.lastScheduleTime) : html`<span class="muted">never</span>`}</td>
        <td>${(c.status?.active || []).length}</td>
        <td class="hide-sm">${miniBar(runs)}</td>
        <td class="hide-sm">${timeAgo(c.metadata.creationTimestamp)}</td>
        <td class="row-actions"><button type="button" class="small primary" data-run="${key}" aria-label="Run ${c.metadata.name} now">Run now</button>
          <button type="button" class="small" data-susp="${key}" aria-label="${c.spec.suspend ? 'Resume' : 'Suspend'} ${c.metadata.name}">${c.spec.suspend ? 'Resume' : 'Suspend'}</button>
          <button type="button" class="small danger hide-sm" data-del="${key}" aria-label="Delete ${c.metadata.name}">Delete</button></td></tr>`.s;
    }).join('') : html`<tr><td colspan="10" class="empty-row">No CronJobs. <a href="${routeHref(['cronjobs', 'new'], { ns: ns || 'default' })}">Create one</a>.</td></tr>`.s;
  };
  const loadInfos = async () => {
    await Promise.all(cjs.map(async (c) => {
      const k = `${c.spec.schedule}|${c.spec.timeZone || ''}`;
      infos.set(k, await scheduleInfo(c.spec.schedule, c.spec.timeZone, 1).catch(() => null));
    }));
    draw();
  };
  const find = (k) => cjs.find((c) => `${c.metadata.namespace}/${c.metadata.name}` === k);
  main.addEventListener('click', async (e) => {
    const run = e.target.closest('[data-run]');
    if (run) { const cj = find(run.dataset.run); if (cj) await runNow(cj); return; }
    const s = e.target.closest('[data-susp]');
    if (s) { const cj = find(s.dataset.susp); if (cj) await setCronSuspend(cj, !cj.spec.suspend); return; }
    const d = e.target.closest('[data-del]');
    if (d) { const cj = find(d.dataset.del); if (cj) await deleteCronJob(cj); }
  });
  $('[data-search]', main).addEventListener('input', debounce((e) => { q = e.target.value.trim(); setParam('q', q); draw(); }, 150));
  const w1 = liveList(collection('batch/v1', 'cronjobs', ns), {}, (items) => { cjs = items; draw(); loadInfos(); });
  const w2 = liveList(collection('batch/v1', 'jobs', ns), {}, (items) => { jobs = items; draw(); });
  const t = setInterval(loadInfos, 30000);
  onCleanup(() => { w1.stop(); w2.stop(); clearInterval(t); });
}
