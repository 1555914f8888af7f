//! Logs of pods on a remote node, and commands run in its containers: the API server proxies
//! the request to the node agent's HTTPS endpoint, as upstream's API server proxies `pods/log`
//! and `pods/exec` to the kubelet. An exec is relayed as a WebSocket of its own (the version 5
//! protocol) that the API server attaches to ([`runlet_stream::attach`]).
//!
//! The endpoint is what the agent published in its Node: the port in
//! `status.daemonEndpoints.kubeletEndpoint.Port`, the host in `status.addresses` (InternalIP,
//! else Hostname) and its certificate in the [`SERVING_CERTIFICATE_ANNOTATION`] annotation. The
//! connection accepts exactly that certificate (pinned, so nothing else can pose as the agent)
//! and presents the API server's client certificate ([`NodeClient`]), signed by the cluster
//! CA, which the agent requires. The response body streams through unbuffered, so `follow`
//! works.

use super::{LogBody, LogRequest, LogSource, LogSourceError};
use futures::StreamExt;
use futures::future::BoxFuture;
use hyper_util::rt::TokioIo;
use runlet_api::logs::SERVING_CERTIFICATE_ANNOTATION;
use runlet_stream::{ExecRequest, ExecSession, ExecSource, ExecSourceError};
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// How long connecting to an agent (TCP and TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an agent's error message kept.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The API server's identity towards node agents: its kubelet-client certificate and key.
#[derive(Debug)]
pub struct NodeClient {
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

/// A client identity that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum NodeClientError {
    #[error("reading PEM: {0}")]
    Pem(#[from] std::io::Error),
    #[error("the client key is missing from its PEM")]
    NoKey,
}

impl NodeClient {
    /// From the PEM of the certificate and its key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<NodeClient, NodeClientError> {
        let certs =
            rustls_pemfile::certs(&mut cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>()?;
        let key =
            rustls_pemfile::private_key(&mut key_pem.as_bytes())?.ok_or(NodeClientError::NoKey)?;
        Ok(NodeClient { certs, key })
    }
}

/// Where a node's agent serves logs, from its Node object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub certificate: CertificateDer<'static>,
}

impl Endpoint {
    /// The endpoint a Node publishes; `None` when it publishes no port, address or certificate.
    pub fn of_node(node: &Value) -> Option<Endpoint> {
        let port = node
            .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)?;
        let addresses = node.pointer("/status/addresses")?.as_array()?;
        let address = |kind: &str| {
            addresses
                .iter()
                .find(|a| a["type"] == kind)
                .and_then(|a| a["address"].as_str())
                .filter(|a| !a.is_empty())
        };
        let host = address("InternalIP").or_else(|| address("Hostname"))?;
        let pem = node
            .pointer("/metadata/annotations")?
            .get(SERVING_CERTIFICATE_ANNOTATION)?
            .as_str()?;
        let certificate = rustls_pemfile::certs(&mut pem.as_bytes()).next()?.ok()?;
        Some(Endpoint {
            host: host.to_string(),
            port,
            certificate,
        })
    }
}

/// Accepts exactly one certificate: the one the node published.
#[derive(Debug)]
struct Pinned {
    certificate: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.certificate.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// One node's agent through its endpoint: its logs, and commands run in its containers.
pub struct NodeAgent {
    client: Arc<NodeClient>,
    endpoint: Endpoint,
}

impl NodeAgent {
    pub fn new(client: Arc<NodeClient>, endpoint: Endpoint) -> Self {
        NodeAgent { client, endpoint }
    }
}

impl LogSource for NodeAgent {
    fn logs(&self, req: LogRequest) -> BoxFuture<'static, Result<LogBody, LogSourceError>> {
        let client = self.client.clone();
        let endpoint = self.endpoint.clone();
        Box::pin(async move { fetch(&client, &endpoint, &req).await })
    }
}

