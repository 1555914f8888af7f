//! Defaulting of the core objects around Jobs: Namespaces, Secrets, volumes and claims, Nodes,
//! Events and Leases (`pkg/apis/core/v1/defaults.go`, `conversion.go`, the namespace strategy).

use super::{child, default_str, default_value, ensure_child, pod::default_volume_source};
use base64::Engine;
use serde_json::{Map, Value, json};

/// The label every Namespace carries with its own name (`SetDefaults_Namespace`).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// `SetDefaults_Namespace` (the name label) and `SetDefaults_NamespaceStatus` (phase `Active`).
pub(super) fn default_namespace(root: &mut Map<String, Value>) {
    name_label(root);
    if let Some(status) = ensure_child(root, "status") {
        default_str(status, "phase", "Active");
    }
}

fn name_label(root: &mut Map<String, Value>) {
    let Some(meta) = ensure_child(root, "metadata") else {
        return;
    };
    let name = meta
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if name.is_empty() {
        return;
    }
    if let Some(labels) = ensure_child(meta, "labels") {
        labels.insert(NAMESPACE_NAME_LABEL.into(), Value::from(name));
    }
}

/// The namespace strategy's `PrepareForCreate` and `Canonicalize`: status `Active`, the
/// `kubernetes` finalizer appended, the name label set (the name may have been generated).
/// Upstream's `NormalizeDataSources` on a new claim: `dataSource` and `dataSourceRef` say the
/// same, whichever of the two was given (a reference into another namespace stays alone).
pub(super) fn prepare_claim(root: &mut Map<String, Value>) {
    let Some(spec) = root.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let set = |v: Option<&Value>| v.filter(|v| v.is_object()).cloned();
    let reference = |v: &Value| {
        let mut r = Map::new();
        for key in ["apiGroup", "kind", "name"] {
            if let Some(x) = v.get(key).filter(|x| !x.is_null()) {
                r.insert(key.to_string(), x.clone());
            }
        }
        Value::Object(r)
    };
    match (set(spec.get("dataSource")), set(spec.get("dataSourceRef"))) {
        (Some(source), None) => {
            spec.insert("dataSourceRef".into(), reference(&source));
        }
        (None, Some(source))
            if source
                .get("namespace")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty) =>
        {
            spec.insert("dataSource".into(), reference(&source));
        }
        _ => {}
    }
}

pub(super) fn prepare_namespace(root: &mut Map<String, Value>) {
    name_label(root);
    root.insert("status".into(), json!({"phase": "Active"}));
    if let Some(spec) = ensure_child(root, "spec") {
        let finalizers = spec.entry("finalizers").or_insert_with(|| json!([]));
        if !finalizers.is_array() {
            *finalizers = json!([]);
        }
        if let Some(list) = finalizers.as_array_mut()
            && !list.iter().any(|f| f.as_str() == Some("kubernetes"))
        {
            list.push(Value::from("kubernetes"));
        }
    }
}

/// `SetDefaults_Secret` (type `Opaque`) and the v1 conversion that folds the write-only
/// `stringData` into `data`, `stringData` winning on conflicts.
pub(super) fn default_secret(root: &mut Map<String, Value>) {
    default_str(root, "type", "Opaque");
    let Some(Value::Object(string_data)) = root.remove("stringData") else {
        return;
    };
    if string_data.is_empty() {
        return;
    }
    if let Some(data) = ensure_child(root, "data") {
        for (key, value) in string_data {
            let text = value.as_str().unwrap_or("");
            let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
            data.insert(key, Value::from(encoded));
        }
    }
}

/// `SetDefaults_PersistentVolumeClaim(Spec)`: volume mode `Filesystem`, phase `Pending`.
pub(super) fn default_pvc(root: &mut Map<String, Value>) {
    if let Some(spec) = ensure_child(root, "spec") {
        default_value(spec, "volumeMode", "Filesystem");
    }
    if let Some(status) = ensure_child(root, "status") {
        default_str(status, "phase", "Pending");
    }
}

/// `SetDefaults_PersistentVolume(Spec)`: reclaim policy `Retain`, volume mode `Filesystem`,
/// phase `Pending`, and the volume sources' defaults.
pub(super) fn default_pv(root: &mut Map<String, Value>) {
    if let Some(spec) = ensure_child(root, "spec") {
        default_str(spec, "persistentVolumeReclaimPolicy", "Retain");
        default_value(spec, "volumeMode", "Filesystem");
        default_volume_source(spec);
    }
    if let Some(status) = ensure_child(root, "status") {
        default_str(status, "phase", "Pending");
    }
}

/// storage/v1 `SetDefaults_StorageClass`: reclaim policy `Delete`, binding mode `Immediate`.
pub(super) fn default_storage_class(root: &mut Map<String, Value>) {
    default_str(root, "reclaimPolicy", "Delete");
    default_str(root, "volumeBindingMode", "Immediate");
}

