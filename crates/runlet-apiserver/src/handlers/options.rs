//! The checks upstream makes of a request's options (`CreateOptions`, `UpdateOptions`,
//! `PatchOptions`, `DeleteOptions` of meta.k8s.io, apimachinery's `meta/v1/validation`) before
//! it reads the body. They matter because an option the server misreads changes what a write
//! does: `dryRun=true` is not a dry run upstream but a 422, and must not become a real write.

use crate::error::{ApiError, ApiResult};
use runlet_api::field::{FieldError, Path};
use runlet_api::status::Status;

/// Upstream's `FieldManagerMaxLength`.
const FIELD_MANAGER_MAX_LENGTH: usize = 128;

/// `dryRun` may only say `All` (upstream's `ValidateDryRun`).
pub fn dry_run_errors(values: &[String]) -> Vec<FieldError> {
    if values.iter().all(|v| v == "All") {
        return Vec::new();
    }
    vec![FieldError::not_supported(
        &Path::new("dryRun"),
        values.to_vec(),
        &["All"],
    )]
}

/// A field manager is at most 128 bytes of printable characters (`ValidateFieldManager`).
pub fn field_manager_errors(manager: &str) -> Vec<FieldError> {
    let path = Path::new("fieldManager");
    let mut errors = Vec::new();
    if manager.len() > FIELD_MANAGER_MAX_LENGTH {
        errors.push(FieldError::too_long(&path, FIELD_MANAGER_MAX_LENGTH));
    }
    for (at, c) in manager.char_indices() {
        if !is_printable(c) {
            errors.push(FieldError::invalid(
                &path,
                manager,
                format!(
                    "invalid character U+{:04X} (at position {at})",
                    u32::from(c)
                ),
            ));
        }
    }
    errors
}

/// Go's `unicode.IsPrint` as near as the standard library tells: no control or format
/// character, and no space but the ASCII one.
fn is_printable(c: char) -> bool {
    c == ' ' || !(c.is_control() || c.is_whitespace() || matches!(c, '\u{200B}'..='\u{200F}'))
}

/// `fieldValidation` is empty, `Ignore`, `Strict` or `Warn` (`ValidateFieldValidation`).
pub fn field_validation_errors(mode: &str) -> Vec<FieldError> {
    if matches!(mode, "" | "Ignore" | "Strict" | "Warn") {
        return Vec::new();
    }
    vec![FieldError::not_supported(
        &Path::new("fieldValidation"),
        mode,
        &["", "Ignore", "Strict", "Warn"],
    )]
}

/// What only a patch checks (`ValidatePatchOptions`): an apply names its field manager, and
/// only an apply may be forced.
pub fn patch_errors(query: &super::Query, apply: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if apply {
        if query.get("fieldManager").is_none_or(str::is_empty) {
            errors.push(FieldError::required(
                &Path::new("fieldManager"),
                "is required for apply patch",
            ));
        }
    } else if query.get("force").is_some() {
        errors.push(FieldError::forbidden(
            &Path::new("force"),
            "may not be specified for non-apply patch",
        ));
    }
    errors
}

/// A delete's `propagationPolicy` and its older spelling (`ValidateDeleteOptions`).
pub fn propagation_errors(propagation: Option<&str>, orphan_dependents: bool) -> Vec<FieldError> {
    let path = Path::new("propagationPolicy");
    let mut errors = Vec::new();
    let Some(policy) = propagation else {
        return errors;
    };
    if orphan_dependents {
        errors.push(FieldError::invalid(
            &path,
            policy,
            "orphanDependents and deletionPropagation cannot be both set",
        ));
    }
    if !matches!(policy, "Foreground" | "Background" | "Orphan") {
        errors.push(FieldError::not_supported(
            &path,
            policy,
            &["Foreground", "Background", "Orphan", "nil"],
        ));
    }
    errors
}

