//! runlet's node agent: the kubelet for batch work.
//!
//! [`Agent::run`] registers the Node, heartbeats its Lease, watches the pods bound to it
//! (`spec.nodeName=<node>`) and runs each in a [`pod::Worker`] through a [`runtime::Runtime`]
//! (the host-process runtime by default), writing pod status as the kubelet does and keeping
//! each container attempt's output in a CRI log file. [`AgentHandle::read_logs`] serves those
//! files for `GET pods/{name}/log`. [`localpath`] provisions PersistentVolumeClaims as
//! directories on this node and reclaims them when their claims are deleted.
//!
//! Invariants: the agent is a pure API client (a `kube::Client`); every task it starts is owned
//! by [`Agent::run`] and stopped when its cancellation token fires, and the processes of pods it
//! still runs are killed then; time is read from a [`Clock`].

pub mod events;
pub mod exec;
pub mod localpath;
pub mod logs;
pub mod node;
pub mod objects;
pub mod os;
pub mod pod;
pub mod runtime;

use futures::StreamExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher;
use logs::{LogError, LogStore, LogStream};
use node::HostInfo;
use runlet_api::clock::Clock;
use runlet_api::eventtype::EventType::Warning;
use runlet_api::logs::{LogBody, LogRequest, LogSource, LogSourceError};
use runlet_stream::{ExecRequest, ExecSession, ExecSource, ExecSourceError};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A failure that stops the agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The Node could not be registered.
    #[error(transparent)]
    Node(#[from] node::NodeError),
    /// The log endpoint could not start.
    #[error(transparent)]
    LogEndpoint(#[from] logs::serve::ServeError),
    /// The agent's directories could not be made.
    #[error("preparing {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    /// Another agent process runs on the same data directory (their pods' files would mix).
    #[error(
        "the data directory {path} is in use by another node agent (process {pid}); give this one its own --data-dir"
    )]
    DataDirInUse { path: String, pid: u32 },
}

/// The agent's settings (durations as upstream's kubelet defaults).
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub node_name: String,
    /// Pod sandboxes (`pods/`) and logs (`logs/`) live here.
    pub data_dir: PathBuf,
    /// How often a pod worker looks at the clock when nothing else happens.
    pub tick: Duration,
    /// Crash-loop backoff: first delay and cap (upstream 10 s and 5 min).
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Lease renewal period and duration (upstream 10 s and 40 s).
    pub heartbeat: Duration,
    pub lease_duration: Duration,
    /// How often the node status is rewritten (upstream reports every 5 min or on change; 1 min here).
    pub status_interval: Duration,
    pub max_pods: u32,
    /// How often a running pod's configMap, secret, downwardAPI and projected volumes are
    /// written again from the current ConfigMaps and Secrets (the kubelet's `syncFrequency`,
    /// upstream 1 min).
    pub sync_frequency: Duration,
    /// When container log files are rotated and how many are kept (the kubelet's
    /// `containerLogMaxSize` and `containerLogMaxFiles`, upstream 10 MiB and 5).
    pub log_rotation: logs::Rotation,
    /// Serve logs over HTTPS for an API server on another machine (see [`logs::serve`]);
    /// `None` when the API server reads them in-process through [`AgentHandle`].
    pub log_endpoint: Option<logs::serve::LogEndpointConfig>,
    /// When the agent is stopped, how long its running pods are given to stop gracefully
    /// (the kubelet's `shutdownGracePeriod`): each gets its `preStop` hook, SIGTERM and at most
    /// this much of its grace period, and is then reported `Failed` as the kubelet's graceful
    /// node shutdown reports it. `None`: its processes are killed at once (they cannot outlive
    /// the agent, whose children they are).
    pub shutdown_grace: Option<Duration>,
    /// Where the pods reach the API server (host and port), for the `KUBERNETES_SERVICE_*`
    /// variables of every container; `None` when it cannot be reached from them.
    pub api_server: Option<(String, u16)>,
    /// How fast events are written (the kubelet's `eventRecordQPS` and `eventBurst`, upstream
    /// 50 a second in bursts of 100); what does not fit in the queue meanwhile is dropped.
    pub event_rate: runlet_client::rate::Rate,
}

impl AgentConfig {
    pub fn new(node_name: &str, data_dir: PathBuf) -> Self {
        AgentConfig {
            node_name: node_name.to_string(),
            data_dir,
            tick: Duration::from_secs(1),
            backoff_initial: Duration::from_secs(10),
            backoff_max: Duration::from_secs(300),
            heartbeat: Duration::from_secs(10),
            lease_duration: Duration::from_secs(40),
            status_interval: Duration::from_secs(60),
            max_pods: 110,
            sync_frequency: Duration::from_secs(60),
            log_rotation: logs::Rotation::default(),
            log_endpoint: None,
            shutdown_grace: None,
            api_server: None,
            event_rate: runlet_client::rate::Rate::EVENTS,
        }
    }
}

