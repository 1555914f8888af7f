//! The `process` runtime: each container attempt is a host process in its own process group.
//!
//! The image is recorded, not pulled. The attempt joins a cgroup with its limits when the host
//! allows one, gets a private mount namespace when it has volumes (and a UTS namespace with the
//! pod's host name where the agent may make namespaces), and its stdout/stderr go to
//! its CRI log file. Where the agent may make namespaces, the attempt is the first process of
//! a PID namespace of its own, so everything it started dies with it, as in a container;
//! elsewhere, the rest of its process group is killed when it ends.

use super::{
    AttachedExec, ContainerConfig, EXEC_OUTPUT_LIMIT, ExecOutcome, Exited, Runtime, RuntimeError,
    Started,
};
use crate::logs::{LogStore, copy_to_cri, open_cri_log};
use crate::os::{Os, OsError, Signal, SpawnSpec, Stdio};
use futures::future::BoxFuture;
use runlet_api::clock::Clock;
use std::sync::Arc;

/// Runs containers as host processes.
pub struct ProcessRuntime {
    os: Arc<dyn Os>,
    logs: LogStore,
    clock: Arc<dyn Clock>,
}

impl ProcessRuntime {
    pub fn new(os: Arc<dyn Os>, logs: LogStore, clock: Arc<dyn Clock>) -> Self {
        ProcessRuntime { os, logs, clock }
    }
}

impl Runtime for ProcessRuntime {
    fn name(&self) -> &'static str {
        "process"
    }

    fn start(&self, config: ContainerConfig) -> Result<Started, RuntimeError> {
        let cgroup = self
            .os
            .create_cgroup(&config.id, config.limits)
            .map_err(RuntimeError::Start)?;
        // Only its own cgroups tell its OOM kills, and go with it.
        let has_cgroup = cgroup.as_ref().is_some_and(|c| c.own);
        // Limits, not requests: a request only weighs against others, and nothing is lost
        // without it.
        let limited = config.limits.memory_bytes.is_some() || config.limits.cpu_millis.is_some();
        let (id, log_path, own_pid_namespace) = (
            config.id.clone(),
            config.log_path.clone(),
            config.pid_namespace,
        );
        let spec = spawn_spec(config, cgroup.map(|c| c.procs).unwrap_or_default(), None);
        // The log file exists before the process does: an agent that crashes at once after the
        // start still finds it when it comes back, and so knows the attempt ran (a `Never` pod
        // must not run twice).
        let log_file = open_cri_log(&log_path, &self.logs);
        let spawned = match self.os.spawn(spec) {
            Ok(s) => s,
            Err(e) => {
                if has_cgroup {
                    self.os.remove_cgroup(&id);
                }
                if log_file.is_ok() {
                    let _ = std::fs::remove_file(&log_path);
                }
                self.logs.set_live(&log_path, false);
                return Err(start_error(e));
            }
        };
        let pid = spawned.pid;
        // A container without a PID namespace of its own (`hostPID`) leaves what it started
        // running when its main process ends, even outside its process group (`setsid`), as
        // runc's shim would not: its private mount namespace finds them.
        let mount_ns = if own_pid_namespace {
            None
        } else {
            self.os.mount_namespace_of(pid)
        };
        let os = self.os.clone();
        let logs = self.logs.clone();
        let clock = self.clock.clone();
        let exited = Box::pin(async move {
            let exit = spawned.exit;
            let wait = async {
                let e = exit.await;
                // The container's other processes go with it.
                if let Err(err) = os.signal_container(pid, Signal::Kill) {
                    tracing::debug!(pid, error = %err, "killing the rest of a process group");
                }
                if let Some(ns) = &mount_ns {
                    os.kill_mount_namespace(ns);
                }
                e
            };
            let copy = copy_to_cri(
                spawned.stdout,
                spawned.stderr,
                log_file,
                &log_path,
                &logs,
                clock.as_ref(),
            );
            let (e, copied) = futures::join!(wait, copy);
            if let Err(err) = copied {
                tracing::warn!(log = %log_path.display(), error = %err, "writing container log");
            }
            // As containerd reports it: any OOM kill in the container's cgroup, whichever of
            // its processes it hit.
            let oom_killed = has_cgroup && os.cgroup_oom_killed(&id);
            if has_cgroup {
                os.remove_cgroup(&id);
            }
            Exited {
                code: e.code,
                signal: e.signal,
                oom_killed,
            }
        });
        Ok(Started {
            pid,
            exited,
            limits_unenforced: limited && !has_cgroup,
        })
    }

    fn exec(
        &self,
        config: ContainerConfig,
        timeout: std::time::Duration,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Result<BoxFuture<'static, ExecOutcome>, RuntimeError> {
        let (spawned, joined) = self.spawn_in_container(config, Stdio::Detached)?;
        let os = self.os.clone();
        let pid = spawned.pid;
        let mut exit = spawned.exit;
        let (stdout, stderr) = (spawned.stdout, spawned.stderr);
        Ok(Box::pin(async move {
            let run = async {
                let output = read_output(stdout, stderr).await;
                ((&mut exit).await, output)
            };
            let outcome = tokio::select! {
                (e, output) = run => ExecOutcome::Exited {
                    code: e.code,
                    output,
                },
                _ = tokio::time::sleep(timeout) => ExecOutcome::TimedOut,
                _ = cancel.cancelled() => ExecOutcome::Cancelled,
            };
            // Inside the container, what it started in the background stays, as with runc's
            // exec, until the container ends (its PID namespace, or for a `hostPID` one its
            // mount namespace, takes it along); elsewhere it goes with it. One that ran over
            // its time goes in any case, and is reaped here.
            let done = matches!(outcome, ExecOutcome::Exited { .. });
            if (!joined || !done)
                && let Err(e) = os.signal_container(pid, Signal::Kill)
            {
                tracing::debug!(pid, error = %e, "killing what an exec started");
            }
            if !matches!(outcome, ExecOutcome::Exited { .. }) {
                exit.await;
            }
            outcome
        }))
    }

    fn exec_attached(
        &self,
        config: ContainerConfig,
        stdio: Stdio,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Result<AttachedExec, RuntimeError> {
        let (spawned, joined) = self.spawn_in_container(config, stdio)?;
        let pid = spawned.pid;
        let mut kill = KillOnDrop {
            os: Some(self.os.clone()),
            pid,
        };
        let exit = spawned.exit;
        Ok(AttachedExec {
            stdin: spawned.stdin,
            stdout: spawned.stdout,
            stderr: spawned.stderr,
            terminal: spawned.terminal,
            exit: Box::pin(async move {
                tokio::pin!(exit);
                let code = tokio::select! {
                    e = &mut exit => e.code,
                    _ = cancel.cancelled() => {
                        kill.now();
                        exit.await.code
                    }
                };
                // As for a probe: inside the container, what it started in the background
                // stays until the container ends; elsewhere it goes now.
                if joined {
                    kill.disarm();
                }
                code
            }),
        })
    }

    fn signal(&self, pid: u32, signal: Signal) {
        if let Err(e) = self.os.signal_container(pid, signal) {
            tracing::warn!(pid, error = %e, "signalling a container");
        }
    }

    fn os(&self) -> &dyn Os {
        self.os.as_ref()
    }
}

