//! Pod volumes on the host and their bind mounts into containers.
//!
//! Each volume gets a directory under the pod's sandbox (`<sandbox>/volumes/<name>`), filled as
//! the kubelet's volume plugins fill it: emptyDir (mode 0777; tmpfs sized as upstream for
//! `medium: Memory`), configMap, secret, downwardAPI and projected files with their modes, in
//! upstream's `AtomicWriter` layout
//! (secret, downwardAPI and projected in the pod's directory of the agent's one tmpfs for them,
//! `<memory>/<name>`, as upstream wraps them in a memory-backed emptyDir, and mounted
//! read-only like configMap), hostPath as the host path itself after
//! upstream's type check. The pod's `fsGroup` owns its volumes as upstream's
//! `SetVolumeOwnership` sets it. Containers see them at their `mountPath` (and `subPath` or
//! `subPathExpr`) through bind mounts in a private mount namespace.
//! While the pod runs, [`refresh`] writes these files again at every sync of the pod, so
//! that changes of a ConfigMap, a Secret or the pod's labels and annotations reach them, as the
//! kubelet's do. A persistentVolumeClaim is the directory of its bound volume on this node, found
//! (and provisioned on first use) by [`crate::localpath`] before `prepare` runs.

use super::atomic;
use super::env::{EnvSources, field_ref, resource_ref};
use super::mountpoints::MountPoints;
use crate::os::{BindMount, Os};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, DownwardAPIVolumeFile, KeyToPath, Pod, Secret, Volume,
};
use std::collections::{HashMap, HashSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// Why a volume cannot be set up (the pod shows `FailedMount` and waits).
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// Upstream's message for the volume a step failed for: `for volume "cfg" : ...`.
    #[error("for volume {volume:?} : {error}")]
    InVolume {
        volume: String,
        error: Box<VolumeError>,
    },
    #[error("{kind} {name:?} not found")]
    NotFound { kind: &'static str, name: String },
    /// Upstream's wording: `configmap references non-existent config key: k` (configmap's
    /// `MakePayload`), `references non-existent secret key: k` (secret's).
    #[error("{}references non-existent {what} key: {key}", if *.what == "secret" { "" } else { "configmap " })]
    MissingKey { key: String, what: &'static str },
    #[error("volume {0:?}: this volume type is not supported by the process runtime")]
    Unsupported(String),
    #[error("hostPath type check failed: {path} is not a {want}")]
    HostPathType { path: String, want: String },
    #[error("{0} is an invalid volume type")]
    InvalidHostPathType(String),
    #[error("persistentvolumeclaim {claim:?}: {why}")]
    Claim { claim: String, why: String },
    /// Upstream's `ExpandContainerVolumeMounts`: variables of a `subPathExpr` with no value.
    #[error("missing value for {0}")]
    SubPathExpr(String),
    #[error("error SubPath `{0}` must not be an absolute path")]
    SubPathAbsolute(String),
    #[error("unable to provision SubPath `{0}`: must not contain '..'")]
    SubPathBacksteps(String),
    /// Upstream's words for a `subPath` that leads out of its volume.
    #[error("failed to prepare subPath for volumeMount {mount:?} of container {container:?}")]
    SubPathOutside { mount: String, container: String },
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
    /// No service account token for a projected source (upstream's wording).
    #[error("failed to fetch token: {0}")]
    Token(String),
    /// Several sources of a projected volume failed: every one, as upstream's aggregate.
    #[error("[{}]", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    Several(Vec<VolumeError>),
}

pub(super) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> VolumeError + '_ {
    move |source| VolumeError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The host side of a pod's volumes.
#[derive(Debug, Default)]
pub struct PodVolumes {
    pub paths: HashMap<String, PathBuf>,
    /// Volumes every mount of which is read-only: configMap, secret, downwardAPI and projected
    /// volumes (their plugins' `ReadOnly` attribute upstream), and claims with `readOnly`.
    pub read_only: HashSet<String>,
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

/// Writes the file `rel` of a volume's payload `base` (which exists) with `mode`. Every pod's
/// token volume writes three, so each costs what it must: a key without a directory in it
/// (most are) makes none, and the mode is set through the open file, not its path again.
fn write_file(base: &Path, rel: &str, data: &[u8], mode: i32) -> Result<(), VolumeError> {
    use std::io::Write;
    let path = safe_join(base, rel)?;
    if let Some(parent) = path.parent().filter(|p| *p != base) {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let mut file = std::fs::File::create(&path).map_err(io(&path))?;
    file.write_all(data).map_err(io(&path))?;
    let mode = u32::try_from(mode).unwrap_or(0o644) & 0o777;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(io(&path))?;
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
                            what: if kind == "secret" { "secret" } else { "config" },
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

/// Writes the keys of the ConfigMap or Secret `name` (its `data`, `None` when it does not
/// exist): a missing one is an error unless `optional`.
fn write_source(
    payload: &Path,
    kind: &'static str,
    name: &str,
    data: Option<Vec<(String, Vec<u8>)>>,
    items: Option<&Vec<KeyToPath>>,
    mode: i32,
    optional: bool,
) -> Result<(), VolumeError> {
    match data {
        Some(data) => write_keys(payload, &data, items, mode, optional, kind),
        None if optional => Ok(()),
        None => Err(VolumeError::NotFound {
            kind,
            name: name.to_string(),
        }),
    }
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

/// Creates every volume of `pod` under `sandbox`. On failure nothing stays mounted (the pod
/// waits and tries again).
pub fn prepare(
    os: &dyn Os,
    sandbox: &Path,
    memory: &Path,
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
        if let Err(error) = prepare_volume(os, sandbox, memory, pod, v, sources, &mut out) {
            for t in out.tmpfs.drain(..).rev() {
                let _ = os.unmount(&t);
            }
            return Err(VolumeError::InVolume {
                volume: v.name.clone(),
                error: Box::new(error),
            });
        }
    }
    Ok(out)
}

/// Sets up one volume, as its upstream plugin's `SetUp` does.
fn prepare_volume(
    os: &dyn Os,
    sandbox: &Path,
    memory: &Path,
    pod: &Pod,
    v: &Volume,
    sources: &EnvSources<'_>,
    out: &mut PodVolumes,
) -> Result<(), VolumeError> {
    let fs_group = FsGroup::of(pod);
    if let Some(hp) = &v.host_path {
        check_host_path(&hp.path, hp.type_.as_deref().unwrap_or_default())?;
        out.paths.insert(v.name.clone(), PathBuf::from(&hp.path));
        return Ok(());
    }
    let claim = match (&v.persistent_volume_claim, &v.ephemeral) {
        (Some(pvc), _) => Some((pvc.claim_name.clone(), pvc.read_only == Some(true))),
        (None, Some(_)) => Some((
            runlet_api::podclaims::ephemeral_claim_name(
                pod.metadata.name.as_deref().unwrap_or_default(),
                &v.name,
            ),
            false,
        )),
        (None, None) => None,
    };
    if let Some((claim_name, read_only)) = claim {
        let mount = match sources.claims.get(&claim_name) {
            Some(Ok(mount)) => mount,
            Some(Err(why)) => {
                return Err(VolumeError::Claim {
                    claim: claim_name.clone(),
                    why: why.clone(),
                });
            }
            None => {
                return Err(VolumeError::Claim {
                    claim: claim_name.clone(),
                    why: "not resolved".into(),
                });
            }
        };
        if read_only {
            out.read_only.insert(v.name.clone());
        }
        if let Some(group) = fs_group.as_ref().filter(|_| mount.owned_by_fs_group) {
            group.apply(&mount.path, read_only)?;
        }
        out.paths.insert(v.name.clone(), mount.path.clone());
        return Ok(());
    }
    // Upstream wraps secret, downwardAPI and projected volumes in a memory-backed emptyDir,
    // so their data never reaches a disk (configMap volumes are on disk): here they are in
    // the agent's one tmpfs for them (see `Agent::run`), a directory per pod, which spares
    // every pod a mount of its own (and every container's mount namespace a copy of it).
    let in_memory = holds_files(v) && v.config_map.is_none();
    let dir = safe_join(
        &if in_memory {
            memory.to_path_buf()
        } else {
            sandbox.join("volumes")
        },
        &v.name,
    )?;
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    if let Some(ed) = &v.empty_dir {
        if ed.medium.as_deref() == Some("Memory") {
            os.mount_tmpfs(&dir, Some(memory_volume_size(pod, ed, sources)))?;
            out.tmpfs.push(dir.clone());
        }
        // Upstream's `setupDir`: anyone in the pod may write to it, whatever its user.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).map_err(io(&dir))?;
        if let Some(group) = &fs_group {
            group.apply(&dir, false)?;
        }
        out.paths.insert(v.name.clone(), dir);
        return Ok(());
    }
    if !holds_files(v) {
        return Err(VolumeError::Unsupported(v.name.clone()));
    }
    // The emptyDir upstream wraps them in is made by `setupDir`, mode 0777, as above.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).map_err(io(&dir))?;
    atomic::clear(&dir)?;
    let payload = atomic::new_payload(&dir)?;
    write_files(&payload, pod, v, sources)?;
    atomic::publish(&dir, &payload)?;
    if let Some(group) = &fs_group {
        group.apply(&dir, true)?;
    }
    out.read_only.insert(v.name.clone());
    out.paths.insert(v.name.clone(), dir);
    Ok(())
}

/// Whether `v` is a volume of files the agent writes (configMap, secret, downwardAPI,
/// projected), which [`refresh`] brings up to date.
fn holds_files(v: &Volume) -> bool {
    v.config_map.is_some()
        || v.secret.is_some()
        || v.downward_api.is_some()
        || v.projected.is_some()
}

/// A disk-backed emptyDir with a `sizeLimit`, which the pod may not outgrow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeLimit {
    pub volume: String,
    pub bytes: u64,
    /// The limit as the pod gives it, for the eviction message.
    pub written: String,
}

/// The pod's disk-backed emptyDirs with a `sizeLimit` (a memory-backed one is a tmpfs of
/// that size, which cannot grow past it).
pub fn size_limits(pod: &Pod) -> Vec<SizeLimit> {
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| {
            let ed = v.empty_dir.as_ref()?;
            if ed.medium.as_deref() == Some("Memory") {
                return None;
            }
            let limit = ed.size_limit.as_ref()?;
            let nanos = super::quantity::nanos(&limit.0)?;
            Some(SizeLimit {
                volume: v.name.clone(),
                bytes: u64::try_from(nanos.div_euclid(1_000_000_000)).ok()?,
                written: limit.0.clone(),
            })
        })
        .collect()
}

/// The pod's ephemeral storage limit, as upstream's `PodLimits` makes it: its containers' and
/// sidecars' summed, or an init container's with the sidecars started before it where that is
/// more (the limit as upstream writes it for the eviction message, and in bytes); `None` when
/// no container has one.
pub fn pod_storage_limit(pod: &Pod) -> Option<(String, u64)> {
    let spec = pod.spec.as_ref()?;
    let limit_of = |c: &Container| -> Option<(String, u64)> {
        let q = c
            .resources
            .as_ref()?
            .limits
            .as_ref()?
            .get("ephemeral-storage")?;
        let bytes = super::quantity::nanos(&q.0).map_or(0, |n| {
            u64::try_from(n.div_euclid(1_000_000_000)).unwrap_or(0)
        });
        Some((q.0.clone(), bytes))
    };
    // A sum of one limit keeps its own writing; of several, upstream's sum prints anew.
    fn sum(limits: &[(String, u64)]) -> Option<(String, u64)> {
        match limits {
            [] => None,
            [one] => Some(one.clone()),
            _ => {
                let bytes = limits.iter().map(|(_, b)| b).sum();
                Some((binary_quantity(bytes), bytes))
            }
        }
    }
    let mut sidecars: Vec<(String, u64)> = Vec::new();
    let mut largest_init: Option<(String, u64)> = None;
    for c in spec.init_containers.iter().flatten() {
        let own = limit_of(c);
        if c.restart_policy.as_deref() == Some("Always") {
            sidecars.extend(own);
            continue;
        }
        let Some(own) = own else { continue };
        let with_sidecars = sum(&[sidecars.clone(), vec![own]].concat());
        if with_sidecars.as_ref().map(|(_, b)| *b) > largest_init.as_ref().map(|(_, b)| *b) {
            largest_init = with_sidecars;
        }
    }
    let mut running: Vec<(String, u64)> = spec.containers.iter().filter_map(limit_of).collect();
    running.extend(sidecars);
    let running = sum(&running);
    match (running, largest_init) {
        (Some(r), Some(i)) if i.1 > r.1 => Some(i),
        (Some(r), _) => Some(r),
        (None, i) => i,
    }
}

/// `bytes` as a quantity in the largest binary unit that holds it whole (`15Mi`).
fn binary_quantity(bytes: u64) -> String {
    for (unit, size) in [
        ("Ti", 1u64 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    bytes.to_string()
}

/// The disk space the files under `path` take, as `du` counts it (allocated blocks).
pub fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    let mut total = meta.blocks().saturating_mul(512);
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            total = total.saturating_add(disk_usage(&entry.path()));
        }
    }
    total
}

/// Whether `pod` has a volume of files the agent writes, which [`refresh`] brings up to date.
pub fn has_files(pod: &Pod) -> bool {
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .any(holds_files)
}

/// Whether `pod` has a volume of files taken from its own metadata (a downwardAPI volume or
/// projection), which must be written again when its labels or annotations change.
pub fn reads_pod_metadata(pod: &Pod) -> bool {
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .any(|v| {
            v.downward_api.is_some()
                || v.projected
                    .iter()
                    .flat_map(|p| p.sources.iter().flatten())
                    .any(|s| s.downward_api.is_some())
        })
}

/// Writes the files of `pod`'s configMap, secret, downwardAPI and projected volumes again from
/// `sources`, as the kubelet's volume manager sets up these volumes again at every sync of a
/// running pod (their plugins' `RequiresRemount`): a volume whose files changed gets the new ones
/// in one step (see [`atomic`]), the others stay as they are. A volume that cannot be written
/// (its ConfigMap was deleted, a key it names is gone) keeps its files, and its error is
/// returned. Files mounted by `subPath` are bound to the old payload's file and keep it, as
/// upstream's do.
pub fn refresh(pod: &Pod, sources: &EnvSources<'_>, volumes: &PodVolumes) -> Vec<VolumeError> {
    let fs_group = FsGroup::of(pod);
    let mut errors = Vec::new();
    for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let Some(dir) = volumes.paths.get(&v.name).filter(|_| holds_files(v)) else {
            continue;
        };
        let written = atomic::new_payload(dir).and_then(|payload| {
            let filled = write_files(&payload, pod, v, sources).and_then(|()| match &fs_group {
                Some(group) => group.apply(&payload, true),
                None => Ok(()),
            });
            match filled {
                Ok(()) => atomic::replace(dir, &payload),
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&payload);
                    Err(e)
                }
            }
        });
        if let Err(error) = written {
            errors.push(VolumeError::InVolume {
                volume: v.name.clone(),
                error: Box::new(error),
            });
        }
    }
    errors
}

