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
    runtime: &dyn Runtime,
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
    let stdio = if req.tty {
        Stdio::Terminal
    } else if req.stdin {
        Stdio::Piped
    } else {
        Stdio::Detached
    };
    let mut config = ContainerConfig {
        argv: req.command.clone(),
        join: Some(target.pid),
        ..target.config.as_ref().clone()
    };
    // As containerd's exec on a terminal.
    if req.tty && !config.env.iter().any(|(k, _)| k == "TERM") {
        config.env.push(("TERM".into(), "xterm".into()));
    }
    let running = match runtime.exec_attached(config, stdio, target.ended.clone()) {
        Ok(r) => r,
        // As containerd reports a command it could not start: after the upgrade, through the
        // error channel.
        Err(e) => {
            return Ok(ExecSession::failed(format!(
                "error executing command in container: {e}"
            )));
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
    Ok(ExecSession {
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
        exit: Box::pin(async move { Ok(exit.await) }) as BoxFuture<'static, _>,
    })
}
