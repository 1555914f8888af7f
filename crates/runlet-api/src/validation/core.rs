//! Validation of the remaining core kinds runlet serves — Namespace, ConfigMap, Secret, Node,
//! Event (core/v1 and events.k8s.io/v1), Lease, PersistentVolumeClaim, PersistentVolume — as
//! upstream's `pkg/apis/core/validation` and `pkg/apis/coordination/validation`: metadata plus
//! the obvious required fields.

use super::format::{self, invalid_each};
use super::metadata::{
    FIELD_IMMUTABLE, validate_finalizer_name, validate_immutable, validate_label_name,
    validate_object_meta, validate_object_meta_update,
};
use super::quantity::Quantity;
use super::{json_i64, json_str, non_null};
use crate::field::{ErrorList, FieldError, Path};
use base64::Engine;
use serde_json::Value;

/// ConfigMaps and Secrets hold at most 1 MiB of data.
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;

fn meta_path() -> Path {
    Path::new("metadata")
}

fn arr<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// `ValidateNamespace`.
pub fn validate_namespace(ns: &Value) -> ErrorList {
    let mut errs = validate_object_meta(ns, false, format::name_is_dns_label, &meta_path());
    for f in arr(ns.get("spec").unwrap_or(&Value::Null), "finalizers") {
        errs.extend(validate_finalizer_name(
            f.as_str().unwrap_or(""),
            &Path::new("spec").child("finalizers"),
        ));
    }
    errs
}

/// `ValidateNamespaceStatusUpdate`: the phase follows the deletion timestamp.
pub fn validate_namespace_status_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = validate_object_meta_update(new, old, &meta_path());
    let phase = new
        .get("status")
        .map(|s| json_str(s, "phase"))
        .unwrap_or("");
    let p = Path::new("status").child("Phase");
    if crate::meta::is_deleting(new) {
        if phase != "Terminating" {
            errs.push(FieldError::invalid(
                &p,
                phase,
                "may only be 'Terminating' if `deletionTimestamp` is not empty",
            ));
        }
    } else if phase != "Active" {
        errs.push(FieldError::invalid(
            &p,
            phase,
            "may only be 'Active' if `deletionTimestamp` is empty",
        ));
    }
    errs
}

fn decoded_len(v: &Value) -> usize {
    let s = v.as_str().unwrap_or("");
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_or(s.len() / 4 * 3, |b| b.len())
}

/// `ValidateConfigMap`.
pub fn validate_config_map(cm: &Value) -> ErrorList {
    let mut errs = validate_object_meta(cm, true, format::name_is_dns_subdomain, &meta_path());
    let mut total = 0usize;
    let binary = cm.get("binaryData").and_then(Value::as_object);
    if let Some(data) = cm.get("data").and_then(Value::as_object) {
        for (k, v) in data {
            let p = Path::new("data").key(k);
            errs.extend(invalid_each(&p, k, format::is_config_map_key(k)));
            if binary.is_some_and(|b| b.contains_key(k)) {
                errs.push(FieldError::invalid(
                    &p,
                    k.as_str(),
                    "duplicate of key present in binaryData",
                ));
            }
            total = total.saturating_add(v.as_str().map_or(0, str::len));
        }
    }
    if let Some(b) = binary {
        for (k, v) in b {
            errs.extend(invalid_each(
                &Path::new("binaryData").key(k),
                k,
                format::is_config_map_key(k),
            ));
            total = total.saturating_add(decoded_len(v));
        }
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long(&Path::default(), MAX_SECRET_SIZE));
    }
    errs
}

fn immutable_flag_errors(new: &Value, old: &Value, fields: &[&str]) -> ErrorList {
    let mut errs = ErrorList::new();
    if old.get("immutable").and_then(Value::as_bool) == Some(true) {
        if new.get("immutable").and_then(Value::as_bool) != Some(true) {
            errs.push(FieldError::forbidden(
                &Path::new("immutable"),
                "field is immutable when `immutable` is set",
            ));
        }
        for f in fields {
            if non_null(new.get(*f)) != non_null(old.get(*f)) {
                errs.push(FieldError::forbidden(
                    &Path::new(f),
                    "field is immutable when `immutable` is set",
                ));
            }
        }
    }
    errs
}

