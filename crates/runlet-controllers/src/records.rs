//! The records controller: for every pod a Job ran, one `runlet.dev/v1` `PodRecord` — pod name
//! and UID, completion index, node, containers, start, end, phase, exit code, reason — that
//! outlives the pod and goes away with the Job (the node agent keeps the pod's logs as long,
//! served through `podrecords/{name}/log`). Kubernetes forgets all of this once a Job's pods are deleted
//! (kubernetes/kubernetes#71364); `kubectl get podrecords -l batch.kubernetes.io/job-name=pi`
//! shows it here.
//!
//! Shape: a watch of all pods feeds a de-duplicating [`WorkQueue`] of pod keys; a record is
//! written once a Job's pod has finished (phase `Succeeded`/`Failed`) or is deleted, named
//! after the pod, labelled like it (`batch.kubernetes.io/job-name`, `controller-uid`,
//! `job-completion-index`) and owned by the Job, so the garbage collector deletes records
//! with their Job. A record is rewritten only when what it says changes.
//!
//! Limitation: a pod deleted while this controller is not running (between two leaders) gets
//! no record, since nothing is left to read; the Job's tracking finalizer keeps pods until the
//! Job controller counted them, which in practice is long enough for this watch.

use crate::clockqueue::WorkQueue;
use crate::podfeed::PodSource;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use kube::runtime::watcher::Event;
use runlet_api::clock::Clock;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The API group and version of records.
pub const API_VERSION: &str = "runlet.dev/v1";
/// The kind of a pod record.
pub const KIND: &str = "PodRecord";

const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
const INDEX_LABEL: &str = "batch.kubernetes.io/job-completion-index";

/// Errors writing a record.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

/// The `ApiResource` of `runlet.dev/v1` `PodRecord`.
pub fn api_resource() -> ApiResource {
    ApiResource {
        group: "runlet.dev".into(),
        version: "v1".into(),
        api_version: API_VERSION.into(),
        kind: KIND.into(),
        plural: "podrecords".into(),
    }
}

/// The record a pod should have now, if any: `None` while a Job's pod still runs, or for pods
/// no Job controls. `deleted` is true for the pod's last state before it went away.
pub fn record_for(pod: &Pod, deleted: bool) -> Option<Value> {
    let owner = runlet_api::podrecord::controlling_job(&pod.metadata)?;
    // Every event of every Job's pod comes here: decide before copying anything.
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or_default();
    let finished = matches!(phase, "Succeeded" | "Failed");
    let deleting = deleted || pod.metadata.deletion_timestamp.is_some();
    if !finished && !deleting {
        return None;
    }
    let name = pod.metadata.name.clone()?;
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    let mut rec_labels = Map::new();
    for key in [JOB_NAME_LABEL, CONTROLLER_UID_LABEL, INDEX_LABEL] {
        if let Some(v) = labels.get(key) {
            rec_labels.insert(key.into(), json!(v));
        }
    }
    let index = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(INDEX_LABEL))
        .and_then(|v| v.parse::<i64>().ok());
    // The container that decides: the first that failed, else the first that ended.
    let terminated: Vec<_> = status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref())
        .collect();
    let decisive = terminated
        .iter()
        .find(|t| t.exit_code != 0)
        .or_else(|| terminated.first());
    let finish_time = terminated
        .iter()
        .filter_map(|t| t.finished_at.clone())
        .max_by_key(|t| t.0)
        .or_else(|| pod.metadata.deletion_timestamp.clone());
    let reason = decisive
        .and_then(|t| t.reason.clone())
        .or_else(|| status.and_then(|s| s.reason.clone()))
        .or_else(|| (!finished).then(|| "Deleted".to_string()));
    let message = decisive
        .and_then(|t| t.message.clone())
        .or_else(|| status.and_then(|s| s.message.clone()));
    let mut rec = json!({
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": rec_labels,
            "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "Job",
                "name": owner.name, "uid": owner.uid,
            }],
        },
        "jobName": owner.name,
        "podName": name,
        "podUID": pod.metadata.uid,
        "phase": if phase.is_empty() { "Unknown" } else { phase },
    });
    let fields = [
        ("completionIndex", index.map(|i| json!(i))),
        (
            "nodeName",
            pod.spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .map(Value::from),
        ),
        ("containers", container_names(pod, false)),
        ("initContainers", container_names(pod, true)),
        (
            "startTime",
            status.and_then(|s| s.start_time.as_ref()).map(|t| json!(t)),
        ),
        ("finishTime", finish_time.map(|t| json!(t))),
        ("exitCode", decisive.map(|t| json!(t.exit_code))),
        ("reason", reason.map(Value::from)),
        ("message", message.map(Value::from)),
    ];
    if let Some(map) = rec.as_object_mut() {
        for (k, v) in fields {
            if let Some(v) = v {
                map.insert(k.into(), v);
            }
        }
    }
    Some(rec)
}

