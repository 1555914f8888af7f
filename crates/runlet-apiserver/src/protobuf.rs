//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`).

use crate::error::{ApiError, ApiResult};
use runlet_api::status::Status;
use serde_json::Value;

/// Decodes a protobuf body into the object's JSON form.
pub fn decode(bytes: &[u8]) -> ApiResult<Value> {
    let _ = bytes;
    Err(ApiError(Status::unsupported_media_type("application/vnd.kubernetes.protobuf")))
}
