//! A cron schedule in words and its next run times, computed on the server.
//!
//! The Kubernetes API has no field for a CronJob's next runs, and the console must not
//! re-implement cron in JavaScript (ARCHITECTURE.md: derived facts come from the server). So
//! `GET /console/api/schedule?schedule=S&timeZone=Z&count=N` answers with what the CronJob
//! controller itself would do: the schedule is parsed by [`runlet_api::cronjob::schedule`] from
//! a CronJob carrying `spec.schedule` and `spec.timeZone` (the same code path, time zone rules
//! and error messages as the controller's events) and the next `N` (default 5, at most 20)
//! activations strictly after the server's clock are listed as RFC 3339 times in the zone.
//!
//! It reads no cluster data and needs no credentials. The reply is always `200` with a JSON
//! body; an unusable schedule has `valid: false` and the controller's message in `error`.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, SecondsFormat};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec};
use runlet_api::clock::Clock;
use runlet_api::cronjob;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The query: `schedule`, optional `timeZone`, optional `count`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleQuery {
    pub schedule: String,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub count: Option<usize>,
}

/// The answer.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleInfo {
    pub schedule: String,
    /// The zone the times are in (`UTC` when none was given).
    pub time_zone: String,
    pub valid: bool,
    /// Why the schedule cannot be used (the CronJob controller's event message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The schedule in words, e.g. `at 02:30, Monday through Friday`.
    pub description: String,
    /// The next activations, RFC 3339 with the zone's offset.
    pub next: Vec<String>,
}

/// `GET /console/api/schedule`.
pub async fn handler(
    State(clock): State<Arc<dyn Clock>>,
    Query(q): Query<ScheduleQuery>,
) -> Json<ScheduleInfo> {
    let now = DateTime::from_timestamp_millis(clock.now_millis()).unwrap_or_default();
    Json(info(
        &q.schedule,
        q.time_zone.as_deref(),
        q.count.unwrap_or(5),
        now,
    ))
}

