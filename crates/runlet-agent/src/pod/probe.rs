//! Container probes, as the kubelet's prober (`pkg/kubelet/prober`) runs them: a startup probe
//! until it succeeds, then liveness and readiness probes every `periodSeconds` while the
//! container runs. A readiness result makes the container ready or not (and with it the pod's
//! `Ready` condition); a startup or liveness probe that fails `failureThreshold` times in a row
//! has the container killed, and its restart policy decides what comes next.
//!
//! An `exec` probe runs its command as the container runs its own (its environment, user,
//! working directory, volumes and host name: [`crate::runtime::Runtime::exec`]); `httpGet`
//! and `tcpSocket` probes connect to the pod's IP (the node's, on the process runtime) or the
//! probe's `host`; a `grpc` probe calls the standard health service (`grpc.health.v1.Health/
//! Check`) over HTTP/2 at the pod's IP. Messages are upstream's, for the `Unhealthy` events
//! `kubectl describe` shows.

use k8s_openapi::api::core::v1::{
    Container, ExecAction, HTTPGetAction, LifecycleHandler, Probe, TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Which of a container's probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    Startup,
    Liveness,
    Readiness,
}

impl ProbeKind {
    /// As upstream's messages spell it (`Liveness probe failed: ...`).
    pub fn label(self) -> &'static str {
        match self {
            ProbeKind::Startup => "Startup",
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
        }
    }
}

/// What a probe's latest result changes for its container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing (not enough results in a row yet).
    Unchanged,
    /// The container is ready, or no longer ready.
    Ready(bool),
    /// The startup probe succeeded: the other probes start.
    Started,
    /// A startup or liveness probe failed often enough: the container is killed.
    Kill,
}

/// One probe of a running container attempt: when it is next due and its results in a row.
#[derive(Debug, Clone)]
pub struct Prober {
    pub kind: ProbeKind,
    pub probe: Probe,
    /// When the probe is next due, in clock milliseconds.
    pub next_at_ms: i64,
    /// A run of the probe is under way.
    pub in_flight: bool,
    successes: i32,
    failures: i32,
}

impl Prober {
    /// The probes of `container`, for an attempt that started at `started_ms`: each first due
    /// `initialDelaySeconds` after the start.
    pub fn for_container(container: &Container, started_ms: i64) -> Vec<Prober> {
        [
            (ProbeKind::Startup, &container.startup_probe),
            (ProbeKind::Liveness, &container.liveness_probe),
            (ProbeKind::Readiness, &container.readiness_probe),
        ]
        .into_iter()
        .filter_map(|(kind, probe)| {
            let probe = probe.clone()?;
            let delay = i64::from(probe.initial_delay_seconds.unwrap_or(0).max(0)) * 1000;
            Some(Prober {
                kind,
                probe,
                next_at_ms: started_ms + delay,
                in_flight: false,
                successes: 0,
                failures: 0,
            })
        })
        .collect()
    }

    fn period_ms(&self) -> i64 {
        i64::from(self.probe.period_seconds.unwrap_or(10).max(1)) * 1000
    }

    /// How long one run may take (`timeoutSeconds`, 1 s by default).
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(
            u64::try_from(self.probe.timeout_seconds.unwrap_or(1).max(1)).unwrap_or(1),
        )
    }

    /// Records a result that came in at `now_ms` and schedules the next run.
    pub fn record(&mut self, succeeded: bool, now_ms: i64) -> Verdict {
        self.in_flight = false;
        self.next_at_ms = now_ms + self.period_ms();
        if succeeded {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            if self.successes < self.probe.success_threshold.unwrap_or(1).max(1) {
                return Verdict::Unchanged;
            }
            match self.kind {
                ProbeKind::Readiness => Verdict::Ready(true),
                ProbeKind::Startup => Verdict::Started,
                ProbeKind::Liveness => Verdict::Unchanged,
            }
        } else {
            self.successes = 0;
            self.failures = self.failures.saturating_add(1);
            if self.failures < self.probe.failure_threshold.unwrap_or(3).max(1) {
                return Verdict::Unchanged;
            }
            match self.kind {
                ProbeKind::Readiness => Verdict::Ready(false),
                ProbeKind::Startup | ProbeKind::Liveness => Verdict::Kill,
            }
        }
    }
}

