//! The capability surface every database driver implements. The migration algorithm lives
//! once, in [`crate::engine`], and talks to databases only through [`Driver`].
//!
//! The trait is synchronous on purpose: a migration runner does one thing at a time on one
//! connection, and a synchronous `Drop` can always release the migration lock.

use crate::history::{HistoryRow, StoredState};
use crate::ledger::Event;
use crate::schema::{HealthIssue, SchemaState};
use serde::Serialize;
use std::time::Duration;

/// Which database engine a driver talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Postgres,
    Sqlite,
    Mysql,
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Engine::Postgres => "PostgreSQL",
            Engine::Sqlite => "SQLite",
            Engine::Mysql => "MySQL/MariaDB",
        })
    }
}

/// Broad class of a database error, for decisions the algorithm makes (retry, cleanup).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DbErrorKind {
    /// lock_timeout expired (PostgreSQL SQLSTATE 55P03; SQLite SQLITE_BUSY). Retryable.
    LockTimeout,
    /// statement_timeout expired (PostgreSQL 57014).
    StatementTimeout,
    /// The connection could not be made or was lost.
    Connection,
    /// A capability the engine lacks.
    Unsupported,
    /// backstop's own tables were changed behind its back (one dropped): a safety check
    /// fails, as for an edited ledger.
    Tampered,
    /// The migration lock was lost while the command held it (a migration's statement
    /// released it: `pg_advisory_unlock_all`, `DISCARD ALL`) and another session took it
    /// before backstop could take it back. Another run may be writing now: the command
    /// must change and write nothing more.
    LockLost,
    /// A write of backstop's state row found another ledger head there than the one the
    /// command read or last wrote ([`StoredState::stored_head`]): another run appended to
    /// the ledger meanwhile. Nothing of the write was made, so the ledger is intact
    /// ([`crate::history::head_moved`]).
    HeadMoved,
    /// The role lacks a privilege backstop needs for its own history, found before anything
    /// was changed (PostgreSQL SQLSTATE 42501 while creating the `backstop` schema or its
    /// tables). `message` says what backstop could not do, where and why; `hint` what to
    /// grant.
    Privilege,
    Other,
}

/// An error from the database, already redacted. Positions refer to the statement sent.
#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    pub kind: DbErrorKind,
    pub message: String,
    /// SQLSTATE (PostgreSQL, MySQL) or the SQLite error code name.
    pub code: Option<String>,
    /// 1-based character position in the statement, when the database gives one.
    pub position: Option<usize>,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl DbError {
    pub fn other(message: impl Into<String>) -> Self {
        DbError {
            kind: DbErrorKind::Other,
            message: crate::redact::redact(&message.into()),
            code: None,
            position: None,
            detail: None,
            hint: None,
        }
    }
    pub fn connection(message: impl Into<String>) -> Self {
        DbError {
            kind: DbErrorKind::Connection,
            ..DbError::other(message)
        }
    }
    /// A capability the engine lacks: a typed error, never a silent no-op.
    pub fn unsupported(capability: &str, engine: Engine) -> Self {
        DbError {
            kind: DbErrorKind::Unsupported,
            ..DbError::other(format!("{capability} is not supported on {engine}"))
        }
    }
}

/// Who holds the migration lock, as far as the database can tell.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LockHolder {
    pub pid: Option<i64>,
    pub application_name: Option<String>,
    /// When the holder's session (or lock) started, RFC 3339 or the database's text.
    pub since: Option<String>,
    /// Anything else useful (client address, host, actor).
    pub detail: Option<String>,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(p) = self.pid {
            parts.push(format!("pid {p}"));
        }
        if let Some(a) = &self.application_name {
            parts.push(format!("application_name '{a}'"));
        }
        if let Some(s) = &self.since {
            parts.push(format!("since {s}"));
        }
        if let Some(d) = &self.detail {
            parts.push(d.clone());
        }
        if parts.is_empty() {
            f.write_str("an unknown session")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// Result of one attempt to take the migration lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockAttempt {
    Acquired,
    Held(Option<LockHolder>),
}

/// Timeouts applied to the statements of one migration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub lock: Option<Duration>,
    pub statement: Option<Duration>,
}

