//! The real [`Os`]: Linux processes, process groups, mount namespaces, tmpfs and cgroups.
//!
//! Container processes are started by [`super::spawn`] (a vfork-style clone with the
//! container's setup done in the child); this module prepares what the child needs (resolved
//! program, C strings, open cgroup files) and waits for the process through a pidfd.

use super::cgroup::Cgroups;
use super::spawn::{ChildSetup, FailedStep, Program};
use super::terminal::PseudoTerminal;
use super::{Limits, Os, OsError, Signal, SpawnSpec, Spawned, Stdio};
use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Linux, as the agent's process sees it.
pub struct LinuxOs {
    cgroups: Cgroups,
    root: bool,
    /// `/dev/null`, every container's stdin.
    dev_null: Option<OwnedFd>,
}

impl LinuxOs {
    /// Probes the host (root or not, which cgroup hierarchy) once.
    pub fn new() -> Self {
        let root = rustix::process::geteuid().is_root();
        let dev_null = rustix::fs::open(
            "/dev/null",
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .inspect_err(|e| tracing::warn!(error = %e, "opening /dev/null for container stdin"))
        .ok();
        LinuxOs {
            cgroups: Cgroups::detect(root),
            root,
            dev_null,
        }
    }
}

fn executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Finds `program` as `execvp` would, in the container's `PATH` (or the default one), relative
/// names against `cwd`.
fn resolve_program(
    program: &str,
    env: &[(String, String)],
    cwd: &Path,
) -> std::io::Result<PathBuf> {
    let errno = |e: rustix::io::Errno| std::io::Error::from_raw_os_error(e.raw_os_error());
    let not_found = || errno(rustix::io::Errno::NOENT);
    if program.contains('/') {
        let p = cwd.join(program);
        return if p.exists() {
            executable(&p)
                .then_some(p)
                .ok_or_else(|| errno(rustix::io::Errno::ACCESS))
        } else {
            Err(not_found())
        };
    }
    let path = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    path.split(':')
        .map(|dir| {
            if dir.is_empty() {
                cwd.join(program)
            } else {
                cwd.join(dir).join(program)
            }
        })
        .find(|p| executable(p))
        .ok_or_else(not_found)
}

/// Why `program` cannot be run, as runc says it (`exec: "x": ...`).
fn exec_failure(program: &str, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound if !program.contains('/') => {
            "executable file not found in $PATH".to_string()
        }
        std::io::ErrorKind::NotFound => format!("stat {program}: no such file or directory"),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

impl Default for LinuxOs {
    fn default() -> Self {
        Self::new()
    }
}

fn cstring(bytes: &[u8]) -> std::io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "NUL byte in a path, argument or environment variable",
        )
    })
}

/// SIGKILLs each of `pids`; how many were killed.
fn kill_all(pids: &[i32]) -> usize {
    pids.iter()
        .filter_map(|pid| rustix::process::Pid::from_raw(*pid))
        .filter(|pid| rustix::process::kill_process(*pid, rustix::process::Signal::KILL).is_ok())
        .count()
}

