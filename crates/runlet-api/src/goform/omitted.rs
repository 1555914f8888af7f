//! The fields whose zero value upstream's Go types leave out when they encode an object: the
//! non-pointer `bool`, `string` and integer fields tagged `omitempty`, per Go type (named as the
//! OpenAPI components are), and which collection fields have no `omitempty`. Read from
//! upstream's `k8s.io/api/core/v1/types.go`, `k8s.io/api/batch/v1/types.go` and
//! `k8s.io/apimachinery/pkg/apis/meta/v1/types.go` (v0.33, which have no `omitzero`).

use std::collections::HashMap;
use std::sync::LazyLock;

/// The zero-omitted scalar fields of the Go type `component`, if it has any: looked up in a
/// map built once, since every object of every write asks.
pub fn zero_omitted(component: &str) -> Option<&'static [&'static str]> {
    static BY_COMPONENT: LazyLock<HashMap<&'static str, &'static [&'static str]>> =
        LazyLock::new(|| ZERO_OMITTED.iter().copied().collect());
    BY_COMPONENT.get(component).copied()
}

/// The non-pointer struct fields of the Go type `component` that Go encodes even when they
/// are zero (`omitempty` leaves no struct out): a `metav1.Time` as `null`, another struct as
/// `{}`. An absent one is put in as upstream stores it: every pod condition has its
/// `lastProbeTime: null`.
pub fn always_encoded(component: &str) -> &'static [(&'static str, ZeroStruct)] {
    use ZeroStruct::{Empty, NullTime};
    match component {
        "io.k8s.api.core.v1.PodCondition"
        | "io.k8s.api.batch.v1.JobCondition"
        | "io.k8s.api.core.v1.PersistentVolumeClaimCondition" => &[
            ("lastProbeTime", NullTime),
            ("lastTransitionTime", NullTime),
        ],
        "io.k8s.api.core.v1.NodeCondition" => &[
            ("lastHeartbeatTime", NullTime),
            ("lastTransitionTime", NullTime),
        ],
        "io.k8s.api.core.v1.NamespaceCondition" => &[("lastTransitionTime", NullTime)],
        "io.k8s.api.core.v1.ContainerStateRunning" => &[("startedAt", NullTime)],
        "io.k8s.api.core.v1.ContainerStateTerminated" => {
            &[("startedAt", NullTime), ("finishedAt", NullTime)]
        }
        "io.k8s.api.core.v1.Event" => &[
            ("source", Empty),
            ("firstTimestamp", NullTime),
            ("lastTimestamp", NullTime),
            ("eventTime", NullTime),
        ],
        "io.k8s.api.events.v1.Event" => &[
            ("deprecatedSource", Empty),
            ("deprecatedFirstTimestamp", NullTime),
            ("deprecatedLastTimestamp", NullTime),
        ],
        _ => &[],
    }
}

/// How Go encodes a zero struct.
#[derive(Debug, Clone, Copy)]
pub enum ZeroStruct {
    /// A `metav1.Time` or `MicroTime`, whose zero encodes as `null`.
    NullTime,
    /// Any other struct: `{}`.
    Empty,
}

