//! The resource REST tree: `/api/v1/...` and `/apis/{group}/{version}/...`.
//!
//! Paths are parsed here into a [`Target`] (resource, namespace, name, subresource) and the
//! HTTP method picks the verb; each verb lives in its own module. Request bodies are decoded
//! by [`decode_body`] (JSON, YAML or Kubernetes protobuf) with upstream's 3 MiB limit.

pub mod apply;
pub mod delete;
pub mod evict;
mod exec;
pub mod log;
mod negotiate;
mod options;
pub mod read;
pub mod watch;
pub mod write;

/// The kubelet's streaming subresources of a pod (`kubectl exec`, `attach`, `port-forward`),
/// which runlet does not serve: they answer with why, instead of a bare 404.
const STREAMING: &[&str] = &["attach", "portforward", "proxy"];

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use runlet_api::resources::{self, ResourceInfo};
use runlet_api::status::Status;
use serde_json::Value;
use std::collections::HashMap;

/// Upstream's limit on request bodies.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// What a resource path names.
#[derive(Debug, Clone)]
pub struct Target {
    pub info: &'static ResourceInfo,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Query parameters: every value of each, in order; [`Query::get`] reads the first, as Go's
/// `url.Values.Get` does.
#[derive(Debug, Clone, Default)]
pub struct Query(HashMap<String, Vec<String>>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        let mut query = Query::default();
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            query.insert(k.into_owned(), v.into_owned());
        }
        query
    }
    /// Adds a value of `key` after those it has.
    pub fn insert(&mut self, key: String, value: String) {
        self.0.entry(key).or_default().push(value);
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)?.first().map(String::as_str)
    }
    /// Every value of `key`, for the parameters that are lists (`dryRun`).
    pub fn all(&self, key: &str) -> &[String] {
        self.0.get(key).map_or(&[], Vec::as_slice)
    }
    /// A boolean parameter, as upstream reads one: false only when absent, `0` or `false`.
    pub fn flag(&self, key: &str) -> bool {
        runlet_api::query::flag(self.get(key))
    }
    /// Whether the write is a dry run; [`Query::check_write_options`] has refused any value
    /// but `All` before this is asked.
    pub fn dry_run(&self) -> bool {
        !self.all("dryRun").is_empty()
    }
    /// Refuses the options of a create, update or patch that upstream's
    /// `ValidateCreateOptions` (and its siblings) refuse: a `dryRun` other than `All`, a
    /// `fieldManager` too long or not printable, an unknown `fieldValidation`. `kind` names
    /// the options in the 422 (`CreateOptions`, `UpdateOptions`, `PatchOptions`); they are
    /// checked before the body is read, so nothing is written.
    pub fn check_write_options(&self, kind: &str) -> ApiResult<()> {
        self.check_options(kind, Vec::new())
    }

    /// [`Query::check_write_options`] for a patch (`apply`: a server-side apply).
    pub fn check_patch_options(&self, apply: bool) -> ApiResult<()> {
        self.check_options("PatchOptions", options::patch_errors(self, apply))
    }

    fn check_options(
        &self,
        kind: &str,
        mut errors: Vec<runlet_api::field::FieldError>,
    ) -> ApiResult<()> {
        if let Some(manager) = self.get("fieldManager") {
            errors.extend(options::field_manager_errors(manager));
        }
        errors.extend(options::dry_run_errors(self.all("dryRun")));
        if let Some(mode) = self.get("fieldValidation") {
            errors.extend(options::field_validation_errors(mode));
        }
        options::refuse(kind, &errors)
    }
    pub fn int(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::new(Status::bad_request(format!(
                    "invalid value for {key}: {v:?}"
                )))
            }),
        }
    }
}

/// The path a deprecated watch path (`/api/v1/watch/namespaces/ns/pods[/name]`, which
/// upstream still serves) stands for, without its `watch` segment; `None` for any other path.
fn legacy_watch_path(path: &str) -> Option<String> {
    if !path.contains("/watch/") {
        return None;
    }
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let at = match segs.as_slice() {
        ["api", _, "watch", _, ..] => 2,
        ["apis", _, _, "watch", _, ..] => 3,
        _ => return None,
    };
    let kept: Vec<&str> = segs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != at)
        .map(|(_, s)| *s)
        .collect();
    Some(format!("/{}", kept.join("/")))
}

