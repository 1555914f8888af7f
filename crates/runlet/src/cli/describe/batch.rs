//! `describe job` and `describe cronjob` (kubectl's `describeJob`, `describeCronJob`,
//! `describeJobTemplate`).

use super::template::pod_template;
use super::{Clock, Writer, annotations, controlled_by, events, labels, secs, selector_string};
use k8s_openapi::api::batch::v1::{CronJob, Job, JobTemplateSpec};
use k8s_openapi::api::core::v1::Event;

/// A Job as `kubectl describe job` prints it; events when `events` is given.
pub fn job(job: &Job, events_list: Option<&[Event]>, clock: &Clock) -> String {
    let mut w = Writer::default();
    let meta = &job.metadata;
    let spec = job.spec.clone().unwrap_or_default();
    let status = job.status.clone().unwrap_or_default();
    w.write(
        0,
        &format!("Name:\t{}\n", meta.name.as_deref().unwrap_or("")),
    );
    w.write(
        0,
        &format!("Namespace:\t{}\n", meta.namespace.as_deref().unwrap_or("")),
    );
    w.write(
        0,
        &format!("Selector:\t{}\n", selector_string(spec.selector.as_ref())),
    );
    labels(&mut w, "Labels", meta.labels.as_ref());
    annotations(&mut w, "Annotations", meta.annotations.as_ref());
    if let Some(owner) = controlled_by(meta) {
        w.write(0, &format!("Controlled By:\t{owner}\n"));
    }
    if let Some(p) = spec.parallelism {
        w.write(0, &format!("Parallelism:\t{p}\n"));
    }
    match spec.completions {
        Some(c) => w.write(0, &format!("Completions:\t{c}\n")),
        None => w.write(0, "Completions:\t<unset>\n"),
    }
    if let Some(mode) = &spec.completion_mode {
        w.write(0, &format!("Completion Mode:\t{mode}\n"));
    }
    if let Some(s) = spec.suspend {
        w.write(0, &format!("Suspend:\t{s}\n"));
    }
    if let Some(b) = spec.backoff_limit {
        w.write(0, &format!("Backoff Limit:\t{b}\n"));
    }
    if let Some(t) = spec.ttl_seconds_after_finished {
        w.write(0, &format!("TTL Seconds After Finished:\t{t}\n"));
    }
    let start = status.start_time.as_ref().map(secs);
    let end = status.completion_time.as_ref().map(secs);
    if let Some(s) = start {
        w.write(0, &format!("Start Time:\t{}\n", clock.rfc1123z(s)));
    }
    if let Some(e) = end {
        w.write(0, &format!("Completed At:\t{}\n", clock.rfc1123z(e)));
    }
    if let (Some(s), Some(e)) = (start, end) {
        w.write(
            0,
            &format!("Duration:\t{}\n", runlet_api::table::human_duration(e - s)),
        );
    }
    if let Some(d) = spec.active_deadline_seconds {
        w.write(0, &format!("Active Deadline Seconds:\t{d}s\n"));
    }
    let (active, succeeded, failed) = (
        status.active.unwrap_or(0),
        status.succeeded.unwrap_or(0),
        status.failed.unwrap_or(0),
    );
    match status.ready {
        None => w.write(
            0,
            &format!("Pods Statuses:\t{active} Active / {succeeded} Succeeded / {failed} Failed\n"),
        ),
        Some(ready) => w.write(
            0,
            &format!(
                "Pods Statuses:\t{active} Active ({ready} Ready) / {succeeded} Succeeded / {failed} Failed\n"
            ),
        ),
    }
    if spec.completion_mode.as_deref() == Some("Indexed") {
        w.write(
            0,
            &format!(
                "Completed Indexes:\t{}\n",
                cap_indexes(status.completed_indexes.as_deref().unwrap_or(""), 50)
            ),
        );
    }
    pod_template(&mut w, &spec.template, clock);
    if let Some(list) = events_list {
        events(&mut w, list, clock);
    }
    w.finish()
}

