//! Pod failure policy and success policy (upstream `pod_failure_policy.go`,
//! `success_policy.go`).

use crate::harness::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_failure_policy_fail_job_on_exit_code() {
    let env = Env::start().await;
    let job = env
        .create_job(
            "pfj",
            json!({"backoffLimit": 6, "podFailurePolicy": {"rules": [
                {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}}
            ]}}),
        )
        .await;
    let p = env.wait_active("pfj", 1).await;
    env.finish_pod(&name(&p[0]), 42).await;
    let j = env
        .wait_job("pfj", "Failed", |j| has_cond(j, "Failed"))
        .await;
    let f = cond(&j, "Failed").unwrap();
    assert_eq!(f.reason.as_deref(), Some("PodFailurePolicy"));
    assert_eq!(
        f.message,
        Some(format!(
            "Container main for pod default/{} failed with exit code 42 matching FailJob rule at index 0",
            name(&p[0])
        ))
    );
    assert_eq!(failed(&j), 1);
    env.wait_event(&job, "PodFailurePolicy").await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_failure_policy_ignore_does_not_count_towards_backoff_limit() {
    let env = Env::start().await;
    env.create_job(
        "pfi",
        json!({"backoffLimit": 0, "podFailurePolicy": {"rules": [
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}
        ]}}),
    )
    .await;
    let p = env.wait_active("pfi", 1).await;
    env.patch_status(
        &name(&p[0]),
        json!({"status": {"phase": "Failed", "conditions": [{"type": "DisruptionTarget", "status": "True"}]}}),
    )
    .await;
    // Ignored failures still feed the re-creation backoff (upstream newBackoffRecord).
    env.wait_job("pfi", "pod counted", |j| {
        j.status
            .as_ref()
            .and_then(|s| s.uncounted_terminated_pods.as_ref())
            .is_some_and(|u| u.failed.is_none())
    })
    .await;
    env.advance_secs(10);
    let p2 = env.wait_active("pfi", 1).await;
    assert_ne!(name(&p2[0]), name(&p[0]));
    let j = env.job("pfi").await;
    assert_eq!(failed(&j), 0);
    assert!(!has_cond(&j, "Failed"));
    env.succeed_pod(&name(&p2[0])).await;
    env.wait_job("pfi", "Complete", |j| has_cond(j, "Complete"))
        .await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_policy_completes_indexed_job_and_deletes_the_rest() {
    let env = Env::start().await;
    env.create_job(
        "sp",
        json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed",
               "successPolicy": {"rules": [{"succeededIndexes": "0"}]}}),
    )
    .await;
    let pods = env.wait_active("sp", 3).await;
    let p0 = pods
        .iter()
        .find(|p| ann(p, "batch.kubernetes.io/job-completion-index") == Some("0"))
        .unwrap();
    env.succeed_pod(&name(p0)).await;
    let j = env
        .wait_job("sp", "SuccessCriteriaMet", |j| {
            has_cond(j, "SuccessCriteriaMet")
        })
        .await;
    let c = cond(&j, "SuccessCriteriaMet").unwrap();
    assert_eq!(c.reason.as_deref(), Some("SuccessPolicy"));
    assert_eq!(c.message.as_deref(), Some("Matched rules at index 0"));
    let j = env
        .wait_job("sp", "Complete", |j| has_cond(j, "Complete"))
        .await;
    assert_eq!(
        cond(&j, "Complete").unwrap().reason.as_deref(),
        Some("SuccessPolicy")
    );
    assert!(env.active_pods_of("sp").await.is_empty());
    env.stop().await;
}
