//! Whether a pod fits a node: the pure part of the scheduler, and of the node agent's admission
//! of pods bound without it (both judge a pod against a node the same way, as upstream's
//! scheduler and kubelet share `GeneralPredicates`).
//!
//! A subset of upstream's default plugins (`pkg/scheduler/framework/plugins`): NodeUnschedulable,
//! TaintToleration (NoSchedule/NoExecute), NodeAffinity (`nodeSelector` and required node
//! affinity), NodeResourcesFit for cpu, memory, ephemeral storage, pod count and the scalar
//! resources (extended resources such as `example.com/gpu`, `hugepages-<size>`), with the pod's
//! effective requests
//! computed as `resourcehelper.PodRequests` does (init containers, sidecars, overhead). The
//! `FailedScheduling` message is worded as upstream's `FitError`.

use k8s_openapi::api::core::v1::{Container, Node, Pod, Taint, Toleration};
use std::collections::BTreeMap;

/// Requested or free resources: CPU in millicores, memory in bytes, pod slots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub cpu_millis: i64,
    pub memory: i64,
    /// Bytes of `ephemeral-storage`.
    pub ephemeral_storage: i64,
    pub pods: i64,
    /// What scoring counts (upstream's `GetNonzeroRequests`): a container that requests no
    /// CPU counts as 100m and one that requests no memory as 200Mi, so pods without requests
    /// still spread over the nodes.
    pub scored_cpu_millis: i64,
    pub scored_memory: i64,
    /// Upstream's `ScalarResources`: every other resource (extended resources, hugepages), in
    /// whole units (`Quantity::Value`, rounded up).
    pub scalar: BTreeMap<String, i64>,
}

/// CPU a container without a CPU request counts as when nodes are scored.
const DEFAULT_SCORED_CPU_MILLIS: i64 = 100;
/// Memory a container without a memory request counts as when nodes are scored.
const DEFAULT_SCORED_MEMORY: i64 = 200 * 1024 * 1024;

impl Resources {
    pub fn add(&mut self, o: &Resources) {
        self.cpu_millis += o.cpu_millis;
        self.memory += o.memory;
        self.ephemeral_storage += o.ephemeral_storage;
        self.pods += o.pods;
        self.scored_cpu_millis += o.scored_cpu_millis;
        self.scored_memory += o.scored_memory;
        for (name, n) in &o.scalar {
            *self.scalar.entry(name.clone()).or_default() += n;
        }
    }
    fn max(&self, o: &Resources) -> Resources {
        let mut scalar = self.scalar.clone();
        for (name, n) in &o.scalar {
            let mine = scalar.entry(name.clone()).or_default();
            *mine = (*mine).max(*n);
        }
        Resources {
            cpu_millis: self.cpu_millis.max(o.cpu_millis),
            memory: self.memory.max(o.memory),
            ephemeral_storage: self.ephemeral_storage.max(o.ephemeral_storage),
            pods: self.pods.max(o.pods),
            scored_cpu_millis: self.scored_cpu_millis.max(o.scored_cpu_millis),
            scored_memory: self.scored_memory.max(o.scored_memory),
            scalar,
        }
    }

    /// The scalar resources requested beyond what `free` has left after `used`: upstream's
    /// `fitsRequest` loop over `ScalarResources`, a zero request never short.
    fn short_scalars<'a>(
        &'a self,
        used: &'a Resources,
        free: &'a Resources,
    ) -> impl Iterator<Item = (&'a str, i64, i64, i64)> + 'a {
        self.scalar.iter().filter_map(move |(name, &requested)| {
            let used = used.scalar.get(name).copied().unwrap_or(0);
            let capacity = free.scalar.get(name).copied().unwrap_or(0);
            (requested > 0 && used + requested > capacity).then_some((
                name.as_str(),
                requested,
                used,
                capacity,
            ))
        })
    }
}

/// The resources [`Resources`] names a field for; every other one is a scalar resource.
const NAMED_RESOURCES: [&str; 4] = ["cpu", "memory", "ephemeral-storage", "pods"];

