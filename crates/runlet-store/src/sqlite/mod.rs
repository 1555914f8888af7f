//! The embedded SQLite backend: one history table, a writer thread with group commit, and an
//! in-memory index of current values.
//!
//! Layout: `log(rev, key, value, kind)` holds every change (kind 0 create, 1 update, 2 delete,
//! where a delete row keeps the deleted value); the current state is the latest non-delete row
//! per key, loaded into memory at start and kept current by the writer. The revision at start
//! is the larger of the newest row's and `meta`'s `revision`, which compaction sets to the
//! revision it ran at, so revisions never go backwards even when rows are compacted away;
//! a commit writes only its `log` rows. `meta` also holds the compaction point.
//!
//! `log` has no index on `key` (stores made by earlier builds have theirs dropped at open):
//! current values are read from memory, and so are lists at a recent revision (the current
//! values with the changes since, which the watch ring holds, undone); only startup,
//! compaction and lists at a revision older than the ring reaches group rows by key, which
//! they do by scanning (0.1 s for 66,000 rows). An index cost every insert a write into a
//! random page of its B-tree, and so one more WAL frame per row: about a quarter of the writer
//! thread's CPU in `runlet bench jobs`.
//!
//! Group commit: one thread owns the write connection. It takes every request waiting in its
//! queue (up to [`MAX_BATCH`]), applies them in order inside one transaction — checking each
//! precondition against the batch's own earlier writes — commits with `synchronous=FULL`, and
//! only then updates the in-memory index, publishes the events and acknowledges the callers.
//! While one commit is being synced the next batch queues up, so throughput grows with load.

use crate::watch::{HistoryReader, WatchHub};
use crate::{
    Event, EventKind, KeyValue, ListOptions, ListResult, Revision, Store, StoreError, WatchStream,
    WriteOp, prefix_end,
};
use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{mpsc, oneshot};

/// The most writes committed in one transaction.
pub const MAX_BATCH: usize = 2048;
/// Events kept in memory for watchers that resume from a recent revision; older ones are read
/// from the log table. Each holds its object before and after (a pod is a few KiB), so a
/// larger ring mostly costs fresh memory: with 50,000 a 10,000-pod Job kept the agent's
/// process growing by hundreds of MiB, and the page faults showed in its CPU.
const RING_CAPACITY: usize = 8_192;

const KIND_CREATE: i64 = 0;
const KIND_UPDATE: i64 = 1;
const KIND_DELETE: i64 = 2;

/// Current values, the revision they reflect, and the compaction point.
#[derive(Default)]
struct Index {
    values: BTreeMap<String, KeyValue>,
    revision: Revision,
    compacted: Revision,
}

enum Request {
    Write(WriteOp, oneshot::Sender<Result<KeyValue, StoreError>>),
    Compact(Revision, oneshot::Sender<Result<KeyValue, StoreError>>),
    /// Stop now, as a crash would (see [`SqliteStore::crash`]).
    Crash,
}

/// The SQLite-backed [`Store`].
pub struct SqliteStore {
    index: Arc<RwLock<Index>>,
    writer: mpsc::UnboundedSender<Request>,
    reader: Arc<Mutex<Connection>>,
    hub: Arc<WatchHub>,
    path: PathBuf,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The exclusive lock on `<path>.lock`, held while the store is open, as etcd locks its
    /// data: revisions come from this process's index, so a second process writing the same
    /// file would hand out the same ones. Let go by [`SqliteStore::crash`].
    lock: Mutex<Option<std::fs::File>>,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Opens a connection. Its page cache is 8 MiB: reads are served from the in-memory index, so
/// the cache only holds the B-tree pages that inserts walk, and SQLite scans the whole cache's
/// hash table at the end of every write transaction (`pcache1TruncateUnsafe`), which at
/// 64 MiB was the writer's hottest function.
///
/// A new database is made with incremental auto-vacuum, so that what compaction frees is
/// given back to the file system (`PRAGMA incremental_vacuum` after each compaction) instead of
/// the file keeping its largest size for ever; a database made before keeps its mode (changing
/// it would take a full `VACUUM`).
fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(backend)?;
    conn.execute_batch(
        "PRAGMA auto_vacuum=INCREMENTAL;
         PRAGMA journal_mode=WAL;
         PRAGMA synchronous=FULL;
         PRAGMA busy_timeout=5000;
         PRAGMA cache_size=-8192;",
    )
    .map_err(backend)?;
    Ok(conn)
}

