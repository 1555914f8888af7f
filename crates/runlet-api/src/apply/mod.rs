//! Server-side apply (`PATCH` with `application/apply-patch+yaml`) and the `managedFields` it
//! keeps, after upstream's structured-merge-diff: an apply merges the applied configuration
//! into the live object by the kind's schema ([`schema`]), removes what the same manager
//! applied before and no longer does (unless another manager owns it), and refuses to change a
//! field another manager owns unless forced, naming the conflicts as upstream does.
//!
//! Ownership is kept from an object's first apply on. A create or update of an object that was
//! never applied records no `managedFields` (upstream records them for every write); that keeps
//! the per-pod path of a Job free of this bookkeeping. At its first apply such an object's
//! existing fields belong to `before-first-apply`, upstream's manager for objects without
//! `managedFields`, so an apply that changes them still conflicts. Later updates of an applied
//! object are recorded (`Update` entries, by field manager or user agent), at most ten of them:
//! older ones are merged into `ancient-changes`, as upstream does.
//!
//! Where upstream differs in detail: an `Update` entry records the fields the write added or
//! changed, without upstream's `.` markers for nodes the write created; items of a keyed list
//! merge in the live order with new ones appended; an applied `null` removes the field.

pub mod fieldset;
pub mod schema;

use fieldset::{Element, FieldSet, key_of, path_string};
use schema::{Node, Shape};
use serde_json::{Value, json};

/// Upstream's manager for the fields of an object that had no `managedFields` at its first
/// apply.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";
/// Where client-side `kubectl apply` keeps the configuration it applied last.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Server-set fields no manager owns (upstream's `stripMetaManager`).
const STRIPPED: [&[&str]; 11] = [
    &["f:apiVersion"],
    &["f:kind"],
    &["f:metadata", "f:name"],
    &["f:metadata", "f:namespace"],
    &["f:metadata", "f:creationTimestamp"],
    &["f:metadata", "f:selfLink"],
    &["f:metadata", "f:uid"],
    &["f:metadata", "f:generation"],
    &["f:metadata", "f:managedFields"],
    &["f:metadata", "f:resourceVersion"],
    &["f:metadata", "f:deletionTimestamp"],
];

/// Who writes, how, and through which part of the object.
#[derive(Debug, Clone)]
pub struct Writer<'a> {
    pub manager: &'a str,
    /// `group/version` of the object written.
    pub api_version: &'a str,
    /// `status` for a write through `/status`, else empty.
    pub subresource: &'a str,
    /// RFC 3339, for the entry's `time`.
    pub now: &'a str,
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: String,
    fields: FieldSet,
}

impl Entry {
    fn parse(v: &Value) -> Option<Entry> {
        Some(Entry {
            manager: v.get("manager")?.as_str()?.to_string(),
            operation: v["operation"].as_str().unwrap_or("Update").to_string(),
            api_version: v["apiVersion"].as_str().unwrap_or_default().to_string(),
            time: v["time"].as_str().unwrap_or_default().to_string(),
            subresource: v["subresource"].as_str().unwrap_or_default().to_string(),
            fields: FieldSet::from_fields_v1(&v["fieldsV1"]),
        })
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields.to_fields_v1(),
        });
        if !self.time.is_empty() {
            v["time"] = json!(self.time);
        }
        if !self.subresource.is_empty() {
            v["subresource"] = json!(self.subresource);
        }
        v
    }

    fn is(&self, manager: &str, operation: &str, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }

    /// How a conflict names this manager (`printManager`).
    fn printed(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == "Update" {
            s.push_str(&format!(" using {}", self.api_version));
            if !self.time.is_empty() {
                s.push_str(&format!(" at {}", self.time));
            }
        }
        s
    }
}

/// An apply that would change fields other managers own.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflicts(Vec<(String, String)>);

impl Conflicts {
    /// `(manager as printed, field path)`, for the Status causes.
    pub fn causes(&self) -> &[(String, String)] {
        &self.0
    }

    /// Upstream's message: `Apply failed with 1 conflict: conflict with "m": .spec.x`.
    pub fn message(&self) -> String {
        if let [(manager, path)] = self.0.as_slice() {
            return format!("Apply failed with 1 conflict: conflict with {manager}: {path}");
        }
        let mut managers: Vec<&String> = self.0.iter().map(|(m, _)| m).collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for manager in managers {
            lines.push(format!("conflicts with {manager}:"));
            for (_, path) in self.0.iter().filter(|(m, _)| m == manager) {
                lines.push(format!("- {path}"));
            }
        }
        format!(
            "Apply failed with {} conflicts: {}",
            self.0.len(),
            lines.join("\n")
        )
    }
}

