//! Merging and ordering lists, upstream's `mergeSlice` and the `$setElementOrder` machinery.
//!
//! A merged list keeps upstream's order: the elements named by the patch (or by its
//! `$setElementOrder` list) come in the patch's order, the server-only elements keep their
//! relative live order, and the two are interleaved by their live positions
//! (`normalizeElementOrder` and `mergeSortedSlice` in `strategicpatch/patch.go`). Element
//! identity (a merge-key value, or a primitive) is compared through a canonical string so that
//! lookups hash instead of scanning.

use super::{
    DELETE_DIRECTIVE, DIRECTIVE_MARKER, MERGE_DIRECTIVE, REPLACE_DIRECTIVE, Schema, bad_arg_type,
    bad_patch_type, go_type, merge_map, no_merge_key,
};
use crate::patch::PatchError;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

const MAP: &str = "map[string]interface {}";
const LIST: &str = "[]interface {}";

/// A canonical rendering of `v`: equal values (as Go's `==` on decoded JSON sees them) render
/// equally, whatever their key order.
fn canon(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canon(v)))
                .collect();
            entries.sort();
            format!("{{{}}}", entries.join(","))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(canon).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// The identity of a list element: its merge-key value (Go's `nil` when it has none) or, in a
/// list of primitives, the element itself.
fn identity(item: &Value, merge_key: Option<&str>) -> String {
    match merge_key {
        Some(k) => item
            .as_object()
            .and_then(|m| m.get(k))
            .map_or_else(|| "null".to_string(), canon),
        None => canon(item),
    }
}

/// `sliceElementType`: the one Go type of every element of `slices`.
fn element_type(slices: &[&[Value]]) -> Result<&'static str, PatchError> {
    let mut found: Option<&'static str> = None;
    for v in slices.iter().flat_map(|s| s.iter()) {
        let t = go_type(v);
        match found {
            None if t == LIST => {
                return Err(PatchError::Conflict(
                    "lists of lists are not supported".into(),
                ));
            }
            None if v.is_null() => {
                return Err(PatchError::Malformed(
                    "list elements must not be null".into(),
                ));
            }
            None => found = Some(t),
            Some(prev) if prev != t => {
                let all: Vec<Value> = slices.iter().map(|s| Value::Array(s.to_vec())).collect();
                return Err(PatchError::Malformed(format!(
                    "list element types are not identical: {}",
                    Value::Array(all)
                )));
            }
            Some(_) => {}
        }
    }
    found.ok_or_else(|| PatchError::Malformed("no elements in any of the given slices".into()))
}

/// `mergeSlice`: merges `patch` into the list `original`. `is_delete_list` marks the value of a
/// `$deleteFromPrimitiveList/<list>` directive.
pub(super) fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    schema: Option<&'static Schema>,
    merge_key: Option<&'static str>,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    if element_type(&[&original, &patch])? != MAP {
        if is_delete_list {
            let doomed: HashSet<String> = patch.iter().map(canon).collect();
            return Ok(original
                .into_iter()
                .filter(|v| !doomed.contains(&canon(v)))
                .collect());
        }
        let server_order = original.clone();
        let mut seen = HashSet::new();
        let merged: Vec<Value> = original
            .into_iter()
            .chain(patch.iter().cloned())
            .filter(|v| seen.insert(canon(v)))
            .collect();
        let (patch_items, server_only) = partition_primitives(merged, &patch);
        return normalize_element_order(patch_items, server_only, &patch, &server_order, None);
    }

    let Some(merge_key) = merge_key else {
        return Err(PatchError::Malformed(format!(
            "cannot merge lists without merge key for {}",
            Schema::name_of(schema)
        )));
    };
    let (original, patch) = split_special_elements(original, patch, merge_key)?;
    let server_order = original.clone();
    let merged = merge_by_key(original, &patch, merge_key, schema)?;
    let (patch_items, server_only) = partition_maps(merged, &patch, merge_key)?;
    normalize_element_order(
        patch_items,
        server_only,
        &patch,
        &server_order,
        Some(merge_key),
    )
}

