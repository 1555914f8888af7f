//! One module per subcommand.

pub mod agent;
pub mod bench;
pub mod bench_jobs;
pub mod kubectl;
pub mod run;
pub mod server;
