//! What runlet's kubectl-like commands (`get`, `describe`, `logs`, `apply`, ...) share: the
//! client built from a kubeconfig, resource names, request helpers, output and errors.
//!
//! Every command reads and writes only through the Kubernetes API, so it works against a
//! runlet server or any real cluster. The kubeconfig is `--kubeconfig`, else `KUBECONFIG`,
//! else the local server's admin kubeconfig `<data dir>/kubeconfig`; the namespace is `-n`,
//! else the kubeconfig context's, else `default`. Data goes to stdout, diagnostics to stderr.

pub mod describe;
pub mod error;
#[cfg(test)]
pub mod fixtures;
pub mod output;
pub mod resource;
pub mod tabwriter;

pub use error::{CliError, error_chain};

use clap::Args;
use http::Request;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// The Accept header asking for a server-side `meta.k8s.io/v1` Table, as kubectl sends it.
pub const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

/// How to reach the API: the flags every command takes.
#[derive(Args, Clone, Debug, Default)]
pub struct ClientArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, else the local server's admin
    /// kubeconfig in its data directory).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
    /// The namespace (default: the context's, else `default`).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
}

/// A connected client and the namespace commands default to.
#[derive(Clone)]
pub struct Ctx {
    pub client: kube::Client,
    pub namespace: String,
    /// `host:port` of the server, for connection errors.
    pub server: String,
}

