//! Starting a container's process as `posix_spawn` does — `clone(CLONE_VM | CLONE_VFORK)`, then
//! `execve` — with the container's own setup done in the child between the two.
//!
//! Why not `std::process::Command`: a container needs work between fork and exec (the
//! parent-death signal, so containers die with the agent even on `kill -9`; its cgroup; a
//! private mount namespace; its user). The standard library runs such a `pre_exec` hook after a
//! real `fork`, which copies the agent's page tables (hundreds of MiB while it runs thousands of
//! pods) and then takes copy-on-write faults; without a hook it could `posix_spawn`, but only a
//! second program (`setpriv --pdeathsig`) could then set the signal, at the price of a second
//! `execve` per container. Here the child borrows the agent's memory instead: the calling thread
//! is suspended until the child has called `execve` (or exited), so nothing is copied, and the
//! container's program is executed once.
//!
//! Sharing memory is why the child is so restricted: it runs on its own small stack and makes
//! system calls only — no allocation, no locks, no panics, no signal handler of the agent (all
//! signals stay blocked until every disposition is back to the default). Everything it needs is
//! prepared before the clone, and a failure is reported through [`ChildArgs`], which the parent
//! reads when the clone returns.
//!
//! The kernel sends the parent-death signal when the *thread* that started the child ends, so
//! containers must be started from threads that live as long as the agent: the runtime's worker
//! threads (never a `spawn_blocking` thread, which ends when idle).
#![allow(
    unsafe_code,
    reason = "clone/execve for container processes (see SAFETY)"
)]

use super::ExitInfo;
use std::ffi::{CString, c_char, c_int, c_void};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// The child's stack: enough for a handful of system-call wrappers.
const CHILD_STACK_BYTES: usize = 64 * 1024;

/// What the child does before `execve`, prepared in the parent.
pub struct ChildSetup {
    /// `cgroup.procs` files to write `0` (this process) into.
    pub cgroup_procs: Vec<std::fs::File>,
    /// What to write to `/proc/self/oom_score_adj`, if anything.
    pub oom_score_adj: Option<Vec<u8>>,
    /// Bind mounts (source, target, read-only) in a private mount namespace.
    pub mounts: Vec<(CString, CString, bool)>,
    /// Where the namespace or a mount fails, the program runs without them.
    pub mounts_optional: bool,
    pub cwd: CString,
    /// A UTS namespace of the child's own with this host name.
    pub hostname: Option<Vec<u8>>,
    /// A PID namespace of the child's own (it is cloned into it as its first process).
    pub pid_namespace: bool,
    /// The namespaces of a running container to enter instead (see [`Joined`]).
    pub join: Option<Joined>,
    pub user: super::Credentials,
    /// `user.groups` as the system call takes them.
    pub groups: Vec<rustix::process::Gid>,
}

/// The namespaces of a running container, opened from `/proc/<pid>/ns/`, for an exec into it:
/// the calling thread enters its PID namespace for the clone (a PID namespace is entered by
/// the children of whoever enters it) and goes back to its own at once; the child enters its
/// mount and UTS namespaces itself.
pub struct Joined {
    /// The container's PID namespace and the calling thread's own, to go back to; `None` for
    /// a container in the host's (`hostPID`).
    pub pid: Option<(OwnedFd, OwnedFd)>,
    pub mnt: OwnedFd,
    pub uts: OwnedFd,
}

/// A program ready to be started: resolved path, argv and environment as C strings.
pub struct Program {
    pub path: CString,
    pub argv: Vec<CString>,
    pub env: Vec<CString>,
}

/// The step of the child's setup that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedStep {
    /// Making the private mount namespace or mounting a volume into it.
    MountNamespace,
    /// Anything else (signals, process group, stdio, cgroup, user, working directory, exec).
    Other,
}

/// A child that failed before its program ran.
#[derive(Debug)]
pub struct SpawnError {
    pub step: FailedStep,
    pub source: std::io::Error,
}

impl From<std::io::Error> for SpawnError {
    fn from(source: std::io::Error) -> Self {
        SpawnError {
            step: FailedStep::Other,
            source,
        }
    }
}