impl ProcessRuntime {
    /// Starts `config.argv` as the container `config` describes runs, in its namespaces and
    /// cgroup where it has them (an agent that may make namespaces made the container a mount
    /// namespace of its own, and a PID namespace unless `hostPID`); whether it joined them.
    fn spawn_in_container(
        &self,
        config: ContainerConfig,
        stdio: Stdio,
    ) -> Result<(crate::os::Spawned, bool), RuntimeError> {
        let join = config
            .join
            .filter(|_| self.os.is_root())
            .map(|pid| crate::os::Join {
                pid,
                pid_namespace: config.pid_namespace,
            });
        let joined = join.is_some();
        // And into its cgroup, as runc's exec joins it: what it uses counts against the
        // container's limits.
        let cgroup = if joined {
            self.os.cgroup_procs(&config.id)
        } else {
            Vec::new()
        };
        let spec = SpawnSpec {
            stdio,
            ..spawn_spec(config, cgroup, join)
        };
        let spawned = self.os.spawn(spec).map_err(start_error)?;
        Ok((spawned, joined))
    }
}

/// Kills a process group when dropped, unless disarmed (`os` taken).
struct KillOnDrop {
    os: Option<Arc<dyn Os>>,
    pid: u32,
}

impl KillOnDrop {
    fn disarm(&mut self) {
        self.os = None;
    }

    fn now(&self) {
        if let Some(os) = &self.os
            && let Err(e) = os.signal_container(self.pid, Signal::Kill)
        {
            tracing::debug!(pid = self.pid, error = %e, "killing an exec");
        }
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.now();
    }
}

