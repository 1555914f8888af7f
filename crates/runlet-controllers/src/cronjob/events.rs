//! Event recording for the CronJob controller: core/v1 Events about a CronJob, shaped like
//! client-go's `record.EventRecorder` output (name `<object>.<hex nanoseconds>`, `source` and
//! `reportingComponent` `cronjob-controller`, `involvedObject` pointing at the CronJob with its
//! uid and resourceVersion), so `kubectl describe cronjob` and `kubectl get events` read them as
//! they read upstream's, and correlated as upstream's recorder correlates them
//! ([`crate::correlate`]): repeats counted, similar events combined, a burst held back.
//!
//! Recording is best effort: a failure is logged, never returned, because an event must not stop
//! a CronJob from running. Unlike the Job controller's, an event is written before the
//! reconcile goes on: a CronJob records a few events a minute, not one per pod.

use crate::correlate::{Correlator, Pending, write};
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::ObjectReference;
use runlet_api::clock::Clock;
use runlet_api::eventtype::EventType;
use std::sync::{Arc, Mutex};

/// The component name upstream's CronJob controller records events as.
pub const COMPONENT: &str = "cronjob-controller";

/// Writes Events about CronJobs.
pub struct Recorder {
    client: kube::Client,
    clock: Arc<dyn Clock>,
    correlator: Mutex<Correlator>,
}

impl Recorder {
    /// A recorder writing through `client`, stamping times from `clock`.
    pub fn new(client: kube::Client, clock: Arc<dyn Clock>) -> Self {
        let correlator = Mutex::new(Correlator::new(COMPONENT, clock.now_millis()));
        Recorder {
            client,
            clock,
            correlator,
        }
    }

    /// Records an event about `cj`.
    pub async fn event(&self, cj: &CronJob, type_: EventType, reason: &str, message: String) {
        tracing::debug!(cronjob = ?cj.metadata.name, reason, %message, "event");
        let now = self.clock.now_millis();
        let pending = Pending {
            object: ObjectReference {
                api_version: Some("batch/v1".into()),
                kind: Some("CronJob".into()),
                name: cj.metadata.name.clone(),
                namespace: cj.metadata.namespace.clone(),
                uid: cj.metadata.uid.clone(),
                resource_version: cj.metadata.resource_version.clone(),
                ..ObjectReference::default()
            },
            type_,
            reason: reason.to_string(),
            message,
            at_millis: now,
        };
        let write_to_make = {
            let mut correlator = self
                .correlator
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let w = correlator.observe(pending, now);
            correlator.prune(now);
            w
        };
        if let Some(w) = write_to_make {
            write(&self.client, w).await;
        }
    }
}