/// Upstream's `IsExtendedResourceName`: a resource in a domain of its own, outside
/// `kubernetes.io` and not a quota's `requests.` name (`example.com/gpu`), as against a native
/// one (`cpu`, `hugepages-2Mi`).
pub fn is_extended_resource(name: &str) -> bool {
    match name.split_once('/') {
        Some((domain, _)) => {
            domain != "kubernetes.io"
                && !domain.ends_with(".kubernetes.io")
                && !name.starts_with("requests.")
        }
        None => false,
    }
}

/// Upstream's `NodeResourcesFit` score with its default `LeastAllocated` strategy: for CPU and
/// memory alike, the share of the node's allocatable left once `used` and the pod's `req` are
/// placed, 0 to 100, averaged. Counts non-zero requests (see [`Resources`]).
pub fn least_allocated_score(allocatable: &Resources, used: &Resources, req: &Resources) -> i64 {
    let share_left = |capacity: i64, requested: i64| {
        if capacity <= 0 {
            0
        } else {
            (capacity - requested).max(0) * 100 / capacity
        }
    };
    let cpu = share_left(
        allocatable.cpu_millis,
        used.scored_cpu_millis + req.scored_cpu_millis,
    );
    let memory = share_left(allocatable.memory, used.scored_memory + req.scored_memory);
    (cpu + memory) / 2
}

/// A quantity in nano-units (upstream's syntax); `None` when it does not parse.
pub fn quantity_nanos(s: &str) -> Option<i128> {
    crate::validation::quantity::Quantity::parse(s).map(|q| q.as_nanos())
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
    let (cpu_millis, memory) = (get("cpu", 1_000_000), get("memory", 1_000_000_000));
    let scalar = map
        .into_iter()
        .flatten()
        .filter(|(name, _)| !NAMED_RESOURCES.contains(&name.as_str()))
        .map(|(name, _)| (name.clone(), get(name, 1_000_000_000)))
        .collect();
    Resources {
        cpu_millis,
        memory,
        ephemeral_storage: get("ephemeral-storage", 1_000_000_000),
        pods: 0,
        scored_cpu_millis: cpu_millis,
        scored_memory: memory,
        scalar,
    }
}

fn container_requests(c: &Container) -> Resources {
    let mut r = from_map(c.resources.as_ref().and_then(|r| r.requests.as_ref()));
    if r.scored_cpu_millis == 0 {
        r.scored_cpu_millis = DEFAULT_SCORED_CPU_MILLIS;
    }
    if r.scored_memory == 0 {
        r.scored_memory = DEFAULT_SCORED_MEMORY;
    }
    r
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
        main.add(&container_requests(c));
    }
    let mut sidecars = Resources::default();
    let mut init_max = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let r = container_requests(c);
        if c.restart_policy.as_deref() == Some("Always") {
            sidecars.add(&r);
            init_max = init_max.max(&sidecars);
        } else {
            let mut with = sidecars.clone();
            with.add(&r);
            init_max = init_max.max(&with);
        }
    }
    main.add(&sidecars);
    let mut total = main.max(&init_max);
    total.add(&from_map(spec.overhead.as_ref()));
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
    matching_toleration(tolerations, taint).is_some()
}

