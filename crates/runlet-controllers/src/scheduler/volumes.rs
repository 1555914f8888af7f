//! Volume node affinity, the part of upstream's VolumeBinding filter plugin that applies to bound
//! claims: a pod whose PersistentVolumeClaim is bound to a PersistentVolume with a required
//! `nodeAffinity` (a local volume lives on one node) fits only the nodes that affinity selects,
//! otherwise `node(s) had volume node affinity conflict`, as upstream words it.
//!
//! Unbound claims of a class of runlet's local-path provisioner are not constrained here: it
//! binds them on the node where the pod starts (`WaitForFirstConsumer`, as upstream's local
//! provisioners).
//!
//! Before any node is looked at ([`Volumes::unusable`], upstream's VolumeBinding `PreFilter`),
//! a pod whose claim is missing, being deleted, or unbound and of immediate binding (no class,
//! a class that does not exist, an `Immediate` one: a volume must be bound to it first) stays
//! unscheduled, saying why. One whose unbound claim waits for a provisioner runlet does not
//! have fits no node ([`Volumes::unprovisionable`], upstream's words for a claim no volume can
//! be found or made for).
//! A claim with the `ReadWriteOncePod` access mode goes to one pod at a time: a pod naming one
//! that a bound, unfinished pod (or one this pass placed) uses fits no node, as upstream's
//! VolumeRestrictions filter has it ([`RWOP_CONFLICT`]).
//! Selectors follow upstream's `nodeaffinity` helpers: terms are ORed, the requirements of a
//! term ANDed, a term with no requirement matches nothing.

use k8s_openapi::api::core::v1::{
    Node, NodeSelector, NodeSelectorRequirement, PersistentVolume, PersistentVolumeClaim, Pod,
};
use k8s_openapi::api::storage::v1::StorageClass;
use runlet_api::podclaims;
use runlet_api::storageclass::{ClaimBinding, binding_of, class_of};
use std::collections::HashMap;

/// Upstream's reason for a node the pod's volumes cannot be used on.
pub const CONFLICT: &str = "node(s) had volume node affinity conflict";

/// Upstream's VolumeBinding reason for a node no volume can be found or made on.
pub const NO_VOLUME: &str = "node(s) didn't find available persistent volumes to bind";

/// Upstream's VolumeBinding `PreFilter` reason for claims a volume must be bound to first.
pub const UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";

/// Upstream's VolumeRestrictions reason for a pod whose `ReadWriteOncePod` claim is in use.
pub const RWOP_CONFLICT: &str =
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode";

/// A claim: namespace and name.
pub type ClaimKey = (String, String);

/// The claims a pod's volumes use (named, or made for its ephemeral volumes).
pub fn claims_of(pod: &Pod) -> Vec<ClaimKey> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    podclaims::of_pod(pod)
        .into_iter()
        .map(|c| (ns.clone(), c.claim))
        .collect()
}

/// What the scheduler needs of a claim.
struct Claim {
    /// The volume it is bound to.
    volume: Option<String>,
    deleting: bool,
    /// How it is bound while it is not.
    binding: ClaimBinding,
    /// Whether its access modes hold `ReadWriteOncePod`.
    once_per_pod: bool,
    /// The uid of its controlling owner (the pod an ephemeral volume's claim was made for).
    owner: Option<String>,
}

/// The claims and the volumes of the cluster, as the scheduler's stores hold them.
#[derive(Default)]
pub struct Volumes {
    /// `(namespace, claim)` → what it is and is bound to.
    claims: HashMap<(String, String), Claim>,
    /// Volume name → its required node selector, for volumes that have one.
    affinity: HashMap<String, NodeSelector>,
}

