//! Field selectors: upstream's `k8s.io/apimachinery/pkg/fields/selector.go` grammar plus the
//! per-kind field label conversions the API server applies before matching.
//!
//! Parsing follows `fields.ParseSelector`: terms are split on unescaped commas and sorted, each
//! is split at its first `!=`, `==` or `=`, and the value is unescaped (`\\`, `\,`, `\=`). Then,
//! as the list handler does with `scheme.ConvertFieldLabel`, every field label is checked (and
//! possibly renamed) by the kind's conversion function ([`super::fields_by_kind`]). Matching reads
//! the kind's selectable field set; a field the object lacks reads as the empty string, as
//! upstream's `fields.Set.Get` does.

use super::SelectorError;
use super::fields_by_kind::{FieldKind, field_value, read_paths};
use crate::resources::ResourceInfo;
use serde_json::Value;
use std::fmt;

/// One `field=value` or `field!=value` term, with the field already converted.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    field: String,
    value: String,
    negated: bool,
}

/// A parsed field selector (`status.phase=Running,spec.nodeName!=n1`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<Term>,
    kind: FieldKind,
}

/// Upstream's `splitTerms`: commas preceded by a backslash stay in the term.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(s.get(start..i).unwrap_or_default());
            start = i + 1;
        }
    }
    terms.push(s.get(start..).unwrap_or_default());
    terms
}

/// Upstream's `splitTerm`: the first `!=`, `==` or `=` (in that preference at each position).
fn split_term(term: &str) -> Option<(&str, &'static str, &str)> {
    for (i, _) in term.char_indices() {
        let rest = term.get(i..).unwrap_or_default();
        for op in ["!=", "==", "="] {
            if let Some(rhs) = rest.strip_prefix(op) {
                return Some((term.get(..i).unwrap_or_default(), op, rhs));
            }
        }
    }
    None
}

/// Upstream's `UnescapeValue`.
fn unescape_value(s: &str) -> Result<String, SelectorError> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                other => {
                    return Err(SelectorError::Parse(format!(
                        "invalid field selector: invalid escape sequence: \\{other}"
                    )));
                }
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            // Upstream prints the rune with %v, i.e. as its number.
            ',' | '=' => {
                return Err(SelectorError::Parse(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                )));
            }
            other => out.push(other),
        }
    }
    if in_slash {
        return Err(SelectorError::Parse(
            "invalid field selector: invalid escape sequence: \\".to_string(),
        ));
    }
    Ok(out)
}

/// Upstream's `EscapeValue`.
fn escape_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace('=', "\\=")
}

