//! Garbage collection of Jobs and their pods (upstream pkg/controller/garbagecollector).

use crate::harness::*;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams, PropagationPolicy};
use runlet_api::clock::FakeClock;
use runlet_test::TestApi;
use serde_json::json;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

fn policy(p: PropagationPolicy) -> DeleteParams {
    DeleteParams {
        propagation_policy: Some(p),
        ..DeleteParams::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_deletion_removes_the_jobs_pods() {
    // upstream attemptToDeleteItem: dependents of an absent owner are deleted; the Job
    // controller releases the tracking finalizers of a deleted Job's pods (cleanupPodFinalizers).
    let env = Env::start_with_gc_and_ttl().await;
    env.create_job("bg", json!({"parallelism": 2, "completions": 2}))
        .await;
    let pods = env.wait_active("bg", 2).await;
    env.jobs
        .delete("bg", &policy(PropagationPolicy::Background))
        .await
        .unwrap();
    for p in &pods {
        env.wait_pod_gone(&name(p)).await;
    }
    assert!(env.jobs.get_opt("bg").await.unwrap().is_none());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreground_deletion_keeps_the_job_until_blocking_pods_are_gone() {
    // upstream foregroundDeletion finalizer: removed once no dependent with
    // blockOwnerDeletion remains.
    let env = Env::start_with_gc_and_ttl().await;
    env.create_job(
        "fg",
        json!({"parallelism": 2, "completions": 2, "template": held_template()}),
    )
    .await;
    let pods = env.wait_active("fg", 2).await;
    env.jobs
        .delete("fg", &policy(PropagationPolicy::Foreground))
        .await
        .unwrap();
    env.until("pods being deleted", || async {
        env.pods_of("fg")
            .await
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_some())
            .count()
            == 2
    })
    .await;
    env.holds("job waits for its pods", || async {
        env.jobs.get_opt("fg").await.unwrap().is_some_and(|j| {
            j.metadata.finalizers.unwrap_or_default() == vec!["foregroundDeletion".to_string()]
        })
    })
    .await;
    for p in &pods {
        env.clear_finalizers(&name(p)).await;
    }
    env.until("job gone", || async {
        env.jobs.get_opt("fg").await.unwrap().is_none()
    })
    .await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_deletion_keeps_pods_without_owner_references_or_tracking_finalizer() {
    // upstream orphanDependents strips the ownerReference; the Job controller's syncOrphanPod
    // removes the tracking finalizer of the orphaned pods.
    let env = Env::start_with_gc_and_ttl().await;
    env.create_job("orph", json!({"parallelism": 2, "completions": 2}))
        .await;
    let pods = env.wait_active("orph", 2).await;
    // As upstream's TestOrphaning waits for the collector's graph to hold the pods: one the
    // collector has not seen yet is not orphaned but deleted as dangling once the Job is gone.
    wait_collector_saw_pods_so_far(&env).await;
    env.jobs
        .delete("orph", &policy(PropagationPolicy::Orphan))
        .await
        .unwrap();
    env.until("job gone", || async {
        env.jobs.get_opt("orph").await.unwrap().is_none()
    })
    .await;
    for p in &pods {
        env.until("pod orphaned and unfinalized", || async {
            let p = env.pods.get(&name(p)).await.unwrap();
            p.metadata.owner_references.is_none() && !has_finalizer(&p, TRACKING)
        })
        .await;
    }
    env.holds("orphaned pods stay", || async {
        env.pods_of("orph").await.len() == 2
    })
    .await;
    env.stop().await;
}

/// Waits until the garbage collector has handled every pod event so far.
/// A cluster-scoped object cannot have a namespaced owner: the collector leaves one that names
/// such an owner alone when that owner goes (upstream's
/// `namespacedOwnerOfClusterScopedObjectErr`), where deleting it could take a namespace and
/// everything in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_scoped_object_naming_a_namespaced_owner_is_left_alone() {
    use k8s_openapi::api::core::v1::Namespace;
    let env = Env::start_with_gc_and_ttl().await;
    let job = env.create_job("owner", json!({"parallelism": 0})).await;
    let namespaces: Api<Namespace> = Api::all(env.api.client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "kept",
        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "owner",
            "uid": job.metadata.uid}]}}))
    .unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    env.jobs
        .delete("owner", &policy(PropagationPolicy::Background))
        .await
        .unwrap();
    wait_collector_saw_pods_so_far(&env).await;
    let kept = namespaces.get("kept").await.unwrap();
    assert!(kept.metadata.deletion_timestamp.is_none(), "{kept:?}");
    env.stop().await;
}