/// The names of the pod's containers (or init containers), if it has any: the record's `log`
/// subresource chooses among them.
fn container_names(pod: &Pod, init: bool) -> Option<Value> {
    let spec = pod.spec.as_ref()?;
    let list = if init {
        spec.init_containers.as_ref()?
    } else {
        &spec.containers
    };
    (!list.is_empty()).then(|| json!(list.iter().map(|c| c.name.as_str()).collect::<Vec<_>>()))
}

fn pod_key(p: &Pod) -> String {
    format!(
        "{}/{}",
        p.metadata.namespace.as_deref().unwrap_or_default(),
        p.metadata.name.as_deref().unwrap_or_default()
    )
}

/// What a record says: the record without its `apiVersion`, `kind` and metadata.
fn said(rec: &Value) -> Value {
    let mut said = rec.clone();
    if let Some(m) = said.as_object_mut() {
        m.remove("metadata");
        m.remove("apiVersion");
        m.remove("kind");
    }
    said
}

/// A SHA-256 digest of what a record says: the controller keeps one for each pod whose record
/// it wrote, to skip writes that would change nothing, in 32 bytes instead of a copy of the
/// record. Digests of two records are equal when [`record_for`] made them from pods in the same
/// state, since it builds their fields in one order; a record read back from the server is
/// compared as a value instead (see [`write`]).
type Fingerprint = [u8; 32];

fn fingerprint(rec: &Value) -> Fingerprint {
    // Serializing a `Value` cannot fail.
    let said = serde_json::to_vec(&said(rec)).unwrap_or_default();
    let mut fingerprint = [0; 32];
    fingerprint.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, &said).as_ref());
    fingerprint
}

struct Shared {
    client: kube::Client,
    queue: WorkQueue<String>,
    /// The record each queued pod should have (and whether the pod is gone), until written.
    desired: Mutex<HashMap<String, (Arc<Value>, bool)>>,
    /// What the record last written for each pod says, to skip writes that change nothing;
    /// forgotten when the pod is deleted.
    written: Mutex<HashMap<String, Fingerprint>>,
}

impl Shared {
    fn observe(&self, pod: &Pod, deleted: bool) {
        let Some(rec) = record_for(pod, deleted) else {
            return;
        };
        let key = pod_key(pod);
        if let Ok(mut d) = self.desired.lock() {
            d.insert(key.clone(), (Arc::new(rec), deleted));
        }
        self.queue.add(key);
    }

