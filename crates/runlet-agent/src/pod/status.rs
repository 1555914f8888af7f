//! The pod status the agent writes, shaped as the kubelet writes it (`pkg/kubelet/status`,
//! `kubelet_pods.go` `generateAPIPodStatus`): phase, the five conditions with transition times,
//! init and main container statuses, IPs and start time.

use super::state::{Kind, Slot, State, Terminated};
use runlet_api::clock::rfc3339;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Everything the status is computed from.
pub struct View<'a> {
    pub phase: &'a str,
    pub reason: Option<&'a str>,
    pub message: Option<&'a str>,
    /// Why the agent stopped the pod itself, for a `DisruptionTarget` condition.
    pub disruption: Option<&'a str>,
    pub slots: &'a [Slot],
    pub host_ip: &'a str,
    pub start_time: Option<i64>,
    pub sandbox_ready: bool,
    /// The condition type of each of the pod's readiness gates, with that condition's status
    /// on the pod (someone else's to set), if it has one.
    pub readiness_gates: &'a [(String, Option<String>)],
    pub runtime: &'a str,
}

/// Remembers when each condition last changed.
#[derive(Debug, Default)]
pub struct Conditions {
    seen: HashMap<String, (String, String)>,
}

impl Conditions {
    /// Starts from the conditions already on the pod (e.g. `PodScheduled` from the binding).
    pub fn from_existing(conditions: &[Value]) -> Self {
        let mut c = Conditions::default();
        for cond in conditions {
            if let (Some(t), Some(s)) = (cond["type"].as_str(), cond["status"].as_str()) {
                let when = cond["lastTransitionTime"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                c.seen.insert(t.to_string(), (s.to_string(), when));
            }
        }
        c
    }

    fn make(
        &mut self,
        kind: &str,
        ok: bool,
        reason: Option<&str>,
        message: Option<String>,
        now: &str,
    ) -> Value {
        let status = if ok { "True" } else { "False" };
        let entry = self
            .seen
            .entry(kind.to_string())
            .or_insert_with(|| (status.to_string(), now.to_string()));
        if entry.0 != status || entry.1.is_empty() {
            *entry = (status.to_string(), now.to_string());
        }
        let mut c = json!({
            "type": kind,
            "status": status,
            "lastProbeTime": null,
            "lastTransitionTime": entry.1,
        });
        if let Some(r) = reason {
            c["reason"] = json!(r);
        }
        if let Some(m) = message {
            c["message"] = json!(m);
        }
        c
    }
}

/// What all the termination messages of a pod's statuses may hold together: the kubelet's
/// `MaxPodTerminationMessageLogLength`, shared evenly by its containers (`normalizeStatus`).
const POD_TERMINATION_MESSAGES_BYTES: usize = 12 * 1024;

/// `message` cut to its first `budget` bytes (at a character's edge), as the kubelet's
/// `normalizeStatus` cuts each container's share.
fn within_budget(message: &str, budget: usize) -> &str {
    if message.len() <= budget {
        return message;
    }
    let mut end = budget;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

fn terminated_json(t: &Terminated, budget: usize) -> Value {
    let mut v = json!({
        "exitCode": t.exit_code,
        "reason": t.reason,
        "startedAt": rfc3339(t.started_at),
        "finishedAt": rfc3339(t.finished_at),
        "containerID": t.container_id,
    });
    // No `signal`: the kubelet never sets it (CRI reports none), so describe shows no line.
    if let Some(m) = &t.message {
        v["message"] = json!(within_budget(m, budget));
    }
    v
}

/// A container's status, its termination messages held to `budget` bytes each.
fn container_status(slot: &Slot, runtime: &str, budget: usize) -> Value {
    let state = match &slot.state {
        // The kubelet writes no status while it runs a postStart hook, so the container shows
        // what it showed before it was started until the hook is done.
        State::Running { .. } if slot.post_start_pending => {
            json!({"waiting": {"reason": "ContainerCreating"}})
        }
        State::Waiting { reason, message } => {
            let mut w = json!({"reason": reason});
            if let Some(m) = message {
                w["message"] = json!(m);
            }
            json!({"waiting": w})
        }
        State::Running { started_at, .. } => {
            json!({"running": {"startedAt": rfc3339(*started_at)}})
        }
        State::Terminated(t) => json!({"terminated": terminated_json(t, budget)}),
    };
    let mut v = json!({
        "name": slot.name(),
        "image": slot.container.image.clone().unwrap_or_default(),
        "imageID": "",
        // The prober manager's: an init container is ready once it exited 0.
        "ready": if slot.kind == Kind::Init { slot.succeeded() } else { slot.is_ready() },
        "started": slot.is_started(),
        "restartCount": slot.restart_count,
        "state": state,
        "lastState": slot.last.as_ref().map(|t| json!({"terminated": terminated_json(t, budget)})).unwrap_or_else(|| json!({})),
    });
    if let Some(id) = &slot.container_id {
        v["containerID"] = json!(format!("{runtime}://{id}"));
    }
    if let Some(mounts) = slot
        .container
        .volume_mounts
        .as_deref()
        .filter(|m| !m.is_empty())
    {
        v["volumeMounts"] = mounts.iter().map(volume_mount_status).collect();
    }
    v
}

/// A mount as the kubelet reports it (`RecursiveReadOnlyMounts`, GA in 1.33): a read-only one
/// says whether it is recursively so, which the process runtime's never are.
fn volume_mount_status(mount: &k8s_openapi::api::core::v1::VolumeMount) -> Value {
    let mut status = json!({"name": mount.name, "mountPath": mount.mount_path});
    if mount.read_only == Some(true) {
        status["readOnly"] = json!(true);
        status["recursiveReadOnly"] = json!("Disabled");
    }
    status
}

/// The `status` object.
pub fn render(view: &View<'_>, conditions: &mut Conditions, now_unix: i64) -> Value {
    let now = rfc3339(now_unix);
    let mut mains: Vec<&Slot> = view.slots.iter().filter(|s| s.kind == Kind::Main).collect();
    let inits: Vec<&Slot> = view.slots.iter().filter(|s| s.kind != Kind::Main).collect();
    let terminal = matches!(view.phase, "Succeeded" | "Failed");

    let mut conds = Vec::new();
    conds.push(conditions.make(
        "PodReadyToStartContainers",
        view.sandbox_ready && !terminal,
        None,
        None,
        &now,
    ));
    // Upstream's `GeneratePodInitializedCondition`: initialized once every init container
    // succeeded (sidecars: started), or once any regular container started (a sidecar
    // restarting later does not undo it); a failed init container leaves it False, which
    // kubectl shows as `Init:Error`.
    let incomplete: Vec<&str> = inits
        .iter()
        .filter(|s| match s.kind {
            Kind::Sidecar => !s.is_running(),
            _ => !s.succeeded(),
        })
        .map(|s| s.name())
        .collect();
    let regular_started = view
        .slots
        .iter()
        .any(|s| s.kind == Kind::Main && s.attempts > 0);
    if view.phase == "Succeeded" || regular_started || incomplete.is_empty() {
        let reason = (view.phase == "Succeeded" && !inits.is_empty()).then_some("PodCompleted");
        conds.push(conditions.make("Initialized", true, reason, None, &now));
    } else {
        conds.push(conditions.make(
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(format!(
                "containers with incomplete status: [{}]",
                incomplete.join(" ")
            )),
            &now,
        ));
    }
    let unready: Vec<&str> = view
        .slots
        .iter()
        .filter(|s| s.kind != Kind::Init && !s.is_ready())
        .map(|s| s.name())
        .collect();
    // Upstream's `GenerateContainersReadyCondition` reads the containers alone: a pod being
    // stopped is ready until its containers are not.
    let ready = unready.is_empty() && !terminal;
    // `GeneratePodReadyCondition`: ready containers make a ready pod only with every readiness
    // gate's condition True.
    let closed_gates: Vec<String> = view
        .readiness_gates
        .iter()
        .filter_map(|(gate, status)| match status.as_deref() {
            None => Some(format!(
                "corresponding condition of pod readiness gate {gate:?} does not exist."
            )),
            Some("True") => None,
            Some(other) => Some(format!(
                "the status of pod readiness gate {gate:?} is not \"True\", but {other}"
            )),
        })
        .collect();
    for kind in ["Ready", "ContainersReady"] {
        let c = if ready && kind == "Ready" && !closed_gates.is_empty() {
            conditions.make(
                kind,
                false,
                Some("ReadinessGatesNotReady"),
                Some(closed_gates.join(", ")),
                &now,
            )
        } else if ready {
            conditions.make(kind, true, None, None, &now)
        } else if view.phase == "Succeeded" {
            conditions.make(kind, false, Some("PodCompleted"), None, &now)
        } else if view.phase == "Failed" {
            conditions.make(kind, false, Some("PodFailed"), None, &now)
        } else {
            conditions.make(
                kind,
                false,
                Some("ContainersNotReady"),
                Some(format!(
                    "containers with unready status: [{}]",
                    unready.join(" ")
                )),
                &now,
            )
        };
        conds.push(c);
    }
    conds.push(conditions.make("PodScheduled", true, None, None, &now));
    if let Some(message) = view.disruption {
        conds.push(conditions.make(
            "DisruptionTarget",
            true,
            Some("TerminationByKubelet"),
            Some(message.to_string()),
            &now,
        ));
    }

    let mut status = Map::new();
    status.insert("phase".into(), json!(view.phase));
    status.insert("conditions".into(), Value::Array(conds));
    status.insert("hostIP".into(), json!(view.host_ip));
    status.insert("hostIPs".into(), json!([{"ip": view.host_ip}]));
    // The process runtime shares the host's network.
    status.insert("podIP".into(), json!(view.host_ip));
    status.insert("podIPs".into(), json!([{"ip": view.host_ip}]));
    if let Some(t) = view.start_time {
        status.insert("startTime".into(), json!(rfc3339(t)));
    }
    // Why the pod failed shows with its terminal phase, not while its containers are being
    // stopped: the kubelet's status manager holds a terminal phase, with its reason and
    // message, until no container can still run (`mergePodStatus`).
    let why = |text: Option<&str>| match text {
        Some(t) if terminal => json!(t),
        _ => Value::Null,
    };
    status.insert("reason".into(), why(view.reason));
    status.insert("message".into(), why(view.message));
    let budget = POD_TERMINATION_MESSAGES_BYTES / view.slots.len().max(1);
    if !inits.is_empty() {
        status.insert(
            "initContainerStatuses".into(),
            Value::Array(
                inits
                    .iter()
                    .map(|s| container_status(s, view.runtime, budget))
                    .collect(),
            ),
        );
    }
    // The kubelet's `convertToAPIContainerStatuses` sorts the statuses of regular containers
    // by name (init containers keep the spec's order): `kubectl get pods` reads its STATUS
    // from the first one.
    mains.sort_by(|a, b| a.name().cmp(b.name()));
    status.insert(
        "containerStatuses".into(),
        Value::Array(
            mains
                .iter()
                .map(|s| container_status(s, view.runtime, budget))
                .collect(),
        ),
    );
    Value::Object(status)
}

/// Adds to `status` the containers of `spec` it has no status for: a pod lost before its
/// first status write. Each is waiting as the kubelet's default status has it, with the
/// container ID `started` gives a container that started (its log file exists), so that
/// [`lost`] reports it as the others and its log stays readable.
pub fn with_every_container(
    status: &mut Value,
    spec: &k8s_openapi::api::core::v1::PodSpec,
    started: impl Fn(&str) -> Option<String>,
) {
    if !status.is_object() {
        *status = json!({});
    }
    let lists = [
        (
            "initContainerStatuses",
            spec.init_containers.as_deref().unwrap_or_default(),
        ),
        ("containerStatuses", spec.containers.as_slice()),
    ];
    for (key, containers) in lists {
        if containers.is_empty() {
            continue;
        }
        if !status[key].is_array() {
            status[key] = json!([]);
        }
        let Some(list) = status[key].as_array_mut() else {
            continue;
        };
        for c in containers {
            if list.iter().any(|cs| cs["name"] == c.name.as_str()) {
                continue;
            }
            let mut cs = json!({"name": c.name, "image": c.image.clone().unwrap_or_default(),
                "imageID": "", "ready": false, "restartCount": 0, "started": false,
                "state": {"waiting": {"reason": "ContainerCreating"}}});
            if let Some(id) = started(&c.name) {
                cs["containerID"] = json!(id);
            }
            list.push(cs);
        }
    }
}

/// What a container's attempt lost with an earlier run of the agent shows, as the kubelet shows
/// a container it cannot find (`ContainerStatusUnknown`, exit code 137); its `containerID`
/// still names the attempt, whose log stays readable.
pub fn lost_attempt(cs: &Value, now: &str) -> Value {
    let mut terminated = json!({
        "exitCode": 137,
        "reason": "ContainerStatusUnknown",
        "message": "The container could not be located when the pod was terminated",
        "finishedAt": now,
    });
    if let Some(id) = cs["containerID"].as_str() {
        terminated["containerID"] = json!(id);
    }
    if let Some(started) = cs["state"]["running"]["startedAt"].as_str() {
        terminated["startedAt"] = json!(started);
    }
    terminated
}

/// The status of a pod an earlier run of the agent started and whose processes were lost
/// with it (one that is not to be restarted): `Failed`, every container not already
/// terminated marked as [`lost_attempt`] and no longer ready, and a `DisruptionTarget`
/// condition (`TerminationByKubelet`, as the kubelet marks the pods it stops for a node
/// shutdown), so a Job's `podFailurePolicy` can tell the loss from a failure of the work. The
/// whole status, for a merge patch (which replaces lists).
pub fn lost(status: &Value, now: &str) -> Value {
    let mut status = status.clone();
    for key in ["initContainerStatuses", "containerStatuses"] {
        for cs in status[key].as_array_mut().into_iter().flatten() {
            if cs["state"]["terminated"].is_null() {
                cs["state"] = json!({"terminated": lost_attempt(cs, now)});
                cs["ready"] = json!(false);
                cs["started"] = json!(false);
            }
        }
    }
    for c in status["conditions"].as_array_mut().into_iter().flatten() {
        if matches!(c["type"].as_str(), Some("Ready" | "ContainersReady")) {
            if c["status"] != "False" {
                c["lastTransitionTime"] = json!(now);
            }
            c["status"] = json!("False");
            c["reason"] = json!("PodFailed");
            if let Some(m) = c.as_object_mut() {
                m.remove("message");
            }
        }
    }
    let conditions = &mut status["conditions"];
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    if let Some(list) = conditions.as_array_mut() {
        list.retain(|c| c["type"] != "DisruptionTarget");
        list.push(json!({"type": "DisruptionTarget", "status": "True",
            "reason": "TerminationByKubelet",
            "message": "the node agent restarted and the pod's processes were lost",
            "lastProbeTime": null, "lastTransitionTime": now}));
    }
    status["phase"] = json!("Failed");
    status["reason"] = json!("NodeAgentRestarted");
    status["message"] = json!("the node agent restarted and the pod's processes were lost");
    status
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Container;

    /// The status of a running node's pod in `phase` with these containers, at time 12.
    fn render_at(phase: &str, slots: &[Slot]) -> Value {
        render_gated(phase, slots, &[])
    }

    /// [`render_at`] with these readiness gates.
    fn render_gated(
        phase: &str,
        slots: &[Slot],
        readiness_gates: &[(String, Option<String>)],
    ) -> Value {
        let view = View {
            phase,
            reason: None,
            message: None,
            disruption: None,
            slots,
            host_ip: "192.0.2.1",
            start_time: Some(9),
            sandbox_ready: true,
            readiness_gates,
            runtime: "process",
        };
        render(&view, &mut Conditions::default(), 12)
    }

    fn condition(status: &Value, kind: &str) -> Value {
        status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == kind)
            .unwrap()
            .clone()
    }

    fn slot(name: &str, kind: Kind, state: State) -> Slot {
        let mut s = Slot::new(
            Container {
                name: name.into(),
                image: Some("busybox".into()),
                ..Default::default()
            },
            kind,
            "",
        );
        s.state = state;
        s
    }

    #[test]
    fn a_container_s_status_lists_its_mounts_as_the_kubelet_s() {
        let mut s = slot(
            "c",
            Kind::Main,
            State::Running {
                started_at: 1,
                pid: 2,
            },
        );
        s.container.volume_mounts = Some(
            serde_json::from_value(json!([
                {"name": "token", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true},
                {"name": "work", "mountPath": "/work"},
            ]))
            .unwrap(),
        );
        assert_eq!(
            container_status(&s, "process", 4096)["volumeMounts"],
            json!([
                {"name": "token", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                    "readOnly": true, "recursiveReadOnly": "Disabled"},
                {"name": "work", "mountPath": "/work"},
            ])
        );
    }

    #[test]
    fn a_completed_pod_reads_like_the_kubelets() {
        let done = State::Terminated(Terminated {
            exit_code: 0,
            signal: None,
            reason: "Completed".into(),
            message: None,
            started_at: 10,
            finished_at: 11,
            container_id: "x".into(),
        });
        let slots = vec![
            slot("init", Kind::Init, done.clone()),
            slot("main", Kind::Main, done),
        ];
        let s = render_at("Succeeded", &slots);
        let cond = |t: &str| condition(&s, t);
        assert_eq!(cond("Ready")["status"], "False");
        assert_eq!(cond("Ready")["reason"], "PodCompleted");
        assert_eq!(cond("Initialized")["status"], "True");
        assert_eq!(cond("PodReadyToStartContainers")["status"], "False");
        assert_eq!(
            s["containerStatuses"][0]["state"]["terminated"]["reason"],
            "Completed"
        );
        assert_eq!(
            s["containerStatuses"][0]["state"]["terminated"]["finishedAt"],
            "1970-01-01T00:00:11Z"
        );
        assert_eq!(s["initContainerStatuses"][0]["name"], "init");
        assert_eq!(
            s["initContainerStatuses"][0]["ready"], true,
            "an init container that exited 0 is ready"
        );
        assert_eq!(s["startTime"], "1970-01-01T00:00:09Z");
        assert_eq!(s["reason"], Value::Null, "a stale reason is cleared");
    }

    #[test]
    fn termination_messages_share_the_pod_s_12_kib_as_the_kubelet_s() {
        let said = |message: &str| {
            State::Terminated(Terminated {
                exit_code: 1,
                signal: None,
                reason: "Error".into(),
                message: Some(message.into()),
                started_at: 10,
                finished_at: 11,
                container_id: "x".into(),
            })
        };
        let long = format!("S{}E", "x".repeat(4094));
        let slots: Vec<Slot> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| slot(n, Kind::Main, said(&long)))
            .collect();
        let s = render_at("Failed", &slots);
        let kept = s["containerStatuses"][0]["state"]["terminated"]["message"]
            .as_str()
            .unwrap();
        assert_eq!(kept.len(), 3072, "the first 12 KiB / 4 bytes");
        assert!(kept.starts_with('S'));
        // One container keeps its 4 KiB whole; a cut never splits a character.
        let s = render_at("Failed", &[slot("a", Kind::Main, said(&long))]);
        assert_eq!(
            s["containerStatuses"][0]["state"]["terminated"]["message"],
            long
        );
        assert_eq!(within_budget("aé", 2), "a");
    }

