//! Namespace finalization, done by the API server.
//!
//! Deletion propagation (Orphan, Background, Foreground, dangling dependents) is the garbage
//! collector's work in `runlet-controllers`; the server only records the request as the
//! `orphan` / `foregroundDeletion` finalizers. A terminating namespace is emptied here and
//! then removed, because the namespace's lifecycle (no creates while terminating) is enforced
//! here; [`resume`] restarts unfinished namespace finalization after a server restart.

use crate::handlers::delete::{DeleteOptions, delete_object};
use crate::registry;
use crate::state::AppState;
use runlet_api::meta;
use runlet_api::resources::RESOURCES;
use runlet_store::ListOptions;
use std::time::Duration;

pub const ORPHAN: &str = "orphan";
pub const FOREGROUND: &str = "foregroundDeletion";
/// How long namespace finalization waits for the namespace to empty.
const WAIT_LIMIT: Duration = Duration::from_secs(600);

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
        if registry::SYSTEM_NAMESPACES.contains(&ns.as_str())
            && let Err(e) = crate::ensure_namespace(&state, &ns).await
        {
            tracing::warn!(namespace = %ns, error = %e.0.message, "creating a system namespace again");
        }
    });
}

/// After a restart: picks up namespace deletions that were in progress.
pub async fn resume(state: &AppState) {
    for info in RESOURCES
        .iter()
        .filter(|r| r.kind == "Namespace" && r.group.is_empty())
    {
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
            finalize_namespace(state, meta::name(&obj).unwrap_or_default().to_string());
        }
    }
}
