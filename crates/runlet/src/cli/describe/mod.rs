//! `runlet describe` output, rendered from objects with no I/O so it can be snapshot-tested.
//!
//! Ported from kubectl's `pkg/describe/describe.go` (`describeJob`, `describeCronJob`,
//! `describePod`, `DescribePodTemplate`, `describeContainers`, `DescribeEvents`): the same
//! lines in the same order, written as tab-separated cells through a tabwriter with kubectl's
//! settings, so a person who knows `kubectl describe` reads it the same way. Times print in
//! RFC 1123 with a numeric zone (local time, as kubectl; UTC in tests) and ages relative to a
//! given `now`.

mod batch;
mod pod;
mod template;

pub use batch::{cronjob, job};
pub use pod::pod;

use super::tabwriter::TabWriter;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use std::collections::BTreeMap;

/// The annotation kubectl leaves out of `Annotations:`.
const SKIPPED_ANNOTATIONS: &[&str] = &["kubectl.kubernetes.io/last-applied-configuration"];
/// Longer annotations print on their own lines, cut at this length (kubectl's `maxAnnotationLen`).
const MAX_ANNOTATION_LEN: usize = 140;

/// When "now" is, and how to print instants.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Unix seconds.
    pub now: i64,
    /// Print instants in the local time zone (as kubectl does) rather than UTC.
    pub local: bool,
}

impl Clock {
    /// The current time, printing local times.
    pub fn system() -> Clock {
        Clock {
            now: chrono::Utc::now().timestamp(),
            local: true,
        }
    }

    /// An instant as Go's `time.RFC1123Z`: `Mon, 02 Jan 2006 15:04:05 -0700`.
    fn rfc1123z(&self, secs: i64) -> String {
        const FORMAT: &str = "%a, %d %b %Y %H:%M:%S %z";
        let Some(t) = chrono::DateTime::from_timestamp(secs, 0) else {
            return "<invalid>".into();
        };
        if self.local {
            t.with_timezone(&chrono::Local).format(FORMAT).to_string()
        } else {
            t.format(FORMAT).to_string()
        }
    }

    /// How long ago `secs` was (`translateTimestampSince`).
    fn since(&self, secs: Option<i64>) -> String {
        match secs {
            Some(s) => runlet_api::table::human_duration(self.now - s),
            None => "<unknown>".into(),
        }
    }
}

/// Unix seconds of a `metav1.Time`.
fn secs(t: &Time) -> i64 {
    t.0.as_second()
}

/// Lines written with kubectl's `PrefixWriter`: each `write` is indented by two spaces per
/// level; cells are separated by tabs and laid out at the end.
#[derive(Default)]
struct Writer {
    text: String,
}

impl Writer {
    fn write(&mut self, level: usize, text: &str) {
        for _ in 0..level {
            self.text.push_str("  ");
        }
        self.text.push_str(text);
    }

    /// `WriteLine`: the text and a newline, no indentation.
    fn line(&mut self, text: &str) {
        self.text.push_str(text);
        self.text.push('\n');
    }

    fn finish(self) -> String {
        let mut tw = TabWriter::for_describe();
        tw.write(&self.text);
        tw.flush()
    }
}

/// `printLabelsMultilineWithIndent`.
fn labels_multiline(
    w: &mut Writer,
    initial_indent: &str,
    title: &str,
    inner_indent: &str,
    labels: Option<&BTreeMap<String, String>>,
) {
    w.write(0, &format!("{initial_indent}{title}:{inner_indent}"));
    let labels = labels.filter(|l| !l.is_empty());
    let Some(labels) = labels else {
        w.line("<none>");
        return;
    };
    for (i, (k, v)) in labels.iter().enumerate() {
        if i != 0 {
            w.write(0, initial_indent);
            w.write(0, inner_indent);
        }
        w.write(0, &format!("{k}={v}\n"));
    }
}

