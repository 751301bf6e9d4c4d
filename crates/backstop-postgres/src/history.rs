//! backstop's own tables in schema `backstop`: migration history, the audit ledger and the
//! ledger head. Writes use statements prepared once per connection, so each save is one
//! round trip (a migration run writes ~3 rows per migration, 1000 migrations in a row).

use crate::error;
use crate::pg::{Client, Row, Statement};
use crate::quote::quote_ident;
use backstop_core::driver::{DbError, DbErrorKind};
use backstop_core::history::{HistoryRow, Status, StoredState};
use backstop_core::ledger::Event;
use backstop_core::redact::redact;

/// Key of the transaction-level advisory lock that serializes `ensure_history`; distinct
/// from the migration lock so that creating the tables never waits for a running apply.
pub const ENSURE_LOCK_KEY: i64 = i64::from_be_bytes(*b"bstp_ddl");

/// Sent only when the schema is missing: PostgreSQL checks CREATE on the database before
/// it looks whether the schema exists, so even `IF NOT EXISTS` fails for a role that owns
/// (or may create in) an existing `backstop` schema but may not create schemas.
const CREATE_SCHEMA: &str = "CREATE SCHEMA IF NOT EXISTS backstop";

/// Created together under [`ENSURE_LOCK_KEY`], and only when all three are missing (as
/// with the schema, `CREATE TABLE IF NOT EXISTS` checks CREATE on the schema first).
/// `IF NOT EXISTS` alone is not enough: two sessions racing on `CREATE TABLE IF NOT EXISTS`
/// can both pass the check and one fails on the unique index of pg_type; the advisory lock
/// makes the second wait and then skip.
const CREATE_TABLES: &str = r#"
CREATE TABLE IF NOT EXISTS backstop.migrations (
    version            bigint PRIMARY KEY,
    name               text NOT NULL,
    checksum           text NOT NULL,
    up_sql             text NOT NULL,
    down_sql           text,
    verify_sql         text,
    irreversible       text,
    options            jsonb NOT NULL,
    release_id         text NOT NULL,
    actor              text NOT NULL,
    started_at         timestamptz NOT NULL,
    finished_at        timestamptz,
    duration_ms        bigint,
    fingerprint_before text NOT NULL,
    fingerprint_after  text,
    schema_delta       text NOT NULL,
    status             text NOT NULL CHECK (status IN ('applied', 'failed', 'rolled_back', 'dirty')),
    progress           integer NOT NULL DEFAULT 0,
    note               text
);
CREATE TABLE IF NOT EXISTS backstop.events (
    seq        bigint PRIMARY KEY,
    at         text NOT NULL,
    actor      text NOT NULL,
    kind       text NOT NULL,
    version    bigint,
    release_id text,
    reason     text,
    detail     text NOT NULL,
    prev_hash  text NOT NULL,
    hash       text NOT NULL
);
CREATE TABLE IF NOT EXISTS backstop.state (
    id          integer PRIMARY KEY CHECK (id = 1),
    ledger_seq  bigint NOT NULL,
    ledger_hash text NOT NULL,
    fingerprint text NOT NULL,
    schema_json text,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    catalog_stamp text
);
"#;

/// The expression for the missing ones of backstop's three tables, shared by
/// [`EXISTS_SQL`] and [`LAYOUT_SQL`].
macro_rules! missing_tables {
    () => {
        "pg_catalog.array_remove(ARRAY[\
         CASE WHEN pg_catalog.to_regclass('backstop.migrations') IS NULL THEN 'backstop.migrations' END, \
         CASE WHEN pg_catalog.to_regclass('backstop.events') IS NULL THEN 'backstop.events' END, \
         CASE WHEN pg_catalog.to_regclass('backstop.state') IS NULL THEN 'backstop.state' END], NULL)"
    };
}

/// Which of backstop's three tables are missing (all before the first write, none after).
/// `to_regclass` needs USAGE on schema `backstop` when the schema exists.
pub const EXISTS_SQL: &str = concat!("SELECT ", missing_tables!());

/// Asked under [`ENSURE_LOCK_KEY`], to create only what a racing session didn't: the role
/// and database (for messages), whether the schema exists, and the missing tables.
const LAYOUT_SQL: &str = concat!(
    "SELECT current_user::pg_catalog.text, pg_catalog.current_database()::pg_catalog.text, \
     pg_catalog.to_regnamespace('backstop') IS NOT NULL, ",
    missing_tables!()
);

/// The role and database a session runs as, for messages.
const WHO_SQL: &str =
    "SELECT current_user::pg_catalog.text, pg_catalog.current_database()::pg_catalog.text";

/// Whether `backstop.state` has `catalog_stamp`, added after the first layout.
const STAMP_COLUMN_SQL: &str = "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute \
     WHERE attrelid = pg_catalog.to_regclass('backstop.state') AND attname = 'catalog_stamp' AND NOT attisdropped)";

const ADD_STAMP_COLUMN: &str =
    "ALTER TABLE backstop.state ADD COLUMN IF NOT EXISTS catalog_stamp text";

