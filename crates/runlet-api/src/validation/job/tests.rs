//! Job and CronJob validation tests; expected strings are upstream's (see
//! `pkg/apis/batch/validation/validation_test.go`).

use super::*;
use crate::resources::find;
use crate::validation::msgs;
use crate::validation::{validate_create, validate_status_update, validate_update};
use serde_json::json;

/// A Job as it looks after defaulting and selector generation.
fn job() -> Value {
    job_named("pi")
}

fn job_named(name: &str) -> Value {
    let labels = json!({
        "batch.kubernetes.io/controller-uid": "uid-1",
        "batch.kubernetes.io/job-name": name,
        "controller-uid": "uid-1",
        "job-name": name,
    });
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default", "uid": "uid-1", "resourceVersion": "1", "generation": 1},
        "spec": {
            "parallelism": 1,
            "completions": 1,
            "backoffLimit": 6,
            "completionMode": "NonIndexed",
            "suspend": false,
            "podReplacementPolicy": "TerminatingOrFailed",
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "uid-1"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{
                        "name": "pi",
                        "image": "perl:5.34",
                        "command": ["perl", "-e", "print 1"],
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File",
                        "imagePullPolicy": "IfNotPresent"
                    }],
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst",
                    "schedulerName": "default-scheduler",
                    "securityContext": {}
                }
            }
        }
    })
}

fn jobs() -> &'static crate::resources::ResourceInfo {
    find("batch", "v1", "jobs").expect("jobs")
}

fn cronjobs() -> &'static crate::resources::ResourceInfo {
    find("batch", "v1", "cronjobs").expect("cronjobs")
}

fn create(j: &Value) -> Vec<String> {
    msgs(&validate_create(jobs(), j))
}

#[test]
fn defaulted_job_is_valid() {
    assert_eq!(create(&job()), Vec::<String>::new());
}

#[test]
fn seed_job_without_restart_policy_is_rejected_like_upstream() {
    let mut j = job();
    j["spec"]["template"]["spec"]
        .as_object_mut()
        .map(|m| m.remove("restartPolicy"));
    assert_eq!(
        create(&j),
        vec![
            "spec.template.spec.restartPolicy: Required value",
            "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
        ]
    );
}

#[test]
fn restart_policy_always_is_required_error() {
    let mut j = job();
    j["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
    assert_eq!(
        create(&j),
        vec![
            "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
        ]
    );
}

#[test]
fn negative_completions_and_parallelism() {
    let mut j = job();
    j["spec"]["completions"] = json!(-1);
    j["spec"]["parallelism"] = json!(-2);
    assert_eq!(
        create(&j),
        vec![
            "spec.parallelism: Invalid value: -2: must be greater than or equal to 0",
            "spec.completions: Invalid value: -1: must be greater than or equal to 0",
        ]
    );
}

#[test]
fn negative_backoff_limit_and_deadline_and_ttl() {
    let mut j = job();
    j["spec"]["backoffLimit"] = json!(-1);
    j["spec"]["activeDeadlineSeconds"] = json!(-5);
    j["spec"]["ttlSecondsAfterFinished"] = json!(-3);
    assert_eq!(
        create(&j),
        vec![
            "spec.activeDeadlineSeconds: Invalid value: -5: must be greater than or equal to 0",
            "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
            "spec.ttlSecondsAfterFinished: Invalid value: -3: must be greater than or equal to 0",
        ]
    );
}

#[test]
fn indexed_without_completions() {
    let mut j = job();
    j["spec"]["completionMode"] = json!("Indexed");
    j["spec"].as_object_mut().map(|m| m.remove("completions"));
    assert_eq!(
        create(&j),
        vec!["spec.completions: Required value: when completion mode is Indexed"]
    );
}

#[test]
fn unknown_completion_mode_is_not_supported() {
    let mut j = job();
    j["spec"]["completionMode"] = json!("Sometimes");
    assert_eq!(
        create(&j),
        vec![
            "spec.completionMode: Unsupported value: \"Sometimes\": supported values: \"NonIndexed\", \"Indexed\""
        ]
    );
}

#[test]
fn indexed_job_hostname_must_be_a_dns_label() {
    let name = "a".repeat(62);
    let mut j = job_named(&name);
    j["spec"]["completionMode"] = json!("Indexed");
    j["spec"]["completions"] = json!(10);
    assert_eq!(
        create(&j),
        vec![format!(
            "metadata.name: Invalid value: \"{name}\": will not able to create pod with invalid DNS label: {name}-9"
        )]
    );
}

#[test]
fn selector_mismatch_with_template_labels() {
    let mut j = job();
    j["spec"]["manualSelector"] = json!(true);
    j["spec"]["selector"] = json!({"matchLabels": {"app": "other"}});
    let errs = create(&j);
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("spec.template.metadata.labels: Invalid value: {"));
    assert!(errs[0].ends_with(": `selector` does not match template `labels`"));
}

