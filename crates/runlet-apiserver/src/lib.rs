//! runlet's Kubernetes REST API.
//!
//! [`router`] builds the axum `Router` for the whole API (discovery, OpenAPI, every served
//! resource); [`serve::serve_tls`] puts it on an HTTPS listener with client-certificate and
//! bearer-token authentication. The same router can be called in-process (e.g. by a
//! `kube::Client` over it) with authentication off.
//!
//! Invariants: every failure is a `metav1.Status` ([`error::ApiError`]); objects are never half
//! written (each change is one store write conditioned on the revision it was computed from);
//! a no-op update writes nothing.

pub mod auth;
mod decoded;
pub mod discovery;
pub mod error;
pub mod eventttl;
pub mod gc;
pub mod handlers;
pub mod logs;
pub mod pki;
mod protobuf;
pub mod registry;
pub mod reviews;
pub mod serve;
pub mod serviceaccount;
pub mod state;

use auth::PeerIdentity;
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use error::ApiError;
use runlet_api::resources;
use runlet_api::status::Status;
pub use state::AppState;

/// Paths anyone may read.
fn is_public(path: &str) -> bool {
    matches!(path, "/healthz" | "/livez" | "/readyz" | "/version")
}

async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if !state.require_auth || is_public(req.uri().path()) {
        return next.run(req).await;
    }
    let from_cert = req
        .extensions()
        .get::<PeerIdentity>()
        .and_then(|p| p.0.clone());
    let bearer = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(bearer_token);
    let user = match (from_cert, bearer) {
        (Some(user), _) => Some(user),
        (None, Some(token)) => match state.tokens.lookup(token) {
            Some(user) => Some(user.clone()),
            None => serviceaccount::authenticate::user(&state, token).await,
        },
        (None, None) => None,
    };
    let Some(user) = user else {
        return ApiError::new(Status::unauthorized()).into_response();
    };
    let user = match auth::impersonated(req.headers()) {
        Ok(impersonated) => impersonated.unwrap_or(user),
        Err(e) => return ApiError::new(Status::internal(e.to_string())).into_response(),
    };
    req.extensions_mut().insert(user);
    next.run(req).await
}

/// The token of an `Authorization: Bearer TOKEN` header; the scheme's case does not matter
/// (the Python client's in-cluster configuration sends `bearer`), as upstream's bearer token
/// authenticator.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The whole API as one router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/version", get(discovery::version))
        .route("/healthz", get(discovery::health))
        .route("/livez", get(discovery::health))
        .route("/readyz", get(discovery::health))
        .route("/api", get(discovery::api_versions))
        .route("/apis", get(discovery::api_groups))
        .route("/apis/{group}", get(discovery::api_group))
        .route("/openapi/v3", get(discovery::openapi_v3_index))
        .route("/openapi/v3/{*path}", get(discovery::openapi_v3_document))
        .route("/openapi/v2", get(discovery::openapi_v2))
        .route(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            axum::routing::post(reviews::access),
        )
        .route(
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            axum::routing::post(reviews::rules),
        )
        .route(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            axum::routing::post(reviews::whoami),
        )
        .route(
            "/.well-known/openid-configuration",
            get(serviceaccount::issuer::configuration),
        )
        .route(
            serviceaccount::issuer::JWKS_PATH,
            get(serviceaccount::issuer::key_set),
        )
        .route("/api/{*rest}", axum::routing::any(handlers::handle))
        .route(
            "/apis/{group}/{version}",
            axum::routing::any(handlers::handle),
        )
        .route(
            "/apis/{group}/{version}/{*rest}",
            axum::routing::any(handlers::handle),
        )
        .fallback(discovery::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .with_state(state)
}

/// Creates namespace `ns` unless it exists (upstream's system namespaces controller, for the
/// namespaces that always exist).
pub(crate) async fn ensure_namespace(state: &AppState, ns: &str) -> Result<(), ApiError> {
    let namespaces = resources::find("", "v1", "namespaces")
        .ok_or_else(|| ApiError::new(Status::internal("no namespaces")))?;
    if registry::get(state, namespaces, None, ns).await.is_ok() {
        return Ok(());
    }
    let obj =
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    let obj = runlet_api::codec::normalize(namespaces, obj)
        .map_err(|e| ApiError::new(Status::internal(e.to_string())))?
        .object;
    match registry::create(
        state,
        namespaces,
        None,
        obj,
        registry::WriteOptions::default(),
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.0.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates the namespaces that always exist and the `local-path` StorageClass, and resumes
/// unfinished namespace deletions.
pub async fn bootstrap(state: &AppState) -> Result<(), ApiError> {
    for ns in registry::SYSTEM_NAMESPACES {
        ensure_namespace(state, ns).await?;
    }
    // The built-in provisioner's class, the default, unless it is there (or was changed).
    let classes = resources::find("storage.k8s.io", "v1", "storageclasses")
        .ok_or_else(|| ApiError::new(Status::internal("no storage classes")))?;
    let local_path = runlet_api::storageclass::LOCAL_PATH;
    if registry::get(state, classes, None, local_path)
        .await
        .is_err()
    {
        let obj = runlet_api::codec::normalize(classes, runlet_api::storageclass::local_path())
            .map_err(|e| ApiError::new(Status::internal(e.to_string())))?
            .object;
        match registry::create(state, classes, None, obj, registry::WriteOptions::default()).await {
            Ok(_) => {}
            Err(e) if e.0.code == 409 => {}
            Err(e) => return Err(e),
        }
    }
    gc::resume(state).await;
    Ok(())
}

/// Compacts store history older than `retain`, forever (run as a task).
pub async fn compaction_loop(state: AppState, retain: std::time::Duration) {
    let mut previous = state.store.current_revision();
    loop {
        tokio::time::sleep(retain).await;
        if let Err(e) = state.store.compact(previous).await {
            tracing::warn!(error = %e, "compaction failed");
        }
        previous = state.store.current_revision();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bearer_token_is_read_whatever_the_scheme_s_case() {
        assert_eq!(super::bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(super::bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(super::bearer_token("Basic abc"), None);
        assert_eq!(super::bearer_token("Bearer "), None);
    }
}
