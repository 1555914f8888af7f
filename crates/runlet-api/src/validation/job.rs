//! Job and CronJob validation, as upstream's `pkg/apis/batch/validation/validation.go` with the
//! options `pkg/registry/batch/{job,cronjob}/strategy.go` passes in 1.33.
//!
//! Jobs are validated after defaulting and after the generated selector and labels are added, so
//! a Job whose name is not a valid label value fails on `spec.template.labels` (the `job-name`
//! label carries the name), as upstream.

use super::format;
use super::labelselector::{has_invalid_label_value, selector_matches, validate_label_selector};
use super::metadata::{
    FIELD_IMMUTABLE, validate_immutable, validate_nonnegative, validate_object_meta,
    validate_object_meta_update,
};
use super::pod::validate_pod_template_spec;
use super::{at, invalid_omit, json_i64, json_str, non_null};
use crate::field::{ErrorList, FieldError, Path};
use serde_json::{Map, Value, json};

const MAX_PARALLELISM_FOR_INDEXED_JOB: i64 = 100_000;
const MAX_FAILED_INDEXES_FOR_INDEXED_JOB: i64 = 100_000;
const COMPLETIONS_SOFT_LIMIT: i64 = 100_000;
const PARALLELISM_LIMIT_FOR_HIGH_COMPLETIONS: i64 = 10_000;
const MAX_FAILED_INDEXES_LIMIT_FOR_HIGH_COMPLETIONS: i64 = 10_000;
const MAX_POD_FAILURE_POLICY_RULES: usize = 20;
const MAX_ON_EXIT_CODES_VALUES: usize = 255;
const MAX_ON_POD_CONDITIONS_PATTERNS: usize = 20;
const MAX_MANAGED_BY_LENGTH: usize = 63;
const MAX_SUCCEEDED_INDEXES_LENGTH: usize = 64 * 1024;
const MAX_SUCCESS_POLICY_RULES: usize = 20;

const LEGACY_CONTROLLER_UID: &str = "controller-uid";
const LEGACY_JOB_NAME: &str = "job-name";
const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
const JOB_NAME: &str = "batch.kubernetes.io/job-name";

#[derive(Debug, Clone, Copy, Default)]
struct JobOpts {
    require_prefixed_labels: bool,
    allow_invalid_label_value_in_selector: bool,
    allow_mutable_scheduling_directives: bool,
}

pub(super) fn spec_of(obj: &Value) -> &Value {
    obj.get("spec").unwrap_or(&Value::Null)
}

pub(super) fn meta_path() -> Path {
    Path::new("metadata")
}

pub(super) fn is_indexed(spec: &Value) -> bool {
    json_str(spec, "completionMode") == "Indexed"
}

/// Validates a new Job (`jobStrategy.Validate`).
pub fn validate_job_create(job: &Value) -> ErrorList {
    validate_job(
        job,
        JobOpts {
            require_prefixed_labels: true,
            ..JobOpts::default()
        },
    )
}

/// Validates a Job update (`jobStrategy.ValidateUpdate`: `ValidateJob` + `ValidateJobUpdate`).
pub fn validate_job_update(new: &Value, old: &Value) -> ErrorList {
    let old_labels = at(old, &["spec", "template", "metadata", "labels"]);
    let has = |k: &str| old_labels.and_then(|l| l.get(k)).is_some();
    let old_spec = spec_of(old);
    let opts = JobOpts {
        require_prefixed_labels: has(JOB_NAME) && has(CONTROLLER_UID),
        allow_invalid_label_value_in_selector: has_invalid_label_value(old_spec.get("selector")),
        allow_mutable_scheduling_directives: old_spec.get("suspend").and_then(Value::as_bool)
            == Some(true)
            && at(old, &["status", "startTime"]).is_none(),
    };
    let mut errs = validate_job(new, opts);
    errs.extend(validate_object_meta_update(new, old, &meta_path()));
    errs.extend(validate_job_spec_update(
        spec_of(new),
        old_spec,
        &Path::new("spec"),
        opts,
    ));
    errs
}

