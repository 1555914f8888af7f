//! Storage object in-use protection against the in-process API server (upstream's
//! `StorageObjectInUseProtection` admission with the `pvcprotection` and `pvprotection`
//! controllers).

use crate::harness::{WAIT, holds, until};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use runlet_controllers::podfeed::PodSource;
use runlet_controllers::volumeprotection::{self, PV_FINALIZER, PVC_FINALIZER};
use runlet_test::TestApi;
use serde_json::json;
use tokio_util::sync::CancellationToken;

async fn exists<K>(api: &Api<K>, name: &str) -> bool
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.get_opt(name).await.unwrap().is_some()
}

#[tokio::test]
async fn a_claim_in_use_and_a_bound_volume_stay_until_nothing_uses_them() {
    let api = TestApi::start().await;
    let cancel = CancellationToken::new();
    let task = tokio::spawn(volumeprotection::run(
        api.client.clone(),
        PodSource::Watch(api.client.clone()),
        cancel.clone(),
    ));
    let claims: Api<PersistentVolumeClaim> = Api::default_namespaced(api.client.clone());
    let volumes: Api<PersistentVolume> = Api::all(api.client.clone());
    let pods: Api<Pod> = Api::default_namespaced(api.client.clone());
    for name in ["data", "spare"] {
        let claim = serde_json::from_value(json!({"metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
        .unwrap();
        let claim = claims.create(&PostParams::default(), &claim).await.unwrap();
        assert_eq!(
            claim.metadata.finalizers,
            Some(vec![PVC_FINALIZER.to_string()])
        );
    }
    let pod = |name: &str, node: Option<&str>| {
        serde_json::from_value::<Pod>(json!({"metadata": {"name": name},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}],
                     "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]}}))
        .unwrap()
    };
    pods.create(&PostParams::default(), &pod("writer", Some("n1")))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &pod("unscheduled", None))
        .await
        .unwrap();

    // A claim no scheduled pod uses goes at once; one in use stays, being deleted.
    claims
        .delete("spare", &DeleteParams::default())
        .await
        .unwrap();
    claims
        .delete("data", &DeleteParams::default())
        .await
        .unwrap();
    until("the unused claim is gone", || async {
        !exists(&claims, "spare").await
    })
    .await;
    holds("the claim in use stays", || async {
        claims
            .get("data")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
    })
    .await;
    pods.delete("writer", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    until("the claim goes with its last scheduled pod", || async {
        !exists(&claims, "data").await
    })
    .await;

    let volume = serde_json::from_value(json!({"metadata": {"name": "pv1"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "hostPath": {"path": "/tmp/pv1"}}}))
    .unwrap();
    let volume = volumes
        .create(&PostParams::default(), &volume)
        .await
        .unwrap();
    assert_eq!(
        volume.metadata.finalizers,
        Some(vec![PV_FINALIZER.to_string()])
    );
    let bound = json!({"status": {"phase": "Bound"}});
    volumes
        .patch_status("pv1", &PatchParams::default(), &Patch::Merge(&bound))
        .await
        .unwrap();
    volumes
        .delete("pv1", &DeleteParams::default())
        .await
        .unwrap();
    holds("a bound volume stays", || async {
        exists(&volumes, "pv1").await
    })
    .await;
    let released = json!({"status": {"phase": "Released"}});
    volumes
        .patch_status("pv1", &PatchParams::default(), &Patch::Merge(&released))
        .await
        .unwrap();
    until("a released volume goes", || async {
        !exists(&volumes, "pv1").await
    })
    .await;

    cancel.cancel();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
}