impl Os for LinuxOs {
    fn spawn(&self, spec: SpawnSpec) -> Result<Spawned, OsError> {
        let program = spec.argv.first().cloned().unwrap_or_default();
        let spawn_err = |source| OsError::Spawn {
            program: program.clone(),
            source,
        };
        if program.is_empty() {
            return Err(OsError::NoCommand);
        }
        let Some(dev_null) = &self.dev_null else {
            return Err(spawn_err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "/dev/null could not be opened",
            )));
        };
        let mut cgroup_procs = Vec::new();
        for p in &spec.cgroup_procs {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(p)
                .map_err(|source| OsError::Cgroup {
                    path: p.display().to_string(),
                    source,
                })?;
            cgroup_procs.push(f);
        }
        let mut mounts = Vec::new();
        for m in &spec.mounts {
            mounts.push((
                cstring(m.source.as_os_str().as_bytes()).map_err(spawn_err)?,
                cstring(m.target.as_os_str().as_bytes()).map_err(spawn_err)?,
                m.read_only,
            ));
        }
        let join = match spec.join {
            Some(j) => Some(join_namespaces(j).map_err(spawn_err)?),
            None => None,
        };
        let setup = ChildSetup {
            cgroup_procs,
            oom_score_adj: spec.oom_score_adj.map(|a| a.to_string().into_bytes()),
            mounts_optional: spec.mounts.iter().all(|m| m.optional),
            mounts,
            cwd: cstring(spec.cwd.as_os_str().as_bytes()).map_err(spawn_err)?,
            hostname: spec
                .hostname
                .filter(|_| join.is_none())
                .map(String::into_bytes),
            pid_namespace: spec.pid_namespace && join.is_none(),
            join,
            groups: spec
                .user
                .groups
                .iter()
                .map(|g| rustix::process::Gid::from_raw(*g))
                .collect(),
            user: spec.user,
        };
        let resolved =
            resolve_program(&program, &spec.env, &spec.cwd).map_err(|e| OsError::Exec {
                why: exec_failure(&program, &e),
                program: program.clone(),
            })?;
        let c_program = Program {
            path: cstring(resolved.as_os_str().as_bytes()).map_err(spawn_err)?,
            argv: spec
                .argv
                .iter()
                .map(|a| cstring(a.as_bytes()))
                .collect::<Result<_, _>>()
                .map_err(spawn_err)?,
            env: spec
                .env
                .iter()
                .map(|(k, v)| cstring(format!("{k}={v}").as_bytes()))
                .collect::<Result<_, _>>()
                .map_err(spawn_err)?,
        };
        let spawn_error = |e: super::spawn::SpawnError| {
            if e.step == FailedStep::MountNamespace
                && e.source.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error())
            {
                OsError::MountNamespace(e.source)
            } else {
                spawn_err(e.source)
            }
        };
        if let Stdio::Terminal(size) = spec.stdio {
            let terminal = PseudoTerminal::open(size).map_err(OsError::Terminal)?;
            // The process's own terminal, as runc makes a container's console its user's.
            if setup.user.uid.is_some() || setup.user.gid.is_some() {
                rustix::fs::fchown(
                    &terminal.far,
                    setup.user.uid.map(rustix::fs::Uid::from_raw),
                    setup.user.gid.map(rustix::fs::Gid::from_raw),
                )
                .map_err(|e| OsError::Terminal(e.into()))?;
            }
            let child = super::spawn::spawn_on_terminal(&c_program, &setup, &terminal.far)
                .map_err(spawn_error)?;
            return terminal.attach(child.pid, Box::pin(child.exit.wait()));
        }
        let stdin_pipe = match spec.stdio {
            Stdio::Piped => Some(
                rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                    .map_err(|e| spawn_err(e.into()))?,
            ),
            _ => None,
        };
        let stdin = stdin_pipe.as_ref().map_or(dev_null, |(read, _)| read);
        let child = super::spawn::spawn(&c_program, &setup, stdin).map_err(spawn_error)?;
        let pipe = |fd| tokio::net::unix::pipe::Receiver::from_owned_fd(fd).map_err(spawn_err);
        let stdout = pipe(child.stdout)?;
        let stderr = pipe(child.stderr)?;
        let stdin = match stdin_pipe {
            Some((_, write)) => Some(Box::new(
                tokio::net::unix::pipe::Sender::from_owned_fd(write).map_err(spawn_err)?,
            )
                as Box<dyn tokio::io::AsyncWrite + Send + Unpin>),
            None => None,
        };
        Ok(Spawned {
            pid: child.pid,
            stdin,
            stdout: Box::new(stdout),
            stderr: Box::new(stderr),
            terminal: None,
            exit: Box::pin(child.exit.wait()),
        })
    }

    fn kill_left_behind(&self, termination_dir: &Path) -> usize {
        kill_all(&super::leftovers::find(termination_dir))
    }

    fn mount_namespace_of(&self, pid: u32) -> Option<String> {
        let ns = |path: &str| {
            std::fs::read_link(path)
                .ok()
                .and_then(|l| l.into_os_string().into_string().ok())
        };
        let theirs = ns(&format!("/proc/{pid}/ns/mnt"))?;
        (Some(&theirs) != ns("/proc/self/ns/mnt").as_ref()).then_some(theirs)
    }

    fn kill_mount_namespace(&self, ns: &str) -> usize {
        kill_all(&super::leftovers::in_mount_namespace(ns))
    }

    fn signal_container(&self, pgid: u32, signal: Signal) -> Result<(), OsError> {
        let Some(pid) = i32::try_from(pgid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return Ok(());
        };
        let sent = match signal {
            Signal::Term => rustix::process::kill_process(pid, rustix::process::Signal::TERM),
            Signal::Kill => rustix::process::kill_process_group(pid, rustix::process::Signal::KILL),
        };
        match sent {
            Ok(()) => Ok(()),
            Err(e) if e == rustix::io::Errno::SRCH => Ok(()),
            Err(e) => Err(OsError::Signal {
                pgid,
                source: e.into(),
            }),
        }
    }

    fn mount_tmpfs(&self, target: &Path, size_bytes: Option<u64>) -> Result<(), OsError> {
        let err = |source: std::io::Error| OsError::Mount {
            path: target.display().to_string(),
            source,
        };
        let t = cstring(target.as_os_str().as_bytes()).map_err(err)?;
        let options = match size_bytes {
            Some(size) => format!("mode=0777,size={size}"),
            None => "mode=0777".to_string(),
        };
        let options = cstring(options.as_bytes()).map_err(err)?;
        rustix::mount::mount(
            c"tmpfs",
            t.as_c_str(),
            c"tmpfs",
            rustix::mount::MountFlags::NOSUID | rustix::mount::MountFlags::NODEV,
            Some(options.as_c_str()),
        )
        .map_err(|e| err(e.into()))
    }

    fn unmount(&self, target: &Path) -> Result<(), OsError> {
        let err = |source: std::io::Error| OsError::Mount {
            path: target.display().to_string(),
            source,
        };
        let t = cstring(target.as_os_str().as_bytes()).map_err(err)?;
        rustix::mount::unmount(t.as_c_str(), rustix::mount::UnmountFlags::DETACH)
            .map_err(|e| err(e.into()))
    }

    fn create_cgroup(
        &self,
        id: &str,
        limits: Limits,
    ) -> Result<Option<super::CgroupPlacement>, OsError> {
        self.cgroups.create(id, limits)
    }

    fn cgroup_oom_killed(&self, id: &str) -> bool {
        self.cgroups.oom_killed(id)
    }

    fn cgroup_procs(&self, id: &str) -> Vec<PathBuf> {
        self.cgroups.procs(id)
    }

    fn remove_cgroup(&self, id: &str) {
        self.cgroups.remove(id);
    }

    fn is_root(&self) -> bool {
        self.root
    }
}

