//! `metav1.Status` bodies, worded exactly as the Kubernetes API server words them.
//!
//! kubectl prints `Error from server (<reason>): <message>` and the client libraries match on
//! `reason` and `code`, so each constructor copies upstream's `k8s.io/apimachinery/pkg/api/errors`.

use crate::field::{FieldError, aggregate_message};
use crate::resources::ResourceInfo;
use serde_json::{Value, json};

/// One `Status.details.causes[]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// A failure `metav1.Status`.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub name: Option<String>,
    pub group: Option<String>,
    /// `details.kind`: the resource plural for most errors, the kind for `Invalid`.
    pub kind: Option<String>,
    pub causes: Vec<Cause>,
    pub retry_after_seconds: Option<u32>,
    /// `metadata.continue`: a token to go on with, in the 410 of an expired one.
    pub continue_token: Option<String>,
}

impl Status {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Status {
            code,
            reason,
            message: message.into(),
            name: None,
            group: None,
            kind: None,
            causes: Vec::new(),
            retry_after_seconds: None,
            continue_token: None,
        }
    }

    fn about(mut self, info: &ResourceInfo, name: &str, kind: &str) -> Self {
        self.name = Some(name.to_string());
        self.group = Some(info.group.to_string());
        self.kind = Some(kind.to_string());
        self
    }

    /// 404 `jobs.batch "x" not found`.
    pub fn not_found(info: &ResourceInfo, name: &str) -> Self {
        Status::new(
            404,
            "NotFound",
            format!("{} {name:?} not found", info.qualified_plural()),
        )
        .about(info, name, info.plural)
    }

    /// 409 `jobs.batch "x" already exists`.
    pub fn already_exists(info: &ResourceInfo, name: &str) -> Self {
        Status::new(
            409,
            "AlreadyExists",
            format!("{} {name:?} already exists", info.qualified_plural()),
        )
        .about(info, name, info.plural)
    }

    /// 409 Conflict for a stale resourceVersion.
    pub fn conflict_modified(info: &ResourceInfo, name: &str) -> Self {
        Self::conflict(
            info,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 409 Conflict with a reason of the caller's.
    pub fn conflict(info: &ResourceInfo, name: &str, why: &str) -> Self {
        Status::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} {name:?}: {why}",
                info.qualified_plural()
            ),
        )
        .about(info, name, info.plural)
    }

    /// 409 as upstream's `BeforeDelete` words a failed delete precondition: the object named
    /// by its kind (`Operation cannot be fulfilled on Job.batch "x": ...`).
    pub fn conflict_of_kind(info: &ResourceInfo, name: &str, why: &str) -> Self {
        let subject = if info.group.is_empty() {
            info.kind.to_string()
        } else {
            format!("{}.{}", info.kind, info.group)
        };
        Status::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {subject} {name:?}: {why}"),
        )
        .about(info, name, info.kind)
    }

    /// 422 `Job.batch "x" is invalid: ...` with one cause per field error.
    pub fn invalid(info: &ResourceInfo, name: &str, errors: &[FieldError]) -> Self {
        Status::invalid_kind(info.group, info.kind, name, errors)
    }

    /// The 409 of a server-side apply that would take fields other managers own
    /// (`NewApplyConflict`): the conflicts as causes, no object details.
    pub fn apply_conflict(message: impl Into<String>, causes: Vec<Cause>) -> Self {
        let mut s = Status::new(409, "Conflict", message);
        s.causes = causes;
        s
    }

    /// An apply configuration that cannot be made a typed object (two list items with one
    /// key): upstream answers it with a bare 500 carrying the message, no reason.
    pub fn apply_patch_invalid(message: impl Into<String>) -> Self {
        Status::new(500, "", message)
    }

    /// 422 that a patch could not be applied (a JSON patch's path missing), as upstream's
    /// `NewGenericServerResponse(422, ...)`: a fixed message, the reason as the one cause, no
    /// object details; kubectl prints "The request is invalid" and the cause.
    pub fn patch_rejected(why: impl Into<String>) -> Self {
        let mut s = Status::new(
            422,
            "Invalid",
            "the server rejected our request due to an error in our request",
        );
        s.causes = vec![Cause {
            reason: "UnexpectedServerResponse".into(),
            message: why.into(),
            field: String::new(),
        }];
        s
    }

    /// 422 for an object of a kind that is not a resource of its own (`PodLogOptions "p" is
    /// invalid: ...`), as upstream's `NewInvalid(Kind(...), ...)`.
    pub fn invalid_kind(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> Self {
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let mut s = Status::new(
            422,
            "Invalid",
            format!(
                "{qualified} {name:?} is invalid: {}",
                aggregate_message(errors)
            ),
        );
        s.name = Some(name.to_string());
        s.group = Some(group.to_string());
        s.kind = Some(kind.to_string());
        s.causes = errors
            .iter()
            .map(|e| Cause {
                reason: e.error_type.reason().to_string(),
                message: e.body(),
                field: e.field.clone(),
            })
            .collect();
        s
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Status::new(400, "BadRequest", message)
    }

    /// 401 Unauthorized.
    pub fn unauthorized() -> Self {
        Status::new(401, "Unauthorized", "Unauthorized")
    }

    /// 403 Forbidden on a resource.
    pub fn forbidden(info: &ResourceInfo, name: &str, why: &str) -> Self {
        let subject = if name.is_empty() {
            info.qualified_plural()
        } else {
            format!("{} {name:?}", info.qualified_plural())
        };
        Status::new(403, "Forbidden", format!("{subject} is forbidden: {why}")).about(
            info,
            name,
            info.plural,
        )
    }

    /// 410 Expired for a compacted resourceVersion.
    pub fn expired(message: impl Into<String>) -> Self {
        Status::new(410, "Expired", message)
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Status::new(405, "MethodNotAllowed", message)
    }

    /// 413 RequestEntityTooLarge with its own message (a JSON patch of too many operations).
    pub fn too_large_because(message: impl Into<String>) -> Self {
        Status::new(413, "RequestEntityTooLarge", message)
    }

    /// 413 RequestEntityTooLarge.
    pub fn too_large(limit: usize) -> Self {
        Status::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Status::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {content_type:?})"
            ),
        )
    }

    /// 415 for a PATCH whose body is none of the patch types, which upstream's patch
    /// handler lists.
    pub fn unsupported_patch_type() -> Self {
        Status::new(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml",
        )
    }

    /// 404 for a path that names nothing we serve.
    pub fn path_not_found() -> Self {
        Status::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 406 NotAcceptable.
    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Status::new(406, "NotAcceptable", message)
    }

    /// 500 InternalError.
    pub fn internal(message: impl Into<String>) -> Self {
        Status::new(
            500,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }

    /// 503 ServiceUnavailable.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Status::new(503, "ServiceUnavailable", message)
    }

    /// 500 with no reason: what upstream's handlers answer for a storage error that is no
    /// `Status` of its own (`ErrorToAPIStatus`), such as a create that names a resourceVersion.
    pub fn unknown_failure(message: impl Into<String>) -> Self {
        Status::new(500, "", message)
    }

    /// The JSON body.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "code": self.code,
        });
        if let Some(token) = &self.continue_token {
            body["metadata"]["continue"] = json!(token);
        }
        // `StatusReasonUnknown` is empty, and left out (`omitempty`).
        if !self.reason.is_empty() {
            body["reason"] = json!(self.reason);
        }
        let mut details = serde_json::Map::new();
        if let Some(name) = &self.name {
            details.insert("name".into(), json!(name));
        }
        if let Some(group) = self.group.as_deref().filter(|g| !g.is_empty()) {
            details.insert("group".into(), json!(group));
        }
        if let Some(kind) = &self.kind {
            details.insert("kind".into(), json!(kind));
        }
        if !self.causes.is_empty() {
            let causes: Vec<Value> = self
                .causes
                .iter()
                .map(|c| {
                    // `field` is omitted when empty, as upstream's `omitempty`.
                    let mut cause = json!({"reason": c.reason, "message": c.message});
                    if !c.field.is_empty() {
                        cause["field"] = json!(c.field);
                    }
                    cause
                })
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        if let Some(secs) = self.retry_after_seconds {
            details.insert("retryAfterSeconds".into(), json!(secs));
        }
        // Upstream's `NewNotFound` always carries details, empty ones for a path the server
        // does not serve; kubectl reads them without looking (`kubectl debug` tells a missing
        // subresource from a missing pod by `details.name`).
        if !details.is_empty() || self.reason == "NotFound" {
            body["details"] = Value::Object(details);
        }
        body
    }
}

