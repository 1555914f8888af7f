//! The fields whose zero value upstream's Go types leave out when they encode an object: the
//! non-pointer `bool`, `string` and integer fields tagged `omitempty`, per Go type (named as the
//! OpenAPI components are), and which collection fields have no `omitempty`. Read from
//! upstream's `k8s.io/api/core/v1/types.go`, `k8s.io/api/batch/v1/types.go` and
//! `k8s.io/apimachinery/pkg/apis/meta/v1/types.go` (v0.33, which have no `omitzero`).

/// The zero-omitted scalar fields of the Go type `component`, if it has any.
pub fn zero_omitted(component: &str) -> Option<&'static [&'static str]> {
    let fields: &[&str] = match component.strip_prefix("io.k8s.")? {
        "api.core.v1.PodSpec" => &[
            "restartPolicy",
            "dnsPolicy",
            "serviceAccountName",
            "serviceAccount",
            "nodeName",
            "hostNetwork",
            "hostPID",
            "hostIPC",
            "hostname",
            "subdomain",
            "schedulerName",
            "priorityClassName",
        ],
        "apimachinery.pkg.apis.meta.v1.ObjectMeta" => &[
            "name",
            "generateName",
            "namespace",
            "selfLink",
            "uid",
            "resourceVersion",
            "generation",
        ],
        "apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry" => &[
            "manager",
            "operation",
            "apiVersion",
            "fieldsType",
            "subresource",
        ],
        "api.core.v1.Container" => &[
            "image",
            "workingDir",
            "terminationMessagePath",
            "terminationMessagePolicy",
            "imagePullPolicy",
            "stdin",
            "stdinOnce",
            "tty",
        ],
        "api.core.v1.EphemeralContainer" => &[
            "image",
            "workingDir",
            "terminationMessagePath",
            "terminationMessagePolicy",
            "imagePullPolicy",
            "stdin",
            "stdinOnce",
            "tty",
            "targetContainerName",
        ],
        "api.core.v1.LocalObjectReference" => &["name"],
        "api.core.v1.Toleration" => &["key", "operator", "value", "effect"],
        "api.core.v1.EmptyDirVolumeSource" => &["medium"],
        "api.core.v1.GCEPersistentDiskVolumeSource" => &["fsType", "partition", "readOnly"],
        "api.core.v1.AWSElasticBlockStoreVolumeSource" => &["fsType", "partition", "readOnly"],
        "api.core.v1.GitRepoVolumeSource" => &["revision", "directory"],
        "api.core.v1.SecretVolumeSource" => &["secretName"],
        "api.core.v1.NFSVolumeSource" => &["readOnly"],
        "api.core.v1.ISCSIVolumeSource" => &[
            "iscsiInterface",
            "fsType",
            "readOnly",
            "chapAuthDiscovery",
            "chapAuthSession",
        ],
        "api.core.v1.GlusterfsVolumeSource" => &["readOnly"],
        "api.core.v1.PersistentVolumeClaimVolumeSource" => &["readOnly"],
        "api.core.v1.RBDVolumeSource" => &["fsType", "pool", "user", "keyring", "readOnly"],
        "api.core.v1.FlexVolumeSource" => &["fsType", "readOnly"],
        "api.core.v1.CinderVolumeSource" => &["fsType", "readOnly"],
        "api.core.v1.CephFSVolumeSource" => &["path", "user", "secretFile", "readOnly"],
        "api.core.v1.FlockerVolumeSource" => &["datasetName", "datasetUUID"],
        "api.core.v1.FCVolumeSource" => &["fsType", "readOnly"],
        "api.core.v1.AzureFileVolumeSource" => &["readOnly"],
        "api.core.v1.ConfigMapVolumeSource" => &["name"],
        "api.core.v1.VsphereVirtualDiskVolumeSource" => {
            &["fsType", "storagePolicyName", "storagePolicyID"]
        }
        "api.core.v1.QuobyteVolumeSource" => &["readOnly", "user", "group", "tenant"],
        "api.core.v1.PhotonPersistentDiskVolumeSource" => &["fsType"],
        "api.core.v1.PortworxVolumeSource" => &["fsType", "readOnly"],
        "api.core.v1.ScaleIOVolumeSource" => &[
            "sslEnabled",
            "protectionDomain",
            "storagePool",
            "storageMode",
            "volumeName",
            "fsType",
            "readOnly",
        ],
        "api.core.v1.StorageOSVolumeSource" => {
            &["volumeName", "volumeNamespace", "fsType", "readOnly"]
        }
        "api.core.v1.ImageVolumeSource" => &["reference", "pullPolicy"],
        "api.core.v1.ContainerPort" => &["name", "hostPort", "protocol", "hostIP"],
        "api.core.v1.EnvFromSource" => &["prefix"],
        "api.core.v1.EnvVar" => &["value"],
        "api.core.v1.VolumeMount" => &["readOnly", "subPath", "subPathExpr"],
        "api.core.v1.Probe" => &[
            "initialDelaySeconds",
            "timeoutSeconds",
            "periodSeconds",
            "successThreshold",
            "failureThreshold",
        ],
        "api.core.v1.SELinuxOptions" => &["user", "role", "type", "level"],
        "api.core.v1.PodDNSConfigOption" => &["name"],
        "api.core.v1.ResourceClaim" => &["request"],
        "api.core.v1.ConfigMapEnvSource" => &["name"],
        "api.core.v1.SecretEnvSource" => &["name"],
        "api.core.v1.HTTPGetAction" => &["path", "host", "scheme"],
        "api.core.v1.TCPSocketAction" => &["host"],
        "api.core.v1.ObjectFieldSelector" => &["apiVersion"],
        "api.core.v1.ResourceFieldSelector" => &["containerName"],
        "api.core.v1.SecretProjection" => &["name"],
        "api.core.v1.ConfigMapProjection" => &["name"],
        "api.core.v1.ServiceAccountTokenProjection" => &["audience"],
        "api.core.v1.PersistentVolumeClaimSpec" => &["volumeName"],
        "api.core.v1.ConfigMapKeySelector" => &["name"],
        "api.core.v1.SecretKeySelector" => &["name"],
        "api.batch.v1.JobStatus" => &["active", "succeeded", "failed", "completedIndexes"],
        "api.batch.v1.JobCondition" => &["reason", "message"],
        "api.core.v1.PodStatus" => &[
            "observedGeneration",
            "phase",
            "message",
            "reason",
            "nominatedNodeName",
            "hostIP",
            "podIP",
            "qosClass",
            "resize",
        ],
        "api.core.v1.PodCondition" => &["observedGeneration", "reason", "message"],
        "api.core.v1.ContainerStatus" => &["containerID"],
        "api.core.v1.VolumeMountStatus" => &["readOnly"],
        "api.core.v1.ContainerStateWaiting" => &["reason", "message"],
        "api.core.v1.ContainerStateTerminated" => &["signal", "reason", "message", "containerID"],
        _ => return None,
    };
    Some(fields)
}

/// Whether an empty list or map in field `field` of Go type `component` stays: the few
/// collections without `omitempty` (every other one is left out when empty). Only Go types
/// (`io.k8s.*`) are touched at all.
pub fn keeps_empty(component: &str, field: &str) -> bool {
    let Some(name) = component.strip_prefix("io.k8s.") else {
        return true;
    };
    matches!(
        (name, field),
        ("api.core.v1.PodSpec", "containers")
            | ("api.core.v1.NodeSelector", "nodeSelectorTerms")
            | ("api.core.v1.ProjectedVolumeSource", "sources")
            | ("api.core.v1.RBDVolumeSource", "monitors")
            | ("api.core.v1.CephFSVolumeSource", "monitors")
            | ("api.batch.v1.PodFailurePolicy", "rules")
            | ("api.batch.v1.SuccessPolicy", "rules")
            | (
                "api.batch.v1.PodFailurePolicyOnExitCodesRequirement",
                "values"
            )
    )
}
