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
    const NONE: PatchMeta = PatchMeta { strategy: Strategy::Default, merge_key: None };
}

impl Schema {
    /// The metadata of field `key` and the schema of its value; an unknown field has neither.
    pub fn lookup(schema: Option<&'static Schema>, key: &str) -> (Option<&'static Schema>, PatchMeta) {
        match schema.and_then(|s| s.fields.iter().find(|f| f.name == key)) {
            Some(f) => (f.schema, PatchMeta { strategy: f.strategy, merge_key: f.merge_key }),
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
    Field { name, strategy: Strategy::Default, merge_key: None, retain_keys: false, schema: Some(schema) }
}

/// `patchStrategy:"merge" patchMergeKey:"<key>"` on a list of objects.
const fn merge_by(name: &'static str, key: &'static str, schema: Option<&'static Schema>) -> Field {
    Field { name, strategy: Strategy::Merge, merge_key: Some(key), retain_keys: false, schema }
}

/// `patchStrategy:"merge,retainKeys" patchMergeKey:"<key>"` on a list of objects.
const fn merge_retain_by(name: &'static str, key: &'static str, schema: Option<&'static Schema>) -> Field {
    Field { name, strategy: Strategy::Merge, merge_key: Some(key), retain_keys: true, schema }
}

/// `patchStrategy:"merge"` on a list of primitives: a set union.
const fn merge_primitives(name: &'static str) -> Field {
    Field { name, strategy: Strategy::Merge, merge_key: None, retain_keys: false, schema: None }
}

/// metav1.ObjectMeta.
static OBJECT_META: Schema = Schema {
    name: "ObjectMeta",
    fields: &[merge_by("ownerReferences", "uid", None), merge_primitives("finalizers")],
};

/// A kind whose only tagged fields are in its metadata (ConfigMap, Secret, Event, Lease, PV).
static METADATA_ONLY: Schema = Schema { name: "Object", fields: &[nested("metadata", &OBJECT_META)] };

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
static PVC_TEMPLATE: Schema = Schema { name: "PersistentVolumeClaimTemplate", fields: &[nested("metadata", &OBJECT_META)] };

static EPHEMERAL_VOLUME_SOURCE: Schema =
    Schema { name: "EphemeralVolumeSource", fields: &[nested("volumeClaimTemplate", &PVC_TEMPLATE)] };

/// core/v1 Volume (with its inlined VolumeSource).
static VOLUME: Schema = Schema { name: "Volume", fields: &[nested("ephemeral", &EPHEMERAL_VOLUME_SOURCE)] };

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
    fields: &[nested("metadata", &OBJECT_META), nested("spec", &POD_SPEC), nested("status", &POD_STATUS)],
};

static POD_TEMPLATE_SPEC: Schema =
    Schema { name: "PodTemplateSpec", fields: &[nested("metadata", &OBJECT_META), nested("spec", &POD_SPEC)] };

/// batch/v1 JobSpec. `podFailurePolicy.rules` and `successPolicy.rules` are atomic lists.
static JOB_SPEC: Schema = Schema { name: "JobSpec", fields: &[nested("template", &POD_TEMPLATE_SPEC)] };

/// Status of Jobs, Namespaces and PersistentVolumeClaims: conditions merge by `type`.
static CONDITIONS_STATUS: Schema = Schema { name: "Status", fields: &[merge_by("conditions", "type", None)] };

static JOB: Schema = Schema {
    name: "Job",
    fields: &[nested("metadata", &OBJECT_META), nested("spec", &JOB_SPEC), nested("status", &CONDITIONS_STATUS)],
};

static JOB_TEMPLATE_SPEC: Schema =
    Schema { name: "JobTemplateSpec", fields: &[nested("metadata", &OBJECT_META), nested("spec", &JOB_SPEC)] };

static CRON_JOB_SPEC: Schema = Schema { name: "CronJobSpec", fields: &[nested("jobTemplate", &JOB_TEMPLATE_SPEC)] };

static CRON_JOB: Schema =
    Schema { name: "CronJob", fields: &[nested("metadata", &OBJECT_META), nested("spec", &CRON_JOB_SPEC)] };

/// core/v1 NodeSpec: `podCIDRs` is a merging list of strings; `taints` is atomic.
static NODE_SPEC: Schema = Schema { name: "NodeSpec", fields: &[merge_primitives("podCIDRs")] };

static NODE_STATUS: Schema =
    Schema { name: "NodeStatus", fields: &[merge_by("conditions", "type", None), merge_by("addresses", "type", None)] };

static NODE: Schema = Schema {
    name: "Node",
    fields: &[nested("metadata", &OBJECT_META), nested("spec", &NODE_SPEC), nested("status", &NODE_STATUS)],
};

static NAMESPACE: Schema =
    Schema { name: "Namespace", fields: &[nested("metadata", &OBJECT_META), nested("status", &CONDITIONS_STATUS)] };

static PERSISTENT_VOLUME_CLAIM: Schema = Schema {
    name: "PersistentVolumeClaim",
    fields: &[nested("metadata", &OBJECT_META), nested("status", &CONDITIONS_STATUS)],
};

/// core/v1 ServiceAccount: `secrets` merge by name; `imagePullSecrets` is untagged here.
static SERVICE_ACCOUNT: Schema =
    Schema { name: "ServiceAccount", fields: &[nested("metadata", &OBJECT_META), merge_by("secrets", "name", None)] };

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

/// upstream's test type `mergeItem` (`strategicpatch/patch_test.go`), to run its cases.
#[cfg(test)]
pub(crate) mod test_schema {
    use super::*;

    pub(crate) static MERGE_ITEM: Schema = Schema {
        name: "struct",
        fields: &[
            merge_by("mergingList", "name", Some(&MERGE_ITEM)),
            nested("nonMergingList", &MERGE_ITEM),
            merge_primitives("mergingIntList"),
            merge_by("mergeItemPtr", "name", Some(&MERGE_ITEM)),
            Field { name: "replacingItem", strategy: Strategy::Replace, merge_key: None, retain_keys: false, schema: None },
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
