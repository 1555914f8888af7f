//! The CronJob controller's delay queue: each CronJob key waits for one instant, in milliseconds
//! of the controller's [`Clock`](runlet_api::clock::Clock), not of tokio's timer. Keeping due
//! times on the clock's own scale is what lets a fake clock drive the controller: advance the
//! clock, and whatever became due is due, with no timer to fire.
//!
//! Semantics follow client-go's delaying workqueue: a key is queued at most once, and adding it
//! again keeps the earlier of the two instants (so "now" always beats a pending wake-up).

use std::collections::{BTreeSet, HashMap};

/// A CronJob's identity in the queue.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// The CronJob's namespace.
    pub namespace: String,
    /// The CronJob's name.
    pub name: String,
}

impl ObjectKey {
    /// The key of `namespace/name`.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Keys waiting for an instant (clock milliseconds).
#[derive(Debug, Default)]
pub struct DelayQueue {
    by_time: BTreeSet<(i64, ObjectKey)>,
    due: HashMap<ObjectKey, i64>,
}

impl DelayQueue {
    /// Queues `key` for `at`, unless it is already queued for that instant or earlier.
    pub fn add_at(&mut self, key: ObjectKey, at: i64) {
        if let Some(&current) = self.due.get(&key) {
            if current <= at {
                return;
            }
            self.by_time.remove(&(current, key.clone()));
        }
        self.due.insert(key.clone(), at);
        self.by_time.insert((at, key));
    }

    /// Removes and returns up to `limit` keys due at or before `now`, earliest first.
    pub fn pop_due(&mut self, now: i64, limit: usize) -> Vec<ObjectKey> {
        let mut out = Vec::new();
        while out.len() < limit {
            match self.by_time.first() {
                Some((at, _)) if *at <= now => {}
                _ => break,
            }
            if let Some((_, key)) = self.by_time.pop_first() {
                self.due.remove(&key);
                out.push(key);
            }
        }
        out
    }

    /// The earliest instant anything is queued for.
    pub fn next_due(&self) -> Option<i64> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// When `key` is queued for, if it is.
    pub fn due_of(&self, key: &ObjectKey) -> Option<i64> {
        self.due.get(key).copied()
    }

    /// How many keys are queued.
    pub fn len(&self) -> usize {
        self.due.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.due.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(n: &str) -> ObjectKey {
        ObjectKey::new("default", n)
    }

    #[test]
    fn earlier_add_wins_like_client_go_add_after() {
        let mut q = DelayQueue::default();
        q.add_at(k("a"), 100);
        q.add_at(k("a"), 200);
        assert_eq!(q.due_of(&k("a")), Some(100));
        q.add_at(k("a"), 50);
        assert_eq!(q.due_of(&k("a")), Some(50));
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn pops_only_what_is_due_in_time_order() {
        let mut q = DelayQueue::default();
        q.add_at(k("late"), 300);
        q.add_at(k("b"), 200);
        q.add_at(k("a"), 100);
        assert_eq!(q.pop_due(99, 10), Vec::<ObjectKey>::new());
        assert_eq!(q.pop_due(200, 10), vec![k("a"), k("b")]);
        assert_eq!(q.next_due(), Some(300));
        assert_eq!(q.pop_due(1000, 0), Vec::<ObjectKey>::new());
        assert_eq!(q.pop_due(1000, 1), vec![k("late")]);
        assert!(q.is_empty());
    }
}
