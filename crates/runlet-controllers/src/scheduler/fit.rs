//! Whether a pod fits a node: the pure part of the scheduler.
//!
//! A subset of upstream's default plugins (`pkg/scheduler/framework/plugins`): NodeUnschedulable,
//! TaintToleration (NoSchedule/NoExecute), NodeName/NodeSelector (labels only, no affinity yet),
//! NodeResourcesFit for cpu, memory and pod count, with the pod's effective requests computed as
//! `resourcehelper.PodRequests` does (init containers, sidecars, overhead). The
//! `FailedScheduling` message is worded as upstream's `FitError`.

use k8s_openapi::api::core::v1::{Container, Node, Pod, Taint, Toleration};
use std::collections::BTreeMap;

/// Requested or free resources: CPU in millicores, memory in bytes, pod slots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resources {
    pub cpu_millis: i64,
    pub memory: i64,
    pub pods: i64,
}

impl Resources {
    pub(crate) fn add(&mut self, o: Resources) {
        self.cpu_millis += o.cpu_millis;
        self.memory += o.memory;
        self.pods += o.pods;
    }
    fn max(self, o: Resources) -> Resources {
        Resources {
            cpu_millis: self.cpu_millis.max(o.cpu_millis),
            memory: self.memory.max(o.memory),
            pods: self.pods.max(o.pods),
        }
    }
}

/// A quantity in nano-units (upstream's syntax); `None` when it does not parse.
pub fn quantity_nanos(s: &str) -> Option<i128> {
    runlet_api::validation::quantity::Quantity::parse(s).map(|q| q.as_nanos())
}

fn from_map(
    map: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
) -> Resources {
    let get = |k: &str, unit: i128| -> i64 {
        map.and_then(|m| m.get(k))
            .and_then(|q| quantity_nanos(&q.0))
            .map_or(0, |n| {
                i64::try_from((n + unit - 1) / unit).unwrap_or(i64::MAX)
            })
    };
    Resources {
        cpu_millis: get("cpu", 1_000_000),
        memory: get("memory", 1_000_000_000),
        pods: 0,
    }
}

fn container_requests(c: &Container) -> Resources {
    from_map(c.resources.as_ref().and_then(|r| r.requests.as_ref()))
}

/// The pod's effective requests: max(sum of containers + sidecars, each init container plus the
/// sidecars started before it), plus overhead, plus one pod slot.
pub fn pod_requests(pod: &Pod) -> Resources {
    let Some(spec) = &pod.spec else {
        return Resources {
            pods: 1,
            ..Default::default()
        };
    };
    let mut main = Resources::default();
    for c in &spec.containers {
        main.add(container_requests(c));
    }
    let mut sidecars = Resources::default();
    let mut init_max = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let r = container_requests(c);
        if c.restart_policy.as_deref() == Some("Always") {
            sidecars.add(r);
            init_max = init_max.max(sidecars);
        } else {
            let mut with = sidecars;
            with.add(r);
            init_max = init_max.max(with);
        }
    }
    main.add(sidecars);
    let mut total = main.max(init_max);
    total.add(from_map(spec.overhead.as_ref()));
    total.pods = 1;
    total
}

/// What a node offers (allocatable).
pub fn allocatable(node: &Node) -> Resources {
    let map = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
    let pods = map
        .and_then(|m| m.get("pods"))
        .and_then(|q| quantity_nanos(&q.0))
        .map_or(110, |n| {
            i64::try_from(n / 1_000_000_000).unwrap_or(i64::MAX)
        });
    Resources {
        pods,
        ..from_map(map)
    }
}

/// Whether the node reports `Ready=True`.
pub fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn tolerates(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| {
        let effect_ok = t
            .effect
            .as_deref()
            .is_none_or(|e| e.is_empty() || e == taint.effect);
        let key_ok = t.key.as_deref().is_none_or(|k| k.is_empty())
            || t.key.as_deref() == Some(taint.key.as_str());
        let value_ok = match t.operator.as_deref() {
            Some("Exists") => true,
            _ => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        };
        let wildcard = t.key.as_deref().is_none_or(|k| k.is_empty())
            && t.operator.as_deref() == Some("Exists");
        effect_ok && (wildcard || (key_ok && value_ok))
    })
}

