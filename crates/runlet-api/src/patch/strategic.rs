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

mod list;
pub mod schema;

use crate::patch::PatchError;
use crate::resources::ResourceInfo;
pub use schema::{Field, PatchMeta, Schema, Strategy};
use serde_json::{Map, Value};

/// How deep a patch or an object may nest. Kubernetes objects nest about 15 levels; the limit
/// bounds recursion on hostile input.
pub const MAX_DEPTH: usize = 100;

pub(crate) const DIRECTIVE_MARKER: &str = "$patch";
pub(crate) const DELETE_DIRECTIVE: &str = "delete";
pub(crate) const REPLACE_DIRECTIVE: &str = "replace";
pub(crate) const MERGE_DIRECTIVE: &str = "merge";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";

/// Applies a strategic merge `patch` to `original`, an object of `info`'s kind.
pub fn apply(info: &ResourceInfo, original: &Value, patch: &Value) -> Result<Value, PatchError> {
    apply_with_schema(schema::for_kind(info), original, patch)
}

/// Applies a strategic merge `patch` to `original` using the patch metadata of `schema`.
pub fn apply_with_schema(schema: &'static Schema, original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let original = match original {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        other => return Err(not_a_map(other)),
    };
    let patch = match patch {
        Value::Object(m) => m.clone(),
        // `json.Unmarshal` of `null` into a map leaves it empty: a no-op patch.
        Value::Null => Map::new(),
        other => return Err(not_a_map(other)),
    };
    if exceeds_depth(&Value::Object(patch.clone())) || exceeds_depth(&Value::Object(original.clone())) {
        return Err(PatchError::Malformed(format!("patch or object nests more than {MAX_DEPTH} levels deep")));
    }
    merge_map(original, patch, Some(schema)).map(Value::Object)
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
    PatchError::Malformed(format!("json: cannot unmarshal {what} into Go value of type map[string]interface {{}}"))
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
    PatchError::Malformed(format!("expected a {expected}, but received a {}", go_type(actual)))
}

/// `mergepatch.ErrNoMergeKey`.
pub(crate) fn no_merge_key(m: &Map<String, Value>, key: &str) -> PatchError {
    PatchError::Malformed(format!("map: {} does not contain declared merge key: {key}", Value::Object(m.clone())))
}

/// `mergepatch.ErrBadPatchType`.
pub(crate) fn bad_patch_type(directive: &Value, m: &Map<String, Value>) -> PatchError {
    let d = match directive {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    PatchError::Malformed(format!("unknown patch type: {d} in map: {}", Value::Object(m.clone())))
}

const BAD_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const BAD_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
pub(crate) const BAD_SET_ELEMENT_ORDER: &str = "invalid patch format of setElementOrder list";

/// `extractKey`: the list name after `<prefix>/`.
fn extract_key(s: &str, prefix: &str) -> Result<String, PatchError> {
    match s.split_once('/') {
        Some((p, rest)) if p == prefix => Ok(rest.to_string()),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST_PREFIX => Err(PatchError::Malformed(BAD_PRIMITIVE_LIST.into())),
        _ => Err(PatchError::Malformed(BAD_SET_ELEMENT_ORDER.into())),
    }
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

    let (deletions, others): (Vec<_>, Vec<_>) =
        patch.into_iter().partition(|(k, _)| k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX));
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
    let Some(original_value) = original.shift_remove(&key) else {
        if !is_delete_list {
            discard_nulls(&mut patch_value);
            if let Some(v) = remove_directives(patch_value) {
                original.insert(key, v);
            }
        }
        return Ok(());
    };
    if go_type(&original_value) != go_type(&patch_value) {
        if is_delete_list {
            original.insert(key, original_value);
        } else {
            discard_nulls(&mut patch_value);
            if let Some(v) = remove_directives(patch_value) {
                original.insert(key, v);
            }
        }
        return Ok(());
    }
    let merged = match (original_value, patch_value) {
        (Value::Object(o), Value::Object(p)) => {
            let (sub, meta) = Schema::lookup(schema, &key);
            if meta.strategy == Strategy::Replace { Value::Object(p) } else { Value::Object(merge_map(o, p, sub)?) }
        }
        (Value::Array(o), Value::Array(p)) => {
            let (sub, meta) = Schema::lookup(schema, &key);
            if meta.strategy == Strategy::Merge || is_delete_list {
                Value::Array(list::merge_slice(o, p, sub, meta.merge_key, is_delete_list)?)
            } else {
                Value::Array(p)
            }
        }
        (_, p) => match remove_directives(p) {
            Some(v) => v,
            None => return Ok(()),
        },
    };
    original.insert(key, merged);
    Ok(())
}

/// `handleDirectiveInMergeMap`: `$patch: replace` keeps the patch as is, `$patch: delete` empties
/// the map; any other directive is an error (upstream refuses `$patch: merge` in a map too).
fn directive_in_map(directive: Value, mut patch: Map<String, Value>) -> Result<Map<String, Value>, PatchError> {
    match directive.as_str() {
        Some(REPLACE_DIRECTIVE) => {
            patch.shift_remove(DIRECTIVE_MARKER);
            Ok(patch)
        }
        Some(DELETE_DIRECTIVE) => Ok(Map::new()),
        _ => Err(bad_patch_type(&directive, &patch)),
    }
}

