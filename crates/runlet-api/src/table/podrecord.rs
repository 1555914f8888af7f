//! PodRecord rows (`runlet.dev/v1`): one finished pod of a Job, as `kubectl get podrecords`
//! prints it.

use super::{Column, Row, age, at, human_duration, name, str_at, time_at};
use serde_json::Value;

pub(super) const COLUMNS: &[Column] = &[
    Column::NAME,
    Column::string("Job", "The Job that ran the pod."),
    Column::string("Index", "The pod's completion index (Indexed Jobs)."),
    Column::string("Node", "The node the pod ran on."),
    Column::string("Phase", "The pod's last phase."),
    Column::typed(
        "Exit Code",
        "integer",
        "The exit code of the pod's first container to fail, else of its first container.",
    ),
    Column::string("Reason", "Why the pod ended."),
    Column::string("Duration", "From the pod's start to its end."),
    Column::AGE,
];

pub(super) fn row(rec: &Value, now: i64) -> Row {
    let index = at(rec, &["completionIndex"])
        .and_then(Value::as_i64)
        .map_or_else(String::new, |i| i.to_string());
    let exit = at(rec, &["exitCode"]).cloned().unwrap_or(Value::Null);
    let duration = match (time_at(rec, &["startTime"]), time_at(rec, &["finishTime"])) {
        (Some(s), Some(f)) => human_duration(f.saturating_sub(s)),
        _ => String::new(),
    };
    Row::new(vec![
        name(rec).into(),
        str_at(rec, &["jobName"]).into(),
        index.into(),
        str_at(rec, &["nodeName"]).into(),
        str_at(rec, &["phase"]).into(),
        exit,
        str_at(rec, &["reason"]).into(),
        duration.into(),
        age(rec, now).into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pod_record_row_shows_job_index_node_exit_and_duration() {
        let rec = json!({"metadata": {"name": "pi-0-abcde", "creationTimestamp": "2023-11-14T22:13:20Z"},
            "jobName": "pi", "completionIndex": 0, "nodeName": "n1", "phase": "Failed",
            "exitCode": 3, "reason": "Error",
            "startTime": "2023-11-14T22:13:20Z", "finishTime": "2023-11-14T22:14:30Z"});
        assert_eq!(
            row(&rec, 1_700_000_100).cells,
            vec![
                json!("pi-0-abcde"),
                json!("pi"),
                json!("0"),
                json!("n1"),
                json!("Failed"),
                json!(3),
                json!("Error"),
                json!("70s"),
                json!("100s")
            ]
        );
    }
}
