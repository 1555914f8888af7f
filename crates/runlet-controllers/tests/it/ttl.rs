//! TTL-after-finished with the Job controller (upstream pkg/controller/ttlafterfinished).

use crate::harness::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_job_is_deleted_in_the_foreground_after_its_ttl() {
    // upstream processJob: delete with Foreground propagation at finish time + TTL; the
    // Job stays until its pods are gone.
    let env = Env::start_with_gc_and_ttl().await;
    env.create_job(
        "ttl",
        json!({"ttlSecondsAfterFinished": 30, "template": held_template()}),
    )
    .await;
    let p = env.wait_active("ttl", 1).await.remove(0);
    env.succeed_pod(&name(&p)).await;
    env.wait_cond("ttl", "Complete").await;
    env.advance_secs(29);
    env.holds("kept until the TTL expires", || async {
        env.job("ttl").await.metadata.deletion_timestamp.is_none()
    })
    .await;
    env.advance_secs(1);
    let j = env
        .wait_job("ttl", "deleting", |j| {
            j.metadata.deletion_timestamp.is_some()
        })
        .await;
    assert!(
        j.metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"foregroundDeletion".to_string())
    );
    env.until("pod deleted by the collector", || async {
        env.pods
            .get(&name(&p))
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
    })
    .await;
    env.holds("the Job waits for its pod", || async {
        env.jobs.get_opt("ttl").await.unwrap().is_some()
    })
    .await;
    env.clear_finalizers(&name(&p)).await;
    env.until("job gone", || async {
        env.jobs.get_opt("ttl").await.unwrap().is_none()
    })
    .await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_set_after_the_job_finished_counts_from_the_finish() {
    // upstream updateJob requeues a Job whose TTL was added after it finished.
    let env = Env::start_with_gc_and_ttl().await;
    env.create_job("late", json!({})).await;
    let p = env.wait_active("late", 1).await.remove(0);
    env.succeed_pod(&name(&p)).await;
    env.wait_cond("late", "Complete").await;
    env.advance_secs(100);
    env.holds("no TTL, kept", || async {
        env.jobs.get_opt("late").await.unwrap().is_some()
    })
    .await;
    env.set_spec("late", json!({"ttlSecondsAfterFinished": 50}))
        .await;
    env.until("job gone", || async {
        env.jobs.get_opt("late").await.unwrap().is_none()
    })
    .await;
    env.wait_pod_gone(&name(&p)).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_zero_deletes_the_job_as_soon_as_it_fails() {
    // upstream: ttlSecondsAfterFinished 0 means eligible for deletion right after finishing,
    // Failed as well as Complete.
    let env = Env::start_with_gc_and_ttl().await;
    env.create_job(
        "zero",
        json!({"ttlSecondsAfterFinished": 0, "backoffLimit": 0}),
    )
    .await;
    let p = env.wait_active("zero", 1).await.remove(0);
    env.fail_pod(&name(&p)).await;
    env.until("job gone", || async {
        env.jobs.get_opt("zero").await.unwrap().is_none()
    })
    .await;
    env.wait_pod_gone(&name(&p)).await;
    env.stop().await;
}