/// `mergeSliceWithSpecialElements`: applies the `$patch` elements of a list of maps. Returns the
/// list to merge into and the patch without those elements; after `$patch: replace` that is the
/// patch's elements and nothing.
fn split_special_elements(
    original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut rest = Vec::with_capacity(patch.len());
    let mut doomed = HashSet::new();
    let mut replace = false;
    for v in patch {
        let Value::Object(m) = &v else {
            return Err(bad_arg_type(MAP, &v));
        };
        let Some(directive) = m.get(DIRECTIVE_MARKER) else {
            rest.push(v);
            continue;
        };
        match directive.as_str() {
            Some(DELETE_DIRECTIVE) => match m.get(merge_key) {
                Some(key) => {
                    doomed.insert(canon(key));
                }
                None => return Err(no_merge_key(m, merge_key)),
            },
            Some(REPLACE_DIRECTIVE) => replace = true,
            Some(MERGE_DIRECTIVE) => {
                return Err(PatchError::Malformed(
                    "merging lists cannot yet be specified in the patch".into(),
                ));
            }
            _ => return Err(bad_patch_type(directive, m)),
        }
    }
    if replace {
        return Ok((rest, Vec::new()));
    }
    let kept = original
        .into_iter()
        .filter(|o| {
            !o.as_object()
                .and_then(|o| o.get(merge_key))
                .is_some_and(|k| doomed.contains(&canon(k)))
        })
        .collect();
    Ok((kept, rest))
}

/// `mergeSliceWithoutSpecialElements`: merges each patch element into the first original element
/// with the same merge-key value, or appends it (as is, directives and all, like upstream).
fn merge_by_key(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    schema: Option<&'static Schema>,
) -> Result<Vec<Value>, PatchError> {
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, o) in original.iter().enumerate() {
        if let Some(k) = o.as_object().and_then(|m| m.get(merge_key)) {
            index.entry(canon(k)).or_insert(i);
        }
    }
    for v in patch {
        let Value::Object(p) = v else {
            return Err(bad_arg_type(MAP, v));
        };
        let Some(key) = p.get(merge_key) else {
            return Err(no_merge_key(p, merge_key));
        };
        let key = canon(key);
        match index.get(&key).and_then(|&i| original.get_mut(i)) {
            Some(slot) => {
                let Value::Object(o) = std::mem::take(slot) else {
                    return Err(PatchError::Malformed(format!(
                        "value for key {key} is not a map"
                    )));
                };
                *slot = Value::Object(merge_map(o, p.clone(), schema)?);
            }
            None => {
                index.insert(key, original.len());
                original.push(v.clone());
            }
        }
    }
    Ok(original)
}

/// `partitionPrimitivesByPresentInList`: the elements of `list` present in `by`, and the rest.
fn partition_primitives(list: Vec<Value>, by: &[Value]) -> (Vec<Value>, Vec<Value>) {
    let present: HashSet<String> = by.iter().map(canon).collect();
    list.into_iter().partition(|v| present.contains(&canon(v)))
}

/// `partitionMapsByPresentInList`: the elements of `list` whose merge-key value some element of
/// `by` has, and the rest.
fn partition_maps(
    list: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut present = HashSet::new();
    for (i, b) in by.iter().enumerate() {
        let Value::Object(m) = b else {
            return Err(PatchError::Malformed(format!(
                "value for key {i} is not a map"
            )));
        };
        if let Some(k) = m.get(merge_key) {
            present.insert(canon(k));
        }
    }
    let (mut inside, mut outside) = (Vec::new(), Vec::new());
    for v in list {
        let key = match &v {
            Value::Object(m) => match m.get(merge_key) {
                Some(k) => canon(k),
                None => return Err(no_merge_key(m, merge_key)),
            },
            other => return Err(bad_arg_type(MAP, other)),
        };
        if present.contains(&key) {
            inside.push(v)
        } else {
            outside.push(v)
        }
    }
    Ok((inside, outside))
}

