//! ServiceAccount rows, as upstream's `printServiceAccount`.

use super::descriptions as d;
use super::{Column, Row, age, array_at, name};
use serde_json::Value;

pub(super) const COLUMNS: &[Column] = &[
    Column::NAME,
    Column::string("Secrets", d::SERVICE_ACCOUNT_SECRETS),
    Column::AGE,
];

pub(super) fn row(sa: &Value, now: i64) -> Row {
    Row::new(vec![
        name(sa).into(),
        array_at(sa, &["secrets"]).len().into(),
        age(sa, now).into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn service_account_counts_secrets() {
        let sa =
            json!({"metadata": {"name": "default", "creationTimestamp": "2023-11-14T22:13:20Z"}});
        assert_eq!(
            row(&sa, 1_700_000_000).cells,
            vec![json!("default"), json!(0), json!("0s")]
        );
        let with = json!({"metadata": {"name": "b"}, "secrets": [{"name": "t"}]});
        assert_eq!(row(&with, 0).cells[1], 1);
    }
}
