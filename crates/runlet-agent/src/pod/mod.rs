//! The pod worker: one task per pod bound to this node, running it as the kubelet does.
//!
//! Stages: set up the sandbox (volumes) → init containers in order (sidecars, i.e. init
//! containers with `restartPolicy: Always`, are started and left running) → main containers
//! together, restarted per the pod's `restartPolicy` with crash-loop backoff → sidecars stopped
//! once every main container is done → final status. Deletion (a `deletionTimestamp`) or
//! `activeDeadlineSeconds` switch to killing: SIGTERM to every container's main process (as runc
//! sends it), SIGKILL to its whole process group when the grace period is over. Durations are
//! measured on the agent's [`Clock`]; the worker wakes at least every `tick` to look at it.
//! Status is written after each batch of changes, so a pod that ends at once costs one or two
//! writes.
//!
//! [`Clock`]: runlet_api::clock::Clock

mod atomic;
mod containers;
pub mod env;
pub mod etchosts;
mod handlers;
pub mod mountpoints;
pub mod oom;
pub mod probe;
pub mod quantity;
pub mod resolvconf;
pub mod state;
pub mod status;
pub mod tokens;
pub mod volumes;

use crate::Ctx;
use crate::os::Signal;
use crate::runtime::Exited;
use env::EnvSources;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{Api, DeleteParams, Patch, Preconditions};
use runlet_api::eventtype::EventType::{Normal, Warning};
use serde_json::{Value, json};
use state::{Kind, Slot, State, Terminated};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use volumes::PodVolumes;

/// Upstream's cap on a termination message, and the log tail used as a fallback.
const MAX_TERMINATION_MESSAGE: usize = 4096;
/// Where a container writes its termination message unless it names a path.
const DEFAULT_TERMINATION_PATH: &str = "/dev/termination-log";
const FALLBACK_LINES: usize = 80;
const FALLBACK_BYTES: usize = 2048;
/// How long the status write that follows a container start waits for that container to exit.
/// Most batch containers that end quickly end within it, and then the pod costs one status
/// write (its end) instead of two (start and end); a container that runs on is reported
/// running this much later.
const QUICK_EXIT_WINDOW: Duration = Duration::from_millis(10);

/// Upstream's `nodeShutdownMessage`, for a pod stopped because its node shuts down.
pub const NODE_SHUTDOWN_MESSAGE: &str = "Pod was terminated in response to imminent node shutdown.";

/// The least time a stopping container gets between SIGTERM and SIGKILL: the kubelet's
/// `killContainer` gives at least `minimumGracePeriodInSeconds`, whatever the pod's grace
/// period (which `calculateEffectiveGracePeriod` makes at least a second).
const MINIMUM_KILL_GRACE_MS: i64 = 2000;
/// How long a container whose configuration failed (a ConfigMap or Secret its environment
/// names is missing) waits before the ConfigMaps and Secrets are read again and it is retried:
/// the kubelet's pod-worker back-off after a failed sync (`backOffPeriod`).
const CONFIG_ERROR_RETRY_MS: i64 = 10_000;
/// How often the disk use of size-limited emptyDirs is looked at: the kubelet's eviction
/// manager's `monitoringInterval`.
const USAGE_CHECK_INTERVAL_MS: i64 = 10_000;

/// What the worker is doing.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stage {
    /// Running init container `n` (or starting sidecar `n`).
    Init(usize),
    Main,
    /// Main containers are done; sidecars are being stopped.
    StopSidecars {
        deadline_ms: i64,
    },
    /// Deletion or deadline: everything is being stopped.
    Killing {
        deadline_ms: i64,
    },
    Done,
}

/// How the worker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The pod reached a terminal phase (and its deletion was finished if asked for).
    Finished,
    /// The agent is shutting down; processes were killed, nothing written.
    Cancelled,
    /// The pod disappeared from the API.
    Gone,
}

/// A running pod.
pub struct Worker {
    ctx: Arc<Ctx>,
    pod: Arc<Pod>,
    rx: watch::Receiver<Arc<Pod>>,
    ns: String,
    name: String,
    uid: String,
    slots: Vec<Slot>,
    stage: Stage,
    exits: JoinSet<(usize, u32, i64, Exited)>,
    /// Probe and lifecycle hook runs under way (see [`handlers`]).
    handlers: JoinSet<handlers::HandlerDone>,
    start_time: Option<i64>,
    volumes: Option<PodVolumes>,
    /// The containers' working directory (unless they name one), kept until the pod is deleted.
    sandbox: PathBuf,
    /// Volumes and termination-message files, made only when the pod has them and removed when
    /// its containers are done. Apart from `sandbox`, so that a pod without volumes costs one
    /// directory, and so that nothing in the working directory reaches a volume's source.
    private: PathBuf,
    /// Its secret, downwardAPI and projected volumes: its directory in the agent's tmpfs (see
    /// [`MEMORY`]).
    memory: PathBuf,
    /// Pod-level failure reason/message (DeadlineExceeded, mount namespace...).
    reason: Option<String>,
    message: Option<String>,
    /// The pod fails whatever its containers did.
    failed: bool,
    /// Why the agent itself stopped the pod (its node shutting down): a `DisruptionTarget`.
    disruption: Option<&'static str>,
    /// The terminal phase another writer (PodGC, a controller) gave the pod in the API: a pod
    /// never leaves a terminal phase, so it is kept, and the pod is stopped, as the kubelet's
    /// `generateAPIPodStatus` keeps it and its pod worker then terminates the pod.
    terminal_in_api: Option<&'static str>,
    /// The pod is gone from the API (a forced deletion, or one with no grace period): its
    /// containers are stopped all the same, and nothing more is written for it.
    removed: bool,
    conditions: status::Conditions,
    last_written: Option<Value>,
    /// The resource version `last_written` gave the pod: a pod update at or before it is an
    /// echo of this worker's own writes.
    written_rv: u64,
    config_maps: HashMap<String, ConfigMap>,
    secrets: HashMap<String, Secret>,
    /// The names of the ConfigMaps and Secrets it holds in the agent's watches.
    held: Option<(Vec<String>, Vec<String>)>,
    claims: HashMap<String, Result<crate::localpath::ClaimMount, String>>,
    /// The service account tokens of its projected volumes.
    tokens: tokens::PodTokens,
    /// A container started since the last status write (see [`QUICK_EXIT_WINDOW`]).
    started_since_write: bool,
    /// A container could not be configured from the ConfigMaps and Secrets read so far: read
    /// them again before its retry.
    refs_stale: bool,
    /// Host mount points this pod holds claims on (see [`mountpoints`]).
    claimed_mount_points: Vec<PathBuf>,
    /// When the pod's volumes of files are next written again (see [`Worker::sync_volumes`]);
    /// `None` for a pod without them.
    next_volume_sync_ms: Option<i64>,
    /// When the disk use of the pod's size-limited emptyDirs is looked at next.
    next_usage_check_ms: Option<i64>,
    /// The pod's `/etc/hosts` on the host, once written (see [`etchosts`]).
    hosts_file: Option<PathBuf>,
    /// The pod's `/etc/resolv.conf` on the host, once written (see [`resolvconf`]).
    resolv_file: Option<PathBuf>,
}

fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

impl Worker {
    pub fn new(ctx: Arc<Ctx>, rx: watch::Receiver<Arc<Pod>>) -> Worker {
        let pod = rx.borrow().clone();
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let mut slots = Vec::new();
        if let Some(spec) = &pod.spec {
            for c in spec.init_containers.iter().flatten() {
                let kind = if c.restart_policy.as_deref() == Some("Always") {
                    Kind::Sidecar
                } else {
                    Kind::Init
                };
                slots.push(Slot::new(c.clone(), kind, "PodInitializing"));
            }
            let main_reason = if slots.is_empty() {
                "ContainerCreating"
            } else {
                "PodInitializing"
            };
            for c in &spec.containers {
                slots.push(Slot::new(c.clone(), Kind::Main, main_reason));
            }
        }
        if let Some(first) = slots.first_mut() {
            first.state = State::Waiting {
                reason: if first.kind == Kind::Main {
                    "ContainerCreating"
                } else {
                    "PodInitializing"
                }
                .into(),
                message: None,
            };
        }
        let existing = serde_json::to_value(&pod.status)
            .ok()
            .and_then(|s| s["conditions"].as_array().cloned())
            .unwrap_or_default();
        let sandbox = sandbox_dir(&ctx.config.data_dir, &uid);
        let private = private_dir(&ctx.config.data_dir, &uid);
        let memory = memory_dir(&ctx.config.data_dir, &uid);
        Worker {
            conditions: status::Conditions::from_existing(&existing),
            ctx,
            pod,
            rx,
            ns,
            name,
            uid,
            slots,
            stage: Stage::Init(0),
            exits: JoinSet::new(),
            handlers: JoinSet::new(),
            start_time: None,
            volumes: None,
            sandbox,
            private,
            memory,
            reason: None,
            message: None,
            failed: false,
            disruption: None,
            terminal_in_api: None,
            removed: false,
            last_written: None,
            written_rv: 0,
            config_maps: HashMap::new(),
            secrets: HashMap::new(),
            held: None,
            claims: HashMap::new(),
            tokens: tokens::PodTokens::default(),
            started_since_write: false,
            refs_stale: false,
            claimed_mount_points: Vec::new(),
            next_volume_sync_ms: None,
            next_usage_check_ms: None,
            hosts_file: None,
            resolv_file: None,
        }
    }