/// [`Driver::record`], then [`Driver::commit`], one after the other: what
/// [`Driver::record_and_commit`] does unless a driver can send both at once.
pub fn record_then_commit<D: Driver + ?Sized>(
    db: &mut D,
    row: Option<&HistoryRow>,
    event: &Event,
    state: &StoredState,
) -> Result<(), RecordCommitError> {
    db.record(row, event, state)
        .map_err(RecordCommitError::Record)?;
    db.commit().map_err(RecordCommitError::Commit)
}

/// Which half of [`Driver::record_and_commit`] failed.
#[derive(Debug)]
pub enum RecordCommitError {
    /// Writing the bookkeeping failed, so nothing of the transaction was committed; it may
    /// still be open (roll it back).
    Record(DbError),
    /// COMMIT failed (a deferred constraint or trigger, or the connection): the
    /// transaction is over, and unless the connection was lost it was rolled back.
    Commit(DbError),
}

/// The first column of each row a statement returned, reduced to truthiness:
/// `false`, `0` and NULL are false. verify.sql fails on any false row.
pub type FirstColumn = Vec<bool>;

/// What a database must offer backstop. All methods act on one connection (session).
pub trait Driver {
    fn engine(&self) -> Engine;

    /// The URL with the password masked, for messages.
    fn display_url(&self) -> String;

    /// Whether DDL can run inside a transaction (PostgreSQL, SQLite: yes; MySQL: no).
    fn transactional_ddl(&self) -> bool;

    /// Whether backstop's history tables exist (never creates anything).
    fn history_exists(&mut self) -> Result<bool, DbError>;

    /// Create backstop's schema/tables when missing, and nothing that exists (a
    /// least-privilege role that finds them needs no CREATE privilege). Idempotent; safe
    /// under concurrency. A privilege the role lacks is a [`DbErrorKind::Privilege`] error.
    fn ensure_history(&mut self) -> Result<(), DbError>;

    /// One non-blocking attempt to take the migration lock (session-scoped: it dies with
    /// the process). Never blocks: a blocking wait deadlocks with CREATE INDEX CONCURRENTLY.
    fn try_lock(&mut self) -> Result<LockAttempt, DbError>;

    /// Release the migration lock. Called from a guard's Drop, so it must not panic.
    fn unlock(&mut self) -> Result<(), DbError>;

    /// Who holds the migration lock right now, when another session (or process) does:
    /// found without taking the lock, so that a command that only reads (`status`,
    /// `verify`) can tell a run that is still going from one that stopped, and never keeps
    /// a run that starts meanwhile from taking it. `None` when it is free or held by this
    /// connection; a holder the database can't describe is [`LockHolder::default`].
    fn lock_holder(&mut self) -> Result<Option<LockHolder>, DbError>;

    /// Start a read-only transaction in which every read of backstop's tables sees the
    /// database at one moment (PostgreSQL: `REPEATABLE READ READ ONLY`; SQLite: a deferred
    /// transaction, whose first read fixes what it sees). A run commits its history row,
    /// ledger event and state row together; a command that reads them without the
    /// migration lock and compares them (status, verify, plan, the dry runs, audit) reads
    /// them all in one such transaction, or a run committing between two reads would look
    /// like tampering. The schema is read in it only where
    /// [`Driver::snapshot_covers_schema`] says so.
    fn begin_read(&mut self) -> Result<(), DbError>;

    /// Whether [`Driver::schema`] inside a [`Driver::begin_read`] transaction reads the
    /// schema of that transaction's moment. SQLite: yes, the catalog is read from the file
    /// like any table. PostgreSQL: no — the catalog functions that print definitions
    /// (`pg_get_indexdef`, `pg_get_viewdef`, …) see the newest catalog, not the
    /// transaction's snapshot, and a read inside the transaction could not wait for a
    /// table lock the way one outside it does; the engine reads the schema after the
    /// transaction, and checks that no run recorded anything in between. The default: no.
    fn snapshot_covers_schema(&self) -> bool {
        false
    }

    /// End the transaction [`Driver::begin_read`] started (it wrote nothing: it is rolled
    /// back), whatever its reads met.
    fn end_read(&mut self) -> Result<(), DbError>;

