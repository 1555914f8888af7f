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
    let first_start = env.job("sus").await.status.and_then(|s| s.start_time);
    assert!(first_start.is_some());
    env.set_spec("sus", json!({"suspend": true})).await;
    let j = env.wait_cond("sus", "Suspended").await;
    let c = cond(&j, "Suspended").unwrap();
    assert_eq!(c.reason.as_deref(), Some("JobSuspended"));
    assert_eq!(c.message.as_deref(), Some("Job suspended"));
    env.wait_active("sus", 0).await;
    let j = env.wait_job("sus", "active 0", |j| active(j) == 0).await;
    assert_eq!(failed(&j), 0, "pods deleted by suspend are not failures");
    env.wait_event(&job, "Suspended").await;
    assert_eq!(
        j.status.unwrap().start_time,
        first_start,
        "startTime kept while suspended, as upstream 1.33"
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
    let j = env.wait_cond("cs", "Suspended").await;
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
    env.wait_cond("sdl", "Suspended").await;
    env.advance_secs(60);
    env.set_spec("sdl", json!({"suspend": false})).await;
    env.wait_active("sdl", 1).await;
    assert!(!has_cond(&env.job("sdl").await, "FailureTarget"));
    env.advance_secs(10);
    let j = env.wait_cond("sdl", "Failed").await;
    assert_eq!(
        cond(&j, "Failed").unwrap().reason.as_deref(),
        Some("DeadlineExceeded")
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_a_job_created_suspended_records_conditions_and_events() {
    // upstream syncJob: Suspended condition True "JobSuspended"/"Job suspended", then False
    // "JobResumed"/"Job resumed" with the Suspended and Resumed events; resume sets startTime.
    let env = Env::start().await;
    let job = env.create_job("res", json!({"suspend": true})).await;
    let ev = env.wait_event(&job, "Suspended").await;
    assert_eq!(ev.message.as_deref(), Some("Job suspended"));
    assert_eq!(ev.type_.as_deref(), Some("Normal"));
    // The event is recorded before the status write that sets the condition lands; a resume
    // racing that write would leave no `Suspended` condition to turn False.
    env.wait_cond("res", "Suspended").await;
    env.advance_secs(42);
    env.set_spec("res", json!({"suspend": false})).await;
    let j = env
        .wait_job("res", "resumed", |j| {
            j.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| {
                    c.iter()
                        .any(|c| c.type_ == "Suspended" && c.status == "False")
                })
        })
        .await;
    let c = j
        .status
        .as_ref()
        .unwrap()
        .conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == "Suspended")
        .unwrap()
        .clone();
    assert_eq!(c.reason.as_deref(), Some("JobResumed"));
    assert_eq!(c.message.as_deref(), Some("Job resumed"));
    assert_eq!(status(&j).start_time.unwrap().0.as_second(), env.now_secs());
    let ev = env.wait_event(&job, "Resumed").await;
    assert_eq!(ev.message.as_deref(), Some("Job resumed"));
    env.wait_active("res", 1).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_keeps_successes_and_resume_creates_only_the_remaining_pods() {
    // upstream manageJob: a suspended Job deletes active pods; on resume wantActive is
    // completions - succeeded.
    let env = Env::start().await;
    env.create_job("keep", json!({"completions": 3, "parallelism": 3}))
        .await;
    let pods = env.wait_active("keep", 3).await;
    env.succeed_pod(&name(&pods[0])).await;
    env.wait_job("keep", "succeeded 1", |j| succeeded(j) == 1)
        .await;
    env.set_spec("keep", json!({"suspend": true})).await;
    env.wait_active("keep", 0).await;
    let j = env.wait_job("keep", "active 0", |j| active(j) == 0).await;
    assert_eq!((succeeded(&j), failed(&j)), (1, 0));
    env.set_spec("keep", json!({"suspend": false})).await;
    env.wait_active("keep", 2).await;
    env.stays_active("keep", 2).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_deleted_by_suspend_are_terminating_not_failed() {
    // upstream deleteJobPods removes the tracking finalizer before deleting: the pods show in
    // status.terminating while they go, never in status.failed.
    let env = Env::start().await;
    let job = env
        .create_job(
            "sterm",
            json!({"parallelism": 2, "completions": 2, "template": held_template()}),
        )
        .await;
    let pods = env.wait_active("sterm", 2).await;
    env.set_spec("sterm", json!({"suspend": true})).await;
    let j = env
        .wait_job("sterm", "terminating 2", |j| {
            status(j).terminating == Some(2)
        })
        .await;
    assert_eq!((active(&j), failed(&j)), (0, 0));
    let ev = env.wait_event(&job, "SuccessfulDelete").await;
    assert!(
        ev.message
            .as_deref()
            .unwrap()
            .starts_with("Deleted pod: sterm-")
    );
    for p in &pods {
        let p = env.pods.get(&name(p)).await.unwrap();
        assert!(!has_finalizer(&p, TRACKING));
        env.clear_finalizers(&name(&p)).await;
    }
    let j = env
        .wait_job("sterm", "terminating 0", |j| {
            status(j).terminating == Some(0)
        })
        .await;
    assert_eq!(failed(&j), 0);
    env.stop().await;
}
