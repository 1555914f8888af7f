//! The ownerReference graph (upstream `garbagecollector/graph.go` and the event processing of
//! `graph_builder.go`), as a pure data structure.
//!
//! Every observed object is a node keyed by uid, with edges to its owners and from them back to
//! it. An owner that is referenced but not (yet) observed is a *virtual* node: the collector
//! must verify it with a live lookup before believing in it or in its absence. Applying an
//! event returns the [`Work`] it implies (which items to attempt to delete, which owners to
//! orphan); the caller queues it. Nothing here does I/O, so the transitions are unit-tested.

use std::collections::{HashMap, HashSet};

pub const ORPHAN: &str = "orphan";
pub const FOREGROUND: &str = "foregroundDeletion";

/// Where an object lives: enough to GET it by name and check its uid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectId {
    pub api_version: String,
    pub kind: String,
    /// The namespace the object is in or, for a virtual owner, the namespace of the dependent
    /// that referenced it (a namespaced owner can only be in its dependent's namespace).
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
}

impl ObjectId {
    /// Whether `owner`, a reference from a dependent in `namespace`, describes this object
    /// (upstream's `ownerReferenceMatchesCoordinates`, and a namespaced owner in its
    /// dependent's namespace).
    fn matches(&self, owner: &OwnerRef, namespace: Option<&str>) -> bool {
        // Called for every reference of every object the collector sees: no allocation.
        fn group(api_version: &str) -> Option<&str> {
            api_version.rsplit_once('/').map(|(g, _)| g)
        }
        self.kind == owner.kind
            && self.name == owner.name
            && group(&self.api_version) == group(&owner.api_version)
            && (self.namespace.is_none() || self.namespace.as_deref() == namespace)
    }
}

/// One `metadata.ownerReferences` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
    pub block_owner_deletion: bool,
}

/// What the graph needs of an observed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub id: ObjectId,
    pub owners: Vec<OwnerRef>,
    pub deleting: bool,
    pub finalizers: Vec<String>,
}

impl Observed {
    fn has_finalizer(&self, f: &str) -> bool {
        self.finalizers.iter().any(|x| x == f)
    }
}

/// A graph node.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: ObjectId,
    pub owners: Vec<OwnerRef>,
    pub dependents: HashSet<String>,
    /// Seen through a watch (false: a virtual node known only from references to it).
    pub observed: bool,
    /// The resource (index into the monitored table) the node was observed through.
    pub resource: Option<usize>,
    pub being_deleted: bool,
    /// Being deleted with the `foregroundDeletion` finalizer.
    pub deleting_dependents: bool,
    /// Being deleted with the `orphan` finalizer.
    pub orphaning: bool,
}

/// Work implied by a graph change.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// uids for the attempt-to-delete queue.
    pub attempt_to_delete: Vec<String>,
    /// uids for the attempt-to-orphan queue.
    pub attempt_to_orphan: Vec<String>,
}

/// The dependency graph.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
}

