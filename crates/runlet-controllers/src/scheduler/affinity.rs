//! Upstream's `InterPodAffinity` filter for the required terms: a pod goes only where the pods
//! its affinity names run in the same topology domain (the nodes sharing the term's
//! `topologyKey` label value), where none its anti-affinity names run, and where no running
//! pod's anti-affinity keeps it out.
//!
//! A term's namespaces are the ones it lists, or the pod's own, or every namespace for an empty
//! `namespaceSelector`; a `namespaceSelector` with requirements would need the namespaces'
//! labels, which the scheduler does not watch, and adds none. Preferred terms are not scored.

use k8s_openapi::api::core::v1::{Node, Pod, PodAffinityTerm};
use runlet_api::selector::LabelSelector;
use std::collections::BTreeMap;

/// Upstream's `ErrReasonAffinityRulesNotMatch` and siblings.
pub const AFFINITY_NOT_MATCHED: &str = "node(s) didn't match pod affinity rules";
pub const ANTI_AFFINITY_NOT_MATCHED: &str = "node(s) didn't match pod anti-affinity rules";
pub const EXISTING_ANTI_AFFINITY: &str = "node(s) didn't satisfy existing pods anti-affinity rules";

/// One required term, ready to match pods.
struct Term {
    selector: LabelSelector,
    /// `None`: every namespace.
    namespaces: Option<Vec<String>>,
    topology_key: String,
}

impl Term {
    fn new(term: &PodAffinityTerm, own_namespace: &str) -> Term {
        // A term without a selector (or with one that does not parse) matches no pod.
        let selector = term
            .label_selector
            .as_ref()
            .and_then(|s| LabelSelector::from_k8s(s).ok())
            .unwrap_or_else(LabelSelector::nothing);
        let listed = term.namespaces.clone().unwrap_or_default();
        let every_namespace = term
            .namespace_selector
            .as_ref()
            .is_some_and(|s| s.match_labels.is_none() && s.match_expressions.is_none());
        let namespaces = match (every_namespace, listed.is_empty()) {
            (true, _) => None,
            (false, true) if term.namespace_selector.is_none() => {
                Some(vec![own_namespace.to_string()])
            }
            (false, _) => Some(listed),
        };
        Term {
            selector,
            namespaces,
            topology_key: term.topology_key.clone(),
        }
    }

    fn matches(&self, pod: &Pod) -> bool {
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let in_namespace = self
            .namespaces
            .as_ref()
            .is_none_or(|list| list.iter().any(|n| n == ns));
        let empty = BTreeMap::new();
        in_namespace
            && self
                .selector
                .matches_map(pod.metadata.labels.as_ref().unwrap_or(&empty))
    }
}

/// A pod's required affinity and anti-affinity terms.
#[derive(Default)]
pub struct Required {
    affinity: Vec<Term>,
    anti_affinity: Vec<Term>,
}

impl Required {
    pub fn of(pod: &Pod) -> Required {
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let affinity = pod.spec.as_ref().and_then(|s| s.affinity.as_ref());
        let terms = |list: Option<&Vec<PodAffinityTerm>>| -> Vec<Term> {
            list.into_iter()
                .flatten()
                .map(|t| Term::new(t, ns))
                .collect()
        };
        Required {
            affinity: terms(
                affinity
                    .and_then(|a| a.pod_affinity.as_ref())
                    .and_then(|a| {
                        a.required_during_scheduling_ignored_during_execution
                            .as_ref()
                    }),
            ),
            anti_affinity: terms(
                affinity
                    .and_then(|a| a.pod_anti_affinity.as_ref())
                    .and_then(|a| {
                        a.required_during_scheduling_ignored_during_execution
                            .as_ref()
                    }),
            ),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.affinity.is_empty() && self.anti_affinity.is_empty()
    }

    pub fn has_anti_affinity(&self) -> bool {
        !self.anti_affinity.is_empty()
    }
}

/// A pod on a node (bound, or placed by this scheduler and not yet bound), with its own
/// required anti-affinity.
pub struct Placed<'a> {
    pub pod: &'a Pod,
    pub node: &'a Node,
    pub anti_affinity: &'a Required,
}

/// The value of the node's label `key`: its topology domain for that key.
pub(super) fn label<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.metadata.labels.as_ref()?.get(key).map(String::as_str)
}

/// Whether `a` and `b` share a value of the label `key` (both must have it).
fn same_domain(a: &Node, b: &Node, key: &str) -> bool {
    matches!((label(a, key), label(b, key)), (Some(x), Some(y)) if x == y)
}

/// Why `node` does not take `pod`, whose required terms are `required`, beside the `placed`
/// pods; `None` when it does. Checked in upstream's order: affinity (which preemption cannot
/// help), the pod's anti-affinity, then the running pods'.
pub fn misfit(
    pod: &Pod,
    required: &Required,
    node: &Node,
    placed: &[Placed<'_>],
) -> Option<&'static str> {
    if !satisfies_affinity(pod, required, node, placed) {
        return Some(AFFINITY_NOT_MATCHED);
    }
    let pod_anti = required.anti_affinity.iter().any(|term| {
        placed
            .iter()
            .any(|p| term.matches(p.pod) && same_domain(node, p.node, &term.topology_key))
    });
    if pod_anti {
        return Some(ANTI_AFFINITY_NOT_MATCHED);
    }
    let existing_anti = placed.iter().any(|p| {
        p.anti_affinity
            .anti_affinity
            .iter()
            .any(|term| term.matches(pod) && same_domain(node, p.node, &term.topology_key))
    });
    existing_anti.then_some(EXISTING_ANTI_AFFINITY)
}

/// Upstream's `satisfyPodAffinity`: every term has a matching pod in the node's domain; or, for
/// the first of a group of pods that name each other, no pod anywhere matches any term, the pod
/// matches all its own terms, and the node has every term's topology label.
fn satisfies_affinity(pod: &Pod, required: &Required, node: &Node, placed: &[Placed<'_>]) -> bool {
    if required.affinity.is_empty() {
        return true;
    }
    let all_in_domain = required.affinity.iter().all(|term| {
        placed
            .iter()
            .any(|p| term.matches(p.pod) && same_domain(node, p.node, &term.topology_key))
    });
    if all_in_domain {
        return true;
    }
    let none_anywhere = required
        .affinity
        .iter()
        .all(|term| !placed.iter().any(|p| term.matches(p.pod)));
    none_anywhere
        && required.affinity.iter().all(|term| term.matches(pod))
        && required
            .affinity
            .iter()
            .all(|term| label(node, &term.topology_key).is_some())
}
