//! Pod re-creation backoff after failures, as upstream `backoff_utils.go`: 10 s after the first
//! failure since the last success, doubling per further failure, capped at 10 minutes, counted
//! from the last failure's finish time. Records live in memory per Job key, as upstream.

use super::pods;
use k8s_openapi::api::core::v1::Pod;
use std::collections::HashMap;
use std::sync::Mutex;

/// Default delay after one failure (upstream `DefaultJobPodFailureBackOff`).
pub const DEFAULT_BACKOFF_MILLIS: i64 = 10_000;
/// Maximum delay (upstream `MaxJobPodFailureBackOff`).
pub const MAX_BACKOFF_MILLIS: i64 = 600_000;

/// Consecutive failures since the last success, and when the last one happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackoffRecord {
    pub failures_after_last_success: i32,
    pub last_failure_millis: Option<i64>,
}

impl BackoffRecord {
    /// Time left before a new pod may be created.
    pub fn remaining_millis(&self, now: i64) -> i64 {
        remaining_for_failures(
            now,
            self.failures_after_last_success,
            self.last_failure_millis,
        )
    }
}

/// Upstream `getRemainingTimeForFailuresCount`.
pub fn remaining_for_failures(now: i64, failures: i32, last_failure: Option<i64>) -> i64 {
    let Some(last) = last_failure else {
        return 0;
    };
    if failures <= 0 {
        return 0;
    }
    let mut delay = DEFAULT_BACKOFF_MILLIS;
    for _ in 1..failures {
        delay = delay.saturating_mul(2);
        if delay >= MAX_BACKOFF_MILLIS {
            delay = MAX_BACKOFF_MILLIS;
            break;
        }
    }
    let elapsed = now - last;
    if delay < elapsed { 0 } else { delay - elapsed }
}

/// Upstream `getRemainingTimePerIndex`: the delay for re-creating an index whose last failed pod
/// is `last_failed`.
pub fn remaining_for_index(now: i64, last_failed: Option<&Pod>) -> i64 {
    let Some(p) = last_failed else {
        return 0;
    };
    let failures = super::indexed::index_absolute_failure_count(p).saturating_add(1);
    remaining_for_failures(now, failures, Some(pods::finished_time_millis(p)))
}

/// Backoff records of all Jobs.
#[derive(Debug, Default)]
pub struct BackoffStore {
    records: Mutex<HashMap<String, BackoffRecord>>,
}

impl BackoffStore {
    /// The record after accounting the newly finished pods (upstream `newBackoffRecord`).
    pub fn new_record(&self, key: &str, succeeded: &[&Pod], failed: &[&Pod]) -> BackoffRecord {
        let old = self
            .records
            .lock()
            .map(|r| r.get(key).copied().unwrap_or_default())
            .unwrap_or_default();
        let mut failed_times: Vec<i64> = failed
            .iter()
            .map(|p| pods::finished_time_millis(p))
            .collect();
        failed_times.sort_unstable();
        let last_success = succeeded
            .iter()
            .map(|p| pods::finished_time_millis(p))
            .max();
        match last_success {
            None => {
                let Some(last) = failed_times.last() else {
                    return old;
                };
                BackoffRecord {
                    failures_after_last_success: old
                        .failures_after_last_success
                        .saturating_add(failed_times.len() as i32),
                    last_failure_millis: Some(*last),
                }
            }
            Some(success) => {
                let after: Vec<i64> = failed_times.into_iter().filter(|t| *t > success).collect();
                BackoffRecord {
                    failures_after_last_success: after.len() as i32,
                    last_failure_millis: after.last().copied(),
                }
            }
        }
    }

    pub fn update(&self, key: &str, record: BackoffRecord) {
        if let Ok(mut r) = self.records.lock() {
            r.insert(key.to_string(), record);
        }
    }

    pub fn remove(&self, key: &str) {
        if let Ok(mut r) = self.records.lock() {
            r.remove(key);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_ten_seconds_and_caps_at_ten_minutes() {
        // upstream TestGetRemainingTime: 10s, 20s, 40s ... capped at MaxJobPodFailureBackOff.
        assert_eq!(remaining_for_failures(1000, 1, Some(1000)), 10_000);
        assert_eq!(remaining_for_failures(1000, 2, Some(1000)), 20_000);
        assert_eq!(remaining_for_failures(1000, 3, Some(1000)), 40_000);
        assert_eq!(remaining_for_failures(1000, 20, Some(1000)), 600_000);
        assert_eq!(remaining_for_failures(6000, 1, Some(1000)), 5_000);
        assert_eq!(remaining_for_failures(60_000, 1, Some(1000)), 0);
        assert_eq!(remaining_for_failures(1000, 0, Some(1000)), 0);
    }
}
