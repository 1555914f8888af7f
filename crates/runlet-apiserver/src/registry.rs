//! The generic object lifecycle every kind shares: create, update, delete with preconditions,
//! finalizers and graceful deletion, on top of the store.
//!
//! Objects are stored as JSON without `metadata.resourceVersion`; the store's mod revision is
//! put back on every read, so the two can never disagree. Kind-specific behaviour comes from
//! `runlet_api` (defaulting, validation) and from small hooks here (status reset, generation).

use crate::error::{ApiError, ApiResult, store_status};
use crate::state::AppState;
use bytes::Bytes;
use runlet_api::field::{FieldError, Path};
use runlet_api::resources::{self, ResourceInfo};
use runlet_api::status::Status;
use runlet_api::{defaulting, meta, validation};
use runlet_store::{KeyValue, Revision, StoreError};
use serde_json::{Value, json};
use std::sync::Arc;

/// Namespaces that always exist: created at start, and again when one was deleted.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Namespaces that may not be deleted (upstream's NamespaceLifecycle admission).
pub const IMMORTAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// Decodes a stored value and stamps its resourceVersion.
pub fn from_stored(kv: &KeyValue) -> ApiResult<Value> {
    let mut obj: Value = serde_json::from_slice(&kv.value).map_err(|e| {
        ApiError::new(Status::internal(format!(
            "stored object {} is corrupt: {e}",
            kv.key
        )))
    })?;
    meta::set(&mut obj, "resourceVersion", kv.mod_revision.to_string());
    Ok(obj)
}

/// Decodes a stored value as `info`'s API version serves it.
pub fn from_stored_as(info: &ResourceInfo, kv: &KeyValue) -> ApiResult<Value> {
    Ok(runlet_api::convert::to_served_version(
        info,
        from_stored(kv)?,
    ))
}

/// Serializes an object for the store (in its storage version), without its resourceVersion.
pub fn to_stored(obj: &Value) -> Bytes {
    to_stored_checked(obj).0
}

/// [`to_stored`], and whether the stored bytes are in the object's own version (no conversion).
fn to_stored_checked(obj: &Value) -> (Bytes, bool) {
    let storage = runlet_api::convert::to_storage_version_if_needed(obj);
    let same_version = storage.is_none();
    let obj = storage.as_ref().unwrap_or(obj);
    let mut json = serde_json::to_vec(&WithoutResourceVersion(obj)).unwrap_or_default();
    // The store keeps these bytes while the object is current, and the buffer grew by doubling
    // as it was written: up to half of it would stay allocated and empty.
    json.shrink_to_fit();
    (Bytes::from(json), same_version)
}

/// Appends the object `stored` holds to `out` with its `resourceVersion`, without decoding it:
/// the stored JSON (which never holds `metadata.resourceVersion`) with `"resourceVersion"`
/// spliced in as the first field of `metadata`. Only for objects stored as the server writes
/// them, starting with `{"apiVersion":"...","kind":"...","metadata":{`; for anything else it
/// appends nothing and returns false, and the caller decodes the object instead.
pub fn splice_resource_version(out: &mut Vec<u8>, stored: &[u8], revision: Revision) -> bool {
    let Some(at) = metadata_body_offset(stored) else {
        return false;
    };
    let (head, tail) = stored.split_at(at);
    out.reserve(stored.len() + 48);
    out.extend_from_slice(head);
    out.extend_from_slice(b"\"resourceVersion\":\"");
    out.extend_from_slice(revision.to_string().as_bytes());
    out.push(b'"');
    if tail.first() != Some(&b'}') {
        out.push(b',');
    }
    out.extend_from_slice(tail);
    true
}

/// The offset just after `"metadata":{` when `stored` starts with
/// `{"apiVersion":"<plain>","kind":"<plain>","metadata":{` (plain: no quote or backslash).
fn metadata_body_offset(stored: &[u8]) -> Option<usize> {
    fn plain_string_end(b: &[u8], from: usize) -> Option<usize> {
        let rel = b
            .get(from..)?
            .iter()
            .position(|&c| c == b'"' || c == b'\\')?;
        (b.get(from + rel) == Some(&b'"')).then_some(from + rel)
    }
    let mut i = 0;
    for (prefix, string_follows) in [
        (&b"{\"apiVersion\":\""[..], true),
        (&b"\",\"kind\":\""[..], true),
        (&b"\",\"metadata\":{"[..], false),
    ] {
        if !stored.get(i..)?.starts_with(prefix) {
            return None;
        }
        i += prefix.len();
        if string_follows {
            i = plain_string_end(stored, i)?;
        }
    }
    Some(i)
}

