//! Deletion propagation and namespace finalization, done by the API server itself for now.
//!
//! Kubernetes runs these in controllers (garbage collector, namespace controller); runlet's
//! controllers issue will move them there. Until then the server does the same work in
//! background tasks: Background deletes dependents after the owner is gone; Orphan strips the
//! owner's references from dependents and then drops the `orphan` finalizer; Foreground deletes
//! dependents and drops `foregroundDeletion` once none remain; a terminating namespace is
//! emptied and then removed. [`resume`] restarts unfinished work after a server restart.

use crate::handlers::delete::{DeleteOptions, delete_object};
use crate::registry::{self, UpdateTarget, WriteOptions};
use crate::state::AppState;
use runlet_api::meta;
use runlet_api::resources::{RESOURCES, ResourceInfo};
use runlet_store::ListOptions;
use serde_json::Value;
use std::time::Duration;

pub const ORPHAN: &str = "orphan";
pub const FOREGROUND: &str = "foregroundDeletion";
/// How long a foreground deletion or namespace finalization waits for dependents.
const WAIT_LIMIT: Duration = Duration::from_secs(600);

/// Every object in `ns` (or everywhere, when `None`) that lists `uid` as an owner.
async fn dependents(
    state: &AppState,
    ns: Option<&str>,
    uid: &str,
) -> Vec<(&'static ResourceInfo, Value)> {
    let mut out = Vec::new();
    for info in RESOURCES.iter().filter(|r| !r.is_alias()) {
        let prefix = match (info.namespaced, ns) {
            (true, Some(ns)) => info.namespace_prefix(ns),
            _ => info.key_prefix(),
        };
        let Ok(list) = state.store.list(&prefix, &ListOptions::default()).await else {
            continue;
        };
        for kv in list.items {
            let Ok(obj) = registry::from_stored(&kv) else {
                continue;
            };
            let owned = obj["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r["uid"].as_str() == Some(uid)));
            if owned {
                out.push((info, obj));
            }
        }
    }
    out
}

/// Called after `obj` left the store: deletes its dependents in the background.
pub fn after_delete(state: &AppState, info: &ResourceInfo, obj: &Value) {
    let Some(uid) = meta::uid(obj).map(str::to_string) else {
        return;
    };
    let ns = if info.namespaced {
        meta::namespace(obj).map(str::to_string)
    } else {
        None
    };
    let state = state.clone();
    tokio::spawn(async move {
        delete_dependents(&state, ns.as_deref(), &uid).await;
    });
}

async fn delete_dependents(state: &AppState, ns: Option<&str>, uid: &str) -> usize {
    let deps = dependents(state, ns, uid).await;
    let n = deps.len();
    for (info, dep) in deps {
        let name = meta::name(&dep).unwrap_or_default().to_string();
        let opts = DeleteOptions {
            propagation: Some("Background".into()),
            ..Default::default()
        };
        if let Err(e) = Box::pin(delete_object(
            state,
            info,
            meta::namespace(&dep),
            &name,
            opts,
        ))
        .await
            && e.0.code != 404
        {
            tracing::warn!(dependent = %name, error = %e.0.message, "deleting dependent failed");
        }
    }
    n
}

/// Starts the work an object's deletion finalizers ask for.
pub fn process_finalizers(state: &AppState, info: &'static ResourceInfo, obj: &Value) {
    let finalizers = meta::finalizers(obj);
    let Some(uid) = meta::uid(obj).map(str::to_string) else {
        return;
    };
    let name = meta::name(obj).unwrap_or_default().to_string();
    let ns = meta::namespace(obj).map(str::to_string);
    let state = state.clone();
    if finalizers.iter().any(|f| f == ORPHAN) {
        tokio::spawn(async move {
            let scope = if info.namespaced { ns.as_deref() } else { None };
            for (dep_info, dep) in dependents(&state, scope, &uid).await {
                let mut new = dep.clone();
                if let Some(refs) = new["metadata"]["ownerReferences"].as_array_mut() {
                    refs.retain(|r| r["uid"].as_str() != Some(uid.as_str()));
                    if refs.is_empty() {
                        meta::remove(&mut new, "ownerReferences");
                    }
                }
                if let Err(e) = registry::update(
                    &state,
                    dep_info,
                    &dep,
                    new,
                    UpdateTarget::Main,
                    WriteOptions {
                        dry_run: false,
                        trusted: true,
                    },
                )
                .await
                {
                    tracing::warn!(error = %e.0.message, "orphaning dependent failed");
                }
            }
            remove_finalizer(&state, info, ns.as_deref(), &name, ORPHAN).await;
        });
    } else if finalizers.iter().any(|f| f == FOREGROUND) {
        tokio::spawn(async move {
            let scope = if info.namespaced { ns.as_deref() } else { None };
            let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
            while delete_dependents(&state, scope, &uid).await > 0
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            remove_finalizer(&state, info, ns.as_deref(), &name, FOREGROUND).await;
        });
    }
}

/// Removes `finalizer` from the object, retrying on conflicts.
pub async fn remove_finalizer(
    state: &AppState,
    info: &ResourceInfo,
    ns: Option<&str>,
    name: &str,
    finalizer: &str,
) {
    for _ in 0..20 {
        let Ok(obj) = registry::get(state, info, ns, name).await else {
            return;
        };
        let mut new = obj.clone();
        if let Some(list) = new["metadata"]["finalizers"].as_array_mut() {
            list.retain(|f| f.as_str() != Some(finalizer));
        }
        match registry::update(
            state,
            info,
            &obj,
            new,
            UpdateTarget::Main,
            WriteOptions {
                dry_run: false,
                trusted: true,
            },
        )
        .await
        {
            Ok(_) => return,
            Err(e) if registry::is_conflict(&e) => continue,
            Err(e) => {
                tracing::warn!(object = name, error = %e.0.message, "removing finalizer failed");
                return;
            }
        }
    }
}

/// Empties a terminating namespace, then removes it.
pub fn finalize_namespace(state: &AppState, ns: String) {
    let state = state.clone();
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
        loop {
            let mut remaining = 0;
            for info in RESOURCES.iter().filter(|r| r.namespaced && !r.is_alias()) {
                let Ok(list) = state
                    .store
                    .list(&info.namespace_prefix(&ns), &ListOptions::default())
                    .await
                else {
                    continue;
                };
                for kv in list.items {
                    remaining += 1;
                    let Ok(obj) = registry::from_stored(&kv) else {
                        continue;
                    };
                    if meta::is_deleting(&obj) {
                        continue;
                    }
                    let name = meta::name(&obj).unwrap_or_default().to_string();
                    let opts = DeleteOptions {
                        propagation: Some("Background".into()),
                        ..Default::default()
                    };
                    let _ = delete_object(&state, info, Some(&ns), &name, opts).await;
                }
            }
            if remaining == 0 || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let Some(namespaces) = runlet_api::resources::find("", "v1", "namespaces") else {
            return;
        };
        if let Ok(obj) = registry::get(&state, namespaces, None, &ns).await
            && let Some(rv) = meta::resource_version(&obj).and_then(|r| r.parse().ok())
            && let Err(e) = registry::remove(&state, namespaces, &obj, rv).await
        {
            tracing::warn!(namespace = %ns, error = %e, "removing namespace failed");
        }
    });
}

/// After a restart: picks up deletions that were in progress.
pub async fn resume(state: &AppState) {
    for info in RESOURCES.iter().filter(|r| !r.is_alias()) {
        let Ok(list) = state
            .store
            .list(&info.key_prefix(), &ListOptions::default())
            .await
        else {
            continue;
        };
        for kv in list.items {
            let Ok(obj) = registry::from_stored(&kv) else {
                continue;
            };
            if !meta::is_deleting(&obj) {
                continue;
            }
            if info.kind == "Namespace" {
                finalize_namespace(state, meta::name(&obj).unwrap_or_default().to_string());
            } else {
                process_finalizers(state, info, &obj);
            }
        }
    }
}
