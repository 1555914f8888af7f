//! CronJob semantics that are pure functions of a CronJob and the time: which schedule it runs
//! (`spec.schedule` in `spec.timeZone`), which scheduled time is due, when to wake next, and the
//! Job a run creates. Ported from upstream `pkg/controller/cronjob/utils.go`
//! (`mostRecentScheduleTime`, `nextScheduleTime`, `nextScheduleTimeDuration`,
//! `getJobFromTemplate2`, `getJobName`) and kubectl's `create job --from=cronjob/NAME`.
//!
//! They live here, not in the controller, so the CronJob controller, `runlet trigger
//! cronjob/NAME` and anything that shows "next run" derive the same facts from the same code.
//! Times are `chrono::DateTime<Utc>`; schedules come from [`crate::validation::cron`].

use crate::validation::cron::{self, CronError, Schedule};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use chrono_tz::Tz;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use std::collections::BTreeMap;

/// Annotation carrying a scheduled Job's nominal start time, RFC 3339 in the CronJob's zone.
pub const SCHEDULED_TIMESTAMP_ANNOTATION: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// Annotation kubectl puts on `kubectl create job --from=cronjob/NAME` Jobs (value `manual`).
pub const INSTANTIATE_ANNOTATION: &str = "cronjob.kubernetes.io/instantiate";
/// More missed schedules than this produce the `TooManyMissedTimes` warning.
pub const MANY_MISSED: i64 = 100;

/// Why a CronJob's schedule cannot be used. The messages are upstream's event messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// `spec.timeZone` is not a known IANA zone (event reason `UnknownTimeZone`).
    #[error("invalid timeZone: {zone:?}: {message}")]
    UnknownTimeZone {
        /// The zone as written.
        zone: String,
        /// Go's `time.LoadLocation` error.
        message: String,
    },
    /// `spec.schedule` does not parse (event reason `UnparseableSchedule`).
    #[error("unparseable schedule: {schedule:?} : {source}")]
    Unparseable {
        /// The schedule as written.
        schedule: String,
        /// robfig/cron's parse error.
        source: CronError,
    },
    /// The schedule parses but never fires, e.g. `0 0 30 2 *` (event reason `InvalidSchedule`).
    #[error(
        "invalid schedule: {schedule} : time difference between two schedules is less than 1 second"
    )]
    Invalid {
        /// The schedule as written.
        schedule: String,
    },
}

/// How many schedules were missed since the last one (upstream `missedSchedulesType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missed {
    /// None: at most the next schedule is due.
    None,
    /// Some, at most [`MANY_MISSED`].
    Few,
    /// More than [`MANY_MISSED`]: upstream warns `TooManyMissedTimes`.
    Many,
}

/// The outcome of [`most_recent_schedule_time`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MostRecent {
    /// `status.lastScheduleTime`, else the creation time (raised to `now -
    /// startingDeadlineSeconds` when asked).
    pub earliest: DateTime<Utc>,
    /// The latest scheduled time at or before `now`, after `earliest`.
    pub most_recent: Option<DateTime<Utc>>,
    /// How many schedules lie between `earliest` and `now`.
    pub missed: Missed,
}

/// A `metav1.Time` as a chrono instant.
pub fn to_chrono(t: &Time) -> DateTime<Utc> {
    DateTime::from_timestamp(t.0.as_second(), t.0.subsec_nanosecond().max(0) as u32)
        .unwrap_or_default()
}

/// A chrono instant as a `metav1.Time` (second precision, as Kubernetes serialises it).
pub fn to_time(t: DateTime<Utc>) -> Time {
    Time(k8s_openapi::jiff::Timestamp::from_second(t.timestamp()).unwrap_or_default())
}

/// The zone `spec.timeZone` names; UTC when unset (runlet's local zone).
pub fn time_zone(cj: &CronJob) -> Result<Tz, ScheduleError> {
    let zone = cj.spec.as_ref().and_then(|s| s.time_zone.as_deref());
    match zone {
        None => Ok(Tz::UTC),
        Some(z) => cron::load_location(z).map_err(|message| ScheduleError::UnknownTimeZone {
            zone: z.to_string(),
            message,
        }),
    }
}

fn schedule_text(cj: &CronJob) -> &str {
    cj.spec.as_ref().map(|s| s.schedule.as_str()).unwrap_or("")
}

