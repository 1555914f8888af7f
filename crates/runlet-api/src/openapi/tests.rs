//! Tests of the built documents against what kubectl reads from them.

use super::*;

fn doc(group: &str, version: &str) -> Value {
    v3_document(group, version).expect("served group-version")
}

fn schema<'a>(d: &'a Value, name: &str) -> &'a Value {
    d.pointer(&format!("/components/schemas/{name}"))
        .unwrap_or(&Value::Null)
}

/// Every `$ref` in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn batch_v1_has_job_with_gvk_and_described_backoff_limit() {
    let d = doc("batch", "v1");
    let job = schema(&d, "io.k8s.api.batch.v1.Job");
    assert_eq!(
        job["x-kubernetes-group-version-kind"],
        json!([{"group": "batch", "kind": "Job", "version": "v1"}])
    );
    let spec = schema(&d, "io.k8s.api.batch.v1.JobSpec");
    let backoff = spec
        .pointer("/properties/backoffLimit/description")
        .and_then(Value::as_str)
        .unwrap_or("");
    assert!(backoff.contains("number of retries"), "{backoff}");
    assert!(schema(&d, "io.k8s.api.batch.v1.CronJob").is_object());
    assert!(schema(&d, "io.k8s.api.batch.v1.JobList").is_object());
}

#[test]
fn every_ref_resolves_inside_each_document() {
    for (g, v) in group_versions() {
        let d = doc(g, v);
        let mut all = Vec::new();
        refs(&d, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("bad ref {r}"));
            assert!(schema(&d, name).is_object(), "{g}/{v}: unresolved {r}");
        }
    }
}

#[test]
fn core_v1_has_pod_and_namespace() {
    let d = doc("", "v1");
    assert_eq!(
        schema(&d, "io.k8s.api.core.v1.Pod")["x-kubernetes-group-version-kind"],
        json!([{"group": "", "kind": "Pod", "version": "v1"}])
    );
    assert!(schema(&d, "io.k8s.api.core.v1.Namespace").is_object());
    assert!(
        d.pointer("/paths/~1api~1v1~1namespaces~1{namespace}~1pods~1{name}/patch")
            .is_some()
    );
}

#[test]
fn ref_with_description_is_wrapped_in_all_of_like_upstream() {
    let d = doc("batch", "v1");
    let spec = schema(&d, "io.k8s.api.batch.v1.Job")
        .pointer("/properties/spec")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        spec["allOf"],
        json!([{"$ref": "#/components/schemas/io.k8s.api.batch.v1.JobSpec"}])
    );
    assert!(spec["description"].is_string());
}

#[test]
fn containers_carry_patch_merge_key_for_kubectl_apply() {
    let d = doc("batch", "v1");
    let containers = schema(&d, "io.k8s.api.core.v1.PodSpec")
        .pointer("/properties/containers")
        .cloned()
        .unwrap_or_default();
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(containers["x-kubernetes-list-type"], "map");
}

/// cli-runtime `supportsQueryParamV3`: a PATCH operation with the kind's GVK and a
/// `fieldValidation` query parameter.
#[test]
fn patch_operations_advertise_field_validation() {
    let d = doc("batch", "v1");
    let paths = d["paths"].as_object().cloned().unwrap_or_default();
    let patch = paths
        .values()
        .filter_map(|p| p.get("patch"))
        .find(|op| {
            op["x-kubernetes-group-version-kind"]
                == json!({"group": "batch", "kind": "Job", "version": "v1"})
        })
        .cloned()
        .unwrap_or_default();
    let params = patch["parameters"].as_array().cloned().unwrap_or_default();
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
    );
    assert_eq!(
        patch["operationId"]
            .as_str()
            .map(|s| s.starts_with("patchBatchV1Namespaced")),
        Some(true)
    );
}

#[test]
fn index_lists_every_group_version_with_a_stable_hash() {
    let index = v3_index();
    let batch = index
        .pointer("/paths/apis~1batch~1v1/serverRelativeURL")
        .and_then(Value::as_str)
        .unwrap_or("");
    let hash = v3_document_hash("batch", "v1").unwrap_or("none");
    assert_eq!(batch, format!("/openapi/v3/apis/batch/v1?hash={hash}"));
    assert!(index.pointer("/paths/api~1v1").is_some());
    assert!(index.pointer("/paths/apis~1events.k8s.io~1v1").is_some());
    assert_eq!(stable_hash(b"abc"), stable_hash(b"abc"));
    assert_ne!(stable_hash(b"abc"), stable_hash(b"abd"));
}

