//! `components.schemas` of a group-version document, from k8s-openapi's schemars schemas.
//!
//! k8s-openapi names every schema as upstream does (`io.k8s.api.batch.v1.Job`) and carries the
//! descriptions, but it writes JSON Schema, not OpenAPI 3.0, and drops the Kubernetes
//! extensions. This module turns definitions into `components.schemas`, wraps a `$ref` that has
//! siblings (a description) in `allOf` as upstream's documents do, synthesizes the `*List`
//! schemas k8s-openapi has no schema for, and adds `x-kubernetes-group-version-kind` plus the
//! patch and list extensions from [`super::extensions`].

use super::extensions::{FIELD_EXTENSIONS, SCHEMA_EXTENSIONS};
use crate::resources::ResourceInfo;
use k8s_openapi::api::{
    batch::v1 as batch, coordination::v1 as coordination, core::v1 as core, events::v1 as events,
    storage::v1 as storage,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const DEFINITIONS_PREFIX: &str = "#/definitions/";
const COMPONENTS_PREFIX: &str = "#/components/schemas/";

/// The `$ref` to a component schema.
pub(super) fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("{COMPONENTS_PREFIX}{name}") })
}

/// Adds `T`'s schema (and everything it references) to the generator; returns its name.
fn add<T: schemars::JsonSchema>(generator: &mut SchemaGenerator) -> String {
    generator.subschema_for::<T>();
    T::schema_name().into_owned()
}

/// Adds the schema of the kind `info` serves; `None` for a kind runlet has no type for.
fn add_kind(generator: &mut SchemaGenerator, info: &ResourceInfo) -> Option<String> {
    Some(match (info.group, info.kind) {
        ("", "Namespace") => add::<core::Namespace>(generator),
        ("", "Node") => add::<core::Node>(generator),
        ("", "Pod") => add::<core::Pod>(generator),
        ("", "Event") => add::<core::Event>(generator),
        ("", "ConfigMap") => add::<core::ConfigMap>(generator),
        ("", "Secret") => add::<core::Secret>(generator),
        ("", "ServiceAccount") => add::<core::ServiceAccount>(generator),
        ("", "PersistentVolumeClaim") => add::<core::PersistentVolumeClaim>(generator),
        ("", "PersistentVolume") => add::<core::PersistentVolume>(generator),
        ("events.k8s.io", "Event") => add::<events::Event>(generator),
        ("coordination.k8s.io", "Lease") => add::<coordination::Lease>(generator),
        ("storage.k8s.io", "StorageClass") => add::<storage::StorageClass>(generator),
        ("batch", "Job") => add::<batch::Job>(generator),
        ("batch", "CronJob") => add::<batch::CronJob>(generator),
        ("runlet.dev", "PodRecord") => add::<crate::podrecord::PodRecord>(generator),
        _ => return None,
    })
}

/// Rewrites `#/definitions/X` refs to `#/components/schemas/X` and wraps a `$ref` with
/// siblings in `allOf`, recursively.
fn to_openapi3(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref") {
                if let Some(name) = r.strip_prefix(DEFINITIONS_PREFIX) {
                    *r = format!("{COMPONENTS_PREFIX}{name}");
                }
                let with_siblings = if map.len() > 1 {
                    map.remove("$ref")
                } else {
                    None
                };
                if let Some(r) = with_siblings {
                    map.insert("allOf".to_string(), json!([{ "$ref": r }]));
                }
            }
            for v in map.values_mut() {
                to_openapi3(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(to_openapi3),
        _ => {}
    }
}

/// Drops the `null` schemars adds for `Option` fields of runlet's own types (`"type": ["string",
/// "null"]`, `"anyOf": [{"$ref": ...}, {"type": "null"}]`): Kubernetes schemas leave absence
/// implicit, and `kubectl explain` expects one type per field.
fn drop_null(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let is_null = |t: &Value| t == "null" || t.get("type").is_some_and(|t| t == "null");
            if let Some(Value::Array(types)) = map.get("type") {
                let kept: Vec<Value> = types.iter().filter(|t| !is_null(t)).cloned().collect();
                if let [only] = kept.as_slice() {
                    map.insert("type".to_string(), only.clone());
                }
            }
            if let Some(Value::Array(any)) = map.get("anyOf") {
                let kept: Vec<Value> = any.iter().filter(|s| !is_null(s)).cloned().collect();
                if let [Value::Object(inner)] = kept.as_slice()
                    && kept.len() < any.len()
                {
                    let inner = inner.clone();
                    map.remove("anyOf");
                    for (k, v) in inner {
                        map.entry(k).or_insert(v);
                    }
                }
            }
            for v in map.values_mut() {
                drop_null(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null),
        _ => {}
    }
}

