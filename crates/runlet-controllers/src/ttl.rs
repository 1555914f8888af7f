//! The TTL-after-finished controller (upstream `pkg/controller/ttlafterfinished`).
//!
//! A Job with `spec.ttlSecondsAfterFinished` whose `Complete` or `Failed` condition is true is
//! deleted, with Foreground propagation and a uid precondition, once the condition's
//! `lastTransitionTime` plus the TTL has passed on the [`Clock`]. Until then the Job is requeued
//! for the exact expiry instant. The field may be set after the Job finished: the update event
//! queues it like any other. Before deleting, the Job is re-read live (the cached copy may be
//! stale: a TTL raised in the meantime must win), as upstream does.

use crate::clockqueue::WorkQueue;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use kube::Client;
use kube::api::{Api, DeleteParams, Preconditions, PropagationPolicy};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use runlet_api::clock::Clock;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Errors of one reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("api call failed: {0}")]
    Kube(#[from] kube::Error),
    /// The Job is finished but its finishing condition has no time (upstream:
    /// "unable to find the time when the Job %s/%s finished").
    #[error("unable to find the time when the Job {0} finished")]
    NoFinishTime(String),
}

/// What to do with a Job after reconciling it (kube-runtime's `Action`, with the requeue as a
/// clock instant so the expiry is exact under a fake clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing until the Job changes.
    AwaitChange,
    /// Reconcile again once the clock reads this many milliseconds since the epoch.
    RequeueAt(i64),
    /// Retry after an error, after a real-time delay.
    RetryAfter(Duration),
}

/// What a reconcile needs.
pub struct Context {
    pub client: Client,
    pub clock: Arc<dyn Clock>,
}

/// `needsCleanup`: a TTL is set and the Job has finished.
pub fn needs_cleanup(job: &Job) -> bool {
    job.spec
        .as_ref()
        .is_some_and(|s| s.ttl_seconds_after_finished.is_some())
        && finished_condition(job).is_some()
}

fn finished_condition(job: &Job) -> Option<&k8s_openapi::api::batch::v1::JobCondition> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
}

fn job_name(job: &Job) -> String {
    format!(
        "{}/{}",
        job.metadata.namespace.as_deref().unwrap_or_default(),
        job.metadata.name.as_deref().unwrap_or_default()
    )
}

/// `getFinishAndExpireTime`: the instant (ms since the epoch) the Job expires; `None` when it
/// does not need cleanup.
pub fn expire_at_millis(job: &Job) -> Result<Option<i64>, Error> {
    let Some(ttl) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) else {
        return Ok(None);
    };
    let Some(cond) = finished_condition(job) else {
        return Ok(None);
    };
    let finish = cond
        .last_transition_time
        .as_ref()
        .map(|t| t.0.as_millisecond())
        .filter(|ms| *ms != 0)
        .ok_or_else(|| Error::NoFinishTime(job_name(job)))?;
    Ok(Some(
        finish.saturating_add(i64::from(ttl).saturating_mul(1000)),
    ))
}

/// `processTTL`: `Ok(())` when the TTL has expired, else what to do instead.
fn process_ttl(job: &Job, now: i64) -> Result<Result<(), Action>, Error> {
    if job.metadata.deletion_timestamp.is_some() {
        return Ok(Err(Action::AwaitChange));
    }
    let Some(expire) = expire_at_millis(job)? else {
        return Ok(Err(Action::AwaitChange));
    };
    if expire > now {
        return Ok(Err(Action::RequeueAt(expire)));
    }
    Ok(Ok(()))
}

