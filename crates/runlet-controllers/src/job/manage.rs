//! Creating and deleting a Job's pods (upstream `manageJob`, `deleteJobPods`,
//! `deleteActivePods`, `activePodsForRemoval`). Every batch of API calls runs concurrently;
//! creations go in slow-start batches (1, 2, 4, ...) so a failing create stops early.

use super::backoff;
use super::indexed;
use super::sync::{self, SyncCtx, completions, has_backoff_limit_per_index, is_indexed, spec};
use super::{Context, Error, is_not_found, pods, remove_finalizer_patch};
use futures::future::join_all;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};
use runlet_api::eventtype::EventType;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

fn pods_api(c: &Context, job: &Job) -> Api<Pod> {
    Api::namespaced(
        c.client.clone(),
        job.metadata.namespace.as_deref().unwrap_or("default"),
    )
}

fn first_error(job: &Job, errors: Vec<String>) -> Option<Error> {
    let failed = errors.len();
    errors.into_iter().next().map(|first| Error::PodOperations {
        job: super::job_key(job),
        failed,
        first,
    })
}

/// Upstream `activePodsForRemoval`: duplicated / out-of-range / index-less pods of an Indexed
/// Job first, then the cheapest pods in [`pods::deletion_order`] until `rm_at_least`.
pub(super) fn active_pods_for_removal(
    job: &Job,
    active: &[Arc<Pod>],
    rm_at_least: usize,
) -> Vec<Arc<Pod>> {
    let mut rm: Vec<Arc<Pod>> = Vec::new();
    let mut left: Vec<Arc<Pod>> = Vec::new();
    if is_indexed(job) {
        let comps = i64::from(completions(job).unwrap_or(0));
        let mut sorted: Vec<Arc<Pod>> = active.to_vec();
        sorted.sort_by_key(|p| indexed::completion_index(p).unwrap_or(-1));
        let mut i = 0;
        while i < sorted.len() {
            let ix = indexed::completion_index(&sorted[i]);
            let mut j = i + 1;
            while j < sorted.len() && indexed::completion_index(&sorted[j]) == ix {
                j += 1;
            }
            let group = &sorted[i..j];
            match ix {
                None => rm.extend(group.iter().cloned()),
                Some(ix) if ix >= comps => rm.extend(group.iter().cloned()),
                Some(_) if group.len() == 1 => left.push(group[0].clone()),
                Some(_) => {
                    let mut g = group.to_vec();
                    g.sort_by(|a, b| pods::deletion_order(a, b));
                    if let Some(keep) = g.pop() {
                        left.push(keep);
                    }
                    rm.extend(g);
                }
            }
            i = j;
        }
    } else {
        left = active.to_vec();
    }
    if rm.len() < rm_at_least {
        left.sort_by(|a, b| pods::deletion_order(a, b));
        let need = (rm_at_least - rm.len()).min(left.len());
        rm.extend(left.into_iter().take(need));
    }
    rm
}

/// Deletes pods for scale-down or suspend after removing their finalizer, so they do not count
/// as failed. Returns (ready deleted, deleted, error).
async fn delete_job_pods(
    c: &Context,
    ctx: &SyncCtx,
    to_delete: &[Arc<Pod>],
) -> (i32, i32, Option<Error>) {
    let api = pods_api(c, &ctx.job);
    let results = join_all(to_delete.iter().map(|p| {
        let api = api.clone();
        async move {
            let name = pods::name(p);
            if pods::has_tracking_finalizer(p)
                && let Err(e) = runlet_client::patch_pod(
                    &c.client,
                    pods::namespace(p),
                    name,
                    &remove_finalizer_patch(),
                )
                .await
            {
                return Err(e);
            }
            api.delete(name, &DeleteParams::default()).await.map(|_| ())
        }
    }))
    .await;
    let (mut ready, mut deleted, mut errors) = (0, 0, Vec::new());
    for (p, r) in to_delete.iter().zip(results) {
        match r {
            Ok(()) => {
                deleted += 1;
                if pods::is_ready(p) {
                    ready += 1;
                }
                c.recorder.event(
                    &ctx.job,
                    EventType::Normal,
                    "SuccessfulDelete",
                    format!("Deleted pod: {}", pods::name(p)),
                );
            }
            Err(e) => {
                c.expectations.deletion_observed(&ctx.key);
                if is_not_found(&e) {
                    deleted += 1;
                } else {
                    c.recorder.event(
                        &ctx.job,
                        EventType::Warning,
                        "FailedDelete",
                        format!("Error deleting: {}", crate::api_message(&e)),
                    );
                    errors.push(e.to_string());
                }
            }
        }
    }
    (ready, deleted, first_error(&ctx.job, errors))
}

