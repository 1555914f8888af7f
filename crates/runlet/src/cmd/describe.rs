//! `runlet describe job|cronjob|pod [NAME...]`: one object in the layout of `kubectl
//! describe`, with the events that name it (core/v1 Events selected by `involvedObject`).

use crate::cli::describe::{self, Clock};
use crate::cli::resource;
use crate::cli::{self, CliError, ClientArgs, Ctx, Failures, with_query};
use clap::Args;
use k8s_openapi::api::core::v1::Event;
use serde_json::Value;
use std::process::ExitCode;

#[derive(Args)]
pub struct DescribeArgs {
    /// `job NAME`, `cronjob/NAME`, `pod NAME`...; without a name, every object of the type.
    #[arg(required = true, value_name = "TYPE [NAME...]")]
    args: Vec<String>,
    /// Describe the objects matching this label selector.
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// Show the events about each object.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    show_events: bool,
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run(args: DescribeArgs) -> anyhow::Result<ExitCode> {
    Ok(cli::run(describe_all(args)))
}

async fn describe_all(args: DescribeArgs) -> Result<ExitCode, CliError> {
    let refs = resource::parse_refs(&args.args)?;
    resource::expect_kind(&refs, &["Job", "CronJob", "Pod"], "describe")?;
    let ctx = Ctx::connect(&args.client, false).await?;
    let ns = ctx.namespace.clone();
    let mut failures = Failures::default();
    let objects: Vec<Value> = if refs.names.is_empty() {
        let path = with_query(
            &resource::collection_path(refs.info, Some(&ns)),
            &[("labelSelector", args.selector.clone().unwrap_or_default())],
        );
        let list = ctx.get(&path).await?;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            eprintln!("No resources found in {ns} namespace.");
        }
        items
    } else {
        let mut out = Vec::new();
        for name in &refs.names {
            match ctx.get(&resource::object_path(refs.info, &ns, name)).await {
                Ok(obj) => out.push(obj),
                Err(e) => failures.note(e)?,
            }
        }
        out
    };
    let clock = Clock::system();
    for (i, obj) in objects.iter().enumerate() {
        let events = if args.show_events {
            Some(events_about(&ctx, obj, refs.info.kind).await?)
        } else {
            None
        };
        let text = render(refs.info.kind, obj, events.as_deref(), &clock)?;
        if i > 0 {
            println!("\n");
        }
        print!("{text}");
    }
    Ok(failures.exit_code())
}

fn render(
    kind: &str,
    obj: &Value,
    events: Option<&[Event]>,
    clock: &Clock,
) -> Result<String, CliError> {
    let bad = |e: serde_json::Error| CliError::Other(format!("decoding the {kind}: {e}"));
    Ok(match kind {
        "Job" => describe::job(
            &serde_json::from_value(obj.clone()).map_err(bad)?,
            events,
            clock,
        ),
        "CronJob" => describe::cronjob(
            &serde_json::from_value(obj.clone()).map_err(bad)?,
            events,
            clock,
        ),
        _ => describe::pod(
            &serde_json::from_value(obj.clone()).map_err(bad)?,
            events,
            clock,
        ),
    })
}

/// The core/v1 Events whose `involvedObject` is `obj` (kubectl's `searchEvents`: name,
/// namespace, uid, and the kind except for pods, whose references carry none).
pub async fn events_about(ctx: &Ctx, obj: &Value, kind: &str) -> Result<Vec<Event>, CliError> {
    let meta = &obj["metadata"];
    let ns = meta["namespace"].as_str().unwrap_or(&ctx.namespace);
    let mut fields = vec![
        format!(
            "involvedObject.name={}",
            meta["name"].as_str().unwrap_or("")
        ),
        format!("involvedObject.namespace={ns}"),
    ];
    if let Some(uid) = meta["uid"].as_str() {
        fields.push(format!("involvedObject.uid={uid}"));
    }
    if kind != "Pod" {
        fields.push(format!("involvedObject.kind={kind}"));
    }
    let path = with_query(
        &format!("/api/v1/namespaces/{ns}/events"),
        &[("fieldSelector", fields.join(","))],
    );
    let list = ctx.get(&path).await?;
    Ok(list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| serde_json::from_value(e).ok())
        .collect())
}
