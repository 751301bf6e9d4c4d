//! backstop-sqlite: the SQLite driver, backstop's embedded default (`sqlite://backstop.db`).
//!
//! It owns everything SQLite-specific behind [`backstop_core::driver::Driver`]:
//! - [`connect`] / [`SqliteDriver`]: `sqlite://PATH`, `sqlite:PATH`, `sqlite:///abs/path`,
//!   `sqlite::memory:`, opened with rusqlite's bundled SQLite (no system library);
//! - the migration lock: an OS file lock on a sidecar `PATH.lock` that dies with the
//!   process (`lock`), process-local for in-memory databases;
//! - history, ledger and ledger head as `backstop_*` tables (`history`);
//! - waiting for another connection's lock on the file, as lock_timeout, and saying who
//!   holds it (`busy`);
//! - transactions (`BEGIN IMMEDIATE`), a progress handler as statement_timeout, and an
//!   authorizer that keeps scripts from opening or ending transactions themselves (`exec`);
//! - the canonical schema read from the catalog pragmas, and FK-orphan health (`schema`);
//! - the connection settings each migration starts from, whatever a script before it set
//!   with PRAGMA, and backstop's own writes in spite of them (`session`);
//! - error mapping to [`DbError`] with SQLite's extended result code names (`error`).

mod busy;
mod error;
mod exec;
mod history;
mod lock;
mod schema;
mod session;
mod sqltext;
mod url;

pub use busy::Notice;

use backstop_core::driver::{
    DbError, DbErrorKind, Driver, Engine, FirstColumn, LockAttempt, LockHolder, Timeouts,
};
use backstop_core::history::{HistoryRow, StoredState};
use backstop_core::ledger::Event;
use backstop_core::redact::redact;
use backstop_core::schema::{HealthIssue, SchemaState};
use error::db;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a statement of a migration's transaction waits for another connection's lock
/// when no lock_timeout is set, instead of failing at once with SQLITE_BUSY (several
/// backstop processes, or the application itself, may write to the same file). Outside a
/// transaction the wait is [`SqliteDriver::set_lock_wait`]'s, this by default.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// A wait without limit (a zero lock_timeout): longer than anything runs.
pub(crate) const NO_LIMIT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// How long each of backstop's own writes waits for another connection's lock once one of
/// them has waited the whole `--lock-wait` and given up, until one goes through or the
/// next command takes the migration lock. A failure's report writes more than once (its
/// row and event, the end-of-run save), and each would wait for the same holder: a second
/// full wait apiece would make the person wait `--lock-wait` once more per write for the
/// same report. Not no wait at all: each write still tries, and goes through if the holder
/// let go meanwhile.
const ONCE_MORE: Duration = Duration::from_secs(1);

/// A connection to one SQLite database.
pub struct SqliteDriver {
    conn: Connection,
    url: String,
    /// The database file (absolute); `None` for `:memory:`.
    path: Option<PathBuf>,
    /// The sidecar lock for a file database; `None` for `:memory:`, whose lock is
    /// process-local by nature (no other process can open that database).
    lock: Option<lock::FileLock>,
    application_name: String,
    session: Timeouts,
    /// Timeouts of the open transaction, which override the session's until it ends.
    transaction: Option<Timeouts>,
    watchdog: exec::Watchdog,
    tx_guard: exec::TxGuard,
    waiter: busy::Waiter,
    /// How long work outside a transaction waits for another connection's lock.
    lock_wait: Duration,
    /// [`Self::check_writable`] passed: the lock is polled while another run holds it, and
    /// the answer doesn't need a probe file each time.
    writable_checked: bool,
    /// The settings each migration and rollback step starts from.
    baseline: session::Baseline,
    /// The open transaction is backstop's own bookkeeping ([`Driver::begin_bookkeeping`]).
    own_tx: bool,
    /// One of backstop's own writes waited the whole `--lock-wait` and gave up: the ones
    /// after it wait at most [`ONCE_MORE`].
    gave_up: std::cell::Cell<bool>,
}

