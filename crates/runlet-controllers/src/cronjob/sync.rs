//! The reconcile of one CronJob: upstream `ControllerV2.sync`, `syncCronJob`,
//! `cleanupFinishedJobs` and `removeOldestJobs` (pkg/controller/cronjob/cronjob_controllerv2.go),
//! with upstream's event reasons and messages.
//!
//! Every reconcile reads the CronJob and its namespace's Jobs fresh from the API rather than from
//! a watch cache. CronJobs reconcile rarely (at their schedule, and when a Job of theirs changes),
//! so the cost is small, and it removes the stale-cache cases upstream guards against with extra
//! GETs (`UnexpectedJob` for a Job it just created, re-reading the CronJob): a reconcile sees
//! everything written before it began, which is also what makes tests deterministic.

use super::events::Recorder;
use super::queue::ObjectKey;
use super::{ApiContext, Error};
use crate::api_message;
use chrono::{DateTime, TimeDelta, Utc};
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use runlet_api::clock::Clock;
use runlet_api::cronjob::{self as cj_util, Missed};
use runlet_api::eventtype::EventType;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// What to do with a CronJob after a reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Reconcile again at this instant (the next schedule time).
    RequeueAt(DateTime<Utc>),
    /// Nothing is scheduled (suspended, deleted, or a schedule that never fires): wait for the
    /// CronJob or one of its Jobs to change.
    AwaitChange,
}

/// What a reconcile needs: the API, the clock and the event recorder.
pub struct Context {
    /// The API client.
    pub client: kube::Client,
    /// The only source of "now".
    pub clock: Arc<dyn Clock>,
    /// Events about CronJobs.
    pub recorder: Recorder,
    /// Per CronJob uid, the instant up to which every scheduled time is accounted for: reported
    /// as missed, skipped by `Forbid` (reported as `JobAlreadyActive`), or passed while the
    /// CronJob was suspended. None of those is reported as missed again.
    pub accounted_until: Mutex<HashMap<String, DateTime<Utc>>>,
    /// The uids of CronJobs last found suspended: the reconcile that finds one resumed
    /// accounts for the times that passed while it was (a suspended CronJob is not woken at
    /// its times, so no reconcile saw them pass).
    pub seen_suspended: Mutex<std::collections::HashSet<String>>,
}

/// The Job's controller ownerReference, if it has one.
fn controller_of(job: &Job) -> Option<&OwnerReference> {
    job.metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// Upstream `jobutil.FinishedCondition`: `Complete` or `Failed` with status `True`.
fn finished_condition(job: &Job) -> Option<&'static str> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    conditions.iter().find_map(|c| match c.type_.as_str() {
        "Complete" if c.status == "True" => Some("Complete"),
        "Failed" if c.status == "True" => Some("Failed"),
        _ => None,
    })
}

fn active(cj: &CronJob) -> &[ObjectReference] {
    cj.status
        .as_ref()
        .and_then(|s| s.active.as_deref())
        .unwrap_or(&[])
}

fn in_active_list(cj: &CronJob, uid: &str) -> bool {
    active(cj).iter().any(|r| r.uid.as_deref() == Some(uid))
}

fn in_active_list_by_name(cj: &CronJob, namespace: &str, name: &str) -> bool {
    active(cj)
        .iter()
        .any(|r| r.name.as_deref() == Some(name) && r.namespace.as_deref() == Some(namespace))
}

fn status_mut(cj: &mut CronJob) -> &mut CronJobStatus {
    cj.status.get_or_insert_with(CronJobStatus::default)
}

fn delete_from_active_list(cj: &mut CronJob, uid: &str) {
    let status = status_mut(cj);
    if let Some(list) = status.active.as_mut() {
        list.retain(|r| r.uid.as_deref() != Some(uid));
        if list.is_empty() {
            status.active = None;
        }
    }
}

/// Upstream `getRef`: an ObjectReference to the Job.
fn job_ref(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        ..ObjectReference::default()
    }
}

fn uid(job: &Job) -> &str {
    job.metadata.uid.as_deref().unwrap_or("")
}