/// An object as a write left it, with its JSON when the stored bytes can serve as the
/// response: a write answers with the object, and splicing the bytes it just stored saves
/// printing it again.
#[derive(Debug, Clone)]
pub struct Written {
    pub object: Arc<Value>,
    json: Option<Bytes>,
}

impl Written {
    fn new(object: Value) -> Written {
        Written {
            object: Arc::new(object),
            json: None,
        }
    }

    /// The object `kv` holds now, which is `object` with its `resourceVersion` yet to stamp.
    /// Kept decoded for the next read of the key, unless it is stored in another version
    /// than its own (a read would convert it).
    fn stored(state: &AppState, mut object: Value, kv: &KeyValue, same_version: bool) -> Written {
        // Last in `metadata`, where a read of the stored bytes puts it.
        let m = meta::metadata_mut(&mut object);
        m.shift_remove("resourceVersion");
        m.insert("resourceVersion".into(), json!(kv.mod_revision.to_string()));
        let object = Arc::new(object);
        if same_version {
            state
                .decoded
                .insert(&kv.key, kv.mod_revision, Arc::clone(&object));
        }
        let mut json = Vec::new();
        let spliced =
            same_version && splice_resource_version(&mut json, &kv.value, kv.mod_revision);
        Written {
            object,
            json: spliced.then(|| Bytes::from(json)),
        }
    }

    /// The object as JSON.
    pub fn json(&self) -> Bytes {
        match &self.json {
            Some(j) => j.clone(),
            None => Bytes::from(self.object.to_string()),
        }
    }
}

/// Serializes an object as is, except `metadata.resourceVersion`, without copying it.
struct WithoutResourceVersion<'a>(&'a Value);

impl serde::Serialize for WithoutResourceVersion<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Value::Object(top) = self.0 else {
            return self.0.serialize(s);
        };
        let mut map = s.serialize_map(Some(top.len()))?;
        for (k, v) in top {
            match v {
                Value::Object(m) if k == "metadata" => {
                    map.serialize_entry(k, &MetadataWithoutResourceVersion(m))?;
                }
                _ => map.serialize_entry(k, v)?,
            }
        }
        map.end()
    }
}

struct MetadataWithoutResourceVersion<'a>(&'a serde_json::Map<String, Value>);

