//! backstop's own tables: migration history, the audit ledger and the ledger head.
//!
//! Text columns hold exactly what backstop wrote (events are hashed, so a single changed
//! byte would break the chain). Columns are plain `TEXT`/`INTEGER` rather than a STRICT
//! table so that older `sqlite3` shells can still open the file for inspection.

use crate::error::db;
use backstop_core::driver::DbError;
use backstop_core::history::{HistoryRow, Status, StoredState};
use backstop_core::ledger::Event;
use backstop_core::migration::RunOptions;
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};

/// Table names; every backstop object on SQLite starts with `backstop_`. [`crate::schema`]
/// leaves exactly these three tables out of the user schema (a user's own `backstop_*`
/// tables stay in), so a new table here must be added there too.
pub(crate) const MIGRATIONS: &str = "backstop_migrations";
/// The tables as named in backstop's own statements: in `main`, so that a temporary table
/// of the same name (left by a migration's script) can't take backstop's writes.
const MIGRATIONS_SQL: &str = "main.backstop_migrations";

pub(crate) const DDL: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS main.backstop_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        checksum TEXT NOT NULL,
        up_sql TEXT NOT NULL,
        down_sql TEXT,
        verify_sql TEXT,
        irreversible TEXT,
        options TEXT NOT NULL,
        release_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        duration_ms INTEGER,
        fingerprint_before TEXT NOT NULL,
        fingerprint_after TEXT,
        schema_delta TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('applied', 'failed', 'rolled_back', 'dirty')),
        progress INTEGER NOT NULL DEFAULT 0,
        note TEXT
    )",
    "CREATE TABLE IF NOT EXISTS main.backstop_events (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        version INTEGER,
        release_id TEXT,
        reason TEXT,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS main.backstop_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        ledger_seq INTEGER NOT NULL,
        ledger_hash TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        schema_json TEXT,
        updated_at TEXT NOT NULL
    )",
];

/// Whether all three tables exist. They are created in one transaction, so in practice
/// either all or none do; requiring all keeps a hand-damaged database from half-working.
pub(crate) fn exists(conn: &Connection) -> Result<bool, DbError> {
    let mut st = conn
        .prepare_cached("SELECT name FROM main.sqlite_schema WHERE type = 'table' AND name IN ('backstop_migrations', 'backstop_events', 'backstop_state')")
        .map_err(db)?;
    let present: Vec<String> = st
        .query_map([], |r| r.get(0))
        .map_err(db)?
        .collect::<Result<_, _>>()
        .map_err(db)?;
    let missing: Vec<String> = ["backstop_migrations", "backstop_events", "backstop_state"]
        .iter()
        .filter(|t| !present.iter().any(|p| p == *t))
        .map(|t| t.to_string())
        .collect();
    match missing.len() {
        3 => Ok(false),
        0 => Ok(true),
        // The tables are created together in one transaction: some without the others
        // were dropped behind backstop's back, and nothing read from the rest (least of
        // all "the ledger is intact") can be trusted.
        _ => Err(backstop_core::history::incomplete_history(&missing)),
    }
}

/// Create the tables. Callers wrap this in `BEGIN IMMEDIATE` (see `ensure_history`).
pub(crate) fn create(conn: &Connection) -> Result<(), DbError> {
    for ddl in DDL {
        conn.execute(ddl, []).map_err(db)?;
    }
    Ok(())
}

const HISTORY_COLUMNS: &str = "version, name, checksum, up_sql, down_sql, verify_sql, irreversible, options, release_id, actor, started_at, finished_at, duration_ms, fingerprint_before, fingerprint_after, schema_delta, status, progress, note";

pub(crate) fn load_history(conn: &Connection) -> Result<Vec<HistoryRow>, DbError> {
    if !exists(conn)? {
        return Ok(Vec::new());
    }
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {HISTORY_COLUMNS} FROM {MIGRATIONS_SQL} ORDER BY version"
        ))
        .map_err(db)?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(16)?,
                HistoryRow {
                    version: r.get(0)?,
                    name: r.get(1)?,
                    checksum: r.get(2)?,
                    up_sql: r.get(3)?,
                    down_sql: r.get(4)?,
                    verify_sql: r.get(5)?,
                    irreversible: r.get(6)?,
                    options: RunOptions::default(),
                    release_id: r.get(8)?,
                    actor: r.get(9)?,
                    started_at: r.get(10)?,
                    finished_at: r.get(11)?,
                    duration_ms: r.get(12)?,
                    fingerprint_before: r.get(13)?,
                    fingerprint_after: r.get(14)?,
                    schema_delta: r.get(15)?,
                    status: Status::Applied,
                    progress: r.get(17)?,
                    note: r.get(18)?,
                },
            ))
        })
        .map_err(db)?;
    let mut out = Vec::new();
    for row in rows {
        let (version, options, status, mut h) = row.map_err(db)?;
        // Decoded outside rusqlite's closure so the error can name the row and the value.
        h.options = serde_json::from_str(&options).map_err(|e| {
            DbError::other(format!(
                "{MIGRATIONS} row for version {version}: options {options:?} are not valid: {e}"
            ))
        })?;
        h.status = Status::parse(&status).ok_or_else(|| {
            DbError::other(format!(
                "{MIGRATIONS} row for version {version}: unknown status {status:?}"
            ))
        })?;
        out.push(h);
    }
    Ok(out)
}

