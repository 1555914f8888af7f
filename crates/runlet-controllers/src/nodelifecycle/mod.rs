//! The node lifecycle controller (upstream `pkg/controller/nodelifecycle`, with its taint-based
//! eviction and the orphan part of `pkg/controller/podgc`): what happens to a node whose agent
//! stopped, and to the pods bound to it.
//!
//! Every `monitor_period` a pass lists the nodes and their Leases in `kube-node-lease`:
//! - *Health* (`monitorNodeHealth`): a node is heard from when its Lease's `renewTime` or its
//!   Ready condition's `lastHeartbeatTime` changes; the time is this controller's clock when it
//!   saw the change, never the agent's, so clocks need not agree. A node not heard from for
//!   `grace_period` has its four conditions set to `Unknown` (`NodeStatusUnknown`, "Kubelet
//!   stopped posting node status."), a `NodeNotReady` event, and its pods' Ready condition set
//!   to False (`MarkPodsNotReady`).
//! - *Taints* (`doNoScheduleTaintingPass`, `doNoExecuteTaintingPass`): Ready `False` puts
//!   `node.kubernetes.io/not-ready`, `Unknown` puts `node.kubernetes.io/unreachable`, each with
//!   the `NoSchedule` and the `NoExecute` effect; Ready `True` takes them off. So the scheduler
//!   stops binding to the node. A cordoned node (`spec.unschedulable`) gets
//!   `node.kubernetes.io/unschedulable:NoSchedule` while it is. The pressure conditions are not made taints: a shared machine
//!   short of disk would otherwise take no pod at all.
//! - *Eviction* (`tainteviction`): a pod bound to a node with `NoExecute` taints is deleted
//!   once the shortest `tolerationSeconds` of the tolerations that match has passed since this
//!   controller first found it there under such taints (upstream's `processPodOnNode` starts
//!   the same timer; a taint's `timeAdded` plays no part, and `kubectl taint` sets none): at
//!   once for a taint it does not tolerate; pods get 300 s for both taints by default. Then a
//!   `DisruptionTarget` condition (`DeletionByTaintManager`) and a `TaintManagerEviction`
//!   event. Pods that already ended are left alone.
//! - *Orphans* (`gcOrphaned`): pods bound to a node that does not exist, still after a
//!   quarantine of `grace_period`, are marked Failed (`DisruptionTarget`, `DeletionByPodGC`) and
//!   deleted at once, as nothing will run them. Deleting a dead node is how an operator gives
//!   up on it, as upstream. Every pod is looked at every `ORPHAN_SCAN_PASSES` passes (upstream
//!   PodGC lists them all every 20 s), in a summary of each kept from the shared pod watch
//!   ([`podindex`]) as PodGC reads its informer, and the pods of a node at once when it
//!   disappears.
//! - *Unscheduled terminating pods* (`gcUnscheduledTerminating`): a pod deleted before it was
//!   bound has no kubelet to end it, so the same look marks it Failed and deletes it without
//!   grace. A Job whose pods are replaced only once they failed (`podReplacementPolicy: Failed`,
//!   implied by a `podFailurePolicy`) waits for that phase, and would wait forever.
//! - *Terminating pods of out-of-service nodes* (`gcTerminating`): the same look marks Failed
//!   and deletes without grace the terminating pods of a node that is not Ready and carries
//!   the `node.kubernetes.io/out-of-service` taint, upstream's non-graceful node shutdown: how
//!   an operator releases the pods of a dead machine without deleting its Node.

mod podindex;

use crate::podfeed::PodSource;
use crate::scheduler::fit::matching_toleration;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use podindex::{PodIndex, PodSummary};
use runlet_api::clock::{Clock, rfc3339};
use runlet_api::eventtype::EventType::{self, Normal, Warning};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The taint of a node whose Ready condition is False.
pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
/// The taint of a node whose Ready condition is Unknown.
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";
/// The taint of a cordoned node.
pub const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";
/// The taint an operator puts on a node that is down for good, to release its pods.
pub const OUT_OF_SERVICE_TAINT: &str = "node.kubernetes.io/out-of-service";
/// Passes between two looks at every pod for orphans (4 × 5 s: upstream PodGC's 20 s).
const ORPHAN_SCAN_PASSES: u64 = 4;
const CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// How often and how patiently nodes are watched.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Between passes (upstream `--node-monitor-period`, 5 s).
    pub monitor_period: Duration,
    /// How long a node may go unheard (upstream `--node-monitor-grace-period`: 50 s since
    /// Kubernetes 1.32); also the quarantine of a pod whose node is missing.
    pub grace_period: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            monitor_period: Duration::from_secs(5),
            grace_period: Duration::from_secs(50),
        }
    }
}