/// RFC 3339 UTC with microseconds, independent of the session's TimeZone.
macro_rules! ts {
    ($col:literal) => {
        concat!(
            "to_char(",
            $col,
            " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        )
    };
}

const SAVE_HISTORY: &str = "INSERT INTO backstop.migrations AS m (version, name, checksum, up_sql, down_sql, \
     verify_sql, irreversible, options, release_id, actor, started_at, finished_at, duration_ms, \
     fingerprint_before, fingerprint_after, schema_delta, status, progress, note) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::pg_catalog.text::pg_catalog.jsonb, $9, $10, $11::pg_catalog.text::pg_catalog.timestamptz, \
     $12::pg_catalog.text::pg_catalog.timestamptz, $13, $14, $15, $16, $17, $18, $19) \
     ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, checksum = EXCLUDED.checksum, \
     up_sql = EXCLUDED.up_sql, down_sql = EXCLUDED.down_sql, verify_sql = EXCLUDED.verify_sql, \
     irreversible = EXCLUDED.irreversible, options = EXCLUDED.options, release_id = EXCLUDED.release_id, \
     actor = EXCLUDED.actor, started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, \
     duration_ms = EXCLUDED.duration_ms, fingerprint_before = EXCLUDED.fingerprint_before, \
     fingerprint_after = EXCLUDED.fingerprint_after, schema_delta = EXCLUDED.schema_delta, \
     status = EXCLUDED.status, progress = EXCLUDED.progress, note = EXCLUDED.note";

const LOAD_HISTORY: &str = concat!(
    "SELECT version, name, checksum, up_sql, down_sql, verify_sql, irreversible, options::pg_catalog.text, \
     release_id, actor, ",
    ts!("started_at"),
    ", ",
    ts!("finished_at"),
    ", duration_ms, fingerprint_before, fingerprint_after, schema_delta, status, progress, note \
     FROM backstop.migrations ORDER BY version"
);

/// [`LOAD_HISTORY`] without the stored scripts and schema delta, for listings — except a
/// dirty row's up.sql and down.sql, whose statements tell how far its run (an apply, or a
/// rollback step) got.
const LOAD_HISTORY_BRIEF: &str = concat!(
    "SELECT version, name, checksum, CASE WHEN status = 'dirty' THEN up_sql ELSE '' END, CASE WHEN status = 'dirty' THEN down_sql END, NULL::pg_catalog.text, irreversible, options::pg_catalog.text, \
     release_id, actor, ",
    ts!("started_at"),
    ", ",
    ts!("finished_at"),
    ", duration_ms, fingerprint_before, fingerprint_after, ''::pg_catalog.text, status, progress, note \
     FROM backstop.migrations ORDER BY version"
);

const APPEND_EVENT: &str =
    "INSERT INTO backstop.events (seq, at, actor, kind, version, release_id, reason, \
     detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

const LOAD_EVENTS: &str =
    "SELECT seq, at, actor, kind, version, release_id, reason, detail, prev_hash, hash \
     FROM backstop.events ORDER BY seq";

/// [`LOAD_EVENTS`] for reading history against the ledger (`crosscheck`): the details
/// only of the events whose details say what a row must be (overrides, failures, resolves)
/// and of the last apply or rollback (the last fingerprint), of the other applies only the
/// checksum they recorded, and no hashes. The checksum is matched as text, not parsed: an
/// edited detail that is not JSON must not fail `status` (`audit verify` reports it).
/// Written canonically, it is the first `"checksum":"…"` in the detail; a quote inside a
/// string value is escaped, so a name can't fake one.
const LOAD_EVENTS_BRIEF: &str = concat!(
    "SELECT seq, at, actor, kind, version, release_id, reason, \
            CASE WHEN kind IN ('override', 'apply-failed', 'rollback-failed', 'resolve') \
                   OR seq = (SELECT max(seq) FROM backstop.events WHERE kind IN ('apply', 'rollback')) \
                 THEN detail \
                 WHEN kind IN ('apply', 'apply-started') \
                 THEN COALESCE('{\"checksum\":\"' || ",
    r#"substring(detail from '"checksum":"([^"\\]*)"')"#,
    " || '\"}', '{}') \
                 ELSE '{}' END, '', '' \
     FROM backstop.events ORDER BY seq"
);

/// The state row, compare-and-set: it is replaced only while it holds the head the writer
/// expects (`$6`, `$7`: [`StoredState::stored_head`]), and created only when there is none
/// (NULLs never match). Anything else writes nothing (0 rows): another run moved the head
/// meanwhile, and its newer head must not be overwritten with this one.
const SAVE_STATE: &str = "INSERT INTO backstop.state (id, ledger_seq, ledger_hash, fingerprint, schema_json, updated_at, catalog_stamp) \
     VALUES (1, $1, $2, $3, $4, now(), $5) ON CONFLICT (id) DO UPDATE SET ledger_seq = EXCLUDED.ledger_seq, \
     ledger_hash = EXCLUDED.ledger_hash, fingerprint = EXCLUDED.fingerprint, \
     schema_json = COALESCE(EXCLUDED.schema_json, backstop.state.schema_json), updated_at = EXCLUDED.updated_at, \
     catalog_stamp = EXCLUDED.catalog_stamp \
     WHERE backstop.state.ledger_seq = $6 AND backstop.state.ledger_hash = $7";

/// [`SAVE_STATE`] for a state table of the first layout, which a role that doesn't own it
/// could not extend: everything but the stamp (which then stays unknown).
const SAVE_STATE_V1: &str = "INSERT INTO backstop.state (id, ledger_seq, ledger_hash, fingerprint, schema_json, updated_at) \
     VALUES (1, $1, $2, $3, $4, now()) ON CONFLICT (id) DO UPDATE SET ledger_seq = EXCLUDED.ledger_seq, \
     ledger_hash = EXCLUDED.ledger_hash, fingerprint = EXCLUDED.fingerprint, \
     schema_json = COALESCE(EXCLUDED.schema_json, backstop.state.schema_json), updated_at = EXCLUDED.updated_at \
     WHERE backstop.state.ledger_seq = $5 AND backstop.state.ledger_hash = $6";

/// [`APPEND_EVENT`] inside [`record_sql`], after the state row's compare-and-set `s`: the
/// event's `seq` is taken through `s`, so when the state row was not written (another run
/// moved the head) it is NULL, and the whole statement fails on the column's NOT NULL,
/// history row and all ([`write_error`] tells that error from others). A failing
/// statement, rather than one that writes nothing: the COMMIT sent with it
/// ([`record_and_commit`]) must roll the migration back, not commit it unrecorded.
const APPEND_EVENT_AFTER_STATE: &str =
    "INSERT INTO backstop.events (seq, at, actor, kind, version, release_id, reason, \
     detail, prev_hash, hash) VALUES ((SELECT $1::pg_catalog.int8 FROM s), $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// Reads the stamp through `to_jsonb` so that a state table of the first layout (no
/// column yet: `status` never creates or alters anything) still loads.
const LOAD_STATE: &str = "SELECT ledger_seq, ledger_hash, fingerprint, schema_json, \
     pg_catalog.to_jsonb(s) ->> 'catalog_stamp' FROM backstop.state s WHERE id = 1";

type Param<'a> = &'a (dyn crate::pg::types::ToSql + Sync);

/// Parameters of [`SAVE_HISTORY`], in order. `options` and `status` are the row's
/// serialised options and status text, owned by the caller.
fn history_params<'a>(
    r: &'a HistoryRow,
    options: &'a String,
    status: &'a &'static str,
) -> [Param<'a>; 19] {
    [
        &r.version,
        &r.name,
        &r.checksum,
        &r.up_sql,
        &r.down_sql,
        &r.verify_sql,
        &r.irreversible,
        options,
        &r.release_id,
        &r.actor,
        &r.started_at,
        &r.finished_at,
        &r.duration_ms,
        &r.fingerprint_before,
        &r.fingerprint_after,
        &r.schema_delta,
        status,
        &r.progress,
        &r.note,
    ]
}