/// `validateMergeKeyInLists`: every element is a map holding the merge key.
fn validate_merge_key(list: &[Value], merge_key: &str) -> Result<(), PatchError> {
    for item in list {
        match item {
            Value::Object(m) if m.contains_key(merge_key) => {}
            Value::Object(m) => return Err(no_merge_key(m, merge_key)),
            other => return Err(bad_arg_type(MAP, other)),
        }
    }
    Ok(())
}

/// First positions of each identity in `order`.
fn positions(order: &[Value], merge_key: Option<&str>) -> HashMap<String, usize> {
    let mut pos = HashMap::new();
    for (i, v) in order.iter().enumerate() {
        pos.entry(identity(v, merge_key)).or_insert(i);
    }
    pos
}

/// Whether `v` is a map whose `$patch` is `delete`.
fn is_delete_element(v: &Value) -> bool {
    v.as_object()
        .and_then(|m| m.get(DIRECTIVE_MARKER))
        .and_then(Value::as_str)
        == Some(DELETE_DIRECTIVE)
}

/// `normalizeSliceOrder`: sorts `to_sort` stably by position in `order`; `$patch: delete`
/// elements go last. (Elements missing from `order` cannot occur on upstream's paths; they sort
/// after the others.)
fn normalize_slice_order(
    to_sort: Vec<Value>,
    order: &[Value],
    merge_key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    let (mut to_sort, deletes) = match merge_key {
        Some(k) => {
            validate_merge_key(&to_sort, k)?;
            validate_merge_key(order, k)?;
            to_sort
                .into_iter()
                .partition::<Vec<_>, _>(|v| !is_delete_element(v))
        }
        None => (to_sort, Vec::new()),
    };
    let pos = positions(order, merge_key);
    to_sort.sort_by_key(|v| {
        pos.get(&identity(v, merge_key))
            .copied()
            .unwrap_or(usize::MAX)
    });
    to_sort.extend(deletes);
    Ok(to_sort)
}

/// `mergeSortedSlice`: interleaves the server-only elements `left` into the patch elements
/// `right`, an element of `left` going first when both are in the live list and it was earlier.
fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: Option<&str>,
) -> Vec<Value> {
    let pos = positions(server_order, merge_key);
    let at = |v: &Value| pos.get(&identity(v, merge_key)).copied();
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => matches!((at(l), at(r)), (Some(li), Some(ri)) if li < ri),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

/// `normalizeElementOrder`: the patch's elements in `patch_order`, the server-only ones in
/// `server_order`, interleaved.
fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    let patch_items = normalize_slice_order(patch_items, patch_order, merge_key)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key)?;
    Ok(merge_sorted(
        server_only,
        patch_items,
        server_order,
        merge_key,
    ))
}

