//! client-go's `EventCorrelator`, for the controllers that record many events about one object
//! (the Job and the CronJob controllers): an identical event bumps `count` and `lastTimestamp`
//! of the first one (`eventObserve`; made again if it is gone, expired); once similar events
//! (same object, type, reason), each within 10 minutes of the one before, have said 10
//! different things, they are combined into one `(combined from similar events): ...` event,
//! whose message follows the latest of them (`EventAggregate`); and a token bucket (burst 25,
//! one token per 5 minutes) limits writes. Deviation: the bucket is kept per object *and
//! reason* rather than per object, so a Job that created thousands of pods still gets its
//! `Completed` event, and a CronJob that ran for days still tells of a missed schedule.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams};
use runlet_api::eventtype::EventType;
use std::collections::{HashMap, HashSet};

/// How many different messages similar events may say before they are combined
/// (`defaultAggregateMaxEvents`), and how long a lull forgets them.
const SIMILAR_MAX: usize = 10;
const SIMILAR_WINDOW_MILLIS: i64 = 600_000;
const SPAM_BURST: f64 = 25.0;
const SPAM_REFILL_PER_MILLI: f64 = 1.0 / 300_000.0;
/// How often spam-filter buckets are looked through for ones to forget.
const BUCKET_PRUNE_MILLIS: i64 = 60_000;
/// How many written events are remembered to bump (client-go's LRU holds 4096).
const MAX_REMEMBERED: usize = 4096;

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
    /// A repeat of an event written before, as it is now: its count, time and message (a
    /// combined event's names the latest of those it stands for) patched, as client-go's
    /// `eventObserve` patches them, or the whole of it made again when it is gone.
    Bump(Box<Event>),
}

impl Write {
    /// The name of the Event it writes: the writes of one Event must go in order.
    pub fn event_name(&self) -> &str {
        let (Write::Create(e) | Write::Bump(e)) = self;
        e.metadata.name.as_deref().unwrap_or_default()
    }
}

/// One written event, to bump its count.
struct Written {
    name: String,
    count: i32,
    first_millis: i64,
}

/// Similar events (client-go's `aggregateRecord`): the different messages they said, and
/// when the latest came.
struct Similar {
    messages: HashSet<String>,
    last_millis: i64,
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
    /// How many events it made, which keeps names unique within a millisecond.
    created: u64,
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
            created: 0,
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
        let (message, exact_key) = if self.is_combined(&similar_key, &p) {
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
        let repeat = self.written.contains_key(&exact_key);
        if !repeat && self.written.len() >= MAX_REMEMBERED {
            self.written.clear();
        }
        let created = self.created;
        let written = self
            .written
            .entry(exact_key)
            .and_modify(|w| w.count += 1)
            .or_insert_with(|| Written {
                // Named only when made: a repeat keeps the first one's name.
                name: format!(
                    "{}.{:x}",
                    p.object.name.as_deref().unwrap_or_default(),
                    p.at_millis.max(0) as u128 * 1_000_000 + u128::from(created)
                ),
                count: 1,
                first_millis: p.at_millis,
            });
        if !repeat {
            self.created += 1;
        }
        let event = Box::new(Event {
            metadata: ObjectMeta {
                name: Some(written.name.clone()),
                namespace: p.object.namespace.clone(),
                ..Default::default()
            },
            involved_object: p.object,
            reason: Some(p.reason),
            message: Some(message),
            source: Some(EventSource {
                component: Some(self.component.into()),
                host: None,
            }),
            first_timestamp: time(written.first_millis),
            last_timestamp: time(p.at_millis),
            count: Some(written.count),
            type_: Some(p.type_.as_str().into()),
            reporting_component: Some(self.component.into()),
            reporting_instance: Some(String::new()),
            ..Default::default()
        });
        Some(if repeat {
            Write::Bump(event)
        } else {
            Write::Create(event)
        })
    }

    /// Whether `p` is to be combined with the similar events before it, as `EventAggregate`
    /// decides: when they have said 10 different things, one of which then leaves the set.
    fn is_combined(&mut self, similar_key: &str, p: &Pending) -> bool {
        let s = self
            .similar
            .entry(similar_key.to_string())
            .or_insert_with(|| Similar {
                messages: HashSet::new(),
                last_millis: p.at_millis,
            });
        if p.at_millis - s.last_millis > SIMILAR_WINDOW_MILLIS {
            s.messages.clear();
        }
        s.last_millis = p.at_millis;
        s.messages.insert(p.message.clone());
        if s.messages.len() < SIMILAR_MAX {
            return false;
        }
        if let Some(any) = s.messages.iter().next().cloned() {
            s.messages.remove(&any);
        }
        true
    }

    /// Forgets similar events past their window and full spam buckets, so memory stays
    /// bounded.
    pub fn prune(&mut self, now: i64) {
        self.similar
            .retain(|_, s| now - s.last_millis <= SIMILAR_WINDOW_MILLIS);
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
        Write::Bump(ev) => {
            let ns = ev.metadata.namespace.clone().unwrap_or_default();
            let name = ev.metadata.name.clone().unwrap_or_default();
            let patch = serde_json::json!({
                "count": ev.count,
                "lastTimestamp": ev.last_timestamp,
                "message": ev.message,
            });
            let patched = Api::<Event>::namespaced(client.clone(), &ns)
                .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                .await;
            match patched {
                // Gone (expired): made again, as client-go's `recordEvent` does.
                Err(kube::Error::Api(e)) if e.code == 404 => {
                    runlet_client::create_event(client, &ns, &ev)
                        .await
                        .map(|_| ())
                }
                other => other.map(|_| ()),
            }
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
    fn similar_events_are_combined_at_the_tenth_message_and_held_back_after_twenty_five() {
        let mut c = Correlator::new("cronjob-controller", 0);
        let mut created = Vec::new();
        let mut bumps = Vec::new();
        for i in 0..30 {
            match c.observe(
                pending("SuccessfulCreate", &format!("Created job j{i}"), i),
                i,
            ) {
                Some(Write::Create(e)) => created.push(e.message.unwrap_or_default()),
                Some(Write::Bump(e)) => bumps.push((e.message.unwrap_or_default(), e.count)),
                None => {}
            }
        }
        assert_eq!(
            created.len(),
            10,
            "nine, then the combined one: {created:?}"
        );
        assert_eq!(created[9], "(combined from similar events): Created job j9");
        assert_eq!(bumps.len(), 15, "then bumps until the burst of 25 is spent");
        assert_eq!(
            bumps[14],
            (
                "(combined from similar events): Created job j24".to_string(),
                Some(16)
            )
        );
        let other = c.observe(pending("SawCompletedJob", "Saw completed job: j0", 40), 40);
        assert!(
            matches!(other, Some(Write::Create(_))),
            "another reason has its own bucket"
        );
    }

    #[test]
    fn repeats_of_two_messages_are_counted_never_combined() {
        let mut c = Correlator::new("cronjob-controller", 0);
        let mut counts = HashMap::new();
        for i in 0..20 {
            let message = if i % 2 == 0 { "m1" } else { "m2" };
            let at = i * 60_000;
            if let Some(Write::Create(e) | Write::Bump(e)) =
                c.observe(pending("UnexpectedJob", message, at), at)
            {
                assert_eq!(e.message.as_deref(), Some(message));
                counts.insert(message, e.count);
            }
        }
        assert_eq!(counts["m1"], Some(10));
        assert_eq!(counts["m2"], Some(10));
    }
}
