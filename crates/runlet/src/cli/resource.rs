//! Resource names on the command line (`jobs`, `job`, `cj`, `jobs.batch`, `job/pi`) and the
//! REST paths they map to.
//!
//! Names resolve through `runlet_api::resources`, the table discovery is built from, so
//! `runlet get cj` accepts exactly the short names `kubectl api-resources` lists.

use super::CliError;
use runlet_api::resources::{RESOURCES, ResourceInfo};

/// The resource a command-line type names, as kubectl resolves it: plural, singular, short
/// name or kind, optionally qualified by its group (`jobs.batch`).
pub fn resolve(name: &str) -> Result<&'static ResourceInfo, CliError> {
    let lower = name.to_ascii_lowercase();
    let (base, group) = match lower.split_once('.') {
        Some((b, g)) => (b.to_string(), Some(g.to_string())),
        None => (lower.clone(), None),
    };
    RESOURCES
        .iter()
        .filter(|r| !r.is_alias())
        .find(|r| {
            let names = r.plural == base
                || r.singular == base
                || r.short_names.contains(&base.as_str())
                || r.kind.eq_ignore_ascii_case(&base);
            let group_ok = group.as_deref().is_none_or(|g| g == r.group);
            names && group_ok
        })
        .ok_or_else(|| {
            CliError::Usage(format!(
                "the server doesn't have a resource type \"{name}\""
            ))
        })
}

/// Several types at once, as `kubectl get` takes them: comma-separated names, and categories
/// (`all`) standing for every resource in them.
pub fn resolve_many(spec: &str) -> Result<Vec<&'static ResourceInfo>, CliError> {
    let mut out: Vec<&'static ResourceInfo> = Vec::new();
    for part in spec.split(',').filter(|p| !p.is_empty()) {
        let category: Vec<&'static ResourceInfo> = RESOURCES
            .iter()
            .filter(|r| !r.is_alias() && r.categories.contains(&part))
            .collect();
        let found = if category.is_empty() {
            vec![resolve(part)?]
        } else {
            category
        };
        for r in found {
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    if out.is_empty() {
        return Err(CliError::Usage(
            "you must specify the type of resource, e.g. `jobs`".into(),
        ));
    }
    Ok(out)
}

/// `job.batch`, or `pod` for the core group: the prefix of `-o name` and of messages.
pub fn singular_qualified(info: &ResourceInfo) -> String {
    if info.group.is_empty() {
        info.singular.to_string()
    } else {
        format!("{}.{}", info.singular, info.group)
    }
}

/// `job.batch/pi`.
pub fn ref_name(info: &ResourceInfo, name: &str) -> String {
    format!("{}/{name}", singular_qualified(info))
}

fn base(info: &ResourceInfo) -> String {
    if info.group.is_empty() {
        format!("/api/{}", info.version)
    } else {
        format!("/apis/{}/{}", info.group, info.version)
    }
}

/// The collection path: in `namespace`, or across all namespaces (and for cluster-scoped
/// resources) when `None`.
pub fn collection_path(info: &ResourceInfo, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if info.namespaced => format!("{}/namespaces/{ns}/{}", base(info), info.plural),
        _ => format!("{}/{}", base(info), info.plural),
    }
}

/// One object's path.
pub fn object_path(info: &ResourceInfo, namespace: &str, name: &str) -> String {
    format!("{}/{name}", collection_path(info, Some(namespace)))
}

/// Objects named on a command line: `TYPE NAME...`, `TYPE/NAME...`, or `TYPE` alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Refs {
    pub info: &'static ResourceInfo,
    pub names: Vec<String>,
}

