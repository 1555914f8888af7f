//! Restarts, crash-loop backoff, deadlines, graceful deletion and shutdown.

use crate::harness::{Env, cstatus, process_with, wait_until};
use kube::api::{DeleteParams, LogParams, Patch, PatchParams};
use serde_json::json;

fn sh(script: &str) -> serde_json::Value {
    json!(["sh", "-c", script])
}

#[tokio::test]
async fn on_failure_restarts_in_place_with_crash_loop_backoff() {
    let env = Env::start().await;
    env.create(
        "flaky",
        json!({"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox",
            "command": sh("echo attempt-$(date +%s%N); exit 3")}]}),
    )
    .await;
    // Upstream: the first restart is immediate, the next waits 10 s. The kubelet shows the
    // exit (Error) until its next sync of the pod, 10 s on, when the restart is due as well.
    let p = env
        .wait_pod("flaky", "the second attempt ended", |p| {
            p.status.is_some()
                && cstatus(p, false)[0]["restartCount"] == 1
                && cstatus(p, false)[0]["state"]["terminated"]["reason"] == "Error"
        })
        .await;
    let cs = cstatus(&p, false)[0].clone();
    assert_eq!(cs["state"]["terminated"]["exitCode"], 3);
    assert_eq!(cs["lastState"]["terminated"]["exitCode"], 3);
    assert_ne!(
        cs["lastState"]["terminated"]["containerID"], cs["state"]["terminated"]["containerID"],
        "lastState is the attempt before"
    );
    assert_eq!(
        crate::harness::phase_of(&p),
        "Running",
        "a restarting pod is Running"
    );
    let current = env.logs("flaky", &LogParams::default()).await;
    let previous = env.previous_logs("flaky").await;
    assert!(current.starts_with("attempt-"));
    // Upstream's `validateContainerLogStatus`: the ended attempt `state` shows, and with
    // `previous` the one `lastState` shows.
    assert_ne!(previous, current, "--previous reads lastState");

    // Nothing happens until the clock passes the backoff.
    env.api.clock.advance_millis(10_001);
    let p = env
        .wait_pod("flaky", "the third attempt ended", |p| {
            p.status.is_some()
                && cstatus(p, false)[0]["restartCount"] == 2
                && !cstatus(p, false)[0]["state"]["terminated"].is_null()
        })
        .await;
    assert_eq!(
        cstatus(&p, false)[0]["lastState"]["terminated"]["exitCode"],
        3
    );
    // Its back-off is 20 s: from the next sync, 10 s on, the pod shows CrashLoopBackOff, the
    // attempt that just ended moving to lastState.
    let ended = cstatus(&p, false)[0]["state"]["terminated"]["containerID"].clone();
    env.api.clock.advance_millis(10_001);
    let p = env
        .wait_pod("flaky", "backing off", |p| {
            cstatus(p, false)[0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        })
        .await;
    let cs = cstatus(&p, false)[0].clone();
    assert_eq!(cs["lastState"]["terminated"]["containerID"], ended);
    // A `BackOff` event at each crash that backs off (the second and the third), and one more
    // at each sync of the pod while it waits, every 10 s, counted on the first.
    let events: kube::Api<k8s_openapi::api::core::v1::Event> =
        kube::Api::default_namespaced(env.api.client.clone());
    wait_until("the third BackOff", || async {
        let list = events.list(&Default::default()).await.unwrap();
        list.items
            .iter()
            .filter(|e| e.reason.as_deref() == Some("BackOff"))
            .filter_map(|e| e.count)
            .sum::<i32>()
            == 3
    })
    .await;
    assert_eq!(
        cs["state"]["waiting"]["message"]
            .as_str()
            .unwrap()
            .split(" restarting")
            .next(),
        Some("back-off 20s")
    );
    let previous_now = env.previous_logs("flaky").await;
    assert_ne!(
        previous_now, previous,
        "lastState moved on to the third attempt"
    );
    // Two attempts' logs are kept, the current one and the previous: the first went when the
    // third started, as the kubelet removes a container's older dead instances.
    let logs: Vec<String> = std::fs::read_dir(env.dir.path().join("agent/logs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("_flaky_"))
        .collect();
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert!(logs.iter().all(|n| !n.ends_with(".0.log")), "{logs:?}");
    // Deleted while it backs off, it is not restarted (upstream's `ShouldContainerBeRestarted`)
    // and shows its last attempt's exit again, not CrashLoopBackOff. A finalizer holds the pod
    // to look at what the agent wrote last.
    let hold = json!({"metadata": {"finalizers": ["example.com/hold"]}});
    env.pods
        .patch("flaky", &PatchParams::default(), &Patch::Merge(&hold))
        .await
        .unwrap();
    env.pods
        .delete("flaky", &DeleteParams::default())
        .await
        .unwrap();
    let p = env
        .wait_pod("flaky", "its end", |p| {
            crate::harness::phase_of(p) == "Failed"
        })
        .await;
    let cs = cstatus(&p, false)[0].clone();
    assert_eq!(cs["state"]["terminated"]["containerID"], ended, "{cs}");
    assert_eq!(cs["state"]["terminated"]["reason"], "Error");
    let release = json!({"metadata": {"finalizers": null}});
    env.pods
        .patch("flaky", &PatchParams::default(), &Patch::Merge(&release))
        .await
        .unwrap();
    wait_until("the pod is gone", || async {
        env.pods.get_opt("flaky").await.unwrap().is_none()
    })
    .await;
    env.stop().await;
}

#[tokio::test]
async fn graceful_deletion_sends_sigterm_then_sigkill_after_the_grace_period() {
    let env = Env::start().await;
    let marker = format!("runlet-grace-{}", std::process::id());
    env.create(
        "stubborn",
        json!({"restartPolicy": "Never", "terminationGracePeriodSeconds": 30, "containers": [{"name": "c", "image": "busybox",
            "command": sh(&format!("trap 'echo got-term' TERM; echo up; while true; do sleep 0.05; done # {marker}"))}]}),
    )
    .await;
    env.wait_phase("stubborn", "Running").await;
    wait_until("the container printed", || async {
        env.logs("stubborn", &LogParams::default())
            .await
            .contains("up")
    })
    .await;
    env.pods
        .delete("stubborn", &DeleteParams::default())
        .await
        .unwrap();
    wait_until("SIGTERM reached the container", || async {
        env.logs("stubborn", &LogParams::default())
            .await
            .contains("got-term")
    })
    .await;
    assert!(
        env.pods.get_opt("stubborn").await.unwrap().is_some(),
        "still within its grace period"
    );
    assert!(process_with(&marker), "the container ignores SIGTERM");
    env.api.clock.advance_millis(30_001);
    wait_until("the pod is deleted", || async {
        env.pods.get_opt("stubborn").await.unwrap().is_none()
    })
    .await;
    wait_until("no process is left", || async { !process_with(&marker) }).await;
    env.stop().await;
}

/// A container whose start fails (no such executable) is `Created` and then `Failed`, as the
/// kubelet reports a start error of containerd; to be restarted, it waits in
/// `RunContainerError` with the error (the kubelet's reason cache), the attempt that never
/// started in `lastState` as `StartError`, 128, started at the epoch.
#[tokio::test]
async fn a_start_error_to_be_restarted_waits_in_run_container_error() {
    let env = Env::start().await;
    env.create(
        "missing",
        json!({"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox",
            "command": ["no-such-command-here"]}]}),
    )
    .await;
    let p = env
        .wait_pod("missing", "RunContainerError", |p| {
            p.status.is_some()
                && cstatus(p, false)[0]["state"]["waiting"]["reason"] == "RunContainerError"
        })
        .await;
    let cs = cstatus(&p, false)[0].clone();
    let message = cs["state"]["waiting"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("no-such-command-here"), "{cs}");
    let last = &cs["lastState"]["terminated"];
    assert_eq!(last["reason"], "StartError", "{cs}");
    assert_eq!(last["exitCode"], 128, "{cs}");
    assert_eq!(last["startedAt"], "1970-01-01T00:00:00Z", "{cs}");
    let events: kube::Api<k8s_openapi::api::core::v1::Event> =
        kube::Api::default_namespaced(env.api.client.clone());
    wait_until("Created, then Failed", || async {
        let list = events.list(&Default::default()).await.unwrap();
        let reasons: Vec<&str> = list
            .items
            .iter()
            .filter(|e| e.involved_object.name.as_deref() == Some("missing"))
            .filter_map(|e| e.reason.as_deref())
            .collect();
        let at = |r: &str| reasons.iter().position(|x| *x == r);
        matches!((at("Created"), at("Failed")), (Some(c), Some(f)) if c < f)
    })
    .await;
    env.stop().await;
}

