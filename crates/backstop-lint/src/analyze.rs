//! The driver: parse each script, replay it against the schema model, run the rules, apply
//! suppressions and turn hits into positioned findings.

use crate::catalog::Catalog;
use crate::impact::{self, Impact};
use crate::ir::{Stmt, StmtKind};
use crate::lex;
use crate::pg::SyntaxError;
use crate::rules::{self, Check, Hit, MigCx, Out, ScriptCx, StmtCx};
use crate::types::{Finding, LintOptions, LintReport, RuleInfo, Severity};
use backstop_core::driver::Engine;
use backstop_core::migration::{DataLoss, Layout, Migration, Part};
use std::path::PathBuf;

/// What the rules know about the migration a script belongs to.
#[derive(Debug, Clone)]
pub(crate) struct MigInfo {
    /// False for a bare .sql file that is not a migration.
    pub is_migration: bool,
    pub version: Option<i64>,
    pub transaction: bool,
    pub data_loss: Option<DataLoss>,
    /// `lock_timeout` set in migration.toml, in milliseconds (0 means no limit).
    pub lock_timeout_ms: Option<u64>,
    pub irreversible: Option<String>,
    /// migration.toml (or the single file holding the options), and its text.
    pub toml_file: Option<PathBuf>,
    pub toml_text: Option<String>,
}

impl MigInfo {
    pub fn plain() -> Self {
        MigInfo {
            is_migration: false,
            version: None,
            transaction: true,
            data_loss: None,
            lock_timeout_ms: None,
            irreversible: None,
            toml_file: None,
            toml_text: None,
        }
    }

    fn of(m: &Migration) -> Self {
        let toml_file = match m.layout {
            Layout::Folder => m.path.join("migration.toml"),
            Layout::SingleFile => m.path.clone(),
        };
        MigInfo {
            is_migration: true,
            version: Some(m.version),
            transaction: m.options.transaction,
            data_loss: m.config.contract.as_ref().and_then(|c| c.data_loss),
            lock_timeout_ms: m.options.lock_timeout_ms,
            irreversible: if m.config.irreversible == Some(true) {
                Some(m.config.reason.clone().unwrap_or_default())
            } else {
                None
            },
            toml_file: Some(toml_file),
            toml_text: m.toml_text.clone(),
        }
    }
}

/// One script after analysis.
pub(crate) struct Analysed {
    pub part: Part,
    /// The engine whose grammar and naming rules the script was read with.
    pub engine: Engine,
    pub src: String,
    pub file: PathBuf,
    pub line_offset: usize,
    pub stmts: Vec<Stmt>,
    pub errors: Vec<SyntaxError>,
    /// Per statement, against the schema just before it.
    pub impacts: Vec<Impact>,
    /// Per statement: its main table existed before this migration.
    pub on_existing: Vec<bool>,
    /// Keys of objects created in this migration up to the end of this script.
    pub fresh: std::collections::HashSet<String>,
    lines: Vec<usize>,
}

impl Analysed {
    /// 1-based line and character column of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.src.len());
        let idx = match self.lines.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.lines.get(idx).copied().unwrap_or(0);
        let col = self
            .src
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(0)
            + 1;
        (idx + 1 + self.line_offset, col)
    }

    fn line_text(&self, offset: usize) -> String {
        let mut offset = offset.min(self.src.len());
        while !self.src.is_char_boundary(offset) {
            offset -= 1;
        }
        let start = self.src[..offset].rfind('\n').map(|p| p + 1).unwrap_or(0);
        let end = self.src[offset..]
            .find('\n')
            .map(|p| p + offset)
            .unwrap_or(self.src.len());
        self.src[start..end].trim_end_matches('\r').to_string()
    }

    pub fn text(&self, i: usize) -> &str {
        self.stmts
            .get(i)
            .and_then(|s| self.src.get(s.span.clone()))
            .unwrap_or("")
    }
}

