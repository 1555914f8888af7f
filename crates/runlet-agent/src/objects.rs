//! The ConfigMaps and Secrets that running pods read, each watched while a pod holds it: the
//! kubelet's default `Watch` change-detection strategy (`configMapAndSecretChangeDetection
//! Strategy`). A pod's worker takes hold of what its environment and volumes name, reads them
//! from here (no request per pod: every pod of a namespace reads its `kube-root-ca.crt`), and
//! lets go when it is done; the last to let go stops the watch.

use k8s_openapi::NamespaceResourceScope;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// What the watch of one object knows.
#[derive(Debug, Clone)]
enum Known<K> {
    /// Not listed yet.
    Unknown,
    Absent,
    Present(Arc<K>),
}

struct Entry<K> {
    holders: usize,
    known: watch::Receiver<Known<K>>,
    stop: CancellationToken,
}

type Key = (String, String);

/// The objects of one kind that pods hold, by namespace and name; cheap to clone.
pub struct ObjectCache<K> {
    client: kube::Client,
    entries: Arc<Mutex<HashMap<Key, Entry<K>>>>,
    /// Stops every watch (the agent's end).
    stop: CancellationToken,
}

impl<K> Clone for ObjectCache<K> {
    fn clone(&self) -> Self {
        ObjectCache {
            client: self.client.clone(),
            entries: self.entries.clone(),
            stop: self.stop.clone(),
        }
    }
}

impl<K> ObjectCache<K>
where
    K: kube::Resource<Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
    K::DynamicType: Default,
{
    /// A cache whose watches all stop with `stop`, as well as with their last holder.
    pub fn new(client: kube::Client, stop: CancellationToken) -> Self {
        ObjectCache {
            client,
            entries: Arc::default(),
            stop,
        }
    }

    /// Takes hold of `ns`/`name`, starting its watch if nobody held it.
    pub fn hold(&self, ns: &str, name: &str) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let key = (ns.to_string(), name.to_string());
        if let Some(entry) = entries.get_mut(&key) {
            entry.holders += 1;
            return;
        }
        let (tx, known) = watch::channel(Known::Unknown);
        let stop = self.stop.child_token();
        tokio::spawn(follow::<K>(
            Api::namespaced(self.client.clone(), ns),
            name.to_string(),
            tx,
            stop.clone(),
        ));
        entries.insert(
            key,
            Entry {
                holders: 1,
                known,
                stop,
            },
        );
    }

    /// Lets go of `ns`/`name`; the last holder stops its watch.
    pub fn release(&self, ns: &str, name: &str) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let key = (ns.to_string(), name.to_string());
        if let Some(entry) = entries.get_mut(&key) {
            entry.holders = entry.holders.saturating_sub(1);
            if entry.holders == 0
                && let Some(entry) = entries.remove(&key)
            {
                entry.stop.cancel();
            }
        }
    }

    /// The object, held before, once its watch has listed it (`Ok(None)`: it does not exist);
    /// `Err(())` when the watch has not answered within `wait`.
    pub async fn get(&self, ns: &str, name: &str, wait: Duration) -> Result<Option<Arc<K>>, ()> {
        let known = {
            let entries = self.entries.lock().map_err(|_| ())?;
            let key = (ns.to_string(), name.to_string());
            entries.get(&key).map(|e| e.known.clone())
        };
        let Some(mut known) = known else {
            return Err(());
        };
        let listed = tokio::time::timeout(wait, known.wait_for(|k| !matches!(k, Known::Unknown)))
            .await
            .map_err(|_| ())?
            .map_err(|_| ())?;
        match &*listed {
            Known::Present(obj) => Ok(Some(obj.clone())),
            _ => Ok(None),
        }
    }
}

/// Watches the one object `name` of `api` into `tx` until `stop`.
async fn follow<K>(api: Api<K>, name: String, tx: watch::Sender<Known<K>>, stop: CancellationToken)
where
    K: kube::Resource + Clone + Debug + DeserializeOwned + Send + 'static,
    K::DynamicType: Default,
{
    use futures::StreamExt;
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let events = watcher(api, config).default_backoff();
    let mut events = std::pin::pin!(events);
    // What the list in progress has found (a relist starts over).
    let mut listed = None;
    loop {
        let event = tokio::select! {
            _ = stop.cancelled() => return,
            event = events.next() => event,
        };
        match event {
            Some(Ok(Event::Init)) => listed = None,
            Some(Ok(Event::InitApply(obj))) => listed = Some(Arc::new(obj)),
            Some(Ok(Event::InitDone)) => {
                let _ = tx.send(match listed.take() {
                    Some(obj) => Known::Present(obj),
                    None => Known::Absent,
                });
            }
            Some(Ok(Event::Apply(obj))) => {
                let _ = tx.send(Known::Present(Arc::new(obj)));
            }
            Some(Ok(Event::Delete(_))) => {
                let _ = tx.send(Known::Absent);
            }
            Some(Err(e)) => tracing::debug!(error = %e, name, "watching a pod's reference"),
            None => return,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{DeleteParams, PostParams};
    use runlet_test::{TestApi, wait_for};
    use serde_json::json;

    fn cm(value: &str) -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": "cfg"}, "data": {"k": value}})).unwrap()
    }

    #[tokio::test]
    async fn a_held_object_follows_its_changes_until_released() {
        let api = TestApi::start().await;
        let maps: Api<ConfigMap> = Api::default_namespaced(api.client.clone());
        let cache = ObjectCache::<ConfigMap>::new(api.client.clone(), CancellationToken::new());
        let wait = Duration::from_secs(10);
        assert!(cache.get("default", "cfg", wait).await.is_err(), "not held");
        cache.hold("default", "cfg");
        assert!(cache.get("default", "cfg", wait).await.unwrap().is_none());

        maps.create(&PostParams::default(), &cm("1")).await.unwrap();
        let value = async |want: &str| {
            let got = cache.get("default", "cfg", wait).await.unwrap();
            got.and_then(|c| c.data.clone())
                .and_then(|d| d.get("k").cloned())
                .filter(|v| v == want)
        };
        wait_for("the new ConfigMap", async || value("1").await).await;
        maps.replace("cfg", &PostParams::default(), &{
            let mut c = maps.get("cfg").await.unwrap();
            c.data = cm("2").data;
            c
        })
        .await
        .unwrap();
        wait_for("the change", async || value("2").await).await;

        // A second holder keeps it watched when the first lets go; the last one stops it.
        cache.hold("default", "cfg");
        cache.release("default", "cfg");
        assert!(cache.get("default", "cfg", wait).await.unwrap().is_some());
        maps.delete("cfg", &DeleteParams::default()).await.unwrap();
        wait_for("the deletion", async || {
            cache
                .get("default", "cfg", wait)
                .await
                .unwrap()
                .is_none()
                .then_some(())
        })
        .await;
        cache.release("default", "cfg");
        assert!(cache.get("default", "cfg", wait).await.is_err(), "released");
    }
}
