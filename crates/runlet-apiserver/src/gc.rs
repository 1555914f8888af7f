//! Namespace finalization, done by the API server.
//!
//! Deletion propagation (Orphan, Background, Foreground, dangling dependents) is the garbage
//! collector's work in `runlet-controllers`; the server only records the request as the
//! `orphan` / `foregroundDeletion` finalizers. A terminating namespace is emptied here and
//! then removed, because the namespace's lifecycle (no creates while terminating) is enforced
//! here; [`resume`] restarts unfinished namespace finalization after a server restart.

use crate::handlers::delete::{DeleteOptions, delete_object};
use crate::registry::{self, UpdateTarget};
use crate::state::AppState;
use runlet_api::meta;
use runlet_api::resources::{RESOURCES, ResourceInfo};
use runlet_store::{KeyValue, ListOptions};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

pub const ORPHAN: &str = "orphan";
pub const FOREGROUND: &str = "foregroundDeletion";
/// How long namespace finalization waits for the namespace to empty.
const WAIT_LIMIT: Duration = Duration::from_secs(600);

/// Empties a terminating namespace, then removes it. Meanwhile its status conditions say what
/// is left, as upstream's namespace deleter's do (`kubectl describe namespace` shows them).
pub fn finalize_namespace(state: &AppState, ns: String) {
    let state = state.clone();
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
        loop {
            delete_content(&state, &ns).await;
            let remaining = remaining_content(&state, &ns).await;
            report_remaining(&state, &ns, &remaining).await;
            if remaining.is_empty() || tokio::time::Instant::now() >= deadline {
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

/// What namespace `ns` holds, per namespaced resource that has something there.
async fn namespace_content(
    state: &AppState,
    ns: &str,
) -> Vec<(&'static ResourceInfo, Vec<KeyValue>)> {
    let mut content = Vec::new();
    for info in RESOURCES.iter().filter(|r| r.namespaced && !r.is_alias()) {
        if let Ok(list) = state
            .store
            .list(&info.namespace_prefix(ns), &ListOptions::default())
            .await
            && !list.items.is_empty()
        {
            content.push((info, list.items));
        }
    }
    content
}

/// Asks every object of namespace `ns` not yet being deleted to go (in the background).
async fn delete_content(state: &AppState, ns: &str) {
    for (info, items) in namespace_content(state, ns).await {
        for kv in items {
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
            let _ = delete_object(state, info, Some(ns), &name, opts).await;
        }
    }
}

/// What is still in a terminating namespace: objects per resource (`pods.`, `jobs.batch`, as
/// upstream writes a group-resource there) and per finalizer they still carry.
#[derive(Debug, Default, PartialEq)]
struct Remaining {
    by_resource: BTreeMap<String, usize>,
    by_finalizer: BTreeMap<String, usize>,
}

impl Remaining {
    fn is_empty(&self) -> bool {
        self.by_resource.is_empty()
    }

    /// The namespace deleter's five conditions: `(type, status, reason, message)`.
    fn conditions(&self) -> [(&'static str, &'static str, &'static str, String); 5] {
        let content = remaining_condition(
            &self.by_resource,
            "SomeResourcesRemain",
            "Some resources are remaining",
            " has ",
        );
        let finalizers = remaining_condition(
            &self.by_finalizer,
            "SomeFinalizerRemain",
            "Some finalizers are remaining",
            " in ",
        );
        [
            (
                "NamespaceDeletionDiscoveryFailure",
                "False",
                "ResourcesDiscovered",
                "All resources successfully discovered".to_string(),
            ),
            (
                "NamespaceDeletionGroupVersionParsingFailure",
                "False",
                "ParsedGroupVersions",
                "All legacy kube types successfully parsed".to_string(),
            ),
            (
                "NamespaceDeletionContentFailure",
                "False",
                "ContentDeleted",
                "All content successfully deleted, may be waiting on finalization".to_string(),
            ),
            ("NamespaceContentRemaining", content.0, content.1, content.2),
            (
                "NamespaceFinalizersRemaining",
                finalizers.0,
                finalizers.1,
                finalizers.2,
            ),
        ]
    }
}

/// `ProcessContentTotals`' condition for one count: what is left and how many, or that all
/// content is gone: `(status, reason, message)`.
fn remaining_condition(
    counts: &BTreeMap<String, usize>,
    reason: &'static str,
    message: &str,
    how: &str,
) -> (&'static str, &'static str, String) {
    if counts.is_empty() {
        return (
            "False",
            "ContentRemoved",
            "All content successfully removed".to_string(),
        );
    }
    let listed: Vec<String> = counts
        .iter()
        .map(|(what, n)| format!("{what}{how}{n} resource instances"))
        .collect();
    ("True", reason, format!("{message}: {}", listed.join(", ")))
}

async fn remaining_content(state: &AppState, ns: &str) -> Remaining {
    let mut remaining = Remaining::default();
    for (info, items) in namespace_content(state, ns).await {
        remaining
            .by_resource
            .insert(format!("{}.{}", info.plural, info.group), items.len());
        for kv in &items {
            let Ok(obj) = registry::from_stored(kv) else {
                continue;
            };
            for finalizer in meta::finalizers(&obj) {
                *remaining.by_finalizer.entry(finalizer).or_default() += 1;
            }
        }
    }
    remaining
}

/// Writes the namespace's deletion conditions when they changed (`updateConditions`: a
/// condition's transition time moves only when its status does).
async fn report_remaining(state: &AppState, ns: &str, remaining: &Remaining) {
    let Some(namespaces) = runlet_api::resources::find("", "v1", "namespaces") else {
        return;
    };
    let Ok(obj) = registry::get(state, namespaces, None, ns).await else {
        return;
    };
    let old = obj["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let now = registry::now_rfc3339(state);
    let mut conditions = old.clone();
    for (type_, status, reason, message) in remaining.conditions() {
        let wanted = json!({"type": type_, "status": status, "lastTransitionTime": now,
            "reason": reason, "message": message});
        match conditions.iter_mut().find(|c| c["type"] == type_) {
            None => conditions.push(wanted),
            Some(c) if c["status"] != status => *c = wanted,
            Some(c) => {
                c["reason"] = json!(reason);
                c["message"] = json!(message);
            }
        }
    }
    if conditions == old {
        return;
    }
    let mut new = Value::clone(&obj);
    new["status"]["conditions"] = Value::Array(conditions);
    let opts = registry::WriteOptions {
        trusted: true,
        ..registry::WriteOptions::default()
    };
    if let Err(e) = registry::update(state, namespaces, &obj, new, UpdateTarget::Status, opts).await
        && !registry::is_conflict(&e)
    {
        tracing::warn!(namespace = %ns, error = %e.0.message, "reporting what a terminating namespace holds");
    }
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
