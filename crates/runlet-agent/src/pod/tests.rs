//! Pod worker behaviour with the fake OS: which processes start, in which order, which signals
//! they get, and what status results, against the in-process API server and a fake clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::os::Signal;
use crate::os::fake::{FakeOs, FakeProcess};
use crate::{Agent, AgentConfig};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};
use runlet_test::TestApi;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

struct Env {
    api: TestApi,
    os: Arc<FakeOs>,
    pods: Api<Pod>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Env {
    async fn start() -> Env {
        let api = TestApi::start().await;
        let dir = tempfile::tempdir().unwrap();
        let os = Arc::new(FakeOs::new());
        let mut config = AgentConfig::new("n", dir.path().to_path_buf());
        config.tick = Duration::from_millis(10);
        let agent = Agent::with_os(api.client.clone(), api.clock.clone(), config, os.clone());
        let cancel = CancellationToken::new();
        let token = cancel.clone();
        let task = tokio::spawn(async move { agent.run(token).await.unwrap() });
        let pods = Api::default_namespaced(api.client.clone());
        Env {
            api,
            os,
            pods,
            cancel,
            task,
            _dir: dir,
        }
    }

    async fn create(&self, name: &str, mut spec: serde_json::Value) {
        spec["nodeName"] = json!("n");
        let p: Pod =
            serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap();
        self.pods.create(&PostParams::default(), &p).await.unwrap();
    }

    async fn wait<T>(&self, what: &str, f: impl AsyncFnMut() -> Option<T>) -> T {
        runlet_test::wait_for(what, f).await
    }

    async fn status(&self, name: &str) -> Option<serde_json::Value> {
        let p = self.pods.get_opt(name).await.unwrap()?;
        serde_json::to_value(p.status?).ok()
    }

    async fn phase(&self, name: &str, phase: &str) -> serde_json::Value {
        self.wait(phase, async || {
            self.status(name).await.filter(|s| s["phase"] == phase)
        })
        .await
    }

    /// Whether process `pid` got `signal` so far.
    fn got(&self, pid: u32, signal: Signal) -> bool {
        self.os.signals.lock().unwrap().contains(&(pid, signal))
    }

    /// Waits until process `pid` got `signal`.
    async fn signalled(&self, pid: u32, signal: Signal) {
        self.wait("the signal", async || self.got(pid, signal).then_some(()))
            .await;
    }

    async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

fn c(name: &str) -> serde_json::Value {
    json!({"name": name, "image": "busybox", "command": [name]})
}

#[tokio::test]
async fn never_does_not_restart_a_failed_container() {
    let env = Env::start().await;
    env.os.push(FakeProcess {
        exit_code: Some(1),
        ..Default::default()
    });
    env.create(
        "p",
        json!({"restartPolicy": "Never", "containers": [c("main")]}),
    )
    .await;
    let s = env.phase("p", "Failed").await;
    assert_eq!(
        s["containerStatuses"][0]["state"]["terminated"]["reason"],
        "Error"
    );
    assert_eq!(env.os.spawn_count(), 1);
    env.stop().await;
}

#[tokio::test]
async fn sidecars_start_before_main_containers_and_are_stopped_after_them() {
    // Upstream (KEP-753): restartable init containers start in order before the main
    // containers and are terminated after every main container has exited.
    let env = Env::start().await;
    env.os.push(FakeProcess {
        exit_code: None,
        ..Default::default()
    }); // the sidecar runs on
    env.os.push(FakeProcess {
        exit_code: Some(0),
        ..Default::default()
    }); // init
    env.os.push(FakeProcess {
        exit_code: Some(0),
        ..Default::default()
    }); // main
    let mut side = c("side");
    side["restartPolicy"] = json!("Always");
    env.create("p", json!({"restartPolicy": "Never", "initContainers": [side, c("init")], "containers": [c("main")]})).await;
    let s = env.phase("p", "Succeeded").await;
    let order: Vec<String> = env
        .os
        .spawned
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.argv[0].clone())
        .collect();
    assert_eq!(order, vec!["side", "init", "main"]);
    let signals = env.os.signals.lock().unwrap().clone();
    assert!(
        signals.contains(&(1000, Signal::Term)),
        "the sidecar got SIGTERM: {signals:?}"
    );
    assert_eq!(
        s["initContainerStatuses"][0]["state"]["terminated"]["exitCode"],
        143
    );
    env.stop().await;
}

#[tokio::test]
async fn deletion_sends_sigterm_then_sigkill_when_the_grace_period_ends() {
    let env = Env::start().await;
    env.os.push(FakeProcess {
        exit_code: None,
        ignore_term: true,
        ..Default::default()
    });
    env.create("p", json!({"restartPolicy": "Never", "terminationGracePeriodSeconds": 20, "containers": [c("main")]})).await;
    env.phase("p", "Running").await;
    env.pods
        .delete("p", &DeleteParams::default())
        .await
        .unwrap();
    env.signalled(1000, Signal::Term).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !env.got(1000, Signal::Kill),
        "no SIGKILL within the grace period"
    );
    env.api.clock.advance_millis(20_000);
    env.wait("deletion", async || {
        env.pods.get_opt("p").await.unwrap().is_none().then_some(())
    })
    .await;
    assert!(env.got(1000, Signal::Kill));
    env.stop().await;
}

