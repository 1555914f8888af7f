//! Field lists for `authorization.k8s.io/v1` SelfSubjectAccessReview (`kubectl auth can-i`)
//! and SelfSubjectRulesReview (`kubectl auth can-i --list`), which kubectl sends as protobuf.
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
    SelfSubjectRulesReview {
        metadata, spec, status,
    }
    SelfSubjectRulesReviewSpec {
        namespace as omitempty,
    }
    SubjectRulesReviewStatus {
        evaluation_error as omitempty, incomplete, non_resource_rules, resource_rules,
    }
    ResourceRule {
        api_groups, resource_names, resources, verbs,
    }
    NonResourceRule {
        non_resource_urls = non_resource_ur_ls, verbs,
    }
}

messages! { meta_v1 => meta_v1_pb;
    FieldSelectorRequirement {
        key, operator, values,
    }
}
