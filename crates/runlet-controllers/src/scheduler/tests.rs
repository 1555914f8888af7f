//! The scheduler against the in-process API server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use k8s_openapi::api::core::v1::Event;
use runlet_test::{TestApi, wait_for};
use serde_json::Value;

async fn node(api: &TestApi, name: &str, cpu: &str, ready: bool) {
    let nodes: Api<Node> = Api::all(api.client.clone());
    let n: Node = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    nodes.create(&PostParams::default(), &n).await.unwrap();
    let status = json!({"status": {
        "allocatable": {"cpu": cpu, "memory": "4Gi", "pods": "110"},
        "capacity": {"cpu": cpu, "memory": "4Gi", "pods": "110"},
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }, "reason": "KubeletReady"}],
    }});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

async fn pod(api: &TestApi, name: &str, cpu: &str, scheduler: Option<&str>) {
    let pods: Api<Pod> = Api::default_namespaced(api.client.clone());
    let mut spec = json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": cpu}}}]});
    if let Some(s) = scheduler {
        spec["schedulerName"] = json!(s);
    }
    let p: Pod = serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap();
    pods.create(&PostParams::default(), &p).await.unwrap();
}

fn start(api: &TestApi) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run(api.client.clone(), api.clock.clone(), cancel.clone()));
    (cancel, task)
}

async fn stop(cancel: CancellationToken, task: tokio::task::JoinHandle<()>) {
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
}

async fn events_of(api: &TestApi, pod: &str) -> Vec<Value> {
    let events: Api<Event> = Api::default_namespaced(api.client.clone());
    events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(pod))
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}

/// The pod's `FailedScheduling` event, once there is one.
async fn failed_scheduling(api: &TestApi, pod: &str) -> Value {
    wait_for("the FailedScheduling event", async || {
        events_of(api, pod)
            .await
            .into_iter()
            .find(|e| e["reason"] == "FailedScheduling")
    })
    .await
}

async fn node_name(api: &TestApi, pod: &str) -> Option<String> {
    let pods: Api<Pod> = Api::default_namespaced(api.client.clone());
    pods.get(pod).await.unwrap().spec.unwrap().node_name
}

#[tokio::test]
async fn binds_a_pending_pod_to_a_ready_node_with_room() {
    let api = TestApi::start().await;
    node(&api, "not-ready", "8", false).await;
    node(&api, "small", "1", true).await;
    node(&api, "big", "4", true).await;
    pod(&api, "p", "2", None).await;
    let (cancel, task) = start(&api);
    let bound = wait_for("the binding", async || node_name(&api, "p").await).await;
    assert_eq!(bound, "big", "only the big ready node has room for 2 CPUs");
    let ev = wait_for("the Scheduled event", async || {
        events_of(&api, "p")
            .await
            .into_iter()
            .find(|e| e["reason"] == "Scheduled")
    })
    .await;
    assert_eq!(ev["message"], "Successfully assigned default/p to big");
    // Written as events.k8s.io/v1, as upstream's scheduler records: seen as a core Event, it
    // has an eventTime and a reporting controller and instance, and no source or timestamps.
    assert_eq!(ev["reportingComponent"], "default-scheduler");
    assert_eq!(ev["action"], "Binding");
    assert!(
        ev["reportingInstance"]
            .as_str()
            .is_some_and(|i| i.starts_with("default-scheduler-")),
        "{ev}"
    );
    assert!(ev["eventTime"].is_string(), "{ev}");
    assert_eq!(ev["source"], serde_json::json!({}), "{ev}");
    assert!(ev["firstTimestamp"].is_null(), "{ev}");
    stop(cancel, task).await;
}

