//! Label and field selectors, parsed and matched as upstream's `labels` and `fields` packages.

use crate::resources::ResourceInfo;
use serde_json::Value;

/// A malformed selector.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SelectorError {
    /// The selector text does not parse.
    #[error("unable to parse requirement: {0}")]
    Parse(String),
    /// The field is not supported for this kind.
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
}

/// A parsed label selector (`app=x,tier in (a,b),!gone`).
#[derive(Debug, Clone, Default)]
pub struct LabelSelector {
    raw: String,
}

impl LabelSelector {
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        Ok(LabelSelector { raw: s.to_string() })
    }

    /// Whether an object with `labels` (`metadata.labels`, possibly absent) matches.
    pub fn matches(&self, labels: Option<&Value>) -> bool {
        let _ = labels;
        self.raw.is_empty()
    }
}

/// A parsed field selector (`status.phase=Running,spec.nodeName!=n1`).
#[derive(Debug, Clone, Default)]
pub struct FieldSelector {
    raw: String,
}

impl FieldSelector {
    /// Parses `s` and checks every field is supported for `info`'s kind.
    pub fn parse(info: &ResourceInfo, s: &str) -> Result<Self, SelectorError> {
        let _ = info;
        Ok(FieldSelector { raw: s.to_string() })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let _ = obj;
        self.raw.is_empty()
    }
}
