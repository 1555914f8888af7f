//! Storage object in-use protection, as upstream's `pvcprotection` and `pvprotection`
//! controllers: a PersistentVolumeClaim that a pod uses, or a PersistentVolume that is bound,
//! is not removed when deleted, only marked; it goes once nothing uses it.
//!
//! Why: deleting a claim releases its volume, and the local-path provisioner then removes the
//! volume's directory. Without protection, `kubectl delete pvc` wiped the data under a pod that
//! was still writing to it.
//!
//! Shape: the API server adds the finalizers on create (upstream's
//! `StorageObjectInUseProtection` admission: `kubernetes.io/pvc-protection` on claims,
//! `kubernetes.io/pv-protection` on volumes). This controller watches claims, volumes and (through
//! the shared pod feed) pods, and takes the finalizer off
//! - a claim being deleted once no scheduled pod names it in a `persistentVolumeClaim` volume
//!   (upstream's `podUsesPVC`: finished pods count until they are deleted, since they may
//!   still be restarted or inspected), checked against its cache and then a live list, as
//!   upstream's `askAPIServer` does, so a pod created meanwhile is not missed;
//! - a volume being deleted once it is not `Bound`.

use crate::podfeed::PodSource;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use tokio_util::sync::CancellationToken;

/// The finalizer that keeps a claim while pods use it.
pub const PVC_FINALIZER: &str = "kubernetes.io/pvc-protection";
/// The finalizer that keeps a volume while it is bound.
pub const PV_FINALIZER: &str = "kubernetes.io/pv-protection";

/// A claim: namespace and name.
type ClaimKey = (String, String);