#[test]
fn unknown_group_version_has_no_document() {
    assert!(v3_document("apps", "v1").is_none());
    assert!(v3_document_json("batch", "v2").is_none());
}

#[test]
fn int_or_string_gets_upstreams_one_of() {
    let d = doc("batch", "v1");
    assert_eq!(
        schema(&d, "io.k8s.apimachinery.pkg.util.intstr.IntOrString")["oneOf"],
        json!([{"type": "integer"}, {"type": "string"}])
    );
}

#[test]
fn runlet_dev_v1_has_pod_record_with_one_type_per_field() {
    let d = doc("runlet.dev", "v1");
    let rec = schema(&d, "dev.runlet.v1.PodRecord");
    assert_eq!(
        rec["x-kubernetes-group-version-kind"],
        json!([{"group": "runlet.dev", "kind": "PodRecord", "version": "v1"}])
    );
    assert_eq!(
        rec.pointer("/properties/exitCode/type"),
        Some(&json!("integer"))
    );
    assert_eq!(
        rec.pointer("/properties/podUID/type"),
        Some(&json!("string"))
    );
    assert_eq!(
        rec.pointer("/properties/containers/items/type"),
        Some(&json!("string"))
    );
    assert_eq!(
        rec.pointer("/properties/startTime/allOf/0/$ref"),
        Some(&json!(
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Time"
        ))
    );
    assert!(
        !d.to_string().contains("\"null\""),
        "no null types anywhere in the document"
    );
    let mut found = Vec::new();
    refs(&d, &mut found);
    for r in found {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(!schema(&d, name).is_null(), "dangling {r}");
    }
    assert!(!schema(&d, "dev.runlet.v1.PodRecordList").is_null());
    let description = rec["description"].as_str().unwrap_or_default();
    assert!(
        description.starts_with("PodRecord is what runlet keeps") && !description.contains('\n'),
        "one line per paragraph: {description:?}"
    );
}

#[test]
fn required_fields_are_upstream_s() {
    let core = doc("", "v1");
    assert_eq!(
        schema(&core, "io.k8s.api.core.v1.Event")["required"],
        json!(["involvedObject", "metadata"])
    );
    for kind in ["Pod", "ConfigMap", "Namespace", "Node"] {
        let s = schema(&core, &format!("io.k8s.api.core.v1.{kind}"));
        assert!(s["required"].is_null(), "{kind}: {}", s["required"]);
    }
    let batch = doc("batch", "v1");
    assert!(schema(&batch, "io.k8s.api.batch.v1.Job")["required"].is_null());
    let events = doc("events.k8s.io", "v1");
    assert_eq!(
        schema(&events, "io.k8s.api.events.v1.Event")["required"],
        json!(["eventTime"])
    );
    // Object references: upstream's `name` is optional, the selectors' `key` is not.
    assert!(schema(&core, "io.k8s.api.core.v1.LocalObjectReference")["required"].is_null());
    assert!(schema(&core, "io.k8s.api.core.v1.ConfigMapVolumeSource")["required"].is_null());
    assert_eq!(
        schema(&core, "io.k8s.api.core.v1.SecretKeySelector")["required"],
        json!(["key"])
    );
    assert!(schema(&core, "io.k8s.apimachinery.pkg.apis.meta.v1.Status")["required"].is_null());
}

#[test]
fn enum_fields_list_their_values_for_kubectl_explain() {
    let batch = doc("batch", "v1");
    let rule = schema(&batch, "io.k8s.api.batch.v1.PodFailurePolicyRule");
    assert_eq!(
        rule.pointer("/properties/action/enum"),
        Some(&json!(["Count", "FailIndex", "FailJob", "Ignore"]))
    );
    let pod = schema(&batch, "io.k8s.api.core.v1.PodSpec");
    assert_eq!(
        pod.pointer("/properties/restartPolicy/enum"),
        Some(&json!(["Always", "Never", "OnFailure"]))
    );
    // Every entry of the table names a property that exists.
    for (name, property, _) in super::enums::FIELD_ENUMS {
        let in_some_doc = ["batch", ""].iter().any(|g| {
            let d = doc(g, "v1");
            schema(&d, name)
                .pointer(&format!("/properties/{property}/enum"))
                .is_some()
        });
        assert!(in_some_doc, "{name}.{property}");
    }
}
