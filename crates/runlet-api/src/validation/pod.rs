//! Pod and pod-template validation: the part of upstream's `pkg/apis/core/validation` that Jobs
//! depend on (`ValidatePodTemplateSpec`, `ValidatePodSpec`, containers, volumes, env, resources,
//! probes) and `ValidatePodCreate`/`ValidatePodUpdate`/`ValidatePodStatusUpdate`.
//!
//! Works on JSON so it serves both Pods and the templates embedded in Jobs and CronJobs. Rarely
//! used corners (Windows options, most volume plugin internals) are not checked beyond their
//! shape.

use super::format::{self, invalid_each};
use super::metadata::{self, validate_annotations, validate_labels, validate_nonnegative};
use super::{json_i64, json_str, non_null};
use crate::field::{ErrorList, FieldError, Path};
use serde_json::Value;
use std::collections::BTreeSet;
use volumes::validate_local_descending_path;

pub(super) fn arr<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

pub(super) fn obj<'a>(v: &'a Value, k: &str) -> Option<&'a Value> {
    non_null(v.get(k))
}

/// `ValidatePodTemplateSpec`: template labels and annotations, then the pod spec.
pub fn validate_pod_template_spec(tmpl: &Value, path: &Path) -> ErrorList {
    let meta = tmpl.get("metadata").unwrap_or(&Value::Null);
    let mut errs = validate_labels(meta.get("labels"), &path.child("labels"));
    errs.extend(validate_annotations(
        meta.get("annotations"),
        &path.child("annotations"),
    ));
    let spec = tmpl.get("spec").unwrap_or(&Value::Null);
    errs.extend(validate_pod_spec(spec, &path.child("spec")));
    if !arr(spec, "ephemeralContainers").is_empty() {
        errs.push(FieldError::forbidden(
            &path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

/// `ValidatePodSpec`.
pub fn validate_pod_spec(spec: &Value, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let grace = json_i64(spec, "terminationGracePeriodSeconds");
    if grace.is_none() {
        errs.push(FieldError::required(
            &path.child("terminationGracePeriodSeconds"),
            "",
        ));
    }
    let (volumes, verrs) = validate_volumes(arr(spec, "volumes"), &path.child("volumes"));
    errs.extend(verrs);
    let restart_policy = json_str(spec, "restartPolicy");
    errs.extend(validate_containers(
        arr(spec, "containers"),
        &volumes,
        grace,
        &path.child("containers"),
    ));
    errs.extend(validate_init_containers(
        arr(spec, "initContainers"),
        arr(spec, "containers"),
        &volumes,
        grace,
        &path.child("initContainers"),
    ));
    errs.extend(validate_host_network_deps(spec, path));
    match restart_policy {
        "Always" | "OnFailure" | "Never" => {}
        "" => errs.push(FieldError::required(&path.child("restartPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            &path.child("restartPolicy"),
            other,
            &["Always", "OnFailure", "Never"],
        )),
    }
    let dns_policy = json_str(spec, "dnsPolicy");
    match dns_policy {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errs.push(FieldError::required(&path.child("dnsPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            &path.child("dnsPolicy"),
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    errs.extend(validate_labels(
        spec.get("nodeSelector"),
        &path.child("nodeSelector"),
    ));
    errs.extend(validate_pod_security_context(spec, path));
    errs.extend(security::validate_pod_security(spec, path));
    let host_users = security::host_users(spec);
    for kind in ["initContainers", "containers"] {
        for (i, c) in arr(spec, kind).iter().enumerate() {
            if let Some(sc) = obj(c, "securityContext") {
                let p = path.child(kind).index(i).child("securityContext");
                errs.extend(security::validate_container_security(sc, host_users, &p));
            }
        }
    }
    for (i, c) in arr(spec, "containers").iter().enumerate() {
        errs.extend(validate_resize_policy(
            arr(c, "resizePolicy"),
            restart_policy,
            &path.child("containers").index(i).child("resizePolicy"),
        ));
    }
    if let Some(affinity) = obj(spec, "affinity") {
        errs.extend(scheduling::validate_affinity(
            affinity,
            &path.child("affinity"),
        ));
    }
    errs.extend(validate_dns_config(
        spec,
        dns_policy,
        &path.child("dnsConfig"),
    ));
    for (i, g) in arr(spec, "readinessGates").iter().enumerate() {
        let t = json_str(g, "conditionType");
        errs.extend(invalid_each(
            &path.child("readinessGates").index(i).child("conditionType"),
            t,
            format::is_qualified_name(t),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, g) in arr(spec, "schedulingGates").iter().enumerate() {
        let n = json_str(g, "name");
        let p = path.child("schedulingGates").index(i);
        errs.extend(invalid_each(&p, n, format::is_qualified_name(n)));
        if !seen.insert(n) {
            errs.push(FieldError::duplicate(&p, n));
        }
    }
    errs.extend(scheduling::validate_topology_spread_constraints(
        arr(spec, "topologySpreadConstraints"),
        &path.child("topologySpreadConstraints"),
    ));
    errs.extend(security::validate_host_users(spec, path));
    for (field, name_fn) in [
        (
            "serviceAccountName",
            format::name_is_dns_subdomain as format::NameFn,
        ),
        ("nodeName", format::name_is_dns_subdomain),
    ] {
        let v = json_str(spec, field);
        if !v.is_empty() {
            errs.extend(invalid_each(&path.child(field), v, name_fn(v, false)));
        }
    }
    if let Some(ads) = json_i64(spec, "activeDeadlineSeconds")
        && !(1..=i64::from(i32::MAX)).contains(&ads)
    {
        errs.push(FieldError::invalid(
            &path.child("activeDeadlineSeconds"),
            ads,
            format::inclusive_range_error(1, i64::from(i32::MAX)),
        ));
    }
    for field in ["hostname", "subdomain"] {
        let v = json_str(spec, field);
        if !v.is_empty() {
            errs.extend(invalid_each(
                &path.child(field),
                v,
                format::is_dns1123_label(v),
            ));
        }
    }
    errs.extend(validate_tolerations(
        arr(spec, "tolerations"),
        &path.child("tolerations"),
    ));
    for (i, alias) in arr(spec, "hostAliases").iter().enumerate() {
        let p = path.child("hostAliases").index(i);
        errs.extend(validate_ip(json_str(alias, "ip"), &p.child("ip")));
        for (j, name) in arr(alias, "hostnames").iter().enumerate() {
            let name = name.as_str().unwrap_or_default();
            errs.extend(invalid_each(
                &p.child("hostnames").index(j),
                name,
                format::is_dns1123_subdomain(name),
            ));
        }
    }
    let pcn = json_str(spec, "priorityClassName");
    if !pcn.is_empty() {
        errs.extend(invalid_each(
            &path.child("priorityClassName"),
            pcn,
            format::name_is_dns_subdomain(pcn, false),
        ));
    }
    if let Some(rcn) = spec.get("runtimeClassName").and_then(Value::as_str) {
        errs.extend(invalid_each(
            &path.child("runtimeClassName"),
            rcn,
            format::name_is_dns_subdomain(rcn, false),
        ));
    }
    if let Some(pp) = spec.get("preemptionPolicy").and_then(Value::as_str) {
        match pp {
            "PreemptLowerPriority" | "Never" => {}
            "" => errs.push(FieldError::required(&path.child("preemptionPolicy"), "")),
            other => errs.push(FieldError::not_supported(
                &path.child("preemptionPolicy"),
                other,
                &["PreemptLowerPriority", "Never"],
            )),
        }
    }
    if let Some(os) = obj(spec, "os") {
        let name = json_str(os, "name");
        if name.is_empty() {
            errs.push(FieldError::required(
                &path.child("os").child("name"),
                "cannot be empty",
            ));
        } else if name != "linux" && name != "windows" {
            errs.push(FieldError::not_supported(
                &path.child("os"),
                name,
                &["linux", "windows"],
            ));
        }
    }
    errs
}

fn validate_pod_security_context(spec: &Value, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(sc) = obj(spec, "securityContext") {
        let p = path.child("securityContext");
        for f in ["runAsUser", "runAsGroup", "fsGroup"] {
            if let Some(v) = json_i64(sc, f)
                && !(0..=i64::from(i32::MAX)).contains(&v)
            {
                errs.push(FieldError::invalid(
                    &p.child(f),
                    v,
                    format::inclusive_range_error(0, i64::from(i32::MAX)),
                ));
            }
        }
        for (i, g) in arr(sc, "supplementalGroups").iter().enumerate() {
            if let Some(v) = g.as_i64()
                && !(0..=i64::from(i32::MAX)).contains(&v)
            {
                errs.push(FieldError::invalid(
                    &p.child("supplementalGroups").index(i),
                    v,
                    format::inclusive_range_error(0, i64::from(i32::MAX)),
                ));
            }
        }
    }
    errs
}

fn validate_host_network_deps(spec: &Value, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if spec.get("hostNetwork").and_then(Value::as_bool) != Some(true) {
        return errs;
    }
    for (i, c) in arr(spec, "containers").iter().enumerate() {
        for (j, port) in arr(c, "ports").iter().enumerate() {
            let hp = json_i64(port, "hostPort").unwrap_or(0);
            let cp = json_i64(port, "containerPort").unwrap_or(0);
            if hp != 0 && hp != cp {
                errs.push(FieldError::invalid(
                    &path
                        .child("containers")
                        .index(i)
                        .child("ports")
                        .index(j)
                        .child("hostPort"),
                    hp,
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
    }
    errs
}

fn validate_dns_config(spec: &Value, dns_policy: &str, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let cfg = obj(spec, "dnsConfig");
    if dns_policy == "None" {
        let Some(cfg) = cfg else {
            errs.push(FieldError::required(
                path,
                "must provide `dnsConfig` when `dnsPolicy` is None",
            ));
            return errs;
        };
        if arr(cfg, "nameservers").is_empty() {
            errs.push(FieldError::required(
                &path.child("nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            ));
            return errs;
        }
    }
    if let Some(cfg) = cfg {
        let ns = arr(cfg, "nameservers");
        if ns.len() > 3 {
            errs.push(FieldError::invalid(
                &path.child("nameservers"),
                Value::from(ns.to_vec()),
                "must not have more than 3 nameservers",
            ));
        }
        for (i, server) in ns.iter().enumerate() {
            let server = server.as_str().unwrap_or_default();
            errs.extend(validate_ip(server, &path.child("nameservers").index(i)));
        }
        let searches = arr(cfg, "searches");
        let joined: Vec<&str> = searches.iter().filter_map(Value::as_str).collect();
        if searches.len() > MAX_DNS_SEARCH_PATHS {
            errs.push(FieldError::invalid(
                &path.child("searches"),
                Value::from(searches.to_vec()),
                format!("must not have more than {MAX_DNS_SEARCH_PATHS} search paths"),
            ));
        }
        if joined.join(" ").len() > MAX_DNS_SEARCH_LIST_CHARS {
            errs.push(FieldError::invalid(
                &path.child("searches"),
                Value::from(searches.to_vec()),
                format!(
                    "must not have more than {MAX_DNS_SEARCH_LIST_CHARS} characters (including spaces) in the search list"
                ),
            ));
        }
        for (i, search) in joined.iter().enumerate() {
            // Upstream's relaxed search validation (on in 1.33): `.` alone is allowed, and a
            // domain may have a trailing dot and underscores.
            if *search == "." {
                continue;
            }
            let domain = search.strip_suffix('.').unwrap_or(search);
            errs.extend(invalid_each(
                &path.child("searches").index(i),
                domain,
                format::is_dns1123_subdomain_with_underscore(domain),
            ));
        }
        for (i, o) in arr(cfg, "options").iter().enumerate() {
            if json_str(o, "name").is_empty() {
                errs.push(FieldError::required(
                    &path.child("options").index(i),
                    "must not be empty",
                ));
            }
        }
    }
    errs
}

/// `validateResizePolicy`: CPU and memory once each, and under `restartPolicy: Never` (every
/// Job but `OnFailure` ones) no restart to resize. Upstream's paths have no index.
fn validate_resize_policy(policies: &[Value], pod_restart: &str, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut seen = BTreeSet::new();
    for (i, policy) in policies.iter().enumerate() {
        let resource = json_str(policy, "resourceName");
        if !seen.insert(resource) {
            errs.push(FieldError::duplicate(&path.index(i), resource));
        }
        match resource {
            "cpu" | "memory" => {}
            "" => errs.push(FieldError::required(path, "")),
            other => errs.push(FieldError::not_supported(path, other, &["cpu", "memory"])),
        }
        let restart = json_str(policy, "restartPolicy");
        match restart {
            "NotRequired" | "RestartContainer" => {}
            "" => errs.push(FieldError::required(path, "")),
            other => errs.push(FieldError::not_supported(
                path,
                other,
                &["NotRequired", "RestartContainer"],
            )),
        }
        if pod_restart == "Never" && restart != "NotRequired" {
            errs.push(FieldError::invalid(
                path,
                restart,
                "must be 'NotRequired' when `restartPolicy` is 'Never'",
            ));
        }
    }
    errs
}

/// How many search domains, and characters of them, a pod's DNS configuration may have.
const MAX_DNS_SEARCH_PATHS: usize = 32;
const MAX_DNS_SEARCH_LIST_CHARS: usize = 2048;

/// `IsValidIP`: an IPv4 or IPv6 address.
fn validate_ip(value: &str, path: &Path) -> ErrorList {
    if value.parse::<std::net::IpAddr>().is_ok() {
        return ErrorList::new();
    }
    vec![FieldError::invalid(
        path,
        value,
        "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
    )]
}

/// `ValidateTolerations`.
fn validate_tolerations(tols: &[Value], path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, t) in tols.iter().enumerate() {
        let p = path.index(i);
        let key = json_str(t, "key");
        let op = json_str(t, "operator");
        let value = json_str(t, "value");
        let effect = json_str(t, "effect");
        if !key.is_empty() {
            errs.extend(metadata::validate_label_name(key, &p.child("key")));
        }
        if key.is_empty() && op != "Exists" {
            errs.push(FieldError::invalid(
                &p.child("operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if non_null(t.get("tolerationSeconds")).is_some() && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                &p.child("effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match op {
            "Equal" | "" => {
                let msgs = format::is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(
                        &p.child("operator"),
                        value,
                        msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(FieldError::invalid(
                        &p.child("operator"),
                        t.clone(),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                &p.child("operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect)
        {
            errs.push(FieldError::not_supported(
                &p.child("effect"),
                effect,
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            ));
        }
    }
    errs
}

fn validate_containers(
    ctrs: &[Value],
    vols: &VolumeMap,
    grace: Option<i64>,
    path: &Path,
) -> ErrorList {
    let mut errs = ErrorList::new();
    if ctrs.is_empty() {
        errs.push(FieldError::required(path, ""));
        return errs;
    }
    let mut names = BTreeSet::new();
    for (i, c) in ctrs.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_container_common(c, vols, &p));
        let name = json_str(c, "name");
        if !names.insert(name) {
            errs.push(FieldError::duplicate(&p.child("name"), name));
        }
        if let Some(l) = obj(c, "lifecycle") {
            errs.extend(validate_lifecycle(l, grace, &p.child("lifecycle")));
        }
        errs.extend(validate_probes(c, grace, &p));
        if non_null(c.get("restartPolicy")).is_some() {
            errs.push(FieldError::forbidden(
                &p.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    errs.extend(check_host_port_conflicts(ctrs, path));
    errs
}

fn validate_init_containers(
    ctrs: &[Value],
    regular: &[Value],
    vols: &VolumeMap,
    grace: Option<i64>,
    path: &Path,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut names: BTreeSet<&str> = regular.iter().map(|c| json_str(c, "name")).collect();
    for (i, c) in ctrs.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_container_common(c, vols, &p));
        let mut restart_always = false;
        if let Some(rp) = c.get("restartPolicy").and_then(Value::as_str) {
            if rp == "Always" {
                restart_always = true;
            } else {
                errs.push(FieldError::not_supported(
                    &p.child("restartPolicy"),
                    rp,
                    &["Always"],
                ));
            }
        }
        let name = json_str(c, "name");
        if names.contains(name) {
            errs.push(FieldError::duplicate(&p.child("name"), name));
        } else if !name.is_empty() {
            names.insert(name);
        }
        errs.extend(check_host_port_conflicts(std::slice::from_ref(c), path));
        if restart_always {
            if let Some(l) = obj(c, "lifecycle") {
                errs.extend(validate_lifecycle(l, grace, &p.child("lifecycle")));
            }
            errs.extend(validate_probes(c, grace, &p));
        } else {
            for f in [
                "lifecycle",
                "livenessProbe",
                "readinessProbe",
                "startupProbe",
            ] {
                if obj(c, f).is_some() {
                    errs.push(FieldError::forbidden(
                        &p.child(f),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
    }
    errs
}

fn validate_container_common(c: &Value, vols: &VolumeMap, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let name = json_str(c, "name");
    if name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    } else {
        errs.extend(invalid_each(
            &path.child("name"),
            name,
            format::is_dns1123_label(name),
        ));
    }
    if json_str(c, "image").is_empty() {
        errs.push(FieldError::required(&path.child("image"), ""));
    }
    match json_str(c, "terminationMessagePolicy") {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(FieldError::required(
            &path.child("terminationMessagePolicy"),
            "",
        )),
        other => errs.push(FieldError::not_supported(
            &path.child("terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    errs.extend(validate_ports(arr(c, "ports"), &path.child("ports")));
    errs.extend(validate_env(arr(c, "env"), &path.child("env")));
    errs.extend(validate_env_from(arr(c, "envFrom"), &path.child("envFrom")));
    errs.extend(validate_volume_mounts(
        arr(c, "volumeMounts"),
        vols,
        c.pointer("/securityContext/privileged") == Some(&Value::Bool(true)),
        &path.child("volumeMounts"),
    ));
    match json_str(c, "imagePullPolicy") {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errs.push(FieldError::required(&path.child("imagePullPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            &path.child("imagePullPolicy"),
            other,
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    if let Some(r) = obj(c, "resources") {
        errs.extend(validate_resource_requirements(r, &path.child("resources")));
    }
    if let Some(sc) = obj(c, "securityContext") {
        let p = path.child("securityContext");
        for f in ["runAsUser", "runAsGroup"] {
            if let Some(v) = json_i64(sc, f)
                && !(0..=i64::from(i32::MAX)).contains(&v)
            {
                errs.push(FieldError::invalid(
                    &p.child(f),
                    v,
                    format::inclusive_range_error(0, i64::from(i32::MAX)),
                ));
            }
        }
        // Upstream's `ValidateSecurityContext`: no escalation refused while it is granted.
        if sc.get("allowPrivilegeEscalation") == Some(&Value::Bool(false)) {
            if sc.get("privileged") == Some(&Value::Bool(true)) {
                errs.push(FieldError::invalid(
                    &p,
                    sc.clone(),
                    "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
                ));
            }
            let added = sc.pointer("/capabilities/add").and_then(Value::as_array);
            for cap in added.into_iter().flatten() {
                if cap.as_str() == Some("CAP_SYS_ADMIN") {
                    errs.push(FieldError::invalid(
                        &p,
                        sc.clone(),
                        "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
                    ));
                }
            }
        }
    }
    errs
}

fn validate_ports(ports: &[Value], path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.index(i);
        let name = json_str(port, "name");
        if !name.is_empty() {
            let msgs = format::is_valid_port_name(name);
            if !msgs.is_empty() {
                errs.extend(invalid_each(&p.child("name"), name, msgs));
            } else if !names.insert(name) {
                errs.push(FieldError::duplicate(&p.child("name"), name));
            }
        }
        let cp = json_i64(port, "containerPort").unwrap_or(0);
        if cp == 0 {
            errs.push(FieldError::required(&p.child("containerPort"), ""));
        } else {
            for m in format::is_valid_port_num(cp) {
                errs.push(FieldError::invalid(&p.child("containerPort"), cp, m));
            }
        }
        let hp = json_i64(port, "hostPort").unwrap_or(0);
        if hp != 0 {
            for m in format::is_valid_port_num(hp) {
                errs.push(FieldError::invalid(&p.child("hostPort"), hp, m));
            }
        }
        match json_str(port, "protocol") {
            "" => errs.push(FieldError::required(&p.child("protocol"), "")),
            "TCP" | "UDP" | "SCTP" => {}
            other => errs.push(FieldError::not_supported(
                &p.child("protocol"),
                other,
                &["SCTP", "TCP", "UDP"],
            )),
        }
    }
    errs
}

fn check_host_port_conflicts(ctrs: &[Value], path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut seen = BTreeSet::new();
    for (ci, c) in ctrs.iter().enumerate() {
        for (pi, port) in arr(c, "ports").iter().enumerate() {
            let hp = json_i64(port, "hostPort").unwrap_or(0);
            if hp == 0 {
                continue;
            }
            let key = format!(
                "{}/{}/{}",
                json_str(port, "protocol"),
                json_str(port, "hostIP"),
                hp
            );
            if seen.contains(&key) {
                errs.push(FieldError::duplicate(
                    &path.index(ci).child("ports").index(pi).child("hostPort"),
                    key,
                ));
            } else {
                seen.insert(key);
            }
        }
    }
    errs
}

const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
/// What a downward API volume file may show (upstream's
/// `validVolumeDownwardAPIFieldPathExpressions`).
const VOLUME_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.labels",
    "metadata.annotations",
    "metadata.uid",
];
const DOWNWARD_API_LABELS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.schedulerName",
    "status.phase",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
const RESOURCE_FIELD_PATHS: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

/// `ValidateEnv` with relaxed names (the 1.33 default).
fn validate_env(vars: &[Value], path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, ev) in vars.iter().enumerate() {
        let p = path.index(i);
        let name = json_str(ev, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        } else {
            errs.extend(invalid_each(
                &p.child("name"),
                name,
                format::is_relaxed_env_var_name(name),
            ));
        }
        errs.extend(validate_env_value_from(ev, &p.child("valueFrom")));
    }
    errs
}

fn validate_env_value_from(ev: &Value, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(from) = obj(ev, "valueFrom") else {
        return errs;
    };
    let mut n = 0;
    if let Some(fr) = obj(from, "fieldRef") {
        n += 1;
        errs.extend(validate_object_field_selector(
            fr,
            &path.child("fieldRef"),
            ENV_FIELD_PATHS,
        ));
    }
    if let Some(rr) = obj(from, "resourceFieldRef") {
        n += 1;
        errs.extend(validate_resource_field_selector(
            rr,
            &path.child("resourceFieldRef"),
            false,
        ));
    }
    for key in ["configMapKeyRef", "secretKeyRef"] {
        if let Some(kr) = obj(from, key) {
            n += 1;
            let p = path.child(key);
            let name = json_str(kr, "name");
            errs.extend(invalid_each(
                &p.child("name"),
                name,
                format::name_is_dns_subdomain(name, false),
            ));
            let k = json_str(kr, "key");
            if k.is_empty() {
                errs.push(FieldError::required(&p.child("key"), ""));
            } else {
                errs.extend(invalid_each(
                    &p.child("key"),
                    k,
                    format::is_config_map_key(k),
                ));
            }
        }
    }
    if n == 0 {
        errs.push(FieldError::invalid(path, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"));
    } else if !json_str(ev, "value").is_empty() {
        errs.push(FieldError::invalid(
            path,
            "",
            "may not be specified when `value` is not empty",
        ));
    } else if n > 1 {
        errs.push(FieldError::invalid(
            path,
            "",
            "may not have more than one field specified at a time",
        ));
    }
    errs
}

/// Upstream's `validateContainerResourceFieldSelector`: a volume's selector must name its
/// container (an environment variable's is its own).
fn validate_resource_field_selector(rr: &Value, p: &Path, volume: bool) -> ErrorList {
    let mut errs = ErrorList::new();
    let r = json_str(rr, "resource");
    if volume && json_str(rr, "containerName").is_empty() {
        errs.push(FieldError::required(&p.child("containerName"), ""));
    } else if r.is_empty() {
        errs.push(FieldError::required(&p.child("resource"), ""));
    } else if !RESOURCE_FIELD_PATHS.contains(&r)
        && !r.starts_with("requests.hugepages-")
        && !r.starts_with("limits.hugepages-")
    {
        errs.push(FieldError::not_supported(
            &p.child("resource"),
            r,
            RESOURCE_FIELD_PATHS,
        ));
    }
    errs.extend(validate_resource_divisor(
        r,
        rr.get("divisor"),
        &p.child("divisor"),
    ));
    errs
}

/// `validateContainerResourceDivisor`: a divisor that is set is one of the units of its
/// resource, compared in canonical form (`1000m` is `1`).
fn validate_resource_divisor(resource: &str, divisor: Option<&Value>, path: &Path) -> ErrorList {
    const BYTE_UNITS: &[&str] = &[
        "1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei",
    ];
    let written = match divisor {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return ErrorList::new(),
    };
    let canonical = crate::goform::canonical_quantity(&written).unwrap_or(written);
    if canonical == "0" {
        return ErrorList::new();
    }
    let (units, what): (&[&str], &str) = match resource {
        "limits.cpu" | "requests.cpu" => {
            (&["1m", "1"], "1m and 1 are supported with the cpu resource")
        }
        "limits.memory" | "requests.memory" => (
            BYTE_UNITS,
            "1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource",
        ),
        "limits.ephemeral-storage" | "requests.ephemeral-storage" => (
            BYTE_UNITS,
            "1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral storage resource",
        ),
        r if r.starts_with("requests.hugepages-") || r.starts_with("limits.hugepages-") => (
            BYTE_UNITS,
            "1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the hugepages resource",
        ),
        _ => return ErrorList::new(),
    };
    if units.contains(&canonical.as_str()) {
        return ErrorList::new();
    }
    vec![FieldError::invalid(
        path,
        resource,
        format!("only divisor's values {what}"),
    )]
}

/// Upstream's `validateObjectFieldSelector` against the paths `allowed` where it is used.
fn validate_object_field_selector(fs: &Value, path: &Path, allowed: &[&str]) -> ErrorList {
    let mut errs = ErrorList::new();
    let api_version = json_str(fs, "apiVersion");
    if api_version.is_empty() {
        errs.push(FieldError::required(&path.child("apiVersion"), ""));
        return errs;
    }
    let fp = json_str(fs, "fieldPath");
    if fp.is_empty() {
        errs.push(FieldError::required(&path.child("fieldPath"), ""));
        return errs;
    }
    let (base, subscript) = match fp.split_once('[') {
        Some((b, rest)) if rest.ends_with(']') => {
            let inner = rest.trim_end_matches(']');
            let inner = inner
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .unwrap_or(inner);
            (b, Some(inner))
        }
        _ => (fp, None),
    };
    if api_version != "v1" {
        errs.push(FieldError::invalid(
            &path.child("fieldPath"),
            fp,
            format!("error converting fieldPath: unsupported pod version: {api_version}"),
        ));
        return errs;
    }
    if !DOWNWARD_API_LABELS.contains(&base) {
        errs.push(FieldError::invalid(
            &path.child("fieldPath"),
            fp,
            format!("error converting fieldPath: field label not supported: {fp}"),
        ));
        return errs;
    }
    match subscript {
        Some(sub) => match base {
            "metadata.annotations" => errs.extend(invalid_each(
                path,
                &sub.to_lowercase(),
                format::is_qualified_name(&sub.to_lowercase()),
            )),
            "metadata.labels" => {
                errs.extend(invalid_each(path, sub, format::is_qualified_name(sub)))
            }
            _ => errs.push(FieldError::invalid(
                path,
                base,
                "does not support subscript",
            )),
        },
        None => {
            if !allowed.contains(&base) {
                let mut sorted = allowed.to_vec();
                sorted.sort_unstable();
                errs.push(FieldError::not_supported(
                    &path.child("fieldPath"),
                    base,
                    &sorted,
                ));
            }
        }
    }
    errs
}

fn validate_env_from(vars: &[Value], path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, ev) in vars.iter().enumerate() {
        let p = path.index(i);
        let prefix = json_str(ev, "prefix");
        if !prefix.is_empty() {
            errs.extend(invalid_each(
                &p.child("prefix"),
                prefix,
                format::is_relaxed_env_var_name(prefix),
            ));
        }
        let mut n = 0;
        for key in ["configMapRef", "secretRef"] {
            if let Some(r) = obj(ev, key) {
                n += 1;
                let name = json_str(r, "name");
                if name.is_empty() {
                    errs.push(FieldError::required(&p.child(key).child("name"), ""));
                } else {
                    errs.extend(invalid_each(
                        &p.child(key).child("name"),
                        name,
                        format::name_is_dns_subdomain(name, true),
                    ));
                }
            }
        }
        if n == 0 {
            errs.push(FieldError::invalid(
                path,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if n > 1 {
            errs.push(FieldError::invalid(
                path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

fn validate_volume_mounts(
    mounts: &[Value],
    vols: &VolumeMap,
    privileged: bool,
    path: &Path,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut points = BTreeSet::new();
    for (i, m) in mounts.iter().enumerate() {
        let p = path.index(i);
        let name = json_str(m, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        }
        if !vols.contains_key(name) {
            errs.push(FieldError::not_found(&p.child("name"), name));
        }
        let mp = json_str(m, "mountPath");
        if mp.is_empty() {
            errs.push(FieldError::required(&p.child("mountPath"), ""));
        }
        if !points.insert(mp) {
            errs.push(FieldError::invalid(
                &p.child("mountPath"),
                mp,
                "must be unique",
            ));
        }
        let sub = json_str(m, "subPath");
        if !sub.is_empty() {
            errs.extend(validate_local_descending_path(sub, &path.child("subPath")));
        }
        let expr = json_str(m, "subPathExpr");
        if !expr.is_empty() {
            if !sub.is_empty() {
                errs.push(FieldError::invalid(
                    &p.child("subPathExpr"),
                    expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            errs.extend(validate_local_descending_path(
                expr,
                &path.child("subPathExpr"),
            ));
        }
        // `validateMountPropagation` and `validateMountRecursiveReadOnly`, at upstream's paths
        // (without the mount's index).
        let propagation = m.get("mountPropagation").and_then(Value::as_str);
        if let Some(mode) = propagation {
            let p = path.child("mountPropagation");
            if !matches!(mode, "Bidirectional" | "HostToContainer" | "None") {
                errs.push(FieldError::not_supported(
                    &p,
                    mode,
                    &["Bidirectional", "HostToContainer", "None"],
                ));
            }
            if mode == "Bidirectional" && !privileged {
                errs.push(FieldError::forbidden(
                    &p,
                    "Bidirectional mount propagation is available only to privileged containers",
                ));
            }
        }
        if let Some(rro) = m.get("recursiveReadOnly").and_then(Value::as_str) {
            let p = path.child("recursiveReadOnly");
            match rro {
                "Disabled" => {}
                "Enabled" | "IfPossible" => {
                    if m.get("readOnly").and_then(Value::as_bool) != Some(true) {
                        errs.push(FieldError::forbidden(
                            &p,
                            "may only be specified when readOnly is true",
                        ));
                    }
                    if propagation.is_some_and(|mode| mode != "None") {
                        errs.push(FieldError::forbidden(
                            &p,
                            "may only be specified when mountPropagation is None or not specified",
                        ));
                    }
                }
                other => errs.push(FieldError::not_supported(
                    &p,
                    other,
                    &["Disabled", "Enabled", "IfPossible"],
                )),
            }
        }
    }
    errs
}

fn validate_probes(c: &Value, grace: Option<i64>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    for f in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let Some(probe) = obj(c, f) else { continue };
        let p = path.child(f);
        errs.extend(validate_handler(probe, false, grace, &p));
        for (k, default) in [
            ("initialDelaySeconds", 0),
            ("timeoutSeconds", 1),
            ("periodSeconds", 10),
            ("successThreshold", 1),
            ("failureThreshold", 3),
        ] {
            errs.extend(validate_nonnegative(
                json_i64(probe, k).unwrap_or(default),
                &p.child(k),
            ));
        }
        if let Some(t) = json_i64(probe, "terminationGracePeriodSeconds")
            && t <= 0
        {
            errs.push(FieldError::invalid(
                &p.child("terminationGracePeriodSeconds"),
                t,
                "must be greater than 0",
            ));
        }
        let st = json_i64(probe, "successThreshold").unwrap_or(1);
        if f != "readinessProbe" && st != 1 {
            errs.push(FieldError::invalid(
                &p.child("successThreshold"),
                st,
                "must be 1",
            ));
        }
        if f == "readinessProbe"
            && let Some(t) = non_null(probe.get("terminationGracePeriodSeconds"))
        {
            errs.push(FieldError::invalid(
                &p.child("terminationGracePeriodSeconds"),
                t.clone(),
                "must not be set for readinessProbes",
            ));
        }
    }
    errs
}

fn validate_lifecycle(l: &Value, grace: Option<i64>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    for f in ["postStart", "preStop"] {
        if let Some(h) = obj(l, f) {
            errs.extend(validate_handler(h, true, grace, &path.child(f)));
        }
    }
    errs
}

fn validate_port_num_or_name(port: Option<&Value>, path: &Path) -> ErrorList {
    match port {
        Some(Value::String(s)) => invalid_each(path, s, format::is_valid_port_name(s)),
        Some(v) => {
            let n = v.as_i64().unwrap_or(0);
            format::is_valid_port_num(n)
                .into_iter()
                .map(|m| FieldError::invalid(path, n, m))
                .collect()
        }
        None => format::is_valid_port_num(0)
            .into_iter()
            .map(|m| FieldError::invalid(path, 0, m))
            .collect(),
    }
}

fn validate_handler(h: &Value, lifecycle: bool, grace: Option<i64>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let kinds: &[&str] = if lifecycle {
        &["exec", "httpGet", "tcpSocket", "sleep"]
    } else {
        &["exec", "httpGet", "tcpSocket", "grpc"]
    };
    let mut n = 0;
    for k in kinds {
        let Some(a) = obj(h, k) else { continue };
        let p = path.child(k);
        if n > 0 {
            errs.push(FieldError::forbidden(
                &p,
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        n += 1;
        match *k {
            "exec" if arr(a, "command").is_empty() => {
                errs.push(FieldError::required(&p.child("command"), ""));
            }
            "httpGet" => {
                if json_str(a, "path").is_empty() {
                    errs.push(FieldError::required(&p.child("path"), ""));
                }
                errs.extend(validate_port_num_or_name(a.get("port"), &p.child("port")));
                let scheme = a.get("scheme").and_then(Value::as_str).unwrap_or("HTTP");
                if scheme != "HTTP" && scheme != "HTTPS" {
                    errs.push(FieldError::not_supported(
                        &p.child("scheme"),
                        scheme,
                        &["HTTP", "HTTPS"],
                    ));
                }
                for hdr in arr(a, "httpHeaders") {
                    let name = json_str(hdr, "name");
                    errs.extend(invalid_each(
                        &p.child("httpHeaders"),
                        name,
                        format::is_http_header_name(name),
                    ));
                }
            }
            "tcpSocket" | "grpc" => {
                errs.extend(validate_port_num_or_name(a.get("port"), &p.child("port")))
            }
            "sleep" => {
                let secs = json_i64(a, "seconds").unwrap_or(0);
                if let Some(g) = grace
                    && (secs < 0 || secs > g)
                {
                    errs.push(FieldError::invalid(
                        &p,
                        secs,
                        format!(
                            "must be non-negative and less than terminationGracePeriodSeconds ({g})"
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    if n == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
    errs
}

fn validate_containers_only_for_pod(ctrs: &[Value], path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, c) in ctrs.iter().enumerate() {
        let image = json_str(c, "image");
        if image.trim() != image {
            errs.push(FieldError::invalid(
                &path.index(i).child("image"),
                image,
                "must not have leading or trailing whitespace",
            ));
        }
    }
    errs
}

pub(super) fn validate_pod_metadata_and_spec(pod: &Value) -> ErrorList {
    let mut errs = validate_pod_metadata(pod);
    errs.extend(validate_pod_spec_of(pod));
    errs
}

/// The metadata half of [`validate_pod_metadata_and_spec`].
pub(super) fn validate_pod_metadata(pod: &Value) -> ErrorList {
    metadata::validate_object_meta(
        pod,
        true,
        format::name_is_dns_subdomain,
        &Path::new("metadata"),
    )
}

/// The spec half of [`validate_pod_metadata_and_spec`]: it reads nothing but `spec`.
pub(super) fn validate_pod_spec_of(pod: &Value) -> ErrorList {
    let spec_path = Path::new("spec");
    let mut errs = ErrorList::new();
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    errs.extend(validate_pod_spec(spec, &spec_path));
    if json_str(spec, "serviceAccountName").is_empty() {
        for (vi, vol) in arr(spec, "volumes").iter().enumerate() {
            if let Some(proj) = obj(vol, "projected") {
                for (si, src) in arr(proj, "sources").iter().enumerate() {
                    if obj(src, "serviceAccountToken").is_some() {
                        errs.push(FieldError::forbidden(
                            &spec_path
                                .child("volumes")
                                .index(vi)
                                .child("projected")
                                .child("sources")
                                .index(si)
                                .child("serviceAccountToken"),
                            "must not be specified when serviceAccountName is not set",
                        ));
                    }
                }
            }
        }
    }
    errs.extend(validate_containers_only_for_pod(
        arr(spec, "containers"),
        &spec_path.child("containers"),
    ));
    errs.extend(validate_containers_only_for_pod(
        arr(spec, "initContainers"),
        &spec_path.child("initContainers"),
    ));
    errs
}

/// `ValidatePodCreate`.
pub fn validate_pod_create(pod: &Value) -> ErrorList {
    let mut errs = validate_pod_metadata_and_spec(pod);
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    let spec_path = Path::new("spec");
    if !arr(spec, "ephemeralContainers").is_empty() {
        errs.push(FieldError::forbidden(
            &spec_path.child("ephemeralContainers"),
            "cannot be set on create",
        ));
    }
    if !json_str(spec, "nodeName").is_empty() && !arr(spec, "schedulingGates").is_empty() {
        errs.push(FieldError::forbidden(
            &spec_path.child("nodeName"),
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
    errs
}

mod resources;
mod scheduling;
mod security;
#[cfg(test)]
mod tests;
mod update;
mod volumes;

pub use resources::validate_resource_requirements;
pub use update::{validate_pod_status_update, validate_pod_update};
pub(crate) use volumes::{HOST_PATH_TYPES, validate_host_path_type, validate_path_no_backsteps};
pub use volumes::{VolumeMap, validate_volumes};
