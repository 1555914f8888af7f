//! `delete` and `deletecollection`, with preconditions, propagation policies, finalizers and
//! graceful pod deletion.

use super::read::list_objects;
use super::{Query, Target, json_response_with, options};
use crate::error::{ApiError, ApiResult};
use crate::gc;
use crate::registry;
use crate::state::AppState;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use runlet_api::meta;
use runlet_api::resources::ResourceInfo;
use runlet_api::status::Status;
use serde_json::{Value, json};

/// What the client asked of a deletion (query parameters or a `DeleteOptions` body).
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
    /// The deprecated `orphanDependents: false` was said: a deletion left pending answers 202
    /// Accepted, as upstream's delete handler answers it only then (pods being terminated and
    /// namespaces being finalized answer 200, which clients expect).
    pub accepted_if_pending: bool,
}

impl DeleteOptions {
    async fn from_request(query: &Query, headers: &HeaderMap, body: Body) -> ApiResult<Self> {
        let bytes = super::read_body(body).await?;
        let body = if bytes.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            Some(super::decode_body(headers, Body::from(bytes)).await?)
        };
        match body {
            // Upstream's delete handler reads the query only when there is no body.
            Some(body) => DeleteOptions::from_parts(&Query::default(), Some(&body)),
            None => DeleteOptions::from_parts(query, None),
        }
    }

    /// The options of the query, overridden by those of a `DeleteOptions` body. A body that
    /// does not decode as one is refused: a deletion must never go ahead with options it
    /// misread (a `dryRun` of the wrong type would delete for real).
    pub fn from_parts(query: &Query, body: Option<&Value>) -> ApiResult<Self> {
        let body = body.map(decode_delete_options).transpose()?;
        let mut opts = DeleteOptions {
            grace_period_seconds: query.int("gracePeriodSeconds")?,
            propagation: query.get("propagationPolicy").map(str::to_string),
            ..Default::default()
        };
        let mut dry_run: Vec<String> = query.all("dryRun").to_vec();
        // Upstream's `OrphanDependents` is a `*bool`: said at all, even false, it conflicts
        // with a propagation policy.
        let mut orphan_dependents = query
            .get("orphanDependents")
            .map(|_| query.flag("orphanDependents"));
        if let Some(body) = body {
            if let Some(g) = body.grace_period_seconds {
                opts.grace_period_seconds = Some(g);
            }
            if let Some(p) = body.propagation_policy {
                opts.propagation = Some(p);
            }
            if let Some(orphan) = body.orphan_dependents {
                orphan_dependents = Some(orphan);
            }
            if let Some(values) = body.dry_run {
                dry_run = values;
            }
            if let Some(p) = body.preconditions {
                opts.precondition_uid = p.uid.or(opts.precondition_uid);
                opts.precondition_rv = p.resource_version.or(opts.precondition_rv);
            }
        }
        let mut errors =
            options::propagation_errors(opts.propagation.as_deref(), orphan_dependents.is_some());
        errors.extend(options::dry_run_errors(&dry_run));
        options::refuse("DeleteOptions", &errors)?;
        opts.dry_run = !dry_run.is_empty();
        // Upstream's `shouldOrphanDependents` reads the flag whichever way it is said: false
        // deletes dependents in the background, even those of a Job.
        if let Some(orphan) = orphan_dependents {
            opts.propagation = Some(if orphan { "Orphan" } else { "Background" }.into());
            opts.accepted_if_pending = !orphan;
        }
        Ok(opts)
    }
}

/// A `DeleteOptions` body as its Go type decodes it: a field of the wrong type, or another
/// kind, is a 400 before anything is deleted.
fn decode_delete_options(
    body: &Value,
) -> ApiResult<k8s_openapi::apimachinery::pkg::apis::meta::v1::DeleteOptions> {
    let bad = |why: String| {
        ApiError::new(Status::bad_request(format!(
            "error decoding DeleteOptions: {why}"
        )))
    };
    if let Some(kind) = body.get("kind").and_then(Value::as_str)
        && kind != "DeleteOptions"
    {
        return Err(bad(format!("a {kind} is not a DeleteOptions")));
    }
    serde_json::from_value(body.clone()).map_err(|e| bad(e.to_string()))
}

/// The propagation policy when the client names none: batch/v1 Jobs orphan (the legacy
/// default of that group-version), everything else deletes dependents in the background.
fn default_propagation(info: &ResourceInfo) -> &'static str {
    match (info.group, info.kind) {
        ("batch", "Job") => "Orphan",
        _ => "Background",
    }
}

