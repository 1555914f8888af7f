//! The parts of a description shared by Jobs, CronJobs and Pods: pod templates, containers
//! with their state, environment, mounts and volumes (kubectl's `DescribePodTemplate`,
//! `describeContainers`, `describeVolumes`, `printPodTolerationsMultiline`).

use super::{Clock, Writer, annotations, labels, labels_multiline, secs};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStatus, EnvVar, PodTemplateSpec, Probe, Toleration, Volume,
};
use std::collections::BTreeMap;

/// Resolves a `fieldRef` environment variable to its value (empty for templates).
pub(super) type EnvResolver<'a> = &'a dyn Fn(&EnvVar) -> String;

/// `DescribePodTemplate`.
pub(super) fn pod_template(w: &mut Writer, template: &PodTemplateSpec, clock: &Clock) {
    w.write(0, "Pod Template:\n");
    let meta = template.metadata.clone().unwrap_or_default();
    labels(w, "  Labels", meta.labels.as_ref());
    if meta.annotations.as_ref().is_some_and(|a| !a.is_empty()) {
        annotations(w, "  Annotations", meta.annotations.as_ref());
    }
    let spec = template.spec.clone().unwrap_or_default();
    if let Some(sa) = spec
        .service_account_name
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        w.write(1, &format!("Service Account:\t{sa}\n"));
    }
    let none = |_: &EnvVar| String::new();
    if let Some(init) = spec.init_containers.as_ref().filter(|c| !c.is_empty()) {
        containers(w, "Init Containers", init, &[], &none, "  ", clock);
    }
    containers(w, "Containers", &spec.containers, &[], &none, "  ", clock);
    volumes(w, spec.volumes.as_deref().unwrap_or_default(), "  ");
    if let Some(pc) = spec
        .priority_class_name
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        w.write(1, &format!("Priority Class Name:\t{pc}\n"));
    }
    labels(w, "  Node-Selectors", spec.node_selector.as_ref());
    tolerations(
        w,
        "  Tolerations",
        spec.tolerations.as_deref().unwrap_or_default(),
    );
}

/// `describeContainers`.
pub(super) fn containers(
    w: &mut Writer,
    label: &str,
    containers: &[Container],
    statuses: &[ContainerStatus],
    resolve: EnvResolver,
    space: &str,
    clock: &Clock,
) {
    let none = if containers.is_empty() { " <none>" } else { "" };
    w.write(0, &format!("{space}{label}:{none}\n"));
    let name_indent = if space.is_empty() { "" } else { " " };
    for c in containers {
        let status = statuses.iter().find(|s| s.name == c.name);
        w.write(1, &format!("{name_indent}{}:\n", c.name));
        if let Some(s) = status {
            w.write(
                2,
                &format!(
                    "Container ID:\t{}\n",
                    s.container_id.as_deref().unwrap_or("")
                ),
            );
        }
        w.write(
            2,
            &format!("Image:\t{}\n", c.image.as_deref().unwrap_or("")),
        );
        if let Some(s) = status {
            w.write(2, &format!("Image ID:\t{}\n", s.image_id));
        }
        let ports = c.ports.as_deref().unwrap_or_default();
        let port_list: Vec<String> = ports
            .iter()
            .map(|p| {
                format!(
                    "{}/{}",
                    p.container_port,
                    p.protocol.as_deref().unwrap_or("TCP")
                )
            })
            .collect();
        let host_list: Vec<String> = ports
            .iter()
            .map(|p| {
                format!(
                    "{}/{}",
                    p.host_port.unwrap_or(0),
                    p.protocol.as_deref().unwrap_or("TCP")
                )
            })
            .collect();
        if port_list.len() > 1 {
            w.write(2, &format!("Ports:\t{}\n", port_list.join(", ")));
        } else {
            w.write(2, &format!("Port:\t{}\n", or_none(&port_list.join(", "))));
        }
        if host_list.len() > 1 {
            w.write(2, &format!("Host Ports:\t{}\n", host_list.join(", ")));
        } else {
            w.write(
                2,
                &format!("Host Port:\t{}\n", or_none(&host_list.join(", "))),
            );
        }
        command_lines(w, "Command", c.command.as_deref().unwrap_or_default());
        command_lines(w, "Args", c.args.as_deref().unwrap_or_default());
        if let Some(s) = status {
            state(w, "State", s.state.as_ref(), clock);
            if s.last_state
                .as_ref()
                .is_some_and(|l| l.terminated.is_some())
            {
                state(w, "Last State", s.last_state.as_ref(), clock);
            }
            w.write(2, &format!("Ready:\t{}\n", go_bool(s.ready)));
            w.write(2, &format!("Restart Count:\t{}\n", s.restart_count));
        }
        if let Some(r) = &c.resources {
            resource_list(w, "Limits", r.limits.as_ref());
            resource_list(w, "Requests", r.requests.as_ref());
        }
        for (title, probe) in [
            ("Liveness", &c.liveness_probe),
            ("Readiness", &c.readiness_probe),
            ("Startup", &c.startup_probe),
        ] {
            if let Some(p) = probe {
                w.write(2, &format!("{title}:\t{}\n", describe_probe(p)));
            }
        }
        if let Some(from) = c.env_from.as_ref().filter(|f| !f.is_empty()) {
            w.write(2, "Environment Variables from:\n");
            for e in from {
                let (kind, name, optional) = match (&e.config_map_ref, &e.secret_ref) {
                    (Some(cm), _) => ("ConfigMap", cm.name.clone(), cm.optional.unwrap_or(false)),
                    (None, Some(s)) => ("Secret", s.name.clone(), s.optional.unwrap_or(false)),
                    (None, None) => ("", String::new(), false),
                };
                match e.prefix.as_deref().filter(|p| !p.is_empty()) {
                    None => w.write(3, &format!("{name}\t{kind}\tOptional: {optional}\n")),
                    Some(p) => w.write(
                        3,
                        &format!("{name}\t{kind} with prefix '{p}'\tOptional: {optional}\n"),
                    ),
                }
            }
        }
        env(w, c, resolve);
        mounts(w, c);
    }
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "<none>" } else { s }
}

