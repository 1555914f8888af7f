//! A container's environment and command line, as the kubelet computes them
//! (`pkg/kubelet/kubelet_pods.go` `makeEnvironmentVariables`, `third_party/forked/golang/expansion`).
//!
//! `envFrom` first, then `env` in order; plain values may reference earlier variables with
//! `$(NAME)` (`$$` escapes), `valueFrom` reads the downward API, resources, Secrets and
//! ConfigMaps. `command`/`args` are expanded with the final environment. Missing references that
//! are not `optional` are errors the pod shows as `CreateContainerConfigError`.

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use std::collections::HashMap;

/// Why an environment cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// A referenced ConfigMap or Secret does not exist.
    #[error("{kind} {name:?} not found")]
    NotFound { kind: &'static str, name: String },
    /// A referenced key is missing.
    #[error("couldn't find key {key} in {kind} {namespace}/{name}")]
    MissingKey {
        key: String,
        kind: &'static str,
        namespace: String,
        name: String,
    },
    /// An unsupported `fieldRef` or `resourceFieldRef`.
    #[error("{0}")]
    Unsupported(String),
}

/// What the environment may read besides the pod itself.
#[derive(Debug)]
pub struct EnvSources<'a> {
    pub host_ip: &'a str,
    pub pod_ip: &'a str,
    /// Node allocatable CPU in millicores and memory in bytes (the default for unset limits).
    pub allocatable_cpu_millis: i64,
    pub allocatable_memory_bytes: i64,
    /// The agent's data directory, whose file system's size is the node's allocatable
    /// `ephemeral-storage` (the default for an unset limit; looked up only then).
    pub data_dir: Option<&'a std::path::Path>,
    pub config_maps: &'a HashMap<String, ConfigMap>,
    pub secrets: &'a HashMap<String, Secret>,
    /// Host directories of the pod's PersistentVolumeClaims by claim name, or why the claim
    /// cannot be mounted.
    pub claims: &'a HashMap<String, Result<crate::localpath::ClaimMount, String>>,
    /// The service account tokens of the pod's projected volumes.
    pub tokens: &'a super::tokens::Tokens,
    /// The API server's service variables every container gets (see [`service_env`]).
    pub service_env: &'a [(String, String)],
}

static NO_CONFIG_MAPS: std::sync::LazyLock<HashMap<String, ConfigMap>> =
    std::sync::LazyLock::new(HashMap::new);
static NO_SECRETS: std::sync::LazyLock<HashMap<String, Secret>> =
    std::sync::LazyLock::new(HashMap::new);
type Claims = HashMap<String, Result<crate::localpath::ClaimMount, String>>;
static NO_CLAIMS: std::sync::LazyLock<Claims> = std::sync::LazyLock::new(HashMap::new);
static NO_TOKENS: std::sync::LazyLock<super::tokens::Tokens> =
    std::sync::LazyLock::new(HashMap::new);

impl Default for EnvSources<'_> {
    fn default() -> Self {
        EnvSources {
            host_ip: "",
            pod_ip: "",
            allocatable_cpu_millis: 0,
            allocatable_memory_bytes: 0,
            data_dir: None,
            config_maps: &NO_CONFIG_MAPS,
            secrets: &NO_SECRETS,
            claims: &NO_CLAIMS,
            tokens: &NO_TOKENS,
            service_env: &[],
        }
    }
}

/// `$(VAR)` expansion exactly as upstream's `expansion.Expand`: unknown names stay as written,
/// `$$` becomes `$`, an unclosed `$(` is kept.
pub fn expand(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes.get(cursor) == Some(&b'$') && cursor + 1 < bytes.len() {
            out.push_str(input.get(checkpoint..cursor).unwrap_or_default());
            let rest = input.get(cursor + 1..).unwrap_or_default();
            let (text, advance) = match rest.as_bytes().first() {
                Some(b'$') => ("$".to_string(), 1),
                Some(b'(') => match rest.find(')') {
                    Some(close) => {
                        let name = rest.get(1..close).unwrap_or_default();
                        (
                            lookup(name).unwrap_or_else(|| format!("$({name})")),
                            close + 1,
                        )
                    }
                    None => ("$(".to_string(), 1),
                },
                _ => {
                    let ch = rest.chars().next().map(String::from).unwrap_or_default();
                    let len = ch.len();
                    (format!("${ch}"), len)
                }
            };
            out.push_str(&text);
            cursor += advance + 1;
            checkpoint = cursor;
        } else {
            cursor += 1;
        }
    }
    out.push_str(input.get(checkpoint..).unwrap_or_default());
    out
}