#[tokio::test]
async fn reports_failed_scheduling_when_no_node_fits_and_binds_when_one_appears() {
    let api = TestApi::start().await;
    node(&api, "small", "1", true).await;
    pod(&api, "greedy", "2", None).await;
    let (cancel, task) = start(&api);
    let ev = failed_scheduling(&api, "greedy").await;
    assert_eq!(ev["type"], "Warning");
    assert_eq!(
        ev["message"],
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.."
    );
    let pods: Api<Pod> = Api::default_namespaced(api.client.clone());
    // The event and the status write are separate requests: wait for the condition too.
    let p = wait_for("the PodScheduled=False condition", async || {
        let p = serde_json::to_value(pods.get("greedy").await.unwrap()).unwrap();
        p["status"]["conditions"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
            .then_some(p)
    })
    .await;
    let cond = &p["status"]["conditions"][0];
    assert_eq!(
        (
            cond["type"].as_str(),
            cond["status"].as_str(),
            cond["reason"].as_str()
        ),
        (Some("PodScheduled"), Some("False"), Some("Unschedulable"))
    );
    assert_eq!(p["status"]["phase"], "Pending");

    // A node with room arrives: the pod is retried and bound.
    node(&api, "big", "4", true).await;
    let bound = wait_for("the binding", async || node_name(&api, "greedy").await).await;
    assert_eq!(bound, "big");
    stop(cancel, task).await;
}

#[tokio::test]
async fn capacity_is_not_overcommitted_within_one_pass() {
    let api = TestApi::start().await;
    node(&api, "n", "2", true).await;
    for i in 0..3 {
        pod(&api, &format!("p{i}"), "1", None).await;
    }
    let (cancel, task) = start(&api);
    wait_for("two bindings", async || {
        let mut bound = 0;
        for i in 0..3 {
            bound += usize::from(node_name(&api, &format!("p{i}")).await.is_some());
        }
        (bound == 2).then_some(())
    })
    .await;
    wait_for("the third pod's FailedScheduling", async || {
        for i in 0..3 {
            let name = format!("p{i}");
            if node_name(&api, &name).await.is_none() {
                return events_of(&api, &name)
                    .await
                    .into_iter()
                    .find(|e| e["reason"] == "FailedScheduling");
            }
        }
        None
    })
    .await;
    stop(cancel, task).await;
}

/// Upstream's LeastAllocated scoring counts a container without requests as 100m and 200Mi,
/// so pods without requests spread over equal nodes instead of filling the first.
#[tokio::test]
async fn pods_without_requests_spread_over_equal_nodes() {
    let api = TestApi::start().await;
    node(&api, "a", "2", true).await;
    node(&api, "b", "2", true).await;
    let pods: Api<Pod> = Api::default_namespaced(api.client.clone());
    for i in 0..6 {
        let p: Pod = serde_json::from_value(json!({"metadata": {"name": format!("p{i}")},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}))
        .unwrap();
        pods.create(&PostParams::default(), &p).await.unwrap();
    }
    let (cancel, task) = start(&api);
    let placed = wait_for("six bindings", async || {
        let mut placed = Vec::new();
        for i in 0..6 {
            placed.push(node_name(&api, &format!("p{i}")).await?);
        }
        Some(placed)
    })
    .await;
    let on_a = placed.iter().filter(|n| *n == "a").count();
    assert_eq!(on_a, 3, "three on each node: {placed:?}");
    stop(cancel, task).await;
}

#[tokio::test]
async fn pods_for_other_schedulers_are_left_alone() {
    let api = TestApi::start().await;
    node(&api, "n", "4", true).await;
    pod(&api, "mine", "1", None).await;
    pod(&api, "theirs", "1", Some("other-scheduler")).await;
    let (cancel, task) = start(&api);
    wait_for("mine is bound", async || node_name(&api, "mine").await).await;
    assert_eq!(node_name(&api, "theirs").await, None);
    assert!(events_of(&api, "theirs").await.is_empty());
    stop(cancel, task).await;
}

/// A PersistentVolume pinned to `host` and a claim `claim` bound to it; a pod using the claim.
async fn pinned_volume_and_pod(api: &TestApi, host: &str, claim: &str, pod_name: &str) {
    let pvs: Api<k8s_openapi::api::core::v1::PersistentVolume> = Api::all(api.client.clone());
    let pv = serde_json::from_value(json!({
        "metadata": {"name": format!("pv-{claim}")},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": "/tmp/runlet-scheduler-test"},
            "claimRef": {"namespace": "default", "name": claim},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [host]}
            ]}]}},
        },
    }))
    .unwrap();
    pvs.create(&PostParams::default(), &pv).await.unwrap();
    let pvcs: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> =
        Api::default_namespaced(api.client.clone());
    let pvc = serde_json::from_value(json!({
        "metadata": {"name": claim},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            "volumeName": format!("pv-{claim}"),
        },
    }))
    .unwrap();
    pvcs.create(&PostParams::default(), &pvc).await.unwrap();
    let pods: Api<Pod> = Api::default_namespaced(api.client.clone());
    let p = serde_json::from_value(json!({
        "metadata": {"name": pod_name},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "100m"}}}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}],
        },
    }))
    .unwrap();
    pods.create(&PostParams::default(), &p).await.unwrap();
}

