//! `create`, `update`, `patch` and the pods `binding` subresource.

use super::{
    Decoded, Query, Target, decode_body, decode_body_checked, json_bytes_response,
    json_response_with,
};
use crate::error::{ApiError, ApiResult};
use crate::registry::{self, UpdateTarget, WriteOptions};
use crate::state::AppState;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use runlet_api::codec;
use runlet_api::patch::{self, PatchType};
use runlet_api::resources::ResourceInfo;
use runlet_api::status::Status;
use runlet_api::{meta, resources};
use serde_json::{Value, json};

/// How unknown fields are treated (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldValidation {
    Strict,
    Warn,
    Ignore,
}

/// The mode of a write whose options [`Query::check_write_options`] accepted.
fn field_validation(query: &Query) -> FieldValidation {
    match query.get("fieldValidation") {
        Some("Strict") => FieldValidation::Strict,
        Some("Ignore") => FieldValidation::Ignore,
        _ => FieldValidation::Warn,
    }
}

/// Checks the body's apiVersion/kind against the URL's resource and decodes it into the
/// kind's type. Returns the normalized object and the warnings to send.
/// Admits a patched object: only what the patch changed in `current` is decoded again.
pub(super) fn admit_patched(
    info: &ResourceInfo,
    patched: Value,
    current: &Value,
    query: &Query,
) -> ApiResult<(Value, Vec<String>)> {
    admit_decoded(
        info,
        Decoded {
            value: patched,
            duplicates: Vec::new(),
            json: None,
        },
        query,
        Some(current),
    )
}

/// Checks a request object's apiVersion and kind, decodes it into its type (see
/// [`codec::normalize`]; against `current` when it replaces a stored object) and applies the
/// field validation mode to its unknown and duplicate fields.
pub(super) fn admit_decoded(
    info: &ResourceInfo,
    decoded: Decoded,
    query: &Query,
    current: Option<&Value>,
) -> ApiResult<(Value, Vec<String>)> {
    let body = decoded.value;
    let mode = field_validation(query);
    if !body.is_object() {
        return Err(ApiError::new(Status::bad_request(
            "the request body must be a JSON or YAML object",
        )));
    }
    if let Some(av) = body
        .get("apiVersion")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        && av != info.api_version()
    {
        return Err(ApiError::new(Status::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({})",
            info.api_version()
        ))));
    }
    super::check_kind(&body, info.kind)?;
    let normalized = match current {
        Some(current) => codec::normalize_changed(info, body, current),
        None => codec::normalize(info, body),
    }
    .map_err(|mut e| {
        // The path is looked for only now, in the body as sent (a patch's has none).
        if let Some(path) = decoded
            .json
            .as_deref()
            .and_then(|json| codec::failing_field(info, json))
        {
            e.detail = format!("{path}: {}", e.detail);
        }
        ApiError::new(Status::bad_request(e.to_string()))
    })?;
    let unknown: Vec<String> = decoded
        .duplicates
        .iter()
        .map(|f| format!("duplicate field {f:?}"))
        .chain(
            normalized
                .unknown_fields
                .iter()
                .map(|f| format!("unknown field {f:?}")),
        )
        .collect();
    match mode {
        FieldValidation::Strict if !unknown.is_empty() => {
            let strict = format!("strict decoding error: {}", unknown.join(", "));
            // A created or replaced body's decoding errors go through upstream's
            // `transformDecodeError`, which names the kind; a patch's come as they are.
            let message = match decoded.json {
                Some(_) => codec::DecodeError {
                    kind: info.kind.to_string(),
                    version: info.version.to_string(),
                    detail: strict,
                }
                .to_string(),
                None => strict,
            };
            Err(ApiError::new(Status::bad_request(message)))
        }
        FieldValidation::Warn => Ok((normalized.object, unknown)),
        _ => Ok((normalized.object, Vec::new())),
    }
}

pub(super) fn check_namespace_matches(target: &Target, obj: &Value) -> ApiResult<()> {
    if let (Some(url_ns), Some(body_ns)) = (target.namespace.as_deref(), meta::namespace(obj))
        && target.info.namespaced
        && url_ns != body_ns
    {
        return Err(ApiError::new(Status::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )));
    }
    Ok(())
}

/// Upstream's `checkName`: an object written to a URL must carry that URL's name (a body
/// without a name takes it from the URL).
pub(super) fn check_name_matches(name: &str, obj: &Value) -> ApiResult<()> {
    match meta::name(obj) {
        Some(body_name) if body_name != name => Err(ApiError::new(Status::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )))),
        _ => Ok(()),
    }
}

/// A UID precondition (`asked`, when not empty) against the stored object `current`: another
/// object of the name is upstream's 409 `Precondition failed`.
fn check_uid_precondition(
    info: &ResourceInfo,
    name: &str,
    asked: Option<&str>,
    current: &Value,
) -> ApiResult<()> {
    match asked.filter(|u| !u.is_empty()) {
        Some(uid) if Some(uid) != meta::uid(current) => Err(ApiError::new(Status::conflict(
            info,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta::uid(current).unwrap_or_default()
            ),
        ))),
        _ => Ok(()),
    }
}