/// Joins the lines of each paragraph of runlet's own descriptions (schemars keeps the line
/// breaks of doc comments; upstream descriptions have none inside a paragraph).
fn unwrap_descriptions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(d)) = map.get_mut("description") {
                *d = d
                    .split("\n\n")
                    .map(|p| p.lines().map(str::trim).collect::<Vec<_>>().join(" "))
                    .collect::<Vec<_>>()
                    .join("\n\n");
            }
            map.values_mut().for_each(unwrap_descriptions);
        }
        Value::Array(items) => items.iter_mut().for_each(unwrap_descriptions),
        _ => {}
    }
}

/// `[{"group": ..., "kind": ..., "version": ...}]`, the extension kubectl finds kinds by.
pub(super) fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "kind": kind, "version": version })
}

/// The `*List` schema upstream generates for a kind, built from the kind's own schema.
fn list_schema(kind_name: &str, kind_schema: &Value, info: &ResourceInfo) -> Value {
    let property = |p: &str| {
        kind_schema
            .pointer(&format!("/properties/{p}"))
            .cloned()
            .unwrap_or(json!({"type": "string"}))
    };
    json!({
        "description": format!("{}List is a list of {} objects.", info.kind, info.kind),
        "properties": {
            "apiVersion": property("apiVersion"),
            "items": {
                "description": format!("items is the list of {} objects.", info.kind),
                "items": { "allOf": [schema_ref(kind_name)], "default": {} },
                "type": "array",
            },
            "kind": property("kind"),
            "metadata": {
                "allOf": [schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta")],
                "default": {},
                "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
            },
        },
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": [gvk(info.group, info.version, &info.list_kind())],
    })
}

/// Adds the generated patch/list extensions to the schemas present.
fn add_extensions(schemas: &mut BTreeMap<String, Value>) {
    fn property<'a>(
        schemas: &'a mut BTreeMap<String, Value>,
        schema: &str,
        property: &str,
    ) -> Option<&'a mut Map<String, Value>> {
        schemas
            .get_mut(schema)?
            .get_mut("properties")?
            .get_mut(property)?
            .as_object_mut()
    }
    for (schema, name, ext, raw) in FIELD_EXTENSIONS {
        let Ok(value) = serde_json::from_str::<Value>(raw) else {
            continue;
        };
        if let Some(target) = property(schemas, schema, name) {
            target.insert((*ext).to_string(), value);
        }
    }
    for (schema, name, values) in super::enums::FIELD_ENUMS {
        if let Some(target) = property(schemas, schema, name) {
            target.insert("enum".into(), Value::from(values.to_vec()));
        }
    }
    for (schema, ext, raw) in SCHEMA_EXTENSIONS {
        let Ok(value) = serde_json::from_str::<Value>(raw) else {
            continue;
        };
        if let Some(target) = schemas.get_mut(*schema).and_then(Value::as_object_mut) {
            target.insert((*ext).to_string(), value);
        }
    }
}

/// The `oneOf` upstream's OpenAPI v3 gives the two int-or-string types
/// (kube-openapi `OpenAPIV3OneOfTypes`), which k8s-openapi leaves as a bare extension.
fn add_one_of(schemas: &mut BTreeMap<String, Value>) {
    let types = [
        (
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
            ["integer", "string"],
        ),
        (
            "io.k8s.apimachinery.pkg.api.resource.Quantity",
            ["string", "number"],
        ),
    ];
    for (name, [a, b]) in types {
        if let Some(obj) = schemas.get_mut(name).and_then(Value::as_object_mut) {
            obj.insert("oneOf".to_string(), json!([{ "type": a }, { "type": b }]));
        }
    }
}