impl Volumes {
    pub fn new(
        claims: &[impl AsRef<PersistentVolumeClaim>],
        pvs: &[impl AsRef<PersistentVolume>],
        classes: &[impl AsRef<StorageClass>],
    ) -> Self {
        let classes: HashMap<&str, &StorageClass> = classes
            .iter()
            .map(AsRef::as_ref)
            .filter_map(|c| Some((c.metadata.name.as_deref()?, c)))
            .collect();
        let claims = claims
            .iter()
            .map(AsRef::as_ref)
            .filter_map(|c| {
                let spec = c.spec.as_ref();
                let claim = Claim {
                    volume: spec
                        .and_then(|s| s.volume_name.clone())
                        .filter(|v| !v.is_empty()),
                    deleting: c.metadata.deletion_timestamp.is_some(),
                    binding: {
                        let name = class_of(c);
                        binding_of(name, name.and_then(|n| classes.get(n).copied()))
                    },
                    once_per_pod: spec
                        .and_then(|s| s.access_modes.as_ref())
                        .is_some_and(|m| m.iter().any(|m| m == "ReadWriteOncePod")),
                    owner: c
                        .metadata
                        .owner_references
                        .iter()
                        .flatten()
                        .find(|o| o.controller == Some(true))
                        .map(|o| o.uid.clone()),
                };
                Some((
                    (
                        c.metadata.namespace.clone().unwrap_or_default(),
                        c.metadata.name.clone()?,
                    ),
                    claim,
                ))
            })
            .collect();
        let affinity = pvs
            .iter()
            .map(AsRef::as_ref)
            .filter_map(|pv| {
                let required = pv.spec.as_ref()?.node_affinity.as_ref()?.required.clone()?;
                Some((pv.metadata.name.clone()?, required))
            })
            .collect();
        Volumes { claims, affinity }
    }

    /// The node selectors the pod's bound volumes require.
    pub fn required(&self, pod: &Pod) -> Vec<&NodeSelector> {
        claims_of(pod)
            .iter()
            .filter_map(|key| self.claims.get(key))
            .filter_map(|claim| self.affinity.get(claim.volume.as_ref()?))
            .collect()
    }

    /// The pod's claims of access mode `ReadWriteOncePod`.
    pub fn once_per_pod(&self, pod: &Pod) -> Vec<ClaimKey> {
        claims_of(pod)
            .into_iter()
            .filter(|key| self.claims.get(key).is_some_and(|c| c.once_per_pod))
            .collect()
    }

    /// Why none of the pod's nodes can be looked at for its claims, in upstream's words.
    pub fn unusable(&self, pod: &Pod) -> Option<String> {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        for used in podclaims::of_pod(pod) {
            let name = &used.claim;
            let Some(claim) = self.claims.get(&(ns.clone(), name.clone())) else {
                return Some(format!("persistentvolumeclaim {name:?} not found"));
            };
            if used.ephemeral && claim.owner != pod.metadata.uid {
                return Some(podclaims::not_for_pod(
                    &ns,
                    name,
                    pod.metadata.name.as_deref().unwrap_or_default(),
                ));
            }
            if claim.deleting {
                return Some(format!("persistentvolumeclaim {name:?} is being deleted"));
            }
            if claim.volume.is_none() && claim.binding == ClaimBinding::Immediate {
                return Some(UNBOUND_IMMEDIATE.to_string());
            }
        }
        None
    }

    /// Whether an unbound claim of the pod waits for a provisioner runlet does not have.
    pub fn unprovisionable(&self, pod: &Pod) -> bool {
        claims_of(pod).iter().any(|key| {
            self.claims.get(key).is_some_and(|c| {
                c.volume.is_none() && matches!(c.binding, ClaimBinding::Delayed { .. })
            })
        })
    }
}

/// Whether `node` satisfies every selector (`CONFLICT` when not).
pub fn conflict(selectors: &[&NodeSelector], node: &Node) -> Option<&'static str> {
    (!selectors.iter().all(|s| matches(s, node))).then_some(CONFLICT)
}