/// Errors of one pass; the next pass tries again.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

/// When a node was last heard from, and what it said then.
struct Heard {
    /// The Ready condition's `lastHeartbeatTime` and the Lease's `renewTime`, in µs.
    heartbeat: Option<i64>,
    renew: Option<i64>,
    at_ms: i64,
}

/// The controller's memory between passes.
#[derive(Default)]
struct State {
    heard: HashMap<String, Heard>,
    /// Nodes named by pods but absent, with when they were first found absent.
    missing: HashMap<String, i64>,
    /// Passes left until the next look for orphans among all pods (the first pass after the
    /// pod index has its first list looks).
    passes_to_scan: u64,
    /// When each pod (by UID) was first found on a node with `NoExecute` taints it tolerates
    /// only for a while: its eviction timer's start.
    evicting_since: HashMap<String, i64>,
}

/// Runs passes until `cancel` fires, with every pod's summary from `pods`.
pub async fn run(
    client: kube::Client,
    clock: Arc<dyn Clock>,
    pods: PodSource,
    config: Config,
    cancel: CancellationToken,
) {
    let index = Arc::new(Mutex::new(PodIndex::default()));
    let passes = async {
        let mut state = State::default();
        loop {
            if let Err(e) = pass(&client, clock.as_ref(), config, &index, &mut state).await {
                tracing::info!(error = %e, "node lifecycle pass");
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(config.monitor_period) => {}
            }
        }
    };
    tokio::join!(
        podindex::follow(index.clone(), pods, cancel.clone()),
        passes
    );
}

async fn pass(
    client: &kube::Client,
    clock: &dyn Clock,
    config: Config,
    index: &Mutex<PodIndex>,
    state: &mut State,
) -> Result<(), Error> {
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    let leases: HashMap<String, Lease> =
        Api::<Lease>::namespaced(client.clone(), "kube-node-lease")
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter_map(|l| Some((l.metadata.name.clone()?, l)))
            .collect();
    let now = clock.now_millis();
    let grace = config.grace_period.as_millis() as i64;
    let names: HashSet<String> = nodes
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    for gone in state.heard.keys().filter(|n| !names.contains(*n)) {
        state.missing.entry(gone.clone()).or_insert(now);
    }
    state.heard.retain(|n, _| names.contains(n));
    // Pods still on a tainted node; the timers of the others are dropped.
    let mut seen_evicting = HashSet::new();
    let mut out_of_service = HashSet::new();
    for node in &nodes {
        let Some(name) = node.metadata.name.clone() else {
            continue;
        };
        state.missing.remove(&name);
        let heartbeat = condition(node, "Ready")
            .and_then(|c| c.last_heartbeat_time.as_ref())
            .map(|t| t.0.as_microsecond());
        let renew = leases
            .get(&name)
            .and_then(|l| l.spec.as_ref()?.renew_time.as_ref())
            .map(|t| t.0.as_microsecond());
        let heard = state.heard.entry(name.clone()).or_insert(Heard {
            heartbeat,
            renew,
            at_ms: now,
        });
        if heard.heartbeat != heartbeat || heard.renew != renew {
            *heard = Heard {
                heartbeat,
                renew,
                at_ms: now,
            };
        }
        let mut ready = condition(node, "Ready").map(|c| c.status.clone());
        if now - heard.at_ms > grace && ready.as_deref() != Some("Unknown") {
            mark_unknown(client, clock, node, &name).await?;
            ready = Some("Unknown".into());
        }
        let taints = set_ready_taints(client, clock, node, &name, ready.as_deref()).await?;
        let tainted_out_of_service = node
            .spec
            .iter()
            .flat_map(|s| s.taints.iter().flatten())
            .any(|t| t.key == OUT_OF_SERVICE_TAINT);
        if ready.as_deref() != Some("True") && tainted_out_of_service {
            out_of_service.insert(name.clone());
        }
        evict(client, clock, &name, &taints, &mut seen_evicting, state).await?;
    }
    state
        .evicting_since
        .retain(|uid, _| seen_evicting.contains(uid));
    collect_orphans(client, now, grace, &names, &out_of_service, index, state).await
}