/// What every pod worker shares.
pub struct Ctx {
    pub client: kube::Client,
    pub runtime: Arc<dyn runtime::Runtime>,
    pub clock: Arc<dyn Clock>,
    pub config: AgentConfig,
    pub logs: LogStore,
    pub events: events::EventSink,
    pub host: HostInfo,
    /// Host mount points the agent made for pods.
    pub mount_points: pod::mountpoints::MountPoints,
    /// The running containers, for `kubectl exec`.
    pub exec_targets: exec::ExecTargets,
    /// The API server's service variables (see [`pod::env::service_env`]).
    pub service_env: Vec<(String, String)>,
    /// The ConfigMaps and Secrets running pods name, watched while they do.
    pub config_maps: objects::ObjectCache<k8s_openapi::api::core::v1::ConfigMap>,
    pub secrets: objects::ObjectCache<k8s_openapi::api::core::v1::Secret>,
    /// Shared with the heartbeat: the shutdown's mark of the node is its last status write.
    pub node_status: node::StatusGate,
}

/// How long a starting agent waits for the process that claims its data directory to end.
const DATA_DIR_PATIENCE: Duration = Duration::from_secs(10);

/// The node agent.
pub struct Agent {
    client: kube::Client,
    clock: Arc<dyn Clock>,
    config: AgentConfig,
    runtime: Arc<dyn runtime::Runtime>,
    logs: LogStore,
    host: HostInfo,
    exec_targets: exec::ExecTargets,
    /// Where the pods come from, when not from a watch of this node's pods (see
    /// [`Agent::with_pod_events`]).
    pod_events: Option<PodSubscription>,
}

/// Subscribes to every pod's events when called (see [`Agent::with_pod_events`]).
pub type PodSubscription = Box<dyn FnOnce() -> PodEvents + Send>;

/// Every pod's watch events, each pod decoded once and shared: what the agent embedded in a
/// server reads from the server's pod feed instead of a watch of its own.
pub type PodEvents =
    futures::stream::BoxStream<'static, Result<watcher::Event<Arc<Pod>>, watcher::Error>>;

/// `event` as a watch of the pods bound to `node` (`spec.nodeName=<node>`) would give it: its
/// pod if bound there, shared with the feed's other readers; `None` for another node's pod.
fn on_node(event: watcher::Event<Arc<Pod>>, node: &str) -> Option<watcher::Event<Arc<Pod>>> {
    let ours = |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node);
    let own = |p: Arc<Pod>| ours(&p).then_some(p);
    Some(match event {
        watcher::Event::Init => watcher::Event::Init,
        watcher::Event::InitDone => watcher::Event::InitDone,
        watcher::Event::InitApply(p) => watcher::Event::InitApply(own(p)?),
        watcher::Event::Apply(p) => watcher::Event::Apply(own(p)?),
        watcher::Event::Delete(p) => watcher::Event::Delete(own(p)?),
    })
}

/// An event of the agent's own pod watch, its pod in an `Arc` as the shared feed's are.
fn shared(event: watcher::Event<Pod>) -> watcher::Event<Arc<Pod>> {
    match event {
        watcher::Event::Init => watcher::Event::Init,
        watcher::Event::InitDone => watcher::Event::InitDone,
        watcher::Event::InitApply(p) => watcher::Event::InitApply(Arc::new(p)),
        watcher::Event::Apply(p) => watcher::Event::Apply(Arc::new(p)),
        watcher::Event::Delete(p) => watcher::Event::Delete(Arc::new(p)),
    }
}

/// Gives this process, which runs the agent, the kubelet's `oom_score_adj` (`-999`): when the
/// machine runs out of memory, the kernel kills containers before it (and, the containers
/// being its children, killing it would end them all). Best effort: it needs root.
pub fn protect_from_oom_killer() {
    if let Err(e) = std::fs::write("/proc/self/oom_score_adj", pod::oom::AGENT.to_string()) {
        tracing::debug!(error = %e, "cannot lower the agent's oom_score_adj");
    }
}

