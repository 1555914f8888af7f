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
//!
//! `runlet server` runs one feed for the whole process: its embedded node agent reads it, and
//! the controllers, which run only while the server leads, subscribe at the start of each term
//! through a [`PodFeedHandle`]; such a late subscriber first gets the pods listed so far, as
//! the list a watch of its own would start with.

use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use std::collections::HashMap;
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
        Event::Apply(p) => Event::Apply(Arc::new(trimmed(p))),
        Event::Delete(p) => Event::Delete(Arc::new(p)),
        Event::Init => Event::Init,
        Event::InitApply(p) => Event::InitApply(Arc::new(trimmed(p))),
        Event::InitDone => Event::InitDone,
    }
}

/// `pod` with the spare capacity of its lists given back. A decoded list grows as it is read,
/// to room for four elements at least, and k8s-openapi's elements are large (a container status
/// 752 bytes, a volume projection 336, a condition 160): a Job's pod that ran carries some 4 KB
/// of empty slots, about a fifth of its size. The pods a feed passes on are kept by its
/// subscribers (the Job controller's cache, the scheduler's index) for as long as they exist,
/// which for a Job's pods is until the Job is deleted.
fn trimmed(mut pod: Pod) -> Pod {
    fn fit<T>(list: &mut Option<Vec<T>>) {
        if let Some(l) = list {
            l.shrink_to_fit();
        }
    }
    let meta = &mut pod.metadata;
    fit(&mut meta.owner_references);
    fit(&mut meta.finalizers);
    fit(&mut meta.managed_fields);
    if let Some(spec) = pod.spec.as_mut() {
        spec.containers.shrink_to_fit();
        let containers = spec.init_containers.iter_mut().flatten();
        for c in spec.containers.iter_mut().chain(containers) {
            fit(&mut c.command);
            fit(&mut c.args);
            fit(&mut c.env);
            fit(&mut c.env_from);
            fit(&mut c.ports);
            fit(&mut c.volume_mounts);
            fit(&mut c.resize_policy);
        }
        fit(&mut spec.init_containers);
        for projected in spec
            .volumes
            .iter_mut()
            .flatten()
            .filter_map(|v| v.projected.as_mut())
        {
            fit(&mut projected.sources);
        }
        fit(&mut spec.volumes);
        fit(&mut spec.tolerations);
    }
    if let Some(status) = pod.status.as_mut() {
        fit(&mut status.conditions);
        let statuses = status.init_container_statuses.iter_mut().flatten();
        for s in status
            .container_statuses
            .iter_mut()
            .flatten()
            .chain(statuses)
        {
            fit(&mut s.volume_mounts);
        }
        fit(&mut status.container_statuses);
        fit(&mut status.init_container_statuses);
        fit(&mut status.host_ips);
        fit(&mut status.pod_ips);
    }
    pod
}

/// One pod watch fanned out to its subscribers.
pub struct PodFeed {
    client: kube::Client,
    subscribers: Vec<mpsc::Sender<PodEvent>>,
    late: mpsc::UnboundedReceiver<mpsc::Sender<PodEvent>>,
    late_tx: mpsc::UnboundedSender<mpsc::Sender<PodEvent>>,
    /// A handle was made: the listed pods are kept for late subscribers.
    keep: bool,
}

/// Subscribes to a running [`PodFeed`] at any time (see [`PodFeedHandle::subscribe`]).
#[derive(Clone)]
pub struct PodFeedHandle {
    late: mpsc::UnboundedSender<mpsc::Sender<PodEvent>>,
}

impl PodFeedHandle {
    /// A source that first receives the feed's pods as a list (`Init`, an `InitApply` per pod,
    /// `InitDone`), as a watch of its own starts, and then every event after them: what a
    /// component that starts later than the feed (the controllers, when this server becomes
    /// the leader) needs. Until the feed has listed the pods, the source waits.
    pub fn subscribe(&self) -> PodSource {
        let (tx, rx) = mpsc::channel(QUEUE);
        // A feed that has stopped drops the sender: the source then ends.
        let _ = self.late.send(tx);
        PodSource::Feed(rx)
    }
}

impl PodFeed {
    pub fn new(client: kube::Client) -> PodFeed {
        let (late_tx, late) = mpsc::unbounded_channel();
        PodFeed {
            client,
            subscribers: Vec::new(),
            late,
            late_tx,
            keep: false,
        }
    }