    /// A worker for a pod an earlier run of the agent started, whose processes went with it,
    /// and whose restart policy restarts them: as the kubelet does when it finds a pod's
    /// sandbox gone (`computePodActions`), every container runs again from the first init
    /// container, each that had started counting one restart, its lost attempt its last state
    /// (with `OnFailure`, a main container that had succeeded stays so).
    pub fn resume(mut self) -> Worker {
        let on_failure = restart_policy(&self.pod) == "OnFailure";
        let now = self.ctx.clock.now_unix();
        let status = serde_json::to_value(&self.pod.status).unwrap_or_default();
        self.start_time = status["startTime"]
            .as_str()
            .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
            .map(|t| t.as_second());
        let now_text = runlet_api::clock::rfc3339(now);
        let seconds = |v: &Value| {
            v.as_str()
                .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
                .map_or(now, |t| t.as_second())
        };
        for slot in &mut self.slots {
            let Some(cs) = ["initContainerStatuses", "containerStatuses"]
                .iter()
                .filter_map(|k| status[*k].as_array())
                .flatten()
                .find(|cs| cs["name"] == slot.name())
            else {
                continue;
            };
            let terminated = if cs["state"]["terminated"].is_object() {
                cs["state"]["terminated"].clone()
            } else if cs["state"]["running"].is_object() {
                status::lost_attempt(cs, &now_text)
            } else {
                cs["lastState"]["terminated"].clone()
            };
            if !terminated.is_object() {
                continue;
            }
            let ended = Terminated {
                exit_code: terminated["exitCode"]
                    .as_i64()
                    .and_then(|c| i32::try_from(c).ok())
                    .unwrap_or(137),
                signal: None,
                reason: terminated["reason"].as_str().unwrap_or("Error").to_string(),
                message: terminated["message"].as_str().map(str::to_string),
                started_at: seconds(&terminated["startedAt"]),
                finished_at: seconds(&terminated["finishedAt"]),
                container_id: terminated["containerID"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            };
            if slot.kind == Kind::Main && on_failure && ended.exit_code == 0 {
                slot.state = State::Terminated(ended);
                continue;
            }
            slot.restart_count = cs["restartCount"]
                .as_i64()
                .and_then(|r| i32::try_from(r).ok())
                .unwrap_or(0);
            slot.attempts = 1;
            slot.last = Some(ended);
            if slot.kind != Kind::Main {
                // Due at once; main containers are started when the init containers are done.
                slot.start_at = Some(0);
            }
        }
        self
    }

    fn now_ms(&self) -> i64 {
        self.ctx.clock.now_millis()
    }

    /// Runs the pod to its end; `shutdown` stops it gracefully for the agent's shutdown.
    pub async fn run(mut self, cancel: CancellationToken, shutdown: CancellationToken) -> Outcome {
        if self.start_time.is_none() {
            self.start_time = Some(self.ctx.clock.now_unix());
        }
        let outcome = self.run_inner(&cancel, &shutdown).await;
        if outcome == Outcome::Cancelled || outcome == Outcome::Gone {
            self.kill_all(Signal::Kill);
            // Reap what was killed; bounded by the kill.
            let _ = tokio::time::timeout(Duration::from_secs(10), async {
                while self.exits.join_next().await.is_some() {}
            })
            .await;
        }
        // Probe and hook runs end with their containers' attempts, or their own timeouts.
        for s in &mut self.slots {
            s.forget_attempt();
        }
        self.ctx.exec_targets.pod_gone(&self.uid);
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            while self.handlers.join_next().await.is_some() {}
        })
        .await;
        // A pod that ran to its end keeps its sandbox (the containers' working directory) until
        // it is deleted, as the kubelet keeps a pod's directory; see `remove_sandbox`.
        self.teardown_volumes();
        self.release_config_sources();
        if outcome != Outcome::Finished {
            remove_sandbox(&self.sandbox);
        }
        outcome
    }

    async fn run_inner(
        &mut self,
        cancel: &CancellationToken,
        shutdown: &CancellationToken,
    ) -> Outcome {
        if let Err(outcome) = self.setup().await {
            return outcome;
        }
        loop {
            if self.refs_stale && self.start_is_due(self.now_ms()) {
                self.fetch_refs().await;
                self.refs_stale = false;
            }
            if self.volume_sync_is_due() {
                self.sync_volumes().await;
            }
            self.step();
            // Collect exits that are already in before writing, to coalesce.
            while let Some(Some(done)) = futures::FutureExt::now_or_never(self.exits.join_next()) {
                if let Ok((idx, attempt, started, exited)) = done {
                    self.on_exit(idx, attempt, started, exited);
                }
                self.step();
            }
            if self.stage == Stage::Done {
                return self.finish().await;
            }
            self.run_due_probes();
            if std::mem::take(&mut self.started_since_write)
                && let Ok(Some(done)) =
                    tokio::time::timeout(QUICK_EXIT_WINDOW, self.exits.join_next()).await
            {
                if let Ok((idx, attempt, started, exited)) = done {
                    self.on_exit(idx, attempt, started, exited);
                }
                continue;
            }
            if let Err(outcome) = self.write_status().await {
                return outcome;
            }
            let wake = self.next_wake();
            tokio::select! {
                _ = cancel.cancelled() => return Outcome::Cancelled,
                _ = shutdown.cancelled(), if self.disruption.is_none() => self.stop_for_node_shutdown(),
                Some(done) = self.exits.join_next(), if !self.exits.is_empty() => {
                    if let Ok((idx, attempt, started, exited)) = done {
                        self.on_exit(idx, attempt, started, exited);
                    }
                }
                Some(Ok(done)) = self.handlers.join_next(), if !self.handlers.is_empty() => {
                    self.on_handler_done(done);
                }
                changed = self.rx.changed(), if !self.removed => {
                    if changed.is_err() {
                        self.on_removed();
                        continue;
                    }
                    let pod = self.rx.borrow_and_update().clone();
                    self.on_pod_update(pod);
                }
                _ = tokio::time::sleep(wake) => {}
            }
        }
    }

    /// How long to sleep: until the next restart or kill deadline is due, at most one tick.
    fn next_wake(&self) -> Duration {
        let now = self.now_ms();
        // Starts wait for a running postStart hook, whose end wakes the worker.
        let starts_wait = self.post_start_running();
        let mut due: Vec<i64> = self
            .slots
            .iter()
            .flat_map(|s| {
                let probes = s
                    .probes
                    .iter()
                    .filter(|p| !p.in_flight)
                    .map(|p| p.next_at_ms);
                let shown = s.backoff_shown_at.as_ref().map(|(at, _)| *at);
                s.start_at
                    .filter(|_| !starts_wait)
                    .into_iter()
                    .chain(s.kill_at)
                    .chain(s.next_backoff_event_ms)
                    .chain(shown.filter(|at| *at < i64::MAX))
                    .chain(probes)
            })
            .collect();
        match self.stage {
            Stage::Killing { deadline_ms } | Stage::StopSidecars { deadline_ms } => {
                due.push(deadline_ms)
            }
            _ => {}
        }
        if self.runs_containers() {
            due.extend(self.next_volume_sync_ms);
            due.extend(self.next_usage_check_ms);
        }
        let tick = self.ctx.config.tick;
        match due.into_iter().min() {
            Some(t) if t > now => Duration::from_millis((t - now) as u64).min(tick),
            Some(_) => Duration::from_millis(1),
            None => tick,
        }
    }

    /// Fetches what the pod references and makes its volumes.
    async fn setup(&mut self) -> Result<(), Outcome> {
        let _ = std::fs::create_dir_all(&self.sandbox);
        let _ = std::fs::set_permissions(
            &self.sandbox,
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        );
        self.fetch_refs().await;
        let mut retry = MountRetry::new(self.ctx.config.tick);
        loop {
            let result = {
                let sources = self.sources();
                volumes::prepare(
                    self.ctx.runtime.os(),
                    &self.private,
                    &self.memory,
                    &self.pod,
                    &sources,
                )
            };
            match result {
                Ok(v) => {
                    self.volumes = Some(v);
                    if !volumes::size_limits(&self.pod).is_empty()
                        || volumes::pod_storage_limit(&self.pod).is_some()
                    {
                        self.next_usage_check_ms =
                            Some(self.now_ms().saturating_add(USAGE_CHECK_INTERVAL_MS));
                    }
                    if volumes::has_files(&self.pod) {
                        self.next_volume_sync_ms =
                            Some(self.now_ms().saturating_add(self.sync_frequency_ms()));
                    }
                    return Ok(());
                }
                Err(e) => {
                    let msg = format!("MountVolume.SetUp failed {e}");
                    tracing::info!(pod = %self.name, namespace = %self.ns, error = %e, "volume setup failed");
                    self.ctx
                        .events
                        .pod(&self.pod, Warning, "FailedMount", &msg, None);
                    self.write_status().await?;
                    // Wait for the pod to change (deleted?) or the backoff, then retry.
                    tokio::select! {
                        changed = self.rx.changed() => {
                            if changed.is_err() {
                                return Err(Outcome::Gone);
                            }
                            self.pod = self.rx.borrow_and_update().clone();
                            self.notice_status_written_by_others();
                            if self.pod.metadata.deletion_timestamp.is_some() {
                                self.stage = Stage::Done;
                                self.failed = true;
                                return Ok(());
                            }
                        }
                        _ = tokio::time::sleep(retry.next_delay()) => {}
                    }
                    self.fetch_refs().await;
                }
            }
        }
    }

    /// Loads the ConfigMaps and Secrets the pod's env and volumes name, asks for its service
    /// account tokens, and finds its claims' volumes.
    async fn fetch_refs(&mut self) {
        self.fetch_config_sources().await;
        let now = self.now_ms();
        self.tokens.fetch(&self.ctx.client, &self.pod, now).await;
        self.resolve_claims().await;
    }

    /// Loads the ConfigMaps and Secrets the pod's env and volumes name (a missing one is left
    /// out) from the agent's watches of them, taking hold of them the first time. Whether every
    /// one was answered, found or not; when one was not, the ones loaded before are kept, so a
    /// watch that has not listed yet never looks like a deleted ConfigMap.
    async fn fetch_config_sources(&mut self) -> bool {
        let (mut cms, mut secrets) = volumes::referenced(&self.pod);
        for s in &self.slots {
            let (c, sec) = env::referenced(&s.container);
            cms.extend(c);
            secrets.extend(sec);
        }
        cms.sort();
        cms.dedup();
        secrets.sort();
        secrets.dedup();
        // Containers added later (ephemeral ones) may name more.
        let held = self.held.get_or_insert_default();
        for name in &cms {
            if !held.0.contains(name) {
                self.ctx.config_maps.hold(&self.ns, name);
                held.0.push(name.clone());
            }
        }
        for name in &secrets {
            if !held.1.contains(name) {
                self.ctx.secrets.hold(&self.ns, name);
                held.1.push(name.clone());
            }
        }
        let (mut config_maps, mut found_secrets) = (HashMap::new(), HashMap::new());
        for name in &cms {
            match self.ctx.config_maps.get(&self.ns, name, SOURCE_WAIT).await {
                Ok(Some(cm)) => {
                    config_maps.insert(name.clone(), ConfigMap::clone(&cm));
                }
                Ok(None) => {}
                Err(()) => return false,
            }
        }
        for name in &secrets {
            match self.ctx.secrets.get(&self.ns, name, SOURCE_WAIT).await {
                Ok(Some(s)) => {
                    found_secrets.insert(name.clone(), Secret::clone(&s));
                }
                Ok(None) => {}
                Err(()) => return false,
            }
        }
        self.config_maps = config_maps;
        self.secrets = found_secrets;
        true
    }

    /// Lets go of the ConfigMaps and Secrets the pod held.
    fn release_config_sources(&mut self) {
        if let Some((cms, secrets)) = self.held.take() {
            for name in &cms {
                self.ctx.config_maps.release(&self.ns, name);
            }
            for name in &secrets {
                self.ctx.secrets.release(&self.ns, name);
            }
        }
    }

    /// Finds the host directory of each claim the pod's volumes use (an ephemeral volume's
    /// only if it was made for this pod).
    async fn resolve_claims(&mut self) {
        self.claims.clear();
        let root = crate::localpath::root(&self.ctx.config.data_dir);
        for used in runlet_api::podclaims::of_pod(&self.pod) {
            let path = crate::localpath::claim_path(
                &self.ctx.client,
                &self.ctx.events,
                &self.ctx.config.node_name,
                &root,
                &self.ns,
                &used.claim,
                used.ephemeral.then_some(&self.pod),
            )
            .await
            .map_err(|e| e.to_string());
            self.claims.insert(used.claim, path);
        }
    }

    fn sync_frequency_ms(&self) -> i64 {
        i64::try_from(self.ctx.config.sync_frequency.as_millis()).unwrap_or(i64::MAX)
    }

    /// Whether the pod's containers run (or are being started): its volumes are in use.
    fn runs_containers(&self) -> bool {
        matches!(
            self.stage,
            Stage::Init(_) | Stage::Main | Stage::StopSidecars { .. }
        )
    }

    fn volume_sync_is_due(&self) -> bool {
        self.runs_containers()
            && self
                .next_volume_sync_ms
                .is_some_and(|due| self.now_ms() >= due)
    }

    /// Writes the pod's configMap, secret, downwardAPI and projected volumes again from the
    /// current ConfigMaps and Secrets, as the kubelet's volume manager does at each sync of a
    /// running pod (every `syncFrequency`, and at once when the pod changed). A volume that
    /// cannot be written keeps its files and gets a `FailedMount` event, as upstream's remount
    /// does; when the API did not answer, nothing is written until the next sync.
    async fn sync_volumes(&mut self) {
        self.next_volume_sync_ms = Some(self.now_ms().saturating_add(self.sync_frequency_ms()));
        if !self.fetch_config_sources().await {
            return;
        }
        let now = self.now_ms();
        self.tokens.fetch(&self.ctx.client, &self.pod, now).await;
        let errors = match &self.volumes {
            Some(v) => volumes::refresh(&self.pod, &self.sources(), v),
            None => Vec::new(),
        };
        for e in errors {
            tracing::info!(pod = %self.name, namespace = %self.ns, error = %e, "volume update failed");
            let msg = format!("MountVolume.SetUp failed {e}");
            self.ctx
                .events
                .pod(&self.pod, Warning, "FailedMount", &msg, None);
        }
    }

    /// The pod is gone from the API, its containers maybe still running: they are stopped as a
    /// deleted pod's are, SIGTERM (after `preStop`) and SIGKILL at the end of the grace period,
    /// as the kubelet stops a pod removed from the API; with nothing left to write to, the
    /// worker then ends.
    fn on_removed(&mut self) {
        if std::mem::replace(&mut self.removed, true) {
            return;
        }
        if !self.terminating() {
            self.begin_kill(self.grace_ms());
        }
    }

    /// Takes a newer version of the pod from the API. A change of its labels or annotations
    /// reaches its downward API files at once, as the kubelet syncs a pod that changed.
    fn on_pod_update(&mut self, pod: Arc<Pod>) {
        let metadata_changed = self.next_volume_sync_ms.is_some()
            && (pod.metadata.labels != self.pod.metadata.labels
                || pod.metadata.annotations != self.pod.metadata.annotations)
            && volumes::reads_pod_metadata(&pod);
        self.pod = pod;
        self.notice_status_written_by_others();
        self.shorten_grace();
        self.keep_terminal_phase_of_others();
        if metadata_changed {
            self.next_volume_sync_ms = Some(self.now_ms());
        }
    }

    /// A terminal phase in the API while the containers still run was written by someone
    /// else (this worker writes one only when they are done): keep it and stop the pod.
    fn keep_terminal_phase_of_others(&mut self) {
        if self.terminal_in_api.is_some() || self.stage == Stage::Done {
            return;
        }
        let phase = match self.pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
            Some("Failed") => "Failed",
            Some("Succeeded") => "Succeeded",
            _ => return,
        };
        self.terminal_in_api = Some(phase);
        if !self.terminating() {
            self.begin_kill(self.grace_ms());
        }
    }

    /// The pod's `/etc/hosts` on the host, written the first time a container needs it.
    fn hosts_file(&mut self, hostname: &str) -> std::io::Result<PathBuf> {
        if let Some(path) = &self.hosts_file {
            return Ok(path.clone());
        }
        let path = self.ctx.config.data_dir.join(HOSTS_FILES).join(&self.uid);
        std::fs::write(
            &path,
            if etchosts::host_network(&self.pod) {
                etchosts::host_network_content(&self.pod, &std::fs::read_to_string(etchosts::PATH)?)
            } else {
                etchosts::content(&self.pod, hostname, &self.ctx.host.ip)
            },
        )?;
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        self.hosts_file = Some(path.clone());
        Ok(path)
    }

    /// The pod's `/etc/resolv.conf` on the host, written the first time a container needs it.
    fn resolv_file(&mut self) -> std::io::Result<PathBuf> {
        if let Some(path) = &self.resolv_file {
            return Ok(path.clone());
        }
        let path = self.ctx.config.data_dir.join(RESOLV_FILES).join(&self.uid);
        let node = std::fs::read_to_string(resolvconf::PATH).unwrap_or_default();
        std::fs::write(&path, resolvconf::content(&self.pod, &node))?;
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        self.resolv_file = Some(path.clone());
        Ok(path)
    }

    /// The host file bound at the termination-message path of `container`'s `attempt`.
    fn termination_file(&self, container: &str, attempt: u32) -> PathBuf {
        self.ctx
            .config
            .data_dir
            .join(TERMINATION_FILES)
            .join(format!("{}-{container}-{attempt}", self.uid))
    }

    fn sources(&self) -> EnvSources<'_> {
        EnvSources {
            host_ip: &self.ctx.host.ip,
            pod_ip: &self.ctx.host.ip,
            allocatable_cpu_millis: self.ctx.host.cpu_millis,
            allocatable_memory_bytes: self.ctx.host.allocatable_memory_bytes(),
            data_dir: Some(&self.ctx.config.data_dir),
            config_maps: &self.config_maps,
            secrets: &self.secrets,
            claims: &self.claims,
            tokens: self.tokens.tokens(),
            service_env: &self.ctx.service_env,
        }
    }

    /// The kubelet's `calculateEffectiveGracePeriod`: the deletion's grace period, or where it
    /// is 0 (`--grace-period=0 --force`, a pod deleted at once) the pod's own
    /// `terminationGracePeriodSeconds`, so its containers still get SIGTERM and their time.
    fn grace_ms(&self) -> i64 {
        let secs = self
            .pod
            .metadata
            .deletion_grace_period_seconds
            .filter(|g| *g > 0 && self.pod.metadata.deletion_timestamp.is_some())
            .or_else(|| {
                self.pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.termination_grace_period_seconds)
            })
            .unwrap_or(30)
            .max(0);
        secs * 1000
    }

    /// The kubelet's graceful node shutdown for this pod: stopped as a deleted pod is (its
    /// grace period cut to the agent's `shutdown_grace`), then `Failed` with upstream's
    /// `Terminated` reason and a `DisruptionTarget` condition, so a Job's `podFailurePolicy`
    /// can tell it from a failure of the work. A pod already stopping goes on as it was.
    fn stop_for_node_shutdown(&mut self) {
        self.disruption = Some(NODE_SHUTDOWN_MESSAGE);
        if self.terminating() {
            return;
        }
        self.failed = true;
        self.reason = Some("Terminated".into());
        self.message = Some(NODE_SHUTDOWN_MESSAGE.into());
        let cap = self.ctx.config.shutdown_grace.map_or(i64::MAX, |g| {
            i64::try_from(g.as_millis()).unwrap_or(i64::MAX)
        });
        self.begin_kill(self.grace_ms().min(cap));
    }

    fn terminating(&self) -> bool {
        matches!(self.stage, Stage::Killing { .. } | Stage::Done)
    }

    /// Starts stopping everything: SIGTERM now to the containers (sidecars after them, see
    /// [`Worker::stop_sidecars_in_turn`]), SIGKILL at the end of the grace period, which is at
    /// least a second, as the kubelet's `calculateEffectiveGracePeriod` makes it.
    fn begin_kill(&mut self, grace_ms: i64) {
        let now = self.now_ms();
        for s in &mut self.slots {
            s.give_up_restart();
        }
        let grace_ms = grace_ms.max(MINIMUM_KILL_GRACE_MS);
        for i in 0..self.slots.len() {
            if self.slots.get(i).is_some_and(|s| s.kind != Kind::Sidecar) {
                self.stop_container(i, Signal::Term);
            }
        }
        self.stage = Stage::Killing {
            deadline_ms: now + grace_ms,
        };
    }

    /// Sidecars stop after the containers they serve, one at a time in the reverse of their
    /// order, each once the one after it has ended (upstream's sidecar termination order):
    /// SIGTERM to the last running sidecar, once no other container runs and it has not had
    /// one yet.
    fn stop_sidecars_in_turn(&mut self) {
        let others_run = self
            .slots
            .iter()
            .any(|s| s.kind != Kind::Sidecar && s.is_running());
        if others_run {
            return;
        }
        let last = (0..self.slots.len()).rev().find(|i| {
            self.slots
                .get(*i)
                .is_some_and(|s| s.kind == Kind::Sidecar && s.is_running())
        });
        if let Some(i) = last
            && self.slots.get(i).is_some_and(|s| !s.stop_sent)
        {
            self.stop_container(i, Signal::Term);
        }
    }

    /// A deletion whose grace period was shortened (a second `kubectl delete --grace-period`)
    /// brings the SIGKILL forward, and ends `preStop` hooks still running, as the kubelet
    /// lets a grace period only shrink.
    fn shorten_grace(&mut self) {
        let Stage::Killing { deadline_ms } = self.stage else {
            return;
        };
        if self.pod.metadata.deletion_timestamp.is_none() {
            return;
        }
        let shortened = self.now_ms() + self.grace_ms().max(MINIMUM_KILL_GRACE_MS);
        if shortened >= deadline_ms {
            return;
        }
        self.stage = Stage::Killing {
            deadline_ms: shortened,
        };
        for s in &mut self.slots {
            s.kill_at = s.kill_at.map(|t| t.min(shortened));
            if s.pre_stop_pending
                && let Some(cancel) = &s.attempt_cancel
            {
                cancel.cancel();
            }
        }
    }

    /// Signals container `i` if it runs, with the kubelet's `Killing` event; a SIGTERM waits
    /// for the container's `preStop` hook, if it has one (see [`Worker::terminate`]).
    fn stop_container(&mut self, i: usize, signal: Signal) {
        if let Some(s) = self.slots.get_mut(i)
            && s.is_running()
        {
            s.stop_sent = true;
            let s = &*s;
            self.ctx.events.pod(
                &self.pod,
                Normal,
                "Killing",
                &format!("Stopping container {}", s.name()),
                Some(&field_path(s)),
            );
            self.terminate(i, signal);
        }
    }

    fn kill_all(&mut self, sig: Signal) {
        for s in &mut self.slots {
            if let Some(pid) = s.running_pid() {
                self.ctx.runtime.signal(pid, sig);
                s.killed = sig == Signal::Kill;
            }
        }
    }

    /// Upstream's eviction message when local storage is past a limit, when a look is due
    /// (every [`USAGE_CHECK_INTERVAL_MS`]), in upstream's order: a size-limited emptyDir, then
    /// the pod's ephemeral storage (the sum of its containers' limits) against what it writes
    /// on the node's disk: its working directory, its disk-backed emptyDirs and its logs.
    fn storage_over_limit(&mut self, now: i64) -> Option<String> {
        let due = self.next_usage_check_ms?;
        if now < due {
            return None;
        }
        self.next_usage_check_ms = Some(now.saturating_add(USAGE_CHECK_INTERVAL_MS));
        let paths = &self.volumes.as_ref()?.paths;
        let size_limits = volumes::size_limits(&self.pod);
        let pod_limit = volumes::pod_storage_limit(&self.pod);
        // The use of each disk-backed emptyDir that a limit counts, measured once.
        let disk_volumes: HashMap<&str, u64> = self
            .pod
            .spec
            .iter()
            .flat_map(|s| s.volumes.iter().flatten())
            .filter(|v| {
                v.empty_dir
                    .as_ref()
                    .is_some_and(|ed| ed.medium.as_deref() != Some("Memory"))
                    && (pod_limit.is_some() || size_limits.iter().any(|l| l.volume == v.name))
            })
            .filter_map(|v| Some((v.name.as_str(), volumes::disk_usage(paths.get(&v.name)?))))
            .collect();
        for limit in size_limits {
            if disk_volumes
                .get(limit.volume.as_str())
                .is_some_and(|used| *used > limit.bytes)
            {
                return Some(format!(
                    "Usage of EmptyDir volume {:?} exceeds the limit {:?}. ",
                    limit.volume, limit.written
                ));
            }
        }
        let (written, limit) = pod_limit?;
        let logs: u64 = self
            .slots
            .iter()
            .flat_map(|s| (0..=s.attempts).map(move |a| (s.name(), a)))
            .filter_map(|(container, attempt)| {
                let file = self
                    .ctx
                    .logs
                    .attempt_file(&self.ns, &self.name, &self.uid, container, attempt);
                std::fs::metadata(file).ok().map(|m| m.len())
            })
            .sum();
        let used = volumes::disk_usage(&self.sandbox) + disk_volumes.values().sum::<u64>() + logs;
        (used > limit).then(|| {
            format!("Pod ephemeral local storage usage exceeds the total limit of containers {written}. ")
        })
    }

    fn all_stopped(&self) -> bool {
        self.slots.iter().all(|s| !s.is_running()) && self.exits.is_empty()
    }

    /// Decides and starts what is due.
    fn step(&mut self) {
        let now = self.now_ms();
        for s in &mut self.slots {
            s.show_backoff(now);
        }
        if !self.terminating() {
            self.repeat_backoff_events(now);
        }
        if !self.terminating() {
            if self.pod.metadata.deletion_timestamp.is_some() {
                let grace = self.grace_ms();
                self.begin_kill(grace);
            } else if let (Some(limit), Some(start)) = (
                self.pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.active_deadline_seconds),
                self.start_time,
            ) && now >= (start + limit) * 1000
            {
                self.failed = true;
                self.reason = Some("DeadlineExceeded".into());
                self.message =
                    Some("Pod was active on the node longer than the specified deadline".into());
                // A Normal event, as the kubelet's `activeDeadlineHandler` records it.
                self.ctx.events.pod(
                    &self.pod,
                    Normal,
                    "DeadlineExceeded",
                    "Pod was active on the node longer than the specified deadline",
                    None,
                );
                let grace = self
                    .pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.termination_grace_period_seconds)
                    .unwrap_or(30)
                    .max(0)
                    * 1000;
                self.begin_kill(grace);
            } else if let Some(why) = self.storage_over_limit(now) {
                // Upstream's eviction manager (`localStorageEviction`): the pod fails, its
                // containers killed with no grace period beyond the minimum.
                self.failed = true;
                self.reason = Some("Evicted".into());
                self.message = Some(why.clone());
                self.ctx
                    .events
                    .pod(&self.pod, Warning, "Evicted", &why, None);
                self.begin_kill(0);
            }
        }
        self.kill_overdue(now);
        loop {
            match self.stage {
                Stage::Init(i) => {
                    if self.slots.get(i).is_none_or(|s| s.kind == Kind::Main) {
                        self.stage = Stage::Main;
                        // (Only a resumed pod has main containers that ended already.)
                        for s in self.slots.iter_mut().filter(|s| {
                            s.kind == Kind::Main && !matches!(s.state, State::Terminated(_))
                        }) {
                            s.start_at = Some(now);
                            s.state = State::Waiting {
                                reason: "ContainerCreating".into(),
                                message: None,
                            };
                        }
                        continue;
                    }
                    if let Some(s) = self.slots.get_mut(i)
                        && s.attempts == 0
                        && s.start_at.is_none()
                        && matches!(s.state, State::Waiting { .. })
                    {
                        s.start_at = Some(now);
                    }
                    self.start_due(now);
                    if self.stage != Stage::Init(i) {
                        continue;
                    }
                    let advance = self.slots.get(i).is_some_and(|s| match s.kind {
                        // A sidecar with a startup probe lets the next one start once it passed.
                        Kind::Sidecar => s.is_started(),
                        _ => s.succeeded(),
                    });
                    if advance {
                        self.stage = Stage::Init(i + 1);
                        continue;
                    }
                    return;
                }
                Stage::Main => {
                    self.start_due(now);
                    if self.stage != Stage::Main {
                        continue;
                    }
                    let mains_done = self
                        .slots
                        .iter()
                        .filter(|s| s.kind == Kind::Main)
                        .all(Slot::is_final);
                    if mains_done {
                        for s in &mut self.slots {
                            s.start_at = None;
                        }
                        let grace = self.grace_ms().max(MINIMUM_KILL_GRACE_MS);
                        self.stage = Stage::StopSidecars {
                            deadline_ms: now + grace,
                        };
                        continue;
                    }
                    return;
                }
                Stage::StopSidecars { .. } | Stage::Killing { .. } => {
                    if self.all_stopped() {
                        self.stage = Stage::Done;
                        return;
                    }
                    self.stop_sidecars_in_turn();
                    return;
                }
                Stage::Done => return,
            }
        }
    }

    /// SIGKILL to every container past its stop deadline: its own (a failed probe or hook, or
    /// a `preStop` hook that ran late), else the pod's. A `preStop` hook still running holds it
    /// back (see `handlers`).
    fn kill_overdue(&mut self, now: i64) {
        let pod_deadline = match self.stage {
            Stage::Killing { deadline_ms } | Stage::StopSidecars { deadline_ms } => {
                Some(deadline_ms)
            }
            _ => None,
        };
        for i in 0..self.slots.len() {
            let Some(s) = self.slots.get(i) else {
                continue;
            };
            if s.kill_at.or(pod_deadline).is_none_or(|t| t > now)
                || s.pre_stop_pending
                || s.killed
                || s.running_pid().is_none()
            {
                continue;
            }
            // A sidecar whose turn to stop came only with the pod's deadline (the containers
            // it served used the grace period up) still gets SIGTERM and the least grace, as
            // the kubelet's `killContainer` gives it after waiting for its turn.
            if s.kind == Kind::Sidecar && !s.stop_sent && s.kill_at.is_none() {
                if let Some(s) = self.slots.get_mut(i) {
                    s.kill_at = Some(now + MINIMUM_KILL_GRACE_MS);
                }
                self.stop_container(i, Signal::Term);
                continue;
            }
            if let Some(s) = self.slots.get_mut(i)
                && let Some(pid) = s.running_pid()
            {
                self.ctx.runtime.signal(pid, Signal::Kill);
                s.killed = true;
                s.kill_at = None;
            }
        }
    }

    /// Whether container `i` is due to start now: its start time has come, the stage lets it
    /// run, and no `postStart` hook is running.
    fn due(&self, i: usize, now: i64) -> bool {
        let Some(s) = self.slots.get(i) else {
            return false;
        };
        let allowed = match (self.stage, s.kind) {
            (Stage::Init(n), Kind::Init | Kind::Sidecar) => i <= n,
            (Stage::Main, _) => true,
            _ => false,
        };
        allowed && !self.post_start_running() && s.start_at.is_some_and(|t| t <= now)
    }

    /// A container's `postStart` hook is running. The kubelet runs the hook within the start
    /// of its container, one container after another, so no other container of the pod starts
    /// until it is done: a container can hold the next one back until it is ready to serve.
    fn post_start_running(&self) -> bool {
        self.slots.iter().any(|s| s.post_start_pending)
    }

    fn start_is_due(&self, now: i64) -> bool {
        (0..self.slots.len()).any(|i| self.due(i, now))
    }

    /// Starts every container whose start time has come.
    fn start_due(&mut self, now: i64) {
        for i in 0..self.slots.len() {
            if self.due(i, now) {
                self.start(i, now);
                if self.stage == Stage::Done || self.terminating() {
                    return;
                }
            }
        }
    }

    /// The phase while the pod runs (upstream `getPhase`).
    fn phase(&self) -> &'static str {
        if let Some(phase) = self.terminal_in_api {
            return phase;
        }
        let mains: Vec<&Slot> = self.slots.iter().filter(|s| s.kind == Kind::Main).collect();
        if self.stage == Stage::Done {
            if self.failed {
                return "Failed";
            }
            return if mains.iter().all(|s| s.succeeded()) {
                "Succeeded"
            } else {
                "Failed"
            };
        }
        if matches!(self.stage, Stage::Init(_)) {
            return "Pending";
        }
        // A container whose first attempt still runs its postStart hook is not yet shown
        // running (see `status`).
        if mains
            .iter()
            .any(|s| s.attempts > 1 || (s.attempts == 1 && !s.post_start_pending))
        {
            "Running"
        } else {
            "Pending"
        }
    }

    fn render(&mut self) -> Value {
        let phase = self.phase();
        let readiness_gates = self.readiness_gates();
        let view = status::View {
            phase,
            reason: self.reason.as_deref(),
            message: self.message.as_deref(),
            disruption: self.disruption,
            slots: &self.slots,
            host_ip: &self.ctx.host.ip,
            start_time: self.start_time,
            sandbox_ready: self.volumes.is_some(),
            readiness_gates: &readiness_gates,
            runtime: self.ctx.runtime.name(),
        };
        status::render(&view, &mut self.conditions, self.ctx.clock.now_unix())
    }

    /// The pod's readiness gates, each with the status of its condition on the pod.
    fn readiness_gates(&self) -> Vec<(String, Option<String>)> {
        let conditions = self
            .pod
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten());
        self.pod
            .spec
            .iter()
            .flat_map(|s| s.readiness_gates.iter().flatten())
            .map(|gate| {
                let status = conditions
                    .clone()
                    .find(|c| c.type_ == gate.condition_type)
                    .map(|c| c.status.clone());
                (gate.condition_type.clone(), status)
            })
            .collect()
    }

    /// Upstream's status manager `needsReconcile`: when someone else changed the pod's
    /// conditions since the agent's last write (the node lifecycle controller marks the pods
    /// of an unreachable node not ready), the next write puts the agent's back.
    fn notice_status_written_by_others(&mut self) {
        let rv = self
            .pod
            .metadata
            .resource_version
            .as_deref()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let Some(written) = &self.last_written else {
            return;
        };
        if rv <= self.written_rv {
            return;
        }
        let theirs: Vec<(&str, &str)> = self
            .pod
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .map(|c| (c.type_.as_str(), c.status.as_str()))
            .collect();
        let ours = written["conditions"].as_array().into_iter().flatten();
        let same = ours.clone().count() == theirs.len()
            && ours.into_iter().all(|c| {
                theirs.contains(&(
                    c["type"].as_str().unwrap_or_default(),
                    c["status"].as_str().unwrap_or_default(),
                ))
            });
        if !same {
            self.last_written = None;
        }
    }

    /// Conditions that others own (`DisruptionTarget`, readiness gates...) stay as the API has
    /// them: a merge patch replaces the whole list (upstream's `mergePodStatus` keeps them).
    fn keep_conditions_of_others(&self, status: &mut Value) {
        let Some(list) = status["conditions"].as_array_mut() else {
            return;
        };
        for c in self
            .pod
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
        {
            if !list.iter().any(|ours| ours["type"] == c.type_.as_str())
                && let Ok(c) = serde_json::to_value(c)
            {
                list.push(c);
            }
        }
    }

    /// Writes the status if it changed; a pod found gone from the API is stopped as one
    /// removed (see [`Worker::on_removed`]), and nothing is written for it any more.
    async fn write_status(&mut self) -> Result<(), Outcome> {
        if self.removed {
            return Ok(());
        }
        let mut status = self.render();
        self.keep_conditions_of_others(&mut status);
        if self.last_written.as_ref() == Some(&status) {
            return Ok(());
        }
        let patch = json!({"metadata": {"uid": self.uid}, "status": status});
        match runlet_client::patch_pod_status(
            &self.ctx.client,
            &self.ns,
            &self.name,
            &Patch::Merge(&patch),
        )
        .await
        {
            Ok(meta) => {
                self.last_written = Some(status);
                self.written_rv = meta
                    .resource_version
                    .as_deref()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                Ok(())
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {
                self.on_removed();
                Ok(())
            }
            Err(e) => {
                tracing::warn!(pod = %self.name, namespace = %self.ns, error = %e, "writing pod status");
                Ok(())
            }
        }
    }

    /// Writes the final status and, if the pod is being deleted, finishes the deletion.
    async fn finish(&mut self) -> Outcome {
        if let Err(o) = self.write_status().await {
            return o;
        }
        if self.removed {
            return Outcome::Gone;
        }
        let deleting = self.pod.metadata.deletion_timestamp.is_some()
            || self.rx.borrow().metadata.deletion_timestamp.is_some();
        if deleting {
            finish_deletion(&self.ctx.client, &self.ns, &self.name, &self.uid).await;
        }
        Outcome::Finished
    }

    /// Tears the pod's volumes down once its containers are done, as the kubelet does for a
    /// terminated pod: memory-backed emptyDirs are unmounted and volume data is removed.
    fn teardown_volumes(&mut self) {
        for file in [self.hosts_file.take(), self.resolv_file.take()]
            .into_iter()
            .flatten()
        {
            let _ = std::fs::remove_file(file);
        }
        for target in std::mem::take(&mut self.claimed_mount_points) {
            self.ctx.mount_points.release(&target);
        }
        let mut unmounted = true;
        if let Some(v) = self.volumes.take() {
            for t in v.tmpfs {
                if let Err(e) = self.ctx.runtime.os().unmount(&t) {
                    tracing::warn!(path = %t.display(), error = %e, "unmounting an emptyDir");
                    unmounted = false;
                }
            }
        }
        // What this worker mounted it has unmounted, and nothing else mounts there: no need to
        // read the mount table (every pod has a volume, its service account token's, and the
        // kernel formats the whole table for each read).
        if unmounted {
            remove_dir(&self.private);
        } else {
            remove_sandbox(&self.private);
        }
        remove_dir(&self.memory);
    }
}

