//! One watch per served resource, feeding the graph builder (upstream `GraphBuilder`
//! monitors). A (re)list is delivered whole, so objects deleted while the watch was down leave
//! the graph too. As upstream's monitors are metadata informers, each object is decoded to its
//! `metadata` only ([`ObjectMetadata`]): the garbage collector watches every pod and PodRecord
//! written, and reads nothing else of them. Under [`crate::run_controllers`] the pods come from
//! the controllers' shared pod feed instead ([`run_pods`]), decoded once for all of them.

use super::graph::{ObjectId, Observed, OwnerRef};
use super::{GraphEvent, Monitored};
use crate::podfeed::PodSource;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, ApiResource};
use kube::core::DynamicResourceScope;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::Arc;
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
    forward(
        idx,
        &m,
        stream,
        |o: &ObjectMetadata| &o.metadata,
        tx,
        shutdown,
    )
    .await;
}

/// Follows pods through `pods` until `shutdown`: a subscription to the controllers' shared pod
/// feed, whose pods are decoded already, takes the place of a watch of their metadata.
pub(super) async fn run_pods(
    idx: usize,
    m: Monitored,
    pods: PodSource,
    tx: mpsc::Sender<GraphEvent>,
    shutdown: CancellationToken,
) {
    let stream = pods.into_stream();
    forward(idx, &m, stream, |p: &Arc<Pod>| &p.metadata, tx, shutdown).await;
}

/// Turns `stream`'s events into graph events until it ends or `shutdown`.
async fn forward<T, S>(
    idx: usize,
    m: &Monitored,
    stream: S,
    meta: impl Fn(&T) -> &ObjectMeta,
    tx: mpsc::Sender<GraphEvent>,
    shutdown: CancellationToken,
) where
    S: futures::Stream<Item = Result<Event<T>, watcher::Error>>,
{
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
                buffer.extend(observed(m, meta(&o)));
                None
            }
            Event::InitDone => Some(GraphEvent::Relisted(idx, std::mem::take(&mut buffer))),
            Event::Apply(o) => observed(m, meta(&o)).map(|o| GraphEvent::Upsert(idx, o)),
            Event::Delete(o) => meta(&o).uid.clone().map(GraphEvent::Delete),
        };
        if let Some(out) = out {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                r = tx.send(out) => if r.is_err() { return },
            }
        }
    }
}
