// Job detail: header with status, progress and counts; Rerun / Suspend / Resume / Edit YAML /
// Delete; tabs Overview, Pods (with the per-index grid for Indexed Jobs), Executions (when the
// server has runlet.dev records), Logs, Events, YAML. Everything is live.

import { api, ApiError, collection, get, liveList, liveObject, objectPath } from '../api.js';
import { $, dialog, fmtTime, html, raw, randomSuffix, routeHref, setParam, timeAgo, toast } from '../util.js';
import { completionsText, description, forDisplay, isFinished, jobPhase, jobReason, jobState, owner, parseIndexes, podExit, podIndex, podRestarts, podStatusText, podPhaseClass, rerunOf, RERUN, RERUN_OF } from '../jobs-model.js';
import { durationCell, ownerCell, progress, statusBadge } from './jobs.js';
import { eventsTable } from './events.js';
import { yamlTab } from './yaml-tab.js';

const jobPath = (j) => objectPath('batch/v1', 'jobs', j.metadata.namespace, j.metadata.name);

// ---------- actions (shared with the Jobs list) ----------

export async function setSuspend(job, suspend) {
  try {
    await api('PATCH', jobPath(job), { body: { spec: { suspend } }, contentType: 'application/merge-patch+json' });
    toast(`${suspend ? 'Suspended' : 'Resumed'} ${job.metadata.name}`);
  } catch (e) {
    toast(`${suspend ? 'Suspend' : 'Resume'} failed: ${e.message}`, 'error');
  }
}

function rerunName(name) {
  const base = name.replace(/-rerun-[a-z0-9]{5}$/, '').slice(0, 63 - 12);
  return `${base}-rerun-${randomSuffix(5)}`;
}

/** Creates a new Job from `job`'s template; while `job` runs, offers to stop it first. */
export async function rerunJob(job, { quiet = false } = {}) {
  let stopFirst = false;
  if (!isFinished(job) && !job.spec?.suspend && !quiet) {
    const r = await dialog({
      title: `Rerun ${job.metadata.name}?`,
      body: html`<p>This Job is still running. <b>Stop and rerun</b> suspends it (its active pods are terminated, its history is kept) and starts a new Job from the same template. <b>Rerun alongside</b> leaves it running.</p>`,
      buttons: [{ value: 'stop', label: 'Stop and rerun', kind: 'primary' }, { value: 'alongside', label: 'Rerun alongside' }, { value: 'cancel', label: 'Cancel' }],
    });
    if (!r || r.button === 'cancel') return null;
    stopFirst = r.button === 'stop';
  }
  const name = rerunName(job.metadata.name);
  try {
    if (stopFirst) await api('PATCH', jobPath(job), { body: { spec: { suspend: true } }, contentType: 'application/merge-patch+json' });
    const created = await api('POST', collection('batch/v1', 'jobs', job.metadata.namespace), { body: rerunOf(job, name) });
    await api('PATCH', jobPath(job), { body: { metadata: { annotations: { [RERUN]: name } } }, contentType: 'application/merge-patch+json' }).catch(() => {});
    toast(`Created ${name}, a rerun of ${job.metadata.name}`);
    if (!quiet) location.hash = routeHref(['jobs', job.metadata.namespace, name]);
    return created;
  } catch (e) {
    toast(`Rerun failed: ${e.message}`, 'error');
    return null;
  }
}