/// A sidecar whose turn to stop comes only when the containers it serves used up the grace
/// period still gets SIGTERM, and SIGKILL the least grace later, as upstream's `killContainer`
/// after waiting for its turn.
#[tokio::test]
async fn a_sidecar_gets_sigterm_even_when_the_main_container_used_up_the_grace() {
    let env = Env::start().await;
    for _ in 0..2 {
        env.os.push(FakeProcess {
            exit_code: None,
            ignore_term: true,
            ..Default::default()
        });
    }
    let mut side = c("side");
    side["restartPolicy"] = json!("Always");
    env.create(
        "p",
        json!({"restartPolicy": "Never", "terminationGracePeriodSeconds": 3,
            "initContainers": [side], "containers": [c("main")]}),
    )
    .await;
    env.phase("p", "Running").await;
    env.pods
        .delete("p", &DeleteParams::default())
        .await
        .unwrap();
    env.signalled(1001, Signal::Term).await;
    env.api.clock.advance_millis(3_000);
    env.signalled(1001, Signal::Kill).await;
    env.signalled(1000, Signal::Term).await;
    assert!(
        !env.got(1000, Signal::Kill),
        "the sidecar is not killed with the main container"
    );
    env.api.clock.advance_millis(2_000);
    env.signalled(1000, Signal::Kill).await;
    env.stop().await;
}

