//! Kubernetes strategic merge patch (`application/strategic-merge-patch+json`).
//!
//! A port of the server half of upstream's
//! `staging/src/k8s.io/apimachinery/pkg/util/strategicpatch/patch.go` (`StrategicMergeMapPatch`
//! with `MergeParallelList` and `IgnoreUnmatchedNulls`): maps merge recursively and `null`
//! deletes a key; lists of objects with a `patchMergeKey` merge by that key; lists of primitives
//! with `patchStrategy:"merge"` are unioned; other lists are replaced. The directives
//! `$patch: replace|delete` (in a map or a list element), `$setElementOrder/<list>`,
//! `$retainKeys` and `$deleteFromPrimitiveList/<list>` are honoured as upstream does, including
//! its quirks (a `$patch` directive in a value the original lacks drops that value; elements
//! appended to a merging list keep their nested directives). Where upstream panics (a `null`
//! list element, an unhashable value) or answers 500, this module returns a [`PatchError`].
//!
//! The merge keys come from [`schema`], a static copy of the Go struct tags.
//!
//! Deliberate differences from upstream, none visible on well-formed patches:
//! - keys of a map are processed in order, with `$deleteFromPrimitiveList/<list>` after the other
//!   keys (upstream iterates a Go map in random order; its own patches never depend on the order);
//! - list lookups hash merge-key values instead of scanning, so a hostile patch of large lists
//!   costs linear time, not quadratic;
//! - patches and objects nested deeper than [`MAX_DEPTH`] are refused.
//!
//! `$patch: merge` is refused, as upstream refuses it (in a map: `unknown patch type`; in a
//! list: `merging lists cannot yet be specified in the patch`). The order of a merged list
//! follows upstream exactly, down to the effect of Go slice aliasing on `$setElementOrder` lists
//! (see `list::aliased_live_order`): upstream's own test corpus (260 applications from
//! `patch_test.go`) passed against this module when it was written.

mod directives;
mod list;
pub mod schema;

use crate::patch::{PatchError, discard_nulls};
use crate::resources::ResourceInfo;
use directives::{
    DELETE_FROM_PRIMITIVE_LIST_PREFIX, apply_retain_keys, directive_in_map, extract_key,
    merge_set_element_order, remove_directives,
};
pub use schema::{Field, PatchMeta, Schema, Strategy};
use serde_json::{Map, Value};

/// How deep a patch or an object may nest. Kubernetes objects nest about 15 levels; the limit
/// bounds recursion on hostile input.
pub const MAX_DEPTH: usize = 100;

pub(crate) const DIRECTIVE_MARKER: &str = "$patch";
pub(crate) const DELETE_DIRECTIVE: &str = "delete";
pub(crate) const REPLACE_DIRECTIVE: &str = "replace";
pub(crate) const MERGE_DIRECTIVE: &str = "merge";

/// Applies a strategic merge `patch` to `original`, an object of `info`'s kind.
pub fn apply(info: &ResourceInfo, original: &Value, patch: &Value) -> Result<Value, PatchError> {
    apply_with_schema(schema::for_kind(info), original, patch)
}