/// Why an apply is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyError {
    /// It would change fields other managers own.
    Conflicts(Conflicts),
    /// The configuration lists two items of a keyed list (or a set) with the same key:
    /// `.spec.template.spec.containers[name="c"].env: duplicate entries for key [name="A"]`.
    DuplicateKey(String),
}

/// The first keyed list item or set value of `value` whose key an earlier one has.
fn duplicate_key(value: &Value, node: Node<'_>, path: &mut Vec<Element>) -> Option<String> {
    match (node.shape(), value) {
        (Shape::Struct | Shape::Map, Value::Object(map)) => map.iter().find_map(|(key, child)| {
            path.push(format!("f:{key}"));
            let found = duplicate_key(child, node.field(key), path);
            path.pop();
            found
        }),
        (shape @ (Shape::KeyedList(_) | Shape::Set), Value::Array(items)) => {
            let item_node = node.items();
            let mut seen = Vec::new();
            for item in items {
                let element = match &shape {
                    Shape::KeyedList(keys) => fieldset::key_element(item, keys, item_node),
                    _ => format!("v:{item}"),
                };
                if seen.contains(&element) {
                    return Some(format!(
                        "{}: duplicate entries for key {}",
                        path_string(path),
                        path_string(std::slice::from_ref(&element))
                    ));
                }
                if let Shape::KeyedList(_) = shape {
                    path.push(element.clone());
                    let found = duplicate_key(item, item_node, path);
                    path.pop();
                    if found.is_some() {
                        return found;
                    }
                }
                seen.push(element);
            }
            None
        }
        _ => None,
    }
}

/// The result of an apply: the object to write and its `managedFields`.
#[derive(Debug)]
pub struct Applied {
    pub object: Value,
    pub managed_fields: Vec<Value>,
}

/// The fields of `value` a manager can own: without server-set metadata, and without the half
/// of the object the subresource does not write (`status` through the main resource, the rest
/// through `/status`).
fn owned_fields(value: &Value, node: Node<'_>, subresource: &str) -> FieldSet {
    let mut set = FieldSet::of(value, node);
    for path in STRIPPED {
        let path: Vec<Element> = path.iter().map(|e| e.to_string()).collect();
        set = set.without(&path);
    }
    if subresource == "status" {
        let mut only_status = FieldSet::default();
        for member in set.members() {
            if member.first().map(String::as_str) == Some("f:status") {
                only_status.insert(&member);
            }
        }
        only_status
    } else {
        set.without(&["f:status".to_string()])
    }
}

fn parse_entries(live: &Value) -> Vec<Entry> {
    live.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|entries| entries.iter().filter_map(Entry::parse).collect())
        .unwrap_or_default()
}

/// How many `Update` entries an object keeps; older ones are merged into `ancient-changes`
/// (upstream's `capManagersManager`).
const MAX_UPDATE_MANAGERS: usize = 10;
const ANCIENT_CHANGES: &str = "ancient-changes";

/// Merges the oldest `Update` entries, per API version, into an `ancient-changes` entry until
/// at most [`MAX_UPDATE_MANAGERS`] are left, as upstream does: the first old entry of a version
/// is kept until a second one of that version is merged with it.
fn cap_update_entries(entries: &mut Vec<Entry>) {
    let mut updates: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].operation == "Update")
        .collect();
    if updates.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    updates.sort_by(|&a, &b| entries[a].time.cmp(&entries[b].time));
    let mut left = updates.len();
    let mut first_of_version: Vec<(String, usize)> = Vec::new();
    let mut merged_away: Vec<usize> = Vec::new();
    for i in updates {
        if left <= MAX_UPDATE_MANAGERS {
            break;
        }
        let version = entries[i].api_version.clone();
        match first_of_version.iter().find(|(v, _)| *v == version) {
            Some(&(_, bucket)) => {
                let fields = entries[i].fields.clone();
                let time = entries[i].time.clone();
                let bucket = &mut entries[bucket];
                bucket.manager = ANCIENT_CHANGES.into();
                bucket.subresource = String::new();
                bucket.fields = bucket.fields.union(&fields);
                bucket.time = time;
                merged_away.push(i);
                left -= 1;
            }
            None => first_of_version.push((version, i)),
        }
    }
    merged_away.sort_unstable();
    for i in merged_away.into_iter().rev() {
        entries.remove(i);
    }
}

