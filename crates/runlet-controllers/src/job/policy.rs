//! `podFailurePolicy` and `successPolicy` matching, as upstream `pod_failure_policy.go` and
//! `success_policy.go`. Pure functions over the API types so they are tested without a server.

use super::indexed::Intervals;
use k8s_openapi::api::batch::v1::{
    PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement, SuccessPolicy,
};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodStatus};

/// The action of the rule a failed pod matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureAction {
    FailJob,
    FailIndex,
    Ignore,
    Count,
}

/// What a failed pod means under a pod failure policy (upstream `matchPodFailurePolicy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyMatch {
    /// The job failure message when a `FailJob` rule matched.
    pub fail_job_message: Option<String>,
    /// Whether the failure counts towards backoffLimit / backoffLimitPerIndex.
    pub count_failed: bool,
    /// The matched rule's action, if any rule matched.
    pub action: Option<FailureAction>,
}

impl PolicyMatch {
    fn none() -> PolicyMatch {
        PolicyMatch {
            fail_job_message: None,
            count_failed: true,
            action: None,
        }
    }
}

/// Matches a failed pod against the rules, first match wins.
pub fn match_pod_failure_policy(policy: Option<&PodFailurePolicy>, pod: &Pod) -> PolicyMatch {
    let Some(policy) = policy else {
        return PolicyMatch::none();
    };
    let empty = PodStatus::default();
    let status = pod.status.as_ref().unwrap_or(&empty);
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    for (index, rule) in policy.rules.iter().enumerate() {
        let (matched, fail_msg) = if let Some(req) = &rule.on_exit_codes {
            match match_on_exit_codes(status, req) {
                Some(cs) => {
                    let code = cs
                        .state
                        .as_ref()
                        .and_then(|s| s.terminated.as_ref())
                        .map_or(0, |t| t.exit_code);
                    (
                        true,
                        format!(
                            "Container {} for pod {ns}/{name} failed with exit code {code} matching {} rule at index {index}",
                            cs.name, rule.action
                        ),
                    )
                }
                None => (false, String::new()),
            }
        } else if let Some(patterns) = &rule.on_pod_conditions {
            let cond = status.conditions.iter().flatten().find(|c| {
                patterns.iter().any(|p| {
                    p.type_ == c.type_
                        && (if p.status.is_empty() {
                            "True"
                        } else {
                            p.status.as_str()
                        }) == c.status
                })
            });
            match cond {
                Some(c) => (
                    true,
                    format!(
                        "Pod {ns}/{name} has condition {} matching {} rule at index {index}",
                        c.type_, rule.action
                    ),
                ),
                None => (false, String::new()),
            }
        } else {
            (false, String::new())
        };
        if !matched {
            continue;
        }
        match rule.action.as_str() {
            "Ignore" => {
                return PolicyMatch {
                    fail_job_message: None,
                    count_failed: false,
                    action: Some(FailureAction::Ignore),
                };
            }
            "FailIndex" => {
                return PolicyMatch {
                    fail_job_message: None,
                    count_failed: true,
                    action: Some(FailureAction::FailIndex),
                };
            }
            "Count" => {
                return PolicyMatch {
                    fail_job_message: None,
                    count_failed: true,
                    action: Some(FailureAction::Count),
                };
            }
            "FailJob" => {
                return PolicyMatch {
                    fail_job_message: Some(fail_msg),
                    count_failed: true,
                    action: Some(FailureAction::FailJob),
                };
            }
            // An unknown action falls through to the next rule, as upstream's switch does.
            _ => {}
        }
    }
    PolicyMatch::none()
}

fn match_on_exit_codes<'a>(
    status: &'a PodStatus,
    req: &PodFailurePolicyOnExitCodesRequirement,
) -> Option<&'a ContainerStatus> {
    matching_container(status.container_statuses.iter().flatten(), req)
        .or_else(|| matching_container(status.init_container_statuses.iter().flatten(), req))
}

fn matching_container<'a>(
    statuses: impl Iterator<Item = &'a ContainerStatus>,
    req: &PodFailurePolicyOnExitCodesRequirement,
) -> Option<&'a ContainerStatus> {
    for cs in statuses {
        let Some(term) = cs.state.as_ref().and_then(|s| s.terminated.as_ref()) else {
            continue;
        };
        if req.container_name.as_ref().is_some_and(|n| *n != cs.name) || term.exit_code == 0 {
            continue;
        }
        let listed = req.values.contains(&term.exit_code);
        let ok = match req.operator.as_str() {
            "In" => listed,
            "NotIn" => !listed,
            _ => false,
        };
        if ok {
            return Some(cs);
        }
    }
    None
}