/// `processJob`: deletes the Job once its TTL has expired, else says when to look again.
pub async fn reconcile(job: Arc<Job>, ctx: &Context) -> Result<Action, Error> {
    if let Err(action) = process_ttl(&job, ctx.clock.now_millis())? {
        return Ok(action);
    }
    // The cached Job may be stale: re-read it and check again before deleting.
    let (Some(ns), Some(name)) = (
        job.metadata.namespace.as_deref(),
        job.metadata.name.as_deref(),
    ) else {
        return Ok(Action::AwaitChange);
    };
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), ns);
    let Some(fresh) = api.get_opt(name).await? else {
        return Ok(Action::AwaitChange);
    };
    if fresh.metadata.uid != job.metadata.uid {
        return Ok(Action::AwaitChange);
    }
    if let Err(action) = process_ttl(&fresh, ctx.clock.now_millis())? {
        return Ok(action);
    }
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        preconditions: Some(Preconditions {
            uid: fresh.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    tracing::info!(job = %job_name(&fresh), "cleaning up finished job after its TTL");
    match api.delete(name, &dp).await {
        Ok(_) => Ok(Action::AwaitChange),
        Err(kube::Error::Api(s)) if s.is_not_found() || s.is_conflict() => Ok(Action::AwaitChange),
        Err(e) => Err(e.into()),
    }
}

/// Retries after a failed reconcile (the queue's rate limiter sets the actual delay).
pub fn error_policy(job: &Job, error: &Error) -> Action {
    tracing::warn!(job = %job_name(job), %error, "ttl-after-finished reconcile failed");
    Action::RetryAfter(Duration::from_millis(5))
}

type Key = ObjectRef<Job>;

/// Runs the controller until `shutdown`; its tasks have stopped when this returns.
pub async fn run(
    client: Client,
    clock: Arc<dyn Clock>,
    workers: usize,
    shutdown: CancellationToken,
) {
    let queue = Arc::new(WorkQueue::<Key>::new(clock.clone()));
    let (store, writer) = reflector::store::<Job>();
    let ctx = Arc::new(Context {
        client: client.clone(),
        clock,
    });
    let mut tasks = JoinSet::new();
    tasks.spawn(watch_jobs(client, writer, queue.clone(), shutdown.clone()));
    for _ in 0..workers.max(1) {
        tasks.spawn(work(
            store.clone(),
            queue.clone(),
            ctx.clone(),
            shutdown.clone(),
        ));
    }
    shutdown.cancelled().await;
    while tasks.join_next().await.is_some() {}
}

/// Feeds the cache and queues Jobs that need cleanup (upstream `addJob` / `updateJob`).
async fn watch_jobs(
    client: Client,
    writer: reflector::store::Writer<Job>,
    queue: Arc<WorkQueue<Key>>,
    shutdown: CancellationToken,
) {
    let api: Api<Job> = Api::all(client);
    let stream = reflector::reflector(writer, watcher::watcher(api, watcher::Config::default()))
        .default_backoff();
    futures::pin_mut!(stream);
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return,
            n = stream.next() => n,
        };
        match next {
            None => return,
            Some(Err(e)) => tracing::debug!(error = %e, "ttl-after-finished watch failed"),
            Some(Ok(Event::Apply(job) | Event::InitApply(job))) => {
                if job.metadata.deletion_timestamp.is_none() && needs_cleanup(&job) {
                    queue.add(ObjectRef::from_obj(&job));
                }
            }
            Some(Ok(_)) => {}
        }
    }
}

