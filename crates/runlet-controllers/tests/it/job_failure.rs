//! Failures: pod re-creation backoff, backoffLimit, activeDeadlineSeconds, deleted pods,
//! podReplacementPolicy (upstream `syncJob`, `backoff_utils.go`, `isPodFailed`).

use crate::harness::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_pod_is_recreated_after_ten_second_backoff() {
    // upstream backoff_utils: 10s after the first failure, counted from its finish time.
    let env = Env::start().await;
    env.create_job("bo", json!({"completions": 1, "backoffLimit": 6}))
        .await;
    let p = env.wait_active("bo", 1).await;
    env.fail_pod(&name(&p[0])).await;
    env.wait_job("bo", "failed 1", |j| failed(j) == 1).await;
    env.advance_secs(5);
    env.holds("still backing off at 5s", || async {
        env.active_pods_of("bo").await.is_empty()
    })
    .await;
    env.advance_secs(5);
    let p = env.wait_active("bo", 1).await;
    // Second failure: 20s.
    env.fail_pod(&name(&p[0])).await;
    env.wait_job("bo", "failed 2", |j| failed(j) == 2).await;
    env.advance_secs(15);
    env.holds("second backoff is 20s", || async {
        env.active_pods_of("bo").await.is_empty()
    })
    .await;
    env.advance_secs(5);
    env.wait_active("bo", 1).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_limit_exceeded_fails_job_with_reason() {
    // upstream: failed > backoffLimit -> FailureTarget then Failed, reason BackoffLimitExceeded.
    let env = Env::start().await;
    let job = env
        .create_job("bl", json!({"completions": 1, "backoffLimit": 1}))
        .await;
    let p = env.wait_active("bl", 1).await;
    env.fail_pod(&name(&p[0])).await;
    env.wait_job("bl", "failed 1", |j| failed(j) == 1).await;
    env.advance_secs(10);
    let p = env.wait_active("bl", 1).await;
    env.fail_pod(&name(&p[0])).await;
    let j = env.wait_cond("bl", "Failed").await;
    assert_eq!(failed(&j), 2);
    let f = cond(&j, "Failed").unwrap();
    assert_eq!(f.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(
        f.message.as_deref(),
        Some("Job has reached the specified backoff limit")
    );
    let ft = cond(&j, "FailureTarget").unwrap();
    assert_eq!(ft.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert!(
        j.status.as_ref().unwrap().completion_time.is_none(),
        "completionTime only for Complete"
    );
    let ev = env.wait_event(&job, "BackoffLimitExceeded").await;
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_deadline_exceeded_deletes_active_pods() {
    let env = Env::start().await;
    let job = env
        .create_job(
            "dl",
            json!({"parallelism": 2, "completions": 4, "activeDeadlineSeconds": 30}),
        )
        .await;
    env.wait_active("dl", 2).await;
    env.advance_secs(29);
    env.holds("no FailureTarget before the deadline", || async {
        !has_cond(&env.job("dl").await, "FailureTarget")
    })
    .await;
    env.advance_secs(1);
    let j = env.wait_cond("dl", "Failed").await;
    let f = cond(&j, "Failed").unwrap();
    assert_eq!(f.reason.as_deref(), Some("DeadlineExceeded"));
    assert_eq!(
        f.message.as_deref(),
        Some("Job was active longer than specified deadline")
    );
    assert!(env.active_pods_of("dl").await.is_empty());
    assert_eq!(failed(&j), 2, "terminated active pods count as failed");
    assert_eq!(active(&j), 0);
    env.wait_event(&job, "DeadlineExceeded").await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_deleted_pod_counts_as_failed() {
    // upstream isPodFailed: a pod deleted before it succeeded is a failure.
    let env = Env::start().await;
    env.create_job("del", json!({"backoffLimit": 3})).await;
    let p = env.wait_active("del", 1).await;
    env.delete_pod(&name(&p[0])).await;
    let j = env.wait_job("del", "failed 1", |j| failed(j) == 1).await;
    assert!(!has_cond(&j, "Failed"));
    // The finalizer is released so the pod can go away.
    tokio::time::timeout(WAIT, async {
        while env.pods.get_opt(&name(&p[0])).await.unwrap().is_some() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("deleted pod disappears once counted");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_failure_container_restarts_count_against_backoff_limit() {
    let env = Env::start().await;
    let tpl = json!({"spec": {"restartPolicy": "OnFailure",
        "containers": [{"name": "main", "image": "busybox"}]}});
    env.create_job("onf", json!({"backoffLimit": 2, "template": tpl}))
        .await;
    let p = env.wait_active("onf", 1).await;
    env.run_pod(&name(&p[0]), false, 1).await;
    env.holds("one restart is within the limit", || async {
        !has_cond(&env.job("onf").await, "FailureTarget")
    })
    .await;
    env.run_pod(&name(&p[0]), false, 2).await;
    let j = env.wait_cond("onf", "Failed").await;
    assert_eq!(
        cond(&j, "Failed").unwrap().reason.as_deref(),
        Some("BackoffLimitExceeded")
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_replacement_policy_failed_waits_for_terminating_pods() {
    // upstream onlyReplaceFailedPods: a terminating pod is not replaced until it is Failed.
    let env = Env::start().await;
    env.create_job(
        "prp",
        json!({"podReplacementPolicy": "Failed", "backoffLimit": 3}),
    )
    .await;
    let p = env.wait_active("prp", 1).await;
    // The tracking finalizer keeps the deleted pod around, terminating.
    env.delete_pod(&name(&p[0])).await;
    let j = env
        .wait_job("prp", "terminating", |j| {
            j.status.as_ref().and_then(|s| s.terminating) == Some(1)
                || j.status.as_ref().and_then(|s| s.failed).is_some()
        })
        .await;
    if j.status.as_ref().and_then(|s| s.terminating) == Some(1) {
        assert!(
            env.active_pods_of("prp").await.is_empty(),
            "not replaced while terminating"
        );
        env.fail_pod(&name(&p[0])).await;
    }
    env.wait_job("prp", "failed 1", |j| failed(j) == 1).await;
    env.advance_secs(10);
    env.wait_active("prp", 1).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_doubles_per_failure_and_is_capped_at_ten_minutes() {
    // upstream DefaultJobPodFailureBackOff 10 s, doubling, MaxJobPodFailureBackOff 10 min
    // (the code's cap; the docs say 6 min), counted from the last failure.
    let env = Env::start().await;
    env.create_job("cap", json!({"completions": 1, "backoffLimit": 10}))
        .await;
    for (i, delay) in [10, 20, 40, 80, 160, 320, 600].into_iter().enumerate() {
        let p = env.wait_active("cap", 1).await;
        env.fail_pod(&name(&p[0])).await;
        env.wait_job("cap", "failure counted", |j| failed(j) == i as i32 + 1)
            .await;
        env.advance_secs(delay - 1);
        env.stays_active("cap", 0).await;
        env.advance_secs(1);
    }
    env.wait_active("cap", 1).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_resets_after_a_success() {
    // upstream newBackoffRecord: a success after the last failure resets
    // failuresAfterLastSuccess, so the next failure waits 10 s again, not 40 s.
    let env = Env::start().await;
    env.create_job(
        "reset",
        json!({"completions": 3, "parallelism": 1, "backoffLimit": 10}),
    )
    .await;
    let p = env.wait_active("reset", 1).await;
    env.fail_pod(&name(&p[0])).await;
    env.wait_job("reset", "failed 1", |j| failed(j) == 1).await;
    env.advance_secs(10);
    let p = env.wait_active("reset", 1).await;
    env.fail_pod(&name(&p[0])).await;
    env.wait_job("reset", "failed 2", |j| failed(j) == 2).await;
    env.advance_secs(20);
    let p = env.wait_active("reset", 1).await;
    env.succeed_pod(&name(&p[0])).await;
    // No delay after a success.
    let p = env.wait_active("reset", 1).await;
    env.fail_pod(&name(&p[0])).await;
    env.wait_job("reset", "failed 3", |j| failed(j) == 3).await;
    env.advance_secs(9);
    env.stays_active("reset", 0).await;
    env.advance_secs(1);
    env.wait_active("reset", 1).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_limit_zero_fails_at_the_first_failed_pod() {
    // upstream exceedsBackoffLimit: failed > backoffLimit, with restartPolicy Never.
    let env = Env::start().await;
    let job = env
        .create_job(
            "bl0",
            json!({"parallelism": 2, "completions": 4, "backoffLimit": 0}),
        )
        .await;
    let p = env.wait_active("bl0", 2).await;
    env.fail_pod(&name(&p[0])).await;
    let j = env.wait_cond("bl0", "Failed").await;
    assert_eq!(
        cond(&j, "Failed").unwrap().reason.as_deref(),
        Some("BackoffLimitExceeded")
    );
    assert_eq!(
        failed(&j),
        2,
        "the other active pod is terminated and counted"
    );
    let ev = env.wait_event(&job, "BackoffLimitExceeded").await;
    assert_eq!(
        ev.message.as_deref(),
        Some("Job has reached the specified backoff limit")
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_failure_backoff_limit_zero_fails_at_the_first_restart() {
    // upstream pastBackoffLimitOnFailure: with backoffLimit 0 any restart (init containers
    // included) of a running or pending pod fails the Job.
    let env = Env::start().await;
    let tpl = json!({"spec": {"restartPolicy": "OnFailure",
        "containers": [{"name": "main", "image": "busybox"}]}});
    env.create_job("onf0", json!({"backoffLimit": 0, "template": tpl}))
        .await;
    let p = env.wait_active("onf0", 1).await;
    env.run_pod(&name(&p[0]), true, 0).await;
    env.wait_job("onf0", "ready", |j| {
        j.status.as_ref().and_then(|s| s.ready) == Some(1)
    })
    .await;
    assert!(!has_cond(&env.job("onf0").await, "FailureTarget"));
    env.patch_status(
        &name(&p[0]),
        json!({"status": {"phase": "Pending", "initContainerStatuses": [{
            "name": "init", "image": "busybox", "imageID": "", "ready": false,
            "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}),
    )
    .await;
    let j = env.wait_cond("onf0", "Failed").await;
    assert_eq!(
        cond(&j, "Failed").unwrap().reason.as_deref(),
        Some("BackoffLimitExceeded")
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_limit_is_reported_before_deadline_when_both_are_exceeded() {
    // upstream syncJob checks exceedsBackoffLimit before pastActiveDeadline.
    let mut env = Env::start().await;
    env.create_job(
        "both",
        json!({"backoffLimit": 0, "activeDeadlineSeconds": 30}),
    )
    .await;
    let p = env.wait_active("both", 1).await;
    env.wait_job("both", "started", |j| active(j) == 1).await;
    // Both happen while no controller runs; the next one sees them in one sync.
    env.stop_controller().await;
    env.fail_pod(&name(&p[0])).await;
    env.advance_secs(60);
    env.start_controller();
    let j = env.wait_cond("both", "Failed").await;
    assert_eq!(
        cond(&j, "Failed").unwrap().reason.as_deref(),
        Some("BackoffLimitExceeded")
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_deadline_set_on_a_running_job_counts_from_its_start() {
    // upstream updateJob: a changed activeDeadlineSeconds requeues the Job for
    // startTime + deadline.
    let env = Env::start().await;
    let job = env.create_job("late", json!({"completions": 1})).await;
    env.wait_active("late", 1).await;
    env.advance_secs(100);
    env.set_spec("late", json!({"activeDeadlineSeconds": 150}))
        .await;
    env.advance_secs(49);
    env.holds("not failed before startTime + 150 s", || async {
        !has_cond(&env.job("late").await, "FailureTarget")
    })
    .await;
    env.advance_secs(1);
    let j = env.wait_cond("late", "Failed").await;
    assert_eq!(
        cond(&j, "Failed").unwrap().reason.as_deref(),
        Some("DeadlineExceeded")
    );
    let ev = env.wait_event(&job, "DeadlineExceeded").await;
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    assert_eq!(
        ev.message.as_deref(),
        Some("Job was active longer than specified deadline")
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_replacement_terminating_or_failed_replaces_a_terminating_pod() {
    // upstream default podReplacementPolicy TerminatingOrFailed: a pod being deleted counts as
    // failed at once and is replaced (after the failure backoff) while still terminating.
    let env = Env::start().await;
    env.create_job(
        "tof",
        json!({"backoffLimit": 3, "template": held_template()}),
    )
    .await;
    let p = env.wait_active("tof", 1).await.remove(0);
    env.delete_pod(&name(&p)).await;
    let j = env.wait_job("tof", "failed 1", |j| failed(j) == 1).await;
    assert_eq!(status(&j).terminating, Some(1));
    env.advance_secs(10);
    let new = env.wait_active("tof", 1).await.remove(0);
    assert_ne!(name(&new), name(&p));
    let old = env.pods.get(&name(&p)).await.unwrap();
    assert!(
        old.metadata.deletion_timestamp.is_some(),
        "old pod still terminating"
    );
    env.clear_finalizers(&name(&p)).await;
    env.wait_pod_gone(&name(&p)).await;
    env.wait_job("tof", "terminating 0", |j| status(j).terminating == Some(0))
        .await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_replacement_failed_waits_until_the_terminating_pod_is_failed() {
    // upstream onlyReplaceFailedPods + isPodFailed: with podReplacementPolicy Failed a deleted
    // pod is neither failed nor replaced until it reaches phase Failed.
    let env = Env::start().await;
    env.create_job(
        "onlyf",
        json!({"backoffLimit": 3, "podReplacementPolicy": "Failed", "template": held_template()}),
    )
    .await;
    let p = env.wait_active("onlyf", 1).await.remove(0);
    env.delete_pod(&name(&p)).await;
    let j = env
        .wait_job("onlyf", "terminating 1", |j| {
            status(j).terminating == Some(1)
        })
        .await;
    assert_eq!(failed(&j), 0);
    env.advance_secs(60);
    env.stays_active("onlyf", 0).await;
    env.fail_pod(&name(&p)).await;
    env.wait_job("onlyf", "failed 1", |j| failed(j) == 1).await;
    env.advance_secs(10);
    env.wait_active("onlyf", 1).await;
    env.clear_finalizers(&name(&p)).await;
    env.stop().await;
}
