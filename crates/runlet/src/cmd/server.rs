//! `runlet server`: the API server over HTTPS with the embedded SQLite store.

use anyhow::Context;
use clap::Args;
use runlet_agent::{Agent, AgentConfig};
use runlet_apiserver::auth::{PeerIdentity, TokenFile, User};
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
    /// Do not run the embedded node agent (pods then need `runlet agent` on some machine).
    #[arg(long, env = "RUNLET_DISABLE_AGENT")]
    disable_agent: bool,
    /// The embedded agent's node name (default: the host name).
    #[arg(long, env = "RUNLET_NODE_NAME")]
    node_name: Option<String>,
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
    let mut tokens = TokenFile::load(&tokens_path)
        .with_context(|| format!("loading {}", tokens_path.display()))?;
    let join_token = join_token(&dir)?;
    tokens.insert(
        &join_token,
        User {
            name: "system:runlet-agent".into(),
            groups: vec!["system:nodes".into(), "system:authenticated".into()],
        },
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = AppState::new(Arc::new(store), tokens, clock.clone(), true);
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

    // Components inside the server reach the API in-process, as a trusted user.
    let client = in_process_client(&state);
    let cancel = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    // Stable across restarts of this server (so a restart after a crash takes its lease back
    // at once) and distinct between servers on one host (they cannot share an address).
    let identity = format!(
        "{}_{}",
        hostname().unwrap_or_else(|| "runlet".into()),
        local
    );
    let (run_client, run_clock) = (client.clone(), clock.clone());
    tasks.spawn(leader::run_with_leader_election(
        client.clone(),
        leader::Config::new(identity),
        clock.clone(),
        move |token| {
            runlet_controllers::run_controllers(run_client.clone(), run_clock.clone(), token)
        },
        cancel.child_token(),
    ));
    if !args.disable_agent {
        let name = args
            .node_name
            .clone()
            .unwrap_or_else(super::agent::default_node_name);
        let agent = Agent::new(
            client.clone(),
            clock.clone(),
            AgentConfig::new(&name, dir.join("agent")),
        );
        state.register_log_source(&name, Arc::new(super::agent::AgentLogs(agent.handle())));
        let token = cancel.child_token();
        tasks.spawn(async move {
            if let Err(e) = agent.run(token).await {
                tracing::error!(error = %e, "the embedded node agent stopped");
            }
        });
        eprintln!("embedded node agent: node {name}");
    }

    serve::serve_tls(
        listener,
        tls,
        runlet_apiserver::router(state),
        shutdown_signal(),
    )
    .await;
    cancel.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(30), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if stopped.is_err() {
        eprintln!("some components did not stop in time");
    }
    eprintln!("runlet server stopped");
    Ok(())
}

/// The agents' join token: `DIR/token`, created (mode 0600) on first start.
fn join_token(dir: &std::path::Path) -> anyhow::Result<String> {
    let path = dir.join("token");
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => return Ok(t.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let token: String = (0..32)
        .map(|_| format!("{:x}", rand::random::<u8>() & 0xf))
        .collect();
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(f, "{token}").with_context(|| format!("writing {}", path.display()))?;
    Ok(token)
}

/// A `kube::Client` calling the router directly, authenticated as an administrator.
fn in_process_client(state: &AppState) -> kube::Client {
    let identity = PeerIdentity(Some(User {
        name: "system:runlet".into(),
        groups: vec!["system:masters".into(), "system:authenticated".into()],
    }));
    let service = tower::ServiceBuilder::new()
        .map_request(move |mut req: http::Request<kube::client::Body>| {
            req.extensions_mut().insert(identity.clone());
            req
        })
        .service(runlet_apiserver::router(state.clone()));
    kube::Client::new(service, "default")
}

pub async fn shutdown_signal() {
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
