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
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        env.active_pods_of("bo").await.is_empty(),
        "still backing off at 5s"
    );
    env.advance_secs(5);
    let p = env.wait_active("bo", 1).await;
    // Second failure: 20s.
    env.fail_pod(&name(&p[0])).await;
    env.wait_job("bo", "failed 2", |j| failed(j) == 2).await;
    env.advance_secs(15);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        env.active_pods_of("bo").await.is_empty(),
        "second backoff is 20s"
    );
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
    let j = env
        .wait_job("bl", "Failed", |j| has_cond(j, "Failed"))
        .await;
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
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!has_cond(&env.job("dl").await, "FailureTarget"));
    env.advance_secs(1);
    let j = env
        .wait_job("dl", "Failed", |j| has_cond(j, "Failed"))
        .await;
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
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!has_cond(&env.job("onf").await, "FailureTarget"));
    env.run_pod(&name(&p[0]), false, 2).await;
    let j = env
        .wait_job("onf", "Failed", |j| has_cond(j, "Failed"))
        .await;
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
