//! Defaulting, as upstream's `pkg/apis/*/v1/defaults.go` and the registry strategies'
//! `PrepareForCreate` do it.
//!
//! Clients compare what they sent with what `kubectl get -o yaml` shows, and controllers rely
//! on defaulted fields (`backoffLimit`, `completions`, `restartPolicy`) being present, so every
//! object is defaulted exactly where upstream defaults it. Two steps, as upstream:
//!
//! - [`apply_defaults`] is the scheme defaulting that runs whenever an object is decoded (on
//!   every create and update, and on every read from storage upstream). It is idempotent.
//! - [`prepare_for_create`] is the registry strategy's `PrepareForCreate`: it runs once, on
//!   create, after the server has set `metadata.name` and `metadata.uid`. It generates a Job's
//!   selector, resets `status`, and applies the admission defaults a Pod gets on create.
//!
//! Objects are `serde_json::Value`s already shaped like their k8s-openapi type; a field is
//! "unset" when it is absent or `null` (Go's nil pointer) and, for strings, also when empty
//! (Go's zero value). Where Go prints a zero struct that k8s-openapi would omit (a pod
//! template's `metadata.creationTimestamp: null`, a container's `resources: {}`), we write it so
//! that the JSON matches what a real API server returns.

mod batch;
mod core;
mod gated;
mod pod;
pub mod qos;

use crate::resources::ResourceInfo;
use serde_json::{Map, Value};

/// Fills in upstream's defaults for an object of `info`'s kind, in place.
pub fn apply_defaults(info: &ResourceInfo, obj: &mut Value) {
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    match (info.group, info.kind) {
        ("", "Pod") => pod::default_pod(root),
        ("", "Namespace") => core::default_namespace(root),
        ("", "Secret") => core::default_secret(root),
        ("", "PersistentVolumeClaim") => core::default_pvc(root),
        ("", "PersistentVolume") => core::default_pv(root),
        ("", "Node") => core::default_node(root),
        ("", "Event") => core::default_core_event(root),
        ("coordination.k8s.io", "Lease") => core::default_lease(root),
        ("storage.k8s.io", "StorageClass") => core::default_storage_class(root),
        ("batch", "Job") => batch::default_job(root),
        ("batch", "CronJob") => batch::default_cronjob(root),
        _ => {}
    }
}

/// Kind-specific preparation of a new object after its `metadata.uid` is set (e.g. a Job's
/// generated selector and labels).
pub fn prepare_for_create(info: &ResourceInfo, obj: &mut Value) {
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    match (info.group, info.kind) {
        ("", "Pod") => pod::prepare_pod(root),
        ("", "Namespace") => core::prepare_namespace(root),
        ("", "PersistentVolumeClaim") => core::prepare_claim(root),
        ("batch", "Job") => batch::prepare_job(root),
        ("batch", "CronJob") => {
            root.insert("status".into(), Value::Object(Map::new()));
        }
        _ => {}
    }
}

/// Drops the fields of features off by default in Kubernetes 1.33 from `new` where `old` (the
/// object it replaces; none on create) does not use them, as upstream's strategies'
/// `dropDisabledFields` do before validation.
pub fn drop_disabled_fields(info: &ResourceInfo, new: &mut Value, old: Option<&Value>) {
    gated::drop_disabled(info.group, info.kind, new, old);
}

/// The defaults upstream applies when it reads a newly created object back from storage (the
/// object it answers the create with, and every later read), after validating it.
pub fn as_read_back(info: &ResourceInfo, obj: &mut Value) {
    if let (("batch", "Job"), Some(root)) = ((info.group, info.kind), obj.as_object_mut()) {
        batch::job_as_read_back(root);
    }
}

/// Whether `m[key]` is absent or `null` (Go's nil pointer).
fn is_unset(m: &Map<String, Value>, key: &str) -> bool {
    m.get(key).is_none_or(Value::is_null)
}

/// Sets `m[key]` to `value` when it is absent or `null`.
fn default_value(m: &mut Map<String, Value>, key: &str, value: impl Into<Value>) {
    if is_unset(m, key) {
        m.insert(key.to_string(), value.into());
    }
}

/// Sets the string `m[key]` when it is absent, `null` or empty (Go's `== ""`).
fn default_str(m: &mut Map<String, Value>, key: &str, value: &str) {
    if m.get(key).and_then(Value::as_str).is_none_or(str::is_empty) {
        m.insert(key.to_string(), Value::from(value));
    }
}

/// Sets the integer `m[key]` when it is absent, `null` or zero (Go's `== 0` on a non-pointer).
fn default_nonzero(m: &mut Map<String, Value>, key: &str, value: i64) {
    if m.get(key).and_then(Value::as_i64).is_none_or(|v| v == 0) {
        m.insert(key.to_string(), Value::from(value));
    }
}

/// `m[key]` as an object, if it is one.
fn child<'a>(m: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    m.get_mut(key).and_then(Value::as_object_mut)
}

/// `m[key]` as an object, created (replacing `null` or a non-object) when it is not one. Always
/// `Some`; the `Option` only spares a panic path.
fn ensure_child<'a>(
    m: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    let slot = m
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

/// Each object element of the array `m[key]`.
fn each_item<'a>(
    m: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    m.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// Writes Go's rendering of a template's zero `metadata.creationTimestamp` (`null`).
fn template_metadata(template: &mut Map<String, Value>) {
    if let Some(meta) = ensure_child(template, "metadata")
        && !meta.contains_key("creationTimestamp")
    {
        meta.insert("creationTimestamp".into(), Value::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::RESOURCES;
    use serde_json::json;

    #[test]
    fn defaulting_is_idempotent_for_every_kind() {
        // Upstream re-runs defaulting on every decode, so a second pass must change nothing.
        let sample = json!({"metadata": {"name": "x", "uid": "u"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}],
                     "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"}},
                     "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}},
            "stringData": {"k": "v"}, "status": {"capacity": {"cpu": "1"}}});
        for info in RESOURCES {
            let mut once = sample.clone();
            apply_defaults(info, &mut once);
            prepare_for_create(info, &mut once);
            as_read_back(info, &mut once);
            let mut twice = once.clone();
            apply_defaults(info, &mut twice);
            assert_eq!(once, twice, "{}", info.kind);
        }
    }

    #[test]
    fn non_objects_are_left_alone() {
        for info in RESOURCES {
            let mut v = json!([1, 2]);
            apply_defaults(info, &mut v);
            prepare_for_create(info, &mut v);
            assert_eq!(v, json!([1, 2]));
            let mut malformed = json!({"spec": 5, "metadata": "x", "status": []});
            apply_defaults(info, &mut malformed);
            prepare_for_create(info, &mut malformed);
        }
    }
}