fn validate_job(job: &Value, opts: JobOpts) -> ErrorList {
    let mut errs = validate_object_meta(job, true, format::name_is_dns_subdomain, &meta_path());
    errs.extend(validate_generated_selector(
        job,
        opts.require_prefixed_labels,
    ));
    let spec = spec_of(job);
    errs.extend(validate_job_spec(spec, &Path::new("spec"), opts));
    let completions = json_i64(spec, "completions").unwrap_or(0);
    if is_indexed(spec) && completions > 0 {
        let name = crate::meta::str_field(job, "name").unwrap_or("");
        let hostname = format!("{name}-{}", completions - 1);
        if !format::is_dns1123_label(&hostname).is_empty() {
            errs.push(FieldError::invalid(
                &meta_path().child("name"),
                name,
                format!("will not able to create pod with invalid DNS label: {hostname}"),
            ));
        }
    }
    errs
}

/// `ValidateHasLabel`.
fn validate_has_label(labels: Option<&Value>, path: &Path, key: &str, expected: &str) -> ErrorList {
    let lp = path.child("labels").key(key);
    match labels.and_then(|l| l.get(key)) {
        None => vec![FieldError::required(&lp, format!("must be '{expected}'"))],
        Some(v) if v.as_str() != Some(expected) => {
            vec![FieldError::invalid(
                &lp,
                labels.cloned().unwrap_or(Value::Null),
                format!("must be '{expected}'"),
            )]
        }
        Some(_) => Vec::new(),
    }
}

fn validate_generated_selector(job: &Value, prefixed: bool) -> ErrorList {
    let mut errs = ErrorList::new();
    let spec = spec_of(job);
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        return errs;
    }
    let Some(selector) = non_null(spec.get("selector")) else {
        return errs;
    };
    let uid = crate::meta::str_field(job, "uid").unwrap_or("");
    let name = crate::meta::str_field(job, "name").unwrap_or("");
    if uid.is_empty() {
        errs.push(FieldError::required(&meta_path().child("uid"), ""));
    }
    let tpath = Path::new("spec").child("template").child("metadata");
    let labels = at(spec, &["template", "metadata", "labels"]);
    errs.extend(validate_has_label(
        labels,
        &tpath,
        LEGACY_CONTROLLER_UID,
        uid,
    ));
    errs.extend(validate_has_label(labels, &tpath, LEGACY_JOB_NAME, name));
    let mut expected = Map::new();
    if prefixed {
        errs.extend(validate_has_label(labels, &tpath, CONTROLLER_UID, uid));
        errs.extend(validate_has_label(labels, &tpath, JOB_NAME, name));
        expected.insert(CONTROLLER_UID.into(), uid.into());
        expected.insert(JOB_NAME.into(), name.into());
    }
    expected.insert(LEGACY_CONTROLLER_UID.into(), uid.into());
    expected.insert(LEGACY_JOB_NAME.into(), name.into());
    if selector_matches(Some(selector), Some(&Value::Object(expected))) == Some(false) {
        errs.push(FieldError::invalid(
            &Path::new("spec").child("selector"),
            selector.clone(),
            "`selector` not auto-generated",
        ));
    }
    errs
}

/// `ValidateJobSpec`: the spec rules plus a selector that selects the template.
fn validate_job_spec(spec: &Value, path: &Path, opts: JobOpts) -> ErrorList {
    let mut errs = validate_job_spec_common(spec, path);
    let selector = non_null(spec.get("selector"));
    match selector {
        None => errs.push(FieldError::required(&path.child("selector"), "")),
        Some(s) => errs.extend(validate_label_selector(
            s,
            opts.allow_invalid_label_value_in_selector,
            &path.child("selector"),
        )),
    }
    let labels = at(spec, &["template", "metadata", "labels"]);
    if selector_matches(selector, labels) == Some(false) {
        errs.push(FieldError::invalid(
            &path.child("template").child("metadata").child("labels"),
            labels.cloned().unwrap_or(Value::Null),
            "`selector` does not match template `labels`",
        ));
    }
    errs
}

