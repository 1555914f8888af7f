//! Label selectors: upstream's `k8s.io/apimachinery/pkg/labels/selector.go` (v0.33) ported
//! token for token, so that the same strings parse, fail with the same messages, and match the
//! same objects.
//!
//! The lexer works on bytes, as upstream's does: a NUL byte ends a token like the end of the
//! string, whitespace is `' '`, `\t`, `\r`, `\n`, and `= ! ( ) , > <` are operator characters.
//! `in`/`notin` are operators after a key and identifiers everywhere else (`x in (in)`).
//! Requirements are kept sorted by key, their values sorted and de-duplicated (upstream keeps
//! them in a `sets.String`), which makes [`fmt::Display`] match upstream's `String()`.

mod parser;

use super::SelectorError;
use crate::selector::validate::{go_quote, is_qualified_name, is_valid_label_value};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use parser::{Parser, lex};
use serde_json::Value;
use std::fmt;

/// The relation a requirement tests (upstream's `selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `key=value`.
    Equals,
    /// `key==value`.
    DoubleEquals,
    /// `key!=value`: also true when the key is absent.
    NotEquals,
    /// `key in (a,b)`.
    In,
    /// `key notin (a,b)`: also true when the key is absent.
    NotIn,
    /// `key`.
    Exists,
    /// `!key`.
    DoesNotExist,
    /// `key>n`: the label is an integer greater than `n`.
    GreaterThan,
    /// `key<n`: the label is an integer less than `n`.
    LessThan,
}

/// One `key op values` term of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

/// How a slice of strings reads in upstream's `field.Invalid` message (`%#v` of `[]string`).
fn go_string_slice(values: Option<&[String]>) -> String {
    match values {
        None => "[]string(nil)".to_string(),
        Some(vs) => {
            let quoted: Vec<String> = vs.iter().map(|v| go_quote(v)).collect();
            format!("[]string{{{}}}", quoted.join(", "))
        }
    }
}

/// Joins field path elements the way `field.Path` prints them; `None` is upstream's nil path.
fn child(root: Option<&str>, name: &str) -> String {
    match root {
        Some(r) if !r.is_empty() => format!("{r}.{name}"),
        _ => name.to_string(),
    }
}

/// Upstream's `errors.NewAggregate(...).Error()`: one message bare, several de-duplicated in `[]`.
pub(crate) fn aggregate(errors: &[String]) -> String {
    match errors {
        [one] => one.clone(),
        many => {
            let mut seen: Vec<&str> = Vec::new();
            for e in many {
                if !seen.contains(&e.as_str()) {
                    seen.push(e);
                }
            }
            if seen.len() == 1 {
                seen.concat()
            } else {
                format!("[{}]", seen.join(", "))
            }
        }
    }
}

