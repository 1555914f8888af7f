//! `GET|POST .../pods/{name}/exec`: `kubectl exec`, and the client libraries' `stream`.
//!
//! The container is chosen and checked as upstream's `ExecLocation` does (those refusals are
//! ordinary `Status` errors), the node's agent is asked to start the command (in this process,
//! or on another machine through its HTTPS endpoint, [`crate::logs::nodeproxy`]), and only then
//! is the connection upgraded to a WebSocket (the `channel.k8s.io` protocols of
//! [`runlet_stream`]). What the agent refuses (a container that does not run, a program that is
//! not there) is reported after the upgrade, on the error channel, as upstream's version 5
//! translator reports the kubelet's refusals. SPDY, which kubectl before 1.30 speaks, is not
//! served.

use super::{Query, Target, log};
use crate::error::{ApiError, ApiResult};
use crate::registry;
use crate::state::AppState;
use axum::http::HeaderMap;
use axum::response::Response;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use runlet_api::meta;
use runlet_api::status::Status;
use runlet_stream::{
    ExecRequest, ExecSession, ExecSource, ExecSourceError, Handshake, HandshakeError,
};
use std::sync::Arc;

/// Starts the command a client asks for and serves its streams on the upgraded connection.
pub async fn exec(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    upgrade: Option<OnUpgrade>,
) -> ApiResult<Response> {
    let name = target.name.as_deref().unwrap_or_default();
    let namespace = target.namespace.clone().unwrap_or_default();
    let pod = registry::get(state, target.info, Some(&namespace), name).await?;
    let spec = &pod["spec"];
    let container = log::choose_container(
        name,
        query.get("container"),
        &log::names(spec, "containers"),
        &log::names(spec, "initContainers"),
        &log::names(spec, "ephemeralContainers"),
        true,
    )?;
    let node = spec["nodeName"].as_str().unwrap_or_default();
    if node.is_empty() {
        return Err(bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    let req = ExecRequest {
        namespace,
        pod: name.to_string(),
        uid: meta::uid(&pod).unwrap_or_default().to_string(),
        container,
        command: query.all("command").to_vec(),
        stdin: query.flag("stdin"),
        stdout: query.flag("stdout"),
        stderr: query.flag("stderr"),
        tty: query.flag("tty"),
    };
    if !(req.stdin || req.stdout || req.stderr) {
        return Err(bad_request(
            "you must specify at least 1 of stdin, stdout, stderr".into(),
        ));
    }
    // The node's agent is found before the handshake is looked at, as upstream's
    // `ExecLocation` comes first: kubectl retries a refused WebSocket over SPDY, and the
    // second answer, which it shows, must say what is wrong with the node too.
    let source = node_source(state, node).await?;
    let handshake = Handshake::of(headers).map_err(|e| {
        ApiError::new(match e {
            HandshakeError::NotUpgrade => Status::bad_request(e.to_string()),
            HandshakeError::NoProtocol => Status::forbidden(target.info, name, &e.to_string()),
        })
    })?;
    let Some(upgrade) = upgrade else {
        return Err(ApiError::new(Status::internal(
            "the connection cannot be upgraded",
        )));
    };
    let command = req.command.clone();
    let session = match source.exec(req).await {
        Ok(session) => session,
        Err(ExecSourceError::BadRequest(m)) => return Err(bad_request(m)),
        // As the API server's version 5 translator reports what the kubelet refused: after the
        // upgrade, on the error channel (kubectl: `error: Internal error occurred: unable to
        // upgrade connection: container not found ("c")`).
        Err(ExecSourceError::NotFound(m) | ExecSourceError::Internal(m)) => {
            ExecSession::failed(format!("unable to upgrade connection: {m}"))
        }
    };
    let protocol = handshake.protocol;
    tokio::spawn(async move {
        // Dropping the session, should the upgrade fail, kills the command.
        let Ok(upgraded) = upgrade.await else { return };
        let ws = runlet_stream::server_socket(TokioIo::new(upgraded)).await;
        runlet_stream::serve(ws, protocol, session, &command).await;
    });
    Ok(handshake.response())
}

fn bad_request(message: String) -> ApiError {
    ApiError::new(Status::bad_request(message))
}

/// How to run commands on `node`: its agent in this process, else its agent's endpoint.
async fn node_source(state: &AppState, node: &str) -> ApiResult<Arc<dyn ExecSource>> {
    if let Some(agent) = state.local_agent(node) {
        return Ok(agent.exec);
    }
    Ok(log::remote_agent(state, node).await?)
}
