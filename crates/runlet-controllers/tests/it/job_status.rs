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
    let j = env.wait_cond("c3", "Complete").await;
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
    // upstream syncJob: startTime at the first sync, uncountedTerminatedPods always present.
    // (A sync that runs before the informer saw the new pod writes active from the cache, as
    // upstream's does, so active is waited for rather than read with startTime.)
    let env = Env::start().await;
    let job = env.create_job("st", json!({})).await;
    let j = env
        .wait_job("st", "started", |j| {
            j.status
                .as_ref()
                .and_then(|s| s.start_time.as_ref())
                .is_some()
                && active(j) == 1
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_target_precedes_failed_until_terminating_pods_are_gone() {
    // upstream enactJobFinished: Failed (and its event) only once no pod is terminating; the
    // interim FailureTarget carries the same reason and message.
    let env = Env::start().await;
    let job = env
        .create_job(
            "ft",
            json!({"parallelism": 2, "completions": 2, "activeDeadlineSeconds": 10,
                   "template": held_template()}),
        )
        .await;
    let pods = env.wait_active("ft", 2).await;
    env.advance_secs(10);
    let j = env
        .wait_job("ft", "FailureTarget, pods terminating", |j| {
            has_cond(j, "FailureTarget") && status(j).terminating == Some(2)
        })
        .await;
    let ft = cond(&j, "FailureTarget").unwrap();
    assert_eq!(ft.reason.as_deref(), Some("DeadlineExceeded"));
    assert_eq!(
        ft.message.as_deref(),
        Some("Job was active longer than specified deadline")
    );
    env.holds("no Failed while pods terminate", || async {
        !has_cond(&env.job("ft").await, "Failed")
    })
    .await;
    for p in &pods {
        env.clear_finalizers(&name(p)).await;
    }
    let j = env.wait_cond("ft", "Failed").await;
    assert_eq!(status(&j).terminating, Some(0));
    assert!(status(&j).completion_time.is_none());
    env.wait_event(&job, "DeadlineExceeded").await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_criteria_met_precedes_complete_until_terminating_pods_are_gone() {
    // upstream: SuccessCriteriaMet first; Complete with completionTime once the pods deleted
    // by the success policy are gone.
    let env = Env::start().await;
    let job = env
        .create_job(
            "scm",
            json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed",
                   "successPolicy": {"rules": [{"succeededIndexes": "0"}]},
                   "template": held_template()}),
        )
        .await;
    let p0 = env.wait_index("scm", 0).await;
    let others = [
        env.wait_index("scm", 1).await,
        env.wait_index("scm", 2).await,
    ];
    env.succeed_pod(&name(&p0)).await;
    let j = env
        .wait_job("scm", "SuccessCriteriaMet, terminating", |j| {
            has_cond(j, "SuccessCriteriaMet") && status(j).terminating == Some(2)
        })
        .await;
    assert!(status(&j).completion_time.is_none());
    env.holds("no Complete while pods terminate", || async {
        !has_cond(&env.job("scm").await, "Complete")
    })
    .await;
    for p in others.iter().chain([&p0]) {
        env.clear_finalizers(&name(p)).await;
    }
    let j = env.wait_cond("scm", "Complete").await;
    let st = status(&j);
    assert_eq!(st.completion_time.unwrap().0.as_second(), env.now_secs());
    // upstream trackJobStatusAndRemoveFinalizers: pods removed once SuccessCriteriaMet are
    // not failures (their finalizers go without counting them).
    assert_eq!((st.succeeded, st.failed), (Some(1), None));
    let ev = env.wait_event(&job, "Completed").await;
    assert_eq!(ev.message.as_deref(), Some("Job completed"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncounted_terminated_pods_hold_uids_until_finalizers_are_removed() {
    // upstream trackJobStatusAndRemoveFinalizers: a finished pod's UID is written to
    // uncountedTerminatedPods first, counted only once its finalizer is removed.
    let env = Env::start().await;
    env.create_job("unc", json!({"completions": 2, "parallelism": 2}))
        .await;
    let pods = env.wait_active("unc", 2).await;
    env.faults.fail_pod_patches(true);
    env.succeed_pod(&name(&pods[0])).await;
    let uid = pods[0].metadata.uid.clone().unwrap();
    let j = env
        .wait_job("unc", "uid uncounted", |j| {
            status(j)
                .uncounted_terminated_pods
                .and_then(|u| u.succeeded)
                .is_some_and(|s| s == vec![uid.clone()])
        })
        .await;
    assert_eq!(succeeded(&j), 0);
    env.holds("not counted while the finalizer stays", || async {
        succeeded(&env.job("unc").await) == 0
    })
    .await;
    env.faults.fail_pod_patches(false);
    env.advance_secs(60);
    let j = env.wait_job("unc", "counted", |j| succeeded(j) == 1).await;
    assert_eq!(
        status(&j)
            .uncounted_terminated_pods
            .unwrap_or_default()
            .succeeded,
        None
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_succeeded_pods_event_when_successes_exceed_completions() {
    // upstream recordJobFinished: TooManySucceededPods warning next to Completed.
    let mut env = Env::start().await;
    env.stop_controller().await;
    let job = env.create_job("many", json!({"completions": 1})).await;
    let labels = json!({"batch.kubernetes.io/controller-uid": job.metadata.uid.clone().unwrap()});
    for n in ["many-a", "many-b"] {
        env.create_pod(n, labels.clone()).await;
        env.succeed_pod(n).await;
    }
    env.start_controller();
    let j = env.wait_cond("many", "Complete").await;
    assert_eq!(succeeded(&j), 2);
    let ev = env.wait_event(&job, "TooManySucceededPods").await;
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    assert_eq!(
        ev.message.as_deref(),
        Some("Too many succeeded pods running after completion count reached")
    );
    env.wait_event(&job, "Completed").await;
    env.stop().await;
}