async fn label_hostname(api: &TestApi, name: &str) {
    let nodes: Api<Node> = Api::all(api.client.clone());
    let patch = json!({"metadata": {"labels": {"kubernetes.io/hostname": name}}});
    nodes
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_pod_goes_where_its_bound_local_volume_is() {
    let api = TestApi::start().await;
    node(&api, "roomy", "8", true).await;
    node(&api, "holder", "1", true).await;
    label_hostname(&api, "roomy").await;
    label_hostname(&api, "holder").await;
    pinned_volume_and_pod(&api, "holder", "data", "user").await;
    let (cancel, task) = start(&api);
    let bound = wait_for("the binding", async || node_name(&api, "user").await).await;
    assert_eq!(
        bound, "holder",
        "the node with the volume, not the one with the most free CPU"
    );
    stop(cancel, task).await;
}

#[tokio::test]
async fn a_volume_pinned_to_no_ready_node_is_a_volume_node_affinity_conflict() {
    let api = TestApi::start().await;
    node(&api, "a", "4", true).await;
    node(&api, "b", "4", true).await;
    label_hostname(&api, "a").await;
    label_hostname(&api, "b").await;
    pinned_volume_and_pod(&api, "gone", "orphan", "stuck").await;
    let (cancel, task) = start(&api);
    let ev = failed_scheduling(&api, "stuck").await;
    assert_eq!(
        ev["message"],
        "0/2 nodes are available: 2 node(s) had volume node affinity conflict. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.."
    );
    assert_eq!(node_name(&api, "stuck").await, None);
    stop(cancel, task).await;
}

#[test]
fn the_pod_index_counts_running_pods_until_they_finish_and_a_relist_replaces_it() {
    let pod = |uid: &str, node: Option<&str>, phase: &str| -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": uid, "uid": uid},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i",
                "resources": {"requests": {"cpu": "500m"}}}]},
            "status": {"phase": phase},
        }))
        .unwrap()
    };
    let mut index = PodIndex::default();
    index.apply(Arc::new(pod("a", None, "Pending")), DEFAULT_SCHEDULER);
    assert!(index.pending.contains_key("a"));
    assert!(index.used().is_empty());

    index.apply(Arc::new(pod("a", Some("n1"), "Running")), DEFAULT_SCHEDULER);
    assert!(index.pending.is_empty(), "bound: no longer pending");
    assert_eq!(index.used()["n1"].cpu_millis, 500);

    index.apply(
        Arc::new(pod("a", Some("n1"), "Succeeded")),
        DEFAULT_SCHEDULER,
    );
    assert!(index.used().is_empty(), "a finished pod frees its node");

    index.apply(Arc::new(pod("b", Some("n1"), "Running")), DEFAULT_SCHEDULER);
    index.start_relist();
    index.apply(Arc::new(pod("c", None, "Pending")), DEFAULT_SCHEDULER);
    assert_eq!(
        index.used()["n1"].cpu_millis,
        500,
        "the index serves as it was until the relist ends"
    );
    index.end_relist();
    assert!(index.used().is_empty(), "b was gone from the relist");
    assert!(index.pending.contains_key("c"));

    index.delete("c");
    assert!(index.pending.is_empty());
}

