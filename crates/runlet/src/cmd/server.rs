//! `runlet server`: the API server over HTTPS with the embedded SQLite store.

use anyhow::Context;
use clap::Args;
use runlet_apiserver::auth::TokenFile;
use runlet_apiserver::state::{Clock, SystemClock};
use runlet_apiserver::{AppState, pki, serve};
use runlet_controllers::leader;
use runlet_store::sqlite::SqliteStore;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Args)]
pub struct ServerArgs {
    /// Where state, certificates and the admin kubeconfig live.
    #[arg(long, env = "RUNLET_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "RUNLET_BIND", default_value = "127.0.0.1:6443")]
    bind: SocketAddr,
    /// Extra names or IPs for the serving certificate (repeatable).
    #[arg(long = "tls-san", env = "RUNLET_TLS_SAN", value_delimiter = ',')]
    tls_san: Vec<String>,
    /// How long store history is kept for watches to resume from.
    #[arg(long, env = "RUNLET_HISTORY_SECONDS", default_value_t = 300)]
    history_seconds: u64,
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

pub fn run(args: ServerArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUNLET_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(serve_until_signal(args))?;
    runtime.shutdown_timeout(Duration::from_secs(2));
    Ok(ExitCode::SUCCESS)
}

async fn serve_until_signal(args: ServerArgs) -> anyhow::Result<()> {
    let dir = args.data_dir.unwrap_or_else(crate::paths::default_data_dir);
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;

    let mut sans = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if let Some(h) = hostname() {
        sans.push(h);
    }
    if !args.bind.ip().is_unspecified() && !args.bind.ip().is_loopback() {
        sans.push(args.bind.ip().to_string());
    }
    for s in args.tls_san {
        if !sans.contains(&s) {
            sans.push(s);
        }
    }
    let pki = pki::load_or_create(&dir, &sans)
        .with_context(|| format!("preparing certificates in {}", dir.join("tls").display()))?;
    let tls = serve::tls_config(&pki).context("configuring TLS")?;

    let store = SqliteStore::open(dir.join("state.db"))
        .with_context(|| format!("opening {}", dir.join("state.db").display()))?;
    let tokens_path = dir.join("tokens.csv");
    let tokens = TokenFile::load(&tokens_path)
        .with_context(|| format!("loading {}", tokens_path.display()))?;
    let store: Arc<dyn runlet_store::Store> = Arc::new(store);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = AppState::new(store.clone(), tokens, clock.clone(), true);
    runlet_apiserver::bootstrap(&state)
        .await
        .map_err(|e| anyhow::anyhow!(e.0.message))
        .context("bootstrapping")?;
    tokio::spawn(runlet_apiserver::compaction_loop(
        state.clone(),
        Duration::from_secs(args.history_seconds.max(1)),
    ));

    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("listening on {}", args.bind))?;
    let local = listener.local_addr().context("reading the bound address")?;
    let host = if local.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        local.ip().to_string()
    };
    let url = format!("https://{host}:{}", local.port());
    let kubeconfig = dir.join("kubeconfig");
    pki::write_kubeconfig(&kubeconfig, &url, &pki)
        .with_context(|| format!("writing {}", kubeconfig.display()))?;
    eprintln!("runlet server listening on {url}");
    eprintln!("admin kubeconfig: {}", kubeconfig.display());
    eprintln!(
        "try: KUBECONFIG={} kubectl get namespaces",
        kubeconfig.display()
    );

    // The controllers reach the API in-process, unauthenticated, over the same store.
    let internal = AppState::new(store, TokenFile::default(), clock.clone(), false);
    let client = kube::Client::new(runlet_apiserver::router(internal), "default");
    // Stable across restarts of this server (so a restart after a crash takes its lease back
    // at once) and distinct between servers on one host (they cannot share an address).
    let identity = format!(
        "{}_{}",
        hostname().unwrap_or_else(|| "runlet".into()),
        local
    );
    let stop_controllers = CancellationToken::new();
    let run_clock = clock.clone();
    let run_client = client.clone();
    let controllers = tokio::spawn(leader::run_with_leader_election(
        client,
        leader::Config::new(identity),
        clock,
        move |token| {
            runlet_controllers::run_controllers(run_client.clone(), run_clock.clone(), token)
        },
        stop_controllers.clone(),
    ));

    serve::serve_tls(
        listener,
        tls,
        runlet_apiserver::router(state),
        shutdown_signal(),
    )
    .await;
    stop_controllers.cancel();
    if tokio::time::timeout(Duration::from_secs(20), controllers)
        .await
        .is_err()
    {
        eprintln!("controllers did not stop in time");
    }
    eprintln!("runlet server stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
