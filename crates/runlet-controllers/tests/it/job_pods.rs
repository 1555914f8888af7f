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
