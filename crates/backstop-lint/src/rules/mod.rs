//! The rule registry: every rule is one file in this folder and one line in [`RULES`].
//!
//! A rule is an id, a default severity, a one-line summary, the engines it runs for, and a
//! check function of one of three shapes:
//! - [`Check::Stmt`]: one statement, with the schema as it is just before it runs;
//! - [`Check::Script`]: a whole script (up, down or verify), for rules about sequences;
//! - [`Check::Migration`]: a migration's scripts and `migration.toml` together.
//!
//! Its documentation page is `docs/rules/<id>.md`.

use crate::analyze::{Analysed, MigInfo};
use crate::catalog::Catalog;
use crate::impact::Impact;
use crate::ir::Stmt;
use crate::types::{RuleInfo, Severity};
use backstop_core::driver::Engine;
use backstop_core::migration::Part;
use std::ops::Range;

mod add_check_without_not_valid;
mod add_column_stored_generated;
mod add_column_volatile_default;
mod add_foreign_key_without_not_valid;
mod add_unique_without_index;
mod alter_column_type_rewrite;
mod alter_domain_add_constraint;
mod cascade_drops_dependents;
mod cluster_or_vacuum_full;
mod create_domain_with_check;
mod create_index_non_concurrently;
mod data_loss_without_contract;
mod delete_without_where;
mod detach_partition_non_concurrently;
mod down_keeps_added_column;
mod down_keeps_created_object;
mod down_misses_dropped_object;
mod drop_column_used_by_view;
mod drop_database;
mod drop_index_non_concurrently;
mod drop_index_used_by_constraint;
mod enum_value_used_in_transaction;
mod identifier_too_long;
mod invalid_suppression;
mod irreversible_without_reason;
mod missing_if_exists;
mod missing_lock_timeout;
mod missing_verify_for_data_migration;
mod multiple_locks_in_transaction;
mod mysql_copy_algorithm;
mod narrowing_type_change;
mod non_deterministic_backfill;
mod not_null_without_default;
mod prefer_identity;
mod prefer_jsonb;
mod prefer_text;
mod prefer_timestamptz;
mod refresh_matview_non_concurrently;
mod reindex_non_concurrently;
mod rename_column;
mod rename_table;
mod set_not_null_without_check;
mod sqlite_drop_table_runs_on_delete;
mod sqlite_pragma_in_transaction;
mod statement_not_in_transaction;
mod syntax_error;
mod table_rewrite;
mod transaction_control;
mod unqualified_name;
mod update_without_where;
mod validate_in_same_transaction;
mod verify_has_side_effects;

pub(crate) const ALL: &[Engine] = &[Engine::Postgres, Engine::Sqlite, Engine::Mysql];
pub(crate) const PG: &[Engine] = &[Engine::Postgres];
pub(crate) const PG_MYSQL: &[Engine] = &[Engine::Postgres, Engine::Mysql];

/// Which scripts a statement rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parts {
    /// up.sql only (data loss and compatibility are judged on the change itself).
    Up,
    /// up.sql and down.sql (locks matter as much during a rollback).
    UpDown,
    /// up, down and verify.
    All,
    /// verify.sql only.
    Verify,
}

impl Parts {
    pub fn includes(self, p: Part) -> bool {
        match self {
            Parts::Up => p == Part::Up,
            Parts::UpDown => p != Part::Verify,
            Parts::All => true,
            Parts::Verify => p == Part::Verify,
        }
    }
}

pub(crate) enum Check {
    Stmt(Parts, fn(&StmtCx, &mut Out)),
    Script(Parts, fn(&ScriptCx, &mut Out)),
    Migration(fn(&MigCx, &mut Out)),
    /// Produced by the driver itself (syntax errors, suppressions).
    Builtin,
}

pub(crate) struct Rule {
    pub info: RuleInfo,
    pub check: Check,
    /// The body of `docs/rules/<id>.md` (why, bad and good examples).
    pub docs: &'static str,
}

