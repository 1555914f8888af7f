//! `runlet resume job/NAME|cronjob/NAME`: clear `spec.suspend`, so a suspended Job starts its
//! pods again and a suspended CronJob schedules again.

use super::suspend::{SuspendArgs, set};
use crate::cli;
use std::process::ExitCode;

/// The same arguments as `suspend`.
pub type ResumeArgs = SuspendArgs;

pub fn run(args: ResumeArgs) -> anyhow::Result<ExitCode> {
    Ok(cli::run(set(args, false)))
}
