//! `runlet logs pod/NAME|job/NAME [-c C] [-f] [--previous] [--tail N] [--timestamps]`: logs
//! through the API's `pods/log` subresource.
//!
//! For a pod it prints the container's log as kubectl does (the default container when there
//! are several). For a Job it prints every pod's logs, oldest pod first, each line prefixed by
//! `[POD #INDEX]` (the completion index of Indexed Jobs; and the container when there are
//! several), coloured on a terminal — including pods already deleted, whose logs it reads
//! through their `runlet.dev/v1` PodRecords (`podrecords/{name}/log`), kept until the Job is
//! deleted. With `-f` it prints those, then follows every pod at once, picks up pods the Job
//! starts later (retries, further completions), and returns once the Job has finished and its
//! pods' logs have ended.

use crate::cli::describe::selector_string;
use crate::cli::output;
use crate::cli::resource;
use crate::cli::{self, CliError, ClientArgs, Ctx, with_query};
use clap::Args;
use futures::AsyncBufReadExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;
use std::collections::HashSet;
use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The annotation naming a pod's default container for `logs` and `exec`.
const DEFAULT_CONTAINER: &str = "kubectl.kubernetes.io/default-container";
/// The annotation carrying an Indexed Job pod's completion index.
const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";

#[derive(Args, Clone)]
pub struct LogsArgs {
    /// `pod/NAME`, `job/NAME`, or a pod's NAME.
    #[arg(value_name = "TYPE/NAME")]
    target: String,
    /// The container (default: the pod's default or only container; for a Job, all).
    #[arg(short = 'c', long)]
    container: Option<String>,
    /// Follow the logs as they are written.
    #[arg(short = 'f', long)]
    follow: bool,
    /// The previous (crashed) instance of the container.
    #[arg(short = 'p', long)]
    previous: bool,
    /// Only the last N lines of each log (-1: all).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    tail: i64,
    /// Prefix each line with its RFC 3339 timestamp.
    #[arg(long)]
    timestamps: bool,
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run(args: LogsArgs) -> anyhow::Result<ExitCode> {
    Ok(cli::run(logs(args)))
}

async fn logs(args: LogsArgs) -> Result<ExitCode, CliError> {
    let (kind, name) = match args.target.split_once('/') {
        Some((t, n)) => (resource::resolve(t)?.kind, n.to_string()),
        None => ("Pod", args.target.clone()),
    };
    let ctx = Ctx::connect(&args.client, args.follow).await?;
    match kind {
        "Pod" => pod_logs(&ctx, &name, &args).await,
        "Job" => job_logs(&ctx, &name, &args).await,
        other => Err(CliError::Usage(format!(
            "cannot get logs of a {other}: name a pod or a job"
        ))),
    }
}

/// The `pods/log` path for one container.
fn log_path(ns: &str, pod: &str, container: &str, args: &LogsArgs, follow: bool) -> String {
    log_query(
        &format!("/api/v1/namespaces/{ns}/pods/{pod}/log"),
        container,
        args,
        follow,
    )
}

/// The `podrecords/log` path for one container of a deleted pod.
fn record_log_path(ns: &str, record: &str, container: &str, args: &LogsArgs) -> String {
    log_query(
        &format!("/apis/runlet.dev/v1/namespaces/{ns}/podrecords/{record}/log"),
        container,
        args,
        false,
    )
}

fn log_query(path: &str, container: &str, args: &LogsArgs, follow: bool) -> String {
    let flag = |b: bool| if b { "true".to_string() } else { String::new() };
    with_query(
        path,
        &[
            ("container", container.to_string()),
            ("follow", flag(follow)),
            ("previous", flag(args.previous)),
            (
                "tailLines",
                if args.tail >= 0 {
                    args.tail.to_string()
                } else {
                    String::new()
                },
            ),
            ("timestamps", flag(args.timestamps)),
        ],
    )
}

/// Streams one container's log to stdout, each line prefixed by `prefix` (may be empty).
async fn stream_log(ctx: &Ctx, path: &str, prefix: &str) -> Result<(), CliError> {
    let req = cli::request("GET", path, None, None)?;
    let stream = ctx
        .client
        .request_stream(req)
        .await
        .map_err(|e| ctx.err(e))?;
    // Bytes, as kubectl copies them: a line that is not UTF-8 is passed on as it is.
    let mut stream = std::pin::pin!(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = stream
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| CliError::Other(format!("reading the log: {e}")))?;
        if n == 0 {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(prefix.as_bytes());
        let _ = out.write_all(&line);
        if !line.ends_with(b"\n") {
            let _ = out.write_all(b"\n");
        }
        let _ = out.flush();
    }
}

async fn pod_logs(ctx: &Ctx, name: &str, args: &LogsArgs) -> Result<ExitCode, CliError> {
    let ns = &ctx.namespace;
    let container = match &args.container {
        Some(c) => c.clone(),
        None => {
            let pod = ctx
                .get(&format!("/api/v1/namespaces/{ns}/pods/{name}"))
                .await?;
            default_container(&pod)
        }
    };
    stream_log(ctx, &log_path(ns, name, &container, args, args.follow), "").await?;
    Ok(ExitCode::SUCCESS)
}

/// kubectl's choice: the `default-container` annotation, else the first container; says so
/// on stderr when the pod has others (init and ephemeral ones too), in kubectl's words.
pub(crate) fn default_container(pod: &Value) -> String {
    let (chosen, notice) = choose_default_container(pod);
    if let Some(notice) = notice {
        eprintln!("{notice}");
    }
    chosen
}

/// [`default_container`]'s choice, and what it says about it.
fn choose_default_container(pod: &Value) -> (String, Option<String>) {
    let names = |key: &str| -> Vec<&str> {
        pod["spec"][key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str())
            .collect()
    };
    let containers = names("containers");
    let annotated = pod["metadata"]["annotations"][DEFAULT_CONTAINER]
        .as_str()
        .filter(|a| containers.contains(a));
    let chosen = annotated
        .or_else(|| containers.first().copied())
        .unwrap_or("")
        .to_string();
    // As kubectl's `AllContainerNames`: regular, then ephemeral, then init containers.
    let mut all: Vec<String> = containers.iter().map(|c| c.to_string()).collect();
    all.extend(
        names("ephemeralContainers")
            .iter()
            .map(|c| format!("{c} (ephem)")),
    );
    all.extend(
        names("initContainers")
            .iter()
            .map(|c| format!("{c} (init)")),
    );
    let notice = (all.len() > 1 && annotated.is_none()).then(|| {
        format!(
            "Defaulted container \"{chosen}\" out of: {}",
            all.join(", ")
        )
    });
    (chosen, notice)
}

/// One container log of a Job to print.
#[derive(Clone)]
struct Source {
    pod: String,
    container: String,
    prefix: String,
}

/// The containers of `pod` to print, with their prefixes; `color` picks the pod's colour.
fn sources(pod: &Pod, only: Option<&str>, color_index: usize, color: bool) -> Vec<Source> {
    let index = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(COMPLETION_INDEX))
        .cloned();
    let containers: Vec<String> = pod
        .spec
        .as_ref()
        .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    labelled(&name, index, containers, only, color_index, color)
}