/// How a probe checks its container, or what a lifecycle hook does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A lifecycle hook's pause (`sleep.seconds`).
    Sleep(Duration),
    /// A command run as the container's (expanded as upstream's `ExpandContainerCommandOnlyStatic`).
    Exec(Vec<String>),
    Http {
        https: bool,
        host: String,
        port: u16,
        path: String,
        headers: Vec<(String, String)>,
    },
    Tcp {
        host: String,
        port: u16,
    },
    Grpc {
        host: String,
        port: u16,
        service: String,
    },
    /// Nothing runlet can run (the probe or hook fails with this message).
    Unsupported(String),
}

/// The parts of a probe or a lifecycle hook that say what it does.
#[derive(Debug, Clone, Copy, Default)]
pub struct Handler<'a> {
    exec: Option<&'a ExecAction>,
    http_get: Option<&'a HTTPGetAction>,
    tcp_socket: Option<&'a TCPSocketAction>,
    grpc: Option<&'a k8s_openapi::api::core::v1::GRPCAction>,
    sleep_seconds: Option<i64>,
}

impl<'a> From<&'a Probe> for Handler<'a> {
    fn from(p: &'a Probe) -> Self {
        Handler {
            exec: p.exec.as_ref(),
            http_get: p.http_get.as_ref(),
            tcp_socket: p.tcp_socket.as_ref(),
            grpc: p.grpc.as_ref(),
            sleep_seconds: None,
        }
    }
}

/// A hook's `tcpSocket` is left out: upstream keeps it for compatibility only and fails a hook
/// that has nothing else.
impl<'a> From<&'a LifecycleHandler> for Handler<'a> {
    fn from(h: &'a LifecycleHandler) -> Self {
        Handler {
            exec: h.exec.as_ref(),
            http_get: h.http_get.as_ref(),
            tcp_socket: None,
            grpc: None,
            sleep_seconds: h.sleep.as_ref().map(|s| s.seconds),
        }
    }
}

/// The action of a probe or hook (`handler`) of `container`, whose pod has the IP `pod_ip`.
pub fn action(handler: Handler<'_>, container: &Container, pod_ip: &str) -> Action {
    let probe = handler;
    let static_env = |name: &str| {
        container
            .env
            .iter()
            .flatten()
            .find(|e| e.name == name && e.value_from.is_none())
            .map(|e| e.value.clone().unwrap_or_default())
    };
    if let Some(seconds) = probe.sleep_seconds {
        return Action::Sleep(Duration::from_secs(u64::try_from(seconds).unwrap_or(0)));
    }
    if let Some(exec) = probe.exec {
        let argv = exec
            .command
            .iter()
            .flatten()
            .map(|a| super::env::expand(a, &static_env))
            .collect();
        return Action::Exec(argv);
    }
    let host_of = |h: &Option<String>| {
        h.clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| pod_ip.to_string())
    };
    if let Some(http) = probe.http_get {
        let port = match resolve_port(&http.port, container) {
            Ok(p) => p,
            Err(e) => return Action::Unsupported(e),
        };
        let mut path = http.path.clone().unwrap_or_default();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        return Action::Http {
            https: http.scheme.as_deref() == Some("HTTPS"),
            host: host_of(&http.host),
            port,
            path,
            headers: http
                .http_headers
                .iter()
                .flatten()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
        };
    }
    if let Some(tcp) = probe.tcp_socket {
        return match resolve_port(&tcp.port, container) {
            Ok(port) => Action::Tcp {
                host: host_of(&tcp.host),
                port,
            },
            Err(e) => Action::Unsupported(e),
        };
    }
    if let Some(grpc) = probe.grpc {
        return match u16::try_from(grpc.port).ok().filter(|p| *p > 0) {
            Some(port) => Action::Grpc {
                host: pod_ip.to_string(),
                port,
                service: grpc.service.clone().unwrap_or_default(),
            },
            None => Action::Unsupported(format!("invalid port number: {}", grpc.port)),
        };
    }
    Action::Unsupported("invalid handler: it names no action runlet runs (exec, httpGet, tcpSocket for probes; exec, httpGet, sleep for hooks)".into())
}

