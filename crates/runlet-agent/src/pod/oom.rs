//! Each container's `oom_score_adj`, as the kubelet asks the runtime to set it
//! (`GetContainerOOMScoreAdjust`, `pkg/kubelet/qos/policy.go`): when the machine runs out of
//! memory, the kernel kills BestEffort containers first, Burstable ones by how little of the
//! machine they asked for, Guaranteed ones last, and the agent (which the API server shares a
//! process with in `runlet server`) after all of them, as the kubelet's own `-999`.

use super::quantity;
use k8s_openapi::api::core::v1::{Container, Pod};

/// The kubelet's own score (`KubeletOOMScoreAdj`), which the agent gives its process.
pub const AGENT: i32 = -999;
const GUARANTEED: i32 = -997;
const BEST_EFFORT: i32 = 1000;

/// The score of `container` of `pod` on a machine of `memory_capacity` bytes; `sidecar` for a
/// restartable init container.
pub fn score_adj(pod: &Pod, container: &Container, sidecar: bool, memory_capacity: i64) -> i32 {
    let spec = pod.spec.as_ref();
    // `IsNodeCriticalPod`.
    if spec.and_then(|s| s.priority_class_name.as_deref()) == Some("system-node-critical") {
        return GUARANTEED;
    }
    let qos = pod
        .status
        .as_ref()
        .and_then(|s| s.qos_class.clone())
        .unwrap_or_else(|| {
            let spec = serde_json::to_value(spec).unwrap_or_default();
            runlet_api::defaulting::qos::pod_qos_class(&spec).to_string()
        });
    match qos.as_str() {
        "Guaranteed" => return GUARANTEED,
        "BestEffort" => return BEST_EFFORT,
        _ => {}
    }
    let capacity = i128::from(memory_capacity.max(1));
    let adjust = |request: i128| 1000 - (1000 * request) / capacity;
    let mut score = adjust(memory_request(container));
    if sidecar {
        // No more than the regular container that asked for least, so a sidecar is not killed
        // before the containers it serves.
        let least = spec
            .into_iter()
            .flat_map(|s| &s.containers)
            .map(memory_request)
            .min()
            .unwrap_or(0);
        score = score.min(adjust(least));
    }
    let score = i32::try_from(score).unwrap_or(BEST_EFFORT);
    // Above every Guaranteed container, below every BestEffort one.
    if score < 1000 + GUARANTEED {
        1000 + GUARANTEED
    } else if score == BEST_EFFORT {
        BEST_EFFORT - 1
    } else {
        score
    }
}

/// The container's memory request in bytes (`Quantity::Value`, rounded up).
fn memory_request(c: &Container) -> i128 {
    c.resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("memory"))
        .and_then(|q| quantity::nanos(&q.0))
        .map_or(0, |n| (n + 999_999_999) / 1_000_000_000)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(qos: &str, spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"spec": spec, "status": {"qosClass": qos}})).unwrap()
    }

    #[test]
    fn scores_follow_the_qos_class_and_memory_requests_as_the_kubelet_s() {
        const GI: i64 = 1 << 30;
        let c = |mem: &str| -> Container {
            serde_json::from_value(json!({"name": "c", "resources": {"requests": {"memory": mem}}}))
                .unwrap()
        };
        let none: Container = serde_json::from_value(json!({"name": "c"})).unwrap();
        let p = pod("Guaranteed", json!({"containers": []}));
        assert_eq!(score_adj(&p, &none, false, 4 * GI), -997);
        let p = pod("BestEffort", json!({"containers": []}));
        assert_eq!(score_adj(&p, &none, false, 4 * GI), 1000);
        let burstable = pod(
            "Burstable",
            json!({"containers": [{"name": "a", "resources": {"requests": {"memory": "1Gi"}}},
                {"name": "b", "resources": {"requests": {"memory": "2Gi"}}}]}),
        );
        assert_eq!(score_adj(&burstable, &c("1Gi"), false, 4 * GI), 750);
        assert_eq!(score_adj(&burstable, &none, false, 4 * GI), 999);
        assert_eq!(score_adj(&burstable, &c("4Gi"), false, 4 * GI), 3);
        // A sidecar asking for little scores as the least-asking regular container.
        assert_eq!(score_adj(&burstable, &none, true, 4 * GI), 750);
        let critical = pod(
            "BestEffort",
            json!({"priorityClassName": "system-node-critical", "containers": []}),
        );
        assert_eq!(score_adj(&critical, &none, false, 4 * GI), -997);
    }
}