/// Why a node does not fit, in upstream's words; `None` when it fits.
pub fn misfit(pod: &Pod, node: &Node, used: Resources, req: Resources) -> Option<String> {
    let spec = pod.spec.as_ref();
    let tolerations = spec
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default();
    let mut taints: Vec<Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    if !is_ready(node) {
        taints.push(Taint {
            key: "node.kubernetes.io/not-ready".into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        });
    }
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        let t = Taint {
            key: "node.kubernetes.io/unschedulable".into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        };
        if !tolerates(tolerations, &t) {
            return Some("node(s) were unschedulable".into());
        }
    }
    for t in taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
    {
        if !tolerates(tolerations, t) {
            return Some(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                t.key,
                t.value.as_deref().unwrap_or("")
            ));
        }
    }
    if let Some(selector) = spec.and_then(|s| s.node_selector.as_ref()) {
        let labels = node.metadata.labels.as_ref();
        if !selector
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        {
            return Some("node(s) didn't match Pod's node affinity/selector".into());
        }
    }
    let free = allocatable(node);
    if used.pods + req.pods > free.pods {
        return Some("Too many pods".into());
    }
    if req.cpu_millis > 0 && used.cpu_millis + req.cpu_millis > free.cpu_millis {
        return Some("Insufficient cpu".into());
    }
    if req.memory > 0 && used.memory + req.memory > free.memory {
        return Some("Insufficient memory".into());
    }
    None
}

/// Upstream's `FitError` message: `0/3 nodes are available: 1 Insufficient cpu, 2 node(s) ...`
/// (reasons sorted), then the preemption note.
pub fn fit_error(total: usize, reasons: &[String]) -> String {
    if total == 0 {
        return "no nodes available to schedule pods".into();
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in reasons {
        *counts.entry(r.as_str()).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
    format!(
        "0/{total} nodes are available: {}. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling.",
        parts.join(", ")
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(cpu: &str, ready: bool) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": "n", "labels": {"disk": "ssd"}},
            "status": {
                "allocatable": {"cpu": cpu, "memory": "1Gi", "pods": "2"},
                "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
            }
        }))
        .unwrap()
    }

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    #[test]
    fn effective_requests_count_init_containers_and_sidecars() {
        // resourcehelper.PodRequests: max(containers + sidecars, init + earlier sidecars).
        let p = pod(json!({
            "initContainers": [
                {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}},
                {"name": "big", "resources": {"requests": {"cpu": "2", "memory": "10Mi"}}},
            ],
            "containers": [{"name": "c", "resources": {"requests": {"cpu": "500m", "memory": "64Mi"}}}],
        }));
        let r = pod_requests(&p);
        assert_eq!(r.cpu_millis, 2100);
        assert_eq!(r.memory, 64 << 20);
        assert_eq!(r.pods, 1);
    }

    #[test]
    fn misfits_name_the_reason_as_upstream() {
        let p =
            pod(json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": "2"}}}]}));
        let req = pod_requests(&p);
        assert_eq!(
            misfit(&p, &node("1", true), Resources::default(), req).as_deref(),
            Some("Insufficient cpu")
        );
        assert_eq!(
            misfit(&p, &node("4", true), Resources::default(), req),
            None
        );
        assert_eq!(
            misfit(&p, &node("4", false), Resources::default(), req).as_deref(),
            Some("node(s) had untolerated taint {node.kubernetes.io/not-ready: }")
        );
        let full = Resources {
            pods: 2,
            ..Default::default()
        };
        assert_eq!(
            misfit(&p, &node("4", true), full, req).as_deref(),
            Some("Too many pods")
        );
        let sel = pod(json!({"nodeSelector": {"disk": "hdd"}, "containers": []}));
        assert_eq!(
            misfit(
                &sel,
                &node("4", true),
                Resources::default(),
                pod_requests(&sel)
            )
            .as_deref(),
            Some("node(s) didn't match Pod's node affinity/selector")
        );
        let tolerant = pod(json!({"tolerations": [{"operator": "Exists"}], "containers": []}));
        assert_eq!(
            misfit(
                &tolerant,
                &node("4", false),
                Resources::default(),
                pod_requests(&tolerant)
            ),
            None
        );
    }

    #[test]
    fn fit_error_counts_reasons() {
        let msg = fit_error(
            3,
            &[
                "Insufficient cpu".into(),
                "Too many pods".into(),
                "Insufficient cpu".into(),
            ],
        );
        assert_eq!(
            msg,
            "0/3 nodes are available: 2 Insufficient cpu, 1 Too many pods. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        );
        assert_eq!(fit_error(0, &[]), "no nodes available to schedule pods");
    }
}