/// Upstream's Job storage warns a deletion that leaves the policy to that default (its
/// `deleteOptionWarnings`), since the pods stay.
fn default_policy_warnings(info: &ResourceInfo, opts: &DeleteOptions) -> Vec<String> {
    if opts.propagation.is_none() && default_propagation(info) == "Orphan" {
        vec![
            "child pods are preserved by default when jobs are deleted; set \
             propagationPolicy=Background to remove them or set propagationPolicy=Orphan to \
             suppress this warning"
                .to_string(),
        ]
    } else {
        Vec::new()
    }
}

/// `DELETE` on an object.
pub async fn delete(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let opts = DeleteOptions::from_request(query, headers, body).await?;
    let name = target.name.as_deref().unwrap_or_default();
    let accepted_if_pending = opts.accepted_if_pending;
    let warnings = default_policy_warnings(target.info, &opts);
    let (gone, obj) =
        delete_object(state, target.info, target.namespace.as_deref(), name, opts).await?;
    if gone == Gone::Now && answers_a_deletion_with_status(target.info) {
        let uid = meta::uid(&obj).unwrap_or_default();
        return Ok(json_response_with(
            StatusCode::OK,
            &runlet_api::status::success(name, target.info, uid),
            &warnings,
        ));
    }
    let code = if gone == Gone::Pending && accepted_if_pending {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok(json_response_with(code, &obj, &warnings))
}

/// Kinds whose upstream storage answers a delete that removed the object at once with a
/// `Status` (`finalizeDelete` without `ReturnDeletedObject`); the others (pods, claims, ...)
/// answer with the object, as a delete still pending always does.
fn answers_a_deletion_with_status(info: &ResourceInfo) -> bool {
    matches!(
        (info.group, info.kind),
        ("batch", "Job" | "CronJob")
            | ("", "ConfigMap" | "Secret" | "Event")
            | ("events.k8s.io", "Event")
            | ("coordination.k8s.io", "Lease")
    )
}

/// Whether a deleted object went at once or is marked for deletion, waiting for its
/// finalizers or its pod's agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    Now,
    Pending,
}

