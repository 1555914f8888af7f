//! The pod worker: one task per pod bound to this node, running it as the kubelet does.
//!
//! Stages: set up the sandbox (volumes) → init containers in order (sidecars, i.e. init
//! containers with `restartPolicy: Always`, are started and left running) → main containers
//! together, restarted per the pod's `restartPolicy` with crash-loop backoff → sidecars stopped
//! once every main container is done → final status. Deletion (a `deletionTimestamp`) or
//! `activeDeadlineSeconds` switch to killing: SIGTERM to every container's process group, SIGKILL
//! when the grace period is over. Durations are measured on the agent's [`Clock`]; the worker
//! wakes at least every `tick` to look at it. Status is written after each batch of changes, so
//! a pod that ends at once costs one or two writes.
//!
//! [`Clock`]: runlet_api::clock::Clock

pub mod env;
pub mod quantity;
pub mod state;
pub mod status;
pub mod volumes;

use crate::Ctx;
use crate::os::{Limits, Signal};
use crate::runtime::{ContainerConfig, Exited, RuntimeError};
use env::EnvSources;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
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
const FALLBACK_LINES: usize = 80;
const FALLBACK_BYTES: usize = 2048;

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
    pod: Pod,
    rx: watch::Receiver<Pod>,
    ns: String,
    name: String,
    uid: String,
    slots: Vec<Slot>,
    stage: Stage,
    exits: JoinSet<(usize, u32, i64, Exited)>,
    start_time: Option<i64>,
    volumes: Option<PodVolumes>,
    sandbox: PathBuf,
    /// Pod-level failure reason/message (DeadlineExceeded, mount namespace...).
    reason: Option<String>,
    message: Option<String>,
    /// The pod fails whatever its containers did.
    failed: bool,
    conditions: status::Conditions,
    last_written: Option<Value>,
    config_maps: HashMap<String, ConfigMap>,
    secrets: HashMap<String, Secret>,
}

fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

fn quantity_ceil(
    q: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    unit_nanos: i128,
) -> Option<u64> {
    let n = quantity::nanos(&q?.0)?;
    (n > 0).then(|| u64::try_from((n + unit_nanos - 1) / unit_nanos).unwrap_or(u64::MAX))
}

