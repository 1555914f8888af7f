//! The controller's informers: watches of all Jobs and Pods kept in memory, and the event
//! handlers of upstream's `addPod`/`updatePod`/`deletePod`/`addJob`/`updateJob`/`deleteJob`,
//! which observe expectations and enqueue Jobs.
//!
//! Pods are indexed by their controller's UID and split into *live* pods (anything the Job
//! still has to look at: not terminal, or still carrying the tracking finalizer) and *settled*
//! ones (terminal and already counted). A sync only walks the live pods, so a 10,000-pod Job
//! costs the same per sync as a 100-pod one.

use super::pods;
use super::{Context, job_key};
use crate::podfeed::PodSource;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// In-memory copies of Jobs and Pods.
#[derive(Default)]
pub struct Cache {
    jobs: RwLock<HashMap<String, Arc<Job>>>,
    pods: RwLock<PodIndex>,
}

#[derive(Default)]
struct PodIndex {
    by_key: HashMap<String, Arc<Pod>>,
    /// Live pods by controller UID, then by pod name.
    live: HashMap<String, HashMap<String, Arc<Pod>>>,
    /// Pods without a controller, by namespace then name.
    orphans: HashMap<String, HashMap<String, Arc<Pod>>>,
}

/// What storing a pod from the watch did.
enum Upsert {
    Added,
    Replaced(Arc<Pod>),
    /// The cache holds a newer copy; the event was dropped.
    Stale,
}

fn pod_key(p: &Pod) -> String {
    format!(
        "{}/{}",
        p.metadata.namespace.as_deref().unwrap_or_default(),
        pods::name(p)
    )
}

fn controller_uid(p: &Pod) -> Option<&str> {
    p.metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
        .map(|r| r.uid.as_str())
}

fn is_live(p: &Pod) -> bool {
    !pods::is_terminal(p) || pods::has_tracking_finalizer(p)
}

fn rv_num(rv: Option<&String>) -> Option<u64> {
    rv.and_then(|s| s.parse().ok())
}

impl PodIndex {
    fn unlink(&mut self, p: &Pod) {
        let name = pods::name(p);
        match controller_uid(p) {
            Some(uid) => {
                if let Some(m) = self.live.get_mut(uid) {
                    m.remove(name);
                    if m.is_empty() {
                        self.live.remove(uid);
                    }
                }
            }
            None => {
                let ns = p.metadata.namespace.as_deref().unwrap_or_default();
                if let Some(m) = self.orphans.get_mut(ns) {
                    m.remove(name);
                    if m.is_empty() {
                        self.orphans.remove(ns);
                    }
                }
            }
        }
    }

    fn link(&mut self, p: &Arc<Pod>) {
        let name = pods::name(p).to_string();
        match controller_uid(p) {
            Some(uid) => {
                if is_live(p) {
                    self.live
                        .entry(uid.to_string())
                        .or_default()
                        .insert(name, p.clone());
                }
            }
            None => {
                let ns = p.metadata.namespace.clone().unwrap_or_default();
                self.orphans.entry(ns).or_default().insert(name, p.clone());
            }
        }
    }
}

impl Cache {
    pub fn job(&self, key: &str) -> Option<Arc<Job>> {
        self.jobs.read().ok()?.get(key).cloned()
    }

    /// Jobs in `ns` whose selector matches `labels` (candidates to adopt an orphan).
    pub fn jobs_selecting(&self, ns: &str, pod: &Pod) -> Vec<Arc<Job>> {
        let Ok(jobs) = self.jobs.read() else {
            return Vec::new();
        };
        let empty = Default::default();
        let labels = pod.metadata.labels.as_ref().unwrap_or(&empty);
        jobs.values()
            .filter(|j| j.metadata.namespace.as_deref() == Some(ns))
            .filter(|j| {
                let sel = j.spec.as_ref().and_then(|s| s.selector.as_ref());
                match sel.map(runlet_api::selector::LabelSelector::from_k8s) {
                    Some(Ok(s)) => !s.is_empty() && s.matches_map(labels),
                    _ => false,
                }
            })
            .cloned()
            .collect()
    }