    /// Put the session back to backstop's own settings. Called outside a transaction before
    /// each migration and each rollback step: a `transaction = false` script before it may
    /// have changed settings that outlive its statements (SQLite: `PRAGMA foreign_keys =
    /// OFF`), and the next script must run as it would in a run of its own. The default
    /// does nothing.
    fn reset_session(&mut self) -> Result<(), DbError> {
        Ok(())
    }

    /// Start a transaction with these timeouts local to it.
    fn begin(&mut self, timeouts: Timeouts) -> Result<(), DbError>;

    /// Start a transaction of a run (one migration or one rollback step) whose COMMIT may
    /// return before it is durable; [`Driver::flush`] at the end of the run makes it so.
    /// A server crash in between can lose the newest such transactions, each one whole
    /// (change, history row and ledger event together) and newest first, never one
    /// without the ones before it: history and schema always agree. Nothing is reported
    /// to the user as done before the flush. The default is an ordinary [`Driver::begin`].
    fn begin_batched(&mut self, timeouts: Timeouts) -> Result<(), DbError> {
        self.begin(timeouts)
    }

    /// Start a transaction for backstop's own bookkeeping (history rows, ledger events, the
    /// state row), between or after the statements of a run: its writes wait for another
    /// connection's lock on backstop's tables as the command waits for anything
    /// (`--lock-wait`), not as a migration's statements do (its `lock_timeout`), and a write
    /// that gives up says who holds what, where the database can tell. The default is
    /// [`Driver::begin`] without timeouts, which is that wait where the driver applies
    /// `--lock-wait` to transactions without one (SQLite).
    fn begin_bookkeeping(&mut self) -> Result<(), DbError> {
        self.begin(Timeouts::default())
    }

    /// A cheap token that changes whenever anything the schema fingerprint is read from
    /// changes (PostgreSQL: every catalog row carries the id of the transaction that wrote
    /// it). Equal stamps mean an equal schema, so `status` can skip reading the whole
    /// catalog; `None` when the driver has no such token.
    fn catalog_stamp(&mut self) -> Result<Option<String>, DbError> {
        Ok(None)
    }

    /// Make every commit so far durable. A no-op unless [`Driver::begin_batched`]
    /// transactions were committed since the last durable commit.
    fn flush(&mut self) -> Result<(), DbError> {
        Ok(())
    }
    fn commit(&mut self) -> Result<(), DbError>;
    fn rollback(&mut self) -> Result<(), DbError>;

    /// Set timeouts for the session (statements run outside a transaction). `None` resets.
    fn set_session_timeouts(&mut self, timeouts: Timeouts) -> Result<(), DbError>;

    /// Run one SQL statement; returns the truthiness of the first column of each row.
    fn execute(&mut self, sql: &str) -> Result<FirstColumn, DbError>;

    /// All history rows, ordered by version. Empty when the tables don't exist.
    fn load_history(&mut self) -> Result<Vec<HistoryRow>, DbError>;

    /// [`Driver::load_history`] for listing only: a driver may leave out the stored
    /// scripts and schema delta (empty `up_sql` and `schema_delta`, `None` for down and
    /// verify), which are most of its bytes — but not a dirty row's up.sql, which
    /// [`HistoryRow::explained_note`] counts. Never use these rows to undo anything.
    fn load_history_brief(&mut self) -> Result<Vec<HistoryRow>, DbError> {
        self.load_history()
    }

    /// Insert or replace the row for `row.version`.
    fn save_history(&mut self, row: &HistoryRow) -> Result<(), DbError>;

    /// All ledger events ordered by seq. Empty when the tables don't exist.
    fn load_events(&mut self) -> Result<Vec<Event>, DbError>;

    /// [`Driver::load_events`] for reading history against the ledger only
    /// (`crosscheck`): a driver may leave out the hashes and the details that check does
    /// not read (those of events other than overrides, failures, resolves and the last
    /// apply or rollback, except the `checksum` of each `apply` and `apply-started`, kept
    /// as a detail of its own), which are most of a long ledger's bytes. Never verify or
    /// export these.
    fn load_events_brief(&mut self) -> Result<Vec<Event>, DbError> {
        self.load_events()
    }