/// Parses `/api/v1/...` or `/apis/g/v/...` into a target; `Ok(None)` for a group-version root.
pub fn parse_path(path: &str) -> ApiResult<Option<Target>> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(ApiError::new(Status::path_not_found())),
    };
    if rest.is_empty() {
        return Ok(None);
    }
    let find = |plural: &str| {
        resources::find(group, version, plural)
            .ok_or_else(|| ApiError::new(Status::path_not_found()))
    };
    let t = |info, namespace: Option<&str>, name: Option<&str>, sub: Option<&str>| Target {
        info,
        namespace: namespace.map(str::to_string),
        name: name.map(str::to_string),
        subresource: sub.map(str::to_string),
    };
    let target = match rest {
        ["namespaces", ns, plural, tail @ ..]
            if !(group.is_empty()
                && tail.is_empty()
                && matches!(*plural, "status" | "finalize")) =>
        {
            let info = find(plural)?;
            if !info.namespaced {
                return Err(ApiError::new(Status::path_not_found()));
            }
            match tail {
                [] => t(info, Some(ns), None, None),
                [name] => t(info, Some(ns), Some(name), None),
                [name, sub] if info.subresources.contains(sub) => {
                    t(info, Some(ns), Some(name), Some(sub))
                }
                [_, sub] if info.kind == "Pod" && STREAMING.contains(sub) => {
                    return Err(ApiError::new(Status::bad_request(format!(
                        "pods/{sub} is not supported by runlet: its node agent serves logs (pods/log) and commands run in containers (pods/exec), no other streams"
                    ))));
                }
                _ => return Err(ApiError::new(Status::path_not_found())),
            }
        }
        [plural] => t(find(plural)?, None, None, None),
        [plural, name] => t(find(plural)?, None, Some(name), None),
        [plural, name, sub] => {
            let info = find(plural)?;
            if !info.subresources.contains(sub) {
                return Err(ApiError::new(Status::path_not_found()));
            }
            t(info, None, Some(name), Some(sub))
        }
        _ => return Err(ApiError::new(Status::path_not_found())),
    };
    if target.name.is_some() && target.info.namespaced && target.namespace.is_none() {
        return Err(ApiError::new(Status::path_not_found()));
    }
    Ok(Some(target))
}

/// Entry point for every resource request.
pub async fn handle(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Upgrade(upgrade): Upgrade,
    body: Body,
) -> Response {
    let mut query = Query::parse(uri.query());
    let legacy_watch = (method == Method::GET)
        .then(|| legacy_watch_path(uri.path()))
        .flatten();
    if legacy_watch.is_some() {
        query.0.insert("watch".into(), vec!["true".into()]);
    }
    let path = legacy_watch.as_deref().unwrap_or(uri.path());
    let mut encoding = negotiate::Encoding::Json;
    let result = async {
        let Some(target) = parse_path(path)? else {
            return crate::discovery::resource_list(uri.path());
        };
        // A log is text, whatever the client accepts.
        if target.subresource.as_deref() != Some("log") {
            encoding = negotiate::encoding(&headers, query.flag("watch"))?;
        }
        if target.subresource.as_deref() == Some("exec") {
            if method != Method::GET && method != Method::POST {
                return Err(not_allowed(&method, &target));
            }
            return exec::exec(&state, &target, &query, &headers, upgrade).await;
        }
        dispatch(&state, &method, target, &query, &headers, body).await
    }
    .await;
    let response = result.unwrap_or_else(IntoResponse::into_response);
    match encoding {
        negotiate::Encoding::Yaml => negotiate::to_yaml(response).await,
        negotiate::Encoding::Json => response,
    }
}

async fn dispatch(
    state: &AppState,
    method: &Method,
    target: Target,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let sub = target.subresource.as_deref();
    let watching = query.flag("watch");
    if method == Method::GET
        && sub.is_none_or(|s| s == "status")
        && (watching || target.name.is_none())
    {
        options::refuse("ListOptions", &options::list_errors(query, watching))?;
    }
    match (method.as_str(), target.name.is_some(), sub) {
        ("GET", false, None) if query.flag("watch") => {
            watch::watch(state, &target, query, headers).await
        }
        ("GET", false, None) => read::list(state, &target, query, headers).await,
        ("GET", true, None | Some("status")) if query.flag("watch") => {
            watch::watch(state, &target, query, headers).await
        }
        ("GET", true, None | Some("status")) => read::get(state, &target, query, headers).await,
        ("GET", true, Some("log")) => log::log(state, &target, query).await,
        ("POST", false, None) => write::create(state, &target, query, headers, body).await,
        ("POST", true, Some("binding")) => write::bind(state, &target, query, headers, body).await,
        ("POST", true, Some("eviction")) => {
            evict::evict(state, &target, query, headers, body).await
        }
        ("POST", true, Some("token")) => {
            crate::serviceaccount::request::create(state, &target, headers, body).await
        }
        ("PUT", true, None | Some("status") | Some("finalize")) => {
            write::update(state, &target, query, headers, body).await
        }
        ("PATCH", true, None | Some("status")) => {
            write::patch(state, &target, query, headers, body).await
        }
        ("DELETE", true, None) => delete::delete(state, &target, query, headers, body).await,
        ("DELETE", false, None) if target.info.deletes_collections() => {
            delete::delete_collection(state, &target, query, headers, body).await
        }
        _ => Err(not_allowed(method, &target)),
    }
}

