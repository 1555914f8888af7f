//! The built-in local-path provisioner: PersistentVolumeClaims backed by directories on this
//! node, as upstream's local-path provisioners (rancher `local-path-provisioner`, the
//! `WaitForFirstConsumer` kind) do it.
//!
//! - **Provision** when the first pod using an unbound claim of a class of our provisioner
//!   (`local-path`, the default class here, or any other naming `runlet.dev/local-path`, whose
//!   `reclaimPolicy` the volume gets; or no class at all) starts on this node: a directory
//!   `<data dir>/local-path/pvc-<claim uid>_<namespace>_<claim>` and a PersistentVolume
//!   `pvc-<claim uid>` (hostPath to that directory, node affinity to this node, `claimRef` to
//!   the claim, the class's reclaim policy, annotation `pv.kubernetes.io/provisioned-by`). Then the
//!   binding, as the PV controller writes it: the claim's `spec.volumeName` and
//!   `pv.kubernetes.io/bind-completed`, and both statuses `Bound`.
//! - **Mount**: a bound claim resolves to its volume's `hostPath`/`local` path; a volume pinned
//!   to another node is an error (the pod waits with `FailedMount`).
//! - **Release and reclaim** ([`run_reclaimer`]): when the claim of one of this node's volumes
//!   is gone, the volume becomes `Released`, also one deleted while bound; with reclaim policy
//!   `Delete` its directory is removed and the volume deleted (`Retain` keeps both, as
//!   upstream). A volume of policy `Delete` carries [`RECLAIM_FINALIZER`] until its directory
//!   is gone; a volume changed to `Retain` loses it.
//!
//! Invariant: only directories under this agent's `local-path` root are ever removed.

use crate::events::EventSink;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use runlet_api::storageclass::ClaimBinding;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The storage class this provisioner serves (also used for claims naming no class).
pub const STORAGE_CLASS: &str = runlet_api::storageclass::LOCAL_PATH;
/// The `pv.kubernetes.io/provisioned-by` value of volumes made here.
pub const PROVISIONER: &str = runlet_api::storageclass::LOCAL_PATH_PROVISIONER;
const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
/// Which node's directory backs the volume (rancher's `local.path.provisioner/selected-node`).
const SELECTED_NODE: &str = "local.path.provisioner/selected-node";
const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";
/// Keeps a volume of policy `Delete` until its directory is removed, as upstream's external
/// provisioners keep theirs (`HonorPVReclaimPolicy`): without it a volume deleted while bound
/// went, once released, before the reclaimer had removed its directory.
pub const RECLAIM_FINALIZER: &str = "external-provisioner.volume.kubernetes.io/finalizer";

/// Why a claim cannot be mounted here.
#[derive(Debug, thiserror::Error)]
pub enum LocalPathError {
    /// The claim does not exist.
    #[error("persistentvolumeclaim {0:?} not found")]
    ClaimNotFound(String),
    /// The claim is unbound and not of a class this node provisions.
    #[error(
        "persistentvolumeclaim {claim:?} is not bound and its storage class {class:?} is not provisioned by {PROVISIONER}"
    )]
    NotOurClass { claim: String, class: String },
    /// The claim is bound to a volume this node cannot mount.
    #[error("persistentvolume {volume:?}: {why}")]
    Unmountable { volume: String, why: String },
    /// The claim is being deleted.
    #[error("persistentvolumeclaim {0:?} is being deleted")]
    Terminating(String),
    /// An ephemeral volume's claim that another owner made.
    #[error("{0}")]
    NotForPod(String),
    /// An API call failed.
    #[error("{what}: {source}")]
    Api { what: String, source: kube::Error },
    /// The directory could not be made.
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

fn api_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> LocalPathError {
    let what = what.into();
    move |source| LocalPathError::Api { what, source }
}