/// The value of a downward-API `fieldRef` path.
pub fn field_ref(pod: &Pod, path: &str, host_ip: &str, pod_ip: &str) -> Result<String, EnvError> {
    let md = &pod.metadata;
    let map_key = |prefix: &str| -> Option<String> {
        let rest = path.strip_prefix(prefix)?;
        let key = rest.strip_prefix("['")?.strip_suffix("']")?;
        Some(key.to_string())
    };
    if let Some(k) = map_key("metadata.labels") {
        return Ok(md
            .labels
            .as_ref()
            .and_then(|l| l.get(&k))
            .cloned()
            .unwrap_or_default());
    }
    if let Some(k) = map_key("metadata.annotations") {
        return Ok(md
            .annotations
            .as_ref()
            .and_then(|l| l.get(&k))
            .cloned()
            .unwrap_or_default());
    }
    let spec = pod.spec.as_ref();
    Ok(match path {
        "metadata.name" => md.name.clone().unwrap_or_default(),
        "metadata.namespace" => md.namespace.clone().unwrap_or_default(),
        "metadata.uid" => md.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(md.labels.as_ref()),
        "metadata.annotations" => format_map(md.annotations.as_ref()),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.hostIP" | "status.hostIPs" => host_ip.to_string(),
        "status.podIP" | "status.podIPs" => pod_ip.to_string(),
        other => {
            return Err(EnvError::Unsupported(format!(
                "unsupported fieldRef path {other:?}"
            )));
        }
    })
}

/// `k="v"` lines, sorted, as the downward API writes label and annotation files (upstream
/// `fieldpath.FormatMap`, values quoted as Go's `%q`).
fn format_map(m: Option<&std::collections::BTreeMap<String, String>>) -> String {
    m.map(|m| {
        m.iter()
            .map(|(k, v)| format!("{k}={}", runlet_api::selector::go_quote(v)))
            .collect::<Vec<_>>()
            .join("\n")
    })
    .unwrap_or_default()
}

fn quantity_nanos(q: &str) -> Option<i128> {
    super::quantity::nanos(q)
}

/// The value of a `resourceFieldRef` (`limits.cpu`, `requests.memory`...) rounded up to the
/// divisor, with unset limits defaulting to the node's allocatable (upstream `MergeContainerResourceLimits`).
pub fn resource_ref(
    pod: &Pod,
    container_name: &str,
    resource: &str,
    divisor: Option<&str>,
    sources: &EnvSources<'_>,
) -> Result<String, EnvError> {
    let container = pod
        .spec
        .as_ref()
        .and_then(|s| {
            s.containers
                .iter()
                .chain(s.init_containers.iter().flatten())
                .find(|c| c.name == container_name)
        })
        .ok_or_else(|| EnvError::Unsupported(format!("container {container_name:?} not found")))?;
    let (which, name) = resource
        .split_once('.')
        .ok_or_else(|| EnvError::Unsupported(format!("unsupported resource {resource:?}")))?;
    let res = container.resources.as_ref();
    let map = match which {
        "limits" => res.and_then(|r| r.limits.as_ref()),
        "requests" => res.and_then(|r| r.requests.as_ref()),
        _ => {
            return Err(EnvError::Unsupported(format!(
                "unsupported resource {resource:?}"
            )));
        }
    };
    let set = map
        .and_then(|m| m.get(name))
        .and_then(|q| quantity_nanos(&q.0));
    let value = match (set, which, name) {
        (Some(v), _, _) => v,
        (None, "limits", "cpu") => i128::from(sources.allocatable_cpu_millis) * 1_000_000,
        (None, "limits", "memory") => i128::from(sources.allocatable_memory_bytes) * 1_000_000_000,
        (None, "requests", "cpu" | "memory") => 0,
        (None, "requests", "ephemeral-storage") => 0,
        (None, "limits", "ephemeral-storage") => sources
            .data_dir
            .and_then(|d| rustix::fs::statvfs(d).ok())
            .map_or(0, |s| {
                let bytes = crate::node::allocatable_storage(s.f_blocks.saturating_mul(s.f_frsize));
                i128::from(bytes) * 1_000_000_000
            }),
        // Huge pages the node has none of: upstream's `ExtractContainerResourceValue` reads
        // an unset one as 0.
        (None, "limits" | "requests", name) if name.starts_with("hugepages-") => 0,
        _ => {
            return Err(EnvError::Unsupported(format!(
                "unsupported resource {resource:?}"
            )));
        }
    };
    let divisor = divisor
        .and_then(quantity_nanos)
        .filter(|d| *d > 0)
        .unwrap_or(1_000_000_000);
    let rounded = (value + divisor - 1).div_euclid(divisor);
    Ok(rounded.to_string())
}