/// Deletes the active pods of a finished Job, keeping their finalizers so they are counted
/// (upstream `deleteActivePods`). Returns (ready deleted, deleted, error).
pub(super) async fn delete_active_pods(
    c: &Context,
    ctx: &SyncCtx,
    active: &[Arc<Pod>],
) -> (i32, i32, Option<Error>) {
    let api = pods_api(c, &ctx.job);
    let results = join_all(active.iter().map(|p| {
        let api = api.clone();
        async move { api.delete(pods::name(p), &DeleteParams::default()).await }
    }))
    .await;
    let (mut ready, mut deleted, mut errors) = (0, 0, Vec::new());
    for (p, r) in active.iter().zip(results) {
        match r {
            Err(e) if !is_not_found(&e) => {
                c.recorder.event(
                    &ctx.job,
                    EventType::Warning,
                    "FailedDelete",
                    format!("Error deleting: {}", crate::api_message(&e)),
                );
                errors.push(e.to_string());
            }
            r => {
                deleted += 1;
                if r.is_ok() {
                    c.recorder.event(
                        &ctx.job,
                        EventType::Normal,
                        "SuccessfulDelete",
                        format!("Deleted pod: {}", pods::name(p)),
                    );
                }
            }
        }
        if pods::is_ready(p) {
            ready += 1;
        }
    }
    (ready, deleted, first_error(&ctx.job, errors))
}

