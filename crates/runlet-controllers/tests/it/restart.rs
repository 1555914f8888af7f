//! The Job controller across a server crash: the API server, the controller and the pod driver
//! run in one runtime that is killed mid-Job (the store stops as `kill -9` would stop it, every
//! task is dropped wherever it was), then a new server, controller and driver start on the same
//! database. Upstream's guarantee is that the job-tracking finalizer and
//! `status.uncountedTerminatedPods` make counting survive controller restarts
//! (KEP-2307 "Job tracking without lingering pods"); expectations rebuilt from a fresh list
//! keep active pods within parallelism.

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use runlet_api::clock::FakeClock;
use runlet_controllers::job::{Config, JobController};
use runlet_test::TestApi;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

const COMPLETIONS: i32 = 500;
const PARALLELISM: i32 = 50;
/// Indexes whose first pod fails: 0, 10, 20, ... (50 of them).
fn fails_first(index: i64) -> bool {
    index % 10 == 0
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn index_of(p: &Pod) -> Option<i64> {
    p.metadata
        .annotations
        .as_ref()?
        .get("batch.kubernetes.io/job-completion-index")?
        .parse()
        .ok()
}

fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// A fake pod driver: finishes every pod as soon as it appears; the first pod of each index in
/// [`fails_first`] fails, every other one succeeds. Which indexes already failed is read back
/// from the pods themselves (failed pods stay until the Job is deleted), so a restarted driver
/// decides exactly as the killed one would have.
async fn driver(pods: Api<Pod>) {
    let mut stream = kube::runtime::watcher(pods.clone(), Default::default()).boxed();
    let mut failed_indexes: HashSet<i64> = HashSet::new();
    let mut seen = HashSet::new();
    let mut initial: Vec<Pod> = Vec::new();
    while let Some(Ok(ev)) = stream.next().await {
        use kube::runtime::watcher::Event;
        let batch = match ev {
            Event::Apply(p) => vec![p],
            Event::InitApply(p) => {
                initial.push(p);
                continue;
            }
            // Which indexes failed is known only once the whole list is in.
            Event::InitDone => std::mem::take(&mut initial),
            _ => continue,
        };
        for p in &batch {
            if phase(p) == "Failed"
                && let Some(ix) = index_of(p)
            {
                failed_indexes.insert(ix);
            }
        }
        for p in batch {
            let Some(ix) = index_of(&p) else { continue };
            let name = p.metadata.name.clone().unwrap();
            if matches!(phase(&p), "Succeeded" | "Failed")
                || p.metadata.deletion_timestamp.is_some()
                || !seen.insert(name.clone())
            {
                continue;
            }
            let fail = fails_first(ix) && failed_indexes.insert(ix);
            let body = json!({"status": {
                "phase": if fail { "Failed" } else { "Succeeded" },
                "containerStatuses": [{"name": "main", "image": "busybox", "imageID": "",
                  "ready": false, "restartCount": 0,
                  "state": {"terminated": {"exitCode": i32::from(fail)}}}]
            }});
            let pods = pods.clone();
            tokio::spawn(async move {
                let _ = pods
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(body))
                    .await;
            });
        }
    }
}

/// One incarnation of the server: API, Job controller, pod driver, and a pump that moves the
/// fake clock so the pod-failure backoff (10 s doubling) elapses.
async fn start_server(dir: &std::path::Path, clock: Arc<FakeClock>) -> TestApi {
    let api = TestApi::start_in(dir, clock.clone()).await;
    let ctl = JobController::new(
        api.client.clone(),
        clock.clone(),
        Config {
            clock_poll: Duration::from_millis(5),
            ..Config::default()
        },
    );
    let handle = ctl.handle();
    tokio::spawn(ctl.run(futures::future::pending::<()>()));
    tokio::spawn(driver(Api::namespaced(api.client.clone(), "default")));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            clock.advance_millis(1000);
            handle.wake_timers();
        }
    });
    api
}