impl serde::Serialize for MetadataWithoutResourceVersion<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for (k, v) in self.0 {
            if k != "resourceVersion" {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

/// RFC 3339 at second precision, as Kubernetes writes `metav1.Time`.
pub fn now_rfc3339(state: &AppState) -> String {
    runlet_api::clock::rfc3339(state.now_unix())
}

/// A random (version 4) UUID for a new object, from the thread's random generator:
/// `Uuid::new_v4` asks the kernel (`getrandom`) for every one, a system call per create.
pub(crate) fn new_uid() -> String {
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string()
}

/// Attempts at creating an object under a generated name (upstream
/// `maxNameGenerationCreateAttempts`).
const MAX_GENERATE_NAME_ATTEMPTS: u32 = 8;

#[cfg(test)]
thread_local! {
    /// Suffixes [`random_suffix`] hands out first, so that a test can make names collide.
    static NEXT_SUFFIXES: std::cell::RefCell<std::collections::VecDeque<String>> =
        std::cell::RefCell::default();
}

/// A name generated from `generateName`: the prefix, cut to 58 bytes so that the name fits in
/// 63 (upstream's `SimpleNameGenerator`, `MaxGeneratedNameLength`), and a random suffix.
fn generated_name(prefix: &str) -> String {
    const MAX_PREFIX: usize = 63 - 5;
    let mut end = prefix.len().min(MAX_PREFIX);
    while !prefix.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{}", &prefix[..end], random_suffix())
}

/// `generateName` suffix: 5 characters from upstream's alphabet.
pub fn random_suffix() -> String {
    #[cfg(test)]
    if let Some(next) = NEXT_SUFFIXES.with(|n| n.borrow_mut().pop_front()) {
        return next;
    }
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Parses a client-supplied resourceVersion.
pub fn parse_rv(rv: &str) -> ApiResult<Revision> {
    rv.parse::<Revision>()
        .ok()
        .filter(|r| *r >= 0)
        .ok_or_else(|| {
            ApiError::new(Status::bad_request(format!(
                "invalid resource version: {rv}"
            )))
        })
}

/// Fetches one object, decoded once for every read of its revision (see [`crate::decoded`]).
pub async fn get(
    state: &AppState,
    info: &ResourceInfo,
    ns: Option<&str>,
    name: &str,
) -> ApiResult<Arc<Value>> {
    let Some(kv) = state
        .store
        .get(&info.key(ns, name))
        .await
        .map_err(|e| ApiError::from_store(e, info, name))?
    else {
        return Err(ApiError::new(Status::not_found(info, name)));
    };
    let stored = match state.decoded.get(&kv.key, kv.mod_revision) {
        Some(obj) => obj,
        None => {
            let obj = Arc::new(from_stored(&kv)?);
            state
                .decoded
                .insert(&kv.key, kv.mod_revision, Arc::clone(&obj));
            obj
        }
    };
    if runlet_api::convert::is_served_as_stored(info, &stored) {
        Ok(stored)
    } else {
        Ok(Arc::new(runlet_api::convert::to_served_version(
            info,
            Value::clone(&stored),
        )))
    }
}

/// Refuses new objects in a namespace that is missing or terminating.
async fn check_namespace_open(
    state: &AppState,
    info: &ResourceInfo,
    ns: &str,
    name: &str,
) -> ApiResult<()> {
    let namespaces = resources::find("", "v1", "namespaces")
        .ok_or_else(|| ApiError::new(Status::internal("no namespaces")))?;
    let obj = get(state, namespaces, None, ns).await?;
    if meta::is_deleting(&obj) {
        // Upstream's NamespaceLifecycle admission, with the cause clients look for
        // (`NamespaceTerminatingCause`) to tell teardown from a real error.
        let mut refused = Status::forbidden(
            info,
            name,
            &format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            ),
        );
        refused.causes.push(runlet_api::status::Cause {
            reason: "NamespaceTerminating".into(),
            message: format!("namespace {ns} is being terminated"),
            field: "metadata.namespace".into(),
        });
        return Err(ApiError::new(refused));
    }
    Ok(())
}

/// Options common to writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    /// A write by the server itself (binding, finalizers): update validation is skipped.
    pub trusted: bool,
    /// The caller set `metadata.managedFields` (server-side apply and its tracking): they are
    /// written as given. Otherwise a create has none and an update keeps the stored ones.
    pub managed_fields: bool,
}

/// Creates `obj` (already decoded and normalized) in `ns`.
pub async fn create(
    state: &AppState,
    info: &ResourceInfo,
    ns: Option<&str>,
    mut obj: Value,
    opts: WriteOptions,
) -> ApiResult<Written> {
    // System-owned metadata is the server's to set.
    let m = meta::metadata_mut(&mut obj);
    for field in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "selfLink",
    ] {
        m.remove(field);
    }
    if !opts.managed_fields {
        m.remove("managedFields");
    }
    if info.namespaced {
        if let Some(ns) = ns {
            m.insert("namespace".into(), json!(ns));
        }
    } else {
        m.remove("namespace");
    }
    let has_name = m
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    let generate_from = if has_name {
        None
    } else {
        m.get("generateName")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    if let Some(prefix) = &generate_from {
        m.insert("name".into(), json!(generated_name(prefix)));
    }
    meta::set(&mut obj, "uid", new_uid());
    meta::set(&mut obj, "creationTimestamp", now_rfc3339(state));
    if tracks_generation(info) {
        meta::set(&mut obj, "generation", 1);
    }
    reset_status_on_create(info, &mut obj);
    protect_storage_in_use(info, &mut obj);
    assign_default_storage_class(state, info, &mut obj).await?;
    defaulting::drop_disabled_fields(info, &mut obj, None);
    defaulting::apply_defaults(info, &mut obj);
    crate::serviceaccount::admission::admit_pod(state, info, &mut obj, generate_from.as_deref())
        .await?;
    defaulting::prepare_for_create(info, &mut obj);
    meta::omit_empty_collections(&mut obj);

    let name = meta::name(&obj).unwrap_or_default().to_string();
    let errors = validation::validate_create(info, &obj);
    if !errors.is_empty() {
        return Err(ApiError::new(Status::invalid(info, &name, &errors)));
    }
    if name.is_empty() {
        // Validation reports this for kinds it knows; never store a nameless object.
        let e = FieldError::required(
            &Path::new("metadata").child("name"),
            "name or generateName is required",
        );
        return Err(ApiError::new(Status::invalid(info, &name, &[e])));
    }
    defaulting::as_read_back(info, &mut obj);
    if info.namespaced {
        let ns = ns
            .or_else(|| meta::namespace(&obj))
            .unwrap_or("default")
            .to_string();
        check_namespace_open(state, info, &ns, &name).await?;
    }
    let key = info.key(meta::namespace(&obj), &name);
    if opts.dry_run {
        if state
            .store
            .get(&key)
            .await
            .map_err(|e| ApiError::new(store_status(e)))?
            .is_some()
        {
            return Err(ApiError::new(taken(state, info, &key, &name).await));
        }
        return Ok(Written::new(obj));
    }
    // Upstream's RetryGenerateName (GA in 1.32): a generated name that is taken is generated
    // again, up to 8 attempts in all; five random characters collide within thousands of pods.
    let mut key = key;
    let mut name = name;
    let mut attempts = 1;
    let (kv, same_version) = loop {
        let (stored, same_version) = to_stored_checked(&obj);
        match state.store.create(&key, stored).await {
            Ok(kv) => break (kv, same_version),
            Err(StoreError::AlreadyExists)
                if attempts < MAX_GENERATE_NAME_ATTEMPTS && generate_from.is_some() =>
            {
                attempts += 1;
                name = generated_name(generate_from.as_deref().unwrap_or_default());
                meta::set(&mut obj, "name", name.clone());
                key = info.key(meta::namespace(&obj), &name);
            }
            Err(StoreError::AlreadyExists) => {
                return Err(ApiError::new(taken(state, info, &key, &name).await));
            }
            Err(e) => return Err(ApiError::from_store(e, info, &name)),
        }
    };
    Ok(Written::stored(state, obj, &kv, same_version))
}

/// The 409 for a name already taken; upstream's `Store.Create` says when the object holding
/// it is being deleted, which a script that deleted and creates again needs to know.
async fn taken(state: &AppState, info: &ResourceInfo, key: &str, name: &str) -> Status {
    let mut status = Status::already_exists(info, name);
    let deleting = match state.store.get(key).await {
        Ok(Some(kv)) => from_stored(&kv).is_ok_and(|existing| meta::is_deleting(&existing)),
        _ => false,
    };
    if deleting {
        status.message = format!("object is being deleted: {}", status.message);
    }
    status
}

/// Kinds whose registry strategy maintains `metadata.generation` (1 on create, bumped on spec
/// changes): Jobs, CronJobs, and Pods (upstream 1.33's pod strategy sets it whatever its
/// feature gates; only the kubelet's `status.observedGeneration` is behind one).
fn tracks_generation(info: &ResourceInfo) -> bool {
    matches!(
        (info.group, info.kind),
        ("batch", "Job" | "CronJob") | ("", "Pod")
    )
}

fn reset_status_on_create(info: &ResourceInfo, obj: &mut Value) {
    if !info.has_status() {
        return;
    }
    if let Some(map) = obj.as_object_mut() {
        match info.kind {
            // Nodes report their own status at registration; PVs and PVCs start from theirs.
            "Node" | "PersistentVolume" | "PersistentVolumeClaim" => {}
            _ => {
                map.remove("status");
            }
        }
    }
}

/// Upstream's `StorageObjectInUseProtection` admission: new claims and volumes get the
/// finalizer that keeps them while in use (taken off by the controllers'
/// `volumeprotection`).
fn protect_storage_in_use(info: &ResourceInfo, obj: &mut Value) {
    let finalizer = match (info.group, info.kind) {
        ("", "PersistentVolumeClaim") => "kubernetes.io/pvc-protection",
        ("", "PersistentVolume") => "kubernetes.io/pv-protection",
        _ => return,
    };
    let m = meta::metadata_mut(obj);
    let finalizers = m.entry("finalizers").or_insert_with(|| json!([]));
    if let Some(list) = finalizers.as_array_mut()
        && !list.iter().any(|f| f == finalizer)
    {
        list.push(json!(finalizer));
    }
}

/// Upstream's `DefaultStorageClass` admission: a new claim that names no class at all (an
/// empty name asks for none) gets the default StorageClass, if there is one.
async fn assign_default_storage_class(
    state: &AppState,
    info: &ResourceInfo,
    obj: &mut Value,
) -> ApiResult<()> {
    if (info.group, info.kind) != ("", "PersistentVolumeClaim")
        || !obj
            .pointer("/spec/storageClassName")
            .is_none_or(Value::is_null)
    {
        return Ok(());
    }
    let Some(classes) = resources::find("storage.k8s.io", "v1", "storageclasses") else {
        return Ok(());
    };
    let listed = state
        .store
        .list(&classes.key_prefix(), &runlet_store::ListOptions::default())
        .await
        .map_err(|e| ApiError::new(store_status(e)))?;
    let classes: Vec<Value> = listed
        .items
        .iter()
        .filter_map(|kv| serde_json::from_slice(&kv.value).ok())
        .collect();
    if let Some(default) = runlet_api::storageclass::default_class(&classes)
        && let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut)
    {
        spec.insert("storageClassName".into(), json!(default));
    }
    Ok(())
}