/// The agent's endpoint serves `exec/{namespace}/{pod}/{container}` with the version 5
/// protocol, which the API server attaches to and serves its own client from.
impl ExecSource for NodeAgent {
    fn exec(&self, req: ExecRequest) -> BoxFuture<'static, Result<ExecSession, ExecSourceError>> {
        let client = self.client.clone();
        let endpoint = self.endpoint.clone();
        Box::pin(async move {
            let tls = connect(&client, &endpoint)
                .await
                .map_err(|e| ExecSourceError::Internal(e.to_string()))?;
            let url = format!(
                "wss://{}:{}/exec/{}/{}/{}?{}",
                endpoint.host,
                endpoint.port,
                req.namespace,
                req.pod,
                req.container,
                req.query()
            );
            let unreachable =
                |why: String| ExecSourceError::Internal(unreachable(&endpoint, why).to_string());
            let mut request = url
                .into_client_request()
                .map_err(|e| unreachable(e.to_string()))?;
            request.headers_mut().insert(
                http::header::SEC_WEBSOCKET_PROTOCOL,
                http::HeaderValue::from_static(runlet_stream::V5),
            );
            let ws = match tokio_tungstenite::client_async(request, tls).await {
                Ok((ws, _)) => ws,
                Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                    let message = response
                        .body()
                        .as_deref()
                        .map(|b| String::from_utf8_lossy(b).trim().to_string())
                        .unwrap_or_default();
                    return Err(match response.status().as_u16() {
                        404 => ExecSourceError::NotFound(message),
                        400 => ExecSourceError::BadRequest(message),
                        code => unreachable(format!("{code}: {message}")),
                    });
                }
                Err(e) => return Err(unreachable(e.to_string())),
            };
            Ok(runlet_stream::attach(
                ws,
                runlet_stream::Protocol::V5,
                [req.stdin, req.stdout, req.stderr, req.tty],
            ))
        })
    }
}

fn unreachable(endpoint: &Endpoint, why: impl std::fmt::Display) -> LogSourceError {
    LogSourceError::Internal(format!(
        "reaching the node agent at {}:{}: {why}",
        endpoint.host, endpoint.port
    ))
}

/// A TLS connection to the agent's endpoint, as the API server's kubelet client.
async fn connect(
    client: &NodeClient,
    endpoint: &Endpoint,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, LogSourceError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| unreachable(endpoint, e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned {
            certificate: endpoint.certificate.clone(),
            provider,
        }))
        .with_client_auth_cert(client.certs.clone(), client.key.clone_key())
        .map_err(|e| unreachable(endpoint, e))?;
    let server_name =
        ServerName::try_from(endpoint.host.clone()).map_err(|e| unreachable(endpoint, e))?;
    let connect = async {
        let tcp = tokio::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port)).await?;
        let _ = tcp.set_nodelay(true);
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(server_name, tcp)
            .await
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| unreachable(endpoint, "timed out"))?
        .map_err(|e| unreachable(endpoint, e))
}

async fn fetch(
    client: &NodeClient,
    endpoint: &Endpoint,
    req: &LogRequest,
) -> Result<LogBody, LogSourceError> {
    let tls = connect(client, endpoint).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| unreachable(endpoint, e))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "node log connection ended");
        }
    });
    let request = http::Request::get(req.node_path())
        .header(
            http::header::HOST,
            format!("{}:{}", endpoint.host, endpoint.port),
        )
        .body(axum::body::Body::empty())
        .map_err(|e| unreachable(endpoint, e))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| unreachable(endpoint, e))?;
    let status = response.status();
    let body = axum::body::Body::new(response.into_body());
    if status.is_success() {
        return Ok(body
            .into_data_stream()
            .map(|chunk| chunk.map_err(std::io::Error::other))
            .boxed());
    }
    let message = axum::body::to_bytes(body, MAX_ERROR_BODY)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    Err(match status.as_u16() {
        404 => LogSourceError::NotFound(message),
        400 => LogSourceError::BadRequest(message),
        _ => unreachable(endpoint, format!("{status}: {message}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_node_without_port_or_certificate_publishes_no_endpoint() {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["n1".to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let node = |port: u16, annotated: bool| {
            let annotations = if annotated {
                json!({ SERVING_CERTIFICATE_ANNOTATION: cert.pem() })
            } else {
                json!({})
            };
            json!({
                "metadata": {"name": "n1", "annotations": annotations},
                "status": {
                    "addresses": [
                        {"type": "Hostname", "address": "n1"},
                        {"type": "InternalIP", "address": "192.0.2.7"},
                    ],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
                },
            })
        };
        let ep = Endpoint::of_node(&node(10250, true)).expect("published");
        assert_eq!((ep.host.as_str(), ep.port), ("192.0.2.7", 10250));
        assert_eq!(ep.certificate.as_ref(), cert.der().as_ref());
        assert_eq!(Endpoint::of_node(&node(0, true)), None);
        assert_eq!(Endpoint::of_node(&node(10250, false)), None);
    }
}
