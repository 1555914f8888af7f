//! Reading and writing `metadata` on objects held as JSON values.
//!
//! The API server keeps objects as `serde_json::Value` so that one code path serves every kind;
//! these accessors are the only place that knows where metadata fields live.

use serde_json::{Map, Value};

/// `metadata.<field>` as a string, if present.
pub fn str_field<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

pub fn name(obj: &Value) -> Option<&str> {
    str_field(obj, "name").filter(|s| !s.is_empty())
}

pub fn namespace(obj: &Value) -> Option<&str> {
    str_field(obj, "namespace").filter(|s| !s.is_empty())
}

pub fn uid(obj: &Value) -> Option<&str> {
    str_field(obj, "uid").filter(|s| !s.is_empty())
}

pub fn resource_version(obj: &Value) -> Option<&str> {
    str_field(obj, "resourceVersion").filter(|s| !s.is_empty())
}

/// `metadata`, created as an empty object if absent or not an object.
pub fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let map = obj.as_object_mut().expect("just made an object");
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut().expect("just made an object")
}

/// Sets `metadata.<field>`.
pub fn set(obj: &mut Value, field: &str, value: impl Into<Value>) {
    metadata_mut(obj).insert(field.to_string(), value.into());
}

/// Removes `metadata.<field>`.
pub fn remove(obj: &mut Value, field: &str) {
    metadata_mut(obj).remove(field);
}

/// `metadata.finalizers` as strings.
pub fn finalizers(obj: &Value) -> Vec<String> {
    obj.get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// `metadata.labels`, if any.
pub fn labels(obj: &Value) -> Option<&Value> {
    obj.get("metadata")?.get("labels")
}

/// `metadata.generation`, 0 when unset.
pub fn generation(obj: &Value) -> i64 {
    obj.get("metadata")
        .and_then(|m| m.get("generation"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// Whether `metadata.deletionTimestamp` is set.
pub fn is_deleting(obj: &Value) -> bool {
    str_field(obj, "deletionTimestamp").is_some()
}

/// `metadata.deletionTimestamp` in seconds since the epoch, when set and well formed.
pub fn deletion_timestamp_unix(obj: &Value) -> Option<i64> {
    str_field(obj, "deletionTimestamp").and_then(crate::clock::parse_rfc3339)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accessors_tolerate_missing_or_malformed_metadata() {
        assert_eq!(name(&json!({})), None);
        assert_eq!(name(&json!({"metadata": 5})), None);
        let mut v = json!({"metadata": 5});
        set(&mut v, "name", "x");
        assert_eq!(name(&v), Some("x"));
        assert!(finalizers(&v).is_empty());
    }
}

/// Drops the metadata collections that are empty (`labels: {}`, `finalizers: []`, ...), as
/// upstream's typed objects do: these fields are `omitempty` maps and slices, so an object
/// whose last label or finalizer was removed is stored, served and watched without the field.
pub fn omit_empty_collections(obj: &mut Value) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    for field in [
        "labels",
        "annotations",
        "finalizers",
        "ownerReferences",
        "managedFields",
    ] {
        let empty = match meta.get(field) {
            Some(Value::Object(m)) => m.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            Some(Value::Null) => true,
            _ => false,
        };
        if empty {
            meta.remove(field);
        }
    }
}

#[cfg(test)]
mod omit_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_metadata_collections_are_omitted_as_upstream_s_omitempty() {
        let mut obj = json!({"metadata": {"name": "x", "labels": {}, "annotations": null,
            "finalizers": [], "ownerReferences": [], "managedFields": [],
            "generateName": ""}, "spec": {"emptyDir": {}}});
        omit_empty_collections(&mut obj);
        assert_eq!(
            obj,
            json!({"metadata": {"name": "x", "generateName": ""}, "spec": {"emptyDir": {}}})
        );
        let mut kept = json!({"metadata": {"labels": {"a": "b"}, "finalizers": ["f"]}});
        let before = kept.clone();
        omit_empty_collections(&mut kept);
        assert_eq!(kept, before);
    }
}
