//! `runlet bench`: throughput and latency figures, each with a baseline measured in the same
//! invocation, because these machines are shared and noisy.
//!
//! `runlet bench api` measures durable creates (configmaps and pods) straight into the store
//! (the baseline: no HTTP, no validation), through the API in-process (a `kube::Client` over
//! the router) and over HTTPS on loopback, all with the same concurrency; then the time to list
//! 10,000 pods as a Table, and watch delivery latency.
//!
//! `runlet bench jobs` runs `--completions` `true` processes `--parallelism` at a time through
//! a plain fork/exec loop (the physical floor, as `xargs -P` would), then one Job of the same
//! size through the whole embedded system (API, controllers, scheduler, agent, process
//! runtime), and compares the wall times. Pod start latency is measured from the moment a
//! watch sees the pod bound to the moment it sees its container started.
//!
//! `runlet bench jobs-controller` ([`super::bench_jobs`]) measures the Job controller alone.

use anyhow::Context;
use clap::{Args, Subcommand};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, PodSpec};
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use runlet_apiserver::auth::TokenFile;
use runlet_apiserver::state::SystemClock;
use runlet_apiserver::{AppState, pki, serve};
use runlet_store::Store;
use runlet_store::sqlite::SqliteStore;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchWhat,
}

#[derive(Subcommand)]
enum BenchWhat {
    /// Durable write throughput, Table listing and watch latency of the API server.
    Api(ApiBenchArgs),
    /// Pods per second the Job controller creates and completes (fake pod driver).
    JobsController(super::bench_jobs::JobsBenchArgs),
    /// A Job of `true` pods through the whole system against a fork/exec loop.
    Jobs(JobsBenchArgs),
}

#[derive(Args)]
struct JobsBenchArgs {
    /// Pods that must succeed (the Job's `completions`, and processes in the baseline).
    #[arg(long, default_value_t = 10_000)]
    completions: usize,
    /// Pods (and baseline processes) running at once.
    #[arg(long, default_value_t = 100)]
    parallelism: usize,
    /// The Job's pods set `automountServiceAccountToken: false`: no token volume (what a pod
    /// that never calls the API is spared).
    #[arg(long)]
    no_service_account_token: bool,
    /// Events written a second by the node agent and the scheduler, 0 for no limit (as
    /// `runlet server --event-qps`).
    #[arg(long, default_value_t = runlet_client::rate::Rate::EVENTS.qps)]
    event_qps: u32,
    /// Events they may write at once before --event-qps applies.
    #[arg(long, default_value_t = runlet_client::rate::Rate::EVENTS.burst)]
    event_burst: u32,
}

#[derive(Args)]
struct ApiBenchArgs {
    /// Objects created per measurement.
    #[arg(long, default_value_t = 10_000)]
    writes: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Pods listed as a Table.
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// Watch events timed.
    #[arg(long, default_value_t = 1_000)]
    watch_events: usize,
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    crate::stack::init_tracing("warn");
    crate::stack::own_mount_namespace();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    match args.what {
        BenchWhat::Api(a) => runtime.block_on(bench_api(a))?,
        BenchWhat::Jobs(a) => runtime.block_on(bench_jobs(a))?,
        BenchWhat::JobsController(a) => runtime.block_on(super::bench_jobs::bench_jobs(a))?,
    }
    runtime.shutdown_timeout(Duration::from_secs(2));
    Ok(ExitCode::SUCCESS)
}

pub(super) fn in_process(dir: &Path) -> anyhow::Result<(AppState, kube::Client)> {
    let store = SqliteStore::open(dir.join("state.db")).context("opening the store")?;
    let state = AppState::new(
        Arc::new(store),
        TokenFile::default(),
        Arc::new(SystemClock),
        false,
    );
    let client = kube::Client::new(runlet_apiserver::router(state.clone()), "default");
    Ok((state, client))
}

fn configmap(name: String) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name);
    cm.data = Some([("payload".to_string(), "x".repeat(256))].into());
    cm
}

pub(super) fn pod(name: String) -> Pod {
    let mut p = Pod::default();
    p.metadata.name = Some(name);
    p.metadata.labels = Some([("app".to_string(), "bench".to_string())].into());
    p.spec = Some(PodSpec {
        restart_policy: Some("Never".into()),
        containers: vec![Container {
            name: "main".into(),
            image: Some("busybox".into()),
            command: Some(vec!["true".into()]),
            ..Default::default()
        }],
        ..Default::default()
    });
    p
}