/// The container's environment, in order.
pub fn build_env(
    pod: &Pod,
    container: &Container,
    sources: &EnvSources<'_>,
) -> Result<Vec<(String, String)>, EnvError> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let mut vars: Vec<(String, String)> = Vec::new();
    let set = |vars: &mut Vec<(String, String)>, k: String, v: String| {
        if let Some(slot) = vars.iter_mut().find(|(name, _)| *name == k) {
            slot.1 = v;
        } else {
            vars.push((k, v));
        }
    };
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        if let Some(r) = &from.config_map_ref {
            match sources.config_maps.get(&r.name) {
                Some(cm) => {
                    for (k, v) in cm.data.iter().flatten() {
                        set(&mut vars, format!("{prefix}{k}"), v.clone());
                    }
                }
                None if r.optional == Some(true) => {}
                None => {
                    return Err(EnvError::NotFound {
                        kind: "configmap",
                        name: r.name.clone(),
                    });
                }
            }
        }
        if let Some(r) = &from.secret_ref {
            match sources.secrets.get(&r.name) {
                Some(s) => {
                    for (k, v) in s.data.iter().flatten() {
                        set(
                            &mut vars,
                            format!("{prefix}{k}"),
                            String::from_utf8_lossy(&v.0).into_owned(),
                        );
                    }
                }
                None if r.optional == Some(true) => {}
                None => {
                    return Err(EnvError::NotFound {
                        kind: "secret",
                        name: r.name.clone(),
                    });
                }
            }
        }
    }
    for e in container.env.iter().flatten() {
        let value = if let Some(from) = &e.value_from {
            if let Some(f) = &from.field_ref {
                field_ref(pod, &f.field_path, sources.host_ip, sources.pod_ip)?
            } else if let Some(r) = &from.resource_field_ref {
                let cname = r
                    .container_name
                    .clone()
                    .filter(|c| !c.is_empty())
                    .unwrap_or_else(|| container.name.clone());
                resource_ref(
                    pod,
                    &cname,
                    &r.resource,
                    r.divisor.as_ref().map(|d| d.0.as_str()),
                    sources,
                )?
            } else if let Some(r) = &from.config_map_key_ref {
                let optional = r.optional == Some(true);
                match sources.config_maps.get(&r.name) {
                    None if optional => continue,
                    None => {
                        return Err(EnvError::NotFound {
                            kind: "configmap",
                            name: r.name.clone(),
                        });
                    }
                    Some(cm) => {
                        // Upstream's `makeEnvironmentVariables` reads `data` only.
                        let v = cm.data.as_ref().and_then(|d| d.get(&r.key)).cloned();
                        match v {
                            Some(v) => v,
                            None if optional => continue,
                            None => {
                                return Err(EnvError::MissingKey {
                                    key: r.key.clone(),
                                    kind: "ConfigMap",
                                    namespace: ns,
                                    name: r.name.clone(),
                                });
                            }
                        }
                    }
                }
            } else if let Some(r) = &from.secret_key_ref {
                let optional = r.optional == Some(true);
                match sources.secrets.get(&r.name) {
                    None if optional => continue,
                    None => {
                        return Err(EnvError::NotFound {
                            kind: "secret",
                            name: r.name.clone(),
                        });
                    }
                    Some(s) => match s.data.as_ref().and_then(|d| d.get(&r.key)) {
                        Some(v) => String::from_utf8_lossy(&v.0).into_owned(),
                        None if optional => continue,
                        None => {
                            return Err(EnvError::MissingKey {
                                key: r.key.clone(),
                                kind: "Secret",
                                namespace: ns,
                                name: r.name.clone(),
                            });
                        }
                    },
                }
            } else {
                String::new()
            }
        } else {
            let raw = e.value.clone().unwrap_or_default();
            let snapshot = vars.clone();
            expand(&raw, &|name| {
                snapshot
                    .iter()
                    .chain(sources.service_env)
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            })
        };
        set(&mut vars, e.name.clone(), value);
    }
    // The service variables come last, unless the container sets them itself (upstream's
    // `makeEnvironmentVariables`).
    for (k, v) in sources.service_env {
        if !vars.iter().any(|(name, _)| name == k) {
            vars.push((k.clone(), v.clone()));
        }
    }
    Ok(vars)
}

