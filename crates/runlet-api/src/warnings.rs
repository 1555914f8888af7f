//! The warnings a write answers with (the `Warning` header kubectl prints as `Warning: ...`):
//! upstream's `WarningsOnCreate` / `WarningsOnUpdate` of the pod, Job and CronJob strategies
//! (`pkg/api/pod/warnings.go`, `pkg/api/job/warnings.go`). They never refuse a write; they say
//! what upstream says about something that works but probably is not what was meant, such as a
//! second definition of an env var that `kubectl apply` may drop.

use crate::field::Path;
use crate::resources::ResourceInfo;
use crate::validation::format::is_dns1123_label;
use crate::validation::quantity::Quantity;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// Upstream's `completionsSoftLimit` and `parallelismSoftLimitForUnlimitedCompletions`.
const COMPLETIONS_SOFT_LIMIT: i64 = 100_000;
const PARALLELISM_SOFT_LIMIT: i64 = 10_000;

/// The warnings for creating `obj`, as stored (defaulted).
pub fn on_create(info: &ResourceInfo, obj: &Value) -> Vec<String> {
    match (info.group, info.kind) {
        ("", "Pod") => pod_warnings(None, obj),
        ("batch", "Job") => {
            let mut warnings = name_warnings(obj);
            warnings.extend(job_spec_warnings(&Path::new("spec"), &obj["spec"]));
            warnings
        }
        ("batch", "CronJob") => {
            let mut warnings = name_warnings(obj);
            let path = Path::new("spec").child("jobTemplate").child("spec");
            warnings.extend(job_spec_warnings(
                &path,
                &obj["spec"]["jobTemplate"]["spec"],
            ));
            warnings
        }
        _ => Vec::new(),
    }
}

/// The warnings for updating `old` to `new`: a Job's or CronJob's when its spec changed (a new
/// generation), as upstream's strategies. A pod update has none: upstream skips them on that
/// frequent path ("humans don't typically interact directly with pods").
pub fn on_update(info: &ResourceInfo, new: &Value, old: &Value) -> Vec<String> {
    let spec_changed = new["metadata"]["generation"] != old["metadata"]["generation"];
    match (info.group, info.kind) {
        ("batch", "Job") if spec_changed => job_spec_warnings(&Path::new("spec"), &new["spec"]),
        ("batch", "CronJob") if spec_changed => {
            let path = Path::new("spec").child("jobTemplate").child("spec");
            job_spec_warnings(&path, &new["spec"]["jobTemplate"]["spec"])
        }
        _ => Vec::new(),
    }
}

/// A Job's or CronJob's name becomes its pods' names and host names, which want a DNS label.
fn name_warnings(obj: &Value) -> Vec<String> {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let errors = is_dns1123_label(name);
    if name.is_empty() || errors.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "metadata.name: this is used in Pod names and hostnames, which can result in surprising behavior; a DNS label is recommended: [{}]",
        errors.join(" ")
    )]
}

/// `WarningsForJobSpec`.
fn job_spec_warnings(path: &Path, spec: &Value) -> Vec<String> {
    let mut warnings = Vec::new();
    if spec["completionMode"] == "Indexed"
        && spec["completions"].as_i64().unwrap_or(0) > COMPLETIONS_SOFT_LIMIT
        && spec["parallelism"].as_i64().unwrap_or(0) > PARALLELISM_SOFT_LIMIT
    {
        warnings.push(format!(
            "{}: In Indexed Jobs with a number of completions higher than 10^5 and a parallelism higher than 10^4, Kubernetes might not be able to track completedIndexes when a big number of indexes fail",
            path.as_str()
        ));
    }
    warnings.extend(pod_warnings(
        Some(&path.child("template")),
        &spec["template"],
    ));
    warnings
}