async fn wait_job(jobs: &Api<Job>, what: &str, pred: impl Fn(&Job) -> bool) -> Job {
    tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let j = jobs.get("restart").await.unwrap();
            if pred(&j) {
                return j;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for the job: {what}"))
}

fn status_of(j: &Job) -> (i32, i32, bool) {
    let s = j.status.clone().unwrap_or_default();
    let complete = s
        .conditions
        .unwrap_or_default()
        .iter()
        .any(|c| c.type_ == "Complete" && c.status == "True");
    (s.succeeded.unwrap_or(0), s.failed.unwrap_or(0), complete)
}

/// Replays every pod change since revision 1 through a watch and returns the most pods that
/// were ever active (not finished, not being deleted) at once.
async fn max_active_in_history(api: &TestApi) -> usize {
    let pods: Api<Pod> = Api::namespaced(api.client.clone(), "default");
    // The newest pod change: the replay ends there.
    let end: i64 = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| {
            p.metadata
                .resource_version
                .clone()
                .unwrap()
                .parse()
                .unwrap()
        })
        .max()
        .unwrap();
    let mut stream = pods
        .watch(&WatchParams::default().timeout(60), "1")
        .await
        .unwrap()
        .boxed();
    let mut active: HashMap<String, bool> = HashMap::new();
    let mut max = 0;
    while let Some(ev) = stream.next().await {
        let (p, deleted) = match ev.unwrap() {
            WatchEvent::Added(p) | WatchEvent::Modified(p) => (p, false),
            WatchEvent::Deleted(p) => (p, true),
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => panic!("watch error: {e:?}"),
        };
        let rv: i64 = p
            .metadata
            .resource_version
            .clone()
            .unwrap()
            .parse()
            .unwrap();
        let is_active = !deleted
            && p.metadata.deletion_timestamp.is_none()
            && !matches!(phase(&p), "Succeeded" | "Failed");
        active.insert(p.metadata.name.clone().unwrap(), is_active);
        max = max.max(active.values().filter(|a| **a).count());
        if rv >= end {
            break;
        }
    }
    max
}

#[test]
fn job_counts_exactly_and_stays_within_parallelism_across_a_server_kill() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FakeClock::at(runlet_test::EPOCH));

    // First server: start the Job, kill everything once a good part of it is done.
    let rt = runtime();
    let store = rt.block_on(async {
        let api = start_server(dir.path(), clock.clone()).await;
        let jobs: Api<Job> = Api::namespaced(api.client.clone(), "default");
        let job: Job = serde_json::from_value(json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "restart"},
            "spec": {
                "completions": COMPLETIONS, "parallelism": PARALLELISM,
                "completionMode": "Indexed", "backoffLimit": 100,
                "template": {"spec": {"restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "busybox", "command": ["true"]}]}}
            }
        }))
        .unwrap();
        jobs.create(&PostParams::default(), &job).await.unwrap();
        let j = wait_job(&jobs, "a third done", |j| status_of(j).0 >= COMPLETIONS / 3).await;
        assert!(!status_of(&j).2, "killed before the job completed");
        api.store.clone()
    });
    // kill -9: the store drops uncommitted writes and refuses new ones, then every task of the
    // server, controller and driver is dropped wherever it was.
    store.crash();
    rt.shutdown_background();

    // Second server on the same database.
    let rt = runtime();
    rt.block_on(async {
        let api = start_server(dir.path(), clock.clone()).await;
        let jobs: Api<Job> = Api::namespaced(api.client.clone(), "default");
        let j = wait_job(&jobs, "complete", |j| status_of(j).2).await;
        let (succeeded, failed, _) = status_of(&j);
        assert_eq!(succeeded, COMPLETIONS, "every index succeeded exactly once");
        let expected_failed = (0..i64::from(COMPLETIONS))
            .filter(|i| fails_first(*i))
            .count();
        assert_eq!(
            failed as usize, expected_failed,
            "every failed pod counted once"
        );
        let st = j.status.unwrap();
        assert_eq!(st.completed_indexes.as_deref(), Some("0-499"));
        assert_eq!(
            st.uncounted_terminated_pods.unwrap_or_default().failed,
            None
        );
        let max = max_active_in_history(&api).await;
        assert!(max > 0, "the replay saw the pods");
        assert!(
            max <= PARALLELISM as usize,
            "at most {PARALLELISM} pods were ever active, saw {max}"
        );
    });
    rt.shutdown_background();
}
