//! One-off core/v1 Events of a controller (`default-scheduler`, `node-controller`): built as
//! upstream's recorder builds them and written in the background of whoever records them, best
//! effort. The Job controller's are queued by its own [`crate::job`] recorder.

use runlet_api::eventtype::EventType;
use serde_json::{Value, json};

/// An Event about one object.
pub struct Event<'a> {
    /// The reporting component (`source.component`, `reportingComponent`).
    pub component: &'a str,
    /// The namespace the Event goes in: the object's, or `default` for a Node.
    pub namespace: &'a str,
    /// `involvedObject`: kind, apiVersion, name, uid (and namespace) of the object.
    pub involved: Value,
    pub type_: EventType,
    pub reason: &'a str,
    pub message: &'a str,
    /// RFC 3339, for `firstTimestamp` and `lastTimestamp`.
    pub now: &'a str,
    /// The Event's name, when made ([`runlet_api::clock::event_name`]) as what it reports
    /// happened rather than when it is written, so that it lists before what followed.
    pub name: Option<String>,
}

/// Writes `ev`; a failure is only logged, as upstream's recorder drops what it cannot write.
pub async fn write(client: &kube::Client, ev: Event<'_>) {
    let name = ev.name.unwrap_or_else(|| {
        runlet_api::clock::event_name(ev.involved["name"].as_str().unwrap_or("event"))
    });
    let body = json!({
        "metadata": {"name": name, "namespace": ev.namespace},
        "involvedObject": ev.involved,
        "reason": ev.reason,
        "message": ev.message,
        "type": ev.type_.as_str(),
        "source": {"component": ev.component},
        "reportingComponent": ev.component,
        "firstTimestamp": ev.now,
        "lastTimestamp": ev.now,
        "count": 1,
    });
    if let Err(err) = runlet_client::create_event(client, ev.namespace, &body).await {
        tracing::debug!(component = ev.component, error = %err, "writing an event");
    }
}