    async fn sync(&self, key: &str) -> Result<(), Error> {
        let Some((rec, deleted)) = self.desired.lock().ok().and_then(|d| d.get(key).cloned())
        else {
            return Ok(());
        };
        let want = fingerprint(&rec);
        let already = self
            .written
            .lock()
            .ok()
            .is_some_and(|w| w.get(key) == Some(&want));
        if !already {
            write(&self.client, &rec).await?;
        }
        if let Ok(mut w) = self.written.lock() {
            if deleted {
                w.remove(key);
            } else {
                w.insert(key.to_string(), want);
            }
        }
        if let Ok(mut d) = self.desired.lock() {
            // Keep a desire that came meanwhile (a newer state, or a pod re-created under the
            // same name): it is queued again.
            if d.get(key).is_some_and(|(r, _)| Arc::ptr_eq(r, &rec)) {
                d.remove(key);
            }
        }
        Ok(())
    }
}

/// Creates the record, or replaces it when it exists and says something else.
async fn write(client: &kube::Client, rec: &Value) -> Result<(), Error> {
    let ns = rec["metadata"]["namespace"].as_str().unwrap_or("default");
    let name = rec["metadata"]["name"].as_str().unwrap_or_default();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &api_resource());
    // The common case, a new record, decodes nothing of the answer but its metadata.
    let collection = format!("/apis/{API_VERSION}/namespaces/{ns}/podrecords");
    match runlet_client::create(client, &collection, rec).await {
        Ok(_) => return Ok(()),
        // The namespace is gone (or going): nothing to keep.
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 403 => return Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => return Err(e.into()),
    }
    let current = api.get(name).await?;
    // Compared as values: the server's copy may hold the same fields in another order.
    if serde_json::to_value(&current.data).is_ok_and(|data| data == said(rec)) {
        return Ok(());
    }
    let mut replacement: DynamicObject =
        serde_json::from_value(rec.clone()).map_err(kube::Error::SerdeError)?;
    replacement.metadata.resource_version = current.metadata.resource_version;
    replacement.metadata.uid = current.metadata.uid;
    api.replace(name, &PostParams::default(), &replacement)
        .await?;
    Ok(())
}

/// Runs the records controller with `workers` writers until `shutdown`; every task it started
/// has stopped when this returns. `run_controllers` runs it with the others.
pub async fn run(
    client: kube::Client,
    clock: Arc<dyn Clock>,
    workers: usize,
    shutdown: CancellationToken,
) {
    let pods = PodSource::Watch(client.clone());
    run_with_pods(client, clock, workers, pods, shutdown).await
}

