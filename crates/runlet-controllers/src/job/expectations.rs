//! Expectations, as upstream `controller.ControllerExpectations` and the Job controller's
//! `uidTrackingExpectations`: after creating or deleting pods, a Job is not managed again until
//! the informer has observed those changes (or 5 minutes pass), so the controller never acts on
//! a cache that lags its own writes — this is what keeps active pods at or below parallelism.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// Expectations older than this are considered satisfied (upstream `ExpectationsTimeout`).
pub const EXPECTATIONS_TIMEOUT_MILLIS: i64 = 5 * 60 * 1000;

#[derive(Debug, Clone, Copy)]
struct Expectation {
    add: i64,
    del: i64,
    at_millis: i64,
}

/// Pending pod creations and deletions per Job key.
#[derive(Debug, Default)]
pub struct Expectations {
    map: Mutex<HashMap<String, Expectation>>,
}

impl Expectations {
    /// Whether the Job may be managed now.
    pub fn satisfied(&self, key: &str, now: i64) -> bool {
        let Ok(map) = self.map.lock() else {
            return true;
        };
        match map.get(key) {
            None => true,
            Some(e) => {
                (e.add <= 0 && e.del <= 0) || now - e.at_millis > EXPECTATIONS_TIMEOUT_MILLIS
            }
        }
    }

    fn set(&self, key: &str, add: i64, del: i64, now: i64) {
        if let Ok(mut map) = self.map.lock() {
            map.insert(
                key.to_string(),
                Expectation {
                    add,
                    del,
                    at_millis: now,
                },
            );
        }
    }

    /// Creations made and not yet observed: pods that exist, or are being made, and that the
    /// informer has not shown yet.
    pub fn pending_creations(&self, key: &str) -> i64 {
        self.map
            .lock()
            .ok()
            .and_then(|map| map.get(key).map(|e| e.add.max(0)))
            .unwrap_or(0)
    }

    pub fn expect_creations(&self, key: &str, n: i64, now: i64) {
        self.set(key, n, 0, now);
    }

    pub fn expect_deletions(&self, key: &str, n: i64, now: i64) {
        self.set(key, 0, n, now);
    }

    fn lower(&self, key: &str, add: i64, del: i64) {
        if let Ok(mut map) = self.map.lock()
            && let Some(e) = map.get_mut(key)
        {
            e.add -= add;
            e.del -= del;
        }
    }

    pub fn creation_observed(&self, key: &str) {
        self.lower(key, 1, 0);
    }

    pub fn creations_observed(&self, key: &str, n: i64) {
        self.lower(key, n, 0);
    }

    pub fn deletion_observed(&self, key: &str) {
        self.lower(key, 0, 1);
    }

    pub fn delete(&self, key: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(key);
        }
    }
}

/// Pod UIDs whose tracking-finalizer removal the controller has issued but not yet observed.
#[derive(Debug, Default)]
pub struct FinalizerExpectations {
    map: Mutex<HashMap<String, HashSet<String>>>,
}

impl FinalizerExpectations {
    pub fn expected(&self, key: &str) -> HashSet<String> {
        self.map
            .lock()
            .ok()
            .and_then(|m| m.get(key).cloned())
            .unwrap_or_default()
    }

    pub fn expect_removed(&self, key: &str, uids: impl IntoIterator<Item = String>) {
        if let Ok(mut m) = self.map.lock() {
            m.entry(key.to_string()).or_default().extend(uids);
        }
    }

    pub fn removal_observed(&self, key: &str, uid: &str) {
        if let Ok(mut m) = self.map.lock()
            && let Some(s) = m.get_mut(key)
        {
            s.remove(uid);
        }
    }

    pub fn delete(&self, key: &str) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(key);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn expectations_block_until_observed_or_expired() {
        let e = Expectations::default();
        assert!(e.satisfied("ns/j", 0));
        e.expect_creations("ns/j", 2, 0);
        assert!(!e.satisfied("ns/j", 1));
        e.creation_observed("ns/j");
        assert!(!e.satisfied("ns/j", 1));
        e.creation_observed("ns/j");
        assert!(e.satisfied("ns/j", 1));
        e.expect_deletions("ns/j", 1, 0);
        assert!(!e.satisfied("ns/j", EXPECTATIONS_TIMEOUT_MILLIS));
        assert!(e.satisfied("ns/j", EXPECTATIONS_TIMEOUT_MILLIS + 1));
    }
}