/// Writes the files of the configMap, secret, downwardAPI or projected volume `v` into
/// `payload`, as its upstream plugin's `SetUpAt` makes its payload.
fn write_files(
    payload: &Path,
    pod: &Pod,
    v: &Volume,
    sources: &EnvSources<'_>,
) -> Result<(), VolumeError> {
    if let Some(cmv) = &v.config_map {
        write_source(
            payload,
            "configmap",
            &cmv.name,
            sources.config_maps.get(&cmv.name).map(config_map_data),
            cmv.items.as_ref(),
            cmv.default_mode.unwrap_or(0o644),
            cmv.optional == Some(true),
        )?;
    } else if let Some(sv) = &v.secret {
        let name = sv.secret_name.clone().unwrap_or_default();
        write_source(
            payload,
            "secret",
            &name,
            sources.secrets.get(&name).map(secret_data),
            sv.items.as_ref(),
            sv.default_mode.unwrap_or(0o644),
            sv.optional == Some(true),
        )?;
    } else if let Some(d) = &v.downward_api {
        downward_files(
            payload,
            pod,
            d.items.as_deref().unwrap_or_default(),
            d.default_mode.unwrap_or(0o644),
            sources,
        )?;
    } else if let Some(p) = &v.projected {
        // Every source is tried and every failure told, as upstream's `collectData`.
        let mode = p.default_mode.unwrap_or(0o644);
        let mut failed = Vec::new();
        for src in p.sources.iter().flatten() {
            if let Some(c) = &src.config_map
                && let Err(e) = write_source(
                    payload,
                    "configmap",
                    &c.name,
                    sources.config_maps.get(&c.name).map(config_map_data),
                    c.items.as_ref(),
                    mode,
                    c.optional == Some(true),
                )
            {
                failed.push(e);
            }
            if let Some(s) = &src.secret
                && let Err(e) = write_source(
                    payload,
                    "secret",
                    &s.name,
                    sources.secrets.get(&s.name).map(secret_data),
                    s.items.as_ref(),
                    mode,
                    s.optional == Some(true),
                )
            {
                failed.push(e);
            }
            if let Some(d) = &src.downward_api
                && let Err(e) = downward_files(
                    payload,
                    pod,
                    d.items.as_deref().unwrap_or_default(),
                    mode,
                    sources,
                )
            {
                failed.push(e);
            }
            if let Some(t) = &src.service_account_token
                && let Err(e) = token_file(payload, pod, t, mode, sources)
            {
                failed.push(e);
            }
        }
        match failed.len() {
            0 => {}
            1 => return Err(failed.remove(0)),
            _ => return Err(VolumeError::Several(failed)),
        }
    }
    Ok(())
}

