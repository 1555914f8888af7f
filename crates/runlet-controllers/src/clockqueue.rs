//! A work queue with client-go's semantics (`k8s.io/client-go/util/workqueue`), whose timed
//! re-adds follow the [`Clock`].
//!
//! Why not kube-runtime's scheduler: its delays run on tokio's timer, so a controller under a
//! `FakeClock` could never see a deadline that lies in fake time (a Job's TTL expiry). Here a
//! key can be re-added at a clock instant ([`WorkQueue::add_at`]) or after a real-time
//! backoff ([`WorkQueue::add_rate_limited`], for API errors, which are about the server's
//! health rather than object timestamps).
//!
//! Invariants, as in client-go: a key is queued at most once; a key being processed is never
//! handed to a second worker — re-adding it marks it dirty and it is queued again on
//! [`WorkQueue::done`]. The clock is polled at most every [`CLOCK_TICK`] of real time while a
//! clock deadline is pending, so a fake clock moved by a test is noticed within that bound.

use runlet_api::clock::Clock;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often a pending clock deadline re-reads the clock.
pub const CLOCK_TICK: Duration = Duration::from_millis(50);
/// First retry delay after a failure (client-go's `DefaultControllerRateLimiter`: 5 ms).
const BASE_DELAY: Duration = Duration::from_millis(5);
/// Longest retry delay (client-go: 1000 s).
const MAX_DELAY: Duration = Duration::from_secs(1000);

struct State<K> {
    ready: VecDeque<K>,
    dirty: HashSet<K>,
    processing: HashSet<K>,
    failures: HashMap<K, u32>,
    at_clock: BTreeMap<(i64, u64), K>,
    at_real: BTreeMap<(Instant, u64), K>,
    seq: u64,
}

/// A de-duplicating work queue of keys.
pub struct WorkQueue<K> {
    state: Mutex<State<K>>,
    notify: Notify,
    clock: Arc<dyn Clock>,
}