/// Upstream's `PersistentVolumeClaimResize` admission: a claim's storage request grows only
/// when it is bound and its StorageClass allows volume expansion (the built-in `local-path`
/// does not: a directory has no size to grow).
async fn admit_claim_resize(
    state: &AppState,
    info: &ResourceInfo,
    name: &str,
    new: &Value,
    old: &Value,
) -> ApiResult<()> {
    if (info.group, info.kind) != ("", "PersistentVolumeClaim") {
        return Ok(());
    }
    let size = |v: &Value| {
        v.pointer("/spec/resources/requests/storage")
            .and_then(Value::as_str)
            .and_then(validation::quantity::Quantity::parse)
            .unwrap_or_default()
    };
    if size(new) <= size(old) {
        return Ok(());
    }
    let forbidden = |why: &str| Err(ApiError::new(Status::forbidden(info, name, why)));
    if old.pointer("/status/phase").and_then(Value::as_str) != Some("Bound") {
        return forbidden("Only bound persistent volume claims can be expanded");
    }
    // `GetPersistentVolumeClaimClass`: the beta annotation first, then the field.
    let class = |v: &Value| {
        v.pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
            .or_else(|| v.pointer("/spec/storageClassName"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (new_class, old_class) = (class(new), class(old));
    let mut expandable = false;
    if !new_class.is_empty()
        && new_class == old_class
        && let Some(classes) = resources::find("storage.k8s.io", "v1", "storageclasses")
        && let Ok(sc) = get(state, classes, None, &new_class).await
    {
        expandable = sc.get("allowVolumeExpansion") == Some(&json!(true));
    }
    if !expandable {
        return forbidden(
            "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize",
        );
    }
    Ok(())
}

/// Which part of an object an update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateTarget {
    /// The main resource: everything but `status` (for kinds with a status subresource).
    Main,
    /// The `status` subresource: only `status`.
    Status,
    /// Both at once, for the server's own writes that upstream makes in one storage update
    /// (a pod's binding sets `spec.nodeName` and the `PodScheduled` condition together).
    Whole,
}

/// What a write through `/status` may not change, taken back from `old`: the spec, as
/// upstream's status strategies (`PrepareForUpdate`: `newJob.Spec = oldJob.Spec`, and the same
/// for pods, cronjobs, nodes, namespaces, claims and volumes), and a pod's ownerReferences,
/// which the kubelet's status writes once corrupted. Labels, annotations and finalizers sent
/// through `/status` are kept, as upstream keeps them.
fn keep_only_status(info: &ResourceInfo, new: &mut Value, old: &Value) {
    let Some(map) = new.as_object_mut() else {
        *new = old.clone();
        return;
    };
    if map.get("spec") != old.get("spec") {
        match old.get("spec") {
            Some(spec) => map.insert("spec".into(), spec.clone()),
            None => map.remove("spec"),
        };
    }
    if info.kind == "Pod" && info.group.is_empty() {
        let owners = old.pointer("/metadata/ownerReferences").cloned();
        let meta = meta::metadata_mut(new);
        match owners {
            Some(owners) => meta.insert("ownerReferences".into(), owners),
            None => meta.remove("ownerReferences"),
        };
    }
}

/// Replaces the stored object with `new`, given the `old` one it was computed from.
/// `expected` is the precondition on the stored revision. A no-op changes nothing.
/// A status update changes the status and metadata only (see [`keep_only_status`]).
pub async fn update(
    state: &AppState,
    info: &ResourceInfo,
    old: &Value,
    mut new: Value,
    target: UpdateTarget,
    opts: WriteOptions,
) -> ApiResult<Written> {
    let name = meta::name(old).unwrap_or_default().to_string();
    let old_rv = meta::resource_version(old)
        .map(parse_rv)
        .transpose()?
        .unwrap_or(0);

    // Upstream `BeforeUpdate`: an empty UID takes the stored one, a different one is refused as
    // an immutable field (clients use it as a precondition in patches).
    let old_uid = old["metadata"]["uid"].as_str().unwrap_or_default();
    if let Some(uid) = new["metadata"]["uid"].as_str().filter(|u| !u.is_empty())
        && uid != old_uid
    {
        let path = Path::new("metadata").child("uid");
        let error = FieldError::invalid(&path, uid, validation::metadata::FIELD_IMMUTABLE);
        return Err(ApiError::new(Status::invalid(info, &name, &[error])));
    }

    // The server owns these; the client's copy is ignored.
    let m = meta::metadata_mut(&mut new);
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "namespace",
        "name",
    ] {
        match old.get("metadata").and_then(|om| om.get(field)) {
            Some(v) => {
                m.insert(field.into(), v.clone());
            }
            None => {
                m.remove(field);
            }
        }
    }
    if !opts.managed_fields {
        match old.pointer("/metadata/managedFields") {
            Some(kept) => m.insert("managedFields".into(), kept.clone()),
            None => m.remove("managedFields"),
        };
    }
    m.insert("resourceVersion".into(), json!(old_rv.to_string()));
    meta::omit_empty_collections(&mut new);

    match target {
        UpdateTarget::Main if info.has_status() => {
            // A patch that leaves `status` alone (a finalizer removal) has the stored one
            // already: comparing costs no allocation, copying the pod's status back would.
            if new.get("status") != old.get("status")
                && let Some(map) = new.as_object_mut()
            {
                match old.get("status") {
                    Some(s) => map.insert("status".into(), s.clone()),
                    None => map.remove("status"),
                };
            }
        }
        UpdateTarget::Status => keep_only_status(info, &mut new, old),
        UpdateTarget::Main | UpdateTarget::Whole => {}
    }
    if target != UpdateTarget::Status {
        defaulting::drop_disabled_fields(info, &mut new, Some(old));
    }
    defaulting::apply_defaults(info, &mut new);

    // A change of spec through the main resource; a pod's binding is not one (upstream's
    // binding storage leaves the generation as it is).
    if target == UpdateTarget::Main && tracks_generation(info) && new.get("spec") != old.get("spec")
    {
        meta::set(&mut new, "generation", meta::generation(old) + 1);
    }
    if new == *old {
        return Ok(Written::new(new));
    }
    let errors = match target {
        _ if opts.trusted => Vec::new(),
        UpdateTarget::Main | UpdateTarget::Whole => validation::validate_update(info, &new, old),
        UpdateTarget::Status => validation::validate_status_update(info, &new, old),
    };
    if !errors.is_empty() {
        return Err(ApiError::new(Status::invalid(info, &name, &errors)));
    }
    if target != UpdateTarget::Status && !opts.trusted {
        admit_claim_resize(state, info, &name, &new, old).await?;
    }
    let key = info.key(meta::namespace(old), &name);
    // Upstream `shouldDeleteDuringUpdate`: only an object whose graceful deletion is over
    // (grace period 0) goes away when its last finalizer is removed; a pod still within its
    // grace period keeps taking status updates until its node agent deletes it.
    let grace_over = old["metadata"]["deletionGracePeriodSeconds"]
        .as_i64()
        .unwrap_or(0)
        == 0;
    // A namespace also waits for its `spec.finalizers` (upstream's
    // `ShouldDeleteNamespaceDuringUpdate`): its finalization removes it, not a status write.
    let namespace_finalizing = info.kind == "Namespace"
        && new["spec"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
    if meta::is_deleting(&new)
        && meta::finalizers(&new).is_empty()
        && grace_over
        && !namespace_finalizing
    {
        // The last finalizer is gone: the object goes away now.
        if opts.dry_run {
            return Ok(Written::new(new));
        }
        let kv = state
            .store
            .delete(&key, Some(old_rv))
            .await
            .map_err(|e| ApiError::from_store(e, info, &name))?;
        meta::set(&mut new, "resourceVersion", kv.mod_revision.to_string());
        return Ok(Written::new(new));
    }
    if opts.dry_run {
        return Ok(Written::new(new));
    }
    let (stored, same_version) = to_stored_checked(&new);
    let kv = state
        .store
        .update(&key, stored, Some(old_rv))
        .await
        .map_err(|e| ApiError::from_store(e, info, &name))?;
    Ok(Written::stored(state, new, &kv, same_version))
}

/// Whether a store error is a conflict worth retrying for an unconditional write.
pub fn is_conflict(e: &ApiError) -> bool {
    e.0.code == 409 && e.0.reason == "Conflict"
}

/// Removes the object from the store now.
pub async fn remove(
    state: &AppState,
    info: &ResourceInfo,
    obj: &Value,
    expected: Revision,
) -> Result<KeyValue, StoreError> {
    let key = info.key(meta::namespace(obj), meta::name(obj).unwrap_or_default());
    state.store.delete(&key, Some(expected)).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_status_update_changes_all_but_the_spec_and_a_pod_s_owners() {
        let pods = resources::find("", "v1", "pods").unwrap();
        let jobs = resources::find("batch", "v1", "jobs").unwrap();
        let owners = json!([{"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "u"}]);
        let old = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"a": "b"}, "ownerReferences": owners},
            "spec": {"nodeName": "n"}, "status": {"phase": "Pending"}});
        let new = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"c": "d"}, "finalizers": ["f"]},
            "spec": {"nodeName": "other"}, "status": {"phase": "Running"}});

        let mut pod = new.clone();
        keep_only_status(pods, &mut pod, &old);
        assert_eq!(pod["spec"], old["spec"]);
        assert_eq!(pod["status"], new["status"]);
        assert_eq!(
            pod["metadata"]["labels"],
            json!({"c": "d"}),
            "labels change"
        );
        assert_eq!(
            pod["metadata"]["finalizers"],
            json!(["f"]),
            "finalizers change"
        );
        assert_eq!(
            pod["metadata"]["ownerReferences"], owners,
            "a pod's owners do not"
        );

        let mut job = new.clone();
        keep_only_status(jobs, &mut job, &old);
        assert_eq!(job["spec"], old["spec"]);
        assert!(job["metadata"].get("ownerReferences").is_none(), "{job}");

        let mut not_an_object = json!("not an object");
        keep_only_status(jobs, &mut not_an_object, &old);
        assert_eq!(not_an_object, old);
    }
    use crate::auth::TokenFile;
    use crate::state::SystemClock;
    use std::sync::Arc;

    async fn state(dir: &std::path::Path) -> AppState {
        let store = runlet_store::sqlite::SqliteStore::open(dir.join("state.db")).unwrap();
        let state = AppState::new(
            Arc::new(store),
            TokenFile::default(),
            Arc::new(SystemClock),
            false,
        );
        crate::bootstrap(&state).await.unwrap();
        state
    }

    /// Creates a ConfigMap in `default` from its metadata, after queueing `suffixes` for the
    /// names the server generates.
    async fn create_cm(state: &AppState, metadata: Value, suffixes: &[&str]) -> ApiResult<Value> {
        NEXT_SUFFIXES.with(|n| {
            n.borrow_mut()
                .extend(suffixes.iter().map(|s| s.to_string()))
        });
        let cms = resources::find("", "v1", "configmaps").unwrap();
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata});
        let written = create(state, cms, Some("default"), obj, WriteOptions::default()).await?;
        Ok(Arc::unwrap_or_clone(written.object))
    }

    #[tokio::test]
    async fn a_read_after_a_write_gives_what_decoding_the_stored_bytes_gives() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path()).await;
        let cms = resources::find("", "v1", "configmaps").unwrap();
        let created = create_cm(&state, json!({"name": "c", "labels": {"a": "b"}}), &[])
            .await
            .unwrap();
        // The client's resourceVersion comes first in its metadata; the stored object's last.
        let mut new = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "resourceVersion": meta::resource_version(&created).unwrap(), "name": "c"},
            "data": {"k": "v"}});
        let updated = update(
            &state,
            cms,
            &created,
            new.take(),
            UpdateTarget::Main,
            WriteOptions::default(),
        )
        .await
        .unwrap();
        let read = get(&state, cms, Some("default"), "c").await.unwrap();
        assert!(
            Arc::ptr_eq(&read, &updated.object),
            "the write's object is read back"
        );
        let kv = state
            .store
            .get(&cms.key(Some("default"), "c"))
            .await
            .unwrap()
            .unwrap();
        let decoded = from_stored(&kv).unwrap();
        assert_eq!(
            serde_json::to_string(&*read).unwrap(),
            serde_json::to_string(&decoded).unwrap()
        );
        let answered: Value = serde_json::from_slice(&updated.json()).unwrap();
        assert_eq!(answered, decoded);
    }

    #[test]
    fn new_uids_are_random_version_4_uuids() {
        let a = uuid::Uuid::parse_str(&new_uid()).unwrap();
        let b = uuid::Uuid::parse_str(&new_uid()).unwrap();
        assert_eq!(a.get_version(), Some(uuid::Version::Random));
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn a_taken_generated_name_is_generated_again_but_a_given_name_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path()).await;
        let generated = || json!({"generateName": "p-"});
        let first = create_cm(&state, generated(), &["bbbbb"]).await.unwrap();
        assert_eq!(meta::name(&first), Some("p-bbbbb"));
        // Upstream RetryGenerateName: the taken name is generated again until one is free.
        let second = create_cm(&state, generated(), &["bbbbb", "bbbbb", "ccccc"])
            .await
            .unwrap();
        assert_eq!(meta::name(&second), Some("p-ccccc"));
        let err = create_cm(&state, json!({"name": "p-bbbbb"}), &[])
            .await
            .unwrap_err();
        assert_eq!((err.0.code, err.0.reason), (409, "AlreadyExists"));
    }

    #[tokio::test]
    async fn a_long_generate_name_is_cut_so_the_name_fits_in_63_characters() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path()).await;
        let prefix = "g".repeat(70);
        let made = create_cm(&state, json!({"generateName": prefix}), &["bcdfg"])
            .await
            .unwrap();
        assert_eq!(
            meta::name(&made).map(str::to_string),
            Some(format!("{}bcdfg", "g".repeat(58)))
        );
    }

    #[tokio::test]
    async fn generated_names_give_up_after_eight_attempts() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path()).await;
        let generated = || json!({"generateName": "q-"});
        create_cm(&state, generated(), &["zzzzz"]).await.unwrap();
        let err = create_cm(&state, generated(), &["zzzzz"; 8])
            .await
            .unwrap_err();
        assert_eq!(err.0.code, 409);
        let left = NEXT_SUFFIXES.with(|n| n.borrow().len());
        assert_eq!(left, 0, "eight attempts for the second");
    }
}
