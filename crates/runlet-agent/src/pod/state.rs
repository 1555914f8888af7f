//! One container's life inside a pod worker: its state, restart count, last termination and
//! crash-loop backoff, as the kubelet tracks them.

use k8s_openapi::api::core::v1::Container;
use std::sync::Arc;

/// Which list a container comes from and how it behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular init container: runs to completion before the next.
    Init,
    /// An init container with `restartPolicy: Always`: starts before the main containers, runs
    /// beside them, is stopped after them.
    Sidecar,
    Main,
}

/// How an attempt ended, as `containerStatuses[].state.terminated` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terminated {
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub reason: String,
    pub message: Option<String>,
    pub started_at: i64,
    pub finished_at: i64,
    pub container_id: String,
}

/// The container's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: i64,
        pid: u32,
    },
    Terminated(Terminated),
}

/// Upstream's per-container backoff (`flowcontrol.Backoff`, 10 s doubling to 5 min, forgotten
/// after twice the maximum without a failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub delay_ms: i64,
    pub last_update_ms: i64,
}

/// One container of the pod.
#[derive(Debug, Clone)]
pub struct Slot {
    pub container: Container,
    pub kind: Kind,
    pub state: State,
    pub restart_count: i32,
    pub last: Option<Terminated>,
    /// The attempt before `last`, shown as `lastState` while `state` shows `last`'s successor
    /// ended and not restarted yet.
    pub earlier: Option<Terminated>,
    /// A crashed container waiting out its back-off shows its exit (`Error`, `OOMKilled`) until
    /// this time, then `CrashLoopBackOff` with this message: the kubelet reports the back-off
    /// only from its next sync of the pod.
    pub backoff_shown_at: Option<(i64, String)>,
    /// When the container, still waiting out its back-off, gets its next `BackOff` event: the
    /// kubelet's pod worker syncs a pod in back-off again every 10 s, each sync recording one.
    pub next_backoff_event_ms: Option<i64>,
    /// Attempts started so far (the latest attempt's log file number is `restart_count`).
    pub attempts: u32,
    /// When the container may be (re)started, in clock milliseconds; `None`: not to be started.
    pub start_at: Option<i64>,
    pub backoff: Option<Backoff>,
    pub container_id: Option<String>,
    /// The running attempt's termination-message file, already unlinked: bound into the
    /// container, read when the attempt ends.
    pub termination: Option<Arc<std::fs::File>>,
    /// SIGKILL was already sent to the running attempt.
    pub killed: bool,
    /// The running attempt's probes (see [`super::probe`]); empty when it has none.
    pub probes: Vec<super::probe::Prober>,
    /// What an exec probe or hook of the running attempt runs as: the attempt's own
    /// configuration, without its mounts; kept only for a container with exec probes or hooks.
    pub exec_config: Option<Arc<crate::runtime::ContainerConfig>>,
    /// The readiness probe's verdict (true without a readiness probe).
    pub probed_ready: bool,
    /// The startup probe succeeded (true without a startup probe).
    pub probed_started: bool,
    /// When the running attempt, stopped on its own (a failed liveness probe), gets SIGKILL.
    pub kill_at: Option<i64>,
    /// Fires when the running attempt ends, ending its probe and hook runs.
    pub attempt_cancel: Option<tokio_util::sync::CancellationToken>,
    /// The attempt's `postStart` hook is running: not started yet, no probes.
    pub post_start_pending: bool,
    /// Why the attempt did not start, or its `postStart` hook failed: the kubelet's reason
    /// cache, which a container to be restarted shows as `waiting` (`RunContainerError`,
    /// `PostStartHookError`, with the error) until its back-off does.
    pub start_failure: Option<StartFailure>,
    /// The attempt's `preStop` hook is running: its SIGTERM follows the hook.
    pub pre_stop_pending: bool,
    /// The attempt's `preStop` hook was run (it runs once per attempt).
    pub pre_stop_ran: bool,
    /// The attempt was asked to stop (its `Killing` event was made).
    pub stop_sent: bool,
}

/// A failed start as the kubelet's reason cache holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StartFailure {
    /// `RunContainerError` or `PostStartHookError`.
    pub reason: &'static str,
    pub message: String,
}

impl Slot {
    pub fn new(container: Container, kind: Kind, waiting_reason: &str) -> Slot {
        let probed_ready = container.readiness_probe.is_none();
        let probed_started = container.startup_probe.is_none();
        Slot {
            container,
            kind,
            state: State::Waiting {
                reason: waiting_reason.to_string(),
                message: None,
            },
            restart_count: 0,
            last: None,
            earlier: None,
            backoff_shown_at: None,
            next_backoff_event_ms: None,
            attempts: 0,
            start_at: None,
            backoff: None,
            container_id: None,
            termination: None,
            killed: false,
            probes: Vec::new(),
            exec_config: None,
            probed_ready,
            probed_started,
            kill_at: None,
            attempt_cancel: None,
            post_start_pending: false,
            start_failure: None,
            pre_stop_pending: false,
            pre_stop_ran: false,
            stop_sent: false,
        }
    }

