//! CronJob controller tests against the real API server in-process, on a fake clock. Time moves
//! only when a test moves it; `run_due`/`sync_all` then do the due work and return when its
//! writes are done, so nothing here sleeps. Job status is written through the `jobs/status`
//! subresource, as the Job controller would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::{
    CronJob, CronJobSpec, Job, JobCondition, JobSpec, JobStatus, JobTemplateSpec,
};
use k8s_openapi::api::core::v1::{Container, Event, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams, PostParams};
use runlet_api::cronjob::{SCHEDULED_TIMESTAMP_ANNOTATION, to_time};
use runlet_test::{EPOCH, TestApi};
use std::time::Duration;

const NS: &str = "default";

struct Harness {
    api: TestApi,
    ctl: CronJobController,
}

async fn harness() -> Harness {
    let api = TestApi::start().await;
    let ctl = CronJobController::new(api.client.clone(), api.clock.clone());
    Harness { api, ctl }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn unix(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap()
}

fn spec(schedule: &str) -> CronJobSpec {
    CronJobSpec {
        schedule: schedule.into(),
        job_template: JobTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "report".to_string())].into()),
                ..Default::default()
            }),
            spec: Some(JobSpec {
                template: PodTemplateSpec {
                    metadata: None,
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: "main".into(),
                            image: Some("busybox".into()),
                            command: Some(vec!["true".into()]),
                            ..Default::default()
                        }],
                        restart_policy: Some("Never".into()),
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
        },
        ..Default::default()
    }
}

impl Harness {
    fn key(&self, name: &str) -> ObjectKey {
        ObjectKey::new(NS, name)
    }

    fn set_clock(&self, t: DateTime<Utc>) {
        self.api.clock.set(t.timestamp());
    }

    fn advance(&self, secs: i64) {
        self.api.clock.advance_millis(secs * 1000);
    }

    fn cronjobs(&self) -> Api<CronJob> {
        Api::namespaced(self.api.client.clone(), NS)
    }

    fn jobs_api(&self) -> Api<Job> {
        Api::namespaced(self.api.client.clone(), NS)
    }

    async fn create(&self, name: &str, spec: CronJobSpec) -> CronJob {
        let cj = CronJob {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            spec: Some(spec),
            status: None,
        };
        self.cronjobs()
            .create(&PostParams::default(), &cj)
            .await
            .unwrap()
    }

    async fn get(&self, name: &str) -> CronJob {
        self.cronjobs().get(name).await.unwrap()
    }

    /// Job names, sorted.
    async fn jobs(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .jobs_api()
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|j| j.metadata.name)
            .collect();
        names.sort();
        names
    }

    /// Events with `reason`, oldest first, as (message, count).
    async fn events(&self, reason: &str) -> Vec<(String, i32)> {
        let events: Api<Event> = Api::namespaced(self.api.client.clone(), NS);
        let mut list = events.list(&Default::default()).await.unwrap().items;
        list.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        list.into_iter()
            .filter(|e| e.reason.as_deref() == Some(reason))
            .map(|e| (e.message.unwrap_or_default(), e.count.unwrap_or(0)))
            .collect()
    }

    async fn active(&self, name: &str) -> Vec<String> {
        self.get(name)
            .await
            .status
            .and_then(|s| s.active)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| r.name)
            .collect()
    }

    async fn last_schedule(&self, name: &str) -> Option<DateTime<Utc>> {
        self.get(name)
            .await
            .status
            .and_then(|s| s.last_schedule_time)
            .map(|t| runlet_api::cronjob::to_chrono(&t))
    }

    /// Finishes a Job through its status subresource, as the Job controller does: the
    /// interim condition, then `Complete` (with `completionTime`) or `Failed`.
    async fn finish(&self, job: &str, complete: bool, started: i64, ended: i64) {
        let api = self.jobs_api();
        let mut j = api.get_status(job).await.unwrap();
        let cond = |ty: &str| JobCondition {
            type_: ty.into(),
            status: "True".into(),
            last_transition_time: Some(to_time(unix(ended))),
            ..Default::default()
        };
        let conditions = if complete {
            vec![cond("SuccessCriteriaMet"), cond("Complete")]
        } else {
            vec![cond("FailureTarget"), cond("Failed")]
        };
        j.status = Some(JobStatus {
            start_time: Some(to_time(unix(started))),
            completion_time: complete.then(|| to_time(unix(ended))),
            conditions: Some(conditions),
            succeeded: complete.then_some(1),
            failed: (!complete).then_some(1),
            ..Default::default()
        });
        api.replace_status(job, &PostParams::default(), &j)
            .await
            .unwrap();
    }
}