/// The containers of a deleted pod's record to print (the one asked for when the record is too
/// old to list them).
fn record_sources(rec: &Value, only: Option<&str>, color_index: usize, color: bool) -> Vec<Source> {
    let name = rec["metadata"]["name"].as_str().unwrap_or_default();
    let index = rec["completionIndex"].as_i64().map(|i| i.to_string());
    let mut containers: Vec<String> = rec["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect();
    if containers.is_empty()
        && let Some(o) = only
    {
        containers.push(o.to_string());
    }
    labelled(name, index, containers, only, color_index, color)
}

fn labelled(
    name: &str,
    index: Option<String>,
    containers: Vec<String>,
    only: Option<&str>,
    color_index: usize,
    color: bool,
) -> Vec<Source> {
    let index = index.map(|i| format!(" #{i}")).unwrap_or_default();
    let several = containers.len() > 1 && only.is_none();
    containers
        .into_iter()
        .filter(|c| only.is_none_or(|o| o == c))
        .map(|c| {
            let label = if several {
                format!("[{name}{index} {c}]")
            } else {
                format!("[{name}{index}]")
            };
            Source {
                pod: name.to_string(),
                prefix: format!("{} ", output::paint(&label, color_index, color)),
                container: c,
            }
        })
        .collect()
}

/// Whether the container has started (now or before), so it has a log to read.
fn started(pod: &Pod, container: &str) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .any(|cs| {
            cs.name == container
                && (cs
                    .state
                    .as_ref()
                    .is_some_and(|s| s.running.is_some() || s.terminated.is_some())
                    || cs
                        .last_state
                        .as_ref()
                        .is_some_and(|s| s.terminated.is_some()))
        })
}

