//! Container logs between the API server and the node agents: `PodLogOptions` parsed and
//! validated from a query string as upstream's `ValidatePodLogOptions`, the request a node
//! answers, and the [`LogSource`] trait every way of reaching a node's logs implements (the
//! embedded agent in-process, a remote agent over HTTPS).
//!
//! The same query parameters travel the whole way: `kubectl` sends them to `pods/log` (or
//! `podrecords/log`), the API server validates them here and, for a remote node, forwards
//! them to the agent's `/containerLogs/{namespace}/{pod}/{container}` endpoint, which parses
//! them with the same [`LogOptions::from_query`].

use crate::field::{FieldError, Path};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

/// `PodLogOptions` without the container (chosen by the caller).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    pub follow: bool,
    pub previous: bool,
    pub tail_lines: Option<i64>,
    pub since_seconds: Option<i64>,
    /// `sinceTime` in milliseconds since the epoch, at whole seconds: upstream's `LogLocation`
    /// passes it on to the kubelet formatted as RFC 3339 without fractions.
    pub since_time_millis: Option<i64>,
    pub timestamps: bool,
    pub limit_bytes: Option<i64>,
    pub stream: OutputStream,
}

/// Which of a container's output streams to read (`stream`, upstream's split-streams option).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutputStream {
    #[default]
    All,
    Stdout,
    Stderr,
}

impl OutputStream {
    /// The values `stream` takes, as upstream's `validLogStreams`.
    const VALUES: [&'static str; 3] = ["Stdout", "Stderr", "All"];

    fn parse(v: &str) -> Option<OutputStream> {
        match v {
            "All" => Some(OutputStream::All),
            "Stdout" => Some(OutputStream::Stdout),
            "Stderr" => Some(OutputStream::Stderr),
            _ => None,
        }
    }

    fn as_query(self) -> &'static str {
        match self {
            OutputStream::All => "All",
            OutputStream::Stdout => "Stdout",
            OutputStream::Stderr => "Stderr",
        }
    }

    /// The stream name a CRI log line carries, or `None` for both.
    pub fn cri_name(self) -> Option<&'static [u8]> {
        match self {
            OutputStream::All => None,
            OutputStream::Stdout => Some(b"stdout"),
            OutputStream::Stderr => Some(b"stderr"),
        }
    }
}

/// Why a log request's options are refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LogOptionsError {
    /// A parameter that is not of its type (400, as upstream's query decoding).
    #[error("{0}")]
    Malformed(String),
    /// Values `ValidatePodLogOptions` refuses, every one of them (422, `PodLogOptions "p" is
    /// invalid: ...`).
    #[error("{}", crate::field::aggregate_message(.0))]
    Invalid(Vec<FieldError>),
}

fn int(get: &impl Fn(&str) -> Option<String>, key: &str) -> Result<Option<i64>, LogOptionsError> {
    match get(key).as_deref() {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| LogOptionsError::Malformed(format!("invalid value for {key}: {v:?}"))),
    }
}

