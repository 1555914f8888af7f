//! The root CA publisher, as upstream's `pkg/controller/certificates/rootcacertpublisher`:
//! every namespace has a ConfigMap `kube-root-ca.crt` whose `ca.crt` is the CA that signed
//! the API server's certificate, made when the namespace appears, made again when deleted
//! and put back when changed. A pod's service account volume takes its `ca.crt` from it, so
//! that clients in the pod can check whom they talk to.

use crate::per_namespace;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The ConfigMap's name.
pub const NAME: &str = "kube-root-ca.crt";

const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// Runs until `shutdown`, publishing `ca_pem` in every namespace.
pub async fn run(client: kube::Client, ca_pem: String, shutdown: CancellationToken) {
    let ca_pem: Arc<str> = ca_pem.into();
    let ensure: per_namespace::Ensure =
        Box::new(move |client, ns| Box::pin(ensure(client, ns, ca_pem.clone())));
    per_namespace::run::<ConfigMap>(client, NAME, ensure, shutdown).await;
}

/// Makes the ConfigMap in `ns`, or puts its data and description back.
async fn ensure(client: kube::Client, ns: String, ca_pem: Arc<str>) {
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let data = BTreeMap::from([("ca.crt".to_string(), ca_pem.to_string())]);
    let result = match api.get_opt(NAME).await {
        Ok(None) => {
            let mut cm = ConfigMap {
                data: Some(data),
                ..ConfigMap::default()
            };
            cm.metadata.name = Some(NAME.into());
            cm.metadata.annotations = Some(BTreeMap::from([(
                DESCRIPTION_ANNOTATION.to_string(),
                DESCRIPTION.to_string(),
            )]));
            api.create(&PostParams::default(), &cm).await.map(|_| ())
        }
        Ok(Some(mut cm)) => {
            let described = cm
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(DESCRIPTION_ANNOTATION))
                .is_some_and(|d| !d.is_empty());
            if cm.data.as_ref() == Some(&data) && described {
                return;
            }
            cm.data = Some(data);
            cm.binary_data = None;
            cm.metadata
                .annotations
                .get_or_insert_default()
                .insert(DESCRIPTION_ANNOTATION.into(), DESCRIPTION.into());
            api.replace(NAME, &PostParams::default(), &cm)
                .await
                .map(|_| ())
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {}
        // Gone or closing namespaces, and races with another writer, settle by themselves.
        Err(kube::Error::Api(e)) if matches!(e.code, 403 | 404 | 409) => {}
        Err(e) => tracing::warn!(namespace = ns, error = %e, "publishing the root CA"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Namespace;
    use runlet_test::{TestApi, wait_for};
    use serde_json::json;

    #[tokio::test]
    async fn every_namespace_has_the_ca_again_after_a_deletion_or_a_change() {
        let api = TestApi::start().await;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(api.client.clone(), "PEM".into(), shutdown.clone()));
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": "team"}})).expect("namespace");
        Api::<Namespace>::all(api.client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("created");
        let maps: Api<ConfigMap> = Api::namespaced(api.client.clone(), "team");
        let ca = async || {
            maps.get_opt(NAME)
                .await
                .ok()
                .flatten()
                .filter(|cm| cm.metadata.deletion_timestamp.is_none())
                .and_then(|cm| cm.data)
                .and_then(|d| d.get("ca.crt").cloned())
                .filter(|ca| ca == "PEM")
        };
        wait_for("the new namespace's CA", ca).await;
        let cm = maps.get(NAME).await.expect("there");
        assert_eq!(
            cm.metadata.annotations.expect("annotated")[DESCRIPTION_ANNOTATION],
            DESCRIPTION
        );
        let default_ns: Api<ConfigMap> = Api::namespaced(api.client.clone(), "default");
        wait_for("the default namespace's CA", async || {
            default_ns.get_opt(NAME).await.ok().flatten()
        })
        .await;

        let mut changed = maps.get(NAME).await.expect("there");
        changed.data = Some(BTreeMap::from([("ca.crt".into(), "other".into())]));
        maps.replace(NAME, &PostParams::default(), &changed)
            .await
            .expect("changed");
        wait_for("the CA put back", ca).await;
        maps.delete(NAME, &Default::default())
            .await
            .expect("deleted");
        wait_for("the CA made again", ca).await;
        shutdown.cancel();
        task.await.expect("stopped");
    }
}
