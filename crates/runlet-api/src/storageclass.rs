//! runlet's storage class: `local-path`, served by the agents' built-in provisioner
//! (`runlet_agent::localpath`) and made the default class, as k3s and kind ship theirs, so a
//! claim that names no class gets it (upstream's `DefaultStorageClass` admission). Other
//! classes of the same provisioner are served the same way ([`binding_of`]).

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::storage::v1::StorageClass;
use serde_json::{Value, json};

/// The class the built-in provisioner serves.
pub const LOCAL_PATH: &str = "local-path";
/// Its provisioner, also the `pv.kubernetes.io/provisioned-by` of the volumes it makes.
pub const LOCAL_PATH_PROVISIONER: &str = "runlet.dev/local-path";
/// The annotations that make a class the default (GA and beta), as `IsDefaultAnnotation`
/// reads them.
const DEFAULT_ANNOTATIONS: &[&str] = &[
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];

/// The `local-path` StorageClass the API server makes at start-up: volumes are made on the
/// node of the first pod that uses a claim (`WaitForFirstConsumer`) and deleted with it.
pub fn local_path() -> Value {
    json!({
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": LOCAL_PATH,
            "annotations": {DEFAULT_ANNOTATIONS[0]: "true"},
        },
        "provisioner": LOCAL_PATH_PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    })
}

/// Whether the StorageClass `sc` is marked as the default (upstream's `IsDefaultAnnotation`).
pub fn is_default(sc: &Value) -> bool {
    DEFAULT_ANNOTATIONS.iter().any(|k| {
        sc.pointer("/metadata/annotations")
            .and_then(|a| a.get(*k))
            .and_then(Value::as_str)
            == Some("true")
    })
}

/// The default class among `classes`, as upstream's `GetDefaultClass` picks it: of those
/// marked default, the newest (then the first by name).
pub fn default_class(classes: &[Value]) -> Option<&str> {
    classes
        .iter()
        .filter(|c| is_default(c))
        .max_by(|a, b| {
            let created = |c: &Value| {
                c.pointer("/metadata/creationTimestamp")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let name = |c: &Value| {
                c.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            created(a)
                .cmp(&created(b))
                .then_with(|| name(b).cmp(&name(a)))
        })
        .and_then(|c| c.pointer("/metadata/name"))
        .and_then(Value::as_str)
}

/// How an unbound claim gets its volume, as upstream's PV controller and the scheduler's
/// VolumeBinding plugin tell it from the claim's class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimBinding {
    /// By the built-in provisioner, on the node of the first pod that uses it: any class whose
    /// provisioner is [`LOCAL_PATH_PROVISIONER`] (a class that names none, for a claim made
    /// before the default class was assigned, is `local-path`).
    LocalPath,
    /// At once, by a volume that matches it (no class, a class that does not exist, or one of
    /// `Immediate` binding): upstream's "unbound immediate" claims.
    Immediate,
    /// On the node of its first pod, by `provisioner`, which runlet does not have.
    Delayed { provisioner: String },
}

/// The class a claim asks for, as upstream's `GetPersistentVolumeClaimClass`: the beta
/// annotation first, then the field; `None` when it names none at all.
pub fn class_of(claim: &PersistentVolumeClaim) -> Option<&str> {
    claim
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("volume.beta.kubernetes.io/storage-class"))
        .or_else(|| claim.spec.as_ref()?.storage_class_name.as_ref())
        .map(String::as_str)
}

/// How an unbound claim of class `name` (`class`: that StorageClass, if it exists) is bound.
pub fn binding_of(name: Option<&str>, class: Option<&StorageClass>) -> ClaimBinding {
    match (name, class) {
        (None, _) => ClaimBinding::LocalPath,
        (Some(LOCAL_PATH), None) => ClaimBinding::LocalPath,
        (Some(_), None) => ClaimBinding::Immediate,
        (Some(_), Some(c)) if c.provisioner == LOCAL_PATH_PROVISIONER => ClaimBinding::LocalPath,
        (Some(_), Some(c)) if c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer") => {
            ClaimBinding::Delayed {
                provisioner: c.provisioner.clone(),
            }
        }
        (Some(_), Some(_)) => ClaimBinding::Immediate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_class_marked_default_is_the_default() {
        let class = |name: &str, created: &str, default: Option<&str>| {
            let mut c = json!({"metadata": {"name": name, "creationTimestamp": created}});
            if let Some(d) = default {
                c["metadata"]["annotations"] = json!({DEFAULT_ANNOTATIONS[1]: d});
            }
            c
        };
        let classes = [
            class("old", "2026-01-01T00:00:00Z", Some("true")),
            class("new", "2026-02-01T00:00:00Z", Some("true")),
            class("newest", "2026-03-01T00:00:00Z", Some("false")),
            class("plain", "2026-04-01T00:00:00Z", None),
        ];
        assert_eq!(default_class(&classes), Some("new"));
        assert_eq!(default_class(&classes[2..]), None);
        assert!(is_default(&local_path()));
    }

    #[test]
    fn a_claim_is_bound_as_its_class_says() {
        let class = |provisioner: &str, mode: &str| -> StorageClass {
            serde_json::from_value(
                json!({"metadata": {"name": "c"}, "provisioner": provisioner,
                "volumeBindingMode": mode}),
            )
            .unwrap_or_default()
        };
        let ours = class(LOCAL_PATH_PROVISIONER, "Immediate");
        let theirs = class("example.com/disk", "WaitForFirstConsumer");
        let immediate = class("example.com/disk", "Immediate");
        assert_eq!(binding_of(None, None), ClaimBinding::LocalPath);
        assert_eq!(binding_of(Some(LOCAL_PATH), None), ClaimBinding::LocalPath);
        assert_eq!(binding_of(Some("c"), Some(&ours)), ClaimBinding::LocalPath);
        assert_eq!(binding_of(Some(""), None), ClaimBinding::Immediate);
        assert_eq!(binding_of(Some("gone"), None), ClaimBinding::Immediate);
        assert_eq!(
            binding_of(Some("c"), Some(&immediate)),
            ClaimBinding::Immediate
        );
        assert_eq!(
            binding_of(Some("c"), Some(&theirs)),
            ClaimBinding::Delayed {
                provisioner: "example.com/disk".into()
            }
        );
    }
}
