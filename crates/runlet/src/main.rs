//! `runlet`: Kubernetes Jobs and CronJobs in one binary.
//!
//! Each subcommand lives in its own module under `cmd/`; this file is only the CLI surface.
//! The kubectl-like commands share their client, output and errors in `cli/`.

mod cli;
mod cmd;
mod paths;
mod stack;

use clap::{CommandFactory, Parser, Subcommand};

/// jemalloc instead of the system allocator: the API server's JSON work allocates a great
/// deal, and glibc's malloc took a third of the CPU in `runlet bench jobs-controller`. mimalloc
/// served before it; jemalloc costs `runlet bench jobs` about a tenth less CPU per pod (six
/// interleaved pairs, docs/benchmarks.md). Objects here are often freed by another thread than
/// the one that made them (a watch event decoded on one worker, dropped on another): jemalloc
/// keeps such memory in the freeing thread's cache, where the next allocation finds it warm,
/// while mimalloc hands it back to the page it came from, cold by the time it is reused.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    /// Create or update the objects in files (`-f FILE|DIR|-`).
    Apply(cmd::apply::ApplyArgs),
    /// List objects with the server's columns: jobs, cronjobs, pods, nodes, events.
    Get(cmd::get::GetArgs),
    /// Show a job, cronjob or pod in detail, with its events.
    Describe(cmd::describe::DescribeArgs),
    /// Print (or follow) the logs of a pod, or of every pod of a job.
    Logs(cmd::logs::LogsArgs),
    /// Run a command in a running container of a pod or job (`-i` stdin, `-t` terminal).
    Exec(cmd::exec::ExecArgs),
    /// Delete jobs or cronjobs (`--cascade=background|foreground|orphan`).
    Delete(cmd::delete::DeleteArgs),
    /// Wait for a job to complete or fail (`--for=condition=complete`).
    Wait(cmd::wait::WaitArgs),
    /// Suspend a job (its pods stop) or a cronjob (no new runs).
    Suspend(cmd::suspend::SuspendArgs),
    /// Resume a suspended job or cronjob.
    Resume(cmd::resume::ResumeArgs),
    /// Run a job again as a fresh job from its template.
    Rerun(cmd::rerun::RerunArgs),
    /// Run a cronjob now (`trigger cronjob/NAME`).
    Trigger(cmd::trigger::TriggerArgs),
    /// Print a shell completion script: bash, zsh or fish.
    Completion(cmd::completion::CompletionArgs),
    /// Run the system kubectl against the local server's admin kubeconfig.
    #[command(disable_help_flag = true)]
    Kubectl(cmd::kubectl::KubectlArgs),
}

impl Command {
    /// Whether the command is a client that prints and is done: it may be piped into `head`,
    /// and then dies quietly of SIGPIPE when its reader goes, as kubectl does, rather than
    /// panicking on the failed write. The long-running ones keep Rust's ignored SIGPIPE,
    /// which their sockets need.
    fn is_printing_client(&self) -> bool {
        !matches!(
            self,
            Command::Run(_)
                | Command::Server(_)
                | Command::Agent(_)
                | Command::Kubectl(_)
                | Command::Bench(_)
                | Command::Exec(_)
        )
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if cli.command.is_printing_client() {
        sigpipe::reset();
    }
    let result = match cli.command {
        Command::Run(args) => cmd::run::run(args),
        Command::Server(args) => cmd::server::run(args),
        Command::Agent(args) => cmd::agent::run(args),
        Command::Kubectl(args) => cmd::kubectl::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Apply(args) => cmd::apply::run(args),
        Command::Get(args) => cmd::get::run(args),
        Command::Describe(args) => cmd::describe::run(args),
        Command::Logs(args) => cmd::logs::run(args),
        Command::Exec(args) => cmd::exec::run(args),
        Command::Delete(args) => cmd::delete::run(args),
        Command::Wait(args) => cmd::wait::run(args),
        Command::Suspend(args) => cmd::suspend::run(args),
        Command::Resume(args) => cmd::resume::run(args),
        Command::Rerun(args) => cmd::rerun::run(args),
        Command::Trigger(args) => cmd::trigger::run(args),
        Command::Completion(args) => cmd::completion::run(args, Cli::command()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_has_no_conflicting_flags() {
        Cli::command().debug_assert();
    }
}
