//! `get` and `list`, with Table output, selectors and `limit`/`continue` pagination.

use super::{Query, Rendering, Target, json_response, metadata_shape_mismatch, partial_metadata};
use crate::error::{ApiError, ApiResult, store_status};
use crate::registry::{self, from_stored_as};
use crate::state::AppState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use runlet_api::selector::{FieldSelector, LabelSelector};
use runlet_api::status::Status;
use runlet_api::{meta, table};
use runlet_store::{ListOptions, Revision};
use serde_json::{Value, json};

/// `GET .../{name}` (and `/status`).
pub async fn get(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let name = target.name.as_deref().unwrap_or_default();
    // Any version at least as new as the one asked for: upstream's watch cache answers one it
    // has not reached "Too large resource version".
    if let Some(rv) = query
        .get("resourceVersion")
        .filter(|r| !r.is_empty() && *r != "0")
    {
        not_ahead_of_store(state, registry::parse_rv(rv)?)?;
    }
    let obj = registry::get(state, target.info, target.namespace.as_deref(), name).await?;
    match Rendering::of(headers) {
        Rendering::Table => {
            let mut t = table::to_table(target.info, std::slice::from_ref(&obj), state.now_unix());
            t["metadata"] =
                json!({"resourceVersion": meta::resource_version(&obj).unwrap_or_default()});
            Ok(json_response(StatusCode::OK, &t))
        }
        Rendering::Metadata { list: true } => Err(metadata_shape_mismatch(target.info, false)),
        Rendering::Metadata { list: false } => {
            Ok(json_response(StatusCode::OK, &partial_metadata(&obj)))
        }
        Rendering::Object => Ok(json_response(StatusCode::OK, &obj)),
    }
}

/// Refuses a read at `rv` when the store has not reached it, as upstream's watch cache does.
fn not_ahead_of_store(state: &AppState, rv: Revision) -> ApiResult<()> {
    let current = state.store.current_revision();
    if rv > current {
        return Err(ApiError::new(store_status(
            runlet_store::StoreError::FutureRevision {
                requested: rv,
                current,
            },
        )));
    }
    Ok(())
}

/// The revision of a continue token that goes on with the latest data, as upstream's `-1`.
const LATEST: Revision = -1;

/// The continue token: where a paginated list stopped, and at which revision.
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: Revision,
    start: String,
}

