//! Event rows, as upstream's `printEvent`. `events.k8s.io/v1` Events are printed by the same
//! printer after mapping their fields onto the core/v1 shape, as upstream converts both to one
//! internal type.

use super::descriptions as d;
use super::{Column, Row, at, int_at, name, since, str_at, time_at};
use serde_json::{Map, Value};

pub(super) const COLUMNS: &[Column] = &[
    Column::string("Last Seen", d::EVENT_LAST_TIMESTAMP),
    Column::string("Type", d::EVENT_TYPE),
    Column::string("Reason", d::EVENT_REASON),
    Column::string("Object", d::EVENT_INVOLVED_OBJECT),
    Column::wide("Subobject", d::OBJECT_REFERENCE_FIELD_PATH),
    Column::wide("Source", d::EVENT_SOURCE),
    Column::string("Message", d::EVENT_MESSAGE),
    Column::wide("First Seen", d::EVENT_FIRST_TIMESTAMP),
    Column::wide("Count", d::EVENT_COUNT),
    Column {
        name: "Name",
        type_: "string",
        format: "name",
        description: d::OBJECT_META_NAME,
        priority: 1,
    },
];

pub(super) fn row(ev: &Value, now: i64) -> Row {
    let first = match time_at(ev, &["firstTimestamp"]) {
        Some(t) => since(Some(t), now),
        None => since(time_at(ev, &["eventTime"]), now),
    };
    let mut last = match time_at(ev, &["lastTimestamp"]) {
        Some(t) => since(Some(t), now),
        None => first.clone(),
    };
    let mut count = int_at(ev, &["count"]);
    if let Some(series) = at(ev, &["series"]).filter(|s| s.is_object()) {
        last = since(time_at(series, &["lastObservedTime"]), now);
        count = int_at(series, &["count"]);
    } else if count == 0 {
        count = 1;
    }
    let kind = str_at(ev, &["involvedObject", "kind"]).to_lowercase();
    let object_name = str_at(ev, &["involvedObject", "name"]);
    let target = if object_name.is_empty() {
        kind
    } else {
        format!("{kind}/{object_name}")
    };
    let component = first_non_empty(
        str_at(ev, &["source", "component"]),
        str_at(ev, &["reportingComponent"]),
    );
    let instance = first_non_empty(
        str_at(ev, &["source", "host"]),
        str_at(ev, &["reportingInstance"]),
    );
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };
    Row::new(vec![
        last.into(),
        str_at(ev, &["type"]).into(),
        str_at(ev, &["reason"]).into(),
        target.into(),
        str_at(ev, &["involvedObject", "fieldPath"]).into(),
        source.into(),
        str_at(ev, &["message"]).trim().into(),
        first.into(),
        count.into(),
        name(ev).into(),
    ])
}

fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() { b } else { a }
}

/// Prints an `events.k8s.io/v1` Event through the core printer.
pub(super) fn row_events_k8s_io(ev: &Value, now: i64) -> Row {
    row(&as_core_event(ev), now)
}

/// The core/v1 shape of an `events.k8s.io/v1` Event (upstream's conversion through the
/// internal type).
fn as_core_event(ev: &Value) -> Value {
    let mut out = Map::new();
    let renames = [
        ("metadata", "metadata"),
        ("regarding", "involvedObject"),
        ("note", "message"),
        ("deprecatedSource", "source"),
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
        ("reportingController", "reportingComponent"),
        ("reportingInstance", "reportingInstance"),
        ("eventTime", "eventTime"),
        ("series", "series"),
        ("type", "type"),
        ("reason", "reason"),
        ("action", "action"),
        ("related", "related"),
    ];
    for (from, to) in renames {
        if let Some(v) = ev.get(from) {
            out.insert(to.to_string(), v.clone());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000; // 2023-11-14T22:13:20Z

    #[test]
    fn core_event_cells() {
        let ev = json!({"metadata": {"name": "pi.1"}, "type": "Normal", "reason": "SuccessfulCreate",
            "involvedObject": {"kind": "Job", "name": "pi"}, "message": "Created pod: pi-abcde\n",
            "source": {"component": "job-controller"}, "count": 2,
            "firstTimestamp": "2023-11-14T22:10:00Z", "lastTimestamp": "2023-11-14T22:13:00Z"});
        assert_eq!(
            row(&ev, NOW).cells,
            vec![
                json!("20s"),
                json!("Normal"),
                json!("SuccessfulCreate"),
                json!("job/pi"),
                json!(""),
                json!("job-controller"),
                json!("Created pod: pi-abcde"),
                json!("3m20s"),
                json!(2),
                json!("pi.1")
            ]
        );
    }

    #[test]
    fn singleton_event_without_timestamps_uses_event_time_and_count_one() {
        let ev = json!({"metadata": {"name": "e"}, "type": "Warning", "reason": "Failed",
            "involvedObject": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{c}"},
            "eventTime": "2023-11-14T22:13:15.123456Z", "reportingComponent": "kubelet", "reportingInstance": "node-1",
            "firstTimestamp": null, "lastTimestamp": null});
        let cells = row(&ev, NOW).cells;
        assert_eq!(cells[0], "5s");
        assert_eq!(cells[4], "spec.containers{c}");
        assert_eq!(cells[5], "kubelet, node-1");
        assert_eq!(cells[7], "5s");
        assert_eq!(cells[8], 1);
    }

    #[test]
    fn events_k8s_io_events_print_like_core_events() {
        let ev = json!({"metadata": {"name": "e"}, "type": "Normal", "reason": "Scheduled",
            "regarding": {"kind": "Pod", "name": "p"}, "note": "Successfully assigned default/p to n1",
            "reportingController": "default-scheduler", "reportingInstance": "default-scheduler-n1",
            "eventTime": "2023-11-14T22:03:20.000000Z",
            "series": {"count": 4, "lastObservedTime": "2023-11-14T22:13:10.000000Z"}});
        let cells = row_events_k8s_io(&ev, NOW).cells;
        assert_eq!(cells[0], "10s");
        assert_eq!(cells[3], "pod/p");
        assert_eq!(cells[5], "default-scheduler, default-scheduler-n1");
        assert_eq!(cells[6], "Successfully assigned default/p to n1");
        assert_eq!(cells[7], "10m");
        assert_eq!(cells[8], 4);
    }
}
