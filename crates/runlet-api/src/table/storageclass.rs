//! StorageClass rows, as upstream's `printStorageClass`: the default class is marked in its
//! name, and unset policies show their defaults.

use super::{Column, Row, age, at, name, str_at};
use serde_json::Value;

pub(super) const COLUMNS: &[Column] = &[
    Column::NAME,
    Column::string("Provisioner", "Indicates the type of the provisioner."),
    Column::string("ReclaimPolicy", "Indicates the type of the reclaim policy."),
    Column::string(
        "VolumeBindingMode",
        "Indicates the mode of the volume binding.",
    ),
    Column::string(
        "AllowVolumeExpansion",
        "Indicates whether the storage class allow volume expand.",
    ),
    Column::AGE,
];

pub(super) fn row(sc: &Value, now: i64) -> Row {
    let mut shown = name(sc).to_string();
    if crate::storageclass::is_default(sc) {
        shown.push_str(" (default)");
    }
    let or = |value: &'static str, default: &'static str| -> String {
        let v = str_at(sc, &[value]);
        if v.is_empty() { default } else { v }.to_string()
    };
    Row::new(vec![
        shown.into(),
        str_at(sc, &["provisioner"]).into(),
        or("reclaimPolicy", "Delete").into(),
        or("volumeBindingMode", "Immediate").into(),
        at(sc, &["allowVolumeExpansion"])
            .and_then(Value::as_bool)
            .unwrap_or(false)
            .into(),
        age(sc, now).into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_default_class_is_marked_and_unset_policies_show_their_defaults() {
        let sc = json!({"metadata": {"name": "local-path", "creationTimestamp": "2023-11-14T22:13:00Z",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "runlet.dev/local-path", "volumeBindingMode": "WaitForFirstConsumer"});
        let row = row(&sc, 1_700_000_000 + 120);
        assert_eq!(
            row.cells,
            vec![
                json!("local-path (default)"),
                json!("runlet.dev/local-path"),
                json!("Delete"),
                json!("WaitForFirstConsumer"),
                json!(false),
                json!("2m20s"),
            ]
        );
    }
}
