//! Field lists for `batch/v1` Job and CronJob, down to their templates, failure and success
//! policies and status.
//!
//! Each entry names a `k8s-openapi` struct and all of its fields; see
//! [`messages!`](crate::protobuf::convert) for how it becomes a conversion.

use crate::protobuf::convert::messages;
use k8s_openapi::api::batch::v1 as batch_v1;
use k8s_pb::api::batch::v1 as batch_v1_pb;

messages! { batch_v1 => batch_v1_pb;
    Job {
        metadata, spec, status,
    }
    CronJob {
        metadata, spec, status,
    }
    JobSpec {
        active_deadline_seconds, backoff_limit, backoff_limit_per_index, completion_mode,
        completions, managed_by, manual_selector, max_failed_indexes, parallelism,
        pod_failure_policy, pod_replacement_policy, selector, success_policy, suspend, template,
        ttl_seconds_after_finished,
    }
    JobStatus {
        active as omitempty, completed_indexes as omitempty, completion_time, conditions,
        failed as omitempty, failed_indexes, ready, start_time, succeeded as omitempty,
        terminating, uncounted_terminated_pods,
    }
    CronJobSpec {
        concurrency_policy as omitempty, failed_jobs_history_limit, job_template, schedule,
        starting_deadline_seconds, successful_jobs_history_limit, suspend, time_zone,
    }
    CronJobStatus {
        active, last_schedule_time, last_successful_time,
    }
    PodFailurePolicy {
        rules,
    }
    SuccessPolicy {
        rules,
    }
    JobCondition {
        last_probe_time, last_transition_time, message as omitempty, reason as omitempty, status,
        type_ = r#type,
    }
    UncountedTerminatedPods {
        failed, succeeded,
    }
    JobTemplateSpec {
        metadata, spec,
    }
    PodFailurePolicyRule {
        action, on_exit_codes, on_pod_conditions,
    }
    SuccessPolicyRule {
        succeeded_count, succeeded_indexes,
    }
    PodFailurePolicyOnExitCodesRequirement {
        container_name, operator, values,
    }
    PodFailurePolicyOnPodConditionsPattern {
        status, type_ = r#type,
    }
}