fn job_at(cronjob: &str, t: DateTime<Utc>) -> String {
    format!("{cronjob}-{}", t.timestamp() / 60)
}

#[tokio::test]
async fn every_minute_schedule_creates_one_job_per_minute() {
    let h = harness().await;
    let cj = h.create("report", spec("* * * * *")).await;
    h.ctl.sync_all().await.unwrap();
    assert!(h.jobs().await.is_empty(), "nothing is due at creation");
    // The controller waits for exactly the next schedule time, not a polling tick.
    assert_eq!(h.ctl.due_of(&h.key("report")), Some(unix(EPOCH + 60)));

    h.advance(59);
    assert_eq!(h.ctl.run_due().await, 0, "one second early: nothing due");
    h.advance(1);
    assert_eq!(h.ctl.run_due().await, 1);
    let first = job_at("report", unix(EPOCH + 60));
    assert_eq!(h.jobs().await, vec![first.clone()]);
    assert_eq!(h.ctl.due_of(&h.key("report")), Some(unix(EPOCH + 120)));

    // The Job as upstream builds it: template labels, the scheduled-timestamp annotation, a
    // controller reference to the CronJob.
    let job = h.jobs_api().get(&first).await.unwrap();
    assert_eq!(
        job.metadata.labels.unwrap().get("app").map(String::as_str),
        Some("report")
    );
    assert_eq!(
        job.metadata
            .annotations
            .unwrap()
            .get(SCHEDULED_TIMESTAMP_ANNOTATION)
            .map(String::as_str),
        Some("2026-01-01T00:01:00Z")
    );
    let owner = &job.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
        ("CronJob", "report", cj.metadata.uid.as_deref().unwrap())
    );
    assert_eq!(owner.controller, Some(true));
    assert_eq!(owner.block_owner_deletion, Some(true));

    // Status through the status subresource.
    assert_eq!(h.active("report").await, vec![first.clone()]);
    assert_eq!(h.last_schedule("report").await, Some(unix(EPOCH + 60)));

    // Re-running at the same instant creates nothing more.
    h.ctl.sync_all().await.unwrap();
    assert_eq!(h.jobs().await.len(), 1);

    // Allow: the next minute runs alongside the first.
    h.advance(60);
    h.ctl.run_due().await;
    let second = job_at("report", unix(EPOCH + 120));
    assert_eq!(h.jobs().await, vec![first.clone(), second.clone()]);
    assert_eq!(
        h.active("report").await,
        vec![first.clone(), second.clone()]
    );

    // Events as core/v1 Events about the CronJob.
    assert_eq!(
        h.events("SuccessfulCreate").await,
        vec![
            (format!("Created job {first}"), 1),
            (format!("Created job {second}"), 1)
        ]
    );
    let events: Api<Event> = Api::namespaced(h.api.client.clone(), NS);
    let e = events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|e| e.reason.as_deref() == Some("SuccessfulCreate"))
        .unwrap();
    let io = e.involved_object;
    assert_eq!(io.kind.as_deref(), Some("CronJob"));
    assert_eq!(io.api_version.as_deref(), Some("batch/v1"));
    assert_eq!(io.name.as_deref(), Some("report"));
    assert_eq!(io.uid, cj.metadata.uid);
    assert_eq!(e.type_.as_deref(), Some("Normal"));
    assert_eq!(
        e.source.and_then(|s| s.component).as_deref(),
        Some("cronjob-controller")
    );
}

