// The create wizard for Jobs and CronJobs: Schedule (CronJobs) → Basics → Run policy →
// Containers → Volumes → Review, with a Form ⇄ YAML switch kept in sync both ways. While you
// edit, the object is validated by the server (`dryRun=All`) and each
// `details.causes[].field` is shown under its input; Create submits the same object.

import { api, ApiError, collection, scheduleInfo } from '../api.js';
import { $, $$, countdown, debounce, dnsNameProblem, getPath, html, raw, routeHref, setPath } from '../util.js';
import { DESCRIPTION } from '../jobs-model.js';
import { lineOfPath, parse, stringify, YamlError } from '../yaml.js';

function newJob(ns) {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: '', namespace: ns },
    spec: {
      completions: 1,
      parallelism: 1,
      backoffLimit: 6,
      template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox', command: ['sh', '-c', 'echo hello from runlet'] }] } },
    },
  };
}

function newCronJob(ns) {
  const j = newJob(ns);
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: '', namespace: ns },
    spec: { schedule: '*/5 * * * *', concurrencyPolicy: 'Forbid', successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1, jobTemplate: { spec: j.spec } },
  };
}

const PRESETS = [['* * * * *', 'every minute'], ['*/5 * * * *', 'every 5 minutes'], ['0 * * * *', 'hourly'], ['0 0 * * *', 'daily at midnight'], ['0 9 * * 1-5', 'weekdays at 09:00'], ['0 0 * * 0', 'weekly on Sunday']];

