//! The OpenAPI v2 (Swagger 2.0) document at `/openapi/v2`: the schema definitions of every
//! served kind, as JSON and as the protobuf (gnostic's `openapi.v2.Document`) that kubectl and
//! client-go ask for.
//!
//! kubectl reads it for its client-side validation wherever OpenAPI v3 cannot answer: a file of
//! `kind: List` (what `kubectl get -o yaml` writes for several objects), and a kind the server
//! does not serve. Without it those `kubectl apply`s failed outright. The definitions are the v3
//! documents' schemas written the v2 way (`#/definitions/` references, int-or-string as upstream
//! writes it); the operations stay in the v3 documents, which is where clients look for them.

use super::DOCUMENTS;
use prost::Message;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::LazyLock;

const V3_PREFIX: &str = "#/components/schemas/";
const V2_PREFIX: &str = "#/definitions/";

/// The protobuf media type as clients ask for it (client-go's `Accept`) and as the server
/// answers it (kube-openapi's `Content-Type`, which Go's media type parser can read).
pub const PROTOBUF_ACCEPT: [&str; 2] = [
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    PROTOBUF_CONTENT_TYPE,
];
pub const PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// The document, built once from the v3 documents.
static DOCUMENT: LazyLock<(Value, Vec<u8>)> = LazyLock::new(|| {
    let mut definitions = BTreeMap::new();
    for doc in DOCUMENTS.iter() {
        if let Some(schemas) = doc
            .value
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        {
            for (name, schema) in schemas {
                definitions
                    .entry(name.clone())
                    .or_insert_with(|| to_v2(schema));
            }
        }
    }
    let value = json!({
        "swagger": "2.0",
        "info": { "title": "Kubernetes", "version": "v1.33.0" },
        "paths": {},
        "definitions": definitions,
    });
    let proto = document_proto(&definitions).encode_to_vec();
    (value, proto)
});

/// The document as JSON.
pub fn v2_document() -> &'static Value {
    &DOCUMENT.0
}

/// The document as gnostic's protobuf.
pub fn v2_document_protobuf() -> &'static [u8] {
    &DOCUMENT.1
}

/// A v3 schema written as upstream's v2 document writes it: a reference with siblings is a
/// plain `$ref` (v2 allows siblings), references point into `definitions`, and the two
/// int-or-string types are strings (upstream's `format: int-or-string` for IntOrString).
fn to_v2(schema: &Value) -> Value {
    let Some(map) = schema.as_object() else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        match key.as_str() {
            "allOf" => {
                let single_ref = value
                    .as_array()
                    .filter(|all| all.len() == 1)
                    .and_then(|all| all[0].get("$ref"))
                    .and_then(Value::as_str);
                match single_ref {
                    Some(r) => {
                        out.insert("$ref".into(), Value::from(v2_ref(r)));
                    }
                    None => {
                        out.insert(key.clone(), map_values(value));
                    }
                }
            }
            "$ref" => {
                out.insert(
                    key.clone(),
                    Value::from(v2_ref(value.as_str().unwrap_or(""))),
                );
            }
            // v3 only; written below as v2 writes these types.
            "oneOf" | "nullable" | "default" => {}
            "properties" => {
                let props: Map<String, Value> = value
                    .as_object()
                    .map(|p| p.iter().map(|(k, v)| (k.clone(), to_v2(v))).collect())
                    .unwrap_or_default();
                out.insert(key.clone(), Value::Object(props));
            }
            "items" | "additionalProperties" if value.is_object() => {
                out.insert(key.clone(), to_v2(value));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        && !out.contains_key("type")
    {
        out.insert("type".into(), "string".into());
        let int_or_string = map["oneOf"]
            .as_array()
            .is_some_and(|o| o.iter().any(|t| t["type"] == "integer"));
        if int_or_string {
            out.insert("format".into(), "int-or-string".into());
        }
        out.remove("x-kubernetes-int-or-string");
    }
    Value::Object(out)
}

fn map_values(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(to_v2).collect()),
        other => to_v2(other),
    }
}