/// A started process: its pid (and process group), its output pipes, and its end.
pub struct Child {
    pub pid: u32,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    pub exit: ChildWaiter,
}

/// A process started on a terminal: its pid (and session) and its end.
pub struct TerminalChild {
    pub pid: u32,
    pub exit: ChildWaiter,
}

/// Everything the child reads, and the two words it writes back on failure.
struct ChildArgs<'a> {
    program: &'a Program,
    argv: &'a [*const c_char],
    envp: &'a [*const c_char],
    setup: &'a ChildSetup,
    stdin: &'a OwnedFd,
    stdout: &'a OwnedFd,
    stderr: &'a OwnedFd,
    /// stdin is a terminal, which the child makes the controlling terminal of a new session.
    terminal: bool,
    /// The errno of the failed step, 0 while none failed.
    errno: AtomicI32,
    /// Which step failed ([`FailedStep`] as a number).
    step: AtomicI32,
}

/// A NULL-terminated array of pointers into `strings` (which must outlive it).
fn pointers(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// Starts `program` in its own process group with stdin from `/dev/null` (`stdin`) and stdout
/// and stderr into new pipes, after applying `setup` in the child.
pub fn spawn(program: &Program, setup: &ChildSetup, stdin: &OwnedFd) -> Result<Child, SpawnError> {
    let (stdout_read, stdout_write) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(std::io::Error::from)?;
    let (stderr_read, stderr_write) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(std::io::Error::from)?;
    let (pid, exit) = start(program, setup, [stdin, &stdout_write, &stderr_write], false)?;
    Ok(Child {
        pid,
        stdout: stdout_read,
        stderr: stderr_read,
        exit,
    })
}

/// Starts `program` as the leader of a new session whose controlling terminal is `terminal`
/// (the far end of a pseudo-terminal), which is also its stdin, stdout and stderr.
pub fn spawn_on_terminal(
    program: &Program,
    setup: &ChildSetup,
    terminal: &OwnedFd,
) -> Result<TerminalChild, SpawnError> {
    let (pid, exit) = start(program, setup, [terminal, terminal, terminal], true)?;
    Ok(TerminalChild { pid, exit })
}

/// Clones the child with `stdio` as its descriptors 0, 1 and 2, and waits for its `execve`.
fn start(
    program: &Program,
    setup: &ChildSetup,
    [stdin, stdout, stderr]: [&OwnedFd; 3],
    terminal: bool,
) -> Result<(u32, ChildWaiter), SpawnError> {
    let argv = pointers(&program.argv);
    let envp = pointers(&program.env);
    let args = ChildArgs {
        program,
        argv: &argv,
        envp: &envp,
        setup,
        stdin,
        stdout,
        stderr,
        terminal,
        errno: AtomicI32::new(0),
        step: AtomicI32::new(0),
    };
    CHILD_STACK
        .with_borrow_mut(|stack| clone_child(&args, stack))
        .and_then(|pid| started(pid, &args))
}

thread_local! {
    /// The child's stack, reused by every spawn from this thread: one spawn runs at a time per
    /// thread (the thread is suspended until the child has called execve), and a fresh 64 KiB
    /// allocation per container took fresh pages, and page faults, every time.
    static CHILD_STACK: std::cell::RefCell<Vec<u8>> =
        std::cell::RefCell::new(Vec::with_capacity(CHILD_STACK_BYTES));
}

/// Clones the child on `stack` and returns its pid once it has called execve or exited.
fn clone_child(args: &ChildArgs<'_>, stack: &mut Vec<u8>) -> Result<c_int, SpawnError> {
    // Uninitialised memory is a fine stack; it is only ever written before it is read.
    let size = stack.capacity();
    // SAFETY: the pointer stays inside the allocation (one past its end is allowed), and the
    // stack grows down from it; the x86-64 and aarch64 ABIs want it 16-byte aligned.
    let top = unsafe { stack.as_mut_ptr().add(size) };
    let top = (top as usize & !15) as *mut c_void;
    let (pid, clone_error) = {
        let _blocked = BlockedSignals::all()?;
        // An exec into a container: its PID namespace is where this thread's next child is
        // born (the thread itself stays where it is), until it goes back below.
        if let Some((pid_ns, _)) = args.setup.join.as_ref().and_then(|j| j.pid.as_ref()) {
            rustix::thread::move_into_link_name_space(
                pid_ns.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::ProcessID),
            )
            .map_err(std::io::Error::from)?;
        }
        // SAFETY: CLONE_VFORK suspends this thread until the child has called execve or
        // exited, so `args` and `stack` outlive every use the child makes of them; the child
        // (`child_main`) only makes system calls and never returns into Rust code of ours.
        // All signals are blocked so no handler of the agent runs on the child's stack.
        let pid = unsafe {
            libc::clone(
                child_main,
                top,
                libc::CLONE_VM
                    | libc::CLONE_VFORK
                    | libc::SIGCHLD
                    | if args.setup.pid_namespace {
                        libc::CLONE_NEWPID
                    } else {
                        0
                    },
                std::ptr::from_ref(args).cast_mut().cast(),
            )
        };
        let clone_error = std::io::Error::last_os_error();
        if let Some((_, own)) = args.setup.join.as_ref().and_then(|j| j.pid.as_ref())
            && let Err(e) = rustix::thread::move_into_link_name_space(
                own.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::ProcessID),
            )
        {
            // Whatever this thread starts next would be born in the container's namespace.
            tracing::error!(error = %e, "returning to the agent's PID namespace after an exec");
        }
        (pid, clone_error)
    };
    if pid < 0 {
        return Err(clone_error.into());
    }
    Ok(pid)
}

