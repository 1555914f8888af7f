use super::*;
use crate::resources::find;
use serde_json::json;

fn stored(plural: &str, group: &str, version: &str, mut object: Value) -> Value {
    canonicalize(find(group, version, plural).expect("served"), &mut object);
    object
}

#[test]
fn a_pod_s_quantities_are_stored_in_canonical_form() {
    let pod = stored(
        "pods",
        "",
        "v1",
        json!({"metadata": {"name": "p"}, "spec": {
            "containers": [{"name": "c", "resources": {
                "limits": {"cpu": "0.5", "memory": "1024Mi"},
                "requests": {"cpu": 1, "memory": "100M"}},
                "env": [{"name": "L", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1000m"}}}]}],
            "overhead": {"cpu": "0.25"},
            "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "1.5Gi"}}]}}),
    );
    let c = &pod["spec"]["containers"][0];
    assert_eq!(
        c["resources"],
        json!({"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "100M"}})
    );
    assert_eq!(c["env"][0]["valueFrom"]["resourceFieldRef"]["divisor"], "1");
    assert_eq!(pod["spec"]["overhead"]["cpu"], "250m");
    assert_eq!(pod["spec"]["volumes"][0]["emptyDir"]["sizeLimit"], "1536Mi");
}

#[test]
fn a_job_template_s_quantities_are_canonical_too() {
    let job = stored(
        "jobs",
        "batch",
        "v1",
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "c", "resources": {"limits": {"cpu": "2000m"}}}]}}}}),
    );
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"],
        "2"
    );
}

#[test]
fn what_the_schema_does_not_know_is_left_as_it_is() {
    let cm = stored(
        "configmaps",
        "",
        "v1",
        json!({"metadata": {"name": "c"}, "data": {"cpu": "0.5", "flag": ""}}),
    );
    assert_eq!(cm["data"], json!({"cpu": "0.5", "flag": ""}));
}

#[test]
fn zero_values_go_s_omitempty_leaves_out_are_dropped_and_pointers_kept() {
    let pod = stored(
        "pods",
        "",
        "v1",
        json!({"metadata": {"name": "p", "labels": {}}, "spec": {
            "hostNetwork": false,
            "automountServiceAccountToken": false,
            "nodeSelector": {},
            "containers": [{"name": "c", "image": "i", "stdin": false, "tty": true,
                "workingDir": "", "command": [], "resources": {},
                "securityContext": {"allowPrivilegeEscalation": false},
                "env": [{"name": "E", "value": ""}],
                "volumeMounts": [{"name": "v", "mountPath": "/v", "readOnly": false}]}],
            "volumes": [{"name": "v", "emptyDir": {}},
                {"name": "s", "secret": {"secretName": "s", "optional": false}}]}}),
    );
    assert_eq!(
        pod,
        json!({"metadata": {"name": "p"}, "spec": {
            "automountServiceAccountToken": false,
            "containers": [{"name": "c", "image": "i", "tty": true, "resources": {},
                "securityContext": {"allowPrivilegeEscalation": false},
                "env": [{"name": "E"}],
                "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
            "volumes": [{"name": "v", "emptyDir": {}},
                {"name": "s", "secret": {"secretName": "s", "optional": false}}]}})
    );
}

#[test]
fn collections_without_omitempty_keep_being_empty() {
    let job = stored(
        "jobs",
        "batch",
        "v1",
        json!({"spec": {"podFailurePolicy": {"rules": []}, "template": {"spec": {"containers": []}}},
            "status": {"active": 0, "succeeded": 2, "uncountedTerminatedPods": {"succeeded": []}}}),
    );
    assert_eq!(
        job,
        json!({"spec": {"podFailurePolicy": {"rules": []}, "template": {"spec": {"containers": []}}},
            "status": {"succeeded": 2, "uncountedTerminatedPods": {}}})
    );
}

#[test]
fn a_kind_s_own_fields_and_events_are_stored_in_go_s_form_too() {
    let cm = stored(
        "configmaps",
        "",
        "v1",
        json!({"metadata": {"name": "c"}, "data": {}, "binaryData": {}}),
    );
    assert_eq!(cm, json!({"metadata": {"name": "c"}}));
    let event = stored(
        "events",
        "",
        "v1",
        json!({"metadata": {"name": "e"}, "involvedObject": {"kind": "Node", "name": "n", "namespace": ""},
            "message": "", "count": 0, "action": "", "reportingComponent": "", "reportingInstance": "",
            "source": {"component": "kubelet", "host": ""}}),
    );
    assert_eq!(
        event,
        json!({"metadata": {"name": "e"}, "involvedObject": {"kind": "Node", "name": "n"},
            "reportingComponent": "", "reportingInstance": "", "source": {"component": "kubelet"},
            "firstTimestamp": null, "lastTimestamp": null, "eventTime": null})
    );
}

#[test]
fn zero_structs_go_encodes_anyway_are_put_in() {
    let pod = stored(
        "pods",
        "",
        "v1",
        json!({"status": {"conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "c", "state": {"running": {}}}]}}),
    );
    assert_eq!(
        pod["status"]["conditions"][0],
        json!({"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": null})
    );
    assert_eq!(
        pod["status"]["containerStatuses"][0]["state"],
        json!({"running": {"startedAt": null}})
    );
    let event = stored(
        "events",
        "events.k8s.io",
        "v1",
        json!({"metadata": {"name": "e"}, "eventTime": "2026-01-01T00:00:00.000000Z"}),
    );
    assert_eq!(event["deprecatedSource"], json!({}));
    assert_eq!(event["deprecatedFirstTimestamp"], Value::Null);
}