#[test]
fn selector_is_required() {
    let mut j = job();
    j["spec"].as_object_mut().map(|m| m.remove("selector"));
    let errs = create(&j);
    assert_eq!(errs[0], "spec.selector: Required value");
    assert!(errs[1].ends_with("`selector` does not match template `labels`"));
}

#[test]
fn generated_labels_must_match_uid_and_name() {
    let mut j = job();
    j["spec"]["template"]["metadata"]["labels"]["job-name"] = json!("other");
    let errs = create(&j);
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("spec.template.metadata.labels[job-name]: Invalid value: {"));
    assert!(errs[0].ends_with(": must be 'pi'"));
}

#[test]
fn missing_prefixed_label_is_required_on_create() {
    let mut j = job();
    j["spec"]["template"]["metadata"]["labels"]
        .as_object_mut()
        .map(|m| m.remove("batch.kubernetes.io/job-name"));
    assert_eq!(
        create(&j),
        vec![
            "spec.template.metadata.labels[batch.kubernetes.io/job-name]: Required value: must be 'pi'"
        ]
    );
}

#[test]
fn job_name_longer_than_63_fails_on_template_labels() {
    let name = "a".repeat(64);
    let errs = create(&job_named(&name));
    let want = format!(
        "spec.template.labels: Invalid value: \"{name}\": must be no more than 63 characters"
    );
    assert_eq!(errs, vec![want.clone(), want]);
}

#[test]
fn backoff_limit_per_index_requires_indexed() {
    let mut j = job();
    j["spec"]["backoffLimitPerIndex"] = json!(1);
    j["spec"]["maxFailedIndexes"] = json!(1);
    assert_eq!(
        create(&j),
        vec![
            "spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode",
            "spec.maxFailedIndexes: Invalid value: 1: requires indexed completion mode",
        ]
    );
}

#[test]
fn max_failed_indexes_needs_backoff_limit_per_index_and_at_most_completions() {
    let mut j = job();
    j["spec"]["completionMode"] = json!("Indexed");
    j["spec"]["completions"] = json!(2);
    j["spec"]["maxFailedIndexes"] = json!(3);
    assert_eq!(
        create(&j),
        vec![
            "spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified",
            "spec.maxFailedIndexes: Invalid value: 3: must be less than or equal to completions",
        ]
    );
}

fn with_pod_failure_policy(rules: Value) -> Value {
    let mut j = job();
    j["spec"]["podFailurePolicy"] = json!({"rules": rules});
    j["spec"]["podReplacementPolicy"] = json!("Failed");
    j
}

#[test]
fn pod_failure_policy_rule_needs_exactly_one_requirement() {
    let j = with_pod_failure_policy(json!([{"action": "FailJob"}]));
    assert_eq!(
        create(&j),
        vec![
            "spec.podFailurePolicy.rules[0]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required"
        ]
    );
}

#[test]
fn pod_failure_policy_exit_codes_rules() {
    let j = with_pod_failure_policy(json!([{
        "action": "Count",
        "onExitCodes": {"containerName": "nope", "operator": "In", "values": [0, 5, 5, 3]}
    }]));
    assert_eq!(
        create(&j),
        vec![
            "spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: \"nope\": must be one of the container or initContainer names in the pod template",
            "spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator",
            "spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Duplicate value: 5",
            "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: [0,5,5,3]: must be ordered",
        ]
    );
}