/// The delays between attempts to set up a pod's volumes: upstream's volume operations back
/// off exponentially, from 500 ms doubling to 2 min 2 s (`exponentialbackoff`'s
/// `initialDurationBeforeRetry` and `maxDurationBeforeRetry`), so a pod waiting for a missing
/// ConfigMap does not read it every second for good. An agent ticking faster (in tests) starts
/// at its tick.
struct MountRetry {
    next: Duration,
}

impl MountRetry {
    const INITIAL: Duration = Duration::from_millis(500);
    const MAX: Duration = Duration::from_secs(122);

    fn new(tick: Duration) -> Self {
        MountRetry {
            next: tick.min(Self::INITIAL),
        }
    }

    fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (delay * 2).min(Self::MAX);
        delay
    }
}

/// The ID of a container's attempt, without the runtime's scheme: what names its log file
/// (`logs::attempt_of` reads it back).
pub fn attempt_id(uid: &str, container: &str, attempt: u32) -> String {
    format!("{uid}-{container}-{attempt}")
}

/// Where the pod with `uid` keeps its sandbox under the agent's data directory.
pub fn sandbox_dir(data_dir: &std::path::Path, uid: &str) -> PathBuf {
    data_dir.join(SANDBOXES).join(uid)
}

/// Where the pod with `uid` keeps its volumes and termination-message files.
pub fn private_dir(data_dir: &std::path::Path, uid: &str) -> PathBuf {
    data_dir.join(PRIVATE).join(uid)
}