/// Upstream `formatSchedule`: the schedule with a `TZ=<spec.timeZone>` prefix when a valid zone
/// is set, and whether the schedule itself uses the unsupported `TZ`/`CRON_TZ` prefix (upstream
/// then warns `UnsupportedSchedule` and ignores `spec.timeZone`).
pub fn format_schedule(cj: &CronJob) -> (String, bool) {
    let schedule = schedule_text(cj);
    if schedule.contains("TZ") {
        return (schedule.to_string(), true);
    }
    match cj.spec.as_ref().and_then(|s| s.time_zone.as_deref()) {
        Some(z) if cron::load_location(z).is_ok() => (format!("TZ={z} {schedule}"), false),
        _ => (schedule.to_string(), false),
    }
}

/// The parsed schedule, in the CronJob's zone.
pub fn schedule(cj: &CronJob) -> Result<Schedule, ScheduleError> {
    let (text, _) = format_schedule(cj);
    cron::parse_standard(&text).map_err(|source| ScheduleError::Unparseable {
        schedule: schedule_text(cj).to_string(),
        source,
    })
}

fn invalid(cj: &CronJob) -> ScheduleError {
    ScheduleError::Invalid {
        schedule: schedule_text(cj).to_string(),
    }
}

/// Upstream `mostRecentScheduleTime`: the latest scheduled time in `(earliest, now]`, where
/// `earliest` is `status.lastScheduleTime` (else the creation time), raised to `now -
/// startingDeadlineSeconds` when `include_deadline`. Only that one time is returned however many
/// were missed: after downtime a CronJob runs once, for its most recent slot.
pub fn most_recent_schedule_time(
    cj: &CronJob,
    now: DateTime<Utc>,
    schedule: &Schedule,
    include_deadline: bool,
) -> Result<MostRecent, ScheduleError> {
    let mut earliest = cj
        .status
        .as_ref()
        .and_then(|s| s.last_schedule_time.as_ref())
        .or(cj.metadata.creation_timestamp.as_ref())
        .map(to_chrono)
        .unwrap_or(now);
    let deadline = cj.spec.as_ref().and_then(|s| s.starting_deadline_seconds);
    if include_deadline && let Some(sds) = deadline {
        let scheduling_deadline = now - TimeDelta::seconds(sds);
        if scheduling_deadline > earliest {
            earliest = scheduling_deadline;
        }
    }
    let none = |most_recent, missed| MostRecent {
        earliest,
        most_recent,
        missed,
    };
    let Some(t1) = schedule.next_after(&earliest) else {
        return Err(invalid(cj));
    };
    if now < t1 {
        return Ok(none(None, Missed::None));
    }
    let Some(t2) = schedule.next_after(&t1) else {
        return Err(invalid(cj));
    };
    if now < t2 {
        return Ok(none(Some(t1), Missed::None));
    }
    let between = (t2 - t1).num_seconds();
    if between < 1 {
        return Err(invalid(cj));
    }
    let elapsed = (now - t1).num_seconds();
    let missed_count = elapsed / between + 1;
    // Upstream jumps close to `now` by the t1..t2 interval (one step short, so irregular
    // schedules are found by the cron library), then walks forward.
    let jump = (missed_count - 2).saturating_mul(between);
    let potential_earliest = t1
        .checked_add_signed(TimeDelta::try_seconds(jump).unwrap_or(TimeDelta::zero()))
        .unwrap_or(t1);
    let mut most_recent = None;
    let mut t = schedule.next_after(&potential_earliest);
    // Bounded: the walk covers about two t1..t2 intervals; the cap only guards odd schedules.
    for _ in 0..100_000 {
        match t {
            Some(next) if next <= now => {
                most_recent = Some(next);
                t = schedule.next_after(&next);
            }
            _ => break,
        }
    }
    let missed = if missed_count > MANY_MISSED {
        Missed::Many
    } else {
        Missed::Few
    };
    Ok(none(most_recent, missed))
}

/// Upstream `nextScheduleTime`: the scheduled time to start now, if any (honouring
/// `startingDeadlineSeconds`), with how many were missed (the caller warns on [`Missed::Many`]).
pub fn next_schedule_time(
    cj: &CronJob,
    now: DateTime<Utc>,
    schedule: &Schedule,
) -> Result<Option<(DateTime<Utc>, Missed)>, ScheduleError> {
    let r = most_recent_schedule_time(cj, now, schedule, true)?;
    Ok(r.most_recent.filter(|t| *t <= now).map(|t| (t, r.missed)))
}

