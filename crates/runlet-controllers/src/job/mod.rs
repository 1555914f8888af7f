//! The Job controller: upstream `pkg/controller/job` semantics over the `kube` client.
//!
//! Shape: two informers ([`informer`]) keep Jobs and Pods in memory and enqueue Job keys on a
//! rate-limited, delaying [`queue::WorkQueue`]; workers call [`sync::reconcile`] for one key at
//! a time per key. Expectations ([`expectations`]) stop a Job from being managed while its own
//! pod creations/deletions are not yet observed, which keeps active pods at or below
//! `parallelism`. Each sync first claims its pods ([`claim`]): matching orphans are adopted,
//! owned pods that no longer match the selector released. Pods carry the
//! `batch.kubernetes.io/job-tracking` finalizer until their end is recorded in
//! `status.uncountedTerminatedPods` and folded into the counters, so no success or failure is
//! ever lost, even across restarts. Events go through a non-blocking
//! [`events::Recorder`].
//!
//! Time comes only from the [`Clock`]: backoff, active deadlines and error retries are queue
//! delays on that clock, so tests move a `FakeClock` and call [`Handle::wake_timers`].
//!
//! Deviations from upstream, each for throughput: there is no 1 s `syncJobBatchPeriod`
//! (adds collapse while a key is queued, which gives the same batching without idling); a Job's
//! own status write is put back into the cache so the next sync does not conflict; a sync
//! creates its new pods concurrently with writing the status and removing finalizers (the
//! status counts them as active; failed creations are corrected right after); the slow-start
//! batch size carries over between syncs of a Job while creations succeed; and every batch of
//! API calls runs as separate tasks ([`join_spawned`]) so in-process requests use every core.

mod backoff;
mod claim;
mod events;
mod expectations;
pub mod indexed;
mod informer;
mod manage;
mod pods;
pub mod policy;
pub mod queue;
mod sync;
mod tracking;

pub use pods::JOB_TRACKING_FINALIZER;

use crate::podfeed::PodSource;
use backoff::BackoffStore;
use events::Recorder;
use expectations::{Expectations, FinalizerExpectations};
use informer::Cache;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use queue::WorkQueue;
use runlet_api::clock::Clock;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Errors of the Job controller.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// A queue key was not `namespace/name`.
    #[error("invalid job key {0:?}: either namespace or name is missing")]
    InvalidKey(String),
    /// Some of a sync's pod creations, deletions or finalizer removals failed.
    #[error("{failed} pod operation(s) failed for job {job}: {first}")]
    PodOperations {
        job: String,
        failed: usize,
        first: String,
    },
    /// The Job's selector cannot be parsed (upstream "couldn't convert Job selector").
    #[error("couldn't convert Job selector of {0}: {1}")]
    Selector(String, String),
    /// A background task of the controller panicked.
    #[error("job controller task failed: {0}")]
    Task(String),
}

/// Tunables.
#[derive(Debug, Clone)]
pub struct Config {
    /// Concurrent Job syncs (upstream `--concurrent-job-syncs`, default 5).
    pub workers: usize,
    /// Longest real-time interval between two reads of the clock by the delay timers. With the
    /// system clock this only bounds reaction to clock jumps; with a fake clock it is how soon
    /// a moved clock is noticed without [`Handle::wake_timers`].
    pub clock_poll: Duration,
    /// Maximum pods created or deleted in one sync (upstream `MaxPodCreateDeletePerSync`).
    pub max_pod_create_delete_per_sync: usize,
    /// Maximum UIDs in `status.uncountedTerminatedPods` (upstream `MaxUncountedPods`).
    pub max_uncounted_pods: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            workers: 5,
            clock_poll: Duration::from_secs(1),
            max_pod_create_delete_per_sync: 500,
            max_uncounted_pods: 500,
        }
    }
}

