//! Job status and events: counters, ready/terminating, uncountedTerminatedPods, the two-step
//! terminal conditions, event reasons and messages (upstream `trackJobStatusAndRemoveFinalizers`,
//! `enactJobFinished`, `recordJobFinished`).

use crate::harness::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_completes_after_completions_successes() {
    // upstream: complete = succeeded >= completions && active == 0; two-step conditions.
    let env = Env::start().await;
    let job = env
        .create_job("c3", json!({"completions": 3, "parallelism": 2}))
        .await;
    let mut done: i32 = 0;
    while done < 3 {
        let act = env.wait_active("c3", 2.min(3 - done) as usize).await;
        env.succeed_pod(&name(&act[0])).await;
        done += 1;
        env.wait_job("c3", "succeeded count", |j| succeeded(j) == done)
            .await;
    }
    let j = env
        .wait_job("c3", "Complete", |j| has_cond(j, "Complete"))
        .await;
    let st = j.status.clone().unwrap();
    assert_eq!(st.succeeded, Some(3));
    assert_eq!(st.active, None);
    assert_eq!(st.ready, Some(0));
    assert_eq!(st.terminating, Some(0));
    assert!(st.completion_time.is_some());
    let scm = cond(&j, "SuccessCriteriaMet").unwrap();
    assert_eq!(scm.reason.as_deref(), Some("CompletionsReached"));
    assert_eq!(
        scm.message.as_deref(),
        Some("Reached expected number of succeeded pods")
    );
    let c = cond(&j, "Complete").unwrap();
    assert_eq!(c.reason.as_deref(), Some("CompletionsReached"));
    assert_eq!(env.pods_of("c3").await.len(), 3);
    let ev = env.wait_event(&job, "Completed").await;
    assert_eq!(ev.message.as_deref(), Some("Job completed"));
    assert_eq!(
        ev.source.unwrap().component.as_deref(),
        Some("job-controller")
    );
    env.wait_event(&job, "SuccessfulCreate").await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_pods_are_counted_in_status() {
    let env = Env::start().await;
    env.create_job("rdy", json!({"parallelism": 2, "completions": 2}))
        .await;
    let p = env.wait_active("rdy", 2).await;
    env.run_pod(&name(&p[0]), true, 0).await;
    let j = env
        .wait_job("rdy", "ready 1", |j| {
            j.status.as_ref().and_then(|s| s.ready) == Some(1)
        })
        .await;
    assert_eq!(active(&j), 2);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_has_uncounted_terminated_pods_and_start_time() {
    let env = Env::start().await;
    let job = env.create_job("st", json!({})).await;
    let j = env
        .wait_job("st", "started", |j| {
            j.status
                .as_ref()
                .and_then(|s| s.start_time.as_ref())
                .is_some()
        })
        .await;
    let st = j.status.unwrap();
    assert_eq!(st.start_time.unwrap().0.as_second(), env.now_secs());
    assert!(
        st.uncounted_terminated_pods.is_some(),
        "written as {{}} as upstream"
    );
    assert_eq!(st.active, Some(1));
    assert!(job.status.unwrap_or_default().start_time.is_none());
    env.stop().await;
}