/// Where the pod with `uid` keeps its secret, downwardAPI and projected volumes.
pub fn memory_dir(data_dir: &std::path::Path, uid: &str) -> PathBuf {
    data_dir.join(MEMORY).join(uid)
}

/// The directories of a pod that go when its containers are done.
pub fn volume_dirs(data_dir: &std::path::Path, uid: &str) -> [PathBuf; 2] {
    [private_dir(data_dir, uid), memory_dir(data_dir, uid)]
}

/// How long a pod waits for the watch of a ConfigMap or Secret it names to list it.
const SOURCE_WAIT: Duration = Duration::from_secs(30);

/// The directories under the data directory with one entry per pod UID.
pub const SANDBOXES: &str = "pods";
pub const PRIVATE: &str = "pod-volumes";
/// The agent's one tmpfs (when it runs as root) for every pod's secret, downwardAPI and
/// projected volumes, a directory per pod UID: their data never reaches a disk, as upstream's
/// memory-backed wrapper keeps it, without a mount per pod.
pub const MEMORY: &str = "pod-memory";
/// The directory of the containers' termination-message files, one per attempt
/// (`<pod uid>-<container>-<attempt>`), each removed when its attempt has been reported: one
/// directory for all, so that a container costs one file and no directory of its own.
pub const TERMINATION_FILES: &str = "termination-log";
/// The directory of the pods' `/etc/hosts` files (see [`etchosts`]), one per pod UID, flat for
/// the same reason.
pub const HOSTS_FILES: &str = "etc-hosts";
/// The directory of the pods' own `/etc/resolv.conf` files (see [`resolvconf`]), likewise.
pub const RESOLV_FILES: &str = "resolv-conf";

