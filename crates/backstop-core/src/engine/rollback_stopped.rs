//! What a rollback step outside a transaction reports when it stops with its migration
//! dirty: which statements of the stored down script ran and which did not (known in
//! memory even where history could not be told), what kept backstop's own write from the
//! database, and a way out that works on a dirty migration (`resolve`, never "run the
//! rollback again", which refuses one).

use super::dirty;
use super::rollback::dirty_needs;
use super::run::{self, ScriptError, ScriptRef};
use crate::driver::{DbError, DbErrorKind, Engine};
use crate::error::EngineError;
use crate::history::HistoryRow;
use crate::report::{NextCommand, Situation};
use crate::sql::Statement;

fn resolve_rolled_back(v: i64) -> String {
    format!("backstop resolve {v} --rolled-back --reason \"…\"")
}

fn resolve_applied(v: i64) -> String {
    format!("backstop resolve {v} --applied --reason \"…\"")
}

/// Statements `ran..` of `down`, under a heading of their own; empty when none is left.
fn not_run(s: &ScriptRef, down: &[Statement], ran: usize) -> String {
    match dirty::listed(s, down, ran, down.len()) {
        rest if rest.is_empty() => String::new(),
        rest => format!("\n  not run:{rest}"),
    }
}

/// The way out once `ran` statements of `down` ran (the lists above say which): finish
/// the undo by hand, or redo what ran. `once`: when it can be taken.
fn ways_out(once: &str, v: i64, down: &[Statement], ran: usize) -> String {
    let (rolled_back, applied) = (resolve_rolled_back(v), resolve_applied(v));
    match ran {
        0 => format!(
            "{once}, go by the list above: none of the down script's statements ran (`backstop schema` shows the schema now). Then `{applied}` records the migration as still applied, and the rollback can be run again; or run the down script by hand and `{rolled_back}`, which checks that the schema is as before the migration"
        ),
        ran if ran < down.len() => format!(
            "{once}, go by the lists above, not by history's count: {done} of the down script ran, {rest} did not (`backstop schema` shows the schema now). Then either run {rest} by hand and `{rolled_back}` (it checks that the schema is as before the migration), or redo by hand what {done} removed (the migration's up script shows how) and `{applied}`",
            done = dirty::span(1, ran),
            rest = dirty::span(ran + 1, down.len()),
        ),
        _ => format!(
            "{once}, go by the list above, not by history's count: every statement of the down script ran (`backstop schema` shows the schema now). Then either `{rolled_back}`, which checks that the schema is as before the migration, or redo by hand what the down script removed (the migration's up script shows how) and `{applied}`"
        ),
    }
}

/// A statement of `row`'s down script completed outside a transaction, but writing its
/// progress to history failed (`se`, [`ScriptError::unrecorded`]): on SQLite, another
/// connection held the file past `--lock-wait`. As for apply, backstop stops at once: a
/// further statement could not be recorded either, and each write would wait for the
/// same holder.
pub(crate) fn progress_unrecorded(
    row: &HistoryRow,
    s: &ScriptRef,
    down: &[Statement],
    se: ScriptError,
) -> EngineError {
    let dirty::Unrecorded {
        what,
        ran,
        counted,
        kind,
    } = dirty::unrecorded(s, down, se);
    let v = row.version;
    let mut needs = dirty_needs(Situation::ProgressNotRecorded, row);
    needs.statements = Some(run::progress(s, down, ran, None, false));
    needs.state = format!(
        "migration {v} is dirty: its rollback ran outside a transaction, and history counts {counted} of its {n} down statements as completed, but {ran} ran: {stmt} completed and was committed, and only recording that failed. Statements of {file} that ran, each committed on its own:{ran_list}{not_run}{stopped}",
        n = down.len(),
        stmt = dirty::span(ran, ran),
        file = s.file,
        ran_list = dirty::listed(s, down, 0, ran),
        not_run = not_run(s, down, ran),
        stopped = dirty::stopped_there(Some("no further statement of its down script"), kind),
    );
    needs.next = ways_out(dirty::once(kind), v, down, ran);
    EngineError::NeedsPerson {
        what,
        failure: None,
        needs: Box::new(needs),
        diff: None,
        path: None,
    }
}

