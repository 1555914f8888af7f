//! Lease rows, as upstream's `printLease`.

use super::descriptions as d;
use super::{Column, Row, age, name, str_at};
use serde_json::Value;

pub(super) const COLUMNS: &[Column] = &[
    Column::NAME,
    Column::string("Holder", d::LEASE_SPEC_HOLDER_IDENTITY),
    Column::AGE,
];

pub(super) fn row(lease: &Value, now: i64) -> Row {
    Row::new(vec![
        name(lease).into(),
        str_at(lease, &["spec", "holderIdentity"]).into(),
        age(lease, now).into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lease_shows_holder_or_empty() {
        let held = json!({"metadata": {"name": "node-1", "creationTimestamp": "2023-11-12T22:13:20Z"},
            "spec": {"holderIdentity": "node-1"}});
        assert_eq!(
            row(&held, 1_700_000_000).cells,
            vec![json!("node-1"), json!("node-1"), json!("2d")]
        );
        let free = json!({"metadata": {"name": "l"}, "spec": {}});
        assert_eq!(row(&free, 0).cells[1], "");
    }
}
