//! `GET .../pods/{name}/log` and `GET .../podrecords/{name}/log`.
//!
//! Both pick the container as upstream's `LogLocation` does, validate the options as
//! `ValidatePodLogOptions` ([`LogOptions::from_query`]) and stream from the node that ran the
//! pod: through the [`LogSource`] registered for it in this process (the embedded agent), else
//! through [`crate::logs::nodeproxy`] to the agent's HTTPS endpoint published in its Node. A
//! record names its pod (name and UID), node and containers, so the logs of a Job's pods stay
//! readable after the pods are deleted, for as long as the record (and so the Job) exists.

use super::{Query, Target};
use crate::error::{ApiError, ApiResult};
use crate::logs::{LogOptions, LogOptionsError, LogRequest, LogSource, LogSourceError, nodeproxy};
use crate::registry;
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use runlet_api::meta;
use runlet_api::resources;
use runlet_api::status::Status;
use serde_json::Value;
use std::sync::Arc;

/// The container names of one kind in a pod spec (or a record) at `key`.
pub(super) fn names(obj: &Value, key: &str) -> Vec<String> {
    obj[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().or_else(|| c["name"].as_str()))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Upstream's choice of container: the one asked for (which must exist), else the only one.
/// `known` is false for a record too old to list its containers: any name asked for is tried.
pub(super) fn choose_container(
    pod: &str,
    asked: Option<&str>,
    containers: &[String],
    init: &[String],
    ephemeral: &[String],
    known: bool,
) -> ApiResult<String> {
    if let Some(c) = asked.filter(|c| !c.is_empty()) {
        if known
            && !containers
                .iter()
                .chain(init)
                .chain(ephemeral)
                .any(|n| n == c)
        {
            return Err(ApiError::new(Status::bad_request(format!(
                "container {c} is not valid for pod {pod}"
            ))));
        }
        return Ok(c.to_string());
    }
    match containers {
        [only] => Ok(only.clone()),
        [] => Err(ApiError::new(Status::bad_request(format!(
            "a container name must be specified for pod {pod}"
        )))),
        _ => {
            // Every container as `VisitContainers` lists them: init, regular, ephemeral.
            let all: Vec<&str> = init
                .iter()
                .chain(containers)
                .chain(ephemeral)
                .map(String::as_str)
                .collect();
            Err(ApiError::new(Status::bad_request(format!(
                "a container name must be specified for pod {pod}, choose one of: [{}]",
                all.join(" ")
            ))))
        }
    }
}

/// `GET .../log` of a pod or a pod record.
pub async fn log(state: &AppState, target: &Target, query: &Query) -> ApiResult<Response> {
    let name = target.name.as_deref().unwrap_or_default();
    let namespace = target.namespace.clone().unwrap_or_default();
    // Upstream validates the options before it looks at the pod.
    let options =
        LogOptions::from_query(|k| query.get(k).map(str::to_string)).map_err(|e| match e {
            LogOptionsError::Malformed(m) => ApiError::new(Status::bad_request(m)),
            LogOptionsError::Invalid(errors) => {
                ApiError::new(Status::invalid_kind("", "PodLogOptions", name, &errors))
            }
        })?;
    let obj = registry::get(state, target.info, target.namespace.as_deref(), name).await?;
    let record = target.info.kind != "Pod";
    let (pod, uid, node, spec) = if record {
        (
            obj["podName"].as_str().unwrap_or(name).to_string(),
            obj["podUID"].as_str().unwrap_or_default().to_string(),
            obj["nodeName"].as_str().unwrap_or_default().to_string(),
            &*obj,
        )
    } else {
        (
            name.to_string(),
            meta::uid(&obj).unwrap_or_default().to_string(),
            obj["spec"]["nodeName"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            &obj["spec"],
        )
    };
    let containers = names(spec, "containers");
    let container = choose_container(
        &pod,
        query.get("container"),
        &containers,
        &names(spec, "initContainers"),
        &names(spec, "ephemeralContainers"),
        !record || !containers.is_empty(),
    )?;
    if node.is_empty() {
        if record {
            return Err(ApiError::new(Status::bad_request(format!(
                "pod {pod:?} never ran on a node: it has no logs"
            ))));
        }
        // Upstream's `LogLocation` has no location for a pod not yet scheduled, and
        // `StreamObject` answers a missing stream with 204 No Content.
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let container_id = if record {
        None
    } else {
        container_to_read(&obj["status"], &pod, &container, options.previous)
            .map_err(|m| ApiError::new(Status::bad_request(m)))?
    };
    let source = node_source(state, &node).await?;
    let req = LogRequest {
        namespace,
        pod,
        uid,
        container,
        container_id,
        options,
    };
    let body = source.logs(req).await.map_err(|e| match e {
        LogSourceError::NotFound(m) => {
            let mut status = Status::not_found(target.info, name);
            status.message = m;
            ApiError::new(status)
        }
        LogSourceError::BadRequest(m) => ApiError::new(Status::bad_request(m)),
        LogSourceError::Internal(m) => ApiError::new(Status::internal(m)),
    })?;
    Ok(text_response(axum::body::Body::from_stream(body)))
}

fn text_response(body: axum::body::Body) -> Response {
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain"),
    );
    resp
}

/// The container (attempt) whose log to read, by the ID the pod's status gives it, as the
/// kubelet's `validateContainerLogStatus` chooses: with `previous` the `lastState`; else the
/// running or terminated one, or the `lastState` while it waits to restart. `Ok(None)`: the
/// status does not name the container yet, and the node reads its newest attempt; `Err`: why
/// there is no log to read, in the kubelet's words. A pod that ended without a status for the
/// container (refused at admission) has none: the kubelet does not know it.
fn container_to_read(
    status: &Value,
    pod: &str,
    container: &str,
    previous: bool,
) -> Result<Option<String>, String> {
    let Some(cs) = ["containerStatuses", "initContainerStatuses"]
        .iter()
        .filter_map(|k| status[*k].as_array())
        .flatten()
        .find(|c| c["name"] == container)
    else {
        return match status["phase"].as_str() {
            Some("Succeeded" | "Failed") => Err(format!(
                "container {container:?} in pod {pod:?} is not available"
            )),
            _ => Ok(None),
        };
    };
    let id = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let last = id(&cs["lastState"]["terminated"]["containerID"]);
    let terminated = || format!("container {container:?} in pod {pod:?} is terminated");
    let state = &cs["state"];
    if previous {
        return last.map(Some).ok_or_else(|| {
            format!("previous terminated container {container:?} in pod {pod:?} not found")
        });
    }
    if !state["running"].is_null() {
        return Ok(id(&cs["containerID"]));
    }
    if !state["terminated"].is_null() {
        return id(&state["terminated"]["containerID"])
            .or(last)
            .map(Some)
            .ok_or_else(terminated);
    }
    if !cs["lastState"]["terminated"].is_null() {
        return last.map(Some).ok_or_else(terminated);
    }
    match state["waiting"]["reason"].as_str() {
        Some(reason) => Err(format!(
            "container {container:?} in pod {pod:?} is waiting to start: {}",
            match reason {
                "ErrImagePull" => "image can't be pulled",
                "ImagePullBackOff" => "trying and failing to pull image",
                other => other,
            }
        )),
        None => Ok(None),
    }
}

/// How to reach `node`'s logs: the in-process source, else its agent's published endpoint.
async fn node_source(state: &AppState, node: &str) -> ApiResult<Arc<dyn LogSource>> {
    if let Some(agent) = state.local_agent(node) {
        return Ok(agent.logs);
    }
    Ok(remote_agent(state, node).await?)
}

/// The agent of `node` on another machine, through the endpoint its Node publishes.
pub(super) async fn remote_agent(
    state: &AppState,
    node: &str,
) -> ApiResult<Arc<nodeproxy::NodeAgent>> {
    let unserved = || {
        ApiError::new(Status::bad_request(format!(
            "no node agent serves node {node:?}"
        )))
    };
    let Some(identity) = state.node_client() else {
        return Err(unserved());
    };
    let Some(nodes) = resources::find("", "v1", "nodes") else {
        return Err(unserved());
    };
    // A node that is gone is a 404, as upstream's `GetConnectionInfo` finds no node.
    let node_obj = registry::get(state, nodes, None, node)
        .await
        .map_err(|e| if e.0.code == 404 { e } else { unserved() })?;
    let endpoint = nodeproxy::Endpoint::of_node(&node_obj).ok_or_else(unserved)?;
    Ok(Arc::new(nodeproxy::NodeAgent::new(identity, endpoint)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_status_chooses_the_attempt_as_the_kubelet_does() {
        let status = |state: Value, last: Value| {
            serde_json::json!({"containerStatuses": [{"name": "c", "containerID": "x://3",
                "state": state, "lastState": last}]})
        };
        let read = |st: &Value, previous| container_to_read(st, "p", "c", previous);
        let crashed = serde_json::json!({"terminated": {"containerID": "x://2"}});
        // Waiting to restart: both read the last crash.
        let waiting = status(
            serde_json::json!({"waiting": {"reason": "CrashLoopBackOff"}}),
            crashed.clone(),
        );
        assert_eq!(read(&waiting, false), Ok(Some("x://2".into())));
        assert_eq!(read(&waiting, true), Ok(Some("x://2".into())));
        // Running again: the current attempt, and the last crash with previous.
        let running = status(serde_json::json!({"running": {}}), crashed);
        assert_eq!(read(&running, false), Ok(Some("x://3".into())));
        assert_eq!(read(&running, true), Ok(Some("x://2".into())));
        let first = status(serde_json::json!({"running": {}}), serde_json::json!({}));
        assert_eq!(
            read(&first, true),
            Err("previous terminated container \"c\" in pod \"p\" not found".into())
        );
        let config = status(
            serde_json::json!({"waiting": {"reason": "CreateContainerConfigError"}}),
            serde_json::json!({}),
        );
        assert_eq!(
            read(&config, false),
            Err(
                "container \"c\" in pod \"p\" is waiting to start: CreateContainerConfigError"
                    .into()
            )
        );
        assert_eq!(
            read(&serde_json::json!({}), false),
            Ok(None),
            "no status yet"
        );
        assert_eq!(
            read(&serde_json::json!({"phase": "Failed"}), false),
            Err("container \"c\" in pod \"p\" is not available".into()),
            "refused at admission: no container status ever"
        );
    }

    #[test]
    fn the_only_container_is_the_default_and_several_need_a_name() {
        let one = s(&["c"]);
        assert_eq!(
            choose_container("p", None, &one, &[], &[], true).ok(),
            Some("c".into())
        );
        let two = s(&["a", "b"]);
        let err = choose_container("p", None, &two, &s(&["i"]), &[], true)
            .err()
            .map(|e| e.0.message);
        assert_eq!(
            err.as_deref(),
            Some("a container name must be specified for pod p, choose one of: [i a b]")
        );
        let bad = choose_container("p", Some("x"), &one, &[], &[], true)
            .err()
            .map(|e| e.0.message);
        assert_eq!(bad.as_deref(), Some("container x is not valid for pod p"));
        // A record that does not list its containers lets the caller name one.
        assert_eq!(
            choose_container("p", Some("x"), &[], &[], &[], false).ok(),
            Some("x".into())
        );
    }
}
