// Facts about Jobs, CronJobs, Pods and Nodes read from their objects the way kubectl prints
// them (STATUS, COMPLETIONS, DURATION columns), so the console and kubectl agree.

import { parseTime } from './util.js';

export const JOB_STATES = ['Running', 'Complete', 'Failed', 'Suspended', 'Pending'];

function cond(obj, type) {
  return (obj.status?.conditions || []).find((c) => c.type === type && c.status === 'True');
}

/** kubectl's Job STATUS column (printers.go `printJob`), plus Pending before the first pod. */
export function jobState(job) {
  if (cond(job, 'Complete')) return 'Complete';
  if (cond(job, 'Failed')) return 'Failed';
  if (cond(job, 'FailureTarget')) return 'FailureTarget';
  if (cond(job, 'SuccessCriteriaMet')) return 'SuccessCriteriaMet';
  if (cond(job, 'Suspended') || job.spec?.suspend) return 'Suspended';
  return 'Running';
}

/** The state's family for filters and colours. */
export function jobPhase(job) {
  const s = jobState(job);
  if (s === 'FailureTarget') return 'Failed';
  if (s === 'SuccessCriteriaMet') return 'Complete';
  return s;
}

export function jobReason(job) {
  const c = cond(job, 'Failed') || cond(job, 'FailureTarget') || cond(job, 'Complete') || cond(job, 'Suspended');
  return c ? [c.reason, c.message].filter(Boolean).join(': ') : '';
}

export function completions(job) {
  const c = job.spec?.completions;
  return c === undefined || c === null ? null : c;
}

/** kubectl's COMPLETIONS text: `succeeded/completions`, or `succeeded/1 of parallelism`. */
export function completionsText(job) {
  const s = job.status?.succeeded || 0;
  const c = completions(job);
  if (c !== null) return `${s}/${c}`;
  const p = job.spec?.parallelism ?? 1;
  return p > 1 ? `${s}/1 of ${p}` : `${s}/1`;
}

/** Start → completion (or now while running), in ms; null before the start. */
export function jobDurationMs(job) {
  const start = parseTime(job.status?.startTime);
  if (start === null) return null;
  const end = parseTime(job.status?.completionTime)
    || parseTime((job.status?.conditions || []).find((c) => (c.type === 'Failed' || c.type === 'Complete') && c.status === 'True')?.lastTransitionTime);
  return (end || Date.now()) - start;
}

export function isFinished(job) {
  const p = jobPhase(job);
  return p === 'Complete' || p === 'Failed';
}

export function owner(obj, kind) {
  return (obj.metadata?.ownerReferences || []).find((r) => !kind || r.kind === kind) || null;
}

export const DESCRIPTION = 'runlet.dev/description';
export const RERUN_OF = 'runlet.dev/rerun-of';
export const RERUN = 'runlet.dev/rerun';

export function description(obj) {
  const a = obj.metadata?.annotations || {};
  return a[DESCRIPTION] || a['kubesphere.io/description'] || '';
}

export function images(podSpec) {
  return [...(podSpec?.initContainers || []), ...(podSpec?.containers || [])].map((c) => c.image).filter(Boolean);
}

/** "0-2,4" → [0,1,2,4]. */
export function parseIndexes(s) {
  const out = new Set();
  for (const part of (s || '').split(',').map((x) => x.trim()).filter(Boolean)) {
    const [a, b] = part.split('-').map(Number);
    if (Number.isInteger(a)) for (let k = a; k <= (Number.isInteger(b) ? b : a) && k - a < 100000; k++) out.add(k);
  }
  return out;
}

export function podIndex(pod) {
  const a = pod.metadata?.annotations || {};
  const l = pod.metadata?.labels || {};
  const v = a['batch.kubernetes.io/job-completion-index'] ?? l['batch.kubernetes.io/job-completion-index'];
  return v === undefined ? null : Number(v);
}

export function podJobName(pod) {
  const l = pod.metadata?.labels || {};
  return l['batch.kubernetes.io/job-name'] || l['job-name'] || owner(pod, 'Job')?.name || '';
}