/// Writes the token of a projected `serviceAccountToken` source. As upstream's projected
/// volume writes it, a pod that names its user or `fsGroup` gets it readable by its owner only
/// (`fsGroup` then adds its group), owned by the user all its containers run as.
fn token_file(
    payload: &Path,
    pod: &Pod,
    source: &k8s_openapi::api::core::v1::ServiceAccountTokenProjection,
    mode: i32,
    sources: &EnvSources<'_>,
) -> Result<(), VolumeError> {
    let token = match sources.tokens.get(&super::tokens::TokenKey::of(source)) {
        Some(Ok(token)) => token,
        Some(Err(why)) => return Err(VolumeError::Token(why.clone())),
        None => return Err(VolumeError::Token("no token was requested".into())),
    };
    let owner = fs_user(pod);
    let mode = if owner.is_some() || FsGroup::of(pod).is_some() {
        0o600
    } else {
        mode
    };
    write_file(payload, &source.path, token.as_bytes(), mode)?;
    if let Some(uid) = owner {
        let path = safe_join(payload, &source.path)?;
        std::os::unix::fs::lchown(&path, Some(uid), None).map_err(io(&path))?;
    }
    Ok(())
}

/// Upstream's `FsUserFrom`: the user every container of the pod (init containers too) runs
/// as, when each names one (itself or through the pod) and they all name the same.
fn fs_user(pod: &Pod) -> Option<u32> {
    let spec = pod.spec.as_ref()?;
    let pod_user = spec.security_context.as_ref().and_then(|s| s.run_as_user);
    let mut user = None;
    for c in spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
    {
        let this = c
            .security_context
            .as_ref()
            .and_then(|s| s.run_as_user)
            .or(pod_user)?;
        if user.is_some_and(|u| u != this) {
            return None;
        }
        user = Some(this);
    }
    u32::try_from(user?).ok()
}

