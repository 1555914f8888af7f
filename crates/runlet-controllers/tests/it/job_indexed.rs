//! Indexed Jobs: pod decorations, completedIndexes, backoffLimitPerIndex, maxFailedIndexes
//! (upstream `indexed_job_utils.go`).

use crate::harness::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexed_completed_indexes_are_compressed() {
    // upstream orderedIntervals.String and Indexed pod decorations.
    let env = Env::start().await;
    env.create_job(
        "ix",
        json!({"completions": 6, "parallelism": 6, "completionMode": "Indexed"}),
    )
    .await;
    let pods = env.wait_active("ix", 6).await;
    let by_ix = |i: &str| {
        pods.iter()
            .find(|p| ann(p, "batch.kubernetes.io/job-completion-index") == Some(i))
            .unwrap()
            .clone()
    };
    for i in 0..6 {
        let p = by_ix(&i.to_string());
        assert!(name(&p).starts_with(&format!("ix-{i}-")));
        assert_eq!(
            label(&p, "batch.kubernetes.io/job-completion-index"),
            Some(i.to_string().as_str())
        );
        let spec = p.spec.clone().unwrap();
        assert_eq!(spec.hostname, Some(format!("ix-{i}")));
        let env_var = spec.containers[0].env.clone().unwrap();
        let e = env_var
            .iter()
            .find(|e| e.name == "JOB_COMPLETION_INDEX")
            .unwrap();
        assert_eq!(
            e.value_from
                .as_ref()
                .unwrap()
                .field_ref
                .as_ref()
                .unwrap()
                .field_path,
            "metadata.labels['batch.kubernetes.io/job-completion-index']"
        );
    }
    for i in ["0", "1", "2", "4"] {
        env.succeed_pod(&name(&by_ix(i))).await;
    }
    let j = env
        .wait_job("ix", "completedIndexes", |j| {
            j.status
                .as_ref()
                .and_then(|s| s.completed_indexes.as_deref())
                == Some("0-2,4")
        })
        .await;
    assert_eq!(succeeded(&j), 4);
    env.succeed_pod(&name(&by_ix("5"))).await;
    env.wait_job("ix", "0-2,4,5", |j| {
        j.status
            .as_ref()
            .and_then(|s| s.completed_indexes.as_deref())
            == Some("0-2,4,5")
    })
    .await;
    env.succeed_pod(&name(&by_ix("3"))).await;
    let j = env
        .wait_job("ix", "Complete", |j| has_cond(j, "Complete"))
        .await;
    assert_eq!(j.status.unwrap().completed_indexes.as_deref(), Some("0-5"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_limit_per_index_fails_index_and_then_job() {
    // upstream: index failed when its failure count reaches backoffLimitPerIndex; other indexes
    // continue; job fails with FailedIndexes once all indexes are done.
    let env = Env::start().await;
    env.create_job(
        "bpi",
        json!({"completions": 2, "parallelism": 2, "completionMode": "Indexed",
               "backoffLimitPerIndex": 0}),
    )
    .await;
    let pods = env.wait_active("bpi", 2).await;
    let p0 = pods
        .iter()
        .find(|p| ann(p, "batch.kubernetes.io/job-completion-index") == Some("0"))
        .unwrap();
    let p1 = pods
        .iter()
        .find(|p| ann(p, "batch.kubernetes.io/job-completion-index") == Some("1"))
        .unwrap();
    assert_eq!(
        ann(p0, "batch.kubernetes.io/job-index-failure-count"),
        Some("0")
    );
    env.fail_pod(&name(p0)).await;
    let j = env
        .wait_job("bpi", "failedIndexes", |j| {
            j.status.as_ref().and_then(|s| s.failed_indexes.as_deref()) == Some("0")
        })
        .await;
    assert!(!has_cond(&j, "Failed"));
    env.succeed_pod(&name(p1)).await;
    let j = env
        .wait_job("bpi", "Failed", |j| has_cond(j, "Failed"))
        .await;
    let f = cond(&j, "Failed").unwrap();
    assert_eq!(f.reason.as_deref(), Some("FailedIndexes"));
    assert_eq!(f.message.as_deref(), Some("Job has failed indexes"));
    assert_eq!(j.status.unwrap().completed_indexes.as_deref(), Some("1"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_failed_indexes_exceeded_fails_job() {
    let env = Env::start().await;
    env.create_job(
        "mfi",
        json!({"completions": 4, "parallelism": 4, "completionMode": "Indexed",
               "backoffLimitPerIndex": 0, "maxFailedIndexes": 1}),
    )
    .await;
    let pods = env.wait_active("mfi", 4).await;
    env.fail_pod(&name(&pods[0])).await;
    env.fail_pod(&name(&pods[1])).await;
    let j = env
        .wait_job("mfi", "Failed", |j| has_cond(j, "Failed"))
        .await;
    let f = cond(&j, "Failed").unwrap();
    assert_eq!(f.reason.as_deref(), Some("MaxFailedIndexesExceeded"));
    assert_eq!(
        f.message.as_deref(),
        Some("Job has exceeded the specified maximal number of failed indexes")
    );
    assert!(env.active_pods_of("mfi").await.is_empty());
    env.stop().await;
}
