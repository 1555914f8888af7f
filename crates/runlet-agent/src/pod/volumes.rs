//! Pod volumes on the host and their bind mounts into containers.
//!
//! Each volume gets a directory under the pod's sandbox (`<sandbox>/volumes/<name>`), filled as
//! the kubelet's volume plugins fill it: emptyDir (tmpfs for `medium: Memory`), configMap,
//! secret, downwardAPI and projected files with their modes, hostPath as the host path itself.
//! Containers see them at their `mountPath` through bind mounts in a private mount namespace.
//! Updates of a ConfigMap or Secret after the pod started are not propagated (batch pods rarely
//! need it). A persistentVolumeClaim is the directory of its bound volume on this node, found
//! (and provisioned on first use) by [`crate::localpath`] before `prepare` runs.

use super::env::{EnvSources, field_ref, resource_ref};
use super::mountpoints::MountPoints;
use crate::os::{BindMount, Os};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, DownwardAPIVolumeFile, KeyToPath, Pod, Secret, Volume,
};
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// Why a volume cannot be set up (the pod shows `FailedMount` and waits).
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("{kind} {name:?} not found")]
    NotFound { kind: &'static str, name: String },
    #[error("couldn't find key {key} in {kind} {name}")]
    MissingKey {
        key: String,
        kind: &'static str,
        name: String,
    },
    #[error("volume {0:?}: this volume type is not supported by the process runtime")]
    Unsupported(String),
    #[error("hostPath type check failed: {path} is not a {want}")]
    HostPathType { path: String, want: String },
    #[error("persistentvolumeclaim {claim:?}: {why}")]
    Claim { claim: String, why: String },
    #[error("invalid path {0:?}")]
    BadPath(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Os(#[from] crate::os::OsError),
    #[error("{0}")]
    Env(#[from] super::env::EnvError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> VolumeError + '_ {
    move |source| VolumeError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The host side of a pod's volumes.
#[derive(Debug, Default)]
pub struct PodVolumes {
    pub paths: HashMap<String, PathBuf>,
    /// tmpfs mounts to undo when the pod is cleaned up.
    pub tmpfs: Vec<PathBuf>,
}

/// A relative path inside a volume: no `..`, not absolute.
fn safe_join(base: &Path, rel: &str) -> Result<PathBuf, VolumeError> {
    let p = Path::new(rel);
    if rel.is_empty()
        || p.components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(VolumeError::BadPath(rel.to_string()));
    }
    Ok(base.join(p))
}

fn write_file(base: &Path, rel: &str, data: &[u8], mode: i32) -> Result<(), VolumeError> {
    let path = safe_join(base, rel)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(&path, data).map_err(io(&path))?;
    let mode = u32::try_from(mode).unwrap_or(0o644) & 0o777;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(io(&path))?;
    Ok(())
}

/// Writes a key/value source (ConfigMap or Secret data) as files.
fn write_keys(
    dir: &Path,
    data: &[(String, Vec<u8>)],
    items: Option<&Vec<KeyToPath>>,
    default_mode: i32,
    optional: bool,
    kind: &'static str,
    name: &str,
) -> Result<(), VolumeError> {
    match items {
        Some(items) if !items.is_empty() => {
            for item in items {
                match data.iter().find(|(k, _)| *k == item.key) {
                    Some((_, v)) => {
                        write_file(dir, &item.path, v, item.mode.unwrap_or(default_mode))?
                    }
                    None if optional => {}
                    None => {
                        return Err(VolumeError::MissingKey {
                            key: item.key.clone(),
                            kind,
                            name: name.to_string(),
                        });
                    }
                }
            }
        }
        _ => {
            for (k, v) in data {
                write_file(dir, k, v, default_mode)?;
            }
        }
    }
    Ok(())
}

fn config_map_data(cm: &ConfigMap) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = cm
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect();
    out.extend(
        cm.binary_data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.0.clone())),
    );
    out
}

fn secret_data(s: &Secret) -> Vec<(String, Vec<u8>)> {
    s.data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect()
}

fn downward_files(
    dir: &Path,
    pod: &Pod,
    items: &[DownwardAPIVolumeFile],
    default_mode: i32,
    sources: &EnvSources<'_>,
) -> Result<(), VolumeError> {
    for item in items {
        let value = if let Some(f) = &item.field_ref {
            field_ref(pod, &f.field_path, sources.host_ip, sources.pod_ip)?
        } else if let Some(r) = &item.resource_field_ref {
            let cname = r.container_name.clone().unwrap_or_default();
            resource_ref(
                pod,
                &cname,
                &r.resource,
                r.divisor.as_ref().map(|d| d.0.as_str()),
                sources,
            )?
        } else {
            String::new()
        };
        write_file(
            dir,
            &item.path,
            value.as_bytes(),
            item.mode.unwrap_or(default_mode),
        )?;
    }
    Ok(())
}

