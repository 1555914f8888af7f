//! The PersistentVolume controller, the part of upstream's
//! `pkg/controller/volume/persistentvolume` that runlet needs beside its local-path provisioner
//! (which binds, releases and reclaims the volumes it makes itself, on their node):
//!
//! - a volume made by hand is `Available` until a claim is bound to it;
//! - an unbound claim of immediate binding (no class, a class that does not exist, an
//!   `Immediate` one) is bound to the volume its `spec.volumeName` names, else to the smallest
//!   `Available` volume that matches it (`findMatchingVolume`: not bound to another claim, same
//!   class and volume mode, every access mode it asks for, its selector, enough capacity), as
//!   upstream writes a binding: the volume's `claimRef` and `Bound` phase, the claim's
//!   `volumeName`, annotations, capacity, access modes and `Bound` phase;
//! - a volume whose claim is gone is `Released`; one of policy `Delete` that no provisioner here
//!   made is then `Failed` with a `VolumeFailedDelete` event, as upstream fails a volume no
//!   plugin can delete (runlet has none), while `Retain` keeps it `Released`;
//! - a claim that waits says why, once, with upstream's events: `WaitForFirstConsumer` (no pod
//!   uses it yet), `WaitForPodScheduled`, `FailedBinding` (no volume and no class),
//!   `ProvisioningFailed` (its class does not exist), `ExternalProvisioning` (a provisioner
//!   runlet does not have).
//!
//! Shape: reflectors of claims, volumes and classes; each burst of events is followed by one
//! pass over all of them. Writes carry the resourceVersion they were decided on, so a pass on
//! stale stores fails with a conflict and the next pass decides again.

use crate::event;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use runlet_api::clock::{Clock, rfc3339};
use runlet_api::eventtype::EventType::{self, Normal, Warning};
use runlet_api::storageclass::{ClaimBinding, LOCAL_PATH_PROVISIONER, binding_of, class_of};
use runlet_api::validation::quantity::Quantity;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The component named in this controller's events, as upstream's.
const COMPONENT: &str = "persistentvolume-controller";
const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
const BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
const BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";

/// Runs until `shutdown`.
pub async fn run(client: kube::Client, clock: Arc<dyn Clock>, shutdown: CancellationToken) {
    let (claims, claim_writer) = reflector::store::<PersistentVolumeClaim>();
    let (volumes, volume_writer) = reflector::store::<PersistentVolume>();
    let (classes, class_writer) = reflector::store::<StorageClass>();
    let mut events = futures::stream::select_all([
        reflector::reflector(
            claim_writer,
            watcher(Api::all(client.clone()), watcher::Config::default()),
        )
        .default_backoff()
        .map(|e| (0, listed(&e)))
        .boxed(),
        reflector::reflector(
            volume_writer,
            watcher(Api::all(client.clone()), watcher::Config::default()),
        )
        .default_backoff()
        .map(|e| (1, listed(&e)))
        .boxed(),
        reflector::reflector(
            class_writer,
            watcher(Api::all(client.clone()), watcher::Config::default()),
        )
        .default_backoff()
        .map(|e| (2, listed(&e)))
        .boxed(),
    ]);
    let mut listed = [false; 3];
    let mut told = Told::default();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            ev = events.next() => match ev {
                Some((store, done)) => listed[store] |= done,
                None => return,
            },
        }
        // Gather the burst before a pass.
        let burst = tokio::time::sleep(Duration::from_millis(20));
        tokio::pin!(burst);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = &mut burst => break,
                ev = events.next() => match ev {
                    Some((store, done)) => listed[store] |= done,
                    None => return,
                },
            }
        }
        if listed.iter().all(|l| *l) {
            pass(
                &client,
                clock.as_ref(),
                &claims,
                &volumes,
                &classes,
                &mut told,
            )
            .await;
        }
    }
}

/// Whether a reflector's event says its store has listed.
fn listed<K>(event: &Result<watcher::Event<K>, watcher::Error>) -> bool {
    matches!(event, Ok(watcher::Event::InitDone))
}

/// The reason each waiting claim was last told, by uid: told once, not at every pass.
#[derive(Default)]
struct Told(HashMap<String, &'static str>);

/// Whether a volume is one of the local-path provisioner's, which it looks after itself.
fn provisioned_here(pv: &PersistentVolume) -> bool {
    pv.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PROVISIONED_BY))
        .map(String::as_str)
        == Some(LOCAL_PATH_PROVISIONER)
}