/// Claims the data directory for this process: `DATA/agent.pid` names the process that runs on
/// it (its pid and start time, so a pid used again by another process is not taken for it),
/// and another live process there is refused. A pid file, not a file lock: a process restarting
/// its agent in-process, as the tests do, keeps its claim. A process that ended, crashed or
/// not, leaves a claim nobody holds, even while it is a zombie its parent has not reaped.
fn claim_data_dir(dir: &std::path::Path) -> Result<(), AgentError> {
    let data_dir_error = |source| AgentError::DataDir {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(data_dir_error)?;
    let path = dir.join("agent.pid");
    let own = std::process::id();
    let claim = std::fs::read_to_string(&path).unwrap_or_default();
    let mut fields = claim.split_whitespace();
    if let (Some(pid), Some(started)) = (
        fields.next().and_then(|p| p.parse::<u32>().ok()),
        fields.next(),
    ) && pid != own
        && live_start_time(&pid.to_string()).as_deref() == Some(started)
    {
        return Err(AgentError::DataDirInUse {
            path: dir.display().to_string(),
            pid,
        });
    }
    let started = start_time("self").unwrap_or_default();
    std::fs::write(&path, format!("{own} {started}\n")).map_err(data_dir_error)
}

/// When a process started (`/proc/<pid>/stat` field 22, clock ticks since boot); `None` for a
/// process that does not exist.
fn start_time(pid: &str) -> Option<String> {
    stat_fields(pid)?.get(19).cloned()
}

/// [`start_time`] of a process that has not ended: `None` for a zombie (`Z`) or a dead (`X`)
/// one, which holds nothing any more.
fn live_start_time(pid: &str) -> Option<String> {
    let fields = stat_fields(pid)?;
    let ended = matches!(fields.first().map(String::as_str), Some("Z" | "X"));
    if ended { None } else { fields.get(19).cloned() }
}

/// The fields of `/proc/<pid>/stat` from the third (the state) on.
fn stat_fields(pid: &str) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 2, the command, may hold spaces: count from after its closing parenthesis.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// [`claim_data_dir`], waiting up to `patience` for a process that holds it to end: a server
/// restarted right after a `kill -9` may start before the killed one has finished exiting.
async fn claim_data_dir_waiting(
    dir: &std::path::Path,
    patience: Duration,
) -> Result<(), AgentError> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match claim_data_dir(dir) {
            Err(AgentError::DataDirInUse { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            claimed => return claimed,
        }
    }
}

/// Reads the agent's logs; cheap to clone, usable while the agent runs.
#[derive(Clone)]
pub struct AgentHandle {
    logs: LogStore,
    clock: Arc<dyn Clock>,
    node: String,
    runtime: Arc<dyn runtime::Runtime>,
    exec_targets: exec::ExecTargets,
}

impl AgentHandle {
    /// The node this agent runs.
    pub fn node_name(&self) -> &str {
        &self.node
    }

    /// Streams the log `req` asks for (see [`LogStore::open`]).
    pub fn read_logs(&self, req: &LogRequest) -> Result<LogStream, LogError> {
        self.logs.open(req, self.clock.now_millis())
    }
}

/// The agent's logs as the API server's [`LogSource`] for its node: registered in-process by
/// whoever runs the agent next to the API server, and behind the agent's HTTPS endpoint
/// ([`logs::serve`]) for a remote one.
impl LogSource for AgentHandle {
    fn logs(&self, req: LogRequest) -> BoxFuture<'static, Result<LogBody, LogSourceError>> {
        if let Err(m) = req.check_names() {
            return Box::pin(async move { Err(LogSourceError::BadRequest(m)) });
        }
        let result = self.read_logs(&req).map_err(LogSourceError::from);
        Box::pin(async move { result })
    }
}

/// The agent's containers as the API server's [`ExecSource`] for its node (in-process, or
/// behind the agent's HTTPS endpoint).
impl ExecSource for AgentHandle {
    fn exec(&self, req: ExecRequest) -> BoxFuture<'static, Result<ExecSession, ExecSourceError>> {
        let result = exec::exec(&self.exec_targets, &self.runtime, req);
        Box::pin(async move { result })
    }
}

impl From<LogError> for LogSourceError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::NotFound(m) => LogSourceError::NotFound(m),
            LogError::BadRequest(m) => LogSourceError::BadRequest(m),
            other => LogSourceError::Internal(other.to_string()),
        }
    }
}

impl Agent {
    /// An agent running containers as host processes on this machine.
    pub fn new(client: kube::Client, clock: Arc<dyn Clock>, config: AgentConfig) -> Agent {
        let os: Arc<dyn os::Os> = Arc::new(os::linux::LinuxOs::new());
        Self::with_os(client, clock, config, os)
    }

