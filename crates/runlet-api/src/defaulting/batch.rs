//! Job and CronJob defaulting (`pkg/apis/batch/v1/defaults.go`) and the Job strategy's
//! selector generation (`pkg/registry/batch/job/strategy.go`).
//!
//! The generated selector ties a Job to exactly its own pods through the
//! `batch.kubernetes.io/controller-uid` label; the Job controller and `kubectl` both rely on it.

use super::pod::default_pod_template;
use super::{child, default_str, default_value, each_item, ensure_child, is_unset};
use crate::meta;
use serde_json::{Map, Value};

/// The label a generated selector matches on.
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
/// The pre-1.27 spelling of [`CONTROLLER_UID_LABEL`], still written to templates.
pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
/// The label carrying the Job's name.
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
/// The pre-1.27 spelling of [`JOB_NAME_LABEL`], still written to templates.
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";

/// `SetDefaults_Job`, then the pod template's defaults.
pub(super) fn default_job(root: &mut Map<String, Value>) {
    let Some(spec) = ensure_child(root, "spec") else {
        return;
    };
    if is_unset(spec, "completions") && is_unset(spec, "parallelism") {
        spec.insert("completions".into(), Value::from(1));
        spec.insert("parallelism".into(), Value::from(1));
    }
    default_value(spec, "parallelism", 1);
    if is_unset(spec, "backoffLimit") {
        let limit = if is_unset(spec, "backoffLimitPerIndex") {
            6
        } else {
            i64::from(i32::MAX)
        };
        spec.insert("backoffLimit".into(), Value::from(limit));
    }
    default_value(spec, "completionMode", "NonIndexed");
    default_value(spec, "suspend", false);
    let has_failure_policy = !is_unset(spec, "podFailurePolicy");
    if let Some(policy) = child(spec, "podFailurePolicy") {
        for rule in each_item(policy, "rules") {
            for pattern in each_item(rule, "onPodConditions") {
                default_str(pattern, "status", "True");
            }
        }
    }
    let replacement = if has_failure_policy {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    default_value(spec, "podReplacementPolicy", replacement);
    // Since 1.29 (kubernetes#120206), so that the selector's generation reads a value.
    default_value(spec, "manualSelector", false);
    if let Some(template) = ensure_child(spec, "template") {
        default_pod_template(template);
    }
    labels_from_template(root);
}

/// `SetDefaults_Job`'s label rule: a Job without labels takes its template's labels.
fn labels_from_template(root: &mut Map<String, Value>) {
    let template_labels = root
        .get("spec")
        .and_then(|s| s.get("template"))
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.is_object())
        .cloned();
    let Some(labels) = template_labels else {
        return;
    };
    let Some(meta) = ensure_child(root, "metadata") else {
        return;
    };
    let job_has_labels = meta
        .get("labels")
        .and_then(Value::as_object)
        .is_some_and(|l| !l.is_empty());
    if !job_has_labels {
        meta.insert("labels".into(), labels);
    }
}

/// `SetDefaults_CronJob`, then the job template's pod template defaults (the job template's
/// own spec is not defaulted, as upstream).
pub(super) fn default_cronjob(root: &mut Map<String, Value>) {
    let Some(spec) = ensure_child(root, "spec") else {
        return;
    };
    default_str(spec, "concurrencyPolicy", "Allow");
    default_value(spec, "suspend", false);
    default_value(spec, "successfulJobsHistoryLimit", 3);
    default_value(spec, "failedJobsHistoryLimit", 1);
    if let Some(job_template) = ensure_child(spec, "jobTemplate") {
        super::template_metadata(job_template);
        if let Some(template) =
            ensure_child(job_template, "spec").and_then(|s| ensure_child(s, "template"))
        {
            default_pod_template(template);
        }
    }
}

