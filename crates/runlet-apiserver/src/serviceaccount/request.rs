//! `POST serviceaccounts/{name}/token`: the `authentication.k8s.io/v1` TokenRequest, as
//! upstream's `pkg/registry/core/serviceaccount/storage/token.go`: the account must exist,
//! the requested lifetime is checked (ten minutes to 2^32 seconds, an hour when unset), the
//! audiences default to the API server's, and a token bound to an object (a pod, a secret or
//! a node) names it by UID, so that it stops working when that object goes.

use super::token::{Claims, KubernetesClaims, ObjectRef};
use super::{ISSUER, user_name};
use crate::error::{ApiError, ApiResult};
use crate::handlers::{Target, check_kind, decode_body, json_response};
use crate::registry;
use crate::state::AppState;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use runlet_api::field::{FieldError, Path};
use runlet_api::resources;
use runlet_api::status::Status;
use serde_json::{Value, json};

/// A token's lifetime when the request names none (the API's default).
const DEFAULT_EXPIRATION_SECS: i64 = 3600;
/// The shortest lifetime a request may ask for.
const MIN_EXPIRATION_SECS: i64 = 600;
/// The longest.
const MAX_EXPIRATION_SECS: i64 = 1 << 32;
/// The lifetime the kubelet asks for its pods' tokens (an hour and seven seconds): upstream's
/// `WarnOnlyBoundTokenExpirationSeconds`. Such a token bound to a pod, for the API server's
/// own audience, is made good for [`EXTENDED_EXPIRATION_SECS`] instead and says when it
/// should have been replaced (`warnafter`), as kube-apiserver does by default
/// (`--service-account-extend-token-expiration`): a client that reads its token once, as older
/// client libraries do, keeps working in a Job that runs for hours.
const KUBELET_EXPIRATION_SECS: i64 = 3607;
/// A year: upstream's `ExpirationExtensionSeconds`.
const EXTENDED_EXPIRATION_SECS: i64 = 365 * 24 * 60 * 60;

const GROUP: &str = "authentication.k8s.io";
const KIND: &str = "TokenRequest";

/// Issues a token for the service account `target` names.
pub async fn create(
    state: &AppState,
    target: &Target,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let Some(signer) = state.token_signer() else {
        return Err(ApiError::new(Status::path_not_found()));
    };
    let name = target.name.as_deref().unwrap_or_default();
    let ns = target.namespace.as_deref().unwrap_or_default();
    let mut request = decode_body(headers, body).await?;
    check_kind(&request, KIND)?;
    if !request.is_object() || !(request["spec"].is_object() || request["spec"].is_null()) {
        return Err(ApiError::new(Status::bad_request(
            "the body is not a TokenRequest object",
        )));
    }
    check_names(&request, name, ns)?;
    let accounts = resource("serviceaccounts")?;
    let account = registry::get(state, accounts, Some(ns), name).await?;
    let account_uid = account["metadata"]["uid"].as_str().unwrap_or_default();
    let spec = &mut request["spec"];
    let (audiences, expiration) = audiences_and_expiration(spec)?;

    let mut private = KubernetesClaims {
        namespace: ns.to_string(),
        serviceaccount: ObjectRef {
            name: name.to_string(),
            uid: account_uid.to_string(),
        },
        pod: None,
        secret: None,
        node: None,
        warnafter: None,
    };
    if let Some(bound) = spec["boundObjectRef"].as_object() {
        bind(state, ns, name, bound, &mut private).await?;
    }

    let now = state.now_unix();
    let mut lifetime = expiration;
    if private.pod.is_some()
        && expiration == KUBELET_EXPIRATION_SECS
        && audiences.iter().all(|a| a == ISSUER)
    {
        private.warnafter = Some(now + expiration);
        lifetime = EXTENDED_EXPIRATION_SECS;
    }
    let claims = Claims {
        iss: ISSUER.to_string(),
        sub: user_name(ns, name),
        aud: audiences.clone(),
        exp: now + lifetime,
        iat: now,
        nbf: now,
        jti: registry::new_uid(),
        kubernetes: private,
    };
    let token = signer
        .sign(&claims)
        .map_err(|e| ApiError::new(Status::internal(e.to_string())))?;
    spec["audiences"] = json!(audiences);
    spec["expirationSeconds"] = json!(expiration);
    let spec = spec.take();
    let out = json!({
        "kind": KIND,
        "apiVersion": format!("{GROUP}/v1"),
        "metadata": {"name": name, "namespace": ns,
            "creationTimestamp": runlet_api::clock::rfc3339(now)},
        "spec": spec,
        "status": {"token": token,
            "expirationTimestamp": runlet_api::clock::rfc3339(now + expiration)},
    });
    Ok(json_response(StatusCode::CREATED, &out))
}

