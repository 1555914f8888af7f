//! The garbage collector against the real API server in-process (`runlet_test::TestApi`).
//! Each test cites the upstream behaviour (pkg/controller/garbagecollector, and the e2e
//! `test/e2e/apimachinery/garbage_collector.go`) it encodes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{Config, run};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, PropagationPolicy};
use runlet_test::TestApi;
use serde_json::json;
use std::future::Future;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(20);

struct Gc {
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl Gc {
    fn start(api: &TestApi) -> Gc {
        let cancel = CancellationToken::new();
        let config = Config {
            sync_timeout: Duration::from_secs(10),
            ..Config::default()
        };
        let task = tokio::spawn(run(
            api.client.clone(),
            api.clock.clone(),
            config,
            cancel.clone(),
        ));
        Gc { cancel, task }
    }

    async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("gc stops")
            .unwrap();
    }
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn cms(api: &TestApi) -> Api<ConfigMap> {
    Api::default_namespaced(api.client.clone())
}

fn owner_ref(owner: &ConfigMap, block: bool) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: owner.metadata.name.clone().unwrap(),
        uid: owner.metadata.uid.clone().unwrap(),
        block_owner_deletion: Some(block),
        controller: None,
    }
}

async fn create(
    api: &TestApi,
    name: &str,
    owners: Vec<OwnerReference>,
    finalizers: &[&str],
) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.into());
    if !owners.is_empty() {
        cm.metadata.owner_references = Some(owners);
    }
    if !finalizers.is_empty() {
        cm.metadata.finalizers = Some(finalizers.iter().map(|f| f.to_string()).collect());
    }
    cms(api).create(&PostParams::default(), &cm).await.unwrap()
}

async fn delete(api: &TestApi, name: &str, policy: PropagationPolicy) {
    let dp = DeleteParams {
        propagation_policy: Some(policy),
        ..DeleteParams::default()
    };
    cms(api).delete(name, &dp).await.unwrap();
}

async fn exists(api: &TestApi, name: &str) -> bool {
    cms(api).get_opt(name).await.unwrap().is_some()
}

async fn gone(api: &TestApi, name: &str) -> bool {
    !exists(api, name).await
}

/// Job `j` and one pod `pod_name` it controls (bound to `node_name` when given), as the Job
/// controller would leave them.
async fn job_with_pod(
    api: &TestApi,
    pod_name: &str,
    node_name: Option<&str>,
) -> (Api<Job>, Api<Pod>) {
    let jobs: Api<Job> = Api::default_namespaced(api.client.clone());
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "j"},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox"}]}}}
    }))
    .unwrap();
    let job = jobs.create(&PostParams::default(), &job).await.unwrap();
    let pods: Api<Pod> = Api::default_namespaced(api.client.clone());
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": pod_name, "ownerReferences": [{
            "apiVersion": "batch/v1", "kind": "Job", "name": "j",
            "uid": job.metadata.uid, "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"nodeName": node_name, "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    (jobs, pods)
}

async fn remove_finalizers(api: &TestApi, name: &str) {
    cms(api)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn background_deletion_removes_dependents_once_the_owner_is_gone() {
    // Upstream: with Background propagation the owner is deleted at once and the collector
    // deletes dependents whose owners are all absent.
    let api = TestApi::start().await;
    let gc = Gc::start(&api);
    let owner = create(&api, "owner", vec![], &[]).await;
    create(&api, "dep", vec![owner_ref(&owner, false)], &[]).await;
    create(&api, "unrelated", vec![], &[]).await;
    delete(&api, "owner", PropagationPolicy::Background).await;
    assert!(gone(&api, "owner").await, "the owner goes at once");
    eventually("dependent deleted", || gone(&api, "dep")).await;
    assert!(exists(&api, "unrelated").await);
    gc.stop().await;
}

#[tokio::test]
async fn orphan_deletion_strips_owner_references_then_removes_the_finalizer() {
    // Upstream `orphanDependents` then `removeFinalizer(orphan)`: dependents survive without
    // a reference to the deleted owner; references to other owners stay.
    let api = TestApi::start().await;
    let gc = Gc::start(&api);
    let owner = create(&api, "owner", vec![], &[]).await;
    let other = create(&api, "other", vec![], &[]).await;
    create(&api, "dep", vec![owner_ref(&owner, true)], &[]).await;
    create(
        &api,
        "shared",
        vec![owner_ref(&owner, false), owner_ref(&other, false)],
        &[],
    )
    .await;
    delete(&api, "owner", PropagationPolicy::Orphan).await;
    eventually("owner removed", || gone(&api, "owner")).await;
    let dep = cms(&api).get("dep").await.unwrap();
    assert_eq!(dep.metadata.owner_references, None, "reference removed");
    let shared = cms(&api).get("shared").await.unwrap();
    let refs = shared.metadata.owner_references.unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].name, "other");
    gc.stop().await;
}