/// The variables of the `kubernetes` service that the kubelet gives every container, so that
/// a client's in-cluster configuration finds the API server (`KUBERNETES_SERVICE_HOST` and
/// `_PORT`, and the Docker-link style ones), for the API server at `host`:`port`.
pub fn service_env(host: &str, port: u16) -> Vec<(String, String)> {
    let address = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let port = port.to_string();
    let tcp = format!("KUBERNETES_PORT_{port}_TCP");
    [
        ("KUBERNETES_SERVICE_HOST".to_string(), host.to_string()),
        ("KUBERNETES_SERVICE_PORT".to_string(), port.clone()),
        ("KUBERNETES_SERVICE_PORT_HTTPS".to_string(), port.clone()),
        ("KUBERNETES_PORT".to_string(), format!("tcp://{address}")),
        (tcp.clone(), format!("tcp://{address}")),
        (format!("{tcp}_PROTO"), "tcp".to_string()),
        (format!("{tcp}_PORT"), port),
        (format!("{tcp}_ADDR"), host.to_string()),
    ]
    .into()
}

/// The argv: `command` then `args`, each expanded with the environment. With only `args`, the
/// args are the command line (there is no image entrypoint on the process runtime).
pub fn command_line(container: &Container, env: &[(String, String)]) -> Vec<String> {
    let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    container
        .command
        .iter()
        .flatten()
        .chain(container.args.iter().flatten())
        .map(|s| expand(s, &lookup))
        .collect()
}