#[tokio::test]
async fn a_gated_pod_waits_for_its_gates_to_be_removed() {
    let api = TestApi::start().await;
    node(&api, "n", "4", true).await;
    let pods: Api<Pod> = Api::default_namespaced(api.client.clone());
    let p: Pod = serde_json::from_value(json!({"metadata": {"name": "gated"}, "spec": {
        "schedulingGates": [{"name": "example.com/wait"}],
        "containers": [{"name": "c", "image": "busybox"}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &p).await.unwrap();
    pod(&api, "free", "1", None).await;
    let (cancel, task) = start(&api);
    wait_for("the ungated pod's binding", async || {
        node_name(&api, "free").await
    })
    .await;
    assert_eq!(
        node_name(&api, "gated").await,
        None,
        "a gated pod is not bound"
    );
    assert!(
        events_of(&api, "gated").await.is_empty(),
        "nor reported unschedulable"
    );
    // Binding it anyway is refused, as upstream's binding storage refuses it.
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "gated"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "n"}});
    let refused = pods
        .create_subresource::<Value, Value>("binding", "gated", &PostParams::default(), &binding)
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("has non-empty .spec.schedulingGates"),
        "{refused}"
    );
    let ungate = json!({"spec": {"schedulingGates": null}});
    pods.patch("gated", &PatchParams::default(), &Patch::Merge(&ungate))
        .await
        .unwrap();
    let bound = wait_for("the binding once ungated", async || {
        node_name(&api, "gated").await
    })
    .await;
    assert_eq!(bound, "n");
    stop(cancel, task).await;
}

