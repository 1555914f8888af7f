//! StorageClass validation, as upstream's `pkg/apis/storage/validation`: a qualified
//! provisioner name, bounded parameters, a supported reclaim policy and volume binding mode;
//! none of those four changes after creation.

use super::format::{self, invalid_each};
use super::metadata::{validate_immutable, validate_object_meta, validate_object_meta_update};
use super::{json_str, meta_path, non_null};
use crate::field::{ErrorList, FieldError, Path};
use serde_json::Value;

/// Upstream's `maxProvisionerParameterLen` and `maxProvisionerParameterSize`.
const MAX_PARAMETERS: usize = 512;
const MAX_PARAMETERS_SIZE: usize = 256 * 1024;
const RECLAIM_POLICIES: &[&str] = &["Delete", "Retain"];
const BINDING_MODES: &[&str] = &["Immediate", "WaitForFirstConsumer"];

/// `ValidateStorageClass`.
pub fn validate_storage_class(sc: &Value) -> ErrorList {
    let mut errs = validate_object_meta(sc, false, format::name_is_dns_subdomain, &meta_path());
    let provisioner = json_str(sc, "provisioner");
    let path = Path::new("provisioner");
    if provisioner.is_empty() {
        errs.push(FieldError::required(&path, ""));
    } else {
        let lower = provisioner.to_lowercase();
        errs.extend(invalid_each(
            &path,
            &lower,
            format::is_qualified_name(&lower),
        ));
    }
    errs.extend(validate_parameters(sc.get("parameters")));
    if let Some(policy) = non_null(sc.get("reclaimPolicy")).and_then(Value::as_str)
        && !policy.is_empty()
        && !RECLAIM_POLICIES.contains(&policy)
    {
        errs.push(FieldError::not_supported(
            &Path::new("reclaimPolicy"),
            policy,
            RECLAIM_POLICIES,
        ));
    }
    let path = Path::new("volumeBindingMode");
    match non_null(sc.get("volumeBindingMode")).and_then(Value::as_str) {
        None => errs.push(FieldError::required(&path, "")),
        Some(mode) if !BINDING_MODES.contains(&mode) => {
            errs.push(FieldError::not_supported(&path, mode, BINDING_MODES));
        }
        Some(_) => {}
    }
    errs
}

/// `validateParameters` (empty allowed).
fn validate_parameters(params: Option<&Value>) -> ErrorList {
    let path = Path::new("parameters");
    let Some(params) = non_null(params).and_then(Value::as_object) else {
        return Vec::new();
    };
    if params.len() > MAX_PARAMETERS {
        return vec![FieldError::too_long(&path, MAX_PARAMETERS)];
    }
    let mut errs = Vec::new();
    let mut size = 0;
    for (k, v) in params {
        if k.is_empty() {
            errs.push(FieldError::invalid(
                &path,
                k.as_str(),
                "field can not be empty.",
            ));
        }
        size += k.len() + v.as_str().map_or(0, str::len);
    }
    if size > MAX_PARAMETERS_SIZE {
        errs.push(FieldError::too_long(&path, MAX_PARAMETERS_SIZE));
    }
    errs
}

/// `ValidateStorageClassUpdate`: parameters, provisioner, reclaim policy and binding mode stay.
pub fn validate_storage_class_update(new: &Value, old: &Value) -> ErrorList {
    let mut errs = validate_object_meta_update(new, old, &meta_path());
    let unset =
        |v: Option<&Value>| non_null(v).is_none_or(|p| p.as_object().is_some_and(|m| m.is_empty()));
    let (np, op) = (new.get("parameters"), old.get("parameters"));
    if !(unset(np) && unset(op)) && non_null(np) != non_null(op) {
        errs.push(FieldError::forbidden(
            &Path::new("parameters"),
            "updates to parameters are forbidden.",
        ));
    }
    if json_str(new, "provisioner") != json_str(old, "provisioner") {
        errs.push(FieldError::forbidden(
            &Path::new("provisioner"),
            "updates to provisioner are forbidden.",
        ));
    }
    if json_str(new, "reclaimPolicy") != json_str(old, "reclaimPolicy") {
        errs.push(FieldError::forbidden(
            &Path::new("reclaimPolicy"),
            "updates to reclaimPolicy are forbidden.",
        ));
    }
    errs.extend(validate_immutable(
        new.get("volumeBindingMode"),
        old.get("volumeBindingMode"),
        &Path::new("volumeBindingMode"),
    ));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::msgs;
    use serde_json::json;

    #[test]
    fn a_storage_class_needs_a_provisioner_and_known_policies() {
        let ok = json!({"metadata": {"name": "fast"}, "provisioner": "runlet.dev/local-path",
            "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"});
        assert!(validate_storage_class(&ok).is_empty());
        let bad = json!({"metadata": {"name": "fast"}, "reclaimPolicy": "Recycle",
            "volumeBindingMode": "Later", "parameters": {"": "x"}});
        assert_eq!(
            msgs(&validate_storage_class(&bad)),
            [
                "provisioner: Required value",
                "parameters: Invalid value: \"\": field can not be empty.",
                "reclaimPolicy: Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\"",
                "volumeBindingMode: Unsupported value: \"Later\": supported values: \"Immediate\", \"WaitForFirstConsumer\"",
            ]
        );
    }

    #[test]
    fn what_a_storage_class_provisions_never_changes() {
        let old = json!({"metadata": {"name": "fast", "resourceVersion": "1"},
            "provisioner": "a.io/x", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"});
        let mut new = old.clone();
        new["metadata"]["labels"] = json!({"tier": "gold"});
        new["allowVolumeExpansion"] = json!(true);
        assert!(validate_storage_class_update(&new, &old).is_empty());
        new["provisioner"] = json!("b.io/y");
        new["parameters"] = json!({"k": "v"});
        new["volumeBindingMode"] = json!("WaitForFirstConsumer");
        assert_eq!(
            msgs(&validate_storage_class_update(&new, &old)),
            [
                "parameters: Forbidden: updates to parameters are forbidden.",
                "provisioner: Forbidden: updates to provisioner are forbidden.",
                "volumeBindingMode: Invalid value: \"WaitForFirstConsumer\": field is immutable",
            ]
        );
    }
}
