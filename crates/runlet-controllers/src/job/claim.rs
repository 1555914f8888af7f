//! Which pods a Job manages (upstream `getPodsForJob` with `PodControllerRefManager.ClaimPods`
//! from `pkg/controller/controller_ref_manager.go`):
//!
//! - a pod whose controller is the Job and whose labels match the Job's selector is the Job's;
//! - a pod whose controller is the Job but whose labels no longer match is **released**: the
//!   ownerReference and the tracking finalizer are removed by one strategic merge patch;
//! - a pod without a controller whose labels match is **adopted**: a controller
//!   ownerReference and the tracking finalizer are added by one patch, after the Job was
//!   re-read by name and found with the same UID and not being deleted (upstream's
//!   `RecheckDeletionTimestamp` canAdopt check, done once per sync and only when adopting);
//! - a Job being deleted neither adopts nor releases.
//!
//! Adopted pods are counted like the Job's own from this sync on. A pod owned by another
//! controller is never touched. A failed patch fails the sync (retried with backoff), as
//! upstream returns the aggregated claim error from `syncJob`.

use super::sync::spec;
use super::{Context, Error, JOB_TRACKING_FINALIZER, is_not_found, pods};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use runlet_api::selector::LabelSelector;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

fn labels(p: &Pod) -> &BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    p.metadata.labels.as_ref().unwrap_or(&EMPTY)
}

/// The strategic merge patch that makes `job` the pod's controller (upstream
/// `ownerRefControllerPatch` with the Job's tracking finalizer). The pod's UID makes it apply
/// to that pod only.
fn adopt_patch(job: &Job, pod: &Pod) -> Patch<serde_json::Value> {
    Patch::Strategic(json!({"metadata": {
        "uid": pods::uid(pod),
        "ownerReferences": [pods::controller_ref(job)],
        "finalizers": [JOB_TRACKING_FINALIZER],
    }}))
}

/// The strategic merge patch that frees a pod from `job` (upstream
/// `GenerateDeleteOwnerRefStrategicMergeBytes` with the tracking finalizer).
fn release_patch(job: &Job, pod: &Pod) -> Patch<serde_json::Value> {
    Patch::Strategic(json!({"metadata": {
        "uid": pods::uid(pod),
        "ownerReferences": [{"$patch": "delete", "uid": job.metadata.uid.as_deref().unwrap_or_default()}],
        "$deleteFromPrimitiveList/finalizers": [JOB_TRACKING_FINALIZER],
    }}))
}

/// Upstream `RecheckDeletionTimestamp` around a live GET of the Job: adoption is refused when
/// the Job was replaced by another of the same name or is being deleted.
async fn can_adopt(api: &Api<Job>, job: &Job) -> Result<(), String> {
    let name = job.metadata.name.as_deref().unwrap_or_default();
    let ns = job.metadata.namespace.as_deref().unwrap_or_default();
    let fresh = api
        .get(name)
        .await
        .map_err(|e| format!("can't recheck DeletionTimestamp: {e}"))?;
    if fresh.metadata.uid != job.metadata.uid {
        return Err(format!(
            "can't recheck DeletionTimestamp: original Job {ns}/{name} is gone: got uid {}, wanted {}",
            fresh.metadata.uid.unwrap_or_default(),
            job.metadata.uid.as_deref().unwrap_or_default()
        ));
    }
    if let Some(t) = fresh.metadata.deletion_timestamp {
        return Err(format!("{ns}/{name} has just been deleted at {}", t.0));
    }
    Ok(())
}

/// The pods `job` manages, after adopting matching orphans and releasing owned pods that no
/// longer match its selector.
pub(super) async fn pods_for_job(c: &Context, job: &Job) -> Result<Vec<Arc<Pod>>, Error> {
    let uid = job.metadata.uid.as_deref().unwrap_or_default();
    let ns = job.metadata.namespace.as_deref().unwrap_or_default();
    let selector = LabelSelector::from_k8s_opt(spec(job).selector.as_ref())
        .map_err(|e| Error::Selector(super::job_key(job), e.to_string()))?;
    let being_deleted = job.metadata.deletion_timestamp.is_some();

    let mut claimed = Vec::new();
    let mut to_release = Vec::new();
    for p in c.cache.live_pods(uid) {
        if selector.matches_map(labels(&p)) {
            claimed.push(p);
        } else if !being_deleted {
            to_release.push(p);
        }
    }
    let to_adopt: Vec<Arc<Pod>> = if being_deleted {
        Vec::new()
    } else {
        c.cache
            .orphans(ns)
            .into_iter()
            .filter(|p| !pods::is_deleting(p) && selector.matches_map(labels(p)))
            .collect()
    };
    if to_release.is_empty() && to_adopt.is_empty() {
        return Ok(claimed);
    }

    let pod_api: Api<Pod> = Api::namespaced(c.client.clone(), ns);
    let mut errors: Vec<String> = Vec::new();
    let adopt_allowed = if to_adopt.is_empty() {
        Ok(())
    } else {
        can_adopt(&Api::namespaced(c.client.clone(), ns), job).await
    };
    let mut patches = Vec::new();
    match adopt_allowed {
        Ok(()) => patches.extend(to_adopt.iter().map(|p| (p, adopt_patch(job, p), true))),
        Err(e) => errors.extend(to_adopt.iter().map(|p| {
            let name = pods::name(p);
            format!("can't adopt Pod {ns}/{name} ({}): {e}", pods::uid(p))
        })),
    }
    patches.extend(to_release.iter().map(|p| (p, release_patch(job, p), false)));
    let results = super::join_spawned(patches.iter().map(|(p, patch, _)| {
        let (api, name, patch) = (pod_api.clone(), pods::name(p).to_string(), patch.clone());
        async move { api.patch(&name, &PatchParams::default(), &patch).await }
    }))
    .await;
    for ((p, _, adopting), r) in patches.iter().zip(results) {
        match r {
            Ok(Ok(patched)) => {
                tracing::debug!(job = %super::job_key(job), pod = pods::name(p),
                    adopted = adopting, "claimed pod");
                let patched = Arc::new(patched);
                c.cache.put_pod_if_newer(&patched);
                if *adopting {
                    claimed.push(patched);
                }
            }
            // The pod is gone: nothing to claim (upstream ignores NotFound); a released pod
            // whose UID no longer matches is someone else's (upstream ignores Invalid).
            Ok(Err(e)) if is_not_found(&e) || (!adopting && is_invalid(&e)) => {}
            Ok(Err(e)) => errors.push(e.to_string()),
            Err(panicked) => errors.push(panicked),
        }
    }
    match errors.first() {
        None => Ok(claimed),
        Some(first) => Err(Error::PodOperations {
            job: super::job_key(job),
            failed: errors.len(),
            first: first.clone(),
        }),
    }
}

fn is_invalid(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 422)
}