/// Every rule, in documentation order.
pub(crate) static RULES: &[Rule] = &[
    // Locking and rewrites
    create_index_non_concurrently::RULE,
    add_column_volatile_default::RULE,
    add_column_stored_generated::RULE,
    alter_column_type_rewrite::RULE,
    set_not_null_without_check::RULE,
    add_foreign_key_without_not_valid::RULE,
    add_check_without_not_valid::RULE,
    validate_in_same_transaction::RULE,
    add_unique_without_index::RULE,
    reindex_non_concurrently::RULE,
    cluster_or_vacuum_full::RULE,
    table_rewrite::RULE,
    drop_index_non_concurrently::RULE,
    detach_partition_non_concurrently::RULE,
    refresh_matview_non_concurrently::RULE,
    create_domain_with_check::RULE,
    alter_domain_add_constraint::RULE,
    multiple_locks_in_transaction::RULE,
    missing_lock_timeout::RULE,
    mysql_copy_algorithm::RULE,
    // Destructive
    data_loss_without_contract::RULE,
    drop_index_used_by_constraint::RULE,
    cascade_drops_dependents::RULE,
    sqlite_drop_table_runs_on_delete::RULE,
    narrowing_type_change::RULE,
    delete_without_where::RULE,
    update_without_where::RULE,
    drop_database::RULE,
    // Backward compatibility
    rename_column::RULE,
    rename_table::RULE,
    drop_column_used_by_view::RULE,
    not_null_without_default::RULE,
    // Determinism
    non_deterministic_backfill::RULE,
    // Transactions
    statement_not_in_transaction::RULE,
    enum_value_used_in_transaction::RULE,
    transaction_control::RULE,
    sqlite_pragma_in_transaction::RULE,
    // Reversibility
    down_keeps_created_object::RULE,
    down_misses_dropped_object::RULE,
    down_keeps_added_column::RULE,
    missing_verify_for_data_migration::RULE,
    irreversible_without_reason::RULE,
    verify_has_side_effects::RULE,
    // Hygiene
    missing_if_exists::RULE,
    prefer_timestamptz::RULE,
    prefer_text::RULE,
    prefer_identity::RULE,
    prefer_jsonb::RULE,
    unqualified_name::RULE,
    identifier_too_long::RULE,
    // Meta
    syntax_error::RULE,
    invalid_suppression::RULE,
];

pub(crate) fn find(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.info.id == id)
}

/// One statement and what surrounds it.
pub(crate) struct StmtCx<'a> {
    pub engine: Engine,
    pub index: usize,
    pub stmt: &'a Stmt,
    /// Every statement of the script (`stmts[index]` is this one), for rules that depend
    /// on what ran before it in the same session.
    pub stmts: &'a [Stmt],
    /// The schema just before this statement.
    pub catalog: &'a Catalog,
    pub impact: &'a Impact,
    pub mig: &'a MigInfo,
    pub src: &'a str,
}

/// A whole script.
pub(crate) struct ScriptCx<'a> {
    pub a: &'a Analysed,
    pub mig: &'a MigInfo,
    /// For verify.sql: the up.sql whose transaction it runs in (None without a transaction).
    pub same_tx: Option<&'a Analysed>,
}

/// A migration: its scripts and options.
pub(crate) struct MigCx<'a> {
    pub up: &'a Analysed,
    pub down: Option<&'a Analysed>,
    pub verify: Option<&'a Analysed>,
    pub mig: &'a MigInfo,
}

/// What a rule reports; the driver adds the rule id, file and line.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub part: Part,
    /// The statement the finding is about (suppression comments attach to it).
    pub stmt: Option<usize>,
    /// A narrower byte range than the whole statement.
    pub span: Option<Range<usize>>,
    pub message: String,
    pub help: String,
    pub severity: Option<Severity>,
    /// Points at migration.toml rather than a script.
    pub toml_key: Option<&'static str>,
}

#[derive(Default)]
pub(crate) struct Out {
    pub hits: Vec<Hit>,
    pub part: Option<Part>,
}