    /// An agent over a given OS seam (tests use a fake).
    pub fn with_os(
        client: kube::Client,
        clock: Arc<dyn Clock>,
        config: AgentConfig,
        os: Arc<dyn os::Os>,
    ) -> Agent {
        let logs = LogStore::with_rotation(config.data_dir.join("logs"), config.log_rotation);
        let runtime = Arc::new(runtime::process::ProcessRuntime::new(
            os,
            logs.clone(),
            clock.clone(),
        ));
        Agent {
            client,
            clock,
            config,
            runtime,
            logs,
            host: HostInfo::detect(),
            exec_targets: exec::ExecTargets::default(),
            pod_events: None,
        }
    }

    /// Reads the pods from the events `subscribe` gives (every pod, as a shared pod feed
    /// gives them; the agent keeps those bound to its node) instead of watching its node's
    /// pods itself. It subscribes when it starts reading, once its node is registered, so that
    /// a feed shared with others never waits on an agent that does not read yet.
    pub fn with_pod_events(mut self, subscribe: PodSubscription) -> Agent {
        self.pod_events = Some(subscribe);
        self
    }

    /// What was detected about the host.
    pub fn host(&self) -> &HostInfo {
        &self.host
    }

    /// Overrides what was detected about the host (IP, CPUs, memory).
    pub fn set_host(&mut self, host: HostInfo) {
        self.host = host;
    }

    pub fn handle(&self) -> AgentHandle {
        AgentHandle {
            logs: self.logs.clone(),
            clock: self.clock.clone(),
            node: self.config.node_name.clone(),
            runtime: self.runtime.clone(),
            exec_targets: self.exec_targets.clone(),
        }
    }

    /// Runs until `cancel` fires: registers the node, heartbeats, runs bound pods. On return
    /// every process it started has been killed.
    pub async fn run(mut self, cancel: CancellationToken) -> Result<(), AgentError> {
        claim_data_dir_waiting(&self.config.data_dir, DATA_DIR_PATIENCE).await?;
        // What the containers of an earlier run started outlives them: it goes first.
        let termination_dir = self.config.data_dir.join(pod::TERMINATION_FILES);
        let termination_dir = std::fs::canonicalize(&termination_dir)
            .or_else(|_| std::path::absolute(&termination_dir))
            .unwrap_or(termination_dir);
        let killed = self.runtime.os().kill_left_behind(&termination_dir);
        if killed > 0 {
            tracing::info!(
                processes = killed,
                "killed what an earlier run's containers left behind"
            );
        }
        // Termination-message files are read when their attempt ends; none of a previous run
        // will be.
        let _ = std::fs::remove_dir_all(self.config.data_dir.join(pod::TERMINATION_FILES));
        // Hosts and resolver files are written again by the pods that run.
        for dir in [pod::HOSTS_FILES, pod::RESOLV_FILES] {
            let _ = std::fs::remove_dir_all(self.config.data_dir.join(dir));
        }
        for dir in [
            pod::SANDBOXES,
            "logs",
            pod::TERMINATION_FILES,
            pod::HOSTS_FILES,
            pod::RESOLV_FILES,
            pod::MEMORY,
        ] {
            let p = self.config.data_dir.join(dir);
            std::fs::create_dir_all(&p).map_err(|source| AgentError::DataDir {
                path: p.display().to_string(),
                source,
            })?;
        }
        let memory = self.mount_memory();
        let log_server = match &self.config.log_endpoint {
            Some(endpoint) => {
                let names = [
                    self.config.node_name.clone(),
                    self.host.hostname.clone(),
                    self.host.ip.clone(),
                ];
                let server = logs::serve::LogServer::bind(endpoint, &names).await?;
                self.host.kubelet_port = server.port();
                self.host.serving_certificate = Some(server.certificate_pem().to_string());
                Some(server)
            }
            None => None,
        };
        let node = node::register(
            &self.client,
            &self.config,
            &self.host,
            self.runtime.name(),
            self.clock.as_ref(),
        )
        .await?;
        tracing::info!(node = %self.config.node_name, ip = %self.host.ip, "node registered");
        let latest_node = Arc::new(std::sync::RwLock::new(node.clone()));
        let mut tasks = JoinSet::new();
        if let Some(server) = log_server {
            tracing::info!(port = server.port(), "serving logs over HTTPS");
            tasks.spawn(server.run(self.handle(), cancel.child_token()));
        }
        let (retention, retention_pods) = tokio::sync::mpsc::unbounded_channel();
        tasks.spawn(logs::retention::run(
            self.client.clone(),
            self.logs.clone(),
            retention_pods,
            cancel.child_token(),
        ));
        let (events, events_task) = events::EventSink::start(
            self.client.clone(),
            self.clock.clone(),
            "kubelet",
            &self.config.node_name,
            self.config.event_rate,
            cancel.child_token(),
        );
        tasks.spawn(async move {
            let _ = events_task.await;
        });
        let node_status = node::StatusGate::default();
        let heartbeat = node::Heartbeat {
            client: self.client.clone(),
            config: Arc::new(self.config.clone()),
            host: self.host.clone(),
            runtime: self.runtime.name(),
            clock: self.clock.clone(),
            events: events.clone(),
            latest: latest_node.clone(),
            status_gate: node_status.clone(),
        };
        tasks.spawn(heartbeat.run(cancel.child_token()));
        tasks.spawn(localpath::run_reclaimer(
            self.client.clone(),
            self.config.node_name.clone(),
            localpath::root(&self.config.data_dir),
            cancel.child_token(),
        ));
        let ctx = Arc::new(Ctx {
            client: self.client.clone(),
            runtime: self.runtime.clone(),
            clock: self.clock.clone(),
            config: self.config.clone(),
            logs: self.logs.clone(),
            events,
            host: self.host.clone(),
            mount_points: pod::mountpoints::MountPoints::recover(
                self.config.data_dir.join("mount-points"),
            ),
            exec_targets: self.exec_targets.clone(),
            service_env: self
                .config
                .api_server
                .as_ref()
                .map(|(host, port)| pod::env::service_env(host, *port))
                .unwrap_or_default(),
            config_maps: objects::ObjectCache::new(self.client.clone(), cancel.child_token()),
            secrets: objects::ObjectCache::new(self.client.clone(), cancel.child_token()),
            node_status,
        });
        let mut manager = Manager {
            ctx,
            workers: HashMap::new(),
            stopping: HashMap::new(),
            finished: HashSet::new(),
            running: JoinSet::new(),
            helpers: JoinSet::new(),
            relisted: None,
            listed_once: false,
            retention,
            node: latest_node,
            pod_events: self.pod_events.take(),
        };
        manager.run(&cancel).await;
        cancel.cancel();
        while tasks.join_next().await.is_some() {}
        if let Some(memory) = memory
            && let Err(e) = self.runtime.os().unmount(&memory)
        {
            tracing::warn!(path = %memory.display(), error = %e, "unmounting the pods' tmpfs");
        }
        Ok(())
    }