#[tokio::test]
async fn forbid_skips_while_a_run_is_active() {
    let h = harness().await;
    let mut s = spec("* * * * *");
    s.concurrency_policy = Some("Forbid".into());
    h.create("sync", s).await;
    h.ctl.sync_all().await.unwrap();
    h.advance(60);
    h.ctl.run_due().await;
    let first = job_at("sync", unix(EPOCH + 60));
    assert_eq!(h.jobs().await, vec![first.clone()]);

    h.advance(60);
    h.ctl.run_due().await;
    assert_eq!(
        h.jobs().await,
        vec![first.clone()],
        "no second run while one is active"
    );
    assert_eq!(
        h.events("JobAlreadyActive").await,
        vec![(
            "Not starting job because prior execution is running and concurrency policy is Forbid"
                .to_string(),
            1
        )]
    );
    // Still waking on schedule; the same event again is aggregated (count 2), as client-go's
    // correlator does.
    assert_eq!(h.ctl.due_of(&h.key("sync")), Some(unix(EPOCH + 180)));
    h.advance(60);
    h.ctl.run_due().await;
    assert_eq!(h.jobs().await, vec![first.clone()]);
    assert_eq!(h.events("JobAlreadyActive").await[0].1, 2);

    // The run finishes; as upstream, the latest skipped time (no deadline set) now starts
    // late, and the finished Job leaves the active list.
    h.advance(30);
    h.finish(&first, true, EPOCH + 61, EPOCH + 200).await;
    h.ctl.sync_all().await.unwrap();
    let second = job_at("sync", unix(EPOCH + 180));
    assert_eq!(h.jobs().await, vec![first.clone(), second.clone()]);
    assert_eq!(h.active("sync").await, vec![second]);
    assert_eq!(
        h.events("SawCompletedJob").await,
        vec![(
            format!("Saw completed job: {first}, condition: Complete"),
            1
        )]
    );
    let status = h.get("sync").await.status.unwrap();
    assert_eq!(
        status.last_successful_time.map(|t| t.0.as_second()),
        Some(EPOCH + 200)
    );
}

#[tokio::test]
async fn a_time_skipped_by_forbid_or_passed_while_suspended_is_not_reported_missed() {
    let h = harness().await;
    let mut s = spec("* * * * *");
    s.concurrency_policy = Some("Forbid".into());
    s.starting_deadline_seconds = Some(10);
    h.create("quiet", s).await;
    h.ctl.sync_all().await.unwrap();
    h.advance(60);
    h.ctl.run_due().await;
    let first = job_at("quiet", unix(EPOCH + 60));
    h.advance(60);
    h.ctl.run_due().await;
    assert_eq!(h.events("JobAlreadyActive").await.len(), 1);
    // The run ends 20 s after the 00:02 time it held back: past the deadline, but that time
    // was accounted for as JobAlreadyActive.
    h.advance(20);
    h.finish(&first, true, EPOCH + 61, EPOCH + 140).await;
    h.ctl.sync_all().await.unwrap();
    assert_eq!(h.jobs().await, vec![first]);
    assert!(h.events("MissSchedule").await.is_empty());

    // Suspended over the 00:03 time, resumed 30 s after it: nothing was meant to run then.
    let suspend = |on: bool| serde_json::json!({"spec": {"suspend": on}});
    h.cronjobs()
        .patch(
            "quiet",
            &PatchParams::default(),
            &Patch::Merge(&suspend(true)),
        )
        .await
        .unwrap();
    h.ctl.sync_all().await.unwrap();
    // No reconcile while it stays suspended: it is not woken at its times.
    h.advance(70);
    h.cronjobs()
        .patch(
            "quiet",
            &PatchParams::default(),
            &Patch::Merge(&suspend(false)),
        )
        .await
        .unwrap();
    h.ctl.sync_all().await.unwrap();
    assert!(h.events("MissSchedule").await.is_empty());
    assert_eq!(h.ctl.due_of(&h.key("quiet")), Some(unix(EPOCH + 240)));
}

/// A schedule that fires more than once a minute names the same Job for each time within the
/// minute: a run already over is not made active again (which had the CronJob and its status
/// writes wake each other without end), and the time counts as scheduled.
#[tokio::test]
async fn a_sub_minute_schedule_does_not_revive_a_finished_job() {
    let h = harness().await;
    h.create("often", spec("@every 20s")).await;
    h.ctl.sync_all().await.unwrap();
    h.advance(20);
    h.ctl.run_due().await;
    let first = job_at("often", unix(EPOCH + 20));
    assert_eq!(h.jobs().await, vec![first.clone()]);
    h.finish(&first, true, EPOCH + 20, EPOCH + 21).await;
    h.ctl.sync_all().await.unwrap();
    assert!(h.active("often").await.is_empty());
    h.advance(20);
    h.ctl.run_due().await;
    assert!(
        h.active("often").await.is_empty(),
        "the finished run stays finished"
    );
    h.ctl.sync_all().await.unwrap();
    assert_eq!(
        h.events("SawCompletedJob").await.len(),
        1,
        "seen finishing once"
    );
    assert_eq!(h.last_schedule("often").await, Some(unix(EPOCH + 40)));
    assert_eq!(h.ctl.due_of(&h.key("often")), Some(unix(EPOCH + 60)));
}

