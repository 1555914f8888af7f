//! One error type for every handler, rendered as a `metav1.Status` body.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use runlet_api::resources::ResourceInfo;
use runlet_api::status::Status;
use runlet_store::StoreError;

/// A failed request; the wrapped Status says why in Kubernetes' words.
#[derive(Debug, Clone)]
pub struct ApiError(pub Box<Status>);

impl From<Status> for ApiError {
    fn from(s: Status) -> Self {
        ApiError::new(s)
    }
}

impl ApiError {
    pub fn new(s: Status) -> Self {
        ApiError(Box::new(s))
    }

    /// Maps a store error about the object `name` of `info`.
    pub fn from_store(e: StoreError, info: &ResourceInfo, name: &str) -> Self {
        ApiError::new(match e {
            StoreError::NotFound => Status::not_found(info, name),
            StoreError::AlreadyExists => Status::already_exists(info, name),
            StoreError::Conflict { .. } => Status::conflict_modified(info, name),
            other => store_status(other),
        })
    }
}

/// The Status of a store error that is not about one object.
pub fn store_status(e: StoreError) -> Status {
    match e {
        StoreError::Compacted {
            requested,
            compacted,
        } => Status::expired(format!(
            "too old resource version: {requested} ({compacted})"
        )),
        StoreError::FutureRevision { requested, current } => {
            let mut s = Status::new_timeout(format!(
                "Too large resource version: {requested}, current: {current}"
            ));
            s.retry_after_seconds = Some(1);
            // Upstream's `NewTooLargeResourceVersionError`: the cause is how client-go's
            // reflector tells this timeout from others (`IsTooLargeResourceVersion`).
            s.causes.push(runlet_api::status::Cause {
                reason: "ResourceVersionTooLarge".into(),
                message: "Too large resource version".into(),
                field: String::new(),
            });
            s
        }
        other => {
            tracing::error!(error = %other, "store failure");
            Status::internal(other.to_string())
        }
    }
}

trait TimeoutStatus {
    fn new_timeout(message: String) -> Status;
}

impl TimeoutStatus for Status {
    /// Upstream's `NewTimeoutError`, whose message says it is one.
    fn new_timeout(message: String) -> Status {
        let mut s = Status::unavailable(format!("Timeout: {message}"));
        s.code = 504;
        s.reason = "Timeout";
        s
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.0.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if code.is_server_error() {
            tracing::warn!(code = self.0.code, message = %self.0.message, "request failed");
        } else {
            tracing::debug!(code = self.0.code, message = %self.0.message, "request refused");
        }
        let body = self.0.to_json().to_string();
        let mut resp = (code, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // As upstream's `ErrorNegotiated`: client-go waits this long before it retries.
        if let Some(secs) = self.0.retry_after_seconds.filter(|s| *s > 0) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