/// The latest scheduled time that was not started and is now past `startingDeadlineSeconds`,
/// if the CronJob has a deadline and such a time exists.
///
/// Upstream means to warn `MissSchedule` for it, but never can: it looks for due times only
/// inside the deadline window (kubernetes/kubernetes#101148, #111223), so a missed run leaves no
/// trace. runlet reports it, so a run skipped by the deadline is visible in `kubectl describe`.
pub fn missed_past_deadline(
    cj: &CronJob,
    now: DateTime<Utc>,
    schedule: &Schedule,
) -> Option<DateTime<Utc>> {
    let sds = cj.spec.as_ref()?.starting_deadline_seconds?;
    let t = most_recent_schedule_time(cj, now, schedule, false)
        .ok()?
        .most_recent?;
    (t + TimeDelta::seconds(sds) < now).then_some(t)
}

/// Upstream `nextScheduleTimeDuration`, as an instant: when the controller should look at the
/// CronJob again. Upstream pads this by 100 ms against clock skew between its timer and its
/// clock; runlet's timer reads the same clock it schedules by, so it wakes exactly on time.
/// `None` when the schedule never fires again.
pub fn next_wake(cj: &CronJob, now: DateTime<Utc>, schedule: &Schedule) -> Option<DateTime<Utc>> {
    let from = match most_recent_schedule_time(cj, now, schedule, false) {
        Err(_) => now,
        Ok(MostRecent {
            most_recent: Some(t),
            ..
        }) => t,
        Ok(MostRecent {
            earliest,
            missed: Missed::None,
            ..
        }) => earliest,
        Ok(_) => now,
    };
    schedule.next_after(&from)
}

/// Upstream `getJobName`: `<cronjob>-<scheduled time in minutes since the Unix epoch>`, the same
/// for every attempt at one scheduled time, so a Job is never created twice for it.
pub fn job_name(cronjob_name: &str, scheduled: DateTime<Utc>) -> String {
    format!("{cronjob_name}-{}", scheduled.timestamp().div_euclid(60))
}

/// The scheduled-timestamp annotation value: RFC 3339 in the CronJob's zone, as upstream writes
/// it (`2026-03-09T02:30:00-04:00`, or `...Z` in UTC).
pub fn scheduled_timestamp(cj: &CronJob, scheduled: DateTime<Utc>) -> String {
    let zone = time_zone(cj).unwrap_or(Tz::UTC);
    scheduled
        .with_timezone(&zone)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The Job a CronJob run creates: `spec.jobTemplate`'s labels, annotations and spec, named
/// `name`, with a controller ownerReference to the CronJob.
///
/// - `manual = false` is the controller's Job (upstream `getJobFromTemplate2`): the
///   ownerReference blocks owner deletion.
/// - `manual = true` is `kubectl create job NAME --from=cronjob/CJ` (and `runlet trigger`):
///   `cronjob.kubernetes.io/instantiate: manual` (template annotations win over it, as in
///   kubectl), and no `blockOwnerDeletion`.
///
/// `scheduled` adds the `batch.kubernetes.io/cronjob-scheduled-timestamp` annotation.
pub fn job_from_cronjob(
    cronjob: &CronJob,
    name: &str,
    manual: bool,
    scheduled: Option<DateTime<Utc>>,
) -> Job {
    let template = cronjob.spec.as_ref().map(|s| &s.job_template);
    let template_meta = template.and_then(|t| t.metadata.as_ref());
    let mut annotations = BTreeMap::new();
    if manual {
        annotations.insert(INSTANTIATE_ANNOTATION.to_string(), "manual".to_string());
    }
    if let Some(a) = template_meta.and_then(|m| m.annotations.as_ref()) {
        annotations.extend(a.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if let Some(t) = scheduled {
        annotations.insert(
            SCHEDULED_TIMESTAMP_ANNOTATION.to_string(),
            scheduled_timestamp(cronjob, t),
        );
    }
    let labels = template_meta
        .and_then(|m| m.labels.clone())
        .filter(|l| !l.is_empty());
    let owner = OwnerReference {
        api_version: "batch/v1".to_string(),
        kind: "CronJob".to_string(),
        name: cronjob.metadata.name.clone().unwrap_or_default(),
        uid: cronjob.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: (!manual).then_some(true),
    };
    Job {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: cronjob.metadata.namespace.clone(),
            labels,
            annotations: (!annotations.is_empty()).then_some(annotations),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: template.and_then(|t| t.spec.clone()),
        status: None,
    }
}

#[cfg(test)]
mod tests;