/// What became of a cloned child: an error if its setup or execve failed, else its pid and
/// its end.
fn started(pid: c_int, args: &ChildArgs<'_>) -> Result<(u32, ChildWaiter), SpawnError> {
    let errno = args.errno.load(Ordering::Acquire);
    if errno != 0 {
        reap_failed(pid);
        return Err(SpawnError {
            step: if args.step.load(Ordering::Acquire) == 1 {
                FailedStep::MountNamespace
            } else {
                FailedStep::Other
            },
            source: std::io::Error::from_raw_os_error(errno),
        });
    }
    let raw_pid = rustix::process::Pid::from_raw(pid).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "clone returned pid 0")
    })?;
    // The child is ours until it is reaped, so its pid cannot be reused before this.
    let pidfd = rustix::process::pidfd_open(raw_pid, rustix::process::PidfdFlags::empty())
        .map_err(std::io::Error::from)?;
    Ok((pid.unsigned_abs(), ChildWaiter::new(pidfd)?))
}

/// Waits for (and reaps) a child whose setup failed; it has already exited.
fn reap_failed(pid: c_int) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
    }
}

/// Waits until the process behind `pidfd` exits, and reaps it.
async fn wait(pidfd: &tokio::io::unix::AsyncFd<OwnedFd>) -> std::io::Result<ExitInfo> {
    loop {
        let mut ready = pidfd.readable().await?;
        match reap_if_exited(pidfd.get_ref())? {
            Some(status) => return Ok(exit_info(&status)),
            None => ready.clear_ready(),
        }
    }
}

/// Reaps the process behind `pidfd` if it has exited, without waiting; `None` while it runs.
fn reap_if_exited(pidfd: &OwnedFd) -> rustix::io::Result<Option<rustix::process::WaitIdStatus>> {
    rustix::process::waitid(
        rustix::process::WaitId::PidFd(pidfd.as_fd()),
        rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOHANG,
    )
}

fn exit_info(status: &rustix::process::WaitIdStatus) -> ExitInfo {
    if let Some(code) = status.exit_status() {
        ExitInfo { code, signal: None }
    } else if let Some(sig) = status.terminating_signal() {
        ExitInfo {
            code: 128 + sig,
            signal: Some(sig),
        }
    } else {
        ExitInfo {
            code: 255,
            signal: None,
        }
    }
}

/// Waits for a container process through its pidfd, and reaps it even when nobody waits: a
/// dropped waiter hands the pidfd to a background task, so no zombie is left behind.
pub struct ChildWaiter {
    pidfd: Option<tokio::io::unix::AsyncFd<OwnedFd>>,
}

