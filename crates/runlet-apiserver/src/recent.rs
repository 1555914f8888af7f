//! The objects the server wrote last, kept decoded for the next write of the same object.
//!
//! A Job's pod is written four times within moments (created, bound, its status, its tracking
//! finalizer removed), and every write starts from the stored object before it. Parsing that
//! object's JSON again was the largest single cost of a pod write. So the registry hands each
//! written object, decoded, to this cache, and the next write of the object takes it back.
//!
//! An entry is valid only for the store revision it was written at: a write from anywhere else
//! (another server sharing etcd, the garbage collector) makes the revisions differ and the
//! entry a miss, never a stale object. Entries are taken, not copied: the writer owns the
//! object it changes. The cache holds at most `capacity` objects, dropping the oldest first.

use runlet_store::Revision;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// How many decoded objects [`RecentObjects::default`] keeps: many more than a node's pods in
/// flight at once (each entry is a few KiB).
const DEFAULT_CAPACITY: usize = 2048;

pub struct RecentObjects {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Default)]
struct Inner {
    objects: HashMap<String, (Revision, Value)>,
    /// Keys in the order they were put; an entry whose object was since taken or replaced is
    /// skipped when it comes up for eviction.
    order: VecDeque<(String, Revision)>,
}

impl Default for RecentObjects {
    fn default() -> Self {
        RecentObjects::with_capacity(DEFAULT_CAPACITY)
    }
}

impl RecentObjects {
    pub fn with_capacity(capacity: usize) -> Self {
        RecentObjects {
            inner: Mutex::default(),
            capacity: capacity.max(1),
        }
    }

    /// Keeps `object`, which is what the store holds under `key` at `revision`, decoded as
    /// [`crate::registry::from_stored`] decodes it.
    pub fn put(&self, key: String, revision: Revision, object: Value) {
        let mut evicted = Vec::new();
        if let Ok(mut inner) = self.inner.lock() {
            inner.order.push_back((key.clone(), revision));
            if let Some((_, replaced)) = inner.objects.insert(key, (revision, object)) {
                evicted.push(replaced);
            }
            // `order` also holds entries already taken: bound both.
            while inner.objects.len() > self.capacity || inner.order.len() > 2 * self.capacity {
                let Some((key, revision)) = inner.order.pop_front() else {
                    break;
                };
                if inner.objects.get(&key).is_some_and(|(r, _)| *r == revision)
                    && let Some((_, object)) = inner.objects.remove(&key)
                {
                    evicted.push(object);
                }
            }
        }
        // Freeing object trees takes a while: not while holding the lock.
        drop(evicted);
    }

    /// The object under `key` if it was kept at exactly `revision`, removed from the cache.
    pub fn take(&self, key: &str, revision: Revision) -> Option<Value> {
        let (kept_at, object) = self.inner.lock().ok()?.objects.remove(key)?;
        (kept_at == revision).then_some(object)
    }

    /// How many objects are kept.
    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.objects.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_object_is_taken_once_and_only_at_its_revision() {
        let recent = RecentObjects::default();
        recent.put("/a".into(), 5, json!({"n": 5}));
        assert_eq!(recent.take("/a", 5), Some(json!({"n": 5})));
        assert_eq!(recent.take("/a", 5), None, "taken, not copied");
        recent.put("/a".into(), 6, json!({"n": 6}));
        assert_eq!(
            recent.take("/a", 7),
            None,
            "written again elsewhere: a miss"
        );
        assert!(recent.is_empty(), "a stale entry goes when it misses");
    }

    #[test]
    fn the_oldest_objects_go_first_and_taken_ones_do_not_count() {
        let recent = RecentObjects::with_capacity(2);
        recent.put("/a".into(), 1, json!(1));
        recent.put("/b".into(), 2, json!(2));
        recent.put("/c".into(), 3, json!(3));
        assert_eq!(recent.take("/a", 1), None, "the oldest went");
        assert_eq!(recent.take("/b", 2), Some(json!(2)));
        recent.put("/d".into(), 4, json!(4));
        assert_eq!(recent.len(), 2);
        assert_eq!(recent.take("/c", 3), Some(json!(3)));
        // Many puts and takes of one object never grow the cache past its capacity.
        for rev in 10..100 {
            recent.put("/e".into(), rev, json!(rev));
            assert_eq!(recent.take("/e", rev), Some(json!(rev)));
        }
        let inner = recent.inner.lock().unwrap();
        assert!(inner.order.len() <= 4, "{}", inner.order.len());
        assert!(inner.objects.len() <= 1, "at most /d is left");
    }
}