/// `capIndexesListOrNone`: the list cut after the first comma past `soft_limit`.
fn cap_indexes(indexes: &str, soft_limit: usize) -> String {
    if indexes.is_empty() {
        return "<none>".into();
    }
    match indexes
        .char_indices()
        .find(|(i, c)| *i >= soft_limit && *c == ',')
    {
        Some((i, _)) => format!("{}...", &indexes[..=i]),
        None => indexes.to_string(),
    }
}

/// Go's `printBoolPtr`.
fn bool_ptr(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    }
}

/// A CronJob as `kubectl describe cronjob` prints it.
pub fn cronjob(cj: &CronJob, events_list: Option<&[Event]>, clock: &Clock) -> String {
    let mut w = Writer::default();
    let meta = &cj.metadata;
    let spec = cj.spec.clone().unwrap_or_default();
    let status = cj.status.clone().unwrap_or_default();
    w.write(
        0,
        &format!("Name:\t{}\n", meta.name.as_deref().unwrap_or("")),
    );
    w.write(
        0,
        &format!("Namespace:\t{}\n", meta.namespace.as_deref().unwrap_or("")),
    );
    labels(&mut w, "Labels", meta.labels.as_ref());
    annotations(&mut w, "Annotations", meta.annotations.as_ref());
    w.write(0, &format!("Schedule:\t{}\n", spec.schedule));
    w.write(
        0,
        &format!(
            "Concurrency Policy:\t{}\n",
            spec.concurrency_policy.as_deref().unwrap_or("")
        ),
    );
    w.write(0, &format!("Suspend:\t{}\n", bool_ptr(spec.suspend)));
    let unset_or = |v: Option<i32>, unit: &str| match v {
        Some(v) => format!("{v}{unit}"),
        None => "<unset>".into(),
    };
    w.write(
        0,
        &format!(
            "Successful Job History Limit:\t{}\n",
            unset_or(spec.successful_jobs_history_limit, "")
        ),
    );
    w.write(
        0,
        &format!(
            "Failed Job History Limit:\t{}\n",
            unset_or(spec.failed_jobs_history_limit, "")
        ),
    );
    let deadline = match spec.starting_deadline_seconds {
        Some(d) => format!("{d}s"),
        None => "<unset>".into(),
    };
    w.write(0, &format!("Starting Deadline Seconds:\t{deadline}\n"));
    job_template(&mut w, &spec.job_template, clock);
    match status.last_schedule_time.as_ref().map(secs) {
        Some(t) => w.write(0, &format!("Last Schedule Time:\t{}\n", clock.rfc1123z(t))),
        None => w.write(0, "Last Schedule Time:\t<unset>\n"),
    }
    w.write(0, "Active Jobs:\t");
    let active: Vec<String> = status
        .active
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.name.unwrap_or_default())
        .collect();
    if active.is_empty() {
        w.line("<none>");
    } else {
        w.line(&active.join(", "));
    }
    if let Some(list) = events_list {
        events(&mut w, list, clock);
    }
    w.finish()
}

/// `describeJobTemplate`.
fn job_template(w: &mut Writer, template: &JobTemplateSpec, clock: &Clock) {
    let spec = template.spec.clone().unwrap_or_default();
    match &spec.selector {
        Some(s) => w.write(0, &format!("Selector:\t{}\n", selector_string(Some(s)))),
        None => w.write(0, "Selector:\t<unset>\n"),
    }
    match spec.parallelism {
        Some(p) => w.write(0, &format!("Parallelism:\t{p}\n")),
        None => w.write(0, "Parallelism:\t<unset>\n"),
    }
    match spec.completions {
        Some(c) => w.write(0, &format!("Completions:\t{c}\n")),
        None => w.write(0, "Completions:\t<unset>\n"),
    }
    if let Some(d) = spec.active_deadline_seconds {
        w.write(0, &format!("Active Deadline Seconds:\t{d}s\n"));
    }
    pod_template(w, &spec.template, clock);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_indexes_are_capped_after_the_soft_limit() {
        assert_eq!(cap_indexes("", 50), "<none>");
        assert_eq!(cap_indexes("1-3,5", 50), "1-3,5");
        assert_eq!(cap_indexes("1,3,5,7", 2), "1,3,...");
    }
}