/// An error `e` that was not a statement's (a schema read, a history write) stopped
/// `row`'s rollback step outside a transaction after its dirty marker was written, with
/// `ran` statements of its down script completed — each recorded in history as it
/// completed.
pub(crate) fn interrupted(engine: Engine, row: &HistoryRow, ran: usize, e: DbError) -> EngineError {
    let down = run::split(engine, row.down_sql.as_deref());
    let s = ScriptRef {
        version: row.version,
        name: &row.name,
        part: crate::migration::Part::Down,
        file: super::rollback::down_file(row),
        line_offset: 0,
    };
    let v = row.version;
    let ran = ran.min(down.len());
    let mut needs = dirty_needs(Situation::Interrupted, row);
    needs.statements = Some(run::progress(&s, &down, ran, None, false));
    let ran_list = match ran {
        0 => " none".to_string(),
        _ => dirty::listed(&s, &down, 0, ran),
    };
    needs.state = format!(
        "migration {v} is dirty: its rollback ran outside a transaction, and {ran} of its {n} down statements completed before this happened (history counts them). Statements of {file} that ran, each committed on its own:{ran_list}{not_run}",
        n = down.len(),
        file = s.file,
        not_run = not_run(&s, &down, ran),
    );
    needs.next = ways_out(dirty::once(e.kind), v, &down, ran);
    EngineError::needs_person(
        format!(
            "{}: the rollback of migration {v} ({}) was running outside a transaction when this happened: {}",
            s.file,
            row.name,
            dirty::quoted(&e)
        ),
        needs,
    )
}

/// The first statement of `row`'s down script failed (`se`; `tries`: the retries it had),
/// so nothing of it ran and the schema is as before the step, but taking back the dirty
/// marker written before that statement failed too (`e`): the migration is applied in the
/// database while history marks it dirty. `again`: the rollback that undoes what is left
/// of the run, once the migration is recorded as applied.
pub(crate) fn marker_left(
    row: &HistoryRow,
    s: &ScriptRef,
    down: &[Statement],
    se: ScriptError,
    tries: &str,
    e: DbError,
    again: &run::Again,
) -> EngineError {
    let v = row.version;
    let mut needs = dirty_needs(Situation::Interrupted, row);
    needs.statements = Some(run::progress(
        s,
        down,
        0,
        Some(se.failure.statement_index),
        false,
    ));
    needs.state = format!(
        "nothing of the down script of migration {v} ran (its first statement failed{tries}) and the schema is as before this rollback step, so the migration is still applied in the database; but history marks it dirty: the mark written before the first statement could not be taken back: {}",
        dirty::quoted(&e)
    );
    needs.next = format!(
        "{}, `{}` records the migration as applied again (nothing of its rollback ran); then run `{}` again once what stopped its first statement is gone",
        dirty::once(e.kind),
        resolve_applied(v),
        again.shell()
    );
    needs.commands = vec![
        NextCommand::new(
            resolve_applied(v),
            "nothing of the rollback ran: the migration is still applied in the database",
        ),
        NextCommand::new(
            again.shell(),
            "after that, once what stopped the down script's first statement is gone: undoes what is left of this rollback",
        ),
    ];
    EngineError::NeedsPerson {
        what: se.failure.to_string(),
        failure: Some(Box::new(se.failure)),
        needs: Box::new(needs),
        diff: None,
        path: None,
    }
}

/// `row`'s rollback step ran to its end outside a transaction — every statement of
/// `down`, and the schema proven as before the migration — but its record could not be
/// written (`e`): the migration is undone in the database, and history still marks it
/// dirty (the ledger has no `rollback` event for it). Nothing is left to run: once the
/// cause is gone, `resolve --rolled-back` records it, checking the schema again.
pub(crate) fn not_recorded(
    row: &HistoryRow,
    s: &ScriptRef,
    down: &[Statement],
    e: DbError,
) -> EngineError {
    let v = row.version;
    let (rolled_back, applied) = (resolve_rolled_back(v), resolve_applied(v));
    let mut needs = dirty_needs(Situation::RecordFailed, row);
    needs.statements = Some(run::progress(s, down, down.len(), None, false));
    needs.state = format!(
        "migration {v} is dirty: every statement of its stored down script completed (each committed on its own) and the schema is the one recorded before the migration, so the migration is undone in the database; only its record is missing: history still marks it dirty and the ledger has no `rollback` event for it. Statements of {file} that ran:{ran}{stopped}",
        file = s.file,
        ran = dirty::listed(s, down, 0, down.len()),
        stopped = dirty::stopped_there(None, e.kind),
    );
    let rest = format!(
        "`{rolled_back}` records the migration as rolled back (it checks again that the schema is as before it); or, if the migration is to stay, redo by hand what the down script removed (the migration's up script shows how) and `{applied}`"
    );
    needs.next = if e.kind == DbErrorKind::Connection {
        // The COMMIT may have reached the database before the connection went.
        needs.commands.insert(
            0,
            NextCommand::new(
                "backstop status",
                format!("first, once the connection is back: if migration {v} is no longer dirty, its record was written before the connection went, and nothing needs doing"),
            ),
        );
        format!("once the connection is back, run `backstop status`: if migration {v} is no longer dirty, its record was written before the connection went and nothing needs doing; if it is, {rest}")
    } else {
        format!("{}, {rest}", dirty::once(e.kind))
    };
    EngineError::needs_person(
        format!(
            "{}: the rollback of migration {v} ({}) ran to its end outside a transaction and the schema is the one recorded before the migration, but recording that in history failed: {}",
            s.file,
            row.name,
            dirty::quoted(&e)
        ),
        needs,
    )
}
