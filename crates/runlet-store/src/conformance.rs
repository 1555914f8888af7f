//! Behaviour every [`Store`] backend must have, as one async test suite.
//!
//! Backends call [`run_all`] from their own tests on a fresh, empty store. Panics here are
//! test failures, which is why this module may assert.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{EventKind, ListOptions, Store, StoreError};
use bytes::Bytes;
use futures::StreamExt;
use std::time::Duration;

fn v(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Runs every conformance check against an empty store.
pub async fn run_all(store: &dyn Store) {
    create_get_update_delete(store).await;
    preconditions(store).await;
    list_pagination_and_revisions(store).await;
    watch_from_revision(store).await;
    compaction(store).await;
}

async fn create_get_update_delete(store: &dyn Store) {
    let start = store.current_revision();
    let a = store.create("/c/a", v("1")).await.unwrap();
    assert_eq!(
        a.mod_revision,
        start + 1,
        "revision increments by one per write"
    );
    assert_eq!(
        store.create("/c/a", v("x")).await,
        Err(StoreError::AlreadyExists)
    );
    assert_eq!(
        store.current_revision(),
        start + 1,
        "a failed write takes no revision"
    );
    let got = store.get("/c/a").await.unwrap().unwrap();
    assert_eq!(got.value, v("1"));
    let b = store.update("/c/a", v("2"), None).await.unwrap();
    assert!(b.mod_revision > a.mod_revision);
    let d = store.delete("/c/a", None).await.unwrap();
    assert_eq!(d.value, v("2"), "delete returns the last value");
    assert_eq!(store.get("/c/a").await.unwrap(), None);
    assert_eq!(store.delete("/c/a", None).await, Err(StoreError::NotFound));
    assert_eq!(
        store.update("/c/a", v("3"), None).await,
        Err(StoreError::NotFound)
    );
}

async fn preconditions(store: &dyn Store) {
    let a = store.create("/p/a", v("1")).await.unwrap();
    let stale = a.mod_revision;
    let b = store.update("/p/a", v("2"), Some(stale)).await.unwrap();
    assert_eq!(
        store.update("/p/a", v("3"), Some(stale)).await,
        Err(StoreError::Conflict {
            current: b.mod_revision
        }),
        "a stale revision is a conflict"
    );
    assert_eq!(
        store.delete("/p/a", Some(stale)).await,
        Err(StoreError::Conflict {
            current: b.mod_revision
        })
    );
    store.delete("/p/a", Some(b.mod_revision)).await.unwrap();
}

async fn list_pagination_and_revisions(store: &dyn Store) {
    for i in 0..5 {
        store
            .create(&format!("/l/{i}"), v(&i.to_string()))
            .await
            .unwrap();
    }
    store.create("/lx", v("outside the prefix")).await.unwrap();
    let all = store.list("/l/", &ListOptions::default()).await.unwrap();
    assert_eq!(all.items.len(), 5);
    assert!(!all.more());
    let keys: Vec<&str> = all.items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/l/0", "/l/1", "/l/2", "/l/3", "/l/4"]);

    let first = store
        .list(
            "/l/",
            &ListOptions {
                limit: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(first.items.len(), 2);
    assert!(first.more());
    assert_eq!(first.remaining, 3);
    let rest = store
        .list(
            "/l/",
            &ListOptions {
                start_after: Some(first.items[1].key.clone()),
                revision: Some(first.revision),
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 3);
    assert!(!rest.more());

    // A list at an older revision sees the old state.
    let before = store.current_revision();
    store.update("/l/0", v("changed"), None).await.unwrap();
    store.delete("/l/1", None).await.unwrap();
    let old = store
        .list(
            "/l/",
            &ListOptions {
                revision: Some(before),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(old.items.len(), 5);
    assert_eq!(old.items[0].value, v("0"));
    let now = store.list("/l/", &ListOptions::default()).await.unwrap();
    assert_eq!(now.items.len(), 4);
    assert_eq!(now.items[0].value, v("changed"));

    let future = store.current_revision() + 100;
    assert!(matches!(
        store
            .list(
                "/l/",
                &ListOptions {
                    revision: Some(future),
                    ..Default::default()
                }
            )
            .await,
        Err(StoreError::FutureRevision { .. })
    ));
}

async fn next_event(w: &mut crate::WatchStream) -> crate::Event {
    tokio::time::timeout(Duration::from_secs(5), w.next())
        .await
        .expect("event within 5s")
        .expect("stream open")
        .expect("no error")
}

async fn watch_from_revision(store: &dyn Store) {
    let start = store.current_revision();
    store.create("/w/a", v("1")).await.unwrap();
    let mut w = store.watch("/w/", start).unwrap();
    // The past event replays...
    let e = next_event(&mut w).await;
    assert_eq!((e.kind, e.key.as_str()), (EventKind::Created, "/w/a"));
    // ...and live ones follow, filtered by prefix.
    store.create("/other", v("x")).await.unwrap();
    store.update("/w/a", v("2"), None).await.unwrap();
    store.delete("/w/a", None).await.unwrap();
    let e = next_event(&mut w).await;
    assert_eq!((e.kind, e.value.clone()), (EventKind::Updated, v("2")));
    assert_eq!(e.prev_value, Some(v("1")));
    let e = next_event(&mut w).await;
    assert_eq!((e.kind, e.value.clone()), (EventKind::Deleted, v("2")));
    assert_eq!(e.revision, store.current_revision());

    // Many concurrent writes arrive in revision order.
    let base = store.current_revision();
    let mut w = store.watch("/w/", base).unwrap();
    let writes =
        (0..50).map(|i| store.create(Box::leak(format!("/w/m{i}").into_boxed_str()), v("m")));
    for r in futures::future::join_all(writes).await {
        r.unwrap();
    }
    let mut last = base;
    for _ in 0..50 {
        let e = next_event(&mut w).await;
        assert!(e.revision > last, "events strictly increase");
        last = e.revision;
    }
}

async fn compaction(store: &dyn Store) {
    store.create("/k/a", v("1")).await.unwrap();
    let mid = store
        .update("/k/a", v("2"), None)
        .await
        .unwrap()
        .mod_revision;
    store.create("/k/b", v("1")).await.unwrap();
    store.compact(mid).await.unwrap();
    assert!(store.compacted_revision() >= mid);
    assert!(
        matches!(
            store.watch("/k/", 1).map(|_| ()),
            Err(StoreError::Compacted { .. })
        ) || {
            // Backends that serve the watch from memory may report it on the stream instead.
            let mut w = store.watch("/k/", 1).unwrap();
            matches!(
                tokio::time::timeout(Duration::from_secs(5), w.next()).await,
                Ok(Some(Err(StoreError::Compacted { .. })))
            )
        }
    );
    assert!(matches!(
        store
            .list(
                "/k/",
                &ListOptions {
                    revision: Some(1),
                    ..Default::default()
                }
            )
            .await,
        Err(StoreError::Compacted { .. })
    ));
    // The latest value of every key survives compaction.
    let at_mid = store
        .list(
            "/k/",
            &ListOptions {
                revision: Some(mid),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(at_mid.items.len(), 1);
    assert_eq!(at_mid.items[0].value, v("2"));
    let now = store.list("/k/", &ListOptions::default()).await.unwrap();
    assert_eq!(now.items.len(), 2);
}
