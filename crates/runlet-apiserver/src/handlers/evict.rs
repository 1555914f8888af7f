//! `POST pods/{name}/eviction`: the `policy/v1` Eviction API that `kubectl drain` uses, as
//! upstream's eviction REST (`pkg/registry/core/pod/storage/eviction.go`).
//!
//! runlet serves no PodDisruptionBudget kind, so no budget ever refuses an eviction: each one
//! marks the pod with a `DisruptionTarget` condition (`EvictionByEvictionAPI`, as upstream's
//! `addConditionAndDeletePod`), then deletes it as the Eviction's `deleteOptions` say (grace
//! period, preconditions, dry run).

use super::delete::{DeleteOptions, delete_object};
use super::{Query, Target, json_response};
use crate::error::{ApiError, ApiResult};
use crate::registry::{self, UpdateTarget, WriteOptions};
use crate::state::AppState;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use runlet_api::status::Status;
use serde_json::{Value, json};

/// Attempts at marking the pod before a conflict is the client's to retry.
const MARK_ATTEMPTS: usize = 5;

/// Evicts the pod `target` names.
pub async fn evict(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let name = target.name.as_deref().unwrap_or_default();
    let eviction = super::decode_body(headers, body).await?;
    super::check_kind(&eviction, "Eviction")?;
    if eviction["metadata"]["name"]
        .as_str()
        .is_some_and(|n| n != name)
    {
        return Err(ApiError::new(Status::bad_request(
            "name in URL does not match name in Eviction object",
        )));
    }
    let options = eviction.get("deleteOptions").filter(|o| !o.is_null());
    let opts = DeleteOptions::from_parts(query, options)?;
    let ns = target.namespace.as_deref();
    if !opts.dry_run {
        mark(state, target, ns, name).await?;
    }
    delete_object(state, target.info, ns, name, opts).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}),
    ))
}

/// Adds the `DisruptionTarget` condition, unless the pod has it or is being deleted already.
async fn mark(state: &AppState, target: &Target, ns: Option<&str>, name: &str) -> ApiResult<()> {
    for _ in 0..MARK_ATTEMPTS {
        let pod = registry::get(state, target.info, ns, name).await?;
        let conditions = pod["status"]["conditions"].as_array();
        let marked = conditions
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "DisruptionTarget" && c["status"] == "True");
        if marked || !pod["metadata"]["deletionTimestamp"].is_null() {
            return Ok(());
        }
        let mut new = Value::clone(&pod);
        let condition = json!({"type": "DisruptionTarget", "status": "True",
            "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting",
            "lastTransitionTime": registry::now_rfc3339(state)});
        let status = &mut new["status"];
        if !status.is_object() {
            *status = json!({});
        }
        let list = status["conditions"].take();
        let mut list: Vec<Value> = match list {
            Value::Array(l) => l,
            _ => Vec::new(),
        };
        list.retain(|c| c["type"] != "DisruptionTarget");
        list.push(condition);
        status["conditions"] = Value::Array(list);
        let opts = WriteOptions {
            trusted: true,
            ..WriteOptions::default()
        };
        match registry::update(state, target.info, &pod, new, UpdateTarget::Status, opts).await {
            Ok(_) => return Ok(()),
            Err(e) if registry::is_conflict(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::new(Status::conflict_modified(target.info, name)))
}