/// Takes the store's lock, or says who has it.
fn lock(path: &Path) -> Result<std::fs::File, StoreError> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(backend)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(StoreError::InUse(path.display().to_string()))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(backend(e)),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`, which no other process may have open.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(backend)?;
        }
        let lock = lock(&path)?;
        let conn = open_connection(&path)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS log (
                 rev INTEGER PRIMARY KEY,
                 key TEXT NOT NULL,
                 value BLOB NOT NULL,
                 kind INTEGER NOT NULL);
             DROP INDEX IF EXISTS log_key_rev;
             CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);",
        )
        .map_err(backend)?;
        let index = load_index(&conn)?;
        tracing::info!(path = %path.display(), revision = index.revision, keys = index.values.len(), "store opened");

        let reader = Arc::new(Mutex::new(open_connection(&path)?));
        let history_conn = reader.clone();
        let history: HistoryReader =
            Arc::new(move |after, upto, prefix| read_history(&history_conn, after, upto, prefix));
        let hub = WatchHub::new(RING_CAPACITY, index.revision, index.compacted, history);
        let index = Arc::new(RwLock::new(index));

        let (tx, rx) = mpsc::unbounded_channel();
        let writer = Writer {
            conn,
            index: index.clone(),
            hub: hub.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("runlet-store-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(backend)?;
        Ok(SqliteStore {
            index,
            writer: tx,
            reader,
            hub,
            path,
            thread: Mutex::new(Some(thread)),
            lock: Mutex::new(Some(lock)),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops the store as `kill -9` would stop the process: writes not yet committed are
    /// dropped unanswered, and every later write fails. Returns once the writer thread has
    /// exited, so the database can be opened again — how tests restart a server mid-work.
    /// Blocks; call it outside the async runtime (or in `spawn_blocking`).
    pub fn crash(&self) {
        let _ = self.writer.send(Request::Crash);
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = thread {
            let _ = t.join();
        }
        if let Ok(mut lock) = self.lock.lock() {
            lock.take();
        }
    }

    async fn request(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<KeyValue, StoreError>>) -> Request,
    ) -> Result<KeyValue, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.writer
            .send(make(tx))
            .map_err(|_| backend("store writer has stopped"))?;
        rx.await.map_err(|_| backend("store writer has stopped"))?
    }
}

fn load_index(conn: &Connection) -> Result<Index, StoreError> {
    let meta = |name: &str| -> Result<Option<i64>, StoreError> {
        conn.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()
        .map_err(backend)
    };
    let max_rev: Option<i64> = conn
        .query_row("SELECT max(rev) FROM log", [], |r| r.get(0))
        .map_err(backend)?;
    let revision = meta("revision")?.unwrap_or(0).max(max_rev.unwrap_or(0));
    let compacted = meta("compacted")?.unwrap_or(0);
    let mut stmt = conn
        .prepare(
            "SELECT l.key, l.value, l.rev FROM log l
             JOIN (SELECT key, max(rev) AS rev FROM log GROUP BY key) m ON l.rev = m.rev
             WHERE l.kind != 2",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(KeyValue {
                key: r.get(0)?,
                value: Bytes::from(r.get::<_, Vec<u8>>(1)?),
                mod_revision: r.get(2)?,
            })
        })
        .map_err(backend)?;
    let mut values = BTreeMap::new();
    for kv in rows {
        let kv = kv.map_err(backend)?;
        values.insert(kv.key.clone(), kv);
    }
    Ok(Index {
        values,
        revision,
        compacted,
    })
}

fn read_history(
    conn: &Mutex<Connection>,
    after: Revision,
    upto: Revision,
    prefix: &str,
) -> Result<Vec<Event>, StoreError> {
    let conn = conn
        .lock()
        .map_err(|_| backend("reader connection poisoned"))?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT key, value, rev, kind FROM log
             WHERE rev > ?1 AND rev <= ?2 AND key >= ?3 AND key < ?4 ORDER BY rev",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![after, upto, prefix, prefix_end(prefix)], |r| {
            let kind = match r.get::<_, i64>(3)? {
                KIND_CREATE => EventKind::Created,
                KIND_UPDATE => EventKind::Updated,
                _ => EventKind::Deleted,
            };
            Ok(Event {
                kind,
                key: r.get(0)?,
                value: Bytes::from(r.get::<_, Vec<u8>>(1)?),
                revision: r.get(2)?,
                prev_value: None,
                prev_revision: 0,
            })
        })
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

fn list_at(
    conn: &Mutex<Connection>,
    prefix: &str,
    revision: Revision,
) -> Result<Vec<KeyValue>, StoreError> {
    let conn = conn
        .lock()
        .map_err(|_| backend("reader connection poisoned"))?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT l.key, l.value, l.rev FROM log l
             JOIN (SELECT key, max(rev) AS rev FROM log
                   WHERE rev <= ?1 AND key >= ?2 AND key < ?3 GROUP BY key) m ON l.rev = m.rev
             WHERE l.kind != 2 ORDER BY l.key",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![revision, prefix, prefix_end(prefix)], |r| {
            Ok(KeyValue {
                key: r.get(0)?,
                value: Bytes::from(r.get::<_, Vec<u8>>(1)?),
                mod_revision: r.get(2)?,
            })
        })
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

/// A list at a recent `revision` from memory: the current values with every change since
/// undone, which the watch ring holds while the revision is recent; `None` when it no longer
/// does. A list continued page by page (kubectl and client-go list 500 objects at a time) reads
/// every page at its first page's revision, and from the log table each page cost a scan of the
/// whole history.
fn list_recent(
    index: &Index,
    hub: &WatchHub,
    prefix: &str,
    revision: Revision,
    opts: &ListOptions,
) -> Option<ListResult> {
    let (changes, reached) = hub.recent(prefix, revision)?;
    if reached != index.revision {
        // The writer has updated the index but not yet published that batch.
        return None;
    }
    // Each changed key as it was at `revision`: what its oldest change since replaced.
    let mut then: BTreeMap<&str, Option<KeyValue>> = BTreeMap::new();
    for e in &changes {
        if then.contains_key(e.key.as_str()) {
            continue;
        }
        let before = match e.kind {
            EventKind::Created => None,
            EventKind::Updated | EventKind::Deleted if e.prev_revision == 0 => return None,
            EventKind::Updated => Some(KeyValue {
                key: e.key.clone(),
                value: e.prev_value.clone()?,
                mod_revision: e.prev_revision,
            }),
            // A deletion's event carries the value it removed.
            EventKind::Deleted => Some(KeyValue {
                key: e.key.clone(),
                value: e.value.clone(),
                mod_revision: e.prev_revision,
            }),
        };
        then.insert(&e.key, before);
    }
    let start = match opts.start_after.as_deref() {
        Some(after) => Bound::Excluded(after),
        None => Bound::Included(prefix),
    };
    let end = prefix_end(prefix);
    let mut values: BTreeMap<&str, &KeyValue> = index
        .values
        .range::<str, _>((start, Bound::Excluded(end.as_str())))
        .filter(|(key, _)| !then.contains_key(key.as_str()))
        .map(|(key, kv)| (key.as_str(), kv))
        .collect();
    values.extend(
        then.range::<str, _>((start, Bound::Excluded(end.as_str())))
            .filter_map(|(key, kv)| Some((*key, kv.as_ref()?))),
    );
    let (items, remaining) = page(values.into_values(), opts);
    Some(ListResult {
        items,
        revision,
        remaining,
    })
}

/// Takes `limit` items after `start_after` from an ordered iterator, counting those that
/// remain (without copying them).
fn page<'a>(
    items: impl Iterator<Item = &'a KeyValue>,
    opts: &ListOptions,
) -> (Vec<KeyValue>, usize) {
    let mut items = items.skip_while(|kv| {
        opts.start_after
            .as_deref()
            .is_some_and(|s| kv.key.as_str() <= s)
    });
    if opts.limit == 0 {
        return (items.cloned().collect(), 0);
    }
    let out: Vec<KeyValue> = items.by_ref().take(opts.limit).cloned().collect();
    (out, items.count())
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let index = self.index.read().map_err(|_| backend("index poisoned"))?;
        Ok(index.values.get(key).cloned())
    }

    async fn list(&self, prefix: &str, opts: &ListOptions) -> Result<ListResult, StoreError> {
        {
            let index = self.index.read().map_err(|_| backend("index poisoned"))?;
            match opts.revision {
                Some(rev) if rev > index.revision => {
                    return Err(StoreError::FutureRevision {
                        requested: rev,
                        current: index.revision,
                    });
                }
                Some(rev) if rev < index.compacted => {
                    return Err(StoreError::Compacted {
                        requested: rev,
                        compacted: index.compacted,
                    });
                }
                Some(rev) if rev < index.revision => {
                    if let Some(listed) = list_recent(&index, &self.hub, prefix, rev, opts) {
                        return Ok(listed);
                    }
                }
                _ => {
                    let range = index
                        .values
                        .range(prefix.to_string()..prefix_end(prefix))
                        .map(|(_, kv)| kv);
                    let (items, remaining) = page(range, opts);
                    return Ok(ListResult {
                        items,
                        revision: index.revision,
                        remaining,
                    });
                }
            }
        }
        let revision = opts.revision.unwrap_or_default();
        let reader = self.reader.clone();
        let prefix = prefix.to_string();
        let all = tokio::task::spawn_blocking(move || list_at(&reader, &prefix, revision))
            .await
            .map_err(backend)??;
        let (items, remaining) = page(all.iter(), opts);
        Ok(ListResult {
            items,
            revision,
            remaining,
        })
    }

    async fn write(&self, op: WriteOp) -> Result<KeyValue, StoreError> {
        self.request(|tx| Request::Write(op, tx)).await
    }

    fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError> {
        self.hub.watch(prefix, after)
    }

    fn current_revision(&self) -> Revision {
        self.index.read().map(|i| i.revision).unwrap_or(0)
    }

    fn watch_progress(&self) -> Revision {
        self.hub.published()
    }

    fn compacted_revision(&self) -> Revision {
        self.index.read().map(|i| i.compacted).unwrap_or(0)
    }

    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        self.request(|tx| Request::Compact(revision, tx))
            .await
            .map(|_| ())
    }
}

/// The single owner of the write connection.
struct Writer {
    conn: Connection,
    index: Arc<RwLock<Index>>,
    hub: Arc<WatchHub>,
}

/// The outcome of one write inside a batch, before commit.
struct Applied {
    result: Result<KeyValue, StoreError>,
    reply: oneshot::Sender<Result<KeyValue, StoreError>>,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::UnboundedReceiver<Request>) {
        while let Some(first) = rx.blocking_recv() {
            let mut writes = Vec::new();
            let mut next = Some(first);
            while let Some(req) = next.take() {
                match req {
                    Request::Write(op, reply) => writes.push((op, reply)),
                    Request::Crash => {
                        // The batch gathered so far was never committed: its callers hear
                        // nothing but a dropped reply, as after a crash.
                        tracing::debug!(dropped = writes.len(), "store writer crashed on request");
                        return;
                    }
                    Request::Compact(rev, reply) => {
                        // Keep ordering simple: commit what came before, then compact.
                        self.commit_batch(std::mem::take(&mut writes));
                        let result = self.compact(rev);
                        let _ = reply.send(result.map(|()| KeyValue {
                            key: String::new(),
                            value: Bytes::new(),
                            mod_revision: rev,
                        }));
                    }
                }
                if writes.len() < MAX_BATCH {
                    next = rx.try_recv().ok();
                }
            }
            self.commit_batch(writes);
        }
        tracing::debug!("store writer stopped");
    }

    fn commit_batch(
        &mut self,
        writes: Vec<(WriteOp, oneshot::Sender<Result<KeyValue, StoreError>>)>,
    ) {
        if writes.is_empty() {
            return;
        }
        let (mut revision, compacted) = match self.index.read() {
            Ok(i) => (i.revision, i.compacted),
            Err(_) => {
                for (_, reply) in writes {
                    let _ = reply.send(Err(backend("index poisoned")));
                }
                return;
            }
        };
        let _ = compacted;
        // Keys written in this batch: Some(new value) or None (deleted).
        let mut overlay: HashMap<String, Option<KeyValue>> = HashMap::new();
        let mut events = Vec::new();
        let mut applied = Vec::with_capacity(writes.len());

        let outcome = (|| -> Result<(), rusqlite::Error> {
            let tx = self.conn.transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO log (rev, key, value, kind) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for (op, reply) in writes {
                    let key = match &op {
                        WriteOp::Create { key, .. }
                        | WriteOp::Update { key, .. }
                        | WriteOp::Delete { key, .. } => key.clone(),
                    };
                    let current = match overlay.get(&key) {
                        Some(v) => v.clone(),
                        None => self
                            .index
                            .read()
                            .ok()
                            .and_then(|i| i.values.get(&key).cloned()),
                    };
                    let result = match (op, current) {
                        (WriteOp::Create { .. }, Some(_)) => Err(StoreError::AlreadyExists),
                        (WriteOp::Create { key, value }, None) => {
                            revision += 1;
                            insert.execute(params![revision, key, value.as_ref(), KIND_CREATE])?;
                            events.push(Event {
                                kind: EventKind::Created,
                                key: key.clone(),
                                value: value.clone(),
                                revision,
                                prev_value: None,
                                prev_revision: 0,
                            });
                            Ok(KeyValue {
                                key,
                                value,
                                mod_revision: revision,
                            })
                        }
                        (WriteOp::Update { .. } | WriteOp::Delete { .. }, None) => {
                            Err(StoreError::NotFound)
                        }
                        (
                            WriteOp::Update {
                                expected: Some(exp),
                                ..
                            }
                            | WriteOp::Delete {
                                expected: Some(exp),
                                ..
                            },
                            Some(cur),
                        ) if exp != cur.mod_revision => Err(StoreError::Conflict {
                            current: cur.mod_revision,
                        }),
                        (WriteOp::Update { key, value, .. }, Some(cur)) => {
                            revision += 1;
                            insert.execute(params![revision, key, value.as_ref(), KIND_UPDATE])?;
                            events.push(Event {
                                kind: EventKind::Updated,
                                key: key.clone(),
                                value: value.clone(),
                                revision,
                                prev_value: Some(cur.value),
                                prev_revision: cur.mod_revision,
                            });
                            Ok(KeyValue {
                                key,
                                value,
                                mod_revision: revision,
                            })
                        }
                        (WriteOp::Delete { key, .. }, Some(cur)) => {
                            revision += 1;
                            insert.execute(params![
                                revision,
                                key,
                                cur.value.as_ref(),
                                KIND_DELETE
                            ])?;
                            events.push(Event {
                                kind: EventKind::Deleted,
                                key: key.clone(),
                                value: cur.value.clone(),
                                revision,
                                prev_value: Some(cur.value.clone()),
                                prev_revision: cur.mod_revision,
                            });
                            Ok(KeyValue {
                                key,
                                value: cur.value,
                                mod_revision: revision,
                            })
                        }
                    };
                    if let Ok(kv) = &result {
                        let deleted = events.last().is_some_and(|e| e.kind == EventKind::Deleted);
                        overlay.insert(
                            kv.key.clone(),
                            if deleted { None } else { Some(kv.clone()) },
                        );
                    }
                    applied.push(Applied { result, reply });
                }
            }
            // No `meta` write: the newest row carries the revision (see the module docs).
            tx.commit()
        })();

        if let Err(e) = outcome {
            tracing::error!(error = %e, "store commit failed");
            for a in applied {
                let _ = a.reply.send(Err(backend(&e)));
            }
            return;
        }
        if let Ok(mut index) = self.index.write() {
            for (key, value) in overlay {
                match value {
                    Some(kv) => {
                        index.values.insert(key, kv);
                    }
                    None => {
                        index.values.remove(&key);
                    }
                }
            }
            index.revision = revision;
        }
        self.hub.publish(events);
        for a in applied {
            let _ = a.reply.send(a.result);
        }
    }

    fn compact(&mut self, revision: Revision) -> Result<(), StoreError> {
        let current = self
            .index
            .read()
            .map(|i| i.revision)
            .map_err(|_| backend("index poisoned"))?;
        let revision = revision.min(current);
        let tx = self.conn.transaction().map_err(backend)?;
        tx.execute(
            "DELETE FROM log WHERE rev < ?1 AND (kind = 2 OR rev NOT IN
                 (SELECT max(rev) FROM log WHERE rev < ?1 GROUP BY key))",
            [revision],
        )
        .map_err(backend)?;
        tx.execute(
            "INSERT INTO meta (name, value) VALUES ('compacted', ?1) ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)",
            [revision],
        )
        .map_err(backend)?;
        tx.execute("INSERT INTO meta (name, value) VALUES ('revision', ?1) ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)", [current])
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
        // Gives the freed pages back (a no-op for a database without auto-vacuum). Each step
        // of the statement frees one page: it is run to its end.
        let mut vacuum = self
            .conn
            .prepare("PRAGMA incremental_vacuum")
            .map_err(backend)?;
        let mut steps = vacuum.query([]).map_err(backend)?;
        while steps.next().map_err(backend)?.is_some() {}
        if let Ok(mut index) = self.index.write() {
            index.compacted = index.compacted.max(revision);
        }
        self.hub.set_compacted(revision);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn compaction_gives_freed_pages_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let store = SqliteStore::open(&path).expect("open");
        let value = Bytes::from(vec![b'x'; 4096]);
        for i in 0..500 {
            store
                .create(&format!("/k/{i}"), value.clone())
                .await
                .expect("create");
        }
        for i in 0..500 {
            store
                .delete(&format!("/k/{i}"), None)
                .await
                .expect("delete");
        }
        let reader = Connection::open(&path).expect("reader");
        let pages = |pragma: &str| -> i64 {
            reader
                .query_row(&format!("PRAGMA {pragma}"), [], |r| r.get(0))
                .expect("pragma")
        };
        assert_eq!(pages("auto_vacuum"), 2, "incremental");
        let before = pages("page_count");
        assert!(before > 500, "{before} pages");
        store
            .compact(store.current_revision())
            .await
            .expect("compact");
        let after = pages("page_count");
        assert_eq!(pages("freelist_count"), 0);
        assert!(after < before / 10, "{before} pages before, {after} after");
    }

    /// Every list at an older revision, page by page, against the log table's answer.
    async fn assert_lists_match_the_log(store: &SqliteStore, prefix: &str) {
        for revision in 1..store.current_revision() {
            let mut listed = Vec::new();
            let mut start_after = None;
            loop {
                let opts = ListOptions {
                    revision: Some(revision),
                    start_after: start_after.clone(),
                    limit: 3,
                };
                let page = store.list(prefix, &opts).await.expect("list");
                assert_eq!(page.revision, revision);
                listed.extend(page.items.iter().cloned());
                start_after = page.items.last().map(|kv| kv.key.clone());
                if !page.more() {
                    break;
                }
            }
            let logged = list_at(&store.reader, prefix, revision).expect("log");
            assert_eq!(listed, logged, "at revision {revision}");
        }
    }

    #[tokio::test]
    async fn a_list_at_a_recent_revision_from_memory_is_the_log_s_list() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path().join("state.db")).expect("open");
        store
            .create("/other", Bytes::from_static(b"x"))
            .await
            .expect("create");
        // Creates, updates, deletes and a key created again, interleaved over eight keys.
        for step in 0u32..120 {
            let key = format!("/p/{}", step * 5 % 8);
            let value = Bytes::from(step.to_string());
            let result = match step % 7 {
                0 | 3 => store.delete(&key, None).await,
                _ => match store.update(&key, value.clone(), None).await {
                    Err(StoreError::NotFound) => store.create(&key, value).await,
                    other => other,
                },
            };
            match result {
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert!(
            store.hub.recent("/p/", 1).is_some(),
            "the ring holds it all"
        );
        assert_lists_match_the_log(&store, "/p/").await;
    }

    #[tokio::test]
    async fn a_list_older_than_the_watch_ring_reads_the_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path().join("state.db")).expect("open");
        for key in ["/p/a", "/p/b"] {
            store
                .create(key, Bytes::from_static(b"0"))
                .await
                .expect("create");
        }
        store
            .update("/p/a", Bytes::from_static(b"1"), None)
            .await
            .expect("update");
        let creates = (0..RING_CAPACITY).map(|i| {
            let store = &store;
            async move { store.create(&format!("/q/{i}"), Bytes::new()).await }
        });
        for created in futures::future::join_all(creates).await {
            created.expect("create");
        }
        store.delete("/p/b", None).await.expect("delete");
        assert!(store.hub.recent("/p/", 2).is_none(), "the ring moved on");
        let old = ListOptions {
            revision: Some(2),
            ..Default::default()
        };
        let listed = store.list("/p/", &old).await.expect("list");
        let values: Vec<(&str, &[u8], Revision)> = listed
            .items
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.as_ref(), kv.mod_revision))
            .collect();
        assert_eq!(values, [("/p/a", &b"0"[..], 1), ("/p/b", &b"0"[..], 2)]);
    }

    #[tokio::test]
    async fn sqlite_store_passes_conformance() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path().join("state.db")).expect("open");
        crate::conformance::run_all(&store).await;
    }

    #[tokio::test]
    async fn a_store_open_elsewhere_is_refused_until_it_is_closed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let store = SqliteStore::open(&path).expect("open");
        match SqliteStore::open(&path) {
            Err(StoreError::InUse(p)) => assert_eq!(p, path.display().to_string()),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("opened twice"),
        }
        tokio::task::spawn_blocking(move || store.crash())
            .await
            .expect("crash");
        SqliteStore::open(&path).expect("open again once the first let go");
    }

    #[tokio::test]
    async fn a_store_with_the_old_key_index_opens_without_it_and_keeps_its_objects() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        {
            let store = SqliteStore::open(&path).expect("open");
            store
                .create("/a", Bytes::from_static(b"1"))
                .await
                .expect("create");
        }
        {
            let conn = Connection::open(&path).expect("sqlite");
            conn.execute_batch("CREATE INDEX log_key_rev ON log(key, rev)")
                .expect("the index of earlier builds");
        }
        let store = SqliteStore::open(&path).expect("reopen");
        let kv = store.get("/a").await.expect("get").expect("kept");
        assert_eq!((kv.value.as_ref(), kv.mod_revision), (&b"1"[..], 1));
        let conn = Connection::open(&path).expect("sqlite");
        let indexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'log'",
                [],
                |r| r.get(0),
            )
            .expect("schema");
        assert_eq!(indexes, 0);
    }

    #[tokio::test]
    async fn revisions_continue_after_reopen_even_when_newest_row_was_compacted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        {
            let store = SqliteStore::open(&path).expect("open");
            store
                .create("/a", Bytes::from_static(b"1"))
                .await
                .expect("create");
            store.delete("/a", None).await.expect("delete");
            let rev = store.current_revision();
            store.compact(rev + 1).await.expect("compact");
        }
        let store = SqliteStore::open(&path).expect("reopen");
        assert_eq!(store.current_revision(), 2);
        assert_eq!(store.get("/a").await.expect("get"), None);
        let kv = store
            .create("/b", Bytes::from_static(b"2"))
            .await
            .expect("create");
        assert_eq!(kv.mod_revision, 3);
    }

    #[tokio::test]
    async fn watch_replays_from_disk_when_ring_does_not_reach() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        {
            let store = SqliteStore::open(&path).expect("open");
            for i in 0..5 {
                store
                    .create(&format!("/k/{i}"), Bytes::from_static(b"v"))
                    .await
                    .expect("create");
            }
        }
        // A fresh process has an empty ring: revisions 1..=5 come from the log table.
        let store = SqliteStore::open(&path).expect("reopen");
        use futures::StreamExt;
        let mut w = store.watch("/k/", 2).expect("watch");
        let mut seen = Vec::new();
        for _ in 0..3 {
            let e = tokio::time::timeout(std::time::Duration::from_secs(5), w.next())
                .await
                .expect("in time");
            seen.push(e.expect("event").expect("ok").revision);
        }
        assert_eq!(seen, vec![3, 4, 5]);
    }
}
