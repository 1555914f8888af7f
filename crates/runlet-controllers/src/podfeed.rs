//! One watch of every pod, decoded once and shared by the controllers that each read every pod
//! (the Job controller's informer, the records controller, the scheduler, the garbage
//! collector's pod monitor and others), as upstream's controller manager shares one pod
//! informer among its controllers.
//!
//! Each pod write reaches every watcher, and decoding a pod is most of what receiving it
//! costs; with one watch per controller the same pod was decoded once per controller. A
//! controller gets its pods from a [`PodSource`]: its own watch (what a controller run alone,
//! as in its tests, uses) or a subscription to a [`PodFeed`]. Both yield the same
//! [`watcher::Event`]s, the pod behind an `Arc`.
//!
//! Each subscriber has a bounded queue and the feed waits for room, so a slow subscriber slows
//! the shared watch (as it would slow its own) instead of losing events or growing without
//! bound.

use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A pod watch event, the pod shared.
pub type PodEvent = Event<Arc<Pod>>;

/// Events waiting for one subscriber.
const QUEUE: usize = 1024;

/// Where a controller gets its pods from.
pub enum PodSource {
    /// A watch of its own through this client.
    Watch(kube::Client),
    /// A subscription to a [`PodFeed`].
    Feed(mpsc::Receiver<PodEvent>),
}

impl PodSource {
    /// The pod events, re-listing after errors as `watcher` does; ends when the feed does.
    pub fn into_stream(self) -> BoxStream<'static, Result<PodEvent, watcher::Error>> {
        match self {
            PodSource::Watch(client) => {
                watcher::watcher(Api::<Pod>::all(client), watcher::Config::default())
                    .default_backoff()
                    .map_ok(share)
                    .boxed()
            }
            PodSource::Feed(rx) => tokio_stream::wrappers::ReceiverStream::new(rx)
                .map(Ok)
                .boxed(),
        }
    }
}

fn share(event: Event<Pod>) -> PodEvent {
    match event {
        Event::Apply(p) => Event::Apply(Arc::new(p)),
        Event::Delete(p) => Event::Delete(Arc::new(p)),
        Event::Init => Event::Init,
        Event::InitApply(p) => Event::InitApply(Arc::new(p)),
        Event::InitDone => Event::InitDone,
    }
}

/// One pod watch fanned out to its subscribers.
pub struct PodFeed {
    client: kube::Client,
    subscribers: Vec<mpsc::Sender<PodEvent>>,
}

impl PodFeed {
    pub fn new(client: kube::Client) -> PodFeed {
        PodFeed {
            client,
            subscribers: Vec::new(),
        }
    }

    /// A source that receives every event from the start of [`PodFeed::run`].
    pub fn subscribe(&mut self) -> PodSource {
        let (tx, rx) = mpsc::channel(QUEUE);
        self.subscribers.push(tx);
        PodSource::Feed(rx)
    }

    /// Watches pods until `shutdown` or until every subscriber is gone.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut stream = PodSource::Watch(self.client).into_stream();
        let mut subscribers = self.subscribers;
        while !subscribers.is_empty() {
            let event = tokio::select! {
                _ = shutdown.cancelled() => return,
                next = stream.next() => match next {
                    None => return,
                    Some(Ok(event)) => event,
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "shared pod watch failed");
                        continue;
                    }
                },
            };
            let mut gone = Vec::new();
            for (i, tx) in subscribers.iter().enumerate() {
                let sent = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    sent = tx.send(event.clone()) => sent,
                };
                if sent.is_err() {
                    gone.push(i);
                }
            }
            for i in gone.into_iter().rev() {
                subscribers.swap_remove(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::PostParams;
    use std::time::Duration;

    async fn next(stream: &mut BoxStream<'static, Result<PodEvent, watcher::Error>>) -> PodEvent {
        tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("a pod event within 10 s")
            .expect("the feed is running")
            .expect("no watch error")
    }

    fn pod(name: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
        }))
        .expect("a pod")
    }

    #[tokio::test]
    async fn every_subscriber_gets_each_event_with_the_same_decoded_pod() {
        let api = runlet_test::TestApi::start().await;
        let pods: Api<Pod> = Api::default_namespaced(api.client.clone());
        pods.create(&PostParams::default(), &pod("before"))
            .await
            .expect("create");
        let mut feed = PodFeed::new(api.client.clone());
        let mut first = feed.subscribe().into_stream();
        let mut second = feed.subscribe().into_stream();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(feed.run(shutdown.clone()));

        // The initial list, then a change, reach both subscribers alike.
        for stream in [&mut first, &mut second] {
            assert!(matches!(next(stream).await, Event::Init));
            match next(stream).await {
                Event::InitApply(p) => assert_eq!(p.metadata.name.as_deref(), Some("before")),
                other => panic!("expected the listed pod, got {other:?}"),
            }
            assert!(matches!(next(stream).await, Event::InitDone));
        }
        pods.create(&PostParams::default(), &pod("after"))
            .await
            .expect("create");
        let (Event::Apply(a), Event::Apply(b)) = (next(&mut first).await, next(&mut second).await)
        else {
            panic!("expected the created pod on both");
        };
        assert_eq!(a.metadata.name.as_deref(), Some("after"));
        assert!(Arc::ptr_eq(&a, &b), "decoded once, shared");

        // A subscriber that goes away does not stop the others.
        drop(first);
        pods.create(&PostParams::default(), &pod("later"))
            .await
            .expect("create");
        match next(&mut second).await {
            Event::Apply(p) => assert_eq!(p.metadata.name.as_deref(), Some("later")),
            other => panic!("expected the later pod, got {other:?}"),
        }
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the feed stops at shutdown")
            .expect("the feed task ends cleanly");
    }
}
