//! `runlet apply -f FILE|DIR|-`: create or update every object in the files, printing
//! `job.batch/x created|configured|unchanged` as `kubectl apply` does.
//!
//! Client-side apply in kubectl's manner: the applied document is kept in the
//! `kubectl.kubernetes.io/last-applied-configuration` annotation, and an update sends a JSON
//! merge patch computed three ways — fields the file sets that differ from the live object,
//! and `null` for fields the previous apply set that the file no longer has — so fields the
//! server or controllers own (defaults, the Job's selector and labels, status) are left alone.
//! Lists in the file replace the live list when they differ from it, ignoring fields the
//! server defaulted inside the list's elements.

use crate::cli::output::{self, Format};
use crate::cli::resource;
use crate::cli::{self, CliError, ClientArgs, Ctx};
use clap::Args;
use runlet_api::resources::{self, ResourceInfo};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where kubectl keeps the last applied document.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

#[derive(Args)]
pub struct ApplyArgs {
    /// A file, a directory of `.yaml`/`.yml`/`.json` files, or `-` for standard input
    /// (repeatable; several documents per file allowed).
    #[arg(short = 'f', long = "filename", required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Output format for what was applied (`name`, `json`, `yaml`).
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Table)]
    output: Format,
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    Ok(cli::run(apply(args)))
}

