//! A kind's served schema compiled once into the shapes the walk needs, because every write
//! walks its object: looking each field up in the schema's JSON (`properties`, then `$ref`,
//! then the component by its long name, then the tables of [`super::omitted`]) cost some
//! hashing of strings per field, about a tenth of a pod's creation. A shape holds what those
//! lookups answer: whether it is a quantity, the Go type's zero-omitted and always-encoded
//! fields, and per field its shape and whether an empty collection there is left out.

use super::omitted::{self, ZeroStruct};
use crate::openapi::KindSchema;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// An index into [`Shapes::shapes`].
pub(super) type ShapeId = usize;

/// The shapes of one kind, the root first. A Go type reached from several fields is one shape,
/// and so is one that contains itself, whose fields then refer to their own shape.
pub(super) struct Shapes {
    shapes: Vec<Shape>,
}

/// What the walk does with a value of one schema.
#[derive(Default)]
pub(super) struct Shape {
    /// A `resource.Quantity`: stored in canonical form.
    pub quantity: bool,
    /// The Go type's scalar fields that `omitempty` leaves out when zero.
    pub zero_omitted: &'static [&'static str],
    /// The Go type's struct fields that Go encodes even when zero.
    pub always_encoded: &'static [(&'static str, ZeroStruct)],
    /// An object's fields by name, sorted for a binary search; `None` when the schema has no
    /// `properties`.
    pub fields: Option<Vec<(&'static str, Field)>>,
    /// The shape of every entry of a map (a schema with `additionalProperties` and no
    /// `properties`).
    pub entries: Option<ShapeId>,
    /// The shape of every item of a list.
    pub items: Option<ShapeId>,
}

/// One field of an object's shape.
pub(super) struct Field {
    pub shape: ShapeId,
    /// An empty list or map here is left out, as Go's `omitempty` leaves out an empty slice
    /// or map (only in Go types, and not in the few collections without `omitempty`).
    pub drop_when_empty: bool,
}

impl Shape {
    /// The field `name` of an object of this shape.
    pub fn field(&self, name: &str) -> Option<&Field> {
        let fields = self.fields.as_deref()?;
        fields
            .binary_search_by(|(n, _)| (*n).cmp(name))
            .ok()
            .map(|i| &fields[i].1)
    }
}

impl Shapes {
    /// Compiles the kind's schema and every schema it reaches.
    pub fn compile(kind: KindSchema) -> Self {
        let mut compiler = Compiler {
            components: kind.components,
            shapes: Vec::new(),
            by_schema: HashMap::new(),
        };
        compiler.shape(Some(kind.name), kind.schema);
        Shapes {
            shapes: compiler.shapes,
        }
    }

    /// The root: the kind's own shape.
    pub fn root(&self) -> ShapeId {
        0
    }

    pub fn get(&self, id: ShapeId) -> &Shape {
        &self.shapes[id]
    }
}

struct Compiler {
    components: &'static Map<String, Value>,
    shapes: Vec<Shape>,
    /// Shapes made so far by the address of their schema, which lives as long as the
    /// program: a component reached again (or from inside itself) is the same shape.
    by_schema: HashMap<*const Value, ShapeId>,
}

impl Compiler {
    /// The shape of a schema already resolved to its component `name` (`None` for a schema
    /// written in place).
    fn shape(&mut self, name: Option<&'static str>, schema: &'static Value) -> ShapeId {
        let key: *const Value = schema;
        if let Some(&id) = self.by_schema.get(&key) {
            return id;
        }
        let id = self.shapes.len();
        self.shapes.push(Shape::default());
        self.by_schema.insert(key, id);
        let mut shape = Shape {
            quantity: name == Some(super::QUANTITY),
            zero_omitted: name.and_then(omitted::zero_omitted).unwrap_or_default(),
            always_encoded: name.map(omitted::always_encoded).unwrap_or_default(),
            ..Shape::default()
        };
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            let mut fields: Vec<(&'static str, Field)> = properties
                .iter()
                .map(|(field, field_schema)| {
                    let (field_name, resolved) = resolve(field_schema, self.components);
                    let drop_when_empty = name.is_some_and(|n| !omitted::keeps_empty(n, field))
                        && is_collection(resolved);
                    let shape = self.shape(field_name, resolved);
                    (
                        field.as_str(),
                        Field {
                            shape,
                            drop_when_empty,
                        },
                    )
                })
                .collect();
            fields.sort_unstable_by_key(|(n, _)| *n);
            shape.fields = Some(fields);
        } else if let Some(entries) = schema.get("additionalProperties").filter(|s| s.is_object()) {
            let (entry_name, resolved) = resolve(entries, self.components);
            shape.entries = Some(self.shape(entry_name, resolved));
        }
        if let Some(items) = schema.get("items") {
            let (item_name, resolved) = resolve(items, self.components);
            shape.items = Some(self.shape(item_name, resolved));
        }
        self.shapes[id] = shape;
        id
    }
}

/// The component a schema refers to (directly or in a one-item `allOf`, as a field with its
/// own description refers), with its name.
fn resolve(
    schema: &'static Value,
    components: &'static Map<String, Value>,
) -> (Option<&'static str>, &'static Value) {
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
        .and_then(|name| components.get_key_value(name))
    {
        Some((name, component)) => (Some(name.as_str()), component),
        None => (None, schema),
    }
}

/// Whether a (resolved) field schema is a Go slice or map (which `omitempty` leaves out when
/// empty), rather than a struct (which it never leaves out: `resources: {}`, `emptyDir: {}`
/// stay).
fn is_collection(schema: &Value) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pod_shapes() -> Shapes {
        Shapes::compile(crate::openapi::kind_schema("", "v1", "Pod").expect("served"))
    }

    fn field_shape(shapes: &Shapes, of: ShapeId, name: &str) -> ShapeId {
        shapes.get(of).field(name).expect(name).shape
    }

    #[test]
    fn a_go_type_reached_twice_is_one_shape() {
        let shapes = pod_shapes();
        let spec = field_shape(&shapes, shapes.root(), "spec");
        let containers = field_shape(&shapes, spec, "containers");
        let init_containers = field_shape(&shapes, spec, "initContainers");
        assert_eq!(
            shapes.get(containers).items,
            shapes.get(init_containers).items,
            "a container is one shape wherever it is"
        );
        let container = shapes.get(containers).items.expect("a list");
        assert!(shapes.get(container).zero_omitted.contains(&"stdin"));
    }

    fn drops_when_empty(shape: &Shape, field: &str) -> bool {
        shape.field(field).expect(field).drop_when_empty
    }

    #[test]
    fn a_field_knows_whether_its_empty_collection_stays() {
        let shapes = pod_shapes();
        let spec_id = field_shape(&shapes, shapes.root(), "spec");
        let spec = shapes.get(spec_id);
        assert!(!drops_when_empty(spec, "containers"), "no omitempty");
        assert!(drops_when_empty(spec, "volumes"));
        assert!(
            !drops_when_empty(spec, "securityContext"),
            "a struct is never left out"
        );
        let overhead = shapes.get(field_shape(&shapes, spec_id, "overhead"));
        let quantity = overhead.entries.expect("a map of quantities");
        assert!(shapes.get(quantity).quantity);
    }
}
