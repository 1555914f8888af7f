//! A pod worker's probes and lifecycle hooks: when they run, and what their results do.
//!
//! Probes ([`probe`]) run while a container runs; a `postStart` hook runs right after its start
//! (the container counts as started, and its probes begin, once the hook is done; a failed hook
//! has the container killed, as the kubelet's `startContainer` does), a `preStop` hook before
//! the SIGTERM that stops it: the grace period counts from the hook's start, the hook has what
//! is left of it, and the SIGTERM that follows gets the rest, at least 2 s (the kubelet's
//! `minimumGracePeriodInSeconds`), before SIGKILL. Every run belongs to one attempt of its
//! container and ends with it: an exec run's process is killed when the attempt ends. Failed
//! hooks are `FailedPostStartHook` and `FailedPreStopHook` events with upstream's bare
//! messages (the hook's output may hold secrets), the details in the agent's log.

use super::probe::{self, Action, Handler, ProbeKind, Verdict};
use super::state::StartFailure;
use super::{Worker, field_path};
use crate::os::Signal;
use crate::runtime::{ContainerConfig, ExecOutcome};
use runlet_api::eventtype::EventType::{self, Normal, Warning};
use std::time::Duration;

/// The least time a container gets between its SIGTERM and its SIGKILL after a `preStop` hook
/// (the kubelet's `minimumGracePeriodInSeconds`).
const MINIMUM_GRACE_MS: i64 = 2000;

/// What a probe or hook run is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerUse {
    Probe(ProbeKind),
    PostStart,
    PreStop,
}

/// A finished run: container `i`'s `attempt`, what for, and `Ok` (with a probe's warning,
/// if it has one) or what went wrong (in upstream's words for the event).
pub struct HandlerDone {
    i: usize,
    attempt: u32,
    usage: HandlerUse,
    result: Result<Option<String>, String>,
}

impl Worker {
    /// Starts the probe runs that are due: a container's startup probe until it succeeds, then
    /// its liveness and readiness probes, each once at a time; none while the pod stops, while
    /// a container's `postStart` hook runs, or once it is being stopped.
    pub(super) fn run_due_probes(&mut self) {
        if self.terminating() {
            return;
        }
        let now = self.now_ms();
        let mut due = Vec::new();
        for (i, s) in self.slots.iter_mut().enumerate() {
            if !s.is_running() || s.kill_at.is_some() || s.post_start_pending {
                continue;
            }
            let started = s.probed_started;
            for p in s.probes.iter_mut() {
                // The startup probe until it passes, the others after it.
                let gated = (p.kind == ProbeKind::Startup) == started;
                if p.in_flight || gated || p.next_at_ms > now {
                    continue;
                }
                p.in_flight = true;
                due.push((i, p.kind, p.timeout()));
            }
        }
        for (i, kind, timeout) in due {
            self.launch(i, HandlerUse::Probe(kind), timeout);
        }
    }

    /// Runs container `i`'s `postStart` hook, if it has one, right after its start.
    pub(super) fn run_post_start(&mut self, i: usize) {
        let has_hook = self.slots.get(i).is_some_and(|s| {
            s.container
                .lifecycle
                .as_ref()
                .is_some_and(|l| l.post_start.is_some())
        });
        if let Some(s) = self.slots.get_mut(i).filter(|_| has_hook) {
            s.post_start_pending = true;
            // Bounded by the container's life: the run ends with the attempt.
            self.launch(i, HandlerUse::PostStart, Duration::from_secs(24 * 3600));
        }
    }

    /// Sends `signal` to container `i`; a SIGTERM to a container with a `preStop` hook runs
    /// the hook first and follows when it is done (a SIGTERM asked for while it runs is that
    /// same one).
    pub(super) fn terminate(&mut self, i: usize, signal: Signal) {
        // The hook has until the container's stop deadline.
        let now = self.now_ms();
        let deadline = self.stop_deadline(i).unwrap_or(now + self.grace_ms());
        let grace = Duration::from_millis(u64::try_from(deadline - now).unwrap_or(0));
        let Some(s) = self.slots.get_mut(i) else {
            return;
        };
        let Some(pid) = s.running_pid() else {
            return;
        };
        if signal == Signal::Term {
            if s.pre_stop_pending {
                return;
            }
            let has_hook = s
                .container
                .lifecycle
                .as_ref()
                .is_some_and(|l| l.pre_stop.is_some());
            if has_hook && !s.pre_stop_ran {
                s.pre_stop_ran = true;
                s.pre_stop_pending = true;
                self.launch(i, HandlerUse::PreStop, grace.max(Duration::from_secs(1)));
                return;
            }
        }
        self.ctx.runtime.signal(pid, signal);
        s.killed |= signal == Signal::Kill;
    }

