//! How long a pod's log files live on the node: while the pod exists, and after it for as long
//! as a `runlet.dev/v1` PodRecord names it (`podUID`) — the records controller writes one per
//! pod a Job ran, owned by the Job, so a Job's logs stay readable through
//! `podrecords/{name}/log` until the Job is deleted, and are removed then.
//!
//! Shape: the agent's own watch of this node's pods (forwarded by its pod manager as
//! [`PodSeen`], so the node's pods are watched and decoded once) and a watch of all pod records
//! keep two sets of UIDs;
//! after both have listed, every change (and a periodic tick) sweeps the log directory. A
//! pod's logs whose UID is in neither set are removed at once when its pod was not a Job's or
//! its record was seen and is gone; otherwise (a Job's pod deleted before its record arrived,
//! or leftovers found at start) after [`GRACE`], so a record written late still finds its logs
//! and nothing outlives its Job for long.

use super::LogStore;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long logs nothing refers to are kept when they may still get a record.
pub const GRACE: Duration = Duration::from_secs(60);
/// How often the directory is swept when nothing happens.
const TICK: Duration = Duration::from_secs(10);
/// The least time between two sweeps prompted by events. A sweep reads the whole log
/// directory; sweeping after every pod event made a 10,000-pod Job quadratic.
const SWEEP_SPACING: Duration = Duration::from_secs(1);

/// The `ApiResource` of `runlet.dev/v1` PodRecords.
fn records_resource() -> ApiResource {
    ApiResource {
        group: "runlet.dev".into(),
        version: "v1".into(),
        api_version: "runlet.dev/v1".into(),
        kind: "PodRecord".into(),
        plural: "podrecords".into(),
    }
}

/// What retention needs of one of the node's pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSeen {
    pub uid: String,
    /// Controlled by a Job, so its logs may get a PodRecord.
    pub job: bool,
}

impl PodSeen {
    pub fn of(p: &Pod) -> Option<Self> {
        Some(PodSeen {
            uid: p.metadata.uid.clone()?,
            job: runlet_api::podrecord::controlling_job(&p.metadata).is_some(),
        })
    }

    /// The same watch event, carrying what retention needs; `None` for a pod without a UID.
    pub fn event(ev: &Event<std::sync::Arc<Pod>>) -> Option<Event<PodSeen>> {
        Some(match ev {
            Event::Init => Event::Init,
            Event::InitDone => Event::InitDone,
            Event::InitApply(p) => Event::InitApply(Self::of(p)?),
            Event::Apply(p) => Event::Apply(Self::of(p)?),
            Event::Delete(p) => Event::Delete(Self::of(p)?),
        })
    }
}

/// What the sweeper knows.
#[derive(Default)]
struct Retention {
    pods: HashSet<String>,
    records: HashSet<String>,
    /// Listed since the last (re)start of each watch.
    pods_listed: bool,
    records_listed: bool,
    /// Seen during a relist, replacing the set when it ends.
    pods_relist: Option<HashSet<String>>,
    records_relist: Option<HashSet<String>>,
    /// UIDs whose logs go as soon as nothing refers to them: a record was seen, or the pod
    /// was not a Job's.
    done: HashSet<String>,
    /// When a pod's logs were first seen with nothing referring to them.
    orphaned: HashMap<String, Instant>,
}

impl Retention {
    fn on_pod(&mut self, ev: Event<PodSeen>) {
        match ev {
            Event::Init => self.pods_relist = Some(HashSet::new()),
            Event::InitApply(p) => {
                if let Some(seen) = self.pods_relist.as_mut() {
                    seen.insert(p.uid);
                }
            }
            Event::InitDone => {
                if let Some(seen) = self.pods_relist.take() {
                    self.pods = seen;
                }
                self.pods_listed = true;
            }
            Event::Apply(p) => {
                self.pods.insert(p.uid);
            }
            Event::Delete(p) => {
                self.pods.remove(&p.uid);
                if !p.job {
                    self.done.insert(p.uid);
                }
            }
        }
    }

    fn on_record(&mut self, ev: Event<DynamicObject>) {
        let uid = |r: &DynamicObject| r.data["podUID"].as_str().map(str::to_string);
        match ev {
            Event::Init => self.records_relist = Some(HashSet::new()),
            Event::InitApply(r) => {
                if let (Some(seen), Some(u)) = (self.records_relist.as_mut(), uid(&r)) {
                    seen.insert(u);
                }
            }
            Event::InitDone => {
                if let Some(seen) = self.records_relist.take() {
                    // Records that went away while the watch was down are done.
                    self.done.extend(self.records.difference(&seen).cloned());
                    self.records = seen;
                }
                self.records_listed = true;
            }
            Event::Apply(r) => {
                if let Some(u) = uid(&r) {
                    self.records.insert(u);
                }
            }
            Event::Delete(r) => {
                if let Some(u) = uid(&r) {
                    self.records.remove(&u);
                    self.done.insert(u);
                }
            }
        }
    }