/// The local-path root of an agent whose data directory is `data_dir`.
pub fn root(data_dir: &Path) -> PathBuf {
    data_dir.join("local-path")
}

/// Where a claim's volume is on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMount {
    pub path: PathBuf,
    /// Whether the pod's `fsGroup` owns it: a `local` volume, as upstream's local plugin
    /// sets its ownership; a `hostPath` one (what this provisioner makes) is left as it is.
    pub owned_by_fs_group: bool,
}

/// The host directory backing claim `namespace/claim` for a pod on `node`, provisioning and
/// binding a volume first when the claim is unbound and of our class.
pub async fn claim_path(
    client: &kube::Client,
    events: &EventSink,
    node: &str,
    root: &Path,
    namespace: &str,
    claim: &str,
    made_for: Option<&k8s_openapi::api::core::v1::Pod>,
) -> Result<ClaimMount, LocalPathError> {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let pvc = claims
        .get_opt(claim)
        .await
        .map_err(api_err(format!("reading persistentvolumeclaim {claim}")))?
        .ok_or_else(|| LocalPathError::ClaimNotFound(claim.to_string()))?;
    if pvc.metadata.deletion_timestamp.is_some() {
        return Err(LocalPathError::Terminating(claim.to_string()));
    }
    if let Some(pod) = made_for {
        runlet_api::podclaims::is_for_pod(pod, &pvc).map_err(LocalPathError::NotForPod)?;
    }
    let bound = pvc
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .filter(|v| !v.is_empty());
    let pv = match bound {
        Some(name) => volumes
            .get_opt(&name)
            .await
            .map_err(api_err(format!("reading persistentvolume {name}")))?
            .ok_or_else(|| LocalPathError::Unmountable {
                volume: name.clone(),
                why: "not found".into(),
            })?,
        None => provision(client, events, node, root, &pvc).await?,
    };
    Ok(ClaimMount {
        path: volume_path(&pv, node)?,
        owned_by_fs_group: pv.spec.as_ref().is_some_and(|s| s.local.is_some()),
    })
}

