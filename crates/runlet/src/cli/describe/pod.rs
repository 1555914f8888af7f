//! `describe pod` (kubectl's `describePod`), with `fieldRef` environment variables resolved
//! from the pod as kubectl's `EnvValueRetriever` does.

use super::template::{containers, node_selectors, tolerations, volumes};
use super::{Clock, Writer, annotations, controlled_by, events, labels, secs};
use k8s_openapi::api::core::v1::{EnvVar, Event, Pod};

/// A Pod as `kubectl describe pod` prints it.
pub fn pod(pod: &Pod, events_list: Option<&[Event]>, clock: &Clock) -> String {
    let mut w = Writer::default();
    let meta = &pod.metadata;
    let spec = pod.spec.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    w.write(
        0,
        &format!("Name:\t{}\n", meta.name.as_deref().unwrap_or("")),
    );
    w.write(
        0,
        &format!("Namespace:\t{}\n", meta.namespace.as_deref().unwrap_or("")),
    );
    if let Some(p) = spec.priority {
        w.write(0, &format!("Priority:\t{p}\n"));
    }
    if let Some(pc) = spec
        .priority_class_name
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        w.write(0, &format!("Priority Class Name:\t{pc}\n"));
    }
    if let Some(rc) = spec.runtime_class_name.as_deref().filter(|s| !s.is_empty()) {
        w.write(0, &format!("Runtime Class Name:\t{rc}\n"));
    }
    if let Some(sa) = spec
        .service_account_name
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        w.write(0, &format!("Service Account:\t{sa}\n"));
    }
    match spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        None => w.write(0, "Node:\t<none>\n"),
        Some(node) => w.write(
            0,
            &format!(
                "Node:\t{node}/{}\n",
                status.host_ip.as_deref().unwrap_or("")
            ),
        ),
    }
    if let Some(t) = status.start_time.as_ref().map(secs) {
        w.write(0, &format!("Start Time:\t{}\n", clock.rfc1123z(t)));
    }
    labels(&mut w, "Labels", meta.labels.as_ref());
    annotations(&mut w, "Annotations", meta.annotations.as_ref());
    let phase = status.phase.clone().unwrap_or_default();
    match &meta.deletion_timestamp {
        Some(t) if phase != "Failed" && phase != "Succeeded" => {
            w.write(
                0,
                &format!(
                    "Status:\tTerminating (lasts {})\n",
                    clock.since(Some(secs(t)))
                ),
            );
            w.write(
                0,
                &format!(
                    "Termination Grace Period:\t{}s\n",
                    meta.deletion_grace_period_seconds.unwrap_or(0)
                ),
            );
        }
        _ => w.write(0, &format!("Status:\t{phase}\n")),
    }
    if let Some(r) = status.reason.as_deref().filter(|r| !r.is_empty()) {
        w.write(0, &format!("Reason:\t{r}\n"));
    }
    if let Some(m) = status.message.as_deref().filter(|m| !m.is_empty()) {
        w.write(0, &format!("Message:\t{m}\n"));
    }
    w.write(
        0,
        &format!("IP:\t{}\n", status.pod_ip.as_deref().unwrap_or("")),
    );
    let ips = status.pod_ips.clone().unwrap_or_default();
    if ips.is_empty() {
        w.write(0, "IPs:\t<none>\n");
    } else {
        w.write(0, "IPs:\n");
        for ip in ips {
            w.write(1, &format!("IP:\t{}\n", ip.ip));
        }
    }
    if let Some(owner) = controlled_by(meta) {
        w.write(0, &format!("Controlled By:\t{owner}\n"));
    }
    if let Some(n) = status
        .nominated_node_name
        .as_deref()
        .filter(|n| !n.is_empty())
    {
        w.write(0, &format!("NominatedNodeName:\t{n}\n"));
    }
    let resolve = |e: &EnvVar| resolve_field(pod, e);
    if let Some(init) = spec.init_containers.as_ref().filter(|c| !c.is_empty()) {
        containers(
            &mut w,
            "Init Containers",
            init,
            status
                .init_container_statuses
                .as_deref()
                .unwrap_or_default(),
            &resolve,
            "",
            clock,
        );
    }
    containers(
        &mut w,
        "Containers",
        &spec.containers,
        status.container_statuses.as_deref().unwrap_or_default(),
        &resolve,
        "",
        clock,
    );
    let conditions = status.conditions.clone().unwrap_or_default();
    if !conditions.is_empty() {
        w.write(0, "Conditions:\n  Type\tStatus\n");
        for c in conditions {
            w.write(1, &format!("{} \t{} \n", c.type_, c.status));
        }
    }
    volumes(&mut w, spec.volumes.as_deref().unwrap_or_default(), "");
    let qos = status.qos_class.clone().unwrap_or_else(|| {
        let spec_json = serde_json::to_value(&spec).unwrap_or_default();
        runlet_api::defaulting::qos::pod_qos_class(&spec_json).to_string()
    });
    w.write(0, &format!("QoS Class:\t{qos}\n"));
    node_selectors(&mut w, spec.node_selector.as_ref());
    tolerations(
        &mut w,
        "Tolerations",
        spec.tolerations.as_deref().unwrap_or_default(),
    );
    if let Some(list) = events_list {
        events(&mut w, list, clock);
    }
    w.finish()
}

/// The value of a `fieldRef` variable as kubectl's `EnvValueRetriever` shows it: only the
/// paths the Pod's field-label conversion knows resolve; labels, annotations and others print
/// empty, as they do in kubectl.
fn resolve_field(pod: &Pod, e: &EnvVar) -> String {
    let Some(path) = e
        .value_from
        .as_ref()
        .and_then(|f| f.field_ref.as_ref())
        .map(|f| f.field_path.as_str())
    else {
        return String::new();
    };
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "spec.restartPolicy" => spec
            .and_then(|s| s.restart_policy.clone())
            .unwrap_or_default(),
        "status.phase" => status.and_then(|s| s.phase.clone()).unwrap_or_default(),
        "status.podIP" => status.and_then(|s| s.pod_ip.clone()).unwrap_or_default(),
        _ => String::new(),
    }
}