/// Whether the succeeded indexes satisfy a success policy rule; the message names the rule
/// (upstream `matchSuccessPolicy`: "Matched rules at index N").
pub fn match_success_policy(
    policy: Option<&SuccessPolicy>,
    completions: i64,
    succeeded: &Intervals,
) -> Option<String> {
    let policy = policy?;
    if succeeded.is_empty() {
        return None;
    }
    for (index, rule) in policy.rules.iter().enumerate() {
        let count = rule.succeeded_count.map(i64::from);
        if let Some(text) = &rule.succeeded_indexes {
            let required = Intervals::parse(text, completions);
            if required.is_empty() {
                continue;
            }
            if match_succeeded_indexes_rule(&required, succeeded, count) {
                return Some(format!("Matched rules at index {index}"));
            }
        } else if let Some(c) = count
            && succeeded.total() >= c
        {
            return Some(format!("Matched rules at index {index}"));
        }
    }
    None
}

fn match_succeeded_indexes_rule(
    rule: &Intervals,
    succeeded: &Intervals,
    count: Option<i64>,
) -> bool {
    let (mut contains, mut s, mut r) = (0i64, 0usize, 0usize);
    while let (Some(ri), Some(si)) = (rule.0.get(r), succeeded.0.get(s)) {
        let overlap = ri.last.min(si.last) - ri.first.max(si.first) + 1;
        if overlap > 0 {
            contains += overlap;
        }
        if si.last < ri.last {
            s += 1;
        } else if si.last > ri.last {
            r += 1;
        } else {
            s += 1;
            r += 1;
        }
    }
    contains == rule.total() || count.is_some_and(|c| contains >= c)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "status": status
        }))
        .unwrap()
    }

    fn policy(rules: serde_json::Value) -> PodFailurePolicy {
        serde_json::from_value(json!({ "rules": rules })).unwrap()
    }

    fn exited(code: i32) -> serde_json::Value {
        json!({"phase": "Failed", "containerStatuses": [
            {"name": "main", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
             "state": {"terminated": {"exitCode": code}}}
        ]})
    }

    #[test]
    fn fail_job_on_exit_code_has_upstream_message() {
        let p = policy(
            json!([{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]),
        );
        let m = match_pod_failure_policy(Some(&p), &pod(exited(42)));
        assert_eq!(m.action, Some(FailureAction::FailJob));
        assert_eq!(
            m.fail_job_message.as_deref(),
            Some(
                "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 0"
            )
        );
        let m = match_pod_failure_policy(Some(&p), &pod(exited(1)));
        assert_eq!(m, PolicyMatch::none());
    }

    #[test]
    fn ignore_on_pod_condition_does_not_count() {
        let p = policy(
            json!([{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]),
        );
        let s = json!({"phase": "Failed", "conditions": [{"type": "DisruptionTarget", "status": "True"}]});
        let m = match_pod_failure_policy(Some(&p), &pod(s));
        assert!(!m.count_failed);
        assert_eq!(m.action, Some(FailureAction::Ignore));
    }

    #[test]
    fn not_in_never_matches_exit_code_zero() {
        let p = policy(
            json!([{"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1]}}]),
        );
        assert_eq!(
            match_pod_failure_policy(Some(&p), &pod(exited(0))).action,
            None
        );
        assert_eq!(
            match_pod_failure_policy(Some(&p), &pod(exited(3))).action,
            Some(FailureAction::Count)
        );
    }

    #[test]
    fn success_policy_by_indexes_and_count() {
        let sp: SuccessPolicy = serde_json::from_value(json!({"rules": [
            {"succeededIndexes": "0-2"},
            {"succeededCount": 4}
        ]}))
        .unwrap();
        let s = Intervals::default().with_ordered_indexes([0, 1, 2]);
        assert_eq!(
            match_success_policy(Some(&sp), 10, &s).as_deref(),
            Some("Matched rules at index 0")
        );
        let s = Intervals::default().with_ordered_indexes([1, 2, 5, 7]);
        assert_eq!(
            match_success_policy(Some(&sp), 10, &s).as_deref(),
            Some("Matched rules at index 1")
        );
        let s = Intervals::default().with_ordered_indexes([1, 2]);
        assert_eq!(match_success_policy(Some(&sp), 10, &s), None);
    }
}
