//! PersistentVolumeClaim rows, as upstream's `printPersistentVolumeClaim`, and the access-mode
//! and storage-class helpers PersistentVolume rows share.

use super::descriptions as d;
use super::{Column, Row, age, array_at, at, is_deleting, name, str_at};
use serde_json::Value;

pub(super) const COLUMNS: &[Column] = &[
    Column::NAME,
    Column::string("Status", d::PVC_STATUS_PHASE),
    Column::string("Volume", d::PVC_SPEC_VOLUME_NAME),
    Column::string("Capacity", d::PVC_STATUS_CAPACITY),
    Column::string("Access Modes", d::PVC_STATUS_ACCESS_MODES),
    Column::string("StorageClass", "StorageClass of the pvc"),
    Column::string("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
    Column::AGE,
    Column::wide("VolumeMode", d::PVC_SPEC_VOLUME_MODE),
];

/// The beta annotation that overrides `storageClassName`.
const BETA_STORAGE_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

pub(super) fn row(pvc: &Value, now: i64) -> Row {
    let phase = if is_deleting(pvc) {
        "Terminating"
    } else {
        str_at(pvc, &["status", "phase"])
    };
    let volume = str_at(pvc, &["spec", "volumeName"]);
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(at(pvc, &["status", "capacity", "storage"])),
            access_modes(array_at(pvc, &["status", "accessModes"])),
        )
    };
    let vac = at(pvc, &["spec", "volumeAttributesClassName"])
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    Row::new(vec![
        name(pvc).into(),
        phase.into(),
        volume.into(),
        capacity.into(),
        modes.into(),
        storage_class(pvc).into(),
        vac.unwrap_or("<unset>").into(),
        age(pvc, now).into(),
        volume_mode(pvc).into(),
    ])
}

/// A quantity cell: the stored quantity, `0` when absent.
pub(super) fn quantity(q: Option<&Value>) -> String {
    q.and_then(Value::as_str).unwrap_or("0").to_string()
}

/// `spec.volumeMode`, or `<unset>`.
pub(super) fn volume_mode(obj: &Value) -> &str {
    at(obj, &["spec", "volumeMode"])
        .and_then(Value::as_str)
        .unwrap_or("<unset>")
}

/// `GetPersistentVolume(Claim)Class`: the beta annotation, else `spec.storageClassName`.
pub(super) fn storage_class(obj: &Value) -> &str {
    at(
        obj,
        &["metadata", "annotations", BETA_STORAGE_CLASS_ANNOTATION],
    )
    .and_then(Value::as_str)
    .unwrap_or_else(|| str_at(obj, &["spec", "storageClassName"]))
}

/// `GetAccessModesAsString`: `RWO,ROX,RWX,RWOP` in that order, each once.
pub(super) fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| has(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bound_claim_shows_capacity_and_modes() {
        let pvc = json!({"metadata": {"name": "data", "creationTimestamp": "2023-11-14T22:13:20Z"},
            "spec": {"volumeName": "pv-1", "storageClassName": "local", "volumeMode": "Filesystem",
                     "resources": {"requests": {"storage": "1Gi"}}},
            "status": {"phase": "Bound", "capacity": {"storage": "2Gi"},
                       "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"]}});
        assert_eq!(
            row(&pvc, 1_700_000_000).cells,
            vec![
                json!("data"),
                json!("Bound"),
                json!("pv-1"),
                json!("2Gi"),
                json!("RWO,RWX"),
                json!("local"),
                json!("<unset>"),
                json!("0s"),
                json!("Filesystem")
            ]
        );
    }

    #[test]
    fn pending_claim_has_no_capacity_and_annotation_class_wins() {
        let mut pvc = json!({"metadata": {"name": "c", "annotations": {BETA_STORAGE_CLASS_ANNOTATION: "beta"}},
            "spec": {"storageClassName": "ga"}, "status": {"phase": "Pending"}});
        let cells = row(&pvc, 0).cells;
        assert_eq!(cells[3], "");
        assert_eq!(cells[4], "");
        assert_eq!(cells[5], "beta");
        assert_eq!(cells[8], "<unset>");
        pvc["metadata"]["deletionTimestamp"] = json!("2023-11-14T22:13:20Z");
        assert_eq!(row(&pvc, 0).cells[1], "Terminating");
    }
}
