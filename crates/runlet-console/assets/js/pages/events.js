// Events: live, newest first, in the chosen namespace (or all).

import { collection, liveList } from '../api.js';
import { $, debounce, html, routeHref, setParam, timeAgo } from '../util.js';

function objectLink(o) {
  if (!o) return '';
  const ns = o.namespace || '';
  const kinds = { Job: 'jobs', CronJob: 'cronjobs', Pod: 'pods' };
  if (kinds[o.kind] && ns) return html`<a href="${routeHref([kinds[o.kind], ns, o.name])}">${o.kind}/${o.name}</a>`;
  return `${o.kind}/${o.name}`;
}

export function eventTime(e) {
  return e.lastTimestamp || e.eventTime || e.firstTimestamp || e.metadata?.creationTimestamp;
}

export function eventsTable(events, { showObject = true, limit = 500 } = {}) {
  const sorted = [...events].sort((a, b) => String(eventTime(b) || '').localeCompare(String(eventTime(a) || ''))).slice(0, limit);
  if (!sorted.length) return html`<p class="muted empty-row">No events.</p>`;
  return html`<div class="table-wrap"><table class="list events"><thead><tr><th scope="col">Type</th><th scope="col">Reason</th>${showObject ? html`<th scope="col">Object</th>` : ''}<th scope="col">Message</th><th scope="col">Count</th><th scope="col">Last seen</th></tr></thead><tbody>
    ${sorted.map((e) => html`<tr class="${e.type === 'Warning' ? 'warn' : ''}"><td><span class="badge ${e.type === 'Warning' ? 'bad' : 'ok'}">${e.type || 'Normal'}</span></td><td>${e.reason || ''}</td>
      ${showObject ? html`<td>${objectLink(e.involvedObject)}</td>` : ''}<td class="msg">${e.message || ''}</td><td>${e.count || 1}</td><td>${timeAgo(eventTime(e))}</td></tr>`)}
  </tbody></table></div>`;
}

export function render({ main, route, ns, onCleanup }) {
  let q = route.params.get('q') || '';
  let warnings = route.params.get('type') === 'Warning';
  main.innerHTML = html`<div class="page-head"><h1>Events</h1></div>
    <div class="filters"><label class="grow"><span class="sr-only">Search events</span><input type="search" data-search placeholder="Search reason, object or message  ( / )" value="${q}"></label>
    <label class="check"><input type="checkbox" name="warn" ${warnings ? html`checked` : ''}> warnings only</label></div>
    <div class="events-body"></div>`.s;
  let items = [];
  const draw = () => {
    const ql = q.toLowerCase();
    const shown = items.filter((e) => (!warnings || e.type === 'Warning') && (!ql || `${e.reason} ${e.message} ${e.involvedObject?.kind}/${e.involvedObject?.name}`.toLowerCase().includes(ql)));
    $('.events-body', main).innerHTML = eventsTable(shown).s;
  };
  $('[data-search]', main).addEventListener('input', debounce((e) => { q = e.target.value; setParam('q', q); draw(); }, 150));
  $('[name=warn]', main).addEventListener('change', (e) => { warnings = e.target.checked; setParam('type', warnings ? 'Warning' : ''); draw(); });
  const w = liveList(collection('v1', 'events', ns), {}, (list) => { items = list; draw(); });
  onCleanup(() => w.stop());
}