/// A patched object must stay in the request's namespace (upstream's `checkName`).
fn check_patched_namespace(target: &Target, obj: &Value) -> ApiResult<()> {
    match (target.namespace.as_deref(), meta::namespace(obj)) {
        (Some(ns), Some(obj_ns)) if !ns.is_empty() && !obj_ns.is_empty() && ns != obj_ns => {
            Err(ApiError::new(Status::bad_request(format!(
                "the namespace of the object ({obj_ns}) does not match the namespace on the request ({ns})"
            ))))
        }
        _ => Ok(()),
    }
}

/// `POST` to a collection.
pub async fn create(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    if target.info.namespaced && target.namespace.is_none() {
        return Err(ApiError::new(Status::path_not_found()));
    }
    query.check_write_options("CreateOptions")?;
    let body = decode_body_checked(headers, body).await?;
    let (obj, mut warnings) = admit_decoded(target.info, body, query, None)?;
    check_namespace_matches(target, &obj)?;
    // Upstream's storage refuses it (`ErrResourceVersionSetOnCreate`); its dry run, which
    // stores nothing, does not look.
    if !query.dry_run() && meta::resource_version(&obj).is_some_and(|rv| !rv.is_empty()) {
        return Err(ApiError::new(Status::unknown_failure(
            "resourceVersion should not be set on objects to be created",
        )));
    }
    let created = registry::create(
        state,
        target.info,
        target.namespace.as_deref(),
        obj,
        WriteOptions {
            dry_run: query.dry_run(),
            ..WriteOptions::default()
        },
    )
    .await?;
    warnings.extend(runlet_api::warnings::on_create(
        target.info,
        &created.object,
    ));
    Ok(json_bytes_response(
        StatusCode::CREATED,
        created.json(),
        &warnings,
    ))
}

/// The strategy's warnings for an update of `old` that wrote `updated` (none through
/// `/status`, as upstream's status strategies give none).
fn update_warnings(target: &Target, updated: &Value, old: &Value) -> Vec<String> {
    match update_target(target) {
        UpdateTarget::Status => Vec::new(),
        _ => runlet_api::warnings::on_update(target.info, updated, old),
    }
}

pub(super) fn update_target(target: &Target) -> UpdateTarget {
    match target.subresource.as_deref() {
        Some("status") => UpdateTarget::Status,
        _ => UpdateTarget::Main,
    }
}

