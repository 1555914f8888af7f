//! `ObjectMeta` validation, as upstream's `apimachinery/pkg/api/validation/objectmeta.go` plus the
//! core wrapper in `pkg/apis/core/validation` (which adds the legacy finalizer-name check).
//!
//! Works on the JSON `metadata` object so every kind shares one code path. Every kind's create
//! validation starts with [`validate_object_meta`] and every update with
//! [`validate_object_meta_update`]; the name rule differs per kind and is passed in as a
//! [`NameFn`].

use super::format::{self, NameFn, invalid_each};
use super::{json_i64, json_str, non_null};
use crate::field::{ErrorList, FieldError, Path};
use serde_json::Value;

/// Total size of all annotation keys and values, in bytes.
pub const TOTAL_ANNOTATION_SIZE_LIMIT_B: usize = 256 * (1 << 10);

/// Upstream's `FieldImmutableErrorMsg`.
pub const FIELD_IMMUTABLE: &str = "field is immutable";

/// Upstream's `IsNegativeErrorMsg`.
pub const IS_NEGATIVE: &str = "must be greater than or equal to 0";

const STANDARD_FINALIZERS: &[&str] = &["kubernetes", "orphan", "foregroundDeletion"];

fn meta(obj: &Value) -> &Value {
    obj.get("metadata").unwrap_or(&Value::Null)
}

/// `ValidateNonnegativeField`.
pub fn validate_nonnegative(value: i64, path: &Path) -> ErrorList {
    if value < 0 {
        vec![FieldError::invalid(path, value, IS_NEGATIVE)]
    } else {
        Vec::new()
    }
}

/// `ValidateImmutableField` on JSON values: absent and `null` are the same.
pub fn validate_immutable(new: Option<&Value>, old: Option<&Value>, path: &Path) -> ErrorList {
    let new = non_null(new);
    let old = non_null(old);
    if new == old {
        Vec::new()
    } else {
        vec![FieldError::invalid(
            path,
            new.cloned().unwrap_or(Value::Null),
            FIELD_IMMUTABLE,
        )]
    }
}

/// String fields where the empty string and absence are the same (Go's zero value).
fn validate_immutable_str(new: &str, old: &str, path: &Path) -> ErrorList {
    if new == old {
        Vec::new()
    } else {
        vec![FieldError::invalid(path, new, FIELD_IMMUTABLE)]
    }
}

/// `ValidateLabels` on a JSON map (`metadata.labels`, `spec.template.labels`, a `nodeSelector`).
/// Errors carry the map's path, not the key's, as upstream does.
pub fn validate_labels(labels: Option<&Value>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(map) = labels.and_then(Value::as_object) {
        for (k, v) in map {
            errs.extend(validate_label_name(k, path));
            let v = v.as_str().unwrap_or("");
            errs.extend(invalid_each(path, v, format::is_valid_label_value(v)));
        }
    }
    errs
}

/// `ValidateLabelName`.
pub fn validate_label_name(name: &str, path: &Path) -> ErrorList {
    invalid_each(path, name, format::is_qualified_name(name))
}

/// `ValidateAnnotations`: keys are qualified names (case-insensitive), total size ≤ 256 KiB.
pub fn validate_annotations(annotations: Option<&Value>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(map) = annotations.and_then(Value::as_object) else {
        return errs;
    };
    let mut total = 0usize;
    for (k, v) in map {
        errs.extend(invalid_each(
            path,
            k,
            format::is_qualified_name(&k.to_lowercase()),
        ));
        total = total
            .saturating_add(k.len())
            .saturating_add(v.as_str().map_or(0, str::len));
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT_B {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT_B));
    }
    errs
}