/// A name or namespace in the request's metadata must be the account's.
fn check_names(request: &Value, name: &str, ns: &str) -> ApiResult<()> {
    for (field, want) in [("name", name), ("namespace", ns)] {
        if let Some(given) = request["metadata"][field]
            .as_str()
            .filter(|s| !s.is_empty())
            && given != want
        {
            let detail = format!("must match the service account {field} if specified");
            let e = FieldError::invalid(&Path::new("metadata").child(field), given, detail);
            return Err(ApiError::new(Status::invalid_kind(GROUP, KIND, name, &[e])));
        }
    }
    Ok(())
}

/// The audiences the token is for (the API server's when none are named) and its lifetime,
/// checked as upstream's `ValidateTokenRequest`.
fn audiences_and_expiration(spec: &Value) -> ApiResult<(Vec<String>, i64)> {
    let audiences: Vec<String> = match spec["audiences"].as_array() {
        Some(list) if !list.is_empty() => list
            .iter()
            .map(|a| a.as_str().unwrap_or_default().to_string())
            .collect(),
        _ => vec![ISSUER.to_string()],
    };
    let expiration = match &spec["expirationSeconds"] {
        Value::Null => DEFAULT_EXPIRATION_SECS,
        v => v.as_i64().ok_or_else(|| {
            ApiError::new(Status::bad_request(format!(
                "spec.expirationSeconds: expected an integer, got {v}"
            )))
        })?,
    };
    let path = Path::new("spec").child("expirationSeconds");
    let too = |detail: &str| {
        let e = FieldError::invalid(&path, expiration, detail);
        ApiError::new(Status::invalid_kind(GROUP, KIND, "", &[e]))
    };
    if expiration < MIN_EXPIRATION_SECS {
        return Err(too("may not specify a duration less than 10 minutes"));
    }
    if expiration > MAX_EXPIRATION_SECS {
        return Err(too("may not specify a duration larger than 2^32 seconds"));
    }
    Ok((audiences, expiration))
}

/// Records in `private` the object the token is to be bound to, which must exist (with the
/// UID the request names, if it names one); a pod must run as the account. A pod's token also
/// names the node the pod is bound to, if that node is found (upstream's
/// `ServiceAccountTokenPodNodeInfo`).
async fn bind(
    state: &AppState,
    ns: &str,
    account: &str,
    bound: &serde_json::Map<String, Value>,
    private: &mut KubernetesClaims,
) -> ApiResult<()> {
    let text = |field: &str| bound.get(field).and_then(Value::as_str).unwrap_or_default();
    let (api_version, kind, name) = (text("apiVersion"), text("kind"), text("name"));
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let (plural, namespaced) = match (group, kind) {
        ("", "Pod") => ("pods", true),
        ("", "Secret") => ("secrets", true),
        ("", "Node") => ("nodes", false),
        _ => {
            let version = api_version.rsplit('/').next().unwrap_or_default();
            return Err(ApiError::new(Status::bad_request(format!(
                "cannot bind token to object of type {}, Kind={kind}",
                if group.is_empty() {
                    version.to_string()
                } else {
                    format!("{group}/{version}")
                }
            ))));
        }
    };
    let info = resource(plural)?;
    let object = registry::get(state, info, namespaced.then_some(ns), name).await?;
    if kind == "Pod" && object["spec"]["serviceAccountName"].as_str() != Some(account) {
        return Err(ApiError::new(Status::bad_request(format!(
            "cannot bind token for serviceaccount {account:?} to pod running with different serviceaccount name."
        ))));
    }
    let uid = object["metadata"]["uid"].as_str().unwrap_or_default();
    let wanted = text("uid");
    if !wanted.is_empty() && wanted != uid {
        return Err(ApiError::new(Status::conflict(
            info,
            name,
            &format!(
                "the UID in the bound object reference ({wanted}) does not match the UID in record. The object might have been deleted and then recreated"
            ),
        )));
    }
    let reference = ObjectRef {
        name: name.to_string(),
        uid: uid.to_string(),
    };
    if kind == "Pod"
        && let Some(node_name) = object["spec"]["nodeName"]
            .as_str()
            .filter(|n| !n.is_empty())
        && let Ok(node) = registry::get(state, resource("nodes")?, None, node_name).await
    {
        private.node = Some(ObjectRef {
            name: node_name.to_string(),
            uid: node["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        });
    }
    match kind {
        "Pod" => private.pod = Some(reference),
        "Secret" => private.secret = Some(reference),
        _ => private.node = Some(reference),
    }
    Ok(())
}

fn resource(plural: &str) -> ApiResult<&'static resources::ResourceInfo> {
    resources::find("", "v1", plural)
        .ok_or_else(|| ApiError::new(Status::internal(format!("no {plural}"))))
}