#[tokio::test]
async fn replace_deletes_the_running_job() {
    let h = harness().await;
    let mut s = spec("* * * * *");
    s.concurrency_policy = Some("Replace".into());
    h.create("etl", s).await;
    h.ctl.sync_all().await.unwrap();
    h.advance(60);
    h.ctl.run_due().await;
    let first = job_at("etl", unix(EPOCH + 60));
    h.advance(60);
    h.ctl.run_due().await;
    let second = job_at("etl", unix(EPOCH + 120));
    assert_eq!(h.jobs().await, vec![second.clone()]);
    assert_eq!(h.active("etl").await, vec![second.clone()]);
    assert_eq!(
        h.events("SuccessfulDelete").await,
        vec![(format!("Deleted job {first}"), 1)]
    );
}

#[tokio::test]
async fn starting_deadline_too_small_reports_the_missed_run() {
    let h = harness().await;
    let mut s = spec("* * * * *");
    s.starting_deadline_seconds = Some(10);
    h.create("late", s).await;
    h.ctl.sync_all().await.unwrap();
    // The controller was away: it looks 30 s after the 00:01 slot, 20 s past its deadline.
    h.advance(90);
    h.ctl.run_due().await;
    assert!(
        h.jobs().await.is_empty(),
        "a run past its deadline is not started"
    );
    assert_eq!(
        h.events("MissSchedule").await,
        vec![(
            "Missed scheduled time to start a job: Thu, 01 Jan 2026 00:01:00 +0000".to_string(),
            1
        )]
    );
    // Reported once, however often the CronJob is looked at; the next slot still runs.
    h.ctl.sync_all().await.unwrap();
    assert_eq!(h.events("MissSchedule").await.len(), 1);
    assert_eq!(h.ctl.due_of(&h.key("late")), Some(unix(EPOCH + 120)));
    h.advance(30);
    h.ctl.run_due().await;
    assert_eq!(h.jobs().await, vec![job_at("late", unix(EPOCH + 120))]);
}

#[tokio::test]
async fn three_hours_down_with_an_hourly_schedule_runs_only_the_latest_slot() {
    let h = harness().await;
    h.create("hourly", spec("0 * * * *")).await;
    // The controller first sees the CronJob at 03:30, three slots later.
    h.advance(3 * 3600 + 1800);
    h.ctl.sync_all().await.unwrap();
    assert_eq!(
        h.jobs().await,
        vec![job_at("hourly", unix(EPOCH + 3 * 3600))]
    );
    assert_eq!(
        h.last_schedule("hourly").await,
        Some(unix(EPOCH + 3 * 3600))
    );
    assert_eq!(h.ctl.due_of(&h.key("hourly")), Some(unix(EPOCH + 4 * 3600)));
    assert!(h.events("TooManyMissedTimes").await.is_empty());
}

#[tokio::test]
async fn more_than_a_hundred_missed_times_warns_and_runs_the_latest() {
    let h = harness().await;
    h.create("often", spec("* * * * *")).await;
    h.advance(101 * 60 + 30);
    h.ctl.sync_all().await.unwrap();
    assert_eq!(
        h.events("TooManyMissedTimes").await,
        vec![(
            "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"
                .to_string(),
            1
        )]
    );
    assert_eq!(
        h.jobs().await,
        vec![job_at("often", unix(EPOCH + 101 * 60))]
    );
}

#[tokio::test]
async fn history_limits_delete_the_oldest_finished_jobs() {
    let h = harness().await;
    let mut s = spec("* * * * *");
    s.successful_jobs_history_limit = Some(1);
    s.failed_jobs_history_limit = Some(1);
    h.create("hist", s).await;
    h.ctl.sync_all().await.unwrap();
    let mut names = Vec::new();
    for minute in 1..=4 {
        h.advance(60);
        h.ctl.run_due().await;
        names.push(job_at("hist", unix(EPOCH + minute * 60)));
    }
    assert_eq!(h.jobs().await, names);
    // Two succeed, two fail; each list keeps only its newest (by start time).
    h.finish(&names[0], true, EPOCH + 60, EPOCH + 61).await;
    h.finish(&names[1], false, EPOCH + 120, EPOCH + 121).await;
    h.finish(&names[2], true, EPOCH + 180, EPOCH + 181).await;
    h.finish(&names[3], false, EPOCH + 240, EPOCH + 241).await;
    h.ctl.sync_all().await.unwrap();
    assert_eq!(h.jobs().await, vec![names[2].clone(), names[3].clone()]);
    let mut deleted = h.events("SuccessfulDelete").await;
    deleted.sort();
    assert_eq!(
        deleted,
        vec![
            (format!("Deleted job {}", names[0]), 1),
            (format!("Deleted job {}", names[1]), 1)
        ]
    );
    assert!(h.active("hist").await.is_empty());
}