/// The first of `tolerations` that tolerates `taint` (upstream `Toleration.ToleratesTaint`).
pub fn matching_toleration<'a>(
    tolerations: &'a [Toleration],
    taint: &Taint,
) -> Option<&'a Toleration> {
    tolerations.iter().find(|t| {
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

/// Why a node does not fit a pod: the reasons of the first filter that failed, in upstream's
/// words, and whether preemption might make room there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misfit {
    pub reasons: Vec<String>,
    /// Upstream's `Unschedulable` (NodeResourcesFit: evicting pods could make room), against
    /// `UnschedulableAndUnresolvable` (taints, selectors, volumes: nothing to evict helps).
    pub preemption_may_help: bool,
}

impl Misfit {
    /// A reason preemption cannot resolve.
    pub fn unresolvable(reason: impl Into<String>) -> Misfit {
        Misfit {
            reasons: vec![reason.into()],
            preemption_may_help: false,
        }
    }
}

/// Why a node does not fit; `None` when it fits.
pub fn misfit(pod: &Pod, node: &Node, used: &Resources, req: &Resources) -> Option<Misfit> {
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
            return Some(Misfit::unresolvable("node(s) were unschedulable"));
        }
    }
    for t in taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
    {
        if !tolerates(tolerations, t) {
            return Some(Misfit::unresolvable(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                t.key,
                t.value.as_deref().unwrap_or("")
            )));
        }
    }
    if !matches_node_affinity(pod, node) {
        return Some(Misfit::unresolvable(
            "node(s) didn't match Pod's node affinity/selector",
        ));
    }
    // NodeResourcesFit names every resource that is short (`fitsRequest`), pods first.
    let free = allocatable(node);
    let mut short = Vec::new();
    if used.pods + req.pods > free.pods {
        short.push("Too many pods".to_string());
    }
    if req.cpu_millis > 0 && used.cpu_millis + req.cpu_millis > free.cpu_millis {
        short.push("Insufficient cpu".into());
    }
    if req.memory > 0 && used.memory + req.memory > free.memory {
        short.push("Insufficient memory".into());
    }
    if req.ephemeral_storage > 0
        && used.ephemeral_storage + req.ephemeral_storage > free.ephemeral_storage
    {
        short.push("Insufficient ephemeral-storage".into());
    }
    for (name, ..) in req.short_scalars(used, &free) {
        short.push(format!("Insufficient {name}"));
    }
    (!short.is_empty()).then_some(Misfit {
        reasons: short,
        preemption_may_help: true,
    })
}

/// Why the kubelet refuses a pod bound to `node` without the scheduler (`spec.nodeName` set
/// at creation), `used` being what the pods already on the node request: upstream's
/// `lifecycle.NewPredicateAdmitHandler` with `generalFilter` (NodeResourcesFit, NodeAffinity,
/// then the node's `NoExecute` taints). The pod's `status.reason` and the message after
/// "Pod was rejected: "; `None` when it is admitted.
pub fn admission_failure(pod: &Pod, node: &Node, used: &Resources) -> Option<(String, String)> {
    let mut req = pod_requests(pod);
    let free = allocatable(node);
    // `removeMissingExtendedResources`: an extended resource the node does not offer at all
    // is left to a device plugin that may still register.
    req.scalar
        .retain(|name, _| !is_extended_resource(name) || free.scalar.contains_key(name));
    let short = [
        ("cpu", req.cpu_millis, used.cpu_millis, free.cpu_millis),
        ("memory", req.memory, used.memory, free.memory),
        (
            "ephemeral-storage",
            req.ephemeral_storage,
            used.ephemeral_storage,
            free.ephemeral_storage,
        ),
        ("pods", req.pods, used.pods, free.pods),
    ]
    .into_iter()
    .find(|(_, requested, used, capacity)| *requested > 0 && used + requested > *capacity)
    .or_else(|| req.short_scalars(used, &free).next());
    if let Some((resource, requested, used, capacity)) = short {
        return Some((
            format!("OutOf{resource}"),
            format!(
                "Node didn't have enough resource: {resource}, requested: {requested}, used: {used}, capacity: {capacity}"
            ),
        ));
    }
    let predicate =
        |name: &str, why: &str| Some((name.to_string(), format!("Predicate {name} failed: {why}")));
    if !matches_node_affinity(pod, node) {
        return predicate(
            "NodeAffinity",
            "node(s) didn't match Pod's node affinity/selector",
        );
    }
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default();
    let untolerated = node
        .spec
        .iter()
        .flat_map(|s| s.taints.iter().flatten())
        .any(|t| t.effect == "NoExecute" && !tolerates(tolerations, t));
    if untolerated {
        return predicate(
            "TaintToleration",
            "node(s) had taints that the pod didn't tolerate",
        );
    }
    None
}