impl ChildWaiter {
    /// Must be called in the context of a tokio runtime.
    fn new(pidfd: OwnedFd) -> std::io::Result<Self> {
        // SAFETY: an `OwnedFd` stays open, and keeps returning the same descriptor, for as
        // long as the `AsyncFd` owns it.
        let registered = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(pidfd, tokio::io::Interest::READABLE)
        };
        Ok(ChildWaiter {
            pidfd: Some(registered.map_err(std::io::Error::from)?),
        })
    }

    pub async fn wait(mut self) -> ExitInfo {
        let lost = ExitInfo {
            code: 255,
            signal: None,
        };
        let Some(pidfd) = self.pidfd.as_ref() else {
            return lost;
        };
        let exit = wait(pidfd).await.unwrap_or(lost);
        self.pidfd = None;
        exit
    }
}

impl Drop for ChildWaiter {
    fn drop(&mut self) {
        let Some(pidfd) = self.pidfd.take() else {
            return;
        };
        // Reaped now, or gone (an error): nothing left to wait for.
        if !matches!(reap_if_exited(pidfd.get_ref()), Ok(None)) {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = wait(&pidfd).await;
            });
        }
    }
}

/// Blocks every signal on this thread until dropped.
struct BlockedSignals {
    previous: libc::sigset_t,
}

impl BlockedSignals {
    fn all() -> std::io::Result<Self> {
        // SAFETY: plain libc calls on stack-allocated signal sets they initialise.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut previous: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            let rc = libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut previous);
            if rc != 0 {
                return Err(std::io::Error::from_raw_os_error(rc));
            }
            Ok(BlockedSignals { previous })
        }
    }
}

impl Drop for BlockedSignals {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by `all`.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.previous, std::ptr::null_mut());
        }
    }
}

/// The child: set up, then `execve`. Never returns.
extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `ChildArgs` the suspended parent keeps alive (see `spawn`).
    let args = unsafe { &*arg.cast::<ChildArgs<'_>>() };
    let (step, err) = match child_setup(args) {
        Ok(()) => {
            // SAFETY: NULL-terminated arrays of pointers to C strings that outlive the call.
            unsafe {
                libc::execve(
                    args.program.path.as_ptr(),
                    args.argv.as_ptr(),
                    args.envp.as_ptr(),
                )
            };
            (FailedStep::Other, last_errno())
        }
        Err((step, errno)) => (step, errno),
    };
    args.step.store(
        i32::from(step == FailedStep::MountNamespace),
        Ordering::Release,
    );
    args.errno.store(err.max(1), Ordering::Release);
    // SAFETY: ends the child without running anything of the parent's (no atexit, no flush).
    unsafe { libc::_exit(127) }
}

fn last_errno() -> i32 {
    // SAFETY: the calling thread's errno (the parent's, which is suspended and does not read it).
    unsafe { *libc::__errno_location() }
}

type StepResult = Result<(), (FailedStep, i32)>;

fn other(e: rustix::io::Errno) -> (FailedStep, i32) {
    (FailedStep::Other, e.raw_os_error())
}

