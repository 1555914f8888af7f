//! `runlet bench`: throughput and latency figures, each with a baseline measured in the same
//! invocation, because these machines are shared and noisy.
//!
//! `runlet bench api` measures durable creates (configmaps and pods) straight into the store
//! (the baseline: no HTTP, no validation), through the API in-process (a `kube::Client` over
//! the router) and over HTTPS on loopback, all with the same concurrency; then the time to list
//! 10,000 pods as a Table, and watch delivery latency. `runlet bench jobs-controller`
//! ([`super::bench_jobs`]) measures the Job controller.

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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    match args.what {
        BenchWhat::Api(a) => runtime.block_on(bench_api(a))?,
        BenchWhat::JobsController(a) => runtime.block_on(super::bench_jobs::bench_jobs(a))?,
    }
    Ok(ExitCode::SUCCESS)
}

fn in_process(dir: &Path) -> anyhow::Result<(AppState, kube::Client)> {
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
    let api = cms.clone();
    let inproc_cm = throughput(a.writes, a.concurrency, move |i| {
        let api = api.clone();
        async move {
            api.create(&PostParams::default(), &configmap(format!("c{i}")))
                .await?;
            Ok(())
        }
    })
    .await?;
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let api = pods.clone();
    let inproc_pod = throughput(a.pods, a.concurrency, move |i| {
        let api = api.clone();
        async move {
            api.create(&PostParams::default(), &pod(format!("p{i}")))
                .await?;
            Ok(())
        }
    })
    .await?;

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
    let https_cm = throughput(a.writes, a.concurrency, move |i| {
        let api = api.clone();
        async move {
            api.create(&PostParams::default(), &configmap(format!("h{i}")))
                .await?;
            Ok(())
        }
    })
    .await?;
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

fn http_get(path: &str, accept: &str) -> anyhow::Result<http::Request<Vec<u8>>> {
    Ok(http::Request::get(path)
        .header("Accept", accept)
        .body(Vec::new())?)
}
