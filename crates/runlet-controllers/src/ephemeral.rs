//! The ephemeral volume controller, as upstream's `pkg/controller/volume/ephemeral`: for each
//! generic ephemeral volume of a pod, a PersistentVolumeClaim `<pod>-<volume>` made from the
//! volume's `volumeClaimTemplate` and owned by the pod (so the garbage collector deletes it with
//! the pod). The scheduler and the node agent then use it as any claim, once they have checked
//! that it was made for that pod (a claim of the same name made by someone else is refused).

use crate::podfeed::{PodEvent, PodSource};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, PostParams};
use kube::runtime::watcher::Event;
use serde_json::json;
use std::collections::HashSet;
use tokio_util::sync::CancellationToken;

/// Runs until `shutdown`.
pub async fn run(client: kube::Client, pods: PodSource, shutdown: CancellationToken) {
    let mut events = pods.into_stream();
    // Pods whose claims are all made, by uid.
    let mut done: HashSet<String> = HashSet::new();
    loop {
        let event: PodEvent = tokio::select! {
            _ = shutdown.cancelled() => return,
            ev = events.next() => match ev {
                Some(Ok(ev)) => ev,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "ephemeral volume controller: watching pods");
                    continue;
                }
                None => return,
            },
        };
        match event {
            Event::Apply(pod) | Event::InitApply(pod) => {
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                if done.contains(&uid) || pod.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                if make_claims(&client, &pod).await {
                    done.insert(uid);
                }
            }
            Event::Delete(pod) => {
                if let Some(uid) = &pod.metadata.uid {
                    done.remove(uid);
                }
            }
            Event::Init | Event::InitDone => {}
        }
    }
}

/// Makes the claims of `pod`'s ephemeral volumes that do not exist yet; whether none is left
/// to make (a failure is tried again at the pod's next event).
async fn make_claims(client: &kube::Client, pod: &Pod) -> bool {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    let mut all_made = true;
    for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let Some(template) = v
            .ephemeral
            .as_ref()
            .and_then(|e| e.volume_claim_template.as_ref())
        else {
            continue;
        };
        let name = runlet_api::podclaims::ephemeral_claim_name(&pod_name, &v.name);
        let meta = template.metadata.clone().unwrap_or_default();
        let claim = json!({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": meta.labels,
                "annotations": meta.annotations,
                "ownerReferences": [{
                    "apiVersion": "v1", "kind": "Pod", "name": pod_name,
                    "uid": pod.metadata.uid, "controller": true, "blockOwnerDeletion": true,
                }],
            },
            "spec": template.spec,
        });
        let claim: PersistentVolumeClaim = match serde_json::from_value(claim) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(pod = %pod_name, volume = %v.name, error = %e, "an ephemeral volume's claim");
                continue;
            }
        };
        match claims.create(&PostParams::default(), &claim).await {
            Ok(_) => {
                tracing::info!(pod = %pod_name, claim = %name, "made an ephemeral volume's claim")
            }
            // Made before, by this controller or by someone else: the users of the claim check
            // that it is the pod's.
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => {
                tracing::info!(pod = %pod_name, claim = %name, error = %e, "making an ephemeral volume's claim");
                all_made = false;
            }
        }
    }
    all_made
}