/// Creates every volume of `pod` under `sandbox`.
pub fn prepare(
    os: &dyn Os,
    sandbox: &Path,
    pod: &Pod,
    sources: &EnvSources<'_>,
) -> Result<PodVolumes, VolumeError> {
    let mut out = PodVolumes::default();
    let volumes: &[Volume] = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_deref())
        .unwrap_or_default();
    for v in volumes {
        let dir = safe_join(&sandbox.join("volumes"), &v.name)?;
        if let Some(hp) = &v.host_path {
            let path = PathBuf::from(&hp.path);
            let kind = hp.type_.clone().unwrap_or_default();
            match kind.as_str() {
                "DirectoryOrCreate" => std::fs::create_dir_all(&path).map_err(io(&path))?,
                "FileOrCreate" if !path.exists() => {
                    if let Some(p) = path.parent() {
                        std::fs::create_dir_all(p).map_err(io(p))?;
                    }
                    std::fs::write(&path, b"").map_err(io(&path))?;
                }
                "Directory" if !path.is_dir() => {
                    return Err(VolumeError::HostPathType {
                        path: hp.path.clone(),
                        want: "directory".into(),
                    });
                }
                "File" if !path.is_file() => {
                    return Err(VolumeError::HostPathType {
                        path: hp.path.clone(),
                        want: "file".into(),
                    });
                }
                _ => {}
            }
            out.paths.insert(v.name.clone(), path);
            continue;
        }
        if let Some(pvc) = &v.persistent_volume_claim {
            let path = match sources.claims.get(&pvc.claim_name) {
                Some(Ok(path)) => path.clone(),
                Some(Err(why)) => {
                    return Err(VolumeError::Claim {
                        claim: pvc.claim_name.clone(),
                        why: why.clone(),
                    });
                }
                None => {
                    return Err(VolumeError::Claim {
                        claim: pvc.claim_name.clone(),
                        why: "not resolved".into(),
                    });
                }
            };
            out.paths.insert(v.name.clone(), path);
            continue;
        }
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        if let Some(ed) = &v.empty_dir {
            if ed.medium.as_deref() == Some("Memory") {
                os.mount_tmpfs(&dir)?;
                out.tmpfs.push(dir.clone());
            }
        } else if let Some(cmv) = &v.config_map {
            let optional = cmv.optional == Some(true);
            match sources.config_maps.get(&cmv.name) {
                Some(cm) => write_keys(
                    &dir,
                    &config_map_data(cm),
                    cmv.items.as_ref(),
                    cmv.default_mode.unwrap_or(0o644),
                    optional,
                    "configmap",
                    &cmv.name,
                )?,
                None if optional => {}
                None => {
                    return Err(VolumeError::NotFound {
                        kind: "configmap",
                        name: cmv.name.clone(),
                    });
                }
            }
        } else if let Some(sv) = &v.secret {
            let name = sv.secret_name.clone().unwrap_or_default();
            let optional = sv.optional == Some(true);
            match sources.secrets.get(&name) {
                Some(s) => write_keys(
                    &dir,
                    &secret_data(s),
                    sv.items.as_ref(),
                    sv.default_mode.unwrap_or(0o644),
                    optional,
                    "secret",
                    &name,
                )?,
                None if optional => {}
                None => {
                    return Err(VolumeError::NotFound {
                        kind: "secret",
                        name,
                    });
                }
            }
        } else if let Some(d) = &v.downward_api {
            downward_files(
                &dir,
                pod,
                d.items.as_deref().unwrap_or_default(),
                d.default_mode.unwrap_or(0o644),
                sources,
            )?;
        } else if let Some(p) = &v.projected {
            let mode = p.default_mode.unwrap_or(0o644);
            for src in p.sources.iter().flatten() {
                if let Some(c) = &src.config_map {
                    let optional = c.optional == Some(true);
                    match sources.config_maps.get(&c.name) {
                        Some(cm) => write_keys(
                            &dir,
                            &config_map_data(cm),
                            c.items.as_ref(),
                            mode,
                            optional,
                            "configmap",
                            &c.name,
                        )?,
                        None if optional => {}
                        None => {
                            return Err(VolumeError::NotFound {
                                kind: "configmap",
                                name: c.name.clone(),
                            });
                        }
                    }
                }
                if let Some(s) = &src.secret {
                    let optional = s.optional == Some(true);
                    match sources.secrets.get(&s.name) {
                        Some(sec) => write_keys(
                            &dir,
                            &secret_data(sec),
                            s.items.as_ref(),
                            mode,
                            optional,
                            "secret",
                            &s.name,
                        )?,
                        None if optional => {}
                        None => {
                            return Err(VolumeError::NotFound {
                                kind: "secret",
                                name: s.name.clone(),
                            });
                        }
                    }
                }
                if let Some(d) = &src.downward_api {
                    downward_files(
                        &dir,
                        pod,
                        d.items.as_deref().unwrap_or_default(),
                        mode,
                        sources,
                    )?;
                }
            }
        } else {
            return Err(VolumeError::Unsupported(v.name.clone()));
        }
        out.paths.insert(v.name.clone(), dir);
    }
    Ok(out)
}