/// Parses `TYPE [NAME...]` or `TYPE/NAME [TYPE/NAME...]` (all of one type).
pub fn parse_refs(args: &[String]) -> Result<Refs, CliError> {
    let Some(first) = args.first() else {
        return Err(CliError::Usage(
            "you must specify the type of resource, e.g. `jobs`".into(),
        ));
    };
    if first.contains('/') {
        let mut info = None;
        let mut names = Vec::new();
        for a in args {
            let Some((t, n)) = a.split_once('/') else {
                return Err(CliError::Usage(format!(
                    "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (got {a:?})"
                )));
            };
            if n.is_empty() {
                return Err(CliError::Usage(format!("{a:?}: the name is missing")));
            }
            let i = resolve(t)?;
            if info.is_some_and(|prev: &ResourceInfo| prev != i) {
                return Err(CliError::Usage(
                    "arguments in resource/name form must all be of one type here".into(),
                ));
            }
            info = Some(i);
            names.push(n.to_string());
        }
        let info = info.ok_or_else(|| CliError::Usage("no resource given".into()))?;
        return Ok(Refs { info, names });
    }
    Ok(Refs {
        info: resolve(first)?,
        names: args[1..].to_vec(),
    })
}

/// Checks that `refs` is of one of `kinds` (`["Job", "CronJob"]`) for commands that only make
/// sense for some.
pub fn expect_kind(refs: &Refs, kinds: &[&str], verb: &str) -> Result<(), CliError> {
    if kinds.contains(&refs.info.kind) {
        return Ok(());
    }
    let allowed: Vec<String> = kinds.iter().map(|k| k.to_ascii_lowercase()).collect();
    Err(CliError::Usage(format!(
        "cannot {verb} {}: only {} can be",
        refs.info.plural,
        allowed.join(" or ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn kubectl_names_resolve() {
        for name in ["jobs", "job", "Job", "jobs.batch", "job.batch"] {
            assert_eq!(resolve(name).map(|r| r.kind).ok(), Some("Job"), "{name}");
        }
        assert_eq!(resolve("cj").map(|r| r.kind).ok(), Some("CronJob"));
        assert_eq!(resolve("po").map(|r| r.kind).ok(), Some("Pod"));
        assert_eq!(resolve("events").map(|r| r.group).ok(), Some(""));
        let err = resolve("widgets").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("error: the server doesn't have a resource type \"widgets\"")
        );
    }

    #[test]
    fn lists_and_categories_expand_like_kubectl() {
        let kinds = |s: &str| -> Vec<&str> {
            resolve_many(s)
                .expect("resolves")
                .into_iter()
                .map(|r| r.kind)
                .collect()
        };
        assert_eq!(kinds("jobs,po,jobs"), ["Job", "Pod"]);
        let all = kinds("all");
        assert!(all.contains(&"Job") && all.contains(&"CronJob") && all.contains(&"Pod"));
        assert!(!all.contains(&"ConfigMap"));
    }

    #[test]
    fn both_ref_forms_parse() {
        let r = parse_refs(&args(&["job", "a", "b"])).ok();
        assert_eq!(r.map(|r| r.names), Some(args(&["a", "b"])));
        let r = parse_refs(&args(&["cronjob/nightly"])).ok();
        assert_eq!(
            r.map(|r| (r.info.kind, r.names)),
            Some(("CronJob", args(&["nightly"])))
        );
        assert!(parse_refs(&args(&["job/a", "pod/b"])).is_err());
        assert!(parse_refs(&args(&["job/"])).is_err());
    }

    #[test]
    fn paths_follow_the_rest_tree() {
        let jobs = resolve("jobs").expect("jobs");
        assert_eq!(
            object_path(jobs, "default", "pi"),
            "/apis/batch/v1/namespaces/default/jobs/pi"
        );
        assert_eq!(collection_path(jobs, None), "/apis/batch/v1/jobs");
        let nodes = resolve("nodes").expect("nodes");
        assert_eq!(collection_path(nodes, Some("default")), "/api/v1/nodes");
        assert_eq!(ref_name(jobs, "pi"), "job.batch/pi");
        assert_eq!(ref_name(nodes, "n1"), "node/n1");
    }
}
