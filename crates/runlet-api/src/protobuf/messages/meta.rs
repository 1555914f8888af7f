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
        finalizers, generate_name, generation, labels, managed_fields, name, namespace,
        owner_references, resource_version, self_link, uid,
    }
    ManagedFieldsEntry {
        api_version, fields_type, fields_v1, manager, operation, subresource, time,
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