#[tokio::test]
async fn active_deadline_fails_the_pod_with_deadline_exceeded() {
    let env = Env::start().await;
    let termed = env.dir.path().join("termed");
    env.create(
        "slow",
        // The container notes its SIGTERM and goes on until its SIGKILL, 30 s later on the
        // fake clock.
        json!({"restartPolicy": "Never", "activeDeadlineSeconds": 5, "terminationGracePeriodSeconds": 30,
            "containers": [{"name": "c", "image": "busybox",
                "command": sh(&format!("trap 'touch {}' TERM; while true; do sleep 0.1; done", termed.display()))}]}),
    )
    .await;
    env.wait_phase("slow", "Running").await;
    env.api.clock.advance_millis(6_000);
    wait_until("the SIGTERM", || async { termed.exists() }).await;
    // While its container may still run, the pod shows no reason yet, as the kubelet's status
    // manager holds the terminal phase with its reason and message back.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let p = env.pods.get("slow").await.unwrap();
    assert_eq!(crate::harness::phase_of(&p), "Running");
    assert_eq!(p.status.and_then(|s| s.reason), None);
    env.api.clock.advance_millis(31_000);
    let p = env.wait_phase("slow", "Failed").await;
    let s = serde_json::to_value(p.status.unwrap()).unwrap();
    assert_eq!(s["reason"], "DeadlineExceeded");
    assert_eq!(
        s["message"],
        "Pod was active on the node longer than the specified deadline"
    );
    env.stop().await;
}

