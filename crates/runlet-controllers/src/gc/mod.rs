//! The garbage collector (upstream `pkg/controller/garbagecollector`).
//!
//! Why a controller and not the API server: the ownerReference graph spans every kind, must
//! survive restarts by being rebuilt from lists, and must verify an owner's absence with a live
//! lookup before deleting anything — exactly what upstream's collector does through the API. It
//! is the one component that propagates deletions:
//!
//! - **Background**: once an owner is gone, dependents whose owners are all gone (verified by a
//!   GET by name and uid) are deleted; this also covers dangling dependents found after a
//!   restart, when the graph is rebuilt from lists and an owner uid no longer exists.
//! - **Foreground** (`foregroundDeletion` finalizer): every dependent is deleted; the finalizer
//!   is removed once no dependent with `blockOwnerDeletion: true` remains.
//! - **Orphan** (`orphan` finalizer): the owner's references are removed from its dependents,
//!   then the finalizer.
//!
//! Layout: [`graph`] is the pure dependency graph; [`monitor`] feeds it from one watch per
//! served resource; [`worker`] runs the attempt-to-delete and attempt-to-orphan queues.
//! Namespace finalization stays in the API server (`runlet_apiserver::gc`), as a namespace's
//! lifecycle is enforced there.

pub mod graph;
mod monitor;
mod worker;

use crate::clockqueue::WorkQueue;
use graph::{Graph, ObjectId, Observed, Work};
use kube::Client;
use kube::core::ApiResource;
use runlet_api::clock::Clock;
use runlet_api::resources::{RESOURCES, ResourceInfo};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Errors of one attempt to delete or orphan.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed (retried with backoff).
    #[error("api call failed: {0}")]
    Kube(#[from] kube::Error),
    /// An ownerReference names a kind this server does not serve.
    #[error("unknown owner kind {kind} in {api_version}")]
    UnknownKind { api_version: String, kind: String },
    /// The graph builder stopped (shutdown).
    #[error("the graph builder stopped")]
    Stopped,
}

/// Tuning knobs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Parallel attempt-to-delete workers (upstream `--concurrent-gc-syncs`, default 20).
    pub delete_workers: usize,
    /// Parallel attempt-to-orphan workers.
    pub orphan_workers: usize,
    /// How long workers wait for every monitor's first list before starting anyway (live
    /// lookups keep them safe without a synced graph; the wait only avoids needless GETs).
    pub sync_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            delete_workers: 8,
            orphan_workers: 2,
            sync_timeout: Duration::from_secs(60),
        }
    }
}

/// A change for the graph builder.
#[derive(Debug)]
enum GraphEvent {
    Upsert(usize, Observed),
    Delete(String),
    /// All objects of a resource after a (re)list.
    Relisted(usize, Vec<Observed>),
    /// A lookup found no object with this identity.
    VirtualDelete(ObjectId),
}

/// A watched resource.
#[derive(Debug, Clone)]
struct Monitored {
    ar: ApiResource,
    namespaced: bool,
}

fn api_resource(info: &ResourceInfo) -> ApiResource {
    ApiResource {
        group: info.group.to_string(),
        version: info.version.to_string(),
        api_version: info.api_version(),
        kind: info.kind.to_string(),
        plural: info.plural.to_string(),
    }
}

/// Absent owners already verified (upstream `absentOwnerCache`), bounded.
const ABSENT_CACHE_LIMIT: usize = 500;

struct Shared {
    client: Client,
    graph: Mutex<Graph>,
    delete_q: WorkQueue<String>,
    orphan_q: WorkQueue<String>,
    events: mpsc::Sender<GraphEvent>,
    absent: Mutex<HashSet<ObjectId>>,
}

impl Shared {
    fn graph(&self) -> MutexGuard<'_, Graph> {
        self.graph
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn is_known_absent(&self, id: &ObjectId) -> bool {
        self.absent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(id)
    }

    fn mark_absent(&self, id: ObjectId) {
        let mut absent = self
            .absent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if absent.len() >= ABSENT_CACHE_LIMIT {
            absent.clear();
        }
        absent.insert(id);
    }

    fn enqueue(&self, work: Work) {
        for uid in work.attempt_to_delete {
            self.delete_q.add(uid);
        }
        for uid in work.attempt_to_orphan {
            self.orphan_q.add(uid);
        }
    }
}

/// Resources the collector does not watch, as upstream's `DefaultIgnoredResources`: Events of
/// both APIs (one resource stored once). They are written by the thousand and go away with
/// their namespace, never through owner references.
fn ignored(info: &ResourceInfo) -> bool {
    info.plural == "events" && (info.group.is_empty() || info.group == "events.k8s.io")
}

