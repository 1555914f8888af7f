//! `runlet agent`: a node agent joining a server on another machine.

use anyhow::Context;
use clap::Args;
use runlet_agent::logs::serve::LogEndpointConfig;
use runlet_agent::{Agent, AgentConfig};
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
    /// The server's CA certificate (PEM, the server's DATA_DIR/tls/ca.crt). It verifies the
    /// server, and the API server's client certificate when it reads logs from this agent;
    /// without it the server is not verified and logs are not served.
    #[arg(long, env = "RUNLET_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// Where to serve logs to the API server over HTTPS (port 0: any free port). The port is
    /// published in the Node; a specific IP is also published as the node's InternalIP.
    #[arg(long, env = "RUNLET_LOG_BIND", default_value = "0.0.0.0:10250")]
    log_bind: std::net::SocketAddr,
    #[command(flatten)]
    kubelet: KubeletArgs,
}

/// The kubelet's settings, for `runlet agent` and for the embedded agent of `runlet server`.
#[derive(Args, Clone, Debug)]
pub struct KubeletArgs {
    /// How often running pods' configMap, secret, downwardAPI and projected volumes are
    /// written again, so that changes reach them (the kubelet's --sync-frequency).
    #[arg(long, env = "RUNLET_SYNC_FREQUENCY_SECONDS", default_value_t = 60)]
    sync_frequency_seconds: u64,
    /// A container's log file is rotated when it reaches this size, a quantity such as 10Mi
    /// (the kubelet's containerLogMaxSize).
    #[arg(long, env = "RUNLET_CONTAINER_LOG_MAX_SIZE", default_value = "10Mi", value_parser = parse_log_size)]
    container_log_max_size: u64,
    /// How many log files a container keeps, the one being written included (the kubelet's
    /// containerLogMaxFiles).
    #[arg(long, env = "RUNLET_CONTAINER_LOG_MAX_FILES", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(2..))]
    container_log_max_files: u32,
    /// A container's log file is rotated at most this often, counted from the container's
    /// start (the kubelet's containerLogMonitorInterval, at least 3 s as its validation asks):
    /// what a container prints in its first interval all stays in the file `kubectl logs`
    /// reads.
    #[arg(long, env = "RUNLET_CONTAINER_LOG_MONITOR_INTERVAL_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(3..=86_400))]
    container_log_monitor_interval_seconds: u64,
    /// When the agent stops (SIGTERM), how long its running pods get to stop gracefully
    /// (preStop hooks, SIGTERM, their grace period cut to this) before they are reported
    /// Failed, as the kubelet's graceful node shutdown (shutdownGracePeriod); 0 kills them at
    /// once. Containers run as the agent's children, so none outlives it.
    #[arg(long, env = "RUNLET_SHUTDOWN_GRACE_PERIOD_SECONDS", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(0..=600))]
    shutdown_grace_period_seconds: u64,
    /// At most this many events a second are written about pods and the node, 0 for no limit
    /// (the kubelet's --event-qps; `runlet server` applies it to its scheduler's events too);
    /// events that cannot be written meanwhile wait in a queue of 1000, and are dropped when it
    /// is full.
    #[arg(long, env = "RUNLET_EVENT_QPS", default_value_t = runlet_client::rate::Rate::EVENTS.qps)]
    event_qps: u32,
    /// How many events may be written at once before --event-qps applies (the kubelet's
    /// --event-burst).
    #[arg(long, env = "RUNLET_EVENT_BURST", default_value_t = runlet_client::rate::Rate::EVENTS.burst)]
    event_burst: u32,
}

impl KubeletArgs {
    /// How long the agent's stop may take for its pods to stop gracefully.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_period_seconds)
    }

    /// How fast events are written.
    pub fn event_rate(&self) -> runlet_client::rate::Rate {
        runlet_client::rate::Rate {
            qps: self.event_qps,
            burst: self.event_burst,
        }
    }

    /// Sets these on an agent's configuration.
    pub fn apply(&self, config: &mut AgentConfig) {
        config.event_rate = self.event_rate();
        config.shutdown_grace =
            (self.shutdown_grace_period_seconds > 0).then(|| self.shutdown_grace());
        config.sync_frequency = Duration::from_secs(self.sync_frequency_seconds.max(1));
        config.log_rotation = runlet_agent::logs::Rotation {
            max_size: self.container_log_max_size,
            max_files: self.container_log_max_files,
            interval_ms: (self.container_log_monitor_interval_seconds * 1000) as i64,
        };
    }
}

/// A positive quantity of bytes, such as `10Mi` or `500k`.
fn parse_log_size(s: &str) -> Result<u64, String> {
    let nanos = runlet_api::fit::quantity_nanos(s)
        .ok_or_else(|| format!("{s:?} is not a quantity, such as 10Mi"))?;
    if nanos <= 0 {
        return Err(format!("{s:?} must be at least one byte"));
    }
    u64::try_from((nanos + 999_999_999) / 1_000_000_000)
        .map_err(|_| format!("{s:?} is larger than this machine can count in bytes"))
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
    crate::stack::own_mount_namespace();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(agent_until_signal(args))?;
    runtime.shutdown_timeout(Duration::from_secs(2));
    Ok(ExitCode::SUCCESS)
}