/// Upstream's `deprecatedNodeLabels`.
fn deprecated_node_label(key: &str) -> Option<&'static str> {
    Some(match key {
        "beta.kubernetes.io/arch" => r#"deprecated since v1.14; use "kubernetes.io/arch" instead"#,
        "beta.kubernetes.io/os" => r#"deprecated since v1.14; use "kubernetes.io/os" instead"#,
        "failure-domain.beta.kubernetes.io/region" => {
            r#"deprecated since v1.17; use "topology.kubernetes.io/region" instead"#
        }
        "failure-domain.beta.kubernetes.io/zone" => {
            r#"deprecated since v1.17; use "topology.kubernetes.io/zone" instead"#
        }
        "beta.kubernetes.io/instance-type" => {
            r#"deprecated since v1.17; use "node.kubernetes.io/instance-type" instead"#
        }
        _ => return None,
    })
}

/// Upstream's `deprecatedAnnotations`.
const DEPRECATED_ANNOTATIONS: [(&str, &str); 3] = [
    (
        "scheduler.alpha.kubernetes.io/critical-pod",
        r#"non-functional in v1.16+; use the "priorityClassName" field instead"#,
    ),
    (
        "security.alpha.kubernetes.io/sysctls",
        r#"non-functional in v1.11+; use the "sysctls" field instead"#,
    ),
    (
        "security.alpha.kubernetes.io/unsafe-sysctls",
        r#"non-functional in v1.11+; use the "sysctls" field instead"#,
    ),
];

/// Volume plugins upstream deprecated or removed, with what it says of each.
const DEPRECATED_VOLUMES: [(&str, &str); 9] = [
    (
        "photonPersistentDisk",
        "deprecated in v1.11, non-functional in v1.16+",
    ),
    ("gitRepo", "deprecated in v1.11"),
    ("scaleIO", "deprecated in v1.16, non-functional in v1.22+"),
    ("flocker", "deprecated in v1.22, non-functional in v1.25+"),
    ("storageos", "deprecated in v1.22, non-functional in v1.25+"),
    ("quobyte", "deprecated in v1.22, non-functional in v1.25+"),
    ("glusterfs", "deprecated in v1.25, non-functional in v1.26+"),
    ("cephfs", "deprecated in v1.28, non-functional in v1.31+"),
    ("rbd", "deprecated in v1.28, non-functional in v1.31+"),
];

const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";
const APPARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

