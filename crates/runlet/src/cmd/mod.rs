//! One module per subcommand.

pub mod agent;
pub mod bench;
pub mod kubectl;
pub mod run;
pub mod server;
