//! `runlet wait job/NAME --for=condition=complete|failed|delete [--timeout=30s]`: block until
//! the condition holds, as `kubectl wait` does, but give up at once when it can no longer hold
//! (a Job that failed never completes).
//!
//! The wait watches the one object (field selector `metadata.name`) from the revision it was
//! read at, so no change is missed between the read and the watch, and is bounded by
//! `--timeout`.

use crate::cli::resource::{self, Refs};
use crate::cli::{self, CliError, ClientArgs, Ctx, with_query};
use clap::Args;
use futures::{AsyncBufReadExt, StreamExt};
use runlet_api::resources::ResourceInfo;
use serde_json::Value;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args)]
pub struct WaitArgs {
    /// The objects: `job/NAME...` (or `TYPE NAME...`).
    #[arg(required = true, value_name = "TYPE/NAME")]
    args: Vec<String>,
    /// `condition=complete`, `condition=failed`, `condition=NAME=VALUE`, or `delete`.
    #[arg(long = "for", value_name = "CONDITION")]
    for_: String,
    /// How long to wait (`30s`, `5m`, `1h`): zero looks once, a negative one waits a week.
    #[arg(long, default_value = "30s", allow_hyphen_values = true)]
    timeout: String,
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run(args: WaitArgs) -> anyhow::Result<ExitCode> {
    Ok(cli::run(wait(args)))
}

/// What to wait for.
#[derive(Debug, Clone, PartialEq)]
enum Want {
    /// A status condition of this type (case-insensitive) with this status.
    Condition { type_: String, status: String },
    /// The object gone.
    Deleted,
}

fn parse_for(text: &str) -> Result<Want, CliError> {
    if text.eq_ignore_ascii_case("delete") {
        return Ok(Want::Deleted);
    }
    let Some(cond) = text.strip_prefix("condition=") else {
        return Err(CliError::Usage(format!(
            "unrecognized condition: {text:?} (use condition=complete, condition=failed or delete)"
        )));
    };
    let (type_, status) = match cond.split_once('=') {
        Some((t, s)) => (t, s),
        None => (cond, "True"),
    };
    if type_.is_empty() {
        return Err(CliError::Usage(format!("unrecognized condition: {text:?}")));
    }
    Ok(Want::Condition {
        type_: type_.to_string(),
        status: status.to_string(),
    })
}

/// The status of condition `type_` (case-insensitive), if the object has it.
fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| {
        c["type"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case(type_))
    })
}

/// Whether `want` holds for `obj` (`None`: the object is gone); an error when it never will.
fn check(
    info: &ResourceInfo,
    name: &str,
    want: &Want,
    obj: Option<&Value>,
) -> Result<bool, CliError> {
    match (want, obj) {
        (Want::Deleted, None) => Ok(true),
        (Want::Deleted, Some(_)) => Ok(false),
        (Want::Condition { .. }, None) => Err(CliError::Impossible(format!(
            "{} was deleted while waiting for it",
            resource::ref_name(info, name)
        ))),
        (Want::Condition { type_, status }, Some(obj)) => {
            if condition(obj, type_)
                .and_then(|c| c["status"].as_str())
                .is_some_and(|s| s.eq_ignore_ascii_case(status))
            {
                return Ok(true);
            }
            // A finished Job's conditions never change again.
            if info.kind == "Job" && status.eq_ignore_ascii_case("true") {
                let finished = |t: &str| {
                    condition(obj, t)
                        .filter(|c| c["status"] == "True")
                        .map(|c| {
                            format!(
                                "{}: {}",
                                c["reason"].as_str().unwrap_or(""),
                                c["message"].as_str().unwrap_or("")
                            )
                        })
                };
                let other = if type_.eq_ignore_ascii_case("complete") {
                    finished("Failed").map(|why| ("failed", why, "complete"))
                } else if type_.eq_ignore_ascii_case("failed") {
                    finished("Complete").map(|why| ("completed", why, "fail"))
                } else {
                    None
                };
                if let Some((happened, why, never)) = other {
                    return Err(CliError::Impossible(format!(
                        "{} {happened} ({why}), so it will never {never}",
                        resource::ref_name(info, name)
                    )));
                }
            }
            Ok(false)
        }
    }
}

/// Waits for each named object in turn, each within the timeout, as kubectl's `wait` does; the
/// first that fails ends the wait.
async fn wait(args: WaitArgs) -> Result<ExitCode, CliError> {
    let refs = resource::parse_refs(&args.args)?;
    let want = parse_for(&args.for_)?;
    let timeout = cli::parse_timeout(&args.timeout).map_err(CliError::Usage)?;
    let ctx = Ctx::connect(&args.client, true).await?;
    for name in &refs.names {
        if matches!(want, Want::Condition { .. }) {
            // A condition of an object that does not exist is an error at once, in the API's
            // words (NotFound), as kubectl's; "deleted while waiting" is for one that goes
            // away.
            ctx.get(&resource::object_path(refs.info, &ctx.namespace, name))
                .await?;
        }
        until(&ctx, &refs, &ctx.namespace, name, timeout, |obj| {
            check(refs.info, name, &want, obj)
        })
        .await?;
        println!("{} condition met", resource::ref_name(refs.info, name));
    }
    Ok(ExitCode::SUCCESS)
}

