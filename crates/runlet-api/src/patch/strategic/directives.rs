//! The map-level directives of a strategic merge patch: `$patch` in a map, `$retainKeys`,
//! `$setElementOrder/<list>` and the key syntax of `$deleteFromPrimitiveList/<list>`, plus the
//! clean-up upstream applies to a patch value the original lacks (`removeDirectives`,
//! `discardNullValuesFromPatch`).

use super::{
    DELETE_DIRECTIVE, DIRECTIVE_MARKER, REPLACE_DIRECTIVE, Schema, Strategy, bad_arg_type,
    bad_patch_type, list,
};
use crate::patch::PatchError;
use serde_json::{Map, Value};

pub(super) const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
pub(super) const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
pub(super) const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";

const BAD_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const BAD_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const BAD_SET_ELEMENT_ORDER: &str = "invalid patch format of setElementOrder list";

/// `extractKey`: the list name after `<prefix>/`.
pub(super) fn extract_key(s: &str, prefix: &str) -> Result<String, PatchError> {
    match s.split_once('/') {
        Some((p, rest)) if p == prefix => Ok(rest.to_string()),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST_PREFIX => {
            Err(PatchError::Malformed(BAD_PRIMITIVE_LIST.into()))
        }
        _ => Err(PatchError::Malformed(BAD_SET_ELEMENT_ORDER.into())),
    }
}

/// `handleDirectiveInMergeMap`: `$patch: replace` keeps the patch as is, `$patch: delete` empties
/// the map; any other directive is an error (upstream refuses `$patch: merge` in a map too).
pub(super) fn directive_in_map(
    directive: Value,
    mut patch: Map<String, Value>,
) -> Result<Map<String, Value>, PatchError> {
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
pub(super) fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(PatchError::Malformed(BAD_RETAIN_KEYS.into()));
    };
    let retained = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            || k.starts_with(SET_ELEMENT_ORDER_PREFIX)
        {
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
pub(super) fn merge_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    schema: Option<&'static Schema>,
) -> Result<(), PatchError> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER_PREFIX))
        .cloned()
        .collect();
    for key in keys {
        let Some(order) = patch.shift_remove(&key) else {
            continue;
        };
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
        list::validate_patch_with_set_order(
            patch_list.as_deref().unwrap_or_default(),
            &order,
            meta.merge_key,
        )?;

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
        let ordered = list::order_by_set_element_order(
            merged,
            &order,
            &kind_lists,
            &live_order,
            meta.merge_key,
        )?;
        original.insert(list_key.clone(), Value::Array(ordered));
        patch.shift_remove(&list_key);
    }
    Ok(())
}

