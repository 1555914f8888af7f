//! Events about pods (`Started`, `Killing`, `BackOff`, `Failed`...), written by one owned task so
//! recording never blocks a pod and a burst costs at most a bounded queue. The task writes at
//! most the kubelet's `--event-qps` a second (bursts of `--event-burst`), and what does not fit
//! in the queue meanwhile is dropped, as upstream's (see [`runlet_client::rate`]).
//!
//! As upstream's event recorder (client-go's `EventCorrelator`), an event identical to one
//! already written (same source, object, type, reason and message: a crash-looping container's
//! `BackOff`, a retried `Failed`) is not written again: the first one's `count` and
//! `lastTimestamp` are patched, so `kubectl describe` shows `(x5 over 2m)` instead of a list.

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::Patch;
use runlet_api::clock::Clock;
use runlet_api::eventtype::EventType::{self, Normal};
use runlet_client::rate::Rate;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Events waiting to be written; more are dropped (and logged) rather than queued without bound.
const QUEUE: usize = runlet_client::rate::MAX_QUEUED_EVENTS;
/// Distinct events remembered for counting repeats (upstream's `maxLruCacheEntries`).
const REMEMBERED: usize = 4096;

/// An event written before, which a repeat is counted on.
struct Written {
    name: String,
    count: i64,
    /// When it was last recorded, to forget the least recently recorded first.
    touched: u64,
}

/// The events written so far, by upstream's `getEventKey`, least recently recorded forgotten
/// first.
#[derive(Default)]
struct Repeats {
    written: HashMap<String, Written>,
    /// (touched, key) in the order recorded; stale pairs (touched since) are skipped.
    order: VecDeque<(u64, String)>,
    clock: u64,
}

impl Repeats {
    /// The key of identical events: source, involved object, type, reason and message.
    fn key(ev: &Value) -> String {
        let o = &ev["involvedObject"];
        [
            &ev["source"]["component"],
            &ev["source"]["host"],
            &o["kind"],
            &o["namespace"],
            &o["name"],
            &o["fieldPath"],
            &o["uid"],
            &o["apiVersion"],
            &ev["type"],
            &ev["reason"],
            &ev["message"],
        ]
        .iter()
        .map(|v| v.as_str().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\u{0}")
    }

    /// The event `key` was written as, counting this repeat.
    fn repeat(&mut self, key: &str) -> Option<(String, i64)> {
        self.clock += 1;
        let w = self.written.get_mut(key)?;
        w.count += 1;
        w.touched = self.clock;
        self.order.push_back((self.clock, key.to_string()));
        let found = (w.name.clone(), w.count);
        self.trim();
        Some(found)
    }

    fn remember(&mut self, key: String, name: String) {
        self.clock += 1;
        self.order.push_back((self.clock, key.clone()));
        self.written.insert(
            key,
            Written {
                name,
                count: 1,
                touched: self.clock,
            },
        );
        self.trim();
    }

    fn forget(&mut self, key: &str) {
        self.written.remove(key);
    }

    fn trim(&mut self) {
        while self.written.len() > REMEMBERED || self.order.len() > 2 * REMEMBERED {
            let Some((touched, key)) = self.order.pop_front() else {
                return;
            };
            if self.written.get(&key).is_some_and(|w| w.touched == touched) {
                self.written.remove(&key);
            }
        }
    }
}

/// Writes `ev`, or counts it on the identical event written before.
async fn record(client: &kube::Client, repeats: &mut Repeats, ev: &Value) {
    let ns = ev["metadata"]["namespace"].as_str().unwrap_or("default");
    let key = Repeats::key(ev);
    if let Some((name, count)) = repeats.repeat(&key) {
        let patch = json!({"count": count, "lastTimestamp": ev["lastTimestamp"]});
        match runlet_client::patch_event(client, ns, &name, &Patch::Merge(&patch)).await {
            Ok(_) => return,
            // Gone (deleted, or the store was reset): write it anew.
            Err(err) => {
                tracing::debug!(error = %err, "counting a repeated event");
                repeats.forget(&key);
            }
        }
    }
    match runlet_client::create_event(client, ns, ev).await {
        Ok(meta) => {
            if let Some(name) = meta.name {
                repeats.remember(key, name);
            }
        }
        Err(err) => tracing::debug!(error = %err, "writing an event"),
    }
}

/// A handle to record events.
#[derive(Clone)]
pub struct EventSink {
    tx: mpsc::Sender<Value>,
    clock: Arc<dyn Clock>,
    component: String,
    host: String,
}

impl EventSink {
    /// Starts the writer, which writes at most at `rate`; it stops when `cancel` fires or every
    /// sink is dropped.
    pub fn start(
        client: kube::Client,
        clock: Arc<dyn Clock>,
        component: &str,
        host: &str,
        rate: Rate,
        cancel: CancellationToken,
    ) -> (EventSink, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<Value>(QUEUE);
        let task = tokio::spawn(async move {
            let mut repeats = Repeats::default();
            let limiter = rate.limiter();
            while let Some(ev) = limiter.next(&mut rx, &cancel).await {
                record(&client, &mut repeats, &ev).await;
            }
        });
        (
            EventSink {
                tx,
                clock,
                component: component.to_string(),
                host: host.to_string(),
            },
            task,
        )
    }