/** Deletes Jobs after asking how their pods go; resolves true when deleted. */
export async function deleteJobs(jobs) {
  if (!jobs.length) return false;
  const names = jobs.map((j) => j.metadata.name);
  const r = await dialog({
    title: jobs.length === 1 ? `Delete Job ${names[0]}?` : `Delete ${jobs.length} Jobs?`,
    body: html`<form class="stack"><fieldset><legend>What happens to the pods</legend>
      <label class="check"><input type="radio" name="propagation" value="Background" checked> <span><b>Background</b> — delete the Job now, its pods right after</span></label>
      <label class="check"><input type="radio" name="propagation" value="Foreground"> <span><b>Foreground</b> — delete the pods first, then the Job</span></label>
      <label class="check"><input type="radio" name="propagation" value="Orphan"> <span><b>Orphan</b> — delete the Job, keep its pods</span></label>
      </fieldset>${jobs.length > 1 ? html`<p class="muted">${names.join(', ')}</p>` : ''}</form>`,
    buttons: [{ value: 'delete', label: 'Delete', kind: 'danger' }, { value: 'cancel', label: 'Cancel' }],
  });
  if (!r || r.button !== 'delete') return false;
  const propagationPolicy = r.data.propagation || 'Background';
  let ok = true;
  for (const j of jobs) {
    try {
      await api('DELETE', jobPath(j), { body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy } });
    } catch (e) {
      ok = false;
      toast(`Deleting ${j.metadata.name} failed: ${e.message}`, 'error');
    }
  }
  if (ok) toast(jobs.length === 1 ? `Deleted ${names[0]} (${propagationPolicy})` : `Deleted ${jobs.length} Jobs (${propagationPolicy})`);
  return ok;
}

// ---------- page ----------

const TABS = [['overview', 'Overview'], ['pods', 'Pods'], ['executions', 'Executions'], ['logs', 'Logs'], ['events', 'Events'], ['yaml', 'YAML']];

let recordsResource;
/** The runlet.dev/v1 execution-record resource, if this server has one. */
async function findRecords() {
  if (recordsResource !== undefined) return recordsResource;
  try {
    const list = await get('/apis/runlet.dev/v1');
    recordsResource = (list.resources || []).find((r) => !r.name.includes('/') && /record|execution|attempt/i.test(r.name)) || null;
    if (recordsResource) recordsResource.hasLog = (list.resources || []).some((r) => r.name === `${recordsResource.name}/log`);
  } catch {
    recordsResource = null;
  }
  return recordsResource;
}