impl Worker {
    pub fn new(ctx: Arc<Ctx>, rx: watch::Receiver<Pod>) -> Worker {
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
        let sandbox = ctx.config.data_dir.join("pods").join(&uid);
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
            start_time: None,
            volumes: None,
            sandbox,
            reason: None,
            message: None,
            failed: false,
            last_written: None,
            config_maps: HashMap::new(),
            secrets: HashMap::new(),
        }
    }

    fn now_ms(&self) -> i64 {
        self.ctx.clock.now_millis()
    }

    fn api(&self) -> Api<Pod> {
        Api::namespaced(self.ctx.client.clone(), &self.ns)
    }

    /// Runs the pod to its end.
    pub async fn run(mut self, cancel: CancellationToken) -> Outcome {
        self.start_time = Some(self.ctx.clock.now_unix());
        let outcome = self.run_inner(&cancel).await;
        if outcome == Outcome::Cancelled || outcome == Outcome::Gone {
            self.kill_all(Signal::Kill);
            // Reap what was killed; bounded by the kill.
            let _ = tokio::time::timeout(Duration::from_secs(10), async {
                while self.exits.join_next().await.is_some() {}
            })
            .await;
        }
        self.cleanup_sandbox();
        outcome
    }

    async fn run_inner(&mut self, cancel: &CancellationToken) -> Outcome {
        if let Err(outcome) = self.setup().await {
            return outcome;
        }
        loop {
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
            if let Err(outcome) = self.write_status().await {
                return outcome;
            }
            let wake = self.next_wake();
            tokio::select! {
                _ = cancel.cancelled() => return Outcome::Cancelled,
                Some(done) = self.exits.join_next(), if !self.exits.is_empty() => {
                    if let Ok((idx, attempt, started, exited)) = done {
                        self.on_exit(idx, attempt, started, exited);
                    }
                }
                changed = self.rx.changed() => {
                    if changed.is_err() {
                        return Outcome::Gone;
                    }
                    self.pod = self.rx.borrow_and_update().clone();
                }
                _ = tokio::time::sleep(wake) => {}
            }
        }
    }

    /// How long to sleep: until the next restart or kill deadline is due, at most one tick.
    fn next_wake(&self) -> Duration {
        let now = self.now_ms();
        let mut due: Vec<i64> = self.slots.iter().filter_map(|s| s.start_at).collect();
        match self.stage {
            Stage::Killing { deadline_ms } | Stage::StopSidecars { deadline_ms } => {
                due.push(deadline_ms)
            }
            _ => {}
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
        let _ = std::fs::create_dir_all(self.sandbox.join("work"));
        let _ = std::fs::set_permissions(
            self.sandbox.join("work"),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        );
        self.fetch_refs().await;
        loop {
            let result = {
                let sources = self.sources();
                volumes::prepare(self.ctx.runtime.os(), &self.sandbox, &self.pod, &sources)
            };
            match result {
                Ok(v) => {
                    self.volumes = Some(v);
                    return Ok(());
                }
                Err(e) => {
                    let msg = format!("MountVolume.SetUp failed: {e}");
                    tracing::info!(pod = %self.name, namespace = %self.ns, error = %e, "volume setup failed");
                    self.ctx
                        .events
                        .pod(&self.pod, true, "FailedMount", &msg, None);
                    self.write_status().await?;
                    // Wait for the pod to change (deleted?) or a while, then retry.
                    tokio::select! {
                        changed = self.rx.changed() => {
                            if changed.is_err() {
                                return Err(Outcome::Gone);
                            }
                            self.pod = self.rx.borrow_and_update().clone();
                            if self.pod.metadata.deletion_timestamp.is_some() {
                                self.stage = Stage::Done;
                                self.failed = true;
                                return Ok(());
                            }
                        }
                        _ = tokio::time::sleep(self.ctx.config.tick) => {}
                    }
                    self.fetch_refs().await;
                }
            }
        }
    }

    /// Loads the ConfigMaps and Secrets the pod's env and volumes name.
    async fn fetch_refs(&mut self) {
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
        let cm_api: Api<ConfigMap> = Api::namespaced(self.ctx.client.clone(), &self.ns);
        let secret_api: Api<Secret> = Api::namespaced(self.ctx.client.clone(), &self.ns);
        self.config_maps.clear();
        self.secrets.clear();
        for name in cms {
            if let Ok(Some(cm)) = cm_api.get_opt(&name).await {
                self.config_maps.insert(name, cm);
            }
        }
        for name in secrets {
            if let Ok(Some(s)) = secret_api.get_opt(&name).await {
                self.secrets.insert(name, s);
            }
        }
    }

    fn sources(&self) -> EnvSources<'_> {
        EnvSources {
            host_ip: &self.ctx.host.ip,
            pod_ip: &self.ctx.host.ip,
            node_cpu_millis: self.ctx.host.cpu_millis,
            node_memory_bytes: self.ctx.host.memory_bytes,
            config_maps: &self.config_maps,
            secrets: &self.secrets,
        }
    }

    fn grace_ms(&self) -> i64 {
        let secs = self
            .pod
            .metadata
            .deletion_grace_period_seconds
            .filter(|_| self.pod.metadata.deletion_timestamp.is_some())
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

    fn terminating(&self) -> bool {
        matches!(self.stage, Stage::Killing { .. } | Stage::Done)
    }

    /// Starts stopping everything: SIGTERM now, SIGKILL at the end of the grace period.
    fn begin_kill(&mut self, grace_ms: i64) {
        let now = self.now_ms();
        for s in &mut self.slots {
            s.start_at = None;
        }
        let mains_first: Vec<usize> = (0..self.slots.len())
            .filter(|i| self.slots.get(*i).is_some_and(|s| s.kind == Kind::Main))
            .chain(
                (0..self.slots.len())
                    .rev()
                    .filter(|i| self.slots.get(*i).is_some_and(|s| s.kind != Kind::Main)),
            )
            .collect();
        for i in mains_first {
            if let Some(s) = self.slots.get(i)
                && let Some(pid) = s.running_pid()
            {
                self.ctx.events.pod(
                    &self.pod,
                    false,
                    "Killing",
                    &format!("Stopping container {}", s.name()),
                    Some(&field_path(s)),
                );
                self.ctx.runtime.signal(
                    pid,
                    if grace_ms == 0 {
                        Signal::Kill
                    } else {
                        Signal::Term
                    },
                );
            }
        }
        self.stage = Stage::Killing {
            deadline_ms: now + grace_ms,
        };
    }

    fn kill_all(&mut self, sig: Signal) {
        for s in &mut self.slots {
            if let Some(pid) = s.running_pid() {
                self.ctx.runtime.signal(pid, sig);
                s.killed = sig == Signal::Kill;
            }
        }
    }

    fn all_stopped(&self) -> bool {
        self.slots.iter().all(|s| !s.is_running()) && self.exits.is_empty()
    }

    /// Decides and starts what is due.
    fn step(&mut self) {
        let now = self.now_ms();
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
                self.ctx.events.pod(
                    &self.pod,
                    true,
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
            }
        }
        loop {
            match self.stage {
                Stage::Init(i) => {
                    if self.slots.get(i).is_none_or(|s| s.kind == Kind::Main) {
                        self.stage = Stage::Main;
                        for s in self.slots.iter_mut().filter(|s| s.kind == Kind::Main) {
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
                        Kind::Sidecar => s.is_running(),
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
                        let grace = self.grace_ms();
                        for i in (0..self.slots.len()).rev() {
                            if let Some(s) = self.slots.get(i)
                                && s.kind == Kind::Sidecar
                                && let Some(pid) = s.running_pid()
                            {
                                self.ctx.runtime.signal(pid, Signal::Term);
                            }
                        }
                        self.stage = Stage::StopSidecars {
                            deadline_ms: now + grace,
                        };
                        continue;
                    }
                    return;
                }
                Stage::StopSidecars { deadline_ms } | Stage::Killing { deadline_ms } => {
                    if self.all_stopped() {
                        self.stage = Stage::Done;
                        return;
                    }
                    if now >= deadline_ms {
                        for s in &mut self.slots {
                            if let Some(pid) = s.running_pid()
                                && !s.killed
                            {
                                self.ctx.runtime.signal(pid, Signal::Kill);
                                s.killed = true;
                            }
                        }
                    }
                    return;
                }
                Stage::Done => return,
            }
        }
    }

    /// Starts every container whose start time has come.
    fn start_due(&mut self, now: i64) {
        for i in 0..self.slots.len() {
            let due = self
                .slots
                .get(i)
                .and_then(|s| s.start_at)
                .is_some_and(|t| t <= now);
            let allowed = match (self.stage, self.slots.get(i).map(|s| s.kind)) {
                (Stage::Init(n), Some(Kind::Init | Kind::Sidecar)) => i <= n,
                (Stage::Main, Some(_)) => true,
                _ => false,
            };
            if due && allowed {
                self.start(i, now);
                if self.stage == Stage::Done || self.terminating() {
                    return;
                }
            }
        }
    }

    /// Starts one attempt of container `i`.
    fn start(&mut self, i: usize, now_ms: i64) {
        let Some(slot) = self.slots.get(i) else {
            return;
        };
        let container = slot.container.clone();
        let built = {
            let sources = self.sources();
            env::build_env(&self.pod, &container, &sources)
        };
        let pod_env = match built {
            Ok(e) => e,
            Err(e) => {
                let msg = e.to_string();
                self.ctx.events.pod(
                    &self.pod,
                    true,
                    "Failed",
                    &format!("Error: {msg}"),
                    Some(&field_path_of(
                        &container.name,
                        self.slots.get(i).map(|s| s.kind),
                    )),
                );
                let tick = self.ctx.config.tick.as_millis() as i64;
                if let Some(s) = self.slots.get_mut(i) {
                    s.state = State::Waiting {
                        reason: "CreateContainerConfigError".into(),
                        message: Some(msg),
                    };
                    s.start_at = Some(now_ms + tick);
                }
                return;
            }
        };
        let mut full_env = base_env(&self.name, self.run_as(&container).0);
        for (k, v) in pod_env {
            if let Some(slot) = full_env.iter_mut().find(|(n, _)| *n == k) {
                slot.1 = v;
            } else {
                full_env.push((k, v));
            }
        }
        let argv = env::command_line(&container, &full_env);
        let (uid, gid) = self.run_as(&container);
        // The attempt's number is the restart count it will show (its log file name).
        let attempt = self
            .slots
            .get(i)
            .map(|s| (s.restart_count + i32::from(s.attempts > 0)).max(0) as u32)
            .unwrap_or(0);
        let id = format!("{}-{}-{}", self.uid, container.name, attempt);
        let mut mounts = match self
            .volumes
            .as_ref()
            .map(|v| volumes::container_mounts(&container, v))
        {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                self.fail_start(
                    i,
                    now_ms,
                    128,
                    "StartError",
                    format!("mounting volumes: {e}"),
                    &id,
                );
                return;
            }
            None => Vec::new(),
        };
        // The termination message file, where a mount namespace is made anyway or the pod
        // asked for a path of its own.
        let term_path = container
            .termination_message_path
            .clone()
            .unwrap_or_else(|| "/dev/termination-log".into());
        let term_host = self
            .sandbox
            .join("termination")
            .join(format!("{}-{attempt}", container.name));
        if !mounts.is_empty() || term_path != "/dev/termination-log" {
            let target = PathBuf::from(&term_path);
            let ok = term_host
                .parent()
                .map(std::fs::create_dir_all)
                .transpose()
                .is_ok()
                && std::fs::write(&term_host, b"").is_ok()
                && (target.exists()
                    || target
                        .parent()
                        .map(std::fs::create_dir_all)
                        .transpose()
                        .is_ok()
                        && std::fs::write(&target, b"").is_ok());
            if ok && target.is_absolute() {
                let _ = std::fs::set_permissions(
                    &term_host,
                    std::os::unix::fs::PermissionsExt::from_mode(0o666),
                );
                mounts.push(crate::os::BindMount {
                    source: term_host.clone(),
                    target,
                    read_only: false,
                });
            }
        }
        let cwd = match container.working_dir.as_deref().filter(|d| !d.is_empty()) {
            Some(d) => {
                let p = PathBuf::from(d);
                if !p.exists() && mounts.iter().all(|m| !p.starts_with(&m.target)) {
                    let _ = std::fs::create_dir_all(&p);
                }
                p
            }
            None => self.sandbox.join("work"),
        };
        let limits = container.resources.as_ref().and_then(|r| r.limits.as_ref());
        let limits = Limits {
            memory_bytes: quantity_ceil(limits.and_then(|l| l.get("memory")), 1_000_000_000),
            cpu_millis: quantity_ceil(limits.and_then(|l| l.get("cpu")), 1_000_000),
        };
        let log_path =
            self.ctx
                .logs
                .attempt_file(&self.ns, &self.name, &self.uid, &container.name, attempt);
        let config = ContainerConfig {
            id: id.clone(),
            argv,
            env: full_env,
            cwd,
            uid,
            gid,
            mounts,
            limits,
            log_path,
        };
        match self.ctx.runtime.start(config) {
            Ok(started) => {
                let now_s = now_ms.div_euclid(1000);
                if let Some(s) = self.slots.get_mut(i) {
                    if s.attempts > 0 {
                        s.restart_count += 1;
                    }
                    s.attempts += 1;
                    s.state = State::Running {
                        started_at: now_s,
                        pid: started.pid,
                    };
                    s.start_at = None;
                    s.killed = false;
                    s.container_id = Some(id);
                }
                self.ctx.events.pod(
                    &self.pod,
                    false,
                    "Started",
                    &format!("Started container {}", container.name),
                    Some(&field_path_of(
                        &container.name,
                        self.slots.get(i).map(|s| s.kind),
                    )),
                );
                let exited = started.exited;
                self.exits
                    .spawn(async move { (i, attempt, now_s, exited.await) });
            }
            Err(RuntimeError::MountNamespace(e)) => {
                let msg = format!(
                    "the process runtime cannot make a private mount namespace for this pod's volumes here ({e}); the pod cannot run without them"
                );
                self.ctx
                    .events
                    .pod(&self.pod, true, "FailedMount", &msg, None);
                self.failed = true;
                self.reason = Some("MountNamespaceUnavailable".into());
                self.message = Some(msg.clone());
                self.fail_start(i, now_ms, 128, "StartError", msg, &id);
                self.begin_kill(0);
            }
            Err(RuntimeError::Start(e)) => {
                let msg = e.to_string();
                self.ctx.events.pod(
                    &self.pod,
                    true,
                    "Failed",
                    &format!("Error: {msg}"),
                    Some(&field_path_of(
                        &container.name,
                        self.slots.get(i).map(|s| s.kind),
                    )),
                );
                self.fail_start(i, now_ms, 128, "StartError", msg, &id);
            }
        }
    }

    /// Records an attempt that could not start as a terminated one (as containerd reports
    /// `StartError` with exit code 128) and applies the restart policy.
    fn fail_start(
        &mut self,
        i: usize,
        now_ms: i64,
        code: i32,
        reason: &str,
        message: String,
        id: &str,
    ) {
        let now_s = now_ms.div_euclid(1000);
        if let Some(s) = self.slots.get_mut(i) {
            if s.attempts > 0 {
                s.restart_count += 1;
            }
            s.attempts += 1;
            s.start_at = None;
            s.container_id = Some(id.to_string());
            let t = Terminated {
                exit_code: code,
                signal: None,
                reason: reason.into(),
                message: Some(message),
                started_at: now_s,
                finished_at: now_s,
                container_id: format!("{}://{id}", self.ctx.runtime.name()),
            };
            s.state = State::Terminated(t);
        }
        self.after_exit(i, now_ms, code);
    }

    /// `runAsUser`/`runAsGroup` of the container, else of the pod; only honoured as root.
    fn run_as(&self, c: &k8s_openapi::api::core::v1::Container) -> (Option<u32>, Option<u32>) {
        if !self.ctx.runtime.os().is_root() {
            return (None, None);
        }
        let pod_sc = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.security_context.as_ref());
        let sc = c.security_context.as_ref();
        let uid = sc
            .and_then(|s| s.run_as_user)
            .or_else(|| pod_sc.and_then(|s| s.run_as_user));
        let gid = sc
            .and_then(|s| s.run_as_group)
            .or_else(|| pod_sc.and_then(|s| s.run_as_group));
        (
            uid.and_then(|u| u32::try_from(u).ok()),
            gid.and_then(|g| u32::try_from(g).ok()),
        )
    }

    fn on_exit(&mut self, i: usize, attempt: u32, started_s: i64, exited: Exited) {
        let now_ms = self.now_ms();
        let Some(slot) = self.slots.get(i) else {
            return;
        };
        let container = slot.container.clone();
        let id = slot.container_id.clone().unwrap_or_default();
        let reason = if exited.oom_killed {
            "OOMKilled"
        } else if exited.code == 0 {
            "Completed"
        } else {
            "Error"
        };
        let term_host = self
            .sandbox
            .join("termination")
            .join(format!("{}-{attempt}", container.name));
        let mut message = std::fs::read(&term_host)
            .ok()
            .map(|mut b| {
                b.truncate(MAX_TERMINATION_MESSAGE);
                String::from_utf8_lossy(&b).into_owned()
            })
            .filter(|m| !m.is_empty());
        if message.is_none()
            && exited.code != 0
            && container.termination_message_policy.as_deref() == Some("FallbackToLogsOnError")
        {
            let log = self.ctx.logs.attempt_file(
                &self.ns,
                &self.name,
                &self.uid,
                &container.name,
                attempt,
            );
            message = Some(crate::logs::write::tail_content(
                &log,
                FALLBACK_LINES,
                FALLBACK_BYTES,
            ))
            .filter(|m| !m.is_empty());
        }
        let t = Terminated {
            exit_code: exited.code,
            signal: exited.signal,
            reason: reason.into(),
            message,
            started_at: started_s,
            finished_at: now_ms.div_euclid(1000),
            container_id: format!("{}://{id}", self.ctx.runtime.name()),
        };
        if let Some(s) = self.slots.get_mut(i) {
            s.state = State::Terminated(t);
        }
        self.after_exit(i, now_ms, exited.code);
    }

    /// Applies the restart policy to container `i` that just ended with `code`.
    fn after_exit(&mut self, i: usize, now_ms: i64, code: i32) {
        if self.terminating() || matches!(self.stage, Stage::StopSidecars { .. }) {
            return;
        }
        let policy = restart_policy(&self.pod).to_string();
        let Some(kind) = self.slots.get(i).map(|s| s.kind) else {
            return;
        };
        let restart = match kind {
            Kind::Sidecar => true,
            Kind::Init => code != 0 && policy != "Never",
            Kind::Main => policy == "Always" || (policy == "OnFailure" && code != 0),
        };
        if restart {
            let initial = self.ctx.config.backoff_initial.as_millis() as i64;
            let max = self.ctx.config.backoff_max.as_millis() as i64;
            let pod_desc = format!("{}_{}({})", self.name, self.ns, self.uid);
            if let Some(s) = self.slots.get_mut(i) {
                let last = match &s.state {
                    State::Terminated(t) => Some(t.clone()),
                    _ => None,
                };
                let delay = s.schedule_restart(now_ms, initial, max);
                s.last = last;
                if delay > 0 {
                    let msg = format!(
                        "back-off {}s restarting failed container={} pod={pod_desc}",
                        delay / 1000,
                        s.name()
                    );
                    s.state = State::Waiting {
                        reason: "CrashLoopBackOff".into(),
                        message: Some(msg),
                    };
                    let text = format!(
                        "Back-off restarting failed container {} in pod {pod_desc}",
                        s.container.name
                    );
                    let fp = field_path(s);
                    self.ctx
                        .events
                        .pod(&self.pod, true, "BackOff", &text, Some(&fp));
                }
            }
        } else if kind == Kind::Init && code != 0 {
            // A failed init container with restartPolicy Never fails the pod.
            self.failed = true;
            self.begin_kill(self.grace_ms());
        }
    }

    /// The phase while the pod runs (upstream `getPhase`).
    fn phase(&self) -> &'static str {
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
        if mains.iter().any(|s| s.attempts > 0) {
            "Running"
        } else {
            "Pending"
        }
    }

    fn render(&mut self) -> Value {
        let phase = self.phase();
        let init_done = !matches!(self.stage, Stage::Init(_));
        let view = status::View {
            phase,
            reason: self.reason.as_deref(),
            message: self.message.as_deref(),
            slots: &self.slots,
            host_ip: &self.ctx.host.ip,
            start_time: self.start_time,
            sandbox_ready: self.volumes.is_some(),
            init_done,
            terminating: self.terminating(),
            runtime: self.ctx.runtime.name(),
        };
        status::render(&view, &mut self.conditions, self.ctx.clock.now_unix())
    }

    /// Writes the status if it changed; `Err(Gone)` when the pod no longer exists.
    async fn write_status(&mut self) -> Result<(), Outcome> {
        let status = self.render();
        if self.last_written.as_ref() == Some(&status) {
            return Ok(());
        }
        let patch = json!({"metadata": {"uid": self.uid}, "status": status});
        match self
            .api()
            .patch_status(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                self.last_written = Some(status);
                Ok(())
            }
            Err(kube::Error::Api(e)) if e.code == 404 => Err(Outcome::Gone),
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
        let deleting = self.pod.metadata.deletion_timestamp.is_some()
            || self.rx.borrow().metadata.deletion_timestamp.is_some();
        if deleting {
            finish_deletion(&self.ctx.client, &self.ns, &self.name, &self.uid).await;
        }
        Outcome::Finished
    }

    fn cleanup_sandbox(&mut self) {
        if let Some(v) = self.volumes.take() {
            for t in v.tmpfs {
                if let Err(e) = self.ctx.runtime.os().unmount(&t) {
                    tracing::warn!(path = %t.display(), error = %e, "unmounting an emptyDir");
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.sandbox);
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

/// The environment every container starts from (a container image would supply these).
fn base_env(pod_name: &str, uid: Option<u32>) -> Vec<(String, String)> {
    let path = std::env::var("PATH")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    let home = match uid {
        None | Some(0) => "/root",
        Some(_) => "/",
    };
    vec![
        ("PATH".into(), path),
        ("HOSTNAME".into(), pod_name.to_string()),
        ("HOME".into(), home.into()),
    ]
}

#[cfg(test)]
mod tests;