/// The directory of a volume on `node`.
fn volume_path(pv: &PersistentVolume, node: &str) -> Result<PathBuf, LocalPathError> {
    let name = pv.metadata.name.clone().unwrap_or_default();
    let spec = pv.spec.clone().unwrap_or_default();
    if let Some(nodes) = affinity_nodes(pv)
        && !nodes.iter().any(|n| n == node)
    {
        return Err(LocalPathError::Unmountable {
            volume: name,
            why: format!("its node affinity selects {nodes:?}, not this node {node:?}"),
        });
    }
    let path = spec
        .host_path
        .map(|h| h.path)
        .or_else(|| spec.local.map(|l| l.path))
        .ok_or_else(|| LocalPathError::Unmountable {
            volume: name.clone(),
            why: "only hostPath and local volumes can be mounted by the process runtime".into(),
        })?;
    let path = PathBuf::from(path);
    if !path.is_dir() {
        std::fs::create_dir_all(&path).map_err(|source| LocalPathError::Io {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok(path)
}

/// The hostnames a volume's required node affinity allows, if it has one.
fn affinity_nodes(pv: &PersistentVolume) -> Option<Vec<String>> {
    let terms = &pv
        .spec
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required
        .as_ref()?
        .node_selector_terms;
    let nodes: Vec<String> = terms
        .iter()
        .flat_map(|t| t.match_expressions.iter().flatten())
        .filter(|e| e.key == HOSTNAME_LABEL && e.operator == "In")
        .flat_map(|e| e.values.iter().flatten().cloned())
        .collect();
    (!nodes.is_empty()).then_some(nodes)
}

/// Makes the directory and the volume for an unbound claim, and binds them.
async fn provision(
    client: &kube::Client,
    events: &EventSink,
    node: &str,
    root: &Path,
    pvc: &PersistentVolumeClaim,
) -> Result<PersistentVolume, LocalPathError> {
    let ns = pvc.metadata.namespace.clone().unwrap_or_default();
    let claim = pvc.metadata.name.clone().unwrap_or_default();
    let uid = pvc.metadata.uid.clone().unwrap_or_default();
    let spec = pvc.spec.clone().unwrap_or_default();
    let class_name = runlet_api::storageclass::class_of(pvc).map(str::to_string);
    let class = match class_name.as_deref() {
        Some(name) if !name.is_empty() => Api::<StorageClass>::all(client.clone())
            .get_opt(name)
            .await
            .map_err(api_err(format!("reading storageclass {name}")))?,
        _ => None,
    };
    if runlet_api::storageclass::binding_of(class_name.as_deref(), class.as_ref())
        != ClaimBinding::LocalPath
    {
        return Err(LocalPathError::NotOurClass {
            claim,
            class: class_name.unwrap_or_default(),
        });
    }
    // The class's policy, as upstream's provisioning controller gives its volumes.
    let reclaim_policy = class
        .as_ref()
        .and_then(|c| c.reclaim_policy.clone())
        .unwrap_or_else(|| "Delete".into());
    // As an external provisioner names itself in its events.
    let component = format!("{PROVISIONER}_{node}");
    events.claim(
        pvc,
        &component,
        "Provisioning",
        &format!("External provisioner is provisioning volume for claim \"{ns}/{claim}\""),
    );
    let dir = root.join(format!("pvc-{uid}_{ns}_{claim}"));
    std::fs::create_dir_all(&dir).map_err(|source| LocalPathError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    // Containers may run as any user: the directory is world-writable, as rancher's helper
    // pod makes it (`mkdir -m 0777`).
    let _ = std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777));
    let storage = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map(|q| q.0.clone())
        .unwrap_or_else(|| "1Gi".into());
    let pv_name = format!("pvc-{uid}");
    let pv: PersistentVolume = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": pv_name,
            "annotations": {PROVISIONED_BY: PROVISIONER, SELECTED_NODE: node},
            "finalizers": if reclaim_policy == "Delete" { vec![RECLAIM_FINALIZER] } else { vec![] },
        },
        "spec": {
            "capacity": {"storage": storage},
            "accessModes": spec.access_modes.clone().unwrap_or_else(|| vec!["ReadWriteOnce".into()]),
            "persistentVolumeReclaimPolicy": reclaim_policy,
            "storageClassName": class_name.as_deref().unwrap_or(STORAGE_CLASS),
            "volumeMode": "Filesystem",
            "hostPath": {"path": dir.display().to_string(), "type": "DirectoryOrCreate"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}
            ]}]}},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": ns,
                "name": claim,
                "uid": uid,
                "resourceVersion": pvc.metadata.resource_version.clone().unwrap_or_default(),
            },
        },
    }))
    .map_err(|e| LocalPathError::Unmountable {
        volume: pv_name.clone(),
        why: e.to_string(),
    })?;
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let created = match volumes.create(&PostParams::default(), &pv).await {
        Ok(v) => v,
        Err(kube::Error::Api(s)) if s.code == 409 => volumes
            .get(&pv_name)
            .await
            .map_err(api_err(format!("reading persistentvolume {pv_name}")))?,
        Err(e) => return Err(api_err(format!("creating persistentvolume {pv_name}"))(e)),
    };
    tracing::info!(claim = %claim, namespace = %ns, volume = %pv_name, path = %dir.display(), "provisioned a local-path volume");
    let status = json!({"status": {"phase": "Bound"}});
    volumes
        .patch_status(&pv_name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .map_err(api_err(format!("binding persistentvolume {pv_name}")))?;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    let bind = json!({
        "metadata": {"annotations": {
            "pv.kubernetes.io/bind-completed": "yes",
            "pv.kubernetes.io/bound-by-controller": "yes",
            "volume.kubernetes.io/selected-node": node,
            "volume.kubernetes.io/storage-provisioner": PROVISIONER,
            "volume.beta.kubernetes.io/storage-provisioner": PROVISIONER,
        }},
        "spec": {"volumeName": pv_name},
    });
    claims
        .patch(&claim, &PatchParams::default(), &Patch::Merge(&bind))
        .await
        .map_err(api_err(format!("binding persistentvolumeclaim {claim}")))?;
    let claim_status = json!({"status": {
        "phase": "Bound",
        "accessModes": created.spec.as_ref().and_then(|s| s.access_modes.clone()),
        "capacity": {"storage": storage},
    }});
    claims
        .patch_status(
            &claim,
            &PatchParams::default(),
            &Patch::Merge(&claim_status),
        )
        .await
        .map_err(api_err(format!("binding persistentvolumeclaim {claim}")))?;
    events.claim(
        pvc,
        &component,
        "ProvisioningSucceeded",
        &format!("Successfully provisioned volume {pv_name}"),
    );
    Ok(created)
}

