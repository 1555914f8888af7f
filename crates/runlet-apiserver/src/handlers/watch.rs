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
use super::{Query, Rendering, Target, partial_metadata};
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
use std::collections::HashMap;
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
    // Room for the envelope and the spliced resourceVersion, so the buffer is never regrown.
    let mut out = Vec::with_capacity(stored.len() + 128);
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

/// The `[top-level field, field within it]` paths a watch's selectors read (an empty second
/// part: all of the top-level field), so that matching decodes only them.
struct Reads(Vec<[&'static str; 2]>);

impl Reads {
    fn of(filter: &Filter) -> Reads {
        let mut paths = filter.fields.read_paths();
        if !filter.labels.is_empty() {
            paths.push(["metadata", "labels"]);
        }
        Reads(paths)
    }

    /// What to do with field `key` met at `level` (`None`: the top level; `Some(top)`:
    /// within the top-level field `top`).
    fn keep(&self, level: Option<&'static str>, key: &str) -> Keep {
        match level {
            None => {
                let mut within = None;
                for p in self.0.iter().filter(|p| p[0] == key) {
                    if p[1].is_empty() {
                        return Keep::Whole;
                    }
                    within = Some(p[0]);
                }
                within.map_or(Keep::Skip, Keep::Descend)
            }
            Some(top) if self.0.iter().any(|p| p[0] == top && p[1] == key) => Keep::Whole,
            Some(_) => Keep::Skip,
        }
    }
}

/// What [`decode_for_selectors`] does with a field.
enum Keep {
    Skip,
    Whole,
    /// Into this top-level field, for some of its fields.
    Descend(&'static str),
}

/// Decodes a stored object for matching selectors only: what [`Reads`] names, everything else
/// skipped unparsed. A pod watched with `spec.nodeName=<node>` costs a scan of its JSON and one
/// string, and this runs for every write to a watched kind and every watch with a selector
/// (twice when the watch has not seen the key's previous value).
fn decode_for_selectors(stored: &[u8], reads: &Reads) -> Option<Value> {
    use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
    struct Pruned<'a>(Option<&'static str>, &'a Reads);
    impl<'de> DeserializeSeed<'de> for Pruned<'_> {
        type Value = Value;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Pruned<'_> {
        type Value = Value;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut out = serde_json::Map::new();
            while let Some(key) = map.next_key_seed(runlet_api::codec::KeySeed)? {
                let value = match self.1.keep(self.0, &key) {
                    Keep::Skip => {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    }
                    Keep::Whole => map.next_value::<Value>()?,
                    Keep::Descend(top) => map.next_value_seed(Pruned(Some(top), self.1))?,
                };
                out.insert(key.into_owned(), value);
            }
            Ok(Value::Object(out))
        }
        // A field to descend into that is not an object: kept as it is.
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_string()))
        }
        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
            serde::Deserialize::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
        }
    }
    let mut de = serde_json::Deserializer::from_slice(stored);
    Pruned(None, reads).deserialize(&mut de).ok()
}

/// The watch line for a store event through selectors, if one is due: the selectors are
/// matched on [`decode_for_selectors`] and the line spliced from the stored bytes. `None` in
/// the outer option when the stored object is not in the shape the splice needs.
///
/// `seen` holds whether each object matched at its last event this watch classified, so that
/// an update decodes only its new value: the old one is what the previous event of the key
/// decided. A key is forgotten when deleted.
fn classify_raw(
    e: &Event,
    filter: &Filter,
    reads: &Reads,
    seen: &mut HashMap<String, bool>,
) -> Option<Option<bytes::Bytes>> {
    let now = filter.matches(&decode_for_selectors(&e.value, reads)?);
    let before = match e.kind {
        EventKind::Deleted => seen.remove(&e.key),
        _ => seen.insert(e.key.clone(), now),
    };
    let kind = match e.kind {
        EventKind::Created => now.then_some("ADDED"),
        EventKind::Deleted => now.then_some("DELETED"),
        EventKind::Updated => {
            let before = match (before, &e.prev_value) {
                (Some(before), _) => before,
                (None, Some(p)) => filter.matches(&decode_for_selectors(p, reads)?),
                (None, None) => now,
            };
            match (before, now) {
                (true, true) => Some("MODIFIED"),
                (false, true) => Some("ADDED"),
                (true, false) => Some("DELETED"),
                (false, false) => None,
            }
        }
    };
    match kind {
        Some(kind) => raw_line(kind, shown_value(e, kind), e.revision).map(Some),
        None => Some(None),
    }
}