/// Upstream's order of entries: `Apply` before `Update`, then by time, manager, version.
fn encode(mut entries: Vec<Entry>) -> Vec<Value> {
    entries.retain(|e| !e.fields.is_empty());
    cap_update_entries(&mut entries);
    entries.sort_by(|a, b| {
        (
            &a.operation,
            &a.time,
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                &b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
    entries.iter().map(Entry::to_json).collect()
}

/// Applies `config` as `writer` to `live` (`None`: the object does not exist yet).
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    node: Node<'_>,
    writer: &Writer<'_>,
    force: bool,
) -> Result<Applied, ApplyError> {
    if let Some(duplicate) = duplicate_key(config, node, &mut Vec::new()) {
        return Err(ApplyError::DuplicateKey(duplicate));
    }
    let applied_set = owned_fields(config, node, writer.subresource);
    let applied_entry = |time: &str| Entry {
        manager: writer.manager.to_string(),
        operation: "Apply".into(),
        api_version: writer.api_version.to_string(),
        time: time.to_string(),
        subresource: writer.subresource.to_string(),
        fields: applied_set.clone(),
    };
    let Some(live) = live else {
        let mut object = config.clone();
        crate::patch::discard_nulls(&mut object);
        return Ok(Applied {
            object,
            managed_fields: encode(vec![applied_entry(writer.now)]),
        });
    };
    let mut entries = parse_entries(live);
    if entries.is_empty() {
        entries.push(Entry {
            manager: BEFORE_FIRST_APPLY.into(),
            operation: "Update".into(),
            api_version: writer.api_version.to_string(),
            time: writer.now.to_string(),
            subresource: String::new(),
            fields: owned_fields(live, node, ""),
        });
    }
    let mut merged = merge(live, config, node);
    let position = entries
        .iter()
        .position(|e| e.is(writer.manager, "Apply", writer.subresource));
    let last_set = position.map(|i| entries[i].fields.clone());
    let time = match position {
        Some(i) if entries[i].fields == applied_set => entries[i].time.clone(),
        _ => writer.now.to_string(),
    };
    match position {
        Some(i) => entries[i] = applied_entry(&time),
        None => entries.push(applied_entry(&time)),
    }
    if let Some(last_set) = last_set {
        let owned = entries
            .iter()
            .fold(FieldSet::default(), |all, e| all.union(&e.fields));
        prune(&mut merged, &last_set.difference(&owned), &owned, node);
    }
    let changes = Changes::between(live, &merged, node, writer.subresource);
    let mut conflicts = Vec::new();
    for entry in entries
        .iter_mut()
        .filter(|e| !e.is(writer.manager, "Apply", writer.subresource))
    {
        let taken = entry.fields.intersection(&changes.changed());
        for path in taken.members() {
            conflicts.push((entry.printed(), path));
        }
        entry.fields = entry.fields.difference(&taken).difference(&changes.removed);
    }
    if !force && !conflicts.is_empty() {
        // Upstream's `lastAppliedManager`: `kubectl` moving an object from client-side to
        // server-side apply takes what its last client-side configuration set, unchanged
        // since, without a conflict (it is forced when nothing else conflicts).
        if writer.manager == "kubectl"
            && let Some(allowed) = configured_by_client_side_apply(live, node, writer.subresource)
        {
            conflicts.retain(|(_, path)| !allowed.has(path));
        }
        if !conflicts.is_empty() {
            let printed = conflicts
                .into_iter()
                .map(|(manager, path)| (manager, path_string(&path)))
                .collect();
            return Err(ApplyError::Conflicts(Conflicts(printed)));
        }
    }
    Ok(Applied {
        object: merged,
        managed_fields: encode(entries),
    })
}

/// The fields the client-side `kubectl apply` that last wrote `live` set and that still have
/// the values it set (upstream's `allowedConflictsFromLastApplied`); `None` when no client-side
/// apply left its configuration.
fn configured_by_client_side_apply(
    live: &Value,
    node: Node<'_>,
    subresource: &str,
) -> Option<FieldSet> {
    let text = live
        .pointer("/metadata/annotations")?
        .get(LAST_APPLIED)?
        .as_str()?;
    let last: Value = serde_json::from_str(text).ok()?;
    let since = Changes::between(&last, live, node, subresource);
    Some(
        owned_fields(&last, node, subresource)
            .difference(&since.modified)
            .difference(&since.removed),
    )
}

/// The `managedFields` after a write that is not an apply, by `writer`, of an object that has
/// them (`None` for one that has none: see the module docs). The writer owns what it added or
/// changed, and nobody owns what it removed.
pub fn track_update(
    old: &Value,
    new: &Value,
    node: Node<'_>,
    writer: &Writer<'_>,
) -> Option<Vec<Value>> {
    let mut entries = parse_entries(old);
    if entries.is_empty() {
        return None;
    }
    let changes = Changes::between(old, new, node, writer.subresource);
    let changed = changes.changed();
    if changed.is_empty() && changes.removed.is_empty() {
        return Some(encode(entries));
    }
    for entry in &mut entries {
        entry.fields = entry
            .fields
            .difference(&changed)
            .difference(&changes.removed);
    }
    match entries
        .iter_mut()
        .find(|e| e.is(writer.manager, "Update", writer.subresource))
    {
        Some(entry) => {
            entry.fields = entry.fields.union(&changed);
            entry.time = writer.now.to_string();
            entry.api_version = writer.api_version.to_string();
        }
        None => entries.push(Entry {
            manager: writer.manager.to_string(),
            operation: "Update".into(),
            api_version: writer.api_version.to_string(),
            time: writer.now.to_string(),
            subresource: writer.subresource.to_string(),
            fields: changed,
        }),
    }
    Some(encode(entries))
}

/// What a write changed, as field sets (upstream's `Comparison`).
struct Changes {
    added: FieldSet,
    modified: FieldSet,
    removed: FieldSet,
}

impl Changes {
    fn between(old: &Value, new: &Value, node: Node<'_>, subresource: &str) -> Changes {
        let before = owned_fields(old, node, subresource);
        let after = owned_fields(new, node, subresource);
        let mut modified = FieldSet::default();
        for path in after.intersection(&before).members() {
            if after.is_leaf(&path) && value_at(old, &path, node) != value_at(new, &path, node) {
                modified.insert(&path);
            }
        }
        Changes {
            added: after.difference(&before),
            removed: before.difference(&after),
            modified,
        }
    }

    fn changed(&self) -> FieldSet {
        self.added.union(&self.modified)
    }
}

/// Merges `config` into `live` by the schema: fields and map entries one by one, keyed lists
/// item by item, sets value by value; atomic values are replaced.
fn merge(live: &Value, config: &Value, node: Node<'_>) -> Value {
    match (node.shape(), live, config) {
        (Shape::Struct | Shape::Map, Value::Object(l), Value::Object(c)) => {
            let mut out = l.clone();
            for (key, value) in c {
                if value.is_null() {
                    out.remove(key);
                    continue;
                }
                let merged = match l.get(key) {
                    Some(existing) => merge(existing, value, node.field(key)),
                    None => value.clone(),
                };
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        (Shape::KeyedList(keys), Value::Array(l), Value::Array(c)) => {
            let item_node = node.items();
            let mut out = l.clone();
            for item in c {
                let key = key_of(item, &keys, item_node);
                match out
                    .iter_mut()
                    .find(|existing| key_of(existing, &keys, item_node) == key)
                {
                    Some(existing) => *existing = merge(existing, item, item_node),
                    None => out.push(item.clone()),
                }
            }
            Value::Array(out)
        }
        (Shape::Set, Value::Array(l), Value::Array(c)) => {
            let mut out = l.clone();
            for item in c {
                if !out.contains(item) {
                    out.push(item.clone());
                }
            }
            Value::Array(out)
        }
        _ => {
            let mut out = config.clone();
            crate::patch::discard_nulls(&mut out);
            out
        }
    }
}

/// Removes from `value` the members of `gone` that nobody in `owned` owns at or below: a keyed
/// list item whole, never its key fields on their own (the item stays while someone owns part
/// of it, and needs its key).
fn prune(value: &mut Value, gone: &FieldSet, owned: &FieldSet, node: Node<'_>) {
    let mut paths = gone.members();
    // Shallowest first: once an item or field went, what was below it went along.
    paths.sort_by_key(Vec::len);
    let mut removed: Vec<Vec<Element>> = Vec::new();
    for path in paths {
        if removed.iter().any(|r| path.starts_with(r))
            || owned.has_at_or_below(&path)
            || is_item_key(&path)
        {
            continue;
        }
        remove_at(value, &path, node);
        drop_emptied(value, &path, node);
        removed.push(path);
    }
}

/// Removes the lists and maps that removing `path` left empty, upwards, as a typed object
/// omits an empty slice or map.
fn drop_emptied(value: &mut Value, path: &[Element], node: Node<'_>) {
    let mut parent = path;
    while let [rest @ .., _] = parent {
        parent = rest;
        if parent.is_empty() {
            return;
        }
        let Some(node_at) = node_at(node, parent) else {
            return;
        };
        let emptied = match value_at(value, parent, node) {
            Some(Value::Array(items)) => items.is_empty(),
            Some(Value::Object(map)) => map.is_empty() && node_at.shape() == Shape::Map,
            _ => false,
        };
        if !emptied {
            return;
        }
        remove_at(value, parent, node);
    }
}

/// The schema at `path` (fields and items; the item's key does not matter for its schema).
fn node_at<'n>(node: Node<'n>, path: &[Element]) -> Option<Node<'n>> {
    let mut at = node;
    for element in path {
        at = match element.strip_prefix("f:") {
            Some(name) => at.field(name),
            None => at.items(),
        };
    }
    Some(at)
}

/// Whether `path` ends at a key field of a keyed list item (`k:{"name":"c"}` then `f:name`).
fn is_item_key(path: &[Element]) -> bool {
    let [.., item, field] = path else {
        return false;
    };
    let (Some(key), Some(name)) = (item.strip_prefix("k:"), field.strip_prefix("f:")) else {
        return false;
    };
    serde_json::from_str::<serde_json::Map<String, Value>>(key).is_ok_and(|k| k.contains_key(name))
}

/// The value at `path`, if there is one.
fn value_at<'v>(value: &'v Value, path: &[Element], node: Node<'_>) -> Option<&'v Value> {
    let Some((first, rest)) = path.split_first() else {
        return Some(value);
    };
    let (child, child_node) = step(value, first, node)?;
    value_at(child, rest, child_node)
}

/// One step down `value` along `element`.
fn step<'v, 'n>(value: &'v Value, element: &str, node: Node<'n>) -> Option<(&'v Value, Node<'n>)> {
    if let Some(name) = element.strip_prefix("f:") {
        return Some((value.get(name)?, node.field(name)));
    }
    let items = value.as_array()?;
    let item_node = node.items();
    if let Some(key) = element.strip_prefix("k:") {
        let key: Value = serde_json::from_str(key).ok()?;
        let Shape::KeyedList(keys) = node.shape() else {
            return None;
        };
        let item = items.iter().find(|i| key_of(i, &keys, item_node) == key)?;
        return Some((item, item_node));
    }
    if let Some(v) = element.strip_prefix("v:") {
        let v: Value = serde_json::from_str(v).ok()?;
        let item = items.iter().find(|i| **i == v)?;
        return Some((item, item_node));
    }
    None
}

/// Removes the value at `path` from `value`, if it is there.
fn remove_at(value: &mut Value, path: &[Element], node: Node<'_>) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        if let Some(name) = first.strip_prefix("f:") {
            if let Some(map) = value.as_object_mut() {
                map.remove(name);
            }
            return;
        }
        let keys = match node.shape() {
            Shape::KeyedList(keys) => keys,
            _ => Vec::new(),
        };
        let item_node = node.items();
        if let Some(items) = value.as_array_mut() {
            if let Some(key) = first.strip_prefix("k:") {
                if let Ok(key) = serde_json::from_str::<Value>(key) {
                    items.retain(|i| key_of(i, &keys, item_node) != key);
                }
            } else if let Some(v) = first.strip_prefix("v:")
                && let Ok(v) = serde_json::from_str::<Value>(v)
            {
                items.retain(|i| *i != v);
            }
        }
        return;
    }
    if let Some(name) = first.strip_prefix("f:") {
        let child_node = node.field(name);
        if let Some(child) = value.get_mut(name) {
            remove_at(child, rest, child_node);
        }
        return;
    }
    let Shape::KeyedList(keys) = node.shape() else {
        return;
    };
    let item_node = node.items();
    let Some(key) = first
        .strip_prefix("k:")
        .and_then(|k| serde_json::from_str::<Value>(k).ok())
    else {
        return;
    };
    if let Some(item) = value.as_array_mut().and_then(|items| {
        items
            .iter_mut()
            .find(|i| key_of(i, &keys, item_node) == key)
    }) {
        remove_at(item, rest, item_node);
    }
}

/// The object map of `value`, for callers that set `metadata.managedFields`.
pub fn set_managed_fields(object: &mut Value, managed_fields: Vec<Value>) {
    let meta = crate::meta::metadata_mut(object);
    if managed_fields.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(managed_fields));
    }
}

/// The default field manager of a write that names none: the user agent up to its first `/`
/// (upstream's `prefixFromUserAgent`), at most 128 bytes.
pub fn manager_from_user_agent(user_agent: &str) -> String {
    let prefix = user_agent.split('/').next().unwrap_or_default();
    let mut end = prefix.len().min(128);
    while !prefix.is_char_boundary(end) {
        end -= 1;
    }
    prefix[..end].to_string()
}

#[cfg(test)]
mod tests;
