//! The shape of every field of a served kind, as server-side apply needs it: which objects are
//! structs (fields named by the schema) and which are maps (any key), which lists merge by key
//! (`x-kubernetes-list-type: map` with its `x-kubernetes-list-map-keys`), which are sets, and
//! which are atomic (replaced whole). Read from the OpenAPI v3 documents runlet serves, which
//! carry upstream's list and map extensions.

use serde_json::{Map, Value};

/// A place in a kind's schema; `schema` is `None` where the schema says nothing (an
/// int-or-string, a quantity, arbitrary JSON), which apply treats as atomic.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    schema: Option<&'a Value>,
    components: &'a Map<String, Value>,
}

/// How apply treats the value at a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Replaced whole: a scalar, an atomic list or map, anything the schema does not describe.
    Atomic,
    /// An object whose keys are the schema's fields.
    Struct,
    /// An object with any keys, each owned on its own (`labels`, `data`, `limits`).
    Map,
    /// A list whose items are told apart by these key fields.
    KeyedList(Vec<String>),
    /// A list of distinct scalars.
    Set,
}

impl<'a> Node<'a> {
    /// The root of the kind whose schema is `root` in `components`.
    pub fn root(root: &'a Value, components: &'a Map<String, Value>) -> Self {
        Node {
            schema: Some(root),
            components,
        }
        .resolved()
    }

    fn with(self, schema: Option<&'a Value>) -> Self {
        Node {
            schema,
            components: self.components,
        }
        .resolved()
    }

    /// Follows `$ref` (also one wrapped in `allOf`, as upstream's documents write a reference
    /// with a description), keeping the extensions written beside the reference.
    fn resolved(self) -> Self {
        let mut schema = self.schema;
        for _ in 0..8 {
            let Some(s) = schema else { break };
            let reference = s.get("$ref").or_else(|| {
                s.get("allOf")
                    .and_then(Value::as_array)
                    .filter(|all| all.len() == 1)
                    .and_then(|all| all[0].get("$ref"))
            });
            let Some(name) = reference
                .and_then(Value::as_str)
                .and_then(|r| r.rsplit('/').next())
            else {
                break;
            };
            // An extension beside the reference (a list type on a field) decides over the
            // referenced schema's; none of the served kinds needs that for a referenced type.
            schema = self.components.get(name);
        }
        Node {
            schema,
            components: self.components,
        }
    }

    /// The schema of field or map entry `name` of this object.
    pub fn field(self, name: &str) -> Self {
        let Some(s) = self.schema else { return self };
        if let Some(field) = s.get("properties").and_then(|p| p.get(name)) {
            return self.with(Some(field));
        }
        match s.get("additionalProperties") {
            Some(v) if v.is_object() => self.with(Some(v)),
            _ => self.with(None),
        }
    }

    /// The schema of this list's items.
    pub fn items(self) -> Self {
        let items = self.schema.and_then(|s| s.get("items"));
        self.with(items)
    }

    /// How a value here is merged and owned.
    pub fn shape(&self) -> Shape {
        let Some(s) = self.schema else {
            return Shape::Atomic;
        };
        if s.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic") {
            return Shape::Atomic;
        }
        match s.get("type").and_then(Value::as_str) {
            Some("object") if s.get("properties").is_some() => Shape::Struct,
            Some("object") if s.get("additionalProperties").is_some_and(Value::is_object) => {
                Shape::Map
            }
            Some("array") => match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("map") => Shape::KeyedList(
                    s.get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .map(|keys| {
                            keys.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                Some("set") => Shape::Set,
                _ => Shape::Atomic,
            },
            _ => Shape::Atomic,
        }
    }

    /// The default of a list key the item leaves out, as upstream's schema gives it (the one
    /// that matters here: a container port's `protocol`, `TCP`).
    pub fn key_default(&self, key: &str) -> Option<Value> {
        let field = self.field(key);
        if let Some(default) = field.schema.and_then(|s| s.get("default")) {
            return Some(default.clone());
        }
        (key == "protocol").then(|| Value::from("TCP"))
    }
}
