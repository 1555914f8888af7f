//! The field lists that make up the [`Convert`](super::convert::Convert) impls, one file per
//! API group (and, for the large `core/v1`, per area). Each lists every field of the
//! `k8s-openapi` struct, so the compiler checks them against both crates.

mod batch;
mod coordination;
mod core;
mod events;
mod meta;
mod node;
mod pod;
mod storage;
mod volume;
