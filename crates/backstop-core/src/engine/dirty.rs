//! What a step outside a transaction (an apply, or a rollback step) reports when it stops
//! with its migration dirty and knows exactly how far it got: which statements ran and
//! which did not, what a write of backstop's own that failed was kept from by (who held
//! the database, and how long backstop waited), and when the way out can be taken.
//! The apply and rollback reports are built from these pieces, each with its own way out.

use super::run::{ScriptError, ScriptRef};
use crate::driver::{DbError, DbErrorKind};
use crate::redact::redact;
use crate::sql::Statement;

/// "statement N" or "statements N to M" (1-based, inclusive).
pub(crate) fn span(from: usize, to: usize) -> String {
    if from == to {
        format!("statement {from}")
    } else {
        format!("statements {from} to {to}")
    }
}

/// Statements `from..to` (0-based, `to` excluded) of script `s`, each on a line of its own,
/// numbered, with its line in its file.
pub(crate) fn listed(s: &ScriptRef, statements: &[Statement], from: usize, to: usize) -> String {
    statements
        .iter()
        .enumerate()
        .take(to)
        .skip(from)
        .map(|(i, st)| {
            format!(
                "\n  {}. line {}: {}",
                i + 1,
                st.line + s.line_offset,
                redact(&st.excerpt())
            )
        })
        .collect()
}

/// The first `n` statements of script `s` as [`listed`] lists them, for a report of what
/// completed: `  (none)` when none did.
pub(crate) fn ran(s: &ScriptRef, statements: &[Statement], n: usize) -> String {
    match listed(s, statements, 0, n) {
        l if l.is_empty() => "  (none)".into(),
        l => l.trim_start_matches('\n').to_string(),
    }
}

/// A database error as a report that needs a person quotes it: its message and code, and
/// on a line of its own its detail (for a lock: who held the database, and how long
/// backstop waited). Not its hint: for a lock, that is advice to a command that changed
/// nothing ("run the command again"), which a dirty migration would refuse.
pub(crate) fn quoted(e: &DbError) -> String {
    let mut text = e.message.clone();
    if let Some(c) = &e.code {
        text.push_str(&format!(" [{c}]"));
    }
    if let Some(d) = &e.detail {
        text.push_str(&format!("\n    detail: {}", redact(d)));
    }
    text
}

/// When the way out of a dirty migration can be taken, after backstop's own write failed
/// with an error of this kind.
pub(crate) fn once(kind: DbErrorKind) -> &'static str {
    match kind {
        DbErrorKind::LockTimeout => {
            "once the other connection is done with the database (the detail above says who holds it, where known)"
        }
        DbErrorKind::Connection => "once the connection is back",
        _ => "once the cause of the error above is fixed",
    }
}

/// A statement of a script outside a transaction completed, but writing its progress to
/// history failed ([`ScriptError::unrecorded`]): history counts one statement fewer than
/// ran.
pub(crate) struct Unrecorded {
    /// What happened and where, as a failed statement's error reads (it is the statement's
    /// position, though the statement itself did not fail), with who held the database.
    pub what: String,
    /// The statements that ran, the one whose record failed included.
    pub ran: usize,
    /// How many of them history counts, as a sentence says it.
    pub counted: String,
    /// What kept the write from the database.
    pub kind: DbErrorKind,
}

/// [`Unrecorded`] for the script error `se` of script `s`.
pub(crate) fn unrecorded(s: &ScriptRef, statements: &[Statement], se: ScriptError) -> Unrecorded {
    let ran = se.completed.clamp(1, statements.len().max(1));
    let recorded = ran - 1;
    let e = se
        .db
        .unwrap_or_else(|| DbError::other(se.failure.error.clone()));
    let mut what = match statements.get(ran - 1) {
        Some(st) => format!(
            "{}:{}:{}: migration {} ({}) {} statement {ran} completed outside a transaction, but recording its progress in history failed: {}",
            s.file,
            st.line + s.line_offset,
            st.column,
            s.version,
            s.name,
            s.part.name(),
            e.message
        ),
        None => format!(
            "{}: migration {} ({}) ran outside a transaction, but recording its progress in history failed: {}",
            s.file, s.version, s.name, e.message
        ),
    };
    if let Some(c) = &e.code {
        what.push_str(&format!(" [{c}]"));
    }
    if let Some(st) = statements.get(ran - 1) {
        what.push_str(&format!("\n    {}", redact(&st.excerpt())));
    }
    if let Some(d) = &e.detail {
        what.push_str(&format!("\n    detail: {}", redact(d)));
    }
    let counted = match e.kind {
        DbErrorKind::Connection => format!(
            "{recorded} (or {ran}, if the write reached the database before the connection went)"
        ),
        _ => recorded.to_string(),
    };
    Unrecorded {
        what,
        ran,
        counted,
        kind: e.kind,
    }
}

/// The note a report adds under its lists when backstop stopped because its own write
/// failed with an error of kind `kind`: it ran (`ran_nothing_more`: what it did not run, when
/// something was left) and wrote nothing more.
pub(crate) fn stopped_there(ran_nothing_more: Option<&str>, kind: DbErrorKind) -> String {
    let why = match kind {
        DbErrorKind::LockTimeout => "each write would wait for the same holder",
        _ => "each write would meet the same error",
    };
    match ran_nothing_more {
        Some(what) => format!("\n  backstop stopped there: it ran nothing more of the migration ({what}) and wrote nothing more ({why}); nothing runs on this database until the migration is resolved"),
        None => format!("\n  backstop wrote nothing more ({why}); nothing runs on this database until the migration is resolved"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_lists_number_statements_from_one() {
        let stmts = crate::sql::split_for(
            crate::driver::Engine::Sqlite,
            "DROP INDEX i;\nSELECT 1;\nDROP TABLE t;",
        );
        let s = ScriptRef {
            version: 2,
            name: "n",
            part: crate::migration::Part::Down,
            file: "history:2/down.sql".into(),
            line_offset: 0,
        };
        assert_eq!(span(3, 3), "statement 3");
        assert_eq!(span(1, 2), "statements 1 to 2");
        assert_eq!(
            listed(&s, &stmts, 1, 3),
            "\n  2. line 2: SELECT 1\n  3. line 3: DROP TABLE t"
        );
        assert_eq!(listed(&s, &stmts, 3, 3), "");
    }

    #[test]
    fn a_quoted_lock_timeout_says_who_held_the_database_but_not_to_run_again() {
        let e = DbError {
            kind: DbErrorKind::LockTimeout,
            message: "database is locked".into(),
            code: Some("SQLITE_BUSY".into()),
            position: None,
            detail: Some(
                "waited --lock-wait (1s) for the database: another connection is writing it".into(),
            ),
            hint: Some("run the command again when it is done".into()),
        };
        assert_eq!(
            quoted(&e),
            "database is locked [SQLITE_BUSY]\n    detail: waited --lock-wait (1s) for the database: another connection is writing it"
        );
    }
}
