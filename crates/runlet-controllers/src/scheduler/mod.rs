//! The first scheduler: binds each pending pod that names our `schedulerName` to a Ready node
//! with room for its requests, through the `pods/binding` subresource (event `Scheduled`), or
//! leaves it Pending with a `FailedScheduling` event and a `PodScheduled=False/Unschedulable`
//! condition saying why, as kube-scheduler does.
//!
//! Shape: a node reflector and a pod watch feed one loop. The pod watch keeps a [`PodIndex`]
//! up to date event by event: the pods waiting for this scheduler, and the requests of the pods
//! still running on each node (upstream's scheduler cache); finished pods leave it, so a pass
//! costs what is pending and running, not every pod the cluster still keeps. After each burst
//! of events the loop runs a scheduling pass over the pending pods in creation order, counting
//! what every node already runs plus what this scheduler just bound but has not yet seen come
//! back (its "assumed" pods, as upstream's cache assumes), then sends the bindings
//! concurrently in the background: the loop goes on taking pod events while they are in
//! flight (a pass that waited for its bindings held up the controllers' shared pod watch), and
//! a failed binding drops its assumption so that the next pass tries the pod again. A burst
//! is gathered for at most [`BATCH`] from its first event, so a steady stream of events does
//! not hold a pass back. Pods found unschedulable are only looked at again when capacity may have
//! changed (a node changed, a pod ended or went away), so a large backlog costs one pass per
//! change, not one per pod event. Placement scores the feasible nodes as upstream's default
//! `NodeResourcesFit` does (`LeastAllocated` over CPU and memory, counting a container without
//! requests as 100m and 200Mi, so pods without requests spread too) and takes the best, one of
//! equals at random as upstream's `selectHost`. Pods whose claims are bound to volumes with node
//! affinity only go where those volumes are ([`volumes`], from two more reflectors: claims and
//! volumes). A fuller scheduler (affinity, spreading, preemption) comes with multi-node work.
//!
//! Its events (`Scheduled`, `FailedScheduling`) are written by one task from a bounded queue,
//! at most 50 a second in bursts of 100 by default, as kube-scheduler's event client is limited
//! by its `clientConnection` (see [`runlet_client::rate`]); the bindings are not limited.

pub use runlet_api::fit;
mod affinity;
mod spread;
pub mod volumes;

use crate::podfeed::PodSource;
use fit::{Misfit, Resources, fit_error, misfit, pod_requests};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use runlet_api::clock::{Clock, rfc3339};
use runlet_api::eventtype::EventType::{self, Normal, Warning};
use runlet_client::rate::{MAX_QUEUED_EVENTS, Rate};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The scheduler name pods get by default.
pub const DEFAULT_SCHEDULER: &str = "default-scheduler";

/// How long events are gathered before a pass, from the first one of a burst.
const BATCH: Duration = Duration::from_millis(5);
/// Bindings in flight at once.
const CONCURRENT_BINDS: usize = 64;

/// A failure of one scheduling step (logged; the pod is retried).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The binding was refused.
    #[error("binding pod {pod} to node {node}: {source}")]
    Bind {
        pod: String,
        node: String,
        source: kube::Error,
    },
}

/// One binding decided in a pass.
struct Decision {
    namespace: String,
    name: String,
    uid: String,
    node: String,
    /// The `Scheduled` event's name, made before the binding: the agent's events about the
    /// pod, which follow the binding, then list after it.
    event_name: String,
}

/// The scheduler's state between passes.
pub struct Scheduler {
    client: kube::Client,
    clock: Arc<dyn Clock>,
    name: String,
    /// Bound by us, not yet seen bound in the pod store: uid → (node, requests).
    assumed: HashMap<String, (String, Resources)>,
    /// Pods found unschedulable, with the message last reported.
    unschedulable: HashMap<String, String>,
    /// Events to write; the writer started by [`Scheduler::run`] takes them, at `event_rate`.
    events: tokio::sync::mpsc::Sender<PodEvent>,
    /// The writer's end of `events`, until `run` starts the writer.
    event_queue: Option<tokio::sync::mpsc::Receiver<PodEvent>>,
    event_rate: Rate,
    /// `PodScheduled=False` conditions being written; a pass does not wait for them.
    conditions: tokio::task::JoinSet<()>,
    /// Bindings in flight: each ends with its decision, or the uid of a pod it failed to bind.
    binds: tokio::task::JoinSet<Result<Decision, String>>,
    /// Limits the bindings in flight to [`CONCURRENT_BINDS`].
    bind_slots: Arc<tokio::sync::Semaphore>,
    /// Where pods come from: the controllers' shared pod watch, or a watch of its own.
    pods: Option<PodSource>,
}