/// Parameters of [`APPEND_EVENT`], in order.
fn event_params(e: &Event) -> [Param<'_>; 10] {
    [
        &e.seq,
        &e.at,
        &e.actor,
        &e.kind,
        &e.version,
        &e.release_id,
        &e.reason,
        &e.detail,
        &e.prev_hash,
        &e.hash,
    ]
}

/// The head a state write expects to find ([`StoredState::stored_head`]), as parameters:
/// NULLs when it expects no row.
pub struct Expected<'a> {
    seq: Option<i64>,
    hash: Option<&'a str>,
}

impl<'a> Expected<'a> {
    pub fn of(s: &'a StoredState) -> Expected<'a> {
        Expected {
            seq: s.stored_head.as_ref().map(|h| h.0),
            hash: s.stored_head.as_ref().map(|h| h.1.as_str()),
        }
    }
}

/// Parameters of [`SAVE_STATE`] (with the stamp column) or [`SAVE_STATE_V1`], in order.
fn state_params<'a>(s: &'a StoredState, expected: &'a Expected<'a>, stamp: bool) -> Vec<Param<'a>> {
    let mut p: Vec<Param<'a>> = vec![
        &s.ledger_seq,
        &s.ledger_hash,
        &s.fingerprint,
        &s.schema_json,
    ];
    if stamp {
        p.push(&s.catalog_stamp);
    }
    p.push(&expected.seq);
    p.push(&expected.hash);
    p
}

/// A write's error: the NOT NULL of `events.seq` that [`APPEND_EVENT_AFTER_STATE`] meets
/// when the state row's compare-and-set wrote nothing is the head having moved, said as
/// such with the head `s` expected; anything else as the database said it.
fn write_error(e: &crate::pg::Error, s: &StoredState) -> DbError {
    let moved = e.as_db_error().is_some_and(|db| {
        *db.code() == crate::pg::error::SqlState::NOT_NULL_VIOLATION
            && db.schema() == Some("backstop")
            && db.table() == Some("events")
            && db.column() == Some("seq")
    });
    if moved {
        head_moved(s)
    } else {
        error::map(e)
    }
}