/// A probe's port: a number, or the name of one of the container's ports (upstream's
/// `findPortByName`).
fn resolve_port(port: &IntOrString, container: &Container) -> Result<u16, String> {
    let number = match port {
        IntOrString::Int(n) => *n,
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name))
            .map(|p| p.container_port)
            .ok_or_else(|| format!("port {name:?} not found in the container's ports"))?,
    };
    u16::try_from(number)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("invalid port number: {number}"))
}

/// Runs a network probe (`Http`, `Tcp` or `Grpc`) within `timeout`: `Ok` on success, with a
/// warning where upstream's prober has one (an HTTP probe that ended on a redirect), or
/// upstream's failure message.
pub async fn run_network(action: &Action, timeout: Duration) -> Result<Option<String>, String> {
    run_network_checking(action, timeout, true).await
}

/// [`run_network`] for a lifecycle hook: any HTTP answer will do, as upstream's hook runner
/// does not look at the status code.
pub async fn run_network_hook(action: &Action, timeout: Duration) -> Result<(), String> {
    run_network_checking(action, timeout, false).await.map(drop)
}

async fn run_network_checking(
    action: &Action,
    timeout: Duration,
    check_status: bool,
) -> Result<Option<String>, String> {
    match tokio::time::timeout(timeout, network(action, check_status, timeout)).await {
        Ok(result) => result,
        Err(_) => Err(match action {
            Action::Http {
                https,
                host,
                port,
                path,
                ..
            } => format!(
                "Get \"{}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
                url(*https, host, *port, path)
            ),
            Action::Tcp { host, port } => format!("dial tcp {}: i/o timeout", addr(host, *port)),
            Action::Grpc { .. } => format!(
                "timeout: health rpc did not complete within {}s",
                timeout.as_secs()
            ),
            _ => "probe timed out".into(),
        }),
    }
}

