//! Job status updates: `ValidateJobUpdateStatus` with the options 1.33's status strategy
//! enables (counters never decrease, terminal conditions stay, finished-Job invariants).

use super::super::metadata::{validate_nonnegative, validate_object_meta_update};
use super::super::{at, invalid_omit, json_i64, json_str, non_null};
use super::{arr, is_indexed, meta_path, parse_index_interval, spec_of, validate_indexes_format};
use crate::field::{ErrorList, FieldError, Path};
use serde_json::Value;

fn condition_true(job: &Value, ty: &str) -> bool {
    at(job, &["status", "conditions"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| json_str(c, "type") == ty && json_str(c, "status") == "True")
}

fn is_finished(job: &Value) -> bool {
    condition_true(job, "Complete") || condition_true(job, "Failed")
}

/// `ValidateJobUpdateStatus` with the options 1.33's status strategy enables: counters never
/// decrease, terminal conditions stay, and the rules about finished Jobs apply when the fields
/// involved change.
pub fn validate_job_status_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = validate_object_meta_update(new, old, &meta_path());
    let sp = Path::new("status");
    let ns = new.get("status").unwrap_or(&Value::Null);
    let os = old.get("status").unwrap_or(&Value::Null);
    let spec = spec_of(new);
    let i = |s: &Value, k: &str| json_i64(s, k).unwrap_or(0);
    let changed = |k: &str| non_null(ns.get(k)) != non_null(os.get(k));
    let finished_changed = is_finished(old) != is_finished(new);
    let complete_changed = condition_true(old, "Complete") != condition_true(new, "Complete");
    let failed_changed = condition_true(old, "Failed") != condition_true(new, "Failed");
    let failure_target_changed =
        condition_true(old, "FailureTarget") != condition_true(new, "FailureTarget");
    let completed_changed = json_str(ns, "completedIndexes") != json_str(os, "completedIndexes");
    let failed_ix_changed = changed("failedIndexes");
    let indexed = is_indexed(spec);
    let complete = condition_true(new, "Complete");
    let failed = condition_true(new, "Failed");
    let finished = is_finished(new);
    let sc_met = condition_true(new, "SuccessCriteriaMet");
    let failure_target = condition_true(new, "FailureTarget");

    for f in ["active", "succeeded", "failed"] {
        errs.extend(validate_nonnegative(i(ns, f), &sp.child(f)));
    }
    for f in ["ready", "terminating"] {
        if let Some(v) = json_i64(ns, f) {
            errs.extend(validate_nonnegative(v, &sp.child(f)));
        }
    }
    if let Some(u) = non_null(ns.get("uncountedTerminatedPods")) {
        let up = sp.child("uncountedTerminatedPods");
        let mut seen = std::collections::BTreeSet::new();
        for list in ["succeeded", "failed"] {
            for (j, uid) in arr(u, list).iter().enumerate() {
                let uid = uid.as_str().unwrap_or("");
                let p = up.child(list).index(j);
                if uid.is_empty() {
                    errs.push(FieldError::invalid(&p, uid, "must not be empty"));
                } else if !seen.insert(uid) {
                    errs.push(FieldError::duplicate(&p, uid));
                }
            }
        }
    }
    let cond = sp.child("conditions");
    if (complete_changed || failed_changed) && complete && failed {
        errs.push(invalid_omit(
            &cond,
            "cannot set Complete=True and Failed=true conditions",
        ));
    }
    if (complete_changed || failure_target_changed) && complete && failure_target {
        errs.push(invalid_omit(
            &cond,
            "cannot set Complete=True and FailureTarget=true conditions",
        ));
    }
    let completion_time = non_null(ns.get("completionTime"));
    let start_time = non_null(ns.get("startTime"));
    if (complete_changed || changed("completionTime")) && completion_time.is_some() && !complete {
        errs.push(FieldError::invalid(
            &sp.child("completionTime"),
            completion_time.cloned().unwrap_or(Value::Null),
            "cannot set completionTime when there is no Complete=True condition",
        ));
    }
    if (complete_changed || changed("completionTime")) && completion_time.is_none() && complete {
        errs.push(FieldError::required(
            &sp.child("completionTime"),
            "completionTime is required for Complete jobs",
        ));
    }
    if (changed("startTime") || changed("completionTime"))
        && let (Some(s), Some(c)) = (
            start_time.and_then(Value::as_str),
            completion_time.and_then(Value::as_str),
        )
        && c < s
    {
        errs.push(FieldError::invalid(
            &sp.child("completionTime"),
            c,
            "must be equal to or after `startTime`",
        ));
    }
    if (failed_changed || failed_ix_changed) && failed && !failure_target {
        errs.push(invalid_omit(
            &cond,
            "cannot set Failed=True condition without the FailureTarget=true condition",
        ));
    }
    if complete_changed && complete && !sc_met {
        errs.push(invalid_omit(
            &cond,
            "cannot set Complete=True condition without the SuccessCriteriaMet=true condition",
        ));
    }
    if (finished_changed || changed("active")) && i(ns, "active") > 0 && finished {
        errs.push(FieldError::invalid(
            &sp.child("active"),
            i(ns, "active"),
            "active>0 is invalid for finished job",
        ));
    }
    if (finished_changed || changed("startTime")) && start_time.is_none() && finished {
        errs.push(FieldError::required(
            &sp.child("startTime"),
            "startTime is required for finished job",
        ));
    }
    if (finished_changed || changed("uncountedTerminatedPods"))
        && finished
        && let Some(u) = non_null(ns.get("uncountedTerminatedPods"))
        && (!arr(u, "succeeded").is_empty() || !arr(u, "failed").is_empty())
    {
        errs.push(FieldError::invalid(
            &sp.child("uncountedTerminatedPods"),
            u.clone(),
            "uncountedTerminatedPods needs to be empty for finished job",
        ));
    }
    let completions = json_i64(spec, "completions");
    let completed_ix = json_str(ns, "completedIndexes");
    let failed_ix = ns.get("failedIndexes").and_then(Value::as_str);
    if completed_changed
        && let Some(c) = completions
        && let Err(e) = validate_indexes_format(completed_ix, c)
    {
        errs.push(FieldError::invalid(
            &sp.child("completedIndexes"),
            completed_ix,
            format!("error parsing completedIndexes: {e}"),
        ));
    }
    if failed_ix_changed
        && let (Some(c), Some(_), Some(f)) = (
            completions,
            json_i64(spec, "backoffLimitPerIndex"),
            failed_ix,
        )
        && let Err(e) = validate_indexes_format(f, c)
    {
        errs.push(FieldError::invalid(
            &sp.child("failedIndexes"),
            f,
            format!("error parsing failedIndexes: {e}"),
        ));
    }
    if completed_changed && !completed_ix.is_empty() && !indexed {
        errs.push(FieldError::invalid(
            &sp.child("completedIndexes"),
            completed_ix,
            "cannot set non-empty completedIndexes when non-indexed completion mode",
        ));
    }
    if failed_ix_changed
        && json_i64(spec, "backoffLimitPerIndex").is_none()
        && let Some(f) = failed_ix
    {
        errs.push(FieldError::invalid(
            &sp.child("failedIndexes"),
            f,
            "cannot set non-null failedIndexes when backoffLimitPerIndex is null",
        ));
    }
    if (failed_ix_changed || completed_changed)
        && !completed_ix.is_empty()
        && let (Some(c), Some(f)) = (completions, failed_ix.filter(|f| !f.is_empty()))
        && let Some(ix) = first_overlap(completed_ix, f, c)
    {
        errs.push(FieldError::invalid(
            &sp.child("failedIndexes"),
            f,
            format!("failedIndexes and completedIndexes overlap at index: {ix}"),
        ));
    }
    if (finished_changed || changed("terminating"))
        && finished
        && json_i64(ns, "terminating").unwrap_or(0) > 0
    {
        errs.push(FieldError::invalid(
            &sp.child("terminating"),
            i(ns, "terminating"),
            "terminating>0 is invalid for finished job",
        ));
    }
    if (changed("ready") || changed("active"))
        && let Some(r) = json_i64(ns, "ready")
        && r > i(ns, "active")
    {
        errs.push(FieldError::invalid(
            &sp.child("ready"),
            r,
            "cannot set more ready pods than active",
        ));
    }
    if sc_met && failed {
        errs.push(invalid_omit(
            &cond,
            "cannot set SuccessCriteriaMet=True and Failed=true conditions",
        ));
    }
    if sc_met && failure_target {
        errs.push(invalid_omit(
            &cond,
            "cannot set SuccessCriteriaMet=True and FailureTarget=true conditions",
        ));
    }
    if non_null(spec.get("successPolicy")).is_some() && !sc_met && complete {
        errs.push(invalid_omit(
            &cond,
            "cannot set Complete=True for Job with SuccessPolicy unless SuccessCriteriaMet=True",
        ));
    }
    // transitions
    for ty in ["Failed", "Complete", "FailureTarget"] {
        if condition_true(old, ty) && !condition_true(new, ty) {
            errs.push(invalid_omit(
                &cond,
                format!("cannot disable the terminal {ty}=True condition"),
            ));
        }
    }
    if i(ns, "failed") < i(os, "failed") {
        errs.push(FieldError::invalid(
            &sp.child("failed"),
            i(ns, "failed"),
            "cannot decrease the failed counter",
        ));
    }
    let may_decrease_succeeded =
        indexed && json_i64(spec, "completions") == json_i64(spec, "parallelism");
    if !may_decrease_succeeded && i(ns, "succeeded") < i(os, "succeeded") {
        errs.push(FieldError::invalid(
            &sp.child("succeeded"),
            i(ns, "succeeded"),
            "cannot decrease the succeeded counter",
        ));
    }
    if let (Some(n), Some(o)) = (completion_time, non_null(os.get("completionTime")))
        && n != o
    {
        errs.push(FieldError::invalid(
            &sp.child("completionTime"),
            n.clone(),
            "completionTime cannot be mutated",
        ));
    }
    // startTime changes only while suspended, or as the Job resumes (its Suspended condition
    // goes from True to False): the Job controller sets it afresh then, as upstream allows
    // since its fix for resumed Jobs (kubernetes#134769).
    let resuming = condition_true(old, "Suspended") && !condition_true(new, "Suspended");
    if let Some(o) = non_null(os.get("startTime"))
        && Some(o) != start_time
        && spec.get("suspend").and_then(Value::as_bool) != Some(true)
        && !resuming
    {
        errs.push(FieldError::required(
            &sp.child("startTime"),
            "startTime cannot be removed for unsuspended job",
        ));
    }
    if condition_true(old, "SuccessCriteriaMet") && !sc_met {
        errs.push(invalid_omit(
            &cond,
            "cannot disable the SuccessCriteriaMet=True condition",
        ));
    }
    if condition_true(old, "Complete") && !condition_true(old, "SuccessCriteriaMet") && sc_met {
        errs.push(invalid_omit(
            &cond,
            "cannot set SuccessCriteriaMet=True for Job already has Complete=true conditions",
        ));
    }
    errs
}

fn first_overlap(completed: &str, failed: &str, completions: i64) -> Option<i64> {
    let parse = |s: &str| -> Vec<(i64, i64)> {
        s.split(',')
            .filter_map(|iv| parse_index_interval(iv, completions).ok())
            .collect()
    };
    let c = parse(completed);
    let f = parse(failed);
    let (mut ci, mut fi) = (0, 0);
    while let (Some(&(cx, cy)), Some(&(fx, fy))) = (c.get(ci), f.get(fi)) {
        if cx <= fy && fx <= cy {
            return Some(cx.max(fx));
        }
        if cx <= fx { ci += 1 } else { fi += 1 }
    }
    None
}
