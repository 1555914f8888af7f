//! The agent's log endpoint: `GET /containerLogs/{namespace}/{pod}/{container}?podUID=...`
//! over HTTPS, which the API server calls for `pods/log` and `podrecords/log` of pods on this
//! node when the agent runs on another machine (upstream's kubelet serves the same path), and
//! `exec/{namespace}/{pod}/{container}` for `pods/exec`, upgraded to a WebSocket with the
//! version 5 protocol of [`runlet_stream`].
//!
//! Who may read: a TLS client certificate signed by the cluster CA (`client_ca_pem`) is
//! required during the handshake, so an unauthenticated client never gets an HTTP answer, and
//! its subject must carry the organization [`REQUIRED_GROUP`] (the API server's
//! `kube-apiserver-kubelet-client` certificate and the admin's); anything else gets 403. The
//! serving certificate is self-signed, made at each start; the agent publishes it in its Node
//! (`runlet.dev/serving-certificate`) and the API server accepts no other.

use crate::AgentHandle;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use runlet_api::logs::{LogRequest, LogSource, LogSourceError};
use runlet_stream::{ExecRequest, ExecSource, ExecSourceError, Handshake, HandshakeError};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The organization (group) a client certificate needs to read logs.
pub const REQUIRED_GROUP: &str = "system:masters";

/// Why the endpoint cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address cannot be bound.
    #[error("listening on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The cluster CA does not parse.
    #[error("reading the cluster CA: {0}")]
    Ca(String),
    /// The certificate cannot be made or the TLS configuration built.
    #[error("configuring TLS: {0}")]
    Tls(String),
}

/// What the endpoint needs: where to listen, and the CA whose client certificates it trusts.
#[derive(Debug, Clone)]
pub struct LogEndpointConfig {
    pub bind: SocketAddr,
    pub client_ca_pem: String,
}

/// A bound endpoint, not yet serving.
pub struct LogServer {
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    certificate_pem: String,
}

impl LogServer {
    /// Binds `config.bind` and makes a serving certificate naming `names` (DNS names or IPs).
    pub async fn bind(config: &LogEndpointConfig, names: &[String]) -> Result<Self, ServeError> {
        let tls_err = |e: &dyn std::fmt::Display| ServeError::Tls(e.to_string());
        let key = rcgen::KeyPair::generate().map_err(|e| tls_err(&e))?;
        let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(|e| tls_err(&e))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "runlet-agent");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.self_signed(&key).map_err(|e| tls_err(&e))?;
        let mut roots = RootCertStore::empty();
        for ca in rustls_pemfile::certs(&mut config.client_ca_pem.as_bytes()) {
            let ca = ca.map_err(|e| ServeError::Ca(e.to_string()))?;
            roots.add(ca).map_err(|e| ServeError::Ca(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(ServeError::Ca("no certificate in the PEM".into()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| tls_err(&e))?;
        let key_der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der())
            .map_err(|e| tls_err(&e))?;
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_err(&e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![cert.der().clone()], key_der)
            .map_err(|e| tls_err(&e))?;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| ServeError::Bind {
                addr: config.bind,
                source,
            })?;
        Ok(LogServer {
            listener,
            tls: Arc::new(tls),
            certificate_pem: cert.pem(),
        })
    }

    /// The port bound (the one to publish).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map_or(0, |a| a.port())
    }

    /// The serving certificate (PEM), to publish.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// Serves `logs` until `cancel` fires; connections still open then are dropped.
    pub async fn run(self, logs: AgentHandle, cancel: CancellationToken) {
        let acceptor = tokio_rustls::TlsAcceptor::from(self.tls);
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let (tcp, peer) = tokio::select! {
                _ = cancel.cancelled() => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting a log connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let (acceptor, logs) = (acceptor.clone(), logs.clone());
            connections.spawn(async move {
                let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp));
                let tls = match handshake.await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "log endpoint: TLS handshake refused");
                        return;
                    }
                    Err(_) => return,
                };
                let allowed = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .is_some_and(|c| in_required_group(c));
                let service = service_fn(move |req| {
                    let logs = logs.clone();
                    async move { Ok::<_, std::convert::Infallible>(answer(&logs, allowed, req).await) }
                });
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .with_upgrades()
                    .await
                {
                    tracing::debug!(%peer, error = %e, "log connection ended with an error");
                }
            });
        }
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
}