/// Per Go type (as its OpenAPI component is named), its zero-omitted scalar fields.
static ZERO_OMITTED: &[(&str, &[&str])] = &[
    // Events: core/v1's `reportingComponent` and `reportingInstance` have no `omitempty`.
    (
        "io.k8s.api.core.v1.Event",
        &["reason", "message", "count", "type", "action"],
    ),
    ("io.k8s.api.core.v1.EventSource", &["component", "host"]),
    ("io.k8s.api.core.v1.EventSeries", &["count"]),
    (
        "io.k8s.api.core.v1.ObjectReference",
        &[
            "kind",
            "namespace",
            "name",
            "uid",
            "apiVersion",
            "resourceVersion",
            "fieldPath",
        ],
    ),
    (
        "io.k8s.api.events.v1.Event",
        &[
            "reportingController",
            "reportingInstance",
            "action",
            "reason",
            "note",
            "type",
            "deprecatedCount",
        ],
    ),
    ("io.k8s.api.batch.v1.CronJobSpec", &["concurrencyPolicy"]),
    ("io.k8s.api.core.v1.Taint", &["value"]),
    (
        "io.k8s.api.core.v1.NodeSpec",
        &["podCIDR", "providerID", "unschedulable", "externalID"],
    ),
    ("io.k8s.api.core.v1.NodeStatus", &["phase"]),
    ("io.k8s.api.core.v1.NodeCondition", &["reason", "message"]),
    ("io.k8s.api.core.v1.NamespaceStatus", &["phase"]),
    (
        "io.k8s.api.core.v1.NamespaceCondition",
        &["reason", "message"],
    ),
    ("io.k8s.api.core.v1.PersistentVolumeClaimStatus", &["phase"]),
    (
        "io.k8s.api.core.v1.PersistentVolumeClaimCondition",
        &["reason", "message"],
    ),
    (
        "io.k8s.api.core.v1.PersistentVolumeStatus",
        &["phase", "message", "reason"],
    ),
    ("io.k8s.api.core.v1.Secret", &["type"]),
    (
        "io.k8s.api.core.v1.PodSpec",
        &[
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
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        &[
            "name",
            "generateName",
            "namespace",
            "selfLink",
            "uid",
            "resourceVersion",
            "generation",
        ],
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry",
        &[
            "manager",
            "operation",
            "apiVersion",
            "fieldsType",
            "subresource",
        ],
    ),
    (
        "io.k8s.api.core.v1.Container",
        &[
            "image",
            "workingDir",
            "terminationMessagePath",
            "terminationMessagePolicy",
            "imagePullPolicy",
            "stdin",
            "stdinOnce",
            "tty",
        ],
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        &[
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
    ),
    ("io.k8s.api.core.v1.LocalObjectReference", &["name"]),
    (
        "io.k8s.api.core.v1.Toleration",
        &["key", "operator", "value", "effect"],
    ),
    ("io.k8s.api.core.v1.EmptyDirVolumeSource", &["medium"]),
    (
        "io.k8s.api.core.v1.GCEPersistentDiskVolumeSource",
        &["fsType", "partition", "readOnly"],
    ),
    (
        "io.k8s.api.core.v1.AWSElasticBlockStoreVolumeSource",
        &["fsType", "partition", "readOnly"],
    ),
    (
        "io.k8s.api.core.v1.GitRepoVolumeSource",
        &["revision", "directory"],
    ),
    ("io.k8s.api.core.v1.SecretVolumeSource", &["secretName"]),
    ("io.k8s.api.core.v1.NFSVolumeSource", &["readOnly"]),
    (
        "io.k8s.api.core.v1.ISCSIVolumeSource",
        &[
            "iscsiInterface",
            "fsType",
            "readOnly",
            "chapAuthDiscovery",
            "chapAuthSession",
        ],
    ),
    ("io.k8s.api.core.v1.GlusterfsVolumeSource", &["readOnly"]),
    (
        "io.k8s.api.core.v1.PersistentVolumeClaimVolumeSource",
        &["readOnly"],
    ),
    (
        "io.k8s.api.core.v1.RBDVolumeSource",
        &["fsType", "pool", "user", "keyring", "readOnly"],
    ),
    (
        "io.k8s.api.core.v1.FlexVolumeSource",
        &["fsType", "readOnly"],
    ),
    (
        "io.k8s.api.core.v1.CinderVolumeSource",
        &["fsType", "readOnly"],
    ),
    (
        "io.k8s.api.core.v1.CephFSVolumeSource",
        &["path", "user", "secretFile", "readOnly"],
    ),
    (
        "io.k8s.api.core.v1.FlockerVolumeSource",
        &["datasetName", "datasetUUID"],
    ),
    ("io.k8s.api.core.v1.FCVolumeSource", &["fsType", "readOnly"]),
    ("io.k8s.api.core.v1.AzureFileVolumeSource", &["readOnly"]),
    ("io.k8s.api.core.v1.ConfigMapVolumeSource", &["name"]),
    (
        "io.k8s.api.core.v1.QuobyteVolumeSource",
        &["readOnly", "user", "group", "tenant"],
    ),
    (
        "io.k8s.api.core.v1.PhotonPersistentDiskVolumeSource",
        &["fsType"],
    ),
    (
        "io.k8s.api.core.v1.PortworxVolumeSource",
        &["fsType", "readOnly"],
    ),
    (
        "io.k8s.api.core.v1.ScaleIOVolumeSource",
        &[
            "sslEnabled",
            "protectionDomain",
            "storagePool",
            "storageMode",
            "volumeName",
            "fsType",
            "readOnly",
        ],
    ),
    (
        "io.k8s.api.core.v1.ImageVolumeSource",
        &["reference", "pullPolicy"],
    ),
    (
        "io.k8s.api.core.v1.ContainerPort",
        &["name", "hostPort", "protocol", "hostIP"],
    ),
    ("io.k8s.api.core.v1.EnvFromSource", &["prefix"]),
    ("io.k8s.api.core.v1.EnvVar", &["value"]),
    (
        "io.k8s.api.core.v1.VolumeMount",
        &["readOnly", "subPath", "subPathExpr"],
    ),
    (
        "io.k8s.api.core.v1.Probe",
        &[
            "initialDelaySeconds",
            "timeoutSeconds",
            "periodSeconds",
            "successThreshold",
            "failureThreshold",
        ],
    ),
    (
        "io.k8s.api.core.v1.SELinuxOptions",
        &["user", "role", "type", "level"],
    ),
    ("io.k8s.api.core.v1.PodDNSConfigOption", &["name"]),
    ("io.k8s.api.core.v1.ResourceClaim", &["request"]),
    ("io.k8s.api.core.v1.ConfigMapEnvSource", &["name"]),
    ("io.k8s.api.core.v1.SecretEnvSource", &["name"]),
    (
        "io.k8s.api.core.v1.HTTPGetAction",
        &["path", "host", "scheme"],
    ),
    ("io.k8s.api.core.v1.TCPSocketAction", &["host"]),
    ("io.k8s.api.core.v1.ObjectFieldSelector", &["apiVersion"]),
    (
        "io.k8s.api.core.v1.ResourceFieldSelector",
        &["containerName"],
    ),
    ("io.k8s.api.core.v1.SecretProjection", &["name"]),
    ("io.k8s.api.core.v1.ConfigMapProjection", &["name"]),
    (
        "io.k8s.api.core.v1.ServiceAccountTokenProjection",
        &["audience"],
    ),
    (
        "io.k8s.api.core.v1.PersistentVolumeClaimSpec",
        &["volumeName"],
    ),
    ("io.k8s.api.core.v1.ConfigMapKeySelector", &["name"]),
    ("io.k8s.api.core.v1.SecretKeySelector", &["name"]),
    (
        "io.k8s.api.batch.v1.JobStatus",
        &["active", "succeeded", "failed", "completedIndexes"],
    ),
    ("io.k8s.api.batch.v1.JobCondition", &["reason", "message"]),
    (
        "io.k8s.api.core.v1.PodStatus",
        &[
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
    ),
    (
        "io.k8s.api.core.v1.PodCondition",
        &["observedGeneration", "reason", "message"],
    ),
    ("io.k8s.api.core.v1.ContainerStatus", &["containerID"]),
    ("io.k8s.api.core.v1.VolumeMountStatus", &["readOnly"]),
    (
        "io.k8s.api.core.v1.ContainerStateWaiting",
        &["reason", "message"],
    ),
    (
        "io.k8s.api.core.v1.ContainerStateTerminated",
        &["signal", "reason", "message", "containerID"],
    ),
];

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