#[tokio::test]
async fn an_empty_dir_past_its_size_limit_gets_the_pod_evicted() {
    let env = Env::start().await;
    let mnt = env.dir.path().join("mnt");
    let dir = mnt.to_str().unwrap();
    let pod = env
        .create(
            "greedy",
            json!({"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                "containers": [{"name": "c", "image": "busybox", "env": [{"name": "DIR", "value": dir}],
                    "command": sh("head -c 3145728 /dev/zero > $DIR/scratch/big; trap 'exit 143' TERM; while true; do sleep 0.1; done"),
                    "volumeMounts": [{"name": "scratch", "mountPath": format!("{dir}/scratch")}]}],
                "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Mi"}}]}),
        )
        .await;
    env.wait_phase("greedy", "Running").await;
    let big = env
        .dir
        .path()
        .join("agent/pod-volumes")
        .join(pod.metadata.uid.unwrap())
        .join("volumes/scratch/big");
    wait_until("the volume filled", || async {
        std::fs::metadata(&big).is_ok_and(|m| m.len() == 3 << 20)
    })
    .await;
    // The eviction manager's next look, ten seconds on.
    env.api.clock.advance_millis(10_001);
    let p = env.wait_phase("greedy", "Failed").await;
    let s = serde_json::to_value(p.status.unwrap()).unwrap();
    assert_eq!(s["reason"], "Evicted");
    assert_eq!(
        s["message"],
        "Usage of EmptyDir volume \"scratch\" exceeds the limit \"1Mi\". "
    );
    env.stop().await;
}

#[tokio::test]
async fn a_pod_past_its_ephemeral_storage_limit_is_evicted() {
    let env = Env::start().await;
    let pod = env
        .create(
            "hoarder",
            // Writes into its working directory, the process runtime's writable layer.
            json!({"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                "containers": [{"name": "c", "image": "busybox",
                    "resources": {"limits": {"ephemeral-storage": "1Mi"}},
                    "command": sh("head -c 3145728 /dev/zero > big; trap 'exit 143' TERM; while true; do sleep 0.1; done")}]}),
        )
        .await;
    env.wait_phase("hoarder", "Running").await;
    let big = env
        .dir
        .path()
        .join("agent/pods")
        .join(pod.metadata.uid.unwrap())
        .join("big");
    wait_until("the file written", || async {
        std::fs::metadata(&big).is_ok_and(|m| m.len() == 3 << 20)
    })
    .await;
    env.api.clock.advance_millis(10_001);
    let p = env.wait_phase("hoarder", "Failed").await;
    let s = serde_json::to_value(p.status.unwrap()).unwrap();
    assert_eq!(s["reason"], "Evicted");
    assert_eq!(
        s["message"],
        "Pod ephemeral local storage usage exceeds the total limit of containers 1Mi. "
    );
    env.stop().await;
}