/// A unit of input: a migration, or a bare script.
pub(crate) enum Unit<'a> {
    Migration(&'a Migration),
    Script {
        file: PathBuf,
        text: String,
    },
    /// An earlier migration whose up.sql only builds the schema model for the next ones.
    Replay(&'a Migration),
}

type RuleHit = (&'static RuleInfo, Hit);

pub(crate) fn lint_units(units: &[Unit], opts: &LintOptions) -> LintReport {
    lint_units_only(units, opts, None)
}

/// Like [`lint_units`], but only migrations whose version `only` contains are checked; the
/// others just replay their up.sql into the schema model (what the later ones need).
pub(crate) fn lint_units_only(
    units: &[Unit],
    opts: &LintOptions,
    only: Option<&std::collections::BTreeSet<i64>>,
) -> LintReport {
    let mut report = LintReport::default();
    let mut cat = Catalog::default();
    for u in units {
        match u {
            Unit::Replay(m) => replay(m, &mut cat, opts),
            Unit::Migration(m) if only.is_some_and(|o| !o.contains(&m.version)) => {
                replay(m, &mut cat, opts)
            }
            Unit::Migration(m) => lint_migration(m, &mut cat, opts, &mut report),
            Unit::Script { file, text } => {
                let info = MigInfo::plain();
                cat.begin_migration();
                let mut hits = Vec::new();
                let a = analyse_script(
                    text,
                    Part::Up,
                    file.clone(),
                    0,
                    &mut cat,
                    opts.engine,
                    &info,
                    &mut hits,
                    None,
                );
                report.files += 1;
                report.statements += a.stmts.len();
                emit(&[&a], &info, hits, opts, &mut report);
            }
        }
    }
    report.finish();
    report
}

/// Apply a migration's up.sql to the schema model without checking it.
fn replay(m: &Migration, cat: &mut Catalog, opts: &LintOptions) {
    cat.begin_migration();
    let parsed = crate::parse_script(&m.up, opts.engine);
    let mut stmts: Vec<&crate::ir::Stmt> = parsed.stmts.iter().collect();
    stmts.sort_by_key(|s| s.span.start);
    for s in stmts {
        cat.apply(s);
    }
}

fn lint_migration(m: &Migration, cat: &mut Catalog, opts: &LintOptions, report: &mut LintReport) {
    let info = MigInfo::of(m);
    let engine = opts.engine;
    cat.begin_migration();
    let mut hits = Vec::new();
    let up = analyse_script(
        &m.up,
        Part::Up,
        m.script_path(Part::Up),
        m.script_line_offset(Part::Up),
        cat,
        engine,
        &info,
        &mut hits,
        None,
    );
    let after_up = cat.clone();
    // Objects created by this migration's up.sql stay "new" for its down.sql: rolling back
    // a table or index the migration created is not a change to a table the app relied on.
    // verify.sql runs in up.sql's transaction (when there is one).
    let side = |text: &str, part: Part, hits: &mut Vec<RuleHit>| {
        let same_tx = (part == Part::Verify && info.transaction).then_some(&up);
        let mut c = after_up.clone();
        c.new_enum_values.clear();
        analyse_script(
            text,
            part,
            m.script_path(part),
            m.script_line_offset(part),
            &mut c,
            engine,
            &info,
            hits,
            same_tx,
        )
    };
    let down = m.down.as_deref().map(|d| side(d, Part::Down, &mut hits));
    let verify = m
        .verify
        .as_deref()
        .map(|v| side(v, Part::Verify, &mut hits));
    let mcx = MigCx {
        up: &up,
        down: down.as_ref(),
        verify: verify.as_ref(),
        mig: &info,
    };
    for r in rules::RULES
        .iter()
        .filter(|r| r.info.engines.contains(&engine))
    {
        if let Check::Migration(f) = r.check {
            let mut out = Out::default();
            f(&mcx, &mut out);
            hits.extend(out.hits.into_iter().map(|h| (&r.info, h)));
        }
    }
    let mut scripts: Vec<&Analysed> = vec![&up];
    scripts.extend(down.as_ref());
    scripts.extend(verify.as_ref());
    // Files as the user sees them: a single-file migration is one file, whatever its
    // sections.
    report.files += match m.layout {
        backstop_core::migration::Layout::SingleFile => 1,
        _ => scripts.len(),
    };
    report.statements += scripts.iter().map(|a| a.stmts.len()).sum::<usize>();
    emit(&scripts, &info, hits, opts, report);
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn analyse_script(
    src: &str,
    part: Part,
    file: PathBuf,
    line_offset: usize,
    cat: &mut Catalog,
    engine: Engine,
    info: &MigInfo,
    hits: &mut Vec<RuleHit>,
    same_tx: Option<&Analysed>,
) -> Analysed {
    let parsed = match engine {
        Engine::Postgres => crate::pg::parse(src),
        _ => crate::lite::parse(src, engine),
    };
    let mut lines = vec![0];
    lines.extend(src.match_indices('\n').map(|(i, _)| i + 1));
    let mut a = Analysed {
        part,
        engine,
        src: src.to_string(),
        file,
        line_offset,
        stmts: parsed.stmts,
        errors: parsed.errors,
        impacts: Vec::new(),
        on_existing: Vec::new(),
        fresh: Default::default(),
        lines,
    };
    let stmt_rules: Vec<_> = rules::RULES
        .iter()
        .filter(|r| r.info.engines.contains(&engine))
        .filter_map(|r| match r.check {
            Check::Stmt(parts, f) if parts.includes(part) => Some((&r.info, f)),
            _ => None,
        })
        .collect();
    for i in 0..a.stmts.len() {
        let s = &a.stmts[i];
        let im = impact::analyse(s, cat, engine);
        let cx = StmtCx {
            engine,
            index: i,
            stmt: s,
            stmts: &a.stmts,
            catalog: cat,
            impact: &im,
            mig: info,
            src,
        };
        for (ri, f) in &stmt_rules {
            let mut out = Out {
                hits: Vec::new(),
                part: Some(part),
            };
            f(&cx, &mut out);
            hits.extend(out.hits.into_iter().map(|h| (*ri, h)));
        }
        a.on_existing
            .push(main_table(s).is_some_and(|t| cat.is_existing(&t)));
        cat.apply(s);
        a.impacts.push(im);
    }
    a.fresh = cat.fresh.clone();
    let scx = ScriptCx {
        a: &a,
        mig: info,
        same_tx,
    };
    for r in rules::RULES
        .iter()
        .filter(|r| r.info.engines.contains(&engine))
    {
        if let Check::Script(parts, f) = r.check {
            if parts.includes(part) {
                let mut out = Out {
                    hits: Vec::new(),
                    part: Some(part),
                };
                f(&scx, &mut out);
                hits.extend(out.hits.into_iter().map(|h| (&r.info, h)));
            }
        }
    }
    // Syntax errors.
    if let Some(rule) = rules::find("syntax-error") {
        for e in &a.errors {
            let sev = if e.not_analysed {
                Severity::Warning
            } else {
                Severity::Error
            };
            let help = if e.not_analysed {
                "Split the statement into simpler ones, or review it by hand."
            } else {
                "Fix the SQL so the database can parse it."
            };
            hits.push((
                &rule.info,
                Hit {
                    part,
                    stmt: None,
                    span: Some(e.at.clone()),
                    message: e.message.clone(),
                    help: help.into(),
                    severity: Some(sev),
                    toml_key: None,
                },
            ));
        }
    }
    a
}

/// The table a DML or DDL statement works on.
pub(crate) fn main_table(s: &Stmt) -> Option<crate::ir::Name> {
    match &s.kind {
        StmtKind::AlterTable { table, .. }
        | StmtKind::CreateIndex { table, .. }
        | StmtKind::Delete { table, .. }
        | StmtKind::Update { table, .. }
        | StmtKind::Insert { table, .. } => Some(table.clone()),
        StmtKind::Truncate { tables, .. } => tables.first().cloned(),
        _ => None,
    }
}

/// A `-- backstop:allow <rule> <reason>` comment.
struct Directive {
    rule: String,
    reason: String,
    span: std::ops::Range<usize>,
    stmt: Option<usize>,
    used: bool,
}

fn directives(a: &Analysed, engine: Engine) -> Vec<Directive> {
    let mut out = Vec::new();
    for t in lex::tokenize(&a.src, engine)
        .iter()
        .filter(|t| t.is_comment())
    {
        let text = t.text(&a.src);
        let body = text
            .trim_start_matches("--")
            .trim_start_matches('#')
            .trim_start_matches("/*")
            .trim_end_matches("*/")
            .trim();
        let lower = body.to_ascii_lowercase();
        let Some(rest) = lower.strip_prefix("backstop:allow") else {
            continue;
        };
        if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
            continue;
        }
        let rest = body[body.len() - rest.len()..].trim();
        let (rule, reason) = match rest.split_once(char::is_whitespace) {
            Some((r, why)) => (r.to_string(), why.trim().to_string()),
            None => (rest.to_string(), String::new()),
        };
        let stmt = attach(a, t.start, t.end);
        out.push(Directive {
            rule,
            reason,
            span: t.start..t.end,
            stmt,
            used: false,
        });
    }
    out
}

/// The statement a comment belongs to: the one it is inside, the one whose last line it
/// trails, or else the next one.
fn attach(a: &Analysed, start: usize, end: usize) -> Option<usize> {
    for (i, s) in a.stmts.iter().enumerate() {
        if start >= s.span.start && end <= s.span.end {
            return Some(i);
        }
        if start >= s.span.end {
            let between = a.src.get(s.span.end..start).unwrap_or("\n");
            if !between.contains('\n') {
                return Some(i);
            }
        }
    }
    a.stmts.iter().position(|s| s.span.start >= end)
}

fn emit(
    scripts: &[&Analysed],
    info: &MigInfo,
    hits: Vec<RuleHit>,
    opts: &LintOptions,
    report: &mut LintReport,
) {
    let mut dirs: Vec<(Part, Vec<Directive>)> = scripts
        .iter()
        .map(|a| (a.part, directives(a, opts.engine)))
        .collect();
    let mut findings = Vec::new();
    for (info_rule, hit) in hits {
        let Some(a) = scripts.iter().find(|a| a.part == hit.part) else {
            continue;
        };
        let mut f = finding(info_rule, &hit, a, info);
        if let Some((_, reason)) = opts.allow.iter().find(|(r, _)| r == info_rule.id) {
            f.suppressed = Some(reason.clone());
        } else if let (Some(stmt), Some((_, ds))) =
            (hit.stmt, dirs.iter_mut().find(|(p, _)| *p == hit.part))
        {
            if let Some(d) = ds
                .iter_mut()
                .find(|d| d.stmt == Some(stmt) && d.rule == info_rule.id && !d.reason.is_empty())
            {
                d.used = true;
                f.suppressed = Some(d.reason.clone());
            }
        }
        findings.push(f);
    }
    // Problems with the suppressions themselves.
    if let Some(rule) = rules::find("invalid-suppression") {
        for (part, ds) in &dirs {
            let Some(a) = scripts.iter().find(|a| a.part == *part) else {
                continue;
            };
            for d in ds {
                let (message, help, sev) = if rules::find(&d.rule).is_none() {
                    (
                        format!("`backstop:allow {}` names no known rule", d.rule),
                        "Use a rule id from `docs/rules/README.md`, followed by the reason."
                            .to_string(),
                        Severity::Error,
                    )
                } else if d.reason.is_empty() {
                    (
                        format!("`backstop:allow {}` has no reason", d.rule),
                        format!("Write why the risk is acceptable after the rule id: `-- backstop:allow {} <reason>`.", d.rule),
                        Severity::Error,
                    )
                } else if !d.used && !opts.allow.iter().any(|(r, _)| *r == d.rule) {
                    (
                        format!("`backstop:allow {}` suppresses nothing", d.rule),
                        "Remove the comment, or move it to the line right before the statement it is about.".to_string(),
                        Severity::Warning,
                    )
                } else {
                    continue;
                };
                let hit = Hit {
                    part: *part,
                    stmt: d.stmt,
                    span: Some(d.span.clone()),
                    message,
                    help,
                    severity: Some(sev),
                    toml_key: None,
                };
                findings.push(finding(&rule.info, &hit, a, info));
            }
        }
    }
    if opts.deny_warnings {
        for f in &mut findings {
            if f.severity == Severity::Warning {
                f.severity = Severity::Error;
            }
        }
    }
    report.findings.extend(findings);
}

fn finding(rule: &'static RuleInfo, hit: &Hit, a: &Analysed, info: &MigInfo) -> Finding {
    let severity = hit.severity.unwrap_or(rule.severity);
    if let Some(key) = hit.toml_key {
        let file = info.toml_file.clone().unwrap_or_else(|| a.file.clone());
        let text = info.toml_text.clone().unwrap_or_default();
        let (line, src_line) = if info
            .toml_file
            .as_ref()
            .is_some_and(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("sql")))
        {
            // Single-file form: the options are comment lines at the top of the file.
            let file_text = std::fs::read_to_string(&file).unwrap_or_default();
            find_key(&file_text, key)
        } else {
            find_key(&text, key)
        };
        let width = src_line.chars().count().max(1);
        return Finding {
            rule: rule.id,
            severity,
            message: hit.message.clone(),
            help: hit.help.clone(),
            file,
            line,
            column: 1,
            end_line: line,
            end_column: width + 1,
            version: info.version,
            part: hit.part,
            statement: src_line.trim().to_string(),
            suppressed: None,
            source_lines: vec![src_line],
        };
    }
    let stmt_span = hit
        .stmt
        .and_then(|i| a.stmts.get(i))
        .map(|s| s.span.clone());
    let span = hit.span.clone().or(stmt_span.clone()).unwrap_or(0..0);
    let (line, column) = a.position(span.start);
    let (end_line, end_column) = a.position(span.end.max(span.start));
    let stmt_text = match (&stmt_span, hit.stmt) {
        (Some(r), _) => a.src.get(r.clone()).unwrap_or(""),
        _ => a.src.get(span.clone()).unwrap_or(""),
    };
    Finding {
        rule: rule.id,
        severity,
        message: hit.message.clone(),
        help: hit.help.clone(),
        file: a.file.clone(),
        line,
        column,
        end_line,
        end_column,
        version: info.version,
        part: hit.part,
        statement: excerpt(stmt_text),
        suppressed: None,
        source_lines: vec![a.line_text(span.start)],
    }
}

fn find_key(text: &str, key: &str) -> (usize, String) {
    for (i, l) in text.lines().enumerate() {
        let t = l.trim_start_matches(['-', ' ', '\t']);
        if t.starts_with(key) && t[key.len()..].trim_start().starts_with('=') {
            return (i + 1, l.to_string());
        }
    }
    (1, text.lines().next().unwrap_or("").to_string())
}

/// The statement's first line, shortened, for messages.
pub(crate) fn excerpt(sql: &str) -> String {
    let first = sql.lines().next().unwrap_or("").trim();
    let mut s: String = first.chars().take(100).collect();
    if first.chars().count() > 100 || sql.lines().nth(1).is_some() {
        s.push_str(" …");
    }
    s
}
