//! What the orphan scan knows of every pod, kept from the shared pod watch as upstream's PodGC
//! reads its pod informer: a few fields a pod, so a look at every pod costs no API call and
//! holds no decoded pods. Listing them all every 20 s cost a decode of every pod on both sides
//! of the API, and a whole list of 10,000 pods took half a gigabyte for a moment.

use crate::podfeed::{PodEvent, PodSource};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher::Event;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// What the scan reads of a pod.
#[derive(Clone, Debug)]
pub(super) struct PodSummary {
    pub namespace: String,
    pub name: String,
    /// `spec.nodeName`, when set.
    pub node: Option<String>,
    /// It has a `deletionTimestamp`.
    pub deleting: bool,
    /// Its phase is `Succeeded` or `Failed`.
    pub ended: bool,
}

impl PodSummary {
    fn of(pod: &Pod) -> PodSummary {
        PodSummary {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            node: pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .filter(|n| !n.is_empty()),
            deleting: pod.metadata.deletion_timestamp.is_some(),
            ended: super::ended(pod),
        }
    }
}

type Summaries = HashMap<String, PodSummary>;

/// Every pod's summary by namespace and name, once the watch's first list is in.
#[derive(Default)]
pub(super) struct PodIndex {
    pods: Summaries,
    /// A (re)list under way: the pods it has delivered so far.
    listing: Option<Summaries>,
    synced: bool,
}

fn key(pod: &Pod) -> String {
    let meta = &pod.metadata;
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default()
    )
}

impl PodIndex {
    pub(super) fn apply(&mut self, event: &PodEvent) {
        match event {
            Event::Apply(pod) => {
                self.pods.insert(key(pod), PodSummary::of(pod));
            }
            Event::Delete(pod) => {
                self.pods.remove(&key(pod));
            }
            Event::Init => self.listing = Some(Summaries::new()),
            Event::InitApply(pod) => {
                self.listing
                    .get_or_insert_default()
                    .insert(key(pod), PodSummary::of(pod));
            }
            // A relist replaces what was known: pods deleted while the watch was down go.
            Event::InitDone => {
                self.pods = self.listing.take().unwrap_or_default();
                self.synced = true;
            }
        }
    }

    /// Every pod's summary; `None` until the first list is in.
    pub(super) fn pods(&self) -> Option<impl Iterator<Item = &PodSummary>> {
        self.synced.then(|| self.pods.values())
    }
}

/// Keeps `index` current from `pods` until `cancel` or the end of the feed.
pub(super) async fn follow(
    index: Arc<Mutex<PodIndex>>,
    pods: PodSource,
    cancel: CancellationToken,
) {
    let mut events = pods.into_stream();
    loop {
        let event = tokio::select! {
            _ = cancel.cancelled() => return,
            event = events.next() => event,
        };
        match event {
            Some(Ok(event)) => {
                if let Ok(mut index) = index.lock() {
                    index.apply(&event);
                }
            }
            Some(Err(e)) => tracing::debug!(error = %e, "node lifecycle: watching pods"),
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, node: &str) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "d"},
                "spec": {"nodeName": node, "containers": []}
            }))
            .expect("a pod"),
        )
    }

    fn names(index: &PodIndex) -> Option<Vec<String>> {
        let mut names: Vec<String> = index.pods()?.map(|p| p.name.clone()).collect();
        names.sort();
        Some(names)
    }

    #[test]
    fn a_relist_replaces_what_the_index_knew() {
        let mut index = PodIndex::default();
        index.apply(&Event::Init);
        index.apply(&Event::InitApply(pod("a", "n1")));
        assert_eq!(
            names(&index),
            None,
            "not synced before the first list is in"
        );
        index.apply(&Event::InitDone);
        index.apply(&Event::Apply(pod("b", "")));
        assert_eq!(names(&index).expect("synced"), ["a", "b"]);
        let b = index
            .pods()
            .expect("synced")
            .find(|p| p.name == "b")
            .expect("b")
            .clone();
        assert_eq!(b.node, None, "an empty node name is none");
        // The watch went down; "a" was deleted meanwhile.
        index.apply(&Event::Init);
        index.apply(&Event::InitApply(pod("b", "n2")));
        assert_eq!(
            names(&index).expect("synced"),
            ["a", "b"],
            "the old state until the list is in"
        );
        index.apply(&Event::InitDone);
        assert_eq!(names(&index).expect("synced"), ["b"]);
        index.apply(&Event::Delete(pod("b", "n2")));
        assert_eq!(names(&index).expect("synced"), Vec::<String>::new());
    }
}
