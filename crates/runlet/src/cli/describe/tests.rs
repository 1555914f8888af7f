//! Snapshot tests of `describe` on fixed objects (the fixtures are in `fixtures`, shared with
//! the `get` snapshots). Times are rendered in UTC at a fixed "now"; uids are filtered.

use super::*;
use crate::cli::fixtures;

fn clock() -> Clock {
    Clock {
        now: fixtures::NOW,
        local: false,
    }
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[uid]",
    );
    s.set_prepend_module_to_snapshot(false);
    s
}

#[test]
fn describe_completed_job_matches_kubectl_layout() {
    let j: k8s_openapi::api::batch::v1::Job =
        serde_json::from_value(fixtures::completed_job()).expect("job");
    let events: Vec<Event> = fixtures::job_events()
        .into_iter()
        .map(|e| serde_json::from_value(e).expect("event"))
        .collect();
    let text = job(&j, Some(&events), &clock());
    settings().bind(|| insta::assert_snapshot!("describe_job_completed", text));
}

#[test]
fn describe_indexed_job_shows_indexes_ready_and_repeated_events() {
    let j: k8s_openapi::api::batch::v1::Job =
        serde_json::from_value(fixtures::running_indexed_job()).expect("job");
    let events: Vec<Event> = fixtures::repeated_events()
        .into_iter()
        .map(|e| serde_json::from_value(e).expect("event"))
        .collect();
    let text = job(&j, Some(&events), &clock());
    settings().bind(|| insta::assert_snapshot!("describe_job_indexed", text));
}

#[test]
fn describe_cronjob_matches_kubectl_layout() {
    let cj: k8s_openapi::api::batch::v1::CronJob =
        serde_json::from_value(fixtures::cronjob()).expect("cronjob");
    let text = cronjob(&cj, Some(&[]), &clock());
    settings().bind(|| insta::assert_snapshot!("describe_cronjob", text));
}

#[test]
fn describe_pod_shows_container_state_env_and_volumes() {
    let p: k8s_openapi::api::core::v1::Pod =
        serde_json::from_value(fixtures::succeeded_pod()).expect("pod");
    let text = pod(&p, Some(&[]), &clock());
    settings().bind(|| insta::assert_snapshot!("describe_pod", text));
}

#[test]
fn selectors_print_sorted_like_labels_selector_string() {
    let sel: LabelSelector = serde_json::from_value(serde_json::json!({
        "matchLabels": {"b": "2", "a": "1"},
        "matchExpressions": [
            {"key": "c", "operator": "In", "values": ["y", "x"]},
            {"key": "0", "operator": "DoesNotExist"}
        ]
    }))
    .expect("selector");
    assert_eq!(selector_string(Some(&sel)), "!0,a=1,b=2,c in (x,y)");
}

#[test]
fn long_annotations_print_on_their_own_lines() {
    let mut w = Writer::default();
    let mut a = BTreeMap::new();
    a.insert("short".to_string(), "v".to_string());
    a.insert("long".to_string(), "x".repeat(200));
    a.insert(
        SKIPPED_ANNOTATIONS[0].to_string(),
        "{\"apiVersion\":\"v1\"}".to_string(),
    );
    annotations(&mut w, "Annotations", Some(&a));
    let text = w.finish();
    assert!(
        text.starts_with("Annotations:  long:\n              "),
        "{text}"
    );
    assert!(text.contains(&format!("{}...", "x".repeat(138))), "{text}");
    assert!(text.contains("short: v"), "{text}");
    assert!(!text.contains("last-applied"), "{text}");
}
