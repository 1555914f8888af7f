//! `policy/v1` Eviction (what `kubectl drain` posts to `pods/{name}/eviction`) and the
//! `meta/v1` DeleteOptions it carries, which clients also send as the body of a `DELETE`.
//!
//! Eviction is listed as the others are (see [`messages!`](crate::protobuf::convert));
//! DeleteOptions is written out because `k8s-openapi` gives it `apiVersion` and `kind` fields
//! that the protobuf message carries in its envelope instead.

use crate::protobuf::ProtobufError;
use crate::protobuf::convert::{Convert, Shape, messages};
use k8s_openapi::api::policy::v1 as policy_v1;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta_v1;
use k8s_pb::api::policy::v1 as policy_v1_pb;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta_v1_pb;

messages! { policy_v1 => policy_v1_pb;
    Eviction {
        delete_options, metadata,
    }
}

messages! { meta_v1 => meta_v1_pb;
    Preconditions {
        resource_version, uid,
    }
}

impl Convert<meta_v1::DeleteOptions> for meta_v1_pb::DeleteOptions {
    fn convert(self) -> Result<meta_v1::DeleteOptions, ProtobufError> {
        Ok(meta_v1::DeleteOptions {
            api_version: None,
            kind: None,
            dry_run: Shape::shape(self.dry_run)?,
            grace_period_seconds: self.grace_period_seconds,
            ignore_store_read_error_with_cluster_breaking_potential: self
                .ignore_store_read_error_with_cluster_breaking_potential,
            orphan_dependents: self.orphan_dependents,
            preconditions: Shape::shape(self.preconditions)?,
            propagation_policy: self.propagation_policy,
        })
    }
}
