//! Which fields each kind can be selected by, and how each field's value is read.
//!
//! Two upstream tables meet here. The *conversion functions* (`pkg/apis/core/v1/conversion.go`,
//! `pkg/apis/batch/v1/conversion.go`, `pkg/apis/events/v1/conversion.go`) decide which labels a
//! request may use and with which error; kinds without one get
//! `runtime.DefaultMetaV1FieldSelectorConversion` (name and namespace only). The *selectable
//! field sets* (`pkg/registry/*/strategy.go` `ToSelectableFields`) give each label's value, as a
//! string, from the internal object. `events.k8s.io` labels are renamed to the core names
//! (`regarding.name` → `involvedObject.name`) because upstream stores both as the core Event.

use super::SelectorError;
use crate::resources::ResourceInfo;
use serde_json::Value;

/// The field-selector behaviour of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum FieldKind {
    Pod,
    Node,
    Namespace,
    Secret,
    CoreEvent,
    EventsV1Event,
    Job,
    /// Any other kind: `metadata.name` and `metadata.namespace` only.
    #[default]
    Generic,
}

const POD_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.podIPs",
    "status.nominatedNodeName",
];

const CORE_EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
    "metadata.namespace",
    "metadata.name",
];

/// `events.k8s.io/v1` label → the core label it is matched as.
const EVENTS_V1_MAPPING: &[(&str, &str)] = &[
    ("reason", "reason"),
    ("regarding.kind", "involvedObject.kind"),
    ("regarding.namespace", "involvedObject.namespace"),
    ("regarding.name", "involvedObject.name"),
    ("regarding.uid", "involvedObject.uid"),
    ("regarding.apiVersion", "involvedObject.apiVersion"),
    (
        "regarding.resourceVersion",
        "involvedObject.resourceVersion",
    ),
    ("regarding.fieldPath", "involvedObject.fieldPath"),
    ("reportingController", "reportingComponent"),
    ("source", "source"),
    ("type", "type"),
    ("metadata.namespace", "metadata.namespace"),
    ("metadata.name", "metadata.name"),
];

fn allow<'a>(label: &'a str, allowed: &[&str]) -> Result<&'a str, SelectorError> {
    if allowed.contains(&label) {
        Ok(label)
    } else {
        Err(SelectorError::UnsupportedField(label.to_string()))
    }
}

impl FieldKind {
    /// The field-selector behaviour of `info`'s kind.
    pub(crate) fn of(info: &ResourceInfo) -> Self {
        match (info.group, info.kind) {
            ("", "Pod") => FieldKind::Pod,
            ("", "Node") => FieldKind::Node,
            ("", "Namespace") => FieldKind::Namespace,
            ("", "Secret") => FieldKind::Secret,
            ("", "Event") => FieldKind::CoreEvent,
            ("events.k8s.io", "Event") => FieldKind::EventsV1Event,
            ("batch", "Job") => FieldKind::Job,
            _ => FieldKind::Generic,
        }
    }

    /// The kind's field label conversion: the label matched on, or upstream's error.
    pub(crate) fn convert_label(self, label: &str) -> Result<&str, SelectorError> {
        match self {
            FieldKind::Pod if label == "spec.host" => Ok("spec.nodeName"),
            FieldKind::Pod => allow(label, POD_FIELDS),
            FieldKind::Node => allow(label, &["metadata.name", "spec.unschedulable"]),
            FieldKind::Namespace => allow(label, &["status.phase", "metadata.name"]),
            FieldKind::Secret => allow(label, &["type", "metadata.namespace", "metadata.name"]),
            FieldKind::CoreEvent => allow(label, CORE_EVENT_FIELDS),
            FieldKind::EventsV1Event => EVENTS_V1_MAPPING
                .iter()
                .find(|(from, _)| *from == label)
                .map(|(_, to)| *to)
                .ok_or_else(|| SelectorError::UnsupportedField(label.to_string())),
            FieldKind::Job => match label {
                "metadata.name" | "metadata.namespace" | "status.successful" => Ok(label),
                _ => Err(SelectorError::UnsupportedJobField(label.to_string())),
            },
            FieldKind::Generic => match label {
                "metadata.name" | "metadata.namespace" => Ok(label),
                _ => Err(SelectorError::UnknownField(label.to_string())),
            },
        }
    }
}

/// The string at `path` in `obj`, or "" (upstream's zero value) when absent or not a string.
fn string_at(obj: &Value, path: &[&str]) -> String {
    let mut cur = obj;
    for key in path {
        match cur.get(key) {
            Some(next) => cur = next,
            None => return String::new(),
        }
    }
    cur.as_str().map(str::to_string).unwrap_or_default()
}

/// A boolean field as Go's `strconv.FormatBool`, false when absent.
fn bool_at(obj: &Value, path: &[&str]) -> String {
    let mut cur = obj;
    for key in path {
        match cur.get(key) {
            Some(next) => cur = next,
            None => return "false".to_string(),
        }
    }
    cur.as_bool().unwrap_or(false).to_string()
}

/// Whether an Event object is in `events.k8s.io` shape (it may be handed over in either).
fn is_events_v1_shape(obj: &Value, default: bool) -> bool {
    match obj.get("apiVersion").and_then(Value::as_str) {
        Some(av) => av.starts_with("events.k8s.io/"),
        None => default,
    }
}

