//! Discovery (`/api`, `/apis`, per group-version resource lists), `/version`, health and
//! OpenAPI endpoints.
//!
//! Discovery is served in the legacy form (`APIGroupList`/`APIResourceList`, content type
//! `application/json`); clients that ask for aggregated discovery first fall back to it, as
//! client-go does when the response is not an `APIGroupDiscoveryList`.

use crate::error::{ApiError, ApiResult};
use crate::handlers::json_response;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use runlet_api::resources::{self, RESOURCES, ResourceInfo};
use runlet_api::status::Status;
use serde_json::{Value, json};

/// The Kubernetes release whose API types runlet serves (k8s-openapi's `v1_33`).
pub const KUBERNETES_MINOR: &str = "33";

pub async fn version() -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "major": "1",
            "minor": KUBERNETES_MINOR,
            "gitVersion": format!("v1.{KUBERNETES_MINOR}.0+runlet-{}", env!("CARGO_PKG_VERSION")),
            "gitCommit": "",
            "gitTreeState": "clean",
            "buildDate": "1970-01-01T00:00:00Z",
            "goVersion": "go1.24.0",
            "compiler": "gc",
            "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
        }),
    )
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub async fn health() -> &'static str {
    "ok"
}

pub async fn api_versions() -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
        }),
    )
}

/// Every served group version: the resource table's and the reviews'.
fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut all = resources::group_versions();
    // Several reviews share a group version (`authorization.k8s.io/v1` serves two): once each.
    for (g, v, _, _) in crate::reviews::REVIEWS {
        if !all.contains(&(*g, *v)) {
            all.push((*g, *v));
        }
    }
    all
}

pub async fn api_groups() -> Response {
    let groups: Vec<Value> = group_versions()
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
    )
}

/// `GET /apis/{group}`.
pub async fn api_group(Path(group): Path<String>) -> Response {
    let versions: Vec<Value> = group_versions()
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(g, v)| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
        .collect();
    match versions.first() {
        None => ApiError::new(Status::path_not_found()).into_response(),
        Some(first) => json_response(
            StatusCode::OK,
            &json!({"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions, "preferredVersion": first}),
        ),
    }
}

fn resource_entry(r: &ResourceInfo) -> Value {
    let mut entry = json!({
        "name": r.plural,
        "singularName": r.singular,
        "namespaced": r.namespaced,
        "kind": r.kind,
        "verbs": r.verbs(),
    });
    if !r.short_names.is_empty() {
        entry["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        entry["categories"] = json!(r.categories);
    }
    entry
}

fn subresource_entry(r: &ResourceInfo, sub: &str) -> Value {
    let (kind, verbs): (&str, &[&str]) = match sub {
        "status" => (r.kind, &["get", "patch", "update"]),
        "log" => (r.kind, &["get"]),
        "exec" => ("PodExecOptions", &["create", "get"]),
        "binding" => ("Binding", &["create"]),
        "finalize" => (r.kind, &["update"]),
        // Of other groups: `kubectl drain` looks for exactly this entry (`CheckEvictionSupport`).
        "eviction" => return other_group(r, sub, "policy", "Eviction"),
        "token" => return other_group(r, sub, "authentication.k8s.io", "TokenRequest"),
        _ => (r.kind, &["get"]),
    };
    json!({"name": format!("{}/{sub}", r.plural), "singularName": "", "namespaced": r.namespaced, "kind": kind, "verbs": verbs})
}

/// A subresource whose kind is of another API group (`v1`), which only `create`s.
fn other_group(r: &ResourceInfo, sub: &str, group: &str, kind: &str) -> Value {
    json!({"name": format!("{}/{sub}", r.plural), "singularName": "",
        "namespaced": r.namespaced, "group": group, "version": "v1",
        "kind": kind, "verbs": ["create"]})
}

/// `GET /api/v1` or `/apis/{group}/{version}`.
pub fn resource_list(path: &str) -> ApiResult<Response> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version) = match segs.as_slice() {
        ["api", v] => ("", *v),
        ["apis", g, v] => (*g, *v),
        _ => return Err(ApiError::new(Status::path_not_found())),
    };
    let mut out = Vec::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        out.push(resource_entry(r));
        for sub in r.subresources {
            out.push(subresource_entry(r, sub));
        }
    }
    for (_, _, kind, plural) in crate::reviews::REVIEWS
        .iter()
        .filter(|(g, v, _, _)| *g == group && *v == version)
    {
        out.push(
            json!({"name": plural, "singularName": "", "namespaced": false,
            "kind": kind, "verbs": ["create"]}),
        );
    }
    if out.is_empty() {
        return Err(ApiError::new(Status::path_not_found()));
    }
    // In name order, as upstream's installer sorts its paths: `kubectl get all` lists the
    // kinds of its category in the order discovery gives them.
    out.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}),
    ))
}

pub async fn openapi_v3_index() -> Response {
    json_response(StatusCode::OK, &runlet_api::openapi::v3_index())
}

/// `GET /openapi/v3/{api/v1 | apis/g/v}`.
pub async fn openapi_v3_document(Path(path): Path<String>) -> Response {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let doc = match segs.as_slice() {
        ["api", v] => runlet_api::openapi::v3_document("", v),
        ["apis", g, v] => runlet_api::openapi::v3_document(g, v),
        _ => None,
    };
    match doc {
        Some(d) => json_response(StatusCode::OK, &d),
        None => ApiError::new(Status::path_not_found()).into_response(),
    }
}

/// `GET /openapi/v2`: gnostic's protobuf when asked for it (client-go, kubectl), else JSON.
pub async fn openapi_v2(headers: HeaderMap) -> Response {
    let wants_protobuf = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            runlet_api::openapi::V2_PROTOBUF_ACCEPT
                .iter()
                .any(|t| accept.contains(t))
        });
    if wants_protobuf {
        return (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                runlet_api::openapi::V2_PROTOBUF_CONTENT_TYPE,
            )],
            runlet_api::openapi::v2_document_protobuf(),
        )
            .into_response();
    }
    json_response(StatusCode::OK, runlet_api::openapi::v2_document())
}

pub async fn not_found() -> Response {
    ApiError::new(Status::path_not_found()).into_response()
}
