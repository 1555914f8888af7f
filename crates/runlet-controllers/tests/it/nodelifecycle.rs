//! The node lifecycle controller against the in-process API server with a fake clock (upstream
//! `pkg/controller/nodelifecycle`, its taint-based eviction, and PodGC's `gcOrphaned` and
//! `gcUnscheduledTerminating`, `gcTerminating`).

use crate::harness::{WAIT, holds, until};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use runlet_api::clock::Clock;
use runlet_controllers::nodelifecycle::{self, Config, UNREACHABLE_TAINT};
use runlet_controllers::podfeed::PodSource;
use runlet_test::TestApi;
use serde_json::json;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

struct Env {
    api: TestApi,
    nodes: Api<Node>,
    pods: Api<Pod>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Env {
    async fn start() -> Env {
        let api = TestApi::start().await;
        let cancel = CancellationToken::new();
        let config = Config {
            monitor_period: Duration::from_millis(20),
            ..Config::default()
        };
        let task = tokio::spawn(nodelifecycle::run(
            api.client.clone(),
            api.clock.clone(),
            PodSource::Watch(api.client.clone()),
            config,
            cancel.clone(),
        ));
        Env {
            nodes: Api::all(api.client.clone()),
            pods: Api::default_namespaced(api.client.clone()),
            api,
            cancel,
            task,
        }
    }

    async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(WAIT, self.task)
            .await
            .unwrap()
            .unwrap();
    }

    /// A node as an agent registers it, Ready as of now.
    async fn node(&self, name: &str) {
        let node: Node = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        self.nodes
            .create(&PostParams::default(), &node)
            .await
            .unwrap();
        self.heartbeat(name).await;
    }

    /// What an agent's status update does: Ready, heard from now.
    async fn heartbeat(&self, name: &str) {
        let now = runlet_api::clock::rfc3339(self.api.clock.now_unix());
        let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True",
            "reason": "KubeletReady", "lastHeartbeatTime": now, "lastTransitionTime": now}]}});
        self.nodes
            .patch_status(name, &PatchParams::default(), &Patch::Strategic(status))
            .await
            .unwrap();
    }

    /// A running, ready pod bound to `node` (with the API's default tolerations: 300 s for
    /// the not-ready and unreachable taints).
    async fn running_pod(&self, name: &str, node: &str, tolerations: serde_json::Value) {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"nodeName": node, "tolerations": tolerations,
                "containers": [{"name": "c", "image": "busybox"}]}
        }))
        .unwrap();
        self.pods
            .create(&PostParams::default(), &pod)
            .await
            .unwrap();
        let status = json!({"status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}]}});
        self.pods
            .patch_status(name, &PatchParams::default(), &Patch::Merge(status))
            .await
            .unwrap();
    }

    /// Moves the clock a second at a time, letting the controller's passes run, until `check`
    /// holds (bounded by `WAIT`); how many milliseconds it moved.
    async fn advance_until<F, Fut>(&self, what: &str, mut check: F) -> i64
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let mut advanced = 0;
        let deadline = tokio::time::Instant::now() + WAIT;
        while !check().await {
            assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
            self.api.clock.advance_millis(1_000);
            advanced += 1_000;
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        advanced
    }

    /// Creates an unbound [`held_pod`] and deletes it: it stays, terminating, until released.
    async fn held_and_deleted(&self, name: &str) {
        self.pods
            .create(&PostParams::default(), &held_pod(name))
            .await
            .unwrap();
        self.pods
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }

    async fn node_now(&self, name: &str) -> Node {
        self.nodes.get(name).await.unwrap()
    }

    async fn deleting(&self, pod: &str) -> bool {
        self.pods
            .get_opt(pod)
            .await
            .unwrap()
            .is_none_or(|p| p.metadata.deletion_timestamp.is_some())
    }
}

fn ready_of(node: &Node) -> Option<String> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.clone())
}

fn taints_of(node: &Node) -> Vec<(String, String)> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.effect))
        .collect()
}

