//! `-o table|wide|json|yaml|name`: how commands print objects.
//!
//! Tables are the server's `meta.k8s.io/v1` Tables printed the way kubectl's
//! `printers.printTable` prints them (upper-case headers, `priority > 0` columns only with
//! `wide`, a `NAMESPACE` column with `-A`, cells cut at the first newline), so the columns are
//! the server's and the spacing is kubectl's. JSON is indented by four spaces and YAML has its
//! keys sorted, as kubectl prints them. Colour is used only on a terminal and never when
//! `NO_COLOR` is set.

use super::CliError;
use super::tabwriter::TabWriter;
use runlet_api::resources::ResourceInfo;
use serde_json::{Map, Value, json};
use std::io::IsTerminal;

/// An output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The server's table columns.
    #[default]
    Table,
    /// The table with its additional columns.
    Wide,
    /// The objects as JSON.
    Json,
    /// The objects as YAML.
    Yaml,
    /// `TYPE/NAME` per object.
    Name,
}

/// How to print a Table.
#[derive(Clone, Debug, Default)]
pub struct TableOptions {
    /// Show `priority > 0` columns.
    pub wide: bool,
    /// Prepend the `NAMESPACE` column (`-A`).
    pub with_namespace: bool,
    /// Leave out the header line.
    pub no_headers: bool,
    /// Prefix names with their type (`job.batch/pi`), as when several types are listed.
    pub with_kind: Option<String>,
}

