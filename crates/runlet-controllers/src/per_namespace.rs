//! Objects every namespace has, kept there by a controller: the `default` ServiceAccount
//! ([`crate::serviceaccounts`]) and the `kube-root-ca.crt` ConfigMap ([`crate::rootca`]).
//!
//! [`run`] watches namespaces and the objects of one name in all of them, and calls the
//! controller's `ensure` for a namespace when it appears or changes, and when its object
//! changes or is deleted; `ensure` makes (or mends) the object, and is not called for a
//! namespace that is going away.

use futures::StreamExt;
use futures::future::BoxFuture;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use tokio_util::sync::CancellationToken;

/// Makes or mends the object in the namespace of the given name.
pub type Ensure = Box<dyn Fn(kube::Client, String) -> BoxFuture<'static, ()> + Send + Sync>;

/// Runs until `shutdown`, keeping the `K` named `name` in every namespace through `ensure`.
pub async fn run<K>(client: kube::Client, name: &str, ensure: Ensure, shutdown: CancellationToken)
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + Debug + DeserializeOwned + Send + 'static,
    K::DynamicType: Default,
{
    let namespaces = watcher(
        Api::<Namespace>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff();
    let objects = watcher(
        Api::<K>::all(client.clone()),
        watcher::Config::default().fields(&format!("metadata.name={name}")),
    )
    .default_backoff();
    let mut namespaces = std::pin::pin!(namespaces);
    let mut objects = std::pin::pin!(objects);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            event = namespaces.next() => match event {
                Some(Ok(Event::Apply(ns) | Event::InitApply(ns))) => {
                    if !terminating(&ns) {
                        ensure(client.clone(), ns.name_any()).await;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => tracing::debug!(error = %e, name, "watching namespaces"),
                None => return,
            },
            event = objects.next() => match event {
                Some(Ok(Event::Apply(object) | Event::Delete(object))) => {
                    let Some(ns) = object.namespace() else { continue };
                    let open = Api::<Namespace>::all(client.clone()).get(&ns).await;
                    if open.is_ok_and(|ns| !terminating(&ns)) {
                        ensure(client.clone(), ns).await;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => tracing::debug!(error = %e, name, "watching the objects"),
                None => return,
            },
        }
    }
}

fn terminating(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_some()
        || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating")
}
