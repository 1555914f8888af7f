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
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    if serde_json::to_writer(&mut out, object).is_err() {
        out.extend_from_slice(b"null");
    }
    out.extend_from_slice(b"}\n");
    bytes::Bytes::from(out)
}

/// The watch line for a stored object without decoding it (see
/// [`registry::splice_resource_version`]); `None` for objects not stored as the server writes
/// them, which take the decoding path. With every watcher of every pod event taking this path,
/// a watch costs a copy instead of a JSON parse and print.
fn raw_line(kind: &str, stored: &[u8], revision: Revision) -> Option<bytes::Bytes> {
    let mut out = Vec::with_capacity(stored.len() + 64);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    if !registry::splice_resource_version(&mut out, stored, revision) {
        return None;
    }
    out.extend_from_slice(b"}\n");
    Some(bytes::Bytes::from(out))
}

fn event_type(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Created => "ADDED",
        EventKind::Updated => "MODIFIED",
        EventKind::Deleted => "DELETED",
    }
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
        EventKind::Updated if filter.matches_all() => now.then_some(("MODIFIED", obj)),
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
    let match_all = filter.matches_all();
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
                        let fast = (match_all && !info.is_alias() && tables.is_none())
                            .then(|| raw_line(event_type(event.kind), &event.value, event.revision))
                            .flatten();
                        let out = match fast {
                            Some(l) => Some(l),
                            None => classify(info, &event, &filter)
                                .map(|(kind, obj)| line(kind, &encode(&obj))),
                        };
                        if let Some(out) = out
                            && tx.send(Ok(out)).await.is_err() {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn decoded_line(kind: &str, stored: &[u8], revision: Revision) -> Value {
        let info = runlet_api::resources::find("", "v1", "pods").unwrap();
        let obj = decode_event_value(info, &bytes::Bytes::copy_from_slice(stored), "k", revision)
            .unwrap();
        serde_json::from_slice(&line(kind, &obj)).unwrap()
    }

    #[test]
    fn raw_watch_line_equals_the_decoded_one() {
        for stored in [
            &br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","labels":{"x":"y"}},"spec":{}}"#[..],
            &br#"{"apiVersion":"v1","kind":"Pod","metadata":{},"status":{"phase":"Running"}}"#[..],
        ] {
            let raw = raw_line("MODIFIED", stored, 42).unwrap();
            assert!(raw.ends_with(b"}\n"));
            let raw: Value = serde_json::from_slice(&raw).unwrap();
            assert_eq!(raw, decoded_line("MODIFIED", stored, 42));
            assert_eq!(raw["object"]["metadata"]["resourceVersion"], "42");
        }
    }

    #[test]
    fn unusual_stored_objects_take_the_decoding_path() {
        for stored in [
            &br#"{"kind":"Pod","apiVersion":"v1","metadata":{}}"#[..],
            &br#"{"apiVersion":"v\"1","kind":"Pod","metadata":{}}"#[..],
            &br#"{"apiVersion":"v1","kind":"Pod","spec":{},"metadata":{}}"#[..],
            &br#"{"apiVersion":"v1""#[..],
            &b""[..],
        ] {
            assert!(raw_line("ADDED", stored, 1).is_none(), "{stored:?}");
        }
    }
}