/// Everything a sync needs, shared by the workers and the informers.
pub(crate) struct Context {
    client: kube::Client,
    clock: Arc<dyn Clock>,
    cache: Cache,
    queue: WorkQueue,
    orphan_queue: WorkQueue,
    expectations: Expectations,
    finalizer_expectations: FinalizerExpectations,
    backoff: BackoffStore,
    slow_start: manage::SlowStart,
    recorder: Recorder,
    config: Config,
    jobs_synced: watch::Sender<bool>,
    pods_synced: watch::Sender<bool>,
}

/// `namespace/name` of a Job.
pub(crate) fn job_key(job: &Job) -> String {
    format!(
        "{}/{}",
        job.metadata.namespace.as_deref().unwrap_or_default(),
        job.metadata.name.as_deref().unwrap_or_default()
    )
}

/// The Job controller; [`JobController::run`] drives it until shutdown.
pub struct JobController {
    ctx: Arc<Context>,
    event_writer: std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
    pods: PodSource,
}

/// A cheap handle for poking a running controller (tests, diagnostics).
#[derive(Clone)]
pub struct Handle {
    ctx: Arc<Context>,
}

impl Handle {
    /// Makes the delay timers re-read the clock now: call after moving a fake clock.
    pub fn wake_timers(&self) {
        self.ctx.queue.wake_timers();
        self.ctx.orphan_queue.wake_timers();
    }

    /// Queues a sync of the Job `namespace/name`.
    pub fn enqueue(&self, key: &str) {
        self.ctx.queue.add(key);
    }
}

impl JobController {
    pub fn new(client: kube::Client, clock: Arc<dyn Clock>, config: Config) -> JobController {
        let (recorder, writer) = Recorder::new(client.clone(), clock.clone());
        let pods = PodSource::Watch(client.clone());
        let ctx = Arc::new(Context {
            client,
            cache: Cache::default(),
            queue: WorkQueue::new(clock.clone()),
            orphan_queue: WorkQueue::new(clock.clone()),
            expectations: Expectations::default(),
            finalizer_expectations: FinalizerExpectations::default(),
            backoff: BackoffStore::default(),
            slow_start: manage::SlowStart::default(),
            recorder,
            config,
            jobs_synced: watch::channel(false).0,
            pods_synced: watch::channel(false).0,
            clock,
        });
        JobController {
            ctx,
            event_writer: Box::pin(writer),
            pods,
        }
    }

    /// Takes pods from `pods` (a subscription to the controllers' shared pod watch) instead of
    /// a watch of its own.
    pub fn with_pods(mut self, pods: PodSource) -> JobController {
        self.pods = pods;
        self
    }

    pub fn handle(&self) -> Handle {
        Handle {
            ctx: self.ctx.clone(),
        }
    }

    /// Runs informers, timers, the event writer and the workers until `shutdown` completes;
    /// then stops every task it started.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let ctx = self.ctx;
        let mut tasks = JoinSet::new();
        tasks.spawn(self.event_writer);
        tasks.spawn(informer::watch_jobs(ctx.clone()));
        tasks.spawn(informer::watch_pods(ctx.clone(), self.pods));
        {
            let c = ctx.clone();
            tasks.spawn(async move { c.queue.run_timers(c.config.clock_poll).await });
            let c = ctx.clone();
            tasks.spawn(async move { c.orphan_queue.run_timers(c.config.clock_poll).await });
        }
        let mut workers = JoinSet::new();
        let start_workers = {
            let ctx = ctx.clone();
            async move {
                let mut j = ctx.jobs_synced.subscribe();
                let mut p = ctx.pods_synced.subscribe();
                let _ = j.wait_for(|s| *s).await;
                let _ = p.wait_for(|s| *s).await;
            }
        };
        tokio::pin!(shutdown);
        tokio::select! {
            _ = &mut shutdown => {}
            _ = start_workers => {
                tracing::info!("job controller caches synced, starting workers");
                for _ in 0..ctx.config.workers.max(1) {
                    workers.spawn(worker(ctx.clone()));
                }
                workers.spawn(orphan_worker(ctx.clone()));
                shutdown.await;
            }
        }
        ctx.queue.shut_down();
        ctx.orphan_queue.shut_down();
        let mut result = Ok(());
        while let Some(r) = workers.join_next().await {
            if let Err(e) = r {
                result = Err(Error::Task(e.to_string()));
            }
        }
        tasks.shutdown().await;
        result
    }
}

