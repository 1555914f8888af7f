//! Field lists for `storage.k8s.io/v1` StorageClass, with the `core/v1` topology terms it
//! names.
//!
//! Each entry names a `k8s-openapi` struct and all of its fields; see
//! [`messages!`](crate::protobuf::convert) for how it becomes a conversion.

use crate::protobuf::convert::messages;
use k8s_openapi::api::core::v1 as core_v1;
use k8s_openapi::api::storage::v1 as storage_v1;
use k8s_pb::api::core::v1 as core_v1_pb;
use k8s_pb::api::storage::v1 as storage_v1_pb;

messages! { storage_v1 => storage_v1_pb;
    StorageClass {
        allow_volume_expansion, allowed_topologies, metadata, mount_options, parameters,
        provisioner, reclaim_policy, volume_binding_mode,
    }
}

messages! { core_v1 => core_v1_pb;
    TopologySelectorTerm {
        match_label_expressions,
    }
    TopologySelectorLabelRequirement {
        key, values,
    }
}
