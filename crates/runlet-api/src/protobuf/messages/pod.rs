//! Field lists for `core/v1` Pod: spec, containers, probes, scheduling, security, status.
//!
//! Each entry names a `k8s-openapi` struct and all of its fields; see
//! [`messages!`](crate::protobuf::convert) for how it becomes a conversion.

use crate::protobuf::convert::messages;
use k8s_openapi::api::core::v1 as core_v1;
use k8s_pb::api::core::v1 as core_v1_pb;

messages! { core_v1 => core_v1_pb;
    Pod {
        metadata, spec, status,
    }
    PodSpec {
        active_deadline_seconds, affinity, automount_service_account_token, containers, dns_config,
        dns_policy as omitempty, enable_service_links, ephemeral_containers, host_aliases,
        host_ipc as omitempty, host_network as omitempty, host_pid as omitempty, host_users,
        hostname as omitempty, image_pull_secrets, init_containers, node_name as omitempty,
        node_selector, os, overhead, preemption_policy, priority, priority_class_name as omitempty,
        readiness_gates, resource_claims, resources, restart_policy as omitempty,
        runtime_class_name, scheduler_name as omitempty, scheduling_gates, security_context,
        service_account as omitempty, service_account_name as omitempty, set_hostname_as_fqdn,
        share_process_namespace, subdomain as omitempty, termination_grace_period_seconds,
        tolerations, topology_spread_constraints, volumes,
    }
    PodStatus {
        conditions, container_statuses, ephemeral_container_statuses, host_ip as omitempty,
        host_ips, init_container_statuses, message as omitempty, nominated_node_name as omitempty,
        observed_generation as omitempty, phase as omitempty, pod_ip as omitempty, pod_ips,
        qos_class as omitempty, reason as omitempty, resize as omitempty, resource_claim_statuses,
        start_time,
    }
    Affinity {
        node_affinity, pod_affinity, pod_anti_affinity,
    }
    Container {
        args, command, env, env_from, image as omitempty, image_pull_policy as omitempty,
        lifecycle, liveness_probe, name, ports, readiness_probe, resize_policy, resources,
        restart_policy, security_context, startup_probe, stdin as omitempty,
        stdin_once as omitempty, termination_message_path as omitempty,
        termination_message_policy as omitempty, tty as omitempty, volume_devices, volume_mounts,
        working_dir as omitempty,
    }
    PodDNSConfig = PodDnsConfig {
        nameservers, options, searches,
    }
    EphemeralContainer {
        target_container_name as omitempty,
        ..ephemeral_container_common {
            args, command, env, env_from, image as omitempty, image_pull_policy as omitempty,
            lifecycle, liveness_probe, name, ports, readiness_probe, resize_policy, resources,
            restart_policy, security_context, startup_probe, stdin as omitempty,
            stdin_once as omitempty, termination_message_path as omitempty,
            termination_message_policy as omitempty, tty as omitempty, volume_devices,
            volume_mounts, working_dir as omitempty,
        }
    }
    HostAlias {
        hostnames, ip,
    }
    PodOS = PodOs {
        name,
    }
    PodReadinessGate {
        condition_type,
    }
    PodResourceClaim {
        name, resource_claim_name, resource_claim_template_name,
    }
    ResourceRequirements {
        claims, limits, requests,
    }
    PodSchedulingGate {
        name,
    }
    PodSecurityContext {
        app_armor_profile, fs_group, fs_group_change_policy, run_as_group, run_as_non_root,
        run_as_user, se_linux_change_policy, se_linux_options, seccomp_profile,
        supplemental_groups, supplemental_groups_policy, sysctls, windows_options,
    }
    Toleration {
        effect as omitempty, key as omitempty, operator as omitempty, toleration_seconds,
        value as omitempty,
    }
    TopologySpreadConstraint {
        label_selector, match_label_keys, max_skew, min_domains, node_affinity_policy,
        node_taints_policy, topology_key, when_unsatisfiable,
    }
    PodCondition {
        last_probe_time, last_transition_time, message as omitempty,
        observed_generation as omitempty, reason as omitempty, status, type_ = r#type,
    }
    ContainerStatus {
        allocated_resources, allocated_resources_status, container_id as omitempty, image,
        image_id, last_state, name, ready, resources, restart_count, started, state, stop_signal,
        user, volume_mounts,
    }
    HostIP = HostIp {
        ip,
    }
    PodIP = PodIp {
        ip,
    }
    PodResourceClaimStatus {
        name, resource_claim_name,
    }
    NodeAffinity {
        preferred_during_scheduling_ignored_during_execution,
        required_during_scheduling_ignored_during_execution,
    }
    PodAffinity {
        preferred_during_scheduling_ignored_during_execution,
        required_during_scheduling_ignored_during_execution,
    }
    PodAntiAffinity {
        preferred_during_scheduling_ignored_during_execution,
        required_during_scheduling_ignored_during_execution,
    }
    EnvVar {
        name, value as omitempty, value_from,
    }
    EnvFromSource {
        config_map_ref, prefix as omitempty, secret_ref,
    }
    Lifecycle {
        post_start, pre_stop, stop_signal,
    }
    Probe {
        failure_threshold as omitempty, initial_delay_seconds as omitempty,
        period_seconds as omitempty, success_threshold as omitempty,
        termination_grace_period_seconds, timeout_seconds as omitempty,
        ..handler {
            exec, grpc, http_get, tcp_socket,
        }
    }
    ContainerPort {
        container_port, host_ip as omitempty, host_port as omitempty, name as omitempty,
        protocol as omitempty,
    }
    ContainerResizePolicy {
        resource_name, restart_policy,
    }
    SecurityContext {
        allow_privilege_escalation, app_armor_profile, capabilities, privileged, proc_mount,
        read_only_root_filesystem, run_as_group, run_as_non_root, run_as_user, se_linux_options,
        seccomp_profile, windows_options,
    }
    VolumeDevice {
        device_path, name,
    }
    VolumeMount {
        mount_path, mount_propagation, name, read_only as omitempty, recursive_read_only,
        sub_path as omitempty, sub_path_expr as omitempty,
    }
    PodDNSConfigOption = PodDnsConfigOption {
        name as omitempty, value,
    }
    ResourceClaim {
        name, request as omitempty,
    }
    AppArmorProfile {
        localhost_profile, type_ = r#type,
    }
    SELinuxOptions = SeLinuxOptions {
        level as omitempty, role as omitempty, type_ = r#type as omitempty, user as omitempty,
    }
    SeccompProfile {
        localhost_profile, type_ = r#type,
    }
    Sysctl {
        name, value,
    }
    WindowsSecurityContextOptions {
        gmsa_credential_spec, gmsa_credential_spec_name, host_process, run_as_user_name,
    }
    ResourceStatus {
        name, resources,
    }
    ContainerState {
        running, terminated, waiting,
    }
    ContainerUser {
        linux,
    }
    VolumeMountStatus {
        mount_path, name, read_only as omitempty, recursive_read_only,
    }
    PreferredSchedulingTerm {
        preference, weight,
    }
    NodeSelector {
        node_selector_terms,
    }
    WeightedPodAffinityTerm {
        pod_affinity_term, weight,
    }
    PodAffinityTerm {
        label_selector, match_label_keys, mismatch_label_keys, namespace_selector, namespaces,
        topology_key,
    }
    EnvVarSource {
        config_map_key_ref, field_ref, resource_field_ref, secret_key_ref,
    }
    ConfigMapEnvSource {
        optional,
        ..local_object_reference { name as omitempty }
    }
    SecretEnvSource {
        optional,
        ..local_object_reference { name as omitempty }
    }
    LifecycleHandler {
        exec, http_get, sleep, tcp_socket,
    }
    ExecAction {
        command,
    }
    GRPCAction = GrpcAction {
        port, service,
    }
    HTTPGetAction = HttpGetAction {
        host as omitempty, http_headers, path as omitempty, port, scheme as omitempty,
    }
    TCPSocketAction = TcpSocketAction {
        host as omitempty, port,
    }
    Capabilities {
        add, drop,
    }
    ResourceHealth {
        health as omitempty, resource_id,
    }
    ContainerStateRunning {
        started_at,
    }
    ContainerStateTerminated {
        container_id as omitempty, exit_code, finished_at, message as omitempty,
        reason as omitempty, signal as omitempty, started_at,
    }
    ContainerStateWaiting {
        message as omitempty, reason as omitempty,
    }
    LinuxContainerUser {
        gid, supplemental_groups, uid,
    }
    NodeSelectorTerm {
        match_expressions, match_fields,
    }
    ConfigMapKeySelector {
        key, optional,
        ..local_object_reference { name as omitempty }
    }
    SecretKeySelector {
        key, optional,
        ..local_object_reference { name as omitempty }
    }
    SleepAction {
        seconds,
    }
    HTTPHeader = HttpHeader {
        name, value,
    }
    NodeSelectorRequirement {
        key, operator, values,
    }
}