#[tokio::test]
async fn a_pod_whose_claim_cannot_be_used_stays_unscheduled_saying_why() {
    let api = TestApi::start().await;
    node(&api, "n", "4", true).await;
    let pods: Api<Pod> = Api::default_namespaced(api.client.clone());
    let claims: Api<PersistentVolumeClaim> = Api::default_namespaced(api.client.clone());
    for (pod_name, claim) in [
        ("no-claim", "absent"),
        ("odd-class", "fast"),
        ("elsewhere", "remote"),
    ] {
        let p: Pod = serde_json::from_value(json!({"metadata": {"name": pod_name}, "spec": {
            "containers": [{"name": "c", "image": "busybox"}],
            "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim}}]}}))
        .unwrap();
        pods.create(&PostParams::default(), &p).await.unwrap();
    }
    let fast: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "fast"},
        "spec": {"storageClassName": "fast-ssd", "accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "1Gi"}}}}))
    .unwrap();
    claims.create(&PostParams::default(), &fast).await.unwrap();
    // A class of a provisioner runlet does not have, binding on the first consumer.
    let class: k8s_openapi::api::storage::v1::StorageClass = serde_json::from_value(json!({
        "metadata": {"name": "disks"}, "provisioner": "example.com/disk",
        "volumeBindingMode": "WaitForFirstConsumer"}))
    .unwrap();
    Api::all(api.client.clone())
        .create(&PostParams::default(), &class)
        .await
        .unwrap();
    let remote: PersistentVolumeClaim =
        serde_json::from_value(json!({"metadata": {"name": "remote"},
        "spec": {"storageClassName": "disks", "accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "1Gi"}}}}))
        .unwrap();
    claims
        .create(&PostParams::default(), &remote)
        .await
        .unwrap();
    let (cancel, task) = start(&api);
    for (pod_name, why) in [
        ("no-claim", "persistentvolumeclaim \"absent\" not found"),
        // A class that does not exist binds at once: a volume must be bound to it first.
        (
            "odd-class",
            "pod has unbound immediate PersistentVolumeClaims",
        ),
    ] {
        let ev = failed_scheduling(&api, pod_name).await;
        assert_eq!(
            ev["message"],
            format!(
                "0/1 nodes are available: {why}. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.."
            )
        );
    }
    let ev = failed_scheduling(&api, "elsewhere").await;
    assert_eq!(
        ev["message"],
        "0/1 nodes are available: 1 node(s) didn't find available persistent volumes to bind. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.."
    );
    // The claim appears (of the default class): the pod is bound.
    let absent: PersistentVolumeClaim =
        serde_json::from_value(json!({"metadata": {"name": "absent"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
        .unwrap();
    claims
        .create(&PostParams::default(), &absent)
        .await
        .unwrap();
    let bound = wait_for("the binding", async || node_name(&api, "no-claim").await).await;
    assert_eq!(bound, "n");
    assert_eq!(node_name(&api, "odd-class").await, None);
    stop(cancel, task).await;
}

#[tokio::test]
async fn the_scheduled_event_lists_before_what_follows_the_binding() {
    let api = TestApi::start().await;
    node(&api, "n", "4", true).await;
    pod(&api, "p", "1", None).await;
    let (cancel, task) = start(&api);
    wait_for("the binding", async || node_name(&api, "p").await).await;
    // What an agent writes as soon as it sees the binding, maybe before the scheduler's event.
    let events: Api<Event> = Api::default_namespaced(api.client.clone());
    let started: Event = serde_json::from_value(json!({
        "metadata": {"name": runlet_api::clock::event_name("p")},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "p"},
        "reason": "Started", "message": "Started container c", "type": "Normal"}))
    .unwrap();
    events
        .create(&PostParams::default(), &started)
        .await
        .unwrap();
    let in_name_order = wait_for("the Scheduled event", async || {
        let reasons: Vec<String> = events_of(&api, "p")
            .await
            .iter()
            .map(|e| e["reason"].as_str().unwrap_or_default().to_string())
            .collect();
        (reasons.len() == 2).then_some(reasons)
    })
    .await;
    assert_eq!(in_name_order, ["Scheduled", "Started"]);
    stop(cancel, task).await;
}

#[tokio::test]
async fn a_read_write_once_pod_claim_goes_to_one_pod_at_a_time() {
    let api = TestApi::start().await;
    node(&api, "n", "4", true).await;
    let pods: Api<Pod> = Api::default_namespaced(api.client.clone());
    let claims: Api<PersistentVolumeClaim> = Api::default_namespaced(api.client.clone());
    let only: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "only"},
        "spec": {"accessModes": ["ReadWriteOncePod"], "resources": {"requests": {"storage": "1Gi"}}}}))
    .unwrap();
    claims.create(&PostParams::default(), &only).await.unwrap();
    for name in ["first", "second"] {
        let p: Pod = serde_json::from_value(json!({"metadata": {"name": name}, "spec": {
            "containers": [{"name": "c", "image": "busybox"}],
            "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "only"}}]}}))
        .unwrap();
        pods.create(&PostParams::default(), &p).await.unwrap();
    }
    let (cancel, task) = start(&api);
    // One pass placed one of them; the other waits, as upstream's VolumeRestrictions says.
    let (placed, waiting) = wait_for("one binding", async || {
        match (
            node_name(&api, "first").await,
            node_name(&api, "second").await,
        ) {
            (Some(_), None) => Some(("first", "second")),
            (None, Some(_)) => Some(("second", "first")),
            (Some(_), Some(_)) => panic!("both pods got the ReadWriteOncePod claim"),
            (None, None) => None,
        }
    })
    .await;
    let ev = failed_scheduling(&api, waiting).await;
    assert_eq!(
        ev["message"],
        "0/1 nodes are available: 1 node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.."
    );
    assert_eq!(node_name(&api, waiting).await, None);
    // Once the pod using it has finished, the claim is free.
    let done = json!({"status": {"phase": "Succeeded"}});
    pods.patch_status(placed, &PatchParams::default(), &Patch::Merge(&done))
        .await
        .unwrap();
    let bound = wait_for("the second binding", async || {
        node_name(&api, waiting).await
    })
    .await;
    assert_eq!(bound, "n");
    stop(cancel, task).await;
}

#[tokio::test]
async fn an_ephemeral_volume_needs_the_claim_made_for_its_pod() {
    let api = TestApi::start().await;
    node(&api, "n", "4", true).await;
    let pods: Api<Pod> = Api::default_namespaced(api.client.clone());
    let p: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "c", "image": "busybox"}],
        "volumes": [{"name": "v", "ephemeral": {"volumeClaimTemplate": {"spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}}}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &p).await.unwrap();
    // A claim of the right name that someone else made.
    let claim: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "p-v"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
    .unwrap();
    Api::<PersistentVolumeClaim>::default_namespaced(api.client.clone())
        .create(&PostParams::default(), &claim)
        .await
        .unwrap();
    let (cancel, task) = start(&api);
    let ev = failed_scheduling(&api, "p").await;
    assert_eq!(
        ev["message"],
        "0/1 nodes are available: PVC default/p-v was not created for pod default/p (pod is not owner). preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.."
    );
    assert_eq!(node_name(&api, "p").await, None);
    stop(cancel, task).await;
}

async fn pod_with_affinity(api: &TestApi, name: &str, app: &str, affinity: Value) {
    let pods: Api<Pod> = Api::default_namespaced(api.client.clone());
    let p: Pod = serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": app}},
        "spec": {"restartPolicy": "Never", "affinity": affinity,
            "containers": [{"name": "c", "image": "busybox"}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &p).await.unwrap();
}

/// Upstream's InterPodAffinity filter: pods with a required anti-affinity to their own kind on
/// `kubernetes.io/hostname` take one node each, the one left over waits saying why; a pod with
/// an affinity to them goes where one of them runs.
#[tokio::test]
async fn required_pod_anti_affinity_and_affinity_decide_the_node() {
    let api = TestApi::start().await;
    for n in ["n1", "n2"] {
        node(&api, n, "8", true).await;
        label_hostname(&api, n).await;
    }
    let (cancel, task) = start(&api);
    let apart = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "spread"}}, "topologyKey": "kubernetes.io/hostname"}]}});
    for name in ["s1", "s2", "s3"] {
        pod_with_affinity(&api, name, "spread", apart.clone()).await;
    }
    let placed = wait_for("two of the three pods bound", async || {
        let mut nodes = Vec::new();
        for name in ["s1", "s2", "s3"] {
            if let Some(n) = node_name(&api, name).await {
                nodes.push(n);
            }
        }
        (nodes.len() == 2).then_some(nodes)
    })
    .await;
    assert_ne!(placed[0], placed[1], "one per node");
    let mut waiting = None;
    for name in ["s1", "s2", "s3"] {
        if node_name(&api, name).await.is_none() {
            waiting = Some(name);
        }
    }
    let event = failed_scheduling(&api, waiting.unwrap()).await;
    let message = event["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules. preemption:"
        ),
        "{message}"
    );
    let near = json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "spread"}}, "topologyKey": "kubernetes.io/hostname"}]}});
    pod_with_affinity(&api, "near", "other", near).await;
    let node = wait_for("the pod with affinity bound", async || {
        node_name(&api, "near").await
    })
    .await;
    assert!(
        placed.contains(&node),
        "{node} runs a pod it wants to be near"
    );
    stop(cancel, task).await;
}

/// Upstream's PodTopologySpread filter: with `maxSkew: 1` over `kubernetes.io/hostname`, four
/// pods of a kind go two to each of two nodes, never three on one; a node without the key's
/// label takes none.
#[tokio::test]
async fn do_not_schedule_spread_constraints_keep_the_skew() {
    let api = TestApi::start().await;
    for n in ["n1", "n2"] {
        node(&api, n, "8", true).await;
        label_hostname(&api, n).await;
    }
    node(&api, "unlabelled", "8", true).await;
    let (cancel, task) = start(&api);
    let pods: Api<Pod> = Api::default_namespaced(api.client.clone());
    let names = ["w1", "w2", "w3", "w4"];
    for name in names {
        let p: Pod = serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": "w"}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}],
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "w"}}}]}}))
        .unwrap();
        pods.create(&PostParams::default(), &p).await.unwrap();
    }
    let placed = wait_for("the four pods bound", async || {
        let mut nodes = Vec::new();
        for name in names {
            nodes.push(node_name(&api, name).await?);
        }
        Some(nodes)
    })
    .await;
    for n in ["n1", "n2"] {
        assert_eq!(placed.iter().filter(|p| *p == n).count(), 2, "{placed:?}");
    }
    stop(cancel, task).await;
}