/// Upstream's NodeAffinity filter: the pod's `nodeSelector`, and any of the terms of its
/// `requiredDuringSchedulingIgnoredDuringExecution` node affinity (each term's expressions on
/// the node's labels and fields all hold; a term with none matches no node).
pub fn matches_node_affinity(pod: &Pod, node: &Node) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return true;
    };
    let labels = node.metadata.labels.clone().unwrap_or_default();
    if let Some(selector) = &spec.node_selector
        && !selector.iter().all(|(k, v)| labels.get(k) == Some(v))
    {
        return false;
    }
    let Some(required) = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
    else {
        return true;
    };
    let name = node.metadata.name.clone().unwrap_or_default();
    required.node_selector_terms.iter().any(|term| {
        let expressions = term.match_expressions.iter().flatten();
        let fields = term.match_fields.iter().flatten();
        let any = term
            .match_expressions
            .as_ref()
            .is_some_and(|e| !e.is_empty())
            || term.match_fields.as_ref().is_some_and(|f| !f.is_empty());
        any && expressions
            .into_iter()
            .all(|r| requirement_holds(r, labels.get(&r.key)))
            && fields
                .into_iter()
                .all(|r| r.key == "metadata.name" && requirement_holds(r, Some(&name)))
    })
}

/// One `NodeSelectorRequirement` against the value of its key (`None`: the node has none).
fn requirement_holds(
    r: &k8s_openapi::api::core::v1::NodeSelectorRequirement,
    value: Option<&String>,
) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    let number = |v: &str| v.parse::<i64>().ok();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), Some(bound)) = (
                value.and_then(|v| number(v)),
                values.first().and_then(|v| number(v)),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                have > bound
            } else {
                have < bound
            }
        }
        _ => false,
    }
}

/// Upstream's `FitError` message for the nodes that did not fit: `0/3 nodes are available:
/// 1 Insufficient cpu, 2 node(s) ...` (each reason counted, sorted), then what the default
/// preemption plugin adds. runlet does not preempt, and with every pod at the default priority
/// there is nothing to evict: `No preemption victims found for incoming pod` where preemption
/// would have been tried, `Preemption is not helpful for scheduling` where not. Both are a
/// `FitError` message of their own inside the first, hence upstream's double period.
pub fn fit_error(total: usize, misfits: &[Misfit]) -> String {
    if total == 0 {
        return "no nodes available to schedule pods".into();
    }
    fn histogram<'a>(reasons: impl Iterator<Item = &'a str>) -> String {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for r in reasons {
            *counts.entry(r).or_default() += 1;
        }
        let mut parts: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
        parts.sort();
        parts.join(", ")
    }
    let filters = histogram(
        misfits
            .iter()
            .flat_map(|m| m.reasons.iter().map(String::as_str)),
    );
    let preemption = histogram(misfits.iter().map(|m| {
        if m.preemption_may_help {
            "No preemption victims found for incoming pod"
        } else {
            "Preemption is not helpful for scheduling"
        }
    }));
    format!(
        "0/{total} nodes are available: {filters}. preemption: 0/{total} nodes are available: {preemption}.."
    )
}