/// `validatePatchWithSetOrderList`: the patch's elements appear in the `$setElementOrder` list,
/// in the same relative order.
pub(super) fn validate_patch_with_set_order(
    patch: &[Value],
    order: &[Value],
    merge_key: Option<&str>,
) -> Result<(), PatchError> {
    if order.is_empty() || patch.is_empty() {
        return Ok(());
    }
    let non_delete: Vec<&Value> = match merge_key {
        Some(_) => {
            if let Some(bad) = patch.iter().find(|v| !v.is_object()) {
                return Err(bad_arg_type(MAP, bad));
            }
            patch.iter().filter(|v| !is_delete_element(v)).collect()
        }
        None => patch.iter().collect(),
    };
    let (mut pi, mut si) = (0, 0);
    while let (Some(p), Some(o)) = (non_delete.get(pi), order.get(si)) {
        if p.as_object()
            .is_some_and(|m| m.contains_key(DIRECTIVE_MARKER))
        {
            pi += 1;
            continue;
        }
        if merge_key_value_equal(p, o, merge_key)? {
            pi += 1;
        }
        si += 1;
    }
    if pi < non_delete.len() && si >= order.len() {
        return Err(PatchError::Malformed(format!(
            "The order in patch list:\n{}\n doesn't match $setElementOrder list:\n{}\n",
            Value::Array(patch.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

/// `mergeKeyValueEqual`.
fn merge_key_value_equal(
    left: &Value,
    right: &Value,
    merge_key: Option<&str>,
) -> Result<bool, PatchError> {
    let Some(k) = merge_key else {
        return Ok(left == right);
    };
    let value = |v: &Value| -> Result<Value, PatchError> {
        let m: &Map<String, Value> = v.as_object().ok_or_else(|| bad_arg_type(MAP, v))?;
        m.get(k).cloned().ok_or_else(|| no_merge_key(m, k))
    };
    Ok(value(left)? == value(right)?)
}

/// The ordering half of `mergePatchIntoOriginal`: orders the `merged` list by the
/// `$setElementOrder` list `order`, then the patch's and the live list's orders.
/// `kind_lists` are the live and patch lists, whose element type decides how elements are
/// identified; `live_order` is the live list as upstream sees it then ([`aliased_live_order`]).
pub(super) fn order_by_set_element_order(
    merged: Vec<Value>,
    order: &[Value],
    kind_lists: &[&[Value]],
    live_order: &[Value],
    merge_key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    let (patch_items, server_only) = match merge_key {
        Some(k) => partition_maps(merged, order, k)?,
        None => {
            if let Some(m) = merged.iter().chain(order).find(|v| v.is_object()) {
                // Upstream panics hashing a map here.
                return Err(PatchError::Malformed(format!(
                    "cannot order a list of maps without a merge key: {m}"
                )));
            }
            partition_primitives(merged, order)
        }
    };
    let kind = element_type(kind_lists)?;
    let key = if kind == MAP {
        Some(merge_key.unwrap_or(""))
    } else {
        None
    };
    normalize_element_order(patch_items, server_only, order, live_order, key)
}

/// The live list as upstream's `mergePatchIntoOriginal` sees it after merging a patch into it.
///
/// Upstream orders a `$setElementOrder` list against the live list's slice header, whose backing
/// array `mergeSlice` has meanwhile edited in place: deleting an element shifts the later ones
/// left, and appending a new element writes it into the spare capacity when there is some. The
/// resulting interleaving of server-only elements is what upstream's own tests expect, so it is
/// reproduced here, with the capacity a Go decoder leaves (appends double it).
pub(super) fn aliased_live_order(
    original: &[Value],
    patch: &[Value],
    merge_key: Option<&str>,
) -> Vec<Value> {
    let Some(merge_key) = merge_key else {
        return original.to_vec();
    };
    if !original.iter().chain(patch).all(Value::is_object) {
        return original.to_vec();
    }
    let key_of = |v: &Value| v.as_object().and_then(|m| m.get(merge_key)).map(canon);
    let mut backing = original.to_vec();
    let capacity = original.len().next_power_of_two();
    let mut len = original.len();
    let mut detached = false;
    let mut replace = false;
    for p in patch {
        match p.get(DIRECTIVE_MARKER).and_then(Value::as_str) {
            Some(DELETE_DIRECTIVE) => {
                let Some(doomed) = key_of(p) else { continue };
                while let Some(i) = backing
                    .iter()
                    .take(len)
                    .position(|o| key_of(o).as_ref() == Some(&doomed))
                {
                    // `append(s[:i], s[i+1:]...)`: later elements move left. Go leaves a stale
                    // copy in the freed slot; the deleted element sits there instead here, which
                    // orders nothing differently since it is not in the merged list.
                    if let Some(tail) = backing.get_mut(i..len) {
                        tail.rotate_left(1);
                    }
                    len -= 1;
                }
            }
            Some(REPLACE_DIRECTIVE) => replace = true,
            _ => {}
        }
    }
    if !replace {
        let mut keys: HashSet<String> = backing.iter().take(len).filter_map(key_of).collect();
        for p in patch.iter().filter(|p| p.get(DIRECTIVE_MARKER).is_none()) {
            let Some(k) = key_of(p) else { break };
            if !keys.insert(k) {
                continue;
            }
            if detached || len >= capacity {
                detached = true;
                continue;
            }
            if len < backing.len() {
                if let Some(slot) = backing.get_mut(len) {
                    *slot = p.clone();
                }
            } else {
                backing.push(p.clone());
            }
            len += 1;
        }
    }
    backing.truncate(original.len());
    backing
}