/// A reference whose uid is an object's but whose name is not is checked as upstream's
/// graph builder checks it, by the name it gives: no such owner, so the dependent goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_naming_another_object_than_its_uid_is_found_dangling() {
    use k8s_openapi::api::core::v1::ConfigMap;
    let env = Env::start_with_gc_and_ttl().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(env.api.client.clone());
    let cm = |value: serde_json::Value| -> ConfigMap { serde_json::from_value(value).unwrap() };
    let owner = cms
        .create(
            &PostParams::default(),
            &cm(json!({"metadata": {"name": "owner-cm"}})),
        )
        .await
        .unwrap();
    let owned_as = |name: &str, owner_name: &str| {
        cm(
            json!({"metadata": {"name": name, "ownerReferences": [{"apiVersion": "v1",
            "kind": "ConfigMap", "name": owner_name, "uid": owner.metadata.uid}]}}),
        )
    };
    for (name, owner_name) in [("rightly", "owner-cm"), ("wrongly", "not-owner-cm")] {
        cms.create(&PostParams::default(), &owned_as(name, owner_name))
            .await
            .unwrap();
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while cms.get_opt("wrongly").await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "not found dangling");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(cms.get_opt("rightly").await.unwrap().is_some());
    env.stop().await;
}

async fn wait_collector_saw_pods_so_far(env: &Env) {
    let sentinel = runlet_test::pod_of_a_missing_owner("gc-sentinel");
    env.pods
        .create(&PostParams::default(), &sentinel)
        .await
        .unwrap();
    env.wait_pod_gone("gc-sentinel").await;
}

/// Creates a Job `name` of one busybox container that never restarts.
async fn create_job(jobs: &Api<Job>, name: &str) -> Job {
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox"}]}}}
    }))
    .unwrap();
    jobs.create(&PostParams::default(), &job).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dangling_pods_are_deleted_after_a_server_restart() {
    // upstream: the graph is rebuilt from lists after a restart; a pod whose owner uid no
    // longer exists (checked with a live GET) is deleted.
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FakeClock::at(runlet_test::EPOCH));
    let api = TestApi::start_in(dir.path(), clock.clone()).await;
    let jobs: Api<Job> = Api::default_namespaced(api.client.clone());
    let pods: Api<Pod> = Api::default_namespaced(api.client.clone());
    let job = create_job(&jobs, "dang").await;
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "dang-pod", "ownerReferences": [{
            "apiVersion": "batch/v1", "kind": "Job", "name": "dang",
            "uid": job.metadata.uid, "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    // No collector runs: the owner goes, its pod stays behind.
    jobs.delete("dang", &policy(PropagationPolicy::Background))
        .await
        .unwrap();
    assert!(jobs.get_opt("dang").await.unwrap().is_none());
    let store = api.store.clone();
    drop((api, jobs, pods));
    tokio::task::spawn_blocking(move || store.crash())
        .await
        .unwrap();

    let api = TestApi::start_in(dir.path(), clock).await;
    let pods: Api<Pod> = Api::default_namespaced(api.client.clone());
    assert!(
        pods.get_opt("dang-pod").await.unwrap().is_some(),
        "survived the restart"
    );
    let cancel = CancellationToken::new();
    let gc = tokio::spawn(runlet_controllers::gc::run(
        api.client.clone(),
        api.clock.clone(),
        runlet_controllers::gc::Config::default(),
        cancel.clone(),
    ));
    let deadline = tokio::time::Instant::now() + WAIT;
    while pods.get_opt("dang-pod").await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "dangling pod not deleted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    cancel.cancel();
    tokio::time::timeout(WAIT, gc).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_followed_through_the_shared_feed_are_collected_with_their_owner() {
    // Under `run_controllers` the collector reads pods from the shared pod feed instead of a
    // watch of its own: a pod there that the graph knew before its owner went is deleted
    // after it, and one made once its owner was gone is found dangling.
    let api = TestApi::start().await;
    let jobs: Api<Job> = Api::default_namespaced(api.client.clone());
    let pods: Api<Pod> = Api::default_namespaced(api.client.clone());
    let job = create_job(&jobs, "fed").await;
    let owned = |name: &str| -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "Job", "name": "fed",
                "uid": job.metadata.uid, "controller": true}]},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}
        }))
        .unwrap()
    };
    pods.create(&PostParams::default(), &owned("fed-before"))
        .await
        .unwrap();
    let cancel = CancellationToken::new();
    let mut feed = runlet_controllers::podfeed::PodFeed::new(api.client.clone());
    let gc_pods = feed.subscribe();
    let feed = tokio::spawn(feed.run(cancel.clone()));
    let gc = tokio::spawn(runlet_controllers::gc::run_with_pods(
        api.client.clone(),
        api.clock.clone(),
        runlet_controllers::gc::Config::default(),
        Some(gc_pods),
        cancel.clone(),
    ));
    jobs.delete("fed", &policy(PropagationPolicy::Background))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &owned("fed-after"))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    for name in ["fed-before", "fed-after"] {
        while pods.get_opt(name).await.unwrap().is_some() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} was not collected"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    cancel.cancel();
    tokio::time::timeout(WAIT, gc).await.unwrap().unwrap();
    tokio::time::timeout(WAIT, feed).await.unwrap().unwrap();
}
