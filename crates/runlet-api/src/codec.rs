//! Decoding request objects into their Kubernetes types and back, which both checks the shape
//! of every field and prunes fields Kubernetes does not know.
//!
//! The API server keeps objects as JSON values, but each one is first decoded into its
//! k8s-openapi type: a string where an integer belongs is a 400, as upstream; unknown fields are
//! reported (for `fieldValidation=Strict|Warn`) and dropped.

use crate::resources::ResourceInfo;
use k8s_openapi::api::{batch, coordination, core, events, storage};
use serde_json::Value;

/// A decoded, normalized object.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    pub object: Value,
    /// Paths of fields that were not part of the schema (`spec.foo`), in order met.
    pub unknown_fields: Vec<String>,
}

/// A body that does not decode into its kind's type.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{kind} in version \"{version}\" cannot be handled as a {kind}: {detail}")]
pub struct DecodeError {
    pub kind: String,
    pub version: String,
    pub detail: String,
}

/// Decodes `value` (an owned or a borrowed JSON value) as `T` and encodes it back.
fn roundtrip<'de, T>(
    info: &ResourceInfo,
    value: impl serde::Deserializer<'de, Error = serde_json::Error>,
) -> Result<Normalized, DecodeError>
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let mut unknown_fields = Vec::new();
    let typed: T = serde_ignored::deserialize(value, |path| {
        unknown_fields.push(kube_field_path(&path.to_string()));
    })
    .map_err(|e| DecodeError {
        kind: info.kind.to_string(),
        version: info.version.to_string(),
        detail: e.to_string(),
    })?;
    let mut object = serde_json::to_value(&typed).map_err(|e| DecodeError {
        kind: info.kind.to_string(),
        version: info.version.to_string(),
        detail: e.to_string(),
    })?;
    crate::goform::canonicalize(info, &mut object);
    Ok(Normalized {
        object,
        unknown_fields,
    })
}

/// A path as serde_ignored prints it (`spec.containers.?.0.comand`) as Kubernetes writes
/// one: `spec.containers[0].comand`.
fn kube_field_path(serde_path: &str) -> String {
    let mut out = String::with_capacity(serde_path.len());
    for segment in serde_path.split('.').filter(|s| *s != "?") {
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(segment);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
    }
    out
}

/// Where in a JSON request body decoding as `info`'s kind fails (`spec.parallelism`), found by
/// decoding it again with the path tracked: only after a decode failed, so that the decoding
/// every write goes through tracks nothing.
pub fn failing_field(info: &ResourceInfo, json: &[u8]) -> Option<String> {
    fn path_of<T: serde::de::DeserializeOwned>(json: &[u8]) -> Option<String> {
        let mut de = serde_json::Deserializer::from_slice(json);
        serde_path_to_error::deserialize::<_, T>(&mut de)
            .err()
            .map(|e| e.path().to_string())
            .filter(|p| p != ".")
    }
    match (info.group, info.kind) {
        ("", "Namespace") => path_of::<core::v1::Namespace>(json),
        ("", "Node") => path_of::<core::v1::Node>(json),
        ("", "Pod") => path_of::<core::v1::Pod>(json),
        ("", "Event") => path_of::<core::v1::Event>(json),
        ("", "ConfigMap") => path_of::<core::v1::ConfigMap>(json),
        ("", "Secret") => path_of::<core::v1::Secret>(json),
        ("", "ServiceAccount") => path_of::<core::v1::ServiceAccount>(json),
        ("", "PersistentVolumeClaim") => path_of::<core::v1::PersistentVolumeClaim>(json),
        ("", "PersistentVolume") => path_of::<core::v1::PersistentVolume>(json),
        ("events.k8s.io", "Event") => path_of::<events::v1::Event>(json),
        ("coordination.k8s.io", "Lease") => path_of::<coordination::v1::Lease>(json),
        ("storage.k8s.io", "StorageClass") => path_of::<storage::v1::StorageClass>(json),
        ("batch", "Job") => path_of::<batch::v1::Job>(json),
        ("batch", "CronJob") => path_of::<batch::v1::CronJob>(json),
        _ => None,
    }
}

/// Whether `map` starts with `apiVersion`, `kind`, `metadata`, in that order.
fn in_canonical_order(map: &serde_json::Map<String, Value>) -> bool {
    let mut keys = map.keys();
    keys.next().is_some_and(|k| k == "apiVersion")
        && keys.next().is_some_and(|k| k == "kind")
        && keys.next().is_some_and(|k| k == "metadata")
}

