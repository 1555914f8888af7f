//! Server-side apply (`PATCH` with `application/apply-patch+yaml`, what `kubectl apply
//! --server-side`, Helm 4 and kube-rs's `Patch::Apply` send) and the `managedFields` of other
//! writes to applied objects. The merge, ownership and conflicts are
//! [`runlet_api::apply`]'s; this is the request around them: options, decoding, create or
//! update, retries on a concurrent write, and the 409 upstream answers conflicts with.

use super::write::{admit_decoded, admit_patched, check_namespace_matches, update_target};
use super::{Decoded, Query, Target, json_bytes_response};
use crate::error::{ApiError, ApiResult};
use crate::registry::{self, UpdateTarget, WriteOptions};
use crate::state::AppState;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use runlet_api::apply::{self, ApplyError, Conflicts, Writer};
use runlet_api::meta;
use runlet_api::resources::ResourceInfo;
use runlet_api::status::{Cause, Status};
use serde_json::Value;

/// The media type of an apply patch.
pub const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// Whether a `PATCH` with this `Content-Type` is a server-side apply.
pub fn is_apply(content_type: &str) -> bool {
    content_type.split(';').next().unwrap_or("").trim() == APPLY_PATCH
}

/// The field manager of a write: `fieldManager`, else the user agent's first part.
fn manager(query: &Query, headers: &HeaderMap) -> String {
    match query.get("fieldManager").filter(|m| !m.is_empty()) {
        Some(m) => m.to_string(),
        None => apply::manager_from_user_agent(
            headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default(),
        ),
    }
}

fn subresource(target: &Target) -> &'static str {
    match update_target(target) {
        UpdateTarget::Status => "status",
        _ => "",
    }
}

/// Sets `new`'s `managedFields` for a write that is not an apply: kept up to date for an
/// object that has them, none for one that has not (whatever the client sent).
pub fn track_update(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    old: &Value,
    new: &mut Value,
) {
    let has_entries = old
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let info = target.info;
    let tracked = has_entries
        .then(|| runlet_api::openapi::kind_node(info.group, info.version, info.kind))
        .flatten()
        .and_then(|node| {
            let manager = manager(query, headers);
            let now = registry::now_rfc3339(state);
            let api_version = info.api_version();
            let writer = Writer {
                manager: &manager,
                api_version: &api_version,
                subresource: subresource(target),
                now: &now,
            };
            apply::track_update(old, new, node, &writer)
        });
    apply::set_managed_fields(new, tracked.unwrap_or_default());
}

/// A configuration's group, version and kind as Go prints a `GroupVersionKind`:
/// `batch/v1, Kind=Job`, `/v1, Kind=ConfigMap`, `/, Kind=` for none.
fn gvk_text(config: &Value) -> String {
    let api_version = config["apiVersion"].as_str().unwrap_or_default();
    let kind = config["kind"].as_str().unwrap_or_default();
    if api_version.contains('/') {
        format!("{api_version}, Kind={kind}")
    } else {
        format!("/{api_version}, Kind={kind}")
    }
}

/// The 409 of an apply that would take fields from other managers (`NewApplyConflict`).
fn conflict_error(conflicts: &Conflicts) -> ApiError {
    let causes = conflicts
        .causes()
        .iter()
        .map(|(manager, path)| Cause {
            reason: "FieldManagerConflict".into(),
            message: format!("conflict with {manager}"),
            field: path.clone(),
        })
        .collect();
    ApiError::new(Status::apply_conflict(conflicts.message(), causes))
}

fn decode_config(bytes: &[u8]) -> ApiResult<Value> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::new(Status::bad_request("the apply patch is not valid UTF-8")))?;
    let config: Value = serde_saphyr::from_str(text)
        .map_err(|e| ApiError::new(Status::bad_request(format!("error decoding YAML: {e}"))))?;
    if !config.is_object() {
        return Err(ApiError::new(Status::bad_request(
            "the apply patch must be a YAML or JSON object",
        )));
    }
    Ok(config)
}

/// `PATCH` with an apply patch: creates the object if it does not exist (on the main
/// resource), else merges the configuration into it.
pub async fn apply_patch(
    state: &AppState,
    target: &Target,
    query: &Query,
    bytes: &[u8],
) -> ApiResult<Response> {
    let info: &'static ResourceInfo = target.info;
    let name = target.name.as_deref().unwrap_or_default();
    let config = decode_config(bytes)?;
    let api_version = info.api_version();
    if config["apiVersion"].as_str() != Some(api_version.as_str())
        || config["kind"].as_str() != Some(info.kind)
    {
        return Err(ApiError::new(Status::bad_request(format!(
            "invalid object type: {}",
            gvk_text(&config)
        ))));
    }
    super::write::check_name_matches(name, &config)?;
    let Some(node) = runlet_api::openapi::kind_node(info.group, info.version, info.kind) else {
        return Err(ApiError::new(Status::unsupported_media_type(APPLY_PATCH)));
    };
    let manager = query.get("fieldManager").unwrap_or_default().to_string();
    let subresource = subresource(target);
    let opts = WriteOptions {
        dry_run: query.dry_run(),
        trusted: false,
        managed_fields: true,
    };
    for _ in 0..10 {
        let live = match registry::get(state, info, target.namespace.as_deref(), name).await {
            Ok(live) => Some(live),
            Err(e) if e.0.code == 404 && subresource.is_empty() => None,
            Err(e) => return Err(e),
        };
        let now = registry::now_rfc3339(state);
        let writer = Writer {
            manager: &manager,
            api_version: &api_version,
            subresource,
            now: &now,
        };
        let applied = apply::apply(live.as_deref(), &config, node, &writer, query.flag("force"))
            .map_err(|e| match e {
                ApplyError::Conflicts(c) => conflict_error(&c),
                ApplyError::DuplicateKey(why) => {
                    ApiError::new(Status::apply_patch_invalid(format!(
                        "failed to create typed patch object ({}): {why}",
                        gvk_text(&config)
                    )))
                }
            })?;
        let Some(old) = live else {
            let decoded = Decoded {
                value: applied.object,
                duplicates: Vec::new(),
                json: None,
            };
            let (mut obj, warnings) = admit_decoded(info, decoded, query, None)?;
            check_namespace_matches(target, &obj)?;
            apply::set_managed_fields(&mut obj, applied.managed_fields);
            match registry::create(state, info, target.namespace.as_deref(), obj, opts).await {
                Ok(created) => {
                    let mut warnings = warnings;
                    warnings.extend(runlet_api::warnings::on_create(info, &created.object));
                    return Ok(json_bytes_response(
                        StatusCode::CREATED,
                        created.json(),
                        &warnings,
                    ));
                }
                // Created meanwhile: apply to what is there now.
                Err(e) if e.0.code == 409 => continue,
                Err(e) => return Err(e),
            }
        };
        if let Some(rv) = meta::resource_version(&config)
            && Some(rv) != meta::resource_version(&old)
        {
            return Err(ApiError::new(Status::conflict_modified(info, name)));
        }
        let (mut new, mut warnings) = admit_patched(info, applied.object, &old, query)?;
        apply::set_managed_fields(&mut new, applied.managed_fields);
        match registry::update(state, info, &old, new, update_target(target), opts).await {
            Ok(updated) => {
                if subresource.is_empty() {
                    warnings.extend(runlet_api::warnings::on_update(info, &updated.object, &old));
                }
                return Ok(json_bytes_response(
                    StatusCode::OK,
                    updated.json(),
                    &warnings,
                ));
            }
            Err(e) if registry::is_conflict(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::new(Status::conflict_modified(info, name)))
}
