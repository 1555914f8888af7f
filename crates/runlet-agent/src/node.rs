//! The agent's Node and its heartbeat.
//!
//! At start the agent creates (or takes over) its `Node` with capacity and allocatable from the
//! host's CPUs and memory, `nodeInfo`, addresses and the four conditions the kubelet reports
//! (Ready, MemoryPressure, DiskPressure, PIDPressure, thresholds as upstream's hard eviction
//! defaults). It renews a `Lease` in `kube-node-lease` every `heartbeat` and rewrites the node
//! status every `status_interval` (or when a condition changes), as the kubelet does. An agent
//! that serves logs over HTTPS publishes the port in `daemonEndpoints.kubeletEndpoint.Port`
//! and its certificate in the `runlet.dev/serving-certificate` annotation.

use crate::AgentConfig;
use crate::events::EventSink;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use runlet_api::clock::{Clock, rfc3339};
use runlet_api::eventtype::EventType::Normal;
use runlet_api::logs::SERVING_CERTIFICATE_ANNOTATION;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A failure to register the node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("registering node {node}: {source}")]
    Register { node: String, source: kube::Error },
}

/// What the agent knows about its host.
#[derive(Debug, Clone)]
pub struct HostInfo {
    pub ip: String,
    pub hostname: String,
    pub cpu_millis: i64,
    pub memory_bytes: i64,
    /// The port of the agent's log endpoint (`daemonEndpoints.kubeletEndpoint.Port`), 0 for none.
    pub kubelet_port: u16,
    /// The log endpoint's certificate (PEM), published in the Node's annotations.
    pub serving_certificate: Option<String>,
}

impl HostInfo {
    /// Allocatable memory: capacity less the kubelet's default hard eviction threshold
    /// (`memory.available<100Mi`), counted in KiB as the Node reports it. What a container
    /// without a memory limit may use (the downward API's `limits.memory`, a memory-backed
    /// emptyDir's size), as upstream's `defaultPodLimitsForDownwardAPI` reads it.
    pub fn allocatable_memory_bytes(&self) -> i64 {
        (self.memory_bytes / 1024).saturating_sub(100 * 1024) * 1024
    }
}