/// How `resourceVersionMatch` and `sendInitialEvents` go together (upstream's
/// `ValidateListOptions`, with the WatchList feature on, as runlet serves it).
pub fn list_errors(query: &super::Query, watch: bool) -> Vec<FieldError> {
    let match_path = Path::new("resourceVersionMatch");
    let forbidden = |detail: &str| FieldError::forbidden(&match_path, detail);
    let matching = query.get("resourceVersionMatch").unwrap_or_default();
    let has_continue = query.get("continue").is_some_and(|c| !c.is_empty());
    let mut errors = Vec::new();
    if watch {
        if query.get("sendInitialEvents").is_some() && matching != "NotOlderThan" {
            errors.push(forbidden(
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if !matching.is_empty() {
            if query.get("sendInitialEvents").is_none() {
                errors.push(forbidden(
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                ));
            }
            if matching != "NotOlderThan" {
                errors.push(FieldError::not_supported(
                    &match_path,
                    matching,
                    &["NotOlderThan"],
                ));
            }
            if has_continue {
                errors.push(forbidden(
                    "resourceVersionMatch is forbidden when continue is provided",
                ));
            }
        }
        return errors;
    }
    if !matching.is_empty() {
        let rv = query.get("resourceVersion").unwrap_or_default();
        if rv.is_empty() {
            errors.push(forbidden(
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if has_continue {
            errors.push(forbidden(
                "resourceVersionMatch is forbidden when continue is provided",
            ));
        }
        if !matches!(matching, "Exact" | "NotOlderThan") {
            errors.push(FieldError::not_supported(
                &match_path,
                matching,
                &["Exact", "NotOlderThan", ""],
            ));
        }
        if matching == "Exact" && rv == "0" {
            errors.push(forbidden(
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            ));
        }
    }
    if query.get("sendInitialEvents").is_some() {
        errors.push(FieldError::forbidden(
            &Path::new("sendInitialEvents"),
            "sendInitialEvents is forbidden for list",
        ));
    }
    errors
}

/// The 422 upstream answers refused options with: `CreateOptions.meta.k8s.io "" is invalid:
/// ...`.
pub fn refuse(kind: &str, errors: &[FieldError]) -> ApiResult<()> {
    if errors.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(Status::invalid_kind(
        "meta.k8s.io",
        kind,
        "",
        errors,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: &str, errors: &[FieldError]) -> String {
        refuse(kind, errors).expect_err("refused").0.message.clone()
    }

    #[test]
    fn a_dry_run_is_all_or_refused() {
        assert!(dry_run_errors(&[]).is_empty());
        assert!(dry_run_errors(&["All".into()]).is_empty());
        assert_eq!(
            message("CreateOptions", &dry_run_errors(&["true".into()])),
            r#"CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["true"]: supported values: "All""#
        );
        assert_eq!(dry_run_errors(&["All".into(), "all".into()]).len(), 1);
    }

    #[test]
    fn a_field_manager_is_short_and_printable() {
        assert!(field_manager_errors("kubectl-client-side-apply").is_empty());
        assert_eq!(
            message("PatchOptions", &field_manager_errors(&"m".repeat(129))),
            r#"PatchOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than 128 bytes"#
        );
        assert!(
            field_manager_errors("a\u{7}b")[0]
                .body()
                .ends_with(": invalid character U+0007 (at position 1)")
        );
    }

    #[test]
    fn field_validation_names_its_four_values() {
        assert!(field_validation_errors("Strict").is_empty());
        assert_eq!(
            field_validation_errors("strict")[0].to_string(),
            r#"fieldValidation: Unsupported value: "strict": supported values: "", "Ignore", "Strict", "Warn""#
        );
    }

    fn list(raw: &str, watch: bool) -> Vec<String> {
        list_errors(&super::super::Query::parse(Some(raw)), watch)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn list_options_are_checked_as_upstream() {
        assert!(list("resourceVersion=5&resourceVersionMatch=Exact", false).is_empty());
        assert!(list("resourceVersion=0&resourceVersionMatch=NotOlderThan", false).is_empty());
        assert_eq!(
            list("resourceVersionMatch=NotOlderThan", false),
            [
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
            ]
        );
        assert_eq!(
            list("resourceVersion=0&resourceVersionMatch=Exact", false),
            [
                r#"resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0""#
            ]
        );
        assert_eq!(
            list("resourceVersion=0&resourceVersionMatch=Bogus", false),
            [
                r#"resourceVersionMatch: Unsupported value: "Bogus": supported values: "Exact", "NotOlderThan", """#
            ]
        );
        assert_eq!(
            list("sendInitialEvents=true", false),
            ["sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list"]
        );
    }

    #[test]
    fn watch_options_are_checked_as_upstream() {
        assert!(
            list(
                "sendInitialEvents=true&resourceVersionMatch=NotOlderThan",
                true
            )
            .is_empty()
        );
        assert!(list("resourceVersion=12", true).is_empty());
        assert_eq!(
            list("sendInitialEvents=true", true),
            [
                "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
            ]
        );
        assert_eq!(
            list("resourceVersionMatch=NotOlderThan", true),
            [
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"
            ]
        );
    }

    #[test]
    fn propagation_is_one_of_three_and_not_said_twice() {
        assert!(propagation_errors(None, true).is_empty());
        assert!(propagation_errors(Some("Orphan"), false).is_empty());
        assert_eq!(
            message("DeleteOptions", &propagation_errors(Some("Bogus"), false)),
            r#"DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Bogus": supported values: "Foreground", "Background", "Orphan", "nil""#
        );
        assert_eq!(propagation_errors(Some("Orphan"), true).len(), 1);
    }
}
