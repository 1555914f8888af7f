//! runlet's revisioned key-value store.
//!
//! Every object the API server keeps is one key (`/batch/jobs/default/pi`) holding the object's
//! JSON. Every write gets the next value of one global, strictly increasing **revision**, which
//! the API server shows as `metadata.resourceVersion`; writes carry preconditions on the key's
//! current revision, which is how optimistic concurrency (409 Conflict) works. History is kept
//! for a while so that watches can resume from an older revision; once compacted away a
//! revision answers [`StoreError::Compacted`] (HTTP 410 Gone).
//!
//! The [`Store`] trait is shaped after etcd's API (revision = etcd's mod revision) so an etcd
//! backend can sit beside the SQLite one. Backends must pass [`conformance`].

pub mod conformance;
pub mod sqlite;
mod watch;

use bytes::Bytes;
use futures::stream::BoxStream;

pub use watch::WatchHub;

/// The global revision: strictly increasing across all keys and across restarts.
pub type Revision = i64;

/// A key and its value at some revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// The revision of the write that produced this value.
    pub mod_revision: Revision,
}

/// What happened to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The key was created.
    Created,
    /// An existing key got a new value.
    Updated,
    /// The key was deleted; the event's value is the last value it had.
    Deleted,
}

/// One change, as delivered to watchers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub key: String,
    /// The new value, or for a deletion the value the key had before.
    pub value: Bytes,
    /// The revision of this change.
    pub revision: Revision,
    /// The value before this change, when known (live events; not for replays from disk).
    pub prev_value: Option<Bytes>,
    /// The revision `prev_value` was written at (0 without one): with it, a store can tell a
    /// key's state before this change from the change alone.
    pub prev_revision: Revision,
}

/// A failed store operation.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// The key does not exist.
    #[error("key not found")]
    NotFound,
    /// A create found the key already present.
    #[error("key already exists")]
    AlreadyExists,
    /// The key's revision did not match the precondition.
    #[error("revision conflict: the key is at revision {current}")]
    Conflict { current: Revision },
    /// The requested revision has been compacted away.
    #[error("required revision {requested} has been compacted (oldest available is {compacted})")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },
    /// The requested revision is in the future.
    #[error("revision {requested} is newer than the current revision {current}")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    /// The backend failed (I/O, corruption, shutdown).
    #[error("storage backend: {0}")]
    Backend(String),
    /// Another process has the store open: two writers would hand out the same revisions.
    #[error(
        "the store {0} is in use by another process (is another runlet server running on this data directory?)"
    )]
    InUse(String),
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListResult {
    pub items: Vec<KeyValue>,
    /// The revision the list reflects.
    pub revision: Revision,
    /// How many keys remain after the last item (for `limit`/`continue`, and a list's
    /// `remainingItemCount`).
    pub remaining: usize,
}

impl ListResult {
    /// Whether keys remain after the last item.
    pub fn more(&self) -> bool {
        self.remaining > 0
    }
}

/// How a list is bounded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Only keys strictly after this one (the continue point of pagination).
    pub start_after: Option<String>,
    /// At most this many items; 0 means no limit.
    pub limit: usize,
    /// Read at this revision instead of the current one.
    pub revision: Option<Revision>,
}

/// A stream of changes; it ends when the store shuts down, and yields an error once and ends
/// when the watcher fell behind history (`Compacted`).
pub type WatchStream = BoxStream<'static, Result<Event, StoreError>>;

/// One write in a batch; see [`Store::create`], [`Store::update`], [`Store::delete`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    Create {
        key: String,
        value: Bytes,
    },
    /// Replace the value; `expected` is the required current mod revision, if any.
    Update {
        key: String,
        value: Bytes,
        expected: Option<Revision>,
    },
    /// Delete; `expected` is the required current mod revision, if any.
    Delete {
        key: String,
        expected: Option<Revision>,
    },
}

/// The revisioned store.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// The current value of `key`.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError>;

    /// Keys starting with `prefix`, in key order.
    async fn list(&self, prefix: &str, opts: &ListOptions) -> Result<ListResult, StoreError>;

    /// Applies one write; acknowledged only after it is durable. Returns the new key-value
    /// (for a delete: the deleted value, with the deletion's revision as `mod_revision`).
    async fn write(&self, op: WriteOp) -> Result<KeyValue, StoreError>;

    /// Changes to keys starting with `prefix` with revision strictly greater than `after`.
    fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError>;

    /// The revision of the latest write.
    fn current_revision(&self) -> Revision;

    /// The revision up to which every write has been sent to every watch: a watch that has
    /// taken all its ready events has seen every change of its prefix up to here (its progress,
    /// which a watch bookmark reports).
    fn watch_progress(&self) -> Revision;

    /// The oldest revision still readable (`after` for watch must be ≥ this − 1).
    fn compacted_revision(&self) -> Revision;

    /// Forgets history older than `revision` (the latest value of each key is kept).
    async fn compact(&self, revision: Revision) -> Result<(), StoreError>;

    /// Creates `key`; fails with `AlreadyExists` if present.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StoreError> {
        self.write(WriteOp::Create {
            key: key.to_string(),
            value,
        })
        .await
    }

    /// Replaces `key`'s value, if its mod revision is `expected` (when given).
    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Option<Revision>,
    ) -> Result<KeyValue, StoreError> {
        self.write(WriteOp::Update {
            key: key.to_string(),
            value,
            expected,
        })
        .await
    }

    /// Deletes `key`, if its mod revision is `expected` (when given).
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue, StoreError> {
        self.write(WriteOp::Delete {
            key: key.to_string(),
            expected,
        })
        .await
    }
}

/// The exclusive upper bound of keys with `prefix` (prefix with its last byte incremented).
pub(crate) fn prefix_end(prefix: &str) -> String {
    if prefix.is_empty() {
        // Keys are ASCII: DEL sorts after every one of them.
        return "\x7f".to_string();
    }
    let mut bytes = prefix.as_bytes().to_vec();
    while let Some(last) = bytes.pop() {
        if last < 0x7f {
            bytes.push(last + 1);
            return String::from_utf8(bytes).unwrap_or_default();
        }
    }
    "\x7f".to_string()
}