/// Go's `printBool`.
fn go_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

fn command_lines(w: &mut Writer, title: &str, parts: &[String]) {
    if parts.is_empty() {
        return;
    }
    w.write(2, &format!("{title}:\n"));
    for part in parts {
        for line in part.split('\n') {
            w.write(3, &format!("{line}\n"));
        }
    }
}

/// `describeStatus`.
fn state(w: &mut Writer, name: &str, state: Option<&ContainerState>, clock: &Clock) {
    let state = state.cloned().unwrap_or_default();
    if let Some(r) = &state.running {
        w.write(2, &format!("{name}:\tRunning\n"));
        let started = r.started_at.as_ref().map(secs).unwrap_or(0);
        w.write(3, &format!("Started:\t{}\n", clock.rfc1123z(started)));
    } else if let Some(wt) = &state.waiting {
        w.write(2, &format!("{name}:\tWaiting\n"));
        if let Some(reason) = wt.reason.as_deref().filter(|r| !r.is_empty()) {
            w.write(3, &format!("Reason:\t{reason}\n"));
        }
    } else if let Some(t) = &state.terminated {
        w.write(2, &format!("{name}:\tTerminated\n"));
        if let Some(reason) = t.reason.as_deref().filter(|r| !r.is_empty()) {
            w.write(3, &format!("Reason:\t{reason}\n"));
        }
        if let Some(msg) = t.message.as_deref().filter(|m| !m.is_empty()) {
            w.write(3, &format!("Message:\t{msg}\n"));
        }
        w.write(3, &format!("Exit Code:\t{}\n", t.exit_code));
        if let Some(sig) = t.signal.filter(|s| *s > 0) {
            w.write(3, &format!("Signal:\t{sig}\n"));
        }
        let started = t.started_at.as_ref().map(secs).unwrap_or(0);
        let finished = t.finished_at.as_ref().map(secs).unwrap_or(0);
        w.write(3, &format!("Started:\t{}\n", clock.rfc1123z(started)));
        w.write(3, &format!("Finished:\t{}\n", clock.rfc1123z(finished)));
    } else {
        w.write(2, &format!("{name}:\tWaiting\n"));
    }
}

fn resource_list(
    w: &mut Writer,
    title: &str,
    list: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
) {
    let Some(list) = list.filter(|l| !l.is_empty()) else {
        return;
    };
    w.write(2, &format!("{title}:\n"));
    for (name, q) in list {
        w.write(3, &format!("{name}:\t{}\n", q.0));
    }
}

