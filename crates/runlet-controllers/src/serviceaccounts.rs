//! The service accounts controller, as upstream's `pkg/controller/serviceaccount`: every
//! namespace has a ServiceAccount `default`, made when the namespace appears and again when it
//! is deleted, so `kubectl get serviceaccounts` and the `serviceAccountName: default` every pod
//! carries name something that exists (the API server refuses a pod whose account is not
//! there).

use crate::per_namespace;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// The account every namespace has.
pub const DEFAULT: &str = "default";

/// Runs until `shutdown`.
pub async fn run(client: kube::Client, shutdown: CancellationToken) {
    let ensure: per_namespace::Ensure = Box::new(|client, ns| Box::pin(ensure(client, ns)));
    per_namespace::run::<ServiceAccount>(client, DEFAULT, ensure, shutdown).await;
}

/// Makes `default` in `ns` unless it is there.
async fn ensure(client: kube::Client, ns: String) {
    let api: Api<ServiceAccount> = Api::namespaced(client, &ns);
    if api.get_opt(DEFAULT).await.ok().flatten().is_some() {
        return;
    }
    let account: ServiceAccount = match serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": DEFAULT, "namespace": ns},
    })) {
        Ok(account) => account,
        Err(_) => return,
    };
    match api.create(&PostParams::default(), &account).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 || e.code == 403 => {}
        Err(e) => {
            tracing::warn!(namespace = ns, error = %e, "making the default service account")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Namespace;
    use runlet_test::{TestApi, wait_for};

    #[tokio::test]
    async fn every_namespace_has_a_default_account_again_after_its_deletion() {
        let api = TestApi::start().await;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(api.client.clone(), shutdown.clone()));
        let namespaces: Api<Namespace> = Api::all(api.client.clone());
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": "team"}})).expect("namespace");
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .expect("created");
        let accounts: Api<ServiceAccount> = Api::namespaced(api.client.clone(), "team");
        let default_ns: Api<ServiceAccount> = Api::namespaced(api.client.clone(), "default");
        wait_for("the new namespace's default account", async || {
            accounts.get_opt(DEFAULT).await.ok().flatten()
        })
        .await;
        wait_for("the default namespace's account", async || {
            default_ns.get_opt(DEFAULT).await.ok().flatten()
        })
        .await;
        accounts
            .delete(DEFAULT, &Default::default())
            .await
            .expect("deleted");
        wait_for("the account made again", async || {
            accounts
                .get_opt(DEFAULT)
                .await
                .ok()
                .flatten()
                .filter(|a| a.metadata.deletion_timestamp.is_none())
        })
        .await;
        shutdown.cancel();
        task.await.expect("stopped");
    }
}
