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
    let j = env.wait_cond("ix", "Complete").await;
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
    let j = env.wait_cond("bpi", "Failed").await;
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
    let j = env.wait_cond("mfi", "Failed").await;
    let f = cond(&j, "Failed").unwrap();
    assert_eq!(f.reason.as_deref(), Some("MaxFailedIndexesExceeded"));
    assert_eq!(
        f.message.as_deref(),
        Some("Job has exceeded the specified maximal number of failed indexes")
    );
    assert!(env.active_pods_of("mfi").await.is_empty());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexed_pods_keep_the_template_subdomain_and_get_the_index_in_init_containers() {
    // upstream addCompletionIndexEnvVariables (init containers too) and hostname
    // `<job>-<index>`; the template's subdomain is kept.
    let env = Env::start().await;
    env.create_job(
        "sub",
        json!({"completions": 2, "parallelism": 2, "completionMode": "Indexed",
            "template": {"spec": {"restartPolicy": "Never", "subdomain": "workers",
                "initContainers": [{"name": "init", "image": "busybox"}],
                "containers": [{"name": "main", "image": "busybox"}]}}}),
    )
    .await;
    for ix in 0..2 {
        let p = env.wait_index("sub", ix).await;
        let spec = p.spec.clone().unwrap();
        assert_eq!(spec.hostname, Some(format!("sub-{ix}")));
        assert_eq!(spec.subdomain.as_deref(), Some("workers"));
        let init_env = spec.init_containers.unwrap()[0].env.clone().unwrap();
        assert!(init_env.iter().any(|e| e.name == "JOB_COMPLETION_INDEX"));
        assert_eq!(
            label(&p, "batch.kubernetes.io/job-completion-index"),
            Some(ix.to_string().as_str())
        );
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_adjacent_completed_indexes_are_written_with_a_comma() {
    // upstream orderedIntervals.String: runs of three or more become ranges, "0,1" stays.
    let env = Env::start().await;
    env.create_job(
        "adj",
        json!({"completions": 4, "parallelism": 4, "completionMode": "Indexed"}),
    )
    .await;
    let ci = |j: &k8s_openapi::api::batch::v1::Job| status(j).completed_indexes;
    for (ix, want) in [(0, "0"), (1, "0,1"), (3, "0,1,3"), (2, "0-3")] {
        let p = env.wait_index("adj", ix).await;
        env.succeed_pod(&name(&p)).await;
        env.wait_job("adj", want, |j| ci(j).as_deref() == Some(want))
            .await;
    }
    env.wait_cond("adj", "Complete").await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_index_is_recreated_with_the_same_index_after_backoff() {
    // upstream firstPendingIndexes: a failed index is pending again; the Job-wide backoff
    // applies without backoffLimitPerIndex.
    let env = Env::start().await;
    env.create_job(
        "again",
        json!({"completions": 2, "parallelism": 2, "completionMode": "Indexed"}),
    )
    .await;
    let p1 = env.wait_index("again", 1).await;
    env.fail_pod(&name(&p1)).await;
    env.wait_job("again", "failed 1", |j| failed(j) == 1).await;
    env.advance_secs(9);
    env.stays_active("again", 1).await;
    env.advance_secs(1);
    let n1 = env.wait_index("again", 1).await;
    assert_ne!(name(&n1), name(&p1));
    assert!(name(&n1).starts_with("again-1-"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_limit_per_index_retries_with_the_failure_count_annotation() {
    // upstream getNewIndexFailureCounts: the replacement carries
    // batch.kubernetes.io/job-index-failure-count; the index fails past the limit.
    let env = Env::start().await;
    env.create_job(
        "retry",
        json!({"completions": 2, "parallelism": 2, "completionMode": "Indexed",
               "backoffLimitPerIndex": 1}),
    )
    .await;
    let p0 = env.wait_index("retry", 0).await;
    env.fail_pod(&name(&p0)).await;
    env.advance_secs(10);
    let r0 = env.wait_index("retry", 0).await;
    assert_ne!(name(&r0), name(&p0));
    assert_eq!(
        ann(&r0, "batch.kubernetes.io/job-index-failure-count"),
        Some("1")
    );
    let j = env.job("retry").await;
    assert_eq!(status(&j).failed_indexes.as_deref(), Some(""));
    env.fail_pod(&name(&r0)).await;
    env.wait_job("retry", "failedIndexes 0", |j| {
        status(j).failed_indexes.as_deref() == Some("0")
    })
    .await;
    env.advance_secs(60);
    env.stays_active("retry", 1).await;
    env.stop().await;
}
