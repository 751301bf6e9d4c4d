//! backstop-lint owns the static safety analysis of migrations: `backstop lint`, the lint
//! gate of `apply`, and the lock/rewrite column of `plan`.
//!
//! - PostgreSQL scripts are parsed with libpg_query (the server's own grammar, via the
//!   `pg_query` crate); SQLite and MySQL/MariaDB scripts with a careful tokenizer and a
//!   light statement reader ([`rules()`] says which rules run for which engine).
//! - Statements are replayed in migration order against a small schema model, so rules know
//!   which tables are new in this migration, old column types, views and constraint indexes.
//! - Each rule is one file in `src/rules/`, registered once in `rules/mod.rs`; it reports
//!   hits that the driver turns into [`Finding`]s with file:line:column.
//! - Suppress a finding with `-- backstop:allow <rule-id> <reason>` on the line(s) before the
//!   statement (or on its last line), or everywhere with [`LintOptions::allow`].
//!
//! Main entry points: [`lint_migrations`], [`lint_files`], [`statement_impacts`], and the
//! renderers [`render_text`], [`render_json`], [`render_sarif`], [`render_github`].

mod analyze;
mod catalog;
mod docs;
mod effects;
mod impact;
mod ir;
mod lex;
mod lite;
mod load;
mod pg;
mod render;
mod rules;
mod settings;
mod types;

pub use load::in_memory_migration;
pub use render::{render_github, render_json, render_sarif, render_sarif_with_docs, render_text};
pub use types::{Finding, LintError, LintOptions, LintReport, RuleInfo, Severity};

use backstop_core::driver::Engine;
use backstop_core::migration::Migration;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Lint migrations (in the order given, normally ascending version). Each migration's
/// up.sql is checked against the schema the earlier ones built; down.sql and verify.sql
/// against the schema after its up.sql.
pub fn lint_migrations(migrations: &[Migration], opts: &LintOptions) -> LintReport {
    let units: Vec<analyze::Unit> = migrations.iter().map(analyze::Unit::Migration).collect();
    analyze::lint_units(&units, opts)
}

/// Lint only the migrations whose versions are in `versions` (typically the pending ones,
/// for apply's gate), with the schema model built by replaying every earlier migration's
/// up.sql. Much cheaper than [`lint_migrations`] on a long history.
pub fn lint_versions(
    migrations: &[Migration],
    versions: &std::collections::BTreeSet<i64>,
    opts: &LintOptions,
) -> LintReport {
    let units: Vec<analyze::Unit> = migrations.iter().map(analyze::Unit::Migration).collect();
    analyze::lint_units_only(&units, opts, Some(versions))
}

/// Lint paths: migrations directories, migration folders (with up.sql), single-file
/// migrations, or plain .sql files (linted as an up script without a migration around it).
/// Each path is read on its own, whatever its siblings.
pub fn lint_files(paths: &[PathBuf], opts: &LintOptions) -> Result<LintReport, LintError> {
    lint_files_in(paths, None, opts)
}

/// [`lint_files`], where migrations named one by one that sit in `migrations_dir` are
/// checked against the schema its earlier migrations build, as when the whole directory
/// is linted. When the directory does not load, they are linted on their own and the
/// report's `notes` say why.
pub fn lint_files_in(
    paths: &[PathBuf],
    migrations_dir: Option<&std::path::Path>,
    opts: &LintOptions,
) -> Result<LintReport, LintError> {
    let (inputs, notes) = load::inputs(paths, migrations_dir)?;
    let units = load::units(&inputs);
    let mut report = analyze::lint_units(&units, opts);
    report.notes = notes;
    Ok(report)
}

/// Every rule: id, default severity, summary, engines, category.
pub fn rules() -> &'static [RuleInfo] {
    static INFOS: OnceLock<Vec<RuleInfo>> = OnceLock::new();
    INFOS.get_or_init(|| rules::RULES.iter().map(|r| r.info).collect())
}