impl Graph {
    pub fn node(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Dependents of `uid` whose reference to it has `blockOwnerDeletion: true`.
    pub fn blocking_dependents(&self, uid: &str) -> Vec<&Node> {
        let Some(node) = self.nodes.get(uid) else {
            return Vec::new();
        };
        node.dependents
            .iter()
            .filter_map(|d| self.nodes.get(d))
            .filter(|d| {
                d.owners
                    .iter()
                    .any(|o| o.uid == uid && o.block_owner_deletion)
            })
            .collect()
    }

    /// Adds `dependent` to the dependents of each of its owners, creating virtual owners
    /// (queued for verification) where needed.
    fn link_owners(&mut self, dependent: &ObjectId, owners: &[OwnerRef], work: &mut Work) {
        for owner in owners {
            match self.nodes.get_mut(&owner.uid) {
                Some(n) => {
                    n.dependents.insert(dependent.uid.clone());
                    // The uid names an object the reference does not describe (another name,
                    // kind or namespace): verify the reference as upstream's graph builder
                    // does, by looking the owner up as the dependent names it.
                    if n.observed && !n.id.matches(owner, dependent.namespace.as_deref()) {
                        work.attempt_to_delete.push(dependent.uid.clone());
                    }
                }
                None => {
                    let mut n = Node {
                        id: ObjectId {
                            api_version: owner.api_version.clone(),
                            kind: owner.kind.clone(),
                            namespace: dependent.namespace.clone(),
                            name: owner.name.clone(),
                            uid: owner.uid.clone(),
                        },
                        owners: Vec::new(),
                        dependents: HashSet::new(),
                        observed: false,
                        resource: None,
                        being_deleted: false,
                        deleting_dependents: false,
                        orphaning: false,
                    };
                    n.dependents.insert(dependent.uid.clone());
                    self.nodes.insert(owner.uid.clone(), n);
                    work.attempt_to_delete.push(owner.uid.clone());
                }
            }
        }
    }

    fn unlink_owners(&mut self, dependent: &str, owners: &[OwnerRef]) {
        for owner in owners {
            if let Some(n) = self.nodes.get_mut(&owner.uid) {
                n.dependents.remove(dependent);
            }
        }
    }

    /// An object was added or modified (upstream `processGraphChanges`, add/update branch).
    pub fn upsert(&mut self, resource: usize, obj: Observed) -> Work {
        let mut work = Work::default();
        let uid = obj.id.uid.clone();
        // Only the previous owners are needed: cloning the node would copy its dependents,
        // which for a Job is every one of its pods, on every status update of the Job.
        let previous = self.nodes.get(&uid).map(|n| (n.observed, n.owners.clone()));
        match previous {
            Some((true, old_owners)) => {
                let added: Vec<OwnerRef> = obj
                    .owners
                    .iter()
                    .filter(|o| !old_owners.iter().any(|x| x.uid == o.uid))
                    .cloned()
                    .collect();
                let removed: Vec<OwnerRef> = old_owners
                    .iter()
                    .filter(|o| !obj.owners.iter().any(|x| x.uid == o.uid))
                    .cloned()
                    .collect();
                // `addUnblockedOwnersToDeleteQueue`: an owner waiting in foreground deletion
                // for this dependent may proceed once the dependent stops blocking it.
                let unblocked = old_owners.iter().filter(|o| {
                    o.block_owner_deletion
                        && !obj
                            .owners
                            .iter()
                            .any(|x| x.uid == o.uid && x.block_owner_deletion)
                });
                for o in unblocked {
                    if self
                        .nodes
                        .get(&o.uid)
                        .is_some_and(|n| n.deleting_dependents)
                    {
                        work.attempt_to_delete.push(o.uid.clone());
                    }
                }
                self.unlink_owners(&uid, &removed);
                self.link_owners(&obj.id, &added, &mut work);
                if let Some(n) = self.nodes.get_mut(&uid) {
                    n.id = obj.id.clone();
                    n.owners = obj.owners.clone();
                    n.resource = Some(resource);
                }
            }
            Some(_) => {
                // A virtual node is now observed: keep its dependents, take the real identity.
                self.link_owners(&obj.id, &obj.owners, &mut work);
                if let Some(n) = self.nodes.get_mut(&uid) {
                    n.id = obj.id.clone();
                    n.owners = obj.owners.clone();
                    n.observed = true;
                    n.resource = Some(resource);
                }
            }
            None => {
                self.nodes.insert(
                    uid.clone(),
                    Node {
                        id: obj.id.clone(),
                        owners: obj.owners.clone(),
                        dependents: HashSet::new(),
                        observed: true,
                        resource: Some(resource),
                        being_deleted: false,
                        deleting_dependents: false,
                        orphaning: false,
                    },
                );
                self.link_owners(&obj.id, &obj.owners, &mut work);
            }
        }
        self.transitions(&obj, &mut work);
        work
    }

    /// `processTransitions`: an object starting deletion with the `orphan` finalizer is
    /// queued for orphaning; with `foregroundDeletion` it and all its dependents are queued
    /// for attempt-to-delete.
    fn transitions(&mut self, obj: &Observed, work: &mut Work) {
        let Some(n) = self.nodes.get_mut(&obj.id.uid) else {
            return;
        };
        n.being_deleted = obj.deleting;
        let orphaning = obj.deleting && obj.has_finalizer(ORPHAN);
        if orphaning && !n.orphaning {
            work.attempt_to_orphan.push(obj.id.uid.clone());
        }
        n.orphaning = orphaning;
        let foreground = obj.deleting && obj.has_finalizer(FOREGROUND);
        if foreground && !n.deleting_dependents {
            work.attempt_to_delete.extend(n.dependents.iter().cloned());
            work.attempt_to_delete.push(obj.id.uid.clone());
        }
        n.deleting_dependents = foreground;
    }

    /// An object left the store, or a virtual owner was verified absent
    /// (`processGraphChanges`, delete branch): its dependents are queued to be checked for
    /// dangling references, and owners waiting for it in foreground deletion are re-checked.
    pub fn remove(&mut self, uid: &str) -> Work {
        let mut work = Work::default();
        let Some(node) = self.nodes.remove(uid) else {
            return work;
        };
        self.unlink_owners(uid, &node.owners);
        work.attempt_to_delete
            .extend(node.dependents.iter().cloned());
        for owner in &node.owners {
            if self
                .nodes
                .get(&owner.uid)
                .is_some_and(|n| n.deleting_dependents)
            {
                work.attempt_to_delete.push(owner.uid.clone());
            }
        }
        // Dependents keep their references to the removed uid; they are re-checked live.
        work
    }

    /// After a relist of `resource`: nodes observed through it whose uid is not in `seen`
    /// were deleted while the watch was down.
    pub fn missing_after_relist(&self, resource: usize, seen: &HashSet<String>) -> Vec<String> {
        self.nodes
            .values()
            .filter(|n| n.observed && n.resource == Some(resource) && !seen.contains(&n.id.uid))
            .map(|n| n.id.uid.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn id(kind: &str, name: &str, uid: &str) -> ObjectId {
        ObjectId {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: Some("default".into()),
            name: name.into(),
            uid: uid.into(),
        }
    }

    fn owned_by(uid: &str, block: bool) -> OwnerRef {
        OwnerRef {
            api_version: "batch/v1".into(),
            kind: "Job".into(),
            name: format!("job-{uid}"),
            uid: uid.into(),
            block_owner_deletion: block,
        }
    }

    fn obs(kind: &str, uid: &str, owners: Vec<OwnerRef>) -> Observed {
        Observed {
            id: id(kind, &format!("{kind}-{uid}"), uid),
            owners,
            deleting: false,
            finalizers: Vec::new(),
        }
    }

    #[test]
    fn an_unseen_owner_becomes_a_virtual_node_queued_for_verification() {
        let mut g = Graph::default();
        let w = g.upsert(0, obs("Pod", "p1", vec![owned_by("j1", true)]));
        assert_eq!(w.attempt_to_delete, vec!["j1".to_string()]);
        let owner = g.node("j1").unwrap();
        assert!(!owner.observed);
        assert!(owner.dependents.contains("p1"));
        assert_eq!(owner.id.namespace.as_deref(), Some("default"));
    }

    #[test]
    fn observing_a_virtual_owner_keeps_its_dependents() {
        let mut g = Graph::default();
        g.upsert(0, obs("Pod", "p1", vec![owned_by("j1", true)]));
        let w = g.upsert(1, obs("Job", "j1", vec![]));
        assert_eq!(w, Work::default());
        let owner = g.node("j1").unwrap();
        assert!(owner.observed);
        assert_eq!(owner.id.kind, "Job");
        assert!(owner.dependents.contains("p1"));
    }

    #[test]
    fn foreground_deletion_queues_the_owner_and_every_dependent_once() {
        let mut g = Graph::default();
        g.upsert(1, obs("Job", "j1", vec![]));
        g.upsert(0, obs("Pod", "p1", vec![owned_by("j1", true)]));
        g.upsert(0, obs("Pod", "p2", vec![owned_by("j1", false)]));
        let mut deleting = obs("Job", "j1", vec![]);
        deleting.deleting = true;
        deleting.finalizers = vec![FOREGROUND.into()];
        let mut w = g.upsert(1, deleting.clone());
        w.attempt_to_delete.sort();
        assert_eq!(w.attempt_to_delete, vec!["j1", "p1", "p2"]);
        assert!(g.node("j1").unwrap().deleting_dependents);
        assert_eq!(g.blocking_dependents("j1").len(), 1);
        assert_eq!(
            g.upsert(1, deleting),
            Work::default(),
            "the transition fires once"
        );
    }

    #[test]
    fn orphan_finalizer_on_a_deleting_object_queues_orphaning() {
        let mut g = Graph::default();
        let mut o = obs("Job", "j1", vec![]);
        o.deleting = true;
        o.finalizers = vec![ORPHAN.into()];
        let w = g.upsert(1, o);
        assert_eq!(w.attempt_to_orphan, vec!["j1".to_string()]);
    }

    #[test]
    fn removing_a_node_queues_its_dependents_and_waiting_owners() {
        let mut g = Graph::default();
        let mut j = obs("Job", "j1", vec![]);
        j.deleting = true;
        j.finalizers = vec![FOREGROUND.into()];
        g.upsert(1, j);
        g.upsert(0, obs("Pod", "p1", vec![owned_by("j1", true)]));
        g.upsert(
            2,
            obs(
                "ConfigMap",
                "c1",
                vec![OwnerRef {
                    uid: "p1".into(),
                    ..owned_by("p1", false)
                }],
            ),
        );
        let w = g.remove("p1");
        assert_eq!(
            w.attempt_to_delete,
            vec!["c1".to_string(), "j1".to_string()]
        );
        assert!(g.node("j1").unwrap().dependents.is_empty());
    }

    #[test]
    fn dropping_a_blocking_reference_requeues_a_foreground_owner() {
        let mut g = Graph::default();
        let mut j = obs("Job", "j1", vec![]);
        j.deleting = true;
        j.finalizers = vec![FOREGROUND.into()];
        g.upsert(1, j);
        g.upsert(0, obs("Pod", "p1", vec![owned_by("j1", true)]));
        let w = g.upsert(0, obs("Pod", "p1", vec![owned_by("j1", false)]));
        assert_eq!(w.attempt_to_delete, vec!["j1".to_string()]);
        assert!(g.blocking_dependents("j1").is_empty());
    }

    #[test]
    fn relist_reports_nodes_that_disappeared_while_unwatched() {
        let mut g = Graph::default();
        g.upsert(0, obs("Pod", "p1", vec![]));
        g.upsert(0, obs("Pod", "p2", vec![]));
        g.upsert(1, obs("Job", "j1", vec![]));
        let seen: HashSet<String> = ["p1".to_string()].into();
        assert_eq!(g.missing_after_relist(0, &seen), vec!["p2".to_string()]);
    }
}