/// `DescribeProbe`.
fn describe_probe(p: &Probe) -> String {
    let attrs = format!(
        "delay={}s timeout={}s period={}s #success={} #failure={}",
        p.initial_delay_seconds.unwrap_or(0),
        p.timeout_seconds.unwrap_or(1),
        p.period_seconds.unwrap_or(10),
        p.success_threshold.unwrap_or(1),
        p.failure_threshold.unwrap_or(3)
    );
    if let Some(e) = &p.exec {
        format!(
            "exec [{}] {attrs}",
            e.command.clone().unwrap_or_default().join(" ")
        )
    } else if let Some(h) = &p.http_get {
        let port = match &h.port {
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => i.to_string(),
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
        };
        format!(
            "http-get {}://{}:{port}{} {attrs}",
            h.scheme.as_deref().unwrap_or("HTTP").to_lowercase(),
            h.host.as_deref().unwrap_or(""),
            h.path.as_deref().unwrap_or("")
        )
    } else if let Some(t) = &p.tcp_socket {
        let port = match &t.port {
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => i.to_string(),
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
        };
        format!(
            "tcp-socket {}:{port} {attrs}",
            t.host.as_deref().unwrap_or("")
        )
    } else {
        format!("unknown {attrs}")
    }
}

/// `describeContainerEnvVars`.
fn env(w: &mut Writer, c: &Container, resolve: EnvResolver) {
    let vars = c.env.as_deref().unwrap_or_default();
    let none = if vars.is_empty() { "\t<none>" } else { "" };
    w.write(2, &format!("Environment:{none}\n"));
    for e in vars {
        let Some(from) = &e.value_from else {
            let value = e.value.as_deref().unwrap_or("");
            for (i, line) in value.split('\n').enumerate() {
                if i == 0 {
                    w.write(3, &format!("{}:\t{line}\n", e.name));
                } else {
                    w.write(3, &format!("\t{line}\n"));
                }
            }
            continue;
        };
        if let Some(f) = &from.field_ref {
            w.write(
                3,
                &format!(
                    "{}:\t{} ({}:{})\n",
                    e.name,
                    resolve(e),
                    f.api_version.as_deref().unwrap_or("v1"),
                    f.field_path
                ),
            );
        } else if let Some(r) = &from.resource_field_ref {
            w.write(3, &format!("{}:\t ({})\n", e.name, r.resource));
        } else if let Some(s) = &from.secret_key_ref {
            w.write(
                3,
                &format!(
                    "{}:\t<set to the key '{}' in secret '{}'>\tOptional: {}\n",
                    e.name,
                    s.key,
                    s.name,
                    s.optional.unwrap_or(false)
                ),
            );
        } else if let Some(cm) = &from.config_map_key_ref {
            w.write(
                3,
                &format!(
                    "{}:\t<set to the key '{}' of config map '{}'>\tOptional: {}\n",
                    e.name,
                    cm.key,
                    cm.name,
                    cm.optional.unwrap_or(false)
                ),
            );
        }
    }
}

/// `describeContainerVolumes`.
fn mounts(w: &mut Writer, c: &Container) {
    let mut list = c.volume_mounts.clone().unwrap_or_default();
    let none = if list.is_empty() { "\t<none>" } else { "" };
    w.write(2, &format!("Mounts:{none}\n"));
    list.sort_by(|a, b| a.mount_path.cmp(&b.mount_path));
    for m in list {
        let mut flags = vec![
            if m.read_only.unwrap_or(false) {
                "ro"
            } else {
                "rw"
            }
            .to_string(),
        ];
        if let Some(sub) = m.sub_path.as_deref().filter(|s| !s.is_empty()) {
            flags.push(format!("path={sub:?}"));
        }
        w.write(
            3,
            &format!("{} from {} ({})\n", m.mount_path, m.name, flags.join(",")),
        );
    }
}