/// Upstream `host_path.go` `checkType`: the path must be of the declared type, and the
/// `...OrCreate` types make a missing one (a file's directory must exist). A missing path of no
/// type is made a directory, as the container runtime (containerd's CRI) makes a bind mount's
/// missing source.
fn check_host_path(path: &str, kind: &str) -> Result<(), VolumeError> {
    use std::os::unix::fs::FileTypeExt;
    let p = Path::new(path);
    let wrong = |want: &str| VolumeError::HostPathType {
        path: path.to_string(),
        want: want.to_string(),
    };
    let file_type = std::fs::metadata(p).map(|m| m.file_type());
    match kind {
        "" | "DirectoryOrCreate" if file_type.is_err() => {
            std::fs::create_dir_all(p).map_err(io(p))?;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).map_err(io(p))
        }
        "FileOrCreate" if file_type.is_err() => {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(p)
                .map_err(io(p))?;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).map_err(io(p))
        }
        "Directory" | "DirectoryOrCreate" if !file_type.as_ref().is_ok_and(|t| t.is_dir()) => {
            Err(wrong("directory"))
        }
        "File" | "FileOrCreate" if !file_type.as_ref().is_ok_and(|t| t.is_file()) => {
            Err(wrong("file"))
        }
        "Socket" if !file_type.as_ref().is_ok_and(|t| t.is_socket()) => Err(wrong("socket file")),
        "CharDevice" if !file_type.as_ref().is_ok_and(|t| t.is_char_device()) => {
            Err(wrong("character device"))
        }
        "BlockDevice" if !file_type.as_ref().is_ok_and(|t| t.is_block_device()) => {
            Err(wrong("block device"))
        }
        "" | "Directory" | "DirectoryOrCreate" | "File" | "FileOrCreate" | "Socket"
        | "CharDevice" | "BlockDevice" => Ok(()),
        other => Err(VolumeError::InvalidHostPathType(other.to_string())),
    }
}

/// The size of a memory-backed emptyDir, as upstream's `calculateEmptyDirMemorySize`: the
/// node's allocatable memory, or less, the pod's memory limit (when every container has one),
/// or less, the volume's `sizeLimit`.
fn memory_volume_size(
    pod: &Pod,
    ed: &k8s_openapi::api::core::v1::EmptyDirVolumeSource,
    sources: &EnvSources<'_>,
) -> u64 {
    let bytes = |q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity| {
        super::quantity::nanos(&q.0)
            .map(|n| u64::try_from(n.div_euclid(1_000_000_000)).unwrap_or(0))
            .filter(|b| *b > 0)
    };
    let mut size = u64::try_from(sources.allocatable_memory_bytes).unwrap_or(u64::MAX);
    let limit_of = |c: &Container| {
        c.resources
            .as_ref()
            .and_then(|r| r.limits.as_ref())
            .and_then(|l| l.get("memory"))
            .and_then(bytes)
    };
    let containers = pod.spec.iter().flat_map(|s| s.containers.iter());
    let pod_limit: Option<u64> = containers.map(limit_of).sum();
    if let Some(limit) = pod_limit.filter(|l| *l <= size) {
        size = limit;
    }
    if let Some(limit) = ed
        .size_limit
        .as_ref()
        .and_then(bytes)
        .filter(|l| *l <= size)
    {
        size = limit;
    }
    size
}