impl LogOptions {
    /// Parses the query parameters of a log request and validates them as upstream's
    /// `ValidatePodLogOptions`, reporting every refused value. `get` looks one parameter up.
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> Result<LogOptions, LogOptionsError> {
        let tail_lines = int(&get, "tailLines")?;
        let limit_bytes = int(&get, "limitBytes")?;
        let since_seconds = int(&get, "sinceSeconds")?;
        let since_time_millis = match get("sinceTime").filter(|t| !t.is_empty()) {
            Some(t) => Some(
                time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339)
                    .map(|t| t.unix_timestamp().saturating_mul(1000))
                    .map_err(|_| {
                        LogOptionsError::Malformed(format!("invalid value for sinceTime: {t:?}"))
                    })?,
            ),
            None => None,
        };
        let stream = get("stream");
        let mut errors = Vec::new();
        if let Some(t) = tail_lines.filter(|t| *t < 0) {
            errors.push(FieldError::invalid(
                &Path::new("tailLines"),
                t,
                "must be greater than or equal to 0",
            ));
        }
        if let Some(l) = limit_bytes.filter(|l| *l < 1) {
            errors.push(FieldError::invalid(
                &Path::new("limitBytes"),
                l,
                "must be greater than 0",
            ));
        }
        match (since_seconds, since_time_millis) {
            (Some(_), Some(_)) => errors.push(FieldError::forbidden(
                &Path::default(),
                "at most one of `sinceTime` or `sinceSeconds` may be specified",
            )),
            (Some(s), None) if s < 1 => errors.push(FieldError::invalid(
                &Path::new("sinceSeconds"),
                s,
                "must be greater than 0",
            )),
            _ => {}
        }
        let parsed_stream = match stream.as_deref() {
            None => OutputStream::All,
            Some(v) => OutputStream::parse(v).unwrap_or_else(|| {
                errors.push(FieldError::not_supported(
                    &Path::new("stream"),
                    v,
                    &OutputStream::VALUES,
                ));
                OutputStream::All
            }),
        };
        if stream.is_some_and(|v| v != "All") && tail_lines.is_some() {
            errors.push(FieldError::forbidden(
                &Path::default(),
                "`tailLines` and specific `stream` are mutually exclusive for now",
            ));
        }
        if !errors.is_empty() {
            return Err(LogOptionsError::Invalid(errors));
        }
        let flag = |key: &str| crate::query::flag(get(key).as_deref());
        Ok(LogOptions {
            follow: flag("follow"),
            previous: flag("previous"),
            tail_lines,
            since_seconds,
            since_time_millis,
            timestamps: flag("timestamps"),
            limit_bytes,
            stream: parsed_stream,
        })
    }

    /// The query parameters that [`LogOptions::from_query`] reads back into these options.
    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        for (key, on) in [
            ("follow", self.follow),
            ("previous", self.previous),
            ("timestamps", self.timestamps),
        ] {
            if on {
                q.push((key, "true".to_string()));
            }
        }
        for (key, v) in [
            ("tailLines", self.tail_lines),
            ("sinceSeconds", self.since_seconds),
            ("limitBytes", self.limit_bytes),
        ] {
            if let Some(v) = v {
                q.push((key, v.to_string()));
            }
        }
        let since_time = self.since_time_millis.and_then(|ms| {
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                .ok()?
                .format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
        if let Some(t) = since_time {
            q.push(("sinceTime", t));
        }
        if self.stream != OutputStream::All {
            q.push(("stream", self.stream.as_query().to_string()));
        }
        q
    }
}

/// One container's log on a node: the pod's identity, the container, and the options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogRequest {
    pub namespace: String,
    pub pod: String,
    pub uid: String,
    pub container: String,
    /// The attempt to read, by the container ID the pod's status gives it (chosen as the
    /// kubelet's `validateContainerLogStatus` chooses); `None`: the node's newest attempt (or
    /// the one before it with `previous`), as for a pod record.
    pub container_id: Option<String>,
    pub options: LogOptions,
}

/// The Node annotation in which an agent publishes its log endpoint's certificate (PEM); the
/// API server accepts no other certificate from that endpoint.
pub const SERVING_CERTIFICATE_ANNOTATION: &str = "runlet.dev/serving-certificate";

/// The path prefix of an agent's log endpoint, as the kubelet's.
pub const NODE_LOG_PATH: &str = "/containerLogs/";

impl LogRequest {
    /// The path and query of this request at a node agent:
    /// `/containerLogs/{namespace}/{pod}/{container}?podUID=...&<options>`.
    pub fn node_path(&self) -> String {
        let mut path = format!(
            "{NODE_LOG_PATH}{}/{}/{}?podUID={}",
            self.namespace, self.pod, self.container, self.uid
        );
        if let Some(id) = &self.container_id {
            path.push_str("&containerID=");
            path.extend(form_urlencoded::byte_serialize(id.as_bytes()));
        }
        for (k, v) in self.options.to_query() {
            path.push_str(&format!("&{k}={v}"));
        }
        path
    }

