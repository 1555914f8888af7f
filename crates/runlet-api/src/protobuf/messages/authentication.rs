//! Field lists for `authentication.k8s.io/v1` TokenRequest (`kubectl create token`, which
//! sends it as protobuf).
//!
//! Each entry names a `k8s-openapi` struct and all of its fields; see
//! [`messages!`](crate::protobuf::convert) for how it becomes a conversion. The status is
//! written out: a request carries none, and its required `expirationTimestamp` has no zero
//! value in `k8s-openapi` (the server sets both).

use crate::protobuf::ProtobufError;
use crate::protobuf::convert::{Convert, messages};
use k8s_openapi::api::authentication::v1 as authentication_v1;
use k8s_pb::api::authentication::v1 as authentication_v1_pb;

messages! { authentication_v1 => authentication_v1_pb;
    TokenRequest {
        metadata, spec, status,
    }
    TokenRequestSpec {
        audiences, bound_object_ref, expiration_seconds,
    }
    BoundObjectReference {
        api_version as omitempty, kind as omitempty, name as omitempty, uid = u_id as omitempty,
    }
}

impl Convert<authentication_v1::TokenRequestStatus> for authentication_v1_pb::TokenRequestStatus {
    fn convert(self) -> Result<authentication_v1::TokenRequestStatus, ProtobufError> {
        let expiration_timestamp = match self.expiration_timestamp {
            Some(t) => t.convert()?,
            None => k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()),
        };
        Ok(authentication_v1::TokenRequestStatus {
            expiration_timestamp,
            token: self.token.unwrap_or_default(),
        })
    }
}
