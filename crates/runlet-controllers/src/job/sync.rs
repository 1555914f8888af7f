//! One sync of one Job (upstream `syncJob`): count newly finished pods, decide whether the Job
//! has failed or succeeded (backoff limit, active deadline, pod failure policy, failed indexes,
//! success policy, completions), manage pods otherwise, and write the status.

use super::backoff::BackoffRecord;
use super::indexed::{self, Intervals};
use super::policy::{self, FailureAction};
use super::{Context, Error, pods};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use runlet_api::eventtype::EventType;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The controller name a Job may name in `spec.managedBy` to be synced by us.
pub const JOB_CONTROLLER_NAME: &str = "kubernetes.io/job-controller";

/// Everything computed for one sync (upstream `syncJobCtx`).
pub(super) struct SyncCtx {
    pub key: String,
    pub job: Job,
    pub pods: Vec<Arc<Pod>>,
    pub active_pods: Vec<Arc<Pod>>,
    pub succeeded: i32,
    pub failed: i32,
    pub prev_succeeded_indexes: Intervals,
    pub succeeded_indexes: Intervals,
    pub failed_indexes: Option<Intervals>,
    pub new_backoff: BackoffRecord,
    pub expected_rm_finalizers: HashSet<String>,
    pub uncounted_succeeded: HashSet<String>,
    pub uncounted_failed: HashSet<String>,
    pub delayed_deletion_per_index: HashMap<i64, Arc<Pod>>,
    pub terminating: i32,
    pub ready: i32,
    pub finished: Option<JobCondition>,
    /// The earliest clock delay after which the Job must be synced again.
    pub requeue_after: Option<i64>,
    /// Pods `manage_job` decided to create; created while the status is written.
    pub pending_creates: Vec<Pod>,
}

impl SyncCtx {
    pub fn requeue(&mut self, ms: i64) {
        let ms = ms.max(0);
        self.requeue_after = Some(self.requeue_after.map_or(ms, |r| r.min(ms)));
    }
}

pub fn time(ms: i64) -> Option<Time> {
    k8s_openapi::jiff::Timestamp::from_millisecond(ms)
        .ok()
        .map(Time)
}

pub fn conditions(job: &Job) -> &[JobCondition] {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or(&[])
}

fn find_condition<'a>(job: &'a Job, type_: &str) -> Option<&'a JobCondition> {
    conditions(job).iter().find(|c| c.type_ == type_)
}

fn condition_true(job: &Job, type_: &str) -> Option<JobCondition> {
    find_condition(job, type_)
        .filter(|c| c.status == "True")
        .cloned()
}

/// Upstream `IsJobFinished`: a Complete or Failed condition is True.
pub fn is_finished(job: &Job) -> bool {
    conditions(job)
        .iter()
        .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
}

pub fn new_condition(type_: &str, reason: &str, message: &str, now: i64) -> JobCondition {
    JobCondition {
        type_: type_.into(),
        status: "True".into(),
        last_probe_time: time(now),
        last_transition_time: time(now),
        reason: Some(reason.into()),
        message: Some(message.into()),
    }
}

/// Upstream `ensureJobConditionStatus`: sets or updates a condition; never adds a False one.
pub fn ensure_condition(
    list: &mut Vec<JobCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: i64,
) -> bool {
    if let Some(c) = list.iter_mut().find(|c| c.type_ == type_) {
        if c.status != status
            || c.reason.as_deref().unwrap_or("") != reason
            || c.message.as_deref().unwrap_or("") != message
        {
            let mut n = new_condition(type_, reason, message, now);
            n.status = status.into();
            *c = n;
            return true;
        }
        return false;
    }
    if status != "False" {
        let mut n = new_condition(type_, reason, message, now);
        n.status = status.into();
        list.push(n);
        return true;
    }
    false
}

pub fn spec(job: &Job) -> &k8s_openapi::api::batch::v1::JobSpec {
    static EMPTY: std::sync::OnceLock<k8s_openapi::api::batch::v1::JobSpec> =
        std::sync::OnceLock::new();
    job.spec
        .as_ref()
        .unwrap_or_else(|| EMPTY.get_or_init(Default::default))
}

