//! runlet's object model, as pure functions with no I/O.
//!
//! Everything the API server needs to know about a kind of object lives here: where it sits in
//! the REST tree ([`resources`]), how it is defaulted ([`defaulting`]) and validated
//! ([`validation`], reporting [`field::FieldError`]s with Kubernetes field paths), how it is shown
//! as a Table ([`table`]), how it is selected ([`selector`]) and patched ([`patch`]), and how
//! failures become `metav1.Status` bodies ([`status`]); [`logs`] holds the log options and the
//! `LogSource` trait the API server and the node agents meet at. Nothing here may panic on
//! input: it is what stands between a hostile request body and the store.

pub mod apply;
pub mod clock;
pub mod codec;
pub mod convert;
pub mod cronjob;
pub mod defaulting;
pub mod eventtype;
pub mod field;
pub mod fit;
pub mod goform;
pub mod logs;
pub mod meta;
pub mod openapi;
pub mod patch;
pub mod podclaims;
pub mod podrecord;
pub mod protobuf;
pub mod query;
pub mod resources;
pub mod selector;
pub mod status;
pub mod storageclass;
pub mod table;
pub mod validation;
pub mod warnings;