/// The text of one cell, as Go's `fmt.Fprint` prints it; strings stop at the first newline.
pub fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => match s.split_once('\n') {
            Some((first, _)) => format!("{first}..."),
            None => s.clone(),
        },
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// Writes `table`'s header (when `header` and not `no_headers`) and rows into `tw`. Returns the
/// number of rows.
pub fn write_table(tw: &mut TabWriter, table: &Value, opts: &TableOptions, header: bool) -> usize {
    let columns = table["columnDefinitions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let rows = table["rows"].as_array().cloned().unwrap_or_default();
    let name_column = columns
        .iter()
        .position(|c| c["format"] == "name" && c["type"] == "string");
    let shown: Vec<bool> = columns
        .iter()
        .map(|c| opts.wide || c["priority"].as_i64().unwrap_or(0) == 0)
        .collect();
    if header && !opts.no_headers && !rows.is_empty() {
        let mut names: Vec<String> = Vec::new();
        if opts.with_namespace {
            names.push("NAMESPACE".into());
        }
        for (c, show) in columns.iter().zip(&shown) {
            if *show {
                names.push(c["name"].as_str().unwrap_or("").to_uppercase());
            }
        }
        tw.write(&names.join("\t"));
        tw.write("\n");
    }
    for row in &rows {
        let mut cells: Vec<String> = Vec::new();
        if opts.with_namespace {
            cells.push(
                row["object"]["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            );
        }
        let values = row["cells"].as_array().map_or(&[][..], Vec::as_slice);
        for (i, (value, show)) in values.iter().zip(&shown).enumerate() {
            if !*show {
                continue;
            }
            match &opts.with_kind {
                Some(kind) if Some(i) == name_column => {
                    cells.push(format!("{kind}/{}", cell_text(value)))
                }
                _ => cells.push(cell_text(value)),
            }
        }
        tw.write(&cells.join("\t"));
        tw.write("\n");
    }
    rows.len()
}

/// Renders a whole table at once.
#[cfg(test)]
pub fn render_table(table: &Value, opts: &TableOptions) -> String {
    let mut tw = TabWriter::for_tables();
    write_table(&mut tw, table, opts, true);
    tw.flush()
}

/// JSON as kubectl prints it: four-space indentation and a final newline.
pub fn to_json(v: &Value) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    if serde::Serialize::serialize(v, &mut ser).is_err() {
        return format!("{v}\n");
    }
    let mut text = String::from_utf8_lossy(&out).into_owned();
    text.push('\n');
    text
}

/// YAML with keys sorted, as kubectl prints it.
pub fn to_yaml(v: &Value) -> Result<String, CliError> {
    serde_saphyr::to_string(&sorted(v)).map_err(|e| CliError::Other(format!("encoding YAML: {e}")))
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), sorted(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Several objects as the `List` kubectl prints for `-o json|yaml`.
pub fn as_list(items: Vec<Value>) -> Value {
    json!({
        "apiVersion": "v1",
        "items": items,
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    })
}

/// Sets `kind`/`apiVersion` on a list item (lists leave them out) so it prints as an object.
pub fn with_type(info: &ResourceInfo, mut item: Value) -> Value {
    if let Some(m) = item.as_object_mut() {
        let mut out = Map::new();
        out.insert("apiVersion".into(), json!(info.api_version()));
        out.insert("kind".into(), json!(info.kind));
        for (k, v) in std::mem::take(m) {
            if k != "apiVersion" && k != "kind" {
                out.insert(k, v);
            }
        }
        *m = out;
    }
    item
}

/// Prints one object (or a list) in a machine format; `Table`/`Wide` print `fallback`
/// (the `job.batch/x created` line).
pub fn print_object(
    info: &ResourceInfo,
    obj: &Value,
    format: Format,
    fallback: &str,
) -> Result<(), CliError> {
    match format {
        Format::Json | Format::Yaml => print_value(obj, format)?,
        Format::Name => println!(
            "{}",
            super::resource::ref_name(info, obj["metadata"]["name"].as_str().unwrap_or(""))
        ),
        Format::Table | Format::Wide => println!("{fallback}"),
    }
    Ok(())
}

/// Prints a whole object (or list) as JSON, or as YAML for `Format::Yaml`.
pub fn print_value(value: &Value, format: Format) -> Result<(), CliError> {
    match format {
        Format::Yaml => print!("{}", to_yaml(value)?),
        _ => print!("{}", to_json(value)),
    }
    Ok(())
}

/// Whether to colour stdout: a terminal, and `NO_COLOR` unset or empty.
pub fn color_stdout() -> bool {
    color_allowed(std::env::var_os("NO_COLOR").as_deref()) && std::io::stdout().is_terminal()
}

fn color_allowed(no_color: Option<&std::ffi::OsStr>) -> bool {
    no_color.is_none_or(|v| v.is_empty())
}

/// `text` in one of six distinct ANSI colours picked by `index`, or plain.
pub fn paint(text: &str, index: usize, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    const CODES: [u8; 6] = [36, 33, 32, 35, 34, 31];
    format!("\x1b[{}m{text}\x1b[0m", CODES[index % CODES.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_set_to_anything_turns_colour_off() {
        assert!(!color_allowed(Some(std::ffi::OsStr::new("1"))));
        assert!(color_allowed(Some(std::ffi::OsStr::new(""))));
        assert!(color_allowed(None));
        assert_eq!(paint("x", 0, false), "x");
        assert_eq!(paint("x", 0, true), "\x1b[36mx\x1b[0m");
    }

    #[test]
    fn cells_stop_at_the_first_newline_like_kubectl() {
        assert_eq!(cell_text(&json!("a\nb")), "a...");
        assert_eq!(cell_text(&json!(3)), "3");
        assert_eq!(cell_text(&Value::Null), "");
    }

    #[test]
    fn json_is_indented_by_four_spaces() {
        assert_eq!(
            to_json(&json!({"a": [1]})),
            "{\n    \"a\": [\n        1\n    ]\n}\n"
        );
    }

    #[test]
    fn list_items_get_their_kind_first() {
        let info = super::super::resource::resolve("jobs").expect("jobs");
        let item = with_type(info, json!({"metadata": {"name": "x"}}));
        let keys: Vec<&String> = item.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["apiVersion", "kind", "metadata"]);
    }
}