impl std::fmt::Debug for SqliteDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDriver")
            .field("url", &redact(&self.url))
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Whether `url` names an SQLite database that exists (or an in-memory one): commands that
/// only read must not create an empty file at a mistyped path and report on it.
pub fn exists(url: &str) -> Result<bool, DbError> {
    Ok(file(url)?.is_none_or(|p| p.exists()))
}

/// The database file a `sqlite:` URL names, as written in the URL (a relative path is
/// relative to the current directory); `None` for an in-memory database.
pub fn file(url: &str) -> Result<Option<std::path::PathBuf>, DbError> {
    Ok(match url::parse(url)? {
        url::Target::Memory => None,
        url::Target::File(p) => Some(p),
    })
}

/// Open the database a `sqlite:` URL names, creating the file when it does not exist.
pub fn connect(url: &str) -> Result<SqliteDriver, DbError> {
    open(url, url::parse(url)?)
}

/// An empty in-memory database that names itself by `url`: what a command that only reads
/// (`status`, `plan`, `schema`, a dry run) shows for a database file the first `apply` has
/// not created yet — without creating it.
pub fn connect_empty(url: &str) -> Result<SqliteDriver, DbError> {
    url::parse(url)?;
    open(url, url::Target::Memory)
}

fn open(url: &str, target: url::Target) -> Result<SqliteDriver, DbError> {
    // Not SQLITE_OPEN_URI: a path like `file:x.db` is a file name here, not a URI with options.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let (mut conn, path) = match target {
        url::Target::Memory => (
            Connection::open_in_memory_with_flags(flags).map_err(db)?,
            None,
        ),
        url::Target::File(p) => {
            // Absolute, so the database and its lock file stay the same even if the
            // process changes directory.
            let abs = std::path::absolute(&p).map_err(|e| {
                DbError::connection(format!(
                    "cannot resolve SQLite database path {}: {e}",
                    p.display()
                ))
            })?;
            if let Some(parent) = abs.parent().filter(|d| !d.as_os_str().is_empty()) {
                if !parent.is_dir() {
                    return Err(DbError::connection(format!(
                        "cannot open SQLite database {}: directory {} does not exist",
                        p.display(),
                        parent.display()
                    )));
                }
            }
            let conn = Connection::open_with_flags(&abs, flags).map_err(|e| {
                let mut err = db(e);
                err.kind = backstop_core::driver::DbErrorKind::Connection;
                err.message = redact(&format!(
                    "cannot open SQLite database {}: {}",
                    p.display(),
                    err.message
                ));
                err
            })?;
            (conn, Some(abs))
        }
    };
    let opened = |e: rusqlite::Error| {
        let mut err = db(e);
        err.kind = backstop_core::driver::DbErrorKind::Connection;
        err.message = redact(&format!(
            "cannot use SQLite database {}: {}",
            path.as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| ":memory:".into()),
            err.message
        ));
        err
    };
    // Beside the file itself, as SQLite keeps its journal: two runs that reach the same
    // database through different paths (a symlink, `..`) must meet at the same lock. (A
    // hard link is another name for the file that no path resolves to: use one path.)
    let lock_file = path.as_ref().map(|p| {
        let real = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
        let mut name = real.into_os_string();
        name.push(".lock");
        PathBuf::from(name)
    });
    // No wait while connecting: a command must reach its own wait for the migration lock
    // (or its first read, with the wait it was given) instead of spending a fixed time here.
    let waiter = busy::Waiter::install(
        &mut conn,
        path.clone().zip(lock_file.clone()),
        Duration::ZERO,
    )?;
    // SQLite leaves foreign keys unenforced unless each connection turns them on; users who
    // declare REFERENCES expect them enforced, in migrations and verify scripts alike. The
    // pragma is a no-op inside a transaction, so a table rebuild that drops a parent table
    // runs with `transaction = false` and `PRAGMA foreign_keys = OFF` first (SQLite's own
    // recipe). `PRAGMA defer_foreign_keys` is no substitute: it delays the checks, not the
    // actions, so dropping the parent still deletes the rows ON DELETE CASCADE points at.
    conn.execute_batch("PRAGMA foreign_keys = ON")
        .map_err(opened)?;
    // Read the header now, so a file that is not a database fails here, naming the path.
    // A file that is locked is a database (another connection is writing it); the first
    // real read waits for it.
    let header = conn.query_row("SELECT count(*) FROM main.sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    });
    if let Err(e) = header {
        let busy = matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        if !busy {
            return Err(opened(e));
        }
    }
    waiter.set_limit(DEFAULT_BUSY_TIMEOUT);
    let baseline = session::Baseline::capture(&conn).map_err(opened)?;
    let watchdog = exec::Watchdog::install(&mut conn)?;
    let tx_guard = exec::TxGuard::install(&mut conn)?;
    let lock = lock_file.map(lock::FileLock::new);
    Ok(SqliteDriver {
        conn,
        url: url.to_string(),
        path,
        lock,
        application_name: "backstop".to_string(),
        session: Timeouts::default(),
        transaction: None,
        watchdog,
        tx_guard,
        waiter,
        lock_wait: DEFAULT_BUSY_TIMEOUT,
        writable_checked: false,
        baseline,
        own_tx: false,
        gave_up: std::cell::Cell::new(false),
    })
}