impl Out {
    /// A finding on statement `stmt` of the current script.
    pub fn at(
        &mut self,
        stmt: usize,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> &mut Hit {
        let part = self.part.unwrap_or(Part::Up);
        self.at_part(part, stmt, message, help)
    }
    pub fn at_part(
        &mut self,
        part: Part,
        stmt: usize,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> &mut Hit {
        self.hits.push(Hit {
            part,
            stmt: Some(stmt),
            span: None,
            message: message.into(),
            help: help.into(),
            severity: None,
            toml_key: None,
        });
        let n = self.hits.len() - 1;
        &mut self.hits[n]
    }
    pub fn toml(
        &mut self,
        key: &'static str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> &mut Hit {
        self.hits.push(Hit {
            part: Part::Up,
            stmt: None,
            span: None,
            message: message.into(),
            help: help.into(),
            severity: None,
            toml_key: Some(key),
        });
        let n = self.hits.len() - 1;
        &mut self.hits[n]
    }
}

impl Hit {
    pub fn span(&mut self, r: Range<usize>) -> &mut Hit {
        self.span = Some(r);
        self
    }
    /// Point at the token starting at byte `at`.
    pub fn token(&mut self, src: &str, at: usize, engine: Engine) -> &mut Hit {
        let end = crate::lex::token_end(src, at, engine);
        self.span = Some(at..end.max(at));
        self
    }
    pub fn severity(&mut self, s: Severity) -> &mut Hit {
        self.severity = Some(s);
        self
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! `lint_ok` / `lint_errors`: lint SQL as the up.sql of a migration and render exactly
    //! what `backstop lint` prints, keeping only the rule under test.

    use crate::types::{LintOptions, LintReport};
    use backstop_core::driver::Engine;

    pub struct Case<'a> {
        pub engine: Engine,
        pub up: &'a str,
        pub down: Option<&'a str>,
        pub verify: Option<&'a str>,
        pub toml: Option<&'a str>,
    }

    impl<'a> Case<'a> {
        pub fn pg(up: &'a str) -> Self {
            Case {
                engine: Engine::Postgres,
                up,
                down: None,
                verify: None,
                toml: None,
            }
        }
        pub fn on(engine: Engine, up: &'a str) -> Self {
            Case {
                engine,
                ..Case::pg(up)
            }
        }
        pub fn down(mut self, d: &'a str) -> Self {
            self.down = Some(d);
            self
        }
        pub fn verify(mut self, v: &'a str) -> Self {
            self.verify = Some(v);
            self
        }
        pub fn toml(mut self, t: &'a str) -> Self {
            self.toml = Some(t);
            self
        }
        pub fn report(&self) -> LintReport {
            let m = crate::load::in_memory_migration(
                20260101000000,
                "m",
                self.up,
                self.down,
                self.verify,
                self.toml,
            );
            crate::lint_migrations(
                &[m],
                &LintOptions {
                    engine: self.engine,
                    deny_warnings: false,
                    allow: vec![],
                },
            )
        }
        /// The CLI text output, limited to `rule`.
        pub fn render(&self, rule: &str) -> String {
            let mut r = self.report();
            r.findings.retain(|f| f.rule == rule);
            r.finish();
            crate::render_text(&r)
        }
    }

    /// Lint `sql` (PostgreSQL) and render the findings of `rule` as the CLI prints them.
    pub fn lint_errors(rule: &str, sql: &str) -> String {
        Case::pg(sql).render(rule)
    }

    /// Assert that `rule` finds nothing in `sql` (PostgreSQL).
    pub fn lint_ok(rule: &str, sql: &str) {
        lint_case_ok(rule, Case::pg(sql));
    }

    pub fn lint_case_ok(rule: &str, case: Case) {
        let r = case.report();
        let mine: Vec<_> = r.findings.iter().filter(|f| f.rule == rule).collect();
        assert!(
            mine.is_empty(),
            "expected no {rule} finding, got:\n{}",
            case.render(rule)
        );
    }
}
