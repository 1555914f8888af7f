//! `runlet run -f FILE`: run Jobs to completion in one command.
//!
//! Starts the whole system in-process on a temporary data directory (or `--data-dir`), or
//! talks to a running server (`--kubeconfig`), creates every document of FILE, and for each Job
//! shows live progress, streams its pods' logs prefixed with the pod name, and prints a
//! summary. A CronJob in FILE is created and run once now (as `kubectl create job --from`).
//! Exit status: 0 when every Job completed, 1 when one failed, 2 on bad input, 130 on Ctrl-C
//! (after the Jobs' pods were terminated gracefully), 141 when standard output's reader went
//! (`| head`: the pods are stopped the same way).

use crate::cli::resource;
use crate::stack::{Stack, StackOptions};
use anyhow::Context;
use clap::Args;
use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ContainerStatus, Event, Namespace, Pod};
use kube::api::{Api, ListParams, LogParams, PostParams, WatchEvent, WatchParams};
use runlet_api::resources;
use serde_json::Value;
use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Submit to a running server through this kubeconfig instead of starting one (no data
    /// directory is used then).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Namespace for documents that name none (default: the kubeconfig context's, or
    /// `default`).
    #[arg(short, long)]
    namespace: Option<String>,
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
    // kube's client logs a refused connection as an error of its own; the run reports it.
    crate::stack::init_tracing("warn,kube_client=off");
    crate::stack::own_mount_namespace();
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
    let (client, stack, _tmp, namespace) = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = match crate::cli::read_kubeconfig(path) {
                Ok(k) => k,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let config =
                kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
            let server = config
                .cluster_url
                .authority()
                .map_or_else(|| config.cluster_url.to_string(), |a| a.to_string());
            // As kubectl: the context's namespace where the command names none.
            let namespace = config.default_namespace.clone();
            let client = kube::Client::try_from(config)?;
            // A server that cannot be reached is said so once, as the other commands say it,
            // before anything is planned.
            if let Err(e) = client.apiserver_version().await {
                eprintln!("{}", crate::cli::CliError::from_kube(e, &server));
                return Ok(ExitCode::FAILURE);
            }
            (client, None, None, namespace)
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
            let node = super::agent::default_node_name();
            // Its store is this process's alone (it locks the data directory), so a lease in
            // it held under this identity was held by an earlier run on the same directory, one
            // that crashed or was killed: named after the directory, a run takes it back at
            // once instead of waiting for it to expire.
            let identity = format!("runlet-run_{}", dir.display());
            let stack = Stack::start(StackOptions {
                data_dir: dir,
                history: Duration::from_secs(300),
                event_ttl: crate::stack::DEFAULT_EVENT_TTL,
                agent_node: Some(node.clone()),
                kubelet: None,
                event_rate: runlet_client::rate::Rate::EVENTS,
                identity,
                tokens: Default::default(),
                service_accounts: None,
            })
            .await?;
            // Pods made before the node takes them would be reported unschedulable at first.
            if let Err(e) = stack
                .wait_node_schedulable(&node, Instant::now() + Duration::from_secs(30))
                .await
            {
                stack.stop().await;
                return Err(e);
            }
            (
                stack.client.clone(),
                Some(stack),
                tmp,
                "default".to_string(),
            )
        }
    };
    let namespace = args.namespace.clone().unwrap_or(namespace);
    let outcome = run_documents(&client, docs, &namespace, &args).await;
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
    let mut objects = Vec::new();
    for (i, d) in docs.into_iter().filter(|d| !d.is_null()).enumerate() {
        if !d.is_object() {
            return Err(format!(
                "{}: document {} is not an object",
                file.display(),
                i + 1
            ));
        }
        // A `List` (what `kubectl get -o yaml` prints) stands for its items, as kubectl reads it.
        if super::apply::is_list(&d) {
            objects.extend(d["items"].as_array().into_iter().flatten().cloned());
        } else {
            objects.push(d);
        }
    }
    Ok(objects)
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
#[derive(Clone)]
struct Followed {
    namespace: String,
    name: String,
    /// The revision it was created at: its pods' events come after it.
    created_at: String,
    /// Its `spec.completions` as created (a work queue's 1), the bar's first length.
    completions: u64,
}

/// What a document comes to on the server, decided (and dry-run) before anything is written.
enum Action {
    Create,
    /// It exists, and the file changes it: this merge patch, as `kubectl apply` computes it.
    Patch(Value),
    /// It exists and already says what the file says (a Namespace: it exists).
    Unchanged,
}