fn condition(pod: &Pod, kind: &str) -> Option<(String, Option<String>)> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unheard_node_becomes_unknown_and_tainted_and_its_pods_are_evicted_after_their_toleration()
 {
    let env = Env::start().await;
    env.node("n1").await;
    env.running_pod("tolerates", "n1", json!(null)).await;
    env.running_pod(
        "intolerant",
        "n1",
        json!([{"key": UNREACHABLE_TAINT, "operator": "Exists", "effect": "NoExecute",
            "tolerationSeconds": 0}]),
    )
    .await;
    // The clock moves a second at a time: the node turns Unknown only once it has gone
    // unheard for the 50 s grace period (counted from when the controller first saw it, so
    // at least 50 s of clock from here).
    let advanced = env
        .advance_until("Ready Unknown", || async {
            ready_of(&env.node_now("n1").await).as_deref() == Some("Unknown")
        })
        .await;
    assert!(advanced > 50_000, "Unknown after {advanced} ms");
    let node = env.node_now("n1").await;
    let ready = node
        .status
        .as_ref()
        .unwrap()
        .conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));
    assert_eq!(
        ready.message.as_deref(),
        Some("Kubelet stopped posting node status.")
    );
    until("unreachable taints", || async {
        let taints = taints_of(&env.node_now("n1").await);
        taints.contains(&(UNREACHABLE_TAINT.into(), "NoSchedule".into()))
            && taints.contains(&(UNREACHABLE_TAINT.into(), "NoExecute".into()))
    })
    .await;
    until("the pods are not ready", || async {
        condition(&env.pods.get("tolerates").await.unwrap(), "Ready").map(|c| c.0)
            == Some("False".into())
    })
    .await;
    let events: Api<Event> = Api::default_namespaced(env.api.client.clone());
    let any_event = |wanted: fn(&Event) -> bool| {
        let events = events.clone();
        async move {
            let list = events.list(&Default::default()).await.unwrap();
            list.items.iter().any(wanted)
        }
    };
    until("the NodeNotReady event", || {
        any_event(|e| e.reason.as_deref() == Some("NodeNotReady"))
    })
    .await;
    // And each pod is told, as upstream's `MarkPodsNotReady` tells it.
    until("the pod's NodeNotReady warning", || {
        any_event(|e| {
            e.involved_object.name.as_deref() == Some("tolerates")
                && e.type_.as_deref() == Some("Warning")
                && e.reason.as_deref() == Some("NodeNotReady")
                && e.message.as_deref() == Some("Node is not ready")
        })
    })
    .await;

    // A pod that tolerates the taint for 0 s goes at once; the default 300 s hold the other.
    until("the intolerant pod is evicted", || {
        env.deleting("intolerant")
    })
    .await;
    let evicted = env.pods.get("intolerant").await.unwrap();
    assert_eq!(
        condition(&evicted, "DisruptionTarget"),
        Some(("True".into(), Some("DeletionByTaintManager".into())))
    );
    assert!(!env.deleting("tolerates").await);
    env.api.clock.advance_millis(300_000);
    until("the tolerating pod is evicted after 300 s", || {
        env.deleting("tolerates")
    })
    .await;

    // The agent comes back: its heartbeat makes it Ready and the taints go.
    env.heartbeat("n1").await;
    until("taints removed", || async {
        taints_of(&env.node_now("n1").await).is_empty()
    })
    .await;
    let spec = env.node_now("n1").await.spec.unwrap_or_default();
    assert_eq!(spec.taints, None, "no empty list of taints is left");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_of_a_deleted_node_are_failed_and_deleted_after_the_quarantine() {
    let env = Env::start().await;
    env.node("gone").await;
    env.running_pod("stranded", "gone", json!(null)).await;
    // The agent reports the node not ready: the not-ready taints show a pass has seen it.
    let now = runlet_api::clock::rfc3339(env.api.clock.now_unix());
    let status = json!({"status": {"conditions": [{"type": "Ready", "status": "False",
        "reason": "KubeletNotReady", "lastHeartbeatTime": now, "lastTransitionTime": now}]}});
    env.nodes
        .patch_status("gone", &PatchParams::default(), &Patch::Strategic(status))
        .await
        .unwrap();
    until("the not-ready taints", || async {
        taints_of(&env.node_now("gone").await)
            .contains(&(nodelifecycle::NOT_READY_TAINT.into(), "NoSchedule".into()))
    })
    .await;
    env.nodes
        .delete("gone", &DeleteParams::default())
        .await
        .unwrap();
    holds("quarantined first", || async {
        !env.deleting("stranded").await
    })
    .await;
    env.api.clock.advance_millis(51_000);
    until("the orphan is deleted", || async {
        env.pods.get_opt("stranded").await.unwrap().is_none()
    })
    .await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_deleted_before_it_was_bound_is_failed_and_deleted() {
    let env = Env::start().await;
    env.pods
        .create(&PostParams::default(), &held_pod("waiting"))
        .await
        .unwrap();
    env.held_and_deleted("deleted").await;
    let phase = |pod: Pod| pod.status.and_then(|s| s.phase);
    env.advance_until("the deleted pod is failed", || async {
        phase(env.pods.get("deleted").await.unwrap()).as_deref() == Some("Failed")
    })
    .await;
    let waiting = env.pods.get("waiting").await.unwrap();
    assert!(waiting.metadata.deletion_timestamp.is_none());
    assert_eq!(
        phase(waiting).as_deref(),
        Some("Pending"),
        "a pod not deleted waits"
    );
    let release = Patch::Merge(json!({"metadata": {"finalizers": null}}));
    env.pods
        .patch("deleted", &PatchParams::default(), &release)
        .await
        .unwrap();
    until("the deleted pod is gone", || async {
        env.pods.get_opt("deleted").await.unwrap().is_none()
    })
    .await;
    env.pods
        .patch("waiting", &PatchParams::default(), &release)
        .await
        .unwrap();
    env.stop().await;
}

/// An unbound pod held by a finalizer, as the Job controller holds its pods, so its phase can
/// be seen after its deletion.
fn held_pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "finalizers": ["example.com/hold"]},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap()
}

