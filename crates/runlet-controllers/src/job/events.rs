//! Events about Jobs, written as core/v1 Events with the Job as `involvedObject` so that
//! `kubectl describe job` (which lists events by `involvedObject.uid` etc.) shows them.
//!
//! Recording never blocks the controller: [`Recorder::event`] hands the event to a bounded
//! channel (dropping it when full, as client-go's broadcaster does), and one writer task
//! correlates them ([`crate::correlate`], client-go's `EventCorrelator`) and writes them
//! concurrently.

use crate::correlate::{Correlator, Pending, Write, write};
use futures::future::join_all;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ObjectReference;
use runlet_api::clock::Clock;
use runlet_api::eventtype::EventType;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The component name upstream's Job controller reports.
pub const COMPONENT: &str = "job-controller";
const QUEUE: usize = 4096;

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

async fn write_loop(client: kube::Client, clock: Arc<dyn Clock>, mut rx: mpsc::Receiver<Pending>) {
    let mut correlator = Correlator::new(COMPONENT, clock.now_millis());
    let mut buf = Vec::with_capacity(256);
    while rx.recv_many(&mut buf, 256).await > 0 {
        let now = clock.now_millis();
        // The writes of one Event go in order (a bump must not pass the create it bumps);
        // different Events' at once.
        let mut by_event: Vec<Vec<Write>> = Vec::new();
        for w in buf.drain(..).filter_map(|p| correlator.observe(p, now)) {
            match by_event
                .iter_mut()
                .find(|ws| ws[0].event_name() == w.event_name())
            {
                Some(ws) => ws.push(w),
                None => by_event.push(vec![w]),
            }
        }
        correlator.prune(now);
        join_all(by_event.into_iter().map(|ws| async {
            for w in ws {
                write(&client, w).await;
            }
        }))
        .await;
    }
}
