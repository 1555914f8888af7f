//! Client-side rate limits on event writing, as upstream's components have them.
//!
//! Events are advisory and lossy upstream: a component records them into a bounded queue
//! (client-go's broadcaster holds [`MAX_QUEUED_EVENTS`] and drops what does not fit), and its
//! event client writes them at most `qps` a second with bursts of `burst` (the kubelet's
//! `eventRecordQPS` and `eventBurst`, 50 and 100 by default; kube-scheduler's client connection,
//! 50 and 100). So a burst of thousands of short pods costs the store a bounded stream of
//! events, not two or three writes per pod, while a handful of pods gets every event at once.
//! Only events are limited here: the writes that run pods (creations, bindings, status) are not.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};
use std::num::NonZeroU32;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How many events wait to be written before more are dropped (client-go's
/// `maxQueuedEvents`).
pub const MAX_QUEUED_EVENTS: usize = 1000;

/// A rate of requests: `qps` a second on average, `burst` at once. A `qps` of 0 is no limit,
/// as the kubelet's `--event-qps=0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub qps: u32,
    pub burst: u32,
}

impl Rate {
    /// Upstream's defaults for event writing: the kubelet's `eventRecordQPS` and `eventBurst`,
    /// which are also kube-scheduler's `clientConnection` `qps` and `burst`.
    pub const EVENTS: Rate = Rate {
        qps: 50,
        burst: 100,
    };

    /// No limit.
    pub const UNLIMITED: Rate = Rate { qps: 0, burst: 0 };

    /// A limiter that lets requests through at this rate. A `burst` of 0 with a limit is taken
    /// as 1, as client-go's token bucket needs room for one request.
    pub fn limiter(self) -> Limiter {
        Limiter(NonZeroU32::new(self.qps).map(|qps| {
            let burst = NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN);
            DefaultDirectRateLimiter::direct(Quota::per_second(qps).allow_burst(burst))
        }))
    }
}

/// Lets requests through at a [`Rate`] (a token bucket, as client-go's `flowcontrol`).
pub struct Limiter(Option<DefaultDirectRateLimiter>);

impl Limiter {
    /// Returns when the next request may go: at once while the burst lasts, then at the rate.
    pub async fn ready(&self) {
        let Some(limiter) = &self.0 else { return };
        let clock = DefaultClock::default();
        while let Err(not_until) = limiter.check() {
            tokio::time::sleep(not_until.wait_time_from(clock.now())).await;
        }
    }

    /// The next item of `queue`, once this limiter lets it go: what an event writer loops on.
    /// `None` when `stop` fires or every sender is gone.
    pub async fn next<T>(
        &self,
        queue: &mut mpsc::Receiver<T>,
        stop: &CancellationToken,
    ) -> Option<T> {
        let item = tokio::select! {
            _ = stop.cancelled() => return None,
            item = queue.recv() => item?,
        };
        tokio::select! {
            _ = stop.cancelled() => None,
            _ = self.ready() => Some(item),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn a_burst_goes_at_once_and_what_follows_at_the_rate() {
        let limiter = Rate { qps: 20, burst: 5 }.limiter();
        let start = Instant::now();
        for _ in 0..5 {
            limiter.ready().await;
        }
        let burst = start.elapsed();
        for _ in 0..4 {
            limiter.ready().await;
        }
        // The ninth request may go 4 × 50 ms after the first, however long the burst took.
        let all = start.elapsed();
        assert!(burst < Duration::from_secs(1), "the burst waited {burst:?}");
        assert!(all >= Duration::from_millis(190), "nine took {all:?}");
    }

    #[tokio::test]
    async fn next_gives_the_queue_in_order_until_it_closes_or_stops() {
        let limiter = Rate::UNLIMITED.limiter();
        let stop = CancellationToken::new();
        let (tx, mut rx) = mpsc::channel(4);
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        drop(tx);
        assert_eq!(limiter.next(&mut rx, &stop).await, Some(1));
        assert_eq!(limiter.next(&mut rx, &stop).await, Some(2));
        assert_eq!(limiter.next(&mut rx, &stop).await, None);

        let (_tx, mut rx) = mpsc::channel::<i32>(4);
        stop.cancel();
        assert_eq!(limiter.next(&mut rx, &stop).await, None);
    }

    #[tokio::test]
    async fn no_rate_is_no_limit() {
        let limiter = Rate::UNLIMITED.limiter();
        let start = Instant::now();
        for _ in 0..10_000 {
            limiter.ready().await;
        }
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