/// The documentation page of a rule (the text of `docs/rules/<id>.md`), for
/// `backstop lint --explain RULE`; `None` for an unknown id.
pub fn explain(rule_id: &str) -> Option<String> {
    rules::find(rule_id).map(docs::page)
}

/// What one statement of a script does, for `backstop plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementImpact {
    /// 1-based line of the statement's first token in the script.
    pub line: usize,
    pub sql: String,
    /// The strongest table lock it takes, e.g. `ACCESS EXCLUSIVE`.
    pub lock: Option<&'static str>,
    /// Tables it locks, in order.
    pub tables: Vec<String>,
    /// The lock it takes on each of `tables`.
    pub table_locks: Vec<&'static str>,
    /// Rewrites the whole table (and its indexes) while holding the lock.
    pub rewrites: bool,
    /// Reads the whole table (validation, index build, backfill).
    pub scans: bool,
    /// `reads and writes`, `writes` or `nothing`.
    pub blocks: &'static str,
    /// Destroys data a rollback can't bring back without a snapshot.
    pub destroys_data: bool,
}

/// Per statement of `sql`: the lock it takes and its table impact. Tables created earlier
/// in the same script count as new (no lock worth reporting for their rewrites or scans).
pub fn statement_impacts(sql: &str, engine: Engine) -> Vec<StatementImpact> {
    impacts_with(sql, engine, catalog::Catalog::default())
}

/// [`statement_impacts`] for one migration's up.sql, knowing the schema the migrations
/// before it built (so a table created earlier counts as existing, with its columns).
pub fn migration_impacts(
    migrations: &[Migration],
    version: i64,
    engine: Engine,
) -> Vec<StatementImpact> {
    let only = std::collections::BTreeSet::from([version]);
    migrations_impacts(migrations, &only, engine)
        .remove(&version)
        .unwrap_or_default()
}

/// [`migration_impacts`] for several migrations at once, in one pass over the history
/// (for `plan` with many pending migrations).
pub fn migrations_impacts(
    migrations: &[Migration],
    versions: &std::collections::BTreeSet<i64>,
    engine: Engine,
) -> std::collections::BTreeMap<i64, Vec<StatementImpact>> {
    let mut cat = catalog::Catalog::default();
    let mut out = std::collections::BTreeMap::new();
    for m in migrations {
        // Objects of earlier migrations are "existing" for the next one.
        cat.begin_migration();
        if versions.contains(&m.version) {
            // impacts_with applies the statements to its own copy as it goes.
            out.insert(m.version, impacts_with(&m.up, engine, cat.clone()));
        }
        let parsed = parse_script(&m.up, engine);
        let mut stmts: Vec<&ir::Stmt> = parsed.stmts.iter().collect();
        stmts.sort_by_key(|s| s.span.start);
        for s in stmts {
            cat.apply(s);
        }
        if out.len() == versions.len() {
            break;
        }
    }
    out
}

pub(crate) fn parse_script(sql: &str, engine: Engine) -> pg::Parsed {
    match engine {
        Engine::Postgres => pg::parse(sql),
        _ => lite::parse(sql, engine),
    }
}

