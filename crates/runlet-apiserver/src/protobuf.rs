//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), as kubectl's
//! typed generators send them; answered in JSON.

use crate::error::{ApiError, ApiResult};
use runlet_api::status::Status;
use serde_json::Value;

/// Decodes a protobuf body into the object's JSON form.
pub fn decode(bytes: &[u8]) -> ApiResult<Value> {
    runlet_api::protobuf::decode(bytes)
        .map_err(|e| ApiError::new(Status::bad_request(e.to_string())))
}