    /// Stores our own status write's result when it is newer than the cached copy, so the next
    /// sync does not conflict on a stale resourceVersion.
    pub fn put_job_if_newer(&self, job: &Job) {
        let key = job_key(job);
        let Ok(mut jobs) = self.jobs.write() else {
            return;
        };
        if let Some(cur) = jobs.get(&key)
            && cur.metadata.uid == job.metadata.uid
            && let (Some(a), Some(b)) = (
                rv_num(cur.metadata.resource_version.as_ref()),
                rv_num(job.metadata.resource_version.as_ref()),
            )
            && b > a
        {
            jobs.insert(key, Arc::new(job.clone()));
        }
    }

    fn upsert_job(&self, job: Job) -> Option<Arc<Job>> {
        let key = job_key(&job);
        let mut jobs = self.jobs.write().ok()?;
        if let Some(cur) = jobs.get(&key)
            && cur.metadata.uid == job.metadata.uid
            && let (Some(a), Some(b)) = (
                rv_num(cur.metadata.resource_version.as_ref()),
                rv_num(job.metadata.resource_version.as_ref()),
            )
            && b < a
        {
            // We already hold a newer copy (our own status write).
            return Some(cur.clone());
        }
        jobs.insert(key, Arc::new(job))
    }

    fn remove_job(&self, key: &str) -> Option<Arc<Job>> {
        self.jobs.write().ok()?.remove(key)
    }

