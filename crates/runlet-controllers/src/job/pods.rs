//! Facts about one pod that the Job controller decides on: active / terminating / ready,
//! finish time, the upstream deletion order (`controller.ActivePods`), and building a new pod
//! from the Job's template (`GetPodFromTemplate`).

use super::indexed::{self, COMPLETION_INDEX_ANNOTATION, COMPLETION_INDEX_ENV};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use std::cmp::Ordering;

/// The finalizer that keeps a Job's pod until the controller has counted it.
pub const JOB_TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";

pub fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

pub fn is_terminal(p: &Pod) -> bool {
    matches!(phase(p), "Succeeded" | "Failed")
}

pub fn is_deleting(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_some()
}

/// Upstream `FilterActivePods`: not terminal and not being deleted.
pub fn is_active(p: &Pod) -> bool {
    !is_terminal(p) && !is_deleting(p)
}

/// Upstream `CountTerminatingPods`: being deleted and not terminal.
pub fn is_terminating(p: &Pod) -> bool {
    is_deleting(p) && !is_terminal(p)
}

pub fn has_tracking_finalizer(p: &Pod) -> bool {
    p.metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|f| f == JOB_TRACKING_FINALIZER))
}

/// The pod's Ready condition is True.
pub fn is_ready(p: &Pod) -> bool {
    ready_condition(p).is_some_and(|c| c.status == "True")
}

fn ready_condition(p: &Pod) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

pub fn uid(p: &Pod) -> &str {
    p.metadata.uid.as_deref().unwrap_or("")
}

pub fn name(p: &Pod) -> &str {
    p.metadata.name.as_deref().unwrap_or("")
}

pub fn namespace(p: &Pod) -> &str {
    p.metadata.namespace.as_deref().unwrap_or("default")
}

fn millis(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> i64 {
    t.0.as_millisecond()
}

/// Upstream `getFinishedTime` in milliseconds: latest container finish, else the Ready=False
/// transition, else deletionTimestamp minus the grace period, else the creation time.
pub fn finished_time_millis(p: &Pod) -> i64 {
    if let Some(t) = finish_time_from_containers(p) {
        return t;
    }
    if let Some(c) = ready_condition(p)
        && c.status == "False"
        && let Some(t) = &c.last_transition_time
    {
        return millis(t);
    }
    if let Some(t) = &p.metadata.deletion_timestamp {
        let grace = p.metadata.deletion_grace_period_seconds.unwrap_or(0);
        return millis(t) - grace * 1000;
    }
    p.metadata.creation_timestamp.as_ref().map_or(0, millis)
}

fn finish_time_from_containers(p: &Pod) -> Option<i64> {
    let statuses = p.status.as_ref()?.container_statuses.as_ref()?;
    let mut latest: Option<i64> = None;
    for cs in statuses {
        let t = cs
            .state
            .as_ref()?
            .terminated
            .as_ref()?
            .finished_at
            .as_ref()?;
        let t = millis(t);
        if t == 0 {
            return None;
        }
        latest = Some(latest.map_or(t, |l| l.max(t)));
    }
    latest
}

/// Sum of container and init-container restarts.
pub fn restart_count(p: &Pod) -> i64 {
    let Some(s) = p.status.as_ref() else {
        return 0;
    };
    s.container_statuses
        .iter()
        .flatten()
        .chain(s.init_container_statuses.iter().flatten())
        .map(|c| i64::from(c.restart_count))
        .sum()
}

fn max_container_restarts(p: &Pod) -> i32 {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.iter().map(|c| c.restart_count).max())
        .unwrap_or(0)
}

fn phase_rank(p: &Pod) -> u8 {
    match phase(p) {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 3,
    }
}

