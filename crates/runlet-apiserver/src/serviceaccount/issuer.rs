//! Service account issuer discovery, as upstream serves it: the OpenID Connect provider
//! configuration at `/.well-known/openid-configuration` and the key set at `/openid/v1/jwks`,
//! so that a verifier outside the cluster (a secrets manager, a cloud's workload identity) can
//! check our tokens with the public key alone.

use super::ISSUER;
use crate::error::{ApiError, ApiResult};
use crate::handlers::json_response;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use runlet_api::status::Status;
use serde_json::json;

/// Where the key set is served.
pub const JWKS_PATH: &str = "/openid/v1/jwks";

/// `GET /.well-known/openid-configuration`. The key set's address is this server's, as the
/// client reached it (upstream names its external address).
pub async fn configuration(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let answer = || -> ApiResult<Response> {
        state
            .token_signer()
            .ok_or_else(|| ApiError::new(Status::path_not_found()))?;
        // HTTP/2 names it in the URI's authority, HTTP/1.1 in `Host`.
        let host = uri
            .authority()
            .map(|a| a.as_str())
            .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()))
            .unwrap_or("localhost");
        Ok(json_response(
            StatusCode::OK,
            &json!({
                "issuer": ISSUER,
                "jwks_uri": format!("https://{host}{JWKS_PATH}"),
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"],
            }),
        ))
    };
    answer().unwrap_or_else(IntoResponse::into_response)
}

/// `GET /openid/v1/jwks`: the public key tokens are signed with, as a JSON Web Key Set.
pub async fn key_set(State(state): State<AppState>) -> Response {
    let Some(signer) = state.token_signer() else {
        return ApiError::new(Status::path_not_found()).into_response();
    };
    let mut response = json_response(StatusCode::OK, &json!({"keys": [signer.public_jwk()]}));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/jwk-set+json"),
    );
    response
}
