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
}

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
        PatchType::Json => {
            let p: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| PatchError::Malformed(e.to_string()))?;
            let mut out = original.clone();
            json_patch::patch(&mut out, &p).map_err(|e| PatchError::Conflict(e.to_string()))?;
            Ok(out)
        }
    }
}
