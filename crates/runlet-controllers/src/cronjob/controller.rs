//! The CronJob controller's driver: a delay queue keyed on clock time, the watches that feed it,
//! and the loop that reconciles what is due. See the module docs of [`super`] for the design.

use super::Error;
use super::events::Recorder;
use super::queue::{DelayQueue, ObjectKey};
use super::sync::{Action, Context};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::api::{Api, ListParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, watcher};
use runlet_api::clock::Clock;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Reconciles running at once in [`CronJobController::run`].
const MAX_CONCURRENT: usize = 8;
/// The longest the loop sleeps without re-reading the clock. Not a polling interval (nothing is
/// done unless something is due); it bounds how late a wake-up can be after the wall clock jumps
/// (suspend/resume, a clock step), which tokio's monotonic timer cannot see.
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// Error backoff: upstream's workqueue default, 5 ms doubling up to 1000 s, per CronJob.
const BACKOFF_BASE_MS: i64 = 5;
const BACKOFF_MAX_MS: i64 = 1_000_000;

/// The CronJob controller. Build one with [`CronJobController::new`] and drive it with
/// [`run`](Self::run), or, in tests, with [`sync_all`](Self::sync_all) and
/// [`run_due`](Self::run_due).
pub struct CronJobController {
    ctx: Context,
    queue: Mutex<DelayQueue>,
    failures: Mutex<HashMap<ObjectKey, u32>>,
    wake: Notify,
}

impl CronJobController {
    /// A controller talking to the API through `client`, reading time only from `clock`.
    pub fn new(client: kube::Client, clock: Arc<dyn Clock>) -> Self {
        CronJobController {
            ctx: Context {
                recorder: Recorder::new(client.clone(), clock.clone()),
                client,
                clock,
                accounted_until: Mutex::default(),
                seen_suspended: Mutex::default(),
            },
            queue: Mutex::new(DelayQueue::default()),
            failures: Mutex::new(HashMap::new()),
            wake: Notify::new(),
        }
    }

    fn now_millis(&self) -> i64 {
        self.ctx.clock.now_millis()
    }