fn impacts_with(sql: &str, engine: Engine, mut cat: catalog::Catalog) -> Vec<StatementImpact> {
    let parsed = parse_script(sql, engine);
    let mut stmts: Vec<&ir::Stmt> = parsed.stmts.iter().collect();
    stmts.sort_by_key(|s| s.span.start);
    let mut out = Vec::with_capacity(stmts.len());
    for s in stmts {
        let im = impact::analyse(s, &cat, engine);
        cat.apply(s);
        let line = sql
            .get(..s.span.start)
            .map(|p| p.matches('\n').count() + 1)
            .unwrap_or(1);
        out.push(StatementImpact {
            line,
            sql: sql.get(s.span.clone()).unwrap_or("").to_string(),
            lock: im.lock.map(|l| l.name()),
            tables: im.tables.iter().map(|t| t.to_string()).collect(),
            table_locks: im.table_locks.iter().map(|l| l.name()).collect(),
            rewrites: im.rewrites,
            scans: im.scans,
            blocks: im.blocks(),
            destroys_data: !im.destroys.is_empty(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impacts_name_lock_and_blocking() {
        let v = statement_impacts(
            "CREATE TABLE t (a int);\nCREATE INDEX ON t (a);\nCREATE INDEX ON users (email);\nALTER TABLE users ALTER COLUMN id TYPE bigint;\nDROP TABLE old;",
            Engine::Postgres,
        );
        assert_eq!(v.len(), 5);
        assert_eq!(v[2].lock, Some("SHARE"));
        assert_eq!(v[2].blocks, "writes");
        assert_eq!(v[2].line, 3);
        assert!(v[3].rewrites);
        assert_eq!(v[3].blocks, "reads and writes");
        assert!(v[4].destroys_data);
        assert!(!v[0].destroys_data);
    }

    #[test]
    fn objects_named_per_table_lock_their_table() {
        // DROP TRIGGER / POLICY … ON t take ACCESS EXCLUSIVE on t (seen in pg_locks on
        // PostgreSQL 15), so they queue every query on t like ALTER TABLE does.
        let v = statement_impacts(
            "DROP TRIGGER tr ON app.t;\nDROP POLICY IF EXISTS p ON app.t;",
            Engine::Postgres,
        );
        assert_eq!(v.len(), 2);
        for im in &v {
            assert_eq!(im.lock, Some("ACCESS EXCLUSIVE"), "{im:?}");
            assert_eq!(im.tables, ["app.t"], "{im:?}");
            assert_eq!(im.blocks, "reads and writes", "{im:?}");
        }
    }

    #[test]
    fn foreign_tables_are_locked_but_hold_no_rows() {
        // A foreign table's rows live on another server: dropping or altering it locks it
        // but destroys and rewrites nothing.
        let v = statement_impacts(
            "DROP FOREIGN TABLE remote.orders;\nALTER FOREIGN TABLE remote.orders ALTER COLUMN a TYPE bigint;",
            Engine::Postgres,
        );
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].tables, ["remote.orders"]);
        assert_eq!(v[0].lock, Some("ACCESS EXCLUSIVE"));
        assert!(!v[0].destroys_data, "{:?}", v[0]);
        assert!(!v[1].rewrites, "{:?}", v[1]);
    }

    #[test]
    fn explain_returns_the_docs_page() {
        let page = explain("create-index-non-concurrently").unwrap_or_default();
        assert!(page.starts_with("# `create-index-non-concurrently`"));
        assert!(explain("no-such-rule").is_none());
    }

    #[test]
    fn rule_ids_are_unique_kebab_case() {
        let mut ids: Vec<&str> = rules().iter().map(|r| r.id).collect();
        for id in &ids {
            assert!(
                id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{id}"
            );
        }
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }
}

#[cfg(test)]
mod impact_context_tests {
    use super::*;

    #[test]
    fn earlier_migrations_give_the_schema_context() {
        let a = in_memory_migration(
            1,
            "t",
            "CREATE TABLE t (id bigint PRIMARY KEY, n int, note text);",
            Some("DROP TABLE t;"),
            None,
            None,
        );
        let b = in_memory_migration(
            2,
            "c",
            "ALTER TABLE t ALTER COLUMN n TYPE bigint;\nALTER TABLE t DROP COLUMN note;",
            Some("SELECT 1;"),
            None,
            None,
        );
        let im = migration_impacts(&[a, b], 2, Engine::Postgres);
        assert_eq!(im.len(), 2);
        assert_eq!(im[0].lock, Some("ACCESS EXCLUSIVE"));
        assert!(im[0].rewrites, "{im:?}");
        assert!(im[1].destroys_data, "{im:?}");
    }
}
