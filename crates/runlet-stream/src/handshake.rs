//! The server's half of the WebSocket handshake (RFC 6455), checked before the command is
//! started so that a request that cannot be upgraded starts nothing.

use crate::Protocol;
use http::{HeaderMap, HeaderValue, StatusCode, header};

/// Why a request cannot be upgraded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// Not a WebSocket upgrade (a plain request, or SPDY from kubectl before 1.30): upstream's
    /// 400.
    #[error(
        "Upgrade request required: runlet serves pods/exec over WebSocket ({}, {}), not SPDY",
        crate::V5,
        crate::V4
    )]
    NotUpgrade,
    /// None of the subprotocols offered is ours: upstream's 403.
    #[error(
        "unable to upgrade: none of the offered WebSocket subprotocols is served (runlet serves {} and {})",
        crate::V5,
        crate::V4
    )]
    NoProtocol,
}

/// An acceptable WebSocket upgrade request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    accept: String,
    pub protocol: Protocol,
}

impl Handshake {
    /// The handshake `headers` ask for, if it can be accepted.
    pub fn of(headers: &HeaderMap) -> Result<Handshake, HandshakeError> {
        let has = |name: header::HeaderName, token: &str| {
            headers.get_all(name).iter().any(|v| {
                v.to_str()
                    .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            })
        };
        let key = headers
            .get(header::SEC_WEBSOCKET_KEY)
            .filter(|_| has(header::UPGRADE, "websocket") && has(header::CONNECTION, "upgrade"))
            .ok_or(HandshakeError::NotUpgrade)?;
        let offered = headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok());
        let protocol = Protocol::choose(offered).ok_or(HandshakeError::NoProtocol)?;
        Ok(Handshake {
            accept: tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes()),
            protocol,
        })
    }

    /// The `101 Switching Protocols` that accepts it.
    pub fn response<B: Default>(&self) -> http::Response<B> {
        let mut response = http::Response::new(B::default());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let h = response.headers_mut();
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        if let Ok(accept) = HeaderValue::from_str(&self.accept) {
            h.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(self.protocol.name()),
        );
        response
    }
}

/// The serving end of an upgraded connection `io`.
pub async fn server_socket<S>(io: S) -> tokio_tungstenite::WebSocketStream<S>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    tokio_tungstenite::WebSocketStream::from_raw_socket(
        io,
        tokio_tungstenite::tungstenite::protocol::Role::Server,
        None,
    )
    .await
}
