//! Leader election through a `coordination.k8s.io/v1` Lease (upstream
//! `client-go/tools/leaderelection`), so that of several `runlet server`s sharing a datastore
//! only one runs the controllers.
//!
//! Semantics as upstream: the holder renews `renewTime` every retry period; another candidate
//! takes over only when it has seen the same record unchanged for `leaseDurationSeconds`
//! (measured on its own clock from when it *observed* the record, not from `renewTime`, so
//! clock skew between servers does not matter); a takeover sets `acquireTime` and increments
//! `leaseTransitions`; releasing on shutdown empties `holderIdentity` and shortens the lease to
//! one second. Every update carries the resourceVersion last read, so two candidates can never
//! both win the same round.
//!
//! Deviation, on the safe side: when a renewal finds the lease held by someone else, the
//! controllers stop at once instead of retrying until the renew deadline.

use crate::clockqueue::sleep_on_clock;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};
use runlet_api::clock::Clock;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Errors of one election round.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading, creating or updating the Lease failed.
    #[error("lease {name}: {source}")]
    Kube {
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// Where the lock lives and its timing (kube-controller-manager's defaults).
#[derive(Debug, Clone)]
pub struct Config {
    pub namespace: String,
    pub name: String,
    /// This candidate's `holderIdentity` (upstream: hostname + "_" + a uuid).
    pub identity: String,
    /// How long a lease is valid without renewal (15 s).
    pub lease_duration: Duration,
    /// How long the leader keeps retrying a failing renewal before giving up (10 s).
    pub renew_deadline: Duration,
    /// Time between attempts (2 s).
    pub retry_period: Duration,
}

impl Config {
    /// The `kube-system/runlet-controllers` lease with upstream's default timing.
    pub fn new(identity: impl Into<String>) -> Config {
        Config {
            namespace: "kube-system".into(),
            name: "runlet-controllers".into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// The election record kept in a Lease's spec (`LeaderElectionRecord`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    pub holder_identity: String,
    pub lease_duration_seconds: i32,
    pub acquire_time_millis: i64,
    pub renew_time_millis: i64,
    pub leader_transitions: i32,
}

fn micro_time(millis: i64) -> Option<MicroTime> {
    Timestamp::from_millisecond(millis).ok().map(MicroTime)
}

impl Record {
    fn from_spec(spec: Option<&LeaseSpec>) -> Record {
        let Some(s) = spec else {
            return Record::default();
        };
        Record {
            holder_identity: s.holder_identity.clone().unwrap_or_default(),
            lease_duration_seconds: s.lease_duration_seconds.unwrap_or(0),
            acquire_time_millis: s.acquire_time.as_ref().map_or(0, |t| t.0.as_millisecond()),
            renew_time_millis: s.renew_time.as_ref().map_or(0, |t| t.0.as_millisecond()),
            leader_transitions: s.lease_transitions.unwrap_or(0),
        }
    }

    fn to_spec(&self, old: Option<&LeaseSpec>) -> LeaseSpec {
        let mut spec = old.cloned().unwrap_or_default();
        spec.holder_identity = Some(self.holder_identity.clone()).filter(|h| !h.is_empty());
        spec.lease_duration_seconds = Some(self.lease_duration_seconds);
        spec.acquire_time = micro_time(self.acquire_time_millis);
        spec.renew_time = micro_time(self.renew_time_millis);
        spec.lease_transitions = Some(self.leader_transitions);
        spec
    }
}

/// One candidate: the upstream `LeaderElector` state (the record it last observed, and when).
pub struct LeaderElector {
    api: Api<Lease>,
    config: Config,
    clock: Arc<dyn Clock>,
    lease: Option<Lease>,
    observed: Record,
    observed_at_millis: i64,
}

impl LeaderElector {
    pub fn new(client: Client, config: Config, clock: Arc<dyn Clock>) -> Self {
        LeaderElector {
            api: Api::namespaced(client, &config.namespace),
            config,
            clock,
            lease: None,
            observed: Record::default(),
            observed_at_millis: 0,
        }
    }

    fn err(&self, source: kube::Error) -> Error {
        Error::Kube {
            name: format!("{}/{}", self.config.namespace, self.config.name),
            source,
        }
    }

    /// Whether the last observed record names this candidate.
    pub fn is_leader(&self) -> bool {
        self.observed.holder_identity == self.config.identity
    }

    /// The record last read or written.
    pub fn observed(&self) -> &Record {
        &self.observed
    }

    fn lease_valid(&self, now: i64) -> bool {
        let duration = i64::from(self.observed.lease_duration_seconds).saturating_mul(1000);
        self.observed_at_millis.saturating_add(duration) > now
    }

    fn set_observed(&mut self, record: Record) {
        self.observed = record;
        self.observed_at_millis = self.clock.now_millis();
    }

    /// Writes `record` over the lease last read; the resourceVersion guards the race.
    async fn update(&mut self, record: &Record) -> Result<(), Error> {
        let Some(mut lease) = self.lease.clone() else {
            return Ok(());
        };
        lease.spec = Some(record.to_spec(lease.spec.as_ref()));
        let updated = self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
            .map_err(|e| self.err(e))?;
        self.lease = Some(updated);
        Ok(())
    }

    /// `tryAcquireOrRenew`: `Ok(true)` when this candidate holds the lease afterwards.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, Error> {
        let now = self.clock.now_millis();
        let duration_seconds =
            i32::try_from(self.config.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let mut record = Record {
            holder_identity: self.config.identity.clone(),
            lease_duration_seconds: duration_seconds,
            acquire_time_millis: now,
            renew_time_millis: now,
            leader_transitions: 0,
        };
        // 1. Fast path: the leader renews assuming its last view is current.
        if self.is_leader() && self.lease_valid(now) {
            record.acquire_time_millis = self.observed.acquire_time_millis;
            record.leader_transitions = self.observed.leader_transitions;
            match self.update(&record).await {
                Ok(()) => {
                    self.set_observed(record);
                    return Ok(true);
                }
                Err(e) => tracing::debug!(error = %e, "optimistic lease renewal failed"),
            }
        }
        // 2. Read or create the lease.
        let current = self
            .api
            .get_opt(&self.config.name)
            .await
            .map_err(|e| self.err(e))?;
        let Some(current) = current else {
            let mut lease = Lease::default();
            lease.metadata.name = Some(self.config.name.clone());
            lease.metadata.namespace = Some(self.config.namespace.clone());
            lease.spec = Some(record.to_spec(None));
            let created = self
                .api
                .create(&PostParams::default(), &lease)
                .await
                .map_err(|e| self.err(e))?;
            self.lease = Some(created);
            self.set_observed(record);
            return Ok(true);
        };
        // 3. A changed record restarts the expiry countdown.
        let old = Record::from_spec(current.spec.as_ref());
        self.lease = Some(current);
        if old != self.observed {
            self.set_observed(old.clone());
        }
        if !old.holder_identity.is_empty() && self.lease_valid(now) && !self.is_leader() {
            return Ok(false);
        }
        // 4. Acquire (or renew on the slow path).
        if self.is_leader() {
            record.acquire_time_millis = old.acquire_time_millis;
            record.leader_transitions = old.leader_transitions;
        } else {
            record.leader_transitions = old.leader_transitions.saturating_add(1);
        }
        self.update(&record).await?;
        self.set_observed(record);
        Ok(true)
    }

    /// `release`: gives the lease up so another candidate need not wait for it to expire.
    pub async fn release(&mut self) -> Result<(), Error> {
        let current = self
            .api
            .get_opt(&self.config.name)
            .await
            .map_err(|e| self.err(e))?;
        let Some(current) = current else {
            return Ok(());
        };
        let old = Record::from_spec(current.spec.as_ref());
        self.lease = Some(current);
        if old.holder_identity != self.config.identity {
            return Ok(());
        }
        let now = self.clock.now_millis();
        let record = Record {
            holder_identity: String::new(),
            lease_duration_seconds: 1,
            acquire_time_millis: now,
            renew_time_millis: now,
            leader_transitions: old.leader_transitions,
        };
        self.update(&record).await?;
        self.set_observed(record);
        Ok(())
    }
}

/// Upstream's acquire-loop jitter: the retry period times a factor in [1, 2.2).
fn jittered(period: Duration) -> Duration {
    period.mul_f64(1.0 + rand::random::<f64>() * 1.2)
}

/// How long stopping controllers may take before their task is aborted.
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// Stops a controllers task: cancel, wait a bounded time, then abort.
async fn stop(token: &CancellationToken, task: &mut tokio::task::JoinHandle<()>, exited: bool) {
    token.cancel();
    if exited {
        return;
    }
    if tokio::time::timeout(STOP_LIMIT, &mut *task).await.is_err() {
        tracing::warn!("controllers did not stop in time; aborting them");
        task.abort();
        let _ = task.await;
    }
}

/// Runs `controllers` only while this candidate holds the lease, until `shutdown`.
///
/// `controllers` is called with a token each time leadership is gained; the future must
/// return soon after the token fires. Losing the lease (another holder, or no successful
/// renewal within the renew deadline) fires the token and waits for the controllers to stop
/// before campaigning again. On shutdown the controllers are stopped and the lease released.
pub async fn run_with_leader_election<F, Fut>(
    client: Client,
    config: Config,
    clock: Arc<dyn Clock>,
    mut controllers: F,
    shutdown: CancellationToken,
) where
    F: FnMut(CancellationToken) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let retry = config.retry_period;
    let renew_deadline = i64::try_from(config.renew_deadline.as_millis()).unwrap_or(i64::MAX);
    let mut elector = LeaderElector::new(client, config, clock.clone());
    loop {
        // Campaign.
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            match elector.try_acquire_or_renew().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => tracing::debug!(error = %e, "acquiring the lease failed"),
            }
            if !sleep_on_clock(clock.as_ref(), jittered(retry), &shutdown).await {
                return;
            }
        }
        tracing::info!(identity = %elector.config.identity, "became leader; starting controllers");
        let token = shutdown.child_token();
        let mut task = tokio::spawn(controllers(token.clone()));
        let mut renewed_at = clock.now_millis();
        let mut exited = false;
        // Lead, renewing every retry period.
        loop {
            tokio::select! {
                slept = sleep_on_clock(clock.as_ref(), retry, &shutdown) => {
                    if !slept {
                        break;
                    }
                }
                _ = &mut task => {
                    exited = true;
                    if !shutdown.is_cancelled() {
                        tracing::warn!("controllers exited while leading; giving the lease up");
                    }
                    break;
                }
            }
            match elector.try_acquire_or_renew().await {
                Ok(true) => renewed_at = clock.now_millis(),
                Ok(false) => {
                    tracing::warn!(holder = %elector.observed().holder_identity, "leader election lost");
                    break;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "renewing the lease failed");
                    if clock.now_millis().saturating_sub(renewed_at) > renew_deadline {
                        tracing::warn!("leader election lost: no renewal within the deadline");
                        break;
                    }
                }
            }
        }
        stop(&token, &mut task, exited).await;
        if elector.is_leader() {
            let release = tokio::time::timeout(STOP_LIMIT, elector.release()).await;
            if !matches!(release, Ok(Ok(()))) {
                tracing::debug!("releasing the lease failed; it will expire");
            }
        }
        if shutdown.is_cancelled() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use runlet_test::{EPOCH, TestApi};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn elector(api: &TestApi, who: &str) -> LeaderElector {
        LeaderElector::new(api.client.clone(), Config::new(who), api.clock.clone())
    }

    async fn lease(api: &TestApi) -> Record {
        let leases: Api<Lease> = Api::namespaced(api.client.clone(), "kube-system");
        Record::from_spec(
            leases
                .get("runlet-controllers")
                .await
                .unwrap()
                .spec
                .as_ref(),
        )
    }

    #[tokio::test]
    async fn first_candidate_creates_the_lease_and_renews_it() {
        // Upstream `tryAcquireOrRenew`: a missing lease is created with this holder,
        // acquireTime = renewTime = now; renewals move only renewTime.
        let api = TestApi::start().await;
        let mut a = elector(&api, "a");
        assert!(a.try_acquire_or_renew().await.unwrap());
        let first = lease(&api).await;
        assert_eq!(
            first,
            Record {
                holder_identity: "a".into(),
                lease_duration_seconds: 15,
                acquire_time_millis: EPOCH * 1000,
                renew_time_millis: EPOCH * 1000,
                leader_transitions: 0,
            }
        );
        api.clock.advance_millis(2_000);
        assert!(a.try_acquire_or_renew().await.unwrap());
        let renewed = lease(&api).await;
        assert_eq!(renewed.renew_time_millis, (EPOCH + 2) * 1000);
        assert_eq!(renewed.acquire_time_millis, EPOCH * 1000);
        assert_eq!(renewed.leader_transitions, 0);
    }

    #[tokio::test]
    async fn second_candidate_takes_over_only_after_the_lease_expires() {
        // Upstream: a candidate waits leaseDurationSeconds from when it observed the current
        // record; the takeover sets acquireTime and increments leaseTransitions; the old
        // leader then sees the new holder and is no longer leader.
        let api = TestApi::start().await;
        let mut a = elector(&api, "a");
        let mut b = elector(&api, "b");
        assert!(a.try_acquire_or_renew().await.unwrap());
        assert!(!b.try_acquire_or_renew().await.unwrap(), "held by a");
        api.clock.advance_millis(10_000);
        assert!(a.try_acquire_or_renew().await.unwrap(), "a renews");
        api.clock.advance_millis(10_000);
        assert!(
            !b.try_acquire_or_renew().await.unwrap(),
            "the renewal restarted b's countdown"
        );
        // a stops renewing; the lease is valid strictly before 15 s after b saw the renewal.
        api.clock.advance_millis(14_999);
        assert!(
            !b.try_acquire_or_renew().await.unwrap(),
            "still valid 1 ms early"
        );
        api.clock.advance_millis(1);
        assert!(
            b.try_acquire_or_renew().await.unwrap(),
            "expired: b takes over"
        );
        let rec = lease(&api).await;
        assert_eq!(rec.holder_identity, "b");
        assert_eq!(rec.leader_transitions, 1);
        assert_eq!(rec.acquire_time_millis, (EPOCH + 35) * 1000);
        assert!(!a.try_acquire_or_renew().await.unwrap(), "a lost the lease");
        assert!(!a.is_leader());
    }

    #[tokio::test]
    async fn release_lets_another_candidate_in_after_one_second() {
        // Upstream `release`: empty holderIdentity, leaseDurationSeconds 1.
        let api = TestApi::start().await;
        let mut a = elector(&api, "a");
        let mut b = elector(&api, "b");
        assert!(a.try_acquire_or_renew().await.unwrap());
        assert!(!b.try_acquire_or_renew().await.unwrap());
        a.release().await.unwrap();
        let rec = lease(&api).await;
        assert_eq!(
            (rec.holder_identity.as_str(), rec.lease_duration_seconds),
            ("", 1)
        );
        assert!(
            b.try_acquire_or_renew().await.unwrap(),
            "an empty holder can be taken at once"
        );
        assert_eq!(lease(&api).await.leader_transitions, 1);
    }

    /// Advances the fake clock in retry-period steps until `cond` holds (bounded).
    async fn drive_until(api: &TestApi, what: &str, cond: impl Fn() -> bool) {
        for _ in 0..200 {
            if cond() {
                return;
            }
            api.clock.advance_millis(1_000);
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        panic!("timed out: {what}");
    }

    fn counting(
        running: Arc<AtomicUsize>,
        starts: Arc<AtomicUsize>,
    ) -> impl FnMut(CancellationToken) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
        move |token: CancellationToken| {
            let running = running.clone();
            starts.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                running.fetch_add(1, Ordering::SeqCst);
                token.cancelled().await;
                running.fetch_sub(1, Ordering::SeqCst);
            })
        }
    }

    #[tokio::test]
    async fn only_the_leader_runs_controllers_and_shutdown_hands_over() {
        let api = TestApi::start().await;
        let (ra, sa) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (rb, sb) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let stop_a = CancellationToken::new();
        let stop_b = CancellationToken::new();
        let a = tokio::spawn(run_with_leader_election(
            api.client.clone(),
            Config::new("a"),
            api.clock.clone(),
            counting(ra.clone(), sa.clone()),
            stop_a.clone(),
        ));
        drive_until(&api, "a leads", || ra.load(Ordering::SeqCst) == 1).await;
        let b = tokio::spawn(run_with_leader_election(
            api.client.clone(),
            Config::new("b"),
            api.clock.clone(),
            counting(rb.clone(), sb.clone()),
            stop_b.clone(),
        ));
        // Well past several lease durations: a keeps renewing, b never runs.
        for _ in 0..40 {
            api.clock.advance_millis(1_000);
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        assert_eq!(rb.load(Ordering::SeqCst), 0, "b must not run while a leads");
        assert_eq!(ra.load(Ordering::SeqCst), 1);
        stop_a.cancel();
        tokio::time::timeout(Duration::from_secs(20), a)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ra.load(Ordering::SeqCst), 0, "a's controllers stopped");
        drive_until(&api, "b takes over", || rb.load(Ordering::SeqCst) == 1).await;
        assert_eq!(lease(&api).await.holder_identity, "b");
        stop_b.cancel();
        tokio::time::timeout(Duration::from_secs(20), b)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sa.load(Ordering::SeqCst), 1);
        assert_eq!(sb.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn losing_the_lease_stops_the_controllers() {
        // Upstream OnStoppedLeading: once a renewal finds another holder, leading ends.
        let api = TestApi::start().await;
        let (ra, sa) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let stop_a = CancellationToken::new();
        let a = tokio::spawn(run_with_leader_election(
            api.client.clone(),
            Config::new("a"),
            api.clock.clone(),
            counting(ra.clone(), sa.clone()),
            stop_a.clone(),
        ));
        drive_until(&api, "a leads", || ra.load(Ordering::SeqCst) == 1).await;
        // Another server writes itself into the lease (as after a partition).
        let leases: Api<Lease> = Api::namespaced(api.client.clone(), "kube-system");
        let mut l = leases.get("runlet-controllers").await.unwrap();
        let now = api.clock.now_millis();
        l.spec = Some(
            Record {
                holder_identity: "intruder".into(),
                lease_duration_seconds: 3600,
                acquire_time_millis: now,
                renew_time_millis: now,
                leader_transitions: 1,
            }
            .to_spec(l.spec.as_ref()),
        );
        leases
            .replace("runlet-controllers", &PostParams::default(), &l)
            .await
            .unwrap();
        drive_until(&api, "a stops", || ra.load(Ordering::SeqCst) == 0).await;
        assert_eq!(lease(&api).await.holder_identity, "intruder");
        stop_a.cancel();
        tokio::time::timeout(Duration::from_secs(20), a)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            sa.load(Ordering::SeqCst),
            1,
            "not restarted while the intruder holds it"
        );
    }
}