/// Upstream `controller.ActivePods` order: pods earlier in this order are deleted first —
/// unscheduled < scheduled, Pending < Unknown < Running, not ready < ready, ready for less time
/// first, more restarts first, newer first.
pub fn deletion_order(a: &Pod, b: &Pod) -> Ordering {
    let node = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty())
    };
    let ready_since = |p: &Pod| {
        ready_condition(p)
            .filter(|c| c.status == "True")
            .and_then(|c| c.last_transition_time.as_ref())
            .map(millis)
    };
    let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(millis);
    node(a)
        .cmp(&node(b))
        .then_with(|| phase_rank(a).cmp(&phase_rank(b)))
        .then_with(|| is_ready(a).cmp(&is_ready(b)))
        // Ready for a shorter time (a later transition) comes first.
        .then_with(|| match (ready_since(a), ready_since(b)) {
            (Some(x), Some(y)) => y.cmp(&x),
            _ => Ordering::Equal,
        })
        .then_with(|| max_container_restarts(b).cmp(&max_container_restarts(a)))
        // Newer pods first; a pod without a creation time first of all.
        .then_with(|| match (created(a), created(b)) {
            (Some(x), Some(y)) => y.cmp(&x),
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
}

/// The controller reference a Job puts on its pods.
pub fn controller_ref(job: &Job) -> OwnerReference {
    OwnerReference {
        api_version: "batch/v1".into(),
        kind: "Job".into(),
        name: job.metadata.name.clone().unwrap_or_default(),
        uid: job.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The controller reference of a pod, if its controller is a batch/v1 Job.
pub fn job_controller_of(p: &Pod) -> Option<&OwnerReference> {
    p.metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
        .filter(|r| r.kind == "Job" && r.api_version.starts_with("batch/"))
}

/// The template every new pod of `job` starts from: the Job's pod template, with the tracking
/// finalizer and, for Indexed Jobs, the `JOB_COMPLETION_INDEX` env var in every container.
pub fn base_template(job: &Job, indexed: bool) -> (ObjectMeta, PodSpec) {
    let tpl = job
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let meta = tpl.metadata.unwrap_or_default();
    let mut spec = tpl.spec.unwrap_or_default();
    if indexed {
        let field_path = format!("metadata.labels['{COMPLETION_INDEX_ANNOTATION}']");
        let add = |c: &mut k8s_openapi::api::core::v1::Container| {
            let env = c.env.get_or_insert_with(Vec::new);
            if !env.iter().any(|e| e.name == COMPLETION_INDEX_ENV) {
                env.push(EnvVar {
                    name: COMPLETION_INDEX_ENV.into(),
                    value: None,
                    value_from: Some(EnvVarSource {
                        field_ref: Some(ObjectFieldSelector {
                            api_version: None,
                            field_path: field_path.clone(),
                        }),
                        ..Default::default()
                    }),
                });
            }
        };
        spec.init_containers.iter_mut().flatten().for_each(add);
        spec.containers.iter_mut().for_each(add);
    }
    (meta, spec)
}

/// A pod to create for `job` (upstream `GetPodFromTemplate` plus the index decorations).
/// `failure_counts` are the backoffLimitPerIndex annotations (counted, ignored) when used.
pub fn new_pod(
    job: &Job,
    base: &(ObjectMeta, PodSpec),
    index: Option<i64>,
    failure_counts: Option<(i32, i32)>,
) -> Pod {
    let (tmeta, tspec) = base;
    let job_name = job.metadata.name.as_deref().unwrap_or_default();
    let mut labels = tmeta.labels.clone().unwrap_or_default();
    let mut annotations = tmeta.annotations.clone().unwrap_or_default();
    let mut finalizers = tmeta.finalizers.clone().unwrap_or_default();
    if !finalizers.iter().any(|f| f == JOB_TRACKING_FINALIZER) {
        finalizers.push(JOB_TRACKING_FINALIZER.into());
    }
    let mut spec = tspec.clone();
    let generate_name = match index {
        Some(ix) => {
            annotations.insert(COMPLETION_INDEX_ANNOTATION.into(), ix.to_string());
            labels.insert(COMPLETION_INDEX_ANNOTATION.into(), ix.to_string());
            spec.hostname = Some(format!("{job_name}-{ix}"));
            if let Some((counted, ignored)) = failure_counts {
                annotations.insert(
                    indexed::INDEX_FAILURE_COUNT_ANNOTATION.into(),
                    counted.to_string(),
                );
                if ignored > 0 {
                    annotations.insert(
                        indexed::INDEX_IGNORED_FAILURE_COUNT_ANNOTATION.into(),
                        ignored.to_string(),
                    );
                }
            }
            indexed::generate_name_with_index(job_name, ix)
        }
        None => indexed::generate_name(job_name),
    };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            namespace: job.metadata.namespace.clone(),
            labels: (!labels.is_empty()).then_some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            finalizers: Some(finalizers),
            owner_references: Some(vec![controller_ref(job)]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn active_terminating_and_ready() {
        let running = pod(
            json!({"metadata": {"name": "a"}, "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}]}}),
        );
        assert!(is_active(&running) && is_ready(&running) && !is_terminating(&running));
        let deleting = pod(
            json!({"metadata": {"name": "b", "deletionTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"phase": "Running"}}),
        );
        assert!(!is_active(&deleting) && is_terminating(&deleting));
        let done = pod(
            json!({"metadata": {"name": "c", "deletionTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"phase": "Succeeded"}}),
        );
        assert!(!is_active(&done) && !is_terminating(&done));
    }

    #[test]
    fn unscheduled_pending_pods_are_deleted_first() {
        let pending = pod(json!({"metadata": {"name": "a"}, "status": {"phase": "Pending"}}));
        let running = pod(
            json!({"metadata": {"name": "b"}, "spec": {"containers": [], "nodeName": "n"},
            "status": {"phase": "Running"}}),
        );
        assert_eq!(deletion_order(&pending, &running), Ordering::Less);
    }

    #[test]
    fn finished_time_prefers_container_finish() {
        let p = pod(
            json!({"metadata": {"name": "a", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"phase": "Failed", "containerStatuses": [{"name": "c", "image": "i", "imageID": "",
              "ready": false, "restartCount": 0,
              "state": {"terminated": {"exitCode": 1, "finishedAt": "2026-01-01T00:00:07Z"}}}]}}),
        );
        assert_eq!(finished_time_millis(&p), 1_767_225_607_000);
    }
}
