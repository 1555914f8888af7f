//! One watch per served resource, feeding the graph builder (upstream `GraphBuilder`
//! monitors). A (re)list is delivered whole, so objects deleted while the watch was down leave
//! the graph too.

use super::graph::{ObjectId, Observed, OwnerRef};
use super::{GraphEvent, Monitored};
use futures::StreamExt;
use kube::Client;
use kube::api::{Api, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What the graph needs of a watched object; `None` for objects without a name or uid.
pub(super) fn observed(m: &Monitored, obj: &DynamicObject) -> Option<Observed> {
    let meta = &obj.metadata;
    let uid = meta.uid.clone().filter(|u| !u.is_empty())?;
    let name = meta.name.clone()?;
    Some(Observed {
        id: ObjectId {
            api_version: m.ar.api_version.clone(),
            kind: m.ar.kind.clone(),
            namespace: if m.namespaced {
                meta.namespace.clone()
            } else {
                None
            },
            name,
            uid,
        },
        owners: meta
            .owner_references
            .iter()
            .flatten()
            .map(|r| OwnerRef {
                api_version: r.api_version.clone(),
                kind: r.kind.clone(),
                name: r.name.clone(),
                uid: r.uid.clone(),
                block_owner_deletion: r.block_owner_deletion == Some(true),
            })
            .collect(),
        deleting: meta.deletion_timestamp.is_some(),
        finalizers: meta.finalizers.clone().unwrap_or_default(),
    })
}

/// Watches one resource until `shutdown`.
pub(super) async fn run(
    client: Client,
    idx: usize,
    m: Monitored,
    tx: mpsc::Sender<GraphEvent>,
    shutdown: CancellationToken,
) {
    let api: Api<DynamicObject> = Api::all_with(client, &m.ar);
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    futures::pin_mut!(stream);
    let mut buffer: Vec<Observed> = Vec::new();
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return,
            n = stream.next() => n,
        };
        let event = match next {
            None => return,
            Some(Err(e)) => {
                tracing::debug!(resource = %m.ar.plural, error = %e, "garbage collector watch failed");
                continue;
            }
            Some(Ok(e)) => e,
        };
        let out = match event {
            Event::Init => {
                buffer.clear();
                None
            }
            Event::InitApply(o) => {
                buffer.extend(observed(&m, &o));
                None
            }
            Event::InitDone => Some(GraphEvent::Relisted(idx, std::mem::take(&mut buffer))),
            Event::Apply(o) => observed(&m, &o).map(|o| GraphEvent::Upsert(idx, o)),
            Event::Delete(o) => o.metadata.uid.clone().map(GraphEvent::Delete),
        };
        if let Some(out) = out {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                r = tx.send(out) => if r.is_err() { return },
            }
        }
    }
}