/// Whether the pod waits for this scheduler: not bound, not gated (upstream's SchedulingGates
/// `PreEnqueue` keeps a pod with `spec.schedulingGates` out of the queue until they are
/// removed), not going away.
fn pending(p: &Pod, scheduler: &str) -> bool {
    let spec = p.spec.as_ref();
    spec.is_some_and(|s| s.node_name.as_deref().unwrap_or("").is_empty())
        && spec
            .and_then(|s| s.scheduling_gates.as_ref())
            .is_none_or(Vec::is_empty)
        && spec
            .and_then(|s| s.scheduler_name.as_deref())
            .unwrap_or(DEFAULT_SCHEDULER)
            == scheduler
        && p.metadata.deletion_timestamp.is_none()
        && !terminal(p)
}

fn terminal(p: &Pod) -> bool {
    matches!(
        p.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

fn node_of(p: &Pod) -> Option<&str> {
    p.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// What a pass needs of the pods, kept up to date by the pod watch.
#[derive(Default)]
struct PodIndex {
    /// Pods waiting for this scheduler, by uid.
    pending: HashMap<String, Arc<Pod>>,
    /// Pods bound to a node that have not finished: uid → (node, requests).
    running: HashMap<String, (String, Resources)>,
    /// The claims of the running pods that name any, by pod uid.
    claims: HashMap<String, Vec<volumes::ClaimKey>>,
    /// The running pods themselves, for the terms of pod (anti-)affinity to match, by uid.
    pods: HashMap<String, Arc<Pod>>,
    /// The required anti-affinity of the running pods that have any, by uid.
    anti_affinity: HashMap<String, affinity::Required>,
    /// A relist in progress: the pods it has seen replace the index when it ends.
    relist: Option<Box<PodIndex>>,
}

impl PodIndex {
    /// Records a pod's current state (into the relist when one is in progress). True when a
    /// pod newly runs on a node or a running pod's labels changed: what may let a pod that
    /// waits for pod affinity or spread be placed (upstream requeues such pods on an assigned
    /// pod's add or update).
    fn apply(&mut self, p: Arc<Pod>, scheduler: &str) -> bool {
        let index = match self.relist.as_deref_mut() {
            Some(relist) => relist,
            None => self,
        };
        let Some(uid) = p.metadata.uid.clone() else {
            return false;
        };
        index.pending.remove(&uid);
        match node_of(&p) {
            Some(_) if terminal(&p) => {
                index.forget_running(&uid);
                false
            }
            // A bound pod's requests do not change: its status updates and finalizer removal
            // keep the entry its binding made.
            Some(node) => {
                if index.running.get(&uid).is_none_or(|(n, _)| n != node) {
                    let claims = volumes::claims_of(&p);
                    if !claims.is_empty() {
                        index.claims.insert(uid.clone(), claims);
                    }
                    let required = affinity::Required::of(&p);
                    if required.has_anti_affinity() {
                        index.anti_affinity.insert(uid.clone(), required);
                    }
                    index
                        .running
                        .insert(uid.clone(), (node.to_string(), pod_requests(&p)));
                    index.pods.insert(uid, p);
                    return true;
                }
                // Its labels as they are now, for the terms that select it.
                let relabelled = index
                    .pods
                    .get(&uid)
                    .is_none_or(|known| known.metadata.labels != p.metadata.labels);
                index.pods.insert(uid, p);
                relabelled
            }
            None => {
                index.forget_running(&uid);
                if pending(&p, scheduler) {
                    index.pending.insert(uid, p);
                }
                false
            }
        }
    }

    fn delete(&mut self, uid: &str) {
        self.pending.remove(uid);
        self.forget_running(uid);
    }

    fn forget_running(&mut self, uid: &str) {
        self.running.remove(uid);
        self.claims.remove(uid);
        self.pods.remove(uid);
        self.anti_affinity.remove(uid);
    }

    fn start_relist(&mut self) {
        self.relist = Some(Box::default());
    }

    fn end_relist(&mut self) {
        if let Some(relist) = self.relist.take() {
            self.pending = relist.pending;
            self.running = relist.running;
            self.claims = relist.claims;
            self.pods = relist.pods;
            self.anti_affinity = relist.anti_affinity;
        }
    }

    /// What the running pods request on each node.
    fn used(&self) -> HashMap<String, Resources> {
        let mut used: HashMap<String, Resources> = HashMap::new();
        for (node, r) in self.running.values() {
            used.entry(node.clone()).or_default().add(r);
        }
        used
    }
}

impl Scheduler {
    pub fn new(client: kube::Client, clock: Arc<dyn Clock>) -> Self {
        let (events, event_queue) = tokio::sync::mpsc::channel(MAX_QUEUED_EVENTS);
        Scheduler {
            client,
            clock,
            name: DEFAULT_SCHEDULER.to_string(),
            assumed: HashMap::new(),
            unschedulable: HashMap::new(),
            events,
            event_queue: Some(event_queue),
            event_rate: Rate::EVENTS,
            conditions: tokio::task::JoinSet::new(),
            binds: tokio::task::JoinSet::new(),
            bind_slots: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_BINDS)),
            pods: None,
        }
    }

    /// Takes pods from `pods` (a subscription to the controllers' shared pod watch) instead of
    /// a watch of its own. Finished pods come too; the index drops them as upstream's
    /// scheduler informer leaves them out.
    pub fn with_pods(mut self, pods: PodSource) -> Self {
        self.pods = Some(pods);
        self
    }

    /// Writes events at most at `rate` (upstream's 50 a second in bursts of 100 by default).
    pub fn with_event_rate(mut self, rate: Rate) -> Self {
        self.event_rate = rate;
        self
    }

    /// Schedules until `cancel` fires.
    pub async fn run(mut self, cancel: CancellationToken) {
        let stop_writer = cancel.child_token();
        if let Some(queue) = self.event_queue.take() {
            let (client, rate) = (self.client.clone(), self.event_rate);
            tokio::spawn(write_events(client, queue, rate, stop_writer.clone()));
        }
        // The writer stops with the scheduler, however it returns.
        let _stop_writer = stop_writer.drop_guard();
        self.schedule(cancel).await
    }

    async fn schedule(mut self, cancel: CancellationToken) {
        let (nodes, node_writer) = reflector::store::<Node>();
        let mut pods = PodIndex::default();
        let node_stream = reflector::reflector(
            node_writer,
            watcher(
                Api::<Node>::all(self.client.clone()),
                watcher::Config::default(),
            ),
        )
        .default_backoff();
        let pod_source = self
            .pods
            .take()
            .unwrap_or_else(|| PodSource::Watch(self.client.clone()));
        let pod_stream = pod_source.into_stream();
        let (claims, claim_writer) = reflector::store::<PersistentVolumeClaim>();
        let (volumes, volume_writer) = reflector::store::<PersistentVolume>();
        let claim_stream = reflector::reflector(
            claim_writer,
            watcher(
                Api::<PersistentVolumeClaim>::all(self.client.clone()),
                watcher::Config::default(),
            ),
        )
        .default_backoff();
        let volume_stream = reflector::reflector(
            volume_writer,
            watcher(
                Api::<PersistentVolume>::all(self.client.clone()),
                watcher::Config::default(),
            ),
        )
        .default_backoff();
        let (classes, class_writer) = reflector::store::<StorageClass>();
        let class_stream = reflector::reflector(
            class_writer,
            watcher(
                Api::<StorageClass>::all(self.client.clone()),
                watcher::Config::default(),
            ),
        )
        .default_backoff();
        let mut node_stream = std::pin::pin!(node_stream);
        let mut pod_stream = std::pin::pin!(pod_stream);
        // Claims and volumes only matter once bound: any change is a reason to retry.
        // Each event says which store it came from and whether that store has listed.
        let mut storage_stream = std::pin::pin!(futures::stream::select_all([
            claim_stream
                .map(|e| e.map(|ev| (0, matches!(ev, watcher::Event::InitDone))))
                .boxed(),
            volume_stream
                .map(|e| e.map(|ev| (1, matches!(ev, watcher::Event::InitDone))))
                .boxed(),
            class_stream
                .map(|e| e.map(|ev| (2, matches!(ev, watcher::Event::InitDone))))
                .boxed(),
        ]));
        let mut storage_ready = [false; 3];
        // When the burst of events not yet looked at by a pass began.
        let mut dirty: Option<Instant> = None;
        let mut retry = false;
        let mut nodes_ready = false;
        let mut pods_ready = false;
        loop {
            let ready = nodes_ready && pods_ready && storage_ready == [true; 3];
            tokio::select! {
                _ = cancel.cancelled() => return,
                ev = node_stream.next() => match ev {
                    Some(Ok(ev)) => {
                        if matches!(ev, watcher::Event::InitDone) {
                            nodes_ready = true;
                        }
                        dirty.get_or_insert_with(Instant::now);
                        retry = true;
                    }
                    Some(Err(e)) => tracing::warn!(error = %e, "scheduler: watching nodes"),
                    None => return,
                },
                ev = pod_stream.next() => match ev {
                    Some(Ok(ev)) => match ev {
                        watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
                            if pending(&p, &self.name) {
                                dirty.get_or_insert_with(Instant::now);
                            } else if terminal(&p) && node_of(&p).is_some() {
                                dirty.get_or_insert_with(Instant::now);
                                retry = true;
                            }
                            if pods.apply(p, &self.name) && !self.unschedulable.is_empty() {
                                dirty.get_or_insert_with(Instant::now);
                                retry = true;
                            }
                        }
                        watcher::Event::Delete(p) => {
                            if let Some(uid) = &p.metadata.uid {
                                self.unschedulable.remove(uid);
                                pods.delete(uid);
                            }
                            dirty.get_or_insert_with(Instant::now);
                            retry = true;
                        }
                        watcher::Event::InitDone => {
                            pods.end_relist();
                            pods_ready = true;
                            dirty.get_or_insert_with(Instant::now);
                            retry = true;
                        }
                        watcher::Event::Init => pods.start_relist(),
                    },
                    Some(Err(e)) => tracing::warn!(error = %e, "scheduler: watching pods"),
                    None => return,
                },
                ev = storage_stream.next() => match ev {
                    Some(Ok((store, init_done))) => {
                        storage_ready[store] |= init_done;
                        dirty.get_or_insert_with(Instant::now);
                        retry = true;
                    }
                    Some(Err(e)) => tracing::warn!(error = %e, "scheduler: watching volumes"),
                    None => return,
                },
                Some(_) = self.conditions.join_next(), if !self.conditions.is_empty() => {}
                Some(bound) = self.binds.join_next(), if !self.binds.is_empty() => {
                    if !self.bound(bound) {
                        dirty.get_or_insert_with(Instant::now);
                    }
                }
                _ = tokio::time::sleep_until(dirty.unwrap_or_else(Instant::now) + BATCH),
                    if dirty.is_some() && ready =>
                {
                    dirty = None;
                    let again = std::mem::take(&mut retry);
                    let volumes = volumes::Volumes::new(
                        &claims.state(),
                        &volumes.state(),
                        &classes.state(),
                    );
                    self.pass(&nodes, &pods, &volumes, again);
                }
            }
        }
    }

    /// One scheduling pass over the pending pods.
    fn pass(
        &mut self,
        nodes: &Store<Node>,
        pods: &PodIndex,
        volumes: &volumes::Volumes,
        retry: bool,
    ) {
        let nodes = nodes.state();
        let mut used = pods.used();
        let mut queue: Vec<Arc<Pod>> = pods
            .pending
            .iter()
            .filter(|(uid, _)| {
                !self.assumed.contains_key(*uid)
                    && (retry || !self.unschedulable.contains_key(*uid))
            })
            .map(|(_, p)| Arc::clone(p))
            .collect();
        // Assumed pods still unbound in the watch count where we put them.
        self.assumed.retain(|uid, _| pods.pending.contains_key(uid));
        self.unschedulable
            .retain(|uid, _| pods.pending.contains_key(uid));
        for (node, r) in self.assumed.values() {
            used.entry(node.clone()).or_default().add(r);
        }
        // Claims in use by bound pods and by pods placed but not yet bound.
        let mut claimed: HashSet<&volumes::ClaimKey> = pods.claims.values().flatten().collect();
        let assumed_claims: Vec<volumes::ClaimKey> = self
            .assumed
            .keys()
            .filter_map(|uid| pods.pending.get(uid))
            .flat_map(|p| volumes::claims_of(p))
            .collect();
        claimed.extend(&assumed_claims);
        let mut placed_claims: Vec<volumes::ClaimKey> = Vec::new();
        queue.sort_by(|a, b| {
            let key = |p: &Pod| {
                (
                    p.metadata.creation_timestamp.as_ref().map(|t| t.0),
                    p.metadata.namespace.clone(),
                    p.metadata.name.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        let mut decisions = Vec::new();
        let mut failures = Vec::new();
        let node_names: HashMap<&str, &Node> = nodes
            .iter()
            .map(|n| (n.metadata.name.as_deref().unwrap_or_default(), &**n))
            .collect();
        let no_terms = affinity::Required::default();
        for p in queue {
            let uid = p.metadata.uid.clone().unwrap_or_default();
            if let Some(why) = volumes.unusable(&p) {
                // A PreFilter failure: no node is looked at (upstream `FitError` with its
                // `PreFilterMsg`), and preempting cannot help.
                let msg = fit::prefilter_error(nodes.len(), &why);
                if self.unschedulable.get(&uid) != Some(&msg) {
                    self.unschedulable.insert(uid, msg.clone());
                    failures.push((p, msg));
                }
                continue;
            }
            let once_per_pod = volumes.once_per_pod(&p);
            // Reasons every node gives alike: upstream's VolumeRestrictions (evicting the pod
            // that uses the claim may help) and VolumeBinding filters.
            let everywhere = if once_per_pod
                .iter()
                .any(|c| claimed.contains(c) || placed_claims.contains(c))
            {
                Some(Misfit {
                    reasons: vec![volumes::RWOP_CONFLICT.to_string()],
                    preemption_may_help: true,
                })
            } else if volumes.unprovisionable(&p) {
                Some(Misfit::unresolvable(volumes::NO_VOLUME))
            } else {
                None
            };
            if let Some(misfit) = everywhere {
                let reasons = vec![misfit; nodes.len()];
                let msg = fit_error(nodes.len(), &reasons);
                if self.unschedulable.get(&uid) != Some(&msg) {
                    self.unschedulable.insert(uid, msg.clone());
                    failures.push((p, msg));
                }
                continue;
            }
            let req = pod_requests(&p);
            let required = volumes.required(&p);
            // The pods already placed matter only to a pod with terms or spread constraints of
            // its own, or when a running pod's anti-affinity may keep it out.
            let pod_terms = affinity::Required::of(&p);
            let mut spread = spread::Spread::of(&p);
            let placed =
                if pod_terms.is_empty() && spread.is_empty() && pods.anti_affinity.is_empty() {
                    Vec::new()
                } else {
                    placed_pods(pods, &self.assumed, &node_names, &no_terms)
                };
            if !spread.is_empty() {
                let all: Vec<&Node> = nodes.iter().map(|n| &**n).collect();
                spread.count(&p, &all, &placed);
            }
            let mut reasons = Vec::new();
            let mut best: Option<(&Node, i64)> = None;
            let mut tied = 0;
            for n in &nodes {
                let name = n.metadata.name.clone().unwrap_or_default();
                let u = used.get(&name).cloned().unwrap_or_default();
                let why = misfit(&p, n, &u, &req)
                    .or_else(|| volumes::conflict(&required, n).map(Misfit::unresolvable))
                    .or_else(|| {
                        spread.misfit(n).map(|reason| Misfit {
                            reasons: vec![reason.to_string()],
                            preemption_may_help: reason == spread::NOT_MATCHED,
                        })
                    })
                    .or_else(|| inter_pod_misfit(&p, &pod_terms, n, &placed));
                match why {
                    Some(r) => reasons.push(r),
                    None => {
                        // Upstream's `selectHost`: the best score, one of equals at random.
                        let score = fit::least_allocated_score(&fit::allocatable(n), &u, &req);
                        match best {
                            Some((_, top)) if score < top => {}
                            Some((_, top)) if score == top => {
                                tied += 1;
                                if rand::random_range(0..tied + 1) == 0 {
                                    best = Some((n, score));
                                }
                            }
                            _ => {
                                best = Some((n, score));
                                tied = 0;
                            }
                        }
                    }
                }
            }
            match best {
                Some((n, _)) => {
                    let node = n.metadata.name.clone().unwrap_or_default();
                    used.entry(node.clone()).or_default().add(&req);
                    placed_claims.extend(once_per_pod);
                    self.assumed
                        .insert(uid.clone(), (node.clone(), req.clone()));
                    self.unschedulable.remove(&uid);
                    let name = p.metadata.name.clone().unwrap_or_default();
                    decisions.push(Decision {
                        namespace: p.metadata.namespace.clone().unwrap_or_default(),
                        event_name: runlet_api::clock::event_name(&name),
                        name,
                        uid,
                        node,
                    });
                }
                None => {
                    let msg = fit_error(nodes.len(), &reasons);
                    if self.unschedulable.get(&uid) != Some(&msg) {
                        self.unschedulable.insert(uid, msg.clone());
                        failures.push((p, msg));
                    }
                }
            }
        }
        let client = self.client.clone();
        let now_millis = self.clock.now_millis();
        for d in decisions {
            let (client, slots) = (client.clone(), Arc::clone(&self.bind_slots));
            self.binds.spawn(async move {
                let _slot = slots.acquire_owned().await;
                match bind(&client, &d).await {
                    Ok(()) => Ok(d),
                    Err(e) => {
                        tracing::info!(error = %e, "scheduler: binding failed");
                        Err(d.uid)
                    }
                }
            });
        }
        for (p, msg) in failures {
            tracing::debug!(pod = ?p.metadata.name, namespace = ?p.metadata.namespace,
                reason = %msg, "unschedulable");
            self.record(PodEvent {
                namespace: p.metadata.namespace.clone().unwrap_or_default(),
                name: p.metadata.name.clone().unwrap_or_default(),
                uid: p.metadata.uid.clone().unwrap_or_default(),
                type_: Warning,
                reason: "FailedScheduling",
                action: "Scheduling",
                note: msg.clone(),
                at_millis: now_millis,
                event_name: None,
            });
            let client = client.clone();
            self.conditions
                .spawn(async move { mark_unschedulable(&client, &p, &msg, now_millis).await });
        }
    }

    /// Queues `ev` for the writer, or drops it when the queue is full (as upstream's event
    /// broadcaster does).
    fn record(&self, ev: PodEvent) {
        if self.events.try_send(ev).is_err() {
            tracing::debug!("scheduler: event queue full; event dropped");
        }
    }

    /// The end of one binding: the `Scheduled` event for a pod bound, or, for one that was not,
    /// its assumption dropped so that the next pass looks at it again (then false).
    fn bound(&mut self, bound: Result<Result<Decision, String>, tokio::task::JoinError>) -> bool {
        match bound {
            Ok(Ok(d)) => {
                let note = format!(
                    "Successfully assigned {}/{} to {}",
                    d.namespace, d.name, d.node
                );
                self.record(PodEvent {
                    namespace: d.namespace,
                    name: d.name,
                    uid: d.uid,
                    type_: Normal,
                    reason: "Scheduled",
                    action: "Binding",
                    note,
                    at_millis: self.clock.now_millis(),
                    event_name: Some(d.event_name),
                });
                true
            }
            Ok(Err(uid)) => {
                self.assumed.remove(&uid);
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "scheduler: a binding task failed");
                false
            }
        }
    }
}

/// `POST pods/{name}/binding`.
/// The pods on nodes, for pod (anti-)affinity: the running ones, and those this scheduler has
/// placed and not yet seen bound (as upstream's scheduler cache counts assumed pods; their own
/// anti-affinity is read once they are seen bound).
fn placed_pods<'a>(
    pods: &'a PodIndex,
    assumed: &HashMap<String, (String, Resources)>,
    nodes: &HashMap<&str, &'a Node>,
    no_terms: &'a affinity::Required,
) -> Vec<affinity::Placed<'a>> {
    let running = pods.running.iter().filter_map(|(uid, (node, _))| {
        Some((
            pods.pods.get(uid)?,
            node.as_str(),
            pods.anti_affinity.get(uid),
        ))
    });
    let assumed = assumed
        .iter()
        .filter_map(|(uid, (node, _))| Some((pods.pending.get(uid)?, node.as_str(), None)));
    running
        .chain(assumed)
        .filter_map(|(pod, node, anti_affinity)| {
            Some(affinity::Placed {
                pod,
                node: nodes.get(node)?,
                anti_affinity: anti_affinity.unwrap_or(no_terms),
            })
        })
        .collect()
}

/// Upstream's `InterPodAffinity` filter as a misfit: an unmet affinity is unresolvable, an
/// anti-affinity one preemption may resolve.
fn inter_pod_misfit(
    pod: &Pod,
    terms: &affinity::Required,
    node: &Node,
    placed: &[affinity::Placed<'_>],
) -> Option<Misfit> {
    if placed.is_empty() && terms.is_empty() {
        return None;
    }
    let reason = affinity::misfit(pod, terms, node, placed)?;
    Some(Misfit {
        reasons: vec![reason.to_string()],
        preemption_may_help: reason != affinity::AFFINITY_NOT_MATCHED,
    })
}

async fn bind(client: &kube::Client, d: &Decision) -> Result<(), Error> {
    let api: Api<Pod> = Api::namespaced(client.clone(), &d.namespace);
    let body = json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": d.name, "namespace": d.namespace, "uid": d.uid},
        "target": {"apiVersion": "v1", "kind": "Node", "name": d.node},
    });
    api.create_subresource::<serde_json::Value, serde_json::Value>(
        "binding",
        &d.name,
        &PostParams::default(),
        &body,
    )
    .await
    .map(|_| ())
    .map_err(|source| Error::Bind {
        pod: format!("{}/{}", d.namespace, d.name),
        node: d.node.clone(),
        source,
    })
}