/// The typed round trip of `value` (owned or borrowed, already carrying `apiVersion` and
/// `kind`) for the kinds runlet decodes; the value comes back untouched for the others.
fn typed_roundtrip<'de, D>(
    info: &ResourceInfo,
    value: D,
) -> Result<Result<Normalized, DecodeError>, D>
where
    D: serde::Deserializer<'de, Error = serde_json::Error>,
{
    Ok(match (info.group, info.kind) {
        ("", "Namespace") => roundtrip::<core::v1::Namespace>(info, value),
        ("", "Node") => roundtrip::<core::v1::Node>(info, value),
        ("", "Pod") => roundtrip::<core::v1::Pod>(info, value),
        ("", "Event") => roundtrip::<core::v1::Event>(info, value),
        ("", "ConfigMap") => roundtrip::<core::v1::ConfigMap>(info, value),
        ("", "Secret") => roundtrip::<core::v1::Secret>(info, value),
        ("", "ServiceAccount") => roundtrip::<core::v1::ServiceAccount>(info, value),
        ("", "PersistentVolumeClaim") => roundtrip::<core::v1::PersistentVolumeClaim>(info, value),
        ("", "PersistentVolume") => roundtrip::<core::v1::PersistentVolume>(info, value),
        ("", "Binding") => roundtrip::<core::v1::Binding>(info, value),
        ("events.k8s.io", "Event") => roundtrip::<events::v1::Event>(info, value),
        ("coordination.k8s.io", "Lease") => roundtrip::<coordination::v1::Lease>(info, value),
        ("storage.k8s.io", "StorageClass") => roundtrip::<storage::v1::StorageClass>(info, value),
        ("batch", "Job") => roundtrip::<batch::v1::Job>(info, value),
        ("batch", "CronJob") => roundtrip::<batch::v1::CronJob>(info, value),
        ("runlet.dev", "PodRecord") => roundtrip::<crate::podrecord::PodRecord>(info, value),
        _ => return Err(value),
    })
}

/// Decodes `value` as an object of `info`'s kind. `apiVersion` and `kind` are set from `info`
/// (the caller checks a mismatch first).
pub fn normalize(info: &ResourceInfo, mut value: Value) -> Result<Normalized, DecodeError> {
    let Some(map) = value.as_object_mut() else {
        return Err(DecodeError {
            kind: info.kind.to_string(),
            version: info.version.to_string(),
            detail: "the object must be a JSON object".to_string(),
        });
    };
    map.insert("apiVersion".into(), Value::String(info.api_version()));
    map.insert("kind".into(), Value::String(info.kind.to_string()));
    match typed_roundtrip(info, value) {
        Ok(result) => result,
        Err(value) => Ok(Normalized {
            object: value,
            unknown_fields: Vec::new(),
        }),
    }
}

