//! `runlet delete job|cronjob NAME... [--cascade=background|foreground|orphan]`: delete
//! through the API with the chosen propagation, then (by default) wait until the objects are
//! gone, as `kubectl delete` does. `background` (the default) deletes the Job's pods after
//! it, `foreground` deletes the pods first, `orphan` leaves them.

use crate::cli::resource;
use crate::cli::{self, CliError, ClientArgs, Ctx, Failures, with_query};
use clap::Args;
use serde_json::json;
use std::process::ExitCode;

/// How dependents (a Job's pods, a CronJob's Jobs) are deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Cascade {
    /// Delete the object now and its dependents after it.
    Background,
    /// Delete the dependents first; the object goes last.
    Foreground,
    /// Leave the dependents.
    Orphan,
}

impl Cascade {
    fn policy(self) -> &'static str {
        match self {
            Cascade::Background => "Background",
            Cascade::Foreground => "Foreground",
            Cascade::Orphan => "Orphan",
        }
    }
}

#[derive(Args)]
pub struct DeleteArgs {
    /// `job NAME...`, `cronjob/NAME`...
    #[arg(required = true, value_name = "TYPE [NAME...]")]
    args: Vec<String>,
    /// Delete the objects matching this label selector.
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// What happens to dependents.
    #[arg(long, value_enum, default_value_t = Cascade::Background)]
    cascade: Cascade,
    /// Wait until the objects are gone.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    wait: bool,
    /// How long to wait (`60s`, `5m`): by default, and when zero or negative, a week, as
    /// kubectl's.
    #[arg(long, default_value = "0s", allow_hyphen_values = true)]
    timeout: String,
    /// A missing object is not an error.
    #[arg(long)]
    ignore_not_found: bool,
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run(args: DeleteArgs) -> anyhow::Result<ExitCode> {
    Ok(cli::run(delete(args)))
}

async fn delete(args: DeleteArgs) -> Result<ExitCode, CliError> {
    let refs = resource::parse_refs(&args.args)?;
    let timeout = match cli::parse_timeout(&args.timeout).map_err(CliError::Usage)? {
        t if t.is_zero() => cli::A_WEEK,
        t => t,
    };
    if refs.names.is_empty() && args.selector.is_none() {
        return Err(CliError::Usage(
            "resource(s) were provided, but no name was specified (name them, or use -l)".into(),
        ));
    }
    let ctx = Ctx::connect(&args.client, true).await?;
    let ns = ctx.namespace.clone();
    let mut names = refs.names.clone();
    if let Some(sel) = &args.selector {
        let path = with_query(
            &resource::collection_path(refs.info, Some(&ns)),
            &[("labelSelector", sel.clone())],
        );
        let list = ctx.get(&path).await?;
        names.extend(
            list["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_string)),
        );
        if names.is_empty() {
            eprintln!("No resources found");
        }
    }
    let options = json!({
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "propagationPolicy": args.cascade.policy(),
    });
    let mut deleted = Vec::new();
    let mut failures = Failures::default();
    for name in &names {
        let path = resource::object_path(refs.info, &ns, name);
        match ctx.delete(&path, &options).await {
            Ok(_) => {
                println!(
                    "{} \"{name}\" deleted",
                    resource::singular_qualified(refs.info)
                );
                deleted.push(name.clone());
            }
            Err(e) if e.is_not_found() && args.ignore_not_found => {}
            Err(e) => failures.note(e)?,
        }
    }
    if args.wait {
        for name in &deleted {
            super::wait::until(&ctx, &refs, &ns, name, timeout, |obj| Ok(obj.is_none())).await?;
        }
    }
    Ok(failures.exit_code())
}
