//! Orphan pod adoption and release (upstream `getPodsForJob` with
//! `PodControllerRefManager.ClaimPods`, pkg/controller/controller_ref_manager.go).

use crate::harness::*;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{DeleteParams, PropagationPolicy};
use serde_json::{Value, json};

/// The labels the Job's generated selector matches, plus the job-name label `pods_of` reads.
fn job_labels(job: &Job) -> Value {
    json!({
        "batch.kubernetes.io/controller-uid": job.metadata.uid.clone().unwrap(),
        "batch.kubernetes.io/job-name": job.metadata.name.clone().unwrap(),
    })
}

fn owner_is(p: &k8s_openapi::api::core::v1::Pod, job: &Job) -> bool {
    p.metadata.owner_references.iter().flatten().any(|r| {
        r.uid == *job.metadata.uid.as_ref().unwrap()
            && r.kind == "Job"
            && r.api_version == "batch/v1"
            && r.controller == Some(true)
            && r.block_owner_deletion == Some(true)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_pod_matching_the_selector_is_adopted_with_the_tracking_finalizer() {
    // upstream ClaimPods/AdoptPod: controller ownerReference and tracking finalizer by patch.
    let mut env = Env::start().await;
    env.stop_controller().await;
    let job = env.create_job("adopt", json!({"completions": 1})).await;
    env.create_pod("stray", job_labels(&job)).await;
    env.start_controller();
    env.until("stray adopted", || async {
        owner_is(&env.pods.get("stray").await.unwrap(), &job)
    })
    .await;
    let p = env.pods.get("stray").await.unwrap();
    assert!(has_finalizer(&p, TRACKING));
    let j = env.wait_job("adopt", "active 1", |j| active(j) == 1).await;
    assert!(!has_cond(&j, "Complete"));
    env.stays_active("adopt", 1).await;
    assert_eq!(
        env.pods_of("adopt").await.len(),
        1,
        "the adopted pod counts as active: no pod created"
    );
    env.succeed_pod("stray").await;
    let j = env.wait_cond("adopt", "Complete").await;
    assert_eq!(succeeded(&j), 1);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopted_succeeded_orphan_counts_towards_completions() {
    // upstream getPodsForJob: an adopted pod gets the finalizer, so a finished one is counted.
    let mut env = Env::start().await;
    env.stop_controller().await;
    let job = env
        .create_job("adopt2", json!({"completions": 2, "parallelism": 1}))
        .await;
    env.create_pod("done", job_labels(&job)).await;
    env.succeed_pod("done").await;
    env.start_controller();
    let j = env
        .wait_job("adopt2", "one success counted", |j| succeeded(j) == 1)
        .await;
    assert_eq!(failed(&j), 0);
    let p = env.pods.get("done").await.unwrap();
    assert!(owner_is(&p, &job));
    assert!(
        !has_finalizer(&p, TRACKING),
        "finalizer removed once counted"
    );
    let pods = env.wait_active("adopt2", 1).await;
    env.succeed_pod(&name(&pods[0])).await;
    let j = env.wait_cond("adopt2", "Complete").await;
    assert_eq!(succeeded(&j), 2);
    assert_eq!(env.pods_of("adopt2").await.len(), 2);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_pod_whose_labels_no_longer_match_is_released_and_replaced() {
    // upstream claimObject/ReleasePod: ownerReference (and tracking finalizer) removed; the
    // released pod is not the Job's any more, so it is neither active nor failed.
    let env = Env::start().await;
    let job = env.create_job("rel", json!({"completions": 1})).await;
    let first = env.wait_active("rel", 1).await.remove(0);
    env.patch_pod_meta(
        &name(&first),
        json!({"labels": {"batch.kubernetes.io/controller-uid": "someone-else"}}),
    )
    .await;
    env.until("pod released", || async {
        let p = env.pods.get(&name(&first)).await.unwrap();
        controller_uid(&p).is_none() && !has_finalizer(&p, TRACKING)
    })
    .await;
    let p = env.pods.get(&name(&first)).await.unwrap();
    assert_eq!(p.metadata.owner_references.unwrap_or_default(), vec![]);
    // A replacement is created for the released pod.
    env.until("replacement created", || async {
        env.pods_of("rel")
            .await
            .iter()
            .any(|p| name(p) != name(&first) && controller_uid(p) == job.metadata.uid)
    })
    .await;
    let j = env.wait_job("rel", "active 1", |j| active(j) == 1).await;
    assert_eq!(failed(&j), 0, "a released pod is not a failure");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_being_deleted_neither_adopts_nor_releases() {
    // upstream claimObject: "No reconciliation will be attempted if the controller is being
    // deleted"; canAdopt rechecks deletionTimestamp with a live read.
    let env = Env::start().await;
    let job = env
        .create_job("gone", json!({"completions": 1, "parallelism": 1}))
        .await;
    let own = env.wait_active("gone", 1).await.remove(0);
    // The Job keeps existing while being deleted: nothing removes the orphan finalizer here.
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Orphan),
        ..DeleteParams::default()
    };
    env.jobs.delete("gone", &dp).await.unwrap();
    env.wait_job("gone", "deleting", |j| {
        j.metadata.deletion_timestamp.is_some()
    })
    .await;
    env.create_pod("late", job_labels(&job)).await;
    env.patch_pod_meta(
        &name(&own),
        json!({"labels": {"batch.kubernetes.io/controller-uid": "other"}}),
    )
    .await;
    env.holds(
        "no adoption or release while the Job is deleted",
        || async {
            let late = env.pods.get("late").await.unwrap();
            let own = env.pods.get(&name(&own)).await.unwrap();
            late.metadata.owner_references.is_none() && owner_is(&own, &job)
        },
    )
    .await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_controlled_by_another_owner_or_being_deleted_is_not_adopted() {
    // upstream claimObject: a pod with another controller is ignored; an orphan being deleted
    // is ignored.
    let mut env = Env::start().await;
    env.stop_controller().await;
    let job = env
        .create_job("mine", json!({"completions": 1, "parallelism": 1}))
        .await;
    let other = env.create_pod("other-owner", json!({})).await;
    // Matching the selector, but without the job-name label `pods_of` lists.
    let labels = json!({"batch.kubernetes.io/controller-uid": job.metadata.uid.clone().unwrap()});
    env.create_pod("taken", labels.clone()).await;
    env.patch_pod_meta(
        "taken",
        json!({"ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "other-owner",
            "uid": other.metadata.uid, "controller": true}]}),
    )
    .await;
    env.create_pod("leaving", labels).await;
    env.patch_pod_meta("leaving", json!({"finalizers": ["example.com/hold"]}))
        .await;
    env.pods
        .delete("leaving", &DeleteParams::default())
        .await
        .unwrap();
    env.start_controller();
    // The Job creates its own pod: neither stray pod counts.
    let own = env.wait_active("mine", 1).await;
    assert_ne!(name(&own[0]), "taken");
    let taken = env.pods.get("taken").await.unwrap();
    assert_eq!(controller_uid(&taken), other.metadata.uid);
    assert!(!has_finalizer(&taken, TRACKING));
    let leaving = env.pods.get("leaving").await.unwrap();
    assert!(leaving.metadata.owner_references.is_none());
    let j = env.wait_job("mine", "active 1", |j| active(j) == 1).await;
    assert_eq!(failed(&j), 0);
    env.clear_finalizers("leaving").await;
    env.stop().await;
}
