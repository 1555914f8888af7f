//! Test harness: the API server in-process, the Job controller running against it, and a fake
//! pod driver that writes pod status through the API the way a node agent would.
//!
//! The controller talks to the server through [`Faults`], a layer on its own client only: tests
//! make its pod creations or pod patches fail with a 500 Status, or hold back its pod watch
//! (an informer that lags), while the test's client sees the server as it is.

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use runlet_controllers::job::{Config, Handle, JobController};
use runlet_test::TestApi;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(30);

/// Faults injected between the controller and the API server.
pub struct Faults {
    /// Pod creations the controller attempted.
    pub creates: AtomicU32,
    /// Creation attempts from this number on (1-based) fail; 0: none fails.
    fail_creates_from: AtomicU32,
    /// Pod patches (not `/status`) the controller attempted.
    pub pod_patches: AtomicU32,
    fail_pod_patches: AtomicBool,
    /// While true, events of the controller's pod watch are held back (not lost).
    hold_pod_watch: tokio::sync::watch::Sender<bool>,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            creates: AtomicU32::new(0),
            fail_creates_from: AtomicU32::new(0),
            pod_patches: AtomicU32::new(0),
            fail_pod_patches: AtomicBool::new(false),
            hold_pod_watch: tokio::sync::watch::channel(false).0,
        }
    }
}

impl Faults {
    /// Makes pod creation attempt `n` (1-based, counted since the start) and all later ones
    /// fail; `0` lets every creation through.
    pub fn fail_creates_from(&self, n: u32) {
        self.fail_creates_from.store(n, Ordering::SeqCst);
    }

    pub fn fail_pod_patches(&self, fail: bool) {
        self.fail_pod_patches.store(fail, Ordering::SeqCst);
    }

    pub fn hold_pod_watch(&self, hold: bool) {
        self.hold_pod_watch.send_replace(hold);
    }

    pub fn create_attempts(&self) -> u32 {
        self.creates.load(Ordering::SeqCst)
    }

    fn injected() -> Response {
        let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": "injected fault", "reason": "InternalError",
            "code": 500});
        (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            [("content-type", "application/json")],
            body.to_string(),
        )
            .into_response()
    }

    async fn layer(self: Arc<Self>, req: Request, next: Next) -> Response {
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or("").to_string();
        let method = req.method().clone();
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        // api/v1/namespaces/<ns>/pods[/<name>[/<sub>]]
        let pods_path =
            segs.len() >= 5 && segs[..3] == ["api", "v1", "namespaces"] && segs[4] == "pods";
        if method == axum::http::Method::POST && pods_path && segs.len() == 5 {
            let n = self.creates.fetch_add(1, Ordering::SeqCst) + 1;
            let from = self.fail_creates_from.load(Ordering::SeqCst);
            if from != 0 && n >= from {
                return Self::injected();
            }
        }
        if method == axum::http::Method::PATCH && pods_path && segs.len() == 6 {
            self.pod_patches.fetch_add(1, Ordering::SeqCst);
            if self.fail_pod_patches.load(Ordering::SeqCst) {
                return Self::injected();
            }
        }
        let pod_watch = method == axum::http::Method::GET
            && path == "/api/v1/pods"
            && query
                .split('&')
                .any(|kv| kv == "watch=true" || kv == "watch=1");
        let resp = next.run(req).await;
        if !pod_watch {
            return resp;
        }
        let gate = self.hold_pod_watch.subscribe();
        let (parts, body) = resp.into_parts();
        let held = body.into_data_stream().then(move |chunk| {
            let mut gate = gate.clone();
            async move {
                let _ = gate.wait_for(|held| !*held).await;
                chunk
            }
        });
        Response::from_parts(parts, Body::from_stream(held))
    }
}

struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

pub struct Env {
    pub api: TestApi,
    pub handle: Handle,
    pub jobs: Api<Job>,
    pub pods: Api<Pod>,
    pub faults: Arc<Faults>,
    config: Config,
    controller: Option<Running>,
    others: Option<(CancellationToken, JoinHandle<()>)>,
}

impl Env {
    pub async fn start() -> Env {
        Self::start_with(Self::config()).await
    }

    fn config() -> Config {
        Config {
            clock_poll: Duration::from_millis(5),
            ..Config::default()
        }
    }

    pub async fn start_with(config: Config) -> Env {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let api = TestApi::start().await;
        let faults = Arc::new(Faults::default());
        let mut env = Env {
            jobs: Api::namespaced(api.client.clone(), "default"),
            pods: Api::namespaced(api.client.clone(), "default"),
            handle: JobController::new(api.client.clone(), api.clock.clone(), config.clone())
                .handle(),
            api,
            faults,
            config,
            controller: None,
            others: None,
        };
        env.start_controller();
        env
    }

    /// The Job controller plus the garbage collector and the TTL-after-finished controller.
    pub async fn start_with_gc_and_ttl() -> Env {
        let mut env = Self::start().await;
        let cancel = CancellationToken::new();
        let (client, clock) = (env.api.client.clone(), env.api.clock.clone());
        let c = cancel.clone();
        let task = tokio::spawn(async move {
            let gc_config = runlet_controllers::gc::Config {
                sync_timeout: Duration::from_secs(10),
                ..Default::default()
            };
            tokio::join!(
                runlet_controllers::gc::run(client.clone(), clock.clone(), gc_config, c.clone()),
                runlet_controllers::ttl::run(client, clock, 2, c),
            );
        });
        env.others = Some((cancel, task));
        env
    }

    /// The controller's client: the same in-process server behind [`Faults`].
    fn controller_client(&self) -> kube::Client {
        let faults = self.faults.clone();
        let router =
            runlet_apiserver::router(self.api.state.clone()).layer(axum::middleware::from_fn(
                move |req: Request, next: Next| faults.clone().layer(req, next),
            ));
        kube::Client::new(router, "default")
    }