/// Runs until `shutdown`.
pub async fn run(client: kube::Client, pods: PodSource, shutdown: CancellationToken) {
    let claims = watcher::watcher(
        Api::<PersistentVolumeClaim>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff();
    let volumes = watcher::watcher(
        Api::<PersistentVolume>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff();
    tokio::pin!(claims, volumes);
    let mut pods = pods.into_stream();
    let mut users = Users::default();
    // Claims being deleted that still carry the finalizer.
    let mut held: HashSet<ClaimKey> = HashSet::new();
    loop {
        let mut check: Vec<ClaimKey> = Vec::new();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            event = claims.next() => match event {
                Some(Ok(Event::Apply(c) | Event::InitApply(c))) => {
                    let key = claim_key(&c);
                    if c.metadata.deletion_timestamp.is_some() && has(&c.metadata.finalizers, PVC_FINALIZER) {
                        held.insert(key.clone());
                        check.push(key);
                    } else {
                        held.remove(&key);
                    }
                }
                Some(Ok(Event::Delete(c))) => {
                    held.remove(&claim_key(&c));
                }
                Some(Ok(Event::Init | Event::InitDone)) => {}
                Some(Err(e)) => tracing::debug!(error = %e, "claim watch"),
                None => return,
            },
            event = volumes.next() => match event {
                Some(Ok(Event::Apply(v) | Event::InitApply(v))) => release_volume(&client, &v).await,
                Some(Ok(_)) => {}
                Some(Err(e)) => tracing::debug!(error = %e, "volume watch"),
                None => return,
            },
            event = pods.next() => match event {
                Some(Ok(Event::Init)) => users.clear(),
                Some(Ok(Event::Apply(p) | Event::InitApply(p))) => {
                    // A claim a pod stopped holding may now go.
                    check.extend(users.set(&p, uses(&p)));
                }
                Some(Ok(Event::Delete(p))) => check.extend(users.set(&p, Vec::new())),
                Some(Ok(Event::InitDone)) => check.extend(held.iter().cloned()),
                Some(Err(e)) => tracing::debug!(error = %e, "pod watch"),
                None => return,
            },
        }
        for key in check {
            if held.contains(&key) && !users.any(&key) && release_claim(&client, &key).await {
                held.remove(&key);
            }
        }
    }
}

/// Which scheduled pods use which claims, from the pod watch.
#[derive(Default)]
struct Users {
    by_pod: HashMap<ClaimKey, Vec<ClaimKey>>,
    by_claim: HashMap<ClaimKey, HashSet<ClaimKey>>,
}

impl Users {
    fn clear(&mut self) {
        self.by_pod.clear();
        self.by_claim.clear();
    }

    /// Records that `pod` uses `claims` now; returns the claims it no longer uses.
    fn set(&mut self, pod: &Pod, claims: Vec<ClaimKey>) -> Vec<ClaimKey> {
        // Most pods name no claim at all: nothing to record or to forget (a pod's volumes
        // never change), and nothing allocated for them.
        if claims.is_empty() && !names_a_claim(pod) {
            return Vec::new();
        }
        let pod_key = (
            pod.metadata.namespace.clone().unwrap_or_default(),
            pod.metadata.name.clone().unwrap_or_default(),
        );
        let before = if claims.is_empty() {
            self.by_pod.remove(&pod_key).unwrap_or_default()
        } else {
            self.by_pod
                .insert(pod_key.clone(), claims.clone())
                .unwrap_or_default()
        };
        for claim in &claims {
            self.by_claim
                .entry(claim.clone())
                .or_default()
                .insert(pod_key.clone());
        }
        let dropped: Vec<ClaimKey> = before.into_iter().filter(|c| !claims.contains(c)).collect();
        for claim in &dropped {
            if let Some(pods) = self.by_claim.get_mut(claim) {
                pods.remove(&pod_key);
                if pods.is_empty() {
                    self.by_claim.remove(claim);
                }
            }
        }
        dropped
    }

    fn any(&self, claim: &ClaimKey) -> bool {
        self.by_claim.contains_key(claim)
    }
}

/// Whether the pod has a `persistentVolumeClaim` volume.
fn names_a_claim(pod: &Pod) -> bool {
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .any(|v| v.persistent_volume_claim.is_some() || v.ephemeral.is_some())
}

/// The claims a pod holds: upstream's `podUsesPVC`, for a pod bound to a node.
fn uses(pod: &Pod) -> Vec<ClaimKey> {
    if pod.spec.as_ref().is_none_or(|s| s.node_name.is_none()) {
        return Vec::new();
    }
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    runlet_api::podclaims::of_pod(pod)
        .into_iter()
        .map(|c| (ns.clone(), c.claim))
        .collect()
}

fn claim_key(c: &PersistentVolumeClaim) -> ClaimKey {
    (
        c.metadata.namespace.clone().unwrap_or_default(),
        c.metadata.name.clone().unwrap_or_default(),
    )
}

fn has(finalizers: &Option<Vec<String>>, finalizer: &str) -> bool {
    finalizers.iter().flatten().any(|f| f == finalizer)
}

/// The finalizers without `finalizer`, at the object's resource version, so that a write
/// in between makes the patch fail (and the next event retries) instead of being undone.
fn without(meta: &kube::api::ObjectMeta, finalizer: &str) -> serde_json::Value {
    let rest: Vec<&String> = meta
        .finalizers
        .iter()
        .flatten()
        .filter(|f| *f != finalizer)
        .collect();
    json!({"metadata": {"finalizers": rest, "resourceVersion": meta.resource_version}})
}

/// Takes the finalizer off a claim no pod uses, after a live list of its namespace's pods
/// agrees; whether it is done with (taken off, or the claim is gone).
async fn release_claim(client: &kube::Client, (ns, name): &ClaimKey) -> bool {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    match pods.list(&ListParams::default()).await {
        Ok(list) => {
            if list
                .items
                .iter()
                .any(|p| uses(p).iter().any(|(_, c)| c == name))
            {
                return false;
            }
        }
        Err(e) => {
            tracing::warn!(namespace = %ns, claim = %name, error = %e, "live list of pods failed");
            return false;
        }
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
    let claim = match claims.get_opt(name).await {
        Ok(Some(c)) => c,
        Ok(None) => return true,
        Err(e) => {
            tracing::warn!(namespace = %ns, claim = %name, error = %e, "reading a claim");
            return false;
        }
    };
    let patch = without(&claim.metadata, PVC_FINALIZER);
    match claims
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => {
            tracing::info!(namespace = %ns, claim = %name, "claim no longer used: protection removed");
            true
        }
        Err(kube::Error::Api(s)) if s.code == 404 => true,
        Err(e) => {
            tracing::debug!(namespace = %ns, claim = %name, error = %e, "removing the claim's protection");
            false
        }
    }
}

/// Takes the finalizer off a volume being deleted that is no longer bound.
async fn release_volume(client: &kube::Client, pv: &PersistentVolume) {
    let bound = pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
    if pv.metadata.deletion_timestamp.is_none()
        || bound
        || !has(&pv.metadata.finalizers, PV_FINALIZER)
    {
        return;
    }
    let name = pv.metadata.name.clone().unwrap_or_default();
    let patch = without(&pv.metadata, PV_FINALIZER);
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    match volumes
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => tracing::info!(volume = %name, "volume not bound: protection removed"),
        Err(e) => tracing::debug!(volume = %name, error = %e, "removing the volume's protection"),
    }
}
