//! Field lists for `authorization.k8s.io/v1` SelfSubjectAccessReview (`kubectl auth can-i`,
//! which sends it as protobuf).
//!
//! Each entry names a `k8s-openapi` struct and all of its fields; see
//! [`messages!`](crate::protobuf::convert) for how it becomes a conversion.

use crate::protobuf::convert::messages;
use k8s_openapi::api::authorization::v1 as authorization_v1;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta_v1;
use k8s_pb::api::authorization::v1 as authorization_v1_pb;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta_v1_pb;

messages! { authorization_v1 => authorization_v1_pb;
    SelfSubjectAccessReview {
        metadata, spec, status,
    }
    SelfSubjectAccessReviewSpec {
        non_resource_attributes, resource_attributes,
    }
    ResourceAttributes {
        field_selector, group as omitempty, label_selector, name as omitempty,
        namespace as omitempty, resource as omitempty, subresource as omitempty,
        verb as omitempty, version as omitempty,
    }
    NonResourceAttributes {
        path as omitempty, verb as omitempty,
    }
    FieldSelectorAttributes {
        raw_selector as omitempty, requirements,
    }
    LabelSelectorAttributes {
        raw_selector as omitempty, requirements,
    }
    SubjectAccessReviewStatus {
        allowed, denied, evaluation_error as omitempty, reason as omitempty,
    }
}

messages! { meta_v1 => meta_v1_pb;
    FieldSelectorRequirement {
        key, operator, values,
    }
}
