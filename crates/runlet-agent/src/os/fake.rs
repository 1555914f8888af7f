//! A recording, scripted [`Os`] for unit tests: no process is started, no mount is made.
//!
//! Each `spawn` takes the next [`FakeProcess`] from the script (or one that prints nothing and
//! exits 0), records the [`SpawnSpec`], and ends when its script says so or when signalled.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{ExitInfo, Limits, Os, OsError, Signal, SpawnSpec, Spawned};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::sync::oneshot;

/// What one fake process does.
#[derive(Debug, Clone, Default)]
pub struct FakeProcess {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// `Some`: exits at once with this code; `None`: runs until signalled.
    pub exit_code: Option<i32>,
    /// Ignores SIGTERM (only SIGKILL ends it).
    pub ignore_term: bool,
    /// The spawn itself fails with this errno.
    pub spawn_errno: Option<i32>,
}

#[derive(Default)]
pub struct FakeOs {
    pub spawned: Mutex<Vec<SpawnSpec>>,
    pub signals: Mutex<Vec<(u32, Signal)>>,
    pub tmpfs: Mutex<Vec<PathBuf>>,
    pub cgroups: Mutex<Vec<(String, Limits)>>,
    pub oom: Mutex<Vec<String>>,
    /// No cgroup can be made (a host without a usable hierarchy, or an agent that is not root).
    pub no_cgroups: std::sync::atomic::AtomicBool,
    /// The agent does not run as root.
    pub not_root: std::sync::atomic::AtomicBool,
    script: Mutex<VecDeque<FakeProcess>>,
    running: Mutex<HashMap<u32, (oneshot::Sender<ExitInfo>, bool)>>,
    next_pid: AtomicU32,
}

impl FakeOs {
    pub fn new() -> Self {
        FakeOs {
            next_pid: AtomicU32::new(1000),
            ..Default::default()
        }
    }

    /// Queues the behaviour of the next spawned process.
    pub fn push(&self, p: FakeProcess) {
        self.script.lock().unwrap().push_back(p);
    }

    pub fn spawn_count(&self) -> usize {
        self.spawned.lock().unwrap().len()
    }
}

impl Os for FakeOs {
    fn spawn(&self, spec: SpawnSpec) -> Result<Spawned, OsError> {
        let p = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(FakeProcess {
                exit_code: Some(0),
                ..Default::default()
            });
        let program = spec.argv.first().cloned().unwrap_or_default();
        self.spawned.lock().unwrap().push(spec);
        let namespaced = !self
            .spawned
            .lock()
            .unwrap()
            .last()
            .unwrap()
            .mounts
            .is_empty();
        if let Some(errno) = p.spawn_errno {
            if namespaced && errno == 1 {
                return Err(OsError::MountNamespace(std::io::Error::from_raw_os_error(
                    errno,
                )));
            }
            return Err(OsError::Spawn {
                program,
                source: std::io::Error::from_raw_os_error(errno),
            });
        }
        let pid = self.next_pid.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = oneshot::channel();
        match p.exit_code {
            Some(code) => {
                let _ = tx.send(ExitInfo { code, signal: None });
            }
            None => {
                self.running
                    .lock()
                    .unwrap()
                    .insert(pid, (tx, p.ignore_term));
            }
        }
        Ok(Spawned {
            pid,
            stdin: None,
            stdout: Box::new(std::io::Cursor::new(p.stdout)),
            stderr: Box::new(std::io::Cursor::new(p.stderr)),
            terminal: None,
            exit: Box::pin(async move {
                rx.await.unwrap_or(ExitInfo {
                    code: 137,
                    signal: Some(9),
                })
            }),
        })
    }

    fn kill_left_behind(&self, _termination_dir: &Path) -> usize {
        0
    }

    fn mount_namespace_of(&self, _pid: u32) -> Option<String> {
        None
    }

    fn kill_mount_namespace(&self, _ns: &str) -> usize {
        0
    }

    fn signal_container(&self, pgid: u32, signal: Signal) -> Result<(), OsError> {
        self.signals.lock().unwrap().push((pgid, signal));
        let mut running = self.running.lock().unwrap();
        let ends = match running.get(&pgid) {
            Some((_, ignore_term)) => signal == Signal::Kill || !ignore_term,
            None => false,
        };
        if ends && let Some((tx, _)) = running.remove(&pgid) {
            let sig = if signal == Signal::Kill { 9 } else { 15 };
            let _ = tx.send(ExitInfo {
                code: 128 + sig,
                signal: Some(sig),
            });
        }
        Ok(())
    }

    fn mount_tmpfs(&self, target: &Path, _size_bytes: Option<u64>) -> Result<(), OsError> {
        self.tmpfs.lock().unwrap().push(target.to_path_buf());
        Ok(())
    }

    fn unmount(&self, _target: &Path) -> Result<(), OsError> {
        Ok(())
    }

    fn create_cgroup(
        &self,
        id: &str,
        limits: Limits,
    ) -> Result<Option<super::CgroupPlacement>, OsError> {
        if self.no_cgroups.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(None);
        }
        self.cgroups.lock().unwrap().push((id.to_string(), limits));
        Ok(Some(super::CgroupPlacement {
            procs: vec![PathBuf::from(format!("/fake/{id}/cgroup.procs"))],
            own: true,
        }))
    }

    fn cgroup_oom_killed(&self, id: &str) -> bool {
        self.oom.lock().unwrap().iter().any(|o| o == id)
    }

    fn cgroup_procs(&self, _id: &str) -> Vec<PathBuf> {
        Vec::new()
    }

    fn remove_cgroup(&self, _id: &str) {}

    fn is_root(&self) -> bool {
        !self.not_root.load(std::sync::atomic::Ordering::Relaxed)
    }
}
