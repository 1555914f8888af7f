//! Event recording for the CronJob controller: core/v1 Events about a CronJob, shaped like
//! client-go's `record.EventRecorder` output (name `<object>.<hex nanoseconds>`, `source` and
//! `reportingComponent` `cronjob-controller`, `involvedObject` pointing at the CronJob with its
//! uid and resourceVersion), so `kubectl describe cronjob` and `kubectl get events` read them as
//! they read upstream's.
//!
//! Like client-go's correlator, a repeat of an identical event (same object, type, reason and
//! message) bumps `count` and `lastTimestamp` on the existing Event instead of adding one.
//! Recording is best effort: a failure is logged, never returned, because an event must not stop
//! a CronJob from running.

use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, Patch, PatchParams, PostParams};
use runlet_api::clock::Clock;
use runlet_api::eventtype::EventType;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// The component name upstream's CronJob controller records events as.
pub const COMPONENT: &str = "cronjob-controller";

/// Identical-event key: object uid, type, reason, message.
type Key = (String, EventType, String, String);

/// How many distinct events are remembered for aggregation (client-go's LRU holds 4096).
const MAX_REMEMBERED: usize = 4096;

/// Writes Events about CronJobs.
pub struct Recorder {
    client: kube::Client,
    clock: Arc<dyn Clock>,
    last_nanos: AtomicI64,
    seen: Mutex<HashMap<Key, (String, i32)>>,
}

impl Recorder {
    /// A recorder writing through `client`, stamping times from `clock`.
    pub fn new(client: kube::Client, clock: Arc<dyn Clock>) -> Self {
        Recorder {
            client,
            clock,
            last_nanos: AtomicI64::new(0),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// A unique, increasing nanosecond stamp for event names (the fake clock repeats itself).
    fn stamp(&self) -> i64 {
        let now = self.clock.now_millis().saturating_mul(1_000_000);
        let mut prev = self.last_nanos.load(Ordering::SeqCst);
        loop {
            let next = now.max(prev.saturating_add(1));
            match self
                .last_nanos
                .compare_exchange(prev, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return next,
                Err(p) => prev = p,
            }
        }
    }

    /// Records an event about `cj`.
    pub async fn event(&self, cj: &CronJob, ty: EventType, reason: &str, message: String) {
        let namespace = cj.metadata.namespace.clone().unwrap_or_default();
        let name = cj.metadata.name.clone().unwrap_or_default();
        let uid = cj.metadata.uid.clone().unwrap_or_default();
        tracing::debug!(cronjob = %format!("{namespace}/{name}"), reason, %message, "event");
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let now = runlet_api::cronjob::to_time(
            chrono::DateTime::from_timestamp_millis(self.clock.now_millis()).unwrap_or_default(),
        );
        let key: Key = (uid.clone(), ty, reason.to_string(), message.clone());
        let repeat = self.seen.lock().ok().and_then(|m| m.get(&key).cloned());
        if let Some((event_name, count)) = repeat {
            let patch = serde_json::json!({"count": count + 1, "lastTimestamp": now});
            let patched = api
                .patch(&event_name, &PatchParams::default(), &Patch::Merge(&patch))
                .await;
            if patched.is_ok() {
                self.remember(key, event_name, count + 1);
                return;
            }
        }
        let mut event = Event {
            metadata: ObjectMeta {
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some("batch/v1".into()),
                kind: Some("CronJob".into()),
                name: Some(name.clone()),
                namespace: Some(namespace),
                uid: Some(uid),
                resource_version: cj.metadata.resource_version.clone(),
                ..ObjectReference::default()
            },
            reason: Some(reason.to_string()),
            message: Some(message),
            type_: Some(ty.as_str().to_string()),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            count: Some(1),
            source: Some(EventSource {
                component: Some(COMPONENT.into()),
                host: None,
            }),
            reporting_component: Some(COMPONENT.into()),
            event_time: None::<MicroTime>,
            ..Event::default()
        };
        // A name clash (another recorder at the same instant) gets a fresh stamp.
        for _ in 0..3 {
            event.metadata.name = Some(format!("{name}.{:x}", self.stamp()));
            match api.create(&PostParams::default(), &event).await {
                Ok(created) => {
                    let event_name = created.metadata.name.unwrap_or_default();
                    self.remember(key, event_name, 1);
                    return;
                }
                Err(kube::Error::Api(s)) if s.is_already_exists() => {}
                Err(e) => {
                    tracing::warn!(error = %e, reason, "could not record event");
                    return;
                }
            }
        }
        tracing::warn!(reason, "could not record event: name clash");
    }

    fn remember(&self, key: Key, name: String, count: i32) {
        if let Ok(mut m) = self.seen.lock() {
            if m.len() >= MAX_REMEMBERED && !m.contains_key(&key) {
                m.clear();
            }
            m.insert(key, (name, count));
        }
    }
}