/// Allocatable ephemeral storage of a file system of `bytes`: less the kubelet's default
/// `nodefs.available<10%` eviction threshold.
pub fn allocatable_storage(bytes: u64) -> u64 {
    bytes - bytes / 10
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// `/proc/meminfo` field in bytes.
fn meminfo(field: &str) -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let rest = l.strip_prefix(field)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse::<i64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

impl HostInfo {
    /// Reads the host: CPUs, memory, hostname, first non-loopback address of the hostname.
    pub fn detect() -> HostInfo {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
        let hostname = read("/proc/sys/kernel/hostname");
        let ip = std::net::ToSocketAddrs::to_socket_addrs(&(hostname.as_str(), 0))
            .ok()
            .and_then(|mut addrs| addrs.find(|a| a.is_ipv4() && !a.ip().is_loopback()))
            .map_or_else(|| "127.0.0.1".to_string(), |a| a.ip().to_string());
        HostInfo {
            ip,
            hostname: if hostname.is_empty() {
                "localhost".into()
            } else {
                hostname
            },
            cpu_millis: cpus * 1000,
            memory_bytes: meminfo("MemTotal"),
            kubelet_port: 0,
            serving_certificate: None,
        }
    }
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

fn os_image() -> String {
    std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

/// The pressure conditions, from upstream's default hard eviction thresholds:
/// memory.available < 100Mi, nodefs.available < 10%, pid.available < 10% (approximated).
fn pressures(data_dir: &Path) -> (bool, bool, bool) {
    let memory = meminfo("MemAvailable") < 100 * 1024 * 1024;
    let disk = rustix::fs::statvfs(data_dir)
        .map(|s| s.f_blocks > 0 && s.f_bavail.saturating_mul(10) < s.f_blocks)
        .unwrap_or(false);
    let pid_max: u64 = read("/proc/sys/kernel/pid_max").parse().unwrap_or(0);
    let threads: u64 = read("/proc/loadavg")
        .split_whitespace()
        .nth(3)
        .and_then(|s| s.split('/').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let pid = pid_max > 0 && threads.saturating_mul(10) > pid_max.saturating_mul(9);
    (memory, disk, pid)
}

/// One node condition; `(reason, message)` pairs for the healthy and the unhealthy case.
fn condition(
    kind: &str,
    status: bool,
    healthy: bool,
    now: &str,
    ok: (&str, &str),
    bad: (&str, &str),
) -> Value {
    let (reason, message) = if healthy { ok } else { bad };
    json!({
        "type": kind,
        "status": if status { "True" } else { "False" },
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    })
}

/// The node status the agent reports.
pub fn node_status(
    config: &AgentConfig,
    host: &HostInfo,
    runtime: &str,
    now_unix: i64,
    previous: Option<&Value>,
) -> Value {
    let now = rfc3339(now_unix);
    let (mem, disk, pid) = pressures(&config.data_dir);
    let mut conditions = vec![
        condition(
            "MemoryPressure",
            mem,
            !mem,
            &now,
            (
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            (
                "KubeletHasInsufficientMemory",
                "kubelet has insufficient memory available",
            ),
        ),
        condition(
            "DiskPressure",
            disk,
            !disk,
            &now,
            ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("KubeletHasDiskPressure", "kubelet has disk pressure"),
        ),
        condition(
            "PIDPressure",
            pid,
            !pid,
            &now,
            (
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            (
                "KubeletHasInsufficientPID",
                "kubelet has insufficient PID available",
            ),
        ),
        condition(
            "Ready",
            true,
            true,
            &now,
            ("KubeletReady", "kubelet is posting ready status"),
            ("KubeletNotReady", ""),
        ),
    ];
    // Keep transition times of conditions whose status did not change.
    if let Some(prev) = previous.and_then(|p| p["conditions"].as_array()) {
        for c in &mut conditions {
            if let Some(old) = prev.iter().find(|o| o["type"] == c["type"])
                && old["status"] == c["status"]
                && let Some(t) = old["lastTransitionTime"].as_str()
            {
                c["lastTransitionTime"] = json!(t);
            }
        }
    }
    let machine_id = read("/etc/machine-id");
    let storage_bytes = rustix::fs::statvfs(&config.data_dir)
        .map(|s| s.f_blocks.saturating_mul(s.f_frsize))
        .unwrap_or(0);
    let cpu = format!("{}", host.cpu_millis / 1000);
    let pods = config.max_pods.to_string();
    // Allocatable is capacity less the kubelet's default hard eviction thresholds
    // (`memory.available<100Mi`, `nodefs.available<10%`), with no kube or system
    // reservation, as upstream's `GetNodeAllocatableReservation` computes it.
    let memory_kib = host.memory_bytes / 1024;
    let allocatable = json!({
        "cpu": cpu,
        "memory": format!("{}Ki", host.allocatable_memory_bytes() / 1024),
        "pods": pods,
        "ephemeral-storage": allocatable_storage(storage_bytes).to_string(),
    });
    let capacity = json!({
        "cpu": cpu,
        "memory": format!("{memory_kib}Ki"),
        "pods": pods,
        "ephemeral-storage": format!("{}Ki", storage_bytes / 1024),
    });
    let uname = rustix::system::uname();
    json!({
        "capacity": capacity,
        "allocatable": allocatable,
        "conditions": conditions,
        "addresses": [
            {"type": "InternalIP", "address": host.ip},
            {"type": "Hostname", "address": config.node_name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": host.kubelet_port}},
        "nodeInfo": {
            "machineID": machine_id,
            "systemUUID": machine_id,
            "bootID": read("/proc/sys/kernel/random/boot_id"),
            "kernelVersion": uname.release().to_string_lossy(),
            "osImage": os_image(),
            "containerRuntimeVersion": format!("{runtime}://runlet-{}", env!("CARGO_PKG_VERSION")),
            "kubeletVersion": format!("v1.33.0+runlet-{}", env!("CARGO_PKG_VERSION")),
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": go_arch(),
        },
    })
}

/// Creates or updates the Node object and its status.
pub async fn register(
    client: &kube::Client,
    config: &AgentConfig,
    host: &HostInfo,
    runtime: &str,
    clock: &dyn Clock,
) -> Result<Node, NodeError> {
    let api: Api<Node> = Api::all(client.clone());
    let name = &config.node_name;
    let err = |source| NodeError::Register {
        node: name.clone(),
        source,
    };
    let existing = api.get_opt(name).await.map_err(err)?;
    if existing.is_none() {
        let node = json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": go_arch(),
                    "beta.kubernetes.io/os": "linux",
                    "beta.kubernetes.io/arch": go_arch(),
                    "node.runlet.dev/runtime": runtime,
                },
            },
            "spec": {},
        });
        let node: Node =
            serde_json::from_value(node).map_err(|e| err(kube::Error::SerdeError(e)))?;
        match api.create(&PostParams::default(), &node).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(err(e)),
        }
    }
    publish_serving_certificate(&api, name, existing.as_ref(), host)
        .await
        .map_err(err)?;
    let previous = existing
        .as_ref()
        .and_then(|n| serde_json::to_value(&n.status).ok());
    let status = node_status(config, host, runtime, clock.now_unix(), previous.as_ref());
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": status})),
    )
    .await
    .map_err(err)
}

/// Puts this agent's serving certificate on its Node, unless `node` has it already: set,
/// replaced or (null) removed, since the API server pins exactly this certificate for the
/// node's logs. The heartbeat checks it too, so another agent that used the node's name for a
/// while does not leave its certificate behind.
async fn publish_serving_certificate(
    api: &Api<Node>,
    name: &str,
    node: Option<&Node>,
    host: &HostInfo,
) -> Result<(), kube::Error> {
    let published = node
        .and_then(|n| n.metadata.annotations.as_ref())
        .and_then(|a| a.get(SERVING_CERTIFICATE_ANNOTATION));
    if published == host.serving_certificate.as_ref() {
        return Ok(());
    }
    let patch = json!({"metadata": {"annotations": {
        SERVING_CERTIFICATE_ANNOTATION: host.serving_certificate,
    }}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map(|_| ())
}

/// Orders the node status writes of the heartbeat and of the agent's shutdown. Each is made
/// while holding the gate, and once the shutdown has marked the node not ready the heartbeat
/// writes no more status (it still renews the Lease, as the kubelet does while its pods stop):
/// a heartbeat write in flight when the agent begins to stop never lands `Ready` over the mark.
/// Its value: whether the node has been marked shutting down.
#[derive(Clone, Default)]
pub struct StatusGate(Arc<tokio::sync::Mutex<bool>>);

/// What the heartbeat needs: the agent's settings and the node it keeps alive.
pub struct Heartbeat {
    pub client: kube::Client,
    pub config: Arc<AgentConfig>,
    pub host: HostInfo,
    pub runtime: &'static str,
    pub clock: Arc<dyn Clock>,
    pub events: EventSink,
    /// Where the node last read is kept for the pod admission.
    pub latest: Arc<std::sync::RwLock<Node>>,
    /// Shared with the shutdown, which writes the node's status last.
    pub status_gate: StatusGate,
}

impl Heartbeat {
    /// Renews the Lease every `heartbeat` and writes the node's status every
    /// `status_interval`, until `cancel`. The node's events are the kubelet's: `Starting`,
    /// `NodeReady` when it turns Ready, `NodeNotSchedulable`/`NodeSchedulable` when it is
    /// cordoned or uncordoned (`recordNodeSchedulableEvent`).
    pub async fn run(self, cancel: CancellationToken) {
        let Heartbeat {
            client,
            config,
            host,
            runtime,
            clock,
            events,
            latest,
            status_gate,
        } = self;
        let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
        let nodes: Api<Node> = Api::all(client.clone());
        let name = config.node_name.clone();
        events.node(&name, Normal, "Starting", "Starting runlet node agent.");
        let mut last_status = clock.now_millis();
        let mut was_ready = false;
        let mut was_unschedulable = false;
        let mut first = true;
        loop {
            let now_ms = clock.now_millis();
            let renew = micro_time(now_ms);
            let lease = json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": name, "namespace": "kube-node-lease"},
                "spec": {
                    "holderIdentity": name,
                    "leaseDurationSeconds": config.lease_duration.as_secs(),
                    "renewTime": renew,
                },
            });
            match leases
                .patch(&name, &PatchParams::default(), &Patch::Merge(&lease))
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {
                    // Owned by the Node as it is now, and by nothing when it is gone, as the
                    // kubelet's `setNodeOwnerFunc`: a reference to a deleted Node would have
                    // the collector delete the Lease again at once.
                    let mut lease = lease.clone();
                    if let Ok(Some(node)) = nodes.get_opt(&name).await {
                        lease["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "Node",
                            "name": name, "uid": node.metadata.uid}]);
                    }
                    if let Ok(l) = serde_json::from_value::<Lease>(lease)
                        && let Err(e) = leases.create(&PostParams::default(), &l).await
                    {
                        tracing::warn!(error = %e, "creating the node lease");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "renewing the node lease"),
            }
            // The kubelet looks at its node every status sync (10 s), writing it only when due.
            let node = nodes.get_opt(&name).await.ok().flatten();
            if let (Some(n), Ok(mut kept)) = (&node, latest.write()) {
                *kept = n.clone();
            }
            if let Some(n) = &node
                && let Err(e) = publish_serving_certificate(&nodes, &name, Some(n), &host).await
            {
                tracing::warn!(error = %e, "publishing the serving certificate");
            }
            // Another agent that used the name for a while published its own log port: this
            // one's goes back at once, not at the next status write.
            let published_port = node
                .as_ref()
                .and_then(|n| {
                    n.status
                        .as_ref()?
                        .daemon_endpoints
                        .as_ref()?
                        .kubelet_endpoint
                        .as_ref()
                })
                .map_or(0, |e| e.port);
            if node.is_some() && published_port != i32::from(host.kubelet_port) {
                first = true;
            }
            let unschedulable =
                node.as_ref().and_then(|n| n.spec.as_ref()?.unschedulable) == Some(true);
            if unschedulable != was_unschedulable {
                was_unschedulable = unschedulable;
                let reason = if unschedulable {
                    "NodeNotSchedulable"
                } else {
                    "NodeSchedulable"
                };
                events.node(
                    &name,
                    Normal,
                    reason,
                    &format!("Node {name} status is now: {reason}"),
                );
            }
            // Held through the write: the shutdown's mark comes after it, or it is not made.
            let shutting_down = status_gate.0.lock().await;
            if !*shutting_down
                && (first || now_ms - last_status >= config.status_interval.as_millis() as i64)
            {
                first = false;
                last_status = now_ms;
                let previous = node.and_then(|n| serde_json::to_value(&n.status).ok());
                let status =
                    node_status(&config, &host, runtime, clock.now_unix(), previous.as_ref());
                let ready = status["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True");
                match nodes
                    .patch_status(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({"status": status})),
                    )
                    .await
                {
                    Ok(_) if ready && !was_ready => {
                        was_ready = true;
                        events.node(
                            &name,
                            Normal,
                            "NodeReady",
                            &format!("Node {name} status is now: NodeReady"),
                        );
                    }
                    Ok(_) => was_ready = ready,
                    Err(e) => tracing::warn!(error = %e, "updating node status"),
                }
            }
            drop(shutting_down);
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(config.heartbeat) => {}
            }
        }
    }
}