impl<K: Clone + Eq + Hash + Send + 'static> WorkQueue<K> {
    /// An empty queue whose timed adds follow `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        WorkQueue {
            state: Mutex::new(State {
                ready: VecDeque::new(),
                dirty: HashSet::new(),
                processing: HashSet::new(),
                failures: HashMap::new(),
                at_clock: BTreeMap::new(),
                at_real: BTreeMap::new(),
                seq: 0,
            }),
            notify: Notify::new(),
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<K>> {
        // A panic while holding the lock leaves plain collections behind; keep using them.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn add_locked(state: &mut State<K>, key: K) -> bool {
        if !state.dirty.insert(key.clone()) {
            return false;
        }
        if state.processing.contains(&key) {
            return false;
        }
        state.ready.push_back(key);
        true
    }

    /// Queues `key` now.
    pub fn add(&self, key: K) {
        if Self::add_locked(&mut self.lock(), key) {
            self.notify.notify_one();
        }
    }

    /// Queues `key` once the clock reads `at_millis` (at once if it already does).
    pub fn add_at(&self, key: K, at_millis: i64) {
        if at_millis <= self.clock.now_millis() {
            return self.add(key);
        }
        let mut s = self.lock();
        s.seq += 1;
        let seq = s.seq;
        s.at_clock.insert((at_millis, seq), key);
        drop(s);
        self.notify.notify_one();
    }

    /// Queues `key` after a real-time delay.
    pub fn add_after(&self, key: K, delay: Duration) {
        let mut s = self.lock();
        s.seq += 1;
        let seq = s.seq;
        s.at_real.insert((Instant::now() + delay, seq), key);
        drop(s);
        self.notify.notify_one();
    }

    /// Queues `key` after a per-key exponential backoff: 5 ms doubling to 1000 s.
    pub fn add_rate_limited(&self, key: K) {
        let delay = {
            let mut s = self.lock();
            let n = s.failures.entry(key.clone()).or_insert(0);
            let delay = BASE_DELAY
                .checked_mul(1u32.checked_shl(*n).unwrap_or(u32::MAX))
                .unwrap_or(MAX_DELAY)
                .min(MAX_DELAY);
            *n = n.saturating_add(1);
            delay
        };
        self.add_after(key, delay);
    }

    /// Clears `key`'s failure count (after a successful sync).
    pub fn forget(&self, key: &K) {
        self.lock().failures.remove(key);
    }

    /// Marks `key` processed; queues it again if it was re-added meanwhile.
    pub fn done(&self, key: &K) {
        let mut s = self.lock();
        s.processing.remove(key);
        if s.dirty.contains(key) {
            s.ready.push_back(key.clone());
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Number of keys ready or waiting for a deadline.
    pub fn len(&self) -> usize {
        let s = self.lock();
        s.ready.len() + s.at_clock.len() + s.at_real.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next key to process, waiting for one; `None` once `cancel` fires.
    pub async fn get(&self, cancel: &CancellationToken) -> Option<K> {
        loop {
            let wake = {
                let mut s = self.lock();
                let now_clock = self.clock.now_millis();
                let now_real = Instant::now();
                while let Some(entry) = s.at_clock.first_entry() {
                    if entry.key().0 > now_clock {
                        break;
                    }
                    let key = entry.remove();
                    Self::add_locked(&mut s, key);
                }
                while let Some(entry) = s.at_real.first_entry() {
                    if entry.key().0 > now_real {
                        break;
                    }
                    let key = entry.remove();
                    Self::add_locked(&mut s, key);
                }
                if let Some(key) = s.ready.pop_front() {
                    s.dirty.remove(&key);
                    s.processing.insert(key.clone());
                    if !s.ready.is_empty() {
                        self.notify.notify_one();
                    }
                    return Some(key);
                }
                let clock_wake = s.at_clock.first_key_value().map(|((at, _), _)| {
                    let left = u64::try_from(at.saturating_sub(now_clock)).unwrap_or(0);
                    now_real + Duration::from_millis(left).min(CLOCK_TICK)
                });
                let real_wake = s.at_real.first_key_value().map(|((at, _), _)| *at);
                match (clock_wake, real_wake) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            };
            let sleep = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return None,
                _ = self.notify.notified() => {}
                _ = sleep => {}
            }
        }
    }
}

/// Sleeps until `clock` has advanced by `duration`, or `cancel` fires (then returns false).
pub async fn sleep_on_clock(
    clock: &dyn Clock,
    duration: Duration,
    cancel: &CancellationToken,
) -> bool {
    let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
    let until = clock.now_millis().saturating_add(millis);
    loop {
        let left = until.saturating_sub(clock.now_millis());
        if left <= 0 {
            return true;
        }
        let step = Duration::from_millis(u64::try_from(left).unwrap_or(0)).min(CLOCK_TICK);
        tokio::select! {
            _ = cancel.cancelled() => return false,
            _ = tokio::time::sleep(step) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use runlet_api::clock::FakeClock;

    fn queue() -> (Arc<FakeClock>, WorkQueue<String>) {
        let clock = Arc::new(FakeClock::at(1_000));
        (clock.clone(), WorkQueue::new(clock))
    }

    #[tokio::test]
    async fn a_key_is_queued_once_and_requeued_when_added_during_processing() {
        let (_, q) = queue();
        let cancel = CancellationToken::new();
        q.add("a".into());
        q.add("a".into());
        assert_eq!(q.len(), 1, "client-go dedupes queued keys");
        let k = q.get(&cancel).await.unwrap();
        q.add("a".into());
        assert_eq!(q.len(), 0, "a key being processed is not handed out twice");
        q.done(&k);
        assert_eq!(q.get(&cancel).await.unwrap(), "a");
    }

    #[tokio::test]
    async fn add_at_waits_for_the_fake_clock_not_real_time() {
        let (clock, q) = queue();
        let cancel = CancellationToken::new();
        q.add_at("t".into(), 1_000_000 + 5_000);
        let early = tokio::time::timeout(Duration::from_millis(200), q.get(&cancel)).await;
        assert!(early.is_err(), "nothing is due before the clock moves");
        clock.advance_millis(4_999);
        let early = tokio::time::timeout(Duration::from_millis(200), q.get(&cancel)).await;
        assert!(early.is_err(), "one millisecond early is still early");
        clock.advance_millis(1);
        let got = tokio::time::timeout(Duration::from_secs(5), q.get(&cancel)).await;
        assert_eq!(got.unwrap().unwrap(), "t");
    }

    #[tokio::test]
    async fn get_returns_none_on_cancel() {
        let (_, q) = queue();
        let cancel = CancellationToken::new();
        cancel.cancel();
        assert!(q.get(&cancel).await.is_none());
    }

    #[tokio::test]
    async fn sleep_on_clock_ends_when_the_fake_clock_passes_the_deadline() {
        let clock = Arc::new(FakeClock::at(10));
        let cancel = CancellationToken::new();
        let c2 = clock.clone();
        let mover = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            c2.advance_millis(2_000);
        });
        let done = tokio::time::timeout(
            Duration::from_secs(5),
            sleep_on_clock(clock.as_ref(), Duration::from_secs(2), &cancel),
        )
        .await;
        assert!(done.unwrap());
        mover.await.unwrap();
    }
}
