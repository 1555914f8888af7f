//! Watch fan-out: recent events from memory, older ones from the backend's history.
//!
//! The writer publishes each committed batch here. A new watcher first subscribes to the live
//! broadcast and only then reads the backlog (ring buffer, or the backend's on-disk history
//! when the ring no longer reaches back far enough), so no event can fall between the two;
//! duplicates are dropped by revision. A watcher that falls so far behind that the broadcast
//! drops batches for it replays from the ring again, transparently.

use crate::{Event, Revision, StoreError, WatchStream};
use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use tokio::sync::broadcast;

/// Reads committed events with `after < revision <= upto` for keys with `prefix` from the
/// backend's durable history.
pub type HistoryReader =
    Arc<dyn Fn(Revision, Revision, &str) -> Result<Vec<Event>, StoreError> + Send + Sync>;

/// Fan-out of committed events to watchers.
pub struct WatchHub {
    ring: RwLock<Ring>,
    live: broadcast::Sender<Arc<Vec<Event>>>,
    history: HistoryReader,
    /// Every event up to this revision has been sent to the watchers (see [`WatchHub::published`]).
    published: std::sync::atomic::AtomicI64,
}

struct Ring {
    events: VecDeque<Event>,
    capacity: usize,
    /// The revision of the latest published event (the store's current revision).
    latest: Revision,
    /// The oldest revision still readable from the backend.
    compacted: Revision,
}

impl WatchHub {
    /// A hub keeping `capacity` recent events in memory, starting at revision `latest`.
    pub fn new(
        capacity: usize,
        latest: Revision,
        compacted: Revision,
        history: HistoryReader,
    ) -> Arc<Self> {
        let (live, _) = broadcast::channel(1024);
        Arc::new(WatchHub {
            ring: RwLock::new(Ring {
                events: VecDeque::with_capacity(capacity),
                capacity,
                latest,
                compacted,
            }),
            live,
            history,
            published: std::sync::atomic::AtomicI64::new(latest),
        })
    }

    /// The revision up to which every committed event has been sent to every watcher: a
    /// watcher that has taken all its ready events has seen all of its prefix's events up to
    /// here, so it may report this revision as its progress (a watch bookmark) even when none
    /// of them was its own.
    pub fn published(&self) -> Revision {
        self.published.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Publishes a committed batch (in revision order) to every watcher.
    pub fn publish(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        if let Ok(mut ring) = self.ring.write() {
            for e in &events {
                if ring.events.len() == ring.capacity {
                    ring.events.pop_front();
                }
                ring.latest = e.revision;
                ring.events.push_back(e.clone());
            }
        }
        let last = events.last().map_or(0, |e| e.revision);
        // No receivers is fine: nobody is watching.
        let _ = self.live.send(Arc::new(events));
        self.published
            .fetch_max(last, std::sync::atomic::Ordering::Release);
    }

    /// Records that history before `revision` is gone.
    pub fn set_compacted(&self, revision: Revision) {
        if let Ok(mut ring) = self.ring.write() {
            ring.compacted = ring.compacted.max(revision);
        }
    }

    pub fn compacted(&self) -> Revision {
        self.ring.read().map(|r| r.compacted).unwrap_or(0)
    }

    /// The events for `prefix` after revision `after`, oldest first, and the revision they
    /// reach: `None` once the ring no longer holds every event since `after`.
    pub fn recent(&self, prefix: &str, after: Revision) -> Option<(Vec<Event>, Revision)> {
        let ring = self.ring.read().ok()?;
        Some((ring.since(prefix, after)?, ring.latest))
    }

    /// Events for `prefix` after revision `after`.
    pub fn watch(
        self: &Arc<Self>,
        prefix: &str,
        after: Revision,
    ) -> Result<WatchStream, StoreError> {
        let rx = self.live.subscribe();
        let backlog = self.backlog(prefix, after)?;
        let state = WatchState {
            hub: self.clone(),
            rx,
            prefix: prefix.to_string(),
            backlog,
            last: after,
            failed: false,
        };
        Ok(Box::pin(futures::stream::unfold(state, WatchState::next)))
    }

    /// Committed events after `after` up to the latest, from memory or history.
    fn backlog(&self, prefix: &str, after: Revision) -> Result<VecDeque<Event>, StoreError> {
        let (from_ring, latest, compacted) = {
            let ring = self
                .ring
                .read()
                .map_err(|_| StoreError::Backend("watch ring poisoned".into()))?;
            (ring.since(prefix, after), ring.latest, ring.compacted)
        };
        if after < latest && after + 1 < compacted {
            return Err(StoreError::Compacted {
                requested: after,
                compacted,
            });
        }
        if let Some(events) = from_ring {
            return Ok(events.into());
        }
        // The ring does not reach back far enough: read the gap from disk. Events newer than
        // `latest` arrive through the live channel.
        let older = (self.history)(after, latest, prefix)?;
        Ok(older.into())
    }
}

impl Ring {
    /// The events for `prefix` after `after`, oldest first, while the ring still holds every
    /// event since then (always so for `after` at or past the latest).
    fn since(&self, prefix: &str, after: Revision) -> Option<Vec<Event>> {
        let start = self.events.front().map_or(self.latest + 1, |e| e.revision);
        (after + 1 >= start).then(|| {
            self.events
                .iter()
                .filter(|e| e.revision > after && e.key.starts_with(prefix))
                .cloned()
                .collect()
        })
    }
}

struct WatchState {
    hub: Arc<WatchHub>,
    rx: broadcast::Receiver<Arc<Vec<Event>>>,
    prefix: String,
    backlog: VecDeque<Event>,
    last: Revision,
    failed: bool,
}

impl WatchState {
    async fn next(mut self) -> Option<(Result<Event, StoreError>, Self)> {
        if self.failed {
            return None;
        }
        loop {
            if let Some(e) = self.backlog.pop_front() {
                if e.revision > self.last {
                    self.last = e.revision;
                    return Some((Ok(e), self));
                }
                continue;
            }
            match self.rx.recv().await {
                Ok(batch) => {
                    self.backlog.extend(
                        batch
                            .iter()
                            .filter(|e| e.revision > self.last && e.key.starts_with(&self.prefix))
                            .cloned(),
                    );
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    match self.hub.backlog(&self.prefix, self.last) {
                        Ok(b) => self.backlog = b,
                        Err(e) => {
                            self.failed = true;
                            return Some((Err(e), self));
                        }
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}