/// The refusal of a state write that found another head than `s` expected.
fn head_moved(s: &StoredState) -> DbError {
    backstop_core::history::head_moved(s.stored_head.as_ref(), "backstop.state")
}

fn options_json(r: &HistoryRow) -> Result<String, DbError> {
    serde_json::to_string(&r.options)
        .map_err(|e| DbError::other(format!("cannot serialize run options: {e}")))
}

/// History row + state + event in ONE statement (one round trip per migration instead of
/// three): data-modifying CTEs always run to completion, whether or not they are read, and
/// the event is written only through the state row's compare-and-set
/// ([`APPEND_EVENT_AFTER_STATE`]): all of it, or an error and nothing.
/// https://www.postgresql.org/docs/current/queries-with.html#QUERIES-WITH-MODIFYING
fn record_sql(with_history: bool, stamp: bool) -> String {
    // Shift every `$n` placeholder by `from`, reading whole numbers (so `$1` never
    // matches inside `$10`).
    let renumber = |sql: &str, from: usize| -> String {
        let mut out = String::with_capacity(sql.len() + 16);
        let mut chars = sql.chars().peekable();
        while let Some(c) = chars.next() {
            out.push(c);
            if c != '$' {
                continue;
            }
            let mut digits = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
            match digits.parse::<usize>() {
                Ok(n) => out.push_str(&(n + from).to_string()),
                Err(_) => out.push_str(&digits),
            }
        }
        out
    };
    let (event_from, state_from) = if with_history { (19, 29) } else { (0, 10) };
    let mut sql = String::from("WITH ");
    if with_history {
        sql.push_str(&format!("h AS ({SAVE_HISTORY} RETURNING 1), "));
    }
    sql.push_str(&format!(
        "s AS ({} RETURNING 1) ",
        renumber(if stamp { SAVE_STATE } else { SAVE_STATE_V1 }, state_from)
    ));
    sql.push_str(&renumber(APPEND_EVENT_AFTER_STATE, event_from));
    sql
}

/// Statements prepared on first use. Preparing needs the tables to exist, hence lazily.
#[derive(Default)]
pub struct Stmts {
    save_history: Option<Statement>,
    append_event: Option<Statement>,
    save_state: Option<Statement>,
    record_full: Option<Statement>,
    record_event: Option<Statement>,
    /// Whether the state table has the `catalog_stamp` column; `None` until looked up.
    stamp_column: Option<bool>,
}

/// Whether `backstop.state` has `catalog_stamp` (looked up once per connection).
fn stamp_column(client: &mut Client, stmts: &mut Stmts) -> Result<bool, DbError> {
    if let Some(known) = stmts.stamp_column {
        return Ok(known);
    }
    let has = client
        .query_one(STAMP_COLUMN_SQL, &[])
        .and_then(|r| r.try_get::<_, bool>(0))
        .map_err(|e| error::map(&e))?;
    stmts.stamp_column = Some(has);
    Ok(has)
}

/// Bring a state table of the first layout up to date, outside any transaction. A role
/// that may not alter it (it doesn't own it) carries on without the stamp.
pub fn upgrade(client: &mut Client, stmts: &mut Stmts) -> Result<(), DbError> {
    if stamp_column(client, stmts)? {
        return Ok(());
    }
    // ALTER TABLE waits for every session that has the table open and makes everyone
    // after it wait too: give up after a second and carry on without the stamp, rather
    // than hang a deploy (or its readers) behind a long transaction.
    let r = client.batch_execute(&format!(
        "BEGIN; SET LOCAL lock_timeout = '1s'; {ADD_STAMP_COLUMN}; COMMIT"
    ));
    if r.is_ok() {
        *stmts = Stmts::default();
        stmts.stamp_column = Some(true);
    } else {
        let _ = client.batch_execute("ROLLBACK");
    }
    Ok(())
}

/// See [`record_sql`].
pub fn record(
    client: &mut Client,
    stmts: &mut Stmts,
    row: Option<&HistoryRow>,
    e: &Event,
    s: &StoredState,
    around: Around<'_>,
) -> Result<(), DbError> {
    let options = row.map(options_json).transpose()?.unwrap_or_default();
    let status = row.map(|r| r.status.as_str()).unwrap_or_default();
    let expected = Expected::of(s);
    let (slot, sql, params) = record_parts(client, stmts, row, &options, &status, e, s, &expected)?;
    send(client, slot, sql, &params, around, |err| {
        write_error(err, s)
    })
    .map(|_| ())
}

/// The outcome of the record and of the COMMIT after it (`None`: not sent, because the
/// record failed before it left).
pub type RecordCommit = (Result<(), DbError>, Option<Result<(), DbError>>);