/// Marks the node not ready for its agent's shutdown, as the kubelet's graceful node shutdown
/// does (`KubeletNotReady`, "node is shutting down"): nothing new is scheduled here, and the
/// node lifecycle controller taints the node, until the agent runs again. After it, the
/// heartbeat writes no status through `gate`.
pub async fn mark_shutting_down(
    client: &kube::Client,
    name: &str,
    clock: &dyn Clock,
    gate: &StatusGate,
) {
    let mut shutting_down = gate.0.lock().await;
    *shutting_down = true;
    let nodes: Api<Node> = Api::all(client.clone());
    let Ok(node) = nodes.get(name).await else {
        return;
    };
    let now = rfc3339(clock.now_unix());
    let conditions = node.status.and_then(|s| s.conditions).unwrap_or_default();
    let mut conditions: Vec<Value> = conditions
        .iter()
        .filter_map(|c| serde_json::to_value(c).ok())
        .collect();
    for c in conditions.iter_mut().filter(|c| c["type"] == "Ready") {
        if c["status"] != "False" {
            c["lastTransitionTime"] = json!(now);
        }
        c["status"] = json!("False");
        c["reason"] = json!("KubeletNotReady");
        c["message"] = json!("node is shutting down");
        c["lastHeartbeatTime"] = json!(now);
    }
    let patch = Patch::Merge(json!({"status": {"conditions": conditions}}));
    if let Err(e) = nodes
        .patch_status(name, &PatchParams::default(), &patch)
        .await
    {
        tracing::warn!(error = %e, "marking the node not ready for its shutdown");
    }
}

