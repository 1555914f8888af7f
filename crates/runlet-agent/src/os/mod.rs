//! The seam between the agent and the operating system: spawning a container's process
//! (process group, user, mount namespace, cgroup), signalling its group, cgroups, tmpfs mounts.
//!
//! Everything that needs a system call the workspace cannot make safely lives behind [`Os`], so
//! the pod logic above it is unit-tested with [`fake::FakeOs`] without root, and the real
//! [`linux::LinuxOs`] is exercised end to end by the integration tests. `unsafe` is allowed in
//! [`spawn`] only.

pub mod capabilities;
pub mod cgroup;
#[cfg(test)]
pub mod fake;
pub mod leftovers;
pub mod linux;
pub mod mountinfo;
pub mod spawn;
pub mod terminal;

use futures::future::BoxFuture;
use std::path::PathBuf;
use tokio::io::{AsyncRead, AsyncWrite};

/// A failed system operation.
#[derive(Debug, thiserror::Error)]
pub enum OsError {
    /// The program cannot be run: not found or not executable, in runc's words
    /// (`exec: "x": executable file not found in $PATH`), which `kubectl describe` shows.
    #[error("exec: {program:?}: {why}")]
    Exec { program: String, why: String },
    /// The program could not be started (namespace refused, ...).
    #[error("starting {program:?}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    /// The container names no program: no `command` or `args`, and no image entrypoint to
    /// fall back on (the process runtime does not pull images).
    #[error(
        "the container has no command: the process runtime runs a container's command and args, and has no image entrypoint to fall back on"
    )]
    NoCommand,
    /// A private mount namespace could not be made (the host does not permit it).
    #[error("creating a private mount namespace: {0}")]
    MountNamespace(std::io::Error),
    /// A signal could not be delivered.
    #[error("signalling process group {pgid}: {source}")]
    Signal { pgid: u32, source: std::io::Error },
    /// A mount or unmount failed.
    #[error("mounting {path}: {source}")]
    Mount {
        path: String,
        source: std::io::Error,
    },
    /// A cgroup could not be created or written.
    #[error("cgroup {path}: {source}")]
    Cgroup {
        path: String,
        source: std::io::Error,
    },
    /// A pseudo-terminal could not be made or resized.
    #[error("terminal: {0}")]
    Terminal(std::io::Error),
}

/// A volume bound into a container's private mount namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    pub source: PathBuf,
    pub target: PathBuf,
    pub read_only: bool,
    /// The container may run without it where no mount namespace can be made (the default
    /// termination-message file); a volume is never optional.
    pub optional: bool,
}

/// Who a container's process runs as and what it may do: its `securityContext`, resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Supplementary groups (`fsGroup` and `supplementalGroups`), set when not empty.
    pub groups: Vec<u32>,
    /// `allowPrivilegeEscalation: false`: the `no_new_privs` bit, so no set-user-ID program or
    /// file capability gives the process more than it has.
    pub no_new_privs: bool,
    /// `readOnlyRootFilesystem`: `/` is read-only in the process's mount namespace (volumes
    /// keep their own mode).
    pub read_only_root: bool,
    /// The capabilities the process may have ([`capabilities::kept`]), as a mask of their
    /// numbers: the others are dropped from its bounding set. `None`: left as they are (the
    /// agent is not root and has none to give).
    pub capabilities: Option<u64>,
}

/// Everything needed to start one container process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpawnSpec {
    /// Program and arguments; `argv[0]` is looked up in the `PATH` of `env`.
    pub argv: Vec<String>,
    /// The complete environment (nothing is inherited from the agent).
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub user: Credentials,
    /// Bind mounts; when non-empty (or the root is read-only) the process gets a private mount
    /// namespace.
    pub mounts: Vec<BindMount>,
    /// When set, the process gets a UTS namespace of its own with this host name (what
    /// `hostname` and `uname -n` say in a pod).
    pub hostname: Option<String>,
    /// A PID namespace of the process's own, whose first process it is: when it ends, the
    /// kernel kills every process it started, even one that left its process group (`setsid`),
    /// as a container's processes die with their PID namespace. Its signals then follow the
    /// rules for a namespace's init, as in a container: one it has no handler for (`SIGTERM`
    /// to a plain `sleep`) does nothing, and the grace period ends with `SIGKILL`.
    pub pid_namespace: bool,
    /// `cgroup.procs` files the process joins before it runs the program.
    pub cgroup_procs: Vec<PathBuf>,
    /// What the process's `oom_score_adj` is set to before it runs the program (best effort:
    /// lowering it needs `CAP_SYS_RESOURCE`).
    pub oom_score_adj: Option<i32>,
    /// Enter the namespaces of a running container instead of making any (an exec into
    /// it): `mounts`, `hostname` and `pid_namespace` are then not used.
    pub join: Option<Join>,
    /// How its standard streams are connected.
    pub stdio: Stdio,
}

/// How a process's standard streams are connected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Stdio {
    /// stdin from `/dev/null`, stdout and stderr into pipes: a container, a probe, a hook.
    #[default]
    Detached,
    /// stdin from a pipe as well ([`Spawned::stdin`]): `kubectl exec -i`.
    Piped,
    /// A new terminal: stdin, stdout and stderr are the far end of a pseudo-terminal whose
    /// near end is [`Spawned::terminal`], and the process leads a session of its own with it
    /// as its controlling terminal (so Ctrl-C reaches it as `SIGINT`): `kubectl exec -t`. Its
    /// output, stdout and stderr together, is read from [`Spawned::stdout`]. The terminal has
    /// the size given before the process starts (a program asking at once sees it), else 80
    /// by 24.
    Terminal(Option<TerminalSize>),
}