/// Whether this node made `pv`.
fn ours(pv: &PersistentVolume, node: &str) -> bool {
    let ann = pv.metadata.annotations.as_ref();
    ann.and_then(|a| a.get(PROVISIONED_BY)).map(String::as_str) == Some(PROVISIONER)
        && ann.and_then(|a| a.get(SELECTED_NODE)).map(String::as_str) == Some(node)
}

/// What to do with one of this node's volumes.
#[derive(Debug, PartialEq)]
enum Reclaim {
    Nothing,
    /// Policy `Retain` and still the reclaim finalizer: take it off.
    Unguard,
    /// The claim is gone: mark the volume `Released`.
    Release,
    /// Released with policy `Delete`: remove the directory and the volume.
    Delete,
}

fn decide(pv: &PersistentVolume, claims: &Store<PersistentVolumeClaim>) -> Reclaim {
    let phase = pv
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("");
    let spec = pv.spec.clone().unwrap_or_default();
    let policy = spec
        .persistent_volume_reclaim_policy
        .as_deref()
        .unwrap_or("Delete");
    // A volume deleted while bound waits under its protection finalizer: it is released and
    // reclaimed as any other once its claim is gone, and only then goes (upstream's PV
    // controller does not look at the volume's deletion either).
    if policy != "Delete" && has_finalizer(pv, RECLAIM_FINALIZER) {
        return Reclaim::Unguard;
    }
    if phase == "Released" {
        return if policy == "Delete" {
            Reclaim::Delete
        } else {
            Reclaim::Nothing
        };
    }
    let Some(claim_ref) = spec.claim_ref else {
        return Reclaim::Nothing;
    };
    let key = reflector::ObjectRef::<PersistentVolumeClaim>::new(
        claim_ref.name.as_deref().unwrap_or_default(),
    )
    .within(claim_ref.namespace.as_deref().unwrap_or_default());
    let present = claims
        .get(&key)
        .is_some_and(|c| c.metadata.uid == claim_ref.uid);
    if present {
        Reclaim::Nothing
    } else {
        Reclaim::Release
    }
}

fn has_finalizer(pv: &PersistentVolume, finalizer: &str) -> bool {
    pv.metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == finalizer)
}

/// Takes `finalizer` off volume `name`, unless it changed since read (a 409, tried again on
/// the next pass).
async fn remove_finalizer(api: &Api<PersistentVolume>, pv: &PersistentVolume, finalizer: &str) {
    let name = pv.metadata.name.clone().unwrap_or_default();
    let rest: Vec<&String> = pv
        .metadata
        .finalizers
        .iter()
        .flatten()
        .filter(|f| *f != finalizer)
        .collect();
    let patch = json!({"metadata": {
        "finalizers": rest,
        "resourceVersion": pv.metadata.resource_version,
    }});
    match api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => tracing::debug!(volume = %name, error = %e, "removing a volume's finalizer"),
    }
}