/// Deletes one object: the object as it went, or as marked for deletion.
pub async fn delete_object(
    state: &AppState,
    info: &'static ResourceInfo,
    ns: Option<&str>,
    name: &str,
    opts: DeleteOptions,
) -> ApiResult<(Gone, Value)> {
    if info.kind == "Namespace" && registry::IMMORTAL_NAMESPACES.contains(&name) {
        return Err(ApiError::new(Status::forbidden(
            info,
            name,
            "this namespace may not be deleted",
        )));
    }
    // The mark this delete wrote: once it is there, another deleting the object first (the
    // agent, for a pod it sees marked) is this delete done, as upstream's `ignoreNotFound`.
    let mut marked: Option<Value> = None;
    for _ in 0..10 {
        let obj = match registry::get(state, info, ns, name).await {
            Ok(obj) => Value::clone(&*obj),
            Err(e) if e.0.code == 404 && marked.is_some() => {
                return Ok((Gone::Now, marked.unwrap_or_default()));
            }
            Err(e) => return Err(e),
        };
        // Upstream's `BeforeDelete` checks the preconditions, in its words.
        if let Some(uid) = &opts.precondition_uid
            && Some(uid.as_str()) != meta::uid(&obj)
        {
            return Err(ApiError::new(Status::conflict_of_kind(
                info,
                name,
                &format!(
                    "the UID in the precondition ({uid}) does not match the UID in record ({}). The object might have been deleted and then recreated",
                    meta::uid(&obj).unwrap_or("")
                ),
            )));
        }
        if let Some(rv) = &opts.precondition_rv
            && Some(rv.as_str()) != meta::resource_version(&obj)
        {
            return Err(ApiError::new(Status::conflict_of_kind(
                info,
                name,
                &format!(
                    "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({}). The object might have been modified",
                    meta::resource_version(&obj).unwrap_or("")
                ),
            )));
        }
        let rv = meta::resource_version(&obj)
            .map(registry::parse_rv)
            .transpose()?
            .unwrap_or(0);
        let mut new = obj.clone();
        let finalizers = deletion_finalizers(info, &obj, opts.propagation.as_deref());
        let graceful_pod = info.kind == "Pod"
            && new["spec"]["nodeName"]
                .as_str()
                .is_some_and(|n| !n.is_empty())
            && !matches!(
                new["status"]["phase"].as_str(),
                Some("Succeeded" | "Failed")
            );
        // A negative grace period is taken as 1 s (upstream's `BeforeDelete`).
        let grace = if graceful_pod {
            opts.grace_period_seconds
                .map(|g| if g < 0 { 1 } else { g })
                .or_else(|| new["spec"]["terminationGracePeriodSeconds"].as_i64())
                .unwrap_or(30)
                .max(0)
        } else {
            0
        };
        let is_namespace = info.kind == "Namespace" && info.group.is_empty();
        let shortens = meta::is_deleting(&obj)
            && obj["metadata"]["deletionGracePeriodSeconds"]
                .as_i64()
                .is_some_and(|current| grace < current);
        if finalizers.is_empty() && grace == 0 && !is_namespace {
            // Upstream's pod strategy deletes every pod gracefully, at once ones too: the
            // mark (now, grace period 0) is written, then the pod removed, so watchers see it
            // marked and the deleted pod says so.
            let is_pod = info.kind == "Pod" && info.group.is_empty();
            let (obj, rv) = if is_pod && (!meta::is_deleting(&obj) || shortens) {
                mark_deleted(state, &obj, &mut new, grace);
                match write_deletion_mark(state, info, &obj, new, opts.dry_run).await {
                    Ok(written) => {
                        let rv = meta::resource_version(&written)
                            .map(registry::parse_rv)
                            .transpose()?
                            .unwrap_or(rv);
                        marked = Some(written.clone());
                        (written, rv)
                    }
                    Err(e) if registry::is_conflict(&e) => continue,
                    Err(e) => return Err(e),
                }
            } else {
                (obj, rv)
            };
            if opts.dry_run {
                return Ok((Gone::Now, obj));
            }
            match registry::remove(state, info, &obj, rv).await {
                Ok(_) => return Ok((Gone::Now, obj)),
                Err(runlet_store::StoreError::Conflict { .. }) => continue,
                Err(runlet_store::StoreError::NotFound) if marked.is_some() => {
                    return Ok((Gone::Now, obj));
                }
                Err(e) => return Err(ApiError::from_store(e, info, name)),
            }
        }
        // Mark for deletion; finalizers (and the node agent, for pods) finish the job. A
        // deletion under way may only be hastened (upstream's `BeforeDelete`): a shorter grace
        // period moves it up, so a pod whose agent deletes it at once while a finalizer still
        // holds it goes as soon as the finalizer does.
        if meta::is_deleting(&obj) && meta::finalizers(&obj) == finalizers && !shortens {
            return Ok((Gone::Pending, obj));
        }
        if !meta::is_deleting(&obj) || shortens {
            mark_deleted(state, &obj, &mut new, grace);
        }
        if finalizers.is_empty() {
            // `omitempty`: a deleted object without finalizers shows none, not `[]`.
            meta::remove(&mut new, "finalizers");
        } else {
            meta::set(&mut new, "finalizers", json!(finalizers));
        }
        if is_namespace {
            new["status"]["phase"] = json!("Terminating");
        }
        let updated = match write_deletion_mark(state, info, &obj, new, opts.dry_run).await {
            Ok(u) => u,
            Err(e) if registry::is_conflict(&e) => continue,
            Err(e) => return Err(e),
        };
        // The garbage collector (runlet-controllers) acts on the propagation finalizers.
        if !opts.dry_run && is_namespace {
            gc::finalize_namespace(state, name.to_string());
        }
        return Ok((Gone::Pending, updated));
    }
    Err(ApiError::new(Status::conflict_modified(info, name)))
}

/// Marks `new`, the next version of `obj`, deleted with `grace` seconds to go, as upstream's
/// `BeforeDelete`: a first mark is now plus the grace period; a shorter grace period moves
/// the mark up by the difference, not to now plus it.
fn mark_deleted(state: &AppState, obj: &Value, new: &mut Value, grace: i64) {
    let due = match obj["metadata"]["deletionGracePeriodSeconds"].as_i64() {
        Some(current) if meta::is_deleting(obj) => meta::deletion_timestamp_unix(obj)
            .map_or(state.now_unix() + grace, |at| at - current + grace),
        _ => state.now_unix() + grace,
    };
    let when = time::OffsetDateTime::from_unix_timestamp(due)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    meta::set(new, "deletionTimestamp", when);
    meta::set(new, "deletionGracePeriodSeconds", grace);
    // Marking an object deleted is a change of what it is meant to be: upstream bumps the
    // generation of a kind that keeps one.
    if !meta::is_deleting(obj) && meta::generation(obj) > 0 {
        meta::set(new, "generation", meta::generation(obj) + 1);
    }
}