async fn apply(args: ApplyArgs) -> Result<ExitCode, CliError> {
    let mut docs = Vec::new();
    for f in &args.files {
        docs.extend(read_path(f)?);
    }
    if docs.is_empty() {
        return Err(CliError::Usage("no objects passed to apply".into()));
    }
    let ctx = Ctx::connect(&args.client, false).await?;
    let mut failed = false;
    // As kubectl's `printObjects`: JSON and YAML come once at the end, several objects as a
    // `List`, so that the output parses; names and messages as each object is applied.
    let whole_output = matches!(args.output, Format::Json | Format::Yaml);
    let mut applied = Vec::new();
    for (source, doc) in docs {
        match apply_one(&ctx, &source, doc, args.client.namespace.as_deref()).await {
            Ok((info, object, said)) if !whole_output => {
                output::print_object(info, &object, args.output, &said)?;
            }
            Ok((_, object, _)) => applied.push(object),
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    if applied.len() > 1 {
        let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": applied});
        output::print_value(&list, args.output)?;
    } else if let Some(object) = applied.first() {
        output::print_value(object, args.output)?;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The documents of a file, a directory, or `-`, each with where it came from.
fn read_path(path: &Path) -> Result<Vec<(String, Value)>, CliError> {
    if path.as_os_str() == "-" {
        let text = std::io::read_to_string(std::io::stdin())
            .map_err(|e| CliError::Other(format!("reading standard input: {e}")))?;
        return parse_documents("STDIN", &text);
    }
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| CliError::Other(format!("reading {}: {e}", path.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
            })
            .collect();
        entries.sort();
        let mut out = Vec::new();
        for p in entries {
            out.extend(read_path(&p)?);
        }
        return Ok(out);
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::Usage(format!(
            "the path \"{}\" cannot be read: {e}",
            path.display()
        ))
    })?;
    parse_documents(&path.display().to_string(), &text)
}

/// A list of objects (`List`, `PodList`, ...: a kind ending in `List`, with `items`), which
/// kubectl reads as its items.
pub(crate) fn is_list(doc: &Value) -> bool {
    doc["kind"].as_str().is_some_and(|k| k.ends_with("List")) && doc["items"].is_array()
}

/// Every non-empty document; `kind: List` documents contribute their items.
pub fn parse_documents(source: &str, text: &str) -> Result<Vec<(String, Value)>, CliError> {
    let docs: Vec<Value> = serde_saphyr::from_multiple::<Value>(text)
        .map_err(|e| CliError::Usage(format!("error parsing {source}: {e}")))?;
    let mut out = Vec::new();
    for d in docs.into_iter().filter(|d| !d.is_null()) {
        if !d.is_object() {
            return Err(CliError::Usage(format!(
                "error parsing {source}: a document is not an object"
            )));
        }
        if is_list(&d) {
            for item in d["items"].as_array().cloned().unwrap_or_default() {
                out.push((source.to_string(), item));
            }
        } else {
            out.push((source.to_string(), d));
        }
    }
    Ok(out)
}

/// As `kubectl apply` (`--validate=strict`, its default): a field the server does not know is
/// an error, not silently dropped.
const STRICT: &str = "fieldValidation=Strict";

/// Applies one document; returns its kind, the object the server has now, and what kubectl
/// says of it (`job.batch/pi created`). `enforced_namespace` is the `-n` given, which a
/// document naming another namespace may not contradict, as kubectl's `EnforceNamespace`.
async fn apply_one(
    ctx: &Ctx,
    source: &str,
    doc: Value,
    enforced_namespace: Option<&str>,
) -> Result<(&'static ResourceInfo, Value, String), CliError> {
    let api_version = doc["apiVersion"].as_str().unwrap_or_default();
    let kind = doc["kind"].as_str().unwrap_or_default();
    let info: &ResourceInfo = resources::by_kind(api_version, kind).ok_or_else(|| {
        CliError::Usage(format!(
            "resource mapping not found for {source}: no matches for kind \"{kind}\" in version \"{api_version}\""
        ))
    })?;
    let Some(name) = doc["metadata"]["name"].as_str().map(str::to_string) else {
        return Err(CliError::Usage(format!(
            "error when retrieving current configuration from {source}: every object to apply needs metadata.name"
        )));
    };
    let namespace = doc["metadata"]["namespace"]
        .as_str()
        .unwrap_or(&ctx.namespace)
        .to_string();
    if let Some(enforced) = enforced_namespace.filter(|n| info.namespaced && *n != namespace) {
        return Err(CliError::Usage(format!(
            "the namespace from the provided object \"{namespace}\" does not match the namespace \"{enforced}\". You must pass '--namespace={namespace}' to perform this operation."
        )));
    }
    let modified = with_last_applied(&doc, info.namespaced.then_some(namespace.as_str()))?;
    let path = resource::object_path(info, &namespace, &name);
    let shown = resource::ref_name(info, &name);
    let current = match ctx.get(&path).await {
        Ok(c) => Some(c),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e),
    };
    let (result, verb) = match current {
        None => {
            let created = ctx
                .write(
                    "POST",
                    &format!(
                        "{}?{STRICT}",
                        resource::collection_path(info, Some(&namespace))
                    ),
                    "application/json",
                    &modified,
                )
                .await?;
            (created, "created")
        }
        Some(current) => {
            let original = current["metadata"]["annotations"][LAST_APPLIED]
                .as_str()
                .and_then(|s| serde_json::from_str::<Value>(s).ok());
            match three_way_patch(original.as_ref(), &modified, &current) {
                None => (current, "unchanged"),
                Some(patch) => {
                    let rv_before = current["metadata"]["resourceVersion"].clone();
                    let updated = ctx
                        .write(
                            "PATCH",
                            &format!("{path}?{STRICT}"),
                            "application/merge-patch+json",
                            &patch,
                        )
                        .await?;
                    let verb = if updated["metadata"]["resourceVersion"] == rv_before {
                        "unchanged"
                    } else {
                        "configured"
                    };
                    (updated, verb)
                }
            }
        }
    };
    Ok((info, result, format!("{shown} {verb}")))
}

/// The document to send: `status` dropped, the namespace set, and the document itself (without
/// this annotation) recorded in the last-applied annotation, as kubectl's
/// `GetModifiedConfiguration` records it: with `"annotations":{}` when it has no other, keys
/// in order (Go's JSON encoding of a map), a newline at the end. The same bytes as kubectl's,
/// so applying a file with one and then the other changes nothing.
pub(crate) fn with_last_applied(doc: &Value, namespace: Option<&str>) -> Result<Value, CliError> {
    let mut applied = doc.clone();
    if let Some(m) = applied.as_object_mut() {
        m.remove("status");
    }
    if let Some(ns) = namespace {
        applied["metadata"]["namespace"] = json!(ns);
    }
    if !applied["metadata"]["annotations"].is_object() {
        applied["metadata"]["annotations"] = json!({});
    }
    if let Some(Value::Object(a)) = applied["metadata"].get_mut("annotations") {
        a.remove(LAST_APPLIED);
    }
    let record = serde_json::to_string(&keys_in_order(&applied))
        .map_err(|e| CliError::Other(e.to_string()))?;
    let mut out = applied;
    out["metadata"]["annotations"][LAST_APPLIED] = json!(format!("{record}\n"));
    Ok(out)
}

/// `v` with every object's keys in order, as Go's encoding/json writes a map.
fn keys_in_order(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), keys_in_order(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(keys_in_order).collect()),
        other => other.clone(),
    }
}

/// Whether `current` already says everything `wanted` says (fields `wanted` leaves out, such as
/// server defaults inside list elements, do not matter).
fn covers(current: Option<&Value>, wanted: &Value) -> bool {
    match (current, wanted) {
        (None, w) => w.is_null(),
        (Some(Value::Object(c)), Value::Object(w)) => w.iter().all(|(k, wv)| covers(c.get(k), wv)),
        (Some(Value::Array(c)), Value::Array(w)) => {
            c.len() == w.len() && c.iter().zip(w).all(|(cv, wv)| covers(Some(cv), wv))
        }
        (Some(Value::Number(c)), Value::Number(w)) => c.as_f64() == w.as_f64(),
        (Some(c), w) => c == w,
    }
}