/// `ValidateConfigMapUpdate`.
pub fn validate_config_map_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = validate_object_meta_update(new, old, &meta_path());
    errs.extend(immutable_flag_errors(new, old, &["data", "binaryData"]));
    errs.extend(validate_config_map(new));
    errs
}

/// `ValidateSecret`.
pub fn validate_secret(s: &Value) -> ErrorList {
    let mut errs = validate_object_meta(s, true, format::name_is_dns_subdomain, &meta_path());
    let data_path = Path::new("data");
    let data = s.get("data").and_then(Value::as_object);
    let mut total = 0usize;
    for (k, v) in data.into_iter().flatten() {
        errs.extend(invalid_each(
            &data_path.key(k),
            k,
            format::is_config_map_key(k),
        ));
        total = total.saturating_add(decoded_len(v));
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long(&data_path, MAX_SECRET_SIZE));
    }
    let has = |k: &str| data.is_some_and(|d| d.contains_key(k));
    match json_str(s, "type") {
        "kubernetes.io/service-account-token" => {
            let name = s
                .get("metadata")
                .and_then(|m| m.get("annotations"))
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if name.is_empty() {
                errs.push(FieldError::required(
                    &meta_path()
                        .child("annotations")
                        .key("kubernetes.io/service-account.name"),
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" if !has(".dockercfg") => {
            errs.push(FieldError::required(&data_path.key(".dockercfg"), ""))
        }
        "kubernetes.io/dockerconfigjson" if !has(".dockerconfigjson") => errs.push(
            FieldError::required(&data_path.key(".dockerconfigjson"), ""),
        ),
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            errs.push(FieldError::required(&data_path.key("username"), ""));
            errs.push(FieldError::required(&data_path.key("password"), ""));
        }
        "kubernetes.io/ssh-auth"
            if data
                .and_then(|d| d.get("ssh-privatekey"))
                .is_none_or(|v| decoded_len(v) == 0) =>
        {
            errs.push(FieldError::required(&data_path.key("ssh-privatekey"), ""))
        }
        "kubernetes.io/tls" => {
            for k in ["tls.crt", "tls.key"] {
                if !has(k) {
                    errs.push(FieldError::required(&data_path.key(k), ""));
                }
            }
        }
        _ => {}
    }
    errs
}

/// `ValidateSecretUpdate`: the type never changes; immutable Secrets keep their data.
pub fn validate_secret_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = validate_object_meta_update(new, old, &meta_path());
    let (nt, ot) = (json_str(new, "type"), json_str(old, "type"));
    if nt != ot {
        errs.push(FieldError::invalid(&Path::new("type"), nt, FIELD_IMMUTABLE));
    }
    errs.extend(immutable_flag_errors(new, old, &["data"]));
    errs.extend(validate_secret(new));
    errs
}

fn validate_taints(node: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let path = Path::new("spec").child("taints");
    let mut seen = std::collections::BTreeSet::new();
    for (i, t) in arr(node.get("spec").unwrap_or(&Value::Null), "taints")
        .iter()
        .enumerate()
    {
        let p = path.index(i);
        let key = json_str(t, "key");
        errs.extend(validate_label_name(key, &p.child("key")));
        let value = json_str(t, "value");
        errs.extend(invalid_each(
            &p.child("value"),
            value,
            format::is_valid_label_value(value),
        ));
        let effect = json_str(t, "effect");
        match effect {
            "" => errs.push(FieldError::required(&p.child("effect"), "")),
            "NoSchedule" | "PreferNoSchedule" | "NoExecute" => {}
            other => errs.push(FieldError::not_supported(
                &p.child("effect"),
                other,
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            )),
        }
        let id = format!("{key}:{effect}");
        if !seen.insert(id) {
            errs.push(
                FieldError::duplicate(&p, t.clone())
                    .with_detail("taints must be unique by key and effect pair"),
            );
        }
    }
    errs
}