/// Upstream's private `validateJobSpec`, shared by Jobs and CronJob job templates.
pub(super) fn validate_job_spec_common(spec: &Value, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    for f in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
    ] {
        if let Some(v) = json_i64(spec, f) {
            errs.extend(validate_nonnegative(v, &path.child(f)));
        }
    }
    let parallelism = json_i64(spec, "parallelism");
    let completions = json_i64(spec, "completions");
    let blpi = json_i64(spec, "backoffLimitPerIndex");
    let mfi = json_i64(spec, "maxFailedIndexes");
    if let Some(m) = mfi {
        errs.extend(validate_nonnegative(m, &path.child("maxFailedIndexes")));
        if blpi.is_none() {
            errs.push(FieldError::required(
                &path.child("backoffLimitPerIndex"),
                "when maxFailedIndexes is specified",
            ));
        }
    }
    if let Some(mb) = spec.get("managedBy").and_then(Value::as_str) {
        errs.extend(format::is_domain_prefixed_path(
            &path.child("managedBy"),
            mb,
        ));
        if mb.len() > MAX_MANAGED_BY_LENGTH {
            errs.push(FieldError::too_long(
                &path.child("managedBy"),
                MAX_MANAGED_BY_LENGTH,
            ));
        }
    }
    let mode = spec.get("completionMode").and_then(Value::as_str);
    if let Some(mode) = mode {
        if mode != "NonIndexed" && mode != "Indexed" {
            errs.push(FieldError::not_supported(
                &path.child("completionMode"),
                mode,
                &["NonIndexed", "Indexed"],
            ));
        }
        if mode == "Indexed" {
            if completions.is_none() {
                errs.push(FieldError::required(
                    &path.child("completions"),
                    "when completion mode is Indexed",
                ));
            }
            if let Some(p) = parallelism.filter(|p| *p > MAX_PARALLELISM_FOR_INDEXED_JOB) {
                errs.push(FieldError::invalid(
                    &path.child("parallelism"),
                    p,
                    format!("must be less than or equal to {MAX_PARALLELISM_FOR_INDEXED_JOB} when completion mode is Indexed"),
                ));
            }
            if let (Some(c), Some(m)) = (completions, mfi)
                && m > c
            {
                errs.push(FieldError::invalid(
                    &path.child("maxFailedIndexes"),
                    m,
                    "must be less than or equal to completions",
                ));
            }
            if let Some(m) = mfi.filter(|m| *m > MAX_FAILED_INDEXES_FOR_INDEXED_JOB) {
                errs.push(FieldError::invalid(
                    &path.child("maxFailedIndexes"),
                    m,
                    format!("must be less than or equal to {MAX_FAILED_INDEXES_FOR_INDEXED_JOB}"),
                ));
            }
            if completions.is_some_and(|c| c > COMPLETIONS_SOFT_LIMIT) && blpi.is_some() {
                if mfi.is_none() {
                    errs.push(FieldError::required(
                        &path.child("maxFailedIndexes"),
                        format!(
                            "must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}"
                        ),
                    ));
                }
                if let Some(p) = parallelism.filter(|p| *p > PARALLELISM_LIMIT_FOR_HIGH_COMPLETIONS)
                {
                    errs.push(FieldError::invalid(
                        &path.child("parallelism"),
                        p,
                        format!("must be less than or equal to {PARALLELISM_LIMIT_FOR_HIGH_COMPLETIONS} when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"),
                    ));
                }
                if let Some(m) = mfi.filter(|m| *m > MAX_FAILED_INDEXES_LIMIT_FOR_HIGH_COMPLETIONS)
                {
                    errs.push(FieldError::invalid(
                        &path.child("maxFailedIndexes"),
                        m,
                        format!("must be less than or equal to {MAX_FAILED_INDEXES_LIMIT_FOR_HIGH_COMPLETIONS} when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"),
                    ));
                }
            }
        }
    }
    if mode.is_none() || mode == Some("NonIndexed") {
        if let Some(b) = blpi {
            errs.push(FieldError::invalid(
                &path.child("backoffLimitPerIndex"),
                b,
                "requires indexed completion mode",
            ));
        }
        if let Some(m) = mfi {
            errs.push(FieldError::invalid(
                &path.child("maxFailedIndexes"),
                m,
                "requires indexed completion mode",
            ));
        }
    }
    let pfp = non_null(spec.get("podFailurePolicy"));
    if let Some(pfp) = pfp {
        errs.extend(validate_pod_failure_policy(
            spec,
            pfp,
            &path.child("podFailurePolicy"),
        ));
    }
    if let Some(sp) = non_null(spec.get("successPolicy")) {
        if !is_indexed(spec) {
            errs.push(FieldError::invalid(
                &path.child("successPolicy"),
                sp.clone(),
                "requires indexed completion mode",
            ));
        } else {
            errs.extend(validate_success_policy(
                sp,
                completions,
                &path.child("successPolicy"),
            ));
        }
    }
    if let Some(prp) = spec.get("podReplacementPolicy").and_then(Value::as_str) {
        let p = path.child("podReplacementPolicy");
        if pfp.is_some() {
            if prp != "Failed" {
                errs.push(FieldError::not_supported(&p, prp, &["Failed"]));
            }
        } else if prp != "Failed" && prp != "TerminatingOrFailed" {
            errs.push(FieldError::not_supported(
                &p,
                prp,
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
    let template = spec.get("template").unwrap_or(&Value::Null);
    errs.extend(validate_pod_template_spec(
        template,
        &path.child("template"),
    ));
    let rp_path = path.child("template").child("spec").child("restartPolicy");
    match at(template, &["spec", "restartPolicy"])
        .and_then(Value::as_str)
        .unwrap_or("")
    {
        "Always" | "" => errs.push(FieldError::required(
            &rp_path,
            "valid values: \"OnFailure\", \"Never\"",
        )),
        rp @ ("OnFailure" | "Never") => {
            if pfp.is_some() && rp != "Never" {
                errs.push(FieldError::invalid(
                    &rp_path,
                    rp,
                    "only \"Never\" is supported when podFailurePolicy is specified",
                ));
            }
        }
        rp => errs.push(FieldError::not_supported(
            &rp_path,
            rp,
            &["OnFailure", "Never"],
        )),
    }
    errs
}

pub(super) fn arr<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn validate_pod_failure_policy(spec: &Value, pfp: &Value, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let rules = arr(pfp, "rules");
    let rules_path = path.child("rules");
    if rules.len() > MAX_POD_FAILURE_POLICY_RULES {
        errs.push(FieldError::too_many(
            &rules_path,
            rules.len(),
            MAX_POD_FAILURE_POLICY_RULES,
        ));
    }
    let tspec = at(spec, &["template", "spec"]).unwrap_or(&Value::Null);
    let names: Vec<&str> = arr(tspec, "containers")
        .iter()
        .chain(arr(tspec, "initContainers"))
        .map(|c| json_str(c, "name"))
        .collect();
    let bad_action = |a: &str| !["Count", "FailIndex", "FailJob", "Ignore"].contains(&a);
    for (i, rule) in rules.iter().enumerate() {
        let rp = rules_path.index(i);
        let action = json_str(rule, "action");
        let action_path = rp.child("action");
        if action.is_empty() {
            errs.push(FieldError::required(
                &action_path,
                "valid values: [\"Count\" \"FailIndex\" \"FailJob\" \"Ignore\"]",
            ));
        } else if action == "FailIndex" {
            if json_i64(spec, "backoffLimitPerIndex").is_none() {
                errs.push(FieldError::invalid(
                    &action_path,
                    action,
                    "requires the backoffLimitPerIndex to be set",
                ));
            }
        } else if bad_action(action) {
            errs.push(FieldError::not_supported(
                &action_path,
                action,
                &["Count", "FailIndex", "FailJob", "Ignore"],
            ));
        }
        let on_exit = non_null(rule.get("onExitCodes"));
        let on_conds = arr(rule, "onPodConditions");
        if let Some(oe) = on_exit {
            errs.extend(validate_on_exit_codes(oe, &rp.child("onExitCodes"), &names));
        }
        if !on_conds.is_empty() {
            let cp = rp.child("onPodConditions");
            if on_conds.len() > MAX_ON_POD_CONDITIONS_PATTERNS {
                errs.push(FieldError::too_many(
                    &cp,
                    on_conds.len(),
                    MAX_ON_POD_CONDITIONS_PATTERNS,
                ));
            }
            for (j, pat) in on_conds.iter().enumerate() {
                let pp = cp.index(j);
                let t = json_str(pat, "type");
                errs.extend(format::invalid_each(
                    &pp.child("type"),
                    t,
                    format::is_qualified_name(t),
                ));
                match json_str(pat, "status") {
                    "" => errs.push(FieldError::required(
                        &pp.child("status"),
                        "valid values: [\"False\" \"True\" \"Unknown\"]",
                    )),
                    "True" | "False" | "Unknown" => {}
                    s => errs.push(FieldError::not_supported(
                        &pp.child("status"),
                        s,
                        &["False", "True", "Unknown"],
                    )),
                }
            }
        }
        if on_exit.is_some() && !on_conds.is_empty() {
            errs.push(invalid_omit(
                &rp,
                "specifying both OnExitCodes and OnPodConditions is not supported",
            ));
        }
        if on_exit.is_none() && on_conds.is_empty() {
            errs.push(invalid_omit(
                &rp,
                "specifying one of OnExitCodes and OnPodConditions is required",
            ));
        }
    }
    errs
}

fn validate_on_exit_codes(oe: &Value, path: &Path, names: &[&str]) -> ErrorList {
    let mut errs = ErrorList::new();
    let op = json_str(oe, "operator");
    let op_path = path.child("operator");
    match op {
        "" => errs.push(FieldError::required(
            &op_path,
            "valid values: [\"In\" \"NotIn\"]",
        )),
        "In" | "NotIn" => {}
        other => errs.push(FieldError::not_supported(&op_path, other, &["In", "NotIn"])),
    }
    if let Some(cn) = oe.get("containerName").and_then(Value::as_str)
        && !names.contains(&cn)
    {
        errs.push(FieldError::invalid(
            &path.child("containerName"),
            cn,
            "must be one of the container or initContainer names in the pod template",
        ));
    }
    let values: Vec<i64> = arr(oe, "values").iter().filter_map(Value::as_i64).collect();
    let vp = path.child("values");
    if values.is_empty() {
        errs.push(FieldError::invalid(
            &vp,
            json!([]),
            "at least one value is required",
        ));
    } else if values.len() > MAX_ON_EXIT_CODES_VALUES {
        errs.push(FieldError::too_many(
            &vp,
            values.len(),
            MAX_ON_EXIT_CODES_VALUES,
        ));
    }
    let mut ordered = true;
    let mut seen = std::collections::BTreeSet::new();
    for (j, v) in values.iter().enumerate() {
        if op == "In" && *v == 0 {
            errs.push(FieldError::invalid(
                &vp.index(j),
                *v,
                "must not be 0 for the In operator",
            ));
        }
        if !seen.insert(*v) {
            errs.push(FieldError::duplicate(&vp.index(j), *v));
        }
        if j > 0 && values.get(j - 1).is_some_and(|prev| prev > v) {
            ordered = false;
        }
    }
    if !ordered {
        errs.push(FieldError::invalid(
            &vp,
            Value::from(values.clone()),
            "must be ordered",
        ));
    }
    errs
}

fn validate_success_policy(sp: &Value, completions: Option<i64>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let rules = arr(sp, "rules");
    let rules_path = path.child("rules");
    if rules.is_empty() {
        errs.push(FieldError::required(
            &rules_path,
            "at least one rules must be specified when the successPolicy is specified",
        ));
    }
    if rules.len() > MAX_SUCCESS_POLICY_RULES {
        errs.push(FieldError::too_many(
            &rules_path,
            rules.len(),
            MAX_SUCCESS_POLICY_RULES,
        ));
    }
    let completions = completions.unwrap_or(0);
    for (i, rule) in rules.iter().enumerate() {
        let rp = rules_path.index(i);
        let count = json_i64(rule, "succeededCount");
        let indexes = rule.get("succeededIndexes").and_then(Value::as_str);
        if count.is_none() && indexes.is_none() {
            errs.push(FieldError::required(
                &rp,
                "at least one of succeededCount or succeededIndexes must be specified",
            ));
        }
        let mut total = 0;
        if let Some(ix) = indexes {
            let ip = rp.child("succeededIndexes");
            if ix.len() > MAX_SUCCEEDED_INDEXES_LENGTH {
                errs.push(FieldError::too_long(&ip, MAX_SUCCEEDED_INDEXES_LENGTH));
            }
            match validate_indexes_format(ix, completions) {
                Ok(t) => total = t,
                Err(e) => errs.push(FieldError::invalid(
                    &ip,
                    ix,
                    format!("error parsing succeededIndexes: {e}"),
                )),
            }
        }
        if let Some(c) = count {
            let cp = rp.child("succeededCount");
            errs.extend(validate_nonnegative(c, &cp));
            if c > completions {
                errs.push(FieldError::invalid(
                    &cp,
                    c,
                    format!("must be less than or equal to {completions} (the number of specified completions)"),
                ));
            }
            if indexes.is_some() && c > total {
                errs.push(FieldError::invalid(
                    &cp,
                    c,
                    format!("must be less than or equal to {total} (the number of indexes in the specified succeededIndexes field)"),
                ));
            }
        }
    }
    errs
}

/// Parses `1,3-5,7` against `completions`; returns how many indexes it names.
pub(super) fn validate_indexes_format(s: &str, completions: i64) -> Result<i64, String> {
    if s.is_empty() {
        return Ok(0);
    }
    let mut last: Option<i64> = None;
    let mut total = 0i64;
    for interval in s.split(',') {
        let (x, y) = parse_index_interval(interval, completions)?;
        if let Some(l) = last
            && l >= x
        {
            return Err(format!("non-increasing order, previous: {l}, current: {x}"));
        }
        total += y - x + 1;
        last = Some(y);
    }
    Ok(total)
}

fn go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

pub(super) fn parse_index_interval(s: &str, completions: i64) -> Result<(i64, i64), String> {
    let limits: Vec<&str> = s.split('-').collect();
    if limits.len() > 2 {
        return Err(format!(
            "the fragment {s:?} violates the requirement that an index interval can have at most two parts separated by '-'"
        ));
    }
    let first = limits.first().copied().unwrap_or("");
    let x = go_atoi(first)
        .ok_or_else(|| format!("cannot convert string to integer for index: {first:?}"))?;
    if x >= completions {
        return Err(format!("too large index: {first:?}"));
    }
    if let Some(second) = limits.get(1) {
        let y = go_atoi(second)
            .ok_or_else(|| format!("cannot convert string to integer for index: {second:?}"))?;
        if y >= completions {
            return Err(format!("too large index: {second:?}"));
        }
        if x >= y {
            return Err(format!("non-increasing order, previous: {x}, current: {y}"));
        }
        return Ok((x, y));
    }
    Ok((x, x))
}

/// `ValidateJobSpecUpdate`.
fn validate_job_spec_update(new: &Value, old: &Value, path: &Path, opts: JobOpts) -> ErrorList {
    let mut errs = validate_job_spec(new, path, opts);
    // completions: immutable unless Indexed, then only in tandem with parallelism
    let cp = path.child("completions");
    if !is_indexed(new) {
        errs.extend(validate_immutable(
            new.get("completions"),
            old.get("completions"),
            &cp,
        ));
    } else {
        let nc = json_i64(new, "completions");
        if nc != json_i64(old, "completions")
            && let Some(c) = nc
            && Some(c) != json_i64(new, "parallelism")
        {
            errs.push(FieldError::invalid(
                &cp,
                c,
                "can only be modified in tandem with spec.parallelism",
            ));
        }
    }
    errs.extend(validate_immutable(
        new.get("selector"),
        old.get("selector"),
        &path.child("selector"),
    ));
    errs.extend(validate_pod_template_update(new, old, path, opts));
    for f in [
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ] {
        errs.extend(validate_immutable(new.get(f), old.get(f), &path.child(f)));
    }
    errs
}

/// The template is immutable, except that a suspended Job that never started may change its
/// scheduling directives (node affinity, node selector, tolerations, labels, annotations,
/// scheduling gates).
fn validate_pod_template_update(new: &Value, old: &Value, path: &Path, opts: JobOpts) -> ErrorList {
    let template = non_null(new.get("template"))
        .cloned()
        .unwrap_or(Value::Null);
    let mut old_template = non_null(old.get("template"))
        .cloned()
        .unwrap_or(Value::Null);
    if opts.allow_mutable_scheduling_directives {
        let set = |t: &mut Value, keys: &[&str], v: Option<&Value>| {
            let mut cur = t;
            for (i, k) in keys.iter().enumerate() {
                if !cur.is_object() {
                    *cur = Value::Object(Map::new());
                }
                let Some(m) = cur.as_object_mut() else { return };
                if i + 1 == keys.len() {
                    match non_null(v) {
                        Some(v) => m.insert((*k).to_string(), v.clone()),
                        None => m.remove(*k),
                    };
                    return;
                }
                cur = m
                    .entry((*k).to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
            }
        };
        let new_aff = at(&template, &["spec", "affinity"]).cloned();
        let old_aff = at(&old_template, &["spec", "affinity"]).cloned();
        match (&new_aff, &old_aff) {
            (None, Some(oa)) => {
                let mut oa = oa.clone();
                if let Some(m) = oa.as_object_mut() {
                    m.remove("nodeAffinity");
                }
                let empty = oa
                    .as_object()
                    .is_none_or(|m| m.values().all(Value::is_null));
                set(
                    &mut old_template,
                    &["spec", "affinity"],
                    if empty { None } else { Some(&oa) },
                );
            }
            (Some(na), None) => {
                let v = match non_null(na.get("nodeAffinity")) {
                    Some(nn) => json!({"nodeAffinity": nn}),
                    None => json!({}),
                };
                set(&mut old_template, &["spec", "affinity"], Some(&v));
            }
            (Some(na), Some(_)) => {
                set(
                    &mut old_template,
                    &["spec", "affinity", "nodeAffinity"],
                    na.get("nodeAffinity"),
                );
            }
            (None, None) => {}
        }
        for keys in [
            &["spec", "nodeSelector"][..],
            &["spec", "tolerations"],
            &["metadata", "annotations"],
            &["metadata", "labels"],
            &["spec", "schedulingGates"],
        ] {
            set(&mut old_template, keys, at(&template, keys));
        }
    }
    if strip_empty(&template) == strip_empty(&old_template) {
        Vec::new()
    } else {
        vec![FieldError::invalid(
            &path.child("template"),
            template,
            FIELD_IMMUTABLE,
        )]
    }
}

/// Drops nulls and empty objects/arrays so that `{}` and absent compare equal, like Go's
/// semantic equality of zero values.
fn strip_empty(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let s = strip_empty(v);
                let empty = s.is_null()
                    || s.as_object().is_some_and(Map::is_empty)
                    || s.as_array().is_some_and(Vec::is_empty);
                if !empty {
                    out.insert(k.clone(), s);
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(strip_empty).collect()),
        other => other.clone(),
    }
}

mod cronjob;
mod status;

pub use cronjob::{MAX_CRONJOB_NAME_LENGTH, validate_cronjob_create, validate_cronjob_update};
pub use status::validate_job_status_update;

#[cfg(test)]
mod tests;
