//! CronJob rows, as upstream's `printCronJob`.

use super::descriptions as d;
use super::{
    Column, Row, age, array_at, at, container_cells, format_label_selector, name, since, str_at,
    time_at,
};
use serde_json::Value;

pub(super) const COLUMNS: &[Column] = &[
    Column::NAME,
    Column::string("Schedule", d::CRON_JOB_SPEC_SCHEDULE),
    Column::string("Timezone", d::CRON_JOB_SPEC_TIME_ZONE),
    Column::typed("Suspend", "boolean", d::CRON_JOB_SPEC_SUSPEND),
    Column::typed("Active", "integer", d::CRON_JOB_STATUS_ACTIVE),
    Column::string("Last Schedule", d::CRON_JOB_STATUS_LAST_SCHEDULE_TIME),
    Column::AGE,
    Column::wide("Containers", "Names of each container in the template."),
    Column::wide(
        "Images",
        "Images referenced by each container in the template.",
    ),
    Column::wide("Selector", d::JOB_SPEC_SELECTOR),
];

pub(super) fn row(cj: &Value, now: i64) -> Row {
    let last_schedule = match at(cj, &["status", "lastScheduleTime"]).filter(|t| !t.is_null()) {
        Some(_) => since(time_at(cj, &["status", "lastScheduleTime"]), now),
        None => "<none>".to_string(),
    };
    let time_zone = at(cj, &["spec", "timeZone"])
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let (containers, images) = container_cells(array_at(
        cj,
        &[
            "spec",
            "jobTemplate",
            "spec",
            "template",
            "spec",
            "containers",
        ],
    ));
    Row::new(vec![
        name(cj).into(),
        str_at(cj, &["spec", "schedule"]).into(),
        time_zone.into(),
        print_bool_ptr(at(cj, &["spec", "suspend"]).and_then(Value::as_bool)).into(),
        array_at(cj, &["status", "active"]).len().into(),
        last_schedule.into(),
        age(cj, now).into(),
        containers.into(),
        images.into(),
        format_label_selector(at(cj, &["spec", "jobTemplate", "spec", "selector"])).into(),
    ])
}

/// `printBoolPtr`: `True`, `False` or `<unset>`.
fn print_bool_ptr(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cronjob_cells_match_printcronjob() {
        let cj = json!({"metadata": {"name": "hello", "creationTimestamp": "2023-11-14T20:13:20Z"},
            "spec": {"schedule": "*/1 * * * *", "suspend": false, "jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "a", "image": "busybox"}, {"name": "b", "image": "nginx:1"}]}}}}},
            "status": {"active": [{"name": "hello-1"}], "lastScheduleTime": "2023-11-14T22:12:20Z"}});
        let now = 1_700_000_000; // 2023-11-14T22:13:20Z
        assert_eq!(
            row(&cj, now).cells,
            vec![
                json!("hello"),
                json!("*/1 * * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("60s"),
                json!("120m"),
                json!("a,b"),
                json!("busybox,nginx:1"),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn unset_suspend_timezone_and_schedule_print_placeholders() {
        let cj = json!({"metadata": {"name": "c"}, "spec": {"schedule": "@daily", "timeZone": "Etc/UTC"}});
        let cells = row(&cj, 0).cells;
        assert_eq!(cells[2], "Etc/UTC");
        assert_eq!(cells[3], "<unset>");
        assert_eq!(cells[4], 0);
        assert_eq!(cells[5], "<none>");
        assert_eq!(cells[6], "<unknown>");
    }
}