/// The value of the (converted) field label `field` of `obj`, as `ToSelectableFields` gives it.
pub(crate) fn field_value(kind: FieldKind, obj: &Value, field: &str) -> String {
    match field {
        "metadata.name" => return string_at(obj, &["metadata", "name"]),
        "metadata.namespace" => return string_at(obj, &["metadata", "namespace"]),
        _ => {}
    }
    match kind {
        FieldKind::Pod => match field {
            "spec.nodeName" => string_at(obj, &["spec", "nodeName"]),
            "spec.restartPolicy" => string_at(obj, &["spec", "restartPolicy"]),
            "spec.schedulerName" => string_at(obj, &["spec", "schedulerName"]),
            "spec.serviceAccountName" => string_at(obj, &["spec", "serviceAccountName"]),
            "spec.hostNetwork" => bool_at(obj, &["spec", "hostNetwork"]),
            "status.phase" => string_at(obj, &["status", "phase"]),
            // The internal pod keeps only podIPs; v1's podIP is podIPs[0].
            "status.podIP" => {
                let first = obj.pointer("/status/podIPs/0/ip").and_then(Value::as_str);
                first.map_or_else(|| string_at(obj, &["status", "podIP"]), str::to_string)
            }
            "status.nominatedNodeName" => string_at(obj, &["status", "nominatedNodeName"]),
            _ => String::new(),
        },
        FieldKind::Node if field == "spec.unschedulable" => {
            bool_at(obj, &["spec", "unschedulable"])
        }
        FieldKind::Namespace if field == "status.phase" => string_at(obj, &["status", "phase"]),
        FieldKind::Secret if field == "type" => string_at(obj, &["type"]),
        FieldKind::Job if field == "status.successful" => obj
            .pointer("/status/succeeded")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .to_string(),
        FieldKind::CoreEvent | FieldKind::EventsV1Event => event_field(
            obj,
            field,
            is_events_v1_shape(obj, kind == FieldKind::EventsV1Event),
        ),
        _ => String::new(),
    }
}

/// The two-level paths (`spec`, `nodeName`; an empty second part: the whole top-level field)
/// that [`field_value`] reads for `field`.
pub(crate) fn read_paths(kind: FieldKind, field: &str) -> Vec<[&'static str; 2]> {
    match field {
        "metadata.name" => return vec![["metadata", "name"]],
        "metadata.namespace" => return vec![["metadata", "namespace"]],
        _ => {}
    }
    let one = |a: &'static str, b: &'static str| vec![[a, b]];
    match kind {
        FieldKind::Pod => match field {
            "spec.nodeName" => one("spec", "nodeName"),
            "spec.restartPolicy" => one("spec", "restartPolicy"),
            "spec.schedulerName" => one("spec", "schedulerName"),
            "spec.serviceAccountName" => one("spec", "serviceAccountName"),
            "spec.hostNetwork" => one("spec", "hostNetwork"),
            "status.phase" => one("status", "phase"),
            "status.podIP" => vec![["status", "podIP"], ["status", "podIPs"]],
            "status.nominatedNodeName" => one("status", "nominatedNodeName"),
            _ => Vec::new(),
        },
        FieldKind::Node if field == "spec.unschedulable" => one("spec", "unschedulable"),
        FieldKind::Namespace if field == "status.phase" => one("status", "phase"),
        FieldKind::Secret if field == "type" => one("type", ""),
        FieldKind::Job if field == "status.successful" => one("status", "succeeded"),
        // `event_field` reads either wire shape, told apart by `apiVersion`.
        FieldKind::CoreEvent | FieldKind::EventsV1Event => {
            let fields: &[&'static str] = if field.starts_with("involvedObject.") {
                &["involvedObject", "regarding"]
            } else {
                match field {
                    "reason" => &["reason"],
                    "type" => &["type"],
                    "reportingComponent" => &["reportingComponent", "reportingController"],
                    "source" => &[
                        "source",
                        "deprecatedSource",
                        "reportingComponent",
                        "reportingController",
                    ],
                    _ => &[],
                }
            };
            std::iter::once("apiVersion")
                .chain(fields.iter().copied())
                .map(|f| [f, ""])
                .collect()
        }
        _ => Vec::new(),
    }
}

/// An Event's selectable field (core label names) from either wire shape.
fn event_field(obj: &Value, field: &str, v1_shape: bool) -> String {
    let (object_ref, reporting, source) = if v1_shape {
        ("regarding", "reportingController", "deprecatedSource")
    } else {
        ("involvedObject", "reportingComponent", "source")
    };
    if let Some(sub) = field.strip_prefix("involvedObject.") {
        return string_at(obj, &[object_ref, sub]);
    }
    match field {
        "reason" => string_at(obj, &["reason"]),
        "type" => string_at(obj, &["type"]),
        "reportingComponent" => string_at(obj, &[reporting]),
        "source" => {
            let component = string_at(obj, &[source, "component"]);
            if component.is_empty() {
                string_at(obj, &[reporting])
            } else {
                component
            }
        }
        _ => String::new(),
    }
}
