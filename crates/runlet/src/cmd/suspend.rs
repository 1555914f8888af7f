//! `runlet suspend job/NAME|cronjob/NAME`: set `spec.suspend` through the API. A suspended
//! Job's active pods are terminated and none start until it is resumed; a suspended CronJob
//! starts no new Jobs (running ones go on). `runlet resume` (module `resume`) clears it.

use crate::cli::resource::{self, Refs};
use crate::cli::{self, CliError, ClientArgs, Ctx, Failures};
use clap::Args;
use serde_json::json;
use std::process::ExitCode;

#[derive(Args)]
pub struct SuspendArgs {
    /// `job/NAME`, `cronjob/NAME`, or `job NAME...`.
    #[arg(required = true, value_name = "TYPE/NAME")]
    args: Vec<String>,
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run(args: SuspendArgs) -> anyhow::Result<ExitCode> {
    Ok(cli::run(set(args, true)))
}

/// Sets `spec.suspend` to `suspend` on every named Job or CronJob.
pub async fn set(args: SuspendArgs, suspend: bool) -> Result<ExitCode, CliError> {
    let refs = resource::parse_refs(&args.args)?;
    let verb = if suspend { "suspend" } else { "resume" };
    resource::expect_kind(&refs, &["Job", "CronJob"], verb)?;
    if refs.names.is_empty() {
        return Err(CliError::Usage(format!("name what to {verb}, e.g. job/pi")));
    }
    let ctx = Ctx::connect(&args.client, false).await?;
    let mut failures = Failures::default();
    for name in &refs.names {
        if let Err(e) = set_one(&ctx, &refs, name, suspend).await {
            failures.note(e)?;
        }
    }
    Ok(failures.exit_code())
}

async fn set_one(ctx: &Ctx, refs: &Refs, name: &str, suspend: bool) -> Result<(), CliError> {
    let path = resource::object_path(refs.info, &ctx.namespace, name);
    let current = ctx.get(&path).await?;
    let shown = resource::ref_name(refs.info, name);
    if current["spec"]["suspend"].as_bool().unwrap_or(false) == suspend {
        println!(
            "{shown} {}",
            if suspend {
                "already suspended"
            } else {
                "is not suspended"
            }
        );
        return Ok(());
    }
    ctx.write(
        "PATCH",
        &path,
        "application/merge-patch+json",
        &json!({"spec": {"suspend": suspend}}),
    )
    .await?;
    println!("{shown} {}", if suspend { "suspended" } else { "resumed" });
    Ok(())
}