fn not_allowed(method: &Method, target: &Target) -> ApiError {
    ApiError::new(Status::method_not_allowed(format!(
        "the server does not allow this method on the requested resource ({method} {})",
        target.info.qualified_plural()
    )))
}

/// The connection's upgrade, when the request asks for one (`pods/exec`).
pub struct Upgrade(Option<hyper::upgrade::OnUpgrade>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Upgrade {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Upgrade(parts.extensions.remove()))
    }
}

/// A decoded request body.
pub struct Decoded {
    pub value: Value,
    /// Keys that appeared twice (JSON bodies), for `fieldValidation`.
    pub duplicates: Vec<String>,
    /// The JSON body it was read from, to find where a decoding error lies.
    pub json: Option<bytes::Bytes>,
}

/// Refuses a request body whose `kind` names another kind than `expected`, in upstream's words
/// (an absent or empty `kind` is taken as meant).
pub fn check_kind(body: &Value, expected: &str) -> ApiResult<()> {
    match body["kind"].as_str().filter(|k| !k.is_empty()) {
        Some(kind) if kind != expected => Err(ApiError::new(Status::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({expected})"
        )))),
        _ => Ok(()),
    }
}

/// Reads and decodes a request body as JSON, YAML or protobuf, by `Content-Type`.
pub async fn decode_body(headers: &HeaderMap, body: Body) -> ApiResult<Value> {
    Ok(decode_body_checked(headers, body).await?.value)
}

/// Like [`decode_body`], also reporting duplicate keys.
pub async fn decode_body_checked(headers: &HeaderMap, body: Body) -> ApiResult<Decoded> {
    let bytes = read_body(body).await?;
    let value = decode_bytes(headers, &bytes)?;
    let json_object = value.is_object() && bytes.first() == Some(&b'{');
    let duplicates = if json_object {
        runlet_api::codec::duplicate_fields(&bytes)
    } else {
        Vec::new()
    };
    Ok(Decoded {
        value,
        duplicates,
        json: json_object.then_some(bytes),
    })
}

fn decode_bytes(headers: &HeaderMap, bytes: &[u8]) -> ApiResult<Value> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let media = content_type.split(';').next().unwrap_or("").trim();
    match media {
        "application/json" | "" | "*/*" => serde_json::from_slice(bytes).map_err(|e| {
            ApiError::new(Status::bad_request(format!(
                "error decoding JSON body: {e}"
            )))
        }),
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            let text = std::str::from_utf8(bytes).map_err(|_| {
                ApiError::new(Status::bad_request("the YAML body is not valid UTF-8"))
            })?;
            serde_saphyr::from_str::<Value>(text).map_err(|e| {
                ApiError::new(Status::bad_request(format!(
                    "error decoding YAML body: {e}"
                )))
            })
        }
        "application/vnd.kubernetes.protobuf" => crate::protobuf::decode(bytes),
        other => Err(ApiError::new(Status::unsupported_media_type(other))),
    }
}

/// Reads a request body, refusing anything over [`MAX_BODY_BYTES`]. An oversized body is
/// still drained (up to [`DRAIN_LIMIT`]) so the client finishes sending and reads the 413.
pub async fn read_body(body: Body) -> ApiResult<bytes::Bytes> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut buf = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(Status::bad_request(format!(
                "reading the request body: {e}"
            )))
        })?;
        seen += chunk.len();
        if seen > DRAIN_LIMIT {
            break;
        }
        if seen <= MAX_BODY_BYTES {
            buf.extend_from_slice(&chunk);
        }
    }
    if seen > MAX_BODY_BYTES {
        return Err(ApiError::new(Status::too_large(MAX_BODY_BYTES)));
    }
    Ok(buf.freeze())
}

/// How much of an oversized body is read and discarded before answering 413.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// A JSON response.
pub fn json_response(code: StatusCode, body: &Value) -> Response {
    json_response_with(code, body, &[])
}

