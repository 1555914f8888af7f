//! A rate-limited, delaying work queue of Job keys, as client-go's `workqueue`: a key is never
//! processed by two workers at once, adds while it is queued collapse into one, adds while it is
//! processed requeue it once when done. Delays (backoff, active deadline, error retries) are
//! measured on the [`Clock`], so a fake clock drives them in tests: the timer loop re-reads the
//! clock at least every `poll` of real time, and [`WorkQueue::wake_timers`] makes it look now.

use runlet_api::clock::Clock;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// First retry delay after a sync error (upstream `DefaultJobApiBackOff`).
pub const API_BACKOFF_BASE_MILLIS: i64 = 1_000;
/// Maximum retry delay after repeated sync errors (upstream `MaxJobApiBackOff`).
pub const API_BACKOFF_MAX_MILLIS: i64 = 60_000;

#[derive(Default)]
struct Inner {
    queue: VecDeque<String>,
    dirty: HashSet<String>,
    processing: HashSet<String>,
    delayed: BTreeMap<(i64, u64), String>,
    delayed_due: HashMap<String, (i64, u64)>,
    failures: HashMap<String, u32>,
    seq: u64,
    shutting_down: bool,
}

/// The queue. Cheap to share behind an `Arc`.
pub struct WorkQueue {
    inner: Mutex<Inner>,
    ready: Notify,
    timer: Notify,
    clock: Arc<dyn Clock>,
}