/// `metav1.MicroTime`: RFC 3339 with 6 fraction digits.
pub fn micro_time(millis: i64) -> String {
    let base = rfc3339(millis.div_euclid(1000));
    let stem = base.strip_suffix('Z').unwrap_or(&base);
    format!("{stem}.{:06}Z", millis.rem_euclid(1000) * 1000)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use runlet_client::rate::Rate;
    use std::time::Duration;

    #[tokio::test]
    async fn the_serving_certificate_published_is_this_agents_own() {
        let api = runlet_test::TestApi::start().await;
        let nodes: Api<Node> = Api::all(api.client.clone());
        // Another agent used the name for a while and left its certificate.
        let node: Node = serde_json::from_value(json!({"metadata": {"name": "n1",
            "annotations": {SERVING_CERTIFICATE_ANNOTATION: "theirs"}}}))
        .unwrap();
        nodes.create(&PostParams::default(), &node).await.unwrap();
        let mut host = HostInfo::detect();
        host.serving_certificate = Some("ours".into());
        let annotation = |n: &Node| {
            n.metadata.annotations.as_ref().unwrap()[SERVING_CERTIFICATE_ANNOTATION].clone()
        };
        let before = nodes.get("n1").await.unwrap();
        publish_serving_certificate(&nodes, "n1", Some(&before), &host)
            .await
            .unwrap();
        let after = nodes.get("n1").await.unwrap();
        assert_eq!(annotation(&after), "ours");
        // Already there: nothing is written.
        publish_serving_certificate(&nodes, "n1", Some(&after), &host)
            .await
            .unwrap();
        let again = nodes.get("n1").await.unwrap();
        assert_eq!(
            again.metadata.resource_version,
            after.metadata.resource_version
        );
    }

    #[test]
    fn node_status_reports_capacity_and_the_four_conditions() {
        let dir = tempfile::tempdir().unwrap();
        let config = AgentConfig::new("n1", dir.path().to_path_buf());
        let host = HostInfo {
            ip: "192.0.2.7".into(),
            hostname: "h".into(),
            cpu_millis: 2000,
            memory_bytes: 4 << 30,
            kubelet_port: 10250,
            serving_certificate: None,
        };
        let s = node_status(&config, &host, "process", 0, None);
        assert_eq!(s["capacity"]["cpu"], "2");
        assert_eq!(s["capacity"]["memory"], "4194304Ki");
        assert_eq!(s["allocatable"]["pods"], "110");
        let types: Vec<&str> = s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            vec!["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
        );
        assert_eq!(s["conditions"][3]["status"], "True");
        assert_eq!(s["conditions"][3]["reason"], "KubeletReady");
        assert_eq!(s["addresses"][0]["address"], "192.0.2.7");
        assert_eq!(s["nodeInfo"]["operatingSystem"], "linux");
        assert_eq!(s["daemonEndpoints"]["kubeletEndpoint"]["Port"], 10250);
    }

    /// The race the gate closes: a heartbeat that writes the node's status after the shutdown
    /// marked it (here, one that starts after the mark and so writes its first status at once)
    /// must not make the node Ready again.
    #[tokio::test]
    async fn after_the_shutdown_mark_the_heartbeat_writes_no_status() {
        let api = runlet_test::TestApi::start().await;
        let nodes: Api<Node> = Api::all(api.client.clone());
        let dir = tempfile::tempdir().unwrap();
        let mut config = AgentConfig::new("n1", dir.path().to_path_buf());
        config.heartbeat = Duration::from_millis(5);
        let host = HostInfo::detect();
        let ready = json!({"status": node_status(&config, &host, "process", 0, None)});
        let node: Node = serde_json::from_value(json!({"metadata": {"name": "n1"}})).unwrap();
        nodes.create(&PostParams::default(), &node).await.unwrap();
        nodes
            .patch_status("n1", &PatchParams::default(), &Patch::Merge(&ready))
            .await
            .unwrap();
        let ready_condition = async || {
            let n = nodes.get("n1").await.unwrap();
            let conditions = n.status.unwrap().conditions.unwrap();
            let c = conditions.into_iter().find(|c| c.type_ == "Ready").unwrap();
            (c.status, c.message.unwrap_or_default())
        };

        let gate = StatusGate::default();
        mark_shutting_down(&api.client, "n1", &*api.clock, &gate).await;
        assert_eq!(
            ready_condition().await,
            ("False".to_string(), "node is shutting down".to_string())
        );

        let stop = CancellationToken::new();
        let cancel = CancellationToken::new();
        let latest = Arc::new(std::sync::RwLock::new(Node::default()));
        let (events, writer) = EventSink::start(
            api.client.clone(),
            api.clock.clone(),
            "kubelet",
            "n1",
            Rate::UNLIMITED,
            stop.clone(),
        );
        let heartbeat = Heartbeat {
            client: api.client.clone(),
            config: Arc::new(config),
            host,
            runtime: "process",
            clock: api.clock.clone(),
            events,
            latest: latest.clone(),
            status_gate: gate,
        };
        let task = tokio::spawn(heartbeat.run(cancel.clone()));
        // A label the heartbeat reads back proves a later round of it: the first round, whose
        // status write is due at once, has passed.
        let labelled = json!({"metadata": {"labels": {"round": "2"}}});
        nodes
            .patch("n1", &PatchParams::default(), &Patch::Merge(&labelled))
            .await
            .unwrap();
        runlet_test::wait_for("a later heartbeat", async || {
            let n = latest.read().unwrap().clone();
            n.metadata
                .labels
                .is_some_and(|l| l.contains_key("round"))
                .then_some(())
        })
        .await;
        assert_eq!(
            ready_condition().await,
            ("False".to_string(), "node is shutting down".to_string())
        );
        cancel.cancel();
        stop.cancel();
        task.await.unwrap();
        writer.await.unwrap();
    }

    #[test]
    fn micro_time_has_six_fraction_digits() {
        assert_eq!(micro_time(1_500), "1970-01-01T00:00:01.500000Z");
    }
}