    /// A source that receives every event from the start of [`PodFeed::run`].
    pub fn subscribe(&mut self) -> PodSource {
        let (tx, rx) = mpsc::channel(QUEUE);
        self.subscribers.push(tx);
        PodSource::Feed(rx)
    }

    /// A handle to subscribe while the feed runs. The feed then keeps the pods it has listed
    /// (each shared with the subscribers, so the cost is the map) and runs until `shutdown`
    /// even with no subscriber.
    pub fn handle(&mut self) -> PodFeedHandle {
        self.keep = true;
        PodFeedHandle {
            late: self.late_tx.clone(),
        }
    }

    /// Watches pods until `shutdown`, or until every subscriber is gone and no
    /// [`PodFeedHandle`] is left to subscribe another.
    pub async fn run(self, shutdown: CancellationToken) {
        let PodFeed {
            client,
            mut subscribers,
            mut late,
            late_tx,
            keep,
        } = self;
        drop(late_tx);
        let mut stream = PodSource::Watch(client).into_stream();
        // The pods as last listed and changed since, for late subscribers; `listing` is a list
        // in progress, which replaces them at its end; `waiting`, late subscribers that come
        // before a list is complete.
        let mut pods: Option<HashMap<String, Arc<Pod>>> = None;
        let mut listing: Option<HashMap<String, Arc<Pod>>> = None;
        let mut waiting: Vec<mpsc::Sender<PodEvent>> = Vec::new();
        let mut handles_left = true;
        while handles_left || !subscribers.is_empty() || !waiting.is_empty() {
            let event = tokio::select! {
                _ = shutdown.cancelled() => return,
                tx = late.recv(), if handles_left => {
                    match tx {
                        Some(tx) => waiting.push(tx),
                        None => handles_left = false,
                    }
                    None
                }
                next = stream.next() => match next {
                    None => return,
                    Some(Ok(event)) => Some(event),
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "shared pod watch failed");
                        None
                    }
                },
            };
            if let Some(event) = event {
                match &event {
                    _ if !keep => {}
                    Event::Init => listing = Some(HashMap::new()),
                    Event::InitApply(p) => {
                        if let Some(l) = listing.as_mut() {
                            l.insert(pod_key(p), p.clone());
                        }
                    }
                    Event::InitDone => pods = listing.take().or(pods),
                    Event::Apply(p) => {
                        for m in [pods.as_mut(), listing.as_mut()].into_iter().flatten() {
                            m.insert(pod_key(p), p.clone());
                        }
                    }
                    Event::Delete(p) => {
                        for m in [pods.as_mut(), listing.as_mut()].into_iter().flatten() {
                            m.remove(&pod_key(p));
                        }
                    }
                }
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
            // Late subscribers join between lists: the listed pods first, as a list.
            if let (Some(listed), None) = (&pods, &listing) {
                for tx in std::mem::take(&mut waiting) {
                    let replay = std::iter::once(Event::Init)
                        .chain(listed.values().cloned().map(Event::InitApply))
                        .chain(std::iter::once(Event::InitDone));
                    let mut joined = true;
                    for e in replay {
                        let sent = tokio::select! {
                            _ = shutdown.cancelled() => return,
                            sent = tx.send(e) => sent,
                        };
                        if sent.is_err() {
                            joined = false;
                            break;
                        }
                    }
                    if joined {
                        subscribers.push(tx);
                    }
                }
            }
        }
    }
}

