//! Sets of fields, as `managedFields` records who owns what: a tree whose path elements are
//! upstream's (`f:name` a field, `k:{"name":"c"}` a keyed list item, `v:"x"` a set value), each
//! node a member of the set or only on the way to members. `FieldsV1` is this tree as JSON,
//! with `.` marking a node that is a member and has members below it too.

use super::schema::{Node, Shape};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A set of field paths.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSet {
    member: bool,
    children: BTreeMap<String, FieldSet>,
}

/// One path element, as `FieldsV1` writes it.
pub type Element = String;

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    /// Adds `path` as a member.
    pub fn insert(&mut self, path: &[Element]) {
        match path.split_first() {
            None => self.member = true,
            Some((first, rest)) => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Whether `path` is a member.
    pub fn has(&self, path: &[Element]) -> bool {
        match path.split_first() {
            None => self.member,
            Some((first, rest)) => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// Whether `path` or anything below it is a member.
    pub fn has_at_or_below(&self, path: &[Element]) -> bool {
        match path.split_first() {
            None => !self.is_empty(),
            Some((first, rest)) => self
                .children
                .get(first)
                .is_some_and(|c| c.has_at_or_below(rest)),
        }
    }

    /// Every member path, parents before their children.
    pub fn members(&self) -> Vec<Vec<Element>> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<Element>, out: &mut Vec<Vec<Element>>) {
        if self.member {
            out.push(prefix.clone());
        }
        for (element, child) in &self.children {
            prefix.push(element.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    /// Whether the member at the end of `path` has no members below it (a leaf value, not a
    /// list item or map that holds other members).
    pub fn is_leaf(&self, path: &[Element]) -> bool {
        match path.split_first() {
            None => self.children.values().all(FieldSet::is_empty),
            Some((first, rest)) => self.children.get(first).is_none_or(|c| c.is_leaf(rest)),
        }
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.member |= other.member;
        for (element, child) in &other.children {
            let merged = match out.children.get(element) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(element.clone(), merged);
        }
        out
    }

    /// The members of `self` that are not members of `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (element, child) in &self.children {
            let left = match other.children.get(element) {
                Some(theirs) => child.difference(theirs),
                None => child.clone(),
            };
            if !left.is_empty() {
                out.children.insert(element.clone(), left);
            }
        }
        out
    }

    /// The members of both.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (element, child) in &self.children {
            if let Some(theirs) = other.children.get(element) {
                let both = child.intersection(theirs);
                if !both.is_empty() {
                    out.children.insert(element.clone(), both);
                }
            }
        }
        out
    }

    /// This set without the subtree at `element` (for the fields apply never owns).
    pub fn without(&self, path: &[Element]) -> FieldSet {
        let mut out = self.clone();
        out.remove_subtree(path);
        out
    }

    fn remove_subtree(&mut self, path: &[Element]) {
        match path.split_first() {
            None => *self = FieldSet::default(),
            Some((first, [])) => {
                self.children.remove(first);
            }
            Some((first, rest)) => {
                if let Some(child) = self.children.get_mut(first) {
                    child.remove_subtree(rest);
                    if child.is_empty() {
                        self.children.remove(first);
                    }
                }
            }
        }
    }

    /// The `FieldsV1` JSON of this set.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.values().all(FieldSet::is_empty) {
            map.insert(".".into(), json!({}));
        }
        for (element, child) in &self.children {
            if !child.is_empty() {
                map.insert(element.clone(), child.to_fields_v1());
            }
        }
        Value::Object(map)
    }

    /// Reads `FieldsV1` JSON (the inverse of [`FieldSet::to_fields_v1`]): an empty object is a
    /// member, `.` makes a node with children a member.
    pub fn from_fields_v1(value: &Value) -> FieldSet {
        let Some(map) = value.as_object() else {
            return FieldSet::default();
        };
        let mut set = FieldSet {
            member: map.is_empty() || map.contains_key("."),
            children: BTreeMap::new(),
        };
        for (element, child) in map {
            if element != "." {
                set.children
                    .insert(element.clone(), FieldSet::from_fields_v1(child));
            }
        }
        set
    }

    /// The fields `value` sets, by upstream's `ToFieldSet`: every scalar and atomic value, every
    /// keyed list item and set value, every map entry, and a struct field only where its value
    /// is null or an empty object (else its own fields stand for it).
    pub fn of(value: &Value, node: Node<'_>) -> FieldSet {
        let mut set = FieldSet::default();
        collect_fields(value, node, &mut Vec::new(), &mut set);
        set
    }
}

