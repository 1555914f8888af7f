//! Events about Jobs, written as core/v1 Events with the Job as `involvedObject` so that
//! `kubectl describe job` (which lists events by `involvedObject.uid` etc.) shows them.
//!
//! Recording never blocks the controller: [`Recorder::event`] hands the event to a bounded
//! channel (dropping it when full, as client-go's broadcaster does), and one writer task
//! correlates and writes them concurrently. Correlation follows client-go's `EventCorrelator`:
//! an identical event bumps `count` and `lastTimestamp` of the first one; more than 10 similar
//! events (same object, type, reason) within 10 minutes are combined into one
//! `(combined from similar events): ...` event, whose message follows the latest of them; and a token bucket (burst 25, one token per
//! 5 minutes) limits writes. Deviation: the bucket is kept per object *and reason* rather than
//! per object, so a Job that created thousands of pods still gets its `Completed` event.

use futures::future::join_all;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams};
use runlet_api::clock::Clock;
use runlet_api::eventtype::EventType;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The component name upstream's Job controller reports.
pub const COMPONENT: &str = "job-controller";
const QUEUE: usize = 4096;
const SIMILAR_MAX: u32 = 10;
const SIMILAR_WINDOW_MILLIS: i64 = 600_000;
const SPAM_BURST: f64 = 25.0;
const SPAM_REFILL_PER_MILLI: f64 = 1.0 / 300_000.0;

struct Pending {
    object: ObjectReference,
    type_: EventType,
    reason: String,
    message: String,
    at_millis: i64,
}

/// Where events are recorded. Cloning is cheap.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Pending>,
    clock: Arc<dyn Clock>,
}

impl Recorder {
    /// A recorder and the writer loop that must be spawned (it ends when every recorder is gone).
    pub fn new(
        client: kube::Client,
        clock: Arc<dyn Clock>,
    ) -> (Recorder, impl std::future::Future<Output = ()> + Send) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let writer = write_loop(client, clock.clone(), rx);
        (Recorder { tx, clock }, writer)
    }

    /// Records an event about `job`; never waits.
    pub fn event(&self, job: &Job, type_: EventType, reason: &str, message: impl Into<String>) {
        let object = ObjectReference {
            api_version: Some("batch/v1".into()),
            kind: Some("Job".into()),
            name: job.metadata.name.clone(),
            namespace: job.metadata.namespace.clone(),
            uid: job.metadata.uid.clone(),
            resource_version: job.metadata.resource_version.clone(),
            ..Default::default()
        };
        let _ = self.tx.try_send(Pending {
            object,
            type_,
            reason: reason.to_string(),
            message: message.into(),
            at_millis: self.clock.now_millis(),
        });
    }
}

/// State of one written event, to bump its count.
struct Written {
    name: String,
    namespace: String,
    count: i32,
    first_millis: i64,
}

struct Similar {
    count: u32,
    first_millis: i64,
}

struct Bucket {
    tokens: f64,
    at_millis: i64,
}

impl Bucket {
    /// Its tokens at `now`, refilled since it was last used, up to the burst.
    fn level(&self, now: i64) -> f64 {
        (self.tokens + (now - self.at_millis).max(0) as f64 * SPAM_REFILL_PER_MILLI).min(SPAM_BURST)
    }
}

/// How often spam-filter buckets are looked through for ones to forget.
const BUCKET_PRUNE_MILLIS: i64 = 60_000;

enum Write {
    Create(Box<Event>),
    /// A repeat of an event written before: its count, time and message (a combined event's
    /// names the latest of those it stands for), as client-go's `eventObserve` patches them.
    Bump {
        namespace: String,
        name: String,
        count: i32,
        last_millis: i64,
        message: String,
    },
}

fn time(ms: i64) -> Option<Time> {
    k8s_openapi::jiff::Timestamp::from_millisecond(ms)
        .ok()
        .map(Time)
}