fn condition<'a>(node: &'a Node, kind: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
}

/// `tryUpdateNodeHealth` for a node not heard from: its conditions become Unknown, its pods
/// not ready.
async fn mark_unknown(
    client: &kube::Client,
    clock: &dyn Clock,
    node: &Node,
    name: &str,
) -> Result<(), Error> {
    let now = rfc3339(clock.now_unix());
    let conditions: Vec<serde_json::Value> = CONDITIONS
        .iter()
        .map(|kind| match condition(node, kind) {
            Some(c) => json!({
                "type": kind, "status": "Unknown", "reason": "NodeStatusUnknown",
                "message": "Kubelet stopped posting node status.",
                "lastHeartbeatTime": c.last_heartbeat_time,
                "lastTransitionTime": now,
            }),
            None => json!({
                "type": kind, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                "message": "Kubelet never posted node status.",
                "lastHeartbeatTime": now,
                "lastTransitionTime": now,
            }),
        })
        .collect();
    Api::<Node>::all(client.clone())
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Strategic(json!({"status": {"conditions": conditions}})),
        )
        .await?;
    tracing::info!(node = name, "node not heard from: conditions Unknown");
    record(
        client,
        "default",
        json!({"kind": "Node", "apiVersion": "v1", "name": name, "uid": node.metadata.uid}),
        Normal,
        "NodeNotReady",
        &format!("Node {name} status is now: NodeNotReady"),
        &now,
    )
    .await;
    let pods = pods_on(client, name).await?;
    for pod in pods.iter().filter(|p| !ended(p)) {
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"));
        if ready.is_none_or(|c| c.status == "False") {
            continue;
        }
        let (Some(ns), Some(pod_name)) = (&pod.metadata.namespace, &pod.metadata.name) else {
            continue;
        };
        let patch = json!({"status": {"conditions": [
            {"type": "Ready", "status": "False", "lastTransitionTime": now}
        ]}});
        match Api::<Pod>::namespaced(client.clone(), ns)
            .patch_status(pod_name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
        {
            // Upstream's `MarkPodsNotReady` tells each pod why.
            Ok(_) => {
                let involved = json!({"kind": "Pod", "apiVersion": "v1", "namespace": ns,
                    "name": pod_name, "uid": pod.metadata.uid});
                let (reason, message) = ("NodeNotReady", "Node is not ready");
                record(client, ns, involved, Warning, reason, message, &now).await;
            }
            Err(e) => tracing::info!(pod = pod_name, error = %e, "marking a pod not ready"),
        }
    }
    Ok(())
}

/// The node's taints with the Ready taints as its Ready condition calls for, and the
/// unschedulable taint while it is cordoned, written when they changed; the taints the node has
/// now.
async fn set_ready_taints(
    client: &kube::Client,
    clock: &dyn Clock,
    node: &Node,
    name: &str,
    ready: Option<&str>,
) -> Result<Vec<Taint>, Error> {
    let current: Vec<Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let wanted_key = match ready {
        Some("False") => Some(NOT_READY_TAINT),
        Some("Unknown") => Some(UNREACHABLE_TAINT),
        _ => None,
    };
    let cordoned = node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true);
    let mut taints: Vec<Taint> = current
        .iter()
        .filter(|t| {
            let ours = t.key == NOT_READY_TAINT || t.key == UNREACHABLE_TAINT;
            let cordon = t.key == UNSCHEDULABLE_TAINT && t.effect == "NoSchedule";
            (!ours || Some(t.key.as_str()) == wanted_key) && (!cordon || cordoned)
        })
        .cloned()
        .collect();
    if cordoned
        && !taints
            .iter()
            .any(|t| t.key == UNSCHEDULABLE_TAINT && t.effect == "NoSchedule")
    {
        taints.push(Taint {
            key: UNSCHEDULABLE_TAINT.into(),
            effect: "NoSchedule".into(),
            time_added: None,
            value: None,
        });
    }
    if let Some(key) = wanted_key {
        for effect in ["NoSchedule", "NoExecute"] {
            if !taints.iter().any(|t| t.key == key && t.effect == effect) {
                taints.push(Taint {
                    key: key.into(),
                    effect: effect.into(),
                    time_added: (effect == "NoExecute")
                        .then(|| k8s_openapi::jiff::Timestamp::from_millisecond(clock.now_millis()))
                        .and_then(Result::ok)
                        .map(Time),
                    value: None,
                });
            }
        }
    }
    if taints != current {
        // No taints left: the field goes, as upstream's (omitempty) list does.
        let written = if taints.is_empty() {
            serde_json::Value::Null
        } else {
            json!(taints)
        };
        Api::<Node>::all(client.clone())
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"taints": written}})),
            )
            .await?;
        tracing::info!(node = name, ready = ?ready, "node taints updated");
    }
    Ok(taints)
}

