//! Integration tests of runlet's controllers against the in-process API server with a fake
//! clock. One binary, one module per controller.
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// The allocator `runlet` itself uses, so the ignored benchmark here measures what ships.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod gc;
mod harness;
mod job_adoption;
mod job_failure;
mod job_indexed;
mod job_pods;
mod job_policy;
mod job_status;
mod job_suspend;
mod nodelifecycle;
mod records;
mod restart;
mod ttl;
mod volumeprotection;
