//! One watch per served resource, feeding the graph builder (upstream `GraphBuilder`
//! monitors). A (re)list is delivered whole, so objects deleted while the watch was down leave
//! the graph too. As upstream's monitors are metadata informers, each object is decoded to its
//! `metadata` only ([`ObjectMetadata`]): the garbage collector watches every pod and PodRecord
//! written, and reads nothing else of them.

use super::graph::{ObjectId, Observed, OwnerRef};
use super::{GraphEvent, Monitored};
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, ApiResource};
use kube::core::DynamicResourceScope;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde::Deserialize;
use std::borrow::Cow;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// An object of any kind decoded to its `metadata` only; the rest of it is skipped unparsed.
#[derive(Clone, Debug, Deserialize)]
pub(super) struct ObjectMetadata {
    #[serde(default)]
    metadata: ObjectMeta,
}

impl kube::Resource for ObjectMetadata {
    type DynamicType = ApiResource;
    type Scope = DynamicResourceScope;

    fn kind(dt: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&dt.kind)
    }
    fn group(dt: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&dt.group)
    }
    fn version(dt: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&dt.version)
    }
    fn api_version(dt: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&dt.api_version)
    }
    fn plural(dt: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&dt.plural)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// What the graph needs of a watched object; `None` for objects without a name or uid.
pub(super) fn observed(m: &Monitored, meta: &ObjectMeta) -> Option<Observed> {
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
    let api: Api<ObjectMetadata> = Api::all_with(client, &m.ar);
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
                buffer.extend(observed(&m, &o.metadata));
                None
            }
            Event::InitDone => Some(GraphEvent::Relisted(idx, std::mem::take(&mut buffer))),
            Event::Apply(o) => observed(&m, &o.metadata).map(|o| GraphEvent::Upsert(idx, o)),
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
