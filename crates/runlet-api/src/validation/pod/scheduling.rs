//! Where a pod may run: upstream's `validateAffinity` (node affinity's selector terms and
//! requirements, pod affinity and anti-affinity terms) and `validateTopologySpreadConstraints`.
//!
//! A mistake here is worth refusing at once: runlet's scheduler reads node affinity, and a
//! requirement it cannot make sense of (an operator `in`) would leave the Job's pods Pending
//! for good instead of failing the create.

use super::{arr, obj};
use crate::field::{ErrorList, FieldError, Path};
use crate::validation::format::{self, invalid_each};
use crate::validation::labelselector::validate_label_selector;
use crate::validation::metadata::validate_label_name;
use crate::validation::{json_i64, json_str};
use serde_json::Value;

const WEIGHT_RANGE: &str = "must be in the range 1-100";
const NOT_POSITIVE: &str = "must be greater than zero";
const NO_SELECTOR: &str = "must not be specified when labelSelector is not set";

/// `validateAffinity`.
pub fn validate_affinity(affinity: &Value, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(node) = obj(affinity, "nodeAffinity") {
        errs.extend(validate_node_affinity(node, &path.child("nodeAffinity")));
    }
    for kind in ["podAffinity", "podAntiAffinity"] {
        if let Some(terms) = obj(affinity, kind) {
            errs.extend(validate_pod_affinity(terms, &path.child(kind)));
        }
    }
    errs
}

fn validate_node_affinity(na: &Value, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let required = "requiredDuringSchedulingIgnoredDuringExecution";
    if let Some(selector) = obj(na, required) {
        errs.extend(validate_node_selector(selector, &path.child(required)));
    }
    let preferred = path.child("preferredDuringSchedulingIgnoredDuringExecution");
    for (i, term) in arr(na, "preferredDuringSchedulingIgnoredDuringExecution")
        .iter()
        .enumerate()
    {
        errs.extend(validate_weight(term, &preferred.index(i)));
        let preference = term.get("preference").unwrap_or(&Value::Null);
        errs.extend(validate_node_selector_term(
            preference,
            true,
            &preferred.index(i).child("preference"),
        ));
    }
    errs
}

/// `ValidateNodeSelector`: at least one term, each checked.
fn validate_node_selector(selector: &Value, path: &Path) -> ErrorList {
    let terms_path = path.child("nodeSelectorTerms");
    let terms = arr(selector, "nodeSelectorTerms");
    if terms.is_empty() {
        return vec![FieldError::required(
            &terms_path,
            "must have at least one node selector term",
        )];
    }
    terms
        .iter()
        .enumerate()
        .flat_map(|(i, term)| validate_node_selector_term(term, false, &terms_path.index(i)))
        .collect()
}

/// `ValidateNodeSelectorTerm`; a preferred term's values need not be label values.
fn validate_node_selector_term(term: &Value, allow_any_value: bool, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    for (j, req) in arr(term, "matchExpressions").iter().enumerate() {
        errs.extend(validate_node_selector_requirement(
            req,
            allow_any_value,
            &path.child("matchExpressions").index(j),
        ));
    }
    for (j, req) in arr(term, "matchFields").iter().enumerate() {
        errs.extend(validate_node_field_requirement(
            req,
            &path.child("matchFields").index(j),
        ));
    }
    errs
}

fn strings<'a>(v: &'a Value, key: &str) -> Vec<&'a str> {
    arr(v, key).iter().filter_map(Value::as_str).collect()
}

/// `ValidateNodeSelectorRequirement`.
fn validate_node_selector_requirement(
    req: &Value,
    allow_any_value: bool,
    path: &Path,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let values = strings(req, "values");
    let operator = json_str(req, "operator");
    match operator {
        "In" | "NotIn" if values.is_empty() => errs.push(FieldError::required(
            &path.child("values"),
            "must be specified when `operator` is 'In' or 'NotIn'",
        )),
        "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(FieldError::forbidden(
            &path.child("values"),
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        "Gt" | "Lt" if values.len() != 1 => errs.push(FieldError::required(
            &path.child("values"),
            "must be specified single value when `operator` is 'Lt' or 'Gt'",
        )),
        "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => {}
        other => errs.push(FieldError::invalid(
            &path.child("operator"),
            other,
            "not a valid selector operator",
        )),
    }
    errs.extend(validate_label_name(
        json_str(req, "key"),
        &path.child("key"),
    ));
    if !allow_any_value {
        for (i, v) in values.iter().enumerate() {
            errs.extend(invalid_each(
                &path.child("values").index(i),
                v,
                format::is_valid_label_value(v),
            ));
        }
    }
    errs
}

/// `ValidateNodeFieldSelectorRequirement`: only `metadata.name`, `In` or `NotIn` one name.
fn validate_node_field_requirement(req: &Value, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let values = strings(req, "values");
    match json_str(req, "operator") {
        "In" | "NotIn" if values.len() != 1 => errs.push(FieldError::required(
            &path.child("values"),
            "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
        )),
        "In" | "NotIn" => {}
        other => errs.push(FieldError::invalid(
            &path.child("operator"),
            other,
            "not a valid selector operator",
        )),
    }
    let key = json_str(req, "key");
    if key == "metadata.name" {
        for (i, v) in values.iter().enumerate() {
            errs.extend(invalid_each(
                &path.child("values").index(i),
                v,
                format::name_is_dns_subdomain(v, false),
            ));
        }
    } else {
        errs.push(FieldError::invalid(
            &path.child("key"),
            key,
            "not a valid field selector key",
        ));
    }
    errs
}

fn validate_weight(term: &Value, path: &Path) -> ErrorList {
    let weight = json_i64(term, "weight").unwrap_or(0);
    if (1..=100).contains(&weight) {
        return ErrorList::new();
    }
    vec![FieldError::invalid(
        &path.child("weight"),
        weight,
        WEIGHT_RANGE,
    )]
}