/// Whether a reflector's event says its store has listed.
fn listed<K>(event: &Result<watcher::Event<K>, watcher::Error>) -> bool {
    matches!(event, Ok(watcher::Event::InitDone))
}

/// Releases and reclaims this node's volumes whose claims are gone, until `cancel` fires.
pub async fn run_reclaimer(
    client: kube::Client,
    node: String,
    root: PathBuf,
    cancel: CancellationToken,
) {
    let (claims, claim_writer) = reflector::store::<PersistentVolumeClaim>();
    let (volumes, volume_writer) = reflector::store::<PersistentVolume>();
    let claim_stream = reflector::reflector(
        claim_writer,
        watcher(
            Api::<PersistentVolumeClaim>::all(client.clone()),
            watcher::Config::default(),
        ),
    )
    .default_backoff();
    let volume_stream = reflector::reflector(
        volume_writer,
        watcher(
            Api::<PersistentVolume>::all(client.clone()),
            watcher::Config::default(),
        ),
    )
    .default_backoff();
    // Each event says which store it came from and whether that store has now listed: the
    // stores fill only while `events` is polled, so readiness is read from the events rather
    // than waited for.
    let mut events = futures::stream::select(
        claim_stream.map(|e| (0, listed(&e))).boxed(),
        volume_stream.map(|e| (1, listed(&e))).boxed(),
    );
    let mut ready = [false, false];
    let api: Api<PersistentVolume> = Api::all(client);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            ev = events.next() => match ev {
                Some((store, done)) => ready[store] |= done,
                None => return,
            },
        }
        // Gather a burst of events before a pass; both stores must have listed.
        let burst = tokio::time::sleep(Duration::from_millis(20));
        tokio::pin!(burst);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = &mut burst => break,
                ev = events.next() => match ev {
                    Some((store, done)) => ready[store] |= done,
                    None => return,
                },
            }
        }
        if !ready.iter().all(|r| *r) {
            continue;
        }
        for pv in volumes.state() {
            if !ours(&pv, &node) {
                continue;
            }
            let name = pv.metadata.name.clone().unwrap_or_default();
            match decide(&pv, &claims) {
                Reclaim::Nothing => {}
                Reclaim::Unguard => remove_finalizer(&api, &pv, RECLAIM_FINALIZER).await,
                Reclaim::Release => {
                    let patch = json!({"status": {"phase": "Released"}});
                    match api
                        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                    {
                        Ok(_) => tracing::info!(volume = %name, "claim gone: volume released"),
                        Err(e) => tracing::warn!(volume = %name, error = %e, "releasing a volume"),
                    }
                }
                Reclaim::Delete => {
                    if let Ok(dir) = volume_path_unchecked(&pv)
                        && dir.starts_with(&root)
                        && dir != root
                        && let Err(e) = std::fs::remove_dir_all(&dir)
                        && e.kind() != std::io::ErrorKind::NotFound
                    {
                        tracing::warn!(volume = %name, path = %dir.display(), error = %e, "removing a volume's directory");
                        continue;
                    }
                    if pv.metadata.deletion_timestamp.is_none() {
                        match api.delete(&name, &DeleteParams::default()).await {
                            Ok(_) => tracing::info!(volume = %name, "released volume deleted"),
                            Err(kube::Error::Api(s)) if s.code == 404 => continue,
                            Err(e) => {
                                tracing::warn!(volume = %name, error = %e, "deleting a volume");
                                continue;
                            }
                        }
                    }
                    remove_finalizer(&api, &pv, RECLAIM_FINALIZER).await;
                }
            }
        }
    }
}