    fn append_event(&mut self, event: &Event) -> Result<(), DbError>;

    /// The ledger's last event as stored (`seq`, `hash`), whatever the state row says;
    /// `None` for an empty ledger or without history. A run checks the recorded head
    /// against it before it appends anything.
    fn ledger_end(&mut self) -> Result<Option<(i64, String)>, DbError> {
        Ok(self.load_events()?.pop().map(|e| (e.seq, e.hash)))
    }

    /// Write a migration's history row (if any), a ledger event and the state row, inside
    /// the caller's transaction: all of them, or (the state row no longer holding
    /// `state.stored_head`, as [`Driver::save_state`] says) none, with a
    /// [`DbErrorKind::HeadMoved`] error. A driver may do this in one round trip; the
    /// default makes three calls.
    fn record(
        &mut self,
        row: Option<&HistoryRow>,
        event: &Event,
        state: &StoredState,
    ) -> Result<(), DbError> {
        if let Some(r) = row {
            self.save_history(r)?;
        }
        self.append_event(event)?;
        self.save_state(state)
    }

    /// [`Driver::record`], then [`Driver::commit`]: the bookkeeping that ends every
    /// migration and rollback step. A driver may send both in one round trip; the error
    /// still says which of the two failed.
    fn record_and_commit(
        &mut self,
        row: Option<&HistoryRow>,
        event: &Event,
        state: &StoredState,
    ) -> Result<(), RecordCommitError> {
        record_then_commit(self, row, event, state)
    }
    /// The stored ledger head and last fingerprint; `None` before the first write. Its
    /// `stored_head` is the head the row holds (`None` when there is no row, even where the
    /// driver takes the head from the ledger's last event).
    fn load_state(&mut self) -> Result<Option<StoredState>, DbError>;

    /// The ledger head as the state row records it, for `audit verify`; `None` without a
    /// state row, even where [`Driver::load_state`] takes the ledger's last event for the
    /// head so that runs can go on (SQLite): a head read from the ledger itself can't show
    /// that events were deleted from its end.
    fn recorded_head(&mut self) -> Result<Option<(i64, String)>, DbError> {
        Ok(self.load_state()?.map(|s| (s.ledger_seq, s.ledger_hash)))
    }

    /// Write the state row, only while it still holds `state.stored_head` (`None`: only when
    /// there is no row): compare-and-set, so that a run that another run got past can never
    /// write its older head over the newer one. Otherwise nothing is written and the error
    /// is [`crate::history::head_moved`]'s ([`DbErrorKind::HeadMoved`]). `schema_json:
    /// None` keeps the stored schema text (it is large, and rewritten once at the end of a
    /// run, not after every migration).
    fn save_state(&mut self, state: &StoredState) -> Result<(), DbError>;

    /// Read the user schema (backstop's own objects excluded). With `previous`, a driver
    /// may refresh only the objects changed since `previous` was read on this connection
    /// (and must return the complete state either way).
    fn schema(&mut self, previous: Option<&SchemaState>) -> Result<SchemaState, DbError>;

    /// The engine will call [`Driver::schema`] with `previous` right after the next
    /// [`Driver::execute`] (the last statement of a migration or rollback step), with
    /// nothing in between: a driver may send that read together with the statement, one
    /// round trip instead of two. A hint only; ignoring it changes nothing.
    fn schema_read_follows(&mut self, _previous: &SchemaState) {}

    /// Invalid indexes, NOT VALID constraints, FK orphans.
    fn health(&mut self) -> Result<Vec<HealthIssue>, DbError>;

    /// Drop the INVALID index(es) that `failed`, a statement that failed outside a
    /// transaction, left behind (a failed `CREATE INDEX CONCURRENTLY` or `REINDEX …
    /// CONCURRENTLY`), except those named in `keep` (already invalid before). Never an index
    /// another statement or session made, nor one still being built. Returns what was
    /// dropped.
    fn drop_invalid_indexes(
        &mut self,
        keep: &[String],
        failed: &str,
    ) -> Result<Vec<String>, DbError>;
}
