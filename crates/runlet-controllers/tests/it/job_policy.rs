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
    let j = env.wait_cond("pfj", "Failed").await;
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
    env.wait_cond("pfi", "Complete").await;
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
    let j = env.wait_cond("sp", "Complete").await;
    assert_eq!(
        cond(&j, "Complete").unwrap().reason.as_deref(),
        Some("SuccessPolicy")
    );
    assert!(env.active_pods_of("sp").await.is_empty());
    env.stop().await;
}

fn failed_reason(j: &k8s_openapi::api::batch::v1::Job) -> Option<String> {
    cond(j, "Failed").and_then(|c| c.reason.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_failure_policy_not_in_fails_job_on_other_exit_codes() {
    // upstream matchOnExitCodes NotIn: a non-zero exit code outside the list matches.
    let env = Env::start().await;
    env.create_job(
        "notin",
        json!({"backoffLimit": 6, "podFailurePolicy": {"rules": [
            {"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [1, 2]}}
        ]}}),
    )
    .await;
    let p = env.wait_active("notin", 1).await;
    env.finish_pod(&name(&p[0]), 2).await;
    env.wait_job("notin", "failed 1", |j| failed(j) == 1).await;
    assert!(!has_cond(&env.job("notin").await, "FailureTarget"));
    env.advance_secs(10);
    let p = env.wait_active("notin", 1).await;
    env.finish_pod(&name(&p[0]), 3).await;
    let j = env.wait_cond("notin", "Failed").await;
    assert_eq!(failed_reason(&j).as_deref(), Some("PodFailurePolicy"));
    assert_eq!(
        cond(&j, "Failed").unwrap().message,
        Some(format!(
            "Container main for pod default/{} failed with exit code 3 matching FailJob rule at index 0",
            name(&p[0])
        ))
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_failure_policy_ignore_and_count_rules_on_exit_codes() {
    // upstream matchPodFailurePolicy: Ignore does not count towards backoffLimit, Count does
    // (as if no rule matched).
    let env = Env::start().await;
    env.create_job(
        "cnt",
        json!({"backoffLimit": 0, "podFailurePolicy": {"rules": [
            {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [1]}},
            {"action": "Count", "onExitCodes": {"operator": "In", "values": [5]}}
        ]}}),
    )
    .await;
    let p = env.wait_active("cnt", 1).await;
    env.finish_pod(&name(&p[0]), 1).await;
    env.advance_secs(10);
    let p2 = env.wait_active("cnt", 1).await;
    assert_ne!(name(&p2[0]), name(&p[0]));
    assert_eq!(failed(&env.job("cnt").await), 0);
    env.finish_pod(&name(&p2[0]), 5).await;
    let j = env.wait_cond("cnt", "Failed").await;
    assert_eq!(failed_reason(&j).as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(failed(&j), 1);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_failure_policy_rule_for_another_container_does_not_match() {
    // upstream matchOnExitCodes with containerName: only that container's exit code counts.
    let env = Env::start().await;
    env.create_job(
        "cname",
        json!({"backoffLimit": 6, "podFailurePolicy": {"rules": [
            {"action": "FailJob", "onExitCodes": {"containerName": "sidecar", "operator": "In", "values": [42]}}
        ]}, "template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "main", "image": "busybox"}, {"name": "sidecar", "image": "busybox"}]}}}),
    )
    .await;
    let p = env.wait_active("cname", 1).await;
    env.finish_pod(&name(&p[0]), 42).await;
    let j = env.wait_job("cname", "failed 1", |j| failed(j) == 1).await;
    assert!(
        !has_cond(&j, "FailureTarget"),
        "main's exit code does not match"
    );
    env.advance_secs(10);
    env.wait_active("cname", 1).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_failure_policy_fail_job_on_disruption_target_condition() {
    // upstream matchOnPodConditions: FailJob on a DisruptionTarget condition, upstream message.
    let env = Env::start().await;
    let job = env
        .create_job(
            "disr",
            json!({"backoffLimit": 6, "podFailurePolicy": {"rules": [
                {"action": "FailJob", "onPodConditions": [{"type": "DisruptionTarget"}]}
            ]}}),
        )
        .await;
    let p = env.wait_active("disr", 1).await;
    env.patch_status(
        &name(&p[0]),
        json!({"status": {"phase": "Failed", "conditions": [
            {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler"}]}}),
    )
    .await;
    let j = env.wait_cond("disr", "Failed").await;
    let f = cond(&j, "Failed").unwrap();
    assert_eq!(f.reason.as_deref(), Some("PodFailurePolicy"));
    assert_eq!(
        f.message,
        Some(format!(
            "Pod default/{} has condition DisruptionTarget matching FailJob rule at index 0",
            name(&p[0])
        ))
    );
    let ev = env.wait_event(&job, "PodFailurePolicy").await;
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_failure_policy_first_matching_rule_wins() {
    // upstream matchPodFailurePolicy walks the rules in order and stops at the first match.
    let env = Env::start().await;
    env.create_job(
        "first",
        json!({"backoffLimit": 6, "podFailurePolicy": {"rules": [
            {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [7]}},
            {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [7]}}
        ]}}),
    )
    .await;
    let p = env.wait_active("first", 1).await;
    env.finish_pod(&name(&p[0]), 7).await;
    env.advance_secs(10);
    let p2 = env.wait_active("first", 1).await;
    assert_ne!(name(&p2[0]), name(&p[0]));
    let j = env.job("first").await;
    assert!(!has_cond(&j, "FailureTarget"));
    assert_eq!(failed(&j), 0);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_failure_policy_fail_index_fails_only_that_index() {
    // upstream FailIndex: the index is failed at once, whatever backoffLimitPerIndex says;
    // other indexes go on.
    let env = Env::start().await;
    env.create_job(
        "fidx",
        json!({"completions": 2, "parallelism": 2, "completionMode": "Indexed",
               "backoffLimitPerIndex": 3, "podFailurePolicy": {"rules": [
            {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [9]}}
        ]}}),
    )
    .await;
    let p0 = env.wait_index("fidx", 0).await;
    let p1 = env.wait_index("fidx", 1).await;
    env.finish_pod(&name(&p0), 9).await;
    let j = env
        .wait_job("fidx", "failedIndexes 0", |j| {
            status(j).failed_indexes.as_deref() == Some("0")
        })
        .await;
    assert!(!has_cond(&j, "FailureTarget"));
    env.advance_secs(60);
    env.stays_active("fidx", 1).await;
    env.succeed_pod(&name(&p1)).await;
    let j = env.wait_cond("fidx", "Failed").await;
    assert_eq!(failed_reason(&j).as_deref(), Some("FailedIndexes"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_policy_succeeded_count_completes_the_job() {
    // upstream matchSuccessPolicy with succeededCount only: any N indexes.
    let env = Env::start().await;
    env.create_job(
        "spc",
        json!({"completions": 4, "parallelism": 4, "completionMode": "Indexed",
               "successPolicy": {"rules": [{"succeededCount": 2}]}}),
    )
    .await;
    let p1 = env.wait_index("spc", 1).await;
    let p3 = env.wait_index("spc", 3).await;
    env.succeed_pod(&name(&p1)).await;
    env.wait_job("spc", "succeeded 1", |j| succeeded(j) == 1)
        .await;
    assert!(!has_cond(&env.job("spc").await, "SuccessCriteriaMet"));
    env.succeed_pod(&name(&p3)).await;
    let j = env.wait_cond("spc", "Complete").await;
    let c = cond(&j, "SuccessCriteriaMet").unwrap();
    assert_eq!(c.reason.as_deref(), Some("SuccessPolicy"));
    assert_eq!(c.message.as_deref(), Some("Matched rules at index 0"));
    assert_eq!(status(&j).completed_indexes.as_deref(), Some("1,3"));
    assert!(env.active_pods_of("spc").await.is_empty());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_policy_counts_only_the_listed_indexes() {
    // upstream matchSuccessPolicy: succeededCount counts succeeded indexes within
    // succeededIndexes; the second rule matches, so the message names index 1.
    let env = Env::start().await;
    env.create_job(
        "spi",
        json!({"completions": 5, "parallelism": 5, "completionMode": "Indexed",
               "successPolicy": {"rules": [
                   {"succeededIndexes": "4"},
                   {"succeededIndexes": "0-2", "succeededCount": 2}]}}),
    )
    .await;
    let p0 = env.wait_index("spi", 0).await;
    let p2 = env.wait_index("spi", 2).await;
    let p3 = env.wait_index("spi", 3).await;
    env.succeed_pod(&name(&p3)).await;
    env.succeed_pod(&name(&p0)).await;
    env.wait_job("spi", "succeeded 2", |j| succeeded(j) == 2)
        .await;
    assert!(!has_cond(&env.job("spi").await, "SuccessCriteriaMet"));
    env.succeed_pod(&name(&p2)).await;
    let j = env.wait_cond("spi", "Complete").await;
    assert_eq!(
        cond(&j, "Complete").unwrap().message.as_deref(),
        Some("Matched rules at index 1")
    );
    env.stop().await;
}
