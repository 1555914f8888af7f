//! `runlet run -f FILE`: run Jobs to completion in one command.
//!
//! Starts the whole system in-process on a temporary data directory (or `--data-dir`), or
//! talks to a running server (`--kubeconfig`), creates every document of FILE, and for each Job
//! shows live progress, streams its pods' logs prefixed with the pod name, and prints a
//! summary. A CronJob in FILE is created and run once now (as `kubectl create job --from`).
//! Exit status: 0 when every Job completed, 1 when one failed, 2 on bad input, 130 on Ctrl-C
//! (after the Jobs' pods were terminated gracefully).

use crate::cli::resource;
use crate::stack::{Stack, StackOptions};
use anyhow::Context;
use clap::Args;
use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ContainerStatus, Namespace, Pod};
use kube::api::{
    Api, DeleteParams, ListParams, LogParams, PostParams, PropagationPolicy, WatchEvent,
    WatchParams,
};
use runlet_api::resources;
use serde_json::Value;
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct RunArgs {
    /// The file to run: Jobs, CronJobs, ConfigMaps, Secrets, PVCs (YAML or JSON, several
    /// documents allowed; `-` reads standard input).
    #[arg(short = 'f', long = "filename")]
    file: PathBuf,
    /// Keep the embedded server's state here instead of a temporary directory.
    #[arg(long, env = "RUNLET_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Submit to a running server through this kubeconfig instead of starting one.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Namespace for documents that name none.
    #[arg(short, long, default_value = "default")]
    namespace: String,
    /// Do not stream the pods' logs.
    #[arg(short, long)]
    quiet: bool,
}

/// Why `runlet run` stops early.
#[derive(Debug, thiserror::Error)]
enum RunError {
    /// The file or an object in it is invalid: exit status 2.
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    crate::stack::init_tracing("warn");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let code = runtime.block_on(run_async(args));
    runtime.shutdown_timeout(Duration::from_secs(2));
    code
}

async fn run_async(args: RunArgs) -> anyhow::Result<ExitCode> {
    let docs = match read_documents(&args.file) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let (client, stack, _tmp) = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let config =
                kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
            (kube::Client::try_from(config)?, None, None)
        }
        None => {
            let (dir, tmp) = match &args.data_dir {
                Some(d) => (d.clone(), None),
                None => {
                    let t = tempfile::Builder::new()
                        .prefix("runlet-run-")
                        .tempdir()
                        .context("creating a temporary data directory")?;
                    (t.path().to_path_buf(), Some(t))
                }
            };
            let stack = Stack::start(StackOptions {
                data_dir: dir,
                history: Duration::from_secs(300),
                event_ttl: crate::stack::DEFAULT_EVENT_TTL,
                agent_node: Some(super::agent::default_node_name()),
                kubelet: None,
                identity: format!("runlet-run-{}", std::process::id()),
                tokens: Default::default(),
            })
            .await?;
            (stack.client.clone(), Some(stack), tmp)
        }
    };
    let outcome = run_documents(&client, docs, &args).await;
    if let Some(stack) = stack {
        stack.stop().await;
    }
    match outcome {
        Ok(code) => Ok(code),
        Err(RunError::BadInput(msg)) => {
            eprintln!("error: {msg}");
            Ok(ExitCode::from(2))
        }
        Err(RunError::Other(e)) => Err(e),
    }
}

/// Every non-empty document of the file, or of the `.yaml`, `.yml` and `.json` files of a
/// directory in name order (as `kubectl apply -f DIR`).
fn read_documents(file: &PathBuf) -> Result<Vec<Value>, String> {
    let mut docs = Vec::new();
    if file.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(file)
            .map_err(|e| format!("reading {}: {e}", file.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| matches!(x, "yaml" | "yml" | "json"))
            })
            .collect();
        files.sort();
        for f in &files {
            docs.extend(documents_of(f)?);
        }
    } else {
        docs = documents_of(file)?;
    }
    if docs.is_empty() {
        return Err(format!("{}: no objects to run", file.display()));
    }
    Ok(docs)
}