/// A JSON response with `Warning` headers.
pub fn json_response_with(code: StatusCode, body: &Value, warnings: &[String]) -> Response {
    json_bytes_response(code, bytes::Bytes::from(body.to_string()), warnings)
}

/// A response of JSON text that is already printed, with `Warning` headers.
pub fn json_bytes_response(code: StatusCode, body: bytes::Bytes, warnings: &[String]) -> Response {
    let mut resp = (code, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for w in warnings {
        let text = format!("299 - {}", serde_json::Value::String(w.clone()));
        if let Ok(v) = HeaderValue::from_str(&text) {
            h.append("Warning", v);
        }
    }
    resp
}

/// What a read answers with: the objects, a `meta.k8s.io/v1` Table, or only their metadata
/// (`PartialObjectMetadata`, what client-go's metadata informers ask for), by the `as=`
/// parameter of the client's first `Accept` type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rendering {
    Object,
    Table,
    /// `list`: `PartialObjectMetadataList` was asked for.
    Metadata {
        list: bool,
    },
}

impl Rendering {
    pub fn of(headers: &HeaderMap) -> Rendering {
        let first = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .and_then(|a| a.split(',').next())
            .unwrap_or_default();
        let wanted = first
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("as="))
            .next();
        match wanted {
            Some("Table") => Rendering::Table,
            Some("PartialObjectMetadata") => Rendering::Metadata { list: false },
            Some("PartialObjectMetadataList") => Rendering::Metadata { list: true },
            _ => Rendering::Object,
        }
    }
}

/// The 406 of a metadata-only read that asked for a list of one object, or the reverse, in
/// upstream's words (its `%T`, the internal Go type, such as `*core.ConfigMap`).
pub fn metadata_shape_mismatch(info: &runlet_api::resources::ResourceInfo, list: bool) -> ApiError {
    let package = match info.group {
        "" | "events.k8s.io" => "core",
        group => group.split('.').next().unwrap_or(group),
    };
    let message = if list {
        format!(
            "you requested PartialObjectMetadata, but the requested object is a list (*{package}.{}List)",
            info.kind
        )
    } else {
        format!(
            "you requested PartialObjectMetadataList, but the requested object is not a list (*{package}.{})",
            info.kind
        )
    };
    ApiError::new(Status::not_acceptable(message))
}

/// An object's `PartialObjectMetadata`.
pub fn partial_metadata(obj: &Value) -> Value {
    serde_json::json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| serde_json::json!({})),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str) -> Target {
        parse_path(path).expect("parses").expect("a target")
    }

    #[test]
    fn a_deprecated_watch_path_stands_for_its_resource_path() {
        assert_eq!(
            legacy_watch_path("/api/v1/watch/namespaces/default/pods/p").as_deref(),
            Some("/api/v1/namespaces/default/pods/p")
        );
        assert_eq!(
            legacy_watch_path("/apis/batch/v1/watch/jobs").as_deref(),
            Some("/apis/batch/v1/jobs")
        );
        assert_eq!(legacy_watch_path("/api/v1/watch"), None);
        assert_eq!(legacy_watch_path("/api/v1/namespaces/watch/pods"), None);
    }

    #[test]
    fn namespaced_paths_parse() {
        let t = target("/apis/batch/v1/namespaces/default/jobs/pi/status");
        assert_eq!(t.info.kind, "Job");
        assert_eq!(t.namespace.as_deref(), Some("default"));
        assert_eq!(t.name.as_deref(), Some("pi"));
        assert_eq!(t.subresource.as_deref(), Some("status"));
        let all = target("/api/v1/pods");
        assert_eq!(
            (all.info.kind, all.namespace, all.name),
            ("Pod", None, None)
        );
    }

    #[test]
    fn namespace_objects_are_not_namespaced_collections() {
        let t = target("/api/v1/namespaces/default");
        assert_eq!(
            (t.info.kind, t.name.as_deref()),
            ("Namespace", Some("default"))
        );
        let s = target("/api/v1/namespaces/default/status");
        assert_eq!(
            (s.info.kind, s.subresource.as_deref()),
            ("Namespace", Some("status"))
        );
        let pods = target("/api/v1/namespaces/default/pods");
        assert_eq!(pods.info.kind, "Pod");
    }

    #[test]
    fn unknown_paths_are_404() {
        assert!(parse_path("/apis/batch/v1/widgets").is_err());
        assert!(parse_path("/apis/batch/v1/namespaces/x/jobs/a/b/c").is_err());
        assert!(
            parse_path("/apis/batch/v1/jobs/a").is_err(),
            "a namespaced object needs its namespace"
        );
        assert!(parse_path("/apis/batch/v1").expect("root").is_none());
    }
}
