//! The patch metadata of every kind runlet serves: which lists merge, and by which key.
//!
//! Upstream reads the `patchStrategy` and `patchMergeKey` Go struct tags by reflection. Rust has
//! no such tags, so this module is a compact static copy of them: one [`Schema`] tree per kind,
//! naming only the fields on the way to a tagged field. A field not named in a schema has no
//! strategy, which is what upstream does for an untagged field: maps merge recursively and lists
//! are replaced whole. The tags were read from `k8s.io/api/core/v1/types.go`,
//! `k8s.io/api/batch/v1/types.go` and `k8s.io/apimachinery/pkg/apis/meta/v1/types.go` (types of
//! Kubernetes 1.33, the version runlet decodes into).
//!
//! Lists that are atomic upstream (tolerations, node taints, `containerStatuses`, the Job's
//! `podFailurePolicy.rules`, the CronJob's `status.active`) carry no tag, so they are absent here
//! and a patch replaces them, as it does upstream.

use crate::resources::ResourceInfo;

/// The `patchStrategy` of a field, less `retainKeys` (kept in [`Field::retain_keys`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// No tag: maps merge recursively, lists are replaced by the patch's list.
    Default,
    /// `patchStrategy:"merge"`: lists merge (by [`Field::merge_key`] for lists of objects, as a
    /// set union for lists of primitives).
    Merge,
    /// `patchStrategy:"replace"`: the patch's value replaces the field whole.
    Replace,
}

/// The patch metadata of one field of a Go struct, by its JSON name.
#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub strategy: Strategy,
    /// `patchMergeKey`: the key identifying an element of a list of objects.
    pub merge_key: Option<&'static str>,
    /// Whether the strategy also lists `retainKeys`. Only patch generation uses it upstream: the
    /// server honours a `$retainKeys` directive wherever it appears.
    pub retain_keys: bool,
    /// The schema of the field's value (of each element, for a list), when it has tagged fields
    /// below it.
    pub schema: Option<&'static Schema>,
}

/// The patch metadata of one struct type: its fields that are tagged or lead to tagged fields.
#[derive(Debug)]
pub struct Schema {
    /// The Go type name, used in error messages.
    pub name: &'static str,
    pub fields: &'static [Field],
}

/// What a lookup of one field yields: its own metadata and the schema below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchMeta {
    pub strategy: Strategy,
    pub merge_key: Option<&'static str>,
}

impl PatchMeta {
    const NONE: PatchMeta = PatchMeta {
        strategy: Strategy::Default,
        merge_key: None,
    };
}

impl Schema {
    /// The metadata of field `key` and the schema of its value; an unknown field has neither.
    pub fn lookup(
        schema: Option<&'static Schema>,
        key: &str,
    ) -> (Option<&'static Schema>, PatchMeta) {
        match schema.and_then(|s| s.fields.iter().find(|f| f.name == key)) {
            Some(f) => (
                f.schema,
                PatchMeta {
                    strategy: f.strategy,
                    merge_key: f.merge_key,
                },
            ),
            None => (None, PatchMeta::NONE),
        }
    }