/// The ConfigMaps and Secrets the pod's volumes read.
pub fn referenced(pod: &Pod) -> (Vec<String>, Vec<String>) {
    let mut cms = Vec::new();
    let mut secrets = Vec::new();
    for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        if let Some(c) = &v.config_map {
            cms.push(c.name.clone());
        }
        if let Some(s) = v.secret.as_ref().and_then(|s| s.secret_name.clone()) {
            secrets.push(s);
        }
        for src in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(c) = &src.config_map {
                cms.push(c.name.clone());
            }
            if let Some(s) = &src.secret {
                secrets.push(s.name.clone());
            }
        }
    }
    (cms, secrets)
}

/// The bind mounts of one container, making missing mount points on the host (the process
/// runtime has no image root file system of its own) through `points`; the ones this pod made
/// or shares are added to `claimed`, to be released when its containers are gone.
pub fn container_mounts(
    container: &Container,
    volumes: &PodVolumes,
    points: &MountPoints,
    claimed: &mut Vec<PathBuf>,
) -> Result<Vec<BindMount>, VolumeError> {
    let mut out = Vec::new();
    for m in container.volume_mounts.iter().flatten() {
        let base = volumes
            .paths
            .get(&m.name)
            .ok_or_else(|| VolumeError::Unsupported(m.name.clone()))?;
        let source = match m.sub_path.as_deref().filter(|s| !s.is_empty()) {
            Some(sub) => {
                let p = safe_join(base, sub)?;
                if !p.exists() {
                    std::fs::create_dir_all(&p).map_err(io(&p))?;
                }
                p
            }
            None => base.clone(),
        };
        let target = PathBuf::from(&m.mount_path);
        if !target.is_absolute() {
            return Err(VolumeError::BadPath(m.mount_path.clone()));
        }
        if !claimed.contains(&target)
            && points
                .claim(&target, source.is_dir())
                .map_err(io(&target))?
        {
            claimed.push(target.clone());
        }
        out.push(BindMount {
            source,
            target,
            read_only: m.read_only == Some(true),
            optional: false,
        });
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::os::fake::FakeOs;
    use serde_json::json;

    #[test]
    fn config_maps_secrets_and_downward_api_become_files() {
        let dir = tempfile::tempdir().unwrap();
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "volumeMounts": [
                {"name": "cfg", "mountPath": dir.path().join("mnt/cfg").to_str().unwrap(), "readOnly": true}
            ]}], "volumes": [
                {"name": "cfg", "configMap": {"name": "cm", "items": [{"key": "k", "path": "sub/file", "mode": 0o600}]}},
                {"name": "sec", "secret": {"secretName": "s"}},
                {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                {"name": "scratch", "emptyDir": {"medium": "Memory"}},
            ]}
        }))
        .unwrap();
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": "cm"}, "data": {"k": "v"}}))
                .unwrap();
        let s: Secret =
            serde_json::from_value(json!({"metadata": {"name": "s"}, "data": {"pw": "eA=="}}))
                .unwrap();
        let cms = HashMap::from([("cm".to_string(), cm)]);
        let secrets = HashMap::from([("s".to_string(), s)]);
        let sources = EnvSources {
            config_maps: &cms,
            secrets: &secrets,
            ..Default::default()
        };
        let os = FakeOs::new();
        let vols = prepare(&os, dir.path(), &pod, &sources).unwrap();
        let cfg = dir.path().join("volumes/cfg/sub/file");
        assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "v");
        assert_eq!(
            std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("volumes/sec/pw")).unwrap(),
            "x"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("volumes/info/labels")).unwrap(),
            "a=\"b\""
        );
        assert_eq!(
            *os.tmpfs.lock().unwrap(),
            vec![dir.path().join("volumes/scratch")]
        );
        let c = &pod.spec.as_ref().unwrap().containers[0];
        let points = MountPoints::default();
        let mut claimed = Vec::new();
        let mounts = container_mounts(c, &vols, &points, &mut claimed).unwrap();
        assert_eq!(mounts.len(), 1);
        assert!(mounts[0].read_only);
        assert!(
            dir.path().join("mnt/cfg").is_dir(),
            "the mount point is created"
        );
        assert_eq!(claimed, vec![dir.path().join("mnt/cfg")]);
        points.release(&claimed[0]);
        assert!(!dir.path().join("mnt").exists(), "and taken away again");
    }

    #[test]
    fn a_missing_config_map_fails_unless_optional() {
        let dir = tempfile::tempdir().unwrap();
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [], "volumes": [{"name": "cfg", "configMap": {"name": "gone"}}]}
        }))
        .unwrap();
        let none = HashMap::new();
        let nos = HashMap::new();
        let sources = EnvSources {
            config_maps: &none,
            secrets: &nos,
            ..Default::default()
        };
        let err = prepare(&FakeOs::new(), dir.path(), &pod, &sources).unwrap_err();
        assert_eq!(err.to_string(), "configmap \"gone\" not found");
    }

    #[test]
    fn volume_paths_cannot_escape() {
        assert!(safe_join(Path::new("/v"), "../etc/passwd").is_err());
        assert!(safe_join(Path::new("/v"), "/etc").is_err());
        assert_eq!(
            safe_join(Path::new("/v"), "a/b").unwrap(),
            Path::new("/v/a/b")
        );
    }
}