/// The non-empty documents of one file (`-`: standard input), each an object.
fn documents_of(file: &PathBuf) -> Result<Vec<Value>, String> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| format!("reading standard input: {e}"))?
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("reading {}: {e}", file.display()))?
    };
    let docs: Vec<Value> = serde_saphyr::from_multiple::<Value>(&text).map_err(|e| {
        let e = e.to_string();
        format!("{}: {}", file.display(), e.trim_start_matches("error: "))
    })?;
    let docs: Vec<Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
    for (i, d) in docs.iter().enumerate() {
        if !d.is_object() {
            return Err(format!(
                "{}: document {} is not an object",
                file.display(),
                i + 1
            ));
        }
    }
    Ok(docs)
}

/// The documents with what Jobs read first: namespaces, then ConfigMaps, Secrets, claims and
/// the rest, then Jobs and CronJobs, each group in file order. A Job's pods start within
/// milliseconds; one that found its ConfigMap not made yet would wait out the kubelet's 10 s
/// retry.
fn in_apply_order(mut docs: Vec<Value>) -> Vec<Value> {
    docs.sort_by_key(|d| match d["kind"].as_str() {
        Some("Namespace") => 0,
        Some("Job" | "CronJob") => 2,
        _ => 1,
    });
    docs
}

/// A Job being followed.
struct Followed {
    namespace: String,
    name: String,
}

/// One document of the file, resolved: what it is and where it goes.
struct Planned {
    doc: Value,
    info: &'static resources::ResourceInfo,
    namespace: String,
    /// It exists already and is a kind that is replaced (ConfigMaps, Secrets, claims...).
    replace: bool,
    /// A Namespace that exists already: nothing to do.
    skip: bool,
}

impl Planned {
    fn name(&self) -> &str {
        self.doc["metadata"]["name"].as_str().unwrap_or_default()
    }

    /// Jobs and CronJobs are run, so one of the same name is a conflict; what they read is
    /// brought up to date instead.
    fn replaceable(&self) -> bool {
        !matches!(
            (self.info.group, self.info.kind),
            ("batch", "Job" | "CronJob") | ("", "Namespace")
        )
    }
}

/// Resolves every document before anything is written.
fn plan(docs: Vec<Value>, default_namespace: &str) -> Result<Vec<Planned>, RunError> {
    in_apply_order(docs)
        .into_iter()
        .map(|doc| {
            let api_version = doc["apiVersion"].as_str().unwrap_or_default();
            let kind = doc["kind"].as_str().unwrap_or_default();
            if api_version.is_empty() || kind.is_empty() {
                return Err(RunError::BadInput(format!(
                    "a document has no {}: every object needs apiVersion and kind",
                    if api_version.is_empty() {
                        "apiVersion"
                    } else {
                        "kind"
                    }
                )));
            }
            let info = resources::by_kind(api_version, kind).ok_or_else(|| {
                RunError::BadInput(format!("no resource {kind:?} in {api_version:?} is served"))
            })?;
            let namespace = doc["metadata"]["namespace"]
                .as_str()
                .unwrap_or(default_namespace)
                .to_string();
            Ok(Planned {
                doc,
                info,
                namespace,
                replace: false,
                skip: false,
            })
        })
        .collect()
}