    /// The ended attempt `state` shows becomes `lastState`, as when the container restarts.
    pub fn retire_ended_attempt(&mut self) {
        if let State::Terminated(t) = &self.state {
            self.earlier = self.last.replace(t.clone());
        }
        self.backoff_shown_at = None;
    }

    /// From its due time, a container waiting out its back-off shows `CrashLoopBackOff`, its
    /// ended attempt as `lastState` (upstream's reason cache, filled at the sync that met the
    /// back-off). Whether anything changed.
    pub fn show_backoff(&mut self, now_ms: i64) -> bool {
        let Some((at, message)) = self.backoff_shown_at.clone() else {
            return false;
        };
        if now_ms < at {
            return false;
        }
        self.retire_ended_attempt();
        self.state = State::Waiting {
            reason: "CrashLoopBackOff".into(),
            message: Some(message),
        };
        true
    }

    /// A container of a pod being deleted is not restarted (upstream's
    /// `ShouldContainerBeRestarted`): one waiting out its back-off shows its ended attempt again.
    pub fn give_up_restart(&mut self) {
        self.start_at = None;
        self.backoff_shown_at = None;
        if matches!(&self.state, State::Waiting { reason, .. } if reason == "CrashLoopBackOff")
            && let Some(t) = self.last.take()
        {
            self.state = State::Terminated(t);
            self.last = self.earlier.take();
        }
    }

    /// Running, its `postStart` hook done, and started as its startup probe says.
    pub fn is_started(&self) -> bool {
        self.is_running() && self.probed_started && !self.post_start_pending
    }

    /// Running, started and ready as its probes say (the container status's `ready`).
    pub fn is_ready(&self) -> bool {
        self.is_started() && self.probed_ready
    }

    /// The attempt ended or is about to be started again: its probes and hooks go with it.
    pub fn forget_attempt(&mut self) {
        if let Some(cancel) = self.attempt_cancel.take() {
            cancel.cancel();
        }
        self.post_start_pending = false;
        self.pre_stop_pending = false;
        self.pre_stop_ran = false;
        self.stop_sent = false;
        self.probes.clear();
        self.exec_config = None;
        self.kill_at = None;
        self.probed_ready = self.container.readiness_probe.is_none();
        self.probed_started = self.container.startup_probe.is_none();
    }

    pub fn name(&self) -> &str {
        &self.container.name
    }

    pub fn running_pid(&self) -> Option<u32> {
        match self.state {
            State::Running { pid, .. } => Some(pid),
            _ => None,
        }
    }

    pub fn is_running(&self) -> bool {
        matches!(self.state, State::Running { .. })
    }

    /// Terminated and not going to run again.
    pub fn is_final(&self) -> bool {
        matches!(self.state, State::Terminated(_)) && self.start_at.is_none()
    }

    pub fn succeeded(&self) -> bool {
        matches!(&self.state, State::Terminated(t) if t.exit_code == 0)
    }

    /// Schedules a restart after a failure that finished at `finished_ms`, per upstream's
    /// `doBackOff`: the first restart is immediate, then 10 s, 20 s, ... up to `max_ms`.
    pub fn schedule_restart(&mut self, finished_ms: i64, initial_ms: i64, max_ms: i64) -> i64 {
        let delay = match self.backoff {
            Some(b) if finished_ms - b.last_update_ms <= 2 * max_ms => {
                self.backoff = Some(Backoff {
                    delay_ms: (b.delay_ms * 2).min(max_ms),
                    last_update_ms: finished_ms,
                });
                b.delay_ms
            }
            _ => {
                self.backoff = Some(Backoff {
                    delay_ms: initial_ms,
                    last_update_ms: finished_ms,
                });
                0
            }
        };
        self.start_at = Some(finished_ms + delay);
        delay
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn crash_loop_backoff_doubles_from_ten_seconds_to_five_minutes() {
        // pkg/kubelet/kuberuntime: initial 10s, max 300s; the first restart is immediate.
        let mut s = Slot::new(Container::default(), Kind::Main, "ContainerCreating");
        let mut t = 0;
        let mut delays = vec![];
        for _ in 0..8 {
            let d = s.schedule_restart(t, 10_000, 300_000);
            delays.push(d / 1000);
            t += d + 1;
        }
        assert_eq!(delays, vec![0, 10, 20, 40, 80, 160, 300, 300]);
        // Ten quiet minutes later the backoff is forgotten.
        assert_eq!(s.schedule_restart(t + 700_000, 10_000, 300_000), 0);
    }
}
