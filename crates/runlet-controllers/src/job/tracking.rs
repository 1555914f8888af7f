//! Counting finished pods without ever losing one (upstream `trackJobStatusAndRemoveFinalizers`
//! and `flushUncountedAndRemoveFinalizers`):
//!
//! 1. a finished pod's UID is first written to `status.uncountedTerminatedPods` (Indexed Jobs
//!    record the index in `completedIndexes` instead);
//! 2. then its `batch.kubernetes.io/job-tracking` finalizer is removed;
//! 3. then the UID moves from the uncounted list into `succeeded` / `failed`.
//!
//! A crash between any two steps is repaired by the next sync, because each step is driven by
//! what is durable: the finalizer on the pod and the UID lists in the Job status. The terminal
//! condition (`Complete` / `Failed`) is only written once no UID is uncounted and no pod is
//! terminating, after the interim `SuccessCriteriaMet` / `FailureTarget` condition.

use super::indexed;
use super::sync::{self, SyncCtx, is_indexed, new_condition, spec};
use super::{Context, Error, is_not_found, pods, remove_finalizer_patch};
use k8s_openapi::api::batch::v1::{Job, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use runlet_api::eventtype::EventType;
use std::collections::HashSet;
use std::sync::Arc;

fn can_remove_finalizer(ctx: &SyncCtx, pod: &Pod, consider_failed: bool) -> bool {
    if ctx.job.metadata.deletion_timestamp.is_some()
        || ctx.finished.is_some()
        || pods::phase(pod) == "Succeeded"
    {
        return true;
    }
    if !consider_failed {
        return false;
    }
    if sync::has_backoff_limit_per_index(&ctx.job)
        && let Some(ix) = indexed::completion_index(pod)
        && let Some(p) = ctx.delayed_deletion_per_index.get(&ix)
        && pods::uid(p) == pods::uid(pod)
    {
        return false;
    }
    true
}

/// Moves UIDs whose finalizer is gone from the uncounted lists into the counters.
fn clean_uncounted(status: &mut JobStatus, with_finalizer: &HashSet<String>) -> bool {
    let mut updated = false;
    let (mut succ_delta, mut fail_delta) = (0i32, 0i32);
    if let Some(u) = status.uncounted_terminated_pods.as_mut() {
        if let Some(list) = u.succeeded.as_mut() {
            let before = list.len();
            list.retain(|uid| with_finalizer.contains(uid));
            succ_delta = (before - list.len()) as i32;
        }
        if let Some(list) = u.failed.as_mut() {
            let before = list.len();
            list.retain(|uid| with_finalizer.contains(uid));
            fail_delta = (before - list.len()) as i32;
        }
        sync::normalize_uncounted(u);
    }
    if succ_delta > 0 {
        status.succeeded = Some(status.succeeded.unwrap_or(0) + succ_delta);
        updated = true;
    }
    if fail_delta > 0 {
        status.failed = Some(status.failed.unwrap_or(0) + fail_delta);
        updated = true;
    }
    updated
}

pub(super) async fn update_status(c: &Context, job: &Job) -> Result<Job, Error> {
    let api: Api<Job> = Api::namespaced(
        c.client.clone(),
        job.metadata.namespace.as_deref().unwrap_or("default"),
    );
    let mut body = job.clone();
    if let Some(u) = body
        .status
        .as_mut()
        .and_then(|s| s.uncounted_terminated_pods.as_mut())
    {
        sync::normalize_uncounted(u);
    }
    let name = job.metadata.name.as_deref().unwrap_or_default();
    let updated = api
        .replace_status(name, &PostParams::default(), &body)
        .await?;
    c.cache.put_job_if_newer(&updated);
    Ok(updated)
}

/// Removes the tracking finalizer from `to_remove` concurrently; returns per-pod success.
async fn remove_finalizers(
    c: &Context,
    key: &str,
    to_remove: &[Arc<Pod>],
) -> (Vec<bool>, Option<Error>) {
    c.finalizer_expectations
        .expect_removed(key, to_remove.iter().map(|p| pods::uid(p).to_string()));
    let results = super::join_spawned(to_remove.iter().map(|p| {
        let client = c.client.clone();
        let namespace = pods::namespace(p).to_string();
        let name = pods::name(p).to_string();
        async move {
            runlet_client::patch_pod(&client, &namespace, &name, &remove_finalizer_patch())
                .await
                .map(|_| ())
        }
    }))
    .await;
    let mut ok = Vec::with_capacity(to_remove.len());
    let mut errors = Vec::new();
    for (p, r) in to_remove.iter().zip(results) {
        match r {
            Ok(Ok(())) => ok.push(true),
            Err(panicked) => {
                c.finalizer_expectations.removal_observed(key, pods::uid(p));
                ok.push(false);
                errors.push(panicked);
            }
            Ok(Err(e)) => {
                c.finalizer_expectations.removal_observed(key, pods::uid(p));
                if is_not_found(&e) {
                    ok.push(true);
                } else {
                    ok.push(false);
                    errors.push(e.to_string());
                }
            }
        }
    }
    let failed = errors.len();
    let err = errors.into_iter().next().map(|first| Error::PodOperations {
        job: key.to_string(),
        failed,
        first,
    });
    (ok, err)
}

/// Upstream `trackJobStatusAndRemoveFinalizers`.
pub(super) async fn track_job_status_and_remove_finalizers(
    c: &Context,
    ctx: &mut SyncCtx,
    mut needs_flush: bool,
) -> Result<(), Error> {
    let now = c.clock.now_millis();
    let indexed_job = is_indexed(&ctx.job);
    let comps = i64::from(sync::completions(&ctx.job).unwrap_or(0));
    if indexed_job {
        ctx.pods
            .sort_by_key(|p| indexed::completion_index(p).unwrap_or(-1));
    }
    let mut with_finalizer: HashSet<String> = ctx
        .pods
        .iter()
        .filter(|p| {
            pods::has_tracking_finalizer(p) && !ctx.expected_rm_finalizers.contains(pods::uid(p))
        })
        .map(|p| pods::uid(p).to_string())
        .collect();
    let status = ctx.job.status.get_or_insert_with(Default::default);
    if clean_uncounted(status, &with_finalizer) {
        needs_flush = true;
    }
    let pfp = spec(&ctx.job).pod_failure_policy.clone();
    let mut to_remove: Vec<Arc<Pod>> = Vec::new();
    let mut new_succeeded_indexes: Vec<i64> = Vec::new();
    let mut add_succeeded: Vec<String> = Vec::new();
    let mut add_failed: Vec<String> = Vec::new();
    let (prev_unc_s, prev_unc_f) = {
        let u = ctx
            .job
            .status
            .as_ref()
            .and_then(|s| s.uncounted_terminated_pods.as_ref());
        (
            u.and_then(|u| u.succeeded.as_ref()).map_or(0, Vec::len),
            u.and_then(|u| u.failed.as_ref()).map_or(0, Vec::len),
        )
    };
    let finished_is_failure = ctx
        .finished
        .as_ref()
        .is_some_and(|f| f.type_ != "SuccessCriteriaMet");
    let mut reached_max_uncounted = false;
    for pod in &ctx.pods {
        let uid = pods::uid(pod);
        if !pods::has_tracking_finalizer(pod) || ctx.expected_rm_finalizers.contains(uid) {
            continue;
        }
        let consider_failed = sync::is_pod_failed(pod, &ctx.job);
        if !can_remove_finalizer(ctx, pod, consider_failed) {
            continue;
        }
        to_remove.push(pod.clone());
        if pods::phase(pod) == "Succeeded" && !ctx.uncounted_failed.contains(uid) {
            if indexed_job {
                if let Some(ix) = indexed::valid_index(pod, comps)
                    && !ctx.prev_succeeded_indexes.has(ix)
                {
                    new_succeeded_indexes.push(ix);
                    needs_flush = true;
                }
            } else if !ctx.uncounted_succeeded.contains(uid) {
                needs_flush = true;
                add_succeeded.push(uid.to_string());
            }
        } else if (consider_failed || finished_is_failure)
            && !ctx.uncounted_failed.contains(uid)
            && (!indexed_job || indexed::valid_index(pod, comps).is_some())
            && super::policy::match_pod_failure_policy(pfp.as_ref(), pod).count_failed
        {
            needs_flush = true;
            add_failed.push(uid.to_string());
        }
        if new_succeeded_indexes.len()
            + prev_unc_s
            + add_succeeded.len()
            + prev_unc_f
            + add_failed.len()
            >= c.config.max_uncounted_pods
        {
            reached_max_uncounted = true;
            break;
        }
    }
    {
        let status = ctx.job.status.get_or_insert_with(Default::default);
        let u = status
            .uncounted_terminated_pods
            .get_or_insert_with(Default::default);
        if !add_succeeded.is_empty() {
            u.succeeded
                .get_or_insert_with(Vec::new)
                .extend(add_succeeded);
        }
        if !add_failed.is_empty() {
            u.failed.get_or_insert_with(Vec::new).extend(add_failed);
        }
    }
    if indexed_job {
        ctx.succeeded_indexes = ctx
            .succeeded_indexes
            .with_ordered_indexes(new_succeeded_indexes);
        let text = ctx.succeeded_indexes.to_string();
        let total = ctx.succeeded_indexes.total() as i32;
        let failed_text = ctx.failed_indexes.as_ref().map(|f| f.to_string());
        let status = ctx.job.status.get_or_insert_with(Default::default);
        if status.completed_indexes.as_deref().unwrap_or("") != text {
            needs_flush = true;
        }
        status.succeeded = (total != 0).then_some(total);
        status.completed_indexes = (!text.is_empty()).then_some(text);
        if status.failed_indexes != failed_text {
            status.failed_indexes = failed_text;
            needs_flush = true;
        }
    }
    if let Some(f) = ctx.finished.clone() {
        let reason = f.reason.clone().unwrap_or_default();
        let message = f.message.clone().unwrap_or_default();
        if f.type_ == "FailureTarget" {
            ctx.job
                .status
                .get_or_insert_with(Default::default)
                .conditions
                .get_or_insert_with(Vec::new)
                .push(f);
            needs_flush = true;
            ctx.finished = Some(new_condition("Failed", &reason, &message, now));
        } else if f.type_ == "SuccessCriteriaMet" {
            let has = sync::conditions(&ctx.job)
                .iter()
                .any(|c| c.type_ == "SuccessCriteriaMet" && c.status == "True");
            if !has {
                ctx.job
                    .status
                    .get_or_insert_with(Default::default)
                    .conditions
                    .get_or_insert_with(Vec::new)
                    .push(f);
                needs_flush = true;
            }
            ctx.finished = Some(new_condition("Complete", &reason, &message, now));
        }
    }

    // Flush the uncounted UIDs (and interim condition) before removing finalizers.
    if needs_flush {
        ctx.job = update_status(c, &ctx.job).await?;
        c.backoff.update(&ctx.key, ctx.new_backoff);
        needs_flush = false;
    }
    let mut rm_err = None;
    if !to_remove.is_empty() {
        let (ok, err) = remove_finalizers(c, &ctx.key, &to_remove).await;
        for (p, ok) in to_remove.iter().zip(ok) {
            if ok {
                with_finalizer.remove(pods::uid(p));
            }
        }
        rm_err = err;
    }
    if clean_uncounted(
        ctx.job.status.get_or_insert_with(Default::default),
        &with_finalizer,
    ) {
        needs_flush = true;
    }
    if rm_err.is_some() && needs_flush {
        ctx.job = update_status(c, &ctx.job).await?;
        return Err(rm_err.unwrap_or(Error::InvalidKey(String::new())));
    }
    if let Some(e) = rm_err {
        return Err(e);
    }

    let job_finished = !reached_max_uncounted && enact_job_finished(ctx, now);
    if job_finished {
        needs_flush = true;
    }
    if needs_flush {
        ctx.job = update_status(c, &ctx.job).await?;
        if job_finished && let Some(f) = &ctx.finished {
            record_job_finished(c, &ctx.job, f);
        }
    }
    Ok(())
}

/// Upstream `enactJobFinished`: the terminal condition once nothing is uncounted or terminating.
fn enact_job_finished(ctx: &mut SyncCtx, now: i64) -> bool {
    let Some(f) = ctx.finished.clone() else {
        return false;
    };
    let status = ctx.job.status.get_or_insert_with(Default::default);
    if let Some(u) = &status.uncounted_terminated_pods {
        let n = u.succeeded.as_ref().map_or(0, Vec::len) + u.failed.as_ref().map_or(0, Vec::len);
        if n > 0 {
            return false;
        }
    }
    if ctx.terminating > 0 {
        return false;
    }
    let conds = status.conditions.get_or_insert_with(Vec::new);
    sync::ensure_condition(
        conds,
        &f.type_,
        "True",
        f.reason.as_deref().unwrap_or(""),
        f.message.as_deref().unwrap_or(""),
        now,
    );
    if f.type_ == "Complete" {
        status.completion_time = conds
            .iter()
            .find(|c| c.type_ == "Complete")
            .and_then(|c| c.last_transition_time.clone());
    }
    true
}

fn record_job_finished(c: &Context, job: &Job, f: &k8s_openapi::api::batch::v1::JobCondition) {
    if f.type_ == "Complete" {
        let succeeded = job.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0);
        if let Some(n) = sync::completions(job)
            && succeeded > n
        {
            c.recorder.event(
                job,
                EventType::Warning,
                "TooManySucceededPods",
                "Too many succeeded pods running after completion count reached",
            );
        }
        c.recorder
            .event(job, EventType::Normal, "Completed", "Job completed");
    } else {
        c.recorder.event(
            job,
            EventType::Warning,
            f.reason.as_deref().unwrap_or(""),
            f.message.clone().unwrap_or_default(),
        );
    }
}
