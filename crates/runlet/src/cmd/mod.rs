//! One module per subcommand. `get`, `describe`, `logs`, `exec`, `apply`, `delete`, `wait`,
//! `suspend`, `resume`, `rerun` and `trigger` are API clients sharing `crate::cli`.

pub mod agent;
pub mod apply;
pub mod bench;
pub mod bench_jobs;
pub mod completion;
pub mod delete;
pub mod describe;
pub mod exec;
pub mod get;
pub mod kubectl;
pub mod logs;
pub mod rerun;
pub mod resume;
pub mod run;
pub mod server;
pub mod suspend;
pub mod trigger;
pub mod wait;
