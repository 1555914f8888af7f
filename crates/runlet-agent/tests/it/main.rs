//! The agent against the real API server in-process, running real `sh -c` processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;
mod lifecycle;
mod pods;
