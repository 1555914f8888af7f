//! Pod rows, as upstream's `printPod`: the Ready count (sidecars included), the Status reason
//! (`Init:0/1`, `CrashLoopBackOff`, `Completed`, `Terminating`, ...) and the Restarts cell with
//! the time of the last restart (`2 (5m ago)`).

use super::descriptions as d;
use super::{Column, Row, age, array_at, at, int_at, is_deleting, name, since, str_at, time_at};
use serde_json::{Value, json};

pub(super) const COLUMNS: &[Column] = &[
    Column::NAME,
    Column::string(
        "Ready",
        "The aggregate readiness state of this pod for accepting traffic.",
    ),
    Column::string(
        "Status",
        "The aggregate status of the containers in this pod.",
    ),
    Column::string(
        "Restarts",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    Column::AGE,
    Column::wide("IP", d::POD_STATUS_POD_IP),
    Column::wide("Node", d::POD_SPEC_NODE_NAME),
    Column::wide("Nominated Node", d::POD_STATUS_NOMINATED_NODE_NAME),
    Column::wide("Readiness Gates", d::POD_SPEC_READINESS_GATES),
];

/// The reason a node controller gives pods on an unreachable node.
const NODE_UNREACHABLE_POD_REASON: &str = "NodeLost";

/// An init container with `restartPolicy: Always` is a sidecar: it counts as a container.
fn is_restartable_init(pod: &Value, container_name: &str) -> bool {
    array_at(pod, &["spec", "initContainers"])
        .iter()
        .find(|c| str_at(c, &["name"]) == container_name)
        .is_some_and(|c| str_at(c, &["restartPolicy"]) == "Always")
}

/// The later of `latest` and the container's last termination time.
fn last_termination(latest: Option<i64>, status: &Value) -> Option<i64> {
    let finished = time_at(status, &["lastState", "terminated", "finishedAt"]);
    match (latest, finished) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn condition_true(pod: &Value, type_: &str) -> bool {
    array_at(pod, &["status", "conditions"])
        .iter()
        .any(|c| str_at(c, &["type"]) == type_ && str_at(c, &["status"]) == "True")
}

pub(super) fn row(pod: &Value, now: i64) -> Row {
    let init_specs = array_at(pod, &["spec", "initContainers"]);
    let total = array_at(pod, &["spec", "containers"]).len()
        + init_specs
            .iter()
            .filter(|c| str_at(c, &["restartPolicy"]) == "Always")
            .count();
    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut sidecar_restarts = 0i64;
    let mut last_restart: Option<i64> = None;
    let mut last_sidecar_restart: Option<i64> = None;

    let phase = str_at(pod, &["status", "phase"]);
    let mut reason = phase.to_string();
    let status_reason = str_at(pod, &["status", "reason"]);
    if !status_reason.is_empty() {
        reason = status_reason.to_string();
    }
    for c in array_at(pod, &["status", "conditions"]) {
        if str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated" {
            reason = "SchedulingGated".to_string();
        }
    }

    let mut initializing = false;
    for (i, c) in array_at(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        restarts += int_at(c, &["restartCount"]);
        last_restart = last_termination(last_restart, c);
        let sidecar = is_restartable_init(pod, str_at(c, &["name"]));
        if sidecar {
            sidecar_restarts += int_at(c, &["restartCount"]);
            last_sidecar_restart = last_termination(last_sidecar_restart, c);
        }
        let terminated = at(c, &["state", "terminated"]).filter(|t| t.is_object());
        let waiting_reason = str_at(c, &["state", "waiting", "reason"]);
        if terminated.is_some_and(|t| int_at(t, &["exitCode"]) == 0) {
            continue;
        }
        if sidecar && at(c, &["started"]).and_then(Value::as_bool) == Some(true) {
            if at(c, &["ready"]).and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            let t_reason = str_at(t, &["reason"]);
            reason = if !t_reason.is_empty() {
                format!("Init:{t_reason}")
            } else if int_at(t, &["signal"]) != 0 {
                format!("Init:Signal:{}", int_at(t, &["signal"]))
            } else {
                format!("Init:ExitCode:{}", int_at(t, &["exitCode"]))
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    if !initializing || condition_true(pod, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for c in array_at(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts += int_at(c, &["restartCount"]);
            last_restart = last_termination(last_restart, c);
            let waiting_reason = str_at(c, &["state", "waiting", "reason"]);
            let terminated = at(c, &["state", "terminated"]).filter(|t| t.is_object());
            let running = at(c, &["state", "running"]).is_some_and(Value::is_object);
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                let t_reason = str_at(t, &["reason"]);
                reason = if !t_reason.is_empty() {
                    t_reason.to_string()
                } else if int_at(t, &["signal"]) != 0 {
                    format!("Signal:{}", int_at(t, &["signal"]))
                } else {
                    format!("ExitCode:{}", int_at(t, &["exitCode"]))
                };
            } else if at(c, &["ready"]).and_then(Value::as_bool) == Some(true) && running {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true(pod, "Ready") {
                "Running"
            } else {
                "NotReady"
            }
            .to_string();
        }
    }

    if is_deleting(pod) && status_reason == NODE_UNREACHABLE_POD_REASON {
        reason = "Unknown".to_string();
    } else if is_deleting(pod) && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_string();
    }

    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(Some(t), now)),
        _ => restarts.to_string(),
    };

    let ip = array_at(pod, &["status", "podIPs"])
        .first()
        .map_or("", |p| str_at(p, &["ip"]));
    let node = str_at(pod, &["spec", "nodeName"]);
    let nominated = str_at(pod, &["status", "nominatedNodeName"]);
    let gates = array_at(pod, &["spec", "readinessGates"]);
    let gates_cell = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let satisfied = gates
            .iter()
            .filter(|g| {
                let wanted = str_at(g, &["conditionType"]);
                array_at(pod, &["status", "conditions"])
                    .iter()
                    .find(|c| str_at(c, &["type"]) == wanted)
                    .is_some_and(|c| str_at(c, &["status"]) == "True")
            })
            .count();
        format!("{satisfied}/{}", gates.len())
    };
    let mut row = Row::new(vec![
        name(pod).into(),
        format!("{ready}/{total}").into(),
        reason.into(),
        restarts_cell.into(),
        age(pod, now).into(),
        or_none(ip).into(),
        or_none(node).into(),
        or_none(nominated).into(),
        gates_cell.into(),
    ]);
    row.conditions = match phase {
        "Succeeded" => Some(
            json!([{"type": "Completed", "status": "True", "reason": "Succeeded",
            "message": "The pod has completed successfully."}]),
        ),
        "Failed" => Some(
            json!([{"type": "Completed", "status": "True", "reason": "Failed",
            "message": "The pod failed."}]),
        ),
        _ => None,
    };
    row
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "<none>" } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000; // 2023-11-14T22:13:20Z

    fn pod(spec: Value, status: Value) -> Value {
        json!({"metadata": {"name": "p", "creationTimestamp": "2023-11-14T22:03:20Z"}, "spec": spec, "status": status})
    }

    fn one_container(status: Value) -> Value {
        pod(json!({"containers": [{"name": "c"}]}), status)
    }

    fn cells(p: &Value) -> Vec<Value> {
        row(p, NOW).cells
    }

    #[test]
    fn pending_pod_without_statuses() {
        let p = one_container(json!({"phase": "Pending"}));
        assert_eq!(
            cells(&p),
            vec![
                json!("p"),
                json!("0/1"),
                json!("Pending"),
                json!("0"),
                json!("10m"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn running_ready_pod_shows_ip_and_node() {
        let mut p = one_container(json!({"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}],
            "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0,
                                   "state": {"running": {"startedAt": "2023-11-14T22:03:30Z"}}}]}));
        p["spec"]["nodeName"] = json!("node-1");
        let c = cells(&p);
        assert_eq!(c[1], "1/1");
        assert_eq!(c[2], "Running");
        assert_eq!(c[5], "10.0.0.5");
        assert_eq!(c[6], "node-1");
    }

    #[test]
    fn container_waiting_reason_wins() {
        let p = one_container(
            json!({"phase": "Pending", "containerStatuses": [{"name": "c", "ready": false,
            "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
        );
        assert_eq!(cells(&p)[2], "ContainerCreating");
    }

    #[test]
    fn crash_loop_shows_restarts_with_last_restart_age() {
        let p = one_container(
            json!({"phase": "Running", "containerStatuses": [{"name": "c", "ready": false,
            "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2023-11-14T22:08:20Z"}}}]}),
        );
        let c = cells(&p);
        assert_eq!(c[2], "CrashLoopBackOff");
        assert_eq!(c[3], "2 (5m ago)");
    }

    #[test]
    fn terminated_containers_give_completed_error_or_exit_code() {
        let term = |t: Value, phase: &str| {
            one_container(
                json!({"phase": phase, "containerStatuses": [{"name": "c", "ready": false,
                "restartCount": 0, "state": {"terminated": t}}]}),
            )
        };
        let done = term(json!({"exitCode": 0, "reason": "Completed"}), "Succeeded");
        assert_eq!(cells(&done)[2], "Completed");
        assert_eq!(
            row(&done, NOW).conditions,
            Some(json!([{"type": "Completed", "status": "True",
            "reason": "Succeeded", "message": "The pod has completed successfully."}]))
        );
        assert_eq!(
            cells(&term(json!({"exitCode": 1, "reason": "Error"}), "Failed"))[2],
            "Error"
        );
        assert_eq!(
            cells(&term(json!({"exitCode": 3}), "Failed"))[2],
            "ExitCode:3"
        );
        assert_eq!(
            cells(&term(json!({"exitCode": 137, "signal": 9}), "Failed"))[2],
            "Signal:9"
        );
    }

    #[test]
    fn init_containers_report_progress() {
        let spec = json!({"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "c"}]});
        let waiting = pod(
            spec.clone(),
            json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            {"name": "i2", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}]}),
        );
        assert_eq!(cells(&waiting)[2], "Init:1/2");
        let failed = pod(
            spec.clone(),
            json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "restartCount": 3, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}),
        );
        assert_eq!(cells(&failed)[2], "Init:Error");
        assert_eq!(cells(&failed)[3], "3");
        let looping = pod(
            spec,
            json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "restartCount": 0, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
        );
        assert_eq!(cells(&looping)[2], "Init:CrashLoopBackOff");
    }

    #[test]
    fn sidecars_count_as_containers() {
        let p = pod(
            json!({"initContainers": [{"name": "side", "restartPolicy": "Always"}], "containers": [{"name": "c"}]}),
            json!({"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
                "initContainerStatuses": [{"name": "side", "ready": true, "started": true, "restartCount": 1,
                    "state": {"running": {}}}],
                "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0, "state": {"running": {}}}]}),
        );
        let c = cells(&p);
        assert_eq!(c[1], "2/2");
        assert_eq!(c[2], "Running");
        assert_eq!(c[3], "1");
    }

    #[test]
    fn deleting_pods_show_terminating_unless_finished() {
        let mut p = one_container(json!({"phase": "Running"}));
        p["metadata"]["deletionTimestamp"] = json!("2023-11-14T22:13:00Z");
        assert_eq!(cells(&p)[2], "Terminating");
        p["status"]["reason"] = json!("NodeLost");
        assert_eq!(cells(&p)[2], "Unknown");
        let mut done = one_container(json!({"phase": "Succeeded"}));
        done["metadata"]["deletionTimestamp"] = json!("2023-11-14T22:13:00Z");
        assert_eq!(cells(&done)[2], "Succeeded");
    }

    #[test]
    fn completed_with_a_running_container_is_not_ready_or_running() {
        let p = pod(
            json!({"containers": [{"name": "a"}, {"name": "b"}]}),
            json!({"phase": "Running", "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "b", "ready": true, "restartCount": 0, "state": {"running": {}}}]}),
        );
        assert_eq!(cells(&p)[2], "NotReady");
    }

    #[test]
    fn scheduling_gated_and_readiness_gates() {
        let p = pod(
            json!({"containers": [{"name": "c"}], "readinessGates": [{"conditionType": "x/ok"}, {"conditionType": "x/two"}]}),
            json!({"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"},
                {"type": "x/ok", "status": "True"}]}),
        );
        let c = cells(&p);
        assert_eq!(c[2], "SchedulingGated");
        assert_eq!(c[8], "1/2");
    }
}
