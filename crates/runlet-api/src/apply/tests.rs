//! Server-side apply against the served Job schema.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::openapi::kind_node;

fn jobs() -> Node<'static> {
    kind_node("batch", "v1", "Job").unwrap()
}

fn writer(manager: &'static str) -> Writer<'static> {
    Writer {
        manager,
        api_version: "batch/v1",
        subresource: "",
        now: "2026-11-27T03:00:00Z",
    }
}

fn config(parallelism: i64, labels: Value, image: &str) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "j", "labels": labels},
        "spec": {"parallelism": parallelism, "template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "main", "image": image}]}}}})
}

fn fields_of(applied: &Applied, manager: &str) -> Value {
    applied
        .managed_fields
        .iter()
        .find(|e| e["manager"] == manager)
        .map(|e| e["fieldsV1"].clone())
        .unwrap_or(Value::Null)
}

/// A Job of parallelism 2 and `labels` applied by `kubectl` where there was none.
fn first_apply(labels: Value) -> Applied {
    apply(
        None,
        &config(2, labels, "busybox"),
        jobs(),
        &writer("kubectl"),
        false,
    )
    .unwrap()
}

/// The stored object after `applied`, as the next apply sees it.
fn stored(applied: &Applied) -> Value {
    let mut object = applied.object.clone();
    set_managed_fields(&mut object, applied.managed_fields.clone());
    object
}

#[test]
fn a_first_apply_owns_what_it_set() {
    let created = first_apply(json!({"app": "x"}));
    assert_eq!(created.managed_fields.len(), 1);
    assert_eq!(created.managed_fields[0]["operation"], "Apply");
    assert_eq!(
        fields_of(&created, "kubectl"),
        json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {"f:parallelism": {}, "f:template": {"f:spec": {
                "f:restartPolicy": {},
                "f:containers": {"k:{\"name\":\"main\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}
        })
    );
}

#[test]
fn reapplying_changes_merges_and_drops_what_the_manager_no_longer_applies() {
    let first = first_apply(json!({"app": "x", "tier": "batch"}));
    let mut live = stored(&first);
    live["spec"]["completions"] = json!(1); // defaulted by the server: nobody's
    let second = apply(
        Some(&live),
        &config(3, json!({"app": "x"}), "alpine"),
        jobs(),
        &writer("kubectl"),
        false,
    )
    .unwrap();
    let job = &second.object;
    assert_eq!(job["spec"]["parallelism"], 3);
    assert_eq!(job["spec"]["completions"], 1, "an unowned field stays");
    assert_eq!(
        job["metadata"]["labels"],
        json!({"app": "x"}),
        "tier was dropped"
    );
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["image"],
        "alpine"
    );
}

#[test]
fn changing_another_manager_s_field_conflicts_unless_forced() {
    let first = first_apply(json!({"app": "x"}));
    let live = stored(&first);
    let mut labelled = live.clone();
    labelled["metadata"]["labels"]["team"] = json!("a");
    let tracked = track_update(&live, &labelled, jobs(), &writer("kubectl-label")).unwrap();
    let mut live = labelled;
    set_managed_fields(&mut live, tracked);

    let mut wants = config(2, json!({"app": "x", "team": "b"}), "busybox");
    let Err(ApplyError::Conflicts(refused)) =
        apply(Some(&live), &wants, jobs(), &writer("helm"), false)
    else {
        panic!("a conflict")
    };
    assert_eq!(
        refused.message(),
        "Apply failed with 1 conflict: conflict with \"kubectl-label\" using batch/v1 at 2026-11-27T03:00:00Z: .metadata.labels.team"
    );
    // The same value is no conflict: the field is then shared.
    wants["metadata"]["labels"]["team"] = json!("a");
    let shared = apply(Some(&live), &wants, jobs(), &writer("helm"), false).unwrap();
    assert_eq!(shared.object["metadata"]["labels"]["team"], "a");

    wants["metadata"]["labels"]["team"] = json!("b");
    let forced = apply(Some(&live), &wants, jobs(), &writer("helm"), true).unwrap();
    assert_eq!(forced.object["metadata"]["labels"]["team"], "b");
    assert!(
        fields_of(&forced, "kubectl-label").is_null(),
        "the forced manager lost its only field: {:?}",
        forced.managed_fields
    );
}

#[test]
fn an_object_never_applied_is_owned_before_its_first_apply() {
    let live = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "j", "uid": "u", "resourceVersion": "5"},
        "spec": {"parallelism": 1, "template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox"}]}}}});
    let Err(ApplyError::Conflicts(refused)) = apply(
        Some(&live),
        &config(4, json!({}), "busybox"),
        jobs(),
        &writer("kubectl"),
        false,
    ) else {
        panic!("a conflict")
    };
    assert_eq!(
        refused.causes(),
        [(
            "\"before-first-apply\" using batch/v1 at 2026-11-27T03:00:00Z".to_string(),
            ".spec.parallelism".to_string()
        )]
    );
    assert!(track_update(&live, &live, jobs(), &writer("x")).is_none());
}

#[test]
fn conflicts_with_several_fields_list_them_by_manager() {
    let conflicts = Conflicts(vec![
        ("\"b\"".into(), ".spec.x".into()),
        ("\"a\"".into(), ".spec.y".into()),
        ("\"b\"".into(), ".spec.z".into()),
    ]);
    assert_eq!(
        conflicts.message(),
        "Apply failed with 3 conflicts: conflicts with \"a\":\n- .spec.y\nconflicts with \"b\":\n- .spec.x\n- .spec.z"
    );
}