/// The description and next `count` runs of `schedule` in `time_zone` after `now`.
pub fn info(
    schedule: &str,
    time_zone: Option<&str>,
    count: usize,
    now: DateTime<chrono::Utc>,
) -> ScheduleInfo {
    let time_zone = time_zone.filter(|z| !z.is_empty());
    let cj = CronJob {
        spec: Some(CronJobSpec {
            schedule: schedule.to_string(),
            time_zone: time_zone.map(str::to_string),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut out = ScheduleInfo {
        schedule: schedule.to_string(),
        time_zone: time_zone.unwrap_or("UTC").to_string(),
        valid: false,
        error: None,
        description: describe(schedule),
        next: Vec::new(),
    };
    if schedule.contains("TZ") {
        // Upstream validation rejects TZ/CRON_TZ in spec.schedule (apis/batch/validation).
        out.error = Some("cannot use TZ or CRON_TZ in schedule, use timeZone field instead".into());
        return out;
    }
    let tz = match cronjob::time_zone(&cj) {
        Ok(tz) => tz,
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    let parsed = match cronjob::schedule(&cj) {
        Ok(s) => s,
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    let mut at = now.with_timezone(&tz);
    for _ in 0..count.clamp(1, 20) {
        match parsed.next_after(&at) {
            Some(next) => {
                out.next
                    .push(next.to_rfc3339_opts(SecondsFormat::Secs, true));
                at = next;
            }
            None => break,
        }
    }
    if out.next.is_empty() {
        out.error = Some(
            cronjob::ScheduleError::Invalid {
                schedule: schedule.to_string(),
            }
            .to_string(),
        );
        return out;
    }
    out.valid = true;
    out
}

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A schedule in English. Unusual field combinations fall back to naming the fields, so the
/// text is never wrong, only sometimes terse.
pub fn describe(schedule: &str) -> String {
    let s = schedule.trim();
    match s {
        "@yearly" | "@annually" => return "at 00:00 on 1 January".into(),
        "@monthly" => return "at 00:00 on day 1 of the month".into(),
        "@weekly" => return "at 00:00, only on Sunday".into(),
        "@daily" | "@midnight" => return "at 00:00 every day".into(),
        "@hourly" => return "every hour, at minute 0".into(),
        _ => {}
    }
    if let Some(d) = s.strip_prefix("@every ") {
        return format!("every {}", d.trim());
    }
    let f: Vec<&str> = s.split_whitespace().collect();
    let [m, h, dom, mon, dow] = f.as_slice() else {
        return format!("cron schedule {s:?}");
    };
    let mut parts = vec![describe_time(m, h)];
    let days = describe_days(dom, dow);
    if !days.is_empty() {
        parts.push(days);
    }
    if !is_any(mon) {
        parts.push(format!("in {}", describe_list(mon, &MONTHS, 1)));
    }
    parts.join(", ")
}

fn is_any(f: &str) -> bool {
    f == "*" || f == "?"
}

fn number(f: &str) -> Option<u32> {
    f.parse().ok()
}

fn step(f: &str) -> Option<u32> {
    f.strip_prefix("*/").and_then(number)
}

fn describe_time(m: &str, h: &str) -> String {
    match (number(m), number(h)) {
        (Some(m), Some(h)) => return format!("at {h:02}:{m:02}"),
        (Some(m), None) if is_any(h) => return format!("at minute {m} of every hour"),
        (Some(m), None) if step(h).is_some() => {
            return format!("at minute {m} past every {} hours", step(h).unwrap_or(1));
        }
        (Some(m), None) if h.split(',').all(|x| number(x).is_some()) => {
            let times: Vec<String> = h
                .split(',')
                .filter_map(number)
                .map(|h| format!("{h:02}:{m:02}"))
                .collect();
            return format!("at {}", times.join(", "));
        }
        _ => {}
    }
    let minutes = if is_any(m) {
        "every minute".to_string()
    } else if let Some(n) = step(m) {
        format!("every {n} minutes")
    } else {
        format!("at minute {m}")
    };
    if is_any(h) {
        minutes
    } else if let Some(n) = step(h) {
        format!("{minutes} of every {n} hours")
    } else if let Some((a, b)) = h
        .split_once('-')
        .and_then(|(a, b)| Some((number(a)?, number(b)?)))
    {
        format!("{minutes}, between {a:02}:00 and {b:02}:59")
    } else {
        format!("{minutes} past hour {h}")
    }
}

fn describe_days(dom: &str, dow: &str) -> String {
    match (is_any(dom), is_any(dow)) {
        (true, true) => String::new(),
        (true, false) => format!("only on {}", describe_list(dow, &DAYS, 0)),
        (false, true) => format!("on day {dom} of the month"),
        (false, false) => format!(
            "on day {dom} of the month and on {}",
            describe_list(dow, &DAYS, 0)
        ),
    }
}

/// A list/range field of named values (`1-5` → `Monday through Friday`).
fn describe_list(field: &str, names: &[&str], first: u32) -> String {
    let name = |v: &str| -> String {
        match number(v) {
            // Day of week 7 is Sunday too in some crons; robfig rejects it, so it never gets here.
            Some(n) if n >= first => names
                .get((n - first) as usize)
                .map(|s| s.to_string())
                .unwrap_or_else(|| v.to_string()),
            _ => names
                .iter()
                .find(|n| n.get(..3).is_some_and(|p| p.eq_ignore_ascii_case(v)))
                .map(|s| s.to_string())
                .unwrap_or_else(|| v.to_string()),
        }
    };
    let items: Vec<String> = field
        .split(',')
        .map(|item| match item.split_once('-') {
            Some((a, b)) if !b.contains('/') => format!("{} through {}", name(a), name(b)),
            _ if item.contains('/') => format!("every {item}"),
            _ => name(item),
        })
        .collect();
    items.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc: &str) -> DateTime<chrono::Utc> {
        DateTime::parse_from_rfc3339(rfc)
            .expect("time")
            .with_timezone(&chrono::Utc)
    }

    #[test]
    fn next_runs_follow_the_controllers_schedule_in_the_time_zone() {
        let i = info(
            "30 2 * * 1-5",
            Some("Europe/Berlin"),
            3,
            at("2024-03-01T12:00:00Z"),
        );
        assert!(i.valid, "{i:?}");
        // 2024-03-01 is a Friday: next weekday runs are Mon 4th, Tue 5th, Wed 6th, 02:30 CET.
        assert_eq!(
            i.next,
            vec![
                "2024-03-04T02:30:00+01:00",
                "2024-03-05T02:30:00+01:00",
                "2024-03-06T02:30:00+01:00"
            ]
        );
        assert_eq!(i.description, "at 02:30, only on Monday through Friday");
    }

    #[test]
    fn unparseable_schedule_reports_the_controllers_message() {
        let i = info("61 * * * *", None, 5, at("2024-03-01T12:00:00Z"));
        assert!(!i.valid);
        assert!(
            i.error
                .as_deref()
                .is_some_and(|e| e.starts_with("unparseable schedule")),
            "{i:?}"
        );
        assert!(i.next.is_empty());
    }

    #[test]
    fn unknown_time_zone_is_rejected() {
        let i = info(
            "* * * * *",
            Some("Mars/Olympus"),
            5,
            at("2024-03-01T12:00:00Z"),
        );
        assert!(!i.valid);
        assert!(
            i.error
                .as_deref()
                .is_some_and(|e| e.contains("invalid timeZone"))
        );
    }

    #[test]
    fn schedule_that_never_fires_is_invalid() {
        // 30 February: upstream's InvalidSchedule.
        let i = info("0 0 30 2 *", None, 5, at("2024-03-01T12:00:00Z"));
        assert!(!i.valid);
        assert!(
            i.error
                .as_deref()
                .is_some_and(|e| e.starts_with("invalid schedule"))
        );
    }

    #[test]
    fn count_is_bounded() {
        let i = info("* * * * *", None, 1000, at("2024-03-01T12:00:00Z"));
        assert_eq!(i.next.len(), 20);
        assert_eq!(
            i.next.first().map(String::as_str),
            Some("2024-03-01T12:01:00Z")
        );
    }

    #[test]
    fn descriptions_read_as_english() {
        assert_eq!(describe("*/5 * * * *"), "every 5 minutes");
        assert_eq!(describe("* * * * *"), "every minute");
        assert_eq!(describe("0 * * * *"), "at minute 0 of every hour");
        assert_eq!(describe("0 9,17 * * *"), "at 09:00, 17:00");
        assert_eq!(describe("15 4 1 * *"), "at 04:15, on day 1 of the month");
        assert_eq!(
            describe("0 0 * 1,jul sun"),
            "at 00:00, only on Sunday, in January, July"
        );
        assert_eq!(describe("@hourly"), "every hour, at minute 0");
        assert_eq!(describe("@every 1h30m"), "every 1h30m");
        assert_eq!(
            describe("*/10 9-17 * * *"),
            "every 10 minutes, between 09:00 and 17:59"
        );
    }
}