/// Applies a strategic merge `patch` to `original` using the patch metadata of `schema`.
pub fn apply_with_schema(
    schema: &'static Schema,
    original: &Value,
    patch: &Value,
) -> Result<Value, PatchError> {
    let original = match original {
        Value::Object(_) | Value::Null => original,
        other => return Err(not_a_map(other)),
    };
    let patch = match patch {
        // `json.Unmarshal` of `null` into a map leaves it empty: a no-op patch.
        Value::Object(_) | Value::Null => patch,
        other => return Err(not_a_map(other)),
    };
    // Checked on the inputs, before anything is copied.
    if exceeds_depth(patch) || exceeds_depth(original) {
        return Err(PatchError::Malformed(format!(
            "patch or object nests more than {MAX_DEPTH} levels deep"
        )));
    }
    let as_map = |v: &Value| match v {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    merge_map(as_map(original), as_map(patch), Some(schema)).map(Value::Object)
}

/// upstream's message for a body that is not a JSON object.
fn not_a_map(v: &Value) -> PatchError {
    let what = match v {
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Null | Value::Object(_) => "value",
    };
    PatchError::Malformed(format!(
        "json: cannot unmarshal {what} into Go value of type map[string]interface {{}}"
    ))
}

/// Whether `v` nests deeper than [`MAX_DEPTH`], found without recursion.
fn exceeds_depth(v: &Value) -> bool {
    let mut stack = vec![(v, 1usize)];
    while let Some((v, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return true;
        }
        match v {
            Value::Object(m) => stack.extend(m.values().map(|c| (c, depth + 1))),
            Value::Array(a) => stack.extend(a.iter().map(|c| (c, depth + 1))),
            _ => {}
        }
    }
    false
}

/// The Go type a value decodes to, as `reflect.TypeOf` prints it (for messages and type checks).
pub(crate) fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// `mergepatch.ErrBadArgType`.
pub(crate) fn bad_arg_type(expected: &str, actual: &Value) -> PatchError {
    PatchError::Malformed(format!(
        "expected a {expected}, but received a {}",
        go_type(actual)
    ))
}

/// `mergepatch.ErrNoMergeKey`.
pub(crate) fn no_merge_key(m: &Map<String, Value>, key: &str) -> PatchError {
    PatchError::Malformed(format!(
        "map: {} does not contain declared merge key: {key}",
        Value::Object(m.clone())
    ))
}

/// `mergepatch.ErrBadPatchType`.
pub(crate) fn bad_patch_type(directive: &Value, m: &Map<String, Value>) -> PatchError {
    let d = match directive {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    PatchError::Malformed(format!(
        "unknown patch type: {d} in map: {}",
        Value::Object(m.clone())
    ))
}

/// `mergeMap`: merges `patch` into `original` under `schema`.
pub(crate) fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: Option<&'static Schema>,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE_MARKER) {
        return directive_in_map(directive.clone(), patch);
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_set_element_order(&mut original, &mut patch, schema)?;

    let (deletions, others): (Vec<_>, Vec<_>) = patch
        .into_iter()
        .partition(|(k, _)| k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX));
    for (key, patch_value) in others.into_iter().chain(deletions) {
        let (key, is_delete_list) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
            (extract_key(&key, DELETE_FROM_PRIMITIVE_LIST_PREFIX)?, true)
        } else {
            (key, false)
        };
        merge_field(&mut original, key, patch_value, schema, is_delete_list)?;
    }
    Ok(original)
}

/// One key of `mergeMap`'s loop.
fn merge_field(
    original: &mut Map<String, Value>,
    key: String,
    mut patch_value: Value,
    schema: Option<&'static Schema>,
    is_delete_list: bool,
) -> Result<(), PatchError> {
    if patch_value.is_null() {
        original.shift_remove(&key);
        return Ok(());
    }
    // The merged value goes back where the original was: a field's position in the object does
    // not change (the store's fast paths rely on `apiVersion`, `kind`, `metadata` leading).
    let Some(slot) = original.get_mut(&key) else {
        if !is_delete_list {
            discard_nulls(&mut patch_value);
            if let Some(v) = remove_directives(patch_value) {
                original.insert(key, v);
            }
        }
        return Ok(());
    };
    let original_value = std::mem::take(slot);
    let merged = merged_value(&key, original_value, patch_value, schema, is_delete_list)?;
    match merged {
        Some(v) => {
            if let Some(slot) = original.get_mut(&key) {
                *slot = v;
            }
        }
        None => {
            original.shift_remove(&key);
        }
    }
    Ok(())
}

