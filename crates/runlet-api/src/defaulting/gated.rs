//! Fields of features that are off by default in Kubernetes 1.33, dropped as upstream's
//! `dropDisabledPodFields` (`pkg/api/pod/util.go`) drops them on create and update, unless the
//! object they replace already uses them. A client that sets one then sees it gone, as on a
//! cluster with default feature gates, rather than believing it took effect:
//!
//! - `PodLevelResources` (alpha): the pod's own `spec.resources`;
//! - `ContainerStopSignals` (alpha): a container's `lifecycle.stopSignal`.

use serde_json::{Map, Value};

/// The pod specs of an object of kind `kind` (a Pod's, a Job's template's, a CronJob's job
/// template's), by JSON pointer.
fn spec_pointer(group: &str, kind: &str) -> Option<&'static str> {
    match (group, kind) {
        ("", "Pod") => Some("/spec"),
        ("batch", "Job") => Some("/spec/template/spec"),
        ("batch", "CronJob") => Some("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

/// Drops the disabled features' fields from `new`, those `old` (the object replaced, none on
/// create) does not use.
pub(super) fn drop_disabled(group: &str, kind: &str, new: &mut Value, old: Option<&Value>) {
    let Some(pointer) = spec_pointer(group, kind) else {
        return;
    };
    let old_spec = old.and_then(|o| o.pointer(pointer));
    let Some(spec) = new.pointer_mut(pointer).and_then(Value::as_object_mut) else {
        return;
    };
    if old_spec.is_none_or(|s| s["resources"].is_null()) {
        spec.remove("resources");
    }
    if !old_spec.is_some_and(stop_signals_in_use) {
        for c in containers_mut(spec) {
            if let Some(lifecycle) = c.get_mut("lifecycle").and_then(Value::as_object_mut) {
                lifecycle.remove("stopSignal");
                if lifecycle.is_empty() {
                    c.remove("lifecycle");
                }
            }
        }
    }
}

const CONTAINER_LISTS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

fn stop_signals_in_use(spec: &Value) -> bool {
    CONTAINER_LISTS
        .iter()
        .filter_map(|key| spec[key].as_array())
        .flatten()
        .any(|c| !c["lifecycle"]["stopSignal"].is_null())
}

fn containers_mut(spec: &mut Map<String, Value>) -> impl Iterator<Item = &mut Map<String, Value>> {
    spec.iter_mut()
        .filter(|(key, _)| CONTAINER_LISTS.contains(&key.as_str()))
        .filter_map(|(_, list)| list.as_array_mut())
        .flatten()
        .filter_map(Value::as_object_mut)
}

#[cfg(test)]
mod tests {
    use super::drop_disabled;
    use serde_json::json;

    #[test]
    fn disabled_features_are_dropped_unless_already_in_use() {
        let mut pod = json!({"spec": {"resources": {"limits": {"memory": "64Mi"}},
            "containers": [{"name": "c", "lifecycle": {"stopSignal": "SIGUSR1"}},
                {"name": "d", "lifecycle": {"stopSignal": "SIGUSR1", "preStop": {"sleep": {"seconds": 1}}}}]}});
        drop_disabled("", "Pod", &mut pod, None);
        assert_eq!(
            pod,
            json!({"spec": {"containers": [{"name": "c"},
                {"name": "d", "lifecycle": {"preStop": {"sleep": {"seconds": 1}}}}]}})
        );
        let old = json!({"spec": {"template": {"spec": {"resources": {"limits": {"cpu": "1"}}}}}});
        let mut job =
            json!({"spec": {"template": {"spec": {"resources": {"limits": {"cpu": "2"}}}}}});
        drop_disabled("batch", "Job", &mut job, Some(&old));
        assert_eq!(
            job["spec"]["template"]["spec"]["resources"]["limits"]["cpu"],
            "2"
        );
        let mut cronjob =
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"resources": {}}}}}}});
        drop_disabled("batch", "CronJob", &mut cronjob, None);
        assert_eq!(
            cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"],
            json!({})
        );
    }
}
