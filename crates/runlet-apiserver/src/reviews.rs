//! The caller's own reviews: `authorization.k8s.io/v1` SelfSubjectAccessReview (`kubectl auth
//! can-i`) and SelfSubjectRulesReview (`kubectl auth can-i --list`), and
//! `authentication.k8s.io/v1` SelfSubjectReview (`kubectl auth whoami`). None is stored: the
//! answer is made from the request and who sent it.
//!
//! runlet authorizes every authenticated caller for everything (see [`crate::auth`]), so an
//! access review is always allowed and says why; a caller in-process (no authentication) is the
//! server itself, `system:admin` in `system:masters`.

use crate::auth::User;
use crate::error::{ApiError, ApiResult};
use crate::handlers::json_response;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use runlet_api::status::Status;
use serde_json::{Value, json};

/// The API groups and resources served here, for discovery:
/// `(group, version, kind, plural)`.
pub const REVIEWS: &[(&str, &str, &str, &str)] = &[
    (
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
    ),
    (
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
    ),
    (
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
    ),
];

/// Why every review is allowed.
const REASON: &str = "runlet authorizes every authenticated user for every request";

/// `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`.
pub async fn access(headers: HeaderMap, body: Body) -> Response {
    answer(access_review(&headers, body).await)
}

async fn access_review(headers: &HeaderMap, body: Body) -> ApiResult<Value> {
    let review = crate::handlers::decode_body(headers, body).await?;
    crate::handlers::check_kind(&review, "SelfSubjectAccessReview")?;
    let spec = &review["spec"];
    if spec["resourceAttributes"].is_null() == spec["nonResourceAttributes"].is_null() {
        return Err(ApiError::new(Status::bad_request(
            "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec: Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )));
    }
    Ok(json!({
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": spec,
        "status": {"allowed": true, "reason": REASON},
    }))
}

/// `POST /apis/authorization.k8s.io/v1/selfsubjectrulesreviews`: what the caller may do in a
/// namespace, which is everything.
pub async fn rules(headers: HeaderMap, body: Body) -> Response {
    answer(rules_review(&headers, body).await)
}

async fn rules_review(headers: &HeaderMap, body: Body) -> ApiResult<Value> {
    let review = crate::handlers::decode_body(headers, body).await?;
    crate::handlers::check_kind(&review, "SelfSubjectRulesReview")?;
    Ok(json!({
        "kind": "SelfSubjectRulesReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": review["spec"],
        "status": {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
        },
    }))
}

/// `POST /apis/authentication.k8s.io/v1/selfsubjectreviews`: who the caller is.
pub async fn whoami(user: Option<axum::Extension<User>>) -> Response {
    let (name, mut groups) = match user {
        Some(axum::Extension(u)) => (u.name, u.groups),
        None => ("system:admin".to_string(), vec!["system:masters".into()]),
    };
    // Upstream's authenticators add it to every authenticated user.
    if !groups.iter().any(|g| g == "system:authenticated") {
        groups.push("system:authenticated".into());
    }
    answer(Ok(json!({
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "status": {"userInfo": {"username": name, "groups": groups}},
    })))
}

fn answer(review: ApiResult<Value>) -> Response {
    match review {
        Ok(v) => json_response(StatusCode::CREATED, &v),
        Err(e) => e.into_response(),
    }
}