/// The merge patch taking `current` to `modified`, deleting what `original` (the previous
/// apply) set and `modified` no longer does; `None` when there is nothing to change.
pub fn three_way_patch(
    original: Option<&Value>,
    modified: &Value,
    current: &Value,
) -> Option<Value> {
    let (Value::Object(m), Value::Object(c)) = (modified, current) else {
        return (!covers(Some(current), modified)).then(|| modified.clone());
    };
    let o = original.and_then(Value::as_object);
    let mut patch = Map::new();
    for (k, mv) in m {
        let cv = c.get(k);
        match (mv, cv) {
            (Value::Object(_), Some(cv @ Value::Object(_))) => {
                if let Some(sub) = three_way_patch(o.and_then(|o| o.get(k)), mv, cv) {
                    patch.insert(k.clone(), sub);
                }
            }
            _ => {
                if !covers(cv, mv) {
                    patch.insert(k.clone(), mv.clone());
                }
            }
        }
    }
    if let Some(o) = o {
        for k in o.keys() {
            if !m.contains_key(k) && c.contains_key(k) {
                patch.insert(k.clone(), Value::Null);
            }
        }
    }
    (!patch.is_empty()).then_some(Value::Object(patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_file_gives_no_patch_despite_server_defaults() {
        let applied = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}});
        let live = json!({
            "metadata": {"uid": "u", "labels": {"job-name": "x"}},
            "spec": {
                "backoffLimit": 6,
                "template": {"spec": {"containers": [{"name": "c", "image": "busybox", "imagePullPolicy": "IfNotPresent"}]}}
            },
            "status": {"active": 1}
        });
        assert_eq!(three_way_patch(Some(&applied), &applied, &live), None);
    }

    #[test]
    fn changed_and_removed_fields_are_patched_three_ways() {
        let original = json!({"data": {"a": "1", "b": "2"}, "metadata": {"labels": {"x": "1"}}});
        let modified = json!({"data": {"a": "9"}, "metadata": {"labels": {"x": "1"}}});
        let live = json!({"data": {"a": "1", "b": "2", "c": "from-someone-else"}, "metadata": {"labels": {"x": "1", "server": "y"}}});
        assert_eq!(
            three_way_patch(Some(&original), &modified, &live),
            Some(json!({"data": {"a": "9", "b": null}}))
        );
    }

    #[test]
    fn a_changed_list_is_replaced_whole() {
        let modified = json!({"args": ["a", "b"]});
        let live = json!({"args": ["a"]});
        assert_eq!(
            three_way_patch(None, &modified, &live),
            Some(json!({"args": ["a", "b"]}))
        );
    }

    #[test]
    fn last_applied_records_the_document_without_status_or_itself() {
        let doc = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "1"}, "status": {}});
        let out = with_last_applied(&doc, Some("ns")).expect("encodes");
        let record = out["metadata"]["annotations"][LAST_APPLIED]
            .as_str()
            .expect("annotation");
        let recorded: Value = serde_json::from_str(record).expect("json");
        assert_eq!(recorded["metadata"]["namespace"], "ns");
        assert!(recorded.get("status").is_none());
        assert!(out.get("status").is_none());
        // kubectl's bytes: keys in order, an empty `annotations`, a newline.
        assert_eq!(
            record,
            "{\"apiVersion\":\"v1\",\"data\":{\"a\":\"1\"},\"kind\":\"ConfigMap\",\"metadata\":{\"annotations\":{},\"name\":\"x\",\"namespace\":\"ns\"}}\n"
        );
    }

    #[test]
    fn documents_and_lists_are_split() {
        let docs = parse_documents(
            "f.yaml",
            "kind: List\nitems:\n- {kind: ConfigMap, apiVersion: v1, metadata: {name: a}}\n---\n---\nkind: ConfigMap\napiVersion: v1\nmetadata: {name: b}\n",
        )
        .expect("parses");
        let names: Vec<&str> = docs
            .iter()
            .filter_map(|(_, d)| d["metadata"]["name"].as_str())
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert!(parse_documents("f", "- 1\n").is_err());
        // What `kubectl get pods -o yaml` prints is a list too.
        assert!(is_list(&json!({"kind": "PodList", "items": []})));
        assert!(!is_list(&json!({"kind": "List"})));
        assert!(!is_list(&json!({"kind": "ConfigMap", "items": []})));
    }
}
