//! Validation with Kubernetes field paths, as upstream's `pkg/apis/*/validation`.

use crate::field::ErrorList;
use crate::resources::ResourceInfo;
use serde_json::Value;

/// Validates a new (defaulted) object.
pub fn validate_create(info: &ResourceInfo, obj: &Value) -> ErrorList {
    let _ = (info, obj);
    Vec::new()
}

/// Validates an update of the main resource (immutable fields included).
pub fn validate_update(info: &ResourceInfo, new: &Value, old: &Value) -> ErrorList {
    let _ = (info, new, old);
    Vec::new()
}

/// Validates an update through the `status` subresource.
pub fn validate_status_update(info: &ResourceInfo, new: &Value, old: &Value) -> ErrorList {
    let _ = (info, new, old);
    Vec::new()
}
