//! The connection settings every script starts from.
//!
//! A PRAGMA outlives the statement that ran it: `PRAGMA foreign_keys = OFF` in a
//! `transaction = false` migration (the table-rebuild recipe,
//! <https://sqlite.org/lang_altertable.html#otheralter>) would otherwise still be in force
//! for the next migration of the run, which would then commit rows a run of its own refuses.
//! Before each migration and rollback step, [`Baseline::restore`] puts back the flags the
//! connection had when backstop opened it (foreign keys on, the rest as SQLite's defaults).
//!
//! Within a step, backstop's own records (a `transaction = false` script's progress, the
//! history row and ledger event at its end) must be written whatever the script set:
//! [`allow_own_writes`] lifts what would refuse them for that write only, so the rest of the
//! script still runs as SQLite would run it after its PRAGMA.

use crate::error::db;
use backstop_core::driver::DbError;
use rusqlite::Connection;

/// Per-connection flags a script can change that alter what later SQL does: enforced
/// constraints, trigger recursion, ALTER TABLE semantics, whether writes are allowed, what
/// the schema may contain, the order of unordered results. Reading one touches no file, so
/// it never waits for another connection's lock.
const FLAGS: [&str; 8] = [
    "foreign_keys",
    "recursive_triggers",
    "ignore_check_constraints",
    "legacy_alter_table",
    "query_only",
    "trusted_schema",
    "writable_schema",
    "reverse_unordered_selects",
];

/// The flags as backstop set up the connection.
#[derive(Debug, Clone)]
pub(crate) struct Baseline {
    flags: [i64; FLAGS.len()],
}

impl Baseline {
    /// The flags now; call right after the connection is set up.
    pub(crate) fn capture(conn: &Connection) -> rusqlite::Result<Baseline> {
        Ok(Baseline { flags: read(conn)? })
    }

    /// Set back every flag that differs from the baseline. Only those: setting a flag
    /// expires every prepared statement of the connection, even to the same value.
    pub(crate) fn restore(&self, conn: &Connection) -> Result<(), DbError> {
        let now = read(conn).map_err(db)?;
        for ((name, want), have) in FLAGS.iter().zip(self.flags).zip(now) {
            if want != have {
                // A PRAGMA takes no bound parameters; the name is one of ours and the value
                // an integer SQLite reported.
                conn.execute_batch(&format!("PRAGMA {name} = {want}"))
                    .map_err(db)?;
            }
        }
        // Write-only, so it can't be compared: set it back every time (SQLite's default,
        // which backstop never changes).
        conn.execute_batch("PRAGMA case_sensitive_like = OFF")
            .map_err(db)?;
        restore_durability(conn).map_err(db)?;
        // Not a flag: reading it opens the file, which the step is about to do anyway.
        if max_page_count(conn).map_err(db)? < NO_PAGE_LIMIT {
            set_max_page_count(conn, NO_PAGE_LIMIT).map_err(db)?;
        }
        clear_session_objects(conn).map_err(db)
    }
}