/// `printLabelsMultiline`.
fn labels(w: &mut Writer, title: &str, labels: Option<&BTreeMap<String, String>>) {
    labels_multiline(w, "", title, "\t", labels);
}

/// `printAnnotationsMultiline`.
fn annotations(w: &mut Writer, title: &str, annotations: Option<&BTreeMap<String, String>>) {
    w.write(0, &format!("{title}:\t"));
    let keys: Vec<(&String, &String)> = annotations
        .into_iter()
        .flatten()
        .filter(|(k, _)| !SKIPPED_ANNOTATIONS.contains(&k.as_str()))
        .collect();
    if keys.is_empty() {
        w.line("<none>");
        return;
    }
    for (i, (key, value)) in keys.into_iter().enumerate() {
        if i != 0 {
            w.write(0, "\t");
        }
        let value = value.strip_suffix('\n').unwrap_or(value);
        if value.len() + key.len() + 2 > MAX_ANNOTATION_LEN || value.contains('\n') {
            w.write(0, &format!("{key}:\n"));
            for line in value.split('\n') {
                w.write(
                    0,
                    &format!("\t  {}\n", shorten(line, MAX_ANNOTATION_LEN - 2)),
                );
            }
        } else {
            w.write(0, &format!("{key}: {value}\n"));
        }
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s.to_string()
    }
}

/// `Kind/Name` of the controlling owner (`printController`).
fn controlled_by(meta: &ObjectMeta) -> Option<String> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| format!("{}/{}", o.kind, o.name))
}

/// A label selector as `labels.Selector.String()` prints it: requirements sorted by key.
pub fn selector_string(selector: Option<&LabelSelector>) -> String {
    let Some(sel) = selector else {
        return String::new();
    };
    let mut reqs: Vec<(String, String)> = Vec::new();
    for (k, v) in sel.match_labels.iter().flatten() {
        reqs.push((k.clone(), format!("{k}={v}")));
    }
    for e in sel.match_expressions.iter().flatten() {
        let mut values = e.values.clone().unwrap_or_default();
        values.sort();
        let text = match e.operator.as_str() {
            "In" => format!("{} in ({})", e.key, values.join(",")),
            "NotIn" => format!("{} notin ({})", e.key, values.join(",")),
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            other => format!("{} {other} ({})", e.key, values.join(",")),
        };
        reqs.push((e.key.clone(), text));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    reqs.into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(",")
}

/// `DescribeEvents`: sorted by last timestamp; `Events: <none>` when there are none.
fn events(w: &mut Writer, events: &[Event], clock: &Clock) {
    if events.is_empty() {
        w.write(0, "Events:\t<none>\n");
        return;
    }
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|e| e.last_timestamp.as_ref().map(secs).unwrap_or(i64::MIN));
    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n");
    w.write(1, "----\t------\t----\t----\t-------\n");
    for e in sorted {
        let first = match &e.event_time {
            Some(t) => clock.since(Some(t.0.as_second())),
            None => clock.since(e.first_timestamp.as_ref().map(secs)),
        };
        let count = e.count.unwrap_or(0);
        let interval = if let Some(series) = &e.series {
            format!(
                "{} (x{} over {first})",
                clock.since(series.last_observed_time.as_ref().map(|t| t.0.as_second())),
                series.count.unwrap_or(0)
            )
        } else if count > 1 {
            format!(
                "{} (x{count} over {first})",
                clock.since(e.last_timestamp.as_ref().map(secs))
            )
        } else {
            first
        };
        let source = e
            .source
            .as_ref()
            .and_then(|s| s.component.clone())
            .filter(|c| !c.is_empty())
            .or_else(|| e.reporting_component.clone())
            .unwrap_or_default();
        w.write(
            1,
            &format!(
                "{}\t{}\t{interval}\t{source}\t{}\n",
                e.type_.as_deref().unwrap_or(""),
                e.reason.as_deref().unwrap_or(""),
                e.message.as_deref().unwrap_or("").trim()
            ),
        );
    }
}

#[cfg(test)]
mod tests;