/// The scan for orphans looks at every pod, however many there are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orphan_scan_finds_one_pod_among_many() {
    let env = Env::start().await;
    let plain = |name: String| -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}
        }))
        .unwrap()
    };
    // More pods than one page of a list (500) before the deleted one, which sorts last: a look
    // that read the pods page by page must not stop at the first.
    let names: Vec<String> = (0..520).map(|i| format!("a-{i:03}")).collect();
    for chunk in names.chunks(40) {
        let creates = chunk.iter().map(|name| {
            let (pods, pod) = (env.pods.clone(), plain(name.clone()));
            async move { pods.create(&PostParams::default(), &pod).await }
        });
        for created in futures::future::join_all(creates).await {
            created.unwrap();
        }
    }
    env.held_and_deleted("zz-deleted").await;
    env.advance_until("the deleted pod among many is failed", || async {
        let pod = env.pods.get("zz-deleted").await.unwrap();
        pod.status.and_then(|s| s.phase).as_deref() == Some("Failed")
    })
    .await;
    let release = Patch::Merge(json!({"metadata": {"finalizers": null}}));
    env.pods
        .patch("zz-deleted", &PatchParams::default(), &release)
        .await
        .unwrap();
    env.stop().await;
}

#[test]
fn eviction_waits_for_the_shortest_matching_toleration() {
    use k8s_openapi::api::core::v1::Taint;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    let taint = |key: &str| Taint {
        key: key.into(),
        effect: "NoExecute".into(),
        time_added: Some(Time(
            k8s_openapi::jiff::Timestamp::from_millisecond(1_000).unwrap(),
        )),
        value: None,
    };
    let pod = |tolerations: serde_json::Value| -> Pod {
        serde_json::from_value(json!({"spec": {"tolerations": tolerations, "containers": []}}))
            .unwrap()
    };
    let taints = [taint(UNREACHABLE_TAINT)];
    assert_eq!(
        nodelifecycle::eviction_delay(&pod(json!([])), &taints),
        Some(0),
        "not tolerated: at once"
    );
    let timed = pod(json!([
        {"key": UNREACHABLE_TAINT, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
    ]));
    assert_eq!(
        nodelifecycle::eviction_delay(&timed, &taints),
        Some(300_000)
    );
    let forever = pod(json!([{"operator": "Exists"}]));
    assert_eq!(nodelifecycle::eviction_delay(&forever, &taints), None);
    let noschedule_only = [Taint {
        effect: "NoSchedule".into(),
        ..taint(UNREACHABLE_TAINT)
    }];
    assert_eq!(
        nodelifecycle::eviction_delay(&pod(json!([])), &noschedule_only),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cordon_a_taint_added_by_hand_and_a_late_orphan_are_handled_as_upstream() {
    let env = Env::start().await;
    env.node("n1").await;
    let cordon = |on: bool| json!({"spec": {"unschedulable": on}});
    let unschedulable = (
        nodelifecycle::UNSCHEDULABLE_TAINT.to_string(),
        "NoSchedule".to_string(),
    );
    env.nodes
        .patch("n1", &PatchParams::default(), &Patch::Merge(cordon(true)))
        .await
        .unwrap();
    until("kubectl cordon: the unschedulable taint", || async {
        taints_of(&env.node_now("n1").await).contains(&unschedulable)
    })
    .await;
    env.nodes
        .patch("n1", &PatchParams::default(), &Patch::Merge(cordon(false)))
        .await
        .unwrap();
    until("kubectl uncordon: no taint", || async {
        taints_of(&env.node_now("n1").await).is_empty()
    })
    .await;

    // `kubectl taint nodes n1 evict=now:NoExecute` writes no timeAdded: the toleration's
    // time runs from when the controller finds the pod under the taint.
    env.running_pod(
        "patient",
        "n1",
        json!([{"key": "evict", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 20}]),
    )
    .await;
    env.running_pod("impatient", "n1", json!(null)).await;
    let taint =
        json!({"spec": {"taints": [{"key": "evict", "value": "now", "effect": "NoExecute"}]}});
    env.nodes
        .patch("n1", &PatchParams::default(), &Patch::Merge(taint))
        .await
        .unwrap();
    until("an untolerated taint evicts at once", || {
        env.deleting("impatient")
    })
    .await;
    holds("a tolerated one waits for its 20 s", || async {
        !env.deleting("patient").await
    })
    .await;
    env.api.clock.advance_millis(20_000);
    until("and evicts after them", || env.deleting("patient")).await;

    // A pod bound to a node that never existed, created after the first passes.
    env.running_pod("lost", "never-was", json!(null)).await;
    let advanced = env
        .advance_until("orphan collected", || async {
            env.pods.get_opt("lost").await.unwrap().is_none()
        })
        .await;
    assert!(
        advanced >= 50_000,
        "collected after {advanced} ms, before its quarantine"
    );
    env.stop().await;
}

/// Upstream PodGC's `gcTerminating`: the terminating pods of a node that is not Ready and
/// carries the `out-of-service` taint are failed and deleted without grace, while those of a
/// node without the taint wait for their kubelet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminating_pods_of_an_out_of_service_node_are_failed_and_deleted() {
    let env = Env::start().await;
    let held = |name: &str, node: &str| -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "finalizers": ["example.com/hold"]},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}
        }))
        .unwrap()
    };
    for (pod, node) in [("dead-pod", "dead"), ("down-pod", "down")] {
        env.node(node).await;
        env.pods
            .create(&PostParams::default(), &held(pod, node))
            .await
            .unwrap();
        let now = runlet_api::clock::rfc3339(env.api.clock.now_unix());
        let status = json!({"status": {"conditions": [{"type": "Ready", "status": "False",
            "reason": "KubeletNotReady", "lastHeartbeatTime": now, "lastTransitionTime": now}]}});
        env.nodes
            .patch_status(node, &PatchParams::default(), &Patch::Strategic(status))
            .await
            .unwrap();
        env.pods
            .delete(pod, &DeleteParams::default())
            .await
            .unwrap();
    }
    let taint = json!({"spec": {"taints": [{"key": nodelifecycle::OUT_OF_SERVICE_TAINT,
        "value": "nodeshutdown", "effect": "NoExecute"}]}});
    env.nodes
        .patch("dead", &PatchParams::default(), &Patch::Merge(taint))
        .await
        .unwrap();
    let phase = |pod: Pod| pod.status.and_then(|s| s.phase);
    env.advance_until("the out-of-service node's pod is failed", || async {
        phase(env.pods.get("dead-pod").await.unwrap()).as_deref() == Some("Failed")
    })
    .await;
    assert_ne!(
        phase(env.pods.get("down-pod").await.unwrap()).as_deref(),
        Some("Failed"),
        "a node merely not ready keeps its pods for its kubelet"
    );
    let release = Patch::Merge(json!({"metadata": {"finalizers": null}}));
    for pod in ["dead-pod", "down-pod"] {
        env.pods
            .patch(pod, &PatchParams::default(), &release)
            .await
            .unwrap();
    }
    until("the failed pod is gone", || async {
        env.pods.get_opt("dead-pod").await.unwrap().is_none()
    })
    .await;
    env.stop().await;
}