/// The object an event line shows: an object that stopped matching the selectors leaves the
/// watch as it was when it last matched, at the new resourceVersion, as upstream's cacher sends
/// it (`convertToWatchEvent`); a replayed event knows no earlier value and shows the new one.
fn shown_value<'e>(e: &'e Event, kind: &str) -> &'e bytes::Bytes {
    match (&e.kind, kind, &e.prev_value) {
        (EventKind::Updated, "DELETED", Some(prev)) => prev,
        _ => &e.value,
    }
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
            (true, false) => {
                let shown = decode_event_value(info, shown_value(e, "DELETED"), &e.key, e.revision);
                Some(("DELETED", shown.unwrap_or(obj)))
            }
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
    let rendering = Rendering::of(headers);
    let tables = (rendering == Rendering::Table).then(|| state.clone());
    let filter = Filter::from_query(target, query)?;
    let rv = query.get("resourceVersion").unwrap_or("");
    let from_now = rv.is_empty() || rv == "0";
    // `sendInitialEvents=false` (with `resourceVersionMatch=NotOlderThan`, which validation
    // asks for) sends none: the watch starts at the resourceVersion given, or now.
    let asked_initial = query
        .get("sendInitialEvents")
        .map(|_| query.flag("sendInitialEvents"));
    let send_initial = asked_initial.unwrap_or(from_now);
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
        if !query.flag("sendInitialEvents") {
            q.0.remove("resourceVersion");
        }
        let listed = list_objects(state, target, &q).await?;
        (listed.items, listed.revision)
    } else if from_now {
        (Vec::new(), state.store.current_revision())
    } else {
        (Vec::new(), registry::parse_rv(rv)?)
    };

    let (tx, rx) = mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(256);
    let stream = state.store.watch(&prefix_of(target), from);
    let info = target.info;
    let match_all = filter.matches_all();
    let reads = Reads::of(&filter);
    let mut seen = HashMap::new();
    let explicit_initial = query.flag("sendInitialEvents");
    let store = state.store.clone();
    tokio::spawn(async move {
        let mut first_table = true;
        let mut encode = |obj: &Value| -> Value {
            if let Rendering::Metadata { .. } = rendering {
                return partial_metadata(obj);
            }
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
        // The line a store event makes on this watch, if it passes the filter.
        let raw_ok = !info.is_alias() && rendering == Rendering::Object;
        let mut event_line = |event: &runlet_store::Event| {
            let fast = match (raw_ok, match_all) {
                (true, true) => {
                    raw_line(event_type(event.kind), &event.value, event.revision).map(Some)
                }
                (true, false) => classify_raw(event, &filter, &reads, &mut seen),
                (false, _) => None,
            };
            match fast {
                Some(l) => l,
                None => classify(info, event, &filter).map(|(kind, obj)| line(kind, &encode(&obj))),
            }
        };
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                _ = ticker.tick(), if bookmarks => {
                    // Upstream's watch cache bookmarks its own progress, not the last event
                    // sent, so a watch of a quiet resource resumes after a compaction without a
                    // relist. Progress read first, then every ready event taken: all of this
                    // prefix's events up to it have then been handled here.
                    let progress = store.watch_progress();
                    while let Some(Some(event)) = futures::FutureExt::now_or_never(stream.next()) {
                        match event {
                            Ok(event) => {
                                last_rv = event.revision;
                                if let Some(out) = event_line(&event)
                                    && tx.send(Ok(out)).await.is_err() {
                                        return;
                                    }
                            }
                            Err(e) => {
                                let _ = tx.send(Ok(line("ERROR", &store_status(e).to_json()))).await;
                                return;
                            }
                        }
                    }
                    if tx.send(Ok(bookmark(last_rv.max(progress), false))).await.is_err() {
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
                        if let Some(out) = event_line(&event)
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
    fn selector_watches_decide_as_the_decoding_path() {
        let pod = |node: &str, phase: &str, app: &str| {
            bytes::Bytes::from(format!(
                r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"p","namespace":"d","labels":{{"app":"{app}"}},"annotations":{{"app":"x"}},"ownerReferences":[{{"name":"o","uid":"u"}}]}},"spec":{{"nodeName":"{node}","containers":[{{"name":"c","image":"i"}}]}},"status":{{"phase":"{phase}","conditions":[{{"type":"Ready","status":"True"}}],"podIPs":[{{"ip":"10.0.0.1"}}]}}}}"#
            ))
        };
        decide_alike(
            "pods",
            &[
                pod("n1", "Running", "a"),
                pod("n2", "Running", "a"),
                pod("n1", "Succeeded", "b"),
            ],
            &[
                "fieldSelector=spec.nodeName%3Dn1&labelSelector=app%3Da",
                "fieldSelector=spec.nodeName%3Dn1",
                "fieldSelector=status.phase!%3DRunning",
                "labelSelector=app%3Da",
                "fieldSelector=status.podIP%3D10.0.0.1",
                "fieldSelector=metadata.name%3Dp,metadata.namespace%3Dd",
                "fieldSelector=metadata.name!%3Dp",
                "fieldSelector=spec.hostNetwork%3Dfalse",
                "fieldSelector=spec.restartPolicy%3D",
            ],
        );
        // Events: the selectable fields read either wire shape, told apart by apiVersion.
        let event = |api_version: &str, object: &str, reason: &str, source: &str| {
            bytes::Bytes::from(format!(
                r#"{{"apiVersion":"{api_version}","kind":"Event","metadata":{{"name":"e","namespace":"d"}},"{object}":{{"kind":"Pod","name":"p","uid":"u"}},"reason":"{reason}","type":"Normal","source":{{"component":"{source}"}},"reportingComponent":"rc","count":1}}"#
            ))
        };
        decide_alike(
            "events",
            &[
                event("v1", "involvedObject", "Started", "kubelet"),
                event("v1", "involvedObject", "Killing", "scheduler"),
                event("events.k8s.io/v1", "regarding", "Started", ""),
            ],
            &[
                "fieldSelector=involvedObject.name%3Dp",
                "fieldSelector=involvedObject.uid%3Du,reason%3DStarted",
                "fieldSelector=source%3Dkubelet",
                "fieldSelector=source%3Drc",
                "fieldSelector=reportingComponent%3Drc,type%3DNormal",
            ],
        );
    }

    /// For every selector, every kind of store event and every pair of `states`: the raw
    /// path (selectors matched on the paths they read) sends what the decoding path sends,
    /// with and without having seen the previous value as its own event.
    fn decide_alike(plural: &str, states: &[bytes::Bytes], selectors: &[&str]) {
        let info = runlet_api::resources::find("", "v1", plural).unwrap();
        let target = Target {
            info,
            namespace: None,
            name: None,
            subresource: None,
        };
        for selector in selectors {
            let mut q = Query::default();
            for param in selector.split('&') {
                let (k, v) = param.split_once('=').unwrap();
                q.insert(k.into(), v.replace("%3D", "="));
            }
            let filter = Filter::from_query(&target, &q).unwrap();
            let reads = Reads::of(&filter);
            let mut kinds = vec![(EventKind::Created, None), (EventKind::Deleted, None)];
            kinds.extend((0..states.len()).map(|i| (EventKind::Updated, Some(i))));
            for (kind, prev) in kinds {
                for now in states {
                    let e = Event {
                        kind,
                        key: format!("/registry/{plural}/d/p"),
                        value: now.clone(),
                        revision: 7,
                        prev_value: prev.map(|i: usize| states[i].clone()),
                        prev_revision: prev.map_or(0, |_| 6),
                    };
                    let decoded = classify(info, &e, &filter).map(|(kind, obj)| {
                        serde_json::from_slice::<Value>(&line(kind, &obj)).unwrap()
                    });
                    let raw = classify_raw(&e, &filter, &reads, &mut HashMap::new())
                        .unwrap()
                        .map(|l| serde_json::from_slice::<Value>(&l).unwrap());
                    assert_eq!(raw, decoded, "{selector} {kind:?}");
                    // Having classified the previous value as its own event, the watch
                    // decides the same without decoding it again.
                    if let Some(prev) = &e.prev_value {
                        let mut seen = HashMap::new();
                        let earlier = Event {
                            kind: EventKind::Created,
                            value: prev.clone(),
                            prev_value: None,
                            prev_revision: 0,
                            revision: 6,
                            ..e.clone()
                        };
                        classify_raw(&earlier, &filter, &reads, &mut seen).unwrap();
                        let raw = classify_raw(&e, &filter, &reads, &mut seen)
                            .unwrap()
                            .map(|l| serde_json::from_slice::<Value>(&l).unwrap());
                        assert_eq!(raw, decoded, "{selector} {kind:?} after the previous");
                    }
                }
            }
        }
    }

    #[test]
    fn an_object_that_stops_matching_leaves_as_it_last_matched_at_the_new_revision() {
        let pod = |app: &str| {
            bytes::Bytes::from(format!(
                r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"p","namespace":"d","labels":{{"app":"{app}"}}}},"spec":{{"containers":[{{"name":"c","image":"i"}}]}}}}"#
            ))
        };
        let info = runlet_api::resources::find("", "v1", "pods").unwrap();
        let target = Target {
            info,
            namespace: None,
            name: None,
            subresource: None,
        };
        let mut q = Query::default();
        q.insert("labelSelector".into(), "app=a".into());
        let filter = Filter::from_query(&target, &q).unwrap();
        let e = Event {
            kind: EventKind::Updated,
            key: "/registry/pods/d/p".into(),
            value: pod("b"),
            revision: 9,
            prev_value: Some(pod("a")),
            prev_revision: 8,
        };
        let (kind, obj) = classify(info, &e, &filter).unwrap();
        assert_eq!(kind, "DELETED");
        assert_eq!(obj["metadata"]["labels"]["app"], "a");
        assert_eq!(obj["metadata"]["resourceVersion"], "9");
        let raw = classify_raw(&e, &filter, &Reads::of(&filter), &mut HashMap::new());
        let line: Value = serde_json::from_slice(&raw.unwrap().unwrap()).unwrap();
        assert_eq!(line["type"], "DELETED");
        assert_eq!(line["object"], obj);
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