fn volume_path_unchecked(pv: &PersistentVolume) -> Result<PathBuf, ()> {
    let spec = pv.spec.clone().unwrap_or_default();
    spec.host_path
        .map(|h| PathBuf::from(h.path))
        .or_else(|| spec.local.map(|l| PathBuf::from(l.path)))
        .ok_or(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use runlet_test::TestApi;

    /// An event sink writing through the test server, as the agent's does.
    /// `claim_path` for claim `claim` of namespace `default` on `node`, for no particular pod.
    async fn claim_on(
        api: &TestApi,
        events: &EventSink,
        node: &str,
        root: &Path,
        claim: &str,
    ) -> Result<ClaimMount, LocalPathError> {
        claim_path(&api.client, events, node, root, "default", claim, None).await
    }

    fn sink(api: &TestApi) -> EventSink {
        EventSink::start(
            api.client.clone(),
            api.clock.clone(),
            "kubelet",
            "n1",
            runlet_client::rate::Rate::UNLIMITED,
            CancellationToken::new(),
        )
        .0
    }

    async fn create_claim(api: &TestApi, name: &str, class: Option<&str>) -> PersistentVolumeClaim {
        let mut pvc = json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}},
        });
        if let Some(c) = class {
            pvc["spec"]["storageClassName"] = json!(c);
        }
        let pvc: PersistentVolumeClaim = serde_json::from_value(pvc).unwrap();
        Api::<PersistentVolumeClaim>::namespaced(api.client.clone(), "default")
            .create(&PostParams::default(), &pvc)
            .await
            .unwrap()
    }

    /// rancher local-path-provisioner: the volume is `pvc-<uid>`, hostPath under the root,
    /// pinned to the node, `Delete` policy; the claim is bound to it.
    #[tokio::test]
    async fn an_unbound_claim_is_provisioned_and_bound_on_first_use() {
        let api = TestApi::start().await;
        let events = sink(&api);
        let dir = tempfile::tempdir().unwrap();
        let pvc = create_claim(&api, "data", None).await;
        let mount = claim_on(&api, &events, "n1", dir.path(), "data")
            .await
            .unwrap();
        assert!(!mount.owned_by_fs_group, "a hostPath volume's owner stays");
        let path = mount.path;
        let uid = pvc.metadata.uid.clone().unwrap();
        assert_eq!(path, dir.path().join(format!("pvc-{uid}_default_data")));
        assert!(path.is_dir());
        let pv = Api::<PersistentVolume>::all(api.client.clone())
            .get(&format!("pvc-{uid}"))
            .await
            .unwrap();
        let spec = pv.spec.clone().unwrap();
        assert_eq!(
            spec.persistent_volume_reclaim_policy.as_deref(),
            Some("Delete")
        );
        assert_eq!(spec.claim_ref.unwrap().uid, Some(uid.clone()));
        assert_eq!(affinity_nodes(&pv), Some(vec!["n1".to_string()]));
        assert_eq!(pv.status.unwrap().phase.as_deref(), Some("Bound"));
        let bound = Api::<PersistentVolumeClaim>::namespaced(api.client.clone(), "default")
            .get("data")
            .await
            .unwrap();
        assert_eq!(
            bound.spec.unwrap().volume_name.as_deref(),
            Some(format!("pvc-{uid}").as_str())
        );
        assert_eq!(bound.status.unwrap().phase.as_deref(), Some("Bound"));
        // Written by the agent's event sink, in the background, under the provisioner's name.
        let written = runlet_test::wait_for("the provisioning events", async || {
            let list =
                Api::<k8s_openapi::api::core::v1::Event>::namespaced(api.client.clone(), "default")
                    .list(&Default::default())
                    .await
                    .unwrap();
            let written: Vec<String> = list
                .items
                .into_iter()
                .map(|e| {
                    let source = e.source.and_then(|s| s.component).unwrap_or_default();
                    format!("{source} {} {}", e.reason.unwrap(), e.message.unwrap())
                })
                .collect();
            (written.len() == 2).then_some(written)
        })
        .await;
        assert_eq!(
            written,
            [
                "runlet.dev/local-path_n1 Provisioning External provisioner is provisioning volume for claim \"default/data\"".to_string(),
                format!("runlet.dev/local-path_n1 ProvisioningSucceeded Successfully provisioned volume pvc-{uid}"),
            ]
        );
        // A second pod finds the same directory; another node may not mount it.
        let again = claim_on(&api, &events, "n1", dir.path(), "data")
            .await
            .unwrap();
        assert_eq!(again.path, path);
        let elsewhere = claim_on(&api, &events, "n2", dir.path(), "data").await;
        assert!(matches!(elsewhere, Err(LocalPathError::Unmountable { .. })));
    }

    #[tokio::test]
    async fn a_claim_of_another_class_is_not_provisioned() {
        let api = TestApi::start().await;
        let events = sink(&api);
        let dir = tempfile::tempdir().unwrap();
        create_claim(&api, "fast", Some("ssd")).await;
        let err = claim_on(&api, &events, "n1", dir.path(), "fast")
            .await
            .unwrap_err();
        assert!(matches!(err, LocalPathError::NotOurClass { .. }), "{err}");
        let missing = claim_on(&api, &events, "n1", dir.path(), "nope").await;
        assert!(matches!(missing, Err(LocalPathError::ClaimNotFound(_))));
    }

    /// Another class of this provisioner is served too, its volumes made with its policy.
    #[tokio::test]
    async fn a_class_of_this_provisioner_gives_its_reclaim_policy() {
        let api = TestApi::start().await;
        let events = sink(&api);
        let dir = tempfile::tempdir().unwrap();
        let class: StorageClass = serde_json::from_value(json!({
            "metadata": {"name": "lp-retain"}, "provisioner": PROVISIONER,
            "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"}))
        .unwrap();
        Api::<StorageClass>::all(api.client.clone())
            .create(&PostParams::default(), &class)
            .await
            .unwrap();
        let pvc = create_claim(&api, "kept", Some("lp-retain")).await;
        claim_on(&api, &events, "n1", dir.path(), "kept")
            .await
            .unwrap();
        let pv = Api::<PersistentVolume>::all(api.client.clone())
            .get(&format!("pvc-{}", pvc.metadata.uid.unwrap()))
            .await
            .unwrap();
        let spec = pv.spec.clone().unwrap();
        assert_eq!(
            spec.persistent_volume_reclaim_policy.as_deref(),
            Some("Retain")
        );
        assert_eq!(spec.storage_class_name.as_deref(), Some("lp-retain"));
        assert!(!has_finalizer(&pv, RECLAIM_FINALIZER), "nothing to remove");
    }

    /// Upstream's PV controller releases a volume whose claim is deleted (once its protection
    /// controller let the claim go); the `Delete` policy then removes the backing directory and
    /// the volume (which its protection controller lets go once released).
    #[tokio::test]
    async fn deleting_the_claim_releases_and_deletes_the_volume_and_directory() {
        claim_deleted_then_volume_and_directory_go(false).await;
    }

    /// A volume changed to `Retain` loses the reclaim finalizer: nothing is to be removed.
    #[tokio::test]
    async fn a_retained_volume_keeps_no_reclaim_finalizer() {
        let api = TestApi::start().await;
        let events = sink(&api);
        let dir = tempfile::tempdir().unwrap();
        let pvc = create_claim(&api, "kept", Some(STORAGE_CLASS)).await;
        claim_on(&api, &events, "n1", dir.path(), "kept")
            .await
            .unwrap();
        let pv_name = format!("pvc-{}", pvc.metadata.uid.unwrap());
        let pvs: Api<PersistentVolume> = Api::all(api.client.clone());
        let pv = pvs.get(&pv_name).await.unwrap();
        assert!(has_finalizer(&pv, RECLAIM_FINALIZER), "{pv:?}");
        let retain = json!({"spec": {"persistentVolumeReclaimPolicy": "Retain"}});
        pvs.patch(&pv_name, &PatchParams::default(), &Patch::Merge(&retain))
            .await
            .unwrap();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run_reclaimer(
            api.client.clone(),
            "n1".into(),
            dir.path().to_path_buf(),
            cancel.clone(),
        ));
        let unguarded = tokio::time::timeout(Duration::from_secs(10), async {
            while has_finalizer(&pvs.get(&pv_name).await.unwrap(), RECLAIM_FINALIZER) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        cancel.cancel();
        task.await.unwrap();
        assert!(unguarded.is_ok(), "the reclaim finalizer is taken off");
    }

    /// A volume deleted while bound waits for its claim, then goes the same way.
    #[tokio::test]
    async fn a_volume_deleted_while_bound_is_reclaimed_once_its_claim_goes() {
        claim_deleted_then_volume_and_directory_go(true).await;
    }

    async fn claim_deleted_then_volume_and_directory_go(delete_volume_first: bool) {
        let api = TestApi::start().await;
        let events = sink(&api);
        let dir = tempfile::tempdir().unwrap();
        let pvc = create_claim(&api, "scratch", Some(STORAGE_CLASS)).await;
        let path = claim_on(&api, &events, "n1", dir.path(), "scratch")
            .await
            .unwrap()
            .path;
        std::fs::write(path.join("dump.sql"), "x").unwrap();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run_reclaimer(
            api.client.clone(),
            "n1".into(),
            dir.path().to_path_buf(),
            cancel.clone(),
        ));
        let protection = tokio::spawn(runlet_controllers::volumeprotection::run(
            api.client.clone(),
            runlet_controllers::podfeed::PodSource::Watch(api.client.clone()),
            cancel.clone(),
        ));
        let pv_name = format!("pvc-{}", pvc.metadata.uid.unwrap());
        let pvs: Api<PersistentVolume> = Api::all(api.client.clone());
        if delete_volume_first {
            pvs.delete(&pv_name, &DeleteParams::default())
                .await
                .unwrap();
            let held = pvs.get(&pv_name).await.unwrap();
            assert!(
                held.metadata.deletion_timestamp.is_some() && path.exists(),
                "held by its protection while bound"
            );
        }
        Api::<PersistentVolumeClaim>::namespaced(api.client.clone(), "default")
            .delete("scratch", &DeleteParams::default())
            .await
            .unwrap();
        let gone = tokio::time::timeout(Duration::from_secs(10), async {
            while pvs.get_opt(&pv_name).await.unwrap().is_some() || path.exists() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        cancel.cancel();
        task.await.unwrap();
        protection.await.unwrap();
        assert!(gone.is_ok(), "volume and directory removed");
    }

    /// Holds up the listing and watching of PersistentVolumes (not claims).
    async fn slow_volumes(
        req: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> axum::response::Response {
        if req.uri().path().ends_with("/persistentvolumes") {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        next.run(req).await
    }

    #[tokio::test]
    async fn the_reclaimer_stops_at_once_while_a_store_is_still_listing() {
        // Its volume store fills only while its event stream is polled: waiting for the store
        // to be ready without polling once held `runlet run` up for 5 s after every Job.
        let api = TestApi::start().await;
        let router = runlet_apiserver::router(api.state.clone())
            .layer(axum::middleware::from_fn(slow_volumes));
        let client = kube::Client::new(router, "default");
        let dir = tempfile::tempdir().unwrap();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run_reclaimer(
            client,
            "n1".into(),
            dir.path().to_path_buf(),
            cancel.clone(),
        ));
        // The claims have listed; the volumes have not.
        tokio::time::sleep(Duration::from_millis(150)).await;
        cancel.cancel();
        let stopped = tokio::time::timeout(Duration::from_secs(2), task).await;
        assert!(stopped.is_ok(), "the reclaimer did not stop when cancelled");
    }
}
