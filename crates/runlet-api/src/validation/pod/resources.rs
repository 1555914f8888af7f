//! Container resource requirements: resource names, quantities, requests within limits
//! (upstream's `ValidateContainerResourceRequirements`).

use super::super::format::{self, invalid_each};
use super::super::metadata;
use super::super::quantity::Quantity;
use crate::field::{ErrorList, FieldError, Path};
use serde_json::Value;

const STANDARD_CONTAINER_RESOURCES: &[&str] = &["cpu", "memory", "ephemeral-storage"];
const STANDARD_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
];

fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

fn overcommit_allowed(name: &str) -> bool {
    is_native(name) && !is_hugepages(name)
}

fn is_integer_resource(name: &str) -> bool {
    !is_native(name) && !name.starts_with("requests.")
        || [
            "pods",
            "services",
            "replicationcontrollers",
            "resourcequotas",
            "secrets",
            "configmaps",
            "persistentvolumeclaims",
            "services.nodeports",
            "services.loadbalancers",
        ]
        .contains(&name)
}

fn validate_container_resource_name(name: &str, path: &Path) -> ErrorList {
    let mut errs = invalid_each(path, name, format::is_qualified_name(name));
    if !errs.is_empty() {
        return errs;
    }
    if !name.contains('/') {
        if !STANDARD_RESOURCES.contains(&name) && !is_hugepages(name) {
            errs.push(FieldError::invalid(
                path,
                name,
                "must be a standard resource type or fully qualified",
            ));
        }
        if !STANDARD_CONTAINER_RESOURCES.contains(&name) && !is_hugepages(name) {
            errs.push(FieldError::invalid(
                path,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native(name) && !format::is_qualified_name(&format!("requests.{name}")).is_empty()
    {
        errs.push(FieldError::invalid(
            path,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
    errs
}

fn validate_quantity_value(name: &str, raw: &str, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(q) = Quantity::parse(raw) else {
        errs.push(FieldError::invalid(
            path,
            raw,
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        ));
        return errs;
    };
    if q.is_negative() {
        errs.push(FieldError::invalid(path, raw, metadata::IS_NEGATIVE));
    }
    if is_integer_resource(name) && !q.is_integer() {
        errs.push(FieldError::invalid(path, raw, "must be an integer"));
    }
    errs
}

/// `ValidateContainerResourceRequirements`: names, non-negative quantities, requests ≤ limits.
pub fn validate_resource_requirements(r: &Value, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    let empty = serde_json::Map::new();
    let limits = r.get("limits").and_then(Value::as_object).unwrap_or(&empty);
    let requests = r
        .get("requests")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut cpu_mem = false;
    let mut huge = false;
    for (name, q) in limits {
        let p = lim_path.key(name);
        errs.extend(validate_container_resource_name(name, &p));
        errs.extend(validate_quantity_value(name, q.as_str().unwrap_or(""), &p));
        huge |= is_hugepages(name);
        cpu_mem |= name == "cpu" || name == "memory";
    }
    for (name, q) in requests {
        let p = req_path.key(name);
        let raw = q.as_str().unwrap_or("");
        errs.extend(validate_container_resource_name(name, &p));
        errs.extend(validate_quantity_value(name, raw, &p));
        if let Some(lim) = limits.get(name) {
            let lim_raw = lim.as_str().unwrap_or("");
            if let (Some(rq), Some(lq)) = (Quantity::parse(raw), Quantity::parse(lim_raw)) {
                if rq != lq && !overcommit_allowed(name) {
                    errs.push(FieldError::invalid(
                        &req_path,
                        raw,
                        format!("must be equal to {name} limit of {lim_raw}"),
                    ));
                } else if rq > lq {
                    errs.push(FieldError::invalid(
                        &req_path,
                        raw,
                        format!("must be less than or equal to {name} limit of {lim_raw}"),
                    ));
                }
            }
        } else if !overcommit_allowed(name) {
            errs.push(FieldError::required(
                &lim_path,
                "Limit must be set for non overcommitable resources",
            ));
        }
        huge |= is_hugepages(name);
        cpu_mem |= name == "cpu" || name == "memory";
    }
    if !cpu_mem && huge {
        errs.push(FieldError::forbidden(
            path,
            "HugePages require cpu or memory",
        ));
    }
    errs
}
