//! Dev-only test support: the real API server in-process, on a temporary SQLite store and a
//! fake clock, with a `kube::Client` that calls its router directly (no sockets).
//!
//! Controller tests use this to run against the same validation, defaulting, resourceVersions
//! and watches as production, while moving time by hand.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use runlet_api::clock::FakeClock;
use runlet_apiserver::AppState;
use runlet_apiserver::auth::TokenFile;
use runlet_store::sqlite::SqliteStore;
use std::sync::Arc;

/// A fake clock's starting point: 2026-01-01T00:00:00Z.
pub const EPOCH: i64 = 1_767_225_600;

/// An in-process API server.
pub struct TestApi {
    pub state: AppState,
    pub client: kube::Client,
    pub clock: Arc<FakeClock>,
    /// The store under `state`, for [`SqliteStore::crash`].
    pub store: Arc<SqliteStore>,
    _dir: Option<tempfile::TempDir>,
}

impl TestApi {
    /// Starts a fresh server with the `default` and system namespaces.
    pub async fn start() -> TestApi {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Arc::new(FakeClock::at(EPOCH));
        let mut api = Self::start_in(dir.path(), clock).await;
        api._dir = Some(dir);
        api
    }

    /// Starts a server on the store in `dir` (created if new, reopened as a restarted server
    /// would otherwise) with `clock`. The caller keeps `dir`.
    pub async fn start_in(dir: &std::path::Path, clock: Arc<FakeClock>) -> TestApi {
        let store = Arc::new(SqliteStore::open(dir.join("state.db")).expect("open store"));
        let state = AppState::new(store.clone(), TokenFile::default(), clock.clone(), false);
        runlet_apiserver::bootstrap(&state)
            .await
            .expect("bootstrap");
        let client = kube::Client::new(runlet_apiserver::router(state.clone()), "default");
        TestApi {
            state,
            client,
            clock,
            store,
            _dir: None,
        }
    }
}

/// A pod whose only owner, a ConfigMap, never existed. The garbage collector deletes it once its
/// pod watch has brought it, so after every pod created before it: a test waits for this pod
/// to go to know that the collector has seen those (as upstream's `TestOrphaning` waits for
/// its graph to hold them).
pub fn pod_of_a_missing_owner(name: &str) -> k8s_openapi::api::core::v1::Pod {
    use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                name: "never-created".into(),
                uid: "00000000-0000-4000-8000-000000000000".into(),
                ..OwnerReference::default()
            }]),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            restart_policy: Some("Never".into()),
            containers: vec![Container {
                name: "main".into(),
                image: Some("busybox".into()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

/// Polls `f` every few milliseconds until it gives a value, for at most ten seconds (then the
/// test fails naming `what`).
pub async fn wait_for<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
    use kube::api::{Api, PostParams};

    #[tokio::test]
    async fn kube_client_talks_to_the_router_in_process() {
        let api = TestApi::start().await;
        let namespaces: Api<Namespace> = Api::all(api.client.clone());
        let names: Vec<String> = namespaces
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect();
        assert!(names.contains(&"default".to_string()));
        let cms: Api<ConfigMap> = Api::default_namespaced(api.client.clone());
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some("x".into());
        let created = cms.create(&PostParams::default(), &cm).await.unwrap();
        assert_eq!(
            created.metadata.creation_timestamp.unwrap().0.as_second(),
            EPOCH,
            "the fake clock stamps objects"
        );
    }
}