/// Whether a client certificate (DER) names [`REQUIRED_GROUP`] as an organization.
fn in_required_group(der: &[u8]) -> bool {
    x509_parser::parse_x509_certificate(der).is_ok_and(|(_, cert)| {
        cert.subject()
            .iter_organization()
            .any(|o| o.as_str() == Ok(REQUIRED_GROUP))
    })
}

fn text(status: u16, message: &str) -> http::Response<axum::body::Body> {
    let mut resp = http::Response::new(axum::body::Body::from(format!("{message}\n")));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    resp
}

/// One request on an authenticated connection.
async fn answer<B>(
    logs: &AgentHandle,
    allowed: bool,
    req: http::Request<B>,
) -> http::Response<axum::body::Body> {
    if !allowed {
        return text(403, "forbidden: the client certificate may not read logs");
    }
    if let Some(target) = req.uri().path().strip_prefix(EXEC_PATH) {
        let target = target.to_string();
        return exec(logs, &target, req).await;
    }
    if req.method() != http::Method::GET {
        return text(405, "only GET is served");
    }
    let query: Vec<(String, String)> =
        form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let get = |k: &str| {
        query
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let request = match LogRequest::from_node_path(req.uri().path(), get) {
        Ok(r) => r,
        Err(m)
            if !req
                .uri()
                .path()
                .starts_with(runlet_api::logs::NODE_LOG_PATH) =>
        {
            return text(404, &m);
        }
        Err(m) => return text(400, &m),
    };
    match logs.logs(request).await {
        Ok(stream) => {
            let mut resp = http::Response::new(axum::body::Body::from_stream(stream));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain"),
            );
            resp
        }
        Err(LogSourceError::NotFound(m)) => text(404, &m),
        Err(LogSourceError::BadRequest(m)) => text(400, &m),
        Err(LogSourceError::Internal(m)) => text(500, &m),
    }
}

/// Where the endpoint serves `exec/{namespace}/{pod}/{container}`, as the kubelet does.
const EXEC_PATH: &str = "/exec/";

/// Runs a command for the API server, and serves its streams on the upgraded connection.
async fn exec<B>(
    agent: &AgentHandle,
    target: &str,
    mut req: http::Request<B>,
) -> http::Response<axum::body::Body> {
    let [namespace, pod, container] = match target.split('/').collect::<Vec<_>>()[..] {
        [n, p, c] if !n.is_empty() && !p.is_empty() && !c.is_empty() => [n, p, c],
        _ => return text(404, "not found: exec/{namespace}/{pod}/{container}"),
    };
    let request = ExecRequest::from_query(
        namespace,
        pod,
        container,
        req.uri().query().unwrap_or_default(),
    );
    let handshake = match Handshake::of(req.headers()) {
        Ok(h) => h,
        Err(e @ HandshakeError::NotUpgrade) => return text(400, &e.to_string()),
        Err(e @ HandshakeError::NoProtocol) => return text(403, &e.to_string()),
    };
    let command = request.command.clone();
    let session = match agent.exec(request).await {
        Ok(s) => s,
        Err(ExecSourceError::NotFound(m)) => return text(404, &m),
        Err(ExecSourceError::BadRequest(m)) => return text(400, &m),
        Err(ExecSourceError::Internal(m)) => return text(500, &m),
    };
    let upgrade = hyper::upgrade::on(&mut req);
    let protocol = handshake.protocol;
    tokio::spawn(async move {
        // Dropping the session, should the upgrade fail, kills the command.
        let Ok(upgraded) = upgrade.await else { return };
        let ws = runlet_stream::server_socket(TokioIo::new(upgraded)).await;
        runlet_stream::serve(ws, protocol, session, &command).await;
    });
    handshake.response()
}