/// How long a pod on a node with these `NoExecute` taints may stay, in milliseconds (upstream
/// `getMinTolerationTime`): 0 for a taint it does not tolerate, `None` when it tolerates them
/// all for ever.
pub fn eviction_delay(pod: &Pod, taints: &[Taint]) -> Option<i64> {
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default();
    taints
        .iter()
        .filter(|t| t.effect == "NoExecute")
        .filter_map(|taint| match matching_toleration(tolerations, taint) {
            None => Some(0),
            Some(t) => t
                .toleration_seconds
                .map(|secs| secs.max(0).saturating_mul(1000)),
        })
        .min()
}

fn ended(pod: &Pod) -> bool {
    terminal(pod.status.as_ref().and_then(|s| s.phase.as_deref()))
}

fn terminal(phase: Option<&str>) -> bool {
    matches!(phase, Some("Succeeded" | "Failed"))
}

async fn pods_on(client: &kube::Client, node: &str) -> Result<Vec<Pod>, Error> {
    Ok(Api::<Pod>::all(client.clone())
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await?
        .items)
}

/// Deletes the pods of a node with `NoExecute` taints whose time has come.
async fn evict(
    client: &kube::Client,
    clock: &dyn Clock,
    node: &str,
    taints: &[Taint],
    seen: &mut HashSet<String>,
    state: &mut State,
) -> Result<(), Error> {
    if !taints.iter().any(|t| t.effect == "NoExecute") {
        return Ok(());
    }
    let now_ms = clock.now_millis();
    for pod in pods_on(client, node).await? {
        if ended(&pod) || pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(delay) = eviction_delay(&pod, taints) else {
            continue;
        };
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let since = *state.evicting_since.entry(uid.clone()).or_insert(now_ms);
        seen.insert(uid);
        if since + delay <= now_ms {
            let now = rfc3339(clock.now_unix());
            let (Some(ns), Some(name)) = (&pod.metadata.namespace, &pod.metadata.name) else {
                continue;
            };
            record(
                client,
                ns,
                json!({"kind": "Pod", "apiVersion": "v1", "namespace": ns, "name": name,
                    "uid": pod.metadata.uid}),
                Normal,
                "TaintManagerEviction",
                &format!("Marking for deletion Pod {ns}/{name}"),
                &now,
            )
            .await;
            let condition = json!({"type": "DisruptionTarget", "status": "True",
                "reason": "DeletionByTaintManager",
                "message": "Taint manager: deleting due to NoExecute taint",
                "lastTransitionTime": now});
            dispose(
                client,
                (ns, name),
                Some(condition),
                None,
                DeleteParams::default(),
            )
            .await;
        }
    }
    Ok(())
}

