//! Running one user statement, with statement_timeout, inside the transaction backstop
//! manages.
//!
//! SQLite has no statement_timeout. A progress handler (called every [`PROGRESS_OPS`]
//! virtual-machine instructions) interrupts the statement once its deadline has passed;
//! SQLite then fails it with SQLITE_INTERRUPT, which we report as a statement timeout.
//! See <https://sqlite.org/c3ref/progress_handler.html>.
//!
//! A script's own BEGIN, COMMIT or ROLLBACK would pull backstop's bookkeeping out from
//! under it: a COMMIT inside the migration's transaction applies part of the migration
//! without its history row; a BEGIN in a `transaction = false` migration puts the progress
//! records (and, on failure, the failure's record) into the script's transaction, which
//! disappears with it. An authorizer refuses those statements when they are prepared,
//! before they run (<https://sqlite.org/c3ref/set_authorizer.html>); what SQLite itself
//! prepares while a statement runs (VACUUM's own transaction) is not the script's and is
//! not checked.

use crate::error::{map_err, one_statement_only};
use backstop_core::driver::{DbError, FirstColumn};
use rusqlite::hooks::{AuthAction, AuthContext, Authorization, TransactionOperation};
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the handler looks at the clock: ~10–100 µs of work between looks, so the
/// overshoot is negligible and so is the cost (one `Instant::now()` per call).
const PROGRESS_OPS: i32 = 1000;

#[derive(Debug, Default)]
struct Deadline {
    at: Option<Instant>,
    fired: bool,
}

/// The deadline shared with the progress handler installed on the connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Watchdog(Arc<Mutex<Deadline>>);

impl Watchdog {
    /// Install the progress handler. It does nothing until [`arm`](Self::arm) sets a deadline.
    pub(crate) fn install(conn: &mut Connection) -> Result<Watchdog, DbError> {
        let w = Watchdog::default();
        let shared = Arc::clone(&w.0);
        conn.progress_handler(
            PROGRESS_OPS,
            Some(move || {
                let Ok(mut d) = shared.lock() else {
                    return false;
                };
                match d.at {
                    Some(at) if Instant::now() >= at => {
                        d.fired = true;
                        true
                    }
                    _ => false,
                }
            }),
        )
        .map_err(crate::error::db)?;
        Ok(w)
    }

    fn arm(&self, timeout: Option<Duration>) {
        if let Ok(mut d) = self.0.lock() {
            // Zero means no limit, as statement_timeout = 0 does in PostgreSQL.
            d.at = timeout
                .filter(|t| !t.is_zero())
                .and_then(|t| Instant::now().checked_add(t));
            d.fired = false;
        }
    }

    /// Clear the deadline; whether it interrupted the statement.
    fn disarm(&self) -> bool {
        match self.0.lock() {
            Ok(mut d) => {
                d.at = None;
                std::mem::take(&mut d.fired)
            }
            Err(_) => false,
        }
    }
}

#[derive(Debug, Default)]
struct GuardState {
    /// A user statement is being prepared (backstop's own statements are never checked).
    active: bool,
    /// Whether a transaction was open when it started.
    in_transaction: bool,
    /// The transaction-control statement refused, e.g. `COMMIT`.
    refused: Option<String>,
}

/// The authorizer that keeps user statements from opening or ending transactions.
#[derive(Debug, Clone, Default)]
pub(crate) struct TxGuard(Arc<Mutex<GuardState>>);

impl TxGuard {
    pub(crate) fn install(conn: &mut Connection) -> Result<TxGuard, DbError> {
        let g = TxGuard::default();
        let shared = Arc::clone(&g.0);
        conn.authorizer(Some(move |ctx: AuthContext<'_>| {
            let Ok(mut st) = shared.lock() else {
                return Authorization::Allow;
            };
            if !st.active {
                return Authorization::Allow;
            }
            let refused = match ctx.action {
                // SQLite names the operation BEGIN, COMMIT (also for END) or ROLLBACK.
                AuthAction::Transaction { operation } => Some(match operation {
                    TransactionOperation::Begin => "BEGIN",
                    TransactionOperation::Rollback => "ROLLBACK",
                    _ => "COMMIT",
                }),
                // Inside a transaction a savepoint nests in it, harmlessly; outside one,
                // SAVEPOINT opens a transaction like BEGIN.
                AuthAction::Savepoint {
                    operation: TransactionOperation::Begin,
                    ..
                } if !st.in_transaction => Some("SAVEPOINT"),
                _ => None,
            };
            match refused {
                Some(what) => {
                    st.refused = Some(what.to_string());
                    Authorization::Deny
                }
                None => Authorization::Allow,
            }
        }))
        .map_err(crate::error::db)?;
        Ok(g)
    }

    fn arm(&self, in_transaction: bool) {
        if let Ok(mut st) = self.0.lock() {
            *st = GuardState {
                active: true,
                in_transaction,
                refused: None,
            };
        }
    }

    /// Stop checking; the statement it refused, if any.
    fn disarm(&self) -> Option<String> {
        match self.0.lock() {
            Ok(mut st) => {
                st.active = false;
                st.refused.take()
            }
            Err(_) => None,
        }
    }
}