pub(crate) fn save_history(conn: &Connection, h: &HistoryRow) -> Result<(), DbError> {
    let options = serde_json::to_string(&h.options).map_err(|e| {
        DbError::other(format!(
            "cannot encode the options of version {}: {e}",
            h.version
        ))
    })?;
    let mut st = conn
        .prepare_cached(&format!("INSERT OR REPLACE INTO {MIGRATIONS_SQL} ({HISTORY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"))
        .map_err(db)?;
    st.execute(params![
        h.version,
        h.name,
        h.checksum,
        h.up_sql,
        h.down_sql,
        h.verify_sql,
        h.irreversible,
        options,
        h.release_id,
        h.actor,
        h.started_at,
        h.finished_at,
        h.duration_ms,
        h.fingerprint_before,
        h.fingerprint_after,
        h.schema_delta,
        h.status.as_str(),
        h.progress,
        h.note,
    ])
    .map_err(db)?;
    Ok(())
}

/// A text column of an event as stored. backstop writes text, so a value of another type
/// (or text that is not UTF-8) was put there by someone else: it is read as text that
/// can't be what backstop hashed, so `audit verify` names the event as edited instead of
/// failing to read the ledger at all.
fn event_text(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Null => "<NULL>".into(),
        ValueRef::Integer(i) => format!("<INTEGER {i}>"),
        ValueRef::Real(f) => format!("<REAL {f}>"),
        ValueRef::Blob(b) => {
            let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
            format!("<BLOB X'{hex}'>")
        }
    }
}

fn event_opt_text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        other => Some(event_text(other)),
    }
}

/// The event's version as stored; a value that is not an integer (see [`event_text`]) is
/// read as one no event of backstop's has, so the event's hash can't match.
fn event_version(v: ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i),
        _ => Some(i64::MIN),
    }
}

pub(crate) fn load_events(conn: &Connection) -> Result<Vec<Event>, DbError> {
    load_events_with(conn, "SELECT seq, at, actor, kind, version, release_id, reason, detail, prev_hash, hash FROM main.backstop_events ORDER BY seq")
}

/// [`load_events`] for reading history against the ledger (`crosscheck`): the details
/// only of the events whose details say what a row must be (overrides, failures, resolves)
/// and of the last apply or rollback (the last fingerprint), of the other applies only the
/// checksum they recorded, and no hashes. A detail edited into something that is not JSON
/// gives none (`json_extract` would fail the whole read; `audit verify` reports it).
pub(crate) fn load_events_brief(conn: &Connection) -> Result<Vec<Event>, DbError> {
    load_events_with(conn, "SELECT seq, at, actor, kind, version, release_id, reason, \
        CASE WHEN kind IN ('override', 'apply-failed', 'rollback-failed', 'resolve') \
               OR seq = (SELECT max(seq) FROM main.backstop_events WHERE kind IN ('apply', 'rollback')) \
             THEN detail \
             WHEN kind IN ('apply', 'apply-started') AND json_valid(detail) \
             THEN json_object('checksum', json_extract(detail, '$.checksum')) \
             ELSE '{}' END, '', '' FROM main.backstop_events ORDER BY seq")
}

fn load_events_with(conn: &Connection, sql: &str) -> Result<Vec<Event>, DbError> {
    if !exists(conn)? {
        return Ok(Vec::new());
    }
    let mut st = conn.prepare_cached(sql).map_err(db)?;
    let rows = st
        .query_map([], |r| {
            Ok(Event {
                // INTEGER PRIMARY KEY: always an integer.
                seq: r.get(0)?,
                at: event_text(r.get_ref(1)?),
                actor: event_text(r.get_ref(2)?),
                kind: event_text(r.get_ref(3)?),
                version: event_version(r.get_ref(4)?),
                release_id: event_opt_text(r.get_ref(5)?),
                reason: event_opt_text(r.get_ref(6)?),
                detail: event_text(r.get_ref(7)?),
                prev_hash: event_text(r.get_ref(8)?),
                hash: event_text(r.get_ref(9)?),
            })
        })
        .map_err(db)?;
    rows.map(|r| r.map_err(db)).collect()
}

