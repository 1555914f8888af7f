//! Restarts, crash-loop backoff, deadlines, graceful deletion and shutdown.

use crate::harness::{Env, cstatus, process_with, wait_until};
use kube::api::{DeleteParams, LogParams};
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
    // Upstream: the first restart is immediate, the next waits 10 s (CrashLoopBackOff).
    let p = env
        .wait_pod("flaky", "backing off", |p| {
            p.status.is_some()
                && cstatus(p, false)[0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        })
        .await;
    let cs = cstatus(&p, false)[0].clone();
    assert_eq!(cs["restartCount"], 1);
    assert_eq!(cs["lastState"]["terminated"]["exitCode"], 3);
    assert_eq!(
        cs["state"]["waiting"]["message"]
            .as_str()
            .unwrap()
            .split(" restarting")
            .next(),
        Some("back-off 10s")
    );
    assert_eq!(
        crate::harness::phase_of(&p),
        "Running",
        "a restarting pod is Running"
    );
    let current = env.logs("flaky", &LogParams::default()).await;
    let previous = env.previous_logs("flaky").await;
    assert!(current.starts_with("attempt-"));
    // Upstream's `validateContainerLogStatus`: while the container waits to restart, both
    // read its `lastState`, the attempt that just failed.
    assert_eq!(previous, current, "--previous reads lastState");

    // Nothing happens until the clock passes the backoff.
    env.api.clock.advance_millis(10_001);
    let p = env
        .wait_pod("flaky", "the third attempt", |p| {
            p.status.is_some() && cstatus(p, false)[0]["restartCount"] == 2
        })
        .await;
    assert_eq!(cstatus(&p, false)[0]["restartCount"], 2);
    let p = env
        .wait_pod("flaky", "backing off again", |p| {
            cstatus(p, false)[0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        })
        .await;
    assert_eq!(
        cstatus(&p, false)[0]["lastState"]["terminated"]["exitCode"],
        3
    );
    let previous_now = env.previous_logs("flaky").await;
    assert_ne!(
        previous_now, previous,
        "lastState moved on to the third attempt"
    );
    env.pods
        .delete("flaky", &DeleteParams::default())
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

#[tokio::test]
async fn active_deadline_fails_the_pod_with_deadline_exceeded() {
    let env = Env::start().await;
    env.create(
        "slow",
        json!({"restartPolicy": "Never", "activeDeadlineSeconds": 5, "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "c", "image": "busybox", "command": sh("sleep 1000")}]}),
    )
    .await;
    env.wait_phase("slow", "Running").await;
    env.api.clock.advance_millis(6_000);
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
async fn stopping_the_agent_leaves_no_process_behind() {
    let mut env = Env::start().await;
    let marker = format!("runlet-stop-{}", std::process::id());
    env.create(
        "long",
        json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
            "command": sh(&format!("sleep 1000 & wait # {marker}"))}]}),
    )
    .await;
    env.wait_phase("long", "Running").await;
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
    env.stop().await;
}
