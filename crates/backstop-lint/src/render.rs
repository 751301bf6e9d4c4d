//! Output formats: text with code frames, JSON, SARIF 2.1.0 and GitHub workflow commands.

use crate::types::{Finding, LintReport, Severity};
use serde_json::{json, Value};

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Findings as code frames, then a summary line:
///
/// ```text
/// error[create-index-non-concurrently]: CREATE INDEX takes a SHARE lock on users …
///  --> migrations/20260101000000_add_index/up.sql:3:1
///   |
/// 3 | CREATE INDEX users_email_idx ON users (email);
///   | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
///   = help: Use CREATE INDEX CONCURRENTLY in a migration with `transaction = false`.
/// ```
pub fn render_text(report: &LintReport) -> String {
    let mut out = String::new();
    for f in &report.findings {
        frame(&mut out, f);
        out.push('\n');
    }
    let summary = if report.findings.is_empty() {
        format!(
            "no findings in {} ({})",
            plural(report.files, "file", "files"),
            plural(report.statements, "statement", "statements")
        )
    } else {
        let mut s = format!(
            "{}, {}, {}",
            plural(report.errors, "error", "errors"),
            plural(report.warnings, "warning", "warnings"),
            plural(report.infos, "info", "infos")
        );
        if report.suppressed > 0 {
            s.push_str(&format!(" ({} suppressed)", report.suppressed));
        }
        s.push_str(&format!(
            " in {} ({})",
            plural(report.files, "file", "files"),
            plural(report.statements, "statement", "statements")
        ));
        s
    };
    for n in &report.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out.push_str(&summary);
    out.push('\n');
    out
}

fn frame(out: &mut String, f: &Finding) {
    let gutter = f.line.to_string().len();
    let pad = " ".repeat(gutter);
    out.push_str(&format!("{}[{}]: {}\n", f.severity, f.rule, f.message));
    out.push_str(&format!(
        "{pad}--> {}:{}:{}\n",
        f.file.display(),
        f.line,
        f.column
    ));
    if let Some(src) = f.source_lines.first() {
        let shown: String = src
            .chars()
            .map(|c| if c == '\t' { ' ' } else { c })
            .collect();
        let len = shown.chars().count();
        let start = f.column.saturating_sub(1).min(len);
        let end = if f.end_line == f.line {
            f.end_column.saturating_sub(1).min(len)
        } else {
            len
        };
        // The line is shown masked (a password in it is printed as `***`), and the caret
        // points at the same characters of the masked line as of the line as written.
        let (shown, span) = backstop_core::redact::redact_span(&shown, start..end);
        let (start, end) = (span.start, span.end);
        let width = end.saturating_sub(start).max(1);
        out.push_str(&format!("{pad} |\n"));
        out.push_str(&format!("{} | {}\n", f.line, shown.trim_end()));
        out.push_str(&format!(
            "{pad} | {}{}\n",
            " ".repeat(start),
            "^".repeat(width)
        ));
    }
    if !f.help.is_empty() {
        out.push_str(&format!("{pad} = help: {}\n", f.help));
    }
    if let Some(r) = &f.suppressed {
        out.push_str(&format!("{pad} = suppressed: {r}\n"));
    }
}

/// The report as one JSON document (the shape of [`LintReport`]).
pub fn render_json(report: &LintReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// Percent-encode a path into a relative URI reference (`uri-reference` in the SARIF schema).
fn uri_of(path: &std::path::Path) -> String {
    let s = path.to_string_lossy().replace('\\', "/");
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.trim_start_matches("./").to_string()
}

/// SARIF 2.1.0 for GitHub code scanning. `helpUri` must be an absolute URI there, so it is
/// only written when a docs base URL is known: the `BACKSTOP_DOCS_URL` environment variable
/// (e.g. `https://github.com/OWNER/REPO/blob/main/`) or [`render_sarif_with_docs`].
pub fn render_sarif(report: &LintReport) -> String {
    let base = std::env::var("BACKSTOP_DOCS_URL").ok();
    render_sarif_with_docs(report, base.as_deref())
}

/// SARIF with `helpUri` = `<docs_base>docs/rules/<id>.md` when `docs_base` is an absolute URL.
pub fn render_sarif_with_docs(report: &LintReport, docs_base: Option<&str>) -> String {
    let base = docs_base
        .filter(|b| b.starts_with("https://") || b.starts_with("http://"))
        .map(|b| {
            if b.ends_with('/') {
                b.to_string()
            } else {
                format!("{b}/")
            }
        });
    let rules: Vec<Value> = crate::rules()
        .iter()
        .map(|r| {
            let mut v = json!({
                "id": r.id,
                "name": r.id.split('-').map(|w| {
                    let mut c = w.chars();
                    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
                }).collect::<String>(),
                "shortDescription": { "text": r.summary },
                "fullDescription": { "text": r.summary },
                "help": {
                    "text": format!("{} See {}.", r.summary, r.docs_path()),
                    "markdown": format!("{} See [{}]({}).", r.summary, r.docs_path(), r.docs_path()),
                },
                "defaultConfiguration": { "level": sarif_level(r.severity) },
                "properties": { "tags": [r.category] },
            });
            if let Some(b) = &base {
                v["helpUri"] = json!(format!("{b}{}", r.docs_path()));
            }
            v
        })
        .collect();
    let index = |id: &str| crate::rules().iter().position(|r| r.id == id);
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut v = json!({
                "ruleId": f.rule,
                "level": sarif_level(f.severity),
                "message": { "text": format!("{}\nhelp: {}", f.message, f.help) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri_of(&f.file) },
                        "region": {
                            "startLine": f.line,
                            "startColumn": f.column,
                            "endLine": f.end_line.max(f.line),
                            "endColumn": if f.end_line > f.line { f.end_column } else { f.end_column.max(f.column + 1) },
                        }
                    }
                }],
            });
            if let Some(i) = index(f.rule) {
                v["ruleIndex"] = json!(i);
            }
            if let Some(r) = &f.suppressed {
                v["suppressions"] = json!([{ "kind": "inSource", "justification": r }]);
            }
            v
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "backstop",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions workflow commands, one line per active finding:
/// `::error file=…,line=…,col=…,endLine=…,endColumn=…,title=<rule>::<message>`.
/// Suppressed findings are left out; info findings become `::notice`.
pub fn render_github(report: &LintReport) -> String {
    let mut out = String::new();
    for f in report.findings.iter().filter(|f| f.suppressed.is_none()) {
        let cmd = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        out.push_str(&format!(
            "::{cmd} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
            escape_property(&f.file.to_string_lossy()),
            f.line,
            f.column,
            f.end_line,
            f.end_column,
            escape_property(f.rule),
            escape_data(&format!("{}\nhelp: {}", f.message, f.help)),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_escapes_properties_and_data() {
        assert_eq!(escape_property("a,b:c%\n"), "a%2Cb%3Ac%25%0A");
        assert_eq!(escape_data("a,b:c%\r\n"), "a,b:c%25%0D%0A");
    }

    #[test]
    fn uri_is_a_relative_reference() {
        assert_eq!(
            uri_of(std::path::Path::new("./mig rations/1_a/up.sql")),
            "mig%20rations/1_a/up.sql"
        );
    }
}
