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
//! [`omitted`] lists, per component, the fields whose zero value Go leaves out. The schema is
//! compiled into [`shape`]s at a kind's first write, so the walk looks each field up once.

mod omitted;
mod quantity;
mod shape;

pub use quantity::canonical as canonical_quantity;

use crate::resources::{RESOURCES, ResourceInfo};
use serde_json::{Map, Value};
use shape::{ShapeId, Shapes};
use std::sync::{LazyLock, OnceLock};

const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

/// Puts `object`, an object of `info`'s kind (or part of one: the fields it has), in the form
/// upstream stores it.
pub fn canonicalize(info: &ResourceInfo, object: &mut Value) {
    if let Some(shapes) = shapes_of(info) {
        walk(object, shapes, shapes.root(), 0);
    }
}

/// The compiled shapes of `info`'s kind, made at its first write.
fn shapes_of(info: &ResourceInfo) -> Option<&'static Shapes> {
    type Kinds = Vec<(
        (&'static str, &'static str, &'static str),
        OnceLock<Option<Shapes>>,
    )>;
    static KINDS: LazyLock<Kinds> = LazyLock::new(|| {
        RESOURCES
            .iter()
            .map(|r| ((r.group, r.version, r.kind), OnceLock::new()))
            .collect()
    });
    let (_, shapes) = KINDS
        .iter()
        .find(|((g, v, k), _)| *g == info.group && *v == info.version && *k == info.kind)?;
    shapes
        .get_or_init(|| {
            crate::openapi::kind_schema(info.group, info.version, info.kind).map(Shapes::compile)
        })
        .as_ref()
}

/// Deeper than any served kind nests (a pod template's projected volume items are about 12).
const MAX_DEPTH: usize = 32;

/// Puts `value`, of the shape `id`, in upstream's stored form.
fn walk(value: &mut Value, shapes: &Shapes, id: ShapeId, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let shape = shapes.get(id);
    if shape.quantity {
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
            if !shape.zero_omitted.is_empty() {
                map.retain(|k, v| !shape.zero_omitted.contains(&k.as_str()) || !is_zero(v));
            }
            for (field, zero) in shape.always_encoded {
                if !map.contains_key(*field) {
                    let value = match zero {
                        omitted::ZeroStruct::NullTime => Value::Null,
                        omitted::ZeroStruct::Empty => Value::Object(Map::new()),
                    };
                    map.insert((*field).to_string(), value);
                }
            }
            if shape.fields.is_some() {
                map.retain(|k, v| {
                    !is_empty_collection(v) || !shape.field(k).is_some_and(|f| f.drop_when_empty)
                });
                for (k, v) in map.iter_mut() {
                    if let Some(field) = shape.field(k) {
                        walk(v, shapes, field.shape, depth + 1);
                    }
                }
            } else if let Some(entries) = shape.entries {
                for v in map.values_mut() {
                    walk(v, shapes, entries, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = shape.items {
                for v in items {
                    walk(v, shapes, item, depth + 1);
                }
            }
        }
        _ => {}
    }
}

fn is_empty_collection(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
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
