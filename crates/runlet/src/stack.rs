//! The whole runlet system in one process: store, API server state, controllers under leader
//! election, and the embedded node agent. `runlet server` puts an HTTPS listener in front of
//! it; `runlet run` talks to it in-process.

use anyhow::Context;
use runlet_agent::{Agent, AgentConfig};
use runlet_apiserver::AppState;
use runlet_apiserver::auth::{PeerIdentity, TokenFile, User};
use runlet_apiserver::serviceaccount::TokenSigner;
use runlet_apiserver::state::{Clock, SystemClock};
use runlet_controllers::leader;
use runlet_controllers::podfeed::PodFeed;
use runlet_store::sqlite::SqliteStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How to start the stack.
pub struct StackOptions {
    pub data_dir: PathBuf,
    /// How long store history is kept for watches to resume from.
    pub history: Duration,
    /// How long an Event lives after it was last written (upstream's `--event-ttl`).
    pub event_ttl: Duration,
    /// The embedded agent's node name; `None` runs no agent.
    pub agent_node: Option<String>,
    /// The embedded agent's kubelet settings (`None`: the kubelet's defaults, see
    /// [`AgentConfig`]).
    pub kubelet: Option<crate::cmd::agent::KubeletArgs>,
    /// How fast the embedded agent and the scheduler write events (upstream's 50 a second in
    /// bursts of 100 by default).
    pub event_rate: runlet_client::rate::Rate,
    /// This instance's identity in leader election.
    pub identity: String,
    /// Bearer tokens accepted over HTTPS.
    pub tokens: TokenFile,
    /// Service account tokens for pods; `None` (an API server only in this process) gives
    /// pods none.
    pub service_accounts: Option<ServiceAccounts>,
}

/// What a pod needs to call the API server as its service account: the key tokens are
/// signed with, the CA that signed the server's certificate (published in every namespace as
/// `kube-root-ca.crt`), and where the server listens for the pods' `KUBERNETES_SERVICE_*`
/// variables (`None`: on no socket the pods could reach).
pub struct ServiceAccounts {
    pub signing_key_pem: String,
    pub ca_pem: String,
    pub api_server: Option<(String, u16)>,
}

impl ServiceAccounts {
    /// From the server's PKI.
    pub fn of(pki: &runlet_apiserver::pki::Pki, api_server: Option<(String, u16)>) -> Self {
        ServiceAccounts {
            signing_key_pem: pki.service_account_key_pem.clone(),
            ca_pem: pki.ca_cert_pem.clone(),
            api_server,
        }
    }
}

/// Upstream's `--event-ttl` default.
pub const DEFAULT_EVENT_TTL: Duration = Duration::from_secs(3600);

/// A running stack.
pub struct Stack {
    pub state: AppState,
    /// An administrator's client that calls the router in-process.
    pub client: kube::Client,
    cancel: CancellationToken,
    tasks: tokio::task::JoinSet<()>,
    /// How long [`Stack::stop`] waits: the agent's pods may take their shutdown grace.
    stop_wait: Duration,
}

impl Stack {
    /// Opens the store under `opts.data_dir` and starts every component.
    pub async fn start(opts: StackOptions) -> anyhow::Result<Stack> {
        std::fs::create_dir_all(&opts.data_dir)
            .with_context(|| format!("creating data directory {}", opts.data_dir.display()))?;
        let db = opts.data_dir.join("state.db");
        let store = SqliteStore::open(&db).with_context(|| format!("opening {}", db.display()))?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let state = AppState::new(Arc::new(store), opts.tokens, clock.clone(), true);
        let (root_ca, api_server) = match opts.service_accounts {
            Some(accounts) => {
                let signer = TokenSigner::from_pem(&accounts.signing_key_pem)
                    .context("loading the service account key")?;
                state.set_token_signer(signer);
                (Some(accounts.ca_pem), accounts.api_server)
            }
            None => (None, None),
        };
        runlet_apiserver::bootstrap(&state)
            .await
            .map_err(|e| anyhow::anyhow!(e.0.message.clone()))
            .context("bootstrapping")?;

        let cancel = CancellationToken::new();
        let mut tasks = tokio::task::JoinSet::new();
        let compaction = runlet_apiserver::compaction_loop(state.clone(), opts.history);
        let event_expiry = runlet_apiserver::eventttl::expiry_loop(state.clone(), opts.event_ttl);
        let token = cancel.child_token();
        tasks.spawn(async move {
            tokio::select! {
                _ = compaction => {}
                _ = event_expiry => {}
                _ = token.cancelled() => {}
            }
        });

        let client = in_process_client(&state);
        // One watch of every pod for the whole process: the controllers (while this server
        // leads) and the embedded agent read it, each pod decoded once.
        let mut pod_feed = PodFeed::new(client.clone());
        let pods = pod_feed.handle();
        tasks.spawn(pod_feed.run(cancel.child_token()));
        let (run_client, run_clock, run_pods) = (client.clone(), clock.clone(), pods.clone());
        tasks.spawn(leader::run_with_leader_election(
            client.clone(),
            leader::Config::new(opts.identity),
            clock.clone(),
            move |token| {
                runlet_controllers::run_controllers(
                    run_client.clone(),
                    run_clock.clone(),
                    root_ca.clone(),
                    run_pods.clone(),
                    opts.event_rate,
                    token,
                )
            },
            cancel.child_token(),
        ));
        if let Some(name) = opts.agent_node {
            let mut config = AgentConfig::new(&name, opts.data_dir.join("agent"));
            config.api_server = api_server;
            if let Some(kubelet) = &opts.kubelet {
                kubelet.apply(&mut config);
            }
            config.event_rate = opts.event_rate;
            runlet_agent::protect_from_oom_killer();
            let agent = Agent::new(client.clone(), clock.clone(), config)
                .with_pod_events(Box::new(move || pods.subscribe().into_stream()));
            state.register_local_agent(
                &name,
                runlet_apiserver::state::LocalAgent::new(agent.handle()),
            );
            let token = cancel.child_token();
            tasks.spawn(async move {
                if let Err(e) = agent.run(token).await {
                    tracing::error!(error = %e, "the embedded node agent stopped");
                }
            });
        }
        let stop_wait = Duration::from_secs(30)
            + opts
                .kubelet
                .as_ref()
                .map_or(Duration::ZERO, |k| k.shutdown_grace());
        Ok(Stack {
            state,
            client,
            cancel,
            tasks,
            stop_wait,
        })
    }

