//! A watch's bookmarks carry the store's progress, as upstream's watch cache's do, so a watch
//! of a quiet resource can resume after history before it was compacted (no relist).
#![allow(clippy::unwrap_used)]

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolume};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use runlet_store::Store;
use runlet_test::TestApi;

#[tokio::test(start_paused = true)]
async fn a_quiet_watch_s_bookmarks_carry_the_store_s_progress() {
    let api = TestApi::start().await;
    let volumes: Api<PersistentVolume> = Api::all(api.client.clone());
    let from = volumes
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let cms: Api<ConfigMap> = Api::default_namespaced(api.client.clone());
    let mut written = 0;
    for i in 0..3 {
        let cm: ConfigMap =
            serde_json::from_value(serde_json::json!({"metadata": {"name": format!("c{i}")}}))
                .unwrap();
        let created = cms.create(&PostParams::default(), &cm).await.unwrap();
        written = created.metadata.resource_version.unwrap().parse().unwrap();
    }
    let mut stream = volumes
        .watch(&WatchParams::default().timeout(290), &from)
        .await
        .unwrap()
        .boxed();
    // Written before the watch starts (from before them): paused time runs on to each bookmark
    // tick whenever nothing else is to be done, waits for the store's writer thread included.
    for _ in 0..10 {
        match stream.next().await.unwrap().unwrap() {
            WatchEvent::Bookmark(b) => {
                let at: i64 = b.metadata.resource_version.parse().unwrap();
                if at >= written {
                    api.store.compact(written).await.unwrap();
                    let resume = |rv: String| {
                        let volumes = volumes.clone();
                        async move {
                            volumes
                                .watch(&WatchParams::default().timeout(1), &rv)
                                .await
                                .unwrap()
                                .boxed()
                                .next()
                                .await
                        }
                    };
                    // From where the watch began, history is gone; from its bookmark, nothing
                    // before the compaction is needed.
                    assert!(matches!(
                        resume(from.clone()).await,
                        Some(Ok(WatchEvent::Error(e))) if e.code == 410
                    ));
                    let next = resume(at.to_string()).await;
                    assert!(!matches!(next, Some(Ok(WatchEvent::Error(_)))), "{next:?}");
                    return;
                }
            }
            other => panic!("a watch of no volumes got {other:?}"),
        }
    }
    panic!("no bookmark reached revision {written}");
}
