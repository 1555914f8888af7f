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
}

impl LinuxOs {
    /// Probes the host (root or not, which cgroup hierarchy) once.
    pub fn new() -> Self {
        let root = rustix::process::geteuid().is_root();
        LinuxOs {
            cgroups: Cgroups::detect(root),
            root,
        }
    }
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

        let mut cmd = tokio::process::Command::new(&program);
        cmd.args(spec.argv.iter().skip(1))
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(false);
        // SAFETY: `ChildSetup::apply` runs in the forked child before exec and only makes
        // async-signal-safe raw system calls (prctl, write, unshare, mount, setgroups, setgid, setuid,
        // chdir) on data prepared before the fork; it neither allocates nor takes locks.
        unsafe {
            cmd.pre_exec(move || setup.apply());
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