/// A pod's namespace and name.
fn pod_key(p: &Pod) -> String {
    format!(
        "{}/{}",
        p.metadata.namespace.as_deref().unwrap_or_default(),
        p.metadata.name.as_deref().unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::PostParams;
    use std::time::Duration;

    #[test]
    fn a_shared_pod_keeps_no_spare_room_in_its_lists() {
        // Decoded from text, as a watch decodes it (a JSON value would tell each list's length).
        let text = serde_json::json!({
            "metadata": {"name": "p", "finalizers": ["a"]},
            "spec": {
                "containers": [{"name": "c", "command": ["true"], "volumeMounts": [
                    {"name": "v", "mountPath": "/v"},
                ]}],
                "volumes": [{"name": "v", "projected": {"sources": [
                    {"serviceAccountToken": {"path": "token"}},
                    {"downwardAPI": {"items": []}},
                    {"configMap": {"name": "c"}},
                ]}}],
                "tolerations": [{"key": "a"}, {"key": "b"}],
            },
            "status": {
                "conditions": [{"type": "A", "status": "True"}, {"type": "B", "status": "True"}],
                "containerStatuses": [{
                    "name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                    "volumeMounts": [{"name": "v", "mountPath": "/v"}],
                }],
                "podIPs": [{"ip": "127.0.0.1"}],
            },
        });
        let decoded: Pod = serde_json::from_str(&text.to_string()).expect("a pod");
        let tolerations = decoded.spec.as_ref().and_then(|s| s.tolerations.as_ref());
        assert!(
            tolerations.is_some_and(|t| t.capacity() > t.len()),
            "decoding leaves room"
        );
        let Event::Apply(pod) = share(Event::Apply(decoded.clone())) else {
            unreachable!("shared as it came")
        };
        assert_eq!(*pod, decoded, "only the room around the lists changes");
        fn fits<T>(list: &Option<Vec<T>>) -> bool {
            list.as_ref().is_none_or(|l| l.capacity() == l.len())
        }
        let spec = pod.spec.as_ref().expect("spec");
        let status = pod.status.as_ref().expect("status");
        let container = &spec.containers[0];
        let volume = &spec.volumes.as_ref().expect("volumes")[0];
        let container_status = &status.container_statuses.as_ref().expect("statuses")[0];
        assert!(fits(&pod.metadata.finalizers));
        assert!(fits(&container.command) && fits(&container.volume_mounts));
        assert!(
            fits(&spec.volumes) && fits(&volume.projected.as_ref().expect("projected").sources)
        );
        assert!(fits(&spec.tolerations));
        assert!(fits(&status.conditions) && fits(&status.container_statuses));
        assert!(fits(&container_status.volume_mounts) && fits(&status.pod_ips));
    }

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

    #[tokio::test]
    async fn a_late_subscriber_gets_the_pods_as_a_list_then_what_follows() {
        let api = runlet_test::TestApi::start().await;
        let pods: Api<Pod> = Api::default_namespaced(api.client.clone());
        for name in ["a", "b"] {
            pods.create(&PostParams::default(), &pod(name))
                .await
                .expect("create");
        }
        let mut feed = PodFeed::new(api.client.clone());
        let handle = feed.handle();
        let mut early = feed.subscribe().into_stream();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(feed.run(shutdown.clone()));
        // The early subscriber sees the list and a deletion; the late one joins after them.
        for _ in 0..4 {
            next(&mut early).await;
        }
        let now = kube::api::DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        pods.delete("a", &now).await.expect("delete");
        while !matches!(next(&mut early).await, Event::Delete(_)) {}
        let mut late = handle.subscribe().into_stream();
        assert!(matches!(next(&mut late).await, Event::Init));
        match next(&mut late).await {
            Event::InitApply(p) => assert_eq!(p.metadata.name.as_deref(), Some("b")),
            other => panic!("expected the pod left, got {other:?}"),
        }
        assert!(matches!(next(&mut late).await, Event::InitDone));
        pods.create(&PostParams::default(), &pod("c"))
            .await
            .expect("create");
        for stream in [&mut early, &mut late] {
            match next(stream).await {
                Event::Apply(p) => assert_eq!(p.metadata.name.as_deref(), Some("c")),
                other => panic!("expected the new pod, got {other:?}"),
            }
        }
        // With no subscriber left, a handle keeps the feed running for the next one.
        drop((early, late));
        pods.create(&PostParams::default(), &pod("d"))
            .await
            .expect("create");
        let mut again = handle.subscribe().into_stream();
        assert!(matches!(next(&mut again).await, Event::Init));
        let mut listed = Vec::new();
        loop {
            match next(&mut again).await {
                Event::InitApply(p) => listed.push(p.metadata.name.clone().unwrap_or_default()),
                Event::InitDone => break,
                other => panic!("expected the list, got {other:?}"),
            }
        }
        // "d" is in the list, or follows it when the feed had not read its creation yet.
        if !listed.iter().any(|n| n == "d") {
            match next(&mut again).await {
                Event::Apply(p) => listed.push(p.metadata.name.clone().unwrap_or_default()),
                other => panic!("expected the new pod, got {other:?}"),
            }
        }
        listed.sort();
        assert_eq!(listed, ["b", "c", "d"]);
        // Every handle and subscriber gone: the feed stops on its own.
        drop((handle, again));
        pods.create(&PostParams::default(), &pod("e"))
            .await
            .expect("create");
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the feed stops with nobody to feed")
            .expect("the feed task ends cleanly");
    }
}
