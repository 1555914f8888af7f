//! The field lists that make up the [`Convert`](super::convert::Convert) impls, one file per
//! API group (and, for the large `core/v1`, per area).
//!
//! Each entry lists every field of the `k8s-openapi` struct, so the compiler checks the lists
//! against both crates. What the compiler cannot check is marked by hand from upstream's Go
//! types (`k8s.io/api/<group>/<version>/types.go`, `k8s.io/apimachinery/.../meta/v1/types.go`):
//! `as omitempty` on a non-pointer scalar tagged `omitempty`, and `..embedded { .. }` for a Go
//! struct embedded inline (`VolumeSource`, `PersistentVolumeSource`, `ProbeHandler`,
//! `EphemeralContainerCommon`, `LocalObjectReference`). A field that is a pointer in Go is left
//! unmarked: its zero value was sent on purpose.

mod authentication;
mod authorization;
mod batch;
mod coordination;
mod core;
mod events;
mod meta;
mod node;
mod pod;
mod policy;
mod storage;
mod storageclass;
mod volume;