fn phase(pv: &PersistentVolume) -> &str {
    pv.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or_default()
}

fn storage(
    q: Option<
        &std::collections::BTreeMap<
            String,
            k8s_openapi::apimachinery::pkg::api::resource::Quantity,
        >,
    >,
) -> Quantity {
    q.and_then(|m| m.get("storage"))
        .and_then(|q| Quantity::parse(&q.0))
        .unwrap_or_default()
}

/// What a pass does to one volume.
#[derive(Debug, PartialEq)]
enum VolumeStep {
    Nothing,
    Available,
    Released,
    /// Released, of policy `Delete`, and nothing here can delete it.
    CannotDelete,
}

fn volume_step(pv: &PersistentVolume, claims: &Store<PersistentVolumeClaim>) -> VolumeStep {
    if pv.metadata.deletion_timestamp.is_some() {
        return VolumeStep::Nothing;
    }
    let spec = pv.spec.as_ref();
    let claim_ref = spec.and_then(|s| s.claim_ref.as_ref());
    match (phase(pv), claim_ref) {
        // Made by hand, or bound ahead to a claim by name: free until a claim is bound to it.
        ("" | "Pending", r) if r.is_none_or(|r| r.uid.is_none()) => VolumeStep::Available,
        ("Bound", Some(r)) if r.uid.is_some() => {
            let key = reflector::ObjectRef::<PersistentVolumeClaim>::new(
                r.name.as_deref().unwrap_or_default(),
            )
            .within(r.namespace.as_deref().unwrap_or_default());
            let present = claims.get(&key).is_some_and(|c| c.metadata.uid == r.uid);
            if present {
                VolumeStep::Nothing
            } else {
                VolumeStep::Released
            }
        }
        ("Released", _)
            if spec.and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
                == Some("Delete") =>
        {
            VolumeStep::CannotDelete
        }
        _ => VolumeStep::Nothing,
    }
}

/// Whether `pv` may be bound to `claim` (upstream's `findMatchingVolume` checks), and its
/// capacity if so.
fn matches(pv: &PersistentVolume, claim: &PersistentVolumeClaim, named: bool) -> Option<Quantity> {
    let spec = pv.spec.as_ref()?;
    let cspec = claim.spec.as_ref()?;
    if pv.metadata.deletion_timestamp.is_some() {
        return None;
    }
    match &spec.claim_ref {
        Some(r) => {
            let same = r.name == claim.metadata.name
                && r.namespace == claim.metadata.namespace
                && (r.uid.is_none() || r.uid == claim.metadata.uid);
            if !same {
                return None;
            }
        }
        // Only a volume that is `Available` is free for any claim.
        None if !named && phase(pv) != "Available" => return None,
        None => {}
    }
    let mode = |m: Option<&String>| m.map_or("Filesystem", String::as_str).to_string();
    if mode(spec.volume_mode.as_ref()) != mode(cspec.volume_mode.as_ref()) {
        return None;
    }
    if spec.storage_class_name.as_deref().unwrap_or_default() != class_of(claim).unwrap_or_default()
    {
        return None;
    }
    let offered = spec.access_modes.as_deref().unwrap_or_default();
    if !cspec
        .access_modes
        .iter()
        .flatten()
        .all(|m| offered.contains(m))
    {
        return None;
    }
    if let Some(sel) = &cspec.selector {
        let sel = serde_json::to_value(sel).ok();
        let labels = serde_json::to_value(&pv.metadata.labels).ok();
        let selected = runlet_api::validation::labelselector::selector_matches(
            sel.as_ref(),
            labels.as_ref().filter(|l| !l.is_null()),
        );
        if selected != Some(true) {
            return None;
        }
    }
    let capacity = storage(spec.capacity.as_ref());
    let requested = storage(cspec.resources.as_ref().and_then(|r| r.requests.as_ref()));
    (capacity >= requested).then_some(capacity)
}

