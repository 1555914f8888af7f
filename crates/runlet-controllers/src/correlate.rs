//! client-go's `EventCorrelator`, for the controllers that record many events about one object
//! (the Job and the CronJob controllers): an identical event bumps `count` and `lastTimestamp`
//! of the first one; more than 10 similar events (same object, type, reason) within 10 minutes
//! are combined into one `(combined from similar events): ...` event, whose message follows the
//! latest of them; and a token bucket (burst 25, one token per 5 minutes) limits writes.
//! Deviation: the bucket is kept per object *and reason* rather than per object, so a Job that
//! created thousands of pods still gets its `Completed` event, and a CronJob that ran for days
//! still tells of a missed schedule.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams};
use runlet_api::eventtype::EventType;
use std::collections::HashMap;

const SIMILAR_MAX: u32 = 10;
const SIMILAR_WINDOW_MILLIS: i64 = 600_000;
const SPAM_BURST: f64 = 25.0;
const SPAM_REFILL_PER_MILLI: f64 = 1.0 / 300_000.0;
/// How often spam-filter buckets are looked through for ones to forget.
const BUCKET_PRUNE_MILLIS: i64 = 60_000;

/// An event to record.
pub struct Pending {
    pub object: ObjectReference,
    pub type_: EventType,
    pub reason: String,
    pub message: String,
    pub at_millis: i64,
}

/// What recording an event takes.
pub enum Write {
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

/// What one component's recorder remembers of the events it let through.
pub struct Correlator {
    component: &'static str,
    written: HashMap<String, Written>,
    similar: HashMap<String, Similar>,
    buckets: HashMap<String, Bucket>,
    last_prune: i64,
}

impl Correlator {
    /// A correlator for the events of `component` (their `source` and `reportingComponent`).
    pub fn new(component: &'static str, now_millis: i64) -> Self {
        Correlator {
            component,
            written: HashMap::new(),
            similar: HashMap::new(),
            buckets: HashMap::new(),
            last_prune: now_millis,
        }
    }

    /// The write that records `p` at `now`: a new Event, a bump of one written before, or
    /// none when the spam filter holds it back.
    pub fn observe(&mut self, p: Pending, now: i64) -> Option<Write> {
        let obj_key = format!(
            "{}/{}/{}",
            p.object.namespace.as_deref().unwrap_or_default(),
            p.object.name.as_deref().unwrap_or_default(),
            p.object.uid.as_deref().unwrap_or_default()
        );
        let similar_key = format!("{obj_key}/{}/{}", p.type_.as_str(), p.reason);
        let s = self.similar.entry(similar_key.clone()).or_insert(Similar {
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
        let b = self.buckets.entry(similar_key).or_insert(Bucket {
            tokens: SPAM_BURST,
            at_millis: now,
        });
        b.tokens = b.level(now);
        b.at_millis = now;
        if b.tokens < 1.0 {
            return None;
        }
        b.tokens -= 1.0;
        if let Some(w) = self
            .written
            .get_mut(&exact_key)
            .filter(|w| p.at_millis - w.first_millis <= SIMILAR_WINDOW_MILLIS)
        {
            w.count += 1;
            return Some(Write::Bump {
                namespace: w.namespace.clone(),
                name: w.name.clone(),
                count: w.count,
                last_millis: p.at_millis,
                message,
            });
        }
        let namespace = p.object.namespace.clone().unwrap_or_default();
        let name = format!(
            "{}.{:x}",
            p.object.name.as_deref().unwrap_or_default(),
            p.at_millis.max(0) as u128 * 1_000_000 + self.written.len() as u128
        );
        self.written.insert(
            exact_key,
            Written {
                name: name.clone(),
                namespace: namespace.clone(),
                count: 1,
                first_millis: p.at_millis,
            },
        );
        Some(Write::Create(Box::new(Event {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(namespace),
                ..Default::default()
            },
            involved_object: p.object,
            reason: Some(p.reason),
            message: Some(message),
            source: Some(EventSource {
                component: Some(self.component.into()),
                host: None,
            }),
            first_timestamp: time(p.at_millis),
            last_timestamp: time(p.at_millis),
            count: Some(1),
            type_: Some(p.type_.as_str().into()),
            reporting_component: Some(self.component.into()),
            reporting_instance: Some(String::new()),
            ..Default::default()
        })))
    }

    /// Forgets correlation state older than its window, so memory stays bounded.
    pub fn prune(&mut self, now: i64) {
        self.written
            .retain(|_, w| now - w.first_millis <= SIMILAR_WINDOW_MILLIS);
        self.similar
            .retain(|_, s| now - s.first_millis <= SIMILAR_WINDOW_MILLIS);
        // A bucket that has refilled is as good as none: forget it, or one would stay for
        // every object there ever was.
        if now - self.last_prune >= BUCKET_PRUNE_MILLIS {
            self.buckets.retain(|_, b| b.level(now) < SPAM_BURST);
            self.last_prune = now;
        }
    }
}

fn time(ms: i64) -> Option<Time> {
    k8s_openapi::jiff::Timestamp::from_millisecond(ms)
        .ok()
        .map(Time)
}

/// Makes `w`; a failure is only logged, as client-go's recorder drops what it cannot write.
pub async fn write(client: &kube::Client, w: Write) {
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

    fn pending(reason: &str, message: &str, at_millis: i64) -> Pending {
        Pending {
            object: ObjectReference {
                name: Some("cj".into()),
                namespace: Some("ns".into()),
                uid: Some("u".into()),
                ..Default::default()
            },
            type_: EventType::Normal,
            reason: reason.into(),
            message: message.into(),
            at_millis,
        }
    }

    #[test]
    fn similar_events_are_combined_after_ten_and_held_back_after_twenty_five() {
        let mut c = Correlator::new("cronjob-controller", 0);
        let mut created = Vec::new();
        let mut bumps = 0;
        for i in 0..30 {
            match c.observe(
                pending("SuccessfulCreate", &format!("Created job j{i}"), i),
                i,
            ) {
                Some(Write::Create(e)) => created.push(e.message.unwrap_or_default()),
                Some(Write::Bump { message, .. }) => {
                    bumps += 1;
                    assert_eq!(
                        message,
                        format!("(combined from similar events): Created job j{i}")
                    );
                }
                None => {}
            }
        }
        assert_eq!(created.len(), 11, "ten, then the combined one: {created:?}");
        assert_eq!(
            created[10],
            "(combined from similar events): Created job j10"
        );
        assert_eq!(bumps, 14, "then bumps until the burst of 25 is spent");
        let other = c.observe(pending("SawCompletedJob", "Saw completed job: j0", 40), 40);
        assert!(
            matches!(other, Some(Write::Create(_))),
            "another reason has its own bucket"
        );
    }
}