/// Upstream `manageJob`: brings the number of active pods to what the Job wants, respecting
/// suspend, completions, parallelism, pod failure backoff and expectations. Deletions happen
/// here; creations are only planned into `ctx.pending_creates` (and counted in the returned
/// active count) so the sync can run them with [`create_pods`] concurrently with writing the
/// status. Returns the new active count.
pub(super) async fn manage_job(c: &Context, ctx: &mut SyncCtx) -> (i32, Option<Error>) {
    let now = c.clock.now_millis();
    let mut active = ctx.active_pods.len() as i32;
    let parallelism = spec(&ctx.job).parallelism.unwrap_or(1).max(0);
    let max_ops = c.config.max_pod_create_delete_per_sync;

    if sync::suspended(&ctx.job) {
        let to_delete = active_pods_for_removal(&ctx.job, &ctx.active_pods, ctx.active_pods.len());
        c.expectations
            .expect_deletions(&ctx.key, to_delete.len() as i64, now);
        let (ready, removed, err) = delete_job_pods(c, ctx, &to_delete).await;
        active -= removed;
        ctx.terminating += removed;
        ctx.ready -= ready;
        return (active, err);
    }

    let want_active = match completions(&ctx.job) {
        None => {
            if ctx.succeeded > 0 {
                active
            } else {
                parallelism
            }
        }
        Some(n) => (n - ctx.succeeded).min(parallelism).max(0),
    };

    let rm_at_least = (active - want_active).max(0) as usize;
    let mut to_delete = active_pods_for_removal(&ctx.job, &ctx.active_pods, rm_at_least);
    to_delete.truncate(max_ops);
    if !to_delete.is_empty() {
        c.expectations
            .expect_deletions(&ctx.key, to_delete.len() as i64, now);
        let (ready, removed, err) = delete_job_pods(c, ctx, &to_delete).await;
        active -= removed;
        ctx.terminating += removed;
        ctx.ready -= ready;
        // Deletion and creation never happen in the same sync.
        return (active, err);
    }

    let terminating = if sync::only_replace_failed(&ctx.job) {
        ctx.terminating
    } else {
        0
    };
    let mut diff = want_active - terminating - active;
    if diff <= 0 {
        return (active, None);
    }
    if !has_backoff_limit_per_index(&ctx.job) {
        let remaining = ctx.new_backoff.remaining_millis(now);
        if remaining > 0 {
            ctx.requeue(remaining);
            return (active, None);
        }
    }
    diff = diff.min(max_ops as i32);
    let mut indexes: Option<Vec<i64>> = None;
    if is_indexed(&ctx.job) {
        let comps = i64::from(completions(&ctx.job).unwrap_or(0));
        let mut non_pending = ctx
            .succeeded_indexes
            .with_ordered_indexes(indexed::indexes_of(
                ctx.active_pods.iter().map(|p| p.as_ref()),
            ));
        if sync::only_replace_failed(&ctx.job) {
            let terminating_ix = indexed::indexes_of(
                ctx.pods
                    .iter()
                    .filter(|p| pods::is_terminating(p))
                    .map(|p| p.as_ref()),
            );
            non_pending = non_pending.with_ordered_indexes(terminating_ix);
        }
        if let Some(f) = &ctx.failed_indexes {
            non_pending = non_pending.merge(f);
        }
        let mut ix = indexed::first_pending_indexes(&non_pending, diff as usize, comps);
        if has_backoff_limit_per_index(&ctx.job) {
            let mut now_ix = Vec::new();
            let mut min_remaining: Option<i64> = None;
            for i in ix {
                let r = backoff::remaining_for_index(
                    now,
                    ctx.delayed_deletion_per_index.get(&i).map(|p| p.as_ref()),
                );
                if r == 0 {
                    now_ix.push(i);
                } else {
                    min_remaining = Some(min_remaining.map_or(r, |m: i64| m.min(r)));
                }
            }
            if now_ix.is_empty()
                && let Some(r) = min_remaining
            {
                ctx.requeue(r);
                return (active, None);
            }
            ix = now_ix;
        }
        diff = ix.len() as i32;
        indexes = Some(ix);
    }
    if diff <= 0 {
        return (active, None);
    }

    c.expectations
        .expect_creations(&ctx.key, i64::from(diff), now);
    active += diff;
    let base = pods::base_template(&ctx.job, is_indexed(&ctx.job));
    let blpi = has_backoff_limit_per_index(&ctx.job);
    let pfp = spec(&ctx.job).pod_failure_policy.clone();
    let to_create: Vec<Pod> = match &indexes {
        Some(ix) => ix
            .iter()
            .map(|i| {
                let counts = blpi.then(|| {
                    new_index_failure_counts(
                        pfp.as_ref(),
                        ctx.delayed_deletion_per_index.get(i).map(|p| p.as_ref()),
                    )
                });
                pods::new_pod(&ctx.job, &base, Some(*i), counts)
            })
            .collect(),
        None => (0..diff)
            .map(|_| pods::new_pod(&ctx.job, &base, None, None))
            .collect(),
    };
    ctx.pending_creates = to_create;
    (active, None)
}