/// The names of the ConfigMaps and Secrets the container's environment reads.
pub fn referenced(container: &Container) -> (Vec<String>, Vec<String>) {
    let mut cms = Vec::new();
    let mut secrets = Vec::new();
    for f in container.env_from.iter().flatten() {
        if let Some(r) = &f.config_map_ref {
            cms.push(r.name.clone());
        }
        if let Some(r) = &f.secret_ref {
            secrets.push(r.name.clone());
        }
    }
    for e in container.env.iter().flatten() {
        if let Some(from) = &e.value_from {
            if let Some(r) = &from.config_map_key_ref {
                cms.push(r.name.clone());
            }
            if let Some(r) = &from.secret_key_ref {
                secrets.push(r.name.clone());
            }
        }
    }
    cms.sort();
    cms.dedup();
    secrets.sort();
    secrets.dedup();
    (cms, secrets)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "x"}},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn expansion_follows_upstream_cases() {
        let lookup = |n: &str| match n {
            "VAR_A" => Some("A".to_string()),
            "VAR_EMPTY" => Some(String::new()),
            _ => None,
        };
        // Cases from upstream's expand_test.go.
        assert_eq!(expand("$(VAR_A)", &lookup), "A");
        assert_eq!(expand("___$(VAR_A)___", &lookup), "___A___");
        assert_eq!(expand("$(VAR_EMPTY)", &lookup), "");
        assert_eq!(expand("$(UNKNOWN)", &lookup), "$(UNKNOWN)");
        assert_eq!(expand("$$(VAR_A)", &lookup), "$(VAR_A)");
        assert_eq!(expand("$$$(VAR_A)", &lookup), "$A");
        assert_eq!(expand("$(VAR_A", &lookup), "$(VAR_A");
        assert_eq!(expand("$VAR_A", &lookup), "$VAR_A");
        assert_eq!(expand("$", &lookup), "$");
        assert_eq!(expand("ünï$(VAR_A)ç", &lookup), "ünïAç");
    }

    #[test]
    fn env_references_earlier_values_and_the_downward_api() {
        let p = pod(json!({"nodeName": "n1", "containers": [{
            "name": "c", "image": "busybox",
            "command": ["echo", "$(GREETING)"],
            "resources": {"limits": {"memory": "64Mi"}},
            "env": [
                {"name": "NAME", "value": "world"},
                {"name": "GREETING", "value": "hello $(NAME) $(MISSING)"},
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            ]
        }]}));
        let c = &p.spec.as_ref().unwrap().containers[0];
        let empty_cm = HashMap::new();
        let empty_s = HashMap::new();
        let sources = EnvSources {
            host_ip: "10.0.0.1",
            pod_ip: "10.0.0.1",
            allocatable_cpu_millis: 1500,
            allocatable_memory_bytes: 1 << 30,
            config_maps: &empty_cm,
            secrets: &empty_s,
            ..Default::default()
        };
        let env = build_env(&p, c, &sources).unwrap();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("GREETING"), Some("hello world $(MISSING)"));
        assert_eq!(get("POD"), Some("p"));
        assert_eq!(get("APP"), Some("x"));
        assert_eq!(get("NODE"), Some("n1"));
        assert_eq!(get("MEM"), Some("64"));
        assert_eq!(
            get("CPU"),
            Some("2"),
            "an unset CPU limit is the node's, rounded up"
        );
        assert_eq!(
            command_line(c, &env),
            vec!["echo", "hello world $(MISSING)"]
        );
    }

    #[test]
    fn secret_and_config_map_refs_honour_optional() {
        let p = pod(json!({"containers": [{
            "name": "c", "image": "busybox",
            "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}],
            "env": [
                {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "s", "key": "password"}}},
                {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k", "optional": true}}},
                {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "mode"}}},
            ]
        }]}));
        let c = &p.spec.as_ref().unwrap().containers[0];
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": "cm"}, "data": {"mode": "fast"}}))
                .unwrap();
        let s: Secret = serde_json::from_value(
            json!({"metadata": {"name": "s"}, "data": {"password": "aHVudGVyMg=="}}),
        )
        .unwrap();
        let cms = HashMap::from([("cm".to_string(), cm)]);
        let mut secrets = HashMap::from([("s".to_string(), s)]);
        let sources = EnvSources {
            config_maps: &cms,
            secrets: &secrets,
            ..Default::default()
        };
        let env = build_env(&p, c, &sources).unwrap();
        assert_eq!(
            env,
            vec![
                ("CM_mode".to_string(), "fast".to_string()),
                ("PASSWORD".to_string(), "hunter2".to_string()),
                ("MODE".to_string(), "fast".to_string()),
            ]
        );
        assert_eq!(
            referenced(c),
            (vec!["cm".into()], vec!["nope".into(), "s".into()])
        );
        secrets.clear();
        let sources = EnvSources {
            config_maps: &cms,
            secrets: &secrets,
            ..Default::default()
        };
        assert_eq!(
            build_env(&p, c, &sources).unwrap_err().to_string(),
            "secret \"s\" not found"
        );
    }

    #[test]
    fn an_unset_limit_is_the_node_s_allocatable() {
        let pod: Pod = serde_json::from_value(serde_json::json!({"metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c"}]}}))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let sources = EnvSources {
            data_dir: Some(dir.path()),
            ..Default::default()
        };
        // The agent's file system less the 10 % eviction threshold, as the Node reports it.
        let fs = rustix::fs::statvfs(dir.path()).unwrap();
        let size = fs.f_blocks * fs.f_frsize;
        let limit = resource_ref(&pod, "c", "limits.ephemeral-storage", Some("1"), &sources);
        assert_eq!(limit.unwrap(), (size - size / 10).to_string());
        let request = resource_ref(&pod, "c", "requests.ephemeral-storage", None, &sources);
        assert_eq!(request.unwrap(), "0");
        // Huge pages the node has none of read as 0, as upstream's.
        for resource in ["limits.hugepages-2Mi", "requests.hugepages-1Gi"] {
            assert_eq!(
                resource_ref(&pod, "c", resource, None, &sources).unwrap(),
                "0"
            );
        }
    }
}
