//! The attempt-to-delete and attempt-to-orphan workers (upstream `garbagecollector.go`:
//! `attemptToDeleteItem`, `processDeletingDependentsItem`, `classifyReferences`,
//! `orphanDependents`). Every decision is re-checked against a live GET, never the graph alone.

use super::graph::{FOREGROUND, ORPHAN, ObjectId};
use super::{Error, GraphEvent, Shared};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions};
use kube::core::ApiResource;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// How a finished attempt leaves its key.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    Done,
    /// Try again after the rate limiter's delay.
    Retry,
}

/// Optimistic-concurrency retries of one metadata patch.
const PATCH_ATTEMPTS: usize = 5;

pub(super) async fn delete_loop(shared: Arc<Shared>, shutdown: CancellationToken) {
    while let Some(uid) = shared.delete_q.get(&shutdown).await {
        let outcome = attempt_to_delete(&shared, &uid).await;
        finish(&shared.delete_q, &uid, outcome, "attempt to delete");
    }
}

pub(super) async fn orphan_loop(shared: Arc<Shared>, shutdown: CancellationToken) {
    while let Some(uid) = shared.orphan_q.get(&shutdown).await {
        let outcome = attempt_to_orphan(&shared, &uid).await;
        finish(&shared.orphan_q, &uid, outcome, "attempt to orphan");
    }
}

fn finish(
    q: &crate::clockqueue::WorkQueue<String>,
    uid: &String,
    outcome: Result<Next, Error>,
    what: &str,
) {
    match outcome {
        Ok(Next::Done) => q.forget(uid),
        Ok(Next::Retry) => q.add_rate_limited(uid.clone()),
        Err(e) => {
            tracing::debug!(uid = %uid, error = %e, "{what} failed");
            q.add_rate_limited(uid.clone());
        }
    }
    q.done(uid);
}

/// The API for `api_version`/`kind` in `namespace`; `None` when a namespaced kind is asked for
/// without a namespace (a cluster-scoped dependent cannot have a namespaced owner).
fn api_for(
    shared: &Shared,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
) -> Result<Option<Api<DynamicObject>>, Error> {
    let info =
        runlet_api::resources::by_kind(api_version, kind).ok_or_else(|| Error::UnknownKind {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
        })?;
    let ar = ApiResource {
        group: info.group.to_string(),
        version: info.version.to_string(),
        api_version: info.api_version(),
        kind: info.kind.to_string(),
        plural: info.plural.to_string(),
    };
    let client = shared.client.clone();
    Ok(match (info.namespaced, namespace) {
        (false, _) => Some(Api::all_with(client, &ar)),
        (true, Some(ns)) => Some(Api::namespaced_with(client, ns, &ar)),
        (true, None) => None,
    })
}

/// The live object with `id`'s name and uid, if any.
async fn get_live(shared: &Shared, id: &ObjectId) -> Result<Option<DynamicObject>, Error> {
    let Some(api) = api_for(shared, &id.api_version, &id.kind, id.namespace.as_deref())? else {
        return Ok(None);
    };
    let obj = api.get_opt(&id.name).await?;
    Ok(obj.filter(|o| o.metadata.uid.as_deref() == Some(id.uid.as_str())))
}

fn has_finalizer(obj: &DynamicObject, f: &str) -> bool {
    obj.metadata.finalizers.iter().flatten().any(|x| x == f)
}

async fn virtual_delete(shared: &Shared, id: ObjectId) -> Result<Next, Error> {
    shared
        .events
        .send(GraphEvent::VirtualDelete(id))
        .await
        .map_err(|_| Error::Stopped)?;
    Ok(Next::Done)
}

/// How one ownerReference resolves.
enum OwnerState {
    /// The owner exists and is not waiting for its dependents.
    Solid,
    /// The owner does not exist (no object with that name and uid).
    Dangling,
    /// The owner is being deleted in the foreground.
    Waiting,
    /// A namespaced owner of a cluster-scoped dependent, which cannot be: upstream's
    /// `namespacedOwnerOfClusterScopedObjectErr`, for which the dependent is left alone.
    NamespacedOwnerOfClusterScoped,
}