    /// Starts a Job controller (a fresh one: empty caches, expectations and backoff records).
    pub fn start_controller(&mut self) {
        assert!(self.controller.is_none(), "controller already running");
        let ctl = JobController::new(
            self.controller_client(),
            self.api.clock.clone(),
            self.config.clone(),
        );
        self.handle = ctl.handle();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            ctl.run(async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        self.controller = Some(Running { stop: tx, task });
    }

    /// Stops the Job controller and waits (bounded) until it has.
    pub async fn stop_controller(&mut self) {
        if let Some(r) = self.controller.take() {
            let _ = r.stop.send(());
            tokio::time::timeout(WAIT, r.task).await.unwrap().unwrap();
        }
    }

    pub async fn stop(mut self) {
        self.stop_controller().await;
        if let Some((cancel, task)) = self.others.take() {
            cancel.cancel();
            tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
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

    /// Waits (bounded) until the Job has the condition `type_` with status True.
    pub async fn wait_cond(&self, name: &str, type_: &str) -> Job {
        self.wait_job(name, type_, |j| has_cond(j, type_)).await
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

    async fn has_start_time(&self, job: &str) -> bool {
        let j = self.jobs.get(job).await.unwrap();
        j.status.and_then(|s| s.start_time).is_some()
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

    /// Waits (bounded) until the Job has exactly `n` active pods and, when it has any, until
    /// its status records a `startTime`. A sync creates pods while it writes the status that
    /// sets `startTime`, so the pods can be seen first; a test that moved the fake clock at
    /// that moment would race the write, which a conflict may also send to the next sync, at
    /// the later time.
    pub async fn wait_active(&self, job: &str, n: usize) -> Vec<Pod> {
        let r = tokio::time::timeout(WAIT, async {
            loop {
                let a = self.active_pods_of(job).await;
                if a.len() == n && (n == 0 || self.has_start_time(job).await) {
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

/// Waits (bounded by [`WAIT`]) until `check` holds.
pub async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Asserts that `check` keeps holding for [`QUIET`] of real time: how a test shows that
/// something does not happen (the controller is given every chance to do it).
pub async fn holds<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + QUIET;
    while tokio::time::Instant::now() < end {
        assert!(check().await, "no longer holds: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

impl Env {
    /// [`until`], for a test's environment.
    pub async fn until<F, Fut>(&self, what: &str, check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        until(what, check).await
    }

    /// [`holds`], for a test's environment.
    pub async fn holds<F, Fut>(&self, what: &str, check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        holds(what, check).await
    }

    /// Asserts the Job keeps exactly `n` active pods for [`QUIET`].
    pub async fn stays_active(&self, job: &str, n: usize) {
        self.holds(&format!("{job} has {n} active pods"), || async {
            self.active_pods_of(job).await.len() == n
        })
        .await;
    }

    /// The active pod of an Indexed Job with completion index `ix`, waited for (bounded).
    pub async fn wait_index(&self, job: &str, ix: i64) -> Pod {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(p) = self
                .active_pods_of(job)
                .await
                .into_iter()
                .find(|p| index_of(p) == Some(ix))
            {
                return p;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out: active pod for index {ix} of {job}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits (bounded) until the pod is gone from the API.
    pub async fn wait_pod_gone(&self, name: &str) {
        self.until(&format!("pod {name} gone"), || async {
            self.pods.get_opt(name).await.unwrap().is_none()
        })
        .await;
    }

    /// Creates a pod directly (not through a Job): an orphan, or one owned as `body` says.
    pub async fn create_pod(&self, name: &str, labels: Value) -> Pod {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {"restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox"}]}
        }))
        .unwrap();
        self.pods
            .create(&PostParams::default(), &pod)
            .await
            .unwrap()
    }

    /// Merge-patches a pod's metadata.
    pub async fn patch_pod_meta(&self, name: &str, meta: Value) -> Pod {
        self.pods
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "metadata": meta })),
            )
            .await
            .unwrap()
    }

    /// Removes every finalizer of a pod (a user clearing a hold finalizer).
    pub async fn clear_finalizers(&self, name: &str) {
        self.patch_pod_meta(name, json!({"finalizers": null})).await;
    }
}

/// How long [`Env::holds`] watches for something that must not happen.
pub const QUIET: Duration = Duration::from_millis(300);

/// A template whose pods carry a finalizer of their own besides the Job's, so a deleted pod
/// stays terminating until the test clears it.
pub fn held_template() -> Value {
    json!({"metadata": {"finalizers": ["example.com/hold"]},
        "spec": {"restartPolicy": "Never",
        "containers": [{"name": "main", "image": "busybox"}]}})
}

pub fn ann<'a>(p: &'a Pod, k: &str) -> Option<&'a str> {
    p.metadata.annotations.as_ref()?.get(k).map(String::as_str)
}

pub fn label<'a>(p: &'a Pod, k: &str) -> Option<&'a str> {
    p.metadata.labels.as_ref()?.get(k).map(String::as_str)
}

pub fn index_of(p: &Pod) -> Option<i64> {
    ann(p, "batch.kubernetes.io/job-completion-index")?
        .parse()
        .ok()
}

pub fn status(j: &Job) -> k8s_openapi::api::batch::v1::JobStatus {
    j.status.clone().unwrap_or_default()
}

pub fn controller_uid(p: &Pod) -> Option<String> {
    p.metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
        .map(|r| r.uid.clone())
}

pub fn has_finalizer(p: &Pod, f: &str) -> bool {
    p.metadata.finalizers.iter().flatten().any(|x| x == f)
}

pub const TRACKING: &str = "batch.kubernetes.io/job-tracking";

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
