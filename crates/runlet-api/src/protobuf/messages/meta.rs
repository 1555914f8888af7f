//! Field lists for `meta/v1` messages every object carries: ObjectMeta, owner references,
//! managed-fields entries and label selectors.
//!
//! Each entry names a `k8s-openapi` struct and all of its fields; see
//! [`messages!`](crate::protobuf::convert) for how it becomes a conversion.

use crate::protobuf::convert::messages;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta_v1;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta_v1_pb;

messages! { meta_v1 => meta_v1_pb;
    ObjectMeta {
        annotations, creation_timestamp, deletion_grace_period_seconds, deletion_timestamp,
        finalizers, generate_name as omitempty, generation as omitempty, labels, managed_fields,
        name as omitempty, namespace as omitempty, owner_references, resource_version as omitempty,
        self_link as omitempty, uid as omitempty,
    }
    ManagedFieldsEntry {
        api_version as omitempty, fields_type as omitempty, fields_v1, manager as omitempty,
        operation as omitempty, subresource as omitempty, time,
    }
    OwnerReference {
        api_version, block_owner_deletion, controller, kind, name, uid,
    }
    LabelSelector {
        match_expressions, match_labels,
    }
    LabelSelectorRequirement {
        key, operator, values,
    }
}
