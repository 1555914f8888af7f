//! Where `GET pods/{name}/log` gets its bytes: a [`LogSource`] per node, registered by whoever
//! runs that node's agent (in-process for the embedded agent; a proxy to a remote agent's
//! HTTPS endpoint can be registered the same way later). The API server stays free of any
//! dependency on the agent: the binary wires them.

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

/// `PodLogOptions` with the container already chosen, plus the pod's identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogRequest {
    pub namespace: String,
    pub pod: String,
    pub uid: String,
    pub container: String,
    pub follow: bool,
    pub previous: bool,
    pub tail_lines: Option<i64>,
    pub since_seconds: Option<i64>,
    /// `sinceTime` in milliseconds since the epoch.
    pub since_time_millis: Option<i64>,
    pub timestamps: bool,
    pub limit_bytes: Option<i64>,
}

/// The body of a log response.
pub type LogBody = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// Why logs cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum LogSourceError {
    /// Nothing to read (404).
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be answered as asked (400), e.g. no previous attempt.
    #[error("{0}")]
    BadRequest(String),
    /// The source failed (500).
    #[error("{0}")]
    Internal(String),
}

/// Serves container logs of the pods of one node.
pub trait LogSource: Send + Sync + 'static {
    fn logs(&self, req: LogRequest) -> BoxFuture<'static, Result<LogBody, LogSourceError>>;
}
