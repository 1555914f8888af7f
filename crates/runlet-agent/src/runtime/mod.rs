//! Container runtimes: how a container attempt becomes something running, and how it ends.
//!
//! The pod logic above speaks only [`Runtime`]: start an attempt from a fully resolved
//! [`ContainerConfig`] (argv, env, mounts, limits, log file), signal it, learn how it ended.
//! [`process::ProcessRuntime`] (the default) runs the command directly on the host; an `oci`
//! runtime (runc) can come later behind the same trait.

pub mod process;

use crate::os::{BindMount, Credentials, Limits, OsError, Signal, Stdio, Terminal};
use futures::future::BoxFuture;
use std::path::PathBuf;
use tokio::io::{AsyncRead, AsyncWrite};

/// A failure to start a container attempt.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The host does not let the agent make a private mount namespace for the volumes.
    #[error("{0}")]
    MountNamespace(OsError),
    /// The process could not be started (not found, not executable, cgroup refused...).
    #[error("{0}")]
    Start(OsError),
}

/// Everything needed to run one container attempt, already resolved.
#[derive(Debug, Clone, Default)]
pub struct ContainerConfig {
    /// Unique per attempt: `<pod uid>-<container>-<attempt>` (also the cgroup name).
    pub id: String,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub user: Credentials,
    pub mounts: Vec<BindMount>,
    /// The pod's host name, for a UTS namespace of the container's own; `None` shares the
    /// host's (`hostNetwork`, or an agent that may not make namespaces).
    pub hostname: Option<String>,
    /// A PID namespace of the container's own (see [`crate::os::SpawnSpec::pid_namespace`]);
    /// not for `hostPID` pods, nor where the agent may not make namespaces.
    pub pid_namespace: bool,
    pub limits: Limits,
    /// The CRI log file of this attempt.
    pub log_path: PathBuf,
    /// For [`Runtime::exec`]: the running container's main process, whose mount and UTS
    /// namespaces (and PID namespace, when it has one of its own) the command enters.
    pub join: Option<u32>,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exited {
    pub code: i32,
    pub signal: Option<i32>,
    /// The kernel killed it for exceeding its memory limit.
    pub oom_killed: bool,
}

/// A running attempt: its process (group) id and its end, which resolves once the process is
/// reaped and its output is in the log file.
pub struct Started {
    pub pid: u32,
    pub exited: BoxFuture<'static, Exited>,
    /// The container asked for limits this host cannot enforce (no usable cgroups here).
    pub limits_unenforced: bool,
}

/// How a command run as a container's ([`Runtime::exec`]) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecOutcome {
    /// It exited with `code`; `output` is the start of its stdout and stderr together (at
    /// most [`EXEC_OUTPUT_LIMIT`] bytes, as the kubelet keeps of a probe's output).
    Exited { code: i32, output: Vec<u8> },
    /// It ran past its time and was killed.
    TimedOut,
    /// Its container's attempt ended first, and it was killed.
    Cancelled,
}

/// A command running in a container with its streams attached ([`Runtime::exec_attached`]):
/// `kubectl exec`.
pub struct AttachedExec {
    /// Its stdin, when asked for; dropping it is the end of its input.
    pub stdin: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    pub stdout: Box<dyn AsyncRead + Send + Unpin>,
    /// Nothing for a command on a terminal, whose stdout carries both.
    pub stderr: Box<dyn AsyncRead + Send + Unpin>,
    /// Its terminal, when it runs on one.
    pub terminal: Option<Box<dyn Terminal>>,
    /// Its exit code (128 + the signal when one ended it), once it is reaped. Dropping this
    /// before then (the client went away) kills it, with what it started.
    pub exit: BoxFuture<'static, i32>,
}

/// How much of an exec's output is kept (upstream's `maxReadLength`, 10 KiB).
pub const EXEC_OUTPUT_LIMIT: usize = 10 * 1024;

/// A way to run containers.
pub trait Runtime: Send + Sync + 'static {
    /// The name shown in `nodeInfo.containerRuntimeVersion` and container IDs (`process://...`).
    fn name(&self) -> &'static str;
    /// Starts an attempt.
    fn start(&self, config: ContainerConfig) -> Result<Started, RuntimeError>;
    /// Runs `config.argv` as the container `config` describes runs (environment, user, working
    /// directory, mounts, host name), for an exec probe or hook: killed, with everything it
    /// started, once it runs longer than `timeout` or `cancel` fires (the container's attempt
    /// ended). The future resolves once the process is reaped.
    fn exec(
        &self,
        config: ContainerConfig,
        timeout: std::time::Duration,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Result<BoxFuture<'static, ExecOutcome>, RuntimeError>;
    /// Starts `config.argv` as [`Runtime::exec`] does, with its streams connected as `stdio`
    /// says and handed to the caller; killed once `cancel` fires (the container's attempt
    /// ended) or its [`AttachedExec::exit`] is dropped.
    fn exec_attached(
        &self,
        config: ContainerConfig,
        stdio: Stdio,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Result<AttachedExec, RuntimeError>;
    /// Signals a running attempt (see [`crate::os::Os::signal_container`]: SIGTERM to its main
    /// process, SIGKILL to its whole process group).
    fn signal(&self, pid: u32, signal: Signal);
    /// The OS seam, for volume setup (tmpfs) and cleanup.
    fn os(&self) -> &dyn crate::os::Os;
}