export function render({ main, route, onCleanup }) {
  const [, ns, name] = route.path;
  let tab = route.params.get('tab') || 'overview';
  let job = null;
  let pods = [];
  let events = [];
  let records = null;
  let gone = false;
  main.innerHTML = html`
    <nav class="crumbs" aria-label="Breadcrumb"><a href="${routeHref(['jobs'], { ns })}">Jobs</a> › <span>${ns}</span></nav>
    <div class="page-head">
      <h1><span class="kind">Job</span> ${name} <span class="head-status"></span></h1>
      <div class="actions" role="group" aria-label="Job actions">
        <button type="button" data-act="rerun" disabled>Rerun</button>
        <button type="button" data-act="suspend" disabled>Suspend</button>
        <button type="button" data-act="edit" disabled>Edit YAML</button>
        <button type="button" class="danger" data-act="delete" disabled>Delete</button>
      </div>
    </div>
    <p class="desc head-desc"></p>
    <section class="summary card" aria-label="Job status"></section>
    <div class="tabs" role="tablist" aria-label="Job sections">
      ${TABS.map(([id, label]) => html`<button type="button" role="tab" id="tab-${id}" data-tab="${id}" aria-controls="panel" aria-selected="${String(id === tab)}" tabindex="${id === tab ? 0 : -1}" ${id === 'executions' ? raw('hidden') : ''}>${label}</button>`)}
    </div>
    <section id="panel" role="tabpanel" class="panel" aria-labelledby="tab-${tab}"></section>`.s;
  const panel = $('#panel', main);
  const panels = {};

  function renderHeader() {
    if (gone) {
      $('.head-status', main).innerHTML = html`<span class="badge bad">Deleted</span>`.s;
      $('.summary', main).innerHTML = html`<p>This Job no longer exists. <a href="${routeHref(['jobs'], { ns })}">Back to Jobs</a></p>`.s;
      for (const b of main.querySelectorAll('[data-act]')) b.disabled = true;
      return;
    }
    if (!job) return;
    // The actions act on the Job: enabled once it has loaded (a click before did nothing).
    for (const b of main.querySelectorAll('[data-act]')) b.disabled = false;
    const phase = jobPhase(job);
    const s = job.status || {};
    $('.head-status', main).innerHTML = statusBadge(phase, jobState(job)).s;
    $('.head-desc', main).textContent = description(job);
    const rerunOfName = job.metadata.annotations?.[RERUN_OF];
    const rerunName = job.metadata.annotations?.[RERUN];
    $('.summary', main).innerHTML = html`
      ${jobReason(job) ? html`<p class="reason ${phase === 'Failed' ? 'bad-text' : ''}">${jobReason(job)}</p>` : ''}
      <div class="progress-big">${progress(job)}</div>
      <dl class="stats">
        <div><dt>Completions</dt><dd>${completionsText(job)}</dd></div>
        <div><dt>Active</dt><dd>${s.active || 0}</dd></div>
        <div><dt>Ready</dt><dd>${s.ready ?? 0}</dd></div>
        <div><dt>Succeeded</dt><dd>${s.succeeded || 0}</dd></div>
        <div><dt>Failed</dt><dd>${s.failed || 0}</dd></div>
        <div><dt>Started</dt><dd>${s.startTime ? timeAgo(s.startTime) : html`<span class="muted">not yet</span>`}</dd></div>
        <div><dt>Duration</dt><dd>${durationCell(job)}</dd></div>
        <div><dt>Owner</dt><dd>${ownerCell(job)}</dd></div>
        ${rerunOfName ? html`<div><dt>Rerun of</dt><dd><a href="${routeHref(['jobs', ns, rerunOfName])}">${rerunOfName}</a></dd></div>` : ''}
        ${rerunName ? html`<div><dt>Rerun as</dt><dd><a href="${routeHref(['jobs', ns, rerunName])}">${rerunName}</a></dd></div>` : ''}
      </dl>`.s;
    const susp = $('[data-act=suspend]', main);
    susp.textContent = job.spec?.suspend ? 'Resume' : 'Suspend';
    susp.disabled = isFinished(job);
    $('[data-act=rerun]', main).textContent = !isFinished(job) && !job.spec?.suspend ? 'Stop and rerun…' : 'Rerun';
  }

  function renderTab() {
    for (const b of main.querySelectorAll('[role=tab]')) {
      const on = b.dataset.tab === tab;
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
    }
    panel.setAttribute('aria-labelledby', `tab-${tab}`);
    if (!panels[tab]) {
      const el = document.createElement('div');
      el.dataset.panel = tab;
      panels[tab] = el;
      panel.append(el);
      if (tab === 'logs') {
        const lv = document.createElement('rl-log-viewer');
        lv.namespace = ns;
        lv.sel.pod = route.params.get('pod') || '';
        lv.sel.container = route.params.get('container') || '';
        lv.pods = pods;
        el.append(lv);
        lv.addEventListener('selection', (e) => { setParam('pod', e.detail.pod); setParam('container', e.detail.container); });
      }
      if (tab === 'yaml') {
        el.yaml = yamlTab(el, {
          path: () => (job ? jobPath(job) : objectPath('batch/v1', 'jobs', ns, name)),
          object: () => job,
          editing: route.params.get('edit') === '1',
        });
      }
    }
    for (const [id, el] of Object.entries(panels)) el.hidden = id !== tab;
    fill(tab);
  }

  function fill(which) {
    const el = panels[which];
    if (!el || el.hidden) return;
    if (which === 'overview') el.innerHTML = job ? overviewHtml(job).s : '';
    if (which === 'pods') el.innerHTML = job ? podsHtml(job, pods).s : '';
    if (which === 'logs') el.querySelector('rl-log-viewer').pods = pods;
    if (which === 'events') el.innerHTML = eventsTable(events, { showObject: true }).s;
    if (which === 'executions') el.innerHTML = recordsHtml(records).s;
    if (which === 'yaml') el.yaml.update();
  }

  main.addEventListener('click', async (e) => {
    const t = e.target.closest('[data-tab]');
    if (t) { tab = t.dataset.tab; setParam('tab', tab); renderTab(); return; }
    const cell = e.target.closest('[data-index-pod]');
    if (cell) {
      tab = 'logs';
      setParam('tab', 'logs');
      setParam('pod', cell.dataset.indexPod);
      renderTab();
      panels.logs.querySelector('rl-log-viewer').select({ pod: cell.dataset.indexPod });
      return;
    }
    const logBtn = e.target.closest('[data-pod-logs]');
    if (logBtn) {
      tab = 'logs';
      setParam('tab', 'logs');
      setParam('pod', logBtn.dataset.podLogs);
      renderTab();
      panels.logs.querySelector('rl-log-viewer').select({ pod: logBtn.dataset.podLogs });
      return;
    }
    const rec = e.target.closest('[data-record-log]');
    if (rec) { showRecordLog(ns, rec.dataset.recordLog); return; }
    const act = e.target.closest('[data-act]');
    if (!act || !job) return;
    if (act.dataset.act === 'rerun') rerunJob(job);
    if (act.dataset.act === 'suspend') setSuspend(job, !job.spec?.suspend);
    if (act.dataset.act === 'edit') { tab = 'yaml'; setParam('tab', 'yaml'); renderTab(); panels.yaml.yaml.edit(); }
    if (act.dataset.act === 'delete' && await deleteJobs([job])) location.hash = routeHref(['jobs'], { ns });
  });
  $('.tabs', main).addEventListener('keydown', (e) => {
    if (!['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(e.key)) return;
    const tabs = [...main.querySelectorAll('[role=tab]:not([hidden])')];
    let i = tabs.findIndex((b) => b.dataset.tab === tab);
    i = e.key === 'Home' ? 0 : e.key === 'End' ? tabs.length - 1 : (i + (e.key === 'ArrowRight' ? 1 : -1) + tabs.length) % tabs.length;
    tab = tabs[i].dataset.tab;
    setParam('tab', tab);
    renderTab();
    tabs[i].focus();
    e.preventDefault();
  });

  const w1 = liveObject('batch/v1', 'jobs', ns, name, (j) => {
    gone = !j && !!job;
    if (j) job = j;
    if (!j && !job) { $('.summary', main).innerHTML = html`<p class="muted">No Job ${name} in ${ns} (yet).</p>`.s; }
    renderHeader();
    fill('overview');
    fill('pods');
    fill('yaml');
  });
  const w2 = liveList(collection('v1', 'pods', ns), { labelSelector: `batch.kubernetes.io/job-name=${name}` }, (items) => {
    pods = items.filter((p) => !job || (p.metadata.ownerReferences || []).some((r) => r.uid === job.metadata.uid));
    fill('pods');
    fill('logs');
  });
  const w3 = liveList(collection('v1', 'events', ns), {}, (items) => {
    const mine = (ev) => ev.involvedObject?.name === name || pods.some((p) => p.metadata.name === ev.involvedObject?.name) || (ev.involvedObject?.kind === 'Pod' && ev.involvedObject?.name?.startsWith(`${name}-`));
    events = items.filter(mine);
    fill('events');
  });
  let w4 = null;
  findRecords().then((res) => {
    if (!res) return;
    main.querySelector('[data-tab=executions]').hidden = false;
    w4 = liveList(`/apis/runlet.dev/v1/namespaces/${encodeURIComponent(ns)}/${res.name}`, {}, (items) => {
      records = items.filter((r) => recordJob(r) === name);
      fill('executions');
    });
  });
  onCleanup(() => { w1.stop(); w2.stop(); w3.stop(); w4?.stop(); for (const p of Object.values(panels)) p.yaml?.stop?.(); });
  if (tab === 'executions' && !recordsResource) tab = 'overview';
  renderTab();
}

// ---------- tab contents ----------

function dlRow(term, value, help = '') {
  if (value === undefined || value === null || value === '') return '';
  return html`<div><dt>${term}</dt><dd>${value}${help ? html` <span class="muted">— ${help}</span>` : ''}</dd></div>`;
}

function policyRules(job) {
  const rules = job.spec?.podFailurePolicy?.rules || [];
  return rules.map((r) => {
    const action = { FailJob: 'fail the Job', FailIndex: 'fail the index', Ignore: 'ignore the failure (not counted)', Count: 'count it against the back-off limit' }[r.action] || r.action;
    let when = '';
    if (r.onExitCodes) when = `a container${r.onExitCodes.containerName ? ` ${r.onExitCodes.containerName}` : ''} exits with a code ${r.onExitCodes.operator === 'NotIn' ? 'not in' : 'in'} ${r.onExitCodes.values.join(', ')}`;
    if (r.onPodConditions) when = `the pod has condition ${r.onPodConditions.map((c) => c.type).join(' or ')}`;
    return `When ${when}: ${action}.`;
  });
}

function overviewHtml(job) {
  const s = job.spec || {};
  const t = s.template?.spec || {};
  const success = (s.successPolicy?.rules || []).map((r) => `Succeed when ${r.succeededIndexes ? `indexes ${r.succeededIndexes}` : ''}${r.succeededIndexes && r.succeededCount ? ' and ' : ''}${r.succeededCount ? `${r.succeededCount} indexes` : ''} succeeded.`);
  return html`
    <div class="grid2">
      <section class="card"><h2>Run policy</h2><dl class="kv">
        ${dlRow('Completions', s.completions ?? 'any one pod', 'successful pods needed')}
        ${dlRow('Parallelism', s.parallelism ?? 1, 'pods at a time')}
        ${dlRow('Completion mode', s.completionMode || 'NonIndexed', s.completionMode === 'Indexed' ? 'each pod gets an index 0…completions-1' : 'pods are interchangeable')}
        ${dlRow('Back-off limit', s.backoffLimit ?? 6, 'failed pods before the Job fails')}
        ${dlRow('Back-off limit per index', s.backoffLimitPerIndex)}
        ${dlRow('Max failed indexes', s.maxFailedIndexes)}
        ${dlRow('Active deadline', s.activeDeadlineSeconds !== undefined ? `${s.activeDeadlineSeconds}s` : '', 'then the Job fails')}
        ${dlRow('TTL after finished', s.ttlSecondsAfterFinished !== undefined ? `${s.ttlSecondsAfterFinished}s` : '', 'then the Job is deleted')}
        ${dlRow('Suspended', s.suspend ? 'yes' : 'no')}
        ${dlRow('Pod replacement', s.podReplacementPolicy)}
        ${dlRow('Restart policy', t.restartPolicy, t.restartPolicy === 'OnFailure' ? 'restart the container in the same pod' : 'replace the pod')}
      </dl>
      ${policyRules(job).length ? html`<h3>Pod failure policy</h3><ol>${policyRules(job).map((r) => html`<li>${r}</li>`)}</ol>` : ''}
      ${success.length ? html`<h3>Success policy</h3><ol>${success.map((r) => html`<li>${r}</li>`)}</ol>` : ''}
      </section>
      <section class="card"><h2>Containers</h2>
        ${(t.containers || []).map((c) => html`<div class="container-sum"><h3>${c.name}</h3><dl class="kv">
          ${dlRow('Image', html`<code>${c.image}</code>`)}
          ${dlRow('Command', c.command ? html`<code>${JSON.stringify(c.command)}</code>` : '')}
          ${dlRow('Args', c.args ? html`<code>${JSON.stringify(c.args)}</code>` : '')}
          ${dlRow('Env', (c.env || []).length ? (c.env || []).map((e) => `${e.name}=${e.value ?? '(from source)'}`).join(', ') : '')}
          ${dlRow('Requests', c.resources?.requests ? Object.entries(c.resources.requests).map(([k, v]) => `${k} ${v}`).join(', ') : '')}
          ${dlRow('Limits', c.resources?.limits ? Object.entries(c.resources.limits).map(([k, v]) => `${k} ${v}`).join(', ') : '')}
        </dl></div>`)}
        <h3>Selector</h3><p><code>${Object.entries(s.selector?.matchLabels || {}).map(([k, v]) => `${k}=${v}`).join(', ') || '—'}</code></p>
        <h3>Labels</h3><p>${Object.entries(job.metadata.labels || {}).map(([k, v]) => html`<span class="tag">${k}=${v}</span> `)}</p>
      </section>
    </div>
    <section class="card"><h2>Conditions</h2>
      ${(job.status?.conditions || []).length ? html`<div class="table-wrap"><table class="list"><thead><tr><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">Message</th><th scope="col">Last transition</th></tr></thead><tbody>
        ${(job.status.conditions || []).map((c) => html`<tr><td>${c.type}</td><td>${c.status}</td><td>${c.reason || ''}</td><td>${c.message || ''}</td><td>${timeAgo(c.lastTransitionTime)}</td></tr>`)}
      </tbody></table></div>` : html`<p class="muted">No conditions yet: the Job has not finished, failed or been suspended.</p>`}
    </section>`;
}

function indexGrid(job, pods) {
  const n = job.spec?.completions || 0;
  const done = parseIndexes(job.status?.completedIndexes);
  const failed = parseIndexes(job.status?.failedIndexes);
  const latest = new Map();
  for (const p of pods) {
    const i = podIndex(p);
    if (i === null) continue;
    const prev = latest.get(i);
    if (!prev || (p.metadata.creationTimestamp || '') >= (prev.metadata.creationTimestamp || '')) latest.set(i, p);
  }
  const counts = { succeeded: 0, failed: 0, running: 0, pending: 0, waiting: 0 };
  const cells = [];
  for (let i = 0; i < Math.min(n, 10000); i++) {
    const p = latest.get(i);
    let st = 'waiting';
    if (done.has(i)) st = 'succeeded';
    else if (failed.has(i)) st = 'failed';
    else if (p?.status?.phase === 'Running') st = 'running';
    else if (p?.status?.phase === 'Succeeded') st = 'succeeded';
    else if (p?.status?.phase === 'Failed') st = 'failed';
    else if (p) st = 'pending';
    counts[st]++;
    const label = `index ${i}: ${st}${p ? `, pod ${p.metadata.name}` : ''}`;
    cells.push(p
      ? html`<button type="button" class="cell ${st}" data-index="${i}" data-index-pod="${p.metadata.name}" aria-label="${label}" title="${label}">${i}</button>`
      : html`<span class="cell ${st}" data-index="${i}" role="img" aria-label="${label}" title="${label}">${i}</span>`);
  }
  return html`<section class="card" aria-label="Indexes"><h2>Indexes <span class="muted small">${counts.succeeded} succeeded · ${counts.running} running · ${counts.failed} failed · ${counts.pending + counts.waiting} to go</span></h2>
    <div class="index-grid" data-index-grid>${cells}</div>
    <p class="legend"><span class="cell succeeded"></span> succeeded <span class="cell running"></span> running <span class="cell pending"></span> pending <span class="cell failed"></span> failed <span class="cell waiting"></span> not started</p></section>`;
}

export function podRows(pods, { showJob = false, showNs = false } = {}) {
  return pods.map((p) => {
    const ex = podExit(p);
    const cs = (p.status?.containerStatuses || [])[0];
    const started = p.status?.startTime || cs?.state?.running?.startedAt || ex?.startedAt;
    const job = p.metadata.labels?.['batch.kubernetes.io/job-name'] || p.metadata.labels?.['job-name'];
    return html`<tr>
      <td class="name"><a href="${routeHref(['pods', p.metadata.namespace, p.metadata.name])}">${p.metadata.name}</a></td>
      ${showNs ? html`<td>${p.metadata.namespace}</td>` : ''}
      ${showJob ? html`<td>${job ? html`<a href="${routeHref(['jobs', p.metadata.namespace, job])}">${job}</a>` : html`<span class="muted">—</span>`}</td>` : ''}
      <td>${podIndex(p) ?? html`<span class="muted">—</span>`}</td>
      <td><span class="badge ${podPhaseClass(p)}">${podStatusText(p)}</span></td>
      <td class="hide-sm">${p.spec?.nodeName || html`<span class="muted">unscheduled</span>`}</td>
      <td>${podRestarts(p)}</td>
      <td>${ex ? html`<span class="${ex.exitCode ? 'bad-text' : ''}">${ex.exitCode}${ex.reason && ex.reason !== 'Completed' ? ` (${ex.reason})` : ''}</span>` : html`<span class="muted">—</span>`}</td>
      <td class="hide-sm">${started ? html`<time title="${fmtTime(started)}">${fmtTime(started)}</time>` : ''}</td>
      <td class="hide-sm">${ex?.finishedAt ? fmtTime(ex.finishedAt) : ''}</td>
      <td><button type="button" class="small" data-pod-logs="${p.metadata.name}" aria-label="Logs of ${p.metadata.name}">Logs</button></td>
    </tr>`;
  });
}

export function podTableHead({ showJob = false, showNs = false } = {}) {
  return html`<thead><tr><th scope="col">Pod</th>${showNs ? html`<th scope="col">Namespace</th>` : ''}${showJob ? html`<th scope="col">Job</th>` : ''}<th scope="col">Index</th><th scope="col">Status</th><th scope="col" class="hide-sm">Node</th><th scope="col">Restarts</th><th scope="col">Exit code</th><th scope="col" class="hide-sm">Started</th><th scope="col" class="hide-sm">Finished</th><th scope="col"><span class="sr-only">Logs</span></th></tr></thead>`;
}

function podsHtml(job, pods) {
  const sorted = [...pods].sort((a, b) => (podIndex(a) ?? 0) - (podIndex(b) ?? 0) || (a.metadata.creationTimestamp || '').localeCompare(b.metadata.creationTimestamp || ''));
  return html`${job.spec?.completionMode === 'Indexed' ? indexGrid(job, pods) : ''}
    <div class="table-wrap"><table class="list pods">${podTableHead()}<tbody>
      ${sorted.length ? podRows(sorted) : html`<tr><td colspan="9" class="empty-row">No pods. ${isFinished(job) ? 'They may have been removed after the Job finished.' : 'The Job has not created any yet.'}</td></tr>`}
    </tbody></table></div>`;
}

function pick(r, ...keys) {
  for (const k of keys) for (const src of [r, r.spec, r.status]) if (src && src[k] !== undefined) return src[k];
  return undefined;
}

function recordJob(r) {
  return r.metadata.labels?.['batch.kubernetes.io/job-name'] || r.metadata.labels?.['job-name'] || pick(r, 'jobName', 'job')?.name || pick(r, 'jobName', 'job')
    || (r.metadata.ownerReferences || []).find((o) => o.kind === 'Job')?.name;
}

function recordsHtml(records) {
  if (!records) return html`<p class="muted">Loading execution records…</p>`;
  if (!records.length) return html`<p class="muted">No execution records for this Job yet.</p>`;
  const rows = [...records].sort((a, b) => String(pick(a, 'startTime', 'start') || '').localeCompare(String(pick(b, 'startTime', 'start') || '')));
  return html`<div class="table-wrap"><table class="list"><thead><tr><th scope="col">#</th><th scope="col">Index</th><th scope="col">Pod</th><th scope="col">Node</th><th scope="col">Start</th><th scope="col">End</th><th scope="col">Exit code</th><th scope="col">Reason</th><th scope="col">Log</th></tr></thead><tbody>
    ${rows.map((r, i) => html`<tr><td>${pick(r, 'attempt') ?? i + 1}</td><td>${pick(r, 'index', 'completionIndex') ?? '—'}</td><td>${pick(r, 'podName', 'pod')?.name || pick(r, 'podName', 'pod') || ''}</td>
      <td>${pick(r, 'nodeName', 'node') || ''}</td><td>${fmtTime(pick(r, 'startTime', 'start', 'startedAt'))}</td><td>${fmtTime(pick(r, 'endTime', 'end', 'finishedAt'))}</td>
      <td>${pick(r, 'exitCode') ?? ''}</td><td>${pick(r, 'reason') || ''}</td>
      <td>${recordsResource?.hasLog ? html`<button type="button" class="small" data-record-log="${r.metadata.name}">Log</button>` : ''}</td></tr>`)}
  </tbody></table></div>`;
}

async function showRecordLog(ns, name) {
  let text;
  try {
    const res = await api('GET', `/apis/runlet.dev/v1/namespaces/${encodeURIComponent(ns)}/${recordsResource.name}/${encodeURIComponent(name)}/log`, { raw: true, accept: 'text/plain, */*' });
    text = await res.text();
  } catch (e) {
    text = e instanceof ApiError ? e.message : String(e);
  }
  dialog({ title: `Log of ${name}`, body: html`<span class="badge pause">archived</span><pre class="log wrap">${text || '(empty)'}</pre>`, buttons: [{ value: 'ok', label: 'Close' }] });
}

void forDisplay;
void owner;
