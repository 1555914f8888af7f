//! `runlet rerun job/NAME`: run a finished (or failed) Job again as a fresh Job from the same
//! template, like the consoles' Rerun button.
//!
//! The new Job gets a server-generated name (`NAME-rerun-xxxxx`), and everything the server
//! derived for the old one is removed so it derives it anew: the selector (unless the user
//! chose it with `manualSelector`), the `controller-uid` and `job-name` labels on the Job and
//! its template, owner references, status and suspension. The annotation
//! `runlet.dev/rerun-of` names the original.

use crate::cli::output::{self, Format};
use crate::cli::resource;
use crate::cli::{self, CliError, ClientArgs, Ctx};
use clap::Args;
use serde_json::{Map, Value, json};
use std::process::ExitCode;

/// Names the Job a rerun was made from.
pub const RERUN_OF_ANNOTATION: &str = "runlet.dev/rerun-of";

/// Labels the server puts on a Job and its pod template; a rerun must not carry the old ones.
const DERIVED_LABELS: &[&str] = &[
    "controller-uid",
    "batch.kubernetes.io/controller-uid",
    "job-name",
    "batch.kubernetes.io/job-name",
];

/// Annotations that describe how the old Job came to be, not the new one.
const DERIVED_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "batch.kubernetes.io/cronjob-scheduled-timestamp",
    "cronjob.kubernetes.io/instantiate",
];

#[derive(Args)]
pub struct RerunArgs {
    /// The Job to run again: `job/NAME`.
    #[arg(required = true, value_name = "job/NAME")]
    args: Vec<String>,
    /// Output format of the created Job (`name`, `json`, `yaml`).
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Table)]
    output: Format,
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run(args: RerunArgs) -> anyhow::Result<ExitCode> {
    Ok(cli::run(rerun(args)))
}

async fn rerun(args: RerunArgs) -> Result<ExitCode, CliError> {
    let refs = resource::parse_refs(&args.args)?;
    resource::expect_kind(&refs, &["Job"], "rerun")?;
    let [name] = refs.names.as_slice() else {
        return Err(CliError::Usage(
            "name exactly one Job to rerun, e.g. job/pi".into(),
        ));
    };
    let ctx = Ctx::connect(&args.client, false).await?;
    let old = ctx
        .get(&resource::object_path(refs.info, &ctx.namespace, name))
        .await?;
    let fresh = rerun_job(&old);
    let created = ctx
        .write(
            "POST",
            &resource::collection_path(refs.info, Some(&ctx.namespace)),
            "application/json",
            &fresh,
        )
        .await?;
    let new_name = created["metadata"]["name"].as_str().unwrap_or("");
    output::print_object(
        refs.info,
        &created,
        args.output,
        &format!("{} created", resource::ref_name(refs.info, new_name)),
    )?;
    eprintln!("(a rerun of {})", resource::ref_name(refs.info, name));
    Ok(ExitCode::SUCCESS)
}

/// The `generateName` for a rerun of `name`: a rerun of a rerun is named after the original;
/// the base is cut so the generated name fits the 63 characters a label value allows.
fn generate_name(name: &str) -> String {
    let base = match name.rsplit_once("-rerun-") {
        Some((b, suffix)) if suffix.len() == 5 && !b.is_empty() => b,
        _ => name,
    };
    let cut: String = base.chars().take(63 - "-rerun-".len() - 5).collect();
    format!("{}-rerun-", cut.trim_end_matches('-'))
}

fn without(map: &Value, keys: &[&str]) -> Map<String, Value> {
    map.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !keys.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// A new Job from `old`'s template, with everything the server derives removed.
pub fn rerun_job(old: &Value) -> Value {
    let name = old["metadata"]["name"].as_str().unwrap_or("job");
    let mut annotations = without(&old["metadata"]["annotations"], DERIVED_ANNOTATIONS);
    annotations.insert(RERUN_OF_ANNOTATION.into(), json!(name));
    let mut metadata = Map::new();
    metadata.insert("generateName".into(), json!(generate_name(name)));
    let labels = without(&old["metadata"]["labels"], DERIVED_LABELS);
    if !labels.is_empty() {
        metadata.insert("labels".into(), Value::Object(labels));
    }
    metadata.insert("annotations".into(), Value::Object(annotations));

    let mut spec = old["spec"].clone();
    if let Some(s) = spec.as_object_mut() {
        if s.get("manualSelector") != Some(&json!(true)) {
            s.remove("selector");
            s.remove("manualSelector");
        }
        s.remove("suspend");
    }
    if let Some(tm) = spec
        .pointer_mut("/template/metadata")
        .and_then(Value::as_object_mut)
    {
        let labels = without(tm.get("labels").unwrap_or(&Value::Null), DERIVED_LABELS);
        if labels.is_empty() {
            tm.remove("labels");
        } else {
            tm.insert("labels".into(), Value::Object(labels));
        }
    }
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": spec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::fixtures;

    #[test]
    fn rerun_drops_what_the_server_derived_and_names_the_original() {
        let fresh = rerun_job(&fixtures::completed_job());
        assert_eq!(fresh["metadata"]["generateName"], "hello-job-rerun-");
        assert_eq!(
            fresh["metadata"]["annotations"][RERUN_OF_ANNOTATION],
            "hello-job"
        );
        assert!(fresh["metadata"].get("labels").is_none(), "{fresh}");
        assert!(fresh["metadata"].get("ownerReferences").is_none());
        assert!(fresh.get("status").is_none());
        assert!(fresh["spec"].get("selector").is_none());
        assert!(fresh["spec"].get("suspend").is_none());
        assert!(
            fresh["spec"]["template"]["metadata"]
                .get("labels")
                .is_none()
        );
        assert_eq!(
            fresh["spec"]["template"]["spec"]["containers"][0]["image"],
            "busybox:1.36"
        );
    }

    #[test]
    fn rerun_keeps_user_labels_and_a_manual_selector() {
        let mut old = fixtures::running_indexed_job();
        old["spec"]["manualSelector"] = json!(true);
        let fresh = rerun_job(&old);
        assert_eq!(fresh["metadata"]["labels"], json!({"app": "render"}));
        assert_eq!(fresh["metadata"]["annotations"]["team"], "graphics");
        assert!(fresh["spec"]["selector"].is_object());
        assert_eq!(
            fresh["spec"]["template"]["metadata"]["labels"],
            json!({"app": "render"})
        );
    }

    #[test]
    fn rerun_of_a_rerun_is_named_after_the_original_and_fits_a_label() {
        assert_eq!(generate_name("pi-rerun-x7k2p"), "pi-rerun-");
        let long = "a".repeat(80);
        assert_eq!(generate_name(&long).len() + 5, 63);
    }
}
