//! Why a CLI command failed, worded as kubectl words it.
//!
//! Scripts and people who know kubectl read these lines: an API failure prints
//! `Error from server (NotFound): jobs.batch "x" not found` (kubectl's
//! `cmdutil.StandardErrorMessage`), an invalid object prints `The Job "x" is invalid: ...` with
//! every field path, and a server that cannot be reached names the address tried and how to
//! start one. Every error exits with status 1, as kubectl's do.

use kube::core::Status;
use std::path::PathBuf;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The API server answered with a failure `Status`.
    #[error("{}", api_message(.0))]
    Api(Box<Status>),
    /// The server could not be reached at all.
    #[error(
        "The connection to the server {server} was refused - is a runlet server running there? Start one with `runlet server`, or point --kubeconfig (or KUBECONFIG) at a running cluster"
    )]
    Refused {
        /// The address tried (`127.0.0.1:6443`).
        server: String,
    },
    /// Connecting failed for another reason (TLS, DNS, timeout).
    #[error("Unable to connect to the server {server}: {message}")]
    Unreachable {
        /// The address tried.
        server: String,
        /// The underlying failure, with its causes.
        message: String,
    },
    /// No kubeconfig to use.
    #[error(
        "error: no kubeconfig: --kubeconfig is not given, KUBECONFIG is not set, and there is no local server's admin kubeconfig at {}; start a server with `runlet server`, or pass --kubeconfig FILE",
        .0.display()
    )]
    NoKubeconfig(PathBuf),
    /// The kubeconfig could not be read or used.
    #[error("error: kubeconfig {}: {message}", path.display())]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The command line asks for something impossible (`error: ...` as kubectl says it).
    #[error("error: {0}")]
    Usage(String),
    /// A wait ran out of time.
    #[error("error: timed out waiting for the condition on {0}")]
    Timeout(String),
    /// A wait with `--timeout=0`, which looks once, found the condition unmet.
    #[error("error: condition not met for {0}")]
    NotMet(String),
    /// Waiting for a condition that can no longer happen (a failed Job never completes).
    #[error("error: {0}")]
    Impossible(String),
    /// Another client-side failure (a bad response, an I/O error).
    #[error("error: {0}")]
    Other(String),
}

impl CliError {
    /// Turns a client error into the message kubectl would print, naming `server` when the
    /// failure is a connection one.
    pub fn from_kube(e: kube::Error, server: &str) -> CliError {
        match e {
            kube::Error::Api(status) => CliError::Api(status),
            other => {
                let chain = error_chain(&other);
                if is_refused(&other) {
                    CliError::Refused {
                        server: server.to_string(),
                    }
                } else if is_connect(&other) {
                    CliError::Unreachable {
                        server: server.to_string(),
                        message: chain,
                    }
                } else {
                    CliError::Other(chain)
                }
            }
        }
    }

    /// Whether the server said the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, CliError::Api(s) if s.code == 404)
    }
}

/// `e` and its sources, joined by `: `, each cause once (kube repeats its own in its message).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

fn io_kinds(e: &(dyn std::error::Error + 'static)) -> Vec<std::io::ErrorKind> {
    let mut kinds = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            kinds.push(io.kind());
        }
        cur = err.source();
    }
    kinds
}

fn is_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    io_kinds(e).contains(&std::io::ErrorKind::ConnectionRefused)
        || error_chain(e).contains("Connection refused")
}

fn is_connect(e: &(dyn std::error::Error + 'static)) -> bool {
    !io_kinds(e).is_empty() || {
        let chain = error_chain(e);
        chain.contains("Connect") || chain.contains("dns error") || chain.contains("tls")
    }
}

/// kubectl's wording of a failure `Status` (`cmdutil.checkErr` / `StandardErrorMessage`).
fn api_message(s: &Status) -> String {
    if s.reason == "Invalid" {
        return invalid_message(s);
    }
    if s.reason == "Unauthorized" {
        return format!("error: You must be logged in to the server ({})", s.message);
    }
    if s.reason.is_empty() {
        format!("Error from server: {}", s.message)
    } else {
        format!("Error from server ({}): {}", s.reason, s.message)
    }
}

/// `The Job "x" is invalid: field: message`, one cause per line when there are several.
fn invalid_message(s: &Status) -> String {
    let Some(details) = &s.details else {
        return if s.message.is_empty() {
            "The request is invalid".to_string()
        } else {
            format!("The request is invalid: {}", s.message)
        };
    };
    let mut head = "The request is invalid".to_string();
    if !details.kind.is_empty() || !details.name.is_empty() {
        head = format!("The {} \"{}\" is invalid", details.kind, details.name);
    }
    let causes: Vec<String> = details
        .causes
        .iter()
        .map(|c| {
            if c.field.is_empty() {
                c.message.clone()
            } else {
                format!("{}: {}", c.field, c.message)
            }
        })
        .collect();
    match causes.as_slice() {
        [] => head,
        [one] => format!("{head}: {one}"),
        many => format!("{head}: \n* {}", many.join("\n* ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::response::StatusDetails;

    fn status(code: u16, reason: &str, message: &str) -> Box<Status> {
        Box::new(Status {
            code,
            reason: reason.into(),
            message: message.into(),
            ..Status::default()
        })
    }

    #[test]
    fn not_found_reads_like_kubectl() {
        let e = CliError::Api(status(404, "NotFound", "jobs.batch \"x\" not found"));
        assert_eq!(
            e.to_string(),
            "Error from server (NotFound): jobs.batch \"x\" not found"
        );
        assert!(e.is_not_found());
    }

    #[test]
    fn invalid_lists_every_field_path_like_kubectl() {
        let mut s = status(422, "Invalid", "whatever");
        s.details = Some(
            serde_json::from_value::<StatusDetails>(serde_json::json!({
                "kind": "Job",
                "name": "bad",
                "causes": [
                    {"field": "spec.completions", "message": "Invalid value: -1: must be greater than or equal to 0"},
                    {"field": "spec.parallelism", "message": "Invalid value: -2: must be greater than or equal to 0"}
                ]
            }))
            .expect("details"),
        );
        assert_eq!(
            CliError::Api(s).to_string(),
            "The Job \"bad\" is invalid: \n* spec.completions: Invalid value: -1: must be greater than or equal to 0\n* spec.parallelism: Invalid value: -2: must be greater than or equal to 0"
        );
    }

    #[test]
    fn refused_connection_names_the_address_and_how_to_start_a_server() {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let e = CliError::from_kube(kube::Error::Service(Box::new(io)), "127.0.0.1:6443");
        let text = e.to_string();
        assert!(text.contains("127.0.0.1:6443 was refused"), "{text}");
        assert!(text.contains("runlet server"), "{text}");
    }
}