    /// Reads back what [`LogRequest::node_path`] wrote: the path, and `get` for the query.
    pub fn from_node_path(
        path: &str,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<LogRequest, String> {
        let rest = path
            .strip_prefix(NODE_LOG_PATH)
            .ok_or_else(|| format!("no log endpoint at {path}"))?;
        let [namespace, pod, container] = rest.split('/').collect::<Vec<_>>()[..] else {
            return Err(format!("no log endpoint at {path}"));
        };
        if [namespace, pod, container].iter().any(|s| s.is_empty()) {
            return Err(format!("no log endpoint at {path}"));
        }
        let uid = get("podUID").unwrap_or_default();
        let req = LogRequest {
            namespace: namespace.to_string(),
            pod: pod.to_string(),
            uid,
            container: container.to_string(),
            container_id: get("containerID"),
            options: LogOptions::from_query(get).map_err(|e| e.to_string())?,
        };
        req.check_names()?;
        Ok(req)
    }

    /// Each name becomes a file path component on the node: no separators, no `.` or `..`
    /// (a record's fields are user input).
    pub fn check_names(&self) -> Result<(), String> {
        let unsafe_part = |s: &str| s.contains(['/', '\\']) || s == "." || s == "..";
        if [&self.namespace, &self.pod, &self.uid, &self.container]
            .into_iter()
            .any(|s| unsafe_part(s))
        {
            return Err(format!(
                "invalid log request for container {:?} of pod {:?}",
                self.container, self.pod
            ));
        }
        Ok(())
    }
}

/// The body of a log response.
pub type LogBody = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// Why logs cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<LogOptions, LogOptionsError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LogOptions::from_query(|k| map.get(k).cloned())
    }

    #[test]
    fn options_survive_the_trip_through_a_query() {
        let opts = LogOptions {
            follow: true,
            previous: false,
            tail_lines: None,
            since_seconds: None,
            since_time_millis: Some(1_767_225_600_000),
            timestamps: true,
            limit_bytes: Some(10),
            stream: OutputStream::Stdout,
        };
        let back = |opts: &LogOptions| {
            let q = opts.to_query();
            parse(&q.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>())
        };
        assert_eq!(back(&opts), Ok(opts.clone()));
        let tailed = LogOptions {
            tail_lines: Some(3),
            stream: OutputStream::All,
            ..opts
        };
        assert_eq!(back(&tailed), Ok(tailed.clone()));
    }

    #[test]
    fn a_request_survives_the_trip_to_a_node() {
        let req = LogRequest {
            namespace: "ns".into(),
            pod: "p".into(),
            uid: "u-1".into(),
            container: "c".into(),
            container_id: Some("process://u-1-c-2".into()),
            options: LogOptions {
                follow: true,
                tail_lines: Some(2),
                ..Default::default()
            },
        };
        let full = req.node_path();
        assert_eq!(
            full,
            "/containerLogs/ns/p/c?podUID=u-1&containerID=process%3A%2F%2Fu-1-c-2&follow=true&tailLines=2"
        );
        let (path, query) = full.split_once('?').unwrap_or_default();
        let map: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(
            LogRequest::from_node_path(path, |k| map.get(k).cloned()),
            Ok(req)
        );
        assert!(LogRequest::from_node_path("/containerLogs/ns/p", |_| None).is_err());
        assert!(LogRequest::from_node_path("/other/ns/p/c", |_| None).is_err());
        assert!(LogRequest::from_node_path("/containerLogs/ns/p/..", |_| None).is_err());
        assert!(
            LogRequest::from_node_path("/containerLogs/ns/p/c", |k| (k == "podUID")
                .then(|| "../../etc".to_string()))
            .is_err()
        );
    }

    #[test]
    fn invalid_options_get_upstream_messages_all_of_them() {
        let invalid = |pairs: &[(&str, &str)]| match parse(pairs) {
            Err(LogOptionsError::Invalid(errs)) => crate::field::aggregate_message(&errs),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            invalid(&[("tailLines", "-1")]),
            "tailLines: Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(
            invalid(&[("limitBytes", "0")]),
            "limitBytes: Invalid value: 0: must be greater than 0"
        );
        assert_eq!(
            invalid(&[("sinceSeconds", "1"), ("sinceTime", "2026-01-01T00:00:00Z")]),
            "[]: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"
        );
        assert_eq!(
            invalid(&[
                ("tailLines", "-1"),
                ("limitBytes", "0"),
                ("sinceSeconds", "0")
            ]),
            "[tailLines: Invalid value: -1: must be greater than or equal to 0, \
             limitBytes: Invalid value: 0: must be greater than 0, \
             sinceSeconds: Invalid value: 0: must be greater than 0]"
        );
        assert_eq!(
            invalid(&[("stream", "bogus")]),
            "stream: Unsupported value: \"bogus\": supported values: \"Stdout\", \"Stderr\", \"All\""
        );
        assert_eq!(
            invalid(&[("stream", "Stderr"), ("tailLines", "1")]),
            "[]: Forbidden: `tailLines` and specific `stream` are mutually exclusive for now"
        );
        assert_eq!(
            parse(&[("sinceSeconds", "x")]),
            Err(LogOptionsError::Malformed(
                "invalid value for sinceSeconds: \"x\"".into()
            ))
        );
    }

    #[test]
    fn flags_are_false_only_when_false_and_since_time_is_whole_seconds() {
        let opts = parse(&[
            ("follow", "True"),
            ("previous", ""),
            ("timestamps", "0"),
            ("sinceTime", "2026-01-01T00:00:00.999Z"),
            ("stream", "Stderr"),
        ])
        .unwrap();
        assert!(opts.follow && opts.previous && !opts.timestamps);
        assert_eq!(opts.since_time_millis, Some(1_767_225_600_000));
        assert_eq!(opts.stream, OutputStream::Stderr);
        assert!(!parse(&[("follow", "FALSE")]).unwrap().follow);
    }
}