fn child_setup(args: &ChildArgs<'_>) -> StepResult {
    default_signal_dispositions();
    // Containers die with the agent instead of running on unsupervised.
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .map_err(other)?;
    if args.terminal {
        // A session of its own is a process group of its own too.
        rustix::process::setsid().map_err(other)?;
    } else {
        rustix::process::setpgid(None, None).map_err(other)?;
    }
    redirect(args.stdin, 0).map_err(other)?;
    redirect(args.stdout, 1).map_err(other)?;
    redirect(args.stderr, 2).map_err(other)?;
    if args.terminal {
        rustix::process::ioctl_tiocsctty(rustix::stdio::stdin()).map_err(other)?;
    }
    let setup = args.setup;
    for f in &setup.cgroup_procs {
        rustix::io::write(f, b"0").map_err(other)?;
    }
    if let Some(adj) = &setup.oom_score_adj {
        // Best effort: a score below the agent's needs `CAP_SYS_RESOURCE`, which an agent not
        // running as root lacks; the container runs all the same.
        if let Ok(fd) = rustix::fs::open(
            c"/proc/self/oom_score_adj",
            rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        ) {
            let _ = rustix::io::write(&fd, adj);
        }
    }
    if let Some(join) = &setup.join {
        // The child does not share the parent's filesystem attributes (no CLONE_FS), so it
        // may change its mount namespace.
        rustix::thread::move_into_link_name_space(
            join.mnt.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::Mount),
        )
        .map_err(|e| (FailedStep::MountNamespace, e.raw_os_error()))?;
        rustix::thread::move_into_link_name_space(
            join.uts.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::HostNameAndNISDomainName),
        )
        .map_err(other)?;
    } else if let Some(name) = &setup.hostname {
        // SAFETY: only a new UTS namespace is requested; memory and the file-descriptor table
        // are not unshared.
        unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWUTS) }
            .map_err(other)?;
        rustix::system::sethostname(name).map_err(other)?;
    }
    let user = &setup.user;
    if setup.join.is_none()
        && (!setup.mounts.is_empty() || user.read_only_root || setup.pid_namespace)
        && let Err(e) = private_mounts(&setup.mounts, user.read_only_root, setup.pid_namespace)
        && (!setup.mounts_optional || user.read_only_root || setup.pid_namespace)
    {
        return Err((FailedStep::MountNamespace, e.raw_os_error()));
    }
    // While still root (dropping needs `CAP_SETPCAP`): what is not kept leaves the bounding
    // set, from which a root process's capabilities are computed at its `execve`.
    if let Some(kept) = user.capabilities {
        for cap in 0..=crate::os::capabilities::LAST {
            if kept & (1 << cap) == 0 {
                match rustix::thread::remove_capability_from_bounding_set(
                    rustix::thread::CapabilitySet::from_bits_retain(1 << cap),
                ) {
                    Ok(()) => {}
                    // An older kernel knows fewer capabilities: none are left to drop.
                    Err(rustix::io::Errno::INVAL) => break,
                    Err(e) => return Err(other(e)),
                }
            }
        }
    }
    if !user.groups.is_empty() || user.uid.is_some() || user.gid.is_some() {
        rustix::thread::set_thread_groups(&setup.groups).map_err(other)?;
    }
    if let Some(gid) = user.gid {
        rustix::thread::set_thread_gid(rustix::process::Gid::from_raw(gid)).map_err(other)?;
    }
    if let Some(uid) = user.uid {
        rustix::thread::set_thread_uid(rustix::process::Uid::from_raw(uid)).map_err(other)?;
    }
    if user.no_new_privs {
        rustix::thread::set_no_new_privs(true).map_err(other)?;
    }
    rustix::process::chdir(setup.cwd.as_c_str()).map_err(other)?;
    close_inherited_descriptors();
    unblock_all_signals();
    Ok(())
}

/// Marks every descriptor above stderr close-on-exec, so the program gets stdin, stdout and
/// stderr only: the agent's own are close-on-exec already, but a descriptor the agent
/// inherited without the flag (from whoever started it) would otherwise reach every container.
/// Kernels before 5.11 know no `CLOSE_RANGE_CLOEXEC`; there the descriptors stay as they were.
fn close_inherited_descriptors() {
    // SAFETY: close_range only changes flags of this process's descriptors (its own table: the
    // clone did not share it), none of which the child uses after its execve.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3_u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
    }
}

/// Makes `fd` the child's descriptor `target` (without close-on-exec).
fn redirect(fd: &OwnedFd, target: c_int) -> rustix::io::Result<()> {
    if fd.as_raw_fd() == target {
        return rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty());
    }
    match target {
        0 => rustix::stdio::dup2_stdin(fd),
        1 => rustix::stdio::dup2_stdout(fd),
        _ => rustix::stdio::dup2_stderr(fd),
    }
}

/// Puts this process in a mount namespace of its own, which receives the host's mounts but
/// sends none back, when it runs as root (whether it did). What the agent mounts (its tmpfs
/// for the pods' secrets, a memory emptyDir's) then goes with the process however it ends,
/// never left mounted on the host after a crash; containers' namespaces are copies of this
/// one. A mount namespace belongs to each thread: call this before any thread starts.
pub fn own_mount_namespace() -> rustix::io::Result<bool> {
    if !rustix::process::geteuid().is_root() {
        return Ok(false);
    }
    // SAFETY: only a new mount namespace is requested, while the process has one thread.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS)? };
    rustix::mount::mount_change(
        c"/",
        rustix::mount::MountPropagationFlags::REC
            | rustix::mount::MountPropagationFlags::DOWNSTREAM,
    )?;
    Ok(true)
}