/// `SetDefaults_NodeStatus`: allocatable defaults to capacity.
pub(super) fn default_node(root: &mut Map<String, Value>) {
    let Some(status) = child(root, "status") else {
        return;
    };
    if status.get("allocatable").is_none_or(Value::is_null)
        && let Some(capacity) = status.get("capacity").filter(|c| c.is_object()).cloned()
    {
        status.insert("allocatable".into(), capacity);
    }
}

/// A core/v1 Event has no defaults, but Go prints its zero fields: the two reporting strings
/// (no `omitempty`), `null` timestamps and empty `involvedObject`/`source` structs.
pub(super) fn default_core_event(root: &mut Map<String, Value>) {
    for key in ["involvedObject", "source"] {
        default_value(root, key, json!({}));
    }
    for key in ["firstTimestamp", "lastTimestamp", "eventTime"] {
        root.entry(key).or_insert(Value::Null);
    }
    for key in ["reportingComponent", "reportingInstance"] {
        default_value(root, key, "");
    }
}

/// A Lease has no defaults; Go prints its zero `spec` as `{}`.
pub(super) fn default_lease(root: &mut Map<String, Value>) {
    default_value(root, "spec", json!({}));
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::defaulting::{apply_defaults, prepare_for_create};
    use crate::resources;
    use serde_json::{Value, json};

    fn defaulted(group: &str, plural: &str, mut obj: Value) -> Value {
        if let Some(info) = resources::find(group, "v1", plural) {
            apply_defaults(info, &mut obj);
        }
        obj
    }

    #[test]
    fn namespace_gets_name_label_active_phase_and_kubernetes_finalizer() {
        let mut ns = defaulted("", "namespaces", json!({"metadata": {"name": "team"}}));
        if let Some(info) = resources::find("", "v1", "namespaces") {
            prepare_for_create(info, &mut ns);
        }
        assert_eq!(
            ns,
            json!({"metadata": {"name": "team", "labels": {"kubernetes.io/metadata.name": "team"}},
                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        );
    }

    #[test]
    fn a_new_claim_s_data_sources_say_the_same() {
        let info = resources::find("", "v1", "persistentvolumeclaims").unwrap();
        let source = json!({"kind": "PersistentVolumeClaim", "name": "seed"});
        for (given, other) in [
            ("dataSource", "dataSourceRef"),
            ("dataSourceRef", "dataSource"),
        ] {
            let mut claim = json!({"spec": {given: source.clone()}});
            prepare_for_create(info, &mut claim);
            assert_eq!(claim["spec"][other], source, "{given}");
        }
        let elsewhere = json!({"kind": "PersistentVolumeClaim", "name": "seed", "namespace": "x"});
        let mut claim = json!({"spec": {"dataSourceRef": elsewhere}});
        prepare_for_create(info, &mut claim);
        assert!(claim["spec"].get("dataSource").is_none());
    }

    #[test]
    fn secret_defaults_to_opaque_and_folds_string_data() {
        let s = defaulted(
            "",
            "secrets",
            json!({"metadata": {"name": "s"}, "data": {"a": "eA=="},
            "stringData": {"b": "hello"}}),
        );
        assert_eq!(s["type"], "Opaque");
        assert_eq!(s["data"], json!({"a": "eA==", "b": "aGVsbG8="}));
        assert!(s.get("stringData").is_none());
        let typed = defaulted("", "secrets", json!({"type": "kubernetes.io/tls"}));
        assert_eq!(typed["type"], "kubernetes.io/tls");
    }

    #[test]
    fn claims_and_volumes_default_mode_and_phase() {
        let pvc = defaulted(
            "",
            "persistentvolumeclaims",
            json!({"spec": {"accessModes": ["ReadWriteOnce"]}}),
        );
        assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
        assert_eq!(pvc["status"]["phase"], "Pending");
        let pv = defaulted(
            "",
            "persistentvolumes",
            json!({"spec": {"hostPath": {"path": "/d"}}}),
        );
        assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
        assert_eq!(pv["spec"]["volumeMode"], "Filesystem");
        assert_eq!(pv["spec"]["hostPath"]["type"], "");
        assert_eq!(pv["status"]["phase"], "Pending");
    }

    #[test]
    fn node_allocatable_defaults_to_capacity() {
        let node = defaulted("", "nodes", json!({"status": {"capacity": {"cpu": "2"}}}));
        assert_eq!(node["status"]["allocatable"], json!({"cpu": "2"}));
    }

    #[test]
    fn lease_and_event_show_go_zero_values() {
        let lease = defaulted(
            "coordination.k8s.io",
            "leases",
            json!({"metadata": {"name": "l"}}),
        );
        assert_eq!(lease["spec"], json!({}));
        let ev = defaulted(
            "",
            "events",
            json!({"metadata": {"name": "e"}, "reason": "R"}),
        );
        assert_eq!(ev["reportingComponent"], "");
        assert_eq!(ev["eventTime"], Value::Null);
        assert_eq!(ev["source"], json!({}));
    }
}