/// Upstream's `FitError` message when a `PreFilter` plugin (VolumeBinding for a missing
/// claim) ruled the pod out before any node was looked at: its reason, and preemption not
/// helping on any node.
pub fn prefilter_error(total: usize, why: &str) -> String {
    if total == 0 {
        return "no nodes available to schedule pods".into();
    }
    format!(
        "0/{total} nodes are available: {why}. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling.."
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
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
    fn ephemeral_storage_requests_must_fit_the_node_s_allocatable() {
        let mut n = node("2", true);
        n.status
            .as_mut()
            .unwrap()
            .allocatable
            .as_mut()
            .unwrap()
            .insert(
                "ephemeral-storage".into(),
                k8s_openapi::apimachinery::pkg::api::resource::Quantity("1Gi".into()),
            );
        let wants = |size: &str| {
            pod(json!({"containers": [{"name": "c",
                "resources": {"requests": {"ephemeral-storage": size}}}]}))
        };
        let fits = |p: &Pod| misfit(p, &n, &Resources::default(), &pod_requests(p));
        assert!(fits(&wants("512Mi")).is_none());
        let big = wants("2Gi");
        assert_eq!(
            fits(&big).map(|m| m.reasons),
            Some(vec!["Insufficient ephemeral-storage".to_string()])
        );
        assert_eq!(
            admission_failure(&big, &n, &Resources::default()),
            Some((
                "OutOfephemeral-storage".into(),
                "Node didn't have enough resource: ephemeral-storage, requested: 2147483648, used: 0, capacity: 1073741824"
                    .into()
            ))
        );
    }

    #[test]
    fn extended_resources_and_hugepages_must_be_offered_by_the_node() {
        let mut n = node("2", true);
        let offered = n.status.as_mut().unwrap().allocatable.as_mut().unwrap();
        offered.insert("hugepages-2Mi".into(), Quantity("0".into()));
        offered.insert("example.com/fpga".into(), Quantity("1".into()));
        let wants = |name: &str, q: &str| {
            pod(json!({"containers": [{"name": "c",
                "resources": {"requests": {name: q}, "limits": {name: q}}}]}))
        };
        let reasons =
            |p: &Pod| misfit(p, &n, &Resources::default(), &pod_requests(p)).map(|m| m.reasons);
        assert_eq!(
            reasons(&wants("example.com/gpu", "1")),
            Some(vec!["Insufficient example.com/gpu".to_string()]),
            "a GPU job does not run without a GPU"
        );
        assert_eq!(
            reasons(&wants("hugepages-2Mi", "4Mi")),
            Some(vec!["Insufficient hugepages-2Mi".to_string()])
        );
        assert_eq!(reasons(&wants("example.com/fpga", "1")), None);
        let mut used = Resources::default();
        used.add(&pod_requests(&wants("example.com/fpga", "1")));
        assert_eq!(
            misfit(
                &wants("example.com/fpga", "1"),
                &n,
                &used,
                &pod_requests(&wants("example.com/fpga", "1"))
            )
            .map(|m| m.reasons),
            Some(vec!["Insufficient example.com/fpga".to_string()]),
            "what running pods use is counted"
        );
        // The kubelet leaves an extended resource the node lacks to a device plugin
        // (`removeMissingExtendedResources`), not hugepages.
        assert_eq!(
            admission_failure(&wants("example.com/gpu", "1"), &n, &Resources::default()),
            None
        );
        assert_eq!(
            admission_failure(&wants("hugepages-2Mi", "4Mi"), &n, &Resources::default()),
            Some((
                "OutOfhugepages-2Mi".into(),
                "Node didn't have enough resource: hugepages-2Mi, requested: 4194304, used: 0, capacity: 0".into()
            ))
        );
        assert!(is_extended_resource("example.com/gpu"));
        assert!(!is_extended_resource("hugepages-2Mi"));
        assert!(!is_extended_resource("kubernetes.io/batteries"));
    }

    #[test]
    fn the_kubelet_admission_names_what_a_pod_bound_without_the_scheduler_lacks() {
        let n = node("2", true);
        let greedy =
            pod(json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": "64"}}}]}));
        assert_eq!(
            admission_failure(&greedy, &n, &Resources::default()),
            Some((
                "OutOfcpu".into(),
                "Node didn't have enough resource: cpu, requested: 64000, used: 0, capacity: 2000"
                    .into()
            ))
        );
        let elsewhere = pod(json!({"containers": [], "nodeSelector": {"disk": "hdd"}}));
        assert_eq!(
            admission_failure(&elsewhere, &n, &Resources::default()).map(|r| r.0),
            Some("NodeAffinity".into())
        );
        let mut tainted = node("2", true);
        tainted.spec = Some(
            serde_json::from_value(json!({"taints": [
            {"key": "evict", "effect": "NoExecute"}, {"key": "x", "effect": "NoSchedule"}]}))
            .unwrap(),
        );
        let plain = pod(json!({"containers": []}));
        assert_eq!(
            admission_failure(&plain, &tainted, &Resources::default()),
            Some((
                "TaintToleration".into(),
                "Predicate TaintToleration failed: node(s) had taints that the pod didn't tolerate"
                    .into()
            )),
            "only NoExecute taints count"
        );
        let tolerant =
            pod(json!({"containers": [], "tolerations": [{"key": "evict", "operator": "Exists"}]}));
        assert_eq!(
            admission_failure(&tolerant, &tainted, &Resources::default()),
            None
        );
    }

    #[test]
    fn required_node_affinity_is_matched_as_upstream() {
        let mut n = node("4", true);
        n.metadata.name = Some("n1".into());
        n.metadata.labels = Some(
            [
                ("disk".to_string(), "ssd".to_string()),
                ("gen".to_string(), "5".to_string()),
            ]
            .into(),
        );
        let affine = |terms: serde_json::Value| {
            pod(json!({"containers": [], "affinity": {"nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}}))
        };
        let cases = [
            (
                json!([{"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}]),
                true,
            ),
            (
                json!([{"matchExpressions": [{"key": "disk", "operator": "In", "values": ["hdd"]}]}]),
                false,
            ),
            (
                json!([{"matchExpressions": [{"key": "disk", "operator": "In", "values": ["hdd"]}]},
                    {"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["4"]}]}]),
                true,
            ),
            (
                json!([{"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"},
                                          {"key": "gen", "operator": "Lt", "values": ["5"]}]}]),
                false,
            ),
            (
                json!([{"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n1"]}]}]),
                false,
            ),
            (
                json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]),
                true,
            ),
            (json!([{}]), false),
        ];
        for (terms, fits) in cases {
            assert_eq!(
                matches_node_affinity(&affine(terms.clone()), &n),
                fits,
                "{terms}"
            );
        }
        let req = pod_requests(&affine(json!([{}])));
        assert_eq!(
            misfit(&affine(json!([{}])), &n, &Resources::default(), &req).map(|m| m.reasons),
            Some(vec![
                "node(s) didn't match Pod's node affinity/selector".to_string()
            ])
        );
    }

    #[test]
    fn misfits_name_the_reason_as_upstream() {
        let p =
            pod(json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": "2"}}}]}));
        let req = pod_requests(&p);
        assert_eq!(
            misfit(&p, &node("1", true), &Resources::default(), &req),
            Some(Misfit {
                reasons: vec!["Insufficient cpu".into()],
                preemption_may_help: true
            })
        );
        assert_eq!(
            misfit(&p, &node("4", true), &Resources::default(), &req),
            None
        );
        assert_eq!(
            misfit(&p, &node("4", false), &Resources::default(), &req),
            Some(Misfit::unresolvable(
                "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
            ))
        );
        let full = Resources {
            pods: 2,
            ..Default::default()
        };
        assert_eq!(
            misfit(&p, &node("4", true), &full, &req).map(|m| m.reasons),
            Some(vec!["Too many pods".to_string()])
        );
        let huge = pod(json!({"containers": [{"name": "c",
            "resources": {"requests": {"cpu": "8", "memory": "10Gi"}}}]}));
        assert_eq!(
            misfit(&huge, &node("4", true), &full, &pod_requests(&huge)).map(|m| m.reasons),
            Some(vec![
                "Too many pods".to_string(),
                "Insufficient cpu".into(),
                "Insufficient memory".into()
            ]),
            "every resource that is short"
        );
        let sel = pod(json!({"nodeSelector": {"disk": "hdd"}, "containers": []}));
        assert_eq!(
            misfit(
                &sel,
                &node("4", true),
                &Resources::default(),
                &pod_requests(&sel)
            ),
            Some(Misfit::unresolvable(
                "node(s) didn't match Pod's node affinity/selector"
            ))
        );
        let tolerant = pod(json!({"tolerations": [{"operator": "Exists"}], "containers": []}));
        assert_eq!(
            misfit(
                &tolerant,
                &node("4", false),
                &Resources::default(),
                &pod_requests(&tolerant)
            ),
            None
        );
    }

    #[test]
    fn fit_error_counts_reasons() {
        let resources = |reasons: &[&str]| Misfit {
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
            preemption_may_help: true,
        };
        let msg = fit_error(
            3,
            &[
                resources(&["Insufficient cpu", "Insufficient memory"]),
                resources(&["Insufficient cpu"]),
                Misfit::unresolvable("node(s) didn't match Pod's node affinity/selector"),
            ],
        );
        assert_eq!(
            msg,
            "0/3 nodes are available: 1 Insufficient memory, 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.."
        );
        assert_eq!(fit_error(0, &[]), "no nodes available to schedule pods");
    }
}
