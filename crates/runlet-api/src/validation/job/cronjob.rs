//! CronJob validation: `ValidateCronJobCreate`/`ValidateCronJobUpdate`, the schedule and time
//! zone rules, and the job template.

use super::super::cron;
use super::super::format::{self, NameFn};
use super::super::metadata::{
    validate_nonnegative, validate_object_meta, validate_object_meta_update,
};
use super::super::{json_i64, json_str, non_null};
use super::{meta_path, spec_of, validate_job_spec_common};
use crate::field::{ErrorList, FieldError, Path};
use serde_json::Value;

/// CronJob names leave room for the 11-character `-<minutes>` suffix of their Jobs.
pub const MAX_CRONJOB_NAME_LENGTH: usize = 63 - 11;

/// Validates a new CronJob (`ValidateCronJobCreate`).
pub fn validate_cronjob_create(cj: &Value) -> ErrorList {
    let mut errs = validate_object_meta(
        cj,
        true,
        format::name_is_dns_subdomain as NameFn,
        &meta_path(),
    );
    errs.extend(validate_cronjob_spec(spec_of(cj), None, &Path::new("spec")));
    let name = crate::meta::str_field(cj, "name").unwrap_or("");
    if name.len() > MAX_CRONJOB_NAME_LENGTH {
        errs.push(FieldError::invalid(
            &meta_path().child("name"),
            name,
            format::max_len_error(MAX_CRONJOB_NAME_LENGTH),
        ));
    }
    errs
}

/// Validates a CronJob update (`ValidateCronJobUpdate`; the 52-character limit is skipped so old
/// CronJobs stay editable).
pub fn validate_cronjob_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = validate_object_meta_update(new, old, &meta_path());
    errs.extend(validate_cronjob_spec(
        spec_of(new),
        Some(spec_of(old)),
        &Path::new("spec"),
    ));
    errs
}

fn validate_cronjob_spec(spec: &Value, old: Option<&Value>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let schedule = json_str(spec, "schedule");
    let time_zone = spec.get("timeZone").and_then(Value::as_str);
    if schedule.is_empty() {
        errs.push(FieldError::required(&path.child("schedule"), ""));
    } else {
        let allow_tz = old.is_some_and(|o| json_str(o, "schedule").contains("TZ"));
        errs.extend(validate_schedule_format(
            schedule,
            allow_tz,
            time_zone,
            &path.child("schedule"),
        ));
    }
    if let Some(v) = json_i64(spec, "startingDeadlineSeconds") {
        errs.extend(validate_nonnegative(
            v,
            &path.child("startingDeadlineSeconds"),
        ));
    }
    let tz_changed = old.is_none_or(|o| o.get("timeZone").and_then(Value::as_str) != time_zone);
    if tz_changed {
        errs.extend(validate_time_zone(time_zone, &path.child("timeZone")));
    }
    let cp = path.child("concurrencyPolicy");
    match json_str(spec, "concurrencyPolicy") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(FieldError::required(&cp, "")),
        other => errs.push(FieldError::not_supported(
            &cp,
            other,
            &["Allow", "Forbid", "Replace"],
        )),
    }
    errs.extend(validate_job_template_spec(
        spec.get("jobTemplate").unwrap_or(&Value::Null),
        &path.child("jobTemplate"),
    ));
    for f in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        if let Some(v) = json_i64(spec, f) {
            errs.extend(validate_nonnegative(v, &path.child(f)));
        }
    }
    errs
}

/// `ValidateJobTemplateSpec`: the job spec rules, and no selector (it is always generated).
fn validate_job_template_spec(tmpl: &Value, path: &Path) -> ErrorList {
    let spec = tmpl.get("spec").unwrap_or(&Value::Null);
    let mut errs = validate_job_spec_common(spec, &path.child("spec"));
    if let Some(sel) = non_null(spec.get("selector")) {
        errs.push(FieldError::invalid(
            &path.child("spec").child("selector"),
            sel.clone(),
            "`selector` will be auto-generated",
        ));
    }
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        errs.push(FieldError::not_supported(
            &path.child("spec").child("manualSelector"),
            true,
            &["nil", "false"],
        ));
    }
    errs
}

fn validate_schedule_format(
    schedule: &str,
    allow_tz: bool,
    time_zone: Option<&str>,
    path: &Path,
) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Err(e) = cron::parse_standard(schedule) {
        errs.push(FieldError::invalid(path, schedule, e.to_string()));
    }
    if schedule.contains("TZ") {
        if allow_tz && time_zone.is_some() {
            errs.push(FieldError::invalid(
                path,
                schedule,
                "cannot use both timeZone field and TZ or CRON_TZ in schedule",
            ));
        } else if !allow_tz {
            errs.push(FieldError::invalid(
                path,
                schedule,
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        }
    }
    errs
}

fn valid_tz_part(part: &str) -> bool {
    (1..=14).contains(&part.len())
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
        && part != "."
        && part != ".."
        && !part.starts_with('-')
}

fn validate_time_zone(tz: Option<&str>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(tz) = tz else { return errs };
    if tz.is_empty() {
        errs.push(FieldError::invalid(
            path,
            tz,
            "timeZone must be nil or non-empty string",
        ));
        return errs;
    }
    if !tz.split('/').all(valid_tz_part) {
        errs.push(FieldError::invalid(
            path,
            tz,
            format!("unknown time zone {tz}"),
        ));
        return errs;
    }
    if tz.eq_ignore_ascii_case("Local") {
        errs.push(FieldError::invalid(
            path,
            tz,
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
    }
    if let Err(e) = cron::load_location(tz) {
        errs.push(FieldError::invalid(path, tz, e));
    }
    errs
}