    /// Mounts the tmpfs of the pods' secret, downwardAPI and projected volumes (see
    /// [`pod::MEMORY`]), unless an earlier run left it mounted (its pods' directories go as
    /// stale ones do); its path when it is mounted, for unmounting at the end. A non-root
    /// agent mounts nothing, and the directory is on the data directory's disk.
    fn mount_memory(&self) -> Option<PathBuf> {
        let os = self.runtime.os();
        if !os.is_root() {
            return None;
        }
        let dir = self.config.data_dir.join(pod::MEMORY);
        use std::os::unix::fs::MetadataExt;
        let device = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.dev()).ok();
        let mounted = device(&dir) != device(&self.config.data_dir);
        if !mounted && let Err(e) = os.mount_tmpfs(&dir, None) {
            tracing::warn!(path = %dir.display(), error = %e, "mounting the pods' tmpfs");
            return None;
        }
        // Only the agent reads it; containers see their volumes through bind mounts.
        let _ = std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700));
        Some(dir)
    }
}

struct WorkerEntry {
    tx: watch::Sender<Arc<Pod>>,
    cancel: CancellationToken,
    /// Stops the pod gracefully for the agent's shutdown.
    shutdown: CancellationToken,
}

/// Watches the node's pods and keeps one worker per running pod.
struct Manager {
    ctx: Arc<Ctx>,
    workers: HashMap<String, WorkerEntry>,
    /// Workers of pods gone from the API that still stop their containers (see
    /// [`Manager::forget`]), each ended at once by its token when the agent stops.
    stopping: HashMap<String, CancellationToken>,
    /// Pods this agent ran to the end (ignored unless they are being deleted).
    finished: HashSet<String>,
    running: JoinSet<(String, pod::Outcome)>,
    /// Short API calls (finishing deletions, marking lost pods).
    helpers: JoinSet<()>,
    /// Pods seen during a relist, to find the ones that went away meanwhile.
    relisted: Option<HashSet<String>>,
    /// The first list is done (stale sandboxes were looked for).
    listed_once: bool,
    /// Log retention, fed from this watch of the node's pods.
    retention: tokio::sync::mpsc::UnboundedSender<watcher::Event<logs::retention::PodSeen>>,
    /// The node as the heartbeat last read it (labels, taints, allocatable), for admission.
    node: Arc<std::sync::RwLock<k8s_openapi::api::core::v1::Node>>,
    /// Every pod's events to read this node's from, instead of a watch of its own.
    pod_events: Option<PodSubscription>,
}