fn collect_fields(value: &Value, node: Node<'_>, path: &mut Vec<Element>, set: &mut FieldSet) {
    match (node.shape(), value) {
        (Shape::Struct | Shape::Map, Value::Object(map)) => {
            let is_map = node.shape() == Shape::Map;
            for (key, child) in map {
                path.push(format!("f:{key}"));
                collect_fields(child, node.field(key), path, set);
                let empty = child.is_null() || child.as_object().is_some_and(Map::is_empty);
                if is_map || empty {
                    set.insert(path);
                }
                path.pop();
            }
        }
        (Shape::KeyedList(keys), Value::Array(items)) => {
            let item_node = node.items();
            for item in items {
                path.push(key_element(item, &keys, item_node));
                collect_fields(item, item_node, path, set);
                set.insert(path);
                path.pop();
            }
        }
        (Shape::Set, Value::Array(items)) => {
            for item in items {
                path.push(format!("v:{item}"));
                set.insert(path);
                path.pop();
            }
        }
        _ => set.insert(path),
    }
}

/// `k:{"name":"c"}`: the item's key fields (schema defaults for those it leaves out), in name
/// order, as upstream writes them.
pub fn key_element(item: &Value, keys: &[String], item_node: Node<'_>) -> Element {
    format!("k:{}", key_of(item, keys, item_node))
}

/// The key fields of a keyed list item as a JSON object.
pub fn key_of(item: &Value, keys: &[String], item_node: Node<'_>) -> Value {
    let mut key: BTreeMap<&str, Value> = BTreeMap::new();
    for name in keys {
        match item.get(name) {
            Some(v) if !v.is_null() => {
                key.insert(name, v.clone());
            }
            _ => {
                if let Some(default) = item_node.key_default(name) {
                    key.insert(name, default);
                }
            }
        }
    }
    json!(key)
}

/// A path as upstream prints it in a conflict: `.spec.template.spec.containers[name="c"].image`.
pub fn path_string(path: &[Element]) -> String {
    let mut out = String::new();
    for element in path {
        if let Some(name) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(name);
        } else if let Some(key) = element.strip_prefix("k:") {
            let fields: Vec<String> = serde_json::from_str::<Map<String, Value>>(key)
                .unwrap_or_default()
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            out.push_str(&format!("[{}]", fields.join(",")));
        } else if let Some(value) = element.strip_prefix("v:") {
            out.push_str(&format!("[={value}]"));
        } else {
            out.push_str(&format!("[{element}]"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(paths: &[&[&str]]) -> FieldSet {
        let mut s = FieldSet::default();
        for p in paths {
            let p: Vec<String> = p.iter().map(|e| e.to_string()).collect();
            s.insert(&p);
        }
        s
    }

    #[test]
    fn fields_v1_round_trips_with_dots_for_members_with_members() {
        let s = set(&[
            &["f:metadata", "f:labels", "f:app"],
            &["f:spec", "f:containers", "k:{\"name\":\"c\"}"],
            &["f:spec", "f:containers", "k:{\"name\":\"c\"}", "f:image"],
        ]);
        let v1 = s.to_fields_v1();
        assert_eq!(
            v1,
            json!({"f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}}}}})
        );
        assert_eq!(FieldSet::from_fields_v1(&v1), s);
    }

    #[test]
    fn set_algebra_keeps_what_it_should() {
        let a = set(&[&["f:a"], &["f:b", "f:c"]]);
        let b = set(&[&["f:b", "f:c"], &["f:d"]]);
        assert_eq!(a.difference(&b), set(&[&["f:a"]]));
        assert_eq!(a.intersection(&b), set(&[&["f:b", "f:c"]]));
        assert_eq!(a.union(&b), set(&[&["f:a"], &["f:b", "f:c"], &["f:d"]]));
        assert!(a.has_at_or_below(&["f:b".to_string()]));
        assert!(!a.has(&["f:b".to_string()]));
    }

    #[test]
    fn paths_print_as_upstream_s() {
        let p: Vec<String> = ["f:spec", "f:containers", r#"k:{"name":"c"}"#, "f:image"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(path_string(&p), r#".spec.containers[name="c"].image"#);
        let v: Vec<String> = ["f:metadata", "f:finalizers", r#"v:"x""#]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(path_string(&v), r#".metadata.finalizers[="x"]"#);
    }
}
