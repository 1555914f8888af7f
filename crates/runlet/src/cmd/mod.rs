//! One module per subcommand.

pub mod bench;
pub mod kubectl;
pub mod server;
