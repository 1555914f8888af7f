//! `runlet bench jobs-controller`: pods per second the Job controller creates and completes for
//! one Indexed Job, against the in-process API server on a fresh durable store, with a fake pod
//! driver that completes every pod as soon as it appears (no agent, no processes).
//!
//! Two baselines are measured in the same invocation, because the machines are shared and
//! noisy: the same pod lifecycle as raw store writes (a pod's create, its status update and its
//! finalizer removal: three durable writes per pod, no API server), and the same number of pod
//! creates through the in-process API without any controller.

use super::bench::throughput;
use anyhow::Context;
use clap::Args;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PostParams};
use kube::runtime::watcher;
use runlet_api::clock::Clock;
use runlet_apiserver::AppState;
use runlet_apiserver::state::SystemClock;
use runlet_controllers::job::{Config, JobController};
use runlet_store::Store;
use runlet_store::sqlite::SqliteStore;
use serde_json::json;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Args)]
pub struct JobsBenchArgs {
    /// Completions of the Indexed Job.
    #[arg(long, default_value_t = 10_000)]
    completions: i32,
    /// Its parallelism (also the concurrency of the baselines).
    #[arg(long, default_value_t = 100)]
    parallelism: i32,
    /// Job controller workers.
    #[arg(long, default_value_t = 5)]
    workers: usize,
    /// The longest the Job may take.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
}

async fn api_on(dir: &Path) -> anyhow::Result<(AppState, kube::Client)> {
    let (state, client) = super::bench::in_process(dir)?;
    runlet_apiserver::bootstrap(&state)
        .await
        .map_err(|e| anyhow::anyhow!(e.0.message.clone()))?;
    Ok((state, client))
}

fn bench_pod(name: String) -> Pod {
    let mut p = super::bench::pod(name);
    p.metadata.finalizers = Some(vec![runlet_controllers::job::JOB_TRACKING_FINALIZER.into()]);
    p
}

/// Completes every pod of the namespace as soon as it appears (exit code 0), as a node agent
/// would report it, until `stop`.
async fn fake_pod_driver(client: kube::Client, namespace: String, stop: CancellationToken) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let mut stream = watcher::watcher(pods, watcher::Config::default()).boxed();
    let mut seen = HashSet::new();
    let mut inflight = tokio::task::JoinSet::new();
    loop {
        let ev = tokio::select! {
            _ = stop.cancelled() => break,
            Some(_) = inflight.join_next(), if !inflight.is_empty() => continue,
            ev = stream.next() => ev,
        };
        let Some(Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p))) = ev else {
            continue;
        };
        let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
        let Some(name) = p.metadata.name.clone() else {
            continue;
        };
        if matches!(phase, Some("Succeeded" | "Failed"))
            || p.metadata.deletion_timestamp.is_some()
            || !seen.insert(name.clone())
        {
            continue;
        }
        let (client, namespace) = (client.clone(), namespace.clone());
        inflight.spawn(async move {
            let body = json!({"status": {
                "phase": "Succeeded",
                "containerStatuses": [{"name": "main", "image": "busybox", "imageID": "",
                  "ready": false, "restartCount": 0,
                  "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]
            }});
            if let Err(e) =
                runlet_client::patch_pod_status(&client, &namespace, &name, &Patch::Merge(body))
                    .await
            {
                tracing::warn!(pod = %name, error = %e, "fake driver: completing pod failed");
            }
        });
    }
    inflight.shutdown().await;
}

/// CPU time this process has used (user + system), from `/proc/self/stat`; zero elsewhere.
fn cpu_time() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name (which is in parentheses and may hold spaces).
            let rest = s.rsplit_once(')')?.1.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            let user: u64 = f.get(11)?.parse().ok()?;
            let system: u64 = f.get(12)?.parse().ok()?;
            Some(user + system)
        })
        .unwrap_or(0);
    // USER_HZ is 100 on every Linux platform runlet builds for.
    Duration::from_millis(ticks * 10)
}

/// What one controller run measured.
struct RunFigures {
    pods_per_sec: f64,
    /// CPU time used per pod, all threads (API server, store, controller, driver).
    cpu_per_pod: Duration,
    /// Average busy cores during the run.
    cores: f64,
}