impl Requirement {
    /// Upstream's `NewRequirement`: validates the key, the number of values for the operator
    /// and every value. `values` is `None` for a nil slice (only matters in messages).
    fn new(
        key: &str,
        operator: Operator,
        values: Option<Vec<String>>,
        path: Option<&str>,
    ) -> Result<Self, SelectorError> {
        let mut errs: Vec<String> = Vec::new();
        let key_errs = is_qualified_name(key);
        if !key_errs.is_empty() {
            errs.push(format!(
                "{}: Invalid value: {}: {}",
                child(path, "key"),
                go_quote(key),
                key_errs.join("; ")
            ));
        }
        let value_path = child(path, "values");
        let vals: &[String] = values.as_deref().unwrap_or(&[]);
        let invalid_values = |detail: &str| {
            format!(
                "{value_path}: Invalid value: {}: {detail}",
                go_string_slice(values.as_deref())
            )
        };
        match operator {
            Operator::In | Operator::NotIn => {
                if vals.is_empty() {
                    errs.push(invalid_values(
                        "for 'in', 'notin' operators, values set can't be empty",
                    ));
                }
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
                if vals.len() != 1 {
                    errs.push(invalid_values(
                        "exact-match compatibility requires one single value",
                    ));
                }
            }
            Operator::Exists | Operator::DoesNotExist => {
                if !vals.is_empty() {
                    errs.push(invalid_values(
                        "values set must be empty for exists and does not exist",
                    ));
                }
            }
            Operator::GreaterThan | Operator::LessThan => {
                if vals.len() != 1 {
                    errs.push(invalid_values(
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in vals.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(format!(
                            "{value_path}[{i}]: Invalid value: {}: for 'Gt', 'Lt' operators, the value must be an integer",
                            go_quote(v)
                        ));
                    }
                }
            }
        }
        for (i, v) in vals.iter().enumerate() {
            let msgs = is_valid_label_value(v);
            if !msgs.is_empty() {
                errs.push(format!(
                    "{value_path}[{i}][{key}]: Invalid value: {}: {}",
                    go_quote(v),
                    msgs.join("; ")
                ));
            }
        }
        if !errs.is_empty() {
            return Err(SelectorError::Parse(aggregate(&errs)));
        }
        Ok(Requirement {
            key: key.to_string(),
            operator,
            values: vals.to_vec(),
        })
    }

    /// The label key this requirement tests.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, sorted.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether labels with this `lookup` satisfy the requirement (upstream's `Requirement.Matches`).
    fn matches(&self, lookup: &dyn Fn(&str) -> Option<String>) -> bool {
        let has = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                lookup(&self.key).is_some_and(|v| has(&v))
            }
            Operator::NotIn | Operator::NotEquals => lookup(&self.key).is_none_or(|v| !has(&v)),
            Operator::Exists => lookup(&self.key).is_some(),
            Operator::DoesNotExist => lookup(&self.key).is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(Ok(actual)) = lookup(&self.key).map(|v| v.parse::<i64>()) else {
                    return false;
                };
                let [wanted] = self.values.as_slice() else {
                    return false;
                };
                let Ok(wanted) = wanted.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    actual > wanted
                } else {
                    actual < wanted
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.operator {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
        };
        f.write_str(op)?;
        let set = matches!(self.operator, Operator::In | Operator::NotIn);
        if set {
            f.write_str("(")?;
        }
        f.write_str(&self.values.join(","))?;
        if set {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A parsed label selector (`app=x,tier in (a,b),!gone`).
///
/// The default (and the empty string) selects everything; [`LabelSelector::nothing`] selects
/// nothing, which is what a nil `metav1.LabelSelector` means.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl LabelSelector {
    /// Parses `s` with upstream's grammar (`labels.Parse`).
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut parser = Parser {
            items: lex(s.as_bytes()),
            position: 0,
        };
        let mut requirements = parser.parse().map_err(SelectorError::Parse)?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// The selector that matches every object.
    pub fn everything() -> Self {
        LabelSelector::default()
    }

    /// The selector that matches no object.
    pub fn nothing() -> Self {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Upstream's `metav1.LabelSelectorAsSelector`: `matchLabels` become `=` requirements,
    /// `matchExpressions` `in`/`notin`/exists/`!`; an empty selector selects everything.
    pub fn from_k8s(selector: &metav1::LabelSelector) -> Result<Self, SelectorError> {
        let labels = selector.match_labels.as_ref();
        let exprs = selector.match_expressions.as_deref().unwrap_or(&[]);
        if labels.is_none_or(|l| l.is_empty()) && exprs.is_empty() {
            return Ok(LabelSelector::everything());
        }
        let mut requirements = Vec::new();
        for (k, v) in labels.into_iter().flatten() {
            requirements.push(Requirement::new(
                k,
                Operator::Equals,
                Some(vec![v.clone()]),
                None,
            )?);
        }
        for expr in exprs {
            let operator = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorError::Parse(format!(
                        "{} is not a valid label selector operator",
                        go_quote(other)
                    )));
                }
            };
            let values = expr.values.clone().filter(|v| !v.is_empty());
            requirements.push(Requirement::new(&expr.key, operator, values, None)?);
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// [`LabelSelector::from_k8s`] for an optional selector: `None` selects nothing.
    pub fn from_k8s_opt(selector: Option<&metav1::LabelSelector>) -> Result<Self, SelectorError> {
        selector.map_or_else(|| Ok(LabelSelector::nothing()), LabelSelector::from_k8s)
    }

    /// Whether the selector places no restriction (it matches everything).
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// The single value the selector demands for `label` (`label=v`, `label==v`, `label in (v)`),
    /// as upstream's `RequiresExactMatch`.
    pub fn requires_exact_match(&self, label: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == label)?;
        match (r.operator, r.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [one]) => Some(one),
            _ => None,
        }
    }

