//! Which kinds a protobuf body may hold, and the `k8s-pb` and `k8s-openapi` types of each.
//!
//! The table is the resources runlet serves (`crate::resources::RESOURCES`); a test keeps the
//! two in step.

use prost::Message;

use super::ProtobufError;
use super::convert::Convert;

/// Decodes `raw` as the `k8s-pb` message `P` and converts it into the `k8s-openapi` type `A`.
fn typed<P, A>(message: &'static str, raw: &[u8]) -> Result<serde_json::Value, ProtobufError>
where
    P: Message + Default + Convert<A>,
    A: serde::Serialize,
{
    let decoded = P::decode(raw).map_err(|source| ProtobufError::Decode { message, source })?;
    Ok(serde_json::to_value(decoded.convert()?)?)
}

/// The JSON of one object from its envelope's kind and `raw` bytes.
pub(super) fn object_json(
    api_version: &str,
    kind: &str,
    raw: &[u8],
) -> Result<serde_json::Value, ProtobufError> {
    use k8s_openapi::api as a;
    use k8s_pb::api as p;
    // Every group version decodes DeleteOptions (upstream registers it in each).
    if kind == "DeleteOptions" {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
        use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta_pb;
        return typed::<meta_pb::DeleteOptions, meta::DeleteOptions>("DeleteOptions", raw);
    }
    macro_rules! kinds {
        ($(($v:literal, $k:literal) => $($t:ident)::+),* $(,)?) => {
            match (api_version, kind) {
                $(($v, $k) => typed::<p::$($t)::+, a::$($t)::+>($k, raw),)*
                _ => Err(ProtobufError::UnknownKind {
                    api_version: api_version.to_owned(),
                    kind: kind.to_owned(),
                }),
            }
        };
    }
    let mut json = kinds! {
        ("v1", "Namespace") => core::v1::Namespace,
        ("v1", "Node") => core::v1::Node,
        ("v1", "Pod") => core::v1::Pod,
        ("v1", "Event") => core::v1::Event,
        ("v1", "ConfigMap") => core::v1::ConfigMap,
        ("v1", "Secret") => core::v1::Secret,
        ("v1", "ServiceAccount") => core::v1::ServiceAccount,
        ("v1", "PersistentVolumeClaim") => core::v1::PersistentVolumeClaim,
        ("v1", "PersistentVolume") => core::v1::PersistentVolume,
        ("events.k8s.io/v1", "Event") => events::v1::Event,
        ("coordination.k8s.io/v1", "Lease") => coordination::v1::Lease,
        ("storage.k8s.io/v1", "StorageClass") => storage::v1::StorageClass,
        ("batch/v1", "Job") => batch::v1::Job,
        ("batch/v1", "CronJob") => batch::v1::CronJob,
        ("policy/v1", "Eviction") => policy::v1::Eviction,
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => authorization::v1::SelfSubjectAccessReview,
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => authorization::v1::SelfSubjectRulesReview,
        ("authentication.k8s.io/v1", "TokenRequest") => authentication::v1::TokenRequest,
    }?;
    // k8s-openapi writes both already; set them anyway so the envelope is the only source.
    if let Some(object) = json.as_object_mut() {
        object.insert("apiVersion".to_owned(), api_version.into());
        object.insert("kind".to_owned(), kind.into());
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{body, body_raw, decoded, go_meta, s};
    use k8s_pb::api::batch::v1 as batch_pb;
    use k8s_pb::api::core::v1 as core_pb;
    use k8s_pb::apimachinery::pkg::api::resource::Quantity;
    use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta_pb;
    use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
    use prost::Message;
    use serde_json::json;

    #[test]
    fn job_with_pod_template_decodes_every_shape() {
        let container = core_pb::Container {
            name: s("main"),
            image: s("busybox"),
            command: vec!["sh".into(), "-c".into(), "sleep 1".into()],
            // Non-pointer omitempty fields, zero: left out like JSON does.
            working_dir: s(""),
            termination_message_path: s(""),
            stdin: Some(false),
            env: vec![core_pb::EnvVar {
                name: s("FROM_CM"),
                value: s(""),
                value_from: Some(core_pb::EnvVarSource {
                    config_map_key_ref: Some(core_pb::ConfigMapKeySelector {
                        local_object_reference: Some(core_pb::LocalObjectReference {
                            name: s("settings"),
                        }),
                        key: s("level"),
                        optional: Some(false),
                    }),
                    ..Default::default()
                }),
            }],
            resources: Some(core_pb::ResourceRequirements {
                limits: [("memory".to_owned(), Quantity { string: s("64Mi") })].into(),
                requests: [("cpu".to_owned(), Quantity { string: s("100m") })].into(),
                ..Default::default()
            }),
            ports: vec![core_pb::ContainerPort {
                name: s("http"),
                container_port: Some(8080),
                host_port: Some(0),
                protocol: s("TCP"),
                host_ip: s(""),
            }],
            readiness_probe: Some(core_pb::Probe {
                handler: Some(core_pb::ProbeHandler {
                    http_get: Some(core_pb::HttpGetAction {
                        path: s("/healthz"),
                        port: Some(IntOrString {
                            r#type: Some(1),
                            int_val: Some(0),
                            str_val: s("http"),
                        }),
                        host: s(""),
                        scheme: s(""),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                initial_delay_seconds: Some(0),
                period_seconds: Some(5),
                ..Default::default()
            }),
            ..Default::default()
        };
        let job = batch_pb::Job {
            metadata: Some(meta_pb::ObjectMeta {
                namespace: s("default"),
                labels: [("app".to_owned(), "demo".to_owned())].into(),
                ..go_meta("demo")
            }),
            spec: Some(batch_pb::JobSpec {
                // Pointer fields: a zero is meant and kept.
                backoff_limit: Some(0),
                ttl_seconds_after_finished: Some(0),
                completions: Some(3),
                template: Some(core_pb::PodTemplateSpec {
                    metadata: Some(go_meta("")),
                    spec: Some(core_pb::PodSpec {
                        restart_policy: s("Never"),
                        host_network: Some(false),
                        containers: vec![container],
                        volumes: vec![core_pb::Volume {
                            name: s("cfg"),
                            volume_source: Some(core_pb::VolumeSource {
                                config_map: Some(core_pb::ConfigMapVolumeSource {
                                    local_object_reference: Some(core_pb::LocalObjectReference {
                                        name: s("settings"),
                                    }),
                                    default_mode: Some(0o644),
                                    ..Default::default()
                                }),
                                ..Default::default()
                            }),
                        }],
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            }),
            status: Some(batch_pb::JobStatus {
                active: Some(0),
                start_time: Some(meta_pb::Time {
                    seconds: Some(1_700_000_000),
                    nanos: Some(5),
                }),
                ..Default::default()
            }),
        };
        let expected = json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "demo", "namespace": "default", "labels": {"app": "demo"}},
            "spec": {
                "backoffLimit": 0,
                "completions": 3,
                "ttlSecondsAfterFinished": 0,
                "template": {"metadata": {}, "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "main",
                        "image": "busybox",
                        "command": ["sh", "-c", "sleep 1"],
                        "env": [{"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {
                            "name": "settings", "key": "level", "optional": false
                        }}}],
                        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                        "readinessProbe": {
                            "httpGet": {"path": "/healthz", "port": "http"},
                            "periodSeconds": 5
                        },
                        "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "100m"}}
                    }],
                    "volumes": [{"name": "cfg", "configMap": {"name": "settings", "defaultMode": 420}}]
                }}
            },
            "status": {"startTime": "2023-11-14T22:13:20Z"}
        });
        assert_eq!(decoded("job", &body("batch/v1", "Job", &job)), expected);
    }

    #[test]
    fn configmap_secret_and_namespace_built_with_prost_decode() {
        let configmap = core_pb::ConfigMap {
            metadata: Some(go_meta("cm")),
            data: [
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), String::new()),
            ]
            .into(),
            immutable: Some(true),
            ..Default::default()
        };
        assert_eq!(
            decoded("configmap", &body("v1", "ConfigMap", &configmap)),
            json!({
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"},
                "data": {"a": "1", "b": ""}, "immutable": true
            })
        );
        let secret = core_pb::Secret {
            metadata: Some(go_meta("tls")),
            data: [("tls.key".to_owned(), b"\x00secret\xff".to_vec())].into(),
            string_data: [("note".to_owned(), "plain".to_owned())].into(),
            r#type: s("kubernetes.io/tls"),
            immutable: None,
        };
        assert_eq!(
            decoded("secret", &body("v1", "Secret", &secret)),
            json!({
                "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls"},
                "data": {"tls.key": "AHNlY3JldP8="}, "stringData": {"note": "plain"},
                "type": "kubernetes.io/tls"
            })
        );
        let untyped = core_pb::Secret {
            r#type: s(""),
            ..secret
        };
        assert!(
            decoded("secret", &body("v1", "Secret", &untyped))
                .get("type")
                .is_none()
        );
        let namespace = core_pb::Namespace {
            metadata: Some(go_meta("team-a")),
            spec: Some(core_pb::NamespaceSpec {
                finalizers: vec!["kubernetes".into()],
            }),
            status: Some(core_pb::NamespaceStatus {
                phase: s(""),
                conditions: vec![],
            }),
        };
        assert_eq!(
            decoded("namespace", &body("v1", "Namespace", &namespace)),
            json!({
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"},
                "spec": {"finalizers": ["kubernetes"]}, "status": {}
            })
        );
    }

    #[test]
    fn lease_and_events_keep_microsecond_times() {
        use k8s_pb::api::coordination::v1 as coordination_pb;
        use k8s_pb::api::events::v1 as events_pb;
        let micro = |seconds| meta_pb::MicroTime {
            seconds: Some(seconds),
            nanos: Some(123_456_000),
        };
        let lease = coordination_pb::Lease {
            metadata: Some(go_meta("node-a")),
            spec: Some(coordination_pb::LeaseSpec {
                holder_identity: s("node-a"),
                lease_duration_seconds: Some(40),
                renew_time: Some(micro(1_700_000_000)),
                ..Default::default()
            }),
        };
        assert_eq!(
            decoded("lease", &body("coordination.k8s.io/v1", "Lease", &lease)),
            json!({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": "node-a"},
                "spec": {
                    "holderIdentity": "node-a", "leaseDurationSeconds": 40,
                    "renewTime": "2023-11-14T22:13:20.123456Z"
                }
            })
        );
        let event = events_pb::Event {
            metadata: Some(go_meta("pi.1")),
            event_time: Some(micro(1_700_000_000)),
            reporting_controller: s("runlet/job-controller"),
            reporting_instance: s(""),
            action: s("Create"),
            reason: s("SuccessfulCreate"),
            r#type: s("Normal"),
            regarding: Some(core_pb::ObjectReference {
                kind: s("Job"),
                name: s("pi"),
                namespace: s("default"),
                api_version: s("batch/v1"),
                uid: s(""),
                resource_version: s(""),
                field_path: s(""),
            }),
            deprecated_first_timestamp: Some(meta_pb::Time::default()),
            deprecated_count: Some(0),
            ..Default::default()
        };
        assert_eq!(
            decoded("event", &body("events.k8s.io/v1", "Event", &event)),
            json!({
                "apiVersion": "events.k8s.io/v1", "kind": "Event",
                "metadata": {"name": "pi.1"},
                "eventTime": "2023-11-14T22:13:20.123456Z",
                "reportingController": "runlet/job-controller",
                "action": "Create", "reason": "SuccessfulCreate", "type": "Normal",
                "regarding": {
                    "apiVersion": "batch/v1", "kind": "Job", "name": "pi", "namespace": "default"
                }
            })
        );
        let core_event = core_pb::Event {
            metadata: Some(go_meta("pi.2")),
            involved_object: Some(core_pb::ObjectReference {
                name: s("pi"),
                ..Default::default()
            }),
            count: Some(2),
            first_timestamp: Some(meta_pb::Time {
                seconds: Some(1_700_000_000),
                nanos: None,
            }),
            last_timestamp: Some(meta_pb::Time::default()),
            event_time: Some(meta_pb::MicroTime::default()),
            ..Default::default()
        };
        assert_eq!(
            decoded("core event", &body("v1", "Event", &core_event)),
            json!({
                "apiVersion": "v1", "kind": "Event", "metadata": {"name": "pi.2"},
                "involvedObject": {"name": "pi"}, "count": 2,
                "firstTimestamp": "2023-11-14T22:13:20Z"
            })
        );
    }

    #[test]
    fn storage_and_node_flatten_embedded_and_renamed_fields() {
        let pvc = core_pb::PersistentVolumeClaim {
            metadata: Some(go_meta("data")),
            spec: Some(core_pb::PersistentVolumeClaimSpec {
                access_modes: vec!["ReadWriteOnce".into()],
                // A pointer: "" means "no class", unlike an absent one.
                storage_class_name: s(""),
                volume_name: s(""),
                resources: Some(core_pb::VolumeResourceRequirements {
                    requests: [("storage".to_owned(), Quantity { string: s("1Gi") })].into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            status: None,
        };
        assert_eq!(
            decoded("pvc", &body("v1", "PersistentVolumeClaim", &pvc)),
            json!({
                "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                    "resources": {"requests": {"storage": "1Gi"}}
                }
            })
        );
        let pv = core_pb::PersistentVolume {
            metadata: Some(go_meta("pv-1")),
            spec: Some(core_pb::PersistentVolumeSpec {
                capacity: [("storage".to_owned(), Quantity { string: s("1Gi") })].into(),
                persistent_volume_source: Some(core_pb::PersistentVolumeSource {
                    host_path: Some(core_pb::HostPathVolumeSource {
                        path: s("/srv/pv-1"),
                        r#type: s("DirectoryOrCreate"),
                    }),
                    ..Default::default()
                }),
                storage_class_name: s(""),
                persistent_volume_reclaim_policy: s("Retain"),
                ..Default::default()
            }),
            status: None,
        };
        assert_eq!(
            decoded("pv", &body("v1", "PersistentVolume", &pv)),
            json!({
                "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-1"},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "hostPath": {"path": "/srv/pv-1", "type": "DirectoryOrCreate"},
                    "persistentVolumeReclaimPolicy": "Retain"
                }
            })
        );
        let node = core_pb::Node {
            metadata: Some(go_meta("node-a")),
            spec: Some(core_pb::NodeSpec {
                pod_cidr: s("10.0.0.0/24"),
                pod_cid_rs: vec!["10.0.0.0/24".into()],
                unschedulable: Some(false),
                taints: vec![core_pb::Taint {
                    key: s("dedicated"),
                    value: s(""),
                    effect: s("NoSchedule"),
                    time_added: None,
                }],
                ..Default::default()
            }),
            status: Some(core_pb::NodeStatus {
                capacity: [("cpu".to_owned(), Quantity { string: s("2") })].into(),
                addresses: vec![core_pb::NodeAddress {
                    r#type: s("InternalIP"),
                    address: s("127.0.0.1"),
                }],
                ..Default::default()
            }),
        };
        assert_eq!(
            decoded("node", &body("v1", "Node", &node)),
            json!({
                "apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a"},
                "spec": {
                    "podCIDR": "10.0.0.0/24", "podCIDRs": ["10.0.0.0/24"],
                    "taints": [{"key": "dedicated", "effect": "NoSchedule"}]
                },
                "status": {
                    "capacity": {"cpu": "2"},
                    "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]
                }
            })
        );
    }

    #[test]
    fn pod_decodes_with_status() {
        let pod = core_pb::Pod {
            metadata: Some(go_meta("pi-abcde")),
            spec: Some(core_pb::PodSpec {
                containers: vec![core_pb::Container {
                    name: s("pi"),
                    ..Default::default()
                }],
                node_name: s("node-a"),
                ..Default::default()
            }),
            status: Some(core_pb::PodStatus {
                phase: s("Running"),
                pod_ip: s(""),
                container_statuses: vec![core_pb::ContainerStatus {
                    name: s("pi"),
                    ready: Some(false),
                    restart_count: Some(0),
                    image: s("busybox"),
                    image_id: s(""),
                    state: Some(core_pb::ContainerState {
                        terminated: Some(core_pb::ContainerStateTerminated {
                            exit_code: Some(1),
                            reason: s("Error"),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        };
        assert_eq!(
            decoded("pod", &body("v1", "Pod", &pod)),
            json!({
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pi-abcde"},
                "spec": {"containers": [{"name": "pi"}], "nodeName": "node-a"},
                "status": {
                    "phase": "Running",
                    "containerStatuses": [{
                        "name": "pi", "ready": false, "restartCount": 0,
                        "image": "busybox", "imageID": "",
                        "state": {"terminated": {"exitCode": 1, "reason": "Error"}}
                    }]
                }
            })
        );
    }

    #[test]
    fn an_eviction_and_delete_options_decode_as_kubectl_drain_sends_them() {
        let options = meta_pb::DeleteOptions {
            grace_period_seconds: Some(0),
            preconditions: Some(meta_pb::Preconditions {
                uid: s("u-1"),
                resource_version: None,
            }),
            dry_run: vec!["All".into()],
            ..Default::default()
        };
        let eviction = k8s_pb::api::policy::v1::Eviction {
            metadata: Some(meta_pb::ObjectMeta {
                namespace: s("default"),
                ..go_meta("p")
            }),
            delete_options: Some(options.clone()),
        };
        let json = decoded("Eviction", &body("policy/v1", "Eviction", &eviction));
        assert_eq!(json["kind"], "Eviction");
        assert_eq!(json["metadata"]["name"], "p");
        assert_eq!(
            json["deleteOptions"],
            json!({"gracePeriodSeconds": 0, "preconditions": {"uid": "u-1"}, "dryRun": ["All"]})
        );
        // Any group version: kubectl wrote `v1` for pods, `batch/v1` for Jobs.
        for api_version in ["v1", "batch/v1"] {
            let json = decoded(
                "DeleteOptions",
                &body(api_version, "DeleteOptions", &options),
            );
            assert_eq!(json["gracePeriodSeconds"], 0, "{api_version}");
        }
    }

    #[test]
    fn every_served_kind_decodes() {
        // runlet.dev kinds have no protobuf form: clients send them as JSON, as for CRDs.
        for resource in crate::resources::RESOURCES
            .iter()
            .filter(|r| r.group != "runlet.dev")
        {
            let (api_version, kind) = (resource.api_version(), resource.kind);
            let raw = if kind == "Event" && api_version == "events.k8s.io/v1" {
                // eventTime is required there.
                k8s_pb::api::events::v1::Event {
                    event_time: Some(meta_pb::MicroTime {
                        seconds: Some(1),
                        nanos: None,
                    }),
                    ..Default::default()
                }
                .encode_to_vec()
            } else {
                Vec::new()
            };
            let bytes = body_raw(&api_version, kind, raw);
            let json = decoded(kind, &bytes);
            assert_eq!(json["apiVersion"], api_version.as_str());
            assert_eq!(json["kind"], kind);
        }
    }
}