impl FieldSelector {
    /// Parses `s` and checks every field is supported for `info`'s kind, renaming fields the
    /// way the kind's field label conversion does (`spec.host` → `spec.nodeName` for pods,
    /// `regarding.name` → `involvedObject.name` for `events.k8s.io` events).
    pub fn parse(info: &ResourceInfo, s: &str) -> Result<Self, SelectorError> {
        let kind = FieldKind::of(info);
        let mut parts = split_terms(s);
        parts.sort_unstable();
        let mut raw = Vec::new();
        for part in parts {
            if part.is_empty() {
                continue;
            }
            let Some((lhs, op, rhs)) = split_term(part) else {
                return Err(SelectorError::Parse(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            raw.push((lhs, unescape_value(rhs)?, op == "!="));
        }
        let mut terms = Vec::new();
        for (lhs, value, negated) in raw {
            let field = kind.convert_label(lhs)?;
            terms.push(Term {
                field: field.to_string(),
                value,
                negated,
            });
        }
        Ok(FieldSelector { terms, kind })
    }

    /// Whether the selector places no restriction.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The value demanded for `field` by a `field=value` term (after conversion), as upstream's
    /// `RequiresExactMatch`: lets a list by `metadata.name=x` become a single get.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| !t.negated && t.field == field)
            .map(|t| t.value.as_str())
    }

    /// Every path [`FieldSelector::matches`] reads, as `[top-level field, field within it]`
    /// (an empty second part: the whole top-level field). A caller may decode only these
    /// before matching.
    pub fn read_paths(&self) -> Vec<[&'static str; 2]> {
        self.terms
            .iter()
            .flat_map(|t| read_paths(self.kind, &t.field))
            .collect()
    }

    /// Whether `obj` (a whole object of the kind the selector was parsed for) matches.
    pub fn matches(&self, obj: &Value) -> bool {
        self.terms
            .iter()
            .all(|t| (field_value(self.kind, obj, &t.field) == t.value) != t.negated)
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .terms
            .iter()
            .map(|t| {
                format!(
                    "{}{}{}",
                    t.field,
                    if t.negated { "!=" } else { "=" },
                    escape_value(&t.value)
                )
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;
    use serde_json::json;

    fn info(group: &str, plural: &str) -> &'static ResourceInfo {
        find(group, "v1", plural).expect("served resource")
    }

    fn parse(group: &str, plural: &str, s: &str) -> Result<FieldSelector, SelectorError> {
        FieldSelector::parse(info(group, plural), s)
    }

    #[test]
    fn empty_selector_matches_everything() {
        let s = parse("", "pods", "").expect("empty");
        assert!(s.is_empty());
        assert!(s.matches(&json!({})));
    }

    #[test]
    fn pod_fields_match_with_all_three_operators() {
        let pod = json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"nodeName": "n1", "restartPolicy": "Never"},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.1"}]}
        });
        assert!(
            parse("", "pods", "status.phase=Running")
                .expect("ok")
                .matches(&pod)
        );
        assert!(
            parse("", "pods", "status.phase==Running,spec.nodeName!=n2")
                .expect("ok")
                .matches(&pod)
        );
        assert!(
            !parse("", "pods", "spec.nodeName!=n1")
                .expect("ok")
                .matches(&pod)
        );
        assert!(
            parse("", "pods", "status.podIP=10.0.0.1")
                .expect("ok")
                .matches(&pod)
        );
        assert!(
            parse("", "pods", "spec.hostNetwork=false")
                .expect("ok")
                .matches(&pod)
        );
        assert!(
            parse("", "pods", "metadata.namespace=ns,metadata.name=p")
                .expect("ok")
                .matches(&pod)
        );
    }

    #[test]
    fn missing_field_reads_as_empty_string() {
        // kubectl's `spec.nodeName=` finds unscheduled pods (fields.Set.Get returns "").
        let pod = json!({"metadata": {"name": "p"}, "spec": {}});
        assert!(
            parse("", "pods", "spec.nodeName=")
                .expect("ok")
                .matches(&pod)
        );
        assert!(
            !parse("", "pods", "spec.nodeName!=")
                .expect("ok")
                .matches(&pod)
        );
    }

    #[test]
    fn legacy_spec_host_becomes_node_name() {
        let s = parse("", "pods", "spec.host=n1").expect("ok");
        assert_eq!(s.requires_exact_match("spec.nodeName"), Some("n1"));
        assert!(s.matches(&json!({"spec": {"nodeName": "n1"}})));
    }

    #[test]
    fn unsupported_field_messages_follow_each_kinds_conversion() {
        assert_eq!(
            parse("", "pods", "spec.foo=x")
                .expect_err("unsupported")
                .to_string(),
            "field label not supported: spec.foo"
        );
        // Nodes and namespaces have no metadata.namespace (core/v1/conversion.go).
        assert_eq!(
            parse("", "nodes", "metadata.namespace=x")
                .expect_err("unsupported")
                .to_string(),
            "field label not supported: metadata.namespace"
        );
        assert_eq!(
            parse("batch", "jobs", "status.active=1")
                .expect_err("unsupported")
                .to_string(),
            "field label \"status.active\" not supported for batchv1.Job"
        );
        // Kinds without a conversion func use runtime.DefaultMetaV1FieldSelectorConversion.
        assert_eq!(
            parse("", "configmaps", "data.x=1")
                .expect_err("unknown")
                .to_string(),
            "\"data.x\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        assert!(matches!(
            parse("", "pods", "spec.foo=x"),
            Err(SelectorError::UnsupportedField(f)) if f == "spec.foo"
        ));
    }

    #[test]
    fn first_unsupported_field_in_sorted_order_is_reported() {
        assert_eq!(
            parse("", "pods", "zz=1,aa=2")
                .expect_err("unsupported")
                .to_string(),
            "field label not supported: aa"
        );
    }