    /// Whether an object with `labels` (`metadata.labels`, possibly absent) matches.
    pub fn matches(&self, labels: Option<&Value>) -> bool {
        if self.nothing {
            return false;
        }
        let map = labels.and_then(Value::as_object);
        let lookup = |k: &str| {
            map.and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        self.requirements.iter().all(|r| r.matches(&lookup))
    }

    /// Whether a plain label map (`spec.selector.matchLabels`, a template's labels) matches.
    pub fn matches_map(&self, labels: &std::collections::BTreeMap<String, String>) -> bool {
        if self.nothing {
            return false;
        }
        let lookup = |k: &str| labels.get(k).cloned();
        self.requirements.iter().all(|r| r.matches(&lookup))
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn matches(sel: &str, labels: Value) -> bool {
        LabelSelector::parse(sel)
            .expect("valid selector")
            .matches(Some(&labels))
    }

    fn parse_err(sel: &str) -> String {
        LabelSelector::parse(sel)
            .expect_err("invalid selector")
            .to_string()
    }

    #[test]
    fn empty_selector_matches_everything_even_without_labels() {
        let s = LabelSelector::parse("").expect("empty parses");
        assert!(s.is_empty());
        assert!(s.matches(None));
        assert!(
            LabelSelector::parse("  ")
                .expect("blank parses")
                .matches(Some(&json!({"a": "b"})))
        );
    }

    #[test]
    fn equality_operators_match_values() {
        let labels = json!({"app": "web", "tier": "front"});
        assert!(matches("app=web", labels.clone()));
        assert!(matches("app==web,tier=front", labels.clone()));
        assert!(!matches("app=db", labels.clone()));
        assert!(matches("app!=db", labels.clone()));
        assert!(!matches("app!=web", labels.clone()));
        // `!=` and `notin` also match when the key is absent (upstream Requirement.Matches).
        assert!(matches("missing!=x", labels.clone()));
        assert!(matches("missing notin (x)", labels));
        assert!(!matches("app=web", json!(null)));
    }

    #[test]
    fn set_operators_and_existence() {
        let labels = json!({"env": "prod", "in": "notin"});
        assert!(matches("env in (dev,prod)", labels.clone()));
        assert!(!matches("env notin (dev,prod)", labels.clone()));
        assert!(matches("env", labels.clone()));
        assert!(matches("!gone", labels.clone()));
        assert!(!matches("!env", labels.clone()));
        // Keywords are identifiers in key and value position: selector_test.go "x in (in)".
        assert!(matches("in in (notin)", labels));
    }

    #[test]
    fn empty_values_and_trailing_commas_in_sets() {
        assert!(matches("a in ()", json!({"a": ""})));
        assert!(matches("a in (,x)", json!({"a": ""})));
        assert!(matches("a in (x,)", json!({"a": ""})));
        assert!(matches("a=", json!({"a": ""})));
        assert!(!matches("a=", json!({})));
    }

    #[test]
    fn greater_and_less_than_compare_integers() {
        let labels = json!({"n": "5", "s": "abc"});
        assert!(matches("n>4", labels.clone()));
        assert!(!matches("n>5", labels.clone()));
        assert!(matches("n<6", labels.clone()));
        assert!(!matches("s>1", labels.clone()));
        assert!(!matches("missing<1", labels));
    }

    #[test]
    fn gt_needs_an_integer_value() {
        assert_eq!(
            parse_err("n>x"),
            "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
    }

    #[test]
    fn syntax_errors_read_like_upstream() {
        assert_eq!(
            parse_err("a b"),
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(parse_err("a,"), "found '', expected: identifier after ','");
        assert_eq!(
            parse_err(",a"),
            "found ',', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            parse_err("!"),
            "unable to parse requirement: found '', expected: identifier"
        );
        assert_eq!(
            parse_err("a in b"),
            "unable to parse requirement: found 'b' expected: '('"
        );
        assert_eq!(
            parse_err("a in (b"),
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert_eq!(
            parse_err("a in (b c)"),
            "unable to parse requirement: found 'c', expected: ',' or ')'"
        );
        assert_eq!(
            parse_err("a in (=)"),
            "unable to parse requirement: found '=', expected: ',', ')' or identifier"
        );
        assert_eq!(
            parse_err("!a=b"),
            "found '=', expected: ',' or 'end of string'"
        );
        assert_eq!(
            parse_err("a=b=c"),
            "found '=', expected: ',' or 'end of string'"
        );
        assert_eq!(
            parse_err("a=(b)"),
            "unable to parse requirement: found '(', expected: identifier"
        );
    }

    #[test]
    fn invalid_key_reports_nil_path_like_upstream() {
        assert_eq!(
            parse_err("-a=b"),
            "unable to parse requirement: <nil>: Invalid value: \"-a\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        );
    }

    #[test]
    fn invalid_value_reports_values_path_with_key() {
        let long = "v".repeat(64);
        assert_eq!(
            parse_err(&format!("a={long}")),
            format!(
                "unable to parse requirement: values[0][a]: Invalid value: \"{long}\": must be no more than 63 characters"
            )
        );
        assert!(
            parse_err("a in (x,-y)")
                .starts_with("unable to parse requirement: values[0][a]: Invalid value: \"-y\"")
        );
    }

    #[test]
    fn display_matches_upstream_string() {
        let s = LabelSelector::parse("z in (b,a), !y,x, w!=1, v>2").expect("valid");
        assert_eq!(s.to_string(), "v>2,w!=1,x,!y,z in (a,b)");
    }

    #[test]
    fn nul_byte_ends_a_token_like_upstream_lexer() {
        // Upstream's read() returns 0 for a NUL byte and for the end alike.
        assert!(matches("a\0", json!({"a": "x"})));
        assert_eq!(
            parse_err("a\0b"),
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
        );
    }

    #[test]
    fn requires_exact_match_finds_single_values() {
        let s = LabelSelector::parse("a=1,b in (2),c in (3,4)").expect("valid");
        assert_eq!(s.requires_exact_match("a"), Some("1"));
        assert_eq!(s.requires_exact_match("b"), Some("2"));
        assert_eq!(s.requires_exact_match("c"), None);
    }

    #[test]
    fn from_k8s_converts_match_labels_and_expressions() {
        let sel: metav1::LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"batch.kubernetes.io/controller-uid": "u1"},
            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]
        }))
        .expect("selector");
        let s = LabelSelector::from_k8s(&sel).expect("valid");
        assert!(s.matches(Some(&json!({"batch.kubernetes.io/controller-uid": "u1"}))));
        assert!(!s.matches(Some(
            &json!({"batch.kubernetes.io/controller-uid": "u1", "tier": "db"})
        )));
        assert!(!s.matches(Some(&json!({}))));
    }

    #[test]
    fn from_k8s_empty_is_everything_and_none_is_nothing() {
        let empty = metav1::LabelSelector::default();
        assert!(
            LabelSelector::from_k8s(&empty)
                .expect("valid")
                .matches(None)
        );
        assert!(
            !LabelSelector::from_k8s_opt(None)
                .expect("valid")
                .matches(Some(&json!({})))
        );
    }

    #[test]
    fn from_k8s_reports_bad_operator_and_empty_in() {
        let bad_op: metav1::LabelSelector = serde_json::from_value(json!({
            "matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]
        }))
        .expect("selector");
        assert_eq!(
            LabelSelector::from_k8s(&bad_op)
                .expect_err("bad op")
                .to_string(),
            "\"Equals\" is not a valid label selector operator"
        );
        let empty_in: metav1::LabelSelector = serde_json::from_value(json!({
            "matchExpressions": [{"key": "a", "operator": "In", "values": []}]
        }))
        .expect("selector");
        assert_eq!(
            LabelSelector::from_k8s(&empty_in)
                .expect_err("empty in")
                .to_string(),
            "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
        );
        let exists_with_values: metav1::LabelSelector = serde_json::from_value(json!({
            "matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x", "y"]}]
        }))
        .expect("selector");
        assert_eq!(
            LabelSelector::from_k8s(&exists_with_values)
                .expect_err("exists")
                .to_string(),
            "values: Invalid value: []string{\"x\", \"y\"}: values set must be empty for exists and does not exist"
        );
    }

    #[test]
    fn aggregate_dedups_and_brackets() {
        assert_eq!(aggregate(&["a".into()]), "a");
        assert_eq!(aggregate(&["a".into(), "a".into()]), "a");
        assert_eq!(aggregate(&["a".into(), "b".into(), "a".into()]), "[a, b]");
    }
}
