//! `runlet get TYPE [NAME...]`: list or show objects with the server's own Table columns,
//! as `kubectl get` does, and `--watch` their changes.
//!
//! Tables are asked of the server (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`),
//! so the columns are exactly what `kubectl get` shows against the same server; `-o json|yaml`
//! prints the objects, `-o name` their `TYPE/NAME`. Lists are read in chunks of 500 as kubectl
//! reads them.

use crate::cli::output::{self, Format, TableOptions};
use crate::cli::resource::{self, Refs};
use crate::cli::tabwriter::TabWriter;
use crate::cli::{self, CliError, ClientArgs, Ctx, Failures, TABLE_ACCEPT, with_query};
use clap::Args;
use futures::{AsyncBufReadExt, StreamExt};
use runlet_api::resources::ResourceInfo;
use serde_json::{Value, json};
use std::io::Write;
use std::process::ExitCode;

#[derive(Args)]
pub struct GetArgs {
    /// What to show: `TYPE [NAME...]` or `TYPE/NAME...` (jobs, cronjobs, pods, nodes, events, ...).
    #[arg(required = true, value_name = "TYPE [NAME...]")]
    args: Vec<String>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Table)]
    output: Format,
    /// Label selector (`app=web,tier!=db`).
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// Field selector (`status.phase=Running`).
    #[arg(long)]
    field_selector: Option<String>,
    /// List across all namespaces.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// After listing, watch for changes.
    #[arg(short = 'w', long)]
    watch: bool,
    /// Leave out the header line.
    #[arg(long)]
    no_headers: bool,
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run(args: GetArgs) -> anyhow::Result<ExitCode> {
    Ok(cli::run(get(args)))
}

async fn get(args: GetArgs) -> Result<ExitCode, CliError> {
    if let Some(first) = args.args.first().filter(|f| !f.contains('/')) {
        let infos = resource::resolve_many(first)?;
        if infos.len() > 1 {
            return get_many(&args, infos).await;
        }
    }
    let refs = resource::parse_refs(&args.args)?;
    if args.all_namespaces && !refs.names.is_empty() {
        return Err(CliError::Usage(
            "a resource cannot be retrieved by name across all namespaces".into(),
        ));
    }
    if args.watch && refs.names.len() > 1 {
        return Err(CliError::Usage(
            "you may only specify a single resource name with --watch".into(),
        ));
    }
    let ctx = Ctx::connect(&args.client, args.watch).await?;
    let namespace = (!args.all_namespaces).then(|| ctx.namespace.clone());
    let table = matches!(args.output, Format::Table | Format::Wide);
    let opts = TableOptions {
        wide: args.output == Format::Wide,
        with_namespace: args.all_namespaces && refs.info.namespaced,
        no_headers: args.no_headers,
        with_kind: None,
    };
    let mut tw = TabWriter::for_tables();
    let mut failures = Failures::default();
    let (objects, rv) = fetch(
        &ctx,
        &refs,
        namespace.as_deref(),
        &args,
        table,
        &mut failures,
    )
    .await?;
    let rows = if table {
        let n = output::write_table(&mut tw, &objects, &opts, true);
        print!("{}", tw.flush());
        n
    } else {
        print_objects(&refs, &objects, args.output, refs.names.len() == 1)?;
        objects["items"].as_array().map_or(0, Vec::len)
    };
    if rows == 0 && refs.names.is_empty() {
        no_resources(namespace.as_deref(), refs.info.namespaced);
    }
    let _ = std::io::stdout().flush();
    if args.watch {
        watch(
            &ctx,
            &refs,
            namespace.as_deref(),
            &args,
            rv,
            &mut tw,
            &opts,
            rows > 0,
        )
        .await?;
    }
    Ok(failures.exit_code())
}