/// How the OS starts what `config` describes.
fn spawn_spec(
    config: ContainerConfig,
    cgroup_procs: Vec<std::path::PathBuf>,
    join: Option<crate::os::Join>,
) -> SpawnSpec {
    SpawnSpec {
        argv: config.argv,
        env: config.env,
        cwd: config.cwd,
        user: config.user,
        mounts: config.mounts,
        hostname: config.hostname,
        pid_namespace: config.pid_namespace,
        cgroup_procs,
        oom_score_adj: config.limits.oom_score_adj,
        join,
        stdio: crate::os::Stdio::Detached,
    }
}

fn start_error(e: OsError) -> RuntimeError {
    match e {
        OsError::MountNamespace(_) => RuntimeError::MountNamespace(e),
        other => RuntimeError::Start(other),
    }
}

/// Both streams read to their end together, the first [`EXEC_OUTPUT_LIMIT`] bytes kept in the
/// order they came.
async fn read_output(
    mut stdout: Box<dyn tokio::io::AsyncRead + Send + Unpin>,
    mut stderr: Box<dyn tokio::io::AsyncRead + Send + Unpin>,
) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut kept = Vec::new();
    let (mut out_open, mut err_open) = (true, true);
    let (mut out_buf, mut err_buf) = ([0u8; 4096], [0u8; 4096]);
    while out_open || err_open {
        let chunk = tokio::select! {
            r = stdout.read(&mut out_buf), if out_open => match r {
                Ok(n) if n > 0 => out_buf.get(..n),
                _ => { out_open = false; None }
            },
            r = stderr.read(&mut err_buf), if err_open => match r {
                Ok(n) if n > 0 => err_buf.get(..n),
                _ => { err_open = false; None }
            },
        };
        if let Some(chunk) = chunk {
            let room = EXEC_OUTPUT_LIMIT.saturating_sub(kept.len());
            kept.extend_from_slice(chunk.get(..chunk.len().min(room)).unwrap_or_default());
        }
    }
    kept
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::os::fake::{FakeOs, FakeProcess};
    use runlet_api::clock::FakeClock;

    #[tokio::test]
    async fn output_reaches_the_log_and_the_group_is_killed_after_exit() {
        let dir = tempfile::tempdir().unwrap();
        let os = Arc::new(FakeOs::new());
        os.push(FakeProcess {
            stdout: b"hi\n".to_vec(),
            exit_code: Some(3),
            ..Default::default()
        });
        let rt = ProcessRuntime::new(
            os.clone(),
            LogStore::new(dir.path().to_path_buf()),
            Arc::new(FakeClock::at(0)),
        );
        let log_path = dir.path().join("c/0.log");
        let started = rt
            .start(ContainerConfig {
                id: "u-c-0".into(),
                argv: vec!["sh".into()],
                log_path: log_path.clone(),
                limits: crate::os::Limits {
                    memory_bytes: Some(1 << 20),
                    ..Default::default()
                },
                ..Default::default()
            })
            .unwrap();
        let exited = started.exited.await;
        assert_eq!(exited.code, 3);
        assert!(!exited.oom_killed);
        assert_eq!(
            std::fs::read_to_string(&log_path).unwrap(),
            "1970-01-01T00:00:00.000000000Z stdout F hi\n"
        );
        assert_eq!(
            *os.signals.lock().unwrap(),
            vec![(started.pid, Signal::Kill)]
        );
        let spawned = os.spawned.lock().unwrap();
        assert_eq!(
            spawned[0].cgroup_procs.len(),
            1,
            "the attempt joins its cgroup"
        );
    }

    #[tokio::test]
    async fn a_memory_kill_is_reported_as_oom() {
        let dir = tempfile::tempdir().unwrap();
        let os = Arc::new(FakeOs::new());
        os.push(FakeProcess {
            exit_code: None,
            ..Default::default()
        });
        os.oom.lock().unwrap().push("u-c-0".into());
        let rt = ProcessRuntime::new(
            os.clone(),
            LogStore::new(dir.path().to_path_buf()),
            Arc::new(FakeClock::at(0)),
        );
        let started = rt
            .start(ContainerConfig {
                id: "u-c-0".into(),
                argv: vec!["sh".into()],
                log_path: dir.path().join("0.log"),
                limits: crate::os::Limits {
                    memory_bytes: Some(1 << 20),
                    ..Default::default()
                },
                ..Default::default()
            })
            .unwrap();
        rt.signal(started.pid, Signal::Kill);
        let exited = started.exited.await;
        assert_eq!((exited.code, exited.oom_killed), (137, true));
    }
}
