//! Running one user statement, with statement_timeout.
//!
//! SQLite has no statement_timeout. A progress handler (called every [`PROGRESS_OPS`]
//! virtual-machine instructions) interrupts the statement once its deadline has passed;
//! SQLite then fails it with SQLITE_INTERRUPT, which we report as a statement timeout.
//! See <https://sqlite.org/c3ref/progress_handler.html>.

use crate::error::{map_err, one_statement_only};
use backstop_core::driver::{DbError, FirstColumn};
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
            d.at = timeout.and_then(|t| Instant::now().checked_add(t));
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

/// Run exactly one statement; the truthiness of each returned row's first column.
pub(crate) fn execute(
    conn: &Connection,
    watchdog: &Watchdog,
    timeout: Option<Duration>,
    sql: &str,
) -> Result<FirstColumn, DbError> {
    // The engine sends one statement at a time so that errors name the statement and
    // non-transactional progress is exact; more than one here is a caller bug. rusqlite's
    // own check prepares the tail, which fails with "no such table" when the second
    // statement uses what the first creates, so the core splitter decides first.
    let statements = backstop_core::sql::split(sql);
    if statements.len() > 1 {
        return Err(one_statement_only());
    }
    if statements.is_empty() {
        return Ok(Vec::new());
    }
    watchdog.arm(timeout);
    let result = run(conn, sql);
    let fired = watchdog.disarm();
    result.map_err(|e| map_err(e, if fired { timeout } else { None }))
}

fn run(conn: &Connection, sql: &str) -> rusqlite::Result<FirstColumn> {
    let mut stmt = match conn.prepare(sql) {
        Ok(s) => s,
        // Only comments: nothing to run.
        Err(rusqlite::Error::Empty) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
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