/// `applyRetainKeysDirective`: drops the keys of `original` missing from the patch's
/// `$retainKeys` list, after checking that every key the patch sets is listed.
fn apply_retain_keys(original: &mut Map<String, Value>, patch: &mut Map<String, Value>) -> Result<(), PatchError> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(PatchError::Malformed(BAD_RETAIN_KEYS.into()));
    };
    let retained = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null() || k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX) || k.starts_with(SET_ELEMENT_ORDER_PREFIX) {
            continue;
        }
        if !retained(k) {
            return Err(PatchError::Malformed(BAD_RETAIN_KEYS.into()));
        }
    }
    original.retain(|k, _| retained(k));
    Ok(())
}

/// `mergePatchIntoOriginal`: merges each list named by a `$setElementOrder/<list>` directive and
/// orders it: the directive's order first, then the patch's, then the live list's.
fn merge_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    schema: Option<&'static Schema>,
) -> Result<(), PatchError> {
    let keys: Vec<String> = patch.keys().filter(|k| k.starts_with(SET_ELEMENT_ORDER_PREFIX)).cloned().collect();
    for key in keys {
        let Some(order) = patch.shift_remove(&key) else { continue };
        let Value::Array(order) = order else {
            return Err(bad_arg_type("[]interface {}", &order));
        };
        let list_key = extract_key(&key, SET_ELEMENT_ORDER_PREFIX)?;
        let original_list = match original.get(&list_key) {
            None => None,
            Some(Value::Array(a)) => Some(a.clone()),
            Some(other) => return Err(bad_arg_type("[]interface {}", other)),
        };
        let patch_list = match patch.get(&list_key) {
            None => None,
            Some(Value::Array(a)) => Some(a.clone()),
            Some(other) => return Err(bad_arg_type("[]interface {}", other)),
        };
        let (sub, meta) = Schema::lookup(schema, &list_key);
        list::validate_patch_with_set_order(patch_list.as_deref().unwrap_or_default(), &order, meta.merge_key)?;

        let live = original_list.as_deref().unwrap_or_default();
        let patched = patch_list.as_deref().unwrap_or_default();
        let mut live_order = live.to_vec();
        let merged = match (&original_list, &patch_list) {
            (Some(o), None) => o.clone(),
            (None, Some(p)) => match remove_directives(Value::Array(p.clone())) {
                Some(Value::Array(v)) => v,
                _ => continue,
            },
            (Some(o), Some(p)) => {
                if meta.strategy == Strategy::Merge {
                    live_order = list::aliased_live_order(o, p, meta.merge_key);
                    list::merge_slice(o.clone(), p.clone(), sub, meta.merge_key, false)?
                } else {
                    p.clone()
                }
            }
            (None, None) => continue,
        };
        let kind_lists = [live, patched];
        let ordered = list::order_by_set_element_order(merged, &order, &kind_lists, &live_order, meta.merge_key)?;
        original.insert(list_key.clone(), Value::Array(ordered));
        patch.shift_remove(&list_key);
    }
    Ok(())
}

/// `removeDirectives`: drops every map holding a `$patch` directive (`None` when `v` itself is
/// one) and the list elements that are.
pub(crate) fn remove_directives(v: Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if m.contains_key(DIRECTIVE_MARKER) {
                return None;
            }
            Some(Value::Object(m.into_iter().filter_map(|(k, v)| remove_directives(v).map(|v| (k, v))).collect()))
        }
        Value::Array(a) => Some(Value::Array(a.into_iter().filter_map(remove_directives).collect())),
        other => Some(other),
    }
}

/// `discardNullValuesFromPatch`: drops `null` map values everywhere inside `v`.
fn discard_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(discard_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::schema::test_schema::MERGE_ITEM;
    use super::*;
    use serde_json::json;

    fn smp(original: Value, patch: Value) -> Result<Value, PatchError> {
        apply_with_schema(&MERGE_ITEM, &original, &patch)
    }

    #[test]
    fn upstream_corpus_tmp() {
        let Ok(text) = std::fs::read_to_string("/tmp/smp/cases.json") else { return };
        let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
        let mut failures = 0;
        let mut runs = 0;
        for c in &cases {
            let d = c["description"].as_str().unwrap();
            let src = c["source"].as_str().unwrap();
            let exp_err = c.get("ExpectedError").and_then(Value::as_str).unwrap_or("");
            let mut pairs = vec![];
            if c.get("TwoWay").is_some() {
                let exp = c.get("TwoWayResult").or(c.get("Modified")).cloned().unwrap_or(Value::Null);
                pairs.push(("two", c.get("Original").cloned().unwrap_or(Value::Null), c["TwoWay"].clone(), exp));
            }
            if c.get("ThreeWay").is_some() && c.get("Result").is_some() {
                pairs.push(("three", c.get("Current").cloned().unwrap_or(Value::Null), c["ThreeWay"].clone(), c["Result"].clone()));
            }
            for (which, o, p, e) in pairs {
                runs += 1;
                let got = smp(o.clone(), p.clone());
                let ok = match (&got, exp_err) {
                    (Err(err), x) if !x.is_empty() && which == "two" => err.to_string().contains(x),
                    (Ok(v), x) if x.is_empty() || which == "three" => {
                        let e = if e.is_null() { json!({}) } else { e.clone() };
                        *v == e
                    }
                    _ => false,
                };
                if !ok {
                    failures += 1;
                    eprintln!("FAIL [{src}] {d} ({which})\n  original: {o}\n  patch: {p}\n  expected: {e} {exp_err}\n  got: {got:?}");
                }
            }
        }
        eprintln!("{runs} runs, {failures} failures");
        assert_eq!(failures, 0);
    }
}