    /// Waits, until `deadline`, for `node` to take pods: Ready, and without the `not-ready`
    /// taint it registers with until the node lifecycle controller sees it Ready. A pod made
    /// before then would be reported unschedulable for a moment.
    pub async fn wait_node_schedulable(
        &self,
        node: &str,
        deadline: std::time::Instant,
    ) -> anyhow::Result<()> {
        let nodes: kube::Api<k8s_openapi::api::core::v1::Node> =
            kube::Api::all(self.client.clone());
        loop {
            let schedulable = nodes.get_opt(node).await?.is_some_and(|n| {
                let ready = n
                    .status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True");
                let tainted = n
                    .spec
                    .and_then(|s| s.taints)
                    .unwrap_or_default()
                    .iter()
                    .any(|t| t.key == "node.kubernetes.io/not-ready");
                ready && !tainted
            });
            if schedulable {
                return Ok(());
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "node {node} did not become Ready"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops every component, waiting (bounded) for them to finish; the agent kills the
    /// processes it started.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        let stopped = tokio::time::timeout(self.stop_wait, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if stopped.is_err() {
            eprintln!("some components did not stop in time");
        }
    }
}

/// A `kube::Client` calling the router directly, authenticated as an administrator, its
/// writes recorded as field manager `runlet`.
pub fn in_process_client(state: &AppState) -> kube::Client {
    let identity = PeerIdentity(Some(User {
        name: "system:runlet".into(),
        groups: vec!["system:masters".into(), "system:authenticated".into()],
    }));
    let service = tower::ServiceBuilder::new()
        .map_request(move |mut req: http::Request<kube::client::Body>| {
            req.extensions_mut().insert(identity.clone());
            // The field manager of the components' writes to applied objects.
            req.headers_mut()
                .entry(http::header::USER_AGENT)
                .or_insert(http::HeaderValue::from_static("runlet/in-process"));
            req
        })
        .service(runlet_apiserver::router(state.clone()));
    kube::Client::new(service, "default")
}

/// The host name, for node names and identities.
pub fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Gives this process a mount namespace of its own (see
/// [`runlet_agent::os::spawn::own_mount_namespace`]), so that what its node agent mounts
/// goes with it. Called by the commands that run an agent, while they have one thread.
pub fn own_mount_namespace() {
    if let Err(e) = runlet_agent::os::spawn::own_mount_namespace() {
        tracing::warn!(error = %e, "no mount namespace of its own: the agent's mounts are the host's");
    }
}

/// The agents' join token: `DIR/token`, created (mode 0600) on first start.
pub fn join_token(dir: &Path) -> anyhow::Result<String> {
    secret_file(&dir.join("token"))
}

/// Reads a random token kept in `path`, creating it (mode 0600, 32 hex digits) when missing.
pub fn secret_file(path: &Path) -> anyhow::Result<String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    match std::fs::read_to_string(path) {
        Ok(t) if !t.trim().is_empty() => return Ok(t.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
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
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(f, "{token}").with_context(|| format!("writing {}", path.display()))?;
    Ok(token)
}

/// Installs the stderr log subscriber, filtered by `RUNLET_LOG` (default `default`).
pub fn init_tracing(default: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUNLET_LOG")
                .unwrap_or_else(|_| default.into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
}