/// As [`normalize`] for a new version of `current`, an object that was normalized before (it
/// comes from the store): only the top-level fields that differ from `current` go through the
/// typed round trip, and the unchanged ones are kept as they are. A status update of a pod thus
/// decodes its status, and a finalizer patch its metadata, not its whole spec. The result
/// equals [`normalize`]'s, because k8s-openapi decodes and encodes each field on its own; when
/// the partial object does not decode (a kind with a required field that did not change), the
/// whole object takes the full path, which then reports any error.
pub fn normalize_changed(
    info: &ResourceInfo,
    value: Value,
    current: &Value,
) -> Result<Normalized, DecodeError> {
    let (Value::Object(new), Value::Object(old)) = (&value, current) else {
        return normalize(info, value);
    };
    // Keep the leading apiVersion, kind, metadata order the store's fast paths rely on.
    if !in_canonical_order(new) {
        return normalize(info, value);
    }
    let Value::Object(new) = value else {
        unreachable!("matched above")
    };
    // Split the object: the fields to decode move into `partial`, `order` remembers where each
    // field goes back and holds the unchanged ones.
    let mut partial = serde_json::Map::new();
    let mut order: Vec<(String, Option<Value>)> = Vec::with_capacity(new.len());
    for (k, v) in new {
        if k == "apiVersion" || k == "kind" || old.get(&k) != Some(&v) {
            partial.insert(k.clone(), v);
            order.push((k, None));
        } else {
            order.push((k, Some(v)));
        }
    }
    let partial = Value::Object(partial);
    let decoded = match typed_roundtrip(info, &partial) {
        Ok(Ok(d)) => d,
        // Not a typed kind, or the partial object alone does not decode: the full path.
        _ => {
            let Value::Object(mut partial) = partial else {
                unreachable!("built as an object")
            };
            let whole = order
                .into_iter()
                .filter_map(|(k, v)| match v {
                    Some(v) => Some((k, v)),
                    None => partial.remove(&k).map(|v| (k, v)),
                })
                .collect();
            return normalize(info, Value::Object(whole));
        }
    };
    let Value::Object(mut changed) = decoded.object else {
        unreachable!("a typed object encodes as an object")
    };
    let mut object = serde_json::Map::with_capacity(order.len());
    for (k, v) in order {
        match v {
            Some(unchanged) => {
                object.insert(k, unchanged);
            }
            // Changed: its normalized form, or nothing when the type dropped it (unknown).
            None => {
                if let Some(n) = changed.remove(&k) {
                    object.insert(k, n);
                }
            }
        }
    }
    // Fields the type adds on its own (none today but an empty `metadata` when it was left
    // out as unchanged, which the unchanged one keeps its place over).
    for (k, v) in changed {
        object.entry(k).or_insert(v);
    }
    Ok(Normalized {
        object: Value::Object(object),
        unknown_fields: decoded.unknown_fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;
    use serde_json::json;

    fn stored_pod() -> Value {
        let pods = find("", "v1", "pods").expect("pods");
        normalize(
            pods,
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["f"]},
                "spec": {"containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": "1"}}}]},
                "status": {"phase": "Pending"}}),
        )
        .expect("decodes")
        .object
    }

    #[test]
    fn normalizing_changed_fields_gives_the_full_result() {
        let pods = find("", "v1", "pods").expect("pods");
        let old = stored_pod();
        let mut status = old.clone();
        status["status"] =
            json!({"phase": "Running", "bogus": 1, "startTime": "2026-01-02T03:04:05Z"});
        let mut finalizers = old.clone();
        finalizers["metadata"]["finalizers"] = json!([]);
        let mut spec = old.clone();
        spec["spec"]["activeDeadlineSeconds"] = json!(5);
        let mut removed = old.clone();
        removed.as_object_mut().expect("an object").remove("status");
        for new in [status, finalizers, spec, removed, old.clone()] {
            let full = normalize(pods, new.clone()).expect("full");
            let partial = normalize_changed(pods, new, &old).expect("partial");
            assert_eq!(partial, full);
            let keys: Vec<&String> = partial
                .object
                .as_object()
                .expect("an object")
                .keys()
                .take(3)
                .collect();
            assert_eq!(keys, ["apiVersion", "kind", "metadata"]);
        }
    }

    #[test]
    fn normalizing_changed_fields_reports_the_full_errors() {
        let pods = find("", "v1", "pods").expect("pods");
        let old = stored_pod();
        let mut bad = old.clone();
        bad["status"]["phase"] = json!(3);
        assert_eq!(
            normalize_changed(pods, bad.clone(), &old),
            normalize(pods, bad)
        );
        // A kind with a required field that did not change decodes whole.
        let events = find("", "v1", "events").expect("events");
        let old = normalize(
            events,
            json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
                "involvedObject": {"kind": "Pod", "name": "p"}, "count": 1}),
        )
        .expect("decodes")
        .object;
        let mut new = old.clone();
        new["count"] = json!(2);
        assert_eq!(
            normalize_changed(events, new.clone(), &old),
            normalize(events, new)
        );
    }

    #[test]
    fn unknown_fields_are_reported_and_pruned() {
        let jobs = find("batch", "v1", "jobs").expect("jobs");
        let n = normalize(
            jobs,
            json!({"metadata": {"name": "x"}, "spec": {"foo": 1, "template": {}}}),
        )
        .expect("decodes");
        assert_eq!(n.unknown_fields, vec!["spec.foo".to_string()]);
        assert!(n.object["spec"].get("foo").is_none());
        assert_eq!(n.object["apiVersion"], "batch/v1");
        let n = normalize(
            jobs,
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "a"}, {"name": "b", "comand": ["x"]}]}}}}),
        )
        .expect("decodes");
        assert_eq!(
            n.unknown_fields,
            vec!["spec.template.spec.containers[1].comand".to_string()],
            "as Kubernetes writes the path"
        );
    }

    #[test]
    fn a_failing_field_is_found_in_the_request_body() {
        let jobs = find("batch", "v1", "jobs").expect("jobs");
        let body = br#"{"spec": {"parallelism": "three", "template": {}}}"#;
        assert_eq!(
            failing_field(jobs, body).as_deref(),
            Some("spec.parallelism")
        );
        let body =
            br#"{"spec": {"template": {"spec": {"containers": [{"name": "c", "image": 7}]}}}}"#;
        assert_eq!(
            failing_field(jobs, body).as_deref(),
            Some("spec.template.spec.containers[0].image")
        );
        assert_eq!(failing_field(jobs, br#"{"spec": {}}"#), None);
    }

    #[test]
    fn wrong_types_are_decode_errors() {
        let jobs = find("batch", "v1", "jobs").expect("jobs");
        let err = normalize(
            jobs,
            json!({"spec": {"completions": "three", "template": {}}}),
        )
        .expect_err("bad type");
        assert!(
            err.to_string()
                .starts_with("Job in version \"v1\" cannot be handled as a Job")
        );
        assert!(normalize(jobs, json!([1, 2])).is_err());
    }
}

/// Paths of object keys that appear more than once in a JSON document (`metadata.name`), for
/// `fieldValidation=Strict|Warn`. Malformed JSON yields no paths (the parser reports it).
pub fn duplicate_fields(json: &[u8]) -> Vec<String> {
    use serde::de::Deserializer as _;
    let mut found = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(json);
    let _ = de.deserialize_any(DupVisitor {
        path: &mut Vec::new(),
        found: &mut found,
    });
    found
}

/// One step of the path to a value: an object key (borrowed from the document unless escaped)
/// or an array index. The path is spelled out only for a duplicate, so a document without
/// any costs one scan and no string per key.
enum Step<'de> {
    Key(std::borrow::Cow<'de, str>),
    Index(usize),
}

fn spell(path: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Keys of one object seen so far: a list while it is short, a set once it is long.
#[derive(Default)]
struct SeenKeys<'de> {
    list: Vec<std::borrow::Cow<'de, str>>,
    set: std::collections::HashSet<std::borrow::Cow<'de, str>>,
}

impl<'de> SeenKeys<'de> {
    const LIST_MAX: usize = 16;

    /// Whether `key` is new.
    fn insert(&mut self, key: std::borrow::Cow<'de, str>) -> bool {
        if !self.set.is_empty() {
            return self.set.insert(key);
        }
        if self.list.contains(&key) {
            return false;
        }
        self.list.push(key);
        if self.list.len() > Self::LIST_MAX {
            self.set.extend(self.list.drain(..));
        }
        true
    }
}

/// An object key, borrowed from the document unless it has escapes: for scans of JSON that
/// look at keys without keeping them (`map.next_key_seed(KeySeed)`).
pub struct KeySeed;

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed {
    type Value = std::borrow::Cow<'de, str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeySeed {
    type Value = std::borrow::Cow<'de, str>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(v.to_string()))
    }
}