fn is_terminal(p: &Pod) -> bool {
    matches!(
        p.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

impl Manager {
    async fn run(&mut self, cancel: &CancellationToken) {
        let node = self.ctx.config.node_name.clone();
        let mut stream = match self.pod_events.take() {
            Some(subscribe) => subscribe()
                .filter_map(move |e| std::future::ready(e.map(|e| on_node(e, &node)).transpose()))
                .boxed(),
            None => {
                let api: Api<Pod> = Api::all(self.ctx.client.clone());
                let selector = format!("spec.nodeName={node}");
                let stream = watcher(api, watcher::Config::default().fields(&selector));
                kube::runtime::WatchStreamExt::default_backoff(stream)
                    .map(|e| e.map(shared))
                    .boxed()
            }
        };
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                ev = stream.next() => match ev {
                    Some(Ok(ev)) => self.on_event(ev),
                    Some(Err(e)) => tracing::warn!(error = %e, "watching pods"),
                    None => break,
                },
                Some(done) = self.running.join_next(), if !self.running.is_empty() => {
                    if let Ok((uid, outcome)) = done {
                        self.stopping.remove(&uid);
                        let still_there = self.workers.remove(&uid).is_some();
                        if outcome == pod::Outcome::Finished {
                            if still_there {
                                self.finished.insert(uid);
                            } else {
                                // Deleted while the worker was finishing.
                                self.remove_sandbox(&uid);
                            }
                        }
                    }
                }
                Some(_) = self.helpers.join_next(), if !self.helpers.is_empty() => {}
            }
        }
        // With pods or without, the node is marked not ready first: nothing new is bound to
        // a node whose agent is going, in the 50 s its Lease would take to expire.
        if let Some(grace) = self.ctx.config.shutdown_grace {
            self.shut_down_gracefully(grace).await;
        }
        for cancel in self
            .workers
            .values()
            .map(|w| &w.cancel)
            .chain(self.stopping.values())
        {
            cancel.cancel();
        }
        while self.running.join_next().await.is_some() {}
        self.helpers.abort_all();
        while self.helpers.join_next().await.is_some() {}
    }

    /// The kubelet's graceful node shutdown: the node is marked not ready (so nothing new is
    /// scheduled here), then every pod stops as a deleted one would, within `grace`, and is
    /// reported `Failed` with upstream's reason, message and `DisruptionTarget` condition.
    async fn shut_down_gracefully(&mut self, grace: Duration) {
        tracing::info!(
            pods = self.workers.len(),
            "stopping the node's pods gracefully"
        );
        node::mark_shutting_down(
            &self.ctx.client,
            &self.ctx.config.node_name,
            &*self.ctx.clock,
            &self.ctx.node_status,
        )
        .await;
        for w in self.workers.values() {
            w.shutdown.cancel();
        }
        // Their grace periods are cut to `grace`; the rest is for SIGKILL and the last write.
        let _ = tokio::time::timeout(grace + Duration::from_secs(5), async {
            while let Some(done) = self.running.join_next().await {
                if let Ok((uid, _)) = done {
                    self.workers.remove(&uid);
                }
            }
        })
        .await;
    }

    fn on_event(&mut self, ev: watcher::Event<Arc<Pod>>) {
        if let Some(seen) = logs::retention::PodSeen::event(&ev) {
            let _ = self.retention.send(seen);
        }
        match ev {
            watcher::Event::Init => self.relisted = Some(HashSet::new()),
            watcher::Event::InitApply(p) => {
                if let (Some(seen), Some(uid)) = (self.relisted.as_mut(), p.metadata.uid.clone()) {
                    seen.insert(uid);
                }
                self.on_apply(p);
            }
            watcher::Event::InitDone => {
                if let Some(seen) = self.relisted.take() {
                    let gone: Vec<String> = self
                        .workers
                        .keys()
                        .filter(|u| !seen.contains(*u))
                        .cloned()
                        .collect();
                    for uid in gone {
                        self.forget(&uid);
                    }
                    let vanished: Vec<String> = self
                        .finished
                        .iter()
                        .filter(|u| !seen.contains(*u))
                        .cloned()
                        .collect();
                    for uid in vanished {
                        self.forget(&uid);
                    }
                    if !std::mem::replace(&mut self.listed_once, true) {
                        self.remove_stale_sandboxes(&seen);
                    }
                }
            }
            watcher::Event::Apply(p) => self.on_apply(p),
            watcher::Event::Delete(p) => {
                // Its logs are left to `logs::retention`: a Job's stay while its record does.
                self.forget(&p.metadata.uid.clone().unwrap_or_default());
            }
        }
    }

    /// The pod is gone from the API: a worker still running stops its containers gracefully
    /// (told by its pod channel closing, as the entry goes) and then removes the sandbox, or
    /// the sandbox of a pod that ran to its end is removed.
    fn forget(&mut self, uid: &str) {
        if let Some(w) = self.workers.remove(uid) {
            self.stopping.insert(uid.to_string(), w.cancel);
        } else if self.finished.remove(uid) {
            self.remove_sandbox(uid);
        }
    }

    fn remove_sandbox(&mut self, uid: &str) {
        let data_dir = &self.ctx.config.data_dir;
        let [private, memory] = pod::volume_dirs(data_dir, uid);
        let dirs = [pod::sandbox_dir(data_dir, uid), private, memory];
        self.helpers.spawn(async move {
            let _ = tokio::task::spawn_blocking(move || {
                dirs.iter().for_each(|d| pod::remove_sandbox(d))
            })
            .await;
        });
    }

    /// At the first list: sandboxes (and volumes) of pods that went away while the agent was
    /// not running.
    fn remove_stale_sandboxes(&mut self, listed: &HashSet<String>) {
        for root in [pod::SANDBOXES, pod::PRIVATE, pod::MEMORY] {
            let stale: Vec<PathBuf> = std::fs::read_dir(self.ctx.config.data_dir.join(root))
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|uid| !listed.contains(uid))
                })
                .map(|e| e.path())
                .collect();
            for dir in stale {
                self.helpers.spawn(async move {
                    let _ = tokio::task::spawn_blocking(move || pod::remove_sandbox(&dir)).await;
                });
            }
        }
    }

    /// Whether an earlier run of this agent started the pod: its status says so, or its first
    /// container's first log file exists (a crash can come between starting the containers
    /// and the first status write; a `Never` pod must not run twice).
    fn started_before(&self, p: &Pod) -> bool {
        if p.status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .is_some()
        {
            return true;
        }
        let Some(spec) = p.spec.as_ref() else {
            return false;
        };
        let Some(first) = spec
            .init_containers
            .iter()
            .flatten()
            .chain(&spec.containers)
            .next()
        else {
            return false;
        };
        let meta = &p.metadata;
        self.ctx
            .logs
            .attempt_file(
                meta.namespace.as_deref().unwrap_or_default(),
                meta.name.as_deref().unwrap_or_default(),
                meta.uid.as_deref().unwrap_or_default(),
                &first.name,
                0,
            )
            .exists()
    }

    /// The kubelet's admission of a pod bound here without the scheduler (`spec.nodeName` set
    /// at creation: no `PodScheduled` condition from a binding), which nothing has checked
    /// against this node: `runlet_api::fit::admission_failure` against the pods running here.
    /// A pod the scheduler placed was checked against the same node and is not checked again,
    /// so a pod finishing here while the next is bound never makes the next one fail.
    fn admission_failure(&self, p: &Pod) -> Option<(String, String)> {
        let scheduled = p
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .any(|c| c.type_ == "PodScheduled" && c.status == "True");
        if scheduled {
            return None;
        }
        let mut used = runlet_api::fit::Resources::default();
        for w in self.workers.values() {
            used.add(&runlet_api::fit::pod_requests(&w.tx.borrow()));
        }
        let node = self.node.read().ok()?;
        runlet_api::fit::admission_failure(p, &node, &used)
    }

    /// Fails a pod the node cannot take, as the kubelet's `rejectPod` does: phase `Failed`,
    /// the admission's reason, "Pod was rejected: " and why, and a Warning event.
    fn reject(&mut self, p: &Pod, reason: &str, message: &str) {
        let Some(uid) = p.metadata.uid.clone() else {
            return;
        };
        self.finished.insert(uid);
        let message = format!("Pod was rejected: {message}");
        self.ctx.events.pod(p, Warning, reason, &message, None);
        let client = self.ctx.client.clone();
        let ns = p.metadata.namespace.clone().unwrap_or_default();
        let name = p.metadata.name.clone().unwrap_or_default();
        let patch = json!({"status": {"phase": "Failed", "reason": reason, "message": message}});
        self.helpers.spawn(async move {
            let api: Api<Pod> = Api::namespaced(client, &ns);
            if let Err(e) = api
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                tracing::warn!(pod = %name, error = %e, "rejecting a pod");
            }
        });
    }

    fn on_apply(&mut self, p: Arc<Pod>) {
        let Some(uid) = p.metadata.uid.clone() else {
            return;
        };
        if let Some(w) = self.workers.get(&uid) {
            w.tx.send_replace(p);
            return;
        }
        let deleting = p.metadata.deletion_timestamp.is_some();
        let ns = p.metadata.namespace.clone().unwrap_or_default();
        let name = p.metadata.name.clone().unwrap_or_default();
        if self.finished.contains(&uid) || is_terminal(&p) {
            self.finished.insert(uid.clone());
            if deleting {
                let client = self.ctx.client.clone();
                self.helpers.spawn(async move {
                    pod::finish_deletion(&client, &ns, &name, &uid).await;
                });
            }
            return;
        }
        let restartable = p
            .spec
            .as_ref()
            .and_then(|s| s.restart_policy.as_deref())
            .is_none_or(|r| r != "Never");
        let started = self.started_before(&p);
        let resume = started && restartable && !deleting;
        if started && !resume {
            // Started by an earlier run of this agent, whose processes are gone, and not to
            // be started again.
            self.finished.insert(uid.clone());
            // Its volumes go now, as those of any pod whose containers are done; its sandbox
            // stays with the pod.
            let volumes = pod::volume_dirs(&self.ctx.config.data_dir, &uid);
            self.helpers.spawn(async move {
                let _ = tokio::task::spawn_blocking(move || {
                    volumes.iter().for_each(|d| pod::remove_sandbox(d))
                })
                .await;
            });
            let client = self.ctx.client.clone();
            let mut status = serde_json::to_value(&p.status).unwrap_or_default();
            if let Some(spec) = p.spec.as_ref() {
                // Lost before its first status write: the containers that started have logs.
                let runtime = self.ctx.runtime.name();
                pod::status::with_every_container(&mut status, spec, |container| {
                    self.ctx
                        .logs
                        .attempt_file(&ns, &name, &uid, container, 0)
                        .exists()
                        .then(|| format!("{runtime}://{}", pod::attempt_id(&uid, container, 0)))
                });
            }
            let now = runlet_api::clock::rfc3339(self.ctx.clock.now_unix());
            self.helpers.spawn(async move {
                // Its last status says how it ended, even when it was being deleted: what
                // reads it as it goes (the Job controller, the PodRecord) sees it Failed with
                // its containers lost, not as it was running.
                let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
                let patch = json!({"status": pod::status::lost(&status, &now)});
                if let Err(e) = api
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    tracing::warn!(pod = %name, error = %e, "marking a lost pod failed");
                }
                if deleting {
                    pod::finish_deletion(&client, &ns, &name, &uid).await;
                }
            });
            return;
        }
        if !resume && let Some((reason, message)) = self.admission_failure(&p) {
            self.reject(&p, &reason, &message);
            return;
        }
        let (tx, rx) = watch::channel(p);
        let (cancel, shutdown) = (CancellationToken::new(), CancellationToken::new());
        let mut worker = pod::Worker::new(self.ctx.clone(), rx);
        if resume {
            worker = worker.resume();
        }
        let (token, shutdown_token) = (cancel.clone(), shutdown.clone());
        let uid2 = uid.clone();
        self.running
            .spawn(async move { (uid2, worker.run(token, shutdown_token).await) });
        self.workers.insert(
            uid,
            WorkerEntry {
                tx,
                cancel,
                shutdown,
            },
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_data_directory_is_refused_while_another_live_process_claims_it() {
        let dir = tempfile::tempdir().unwrap();
        claim_data_dir(dir.path()).unwrap();
        claim_data_dir(dir.path()).unwrap();
        // Another process's claim, while it lives.
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = other.id().to_string();
        let started = start_time(&pid).unwrap();
        std::fs::write(dir.path().join("agent.pid"), format!("{pid} {started}\n")).unwrap();
        assert!(matches!(
            claim_data_dir(dir.path()),
            Err(AgentError::DataDirInUse { .. })
        ));
        // The same pid with another start time is another process: no claim.
        std::fs::write(dir.path().join("agent.pid"), format!("{pid} 1\n")).unwrap();
        claim_data_dir(dir.path()).unwrap();
        std::fs::write(dir.path().join("agent.pid"), format!("{pid} {started}\n")).unwrap();
        other.kill().unwrap();
        other.wait().unwrap();
        claim_data_dir(dir.path()).unwrap();
    }

    #[test]
    fn a_zombie_holds_no_claim() {
        let dir = tempfile::tempdir().unwrap();
        let mut ended = std::process::Command::new("true").spawn().unwrap();
        let pid = ended.id().to_string();
        let started = start_time(&pid).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while live_start_time(&pid).is_some() {
            assert!(std::time::Instant::now() < deadline, "`true` never ended");
            std::thread::sleep(Duration::from_millis(10));
        }
        // Ended, not reaped: a zombie that still has its start time.
        assert_eq!(start_time(&pid).as_deref(), Some(started.as_str()));
        std::fs::write(dir.path().join("agent.pid"), format!("{pid} {started}\n")).unwrap();
        claim_data_dir(dir.path()).unwrap();
        ended.wait().unwrap();
    }
}