#[tokio::test]
async fn foreground_deletion_waits_for_blocking_dependents_only() {
    // Upstream `processDeletingDependentsItem`: every dependent is deleted, but the owner's
    // `foregroundDeletion` finalizer goes only when no dependent with blockOwnerDeletion is
    // left. A held finalizer on the blocking dependent keeps the owner waiting.
    let api = TestApi::start().await;
    let gc = Gc::start(&api);
    let owner = create(&api, "owner", vec![], &[]).await;
    create(
        &api,
        "blocking",
        vec![owner_ref(&owner, true)],
        &["example.com/hold"],
    )
    .await;
    create(&api, "free", vec![owner_ref(&owner, false)], &[]).await;
    delete(&api, "owner", PropagationPolicy::Foreground).await;
    eventually("non-blocking dependent deleted", || gone(&api, "free")).await;
    eventually("blocking dependent marked for deletion", || async {
        let b = cms(&api).get("blocking").await.unwrap();
        b.metadata.deletion_timestamp.is_some()
    })
    .await;
    let o = cms(&api).get("owner").await.unwrap();
    assert!(o.metadata.deletion_timestamp.is_some());
    assert_eq!(
        o.metadata.finalizers,
        Some(vec!["foregroundDeletion".to_string()]),
        "the owner waits for its blocking dependent"
    );
    remove_finalizers(&api, "blocking").await;
    eventually("owner deleted after its blocking dependent", || {
        gone(&api, "owner")
    })
    .await;
    gc.stop().await;
}

#[tokio::test]
async fn foreground_deletion_cascades_through_grandchildren() {
    // Upstream: a dependent that blocks a foreground owner and has dependents of its own is
    // itself deleted with Foreground propagation.
    let api = TestApi::start().await;
    let gc = Gc::start(&api);
    let owner = create(&api, "owner", vec![], &[]).await;
    let child = create(&api, "child", vec![owner_ref(&owner, true)], &[]).await;
    create(
        &api,
        "grandchild",
        vec![owner_ref(&child, true)],
        &["example.com/hold"],
    )
    .await;
    delete(&api, "owner", PropagationPolicy::Foreground).await;
    eventually("child waits in foreground deletion", || async {
        let c = cms(&api).get("child").await.unwrap();
        c.metadata.finalizers == Some(vec!["foregroundDeletion".to_string()])
    })
    .await;
    assert!(exists(&api, "owner").await);
    remove_finalizers(&api, "grandchild").await;
    eventually("whole chain deleted", || async {
        gone(&api, "owner").await && gone(&api, "child").await && gone(&api, "grandchild").await
    })
    .await;
    gc.stop().await;
}

#[tokio::test]
async fn dangling_dependents_are_deleted_after_a_restart() {
    // Upstream: the graph is rebuilt from lists; an owner uid nobody has becomes a virtual
    // node, verified absent with a live GET, and its dependents are deleted. A dependent
    // naming an existing object by name but with another uid is dangling too.
    let api = TestApi::start().await;
    let owner = create(&api, "owner", vec![], &[]).await;
    let survivor_owner = create(&api, "alive", vec![], &[]).await;
    create(&api, "dep", vec![owner_ref(&owner, false)], &[]).await;
    create(&api, "kept", vec![owner_ref(&survivor_owner, false)], &[]).await;
    create(
        &api,
        "half",
        vec![owner_ref(&owner, false), owner_ref(&survivor_owner, false)],
        &[],
    )
    .await;
    // While no collector runs the owner goes away and comes back with a new uid.
    delete(&api, "owner", PropagationPolicy::Background).await;
    create(&api, "owner", vec![], &[]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        exists(&api, "dep").await,
        "the API server leaves propagation to the collector"
    );

    let gc = Gc::start(&api);
    eventually("dangling dependent deleted", || gone(&api, "dep")).await;
    eventually(
        "dangling reference dropped from a dependent with a live owner",
        || async {
            let h = cms(&api).get("half").await.unwrap();
            h.metadata.owner_references.map(|r| r.len()) == Some(1)
        },
    )
    .await;
    assert!(
        exists(&api, "kept").await,
        "a dependent with a live owner stays"
    );
    assert!(
        exists(&api, "owner").await,
        "the new object of the same name stays"
    );
    gc.stop().await;
}