    fn job_keys(&self) -> Vec<String> {
        self.jobs
            .read()
            .map(|j| j.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The live pods controlled by the Job with `uid`.
    pub fn live_pods(&self, uid: &str) -> Vec<Arc<Pod>> {
        self.pods
            .read()
            .ok()
            .and_then(|p| p.live.get(uid).map(|m| m.values().cloned().collect()))
            .unwrap_or_default()
    }

    /// Pods of namespace `ns` without a controller (candidates for adoption).
    pub fn orphans(&self, ns: &str) -> Vec<Arc<Pod>> {
        self.pods
            .read()
            .ok()
            .and_then(|p| p.orphans.get(ns).map(|m| m.values().cloned().collect()))
            .unwrap_or_default()
    }

    /// Stores the result of our own write to a pod (adoption, release) when the cache holds
    /// an older copy of that same pod, so the next sync does not act on the stale one. A pod
    /// the cache no longer has (deleted meanwhile) is not brought back.
    pub fn put_pod_if_newer(&self, pod: &Arc<Pod>) {
        let Ok(mut idx) = self.pods.write() else {
            return;
        };
        let key = pod_key(pod);
        let Some(cur) = idx.by_key.get(&key).cloned() else {
            return;
        };
        if cur.metadata.uid != pod.metadata.uid
            || rv_num(pod.metadata.resource_version.as_ref())
                <= rv_num(cur.metadata.resource_version.as_ref())
        {
            return;
        }
        idx.by_key.insert(key, pod.clone());
        idx.unlink(&cur);
        idx.link(pod);
    }

    pub fn pod(&self, key: &str) -> Option<Arc<Pod>> {
        self.pods.read().ok()?.by_key.get(key).cloned()
    }

    /// Stores a pod from the watch. A watch event older than the cached copy (which then is
    /// our own write, see [`Cache::put_pod_if_newer`]) is dropped.
    fn upsert_pod(&self, pod: Arc<Pod>) -> Upsert {
        let Ok(mut idx) = self.pods.write() else {
            return Upsert::Stale;
        };
        let key = pod_key(&pod);
        if let Some(cur) = idx.by_key.get(&key)
            && cur.metadata.uid == pod.metadata.uid
            && rv_num(pod.metadata.resource_version.as_ref())
                < rv_num(cur.metadata.resource_version.as_ref())
        {
            return Upsert::Stale;
        }
        let old = idx.by_key.insert(key, pod.clone());
        if let Some(o) = &old {
            idx.unlink(o);
        }
        idx.link(&pod);
        match old {
            Some(o) => Upsert::Replaced(o),
            None => Upsert::Added,
        }
    }

    fn remove_pod(&self, key: &str) -> Option<Arc<Pod>> {
        let mut idx = self.pods.write().ok()?;
        let old = idx.by_key.remove(key)?;
        idx.unlink(&old);
        Some(old)
    }

    fn pod_keys(&self) -> Vec<String> {
        self.pods
            .read()
            .map(|p| p.by_key.keys().cloned().collect())
            .unwrap_or_default()
    }
}

impl Context {
    /// The Job a controller reference points to, if it is in the cache with that UID.
    fn resolve_controller_ref(&self, ns: &str, pod: &Pod) -> Option<Arc<Job>> {
        let r = pods::job_controller_of(pod)?;
        let job = self.cache.job(&format!("{ns}/{}", r.name))?;
        (job.metadata.uid.as_deref() == Some(r.uid.as_str())).then_some(job)
    }

    fn on_pod_add(&self, pod: &Pod) {
        if pods::is_deleting(pod) {
            self.on_pod_delete(pod, false);
            return;
        }
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        if controller_uid(pod).is_some() {
            if let Some(job) = self.resolve_controller_ref(ns, pod) {
                let key = job_key(&job);
                self.expectations.creation_observed(&key);
                self.queue.add(&key);
            }
            return;
        }
        if pods::has_tracking_finalizer(pod) {
            self.orphan_queue.add(&pod_key(pod));
        }
        for job in self.cache.jobs_selecting(ns, pod) {
            self.queue.add(&job_key(&job));
        }
    }

    fn on_pod_update(&self, old: &Pod, cur: &Pod) {
        if old.metadata.resource_version == cur.metadata.resource_version {
            return;
        }
        if pods::is_deleting(cur) {
            self.on_pod_delete(cur, false);
            return;
        }
        let ns = cur.metadata.namespace.as_deref().unwrap_or_default();
        let finalizer_removed = !pods::has_tracking_finalizer(cur);
        let uid = pods::uid(cur);
        let old_ref = pods::job_controller_of(old).map(|r| r.uid.clone());
        let cur_ref = pods::job_controller_of(cur).map(|r| r.uid.clone());
        let changed = old_ref != cur_ref || controller_uid(old) != controller_uid(cur);
        if changed
            && old_ref.is_some()
            && let Some(job) = self.resolve_controller_ref(ns, old)
        {
            let key = job_key(&job);
            if finalizer_removed {
                self.finalizer_expectations.removal_observed(&key, uid);
            }
            self.queue.add(&key);
        }
        if controller_uid(cur).is_some() {
            if let Some(job) = self.resolve_controller_ref(ns, cur) {
                let key = job_key(&job);
                if finalizer_removed {
                    self.finalizer_expectations.removal_observed(&key, uid);
                }
                self.queue.add(&key);
            }
            return;
        }
        if pods::has_tracking_finalizer(cur) {
            self.orphan_queue.add(&pod_key(cur));
        }
        if changed || old.metadata.labels != cur.metadata.labels {
            for job in self.cache.jobs_selecting(ns, cur) {
                self.queue.add(&job_key(&job));
            }
        }
    }

    fn on_pod_delete(&self, pod: &Pod, fin: bool) {
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let has_finalizer = pods::has_tracking_finalizer(pod);
        if controller_uid(pod).is_none() {
            if has_finalizer {
                self.orphan_queue.add(&pod_key(pod));
            }
            return;
        }
        let job = self.resolve_controller_ref(ns, pod);
        let Some(job) = job.filter(|j| !super::sync::is_finished(j)) else {
            if has_finalizer {
                self.orphan_queue.add(&pod_key(pod));
            }
            return;
        };
        let key = job_key(&job);
        self.expectations.deletion_observed(&key);
        if fin || !has_finalizer {
            self.finalizer_expectations
                .removal_observed(&key, pods::uid(pod));
        }
        self.queue.add(&key);
    }

    fn on_job_upsert(&self, job: Job) {
        let key = job_key(&job);
        let cur = Arc::new(job);
        let old = self.cache.upsert_job((*cur).clone());
        self.queue.add(&key);
        let Some(old) = old else {
            return;
        };
        if super::sync::is_finished(&cur) {
            self.cleanup_pod_finalizers(&cur);
        }
        // A changed activeDeadlineSeconds needs its own timer (upstream updateJob).
        let ads = |j: &Job| j.spec.as_ref().and_then(|s| s.active_deadline_seconds);
        if let (Some(start), Some(new_ads)) = (
            cur.status.as_ref().and_then(|s| s.start_time.as_ref()),
            ads(&cur),
        ) && ads(&old) != Some(new_ads)
        {
            let passed = self.clock.now_millis() - start.0.as_millisecond();
            self.queue
                .add_after(&key, new_ads.saturating_mul(1000) - passed);
        }
    }

    fn on_job_delete(&self, job: &Job) {
        let key = job_key(job);
        self.cache.remove_job(&key);
        self.queue.add(&key);
        self.cleanup_pod_finalizers(job);
    }

    /// Queues every pod of `job` that still has the tracking finalizer for finalizer removal.
    fn cleanup_pod_finalizers(&self, job: &Job) {
        let uid = job.metadata.uid.as_deref().unwrap_or_default();
        for p in self.cache.live_pods(uid) {
            if pods::has_tracking_finalizer(&p) {
                self.orphan_queue.add(&pod_key(&p));
            }
        }
    }

    fn apply_pod(&self, pod: Arc<Pod>) {
        match self.cache.upsert_pod(pod.clone()) {
            Upsert::Added => self.on_pod_add(&pod),
            Upsert::Replaced(old) => self.on_pod_update(&old, &pod),
            Upsert::Stale => {}
        }
    }

    fn delete_pod(&self, pod: Arc<Pod>) {
        let key = pod_key(&pod);
        let old = self.cache.remove_pod(&key);
        self.on_pod_delete(old.as_deref().unwrap_or(&pod), true);
    }
}

/// Runs the Job watch until the stream ends; marks the cache synced after the first list.
pub async fn watch_jobs(ctx: Arc<Context>) {
    let api: Api<Job> = Api::all(ctx.client.clone());
    let mut stream = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut init: Option<HashMap<String, Job>> = None;
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(Event::Apply(j)) => ctx.on_job_upsert(j),
            Ok(Event::Delete(j)) => ctx.on_job_delete(&j),
            Ok(Event::Init) => init = Some(HashMap::new()),
            Ok(Event::InitApply(j)) => {
                if let Some(b) = init.as_mut() {
                    b.insert(job_key(&j), j);
                }
            }
            Ok(Event::InitDone) => {
                let listed = init.take().unwrap_or_default();
                for key in ctx.cache.job_keys() {
                    if !listed.contains_key(&key)
                        && let Some(old) = ctx.cache.job(&key)
                    {
                        ctx.on_job_delete(&old);
                    }
                }
                for (_, j) in listed {
                    ctx.on_job_upsert(j);
                }
                ctx.jobs_synced.send_replace(true);
            }
            Err(e) => tracing::warn!(error = %e, "job watch failed"),
        }
    }
}

/// Runs the Pod watch until the stream ends; marks the cache synced after the first list.
pub async fn watch_pods(ctx: Arc<Context>, pods: PodSource) {
    let mut stream = pods.into_stream();
    let mut init: Option<HashMap<String, Arc<Pod>>> = None;
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(Event::Apply(p)) => ctx.apply_pod(p),
            Ok(Event::Delete(p)) => ctx.delete_pod(p),
            Ok(Event::Init) => init = Some(HashMap::new()),
            Ok(Event::InitApply(p)) => {
                if let Some(b) = init.as_mut() {
                    b.insert(pod_key(&p), p);
                }
            }
            Ok(Event::InitDone) => {
                let listed = init.take().unwrap_or_default();
                for key in ctx.cache.pod_keys() {
                    if !listed.contains_key(&key)
                        && let Some(old) = ctx.cache.pod(&key)
                    {
                        ctx.delete_pod(old);
                    }
                }
                for (_, p) in listed {
                    ctx.apply_pod(p);
                }
                ctx.pods_synced.send_replace(true);
            }
            Err(e) => tracing::warn!(error = %e, "pod watch failed"),
        }
    }
}