/// Plain INSERT: the ledger is append-only, so an existing `seq` is an error, not a replace.
pub(crate) fn append_event(conn: &Connection, e: &Event) -> Result<(), DbError> {
    let mut st = conn
        .prepare_cached("INSERT INTO main.backstop_events (seq, at, actor, kind, version, release_id, reason, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
        .map_err(db)?;
    st.execute(params![
        e.seq,
        e.at,
        e.actor,
        e.kind,
        e.version,
        e.release_id,
        e.reason,
        e.detail,
        e.prev_hash,
        e.hash
    ])
    .map_err(db)?;
    Ok(())
}

/// The fingerprint a lost state row is read with: no schema has it, so the schema is
/// reported as drifted until someone accepts it as the baseline (`--allow-drift --reason`).
pub(crate) const LOST_FINGERPRINT: &str = "none (the backstop_state row was deleted)";

pub(crate) fn load_state(conn: &Connection) -> Result<Option<StoredState>, DbError> {
    if !exists(conn)? {
        return Ok(None);
    }
    let mut st = conn.prepare_cached("SELECT ledger_seq, ledger_hash, fingerprint, schema_json FROM main.backstop_state WHERE id = 1").map_err(db)?;
    let state = st
        .query_row([], |r| {
            let (ledger_seq, ledger_hash): (i64, String) = (r.get(0)?, r.get(1)?);
            Ok(StoredState {
                stored_head: Some((ledger_seq, ledger_hash.clone())),
                ledger_seq,
                ledger_hash,
                fingerprint: r.get(2)?,
                schema_json: r.get(3)?,
                // SQLite reads its whole schema in milliseconds: no stamp needed.
                catalog_stamp: None,
            })
        })
        .optional()
        .map_err(db)?;
    if state.is_some() {
        return Ok(state);
    }
    // No state row but events in the ledger: the row was deleted behind backstop's back.
    // Read as "no state", the next event would be appended as seq 1 (a UNIQUE violation)
    // and drift would go unchecked. The ledger's last event is the head; the recorded
    // fingerprint is gone, which is drift until a person accepts the current schema.
    // `audit verify` does not take this head ([`recorded_head`]): it can't reveal events
    // deleted from the end.
    Ok(ledger_end(conn)?.map(|(seq, hash)| StoredState {
        ledger_seq: seq,
        ledger_hash: hash,
        fingerprint: LOST_FINGERPRINT.to_string(),
        schema_json: None,
        catalog_stamp: None,
        // There is no row: the first write creates it.
        stored_head: None,
    }))
}

/// The ledger's last event (`seq`, `hash`), `None` when it is empty or missing.
pub(crate) fn ledger_end(conn: &Connection) -> Result<Option<(i64, String)>, DbError> {
    if !exists(conn)? {
        return Ok(None);
    }
    let mut last = conn
        .prepare_cached("SELECT seq, hash FROM main.backstop_events ORDER BY seq DESC LIMIT 1")
        .map_err(db)?;
    last.query_row([], |r| Ok((r.get::<_, i64>(0)?, event_text(r.get_ref(1)?))))
        .optional()
        .map_err(db)
}

/// The head as the state row records it; `None` without one (see [`load_state`] for the
/// head runs go on with instead).
pub(crate) fn recorded_head(conn: &Connection) -> Result<Option<(i64, String)>, DbError> {
    if !exists(conn)? {
        return Ok(None);
    }
    let mut st = conn
        .prepare_cached("SELECT ledger_seq, ledger_hash FROM main.backstop_state WHERE id = 1")
        .map_err(db)?;
    st.query_row([], |r| Ok((r.get(0)?, event_text(r.get_ref(1)?))))
        .optional()
        .map_err(db)
}

/// Compare-and-set: the row is replaced only while it holds the head `s` expects
/// ([`StoredState::stored_head`]), and created only when there is none (NULLs never
/// match); otherwise nothing is written and the error says the head moved. Another run
/// can't write while this one holds the file's write lock, but a head moved behind the
/// command's back must never be set back either way.
pub(crate) fn save_state(conn: &Connection, s: &StoredState) -> Result<(), DbError> {
    let mut st = conn
        .prepare_cached("INSERT INTO main.backstop_state (id, ledger_seq, ledger_hash, fingerprint, schema_json, updated_at) VALUES (1, ?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (id) DO UPDATE SET ledger_seq = excluded.ledger_seq, ledger_hash = excluded.ledger_hash, \
             fingerprint = excluded.fingerprint, schema_json = COALESCE(excluded.schema_json, backstop_state.schema_json), updated_at = excluded.updated_at \
             WHERE backstop_state.ledger_seq = ?6 AND backstop_state.ledger_hash = ?7")
        .map_err(db)?;
    let written = st
        .execute(params![
            s.ledger_seq,
            s.ledger_hash,
            s.fingerprint,
            s.schema_json,
            backstop_core::now_rfc3339(),
            s.stored_head.as_ref().map(|h| h.0),
            s.stored_head.as_ref().map(|h| h.1.as_str()),
        ])
        .map_err(db)?;
    if written == 0 {
        return Err(backstop_core::history::head_moved(
            s.stored_head.as_ref(),
            "backstop_state",
        ));
    }
    Ok(())
}
