//! The three patch types kubectl and the client libraries send: JSON merge (RFC 7386), JSON
//! patch (RFC 6902) and Kubernetes' strategic merge patch.

pub mod strategic;

use crate::resources::ResourceInfo;
use serde_json::Value;

/// `discardNullValuesFromPatch`: drops `null` map values everywhere inside `v` (what a
/// strategic merge patch and a server-side apply make of an explicit `null`).
pub(crate) fn discard_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(discard_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

/// The patch type named by the request's `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json`
    Json,
    /// `application/merge-patch+json`
    Merge,
    /// `application/strategic-merge-patch+json`
    Strategic,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<Self> {
        match ct.split(';').next().unwrap_or("").trim() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            _ => None,
        }
    }
}

/// A patch that cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The patch body is not valid JSON of the right shape.
    #[error("{0}")]
    Malformed(String),
    /// The patch does not apply to the object (a failed `test`, a missing path; for a strategic
    /// merge patch, lists of lists, which upstream answers with 422).
    #[error("{0}")]
    Conflict(String),
    /// A JSON patch of more operations than upstream takes (413).
    #[error(
        "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {0}"
    )]
    TooManyOperations(usize),
}

/// Upstream's `maxJSONPatchOperations`.
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;
/// Upstream's `JSONPatchMaxCopyBytes`: what a JSON patch's `copy` operations may add in all. A
/// patch of a few kilobytes whose copies each double the document would otherwise take all of
/// the server's memory.
const MAX_JSON_PATCH_COPY_BYTES: usize = 3 * 1024 * 1024;

/// Applies `patch` of type `ty` to `original`, an object of `info`'s kind.
pub fn apply(
    info: &ResourceInfo,
    ty: PatchType,
    original: &Value,
    patch: &Value,
) -> Result<Value, PatchError> {
    match ty {
        PatchType::Strategic => strategic::apply(info, original, patch),
        PatchType::Merge => {
            let mut out = original.clone();
            json_patch::merge(&mut out, patch);
            Ok(out)
        }
        PatchType::Json => json(original, patch),
    }
}

/// A JSON patch, its operations one at a time so the size its copies add is counted before
/// each is made (upstream's `AccumulatedCopySizeLimit`); a failure leaves `original` as it is.
fn json(original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let p: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| PatchError::Malformed(e.to_string()))?;
    if p.0.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooManyOperations(p.0.len()));
    }
    let mut out = original.clone();
    let mut copied = 0usize;
    for (i, op) in p.0.iter().enumerate() {
        if let json_patch::PatchOperation::Copy(c) = op
            && let Some(value) = out.pointer(c.from.as_str())
        {
            copied += serde_json::to_vec(value).map_or(0, |bytes| bytes.len());
            if copied > MAX_JSON_PATCH_COPY_BYTES {
                return Err(PatchError::Conflict(format!(
                    "Unable to complete the copy, the accumulated size increase of copy is {copied}, exceeding the limit {MAX_JSON_PATCH_COPY_BYTES}"
                )));
            }
        }
        json_patch::patch_unsafe(&mut out, std::slice::from_ref(op)).map_err(|mut e| {
            e.operation = i;
            PatchError::Conflict(e.to_string())
        })?;
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod json_patch_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn copies_that_double_the_document_stop_at_upstream_s_limit() {
        let mut ops = vec![json!({"op": "add", "path": "/a", "value": {"x": "y".repeat(1000)}})];
        ops.extend(
            (0..30).map(|i| json!({"op": "copy", "from": "/a", "path": format!("/a/n{i}")})),
        );
        let err = json(&json!({}), &Value::Array(ops))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "Unable to complete the copy, the accumulated size increase of copy is "
            ) && err.ends_with(", exceeding the limit 3145728"),
            "{err}"
        );
    }

    #[test]
    fn a_failing_operation_is_named_by_its_place_in_the_patch() {
        let ops = json!([
            {"op": "add", "path": "/a", "value": 1},
            {"op": "remove", "path": "/missing"}
        ]);
        let err = json(&json!({}), &ops).unwrap_err().to_string();
        assert!(err.contains("operation '/1'"), "{err}");
        let many = Value::Array(vec![
            json!({"op": "test", "path": "/a", "value": 1});
            10_001
        ]);
        assert_eq!(
            json(&json!({"a": 1}), &many).unwrap_err().to_string(),
            "The allowed maximum operations in a JSON patch is 10000, got 10001"
        );
    }
}
