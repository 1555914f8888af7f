//! PersistentVolume rows, as upstream's `printPersistentVolume`.

use super::descriptions as d;
use super::pvc::{access_modes, quantity, storage_class, volume_mode};
use super::{Column, Row, age, array_at, at, is_deleting, name, str_at};
use serde_json::Value;

pub(super) const COLUMNS: &[Column] = &[
    Column::NAME,
    Column::string("Capacity", d::PV_SPEC_CAPACITY),
    Column::string("Access Modes", d::PV_SPEC_ACCESS_MODES),
    Column::string("Reclaim Policy", d::PV_SPEC_RECLAIM_POLICY),
    Column::string("Status", d::PV_STATUS_PHASE),
    Column::string("Claim", d::PV_SPEC_CLAIM_REF),
    Column::string("StorageClass", "StorageClass of the pv"),
    Column::string("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
    Column::string("Reason", d::PV_STATUS_REASON),
    Column::AGE,
    Column::wide("VolumeMode", d::PV_SPEC_VOLUME_MODE),
];

pub(super) fn row(pv: &Value, now: i64) -> Row {
    let claim = match at(pv, &["spec", "claimRef"]).filter(|c| c.is_object()) {
        Some(c) => format!("{}/{}", str_at(c, &["namespace"]), str_at(c, &["name"])),
        None => String::new(),
    };
    let phase = if is_deleting(pv) {
        "Terminating"
    } else {
        str_at(pv, &["status", "phase"])
    };
    let vac = at(pv, &["spec", "volumeAttributesClassName"])
        .and_then(Value::as_str)
        .unwrap_or("<unset>");
    Row::new(vec![
        name(pv).into(),
        quantity(at(pv, &["spec", "capacity", "storage"])).into(),
        access_modes(array_at(pv, &["spec", "accessModes"])).into(),
        str_at(pv, &["spec", "persistentVolumeReclaimPolicy"]).into(),
        phase.into(),
        claim.into(),
        storage_class(pv).into(),
        vac.into(),
        str_at(pv, &["status", "reason"]).into(),
        age(pv, now).into(),
        volume_mode(pv).into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bound_volume_shows_claim() {
        let pv = json!({"metadata": {"name": "pv-1", "creationTimestamp": "2023-11-14T22:13:00Z"},
            "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": "Retain", "claimRef": {"namespace": "default", "name": "data"},
                     "storageClassName": "local", "volumeMode": "Filesystem"},
            "status": {"phase": "Bound"}});
        assert_eq!(
            row(&pv, 1_700_000_000).cells,
            vec![
                json!("pv-1"),
                json!("5Gi"),
                json!("RWO"),
                json!("Retain"),
                json!("Bound"),
                json!("default/data"),
                json!("local"),
                json!("<unset>"),
                json!(""),
                json!("20s"),
                json!("Filesystem")
            ]
        );
    }

    #[test]
    fn unbound_volume_without_capacity_prints_zero() {
        let pv = json!({"metadata": {"name": "p"}, "spec": {}, "status": {"phase": "Available"}});
        let cells = row(&pv, 0).cells;
        assert_eq!(cells[1], "0");
        assert_eq!(cells[5], "");
        assert_eq!(cells[10], "<unset>");
    }
}
