//! The real [`Os`]: Linux processes, process groups, mount namespaces, tmpfs and cgroups.
//!
//! The only `unsafe` of the workspace lives here: a `pre_exec` hook that runs in the forked
//! child before `exec` to join cgroups, make a private mount namespace with the pod's volumes,
//! drop to the container's user and change directory. Everything it uses is prepared before the
//! fork (C strings, open files) so the child only makes raw system calls, which is what POSIX
//! allows between `fork` and `exec` in a multi-threaded process.
#![allow(
    unsafe_code,
    reason = "fork/exec hooks for namespaces, cgroups and users (see SAFETY)"
)]

use super::cgroup::Cgroups;
use super::{ExitInfo, Limits, Os, OsError, Signal, SpawnSpec, Spawned};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Linux, as the agent's process sees it.
pub struct LinuxOs {
    cgroups: Cgroups,
    root: bool,
    /// util-linux `setpriv` with `--pdeathsig`, for the fast spawn path.
    setpriv: Option<PathBuf>,
}

impl LinuxOs {
    /// Probes the host (root or not, which cgroup hierarchy, `setpriv`) once.
    pub fn new() -> Self {
        let root = rustix::process::geteuid().is_root();
        LinuxOs {
            cgroups: Cgroups::detect(root),
            root,
            setpriv: find_setpriv(),
        }
    }
}

/// `setpriv`, if it is installed and knows `--pdeathsig` (util-linux 2.33+).
fn find_setpriv() -> Option<PathBuf> {
    let path = ["/usr/bin/setpriv", "/bin/setpriv"]
        .iter()
        .map(PathBuf::from)
        .find(|p| executable(p))?;
    let help = std::process::Command::new(&path)
        .arg("--help")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&help.stdout)
        .contains("--pdeathsig")
        .then_some(path)
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

impl Default for LinuxOs {
    fn default() -> Self {
        Self::new()
    }
}

fn cstring(p: &Path) -> std::io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path"))
}

/// What the child does between fork and exec, prepared in the parent.
struct ChildSetup {
    cgroup_procs: Vec<std::fs::File>,
    mounts: Vec<(CString, CString, bool)>,
    cwd: CString,
    uid: Option<u32>,
    gid: Option<u32>,
}

impl ChildSetup {
    /// Runs in the child: raw system calls only, no allocation.
    fn apply(&self) -> std::io::Result<()> {
        // Containers die with the agent (even on `kill -9`) instead of running on unsupervised.
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
        for f in &self.cgroup_procs {
            rustix::io::write(f, b"0")?;
        }
        if !self.mounts.is_empty() {
            // SAFETY: only a new mount namespace is requested; the file-descriptor table and
            // memory are not unshared, so no Rust-visible state changes under us.
            unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS)? };
            rustix::mount::mount_change(
                c"/",
                rustix::mount::MountPropagationFlags::REC
                    | rustix::mount::MountPropagationFlags::PRIVATE,
            )?;
            for (source, target, read_only) in &self.mounts {
                rustix::mount::mount_bind_recursive(source.as_c_str(), target.as_c_str())?;
                if *read_only {
                    rustix::mount::mount_remount(
                        target.as_c_str(),
                        rustix::mount::MountFlags::BIND | rustix::mount::MountFlags::RDONLY,
                        c"",
                    )?;
                }
            }
        }
        if let Some(gid) = self.gid {
            rustix::thread::set_thread_groups(&[])?;
            rustix::thread::set_thread_gid(rustix::process::Gid::from_raw(gid))?;
        } else if self.uid.is_some() {
            rustix::thread::set_thread_groups(&[])?;
        }
        if let Some(uid) = self.uid {
            rustix::thread::set_thread_uid(rustix::process::Uid::from_raw(uid))?;
        }
        rustix::process::chdir(self.cwd.as_c_str())?;
        Ok(())
    }
}