trait WithDetail {
    fn with_detail(self, d: &str) -> Self;
}

impl WithDetail for FieldError {
    fn with_detail(mut self, d: &str) -> Self {
        self.detail = d.to_string();
        self
    }
}

/// `ValidateNode` (cheap part): metadata and taints.
pub fn validate_node(node: &Value) -> ErrorList {
    let mut errs = validate_object_meta(node, false, format::name_is_dns_subdomain, &meta_path());
    errs.extend(validate_taints(node));
    errs
}

/// `ValidateNodeUpdate` (cheap part).
pub fn validate_node_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = validate_object_meta_update(new, old, &meta_path());
    errs.extend(validate_taints(new));
    let spec_path = Path::new("spec");
    let ns = new.get("spec").unwrap_or(&Value::Null);
    let os = old.get("spec").unwrap_or(&Value::Null);
    if !json_str(os, "providerID").is_empty()
        && json_str(ns, "providerID") != json_str(os, "providerID")
    {
        errs.push(FieldError::forbidden(
            &spec_path.child("providerID"),
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
    if !arr(os, "podCIDRs").is_empty() && arr(ns, "podCIDRs") != arr(os, "podCIDRs") {
        errs.push(FieldError::forbidden(
            &spec_path.child("podCIDRs"),
            "node updates may not change podCIDR except from \"\" to valid",
        ));
    }
    errs
}

/// core/v1 Event: upstream's `legacyValidateEvent` (the only check for the v1 API).
pub fn validate_core_event(ev: &Value) -> ErrorList {
    let namespace = crate::meta::str_field(ev, "namespace").unwrap_or("");
    let involved_ns = ev
        .get("involvedObject")
        .map(|o| json_str(o, "namespace"))
        .unwrap_or("");
    let event_time = non_null(ev.get("eventTime")).is_some();
    legacy_validate_event(
        namespace,
        involved_ns,
        event_time,
        json_str(ev, "reportingComponent"),
        json_str(ev, "reportingInstance"),
        json_str(ev, "action"),
        json_str(ev, "reason"),
        json_str(ev, "message"),
    )
}

#[allow(clippy::too_many_arguments)]
fn legacy_validate_event(
    namespace: &str,
    involved_ns: &str,
    event_time: bool,
    controller: &str,
    instance: &str,
    action: &str,
    reason: &str,
    message: &str,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let inv = Path::new("involvedObject").child("namespace");
    if !event_time {
        if involved_ns.is_empty() {
            if !namespace.is_empty() && namespace != "default" {
                errs.push(FieldError::invalid(
                    &inv,
                    involved_ns,
                    "does not match event.namespace",
                ));
            }
        } else if namespace != involved_ns {
            errs.push(FieldError::invalid(
                &inv,
                involved_ns,
                "does not match event.namespace",
            ));
        }
    } else {
        if involved_ns.is_empty() && namespace != "default" && namespace != "kube-system" {
            errs.push(FieldError::invalid(
                &inv,
                involved_ns,
                "does not match event.namespace",
            ));
        }
        if controller.is_empty() {
            errs.push(FieldError::required(&Path::new("reportingController"), ""));
        }
        errs.extend(invalid_each(
            &Path::new("reportingController"),
            controller,
            format::is_qualified_name(controller),
        ));
        for (field, value, limit, required) in [
            ("reportingInstance", instance, 128, true),
            ("action", action, 128, true),
            ("reason", reason, 128, true),
            ("message", message, 1024, false),
        ] {
            if required && value.is_empty() {
                errs.push(FieldError::required(&Path::new(field), ""));
            }
            if value.len() > limit {
                errs.push(FieldError::invalid(
                    &Path::new(field),
                    "",
                    format!("can have at most {limit} characters"),
                ));
            }
        }
    }
    errs.extend(invalid_each(
        &Path::new("namespace"),
        namespace,
        format::is_dns1123_subdomain(namespace),
    ));
    errs
}

fn events_v1_legacy(ev: &Value) -> ErrorList {
    let namespace = crate::meta::str_field(ev, "namespace").unwrap_or("");
    let involved_ns = ev
        .get("regarding")
        .map(|o| json_str(o, "namespace"))
        .unwrap_or("");
    legacy_validate_event(
        namespace,
        involved_ns,
        non_null(ev.get("eventTime")).is_some(),
        json_str(ev, "reportingController"),
        json_str(ev, "reportingInstance"),
        json_str(ev, "action"),
        json_str(ev, "reason"),
        json_str(ev, "note"),
    )
}

fn validate_series(ev: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(s) = non_null(ev.get("series")) {
        if json_i64(s, "count").unwrap_or(0) < 2 {
            errs.push(FieldError::invalid(
                &Path::new("series.count"),
                "",
                "should be at least 2",
            ));
        }
        if non_null(s.get("lastObservedTime")).is_none() {
            errs.push(FieldError::required(
                &Path::new("series.lastObservedTime"),
                "",
            ));
        }
    }
    errs
}

/// events.k8s.io/v1 Event create: legacy rules plus the strict ones.
pub fn validate_events_event_create(ev: &Value) -> ErrorList {
    let mut errs = events_v1_legacy(ev);
    errs.extend(validate_object_meta(
        ev,
        true,
        format::name_is_dns_subdomain,
        &meta_path(),
    ));
    errs.extend(validate_series(ev));
    if non_null(ev.get("eventTime")).is_none() {
        errs.push(FieldError::required(&Path::new("eventTime"), ""));
    }
    let ty = json_str(ev, "type");
    if ty != "Normal" && ty != "Warning" {
        errs.push(FieldError::invalid(
            &Path::new("type"),
            "",
            format!("has invalid value: {ty}"),
        ));
    }
    for (field, name) in [
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
    ] {
        if non_null(ev.get(field)).is_some() {
            errs.push(FieldError::invalid(
                &Path::new(name),
                "",
                "needs to be unset",
            ));
        }
    }
    if json_i64(ev, "deprecatedCount").unwrap_or(0) != 0 {
        errs.push(FieldError::invalid(
            &Path::new("count"),
            "",
            "needs to be unset",
        ));
    }
    if let Some(src) = non_null(ev.get("deprecatedSource"))
        && (!json_str(src, "component").is_empty() || !json_str(src, "host").is_empty())
    {
        errs.push(FieldError::invalid(
            &Path::new("source"),
            "",
            "needs to be unset",
        ));
    }
    errs
}

/// events.k8s.io/v1 Event update: only the series may change.
pub fn validate_events_event_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = events_v1_legacy(new);
    errs.extend(validate_object_meta_update(new, old, &meta_path()));
    if non_null(new.get("series")) != non_null(old.get("series")) {
        errs.extend(validate_series(new));
    }
    for (field, path) in [
        ("regarding", "involvedObject"),
        ("reason", "reason"),
        ("note", "message"),
        ("deprecatedSource", "source"),
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
        ("type", "type"),
        ("eventTime", "eventTime"),
        ("action", "action"),
        ("related", "related"),
        ("reportingController", "reportingController"),
        ("reportingInstance", "reportingInstance"),
    ] {
        errs.extend(validate_immutable(
            new.get(field),
            old.get(field),
            &Path::new(path),
        ));
    }
    errs
}

fn validate_lease_spec(lease: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let spec = lease.get("spec").unwrap_or(&Value::Null);
    let p = Path::new("spec");
    if let Some(d) = json_i64(spec, "leaseDurationSeconds")
        && d <= 0
    {
        errs.push(FieldError::invalid(
            &p.child("leaseDurationSeconds"),
            d,
            "must be greater than 0",
        ));
    }
    if let Some(t) = json_i64(spec, "leaseTransitions")
        && t < 0
    {
        errs.push(FieldError::invalid(
            &p.child("leaseTransitions"),
            t,
            "must be greater than or equal to 0",
        ));
    }
    errs
}

/// `ValidateLease`.
pub fn validate_lease(lease: &Value) -> ErrorList {
    let mut errs = validate_object_meta(lease, true, format::name_is_dns_subdomain, &meta_path());
    errs.extend(validate_lease_spec(lease));
    errs
}

/// `ValidateLeaseUpdate`.
pub fn validate_lease_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = validate_object_meta_update(new, old, &meta_path());
    errs.extend(validate_lease_spec(new));
    errs
}

