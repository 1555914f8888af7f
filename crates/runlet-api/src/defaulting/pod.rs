//! Pod and pod-spec defaulting: upstream's `SetDefaults_PodSpec`, `SetDefaults_Container`,
//! `SetDefaults_Volume` and friends from `pkg/apis/core/v1/defaults.go`, applied wherever a pod
//! spec appears (Pods, Job templates, CronJob job templates), plus the Pod-only
//! `SetDefaults_Pod` and the Pod strategy's `PrepareForCreate`.

use super::{
    child, default_nonzero, default_str, default_value, each_item, ensure_child, is_unset, qos,
};
use serde_json::{Map, Value, json};

/// Where a pod spec sits: Pod-only defaults (`restartPolicy: Always`, requests from limits,
/// `enableServiceLinks`) apply to Pods and not to templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SpecOf {
    Pod,
    Template,
}

/// `SetDefaults_Pod` and the defaults of everything inside a Pod.
pub(super) fn default_pod(root: &mut Map<String, Value>) {
    let Some(spec) = ensure_child(root, "spec") else {
        return;
    };
    default_pod_spec(spec, SpecOf::Pod);
}

/// Defaults a pod template (`spec.template` of a Job): its metadata's Go rendering and its spec.
pub(super) fn default_pod_template(template: &mut Map<String, Value>) {
    super::template_metadata(template);
    if let Some(spec) = ensure_child(template, "spec") {
        default_pod_spec(spec, SpecOf::Template);
    }
}

/// `SetDefaults_PodSpec` (and, for Pods, `SetDefaults_Pod`) with the per-field defaulters the
/// generated `SetObjectDefaults_*` functions call.
pub(super) fn default_pod_spec(spec: &mut Map<String, Value>, of: SpecOf) {
    if of == SpecOf::Pod {
        for key in ["containers", "initContainers"] {
            for c in each_item(spec, key) {
                requests_from_limits(c);
            }
        }
        default_value(spec, "enableServiceLinks", true);
        if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
            for key in ["containers", "initContainers"] {
                for c in each_item(spec, key) {
                    host_network_ports(c);
                }
            }
        }
    }
    // `SetDefaults_PodSpec`, which templates get too: a Job's template without one is then
    // refused once, by the Job's own "Required value: valid values" check.
    default_str(spec, "restartPolicy", "Always");
    default_str(spec, "dnsPolicy", "ClusterFirst");
    default_value(spec, "securityContext", json!({}));
    default_value(spec, "terminationGracePeriodSeconds", 30);
    default_str(spec, "schedulerName", "default-scheduler");
    service_account_alias(spec);
    for key in ["containers", "initContainers", "ephemeralContainers"] {
        for c in each_item(spec, key) {
            default_container(c);
        }
    }
    for v in each_item(spec, "volumes") {
        default_volume(v);
    }
}

/// The v1 conversion keeps the deprecated `serviceAccount` an alias of `serviceAccountName`:
/// the new field wins, the old one fills it when it is empty, and the old one is written back.
fn service_account_alias(spec: &mut Map<String, Value>) {
    let new = spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let old = spec
        .get("serviceAccount")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = if new.is_empty() { old } else { new };
    if name.is_empty() {
        spec.remove("serviceAccountName");
        spec.remove("serviceAccount");
    } else {
        spec.insert("serviceAccountName".into(), Value::from(name.clone()));
        spec.insert("serviceAccount".into(), Value::from(name));
    }
}

/// `SetDefaults_Pod`: a container's missing requests default to its limits.
fn requests_from_limits(c: &mut Map<String, Value>) {
    let Some(resources) = child(c, "resources") else {
        return;
    };
    let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    let Some(requests) = ensure_child(resources, "requests") else {
        return;
    };
    for (k, v) in limits {
        requests.entry(k).or_insert(v);
    }
}

/// `defaultHostNetworkPorts`: with host networking a port's `hostPort` is its `containerPort`.
fn host_network_ports(c: &mut Map<String, Value>) {
    for p in each_item(c, "ports") {
        if p.get("hostPort")
            .and_then(Value::as_i64)
            .is_none_or(|v| v == 0)
            && let Some(cp) = p.get("containerPort").cloned()
        {
            p.insert("hostPort".into(), cp);
        }
    }
}