#[tokio::test]
async fn stopping_the_agent_leaves_no_process_behind() {
    let mut env = Env::start().await;
    let marker = format!("runlet-stop-{}", std::process::id());
    env.create(
        "long",
        json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
            "command": sh(&format!("sleep 1000 & wait # {marker}"))}]}),
    )
    .await;
    env.create(
        "resumed",
        json!({"restartPolicy": "OnFailure",
            "initContainers": [{"name": "i", "image": "busybox", "command": sh("echo init")}],
            "containers": [{"name": "c", "image": "busybox",
                "command": sh(&format!("echo run; sleep 1000 # {marker}"))}]}),
    )
    .await;
    env.wait_phase("long", "Running").await;
    env.wait_phase("resumed", "Running").await;
    wait_until("the process runs", || async { process_with(&marker) }).await;
    env.stop_agent().await;
    wait_until("no process is left", || async { !process_with(&marker) }).await;
    // The next run of the agent finds a pod it started whose processes are gone: Failed, its
    // container as the kubelet reports one it cannot find.
    env.start_agent().await;
    let lost = env.wait_phase("long", "Failed").await;
    assert_eq!(
        lost.status.as_ref().unwrap().reason.as_deref(),
        Some("NodeAgentRestarted")
    );
    let c = cstatus(&lost, false)[0].clone();
    assert_eq!(
        c["state"]["terminated"]["reason"], "ContainerStatusUnknown",
        "{c}"
    );
    assert_eq!(c["ready"], false);
    let disruption = lost
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "DisruptionTarget"))
        .map(|c| (c.status.clone(), c.reason.clone()));
    assert_eq!(
        disruption,
        Some(("True".into(), Some("TerminationByKubelet".into())))
    );
    assert_eq!(
        env.logs("long", &LogParams::default()).await,
        "",
        "the lost attempt's log is still served"
    );
    // One that restarts on failure runs again, from its init container, as the kubelet
    // restarts a pod whose sandbox is gone: each container one restart more.
    let resumed = env
        .wait_pod("resumed", "running again", |p| {
            let c = &cstatus(p, false)[0];
            c["restartCount"] == 1 && c["state"]["running"].is_object()
        })
        .await;
    let c = cstatus(&resumed, false)[0].clone();
    assert_eq!(
        c["lastState"]["terminated"]["reason"], "ContainerStatusUnknown",
        "{c}"
    );
    assert_eq!(cstatus(&resumed, true)[0]["restartCount"], 1);
    assert_eq!(env.previous_logs("resumed").await, "run\n");
    env.stop().await;
}