fn addr(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn url(https: bool, host: &str, port: u16, path: &str) -> String {
    let scheme = if https { "https" } else { "http" };
    format!("{scheme}://{}{path}", addr(host, port))
}

async fn network(
    action: &Action,
    check_status: bool,
    timeout: Duration,
) -> Result<Option<String>, String> {
    match action {
        Action::Tcp { host, port } => tokio::net::TcpStream::connect(addr(host, *port))
            .await
            .map(|_| None)
            .map_err(|e| format!("dial tcp {}: connect: {}", addr(host, *port), io_reason(&e))),
        Action::Http {
            https,
            host,
            port,
            path,
            headers,
        } => {
            // Redirects on the same host are followed (ten requests at most), as the kubelet's
            // client does; an answer that is still a redirect (to another host, or without a
            // `Location`) is a success with upstream's warning.
            let (mut https, mut port, mut path) = (*https, *port, path.clone());
            for _ in 0..MAX_REDIRECTS {
                let (status, location) = http_get(https, host, port, &path, headers).await?;
                let next = location
                    .filter(|_| (300..400).contains(&status))
                    .map(|l| redirect_target(&l, https, host, port, &path));
                match next {
                    Some(Redirect::SameHost {
                        https: h,
                        port: p,
                        path: next,
                    }) => (https, port, path) = (h, p, next),
                    Some(Redirect::OtherHost) => return Ok(Some(REDIRECT_WARNING.into())),
                    None if (300..400).contains(&status) => {
                        return Ok(Some(REDIRECT_WARNING.into()));
                    }
                    None if !check_status || (200..400).contains(&status) => return Ok(None),
                    None => return Err(format!("HTTP probe failed with statuscode: {status}")),
                }
            }
            Err(format!(
                "Get \"{}\": stopped after {MAX_REDIRECTS} redirects",
                url(https, host, port, &path)
            ))
        }
        Action::Grpc {
            host,
            port,
            service,
        } => grpc_health(host, *port, service, timeout)
            .await
            .map(|()| None),
        Action::Exec(_) | Action::Sleep(_) | Action::Unsupported(_) => {
            Err("not a network probe".into())
        }
    }
}

/// Upstream's warning for an HTTP probe that ended on a redirect (it adds the response's body,
/// which runlet does not read).
const REDIRECT_WARNING: &str = "Probe terminated redirects, Response body: ";

/// Redirects an HTTP probe follows, as Go's HTTP client.
const MAX_REDIRECTS: usize = 10;

/// Where a redirect of an HTTP probe leads.
#[derive(Debug, PartialEq, Eq)]
enum Redirect {
    SameHost {
        https: bool,
        port: u16,
        path: String,
    },
    OtherHost,
}

/// Resolves a `Location` against the URL that answered with it.
fn redirect_target(location: &str, https: bool, host: &str, port: u16, path: &str) -> Redirect {
    let absolute = location
        .strip_prefix("http://")
        .map(|rest| (false, rest))
        .or_else(|| location.strip_prefix("https://").map(|rest| (true, rest)));
    let Some((to_https, rest)) = absolute else {
        let next = if location.starts_with('/') {
            location.to_string()
        } else {
            // Relative to the directory of the current path.
            let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
            format!("{dir}/{location}")
        };
        return Redirect::SameHost {
            https,
            port,
            path: next,
        };
    };
    let (authority, next) = rest.find('/').map_or((rest, "/"), |i| {
        (rest.get(..i).unwrap_or(rest), rest.get(i..).unwrap_or("/"))
    });
    let (to_host, to_port): (&str, Option<u16>) = match authority.strip_prefix('[') {
        // `[v6 address]:port`
        Some(v6) => {
            let (h, after) = v6.split_once(']').unwrap_or((v6, ""));
            (h, after.strip_prefix(':').and_then(|p| p.parse().ok()))
        }
        None => match authority.split_once(':') {
            Some((h, p)) => (h, p.parse().ok()),
            None => (authority, None),
        },
    };
    if !to_host.eq_ignore_ascii_case(host) {
        return Redirect::OtherHost;
    }
    Redirect::SameHost {
        https: to_https,
        port: to_port.unwrap_or(if to_https { 443 } else { 80 }),
        path: next.to_string(),
    }
}

/// One GET of an HTTP probe: the status code and the `Location` header of the answer.
async fn http_get(
    https: bool,
    host: &str,
    port: u16,
    path: &str,
    headers: &[(String, String)],
) -> Result<(u16, Option<String>), String> {
    let target = url(https, host, port, path);
    let stream = tokio::net::TcpStream::connect(addr(host, port))
        .await
        .map_err(|e| {
            format!(
                "Get \"{target}\": dial tcp {}: connect: {}",
                addr(host, port),
                io_reason(&e)
            )
        })?;
    let request = http_request(host, port, path, headers);
    if https {
        let tls = tls_connector()
            .map_err(|e| format!("Get \"{target}\": {e}"))?
            .connect(server_name(host), stream)
            .await
            .map_err(|e| format!("Get \"{target}\": {e}"))?;
        answer_of(tls, &request).await
    } else {
        answer_of(stream, &request).await
    }
    .map_err(|e| format!("Get \"{target}\": {e}"))
}

/// gRPC's health check (`grpc.health.v1.Health/Check`, one unary call over HTTP/2 without
/// TLS), as upstream's gRPC prober makes it: healthy when the answer says `SERVING`.
async fn grpc_health(
    host: &str,
    port: u16,
    service: &str,
    timeout: Duration,
) -> Result<(), String> {
    use http_body_util::BodyExt;
    let target = addr(host, port);
    let connect_error = |e: &dyn std::fmt::Display| {
        format!(
            "timeout: failed to connect service {target:?} within {}s: {e}",
            timeout.as_secs()
        )
    };
    let stream = tokio::net::TcpStream::connect(&target)
        .await
        .map_err(|e| connect_error(&e))?;
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .map_err(|e| connect_error(&e))?;
    tokio::spawn(connection);
    let request = http::Request::post(format!("http://{target}/grpc.health.v1.Health/Check"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("user-agent", "kube-probe/1.33")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            grpc_health_request(service),
        )))
        .map_err(|e| e.to_string())?;
    let rpc_error = |e: &dyn std::fmt::Display| format!("error: health rpc probe failed: {e}");
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| rpc_error(&e))?;
    let status_header = |h: &http::HeaderMap| {
        h.get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let in_headers = status_header(response.headers());
    let message_header = response
        .headers()
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let collected = response
        .into_body()
        .collect()
        .await
        .map_err(|e| rpc_error(&e))?;
    let code = collected
        .trailers()
        .and_then(status_header)
        .or(in_headers)
        .unwrap_or_else(|| "2".into());
    match code.as_str() {
        "0" => {}
        "12" => {
            return Err(format!(
                "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): {}",
                message_header.unwrap_or_default()
            ));
        }
        _ => {
            return Err(rpc_error(&format!(
                "rpc error: code = {} desc = {}",
                grpc_code_name(&code),
                message_header.unwrap_or_default()
            )));
        }
    }
    match grpc_health_status(&collected.to_bytes()) {
        1 => Ok(()),
        status => Err(format!(
            "service unhealthy (responded with {:?})",
            match status {
                0 => "UNKNOWN",
                2 => "NOT_SERVING",
                3 => "SERVICE_UNKNOWN",
                _ => "UNKNOWN",
            }
        )),
    }
}

