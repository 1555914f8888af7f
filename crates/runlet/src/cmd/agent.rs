//! `runlet agent`: a node agent joining a server on another machine, and the glue that serves
//! an agent's logs through the API server.

use anyhow::Context;
use clap::Args;
use futures::FutureExt;
use futures::future::BoxFuture;
use runlet_agent::logs::{LogError, LogOptions};
use runlet_agent::{Agent, AgentConfig, AgentHandle};
use runlet_apiserver::logs::{LogBody, LogRequest, LogSource, LogSourceError};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args)]
pub struct AgentArgs {
    /// The server's URL, e.g. https://HOST:6443.
    #[arg(long, env = "RUNLET_SERVER")]
    server: String,
    /// The join token (the server writes it to DATA_DIR/token).
    #[arg(long, env = "RUNLET_TOKEN", hide_env_values = true)]
    token: String,
    /// The node name (default: the host name).
    #[arg(long, env = "RUNLET_NODE_NAME")]
    name: Option<String>,
    /// Where pod sandboxes and logs live.
    #[arg(long, env = "RUNLET_AGENT_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The server's CA certificate (PEM); without it the server certificate is not verified.
    #[arg(long, env = "RUNLET_CA_FILE")]
    ca_file: Option<PathBuf>,
}

/// Serves an in-process agent's log files to the API server.
pub struct AgentLogs(pub AgentHandle);

impl LogSource for AgentLogs {
    fn logs(&self, req: LogRequest) -> BoxFuture<'static, Result<LogBody, LogSourceError>> {
        let opts = LogOptions {
            follow: req.follow,
            previous: req.previous,
            tail_lines: req.tail_lines,
            since_seconds: req.since_seconds,
            since_time_millis: req.since_time_millis,
            timestamps: req.timestamps,
            limit_bytes: req.limit_bytes,
        };
        let result = self
            .0
            .read_logs(&req.namespace, &req.pod, &req.uid, &req.container, opts)
            .map_err(|e| match e {
                LogError::NotFound(m) => LogSourceError::NotFound(m),
                LogError::BadRequest(m) => LogSourceError::BadRequest(m),
                other => LogSourceError::Internal(other.to_string()),
            });
        async move { result }.boxed()
    }
}

/// The host name, lower-cased, as a node name.
pub fn default_node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

pub fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUNLET_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(agent_until_signal(args))?;
    runtime.shutdown_timeout(Duration::from_secs(2));
    Ok(ExitCode::SUCCESS)
}

async fn agent_until_signal(args: AgentArgs) -> anyhow::Result<()> {
    let url: http::Uri = args
        .server
        .parse()
        .with_context(|| format!("parsing --server {:?}", args.server))?;
    let mut config = kube::Config::new(url);
    config.default_namespace = "default".into();
    config.auth_info.token = Some(args.token.clone().into());
    match &args.ca_file {
        Some(path) => {
            let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let certs = rustls_pemfile::certs(&mut pem.as_slice())
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("parsing {}", path.display()))?;
            config.root_cert = Some(certs.into_iter().map(|c| c.to_vec()).collect());
        }
        None => {
            tracing::warn!("no --ca-file: the server's certificate is not verified");
            config.accept_invalid_certs = true;
        }
    }
    let client = kube::Client::try_from(config).context("building the API client")?;
    let name = args.name.unwrap_or_else(default_node_name);
    let dir = args
        .data_dir
        .unwrap_or_else(|| crate::paths::default_data_dir().join("agent"));
    let agent = Agent::new(
        client,
        Arc::new(runlet_api::clock::SystemClock),
        AgentConfig::new(&name, dir),
    );
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut task = tokio::spawn(agent.run(cancel.clone()));
    let shutdown = crate::cmd::server::shutdown_signal();
    eprintln!("runlet agent {name} joined {}", args.server);
    eprintln!(
        "note: logs of this agent's pods are not served through the API server yet (remote log serving comes later)"
    );
    let finished = tokio::select! {
        _ = shutdown => None,
        r = &mut task => Some(r),
    };
    let result = match finished {
        Some(r) => r,
        None => {
            eprintln!("runlet agent stopping");
            cancel.cancel();
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .context("waiting for the agent to stop")?
        }
    };
    result
        .context("the agent task")?
        .context("running the agent")?;
    Ok(())
}