/// The value of a field present in both the original and the patch; `None` when the field goes.
fn merged_value(
    key: &str,
    original_value: Value,
    mut patch_value: Value,
    schema: Option<&'static Schema>,
    is_delete_list: bool,
) -> Result<Option<Value>, PatchError> {
    if go_type(&original_value) != go_type(&patch_value) {
        if is_delete_list {
            return Ok(Some(original_value));
        }
        discard_nulls(&mut patch_value);
        return Ok(remove_directives(patch_value));
    }
    Ok(Some(match (original_value, patch_value) {
        (Value::Object(o), Value::Object(p)) => {
            let (sub, meta) = Schema::lookup(schema, key);
            if meta.strategy == Strategy::Replace {
                Value::Object(p)
            } else {
                Value::Object(merge_map(o, p, sub)?)
            }
        }
        (Value::Array(o), Value::Array(p)) => {
            let (sub, meta) = Schema::lookup(schema, key);
            if meta.strategy == Strategy::Merge || is_delete_list {
                Value::Array(list::merge_slice(
                    o,
                    p,
                    sub,
                    meta.merge_key,
                    is_delete_list,
                )?)
            } else {
                Value::Array(p)
            }
        }
        (_, p) => return Ok(remove_directives(p)),
    }))
}

#[cfg(test)]
mod tests {
    use super::schema::test_support::{check, check_err, smp};
    use super::*;
    use serde_json::json;