/// Put back how the connection journals, syncs and locks the file, where a script changed
/// it for this connection only. `PRAGMA journal_mode = OFF` (or `MEMORY`) left in force
/// would make the next migration's rollback after a failure corrupt the database instead of
/// undoing it (<https://sqlite.org/pragma.html#pragma_journal_mode>); `synchronous = OFF`
/// would commit it without waiting for the disk; `locking_mode = EXCLUSIVE` would keep the
/// file locked against every other connection after the run's first write.
///
/// WAL is different: it is recorded in the file, so a connection opened for a run of its
/// own would find it too; it stays, as does leaving WAL (the file then records the rollback
/// journal, `delete`, which any new connection starts with).
fn restore_durability(conn: &Connection) -> rusqlite::Result<()> {
    let mode: String = conn
        .prepare_cached("PRAGMA main.journal_mode")?
        .query_row([], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("delete") {
        // Returns the mode now in force as a row: query it rather than execute it.
        conn.query_row("PRAGMA main.journal_mode = DELETE", [], |_| Ok(()))?;
    }
    // Not kept in the file: every new connection starts with FULL. (Reading it loads the
    // schema, so it is read here, where the step is about to, and not while connecting.)
    if synchronous(conn)? != FULL {
        conn.execute_batch("PRAGMA main.synchronous = FULL")?;
    }
    // Without a schema name the setting is also the default for databases attached later,
    // and reads back as that default: check both, set both.
    for read in ["PRAGMA locking_mode", "PRAGMA main.locking_mode"] {
        let locking: String = conn.prepare_cached(read)?.query_row([], |r| r.get(0))?;
        if !locking.eq_ignore_ascii_case("normal") {
            conn.query_row("PRAGMA locking_mode = NORMAL", [], |_| Ok(()))?;
            break;
        }
    }
    Ok(())
}

/// `PRAGMA synchronous = FULL`, SQLite's default (`SQLITE_DEFAULT_SYNCHRONOUS`, which the
/// bundled library keeps).
const FULL: i64 = 2;

fn synchronous(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("PRAGMA main.synchronous")?
        .query_row([], |r| r.get(0))
}

/// SQLite's largest `max_page_count` (`SQLITE_MAX_PAGE_COUNT`), which is also its default:
/// no limit on the database's size. backstop never sets a lower one.
const NO_PAGE_LIMIT: i64 = 4_294_967_294;

/// What [`allow_own_writes`] changed, to be put back with [`Lifted::restore`].
#[must_use = "the script's settings must be put back after backstop's write"]
#[derive(Debug)]
pub(crate) struct Lifted {
    query_only: bool,
    max_page_count: Option<i64>,
}

/// Lift the settings a script may have left that refuse backstop's own writes:
/// `PRAGMA query_only = ON` refuses every write (BEGIN IMMEDIATE included), and a lowered
/// `max_page_count` every write that needs a new page. Left in force, they would keep
/// backstop from recording the very migration that set them, leaving it dirty. Other
/// settings don't stop a write: backstop's tables have no foreign keys or triggers.
pub(crate) fn allow_own_writes(conn: &Connection) -> rusqlite::Result<Lifted> {
    let query_only: bool = conn
        .prepare_cached("PRAGMA query_only")?
        .query_row([], |r| r.get(0))?;
    let max = max_page_count(conn)?;
    let lifted = Lifted {
        query_only,
        max_page_count: (max < NO_PAGE_LIMIT).then_some(max),
    };
    // Only what is in the way: setting a PRAGMA expires every prepared statement.
    if lifted.query_only {
        conn.execute_batch("PRAGMA query_only = OFF")?;
    }
    if lifted.max_page_count.is_some() {
        set_max_page_count(conn, NO_PAGE_LIMIT)?;
    }
    Ok(lifted)
}

impl Lifted {
    /// Put back what the script had set. A limit below the database's new size becomes
    /// that size, as SQLite does with any such limit.
    pub(crate) fn restore(self, conn: &Connection) -> rusqlite::Result<()> {
        if let Some(max) = self.max_page_count {
            set_max_page_count(conn, max)?;
        }
        if self.query_only {
            conn.execute_batch("PRAGMA query_only = ON")?;
        }
        Ok(())
    }
}

fn max_page_count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("PRAGMA main.max_page_count")?
        .query_row([], |r| r.get(0))
}

fn set_max_page_count(conn: &Connection, max: i64) -> rusqlite::Result<()> {
    // Returns the limit now in force as a row: query it rather than execute it.
    conn.query_row(&format!("PRAGMA main.max_page_count = {max}"), [], |_| {
        Ok(())
    })
}

/// Databases a script attached and temporary tables, views and triggers it created belong
/// to its session only: a later migration must not see them (a TEMP trigger on a main
/// table would fire in it), just as it would not in a run of its own.
fn clear_session_objects(conn: &Connection) -> rusqlite::Result<()> {
    let attached: Vec<String> = conn
        .prepare_cached("SELECT name FROM pragma_database_list WHERE name NOT IN ('main', 'temp')")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for name in attached {
        conn.execute("DETACH DATABASE ?1", [&name])?;
    }
    // Triggers and views first: a table's drop would take its triggers anyway, but a view
    // may depend on a table.
    let temp: Vec<(String, String)> = conn
        .prepare_cached(
            "SELECT type, name FROM temp.sqlite_schema WHERE type IN ('trigger', 'view', 'table') \
             AND name NOT LIKE 'sqlite!_%' ESCAPE '!' \
             ORDER BY CASE type WHEN 'trigger' THEN 0 WHEN 'view' THEN 1 ELSE 2 END",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (kind, name) in temp {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        conn.execute_batch(&format!(
            "DROP {} IF EXISTS temp.{quoted}",
            kind.to_uppercase()
        ))?;
    }
    Ok(())
}

fn read(conn: &Connection) -> rusqlite::Result<[i64; FLAGS.len()]> {
    let mut out = [0; FLAGS.len()];
    for (slot, name) in out.iter_mut().zip(FLAGS) {
        *slot = conn
            .prepare_cached(&format!("PRAGMA {name}"))?
            .query_row([], |r| r.get(0))?;
    }
    Ok(out)
}