/// The mount and UTS namespaces of `join.pid` (and its PID namespace, with this thread's own
/// to come back to, when it has one of its own; see [`super::spawn::Joined`]).
fn join_namespaces(join: super::Join) -> std::io::Result<super::spawn::Joined> {
    let open = |path: String| std::fs::File::open(path).map(OwnedFd::from);
    let pid = join.pid;
    let pid_namespaces = if join.pid_namespace {
        Some((
            open(format!("/proc/{pid}/ns/pid"))?,
            open("/proc/thread-self/ns/pid".to_string())?,
        ))
    } else {
        None
    };
    Ok(super::spawn::Joined {
        pid: pid_namespaces,
        mnt: open(format!("/proc/{pid}/ns/mnt"))?,
        uts: open(format!("/proc/{pid}/ns/uts"))?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::os::TerminalSize;

    #[test]
    fn programs_are_found_in_the_containers_path_as_execvp_does() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let tool = bin.join("tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        let plain = bin.join("plain");
        std::fs::write(&plain, "").unwrap();
        std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let env = vec![(
            "PATH".to_string(),
            format!("/nonexistent:{}", bin.display()),
        )];
        assert_eq!(resolve_program("tool", &env, dir.path()).unwrap(), tool);
        assert_eq!(resolve_program("bin/tool", &[], dir.path()).unwrap(), tool);
        let missing = resolve_program("nope", &env, dir.path()).unwrap_err();
        assert_eq!(missing.raw_os_error(), Some(2), "ENOENT as exec reports it");
        assert_eq!(
            exec_failure("nope", &missing),
            "executable file not found in $PATH"
        );
        let plain = resolve_program("bin/plain", &[], dir.path()).unwrap_err();
        assert_eq!(exec_failure("bin/plain", &plain), "permission denied");
        assert!(
            resolve_program("plain", &env, dir.path()).is_err(),
            "not executable"
        );
        assert_eq!(
            resolve_program("sh", &[], dir.path())
                .unwrap()
                .file_name()
                .unwrap(),
            "sh",
            "the default PATH"
        );
    }

    fn spec(script: &str, stdio: Stdio) -> SpawnSpec {
        SpawnSpec {
            argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            cwd: "/".into(),
            stdio,
            ..Default::default()
        }
    }

    async fn read_all(mut r: Box<dyn tokio::io::AsyncRead + Send + Unpin>) -> String {
        use tokio::io::AsyncReadExt;
        let mut out = String::new();
        r.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn piped_stdin_reaches_the_program_and_ends_when_dropped() {
        use tokio::io::AsyncWriteExt;
        let os = LinuxOs::new();
        let spawned = os.spawn(spec("cat; echo end", Stdio::Piped)).unwrap();
        let mut stdin = spawned.stdin.unwrap();
        stdin.write_all(b"typed\n").await.unwrap();
        drop(stdin);
        let (out, exit) = tokio::join!(read_all(spawned.stdout), spawned.exit);
        assert_eq!(out, "typed\nend\n");
        assert_eq!(exit.code, 0);
    }

    #[tokio::test]
    async fn a_terminal_is_the_programs_controlling_terminal_and_can_be_resized() {
        use tokio::io::AsyncWriteExt;
        let os = LinuxOs::new();
        // Reads a line (so the resize below happens before it looks), then reports.
        let script = "read line; echo \"got $line\"; test -t 0 && test -t 1 && test -t 2 && echo all-tty; \
                      stty size; sid=$(cut -d' ' -f6 /proc/$$/stat); test \"$sid\" = $$ && echo leader";
        let spawned = os.spawn(spec(script, Stdio::Terminal(None))).unwrap();
        let terminal = spawned.terminal.unwrap();
        terminal
            .resize(TerminalSize {
                width: 91,
                height: 17,
            })
            .unwrap();
        let mut stdin = spawned.stdin.unwrap();
        stdin.write_all(b"hello\n").await.unwrap();
        let (out, exit) = tokio::join!(read_all(spawned.stdout), spawned.exit);
        assert_eq!(exit.code, 0, "{out}");
        // The terminal echoes what was typed, with its line endings.
        assert_eq!(out, "hello\r\ngot hello\r\nall-tty\r\n17 91\r\nleader\r\n");
        assert_eq!(
            read_all(spawned.stderr).await,
            "",
            "stderr is the terminal too"
        );
    }
}