const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];

fn validate_access_modes(spec: &Value, path: &Path, required_msg: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    let modes = arr(spec, "accessModes");
    if modes.is_empty() {
        errs.push(FieldError::required(
            &path.child("accessModes"),
            required_msg,
        ));
    }
    let (mut once_per_pod, mut others) = (false, false);
    for m in modes {
        let m = m.as_str().unwrap_or("");
        if !ACCESS_MODES.contains(&m) {
            errs.push(FieldError::not_supported(
                &path.child("accessModes"),
                m,
                ACCESS_MODES,
            ));
        } else if m == "ReadWriteOncePod" {
            once_per_pod = true;
        } else {
            others = true;
        }
    }
    if once_per_pod && others {
        errs.push(FieldError::forbidden(
            &path.child("accessModes"),
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
    errs
}

/// Upstream's `validateDataSource` (also for `dataSourceRef`): a named object of a kind, a
/// claim when the group is the core one.
fn validate_data_source(source: &Value, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if json_str(source, "name").is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    }
    let kind = json_str(source, "kind");
    if kind.is_empty() {
        errs.push(FieldError::required(&path.child("kind"), ""));
    }
    let group = json_str(source, "apiGroup");
    if group.is_empty() && kind != "PersistentVolumeClaim" {
        errs.push(FieldError::invalid(
            path,
            kind,
            "must be 'PersistentVolumeClaim' when referencing the default apiGroup",
        ));
    }
    if !group.is_empty() {
        errs.extend(invalid_each(
            &path.child("apiGroup"),
            group,
            format::is_dns1123_subdomain(group),
        ));
    }
    errs
}

/// `ValidatePersistentVolumeClaim` (spec basics: access modes, storage request, volume mode).
pub fn validate_pvc(pvc: &Value) -> ErrorList {
    let mut errs = validate_object_meta(pvc, true, format::name_is_dns_subdomain, &meta_path());
    let spec = pvc.get("spec").unwrap_or(&Value::Null);
    errs.extend(validate_pvc_spec(spec, &Path::new("spec")));
    errs
}

/// `ValidatePersistentVolumeClaimSpec`, for claims and the templates of ephemeral volumes.
pub(crate) fn validate_pvc_spec(spec: &Value, p: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    errs.extend(validate_access_modes(
        spec,
        p,
        "at least 1 access mode is required",
    ));
    let storage_path = p.child("resources").key("storage");
    match super::at(spec, &["resources", "requests", "storage"]).and_then(Value::as_str) {
        None => errs.push(FieldError::required(&storage_path, "")),
        Some(raw) => match Quantity::parse(raw) {
            Some(q) if q.is_positive() => {}
            _ => errs.push(FieldError::invalid(
                &storage_path,
                raw,
                "must be greater than zero",
            )),
        },
    }
    if let Some(vm) = spec.get("volumeMode").and_then(Value::as_str)
        && vm != "Block"
        && vm != "Filesystem"
    {
        errs.push(FieldError::not_supported(
            &p.child("volumeMode"),
            vm,
            &["Block", "Filesystem"],
        ));
    }
    if let Some(sel) = non_null(spec.get("selector")) {
        errs.extend(super::labelselector::validate_label_selector(
            sel,
            false,
            &p.child("selector"),
        ));
    }
    for key in ["dataSource", "dataSourceRef"] {
        if let Some(source) = non_null(spec.get(key)) {
            errs.extend(validate_data_source(source, &p.child(key)));
        }
    }
    if let (Some(source), Some(reference)) = (
        non_null(spec.get("dataSource")),
        non_null(spec.get("dataSourceRef")),
    ) && json_str(reference, "namespace").is_empty()
        && ["apiGroup", "kind", "name"]
            .iter()
            .any(|k| json_str(source, k) != json_str(reference, k))
    {
        errs.push(FieldError::invalid(
            p,
            "spec.dataSource",
            "must match dataSourceRef",
        ));
    }
    if let Some(sc) = spec
        .get("storageClassName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        errs.extend(invalid_each(
            &p.child("storageClassName"),
            sc,
            format::name_is_dns_subdomain(sc, false),
        ));
    }
    errs
}