/// `before` (a `SET LOCAL`, inside the caller's transaction), [`record`], then `COMMIT`,
/// sent together (one round trip). The first result is the record's (or `before`'s, which
/// the record then failed behind): when it failed on the server, the server still ran the
/// COMMIT, which then rolled the transaction back. The second is the COMMIT's, `None` when
/// it was not sent. A record statement prepared here for the first time is prepared after
/// `before`, under what it set: preparing locks the tables it names.
pub fn record_and_commit(
    client: &mut Client,
    stmts: &mut Stmts,
    row: Option<&HistoryRow>,
    e: &Event,
    s: &StoredState,
    before: &str,
) -> Result<RecordCommit, DbError> {
    let options = row.map(options_json).transpose()?.unwrap_or_default();
    let status = row.map(|r| r.status.as_str()).unwrap_or_default();
    let expected = Expected::of(s);
    let (slot, sql, params) = record_parts(client, stmts, row, &options, &status, e, s, &expected)?;
    let (set, recorded, committed) = match slot.clone() {
        Some(stmt) => client.execute_between(before, &stmt, &params, "COMMIT"),
        None => {
            // Not a round trip more on the hot path: only a connection's first record.
            if let Err(err) = client.batch_execute(before) {
                return Ok((Err(error::map(&err)), None));
            }
            let stmt = match crate::prepared(client, slot, sql) {
                Ok(stmt) => stmt.clone(),
                // The transaction is still open (aborted, if the prepare failed on the
                // server), for the caller to roll back.
                Err(err) => return Ok((Err(err), None)),
            };
            let (recorded, committed) = client.execute_then(&stmt, &params, "COMMIT");
            (Ok(()), recorded, committed)
        }
    };
    let recorded = set
        .map_err(|err| error::map(&err))
        .and_then(|()| recorded.map(|_| ()).map_err(|err| write_error(&err, s)));
    Ok((
        recorded,
        committed.map(|c| c.map_err(|err| error::map(&err))),
    ))
}

/// The record statement for `row`/`e`/`s`: the slot it is prepared in, its text (for the
/// first use), and its parameters.
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
fn record_parts<'a, 's>(
    client: &mut Client,
    stmts: &'s mut Stmts,
    row: Option<&'a HistoryRow>,
    options: &'a String,
    status: &'a &'static str,
    e: &'a Event,
    s: &'a StoredState,
    expected: &'a Expected<'a>,
) -> Result<
    (
        &'s mut Option<Statement>,
        impl FnOnce() -> String,
        Vec<Param<'a>>,
    ),
    DbError,
> {
    let mut params: Vec<Param> = Vec::with_capacity(36);
    if let Some(r) = row {
        params.extend_from_slice(&history_params(r, options, status));
    }
    params.extend_from_slice(&event_params(e));
    let stamp = stamp_column(client, stmts)?;
    params.extend_from_slice(&state_params(s, expected, stamp));
    let slot = if row.is_some() {
        &mut stmts.record_full
    } else {
        &mut stmts.record_event
    };
    let with_history = row.is_some();
    Ok((slot, move || record_sql(with_history, stamp), params))
}

/// Whether backstop's tables exist. They are created together in one transaction, so
/// some without the others were dropped behind backstop's back: reading that as "no
/// history" would re-run every migration and call an emptied ledger intact, so it is an
/// error (a safety check fails, exit 3) for every command, as on SQLite.
pub fn exists(client: &mut Client) -> Result<bool, DbError> {
    let row = client
        .query_one(EXISTS_SQL, &[])
        .map_err(|e| error::map(&e))?;
    let missing: Vec<String> = row.try_get(0).map_err(|e| error::map(&e))?;
    match missing.len() {
        3 => Ok(false),
        0 => Ok(true),
        _ => Err(backstop_core::history::incomplete_history(&missing)),
    }
}

/// Create what is missing of schema and tables, and nothing that exists: a least-privilege
/// role that owns (or may create in) schema `backstop` needs no CREATE on the database, and
/// one that finds the tables there needs no CREATE at all. `in_transaction`: the caller's
/// transaction is open, so the DDL joins it instead of opening (and committing) its own.
/// A privilege the role lacks is a [`DbErrorKind::Privilege`] error naming what to grant;
/// nothing was changed then.
pub fn ensure(client: &mut Client, shown_url: &str, in_transaction: bool) -> Result<(), DbError> {
    match exists(client) {
        Ok(true) => return Ok(()),
        Ok(false) => {}
        Err(e) => {
            // Outside a transaction the session is still usable to ask who it is.
            let who = if in_transaction { None } else { who(client) };
            return Err(privilege_error(e, Step::Read, who.as_ref(), shown_url));
        }
    }
    let begin = if in_transaction { "" } else { "BEGIN; " };
    // The advisory lock makes a racing session wait, then find everything there.
    let r = client
        .batch_execute(&format!(
            "{begin}SELECT pg_catalog.pg_advisory_xact_lock({ENSURE_LOCK_KEY})"
        ))
        .map_err(|e| error::map(&e))
        .and_then(|()| create_missing(client, shown_url));
    if in_transaction {
        return r;
    }
    let r = r.and_then(|()| client.batch_execute("COMMIT").map_err(|e| error::map(&e)));
    if r.is_err() {
        let _ = client.batch_execute("ROLLBACK");
    }
    r
}

