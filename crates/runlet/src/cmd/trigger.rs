//! `runlet trigger cronjob/NAME`: run a CronJob now, as `kubectl create job --from=cronjob/NAME`
//! does: a Job from the CronJob's template, annotated `cronjob.kubernetes.io/instantiate:
//! manual` and owned by the CronJob (built by `runlet_api::cronjob::job_from_cronjob`, the
//! code the CronJob controller uses, so the two cannot drift).

use crate::cli::output::{self, Format};
use crate::cli::resource;
use crate::cli::{self, CliError, ClientArgs, Ctx};
use clap::Args;
use k8s_openapi::api::batch::v1::CronJob;
use std::process::ExitCode;

#[derive(Args)]
pub struct TriggerArgs {
    /// The CronJob to run now: `cronjob/NAME`.
    #[arg(required = true, value_name = "cronjob/NAME")]
    args: Vec<String>,
    /// The new Job's name (default: `NAME-manual-xxxxx`).
    #[arg(long)]
    name: Option<String>,
    /// Output format of the created Job (`name`, `json`, `yaml`).
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Table)]
    output: Format,
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run(args: TriggerArgs) -> anyhow::Result<ExitCode> {
    Ok(cli::run(trigger(args)))
}

async fn trigger(args: TriggerArgs) -> Result<ExitCode, CliError> {
    let refs = resource::parse_refs(&args.args)?;
    resource::expect_kind(&refs, &["CronJob"], "trigger")?;
    let [name] = refs.names.as_slice() else {
        return Err(CliError::Usage(
            "name exactly one CronJob to trigger, e.g. cronjob/nightly".into(),
        ));
    };
    let ctx = Ctx::connect(&args.client, false).await?;
    let value = ctx
        .get(&resource::object_path(refs.info, &ctx.namespace, name))
        .await?;
    let cronjob: CronJob = serde_json::from_value(value)
        .map_err(|e| CliError::Other(format!("decoding cronjob {name}: {e}")))?;
    let job_name = args.name.clone().unwrap_or_else(|| manual_name(name));
    let job = runlet_api::cronjob::job_from_cronjob(&cronjob, &job_name, true, None);
    let jobs = resource::resolve("jobs")?;
    let body = serde_json::to_value(&job).map_err(|e| CliError::Other(e.to_string()))?;
    let created = ctx
        .write(
            "POST",
            &resource::collection_path(jobs, Some(&ctx.namespace)),
            "application/json",
            &body,
        )
        .await?;
    output::print_object(
        jobs,
        &created,
        args.output,
        &format!("{} created", resource::ref_name(jobs, &job_name)),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `NAME-manual-xxxxx`, with NAME cut so the result fits a 63-character label value.
fn manual_name(cronjob: &str) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    let suffix: String = (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    let base: String = cronjob.chars().take(63 - "-manual-".len() - 5).collect();
    format!("{}-manual-{suffix}", base.trim_end_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_names_fit_a_label_value() {
        let n = manual_name(&"c".repeat(52));
        assert!(n.len() <= 63, "{n}");
        assert!(manual_name("nightly").starts_with("nightly-manual-"));
    }
}
