//! Fixed objects for the `get` and `describe` snapshot tests: what a runlet server returns for
//! a finished Job (the seeds' `hello-job`), a running Indexed Job, a CronJob, a Pod and their
//! events, at a fixed "now" (2026-03-01T10:02:00Z).

use serde_json::{Value, json};

/// 2026-03-01T10:02:00Z.
pub const NOW: i64 = 1_772_359_320;

pub fn completed_job() -> Value {
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "hello-job",
            "namespace": "default",
            "uid": "0b4e8f0e-6a53-4c65-9d8b-1f2e3d4c5b6a",
            "creationTimestamp": "2026-03-01T10:00:00Z",
            "labels": {
                "batch.kubernetes.io/controller-uid": "0b4e8f0e-6a53-4c65-9d8b-1f2e3d4c5b6a",
                "batch.kubernetes.io/job-name": "hello-job",
                "controller-uid": "0b4e8f0e-6a53-4c65-9d8b-1f2e3d4c5b6a",
                "job-name": "hello-job"
            }
        },
        "spec": {
            "parallelism": 1,
            "completions": 1,
            "completionMode": "NonIndexed",
            "suspend": false,
            "backoffLimit": 6,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "0b4e8f0e-6a53-4c65-9d8b-1f2e3d4c5b6a"}},
            "template": {
                "metadata": {"labels": {
                    "batch.kubernetes.io/controller-uid": "0b4e8f0e-6a53-4c65-9d8b-1f2e3d4c5b6a",
                    "batch.kubernetes.io/job-name": "hello-job",
                    "controller-uid": "0b4e8f0e-6a53-4c65-9d8b-1f2e3d4c5b6a",
                    "job-name": "hello-job"
                }},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "hello",
                        "image": "busybox:1.36",
                        "command": ["/bin/sh", "-c", "echo \"Hello from Kubernetes Job!\"; sleep 5; echo \"Job completed!\""]
                    }]
                }
            }
        },
        "status": {
            "startTime": "2026-03-01T10:00:00Z",
            "completionTime": "2026-03-01T10:00:08Z",
            "succeeded": 1,
            "ready": 0,
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True"},
                {"type": "Complete", "status": "True"}
            ]
        }
    })
}

pub fn running_indexed_job() -> Value {
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "render",
            "namespace": "batch",
            "uid": "5d1c2b3a-0000-4000-8000-00000000beef",
            "creationTimestamp": "2026-03-01T09:00:00Z",
            "labels": {"app": "render"},
            "annotations": {"team": "graphics"},
            "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly-render",
                "uid": "11111111-2222-4333-8444-555555555555", "controller": true
            }]
        },
        "spec": {
            "parallelism": 2,
            "completions": 5,
            "completionMode": "Indexed",
            "backoffLimit": 3,
            "activeDeadlineSeconds": 600,
            "ttlSecondsAfterFinished": 100,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "5d1c2b3a-0000-4000-8000-00000000beef"}},
            "template": {
                "metadata": {"labels": {"app": "render"}},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "serviceAccountName": "renderer",
                    "containers": [{
                        "name": "render",
                        "image": "example/render:2",
                        "args": ["--frame", "$(JOB_COMPLETION_INDEX)"],
                        "env": [
                            {"name": "MODE", "value": "fast"},
                            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}
                        ],
                        "resources": {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "500m"}},
                        "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]
                    }],
                    "volumes": [{"name": "scratch", "emptyDir": {}}]
                }
            }
        },
        "status": {
            "startTime": "2026-03-01T09:00:01Z",
            "active": 2,
            "ready": 1,
            "succeeded": 2,
            "failed": 1,
            "completedIndexes": "0,2"
        }
    })
}

