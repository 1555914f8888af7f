//! Events expire an hour (the TTL) after they were last written, as upstream's leases make
//! them; one written again meanwhile lives on.
#![allow(clippy::unwrap_used)]

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, Patch, PatchParams, PostParams};
use runlet_apiserver::eventttl::expire;
use runlet_test::TestApi;
use std::time::Duration;

fn event(name: &str, at: &str) -> Event {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
        "reason": "Started", "message": "m", "type": "Normal", "count": 1,
        "firstTimestamp": at, "lastTimestamp": at,
    }))
    .unwrap()
}

#[tokio::test]
async fn events_expire_a_ttl_after_they_were_last_written() {
    let api = TestApi::start().await;
    let events: Api<Event> = Api::default_namespaced(api.client.clone());
    let now = || runlet_api::clock::rfc3339(api.clock.now_unix());
    use runlet_api::clock::Clock;
    for name in ["old", "renewed"] {
        events
            .create(&PostParams::default(), &event(name, &now()))
            .await
            .unwrap();
    }
    let ttl = Duration::from_secs(3600);
    api.clock.advance_millis(30 * 60 * 1000);
    assert_eq!(expire(&api.state, ttl).await.unwrap(), 0);
    // A recorder counts a repeat on the event: its lease would be renewed.
    events
        .patch(
            "renewed",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"count": 2, "lastTimestamp": now()})),
        )
        .await
        .unwrap();
    api.clock.advance_millis(31 * 60 * 1000);
    assert_eq!(expire(&api.state, ttl).await.unwrap(), 1);
    assert!(events.get_opt("old").await.unwrap().is_none());
    assert!(events.get_opt("renewed").await.unwrap().is_some());
    api.clock.advance_millis(30 * 60 * 1000);
    assert_eq!(expire(&api.state, ttl).await.unwrap(), 1);
    assert!(events.get_opt("renewed").await.unwrap().is_none());
}