/// Whether a node selector selects `node`.
pub fn matches(selector: &NodeSelector, node: &Node) -> bool {
    let labels = node.metadata.labels.as_ref();
    let name = node.metadata.name.as_deref().unwrap_or_default();
    selector.node_selector_terms.iter().any(|term| {
        let expressions = term.match_expressions.as_deref().unwrap_or_default();
        let fields = term.match_fields.as_deref().unwrap_or_default();
        (!expressions.is_empty() || !fields.is_empty())
            && expressions
                .iter()
                .all(|r| requirement(r, labels.and_then(|l| l.get(&r.key)).map(String::as_str)))
            && fields.iter().all(|r| {
                r.key == "metadata.name"
                    && matches!(r.operator.as_str(), "In" | "NotIn")
                    && requirement(r, Some(name))
            })
    })
}

/// One requirement against the value of its key (`None`: the node has no such label).
fn requirement(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    let int = |s: &str| s.parse::<i64>().ok();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => match (value.and_then(int), values) {
            (Some(v), [bound]) => {
                int(bound).is_some_and(|b| if r.operator == "Gt" { v > b } else { v < b })
            }
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, labels: serde_json::Value) -> Node {
        serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap()
    }

    fn selector(terms: serde_json::Value) -> NodeSelector {
        serde_json::from_value(json!({ "nodeSelectorTerms": terms })).unwrap()
    }

    #[test]
    fn terms_are_ored_and_requirements_anded() {
        let n = node(
            "n1",
            json!({"kubernetes.io/hostname": "n1", "disk": "ssd", "cores": "8"}),
        );
        let hostname = |h: &str| {
            selector(json!([{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [h]}
            ]}]))
        };
        assert!(matches(&hostname("n1"), &n));
        assert!(!matches(&hostname("n2"), &n));
        let both = selector(json!([
            {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["hdd"]}]},
            {"matchExpressions": [
                {"key": "disk", "operator": "Exists"},
                {"key": "cores", "operator": "Gt", "values": ["4"]},
                {"key": "gpu", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "NotIn", "values": ["a"]},
            ]},
        ]));
        assert!(matches(&both, &n));
        let by_name = selector(json!([{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["n1"]}
        ]}]));
        assert!(matches(&by_name, &n));
        assert!(
            !matches(&selector(json!([{}])), &n),
            "an empty term matches nothing"
        );
        assert!(!matches(&selector(json!([])), &n));
    }

    #[test]
    fn only_bound_claims_of_the_pods_namespace_constrain_it() {
        let claim = |ns: &str, name: &str, volume: Option<&str>| -> PersistentVolumeClaim {
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": ns},
                "spec": {"volumeName": volume},
            }))
            .unwrap()
        };
        let pv: PersistentVolume = serde_json::from_value(json!({
            "metadata": {"name": "pv-1"},
            "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}
            ]}]}}},
        }))
        .unwrap();
        let volumes = Volumes::new(
            &[
                Box::new(claim("default", "data", Some("pv-1"))),
                Box::new(claim("default", "fresh", None)),
            ],
            &[Box::new(pv)],
            &[] as &[Box<StorageClass>],
        );
        let pod = |ns: &str, claim: &str| -> Pod {
            serde_json::from_value(json!({
                "metadata": {"name": "p", "namespace": ns},
                "spec": {"containers": [], "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim}}]},
            }))
            .unwrap()
        };
        let n1 = node("n1", json!({"kubernetes.io/hostname": "n1"}));
        let n2 = node("n2", json!({"kubernetes.io/hostname": "n2"}));
        let bound = pod("default", "data");
        let required = volumes.required(&bound);
        assert_eq!(required.len(), 1);
        assert_eq!(conflict(&required, &n1), None);
        assert_eq!(conflict(&required, &n2), Some(CONFLICT));
        assert!(volumes.required(&pod("default", "fresh")).is_empty());
        assert!(volumes.required(&pod("other", "data")).is_empty());
    }
}
