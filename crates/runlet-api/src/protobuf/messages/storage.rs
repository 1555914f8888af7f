//! Field lists for `core/v1` PersistentVolumeClaim and PersistentVolume, with the persistent
//! volume sources.
//!
//! Each entry names a `k8s-openapi` struct and all of its fields; see
//! [`messages!`](crate::protobuf::convert) for how it becomes a conversion.

use crate::protobuf::convert::messages;
use k8s_openapi::api::core::v1 as core_v1;
use k8s_pb::api::core::v1 as core_v1_pb;

messages! { core_v1 => core_v1_pb;
    PersistentVolume {
        metadata, spec, status,
    }
    PersistentVolumeSpec {
        access_modes, capacity, claim_ref, mount_options, node_affinity,
        persistent_volume_reclaim_policy as omitempty, storage_class_name as omitempty,
        volume_attributes_class_name, volume_mode,
        ..persistent_volume_source {
            aws_elastic_block_store, azure_disk, azure_file, cephfs, cinder, csi, fc, flex_volume,
            flocker, gce_persistent_disk, glusterfs, host_path, iscsi, local, nfs,
            photon_persistent_disk, portworx_volume, quobyte, rbd, scale_io, storageos,
            vsphere_volume,
        }
    }
    PersistentVolumeStatus {
        last_phase_transition_time, message as omitempty, phase as omitempty, reason as omitempty,
    }
    AzureFilePersistentVolumeSource {
        read_only as omitempty, secret_name, secret_namespace, share_name,
    }
    CephFSPersistentVolumeSource = CephFsPersistentVolumeSource {
        monitors, path as omitempty, read_only as omitempty, secret_file as omitempty, secret_ref,
        user as omitempty,
    }
    CinderPersistentVolumeSource {
        fs_type as omitempty, read_only as omitempty, secret_ref, volume_id,
    }
    CSIPersistentVolumeSource {
        controller_expand_secret_ref, controller_publish_secret_ref, driver, fs_type as omitempty,
        node_expand_secret_ref, node_publish_secret_ref, node_stage_secret_ref,
        read_only as omitempty, volume_attributes, volume_handle,
    }
    FlexPersistentVolumeSource {
        driver, fs_type as omitempty, options, read_only as omitempty, secret_ref,
    }
    GlusterfsPersistentVolumeSource {
        endpoints, endpoints_namespace, path, read_only as omitempty,
    }
    ISCSIPersistentVolumeSource = IscsiPersistentVolumeSource {
        chap_auth_discovery as omitempty, chap_auth_session as omitempty, fs_type as omitempty,
        initiator_name, iqn, iscsi_interface as omitempty, lun, portals, read_only as omitempty,
        secret_ref, target_portal,
    }
    LocalVolumeSource {
        fs_type, path,
    }
    VolumeNodeAffinity {
        required,
    }
    RBDPersistentVolumeSource = RbdPersistentVolumeSource {
        fs_type as omitempty, image, keyring as omitempty, monitors, pool as omitempty,
        read_only as omitempty, secret_ref, user as omitempty,
    }
    ScaleIOPersistentVolumeSource = ScaleIoPersistentVolumeSource {
        fs_type as omitempty, gateway, protection_domain as omitempty, read_only as omitempty,
        secret_ref, ssl_enabled as omitempty, storage_mode as omitempty, storage_pool as omitempty,
        system, volume_name as omitempty,
    }
    StorageOSPersistentVolumeSource = StorageOsPersistentVolumeSource {
        fs_type as omitempty, read_only as omitempty, secret_ref, volume_name as omitempty,
        volume_namespace as omitempty,
    }
    SecretReference {
        name as omitempty, namespace as omitempty,
    }
    PersistentVolumeClaim {
        metadata, spec, status,
    }
    PersistentVolumeClaimStatus {
        access_modes, allocated_resource_statuses, allocated_resources, capacity, conditions,
        current_volume_attributes_class_name, modify_volume_status, phase as omitempty,
    }
    PersistentVolumeClaimCondition {
        last_probe_time, last_transition_time, message as omitempty, reason as omitempty, status,
        type_ = r#type,
    }
    ModifyVolumeStatus {
        status, target_volume_attributes_class_name as omitempty,
    }
}
