//! runlet's controllers. Each is an API client (`kube`), never touching the store directly, so
//! it runs in-process inside `runlet server` or against any Kubernetes API server.
//!
//! - [`job`]: the Job controller (upstream `pkg/controller/job` semantics).
//! - [`cronjob`]: the CronJob controller (upstream `pkg/controller/cronjob`).
//! - [`gc`]: the garbage collector (ownerReference graph; Background, Foreground and Orphan
//!   propagation; dangling dependents).
//! - [`ttl`]: the TTL-after-finished controller (deletes finished Jobs after
//!   `ttlSecondsAfterFinished`).
//! - [`leader`]: leader election through a `coordination.k8s.io/v1` Lease, so only one server
//!   runs the controllers.
//! - [`scheduler`]: binds pending pods to Ready nodes with room.
//! - [`records`]: one `runlet.dev/v1` PodRecord per pod a Job ran, kept until the Job goes.
//! - [`volumeprotection`]: claims in use and bound volumes are kept until unused (upstream's
//!   `pvcprotection` and `pvprotection`).
//! - [`serviceaccounts`]: every namespace has a ServiceAccount `default`.
//! - [`rootca`]: every namespace has the ConfigMap `kube-root-ca.crt` with the server's CA.
//! - [`per_namespace`]: what those two share: keeping one object in every namespace.
//! - [`clockqueue`]: the work queue they share, whose timed re-adds follow the `Clock`.

pub mod clockqueue;
pub mod correlate;
pub mod cronjob;
pub mod ephemeral;
pub mod event;
pub mod gc;
pub mod job;
pub mod leader;
pub mod nodelifecycle;
pub mod per_namespace;
pub mod persistentvolume;
pub mod podfeed;
pub mod records;
pub mod rootca;
pub mod scheduler;
pub mod serviceaccounts;
pub mod ttl;
pub mod volumeprotection;

use runlet_api::clock::Clock;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The message of an API error, as Go's `%v` of a client-go error prints it (what upstream's
/// controllers put into their events): the Status message alone, not its debug form.
pub(crate) fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

/// Runs every controller of this crate until `shutdown`; all their tasks have stopped when
/// this returns. `runlet server` calls it under [`leader::run_with_leader_election`]. With
/// `root_ca` (the PEM of the CA that signed the API server's certificate), [`rootca`]
/// publishes it in every namespace. The controllers that read every pod subscribe to `pods`,
/// a pod feed that outlives them (the server's, which its node agent reads too). The scheduler
/// writes its events at most at `event_rate`.
pub async fn run_controllers(
    client: kube::Client,
    clock: Arc<dyn Clock>,
    root_ca: Option<String>,
    pods: podfeed::PodFeedHandle,
    event_rate: runlet_client::rate::Rate,
    shutdown: CancellationToken,
) {
    let job_shutdown = shutdown.clone();
    let job_pods = pods.subscribe();
    let record_pods = pods.subscribe();
    let scheduler_pods = pods.subscribe();
    let protection_pods = pods.subscribe();
    let ephemeral_pods = pods.subscribe();
    let lifecycle_pods = pods.subscribe();
    let gc_pods = pods.subscribe();
    let publish_ca = {
        let (client, shutdown) = (client.clone(), shutdown.clone());
        async move {
            if let Some(ca) = root_ca {
                rootca::run(client, ca, shutdown).await;
            }
        }
    };
    let (_, _, _, job, _, cronjob, _, _, _, _, _, _) = tokio::join!(
        gc::run_with_pods(
            client.clone(),
            clock.clone(),
            gc::Config::default(),
            Some(gc_pods),
            shutdown.clone()
        ),
        ttl::run(client.clone(), clock.clone(), 2, shutdown.clone()),
        nodelifecycle::run(
            client.clone(),
            clock.clone(),
            lifecycle_pods,
            nodelifecycle::Config::default(),
            shutdown
        ),
        job::JobController::new(client.clone(), clock.clone(), job::Config::default())
            .with_pods(job_pods)
            .run(job_shutdown.clone().cancelled_owned()),
        scheduler::Scheduler::new(client.clone(), clock.clone())
            .with_pods(scheduler_pods)
            .with_event_rate(event_rate)
            .run(job_shutdown.clone()),
        cronjob::run(
            client.clone(),
            clock.clone(),
            job_shutdown.clone().cancelled_owned()
        ),
        volumeprotection::run(client.clone(), protection_pods, job_shutdown.clone()),
        persistentvolume::run(client.clone(), clock.clone(), job_shutdown.clone()),
        ephemeral::run(client.clone(), ephemeral_pods, job_shutdown.clone()),
        serviceaccounts::run(client.clone(), job_shutdown.clone()),
        publish_ca,
        records::run_with_pods(client, clock, 4, record_pods, job_shutdown),
    );
    if let Err(e) = job {
        tracing::error!(error = %e, "job controller stopped with an error");
    }
    if let Err(e) = cronjob {
        tracing::error!(error = %e, "cronjob controller stopped with an error");
    }
}
