//! `metav1.LabelSelector` validation and matching, as upstream's
//! `apis/meta/v1/validation.ValidateLabelSelector` and `metav1.LabelSelectorAsSelector`.
//!
//! Job validation needs both: the selector must be well formed and must select the pod
//! template's labels. Works on the JSON form of the selector.

use super::format::{self, invalid_each};
use super::metadata::{validate_label_name, validate_labels};
use crate::field::{ErrorList, FieldError, Path};
use serde_json::Value;

/// `ValidateLabelSelector`; `allow_invalid_label_value` mirrors upstream's
/// `AllowInvalidLabelValueInSelector` (kept for objects stored before the check existed).
pub fn validate_label_selector(
    sel: &Value,
    allow_invalid_label_value: bool,
    path: &Path,
) -> ErrorList {
    let mut errs = validate_labels(sel.get("matchLabels"), &path.child("matchLabels"));
    let exprs = sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, e) in exprs.iter().enumerate() {
        let p = path.child("matchExpressions").index(i);
        let op = e.get("operator").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        match op {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        &p.child("values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        &p.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            _ => errs.push(FieldError::invalid(
                &p.child("operator"),
                op,
                "not a valid selector operator",
            )),
        }
        errs.extend(validate_label_name(
            e.get("key").and_then(Value::as_str).unwrap_or(""),
            &p.child("key"),
        ));
        if !allow_invalid_label_value {
            for (vi, v) in values.iter().enumerate() {
                errs.extend(invalid_each(
                    &p.child("values").index(vi),
                    v,
                    format::is_valid_label_value(v),
                ));
            }
        }
    }
    errs
}

/// Whether any `matchExpressions` value is not a valid label value (upstream's
/// `LabelSelectorHasInvalidLabelValue`).
pub fn has_invalid_label_value(sel: Option<&Value>) -> bool {
    sel.and_then(|s| s.get("matchExpressions"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|e| {
            e.get("values")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .any(|v| !format::is_valid_label_value(v.as_str().unwrap_or("")).is_empty())
}

/// `LabelSelectorAsSelector(sel).Matches(labels)`: `None` when the selector does not convert
/// (upstream then skips the match check); a missing selector matches nothing, an empty one
/// everything.
pub fn selector_matches(sel: Option<&Value>, labels: Option<&Value>) -> Option<bool> {
    let Some(sel) = sel.filter(|s| !s.is_null()) else {
        return Some(false);
    };
    let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    let mut ok = true;
    if let Some(ml) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in ml {
            let v = v.as_str().unwrap_or("");
            if !format::is_qualified_name(k).is_empty()
                || !format::is_valid_label_value(v).is_empty()
            {
                return None;
            }
            if label(k) != Some(v) {
                ok = false;
            }
        }
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        if !format::is_qualified_name(key).is_empty() {
            return None;
        }
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if values
            .iter()
            .any(|v| !format::is_valid_label_value(v).is_empty())
        {
            return None;
        }
        let matched = match e.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" if !values.is_empty() => label(key).is_some_and(|l| values.contains(&l)),
            "NotIn" if !values.is_empty() => label(key).is_none_or(|l| !values.contains(&l)),
            "Exists" if values.is_empty() => label(key).is_some(),
            "DoesNotExist" if values.is_empty() => label(key).is_none(),
            _ => return None,
        };
        ok &= matched;
    }
    Some(ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_selector_matches_nothing_and_empty_matches_everything() {
        assert_eq!(
            selector_matches(None, Some(&json!({"a": "b"}))),
            Some(false)
        );
        assert_eq!(selector_matches(Some(&json!({})), None), Some(true));
    }

    #[test]
    fn expressions_match_like_upstream() {
        let sel = json!({"matchLabels": {"app": "x"}, "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a", "b"]},
            {"key": "gone", "operator": "DoesNotExist"}
        ]});
        assert_eq!(
            selector_matches(Some(&sel), Some(&json!({"app": "x", "tier": "b"}))),
            Some(true)
        );
        assert_eq!(
            selector_matches(Some(&sel), Some(&json!({"app": "x", "tier": "c"}))),
            Some(false)
        );
        let bad = json!({"matchExpressions": [{"key": "k", "operator": "Foo"}]});
        assert_eq!(selector_matches(Some(&bad), None), None);
    }

    #[test]
    fn in_without_values_is_required() {
        let sel = json!({"matchExpressions": [{"key": "k", "operator": "In", "values": []}]});
        let errs = validate_label_selector(&sel, false, &Path::new("spec").child("selector"));
        assert_eq!(
            errs[0].to_string(),
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
        );
    }
}