/// [`run`] with its pods from `pods` (a subscription to the controllers' shared pod watch).
pub async fn run_with_pods(
    client: kube::Client,
    clock: Arc<dyn Clock>,
    workers: usize,
    pods: PodSource,
    shutdown: CancellationToken,
) {
    let shared = Arc::new(Shared {
        client: client.clone(),
        queue: WorkQueue::new(clock),
        desired: Mutex::new(HashMap::new()),
        written: Mutex::new(HashMap::new()),
    });
    // Stops the workers when the watch ends too, without touching the caller's token.
    let stop = shutdown.child_token();
    let mut tasks = JoinSet::new();
    for _ in 0..workers.max(1) {
        let s = shared.clone();
        let cancel = stop.clone();
        tasks.spawn(async move {
            while let Some(key) = s.queue.get(&cancel).await {
                match s.sync(&key).await {
                    Ok(()) => s.queue.forget(&key),
                    Err(e) => {
                        tracing::warn!(pod = %key, error = %e, "writing pod record failed");
                        s.queue.add_rate_limited(key.clone());
                    }
                }
                s.queue.done(&key);
            }
        });
    }
    let mut stream = pods.into_stream();
    loop {
        let ev = tokio::select! {
            _ = shutdown.cancelled() => break,
            ev = stream.next() => ev,
        };
        match ev {
            None => break,
            Some(Ok(Event::Apply(p) | Event::InitApply(p))) => shared.observe(&p, false),
            Some(Ok(Event::Delete(p))) => shared.observe(&p, true),
            Some(Ok(_)) => {}
            Some(Err(e)) => tracing::warn!(error = %e, "pod watch failed"),
        }
    }
    stop.cancel();
    while tasks.join_next().await.is_some() {}
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use runlet_test::TestApi;

    /// A pod of Job `j` that ran to its end with `exit_code`.
    fn finished_pod(exit_code: i32) -> Pod {
        serde_json::from_value(json!({
            "metadata": {
                "name": "j-abc", "namespace": "default", "uid": "pod-uid",
                "labels": {JOB_NAME_LABEL: "j"},
                "ownerReferences": [{
                    "apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "job-uid",
                    "controller": true,
                }],
            },
            "spec": {"nodeName": "n", "containers": [{"name": "c", "image": "busybox"}]},
            "status": {
                "phase": if exit_code == 0 { "Succeeded" } else { "Failed" },
                "containerStatuses": [{
                    "name": "c", "image": "busybox", "imageID": "", "ready": false,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": exit_code, "reason": "Completed"}},
                }],
            },
        }))
        .unwrap()
    }

    #[test]
    fn a_fingerprint_covers_what_a_record_says_and_not_its_metadata() {
        let rec = record_for(&finished_pod(0), false).unwrap();
        let mut renamed = rec.clone();
        renamed["metadata"]["resourceVersion"] = json!("7");
        assert_eq!(fingerprint(&rec), fingerprint(&renamed));
        let failed = record_for(&finished_pod(3), false).unwrap();
        assert_ne!(fingerprint(&rec), fingerprint(&failed));
    }

    #[tokio::test]
    async fn a_written_record_is_remembered_by_its_digest_alone_and_not_written_again() {
        let api = TestApi::start().await;
        let shared = Shared {
            client: api.client.clone(),
            queue: WorkQueue::new(api.clock.clone()),
            desired: Mutex::new(HashMap::new()),
            written: Mutex::new(HashMap::new()),
        };
        let records: Api<DynamicObject> =
            Api::namespaced_with(api.client.clone(), "default", &api_resource());
        // The pod of `finished_pod(0)` seen (or seen deleted), and its record after the sync.
        let sync = async |deleted: bool| {
            shared.observe(&finished_pod(0), deleted);
            shared.sync("default/j-abc").await.unwrap();
            records.get("j-abc").await.unwrap()
        };

        let first = sync(false).await;
        assert_eq!(first.data["exitCode"], 0);
        assert!(
            shared.desired.lock().unwrap().is_empty(),
            "a written record is let go"
        );
        assert_eq!(shared.written.lock().unwrap().len(), 1);

        // Another event of the pod (say, its finalizer removed) says nothing new: no write.
        let again = sync(false).await;
        assert_eq!(
            again.metadata.resource_version,
            first.metadata.resource_version
        );

        // The pod deleted: the record stays as it was, and the controller forgets the pod.
        let kept = sync(true).await;
        assert_eq!(
            kept.metadata.resource_version,
            first.metadata.resource_version
        );
        assert!(shared.desired.lock().unwrap().is_empty());
        assert!(shared.written.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_record_that_says_something_else_is_replaced() {
        let api = TestApi::start().await;
        let records: Api<DynamicObject> =
            Api::namespaced_with(api.client.clone(), "default", &api_resource());
        let succeeded = record_for(&finished_pod(0), false).unwrap();
        write(&api.client, &succeeded).await.unwrap();
        let first = records.get("j-abc").await.unwrap();
        // The same record again (a controller that restarted and remembers nothing): kept.
        write(&api.client, &succeeded).await.unwrap();
        let same = records.get("j-abc").await.unwrap();
        assert_eq!(
            same.metadata.resource_version,
            first.metadata.resource_version
        );
        let failed = record_for(&finished_pod(3), false).unwrap();
        write(&api.client, &failed).await.unwrap();
        let replaced = records.get("j-abc").await.unwrap();
        assert_eq!(replaced.data["exitCode"], 3);
        assert_ne!(
            replaced.metadata.resource_version,
            first.metadata.resource_version
        );
    }
}