async fn agent_until_signal(args: AgentArgs) -> anyhow::Result<()> {
    let url = server_url(&args.server)?;
    let api_server = url.host().map(|host| {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let default_port = if url.scheme_str() == Some("http") {
            80
        } else {
            443
        };
        (host, url.port_u16().unwrap_or(default_port))
    });
    let mut config = kube::Config::new(url);
    config.default_namespace = "default".into();
    config.auth_info.token = Some(args.token.clone().into());
    let ca_pem = match &args.ca_file {
        Some(path) => {
            let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let certs = rustls_pemfile::certs(&mut pem.as_slice())
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("parsing {}", path.display()))?;
            config.root_cert = Some(certs.into_iter().map(|c| c.to_vec()).collect());
            Some(String::from_utf8_lossy(&pem).into_owned())
        }
        None => {
            tracing::warn!("no --ca-file: the server's certificate is not verified");
            config.accept_invalid_certs = true;
            None
        }
    };
    let client = kube::Client::try_from(config).context("building the API client")?;
    let name = args.name.unwrap_or_else(default_node_name);
    check_join(&client, &args.server, &name).await?;
    let dir = args
        .data_dir
        .unwrap_or_else(|| crate::paths::default_data_dir().join("agent"));
    let mut agent_config = AgentConfig::new(&name, dir);
    agent_config.api_server = api_server;
    args.kubelet.apply(&mut agent_config);
    let stop_wait = Duration::from_secs(30) + args.kubelet.shutdown_grace();
    agent_config.log_endpoint = ca_pem.map(|client_ca_pem| LogEndpointConfig {
        bind: args.log_bind,
        client_ca_pem,
    });
    let serves_logs = agent_config.log_endpoint.is_some();
    runlet_agent::protect_from_oom_killer();
    let mut agent = Agent::new(
        client,
        Arc::new(runlet_api::clock::SystemClock),
        agent_config,
    );
    if !args.log_bind.ip().is_unspecified() {
        let mut host = agent.host().clone();
        host.ip = args.log_bind.ip().to_string();
        agent.set_host(host);
    }
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut task = tokio::spawn(agent.run(cancel.clone()));
    let shutdown = crate::cmd::server::shutdown_signal();
    eprintln!("runlet agent {name} joined {}", args.server);
    if !serves_logs {
        eprintln!(
            "note: without --ca-file this agent does not serve logs: `kubectl logs` cannot read its pods"
        );
    }
    let finished = tokio::select! {
        _ = shutdown => None,
        r = &mut task => Some(r),
    };
    let result = match finished {
        Some(r) => r,
        None => {
            eprintln!("runlet agent stopping");
            cancel.cancel();
            tokio::time::timeout(stop_wait, task)
                .await
                .context("waiting for the agent to stop")?
        }
    };
    result
        .context("the agent task")?
        .context("running the agent")?;
    Ok(())
}

/// `--server` as a URL the client can use: a scheme and a host, never a panic deep in the
/// client for `127.0.0.1:6443`.
fn server_url(server: &str) -> anyhow::Result<http::Uri> {
    let url: http::Uri = server
        .parse()
        .ok()
        .filter(|u: &http::Uri| {
            matches!(u.scheme_str(), Some("https" | "http")) && u.authority().is_some()
        })
        .ok_or_else(|| {
            anyhow::anyhow!("--server {server:?} is not a URL such as https://HOST:6443")
        })?;
    Ok(url)
}

/// One authenticated call before anything starts, so that a wrong token, address or CA ends
/// the agent with one clear message instead of after it said it joined.
async fn check_join(client: &kube::Client, server: &str, node: &str) -> anyhow::Result<()> {
    let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client.clone());
    match nodes.get_opt(node).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 401 => {
            anyhow::bail!(
                "{server} refused the join token (401 Unauthorized): use the token in the server's DATA_DIR/token"
            )
        }
        Err(kube::Error::Api(s)) => anyhow::bail!("{server} answered: {}", s.message),
        Err(e) => anyhow::bail!(
            "cannot reach the server at {server}: {}",
            crate::cli::error_chain(&e)
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{parse_log_size, server_url};

    #[test]
    fn the_server_must_be_a_url_with_a_scheme_and_a_host() {
        assert!(server_url("https://127.0.0.1:6443").is_ok());
        for bad in ["127.0.0.1:6443", "notaurl", "ftp://h:1", "https://"] {
            let err = server_url(bad).unwrap_err().to_string();
            assert!(
                err.contains("is not a URL such as https://HOST:6443"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn log_sizes_are_positive_quantities_of_bytes() {
        assert_eq!(parse_log_size("10Mi"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_log_size("1.5k"), Ok(1500));
        assert_eq!(
            parse_log_size("1m"),
            Ok(1),
            "a thousandth of a byte rounds up"
        );
        for (bad, why) in [
            ("0", "must be at least one byte"),
            ("-5Mi", "must be at least one byte"),
            ("abc", "is not a quantity"),
            ("100Ei", "larger than this machine can count"),
        ] {
            let err = parse_log_size(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