pub fn cronjob() -> Value {
    json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": "nightly-render",
            "namespace": "batch",
            "uid": "11111111-2222-4333-8444-555555555555",
            "creationTimestamp": "2026-02-01T00:00:00Z"
        },
        "spec": {
            "schedule": "0 3 * * *",
            "timeZone": "Europe/Paris",
            "concurrencyPolicy": "Forbid",
            "suspend": false,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {"spec": {
                "completions": 5,
                "template": {"spec": {
                    "restartPolicy": "OnFailure",
                    "containers": [{"name": "render", "image": "example/render:2"}]
                }}
            }}
        },
        "status": {
            "lastScheduleTime": "2026-03-01T02:00:00Z",
            "lastSuccessfulTime": "2026-02-28T02:10:00Z",
            "active": [{"kind": "Job", "namespace": "batch", "name": "render", "apiVersion": "batch/v1"}]
        }
    })
}

pub fn succeeded_pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "hello-job-x7k2p",
            "namespace": "default",
            "uid": "9a8b7c6d-1111-4222-8333-444455556666",
            "creationTimestamp": "2026-03-01T10:00:00Z",
            "labels": {"batch.kubernetes.io/job-name": "hello-job", "job-name": "hello-job"},
            "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "Job", "name": "hello-job",
                "uid": "0b4e8f0e-6a53-4c65-9d8b-1f2e3d4c5b6a", "controller": true
            }]
        },
        "spec": {
            "nodeName": "node-1",
            "serviceAccountName": "default",
            "restartPolicy": "Never",
            "priority": 0,
            "containers": [{
                "name": "hello",
                "image": "busybox:1.36",
                "command": ["sh", "-c", "echo hi from $POD"],
                "env": [{"name": "POD", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
                "volumeMounts": [{"name": "settings", "mountPath": "/etc/settings", "readOnly": true}]
            }],
            "volumes": [{"name": "settings", "configMap": {"name": "settings"}}],
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ]
        },
        "status": {
            "phase": "Succeeded",
            "hostIP": "127.0.0.1",
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": "2026-03-01T10:00:01Z",
            "qosClass": "BestEffort",
            "conditions": [
                {"type": "Initialized", "status": "True"},
                {"type": "Ready", "status": "False", "reason": "PodCompleted"},
                {"type": "PodScheduled", "status": "True"}
            ],
            "containerStatuses": [{
                "name": "hello",
                "image": "busybox:1.36",
                "imageID": "",
                "containerID": "runlet://9a8b7c6d-hello",
                "ready": false,
                "restartCount": 0,
                "state": {"terminated": {
                    "exitCode": 0, "reason": "Completed",
                    "startedAt": "2026-03-01T10:00:02Z", "finishedAt": "2026-03-01T10:00:07Z"
                }}
            }]
        }
    })
}

fn event(reason: &str, message: &str, at: &str, count: i32, kind: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": format!("x.{reason}"), "namespace": "default", "creationTimestamp": at},
        "involvedObject": {"kind": kind, "name": "x", "namespace": "default"},
        "reason": reason,
        "message": message,
        "type": "Normal",
        "source": {"component": "job-controller"},
        "firstTimestamp": at,
        "lastTimestamp": at,
        "count": count
    })
}

pub fn job_events() -> Vec<Value> {
    vec![
        event(
            "Completed",
            "Job completed",
            "2026-03-01T10:00:08Z",
            1,
            "Job",
        ),
        event(
            "SuccessfulCreate",
            "Created pod: hello-job-x7k2p",
            "2026-03-01T10:00:00Z",
            1,
            "Job",
        ),
    ]
}

pub fn repeated_events() -> Vec<Value> {
    let mut repeated = event(
        "SuccessfulCreate",
        "Created pod: render-1-abcde",
        "2026-03-01T09:00:01Z",
        4,
        "Job",
    );
    repeated["lastTimestamp"] = json!("2026-03-01T09:59:00Z");
    let mut warning = event(
        "BackoffLimitExceeded",
        "Pod failed\n",
        "2026-03-01T09:30:00Z",
        1,
        "Job",
    );
    warning["type"] = json!("Warning");
    warning["source"] = json!({});
    warning["reportingComponent"] = json!("job-controller");
    vec![repeated, warning]
}

/// Objects for the `get` tables.
pub fn jobs() -> Vec<Value> {
    vec![completed_job(), running_indexed_job()]
}