impl SqliteDriver {
    /// Whether this process can write the database and create the journal beside it.
    /// SQLite opens a file it may not write read-only without a word, and a directory it
    /// may not write fails only when the first transaction needs its journal.
    fn check_writable(&self) -> Result<(), DbError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let refuse = |what: String| {
            Err(DbError::connection(format!(
                "{what}, so nothing can be applied, rolled back or recorded there; nothing was changed. Run as the user that owns it, or fix its permissions"
            )))
        };
        if self.conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
            return refuse(format!(
                "SQLite database {} is read-only for this user",
                path.display()
            ));
        }
        // The journal (or WAL) goes beside the file's real path: a probe file there, gone
        // at once. Not the database file itself: closing a descriptor of it would drop the
        // locks SQLite holds on it in this process.
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        if let Some(dir) = real.parent() {
            let probe = dir.join(format!(".backstop-write-probe-{}", std::process::id()));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&probe)
            {
                Ok(_) => {
                    let _ = std::fs::remove_file(&probe);
                }
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    return refuse(format!(
                        "directory {} of SQLite database {} is not writable for this user (SQLite creates its journal there)",
                        dir.display(),
                        path.display()
                    ));
                }
                // Anything else (a leftover probe, say) is not this question's answer.
                Err(_) => {}
            }
        }
        Ok(())
    }

    /// Name written into the lock file, reported to whoever waits for the lock.
    pub fn set_application_name(&mut self, name: &str) {
        self.application_name = name.to_string();
    }

    /// The database file (absolute), or `None` for an in-memory database.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The sidecar file the migration lock is taken on, or `None` for an in-memory database.
    pub fn lock_path(&self) -> Option<&Path> {
        self.lock.as_ref().map(lock::FileLock::path)
    }

    /// The timeouts in force: the transaction's where it sets one, else the session's.
    fn effective(&self) -> Timeouts {
        let tx = self.transaction.unwrap_or_default();
        Timeouts {
            lock: tx.lock.or(self.session.lock),
            statement: tx.statement.or(self.session.statement),
        }
    }

    fn apply_busy_timeout(&self) -> Result<(), DbError> {
        let t = match self.effective().lock {
            // Zero means no limit, as lock_timeout = 0 does in PostgreSQL.
            Some(t) if t.is_zero() => NO_LIMIT,
            Some(t) => t,
            // Without a lock_timeout — backstop's own reads and writes, its bookkeeping
            // transactions (a failure's event), a migration that sets none — the wait is
            // the command's: a status run during a long migration waits as long as an
            // apply would for the lock, and a failure is recorded after the same wait
            // rather than dropped after a shorter one.
            None if self.own_tx => self.own_wait(),
            None => self.lock_wait,
        };
        self.waiter.set_limit(t);
        Ok(())
    }

    /// How long one of backstop's own writes waits for another connection's lock:
    /// `--lock-wait`, or [`ONCE_MORE`] after one of them gave up.
    fn own_wait(&self) -> Duration {
        if self.gave_up.get() {
            ONCE_MORE.min(self.lock_wait)
        } else {
            self.lock_wait
        }
    }

    /// [`Self::own_wait`] as an error's detail names it.
    fn own_wait_named(&self) -> String {
        if self.gave_up.get() {
            format!(
                "{} more (an earlier write of this command had waited --lock-wait ({}) for it)",
                busy::humanize(self.own_wait()),
                busy::humanize(self.lock_wait)
            )
        } else {
            format!("--lock-wait ({})", busy::humanize(self.lock_wait))
        }
    }

    /// After one of backstop's own writes: whether it gave up waiting for another
    /// connection's lock (the next ones wait [`ONCE_MORE`]) or went through (the holder let
    /// go: they wait in full again).
    fn own_written<T>(&self, r: &Result<T, DbError>) {
        match r {
            Ok(_) => self.gave_up.set(false),
            Err(e) if e.kind == DbErrorKind::LockTimeout => self.gave_up.set(true),
            Err(_) => {}
        }
    }

    /// How long work outside a transaction waits for another connection's lock on the
    /// file (`--lock-wait`); [`DEFAULT_BUSY_TIMEOUT`] unless set.
    pub fn set_lock_wait(&mut self, wait: Duration) {
        self.lock_wait = wait;
        let _ = self.apply_busy_timeout();
    }

    /// Where to say, once, that a statement is waiting for another connection's lock and
    /// who holds it.
    pub fn set_notice(&mut self, notice: Option<Notice>) {
        self.waiter.set_notice(notice);
    }

    /// A lock timeout of backstop's own work before anything of a run (a read, the
    /// transaction of a check or a refusal's record): who holds the file and how long
    /// backstop waited in its detail, as for a statement, and what to do in its hint. The
    /// hint is for a command that stops there, with nothing changed; the engine leaves it
    /// out where the wait came after work of the run (a record it could not write).
    fn explain<T>(&self, r: Result<T, DbError>) -> Result<T, DbError> {
        r.map_err(|e| self.explained(e, self.limit_in_force()))
    }

    /// [`Self::explain`] for an error met while the wait was `limit`.
    fn explained(&self, e: DbError, limit: String) -> DbError {
        if e.kind != DbErrorKind::LockTimeout {
            return e;
        }
        let mut e = self.held_by(e, limit);
        e.hint = Some("run the command again when it is done, or with a longer --lock-wait (a database in WAL mode can be read while it is written)".into());
        e
    }

    /// The wait in force for the next statement, as a detail names it.
    fn limit_in_force(&self) -> String {
        match self.effective().lock {
            Some(t) if t.is_zero() => "with no limit".into(),
            Some(t) => format!("lock_timeout ({})", busy::humanize(t)),
            None if self.own_tx => self.own_wait_named(),
            None => format!("--lock-wait ({})", busy::humanize(self.lock_wait)),
        }
    }

    /// A lock timeout after waiting `limit`, with how long and who holds the file in its
    /// detail (kept if already said).
    fn held_by(&self, mut e: DbError, limit: String) -> DbError {
        if e.kind == DbErrorKind::LockTimeout && e.detail.is_none() {
            e.detail = self
                .waiter
                .holder_detail()
                .map(|who| format!("waited {limit} for the database: {who}"));
        }
        e
    }

    /// One of backstop's own writes, with whatever the script before it set that would
    /// refuse it lifted for the write only (see [`session::allow_own_writes`]).
    fn own_write<T>(&self, write: impl FnOnce() -> Result<T, DbError>) -> Result<T, DbError> {
        let lifted = session::allow_own_writes(&self.conn).map_err(db)?;
        let written = write();
        // Put back even after a failed write: the script's later statements, or the
        // cleanup that follows a failure, run with the settings the script chose.
        let restored = lifted.restore(&self.conn).map_err(db);
        let value = written?;
        restored?;
        Ok(value)
    }

    /// A write to backstop's tables ([`Self::own_write`]) in a transaction of its own when
    /// none is open. A write in autocommit mode reads first (a shared lock) and then waits
    /// for the write lock; when the other writer it waits for starts to commit, SQLite
    /// fails the write at once with SQLITE_BUSY rather than call the busy handler (each
    /// would wait for the other). `BEGIN IMMEDIATE` waits for the write lock holding
    /// nothing, as the busy handler allows.
    ///
    /// Such a write is bookkeeping between a non-transactional migration's statements
    /// (its progress) or after one: it waits as long as the command does (`--lock-wait`),
    /// not the migration's own lock_timeout, which is for its statements. Giving up leaves
    /// history behind what the database holds. A write that gives up says who holds the
    /// file in its detail, as a statement's error does.
    fn own_write_tx<T>(&self, write: impl FnOnce() -> Result<T, DbError>) -> Result<T, DbError> {
        if !self.conn.is_autocommit() {
            return self.own_write(write);
        }
        self.waiter.set_limit(self.own_wait());
        let written = self.own_write(|| {
            self.conn.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
            let committed = write().and_then(|v| {
                // With the write lock held, only readers can keep COMMIT waiting.
                self.waiter.set_committing(true);
                let c = self.conn.execute_batch("COMMIT").map_err(db).map(|_| v);
                c.map_err(|e| self.waited(e))
            });
            self.waiter.set_committing(false);
            match committed {
                Ok(v) => Ok(v),
                Err(e) => {
                    if !self.conn.is_autocommit() {
                        let _ = self.conn.execute_batch("ROLLBACK");
                    }
                    Err(e)
                }
            }
        });
        // Back to the wait of the statements that follow (the migration's lock_timeout).
        let restored = self.apply_busy_timeout();
        let written = written.map_err(|e| self.waited(e));
        self.own_written(&written);
        let value = written?;
        restored?;
        Ok(value)
    }

    /// A lock timeout of one of backstop's own writes ([`Self::own_write_tx`]), with how
    /// long it waited and who holds the file in its detail (kept if already said).
    fn waited(&self, e: DbError) -> DbError {
        if e.kind != DbErrorKind::LockTimeout || e.detail.is_some() {
            return e;
        }
        let mut e = self.held_by(e, self.own_wait_named());
        // The statements' hint ("retried when the migration allows retries") is not
        // this write's: backstop's own writes are not retried.
        e.hint = None;
        e
    }

    /// [`Driver::ensure_history`].
    fn create_history(&self) -> Result<(), DbError> {
        // Fast path without taking the write lock: usually the tables are there.
        if history::exists(&self.conn)? {
            return Ok(());
        }
        if !self.conn.is_autocommit() {
            // Inside the caller's transaction: its BEGIN IMMEDIATE already holds the write lock.
            return history::create(&self.conn);
        }
        // BEGIN IMMEDIATE serialises concurrent creators on the write lock (waiting under
        // busy_timeout), and IF NOT EXISTS makes the losers no-ops.
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
        match history::create(&self.conn) {
            Ok(()) => self.conn.execute_batch("COMMIT").map_err(db),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// The transaction is over (committed, rolled back, or rolled back by SQLite itself):
    /// back to the session's timeouts.
    fn end_transaction(&mut self) -> Result<(), DbError> {
        if self.conn.is_autocommit() {
            self.transaction = None;
            self.own_tx = false;
            self.apply_busy_timeout()?;
        }
        Ok(())
    }
}

impl Drop for SqliteDriver {
    fn drop(&mut self) {
        // Closing the file would release the lock anyway; unlocking also clears the holder line.
        let _ = self.unlock();
    }
}

impl Driver for SqliteDriver {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    fn display_url(&self) -> String {
        // Shown in reports: masked by shape only, so a short password can't mask a path.
        backstop_core::redact::redact_credentials(&self.url)
    }

    fn transactional_ddl(&self) -> bool {
        true
    }

    fn history_exists(&mut self) -> Result<bool, DbError> {
        self.explain(history::exists(&self.conn))
    }

    fn ensure_history(&mut self) -> Result<(), DbError> {
        self.explain(self.own_write(|| self.create_history()))
    }

    fn try_lock(&mut self) -> Result<LockAttempt, DbError> {
        // Only commands that write take the lock: find out now that they can't, rather than
        // at a migration's first write, where SQLite's "readonly database" would read as the
        // migration's fault.
        if !self.writable_checked {
            self.check_writable()?;
            self.writable_checked = true;
        }
        let name = self.application_name.clone();
        let r = match &mut self.lock {
            Some(l) => l.try_lock(&name),
            None => Ok(LockAttempt::Acquired),
        };
        if matches!(r, Ok(LockAttempt::Acquired)) {
            self.waiter.set_own_lock(true);
            // A new command: its writes wait in full again, whatever an earlier one met.
            self.gave_up.set(false);
        }
        r
    }

    fn unlock(&mut self) -> Result<(), DbError> {
        self.waiter.set_own_lock(false);
        match &mut self.lock {
            Some(l) => l.unlock(),
            None => Ok(()),
        }
    }

    /// From the lock file beside the database, without taking the lock (see
    /// [`lock::holder`]); an in-memory database has no other connection to hold it.
    fn lock_holder(&mut self) -> Result<Option<LockHolder>, DbError> {
        Ok(match &self.lock {
            Some(l) if !l.is_held() => lock::holder(l.path()),
            _ => None,
        })
    }

    /// A deferred transaction: it takes no lock until its first read, which fixes what the
    /// transaction sees (a shared lock in rollback-journal mode, which a writer's COMMIT
    /// waits for; a snapshot of the WAL in WAL mode). That read waits for a writer as any
    /// of backstop's reads does (`--lock-wait`, saying who holds the file); the reads
    /// after it meet no lock.
    fn begin_read(&mut self) -> Result<(), DbError> {
        if !self.conn.is_autocommit() {
            return Err(DbError::other(
                "cannot begin a read transaction: one is already open on this connection",
            ));
        }
        self.explain(self.conn.execute_batch("BEGIN DEFERRED").map_err(db))
    }

    /// The pragmas the schema is read with read the schema the transaction's first read
    /// loaded, which no other connection can change while it lasts.
    fn snapshot_covers_schema(&self) -> bool {
        true
    }

    fn end_read(&mut self) -> Result<(), DbError> {
        // A read that failed may have ended the transaction already.
        let r = if self.conn.is_autocommit() {
            Ok(())
        } else {
            self.conn.execute_batch("ROLLBACK").map_err(db)
        };
        self.end_transaction()?;
        r
    }

    fn reset_session(&mut self) -> Result<(), DbError> {
        // `PRAGMA foreign_keys` is a no-op inside a transaction: restoring it there would
        // seem to work and not.
        if !self.conn.is_autocommit() {
            return Err(DbError::other(
                "cannot reset the session: a transaction is open on this connection",
            ));
        }
        self.baseline.restore(&self.conn)?;
        self.waiter.attach(&mut self.conn)
    }

    fn begin(&mut self, timeouts: Timeouts) -> Result<(), DbError> {
        // Checked here rather than left to SQLite so the open transaction keeps its timeouts.
        if !self.conn.is_autocommit() {
            return Err(DbError::other(
                "cannot begin a transaction: one is already open on this connection",
            ));
        }
        self.transaction = Some(timeouts);
        self.apply_busy_timeout()?;
        let limit = self.limit_in_force();
        // IMMEDIATE takes the write lock now, waiting up to the lock timeout, rather than at
        // the first write, where a concurrent writer would make the upgrade fail with
        // SQLITE_BUSY half-way through a migration.
        if let Err(e) = self.own_write(|| self.conn.execute_batch("BEGIN IMMEDIATE").map_err(db)) {
            self.transaction = None;
            let _ = self.apply_busy_timeout();
            // Who holds the file and how long backstop waited, and — when the wait was
            // --lock-wait's — what to do, as for backstop's reads (a migration's
            // lock_timeout failure is said by the run).
            return Err(match timeouts.lock {
                None => self.explained(e, limit),
                Some(_) => self.held_by(e, limit),
            });
        }
        Ok(())
    }

    /// A transaction without timeouts of its own, whose BEGIN IMMEDIATE and COMMIT wait
    /// `--lock-wait` (as any transaction without a lock_timeout does), or [`ONCE_MORE`]
    /// after one of backstop's own writes gave up.
    fn begin_bookkeeping(&mut self) -> Result<(), DbError> {
        self.own_tx = true;
        let r = self.begin(Timeouts::default());
        self.own_written(&r);
        if r.is_err() {
            self.own_tx = false;
            let _ = self.apply_busy_timeout();
        }
        r
    }

    fn commit(&mut self) -> Result<(), DbError> {
        let own = self.own_tx;
        // The write lock is held since BEGIN IMMEDIATE: only readers can keep COMMIT
        // waiting (rollback-journal mode: a commit needs the file to itself), and the wait
        // line and the error say so.
        let limit = self.limit_in_force();
        self.waiter.set_committing(true);
        let r = self.conn.execute_batch("COMMIT").map_err(db);
        let r = r.map_err(|e| self.held_by(e, limit));
        self.waiter.set_committing(false);
        if own {
            self.own_written(&r);
        }
        // A COMMIT that failed with SQLITE_BUSY leaves the transaction open for a retry or
        // a rollback; only a finished transaction gives the session its timeouts back.
        self.end_transaction()?;
        r
    }

    fn rollback(&mut self) -> Result<(), DbError> {
        // SQLite rolls a transaction back by itself on some errors (an interrupted
        // statement, SQLITE_FULL, …); then there is nothing left to roll back.
        let r = if self.conn.is_autocommit() {
            Ok(())
        } else {
            self.conn.execute_batch("ROLLBACK").map_err(db)
        };
        self.end_transaction()?;
        r
    }

    fn set_session_timeouts(&mut self, timeouts: Timeouts) -> Result<(), DbError> {
        self.session = timeouts;
        self.apply_busy_timeout()
    }

    fn execute(&mut self, sql: &str) -> Result<FirstColumn, DbError> {
        exec::execute(
            &self.conn,
            &self.watchdog,
            &self.tx_guard,
            self.effective().statement,
            sql,
        )
        .map_err(|mut e| {
            // A statement's error shows its detail: say who holds the lock there.
            if e.kind == DbErrorKind::LockTimeout && e.detail.is_none() {
                e.detail = self.waiter.holder_detail();
            }
            e
        })
    }

    fn load_history(&mut self) -> Result<Vec<HistoryRow>, DbError> {
        self.explain(history::load_history(&self.conn))
    }

    fn save_history(&mut self, row: &HistoryRow) -> Result<(), DbError> {
        self.own_write_tx(|| history::save_history(&self.conn, row))
    }

    fn load_events(&mut self) -> Result<Vec<Event>, DbError> {
        self.explain(history::load_events(&self.conn))
    }

    fn load_events_brief(&mut self) -> Result<Vec<Event>, DbError> {
        self.explain(history::load_events_brief(&self.conn))
    }

    fn append_event(&mut self, event: &Event) -> Result<(), DbError> {
        self.own_write_tx(|| history::append_event(&self.conn, event))
    }

    fn load_state(&mut self) -> Result<Option<StoredState>, DbError> {
        self.explain(history::load_state(&self.conn))
    }

    fn recorded_head(&mut self) -> Result<Option<(i64, String)>, DbError> {
        self.explain(history::recorded_head(&self.conn))
    }

    fn ledger_end(&mut self) -> Result<Option<(i64, String)>, DbError> {
        self.explain(history::ledger_end(&self.conn))
    }

    fn save_state(&mut self, state: &StoredState) -> Result<(), DbError> {
        self.own_write_tx(|| history::save_state(&self.conn, state))
    }

    /// Always a full read: it is a handful of catalog queries on a local file (see the
    /// `schema_read_time` test), so refreshing only changed objects isn't worth the risk.
    fn schema(&mut self, _previous: Option<&SchemaState>) -> Result<SchemaState, DbError> {
        self.explain(schema::read(&self.conn))
    }

    fn health(&mut self) -> Result<Vec<HealthIssue>, DbError> {
        self.explain(schema::health(&self.conn))
    }

    /// SQLite builds indexes inside the statement's transaction; there are never invalid
    /// ones to drop, so this is trivially done (not an unsupported capability).
    fn drop_invalid_indexes(
        &mut self,
        _keep: &[String],
        _failed: &str,
    ) -> Result<Vec<String>, DbError> {
        Ok(Vec::new())
    }
}
