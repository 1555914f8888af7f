//! Field-level validation errors, shaped like upstream's `k8s.io/apimachinery/pkg/util/validation/field`.
//!
//! Kubernetes clients print these verbatim (`spec.completions: Invalid value: -1: must be greater
//! than or equal to 0`) and put them in `Status.details.causes`, so the wording of every part
//! — the type string, the value rendering, the `reason` — follows upstream exactly.

use serde_json::Value;
use std::fmt;

/// The kind of a field error; the `reason` strings are upstream's `CauseType` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// The value was not found (`FieldValueNotFound`).
    NotFound,
    /// A required value is missing (`FieldValueRequired`).
    Required,
    /// A value that must be unique is repeated (`FieldValueDuplicate`).
    Duplicate,
    /// The value is malformed or out of range (`FieldValueInvalid`).
    Invalid,
    /// The value is not one of the supported values (`FieldValueNotSupported`).
    NotSupported,
    /// The field may not be set here (`FieldValueForbidden`).
    Forbidden,
    /// The value is too long (`FieldValueTooLong`).
    TooLong,
    /// The list has too many items (`FieldValueTooMany`).
    TooMany,
    /// Something went wrong inside the server (`InternalError`).
    Internal,
    /// The value has the wrong type (`FieldValueTypeInvalid`).
    TypeInvalid,
}

impl ErrorType {
    /// The `Status.details.causes[].reason` string.
    pub fn reason(self) -> &'static str {
        match self {
            ErrorType::NotFound => "FieldValueNotFound",
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::Internal => "InternalError",
            ErrorType::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The human string upstream prints before the value (`Invalid value`, `Required value`...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::NotFound => "Not found",
            ErrorType::Required => "Required value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::Internal => "Internal error",
            ErrorType::TypeInvalid => "Invalid value",
        }
    }
}

/// A field path such as `spec.template.spec.containers[0].image`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Path(String);

impl Path {
    /// A root path element (`spec`, `metadata`).
    pub fn new(root: &str) -> Self {
        Path(root.to_string())
    }

    /// `self.name`.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Path(name.to_string())
        } else {
            Path(format!("{}.{}", self.0, name))
        }
    }

    /// `self[i]`.
    pub fn index(&self, i: usize) -> Self {
        Path(format!("{}[{}]", self.0, i))
    }

    /// `self[key]` (map keys are written bare, as upstream does).
    pub fn key(&self, key: &str) -> Self {
        Path(format!("{}[{}]", self.0, key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One field-level error.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub error_type: ErrorType,
    pub field: String,
    /// The offending value, when upstream prints one.
    pub bad_value: Option<Value>,
    pub detail: String,
}

impl FieldError {
    fn with(
        error_type: ErrorType,
        path: &Path,
        value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        // Upstream's `field.NewPath("")` prints as `[]` (a root with neither name nor index).
        let field = match path.as_str() {
            "" => "[]".to_string(),
            p => p.to_string(),
        };
        FieldError {
            error_type,
            field,
            bad_value: value,
            detail: detail.into(),
        }
    }
    pub fn required(path: &Path, detail: impl Into<String>) -> Self {
        Self::with(ErrorType::Required, path, None, detail)
    }
    pub fn invalid(path: &Path, value: impl Into<Value>, detail: impl Into<String>) -> Self {
        Self::with(ErrorType::Invalid, path, Some(value.into()), detail)
    }
    pub fn forbidden(path: &Path, detail: impl Into<String>) -> Self {
        Self::with(ErrorType::Forbidden, path, None, detail)
    }
    pub fn duplicate(path: &Path, value: impl Into<Value>) -> Self {
        Self::with(ErrorType::Duplicate, path, Some(value.into()), "")
    }
    pub fn not_found(path: &Path, value: impl Into<Value>) -> Self {
        Self::with(ErrorType::NotFound, path, Some(value.into()), "")
    }
    pub fn too_long(path: &Path, max: usize) -> Self {
        Self::with(
            ErrorType::TooLong,
            path,
            None,
            format!("may not be more than {max} bytes"),
        )
    }
    pub fn too_many(path: &Path, actual: usize, max: usize) -> Self {
        Self::with(
            ErrorType::TooMany,
            path,
            Some(Value::from(actual)),
            format!("must have at most {max} items"),
        )
    }
    pub fn internal(path: &Path, detail: impl Into<String>) -> Self {
        Self::with(ErrorType::Internal, path, None, detail)
    }
    /// `Unsupported value: "x": supported values: "a", "b"`.
    pub fn not_supported(path: &Path, value: impl Into<Value>, valid: &[&str]) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| format!("{v:?}")).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::with(ErrorType::NotSupported, path, Some(value.into()), detail)
    }

    /// The part after `field: ` — upstream's `ErrorBody()`.
    pub fn body(&self) -> String {
        let mut s = match self.error_type {
            ErrorType::Required
            | ErrorType::Forbidden
            | ErrorType::TooLong
            | ErrorType::Internal => self.error_type.as_str().to_string(),
            _ => match &self.bad_value {
                Some(v) => format!("{}: {}", self.error_type.as_str(), render_value(v)),
                None => self.error_type.as_str().to_string(),
            },
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// How upstream renders a bad value: strings quoted, numbers and booleans bare, null as `null`,
/// compound values as JSON.
fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// A list of field errors, with upstream's aggregate message.
pub type ErrorList = Vec<FieldError>;

/// `[a, b]` when several, `a` when one — upstream's `ToAggregate().Error()`, which says each
/// distinct message once.
pub fn aggregate_message(errors: &[FieldError]) -> String {
    let mut parts: Vec<String> = Vec::with_capacity(errors.len());
    for message in errors.iter().map(ToString::to_string) {
        if !parts.contains(&message) {
            parts.push(message);
        }
    }
    match parts.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_path_reads_as_upstream_s_root() {
        let e = FieldError::forbidden(&Path::default(), "at most one");
        assert_eq!(e.to_string(), "[]: Forbidden: at most one");
        assert_eq!(e.field, "[]");
    }

    #[test]
    fn required_value_reads_like_upstream() {
        let p = Path::new("spec")
            .child("template")
            .child("spec")
            .child("restartPolicy");
        let e = FieldError::required(&p, "valid values: \"OnFailure\", \"Never\"");
        assert_eq!(
            e.to_string(),
            "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
        );
    }

    #[test]
    fn invalid_value_renders_numbers_bare_and_strings_quoted() {
        let p = Path::new("spec").child("completions");
        assert_eq!(
            FieldError::invalid(&p, -1, "must be greater than or equal to 0").to_string(),
            "spec.completions: Invalid value: -1: must be greater than or equal to 0"
        );
        let n = Path::new("metadata").child("name");
        assert_eq!(
            FieldError::invalid(&n, "A", "bad").to_string(),
            "metadata.name: Invalid value: \"A\": bad"
        );
    }

    #[test]
    fn aggregate_brackets_only_several() {
        let p = Path::new("a");
        let one = vec![FieldError::required(&p, "")];
        assert_eq!(aggregate_message(&one), "a: Required value");
        let two = vec![
            FieldError::required(&p, ""),
            FieldError::forbidden(&p.child("b"), "no"),
        ];
        assert_eq!(
            aggregate_message(&two),
            "[a: Required value, a.b: Forbidden: no]"
        );
    }
}
