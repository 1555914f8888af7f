//! Job rows, as upstream's `printJob`: the Status column (1.33) and the Completions forms
//! `1/1`, `N/1 of P` (work queue) and `N/1`.

use super::descriptions as d;
use super::{
    Column, Row, age, array_at, at, container_cells, format_label_selector, human_duration, int_at,
    is_deleting, name, time_at,
};
use serde_json::Value;

pub(super) const COLUMNS: &[Column] = &[
    Column::NAME,
    Column::string("Status", "Status of the job."),
    Column::string("Completions", d::JOB_STATUS_SUCCEEDED),
    Column::string("Duration", "Time required to complete the job."),
    Column::AGE,
    Column::wide("Containers", "Names of each container in the template."),
    Column::wide(
        "Images",
        "Images referenced by each container in the template.",
    ),
    Column::wide("Selector", d::JOB_SPEC_SELECTOR),
];

pub(super) fn row(job: &Value, now: i64) -> Row {
    let (containers, images) =
        container_cells(array_at(job, &["spec", "template", "spec", "containers"]));
    Row::new(vec![
        name(job).into(),
        status(job).into(),
        completions(job).into(),
        duration(job, now).into(),
        age(job, now).into(),
        containers.into(),
        images.into(),
        format_label_selector(at(job, &["spec", "selector"])).into(),
    ])
}

fn completions(job: &Value) -> String {
    let succeeded = int_at(job, &["status", "succeeded"]);
    if let Some(completions) = at(job, &["spec", "completions"]).and_then(Value::as_i64) {
        return format!("{succeeded}/{completions}");
    }
    let parallelism = int_at(job, &["spec", "parallelism"]);
    if parallelism > 1 {
        format!("{succeeded}/1 of {parallelism}")
    } else {
        format!("{succeeded}/1")
    }
}

fn duration(job: &Value, now: i64) -> String {
    let Some(start) = time_at(job, &["status", "startTime"]) else {
        return String::new();
    };
    let end = time_at(job, &["status", "completionTime"]).unwrap_or(now);
    human_duration(end.saturating_sub(start))
}

/// `hasJobCondition`: the first condition of `type_` decides, true when its status is `True`.
fn has_condition(job: &Value, type_: &str) -> bool {
    array_at(job, &["status", "conditions"])
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
        .is_some_and(|c| c.get("status").and_then(Value::as_str) == Some("True"))
}

fn status(job: &Value) -> &'static str {
    if has_condition(job, "Complete") {
        "Complete"
    } else if has_condition(job, "Failed") {
        "Failed"
    } else if is_deleting(job) {
        "Terminating"
    } else if has_condition(job, "Suspended") {
        "Suspended"
    } else if has_condition(job, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000;

    fn job(spec: Value, status: Value) -> Value {
        json!({"metadata": {"name": "pi", "creationTimestamp": "2023-11-14T22:13:00Z"},
               "spec": spec, "status": status})
    }

    #[test]
    fn running_job_counts_duration_from_start() {
        let j = job(
            json!({"completions": 1, "parallelism": 1,
                   "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
                   "template": {"spec": {"containers": [{"name": "pi", "image": "perl:5.34.0"}]}}}),
            json!({"startTime": "2023-11-14T22:13:00Z", "active": 1}),
        );
        // NOW is 2023-11-14T22:13:20Z.
        assert_eq!(
            row(&j, NOW).cells,
            vec![
                json!("pi"),
                json!("Running"),
                json!("0/1"),
                json!("20s"),
                json!("20s"),
                json!("pi"),
                json!("perl:5.34.0"),
                json!("batch.kubernetes.io/controller-uid=u")
            ]
        );
    }

    #[test]
    fn complete_job_duration_is_start_to_completion() {
        let j = job(
            json!({"completions": 1}),
            json!({"startTime": "2023-11-14T22:00:00Z", "completionTime": "2023-11-14T22:03:20Z",
                   "succeeded": 1, "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                                                   {"type": "Complete", "status": "True"}]}),
        );
        let cells = row(&j, NOW).cells;
        assert_eq!(cells[1], "Complete");
        assert_eq!(cells[2], "1/1");
        assert_eq!(cells[3], "3m20s");
    }

    #[test]
    fn completions_for_work_queues_and_fixed_counts() {
        assert_eq!(
            completions(&job(json!({"parallelism": 3}), json!({"succeeded": 2}))),
            "2/1 of 3"
        );
        assert_eq!(
            completions(&job(json!({"parallelism": 1}), json!({}))),
            "0/1"
        );
        assert_eq!(
            completions(&job(
                json!({"completions": 5, "parallelism": 2}),
                json!({"succeeded": 3})
            )),
            "3/5"
        );
        assert_eq!(duration(&job(json!({}), json!({})), NOW), "");
    }

    #[test]
    fn status_column_follows_printjob_precedence() {
        let with = |conds: Value| job(json!({}), json!({"conditions": conds}));
        assert_eq!(status(&with(json!([]))), "Running");
        assert_eq!(
            status(&with(json!([{"type": "Failed", "status": "True"}]))),
            "Failed"
        );
        assert_eq!(
            status(&with(json!([{"type": "Suspended", "status": "True"}]))),
            "Suspended"
        );
        assert_eq!(
            status(&with(json!([{"type": "Suspended", "status": "False"}]))),
            "Running"
        );
        assert_eq!(
            status(&with(json!([{"type": "FailureTarget", "status": "True"}]))),
            "FailureTarget"
        );
        assert_eq!(
            status(&with(
                json!([{"type": "SuccessCriteriaMet", "status": "True"}])
            )),
            "Running",
            "1.33's printer has no SuccessCriteriaMet status (1.34's has)"
        );
        let mut deleting = with(json!([{"type": "Suspended", "status": "True"}]));
        deleting["metadata"]["deletionTimestamp"] = json!("2023-11-14T22:13:10Z");
        assert_eq!(status(&deleting), "Terminating");
        let mut done = with(json!([{"type": "Complete", "status": "True"}]));
        done["metadata"]["deletionTimestamp"] = json!("2023-11-14T22:13:10Z");
        assert_eq!(status(&done), "Complete");
    }
}