/// `describeVolumes`.
pub(super) fn volumes(w: &mut Writer, volumes: &[Volume], space: &str) {
    if volumes.is_empty() {
        w.write(0, &format!("{space}Volumes:\t<none>\n"));
        return;
    }
    w.write(0, &format!("{space}Volumes:\n"));
    let name_indent = if space.is_empty() { "" } else { " " };
    for v in volumes {
        w.write(1, &format!("{name_indent}{}:\n", v.name));
        if let Some(h) = &v.host_path {
            w.write(
                2,
                &format!(
                    "Type:\tHostPath (bare host directory volume)\n    Path:\t{}\n    HostPathType:\t{}\n",
                    h.path,
                    h.type_.as_deref().unwrap_or("<none>")
                ),
            );
        } else if let Some(e) = &v.empty_dir {
            let size = e
                .size_limit
                .as_ref()
                .map(|q| q.0.clone())
                .filter(|q| !q.is_empty() && q != "0")
                .unwrap_or_else(|| "<unset>".into());
            w.write(
                2,
                &format!(
                    "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n    Medium:\t{}\n    SizeLimit:\t{size}\n",
                    e.medium.as_deref().unwrap_or("")
                ),
            );
        } else if let Some(s) = &v.secret {
            w.write(
                2,
                &format!(
                    "Type:\tSecret (a volume populated by a Secret)\n    SecretName:\t{}\n    Optional:\t{}\n",
                    s.secret_name.as_deref().unwrap_or(""),
                    s.optional.unwrap_or(false)
                ),
            );
        } else if let Some(cm) = &v.config_map {
            w.write(
                2,
                &format!(
                    "Type:\tConfigMap (a volume populated by a ConfigMap)\n    Name:\t{}\n    Optional:\t{}\n",
                    cm.name,
                    cm.optional.unwrap_or(false)
                ),
            );
        } else if let Some(pvc) = &v.persistent_volume_claim {
            w.write(
                2,
                &format!(
                    "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n    ClaimName:\t{}\n    ReadOnly:\t{}\n",
                    pvc.claim_name,
                    pvc.read_only.unwrap_or(false)
                ),
            );
        } else if let Some(d) = &v.downward_api {
            w.write(
                2,
                "Type:\tDownwardAPI (a volume populated by information about the pod)\n    Items:\n",
            );
            for item in d.items.as_deref().unwrap_or_default() {
                if let Some(f) = &item.field_ref {
                    w.write(3, &format!("{} -> {}\n", f.field_path, item.path));
                }
                if let Some(r) = &item.resource_field_ref {
                    w.write(3, &format!("{} -> {}\n", r.resource, item.path));
                }
            }
        } else if let Some(p) = &v.projected {
            w.write(
                2,
                "Type:\tProjected (a volume that contains injected data from multiple sources)\n",
            );
            for s in p.sources.as_deref().unwrap_or_default() {
                if let Some(sec) = &s.secret {
                    w.write(
                        2,
                        &format!(
                            "SecretName:\t{}\n    Optional:\t{}\n",
                            sec.name,
                            sec.optional.unwrap_or(false)
                        ),
                    );
                } else if s.downward_api.is_some() {
                    w.write(2, "DownwardAPI:\ttrue\n");
                } else if let Some(cm) = &s.config_map {
                    w.write(
                        2,
                        &format!(
                            "ConfigMapName:\t{}\n    Optional:\t{}\n",
                            cm.name,
                            cm.optional.unwrap_or(false)
                        ),
                    );
                } else if let Some(t) = &s.service_account_token {
                    w.write(
                        2,
                        &format!(
                            "TokenExpirationSeconds:\t{}\n",
                            t.expiration_seconds.unwrap_or(3600)
                        ),
                    );
                }
            }
        } else {
            w.write(1, "<unknown>\n");
        }
    }
}

/// `printTolerationsMultilineWithIndent`.
pub(super) fn tolerations(w: &mut Writer, title: &str, tolerations: &[Toleration]) {
    w.write(0, &format!("{title}:\t"));
    if tolerations.is_empty() {
        w.line("<none>");
        return;
    }
    let mut sorted = tolerations.to_vec();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    for (i, t) in sorted.iter().enumerate() {
        if i != 0 {
            w.write(0, "\t");
        }
        let key = t.key.as_deref().unwrap_or("");
        let value = t.value.as_deref().unwrap_or("");
        let effect = t.effect.as_deref().unwrap_or("");
        let mut text = key.to_string();
        if !value.is_empty() {
            text.push_str(&format!("={value}"));
        }
        if !effect.is_empty() {
            text.push_str(&format!(":{effect}"));
        }
        if t.operator.as_deref() == Some("Exists") && value.is_empty() {
            if !key.is_empty() || !effect.is_empty() {
                text.push_str(" op=Exists");
            } else {
                text.push_str("op=Exists");
            }
        }
        if let Some(s) = t.toleration_seconds {
            text.push_str(&format!(" for {s}s"));
        }
        w.write(0, &format!("{text}\n"));
    }
}

/// `printLabelsMultiline` for node selectors at the pod's top level.
pub(super) fn node_selectors(w: &mut Writer, selector: Option<&BTreeMap<String, String>>) {
    labels_multiline(w, "", "Node-Selectors", "\t", selector);
}
