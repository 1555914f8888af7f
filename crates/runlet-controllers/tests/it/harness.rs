//! Test harness: the API server in-process, the Job controller running against it, and a fake
//! pod driver that writes pod status through the API the way a node agent would.

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use runlet_controllers::job::{Config, Handle, JobController};
use runlet_test::TestApi;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const WAIT: Duration = Duration::from_secs(20);

pub struct Env {
    pub api: TestApi,
    pub handle: Handle,
    pub jobs: Api<Job>,
    pub pods: Api<Pod>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Env {
    pub async fn start() -> Env {
        Self::start_with(Config {
            clock_poll: Duration::from_millis(5),
            ..Config::default()
        })
        .await
    }

    pub async fn start_with(config: Config) -> Env {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let api = TestApi::start().await;
        let ctl = JobController::new(api.client.clone(), api.clock.clone(), config);
        let handle = ctl.handle();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            ctl.run(async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Env {
            jobs: Api::namespaced(api.client.clone(), "default"),
            pods: Api::namespaced(api.client.clone(), "default"),
            api,
            handle,
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            tokio::time::timeout(WAIT, t).await.unwrap().unwrap();
        }
    }

    /// Moves the fake clock and lets the controller's timers see it.
    pub fn advance_secs(&self, secs: i64) {
        self.api.clock.advance_millis(secs * 1000);
        self.handle.wake_timers();
    }

    pub fn now_secs(&self) -> i64 {
        runlet_api::clock::Clock::now_unix(self.api.clock.as_ref())
    }

    pub async fn create_job(&self, name: &str, spec: Value) -> Job {
        let mut spec = spec;
        let tpl = json!({
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox", "command": ["true"]}]
            }
        });
        if spec.get("template").is_none() {
            spec["template"] = tpl;
        }
        let job: Job = serde_json::from_value(json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name},
            "spec": spec
        }))
        .unwrap();
        self.jobs
            .create(&PostParams::default(), &job)
            .await
            .unwrap()
    }

    pub async fn job(&self, name: &str) -> Job {
        self.jobs.get(name).await.unwrap()
    }

    /// Waits (bounded) until `pred` holds for the Job.
    pub async fn wait_job(&self, name: &str, what: &str, pred: impl Fn(&Job) -> bool) -> Job {
        let r = tokio::time::timeout(WAIT, async {
            loop {
                let j = self.jobs.get(name).await.unwrap();
                if pred(&j) {
                    return j;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        match r {
            Ok(j) => j,
            Err(_) => {
                let j = self.jobs.get(name).await.unwrap();
                panic!(
                    "timed out waiting for job {name}: {what}; status: {}",
                    serde_json::to_string_pretty(&j.status).unwrap()
                )
            }
        }
    }

    /// Pods of a Job (by the job-name label), sorted by name.
    pub async fn pods_of(&self, job: &str) -> Vec<Pod> {
        let lp = ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job}"));
        let mut v = self.pods.list(&lp).await.unwrap().items;
        v.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        v
    }

    pub async fn active_pods_of(&self, job: &str) -> Vec<Pod> {
        self.pods_of(job)
            .await
            .into_iter()
            .filter(|p| {
                let ph = phase(p);
                p.metadata.deletion_timestamp.is_none() && ph != "Succeeded" && ph != "Failed"
            })
            .collect()
    }

    /// Waits (bounded) until the Job has exactly `n` active pods.
    pub async fn wait_active(&self, job: &str, n: usize) -> Vec<Pod> {
        let r = tokio::time::timeout(WAIT, async {
            loop {
                let a = self.active_pods_of(job).await;
                if a.len() == n {
                    return a;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        match r {
            Ok(a) => a,
            Err(_) => panic!(
                "timed out waiting for {n} active pods of {job}; have {}",
                self.active_pods_of(job).await.len()
            ),
        }
    }

    /// Writes a terminal status for a pod: a container exited with `exit_code`.
    pub async fn finish_pod(&self, name: &str, exit_code: i32) {
        let phase = if exit_code == 0 {
            "Succeeded"
        } else {
            "Failed"
        };
        let now = runlet_api::clock::rfc3339(self.now_secs());
        self.patch_status(
            name,
            json!({"status": {
                "phase": phase,
                "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": now}],
                "containerStatuses": [{
                    "name": "main", "image": "busybox", "imageID": "", "ready": false,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": exit_code, "finishedAt": now,
                        "reason": if exit_code == 0 { "Completed" } else { "Error" }}}
                }]
            }}),
        )
        .await;
    }

    pub async fn succeed_pod(&self, name: &str) {
        self.finish_pod(name, 0).await;
    }

    pub async fn fail_pod(&self, name: &str) {
        self.finish_pod(name, 1).await;
    }

    pub async fn run_pod(&self, name: &str, ready: bool, restarts: i32) {
        self.patch_status(
            name,
            json!({"status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}],
                "containerStatuses": [{
                    "name": "main", "image": "busybox", "imageID": "", "ready": ready,
                    "restartCount": restarts,
                    "state": {"running": {}}
                }]
            }}),
        )
        .await;
    }

    pub async fn patch_status(&self, name: &str, body: Value) {
        self.pods
            .patch_status(name, &PatchParams::default(), &Patch::Merge(body))
            .await
            .unwrap();
    }

    pub async fn delete_pod(&self, name: &str) {
        self.pods
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }

    pub async fn set_spec(&self, job: &str, spec: Value) {
        self.jobs
            .patch(
                job,
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": spec })),
            )
            .await
            .unwrap();
    }

    /// Events about the Job, as `kubectl describe` finds them.
    pub async fn events_of(&self, job: &Job) -> Vec<Event> {
        let evs: Api<Event> = Api::namespaced(self.api.client.clone(), "default");
        let uid = job.metadata.uid.clone().unwrap();
        let lp = ListParams::default().fields(&format!(
            "involvedObject.name={},involvedObject.namespace=default,involvedObject.kind=Job,involvedObject.uid={uid}",
            job.metadata.name.as_deref().unwrap()
        ));
        evs.list(&lp).await.unwrap().items
    }

    /// Waits (bounded) for an event with `reason` about the Job.
    pub async fn wait_event(&self, job: &Job, reason: &str) -> Event {
        let r = tokio::time::timeout(WAIT, async {
            loop {
                if let Some(e) = self
                    .events_of(job)
                    .await
                    .into_iter()
                    .find(|e| e.reason.as_deref() == Some(reason))
                {
                    return e;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        match r {
            Ok(e) => e,
            Err(_) => panic!(
                "no {reason} event; have {:?}",
                self.events_of(job)
                    .await
                    .iter()
                    .map(|e| e.reason.clone())
                    .collect::<Vec<_>>()
            ),
        }
    }

    /// A fake pod driver: completes every pod of the namespace as soon as it appears, with exit
    /// code from `exit_code(pod)`. Returns a task to abort.
    pub fn spawn_driver(&self, exit_code: fn(&Pod) -> i32) -> JoinHandle<()> {
        let pods = self.pods.clone();
        tokio::spawn(async move {
            let mut stream = kube::runtime::watcher(pods.clone(), Default::default()).boxed();
            let mut seen = std::collections::HashSet::new();
            while let Some(Ok(ev)) = stream.next().await {
                let batch: Vec<Pod> = match ev {
                    kube::runtime::watcher::Event::Apply(p)
                    | kube::runtime::watcher::Event::InitApply(p) => vec![p],
                    _ => vec![],
                };
                for p in batch {
                    let name = p.metadata.name.clone().unwrap();
                    if phase(&p) == "Succeeded"
                        || phase(&p) == "Failed"
                        || p.metadata.deletion_timestamp.is_some()
                        || !seen.insert(name.clone())
                    {
                        continue;
                    }
                    let code = exit_code(&p);
                    let pods = pods.clone();
                    tokio::spawn(async move {
                        let body = json!({"status": {
                            "phase": if code == 0 { "Succeeded" } else { "Failed" },
                            "containerStatuses": [{"name": "main", "image": "busybox", "imageID": "",
                              "ready": false, "restartCount": 0,
                              "state": {"terminated": {"exitCode": code}}}]
                        }});
                        let _ = pods
                            .patch_status(&name, &PatchParams::default(), &Patch::Merge(body))
                            .await;
                    });
                }
            }
        })
    }
}

pub fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

pub fn name(p: &Pod) -> String {
    p.metadata.name.clone().unwrap()
}

pub fn cond<'a>(j: &'a Job, t: &str) -> Option<&'a k8s_openapi::api::batch::v1::JobCondition> {
    j.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == t && c.status == "True"))
}

pub fn has_cond(j: &Job, t: &str) -> bool {
    cond(j, t).is_some()
}

pub fn succeeded(j: &Job) -> i32 {
    j.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0)
}

pub fn failed(j: &Job) -> i32 {
    j.status.as_ref().and_then(|s| s.failed).unwrap_or(0)
}

pub fn active(j: &Job) -> i32 {
    j.status.as_ref().and_then(|s| s.active).unwrap_or(0)
}