/// The finalizers `obj` gets from a delete with the propagation `asked` for, as upstream's
/// `deletionFinalizersForGarbageCollection`: the policy asked for, else the one of a deletion
/// under way (its finalizer), else the kind's default (`shouldOrphanDependents`,
/// `shouldDeleteDependents`); the two propagation finalizers are taken off and the one wanted
/// put back, so a second delete never leaves both. Unchanged as a set, the list is kept as it
/// was.
fn deletion_finalizers(info: &ResourceInfo, obj: &Value, asked: Option<&str>) -> Vec<String> {
    let existing = meta::finalizers(obj);
    if !can_own(info) {
        return existing;
    }
    let under_way = existing.iter().find_map(|f| match f.as_str() {
        gc::ORPHAN => Some("Orphan"),
        gc::FOREGROUND => Some("Foreground"),
        _ => None,
    });
    let wanted = match asked.or(under_way).unwrap_or(default_propagation(info)) {
        "Orphan" => Some(gc::ORPHAN),
        "Foreground" => Some(gc::FOREGROUND),
        _ => None,
    };
    let mut finalizers: Vec<String> = existing
        .iter()
        .filter(|f| *f != gc::ORPHAN && *f != gc::FOREGROUND)
        .cloned()
        .collect();
    finalizers.extend(wanted.map(str::to_string));
    let same =
        finalizers.len() == existing.len() && finalizers.iter().all(|f| existing.contains(f));
    if same { existing } else { finalizers }
}

/// Kinds that can own other objects (and so need propagation finalizers).
fn can_own(info: &ResourceInfo) -> bool {
    !matches!(info.kind, "Event" | "Lease")
}

/// Writes deletionTimestamp, the grace period and finalizers, which a normal update may not
/// change, as one direct write conditioned on the object's revision.
async fn write_deletion_mark(
    state: &AppState,
    info: &ResourceInfo,
    old: &Value,
    new: Value,
    dry_run: bool,
) -> ApiResult<Value> {
    let name = meta::name(old).unwrap_or_default().to_string();
    if dry_run {
        return Ok(new);
    }
    let rv = meta::resource_version(old)
        .map(registry::parse_rv)
        .transpose()?
        .unwrap_or(0);
    let key = info.key(meta::namespace(old), &name);
    let kv = state
        .store
        .update(&key, registry::to_stored(&new), Some(rv))
        .await
        .map_err(|e| ApiError::from_store(e, info, &name))?;
    let mut obj = new;
    meta::set(&mut obj, "resourceVersion", kv.mod_revision.to_string());
    Ok(obj)
}

/// `DELETE` on a collection: deletes every matching object.
pub async fn delete_collection(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let opts = DeleteOptions::from_request(query, headers, body).await?;
    let warnings = default_policy_warnings(target.info, &opts);
    let super::read::Listed {
        items,
        revision: rev,
        ..
    } = list_objects(state, target, query).await?;
    let mut deleted = Vec::new();
    for obj in items {
        let name = meta::name(&obj).unwrap_or_default().to_string();
        match delete_object(
            state,
            target.info,
            meta::namespace(&obj),
            &name,
            opts.clone(),
        )
        .await
        {
            Ok((_, o)) => deleted.push(o),
            Err(e) if e.0.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let body = json!({
        "kind": target.info.list_kind(),
        "apiVersion": target.info.api_version(),
        "metadata": {"resourceVersion": rev.to_string()},
        "items": deleted,
    });
    Ok(json_response_with(StatusCode::OK, &body, &warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delete_keeps_one_propagation_finalizer_as_upstream() {
        let jobs = runlet_api::resources::find("batch", "v1", "jobs").expect("jobs");
        let cms = runlet_api::resources::find("", "v1", "configmaps").expect("configmaps");
        let with = |finalizers: serde_json::Value| json!({"metadata": {"finalizers": finalizers}});
        let fresh = json!({"metadata": {}});
        // The kind's default when nothing is asked or under way: a Job orphans.
        assert_eq!(deletion_finalizers(jobs, &fresh, None), vec!["orphan"]);
        assert!(deletion_finalizers(cms, &fresh, None).is_empty());
        // A deletion under way goes on as it is; a policy asked for replaces it.
        let foreground = with(json!(["example.com/x", "foregroundDeletion"]));
        assert_eq!(
            deletion_finalizers(jobs, &foreground, None),
            vec!["example.com/x", "foregroundDeletion"]
        );
        assert_eq!(
            deletion_finalizers(jobs, &foreground, Some("Orphan")),
            vec!["example.com/x", "orphan"]
        );
        assert_eq!(
            deletion_finalizers(jobs, &foreground, Some("Background")),
            vec!["example.com/x"]
        );
        // Never both, even when an object was given both.
        let both = with(json!(["orphan", "foregroundDeletion"]));
        assert_eq!(
            deletion_finalizers(cms, &both, Some("Foreground")),
            vec!["foregroundDeletion"]
        );
    }
}
