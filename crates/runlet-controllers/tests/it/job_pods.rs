//! Pod creation: names, labels, parallelism and expectations, slow start, scaling, work
//! queues (upstream `manageJob`, `GetPodFromTemplate`, `slowStartBatch`, `activePodsForRemoval`).

use crate::harness::*;
use serde_json::json;

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
    env.wait_cond("meta", "Complete").await;
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
    let j = env.wait_cond("wq", "Complete").await;
    assert_eq!(succeeded(&j), 2);
    assert_eq!(env.pods_of("wq").await.len(), 2);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_zero_completes_at_once() {
    let env = Env::start().await;
    env.create_job("zero", json!({"completions": 0, "parallelism": 2}))
        .await;
    let j = env.wait_cond("zero", "Complete").await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_selector_and_pod_labels_match_upstream() {
    // upstream batch strategy generateSelector + GetPodFromTemplate: the selector matches the
    // controller-uid label; template and pods carry the legacy and batch.kubernetes.io labels.
    let env = Env::start().await;
    let job = env.create_job("lbl", json!({})).await;
    let uid = job.metadata.uid.clone().unwrap();
    let spec = job.spec.clone().unwrap();
    let sel = spec.selector.unwrap().match_labels.unwrap();
    assert_eq!(
        sel.into_iter().collect::<Vec<_>>(),
        vec![(
            "batch.kubernetes.io/controller-uid".to_string(),
            uid.clone()
        )]
    );
    let p = env.wait_active("lbl", 1).await.remove(0);
    for (k, v) in [
        ("controller-uid", uid.as_str()),
        ("batch.kubernetes.io/controller-uid", uid.as_str()),
        ("job-name", "lbl"),
        ("batch.kubernetes.io/job-name", "lbl"),
    ] {
        assert_eq!(label(&p, k), Some(v), "label {k}");
    }
    assert_eq!(p.metadata.namespace.as_deref(), Some("default"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_names_are_job_name_index_and_five_generate_name_characters() {
    // upstream podGenerateNameWithIndex + names.SimpleNameGenerator: `<job>-` or
    // `<job>-<index>-`, then 5 characters of "bcdfghjklmnpqrstvwxz2456789".
    let env = Env::start().await;
    env.create_job("nm", json!({"parallelism": 2, "completions": 2}))
        .await;
    env.create_job(
        "nmx",
        json!({"parallelism": 2, "completions": 2, "completionMode": "Indexed"}),
    )
    .await;
    let suffix_ok =
        |s: &str| s.len() == 5 && s.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c));
    for p in env.wait_active("nm", 2).await {
        let n = name(&p);
        assert!(suffix_ok(n.strip_prefix("nm-").unwrap()), "{n}");
        assert_eq!(p.metadata.generate_name.as_deref(), Some("nm-"));
    }
    for p in env.wait_active("nmx", 2).await {
        let n = name(&p);
        let ix = index_of(&p).unwrap();
        let prefix = format!("nmx-{ix}-");
        assert!(suffix_ok(n.strip_prefix(&prefix).unwrap()), "{n}");
        assert_eq!(p.metadata.generate_name, Some(prefix));
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_start_stops_at_the_first_failed_creation_and_retries_after_backoff() {
    // upstream slowStartBatch (SlowStartInitialBatchSize 1): a sync whose first creation fails
    // sends no more; the sync error is retried with the queue's rate limiter (1 s, doubling),
    // not in a loop.
    let env = Env::start().await;
    env.faults.fail_creates_from(1);
    let job = env
        .create_job("slow", json!({"parallelism": 8, "completions": 8}))
        .await;
    let ev = env.wait_event(&job, "FailedCreate").await;
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    // The Status message alone, as Go's `%v` of the error prints it.
    assert_eq!(
        ev.message.as_deref(),
        Some("Error creating: injected fault")
    );
    // One attempt per sync. The first sync's status writes (it creates alongside writing the
    // status) may each sync the Job once more, as runlet has no 1 s syncJobBatchPeriod; then
    // nothing happens until the retry is due on the clock.
    tokio::time::sleep(QUIET).await;
    let first = env.faults.create_attempts();
    assert!(first <= 3, "{first} creation attempts of eight planned");
    env.holds("no retries before the backoff", || async {
        env.faults.create_attempts() == first
    })
    .await;
    env.advance_secs(4);
    env.until("retried after the backoff", || async {
        env.faults.create_attempts() > first
    })
    .await;
    tokio::time::sleep(QUIET).await;
    let second = env.faults.create_attempts();
    assert!(second <= first + 2, "{second} attempts after one retry");
    env.faults.fail_creates_from(0);
    env.advance_secs(60);
    env.wait_active("slow", 8).await;
    assert_eq!(
        env.faults.create_attempts(),
        second + 8,
        "batches 1, 2, 4, 1 all succeed"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expectations_hold_new_pods_while_the_informer_lags() {
    // upstream ControllerExpectations: no new pods until the informer observed the previous
    // creations, even when the Job is synced meanwhile (here: its pod watch is held back).
    let env = Env::start().await;
    let job = env
        .create_job("lag", json!({"parallelism": 3, "completions": 6}))
        .await;
    env.wait_active("lag", 3).await;
    env.wait_job("lag", "active 3", |j| active(j) == 3).await;
    env.faults.hold_pod_watch(true);
    // Two pods finish, unseen by the controller.
    let pods = env.active_pods_of("lag").await;
    env.succeed_pod(&name(&pods[0])).await;
    env.succeed_pod(&name(&pods[1])).await;
    // Make the controller sync (a Job change) while its pod informer lags.
    env.jobs
        .patch(
            "lag",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"metadata": {"labels": {"poke": "1"}}})),
        )
        .await
        .unwrap();
    env.holds("no pods created while the informer lags", || async {
        env.pods_of("lag").await.len() == 3
    })
    .await;
    env.faults.hold_pod_watch(false);
    let j = env
        .wait_job("lag", "2 succeeded", |j| succeeded(j) == 2)
        .await;
    assert!(active(&j) <= 3);
    env.wait_active("lag", 3).await;
    assert_eq!(env.pods_of("lag").await.len(), 5);
    env.wait_event(&job, "SuccessfulCreate").await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_up_creates_pods_up_to_the_new_parallelism() {
    // upstream manageJob: wantActive = min(completions - succeeded, parallelism).
    let env = Env::start().await;
    env.create_job("up", json!({"parallelism": 1, "completions": 5}))
        .await;
    env.wait_active("up", 1).await;
    env.set_spec("up", json!({"parallelism": 3})).await;
    env.wait_active("up", 3).await;
    env.wait_job("up", "active 3", |j| active(j) == 3).await;
    env.stays_active("up", 3).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_down_deletes_pending_then_not_ready_pods_first() {
    // upstream activePodsForRemoval with controller.ActivePods order: Pending before Running,
    // not ready before ready.
    let env = Env::start().await;
    env.create_job("order", json!({"parallelism": 3, "completions": 9}))
        .await;
    let pods = env.wait_active("order", 3).await;
    env.run_pod(&name(&pods[0]), true, 0).await;
    env.run_pod(&name(&pods[1]), false, 0).await;
    env.wait_job("order", "ready 1", |j| {
        j.status.as_ref().and_then(|s| s.ready) == Some(1)
    })
    .await;
    env.set_spec("order", json!({"parallelism": 1})).await;
    let left = env.wait_active("order", 1).await;
    assert_eq!(name(&left[0]), name(&pods[0]), "the ready pod is kept");
    let j = env.wait_job("order", "active 1", |j| active(j) == 1).await;
    assert_eq!(failed(&j), 0);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallelism_set_to_zero_pauses_a_running_job() {
    // upstream manageJob: parallelism 0 wants no active pods; deleted pods are not failures.
    let env = Env::start().await;
    env.create_job("pause", json!({"parallelism": 2, "completions": 4}))
        .await;
    env.wait_active("pause", 2).await;
    env.set_spec("pause", json!({"parallelism": 0})).await;
    env.wait_active("pause", 0).await;
    let j = env.wait_job("pause", "active 0", |j| active(j) == 0).await;
    assert_eq!(failed(&j), 0);
    assert!(!has_cond(&j, "Suspended"), "parallelism 0 is not suspend");
    env.stays_active("pause", 0).await;
    env.set_spec("pause", json!({"parallelism": 2})).await;
    env.wait_active("pause", 2).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_queue_failure_after_a_success_is_not_replaced() {
    // upstream manageJob: completions unset and succeeded > 0 -> wantActive = active, so a
    // failed pod is not replaced; the Job completes once none is active.
    let env = Env::start().await;
    env.create_job("wqf", json!({"parallelism": 2})).await;
    let pods = env.wait_active("wqf", 2).await;
    env.succeed_pod(&name(&pods[0])).await;
    env.wait_job("wqf", "succeeded 1", |j| succeeded(j) == 1)
        .await;
    env.fail_pod(&name(&pods[1])).await;
    let j = env.wait_cond("wqf", "Complete").await;
    assert_eq!((succeeded(&j), failed(&j)), (1, 1));
    env.advance_secs(60);
    env.stays_active("wqf", 0).await;
    assert_eq!(env.pods_of("wqf").await.len(), 2);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_below_parallelism_creates_only_completions_pods() {
    // upstream manageJob: active never exceeds the remaining completions.
    let env = Env::start().await;
    env.create_job("few", json!({"parallelism": 5, "completions": 2}))
        .await;
    let pods = env.wait_active("few", 2).await;
    env.stays_active("few", 2).await;
    env.succeed_pod(&name(&pods[0])).await;
    env.wait_job("few", "succeeded 1", |j| succeeded(j) == 1)
        .await;
    env.stays_active("few", 1).await;
    env.stop().await;
}