/// `isDangling` + `classifyReferences` for one reference of a dependent in `namespace`.
async fn classify(
    shared: &Shared,
    r: &OwnerReference,
    namespace: Option<&str>,
) -> Result<OwnerState, Error> {
    let id = ObjectId {
        api_version: r.api_version.clone(),
        kind: r.kind.clone(),
        namespace: namespace.map(str::to_string),
        name: r.name.clone(),
        uid: r.uid.clone(),
    };
    if namespace.is_none()
        && runlet_api::resources::by_kind(&r.api_version, &r.kind).is_some_and(|i| i.namespaced)
    {
        return Ok(OwnerState::NamespacedOwnerOfClusterScoped);
    }
    if shared.is_known_absent(&id) {
        return Ok(OwnerState::Dangling);
    }
    let owner = match get_live(shared, &id).await {
        Ok(o) => o,
        Err(Error::UnknownKind { api_version, kind }) => {
            // Upstream cannot map the kind either and leaves the dependent alone.
            tracing::debug!(%api_version, %kind, "owner kind not served; reference kept");
            return Ok(OwnerState::Solid);
        }
        Err(e) => return Err(e),
    };
    Ok(match owner {
        None => {
            shared.mark_absent(id);
            OwnerState::Dangling
        }
        Some(o) if o.metadata.deletion_timestamp.is_some() && has_finalizer(&o, FOREGROUND) => {
            OwnerState::Waiting
        }
        Some(_) => OwnerState::Solid,
    })
}

