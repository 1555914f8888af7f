//! The CronJob controller: upstream `pkg/controller/cronjob` (`cronjob_controllerv2.go`,
//! `utils.go`) as a kube client of the API.
//!
//! What it does, as upstream: at each time `spec.schedule` names (in `spec.timeZone`, DST
//! handled as robfig/cron does) it creates a Job from `spec.jobTemplate`, named
//! `<cronjob>-<scheduled minutes since the epoch>`, annotated with
//! `batch.kubernetes.io/cronjob-scheduled-timestamp` and controlled by the CronJob; it honours
//! `concurrencyPolicy` (Allow, Forbid, Replace), `startingDeadlineSeconds` (`MissSchedule`),
//! `suspend`, and the history limits (oldest finished Jobs deleted with background
//! propagation); after downtime only the most recent missed time runs, and more than 100 missed
//! times warn `TooManyMissedTimes`; it keeps `status.active`, `lastScheduleTime` and
//! `lastSuccessfulTime` through the status subresource and records upstream's events. One
//! deliberate difference: a run skipped because it is past `startingDeadlineSeconds` is reported
//! as `MissSchedule` (upstream's code means to, but its deadline window hides the missed time,
//! kubernetes/kubernetes#111223), once per missed time. The pure
//! parts (schedule math, the Job built from a CronJob) are in [`runlet_api::cronjob`].
//!
//! # Waking on time, under a real or a fake clock
//!
//! Each CronJob waits in a [`DelayQueue`](queue::DelayQueue) for one instant measured on the
//! controller's [`Clock`]: the next schedule time, computed from the clock when the previous
//! reconcile ended (upstream's `nextScheduleTimeDuration`, without its 100 ms skew padding,
//! because the timer and the schedule read the same clock). [`CronJobController::run`] sleeps
//! with tokio until the earliest queued instant, re-reads the clock, and reconciles what is due,
//! so a Job is created at its scheduled second, not on a polling tick. Watches on CronJobs and
//! Jobs queue a CronJob for "now" whenever it or one of its Jobs changes; after a restart the
//! initial watch list queues every CronJob, and each reconcile resumes from
//! `status.lastScheduleTime` in the store.
//!
//! Because due times live on the clock's scale, a test never sleeps: it moves the
//! [`FakeClock`](runlet_api::clock::FakeClock) and calls [`CronJobController::run_due`], which
//! reconciles everything now due and returns when its writes are done (or
//! [`CronJobController::sync_all`] to queue every CronJob first, as a restart does). A test of
//! the full `run` loop calls [`CronJobController::wake`] after moving the clock.

mod controller;
pub mod events;
pub mod queue;
mod sync;

pub use controller::CronJobController;
pub use queue::ObjectKey;
pub use sync::Action;

use runlet_api::clock::Clock;
use std::future::Future;
use std::sync::Arc;

/// Why a CronJob reconcile (or the controller) failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request to the API server failed; `what` names the request.
    #[error("{what}: {source}")]
    Api {
        /// The request, e.g. `create job default/backup-29453761`.
        what: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// Under `concurrencyPolicy: Replace`, a running Job could not be deleted.
    #[error("could not replace job {namespace}/{name}")]
    Replace {
        /// The Job's namespace.
        namespace: String,
        /// The Job's name.
        name: String,
    },
    /// A watch stream ended, which kube's watcher does not do while its client lives.
    #[error("the {0} watch ended")]
    WatchEnded(&'static str),
}

impl Error {
    fn api(what: impl Into<String>, source: kube::Error) -> Self {
        Error::Api {
            what: what.into(),
            source,
        }
    }
}

/// Names the request of a failed API call.
trait ApiContext<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T> ApiContext<T> for Result<T, kube::Error> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|source| Error::api(what(), source))
    }
}

/// Runs the CronJob controller until `shutdown` completes. This is what `runlet server` calls
/// (under the controllers' leader election).
pub async fn run(
    client: kube::Client,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    CronJobController::new(client, clock).run(shutdown).await
}

#[cfg(test)]
mod tests;