/// `SetDefaults_Container` with its ports, env, probes and lifecycle handlers.
fn default_container(c: &mut Map<String, Value>) {
    if c.get("imagePullPolicy")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        let policy = if image_tag_is_latest(image) {
            "Always"
        } else {
            "IfNotPresent"
        };
        c.insert("imagePullPolicy".into(), Value::from(policy));
    }
    default_str(c, "terminationMessagePath", "/dev/termination-log");
    default_str(c, "terminationMessagePolicy", "File");
    // Go's non-pointer ResourceRequirements is always printed, as `{}` when empty.
    default_value(c, "resources", json!({}));
    for p in each_item(c, "ports") {
        default_str(p, "protocol", "TCP");
    }
    for e in each_item(c, "env") {
        if let Some(field_ref) = child(e, "valueFrom").and_then(|vf| child(vf, "fieldRef")) {
            default_str(field_ref, "apiVersion", "v1");
        }
    }
    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = child(c, key) {
            default_probe(probe);
        }
    }
    if let Some(lifecycle) = child(c, "lifecycle") {
        for key in ["postStart", "preStop"] {
            if let Some(get) = child(lifecycle, key).and_then(|h| child(h, "httpGet")) {
                default_http_get(get);
            }
        }
    }
}

/// `SetDefaults_Probe`, `SetDefaults_HTTPGetAction` and the gRPC service's `+default=""`.
fn default_probe(probe: &mut Map<String, Value>) {
    default_nonzero(probe, "timeoutSeconds", 1);
    default_nonzero(probe, "periodSeconds", 10);
    default_nonzero(probe, "successThreshold", 1);
    default_nonzero(probe, "failureThreshold", 3);
    if let Some(get) = child(probe, "httpGet") {
        default_http_get(get);
    }
    if let Some(grpc) = child(probe, "grpc") {
        default_value(grpc, "service", "");
    }
}

fn default_http_get(get: &mut Map<String, Value>) {
    default_str(get, "path", "/");
    default_str(get, "scheme", "HTTP");
}

/// The volume sources a `Volume` may carry; one of them must be set.
const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// `SetDefaults_Volume` (no source means `emptyDir: {}`) and each source's defaults.
fn default_volume(v: &mut Map<String, Value>) {
    if VOLUME_SOURCES.iter().all(|k| is_unset(v, k)) {
        v.insert("emptyDir".into(), json!({}));
    }
    default_volume_source(v);
}

/// Defaults shared by pod volumes and persistent volumes (`SetDefaults_*VolumeSource`).
pub(super) fn default_volume_source(v: &mut Map<String, Value>) {
    if let Some(host_path) = child(v, "hostPath") {
        default_value(host_path, "type", "");
    }
    for key in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(source) = child(v, key) {
            default_value(source, "defaultMode", 420);
        }
    }
    if let Some(downward) = child(v, "downwardAPI") {
        downward_items(downward);
    }
    if let Some(projected) = child(v, "projected") {
        for source in each_item(projected, "sources") {
            if let Some(downward) = child(source, "downwardAPI") {
                downward_items(downward);
            }
            if let Some(token) = child(source, "serviceAccountToken") {
                default_value(token, "expirationSeconds", 3600);
            }
        }
    }
    if let Some(iscsi) = child(v, "iscsi") {
        default_str(iscsi, "iscsiInterface", "default");
    }
    if let Some(rbd) = child(v, "rbd") {
        default_str(rbd, "pool", "rbd");
        default_str(rbd, "user", "admin");
        default_str(rbd, "keyring", "/etc/ceph/keyring");
    }
    if let Some(azure) = child(v, "azureDisk") {
        default_value(azure, "cachingMode", "ReadWrite");
        default_value(azure, "fsType", "ext4");
        default_value(azure, "readOnly", false);
        default_value(azure, "kind", "Shared");
    }
    if let Some(scale_io) = child(v, "scaleIO") {
        default_str(scale_io, "storageMode", "ThinProvisioned");
        default_str(scale_io, "fsType", "xfs");
    }
    if let Some(spec) = child(v, "ephemeral")
        .and_then(|e| child(e, "volumeClaimTemplate"))
        .and_then(|t| child(t, "spec"))
    {
        default_value(spec, "volumeMode", "Filesystem");
    }
}

fn downward_items(downward: &mut Map<String, Value>) {
    for item in each_item(downward, "items") {
        if let Some(field_ref) = child(item, "fieldRef") {
            default_str(field_ref, "apiVersion", "v1");
        }
    }
}