async fn worker(ctx: Arc<Context>) {
    while let Some(key) = ctx.queue.get().await {
        let started = std::time::Instant::now();
        let result = sync::sync_job(&ctx, &key).await;
        // Upstream's "Finished syncing job" with its duration.
        tracing::debug!(job = %key, elapsed = ?started.elapsed(), "finished syncing job");
        match result {
            Ok(requeue_after) => {
                ctx.queue.forget(&key);
                if let Some(ms) = requeue_after {
                    ctx.queue.add_after(&key, ms);
                }
            }
            Err(e) => {
                tracing::warn!(job = %key, error = %e, "syncing job failed");
                sync::error_policy(&ctx, &key, &e);
            }
        }
        ctx.queue.done(&key);
    }
}

async fn orphan_worker(ctx: Arc<Context>) {
    while let Some(key) = ctx.orphan_queue.get().await {
        match sync_orphan_pod(&ctx, &key).await {
            Ok(()) => ctx.orphan_queue.forget(&key),
            Err(e) => {
                tracing::warn!(pod = %key, error = %e, "removing finalizer of orphan pod failed");
                ctx.orphan_queue.add_rate_limited(&key);
            }
        }
        ctx.orphan_queue.done(&key);
    }
}

/// The strategic merge patch that removes the tracking finalizer (upstream
/// `removeTrackingFinalizerPatch`).
pub(crate) fn remove_finalizer_patch() -> Patch<serde_json::Value> {
    Patch::Strategic(serde_json::json!({
        "metadata": {"$deleteFromPrimitiveList/finalizers": [JOB_TRACKING_FINALIZER]}
    }))
}

/// Runs each future as its own task and returns their outputs in order (a panicked task as its
/// message). In-process API calls run their handler in the calling task, so a batch awaited
/// with `join_all` would decode, validate and encode every request on one core; spawned, the
/// batch spreads over all of them. Dropping the returned future aborts the tasks.
pub(crate) async fn join_spawned<F>(
    futs: impl IntoIterator<Item = F>,
) -> Vec<Result<F::Output, String>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    struct AbortAll<T>(Vec<tokio::task::JoinHandle<T>>);
    impl<T> Drop for AbortAll<T> {
        fn drop(&mut self) {
            for h in &self.0 {
                h.abort();
            }
        }
    }
    let mut handles = AbortAll(futs.into_iter().map(tokio::spawn).collect());
    let mut out = Vec::with_capacity(handles.0.len());
    for h in handles.0.iter_mut() {
        out.push(h.await.map_err(|e| e.to_string()));
    }
    out
}

pub(crate) fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// Removes the tracking finalizer from a pod whose Job is gone or finished (upstream
/// `syncOrphanPod`).
async fn sync_orphan_pod(ctx: &Context, key: &str) -> Result<(), Error> {
    let Some(pod) = ctx.cache.pod(key) else {
        return Ok(());
    };
    if let Some(r) = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
    {
        if r.kind != "Job" || r.api_version != "batch/v1" {
            return Ok(());
        }
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        if let Some(job) = ctx.cache.job(&format!("{ns}/{}", r.name))
            && job.metadata.uid.as_deref() == Some(r.uid.as_str())
            && !sync::is_finished(&job)
        {
            return Ok(());
        }
    }
    if !pods::has_tracking_finalizer(&pod) {
        return Ok(());
    }
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    match api
        .patch(
            pods::name(&pod),
            &PatchParams::default(),
            &remove_finalizer_patch(),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
