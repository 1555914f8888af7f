// Nodes: ready, capacity against what pods request, pod count, runtime, last heartbeat,
// cordon / uncordon (spec.unschedulable).

import { api, collection, liveList } from '../api.js';
import { $, html, timeAgo, toast } from '../util.js';
import { bytes, cpuMillis, fmtBytes, nodeReady } from '../jobs-model.js';

function requested(pods, node) {
  let cpu = 0;
  let mem = 0;
  let count = 0;
  for (const p of pods) {
    if (p.spec?.nodeName !== node || ['Succeeded', 'Failed'].includes(p.status?.phase)) continue;
    count++;
    for (const c of p.spec.containers || []) {
      cpu += cpuMillis(c.resources?.requests?.cpu);
      mem += bytes(c.resources?.requests?.memory);
    }
  }
  return { cpu, mem, count };
}

function meter(used, cap, text) {
  const pct = cap ? Math.min(100, (used / cap) * 100) : 0;
  return html`<span class="meter" role="meter" aria-valuemin="0" aria-valuemax="${cap}" aria-valuenow="${used}" aria-label="${text}" title="${text}"><span style="width:${pct.toFixed(1)}%"></span></span> <span class="small">${text}</span>`;
}

export function render({ main, onCleanup }) {
  main.innerHTML = html`<div class="page-head"><h1>Nodes</h1></div>
    <div class="table-wrap"><table class="list nodes"><thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">CPU requested</th><th scope="col">Memory requested</th><th scope="col">Pods</th><th scope="col" class="hide-sm">Runtime</th><th scope="col" class="hide-sm">Last heartbeat</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
    <tbody><tr><td colspan="8" class="muted">Loading…</td></tr></tbody></table></div>`.s;
  let nodes = [];
  let pods = [];
  const draw = () => {
    $('tbody', main).innerHTML = nodes.length ? nodes.map((n) => {
      const r = requested(pods, n.metadata.name);
      const cap = n.status?.allocatable || n.status?.capacity || {};
      const ready = nodeReady(n);
      const hb = (n.status?.conditions || []).find((c) => c.type === 'Ready')?.lastHeartbeatTime;
      const runtime = n.metadata.labels?.['node.runlet.dev/runtime'] || n.status?.nodeInfo?.containerRuntimeVersion || '';
      return html`<tr><td class="name">${n.metadata.name}</td>
        <td><span class="badge ${ready ? 'ok' : 'bad'}">${ready ? 'Ready' : 'NotReady'}</span>${n.spec?.unschedulable ? html` <span class="badge pause">SchedulingDisabled</span>` : ''}</td>
        <td>${meter(r.cpu, cpuMillis(cap.cpu), `${r.cpu}m of ${cpuMillis(cap.cpu)}m`)}</td>
        <td>${meter(r.mem, bytes(cap.memory), `${fmtBytes(r.mem)} of ${fmtBytes(bytes(cap.memory))}`)}</td>
        <td>${r.count} / ${cap.pods || '—'}</td><td class="hide-sm">${runtime}</td><td class="hide-sm">${timeAgo(hb)}</td>
        <td><button type="button" class="small" data-node="${n.metadata.name}" data-cordon="${n.spec?.unschedulable ? '0' : '1'}">${n.spec?.unschedulable ? 'Uncordon' : 'Cordon'}</button></td></tr>`.s;
    }).join('') : html`<tr><td colspan="8" class="empty-row">No nodes have joined. <code>runlet agent --server URL --token T</code> adds one.</td></tr>`.s;
  };
  main.addEventListener('click', async (e) => {
    const b = e.target.closest('[data-node]');
    if (!b) return;
    const cordon = b.dataset.cordon === '1';
    try {
      await api('PATCH', `/api/v1/nodes/${encodeURIComponent(b.dataset.node)}`, { body: { spec: { unschedulable: cordon ? true : null } }, contentType: 'application/merge-patch+json' });
      toast(`${cordon ? 'Cordoned' : 'Uncordoned'} ${b.dataset.node}`);
    } catch (err) {
      toast(`Failed: ${err.message}`, 'error');
    }
  });
  const w1 = liveList('/api/v1/nodes', {}, (items) => { nodes = items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)); draw(); });
  const w2 = liveList(collection('v1', 'pods', ''), {}, (items) => { pods = items; draw(); });
  onCleanup(() => { w1.stop(); w2.stop(); });
}
