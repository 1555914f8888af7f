//! The remote-command streams of `pods/{name}/exec`: a command's stdin, stdout and stderr, its
//! terminal size and its end, multiplexed over one WebSocket as Kubernetes does it (the
//! `channel.k8s.io` subprotocols that kubectl and the client libraries speak).
//!
//! Both ends live here because runlet needs both: the API server [`serve`]s a client's
//! connection from an [`ExecSession`], which comes either from the agent in the same process or,
//! for a pod on another machine, from that agent's HTTPS endpoint, where the agent [`serve`]s
//! and the API server is the client ([`attach`] turns that connection back into a session).
//!
//! The protocol (`k8s.io/apimachinery/pkg/util/httpstream/wsstream`): every binary message is
//! one channel's bytes, the channel number first — 0 stdin, 1 stdout, 2 stderr, 3 the error
//! channel (one `Status` object when the command ended), 4 terminal resizes (`{"Width":80,
//! "Height":24}`). Version 5 adds the close message, 255 and a channel number, with which a
//! client ends stdin without ending the connection.

mod client;
mod handshake;
mod server;

pub use client::attach;
pub use handshake::{Handshake, HandshakeError, server_socket};
pub use server::serve;

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite};

/// Version 5 of the protocol: version 4 and the close message (kubectl 1.30 and later).
pub const V5: &str = "v5.channel.k8s.io";
/// Version 4: the error channel carries a `Status` (the Python client's default).
pub const V4: &str = "v4.channel.k8s.io";

/// The channels of a connection.
pub mod channel {
    pub const STDIN: u8 = 0;
    pub const STDOUT: u8 = 1;
    pub const STDERR: u8 = 2;
    pub const ERROR: u8 = 3;
    pub const RESIZE: u8 = 4;
    /// Version 5's close message: `[CLOSE, channel]`.
    pub const CLOSE: u8 = 255;
}

/// A version of the protocol this crate speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    V4,
    V5,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::V4 => V4,
            Protocol::V5 => V5,
        }
    }

    /// The protocol to speak with a client that offers `offered` (the comma-separated values of
    /// its `Sec-WebSocket-Protocol` headers), in the client's order of preference as upstream
    /// chooses; `None` when it offers none of ours.
    pub fn choose<'a>(offered: impl IntoIterator<Item = &'a str>) -> Option<Protocol> {
        offered
            .into_iter()
            .flat_map(|h| h.split(','))
            .find_map(|p| match p.trim() {
                V5 => Some(Protocol::V5),
                V4 => Some(Protocol::V4),
                _ => None,
            })
    }
}

/// What a client asks of `pods/{name}/exec`, once the API server has chosen the container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecRequest {
    pub namespace: String,
    pub pod: String,
    /// The pod's UID, so that a pod deleted and made again under its name is not mistaken for
    /// the one asked about.
    pub uid: String,
    pub container: String,
    pub command: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

impl ExecRequest {
    /// The query of the agent endpoint's `exec/{namespace}/{pod}/{container}` (the kubelet's
    /// parameters, with `podUID`).
    pub fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("podUID", &self.uid);
        for c in &self.command {
            q.append_pair("command", c);
        }
        for (key, on) in [
            ("input", self.stdin),
            ("output", self.stdout),
            ("error", self.stderr),
            ("tty", self.tty),
        ] {
            if on {
                q.append_pair(key, "1");
            }
        }
        q.finish()
    }

    /// The request of the agent endpoint's path parts and query (see [`ExecRequest::query`]).
    pub fn from_query(namespace: &str, pod: &str, container: &str, query: &str) -> ExecRequest {
        let mut req = ExecRequest {
            namespace: namespace.to_string(),
            pod: pod.to_string(),
            container: container.to_string(),
            ..Default::default()
        };
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "podUID" => req.uid = value.into_owned(),
                "command" => req.command.push(value.into_owned()),
                "input" => req.stdin = true,
                "output" => req.stdout = true,
                "error" => req.stderr = true,
                "tty" => req.tty = true,
                _ => {}
            }
        }
        req
    }
}