#[test]
fn pod_failure_policy_action_required_and_fail_index_needs_backoff_limit_per_index() {
    let j = with_pod_failure_policy(json!([
        {"onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        {"action": "FailIndex", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    ]));
    assert_eq!(
        create(&j),
        vec![
            "spec.podFailurePolicy.rules[0].action: Required value: valid values: [\"Count\" \"FailIndex\" \"FailJob\" \"Ignore\"]",
            "spec.podFailurePolicy.rules[1].action: Invalid value: \"FailIndex\": requires the backoffLimitPerIndex to be set",
        ]
    );
}

#[test]
fn pod_failure_policy_requires_never_and_failed_replacement() {
    let mut j = with_pod_failure_policy(
        json!([{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]),
    );
    j["spec"]["podReplacementPolicy"] = json!("TerminatingOrFailed");
    j["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure");
    assert_eq!(
        create(&j),
        vec![
            "spec.podReplacementPolicy: Unsupported value: \"TerminatingOrFailed\": supported values: \"Failed\"",
            "spec.template.spec.restartPolicy: Invalid value: \"OnFailure\": only \"Never\" is supported when podFailurePolicy is specified",
        ]
    );
}

#[test]
fn success_policy_requires_indexed_and_valid_rules() {
    let mut j = job();
    j["spec"]["successPolicy"] = json!({"rules": [{"succeededCount": 1}]});
    assert_eq!(create(&j).len(), 1);
    assert!(create(&j)[0].ends_with(": requires indexed completion mode"));
    j["spec"]["completionMode"] = json!("Indexed");
    j["spec"]["completions"] = json!(3);
    j["spec"]["successPolicy"] =
        json!({"rules": [{"succeededIndexes": "0-1,1", "succeededCount": 5}]});
    assert_eq!(
        create(&j),
        vec![
            "spec.successPolicy.rules[0].succeededIndexes: Invalid value: \"0-1,1\": error parsing succeededIndexes: non-increasing order, previous: 1, current: 1",
            "spec.successPolicy.rules[0].succeededCount: Invalid value: 5: must be less than or equal to 3 (the number of specified completions)",
            "spec.successPolicy.rules[0].succeededCount: Invalid value: 5: must be less than or equal to 0 (the number of indexes in the specified succeededIndexes field)",
        ]
    );
}

#[test]
fn managed_by_must_be_domain_prefixed_path() {
    let mut j = job();
    j["spec"]["managedBy"] = json!("kueue");
    assert_eq!(
        create(&j),
        vec![
            "spec.managedBy: Invalid value: \"kueue\": must be a domain-prefixed path (such as \"acme.io/foo\")"
        ]
    );
}

#[test]
fn template_change_on_update_is_immutable() {
    let old = job();
    let mut new = old.clone();
    new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:5.36");
    let errs = msgs(&validate_update(jobs(), &new, &old));
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("spec.template: Invalid value: {"));
    assert!(errs[0].ends_with(": field is immutable"));
}

#[test]
fn suspended_unstarted_job_may_change_node_selector() {
    let mut old = job();
    old["spec"]["suspend"] = json!(true);
    let mut new = old.clone();
    new["spec"]["template"]["spec"]["nodeSelector"] = json!({"disk": "ssd"});
    new["spec"]["template"]["metadata"]["annotations"] = json!({"a": "b"});
    assert_eq!(
        msgs(&validate_update(jobs(), &new, &old)),
        Vec::<String>::new()
    );
    let mut started = old.clone();
    started["status"] = json!({"startTime": "2024-01-01T00:00:00Z"});
    let errs = msgs(&validate_update(jobs(), &new, &started));
    assert_eq!(errs.len(), 1);
    assert!(errs[0].ends_with("field is immutable"));
}

#[test]
fn completions_immutable_for_non_indexed_and_tandem_for_indexed() {
    let old = job();
    let mut new = old.clone();
    new["spec"]["completions"] = json!(2);
    assert_eq!(
        msgs(&validate_update(jobs(), &new, &old)),
        vec!["spec.completions: Invalid value: 2: field is immutable"]
    );

    let mut old = job();
    old["spec"]["completionMode"] = json!("Indexed");
    let mut new = old.clone();
    new["spec"]["completions"] = json!(3);
    assert_eq!(
        msgs(&validate_update(jobs(), &new, &old)),
        vec![
            "spec.completions: Invalid value: 3: can only be modified in tandem with spec.parallelism"
        ]
    );
    new["spec"]["parallelism"] = json!(3);
    assert_eq!(
        msgs(&validate_update(jobs(), &new, &old)),
        Vec::<String>::new()
    );
}

#[test]
fn selector_and_completion_mode_are_immutable() {
    let old = job();
    let mut new = old.clone();
    new["spec"]["selector"]["matchLabels"]["job-name"] = json!("pi");
    new["spec"]["completionMode"] = json!("Indexed");
    let errs = msgs(&validate_update(jobs(), &new, &old));
    assert!(
        errs.iter()
            .any(|e| e.starts_with("spec.selector: Invalid value: {")
                && e.ends_with("field is immutable"))
    );
    assert!(errs.contains(
        &"spec.completionMode: Invalid value: \"Indexed\": field is immutable".to_string()
    ));
}

#[test]
fn job_update_reports_spec_errors_once() {
    let old = job();
    let mut new = old.clone();
    new["spec"]["backoffLimit"] = json!(-1);
    assert_eq!(
        msgs(&validate_update(jobs(), &new, &old)),
        vec!["spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0"]
    );
}

#[test]
fn status_counters_are_non_negative_and_never_decrease() {
    let mut old = job();
    old["status"] = json!({"failed": 2, "succeeded": 1});
    let mut new = old.clone();
    new["status"] = json!({"failed": 1, "succeeded": 1, "active": -1});
    assert_eq!(
        msgs(&validate_status_update(jobs(), &new, &old)),
        vec![
            "status.active: Invalid value: -1: must be greater than or equal to 0",
            "status.failed: Invalid value: 1: cannot decrease the failed counter",
        ]
    );
}

#[test]
fn status_complete_requires_success_criteria_met_and_completion_time() {
    let mut old = job();
    old["status"] = json!({"startTime": "2024-01-01T00:00:00Z", "succeeded": 1});
    let mut new = old.clone();
    new["status"]["conditions"] = json!([{"type": "Complete", "status": "True"}]);
    assert_eq!(
        msgs(&validate_status_update(jobs(), &new, &old)),
        vec![
            "status.completionTime: Required value: completionTime is required for Complete jobs",
            "status.conditions: Invalid value: cannot set Complete=True condition without the SuccessCriteriaMet=true condition",
        ]
    );
    new["status"]["conditions"] = json!([
        {"type": "SuccessCriteriaMet", "status": "True"},
        {"type": "Complete", "status": "True"}
    ]);
    new["status"]["completionTime"] = json!("2024-01-01T00:01:00Z");
    assert_eq!(
        msgs(&validate_status_update(jobs(), &new, &old)),
        Vec::<String>::new()
    );
}

#[test]
fn status_terminal_condition_cannot_be_removed() {
    let mut old = job();
    old["status"] = json!({"startTime": "2024-01-01T00:00:00Z", "failed": 7, "conditions": [
        {"type": "FailureTarget", "status": "True"}, {"type": "Failed", "status": "True"}
    ]});
    let mut new = old.clone();
    new["status"]["conditions"] = json!([{"type": "FailureTarget", "status": "True"}]);
    assert_eq!(
        msgs(&validate_status_update(jobs(), &new, &old)),
        vec!["status.conditions: Invalid value: cannot disable the terminal Failed=True condition"]
    );
}

#[test]
fn status_start_time_changes_only_while_suspended_or_as_the_job_resumes() {
    let mut old = job();
    old["status"] = json!({"startTime": "2024-01-01T00:00:00Z"});
    let mut new = old.clone();
    new["status"]["startTime"] = json!("2024-01-01T00:05:00Z");
    assert_eq!(
        msgs(&validate_status_update(jobs(), &new, &old)),
        vec!["status.startTime: Required value: startTime cannot be removed for unsuspended job"]
    );
    // Resuming: the Suspended condition goes from True to False with the new startTime.
    old["status"]["conditions"] = json!([{"type": "Suspended", "status": "True"}]);
    new["status"]["conditions"] = json!([{"type": "Suspended", "status": "False"}]);
    assert_eq!(
        msgs(&validate_status_update(jobs(), &new, &old)),
        Vec::<String>::new()
    );
    // Still suspended by its condition while the spec no longer is: not yet resuming.
    new["status"]["conditions"] = old["status"]["conditions"].clone();
    assert_eq!(msgs(&validate_status_update(jobs(), &new, &old)).len(), 1);
}

// ---- CronJob ----

fn cronjob() -> Value {
    cronjob_named("hello")
}

fn cronjob_named(name: &str) -> Value {
    json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": "default", "uid": "cj-uid", "resourceVersion": "1"},
        "spec": {
            "schedule": "*/1 * * * *",
            "concurrencyPolicy": "Allow",
            "suspend": false,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {"spec": {
                "backoffLimit": 6,
                "completionMode": "NonIndexed",
                "podReplacementPolicy": "TerminatingOrFailed",
                "template": {"spec": {
                    "containers": [{"name": "hello", "image": "busybox", "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}],
                    "restartPolicy": "OnFailure",
                    "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst"
                }}
            }}
        }
    })
}

fn create_cj(cj: &Value) -> Vec<String> {
    msgs(&validate_create(cronjobs(), cj))
}

#[test]
fn defaulted_cronjob_is_valid() {
    assert_eq!(create_cj(&cronjob()), Vec::<String>::new());
}

#[test]
fn invalid_cron_schedule() {
    let mut cj = cronjob();
    cj["spec"]["schedule"] = json!("* * * *");
    assert_eq!(
        create_cj(&cj),
        vec![
            "spec.schedule: Invalid value: \"* * * *\": expected exactly 5 fields, found 4: [* * * *]"
        ]
    );
    cj["spec"]["schedule"] = json!("");
    assert_eq!(create_cj(&cj), vec!["spec.schedule: Required value"]);
}

#[test]
fn tz_prefix_in_schedule_is_rejected() {
    let mut cj = cronjob();
    cj["spec"]["schedule"] = json!("TZ=UTC 0 * * * *");
    assert_eq!(
        create_cj(&cj),
        vec![
            "spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
        ]
    );
}

#[test]
fn tz_prefix_kept_on_update_but_not_with_time_zone() {
    let mut old = cronjob();
    old["spec"]["schedule"] = json!("CRON_TZ=UTC 0 * * * *");
    let mut new = old.clone();
    assert_eq!(
        msgs(&validate_update(cronjobs(), &new, &old)),
        Vec::<String>::new()
    );
    new["spec"]["timeZone"] = json!("Europe/Paris");
    assert_eq!(
        msgs(&validate_update(cronjobs(), &new, &old)),
        vec![
            "spec.schedule: Invalid value: \"CRON_TZ=UTC 0 * * * *\": cannot use both timeZone field and TZ or CRON_TZ in schedule"
        ]
    );
}

#[test]
fn bad_time_zone() {
    let mut cj = cronjob();
    cj["spec"]["timeZone"] = json!("Mars/Olympus");
    assert_eq!(
        create_cj(&cj),
        vec!["spec.timeZone: Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus"]
    );
    cj["spec"]["timeZone"] = json!("Local");
    assert_eq!(
        create_cj(&cj),
        vec![
            "spec.timeZone: Invalid value: \"Local\": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
        ]
    );
    cj["spec"]["timeZone"] = json!("");
    assert_eq!(
        create_cj(&cj),
        vec!["spec.timeZone: Invalid value: \"\": timeZone must be nil or non-empty string"]
    );
    cj["spec"]["timeZone"] = json!("America/New_York");
    assert_eq!(create_cj(&cj), Vec::<String>::new());
}

#[test]
fn cronjob_name_longer_than_52_is_rejected_on_create_only() {
    let name = "a".repeat(53);
    let cj = cronjob_named(&name);
    assert_eq!(
        create_cj(&cj),
        vec![format!(
            "metadata.name: Invalid value: \"{name}\": must be no more than 52 characters"
        )]
    );
    assert_eq!(
        msgs(&validate_update(cronjobs(), &cj, &cj)),
        Vec::<String>::new()
    );
}

#[test]
fn concurrency_policy_and_history_limits() {
    let mut cj = cronjob();
    cj["spec"]["concurrencyPolicy"] = json!("Sometimes");
    cj["spec"]["successfulJobsHistoryLimit"] = json!(-1);
    cj["spec"]["startingDeadlineSeconds"] = json!(-10);
    assert_eq!(
        create_cj(&cj),
        vec![
            "spec.startingDeadlineSeconds: Invalid value: -10: must be greater than or equal to 0",
            "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
            "spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
        ]
    );
}

#[test]
fn job_template_may_not_have_selector_or_manual_selector() {
    let mut cj = cronjob();
    cj["spec"]["jobTemplate"]["spec"]["selector"] = json!({"matchLabels": {"a": "b"}});
    cj["spec"]["jobTemplate"]["spec"]["manualSelector"] = json!(true);
    assert_eq!(
        create_cj(&cj),
        vec![
            "spec.jobTemplate.spec.selector: Invalid value: {\"matchLabels\":{\"a\":\"b\"}}: `selector` will be auto-generated",
            "spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: \"nil\", \"false\"",
        ]
    );
}

#[test]
fn job_template_restart_policy_rule_applies_to_cronjobs() {
    let mut cj = cronjob();
    cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
    assert_eq!(
        create_cj(&cj),
        vec![
            "spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
        ]
    );
}