#[tokio::test]
async fn orphaning_interrupted_by_a_restart_completes() {
    // Upstream `processTransitions` on the initial list: an object already being deleted with
    // the orphan finalizer is queued for orphaning.
    let api = TestApi::start().await;
    let owner = create(&api, "owner", vec![], &[]).await;
    create(&api, "dep", vec![owner_ref(&owner, false)], &[]).await;
    delete(&api, "owner", PropagationPolicy::Orphan).await;
    assert!(exists(&api, "owner").await, "held by the orphan finalizer");
    let gc = Gc::start(&api);
    eventually("owner removed", || gone(&api, "owner")).await;
    let dep = cms(&api).get("dep").await.unwrap();
    assert_eq!(dep.metadata.owner_references, None);
    gc.stop().await;
}

#[tokio::test]
async fn a_job_deleted_without_a_policy_orphans_its_pods() {
    // batch/v1's legacy default propagation is Orphan: the collector strips the Job's
    // reference from its pods and the pods stay.
    let api = TestApi::start().await;
    let gc = Gc::start(&api);
    let (jobs, pods) = job_with_pod(&api, "j-pod", None).await;
    // The collector orphans only the pods its graph holds (as upstream, whose TestOrphaning
    // waits for them): a pod whose owner never existed is deleted only after the pod watch
    // brought the one before it.
    let sentinel = runlet_test::pod_of_a_missing_owner("sentinel");
    pods.create(&PostParams::default(), &sentinel)
        .await
        .unwrap();
    eventually("sentinel deleted", || async {
        pods.get_opt("sentinel").await.unwrap().is_none()
    })
    .await;
    jobs.delete("j", &DeleteParams::default()).await.unwrap();
    eventually("job removed", || async {
        jobs.get_opt("j").await.unwrap().is_none()
    })
    .await;
    let p = pods.get("j-pod").await.unwrap();
    assert_eq!(p.metadata.owner_references, None);
    gc.stop().await;
}

#[tokio::test]
async fn foreground_job_deletion_waits_for_a_running_pod_to_finish_terminating() {
    // A running pod is deleted gracefully (the node agent finishes it with grace 0); upstream
    // keeps the foreground owner until the blocking pod is really gone.
    let api = TestApi::start().await;
    let gc = Gc::start(&api);
    let (jobs, pods) = job_with_pod(&api, "j-run", Some("n1")).await;
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        ..DeleteParams::default()
    };
    jobs.delete("j", &dp).await.unwrap();
    eventually("pod terminating", || async {
        pods.get("j-run")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        jobs.get_opt("j").await.unwrap().is_some(),
        "the job waits for its terminating pod"
    );
    // The node agent finishes the pod.
    pods.delete("j-run", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    eventually("job deleted", || async {
        jobs.get_opt("j").await.unwrap().is_none()
    })
    .await;
    gc.stop().await;
}

#[tokio::test]
async fn adding_a_reference_to_a_missing_owner_gets_the_object_collected() {
    // Upstream: a new ownerReference to an owner that is not in the graph creates a virtual
    // node; when the lookup finds no such owner, the dependent is deleted.
    let api = TestApi::start().await;
    let gc = Gc::start(&api);
    create(&api, "lonely", vec![], &[]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ghost = OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "ghost".into(),
        uid: "00000000-0000-0000-0000-000000000001".into(),
        block_owner_deletion: None,
        controller: None,
    };
    cms(&api)
        .patch(
            "lonely",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"ownerReferences": [ghost]}})),
        )
        .await
        .unwrap();
    eventually("object with a dangling reference deleted", || {
        gone(&api, "lonely")
    })
    .await;
    gc.stop().await;
}

/// Upstream `DefaultIgnoredResources`: Events of both APIs are not monitored, every other
/// served resource is.
#[test]
fn events_of_both_apis_are_the_only_resources_left_unwatched() {
    let ignored: Vec<String> = runlet_api::resources::RESOURCES
        .iter()
        .filter(|info| super::ignored(info))
        .map(|info| format!("{}/{}", info.group, info.plural))
        .collect();
    assert_eq!(ignored, ["/events", "events.k8s.io/events"]);
}