/// The width and height of a terminal, in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalSize {
    pub width: u16,
    pub height: u16,
}

/// A running container's namespaces to enter: those of its main process `pid`, its mount and
/// UTS namespaces always, its PID namespace when it has one of its own (`pid_namespace`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Join {
    pub pid: u32,
    pub pid_namespace: bool,
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    /// The exit code, or 128 + the signal number when a signal ended it (as container runtimes
    /// report it).
    pub code: i32,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
}

/// A started process: its id (also its process group id), its output pipes and its end.
pub struct Spawned {
    pub pid: u32,
    /// Its stdin, for [`Stdio::Piped`] and [`Stdio::Terminal`]; dropping it is end of input
    /// (for a terminal, only once [`Spawned::terminal`] is dropped too).
    pub stdin: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    pub stdout: Box<dyn AsyncRead + Send + Unpin>,
    pub stderr: Box<dyn AsyncRead + Send + Unpin>,
    /// The terminal of a [`Stdio::Terminal`] process, to resize.
    pub terminal: Option<Box<dyn Terminal>>,
    pub exit: BoxFuture<'static, ExitInfo>,
}

/// A pseudo-terminal the agent holds the near end of.
pub trait Terminal: Send + Sync {
    /// Sets its size (the process gets `SIGWINCH`).
    fn resize(&self, size: TerminalSize) -> Result<(), OsError>;
}

/// Signals the agent sends to a container's process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Term,
    Kill,
}

/// Where a container attempt goes in the cgroup hierarchies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupPlacement {
    /// The `cgroup.procs` files its process joins.
    pub procs: Vec<PathBuf>,
    /// The cgroups are the attempt's own, with its limits (its OOM kills are its own, and they
    /// go with it), not the group shared by the containers with nothing to enforce.
    pub own: bool,
}

/// Resource limits for a container's cgroup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: Option<u64>,
    /// CPU limit in millicores.
    pub cpu_millis: Option<u64>,
    /// CPU request in millicores: the container's weight against the others when the CPUs are
    /// busy (`cpu.shares`, or `cpu.weight` on v2), as the kubelet sets it.
    pub cpu_request_millis: Option<u64>,
    /// The process's `oom_score_adj` (see `pod::oom`); not a cgroup's.
    pub oom_score_adj: Option<i32>,
}

impl Limits {
    /// Whether there is anything to put in a cgroup.
    pub fn any(&self) -> bool {
        self.memory_bytes.is_some()
            || self.cpu_millis.is_some()
            || self.cpu_request_millis.is_some()
    }
}

/// The operating system as the agent uses it.
pub trait Os: Send + Sync + 'static {
    /// Starts a process in its own process group.
    fn spawn(&self, spec: SpawnSpec) -> Result<Spawned, OsError>;
    /// Signals the container whose main process (and process group) is `pgid`, as runc's
    /// `kill` does: `Term` goes to the main process only, which decides what becomes of its
    /// children (as a PID namespace's first process, it ignores it without a handler), `Kill`
    /// to the whole group. A container that is gone is not an error.
    fn signal_container(&self, pgid: u32, signal: Signal) -> Result<(), OsError>;
    /// The mount namespace of process `pid` (`mnt:[<inode>]`) when it is not the agent's own:
    /// a container's private one, which everything the container starts inherits.
    fn mount_namespace_of(&self, pid: u32) -> Option<String>;
    /// Kills every process in the mount namespace `ns` (one of [`Os::mount_namespace_of`]);
    /// how many.
    fn kill_mount_namespace(&self, ns: &str) -> usize;
    /// Kills the processes an earlier run of the agent left behind ([`leftovers`]), whose
    /// containers bound files of `termination_dir`; how many.
    fn kill_left_behind(&self, termination_dir: &std::path::Path) -> usize;
    /// Mounts a fresh tmpfs at `target` (emptyDir with `medium: Memory`; secret, downwardAPI
    /// and projected volumes), of at most `size_bytes` when given.
    fn mount_tmpfs(&self, target: &std::path::Path, size_bytes: Option<u64>)
    -> Result<(), OsError>;
    /// Unmounts `target` (lazily).
    fn unmount(&self, target: &std::path::Path) -> Result<(), OsError>;
    /// Places one container attempt in the cgroups: its own, made with its limits, or the
    /// group shared by those with nothing to enforce; `Ok(None)` when this host gives the agent
    /// no usable cgroups (the reason is logged once).
    fn create_cgroup(&self, id: &str, limits: Limits) -> Result<Option<CgroupPlacement>, OsError>;
    /// Whether the kernel OOM-killed a process of that cgroup.
    fn cgroup_oom_killed(&self, id: &str) -> bool;
    /// The `cgroup.procs` files of that cgroup, if it exists (to join a command to it).
    fn cgroup_procs(&self, id: &str) -> Vec<PathBuf>;
    /// Removes the cgroup (after its processes are gone).
    fn remove_cgroup(&self, id: &str);
    /// Whether the agent runs as root (needed for runAsUser, mounts and cgroups).
    fn is_root(&self) -> bool;
}