/// `validatePodAffinity` and `validatePodAntiAffinity`: required terms, and weighted ones.
fn validate_pod_affinity(affinity: &Value, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let required = path.child("requiredDuringSchedulingIgnoredDuringExecution");
    for (i, term) in arr(affinity, "requiredDuringSchedulingIgnoredDuringExecution")
        .iter()
        .enumerate()
    {
        errs.extend(validate_pod_affinity_term(term, &required.index(i)));
    }
    let preferred = path.child("preferredDuringSchedulingIgnoredDuringExecution");
    for (i, weighted) in arr(affinity, "preferredDuringSchedulingIgnoredDuringExecution")
        .iter()
        .enumerate()
    {
        errs.extend(validate_weight(weighted, &preferred.index(i)));
        let term = weighted.get("podAffinityTerm").unwrap_or(&Value::Null);
        errs.extend(validate_pod_affinity_term(
            term,
            &preferred.index(i).child("podAffinityTerm"),
        ));
    }
    errs
}

/// `validatePodAffinityTerm`.
fn validate_pod_affinity_term(term: &Value, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let selector = obj(term, "labelSelector");
    for key in ["labelSelector", "namespaceSelector"] {
        if let Some(sel) = obj(term, key) {
            errs.extend(validate_label_selector(sel, false, &path.child(key)));
        }
    }
    // Upstream names each bad namespace at `namespace`, with no index.
    for ns in strings(term, "namespaces") {
        errs.extend(invalid_each(
            &path.child("namespace"),
            ns,
            format::name_is_dns_label(ns, false),
        ));
    }
    let match_keys = strings(term, "matchLabelKeys");
    let mismatch_keys = strings(term, "mismatchLabelKeys");
    for (field, keys) in [
        ("matchLabelKeys", &match_keys),
        ("mismatchLabelKeys", &mismatch_keys),
    ] {
        errs.extend(validate_label_keys(keys, selector, &path.child(field)));
    }
    for (i, key) in match_keys.iter().enumerate() {
        if mismatch_keys.contains(key) {
            errs.push(FieldError::invalid(
                &path.child("matchLabelKeys").index(i),
                *key,
                "exists in both matchLabelKeys and mismatchLabelKeys",
            ));
        }
    }
    let topology_key = json_str(term, "topologyKey");
    if topology_key.is_empty() {
        errs.push(FieldError::required(
            &path.child("topologyKey"),
            "can not be empty",
        ));
    }
    errs.extend(validate_label_name(
        topology_key,
        &path.child("topologyKey"),
    ));
    errs
}

/// `matchLabelKeys` (and `mismatchLabelKeys`): label names, only beside a label selector.
fn validate_label_keys(keys: &[&str], selector: Option<&Value>, path: &Path) -> ErrorList {
    if keys.is_empty() {
        return ErrorList::new();
    }
    if selector.is_none() {
        return vec![FieldError::forbidden(path, NO_SELECTOR)];
    }
    keys.iter()
        .enumerate()
        .flat_map(|(i, key)| validate_label_name(key, &path.index(i)))
        .collect()
}

/// `validateTopologySpreadConstraints`.
pub fn validate_topology_spread_constraints(constraints: &[Value], path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, c) in constraints.iter().enumerate() {
        let p = path.index(i);
        let max_skew = json_i64(c, "maxSkew").unwrap_or(0);
        if max_skew <= 0 {
            errs.push(FieldError::invalid(
                &p.child("maxSkew"),
                max_skew,
                NOT_POSITIVE,
            ));
        }
        let topology_key = json_str(c, "topologyKey");
        if topology_key.is_empty() {
            errs.push(FieldError::required(
                &p.child("topologyKey"),
                "can not be empty",
            ));
        }
        let when = json_str(c, "whenUnsatisfiable");
        if !matches!(when, "DoNotSchedule" | "ScheduleAnyway") {
            errs.push(FieldError::not_supported(
                &p.child("whenUnsatisfiable"),
                when,
                &["DoNotSchedule", "ScheduleAnyway"],
            ));
        }
        let repeated = constraints[i + 1..].iter().any(|later| {
            json_str(later, "topologyKey") == topology_key
                && json_str(later, "whenUnsatisfiable") == when
        });
        if repeated {
            errs.push(FieldError::duplicate(
                &p.child("{topologyKey, whenUnsatisfiable}"),
                format!("{{{topology_key}, {when}}}"),
            ));
        }
        if let Some(min_domains) = json_i64(c, "minDomains") {
            if min_domains <= 0 {
                errs.push(FieldError::invalid(
                    &p.child("minDomains"),
                    min_domains,
                    NOT_POSITIVE,
                ));
            }
            if when != "DoNotSchedule" {
                errs.push(FieldError::invalid(
                    &p.child("minDomains"),
                    min_domains,
                    format!(
                        "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {when}"
                    ),
                ));
            }
        }
        for policy in ["nodeAffinityPolicy", "nodeTaintsPolicy"] {
            if let Some(v) = c.get(policy).and_then(Value::as_str)
                && v != "Honor"
                && v != "Ignore"
            {
                errs.push(FieldError::not_supported(
                    &p.child(policy),
                    v,
                    &["Honor", "Ignore"],
                ));
            }
        }
        let selector = obj(c, "labelSelector");
        errs.extend(validate_label_keys(
            &strings(c, "matchLabelKeys"),
            selector,
            &p.child("matchLabelKeys"),
        ));
        if let Some(sel) = selector {
            errs.extend(validate_label_selector(
                sel,
                false,
                &p.child("labelSelector"),
            ));
        }
    }
    errs
}