/// The `Status` a successful delete of a collection-less object returns for some kinds.
pub fn success(details_name: &str, info: &ResourceInfo, uid: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details_of_success(details_name, info, uid),
    })
}

/// A success's `details`, the group left out when empty (upstream's `omitempty`).
fn details_of_success(name: &str, info: &ResourceInfo, uid: &str) -> Value {
    let mut details = json!({"name": name, "kind": info.plural, "uid": uid});
    if !info.group.is_empty() {
        details["group"] = json!(info.group);
    }
    details
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Path;
    use crate::resources::find;

    #[test]
    fn not_found_matches_upstream_wording() {
        let jobs = find("batch", "v1", "jobs").expect("jobs");
        let s = Status::not_found(jobs, "x").to_json();
        assert_eq!(s["message"], "jobs.batch \"x\" not found");
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["code"], 404);
        assert_eq!(s["details"]["kind"], "jobs");
        assert_eq!(s["details"]["group"], "batch");
    }

    #[test]
    fn a_path_not_served_is_not_found_with_empty_details() {
        let s = Status::path_not_found().to_json();
        assert_eq!(
            s["message"],
            "the server could not find the requested resource"
        );
        assert_eq!(s["details"], json!({}));
        assert!(Status::bad_request("x").to_json().get("details").is_none());
    }

    #[test]
    fn invalid_lists_causes_with_field_paths() {
        let jobs = find("batch", "v1", "jobs").expect("jobs");
        let p = Path::new("spec")
            .child("template")
            .child("spec")
            .child("restartPolicy");
        let err = FieldError::required(&p, "valid values: \"OnFailure\", \"Never\"");
        let s = Status::invalid(jobs, "pi", &[err]).to_json();
        assert_eq!(
            s["message"],
            "Job.batch \"pi\" is invalid: spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
        );
        assert_eq!(
            s["details"]["causes"][0]["field"],
            "spec.template.spec.restartPolicy"
        );
        assert_eq!(s["details"]["causes"][0]["reason"], "FieldValueRequired");
        assert_eq!(s["details"]["kind"], "Job");
    }
}