/// The volume to bind `claim` to: the one it names, else the smallest that matches.
fn best_volume<'a>(
    claim: &PersistentVolumeClaim,
    volumes: &'a [Arc<PersistentVolume>],
) -> Option<&'a PersistentVolume> {
    let named = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .filter(|n| !n.is_empty());
    if let Some(name) = named {
        return volumes
            .iter()
            .find(|v| v.metadata.name.as_deref() == Some(name))
            .filter(|v| matches(v, claim, true).is_some())
            .map(AsRef::as_ref);
    }
    // A volume already naming this claim comes first, as upstream's pre-bound volumes do.
    let prebound = volumes.iter().find(|v| {
        v.spec.as_ref().and_then(|s| s.claim_ref.as_ref()).is_some()
            && matches(v, claim, false).is_some()
    });
    if let Some(v) = prebound {
        return Some(v);
    }
    volumes
        .iter()
        .filter(|v| !provisioned_here(v))
        .filter_map(|v| Some((matches(v, claim, false)?, v)))
        .min_by(|(a, _), (b, _)| a.cmp(b))
        .map(|(_, v)| v.as_ref())
}

/// Why an unbound claim waits, with upstream's event: (type, reason, message).
fn waiting_reason(
    claim: &PersistentVolumeClaim,
    binding: &ClaimBinding,
    used_by: Option<&str>,
) -> (EventType, &'static str, String) {
    let class = class_of(claim).unwrap_or_default();
    match binding {
        ClaimBinding::LocalPath | ClaimBinding::Delayed { .. } => match used_by {
            None => (
                Normal,
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding".into(),
            ),
            Some(pod) => (
                Normal,
                "WaitForPodScheduled",
                format!("waiting for pod {pod} to be scheduled"),
            ),
        },
        ClaimBinding::Immediate if class.is_empty() => (
            Normal,
            "FailedBinding",
            "no persistent volumes available for this claim and no storage class is set".into(),
        ),
        ClaimBinding::Immediate => (
            Warning,
            "ProvisioningFailed",
            format!("storageclass.storage.k8s.io {class:?} not found"),
        ),
    }
}

async fn pass(
    client: &kube::Client,
    clock: &dyn Clock,
    claims: &Store<PersistentVolumeClaim>,
    volumes: &Store<PersistentVolume>,
    classes: &Store<StorageClass>,
    told: &mut Told,
) {
    let now = rfc3339(clock.now_unix());
    let pv_api: Api<PersistentVolume> = Api::all(client.clone());
    let all_volumes = volumes.state();
    for pv in &all_volumes {
        if provisioned_here(pv) {
            continue;
        }
        let name = pv.metadata.name.clone().unwrap_or_default();
        let (status, message) = match volume_step(pv, claims) {
            VolumeStep::Nothing => continue,
            VolumeStep::Available => ("Available", None),
            VolumeStep::Released => ("Released", None),
            VolumeStep::CannotDelete => {
                let why = format!(
                    "error getting deleter volume plugin for volume {name:?}: no deletable volume plugin matched"
                );
                event::write(
                    client,
                    event::Event {
                        component: COMPONENT,
                        namespace: "default",
                        involved: json!({"kind": "PersistentVolume", "apiVersion": "v1",
                            "name": name, "uid": pv.metadata.uid}),
                        type_: Warning,
                        reason: "VolumeFailedDelete",
                        message: &why,
                        now: &now,
                        name: None,
                    },
                )
                .await;
                ("Failed", Some(why))
            }
        };
        let patch = json!({"metadata": {"resourceVersion": pv.metadata.resource_version},
            "status": {"phase": status, "message": message}});
        if let Err(e) = pv_api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            tracing::debug!(volume = %name, error = %e, "persistentvolume phase");
        }
    }
    let class_by_name: HashMap<String, Arc<StorageClass>> = classes
        .state()
        .into_iter()
        .filter_map(|c| Some((c.metadata.name.clone()?, c)))
        .collect();
    let all_claims = claims.state();
    // Forget what was told to claims that are gone.
    let present: std::collections::HashSet<&str> = all_claims
        .iter()
        .filter_map(|c| c.metadata.uid.as_deref())
        .collect();
    told.0.retain(|uid, _| present.contains(uid.as_str()));
    for claim in &all_claims {
        let uid = claim.metadata.uid.clone().unwrap_or_default();
        let bound = claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
        if bound || claim.metadata.deletion_timestamp.is_some() {
            told.0.remove(&uid);
            continue;
        }
        let class = class_of(claim);
        let binding = binding_of(
            class,
            class.and_then(|c| class_by_name.get(c)).map(AsRef::as_ref),
        );
        let named = claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.as_deref())
            .is_some_and(|n| !n.is_empty());
        if (binding == ClaimBinding::Immediate || named)
            && let Some(pv) = best_volume(claim, &all_volumes)
        {
            if let Err(e) = bind(client, pv, claim).await {
                tracing::debug!(error = %e, "binding a claim");
            }
            continue;
        }
        let used_by = match binding {
            ClaimBinding::Immediate => None,
            _ => first_user(client, claim).await,
        };
        let (type_, reason, message) = match (
            &binding,
            class_by_name.get(class.unwrap_or_default()),
        ) {
            (ClaimBinding::Immediate, Some(c)) if !class.unwrap_or_default().is_empty() => (
                Normal,
                "ExternalProvisioning",
                format!(
                    "Waiting for a volume to be created either by the external provisioner '{}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.",
                    c.provisioner
                ),
            ),
            _ => waiting_reason(claim, &binding, used_by.as_deref()),
        };
        if told.0.get(&uid) == Some(&reason) {
            continue;
        }
        told.0.insert(uid, reason);
        let ns = claim.metadata.namespace.clone().unwrap_or_default();
        event::write(
            client,
            event::Event {
                component: COMPONENT,
                namespace: &ns,
                involved: json!({"kind": "PersistentVolumeClaim", "apiVersion": "v1",
                    "namespace": ns, "name": claim.metadata.name, "uid": claim.metadata.uid,
                    "resourceVersion": claim.metadata.resource_version}),
                type_,
                reason,
                message: &message,
                now: &now,
                name: None,
            },
        )
        .await;
    }
}