fn validate_owner_references(refs: Option<&Value>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(list) = refs.and_then(Value::as_array) else {
        return errs;
    };
    let mut first_controller = String::new();
    for r in list {
        let api_version = json_str(r, "apiVersion");
        let kind = json_str(r, "kind");
        let name = json_str(r, "name");
        let uid = json_str(r, "uid");
        // upstream (1.33) reports every owner reference at the list's path
        let version = api_version.rsplit_once('/').map_or(api_version, |(_, v)| v);
        if version.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("apiVersion"),
                api_version,
                "version must not be empty",
            ));
        }
        if kind.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("kind"),
                kind,
                "kind must not be empty",
            ));
        }
        if name.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("name"),
                name,
                "name must not be empty",
            ));
        }
        if uid.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("uid"),
                uid,
                "uid must not be empty",
            ));
        }
        if api_version == "v1" && kind == "Event" {
            errs.push(FieldError::invalid(
                path,
                r.clone(),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.get("controller").and_then(Value::as_bool) == Some(true) {
            let current = format!("{kind}/{name}");
            if first_controller.is_empty() {
                first_controller = current;
            } else {
                errs.push(FieldError::invalid(
                    path,
                    list.clone(),
                    format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first_controller} and {current}"
                    ),
                ));
            }
        }
    }
    errs
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// `ValidateFinalizers` (apimachinery part).
fn validate_finalizers(finalizers: &[String], path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    for f in finalizers {
        errs.extend(invalid_each(path, f, format::is_qualified_name(f)));
    }
    if finalizers.iter().any(|f| f == "orphan")
        && finalizers.iter().any(|f| f == "foregroundDeletion")
    {
        errs.push(FieldError::invalid(
            path,
            Value::from(finalizers.to_vec()),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

/// Core's `validateKubeFinalizerName`: an unqualified finalizer must be a standard one.
pub fn validate_kube_finalizer_name(name: &str, path: &Path) -> ErrorList {
    if !name.contains('/') && !STANDARD_FINALIZERS.contains(&name) {
        vec![FieldError::invalid(
            path,
            name,
            "name is neither a standard finalizer name nor is it fully qualified",
        )]
    } else {
        Vec::new()
    }
}

/// Core's `validateFinalizerName` (namespace `spec.finalizers`): both checks at one path.
pub fn validate_finalizer_name(name: &str, path: &Path) -> ErrorList {
    let mut errs = invalid_each(path, name, format::is_qualified_name(name));
    errs.extend(validate_kube_finalizer_name(name, path));
    errs
}

/// `ValidateObjectMeta` (core wrapper): name or generateName, namespace by scope, labels,
/// annotations, owner references, finalizers.
pub fn validate_object_meta(
    obj: &Value,
    requires_namespace: bool,
    name_fn: NameFn,
    path: &Path,
) -> ErrorList {
    let m = meta(obj);
    let mut errs = ErrorList::new();
    let generate_name = json_str(m, "generateName");
    if !generate_name.is_empty() {
        errs.extend(invalid_each(
            &path.child("generateName"),
            generate_name,
            name_fn(generate_name, true),
        ));
    }
    let name = json_str(m, "name");
    if name.is_empty() {
        errs.push(FieldError::required(
            &path.child("name"),
            "name or generateName is required",
        ));
    } else {
        errs.extend(invalid_each(
            &path.child("name"),
            name,
            name_fn(name, false),
        ));
    }
    let namespace = json_str(m, "namespace");
    if requires_namespace {
        if namespace.is_empty() {
            errs.push(FieldError::required(&path.child("namespace"), ""));
        } else {
            errs.extend(invalid_each(
                &path.child("namespace"),
                namespace,
                format::name_is_dns_label(namespace, false),
            ));
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::forbidden(
            &path.child("namespace"),
            "not allowed on this type",
        ));
    }
    errs.extend(validate_nonnegative(
        json_i64(m, "generation").unwrap_or(0),
        &path.child("generation"),
    ));
    errs.extend(validate_labels(m.get("labels"), &path.child("labels")));
    errs.extend(validate_annotations(
        m.get("annotations"),
        &path.child("annotations"),
    ));
    errs.extend(validate_owner_references(
        m.get("ownerReferences"),
        &path.child("ownerReferences"),
    ));
    let finalizers = string_list(m.get("finalizers"));
    errs.extend(validate_finalizers(&finalizers, &path.child("finalizers")));
    for (i, f) in finalizers.iter().enumerate() {
        errs.extend(validate_kube_finalizer_name(
            f,
            &path.child("finalizers").index(i),
        ));
    }
    errs
}

/// `ValidateObjectMetaUpdate` (core wrapper): identity fields are immutable, the
/// resourceVersion must be set (the API server copies the stored one in for unconditional
/// updates before validating), no new finalizers while deleting.
pub fn validate_object_meta_update(new: &Value, old: &Value, path: &Path) -> ErrorList {
    let nm = meta(new);
    let om = meta(old);
    let mut errs = ErrorList::new();
    let new_finalizers = string_list(nm.get("finalizers"));
    if non_null(om.get("deletionTimestamp")).is_some() {
        let old_finalizers = string_list(om.get("finalizers"));
        let mut extra: Vec<&String> = new_finalizers
            .iter()
            .filter(|f| !old_finalizers.contains(f))
            .collect();
        extra.sort();
        extra.dedup();
        if !extra.is_empty() {
            let quoted: Vec<String> = extra.iter().map(|f| format!("{f:?}")).collect();
            errs.push(FieldError::forbidden(
                &path.child("finalizers"),
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    quoted.join(", ")
                ),
            ));
        }
    }
    let rv = json_str(nm, "resourceVersion");
    if rv.is_empty() {
        errs.push(FieldError::invalid(
            &path.child("resourceVersion"),
            rv,
            "must be specified for an update",
        ));
    }
    let new_gen = json_i64(nm, "generation").unwrap_or(0);
    if new_gen < json_i64(om, "generation").unwrap_or(0) {
        errs.push(FieldError::invalid(
            &path.child("generation"),
            new_gen,
            "must not be decremented",
        ));
    }
    errs.extend(validate_immutable_str(
        json_str(nm, "name"),
        json_str(om, "name"),
        &path.child("name"),
    ));
    errs.extend(validate_immutable_str(
        json_str(nm, "namespace"),
        json_str(om, "namespace"),
        &path.child("namespace"),
    ));
    errs.extend(validate_immutable_str(
        json_str(nm, "uid"),
        json_str(om, "uid"),
        &path.child("uid"),
    ));
    for f in [
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        errs.extend(validate_immutable(nm.get(f), om.get(f), &path.child(f)));
    }
    errs.extend(validate_labels(nm.get("labels"), &path.child("labels")));
    errs.extend(validate_annotations(
        nm.get("annotations"),
        &path.child("annotations"),
    ));
    errs.extend(validate_owner_references(
        nm.get("ownerReferences"),
        &path.child("ownerReferences"),
    ));
    for (i, f) in new_finalizers.iter().enumerate() {
        errs.extend(validate_kube_finalizer_name(
            f,
            &path.child("finalizers").index(i),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::format::{name_is_dns_label, name_is_dns_subdomain};
    use crate::validation::msgs;
    use serde_json::json;

    fn m() -> Path {
        Path::new("metadata")
    }

    #[test]
    fn name_or_generate_name_is_required() {
        let errs = validate_object_meta(
            &json!({"metadata": {"namespace": "default"}}),
            true,
            name_is_dns_subdomain,
            &m(),
        );
        assert_eq!(
            msgs(&errs),
            vec!["metadata.name: Required value: name or generateName is required"]
        );
    }

    #[test]
    fn uppercase_name_is_not_a_subdomain() {
        let errs = validate_object_meta(
            &json!({"metadata": {"name": "Pi", "namespace": "default"}}),
            true,
            name_is_dns_subdomain,
            &m(),
        );
        assert_eq!(
            msgs(&errs),
            vec![
                "metadata.name: Invalid value: \"Pi\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ]
        );
    }

    #[test]
    fn namespace_required_when_namespaced_and_forbidden_otherwise() {
        let errs = validate_object_meta(
            &json!({"metadata": {"name": "x"}}),
            true,
            name_is_dns_subdomain,
            &m(),
        );
        assert_eq!(msgs(&errs), vec!["metadata.namespace: Required value"]);
        let errs = validate_object_meta(
            &json!({"metadata": {"name": "x", "namespace": "a"}}),
            false,
            name_is_dns_label,
            &m(),
        );
        assert_eq!(
            msgs(&errs),
            vec!["metadata.namespace: Forbidden: not allowed on this type"]
        );
    }

    #[test]
    fn bad_label_key_is_reported_at_labels_path() {
        let errs = validate_object_meta(
            &json!({"metadata": {"name": "x", "namespace": "d", "labels": {"bad key": "v"}}}),
            true,
            name_is_dns_subdomain,
            &m(),
        );
        assert_eq!(
            msgs(&errs),
            vec![
                "metadata.labels: Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
            ]
        );
    }

    #[test]
    fn long_label_value_is_rejected() {
        let v = "a".repeat(64);
        let errs = validate_labels(Some(&json!({"k": v})), &m().child("labels"));
        assert_eq!(
            msgs(&errs),
            vec![format!(
                "metadata.labels: Invalid value: \"{v}\": must be no more than 63 characters"
            )]
        );
    }

    #[test]
    fn annotations_over_256k_are_too_long() {
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT_B);
        let errs = validate_annotations(Some(&json!({"a": big})), &m().child("annotations"));
        assert_eq!(
            msgs(&errs),
            vec!["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );
    }

    #[test]
    fn unqualified_nonstandard_finalizer_is_invalid() {
        let errs = validate_object_meta(
            &json!({"metadata": {"name": "x", "namespace": "d", "finalizers": ["foo"]}}),
            true,
            name_is_dns_subdomain,
            &m(),
        );
        assert_eq!(
            msgs(&errs),
            vec![
                "metadata.finalizers[0]: Invalid value: \"foo\": name is neither a standard finalizer name nor is it fully qualified"
            ]
        );
    }

    #[test]
    fn update_rejects_name_change_and_missing_resource_version() {
        let old = json!({"metadata": {"name": "a", "namespace": "d", "uid": "u", "resourceVersion": "5"}});
        let new = json!({"metadata": {"name": "b", "namespace": "d", "uid": "u"}});
        assert_eq!(
            msgs(&validate_object_meta_update(&new, &old, &m())),
            vec![
                "metadata.resourceVersion: Invalid value: \"\": must be specified for an update",
                "metadata.name: Invalid value: \"b\": field is immutable",
            ]
        );
    }

    #[test]
    fn no_new_finalizers_while_deleting() {
        let old = json!({"metadata": {"name": "a", "resourceVersion": "1", "deletionTimestamp": "2024-01-01T00:00:00Z"}});
        let new = json!({"metadata": {"name": "a", "resourceVersion": "1", "deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["example.com/f"]}});
        assert_eq!(
            msgs(&validate_object_meta_update(&new, &old, &m())),
            vec![
                "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/f\"}"
            ]
        );
    }

    #[test]
    fn two_controller_owner_references_are_rejected() {
        let refs = json!([
            {"apiVersion": "batch/v1", "kind": "Job", "name": "a", "uid": "1", "controller": true},
            {"apiVersion": "batch/v1", "kind": "Job", "name": "b", "uid": "2", "controller": true}
        ]);
        let errs = validate_owner_references(Some(&refs), &m().child("ownerReferences"));
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0]
                .detail
                .ends_with("Found \"true\" in references for Job/a and Job/b")
        );
    }
}