fn v2_ref(r: &str) -> String {
    match r.strip_prefix(V3_PREFIX) {
        Some(name) => format!("{V2_PREFIX}{name}"),
        None => r.to_string(),
    }
}

/// gnostic's `openapi.v2` messages, the fields this document uses (field numbers from
/// `openapiv2/OpenAPIv2.proto`).
mod gnostic {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Document {
        #[prost(string, tag = "1")]
        pub swagger: String,
        #[prost(message, optional, tag = "2")]
        pub info: Option<Info>,
        #[prost(message, optional, tag = "8")]
        pub paths: Option<Paths>,
        #[prost(message, optional, tag = "9")]
        pub definitions: Option<Definitions>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Info {
        #[prost(string, tag = "1")]
        pub title: String,
        #[prost(string, tag = "2")]
        pub version: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Paths {}

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Definitions {
        #[prost(message, repeated, tag = "1")]
        pub additional_properties: Vec<NamedSchema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NamedSchema {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<Schema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Schema {
        #[prost(string, tag = "1")]
        pub xref: String,
        #[prost(string, tag = "2")]
        pub format: String,
        #[prost(string, tag = "4")]
        pub description: String,
        #[prost(string, repeated, tag = "19")]
        pub required: Vec<String>,
        #[prost(message, repeated, tag = "20")]
        pub r#enum: Vec<Any>,
        #[prost(message, optional, boxed, tag = "21")]
        pub additional_properties: Option<Box<AdditionalPropertiesItem>>,
        #[prost(message, optional, tag = "22")]
        pub r#type: Option<TypeItem>,
        #[prost(message, optional, tag = "23")]
        pub items: Option<ItemsItem>,
        #[prost(message, repeated, tag = "24")]
        pub all_of: Vec<Schema>,
        #[prost(message, optional, tag = "25")]
        pub properties: Option<Properties>,
        #[prost(message, repeated, tag = "31")]
        pub vendor_extension: Vec<NamedAny>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AdditionalPropertiesItem {
        #[prost(oneof = "AdditionalProperties", tags = "1, 2")]
        pub oneof: Option<AdditionalProperties>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum AdditionalProperties {
        #[prost(message, tag = "1")]
        Schema(Box<Schema>),
        #[prost(bool, tag = "2")]
        Boolean(bool),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TypeItem {
        #[prost(string, repeated, tag = "1")]
        pub value: Vec<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ItemsItem {
        #[prost(message, repeated, tag = "1")]
        pub schema: Vec<Schema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Properties {
        #[prost(message, repeated, tag = "1")]
        pub additional_properties: Vec<NamedSchema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NamedAny {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<Any>,
    }

    /// A value as YAML text (gnostic's `Any.yaml`; JSON is YAML).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Any {
        #[prost(string, tag = "2")]
        pub yaml: String,
    }
}

fn document_proto(definitions: &BTreeMap<String, Value>) -> gnostic::Document {
    gnostic::Document {
        swagger: "2.0".into(),
        info: Some(gnostic::Info {
            title: "Kubernetes".into(),
            version: "v1.33.0".into(),
        }),
        paths: Some(gnostic::Paths {}),
        definitions: Some(gnostic::Definitions {
            additional_properties: definitions
                .iter()
                .map(|(name, schema)| named_schema(name, schema))
                .collect(),
        }),
    }
}

fn named_schema(name: &str, schema: &Value) -> gnostic::NamedSchema {
    gnostic::NamedSchema {
        name: name.to_string(),
        value: Some(schema_proto(schema)),
    }
}

fn text(schema: &Value, key: &str) -> String {
    schema[key].as_str().unwrap_or_default().to_string()
}

fn yaml(value: &Value) -> gnostic::Any {
    gnostic::Any {
        yaml: value.to_string(),
    }
}

fn schema_proto(schema: &Value) -> gnostic::Schema {
    let strings = |key: &str| -> Vec<String> {
        schema[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let additional_properties = match &schema["additionalProperties"] {
        Value::Bool(b) => Some(gnostic::AdditionalProperties::Boolean(*b)),
        v @ Value::Object(_) => Some(gnostic::AdditionalProperties::Schema(Box::new(
            schema_proto(v),
        ))),
        _ => None,
    };
    gnostic::Schema {
        xref: text(schema, "$ref"),
        format: text(schema, "format"),
        description: text(schema, "description"),
        required: strings("required"),
        r#enum: schema["enum"]
            .as_array()
            .map(|values| values.iter().map(yaml).collect())
            .unwrap_or_default(),
        additional_properties: additional_properties
            .map(|p| Box::new(gnostic::AdditionalPropertiesItem { oneof: Some(p) })),
        r#type: schema["type"].as_str().map(|t| gnostic::TypeItem {
            value: vec![t.to_string()],
        }),
        items: schema
            .get("items")
            .filter(|i| i.is_object())
            .map(|i| gnostic::ItemsItem {
                schema: vec![schema_proto(i)],
            }),
        all_of: schema["allOf"]
            .as_array()
            .map(|all| all.iter().map(schema_proto).collect())
            .unwrap_or_default(),
        properties: schema["properties"]
            .as_object()
            .map(|props| gnostic::Properties {
                additional_properties: props.iter().map(|(k, v)| named_schema(k, v)).collect(),
            }),
        vendor_extension: schema
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.starts_with("x-"))
            .map(|(k, v)| gnostic::NamedAny {
                name: k.clone(),
                value: Some(yaml(v)),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(name: &str) -> &'static Value {
        &v2_document()["definitions"][name]
    }

    #[test]
    fn definitions_are_written_the_v2_way() {
        let spec = definition("io.k8s.api.batch.v1.JobSpec");
        assert_eq!(
            spec["properties"]["template"]["$ref"],
            "#/definitions/io.k8s.api.core.v1.PodTemplateSpec"
        );
        assert!(spec["properties"]["template"].get("allOf").is_none());
        assert_eq!(
            definition("io.k8s.apimachinery.pkg.util.intstr.IntOrString")["format"],
            "int-or-string"
        );
        let quantity = definition("io.k8s.apimachinery.pkg.api.resource.Quantity");
        assert_eq!(quantity["type"], "string");
        assert!(quantity.get("oneOf").is_none() && quantity.get("format").is_none());
        assert_eq!(
            definition("io.k8s.api.batch.v1.Job")["x-kubernetes-group-version-kind"],
            json!([{"group": "batch", "kind": "Job", "version": "v1"}])
        );
        let text = v2_document().to_string();
        assert!(!text.contains(V3_PREFIX), "no reference is left in v3 form");
    }

    #[test]
    fn the_protobuf_holds_every_definition_with_its_kind() {
        let doc = gnostic::Document::decode(v2_document_protobuf()).unwrap_or_default();
        assert_eq!(doc.swagger, "2.0");
        let definitions = doc.definitions.unwrap_or_default().additional_properties;
        assert_eq!(
            definitions.len(),
            v2_document()["definitions"].as_object().map_or(0, Map::len)
        );
        let job = definitions
            .iter()
            .find(|d| d.name == "io.k8s.api.batch.v1.Job")
            .and_then(|d| d.value.clone())
            .unwrap_or_default();
        assert_eq!(
            job.r#type.map(|t| t.value),
            Some(vec!["object".to_string()])
        );
        let gvk = job
            .vendor_extension
            .iter()
            .find(|e| e.name == "x-kubernetes-group-version-kind")
            .and_then(|e| e.value.clone())
            .unwrap_or_default();
        assert_eq!(
            serde_json::from_str::<Value>(&gvk.yaml).unwrap_or_default(),
            json!([{"group": "batch", "kind": "Job", "version": "v1"}])
        );
        let spec = job
            .properties
            .unwrap_or_default()
            .additional_properties
            .into_iter()
            .find(|p| p.name == "spec")
            .and_then(|p| p.value)
            .unwrap_or_default();
        assert_eq!(spec.xref, "#/definitions/io.k8s.api.batch.v1.JobSpec");
    }
}