/// The name of a pod that uses `claim`, if one does (a live list: rare, and only for claims
/// that wait).
async fn first_user(client: &kube::Client, claim: &PersistentVolumeClaim) -> Option<String> {
    let ns = claim.metadata.namespace.as_deref()?;
    let name = claim.metadata.name.as_deref()?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let list = pods.list(&ListParams::default()).await.ok()?;
    list.items
        .into_iter()
        .find(|p| {
            p.spec
                .iter()
                .flat_map(|s| s.volumes.iter().flatten())
                .filter_map(|v| v.persistent_volume_claim.as_ref())
                .any(|c| c.claim_name == name)
        })
        .and_then(|p| p.metadata.name)
}

/// Binds `claim` to `pv` as upstream's `bind` writes it: the volume first (its `claimRef`,
/// then its phase), then the claim (its `volumeName` and annotations, then its status).
async fn bind(
    client: &kube::Client,
    pv: &PersistentVolume,
    claim: &PersistentVolumeClaim,
) -> Result<(), kube::Error> {
    let pv_name = pv.metadata.name.clone().unwrap_or_default();
    let ns = claim.metadata.namespace.clone().unwrap_or_default();
    let claim_name = claim.metadata.name.clone().unwrap_or_default();
    let pv_api: Api<PersistentVolume> = Api::all(client.clone());
    let claim_api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    let by_controller = pv
        .spec
        .as_ref()
        .and_then(|s| s.claim_ref.as_ref())
        .is_none();
    let mut volume_meta = json!({"resourceVersion": pv.metadata.resource_version});
    if by_controller {
        volume_meta["annotations"] = json!({BOUND_BY_CONTROLLER: "yes"});
    }
    let claim_ref = json!({"kind": "PersistentVolumeClaim", "apiVersion": "v1",
        "namespace": ns, "name": claim_name, "uid": claim.metadata.uid,
        "resourceVersion": claim.metadata.resource_version});
    pv_api
        .patch(
            &pv_name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": volume_meta, "spec": {"claimRef": claim_ref}})),
        )
        .await?;
    pv_api
        .patch_status(
            &pv_name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {"phase": "Bound"}})),
        )
        .await?;
    let spec = pv.spec.clone().unwrap_or_default();
    let mut annotations = json!({BIND_COMPLETED: "yes"});
    let named = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    if !named {
        annotations[BOUND_BY_CONTROLLER] = json!("yes");
    }
    claim_api
        .patch(
            &claim_name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"annotations": annotations},
                "spec": {"volumeName": pv_name}})),
        )
        .await?;
    let status: Value = json!({"status": {"phase": "Bound",
        "accessModes": spec.access_modes, "capacity": spec.capacity}});
    claim_api
        .patch_status(&claim_name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    tracing::info!(claim = %claim_name, namespace = %ns, volume = %pv_name, "claim bound");
    Ok(())
}

#[cfg(test)]
#[path = "persistentvolume_tests.rs"]
mod tests;