async fn write_loop(client: kube::Client, clock: Arc<dyn Clock>, mut rx: mpsc::Receiver<Pending>) {
    let mut written: HashMap<String, Written> = HashMap::new();
    let mut similar: HashMap<String, Similar> = HashMap::new();
    let mut buckets: HashMap<String, Bucket> = HashMap::new();
    let mut last_prune = clock.now_millis();
    let mut buf = Vec::with_capacity(256);
    while rx.recv_many(&mut buf, 256).await > 0 {
        let now = clock.now_millis();
        let mut writes = Vec::new();
        for p in buf.drain(..) {
            let obj_key = format!(
                "{}/{}/{}",
                p.object.namespace.as_deref().unwrap_or_default(),
                p.object.name.as_deref().unwrap_or_default(),
                p.object.uid.as_deref().unwrap_or_default()
            );
            let similar_key = format!("{obj_key}/{}/{}", p.type_.as_str(), p.reason);
            let s = similar.entry(similar_key.clone()).or_insert(Similar {
                count: 0,
                first_millis: p.at_millis,
            });
            if p.at_millis - s.first_millis > SIMILAR_WINDOW_MILLIS {
                *s = Similar {
                    count: 0,
                    first_millis: p.at_millis,
                };
            }
            s.count += 1;
            let (message, exact_key) = if s.count > SIMILAR_MAX {
                (
                    format!("(combined from similar events): {}", p.message),
                    format!("{similar_key}/combined"),
                )
            } else {
                (p.message.clone(), format!("{similar_key}/{}", p.message))
            };
            // Spam filter: a token bucket per object and reason.
            let b = buckets.entry(similar_key).or_insert(Bucket {
                tokens: SPAM_BURST,
                at_millis: now,
            });
            b.tokens = b.level(now);
            b.at_millis = now;
            if b.tokens < 1.0 {
                continue;
            }
            b.tokens -= 1.0;
            match written.get_mut(&exact_key) {
                Some(w) if p.at_millis - w.first_millis <= SIMILAR_WINDOW_MILLIS => {
                    w.count += 1;
                    writes.push(Write::Bump {
                        namespace: w.namespace.clone(),
                        name: w.name.clone(),
                        count: w.count,
                        last_millis: p.at_millis,
                        message,
                    });
                }
                _ => {
                    let namespace = p.object.namespace.clone().unwrap_or_default();
                    let name = format!(
                        "{}.{:x}",
                        p.object.name.as_deref().unwrap_or_default(),
                        p.at_millis.max(0) as u128 * 1_000_000 + written.len() as u128
                    );
                    written.insert(
                        exact_key,
                        Written {
                            name: name.clone(),
                            namespace: namespace.clone(),
                            count: 1,
                            first_millis: p.at_millis,
                        },
                    );
                    writes.push(Write::Create(Box::new(Event {
                        metadata: ObjectMeta {
                            name: Some(name),
                            namespace: Some(namespace),
                            ..Default::default()
                        },
                        involved_object: p.object,
                        reason: Some(p.reason),
                        message: Some(message),
                        source: Some(EventSource {
                            component: Some(COMPONENT.into()),
                            host: None,
                        }),
                        first_timestamp: time(p.at_millis),
                        last_timestamp: time(p.at_millis),
                        count: Some(1),
                        type_: Some(p.type_.as_str().into()),
                        reporting_component: Some(COMPONENT.into()),
                        reporting_instance: Some(String::new()),
                        ..Default::default()
                    })));
                }
            }
        }
        // Forget old correlation state so memory stays bounded.
        written.retain(|_, w| now - w.first_millis <= SIMILAR_WINDOW_MILLIS);
        similar.retain(|_, s| now - s.first_millis <= SIMILAR_WINDOW_MILLIS);
        // A bucket that has refilled is as good as none: forget it, or one would stay for
        // every Job there ever was.
        if now - last_prune >= BUCKET_PRUNE_MILLIS {
            buckets.retain(|_, b| b.level(now) < SPAM_BURST);
            last_prune = now;
        }
        join_all(writes.into_iter().map(|w| write(&client, w))).await;
    }
}

async fn write(client: &kube::Client, w: Write) {
    let result = match w {
        Write::Create(ev) => {
            let ns = ev.metadata.namespace.clone().unwrap_or_default();
            runlet_client::create_event(client, &ns, &ev)
                .await
                .map(|_| ())
        }
        Write::Bump {
            namespace,
            name,
            count,
            last_millis,
            message,
        } => {
            let patch = serde_json::json!({
                "count": count,
                "lastTimestamp": time(last_millis),
                "message": message,
            });
            Api::<Event>::namespaced(client.clone(), &namespace)
                .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                .await
                .map(|_| ())
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "writing event failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refills_a_token_in_five_minutes_up_to_the_burst() {
        let b = Bucket {
            tokens: 0.0,
            at_millis: 1_000,
        };
        assert_eq!(b.level(1_000), 0.0);
        assert!((b.level(301_000) - 1.0).abs() < 1e-9);
        assert_eq!(
            b.level(1_000 + 300_000 * 100),
            SPAM_BURST,
            "full, and so forgotten at the next prune"
        );
    }
}