/// The width and height of a terminal, in characters, as the resize channel carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TerminalSize {
    #[serde(rename = "Width")]
    pub width: u16,
    #[serde(rename = "Height")]
    pub height: u16,
}

/// How the command ended: its exit code, or why it could not run or be followed to its end
/// (the message the error channel carries).
pub type ExecExit = Result<i32, String>;

/// A command running for a client: the streams asked for, its terminal and its end. Dropping
/// the session before its end (the client went away) kills the command.
pub struct ExecSession {
    pub stdin: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    pub stdout: Option<Box<dyn AsyncRead + Send + Unpin>>,
    pub stderr: Option<Box<dyn AsyncRead + Send + Unpin>>,
    /// Resizes its terminal, when it runs on one.
    pub resize: Option<Box<dyn Fn(TerminalSize) + Send + Sync>>,
    /// Called once the client is attached and its messages are read (see `server::serve`):
    /// a command on a terminal waits from then for the client's size.
    pub connected: Option<Box<dyn FnOnce() + Send>>,
    pub exit: BoxFuture<'static, ExecExit>,
}

impl ExecSession {
    /// A command that could not be started, for `why`: the client learns it from the error
    /// channel, as from a runtime that failed to start it after the connection was upgraded.
    pub fn failed(why: String) -> ExecSession {
        ExecSession {
            stdin: None,
            stdout: None,
            stderr: None,
            resize: None,
            connected: None,
            exit: Box::pin(async move { Err(why) }),
        }
    }
}

/// Why a node cannot run a command for a client, before any stream is opened.
#[derive(Debug, thiserror::Error)]
pub enum ExecSourceError {
    /// No such pod or container runs there (the kubelet's `container not found ("c")`).
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Internal(String),
}

/// Runs commands in the containers of one node's pods.
pub trait ExecSource: Send + Sync + 'static {
    fn exec(&self, req: ExecRequest) -> BoxFuture<'static, Result<ExecSession, ExecSourceError>>;
}

/// What the error channel carries when the command ended: a `Status` as upstream writes it
/// (`Success`, or a `NonZeroExitCode` failure whose cause holds the code, which kubectl exits
/// with, in the words of the API server's version 5 translator or of the kubelet's version 4),
/// or an internal error with the runtime's message.
pub fn exit_status(exit: &ExecExit, protocol: Protocol, command: &[String]) -> serde_json::Value {
    match exit {
        Ok(0) => serde_json::json!({"metadata": {}, "status": "Success"}),
        Ok(code) => serde_json::json!({
            "metadata": {},
            "status": "Failure",
            "message": match protocol {
                Protocol::V5 => format!(
                    "command terminated with non-zero exit code: command terminated with exit code {code}"
                ),
                Protocol::V4 => format!(
                    "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
                    command.join(" ")
                ),
            },
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        }),
        Err(why) => serde_json::json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("Internal error occurred: {why}"),
            "reason": "InternalError",
            "details": {"causes": [{"message": why}]},
            "code": 500,
        }),
    }
}

/// The exit a `Status` from the error channel reports (see [`exit_status`]).
pub fn exit_of_status(status: &serde_json::Value) -> ExecExit {
    if status["status"] == "Success" {
        return Ok(0);
    }
    if status["reason"] == "NonZeroExitCode"
        && let Some(code) = status["details"]["causes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["reason"] == "ExitCode")
            .and_then(|c| c["message"].as_str())
            .and_then(|m| m.parse().ok())
    {
        return Ok(code);
    }
    Err(status["message"]
        .as_str()
        .unwrap_or("the command failed")
        .trim_start_matches("Internal error occurred: ")
        .to_string())
}

#[cfg(test)]
mod tests;