/// `securityContext.fsGroup`: the group that owns a pod's volumes, as upstream's
/// `SetVolumeOwnership` sets it.
struct FsGroup {
    gid: u32,
    /// `fsGroupChangePolicy: OnRootMismatch`: leave a volume whose root is already right.
    on_root_mismatch: bool,
}

impl FsGroup {
    fn of(pod: &Pod) -> Option<FsGroup> {
        let sc = pod.spec.as_ref()?.security_context.as_ref()?;
        Some(FsGroup {
            gid: u32::try_from(sc.fs_group?).ok()?,
            on_root_mismatch: sc.fs_group_change_policy.as_deref() == Some("OnRootMismatch"),
        })
    }

    /// Gives everything under `root` to the group: group read (and write, unless the volume is
    /// read-only) on files, and set-group-ID and search on directories.
    fn apply(&self, root: &Path, read_only: bool) -> Result<(), VolumeError> {
        use std::os::unix::fs::MetadataExt;
        let mask = if read_only { 0o440 } else { 0o660 };
        let dir_mask = mask | 0o2110;
        if self.on_root_mismatch
            && let Ok(m) = std::fs::metadata(root)
            && m.gid() == self.gid
            && m.mode() & dir_mask == dir_mask
        {
            return Ok(());
        }
        let mut todo = vec![root.to_path_buf()];
        while let Some(p) = todo.pop() {
            let meta = std::fs::symlink_metadata(&p).map_err(io(&p))?;
            std::os::unix::fs::lchown(&p, None, Some(self.gid)).map_err(io(&p))?;
            if meta.file_type().is_symlink() {
                continue;
            }
            let add = if meta.is_dir() { dir_mask } else { mask };
            std::fs::set_permissions(
                &p,
                std::fs::Permissions::from_mode((meta.mode() & 0o7777) | add),
            )
            .map_err(io(&p))?;
            if meta.is_dir() {
                for entry in std::fs::read_dir(&p).map_err(io(&p))? {
                    todo.push(entry.map_err(io(&p))?.path());
                }
            }
        }
        Ok(())
    }
}

/// `path` with every symbolic link resolved, if it is still inside the volume `base`: a
/// container can make a link in its volume (`ln -s /etc vol/x`), and a `subPath` through it
/// must not bind the host's files into the next container (upstream's `doSafeOpen`, the fix of
/// CVE-2017-1002101). The resolved path, which has no links, is what gets bound.
fn within_volume(base: &Path, path: &Path) -> Option<PathBuf> {
    let base = std::fs::canonicalize(base).ok()?;
    let resolved = std::fs::canonicalize(path).ok()?;
    resolved.starts_with(&base).then_some(resolved)
}

/// Makes the missing directories of a `subPath` under a volume with the volume's own mode, not
/// the agent's umask (upstream's `doSafeMakeDir` sets them with `Fchmod`), so a subdirectory of
/// an emptyDir is as writable as the emptyDir.
fn make_sub_path(base: &Path, path: &Path) -> Result<(), VolumeError> {
    use std::os::unix::fs::MetadataExt;
    let mode = std::fs::metadata(base).map_err(io(base))?.mode() & 0o7777;
    let missing: Vec<&Path> = path
        .ancestors()
        .take_while(|p| *p != base && !p.exists())
        .collect();
    for dir in missing.into_iter().rev() {
        std::fs::create_dir(dir).map_err(io(dir))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).map_err(io(dir))?;
    }
    Ok(())
}

/// A mount's `subPathExpr` with the container's environment expanded into it; every variable it
/// names must have a value (upstream `ExpandContainerVolumeMounts`).
fn expand_sub_path(expr: &str, env: &[(String, String)]) -> Result<String, VolumeError> {
    let missing = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let expanded = super::env::expand(expr, &|name| {
        let value = env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        if value.as_deref().is_none_or(str::is_empty) {
            missing.borrow_mut().insert(name.to_string());
        }
        Some(value.unwrap_or_default())
    });
    let missing = missing.into_inner();
    if !missing.is_empty() {
        let names: Vec<_> = missing.into_iter().collect();
        return Err(VolumeError::SubPathExpr(names.join(", ")));
    }
    Ok(expanded)
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
    env: &[(String, String)],
    volumes: &PodVolumes,
) -> Result<Vec<BindMount>, VolumeError> {
    let mut out = Vec::new();
    for m in container.volume_mounts.iter().flatten() {
        let base = volumes
            .paths
            .get(&m.name)
            .ok_or_else(|| VolumeError::Unsupported(m.name.clone()))?;
        let sub_path = match m.sub_path_expr.as_deref().filter(|s| !s.is_empty()) {
            Some(expr) => Some(expand_sub_path(expr, env)?),
            None => m.sub_path.clone().filter(|s| !s.is_empty()),
        };
        let source = match sub_path {
            Some(sub) => {
                // A `subPathExpr` is checked once expanded, as upstream's `makeMounts` does
                // (validation has checked a `subPath`).
                if sub.starts_with('/') {
                    return Err(VolumeError::SubPathAbsolute(sub));
                }
                if Path::new(&sub)
                    .components()
                    .any(|c| c == Component::ParentDir)
                {
                    return Err(VolumeError::SubPathBacksteps(sub));
                }
                let p = safe_join(base, &sub)?;
                let outside = || VolumeError::SubPathOutside {
                    mount: m.name.clone(),
                    container: container.name.clone(),
                };
                if !p.exists() {
                    // What exists of it must be inside before anything is made through it.
                    let existing = p.ancestors().find(|a| a.exists()).unwrap_or(base);
                    within_volume(base, existing).ok_or_else(outside)?;
                    make_sub_path(base, &p)?;
                }
                within_volume(base, &p).ok_or_else(outside)?
            }
            None => base.clone(),
        };
        let target = PathBuf::from(&m.mount_path);
        if !target.is_absolute() {
            return Err(VolumeError::BadPath(m.mount_path.clone()));
        }
        out.push(BindMount {
            source,
            target,
            read_only: m.read_only == Some(true) || volumes.read_only.contains(&m.name),
            optional: false,
        });
    }
    Ok(out)
}