/// Removes a pod's directory (its sandbox, or its volumes'), unmounting what is still mounted
/// in it.
pub fn remove_sandbox(sandbox: &std::path::Path) {
    // Most pods have no volumes and so no such directory: nothing to read the mount table for.
    if std::fs::symlink_metadata(sandbox).is_err() {
        return;
    }
    // What is still mounted in it first (the tmpfs of a pod whose agent was killed): removing
    // the directory would fail, and a secret would stay in memory.
    for point in crate::os::mountinfo::mount_points_under(sandbox) {
        if let Err(e) = rustix::mount::unmount(&point, rustix::mount::UnmountFlags::DETACH) {
            tracing::warn!(path = %point.display(), error = %e, "unmounting in a pod sandbox");
        }
    }
    remove_dir(sandbox);
}

/// Removes a pod's directory in which nothing is mounted.
fn remove_dir(dir: &std::path::Path) {
    if let Err(e) = std::fs::remove_dir_all(dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %dir.display(), error = %e, "removing a pod sandbox");
    }
}

/// Deletes a pod whose containers are all gone (`gracePeriodSeconds=0`, uid precondition).
pub async fn finish_deletion(client: &kube::Client, ns: &str, name: &str, uid: &str) {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
        Err(e) => {
            tracing::warn!(pod = %name, namespace = %ns, error = %e, "finishing a pod's deletion")
        }
    }
}

fn field_path(s: &Slot) -> String {
    field_path_of(s.name(), Some(s.kind))
}

fn field_path_of(name: &str, kind: Option<Kind>) -> String {
    match kind {
        Some(Kind::Main) | None => format!("spec.containers{{{name}}}"),
        _ => format!("spec.initContainers{{{name}}}"),
    }
}

#[cfg(test)]
mod tests;
