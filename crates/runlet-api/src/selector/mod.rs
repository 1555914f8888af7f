//! Label and field selectors, parsed and matched as upstream's `labels` and `fields` packages.
//!
//! `?labelSelector=` and `?fieldSelector=` on list and watch requests, `kubectl get -l` and
//! `--field-selector`, and controllers matching pods to a Job's `spec.selector` all go through
//! here. Error texts are upstream's, since clients print the server's message verbatim.

mod field;
mod fields_by_kind;
mod label;
mod validate;

pub use field::FieldSelector;
pub use label::{LabelSelector, Operator, Requirement};

pub use validate::go_quote;

/// A malformed selector, or one naming a field the kind cannot be selected by.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SelectorError {
    /// The selector text does not parse, or names an invalid label key or value. The message
    /// is upstream's full text (`unable to parse requirement: ...`, `found 'x', expected: ...`,
    /// `invalid selector: ...`).
    #[error("{0}")]
    Parse(String),
    /// The field is not supported for this kind (kinds with their own conversion function:
    /// pods, nodes, namespaces, secrets, events).
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
    /// The field is not supported for a batch/v1 Job (that conversion has its own wording).
    #[error("field label {} not supported for batchv1.Job", go_quote(.0))]
    UnsupportedJobField(String),
    /// The field is neither `metadata.name` nor `metadata.namespace`, for a kind without a
    /// conversion function of its own (`runtime.DefaultMetaV1FieldSelectorConversion`).
    #[error("{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"", go_quote(.0))]
    UnknownField(String),
}
