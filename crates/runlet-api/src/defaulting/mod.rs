//! Defaulting, as upstream's `pkg/apis/*/v1/defaults.go` and the registry strategies'
//! `PrepareForCreate` do it.

use crate::resources::ResourceInfo;
use serde_json::Value;

/// Fills in upstream's defaults for an object of `info`'s kind, in place.
pub fn apply_defaults(info: &ResourceInfo, obj: &mut Value) {
    let _ = (info, obj);
}

/// Kind-specific preparation of a new object after its `metadata.uid` is set (e.g. a Job's
/// generated selector and labels).
pub fn prepare_for_create(info: &ResourceInfo, obj: &mut Value) {
    let _ = (info, obj);
}