/// The `PodScheduled=False` condition of a pod found unschedulable.
async fn mark_unschedulable(client: &kube::Client, p: &Pod, msg: &str, now_millis: i64) {
    let ns = p.metadata.namespace.clone().unwrap_or_default();
    let name = p.metadata.name.clone().unwrap_or_default();
    let now = rfc3339(now_millis.div_euclid(1000));
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let patch = json!({"status": {"conditions": [{
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": msg,
        "lastProbeTime": null,
        "lastTransitionTime": now,
    }]}});
    if let Err(e) = api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        tracing::debug!(pod = %name, error = %e, "scheduler: writing PodScheduled");
    }
}

/// An event about a pod from the scheduler.
struct PodEvent {
    namespace: String,
    name: String,
    uid: String,
    type_: EventType,
    reason: &'static str,
    /// What the scheduler did (`Binding`, `Scheduling`).
    action: &'static str,
    note: String,
    at_millis: i64,
    /// Made when it happened, so it lists before what followed.
    event_name: Option<String>,
}

/// Writes `ev` as upstream's scheduler records (`events.NewEventBroadcasterAdapter`): an
/// events.k8s.io/v1 Event with its `eventTime`, `action` and `reportingInstance`, which the
/// core/v1 view shows with no `firstTimestamp`, `lastTimestamp`, `count` or `source`. Best
/// effort: a failure is only logged.
async fn record(client: &kube::Client, ev: PodEvent) {
    static INSTANCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let instance = INSTANCE.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        format!("{DEFAULT_SCHEDULER}-{}", host.trim())
    });
    let name = ev
        .event_name
        .unwrap_or_else(|| runlet_api::clock::event_name(&ev.name));
    let body = json!({
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": ev.namespace},
        "eventTime": runlet_api::clock::rfc3339_micros(ev.at_millis),
        "reportingController": DEFAULT_SCHEDULER,
        "reportingInstance": instance,
        "action": ev.action,
        "reason": ev.reason,
        "regarding": {"kind": "Pod", "apiVersion": "v1", "namespace": ev.namespace,
            "name": ev.name, "uid": ev.uid},
        "note": ev.note,
        "type": ev.type_.as_str(),
    });
    let events = format!("/apis/events.k8s.io/v1/namespaces/{}/events", ev.namespace);
    if let Err(err) = runlet_client::create(client, &events, &body).await {
        tracing::debug!(error = %err, "scheduler: writing an event");
    }
}

/// Writes the events of `queue` one by one, at most at `rate`, until `stop` fires or the
/// scheduler is gone.
async fn write_events(
    client: kube::Client,
    mut queue: tokio::sync::mpsc::Receiver<PodEvent>,
    rate: Rate,
    stop: CancellationToken,
) {
    let limiter = rate.limiter();
    while let Some(ev) = limiter.next(&mut queue, &stop).await {
        record(&client, ev).await;
    }
}

/// Runs the scheduler until `cancel` fires.
pub async fn run(client: kube::Client, clock: Arc<dyn Clock>, cancel: CancellationToken) {
    Scheduler::new(client, clock).run(cancel).await
}

#[cfg(test)]
mod tests;
