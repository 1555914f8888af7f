//! `runlet.dev/v1` `PodRecord`: what runlet keeps of each pod a Job ran, after the pod is gone.
//!
//! The records controller (runlet-controllers `records`) writes one per pod once it finished or
//! was deleted, owned by the Job, so records go with their Job. The type gives the kind its
//! OpenAPI schema (`kubectl explain podrecords`, client-side validation) and its decoding
//! ([`crate::codec`] reports and prunes unknown fields as for built-in kinds). Field names
//! follow Kubernetes conventions; the pod's logs stay readable through the `log` subresource.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use serde::{Deserialize, Serialize};

/// The `batch/v1` Job that controls the object with `meta`, if any: the pods that get a
/// PodRecord (the records controller) and whose logs may outlive them (the agent's log
/// retention).
pub fn controlling_job(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true) && r.kind == "Job" && r.api_version == "batch/v1")
}

/// PodRecord is what runlet keeps of one pod a Job ran: its identity, where and when it ran and
/// how it ended. Records are written by the records controller when the pod finishes or is
/// deleted, are owned by the Job and deleted with it; the pod's container logs stay readable
/// through the record's `log` subresource until then.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "dev.runlet.v1.PodRecord")]
pub struct PodRecord {
    /// APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Standard object's metadata. The record has the pod's name and namespace, the Job's
    /// `batch.kubernetes.io/job-name`, `batch.kubernetes.io/controller-uid` and
    /// `batch.kubernetes.io/job-completion-index` labels, and the Job as owner.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The name of the Job that ran the pod.
    #[serde(default)]
    pub job_name: String,
    /// The name of the pod.
    #[serde(default)]
    pub pod_name: String,
    /// The UID of the pod.
    #[serde(rename = "podUID", default, skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
    /// The pod's completion index (Indexed Jobs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_index: Option<i64>,
    /// The node the pod ran on; its agent keeps the pod's logs while the record exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// The names of the pod's containers, whose logs the `log` subresource serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containers: Option<Vec<String>>,
    /// The names of the pod's init containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_containers: Option<Vec<String>>,
    /// When the pod was started on its node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// When the pod's last container ended (or the pod was deleted, if none ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_time: Option<Time>,
    /// The pod's last phase: Succeeded, Failed, or the phase it had when it was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// The exit code of the pod's first container that failed, else of its first container
    /// that ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// A brief CamelCase reason the pod ended (the deciding container's, else the pod's;
    /// `Deleted` for a pod deleted before it finished).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A human-readable message on how the pod ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_record_round_trips_with_the_controllers_field_names() {
        let v = json!({
            "apiVersion": "runlet.dev/v1", "kind": "PodRecord",
            "metadata": {"name": "pi-0-abcde", "namespace": "default"},
            "jobName": "pi", "podName": "pi-0-abcde", "podUID": "u1", "completionIndex": 0,
            "nodeName": "n1", "containers": ["c"], "startTime": "2026-01-01T00:00:00Z",
            "finishTime": "2026-01-01T00:00:05Z", "phase": "Failed", "exitCode": 3,
            "reason": "Error",
        });
        let rec: PodRecord = serde_json::from_value(v.clone()).expect("decodes");
        assert_eq!(rec.pod_uid.as_deref(), Some("u1"));
        assert_eq!(serde_json::to_value(&rec).expect("encodes"), v);
    }
}