    #[test]
    fn readiness_gates_hold_the_ready_condition_as_upstream_words_it() {
        let running = State::Running {
            started_at: 10,
            pid: 1,
        };
        let slots = vec![slot("c", Kind::Main, running)];
        let gate = |status: Option<&str>| {
            vec![("example.com/ready".to_string(), status.map(str::to_string))]
        };
        let s = render_gated("Running", &slots, &gate(None));
        assert_eq!(condition(&s, "ContainersReady")["status"], "True");
        let ready = condition(&s, "Ready");
        assert_eq!(ready["status"], "False");
        assert_eq!(ready["reason"], "ReadinessGatesNotReady");
        assert_eq!(
            ready["message"],
            "corresponding condition of pod readiness gate \"example.com/ready\" does not exist."
        );
        let s = render_gated("Running", &slots, &gate(Some("False")));
        assert_eq!(
            condition(&s, "Ready")["message"],
            "the status of pod readiness gate \"example.com/ready\" is not \"True\", but False"
        );
        let s = render_gated("Running", &slots, &gate(Some("True")));
        assert_eq!(condition(&s, "Ready")["status"], "True");
    }

    #[test]
    fn container_statuses_are_sorted_by_name_and_init_containers_keep_the_spec_order() {
        let waiting = State::Waiting {
            reason: "PodInitializing".into(),
            message: None,
        };
        let slots = vec![
            slot("setup-z", Kind::Init, waiting.clone()),
            slot("setup-a", Kind::Init, waiting.clone()),
            slot("zeta", Kind::Main, waiting.clone()),
            slot("alpha", Kind::Main, waiting.clone()),
            slot("mid", Kind::Main, waiting),
        ];
        let s = render_at("Pending", &slots);
        let names = |key: &str| -> Vec<String> {
            s[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(names("containerStatuses"), ["alpha", "mid", "zeta"]);
        assert_eq!(names("initContainerStatuses"), ["setup-z", "setup-a"]);
    }

    #[test]
    fn a_failed_init_container_leaves_the_pod_uninitialized_as_kubectl_s_init_error_needs() {
        let failed = State::Terminated(Terminated {
            exit_code: 7,
            signal: None,
            reason: "Error".into(),
            message: None,
            started_at: 10,
            finished_at: 11,
            container_id: "x".into(),
        });
        let waiting = State::Waiting {
            reason: "PodInitializing".into(),
            message: None,
        };
        let slots = vec![
            slot("i", Kind::Init, failed),
            slot("main", Kind::Main, waiting),
        ];
        let s = render_at("Failed", &slots);
        let cond = |t: &str| condition(&s, t);
        assert_eq!(cond("Initialized")["status"], "False");
        assert_eq!(cond("Initialized")["reason"], "ContainersNotInitialized");
        assert_eq!(
            cond("Initialized")["message"],
            "containers with incomplete status: [i]"
        );
        assert_eq!(cond("Ready")["reason"], "PodFailed");
        assert_eq!(cond("ContainersReady")["reason"], "PodFailed");
        assert_eq!(cond("Ready")["message"], Value::Null);
        assert_eq!(s["initContainerStatuses"][0]["ready"], false);
    }

    #[test]
    fn a_pod_lost_before_its_first_status_gets_every_container_reported_lost() {
        let spec: k8s_openapi::api::core::v1::PodSpec = serde_json::from_value(json!({
            "containers": [{"name": "c", "image": "busybox"}, {"name": "d"}]}))
        .unwrap();
        let mut status = Value::Null;
        with_every_container(&mut status, &spec, |name| {
            (name == "c").then(|| "process://u-c-0".to_string())
        });
        let after = lost(&status, "t1");
        let statuses = after["containerStatuses"].as_array().unwrap();
        assert_eq!(statuses.len(), 2);
        for cs in statuses {
            assert_eq!(
                cs["state"]["terminated"]["reason"],
                "ContainerStatusUnknown"
            );
        }
        assert_eq!(
            statuses[0]["state"]["terminated"]["containerID"], "process://u-c-0",
            "the attempt that started keeps its log readable"
        );
        assert!(
            statuses[1]["state"]["terminated"]
                .get("containerID")
                .is_none()
        );
        assert!(
            after["initContainerStatuses"].is_null(),
            "no init containers"
        );
    }

    #[test]
    fn a_lost_pod_is_failed_with_its_containers_unknown_and_unready() {
        let before = json!({
            "phase": "Running",
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "t0"},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "t0"},
            ],
            "initContainerStatuses": [{"name": "i", "ready": true,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
            "containerStatuses": [{"name": "c", "ready": true, "started": true,
                "containerID": "process://u-c-0", "state": {"running": {"startedAt": "t0"}}}],
        });
        let after = lost(&before, "t1");
        assert_eq!(after["phase"], "Failed");
        assert_eq!(after["reason"], "NodeAgentRestarted");
        let c = &after["containerStatuses"][0];
        assert_eq!(c["state"]["terminated"]["reason"], "ContainerStatusUnknown");
        assert_eq!(c["state"]["terminated"]["exitCode"], 137);
        assert_eq!(c["ready"], false);
        assert_eq!(
            after["initContainerStatuses"][0]["state"]["terminated"]["reason"], "Completed",
            "what had ended stays as it ended"
        );
        let ready = &after["conditions"][0];
        assert_eq!(
            (
                &ready["status"],
                &ready["reason"],
                &ready["lastTransitionTime"]
            ),
            (&json!("False"), &json!("PodFailed"), &json!("t1"))
        );
        assert_eq!(after["conditions"][1]["status"], "True");
        assert_eq!(
            c["state"]["terminated"]["containerID"], "process://u-c-0",
            "the lost attempt's log stays readable"
        );
        let disruption = &after["conditions"][2];
        assert_eq!(
            (&disruption["type"], &disruption["reason"]),
            (&json!("DisruptionTarget"), &json!("TerminationByKubelet")),
            "a podFailurePolicy can ignore the loss"
        );
    }

    #[test]
    fn transition_times_move_only_when_the_status_changes() {
        let mut conds = Conditions::default();
        let a = conds.make("Ready", false, None, None, "t1");
        let b = conds.make("Ready", false, None, None, "t2");
        let c = conds.make("Ready", true, None, None, "t3");
        assert_eq!(a["lastTransitionTime"], "t1");
        assert_eq!(b["lastTransitionTime"], "t1");
        assert_eq!(c["lastTransitionTime"], "t3");
    }
}
