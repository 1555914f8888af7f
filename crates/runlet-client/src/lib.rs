//! Writes whose answer matters only for its metadata. `kube::Api` decodes every response
//! into the full typed object; for the hottest writes of the system (the Job controller
//! creating pods and removing their tracking finalizer, node agents writing pod status) that
//! decoding was a sizeable share of the CPU while the object was thrown away; the same goes for
//! the events and execution records written for every pod. These calls send
//! the same requests through the same client and decode only `metadata`, skipping the rest of
//! the body; errors are `kube::Error`s as with `kube::Api`.
//!
//! [`rate`] holds the client-side limits on event writing that upstream's components have.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams, PostParams};
use kube::core::Request;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

pub mod rate;

/// A response object of which only the metadata is decoded.
#[derive(Deserialize)]
struct MetadataOnly {
    #[serde(default)]
    metadata: ObjectMeta,
}

fn pods_path(namespace: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/pods")
}

/// Sends `req` (built by `kube::core::Request`) as the `verb` it is, and decodes the answer's
/// metadata only.
async fn send(
    client: &kube::Client,
    req: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
    verb: &'static str,
) -> Result<ObjectMeta, kube::Error> {
    let mut req = req.map_err(kube::Error::BuildRequest)?;
    req.extensions_mut().insert(verb);
    Ok(client.request::<MetadataOnly>(req).await?.metadata)
}

/// `POST` `object` to the collection at `collection_path` (such as
/// `/api/v1/namespaces/default/events`), serialized as it is; the created object's metadata.
pub async fn create<T: Serialize>(
    client: &kube::Client,
    collection_path: &str,
    object: &T,
) -> Result<ObjectMeta, kube::Error> {
    let body = serde_json::to_vec(object).map_err(kube::Error::SerdeError)?;
    let req = Request::new(collection_path).create(&PostParams::default(), body);
    send(client, req, "create").await
}

/// `POST` a core/v1 Event (typed, or as JSON); the created event's metadata.
pub async fn create_event<T: Serialize>(
    client: &kube::Client,
    namespace: &str,
    event: &T,
) -> Result<ObjectMeta, kube::Error> {
    create(
        client,
        &format!("/api/v1/namespaces/{namespace}/events"),
        event,
    )
    .await
}

/// `PATCH` a core/v1 Event (as the event recorder does to count a repeated event); the
/// patched event's metadata.
pub async fn patch_event<P: Serialize + Debug>(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    patch: &Patch<P>,
) -> Result<ObjectMeta, kube::Error> {
    let req = Request::new(format!("/api/v1/namespaces/{namespace}/events")).patch(
        name,
        &PatchParams::default(),
        patch,
    );
    send(client, req, "patch").await
}

/// `POST` a pod; the created pod's metadata (its generated name, its UID).
pub async fn create_pod(
    client: &kube::Client,
    namespace: &str,
    pod: &k8s_openapi::api::core::v1::Pod,
) -> Result<ObjectMeta, kube::Error> {
    create(client, &pods_path(namespace), pod).await
}

/// `PATCH` a pod; the patched pod's metadata.
pub async fn patch_pod<P: Serialize + Debug>(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    patch: &Patch<P>,
) -> Result<ObjectMeta, kube::Error> {
    let req = Request::new(pods_path(namespace)).patch(name, &PatchParams::default(), patch);
    send(client, req, "patch").await
}

/// `PATCH` a pod's `status` subresource; the patched pod's metadata.
pub async fn patch_pod_status<P: Serialize + Debug>(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    patch: &Patch<P>,
) -> Result<ObjectMeta, kube::Error> {
    let req = Request::new(pods_path(namespace)).patch_subresource(
        "status",
        name,
        &PatchParams::default(),
        patch,
    );
    send(client, req, "patch_status").await
}
