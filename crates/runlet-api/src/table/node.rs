//! Node rows, as upstream's `printNode`: Ready/NotReady/Unknown plus SchedulingDisabled, and
//! roles from `node-role.kubernetes.io/<role>` and `kubernetes.io/role` labels.

use super::descriptions as d;
use super::{Column, Row, age, array_at, at, name, str_at};
use serde_json::Value;
use std::collections::BTreeSet;

pub(super) const COLUMNS: &[Column] = &[
    Column::NAME,
    Column::string("Status", "The status of the node"),
    Column::string("Roles", "The roles of the node"),
    Column::AGE,
    Column::string("Version", d::NODE_SYSTEM_INFO_KUBELET_VERSION),
    Column::wide("Internal-IP", d::NODE_STATUS_ADDRESSES),
    Column::wide("External-IP", d::NODE_STATUS_ADDRESSES),
    Column::wide("OS-Image", d::NODE_SYSTEM_INFO_OS_IMAGE),
    Column::wide("Kernel-Version", d::NODE_SYSTEM_INFO_KERNEL_VERSION),
    Column::wide(
        "Container-Runtime",
        d::NODE_SYSTEM_INFO_CONTAINER_RUNTIME_VERSION,
    ),
];

const ROLE_PREFIX: &str = "node-role.kubernetes.io/";
const ROLE_LABEL: &str = "kubernetes.io/role";

pub(super) fn row(node: &Value, now: i64) -> Row {
    // The last Ready condition wins, as upstream's condition map.
    let ready = array_at(node, &["status", "conditions"])
        .iter()
        .rev()
        .find(|c| str_at(c, &["type"]) == "Ready");
    let mut status: Vec<&str> = match ready {
        Some(c) if str_at(c, &["status"]) == "True" => vec!["Ready"],
        Some(_) => vec!["NotReady"],
        None => vec!["Unknown"],
    };
    if at(node, &["spec", "unschedulable"]).and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    let mut roles = BTreeSet::new();
    if let Some(labels) = at(node, &["metadata", "labels"]).and_then(Value::as_object) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix(ROLE_PREFIX) {
                if !role.is_empty() {
                    roles.insert(role.to_string());
                }
            } else if k == ROLE_LABEL
                && let Some(v) = v.as_str().filter(|v| !v.is_empty())
            {
                roles.insert(v.to_string());
            }
        }
    }
    let roles = if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    };
    let info = |field: &str| {
        let v = str_at(node, &["status", "nodeInfo", field]);
        if v.is_empty() { "<unknown>" } else { v }
    };
    Row::new(vec![
        name(node).into(),
        status.join(",").into(),
        roles.into(),
        age(node, now).into(),
        str_at(node, &["status", "nodeInfo", "kubeletVersion"]).into(),
        address(node, "InternalIP").into(),
        address(node, "ExternalIP").into(),
        info("osImage").into(),
        info("kernelVersion").into(),
        info("containerRuntimeVersion").into(),
    ])
}

/// The first address of `type_`, or `<none>`.
fn address<'a>(node: &'a Value, type_: &str) -> &'a str {
    array_at(node, &["status", "addresses"])
        .iter()
        .find(|a| str_at(a, &["type"]) == type_)
        .map_or("<none>", |a| str_at(a, &["address"]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ready_node_with_roles_and_addresses() {
        let n = json!({
            "metadata": {"name": "n1", "creationTimestamp": "2023-11-14T21:13:20Z",
                "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/": "",
                           "kubernetes.io/role": "worker"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.2"}],
                "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian", "kernelVersion": "6.1.0",
                             "containerRuntimeVersion": "runlet://0.1.0"}}});
        assert_eq!(
            row(&n, 1_700_000_000).cells,
            vec![
                json!("n1"),
                json!("Ready,SchedulingDisabled"),
                json!("control-plane,worker"),
                json!("60m"),
                json!("v1.33.0"),
                json!("10.0.0.2"),
                json!("<none>"),
                json!("Debian"),
                json!("6.1.0"),
                json!("runlet://0.1.0")
            ]
        );
    }

    #[test]
    fn node_without_ready_condition_is_unknown() {
        let n = json!({"metadata": {"name": "n"}, "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}]}});
        let cells = row(&n, 0).cells;
        assert_eq!(cells[1], "Unknown");
        assert_eq!(cells[2], "<none>");
        assert_eq!(cells[7], "<unknown>");
        let not_ready = json!({"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
        assert_eq!(row(&not_ready, 0).cells[1], "NotReady");
    }
}
