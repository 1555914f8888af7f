//! Pod updates: `ValidatePodUpdate` and `ValidatePodStatusUpdate`.

use super::super::format::{self, invalid_each};
use super::super::metadata;
use super::super::{json_i64, json_str, non_null};
use super::arr;
use super::{validate_pod_metadata, validate_pod_spec_of};
use crate::field::{ErrorList, FieldError, Path};
use serde_json::Value;

const UPDATABLE_POD_SPEC_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

fn validate_container_updates(new: &[Value], old: &[Value], path: &Path) -> (ErrorList, bool) {
    let mut errs = ErrorList::new();
    if new.len() != old.len() {
        errs.push(FieldError::forbidden(
            path,
            "pod updates may not add or remove containers",
        ));
        return (errs, true);
    }
    for (i, c) in new.iter().enumerate() {
        let image = json_str(c, "image");
        if image.is_empty() {
            errs.push(FieldError::required(&path.index(i).child("image"), ""));
        }
        if image.trim() != image {
            errs.push(FieldError::invalid(
                &path.index(i).child("image"),
                image,
                "must not have leading or trailing whitespace",
            ));
        }
    }
    (errs, false)
}

/// `ValidatePodUpdate`: only images, `activeDeadlineSeconds` (downwards), added tolerations and
/// removed scheduling gates may change. The forbidden message lists the changed top-level spec
/// fields instead of upstream's Go struct diff.
pub fn validate_pod_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = metadata::validate_object_meta_update(new, old, &Path::new("metadata"));
    let spec_path = Path::new("spec");
    let ns = new.get("spec").unwrap_or(&Value::Null);
    let os = old.get("spec").unwrap_or(&Value::Null);
    // A spec that is the stored one was validated when it was written; most pod updates (status,
    // finalizers, labels) leave it so.
    errs.extend(validate_pod_metadata(new));
    if ns != os {
        errs.extend(validate_pod_spec_of(new));
    }
    for key in ["containers", "initContainers"] {
        let (e, stop) =
            validate_container_updates(arr(ns, key), arr(os, key), &spec_path.child(key));
        errs.extend(e);
        if stop {
            return errs;
        }
    }
    let new_ads = json_i64(ns, "activeDeadlineSeconds");
    let old_ads = json_i64(os, "activeDeadlineSeconds");
    match (new_ads, old_ads) {
        (Some(n), _) if !(0..=i64::from(i32::MAX)).contains(&n) => {
            errs.push(FieldError::invalid(
                &spec_path.child("activeDeadlineSeconds"),
                n,
                format::inclusive_range_error(0, i64::from(i32::MAX)),
            ));
            return errs;
        }
        (Some(n), Some(o)) if o < n => {
            errs.push(FieldError::invalid(
                &spec_path.child("activeDeadlineSeconds"),
                n,
                "must be less than or equal to previous value",
            ));
            return errs;
        }
        (None, Some(_)) => errs.push(FieldError::invalid(
            &spec_path.child("activeDeadlineSeconds"),
            Value::Null,
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }
    let old_tols = arr(os, "tolerations");
    for (i, t) in old_tols.iter().enumerate() {
        if !arr(ns, "tolerations")
            .iter()
            .any(|n| toleration_equal_ignoring_seconds(n, t))
        {
            errs.push(FieldError::forbidden(
                &spec_path.child("tolerations").index(i),
                "existing toleration can not be modified except its tolerationSeconds",
            ));
        }
    }
    for g in arr(ns, "schedulingGates") {
        if !arr(os, "schedulingGates").contains(g) {
            errs.push(FieldError::forbidden(
                &spec_path.child("schedulingGates"),
                "only deletion is allowed, but found new scheduling gate '".to_string()
                    + json_str(g, "name")
                    + "'",
            ));
        }
    }
    if ns == os {
        return errs;
    }
    // munge the mutable fields back to their old values and compare the rest
    let mut munged = ns.clone();
    if let Some(m) = munged.as_object_mut() {
        for key in ["containers", "initContainers"] {
            if let Some(list) = m.get_mut(key).and_then(Value::as_array_mut) {
                for (i, c) in list.iter_mut().enumerate() {
                    let old_image = arr(os, key).get(i).and_then(|o| o.get("image")).cloned();
                    if let Some(cm) = c.as_object_mut() {
                        match old_image {
                            Some(img) => cm.insert("image".to_string(), img),
                            None => cm.remove("image"),
                        };
                    }
                }
            }
        }
        for key in ["activeDeadlineSeconds", "schedulingGates", "tolerations"] {
            match non_null(os.get(key)) {
                Some(v) => m.insert(key.to_string(), v.clone()),
                None => m.remove(key),
            };
        }
        let old_grace = json_i64(os, "terminationGracePeriodSeconds");
        if old_grace.is_some_and(|g| g < 0)
            && json_i64(ns, "terminationGracePeriodSeconds") == Some(1)
        {
            m.insert(
                "terminationGracePeriodSeconds".to_string(),
                Value::from(old_grace),
            );
        }
    }
    let old_map = os.as_object().cloned().unwrap_or_default();
    let munged_map = munged.as_object().cloned().unwrap_or_default();
    let mut changed: Vec<&String> = munged_map
        .keys()
        .chain(old_map.keys())
        .filter(|k| non_null(munged_map.get(*k)) != non_null(old_map.get(*k)))
        .collect();
    changed.sort();
    changed.dedup();
    if !changed.is_empty() {
        let diff: Vec<String> = changed
            .iter()
            .map(|k| format!("  spec.{k}: changed"))
            .collect();
        errs.push(FieldError::forbidden(
            &spec_path,
            format!(
                "pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n{}",
                diff.join("\n")
            ),
        ));
    }
    errs
}

fn toleration_equal_ignoring_seconds(a: &Value, b: &Value) -> bool {
    ["key", "operator", "value", "effect"]
        .iter()
        .all(|k| json_str(a, k) == json_str(b, k))
}

/// `ValidatePodStatusUpdate` (the cheap parts): metadata, node name, QoS class, and no
/// terminated container coming back to life under `Never`/`OnFailure`.
pub fn validate_pod_status_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = metadata::validate_object_meta_update(new, old, &Path::new("metadata"));
    let status_path = Path::new("status");
    let ns = new.get("status").unwrap_or(&Value::Null);
    let os = old.get("status").unwrap_or(&Value::Null);
    if super::super::at(new, &["spec", "nodeName"]) != super::super::at(old, &["spec", "nodeName"])
    {
        errs.push(FieldError::forbidden(
            &status_path.child("nodeName"),
            "may not be changed directly",
        ));
    }
    let nominated = json_str(ns, "nominatedNodeName");
    if nominated != json_str(os, "nominatedNodeName") && !nominated.is_empty() {
        errs.extend(invalid_each(
            &status_path.child("nominatedNodeName"),
            nominated,
            format::name_is_dns_subdomain(nominated, false),
        ));
    }
    if let Some(g) = json_i64(ns, "observedGeneration")
        && g < 0
    {
        errs.push(FieldError::invalid(
            &status_path.child("observedGeneration"),
            g,
            "must be a non-negative integer",
        ));
    }
    errs.extend(metadata::validate_immutable(
        ns.get("qosClass"),
        os.get("qosClass"),
        &status_path.child("qosClass"),
    ));
    let restart = super::super::at(old, &["spec", "restartPolicy"])
        .and_then(Value::as_str)
        .unwrap_or("");
    if restart != "Always" {
        for key in ["containerStatuses", "initContainerStatuses"] {
            for (i, o) in arr(os, key).iter().enumerate() {
                let Some(term) = super::super::at(o, &["state", "terminated"]) else {
                    continue;
                };
                if json_i64(term, "exitCode").unwrap_or(0) != 0 && restart == "OnFailure" {
                    continue;
                }
                let name = json_str(o, "name");
                let revived = arr(ns, key).iter().any(|n| {
                    json_str(n, "name") == name
                        && super::super::at(n, &["state", "terminated"]).is_none()
                });
                if revived && !(key == "initContainerStatuses" && is_restartable_init(old, name)) {
                    errs.push(FieldError::forbidden(
                        &status_path.child(key).index(i).child("state"),
                        "may not be transitioned to non-terminated state",
                    ));
                }
            }
        }
    }
    errs
}

fn is_restartable_init(pod: &Value, name: &str) -> bool {
    super::super::at(pod, &["spec", "initContainers"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| json_str(c, "name") == name && json_str(c, "restartPolicy") == "Always")
}