/// The error for a transaction-control statement in a script.
fn refused(what: &str, in_transaction: bool) -> DbError {
    let (message, hint) = if in_transaction {
        (
            format!("{what} is refused: backstop runs this script in one transaction together with its history row and audit event, and ending that transaction early would leave part of the migration applied without them"),
            "remove it; statements that can't run in a transaction go in a migration with `transaction = false`",
        )
    } else {
        (
            format!("{what} is refused: this script runs outside a transaction (`transaction = false`), where backstop records each statement as it completes; a transaction of the script's own would take those records with it when it is rolled back"),
            "remove BEGIN/COMMIT and set `transaction = true` to run the whole migration in one transaction, or split it into migrations",
        )
    };
    DbError {
        hint: Some(hint.to_string()),
        ..DbError::other(message)
    }
}

/// Run exactly one statement; the truthiness of each returned row's first column.
pub(crate) fn execute(
    conn: &Connection,
    watchdog: &Watchdog,
    guard: &TxGuard,
    timeout: Option<Duration>,
    sql: &str,
) -> Result<FirstColumn, DbError> {
    // The engine sends one statement at a time so that errors name the statement and
    // non-transactional progress is exact; more than one here is a caller bug. rusqlite's
    // own check prepares the tail, which fails with "no such table" when the second
    // statement uses what the first creates, so the core splitter decides first.
    let statements = backstop_core::sql::split_for(backstop_core::driver::Engine::Sqlite, sql);
    if statements.len() > 1 {
        return Err(one_statement_only());
    }
    if statements.is_empty() {
        return Ok(Vec::new());
    }
    let was_autocommit = conn.is_autocommit();
    watchdog.arm(timeout);
    // The guard checks the script's statement while it is prepared, and only then: VACUUM
    // runs its own BEGIN … COMMIT while it steps (<https://sqlite.org/lang_vacuum.html>),
    // and those statements of SQLite's reach the authorizer too.
    guard.arm(!was_autocommit);
    let prepared = conn.prepare(sql);
    if let Some(what) = guard.disarm() {
        watchdog.disarm();
        return Err(refused(&what, !was_autocommit));
    }
    let result = match prepared {
        Ok(stmt) => run(stmt),
        // Only comments: nothing to run.
        Err(rusqlite::Error::Empty) => Ok(Vec::new()),
        Err(e) => Err(e),
    };
    let fired = watchdog.disarm();
    // Belt and braces: whatever the statement was, a transaction it left open is not one
    // backstop can record its bookkeeping in. Roll it back so nothing of it remains, and
    // fail the statement.
    if was_autocommit && !conn.is_autocommit() {
        let undone = conn.execute_batch("ROLLBACK");
        let mut e = refused("a statement that opens a transaction", false);
        if let Err(r) = undone {
            e.detail = Some(format!("rolling it back failed: {r}"));
        }
        return Err(e);
    }
    result.map_err(|e| map_err(e, if fired { timeout } else { None }))
}

fn run(mut stmt: rusqlite::Statement<'_>) -> rusqlite::Result<FirstColumn> {
    let has_columns = stmt.column_count() > 0;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        if has_columns {
            out.push(truthy(row.get_ref(0)?));
        }
    }
    Ok(out)
}

/// verify.sql's notion of false: NULL, 0, 0.0 and the texts '0', 'false', 'f' (any case;
/// the last two are how PostgreSQL prints booleans, so shared verify scripts agree).
pub(crate) fn truthy(v: ValueRef<'_>) -> bool {
    match v {
        ValueRef::Null => false,
        ValueRef::Integer(i) => i != 0,
        ValueRef::Real(f) => f != 0.0,
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t);
            let s = s.trim();
            !(s == "0" || s.eq_ignore_ascii_case("false") || s.eq_ignore_ascii_case("f"))
        }
        ValueRef::Blob(_) => true,
    }
}