fn name(job: &Job) -> &str {
    job.metadata.name.as_deref().unwrap_or("")
}

/// Upstream `byJobStartTime`: Jobs with a start time first, oldest first, then by name.
fn sort_by_start_time(jobs: &mut [&Job]) {
    jobs.sort_by(|a, b| {
        let start = |j: &Job| {
            j.status
                .as_ref()
                .and_then(|s| s.start_time.as_ref())
                .map(cj_util::to_chrono)
        };
        let (sa, sb) = (start(a), start(b));
        sa.is_none()
            .cmp(&sb.is_none())
            .then(sa.cmp(&sb))
            .then_with(|| name(a).cmp(name(b)))
    });
}

/// The result of upstream `syncCronJob`: when to come back, whether the status changed, and an
/// error to retry with backoff when there is no requeue time.
struct Outcome {
    requeue: Option<DateTime<Utc>>,
    update_status: bool,
    error: Option<Error>,
}

/// Upstream's `MissSchedule` message: the time in UTC, Go's RFC 1123 with numeric zone.
fn miss_message(scheduled: DateTime<Utc>) -> String {
    format!(
        "Missed scheduled time to start a job: {}",
        scheduled.format("%a, %d %b %Y %H:%M:%S %z")
    )
}

impl Context {
    /// Whether `slot` is a missed time not yet accounted for (each missed time is reported once
    /// per controller, not at every reconcile that notices it); it is accounted for after.
    fn first_report_of_miss(&self, cj: &CronJob, slot: DateTime<Utc>) -> bool {
        self.account_until(cj, slot)
    }

    /// Marks every scheduled time up to `until` as accounted for; false if it already was.
    fn account_until(&self, cj: &CronJob, until: DateTime<Utc>) -> bool {
        let uid = cj.metadata.uid.clone().unwrap_or_default();
        let mut accounted = self
            .accounted_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if accounted.get(&uid).is_some_and(|t| *t >= until) {
            return false;
        }
        if accounted.len() >= 4096 {
            accounted.clear();
        }
        accounted.insert(uid, until);
        true
    }

