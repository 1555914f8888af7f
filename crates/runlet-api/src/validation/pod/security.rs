//! The parts of a pod's and a container's security context upstream checks beyond their IDs:
//! `validatePodSpecSecurityContext` (process namespace sharing, sysctls, the fsGroup change
//! policy, seccomp and AppArmor profiles, supplemental groups and SELinux change policies),
//! `ValidateSecurityContext`'s proc mount, seccomp and AppArmor checks, and `validateHostUsers`.

use super::obj;
use super::volumes::validate_local_descending_path;
use crate::field::{ErrorList, FieldError, Path};
use crate::validation::json_str;
use serde_json::Value;

const HOST_USERS: &str = "when `pod.Spec.HostUsers` is false";

/// Whether the pod shares the host's user namespace (`hostUsers` unset or true).
pub fn host_users(spec: &Value) -> bool {
    spec.get("hostUsers").and_then(Value::as_bool) != Some(false)
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool) == Some(true)
}

/// The pod-level checks, under `path.securityContext`; the host namespace flags live in the
/// spec itself in v1, in the security context in upstream's internal types.
pub fn validate_pod_security(spec: &Value, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let p = path.child("securityContext");
    if flag(spec, "shareProcessNamespace") && flag(spec, "hostPID") {
        errs.push(FieldError::invalid(
            &p.child("shareProcessNamespace"),
            true,
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    let Some(sc) = obj(spec, "securityContext") else {
        return errs;
    };
    errs.extend(validate_sysctls(spec, sc, &p.child("sysctls")));
    for (field, supported) in [
        ("fsGroupChangePolicy", &["Always", "OnRootMismatch"][..]),
        ("supplementalGroupsPolicy", &["Merge", "Strict"][..]),
        ("seLinuxChangePolicy", &["Recursive"][..]),
    ] {
        if let Some(v) = sc.get(field).and_then(Value::as_str)
            && !supported.contains(&v)
        {
            errs.push(FieldError::not_supported(&p.child(field), v, supported));
        }
    }
    errs.extend(validate_seccomp_profile(sc, &p.child("seccompProfile")));
    errs.extend(validate_app_armor_profile(sc, &p.child("appArmorProfile")));
    errs
}

/// `validateHostUsers`: a pod in its own user namespace shares none of the host's others
/// (upstream's paths, capitals included).
pub fn validate_host_users(spec: &Value, path: &Path) -> ErrorList {
    if host_users(spec) {
        return ErrorList::new();
    }
    [
        ("hostNetwork", "hostNetwork"),
        ("hostPID", "HostPID"),
        ("hostIPC", "HostIPC"),
    ]
    .into_iter()
    .filter(|(field, _)| flag(spec, field))
    .map(|(_, shown)| FieldError::forbidden(&path.child(shown), HOST_USERS))
    .collect()
}

/// A container's `securityContext` beyond its IDs and privilege escalation (checked with the
/// container): proc mount, seccomp and AppArmor profiles.
pub fn validate_container_security(sc: &Value, host_users: bool, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(proc_mount) = sc.get("procMount").and_then(Value::as_str) {
        let p = path.child("procMount");
        if !matches!(proc_mount, "Default" | "Unmasked") {
            errs.push(FieldError::not_supported(
                &p,
                proc_mount,
                &["Default", "Unmasked"],
            ));
        }
        if host_users && proc_mount == "Unmasked" {
            errs.push(FieldError::invalid(
                &p,
                proc_mount,
                "`hostUsers` must be false to use `Unmasked`",
            ));
        }
    }
    errs.extend(validate_seccomp_profile(sc, &path.child("seccompProfile")));
    errs.extend(validate_app_armor_profile(
        sc,
        &path.child("appArmorProfile"),
    ));
    errs
}

/// `validateSeccompProfileField`.
fn validate_seccomp_profile(sc: &Value, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(profile) = obj(sc, "seccompProfile") else {
        return errs;
    };
    let kind = json_str(profile, "type");
    match kind {
        "Localhost" | "RuntimeDefault" | "Unconfined" => {}
        "" => errs.push(FieldError::required(
            &path.child("type"),
            "type is required when seccompProfile is set",
        )),
        other => errs.push(FieldError::not_supported(
            &path.child("type"),
            other,
            &["Localhost", "RuntimeDefault", "Unconfined"],
        )),
    }
    let localhost = profile.get("localhostProfile").and_then(Value::as_str);
    match (kind, localhost) {
        ("Localhost", None) => errs.push(FieldError::required(
            &path.child("localhostProfile"),
            "must be set when seccomp type is Localhost",
        )),
        ("Localhost", Some(file)) => errs.extend(validate_local_descending_path(
            file,
            &path.child("localhostProfile"),
        )),
        (_, Some(_)) => errs.push(FieldError::invalid(
            &path.child("localhostProfile"),
            profile.clone(),
            "can only be set when seccomp type is Localhost",
        )),
        (_, None) => {}
    }
    errs
}

/// `ValidateAppArmorProfileField`.
fn validate_app_armor_profile(sc: &Value, path: &Path) -> ErrorList {
    const MAX_LOCALHOST_PROFILE: usize = 4095;
    let mut errs = ErrorList::new();
    let Some(profile) = obj(sc, "appArmorProfile") else {
        return errs;
    };
    let localhost = profile.get("localhostProfile").and_then(Value::as_str);
    let lp = path.child("localhostProfile");
    match json_str(profile, "type") {
        "Localhost" => match localhost {
            None => errs.push(FieldError::required(
                &lp,
                "must be set when AppArmor type is Localhost",
            )),
            Some(file) => {
                if file.trim() != file {
                    errs.push(FieldError::invalid(
                        &lp,
                        file,
                        "must not be padded with whitespace",
                    ));
                } else if file.is_empty() {
                    errs.push(FieldError::required(
                        &lp,
                        "must be set when AppArmor type is Localhost",
                    ));
                }
                if file.len() > MAX_LOCALHOST_PROFILE {
                    errs.push(FieldError::too_long(&lp, MAX_LOCALHOST_PROFILE));
                }
            }
        },
        "RuntimeDefault" | "Unconfined" => {
            if let Some(file) = localhost {
                errs.push(FieldError::invalid(
                    &lp,
                    file,
                    "can only be set when AppArmor type is Localhost",
                ));
            }
        }
        "" => errs.push(FieldError::required(
            &path.child("type"),
            "type is required when appArmorProfile is set",
        )),
        other => errs.push(FieldError::not_supported(
            &path.child("type"),
            other,
            &["Localhost", "RuntimeDefault", "Unconfined"],
        )),
    }
    errs
}

/// `validateSysctls` with `ValidateHostSysctl`.
fn validate_sysctls(spec: &Value, sc: &Value, path: &Path) -> ErrorList {
    const MAX_LENGTH: usize = 253;
    const PATTERN: &str = r"^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$";
    let mut errs = ErrorList::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, sysctl) in super::arr(sc, "sysctls").iter().enumerate() {
        let p = path.index(i).child("name");
        let name = json_str(sysctl, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&p, ""));
        } else if name.len() > MAX_LENGTH || !is_sysctl_name(name) {
            errs.push(FieldError::invalid(
                &p,
                name,
                format!("must have at most {MAX_LENGTH} characters and match regex {PATTERN}"),
            ));
        } else if seen.contains(name) {
            errs.push(FieldError::duplicate(&p, name));
        }
        let dotted = name.replace('/', ".");
        if flag(spec, "hostNetwork") && dotted.starts_with("net.") {
            errs.push(FieldError::invalid(
                &p,
                name,
                "may not be specified when 'hostNetwork' is true",
            ));
        } else if flag(spec, "hostIPC") && is_ipc_sysctl(&dotted) {
            errs.push(FieldError::invalid(
                &p,
                name,
                "may not be specified when 'hostIPC' is true",
            ));
        }
        seen.insert(name);
    }
    errs
}

/// Segments of lower-case letters, digits, `-` and `_`, starting and ending with a letter or
/// digit, separated by `.` or `/`.
fn is_sysctl_name(name: &str) -> bool {
    name.split(['.', '/']).all(|segment| {
        let bytes = segment.as_bytes();
        let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        edge(bytes.first())
            && edge(bytes.last())
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_')
    })
}

/// The sysctls of the IPC namespace (upstream's `utilsysctl.GetNamespace`).
fn is_ipc_sysctl(name: &str) -> bool {
    matches!(
        name,
        "kernel.sem"
            | "kernel.shmall"
            | "kernel.shmmax"
            | "kernel.shmmni"
            | "kernel.shm_rmid_forced"
            | "kernel.msgmax"
            | "kernel.msgmnb"
            | "kernel.msgmni"
    ) || name.starts_with("fs.mqueue.")
}