/// Runs the Job controller on a fresh store until an Indexed Job of `a.completions` completes.
async fn controller_run(dir: &Path, a: &JobsBenchArgs) -> anyhow::Result<RunFigures> {
    let (state, client) = api_on(dir).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let config = Config {
        workers: a.workers,
        ..Config::default()
    };
    let stop = CancellationToken::new();
    let controller = JobController::new(client.clone(), clock, config);
    let ctl = tokio::spawn(controller.run(stop.clone().cancelled_owned()));
    let driver = tokio::spawn(fake_pod_driver(
        client.clone(),
        "default".into(),
        stop.clone(),
    ));
    let jobs: Api<Job> = Api::default_namespaced(client.clone());
    let job: Job = serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "bench"},
        "spec": {
            "completions": a.completions, "parallelism": a.parallelism,
            "completionMode": "Indexed", "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox", "command": ["true"]}]}}
        }
    }))?;
    let start = Instant::now();
    let cpu_start = cpu_time();
    jobs.create(&PostParams::default(), &job).await?;
    let done = tokio::time::timeout(Duration::from_secs(a.timeout_secs), async {
        let mut stream = watcher::watcher(
            jobs.clone(),
            watcher::Config::default().fields("metadata.name=bench"),
        )
        .boxed();
        while let Some(ev) = stream.next().await {
            if let Ok(watcher::Event::Apply(j) | watcher::Event::InitApply(j)) = ev {
                let conds = j.status.as_ref().and_then(|s| s.conditions.clone());
                for c in conds.unwrap_or_default() {
                    if c.status == "True" && (c.type_ == "Complete" || c.type_ == "Failed") {
                        return Ok::<Job, anyhow::Error>(j);
                    }
                }
            }
        }
        anyhow::bail!("the job watch ended")
    })
    .await;
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_time().saturating_sub(cpu_start);
    stop.cancel();
    let _ = driver.await;
    let _ = ctl.await;
    drop(state);
    let job = done.context("the job did not finish in time")??;
    let succeeded = job.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0);
    anyhow::ensure!(
        succeeded == a.completions,
        "the job finished with {succeeded} of {} completions succeeded",
        a.completions
    );
    let pods = u32::try_from(a.completions.max(1)).unwrap_or(1);
    Ok(RunFigures {
        pods_per_sec: f64::from(a.completions) / elapsed,
        cpu_per_pod: cpu / pods,
        cores: cpu.as_secs_f64() / elapsed,
    })
}

pub async fn bench_jobs(a: JobsBenchArgs) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir().context("temp dir")?;
    let n = usize::try_from(a.completions.max(1)).unwrap_or(1);
    let concurrency = usize::try_from(a.parallelism.max(1)).unwrap_or(1);
    println!(
        "runlet bench jobs-controller: Indexed Job, {} completions, parallelism {}",
        a.completions, a.parallelism
    );

    // The Job first, on a fresh process (measured after the baselines, it ran at about half
    // the speed: their stores and heap were still around); then the baselines.
    let run = controller_run(&tmp.path().join("job"), &a).await?;
    let job_rate = run.pods_per_sec;

    // Baseline 1: each pod's three durable writes straight into the store.
    let store = Arc::new(
        SqliteStore::open(tmp.path().join("baseline.db")).context("opening the baseline store")?,
    );
    let body = bytes::Bytes::from(serde_json::to_vec(&bench_pod("x".into()))?);
    let s = store.clone();
    let store_rate = throughput(n, concurrency, move |i| {
        let s = s.clone();
        let body = body.clone();
        async move {
            let key = format!("/core/pods/default/b{i}");
            let kv = s.create(&key, body.clone()).await?;
            let kv = s.update(&key, body.clone(), Some(kv.mod_revision)).await?;
            s.update(&key, body, Some(kv.mod_revision)).await?;
            Ok(())
        }
    })
    .await?;
    drop(store);

    // Baseline 2: the same number of pod creates through the API, no controller.
    let (state, client) = api_on(&tmp.path().join("creates")).await?;
    let pods: Api<Pod> = Api::default_namespaced(client);
    let create_rate = super::bench::create_throughput(pods, n, concurrency, "p", bench_pod).await?;
    drop(state);

    println!();
    println!("| measurement | pods/s | vs store baseline |");
    println!("|---|---|---|");
    println!("| baseline: 3 durable store writes per pod | {store_rate:.0} | 1.00 |");
    println!(
        "| baseline: API pod creates, no controller | {create_rate:.0} | {:.2} |",
        create_rate / store_rate
    );
    println!(
        "| Job controller: pods created and completed | {job_rate:.0} | {:.2} |",
        job_rate / store_rate
    );
    println!(
        "| Job controller run: CPU per pod, cores busy | {:.0} µs, {:.2} | |",
        run.cpu_per_pod.as_secs_f64() * 1e6,
        run.cores
    );
    println!("| peak RSS | {:.0} MiB | |", super::bench::peak_rss_mib());
    Ok(())
}