async fn work(
    store: Store<Job>,
    queue: Arc<WorkQueue<Key>>,
    ctx: Arc<Context>,
    shutdown: CancellationToken,
) {
    while let Some(key) = queue.get(&shutdown).await {
        if let Some(job) = store.get(&key) {
            let action = match reconcile(job.clone(), &ctx).await {
                Ok(a) => {
                    queue.forget(&key);
                    a
                }
                Err(e) => error_policy(&job, &e),
            };
            match action {
                Action::AwaitChange => {}
                Action::RequeueAt(at) => queue.add_at(key.clone(), at),
                Action::RetryAfter(_) => queue.add_rate_limited(key.clone()),
            }
        }
        queue.done(&key);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use kube::api::{Patch, PatchParams, PostParams};
    use runlet_test::{EPOCH, TestApi};
    use serde_json::json;

    fn job_json(name: &str, ttl: Option<i32>) -> Job {
        let mut spec = json!({"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox"}]}}});
        if let Some(t) = ttl {
            spec["ttlSecondsAfterFinished"] = json!(t);
        }
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
    }

    /// Creates a Job and marks it finished (`Complete` or `Failed`) at `finished_at`.
    async fn finished_job(api: &TestApi, name: &str, ttl: Option<i32>, complete: bool) -> Job {
        let jobs: Api<Job> = Api::default_namespaced(api.client.clone());
        jobs.create(&PostParams::default(), &job_json(name, ttl))
            .await
            .unwrap();
        let at = runlet_api::clock::rfc3339(api.clock.now_unix());
        let status = if complete {
            json!({"status": {"startTime": at, "completionTime": at, "succeeded": 1,
                "conditions": [
                    {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": at, "lastProbeTime": at},
                    {"type": "Complete", "status": "True", "lastTransitionTime": at, "lastProbeTime": at}]}})
        } else {
            json!({"status": {"startTime": at, "failed": 1,
                "conditions": [
                    {"type": "FailureTarget", "status": "True", "lastTransitionTime": at, "lastProbeTime": at},
                    {"type": "Failed", "status": "True", "lastTransitionTime": at, "lastProbeTime": at}]}})
        };
        jobs.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap()
    }

    fn ctx(api: &TestApi) -> Context {
        Context {
            client: api.client.clone(),
            clock: api.clock.clone(),
        }
    }

    async fn deleting(api: &TestApi, name: &str) -> bool {
        let jobs: Api<Job> = Api::default_namespaced(api.client.clone());
        match jobs.get_opt(name).await.unwrap() {
            None => true,
            Some(j) => j.metadata.deletion_timestamp.is_some(),
        }
    }

    #[tokio::test]
    async fn job_is_kept_until_the_exact_expiry_then_deleted_in_the_foreground() {
        // Upstream `timeLeft`: remaining = finishTime + ttl - now; deleted when remaining <= 0,
        // with Foreground propagation and a uid precondition.
        let api = TestApi::start().await;
        let job = Arc::new(finished_job(&api, "done", Some(10), true).await);
        let ctx = ctx(&api);
        let expiry = (EPOCH + 10) * 1000;
        api.clock.advance_millis(9_999);
        assert_eq!(
            reconcile(job.clone(), &ctx).await.unwrap(),
            Action::RequeueAt(expiry),
            "requeued for the exact expiry"
        );
        assert!(!deleting(&api, "done").await);
        api.clock.advance_millis(1);
        assert_eq!(reconcile(job, &ctx).await.unwrap(), Action::AwaitChange);
        let jobs: Api<Job> = Api::default_namespaced(api.client.clone());
        let j = jobs.get("done").await.unwrap();
        assert!(j.metadata.deletion_timestamp.is_some());
        assert_eq!(
            j.metadata.finalizers,
            Some(vec!["foregroundDeletion".to_string()]),
            "Foreground propagation, as upstream"
        );
    }

    #[tokio::test]
    async fn failed_jobs_expire_too_and_unfinished_or_ttl_less_jobs_are_left_alone() {
        // Upstream `needsCleanup`: TTL set and a Complete or Failed condition true.
        let api = TestApi::start().await;
        let failed = Arc::new(finished_job(&api, "failed", Some(0), false).await);
        let no_ttl = Arc::new(finished_job(&api, "no-ttl", None, true).await);
        let jobs: Api<Job> = Api::default_namespaced(api.client.clone());
        let running = Arc::new(
            jobs.create(&PostParams::default(), &job_json("running", Some(0)))
                .await
                .unwrap(),
        );
        let ctx = ctx(&api);
        assert!(!needs_cleanup(&no_ttl) && !needs_cleanup(&running));
        assert_eq!(reconcile(no_ttl, &ctx).await.unwrap(), Action::AwaitChange);
        assert_eq!(reconcile(running, &ctx).await.unwrap(), Action::AwaitChange);
        assert_eq!(reconcile(failed, &ctx).await.unwrap(), Action::AwaitChange);
        assert!(deleting(&api, "failed").await, "ttl 0 deletes at once");
        assert!(!deleting(&api, "no-ttl").await && !deleting(&api, "running").await);
    }

    #[tokio::test]
    async fn a_stale_cached_job_is_rechecked_live_before_deletion() {
        // Upstream: "The Job's TTL is assumed to have expired, but the Job TTL might be stale.
        // Before deleting the Job, do a final sanity check."
        let api = TestApi::start().await;
        let stale = Arc::new(finished_job(&api, "j", Some(5), true).await);
        let jobs: Api<Job> = Api::default_namespaced(api.client.clone());
        jobs.patch(
            "j",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"ttlSecondsAfterFinished": 100}})),
        )
        .await
        .unwrap();
        api.clock.advance_millis(5_000);
        assert_eq!(
            reconcile(stale, &ctx(&api)).await.unwrap(),
            Action::RequeueAt((EPOCH + 100) * 1000)
        );
        assert!(!deleting(&api, "j").await);
    }

    async fn eventually_deleting(api: &TestApi, name: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !deleting(api, name).await {
            assert!(tokio::time::Instant::now() < deadline, "{name} not deleted");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn running_controller_deletes_at_expiry_and_when_the_ttl_is_set_after_finishing() {
        // Upstream `updateJob` queues a Job whose TTL is added after it finished; the queue
        // delays it to the expiry on the controller's clock.
        let api = TestApi::start().await;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(
            api.client.clone(),
            api.clock.clone(),
            2,
            shutdown.clone(),
        ));
        finished_job(&api, "timed", Some(30), true).await;
        finished_job(&api, "late", None, true).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!deleting(&api, "timed").await, "not before its expiry");

        api.clock.advance_millis(20_000);
        let jobs: Api<Job> = Api::default_namespaced(api.client.clone());
        jobs.patch(
            "late",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"ttlSecondsAfterFinished": 10}})),
        )
        .await
        .unwrap();
        eventually_deleting(&api, "late").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!deleting(&api, "timed").await, "10 s before its expiry");

        api.clock.advance_millis(10_000);
        eventually_deleting(&api, "timed").await;
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .unwrap()
            .unwrap();
    }
}