/// `attemptToDeleteItem`.
async fn attempt_to_delete(shared: &Shared, uid: &str) -> Result<Next, Error> {
    let Some(node) = shared.graph().node(uid).cloned() else {
        return Ok(Next::Done);
    };
    if node.being_deleted && !node.deleting_dependents {
        // A one-way trip: its dependents are handled when it is gone.
        return Ok(Next::Done);
    }
    let latest = match get_live(shared, &node.id).await {
        Ok(Some(o)) => o,
        Ok(None) => return virtual_delete(shared, node.id).await,
        Err(Error::UnknownKind { .. }) if !node.observed => {
            // A reference to a kind nobody serves: nothing to verify or delete.
            return Ok(Next::Done);
        }
        Err(e) => return Err(e),
    };
    if !node.observed {
        // The owner exists but the watch has not delivered it yet (upstream requeues so a
        // virtual node for an object added and removed during a relist cannot get stuck).
        return Ok(Next::Retry);
    }
    if node.deleting_dependents {
        return process_deleting_dependents(shared, &node.id, &latest).await;
    }
    let refs: Vec<OwnerReference> = latest.metadata.owner_references.clone().unwrap_or_default();
    if refs.is_empty() {
        return Ok(Next::Done);
    }
    let ns = latest.metadata.namespace.as_deref();
    let (mut solid, mut dangling, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
    for r in &refs {
        match classify(shared, r, ns).await? {
            OwnerState::Solid => solid.push(r.uid.clone()),
            OwnerState::Dangling => dangling.push(r.uid.clone()),
            OwnerState::Waiting => waiting.push(r.uid.clone()),
            OwnerState::NamespacedOwnerOfClusterScoped => {
                // Never a reason to delete it (it could be a whole namespace).
                tracing::warn!(object = %node.id.name, kind = %node.id.kind, owner = %r.name,
                    "a cluster-scoped object names a namespaced owner; left alone");
                return Ok(Next::Done);
            }
        }
    }
    if !solid.is_empty() {
        if dangling.is_empty() && waiting.is_empty() {
            return Ok(Next::Done);
        }
        // Some owner still holds it: only drop the references to the others.
        let drop: Vec<String> = dangling.into_iter().chain(waiting).collect();
        update_metadata(shared, &node.id, |o| {
            let refs = o.metadata.owner_references.clone().unwrap_or_default();
            let kept: Vec<OwnerReference> = refs
                .iter()
                .filter(|r| !drop.contains(&r.uid))
                .cloned()
                .collect();
            (kept.len() != refs.len()).then(|| json!({"ownerReferences": refs_value(kept)}))
        })
        .await?;
        return Ok(Next::Done);
    }
    let has_dependents = !node.dependents.is_empty();
    if !waiting.is_empty() && has_dependents {
        // It blocks an owner's foreground deletion and has dependents of its own: delete it
        // in the foreground too. If one of its dependents is itself waiting for dependents
        // (a cycle), first stop blocking the waiting owners.
        let cycle = {
            let graph = shared.graph();
            node.dependents
                .iter()
                .any(|d| graph.node(d).is_some_and(|d| d.deleting_dependents))
        };
        if cycle {
            update_metadata(shared, &node.id, |o| {
                let mut refs = o.metadata.owner_references.clone().unwrap_or_default();
                let mut changed = false;
                for r in refs.iter_mut() {
                    if waiting.contains(&r.uid) && r.block_owner_deletion == Some(true) {
                        r.block_owner_deletion = Some(false);
                        changed = true;
                    }
                }
                changed.then(|| json!({"ownerReferences": refs_value(refs)}))
            })
            .await?;
        }
        // Judged before its references were unblocked: no revision to hold it to.
        let seen = (!cycle).then_some(&latest);
        return delete_object(shared, &node.id, seen, "Foreground").await;
    }
    let policy = if has_finalizer(&latest, ORPHAN) {
        "Orphan"
    } else if has_finalizer(&latest, FOREGROUND) {
        "Foreground"
    } else {
        "Background"
    };
    delete_object(shared, &node.id, Some(&latest), policy).await
}

/// `processDeletingDependentsItem`: the owner keeps `foregroundDeletion` until no dependent
/// with `blockOwnerDeletion` remains.
async fn process_deleting_dependents(
    shared: &Shared,
    id: &ObjectId,
    latest: &DynamicObject,
) -> Result<Next, Error> {
    let blocking: Vec<(String, bool)> = shared
        .graph()
        .blocking_dependents(&id.uid)
        .into_iter()
        .map(|d| (d.id.uid.clone(), d.deleting_dependents))
        .collect();
    if blocking.is_empty() {
        if has_finalizer(latest, FOREGROUND) {
            remove_finalizer(shared, id, FOREGROUND).await?;
        }
        return Ok(Next::Done);
    }
    for (dep, deleting_dependents) in blocking {
        if !deleting_dependents {
            shared.delete_q.add(dep);
        }
    }
    Ok(Next::Done)
}

/// `attemptToOrphanWorker`: remove the owner from every dependent's references, then the
/// `orphan` finalizer from the owner.
async fn attempt_to_orphan(shared: &Shared, uid: &str) -> Result<Next, Error> {
    let (owner, dependents) = {
        let graph = shared.graph();
        let Some(node) = graph.node(uid) else {
            return Ok(Next::Done);
        };
        let deps: Vec<ObjectId> = node
            .dependents
            .iter()
            .filter_map(|d| graph.node(d))
            .filter(|d| d.observed)
            .map(|d| d.id.clone())
            .collect();
        (node.id.clone(), deps)
    };
    for dep in &dependents {
        update_metadata(shared, dep, |o| {
            let refs = o.metadata.owner_references.clone().unwrap_or_default();
            let kept: Vec<OwnerReference> = refs
                .iter()
                .filter(|r| r.uid != owner.uid)
                .cloned()
                .collect();
            (kept.len() != refs.len()).then(|| json!({"ownerReferences": refs_value(kept)}))
        })
        .await?;
    }
    remove_finalizer(shared, &owner, ORPHAN).await?;
    Ok(Next::Done)
}

/// An ownerReferences list for a merge patch: `null` removes the field when empty.
fn refs_value(refs: Vec<OwnerReference>) -> Value {
    if refs.is_empty() {
        Value::Null
    } else {
        serde_json::to_value(refs).unwrap_or(Value::Null)
    }
}

async fn remove_finalizer(shared: &Shared, id: &ObjectId, finalizer: &str) -> Result<(), Error> {
    update_metadata(shared, id, |o| {
        let list = o.metadata.finalizers.clone().unwrap_or_default();
        let kept: Vec<String> = list.iter().filter(|f| *f != finalizer).cloned().collect();
        (kept.len() != list.len())
            .then(|| json!({"finalizers": if kept.is_empty() { Value::Null } else { json!(kept) }}))
    })
    .await
}

/// Merge-patches `metadata` of the live object `id` with what `change` computes from it,
/// conditioned on its resourceVersion; re-reads and retries on conflicts. A gone or replaced
/// object, or `None` from `change`, means nothing to do.
async fn update_metadata(
    shared: &Shared,
    id: &ObjectId,
    change: impl Fn(&DynamicObject) -> Option<Value>,
) -> Result<(), Error> {
    let Some(api) = api_for(shared, &id.api_version, &id.kind, id.namespace.as_deref())? else {
        return Ok(());
    };
    for attempt in 0..PATCH_ATTEMPTS {
        let Some(obj) = api.get_opt(&id.name).await? else {
            return Ok(());
        };
        if obj.metadata.uid.as_deref() != Some(id.uid.as_str()) {
            return Ok(());
        }
        let Some(mut meta) = change(&obj) else {
            return Ok(());
        };
        meta["resourceVersion"] = json!(obj.metadata.resource_version);
        let patch = json!({"metadata": meta});
        match api
            .patch(&id.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.is_not_found() => return Ok(()),
            Err(kube::Error::Api(s)) if s.is_conflict() && attempt + 1 < PATCH_ATTEMPTS => {
                continue;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Deletes `id` with `policy` (upstream `deleteObject`), preconditioned on its uid and, when
/// given, on the revision `seen` it was judged at: if the object changed since, it is deleted
/// only when its ownerReferences did not (an owner stripped or added meanwhile makes it a new
/// decision, which the change's own event brings).
async fn delete_object(
    shared: &Shared,
    id: &ObjectId,
    seen: Option<&DynamicObject>,
    policy: &str,
) -> Result<Next, Error> {
    let Some(api) = api_for(shared, &id.api_version, &id.kind, id.namespace.as_deref())? else {
        return Ok(Next::Done);
    };
    let propagation = match policy {
        "Orphan" => kube::api::PropagationPolicy::Orphan,
        "Foreground" => kube::api::PropagationPolicy::Foreground,
        _ => kube::api::PropagationPolicy::Background,
    };
    let params = |resource_version: Option<String>| DeleteParams {
        propagation_policy: Some(propagation.clone()),
        preconditions: Some(Preconditions {
            uid: Some(id.uid.clone()),
            resource_version,
        }),
        ..DeleteParams::default()
    };
    tracing::debug!(kind = %id.kind, name = %id.name, policy, "garbage collector deleting");
    let seen_rv = seen.and_then(|o| o.metadata.resource_version.clone());
    let checked = seen_rv.is_some();
    match api.delete(&id.name, &params(seen_rv)).await {
        Ok(_) => return Ok(Next::Done),
        Err(kube::Error::Api(s)) if s.is_not_found() => return Ok(Next::Done),
        Err(kube::Error::Api(s)) if s.is_conflict() && checked => {}
        // Replaced by an object with another uid.
        Err(kube::Error::Api(s)) if s.is_conflict() => return Ok(Next::Done),
        Err(e) => return Err(e.into()),
    }
    // Changed since it was judged: still the same owners, or a decision for its next event.
    let Some(live) = get_live(shared, id).await? else {
        return Ok(Next::Done);
    };
    if Some(&live.metadata.owner_references) != seen.map(|o| &o.metadata.owner_references) {
        return Ok(Next::Done);
    }
    match api.delete(&id.name, &params(None)).await {
        Ok(_) => Ok(Next::Done),
        Err(kube::Error::Api(s)) if s.is_not_found() || s.is_conflict() => Ok(Next::Done),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::clockqueue::WorkQueue;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::PostParams;
    use std::collections::HashSet;
    use std::sync::Mutex;

    fn shared(api: &runlet_test::TestApi) -> Shared {
        let (events, _) = tokio::sync::mpsc::channel(16);
        Shared {
            client: api.client.clone(),
            graph: Mutex::default(),
            delete_q: WorkQueue::new(api.clock.clone()),
            orphan_q: WorkQueue::new(api.clock.clone()),
            events,
            absent: Mutex::new(HashSet::new()),
        }
    }

    fn id_of(cm: &ConfigMap) -> ObjectId {
        ObjectId {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("default".into()),
            name: cm.metadata.name.clone().unwrap(),
            uid: cm.metadata.uid.clone().unwrap(),
        }
    }

    /// Creates a ConfigMap whose owner never existed, judges it as the collector would, applies
    /// `change` to it meanwhile, then deletes it as judged: whether it is still there.
    async fn kept_after_change_since_judged(
        api: &runlet_test::TestApi,
        name: &str,
        change: serde_json::Value,
    ) -> bool {
        let shared = shared(api);
        let cms: Api<ConfigMap> = Api::default_namespaced(api.client.clone());
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": name, "ownerReferences": [{"apiVersion": "v1",
                "kind": "ConfigMap", "name": "gone", "uid": "00000000-0000-4000-8000-000000000000"}]}}))
        .unwrap();
        let cm = cms.create(&PostParams::default(), &cm).await.unwrap();
        let judged = get_live(&shared, &id_of(&cm)).await.unwrap().unwrap();
        cms.patch(name, &PatchParams::default(), &Patch::Merge(change))
            .await
            .unwrap();
        delete_object(&shared, &id_of(&cm), Some(&judged), "Background")
            .await
            .unwrap();
        cms.get_opt(name).await.unwrap().is_some()
    }

    #[tokio::test]
    async fn a_dependent_whose_owners_changed_since_it_was_judged_is_not_deleted() {
        // upstream deleteObject: the delete holds to the resourceVersion the decision was made
        // at; on a conflict it goes ahead only if the ownerReferences are still those.
        let api = runlet_test::TestApi::start().await;
        let relabelled = json!({"metadata": {"labels": {"a": "b"}}});
        assert!(
            !kept_after_change_since_judged(&api, "dep", relabelled).await,
            "another change that keeps the owners: deleted all the same"
        );
        let orphaned = json!({"metadata": {"ownerReferences": null}});
        assert!(
            kept_after_change_since_judged(&api, "dep2", orphaned).await,
            "its owner reference stripped meanwhile: kept"
        );
    }
}
