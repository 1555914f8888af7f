//! One module per subcommand.

pub mod agent;
pub mod kubectl;
pub mod server;