/// Runs `n` operations with `concurrency` workers; returns operations per second.
pub(super) async fn throughput<F, Fut>(n: usize, concurrency: usize, op: F) -> anyhow::Result<f64>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let op = op.clone();
        let next = next.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), anyhow::Error>(());
                }
                op(i).await?;
            }
        }));
    }
    for w in workers {
        w.await.context("worker panicked")??;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Creates `n` objects made by `make` from their names (`{prefix}{i}`) through `api` with
/// `concurrency` workers; returns creates per second.
pub(super) async fn create_throughput<K>(
    api: Api<K>,
    n: usize,
    concurrency: usize,
    prefix: &'static str,
    make: fn(String) -> K,
) -> anyhow::Result<f64>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned,
    K: std::fmt::Debug + Send + Sync + 'static,
{
    throughput(n, concurrency, move |i| {
        let api = api.clone();
        async move {
            api.create(&PostParams::default(), &make(format!("{prefix}{i}")))
                .await?;
            Ok(())
        }
    })
    .await
}

pub(super) fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

/// CPU time used so far: this process (all its threads), and its children that were waited
/// for (the `true` processes, once reaped), in seconds, from `/proc/self/stat`. Its clock
/// ticks are `USER_HZ`, which Linux fixes at 100 for every architecture.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct CpuTimes {
    own: f64,
    children: f64,
}

impl CpuTimes {
    pub(super) fn now() -> CpuTimes {
        const USER_HZ: f64 = 100.0;
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // The fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<f64> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .unwrap_or_default()
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0.0))
            .collect();
        // utime, stime, cutime, cstime are fields 14 to 17 of stat(5); `fields` starts at 3.
        let field = |n: usize| fields.get(n - 3).copied().unwrap_or(0.0) / USER_HZ;
        CpuTimes {
            own: field(14) + field(15),
            children: field(16) + field(17),
        }
    }

    fn since(self, earlier: CpuTimes) -> CpuTimes {
        CpuTimes {
            own: self.own - earlier.own,
            children: self.children - earlier.children,
        }
    }
}

