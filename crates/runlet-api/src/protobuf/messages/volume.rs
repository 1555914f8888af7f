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
        fs_type as omitempty, partition as omitempty, read_only as omitempty, volume_id,
    }
    AzureDiskVolumeSource {
        caching_mode, disk_name, disk_uri, fs_type, kind, read_only,
    }
    AzureFileVolumeSource {
        read_only as omitempty, secret_name, share_name,
    }
    CephFSVolumeSource = CephFsVolumeSource {
        monitors, path as omitempty, read_only as omitempty, secret_file as omitempty, secret_ref,
        user as omitempty,
    }
    CinderVolumeSource {
        fs_type as omitempty, read_only as omitempty, secret_ref, volume_id,
    }
    ConfigMapVolumeSource {
        default_mode, items, optional,
        ..local_object_reference { name as omitempty }
    }
    CSIVolumeSource {
        driver, fs_type, node_publish_secret_ref, read_only, volume_attributes,
    }
    DownwardAPIVolumeSource {
        default_mode, items,
    }
    EmptyDirVolumeSource {
        medium as omitempty, size_limit,
    }
    EphemeralVolumeSource {
        volume_claim_template,
    }
    FCVolumeSource = FcVolumeSource {
        fs_type as omitempty, lun, read_only as omitempty, target_wwns = target_ww_ns, wwids,
    }
    FlexVolumeSource {
        driver, fs_type as omitempty, options, read_only as omitempty, secret_ref,
    }
    FlockerVolumeSource {
        dataset_name as omitempty, dataset_uuid as omitempty,
    }
    GCEPersistentDiskVolumeSource = GcePersistentDiskVolumeSource {
        fs_type as omitempty, partition as omitempty, pd_name, read_only as omitempty,
    }
    GitRepoVolumeSource {
        directory as omitempty, repository, revision as omitempty,
    }
    GlusterfsVolumeSource {
        endpoints, path, read_only as omitempty,
    }
    HostPathVolumeSource {
        path, type_ = r#type,
    }
    ImageVolumeSource {
        pull_policy as omitempty, reference as omitempty,
    }
    ISCSIVolumeSource = IscsiVolumeSource {
        chap_auth_discovery as omitempty, chap_auth_session as omitempty, fs_type as omitempty,
        initiator_name, iqn, iscsi_interface as omitempty, lun, portals, read_only as omitempty,
        secret_ref, target_portal,
    }
    NFSVolumeSource = NfsVolumeSource {
        path, read_only as omitempty, server,
    }
    PersistentVolumeClaimVolumeSource {
        claim_name, read_only as omitempty,
    }
    PhotonPersistentDiskVolumeSource {
        fs_type as omitempty, pd_id,
    }
    PortworxVolumeSource {
        fs_type as omitempty, read_only as omitempty, volume_id,
    }
    ProjectedVolumeSource {
        default_mode, sources,
    }
    QuobyteVolumeSource {
        group as omitempty, read_only as omitempty, registry, tenant as omitempty,
        user as omitempty, volume,
    }
    RBDVolumeSource = RbdVolumeSource {
        fs_type as omitempty, image, keyring as omitempty, monitors, pool as omitempty,
        read_only as omitempty, secret_ref, user as omitempty,
    }
    ScaleIOVolumeSource = ScaleIoVolumeSource {
        fs_type as omitempty, gateway, protection_domain as omitempty, read_only as omitempty,
        secret_ref, ssl_enabled as omitempty, storage_mode as omitempty, storage_pool as omitempty,
        system, volume_name as omitempty,
    }
    SecretVolumeSource {
        default_mode, items, optional, secret_name as omitempty,
    }
    StorageOSVolumeSource = StorageOsVolumeSource {
        fs_type as omitempty, read_only as omitempty, secret_ref, volume_name as omitempty,
        volume_namespace as omitempty,
    }
    VsphereVirtualDiskVolumeSource {
        fs_type as omitempty, storage_policy_id as omitempty, storage_policy_name as omitempty,
        volume_path,
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
        api_version as omitempty, field_path,
    }
    ResourceFieldSelector {
        container_name as omitempty, divisor, resource,
    }
    PersistentVolumeClaimSpec {
        access_modes, data_source, data_source_ref, resources, selector, storage_class_name,
        volume_attributes_class_name, volume_mode, volume_name as omitempty,
    }
    ClusterTrustBundleProjection {
        label_selector, name, optional, path, signer_name,
    }
    ConfigMapProjection {
        items, optional,
        ..local_object_reference { name as omitempty }
    }
    DownwardAPIProjection {
        items,
    }
    SecretProjection {
        items, optional,
        ..local_object_reference { name as omitempty }
    }
    ServiceAccountTokenProjection {
        audience as omitempty, expiration_seconds, path,
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