    /// Records an event about `pod` (`field_path` like `spec.containers{c}`).
    pub fn pod(
        &self,
        pod: &Pod,
        type_: EventType,
        reason: &str,
        message: &str,
        field_path: Option<&str>,
    ) {
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let involved = || {
            let mut involved = json!({
                "kind": "Pod",
                "apiVersion": "v1",
                "namespace": ns,
                "name": pod.metadata.name.as_deref().unwrap_or_default(),
                "uid": pod.metadata.uid.as_deref().unwrap_or_default(),
            });
            if let Some(fp) = field_path {
                involved["fieldPath"] = json!(fp);
            }
            involved
        };
        self.object(ns, involved, &self.component, type_, reason, message);
    }

    /// Records an event about the claim `pvc` from `component` (the local-path provisioner
    /// names itself, as an external provisioner's events do).
    pub fn claim(&self, pvc: &PersistentVolumeClaim, component: &str, reason: &str, message: &str) {
        let ns = pvc.metadata.namespace.as_deref().unwrap_or_default();
        let involved = || {
            json!({
                "kind": "PersistentVolumeClaim",
                "apiVersion": "v1",
                "namespace": ns,
                "name": pvc.metadata.name,
                "uid": pvc.metadata.uid,
                "resourceVersion": pvc.metadata.resource_version,
            })
        };
        self.object(ns, involved, component, Normal, reason, message);
    }

    /// Records an event about the node `name` (in `default`, with the node's name as its UID,
    /// as the kubelet's node reference has it).
    pub fn node(&self, name: &str, type_: EventType, reason: &str, message: &str) {
        let involved = || json!({"kind": "Node", "name": name, "uid": name});
        self.object("default", involved, &self.component, type_, reason, message);
    }

    /// Queues an event about the object `involved` makes, or drops it, unmade, when the queue
    /// is full: a burst of pods past the rate costs no event objects.
    fn object(
        &self,
        ns: &str,
        involved: impl FnOnce() -> Value,
        component: &str,
        type_: EventType,
        reason: &str,
        message: &str,
    ) {
        let Ok(slot) = self.tx.try_reserve() else {
            tracing::debug!(reason, "event queue full; event dropped");
            return;
        };
        let involved = involved();
        let name = involved["name"].as_str().unwrap_or_default();
        let now = runlet_api::clock::rfc3339(self.clock.now_unix());
        slot.send(json!({
            "metadata": {"name": runlet_api::clock::event_name(name), "namespace": ns},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": type_.as_str(),
            "source": {"component": component, "host": self.host},
            "reportingComponent": component,
            "reportingInstance": self.host,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn event(reason: &str, message: &str) -> Value {
        json!({"involvedObject": {"kind": "Pod", "namespace": "default", "name": "p", "uid": "u"},
            "source": {"component": "kubelet", "host": "n"}, "type": "Warning",
            "reason": reason, "message": message})
    }

    #[test]
    fn an_identical_event_is_counted_on_the_first_and_a_different_one_is_not() {
        let mut r = Repeats::default();
        let backoff = Repeats::key(&event("BackOff", "Back-off restarting failed container c"));
        assert_eq!(r.repeat(&backoff), None);
        r.remember(backoff.clone(), "p.1".into());
        assert_eq!(r.repeat(&backoff), Some(("p.1".into(), 2)));
        assert_eq!(r.repeat(&backoff), Some(("p.1".into(), 3)));
        let other = Repeats::key(&event("BackOff", "another message"));
        assert_eq!(r.repeat(&other), None);
    }

    #[tokio::test]
    async fn events_beyond_the_burst_are_written_at_the_rate() {
        use k8s_openapi::api::core::v1::Event;
        let api = runlet_test::TestApi::start().await;
        let (sink, _writer) = EventSink::start(
            api.client.clone(),
            api.clock.clone(),
            "kubelet",
            "n1",
            Rate { qps: 4, burst: 2 },
            CancellationToken::new(),
        );
        let start = std::time::Instant::now();
        for n in 0..6 {
            sink.node("n1", Normal, "Tested", &format!("event {n}"));
        }
        let events: kube::Api<Event> = kube::Api::namespaced(api.client.clone(), "default");
        let deadline = start + std::time::Duration::from_secs(20);
        while events.list(&Default::default()).await.unwrap().items.len() < 6 {
            assert!(
                std::time::Instant::now() < deadline,
                "six events not written"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // Two at once, then four at four a second: the sixth a second after the first.
        let took = start.elapsed();
        assert!(
            took >= std::time::Duration::from_millis(950),
            "written in {took:?}"
        );
    }

    #[test]
    fn the_least_recently_recorded_event_is_forgotten_first() {
        let mut r = Repeats::default();
        r.remember("first".into(), "e0".into());
        for n in 1..REMEMBERED {
            r.remember(format!("k{n}"), format!("e{n}"));
        }
        // Recording "first" again makes "k1" the least recent.
        assert!(r.repeat("first").is_some());
        r.remember("newest".into(), "new".into());
        assert!(r.repeat("first").is_some());
        assert_eq!(r.repeat("k1"), None);
        assert!(r.repeat("k2").is_some());
        assert!(r.written.len() <= REMEMBERED && r.order.len() <= 2 * REMEMBERED);
    }
}