    #[test]
    fn merged_fields_keep_their_position_in_the_object() {
        let info = crate::resources::find("", "v1", "pods").expect("pods are served");
        let original = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "finalizers": ["x", "y"], "labels": {"a": "b"}},
            "spec": {"nodeName": "n"}, "status": {"phase": "Running"}});
        let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"],
            "labels": {"c": "d"}}, "status": {"phase": "Succeeded"}, "extra": 1});
        let out = apply(info, &original, &patch).expect("the patch applies");
        let keys: Vec<&str> = out
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            ["apiVersion", "kind", "metadata", "spec", "status", "extra"]
        );
        let meta: Vec<&str> = out["metadata"]
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(meta, ["name", "finalizers", "labels"]);
        assert_eq!(out["metadata"]["finalizers"], json!(["y"]));
        assert_eq!(out["metadata"]["labels"], json!({"a": "b", "c": "d"}));
        assert_eq!(out["status"]["phase"], "Succeeded");
    }

    // Cases below are upstream's, from `strategicpatch/patch_test.go` (named by its
    // descriptions), with their YAML written as JSON.

    #[test]
    fn maps_merge_and_null_deletes_a_key() {
        // "add field and delete field from map", "delete field from nested map"
        check(
            json!({"name": 1, "value": 1}),
            json!({"value": null, "other": "a"}),
            json!({"name": 1, "other": "a"}),
        );
        check(
            json!({"simpleMap": {"key1": 1, "key2": 1}}),
            json!({"simpleMap": {"key2": null}}),
            json!({"simpleMap": {"key1": 1}}),
        );
        // A null for a key the original lacks is dropped, also inside a new value.
        check(
            json!({}),
            json!({"gone": null, "simpleMap": {"a": "x", "b": null}}),
            json!({"simpleMap": {"a": "x"}}),
        );
    }

    #[test]
    fn replace_strategy_field_is_replaced_whole() {
        check(
            json!({"replacingItem": {"a": 1, "b": {"c": 2}}}),
            json!({"replacingItem": {"b": {"d": 3}}}),
            json!({"replacingItem": {"b": {"d": 3}}}),
        );
    }

    #[test]
    fn merging_list_of_maps_merges_by_merge_key() {
        // "merge lists of maps" (three-way), "add field to map in merging list",
        // "delete field from map in merging list"
        check(
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 4}, {"name": 1}, {"name": 2}, {"name": 3}],
                "mergingList": [{"name": 4, "value": 4}, {"name": 3, "value": 3}]
            }),
            json!({"mergingList": [
                {"name": 4, "value": 4}, {"name": 1, "other": "a"},
                {"name": 2, "value": 2, "other": "b"}, {"name": 3, "value": 3}
            ]}),
        );
        check(
            json!({"mergingList": [{"name": 1, "value": 1}, {"name": 2, "value": 2}]}),
            json!({"mergingList": [{"name": 1, "value": null, "other": "x"}]}),
            json!({"mergingList": [{"name": 1, "other": "x"}, {"name": 2, "value": 2}]}),
        );
    }

    #[test]
    fn merging_list_keeps_the_patch_order() {
        // "preserve the order from the patch in a merging list" (1 and 2)
        check(
            json!({"mergingList": [{"name": 1}, {"name": 2, "value": "b"}, {"name": 3}]}),
            json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}, {"name": 2, "other": "x"}]}),
            json!({"mergingList": [
                {"name": 3, "value": "c"}, {"name": 1, "value": "a"}, {"name": 2, "value": "b", "other": "x"}
            ]}),
        );
        check(
            json!({"mergingList": [{"name": 1}, {"name": 2, "value": "b"}, {"name": 3}]}),
            json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}]}),
            json!({"mergingList": [{"name": 2, "value": "b"}, {"name": 3, "value": "c"}, {"name": 1, "value": "a"}]}),
        );
    }

    #[test]
    fn patch_delete_element_removes_every_match() {
        // "delete all duplicate entries in a merging list", "delete missing map from merging list"
        check(
            json!({"mergingList": [{"name": 1}, {"name": 1}, {"name": 2, "value": "a"}, {"name": 3}, {"name": 3}]}),
            json!({"mergingList": [{"name": 1, "$patch": "delete"}, {"name": 3, "$patch": "delete"}]}),
            json!({"mergingList": [{"name": 2, "value": "a"}]}),
        );
        check(
            json!({"mergingList": [{"name": 1}]}),
            json!({"mergingList": [{"name": 9, "$patch": "delete"}]}),
            json!({"mergingList": [{"name": 1}]}),
        );
    }

    #[test]
    fn patch_replace_element_replaces_the_list() {
        // "delete all items from merging list", "delete all maps from merging list"
        check(
            json!({"mergingList": [{"name": 1}, {"name": 2}]}),
            json!({"mergingList": [{"$patch": "replace"}]}),
            json!({"mergingList": []}),
        );
        check(
            json!({"mergingList": [{"name": 1}, {"name": 2}]}),
            json!({"mergingList": [{"name": 3, "value": 3}, {"$patch": "replace"}]}),
            json!({"mergingList": [{"name": 3, "value": 3}]}),
        );
    }

    #[test]
    fn primitive_merging_list_is_a_union_in_patch_order() {
        // "unique scalars when merging lists", "preserve the order from the patch in a merging int list"
        check(
            json!({"mergingIntList": [1, 2]}),
            json!({"mergingIntList": [2, 3]}),
            json!({"mergingIntList": [1, 2, 3]}),
        );
        check(
            json!({"mergingIntList": [1, 2, 3]}),
            json!({"mergingIntList": [3, 1, 2]}),
            json!({"mergingIntList": [3, 1, 2]}),
        );
        check(
            json!({"mergingIntList": [1, 2, 3]}),
            json!({"mergingIntList": [3, 1]}),
            json!({"mergingIntList": [2, 3, 1]}),
        );
    }

    #[test]
    fn non_merging_lists_are_replaced() {
        // "replace list of scalars", "replace non merging list nested in merging list"
        check(
            json!({"nonMergingIntList": [1, 2]}),
            json!({"nonMergingIntList": [2, 3]}),
            json!({"nonMergingIntList": [2, 3]}),
        );
        check(
            json!({"mergingList": [{"name": 1, "nonMergingList": [{"name": 1}, {"name": 2, "value": 2}]}, {"name": 2}]}),
            json!({"mergingList": [{"name": 1, "nonMergingList": [{"name": 1, "value": 1}]}]}),
            json!({"mergingList": [{"name": 1, "nonMergingList": [{"name": 1, "value": 1}]}, {"name": 2}]}),
        );
    }

    #[test]
    fn missing_merge_key_is_refused() {
        // "missing merge key should error out"
        check_err(
            json!({"mergingList": [{"name": 1, "value": "a"}]}),
            json!({"mergingList": [{"value": "b"}]}),
            "does not contain declared merge key",
        );
        check_err(
            json!({"mergingList": [{"name": 1}]}),
            json!({"mergingList": [{"$patch": "delete"}]}),
            "does not contain declared merge key: name",
        );
    }

    #[test]
    fn malformed_bodies_and_lists_are_errors_not_panics() {
        check_err(
            json!({}),
            json!([{"op": "add"}]),
            "cannot unmarshal array into Go value of type map",
        );
        check_err(json!({}), json!("x"), "cannot unmarshal string");
        check_err(
            json!({"mergingList": [[1]]}),
            json!({"mergingList": [[2]]}),
            "lists of lists are not supported",
        );
        check_err(
            json!({"mergingIntList": [1]}),
            json!({"mergingIntList": ["a"]}),
            "list element types are not identical",
        );
        check_err(
            json!({"mergingIntList": [1]}),
            json!({"mergingIntList": [null]}),
            "list element types are not identical",
        );
        check_err(
            json!({"mergingIntList": []}),
            json!({"mergingIntList": [null]}),
            "must not be null",
        );
        check_err(
            json!({"nonMergingList": [{"a": 1}]}),
            json!({"$setElementOrder/nonMergingList": [{"a": 1}]}),
            "without a merge key",
        );
        check_err(
            json!({"mergingList": [{"name": 1}]}),
            json!({"mergingList": [1]}),
            "list element types are not identical",
        );
        // A null patch changes nothing, as `json.Unmarshal` of `null` into a map does.
        check(json!({"a": 1}), Value::Null, json!({"a": 1}));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut deep = json!(1);
        for _ in 0..MAX_DEPTH + 5 {
            deep = json!({"simpleMap": deep});
        }
        check_err(json!({}), deep.clone(), "levels deep");
        check_err(deep, json!({}), "levels deep");
        let mut ok = json!(1);
        for _ in 0..MAX_DEPTH - 2 {
            ok = json!({"mergingList": [{"name": 1, "value": ok}]});
        }
        let _ = smp(json!({}), ok);
    }

    /// A small deterministic generator of hostile patches: directive keys, wrong types, nulls.
    fn hostile(seed: &mut u64, depth: u32) -> Value {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let pick = (*seed >> 33) % 12;
        const KEYS: &[&str] = &[
            "name",
            "value",
            "mergingList",
            "nonMergingList",
            "mergingIntList",
            "simpleMap",
            "replacingItem",
            "retainKeysMap",
            "retainKeysMergingList",
            "$patch",
            "$retainKeys",
            "$setElementOrder/mergingList",
            "$setElementOrder/mergingIntList",
            "$deleteFromPrimitiveList/mergingIntList",
            "$setElementOrder",
        ];
        const WORDS: &[&str] = &["delete", "replace", "merge", "name", "value", "x"];
        if depth == 0 || pick < 4 {
            return match pick % 4 {
                0 => Value::Null,
                1 => json!(*seed % 3),
                2 => json!(WORDS[(*seed % WORDS.len() as u64) as usize]),
                _ => json!(true),
            };
        }
        if pick < 8 {
            let n = *seed % 4;
            return Value::Array((0..n).map(|_| hostile(seed, depth - 1)).collect());
        }
        let n = *seed % 5;
        let mut m = Map::new();
        for _ in 0..n {
            let k = KEYS[(*seed % KEYS.len() as u64) as usize].to_string();
            m.insert(k, hostile(seed, depth - 1));
        }
        Value::Object(m)
    }

    #[test]
    fn hostile_patches_never_panic() {
        let mut seed = 42u64;
        let mut applied = 0;
        for _ in 0..20_000 {
            let original = hostile(&mut seed, 4);
            let patch = hostile(&mut seed, 4);
            if smp(original, patch).is_ok() {
                applied += 1;
            }
        }
        assert!(applied > 0);
    }
}
