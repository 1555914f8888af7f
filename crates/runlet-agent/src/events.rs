//! Events about pods (`Started`, `Killing`, `BackOff`, `Failed`...), written by one owned task so
//! recording never blocks a pod and a burst costs at most a bounded queue.

use k8s_openapi::api::core::v1::Pod;
use runlet_api::clock::Clock;
use serde_json::json;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Events waiting to be written; more are dropped (and logged) rather than queued without bound.
const QUEUE: usize = 4096;

/// A handle to record events.
#[derive(Clone)]
pub struct EventSink {
    tx: mpsc::Sender<serde_json::Value>,
    clock: Arc<dyn Clock>,
    component: String,
    host: String,
}

impl EventSink {
    /// Starts the writer; it stops when `cancel` fires or every sink is dropped.
    pub fn start(
        client: kube::Client,
        clock: Arc<dyn Clock>,
        component: &str,
        host: &str,
        cancel: CancellationToken,
    ) -> (EventSink, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<serde_json::Value>(QUEUE);
        let task = tokio::spawn(async move {
            loop {
                let ev = tokio::select! {
                    _ = cancel.cancelled() => return,
                    ev = rx.recv() => match ev { Some(e) => e, None => return },
                };
                let ns = ev["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("default")
                    .to_string();
                if let Err(err) = runlet_client::create_event(&client, &ns, &ev).await {
                    tracing::debug!(error = %err, "writing an event");
                }
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
        warning: bool,
        reason: &str,
        message: &str,
        field_path: Option<&str>,
    ) {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let now = runlet_api::clock::rfc3339(self.clock.now_unix());
        let suffix: u64 = rand::random();
        let mut involved = json!({
            "kind": "Pod",
            "apiVersion": "v1",
            "namespace": ns,
            "name": name,
            "uid": pod.metadata.uid.clone().unwrap_or_default(),
        });
        if let Some(fp) = field_path {
            involved["fieldPath"] = json!(fp);
        }
        let ev = json!({
            "metadata": {"name": format!("{name}.{suffix:016x}"), "namespace": ns},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": if warning { "Warning" } else { "Normal" },
            "source": {"component": self.component, "host": self.host},
            "reportingComponent": self.component,
            "reportingInstance": self.host,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        });
        if self.tx.try_send(ev).is_err() {
            tracing::debug!(reason, "event queue full; event dropped");
        }
    }
}
