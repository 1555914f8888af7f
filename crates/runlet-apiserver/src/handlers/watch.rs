//! `?watch=true`: a stream of `{"type": ..., "object": ...}` lines.
//!
//! With `resourceVersion` empty or `0` (or `sendInitialEvents=true`) the current state is sent
//! first as ADDED events, then changes after the list's revision. With selectors, an object
//! that starts or stops matching appears as ADDED or DELETED, as upstream's cacher does.
//! A compacted revision yields one ERROR event carrying a 410 `Expired` Status.
//! A client asking for a Table (`kubectl get -w`, `runlet get -w`) gets each object as a
//! one-row Table; as upstream's watch encoder does, only the first carries the column
//! definitions.

use super::read::{Filter, list_objects, prefix_of};
use super::{Query, Target, wants_table};
use crate::error::{ApiResult, store_status};
use crate::registry;
use crate::state::AppState;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use runlet_api::resources::ResourceInfo;
use runlet_api::table;
use runlet_store::{Event, EventKind, KeyValue, Revision};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::mpsc;

/// How often an idle watch that asked for bookmarks gets one.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(10);
/// The longest a watch stays open when the client names no timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

fn line(kind: &str, object: &Value) -> bytes::Bytes {
    let mut s = json!({"type": kind, "object": object}).to_string();
    s.push('\n');
    bytes::Bytes::from(s)
}

fn decode_event_value(
    info: &ResourceInfo,
    value: &bytes::Bytes,
    key: &str,
    revision: Revision,
) -> Option<Value> {
    registry::from_stored_as(
        info,
        &KeyValue {
            key: key.to_string(),
            value: value.clone(),
            mod_revision: revision,
        },
    )
    .ok()
}

/// The watch event type to send for a store event, if any, given the selectors.
fn classify(info: &ResourceInfo, e: &Event, filter: &Filter) -> Option<(&'static str, Value)> {
    let obj = decode_event_value(info, &e.value, &e.key, e.revision)?;
    let now = filter.matches(&obj);
    let before = || {
        e.prev_value
            .as_ref()
            .and_then(|p| decode_event_value(info, p, &e.key, e.revision))
            .map(|p| filter.matches(&p))
    };
    match e.kind {
        EventKind::Created => now.then_some(("ADDED", obj)),
        EventKind::Deleted => now.then_some(("DELETED", obj)),
        EventKind::Updated => match (before().unwrap_or(now), now) {
            (true, true) => Some(("MODIFIED", obj)),
            (false, true) => Some(("ADDED", obj)),
            (true, false) => Some(("DELETED", obj)),
            (false, false) => None,
        },
    }
}

/// Serves a watch.
pub async fn watch(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let tables = wants_table(headers).then(|| state.clone());
    let filter = Filter::from_query(target, query)?;
    let rv = query.get("resourceVersion").unwrap_or("");
    let send_initial = query.get("sendInitialEvents") == Some("true") || rv.is_empty() || rv == "0";
    let bookmarks = query.flag("allowWatchBookmarks");
    let timeout = query
        .int("timeoutSeconds")?
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t as u64))
        .unwrap_or(DEFAULT_TIMEOUT);

    let (initial, from) = if send_initial {
        let mut q = query.clone();
        q.0.remove("limit");
        q.0.remove("continue");
        if query.get("sendInitialEvents") != Some("true") {
            q.0.remove("resourceVersion");
        }
        let (items, rev, _) = list_objects(state, target, &q).await?;
        (items, rev)
    } else {
        (Vec::new(), registry::parse_rv(rv)?)
    };

    let (tx, rx) = mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(256);
    let stream = state.store.watch(&prefix_of(target), from);
    let info = target.info;
    let explicit_initial = query.get("sendInitialEvents") == Some("true");
    tokio::spawn(async move {
        let mut first_table = true;
        let mut encode = |obj: &Value| -> Value {
            let Some(state) = &tables else {
                return obj.clone();
            };
            let mut t = table::to_table(info, std::slice::from_ref(obj), state.now_unix());
            if !std::mem::take(&mut first_table)
                && let Some(m) = t.as_object_mut()
            {
                m.remove("columnDefinitions");
            }
            t
        };
        let mut stream = match stream {
            Ok(s) => s,
            Err(e) => {
                let status = store_status(e).to_json();
                let _ = tx.send(Ok(line("ERROR", &status))).await;
                return;
            }
        };
        for obj in &initial {
            if tx.send(Ok(line("ADDED", &encode(obj)))).await.is_err() {
                return;
            }
        }
        let mut last_rv = from;
        let bookmark = |rv: Revision, initial_end: bool| {
            let mut m = json!({"resourceVersion": rv.to_string()});
            if initial_end {
                m["annotations"] = json!({"k8s.io/initial-events-end": "true"});
            }
            line(
                "BOOKMARK",
                &json!({"kind": info.kind, "apiVersion": info.api_version(), "metadata": m}),
            )
        };
        if explicit_initial && bookmarks && tx.send(Ok(bookmark(from, true))).await.is_err() {
            return;
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                _ = ticker.tick(), if bookmarks => {
                    if tx.send(Ok(bookmark(last_rv, false))).await.is_err() {
                        return;
                    }
                }
                next = stream.next() => match next {
                    None => return,
                    Some(Err(e)) => {
                        let _ = tx.send(Ok(line("ERROR", &store_status(e).to_json()))).await;
                        return;
                    }
                    Some(Ok(event)) => {
                        last_rv = event.revision;
                        if let Some((kind, obj)) = classify(info, &event, &filter)
                            && tx.send(Ok(line(kind, &encode(&obj)))).await.is_err() {
                                return;
                            }
                    }
                }
            }
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}