    /// When container `i`, being stopped, gets SIGKILL: its own deadline (a failed probe or
    /// hook), or the pod's (deletion, sidecars stopped after the main containers).
    fn stop_deadline(&self, i: usize) -> Option<i64> {
        self.slots
            .get(i)
            .and_then(|s| s.kill_at)
            .or(match self.stage {
                super::Stage::Killing { deadline_ms }
                | super::Stage::StopSidecars { deadline_ms } => Some(deadline_ms),
                _ => None,
            })
    }

    /// Stops container `i` on the agent's own account (a failed probe or `postStart` hook):
    /// SIGTERM (after its `preStop` hook), SIGKILL `grace_s` seconds later.
    fn kill_container(&mut self, i: usize, grace_s: i64) {
        let now = self.now_ms();
        if let Some(s) = self.slots.get_mut(i) {
            s.probes.clear();
            s.probed_ready = false;
            s.kill_at = Some(now + grace_s.max(1) * 1000);
        }
        self.terminate(i, Signal::Term);
    }

    /// Starts one run of container `i`'s probe or hook `usage`.
    fn launch(&mut self, i: usize, usage: HandlerUse, timeout: Duration) {
        let pod_ip = self.ctx.host.ip.clone();
        let Some(s) = self.slots.get(i) else {
            return;
        };
        let lifecycle = s.container.lifecycle.as_ref();
        let handler: Option<Handler<'_>> = match usage {
            HandlerUse::Probe(kind) => s
                .probes
                .iter()
                .find(|p| p.kind == kind)
                .map(|p| (&p.probe).into()),
            HandlerUse::PostStart => lifecycle
                .and_then(|l| l.post_start.as_ref())
                .map(Into::into),
            HandlerUse::PreStop => lifecycle.and_then(|l| l.pre_stop.as_ref()).map(Into::into),
        };
        let Some(handler) = handler else {
            return;
        };
        let action = probe::action(handler, &s.container, &pod_ip);
        let attempt = s.attempts;
        let cancel = s.attempt_cancel.clone().unwrap_or_default();
        let exec = match &action {
            Action::Exec(argv) => Some(match &s.exec_config {
                Some(c) => self
                    .ctx
                    .runtime
                    .exec(
                        ContainerConfig {
                            argv: argv.clone(),
                            join: s.running_pid(),
                            ..c.as_ref().clone()
                        },
                        timeout,
                        cancel.clone(),
                    )
                    .map_err(|e| e.to_string()),
                None => Err("the container's configuration is gone".to_string()),
            }),
            _ => None,
        };
        let hook = HookNames {
            container: s.name().to_string(),
            pod: format!("{}_{}({})", self.name, self.ns, self.uid),
        };
        self.handlers.spawn(async move {
            let result = match (action, exec) {
                (Action::Exec(_), Some(Err(why))) => Err(why),
                (Action::Exec(argv), Some(Ok(run))) => {
                    let outcome = run.await;
                    match usage {
                        HandlerUse::Probe(_) => probe_exec_result(&argv, outcome),
                        _ => hook.exec_result(&argv, outcome),
                    }
                    .map(|()| None)
                }
                (Action::Sleep(pause), _) => {
                    tokio::select! {
                        _ = tokio::time::sleep(pause.min(timeout)) => {}
                        _ = cancel.cancelled() => {}
                    }
                    Ok(None)
                }
                (Action::Unsupported(why), _) => match usage {
                    HandlerUse::Probe(_) => Err(why),
                    _ => Err(format!("Cannot run handler: {why}")),
                },
                (network, _) => match usage {
                    HandlerUse::Probe(_) => probe::run_network(&network, timeout).await,
                    _ => hook.network_result(&network, timeout).await.map(|()| None),
                },
            };
            HandlerDone {
                i,
                attempt,
                usage,
                result,
            }
        });
    }

    /// Takes a finished run (one for an attempt that has ended counts for nothing).
    pub(super) fn on_handler_done(&mut self, done: HandlerDone) {
        let current = self
            .slots
            .get(done.i)
            .is_some_and(|s| s.is_running() && s.attempts == done.attempt);
        if !current {
            return;
        }
        match done.usage {
            HandlerUse::Probe(kind) => self.on_probe(done.i, kind, done.result),
            HandlerUse::PostStart => {
                if let Some(s) = self.slots.get_mut(done.i) {
                    s.post_start_pending = false;
                }
                if let Err(msg) = done.result {
                    // Upstream's event leaves the hook's output out: it may hold secrets.
                    tracing::warn!(pod = %self.name, namespace = %self.ns, "{msg}");
                    if let Some(s) = self.slots.get_mut(done.i) {
                        s.start_failure = Some(StartFailure {
                            reason: "PostStartHookError",
                            message: msg,
                        });
                    }
                    self.container_event(
                        done.i,
                        Warning,
                        "FailedPostStartHook",
                        "PostStartHook failed",
                    );
                    self.container_event(done.i, Normal, "Killing", "FailedPostStartHook");
                    let grace_s = self.grace_ms() / 1000;
                    self.kill_container(done.i, grace_s);
                }
            }
            HandlerUse::PreStop => {
                if let Some(s) = self.slots.get_mut(done.i) {
                    s.pre_stop_pending = false;
                }
                if let Err(msg) = done.result {
                    tracing::warn!(pod = %self.name, namespace = %self.ns, "{msg}");
                    self.container_event(
                        done.i,
                        Warning,
                        "FailedPreStopHook",
                        "PreStopHook failed",
                    );
                }
                // The SIGTERM gets what is left of the grace period, at least 2 s.
                let now = self.now_ms();
                let deadline = self
                    .stop_deadline(done.i)
                    .unwrap_or(now)
                    .max(now + MINIMUM_GRACE_MS);
                if let Some(s) = self.slots.get_mut(done.i) {
                    s.kill_at = Some(deadline);
                }
                self.terminate(done.i, Signal::Term);
            }
        }
    }

    /// A probe's result: a failure is an `Unhealthy` event, and enough in a row make the
    /// container unready, or have it killed.
    fn on_probe(&mut self, i: usize, kind: ProbeKind, result: Result<Option<String>, String>) {
        let now = self.now_ms();
        let Some(s) = self.slots.get_mut(i) else {
            return;
        };
        let Some(p) = s.probes.iter_mut().find(|p| p.kind == kind) else {
            return;
        };
        let verdict = p.record(result.is_ok(), now);
        let probe_grace = p.probe.termination_grace_period_seconds;
        match verdict {
            Verdict::Ready(ready) => s.probed_ready = ready,
            Verdict::Started => s.probed_started = true,
            Verdict::Unchanged | Verdict::Kill => {}
        }
        match &result {
            Err(why) => self.container_event(
                i,
                Warning,
                "Unhealthy",
                &format!("{} probe failed: {why}", kind.label()),
            ),
            Ok(Some(warning)) => self.container_event(
                i,
                Warning,
                "ProbeWarning",
                &format!("{} probe warning: {warning}", kind.label()),
            ),
            Ok(None) => {}
        }
        if verdict == Verdict::Kill {
            // As the kubelet kills a container that failed its liveness or startup probe: the
            // probe's own grace period, or the pod's.
            let grace_s = probe_grace.unwrap_or(self.grace_ms() / 1000);
            let name = self.slots.get(i).map(|s| s.name().to_string());
            self.container_event(
                i,
                Normal,
                "Killing",
                &format!(
                    "Container {} failed {} probe, will be restarted",
                    name.unwrap_or_default(),
                    kind.label().to_lowercase()
                ),
            );
            self.kill_container(i, grace_s);
        }
    }

    fn container_event(&self, i: usize, type_: EventType, reason: &str, message: &str) {
        if let Some(s) = self.slots.get(i) {
            self.ctx
                .events
                .pod(&self.pod, type_, reason, message, Some(&field_path(s)));
        }
    }
}

