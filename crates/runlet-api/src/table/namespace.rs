//! Namespace rows, as upstream's `printNamespace`.

use super::{Column, Row, age, name, str_at};
use serde_json::Value;

pub(super) const COLUMNS: &[Column] = &[
    Column::NAME,
    Column::string("Status", "The status of the namespace"),
    Column::AGE,
];

pub(super) fn row(ns: &Value, now: i64) -> Row {
    Row::new(vec![
        name(ns).into(),
        str_at(ns, &["status", "phase"]).into(),
        age(ns, now).into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn namespace_shows_phase() {
        let ns = json!({"metadata": {"name": "gone", "creationTimestamp": "2023-11-14T22:13:15Z"},
            "status": {"phase": "Terminating"}});
        assert_eq!(
            row(&ns, 1_700_000_000).cells,
            vec![json!("gone"), json!("Terminating"), json!("5s")]
        );
    }
}