/// Upstream's kubelet never moves a pod out of a terminal phase that someone else (PodGC, a
/// controller) wrote: it keeps the phase and stops the pod's containers.
#[tokio::test]
async fn a_terminal_phase_written_by_another_stays_and_stops_the_containers() {
    let env = Env::start().await;
    env.os.push(FakeProcess {
        exit_code: None,
        ..Default::default()
    });
    env.create("p", json!({"restartPolicy": "OnFailure", "terminationGracePeriodSeconds": 5, "containers": [c("main")]})).await;
    env.phase("p", "Running").await;
    let patch = json!({"status": {"phase": "Failed", "conditions": [
        {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC"}]}});
    env.pods
        .patch_status(
            "p",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    env.signalled(1000, Signal::Term).await;
    // The container ends of its SIGTERM; the pod's final status keeps the phase.
    env.wait("the container's end in the status", async || {
        env.status("p")
            .await
            .filter(|s| !s["containerStatuses"][0]["state"]["terminated"].is_null())
    })
    .await;
    let s = env.status("p").await.unwrap();
    assert_eq!(s["phase"], "Failed", "{s}");
    assert!(
        s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "DisruptionTarget"),
        "{s}"
    );
    assert_eq!(env.os.spawn_count(), 1, "not restarted");
    env.stop().await;
}

#[tokio::test]
async fn refused_mount_namespace_fails_the_pod_with_a_clear_reason() {
    let env = Env::start().await;
    env.os.push(FakeProcess {
        spawn_errno: Some(1),
        ..Default::default()
    });
    let mut main = c("main");
    main["volumeMounts"] =
        json!([{"name": "v", "mountPath": env._dir.path().join("m").to_str().unwrap()}]);
    env.create("p", json!({"restartPolicy": "OnFailure", "containers": [main], "volumes": [{"name": "v", "emptyDir": {}}]})).await;
    let s = env.phase("p", "Failed").await;
    assert_eq!(s["reason"], "MountNamespaceUnavailable");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("private mount namespace")
    );
    assert_eq!(
        env.os.spawn_count(),
        1,
        "the pod never runs without its volumes"
    );
    env.stop().await;
}

#[tokio::test]
async fn an_agent_that_is_not_root_fails_a_pod_with_volumes_before_making_anything() {
    let env = Env::start().await;
    env.os
        .not_root
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let target = env._dir.path().join("not-made");
    let mut main = c("main");
    main["volumeMounts"] = json!([{"name": "v", "mountPath": target.to_str().unwrap()}]);
    env.create("p", json!({"restartPolicy": "Never", "containers": [main], "volumes": [{"name": "v", "emptyDir": {}}]})).await;
    let s = env.phase("p", "Failed").await;
    assert_eq!(s["reason"], "MountNamespaceUnavailable");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("the node agent does not run as root"),
        "{s}"
    );
    assert_eq!(env.os.spawn_count(), 0);
    assert!(!target.exists(), "no mount point made on the host");
    env.stop().await;
}

#[tokio::test]
async fn limits_that_cannot_be_enforced_are_reported_in_an_event() {
    let env = Env::start().await;
    env.os
        .no_cgroups
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let mut main = c("main");
    main["resources"] = json!({"limits": {"memory": "64Mi", "cpu": "500m"}});
    env.create("p", json!({"restartPolicy": "Never", "containers": [main]}))
        .await;
    env.phase("p", "Succeeded").await;
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::default_namespaced(env.api.client.clone());
    let event = env
        .wait("the LimitsNotEnforced event", async || {
            events
                .list(&Default::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .find(|e| e.reason.as_deref() == Some("LimitsNotEnforced"))
        })
        .await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert!(
        event
            .message
            .unwrap_or_default()
            .starts_with("the resource limits of container main are not enforced"),
    );
    env.stop().await;
}

#[tokio::test]
async fn a_pod_that_ends_at_once_costs_one_status_write() {
    let env = Env::start().await;
    let before = env.api.state.store.current_revision();
    env.create(
        "p",
        json!({"restartPolicy": "Never", "containers": [c("main")]}),
    )
    .await;
    env.phase("p", "Succeeded").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let key = runlet_api::resources::find("", "v1", "pods")
        .unwrap()
        .key(Some("default"), "p");
    let mut w = env.api.state.store.watch(&key, before).unwrap();
    let mut writes = 0;
    while let Ok(Some(Ok(ev))) =
        tokio::time::timeout(Duration::from_millis(100), futures::StreamExt::next(&mut w)).await
    {
        if ev.key == key {
            writes += 1;
        }
    }
    // The container's exit comes within the quick-exit window, so its start is not written
    // on its own.
    assert_eq!(writes, 2, "create + one status write");
    env.stop().await;
}

#[test]
fn volume_setup_retries_back_off_as_upstream_volume_operations() {
    let mut retry = super::MountRetry::new(Duration::from_secs(1));
    let delays: Vec<u64> = (0..10)
        .map(|_| retry.next_delay().as_millis() as u64)
        .collect();
    assert_eq!(
        delays,
        [
            500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 122_000, 122_000
        ]
    );
    let mut fast = super::MountRetry::new(Duration::from_millis(20));
    assert_eq!(fast.next_delay(), Duration::from_millis(20));
    assert_eq!(fast.next_delay(), Duration::from_millis(40));
}