impl WorkQueue {
    pub fn new(clock: Arc<dyn Clock>) -> WorkQueue {
        WorkQueue {
            inner: Mutex::new(Inner::default()),
            ready: Notify::new(),
            timer: Notify::new(),
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means a panic elsewhere; the data is still consistent enough to
        // keep serving keys.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `key` now.
    pub fn add(&self, key: &str) {
        let mut g = self.lock();
        if Self::add_locked(&mut g, key) {
            drop(g);
            self.ready.notify_one();
        }
    }

    fn add_locked(g: &mut Inner, key: &str) -> bool {
        if g.shutting_down || g.dirty.contains(key) {
            return false;
        }
        g.dirty.insert(key.to_string());
        if g.processing.contains(key) {
            return false;
        }
        g.queue.push_back(key.to_string());
        true
    }

    /// Queues `key` after `delay_millis` of clock time; an earlier pending delay wins.
    pub fn add_after(&self, key: &str, delay_millis: i64) {
        if delay_millis <= 0 {
            self.add(key);
            return;
        }
        let due = self.clock.now_millis().saturating_add(delay_millis);
        let mut g = self.lock();
        if g.shutting_down {
            return;
        }
        if let Some(existing) = g.delayed_due.get(key).copied() {
            if existing.0 <= due {
                return;
            }
            g.delayed.remove(&existing);
        }
        g.seq += 1;
        let slot = (due, g.seq);
        g.delayed.insert(slot, key.to_string());
        g.delayed_due.insert(key.to_string(), slot);
        drop(g);
        self.timer.notify_one();
    }

    /// Queues `key` after its per-key exponential error backoff (1 s doubling to 60 s).
    pub fn add_rate_limited(&self, key: &str) {
        let n = {
            let mut g = self.lock();
            let n = g.failures.entry(key.to_string()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        let mut delay = API_BACKOFF_BASE_MILLIS;
        for _ in 1..n {
            delay = delay.saturating_mul(2);
            if delay >= API_BACKOFF_MAX_MILLIS {
                delay = API_BACKOFF_MAX_MILLIS;
                break;
            }
        }
        self.add_after(key, delay);
    }

    /// Clears the error backoff of `key`.
    pub fn forget(&self, key: &str) {
        self.lock().failures.remove(key);
    }

    /// The next key to process, or `None` once shut down.
    pub async fn get(&self) -> Option<String> {
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut g = self.lock();
                if g.shutting_down {
                    return None;
                }
                if let Some(k) = g.queue.pop_front() {
                    g.dirty.remove(&k);
                    g.processing.insert(k.clone());
                    let more = !g.queue.is_empty();
                    drop(g);
                    if more {
                        self.ready.notify_one();
                    }
                    return Some(k);
                }
            }
            notified.await;
        }
    }

    /// Marks `key` processed; requeues it if it was added meanwhile.
    pub fn done(&self, key: &str) {
        let mut g = self.lock();
        g.processing.remove(key);
        if g.dirty.contains(key) && !g.shutting_down {
            g.queue.push_back(key.to_string());
            drop(g);
            self.ready.notify_one();
        }
    }

    /// Stops handing out keys; `get` returns `None` to every worker.
    pub fn shut_down(&self) {
        self.lock().shutting_down = true;
        self.ready.notify_waiters();
        self.timer.notify_waiters();
    }

    /// Makes the timer loop re-read the clock now (tests call this after moving a fake clock).
    pub fn wake_timers(&self) {
        self.timer.notify_one();
    }

    /// Moves due delayed keys into the queue; returns the next due time.
    fn promote_due(&self) -> Option<i64> {
        let now = self.clock.now_millis();
        let mut g = self.lock();
        let mut woke = false;
        while let Some((&slot, _)) = g.delayed.first_key_value() {
            if slot.0 > now {
                break;
            }
            if let Some(key) = g.delayed.remove(&slot) {
                g.delayed_due.remove(&key);
                woke |= Self::add_locked(&mut g, &key);
            }
        }
        let next = g.delayed.first_key_value().map(|(s, _)| s.0);
        drop(g);
        if woke {
            self.ready.notify_waiters();
            self.ready.notify_one();
        }
        next
    }

    /// Runs until shut down: promotes delayed keys when the clock reaches them, checking the clock
    /// at least every `poll`.
    pub async fn run_timers(&self, poll: Duration) {
        loop {
            let notified = self.timer.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.lock().shutting_down {
                return;
            }
            let next = self.promote_due();
            let wait = match next {
                Some(due) => {
                    let ms = (due - self.clock.now_millis()).max(1) as u64;
                    Duration::from_millis(ms).min(poll)
                }
                None => poll,
            };
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Number of keys waiting (queued, not delayed) — for tests and metrics.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use runlet_api::clock::FakeClock;

    #[tokio::test]
    async fn adds_collapse_and_processing_key_is_requeued_once() {
        let q = WorkQueue::new(Arc::new(FakeClock::at(0)));
        q.add("a");
        q.add("a");
        assert_eq!(q.len(), 1);
        let k = q.get().await.unwrap();
        q.add("a");
        q.add("a");
        assert_eq!(q.len(), 0, "a key being processed is not handed out twice");
        q.done(&k);
        assert_eq!(q.len(), 1);
    }

    #[tokio::test]
    async fn delayed_keys_fire_when_the_fake_clock_reaches_them() {
        let clock = Arc::new(FakeClock::at(0));
        let q = Arc::new(WorkQueue::new(clock.clone()));
        q.add_after("a", 10_000);
        q.add_after("a", 20_000);
        assert_eq!(q.promote_due(), Some(10_000), "the earlier delay wins");
        clock.advance_millis(9_999);
        q.promote_due();
        assert!(q.is_empty());
        clock.advance_millis(1);
        q.promote_due();
        assert_eq!(q.len(), 1);
    }

    #[tokio::test]
    async fn rate_limited_delays_double() {
        let clock = Arc::new(FakeClock::at(0));
        let q = WorkQueue::new(clock.clone());
        q.add_rate_limited("a");
        assert_eq!(q.promote_due(), Some(1_000));
        clock.advance_millis(1_000);
        q.promote_due();
        let k = q.get().await.unwrap();
        q.done(&k);
        q.add_rate_limited("a");
        assert_eq!(q.promote_due(), Some(3_000));
        q.forget("a");
    }
}