fn items(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

fn under(prefix: Option<&Path>, name: &str) -> Path {
    prefix.cloned().unwrap_or_default().child(name)
}

/// `warningsForPodSpecAndMeta`: `template` is a pod or a pod template (`metadata` and `spec`),
/// `prefix` the template's path (`None` for a pod).
fn pod_warnings(prefix: Option<&Path>, template: &Value) -> Vec<String> {
    let mut warnings = Vec::new();
    let spec = &template["spec"];
    let annotations = &template["metadata"]["annotations"];
    let spec_path = under(prefix, "spec");
    let annotations_path = under(prefix, "metadata").child("annotations");

    if let Some(selector) = spec["nodeSelector"].as_object() {
        for key in selector.keys() {
            if let Some(msg) = deprecated_node_label(key) {
                let path = spec_path.child("nodeSelector").key(key);
                warnings.push(format!("{}: {msg}", path.as_str()));
            }
        }
    }
    let node_affinity = &spec["affinity"]["nodeAffinity"];
    if node_affinity.is_object() {
        let affinity_path = spec_path.child("affinity").child("nodeAffinity");
        let required = affinity_path
            .child("requiredDuringSchedulingIgnoredDuringExecution")
            .child("nodeSelectorTerms");
        for (i, term) in items(
            &node_affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"],
        )
        .iter()
        .enumerate()
        {
            warnings.extend(node_selector_term_warnings(term, &required.index(i)));
        }
        let preferred = affinity_path.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in items(&node_affinity["preferredDuringSchedulingIgnoredDuringExecution"])
            .iter()
            .enumerate()
        {
            warnings.extend(node_selector_term_warnings(
                &term["preference"],
                &preferred.index(i).child("preference"),
            ));
        }
    }
    for (i, constraint) in items(&spec["topologySpreadConstraints"]).iter().enumerate() {
        let path = spec_path.child("topologySpreadConstraints").index(i);
        let key = constraint["topologyKey"].as_str().unwrap_or_default();
        if let Some(msg) = deprecated_node_label(key) {
            warnings.push(format!(
                "{}: {key} is {msg}",
                path.child("topologyKey").as_str()
            ));
        }
        if constraint["labelSelector"].is_null() {
            warnings.push(null_selector(&path.child("labelSelector")));
        }
    }
    for (key, msg) in DEPRECATED_ANNOTATIONS {
        if annotations.get(key).is_some() {
            warnings.push(format!("{}: {msg}", annotations_path.key(key).as_str()));
        }
    }
    for (i, volume) in items(&spec["volumes"]).iter().enumerate() {
        for (plugin, msg) in DEPRECATED_VOLUMES {
            if volume.get(plugin).is_some_and(|v| !v.is_null()) {
                let path = spec_path.child("volumes").index(i).child(plugin);
                warnings.push(format!("{}: {msg}", path.as_str()));
            }
        }
    }
    warnings.extend(duplicate_warnings(
        &spec["hostAliases"],
        "ip",
        &spec_path.child("hostAliases"),
        "ip",
    ));
    warnings.extend(duplicate_warnings(
        &spec["imagePullSecrets"],
        "name",
        &spec_path.child("imagePullSecrets"),
        "name",
    ));
    for (i, secret) in items(&spec["imagePullSecrets"]).iter().enumerate() {
        if secret["name"].as_str().is_none_or(str::is_empty) {
            let path = spec_path.child("imagePullSecrets").index(i).child("name");
            warnings.push(format!(r#"{}: invalid empty name """#, path.as_str()));
        }
    }
    for resource in ["memory", "ephemeral-storage"] {
        let path = spec_path.child("overhead").key(resource);
        warnings.extend(fractional_bytes(&spec["overhead"][resource], &path));
    }
    let pod_seccomp = !spec["securityContext"]["seccompProfile"].is_null();
    if !pod_seccomp && annotations.get(SECCOMP_POD_ANNOTATION).is_some() {
        warnings.push(seccomp_annotation(
            &annotations_path.key(SECCOMP_POD_ANNOTATION),
        ));
    }
    let pod_apparmor = !spec["securityContext"]["appArmorProfile"].is_null();

    for (container, path) in containers_with_paths(spec, &spec_path) {
        let security = &container["securityContext"];
        let name = container["name"].as_str().unwrap_or_default();
        let seccomp_key = format!("{SECCOMP_CONTAINER_ANNOTATION_PREFIX}{name}");
        if security["seccompProfile"].is_null() && annotations.get(&seccomp_key).is_some() {
            warnings.push(seccomp_annotation(&annotations_path.key(&seccomp_key)));
        }
        let apparmor_key = format!("{APPARMOR_ANNOTATION_PREFIX}{name}");
        if prefix.is_some()
            && !pod_apparmor
            && security["appArmorProfile"].is_null()
            && annotations.get(&apparmor_key).is_some()
        {
            warnings.push(format!(
                r#"{}: deprecated since v1.30; use the "appArmorProfile" field instead"#,
                annotations_path.key(&apparmor_key).as_str()
            ));
        }
        for (kind, resource) in [
            ("limits", "memory"),
            ("requests", "memory"),
            ("limits", "ephemeral-storage"),
            ("requests", "ephemeral-storage"),
        ] {
            let value = &container["resources"][kind][resource];
            if !value.is_null() {
                let at = path.child("resources").child(kind).key(resource);
                warnings.extend(fractional_bytes(value, &at));
            }
        }
        if items(&container["env"]).len() > 1 {
            warnings.extend(env_warnings(&container["env"], &path.child("env")));
        }
    }
    // Ports after every container's other warnings: upstream visits the containers again.
    let mut ports: HashMap<String, Vec<(Path, &Value)>> = HashMap::new();
    for (container, path) in containers_with_paths(spec, &spec_path) {
        for (i, port) in items(&container["ports"]).iter().enumerate() {
            let at = path.child("ports").index(i);
            warnings.extend(port_warnings(port, &at, &mut ports));
        }
    }
    if spec["terminationGracePeriodSeconds"]
        .as_i64()
        .is_some_and(|s| s < 0)
    {
        warnings.push(format!(
            "{}: must be >= 0; negative values are invalid and will be treated as 1",
            spec_path.child("terminationGracePeriodSeconds").as_str()
        ));
    }
    for kind in ["podAffinity", "podAntiAffinity"] {
        let affinity = &spec["affinity"][kind];
        let path = spec_path.child("affinity").child(kind);
        let required = path.child("requiredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in items(&affinity["requiredDuringSchedulingIgnoredDuringExecution"])
            .iter()
            .enumerate()
        {
            if term["labelSelector"].is_null() {
                warnings.push(null_selector(&required.index(i).child("labelSelector")));
            }
        }
        let preferred = path.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in items(&affinity["preferredDuringSchedulingIgnoredDuringExecution"])
            .iter()
            .enumerate()
        {
            if term["podAffinityTerm"]["labelSelector"].is_null() {
                let at = preferred
                    .index(i)
                    .child("podAffinityTerm")
                    .child("labelSelector");
                warnings.push(null_selector(&at));
            }
        }
    }
    warnings
}

/// `pods.VisitContainersWithPath`: init containers, containers, then ephemeral containers.
fn containers_with_paths<'a>(spec: &'a Value, spec_path: &Path) -> Vec<(&'a Value, Path)> {
    ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .flat_map(|list| {
            items(&spec[list])
                .iter()
                .enumerate()
                .map(move |(i, c)| (c, spec_path.child(list).index(i)))
        })
        .collect()
}

fn node_selector_term_warnings(term: &Value, path: &Path) -> Vec<String> {
    items(&term["matchExpressions"])
        .iter()
        .enumerate()
        .filter_map(|(i, expression)| {
            let key = expression["key"].as_str().unwrap_or_default();
            let msg = deprecated_node_label(key)?;
            let at = path.child("matchExpressions").index(i).child("key");
            Some(format!("{}: {key} is {msg}", at.as_str()))
        })
        .collect()
}

fn null_selector(path: &Path) -> String {
    format!(
        "{}: a null labelSelector results in matching no pod",
        path.as_str()
    )
}

fn seccomp_annotation(path: &Path) -> String {
    format!(
        r#"{}: non-functional in v1.27+; use the "seccompProfile" field instead"#,
        path.as_str()
    )
}

/// A second item of `list` with the same `field`: `duplicate ip "10.0.0.1"`.
fn duplicate_warnings(list: &Value, field: &str, path: &Path, what: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut warnings = Vec::new();
    for (i, item) in items(list).iter().enumerate() {
        let value = item[field].as_str().unwrap_or_default();
        if !seen.insert(value) {
            warnings.push(format!(
                "{}: duplicate {what} {value:?}",
                path.index(i).child(field).as_str()
            ));
        }
    }
    warnings
}

/// A memory or storage quantity that is not a whole number of bytes.
fn fractional_bytes(value: &Value, path: &Path) -> Option<String> {
    let text = value.as_str()?;
    let quantity = Quantity::parse(text)?;
    if quantity.is_integer() {
        return None;
    }
    Some(format!(
        "{}: fractional byte value {:?} is invalid, must be an integer",
        path.as_str(),
        canonical_fraction(quantity)
    ))
}

/// How upstream's `Quantity.String()` writes a value with a fraction of a unit: in the largest
/// of milli, micro or nano units that holds it whole.
fn canonical_fraction(quantity: Quantity) -> String {
    let nanos = quantity.as_nanos();
    if nanos % 1_000_000 == 0 {
        format!("{}m", nanos / 1_000_000)
    } else if nanos % 1_000 == 0 {
        format!("{}u", nanos / 1_000)
    } else {
        format!("{nanos}n")
    }
}

/// A second definition of an env var that `kubectl apply` may drop: one that takes its value
/// from elsewhere, or does not build on the first (`X=$(X)-more` does).
fn env_warnings(env: &Value, path: &Path) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut warnings = Vec::new();
    for (i, var) in items(env).iter().enumerate() {
        let name = var["name"].as_str().unwrap_or_default();
        if seen.insert(name) {
            continue;
        }
        let reference = format!("$({name})");
        let value = var["value"].as_str().unwrap_or_default();
        let hides =
            !var["valueFrom"].is_null() || value == reference || !value.contains(&reference);
        if hides {
            warnings.push(format!(
                "{}: hides previous definition of {name:?}, which may be dropped when using apply",
                path.index(i).as_str()
            ));
        }
    }
    warnings
}

/// Go's `%+v` of a `ContainerPort`.
fn port_text(port: &Value) -> String {
    format!(
        "{{Name:{} HostPort:{} ContainerPort:{} Protocol:{} HostIP:{}}}",
        port["name"].as_str().unwrap_or_default(),
        port["hostPort"].as_i64().unwrap_or(0),
        port["containerPort"].as_i64().unwrap_or(0),
        port["protocol"].as_str().unwrap_or_default(),
        port["hostIP"].as_str().unwrap_or_default(),
    )
}

/// A port set without its host port, or defined twice over all the pod's containers.
fn port_warnings<'a>(
    port: &'a Value,
    path: &Path,
    seen: &mut HashMap<String, Vec<(Path, &'a Value)>>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    let host_ip = port["hostIP"].as_str().unwrap_or_default();
    let host_port = port["hostPort"].as_i64().unwrap_or(0);
    if !host_ip.is_empty() && host_port == 0 {
        warnings.push(format!(
            "{}: hostIP set without hostPort: {}",
            path.as_str(),
            port_text(port)
        ));
    }
    let key = format!(
        "{}/{}",
        port["containerPort"].as_i64().unwrap_or(0),
        port["protocol"].as_str().unwrap_or_default()
    );
    let others = seen.entry(key).or_default();
    for (other_path, other) in others.iter() {
        let other_ip = other["hostIP"].as_str().unwrap_or_default();
        let other_port = other["hostPort"].as_i64().unwrap_or(0);
        let how = if host_ip == other_ip && host_port == other_port {
            Some("duplicate")
        } else if host_port == 0 || other_port == 0 {
            Some("overlapping")
        } else if host_port == other_port && (host_ip.is_empty() != other_ip.is_empty()) {
            Some("dangerously ambiguous")
        } else {
            None
        };
        if let Some(how) = how {
            warnings.push(format!(
                "{}: {how} port definition with {}",
                path.as_str(),
                other_path.as_str()
            ));
        }
    }
    others.push((path.clone(), port));
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources;
    use serde_json::json;

    fn job(name: &str, spec: Value) -> Value {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "generation": 1},
            "spec": spec})
    }

    fn jobs() -> &'static ResourceInfo {
        resources::find("batch", "v1", "jobs").unwrap_or_else(|| unreachable!())
    }

    #[test]
    fn a_plain_job_has_no_warnings() {
        let spec = json!({"template": {"spec": {"containers": [{"name": "c", "image": "busybox",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}}});
        assert!(on_create(jobs(), &job("pi", spec)).is_empty());
    }

    #[test]
    fn a_job_s_warnings_are_upstream_s_words_at_the_template_s_paths() {
        let spec = json!({
            "completionMode": "Indexed", "completions": 200000, "parallelism": 20000,
            "template": {
                "metadata": {"annotations": {"scheduler.alpha.kubernetes.io/critical-pod": ""}},
                "spec": {
                    "nodeSelector": {"beta.kubernetes.io/arch": "amd64"},
                    "terminationGracePeriodSeconds": -1,
                    "volumes": [{"name": "v", "gitRepo": {"repository": "r"}}],
                    "containers": [{"name": "c", "image": "busybox",
                        "env": [{"name": "X", "value": "a"}, {"name": "X", "value": "$(X)b"},
                            {"name": "X", "value": "c"}],
                        "resources": {"limits": {"memory": "1.5"}},
                        "ports": [{"containerPort": 80, "protocol": "TCP"},
                            {"containerPort": 80, "protocol": "TCP"}]}]}}});
        assert_eq!(
            on_create(jobs(), &job("my.job", spec)),
            [
                "metadata.name: this is used in Pod names and hostnames, which can result in surprising behavior; a DNS label is recommended: [must not contain dots]",
                "spec: In Indexed Jobs with a number of completions higher than 10^5 and a parallelism higher than 10^4, Kubernetes might not be able to track completedIndexes when a big number of indexes fail",
                r#"spec.template.spec.nodeSelector[beta.kubernetes.io/arch]: deprecated since v1.14; use "kubernetes.io/arch" instead"#,
                r#"spec.template.metadata.annotations[scheduler.alpha.kubernetes.io/critical-pod]: non-functional in v1.16+; use the "priorityClassName" field instead"#,
                "spec.template.spec.volumes[0].gitRepo: deprecated in v1.11",
                r#"spec.template.spec.containers[0].resources.limits[memory]: fractional byte value "1500m" is invalid, must be an integer"#,
                r#"spec.template.spec.containers[0].env[2]: hides previous definition of "X", which may be dropped when using apply"#,
                "spec.template.spec.containers[0].ports[1]: duplicate port definition with spec.template.spec.containers[0].ports[0]",
                "spec.template.spec.terminationGracePeriodSeconds: must be >= 0; negative values are invalid and will be treated as 1",
            ]
        );
    }

    #[test]
    fn a_job_update_warns_only_when_its_spec_changed() {
        let spec = json!({"template": {"spec": {"nodeSelector": {"beta.kubernetes.io/os": "linux"},
            "containers": [{"name": "c", "image": "busybox"}]}}});
        let old = job("j", spec.clone());
        let mut relabelled = old.clone();
        relabelled["metadata"]["labels"] = json!({"a": "b"});
        assert!(on_update(jobs(), &relabelled, &old).is_empty());
        let mut changed = old.clone();
        changed["metadata"]["generation"] = json!(2);
        assert_eq!(on_update(jobs(), &changed, &old).len(), 1);
    }

    #[test]
    fn a_pod_s_paths_start_at_spec() {
        let pods = resources::find("", "v1", "pods").unwrap_or_else(|| unreachable!());
        let pod = json!({"metadata": {"name": "p"}, "spec": {
            "imagePullSecrets": [{"name": "a"}, {"name": "a"}, {"name": ""}],
            "containers": [{"name": "c", "image": "busybox",
                "ports": [{"containerPort": 80, "protocol": "TCP", "hostIP": "127.0.0.1"}]}],
            "affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "k"}]}}}});
        assert_eq!(
            on_create(pods, &pod),
            [
                r#"spec.imagePullSecrets[1].name: duplicate name "a""#,
                r#"spec.imagePullSecrets[2].name: invalid empty name """#,
                "spec.containers[0].ports[0]: hostIP set without hostPort: {Name: HostPort:0 ContainerPort:80 Protocol:TCP HostIP:127.0.0.1}",
                "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector: a null labelSelector results in matching no pod",
            ]
        );
    }
}