    fn with_queue<T>(&self, f: impl FnOnce(&mut DelayQueue) -> T) -> T {
        let mut q = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut q)
    }

    /// Makes a running [`run`](Self::run) loop re-read the clock now. Production never needs
    /// this; a test that moves a fake clock calls it instead of waiting for a timer.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Queues `key` for a reconcile now.
    pub fn enqueue(&self, key: ObjectKey) {
        let now = self.now_millis();
        self.with_queue(|q| q.add_at(key, now));
        self.wake.notify_one();
    }

    /// Queues `cj` for a reconcile after a change: now, unless its schedule or time zone
    /// changed, which upstream's `updateCronJob` answers with a reconcile at the new schedule's
    /// next time (a reconcile now would start the new schedule's latest past time, late).
    fn enqueue_changed(&self, cj: &CronJob, key: ObjectKey, schedule_changed: bool) {
        let now = self.now_millis();
        let next_slot = schedule_changed
            .then(|| runlet_api::cronjob::schedule(cj).ok())
            .flatten()
            .and_then(|sched| {
                let now = DateTime::from_timestamp_millis(now)?;
                runlet_api::cronjob::next_wake(cj, now, &sched)
            });
        match next_slot {
            Some(at) => {
                self.with_queue(|q| q.add_at(key, at.timestamp_millis()));
                self.wake.notify_one();
            }
            None => self.enqueue(key),
        }
    }

    /// When the controller will next look at `key`, if it is queued.
    pub fn due_of(&self, key: &ObjectKey) -> Option<DateTime<Utc>> {
        self.with_queue(|q| q.due_of(key))
            .and_then(DateTime::from_timestamp_millis)
    }

    /// The earliest instant anything is queued for.
    pub fn next_wake(&self) -> Option<DateTime<Utc>> {
        self.with_queue(|q| q.next_due())
            .and_then(DateTime::from_timestamp_millis)
    }

    /// Reconciles one CronJob now, outside the queue, and returns what it asked for.
    pub async fn reconcile(&self, key: &ObjectKey) -> Result<Action, Error> {
        self.ctx.reconcile(key).await
    }

    async fn reconcile_key(&self, key: ObjectKey) -> (ObjectKey, Result<Action, Error>) {
        let result = self.ctx.reconcile(&key).await;
        (key, result)
    }

    /// Applies a reconcile's outcome to the queue: requeue at the asked instant, or, on error,
    /// after a per-CronJob exponential backoff (the error policy).
    fn handle_result(&self, key: ObjectKey, result: Result<Action, Error>) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match result {
            Ok(Action::RequeueAt(at)) => {
                failures.remove(&key);
                let at = at.timestamp_millis();
                self.with_queue(|q| q.add_at(key, at));
            }
            Ok(Action::AwaitChange) => {
                failures.remove(&key);
            }
            Err(e) => {
                let n = failures.entry(key.clone()).or_insert(0);
                let delay = BACKOFF_BASE_MS
                    .saturating_mul(1i64 << (*n).min(30))
                    .min(BACKOFF_MAX_MS);
                *n = n.saturating_add(1);
                tracing::warn!(cronjob = %key, error = %e, retry_ms = delay, "error syncing cronjob, requeuing");
                let at = self.now_millis().saturating_add(delay);
                self.with_queue(|q| q.add_at(key, at));
            }
        }
    }

    /// Reconciles, one after another, every queued CronJob that is due by the clock, until none
    /// is; returns how many reconciles ran. Deterministic: when it returns, every write the due
    /// work made is in the API.
    pub async fn run_due(&self) -> usize {
        let mut count = 0;
        loop {
            let now = self.now_millis();
            let keys = self.with_queue(|q| q.pop_due(now, usize::MAX));
            if keys.is_empty() {
                return count;
            }
            for key in keys {
                let (key, result) = self.reconcile_key(key).await;
                self.handle_result(key, result);
                count += 1;
            }
        }
    }

    /// Queues every CronJob for now and runs what is due: what `run` does when it starts, and
    /// what a test does after changing Jobs or CronJobs behind the controller's back.
    pub async fn sync_all(&self) -> Result<usize, Error> {
        let api: Api<CronJob> = Api::all(self.ctx.client.clone());
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(|e| Error::api("list cronjobs", e))?;
        let now = self.now_millis();
        for cj in list.items {
            if let (Some(ns), Some(name)) = (cj.metadata.namespace, cj.metadata.name) {
                self.with_queue(|q| q.add_at(ObjectKey::new(ns, name), now));
            }
        }
        Ok(self.run_due().await)
    }

    /// Runs the controller until `shutdown` completes: watches CronJobs (each change queues it
    /// now) and Jobs (a change queues the CronJob that controls it), and reconciles each
    /// CronJob when it is due, at most [`MAX_CONCURRENT`] at once and never one CronJob twice
    /// at once. A restart needs no saved state: the initial watch lists every CronJob, and its
    /// reconcile resumes from `status.lastScheduleTime`.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let client = self.ctx.client.clone();
        let cronjobs = watcher(
            Api::<CronJob>::all(client.clone()),
            watcher::Config::default(),
        )
        .default_backoff()
        .touched_objects();
        let jobs = watcher(Api::<Job>::all(client), watcher::Config::default())
            .default_backoff()
            .touched_objects();
        let mut cronjobs = std::pin::pin!(cronjobs);
        let mut jobs = std::pin::pin!(jobs);
        let mut shutdown = std::pin::pin!(shutdown);
        let mut inflight = FuturesUnordered::new();
        let mut busy: HashSet<ObjectKey> = HashSet::new();
        let mut dirty: HashSet<ObjectKey> = HashSet::new();
        // Each CronJob's schedule and time zone as last seen, to tell a schedule change.
        let mut schedules: HashMap<ObjectKey, (String, Option<String>)> = HashMap::new();
        tracing::info!("starting cronjob controller");
        loop {
            let now = self.now_millis();
            let room = MAX_CONCURRENT.saturating_sub(inflight.len());
            for key in self.with_queue(|q| q.pop_due(now, room)) {
                if busy.contains(&key) {
                    dirty.insert(key);
                } else {
                    busy.insert(key.clone());
                    inflight.push(self.reconcile_key(key));
                }
            }
            let sleep = match self.with_queue(|q| q.next_due()) {
                Some(due) if inflight.len() < MAX_CONCURRENT => {
                    let ms = u64::try_from(due.saturating_sub(now)).unwrap_or(0);
                    Duration::from_millis(ms).min(MAX_SLEEP)
                }
                _ => MAX_SLEEP,
            };
            tokio::select! {
                () = &mut shutdown => {
                    tracing::info!("cronjob controller stopped");
                    return Ok(());
                }
                Some((key, result)) = inflight.next(), if !inflight.is_empty() => {
                    busy.remove(&key);
                    self.handle_result(key.clone(), result);
                    if dirty.remove(&key) {
                        self.enqueue(key);
                    }
                }
                event = cronjobs.next() => match event {
                    Some(Ok(cj)) => {
                        if let (Some(ns), Some(name)) = (&cj.metadata.namespace, &cj.metadata.name) {
                            let key = ObjectKey::new(ns.clone(), name.clone());
                            let seen = cj.spec.as_ref().map(|s| (s.schedule.clone(), s.time_zone.clone())).unwrap_or_default();
                            let changed = schedules
                                .insert(key.clone(), seen.clone())
                                .is_some_and(|before| before != seen);
                            self.enqueue_changed(&cj, key, changed);
                        }
                    }
                    Some(Err(e)) => tracing::warn!(error = %e, "cronjob watch failed; retrying"),
                    None => return Err(Error::WatchEnded("cronjobs")),
                },
                event = jobs.next() => match event {
                    Some(Ok(job)) => {
                        let owner = job
                            .metadata
                            .owner_references
                            .iter()
                            .flatten()
                            .find(|r| r.controller == Some(true) && r.kind == "CronJob");
                        if let (Some(ns), Some(owner)) = (&job.metadata.namespace, owner) {
                            self.enqueue(ObjectKey::new(ns.clone(), owner.name.clone()));
                        }
                    }
                    Some(Err(e)) => tracing::warn!(error = %e, "job watch failed; retrying"),
                    None => return Err(Error::WatchEnded("jobs")),
                },
                () = self.wake.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }
}