async fn bench_api(a: ApiBenchArgs) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir().context("temp dir")?;
    println!(
        "runlet bench api: {} writes, {} concurrent clients, {} pods listed",
        a.writes, a.concurrency, a.pods
    );

    // Baseline: durable creates straight into the store.
    let store = Arc::new(
        SqliteStore::open(tmp.path().join("baseline.db")).context("opening the baseline store")?,
    );
    let body = bytes::Bytes::from(serde_json::to_vec(&configmap("x".into()))?);
    let s = store.clone();
    let baseline = throughput(a.writes, a.concurrency, move |i| {
        let s = s.clone();
        let body = body.clone();
        async move {
            s.create(&format!("/core/configmaps/default/b{i}"), body)
                .await?;
            Ok(())
        }
    })
    .await?;
    drop(store);

    // In-process API.
    let dir = tmp.path().join("inproc");
    let (state, client) = in_process(&dir)?;
    runlet_apiserver::bootstrap(&state)
        .await
        .map_err(|e| anyhow::anyhow!(e.0.message.clone()))?;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let inproc_cm = create_throughput(cms.clone(), a.writes, a.concurrency, "c", configmap).await?;
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let inproc_pod = create_throughput(pods.clone(), a.pods, a.concurrency, "p", pod).await?;

    // Table list of every pod, best of three.
    let mut list_times = Vec::new();
    for _ in 0..3 {
        let req = http_get(
            "/api/v1/namespaces/default/pods",
            "application/json;as=Table;v=v1;g=meta.k8s.io",
        )?;
        let start = Instant::now();
        let text = client.request_text(req).await?;
        list_times.push(start.elapsed());
        anyhow::ensure!(text.len() > a.pods * 50, "the table holds every pod");
    }
    let list_best = list_times.iter().min().copied().unwrap_or_default();
    let req = http_get("/api/v1/namespaces/default/pods", "application/json")?;
    let start = Instant::now();
    client.request_text(req).await?;
    let list_json = start.elapsed();

    // Watch latency: create one at a time, time until the watcher sees it.
    let rv = cms
        .list_metadata(&kube::api::ListParams::default().limit(1))
        .await?
        .metadata
        .resource_version
        .unwrap_or_default();
    let mut stream = cms.watch(&WatchParams::default(), &rv).await?.boxed();
    let mut latencies = Vec::with_capacity(a.watch_events);
    for i in 0..a.watch_events {
        let start = Instant::now();
        cms.create(&PostParams::default(), &configmap(format!("w{i}")))
            .await?;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
                Ok(Some(Ok(WatchEvent::Added(cm))))
                    if cm.metadata.name.as_deref() == Some(&format!("w{i}")) =>
                {
                    break;
                }
                Ok(Some(Ok(_))) => continue,
                other => anyhow::bail!("watch ended early: {other:?}"),
            }
        }
        latencies.push(start.elapsed());
    }
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or_default()
    };

    // Over HTTPS on loopback.
    let https_dir = tmp.path().join("https");
    let (https_state, _) = in_process(&https_dir)?;
    runlet_apiserver::bootstrap(&https_state)
        .await
        .map_err(|e| anyhow::anyhow!(e.0.message.clone()))?;
    let https_state = AppState::new(
        https_state.store.clone(),
        TokenFile::default(),
        Arc::new(SystemClock),
        true,
    );
    let pki = pki::load_or_create(&https_dir, &["localhost".into(), "127.0.0.1".into()])?;
    let tls = serve::tls_config(&pki)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("https://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve::serve_tls(
        listener,
        tls,
        runlet_apiserver::router(https_state),
        async {
            let _ = stop_rx.await;
        },
    ));
    let kubeconfig = https_dir.join("kubeconfig");
    pki::write_kubeconfig(&kubeconfig, &url, &pki)?;
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig)?,
        &Default::default(),
    )
    .await?;
    let https_client = kube::Client::try_from(config)?;
    let api: Api<ConfigMap> = Api::default_namespaced(https_client);
    let https_cm = create_throughput(api, a.writes, a.concurrency, "h", configmap).await?;
    let _ = stop_tx.send(());
    let _ = server.await;

    println!();
    println!("| measurement | figure | vs baseline |");
    println!("|---|---|---|");
    println!("| baseline: durable store creates | {baseline:.0} writes/s | 1.00 |");
    println!(
        "| in-process API: configmap creates | {inproc_cm:.0} writes/s | {:.2} |",
        inproc_cm / baseline
    );
    println!(
        "| in-process API: pod creates | {inproc_pod:.0} writes/s | {:.2} |",
        inproc_pod / baseline
    );
    println!(
        "| HTTPS API: configmap creates | {https_cm:.0} writes/s | {:.2} |",
        https_cm / baseline
    );
    println!(
        "| list {} pods as a Table (best of 3) | {:.0} ms | plain JSON list: {:.0} ms |",
        a.pods,
        list_best.as_secs_f64() * 1e3,
        list_json.as_secs_f64() * 1e3
    );
    println!(
        "| watch delivery latency (create → event), p50 / p99 | {:.2} ms / {:.2} ms | |",
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3
    );
    println!("| peak RSS | {:.0} MiB | |", peak_rss_mib());
    Ok(())
}

/// The floor: `n` runs of `true`, `parallelism` at a time, each a plain fork/exec/wait.
fn fork_exec_floor(n: usize, parallelism: usize) -> anyhow::Result<Duration> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..parallelism.max(1))
        .map(|_| {
            let next = next.clone();
            std::thread::spawn(move || -> anyhow::Result<()> {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                    let status = std::process::Command::new("true")
                        .stdin(std::process::Stdio::null())
                        .status()
                        .context("running true")?;
                    anyhow::ensure!(status.success(), "true failed: {status}");
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join()
            .map_err(|_| anyhow::anyhow!("a baseline worker panicked"))??;
    }
    Ok(start.elapsed())
}

fn bench_job(
    completions: usize,
    parallelism: usize,
    token: bool,
) -> anyhow::Result<k8s_openapi::api::batch::v1::Job> {
    let job = serde_json::json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "bench"},
        "spec": {
            "completions": completions,
            "parallelism": parallelism,
            "backoffLimit": 0,
            "template": {"spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": token,
                "containers": [{"name": "c", "image": "busybox", "command": ["true"]}],
            }},
        },
    });
    serde_json::from_value(job).context("building the bench Job")
}

fn job_finished(job: &k8s_openapi::api::batch::v1::Job) -> Option<&str> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .map(|c| c.type_.as_str())
}

