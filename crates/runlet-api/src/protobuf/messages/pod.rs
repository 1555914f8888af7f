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
        dns_policy, enable_service_links, ephemeral_containers, host_aliases, host_ipc,
        host_network, host_pid, host_users, hostname, image_pull_secrets, init_containers,
        node_name, node_selector, os, overhead, preemption_policy, priority, priority_class_name,
        readiness_gates, resource_claims, resources, restart_policy, runtime_class_name,
        scheduler_name, scheduling_gates, security_context, service_account, service_account_name,
        set_hostname_as_fqdn, share_process_namespace, subdomain, termination_grace_period_seconds,
        tolerations, topology_spread_constraints, volumes,
    }
    PodStatus {
        conditions, container_statuses, ephemeral_container_statuses, host_ip, host_ips,
        init_container_statuses, message, nominated_node_name, observed_generation, phase, pod_ip,
        pod_ips, qos_class, reason, resize, resource_claim_statuses, start_time,
    }
    Affinity {
        node_affinity, pod_affinity, pod_anti_affinity,
    }
    Container {
        args, command, env, env_from, image, image_pull_policy, lifecycle, liveness_probe, name,
        ports, readiness_probe, resize_policy, resources, restart_policy, security_context,
        startup_probe, stdin, stdin_once, termination_message_path, termination_message_policy,
        tty, volume_devices, volume_mounts, working_dir,
    }
    PodDNSConfig = PodDnsConfig {
        nameservers, options, searches,
    }
    EphemeralContainer {
        target_container_name,
        ..ephemeral_container_common {
            args, command, env, env_from, image, image_pull_policy, lifecycle, liveness_probe,
            name, ports, readiness_probe, resize_policy, resources, restart_policy,
            security_context, startup_probe, stdin, stdin_once, termination_message_path,
            termination_message_policy, tty, volume_devices, volume_mounts, working_dir,
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
        effect, key, operator, toleration_seconds, value,
    }
    TopologySpreadConstraint {
        label_selector, match_label_keys, max_skew, min_domains, node_affinity_policy,
        node_taints_policy, topology_key, when_unsatisfiable,
    }
    PodCondition {
        last_probe_time, last_transition_time, message, observed_generation, reason, status,
        type_ = r#type,
    }
    ContainerStatus {
        allocated_resources, allocated_resources_status, container_id, image, image_id, last_state,
        name, ready, resources, restart_count, started, state, stop_signal, user, volume_mounts,
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
        name, value, value_from,
    }
    EnvFromSource {
        config_map_ref, prefix, secret_ref,
    }
    Lifecycle {
        post_start, pre_stop, stop_signal,
    }
    Probe {
        failure_threshold, initial_delay_seconds, period_seconds, success_threshold,
        termination_grace_period_seconds, timeout_seconds,
        ..handler { exec, grpc, http_get, tcp_socket }
    }
    ContainerPort {
        container_port, host_ip, host_port, name, protocol,
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
        mount_path, mount_propagation, name, read_only, recursive_read_only, sub_path,
        sub_path_expr,
    }
    PodDNSConfigOption = PodDnsConfigOption {
        name, value,
    }
    ResourceClaim {
        name, request,
    }
    AppArmorProfile {
        localhost_profile, type_ = r#type,
    }
    SELinuxOptions = SeLinuxOptions {
        level, role, type_ = r#type, user,
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
        mount_path, name, read_only, recursive_read_only,
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
        ..local_object_reference { name }
    }
    SecretEnvSource {
        optional,
        ..local_object_reference { name }
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
        host, http_headers, path, port, scheme,
    }
    TCPSocketAction = TcpSocketAction {
        host, port,
    }
    Capabilities {
        add, drop,
    }
    ResourceHealth {
        health, resource_id,
    }
    ContainerStateRunning {
        started_at,
    }
    ContainerStateTerminated {
        container_id, exit_code, finished_at, message, reason, signal, started_at,
    }
    ContainerStateWaiting {
        message, reason,
    }
    LinuxContainerUser {
        gid, supplemental_groups, uid,
    }
    NodeSelectorTerm {
        match_expressions, match_fields,
    }
    ConfigMapKeySelector {
        key, optional,
        ..local_object_reference { name }
    }
    SecretKeySelector {
        key, optional,
        ..local_object_reference { name }
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
