//! `runlet kubectl ARGS...`: the system kubectl with the local admin kubeconfig, as
//! `k3s kubectl` does.

use anyhow::{Context, bail};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct KubectlArgs {
    /// The server's data directory (holds `kubeconfig`).
    #[arg(long, env = "RUNLET_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Arguments passed to kubectl unchanged.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

pub fn run(args: KubectlArgs) -> anyhow::Result<ExitCode> {
    let dir = args.data_dir.unwrap_or_else(crate::paths::default_data_dir);
    let kubeconfig = dir.join("kubeconfig");
    if !kubeconfig.exists() {
        bail!(
            "no admin kubeconfig at {}: start a server first with `runlet server --data-dir {}`",
            kubeconfig.display(),
            dir.display()
        );
    }
    let status = match std::process::Command::new("kubectl")
        .args(&args.args)
        .env("KUBECONFIG", &kubeconfig)
        .status()
    {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(
                "kubectl is not installed (not found on PATH); install it, or use runlet's own commands"
            )
        }
        Err(e) => return Err(e).context("running kubectl"),
    };
    Ok(ExitCode::from(
        status.code().unwrap_or(1).clamp(0, 255) as u8
    ))
}
