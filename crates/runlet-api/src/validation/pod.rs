//! Pod and pod-template validation: the part of upstream's `pkg/apis/core/validation` that Jobs
//! depend on (`ValidatePodTemplateSpec`, `ValidatePodSpec`, containers, volumes, env, resources,
//! probes) and `ValidatePodCreate`/`ValidatePodUpdate`/`ValidatePodStatusUpdate`.
//!
//! Works on JSON so it serves both Pods and the templates embedded in Jobs and CronJobs. Rarely
//! used corners (affinity terms, topology spread, security-context details, most volume plugin
//! internals) are not checked beyond their shape.

use super::format::{self, invalid_each};
use super::metadata::{self, validate_annotations, validate_labels, validate_nonnegative};
use super::quantity::Quantity;
use super::{json_i64, json_str, non_null};
use crate::field::{ErrorList, FieldError, Path};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn arr<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn obj<'a>(v: &'a Value, k: &str) -> Option<&'a Value> {
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
            errs.push(FieldError::required(&path.child("os").child("name"), ""));
        } else if name != "linux" && name != "windows" {
            errs.push(FieldError::not_supported(
                &path.child("os").child("name"),
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

const VOLUME_SOURCES: &[&str] = &[
    "emptyDir",
    "hostPath",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "flocker",
    "persistentVolumeClaim",
    "rbd",
    "cinder",
    "cephfs",
    "quobyte",
    "downwardAPI",
    "fc",
    "flexVolume",
    "configMap",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "storageos",
    "projected",
    "scaleIO",
    "csi",
    "ephemeral",
    "image",
];

/// Volume name → its source key (`emptyDir`, `persistentVolumeClaim`...).
type VolumeMap = BTreeMap<String, String>;

/// `ValidateVolumes`: names are unique DNS labels, each volume has exactly one source.
pub fn validate_volumes(vols: &[Value], path: &Path) -> (VolumeMap, ErrorList) {
    let mut errs = ErrorList::new();
    let mut names = VolumeMap::new();
    for (i, v) in vols.iter().enumerate() {
        let p = path.index(i);
        let name = json_str(v, "name");
        let (source, mut el) = validate_volume_source(v, &p);
        if name.is_empty() {
            el.push(FieldError::required(&p.child("name"), ""));
        } else {
            el.extend(invalid_each(
                &p.child("name"),
                name,
                format::is_dns1123_label(name),
            ));
        }
        if names.contains_key(name) {
            el.push(FieldError::duplicate(&p.child("name"), name));
        }
        if el.is_empty() {
            names.insert(name.to_string(), source);
        } else {
            errs.extend(el);
        }
    }
    (names, errs)
}

fn file_mode_ok(v: &Value, key: &str) -> Option<i64> {
    json_i64(v, key).filter(|m| !(0..=0o777).contains(m))
}

const FILE_MODE_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";

fn validate_volume_source(v: &Value, path: &Path) -> (String, ErrorList) {
    let mut errs = ErrorList::new();
    let mut first: Option<&str> = None;
    for key in VOLUME_SOURCES {
        let Some(src) = obj(v, key) else { continue };
        if first.is_some() {
            errs.push(FieldError::forbidden(
                &path.child(key),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        first = Some(key);
        let p = path.child(key);
        match *key {
            "hostPath" => {
                let hp = json_str(src, "path");
                if hp.is_empty() {
                    errs.push(FieldError::required(&p.child("path"), ""));
                } else {
                    errs.extend(validate_path_no_backsteps(hp, &p.child("path")));
                }
            }
            "secret" | "configMap" => {
                let name_key = if *key == "secret" {
                    "secretName"
                } else {
                    "name"
                };
                if json_str(src, name_key).is_empty() {
                    errs.push(FieldError::required(&p.child(name_key), ""));
                }
                if let Some(m) = file_mode_ok(src, "defaultMode") {
                    errs.push(FieldError::invalid(
                        &p.child("defaultMode"),
                        m,
                        FILE_MODE_MSG,
                    ));
                }
                for (i, item) in arr(src, "items").iter().enumerate() {
                    errs.extend(validate_key_to_path(item, &p.child("items").index(i)));
                }
            }
            "persistentVolumeClaim" if json_str(src, "claimName").is_empty() => {
                errs.push(FieldError::required(&p.child("claimName"), ""));
            }
            "emptyDir" => {
                if let Some(q) = src
                    .get("sizeLimit")
                    .and_then(Value::as_str)
                    .and_then(Quantity::parse)
                    && q.is_negative()
                {
                    errs.push(FieldError::forbidden(
                        &p.child("sizeLimit"),
                        "SizeLimit field must be a valid resource quantity",
                    ));
                }
            }
            _ => {}
        }
    }
    if first.is_none() {
        errs.push(FieldError::required(path, "must specify a volume type"));
    }
    (first.unwrap_or("").to_string(), errs)
}

fn validate_key_to_path(kp: &Value, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if json_str(kp, "key").is_empty() {
        errs.push(FieldError::required(&path.child("key"), ""));
    }
    let p = json_str(kp, "path");
    if p.is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    errs.extend(validate_local_non_reserved_path(p, &path.child("path")));
    if let Some(m) = file_mode_ok(kp, "mode") {
        errs.push(FieldError::invalid(&path.child("mode"), m, FILE_MODE_MSG));
    }
    errs
}

fn validate_path_no_backsteps(p: &str, path: &Path) -> ErrorList {
    if p.split('/').any(|part| part == "..") {
        vec![FieldError::invalid(path, p, "must not contain '..'")]
    } else {
        Vec::new()
    }
}

fn validate_local_descending_path(p: &str, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if p.starts_with('/') {
        errs.push(FieldError::invalid(path, p, "must be a relative path"));
    }
    errs.extend(validate_path_no_backsteps(p, path));
    errs
}

fn validate_local_non_reserved_path(p: &str, path: &Path) -> ErrorList {
    let mut errs = validate_local_descending_path(p, path);
    if p.starts_with("..") && !p.starts_with("../") {
        errs.push(FieldError::invalid(path, p, "must not start with '..'"));
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
        errs.extend(validate_object_field_selector(fr, &path.child("fieldRef")));
    }
    if let Some(rr) = obj(from, "resourceFieldRef") {
        n += 1;
        let p = path.child("resourceFieldRef");
        let r = json_str(rr, "resource");
        if r.is_empty() {
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

fn validate_object_field_selector(fs: &Value, path: &Path) -> ErrorList {
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
            if !ENV_FIELD_PATHS.contains(&base) {
                let mut sorted = ENV_FIELD_PATHS.to_vec();
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

fn validate_volume_mounts(mounts: &[Value], vols: &VolumeMap, path: &Path) -> ErrorList {
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

const STANDARD_CONTAINER_RESOURCES: &[&str] = &["cpu", "memory", "ephemeral-storage"];
const STANDARD_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
];

fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

fn overcommit_allowed(name: &str) -> bool {
    is_native(name) && !is_hugepages(name)
}

fn is_integer_resource(name: &str) -> bool {
    !is_native(name) && !name.starts_with("requests.")
        || [
            "pods",
            "services",
            "replicationcontrollers",
            "resourcequotas",
            "secrets",
            "configmaps",
            "persistentvolumeclaims",
            "services.nodeports",
            "services.loadbalancers",
        ]
        .contains(&name)
}

fn validate_container_resource_name(name: &str, path: &Path) -> ErrorList {
    let mut errs = invalid_each(path, name, format::is_qualified_name(name));
    if !errs.is_empty() {
        return errs;
    }
    if !name.contains('/') {
        if !STANDARD_RESOURCES.contains(&name) && !is_hugepages(name) {
            errs.push(FieldError::invalid(
                path,
                name,
                "must be a standard resource type or fully qualified",
            ));
        }
        if !STANDARD_CONTAINER_RESOURCES.contains(&name) && !is_hugepages(name) {
            errs.push(FieldError::invalid(
                path,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native(name) && !format::is_qualified_name(&format!("requests.{name}")).is_empty()
    {
        errs.push(FieldError::invalid(
            path,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
    errs
}

fn validate_quantity_value(name: &str, raw: &str, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(q) = Quantity::parse(raw) else {
        errs.push(FieldError::invalid(
            path,
            raw,
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        ));
        return errs;
    };
    if q.is_negative() {
        errs.push(FieldError::invalid(path, raw, metadata::IS_NEGATIVE));
    }
    if is_integer_resource(name) && !q.is_integer() {
        errs.push(FieldError::invalid(path, raw, "must be an integer"));
    }
    errs
}

/// `ValidateContainerResourceRequirements`: names, non-negative quantities, requests ≤ limits.
pub fn validate_resource_requirements(r: &Value, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    let empty = serde_json::Map::new();
    let limits = r.get("limits").and_then(Value::as_object).unwrap_or(&empty);
    let requests = r
        .get("requests")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut cpu_mem = false;
    let mut huge = false;
    for (name, q) in limits {
        let p = lim_path.key(name);
        errs.extend(validate_container_resource_name(name, &p));
        errs.extend(validate_quantity_value(name, q.as_str().unwrap_or(""), &p));
        huge |= is_hugepages(name);
        cpu_mem |= name == "cpu" || name == "memory";
    }
    for (name, q) in requests {
        let p = req_path.key(name);
        let raw = q.as_str().unwrap_or("");
        errs.extend(validate_container_resource_name(name, &p));
        errs.extend(validate_quantity_value(name, raw, &p));
        if let Some(lim) = limits.get(name) {
            let lim_raw = lim.as_str().unwrap_or("");
            if let (Some(rq), Some(lq)) = (Quantity::parse(raw), Quantity::parse(lim_raw)) {
                if rq != lq && !overcommit_allowed(name) {
                    errs.push(FieldError::invalid(
                        &req_path,
                        raw,
                        format!("must be equal to {name} limit of {lim_raw}"),
                    ));
                } else if rq > lq {
                    errs.push(FieldError::invalid(
                        &req_path,
                        raw,
                        format!("must be less than or equal to {name} limit of {lim_raw}"),
                    ));
                }
            }
        } else if !overcommit_allowed(name) {
            errs.push(FieldError::required(
                &lim_path,
                "Limit must be set for non overcommitable resources",
            ));
        }
        huge |= is_hugepages(name);
        cpu_mem |= name == "cpu" || name == "memory";
    }
    if !cpu_mem && huge {
        errs.push(FieldError::forbidden(
            path,
            "HugePages require cpu or memory",
        ));
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

fn validate_pod_metadata_and_spec(pod: &Value) -> ErrorList {
    let spec_path = Path::new("spec");
    let mut errs = metadata::validate_object_meta(
        pod,
        true,
        format::name_is_dns_subdomain,
        &Path::new("metadata"),
    );
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

const UPDATABLE_POD_SPEC_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

fn validate_container_updates(new: &[Value], old: &[Value], path: &Path) -> (ErrorList, bool) {
    let mut errs = ErrorList::new();
    if new.len() != old.len() {
        errs.push(FieldError::forbidden(
            path,
            "pod updates may not add or remove containers",
        ));
        return (errs, true);
    }
    for (i, c) in new.iter().enumerate() {
        let image = json_str(c, "image");
        if image.is_empty() {
            errs.push(FieldError::required(&path.index(i).child("image"), ""));
        }
        if image.trim() != image {
            errs.push(FieldError::invalid(
                &path.index(i).child("image"),
                image,
                "must not have leading or trailing whitespace",
            ));
        }
    }
    (errs, false)
}

/// `ValidatePodUpdate`: only images, `activeDeadlineSeconds` (downwards), added tolerations and
/// removed scheduling gates may change. The forbidden message lists the changed top-level spec
/// fields instead of upstream's Go struct diff.
pub fn validate_pod_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = metadata::validate_object_meta_update(new, old, &Path::new("metadata"));
    errs.extend(validate_pod_metadata_and_spec(new));
    let spec_path = Path::new("spec");
    let ns = new.get("spec").unwrap_or(&Value::Null);
    let os = old.get("spec").unwrap_or(&Value::Null);
    for key in ["containers", "initContainers"] {
        let (e, stop) =
            validate_container_updates(arr(ns, key), arr(os, key), &spec_path.child(key));
        errs.extend(e);
        if stop {
            return errs;
        }
    }
    let new_ads = json_i64(ns, "activeDeadlineSeconds");
    let old_ads = json_i64(os, "activeDeadlineSeconds");
    match (new_ads, old_ads) {
        (Some(n), _) if !(0..=i64::from(i32::MAX)).contains(&n) => {
            errs.push(FieldError::invalid(
                &spec_path.child("activeDeadlineSeconds"),
                n,
                format::inclusive_range_error(0, i64::from(i32::MAX)),
            ));
            return errs;
        }
        (Some(n), Some(o)) if o < n => {
            errs.push(FieldError::invalid(
                &spec_path.child("activeDeadlineSeconds"),
                n,
                "must be less than or equal to previous value",
            ));
            return errs;
        }
        (None, Some(_)) => errs.push(FieldError::invalid(
            &spec_path.child("activeDeadlineSeconds"),
            Value::Null,
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }
    let old_tols = arr(os, "tolerations");
    for (i, t) in old_tols.iter().enumerate() {
        if !arr(ns, "tolerations")
            .iter()
            .any(|n| toleration_equal_ignoring_seconds(n, t))
        {
            errs.push(FieldError::forbidden(
                &spec_path.child("tolerations").index(i),
                "existing toleration can not be modified except its tolerationSeconds",
            ));
        }
    }
    for g in arr(ns, "schedulingGates") {
        if !arr(os, "schedulingGates").contains(g) {
            errs.push(FieldError::forbidden(
                &spec_path.child("schedulingGates"),
                "only deletion is allowed, but found new scheduling gate '".to_string()
                    + json_str(g, "name")
                    + "'",
            ));
        }
    }
    if ns == os {
        return errs;
    }
    // munge the mutable fields back to their old values and compare the rest
    let mut munged = ns.clone();
    if let Some(m) = munged.as_object_mut() {
        for key in ["containers", "initContainers"] {
            if let Some(list) = m.get_mut(key).and_then(Value::as_array_mut) {
                for (i, c) in list.iter_mut().enumerate() {
                    let old_image = arr(os, key).get(i).and_then(|o| o.get("image")).cloned();
                    if let Some(cm) = c.as_object_mut() {
                        match old_image {
                            Some(img) => cm.insert("image".to_string(), img),
                            None => cm.remove("image"),
                        };
                    }
                }
            }
        }
        for key in ["activeDeadlineSeconds", "schedulingGates", "tolerations"] {
            match non_null(os.get(key)) {
                Some(v) => m.insert(key.to_string(), v.clone()),
                None => m.remove(key),
            };
        }
        let old_grace = json_i64(os, "terminationGracePeriodSeconds");
        if old_grace.is_some_and(|g| g < 0)
            && json_i64(ns, "terminationGracePeriodSeconds") == Some(1)
        {
            m.insert(
                "terminationGracePeriodSeconds".to_string(),
                Value::from(old_grace),
            );
        }
    }
    let old_map = os.as_object().cloned().unwrap_or_default();
    let munged_map = munged.as_object().cloned().unwrap_or_default();
    let mut changed: Vec<&String> = munged_map
        .keys()
        .chain(old_map.keys())
        .filter(|k| non_null(munged_map.get(*k)) != non_null(old_map.get(*k)))
        .collect();
    changed.sort();
    changed.dedup();
    if !changed.is_empty() {
        let diff: Vec<String> = changed
            .iter()
            .map(|k| format!("  spec.{k}: changed"))
            .collect();
        errs.push(FieldError::forbidden(
            &spec_path,
            format!(
                "pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n{}",
                diff.join("\n")
            ),
        ));
    }
    errs
}

fn toleration_equal_ignoring_seconds(a: &Value, b: &Value) -> bool {
    ["key", "operator", "value", "effect"]
        .iter()
        .all(|k| json_str(a, k) == json_str(b, k))
}

/// `ValidatePodStatusUpdate` (the cheap parts): metadata, node name, QoS class, and no
/// terminated container coming back to life under `Never`/`OnFailure`.
pub fn validate_pod_status_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = metadata::validate_object_meta_update(new, old, &Path::new("metadata"));
    let status_path = Path::new("status");
    let ns = new.get("status").unwrap_or(&Value::Null);
    let os = old.get("status").unwrap_or(&Value::Null);
    if super::at(new, &["spec", "nodeName"]) != super::at(old, &["spec", "nodeName"]) {
        errs.push(FieldError::forbidden(
            &status_path.child("nodeName"),
            "may not be changed directly",
        ));
    }
    let nominated = json_str(ns, "nominatedNodeName");
    if nominated != json_str(os, "nominatedNodeName") && !nominated.is_empty() {
        errs.extend(invalid_each(
            &status_path.child("nominatedNodeName"),
            nominated,
            format::name_is_dns_subdomain(nominated, false),
        ));
    }
    if let Some(g) = json_i64(ns, "observedGeneration")
        && g < 0
    {
        errs.push(FieldError::invalid(
            &status_path.child("observedGeneration"),
            g,
            "must be a non-negative integer",
        ));
    }
    errs.extend(metadata::validate_immutable(
        ns.get("qosClass"),
        os.get("qosClass"),
        &status_path.child("qosClass"),
    ));
    let restart = super::at(old, &["spec", "restartPolicy"])
        .and_then(Value::as_str)
        .unwrap_or("");
    if restart != "Always" {
        for key in ["containerStatuses", "initContainerStatuses"] {
            for (i, o) in arr(os, key).iter().enumerate() {
                let Some(term) = super::at(o, &["state", "terminated"]) else {
                    continue;
                };
                if json_i64(term, "exitCode").unwrap_or(0) != 0 && restart == "OnFailure" {
                    continue;
                }
                let name = json_str(o, "name");
                let revived = arr(ns, key).iter().any(|n| {
                    json_str(n, "name") == name && super::at(n, &["state", "terminated"]).is_none()
                });
                if revived && !(key == "initContainerStatuses" && is_restartable_init(old, name)) {
                    errs.push(FieldError::forbidden(
                        &status_path.child(key).index(i).child("state"),
                        "may not be transitioned to non-terminated state",
                    ));
                }
            }
        }
    }
    errs
}

fn is_restartable_init(pod: &Value, name: &str) -> bool {
    super::at(pod, &["spec", "initContainers"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| json_str(c, "name") == name && json_str(c, "restartPolicy") == "Always")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn container() -> Value {
        json!({"name": "c", "image": "busybox", "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"})
    }

    fn spec_with(containers: Value) -> Value {
        json!({"containers": containers, "restartPolicy": "Never", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30})
    }

    fn msgs(errs: &ErrorList) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    fn p() -> Path {
        Path::new("spec").child("template").child("spec")
    }

    #[test]
    fn defaulted_spec_is_valid() {
        assert!(validate_pod_spec(&spec_with(json!([container()])), &p()).is_empty());
    }

    #[test]
    fn containers_are_required() {
        assert_eq!(
            msgs(&validate_pod_spec(&spec_with(json!([])), &p())),
            vec!["spec.template.spec.containers: Required value"]
        );
    }

    #[test]
    fn missing_image_is_required() {
        let mut c = container();
        c.as_object_mut().map(|m| m.remove("image"));
        assert_eq!(
            msgs(&validate_pod_spec(&spec_with(json!([c])), &p())),
            vec!["spec.template.spec.containers[0].image: Required value"]
        );
    }

    #[test]
    fn duplicate_container_names_across_init_and_regular() {
        let mut spec = spec_with(json!([container(), container()]));
        spec["initContainers"] = json!([container()]);
        assert_eq!(
            msgs(&validate_pod_spec(&spec, &p())),
            vec![
                "spec.template.spec.containers[1].name: Duplicate value: \"c\"",
                "spec.template.spec.initContainers[0].name: Duplicate value: \"c\"",
            ]
        );
    }

    #[test]
    fn container_name_must_be_dns_label() {
        let mut c = container();
        c["name"] = json!("My_C");
        let errs = validate_pod_spec(&spec_with(json!([c])), &p());
        assert_eq!(errs.len(), 1);
        assert!(errs[0].to_string().starts_with("spec.template.spec.containers[0].name: Invalid value: \"My_C\": a lowercase RFC 1123 label"));
    }

    #[test]
    fn unknown_restart_policy_is_not_supported() {
        let mut spec = spec_with(json!([container()]));
        spec["restartPolicy"] = json!("Sometimes");
        assert_eq!(
            msgs(&validate_pod_spec(&spec, &p())),
            vec![
                "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
            ]
        );
    }

    #[test]
    fn sidecar_restart_policy_must_be_always() {
        let mut spec = spec_with(json!([container()]));
        let mut init = container();
        init["name"] = json!("init");
        init["restartPolicy"] = json!("OnFailure");
        spec["initContainers"] = json!([init]);
        assert_eq!(
            msgs(&validate_pod_spec(&spec, &p())),
            vec![
                "spec.template.spec.initContainers[0].restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\""
            ]
        );
    }

    #[test]
    fn env_value_from_needs_exactly_one_source() {
        let mut c = container();
        c["env"] = json!([{"name": "A", "valueFrom": {}}]);
        assert_eq!(
            msgs(&validate_pod_spec(&spec_with(json!([c])), &p())),
            vec![
                "spec.template.spec.containers[0].env[0].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"
            ]
        );
    }

    #[test]
    fn env_name_with_equals_is_invalid() {
        let mut c = container();
        c["env"] = json!([{"name": "A=B", "value": "x"}]);
        assert_eq!(
            msgs(&validate_pod_spec(&spec_with(json!([c])), &p())),
            vec![
                "spec.template.spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='"
            ]
        );
    }

    #[test]
    fn volume_mount_must_name_a_volume() {
        let mut c = container();
        c["volumeMounts"] = json!([{"name": "data", "mountPath": "/data"}]);
        assert_eq!(
            msgs(&validate_pod_spec(&spec_with(json!([c])), &p())),
            vec!["spec.template.spec.containers[0].volumeMounts[0].name: Not found: \"data\""]
        );
    }

    #[test]
    fn volume_needs_exactly_one_source_and_unique_name() {
        let mut spec = spec_with(json!([container()]));
        spec["volumes"] = json!([
            {"name": "a", "emptyDir": {}, "hostPath": {"path": "/x"}},
            {"name": "b"},
            {"name": "c", "emptyDir": {}},
            {"name": "c", "emptyDir": {}}
        ]);
        assert_eq!(
            msgs(&validate_pod_spec(&spec, &p())),
            vec![
                "spec.template.spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type",
                "spec.template.spec.volumes[1]: Required value: must specify a volume type",
                "spec.template.spec.volumes[3].name: Duplicate value: \"c\"",
            ]
        );
    }

    #[test]
    fn request_above_limit_is_invalid() {
        let mut c = container();
        c["resources"] = json!({"limits": {"cpu": "500m"}, "requests": {"cpu": "1"}});
        assert_eq!(
            msgs(&validate_pod_spec(&spec_with(json!([c])), &p())),
            vec![
                "spec.template.spec.containers[0].resources.requests: Invalid value: \"1\": must be less than or equal to cpu limit of 500m"
            ]
        );
    }

    #[test]
    fn negative_quantity_is_invalid() {
        let mut c = container();
        c["resources"] = json!({"requests": {"memory": "-1Mi"}});
        assert_eq!(
            msgs(&validate_pod_spec(&spec_with(json!([c])), &p())),
            vec![
                "spec.template.spec.containers[0].resources.requests[memory]: Invalid value: \"-1Mi\": must be greater than or equal to 0"
            ]
        );
    }

    #[test]
    fn port_needs_container_port_and_protocol() {
        let mut c = container();
        c["ports"] = json!([{"containerPort": 70000, "protocol": "TCP"}, {"protocol": ""}]);
        assert_eq!(
            msgs(&validate_pod_spec(&spec_with(json!([c])), &p())),
            vec![
                "spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.template.spec.containers[0].ports[1].containerPort: Required value",
                "spec.template.spec.containers[0].ports[1].protocol: Required value",
            ]
        );
    }

    #[test]
    fn missing_grace_period_and_dns_policy_are_required() {
        let spec = json!({"containers": [container()], "restartPolicy": "Never"});
        assert_eq!(
            msgs(&validate_pod_spec(&spec, &p())),
            vec![
                "spec.template.spec.terminationGracePeriodSeconds: Required value",
                "spec.template.spec.dnsPolicy: Required value"
            ]
        );
    }

    #[test]
    fn active_deadline_must_be_positive() {
        let mut spec = spec_with(json!([container()]));
        spec["activeDeadlineSeconds"] = json!(0);
        assert_eq!(
            msgs(&validate_pod_spec(&spec, &p())),
            vec![
                "spec.template.spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"
            ]
        );
    }

    fn pod(spec: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "default", "uid": "u", "resourceVersion": "1"}, "spec": spec})
    }

    #[test]
    fn pod_update_may_change_image_but_not_restart_policy() {
        let old = pod(spec_with(json!([container()])));
        let mut new = old.clone();
        new["spec"]["containers"][0]["image"] = json!("alpine");
        assert!(validate_pod_update(&new, &old).is_empty());
        new["spec"]["restartPolicy"] = json!("OnFailure");
        let errs = msgs(&validate_pod_update(&new, &old));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`"));
        assert!(errs[0].ends_with("spec.restartPolicy: changed"));
    }

    #[test]
    fn pod_status_update_may_not_change_node_name() {
        let old = pod(spec_with(json!([container()])));
        let mut new = old.clone();
        new["spec"]["nodeName"] = json!("n1");
        assert_eq!(
            msgs(&validate_pod_status_update(&new, &old)),
            vec!["status.nodeName: Forbidden: may not be changed directly"]
        );
    }
}