/// k8s-openapi makes every kind's `metadata` a plain field and lists it as required, where
/// upstream's documents require it only of a core/v1 Event (the one kind whose `metadata` has no
/// `omitempty`): elsewhere `kubectl explain` would mark it `-required-`.
fn metadata_optional_as_upstream(name: &str, schema: &mut Map<String, Value>) {
    if name == "io.k8s.api.core.v1.Event" {
        return;
    }
    let Some(Value::Array(required)) = schema.get_mut("required") else {
        return;
    };
    required.retain(|field| field != "metadata");
    if required.is_empty() {
        schema.remove("required");
    }
}

/// Where k8s-openapi's `required` lists differ from upstream's documents, upstream's: it makes
/// the `name` of an object reference a plain string (upstream's is optional, defaulting to
/// `""`), and so requires it, and it cannot tell that events.k8s.io's `eventTime` is required.
/// `kubectl explain` marks what is required.
const REQUIRED: [(&str, &[&str]); 10] = [
    ("io.k8s.api.core.v1.LocalObjectReference", &[]),
    ("io.k8s.api.core.v1.ConfigMapEnvSource", &[]),
    ("io.k8s.api.core.v1.ConfigMapKeySelector", &["key"]),
    ("io.k8s.api.core.v1.ConfigMapProjection", &[]),
    ("io.k8s.api.core.v1.ConfigMapVolumeSource", &[]),
    ("io.k8s.api.core.v1.SecretEnvSource", &[]),
    ("io.k8s.api.core.v1.SecretKeySelector", &["key"]),
    ("io.k8s.api.core.v1.SecretProjection", &[]),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.Status", &[]),
    ("io.k8s.api.events.v1.Event", &["eventTime"]),
];

fn required_as_upstream(schemas: &mut BTreeMap<String, Value>) {
    for (name, required) in REQUIRED {
        if let Some(obj) = schemas.get_mut(name).and_then(Value::as_object_mut) {
            if required.is_empty() {
                obj.remove("required");
            } else {
                obj.insert("required".to_string(), json!(required));
            }
        }
    }
}

/// Every schema the group-version's kinds need, keyed by upstream's schema names, sorted.
pub(super) fn components(
    group: &str,
    version: &str,
    resources: &[&ResourceInfo],
) -> Map<String, Value> {
    let mut generator = SchemaSettings::draft07()
        .with(|s| {
            s.transforms.clear();
            s.meta_schema = None;
        })
        .into_generator();
    let kinds: Vec<(&ResourceInfo, String)> = resources
        .iter()
        .filter_map(|r| add_kind(&mut generator, r).map(|name| (*r, name)))
        .collect();
    add::<metav1::ListMeta>(&mut generator);
    let delete_options = add::<metav1::DeleteOptions>(&mut generator);
    let status = add::<metav1::Status>(&mut generator);
    add::<metav1::Patch>(&mut generator);

    let mut schemas: BTreeMap<String, Value> =
        generator.take_definitions(false).into_iter().collect();
    for (name, schema) in schemas.iter_mut() {
        drop_null(schema);
        to_openapi3(schema);
        if name.starts_with("dev.runlet.") {
            unwrap_descriptions(schema);
        }
    }
    for (info, name) in &kinds {
        let Some(schema) = schemas.get_mut(name) else {
            continue;
        };
        if let Some(obj) = schema.as_object_mut() {
            obj.insert(
                "x-kubernetes-group-version-kind".to_string(),
                json!([gvk(group, version, info.kind)]),
            );
            metadata_optional_as_upstream(name, obj);
        }
        let list = list_schema(name, schema, info);
        schemas.insert(format!("{name}List"), list);
    }
    if let Some(obj) = schemas
        .get_mut(&delete_options)
        .and_then(Value::as_object_mut)
    {
        obj.insert(
            "x-kubernetes-group-version-kind".to_string(),
            json!([gvk(group, version, "DeleteOptions")]),
        );
    }
    if let Some(obj) = schemas.get_mut(&status).and_then(Value::as_object_mut) {
        obj.insert(
            "x-kubernetes-group-version-kind".to_string(),
            json!([gvk("", "v1", "Status")]),
        );
    }
    add_extensions(&mut schemas);
    add_one_of(&mut schemas);
    required_as_upstream(&mut schemas);
    schemas.into_iter().collect()
}