/// `ValidatePersistentVolumeClaimUpdate` (cheap part): the spec is fixed except the storage
/// request of a bound claim, the volume attributes class, and binding an unbound claim; the
/// request may go down (to recover from a failed expansion) but not to the capacity.
pub fn validate_pvc_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = validate_object_meta_update(new, old, &meta_path());
    errs.extend(validate_pvc(new));
    let bound = new.pointer("/status/phase").and_then(Value::as_str) == Some("Bound");
    let strip = |v: &Value| {
        let mut s = v.get("spec").cloned().unwrap_or(Value::Null);
        if let Some(m) = s.as_object_mut() {
            m.remove("volumeAttributesClassName");
            if bound
                && let Some(r) = m
                    .get_mut("resources")
                    .and_then(|r| r.get_mut("requests"))
                    .and_then(Value::as_object_mut)
            {
                r.remove("storage");
            }
        }
        s
    };
    let (mut ns, os) = (strip(new), strip(old));
    if json_str(&os, "volumeName").is_empty()
        && let Some(m) = ns.as_object_mut()
    {
        match os.get("volumeName") {
            Some(v) => m.insert("volumeName".to_string(), v.clone()),
            None => m.remove("volumeName"),
        };
    }
    if ns != os {
        errs.push(FieldError::forbidden(
            &Path::new("spec"),
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        ));
    }
    let quantity = |v: &Value, pointer: &str| {
        v.pointer(pointer)
            .and_then(Value::as_str)
            .and_then(Quantity::parse)
            .unwrap_or_default()
    };
    let requested = "/spec/resources/requests/storage";
    let (new_size, old_size) = (quantity(new, requested), quantity(old, requested));
    if new_size < old_size && new_size <= quantity(old, "/status/capacity/storage") {
        errs.push(FieldError::forbidden(
            &Path::new("spec")
                .child("resources")
                .child("requests")
                .child("storage"),
            "field can not be less than status.capacity",
        ));
    }
    errs
}