/// The pods of `job`, oldest first.
pub(crate) async fn job_pods(ctx: &Ctx, job: &Job) -> Result<Vec<Pod>, CliError> {
    let selector = selector_string(job.spec.as_ref().and_then(|s| s.selector.as_ref()));
    let path = with_query(
        &format!("/api/v1/namespaces/{}/pods", ctx.namespace),
        &[("labelSelector", selector)],
    );
    let list = ctx.get(&path).await?;
    let mut pods: Vec<Pod> = list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| serde_json::from_value(p).ok())
        .collect();
    pods.sort_by(|a, b| {
        let key = |p: &Pod| {
            (
                p.metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0.as_second()),
                p.metadata.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    Ok(pods)
}

fn finished(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
}

/// The records of the Job's pods that are gone (their logs are read through the record),
/// oldest first; none when the server keeps no records.
async fn gone_pod_records(ctx: &Ctx, job: &Job, pods: &[Pod]) -> Vec<Value> {
    let Some(uid) = job.metadata.uid.as_deref() else {
        return Vec::new();
    };
    let path = with_query(
        &format!(
            "/apis/runlet.dev/v1/namespaces/{}/podrecords",
            ctx.namespace
        ),
        &[(
            "labelSelector",
            format!("batch.kubernetes.io/controller-uid={uid}"),
        )],
    );
    let Ok(list) = ctx.get(&path).await else {
        return Vec::new();
    };
    let present: HashSet<&str> = pods
        .iter()
        .filter_map(|p| p.metadata.uid.as_deref())
        .collect();
    let mut records: Vec<Value> = list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| {
            !present.contains(r["podUID"].as_str().unwrap_or_default())
                && r["nodeName"].as_str().is_some_and(|n| !n.is_empty())
        })
        .collect();
    records.sort_by(|a, b| {
        let key = |r: &Value| {
            (
                r["startTime"].as_str().unwrap_or_default().to_string(),
                r["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        };
        key(a).cmp(&key(b))
    });
    records
}

/// Prints the logs of the Job's deleted pods from their records; returns how many pods.
/// Prints the logs of the Job's deleted pods from their records; false when one of them could
/// not be read (said on stderr, the others printed all the same).
async fn print_gone_pods(ctx: &Ctx, records: &[Value], args: &LogsArgs, color: bool) -> bool {
    let mut all_read = true;
    for (i, rec) in records.iter().enumerate() {
        for s in record_sources(rec, args.container.as_deref(), i, color) {
            let p = record_log_path(&ctx.namespace, &s.pod, &s.container, args);
            if let Err(e) = stream_log(ctx, &p, &s.prefix).await {
                eprintln!("pod/{} (deleted): {e}", s.pod);
                all_read = false;
            }
        }
    }
    all_read
}

async fn job_logs(ctx: &Ctx, name: &str, args: &LogsArgs) -> Result<ExitCode, CliError> {
    let jobs = resource::resolve("jobs")?;
    let path = resource::object_path(jobs, &ctx.namespace, name);
    let job: Job = serde_json::from_value(ctx.get(&path).await?)
        .map_err(|e| CliError::Other(format!("decoding job {name}: {e}")))?;
    let color = output::color_stdout();
    let pods = job_pods(ctx, &job).await?;
    let gone = gone_pod_records(ctx, &job, &pods).await;
    let gone_read = print_gone_pods(ctx, &gone, args, color).await;
    let offset = gone.len();
    let exit = if gone_read {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    if !args.follow {
        if pods.is_empty() && gone.is_empty() {
            eprintln!("No pods found for job.batch/{name}");
        }
        for (i, pod) in pods.iter().enumerate() {
            for s in sources(pod, args.container.as_deref(), offset + i, color) {
                if !started(pod, &s.container) {
                    eprintln!(
                        "pod/{}: container {} has not started yet",
                        s.pod, s.container
                    );
                    continue;
                }
                let p = log_path(&ctx.namespace, &s.pod, &s.container, args, false);
                stream_log(ctx, &p, &s.prefix).await?;
            }
        }
        return Ok(exit);
    }
    follow_job(ctx, &path, job, pods, args, color, offset).await?;
    Ok(exit)
}

/// Follows every pod of the Job, present and future, until the Job has finished and every
/// log has ended (bounded: logs still open 30 s after the Job finished are cut).
async fn follow_job(
    ctx: &Ctx,
    job_path: &str,
    mut job: Job,
    initial: Vec<Pod>,
    args: &LogsArgs,
    color: bool,
    color_offset: usize,
) -> Result<(), CliError> {
    let streamed: Arc<Mutex<HashSet<(String, String)>>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    let mut seen_pods: Vec<String> = Vec::new();
    let mut start = |pod: &Pod, tasks: &mut tokio::task::JoinSet<()>| {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let index = match seen_pods.iter().position(|p| *p == name) {
            Some(i) => i,
            None => {
                seen_pods.push(name.clone());
                seen_pods.len() - 1
            }
        };
        for s in sources(pod, args.container.as_deref(), color_offset + index, color) {
            if !started(pod, &s.container) {
                continue;
            }
            let key = (s.pod.clone(), s.container.clone());
            if !streamed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key)
            {
                continue;
            }
            let (ctx, path) = (
                ctx.clone(),
                log_path(&ctx.namespace, &s.pod, &s.container, args, true),
            );
            tasks.spawn(async move {
                if let Err(e) = stream_log(&ctx, &path, &s.prefix).await {
                    eprintln!("{e}");
                }
            });
        }
    };
    for pod in &initial {
        start(pod, &mut tasks);
    }
    // Poll the Job and its pods; each round also picks up pods whose containers started.
    while !finished(&job) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        job = serde_json::from_value(ctx.get(job_path).await?)
            .map_err(|e| CliError::Other(format!("decoding the job: {e}")))?;
        for pod in job_pods(ctx, &job).await? {
            start(&pod, &mut tasks);
        }
    }
    // Pods that started in the last round still get their logs.
    for pod in job_pods(ctx, &job).await? {
        start(&pod, &mut tasks);
    }
    let drained = tokio::time::timeout(Duration::from_secs(30), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tasks.abort_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: Value) -> Pod {
        serde_json::from_value(v).expect("pod")
    }

    #[test]
    fn job_log_prefixes_carry_pod_name_index_and_container_when_several() {
        let p = pod(json!({
            "metadata": {"name": "render-2-abcde", "annotations": {COMPLETION_INDEX: "2"}},
            "spec": {"containers": [{"name": "main"}, {"name": "sidecar"}]}
        }));
        let prefixes: Vec<String> = sources(&p, None, 0, false)
            .into_iter()
            .map(|s| s.prefix)
            .collect();
        assert_eq!(
            prefixes,
            ["[render-2-abcde #2 main] ", "[render-2-abcde #2 sidecar] "]
        );
        let only = sources(&p, Some("main"), 0, false);
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].prefix, "[render-2-abcde #2] ");
        let plain =
            pod(json!({"metadata": {"name": "pi-x"}, "spec": {"containers": [{"name": "c"}]}}));
        assert_eq!(sources(&plain, None, 0, false)[0].prefix, "[pi-x] ");
    }

    #[test]
    fn default_container_follows_the_annotation_else_the_first() {
        let v = json!({
            "metadata": {"annotations": {DEFAULT_CONTAINER: "b"}},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}]}
        });
        assert_eq!(default_container(&v), "b");
        let v = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        assert_eq!(default_container(&v), "a");
        let with_init = serde_json::json!({"spec": {
            "containers": [{"name": "main"}],
            "initContainers": [{"name": "setup"}, {"name": "side"}],
        }});
        assert_eq!(
            choose_default_container(&with_init),
            (
                "main".to_string(),
                Some("Defaulted container \"main\" out of: main, setup (init), side (init)".into())
            ),
            "kubectl's words, init containers counted"
        );
    }
}
