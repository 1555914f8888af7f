//! ConfigMap rows, as upstream's `printConfigMap`: Data counts `data` and `binaryData` keys.

use super::descriptions as d;
use super::{Column, Row, age, map_len, name};
use serde_json::Value;

pub(super) const COLUMNS: &[Column] = &[
    Column::NAME,
    Column::string("Data", d::CONFIG_MAP_DATA),
    Column::AGE,
];

pub(super) fn row(cm: &Value, now: i64) -> Row {
    let count = map_len(cm, &["data"]) + map_len(cm, &["binaryData"]);
    Row::new(vec![name(cm).into(), count.into(), age(cm, now).into()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn configmap_counts_data_and_binary_data() {
        let cm = json!({"metadata": {"name": "kube-root-ca.crt", "creationTimestamp": "2023-11-14T21:13:20Z"},
            "data": {"ca.crt": "x", "b": "y"}, "binaryData": {"c": "eg=="}});
        assert_eq!(
            row(&cm, 1_700_000_000).cells,
            vec![json!("kube-root-ca.crt"), json!(3), json!("60m")]
        );
    }
}
