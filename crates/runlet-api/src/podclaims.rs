//! The PersistentVolumeClaims a pod's volumes use: those they name, and the ones made for its
//! generic ephemeral volumes, named `<pod>-<volume>` as upstream's `ephemeral.VolumeClaimName`.
//! The scheduler, the storage protection and the node agent must all see the same claims.

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};

/// One volume of a pod backed by a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodClaim {
    pub volume: String,
    pub claim: String,
    pub read_only: bool,
    /// Made for the pod from its volume's `volumeClaimTemplate`.
    pub ephemeral: bool,
}

/// The claim made for the generic ephemeral volume `volume` of pod `pod`.
pub fn ephemeral_claim_name(pod: &str, volume: &str) -> String {
    format!("{pod}-{volume}")
}

/// The claims of `pod`'s volumes, in the order of its volumes.
pub fn of_pod(pod: &Pod) -> Vec<PodClaim> {
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| {
            if let Some(c) = &v.persistent_volume_claim {
                Some(PodClaim {
                    volume: v.name.clone(),
                    claim: c.claim_name.clone(),
                    read_only: c.read_only == Some(true),
                    ephemeral: false,
                })
            } else {
                v.ephemeral.as_ref().map(|_| PodClaim {
                    volume: v.name.clone(),
                    claim: ephemeral_claim_name(pod_name, &v.name),
                    read_only: false,
                    ephemeral: true,
                })
            }
        })
        .collect()
}

/// Whether `claim` was made for `pod` (its controlling owner), as upstream's
/// `ephemeral.VolumeIsForPod` requires of an ephemeral volume's claim; the error in its words.
pub fn is_for_pod(pod: &Pod, claim: &PersistentVolumeClaim) -> Result<(), String> {
    let owned = claim
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && Some(&o.uid) == pod.metadata.uid.as_ref());
    if owned {
        Ok(())
    } else {
        Err(not_for_pod(
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            claim.metadata.name.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default(),
        ))
    }
}

/// Upstream's words for claim `claim` of namespace `namespace` that was not made for the pod
/// `pod` there.
pub fn not_for_pod(namespace: &str, claim: &str, pod: &str) -> String {
    format!("PVC {namespace}/{claim} was not created for pod {namespace}/{pod} (pod is not owner)")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn named_and_ephemeral_claims_are_found() {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {
        "containers": [],
        "volumes": [
            {"name": "data", "persistentVolumeClaim": {"claimName": "shared", "readOnly": true}},
            {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
            {"name": "tmp", "emptyDir": {}}
        ]}}))
        .unwrap();
        let claims = of_pod(&pod);
        assert_eq!(
            claims,
            vec![
                PodClaim {
                    volume: "data".into(),
                    claim: "shared".into(),
                    read_only: true,
                    ephemeral: false
                },
                PodClaim {
                    volume: "scratch".into(),
                    claim: "p-scratch".into(),
                    read_only: false,
                    ephemeral: true
                },
            ]
        );
    }
}
