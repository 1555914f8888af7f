//! Integration tests of runlet's controllers against the in-process API server with a fake
//! clock. One binary, one module per controller.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;
mod job;
mod restart;
