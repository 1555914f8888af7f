//! Conversion between the two API versions of one stored resource.
//!
//! Upstream keeps core/v1 Events and events.k8s.io/v1 Events as one resource: an Event written
//! through either API is read through both. runlet stores the core/v1 form and converts at the
//! edges, with upstream's field mapping (`pkg/apis/events/v1/conversion.go`).

use crate::resources::ResourceInfo;
use serde_json::{Map, Value};

/// events.k8s.io/v1 field ↔ core/v1 field, for fields whose names differ.
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn rename(obj: &Value, api_version: &str, to_core: bool) -> Value {
    let Some(map) = obj.as_object() else {
        return obj.clone();
    };
    let mut out = Map::with_capacity(map.len());
    for (k, v) in map {
        let key = EVENT_FIELDS
            .iter()
            .find(|(events, core)| if to_core { events == k } else { core == k })
            .map(|(events, core)| if to_core { *core } else { *events })
            .unwrap_or(k.as_str());
        out.insert(key.to_string(), v.clone());
    }
    out.insert("apiVersion".into(), Value::String(api_version.to_string()));
    Value::Object(out)
}

/// The form an object is stored in: events.k8s.io/v1 Events become core/v1 Events; everything
/// else is stored as served.
pub fn to_storage_version(obj: &Value) -> Value {
    to_storage_version_if_needed(obj).unwrap_or_else(|| obj.clone())
}

/// The object in its storage version when that differs from `obj`'s; `None` when `obj` is
/// stored as it is (every kind but events.k8s.io Events), so callers need not copy it.
pub fn to_storage_version_if_needed(obj: &Value) -> Option<Value> {
    match (
        obj.get("apiVersion").and_then(Value::as_str),
        obj.get("kind").and_then(Value::as_str),
    ) {
        (Some("events.k8s.io/v1"), Some("Event")) => Some(rename(obj, "v1", true)),
        _ => None,
    }
}

/// Whether `info`'s API version serves the stored object as it is.
pub fn is_served_as_stored(info: &ResourceInfo, stored: &Value) -> bool {
    !matches!(
        (
            info.group,
            info.kind,
            stored.get("apiVersion").and_then(Value::as_str),
        ),
        ("events.k8s.io", "Event", Some("v1"))
    )
}

/// The stored object as `info`'s API version serves it.
pub fn to_served_version(info: &ResourceInfo, stored: Value) -> Value {
    if is_served_as_stored(info, &stored) {
        stored
    } else {
        // In the served version's Go form: core/v1's `reportingInstance: ""` (a field without
        // `omitempty` there) is left out of events.k8s.io/v1's.
        let mut served = rename(&stored, "events.k8s.io/v1", false);
        crate::goform::canonicalize(info, &mut served);
        served
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;
    use serde_json::json;

    #[test]
    fn events_round_trip_between_versions() {
        let new = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"kind": "Job", "name": "pi"}, "note": "Created pod", "reason": "SuccessfulCreate",
            "reportingController": "job-controller", "eventTime": "2026-01-01T00:00:00.000000Z", "type": "Normal"});
        let core = to_storage_version(&new);
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(core["involvedObject"]["name"], "pi");
        assert_eq!(core["message"], "Created pod");
        assert_eq!(core["reportingComponent"], "job-controller");
        let events = find("events.k8s.io", "v1", "events").expect("served");
        // As Go encodes it: the deprecated fields' zero structs are there.
        let mut served_new = new.clone();
        served_new["deprecatedSource"] = json!({});
        served_new["deprecatedFirstTimestamp"] = Value::Null;
        served_new["deprecatedLastTimestamp"] = Value::Null;
        assert_eq!(to_served_version(events, core), served_new);
        let unnamed_instance = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
            "involvedObject": {"kind": "Job", "name": "pi"}, "reportingComponent": "job-controller",
            "reportingInstance": ""});
        let served = to_served_version(events, unnamed_instance);
        assert_eq!(served.get("reportingInstance"), None, "{served}");
    }

    #[test]
    fn other_kinds_pass_through() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"note": "x"}});
        assert_eq!(to_storage_version(&cm), cm);
        let core_events = find("", "v1", "events").expect("served");
        let ev = json!({"apiVersion": "v1", "kind": "Event", "message": "m"});
        assert_eq!(to_served_version(core_events, ev.clone()), ev);
    }
}