#[tokio::test]
async fn conditions_changed_by_others_are_put_back_and_theirs_kept() {
    let env = Env::start().await;
    env.create(
        "steady",
        json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
            "command": sh("sleep 1000")}]}),
    )
    .await;
    let ready = |p: &k8s_openapi::api::core::v1::Pod, kind: &str| {
        p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == kind))
            .map(|c| c.status.clone())
    };
    env.wait_pod("steady", "Ready", |p| {
        ready(p, "Ready").as_deref() == Some("True")
    })
    .await;
    // What the node lifecycle controller writes for an unreachable node, and a condition of
    // its own kind (a merge patch replaces the list).
    let patch = json!({"status": {"conditions": [
        {"type": "Ready", "status": "False", "reason": "NodeNotReady"},
        {"type": "example.com/Checked", "status": "True"}]}});
    env.pods
        .patch_status(
            "steady",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    let back = env
        .wait_pod("steady", "Ready again", |p| {
            ready(p, "Ready").as_deref() == Some("True")
                && ready(p, "ContainersReady").as_deref() == Some("True")
        })
        .await;
    assert_eq!(
        ready(&back, "example.com/Checked").as_deref(),
        Some("True"),
        "another's condition stays"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_never_pod_started_just_before_a_crash_does_not_run_twice() {
    let mut env = Env::start().await;
    env.stop_agent().await;
    let ran = env.dir.path().join("ran");
    let pod = env
        .create(
            "once",
            json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
                "command": sh(&format!("echo ran >> {}", ran.display()))}]}),
        )
        .await;
    // The agent stopped after starting the container (its log file is made then) and before
    // its first status write.
    let logs = runlet_agent::logs::LogStore::new(env.dir.path().join("agent/logs"));
    let uid = pod.metadata.uid.unwrap();
    std::fs::create_dir_all(env.dir.path().join("agent/logs")).unwrap();
    let cri_line = "2026-01-01T00:00:00.000000000Z stdout F its last words\n";
    std::fs::write(logs.attempt_file("default", "once", &uid, "c", 0), cri_line).unwrap();
    env.start_agent().await;
    let lost = env.wait_phase("once", "Failed").await;
    assert_eq!(
        lost.status.as_ref().unwrap().reason.as_deref(),
        Some("NodeAgentRestarted")
    );
    assert!(!ran.exists(), "the container did not run a second time");
    // It had no status: its container is reported lost all the same, its log readable.
    let cs = cstatus(&lost, false)[0].clone();
    assert_eq!(
        cs["state"]["terminated"]["reason"], "ContainerStatusUnknown",
        "{cs}"
    );
    assert_eq!(
        env.logs("once", &LogParams::default()).await,
        "its last words\n"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_pod_stopped_while_a_finalizer_holds_it_goes_once_the_finalizer_does() {
    let env = Env::start().await;
    let pod = env
        .create(
            "held",
            // It ends on SIGTERM: the first process of its PID namespace ignores what it has
            // no handler for, and this grace period is on the fake clock.
            json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
                "command": sh("trap 'exit 0' TERM; sleep 1000 & wait")}]}),
        )
        .await;
    env.hold("held", true).await;
    env.wait_phase("held", "Running").await;
    // Deleted while it runs: 30 s of grace, within which the agent stops it and then deletes
    // it at once (grace 0), which the finalizer holds up: the deletion is hastened, not
    // dropped.
    env.pods
        .delete("held", &DeleteParams::default())
        .await
        .unwrap();
    let marked = env
        .wait_pod("held", "the grace period shortened to 0", |p| {
            p.metadata.deletion_grace_period_seconds == Some(0)
        })
        .await;
    assert_eq!(marked.metadata.uid, pod.metadata.uid);
    env.hold("held", false).await;
    wait_until("the pod is gone", || async {
        env.pods.get_opt("held").await.unwrap().is_none()
    })
    .await;
    env.stop().await;
}

#[tokio::test]
async fn sigterm_goes_to_the_main_process_only_as_runc_sends_it() {
    if !crate::harness::root_or_skip("sigterm_goes_to_the_main_process_only") {
        return;
    }
    let env = Env::start().await;
    env.create(
        "term",
        json!({"restartPolicy": "Never", "terminationGracePeriodSeconds": 5,
            "containers": [{"name": "c", "image": "busybox",
                "command": sh("sleep 1000; echo after-sleep")}]}),
    )
    .await;
    env.hold("term", true).await;
    env.wait_phase("term", "Running").await;
    env.pods
        .delete("term", &DeleteParams::default())
        .await
        .unwrap();
    // The shell, first of its PID namespace and without a handler, ignores SIGTERM, and its
    // `sleep` never gets it (else the shell would go on to echo and end with 0): only the end
    // of the grace period (on the fake clock) stops them.
    let events: kube::Api<k8s_openapi::api::core::v1::Event> =
        kube::Api::default_namespaced(env.api.client.clone());
    wait_until("the agent stops the container", || async {
        events
            .list(&kube::api::ListParams::default().fields("involvedObject.name=term"))
            .await
            .unwrap()
            .items
            .iter()
            .any(|e| e.reason.as_deref() == Some("Killing"))
    })
    .await;
    env.api.clock.advance_millis(5_001);
    let killed = env
        .wait_pod("term", "killed at the end of the grace period", |p| {
            cstatus(p, false)[0]["state"]["terminated"].is_object()
        })
        .await;
    assert_eq!(
        cstatus(&killed, false)[0]["state"]["terminated"]["exitCode"],
        137
    );
    assert_eq!(env.logs("term", &LogParams::default()).await, "");
    env.hold("term", false).await;
    env.stop().await;
}
