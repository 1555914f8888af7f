use super::*;
use k8s_openapi::api::batch::v1::{CronJobSpec, CronJobStatus, JobSpec, JobTemplateSpec};
use serde_json::json;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .expect("test time")
}

fn cronjob(schedule: &str) -> CronJob {
    CronJob {
        metadata: ObjectMeta {
            name: Some("backup".into()),
            namespace: Some("default".into()),
            uid: Some("uid-1".into()),
            creation_timestamp: Some(to_time(at("2026-01-01T00:00:00Z"))),
            ..Default::default()
        },
        spec: Some(CronJobSpec {
            schedule: schedule.into(),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some([("app".to_string(), "backup".to_string())].into()),
                    annotations: Some([("team".to_string(), "ops".to_string())].into()),
                    ..Default::default()
                }),
                spec: Some(JobSpec {
                    backoff_limit: Some(2),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}

fn with_last(mut cj: CronJob, last: &str) -> CronJob {
    cj.status = Some(CronJobStatus {
        last_schedule_time: Some(to_time(at(last))),
        ..Default::default()
    });
    cj
}

fn recent(cj: &CronJob, now: &str, deadline: bool) -> MostRecent {
    let s = schedule(cj).expect("schedule");
    most_recent_schedule_time(cj, at(now), &s, deadline).expect("valid")
}

#[test]
fn job_name_is_cronjob_name_and_minutes_since_epoch() {
    // upstream getJobName / getTimeHashInMinutes
    assert_eq!(
        job_name("backup", at("2026-01-01T00:01:00Z")),
        format!("backup-{}", (1_767_225_600 + 60) / 60)
    );
}

#[test]
fn scheduled_job_copies_template_and_is_controlled_by_the_cronjob() {
    let cj = cronjob("* * * * *");
    let job = job_from_cronjob(
        &cj,
        "backup-29453761",
        false,
        Some(at("2026-01-01T00:01:00Z")),
    );
    let v = serde_json::to_value(&job).expect("json");
    assert_eq!(
        v["metadata"],
        json!({
            "name": "backup-29453761",
            "namespace": "default",
            "labels": {"app": "backup"},
            "annotations": {
                "team": "ops",
                "batch.kubernetes.io/cronjob-scheduled-timestamp": "2026-01-01T00:01:00Z"
            },
            "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "CronJob", "name": "backup", "uid": "uid-1",
                "controller": true, "blockOwnerDeletion": true
            }]
        })
    );
    assert_eq!(v["spec"]["backoffLimit"], json!(2));
}

#[test]
fn manual_job_matches_kubectl_create_job_from_cronjob() {
    // kubectl createJobFromCronJob: instantiate=manual, template annotations on top, and an
    // ownerReference without blockOwnerDeletion.
    let cj = cronjob("* * * * *");
    let job = job_from_cronjob(&cj, "backup-now", true, None);
    let v = serde_json::to_value(&job).expect("json");
    assert_eq!(
        v["metadata"]["annotations"],
        json!({"cronjob.kubernetes.io/instantiate": "manual", "team": "ops"})
    );
    assert_eq!(
        v["metadata"]["ownerReferences"],
        json!([{"apiVersion": "batch/v1", "kind": "CronJob", "name": "backup", "uid": "uid-1",
                "controller": true}])
    );
}

#[test]
fn scheduled_timestamp_is_written_in_the_cronjob_zone() {
    let mut cj = cronjob("30 2 * * *");
    if let Some(s) = cj.spec.as_mut() {
        s.time_zone = Some("America/New_York".into());
    }
    assert_eq!(
        scheduled_timestamp(&cj, at("2026-03-09T06:30:00Z")),
        "2026-03-09T02:30:00-04:00"
    );
    assert_eq!(
        format_schedule(&cj),
        ("TZ=America/New_York 30 2 * * *".into(), false)
    );
}

#[test]
fn tz_prefix_in_schedule_is_flagged_and_time_zone_ignored() {
    let mut cj = cronjob("TZ=UTC 0 * * * *");
    if let Some(s) = cj.spec.as_mut() {
        s.time_zone = Some("Europe/Berlin".into());
    }
    assert_eq!(format_schedule(&cj), ("TZ=UTC 0 * * * *".into(), true));
}

#[test]
fn unknown_time_zone_reads_like_upstream_event() {
    let mut cj = cronjob("0 * * * *");
    if let Some(s) = cj.spec.as_mut() {
        s.time_zone = Some("Mars/Base".into());
    }
    let e = time_zone(&cj).expect_err("unknown");
    assert_eq!(
        e.to_string(),
        "invalid timeZone: \"Mars/Base\": unknown time zone Mars/Base"
    );
}

#[test]
fn nothing_due_before_the_first_slot() {
    let r = recent(&cronjob("0 * * * *"), "2026-01-01T00:59:59Z", false);
    assert_eq!(r.most_recent, None);
    assert_eq!(r.missed, Missed::None);
}

#[test]
fn the_next_slot_is_due_at_its_exact_time() {
    let r = recent(&cronjob("* * * * *"), "2026-01-01T00:01:00Z", false);
    assert_eq!(r.most_recent, Some(at("2026-01-01T00:01:00Z")));
    assert_eq!(r.missed, Missed::None);
}

#[test]
fn after_downtime_only_the_most_recent_slot_is_due() {
    // Hourly, created at midnight, controller back at 03:30: one run, for 03:00.
    let r = recent(&cronjob("0 * * * *"), "2026-01-01T03:30:00Z", false);
    assert_eq!(r.most_recent, Some(at("2026-01-01T03:00:00Z")));
    assert_eq!(r.missed, Missed::Few);
}

#[test]
fn more_than_a_hundred_missed_is_many() {
    let r = recent(&cronjob("0 * * * *"), "2026-01-05T06:10:00Z", false);
    assert_eq!(r.most_recent, Some(at("2026-01-05T06:00:00Z")));
    assert_eq!(r.missed, Missed::Many);
    let exactly = recent(&cronjob("0 * * * *"), "2026-01-05T04:00:00Z", false);
    assert_eq!(
        exactly.missed,
        Missed::Few,
        "100 missed is not more than 100"
    );
}

#[test]
fn starting_deadline_raises_the_earliest_time() {
    let mut cj = cronjob("0 * * * *");
    if let Some(s) = cj.spec.as_mut() {
        s.starting_deadline_seconds = Some(600);
    }
    // 200 hours of downtime, but only the last 10 minutes count: nothing is due at 06:30.
    let r = recent(&cj, "2026-01-09T08:30:00Z", true);
    assert_eq!(r.earliest, at("2026-01-09T08:20:00Z"));
    assert_eq!(r.most_recent, None);
    // Without the deadline the 08:00 slot (and many misses) would be seen.
    let r = recent(&cj, "2026-01-09T08:30:00Z", false);
    assert_eq!(r.most_recent, Some(at("2026-01-09T08:00:00Z")));
    assert_eq!(r.missed, Missed::Many);
}

#[test]
fn last_schedule_time_is_where_counting_resumes() {
    let cj = with_last(cronjob("*/5 * * * *"), "2026-01-01T10:00:00Z");
    let r = recent(&cj, "2026-01-01T10:07:00Z", false);
    assert_eq!(r.most_recent, Some(at("2026-01-01T10:05:00Z")));
    let s = schedule(&cj).expect("schedule");
    // Upstream nextScheduleTimeDuration: from the most recent unmet slot.
    assert_eq!(
        next_wake(&cj, at("2026-01-01T10:07:00Z"), &s),
        Some(at("2026-01-01T10:10:00Z"))
    );
    let done = with_last(cronjob("*/5 * * * *"), "2026-01-01T10:05:00Z");
    assert_eq!(
        next_wake(&done, at("2026-01-01T10:05:00.300Z"), &s),
        Some(at("2026-01-01T10:10:00Z"))
    );
}

#[test]
fn irregular_schedule_finds_the_true_most_recent_slot() {
    // upstream's example: 30 6-16/4 * * 1-5 (06:30, 10:30, 14:30 on weekdays).
    let cj = with_last(cronjob("30 6-16/4 * * 1-5"), "2026-01-02T06:30:00Z"); // a Friday
    let r = recent(&cj, "2026-01-05T11:00:00Z", false); // the next Monday
    assert_eq!(r.most_recent, Some(at("2026-01-05T10:30:00Z")));
}

#[test]
fn every_schedule_counts_from_the_last_run() {
    let cj = with_last(cronjob("@every 90s"), "2026-01-01T00:00:00Z");
    let r = recent(&cj, "2026-01-01T00:10:00Z", false);
    assert_eq!(r.most_recent, Some(at("2026-01-01T00:09:00Z")));
}

#[test]
fn impossible_schedule_is_invalid() {
    let cj = cronjob("0 0 30 2 *");
    let s = schedule(&cj).expect("parses");
    let e = most_recent_schedule_time(&cj, at("2026-06-01T00:00:00Z"), &s, true)
        .expect_err("never fires");
    assert_eq!(
        e.to_string(),
        "invalid schedule: 0 0 30 2 * : time difference between two schedules is less than 1 second"
    );
}

#[test]
fn a_slot_missed_past_the_deadline_is_reported() {
    let mut cj = cronjob("* * * * *");
    if let Some(s) = cj.spec.as_mut() {
        s.starting_deadline_seconds = Some(10);
    }
    let s = schedule(&cj).expect("schedule");
    // 00:01:00 was due; at 00:01:30 it is 20 s past its 10 s deadline.
    assert_eq!(
        missed_past_deadline(&cj, at("2026-01-01T00:01:30Z"), &s),
        Some(at("2026-01-01T00:01:00Z"))
    );
    assert_eq!(
        next_schedule_time(&cj, at("2026-01-01T00:01:30Z"), &s),
        Ok(None)
    );
    // Within the deadline it is simply due.
    assert_eq!(
        missed_past_deadline(&cj, at("2026-01-01T00:01:05Z"), &s),
        None
    );
    assert_eq!(
        next_schedule_time(&cj, at("2026-01-01T00:01:05Z"), &s),
        Ok(Some((at("2026-01-01T00:01:00Z"), Missed::None)))
    );
}