fn encode_continue(rv: Revision, start: &str) -> String {
    let json = serde_json::to_vec(&ContinueToken {
        rv,
        start: start.to_string(),
    })
    .unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_continue(token: &str) -> ApiResult<ContinueToken> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| ApiError::new(Status::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")))
}

/// Selectors of a list or watch request.
pub struct Filter {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Filter {
    pub fn from_query(target: &Target, query: &Query) -> ApiResult<Self> {
        // The parser's error says "unable to parse requirement" itself, as upstream's.
        let labels = LabelSelector::parse(query.get("labelSelector").unwrap_or(""))
            .map_err(|e| ApiError::new(Status::bad_request(e.to_string())))?;
        let mut field_text = query.get("fieldSelector").unwrap_or("").to_string();
        // A named watch (`/jobs/x?watch=true`) is a field selector on the name.
        if let Some(name) = &target.name {
            if !field_text.is_empty() {
                field_text.push(',');
            }
            field_text.push_str(&format!("metadata.name={name}"));
        }
        let fields = FieldSelector::parse(target.info, &field_text)
            .map_err(|e| ApiError::new(Status::bad_request(e.to_string())))?;
        Ok(Filter { labels, fields })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(meta::labels(obj)) && self.fields.matches(obj)
    }

    /// Whether every object matches (no label or field selector).
    pub fn matches_all(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }
}

/// The store prefix a request covers.
pub fn prefix_of(target: &Target) -> String {
    match (&target.namespace, target.info.namespaced) {
        (Some(ns), true) => target.info.namespace_prefix(ns),
        _ => target.info.key_prefix(),
    }
}

/// A list's answer.
pub struct Listed {
    pub items: Vec<Value>,
    /// The revision the list reflects.
    pub revision: Revision,
    /// Where the next page starts, when `limit` cut the list short.
    pub continue_token: Option<String>,
    /// How many objects follow a cut list that selects every object (upstream counts them
    /// only then: with a selector it would have to read them all).
    pub remaining: Option<usize>,
}

/// Lists matching objects.
pub async fn list_objects(state: &AppState, target: &Target, query: &Query) -> ApiResult<Listed> {
    let filter = Filter::from_query(target, query)?;
    let limit = query
        .int("limit")?
        .filter(|l| *l > 0)
        .map(|l| l as usize)
        .unwrap_or(0);
    let mut opts = ListOptions::default();
    if let Some(token) = query.get("continue").filter(|t| !t.is_empty()) {
        if query
            .get("resourceVersion")
            .is_some_and(|rv| !rv.is_empty() && rv != "0")
        {
            return Err(ApiError::new(Status::bad_request(
                "specifying resource version is not allowed when using continue",
            )));
        }
        let c = decode_continue(token)?;
        opts.revision = (c.rv != LATEST).then_some(c.rv);
        opts.start_after = Some(c.start);
    } else if let Some(rv) = query
        .get("resourceVersion")
        .filter(|r| !r.is_empty() && *r != "0")
    {
        let rv = registry::parse_rv(rv)?;
        // `Exact`, and the legacy meaning of a resourceVersion with a limit and no match
        // (upstream's etcd3 `GetList`: the list as it was at that revision).
        let exact = match query.get("resourceVersionMatch").unwrap_or_default() {
            "Exact" => true,
            "" => limit > 0,
            _ => false,
        };
        if exact {
            opts.revision = Some(rv);
        } else {
            not_ahead_of_store(state, rv)?;
        }
    }
    let prefix = prefix_of(target);
    let mut items = Vec::new();
    let mut revision = None;
    let mut next = None;
    loop {
        let page_opts = ListOptions {
            limit: if limit > 0 { limit.max(100) } else { 0 },
            ..opts.clone()
        };
        let page = state.store.list(&prefix, &page_opts).await.map_err(|e| match e {
            runlet_store::StoreError::Compacted { .. } if query.get("continue").is_some() => {
                // Upstream's `handleCompactedErrorForPaging`: a token for the rest of the
                // list as it is now.
                let mut s = Status::expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                );
                s.continue_token = page_opts
                    .start_after
                    .as_deref()
                    .map(|start| encode_continue(LATEST, start));
                ApiError::new(s)
            }
            // Upstream's etcd3 `interpretListError` for a list at a compacted revision.
            runlet_store::StoreError::Compacted { .. } => ApiError::new(Status::expired(
                "The resourceVersion for the provided list is too old.",
            )),
            other => ApiError::new(store_status(other)),
        })?;
        let rev = page.revision;
        revision.get_or_insert(rev);
        opts.revision = Some(rev);
        let mut last_key = None;
        for kv in &page.items {
            last_key = Some(kv.key.clone());
            let obj = from_stored_as(target.info, kv)?;
            if filter.matches(&obj) {
                items.push(obj);
                if limit > 0 && items.len() == limit {
                    // Stop here; more may follow.
                    let after_in_page = page.items.iter().rev().take_while(|l| l.key != kv.key);
                    let remaining = after_in_page.count() + page.remaining;
                    if remaining > 0 {
                        next = Some(encode_continue(rev, &kv.key));
                    }
                    return Ok(Listed {
                        items,
                        revision: rev,
                        continue_token: next,
                        remaining: (remaining > 0 && filter.matches_all()).then_some(remaining),
                    });
                }
            }
        }
        match (page.more(), last_key) {
            (true, Some(k)) => opts.start_after = Some(k),
            _ => break,
        }
    }
    Ok(Listed {
        items,
        revision: revision.unwrap_or_else(|| state.store.current_revision()),
        continue_token: next,
        remaining: None,
    })
}

/// `GET` on a collection.
pub async fn list(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let Listed {
        items,
        revision: rev,
        continue_token,
        remaining,
    } = list_objects(state, target, query).await?;
    let mut list_meta = json!({"resourceVersion": rev.to_string()});
    if let Some(c) = continue_token {
        list_meta["continue"] = json!(c);
    }
    if let Some(n) = remaining {
        list_meta["remainingItemCount"] = json!(n);
    }
    match Rendering::of(headers) {
        Rendering::Table => {
            let mut t = table::to_table(target.info, &items, state.now_unix());
            if let Some(rows) = t["rows"].as_array_mut() {
                match query.get("includeObject") {
                    Some("Object") => {
                        for (row, obj) in rows.iter_mut().zip(items.iter()) {
                            row["object"] = obj.clone();
                        }
                    }
                    Some("None") => {
                        for row in rows.iter_mut() {
                            if let Some(row) = row.as_object_mut() {
                                row.remove("object");
                            }
                        }
                    }
                    None | Some("" | "Metadata") => {}
                    Some(other) => {
                        return Err(ApiError::new(Status::bad_request(format!(
                            "unrecognized includeObject value: {other:?}"
                        ))));
                    }
                }
            }
            t["metadata"] = list_meta;
            return Ok(json_response(StatusCode::OK, &t));
        }
        Rendering::Metadata { list: false } => {
            return Err(metadata_shape_mismatch(target.info, true));
        }
        Rendering::Metadata { list: true } => {
            let body = json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": list_meta,
                "items": items.iter().map(partial_metadata).collect::<Vec<_>>(),
            });
            return Ok(json_response(StatusCode::OK, &body));
        }
        Rendering::Object => {}
    }
    let body = json!({
        "kind": target.info.list_kind(),
        "apiVersion": target.info.api_version(),
        "metadata": list_meta,
        "items": items,
    });
    Ok(json_response(StatusCode::OK, &body))
}
