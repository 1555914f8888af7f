//! Upstream's `PodTopologySpread` filter for the `DoNotSchedule` constraints: a node whose
//! topology domain would hold more than `maxSkew` matching pods above the emptiest domain does
//! not take the pod. Domains are the values of the constraint's `topologyKey` on the nodes
//! that count (those the pod's node selector and required affinity allow, unless
//! `nodeAffinityPolicy: Ignore`; untolerated taints only with `nodeTaintsPolicy: Honor`);
//! matching pods are the pod's namespace's, not terminating, that the label selector and the
//! values of the pod's `matchLabelKeys` select. `ScheduleAnyway` constraints only score
//! upstream, and are not acted on.

use super::affinity::{Placed, label};
use k8s_openapi::api::core::v1::{Node, Pod, TopologySpreadConstraint};
use runlet_api::fit;
use runlet_api::selector::LabelSelector;
use std::collections::{BTreeMap, HashMap};

/// Upstream's `ErrReasonConstraintsNotMatch` and `ErrReasonNodeLabelNotMatch`.
pub const NOT_MATCHED: &str = "node(s) didn't match pod topology spread constraints";
pub const MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

struct Constraint {
    max_skew: i64,
    topology_key: String,
    selector: LabelSelector,
    /// The pod's own values of its `matchLabelKeys`, which a matching pod must share.
    match_labels: Vec<(String, String)>,
    min_domains: Option<i64>,
    honor_affinity: bool,
    honor_taints: bool,
}

impl Constraint {
    fn new(c: &TopologySpreadConstraint, labels: &BTreeMap<String, String>) -> Constraint {
        Constraint {
            max_skew: i64::from(c.max_skew),
            topology_key: c.topology_key.clone(),
            selector: c
                .label_selector
                .as_ref()
                .and_then(|s| LabelSelector::from_k8s(s).ok())
                .unwrap_or_else(LabelSelector::nothing),
            match_labels: c
                .match_label_keys
                .iter()
                .flatten()
                .filter_map(|k| Some((k.clone(), labels.get(k)?.clone())))
                .collect(),
            min_domains: c.min_domains.map(i64::from),
            honor_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
            honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
        }
    }

    fn selects(&self, labels: &BTreeMap<String, String>) -> bool {
        self.selector.matches_map(labels)
            && self
                .match_labels
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v))
    }

    /// Whether `node` is one of the domains the constraint counts for `pod`.
    fn counts_node(&self, pod: &Pod, node: &Node, keys: &[&str]) -> bool {
        let labels = node.metadata.labels.as_ref();
        keys.iter()
            .all(|k| labels.is_some_and(|l| l.contains_key(*k)))
            && (!self.honor_affinity || fit::matches_node_affinity(pod, node))
            && (!self.honor_taints || tolerates_taints(pod, node))
    }
}

fn tolerates_taints(pod: &Pod, node: &Node) -> bool {
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default();
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .all(|t| fit::matching_toleration(tolerations, t).is_some())
}

/// A pod's `DoNotSchedule` constraints, with the matching pods counted per domain.
pub struct Spread {
    constraints: Vec<(Constraint, Counts)>,
    self_labels: BTreeMap<String, String>,
}

#[derive(Default)]
struct Counts {
    by_domain: HashMap<String, i64>,
}

impl Spread {
    /// The constraints the filter holds `pod` to; none for most pods.
    pub fn of(pod: &Pod) -> Spread {
        let self_labels = pod.metadata.labels.clone().unwrap_or_default();
        let constraints = pod
            .spec
            .as_ref()
            .and_then(|s| s.topology_spread_constraints.as_ref())
            .into_iter()
            .flatten()
            .filter(|c| c.when_unsatisfiable == "DoNotSchedule")
            .map(|c| (Constraint::new(c, &self_labels), Counts::default()))
            .collect();
        Spread {
            constraints,
            self_labels,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.constraints.is_empty()
    }

    /// Counts the matching pods of `placed` in each domain of the `nodes` that count, as
    /// upstream's `PreFilter` does once per pod.
    pub fn count(&mut self, pod: &Pod, nodes: &[&Node], placed: &[Placed<'_>]) {
        let namespace = pod.metadata.namespace.as_deref();
        let keys: Vec<String> = self
            .constraints
            .iter()
            .map(|(c, _)| c.topology_key.clone())
            .collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let empty = BTreeMap::new();
        for (c, counts) in &mut self.constraints {
            counts.by_domain.clear();
            for node in nodes.iter().filter(|n| c.counts_node(pod, n, &keys)) {
                let Some(domain) = label(node, &c.topology_key) else {
                    continue;
                };
                let name = node.metadata.name.as_deref();
                let matching = placed
                    .iter()
                    .filter(|p| p.node.metadata.name.as_deref() == name)
                    .filter(|p| p.pod.metadata.namespace.as_deref() == namespace)
                    .filter(|p| p.pod.metadata.deletion_timestamp.is_none())
                    .filter(|p| c.selects(p.pod.metadata.labels.as_ref().unwrap_or(&empty)))
                    .count();
                *counts.by_domain.entry(domain.to_string()).or_default() +=
                    i64::try_from(matching).unwrap_or(i64::MAX);
            }
        }
    }

    /// Why `node` does not take the pod; `None` when every constraint allows it.
    pub fn misfit(&self, node: &Node) -> Option<&'static str> {
        for (c, counts) in &self.constraints {
            let Some(domain) = label(node, &c.topology_key) else {
                return Some(MISSING_LABEL);
            };
            // Fewer domains than `minDomains` make the global minimum 0.
            let too_few = c
                .min_domains
                .is_some_and(|min| i64::try_from(counts.by_domain.len()).unwrap_or(0) < min);
            let min = if too_few {
                0
            } else {
                counts.by_domain.values().copied().min().unwrap_or(0)
            };
            let here = counts.by_domain.get(domain).copied().unwrap_or(0);
            let itself = i64::from(c.selects(&self.self_labels));
            if here + itself - min > c.max_skew {
                return Some(NOT_MATCHED);
            }
        }
        None
    }
}