const PV_SOURCES: &[&str] = &[
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "glusterfs",
    "nfs",
    "rbd",
    "quobyte",
    "cinder",
    "cephfs",
    "fc",
    "flocker",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "local",
    "storageos",
    "csi",
    "iscsi",
];

fn validate_pv_spec(pv: &Value) -> ErrorList {
    let mut errs = ErrorList::new();
    let spec = pv.get("spec").unwrap_or(&Value::Null);
    let p = Path::new("spec");
    errs.extend(validate_access_modes(spec, &p, ""));
    let capacity = spec.get("capacity").and_then(Value::as_object);
    match capacity {
        None => errs.push(FieldError::required(&p.child("capacity"), "")),
        Some(c) if c.is_empty() => errs.push(FieldError::required(&p.child("capacity"), "")),
        Some(c) if !c.contains_key("storage") || c.len() > 1 => errs.push(
            FieldError::not_supported(&p.child("capacity"), Value::Object(c.clone()), &["storage"]),
        ),
        Some(_) => {}
    }
    if let Some(rp) = spec
        .get("persistentVolumeReclaimPolicy")
        .and_then(Value::as_str)
        && !["Delete", "Recycle", "Retain"].contains(&rp)
    {
        errs.push(FieldError::not_supported(
            &p.child("persistentVolumeReclaimPolicy"),
            rp,
            &["Delete", "Recycle", "Retain"],
        ));
    }
    let mut n = 0;
    for key in PV_SOURCES {
        if non_null(spec.get(*key)).is_some() {
            if n > 0 {
                errs.push(FieldError::forbidden(
                    &p.child(key),
                    "may not specify more than 1 volume type",
                ));
            }
            n += 1;
        }
    }
    if n == 0 {
        errs.push(FieldError::required(&p, "must specify a volume type"));
    }
    if let Some(hp) = non_null(spec.get("hostPath")) {
        let hp_path = p.child("hostPath");
        match json_str(hp, "path") {
            "" => errs.push(FieldError::required(&hp_path.child("path"), "")),
            path => {
                errs.extend(super::pod::validate_path_no_backsteps(
                    path,
                    &hp_path.child("path"),
                ));
                errs.extend(super::pod::validate_host_path_type(
                    hp,
                    &hp_path.child("type"),
                ));
            }
        }
    }
    if let Some(local) = non_null(spec.get("local")) {
        let local_path = p.child("local").child("path");
        match json_str(local, "path") {
            "" => errs.push(FieldError::required(&local_path, "")),
            path => errs.extend(super::pod::validate_path_no_backsteps(path, &local_path)),
        }
        if non_null(super::at(spec, &["nodeAffinity", "required"])).is_none() {
            errs.push(FieldError::required(
                &meta_path().child("annotations"),
                "Local volume requires node affinity",
            ));
        }
    }
    errs
}