/// Whether upstream's `parsers.ParseImageName` yields the tag `latest`: an explicit `:latest`,
/// or a valid reference with neither tag nor digest. Unparseable references yield no tag.
pub(super) fn image_tag_is_latest(image: &str) -> bool {
    let (name_and_tag, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if digest.is_some_and(|d| !valid_digest(d)) {
        return false;
    }
    let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_and_tag
        .get(last_slash..)
        .and_then(|tail| tail.rfind(':'))
    {
        Some(i) => {
            let split = last_slash + i;
            (
                name_and_tag.get(..split).unwrap_or(""),
                name_and_tag.get(split + 1..),
            )
        }
        None => (name_and_tag, None),
    };
    if !valid_name(name) {
        return false;
    }
    match tag {
        Some(t) => valid_tag(t) && t == "latest",
        None => digest.is_none(),
    }
}

/// docker/distribution's reference grammar, enough to tell valid references from invalid ones.
fn valid_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 {
        let first = parts.first().copied().unwrap_or("");
        if first.contains('.') || first.contains(':') || first == "localhost" {
            if !valid_domain(first) {
                return false;
            }
            parts.remove(0);
        }
    }
    parts.iter().all(|p| valid_path_component(p))
}

fn valid_domain(domain: &str) -> bool {
    let (host, port) = match domain.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (domain, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    host_ok && port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`
fn valid_path_component(p: &str) -> bool {
    let bytes = p.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.first().is_none_or(|b| !alnum(*b)) || bytes.last().is_none_or(|b| !alnum(*b)) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes.get(i).copied().unwrap_or(0);
        if alnum(b) {
            i += 1;
            continue;
        }
        let start = i;
        while bytes.get(i).is_some_and(|b| !alnum(*b)) {
            i += 1;
        }
        let sep = p.get(start..i).unwrap_or("");
        if !(sep == "." || sep == "_" || sep == "__" || sep.chars().all(|c| c == '-')) {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(t: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    t.len() <= 128
        && t.chars().next().is_some_and(word)
        && t.chars().all(|c| word(c) || c == '.' || c == '-')
}

/// `algorithm:hex` with a known-shaped algorithm and at least 32 hex characters.
fn valid_digest(d: &str) -> bool {
    match d.split_once(':') {
        Some((alg, hex)) => {
            !alg.is_empty()
                && alg
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c))
                && hex.len() >= 32
                && hex.chars().all(|c| c.is_ascii_hexdigit())
        }
        None => false,
    }
}

/// The Pod strategy's `PrepareForCreate` (status reset to `Pending` with the computed QoS
/// class, the `SchedulingGated` condition) plus the defaults of the admission plugins every
/// cluster runs: `Priority` (priority 0, `PreemptLowerPriority`), `DefaultTolerationSeconds`
/// (tolerate `not-ready`/`unreachable` for 300 s) and `ServiceAccount` (the `default` account;
/// the token volume it also mounts is not added).
pub(super) fn prepare_pod(root: &mut Map<String, Value>) {
    let labels = root
        .get("metadata")
        .and_then(|m| m.get("labels"))
        .cloned()
        .unwrap_or(Value::Null);
    if let Some(spec) = child(root, "spec") {
        admission_defaults(spec);
        merge_label_keys(spec, &labels);
    }
    let qos_class = root.get("spec").map_or("BestEffort", qos::pod_qos_class);
    let mut status = Map::new();
    status.insert("phase".into(), Value::from("Pending"));
    let gated = root
        .get("spec")
        .and_then(|s| s.get("schedulingGates"))
        .and_then(Value::as_array)
        .is_some_and(|g| !g.is_empty());
    if gated {
        status.insert(
            "conditions".into(),
            json!([{
                "type": "PodScheduled",
                "status": "False",
                "lastProbeTime": null,
                "lastTransitionTime": null,
                "reason": "SchedulingGated",
                "message": "Scheduling is blocked due to non-empty scheduling gates",
            }]),
        );
    }
    status.insert("qosClass".into(), Value::from(qos_class));
    root.insert("status".into(), Value::Object(status));
}

/// The strategy's `applyMatchLabelKeysAndMismatchLabelKeys` (1.33's
/// `MatchLabelKeysInPodAffinity`): each pod affinity and anti-affinity term with a label
/// selector gets, for each of its `matchLabelKeys` the pod has, `key In (value)`, and for each
/// of its `mismatchLabelKeys`, `key NotIn (value)`; so the pods of one Job (keyed by
/// `batch.kubernetes.io/job-name`) repel or attract only each other.
fn merge_label_keys(spec: &mut Map<String, Value>, labels: &Value) {
    let Some(affinity) = child(spec, "affinity") else {
        return;
    };
    for kind in ["podAffinity", "podAntiAffinity"] {
        let Some(terms) = child(affinity, kind) else {
            continue;
        };
        for (list, weighted) in [
            ("requiredDuringSchedulingIgnoredDuringExecution", false),
            ("preferredDuringSchedulingIgnoredDuringExecution", true),
        ] {
            let Some(Value::Array(items)) = terms.get_mut(list) else {
                continue;
            };
            for item in items {
                let term = if weighted {
                    item.get_mut("podAffinityTerm")
                } else {
                    Some(item)
                };
                if let Some(Value::Object(term)) = term {
                    merge_term_label_keys(term, labels);
                }
            }
        }
    }
}

fn merge_term_label_keys(term: &mut Map<String, Value>, labels: &Value) {
    let requirement = |key: &Value, operator: &str| {
        let key = key.as_str()?;
        let value = labels.get(key)?.as_str()?;
        Some(json!({"key": key, "operator": operator, "values": [value]}))
    };
    let added: Vec<Value> = [("matchLabelKeys", "In"), ("mismatchLabelKeys", "NotIn")]
        .iter()
        .flat_map(|(field, operator)| {
            term.get(*field)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|key| requirement(key, operator))
        })
        .collect();
    let Some(Value::Object(selector)) = term.get_mut("labelSelector") else {
        return;
    };
    if added.is_empty() {
        return;
    }
    let expressions = selector
        .entry("matchExpressions")
        .or_insert_with(|| json!([]));
    if let Value::Array(list) = expressions {
        list.extend(added);
    }
}

fn admission_defaults(spec: &mut Map<String, Value>) {
    if spec
        .get("priorityClassName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        default_value(spec, "priority", 0);
        default_value(spec, "preemptionPolicy", "PreemptLowerPriority");
    }
    let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
    if !tolerations.is_array() {
        *tolerations = json!([]);
    }
    if let Some(list) = tolerations.as_array_mut() {
        for taint in [
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable",
        ] {
            if !list.iter().any(|t| tolerates_no_execute(t, taint)) {
                list.push(json!({
                    "key": taint,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                }));
            }
        }
    }
    if spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        spec.insert("serviceAccountName".into(), Value::from("default"));
        spec.insert("serviceAccount".into(), Value::from("default"));
    }
}

/// Whether a toleration already covers the `NoExecute` taint `key` (as the admission plugin's
/// check: an empty effect matches every effect, an empty key with `Exists` every key).
fn tolerates_no_execute(t: &Value, key: &str) -> bool {
    let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
    let t_key = t.get("key").and_then(Value::as_str).unwrap_or("");
    let op = t.get("operator").and_then(Value::as_str).unwrap_or("Equal");
    (effect.is_empty() || effect == "NoExecute")
        && (t_key == key || (t_key.is_empty() && op == "Exists"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaulted_pod(spec: Value) -> Value {
        let mut pod =
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec});
        if let Some(root) = pod.as_object_mut() {
            default_pod(root);
        }
        pod
    }

    #[test]
    fn match_label_keys_are_merged_into_the_pod_s_affinity_selectors_at_creation() {
        let term = json!({"labelSelector": {"matchLabels": {"grp": "mk"}},
            "matchLabelKeys": ["batch.kubernetes.io/job-name", "absent"],
            "mismatchLabelKeys": ["team"], "topologyKey": "kubernetes.io/hostname"});
        let mut pod = json!({"metadata": {"name": "p", "labels": {"grp": "mk",
                "batch.kubernetes.io/job-name": "mka", "team": "a"}},
            "spec": {"affinity": {"podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [term],
                "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm":
                    {"matchLabelKeys": ["team"], "topologyKey": "zone"}}]}}}});
        if let Some(root) = pod.as_object_mut() {
            prepare_pod(root);
        }
        let anti = &pod["spec"]["affinity"]["podAntiAffinity"];
        assert_eq!(
            anti["requiredDuringSchedulingIgnoredDuringExecution"][0]["labelSelector"],
            json!({"matchLabels": {"grp": "mk"}, "matchExpressions": [
                {"key": "batch.kubernetes.io/job-name", "operator": "In", "values": ["mka"]},
                {"key": "team", "operator": "NotIn", "values": ["a"]}]})
        );
        // A term without a selector selects nothing, and stays so.
        assert!(
            anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
                .get("labelSelector")
                .is_none()
        );
    }

    #[test]
    fn image_pull_policy_follows_the_tag() {
        // pkg/apis/core/v1/defaults.go SetDefaults_Container via parsers.ParseImageName.
        assert!(image_tag_is_latest("busybox"));
        assert!(image_tag_is_latest("busybox:latest"));
        assert!(image_tag_is_latest("registry.example.com:5000/team/app"));
        assert!(!image_tag_is_latest("perl:5.34.0"));
        assert!(!image_tag_is_latest(
            "registry.example.com:5000/team/app:v1"
        ));
        assert!(!image_tag_is_latest(
            "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        ));
        assert!(!image_tag_is_latest("Busybox"));
        assert!(!image_tag_is_latest(""));
    }

    #[test]
    fn pod_spec_gets_upstream_defaults() {
        let pod = defaulted_pod(json!({"containers": [{"name": "c", "image": "nginx",
            "ports": [{"containerPort": 80}],
            "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "livenessProbe": {"httpGet": {"port": 80}}}],
            "volumes": [{"name": "a"}, {"name": "s", "secret": {"secretName": "x"}},
                        {"name": "c", "configMap": {"name": "x"}}]}));
        let spec = &pod["spec"];
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["dnsPolicy"], "ClusterFirst");
        assert_eq!(spec["schedulerName"], "default-scheduler");
        assert_eq!(spec["terminationGracePeriodSeconds"], 30);
        assert_eq!(spec["securityContext"], json!({}));
        assert_eq!(spec["enableServiceLinks"], true);
        let c = &spec["containers"][0];
        assert_eq!(c["imagePullPolicy"], "Always");
        assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(c["terminationMessagePolicy"], "File");
        assert_eq!(c["resources"], json!({}));
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        assert_eq!(
            c["livenessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                   "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(spec["volumes"][0]["emptyDir"], json!({}));
        assert_eq!(spec["volumes"][1]["secret"]["defaultMode"], 420);
        assert_eq!(spec["volumes"][2]["configMap"]["defaultMode"], 420);
    }

    #[test]
    fn pod_requests_default_from_limits_but_template_requests_do_not() {
        let limits = json!({"containers": [{"name": "c", "image": "x:1",
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}}]});
        let pod = defaulted_pod(limits.clone());
        assert_eq!(
            pod["spec"]["containers"][0]["resources"]["requests"],
            json!({"cpu": "500m", "memory": "1Gi"})
        );
        let mut template = json!({"spec": limits});
        if let Some(t) = template.as_object_mut() {
            default_pod_template(t);
        }
        assert_eq!(
            template["spec"]["containers"][0]["resources"]["requests"],
            json!({"cpu": "500m"})
        );
        assert_eq!(template["spec"]["restartPolicy"], "Always");
        assert!(template["spec"].get("enableServiceLinks").is_none());
        assert_eq!(template["metadata"], json!({"creationTimestamp": null}));
    }

    #[test]
    fn host_network_pods_get_host_ports() {
        let pod = defaulted_pod(json!({"hostNetwork": true,
            "containers": [{"name": "c", "image": "x:1", "ports": [{"containerPort": 8080}]}]}));
        assert_eq!(pod["spec"]["containers"][0]["ports"][0]["hostPort"], 8080);
    }

    #[test]
    fn deprecated_service_account_is_an_alias() {
        let pod = defaulted_pod(json!({"serviceAccount": "old", "containers": []}));
        assert_eq!(pod["spec"]["serviceAccountName"], "old");
        assert_eq!(pod["spec"]["serviceAccount"], "old");
        let pod = defaulted_pod(
            json!({"serviceAccountName": "new", "serviceAccount": "old", "containers": []}),
        );
        assert_eq!(pod["spec"]["serviceAccount"], "new");
    }

    #[test]
    fn prepare_pod_resets_status_and_adds_admission_defaults() {
        let mut pod = defaulted_pod(json!({"containers": [{"name": "c", "image": "x:1"}],
            "schedulingGates": [{"name": "wait"}]}));
        pod["status"] = json!({"phase": "Running", "podIP": "10.0.0.1"});
        if let Some(root) = pod.as_object_mut() {
            prepare_pod(root);
        }
        assert_eq!(pod["status"]["phase"], "Pending");
        assert_eq!(pod["status"]["qosClass"], "BestEffort");
        assert!(pod["status"].get("podIP").is_none());
        assert_eq!(pod["status"]["conditions"][0]["reason"], "SchedulingGated");
        assert_eq!(pod["spec"]["priority"], 0);
        assert_eq!(pod["spec"]["preemptionPolicy"], "PreemptLowerPriority");
        assert_eq!(pod["spec"]["serviceAccountName"], "default");
        assert_eq!(pod["spec"]["tolerations"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            pod["spec"]["tolerations"][1]["key"],
            "node.kubernetes.io/unreachable"
        );
        // Idempotent: a second preparation adds nothing.
        if let Some(root) = pod.as_object_mut() {
            prepare_pod(root);
        }
        assert_eq!(pod["spec"]["tolerations"].as_array().map(Vec::len), Some(2));
    }
}
