//! Field lists for `core/v1` Node: spec, taints, addresses, conditions and system info.
//!
//! Each entry names a `k8s-openapi` struct and all of its fields; see
//! [`messages!`](crate::protobuf::convert) for how it becomes a conversion.

use crate::protobuf::convert::messages;
use k8s_openapi::api::core::v1 as core_v1;
use k8s_pb::api::core::v1 as core_v1_pb;

messages! { core_v1 => core_v1_pb;
    Node {
        metadata, spec, status,
    }
    NodeSpec {
        config_source, external_id as omitempty, pod_cidr as omitempty, pod_cidrs = pod_cid_rs,
        provider_id as omitempty, taints, unschedulable as omitempty,
    }
    NodeStatus {
        addresses, allocatable, capacity, conditions, config, daemon_endpoints, features, images,
        node_info, phase as omitempty, runtime_handlers, volumes_attached, volumes_in_use,
    }
    NodeConfigSource {
        config_map,
    }
    Taint {
        effect, key, time_added, value as omitempty,
    }
    NodeAddress {
        address, type_ = r#type,
    }
    NodeCondition {
        last_heartbeat_time, last_transition_time, message as omitempty, reason as omitempty,
        status, type_ = r#type,
    }
    NodeConfigStatus {
        active, assigned, error as omitempty, last_known_good,
    }
    NodeDaemonEndpoints {
        kubelet_endpoint,
    }
    NodeFeatures {
        supplemental_groups_policy,
    }
    ContainerImage {
        names, size_bytes as omitempty,
    }
    NodeSystemInfo {
        architecture, boot_id, container_runtime_version, kernel_version, kube_proxy_version,
        kubelet_version, machine_id, operating_system, os_image, swap, system_uuid,
    }
    NodeRuntimeHandler {
        features, name,
    }
    AttachedVolume {
        device_path, name,
    }
    ConfigMapNodeConfigSource {
        kubelet_config_key, name, namespace, resource_version as omitempty, uid as omitempty,
    }
    DaemonEndpoint {
        port,
    }
    NodeSwapStatus {
        capacity,
    }
    NodeRuntimeHandlerFeatures {
        recursive_read_only_mounts, user_namespaces,
    }
}