#[tokio::test]
async fn suspend_stops_new_runs_without_touching_running_ones() {
    let h = harness().await;
    h.create("paused", spec("* * * * *")).await;
    h.ctl.sync_all().await.unwrap();
    h.advance(60);
    h.ctl.run_due().await;
    let first = job_at("paused", unix(EPOCH + 60));

    let patch = serde_json::json!({"spec": {"suspend": true}});
    h.cronjobs()
        .patch("paused", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    h.advance(180);
    h.ctl.sync_all().await.unwrap();
    assert_eq!(
        h.jobs().await,
        vec![first.clone()],
        "no new runs while suspended"
    );
    assert_eq!(
        h.active("paused").await,
        vec![first.clone()],
        "the running Job stays"
    );
    assert_eq!(h.ctl.due_of(&h.key("paused")), None, "nothing to wake for");

    // Resumed: as upstream, the most recent missed time runs (no deadline set).
    let patch = serde_json::json!({"spec": {"suspend": false}});
    h.cronjobs()
        .patch("paused", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    h.ctl.sync_all().await.unwrap();
    assert_eq!(
        h.jobs().await,
        vec![first, job_at("paused", unix(EPOCH + 240))]
    );
}

#[tokio::test]
async fn time_zone_new_york_follows_the_dst_change() {
    let h = harness().await;
    // Saturday 2026-03-07 12:00 UTC (07:00 EST); DST starts Sunday 2026-03-08 02:00.
    h.set_clock(at("2026-03-07T12:00:00Z"));
    let mut nine = spec("0 9 * * *");
    nine.time_zone = Some("America/New_York".into());
    h.create("nine", nine).await;
    let mut early = spec("30 2 * * *");
    early.time_zone = Some("America/New_York".into());
    h.create("early", early).await;
    h.ctl.sync_all().await.unwrap();
    assert_eq!(
        h.ctl.due_of(&h.key("nine")),
        Some(at("2026-03-07T14:00:00Z"))
    );
    // 02:30 does not exist on the 8th: robfig (and so upstream) skips that day.
    assert_eq!(
        h.ctl.due_of(&h.key("early")),
        Some(at("2026-03-09T06:30:00Z"))
    );

    h.set_clock(at("2026-03-07T14:00:00Z"));
    h.ctl.run_due().await;
    // 09:00 EDT on the 8th is an hour earlier in UTC.
    assert_eq!(
        h.ctl.due_of(&h.key("nine")),
        Some(at("2026-03-08T13:00:00Z"))
    );
    h.set_clock(at("2026-03-08T13:00:00Z"));
    h.ctl.run_due().await;
    let annotations = |j: Job| {
        j.metadata
            .annotations
            .unwrap()
            .get(SCHEDULED_TIMESTAMP_ANNOTATION)
            .cloned()
            .unwrap()
    };
    let est = job_at("nine", at("2026-03-07T14:00:00Z"));
    let edt = job_at("nine", at("2026-03-08T13:00:00Z"));
    assert_eq!(
        annotations(h.jobs_api().get(&est).await.unwrap()),
        "2026-03-07T09:00:00-05:00"
    );
    assert_eq!(
        annotations(h.jobs_api().get(&edt).await.unwrap()),
        "2026-03-08T09:00:00-04:00"
    );
    h.set_clock(at("2026-03-09T06:30:00Z"));
    h.ctl.run_due().await;
    let names = h.jobs().await;
    assert_eq!(
        names,
        vec![job_at("early", at("2026-03-09T06:30:00Z")), est, edt]
    );
}

#[tokio::test]
async fn restart_resumes_from_last_schedule_time() {
    let h = harness().await;
    h.create("resume", spec("* * * * *")).await;
    h.ctl.sync_all().await.unwrap();
    h.advance(60);
    h.ctl.run_due().await;
    assert_eq!(h.last_schedule("resume").await, Some(unix(EPOCH + 60)));

    // The first controller goes away; a new one starts four and a half minutes later.
    let Harness { api, ctl } = h;
    drop(ctl);
    api.clock.advance_millis(270_000);
    let second = CronJobController::new(api.client.clone(), api.clock.clone());
    second.sync_all().await.unwrap();
    let h = Harness { api, ctl: second };
    assert_eq!(
        h.jobs().await,
        vec![
            job_at("resume", unix(EPOCH + 60)),
            job_at("resume", unix(EPOCH + 300))
        ],
        "only the most recent missed minute runs"
    );
    assert_eq!(h.ctl.due_of(&h.key("resume")), Some(unix(EPOCH + 360)));
}

#[tokio::test]
async fn a_job_the_controller_did_not_create_is_reported_unexpected() {
    let h = harness().await;
    let cj = h.create("adhoc", spec("0 0 * * *")).await;
    // `kubectl create job manual-1 --from=cronjob/adhoc`.
    let job = runlet_api::cronjob::job_from_cronjob(&cj, "manual-1", true, None);
    h.jobs_api()
        .create(&PostParams::default(), &job)
        .await
        .unwrap();
    h.ctl.sync_all().await.unwrap();
    assert_eq!(
        h.events("UnexpectedJob").await,
        vec![(
            "Saw a job that the controller did not create or forgot: manual-1".to_string(),
            1
        )]
    );
    assert!(h.active("adhoc").await.is_empty());
}

#[tokio::test]
async fn invalid_schedule_warns_and_waits_for_a_change() {
    let h = harness().await;
    h.create("never", spec("0 0 30 2 *")).await;
    h.ctl.sync_all().await.unwrap();
    assert_eq!(
        h.events("InvalidSchedule").await,
        vec![(
            "invalid schedule: 0 0 30 2 * : time difference between two schedules is less than 1 second"
                .to_string(),
            1
        )]
    );
    assert_eq!(h.ctl.due_of(&h.key("never")), None);
}

/// Polls `cond` every millisecond for at most five seconds (the `run` loop works in the
/// background; this bounds the wait for its effect).
async fn eventually<F, Fut>(mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..5000 {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    false
}

#[tokio::test]
async fn run_loop_creates_the_job_when_the_clock_reaches_the_schedule() {
    let h = harness().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = h.ctl.run(async {
        let _ = stopped.await;
    });
    let body = async {
        h.create("looped", spec("* * * * *")).await;
        // The watch queues the new CronJob; its reconcile queues the next minute.
        assert!(
            eventually(|| async { h.ctl.due_of(&h.key("looped")) == Some(unix(EPOCH + 60)) }).await
        );
        h.advance(60);
        h.ctl.wake();
        assert!(eventually(|| async { !h.jobs().await.is_empty() }).await);
        assert_eq!(h.jobs().await, vec![job_at("looped", unix(EPOCH + 60))]);
        let _ = stop.send(());
    };
    let (result, ()) = tokio::join!(run, body);
    result.unwrap();
}

#[tokio::test]
async fn a_schedule_change_waits_for_the_new_schedule_s_next_time() {
    let h = harness().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = h.ctl.run(async {
        let _ = stopped.await;
    });
    let body = async {
        h.create("moved", spec("0 0 1 1 *")).await;
        let next_year = unix(EPOCH + 365 * 24 * 3600);
        assert!(eventually(|| async { h.ctl.due_of(&h.key("moved")) == Some(next_year) }).await);
        h.advance(90);
        let patch = serde_json::json!({"spec": {"schedule": "* * * * *"}});
        h.cronjobs()
            .patch("moved", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        // As upstream's updateCronJob: the next time of the new schedule (00:02), not a late
        // run of its latest past time (00:01) now.
        assert!(
            eventually(|| async { h.ctl.due_of(&h.key("moved")) == Some(unix(EPOCH + 120)) }).await
        );
        assert!(h.jobs().await.is_empty());
        h.advance(30);
        h.ctl.wake();
        assert!(eventually(|| async { !h.jobs().await.is_empty() }).await);
        assert_eq!(h.jobs().await, vec![job_at("moved", unix(EPOCH + 120))]);
        let _ = stop.send(());
    };
    let (result, ()) = tokio::join!(run, body);
    result.unwrap();
}