/// What setting up history was doing when the database said no.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Looking for the tables in schema `backstop`.
    Read,
    /// `CREATE SCHEMA backstop`.
    Schema,
    /// `CREATE TABLE backstop.…` (all three are missing).
    Tables,
}

/// The role and database of the session.
struct Who {
    role: String,
    database: String,
}

fn who(client: &mut Client) -> Option<Who> {
    let row = client.query_one(WHO_SQL, &[]).ok()?;
    Some(Who {
        role: row.try_get(0).ok()?,
        database: row.try_get(1).ok()?,
    })
}

/// Under [`ENSURE_LOCK_KEY`]: the schema if it is missing, the tables if they are.
fn create_missing(client: &mut Client, shown_url: &str) -> Result<(), DbError> {
    let row = client
        .query_one(LAYOUT_SQL, &[])
        .map_err(|e| error::map(&e))?;
    let who = Who {
        role: get(&row, 0)?,
        database: get(&row, 1)?,
    };
    let schema_exists: bool = get(&row, 2)?;
    let missing: Vec<String> = get(&row, 3)?;
    match missing.len() {
        // A racing session created them while this one waited for the lock.
        0 => return Ok(()),
        3 => {}
        _ => return Err(backstop_core::history::incomplete_history(&missing)),
    }
    let mut run = |sql: &str, step: Step| {
        client
            .batch_execute(sql)
            .map_err(|e| privilege_error(error::map(&e), step, Some(&who), shown_url))
    };
    if !schema_exists {
        run(CREATE_SCHEMA, Step::Schema)?;
    }
    run(CREATE_TABLES, Step::Tables)
}

/// A refused privilege (SQLSTATE 42501) on backstop's own schema or tables once they
/// exist: what backstop could not do, where, and what to grant (`role`: the role it
/// connects as, empty when unknown). Any other error as it is.
pub fn use_privilege_error(e: DbError, role: &str, shown_url: &str) -> DbError {
    if e.code.as_deref() != Some("42501") || e.kind == DbErrorKind::Privilege {
        return e;
    }
    let (who, grantee) = if role.is_empty() {
        (
            "the role backstop connects as".to_string(),
            "ROLE".to_string(),
        )
    } else {
        (format!("role {role}"), quote_ident(role))
    };
    DbError {
        kind: DbErrorKind::Privilege,
        message: redact(&format!(
            "cannot use backstop's history (schema backstop: tables migrations, events and state) in {shown_url}: {who} lacks a privilege on it (the database says: {})",
            e.message
        )),
        hint: Some(redact(&format!(
            "have the owner of schema backstop run `GRANT USAGE ON SCHEMA backstop TO {grantee}; GRANT SELECT, INSERT, UPDATE ON backstop.migrations, backstop.events, backstop.state TO {grantee}`, then run this command again"
        ))),
        ..e
    }
}

/// A refused privilege (SQLSTATE 42501) while setting up history, said as what backstop
/// could not do, where, and what to grant; any other error as it is.
fn privilege_error(e: DbError, step: Step, who: Option<&Who>, shown_url: &str) -> DbError {
    if e.code.as_deref() != Some("42501") {
        return e;
    }
    let role = who.map_or("the role backstop connects as".to_string(), |w| {
        format!("role {}", w.role)
    });
    // Names in the SQL to run are quoted; without a name, a placeholder to fill in.
    let grantee = who.map_or("ROLE".to_string(), |w| quote_ident(&w.role));
    let (what, next) = match step {
        Step::Read => (
            format!(
                "cannot look for backstop's history in schema backstop of {shown_url}: {role} may not use that schema"
            ),
            format!(
                "have the schema's owner run `GRANT USAGE ON SCHEMA backstop TO {grantee}` (and, while backstop's tables don't exist yet, `GRANT CREATE ON SCHEMA backstop TO {grantee}`), then run this command again"
            ),
        ),
        Step::Schema => {
            let database = who.map_or("DATABASE".to_string(), |w| quote_ident(&w.database));
            (
                format!(
                    "cannot create schema backstop, where backstop keeps its history, in {shown_url}: {role} may not create schemas in {}",
                    who.map_or("this database".to_string(), |w| format!("database {}", w.database))
                ),
                format!(
                    "have the database's owner either run `GRANT CREATE ON DATABASE {database} TO {grantee}`, or create the schema for the role with `CREATE SCHEMA backstop AUTHORIZATION {grantee}`, then run this command again"
                ),
            )
        }
        Step::Tables => (
            format!(
                "cannot create backstop's history tables (backstop.migrations, backstop.events, backstop.state) in schema backstop of {shown_url}: {role} may not create tables in that schema"
            ),
            format!(
                "have the schema's owner either run `GRANT CREATE ON SCHEMA backstop TO {grantee}` (or `ALTER SCHEMA backstop OWNER TO {grantee}`), or run this command once as a role that may create them and grant {grantee} USAGE on schema backstop and SELECT, INSERT, UPDATE on its tables; then run this command again"
            ),
        ),
    };
    DbError {
        kind: DbErrorKind::Privilege,
        message: redact(&format!("{what} (the database says: {})", e.message)),
        hint: Some(redact(&next)),
        ..e
    }
}