/// The fields of a pod the stage watch reads. Decoding only these (the rest of each event is
/// skipped, not built) keeps the benchmark's own watch from charging the system it measures a
/// full pod decode for every pod event.
#[derive(Clone, Debug, Default, serde::Deserialize)]
struct StagePod {
    #[serde(default)]
    metadata: StageMeta,
    #[serde(default)]
    spec: StageSpec,
    #[serde(default)]
    status: StageStatus,
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
struct StageMeta {
    #[serde(default)]
    uid: String,
    #[serde(default)]
    finalizers: Vec<String>,
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct StageSpec {
    #[serde(default)]
    node_name: Option<String>,
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct StageStatus {
    #[serde(default)]
    phase: Option<String>,
    #[serde(default)]
    container_statuses: Vec<StageContainerStatus>,
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
struct StageContainerStatus {
    #[serde(default)]
    state: StageState,
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
struct StageState {
    #[serde(default)]
    running: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    terminated: Option<serde::de::IgnoredAny>,
}

async fn bench_jobs(a: JobsBenchArgs) -> anyhow::Result<()> {
    use k8s_openapi::api::batch::v1::Job;
    println!(
        "runlet bench jobs: {} completions, parallelism {}, {}{}",
        a.completions,
        a.parallelism,
        match a.event_qps {
            0 => "events not rate-limited".to_string(),
            qps => format!("events at most {qps}/s in bursts of {}", a.event_burst),
        },
        if a.no_service_account_token {
            ", no service account token"
        } else {
            ""
        }
    );
    let parallelism = a.parallelism.max(1);
    let before_floor = CpuTimes::now();
    let floor = tokio::task::spawn_blocking(move || fork_exec_floor(a.completions, parallelism))
        .await
        .context("the baseline panicked")??;
    let floor_cpu = CpuTimes::now().since(before_floor);

    let tmp = tempfile::tempdir().context("temp dir")?;
    let node = "bench-node".to_string();
    // Pods get their service account tokens as `runlet server` gives them.
    let pki = pki::load_or_create(tmp.path(), &["127.0.0.1".into()])?;
    let stack = crate::stack::Stack::start(crate::stack::StackOptions {
        data_dir: tmp.path().to_path_buf(),
        history: Duration::from_secs(300),
        event_ttl: crate::stack::DEFAULT_EVENT_TTL,
        agent_node: Some(node.clone()),
        kubelet: None,
        event_rate: runlet_client::rate::Rate {
            qps: a.event_qps,
            burst: a.event_burst,
        },
        identity: format!("runlet-bench-{}", std::process::id()),
        tokens: Default::default(),
        service_accounts: Some(crate::stack::ServiceAccounts::of(&pki, None)),
    })
    .await?;
    let result = async {
        let client = stack.client.clone();
        // The node must take pods before the clock starts.
        stack
            .wait_node_schedulable(&node, Instant::now() + Duration::from_secs(60))
            .await?;
        let pods: Api<Pod> = Api::default_namespaced(client.clone());
        let jobs: Api<Job> = Api::default_namespaced(client.clone());
        let pod_watch = kube::core::Request::new("/api/v1/namespaces/default/pods").watch(
            &WatchParams::default()
                .labels("job-name=bench")
                .timeout(3600),
            "0",
        )?;
        let mut pod_events = client.request_events::<StagePod>(pod_watch).await?.boxed();
        let mut job_events = jobs
            .watch(
                &WatchParams::default()
                    .fields("metadata.name=bench")
                    .timeout(3600),
                "0",
            )
            .await?
            .boxed();
        let revision = || async {
            let list = pods
                .list_metadata(&kube::api::ListParams::default().limit(1))
                .await?;
            let rv = list.metadata.resource_version.unwrap_or_default();
            Ok::<u64, anyhow::Error>(rv.parse().unwrap_or(0))
        };
        let first_revision = revision().await?;
        let start = Instant::now();
        let before_job = CpuTimes::now();
        jobs.create(
            &PostParams::default(),
            &bench_job(a.completions, parallelism, !a.no_service_account_token)?,
        )
        .await?;
        // uid → when the watch first saw the pod created, bound, started, finished, released.
        let mut seen: std::collections::HashMap<String, [Option<Instant>; STAGES]> =
            Default::default();
        let limit = Duration::from_secs(600);
        let outcome = loop {
            tokio::select! {
                ev = pod_events.next() => match ev {
                    Some(Ok(WatchEvent::Added(p) | WatchEvent::Modified(p))) => {
                        let marks = seen.entry(p.metadata.uid.clone()).or_default();
                        for (mark, reached) in marks.iter_mut().zip(stages_reached(&p, false)) {
                            if reached && mark.is_none() {
                                *mark = Some(Instant::now());
                            }
                        }
                    }
                    Some(Ok(WatchEvent::Deleted(p))) => {
                        let marks = seen.entry(p.metadata.uid.clone()).or_default();
                        for (mark, reached) in marks.iter_mut().zip(stages_reached(&p, true)) {
                            if reached && mark.is_none() {
                                *mark = Some(Instant::now());
                            }
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => anyhow::bail!("watching pods: {e}"),
                    None => anyhow::bail!("the pod watch ended"),
                },
                ev = job_events.next() => match ev {
                    Some(Ok(WatchEvent::Added(j) | WatchEvent::Modified(j))) => {
                        if let Some(done) = job_finished(&j) {
                            break (done.to_string(), j);
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => anyhow::bail!("watching the Job: {e}"),
                    None => anyhow::bail!("the Job watch ended"),
                },
                _ = tokio::time::sleep(limit.saturating_sub(start.elapsed())) => {
                    anyhow::bail!("the Job did not finish within {limit:?}");
                }
            }
        };
        let wall = start.elapsed();
        let job_cpu = CpuTimes::now().since(before_job);
        let writes = revision().await?.saturating_sub(first_revision);
        Ok((outcome, wall, job_cpu, seen, writes))
    }
    .await;
    stack.stop().await;
    let ((outcome, job), wall, job_cpu, seen, writes) = result?;
    // Per stage, the time from the previous stage, over the pods that reached both.
    let mut per_stage: Vec<Vec<Duration>> = vec![Vec::new(); STAGES];
    for marks in seen.values() {
        for i in 1..STAGES {
            if let (Some(Some(a)), Some(Some(b))) = (marks.get(i - 1), marks.get(i))
                && let Some(v) = per_stage.get_mut(i)
            {
                v.push(b.saturating_duration_since(*a));
            }
        }
    }
    let mut latencies = per_stage.get(2).cloned().unwrap_or_default();
    let succeeded = job.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0);
    anyhow::ensure!(
        outcome == "Complete",
        "the bench Job ended {outcome} with {succeeded} succeeded"
    );
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    let n = a.completions as f64;
    println!();
    println!("| measurement | wall time | pods/s | vs floor |");
    println!("|---|---|---|---|");
    println!(
        "| floor: fork/exec `true`, {parallelism} at a time | {:.2} s | {:.0} | 1.00 |",
        floor.as_secs_f64(),
        n / floor.as_secs_f64()
    );
    println!(
        "| Job: {} completions, parallelism {parallelism} | {:.2} s | {:.0} | {:.2} |",
        a.completions,
        wall.as_secs_f64(),
        n / wall.as_secs_f64(),
        wall.as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "| pod start latency (bound → started), p50 / p99 | {:.1} ms / {:.1} ms | {} pods | |",
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        latencies.len()
    );
    println!("| peak RSS | {:.0} MiB | | |", peak_rss_mib());
    println!(
        "| durable writes (all objects, events included) | {writes} | {:.1} per pod | |",
        writes as f64 / n
    );
    for (what, cpu) in [("floor", floor_cpu), ("Job", job_cpu)] {
        println!(
            "| CPU of the {what}: runlet's own / the `true` processes' | {:.2} s / {:.2} s | {:.0} µs / {:.0} µs per pod | |",
            cpu.own,
            cpu.children,
            cpu.own / n * 1e6,
            cpu.children / n * 1e6
        );
    }
    println!();
    println!("median time per pod stage, as a watch sees it:");
    for (i, name) in STAGE_NAMES.iter().enumerate().skip(1) {
        let mut v = per_stage.get(i).cloned().unwrap_or_default();
        v.sort();
        let median = v.get(v.len() / 2).copied().unwrap_or_default();
        println!(
            "  {} → {name}: {:.1} ms",
            STAGE_NAMES.get(i - 1).copied().unwrap_or_default(),
            median.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

const STAGES: usize = 5;
const STAGE_NAMES: [&str; STAGES] = ["created", "bound", "started", "finished", "released"];

/// Which stages a pod has reached: created, bound to a node, a container started, a
/// terminal phase, released by the Job controller (tracking finalizer gone, or deleted).
fn stages_reached(p: &StagePod, deleted: bool) -> [bool; STAGES] {
    let bound = p.spec.node_name.as_deref().is_some_and(|n| !n.is_empty());
    let started = p
        .status
        .container_statuses
        .iter()
        .any(|c| c.state.running.is_some() || c.state.terminated.is_some());
    let finished = matches!(p.status.phase.as_deref(), Some("Succeeded" | "Failed"));
    let tracked = p
        .metadata
        .finalizers
        .iter()
        .any(|f| f == "batch.kubernetes.io/job-tracking");
    [
        true,
        bound,
        started,
        finished,
        deleted || (finished && !tracked),
    ]
}

fn http_get(path: &str, accept: &str) -> anyhow::Result<http::Request<Vec<u8>>> {
    Ok(http::Request::get(path)
        .header("Accept", accept)
        .body(Vec::new())?)
}
