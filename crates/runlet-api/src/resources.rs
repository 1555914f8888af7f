//! The resource table: every kind runlet serves, where it lives in the REST tree, and how
//! discovery describes it.
//!
//! Discovery, routing, storage keys, `kubectl get cj` short names and `kubectl get all`
//! categories all read this one table, so adding a kind is one entry here plus its defaulting,
//! validation and table columns.

/// One served resource (a group/version/plural and its kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceInfo {
    /// API group; empty for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The lower-case plural used in URLs (`jobs`).
    pub plural: &'static str,
    pub singular: &'static str,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub namespaced: bool,
    /// Subresources served besides the object itself (`status`, `log`, `binding`, `eviction`).
    pub subresources: &'static [&'static str],
}

impl ResourceInfo {
    /// Whether a collection of this resource can be deleted at once: not namespaces, whose
    /// upstream storage has no `DeleteCollection` (a 405, and no `deletecollection` verb).
    pub fn deletes_collections(&self) -> bool {
        !(self.group.is_empty() && self.plural == "namespaces")
    }

    /// The verbs discovery lists for the resource itself.
    pub fn verbs(&self) -> &'static [&'static str] {
        const ALL: &[&str] = &[
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ];
        const NO_COLLECTION_DELETE: &[&str] = &[
            "create", "delete", "get", "list", "patch", "update", "watch",
        ];
        if self.deletes_collections() {
            ALL
        } else {
            NO_COLLECTION_DELETE
        }
    }

    /// `batch/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `jobs.batch`, or `pods` for the core group — the name used in error messages.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `Job.batch`, or `Pod` for the core group — used in `is invalid` messages.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// The kind of the list object (`JobList`).
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// Whether the resource has a `status` subresource.
    pub fn has_status(&self) -> bool {
        self.subresources.contains(&"status")
    }

    /// The group whose storage holds this resource: events.k8s.io Events are stored as core
    /// Events (upstream serves one resource through both APIs; see `convert`).
    fn storage_group(&self) -> &'static str {
        match (self.group, self.kind) {
            ("events.k8s.io", "Event") | ("", _) => "core",
            (group, _) => group,
        }
    }

    /// Whether this resource is another API version's view of a resource stored elsewhere.
    pub fn is_alias(&self) -> bool {
        !self.group.is_empty() && self.storage_group() != self.group
    }

    /// The store key prefix of every object of this resource: `/{group or core}/{plural}/`.
    pub fn key_prefix(&self) -> String {
        format!("/{}/{}/", self.storage_group(), self.plural)
    }

    /// The store key prefix of this resource within one namespace.
    pub fn namespace_prefix(&self, namespace: &str) -> String {
        format!("{}{namespace}/", self.key_prefix())
    }

    /// The store key of one object. Cluster-scoped objects use an empty namespace segment's
    /// absence: `/{group}/{plural}/{name}`.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}{ns}/{name}", self.key_prefix()),
            _ => format!("{}{name}", self.key_prefix()),
        }
    }
}

macro_rules! resource {
    ($group:expr, $version:expr, $kind:expr, $plural:expr, $singular:expr, [$($short:expr),*], [$($cat:expr),*], $namespaced:expr, [$($sub:expr),*]) => {
        ResourceInfo {
            group: $group,
            version: $version,
            kind: $kind,
            plural: $plural,
            singular: $singular,
            short_names: &[$($short),*],
            categories: &[$($cat),*],
            namespaced: $namespaced,
            subresources: &[$($sub),*],
        }
    };
}

/// Every resource runlet serves.
pub static RESOURCES: &[ResourceInfo] = &[
    resource!(
        "",
        "v1",
        "Namespace",
        "namespaces",
        "namespace",
        ["ns"],
        [],
        false,
        ["status", "finalize"]
    ),
    resource!(
        "",
        "v1",
        "Node",
        "nodes",
        "node",
        ["no"],
        [],
        false,
        ["status"]
    ),
    resource!(
        "",
        "v1",
        "Pod",
        "pods",
        "pod",
        ["po"],
        ["all"],
        true,
        ["status", "binding", "eviction", "log", "exec"]
    ),
    resource!("", "v1", "Event", "events", "event", ["ev"], [], true, []),
    resource!(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        "configmap",
        ["cm"],
        [],
        true,
        []
    ),
    resource!("", "v1", "Secret", "secrets", "secret", [], [], true, []),
    resource!(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        ["sa"],
        [],
        true,
        ["token"]
    ),
    resource!(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        ["pvc"],
        [],
        true,
        ["status"]
    ),
    resource!(
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        "persistentvolume",
        ["pv"],
        [],
        false,
        ["status"]
    ),
    resource!(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        "storageclass",
        ["sc"],
        [],
        false,
        []
    ),
    resource!(
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        "event",
        ["ev"],
        [],
        true,
        []
    ),
    resource!(
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        "lease",
        [],
        [],
        true,
        []
    ),
    resource!(
        "batch",
        "v1",
        "Job",
        "jobs",
        "job",
        [],
        ["all"],
        true,
        ["status"]
    ),
    resource!(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        "cronjob",
        ["cj"],
        ["all"],
        true,
        ["status"]
    ),
    // runlet's own: one record per pod a Job ran, kept after the pod is deleted until the
    // Job is (owned by it), written by the records controller in runlet-controllers.
    resource!(
        "runlet.dev",
        "v1",
        "PodRecord",
        "podrecords",
        "podrecord",
        ["prec"],
        [],
        true,
        ["log"]
    ),
];

/// The resource at `group/version/plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource of an `apiVersion`/`kind` pair.
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.api_version() == api_version && r.kind == kind)
}

/// The group/versions served, in discovery order (core `v1` first).
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_live_in_batch_v1_and_are_in_all() {
        let jobs = find("batch", "v1", "jobs").expect("jobs served");
        assert_eq!(jobs.kind, "Job");
        assert!(jobs.categories.contains(&"all"));
        assert_eq!(jobs.qualified_plural(), "jobs.batch");
        assert_eq!(jobs.key(Some("default"), "pi"), "/batch/jobs/default/pi");
    }

    #[test]
    fn events_k8s_io_events_share_core_storage() {
        let new = find("events.k8s.io", "v1", "events").expect("served");
        let core = find("", "v1", "events").expect("served");
        assert_eq!(new.key(Some("ns"), "e"), core.key(Some("ns"), "e"));
        assert!(new.is_alias());
        assert!(!core.is_alias());
        assert!(!find("batch", "v1", "jobs").expect("jobs").is_alias());
    }

    #[test]
    fn cluster_scoped_keys_have_no_namespace() {
        let ns = find("", "v1", "namespaces").expect("namespaces served");
        assert_eq!(
            ns.key(Some("ignored"), "default"),
            "/core/namespaces/default"
        );
        assert_eq!(by_kind("v1", "Namespace"), Some(ns));
    }

    #[test]
    fn group_versions_start_with_core() {
        let gvs = group_versions();
        assert_eq!(gvs[0], ("", "v1"));
        assert!(gvs.contains(&("batch", "v1")));
    }
}