/// Orders a container's `mounts` as containerd does (fewer path components first, so one
/// inside another comes after it) and makes their mount points. A mount point inside another
/// mount is made in that mount's source (its volume), as runc makes a missing mount point in
/// what is already mounted there, and must stay inside it; the others are made on the host and
/// claimed there (see [`MountPoints`]), `claimed` listing what this pod holds.
pub fn place_mounts(
    mounts: &mut [BindMount],
    points: &MountPoints,
    claimed: &mut Vec<PathBuf>,
) -> Result<(), VolumeError> {
    mounts.sort_by_key(|m| m.target.components().count());
    for i in 0..mounts.len() {
        let (outer, rest) = mounts.split_at(i);
        let Some(m) = rest.first() else {
            break;
        };
        let dir = m.source.is_dir();
        if !make_inside(outer, &m.target, dir)?
            && !claimed.contains(&m.target)
            && points.claim(&m.target, dir).map_err(io(&m.target))?
        {
            claimed.push(m.target.clone());
        }
    }
    Ok(())
}

/// Makes `target` (a directory when `dir`, else an empty file) where it lies inside one of
/// `mounts`, in that mount's source, if it is not there yet; whether it lies inside one. What
/// is made stays inside the source, whatever links the container left in it.
pub fn make_inside(mounts: &[BindMount], target: &Path, dir: bool) -> Result<bool, VolumeError> {
    let Some(holder) = mounts
        .iter()
        .filter(|o| target != o.target && target.starts_with(&o.target))
        .max_by_key(|o| o.target.components().count())
    else {
        return Ok(false);
    };
    let base = &holder.source;
    let point = base.join(target.strip_prefix(&holder.target).unwrap_or(target));
    let outside = || VolumeError::BadPath(target.display().to_string());
    // A link the container left there counts as there, even one leading nowhere: what it
    // leads to is checked below, and nothing is made through it.
    if std::fs::symlink_metadata(&point).is_err() {
        let parent = point.parent().unwrap_or(base);
        let existing = parent.ancestors().find(|a| a.exists()).unwrap_or(base);
        within_volume(base, existing).ok_or_else(outside)?;
        make_sub_path(base, parent)?;
        within_volume(base, parent).ok_or_else(outside)?;
        if dir {
            std::fs::create_dir(&point).map_err(io(&point))?;
        } else {
            // `create_new`: never through a link put there meanwhile.
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&point)
                .map_err(io(&point))?;
        }
    }
    within_volume(base, &point).ok_or_else(outside)?;
    Ok(true)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::os::fake::FakeOs;
    use serde_json::json;

    /// [`prepare`] with the pod's memory directory under `dir` too.
    fn prepare_in(
        os: &dyn Os,
        dir: &Path,
        pod: &Pod,
        sources: &EnvSources<'_>,
    ) -> Result<PodVolumes, VolumeError> {
        prepare(os, dir, &dir.join("memory"), pod, sources)
    }

    /// The ConfigMap `cm` with the key `k` = `v`, by name.
    fn config_map_cm() -> HashMap<String, ConfigMap> {
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": "cm"}, "data": {"k": "v"}}))
                .unwrap();
        HashMap::from([("cm".to_string(), cm)])
    }

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
        let s: Secret =
            serde_json::from_value(json!({"metadata": {"name": "s"}, "data": {"pw": "eA=="}}))
                .unwrap();
        let cms = config_map_cm();
        let secrets = HashMap::from([("s".to_string(), s)]);
        let sources = EnvSources {
            config_maps: &cms,
            secrets: &secrets,
            ..Default::default()
        };
        let os = FakeOs::new();
        let vols = prepare_in(&os, dir.path(), &pod, &sources).unwrap();
        let cfg = dir.path().join("volumes/cfg/sub/file");
        assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "v");
        // AtomicWriter's layout: `..data` names the payload, the keys link through it.
        let volume = dir.path().join("volumes/cfg");
        let data = std::fs::read_link(volume.join("..data")).unwrap();
        assert!(data.to_str().unwrap().starts_with("..20"), "{data:?}");
        assert!(volume.join(&data).is_dir());
        assert_eq!(
            std::fs::read_link(volume.join("sub")).unwrap(),
            Path::new("..data/sub")
        );
        assert_eq!(
            std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // Secrets and downward API files are in the agent's tmpfs, never on a disk.
        assert_eq!(
            std::fs::read_to_string(dir.path().join("memory/sec/pw")).unwrap(),
            "x"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("memory/info/labels")).unwrap(),
            "a=\"b\""
        );
        assert_eq!(
            *os.tmpfs.lock().unwrap(),
            [dir.path().join("volumes/scratch")],
            "a memory emptyDir is a tmpfs of its own, of its size"
        );
        assert_eq!(
            vols.read_only,
            HashSet::from(["cfg", "sec", "info"].map(String::from))
        );
        let scratch = std::fs::metadata(dir.path().join("volumes/scratch")).unwrap();
        assert_eq!(scratch.permissions().mode() & 0o777, 0o777);
        let c = &pod.spec.as_ref().unwrap().containers[0];
        let points = MountPoints::default();
        let mut claimed = Vec::new();
        let mut mounts = container_mounts(c, &[], &vols).unwrap();
        place_mounts(&mut mounts, &points, &mut claimed).unwrap();
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
    fn a_mount_point_inside_a_volume_is_never_made_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let volume = dir.path().join("vol");
        std::fs::create_dir(&volume).unwrap();
        let outside = dir.path().join("outside-file");
        std::os::unix::fs::symlink(&outside, volume.join("term")).unwrap();
        let mounts = vec![BindMount {
            source: volume.clone(),
            target: "/data".into(),
            read_only: false,
            optional: false,
        }];
        assert!(make_inside(&mounts, Path::new("/data/term"), false).is_err());
        assert!(!outside.exists(), "nothing is made where the link leads");
        assert!(make_inside(&mounts, Path::new("/data/sub/msg"), false).unwrap());
        assert!(volume.join("sub/msg").is_file());
        assert!(!make_inside(&mounts, Path::new("/elsewhere"), true).unwrap());
    }

    #[test]
    fn only_disk_backed_empty_dirs_are_held_to_their_size_limit() {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {
        "containers": [], "volumes": [
            {"name": "disk", "emptyDir": {"sizeLimit": "2Mi"}},
            {"name": "ram", "emptyDir": {"medium": "Memory", "sizeLimit": "2Mi"}},
            {"name": "free", "emptyDir": {}}
        ]}}))
        .unwrap();
        assert_eq!(
            size_limits(&pod),
            vec![SizeLimit {
                volume: "disk".into(),
                bytes: 2 << 20,
                written: "2Mi".into()
            }]
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/f"), vec![1u8; 100_000]).unwrap();
        assert!(disk_usage(dir.path()) >= 100_000);
        let limited: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {
        "containers": [
            {"name": "a", "resources": {"limits": {"ephemeral-storage": "10Mi"}}},
            {"name": "b", "resources": {"limits": {"ephemeral-storage": "5Mi"}}},
            {"name": "c"}
        ]}}))
        .unwrap();
        assert_eq!(
            pod_storage_limit(&limited),
            Some(("15Mi".to_string(), 15 << 20))
        );
        assert_eq!(pod_storage_limit(&pod), None);
        // An init container asking for more than the containers that run after it.
        let init_heavy: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {
        "initContainers": [
            {"name": "side", "restartPolicy": "Always",
                "resources": {"limits": {"ephemeral-storage": "1Mi"}}},
            {"name": "fetch", "resources": {"limits": {"ephemeral-storage": "20Mi"}}}
        ],
        "containers": [{"name": "a", "resources": {"limits": {"ephemeral-storage": "10Mi"}}}]}}))
        .unwrap();
        assert_eq!(
            pod_storage_limit(&init_heavy),
            Some(("21Mi".to_string(), 21 << 20))
        );
        let only_init: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {
        "initContainers": [{"name": "fetch", "resources": {"limits": {"ephemeral-storage": "2Gi"}}}],
        "containers": [{"name": "a"}]}}))
        .unwrap();
        assert_eq!(
            pod_storage_limit(&only_init),
            Some(("2Gi".to_string(), 2 << 30))
        );
    }

    #[test]
    fn a_projected_volume_tells_every_missing_source() {
        let dir = tempfile::tempdir().unwrap();
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "c"}], "volumes": [
                {"name": "all", "projected": {"sources": [
                    {"configMap": {"name": "ycm"}}, {"configMap": {"name": "cm"}}, {"secret": {"name": "ys"}}
                ]}},
            ]}
        }))
        .unwrap();
        let cms = config_map_cm();
        let sources = EnvSources {
            config_maps: &cms,
            ..Default::default()
        };
        let err = prepare_in(&FakeOs::new(), dir.path(), &pod, &sources)
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            err,
            "for volume \"all\" : [configmap \"ycm\" not found, secret \"ys\" not found]"
        );
    }

    #[test]
    fn a_refresh_that_cannot_write_a_volume_keeps_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "c"}], "volumes": [
                {"name": "cfg", "configMap": {"name": "cm"}},
                {"name": "opt", "configMap": {"name": "cm", "optional": true}},
                {"name": "scratch", "emptyDir": {}},
            ]}
        }))
        .unwrap();
        let cms = config_map_cm();
        let sources = EnvSources {
            config_maps: &cms,
            ..Default::default()
        };
        let vols = prepare_in(&FakeOs::new(), dir.path(), &pod, &sources).unwrap();
        std::fs::write(dir.path().join("volumes/scratch/mine"), "x").unwrap();
        assert!(refresh(&pod, &sources, &vols).is_empty());

        // The ConfigMap is deleted: the volume that needs it keeps its files and says why; the
        // optional one is emptied, as upstream writes an empty payload for a missing optional
        // source; an emptyDir is never touched.
        let gone = EnvSources::default();
        let errors = refresh(&pod, &gone, &vols);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            errors[0].to_string(),
            "for volume \"cfg\" : configmap \"cm\" not found"
        );
        let read = |rel: &str| std::fs::read_to_string(dir.path().join("volumes").join(rel));
        assert_eq!(read("cfg/k").unwrap(), "v");
        assert!(read("opt/k").is_err());
        assert_eq!(read("scratch/mine").unwrap(), "x");
        let payloads = std::fs::read_dir(dir.path().join("volumes/cfg"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name() != "..data")
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("..")
            })
            .count();
        assert_eq!(
            payloads, 1,
            "the payload that could not be filled is removed"
        );
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
        let err = prepare_in(&FakeOs::new(), dir.path(), &pod, &sources).unwrap_err();
        assert_eq!(
            err.to_string(),
            "for volume \"cfg\" : configmap \"gone\" not found"
        );
    }

    #[test]
    fn host_path_types_are_checked_as_upstream() {
        let dir = tempfile::tempdir().unwrap();
        let at = |p: &str| dir.path().join(p).to_str().unwrap().to_string();
        check_host_path(&at("made/dir"), "DirectoryOrCreate").unwrap();
        check_host_path(&at("untyped/dir"), "").unwrap();
        assert!(
            Path::new(&at("untyped/dir")).is_dir(),
            "made as the runtime makes it"
        );
        check_host_path(&at("made/dir"), "").unwrap();
        assert!(dir.path().join("made/dir").is_dir());
        check_host_path(&at("made/file"), "FileOrCreate").unwrap();
        assert!(dir.path().join("made/file").is_file());
        let refused = [
            ("made/file", "DirectoryOrCreate", "is not a directory"),
            ("made/dir", "FileOrCreate", "is not a file"),
            ("made/file", "Socket", "is not a socket file"),
            ("made/file", "CharDevice", "is not a character device"),
            ("made/file", "BlockDevice", "is not a block device"),
            ("absent", "Directory", "is not a directory"),
        ];
        for (path, kind, message) in refused {
            let err = check_host_path(&at(path), kind).unwrap_err().to_string();
            assert!(err.contains(message), "{path} as {kind}: {err}");
            assert!(err.starts_with("hostPath type check failed: "), "{err}");
        }
        assert!(
            check_host_path(&at("missing/file"), "FileOrCreate").is_err(),
            "a file's directory is not made"
        );
        check_host_path("/dev/null", "CharDevice").unwrap();
        assert_eq!(
            check_host_path("/", "Dir").unwrap_err().to_string(),
            "Dir is an invalid volume type"
        );
    }

    #[test]
    fn fs_group_owns_the_volumes_and_memory_volumes_are_sized() {
        let dir = tempfile::tempdir().unwrap();
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {
                "securityContext": {"fsGroup": 2000},
                "containers": [{"name": "c", "resources": {"limits": {"memory": "64Mi"}}}],
                "volumes": [{"name": "cfg", "configMap": {"name": "cm", "defaultMode": 0o400}},
                            {"name": "scratch", "emptyDir": {}}]
            }
        }))
        .unwrap();
        let cms = config_map_cm();
        let sources = EnvSources {
            config_maps: &cms,
            allocatable_memory_bytes: 1 << 30,
            ..Default::default()
        };
        if nix_is_root() {
            prepare_in(&FakeOs::new(), dir.path(), &pod, &sources).unwrap();
            use std::os::unix::fs::MetadataExt;
            let file = std::fs::metadata(dir.path().join("volumes/cfg/k")).unwrap();
            assert_eq!((file.gid(), file.mode() & 0o7777), (2000, 0o440));
            let scratch = std::fs::metadata(dir.path().join("volumes/scratch")).unwrap();
            assert_eq!((scratch.gid(), scratch.mode() & 0o7777), (2000, 0o2777));
        } else {
            eprintln!("skipped the fsGroup check: changing a file's group needs root");
        }
        let memory: k8s_openapi::api::core::v1::EmptyDirVolumeSource =
            serde_json::from_value(json!({"medium": "Memory"})).unwrap();
        assert_eq!(memory_volume_size(&pod, &memory, &sources), 64 << 20);
        let small = serde_json::from_value(json!({"medium": "Memory", "sizeLimit": "1Mi"}));
        assert_eq!(memory_volume_size(&pod, &small.unwrap(), &sources), 1 << 20);
        let unlimited: Pod =
            serde_json::from_value(json!({"spec": {"containers": [{"name": "c"}]}})).unwrap();
        assert_eq!(memory_volume_size(&unlimited, &memory, &sources), 1 << 30);
    }

    fn nix_is_root() -> bool {
        rustix::process::geteuid().is_root()
    }

    #[test]
    fn sub_path_directories_take_the_volume_s_mode() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("scratch");
        std::fs::create_dir(&base).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777)).unwrap();
        make_sub_path(&base, &base.join("a/b")).unwrap();
        for d in ["a", "a/b"] {
            let mode = std::fs::metadata(base.join(d))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777;
            assert_eq!(mode, 0o777, "{d}");
        }
    }

    #[test]
    fn a_sub_path_through_a_link_out_of_its_volume_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("scratch");
        let outside = dir.path().join("host");
        std::fs::create_dir_all(base.join("real")).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, base.join("out")).unwrap();
        std::os::unix::fs::symlink("real", base.join("in")).unwrap();
        assert_eq!(within_volume(&base, &base.join("out")), None);
        assert_eq!(within_volume(&base, &base.join("out/deeper")), None);
        // A link that stays inside is followed, and what is bound has no link left.
        let inside = within_volume(&base, &base.join("in")).unwrap();
        assert_eq!(inside, std::fs::canonicalize(base.join("real")).unwrap());
    }

    #[test]
    fn a_sub_path_expression_expands_the_container_environment() {
        let env = [("POD".to_string(), "p-1".to_string())];
        assert_eq!(expand_sub_path("logs/$(POD)", &env).unwrap(), "logs/p-1");
        assert_eq!(expand_sub_path("$$(POD)", &env).unwrap(), "$(POD)");
        assert_eq!(
            expand_sub_path("$(NODE)/$(POD)/$(ZONE)", &env)
                .unwrap_err()
                .to_string(),
            "missing value for NODE, ZONE"
        );
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
