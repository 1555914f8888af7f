//! Events expire. Upstream's API server stores each Event under an etcd lease of `--event-ttl`
//! (1 h by default), renewed at every write of it, so the thousands of Events a busy cluster
//! records go away by themselves; nothing else deletes them (the garbage collector leaves
//! Events alone, and they have no owners). runlet's store has no leases, so a sweep deletes
//! every Event whose last activity is older than the TTL: the newest of its
//! `lastTimestamp`, `eventTime`, `series.lastObservedTime` and `metadata.creationTimestamp`,
//! which each write of an Event by a recorder moves, as each write renewed the lease upstream.
//! Watchers see a `DELETED` event, as they do when a lease expires.

use crate::AppState;
use runlet_store::{ListOptions, StoreError};
use serde::Deserialize;
use std::time::Duration;

/// The fields of a stored Event that tell when it was last written.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Activity {
    metadata: Metadata,
    last_timestamp: Option<String>,
    event_time: Option<String>,
    series: Option<Series>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Metadata {
    creation_timestamp: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Series {
    last_observed_time: Option<String>,
}

impl Activity {
    /// The newest of its times, in Unix seconds; `None` when it has none that parse.
    fn last(&self) -> Option<i64> {
        [
            self.last_timestamp.as_deref(),
            self.event_time.as_deref(),
            self.series
                .as_ref()
                .and_then(|s| s.last_observed_time.as_deref()),
            self.metadata.creation_timestamp.as_deref(),
        ]
        .into_iter()
        .flatten()
        .filter_map(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
        .map(|t| t.as_second())
        .max()
    }
}

/// How often [`expiry_loop`] sweeps: a sixtieth of the TTL, between 1 s and 1 min.
fn sweep_period(ttl: Duration) -> Duration {
    (ttl / 60).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Deletes expired Events forever (run as a task).
pub async fn expiry_loop(state: AppState, ttl: Duration) {
    loop {
        tokio::time::sleep(sweep_period(ttl)).await;
        match expire(&state, ttl).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(events = n, "expired events"),
            Err(e) => tracing::warn!(error = %e, "expiring events failed"),
        }
    }
}

/// Deletes every Event last written more than `ttl` ago on the state's clock; how many. An
/// Event written again meanwhile (its revision moved) stays.
pub async fn expire(state: &AppState, ttl: Duration) -> Result<usize, StoreError> {
    let Some(events) = runlet_api::resources::find("", "v1", "events") else {
        return Ok(0);
    };
    let cutoff = state.clock.now_unix() - i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
    let listed = state
        .store
        .list(&events.key_prefix(), &ListOptions::default())
        .await?;
    let mut expired = 0;
    for kv in listed.items {
        let last = serde_json::from_slice::<Activity>(&kv.value)
            .ok()
            .and_then(|a| a.last());
        if last.is_some_and(|t| t < cutoff) {
            match state.store.delete(&kv.key, Some(kv.mod_revision)).await {
                Ok(_) => expired += 1,
                Err(StoreError::Conflict { .. } | StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(expired)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_s_last_activity_is_its_newest_time() {
        let a: Activity = serde_json::from_value(serde_json::json!({
            "metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"},
            "lastTimestamp": "2026-01-01T00:10:00Z",
            "series": {"lastObservedTime": "2026-01-01T00:20:00.123456Z", "count": 3},
            "eventTime": null,
        }))
        .unwrap_or_default();
        assert_eq!(a.last(), Some(1_767_226_800));
        assert_eq!(Activity::default().last(), None);
    }

    #[test]
    fn sweeps_are_a_sixtieth_of_the_ttl_within_bounds() {
        assert_eq!(
            sweep_period(Duration::from_secs(3600)),
            Duration::from_secs(60)
        );
        assert_eq!(
            sweep_period(Duration::from_secs(600)),
            Duration::from_secs(10)
        );
        assert_eq!(sweep_period(Duration::from_secs(5)), Duration::from_secs(1));
    }
}