#[test]
fn keyed_list_items_merge_by_key_with_the_key_s_default() {
    let live = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "main", "image": "busybox",
         "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}]}]}}}});
    let config = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "main", "ports": [{"containerPort": 80, "hostPort": 8080}]},
        {"name": "side", "image": "alpine"}]}}}});
    let merged = merge(&live, &config, jobs());
    assert_eq!(
        merged["spec"]["template"]["spec"]["containers"],
        json!([{"name": "main", "image": "busybox",
                "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http", "hostPort": 8080}]},
               {"name": "side", "image": "alpine"}])
    );
}

#[test]
fn an_item_no_longer_applied_goes_whole_and_duplicates_are_refused() {
    let with = |containers: Value| {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": containers}}}})
    };
    let first = apply(
        None,
        &with(json!([
            {"name": "c1", "image": "busybox", "env": [{"name": "E1", "value": "1"}, {"name": "E2", "value": "2"}],
             "ports": [{"containerPort": 80}]},
            {"name": "c2", "image": "busybox"}])),
        jobs(),
        &writer("kubectl"),
        false,
    )
    .unwrap();
    let mut live = stored(&first);
    live["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = json!("TCP");
    let second = apply(
        Some(&live),
        &with(json!([{"name": "c1", "image": "busybox", "env": [{"name": "E1", "value": "1"}]}])),
        jobs(),
        &writer("kubectl"),
        false,
    )
    .unwrap();
    assert_eq!(
        second.object["spec"]["template"]["spec"]["containers"],
        json!([{"name": "c1", "image": "busybox", "env": [{"name": "E1", "value": "1"}]}])
    );
    let duplicated = apply(
        None,
        &with(json!([{"name": "c1", "image": "busybox",
            "env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}])),
        jobs(),
        &writer("kubectl"),
        false,
    );
    assert_eq!(
        duplicated.err(),
        Some(ApplyError::DuplicateKey(
            r#".spec.template.spec.containers[name="c1"].env: duplicate entries for key [name="A"]"#.into()
        ))
    );
}

#[test]
fn more_than_ten_updaters_fold_the_oldest_into_ancient_changes() {
    let mut live = stored(&first_apply(json!({"app": "x"})));
    for i in 0..12 {
        let mut next = live.clone();
        next["metadata"]["labels"][format!("l{i}")] = json!("v");
        let now = format!("2026-11-27T03:00:{i:02}Z");
        let writer = Writer {
            manager: Box::leak(format!("labeller-{i:02}").into_boxed_str()),
            api_version: "batch/v1",
            subresource: "",
            now: Box::leak(now.into_boxed_str()),
        };
        let tracked = track_update(&live, &next, jobs(), &writer).unwrap();
        set_managed_fields(&mut next, tracked);
        live = next;
    }
    let entries = live["metadata"]["managedFields"].as_array().unwrap();
    let managers: Vec<&str> = entries
        .iter()
        .map(|e| e["manager"].as_str().unwrap())
        .collect();
    assert_eq!(
        managers
            .iter()
            .filter(|m| m.starts_with("labeller-"))
            .count(),
        9
    );
    let ancient = entries
        .iter()
        .find(|e| e["manager"] == "ancient-changes")
        .unwrap();
    assert_eq!(
        ancient["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:l0": {}, "f:l1": {}, "f:l2": {}}}})
    );
    assert_eq!(managers[0], "kubectl", "the apply entry stays first");
}

/// Upstream's `lastAppliedManager`: `kubectl apply --server-side` after client-side `kubectl
/// apply` takes the fields the last client-side configuration set, still as it set them,
/// without a conflict; a field someone changed since, or another manager, still conflicts.
#[test]
fn kubectl_takes_over_what_its_client_side_apply_configured() {
    let client_side = config(2, json!({"app": "x"}), "busybox");
    let mut live = client_side.clone();
    live["metadata"]["annotations"] = json!({LAST_APPLIED: client_side.to_string()});
    live["spec"]["backoffLimit"] = json!(6); // defaulted: in no configuration
    let server_side = |parallelism, backoff_limit| {
        let mut c = config(parallelism, json!({"app": "x"}), "busybox");
        c["spec"]["backoffLimit"] = json!(backoff_limit);
        c
    };
    let applied = apply(
        Some(&live),
        &server_side(3, 6),
        jobs(),
        &writer("kubectl"),
        false,
    );
    assert_eq!(applied.unwrap().object["spec"]["parallelism"], 3);

    // Another manager, or a field the client-side configuration did not set, conflicts.
    let other = apply(
        Some(&live),
        &server_side(3, 6),
        jobs(),
        &writer("tool"),
        false,
    );
    assert!(matches!(other, Err(ApplyError::Conflicts(_))), "{other:?}");
    let Err(ApplyError::Conflicts(c)) = apply(
        Some(&live),
        &server_side(3, 4),
        jobs(),
        &writer("kubectl"),
        false,
    ) else {
        panic!("backoffLimit was never applied client-side");
    };
    assert_eq!(
        c.message(),
        format!(
            "Apply failed with 1 conflict: conflict with \"{BEFORE_FIRST_APPLY}\" using batch/v1 at 2026-11-27T03:00:00Z: .spec.backoffLimit"
        )
    );
    // Changed since the client-side apply (`kubectl scale`, `kubectl edit`): not its to take.
    live["spec"]["parallelism"] = json!(5);
    let changed = apply(
        Some(&live),
        &server_side(3, 6),
        jobs(),
        &writer("kubectl"),
        false,
    );
    assert!(
        matches!(changed, Err(ApplyError::Conflicts(_))),
        "{changed:?}"
    );
}