/// gRPC's name of a status code, as Go's `codes.Code` prints it.
fn grpc_code_name(code: &str) -> String {
    const NAMES: [&str; 17] = [
        "OK",
        "Canceled",
        "Unknown",
        "InvalidArgument",
        "DeadlineExceeded",
        "NotFound",
        "AlreadyExists",
        "PermissionDenied",
        "ResourceExhausted",
        "FailedPrecondition",
        "Aborted",
        "OutOfRange",
        "Unimplemented",
        "Internal",
        "Unavailable",
        "DataLoss",
        "Unauthenticated",
    ];
    code.parse::<usize>()
        .ok()
        .and_then(|n| NAMES.get(n))
        .map_or_else(|| format!("Code({code})"), |name| (*name).to_string())
}

/// A length-prefixed `HealthCheckRequest { service = 1 }` message.
fn grpc_health_request(service: &str) -> Vec<u8> {
    let mut message = Vec::new();
    if !service.is_empty() {
        message.push(0x0a);
        push_varint(&mut message, service.len() as u64);
        message.extend_from_slice(service.as_bytes());
    }
    let mut framed = vec![0];
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(&message);
    framed
}

fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The `status` (field 1) of a length-prefixed `HealthCheckResponse`; 0 (`UNKNOWN`) when it is
/// missing or the message cannot be read.
fn grpc_health_status(framed: &[u8]) -> u64 {
    let mut rest = framed.get(5..).unwrap_or_default();
    while let Some((&key, tail)) = rest.split_first() {
        let (value, tail) = read_varint(tail);
        match key {
            0x08 => return value,
            // Any other varint field: skip it; anything else: give up.
            k if k & 0x07 == 0 => rest = tail,
            _ => return 0,
        }
    }
    0
}

fn read_varint(bytes: &[u8]) -> (u64, &[u8]) {
    let mut value = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return (value, bytes.get(i + 1..).unwrap_or_default());
        }
    }
    (value, &[])
}

/// The words Go's net package uses for the common connection errors.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        _ => e.to_string(),
    }
}

/// The kubelet's probe request: its `User-Agent` and `Accept` unless the probe sets them.
fn http_request(host: &str, port: u16, path: &str, headers: &[(String, String)]) -> Vec<u8> {
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut r = format!("GET {path} HTTP/1.1\r\n");
    if !has("host") {
        r.push_str(&format!("Host: {}\r\n", addr(host, port)));
    }
    if !has("user-agent") {
        r.push_str("User-Agent: kube-probe/1.33\r\n");
    }
    if !has("accept") {
        r.push_str("Accept: */*\r\n");
    }
    for (n, v) in headers {
        r.push_str(&format!("{n}: {v}\r\n"));
    }
    r.push_str("Connection: close\r\n\r\n");
    r.into_bytes()
}

