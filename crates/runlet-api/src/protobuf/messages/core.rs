//! Field lists for the small `core/v1` kinds: Namespace, ConfigMap, Secret, ServiceAccount.
//!
//! Each entry names a `k8s-openapi` struct and all of its fields; see
//! [`messages!`](crate::protobuf::convert) for how it becomes a conversion.

use crate::protobuf::convert::messages;
use k8s_openapi::api::core::v1 as core_v1;
use k8s_pb::api::core::v1 as core_v1_pb;

messages! { core_v1 => core_v1_pb;
    Namespace {
        metadata, spec, status,
    }
    ConfigMap {
        binary_data, data, immutable, metadata,
    }
    Secret {
        data, immutable, metadata, string_data, type_ = r#type as omitempty,
    }
    ServiceAccount {
        automount_service_account_token, image_pull_secrets, metadata, secrets,
    }
    NamespaceSpec {
        finalizers,
    }
    NamespaceStatus {
        conditions, phase as omitempty,
    }
    NamespaceCondition {
        last_transition_time, message as omitempty, reason as omitempty, status, type_ = r#type,
    }
    PodTemplateSpec {
        metadata, spec,
    }
}
