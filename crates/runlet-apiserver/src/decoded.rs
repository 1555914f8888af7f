//! Recently written objects, kept decoded.
//!
//! Every update reads the object it changes (a patch applies to it, a binding copies it), and
//! the object was usually written a moment before: a pod is created, bound, given its status and
//! released by the Job controller within a second. Decoding the stored JSON again for each of
//! those reads was the API server's largest single cost after the writes themselves. The cache
//! holds the object each write left, under its key and revision; a read whose store revision
//! matches takes it from here, and any other read decodes the stored bytes as before, so an
//! entry can never be served for a revision it is not.
//!
//! It is bounded by two generations: new entries go into the young one, and when that is full
//! the old one is dropped and the young one becomes old. A key written again moves to the young
//! generation, so an object in use stays while the churn of one-time writes (Events) goes.

use runlet_store::Revision;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Entries per generation: the objects written within the last moments (a Job running 100
/// pods at a time writes a few hundred objects in 100 ms).
const GENERATION_SIZE: usize = 1024;

type Entries = HashMap<String, (Revision, Arc<Value>)>;

/// Decoded objects by key, each at the revision it was stored at.
#[derive(Default)]
pub struct DecodedCache {
    generations: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    young: Entries,
    old: Entries,
}

impl DecodedCache {
    /// The object stored under `key` at `revision`, if it is here.
    pub fn get(&self, key: &str, revision: Revision) -> Option<Arc<Value>> {
        let generations = self.generations.lock().ok()?;
        let (rev, obj) = generations
            .young
            .get(key)
            .or_else(|| generations.old.get(key))?;
        (*rev == revision).then(|| Arc::clone(obj))
    }

    /// Keeps `obj`, stored under `key` at `revision` (its `resourceVersion` stamped, as
    /// [`crate::registry::from_stored`] decodes it).
    pub fn insert(&self, key: &str, revision: Revision, obj: Arc<Value>) {
        let Ok(mut generations) = self.generations.lock() else {
            return;
        };
        if generations.young.len() >= GENERATION_SIZE {
            generations.old = std::mem::take(&mut generations.young);
        }
        generations.old.remove(key);
        generations.young.insert(key.to_string(), (revision, obj));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_entry_is_served_only_at_its_revision() {
        let cache = DecodedCache::default();
        cache.insert("/pods/a", 5, Arc::new(json!({"v": 5})));
        assert_eq!(*cache.get("/pods/a", 5).unwrap(), json!({"v": 5}));
        assert!(cache.get("/pods/a", 6).is_none());
        assert!(cache.get("/pods/b", 5).is_none());
        cache.insert("/pods/a", 6, Arc::new(json!({"v": 6})));
        assert!(cache.get("/pods/a", 5).is_none());
        assert_eq!(*cache.get("/pods/a", 6).unwrap(), json!({"v": 6}));
    }

    #[test]
    fn a_key_written_again_outlives_those_written_once_around_it() {
        let cache = DecodedCache::default();
        cache.insert("kept", 1, Arc::new(json!(1)));
        for i in 0..GENERATION_SIZE {
            cache.insert(&format!("k{i}"), 1, Arc::new(json!(i)));
        }
        cache.insert("kept", 2, Arc::new(json!(2)));
        for i in 0..GENERATION_SIZE {
            cache.insert(&format!("m{i}"), 1, Arc::new(json!(i)));
        }
        assert_eq!(*cache.get("kept", 2).unwrap(), json!(2));
        assert!(cache.get("k0", 1).is_none(), "dropped with its generation");
        let generations = cache.generations.lock().unwrap();
        assert!(generations.young.len() + generations.old.len() <= 2 * GENERATION_SIZE);
    }
}