    /// The name used in messages for an optional schema.
    pub fn name_of(schema: Option<&'static Schema>) -> &'static str {
        schema.map_or("struct", |s| s.name)
    }
}

/// A field with no strategy of its own that leads to tagged fields.
const fn nested(name: &'static str, schema: &'static Schema) -> Field {
    Field {
        name,
        strategy: Strategy::Default,
        merge_key: None,
        retain_keys: false,
        schema: Some(schema),
    }
}

/// `patchStrategy:"merge" patchMergeKey:"<key>"` on a list of objects.
const fn merge_by(name: &'static str, key: &'static str, schema: Option<&'static Schema>) -> Field {
    Field {
        name,
        strategy: Strategy::Merge,
        merge_key: Some(key),
        retain_keys: false,
        schema,
    }
}

/// `patchStrategy:"merge,retainKeys" patchMergeKey:"<key>"` on a list of objects.
const fn merge_retain_by(
    name: &'static str,
    key: &'static str,
    schema: Option<&'static Schema>,
) -> Field {
    Field {
        name,
        strategy: Strategy::Merge,
        merge_key: Some(key),
        retain_keys: true,
        schema,
    }
}

/// `patchStrategy:"merge"` on a list of primitives: a set union.
const fn merge_primitives(name: &'static str) -> Field {
    Field {
        name,
        strategy: Strategy::Merge,
        merge_key: None,
        retain_keys: false,
        schema: None,
    }
}

/// metav1.ObjectMeta.
static OBJECT_META: Schema = Schema {
    name: "ObjectMeta",
    fields: &[
        merge_by("ownerReferences", "uid", None),
        merge_primitives("finalizers"),
    ],
};

/// A kind whose only tagged fields are in its metadata (ConfigMap, Secret, Event, Lease, PV).
static METADATA_ONLY: Schema = Schema {
    name: "Object",
    fields: &[nested("metadata", &OBJECT_META)],
};

/// core/v1 Container, and EphemeralContainer (whose EphemeralContainerCommon has the same tags).
static CONTAINER: Schema = Schema {
    name: "Container",
    fields: &[
        merge_by("ports", "containerPort", None),
        merge_by("env", "name", None),
        merge_by("volumeMounts", "mountPath", None),
        merge_by("volumeDevices", "devicePath", None),
    ],
};

/// PersistentVolumeClaimTemplate, reached through a Volume's `ephemeral` source.
static PVC_TEMPLATE: Schema = Schema {
    name: "PersistentVolumeClaimTemplate",
    fields: &[nested("metadata", &OBJECT_META)],
};

static EPHEMERAL_VOLUME_SOURCE: Schema = Schema {
    name: "EphemeralVolumeSource",
    fields: &[nested("volumeClaimTemplate", &PVC_TEMPLATE)],
};

/// core/v1 Volume (with its inlined VolumeSource).
static VOLUME: Schema = Schema {
    name: "Volume",
    fields: &[nested("ephemeral", &EPHEMERAL_VOLUME_SOURCE)],
};

static POD_SPEC: Schema = Schema {
    name: "PodSpec",
    fields: &[
        merge_retain_by("volumes", "name", Some(&VOLUME)),
        merge_by("initContainers", "name", Some(&CONTAINER)),
        merge_by("containers", "name", Some(&CONTAINER)),
        merge_by("ephemeralContainers", "name", Some(&CONTAINER)),
        merge_by("imagePullSecrets", "name", None),
        merge_by("hostAliases", "ip", None),
        merge_by("topologySpreadConstraints", "topologyKey", None),
        merge_by("schedulingGates", "name", None),
        merge_retain_by("resourceClaims", "name", None),
    ],
};

static POD_STATUS: Schema = Schema {
    name: "PodStatus",
    fields: &[
        merge_by("conditions", "type", None),
        merge_by("hostIPs", "ip", None),
        merge_by("podIPs", "ip", None),
        merge_retain_by("resourceClaimStatuses", "name", None),
    ],
};

static POD: Schema = Schema {
    name: "Pod",
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("spec", &POD_SPEC),
        nested("status", &POD_STATUS),
    ],
};

static POD_TEMPLATE_SPEC: Schema = Schema {
    name: "PodTemplateSpec",
    fields: &[nested("metadata", &OBJECT_META), nested("spec", &POD_SPEC)],
};

/// batch/v1 JobSpec. `podFailurePolicy.rules` and `successPolicy.rules` are atomic lists.
static JOB_SPEC: Schema = Schema {
    name: "JobSpec",
    fields: &[nested("template", &POD_TEMPLATE_SPEC)],
};

/// Status of Jobs, Namespaces and PersistentVolumeClaims: conditions merge by `type`.
static CONDITIONS_STATUS: Schema = Schema {
    name: "Status",
    fields: &[merge_by("conditions", "type", None)],
};

static JOB: Schema = Schema {
    name: "Job",
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("spec", &JOB_SPEC),
        nested("status", &CONDITIONS_STATUS),
    ],
};

static JOB_TEMPLATE_SPEC: Schema = Schema {
    name: "JobTemplateSpec",
    fields: &[nested("metadata", &OBJECT_META), nested("spec", &JOB_SPEC)],
};

static CRON_JOB_SPEC: Schema = Schema {
    name: "CronJobSpec",
    fields: &[nested("jobTemplate", &JOB_TEMPLATE_SPEC)],
};

static CRON_JOB: Schema = Schema {
    name: "CronJob",
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("spec", &CRON_JOB_SPEC),
    ],
};

/// core/v1 NodeSpec: `podCIDRs` is a merging list of strings; `taints` is atomic.
static NODE_SPEC: Schema = Schema {
    name: "NodeSpec",
    fields: &[merge_primitives("podCIDRs")],
};

static NODE_STATUS: Schema = Schema {
    name: "NodeStatus",
    fields: &[
        merge_by("conditions", "type", None),
        merge_by("addresses", "type", None),
    ],
};

static NODE: Schema = Schema {
    name: "Node",
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("spec", &NODE_SPEC),
        nested("status", &NODE_STATUS),
    ],
};