/// `removeDirectives`: drops every map holding a `$patch` directive (`None` when `v` itself is
/// one) and the list elements that are.
pub(super) fn remove_directives(v: Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if m.contains_key(DIRECTIVE_MARKER) {
                return None;
            }
            Some(Value::Object(
                m.into_iter()
                    .filter_map(|(k, v)| remove_directives(v).map(|v| (k, v)))
                    .collect(),
            ))
        }
        Value::Array(a) => Some(Value::Array(
            a.into_iter().filter_map(remove_directives).collect(),
        )),
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::test_support::{check, check_err};
    use crate::patch::PatchError;
    use serde_json::json;

    #[test]
    fn patch_directives_in_a_map_delete_or_replace_it() {
        // "delete map from nested map", "delete all keys from map", "add key and delete all keys from map"
        check(
            json!({"simpleMap": {"key1": 1, "key2": 1}}),
            json!({"simpleMap": {"$patch": "delete"}}),
            json!({"simpleMap": {}}),
        );
        check(
            json!({"name": 1, "value": 1}),
            json!({"$patch": "replace"}),
            json!({}),
        );
        check(
            json!({"name": 1, "value": 1}),
            json!({"other": "a", "$patch": "replace"}),
            json!({"other": "a"}),
        );
    }

    #[test]
    fn directive_in_a_value_the_original_lacks_is_dropped() {
        // "nested patch merge with empty list" (two-way result)
        check(
            json!({"name": "hi"}),
            json!({"mergingList": [{"name": "hello"}, {"$patch": "delete", "name": "doesntexist"}]}),
            json!({"name": "hi", "mergingList": [{"name": "hello"}]}),
        );
        check(
            json!({}),
            json!({"simpleMap": {"$patch": "replace", "a": "b"}}),
            json!({}),
        );
    }

    #[test]
    fn delete_from_primitive_list_removes_items() {
        // the "$deleteFromPrimitiveList ..." cases of customStrategicMergePatchRawTestCases
        check(
            json!({"mergingIntList": [1, 2, 3]}),
            json!({"$deleteFromPrimitiveList/mergingIntList": [2]}),
            json!({"mergingIntList": [1, 3]}),
        );
        check(
            json!({"nonMergingIntList": [1, 2, 3]}),
            json!({"$deleteFromPrimitiveList/nonMergingIntList": [2]}),
            json!({"nonMergingIntList": [1, 3]}),
        );
        check(
            json!({"mergingIntList": [1, 2]}),
            json!({"$deleteFromPrimitiveList/mergingIntList": [3]}),
            json!({"mergingIntList": [1, 2]}),
        );
        check(
            json!({"foo": ["bar"]}),
            json!({"$deleteFromPrimitiveList/mergingIntList": [3]}),
            json!({"foo": ["bar"]}),
        );
        // "add and delete items in lists of scalars"
        check(
            json!({"mergingIntList": [1, 2, 3]}),
            json!({
                "$setElementOrder/mergingIntList": [1, 2, 4],
                "$deleteFromPrimitiveList/mergingIntList": [3],
                "mergingIntList": [4]
            }),
            json!({"mergingIntList": [1, 2, 4]}),
        );
        check_err(
            json!({}),
            json!({"$deleteFromPrimitiveListmergingIntList": [1]}),
            "invalid patch format of primitive list",
        );
    }

    #[test]
    fn set_element_order_orders_the_merged_list() {
        // "set elements order in a list with server-only items" (2 and 3, three-way)
        check(
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2}, {"name": 9}, {"name": 3, "value": 3}, {"name": 4, "value": 4}]}),
            json!({"$setElementOrder/mergingList": [{"name": 2}, {"name": 1}, {"name": 4}, {"name": 3}]}),
            json!({"mergingList": [
                {"name": 2, "value": 2}, {"name": 1, "other": "a"}, {"name": 9}, {"name": 4, "value": 4}, {"name": 3, "value": 3}
            ]}),
        );
        check(
            json!({"mergingIntList": [1, 2, 7, 9, 8, 3, 4]}),
            json!({"$setElementOrder/mergingIntList": [2, 1, 4, 3]}),
            json!({"mergingIntList": [2, 1, 7, 9, 8, 4, 3]}),
        );
        // "$setElementOrder contains item that is not present in the list to be merged"
        check(
            json!({"mergingList": [{"name": 1}, {"name": 3}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 3}, {"name": 2}, {"name": 1}],
                "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]
            }),
            json!({"mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]}),
        );
    }

    #[test]
    fn set_element_order_with_delete_and_add_matches_upstream_order() {
        // "add map and delete map from merging list" (three-way): upstream orders against a live
        // list its own deletion and append have edited in place.
        check(
            json!({"mergingList": [{"name": 1}, {"name": 2, "other": "b"}, {"name": 4, "other": "c"}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 2}, {"name": 3}],
                "mergingList": [{"name": 3}, {"name": 1, "$patch": "delete"}]
            }),
            json!({"mergingList": [{"name": 2, "other": "b"}, {"name": 4, "other": "c"}, {"name": 3}]}),
        );
        check(
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 4, "other": "c"}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 2}, {"name": 3}],
                "mergingList": [{"name": 2}, {"name": 3}, {"name": 1, "$patch": "delete"}]
            }),
            json!({"mergingList": [{"name": 4, "other": "c"}, {"name": 2}, {"name": 3}]}),
        );
    }

    #[test]
    fn set_element_order_disagreeing_with_the_patch_is_refused() {
        // "should check if order in $setElementOrder and patch list match"
        check_err(
            json!({"mergingList": [{"name": 1}, {"name": 3}, {"name": 2}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}, {"name": 3}],
                "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]
            }),
            "doesn't match",
        );
        check_err(
            json!({"mergingIntList": [1, 3, 2]}),
            json!({"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3, 1]}),
            "doesn't match",
        );
        check_err(
            json!({}),
            json!({"$setElementOrder/mergingList": "x"}),
            "expected a []interface {}, but received a string",
        );
        check_err(
            json!({}),
            json!({"$setElementOrderX": []}),
            "invalid patch format of setElementOrder list",
        );
    }

    #[test]
    fn retain_keys_clears_fields_not_listed() {
        // "retainKeys map should clear defaulted field", "retainKeys list of maps clears a field"
        check(
            json!({"retainKeysMap": {"name": "foo", "value": "bar", "other": "a"}}),
            json!({"retainKeysMap": {"$retainKeys": ["name", "value"], "value": "baz"}}),
            json!({"retainKeysMap": {"name": "foo", "value": "baz"}}),
        );
        check(
            json!({"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "a", "other": "b"}]}),
            json!({"retainKeysMergingList": [{"name": "foo", "$retainKeys": ["name", "value"]}]}),
            json!({"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "a"}]}),
        );
        // "retainKeys map can delete a field when no retainKeys directive present"
        check(
            json!({"retainKeysMap": {"name": "foo", "value": "a"}}),
            json!({"retainKeysMap": {"value": null}}),
            json!({"retainKeysMap": {"name": "foo"}}),
        );
    }

    #[test]
    fn retain_keys_that_omit_a_patched_field_are_refused() {
        check_err(
            json!({"retainKeysMap": {"name": "foo"}}),
            json!({"retainKeysMap": {"$retainKeys": ["name"], "value": "x"}}),
            "invalid patch format of retainKeys",
        );
        check_err(
            json!({"retainKeysMap": {}}),
            json!({"retainKeysMap": {"$retainKeys": "name"}}),
            "invalid patch format of retainKeys",
        );
    }

    #[test]
    fn patch_merge_and_unknown_directives_are_refused() {
        // Upstream accepts only `replace` and `delete` in a map, and refuses `merge` in a list.
        check_err(
            json!({"simpleMap": {}}),
            json!({"simpleMap": {"$patch": "merge"}}),
            "unknown patch type: merge",
        );
        check_err(
            json!({}),
            json!({"$patch": "explode"}),
            "unknown patch type: explode in map",
        );
        check_err(
            json!({"mergingList": [{"name": 1}]}),
            json!({"mergingList": [{"$patch": "merge"}]}),
            "merging lists cannot yet be specified",
        );
        let err = check_err(
            json!({"mergingList": [{"name": 1}]}),
            json!({"mergingList": [{"name": 1, "$patch": 7}]}),
            "unknown patch type: 7",
        );
        assert!(matches!(err, PatchError::Malformed(_)));
    }
}