/// `ValidatePersistentVolume` (cheap part).
pub fn validate_pv(pv: &Value) -> ErrorList {
    let mut errs = validate_object_meta(pv, false, format::name_is_dns_subdomain, &meta_path());
    errs.extend(validate_pv_spec(pv));
    errs
}

/// `ValidatePersistentVolumeUpdate` (cheap part): the volume source never changes.
pub fn validate_pv_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = validate_object_meta_update(new, old, &meta_path());
    errs.extend(validate_pv_spec(new));
    let ns = new.get("spec").unwrap_or(&Value::Null);
    let os = old.get("spec").unwrap_or(&Value::Null);
    for key in PV_SOURCES {
        if non_null(ns.get(*key)) != non_null(os.get(*key)) {
            errs.extend(validate_immutable(
                ns.get(*key),
                os.get(*key),
                &Path::new("spec").child("persistentvolumesource"),
            ));
            break;
        }
    }
    errs
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::validation::msgs;
    use serde_json::json;

    #[test]
    fn claims_and_volumes_are_checked_as_upstream() {
        let claim = json!({"metadata": {"name": "c", "namespace": "d"}, "spec": {
            "accessModes": ["ReadWriteOncePod", "ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            "selector": {"matchLabels": {"a": "b c"}},
            "dataSource": {"kind": "Foo", "name": ""}}});
        assert_eq!(
            msgs(&validate_pvc(&claim)),
            vec![
                "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes",
                "spec.selector.matchLabels: Invalid value: \"b c\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                "spec.dataSource.name: Required value",
                "spec.dataSource: Invalid value: \"Foo\": must be 'PersistentVolumeClaim' when referencing the default apiGroup",
            ]
        );
        let volume = |source: Value| {
            let mut spec =
                json!({"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]});
            spec.as_object_mut()
                .unwrap()
                .extend(source.as_object().unwrap().clone());
            msgs(&validate_pv(
                &json!({"metadata": {"name": "v"}, "spec": spec}),
            ))
        };
        assert_eq!(
            volume(json!({"hostPath": {"path": "/tmp/x/../y", "type": "Bogus"}})),
            vec![
                "spec.hostPath.path: Invalid value: \"/tmp/x/../y\": must not contain '..'",
                "spec.hostPath.type: Unsupported value: \"Bogus\": supported values: \"\", \"BlockDevice\", \"CharDevice\", \"Directory\", \"DirectoryOrCreate\", \"File\", \"FileOrCreate\", \"Socket\"",
            ]
        );
        assert_eq!(
            volume(json!({"local": {"path": "/mnt/disk"}})),
            vec!["metadata.annotations: Required value: Local volume requires node affinity"]
        );
    }

    #[test]
    fn namespace_name_must_be_dns_label() {
        let errs = validate_namespace(&json!({"metadata": {"name": "a.b"}}));
        assert_eq!(
            msgs(&errs),
            vec!["metadata.name: Invalid value: \"a.b\": must not contain dots"]
        );
    }

    #[test]
    fn config_map_key_format() {
        let errs = validate_config_map(
            &json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a b": "x"}}),
        );
        assert_eq!(
            msgs(&errs),
            vec![
                "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
            ]
        );
    }

    #[test]
    fn immutable_config_map_keeps_data() {
        let old = json!({"metadata": {"name": "c", "namespace": "d", "resourceVersion": "1"}, "immutable": true, "data": {"a": "1"}});
        let mut new = old.clone();
        new["data"]["a"] = json!("2");
        assert_eq!(
            msgs(&validate_config_map_update(&new, &old)),
            vec!["data: Forbidden: field is immutable when `immutable` is set"]
        );
    }

    #[test]
    fn secret_type_is_immutable() {
        let old = json!({"metadata": {"name": "s", "namespace": "d", "resourceVersion": "1"}, "type": "Opaque"});
        let mut new = old.clone();
        new["type"] = json!("example.com/other");
        assert_eq!(
            msgs(&validate_secret_update(&new, &old)),
            vec!["type: Invalid value: \"example.com/other\": field is immutable"]
        );
    }

    #[test]
    fn tls_secret_needs_cert_and_key() {
        let s = json!({"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "YQ=="}});
        assert_eq!(
            msgs(&validate_secret(&s)),
            vec!["data[tls.key]: Required value"]
        );
    }

    #[test]
    fn lease_duration_must_be_positive() {
        let l = json!({"metadata": {"name": "n1", "namespace": "kube-node-lease"}, "spec": {"leaseDurationSeconds": 0}});
        assert_eq!(
            msgs(&validate_lease(&l)),
            vec!["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
        );
    }

    #[test]
    fn pvc_needs_access_mode_and_storage() {
        let pvc = json!({"metadata": {"name": "c", "namespace": "d"}, "spec": {}});
        assert_eq!(
            msgs(&validate_pvc(&pvc)),
            vec![
                "spec.accessModes: Required value: at least 1 access mode is required",
                "spec.resources[storage]: Required value"
            ]
        );
    }

    #[test]
    fn pv_needs_a_source() {
        let pv = json!({"metadata": {"name": "v"}, "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}});
        assert_eq!(
            msgs(&validate_pv(&pv)),
            vec!["spec: Required value: must specify a volume type"]
        );
    }

    #[test]
    fn core_event_namespace_must_match_involved_object() {
        let ev = json!({"metadata": {"name": "e", "namespace": "a"}, "involvedObject": {"namespace": "b"}});
        assert_eq!(
            msgs(&validate_core_event(&ev)),
            vec!["involvedObject.namespace: Invalid value: \"b\": does not match event.namespace"]
        );
    }

    #[test]
    fn node_taint_needs_effect() {
        let node = json!({"metadata": {"name": "n"}, "spec": {"taints": [{"key": "k"}]}});
        assert_eq!(
            msgs(&validate_node(&node)),
            vec!["spec.taints[0].effect: Required value"]
        );
    }
}
