//! Pod records: one `runlet.dev/v1` PodRecord per pod a Job ran, kept after the pod is deleted
//! and deleted with the Job by the garbage collector (the record is owned by the Job).
//! Kubernetes loses exit codes and nodes once pods go (kubernetes/kubernetes#71364).

use crate::harness::*;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use runlet_controllers::{gc, records};
use serde_json::json;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn exit_by_job(p: &Pod) -> i32 {
    let job = p
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("batch.kubernetes.io/job-name"))
        .cloned()
        .unwrap_or_default();
    if job == "bad" { 3 } else { 0 }
}

async fn records_of(api: &Api<DynamicObject>, job: &str) -> Vec<DynamicObject> {
    let lp = ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job}"));
    let mut v = api.list(&lp).await.unwrap().items;
    v.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    v
}

async fn wait_records(api: &Api<DynamicObject>, job: &str, n: usize) -> Vec<DynamicObject> {
    tokio::time::timeout(WAIT, async {
        loop {
            let r = records_of(api, job).await;
            if r.len() == n {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {n} records of {job}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_records_outlive_pods_and_go_with_their_job() {
    let env = Env::start().await;
    let stop = CancellationToken::new();
    let rec_task = tokio::spawn(records::run(
        env.api.client.clone(),
        env.api.clock.clone(),
        2,
        stop.clone(),
    ));
    let gc_task = tokio::spawn(gc::run(
        env.api.client.clone(),
        env.api.clock.clone(),
        gc::Config::default(),
        stop.clone(),
    ));
    let driver = env.spawn_driver(exit_by_job);
    env.create_job(
        "ok",
        json!({"completions": 2, "parallelism": 2, "completionMode": "Indexed"}),
    )
    .await;
    env.create_job("bad", json!({"completions": 1, "backoffLimit": 0}))
        .await;
    env.wait_job("ok", "complete", |j| has_cond(j, "Complete"))
        .await;
    env.wait_job("bad", "failed", |j| has_cond(j, "Failed"))
        .await;

    let api: Api<DynamicObject> =
        Api::namespaced_with(env.api.client.clone(), "default", &records::api_resource());
    let ok = wait_records(&api, "ok", 2).await;
    for (i, r) in ok.iter().enumerate() {
        let name = r.metadata.name.clone().unwrap();
        assert!(
            name.starts_with(&format!("ok-{i}-")),
            "named after the pod: {name}"
        );
        assert_eq!(r.data["podName"], name.as_str());
        assert_eq!(r.data["jobName"], "ok");
        assert_eq!(r.data["completionIndex"], i as i64);
        assert_eq!(r.data["phase"], "Succeeded");
        assert_eq!(r.data["exitCode"], 0);
        let owner = &r.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("Job", "ok"));
    }
    let bad = wait_records(&api, "bad", 1).await;
    assert_eq!(bad[0].data["phase"], "Failed");
    assert_eq!(bad[0].data["exitCode"], 3);
    assert!(bad[0].data.get("completionIndex").is_none());

    // Pods deleted (their Job counted them and removed its finalizer): records stay.
    for job in ["ok", "bad"] {
        for p in env.pods_of(job).await {
            tokio::time::timeout(WAIT, async {
                loop {
                    let cur = env.pods.get(&name(&p)).await.unwrap();
                    if cur.metadata.finalizers.unwrap_or_default().is_empty() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .await
            .unwrap();
            env.delete_pod(&name(&p)).await;
        }
    }
    tokio::time::timeout(WAIT, async {
        while !env.pods_of("ok").await.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(
        records_of(&api, "ok").await.len(),
        2,
        "records outlive pods"
    );
    assert_eq!(records_of(&api, "bad").await[0].data["exitCode"], 3);

    // Deleting the Job deletes its records (garbage collector, background propagation).
    env.jobs
        .delete("ok", &DeleteParams::background())
        .await
        .unwrap();
    wait_records(&api, "ok", 0).await;
    assert_eq!(
        records_of(&api, "bad").await.len(),
        1,
        "other Jobs keep theirs"
    );

    driver.abort();
    stop.cancel();
    rec_task.await.unwrap();
    gc_task.await.unwrap();
    env.stop().await;
}