/// The Job strategy's `PrepareForCreate`: generate the selector and template labels unless
/// `manualSelector` is true, and start with an empty status.
///
/// Upstream's defaulting gives a Job without labels its template's label *map*, the same Go
/// map, so the labels `generateSelector` adds to the template are the Job's too. Labels equal
/// to the template's are taken as that shared map here.
pub(super) fn prepare_job(root: &mut Map<String, Value>) {
    let manual = root
        .get("spec")
        .and_then(|s| s.get("manualSelector"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if !manual {
        let whole = Value::Object(root.clone());
        let name = meta::str_field(&whole, "name").unwrap_or("").to_string();
        let uid = meta::str_field(&whole, "uid").unwrap_or("").to_string();
        let labels = whole.pointer("/metadata/labels").filter(|l| l.is_object());
        let shared =
            labels.is_some_and(|l| Some(l) == whole.pointer("/spec/template/metadata/labels"));
        generate_selector(root, &name, &uid);
        if shared
            && let Some(template_labels) = root
                .get("spec")
                .and_then(|s| s.pointer("/template/metadata/labels"))
                .cloned()
            && let Some(meta) = ensure_child(root, "metadata")
        {
            meta.insert("labels".into(), template_labels);
        }
    }
    root.insert("status".into(), Value::Object(Map::new()));
}

/// What a created Job looks like when upstream reads it back from storage, where it is
/// defaulted again: a Job still without labels shows its template's, the generated ones
/// included. Applied after validation, which upstream runs before the object is stored.
pub(super) fn job_as_read_back(root: &mut Map<String, Value>) {
    labels_from_template(root);
}

/// `generateSelector`: labels the template with the Job's name and uid (keeping any the user
/// set, which validation then rejects if they conflict) and selects on the uid.
fn generate_selector(root: &mut Map<String, Value>, name: &str, uid: &str) {
    let Some(spec) = ensure_child(root, "spec") else {
        return;
    };
    if let Some(labels) = ensure_child(spec, "template")
        .and_then(|t| ensure_child(t, "metadata"))
        .and_then(|m| ensure_child(m, "labels"))
    {
        for (key, value) in [
            (LEGACY_JOB_NAME_LABEL, name),
            (JOB_NAME_LABEL, name),
            (LEGACY_CONTROLLER_UID_LABEL, uid),
            (CONTROLLER_UID_LABEL, uid),
        ] {
            labels.entry(key).or_insert_with(|| Value::from(value));
        }
    }
    if let Some(match_labels) =
        ensure_child(spec, "selector").and_then(|s| ensure_child(s, "matchLabels"))
    {
        match_labels
            .entry(CONTROLLER_UID_LABEL)
            .or_insert_with(|| Value::from(uid));
    }
}

#[cfg(test)]
mod tests {
    use crate::defaulting::{apply_defaults, as_read_back, prepare_for_create};
    use crate::resources;
    use serde_json::{Value, json};

    const UID: &str = "863452e6-270d-420e-9b94-53a54146c223";

    fn create(plural: &str, mut obj: Value) -> Value {
        let info = resources::find("batch", "v1", plural).cloned();
        if let Some(info) = info {
            apply_defaults(&info, &mut obj);
            obj["metadata"]["uid"] = Value::from(UID);
            prepare_for_create(&info, &mut obj);
            as_read_back(&info, &mut obj);
        }
        obj
    }

    fn job_with_labels(job_labels: Value, template_labels: Value) -> Value {
        create(
            "jobs",
            json!({"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": "lbl", "labels": job_labels},
                "spec": {"template": {"metadata": {"labels": template_labels},
                    "spec": {"restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "busybox"}]}}}}),
        )
    }

    #[test]
    fn a_job_without_labels_shares_its_template_s_generated_ones() {
        let generated = |extra: Option<(&str, &str)>| {
            let mut labels = json!({
                "batch.kubernetes.io/controller-uid": UID,
                "batch.kubernetes.io/job-name": "lbl",
                "controller-uid": UID,
                "job-name": "lbl",
            });
            if let Some((k, v)) = extra {
                labels[k] = Value::from(v);
            }
            labels
        };
        let from_template = job_with_labels(Value::Null, json!({"app": "yy"}));
        assert_eq!(
            from_template["metadata"]["labels"],
            generated(Some(("app", "yy")))
        );
        let unlabelled = job_with_labels(Value::Null, Value::Null);
        assert_eq!(unlabelled["metadata"]["labels"], generated(None));
        let own = job_with_labels(json!({"team": "a"}), json!({"app": "yy"}));
        assert_eq!(own["metadata"]["labels"], json!({"team": "a"}));
    }

    /// The seed `pi` Job of the Kubernetes docs, as `kubectl get job pi -o yaml` shows it on 1.33
    /// (server-set metadata aside).
    #[test]
    fn pi_job_is_defaulted_like_kubernetes() {
        let job = create(
            "jobs",
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "default"},
                "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl:5.34.0",
                    "command": ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"]}],
                    "restartPolicy": "Never"}}, "backoffLimit": 4}}),
        );
        let labels = json!({
            "batch.kubernetes.io/controller-uid": UID,
            "batch.kubernetes.io/job-name": "pi",
            "controller-uid": UID,
            "job-name": "pi",
        });
        let expected = json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"labels": labels, "name": "pi", "namespace": "default", "uid": UID},
            "spec": {
                "backoffLimit": 4,
                "completionMode": "NonIndexed",
                "completions": 1,
                "manualSelector": false,
                "parallelism": 1,
                "podReplacementPolicy": "TerminatingOrFailed",
                "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": UID}},
                "suspend": false,
                "template": {
                    "metadata": {"creationTimestamp": null, "labels": labels},
                    "spec": {
                        "containers": [{
                            "command": ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"],
                            "image": "perl:5.34.0",
                            "imagePullPolicy": "IfNotPresent",
                            "name": "pi",
                            "resources": {},
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File",
                        }],
                        "dnsPolicy": "ClusterFirst",
                        "restartPolicy": "Never",
                        "schedulerName": "default-scheduler",
                        "securityContext": {},
                        "terminationGracePeriodSeconds": 30,
                    },
                },
            },
            "status": {},
        });
        assert_eq!(job, expected);
    }

    #[test]
    fn work_queue_and_per_index_jobs_follow_upstream_rules() {
        let spec = |extra: Value| {
            let mut s = json!({"template": {"spec": {"containers": [], "restartPolicy": "Never"}}});
            if let (Some(s), Some(e)) = (s.as_object_mut(), extra.as_object()) {
                s.extend(e.clone());
            }
            create("jobs", json!({"metadata": {"name": "j"}, "spec": s}))
        };
        let queue = spec(json!({"parallelism": 3}));
        assert!(queue["spec"].get("completions").is_none());
        assert_eq!(queue["spec"]["parallelism"], 3);
        let fixed = spec(json!({"completions": 5}));
        assert_eq!(fixed["spec"]["parallelism"], 1);
        let per_index =
            spec(json!({"backoffLimitPerIndex": 1, "completionMode": "Indexed", "completions": 2}));
        assert_eq!(per_index["spec"]["backoffLimit"], 2147483647);
        assert_eq!(per_index["spec"]["completionMode"], "Indexed");
        let with_policy = spec(json!({"podFailurePolicy": {"rules": [{"action": "Ignore",
            "onPodConditions": [{"type": "DisruptionTarget"}]}]}}));
        assert_eq!(with_policy["spec"]["podReplacementPolicy"], "Failed");
        assert_eq!(
            with_policy["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"],
            "True"
        );
    }

    #[test]
    fn manual_selector_keeps_user_selector_and_labels() {
        let job = create(
            "jobs",
            json!({"metadata": {"name": "m", "labels": {"own": "yes"}}, "spec": {"manualSelector": true,
                "selector": {"matchLabels": {"app": "x"}},
                "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [], "restartPolicy": "Never"}}}}),
        );
        assert_eq!(
            job["spec"]["selector"],
            json!({"matchLabels": {"app": "x"}})
        );
        assert_eq!(
            job["spec"]["template"]["metadata"]["labels"],
            json!({"app": "x"})
        );
        assert_eq!(job["metadata"]["labels"], json!({"own": "yes"}));
    }

    #[test]
    fn job_status_is_cleared_on_create() {
        let job = create(
            "jobs",
            json!({"metadata": {"name": "s"}, "spec": {"template": {"spec": {}}},
            "status": {"succeeded": 3}}),
        );
        assert_eq!(job["status"], json!({}));
    }

    #[test]
    fn cronjob_is_defaulted_like_kubernetes() {
        let cj = create(
            "cronjobs",
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "hello"},
                "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                    "containers": [{"name": "hello", "image": "busybox:1.28", "command": ["date"]}],
                    "restartPolicy": "OnFailure"}}}}}}),
        );
        let expected = json!({
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "hello", "uid": UID},
            "spec": {
                "concurrencyPolicy": "Allow",
                "failedJobsHistoryLimit": 1,
                "jobTemplate": {
                    "metadata": {"creationTimestamp": null},
                    "spec": {"template": {
                        "metadata": {"creationTimestamp": null},
                        "spec": {
                            "containers": [{"command": ["date"], "image": "busybox:1.28",
                                "imagePullPolicy": "IfNotPresent", "name": "hello", "resources": {},
                                "terminationMessagePath": "/dev/termination-log",
                                "terminationMessagePolicy": "File"}],
                            "dnsPolicy": "ClusterFirst",
                            "restartPolicy": "OnFailure",
                            "schedulerName": "default-scheduler",
                            "securityContext": {},
                            "terminationGracePeriodSeconds": 30,
                        },
                    }},
                },
                "schedule": "* * * * *",
                "successfulJobsHistoryLimit": 3,
                "suspend": false,
            },
            "status": {},
        });
        assert_eq!(cj, expected);
    }
}