/// A private mount namespace with the container's volumes bound into it, a `/proc` of its own
/// PID namespace when `own_proc` (so that `ps` and `/proc/<pid>` show the container's
/// processes, as in a container), and `/` made read-only when `read_only_root`.
fn private_mounts(
    mounts: &[(CString, CString, bool)],
    read_only_root: bool,
    own_proc: bool,
) -> rustix::io::Result<()> {
    // SAFETY: only a new mount namespace is requested; memory and the file-descriptor table
    // are not unshared.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS)? };
    rustix::mount::mount_change(
        c"/",
        rustix::mount::MountPropagationFlags::REC | rustix::mount::MountPropagationFlags::PRIVATE,
    )?;
    for (source, target, read_only) in mounts {
        rustix::mount::mount_bind_recursive(source.as_c_str(), target.as_c_str())?;
        if *read_only {
            rustix::mount::mount_remount(
                target.as_c_str(),
                rustix::mount::MountFlags::BIND | rustix::mount::MountFlags::RDONLY,
                c"",
            )?;
        }
    }
    if own_proc {
        rustix::mount::mount(
            c"proc",
            c"/proc",
            c"proc",
            rustix::mount::MountFlags::NOSUID
                | rustix::mount::MountFlags::NODEV
                | rustix::mount::MountFlags::NOEXEC,
            c"",
        )?;
    }
    // Last: a bind mount takes its mode from the mount its source is on.
    if read_only_root {
        rustix::mount::mount_remount(
            c"/",
            rustix::mount::MountFlags::BIND | rustix::mount::MountFlags::RDONLY,
            c"",
        )?;
    }
    Ok(())
}

/// Every signal goes back to its default action: a container starts as a fresh process would
/// (the agent ignores `SIGPIPE`, for one, and an ignored signal stays ignored across `execve`).
/// Signals are still blocked here, so none is delivered to a handler of the agent meanwhile.
/// The raw system call, because glibc's `sigaction` refuses its two internal real-time signals.
fn default_signal_dispositions() {
    /// The kernel's `struct sigaction` (handler, flags, restorer, mask); all zero is `SIG_DFL`.
    #[repr(C)]
    struct KernelSigaction([u64; 4]);
    let default = KernelSigaction([0; 4]);
    for sig in 1..=64_i64 {
        if sig == i64::from(libc::SIGKILL) || sig == i64::from(libc::SIGSTOP) {
            continue;
        }
        // SAFETY: rt_sigaction with a valid new action, no old one, and the kernel's 8-byte
        // signal set size.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                std::ptr::from_ref(&default),
                std::ptr::null_mut::<KernelSigaction>(),
                8_usize,
            );
        }
    }
}