    /// Notes whether `cj` is suspended; true when it was last found suspended and no longer is.
    fn note_suspended(&self, cj: &CronJob, suspended: bool) -> bool {
        let uid = cj.metadata.uid.clone().unwrap_or_default();
        let mut seen = self
            .seen_suspended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if suspended {
            if seen.len() >= 4096 {
                seen.clear();
            }
            seen.insert(uid);
            false
        } else {
            seen.remove(&uid)
        }
    }

    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.clock.now_millis()).unwrap_or_default()
    }

    async fn event(&self, cj: &CronJob, ty: EventType, reason: &str, message: String) {
        self.recorder.event(cj, ty, reason, message).await;
    }

    /// Reconciles the CronJob `key` (upstream `ControllerV2.sync`).
    pub async fn reconcile(&self, key: &ObjectKey) -> Result<Action, Error> {
        let cronjobs: Api<CronJob> = Api::namespaced(self.client.clone(), &key.namespace);
        let Some(cj) = cronjobs
            .get_opt(&key.name)
            .await
            .ctx(|| format!("get cronjob {key}"))?
        else {
            return Ok(Action::AwaitChange);
        };
        let jobs_api: Api<Job> = Api::namespaced(self.client.clone(), &key.namespace);
        // All Jobs: one whose labels no longer match the template is still ours by its
        // controller reference.
        let jobs: Vec<Job> = jobs_api
            .list(&ListParams::default())
            .await
            .ctx(|| format!("list jobs in {}", key.namespace))?
            .items
            .into_iter()
            .filter(|j| controller_of(j).is_some_and(|r| r.kind == "CronJob" && r.name == key.name))
            .collect();

        let mut copy = cj.clone();
        let cleaned = self.cleanup_finished_jobs(&mut copy, &jobs).await;
        let outcome = self.sync_cronjob(&mut copy, &jobs).await;
        if let Some(e) = &outcome.error {
            tracing::debug!(cronjob = %key, error = %e, "error reconciling cronjob");
        }
        if cleaned || outcome.update_status {
            if let Some(status) = copy.status.as_mut()
                && status.active.as_ref().is_some_and(Vec::is_empty)
            {
                status.active = None;
            }
            cronjobs
                .replace_status(&key.name, &PostParams::default(), &copy)
                .await
                .ctx(|| format!("update status of cronjob {key}"))?;
        }
        match (outcome.requeue, outcome.error) {
            (Some(at), _) => Ok(Action::RequeueAt(at)),
            (None, Some(e)) => Err(e),
            (None, None) => Ok(Action::AwaitChange),
        }
    }

    /// Upstream `cleanupFinishedJobs`: keeps at most `successfulJobsHistoryLimit` Complete and
    /// `failedJobsHistoryLimit` Failed Jobs, deleting the oldest by start time.
    async fn cleanup_finished_jobs(&self, cj: &mut CronJob, jobs: &[Job]) -> bool {
        let (succ_limit, failed_limit) = match cj.spec.as_ref() {
            Some(s) => (s.successful_jobs_history_limit, s.failed_jobs_history_limit),
            None => (None, None),
        };
        if succ_limit.is_none() && failed_limit.is_none() {
            return false;
        }
        let mut successful = Vec::new();
        let mut failed = Vec::new();
        for j in jobs {
            match finished_condition(j) {
                Some("Complete") => successful.push(j),
                Some("Failed") => failed.push(j),
                _ => {}
            }
        }
        let mut update = false;
        for (limit, mut list) in [(succ_limit, successful), (failed_limit, failed)] {
            let Some(limit) = limit else { continue };
            let excess = list
                .len()
                .saturating_sub(usize::try_from(limit).unwrap_or(0));
            if excess == 0 {
                continue;
            }
            sort_by_start_time(&mut list);
            for j in list.into_iter().take(excess) {
                if self.delete_job(cj, j).await {
                    update = true;
                }
            }
        }
        update
    }

    /// Upstream `deleteJob`: deletes the Job (background propagation) and drops it from
    /// `status.active`.
    async fn delete_job(&self, cj: &mut CronJob, job: &Job) -> bool {
        let ns = job.metadata.namespace.clone().unwrap_or_default();
        let api: Api<Job> = Api::namespaced(self.client.clone(), &ns);
        match api.delete(name(job), &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.is_not_found() => {}
            Err(e) => {
                let msg = format!("Deleted job: {}", api_message(&e));
                self.event(cj, EventType::Warning, "FailedDelete", msg)
                    .await;
                tracing::warn!(job = name(job), error = %e, "error deleting job from cronjob");
                return false;
            }
        }
        delete_from_active_list(cj, uid(job));
        let msg = format!("Deleted job {}", name(job));
        self.event(cj, EventType::Normal, "SuccessfulDelete", msg)
            .await;
        true
    }

    /// Upstream `syncCronJob`.
    async fn sync_cronjob(&self, cj: &mut CronJob, jobs: &[Job]) -> Outcome {
        let now = self.now();
        let mut update_status = false;
        let done = |requeue, update_status| Outcome {
            requeue,
            update_status,
            error: None,
        };
        let failed = |error, update_status| Outcome {
            requeue: None,
            update_status,
            error: Some(error),
        };

        let mut children = HashSet::new();
        for j in jobs {
            children.insert(uid(j).to_string());
            let found = in_active_list(cj, uid(j));
            let finished = finished_condition(j);
            match finished {
                None if !found => {
                    // Ours but not in the active list: created by someone else, or we crashed
                    // between creating it and recording it.
                    let msg = format!(
                        "Saw a job that the controller did not create or forgot: {}",
                        name(j)
                    );
                    self.event(cj, EventType::Warning, "UnexpectedJob", msg)
                        .await;
                }
                None => {}
                Some(condition) => {
                    if found {
                        delete_from_active_list(cj, uid(j));
                        let msg = format!("Saw completed job: {}, condition: {condition}", name(j));
                        self.event(cj, EventType::Normal, "SawCompletedJob", msg)
                            .await;
                        update_status = true;
                    }
                    if condition == "Complete" {
                        let completion = j.status.as_ref().and_then(|s| s.completion_time.clone());
                        let status = status_mut(cj);
                        match (&status.last_successful_time, &completion) {
                            (None, _) => {
                                status.last_successful_time = completion;
                                update_status = true;
                            }
                            (Some(last), Some(c))
                                if cj_util::to_chrono(c) > cj_util::to_chrono(last) =>
                            {
                                status.last_successful_time = completion;
                                update_status = true;
                            }
                            _ => {}
                        }
                    }
                }
            }
        }

        // Active Jobs that no longer exist: forget them, or the CronJob stays "active" forever.
        let missing: Vec<ObjectReference> = active(cj)
            .iter()
            .filter(|r| !children.contains(r.uid.as_deref().unwrap_or("")))
            .cloned()
            .collect();
        for r in missing {
            let msg = format!(
                "Active job went missing: {}",
                r.name.as_deref().unwrap_or("")
            );
            self.event(cj, EventType::Normal, "MissingJob", msg).await;
            let status = status_mut(cj);
            if let Some(list) = status.active.as_mut() {
                list.retain(|a| a.uid != r.uid);
            }
            update_status = true;
        }

        if cj.metadata.deletion_timestamp.is_some() {
            return done(None, update_status);
        }
        if let Err(e) = cj_util::time_zone(cj) {
            self.event(cj, EventType::Warning, "UnknownTimeZone", e.to_string())
                .await;
            return done(None, update_status);
        }
        let suspended = cj.spec.as_ref().and_then(|s| s.suspend) == Some(true);
        // A time that passes while suspended is not missed: nothing was meant to run.
        if self.note_suspended(cj, suspended) || suspended {
            self.account_until(cj, now);
        }
        if suspended {
            tracing::debug!(cronjob = ?cj.metadata.name, "not starting job: suspended");
            return done(None, update_status);
        }
        let (_, tz_in_schedule) = cj_util::format_schedule(cj);
        if tz_in_schedule {
            let msg = format!(
                "CRON_TZ or TZ used in schedule {:?} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details",
                cj.spec.as_ref().map(|s| s.schedule.as_str()).unwrap_or("")
            );
            self.event(cj, EventType::Warning, "UnsupportedSchedule", msg)
                .await;
        }
        let sched = match cj_util::schedule(cj) {
            Ok(s) => s,
            Err(e) => {
                self.event(cj, EventType::Warning, "UnparseableSchedule", e.to_string())
                    .await;
                return done(None, update_status);
            }
        };
        let scheduled = match cj_util::next_schedule_time(cj, now, &sched) {
            Ok(Some((t, missed))) => {
                if missed == Missed::Many {
                    let msg = "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew".to_string();
                    self.event(cj, EventType::Warning, "TooManyMissedTimes", msg)
                        .await;
                    tracing::info!(cronjob = ?cj.metadata.name, "too many missed times");
                }
                t
            }
            Ok(None) => {
                // Nothing due: woken early (a Job changed, or a restart), or the due time is
                // past the starting deadline, which runlet reports where upstream cannot.
                if let Some(missed) = cj_util::missed_past_deadline(cj, now, &sched)
                    && self.first_report_of_miss(cj, missed)
                {
                    self.event(cj, EventType::Warning, "MissSchedule", miss_message(missed))
                        .await;
                }
                return done(cj_util::next_wake(cj, now, &sched), update_status);
            }
            Err(e) => {
                self.event(cj, EventType::Warning, "InvalidSchedule", e.to_string())
                    .await;
                return done(None, update_status);
            }
        };
        let next = |cj: &CronJob| cj_util::next_wake(cj, now, &sched);

        let deadline = cj.spec.as_ref().and_then(|s| s.starting_deadline_seconds);
        if let Some(sds) = deadline
            && scheduled + TimeDelta::seconds(sds) < now
        {
            if self.first_report_of_miss(cj, scheduled) {
                self.event(
                    cj,
                    EventType::Warning,
                    "MissSchedule",
                    miss_message(scheduled),
                )
                .await;
            }
            return done(next(cj), update_status);
        }

        let namespace = cj.metadata.namespace.clone().unwrap_or_default();
        let cj_name = cj.metadata.name.clone().unwrap_or_default();
        let job_name = cj_util::job_name(&cj_name, scheduled);
        let last = cj
            .status
            .as_ref()
            .and_then(|s| s.last_schedule_time.as_ref())
            .map(cj_util::to_chrono);
        if in_active_list_by_name(cj, &namespace, &job_name) || last == Some(scheduled) {
            // This scheduled time is already processed.
            return done(next(cj), update_status);
        }
        let policy = cj
            .spec
            .as_ref()
            .and_then(|s| s.concurrency_policy.clone())
            .unwrap_or_default();
        if policy == "Forbid" && !active(cj).is_empty() {
            let msg = "Not starting job because prior execution is running and concurrency policy is Forbid".to_string();
            self.event(cj, EventType::Normal, "JobAlreadyActive", msg)
                .await;
            // Said why this time did not run; it is not reported as missed later.
            self.account_until(cj, scheduled);
            return done(next(cj), update_status);
        }
        let jobs_api: Api<Job> = Api::namespaced(self.client.clone(), &namespace);
        if policy == "Replace" {
            for r in active(cj).to_vec() {
                let rname = r.name.clone().unwrap_or_default();
                let rns = r.namespace.clone().unwrap_or_else(|| namespace.clone());
                let api: Api<Job> = Api::namespaced(self.client.clone(), &rns);
                let job = match api.get(&rname).await {
                    Ok(j) => j,
                    Err(e) => {
                        let msg = format!("Get job: {}", api_message(&e));
                        self.event(cj, EventType::Warning, "FailedGet", msg).await;
                        return failed(
                            Error::api(format!("get job {rns}/{rname}"), e),
                            update_status,
                        );
                    }
                };
                if !self.delete_job(cj, &job).await {
                    return failed(
                        Error::Replace {
                            namespace: rns,
                            name: rname,
                        },
                        update_status,
                    );
                }
                update_status = true;
            }
        }

        let request = cj_util::job_from_cronjob(cj, &job_name, false, Some(scheduled));
        let created = match jobs_api.create(&PostParams::default(), &request).await {
            Ok(job) => {
                let msg = format!("Created job {}", name(&job));
                self.event(cj, EventType::Normal, "SuccessfulCreate", msg)
                    .await;
                job
            }
            Err(kube::Error::Api(s)) if s.is_already_exists() => {
                // Created earlier (by us, before a crash, or by someone else).
                let job = match jobs_api.get(&job_name).await {
                    Ok(j) => j,
                    Err(e) => {
                        return failed(
                            Error::api(format!("get job {namespace}/{job_name}"), e),
                            update_status,
                        );
                    }
                };
                let ours =
                    controller_of(&job).is_some_and(|r| Some(&r.uid) == cj.metadata.uid.as_ref());
                if !ours || in_active_list(cj, uid(&job)) {
                    // Another actor's Job, or already recorded. (Upstream stops requeueing
                    // here; runlet keeps the schedule going.)
                    return done(next(cj), update_status);
                }
                if finished_condition(&job).is_some() {
                    // A schedule that fires more than once a minute (`@every 10s`) names the
                    // same Job again: that run is over, so the time is taken as done rather than
                    // the finished Job made active again (a loop of status writes, each waking
                    // the CronJob at once).
                    let status = status_mut(cj);
                    status.last_schedule_time = Some(cj_util::to_time(scheduled));
                    return done(next(cj), true);
                }
                tracing::info!(job = %job_name, "job already exists");
                job
            }
            Err(e) => {
                let terminating = matches!(&e, kube::Error::Api(s)
                    if s.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating")));
                if !terminating {
                    let msg = format!("Error creating job: {}", api_message(&e));
                    self.event(cj, EventType::Warning, "FailedCreate", msg)
                        .await;
                }
                return failed(
                    Error::api(format!("create job {namespace}/{job_name}"), e),
                    update_status,
                );
            }
        };
        let status = status_mut(cj);
        status
            .active
            .get_or_insert_with(Vec::new)
            .push(job_ref(&created));
        status.last_schedule_time = Some(cj_util::to_time(scheduled));
        done(next(cj), true)
    }
}
