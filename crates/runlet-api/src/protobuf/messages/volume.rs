//! Field lists for the `core/v1` Volume of a pod and every volume source it can name.
//!
//! Each entry names a `k8s-openapi` struct and all of its fields; see
//! [`messages!`](crate::protobuf::convert) for how it becomes a conversion.

use crate::protobuf::convert::messages;
use k8s_openapi::api::core::v1 as core_v1;
use k8s_pb::api::core::v1 as core_v1_pb;

messages! { core_v1 => core_v1_pb;
    Volume {
        name,
        ..volume_source {
            aws_elastic_block_store, azure_disk, azure_file, cephfs, cinder, config_map, csi,
            downward_api, empty_dir, ephemeral, fc, flex_volume, flocker, gce_persistent_disk,
            git_repo, glusterfs, host_path, image, iscsi, nfs, persistent_volume_claim,
            photon_persistent_disk, portworx_volume, projected, quobyte, rbd, scale_io, secret,
            storageos, vsphere_volume,
        }
    }
    AWSElasticBlockStoreVolumeSource = AwsElasticBlockStoreVolumeSource {
        fs_type, partition, read_only, volume_id,
    }
    AzureDiskVolumeSource {
        caching_mode, disk_name, disk_uri, fs_type, kind, read_only,
    }
    AzureFileVolumeSource {
        read_only, secret_name, share_name,
    }
    CephFSVolumeSource = CephFsVolumeSource {
        monitors, path, read_only, secret_file, secret_ref, user,
    }
    CinderVolumeSource {
        fs_type, read_only, secret_ref, volume_id,
    }
    ConfigMapVolumeSource {
        default_mode, items, optional,
        ..local_object_reference { name }
    }
    CSIVolumeSource {
        driver, fs_type, node_publish_secret_ref, read_only, volume_attributes,
    }
    DownwardAPIVolumeSource {
        default_mode, items,
    }
    EmptyDirVolumeSource {
        medium, size_limit,
    }
    EphemeralVolumeSource {
        volume_claim_template,
    }
    FCVolumeSource = FcVolumeSource {
        fs_type, lun, read_only, target_wwns = target_ww_ns, wwids,
    }
    FlexVolumeSource {
        driver, fs_type, options, read_only, secret_ref,
    }
    FlockerVolumeSource {
        dataset_name, dataset_uuid,
    }
    GCEPersistentDiskVolumeSource = GcePersistentDiskVolumeSource {
        fs_type, partition, pd_name, read_only,
    }
    GitRepoVolumeSource {
        directory, repository, revision,
    }
    GlusterfsVolumeSource {
        endpoints, path, read_only,
    }
    HostPathVolumeSource {
        path, type_ = r#type,
    }
    ImageVolumeSource {
        pull_policy, reference,
    }
    ISCSIVolumeSource = IscsiVolumeSource {
        chap_auth_discovery, chap_auth_session, fs_type, initiator_name, iqn, iscsi_interface, lun,
        portals, read_only, secret_ref, target_portal,
    }
    NFSVolumeSource = NfsVolumeSource {
        path, read_only, server,
    }
    PersistentVolumeClaimVolumeSource {
        claim_name, read_only,
    }
    PhotonPersistentDiskVolumeSource {
        fs_type, pd_id,
    }
    PortworxVolumeSource {
        fs_type, read_only, volume_id,
    }
    ProjectedVolumeSource {
        default_mode, sources,
    }
    QuobyteVolumeSource {
        group, read_only, registry, tenant, user, volume,
    }
    RBDVolumeSource = RbdVolumeSource {
        fs_type, image, keyring, monitors, pool, read_only, secret_ref, user,
    }
    ScaleIOVolumeSource = ScaleIoVolumeSource {
        fs_type, gateway, protection_domain, read_only, secret_ref, ssl_enabled, storage_mode,
        storage_pool, system, volume_name,
    }
    SecretVolumeSource {
        default_mode, items, optional, secret_name,
    }
    StorageOSVolumeSource = StorageOsVolumeSource {
        fs_type, read_only, secret_ref, volume_name, volume_namespace,
    }
    VsphereVirtualDiskVolumeSource {
        fs_type, storage_policy_id, storage_policy_name, volume_path,
    }
    LocalObjectReference {
        name,
    }
    KeyToPath {
        key, mode, path,
    }
    DownwardAPIVolumeFile {
        field_ref, mode, path, resource_field_ref,
    }
    PersistentVolumeClaimTemplate {
        metadata, spec,
    }
    VolumeProjection {
        cluster_trust_bundle, config_map, downward_api, secret, service_account_token,
    }
    ObjectFieldSelector {
        api_version, field_path,
    }
    ResourceFieldSelector {
        container_name, divisor, resource,
    }
    PersistentVolumeClaimSpec {
        access_modes, data_source, data_source_ref, resources, selector, storage_class_name,
        volume_attributes_class_name, volume_mode, volume_name,
    }
    ClusterTrustBundleProjection {
        label_selector, name, optional, path, signer_name,
    }
    ConfigMapProjection {
        items, optional,
        ..local_object_reference { name }
    }
    DownwardAPIProjection {
        items,
    }
    SecretProjection {
        items, optional,
        ..local_object_reference { name }
    }
    ServiceAccountTokenProjection {
        audience, expiration_seconds, path,
    }
    TypedLocalObjectReference {
        api_group, kind, name,
    }
    TypedObjectReference {
        api_group, kind, name, namespace,
    }
    VolumeResourceRequirements {
        limits, requests,
    }
}
