//! `runlet completion bash|zsh|fish`: print a shell completion script (clap_complete) for
//! every runlet command and flag.

use clap::Args;
use clap_complete::Shell;
use std::process::ExitCode;

#[derive(Args)]
pub struct CompletionArgs {
    /// The shell: bash, zsh, fish (also elvish, powershell).
    shell: Shell,
}

/// Writes the script for `cmd` (the whole CLI) to stdout.
pub fn run(args: CompletionArgs, mut cmd: clap::Command) -> anyhow::Result<ExitCode> {
    clap_complete::generate(args.shell, &mut cmd, "runlet", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