    /// Removes the logs whose time is up.
    fn sweep(&mut self, store: &LogStore, now: Instant) {
        if !(self.pods_listed && self.records_listed) {
            return;
        }
        let pods = store.pods();
        let present: HashSet<&str> = pods.iter().map(|d| d.uid.as_str()).collect();
        for logs in &pods {
            let uid = &logs.uid;
            if self.pods.contains(uid) || self.records.contains(uid) {
                self.orphaned.remove(uid);
                continue;
            }
            let since = *self.orphaned.entry(uid.clone()).or_insert(now);
            if self.done.contains(uid) || now.duration_since(since) >= GRACE {
                tracing::debug!(pod = %logs.pod, %uid, "removing the logs of a pod that is gone");
                store.remove_pod(logs);
                self.orphaned.remove(uid);
                self.done.remove(uid);
            }
        }
        self.orphaned.retain(|u, _| present.contains(u.as_str()));
        self.done
            .retain(|u| present.contains(u.as_str()) || self.pods.contains(u));
    }
}

/// Keeps `store` to the logs of pods that exist (as the node's pod watch reports them through
/// `pods`) or have records, until `cancel` fires or `pods` ends.
pub async fn run(
    client: kube::Client,
    store: LogStore,
    mut pods: mpsc::UnboundedReceiver<Event<PodSeen>>,
    cancel: CancellationToken,
) {
    let records: Api<DynamicObject> = Api::all_with(client, &records_resource());
    let mut records = watcher::watcher(records, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut state = Retention::default();
    let mut tick = tokio::time::interval(TICK);
    let mut last_sweep: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            ev = pods.recv() => match ev {
                Some(ev) => state.on_pod(ev),
                None => return,
            },
            ev = records.next() => match ev {
                Some(Ok(ev)) => state.on_record(ev),
                Some(Err(e)) => tracing::debug!(error = %e, "log retention: watching pod records"),
                None => return,
            },
            _ = tick.tick() => {
                last_sweep = Some(Instant::now());
                state.sweep(&store, Instant::now());
                continue;
            }
        }
        // Between ticks, sweep only for logs that can go now, and not too often.
        let now = Instant::now();
        if !state.done.is_empty()
            && last_sweep.is_none_or(|t| now.duration_since(t) >= SWEEP_SPACING)
        {
            last_sweep = Some(now);
            state.sweep(&store, now);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(uid: &str, job: bool) -> PodSeen {
        let owners = if job {
            json!([{"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "j1", "controller": true}])
        } else {
            json!([])
        };
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": format!("p-{uid}"), "namespace": "default", "uid": uid, "ownerReferences": owners}
        }))
        .unwrap();
        PodSeen::of(&pod).unwrap()
    }

    fn record(uid: &str) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "runlet.dev/v1", "kind": "PodRecord",
            "metadata": {"name": format!("p-{uid}"), "namespace": "default"},
            "podUID": uid,
        }))
        .unwrap()
    }

    fn write_log(store: &LogStore, uid: &str) {
        let f = store.attempt_file("default", &format!("p-{uid}"), uid, "c", 0);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, "").unwrap();
    }

    fn uids(store: &LogStore) -> Vec<String> {
        let mut v: Vec<String> = store.pods().into_iter().map(|d| d.uid).collect();
        v.sort();
        v
    }

    fn listed() -> Retention {
        let mut r = Retention::default();
        r.on_pod(Event::InitDone);
        r.on_record(Event::InitDone);
        r
    }

    #[test]
    fn logs_of_a_jobs_pod_live_until_its_record_is_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::new(dir.path().to_path_buf());
        let now = Instant::now();
        let mut r = listed();
        write_log(&store, "a");
        r.on_pod(Event::Apply(pod("a", true)));
        r.on_record(Event::Apply(record("a")));
        r.on_pod(Event::Delete(pod("a", true)));
        r.sweep(&store, now + GRACE * 10);
        assert_eq!(uids(&store), ["a"], "the record keeps the logs");
        r.on_record(Event::Delete(record("a")));
        r.sweep(&store, now);
        assert!(uids(&store).is_empty(), "gone with the record");
    }

    #[test]
    fn logs_of_other_pods_go_with_the_pod() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::new(dir.path().to_path_buf());
        let mut r = listed();
        write_log(&store, "b");
        r.on_pod(Event::Apply(pod("b", false)));
        r.sweep(&store, Instant::now());
        assert_eq!(uids(&store), ["b"]);
        r.on_pod(Event::Delete(pod("b", false)));
        r.sweep(&store, Instant::now());
        assert!(uids(&store).is_empty());
    }

    #[test]
    fn a_jobs_pod_without_a_record_keeps_its_logs_for_the_grace_period() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::new(dir.path().to_path_buf());
        let now = Instant::now();
        let mut r = listed();
        write_log(&store, "c");
        r.on_pod(Event::Apply(pod("c", true)));
        r.on_pod(Event::Delete(pod("c", true)));
        r.sweep(&store, now);
        assert_eq!(uids(&store), ["c"]);
        r.sweep(&store, now + GRACE);
        assert!(uids(&store).is_empty());
    }

    #[test]
    fn nothing_is_swept_before_both_watches_listed() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::new(dir.path().to_path_buf());
        let mut r = Retention::default();
        write_log(&store, "d");
        r.on_pod(Event::InitDone);
        r.sweep(&store, Instant::now() + GRACE * 10);
        assert_eq!(uids(&store), ["d"]);
    }
}