/// Creates the pods [`manage_job`] planned, in slow-start batches (upstream
/// `slowStartBatch`): a batch starts only after the previous one fully succeeded and is twice
/// its size, so a failing create stops early. Deviation, for throughput: the first batch is
/// as large as the last fully successful one for this Job ([`SlowStart`]), so a Job whose
/// creations keep succeeding does not start from 1 on every sync. Returns how many planned
/// pods were not created and the first error.
pub(super) async fn create_pods(
    c: &Context,
    job: &Job,
    key: &str,
    to_create: Vec<Pod>,
) -> (i32, Option<Error>) {
    let namespace = job
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let mut errors: Vec<String> = Vec::new();
    let mut not_created = 0i32;
    let mut remaining: &[Pod] = &to_create;
    let mut batch = c.slow_start.initial(key);
    while !remaining.is_empty() {
        let n = batch.min(remaining.len());
        let (now_batch, rest) = remaining.split_at(n);
        remaining = rest;
        let results = super::join_spawned(now_batch.iter().map(|p| {
            let (client, p) = (c.client.clone(), p.clone());
            let namespace = namespace.clone();
            async move { runlet_client::create_pod(&client, &namespace, &p).await }
        }))
        .await;
        let mut batch_failed = false;
        for r in results {
            let r = match r {
                Ok(Ok(p)) => Ok(p),
                Ok(Err(e)) => {
                    // A terminating namespace makes every creation fail; nothing to retry.
                    if let kube::Error::Api(s) = &e
                        && s.details
                            .as_ref()
                            .map(|d| &d.causes)
                            .is_some_and(|c| c.iter().any(|c| c.reason == "NamespaceTerminating"))
                    {
                        continue;
                    }
                    Err(crate::api_message(&e))
                }
                Err(panicked) => Err(panicked),
            };
            match r {
                Ok(p) => c.recorder.event(
                    job,
                    EventType::Normal,
                    "SuccessfulCreate",
                    format!("Created pod: {}", p.name.as_deref().unwrap_or_default()),
                ),
                Err(e) => {
                    c.expectations.creation_observed(key);
                    not_created += 1;
                    batch_failed = true;
                    c.recorder.event(
                        job,
                        EventType::Warning,
                        "FailedCreate",
                        format!("Error creating: {e}"),
                    );
                    errors.push(e);
                }
            }
        }
        if batch_failed {
            c.slow_start.reset(key);
            if !remaining.is_empty() {
                let skipped = remaining.len() as i32;
                not_created += skipped;
                c.expectations.creations_observed(key, i64::from(skipped));
            }
            break;
        }
        batch = batch.saturating_mul(2);
        // The next sync may start with the batch this one would have sent next.
        c.slow_start
            .succeeded(key, batch.min(c.config.max_pod_create_delete_per_sync));
    }
    (not_created, first_error(job, errors))
}

/// The slow-start window per Job: the size of its last fully successful creation batch, where
/// its next sync's first batch starts; 0 after a failed batch (the next sync starts at 1 and
/// creates before writing the status, see [`SlowStart::failing`]). Forgotten when the Job goes.
#[derive(Debug, Default)]
pub(super) struct SlowStart {
    map: Mutex<HashMap<String, usize>>,
}

impl SlowStart {
    /// Upstream `SlowStartInitialBatchSize` is 1.
    const INITIAL: usize = 1;

    fn initial(&self, key: &str) -> usize {
        self.map
            .lock()
            .ok()
            .and_then(|m| m.get(key).copied())
            .unwrap_or(Self::INITIAL)
            .max(Self::INITIAL)
    }

    fn succeeded(&self, key: &str, n: usize) {
        if let Ok(mut m) = self.map.lock() {
            let w = m.entry(key.to_string()).or_insert(Self::INITIAL);
            *w = (*w).max(n);
        }
    }

    fn reset(&self, key: &str) {
        if let Ok(mut m) = self.map.lock() {
            m.insert(key.to_string(), 0);
        }
    }

    /// The Job's last creation batch had a failure.
    pub(super) fn failing(&self, key: &str) -> bool {
        self.map
            .lock()
            .is_ok_and(|m| m.get(key).is_some_and(|w| *w == 0))
    }

    pub(super) fn forget(&self, key: &str) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(key);
        }
    }
}

/// Upstream `getNewIndexFailureCounts`: the replaced pod's counts plus its own failure.
fn new_index_failure_counts(
    pfp: Option<&k8s_openapi::api::batch::v1::PodFailurePolicy>,
    replaced: Option<&Pod>,
) -> (i32, i32) {
    let Some(p) = replaced else {
        return (0, 0);
    };
    let mut counted = indexed::index_failure_count(p);
    let mut ignored = indexed::annotation_i32(p, indexed::INDEX_IGNORED_FAILURE_COUNT_ANNOTATION);
    if super::policy::match_pod_failure_policy(pfp, p).count_failed {
        counted = counted.saturating_add(1);
    } else {
        ignored = ignored.saturating_add(1);
    }
    (counted, ignored)
}