impl Os for LinuxOs {
    fn spawn(&self, spec: SpawnSpec) -> Result<Spawned, OsError> {
        let program = spec.argv.first().cloned().unwrap_or_default();
        let spawn_err = |source| OsError::Spawn {
            program: program.clone(),
            source,
        };
        if program.is_empty() {
            return Err(spawn_err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "no command to run",
            )));
        }
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
                cstring(&m.source).map_err(spawn_err)?,
                cstring(&m.target).map_err(spawn_err)?,
                m.read_only,
            ));
        }
        let setup = ChildSetup {
            cgroup_procs,
            mounts,
            cwd: cstring(&spec.cwd).map_err(spawn_err)?,
            uid: spec.uid,
            gid: spec.gid,
        };
        let wants_namespace = !spec.mounts.is_empty();
        // The fast path: nothing to do between fork and exec but the parent-death signal,
        // which `setpriv` sets. Without a `pre_exec` hook the standard library spawns with
        // `posix_spawn` (a vfork-style clone), instead of `fork`ing the whole agent: copying
        // its page tables and the copy-on-write faults after were the largest cost of starting
        // a short container.
        let fast = match &self.setpriv {
            Some(setpriv)
                if spec.mounts.is_empty()
                    && spec.cgroup_procs.is_empty()
                    && spec.uid.is_none()
                    && spec.gid.is_none() =>
            {
                let resolved =
                    resolve_program(&program, &spec.env, &spec.cwd).map_err(spawn_err)?;
                Some((setpriv.clone(), resolved))
            }
            _ => None,
        };
        let mut cmd = match &fast {
            Some((setpriv, resolved)) => {
                let mut cmd = tokio::process::Command::new(setpriv);
                cmd.args(["--pdeathsig", "KILL", "--"]).arg(resolved);
                cmd.current_dir(&spec.cwd);
                cmd
            }
            None => tokio::process::Command::new(&program),
        };
        cmd.args(spec.argv.iter().skip(1))
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(false);
        if fast.is_none() {
            // SAFETY: `ChildSetup::apply` runs in the forked child before exec and only makes
            // async-signal-safe raw system calls (prctl, write, unshare, mount, setgroups,
            // setgid, setuid, chdir) on data prepared before the fork; it neither allocates nor
            // takes locks.
            unsafe {
                cmd.pre_exec(move || setup.apply());
            }
        }
        let mut child = cmd.spawn().map_err(|source| {
            if wants_namespace
                && source.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error())
            {
                OsError::MountNamespace(source)
            } else {
                spawn_err(source)
            }
        })?;
        let pid = child.id().unwrap_or(0);
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let exit = Box::pin(async move {
            match child.wait().await {
                Ok(status) => match (status.code(), status.signal()) {
                    (Some(code), _) => ExitInfo { code, signal: None },
                    (None, Some(sig)) => ExitInfo {
                        code: 128 + sig,
                        signal: Some(sig),
                    },
                    (None, None) => ExitInfo {
                        code: 255,
                        signal: None,
                    },
                },
                Err(_) => ExitInfo {
                    code: 255,
                    signal: None,
                },
            }
        });
        Ok(Spawned {
            pid,
            stdout: match stdout {
                Some(s) => Box::new(s),
                None => Box::new(tokio::io::empty()),
            },
            stderr: match stderr {
                Some(s) => Box::new(s),
                None => Box::new(tokio::io::empty()),
            },
            exit,
        })
    }

    fn signal_group(&self, pgid: u32, signal: Signal) -> Result<(), OsError> {
        let Some(pid) = i32::try_from(pgid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return Ok(());
        };
        let sig = match signal {
            Signal::Term => rustix::process::Signal::TERM,
            Signal::Kill => rustix::process::Signal::KILL,
        };
        match rustix::process::kill_process_group(pid, sig) {
            Ok(()) => Ok(()),
            Err(e) if e == rustix::io::Errno::SRCH => Ok(()),
            Err(e) => Err(OsError::Signal {
                pgid,
                source: e.into(),
            }),
        }
    }

    fn mount_tmpfs(&self, target: &Path) -> Result<(), OsError> {
        let err = |source: std::io::Error| OsError::Mount {
            path: target.display().to_string(),
            source,
        };
        let t = cstring(target).map_err(err)?;
        rustix::mount::mount(
            c"tmpfs",
            t.as_c_str(),
            c"tmpfs",
            rustix::mount::MountFlags::NOSUID | rustix::mount::MountFlags::NODEV,
            Some(c"mode=0777"),
        )
        .map_err(|e| err(e.into()))
    }

    fn unmount(&self, target: &Path) -> Result<(), OsError> {
        let err = |source: std::io::Error| OsError::Mount {
            path: target.display().to_string(),
            source,
        };
        let t = cstring(target).map_err(err)?;
        rustix::mount::unmount(t.as_c_str(), rustix::mount::UnmountFlags::DETACH)
            .map_err(|e| err(e.into()))
    }

    fn create_cgroup(&self, id: &str, limits: Limits) -> Result<Option<Vec<PathBuf>>, OsError> {
        self.cgroups.create(id, limits)
    }

    fn cgroup_oom_killed(&self, id: &str) -> bool {
        self.cgroups.oom_killed(id)
    }

    fn remove_cgroup(&self, id: &str) {
        self.cgroups.remove(id);
    }

    fn is_root(&self) -> bool {
        self.root
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
}