/// Sends `request` and reads the status code and `Location` of the answer.
async fn answer_of<S>(mut stream: S, request: &[u8]) -> Result<(u16, Option<String>), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    stream.write_all(request).await.map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    // `HTTP/1.1 200 OK`
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            if head.is_empty() {
                "EOF"
            } else {
                "malformed HTTP response"
            }
            .to_string()
        })?;
    let location = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("location"))
        .map(|(_, v)| v.trim().to_string());
    Ok((status, location))
}

/// HTTPS probes do not verify the server's certificate, as the kubelet's do not
/// (`InsecureSkipVerify`).
fn tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
    #[derive(Debug)]
    struct AnyCertificate(std::sync::Arc<rustls::crypto::CryptoProvider>);
    impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
        fn verify_server_cert(
            &self,
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &[rustls::pki_types::CertificateDer<'_>],
            _: &rustls::pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.dangerous()
                .with_custom_certificate_verifier(std::sync::Arc::new(AnyCertificate(provider)))
                .with_no_client_auth()
        });
    config
        .map(|c| tokio_rustls::TlsConnector::from(std::sync::Arc::new(c)))
        .map_err(|e| e.to_string())
}

fn server_name(host: &str) -> rustls::pki_types::ServerName<'static> {
    rustls::pki_types::ServerName::try_from(host.to_string()).unwrap_or(
        rustls::pki_types::ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerPort, ExecAction, HTTPGetAction, TCPSocketAction};

    fn probe(f: impl FnOnce(&mut Probe)) -> Probe {
        let mut p = Probe {
            exec: Some(ExecAction {
                command: Some(vec!["true".into()]),
            }),
            ..Default::default()
        };
        f(&mut p);
        p
    }

    #[test]
    fn thresholds_decide_readiness_startup_and_kills() {
        let c = Container {
            readiness_probe: Some(probe(|p| {
                p.initial_delay_seconds = Some(5);
                p.success_threshold = Some(2);
                p.failure_threshold = Some(2);
                p.period_seconds = Some(3);
            })),
            liveness_probe: Some(probe(|_| {})),
            startup_probe: Some(probe(|_| {})),
            ..Default::default()
        };
        let mut probes = Prober::for_container(&c, 1_000);
        let kinds: Vec<ProbeKind> = probes.iter().map(|p| p.kind).collect();
        assert_eq!(
            kinds,
            [
                ProbeKind::Startup,
                ProbeKind::Liveness,
                ProbeKind::Readiness
            ]
        );
        let [startup, liveness, readiness] = probes.as_mut_slice() else {
            panic!("three probes");
        };
        assert_eq!(
            readiness.next_at_ms, 6_000,
            "first due after initialDelaySeconds"
        );
        assert_eq!(startup.next_at_ms, 1_000);
        // Readiness: two successes in a row make it ready, two failures unready.
        assert_eq!(readiness.record(true, 6_000), Verdict::Unchanged);
        assert_eq!(readiness.next_at_ms, 9_000, "then every periodSeconds");
        assert_eq!(readiness.record(true, 9_000), Verdict::Ready(true));
        assert_eq!(readiness.record(false, 12_000), Verdict::Unchanged);
        assert_eq!(
            readiness.record(true, 15_000),
            Verdict::Unchanged,
            "a success breaks the run"
        );
        assert_eq!(readiness.record(false, 18_000), Verdict::Unchanged);
        assert_eq!(readiness.record(false, 21_000), Verdict::Ready(false));
        // Startup: one success; liveness: three failures (the defaults) kill.
        assert_eq!(startup.record(true, 1_000), Verdict::Started);
        assert_eq!(liveness.record(false, 1_000), Verdict::Unchanged);
        assert_eq!(liveness.record(false, 2_000), Verdict::Unchanged);
        assert_eq!(liveness.record(false, 3_000), Verdict::Kill);
        assert_eq!(liveness.timeout(), Duration::from_secs(1));
    }

    #[test]
    fn actions_resolve_ports_hosts_and_static_variables() {
        let c = Container {
            ports: Some(vec![ContainerPort {
                name: Some("web".into()),
                container_port: 8080,
                ..Default::default()
            }]),
            env: Some(vec![k8s_openapi::api::core::v1::EnvVar {
                name: "FILE".into(),
                value: Some("/tmp/ok".into()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let exec = probe(|p| {
            p.exec = Some(ExecAction {
                command: Some(vec!["cat".into(), "$(FILE)".into(), "$(OTHER)".into()]),
            })
        });
        assert_eq!(
            action((&exec).into(), &c, "10.0.0.1"),
            Action::Exec(vec!["cat".into(), "/tmp/ok".into(), "$(OTHER)".into()])
        );
        let http = probe(|p| {
            p.exec = None;
            p.http_get = Some(HTTPGetAction {
                port: IntOrString::String("web".into()),
                path: Some("healthz".into()),
                ..Default::default()
            })
        });
        assert_eq!(
            action((&http).into(), &c, "10.0.0.1"),
            Action::Http {
                https: false,
                host: "10.0.0.1".into(),
                port: 8080,
                path: "/healthz".into(),
                headers: vec![],
            }
        );
        let tcp = probe(|p| {
            p.exec = None;
            p.tcp_socket = Some(TCPSocketAction {
                port: IntOrString::String("nope".into()),
                host: Some("127.0.0.1".into()),
            })
        });
        assert_eq!(
            action((&tcp).into(), &c, "10.0.0.1"),
            Action::Unsupported("port \"nope\" not found in the container's ports".into())
        );
    }

    #[tokio::test]
    async fn network_probes_succeed_on_2xx_and_3xx_and_say_why_they_fail() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            for answer in ["HTTP/1.1 302 Found", "HTTP/1.1 500 Oops"] {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let n = conn.read(&mut buf).await.unwrap();
                let request = String::from_utf8_lossy(&buf[..n]).to_string();
                assert!(request.starts_with("GET /ready HTTP/1.1\r\n"), "{request}");
                assert!(
                    request.contains("User-Agent: kube-probe/1.33\r\n"),
                    "{request}"
                );
                assert!(request.contains("X-Probe: yes\r\n"), "{request}");
                conn.write_all(format!("{answer}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                    .await
                    .unwrap();
            }
        });
        let http = Action::Http {
            https: false,
            host: "127.0.0.1".into(),
            port,
            path: "/ready".into(),
            headers: vec![("X-Probe".into(), "yes".into())],
        };
        let t = Duration::from_secs(5);
        assert_eq!(
            run_network(&http, t).await,
            Ok(Some(REDIRECT_WARNING.into())),
            "a redirect without a Location: a success with upstream's warning"
        );
        assert_eq!(
            run_network(&http, t).await,
            Err("HTTP probe failed with statuscode: 500".into())
        );
        server.await.unwrap();
        assert_eq!(
            run_network(
                &Action::Tcp {
                    host: "127.0.0.1".into(),
                    port
                },
                t
            )
            .await,
            Err(format!(
                "dial tcp 127.0.0.1:{port}: connect: connection refused"
            )),
            "the listener is gone"
        );
    }
    #[tokio::test]
    async fn grpc_probes_call_the_standard_health_service() {
        use http_body_util::BodyExt;
        use hyper::body::Frame;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            loop {
                let (conn, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let health = hyper::service::service_fn(
                        |req: http::Request<hyper::body::Incoming>| async move {
                            assert_eq!(req.uri().path(), "/grpc.health.v1.Health/Check");
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            // 5 bytes of framing, then field 1's tag and length.
                            let service =
                                String::from_utf8_lossy(body.get(7..).unwrap_or_default())
                                    .into_owned();
                            let (status, code) = match service.as_str() {
                                "up" => (1, "0"),
                                "down" => (2, "0"),
                                _ => (0, "12"),
                            };
                            let mut trailers = http::HeaderMap::new();
                            trailers.insert("grpc-status", code.parse().unwrap());
                            let frames = vec![
                                Ok::<_, std::convert::Infallible>(Frame::data(bytes::Bytes::from(
                                    vec![0, 0, 0, 0, 2, 0x08, status],
                                ))),
                                Ok(Frame::trailers(trailers)),
                            ];
                            let body =
                                http_body_util::StreamBody::new(futures::stream::iter(frames));
                            Ok::<_, std::convert::Infallible>(
                                http::Response::builder()
                                    .header("content-type", "application/grpc")
                                    .body(body)
                                    .unwrap(),
                            )
                        },
                    );
                    let _ = hyper::server::conn::http2::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(conn), health)
                    .await;
                });
            }
        });
        let probe = |service: &str| Action::Grpc {
            host: "127.0.0.1".into(),
            port,
            service: service.into(),
        };
        let t = Duration::from_secs(5);
        assert_eq!(run_network(&probe("up"), t).await, Ok(None));
        assert_eq!(
            run_network(&probe("down"), t).await,
            Err("service unhealthy (responded with \"NOT_SERVING\")".into())
        );
        assert_eq!(
            run_network(&probe("elsewhere"), t).await,
            Err(
                "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): "
                    .into()
            )
        );
        server.abort();
    }
    #[test]
    fn redirects_stay_on_the_probed_host() {
        let same = |https, port, path: &str| Redirect::SameHost {
            https,
            port,
            path: path.into(),
        };
        let at = |l: &str| redirect_target(l, false, "10.0.0.1", 8080, "/a/b");
        assert_eq!(at("/c"), same(false, 8080, "/c"));
        assert_eq!(at("c"), same(false, 8080, "/a/c"));
        assert_eq!(at("https://10.0.0.1:8443/x"), same(true, 8443, "/x"));
        assert_eq!(at("http://10.0.0.1"), same(false, 80, "/"));
        assert_eq!(at("http://elsewhere.example/x"), Redirect::OtherHost);
        let v6 = redirect_target("http://[fd00::1]:81/y", false, "fd00::1", 80, "/");
        assert_eq!(v6, same(false, 81, "/y"));
    }

    #[tokio::test]
    async fn http_probes_follow_redirects_on_their_host() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            loop {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let n = conn.read(&mut buf).await.unwrap();
                let request = String::from_utf8_lossy(&buf[..n]).to_string();
                let answer = match request.split_whitespace().nth(1).unwrap_or_default() {
                    "/to-error" => "302 Found\r\nLocation: /error".to_string(),
                    "/error" => "500 Oops".to_string(),
                    "/away" => "301 Moved\r\nLocation: http://elsewhere.example/".to_string(),
                    "/loop" => "302 Found\r\nLocation: /loop".to_string(),
                    _ => "200 OK".to_string(),
                };
                conn.write_all(
                    format!("HTTP/1.1 {answer}\r\nContent-Length: 0\r\n\r\n").as_bytes(),
                )
                .await
                .unwrap();
            }
        });
        let get = |path: &str| Action::Http {
            https: false,
            host: "127.0.0.1".into(),
            port,
            path: path.into(),
            headers: vec![],
        };
        let t = Duration::from_secs(5);
        assert_eq!(
            run_network(&get("/to-error"), t).await,
            Err("HTTP probe failed with statuscode: 500".into())
        );
        assert_eq!(
            run_network(&get("/away"), t).await,
            Ok(Some(REDIRECT_WARNING.into())),
            "another host: a success, with upstream's warning"
        );
        assert_eq!(
            run_network(&get("/loop"), t).await,
            Err(format!(
                "Get \"http://127.0.0.1:{port}/loop\": stopped after 10 redirects"
            ))
        );
        assert_eq!(
            run_network_hook(&get("/error"), t).await,
            Ok(()),
            "a hook takes any answer"
        );
        server.abort();
    }
}
