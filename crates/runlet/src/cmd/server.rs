//! `runlet server`: the API server over HTTPS with the embedded SQLite store.

use crate::stack::{ServiceAccounts, Stack, StackOptions, hostname, join_token};
use anyhow::Context;
use clap::Args;
use runlet_apiserver::auth::{TokenFile, User};
use runlet_apiserver::logs::nodeproxy::NodeClient;
use runlet_apiserver::{pki, serve};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
    /// How long an Event lives after it was last written (upstream's --event-ttl).
    #[arg(long, env = "RUNLET_EVENT_TTL_SECONDS", default_value_t = 3600)]
    event_ttl_seconds: u64,
    /// Do not run the embedded node agent (pods then need `runlet agent` on some machine).
    #[arg(long, env = "RUNLET_DISABLE_AGENT")]
    disable_agent: bool,
    /// The embedded agent's node name (default: the host name).
    #[arg(long, env = "RUNLET_NODE_NAME")]
    node_name: Option<String>,
    /// The embedded agent's kubelet settings.
    #[command(flatten)]
    kubelet: super::agent::KubeletArgs,
}

/// The address this machine reaches the server at: loopback when it listens on every
/// address.
fn api_host(local: SocketAddr) -> String {
    if local.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        local.ip().to_string()
    }
}

pub fn run(args: ServerArgs) -> anyhow::Result<ExitCode> {
    crate::stack::init_tracing("info");
    crate::stack::own_mount_namespace();
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

    let tokens_path = dir.join("tokens.csv");
    let mut tokens = TokenFile::load(&tokens_path)
        .with_context(|| format!("loading {}", tokens_path.display()))?;
    let join_token = join_token(&dir)?;
    let console_token = console_token(&dir)?;
    tokens.insert(
        &console_token,
        User {
            name: "runlet-console-admin".into(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
        },
    );
    tokens.insert(
        &join_token,
        User {
            name: "system:runlet-agent".into(),
            groups: vec!["system:nodes".into(), "system:authenticated".into()],
        },
    );

    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("listening on {}", args.bind))?;
    let local = listener.local_addr().context("reading the bound address")?;
    let agent_node = (!args.disable_agent).then(|| {
        args.node_name
            .clone()
            .unwrap_or_else(super::agent::default_node_name)
    });
    let stack = Stack::start(StackOptions {
        data_dir: dir.clone(),
        history: Duration::from_secs(args.history_seconds.max(1)),
        event_ttl: Duration::from_secs(args.event_ttl_seconds.max(1)),
        agent_node: agent_node.clone(),
        kubelet: Some(args.kubelet.clone()),
        event_rate: args.kubelet.event_rate(),
        // Stable across restarts of this server (so a restart after a crash takes its lease
        // back at once) and distinct between servers on one host (they cannot share an address).
        identity: format!(
            "{}_{}",
            hostname().unwrap_or_else(|| "runlet".into()),
            local
        ),
        tokens,
        service_accounts: Some(ServiceAccounts::of(
            &pki,
            Some((api_host(local), local.port())),
        )),
    })
    .await?;
    stack.state.set_node_client(
        NodeClient::from_pem(&pki.kubelet_client_cert_pem, &pki.kubelet_client_key_pem)
            .context("loading the kubelet client certificate")?,
    );

    let url = format!("https://{}:{}", api_host(local), local.port());
    let kubeconfig = dir.join("kubeconfig");
    pki::write_kubeconfig(&kubeconfig, &url, &pki)
        .with_context(|| format!("writing {}", kubeconfig.display()))?;
    if let Some(name) = &agent_node {
        eprintln!("embedded node agent: node {name}");
    }
    eprintln!("admin kubeconfig: {}", kubeconfig.display());
    eprintln!(
        "try: KUBECONFIG={} kubectl get namespaces",
        kubeconfig.display()
    );
    eprintln!(
        "web console: {url}{} (sign in with the token in {})",
        runlet_console::PATH,
        dir.join("console-token").display()
    );
    let shutdown = shutdown_signal();
    eprintln!("runlet server listening on {url}");

    // The console's routes are merged after the API router's authentication layer: they serve
    // only static assets and a credential-free schedule computation; the page calls the API
    // with the bearer token the user signs in with.
    let app = runlet_apiserver::router(stack.state.clone())
        .merge(runlet_console::router(stack.state.clock.clone()));
    serve::serve_tls(listener, tls, app, shutdown).await;
    stack.stop().await;
    eprintln!("runlet server stopped");
    Ok(())
}

/// The console's admin token: `DIR/console-token`, created (mode 0600) at first start. It is a
/// bearer token of user `runlet-console-admin` in group `system:masters`, accepted by the API
/// like any token from `tokens.csv`.
fn console_token(dir: &std::path::Path) -> anyhow::Result<String> {
    crate::stack::secret_file(&dir.join("console-token"))
}

/// A future that resolves on SIGINT or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled, so a signal that arrives right after the
/// server says it is listening still stops it cleanly.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate()).ok();
    let int = signal(SignalKind::interrupt()).ok();
    async move {
        let (Some(mut term), Some(mut int)) = (term, int) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    }
}
