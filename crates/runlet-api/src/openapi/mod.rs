//! OpenAPI v3 documents for the served group-versions, built from k8s-openapi's schemas, so
//! that `kubectl explain` and client-side validation in `kubectl apply` work.
//!
//! Each document mirrors the API server's `/openapi/v3/apis/<group>/<version>`: the schemas of
//! every served kind and everything they reference ([`schemas`]), and the REST operations
//! ([`paths`]). Documents are built once, on first use, and served from memory; the index
//! carries a hash of each document so clients cache them by URL, as upstream's does.

mod enums;
mod extensions;
mod paths;
mod schemas;
mod v2;

pub use v2::{
    PROTOBUF_ACCEPT as V2_PROTOBUF_ACCEPT, PROTOBUF_CONTENT_TYPE as V2_PROTOBUF_CONTENT_TYPE,
    v2_document, v2_document_protobuf,
};

use crate::resources::{RESOURCES, ResourceInfo, group_versions};
use serde_json::{Map, Value, json};
use std::sync::LazyLock;

/// One built group-version document.
struct Document {
    /// `api/v1` or `apis/batch/v1`.
    path: String,
    value: Value,
    json: String,
    hash: String,
}

/// The index path of a group-version: `api/v1` or `apis/batch/v1`.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// 64-bit FNV-1a, printed as upper-case hex: stable across runs and builds, unlike std's hasher.
fn stable_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016X}")
}

fn build(group: &str, version: &str) -> Document {
    let resources: Vec<&ResourceInfo> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    let components = schemas::components(group, version, &resources);
    let mut paths = Map::new();
    for info in &resources {
        let kind_schema = components
            .iter()
            .find(|(_, s)| {
                s.pointer("/x-kubernetes-group-version-kind/0/kind")
                    .and_then(Value::as_str)
                    == Some(info.kind)
            })
            .map(|(name, _)| name.clone());
        if let Some(kind_schema) = kind_schema {
            paths::add_resource(&mut paths, info, &kind_schema);
        }
    }
    let value = json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": "v1.33.0" },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "description": "Bearer Token authentication",
                    "name": "authorization",
                    "in": "header",
                },
            },
        },
        "security": [{ "BearerToken": [] }],
    });
    let json = value.to_string();
    let hash = stable_hash(json.as_bytes());
    Document {
        path: gv_path(group, version),
        value,
        json,
        hash,
    }
}

static DOCUMENTS: LazyLock<Vec<Document>> = LazyLock::new(|| {
    group_versions()
        .into_iter()
        .map(|(g, v)| build(g, v))
        .collect()
});

fn find(group: &str, version: &str) -> Option<&'static Document> {
    let path = gv_path(group, version);
    DOCUMENTS.iter().find(|d| d.path == path)
}

/// The schema of a served kind, for server-side apply.
pub fn kind_node(
    group: &str,
    version: &str,
    kind: &str,
) -> Option<crate::apply::schema::Node<'static>> {
    let kind = kind_schema(group, version, kind)?;
    Some(crate::apply::schema::Node::root(
        kind.schema,
        kind.components,
    ))
}

/// A served kind's schema, found in its group-version's document.
#[derive(Clone, Copy)]
pub struct KindSchema {
    /// The component's name, its Go type's (`io.k8s.api.core.v1.ConfigMap`).
    pub name: &'static str,
    pub schema: &'static Value,
    /// The document's components, which the schema refers to.
    pub components: &'static Map<String, Value>,
}

/// A served kind's schema, looked up once per kind: every server-side apply asks, and
/// [`crate::goform`] compiles it at the kind's first write.
pub fn kind_schema(group: &str, version: &str, kind: &str) -> Option<KindSchema> {
    type Schemas = Vec<((&'static str, &'static str, &'static str), KindSchema)>;
    static ROOTS: LazyLock<Schemas> = LazyLock::new(|| {
        RESOURCES
            .iter()
            .filter_map(|r| Some(((r.group, r.version, r.kind), find_root(r)?)))
            .collect()
    });
    ROOTS
        .iter()
        .find(|((g, v, k), _)| *g == group && *v == version && *k == kind)
        .map(|(_, schema)| *schema)
}

fn components_of(group: &str, version: &str) -> Option<&'static Map<String, Value>> {
    find(group, version)?
        .value
        .pointer("/components/schemas")?
        .as_object()
}

fn find_root(r: &ResourceInfo) -> Option<KindSchema> {
    let components = components_of(r.group, r.version)?;
    let (name, schema) = components.iter().find(|(_, s)| {
        s.get("x-kubernetes-group-version-kind")
            .and_then(Value::as_array)
            .is_some_and(|gvks| {
                gvks.iter().any(|g| {
                    g["group"] == r.group && g["version"] == r.version && g["kind"] == r.kind
                })
            })
    })?;
    Some(KindSchema {
        name,
        schema,
        components,
    })
}

/// `GET /openapi/v3`: the index of group-version documents.
pub fn v3_index() -> Value {
    let paths: Map<String, Value> = DOCUMENTS
        .iter()
        .map(|d| {
            let url = format!("/openapi/v3/{}?hash={}", d.path, d.hash);
            (d.path.clone(), json!({ "serverRelativeURL": url }))
        })
        .collect();
    json!({ "paths": paths })
}

/// `GET /openapi/v3/{api/v1 | apis/group/version}`: one group-version document.
pub fn v3_document(group: &str, version: &str) -> Option<Value> {
    find(group, version).map(|d| d.value.clone())
}

/// The same document already serialized, to serve without re-encoding.
pub fn v3_document_json(group: &str, version: &str) -> Option<&'static str> {
    find(group, version).map(|d| d.json.as_str())
}

/// The hash the index advertises for a document (`?hash=`), for `ETag`/caching headers.
pub fn v3_document_hash(group: &str, version: &str) -> Option<&'static str> {
    find(group, version).map(|d| d.hash.as_str())
}

#[cfg(test)]
mod tests;