/// Runs a command's future on a fresh runtime; prints its error, kubectl-style, on stderr.
pub fn run(fut: impl std::future::Future<Output = Result<ExitCode, CliError>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(fut);
    runtime.shutdown_timeout(Duration::from_millis(500));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The errors of a command that goes on past the objects it cannot handle, as kubectl's
/// `ContinueOnError` does: `get`, `describe`, `delete`, `suspend` of several names print each
/// API error when met, do the rest, and exit 1 at the end.
#[derive(Default)]
pub struct Failures {
    any: bool,
}

impl Failures {
    /// Prints an error the API gave about one object and carries on; any other (the server is
    /// gone, a bad answer) ends the command.
    pub fn note(&mut self, e: CliError) -> Result<(), CliError> {
        match e {
            CliError::Api(_) => {
                eprintln!("{e}");
                self.any = true;
                Ok(())
            }
            other => Err(other),
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        if self.any {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }
}

impl Ctx {
    /// Builds the client. `streaming` commands (watch, follow) get no read timeout.
    pub async fn connect(args: &ClientArgs, streaming: bool) -> Result<Ctx, CliError> {
        let (kubeconfig, path) = load_kubeconfig(args)?;
        let options = kube::config::KubeConfigOptions {
            context: args.context.clone(),
            ..Default::default()
        };
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| CliError::Kubeconfig {
                path: path.clone(),
                message: e.to_string(),
            })?;
        config.connect_timeout = Some(Duration::from_secs(10));
        if streaming {
            config.read_timeout = None;
        }
        let server = config
            .cluster_url
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_else(|| config.cluster_url.to_string());
        let namespace = args
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = kube::Client::try_from(config).map_err(|e| CliError::Kubeconfig {
            path,
            message: e.to_string(),
        })?;
        Ok(Ctx {
            client,
            namespace,
            server,
        })
    }

    /// Maps a client error, naming this server on connection failures.
    pub fn err(&self, e: kube::Error) -> CliError {
        CliError::from_kube(e, &self.server)
    }

    /// GETs `path` as JSON.
    pub async fn get(&self, path: &str) -> Result<Value, CliError> {
        self.send(request("GET", path, None, None)?).await
    }

    /// GETs `path` as a server-side Table.
    pub async fn get_table(&self, path: &str) -> Result<Value, CliError> {
        self.send(request("GET", path, Some(TABLE_ACCEPT), None)?)
            .await
    }

    /// Sends a JSON body (`POST`/`PUT`) or a patch (`PATCH` with `content_type`).
    pub async fn write(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &Value,
    ) -> Result<Value, CliError> {
        let bytes = serde_json::to_vec(body).map_err(|e| CliError::Other(e.to_string()))?;
        let mut req = request(method, path, None, Some(bytes))?;
        if let Ok(v) = http::HeaderValue::from_str(content_type) {
            req.headers_mut().insert(http::header::CONTENT_TYPE, v);
        }
        let response = self
            .client
            .send(req.map(kube::client::Body::from))
            .await
            .map_err(|e| self.err(e))?;
        print_warnings(response.headers());
        let code = response.status();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .map_err(|e| CliError::Other(format!("reading the server's answer: {e}")))?
            .to_bytes();
        if code.is_client_error() || code.is_server_error() {
            let status = serde_json::from_slice::<kube::core::Status>(&body).unwrap_or_else(|_| {
                kube::core::Status::failure(String::from_utf8_lossy(&body).trim(), "")
                    .with_code(code.as_u16())
            });
            return Err(CliError::Api(Box::new(status)));
        }
        serde_json::from_slice(&body)
            .map_err(|e| CliError::Other(format!("decoding the server's answer: {e}")))
    }

    /// DELETEs `path` with a `DeleteOptions` body.
    pub async fn delete(&self, path: &str, options: &Value) -> Result<Value, CliError> {
        self.write("DELETE", path, "application/json", options)
            .await
    }

    async fn send(&self, req: Request<Vec<u8>>) -> Result<Value, CliError> {
        self.client
            .request::<Value>(req)
            .await
            .map_err(|e| self.err(e))
    }
}

/// Prints the server's warnings of a write as kubectl does (`Warning: ...` on stderr); the
/// header is `299 - "text"`, the text a quoted string.
fn print_warnings(headers: &http::HeaderMap) {
    for value in headers.get_all("warning") {
        let Ok(value) = value.to_str() else { continue };
        let text = value
            .splitn(3, ' ')
            .nth(2)
            .map(|quoted| {
                serde_json::from_str::<String>(quoted).unwrap_or_else(|_| quoted.to_string())
            })
            .unwrap_or_else(|| value.to_string());
        eprintln!("Warning: {text}");
    }
}

/// Builds a request for a path relative to the server.
pub fn request(
    method: &str,
    path: &str,
    accept: Option<&str>,
    body: Option<Vec<u8>>,
) -> Result<Request<Vec<u8>>, CliError> {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(a) = accept {
        b = b.header(http::header::ACCEPT, a);
    }
    b.body(body.unwrap_or_default())
        .map_err(|e| CliError::Other(format!("building a request for {path}: {e}")))
}

/// Appends `key=value` query parameters (skipping empty values) to `path`.
pub fn with_query(path: &str, params: &[(&str, String)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in params {
        if !v.is_empty() {
            ser.append_pair(k, v);
            any = true;
        }
    }
    if any {
        format!("{path}?{}", ser.finish())
    } else {
        path.to_string()
    }
}

/// Reads the kubeconfig at `path`; an error names the file once, then what is wrong with it.
pub fn read_kubeconfig(path: &Path) -> Result<kube::config::Kubeconfig, CliError> {
    let failed = |message: String| CliError::Kubeconfig {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
    kube::config::Kubeconfig::from_yaml(&text).map_err(|e| failed(error_text(&e)))
}

/// The kubeconfig to use and the path it came from (for messages).
fn load_kubeconfig(args: &ClientArgs) -> Result<(kube::config::Kubeconfig, PathBuf), CliError> {
    let read = |path: PathBuf| read_kubeconfig(&path).map(|k| (k, path));
    if let Some(path) = &args.kubeconfig {
        return read(path.clone());
    }
    if let Some(env) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        // As client-go's loading rules: the files of the list merged, the first to set a
        // value winning, and files that do not exist skipped.
        let shown = PathBuf::from(&env);
        let mut merged: Option<kube::config::Kubeconfig> = None;
        for path in std::env::split_paths(&env).filter(|p| p.exists()) {
            let next = read_kubeconfig(&path)?;
            merged = Some(match merged {
                None => next,
                Some(first) => first.merge(next).map_err(|e| CliError::Kubeconfig {
                    path: path.clone(),
                    message: error_text(&e),
                })?,
            });
        }
        return match merged {
            Some(k) => Ok((k, shown)),
            None => Err(CliError::Kubeconfig {
                path: shown,
                message: "none of the files KUBECONFIG names exists".into(),
            }),
        };
    }
    let local = crate::paths::default_data_dir().join("kubeconfig");
    if !local.exists() {
        return Err(CliError::NoKubeconfig(local));
    }
    read(local)
}

fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        text.push_str(": ");
        text.push_str(&s.to_string());
        cur = s.source();
    }
    text
}

/// Parses a Go-style duration as kubectl's `--timeout` takes it (`30s`, `5m`, `1h30m`,
/// `500ms`); a bare number is seconds.
/// How long kubectl's waits with a negative `--timeout` (and `delete`'s with none) last.
pub const A_WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

/// A wait's `--timeout`, as kubectl reads it: zero looks once, a negative one waits for a week.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    match text.trim().strip_prefix('-') {
        Some(magnitude) => parse_duration(magnitude).map(|_| A_WEEK),
        None => parse_duration(text),
    }
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    if rest.is_empty() {
        return Err(format!("invalid duration {text:?}"));
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("invalid duration {text:?}: missing unit"))?;
        let (num, tail) = rest.split_at(digits);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("invalid duration {text:?}"))?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let seconds = match unit {
            "ms" => value / 1000.0,
            "s" => value,
            "m" => value * 60.0,
            "h" => value * 3600.0,
            _ => return Err(format!("invalid duration {text:?}: unknown unit {unit:?}")),
        };
        total += Duration::from_secs_f64(seconds);
        rest = next;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(parse_timeout("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_timeout("-1s"), Ok(Duration::from_secs(604_800)));
        assert!(parse_timeout("-x").is_err());
    }

    #[test]
    fn query_parameters_are_encoded_and_empty_ones_skipped() {
        assert_eq!(
            with_query(
                "/api/v1/pods",
                &[
                    ("labelSelector", "app in (a,b)".into()),
                    ("limit", String::new())
                ]
            ),
            "/api/v1/pods?labelSelector=app+in+%28a%2Cb%29"
        );
        assert_eq!(with_query("/x", &[]), "/x");
    }
}