/// How one of backstop's writes is sent: between two simple queries that set up and end
/// what it runs in (a transaction or a savepoint with its own `lock_timeout`, or a
/// `SET LOCAL lock_timeout` in a migration's transaction and nothing after), all three in
/// one round trip.
#[derive(Clone, Copy)]
pub struct Around<'a> {
    pub before: &'a str,
    pub after: &'a str,
}

/// Send the write prepared from `sql` (in `slot`, on first use) with `params`, as `around`
/// says; how many rows it wrote. Between two queries, the first error is the write's: one
/// in `before` (the write then ran in an aborted transaction and failed for that), else the
/// write's own, else one in `after` (a COMMIT that failed). An error in `after` behind a
/// failed write is its echo ("current transaction is aborted") and not reported. The
/// write's own error is said by `written_error` ([`write_error`]).
///
/// Preparing parses the statement, which locks the tables it names: a statement prepared
/// here for the first time is prepared after `before` and under what it set (its
/// `lock_timeout`), a round trip of its own; then the write and `after` go in one.
fn send(
    client: &mut Client,
    slot: &mut Option<Statement>,
    sql: impl FnOnce() -> String,
    params: &[Param<'_>],
    around: Around<'_>,
    written_error: impl Fn(&crate::pg::Error) -> DbError,
) -> Result<u64, DbError> {
    let Around { before, after } = around;
    if let Some(stmt) = slot.clone() {
        let ((_, set_up), written, ended) = client.wrapped_execute(before, &stmt, params, after);
        set_up.map_err(|e| error::map(&e))?;
        let n = written.map_err(|e| written_error(&e))?;
        ended.map_err(|e| error::map(&e))?;
        return Ok(n);
    }
    let set_up = client.batch_execute(before);
    let stmt = set_up
        .map_err(|e| error::map(&e))
        .and_then(|()| crate::prepared(client, slot, sql).cloned());
    let stmt = match stmt {
        Ok(stmt) => stmt,
        Err(e) => {
            // End what `before` began (a COMMIT of an aborted transaction rolls it back).
            let _ = client.batch_execute(after);
            return Err(e);
        }
    };
    match client.execute_then(&stmt, params, after) {
        (written, Some(ended)) => {
            let n = written.map_err(|e| written_error(&e))?;
            ended.map_err(|e| error::map(&e))?;
            Ok(n)
        }
        // Not sent (a value that can't be encoded): `after` wasn't either.
        (written, None) => {
            let _ = client.batch_execute(after);
            written.map_err(|e| written_error(&e))
        }
    }
}

pub fn save_history(
    client: &mut Client,
    stmts: &mut Stmts,
    r: &HistoryRow,
    around: Around<'_>,
) -> Result<(), DbError> {
    let options = options_json(r)?;
    let status = r.status.as_str();
    let params = history_params(r, &options, &status);
    send(
        client,
        &mut stmts.save_history,
        || SAVE_HISTORY.into(),
        &params,
        around,
        error::map,
    )
    .map(|_| ())
}

fn get<'a, T: crate::pg::types::FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T, DbError> {
    row.try_get(idx).map_err(|e| error::map(&e))
}

pub fn load_history(client: &mut Client) -> Result<Vec<HistoryRow>, DbError> {
    load_history_with(client, LOAD_HISTORY)
}

pub fn load_history_brief(client: &mut Client) -> Result<Vec<HistoryRow>, DbError> {
    load_history_with(client, LOAD_HISTORY_BRIEF)
}

fn load_history_with(client: &mut Client, sql: &str) -> Result<Vec<HistoryRow>, DbError> {
    let rows = client.query(sql, &[]).map_err(|e| error::map(&e))?;
    rows.iter()
        .map(|row| {
            let version: i64 = get(row, 0)?;
            let options: String = get(row, 7)?;
            let status: String = get(row, 16)?;
            Ok(HistoryRow {
                version,
                name: get(row, 1)?,
                checksum: get(row, 2)?,
                up_sql: get(row, 3)?,
                down_sql: get(row, 4)?,
                verify_sql: get(row, 5)?,
                irreversible: get(row, 6)?,
                options: serde_json::from_str(&options).map_err(|e| {
                    DbError::other(format!(
                        "backstop.migrations version {version}: unreadable options {options}: {e}"
                    ))
                })?,
                release_id: get(row, 8)?,
                actor: get(row, 9)?,
                started_at: get(row, 10)?,
                finished_at: get(row, 11)?,
                duration_ms: get(row, 12)?,
                fingerprint_before: get(row, 13)?,
                fingerprint_after: get(row, 14)?,
                schema_delta: get(row, 15)?,
                status: Status::parse(&status).ok_or_else(|| {
                    DbError::other(format!(
                        "backstop.migrations version {version}: unknown status '{status}'"
                    ))
                })?,
                progress: get(row, 17)?,
                note: get(row, 18)?,
            })
        })
        .collect()
}