static NAMESPACE: Schema = Schema {
    name: "Namespace",
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("status", &CONDITIONS_STATUS),
    ],
};

static PERSISTENT_VOLUME_CLAIM: Schema = Schema {
    name: "PersistentVolumeClaim",
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("status", &CONDITIONS_STATUS),
    ],
};

/// core/v1 ServiceAccount: `secrets` merge by name; `imagePullSecrets` is untagged here.
static SERVICE_ACCOUNT: Schema = Schema {
    name: "ServiceAccount",
    fields: &[
        nested("metadata", &OBJECT_META),
        merge_by("secrets", "name", None),
    ],
};

/// The schema of `info`'s kind. Kinds without tagged fields of their own get the one that knows
/// only `metadata`.
pub fn for_kind(info: &ResourceInfo) -> &'static Schema {
    match (info.group, info.kind) {
        ("", "Pod") => &POD,
        ("", "Node") => &NODE,
        ("", "Namespace") => &NAMESPACE,
        ("", "PersistentVolumeClaim") => &PERSISTENT_VOLUME_CLAIM,
        ("", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("batch", "Job") => &JOB,
        ("batch", "CronJob") => &CRON_JOB,
        _ => &METADATA_ONLY,
    }
}

/// upstream's test type `mergeItem` (`strategicpatch/patch_test.go`), to run its cases, and
/// helpers applying patches under it.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::patch::PatchError;
    use crate::patch::strategic::apply_with_schema;
    use serde_json::Value;

    /// Applies `patch` to `original` under [`MERGE_ITEM`].
    pub(crate) fn smp(original: Value, patch: Value) -> Result<Value, PatchError> {
        apply_with_schema(&MERGE_ITEM, &original, &patch)
    }

    /// Applies `patch` to `original` under upstream's test schema and expects `expected`.
    #[track_caller]
    pub(crate) fn check(original: Value, patch: Value, expected: Value) {
        let got = smp(original.clone(), patch.clone()).expect("patch applies");
        assert_eq!(got, expected, "original {original}\npatch {patch}");
    }

    /// Applies `patch` and expects an error whose message contains `needle`.
    #[track_caller]
    pub(crate) fn check_err(original: Value, patch: Value, needle: &str) -> PatchError {
        let err = smp(original, patch.clone()).expect_err("patch refused");
        assert!(err.to_string().contains(needle), "patch {patch}: {err}");
        err
    }

    pub(crate) static MERGE_ITEM: Schema = Schema {
        name: "struct",
        fields: &[
            merge_by("mergingList", "name", Some(&MERGE_ITEM)),
            nested("nonMergingList", &MERGE_ITEM),
            merge_primitives("mergingIntList"),
            merge_by("mergeItemPtr", "name", Some(&MERGE_ITEM)),
            Field {
                name: "replacingItem",
                strategy: Strategy::Replace,
                merge_key: None,
                retain_keys: false,
                schema: None,
            },
            Field {
                name: "retainKeysMap",
                strategy: Strategy::Default,
                merge_key: None,
                retain_keys: true,
                schema: Some(&RETAIN_KEYS_MERGE_ITEM),
            },
            merge_retain_by("retainKeysMergingList", "name", Some(&MERGE_ITEM)),
        ],
    };

    static RETAIN_KEYS_MERGE_ITEM: Schema = Schema {
        name: "struct",
        fields: &[
            merge_primitives("mergingIntList"),
            merge_by("mergingList", "name", Some(&MERGE_ITEM)),
            nested("nonMergingList", &MERGE_ITEM),
        ],
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::{self, PatchError, PatchType};
    use crate::resources::find;
    use serde_json::{Value, json};

    fn info(group: &str, plural: &str) -> &'static ResourceInfo {
        find(group, "v1", plural).expect("served resource")
    }

    /// Applies a strategic merge patch through [`patch::apply`], as the API server does.
    #[track_caller]
    fn smp(group: &str, plural: &str, original: &Value, body: Value) -> Value {
        patch::apply(info(group, plural), PatchType::Strategic, original, &body)
            .expect("patch applies")
    }

    fn job() -> Value {
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "pi", "namespace": "default", "labels": {"app": "pi", "tier": "batch"},
                         "finalizers": ["batch.kubernetes.io/job-tracking"]},
            "spec": {
                "parallelism": 1,
                "completions": 1,
                "template": {
                    "metadata": {"labels": {"app": "pi"}},
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [
                            {"name": "main", "image": "perl:5.34",
                             "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                             "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                            {"name": "sidecar", "image": "busybox:1.36"}
                        ],
                        "volumes": [{"name": "data", "emptyDir": {}}],
                        "tolerations": [{"key": "a", "operator": "Exists"}]
                    }
                }
            },
            "status": {"conditions": [{"type": "Suspended", "status": "False"}]}
        })
    }

    fn containers(v: &Value) -> &Value {
        &v["spec"]["template"]["spec"]["containers"]
    }

    #[test]
    fn job_container_image_is_patched_by_name() {
        let out = smp(
            "batch",
            "jobs",
            &job(),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox:1.37"}]}}}}),
        );
        assert_eq!(
            containers(&out)[1],
            json!({"name": "sidecar", "image": "busybox:1.37"})
        );
        assert_eq!(containers(&out)[0]["image"], "perl:5.34");
        assert_eq!(containers(&out).as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn job_env_var_is_added_and_changed_by_name() {
        let out = smp(
            "batch",
            "jobs",
            &job(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "main", "env": [{"name": "C", "value": "3"}, {"name": "A", "value": "one"}]}
            ]}}}}),
        );
        // Patch elements first in the patch's order, then the server-only one (upstream order).
        assert_eq!(
            containers(&out)[0]["env"],
            json!([{"name": "C", "value": "3"}, {"name": "A", "value": "one"}, {"name": "B", "value": "2"}])
        );
    }

    #[test]
    fn job_container_is_deleted_with_patch_delete() {
        let out = smp(
            "batch",
            "jobs",
            &job(),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}),
        );
        assert_eq!(containers(&out).as_array().map(Vec::len), Some(1));
        assert_eq!(containers(&out)[0]["name"], "main");
    }

    #[test]
    fn job_containers_are_reordered_by_set_element_order() {
        // What `kubectl apply` sends after swapping two containers in the manifest.
        let out = smp(
            "batch",
            "jobs",
            &job(),
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "main"}]
            }}}}),
        );
        assert_eq!(containers(&out)[0]["name"], "sidecar");
        assert_eq!(containers(&out)[1]["name"], "main");
        assert_eq!(containers(&out)[1]["env"][1]["name"], "B");
    }

    #[test]
    fn volume_source_is_switched_with_retain_keys() {
        // kubectl's patch when a volume changes from emptyDir to configMap.
        let out = smp(
            "batch",
            "jobs",
            &job(),
            json!({"spec": {"template": {"spec": {"volumes": [
                {"name": "data", "$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}}
            ]}}}}),
        );
        assert_eq!(
            out["spec"]["template"]["spec"]["volumes"],
            json!([{"name": "data", "configMap": {"name": "cm"}}])
        );
    }

    #[test]
    fn label_is_deleted_with_null() {
        let out = smp(
            "batch",
            "jobs",
            &job(),
            json!({"metadata": {"labels": {"tier": null, "new": "x"}}}),
        );
        assert_eq!(out["metadata"]["labels"], json!({"app": "pi", "new": "x"}));
    }

    #[test]
    fn python_client_dict_body_sets_parallelism() {
        // kubernetes.client.BatchV1Api().patch_namespaced_job(name, ns, {"spec": {"parallelism": 3}})
        let out = smp("batch", "jobs", &job(), json!({"spec": {"parallelism": 3}}));
        let mut expected = job();
        expected["spec"]["parallelism"] = json!(3);
        assert_eq!(out, expected);
    }

    #[test]
    fn untagged_lists_are_replaced() {
        // Tolerations carry no patchStrategy upstream: the patch's list wins.
        let out = smp(
            "batch",
            "jobs",
            &job(),
            json!({"spec": {"template": {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}}}}),
        );
        assert_eq!(
            out["spec"]["template"]["spec"]["tolerations"],
            json!([{"key": "b", "operator": "Exists"}])
        );
    }

    #[test]
    fn finalizers_union_and_delete_from_primitive_list() {
        // As upstream, an element new to the live list goes before the server-only ones.
        let out = smp(
            "batch",
            "jobs",
            &job(),
            json!({"metadata": {"finalizers": ["example.com/x"]}}),
        );
        assert_eq!(
            out["metadata"]["finalizers"],
            json!(["example.com/x", "batch.kubernetes.io/job-tracking"])
        );
        let out = smp(
            "batch",
            "jobs",
            &out,
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["batch.kubernetes.io/job-tracking"]}}),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["example.com/x"]));
    }

    #[test]
    fn job_status_conditions_merge_by_type() {
        let out = smp(
            "batch",
            "jobs",
            &job(),
            json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}}),
        );
        assert_eq!(
            out["status"]["conditions"].as_array().map(Vec::len),
            Some(2)
        );
    }

    #[test]
    fn cronjob_nested_env_merges_by_name() {
        let original = json!({
            "metadata": {"name": "c"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "main", "image": "a", "env": [{"name": "X", "value": "1"}]}]
            }}}}}
        });
        let out = smp(
            "batch",
            "cronjobs",
            &original,
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "main", "env": [{"name": "Y", "value": "2"}]}]
            }}}}}}),
        );
        let env = &out["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(
            env,
            &json!([{"name": "Y", "value": "2"}, {"name": "X", "value": "1"}])
        );
    }

    #[test]
    fn owner_references_merge_by_uid() {
        let original = json!({"metadata": {"name": "p", "ownerReferences": [
            {"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "u1"}
        ]}});
        let out = smp(
            "",
            "pods",
            &original,
            json!({"metadata": {"ownerReferences": [{"uid": "u1", "blockOwnerDeletion": true}]}}),
        );
        assert_eq!(
            out["metadata"]["ownerReferences"][0]["blockOwnerDeletion"],
            true
        );
        assert_eq!(out["metadata"]["ownerReferences"][0]["name"], "j");
    }

    #[test]
    fn pod_status_conditions_merge_and_container_statuses_replace() {
        let original = json!({"status": {
            "conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [{"name": "a", "ready": false}, {"name": "b", "ready": false}]
        }});
        let out = smp(
            "",
            "pods",
            &original,
            json!({"status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [{"name": "a", "ready": true}]
            }}),
        );
        assert_eq!(
            out["status"]["conditions"],
            json!([{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}])
        );
        assert_eq!(
            out["status"]["containerStatuses"],
            json!([{"name": "a", "ready": true}])
        );
    }

    #[test]
    fn node_addresses_merge_by_type_and_taints_replace() {
        let original = json!({
            "spec": {"taints": [{"key": "a", "effect": "NoSchedule"}], "podCIDRs": ["10.0.0.0/24"]},
            "status": {"addresses": [{"type": "Hostname", "address": "n1"}]}
        });
        let out = smp(
            "",
            "nodes",
            &original,
            json!({
                "spec": {"taints": [{"key": "b", "effect": "NoExecute"}], "podCIDRs": ["fd00::/64"]},
                "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.2"}]}
            }),
        );
        assert_eq!(
            out["spec"]["taints"],
            json!([{"key": "b", "effect": "NoExecute"}])
        );
        assert_eq!(out["spec"]["podCIDRs"], json!(["fd00::/64", "10.0.0.0/24"]));
        assert_eq!(out["status"]["addresses"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn service_account_secrets_merge_by_name() {
        let original = json!({"metadata": {"name": "default"}, "secrets": [{"name": "t1"}]});
        let out = smp(
            "",
            "serviceaccounts",
            &original,
            json!({"secrets": [{"name": "t2"}]}),
        );
        // Upstream puts the new element first ("nested patch merge with empty list").
        assert_eq!(out["secrets"], json!([{"name": "t2"}, {"name": "t1"}]));
    }

    #[test]
    fn configmap_data_merges_as_a_map() {
        let original = json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
        let out = smp(
            "",
            "configmaps",
            &original,
            json!({"data": {"b": null, "c": "3"}}),
        );
        assert_eq!(out["data"], json!({"a": "1", "c": "3"}));
    }

    #[test]
    fn every_served_kind_has_a_schema_with_metadata() {
        for r in crate::resources::RESOURCES {
            let (meta_schema, _) = Schema::lookup(Some(for_kind(r)), "metadata");
            let (_, owners) = Schema::lookup(meta_schema, "ownerReferences");
            assert_eq!(owners.merge_key, Some("uid"), "{}", r.kind);
        }
        assert!(std::ptr::eq(for_kind(info("batch", "jobs")), &JOB));
        assert!(std::ptr::eq(
            for_kind(info("", "configmaps")),
            &METADATA_ONLY
        ));
    }

    #[test]
    fn hostile_strategic_patch_of_a_job_is_an_error() {
        let bad = [
            json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
            json!({"spec": {"template": {"spec": {"containers": ["main"]}}}}),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "$patch": "upsert"}]}}}}),
            json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "x"}], "containers": [{"name": "main"}]}}}}),
            json!(["not", "a", "map"]),
        ];
        for body in bad {
            let r = patch::apply(info("batch", "jobs"), PatchType::Strategic, &job(), &body);
            assert!(matches!(r, Err(PatchError::Malformed(_))), "{body}: {r:?}");
        }
    }
}