/// Waits, bounded by `timeout`, until `done` says the object (`None` once it is gone) is as
/// wanted; `done` may also give up with an error. A zero timeout looks once, as kubectl's.
pub async fn until(
    ctx: &Ctx,
    refs: &Refs,
    namespace: &str,
    name: &str,
    timeout: Duration,
    mut done: impl FnMut(Option<&Value>) -> Result<bool, CliError>,
) -> Result<(), CliError> {
    let what = format!("{}/{name}", refs.info.plural);
    if timeout.is_zero() {
        let path = resource::object_path(refs.info, namespace, name);
        let current = match ctx.get(&path).await {
            Ok(obj) => Some(obj),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e),
        };
        return match done(current.as_ref())? {
            true => Ok(()),
            false => Err(CliError::NotMet(what)),
        };
    }
    let waited = tokio::time::timeout(timeout, async {
        loop {
            // Read the current state; watch from its revision so nothing is missed.
            let path = resource::object_path(refs.info, namespace, name);
            let (current, rv) = match ctx.get(&path).await {
                Ok(obj) => {
                    let rv = obj["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    (Some(obj), rv)
                }
                Err(e) if e.is_not_found() => (None, String::new()),
                Err(e) => return Err(e),
            };
            if done(current.as_ref())? {
                return Ok(());
            }
            let Some(current) = current else {
                // Gone but not what was wanted: `done` decides; look again shortly.
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            let uid = current["metadata"]["uid"].clone();
            let watch_path = with_query(
                &resource::collection_path(refs.info, Some(namespace)),
                &[
                    ("watch", "true".into()),
                    ("resourceVersion", rv),
                    ("fieldSelector", format!("metadata.name={name}")),
                    ("timeoutSeconds", "60".into()),
                ],
            );
            let req = cli::request("GET", &watch_path, None, None)?;
            let stream = ctx
                .client
                .request_stream(req)
                .await
                .map_err(|e| ctx.err(e))?;
            let mut lines = stream.lines();
            while let Some(Ok(line)) = lines.next().await {
                let Ok(event) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                let obj = &event["object"];
                match event["type"].as_str().unwrap_or("") {
                    "ADDED" | "MODIFIED" if obj["metadata"]["uid"] == uid && done(Some(obj))? => {
                        return Ok(());
                    }
                    "DELETED" if obj["metadata"]["uid"] == uid && done(None)? => {
                        return Ok(());
                    }
                    "ERROR" => break,
                    _ => {}
                }
            }
        }
    })
    .await;
    match waited {
        Ok(result) => result,
        Err(_) => Err(CliError::Timeout(what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jobs() -> &'static ResourceInfo {
        resource::resolve("jobs").expect("jobs")
    }

    #[test]
    fn for_flag_parses_kubectl_forms() {
        assert_eq!(
            parse_for("condition=complete").ok(),
            Some(Want::Condition {
                type_: "complete".into(),
                status: "True".into()
            })
        );
        assert_eq!(
            parse_for("condition=Suspended=false").ok(),
            Some(Want::Condition {
                type_: "Suspended".into(),
                status: "false".into()
            })
        );
        assert_eq!(parse_for("delete").ok(), Some(Want::Deleted));
        assert!(parse_for("jsonpath={.x}").is_err());
    }

    #[test]
    fn condition_types_match_case_insensitively_like_kubectl() {
        let job = json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        let want = parse_for("condition=complete").expect("parses");
        assert!(matches!(check(jobs(), "pi", &want, Some(&job)), Ok(true)));
    }

    #[test]
    fn waiting_for_complete_on_a_failed_job_gives_up_with_the_reason() {
        let job = json!({"status": {"conditions": [
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}
        ]}});
        let want = parse_for("condition=complete").expect("parses");
        let err = check(jobs(), "pi", &want, Some(&job))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "error: job.batch/pi failed (BackoffLimitExceeded: Job has reached the specified backoff limit), so it will never complete"
            )
        );
    }

    #[test]
    fn a_deleted_object_satisfies_delete_and_fails_conditions() {
        assert!(matches!(
            check(jobs(), "pi", &Want::Deleted, None),
            Ok(true)
        ));
        let want = parse_for("condition=complete").expect("parses");
        assert!(check(jobs(), "pi", &want, None).is_err());
    }
}