/// kubectl's note on stderr when a list is empty.
fn no_resources(namespace: Option<&str>, namespaced: bool) {
    match namespace {
        Some(ns) if namespaced => eprintln!("No resources found in {ns} namespace."),
        _ => eprintln!("No resources found"),
    }
}

/// `get jobs,pods` or `get all`: one table per type, names prefixed by their type and a blank
/// line between tables, as kubectl prints them; one `List` for `-o json|yaml`.
async fn get_many(args: &GetArgs, infos: Vec<&'static ResourceInfo>) -> Result<ExitCode, CliError> {
    if args.args.len() > 1 {
        return Err(CliError::Usage(
            "name objects of one type at a time (TYPE NAME... or TYPE/NAME...)".into(),
        ));
    }
    if args.watch {
        return Err(CliError::Usage(
            "watch is only supported on a single resource type".into(),
        ));
    }
    let ctx = Ctx::connect(&args.client, false).await?;
    let namespace = (!args.all_namespaces).then(|| ctx.namespace.clone());
    let table = matches!(args.output, Format::Table | Format::Wide);
    let (mut total, mut printed, mut items) = (0, false, Vec::new());
    for info in infos {
        let refs = Refs {
            info,
            names: Vec::new(),
        };
        let mut no_names = Failures::default();
        let (objects, _) = fetch(
            &ctx,
            &refs,
            namespace.as_deref(),
            args,
            table,
            &mut no_names,
        )
        .await?;
        if table {
            let opts = TableOptions {
                wide: args.output == Format::Wide,
                with_namespace: args.all_namespaces && info.namespaced,
                no_headers: args.no_headers,
                with_kind: Some(resource::singular_qualified(info)),
            };
            let mut tw = TabWriter::for_tables();
            let rows = output::write_table(&mut tw, &objects, &opts, true);
            if rows > 0 {
                if printed && !args.no_headers {
                    println!();
                }
                print!("{}", tw.flush());
                printed = true;
            }
            total += rows;
        } else if args.output == Format::Name {
            print_objects(&refs, &objects, Format::Name, false)?;
            total += objects["items"].as_array().map_or(0, Vec::len);
        } else {
            let list = objects["items"].as_array().cloned().unwrap_or_default();
            total += list.len();
            items.extend(list.into_iter().map(|i| output::with_type(info, i)));
        }
    }
    match args.output {
        Format::Json => print!("{}", output::to_json(&output::as_list(items))),
        Format::Yaml => print!("{}", output::to_yaml(&output::as_list(items))?),
        _ => {}
    }
    if total == 0 {
        no_resources(namespace.as_deref(), true);
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads the named objects, or the list, as one Table (or as `{"items": [...]}`); returns the
/// resourceVersion to watch from.
async fn fetch(
    ctx: &Ctx,
    refs: &Refs,
    namespace: Option<&str>,
    args: &GetArgs,
    table: bool,
    failures: &mut Failures,
) -> Result<(Value, String), CliError> {
    let mut columns = Value::Null;
    let mut rows: Vec<Value> = Vec::new();
    let mut rv = String::new();
    if !refs.names.is_empty() {
        let ns = namespace.unwrap_or(&ctx.namespace);
        for name in &refs.names {
            let path = resource::object_path(refs.info, ns, name);
            let got = if table {
                ctx.get_table(&path).await
            } else {
                ctx.get(&path).await
            };
            let v = match got {
                Ok(v) => v,
                Err(e) => {
                    failures.note(e)?;
                    continue;
                }
            };
            if table {
                if columns.is_null() {
                    columns = v["columnDefinitions"].clone();
                }
                rows.extend(v["rows"].as_array().cloned().unwrap_or_default());
                rv = v["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
            } else {
                rv = v["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                rows.push(v);
            }
        }
    } else {
        let mut cont = String::new();
        loop {
            let path = with_query(
                &resource::collection_path(refs.info, namespace),
                &[
                    ("labelSelector", args.selector.clone().unwrap_or_default()),
                    (
                        "fieldSelector",
                        args.field_selector.clone().unwrap_or_default(),
                    ),
                    ("limit", "500".into()),
                    ("continue", cont.clone()),
                ],
            );
            let v = if table {
                ctx.get_table(&path).await?
            } else {
                ctx.get(&path).await?
            };
            if table && columns.is_null() {
                columns = v["columnDefinitions"].clone();
            }
            let key = if table { "rows" } else { "items" };
            rows.extend(v[key].as_array().cloned().unwrap_or_default());
            rv = v["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or("")
                .to_string();
            cont = v["metadata"]["continue"].as_str().unwrap_or("").to_string();
            if cont.is_empty() {
                break;
            }
        }
    }
    let out = if table {
        json!({"columnDefinitions": columns, "rows": rows})
    } else {
        json!({"items": rows})
    };
    Ok((out, rv))
}

/// Prints objects as `-o` asks: one object alone when one name was asked for (`single`), a
/// `List` otherwise, as kubectl.
fn print_objects(
    refs: &Refs,
    objects: &Value,
    format: Format,
    single: bool,
) -> Result<(), CliError> {
    let items: Vec<Value> = objects["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|i| output::with_type(refs.info, i))
        .collect();
    match format {
        Format::Name => {
            for i in &items {
                println!(
                    "{}",
                    resource::ref_name(refs.info, i["metadata"]["name"].as_str().unwrap_or(""))
                );
            }
        }
        Format::Json | Format::Yaml => {
            let doc = match items.as_slice() {
                [one] if single => one.clone(),
                _ => output::as_list(items),
            };
            if format == Format::Json {
                print!("{}", output::to_json(&doc));
            } else {
                print!("{}", output::to_yaml(&doc)?);
            }
        }
        Format::Table | Format::Wide => {}
    }
    Ok(())
}

/// Follows changes from `rv`, printing each changed object as kubectl's `get -w` does; starts
/// over from a fresh list when the server has compacted past `rv`.
#[allow(clippy::too_many_arguments)]
async fn watch(
    ctx: &Ctx,
    refs: &Refs,
    namespace: Option<&str>,
    args: &GetArgs,
    mut rv: String,
    tw: &mut TabWriter,
    opts: &TableOptions,
    mut header_printed: bool,
) -> Result<(), CliError> {
    let table = matches!(args.output, Format::Table | Format::Wide);
    let mut fields = args.field_selector.clone().unwrap_or_default();
    if let Some(name) = refs.names.first() {
        if !fields.is_empty() {
            fields.push(',');
        }
        fields.push_str(&format!("metadata.name={name}"));
    }
    let mut columns = Value::Null;
    loop {
        let path = with_query(
            &resource::collection_path(refs.info, namespace),
            &[
                ("watch", "true".into()),
                ("resourceVersion", rv.clone()),
                ("allowWatchBookmarks", "true".into()),
                ("labelSelector", args.selector.clone().unwrap_or_default()),
                ("fieldSelector", fields.clone()),
            ],
        );
        let req = cli::request("GET", &path, table.then_some(TABLE_ACCEPT), None)?;
        let stream = ctx
            .client
            .request_stream(req)
            .await
            .map_err(|e| ctx.err(e))?;
        let mut lines = stream.lines();
        while let Some(line) = lines.next().await {
            let line = line.map_err(|e| CliError::Other(format!("reading the watch: {e}")))?;
            let Ok(event) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let object = &event["object"];
            match event["type"].as_str().unwrap_or("") {
                "BOOKMARK" => {
                    if let Some(v) = object["metadata"]["resourceVersion"].as_str() {
                        rv = v.to_string();
                    }
                    continue;
                }
                "ERROR" => {
                    if object["code"].as_u64() == Some(410) {
                        // Compacted past our revision: list again and go on from there.
                        let mut failures = Failures::default();
                        let (_, fresh) =
                            fetch(ctx, refs, namespace, args, false, &mut failures).await?;
                        rv = fresh;
                        break;
                    }
                    let status: kube::core::Status = serde_json::from_value(object.clone())
                        .map_err(|e| CliError::Other(e.to_string()))?;
                    return Err(CliError::Api(Box::new(status)));
                }
                _ => {}
            }
            if table {
                let mut t = if object["kind"] == "Table" {
                    object.clone()
                } else {
                    runlet_api::table::to_table(
                        refs.info,
                        std::slice::from_ref(object),
                        chrono::Utc::now().timestamp(),
                    )
                };
                if t["columnDefinitions"].is_array() {
                    columns = t["columnDefinitions"].clone();
                } else {
                    t["columnDefinitions"] = columns.clone();
                }
                if let Some(v) = t["rows"][0]["object"]["metadata"]["resourceVersion"].as_str() {
                    rv = v.to_string();
                }
                let rows = output::write_table(tw, &t, opts, !header_printed);
                header_printed |= rows > 0;
                print!("{}", tw.flush());
            } else {
                if let Some(v) = object["metadata"]["resourceVersion"].as_str() {
                    rv = v.to_string();
                }
                let objects = json!({"items": [object]});
                print_objects(refs, &objects, args.output, true)?;
            }
            let _ = std::io::stdout().flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::fixtures;

    /// Snapshots hide uids (the wide SELECTOR column shows them).
    fn settings() -> insta::Settings {
        let mut s = insta::Settings::clone_current();
        s.add_filter(
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[uid]",
        );
        s
    }

    fn table(kind: &str, objects: &[Value]) -> Value {
        let info = resource::resolve(kind).expect("known kind");
        runlet_api::table::to_table(info, objects, fixtures::NOW)
    }

    #[test]
    fn get_jobs_table_matches_kubectl_columns() {
        let t = table("jobs", &fixtures::jobs());
        insta::assert_snapshot!(
            "get_jobs",
            output::render_table(&t, &TableOptions::default())
        );
    }

    #[test]
    fn get_jobs_wide_all_namespaces_adds_namespace_and_wide_columns() {
        let t = table("jobs", &fixtures::jobs());
        let opts = TableOptions {
            wide: true,
            with_namespace: true,
            no_headers: false,
            with_kind: None,
        };
        let text = output::render_table(&t, &opts);
        settings().bind(|| insta::assert_snapshot!("get_jobs_wide_all", text));
    }

    #[test]
    fn get_cronjobs_and_pods_tables() {
        let cj = table("cronjobs", &[fixtures::cronjob()]);
        let pods = table("pods", &[fixtures::succeeded_pod()]);
        let text = format!(
            "{}\n{}",
            output::render_table(&cj, &TableOptions::default()),
            output::render_table(&pods, &TableOptions::default())
        );
        insta::assert_snapshot!("get_cronjobs_pods", text);
    }

    #[test]
    fn get_events_table() {
        let t = table("events", &fixtures::repeated_events());
        insta::assert_snapshot!(
            "get_events",
            output::render_table(&t, &TableOptions::default())
        );
    }

    #[test]
    fn several_types_prefix_names_with_their_type() {
        let t = table("jobs", &fixtures::jobs());
        let opts = TableOptions {
            with_kind: Some("job.batch".into()),
            ..TableOptions::default()
        };
        let text = output::render_table(&t, &opts);
        assert!(text.contains("\njob.batch/hello-job "), "{text}");
        assert!(text.starts_with("NAME "), "{text}");
    }

    #[test]
    fn no_headers_leaves_only_rows() {
        let t = table("jobs", &fixtures::jobs());
        let opts = TableOptions {
            no_headers: true,
            ..TableOptions::default()
        };
        let text = output::render_table(&t, &opts);
        assert!(text.starts_with("hello-job"), "{text}");
        assert_eq!(text.lines().count(), 2);
    }
}
