//! `runlet`: Kubernetes Jobs and CronJobs in one binary.
//!
//! Each subcommand lives in its own module under `cmd/`; this file is only the CLI surface.

mod cmd;
mod paths;
mod stack;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: the API server's JSON work allocates a great
/// deal, and glibc's malloc took a third of the CPU in `runlet bench jobs-controller`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "runlet",
    version,
    about = "Kubernetes Jobs and CronJobs in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Jobs (and CronJobs, once) in a file to completion, with progress and logs.
    Run(cmd::run::RunArgs),
    /// Serve the Kubernetes API (HTTPS) backed by the embedded store.
    Server(cmd::server::ServerArgs),
    /// Measure throughput and latency against an in-run baseline.
    Bench(cmd::bench::BenchArgs),
    /// Run a node agent that joins a server: `runlet agent --server URL --token TOKEN`.
    Agent(cmd::agent::AgentArgs),
    /// Run the system kubectl against the local server's admin kubeconfig.
    #[command(disable_help_flag = true)]
    Kubectl(cmd::kubectl::KubectlArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => cmd::run::run(args),
        Command::Server(args) => cmd::server::run(args),
        Command::Agent(args) => cmd::agent::run(args),
        Command::Kubectl(args) => cmd::kubectl::run(args),
        Command::Bench(args) => cmd::bench::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