/** The last terminated state of a pod's main container: {exitCode, reason} or null. */
export function podExit(pod) {
  for (const cs of pod.status?.containerStatuses || []) {
    const t = cs.state?.terminated || cs.lastState?.terminated;
    if (t) return { exitCode: t.exitCode, reason: t.reason || '', startedAt: t.startedAt, finishedAt: t.finishedAt };
  }
  return null;
}

export function podRestarts(pod) {
  return (pod.status?.containerStatuses || []).reduce((n, cs) => n + (cs.restartCount || 0), 0);
}

/** kubectl's pod STATUS: the waiting/terminated reason of a container when there is one. */
export function podStatusText(pod) {
  if (pod.metadata?.deletionTimestamp) return 'Terminating';
  for (const cs of pod.status?.containerStatuses || []) {
    if (cs.state?.waiting?.reason) return cs.state.waiting.reason;
    if (cs.state?.terminated?.reason && pod.status?.phase !== 'Succeeded') return cs.state.terminated.reason;
  }
  return pod.status?.reason || pod.status?.phase || 'Pending';
}

export function podPhaseClass(pod) {
  const p = pod.status?.phase || 'Pending';
  return { Succeeded: 'ok', Failed: 'bad', Running: 'run', Pending: 'wait' }[p] || 'wait';
}

export function phaseClass(phase) {
  return { Complete: 'ok', Failed: 'bad', Running: 'run', Suspended: 'pause', Pending: 'wait' }[phase] || 'wait';
}

export function nodeReady(node) {
  const c = (node.status?.conditions || []).find((x) => x.type === 'Ready');
  return c?.status === 'True';
}

/** CPU quantity in millicores; memory in bytes. */
export function cpuMillis(q) {
  if (q === undefined || q === null) return 0;
  const s = String(q);
  if (s.endsWith('m')) return Number(s.slice(0, -1));
  return Math.round(Number(s) * 1000);
}

const BIN = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, K: 1e3, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
export function bytes(q) {
  if (q === undefined || q === null) return 0;
  const m = /^([0-9.]+)([A-Za-z]*)$/.exec(String(q));
  if (!m) return 0;
  return Number(m[1]) * (BIN[m[2]] || 1);
}

export function fmtBytes(n) {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)}Gi`;
  if (n >= 2 ** 20) return `${Math.round(n / 2 ** 20)}Mi`;
  return `${Math.round(n / 1024)}Ki`;
}

/** A new Job from another Job's template: a rerun, linked back by annotation. */
export function rerunOf(job, name) {
  const labels = { ...(job.spec?.template?.metadata?.labels || {}) };
  for (const k of ['controller-uid', 'batch.kubernetes.io/controller-uid', 'job-name', 'batch.kubernetes.io/job-name']) delete labels[k];
  const jobLabels = { ...(job.metadata?.labels || {}) };
  for (const k of ['controller-uid', 'batch.kubernetes.io/controller-uid', 'job-name', 'batch.kubernetes.io/job-name']) delete jobLabels[k];
  const annotations = { ...(job.metadata?.annotations || {}) };
  delete annotations[RERUN];
  delete annotations['batch.kubernetes.io/job-tracking'];
  annotations[RERUN_OF] = job.metadata.name;
  const spec = JSON.parse(JSON.stringify(job.spec || {}));
  delete spec.selector;
  delete spec.manualSelector;
  spec.suspend = false;
  spec.template = { ...spec.template, metadata: { ...(spec.template?.metadata || {}), labels } };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: job.metadata.namespace, labels: jobLabels, annotations },
    spec,
  };
}

/** A manual run of a CronJob, as `kubectl create job --from=cronjob/NAME` makes it. */
export function jobFromCronJob(cj, name) {
  const t = cj.spec?.jobTemplate || {};
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: cj.metadata.namespace,
      labels: { ...(t.metadata?.labels || {}) },
      annotations: { ...(t.metadata?.annotations || {}), 'cronjob.kubernetes.io/instantiate': 'manual' },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cj.metadata.name, uid: cj.metadata.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: JSON.parse(JSON.stringify(t.spec || {})),
  };
}

/** The object without server-managed noise, for YAML views. */
export function forDisplay(obj) {
  const o = JSON.parse(JSON.stringify(obj));
  if (o.metadata) delete o.metadata.managedFields;
  return o;
}