/// Adds `condition` and `phase` (those given) to the pod's status, then deletes it with
/// `params`.
async fn dispose(
    client: &kube::Client,
    (ns, name): (&str, &str),
    condition: Option<serde_json::Value>,
    phase: Option<&str>,
    params: DeleteParams,
) {
    let api = Api::<Pod>::namespaced(client.clone(), ns);
    let mut status = serde_json::Map::new();
    if let Some(condition) = condition {
        status.insert("conditions".into(), json!([condition]));
    }
    if let Some(phase) = phase {
        status.insert("phase".into(), json!(phase));
    }
    if !status.is_empty()
        && let Err(e) = api
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Strategic(json!({"status": status})),
            )
            .await
    {
        tracing::info!(pod = %name, error = %e, "marking a pod disrupted or failed");
    }
    match api.delete(name, &params).await {
        Ok(_) => tracing::info!(pod = %name, "pod deleted by the node lifecycle controller"),
        Err(e) => tracing::info!(pod = %name, error = %e, "deleting a pod"),
    }
}

/// A look at every pod: the nodes they name that do not exist start their quarantine, and the
/// terminating pods nothing will end are returned, each with why (none before the index has
/// its first list, and then the next pass looks again).
fn scan(
    now: i64,
    nodes: &HashSet<String>,
    out_of_service: &HashSet<String>,
    index: &Mutex<PodIndex>,
    state: &mut State,
) -> Vec<(PodSummary, &'static str)> {
    let Ok(index) = index.lock() else {
        return Vec::new();
    };
    let Some(pods) = index.pods() else {
        return Vec::new();
    };
    state.passes_to_scan = ORPHAN_SCAN_PASSES - 1;
    let mut doomed = Vec::new();
    for pod in pods {
        if let Some(node) = &pod.node
            && !nodes.contains(node)
        {
            state.missing.entry(node.clone()).or_insert(now);
            continue;
        }
        if !pod.deleting {
            continue;
        }
        let why = match &pod.node {
            None => "an unscheduled pod is terminating",
            Some(node) if out_of_service.contains(node) => {
                "a terminating pod of an out-of-service node"
            }
            Some(_) => continue,
        };
        doomed.push((pod.clone(), why));
    }
    doomed
}

/// Upstream PodGC's `gcOrphaned`: pods bound to a node that stayed absent for the quarantine
/// are failed and deleted without grace; its `gcUnscheduledTerminating`: so are pods deleted
/// before they were bound; and its `gcTerminating`: so are terminating pods of the nodes
/// `out_of_service` names.
async fn collect_orphans(
    client: &kube::Client,
    now: i64,
    quarantine: i64,
    nodes: &HashSet<String>,
    out_of_service: &HashSet<String>,
    index: &Mutex<PodIndex>,
    state: &mut State,
) -> Result<(), Error> {
    let doomed = match state.passes_to_scan.checked_sub(1) {
        Some(left) => {
            state.passes_to_scan = left;
            Vec::new()
        }
        None => scan(now, nodes, out_of_service, index, state),
    };
    for (pod, why) in doomed {
        tracing::info!(pod = %pod.name, namespace = %pod.namespace, "{why}: failed and deleted");
        dispose(
            client,
            (&pod.namespace, &pod.name),
            None,
            (!pod.ended).then_some("Failed"),
            DeleteParams::default().grace_period(0),
        )
        .await;
    }
    let due: Vec<String> = state
        .missing
        .iter()
        .filter(|(_, since)| now - **since >= quarantine)
        .map(|(n, _)| n.clone())
        .collect();
    for node in due {
        let at = rfc3339(now.div_euclid(1000));
        for pod in pods_on(client, &node).await? {
            let (Some(ns), Some(name)) = (&pod.metadata.namespace, &pod.metadata.name) else {
                continue;
            };
            let condition = json!({"type": "DisruptionTarget", "status": "True",
                "reason": "DeletionByPodGC", "message": "PodGC: node no longer exists",
                "lastTransitionTime": at});
            let phase = (!ended(&pod)).then_some("Failed");
            dispose(
                client,
                (ns, name),
                Some(condition),
                phase,
                DeleteParams::default().grace_period(0),
            )
            .await;
        }
        state.missing.remove(&node);
    }
    Ok(())
}

/// Writes an event from the node controller (best effort, as upstream's recorder).
async fn record(
    client: &kube::Client,
    namespace: &str,
    involved: serde_json::Value,
    type_: EventType,
    reason: &str,
    message: &str,
    now: &str,
) {
    crate::event::write(
        client,
        crate::event::Event {
            component: "node-controller",
            namespace,
            involved,
            type_,
            reason,
            message,
            now,
            name: None,
        },
    )
    .await;
}