/// `PUT` on an object or its status.
pub async fn update(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let name = target.name.as_deref().unwrap_or_default();
    query.check_write_options("UpdateOptions")?;
    let body = decode_body_checked(headers, body).await?;
    let admit = |body: Decoded, current: Option<&Value>| -> ApiResult<(Value, Vec<String>)> {
        let (new, warnings) = admit_decoded(target.info, body, query, current)?;
        check_namespace_matches(target, &new)?;
        check_name_matches(name, &new)?;
        Ok((new, warnings))
    };
    // The stored object first, so that only the fields the body changes are decoded again; a
    // bad body is still reported before a missing object, as upstream decodes first.
    let stored = match registry::get(state, target.info, target.namespace.as_deref(), name).await {
        Ok(stored) => stored,
        Err(e) => {
            admit(body, None)?;
            return Err(e);
        }
    };
    let (new, mut warnings) = admit(body, Some(&stored))?;
    let opts = WriteOptions {
        dry_run: query.dry_run(),
        trusted: false,
        managed_fields: true,
    };
    let requested_rv = meta::resource_version(&new).map(str::to_string);
    let mut first = Some(stored);
    loop {
        let old = match first.take() {
            Some(old) => old,
            None => registry::get(state, target.info, target.namespace.as_deref(), name).await?,
        };
        if let Some(rv) = &requested_rv
            && Some(rv.as_str()) != meta::resource_version(&old)
        {
            return Err(ApiError::new(Status::conflict_modified(target.info, name)));
        }
        // Upstream's `DefaultUpdatedObjectInfo` makes the body's UID a precondition of the
        // update: another object of the name is a conflict (a patch's UID is a field change).
        check_uid_precondition(target.info, name, meta::uid(&new), &old)?;
        let mut new = new.clone();
        super::apply::track_update(state, target, query, headers, &old, &mut new);
        match registry::update(state, target.info, &old, new, update_target(target), opts).await {
            Ok(updated) => {
                warnings.extend(update_warnings(target, &updated.object, &old));
                return Ok(json_bytes_response(
                    StatusCode::OK,
                    updated.json(),
                    &warnings,
                ));
            }
            Err(e) if requested_rv.is_none() && registry::is_conflict(&e) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `PATCH` on an object or its status.
pub async fn patch(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let name = target.name.as_deref().unwrap_or_default();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if super::apply::is_apply(content_type) {
        query.check_patch_options(true)?;
        let bytes = super::read_body(body).await?;
        return super::apply::apply_patch(state, target, query, &bytes).await;
    }
    let Some(patch_type) = PatchType::from_content_type(content_type) else {
        return Err(ApiError::new(Status::unsupported_patch_type()));
    };
    query.check_patch_options(false)?;
    let bytes = super::read_body(body).await?;
    let patch_body: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(Status::bad_request(format!("error decoding patch: {e}"))))?;
    let opts = WriteOptions {
        dry_run: query.dry_run(),
        trusted: false,
        managed_fields: true,
    };
    for _ in 0..10 {
        let old = registry::get(state, target.info, target.namespace.as_deref(), name).await?;
        let patched =
            patch::apply(target.info, patch_type, &old, &patch_body).map_err(|e| match e {
                patch::PatchError::Malformed(m) => ApiError::new(Status::bad_request(m)),
                e @ patch::PatchError::TooManyOperations(_) => {
                    ApiError::new(Status::too_large_because(e.to_string()))
                }
                patch::PatchError::Conflict(m) => ApiError::new(Status::patch_rejected(m)),
            })?;
        check_name_matches(name, &patched)?;
        check_patched_namespace(target, &patched)?;
        let (mut new, mut warnings) = admit_patched(target.info, patched, &old, query)?;
        super::apply::track_update(state, target, query, headers, &old, &mut new);
        // A patch that leaves the resourceVersion as it was is conditional on the version it
        // was applied to; one that removes it (`kubectl apply`'s three-way patch does, when
        // the last-applied configuration recorded one) is unconditional, as upstream's store
        // updates an object whose new resourceVersion is 0.
        let requested_rv = meta::resource_version(&new).map(str::to_string);
        if let Some(rv) = requested_rv.as_deref()
            && Some(rv) != meta::resource_version(&old)
        {
            return Err(ApiError::new(Status::conflict_modified(target.info, name)));
        }
        match registry::update(state, target.info, &old, new, update_target(target), opts).await {
            Ok(updated) => {
                warnings.extend(update_warnings(target, &updated.object, &old));
                return Ok(json_bytes_response(
                    StatusCode::OK,
                    updated.json(),
                    &warnings,
                ));
            }
            Err(e)
                if registry::is_conflict(&e)
                    && (requested_rv.is_none() || patch_sets_no_rv(&patch_body)) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::new(Status::conflict_modified(target.info, name)))
}

fn patch_sets_no_rv(patch: &Value) -> bool {
    patch
        .get("metadata")
        .and_then(|m| m.get("resourceVersion"))
        .is_none()
}

/// `POST pods/{name}/binding`: assigns a pod to a node, as the scheduler does.
pub async fn bind(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let name = target.name.as_deref().unwrap_or_default();
    query.check_write_options("CreateOptions")?;
    let body = decode_body(headers, body).await?;
    let binding_info = ResourceInfo {
        kind: "Binding",
        plural: "bindings",
        singular: "binding",
        ..target.info.clone()
    };
    let binding = codec::normalize(&binding_info, body)
        .map_err(|e| ApiError::new(Status::bad_request(e.to_string())))?
        .object;
    let node = binding["target"]["name"].as_str().unwrap_or("").to_string();
    if node.is_empty() {
        let e = runlet_api::field::FieldError::required(
            &runlet_api::field::Path::new("target").child("name"),
            "",
        );
        return Err(ApiError::new(Status::invalid(&binding_info, name, &[e])));
    }
    let pods = resources::find("", "v1", "pods")
        .ok_or_else(|| ApiError::new(Status::internal("no pods")))?;
    loop {
        let old = registry::get(state, pods, target.namespace.as_deref(), name).await?;
        if let Some(current) = old["spec"]["nodeName"].as_str().filter(|s| !s.is_empty()) {
            return Err(ApiError::new(Status::conflict(
                pods,
                name,
                &format!("pod {name} is already assigned to node {current:?}"),
            )));
        }
        if meta::is_deleting(&old) {
            return Err(ApiError::new(Status::conflict(
                pods,
                name,
                "pod is being deleted",
            )));
        }
        // Upstream `setPodNodeAndMetadata` and the binding's UID precondition.
        if old["spec"]["schedulingGates"]
            .as_array()
            .is_some_and(|g| !g.is_empty())
        {
            return Err(ApiError::new(Status::conflict(
                pods,
                name,
                &format!("pod {name} has non-empty .spec.schedulingGates"),
            )));
        }
        check_uid_precondition(pods, name, binding["metadata"]["uid"].as_str(), &old)?;
        let mut new = Value::clone(&old);
        new["spec"]["nodeName"] = json!(node);
        let mut conditions = new["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        conditions.retain(|c| c["type"] != "PodScheduled");
        conditions.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": registry::now_rfc3339(state)}));
        new["status"]["conditions"] = Value::Array(conditions);
        // One write for the node and the condition, as upstream's binding storage.
        let step = registry::update(
            state,
            pods,
            &old,
            new,
            UpdateTarget::Whole,
            WriteOptions {
                dry_run: query.dry_run(),
                trusted: true,
                ..WriteOptions::default()
            },
        )
        .await;
        match step {
            Ok(_) => {
                let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
                return Ok(json_response_with(StatusCode::CREATED, &body, &[]));
            }
            Err(e) if registry::is_conflict(&e) => continue,
            Err(e) => return Err(e),
        }
    }
}
