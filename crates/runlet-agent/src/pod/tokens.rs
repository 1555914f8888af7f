//! Service account tokens for a pod's projected `serviceAccountToken` sources, as the
//! kubelet's token manager gets them: a TokenRequest for the pod's service account, bound to
//! the pod (so the token stops working when the pod is gone), with the source's audience and
//! lifetime; asked for again once four fifths of its lifetime have passed, and written into
//! the volume at the next volume sync.

use k8s_openapi::api::core::v1::{Pod, ServiceAccount, ServiceAccountTokenProjection};
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use std::collections::HashMap;

/// What a token is asked for with: one token serves every source that asks alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenKey {
    /// Empty: the API server's own audience.
    pub audience: String,
    pub expiration_secs: i64,
}

/// The kubelet's default lifetime of a projected token (an hour).
const DEFAULT_EXPIRATION_SECS: i64 = 3600;

impl TokenKey {
    /// The key of a projected source.
    pub fn of(source: &ServiceAccountTokenProjection) -> TokenKey {
        TokenKey {
            audience: source.audience.clone().unwrap_or_default(),
            expiration_secs: source.expiration_seconds.unwrap_or(DEFAULT_EXPIRATION_SECS),
        }
    }
}

/// The token of each key, or why there is none.
pub type Tokens = HashMap<TokenKey, Result<String, String>>;

/// The tokens of one pod.
#[derive(Debug, Default)]
pub struct PodTokens {
    tokens: Tokens,
    /// When each token is to be asked for again (agent clock, milliseconds).
    refresh_at_ms: HashMap<TokenKey, i64>,
}

/// The keys of the pod's `serviceAccountToken` sources.
pub fn wanted(pod: &Pod) -> Vec<TokenKey> {
    let mut keys: Vec<TokenKey> = pod
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.projected.as_ref())
        .flat_map(|p| p.sources.iter().flatten())
        .filter_map(|s| s.service_account_token.as_ref())
        .map(TokenKey::of)
        .collect();
    keys.sort_by(|a, b| (&a.audience, a.expiration_secs).cmp(&(&b.audience, b.expiration_secs)));
    keys.dedup();
    keys
}

impl PodTokens {
    /// The tokens as last fetched.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// Asks for the tokens the pod needs that are missing or due (`now_ms`); a failed
    /// request keeps a token fetched before, which is still good.
    pub async fn fetch(&mut self, client: &kube::Client, pod: &Pod, now_ms: i64) {
        for key in wanted(pod) {
            let due = self.refresh_at_ms.get(&key).is_none_or(|at| now_ms >= *at);
            if !due && matches!(self.tokens.get(&key), Some(Ok(_))) {
                continue;
            }
            match request(client, pod, &key).await {
                Ok(token) => {
                    let lifetime_ms = key.expiration_secs.saturating_mul(1000);
                    self.refresh_at_ms
                        .insert(key.clone(), now_ms + lifetime_ms / 5 * 4);
                    self.tokens.insert(key, Ok(token));
                }
                Err(e) => {
                    tracing::info!(pod = ?pod.metadata.name, error = %e, "requesting a service account token");
                    if !matches!(self.tokens.get(&key), Some(Ok(_))) {
                        self.tokens.insert(key, Err(e));
                    }
                }
            }
        }
    }
}

/// One TokenRequest for `pod`'s service account, bound to the pod.
async fn request(client: &kube::Client, pod: &Pod, key: &TokenKey) -> Result<String, String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let account = pod
        .spec
        .as_ref()
        .and_then(|s| s.service_account_name.as_deref())
        .filter(|s| !s.is_empty())
        .unwrap_or("default");
    let audiences: Vec<&str> = if key.audience.is_empty() {
        Vec::new()
    } else {
        vec![key.audience.as_str()]
    };
    let body = json!({
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"audiences": audiences, "expirationSeconds": key.expiration_secs,
            "boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                "name": pod.metadata.name, "uid": pod.metadata.uid}},
    });
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    let issued: Value = api
        .create_subresource("token", account, &PostParams::default(), &body)
        .await
        .map_err(|e| match e {
            kube::Error::Api(s) => s.message,
            other => other.to_string(),
        })?;
    issued["status"]["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "the TokenRequest came back without a token".to_string())
}