pub fn is_indexed(job: &Job) -> bool {
    spec(job).completion_mode.as_deref() == Some("Indexed")
}

pub fn completions(job: &Job) -> Option<i32> {
    spec(job).completions
}

pub fn has_backoff_limit_per_index(job: &Job) -> bool {
    spec(job).backoff_limit_per_index.is_some()
}

pub fn suspended(job: &Job) -> bool {
    spec(job).suspend == Some(true)
}

/// Only failed pods are replaced (podReplacementPolicy Failed, or a pod failure policy).
pub fn only_replace_failed(job: &Job) -> bool {
    spec(job).pod_replacement_policy.as_deref() == Some("Failed")
        || spec(job).pod_failure_policy.is_some()
}

/// Upstream `isPodFailed`: Failed phase, or, unless only failed pods are replaced, deleted
/// before succeeding (so pods deleted by a user count as failed).
pub fn is_pod_failed(p: &Pod, job: &Job) -> bool {
    if pods::phase(p) == "Failed" {
        return true;
    }
    if only_replace_failed(job) {
        return false;
    }
    pods::is_deleting(p) && pods::phase(p) != "Succeeded"
}

fn status_mut(job: &mut Job) -> &mut JobStatus {
    job.status.get_or_insert_with(Default::default)
}

fn completions_i64(job: &Job) -> i64 {
    i64::from(completions(job).unwrap_or(0))
}

/// Pods that are valid to count: carry the finalizer, not uncounted yet, not already being
/// un-finalized, and for Indexed Jobs with a valid index (upstream `getValidPodsWithFilter`).
fn valid_pods<'a>(
    ctx: &'a SyncCtx,
    uncounted: Option<&'a HashSet<String>>,
    filter: impl Fn(&Pod) -> bool + 'a,
) -> impl Iterator<Item = &'a Arc<Pod>> + 'a {
    let indexed = is_indexed(&ctx.job);
    let comps = completions_i64(&ctx.job);
    ctx.pods.iter().filter(move |p| {
        let uid = pods::uid(p);
        if !pods::has_tracking_finalizer(p)
            || uncounted.is_some_and(|u| u.contains(uid))
            || ctx.expected_rm_finalizers.contains(uid)
        {
            return false;
        }
        if indexed && indexed::valid_index(p, comps).is_none() {
            return false;
        }
        filter(p)
    })
}

/// Upstream `pastBackoffLimitOnFailure`: with restartPolicy OnFailure, container restarts of
/// running and pending pods count against the backoff limit.
fn past_backoff_limit_on_failure(job: &Job, pods: &[Arc<Pod>]) -> bool {
    let restart_policy = spec(job)
        .template
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref());
    if restart_policy != Some("OnFailure") {
        return false;
    }
    let sum: i64 = pods
        .iter()
        .filter(|p| matches!(pods::phase(p), "Running" | "Pending"))
        .map(|p| pods::restart_count(p))
        .sum();
    let limit = i64::from(spec(job).backoff_limit.unwrap_or(6));
    if limit == 0 { sum > 0 } else { sum >= limit }
}

fn past_active_deadline(job: &Job, now: i64) -> bool {
    let (Some(ads), Some(start)) = (
        spec(job).active_deadline_seconds,
        job.status.as_ref().and_then(|s| s.start_time.as_ref()),
    ) else {
        return false;
    };
    if suspended(job) {
        return false;
    }
    now - start.0.as_millisecond() >= ads.saturating_mul(1000)
}

fn fail_job_message(job: &Job, pods: &[Arc<Pod>]) -> Option<String> {
    let pfp = spec(job).pod_failure_policy.as_ref()?;
    pods.iter()
        .filter(|p| is_pod_failed(p, job))
        .find_map(|p| policy::match_pod_failure_policy(Some(pfp), p).fail_job_message)
}

fn is_index_failed(job: &Job, p: &Pod) -> bool {
    let mut counted = false;
    if is_pod_failed(p, job) {
        match spec(job).pod_failure_policy.as_ref() {
            Some(pfp) => {
                let m = policy::match_pod_failure_policy(Some(pfp), p);
                if m.action == Some(FailureAction::FailIndex) {
                    return true;
                }
                counted = m.count_failed;
            }
            None => counted = true,
        }
    }
    counted && indexed::index_failure_count(p) >= spec(job).backoff_limit_per_index.unwrap_or(0)
}

