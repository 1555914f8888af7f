//! Job controller behaviour, one test per upstream behaviour (pkg/controller/job).

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

fn ann<'a>(p: &'a k8s_openapi::api::core::v1::Pod, k: &str) -> Option<&'a str> {
    p.metadata.annotations.as_ref()?.get(k).map(String::as_str)
}

fn label<'a>(p: &'a k8s_openapi::api::core::v1::Pod, k: &str) -> Option<&'a str> {
    p.metadata.labels.as_ref()?.get(k).map(String::as_str)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_carry_labels_owner_reference_and_tracking_finalizer() {
    // upstream GetPodFromTemplate + appendJobCompletionFinalizerIfNotFound + NewControllerRef.
    let env = Env::start().await;
    let job = env.create_job("meta", json!({})).await;
    let pods = env.wait_active("meta", 1).await;
    let p = &pods[0];
    assert!(name(p).starts_with("meta-") && name(p).len() == "meta-".len() + 5);
    let uid = job.metadata.uid.clone().unwrap();
    assert_eq!(
        label(p, "batch.kubernetes.io/controller-uid"),
        Some(uid.as_str())
    );
    assert_eq!(label(p, "job-name"), Some("meta"));
    let r = &p.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (r.kind.as_str(), r.name.as_str(), r.uid.as_str()),
        ("Job", "meta", uid.as_str())
    );
    assert_eq!(
        (r.controller, r.block_owner_deletion),
        (Some(true), Some(true))
    );
    assert!(
        p.metadata
            .finalizers
            .as_ref()
            .unwrap()
            .contains(&"batch.kubernetes.io/job-tracking".to_string())
    );
    env.succeed_pod(&name(p)).await;
    env.wait_job("meta", "Complete", |j| has_cond(j, "Complete"))
        .await;
    let p = env.pods.get(&name(p)).await.unwrap();
    assert!(
        p.metadata.finalizers.unwrap_or_default().is_empty(),
        "finalizer removed once counted"
    );
    let ev = env.wait_event(&job, "SuccessfulCreate").await;
    assert_eq!(ev.message, Some(format!("Created pod: {}", name(&pods[0]))));
    assert_eq!(ev.involved_object.uid.as_deref(), Some(uid.as_str()));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_more_than_parallelism_active() {
    // upstream expectations: no new pods until the informer saw the previous creations.
    let env = Env::start().await;
    let driver = env.spawn_driver(|_| 0);
    env.create_job("par", json!({"completions": 40, "parallelism": 4}))
        .await;
    let mut max_active = 0;
    let r = tokio::time::timeout(WAIT, async {
        loop {
            let n = env.active_pods_of("par").await.len();
            max_active = max_active.max(n);
            let j = env.job("par").await;
            if has_cond(&j, "Complete") {
                return j;
            }
        }
    })
    .await
    .expect("job completes");
    driver.abort();
    assert!(max_active <= 4, "saw {max_active} active pods");
    assert_eq!(succeeded(&r), 40);
    assert_eq!(
        env.pods_of("par").await.len(),
        40,
        "exactly completions pods created"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_queue_completes_when_one_succeeds_and_none_active() {
    // upstream: completions unset -> complete when succeeded > 0 and active == 0; no new pods
    // after the first success.
    let env = Env::start().await;
    env.create_job("wq", json!({"parallelism": 2})).await;
    let pods = env.wait_active("wq", 2).await;
    env.succeed_pod(&name(&pods[0])).await;
    env.wait_job("wq", "one succeeded", |j| succeeded(j) == 1)
        .await;
    assert_eq!(
        env.active_pods_of("wq").await.len(),
        1,
        "no replacement after a success"
    );
    assert!(!has_cond(&env.job("wq").await, "Complete"));
    env.succeed_pod(&name(&pods[1])).await;
    let j = env
        .wait_job("wq", "Complete", |j| has_cond(j, "Complete"))
        .await;
    assert_eq!(succeeded(&j), 2);
    assert_eq!(env.pods_of("wq").await.len(), 2);
    env.stop().await;
}

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
async fn completions_zero_completes_at_once() {
    let env = Env::start().await;
    env.create_job("zero", json!({"completions": 0, "parallelism": 2}))
        .await;
    let j = env
        .wait_job("zero", "Complete", |j| has_cond(j, "Complete"))
        .await;
    assert_eq!(succeeded(&j), 0);
    assert!(env.pods_of("zero").await.is_empty());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallelism_zero_creates_nothing_until_raised() {
    let env = Env::start().await;
    env.create_job("p0", json!({"completions": 2, "parallelism": 0}))
        .await;
    let j = env
        .wait_job("p0", "status written", |j| {
            j.status.as_ref().and_then(|s| s.ready).is_some()
        })
        .await;
    assert!(j.status.unwrap().start_time.is_some());
    assert!(env.pods_of("p0").await.is_empty());
    env.set_spec("p0", json!({"parallelism": 2})).await;
    env.wait_active("p0", 2).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_down_deletes_pods_without_counting_failures() {
    // upstream deleteJobPods removes the finalizer before deleting: not a failure.
    let env = Env::start().await;
    let job = env
        .create_job("sd", json!({"completions": 10, "parallelism": 4}))
        .await;
    env.wait_active("sd", 4).await;
    env.set_spec("sd", json!({"parallelism": 1})).await;
    env.wait_active("sd", 1).await;
    let j = env.wait_job("sd", "active 1", |j| active(j) == 1).await;
    assert_eq!(failed(&j), 0);
    env.wait_event(&job, "SuccessfulDelete").await;
    env.stop().await;
}

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

/// Throughput of the controller with a fake pod driver completing pods at once:
/// `RUNLET_BENCH_COMPLETIONS=10000 cargo test --release -p runlet-controllers --test it bench -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_indexed_job_pods_per_second() {
    let n: i32 = std::env::var("RUNLET_BENCH_COMPLETIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let env = Env::start().await;
    let driver = env.spawn_driver(|_| 0);
    let start = std::time::Instant::now();
    env.create_job(
        "bench",
        json!({"completions": n, "parallelism": 100, "completionMode": "Indexed"}),
    )
    .await;
    let j = tokio::time::timeout(std::time::Duration::from_secs(600), async {
        loop {
            let j = env.job("bench").await;
            if has_cond(&j, "Complete") {
                return j;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("bench job completes");
    let secs = start.elapsed().as_secs_f64();
    driver.abort();
    assert_eq!(succeeded(&j), n);
    println!(
        "{n} pods created and completed in {secs:.2}s: {:.0} pods/s",
        f64::from(n) / secs
    );
    env.stop().await;
}
