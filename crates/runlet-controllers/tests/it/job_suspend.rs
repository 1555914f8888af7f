//! Suspend and resume (upstream `syncJob` / `manageJob` with `spec.suspend`).

use crate::harness::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_deletes_active_pods_and_sets_condition() {
    let env = Env::start().await;
    let job = env
        .create_job("sus", json!({"parallelism": 2, "completions": 4}))
        .await;
    env.wait_active("sus", 2).await;
    env.set_spec("sus", json!({"suspend": true})).await;
    let j = env
        .wait_job("sus", "Suspended", |j| has_cond(j, "Suspended"))
        .await;
    let c = cond(&j, "Suspended").unwrap();
    assert_eq!(c.reason.as_deref(), Some("JobSuspended"));
    assert_eq!(c.message.as_deref(), Some("Job suspended"));
    env.wait_active("sus", 0).await;
    let j = env.wait_job("sus", "active 0", |j| active(j) == 0).await;
    assert_eq!(failed(&j), 0, "pods deleted by suspend are not failures");
    env.wait_event(&job, "Suspended").await;
    assert!(
        j.status.unwrap().start_time.is_none(),
        "startTime cleared while suspended"
    );
    env.advance_secs(100);
    env.set_spec("sus", json!({"suspend": false})).await;
    let j = env
        .wait_job("sus", "resumed", |j| {
            j.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| {
                    c.iter()
                        .any(|c| c.type_ == "Suspended" && c.status == "False")
                })
        })
        .await;
    let after = j.status.unwrap().start_time.unwrap();
    assert_eq!(
        after.0.as_second(),
        env.now_secs(),
        "resume resets startTime"
    );
    env.wait_active("sus", 2).await;
    env.wait_event(&job, "Resumed").await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_created_suspended_has_no_start_time_and_no_pods() {
    let env = Env::start().await;
    env.create_job("cs", json!({"suspend": true})).await;
    let j = env
        .wait_job("cs", "Suspended", |j| has_cond(j, "Suspended"))
        .await;
    assert!(j.status.unwrap().start_time.is_none());
    assert!(env.pods_of("cs").await.is_empty());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspended_job_active_deadline_clock_stops() {
    // upstream pastActiveDeadline is false while suspended; resume resets startTime.
    let env = Env::start().await;
    env.create_job("sdl", json!({"activeDeadlineSeconds": 10, "suspend": true}))
        .await;
    env.wait_job("sdl", "Suspended", |j| has_cond(j, "Suspended"))
        .await;
    env.advance_secs(60);
    env.set_spec("sdl", json!({"suspend": false})).await;
    env.wait_active("sdl", 1).await;
    assert!(!has_cond(&env.job("sdl").await, "FailureTarget"));
    env.advance_secs(10);
    let j = env
        .wait_job("sdl", "Failed", |j| has_cond(j, "Failed"))
        .await;
    assert_eq!(
        cond(&j, "Failed").unwrap().reason.as_deref(),
        Some("DeadlineExceeded")
    );
    env.stop().await;
}