fn calculate_succeeded_indexes(job: &Job, pods: &[Arc<Pod>]) -> (Intervals, Intervals) {
    let comps = completions_i64(job);
    let prev = Intervals::parse(
        job.status
            .as_ref()
            .and_then(|s| s.completed_indexes.as_deref())
            .unwrap_or(""),
        comps,
    );
    let new: std::collections::BTreeSet<i64> = pods
        .iter()
        .filter(|p| pods::phase(p) == "Succeeded" && pods::has_tracking_finalizer(p))
        .filter_map(|p| indexed::valid_index(p, comps))
        .collect();
    let result = prev.with_ordered_indexes(new);
    (prev, result)
}

fn calculate_failed_indexes(job: &Job, pods: &[Arc<Pod>]) -> Intervals {
    let comps = completions_i64(job);
    let prev = job
        .status
        .as_ref()
        .and_then(|s| s.failed_indexes.as_deref())
        .map(|s| Intervals::parse(s, comps))
        .unwrap_or_default();
    let new: std::collections::BTreeSet<i64> = pods
        .iter()
        .filter(|p| pods::has_tracking_finalizer(p) && is_index_failed(job, p))
        .filter_map(|p| indexed::valid_index(p, comps))
        .collect();
    prev.with_ordered_indexes(new)
}

/// Upstream `getPodsWithDelayedDeletionPerIndex`: per index, the last failed pod whose removal
/// waits until its replacement (carrying the failure count) exists.
fn pods_with_delayed_deletion(ctx: &SyncCtx) -> HashMap<i64, Arc<Pod>> {
    let active: HashSet<i64> = ctx
        .active_pods
        .iter()
        .filter_map(|p| indexed::completion_index(p))
        .collect();
    let comps = completions_i64(&ctx.job);
    let mut out: HashMap<i64, Arc<Pod>> = HashMap::new();
    let failed_ix = ctx.failed_indexes.clone().unwrap_or_default();
    for p in valid_pods(ctx, None, |p| is_pod_failed(p, &ctx.job)) {
        let Some(ix) = indexed::valid_index(p, comps) else {
            continue;
        };
        if ctx.succeeded_indexes.has(ix) || failed_ix.has(ix) || active.contains(&ix) {
            continue;
        }
        match out.get(&ix) {
            Some(last)
                if !(indexed::index_absolute_failure_count(last)
                    <= indexed::index_absolute_failure_count(p)
                    && pods::finished_time_millis(p) >= pods::finished_time_millis(last)) => {}
            _ => {
                out.insert(ix, p.clone());
            }
        }
    }
    out
}