fn unblock_all_signals() {
    // SAFETY: an empty, initialised signal set.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn program(argv: &[&str]) -> Program {
        Program {
            path: CString::new(argv[0]).unwrap(),
            argv: argv.iter().map(|a| CString::new(*a).unwrap()).collect(),
            env: vec![CString::new("GREETING=hello").unwrap()],
        }
    }

    fn setup(cwd: &str) -> ChildSetup {
        ChildSetup {
            cgroup_procs: Vec::new(),
            oom_score_adj: None,
            mounts: Vec::new(),
            mounts_optional: false,
            cwd: CString::new(cwd).unwrap(),
            hostname: None,
            pid_namespace: false,
            join: None,
            user: Default::default(),
            groups: Vec::new(),
        }
    }

    fn dev_null() -> OwnedFd {
        std::fs::File::open("/dev/null").unwrap().into()
    }

    async fn read_all(fd: OwnedFd) -> String {
        let mut pipe = tokio::net::unix::pipe::Receiver::from_owned_fd(fd).unwrap();
        let mut out = String::new();
        pipe.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn the_program_gets_its_environment_directory_and_pipes_and_its_exit_code_is_read() {
        let child = spawn(
            &program(&[
                "/bin/sh",
                "-c",
                "echo \"$GREETING from $(pwd)\"; echo oops >&2; exit 3",
            ]),
            &setup("/tmp"),
            &dev_null(),
        )
        .unwrap();
        let (out, err, exit) = tokio::join!(
            read_all(child.stdout),
            read_all(child.stderr),
            child.exit.wait()
        );
        assert_eq!(out, "hello from /tmp\n");
        assert_eq!(err, "oops\n");
        assert_eq!(
            exit,
            ExitInfo {
                code: 3,
                signal: None
            }
        );
    }

    #[tokio::test]
    async fn the_child_leads_its_own_group_with_no_signal_blocked_or_ignored() {
        // The test process ignores SIGPIPE, as every Rust program does; the container must not.
        let child = spawn(
            &program(&["/bin/cat", "/proc/self/stat", "/proc/self/status"]),
            &setup("/"),
            &dev_null(),
        )
        .unwrap();
        let pid = child.pid;
        let (out, exit) = tokio::join!(read_all(child.stdout), child.exit.wait());
        assert_eq!(exit.code, 0);
        let stat: Vec<&str> = out.lines().next().unwrap().split(' ').collect();
        assert_eq!(stat[0], pid.to_string());
        assert_eq!(stat[4], pid.to_string(), "process group = pid");
        for field in ["SigBlk:", "SigIgn:"] {
            let line = out.lines().find(|l| l.starts_with(field)).unwrap();
            assert!(line.ends_with("0000000000000000"), "{line}");
        }
    }

    #[tokio::test]
    async fn a_descriptor_the_agent_inherited_does_not_reach_the_program() {
        // As one inherited from whoever started the agent: no close-on-exec flag.
        let inherited = rustix::io::fcntl_dupfd_cloexec(dev_null(), 50).unwrap();
        rustix::io::fcntl_setfd(&inherited, rustix::io::FdFlags::empty()).unwrap();
        let fd = inherited.as_raw_fd();
        let child = spawn(
            &program(&[
                "/bin/sh",
                "-c",
                &format!("test -e /proc/self/fd/{fd} && echo leaked || echo clean"),
            ]),
            &setup("/"),
            &dev_null(),
        )
        .unwrap();
        let (out, exit) = tokio::join!(read_all(child.stdout), child.exit.wait());
        assert_eq!(exit.code, 0);
        assert_eq!(out, "clean\n");
    }

    #[tokio::test]
    async fn a_signal_ends_it_with_128_plus_the_signal() {
        let child = spawn(
            &program(&["/bin/sh", "-c", "kill -TERM $$"]),
            &setup("/"),
            &dev_null(),
        )
        .unwrap();
        let exit = child.exit.wait().await;
        assert_eq!(
            exit,
            ExitInfo {
                code: 143,
                signal: Some(15)
            }
        );
    }

    #[tokio::test]
    async fn a_failed_setup_or_exec_is_an_error_naming_its_cause() {
        let e = spawn(
            &program(&["/bin/true"]),
            &setup("/nonexistent-dir"),
            &dev_null(),
        )
        .err()
        .unwrap();
        assert_eq!(e.step, FailedStep::Other);
        assert_eq!(e.source.raw_os_error(), Some(2), "ENOENT from chdir");
        let e = spawn(
            &program(&["/nonexistent-program"]),
            &setup("/"),
            &dev_null(),
        )
        .err()
        .unwrap();
        assert_eq!(e.source.raw_os_error(), Some(2), "ENOENT from execve");
    }

    #[test]
    fn the_child_dies_with_the_thread_that_started_it() {
        let starter = std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let child =
                    spawn(&program(&["/bin/sleep", "5"]), &setup("/"), &dev_null()).unwrap();
                let pid = child.pid;
                // Nobody waits here: the agent is gone.
                std::mem::forget(child.exit);
                pid
            })
        });
        let pid = starter.join().unwrap();
        let pid = rustix::process::Pid::from_raw(i32::try_from(pid).unwrap()).unwrap();
        let status = rustix::process::waitid(
            rustix::process::WaitId::Pid(pid),
            rustix::process::WaitIdOptions::EXITED,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            status.terminating_signal(),
            Some(9),
            "SIGKILL from the parent-death signal, not the end of `sleep 5`"
        );
    }
}