/// An exec probe's result: success on exit code 0, otherwise its output as it is, empty or
/// not (upstream's `execProber` returns the output alone, and the prober's event is
/// "<kind> probe failed: <output>"); a command that timed out or was cut short says so.
fn probe_exec_result(argv: &[String], outcome: ExecOutcome) -> Result<(), String> {
    let command = argv.join(" ");
    match outcome {
        ExecOutcome::Exited { code: 0, .. } => Ok(()),
        ExecOutcome::Exited { output, .. } => Err(String::from_utf8_lossy(&output).into_owned()),
        ExecOutcome::TimedOut => Err(format!("command {command:?} timed out")),
        ExecOutcome::Cancelled => Err(format!("command {command:?} ended with its container")),
    }
}

/// What upstream's hook runner names in its failure messages.
struct HookNames {
    container: String,
    /// `<name>_<namespace>(<uid>)`, as upstream's `format.Pod`.
    pod: String,
}

impl HookNames {
    fn exec_result(&self, argv: &[String], outcome: ExecOutcome) -> Result<(), String> {
        let command = argv.join(" ");
        let (error, output) = match outcome {
            ExecOutcome::Exited { code: 0, .. } => return Ok(()),
            ExecOutcome::Exited { code, output } => {
                let output = String::from_utf8_lossy(&output).into_owned();
                (
                    format!("command '{command}' exited with {code}: {output}"),
                    output,
                )
            }
            ExecOutcome::TimedOut => (format!("command '{command}' timed out"), String::new()),
            ExecOutcome::Cancelled => (
                format!("command '{command}' ended with its container"),
                String::new(),
            ),
        };
        Err(format!(
            "Exec lifecycle hook ([{command}]) for Container {:?} in Pod {:?} failed - error: {error}, message: {output:?}",
            self.container, self.pod
        ))
    }

    async fn network_result(&self, action: &Action, timeout: Duration) -> Result<(), String> {
        let path = match action {
            Action::Http { path, .. } => path.as_str(),
            _ => "",
        };
        probe::run_network_hook(action, timeout).await.map_err(|e| {
            format!(
                "HTTP lifecycle hook ({path}) for Container {:?} in Pod {:?} failed - error: {e}",
                self.container, self.pod
            )
        })
    }
}