/// Syncs the Job `key`; returns a clock delay after which it must be synced again, if any.
pub(super) async fn sync_job(c: &Context, key: &str) -> Result<Option<i64>, Error> {
    let Some((ns, name)) = key.split_once('/') else {
        return Err(Error::InvalidKey(key.into()));
    };
    if ns.is_empty() || name.is_empty() {
        return Err(Error::InvalidKey(key.into()));
    }
    let Some(shared) = c.cache.job(key) else {
        c.expectations.delete(key);
        c.finalizer_expectations.delete(key);
        c.backoff.remove(key);
        c.slow_start.forget(key);
        return Ok(None);
    };
    if spec(&shared)
        .managed_by
        .as_deref()
        .is_some_and(|m| m != JOB_CONTROLLER_NAME)
    {
        return Ok(None);
    }
    if is_finished(&shared) {
        c.backoff.remove(key);
        return Ok(None);
    }
    if let Some(mode) = spec(&shared).completion_mode.as_deref()
        && mode != "NonIndexed"
        && mode != "Indexed"
    {
        c.recorder.event(
            &shared,
            EventType::Warning,
            "UnknownCompletionMode",
            "Skipped Job sync because completion mode is unknown",
        );
        return Ok(None);
    }
    let mut job: Job = (*shared).clone();
    let now = c.clock.now_millis();
    let status = status_mut(&mut job);
    let uncounted = status
        .uncounted_terminated_pods
        .get_or_insert_with(Default::default);
    let uncounted_succeeded: HashSet<String> =
        uncounted.succeeded.iter().flatten().cloned().collect();
    let uncounted_failed: HashSet<String> = uncounted.failed.iter().flatten().cloned().collect();

    // Expectations are checked before reading the pods, as upstream does. The finalizer
    // removals in flight too: the pod informer stores a pod before it marks the removal of its
    // finalizer observed, so a pod read afterwards still carrying the finalizer is either still
    // expected to lose it or really has it. Read the other way round, a removal observed in
    // between would make a pod counted by the last sync look uncounted, and count it again.
    let satisfied = c.expectations.satisfied(key, now);
    let expected_rm_finalizers = c.finalizer_expectations.expected(key);
    let pods: Vec<Arc<Pod>> = super::claim::pods_for_job(c, &job).await?;
    let active_pods: Vec<Arc<Pod>> = pods
        .iter()
        .filter(|p| pods::is_active(p))
        .cloned()
        .collect();
    let ready = active_pods.iter().filter(|p| pods::is_ready(p)).count() as i32;
    let terminating = pods.iter().filter(|p| pods::is_terminating(p)).count() as i32;

    let mut ctx = SyncCtx {
        key: key.to_string(),
        job,
        pods,
        active_pods,
        succeeded: 0,
        failed: 0,
        prev_succeeded_indexes: Intervals::default(),
        succeeded_indexes: Intervals::default(),
        failed_indexes: None,
        new_backoff: BackoffRecord::default(),
        expected_rm_finalizers,
        uncounted_succeeded,
        uncounted_failed,
        delayed_deletion_per_index: HashMap::new(),
        terminating,
        ready,
        finished: None,
        requeue_after: None,
        pending_creates: Vec::new(),
    };
    let mut active = ctx.active_pods.len() as i32;
    // The status written while creations are in flight counted them (see `manage_job`); a
    // sync before the informer has shown them all counts them too, or `active` would drop
    // and rise again (3, then 1, then 3) as the pods appear.
    if !satisfied {
        active += i32::try_from(c.expectations.pending_creations(key)).unwrap_or(0);
    }
    tracing::debug!(job = %key, satisfied, active, pods = ctx.pods.len(), "syncing job");

    let new_succeeded: Vec<Arc<Pod>> = valid_pods(&ctx, Some(&ctx.uncounted_succeeded), |p| {
        pods::phase(p) == "Succeeded"
    })
    .cloned()
    .collect();
    let new_failed: Vec<Arc<Pod>> = valid_pods(&ctx, Some(&ctx.uncounted_failed), |p| {
        is_pod_failed(p, &ctx.job)
    })
    .cloned()
    .collect();
    let pfp = spec(&ctx.job).pod_failure_policy.clone();
    let non_ignored_failed = new_failed
        .iter()
        .filter(|p| policy::match_pod_failure_policy(pfp.as_ref(), p).count_failed)
        .count() as i32;
    let st = ctx.job.status.clone().unwrap_or_default();
    ctx.succeeded = st.succeeded.unwrap_or(0)
        + new_succeeded.len() as i32
        + ctx.uncounted_succeeded.len() as i32;
    ctx.failed = st.failed.unwrap_or(0) + non_ignored_failed + ctx.uncounted_failed.len() as i32;
    {
        let s: Vec<&Pod> = new_succeeded.iter().map(|p| p.as_ref()).collect();
        let f: Vec<&Pod> = new_failed.iter().map(|p| p.as_ref()).collect();
        ctx.new_backoff = c.backoff.new_record(key, &s, &f);
    }

    // First start: set startTime unless suspended.
    if st.start_time.is_none() && !suspended(&ctx.job) {
        status_mut(&mut ctx.job).start_time = time(now);
    }

    let backoff_limit = spec(&ctx.job).backoff_limit.unwrap_or(6);
    let exceeds_backoff_limit = ctx.failed > backoff_limit;
    ctx.finished = condition_true(&ctx.job, "SuccessCriteriaMet");
    if ctx.finished.is_none() {
        if let Some(ft) = condition_true(&ctx.job, "FailureTarget") {
            ctx.finished = Some(new_condition(
                "Failed",
                ft.reason.as_deref().unwrap_or(""),
                ft.message.as_deref().unwrap_or(""),
                now,
            ));
        } else if let Some(msg) = fail_job_message(&ctx.job, &ctx.pods) {
            ctx.finished = Some(new_condition(
                "FailureTarget",
                "PodFailurePolicy",
                &msg,
                now,
            ));
        }
    }
    if ctx.finished.is_none() {
        if exceeds_backoff_limit || past_backoff_limit_on_failure(&ctx.job, &ctx.pods) {
            ctx.finished = Some(new_condition(
                "FailureTarget",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                now,
            ));
        } else if past_active_deadline(&ctx.job, now) {
            ctx.finished = Some(new_condition(
                "FailureTarget",
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
                now,
            ));
        } else if let Some(ads) = spec(&ctx.job).active_deadline_seconds
            && !suspended(&ctx.job)
        {
            let start = ctx
                .job
                .status
                .as_ref()
                .and_then(|s| s.start_time.as_ref())
                .map_or(now, |t| t.0.as_millisecond());
            ctx.requeue(ads.saturating_mul(1000) - (now - start));
        }
    }

    if is_indexed(&ctx.job) {
        let (prev, cur) = calculate_succeeded_indexes(&ctx.job, &ctx.pods);
        ctx.prev_succeeded_indexes = prev;
        ctx.succeeded_indexes = cur;
        ctx.succeeded = ctx.succeeded_indexes.total() as i32;
        if has_backoff_limit_per_index(&ctx.job) {
            let failed_indexes = calculate_failed_indexes(&ctx.job, &ctx.pods);
            if ctx.finished.is_none() {
                let failed_total = failed_indexes.total();
                if let Some(max) = spec(&ctx.job).max_failed_indexes
                    && failed_total > i64::from(max)
                {
                    ctx.finished = Some(new_condition(
                        "FailureTarget",
                        "MaxFailedIndexesExceeded",
                        "Job has exceeded the specified maximal number of failed indexes",
                        now,
                    ));
                } else if failed_total > 0
                    && failed_total + ctx.succeeded_indexes.total() >= completions_i64(&ctx.job)
                {
                    ctx.finished = Some(new_condition(
                        "FailureTarget",
                        "FailedIndexes",
                        "Job has failed indexes",
                        now,
                    ));
                }
            }
            ctx.failed_indexes = Some(failed_indexes);
            ctx.delayed_deletion_per_index = pods_with_delayed_deletion(&ctx);
        }
        if ctx.finished.is_none()
            && let Some(msg) = policy::match_success_policy(
                spec(&ctx.job).success_policy.as_ref(),
                completions_i64(&ctx.job),
                &ctx.succeeded_indexes,
            )
        {
            ctx.finished = Some(new_condition(
                "SuccessCriteriaMet",
                "SuccessPolicy",
                &msg,
                now,
            ));
        }
    }

    let mut suspend_cond_changed = false;
    let mut manage_err: Option<Error> = None;
    if ctx.finished.is_some() {
        let active_pods = ctx.active_pods.clone();
        let (deleted_ready, deleted, err) =
            super::manage::delete_active_pods(c, &ctx, &active_pods).await;
        if deleted != active || !satisfied {
            // Not finished yet: pods may remain, or the cache may still miss some.
            ctx.finished = None;
        }
        active -= deleted;
        ctx.terminating += deleted;
        ctx.ready -= deleted_ready;
        manage_err = err;
    } else {
        let mut manage_called = false;
        if satisfied && ctx.job.metadata.deletion_timestamp.is_none() {
            let (a, err) = super::manage::manage_job(c, &mut ctx).await;
            active = a;
            manage_err = err;
            manage_called = true;
        }
        let complete = match completions(&ctx.job) {
            None => ctx.succeeded > 0 && active == 0,
            Some(n) => ctx.succeeded >= n && active == 0,
        };
        if complete {
            ctx.finished = Some(new_condition(
                "SuccessCriteriaMet",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                now,
            ));
        } else if manage_called {
            let is_suspended = suspended(&ctx.job);
            let conds = status_mut(&mut ctx.job)
                .conditions
                .get_or_insert_with(Vec::new);
            if is_suspended {
                let changed = ensure_condition(
                    conds,
                    "Suspended",
                    "True",
                    "JobSuspended",
                    "Job suspended",
                    now,
                );
                if changed {
                    suspend_cond_changed = true;
                    c.recorder
                        .event(&ctx.job, EventType::Normal, "Suspended", "Job suspended");
                }
            } else {
                let changed = ensure_condition(
                    conds,
                    "Suspended",
                    "False",
                    "JobResumed",
                    "Job resumed",
                    now,
                );
                if changed {
                    suspend_cond_changed = true;
                    c.recorder
                        .event(&ctx.job, EventType::Normal, "Resumed", "Job resumed");
                    // A resumed Job starts afresh, as one created suspended does:
                    // activeDeadlineSeconds counts the time it has been running since.
                    status_mut(&mut ctx.job).start_time = time(now);
                }
            }
            if status_mut(&mut ctx.job)
                .conditions
                .as_ref()
                .is_some_and(|c| c.is_empty())
            {
                status_mut(&mut ctx.job).conditions = None;
            }
        }
    }

    // While this Job's creations fail, its pods are created before the status is written, as
    // upstream does, so the status is written once with what exists. (Written concurrently,
    // the status would count the planned pods and be corrected by a second write, whose update
    // event syncs the Job again at once: a hot loop of failing creations.)
    let mut to_create = std::mem::take(&mut ctx.pending_creates);
    let mut created_first = (0, None);
    if !to_create.is_empty() && c.slow_start.failing(key) {
        let job = ctx.job.clone();
        created_first =
            super::manage::create_pods(c, &job, key, std::mem::take(&mut to_create)).await;
        active -= created_first.0;
    }
    let st = ctx.job.status.clone().unwrap_or_default();
    let needs_status_update = suspend_cond_changed
        || Some(active) != st.active.or(Some(0))
        || Some(ctx.ready) != st.ready
        || Some(ctx.terminating) != st.terminating
        || st.start_time != shared.status.as_ref().and_then(|s| s.start_time.clone());
    {
        let s = status_mut(&mut ctx.job);
        s.active = (active != 0).then_some(active);
        s.ready = Some(ctx.ready);
        s.terminating = Some(ctx.terminating);
    }
    // Creating the planned pods does not depend on recording finished ones, so both run at
    // once: a sync then costs one round of writes less. The status written meanwhile counts
    // the planned pods as active; creations that fail are corrected right after.
    let (created, tracked) = if to_create.is_empty() {
        let tracked = super::tracking::track_job_status_and_remove_finalizers(
            c,
            &mut ctx,
            needs_status_update,
        )
        .await;
        ((0, None), tracked)
    } else {
        let job = ctx.job.clone();
        tokio::join!(
            super::manage::create_pods(c, &job, key, to_create),
            super::tracking::track_job_status_and_remove_finalizers(
                c,
                &mut ctx,
                needs_status_update
            )
        )
    };
    let (not_created, create_err) = created;
    if let Some(e) = create_err.or(created_first.1) {
        manage_err.get_or_insert(e);
    }
    tracked?;
    if not_created > 0 {
        active -= not_created;
        let s = status_mut(&mut ctx.job);
        if s.active.unwrap_or(0) != active {
            s.active = (active != 0).then_some(active);
            super::tracking::update_status(c, &ctx.job).await?;
        }
    }
    match manage_err {
        Some(e) => Err(e),
        None => Ok(ctx.requeue_after),
    }
}

/// Error policy: retry with the per-key exponential backoff (1 s doubling to 60 s).
pub(super) fn error_policy(c: &Context, key: &str, _e: &Error) {
    c.queue.add_rate_limited(key);
}

/// Empty uncounted lists are written as `uncountedTerminatedPods: {}` as upstream.
pub fn normalize_uncounted(u: &mut UncountedTerminatedPods) {
    if u.succeeded.as_ref().is_some_and(|v| v.is_empty()) {
        u.succeeded = None;
    }
    if u.failed.as_ref().is_some_and(|v| v.is_empty()) {
        u.failed = None;
    }
}