/// Creates every document with `dryRun=All` first, so that a bad document further down the
/// file stops the run before anything is written; notes what exists already.
async fn check(client: &kube::Client, planned: &mut [Planned]) -> Result<(), RunError> {
    let declared: HashSet<String> = planned
        .iter()
        .filter(|p| p.info.kind == "Namespace" && p.info.group.is_empty())
        .map(|p| p.name().to_string())
        .collect();
    for p in planned.iter_mut() {
        // A namespace the file makes does not exist yet for a dry run of what goes in it.
        if p.info.namespaced && declared.contains(&p.namespace) {
            continue;
        }
        match create(client, p.info, &p.namespace, &p.doc, true).await {
            Ok(_) => {}
            Err(RunError::BadInput(m)) if m.ends_with("already exists") => {
                if p.info.kind == "Namespace" {
                    p.skip = true;
                } else if p.replaceable() {
                    p.replace = true;
                } else {
                    return Err(RunError::BadInput(format!(
                        "{m}: delete it first, or give the document a metadata.generateName instead of a name to run it again"
                    )));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// With the embedded server, the namespaces the documents name that the file does not make
/// are made: the server starts with `default` only.
async fn ensure_namespaces(client: &kube::Client, planned: &[Planned]) -> Result<(), RunError> {
    let declared: HashSet<&str> = planned
        .iter()
        .filter(|p| p.info.kind == "Namespace" && p.info.group.is_empty())
        .map(Planned::name)
        .collect();
    let wanted: HashSet<&str> = planned
        .iter()
        .filter(|p| p.info.namespaced && !declared.contains(p.namespace.as_str()))
        .map(|p| p.namespace.as_str())
        .collect();
    let api: Api<Namespace> = Api::all(client.clone());
    for ns in wanted {
        let namespace: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": ns}}))
                .context("building a namespace")?;
        match api.create(&PostParams::default(), &namespace).await {
            Ok(_) => eprintln!("namespace/{ns} created"),
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(api_error(e, "creating a namespace")),
        }
    }
    Ok(())
}

async fn run_documents(
    client: &kube::Client,
    docs: Vec<Value>,
    args: &RunArgs,
) -> Result<ExitCode, RunError> {
    let mut planned = plan(docs, &args.namespace)?;
    if args.kubeconfig.is_none() {
        ensure_namespaces(client, &planned).await?;
    }
    check(client, &mut planned).await?;
    let mut jobs = Vec::new();
    for p in planned.into_iter().filter(|p| !p.skip) {
        let (info, ns) = (p.info, p.namespace.clone());
        let written = if p.replace {
            replace(client, &p).await?
        } else {
            create(client, info, &ns, &p.doc, false).await?
        };
        let name = written["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let verb = if p.replace { "configured" } else { "created" };
        eprintln!("{}/{name} {verb}", qualified(info));
        match (info.group, info.kind) {
            ("batch", "Job") => jobs.push(Followed {
                namespace: ns,
                name,
            }),
            ("batch", "CronJob") => {
                let cronjob: CronJob =
                    serde_json::from_value(written).context("reading the created CronJob")?;
                let job_name = format!("{name}-run-{}", rand_suffix());
                let job = runlet_api::cronjob::job_from_cronjob(&cronjob, &job_name, true, None);
                Api::<Job>::namespaced(client.clone(), &ns)
                    .create(&PostParams::default(), &job)
                    .await
                    .map_err(|e| api_error(e, "creating the CronJob's Job"))?;
                eprintln!("job.batch/{job_name} created from cronjob.batch/{name}");
                jobs.push(Followed {
                    namespace: ns,
                    name: job_name,
                });
            }
            _ => {}
        }
    }
    if jobs.is_empty() {
        eprintln!("no Jobs or CronJobs to run");
        return Ok(ExitCode::SUCCESS);
    }

    let multi =
        MultiProgress::with_draw_target(if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
    let started = Instant::now();
    let follows = jobs
        .iter()
        .map(|j| follow_job(client, j, &multi, args.quiet));
    // One listener for both interrupts: a second Ctrl-C that comes before a new listener
    // would be made (`tokio::signal::ctrl_c` only sees what comes after it) is not lost.
    let mut interrupts = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("listening for Ctrl-C")?;
    let results = tokio::select! {
        r = futures::future::join_all(follows) => r,
        _ = interrupts.recv() => {
            eprintln!("interrupted: terminating the Jobs' pods (Ctrl-C again to stop waiting)");
            tokio::select! {
                _ = terminate(client, &jobs) => {}
                _ = interrupts.recv() => {
                    eprintln!("interrupted again: not waiting for the pods' grace periods");
                }
            }
            return Ok(ExitCode::from(130));
        }
    };
    let mut failed = false;
    for (job, result) in jobs.iter().zip(results) {
        let outcome = result?;
        failed |= !outcome.complete;
        println!(
            "job.batch/{}: {} in {:.1}s — {} succeeded, {} failed{}",
            job.name,
            if outcome.complete {
                "Complete"
            } else {
                "Failed"
            },
            outcome.duration.as_secs_f64(),
            outcome.succeeded,
            outcome.failed,
            outcome
                .reason
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
    }
    tracing::debug!(elapsed = ?started.elapsed(), "all jobs finished");
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn qualified(info: &resources::ResourceInfo) -> String {
    if info.group.is_empty() {
        info.singular.to_string()
    } else {
        format!("{}.{}", info.singular, info.group)
    }
}

fn rand_suffix() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Turns an API failure into the error to show; invalid objects are bad input.
fn api_error(e: kube::Error, what: &str) -> RunError {
    match e {
        kube::Error::Api(status) if matches!(status.code, 400 | 404 | 409 | 422) => {
            RunError::BadInput(status.message)
        }
        other => RunError::Other(anyhow::Error::new(other).context(what.to_string())),
    }
}

/// Sends `doc` with strict field validation, as `kubectl apply` does: a misspelt field is an
/// error, not silently dropped.
async fn send(
    client: &kube::Client,
    method: http::Method,
    path: String,
    doc: &Value,
    what: &str,
) -> Result<Value, RunError> {
    let body = serde_json::to_vec(doc).context("encoding a document")?;
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("Content-Type", "application/json")
        .body(body)
        .context("building a request")?;
    client
        .request::<Value>(req)
        .await
        .map_err(|e| api_error(e, what))
}

async fn create(
    client: &kube::Client,
    info: &resources::ResourceInfo,
    ns: &str,
    doc: &Value,
    dry_run: bool,
) -> Result<Value, RunError> {
    let mut path = format!(
        "{}?fieldValidation=Strict",
        resource::collection_path(info, Some(ns))
    );
    if dry_run {
        path.push_str("&dryRun=All");
    }
    send(client, http::Method::POST, path, doc, "creating an object").await
}

/// Brings an object that exists already up to what the file says (its current
/// resourceVersion as the precondition).
async fn replace(client: &kube::Client, p: &Planned) -> Result<Value, RunError> {
    let path = resource::object_path(p.info, &p.namespace, p.name());
    let req = http::Request::get(&path)
        .body(Vec::new())
        .context("building a request")?;
    let current: Value = client
        .request(req)
        .await
        .map_err(|e| api_error(e, "reading an object"))?;
    let mut doc = p.doc.clone();
    doc["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
    send(
        client,
        http::Method::PUT,
        format!("{path}?fieldValidation=Strict"),
        &doc,
        "replacing an object",
    )
    .await
}

struct Outcome {
    complete: bool,
    succeeded: i32,
    failed: i32,
    reason: Option<String>,
    duration: Duration,
}

fn condition(job: &Job, kind: &str) -> Option<(String, String)> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind && c.status == "True")
        .map(|c| {
            (
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
}

/// Follows one Job to its end: progress bar, pod logs, outcome.
async fn follow_job(
    client: &kube::Client,
    job: &Followed,
    multi: &MultiProgress,
    quiet: bool,
) -> Result<Outcome, RunError> {
    let jobs: Api<Job> = Api::namespaced(client.clone(), &job.namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &job.namespace);
    let started = Instant::now();
    let bar = multi.add(ProgressBar::new(1));
    bar.set_style(
        ProgressStyle::with_template("{prefix:.bold} [{bar:30.green/red}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(job.name.clone());
    let log_tasks: Arc<Mutex<tokio::task::JoinSet<()>>> = Arc::default();
    let streamed: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut noted: HashSet<String> = HashSet::new();
    let selector = format!("batch.kubernetes.io/job-name={}", job.name);

    let fields = format!("metadata.name={}", job.name);
    let mut rv = "0".to_string();
    let mut pod_rv = "0".to_string();
    let finished: Job = 'outer: loop {
        let current = jobs
            .get(&job.name)
            .await
            .map_err(|e| api_error(e, "reading the Job"))?;
        if let Some(done) = observe(&current, &bar) {
            break 'outer done;
        }
        let mut job_events = jobs
            .watch(&WatchParams::default().fields(&fields).timeout(60), &rv)
            .await
            .map_err(|e| api_error(e, "watching the Job"))?
            .boxed();
        let mut pod_events = pods
            .watch(
                &WatchParams::default().labels(&selector).timeout(60),
                &pod_rv,
            )
            .await
            .map_err(|e| api_error(e, "watching the Job's pods"))?
            .boxed();
        loop {
            tokio::select! {
                ev = job_events.try_next() => match ev {
                    Ok(Some(WatchEvent::Added(j) | WatchEvent::Modified(j))) => {
                        rv = j.metadata.resource_version.clone().unwrap_or_default();
                        if let Some(done) = observe(&j, &bar) {
                            break 'outer done;
                        }
                    }
                    Ok(Some(WatchEvent::Deleted(_))) => {
                        return Err(RunError::Other(anyhow::anyhow!("job {} was deleted before it finished", job.name)));
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => continue 'outer,
                },
                ev = pod_events.try_next() => match ev {
                    Ok(Some(WatchEvent::Added(p) | WatchEvent::Modified(p))) => {
                        pod_rv = p.metadata.resource_version.clone().unwrap_or_default();
                        for note in troubles(&p) {
                            if noted.insert(note.clone()) {
                                print_line(multi, &note, true);
                            }
                        }
                        if !quiet {
                            start_logs(&pods, &p, multi, &log_tasks, &streamed);
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => continue 'outer,
                },
            }
        }
    };
    // Pods that finished between the last event and the end still have logs to show.
    if !quiet {
        if let Ok(list) = pods.list(&ListParams::default().labels(&selector)).await {
            for p in &list.items {
                start_logs(&pods, p, multi, &log_tasks, &streamed);
            }
        }
        let tasks = std::mem::take(&mut *log_tasks.lock().unwrap_or_else(|e| e.into_inner()));
        let _ = tokio::time::timeout(Duration::from_secs(10), tasks.join_all()).await;
    }
    bar.finish();
    let status = finished.status.clone().unwrap_or_default();
    let failed_condition = condition(&finished, "Failed");
    Ok(Outcome {
        complete: condition(&finished, "Complete").is_some(),
        succeeded: status.succeeded.unwrap_or(0),
        failed: status.failed.unwrap_or(0),
        reason: failed_condition.map(|(reason, message)| format!("{reason}: {message}")),
        duration: started.elapsed(),
    })
}

/// Updates the bar from the Job's status; returns the Job once it has finished.
fn observe(job: &Job, bar: &ProgressBar) -> Option<Job> {
    let spec = job.spec.clone().unwrap_or_default();
    let status = job.status.clone().unwrap_or_default();
    bar.set_length(spec.completions.unwrap_or(1).max(0) as u64);
    bar.set_position(status.succeeded.unwrap_or(0).max(0) as u64);
    bar.set_message(format!(
        "active {}, failed {}",
        status.active.unwrap_or(0),
        status.failed.unwrap_or(0)
    ));
    (condition(job, "Complete").is_some() || condition(job, "Failed").is_some())
        .then(|| job.clone())
}

/// One read of a container's log: which attempt, and whether to follow it.
#[derive(Clone, Copy)]
enum Read {
    /// `--previous`: the attempt the status shows as `lastState`, finished.
    Previous,
    /// The newest attempt, which has finished (the container waits to restart).
    Finished,
    /// The newest attempt, followed while it runs.
    Follow,
}

/// Streams the log of every container attempt once, prefixed with the pod name: init
/// containers and sidecars as well as the main containers, and each attempt of a restarted
/// container. An attempt is known by its container ID; one that the status shows only as
/// `lastState` is read back with `previous` (or as the newest while the container waits).
fn start_logs(
    pods: &Api<Pod>,
    pod: &Pod,
    multi: &MultiProgress,
    tasks: &Arc<Mutex<tokio::task::JoinSet<()>>>,
    streamed: &Arc<Mutex<HashSet<String>>>,
) {
    let Some(name) = pod.metadata.name.clone() else {
        return;
    };
    let Some(status) = pod.status.as_ref() else {
        return;
    };
    let statuses: Vec<&ContainerStatus> = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
        .collect();
    let several = statuses.len() > 1;
    for cs in statuses {
        let state = cs.state.as_ref();
        let current = state.and_then(|s| {
            s.running
                .as_ref()
                .and_then(|_| cs.container_id.clone())
                .or_else(|| s.terminated.as_ref().and_then(|t| t.container_id.clone()))
        });
        let waiting = state.is_some_and(|s| s.waiting.is_some());
        let last = cs
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .and_then(|t| t.container_id.clone());
        let mut reads = Vec::new();
        {
            let mut seen = streamed.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(id) = last.filter(|id| !id.is_empty())
                && seen.insert(id)
            {
                reads.push(if waiting {
                    Read::Finished
                } else {
                    Read::Previous
                });
            }
            if let Some(id) = current.filter(|id| !id.is_empty())
                && seen.insert(id)
            {
                reads.push(Read::Follow);
            }
        }
        if reads.is_empty() {
            continue;
        }
        let (pods, multi, pod_name, container) =
            (pods.clone(), multi.clone(), name.clone(), cs.name.clone());
        tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .spawn(async move {
                let prefix = if several {
                    format!("[{pod_name}/{container}]")
                } else {
                    format!("[{pod_name}]")
                };
                // One attempt after the other, oldest first.
                for read in reads {
                    let params = LogParams {
                        follow: matches!(read, Read::Follow),
                        previous: matches!(read, Read::Previous),
                        container: Some(container.clone()),
                        ..Default::default()
                    };
                    let Ok(stream) = pods.log_stream(&pod_name, &params).await else {
                        continue;
                    };
                    let mut lines = stream.lines();
                    while let Some(Ok(line)) = lines.next().await {
                        print_line(&multi, &format!("{prefix} {line}"), false);
                    }
                }
            });
    }
}

/// Prints a line above the progress bars: a log line on stdout, a note on stderr.
fn print_line(multi: &MultiProgress, text: &str, note: bool) {
    if !multi.is_hidden() {
        let _ = multi.println(text);
    } else if note {
        eprintln!("{text}");
    } else {
        println!("{text}");
    }
}

/// Why a pod waits or failed, as lines to show once each: a container waiting for something
/// other than its turn (`CreateContainerConfigError`, `CrashLoopBackOff`...), one that ended
/// with an error, a pod that cannot be scheduled or failed as a whole. Without these a Job
/// that cannot make progress would show nothing until its end.
fn troubles(pod: &Pod) -> Vec<String> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let mut notes = Vec::new();
    // The first line of a message: a termination message may hold a log's tail.
    let with_message = |what: String, message: Option<&str>| match message
        .and_then(|m| m.lines().map(str::trim).find(|l| !l.is_empty()))
    {
        Some(m) => format!("[{name}] {what}: {m}"),
        None => format!("[{name}] {what}"),
    };
    for c in status
        .conditions
        .iter()
        .flatten()
        .filter(|c| c.type_ == "PodScheduled" && c.status == "False")
    {
        notes.push(with_message(
            format!(
                "not scheduled ({})",
                c.reason.as_deref().unwrap_or("Unschedulable")
            ),
            c.message.as_deref(),
        ));
    }
    for cs in status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
    {
        let state = cs.state.as_ref();
        if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
            let reason = w.reason.as_deref().unwrap_or_default();
            if !matches!(reason, "" | "ContainerCreating" | "PodInitializing") {
                notes.push(with_message(
                    format!("container {} waiting: {reason}", cs.name),
                    w.message.as_deref(),
                ));
            }
        }
        if let Some(t) = state
            .and_then(|s| s.terminated.as_ref())
            .filter(|t| t.exit_code != 0)
        {
            notes.push(with_message(
                format!(
                    "container {} exited with {} ({})",
                    cs.name,
                    t.exit_code,
                    t.reason.as_deref().unwrap_or("Error")
                ),
                t.message.as_deref(),
            ));
        }
    }
    if status.phase.as_deref() == Some("Failed")
        && let Some(reason) = status.reason.as_deref()
    {
        notes.push(with_message(
            format!("failed: {reason}"),
            status.message.as_deref(),
        ));
    }
    notes
}

/// Deletes the Jobs with foreground propagation (pods get SIGTERM and their grace period)
/// and waits, bounded, until they are gone.
async fn terminate(client: &kube::Client, jobs: &[Followed]) {
    for job in jobs {
        let api: Api<Job> = Api::namespaced(client.clone(), &job.namespace);
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Foreground),
            ..Default::default()
        };
        let _ = api.delete(&job.name, &params).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for job in jobs {
        let api: Api<Job> = Api::namespaced(client.clone(), &job.namespace);
        while Instant::now() < deadline && api.get_opt(&job.name).await.ok().flatten().is_some() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn what_jobs_read_is_applied_before_them() {
        let docs = vec![
            json!({"kind": "Job", "metadata": {"name": "a"}}),
            json!({"kind": "ConfigMap", "metadata": {"name": "c"}}),
            json!({"kind": "CronJob", "metadata": {"name": "b"}}),
            json!({"kind": "Secret", "metadata": {"name": "s"}}),
            json!({"kind": "Namespace", "metadata": {"name": "n"}}),
        ];
        let order: Vec<String> = super::in_apply_order(docs)
            .iter()
            .map(|d| {
                d["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        assert_eq!(order, ["n", "c", "s", "a", "b"]);
    }
}
