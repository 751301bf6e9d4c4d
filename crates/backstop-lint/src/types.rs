//! The public data types: findings, reports, options and errors.

use backstop_core::driver::Engine;
use backstop_core::migration::Part;
use serde::Serialize;
use std::path::PathBuf;

/// How serious a finding is. `Error` findings make `backstop lint` exit 1 and `apply`
/// refuse; `Warning` does too under `--deny warnings`; `Info` never fails anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    /// `error`, `warning`, `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in one statement (or one migration), with its position.
///
/// Lines and columns are 1-based; columns count characters, not bytes. `end_line` and
/// `end_column` point one character past the end of the span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    pub help: String,
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub version: Option<i64>,
    pub part: Part,
    /// The statement's first line, shortened.
    pub statement: String,
    /// The reason given by `-- backstop:allow <rule> <reason>` or `--allow RULE --reason TEXT`
    /// when this finding is suppressed. Suppressed findings are not counted as errors or
    /// warnings.
    pub suppressed: Option<String>,
    /// The source lines the span covers (at most a few), for code frames.
    #[serde(skip)]
    pub(crate) source_lines: Vec<String>,
}

impl Finding {
    /// True when this finding counts towards a failing exit code.
    pub fn is_active(&self) -> bool {
        self.suppressed.is_none()
    }
}

/// Options of a lint run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintOptions {
    /// Which grammar and rule set to use.
    pub engine: Engine,
    /// Count warnings as errors (`--deny warnings`): their severity becomes `error`.
    pub deny_warnings: bool,
    /// Rules suppressed everywhere, with the reason (`apply --allow RULE --reason TEXT`).
    pub allow: Vec<(String, String)>,
}

impl Default for LintOptions {
    fn default() -> Self {
        LintOptions {
            engine: Engine::Postgres,
            deny_warnings: false,
            allow: Vec::new(),
        }
    }
}

/// The result of a lint run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LintReport {
    /// Sorted by file, line, column, rule.
    pub findings: Vec<Finding>,
    /// Files read: a single-file migration is one, a folder's up.sql, down.sql and
    /// verify.sql count separately.
    pub files: usize,
    /// Statements analysed.
    pub statements: usize,
    /// Active (not suppressed) error findings.
    pub errors: usize,
    /// Active warning findings.
    pub warnings: usize,
    /// Active info findings.
    pub infos: usize,
    /// Suppressed findings of any severity.
    pub suppressed: usize,
    /// What the run could not take into account, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl LintReport {
    /// True when an active error finding exists (exit 1 for `lint`, refusal for `apply`).
    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }

    pub(crate) fn finish(&mut self) {
        self.findings.sort_by(|a, b| {
            (&a.file, a.line, a.column, a.rule, &a.message)
                .cmp(&(&b.file, b.line, b.column, b.rule, &b.message))
        });
        self.findings.dedup_by(|a, b| {
            a.file == b.file
                && a.line == b.line
                && a.column == b.column
                && a.rule == b.rule
                && a.message == b.message
        });
        self.errors = 0;
        self.warnings = 0;
        self.infos = 0;
        self.suppressed = 0;
        for f in &self.findings {
            if f.suppressed.is_some() {
                self.suppressed += 1;
                continue;
            }
            match f.severity {
                Severity::Error => self.errors += 1,
                Severity::Warning => self.warnings += 1,
                Severity::Info => self.infos += 1,
            }
        }
    }
}

/// A rule as listed by [`crate::rules()`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    /// Stable kebab-case id, used in suppressions and output.
    pub id: &'static str,
    /// Default severity (a few rules lower or raise it for a particular finding).
    pub severity: Severity,
    /// One line.
    pub summary: &'static str,
    /// Engines the rule runs for.
    pub engines: &'static [Engine],
    /// Concern: `locking`, `destructive`, `compatibility`, `determinism`, `transactions`,
    /// `reversibility`, `hygiene`, `meta`.
    pub category: &'static str,
}

impl RuleInfo {
    /// Where the rule's documentation lives, relative to the repository root.
    pub fn docs_path(&self) -> String {
        format!("docs/rules/{}.md", self.id)
    }
}

/// Why `lint_files` could not read its input (the CLI maps this to exit 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LintError {
    #[error("{path}: no such file or directory")]
    NotFound { path: PathBuf },
    #[error(transparent)]
    Load(#[from] backstop_core::migration::LoadError),
    #[error("{path}: not a migration folder, migrations directory or .sql file")]
    Unsupported { path: PathBuf },
}