struct DupVisitor<'a, 'de> {
    path: &'a mut Vec<Step<'de>>,
    found: &'a mut Vec<String>,
}

impl<'de> serde::de::DeserializeSeed<'de> for DupVisitor<'_, 'de> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for DupVisitor<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            self.path.push(Step::Index(i));
            let more = seq.next_element_seed(DupVisitor {
                path: &mut *self.path,
                found: &mut *self.found,
            });
            self.path.pop();
            if more?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = SeenKeys::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            self.path.push(Step::Key(key.clone()));
            if !seen.insert(key) {
                self.found.push(spell(self.path));
            }
            let value = map.next_value_seed(DupVisitor {
                path: &mut *self.path,
                found: &mut *self.found,
            });
            self.path.pop();
            value?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod duplicate_tests {
    use super::duplicate_fields;

    #[test]
    fn duplicate_keys_are_found_at_any_depth() {
        let body =
            br#"{"metadata":{"name":"a","name":"b"},"data":{"x":"1"},"items":[{"k":1,"k":2}]}"#;
        assert_eq!(
            duplicate_fields(body),
            vec!["metadata.name".to_string(), "items[0].k".to_string()]
        );
        assert!(duplicate_fields(br#"{"a":1}"#).is_empty());
        // Escaped keys compare by their value; long objects switch to a set.
        assert_eq!(
            duplicate_fields(br#"{"a\u0062":1,"ab":2}"#),
            vec!["ab".to_string()]
        );
        let long: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let body = format!(r#"{{"data":{{{},"k3":0,"k39":0}}}}"#, long.join(","));
        assert_eq!(
            duplicate_fields(body.as_bytes()),
            vec!["data.k3".to_string(), "data.k39".to_string()]
        );
        assert!(duplicate_fields(b"{broken").is_empty());
    }
}