/// One document of the file, resolved: what it is and where it goes.
struct Planned {
    doc: Value,
    info: &'static resources::ResourceInfo,
    namespace: String,
    action: Action,
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
            if (info.group, info.kind) == ("", "Pod") {
                return Err(RunError::BadInput(
                    "runlet run runs Jobs and CronJobs, not bare Pods: put the pod's spec in a Job's spec.template".into(),
                ));
            }
            let namespace = doc["metadata"]["namespace"]
                .as_str()
                .unwrap_or(default_namespace)
                .to_string();
            Ok(Planned {
                doc,
                info,
                namespace,
                action: Action::Create,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(refuse_repeats)
}

/// The same object twice in one file would be created, then refused as existing, half-way
/// through the run: refused before anything is written.
fn refuse_repeats(planned: Vec<Planned>) -> Result<Vec<Planned>, RunError> {
    let mut seen = HashSet::new();
    for p in &planned {
        let name = p.name();
        let namespace = if p.info.namespaced {
            p.namespace.as_str()
        } else {
            ""
        };
        if !name.is_empty() && !seen.insert((p.info.group, p.info.kind, namespace, name)) {
            return Err(RunError::BadInput(format!(
                "{}/{name} is in the file more than once",
                qualified(p.info)
            )));
        }
    }
    Ok(planned)
}

/// Makes every write with `dryRun=All` first, so that a bad document further down the file
/// stops the run before anything is written; decides what each document comes to.
async fn check(
    client: &kube::Client,
    planned: &mut [Planned],
    to_make: &[String],
) -> Result<(), RunError> {
    // Namespaces the file makes that do not exist yet (they come first in the apply order),
    // and those the run makes once nothing was refused.
    let mut new_namespaces: HashSet<String> = to_make.iter().cloned().collect();
    for p in planned.iter_mut() {
        if p.replaceable() {
            // Recorded as `kubectl apply` records it, so a later run or apply can tell what
            // the file set from what the server did.
            let namespace = p.info.namespaced.then_some(p.namespace.as_str());
            p.doc = super::apply::with_last_applied(&p.doc, namespace)
                .map_err(|e| RunError::BadInput(e.to_string()))?;
        }
        if p.info.namespaced && new_namespaces.contains(&p.namespace) {
            // The namespace the file makes does not exist yet: the same object is tried in
            // `default` instead, where only validation can refuse it.
            let mut doc = p.doc.clone();
            doc["metadata"]["namespace"] = Value::from("default");
            match create(client, p.info, "default", &doc, true).await {
                Err(RunError::BadInput(m)) if !m.ends_with("already exists") => {
                    return Err(RunError::BadInput(m));
                }
                Err(RunError::Other(e)) => return Err(RunError::Other(e)),
                _ => continue,
            }
        }
        match create(client, p.info, &p.namespace, &p.doc, true).await {
            Ok(_) if is_namespace(p.info) => {
                new_namespaces.insert(p.name().to_string());
            }
            Ok(_) => {}
            Err(RunError::BadInput(m)) if m.ends_with("already exists") => {
                if is_namespace(p.info) {
                    p.action = Action::Unchanged;
                } else if p.replaceable() {
                    p.action = apply_patch(client, p).await?;
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

fn is_namespace(info: &resources::ResourceInfo) -> bool {
    (info.group, info.kind) == ("", "Namespace")
}

/// What `kubectl apply` would send for an object that exists: a merge patch of what the file
/// changes (fields the server set, such as a bound claim's `volumeName`, stay), dry-run here,
/// with the object's resourceVersion as its precondition.
async fn apply_patch(client: &kube::Client, p: &Planned) -> Result<Action, RunError> {
    let path = resource::object_path(p.info, &p.namespace, p.name());
    let req = http::Request::get(&path)
        .body(Vec::new())
        .context("building a request")?;
    let current: Value = client
        .request(req)
        .await
        .map_err(|e| api_error(e, "reading an object"))?;
    let original = current["metadata"]["annotations"][super::apply::LAST_APPLIED]
        .as_str()
        .and_then(|s| serde_json::from_str::<Value>(s).ok());
    let Some(mut patch) = super::apply::three_way_patch(original.as_ref(), &p.doc, &current) else {
        return Ok(Action::Unchanged);
    };
    patch["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
    send_patch(client, p, &patch, true).await?;
    Ok(Action::Patch(patch))
}

/// A write's path with strict field validation, as `kubectl apply` (a misspelt field is an
/// error, not silently dropped), and `dryRun=All` for the check before anything is written.
fn write_path(path: String, dry_run: bool) -> String {
    let dry_run = if dry_run { "&dryRun=All" } else { "" };
    format!("{path}?fieldValidation=Strict{dry_run}")
}

async fn send_patch(
    client: &kube::Client,
    p: &Planned,
    patch: &Value,
    dry_run: bool,
) -> Result<Value, RunError> {
    let path = write_path(
        resource::object_path(p.info, &p.namespace, p.name()),
        dry_run,
    );
    send(
        client,
        http::Method::PATCH,
        path,
        "application/merge-patch+json",
        patch,
        "updating an object",
    )
    .await
}

/// With the embedded server, the namespaces the documents name, that the file does not make
/// and that do not exist: the server starts with `default` only. They are made only once
/// every document passed the checks, so input refused leaves nothing behind.
async fn missing_namespaces(
    client: &kube::Client,
    planned: &[Planned],
) -> Result<Vec<String>, RunError> {
    let declared: HashSet<&str> = planned
        .iter()
        .filter(|p| is_namespace(p.info))
        .map(Planned::name)
        .collect();
    let wanted: std::collections::BTreeSet<&str> = planned
        .iter()
        .filter(|p| p.info.namespaced && !declared.contains(p.namespace.as_str()))
        .map(|p| p.namespace.as_str())
        .collect();
    let api: Api<Namespace> = Api::all(client.clone());
    let mut missing = Vec::new();
    for ns in wanted {
        let found = api
            .get_opt(ns)
            .await
            .map_err(|e| api_error(e, "reading a namespace"))?;
        if found.is_none() {
            missing.push(ns.to_string());
        }
    }
    Ok(missing)
}

async fn make_namespaces(client: &kube::Client, names: &[String]) -> Result<(), RunError> {
    let api: Api<Namespace> = Api::all(client.clone());
    for ns in names {
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
    namespace: &str,
    args: &RunArgs,
) -> Result<ExitCode, RunError> {
    let mut planned = plan(docs, namespace)?;
    let to_make = if args.kubeconfig.is_none() {
        missing_namespaces(client, &planned).await?
    } else {
        Vec::new()
    };
    check(client, &mut planned, &to_make).await?;
    make_namespaces(client, &to_make).await?;
    let mut jobs = Vec::new();
    for p in planned {
        let (info, ns) = (p.info, p.namespace.clone());
        let (written, verb) = match &p.action {
            Action::Create => (create(client, info, &ns, &p.doc, false).await?, "created"),
            Action::Patch(patch) => {
                let written = send_patch(client, &p, patch, false).await?;
                // A patch the server found to change nothing (`stringData` as it is).
                let same = resource_version(&written) == resource_version(patch);
                (written, if same { "unchanged" } else { "configured" })
            }
            Action::Unchanged => {
                if info.kind != "Namespace" {
                    eprintln!("{}/{} unchanged", qualified(info), p.name());
                }
                continue;
            }
        };
        let name = written["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        eprintln!("{}/{name} {verb}", qualified(info));
        match (info.group, info.kind) {
            ("batch", "Job") => jobs.push(Followed {
                namespace: ns,
                name,
                created_at: resource_version(&written),
                completions: written["spec"]["completions"].as_u64().unwrap_or(1),
            }),
            ("batch", "CronJob") => {
                let cronjob: CronJob =
                    serde_json::from_value(written).context("reading the created CronJob")?;
                let job_name = format!("{name}-run-{}", rand_suffix());
                let job = runlet_api::cronjob::job_from_cronjob(&cronjob, &job_name, true, None);
                let created = Api::<Job>::namespaced(client.clone(), &ns)
                    .create(&PostParams::default(), &job)
                    .await
                    .map_err(|e| api_error(e, "creating the CronJob's Job"))?;
                eprintln!("job.batch/{job_name} created from cronjob.batch/{name}");
                let completions = created.spec.as_ref().and_then(|s| s.completions);
                jobs.push(Followed {
                    namespace: ns,
                    name: job_name,
                    created_at: created.metadata.resource_version.unwrap_or_default(),
                    completions: completions.map_or(1, |c| c.max(0) as u64),
                });
            }
            _ => {}
        }
    }
    if jobs.is_empty() {
        eprintln!("no Jobs or CronJobs to run");
        return Ok(ExitCode::SUCCESS);
    }
    if args.kubeconfig.is_none() && args.data_dir.is_some() {
        note_earlier_jobs(client, &jobs).await;
    }

    let multi =
        MultiProgress::with_draw_target(if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
    let started = Instant::now();
    let stopping = AtomicBool::new(false);
    let follows = jobs
        .iter()
        .map(|j| follow_job(client, j, &multi, args, &stopping));
    let mut follows = std::pin::pin!(futures::future::join_all(follows));
    // One listener each for the whole run: a second signal that comes before a new listener
    // would be made (`tokio::signal::ctrl_c` only sees what comes after it) is not lost.
    let mut signals = Signals::listen()?;
    let results = tokio::select! {
        r = &mut follows => r,
        code = signals.next() => {
            // 130 for SIGINT (Ctrl-C), 143 for SIGTERM, 141 for a closed output.
            let stopped = match code {
                143 => "terminated",
                141 => "output closed",
                _ => "interrupted",
            };
            eprintln!("{stopped}: stopping the Jobs' pods gracefully (signal again to stop waiting)");
            stopping.store(true, Ordering::Relaxed);
            // The Jobs are still followed meanwhile: what their pods print as they stop shows.
            // A Job already finished is left as it is.
            let unfinished = unfinished_jobs(client, &jobs).await;
            tokio::select! {
                _ = stop_jobs(client, &unfinished) => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), &mut follows).await;
                }
                _ = &mut follows => {}
                _ = signals.next() => {
                    eprintln!("{stopped} again: not waiting for the pods' grace periods");
                }
            }
            multi.clear().ok();
            let kept = match (&args.kubeconfig, &args.data_dir) {
                (Some(_), _) => Kept::OnServer,
                (None, Some(dir)) => Kept::InDataDir(dir.clone()),
                (None, None) => Kept::Nowhere,
            };
            print_interrupted(client, &jobs, started.elapsed(), &kept).await;
            return Ok(ExitCode::from(code));
        }
    };
    // Every Job's summary, even after one that could not be followed to its end.
    let mut failed = false;
    for (job, result) in jobs.iter().zip(results) {
        match result {
            Ok(outcome) => {
                failed |= !outcome.complete;
                say(&outcome.summary(&job.name));
            }
            Err(e) => {
                failed = true;
                eprintln!("error: job.batch/{}: {e}", job.name);
            }
        }
    }
    tracing::debug!(elapsed = ?started.elapsed(), "all jobs finished");
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn resource_version(obj: &Value) -> String {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string()
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
    content_type: &str,
    doc: &Value,
    what: &str,
) -> Result<Value, RunError> {
    let body = serde_json::to_vec(doc).context("encoding a document")?;
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("Content-Type", content_type)
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
    let path = write_path(resource::collection_path(info, Some(ns)), dry_run);
    send(
        client,
        http::Method::POST,
        path,
        "application/json",
        doc,
        "creating an object",
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

impl Outcome {
    /// The line the run ends with for the Job `name`.
    fn summary(&self, name: &str) -> String {
        format!(
            "job.batch/{name}: {} in {} — {} succeeded, {} failed{}",
            if self.complete { "Complete" } else { "Failed" },
            seconds(self.duration),
            self.succeeded,
            self.failed,
            self.reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        )
    }
}

/// A duration as the summary shows it: whole seconds when it has no fraction (the Job's
/// status times are whole seconds, as `kubectl get job` shows its DURATION), else tenths.
fn seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// How long a finished Job ran, from its start to its terminal condition, as its status says.
fn finished_after(job: &Job) -> Option<Duration> {
    let status = job.status.as_ref()?;
    let start = status.start_time.as_ref()?.0;
    let end = status
        .conditions
        .iter()
        .flatten()
        .filter(|c| matches!(c.type_.as_str(), "Complete" | "Failed") && c.status == "True")
        .find_map(|c| c.last_transition_time.as_ref())?
        .0;
    Duration::try_from(end.duration_since(start)).ok()
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

/// How long a followed Job's server may stay out of reach (a restart) before the run gives up.
const RECONNECT_PATIENCE: Duration = Duration::from_secs(60);
/// The pause between attempts to reach it again.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// Whether the API server can be reached, for a follower that outlives a restart of it, as
/// client-go's watchers do: a request that could not reach the server is tried again for up
/// to [`RECONNECT_PATIENCE`]; an answer of the server, error or not, counts as reached.
#[derive(Default)]
struct Connection {
    lost_at: Option<Instant>,
}

impl Connection {
    fn up(&mut self) {
        self.lost_at = None;
    }

    /// Whether to try again after `e`; says so the first time the connection is lost.
    fn may_retry(&mut self, e: &kube::Error, multi: &MultiProgress) -> bool {
        if !matches!(e, kube::Error::Service(_) | kube::Error::HyperError(_)) {
            return false;
        }
        let lost_at = *self.lost_at.get_or_insert_with(|| {
            print_line(
                multi,
                &format!("lost the connection to the API server ({e}); trying again"),
            );
            Instant::now()
        });
        lost_at.elapsed() < RECONNECT_PATIENCE
    }
}

/// Follows one Job to its end: progress bar, pod logs, outcome.
async fn follow_job(
    client: &kube::Client,
    job: &Followed,
    multi: &MultiProgress,
    args: &RunArgs,
    stopping: &AtomicBool,
) -> Result<Outcome, RunError> {
    let quiet = args.quiet;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &job.namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &job.namespace);
    let started = Instant::now();
    let bar = multi.add(ProgressBar::new(job.completions));
    // Succeeded pods fill the bar; what is left to do is plain, not a colour of failure.
    bar.set_style(
        ProgressStyle::with_template("{prefix:.bold} [{bar:30.green/white}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(job.name.clone());
    let log_tasks: Arc<Mutex<tokio::task::JoinSet<()>>> = Arc::default();
    let streamed: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut noted: HashSet<String> = HashSet::new();
    let selector = format!("batch.kubernetes.io/job-name={}", job.name);

    let events: Api<Event> = Api::namespaced(client.clone(), &job.namespace);
    let mut known_pods: HashSet<String> = HashSet::new();
    let fields = format!("metadata.name={}", job.name);
    let mut rv = "0".to_string();
    let mut pod_rv = "0".to_string();
    let mut event_rv = job.created_at.clone();
    let mut connection = Connection::default();
    let finished: Job = 'outer: loop {
        let current = match jobs.get(&job.name).await {
            Ok(current) => {
                connection.up();
                current
            }
            Err(e) if connection.may_retry(&e, multi) => {
                tokio::time::sleep(RECONNECT_PAUSE).await;
                continue 'outer;
            }
            // Gone before it was read (a `ttlSecondsAfterFinished: 0` Job that finished at
            // once): its history says how it ended.
            Err(kube::Error::Api(e)) if e.code == 404 => {
                break 'outer last_state(&jobs, job).await?;
            }
            Err(e) => return Err(api_error(e, "reading the Job")),
        };
        if let Some(done) = observe(&current, &bar) {
            break 'outer done;
        }
        // (Suspended by an interrupt of this run, the Job needs no note: the summary says
        // where it stays and how it goes on.)
        if current.spec.as_ref().and_then(|s| s.suspend) == Some(true)
            && !stopping.load(Ordering::Relaxed)
            && noted.insert(String::from("suspended"))
        {
            // Only a Job submitted to a running server (`--kubeconfig`) can be resumed by
            // another client.
            let note = if args.kubeconfig.is_some() {
                format!(
                    "job.batch/{0} is suspended: no pod starts until it is resumed (`runlet resume job/{0}`)",
                    job.name
                )
            } else {
                format!(
                    "job.batch/{} is suspended: no pod starts, and nothing reaches this run's own server to resume it (leave out `spec.suspend`, or run with `--kubeconfig` against a `runlet server`); Ctrl-C stops the run",
                    job.name
                )
            };
            print_line(multi, &note);
        }
        let watches = async {
            let warnings = events
                .watch(
                    &WatchParams::default().fields("type=Warning").timeout(60),
                    &event_rv,
                )
                .await
                .map_err(|e| (e, "watching the Job's events"))?;
            let job_events = jobs
                .watch(&WatchParams::default().fields(&fields).timeout(60), &rv)
                .await
                .map_err(|e| (e, "watching the Job"))?;
            let pod_events = pods
                .watch(
                    &WatchParams::default().labels(&selector).timeout(60),
                    &pod_rv,
                )
                .await
                .map_err(|e| (e, "watching the Job's pods"))?;
            Ok((warnings.boxed(), job_events.boxed(), pod_events.boxed()))
        };
        let (mut warnings, mut job_events, mut pod_events) = match watches.await {
            Ok(w) => w,
            Err((e, _)) if connection.may_retry(&e, multi) => {
                tokio::time::sleep(RECONNECT_PAUSE).await;
                continue 'outer;
            }
            Err((e, what)) => return Err(api_error(e, what)),
        };
        loop {
            tokio::select! {
                ev = job_events.try_next() => match ev {
                    Ok(Some(WatchEvent::Added(j) | WatchEvent::Modified(j))) => {
                        rv = j.metadata.resource_version.clone().unwrap_or_default();
                        if let Some(done) = observe(&j, &bar) {
                            break 'outer done;
                        }
                    }
                    // The Job's last state: finished, when its TTL took it.
                    Ok(Some(WatchEvent::Deleted(j))) => match observe(&j, &bar) {
                        Some(done) => break 'outer done,
                        None => return Err(deleted_unfinished(job)),
                    },
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => continue 'outer,
                },
                ev = pod_events.try_next() => match ev {
                    Ok(Some(WatchEvent::Added(p) | WatchEvent::Modified(p))) => {
                        pod_rv = p.metadata.resource_version.clone().unwrap_or_default();
                        known_pods.extend(p.metadata.name.clone());
                        for note in troubles(&p) {
                            if noted.insert(note.clone()) {
                                print_line(multi, &note);
                            }
                        }
                        if !quiet {
                            start_logs(&pods, &p, multi, &log_tasks, &streamed);
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => continue 'outer,
                },
                ev = warnings.try_next() => match ev {
                    Ok(Some(WatchEvent::Added(e) | WatchEvent::Modified(e))) => {
                        event_rv = e.metadata.resource_version.clone().unwrap_or_default();
                        if let Some(note) = warning_note(&e, job, &mut known_pods, &pods).await
                            && noted.insert(note.clone())
                        {
                            print_line(multi, &note);
                        }
                    }
                    // Expired: on from the Job's revision, notes already shown are not again.
                    Ok(Some(WatchEvent::Error(_))) => {
                        event_rv = rv.clone();
                        continue 'outer;
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
        drain_logs(tasks).await;
    }
    // A complete Job's bar is full; a failed one's stays where its successes left it.
    if condition(&finished, "Complete").is_some() {
        bar.finish();
    } else {
        bar.abandon();
    }
    // How long the Job ran, not how long its logs took to show.
    let took = finished_after(&finished).unwrap_or_else(|| started.elapsed());
    outcome_of(&finished, took)
        .ok_or_else(|| anyhow::anyhow!("job.batch/{} has not finished", job.name).into())
}

fn deleted_unfinished(job: &Followed) -> RunError {
    RunError::Other(anyhow::anyhow!(
        "job.batch/{} was deleted before it finished",
        job.name
    ))
}

/// The last state of a Job deleted before this run read it, from a watch of it since its
/// creation (whose last event is the deletion, with the Job as it was); an error when it was
/// deleted unfinished or its history is no longer kept.
async fn last_state(jobs: &Api<Job>, job: &Followed) -> Result<Job, RunError> {
    let params = WatchParams::default()
        .fields(&format!("metadata.name={}", job.name))
        .timeout(10);
    let Ok(events) = jobs.watch(&params, &job.created_at).await else {
        return Err(deleted_unfinished(job));
    };
    let mut events = events.boxed();
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Ok(Ok(Some(event))) =
        tokio::time::timeout_at(deadline.into(), events.try_next()).await
    {
        match event {
            WatchEvent::Added(j) | WatchEvent::Modified(j) | WatchEvent::Deleted(j)
                if outcome_of(&j, Duration::ZERO).is_some() =>
            {
                return Ok(j);
            }
            WatchEvent::Added(_) | WatchEvent::Modified(_) | WatchEvent::Bookmark(_) => {}
            WatchEvent::Deleted(_) | WatchEvent::Error(_) => break,
        }
    }
    Err(deleted_unfinished(job))
}

/// How long the logs of a finished Job may show nothing new before the run stops waiting
/// for them (a stream that never ends); they are waited for as long as they come.
const LOG_DRAIN_IDLE: Duration = Duration::from_secs(10);

/// Waits for the log streams of a finished Job while they make progress.
async fn drain_logs(mut tasks: tokio::task::JoinSet<()>) {
    let mut lines = LOG_LINES.load(Ordering::Relaxed);
    loop {
        match tokio::time::timeout(LOG_DRAIN_IDLE, tasks.join_next()).await {
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(_) => {
                let now = LOG_LINES.load(Ordering::Relaxed);
                if now == lines {
                    return;
                }
                lines = now;
            }
        }
    }
}

/// What a finished Job came to, from its status; `None` while it has not finished.
fn outcome_of(job: &Job, duration: Duration) -> Option<Outcome> {
    let complete = condition(job, "Complete").is_some();
    let failed_condition = condition(job, "Failed");
    if !complete && failed_condition.is_none() {
        return None;
    }
    let status = job.status.clone().unwrap_or_default();
    Some(Outcome {
        complete,
        succeeded: status.succeeded.unwrap_or(0),
        failed: status.failed.unwrap_or(0),
        reason: failed_condition.map(|(reason, message)| format!("{reason}: {message}")),
        duration,
    })
}

/// Updates the bar from the Job's status; returns the Job once it has finished.
fn observe(job: &Job, bar: &ProgressBar) -> Option<Job> {
    let spec = job.spec.clone().unwrap_or_default();
    let status = job.status.clone().unwrap_or_default();
    // A work queue (no completions) is done at its first success, and counts every one.
    let total = spec
        .completions
        .unwrap_or_else(|| status.succeeded.unwrap_or(0).max(1));
    bar.set_length(total.max(0) as u64);
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
                    // Bytes, as kubectl copies them: a line that is not UTF-8 is shown as it is.
                    let mut stream = std::pin::pin!(stream);
                    let mut line = Vec::new();
                    loop {
                        line.clear();
                        match stream.read_until(b'\n', &mut line).await {
                            Ok(0) | Err(_) => break,
                            Ok(_) => print_log_line(&multi, &prefix, &line),
                        }
                    }
                }
            });
    }
}

/// Prints a note above the progress bars, on stderr.
fn print_line(multi: &MultiProgress, text: &str) {
    multi.suspend(|| eprintln!("{text}"));
}

/// Prints a log line above the progress bars, on stdout (so `> file` keeps the logs): the
/// prefix, then the line's bytes as the container wrote them.
fn print_log_line(multi: &MultiProgress, prefix: &str, line: &[u8]) {
    let mut out = Vec::with_capacity(prefix.len() + line.len() + 2);
    out.extend_from_slice(prefix.as_bytes());
    out.push(b' ');
    out.extend_from_slice(line);
    if !line.ends_with(b"\n") {
        out.push(b'\n');
    }
    multi.suspend(|| write_stdout(&out));
    LOG_LINES.fetch_add(1, Ordering::Relaxed);
}

/// Log lines shown so far: waiting for a finished Job's logs goes on while the count grows.
static LOG_LINES: AtomicU64 = AtomicU64::new(0);
/// Set once standard output's reader has gone: nothing more is written to it.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// Told once standard output's reader has gone: the run stops as on a signal.
static STDOUT_GONE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Prints a line on stdout.
fn say(text: &str) {
    write_stdout(format!("{text}\n").as_bytes());
}

/// Writes to stdout; a reader that went (`| head`) ends the output and, through
/// [`Signals::next`], the run, as SIGPIPE would end kubectl, but with the pods stopped
/// gracefully rather than left behind.
fn write_stdout(bytes: &[u8]) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    if std::io::stdout().lock().write_all(bytes).is_err()
        && !STDOUT_CLOSED.swap(true, Ordering::Relaxed)
    {
        STDOUT_GONE.notify_one();
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

/// A Warning event about one of the Job's pods (or the Job failing to create them) that the
/// pods' own status does not already tell (`troubles`): a volume that cannot be set up, a
/// failing probe or hook. Without it a pod waiting for a missing ConfigMap volume would keep
/// the run waiting with nothing said.
async fn warning_note(
    event: &Event,
    job: &Followed,
    known_pods: &mut HashSet<String>,
    pods: &Api<Pod>,
) -> Option<String> {
    let about = &event.involved_object;
    let name = about.name.as_deref()?;
    let reason = event.reason.as_deref().unwrap_or_default();
    let message = event.message.as_deref().unwrap_or_default();
    match about.kind.as_deref()? {
        "Job" if name == job.name && reason == "FailedCreate" => {
            Some(format!("[job.batch/{name}] Warning {reason}: {message}"))
        }
        "Pod" if !matches!(reason, "FailedScheduling" | "BackOff" | "Failed") => {
            if !known_pods.contains(name) {
                // Not seen on the pod watch yet: one of this Job's if its label says so.
                let label = pods.get_opt(name).await.ok().flatten().and_then(|p| {
                    p.metadata
                        .labels?
                        .get("batch.kubernetes.io/job-name")
                        .cloned()
                });
                if label.as_deref() != Some(job.name.as_str()) {
                    return None;
                }
                known_pods.insert(name.to_string());
            }
            Some(format!("[{name}] Warning {reason}: {message}"))
        }
        _ => None,
    }
}

/// SIGINT (Ctrl-C) and SIGTERM (`timeout`, `kill`, a CI cancelling), each stopping the run
/// the same way, with the shell's exit status for it.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn listen() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("listening for SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
        })
    }

    /// The next signal, as the exit status it gives: 130 for SIGINT, 143 for SIGTERM, 141
    /// (SIGPIPE's) when standard output's reader went.
    async fn next(&mut self) -> u8 {
        tokio::select! {
            _ = self.interrupt.recv() => 130,
            _ = self.terminate.recv() => 143,
            () = STDOUT_GONE.notified() => 141,
        }
    }
}

/// Says which Jobs of an earlier run in the same data directory run again beside this run's,
/// unfinished and not suspended (an interrupted run suspends its Jobs; one that was killed
/// could not), so that their pods and logs are no surprise.
async fn note_earlier_jobs(client: &kube::Client, jobs: &[Followed]) {
    let Ok(all) = Api::<Job>::all(client.clone())
        .list(&ListParams::default())
        .await
    else {
        return;
    };
    for job in &all.items {
        let (Some(ns), Some(name)) = (&job.metadata.namespace, &job.metadata.name) else {
            continue;
        };
        let ours = jobs.iter().any(|f| &f.namespace == ns && &f.name == name);
        let suspended = job.spec.as_ref().and_then(|s| s.suspend) == Some(true);
        let finished = condition(job, "Complete").is_some() || condition(job, "Failed").is_some();
        if !ours && !suspended && !finished {
            eprintln!(
                "note: job.batch/{name} (namespace {ns}), left unfinished by an earlier run in this data directory, runs too"
            );
        }
    }
}

/// The Jobs that have not finished (or could not be read), to be stopped.
async fn unfinished_jobs(client: &kube::Client, jobs: &[Followed]) -> Vec<Followed> {
    let mut unfinished = Vec::new();
    for job in jobs {
        let api: Api<Job> = Api::namespaced(client.clone(), &job.namespace);
        let finished = api
            .get_opt(&job.name)
            .await
            .ok()
            .flatten()
            .is_some_and(|j| outcome_of(&j, Duration::ZERO).is_some());
        if !finished {
            unfinished.push(job.clone());
        }
    }
    unfinished
}

/// Suspends the Jobs, which stops their pods as upstream's Job controller does (SIGTERM and
/// each pod's grace period), and waits, bounded, until no pod of theirs runs. The Jobs stay,
/// with what their pods did, and can be resumed.
async fn stop_jobs(client: &kube::Client, jobs: &[Followed]) {
    let suspend = kube::api::Patch::Merge(serde_json::json!({"spec": {"suspend": true}}));
    for job in jobs {
        let api: Api<Job> = Api::namespaced(client.clone(), &job.namespace);
        if let Err(e) = api.patch(&job.name, &Default::default(), &suspend).await {
            eprintln!("suspending job.batch/{}: {e}", job.name);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    for job in jobs {
        let pods: Api<Pod> = Api::namespaced(client.clone(), &job.namespace);
        let selector =
            ListParams::default().labels(&format!("batch.kubernetes.io/job-name={}", job.name));
        while Instant::now() < deadline {
            let running = match pods.list(&selector).await {
                Ok(list) => list.items.iter().any(|p| {
                    !matches!(
                        p.status.as_ref().and_then(|s| s.phase.as_deref()),
                        Some("Succeeded" | "Failed")
                    )
                }),
                Err(_) => false,
            };
            if !running {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The summary of an interrupted run: where each Job got to.
/// Where an interrupted run's suspended Jobs stay.
enum Kept {
    /// On the server `--kubeconfig` names.
    OnServer,
    /// In the `--data-dir` of the embedded server, for a later `runlet server` on it.
    InDataDir(PathBuf),
    /// Nowhere: the temporary data directory goes.
    Nowhere,
}

async fn print_interrupted(client: &kube::Client, jobs: &[Followed], took: Duration, kept: &Kept) {
    for job in jobs {
        let api: Api<Job> = Api::namespaced(client.clone(), &job.namespace);
        let current = api.get_opt(&job.name).await.ok().flatten();
        // One that had finished was not stopped: it reads as it would have at the end.
        if let Some(outcome) = current
            .as_ref()
            .and_then(|j| outcome_of(j, finished_after(j).unwrap_or(took)))
        {
            say(&outcome.summary(&job.name));
            continue;
        }
        let status = current.and_then(|j| j.status).unwrap_or_default();
        let resume = match kept {
            Kept::OnServer => {
                format!(
                    "; it is suspended (`runlet resume job/{}` goes on)",
                    job.name
                )
            }
            Kept::InDataDir(dir) => format!(
                "; it is suspended in {} (`runlet server --data-dir` there serves it, and `runlet resume job/{}` goes on)",
                dir.display(),
                job.name
            ),
            Kept::Nowhere => String::new(),
        };
        say(&format!(
            "job.batch/{}: Interrupted after {:.1}s — {} succeeded, {} failed{resume}",
            job.name,
            took.as_secs_f64(),
            status.succeeded.unwrap_or(0),
            status.failed.unwrap_or(0),
        ));
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