    #[test]
    fn syntax_errors_read_like_upstream() {
        assert_eq!(
            parse("", "pods", "status.phase")
                .expect_err("bad")
                .to_string(),
            "invalid selector: 'status.phase'; can't understand 'status.phase'"
        );
        assert_eq!(
            parse("", "pods", "a=b=c").expect_err("bad").to_string(),
            "invalid field selector: unescaped character in value: 61"
        );
        assert_eq!(
            parse("", "pods", "a=b\\x").expect_err("bad").to_string(),
            "invalid field selector: invalid escape sequence: \\x"
        );
        assert_eq!(
            parse("", "pods", "a=b\\").expect_err("bad").to_string(),
            "invalid field selector: invalid escape sequence: \\"
        );
    }

    #[test]
    fn escaped_commas_and_equals_are_data() {
        let s = parse("", "configmaps", "metadata.name=a\\,b\\=c").expect("ok");
        assert!(s.matches(&json!({"metadata": {"name": "a,b=c"}})));
        assert_eq!(s.to_string(), "metadata.name=a\\,b\\=c");
    }

    #[test]
    fn empty_terms_are_skipped() {
        let s = parse("", "pods", ",status.phase=Running,").expect("ok");
        assert!(s.matches(&json!({"status": {"phase": "Running"}})));
    }

    #[test]
    fn job_status_successful_counts_succeeded_pods() {
        let s = parse("batch", "jobs", "status.successful=0").expect("ok");
        assert!(s.matches(&json!({"metadata": {"name": "j"}, "status": {}})));
        let one = parse("batch", "jobs", "status.successful=1").expect("ok");
        assert!(one.matches(&json!({"status": {"succeeded": 1}})));
    }

    #[test]
    fn core_events_select_by_involved_object_and_source() {
        let ev = json!({
            "metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default", "uid": "u"},
            "reason": "Started", "type": "Normal", "reportingComponent": "kubelet",
        });
        let s = parse(
            "",
            "events",
            "involvedObject.kind=Pod,involvedObject.name=p,reason=Started,type=Normal",
        )
        .expect("ok");
        assert!(s.matches(&ev));
        // `source` falls back to reportingComponent when source.component is empty.
        assert!(
            parse("", "events", "source=kubelet")
                .expect("ok")
                .matches(&ev)
        );
        assert!(
            parse("", "events", "reportingComponent=kubelet")
                .expect("ok")
                .matches(&ev)
        );
    }

    #[test]
    fn events_k8s_io_uses_regarding_names() {
        let ev = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e", "namespace": "default"},
            "regarding": {"kind": "Job", "name": "pi"},
            "reason": "Completed", "type": "Normal", "reportingController": "job-controller",
        });
        let s = parse(
            "events.k8s.io",
            "events",
            "regarding.kind=Job,regarding.name=pi,reportingController=job-controller",
        )
        .expect("ok");
        assert!(s.matches(&ev));
        assert_eq!(
            parse("events.k8s.io", "events", "involvedObject.name=pi")
                .expect_err("unsupported")
                .to_string(),
            "field label not supported: involvedObject.name"
        );
    }

    #[test]
    fn node_namespace_secret_fields() {
        assert!(
            parse("", "nodes", "spec.unschedulable=false")
                .expect("ok")
                .matches(&json!({"spec": {}}))
        );
        assert!(
            parse("", "nodes", "spec.unschedulable=true")
                .expect("ok")
                .matches(&json!({"spec": {"unschedulable": true}}))
        );
        assert!(
            parse("", "namespaces", "status.phase=Active")
                .expect("ok")
                .matches(&json!({"status": {"phase": "Active"}}))
        );
        assert!(
            parse("", "secrets", "type=Opaque")
                .expect("ok")
                .matches(&json!({"type": "Opaque"}))
        );
    }

    #[test]
    fn cluster_scoped_default_kinds_accept_metadata_namespace() {
        // DefaultMetaV1FieldSelectorConversion accepts it; the value reads as "".
        let s = parse("", "persistentvolumes", "metadata.namespace=").expect("ok");
        assert!(s.matches(&json!({"metadata": {"name": "pv1"}})));
    }
}
