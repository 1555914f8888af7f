//! `kubectl exec` into the containers this agent runs: the running ones are looked up by pod
//! UID and container name, and the command is started as an exec probe's is (the container's
//! environment, user, working directory, namespaces and cgroup; see [`Runtime::exec_attached`]),
//! with its streams handed to the API server as an [`ExecSession`].
//!
//! [`Runtime::exec_attached`]: crate::runtime::Runtime::exec_attached

use crate::os::Stdio;
use crate::runtime::{ContainerConfig, Runtime};
use futures::future::BoxFuture;
use runlet_stream::{ExecRequest, ExecSession, ExecSourceError, TerminalSize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

/// A running container attempt, as an exec into it needs it.
#[derive(Clone)]
pub struct ExecTarget {
    /// What the attempt runs as (its `argv` unused).
    pub config: Arc<ContainerConfig>,
    /// Its main process.
    pub pid: u32,
    /// Fires when the attempt ends; what runs in it is killed then.
    pub ended: CancellationToken,
}

/// The running containers of this node's pods, by pod UID and container name.
#[derive(Clone, Default)]
pub struct ExecTargets(Arc<Mutex<HashMap<String, HashMap<String, ExecTarget>>>>);

impl ExecTargets {
    /// `container` of pod `uid` runs as `target` (replacing its previous attempt).
    pub fn running(&self, uid: &str, container: &str, target: ExecTarget) {
        if let Ok(mut pods) = self.0.lock() {
            pods.entry(uid.to_string())
                .or_default()
                .insert(container.to_string(), target);
        }
    }

    /// The pod's worker has ended: none of its containers runs any more.
    pub fn pod_gone(&self, uid: &str) {
        if let Ok(mut pods) = self.0.lock() {
            pods.remove(uid);
        }
    }

    /// The attempt of `container` in pod `uid` that still runs.
    fn find(&self, uid: &str, container: &str) -> Option<ExecTarget> {
        let pods = self.0.lock().ok()?;
        pods.get(uid)?
            .get(container)
            .filter(|t| !t.ended.is_cancelled())
            .cloned()
    }
}

/// Starts `req.command` in its container, if that runs here.
pub fn exec(
    targets: &ExecTargets,
    runtime: &Arc<dyn Runtime>,
    req: ExecRequest,
) -> Result<ExecSession, ExecSourceError> {
    if req.command.is_empty() {
        return Err(ExecSourceError::BadRequest(
            "you must specify a command to run".into(),
        ));
    }
    // The kubelet's words for a container it does not run (any more).
    let target = targets.find(&req.uid, &req.container).ok_or_else(|| {
        ExecSourceError::NotFound(format!("container not found ({:?})", req.container))
    })?;
    let mut config = ContainerConfig {
        argv: req.command.clone(),
        join: Some(target.pid),
        ..target.config.as_ref().clone()
    };
    // As containerd's exec on a terminal.
    if req.tty && !config.env.iter().any(|(k, _)| k == "TERM") {
        config.env.push(("TERM".into(), "xterm".into()));
    }
    let ended = target.ended;
    if req.tty {
        let runtime = runtime.clone();
        return Ok(when_sized(req.stdin, move |size| {
            start(runtime.as_ref(), config, &req, ended, size)
        }));
    }
    Ok(start(runtime.as_ref(), config, &req, ended, None))
}

/// Starts `config` for `req` at once, on a terminal of `size` if it asks for one.
fn start(
    runtime: &dyn Runtime,
    config: ContainerConfig,
    req: &ExecRequest,
    ended: CancellationToken,
    size: Option<TerminalSize>,
) -> ExecSession {
    let stdio = if req.tty {
        Stdio::Terminal(size.map(|s| crate::os::TerminalSize {
            width: s.width,
            height: s.height,
        }))
    } else if req.stdin {
        Stdio::Piped
    } else {
        Stdio::Detached
    };
    let running = match runtime.exec_attached(config, stdio, ended) {
        Ok(r) => r,
        // As containerd reports a command it could not start: after the upgrade, through the
        // error channel.
        Err(e) => {
            return ExecSession::failed(format!("error executing command in container: {e}"));
        }
    };
    // A stream nobody asked for is read and thrown away, so the command never blocks on it
    // (or dies of a broken pipe).
    let wanted = |on: bool, stream: Box<dyn tokio::io::AsyncRead + Send + Unpin>| {
        if on {
            return Some(stream);
        }
        tokio::spawn(async move {
            let mut stream = stream;
            let _ = tokio::io::copy(&mut stream, &mut tokio::io::sink()).await;
        });
        None
    };
    let terminal = running.terminal;
    let exit = running.exit;
    ExecSession {
        stdin: running.stdin.filter(|_| req.stdin),
        stdout: wanted(req.stdout, running.stdout),
        stderr: wanted(req.stderr && !req.tty, running.stderr),
        resize: terminal.map(|t| {
            Box::new(move |size: TerminalSize| {
                if let Err(e) = t.resize(crate::os::TerminalSize {
                    width: size.width,
                    height: size.height,
                }) {
                    tracing::debug!(error = %e, "resizing an exec's terminal");
                }
            }) as Box<dyn Fn(TerminalSize) + Send + Sync>
        }),
        connected: None,
        exit: Box::pin(async move { Ok(exit.await) }) as BoxFuture<'static, _>,
    }
}

/// How long a command on a terminal waits for its client's size, from when the client is
/// attached, before it starts without it. Every client that asks for a terminal sends one
/// right after the upgrade, so the wait only bounds one that never does; it is long enough
/// for a busy machine.
const SIZE_WAIT: Duration = Duration::from_secs(5);
/// How long a session waits for its client to be attached at all: the stream server attaches
/// it at once, so this only bounds a session nobody serves.
const ATTACH_WAIT: Duration = Duration::from_secs(30);
/// How many bytes of a terminal session's input or output wait for their reader.
const TERMINAL_BUFFER: usize = 64 * 1024;

/// A session on a terminal whose command is started (by `start`) once the client has said its
/// terminal's size, or [`SIZE_WAIT`] has passed since it was attached: kubectl sends the size
/// first thing, but only after the connection is upgraded, which is after the command would
/// have started, so that a program asking at once (`stty size`, an editor) would see 80 by 24
/// instead. What the client sends meanwhile waits in the session's buffers.
fn when_sized(
    stdin: bool,
    start: impl FnOnce(Option<TerminalSize>) -> ExecSession + Send + 'static,
) -> ExecSession {
    let (size_tx, mut size_rx) = watch::channel(None::<TerminalSize>);
    let (attached_tx, attached_rx) = oneshot::channel::<()>();
    let (stdin_near, mut stdin_far) = tokio::io::duplex(TERMINAL_BUFFER);
    let (stdout_near, mut stdout_far) = tokio::io::duplex(TERMINAL_BUFFER);
    let (mut exit_tx, exit_rx) = oneshot::channel();
    tokio::spawn(async move {
        let _ = tokio::time::timeout(ATTACH_WAIT, attached_rx).await;
        let _ = tokio::time::timeout(SIZE_WAIT, size_rx.wait_for(Option::is_some)).await;
        // The terminal is made with the size, before the command runs: set afterwards, it
        // could come after a quick command asked for it.
        let size = *size_rx.borrow_and_update();
        let started = start(size);
        let resizer = started.resize.map(|resize| {
            tokio::spawn(async move {
                loop {
                    if let Some(size) = *size_rx.borrow_and_update() {
                        resize(size);
                    }
                    if size_rx.changed().await.is_err() {
                        return;
                    }
                }
            })
        });
        if let Some(mut input) = started.stdin {
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut stdin_far, &mut input).await;
            });
        }
        let output = started.stdout.map(|mut output| {
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut output, &mut stdout_far).await;
            })
        });
        // The session dropped (its client gone) drops `exit`, which kills the command.
        let exit = tokio::select! {
            exit = started.exit => Some(exit),
            () = exit_tx.closed() => None,
        };
        if let Some(exit) = exit {
            if let Some(output) = output {
                let _ = output.await;
            }
            let _ = exit_tx.send(exit);
        }
        if let Some(resizer) = resizer {
            resizer.abort();
        }
    });
    ExecSession {
        stdin: stdin.then(|| Box::new(stdin_near) as _),
        stdout: Some(Box::new(stdout_near)),
        stderr: None,
        resize: Some(Box::new(move |size| {
            let _ = size_tx.send(Some(size));
        })),
        connected: Some(Box::new(move || {
            let _ = attached_tx.send(());
        })),
        exit: Box::pin(async move {
            exit_rx
                .await
                .unwrap_or_else(|_| Err("the command's session ended".into()))
        }),
    }
}
