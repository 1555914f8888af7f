//! The name checks a label selector applies to its keys and values, with upstream's messages.
//!
//! Keys are checked with `IsQualifiedName` and values with `IsValidLabelValue` from
//! `k8s.io/apimachinery/pkg/util/validation` — the same checks object validation uses, so they
//! are shared from [`crate::validation::format`]. Go's `%q` quoting of bad input lives here.

pub(crate) use crate::validation::format::{is_qualified_name, is_valid_label_value};

/// Go's `%q` for a string (`strconv.Quote`): printable characters as they are, the usual
/// backslash escapes, `\xNN` below space, `\uNNNN` or `\UNNNNNNNN` for other unprintable ones
/// (`\u00a0`, `\u00ad`). Whether a character is printable is Rust's judgement, which follows
/// the same Unicode categories as Go's `IsPrint`, with space the only printable white space.
pub fn go_quote(s: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if c < ' ' || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            // Rust's debug escape also escapes `'`, which Go's leaves as it is.
            c if c == ' ' || c == '\'' || (!c.is_whitespace() && c.escape_debug().count() == 1) => {
                out.push(c)
            }
            c if u32::from(c) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\U{:08x}", u32::from(c));
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_name_accepts_prefixed_keys() {
        assert!(is_qualified_name("app").is_empty());
        assert!(is_qualified_name("batch.kubernetes.io/job-name").is_empty());
        assert!(is_qualified_name("A.b_c-9").is_empty());
    }

    #[test]
    fn qualified_name_reports_name_part_like_upstream() {
        assert_eq!(
            is_qualified_name("-a"),
            vec!["name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".to_string()]
        );
        assert_eq!(
            is_qualified_name("x/").first().map(String::as_str),
            Some("name part must be non-empty")
        );
        assert_eq!(
            is_qualified_name("/x"),
            vec!["prefix part must be non-empty".to_string()]
        );
        assert_eq!(
            is_qualified_name(&"a".repeat(64)),
            vec!["name part must be no more than 63 characters".to_string()]
        );
    }

    #[test]
    fn qualified_name_rejects_two_slashes_in_one_message() {
        let errs = is_qualified_name("a/b/c");
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("a qualified name must consist of"));
        assert!(errs[0].ends_with(
            "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ));
    }

    #[test]
    fn prefix_must_be_lowercase_subdomain() {
        let errs = is_qualified_name("Example.com/x");
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("prefix part a lowercase RFC 1123 subdomain"));
    }

    #[test]
    fn label_values_may_be_empty_but_not_spaced() {
        assert!(is_valid_label_value("").is_empty());
        assert!(is_valid_label_value("my_value.1").is_empty());
        assert_eq!(
            is_valid_label_value("a b"),
            vec!["a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".to_string()]
        );
        assert_eq!(
            is_valid_label_value(&"a".repeat(64)),
            vec!["must be no more than 63 characters".to_string()]
        );
    }

    #[test]
    fn go_quote_escapes_like_go() {
        assert_eq!(go_quote("a\"b"), "\"a\\\"b\"");
        assert_eq!(go_quote("\u{1}\n"), "\"\\x01\\n\"");
        assert_eq!(go_quote("é"), "\"é\"");
        assert_eq!(go_quote("it's"), "\"it's\"");
        assert_eq!(go_quote("plain é"), "\"plain é\"");
        assert_eq!(go_quote("a\"b\\c\nd\te"), r#""a\"b\\c\nd\te""#);
        assert_eq!(go_quote("\u{1}\u{7f}"), r#""\x01\x7f""#);
        assert_eq!(go_quote("\u{a0}\u{2028}\u{ad}"), r#""\u00a0\u2028\u00ad""#);
        assert_eq!(go_quote("\u{e0001}"), r#""\U000e0001""#);
    }
}
