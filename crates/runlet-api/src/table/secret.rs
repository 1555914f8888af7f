//! Secret rows, as upstream's `printSecret`.

use super::descriptions as d;
use super::{Column, Row, age, map_len, name, str_at};
use serde_json::Value;

pub(super) const COLUMNS: &[Column] = &[
    Column::NAME,
    Column::string("Type", d::SECRET_TYPE),
    Column::string("Data", d::SECRET_DATA),
    Column::AGE,
];

pub(super) fn row(secret: &Value, now: i64) -> Row {
    Row::new(vec![
        name(secret).into(),
        str_at(secret, &["type"]).into(),
        map_len(secret, &["data"]).into(),
        age(secret, now).into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_shows_type_and_key_count() {
        let s = json!({"metadata": {"name": "s", "creationTimestamp": "2023-11-14T22:10:00Z"},
            "type": "Opaque", "data": {"a": "eA==", "b": "eQ=="}});
        assert_eq!(
            row(&s, 1_700_000_000).cells,
            vec![json!("s"), json!("Opaque"), json!(2), json!("3m20s")]
        );
    }
}
