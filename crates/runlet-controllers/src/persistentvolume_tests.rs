//! The PersistentVolume controller against the in-process API server.
#![allow(clippy::unwrap_used)]

use super::*;
use k8s_openapi::api::core::v1::Event;
use kube::api::{DeleteParams, PostParams};
use runlet_test::{TestApi, wait_for};

async fn volume(api: &TestApi, name: &str, size: &str, policy: &str, labels: Value) {
    let pv: PersistentVolume = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                 "persistentVolumeReclaimPolicy": policy, "storageClassName": "",
                 "hostPath": {"path": format!("/tmp/{name}")}}}))
    .unwrap();
    Api::<PersistentVolume>::all(api.client.clone())
        .create(&PostParams::default(), &pv)
        .await
        .unwrap();
}

async fn claim(api: &TestApi, name: &str, size: &str, extra: Value) {
    let mut spec = json!({"accessModes": ["ReadWriteOnce"], "storageClassName": "",
        "resources": {"requests": {"storage": size}}});
    spec.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let c: PersistentVolumeClaim =
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap();
    Api::<PersistentVolumeClaim>::default_namespaced(api.client.clone())
        .create(&PostParams::default(), &c)
        .await
        .unwrap();
}

async fn volume_phase(api: &TestApi, name: &str) -> String {
    let pv = Api::<PersistentVolume>::all(api.client.clone())
        .get(name)
        .await
        .unwrap();
    phase(&pv).to_string()
}

async fn events(api: &TestApi, ns: &str, object: &str) -> Vec<(String, String)> {
    Api::<Event>::namespaced(api.client.clone(), ns)
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(object))
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn claims_bind_to_the_smallest_matching_volume_and_volumes_are_released() {
    let api = TestApi::start().await;
    volume(&api, "big", "10Gi", "Retain", json!({})).await;
    volume(&api, "small", "2Gi", "Retain", json!({})).await;
    volume(&api, "fast", "1Gi", "Delete", json!({"tier": "fast"})).await;
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run(api.client.clone(), api.clock.clone(), cancel.clone()));
    for name in ["big", "small", "fast"] {
        wait_for("the volume available", async || {
            (volume_phase(&api, name).await == "Available").then_some(())
        })
        .await;
    }
    // The selector picks the labelled volume; then, of the two left that 1Gi fits, the
    // smaller is taken.
    let claims: Api<PersistentVolumeClaim> = Api::default_namespaced(api.client.clone());
    for (name, pv) in [("tiered", "fast"), ("data", "small")] {
        let selector = match name {
            "tiered" => json!({"selector": {"matchLabels": {"tier": "fast"}}}),
            _ => json!({}),
        };
        claim(&api, name, "1Gi", selector).await;
        let bound = wait_for("the binding", async || {
            let c = claims.get(name).await.unwrap();
            (c.status.as_ref()?.phase.as_deref() == Some("Bound")).then_some(c)
        })
        .await;
        assert_eq!(bound.spec.unwrap().volume_name.as_deref(), Some(pv));
        let ann = bound.metadata.annotations.unwrap();
        assert_eq!(ann[BIND_COMPLETED], "yes");
        assert_eq!(ann[BOUND_BY_CONTROLLER], "yes");
        assert_eq!(
            bound.status.unwrap().capacity.unwrap()["storage"].0,
            if pv == "small" { "2Gi" } else { "1Gi" }
        );
        let volume = Api::<PersistentVolume>::all(api.client.clone())
            .get(pv)
            .await
            .unwrap();
        assert_eq!(phase(&volume), "Bound");
        assert_eq!(
            volume.spec.unwrap().claim_ref.unwrap().name.as_deref(),
            Some(name)
        );
    }
    assert_eq!(volume_phase(&api, "big").await, "Available");

    // Nothing fits: the claim says so, once.
    claim(&api, "huge", "100Gi", json!({})).await;
    let told = wait_for("the FailedBinding event", async || {
        let evs = events(&api, "default", "huge").await;
        (!evs.is_empty()).then_some(evs)
    })
    .await;
    assert_eq!(
        told,
        vec![(
            "FailedBinding".to_string(),
            "no persistent volumes available for this claim and no storage class is set"
                .to_string()
        )]
    );

    // The claims go: Retain keeps its volume Released; Delete has nothing to delete it.
    for name in ["data", "tiered"] {
        let patch = json!({"metadata": {"finalizers": null}});
        claims
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        claims.delete(name, &DeleteParams::default()).await.unwrap();
    }
    for (pv, want) in [("small", "Released"), ("fast", "Failed")] {
        wait_for("the volume's new phase", async || {
            (volume_phase(&api, pv).await == want).then_some(())
        })
        .await;
    }
    let failed = events(&api, "default", "fast").await;
    assert_eq!(failed[0].0, "VolumeFailedDelete", "{failed:?}");
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_waiting_claim_says_why_as_upstream() {
    let api = TestApi::start().await;
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run(api.client.clone(), api.clock.clone(), cancel.clone()));
    claim(
        &api,
        "gone-class",
        "1Gi",
        json!({"storageClassName": "nope"}),
    )
    .await;
    claim(
        &api,
        "local",
        "1Gi",
        json!({"storageClassName": "local-path"}),
    )
    .await;
    for (name, reason, message) in [
        (
            "gone-class",
            "ProvisioningFailed",
            "storageclass.storage.k8s.io \"nope\" not found",
        ),
        (
            "local",
            "WaitForFirstConsumer",
            "waiting for first consumer to be created before binding",
        ),
    ] {
        let evs = wait_for("the event", async || {
            let evs = events(&api, "default", name).await;
            (!evs.is_empty()).then_some(evs)
        })
        .await;
        assert_eq!(evs, vec![(reason.to_string(), message.to_string())]);
    }
    cancel.cancel();
    task.await.unwrap();
}
