//! An object as upstream stores it after decoding it into its Go types and encoding it again:
//! quantities in canonical form (`cpu: 0.5` is stored as `500m`), and the zero values of the
//! fields Go's `omitempty` leaves out (`stdin: false`, `readOnly: false`, `value: ""`) gone.
//!
//! Why it matters: clients compare what they sent with what they read back, and upstream
//! compares a new version of an object with the stored one. A Job whose template says
//! `readOnly: false` is stored without it upstream, so a Go controller that reads the Job, sets
//! `suspend` and writes it back sends the template unchanged; had runlet kept the `false`, the
//! immutable template would differ and the write be refused.
//!
//! The walk follows the kind's served OpenAPI schema, whose components are named after the Go
//! types (`io.k8s.api.core.v1.Container`): a `Quantity` component marks a quantity, and
//! [`omitted`] lists, per component, the fields whose zero value Go leaves out.

mod omitted;
mod quantity;

pub use quantity::canonical as canonical_quantity;

use crate::resources::ResourceInfo;
use serde_json::{Map, Value};

const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

/// Puts `object`, an object of `info`'s kind (or part of one: the fields it has), in the form
/// upstream stores it.
pub fn canonicalize(info: &ResourceInfo, object: &mut Value) {
    let Some(kind) = crate::openapi::kind_schema(info.group, info.version, info.kind) else {
        return;
    };
    walk_resolved(object, Some(kind.name), kind.schema, kind.components, 0);
}

/// Deeper than any served kind nests (a pod template's projected volume items are about 12).
const MAX_DEPTH: usize = 32;

fn walk(value: &mut Value, schema: &Value, components: &Map<String, Value>, depth: usize) {
    let (name, schema) = resolve(schema, components);
    walk_resolved(value, name, schema, components, depth);
}

/// As [`walk`], for a schema already resolved to its component `name` (`None` for a schema
/// written in place).
fn walk_resolved(
    value: &mut Value,
    name: Option<&str>,
    schema: &Value,
    components: &Map<String, Value>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    if name == Some(QUANTITY) {
        // A number (`cpu: 1` in YAML) is a quantity too, stored as a string.
        let canonical = match &*value {
            Value::String(s) => canonical_quantity(s),
            Value::Number(n) => canonical_quantity(&n.to_string()),
            _ => None,
        };
        if let Some(c) = canonical {
            *value = Value::String(c);
        }
        return;
    }
    match value {
        Value::Object(map) => {
            if let Some(fields) = name.and_then(omitted::zero_omitted) {
                map.retain(|k, v| !fields.contains(&k.as_str()) || !is_zero(v));
            }
            for (field, zero) in name.map(omitted::always_encoded).unwrap_or_default() {
                if !map.contains_key(*field) {
                    let value = match zero {
                        omitted::ZeroStruct::NullTime => Value::Null,
                        omitted::ZeroStruct::Empty => Value::Object(Map::new()),
                    };
                    map.insert((*field).to_string(), value);
                }
            }
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                if let Some(name) = name {
                    map.retain(|k, v| {
                        !is_empty_collection(v)
                            || omitted::keeps_empty(name, k)
                            || !properties
                                .get(k)
                                .is_some_and(|f| is_collection(f, components))
                    });
                }
                for (k, v) in map.iter_mut() {
                    if let Some(field) = properties.get(k) {
                        walk(v, field, components, depth + 1);
                    }
                }
            } else if let Some(entries) =
                schema.get("additionalProperties").filter(|s| s.is_object())
            {
                for v in map.values_mut() {
                    walk(v, entries, components, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for v in items {
                    walk(v, item, components, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// The component a schema refers to (directly or in a one-item `allOf`, as a field with its
/// own description refers), with its name.
fn resolve<'a>(
    schema: &'a Value,
    components: &'a Map<String, Value>,
) -> (Option<&'a str>, &'a Value) {
    let reference = schema.get("$ref").or_else(|| {
        schema
            .get("allOf")
            .and_then(Value::as_array)
            .filter(|all| all.len() == 1)
            .and_then(|all| all[0].get("$ref"))
    });
    match reference
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .and_then(|name| Some((name, components.get(name)?)))
    {
        Some((name, component)) => (Some(name), component),
        None => (None, schema),
    }
}

fn is_empty_collection(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// Whether a field's schema is a Go slice or map (which `omitempty` leaves out when empty),
/// rather than a struct (which it never leaves out: `resources: {}`, `emptyDir: {}` stay).
fn is_collection(field: &Value, components: &Map<String, Value>) -> bool {
    let (_, schema) = resolve(field, components);
    match schema.get("type").and_then(Value::as_str) {
        Some("array") => true,
        Some("object") => {
            schema.get("properties").is_none()
                && schema
                    .get("additionalProperties")
                    .is_some_and(Value::is_object)
        }
        _ => false,
    }
}

/// What Go's `omitempty` leaves out of a scalar field: `false`, `""`, `0`.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Null => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