/// Runs the garbage collector until `shutdown` fires; every task it starts has stopped when
/// this returns.
pub async fn run(
    client: Client,
    clock: Arc<dyn Clock>,
    config: Config,
    shutdown: CancellationToken,
) {
    run_with_pods(client, clock, config, None, shutdown).await;
}

/// As [`run`], following pods through `pods` (a subscription to the shared pod feed) instead
/// of a watch of their metadata, when given.
pub async fn run_with_pods(
    client: Client,
    clock: Arc<dyn Clock>,
    config: Config,
    mut pods: Option<crate::podfeed::PodSource>,
    shutdown: CancellationToken,
) {
    let monitored: Vec<Monitored> = RESOURCES
        .iter()
        .filter(|info| !ignored(info))
        .map(|info| Monitored {
            ar: api_resource(info),
            namespaced: info.namespaced,
        })
        .collect();
    let (tx, rx) = mpsc::channel(1024);
    let shared = Arc::new(Shared {
        client: client.clone(),
        graph: Mutex::new(Graph::default()),
        delete_q: WorkQueue::new(clock.clone()),
        orphan_q: WorkQueue::new(clock),
        events: tx.clone(),
        absent: Mutex::new(HashSet::new()),
    });
    let (synced_tx, mut synced_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for (idx, m) in monitored.iter().enumerate() {
        let is_pods = m.ar.group.is_empty() && m.ar.plural == "pods";
        match pods.take_if(|_| is_pods) {
            Some(pods) => tasks.spawn(monitor::run_pods(
                idx,
                m.clone(),
                pods,
                tx.clone(),
                shutdown.clone(),
            )),
            None => tasks.spawn(monitor::run(
                client.clone(),
                idx,
                m.clone(),
                tx.clone(),
                shutdown.clone(),
            )),
        };
    }
    drop(tx);
    tasks.spawn(build_graph(
        shared.clone(),
        rx,
        monitored.len(),
        synced_tx,
        shutdown.clone(),
    ));

    // Upstream waits for the graph to sync before the workers run.
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(config.sync_timeout) => {
            tracing::warn!("garbage collector starting before every resource was listed");
        }
        _ = synced_rx.wait_for(|s| *s) => {
            tracing::debug!("garbage collector graph synced");
        }
    }
    if !shutdown.is_cancelled() {
        for _ in 0..config.delete_workers.max(1) {
            tasks.spawn(worker::delete_loop(shared.clone(), shutdown.clone()));
        }
        for _ in 0..config.orphan_workers.max(1) {
            tasks.spawn(worker::orphan_loop(shared.clone(), shutdown.clone()));
        }
    }
    shutdown.cancelled().await;
    while tasks.join_next().await.is_some() {}
}

/// Applies graph events in order and queues the work they imply.
async fn build_graph(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<GraphEvent>,
    resources: usize,
    synced: watch::Sender<bool>,
    shutdown: CancellationToken,
) {
    let mut listed = HashSet::new();
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            e = rx.recv() => match e {
                Some(e) => e,
                None => return,
            },
        };
        let work = {
            let mut graph = shared.graph();
            apply(&mut graph, event, &mut listed, &shared)
        };
        shared.enqueue(work);
        if listed.len() >= resources && !*synced.borrow() {
            let _ = synced.send(true);
        }
    }
}

fn apply(
    graph: &mut Graph,
    event: GraphEvent,
    listed: &mut HashSet<usize>,
    shared: &Shared,
) -> Work {
    match event {
        GraphEvent::Upsert(idx, obj) => graph.upsert(idx, obj),
        GraphEvent::Delete(uid) => graph.remove(&uid),
        GraphEvent::Relisted(idx, objs) => {
            listed.insert(idx);
            let seen: HashSet<String> = objs.iter().map(|o| o.id.uid.clone()).collect();
            let mut work = Work::default();
            for obj in objs {
                let w = graph.upsert(idx, obj);
                work.attempt_to_delete.extend(w.attempt_to_delete);
                work.attempt_to_orphan.extend(w.attempt_to_orphan);
            }
            for uid in graph.missing_after_relist(idx, &seen) {
                work.attempt_to_delete
                    .extend(graph.remove(&uid).attempt_to_delete);
            }
            work
        }
        GraphEvent::VirtualDelete(id) => {
            let Some(node) = graph.node(&id.uid) else {
                return Work::default();
            };
            if !node.observed || node.id == id {
                shared.mark_absent(id.clone());
                graph.remove(&id.uid)
            } else {
                // The observed object disagrees with the coordinates that were looked up:
                // keep it, and let its dependents re-check their references live.
                Work {
                    attempt_to_delete: node.dependents.iter().cloned().collect(),
                    attempt_to_orphan: Vec::new(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