pub fn append_event(
    client: &mut Client,
    stmts: &mut Stmts,
    e: &Event,
    around: Around<'_>,
) -> Result<(), DbError> {
    let params = event_params(e);
    send(
        client,
        &mut stmts.append_event,
        || APPEND_EVENT.into(),
        &params,
        around,
        error::map,
    )
    .map(|_| ())
}

pub fn load_events(client: &mut Client) -> Result<Vec<Event>, DbError> {
    load_events_with(client, LOAD_EVENTS)
}

pub fn load_events_brief(client: &mut Client) -> Result<Vec<Event>, DbError> {
    load_events_with(client, LOAD_EVENTS_BRIEF)
}

fn load_events_with(client: &mut Client, sql: &str) -> Result<Vec<Event>, DbError> {
    let rows = client.query(sql, &[]).map_err(|e| error::map(&e))?;
    rows.iter()
        .map(|row| {
            Ok(Event {
                seq: get(row, 0)?,
                at: get(row, 1)?,
                actor: get(row, 2)?,
                kind: get(row, 3)?,
                version: get(row, 4)?,
                release_id: get(row, 5)?,
                reason: get(row, 6)?,
                detail: get(row, 7)?,
                prev_hash: get(row, 8)?,
                hash: get(row, 9)?,
            })
        })
        .collect()
}

pub fn save_state(
    client: &mut Client,
    stmts: &mut Stmts,
    s: &StoredState,
    around: Around<'_>,
) -> Result<(), DbError> {
    let stamp = stamp_column(client, stmts)?;
    let sql = if stamp { SAVE_STATE } else { SAVE_STATE_V1 };
    let expected = Expected::of(s);
    let params = state_params(s, &expected, stamp);
    let written = send(
        client,
        &mut stmts.save_state,
        || sql.into(),
        &params,
        around,
        error::map,
    )?;
    // Compare-and-set: no row written is another head in the row than `s` expected.
    if written == 0 {
        return Err(head_moved(s));
    }
    Ok(())
}

/// The state row as stored (`None` without it).
fn state_row(client: &mut Client) -> Result<Option<StoredState>, DbError> {
    let rows = client.query(LOAD_STATE, &[]).map_err(|e| error::map(&e))?;
    rows.first()
        .map(|row| {
            let (ledger_seq, ledger_hash): (i64, String) = (get(row, 0)?, get(row, 1)?);
            Ok(StoredState {
                stored_head: Some((ledger_seq, ledger_hash.clone())),
                ledger_seq,
                ledger_hash,
                fingerprint: get(row, 2)?,
                schema_json: get(row, 3)?,
                catalog_stamp: get(row, 4)?,
            })
        })
        .transpose()
}

/// The ledger head as the state row records it (`None` without the row), for `audit
/// verify`: a head taken from the ledger itself can't show that its last events were
/// deleted.
pub fn recorded_head(client: &mut Client) -> Result<Option<(i64, String)>, DbError> {
    Ok(state_row(client)?.map(|s| (s.ledger_seq, s.ledger_hash)))
}

/// The ledger's last event (`seq`, `hash`), `None` when it is empty.
pub fn ledger_end(client: &mut Client) -> Result<Option<(i64, String)>, DbError> {
    let rows = client
        .query(
            "SELECT seq, hash FROM backstop.events ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .map_err(|e| error::map(&e))?;
    rows.first()
        .map(|row| Ok((get(row, 0)?, get(row, 1)?)))
        .transpose()
}

/// The fingerprint a lost state row is read with: no schema has it, so the schema is
/// reported as drifted until someone accepts it as the baseline (`--allow-drift --reason`).
const LOST_FINGERPRINT: &str = "none (the backstop.state row was deleted)";

pub fn load_state(client: &mut Client) -> Result<Option<StoredState>, DbError> {
    if let Some(state) = state_row(client)? {
        return Ok(Some(state));
    }
    // No state row but events in the ledger: the row was deleted behind backstop's back.
    // Read as "no state", drift would go unchecked and the next event would be appended
    // as seq 1 (a duplicate key). The ledger's last event is the head; the recorded
    // fingerprint is gone, which is drift until a person accepts the current schema.
    Ok(ledger_end(client)?.map(|(seq, hash)| StoredState {
        ledger_seq: seq,
        ledger_hash: hash,
        fingerprint: LOST_FINGERPRINT.to_string(),
        schema_json: None,
        catalog_stamp: None,
        // There is no row: the first write creates it.
        stored_head: None,
    }))
}

#[cfg(test)]
mod record_sql_tests {
    #[test]
    fn placeholders_are_numbered_consecutively() {
        for (with_history, stamp, n) in [
            (true, true, 36),
            (false, true, 17),
            (true, false, 35),
            (false, false, 16),
        ] {
            let sql = super::record_sql(with_history, stamp);
            for i in 1..=n {
                assert!(sql.contains(&format!("${i}")), "${i} missing in {sql}");
            }
            assert!(!sql.contains(&format!("${}", n + 1)), "{sql}");
        }
    }
}
