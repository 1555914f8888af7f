//! Validation with Kubernetes field paths, as upstream's `pkg/apis/*/validation` (release 1.33).
//!
//! Objects arrive already defaulted (the API server runs [`crate::defaulting`] first), so
//! "Required value" errors for defaulted fields only show up when defaulting was bypassed —
//! exactly as upstream. Messages, field paths and error order follow upstream so that kubectl and
//! client libraries print what they would print against a real cluster.
//!
//! Layout: [`format`] holds upstream's string formats, [`metadata`] ObjectMeta rules,
//! [`labelselector`] selector rules, [`pod`] the PodSpec/Pod rules, [`job`] Job and CronJob,
//! [`cron`] the schedule parser, [`core`] the remaining core kinds.

pub mod core;
pub mod cron;
pub mod format;
pub mod job;
pub mod labelselector;
pub mod metadata;
pub mod pod;
pub mod quantity;
pub mod storage;

use crate::field::{ErrorList, Path};
use crate::resources::ResourceInfo;
use serde_json::Value;

/// Validates a new (defaulted) object.
pub fn validate_create(info: &ResourceInfo, obj: &Value) -> ErrorList {
    match (info.group, info.kind) {
        ("batch", "Job") => job::validate_job_create(obj),
        ("batch", "CronJob") => job::validate_cronjob_create(obj),
        ("", "Pod") => pod::validate_pod_create(obj),
        ("", "Namespace") => core::validate_namespace(obj),
        ("", "ConfigMap") => core::validate_config_map(obj),
        ("", "Secret") => core::validate_secret(obj),
        ("", "Node") => core::validate_node(obj),
        ("", "Event") => core::validate_core_event(obj),
        ("events.k8s.io", "Event") => core::validate_events_event_create(obj),
        ("coordination.k8s.io", "Lease") => core::validate_lease(obj),
        ("", "PersistentVolumeClaim") => core::validate_pvc(obj),
        ("", "PersistentVolume") => core::validate_pv(obj),
        ("storage.k8s.io", "StorageClass") => storage::validate_storage_class(obj),
        _ => metadata::validate_object_meta(
            obj,
            info.namespaced,
            format::name_is_dns_subdomain,
            &meta_path(),
        ),
    }
}

/// Validates an update of the main resource (immutable fields included).
pub fn validate_update(info: &ResourceInfo, new: &Value, old: &Value) -> ErrorList {
    let errs = match (info.group, info.kind) {
        ("batch", "Job") => job::validate_job_update(new, old),
        ("batch", "CronJob") => job::validate_cronjob_update(new, old),
        ("", "Pod") => pod::validate_pod_update(new, old),
        ("", "Namespace") => metadata::validate_object_meta_update(new, old, &meta_path()),
        ("", "ConfigMap") => core::validate_config_map_update(new, old),
        ("", "Secret") => core::validate_secret_update(new, old),
        ("", "Node") => core::validate_node_update(new, old),
        ("", "Event") => core::validate_core_event(new),
        ("events.k8s.io", "Event") => core::validate_events_event_update(new, old),
        ("coordination.k8s.io", "Lease") => core::validate_lease_update(new, old),
        ("", "PersistentVolumeClaim") => core::validate_pvc_update(new, old),
        ("", "PersistentVolume") => core::validate_pv_update(new, old),
        ("storage.k8s.io", "StorageClass") => {
            let mut e = storage::validate_storage_class_update(new, old);
            e.extend(storage::validate_storage_class(new));
            e
        }
        ("", "ServiceAccount") => {
            let mut e = metadata::validate_object_meta_update(new, old, &meta_path());
            e.extend(validate_create(info, new));
            e
        }
        _ => metadata::validate_object_meta_update(new, old, &meta_path()),
    };
    dedup(errs)
}

/// Validates an update through the `status` subresource.
pub fn validate_status_update(info: &ResourceInfo, new: &Value, old: &Value) -> ErrorList {
    match (info.group, info.kind) {
        ("batch", "Job") => job::validate_job_status_update(new, old),
        ("", "Pod") => pod::validate_pod_status_update(new, old),
        ("", "Namespace") => core::validate_namespace_status_update(new, old),
        _ => metadata::validate_object_meta_update(new, old, &meta_path()),
    }
}

pub(crate) fn meta_path() -> Path {
    Path::new("metadata")
}

/// Upstream validates a Job update with both `ValidateJob` and `ValidateJobUpdate`, which
/// reports spec errors twice; runlet keeps the first of identical errors.
fn dedup(errs: ErrorList) -> ErrorList {
    let mut out: ErrorList = Vec::with_capacity(errs.len());
    for e in errs {
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

/// An `Invalid value` error that prints no value (upstream's `field.OmitValueType{}`).
pub(crate) fn invalid_omit(path: &Path, detail: impl Into<String>) -> crate::field::FieldError {
    crate::field::FieldError {
        error_type: crate::field::ErrorType::Invalid,
        field: path.to_string(),
        bad_value: None,
        detail: detail.into(),
    }
}

/// `obj[key]` as a string, `""` when absent or not a string (Go's zero value).
pub(crate) fn json_str<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The errors as their messages (`path: reason: detail`), for tests.
#[cfg(test)]
pub(crate) fn msgs(errs: &ErrorList) -> Vec<String> {
    errs.iter().map(|e| e.to_string()).collect()
}

/// `obj[key]` as an integer.
pub(crate) fn json_i64(obj: &Value, key: &str) -> Option<i64> {
    obj.get(key).and_then(Value::as_i64)
}

/// `None` for absent and `null` alike.
pub(crate) fn non_null(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

/// Walks `path` (object keys) from `obj`.
pub(crate) fn at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = obj;
    for k in path {
        cur = cur.get(*k)?;
    }
    non_null(Some(cur))
}