export function render({ main, route, onCleanup }) {
  const cron = route.path[0] === 'cronjobs';
  const ns = route.params.get('ns') || 'default';
  let obj = cron ? newCronJob(ns) : newJob(ns);
  const J = cron ? 'spec.jobTemplate.spec' : 'spec';
  const steps = [...(cron ? [['schedule', 'Schedule']] : []), ['basics', 'Basics'], ['policy', 'Run policy'], ['containers', 'Containers'], ['volumes', 'Volumes'], ['review', 'Review']];
  let step = route.params.get('step') && steps.some(([s]) => s === route.params.get('step')) ? route.params.get('step') : steps[0][0];
  let mode = 'form';
  let causes = [];
  let message = '';
  let touched = false;
  let yamlError = null;

  const kindName = cron ? 'CronJob' : 'Job';
  main.innerHTML = html`<nav class="crumbs" aria-label="Breadcrumb"><a href="${routeHref([cron ? 'cronjobs' : 'jobs'], { ns })}">${kindName}s</a> › <span>new</span></nav>
    <div class="page-head"><h1>Create ${kindName} <span class="muted">in ${ns}</span></h1>
      <div class="mode" role="group" aria-label="Editor">
        <button type="button" data-mode="form" aria-pressed="true">Form</button><button type="button" data-mode="yaml" aria-pressed="false">YAML</button>
      </div></div>
    <ol class="steps" aria-label="Steps"></ol>
    <div class="form-summary field-error" role="alert"></div>
    <form class="wizard card" novalidate autocomplete="off"></form>
    <div class="yaml-mode" hidden><rl-yaml-editor label="${kindName} YAML"></rl-yaml-editor></div>
    <div class="wizard-nav">
      <button type="button" data-nav="back">Back</button>
      <button type="button" data-nav="next" class="primary">Next</button>
      <button type="button" data-nav="validate">Validate</button>
      <button type="button" data-nav="create" class="primary">Create</button>
      <span class="validity muted" aria-live="polite"></span>
    </div>`.s;
  const form = $('form.wizard', main);
  const yamlEd = $('rl-yaml-editor', main);

  // ---------- fields ----------
  let fid = 0;
  function field({ label, path, type = 'str', hint = '', placeholder = '', options = null, min = null, rows = 3 }) {
    const id = `f${++fid}`;
    const full = path.replace(/^@/, J);
    const v = type === 'desc' ? obj.metadata?.annotations?.[DESCRIPTION] : getPath(obj, full);
    let input;
    const common = raw(`id="${id}" name="${id}" data-path="${full}" data-type="${type}" aria-describedby="${id}-hint ${id}-err"`);
    if (options) {
      input = html`<select ${common}>${options.map(([val, text]) => html`<option value="${val}" ${String(v ?? '') === val ? raw('selected') : ''}>${text}</option>`)}</select>`;
    } else if (type === 'bool') {
      input = html`<input type="checkbox" ${common} ${v ? raw('checked') : ''}>`;
    } else if (type === 'lines' || type === 'kv' || type === 'env') {
      let text = '';
      if (type === 'lines') text = (v || []).join('\n');
      if (type === 'kv') text = Object.entries(v || {}).map(([k, x]) => `${k}=${x}`).join('\n');
      if (type === 'env') text = (v || []).map((e) => `${e.name}=${e.value ?? ''}`).join('\n');
      input = html`<textarea ${common} rows="${rows}" placeholder="${placeholder}" spellcheck="false">${text}</textarea>`;
    } else {
      input = html`<input ${common} ${type === 'int' ? raw('inputmode="numeric"') : ''} ${min !== null ? raw(`data-min="${min}"`) : ''} value="${v ?? ''}" placeholder="${placeholder}" spellcheck="false">`;
    }
    return html`<div class="field ${type === 'bool' ? 'check-field' : ''}" data-wrap="${full}">
      ${type === 'bool' ? html`<label class="check">${input} ${label}</label>` : html`<label for="${id}">${label}</label>${input}`}
      <p class="hint" id="${id}-hint">${hint}</p><p class="field-error" id="${id}-err"></p></div>`;
  }

  function readInput(el) {
    const t = el.dataset.type;
    const path = el.dataset.path;
    if (t === 'bool') { setPath(obj, path, el.checked || undefined); return; }
    if (t === 'desc') {
      const a = { ...(obj.metadata.annotations || {}) };
      if (el.value) a[DESCRIPTION] = el.value; else delete a[DESCRIPTION];
      obj.metadata.annotations = Object.keys(a).length ? a : undefined;
      return;
    }
    const val = el.value;
    if (t === 'int') {
      const s = val.trim();
      setPath(obj, path, s === '' ? undefined : /^-?\d+$/.test(s) ? Number(s) : s);
      return;
    }
    if (t === 'lines') { const a = val.split('\n').filter((l) => l.trim() !== ''); setPath(obj, path, a.length ? a : undefined); return; }
    if (t === 'kv') {
      const o = {};
      for (const l of val.split('\n').map((x) => x.trim()).filter(Boolean)) { const i = l.indexOf('='); if (i < 0) o[l] = ''; else o[l.slice(0, i).trim()] = l.slice(i + 1).trim(); }
      setPath(obj, path, Object.keys(o).length ? o : undefined);
      return;
    }
    if (t === 'env') {
      const a = val.split('\n').filter((l) => l.trim()).map((l) => { const i = l.indexOf('='); return i < 0 ? { name: l.trim() } : { name: l.slice(0, i).trim(), value: l.slice(i + 1) }; });
      setPath(obj, path, a.length ? a : undefined);
      return;
    }
    setPath(obj, path, val === '' ? undefined : val);
  }

  // ---------- steps ----------
  const containers = () => getPath(obj, `${J}.template.spec.containers`) || [];

  function stepHtml() {
    if (step === 'schedule') {
      return html`<h2>Schedule</h2>
        ${field({ label: 'Schedule (cron)', path: 'spec.schedule', hint: 'minute hour day-of-month month day-of-week, or @hourly, @daily…', placeholder: '*/5 * * * *' })}
        <div class="presets" role="group" aria-label="Schedule presets">${PRESETS.map(([s, l]) => html`<button type="button" class="small" data-preset="${s}">${l}</button>`)}</div>
        ${field({ label: 'Time zone', path: 'spec.timeZone', hint: 'An IANA zone such as Europe/Berlin; empty means UTC.', placeholder: 'UTC' })}
        <div class="schedule-preview card inset" aria-live="polite"></div>
        <fieldset class="field" data-wrap="spec.concurrencyPolicy"><legend>When a run is due while the previous one is still running</legend>
          ${[['Allow', 'Allow — run both at the same time'], ['Forbid', 'Forbid — skip the new run'], ['Replace', 'Replace — stop the old run and start the new one']].map(([v, l]) => html`<label class="check"><input type="radio" name="concurrency" data-path="spec.concurrencyPolicy" data-type="str" value="${v}" ${(obj.spec.concurrencyPolicy || 'Allow') === v ? raw('checked') : ''}> ${l}</label>`)}
          <p class="field-error"></p></fieldset>
        <div class="row3">
          ${field({ label: 'Starting deadline (seconds)', path: 'spec.startingDeadlineSeconds', type: 'int', hint: 'A run that cannot start within this time is skipped.' })}
          ${field({ label: 'Successful Jobs kept', path: 'spec.successfulJobsHistoryLimit', type: 'int' })}
          ${field({ label: 'Failed Jobs kept', path: 'spec.failedJobsHistoryLimit', type: 'int' })}
        </div>
        ${field({ label: 'Suspend (no runs are scheduled)', path: 'spec.suspend', type: 'bool' })}`;
    }
    if (step === 'basics') {
      return html`<h2>Basics</h2>
        ${field({ label: 'Name', path: 'metadata.name', hint: 'Lower-case letters, digits and "-"; unique in the namespace.', placeholder: cron ? 'nightly-report' : 'my-job' })}
        ${field({ label: 'Description', path: 'metadata.description', type: 'desc', hint: 'Shown under the name in lists (annotation runlet.dev/description).' })}
        ${field({ label: 'Labels', path: 'metadata.labels', type: 'kv', hint: 'One key=value per line.', placeholder: 'team=data' })}
        ${field({ label: 'Annotations', path: 'metadata.annotations', type: 'kv', hint: 'One key=value per line.' })}
        ${field({ label: 'Pod labels', path: '@.template.metadata.labels', type: 'kv', hint: 'Added to every pod.' })}`;
    }
    if (step === 'policy') {
      return html`<h2>Run policy</h2><div class="row2">
        ${field({ label: 'Completions', path: '@.completions', type: 'int', hint: 'How many pods must succeed. Empty: any one success finishes the Job.' })}
        ${field({ label: 'Parallelism', path: '@.parallelism', type: 'int', hint: 'How many pods may run at the same time.' })}
        ${field({ label: 'Completion mode', path: '@.completionMode', options: [['', 'NonIndexed — pods are interchangeable'], ['NonIndexed', 'NonIndexed — pods are interchangeable'], ['Indexed', 'Indexed — each pod gets an index 0…completions-1']], hint: 'Indexed Jobs show a per-index grid.' })}
        ${field({ label: 'Back-off limit', path: '@.backoffLimit', type: 'int', hint: 'Failed pods before the Job is marked failed (default 6).' })}
        ${field({ label: 'Back-off limit per index', path: '@.backoffLimitPerIndex', type: 'int', hint: 'Indexed Jobs: failures allowed for each index.' })}
        ${field({ label: 'Active deadline (seconds)', path: '@.activeDeadlineSeconds', type: 'int', hint: 'The Job fails when it runs longer than this (the "Timeout").' })}
        ${field({ label: 'TTL after finished (seconds)', path: '@.ttlSecondsAfterFinished', type: 'int', hint: 'Delete the finished Job after this long.' })}
        </div>
        ${field({ label: 'Start suspended', path: '@.suspend', type: 'bool', hint: 'Create it without running pods until resumed.' })}`;
    }
    if (step === 'containers') {
      return html`<h2>Containers</h2>
        ${field({ label: 'Restart policy', path: '@.template.spec.restartPolicy', options: [['', '— choose —'], ['Never', 'Never — replace a failed pod with a new one'], ['OnFailure', 'OnFailure — restart the container in the same pod']], hint: 'Jobs allow Never or OnFailure.' })}
        ${containers().map((c, i) => html`<fieldset class="container-box"><legend>Container ${i + 1}</legend>
          <div class="row2">${field({ label: 'Container name', path: `@.template.spec.containers[${i}].name` })}
          ${field({ label: 'Image', path: `@.template.spec.containers[${i}].image`, placeholder: 'busybox', hint: 'Recorded by the process runtime; pulled by the OCI runtime.' })}</div>
          ${field({ label: 'Command', path: `@.template.spec.containers[${i}].command`, type: 'lines', hint: 'One argument per line, e.g. sh, -c, a script.', placeholder: 'sh\n-c\necho hello' })}
          ${field({ label: 'Arguments', path: `@.template.spec.containers[${i}].args`, type: 'lines', hint: 'One argument per line.' })}
          ${field({ label: 'Environment', path: `@.template.spec.containers[${i}].env`, type: 'env', hint: 'One NAME=value per line.', placeholder: 'GREETING=hello' })}
          <div class="row4">
          ${field({ label: 'CPU request', path: `@.template.spec.containers[${i}].resources.requests.cpu`, placeholder: '100m' })}
          ${field({ label: 'Memory request', path: `@.template.spec.containers[${i}].resources.requests.memory`, placeholder: '64Mi' })}
          ${field({ label: 'CPU limit', path: `@.template.spec.containers[${i}].resources.limits.cpu`, placeholder: '1' })}
          ${field({ label: 'Memory limit', path: `@.template.spec.containers[${i}].resources.limits.memory`, placeholder: '256Mi' })}
          </div>
          ${containers().length > 1 ? html`<button type="button" class="small danger" data-remove-container="${i}">Remove container ${i + 1}</button>` : ''}
        </fieldset>`)}
        <button type="button" data-add-container>Add container</button>`;
    }
    if (step === 'volumes') {
      const vols = getPath(obj, `${J}.template.spec.volumes`) || [];
      return html`<h2>Volumes</h2><p class="muted">Volumes are mounted into every container at the path given.</p>
        ${vols.map((v, i) => {
          const type = ['emptyDir', 'hostPath', 'configMap', 'secret', 'persistentVolumeClaim'].find((t) => v[t]) || 'emptyDir';
          const mount = (containers()[0]?.volumeMounts || []).find((m) => m.name === v.name)?.mountPath || '';
          const src = type === 'hostPath' ? v.hostPath?.path : type === 'configMap' ? v.configMap?.name : type === 'secret' ? v.secret?.secretName : type === 'persistentVolumeClaim' ? v.persistentVolumeClaim?.claimName : '';
          return html`<fieldset class="volume-box" data-volume="${i}"><legend>Volume ${i + 1}</legend><div class="row4">
            <div class="field" data-wrap="${J}.template.spec.volumes[${i}].name"><label for="vn${i}">Volume name</label><input id="vn${i}" data-vol="name" value="${v.name || ''}"><p class="field-error"></p></div>
            <div class="field"><label for="vt${i}">Type</label><select id="vt${i}" data-vol="type">${['emptyDir', 'hostPath', 'configMap', 'secret', 'persistentVolumeClaim'].map((t) => html`<option ${t === type ? raw('selected') : ''}>${t}</option>`)}</select></div>
            <div class="field" data-wrap="${J}.template.spec.volumes[${i}].${type}"><label for="vs${i}">Source</label><input id="vs${i}" data-vol="source" value="${src || ''}" placeholder="path or name" ${type === 'emptyDir' ? raw('disabled') : ''}><p class="field-error"></p></div>
            <div class="field" data-wrap="${J}.template.spec.containers[0].volumeMounts[${i}].mountPath"><label for="vm${i}">Mount path</label><input id="vm${i}" data-vol="mount" value="${mount}" placeholder="/data"><p class="field-error"></p></div>
          </div><button type="button" class="small danger" data-remove-volume="${i}">Remove volume</button></fieldset>`;
        })}
        <button type="button" data-add-volume>Add volume</button>`;
    }
    return html`<h2>Review</h2><p>The ${kindName} as it will be sent. Validate asks the server without creating anything.</p><pre class="review mono">${stringify(obj)}</pre>`;
  }

  function rebuildVolumes() {
    const rows = $$('[data-volume]', form);
    const vols = [];
    const mounts = [];
    for (const r of rows) {
      const name = $('[data-vol=name]', r).value.trim();
      const type = $('[data-vol=type]', r).value;
      const src = $('[data-vol=source]', r).value.trim();
      const mount = $('[data-vol=mount]', r).value.trim();
      const v = { name };
      if (type === 'emptyDir') v.emptyDir = {};
      if (type === 'hostPath') v.hostPath = { path: src };
      if (type === 'configMap') v.configMap = { name: src };
      if (type === 'secret') v.secret = { secretName: src };
      if (type === 'persistentVolumeClaim') v.persistentVolumeClaim = { claimName: src };
      vols.push(v);
      if (mount) mounts.push({ name, mountPath: mount });
    }
    setPath(obj, `${J}.template.spec.volumes`, vols.length ? vols : undefined);
    containers().forEach((c, i) => {
      const others = (c.volumeMounts || []).filter((m) => !vols.some((v) => v.name === m.name) && !rows.length);
      const all = [...others, ...mounts];
      setPath(obj, `${J}.template.spec.containers[${i}].volumeMounts`, all.length ? all : undefined);
    });
  }

  // ---------- errors ----------
  function stepOf(field) {
    if (cron && /^spec\.(schedule|timeZone|concurrencyPolicy|startingDeadlineSeconds|successfulJobsHistoryLimit|failedJobsHistoryLimit|suspend)/.test(field)) return 'schedule';
    if (field.startsWith('metadata') || field.startsWith(`${J}.template.metadata`)) return 'basics';
    if (field.startsWith(`${J}.template.spec.volumes`) || /volumeMounts/.test(field)) return 'volumes';
    if (field.startsWith(`${J}.template`)) return 'containers';
    if (field.startsWith(J)) return 'policy';
    return 'review';
  }

  function showErrors() {
    // Steps with errors get a marker; fields get the message under them.
    const byStep = {};
    for (const c of causes) byStep[stepOf(c.field || '')] = (byStep[stepOf(c.field || '')] || 0) + 1;
    $('.steps', main).innerHTML = html`${steps.map(([id, label], i) => html`<li><button type="button" data-step="${id}" ${id === step ? raw('aria-current="step"') : ''}>${i + 1}. ${label}${byStep[id] ? html` <span class="err-count" aria-label="${byStep[id]} errors">${byStep[id]}</span>` : ''}</button></li>`)}`.s;
    const wraps = $$('[data-wrap]', form);
    for (const w of wraps) {
      const err = w.querySelector('.field-error');
      if (err) err.textContent = '';
      w.classList.remove('has-error');
      for (const i of w.querySelectorAll('[data-path]')) i.removeAttribute('aria-invalid');
    }
    const unplaced = [];
    for (const c of causes) {
      const f = c.field || '';
      let best = null;
      for (const w of wraps) {
        const p = w.dataset.wrap;
        if ((f === p || f.startsWith(`${p}.`) || f.startsWith(`${p}[`)) && (!best || p.length > best.dataset.wrap.length)) best = w;
      }
      if (best) {
        const err = best.querySelector('.field-error');
        err.textContent = err.textContent ? `${err.textContent} ${c.message}` : c.message;
        best.classList.add('has-error');
        for (const i of best.querySelectorAll('[data-path]')) i.setAttribute('aria-invalid', 'true');
      } else if (mode === 'form') {
        unplaced.push(`${f ? `${f}: ` : ''}${c.message}`);
      }
    }
    const nameInput = $('[data-path="metadata.name"]', form);
    if (nameInput && touched) {
      const prob = dnsNameProblem(nameInput.value);
      const w = nameInput.closest('.field');
      if (prob && !w.querySelector('.field-error').textContent) { w.querySelector('.field-error').textContent = prob; w.classList.add('has-error'); }
    }
    const summary = $('.form-summary', main);
    const elsewhere = causes.filter((c) => stepOf(c.field || '') !== step && mode === 'form').length;
    summary.innerHTML = html`${message && !causes.length ? html`<p>${message}</p>` : ''}${unplaced.filter((u) => !causes.some((c) => stepOf(c.field || '') !== step && u.startsWith(c.field))).map((u) => html`<p>${u}</p>`)}${elsewhere ? html`<p>${elsewhere} problem${elsewhere === 1 ? '' : 's'} on other steps (marked above).</p>` : ''}`.s;
    if (mode === 'yaml') {
      const text = yamlEd.value;
      const errs = causes.map((c) => ({ line: c.field ? lineOfPath(text, c.field) : 0, message: `${c.field ? `${c.field}: ` : ''}${c.message}` }));
      if (yamlError) errs.unshift({ line: yamlError.line || 0, message: yamlError.message });
      if (message && !causes.length && !yamlError) errs.push({ line: 0, message });
      yamlEd.setErrors(errs);
    }
    $('.validity', main).textContent = yamlError ? 'YAML does not parse' : causes.length || message ? `${causes.length || 1} problem${causes.length > 1 ? 's' : ''}` : touched ? 'Valid (checked by the server)' : '';
  }

  let seq = 0;
  async function validate() {
    const mine = ++seq;
    if (yamlError) { showErrors(); return false; }
    try {
      await api('POST', collection('batch/v1', cron ? 'cronjobs' : 'jobs', obj.metadata?.namespace || ns), { body: obj, query: { dryRun: 'All', fieldValidation: 'Strict' } });
      if (mine !== seq) return false;
      causes = [];
      message = '';
    } catch (e) {
      if (mine !== seq) return false;
      if (!(e instanceof ApiError)) throw e;
      causes = e.causes.map((c) => ({ ...c, field: c.field || (e.reason === 'AlreadyExists' ? 'metadata.name' : '') }));
      if (!causes.length && e.reason === 'AlreadyExists') causes = [{ field: 'metadata.name', message: e.message }];
      message = e.message;
    }
    showErrors();
    return !causes.length && !message;
  }
  const validateSoon = debounce(validate, 500);

  async function drawPreview() {
    const box = $('.schedule-preview', form);
    if (!box) return;
    const info = await scheduleInfo(obj.spec.schedule || '', obj.spec.timeZone || '', 5).catch(() => null);
    if (!info || !$('.schedule-preview', form)) return;
    box.innerHTML = info.valid
      ? html`<p><b>${info.description}</b> <span class="muted">(${info.timeZone})</span></p><p class="muted small">Next runs:</p><ol class="next-list">${info.next.map((t) => html`<li>${t} — ${countdown(t)}</li>`)}</ol>`.s
      : html`<p class="bad-text">${info.error}</p>`.s;
  }
  const previewSoon = debounce(drawPreview, 250);

  function renderStep() {
    fid = 0;
    form.innerHTML = stepHtml().s;
    const i = steps.findIndex(([s]) => s === step);
    $('[data-nav=back]', main).disabled = i === 0;
    $('[data-nav=next]', main).hidden = i === steps.length - 1;
    showErrors();
    if (step === 'schedule') drawPreview();
  }

  function setMode(m) {
    mode = m;
    for (const b of $$('[data-mode]', main)) b.setAttribute('aria-pressed', String(b.dataset.mode === m));
    form.hidden = m !== 'form';
    $('.steps', main).hidden = m !== 'form';
    $('.yaml-mode', main).hidden = m !== 'yaml';
    $('[data-nav=back]', main).hidden = m !== 'form';
    $('[data-nav=next]', main).hidden = m !== 'form';
    if (m === 'yaml') { yamlEd.value = stringify(obj); yamlError = null; showErrors(); } else { renderStep(); }
  }

  // ---------- events ----------
  form.addEventListener('input', (e) => {
    const el = e.target;
    touched = true;
    if (el.dataset.vol) { rebuildVolumes(); validateSoon(); return; }
    if (!el.dataset.path) return;
    readInput(el);
    if (el.dataset.path === 'metadata.name') showErrors();
    if (el.dataset.path.startsWith('spec.schedule') || el.dataset.path.startsWith('spec.timeZone')) previewSoon();
    validateSoon();
  });
  form.addEventListener('change', (e) => {
    if (e.target.dataset.vol === 'type') { rebuildVolumes(); renderStep(); }
  });
  form.addEventListener('change', (e) => {
    if (e.target.tagName === 'SELECT' || e.target.type === 'radio' || e.target.type === 'checkbox') { touched = true; if (e.target.dataset.path) readInput(e.target); validateSoon(); }
  });
  form.addEventListener('click', (e) => {
    const p = e.target.closest('[data-preset]');
    if (p) { obj.spec.schedule = p.dataset.preset; touched = true; renderStep(); validateSoon(); return; }
    if (e.target.closest('[data-add-container]')) {
      const n = containers().length + 1;
      containers().push({ name: `c${n}`, image: 'busybox' });
      renderStep();
      return;
    }
    const rc = e.target.closest('[data-remove-container]');
    if (rc) { containers().splice(Number(rc.dataset.removeContainer), 1); renderStep(); validateSoon(); return; }
    if (e.target.closest('[data-add-volume]')) {
      const vols = getPath(obj, `${J}.template.spec.volumes`) || [];
      vols.push({ name: `vol${vols.length + 1}`, emptyDir: {} });
      setPath(obj, `${J}.template.spec.volumes`, vols);
      renderStep();
      return;
    }
    const rv = e.target.closest('[data-remove-volume]');
    if (rv) { $$('[data-volume]', form)[Number(rv.dataset.removeVolume)].remove(); rebuildVolumes(); renderStep(); validateSoon(); }
  });
  form.addEventListener('submit', (e) => e.preventDefault());
  $('.steps', main).addEventListener('click', (e) => { const b = e.target.closest('[data-step]'); if (b) { step = b.dataset.step; renderStep(); } });
  for (const b of $$('[data-mode]', main)) b.addEventListener('click', () => setMode(b.dataset.mode));
  yamlEd.addEventListener('input', debounce(() => {
    touched = true;
    try {
      const o = parse(yamlEd.value);
      if (!o || typeof o !== 'object') throw new YamlError(`expected a ${kindName} object`, 1);
      obj = o;
      yamlError = null;
      validate();
    } catch (err) {
      yamlError = err;
      showErrors();
    }
  }, 400));
  $('.wizard-nav', main).addEventListener('click', async (e) => {
    const b = e.target.closest('[data-nav]');
    if (!b) return;
    const i = steps.findIndex(([s]) => s === step);
    if (b.dataset.nav === 'back' && i > 0) { step = steps[i - 1][0]; renderStep(); }
    if (b.dataset.nav === 'next' && i < steps.length - 1) { step = steps[i + 1][0]; renderStep(); $('input, select, textarea', form)?.focus(); }
    if (b.dataset.nav === 'validate') { touched = true; await validate(); }
    if (b.dataset.nav === 'create') {
      touched = true;
      validateSoon.cancel();
      if (!(await validate())) {
        const first = causes[0];
        if (first && mode === 'form') { step = stepOf(first.field || ''); renderStep(); $('.has-error [data-path]', form)?.focus(); }
        return;
      }
      try {
        const created = await api('POST', collection('batch/v1', cron ? 'cronjobs' : 'jobs', obj.metadata.namespace || ns), { body: obj });
        location.hash = routeHref([cron ? 'cronjobs' : 'jobs', created.metadata.namespace, created.metadata.name]);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        causes = err.causes;
        message = err.message;
        showErrors();
      }
    }
  });
  onCleanup(() => { validateSoon.cancel(); previewSoon.cancel(); });
  renderStep();
}
