//! Integration tests of runlet's controllers against the in-process API server with a fake
//! clock. One binary, one module per controller.
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// The allocator `runlet` itself uses, so the ignored benchmark here measures what ships.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod harness;
mod job;
mod records;
mod restart;
