//! backstop-postgres owns everything backstop knows about PostgreSQL (12+, tested on 15):
//!
//! - [`connect`] and [`PgDriver`], the implementation of [`backstop_core::driver::Driver`]
//!   on one tokio-postgres connection driven by a small blocking facade that can pipeline
//!   (`pg`; no TLS yet);
//! - the history, ledger and state tables in schema `backstop` (`history`);
//! - the migration lock, a session-level advisory lock that is only ever tried (`lock`);
//! - the catalog reader that turns the user schema into a canonical
//!   [`SchemaState`](backstop_core::schema::SchemaState), in full or incrementally after a
//!   migration (`catalog`), and schema health (invalid indexes, NOT VALID constraints);
//! - [`testing`]: throw-away databases for tests, reusable by other crates' tests.
//!
//! The migration algorithm is not here: it lives once in backstop-core and talks to this
//! crate only through the `Driver` trait.

mod catalog;
mod error;
mod history;
mod lock;
mod pg;
mod pgpass;
mod quote;
pub mod testing;
mod url;

pub use catalog::ReadStats;
pub use quote::{quote_ident, quote_qualified};
pub use url::display_url;

use backstop_core::driver::{
    DbError, DbErrorKind, Driver, Engine, FirstColumn, LockAttempt, LockHolder, RecordCommitError,
    Timeouts,
};
use backstop_core::history::{HistoryRow, StoredState};
use backstop_core::ledger::Event;
use backstop_core::redact::register_secret;
use backstop_core::schema::{HealthIssue, SchemaState};
use pg::{Client, SimpleQueryMessage};
use std::time::Duration;

/// `1.5s`, `60s`, `500ms`: a wait as a person reads it.
fn human(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{}s", d.as_secs())
    } else if d.as_millis() > 1000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// How long to wait for a server that doesn't answer, unless the URL says otherwise
/// (`?connect_timeout=`): an unreachable host should fail a deploy in seconds, not minutes.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Oldest server whose catalog the schema reader understands (`attgenerated`,
/// `pg_get_partkeydef`, `prokind`, …).
const MIN_SERVER_VERSION: i32 = 120000;

/// The server version, and on PostgreSQL 14+ a check every second whether this client is
/// still there (see `connect`).
///
/// Also JIT off for the session: the catalog reads are large plans whose cost estimates
/// cross the JIT thresholds, and compiling them costs far more than running them (a full
/// read of 2,000 tables: ~1.9 s with JIT, ~0.45 s without). Migrations run in this session
/// too; JIT changes how fast a query runs, never what it does, and a migration that wants
/// it can `SET jit = on`.
const CONNECTION_CHECK: &str = "SELECT current_setting('server_version_num')::pg_catalog.int4, \
     CASE WHEN current_setting('server_version_num')::pg_catalog.int4 >= 140000 \
          THEN set_config('client_connection_check_interval', '1000', false) END, \
     set_config('jit', 'off', false)";

/// The session-level prepared statement that reads the catalog write counters at `BEGIN`.
const COUNTERS: &str = "backstop_catalog_counters";

/// [`COUNTERS`] without the total of all catalog writes (the baseline for skipping the
/// schema read after data statements), after `BEGIN` in front of a statement that may
/// change the catalog, so that no read can be skipped: a third of the counters to read.
const COUNTERS_DDL: &str = "backstop_catalog_counters_ddl";

/// The statement in `slot`, prepared from `sql()` on its first use on this connection.
fn prepared<'a>(
    client: &mut Client,
    slot: &'a mut Option<pg::Statement>,
    sql: impl FnOnce() -> String,
) -> Result<&'a pg::Statement, DbError> {
    let stmt = match slot.take() {
        Some(stmt) => stmt,
        None => client.prepare(&sql()).map_err(|e| error::map(&e))?,
    };
    Ok(slot.insert(stmt))
}

/// A connection to one PostgreSQL database, implementing backstop's [`Driver`].
pub struct PgDriver {
    client: Client,
    /// The role it connects as, for the GRANT a missing privilege needs.
    role: String,
    shown_url: String,
    /// Whether we opened a transaction that is still open.
    in_tx: bool,
    /// Bumped at every transaction boundary, so the schema reader can tell whether two
    /// reads happened in the same transaction.
    tx_gen: u64,
    /// Session advisory locks stack; taking it twice would need two unlocks.
    lock_held: bool,
    history_known: bool,
    /// [`COUNTERS`] is prepared in this session (as far as we know: a migration may
    /// DEALLOCATE it).
    counters_prepared: bool,
    /// The timeouts last set for the session, to set again after a DISCARD ALL.
    session_timeouts: Option<Timeouts>,
    /// A migration's statement may have changed a session setting (`SET` without `LOCAL`,
    /// `RESET`, `set_config`): the next migration starts from a reset session.
    session_changed: bool,
    /// A batched transaction committed since the last durable write: its commit may not
    /// have reached the disk yet.
    unflushed: bool,
    history_stmts: history::Stmts,
    catalog: catalog::Catalog,
    /// `server_version_num`.
    server_version: i32,
    /// A transaction begun but not yet sent: it goes out with its first statement.
    pending_begin: Option<PendingBegin>,
    /// [`Driver::schema_read_follows`] came: send the read with the next statement. The
    /// previous state's address, to check that the read asks for that one.
    follow: Option<usize>,
    /// A read sent with a statement, for the transaction with this generation and that
    /// previous state, waiting for [`Driver::schema`].
    prefetched: Option<(u64, usize, Result<SchemaState, DbError>)>,
    /// How long a schema read outside a transaction waits for another session's lock
    /// (`--lock-wait`): printing a view locks the tables it reads from.
    lock_wait: Duration,
    /// Where to say, once, that a read is waiting and for whom.
    notice: Option<Notice>,
    /// Something committed on this connection (a migration, a rollback step, a record):
    /// a read that gives up can no longer say that nothing was changed.
    changed: bool,
    /// The open transaction is backstop's own bookkeeping ([`Driver::begin_bookkeeping`]):
    /// its writes wait as [`PgDriver::own_write`] says, not as a migration's statements.
    own_tx: bool,
    /// The open transaction is a read that sees one moment ([`Driver::begin_read`]): it
    /// waits at most `--lock-wait` for a lock, and giving up ends it.
    read_tx: bool,
    /// One of backstop's own writes waited the whole `--lock-wait` for another session's
    /// lock and gave up: the ones after it try once more, briefly ([`ONCE_MORE`]).
    gave_up: bool,
    /// A statement that may have released the migration lock failed inside a transaction,
    /// where nothing can be asked until it ends: whether the lock is still held is asked
    /// before anything else is begun or written ([`PgDriver::refuse_if_lost`]).
    lock_check_due: bool,
    /// The migration lock was released by a statement and another session took it: what
    /// happened, said with every refusal to run or write anything more in this command.
    lock_lost: Option<String>,
}

/// Where a "waiting for …" line goes (the progress line on stderr, say).
pub type Notice = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// Until `set_lock_wait`: as the CLI's default `--lock-wait`.
const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(60);

/// A read outside a transaction waits in slices this long, so it can say that it waits.
const WAIT_SLICE: Duration = Duration::from_secs(1);

/// How long each of backstop's own writes waits for another session's lock once one of
/// them has waited the whole `--lock-wait` for it and given up, until one goes through or
/// the next command takes the migration lock. A failure's report writes several times
/// (its row and event, the end-of-run save, the flush that makes the run's commits
/// durable), and each would wait for the same holder: a second full wait apiece would make
/// the person wait `--lock-wait` once more per write for the same report. Not no wait at
/// all: each write still tries once, and goes through if the holder let go meanwhile.
const ONCE_MORE: Duration = WAIT_SLICE;

/// The savepoint a write inside backstop's own bookkeeping transaction waits in: its
/// `lock_timeout` is local to it, and a write that timed out is rolled back to it, leaving
/// the transaction usable.
const WAIT_SAVEPOINT: &str = "backstop_wait";

/// `BEGIN` and its settings, sent in front of the transaction's first statement (one round
/// trip instead of two). In one simple query, a statement runs only if every one before it
/// succeeded, so the migration's statement can never run outside the transaction.
struct PendingBegin {
    sql: String,
    /// How many statements `sql` holds: their results come first.
    statements: usize,
    timeouts: Timeouts,
    batched: bool,
}

/// The shape of a PostgreSQL URL, for messages. Not `user:password@`: that is what the
/// redactor masks, and the hint would read `user:***@`.
const URL_FORM: &str =
    "expected postgres://USER@HOST:PORT/DATABASE, with USER:PASSWORD for a password";

/// Connect to `url` (`postgres://` or `postgresql://`, or a libpq key=value string),
/// announcing `application_name` so that `--lock-wait` can tell who holds the lock.
/// The password is registered for redaction before anything can fail.
pub fn connect(url: &str, application_name: &str) -> Result<PgDriver, DbError> {
    // A URL or a key=value string, well-formed or not: raw and percent-decoded.
    backstop_core::redact::register_url_password(url);
    let shown = display_url(url);
    let lower = url.trim_start().to_ascii_lowercase();
    if url.contains("://")
        && !(lower.starts_with("postgres://") || lower.starts_with("postgresql://"))
    {
        return Err(DbError::connection(format!(
            "{shown} is not a PostgreSQL URL ({URL_FORM})"
        )));
    }
    // URL schemes are case-insensitive; the client only knows them in lower case.
    let trimmed = url.trim();
    let scheme_end = trimmed.find("://").map_or(0, |i| i + 3);
    let normalized = format!(
        "{}{}",
        trimmed[..scheme_end].to_ascii_lowercase(),
        &trimmed[scheme_end..]
    );
    let mut config: pg::Config = normalized.parse().map_err(|e: pg::Error| {
        DbError::connection(format!("invalid PostgreSQL URL {shown}: {e} ({URL_FORM})"))
    })?;
    if let Some(pw) = config.get_password() {
        register_secret(&String::from_utf8_lossy(pw));
    }
    // libpq's defaults, which the Rust client does not apply by itself.
    if config.get_user().is_none() {
        if let Some(user) = std::env::var("PGUSER")
            .ok()
            .or_else(|| std::env::var("USER").ok())
        {
            config.user(&user);
        }
    }
    if config.get_hosts().is_empty() {
        config.host("localhost");
    }
    if config.get_password().is_none() {
        // libpq's PGPASSWORD and password file, for the first host (the one tried first).
        let host = match config.get_hosts().first() {
            Some(pg::Host::Tcp(h)) => h.clone(),
            _ => "localhost".to_string(),
        };
        let user = config.get_user().unwrap_or_default().to_string();
        let database = config.get_dbname().unwrap_or(&user).to_string();
        let target = pgpass::Target {
            host: &host,
            port: config.get_ports().first().copied().unwrap_or(5432),
            database: &database,
            user: &user,
        };
        if let Some(pw) = pgpass::password_for(&target) {
            register_secret(&pw);
            config.password(pw);
        }
    }
    config.application_name(application_name);
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    // Say so plainly, rather than fail the handshake with advice about host and port.
    if config.get_ssl_mode() == pg::SslMode::Require {
        return Err(DbError::connection(format!(
            "cannot connect to {shown}: sslmode=require asks for TLS, which backstop does not support yet (use sslmode=prefer or disable on a trusted network, or reach the server through a TLS tunnel)"
        )));
    }
    let mut client = Client::connect(&config).map_err(|e| match e {
        pg::ConnectError::Postgres(e) => error::connection(&shown, &e),
        pg::ConnectError::Runtime(e) => {
            DbError::connection(format!("cannot connect to {shown}: {e}"))
        }
    })?;
    let row = client
        // Same round trip: on PostgreSQL 14+ have the server check every second whether this
        // client is still there, so a killed backstop's transaction (and its migration lock)
        // ends within a second even while a long statement runs, instead of when the
        // statement finishes. https://www.postgresql.org/docs/current/runtime-config-connection.html
        .query_one(CONNECTION_CHECK, &[])
        .map_err(|e| error::map(&e))?;
    let version: i32 = row.try_get(0).map_err(|e| error::map(&e))?;
    if version < MIN_SERVER_VERSION {
        return Err(DbError {
            kind: DbErrorKind::Unsupported,
            ..DbError::other(format!(
                "{shown} runs PostgreSQL {}.{}; backstop needs 12 or newer",
                version / 10000,
                version % 10000
            ))
        });
    }
    let role = config.get_user().unwrap_or_default().to_string();
    Ok(PgDriver {
        client,
        role,
        shown_url: shown,
        in_tx: false,
        tx_gen: 0,
        lock_held: false,
        history_known: false,
        counters_prepared: false,
        session_timeouts: None,
        session_changed: false,
        unflushed: false,
        history_stmts: history::Stmts::default(),
        catalog: catalog::Catalog::new(version),
        server_version: version,
        pending_begin: None,
        follow: None,
        prefetched: None,
        lock_wait: DEFAULT_LOCK_WAIT,
        notice: None,
        own_tx: false,
        read_tx: false,
        gave_up: false,
        lock_check_due: false,
        lock_lost: None,
        changed: false,
    })
}

/// What a statement does to the session, from its first words.
#[derive(Debug, PartialEq, Eq)]
enum StatementClass {
    Begin,
    Commit,
    Rollback,
    RollbackToSavepoint,
    /// Cannot change the catalog (queries, DML, session settings).
    NoCatalogChange,
    /// DEALLOCATE or DISCARD: may drop the session's prepared statements, ours included.
    DropsPreparedStatements,
    /// DDL or anything we can't rule out (DO, CALL, …).
    MayChangeCatalog,
}

/// `s` from its first character that is neither whitespace nor inside a comment.
fn skip_space_and_comments(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.find('\n').map(|i| &rest[i..]).unwrap_or("");
            continue;
        }
        let Some(mut rest) = s.strip_prefix("/*") else {
            return s;
        };
        let mut depth = 1;
        while depth > 0 && !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("/*") {
                depth += 1;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("*/") {
                depth -= 1;
                rest = r;
            } else {
                let n = rest.chars().next().map(char::len_utf8).unwrap_or(1);
                rest = &rest[n..];
            }
        }
        s = rest;
    }
}

/// The first two words of `sql`, upper-cased, skipping whitespace and comments.
fn leading_words(sql: &str) -> (String, String) {
    let mut words = Vec::new();
    let mut s = sql;
    while words.len() < 2 {
        s = skip_space_and_comments(s);
        let end = s
            .find(|c: char| !c.is_ascii_alphabetic() && c != '_')
            .unwrap_or(s.len());
        if end == 0 {
            break;
        }
        words.push(s[..end].to_ascii_uppercase());
        s = &s[end..];
    }
    let mut it = words.into_iter();
    (it.next().unwrap_or_default(), it.next().unwrap_or_default())
}

fn classify(sql: &str) -> StatementClass {
    let (first, second) = leading_words(sql);
    match first.as_str() {
        "BEGIN" | "START" => StatementClass::Begin,
        "COMMIT" | "END" => StatementClass::Commit,
        "ABORT" => StatementClass::Rollback,
        "ROLLBACK" if second == "TO" => StatementClass::RollbackToSavepoint,
        "ROLLBACK" if second == "PREPARED" => StatementClass::MayChangeCatalog,
        "ROLLBACK" => StatementClass::Rollback,
        "SELECT" | "WITH" | "VALUES" | "TABLE" | "SHOW" | "EXPLAIN" | "INSERT" | "UPDATE"
        | "DELETE" | "MERGE" | "COPY" | "SET" | "RESET" | "NOTIFY" | "LISTEN" | "UNLISTEN"
        | "SAVEPOINT" | "RELEASE" | "FETCH" | "MOVE" | "CLOSE" | "DECLARE" | "PREPARE"
        | "EXECUTE" | "LOCK" | "VACUUM" | "ANALYZE" | "CHECKPOINT" | "" => {
            StatementClass::NoCatalogChange
        }
        "DEALLOCATE" | "DISCARD" => StatementClass::DropsPreparedStatements,
        _ => StatementClass::MayChangeCatalog,
    }
}

/// Whether `sql` may run a DEALLOCATE (itself, or through a DO block or a function it
/// defines): backstop's prepared statements may be gone after it.
fn mentions_deallocate(sql: &str) -> bool {
    mentions(sql, b"deallocate")
}

/// Whether `sql` may release session advisory locks, the migration lock among them
/// (`pg_advisory_unlock_all()`, or `pg_advisory_unlock` with its key), itself or through a
/// DO block or a function it defines.
fn mentions_advisory_unlock(sql: &str) -> bool {
    mentions(sql, b"pg_advisory_unlock")
}

/// Whether `sql` may switch the statistics the catalog reads rely on.
fn mentions_track_counts(sql: &str) -> bool {
    mentions(sql, b"track_counts")
}

/// Whether `sql` may change what belongs to an extension (`ALTER EXTENSION … ADD|DROP`,
/// `CREATE|DROP|ALTER EXTENSION`) or depends on one (`ALTER … [NO] DEPENDS ON
/// EXTENSION`): both live in pg_depend alone, take no relation lock (or none a routine
/// has) and move no counter the incremental read watches, so the read after such a
/// statement is a full one.
fn mentions_extension(sql: &str) -> bool {
    mentions(sql, b"extension")
}

/// Whether `sql` may change a setting for the rest of the session: a `SET` that isn't
/// `SET LOCAL` (or `SET TRANSACTION`/`SET CONSTRAINTS`, which end with the transaction), a
/// `RESET`, or a call of `set_config`.
fn changes_session_settings(sql: &str) -> bool {
    let (first, second) = leading_words(sql);
    match first.as_str() {
        "SET" => !matches!(second.as_str(), "LOCAL" | "TRANSACTION" | "CONSTRAINTS"),
        "RESET" => true,
        _ => mentions(sql, b"set_config"),
    }
}

/// Whether `word` occurs in `sql`, in any case.
fn mentions(sql: &str, word: &[u8]) -> bool {
    sql.as_bytes()
        .windows(word.len())
        .any(|w| w.eq_ignore_ascii_case(word))
}

/// Truthiness of a first column as text: NULL, `f`, `false` and numeric zero are false.
fn truthy(value: Option<&str>) -> bool {
    let Some(v) = value else { return false };
    let t = v.trim();
    !(t.eq_ignore_ascii_case("f") || t.eq_ignore_ascii_case("false") || is_numeric_zero(t))
}

/// `0`, `-0.00`, `0e10`, … — any number equal to zero, without float rounding.
fn is_numeric_zero(t: &str) -> bool {
    let s = t.strip_prefix(['+', '-']).unwrap_or(t);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    if let Some(e) = exponent {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    let mut dots = 0;
    let mut digits = 0;
    for b in mantissa.bytes() {
        match b {
            b'.' => dots += 1,
            b'0' => digits += 1,
            _ => return false,
        }
    }
    dots <= 1 && digits > 0
}

/// Milliseconds for a `SET … timeout`, never rounding a non-zero duration down to 0
/// (which would mean "no timeout").
fn millis(d: Duration) -> u128 {
    match d.as_millis() {
        0 if !d.is_zero() => 1,
        m => m,
    }
}

impl PgDriver {
    /// How long a schema read outside a transaction (the check before a run, `status`,
    /// `schema`) waits for a lock another session holds (`--lock-wait`).
    pub fn set_lock_wait(&mut self, wait: Duration) {
        self.lock_wait = wait;
    }

    /// Where to say, once, that a schema read is waiting for another session's lock.
    pub fn set_notice(&mut self, notice: Option<Notice>) {
        self.notice = notice;
    }

    /// A schema read outside a transaction, with a bounded wait for locks. The catalog
    /// functions that print definitions take share locks on the tables they describe
    /// (`pg_get_viewdef` on every table a view reads from), so a session holding
    /// `LOCK TABLE` on one of them would stop the read with no end and nothing said.
    /// The read runs with `lock_timeout` in slices: after the first it says who holds the
    /// lock, and after `--lock-wait` it gives up (exit 4), naming them. The session's own
    /// `lock_timeout` is put back afterwards.
    fn read_waiting(&mut self, previous: Option<&SchemaState>) -> Result<SchemaState, DbError> {
        let r = self
            .client
            .query_one("SELECT pg_catalog.current_setting('lock_timeout')", &[]);
        let had: String = self.db(r.and_then(|row| row.try_get(0)))?;
        let started = std::time::Instant::now();
        let mut said = false;
        let result = loop {
            let left = self.lock_wait.saturating_sub(started.elapsed());
            let slice = left.min(WAIT_SLICE).max(Duration::from_millis(1));
            let set = self.client.execute(
                "SELECT pg_catalog.set_config('lock_timeout', $1, false)",
                &[&format!("{}ms", slice.as_millis())],
            );
            if let Err(e) = set {
                break Err(error::map(&e));
            }
            let read = self
                .catalog
                .read(&mut self.client, previous, false, self.tx_gen);
            match read {
                Err(e) if e.kind == DbErrorKind::LockTimeout => {
                    // Who holds it: asked only when it is said (once, and at the end).
                    let giving_up = started.elapsed() >= self.lock_wait;
                    if said && !giving_up {
                        continue;
                    }
                    let holders = self.exclusive_holders();
                    if giving_up {
                        break Err(DbError {
                            kind: DbErrorKind::LockTimeout,
                            message: format!(
                                "reading the schema waited {} for a lock another session holds{holders}: the catalog functions that print a definition lock the tables they describe (and a view's, the tables it reads from). Nothing was changed: run again once that session has finished (or end it), or raise --lock-wait",
                                human(self.lock_wait)
                            ),
                            code: e.code,
                            position: None,
                            detail: None,
                            hint: None,
                        });
                    }
                    said = true;
                    if let Some(n) = &self.notice {
                        n(&format!(
                            "waiting up to {} to read the schema: another session holds a lock{holders}",
                            human(self.lock_wait)
                        ));
                    }
                }
                other => break other,
            }
        };
        // Back to what the session had, whatever happened.
        let reset = self.client.execute(
            "SELECT pg_catalog.set_config('lock_timeout', $1, false)",
            &[&had],
        );
        let state = result?;
        self.db(reset)?;
        Ok(state)
    }

    /// Sessions holding an exclusive lock on a relation of this database (the only mode
    /// that blocks a read), as ` (pid 123, application "x", on public.t, since …)`; empty
    /// when none is found (the lock was released meanwhile).
    fn exclusive_holders(&mut self) -> String {
        let r = self.client.query(
            "SELECT l.pid, COALESCE(a.application_name, ''),                     COALESCE(pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), l.relation::pg_catalog.text),                     COALESCE(pg_catalog.to_char(a.xact_start, 'YYYY-MM-DD HH24:MI:SS TZ'), '?')                FROM pg_catalog.pg_locks l                LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid                LEFT JOIN pg_catalog.pg_class c ON c.oid = l.relation                LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace               WHERE l.granted AND l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'                 AND l.pid <> pg_catalog.pg_backend_pid()                 AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())               ORDER BY l.pid LIMIT 5",
            &[],
        );
        let Ok(rows) = r else {
            return String::new();
        };
        let held: Vec<String> = rows
            .iter()
            .filter_map(|row| {
                let pid: i32 = row.try_get(0).ok()?;
                let app: String = row.try_get(1).ok()?;
                let rel: String = row.try_get(2).ok()?;
                let since: String = row.try_get(3).ok()?;
                Some(format!(
                    "pid {pid}, application \"{}\", on {rel}, in a transaction since {since}",
                    backstop_core::redact::redact(&app)
                ))
            })
            .collect();
        if held.is_empty() {
            String::new()
        } else {
            format!(" ({})", held.join("; "))
        }
    }

    /// One of backstop's own writes to its tables (`write`, sent as the [`history::Around`]
    /// it is given) outside a migration's transaction: the progress a `transaction = false`
    /// migration or rollback step records after each statement, a failure's record, the
    /// end-of-run save. It waits for another session's lock on those tables up to
    /// `--lock-wait` ([`Self::wait_own`]), not the `lock_timeout` a `transaction = false`
    /// migration set for its statements, nor the server's default (with none set, no
    /// limit): giving up leaves history behind what the database holds, so it should take
    /// as long as the command waits for anything, and no longer.
    ///
    /// Each attempt runs in a transaction of its own (inside backstop's bookkeeping
    /// transaction: a savepoint) with `SET LOCAL lock_timeout`, sent with the write in one
    /// round trip, so the session's own setting stays as the migration left it.
    ///
    /// Inside a migration's transaction the write waits as the migration's statements do:
    /// the migration's locks are held meanwhile, and its lock_timeout is what bounds that.
    fn own_write(
        &mut self,
        mut write: impl FnMut(&mut Client, &mut history::Stmts, history::Around) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        self.start_pending()?;
        self.refuse_if_lost()?;
        if self.in_tx && !self.own_tx {
            // Inside a migration's transaction, which holds the migration's locks meanwhile:
            // up to `--lock-wait`, whatever the migration's own lock_timeout (none: no
            // limit), set for the rest of the transaction (its COMMIT) and sent with the
            // write. The transaction is the migration's to end.
            let wait = format!(
                "SET LOCAL lock_timeout = '{}ms'",
                millis(self.lock_wait.max(Duration::from_millis(1)))
            );
            let r = write(
                &mut self.client,
                &mut self.history_stmts,
                history::Around {
                    before: &wait,
                    after: "",
                },
            );
            let r = r.map_err(|e| self.record_waited(e));
            return self.bookkeeping(r);
        }
        let in_tx = self.in_tx;
        let r = self.wait_own(|d, limit| {
            let set = format!("SET LOCAL lock_timeout = '{}ms'", millis(limit));
            let (before, after) = if in_tx {
                (
                    format!("SAVEPOINT {WAIT_SAVEPOINT}; {set}"),
                    format!("RELEASE SAVEPOINT {WAIT_SAVEPOINT}"),
                )
            } else {
                (format!("BEGIN; {set}"), "COMMIT".to_string())
            };
            let r = write(
                &mut d.client,
                &mut d.history_stmts,
                history::Around {
                    before: &before,
                    after: &after,
                },
            );
            if in_tx && matches!(&r, Err(e) if e.kind == DbErrorKind::LockTimeout) {
                // Back to before the write, so that the transaction can go on (and the
                // next attempt's savepoint can be taken); outside one, the COMMIT after
                // the failed write rolled it back. Should this fail, the next attempt
                // fails on the aborted transaction and says so.
                let _ = d
                    .client
                    .batch_execute(&format!("ROLLBACK TO SAVEPOINT {WAIT_SAVEPOINT}"));
            }
            r
        });
        self.bookkeeping(r)
    }

    /// Wait for another session's lock on backstop's tables as [`Self::own_write`] does:
    /// `attempt` is made with lock_timeout `limit`, in slices of [`WAIT_SLICE`] up to
    /// `--lock-wait` (or [`ONCE_MORE`] after an earlier write gave up), and after the first
    /// slice the wait is said with who holds the lock. A write that gives up says in its
    /// detail how long it waited and who holds what on backstop's tables.
    fn wait_own<T>(
        &mut self,
        mut attempt: impl FnMut(&mut Self, Duration) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let once_more = self.gave_up;
        let budget = if once_more {
            ONCE_MORE.min(self.lock_wait)
        } else {
            self.lock_wait
        };
        let started = std::time::Instant::now();
        let mut said = false;
        loop {
            let left = budget.saturating_sub(started.elapsed());
            let limit = left.min(WAIT_SLICE).max(Duration::from_millis(1));
            let e = match attempt(self, limit) {
                Err(e) if e.kind == DbErrorKind::LockTimeout => e,
                r => {
                    if r.is_ok() {
                        // The holder let go: the next write may wait in full again.
                        self.gave_up = false;
                    }
                    return r;
                }
            };
            let giving_up = started.elapsed() >= budget;
            if said && !giving_up {
                continue;
            }
            // Who holds it: asked only when it is said (once, and at the end).
            let holders = self.own_holders();
            if giving_up {
                self.gave_up = true;
                let waited = if once_more {
                    format!(
                        "waited {} more (an earlier write of this command had waited --lock-wait ({}) for it)",
                        human(budget),
                        human(self.lock_wait)
                    )
                } else {
                    format!("waited --lock-wait ({})", human(self.lock_wait))
                };
                return Err(DbError {
                    detail: Some(format!(
                        "{waited} for a lock on backstop's tables: {holders}"
                    )),
                    position: None,
                    // The server's hint is about its own limit; what to do is the
                    // engine's to say.
                    hint: None,
                    ..e
                });
            }
            said = true;
            if let Some(n) = &self.notice {
                n(&format!(
                    "waiting up to {} to write to backstop's tables: {holders} …",
                    human(budget)
                ));
            }
        }
    }

    /// Who holds a lock on backstop's tables that can keep a write from them (every mode
    /// but a plain reader's ACCESS SHARE; a ROW EXCLUSIVE or ROW SHARE holder may hold the
    /// row lock the write waits for), from pg_locks: `another session holds one (pid 123,
    /// application "x": AccessExclusiveLock on backstop.migrations, in a transaction since
    /// …)`.
    fn own_holders(&mut self) -> String {
        self.own_holders_of("l.mode <> 'AccessShareLock'")
    }

    /// [`Self::own_holders`] for a read: only ACCESS EXCLUSIVE (`LOCK TABLE`, or DDL on the
    /// table) keeps a plain SELECT waiting.
    fn own_read_holders(&mut self) -> String {
        self.own_holders_of("l.mode = 'AccessExclusiveLock'")
    }

    /// [`Self::own_holders`] with the lock modes that `modes` (a condition on `l.mode`)
    /// lets through.
    fn own_holders_of(&mut self, modes: &str) -> String {
        let r = self.client.query(
            &format!("SELECT l.pid, COALESCE(a.application_name, ''),                     pg_catalog.string_agg(l.mode || ' on ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), ', ' ORDER BY c.relname, l.mode),                     COALESCE(pg_catalog.to_char(a.xact_start, 'YYYY-MM-DD HH24:MI:SS TZ'), '?')                FROM pg_catalog.pg_locks l                JOIN pg_catalog.pg_class c ON c.oid = l.relation                JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace                LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid               WHERE l.granted AND l.locktype = 'relation' AND {modes}                 AND n.nspname = 'backstop' AND c.relkind IN ('r', 'p')                 AND l.pid <> pg_catalog.pg_backend_pid()                 AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())               GROUP BY l.pid, a.application_name, a.xact_start               ORDER BY l.pid LIMIT 5"),
            &[],
        );
        let held: Vec<String> = match r {
            Ok(rows) => rows
                .iter()
                .filter_map(|row| {
                    let pid: i32 = row.try_get(0).ok()?;
                    let app: String = row.try_get(1).ok()?;
                    let locks: String = row.try_get(2).ok()?;
                    let since: String = row.try_get(3).ok()?;
                    Some(format!(
                        "pid {pid}, application \"{}\": {locks}, in a transaction since {since}",
                        backstop_core::redact::redact(&app)
                    ))
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        if held.is_empty() {
            "another session held one; none holds one now (it let go meanwhile)".into()
        } else {
            format!("another session holds one ({})", held.join("; "))
        }
    }

    /// A read of backstop's own tables (`read`), outside a transaction: it waits for another
    /// session's lock on them up to `--lock-wait`, as backstop's writes do
    /// ([`Self::wait_own`]), not without limit. Only ACCESS EXCLUSIVE keeps a read waiting
    /// (`LOCK TABLE`, DDL): `status`, `audit` or an `apply` (which holds the migration lock
    /// meanwhile) would otherwise hang there with nothing said. Each attempt runs in a
    /// transaction of its own with `SET LOCAL lock_timeout`, so the session's setting is
    /// not touched; after the first second it says who holds what, and after `--lock-wait`
    /// it gives up (exit 4), naming them. Inside a read that sees one moment the same, each
    /// attempt under a savepoint; inside any other transaction the read waits as that
    /// transaction says.
    fn own_read<T>(
        &mut self,
        mut read: impl FnMut(&mut Client) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        // Inside a read that sees one moment ([`Driver::begin_read`]) the same waits go in
        // slices under a savepoint, which keeps the transaction's snapshot (a
        // repeatable-read snapshot is taken by its first query and kept to its end).
        let snapshot = self.in_tx && self.read_tx;
        if self.in_tx && !snapshot {
            let r = read(&mut self.client);
            return self.own(r);
        }
        // How each attempt begins, ends after a result, and ends after a lock timeout. A
        // read-only transaction: COMMIT and ROLLBACK end it alike (and a COMMIT of one that
        // failed rolls it back).
        let (open, done, undo) = if snapshot {
            (
                "SAVEPOINT backstop_read",
                "RELEASE SAVEPOINT backstop_read",
                "ROLLBACK TO SAVEPOINT backstop_read",
            )
        } else {
            ("BEGIN", "COMMIT", "COMMIT")
        };
        let started = std::time::Instant::now();
        let mut said = false;
        loop {
            let left = self.lock_wait.saturating_sub(started.elapsed());
            let limit = left.min(WAIT_SLICE).max(Duration::from_millis(1));
            let begun = self.client.batch_execute(&format!(
                "{open}; SET LOCAL lock_timeout = '{}ms'",
                millis(limit)
            ));
            if let Err(e) = begun {
                if !snapshot {
                    let _ = self.client.batch_execute("ROLLBACK");
                }
                return Err(error::map(&e));
            }
            let e = match read(&mut self.client) {
                Err(e) if e.kind == DbErrorKind::LockTimeout => e,
                r => {
                    let ended = self.client.batch_execute(done);
                    let r = self.own(r)?;
                    self.db(ended)?;
                    return Ok(r);
                }
            };
            let ended = self.client.batch_execute(undo);
            if snapshot {
                self.db(ended)?;
            }
            let giving_up = started.elapsed() >= self.lock_wait;
            if said && !giving_up {
                continue;
            }
            // Who holds it: asked only when it is said (once, and at the end).
            let holders = self.own_read_holders();
            if giving_up {
                if snapshot {
                    let _ = self.end_read();
                }
                return Err(self.read_gave_up(&holders, e.code));
            }
            said = true;
            if let Some(n) = &self.notice {
                n(&format!(
                    "waiting up to {} to read backstop's tables: {holders} …",
                    human(self.lock_wait)
                ));
            }
        }
    }

    /// A read of backstop's tables that waited `--lock-wait` for `holders` and gave up.
    fn read_gave_up(&self, holders: &str, code: Option<String>) -> DbError {
        let what = if self.changed {
            "This command had changed the database before this read (`backstop status` shows how far it got); run it again"
        } else {
            "Nothing was changed: run the command again"
        };
        DbError {
            kind: DbErrorKind::LockTimeout,
            message: format!(
                "reading backstop's tables waited --lock-wait ({}) for a lock: {holders}. {what} once that session has finished (or end it), or raise --lock-wait",
                human(self.lock_wait)
            ),
            code,
            position: None,
            detail: None,
            hint: None,
        }
    }

    /// A read or write of backstop's own tables: a missing privilege says what to grant.
    fn own<T>(&self, r: Result<T, DbError>) -> Result<T, DbError> {
        r.map_err(|e| history::use_privilege_error(e, &self.role, &self.shown_url))
    }

    fn db<T>(&self, r: Result<T, pg::Error>) -> Result<T, DbError> {
        r.map_err(|e| error::map(&e))
    }

    /// The server process id of this connection (what `pg_stat_activity.pid` shows).
    pub fn backend_pid(&mut self) -> Result<i32, DbError> {
        self.start_pending()?;
        let r = self.client.query_one("SELECT pg_backend_pid()", &[]);
        let row = self.db(r)?;
        self.db(row.try_get(0))
    }

    /// How the last [`Driver::schema`] call went (incremental or full, roots re-read,
    /// round trips): for tests and measurements.
    pub fn last_schema_read(&self) -> ReadStats {
        self.catalog.last
    }

    fn history_present(&mut self) -> Result<bool, DbError> {
        if !self.history_known {
            self.history_known = history::exists(&mut self.client)?;
        }
        Ok(self.history_known)
    }

    fn end_transaction(&mut self, committed: bool) {
        if committed {
            // Durable only once `flush` says so: besides batched transactions, the
            // session itself may run with synchronous_commit off (a migration's SET, or
            // ALTER ROLE/DATABASE … SET), and a commit then doesn't wait for the disk.
            self.unflushed = true;
            self.changed = true;
            self.catalog.on_commit();
        } else {
            self.catalog.on_rollback(self.tx_gen);
            // The tables may have been created in the transaction that just went away.
            self.history_known = false;
        }
        self.in_tx = false;
        self.own_tx = false;
        self.read_tx = false;
        self.tx_gen += 1;
    }

    /// The session's prepared statements may be gone (DEALLOCATE, DISCARD): prepare ours
    /// again on next use rather than fail with "prepared statement does not exist" in the
    /// middle of a run.
    /// After an error saying that one of our prepared statements is gone (a DEALLOCATE
    /// we couldn't see coming), prepare them all again from the next use on.
    fn note_lost<T>(&mut self, r: Result<T, DbError>) -> Result<T, DbError> {
        if matches!(&r, Err(e) if e.code.as_deref() == Some("26000")) {
            self.forget_prepared();
        }
        r
    }

    fn forget_prepared(&mut self) {
        self.catalog.forget_statements();
        self.history_stmts = history::Stmts::default();
        self.counters_prepared = false;
    }

    /// A bookkeeping write: a missing privilege says what to grant ([`Self::own`]); one that
    /// succeeded outside a transaction committed, not necessarily durably (see
    /// `end_transaction`).
    fn bookkeeping<T>(&mut self, r: Result<T, DbError>) -> Result<T, DbError> {
        let r = self.own(r);
        if r.is_ok() && !self.in_tx {
            self.unflushed = true;
            self.changed = true;
        }
        r
    }

    fn begin_with(&mut self, timeouts: Timeouts, batched: bool) -> Result<(), DbError> {
        self.refuse_if_lost()?;
        match self.try_begin(timeouts, batched) {
            // A migration ran DEALLOCATE: prepare the counters again, once.
            Err(e) if Self::lost_counters(&e) => {
                self.counters_prepared = false;
                self.try_begin(timeouts, batched)
            }
            r => r,
        }
    }

    fn try_begin(&mut self, timeouts: Timeouts, batched: bool) -> Result<(), DbError> {
        self.prepare_counters()?;
        let begin = Self::begin_sql(timeouts, batched);
        self.tx_gen += 1;
        self.in_tx = true;
        // From PostgreSQL 13 on, statement_timeout applies to each statement of a simple
        // query on its own, so a SET LOCAL in front governs the statement after it; before,
        // one timer covered the whole string from its start, without the SET.
        if self.server_version >= 130000 {
            self.pending_begin = Some(begin);
            return Ok(());
        }
        self.send_begin(begin)
    }

    fn prepare_counters(&mut self) -> Result<(), DbError> {
        if self.counters_prepared {
            return Ok(());
        }
        // A session-level prepared statement: EXECUTE by name is planned once, where
        // the same SELECT sent as text would be parsed, resolved and planned every time.
        let prepare = format!(
            "PREPARE {COUNTERS} AS {}; PREPARE {COUNTERS_DDL} AS {}",
            catalog::Catalog::begin_sql(true),
            catalog::Catalog::begin_sql(false)
        );
        // Statements of these names may exist (ours, from before a DEALLOCATE we only
        // half saw, or someone else's): drop them first.
        let r = self.client.query(
            "SELECT name FROM pg_catalog.pg_prepared_statements WHERE name = ANY($1)",
            &[&[COUNTERS, COUNTERS_DDL].as_slice()],
        );
        let mut batch = String::new();
        for row in self.db(r)? {
            let name: String = self.db(row.try_get(0))?;
            batch.push_str(&format!("DEALLOCATE {name}; "));
        }
        batch.push_str(&prepare);
        let r = self.client.batch_execute(&batch);
        self.db(r)?;
        self.counters_prepared = true;
        Ok(())
    }

    /// BEGIN, the transaction's settings and the counters, as one simple query.
    fn begin_sql(timeouts: Timeouts, batched: bool) -> PendingBegin {
        // SET takes no bind parameters; the values are integers we format.
        let mut sql = String::from("BEGIN");
        let mut statements = 2;
        if batched {
            // Only this transaction; the run ends with a durable write (`flush`).
            sql.push_str("; SET LOCAL synchronous_commit = off");
            statements += 1;
        }
        if let Some(d) = timeouts.lock {
            sql.push_str(&format!("; SET LOCAL lock_timeout = '{}ms'", millis(d)));
            statements += 1;
        }
        if let Some(d) = timeouts.statement {
            sql.push_str(&format!(
                "; SET LOCAL statement_timeout = '{}ms'",
                millis(d)
            ));
            statements += 1;
        }
        sql.push_str("; EXECUTE ");
        sql.push_str(COUNTERS);
        sql.push_str(";\n");
        PendingBegin {
            sql,
            statements,
            timeouts,
            batched,
        }
    }

    /// The counters row among the results of a [`PendingBegin`]'s statements.
    fn on_begun(&mut self, messages: &[SimpleQueryMessage]) {
        let row = messages.iter().find_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        });
        let counters = row.and_then(|r| {
            Some((
                r.try_get(0).ok().flatten()?,
                r.try_get(1).ok().flatten(),
                r.try_get(2).ok().flatten()?,
            ))
        });
        self.catalog.on_begin(self.tx_gen, counters);
    }

    /// Send a transaction's BEGIN on its own (the transaction is already counted).
    fn send_begin(&mut self, begin: PendingBegin) -> Result<(), DbError> {
        match self.client.simple_query(&begin.sql) {
            Ok(messages) => {
                self.on_begun(&messages);
                Ok(())
            }
            Err(e) => {
                let err = error::map(&e);
                // BEGIN may have succeeded before a SET failed: don't leave it open.
                let _ = self.client.batch_execute("ROLLBACK");
                self.end_transaction(false);
                Err(err)
            }
        }
    }

    /// After our counters statement was found gone (and its transaction ended): prepare it
    /// again and count a new transaction with the same settings, to be sent.
    fn begin_again(&mut self, timeouts: Timeouts, batched: bool) -> Result<PendingBegin, DbError> {
        self.counters_prepared = false;
        self.prepare_counters()?;
        self.tx_gen += 1;
        self.in_tx = true;
        Ok(Self::begin_sql(timeouts, batched))
    }

    /// Send a deferred BEGIN now: something other than a statement of the migration comes
    /// first (a schema read, bookkeeping).
    fn start_pending(&mut self) -> Result<(), DbError> {
        let Some(begin) = self.pending_begin.take() else {
            return Ok(());
        };
        let (timeouts, batched) = (begin.timeouts, begin.batched);
        let own = self.own_tx;
        match self.send_begin(begin) {
            Err(e) if Self::lost_counters(&e) => {
                // `send_begin` ended that transaction: prepare the counters again, once.
                let begin = self.begin_again(timeouts, batched)?;
                self.own_tx = own;
                self.send_begin(begin)
            }
            r => r,
        }
    }

    /// Whether an error of a string of backstop's own statements (BEGIN, SET, the
    /// counters) says that our counters statement is gone: a DEALLOCATE we didn't see.
    /// Told by SQLSTATE alone: the message is in the server's language.
    fn lost_counters(e: &DbError) -> bool {
        e.code.as_deref() == Some("26000")
    }

    /// [`Driver::execute`]; `retry`: whether a lost counters statement may be prepared
    /// again and the statement sent once more.
    fn run_statement(&mut self, sql: &str, retry: bool) -> Result<FirstColumn, DbError> {
        self.refuse_if_lost()?;
        // Outside a transaction it may commit a change of its own.
        self.changed |= !self.in_tx;
        let class = classify(sql);
        self.prefetched = None;
        // The schema read the engine announced, sent in the same round trip. Not after
        // statements that end the transaction, may drop prepared statements, or touch
        // track_counts (the read after those is a full one).
        let announced = self.follow.take().filter(|_| {
            matches!(
                class,
                StatementClass::NoCatalogChange | StatementClass::MayChangeCatalog
            ) && !mentions_deallocate(sql)
                && !mentions_track_counts(sql)
                && !mentions_extension(sql)
        });
        let follow = match announced {
            None => None,
            Some(previous) => {
                let data_only = class == StatementClass::NoCatalogChange;
                match self
                    .catalog
                    .follow_request(&mut self.client, self.tx_gen, data_only)
                {
                    Ok(f) => Some((previous, f)),
                    // Preparing the read failed on the server inside our open transaction,
                    // which the server has therefore aborted: the statement could only
                    // fail with "current transaction is aborted". Say what failed.
                    Err(e)
                        if self.in_tx
                            && self.pending_begin.is_none()
                            && (e.code.is_some() || e.kind == DbErrorKind::Connection) =>
                    {
                        return Err(DbError {
                            message: format!(
                                "backstop could not prepare its schema read, and the server aborted the migration's transaction with it (the statement did not run): {}",
                                e.message
                            ),
                            position: None,
                            ..e
                        });
                    }
                    // Not sent, then: the read goes its usual way.
                    Err(_) => None,
                }
            }
        };
        let mut followed = None;
        // The simple query protocol: any statement, including several in one string and
        // utility commands that can't be prepared; positions refer to `sql` as given.
        let pending = self.pending_begin.take();
        // With BEGIN in front: how many statements completed before an error, which tells
        // an error of ours from one of `sql`.
        let mut completed = 0;
        let pending = pending.map(|mut begin| {
            if class == StatementClass::MayChangeCatalog {
                if let Some(head) = begin.sql.strip_suffix(";\n") {
                    begin.sql = format!("{head}_ddl;\n");
                }
            }
            begin
        });
        let result = match &pending {
            Some(begin) => {
                let mut text = String::with_capacity(begin.sql.len() + sql.len());
                text.push_str(&begin.sql);
                text.push_str(sql);
                let (messages, r) = match &follow {
                    Some((_, f)) => {
                        let (first, rows) =
                            self.client
                                .simple_then_query(&text, f.statement(), &f.params());
                        followed = Some(rows);
                        first
                    }
                    None => self.client.simple_query_partial(&text),
                };
                completed = messages
                    .iter()
                    .filter(|m| matches!(m, SimpleQueryMessage::CommandComplete(_)))
                    .count();
                r.map(|()| messages)
            }
            None => match &follow {
                Some((_, f)) => {
                    let ((messages, r), rows) =
                        self.client
                            .simple_then_query(sql, f.statement(), &f.params());
                    followed = Some(rows);
                    r.map(|()| messages)
                }
                None => self.client.simple_query(sql),
            },
        };
        // The results of the BEGIN in front come first.
        let mut ours = 0;
        if let Some(begin) = &pending {
            match &result {
                Ok(messages) => {
                    let mut done = 0;
                    ours = messages
                        .iter()
                        .position(|m| {
                            if let SimpleQueryMessage::CommandComplete(_) = m {
                                done += 1;
                            }
                            done == begin.statements
                        })
                        .map_or(messages.len(), |i| i + 1);
                    self.on_begun(&messages[..ours]);
                }
                Err(e) => {
                    let err = error::map(e);
                    if retry && completed < begin.statements && Self::lost_counters(&err) {
                        // Our EXECUTE failed, so nothing of `sql` ran: begin again with the
                        // counters prepared anew.
                        let _ = self.client.batch_execute("ROLLBACK");
                        self.end_transaction(false);
                        // Whatever dropped it may have dropped the others too.
                        self.forget_prepared();
                        self.pending_begin = Some(self.begin_again(begin.timeouts, begin.batched)?);
                        return self.run_statement(sql, false);
                    }
                }
            }
        }
        if !matches!(
            class,
            StatementClass::Begin | StatementClass::Commit | StatementClass::Rollback
        ) {
            self.catalog.note_statement(self.in_tx);
        }
        // Switching statistics off stops the write counters the reads rely on; extension
        // membership is seen by a full read only.
        if mentions_track_counts(sql) || mentions_extension(sql) {
            self.catalog.invalidate();
        }
        if changes_session_settings(sql) {
            self.session_changed = true;
        }
        match class {
            StatementClass::Begin if result.is_ok() => {
                self.tx_gen += 1;
                self.in_tx = true;
                // A transaction the migration began itself: no counters were read at
                // its start.
                self.catalog.invalidate();
            }
            StatementClass::Commit => self.end_transaction(result.is_ok()),
            StatementClass::Rollback => self.end_transaction(false),
            StatementClass::RollbackToSavepoint => self.catalog.invalidate(),
            StatementClass::MayChangeCatalog if self.in_tx => self.catalog.note_catalog_change(),
            StatementClass::MayChangeCatalog => self.catalog.invalidate(),
            StatementClass::DropsPreparedStatements => {
                self.forget_prepared();
                // DISCARD ALL also releases session advisory locks, the migration lock
                // among them (take it back at once, or stop), and resets every setting
                // (the migration's timeouts and the dead-client check go back on).
                if result.is_ok() && leading_words(sql).1 == "ALL" {
                    if self.lock_held {
                        self.keep_lock("the statement's DISCARD ALL", None)?;
                    }
                    if let Some(t) = self.session_timeouts {
                        self.set_session_timeouts(t)?;
                    }
                    let r = self.client.batch_execute(CONNECTION_CHECK);
                    self.db(r)?;
                }
            }
            _ => {}
        }
        // A DEALLOCATE run by a DO block, or by a function this statement defines: the
        // same, on the safe side (preparing ours again costs a few milliseconds).
        if class != StatementClass::DropsPreparedStatements && mentions_deallocate(sql) {
            self.forget_prepared();
        }
        // A prepared statement is gone that we didn't see go (a DEALLOCATE built at run
        // time): prepare ours again from the next transaction on.
        if matches!(&result, Err(e) if e.code() == Some(&pg::error::SqlState::INVALID_SQL_STATEMENT_NAME))
        {
            self.forget_prepared();
        }
        // A statement that may have released the migration lock: it must still be held (or
        // be taken back at once) before anything else happens, the migration's COMMIT
        // above all: another run that took it meanwhile has read history without this
        // migration and may be applying it too. Only for statements that name the unlock:
        // no cost for the others.
        if self.lock_held
            && class != StatementClass::DropsPreparedStatements
            && mentions_advisory_unlock(sql)
        {
            match &result {
                // The transaction is aborted: asked once it has ended.
                Err(_) if self.in_tx => self.lock_check_due = true,
                // The session is gone, and the lock with it: the statement's error says so.
                Err(e) if error::map(e).kind == DbErrorKind::Connection => {}
                Err(e) => {
                    let said = error::map(e).message;
                    self.keep_lock("the statement (it calls pg_advisory_unlock)", Some(&said))?;
                }
                Ok(_) => self.keep_lock("the statement (it calls pg_advisory_unlock)", None)?,
            }
        }
        let messages = result.map_err(|e| {
            let mut err = error::map(&e);
            if let Some(begin) = &pending {
                // Positions count from the start of the string sent; ours came first.
                err.position = err
                    .position
                    .and_then(|p| p.checked_sub(begin.sql.chars().count()))
                    .filter(|p| *p > 0);
            }
            err
        })?;
        // The statement went through: finish the read that came back with it. After an
        // error it failed too (the transaction is aborted) and is dropped.
        if let (Some((previous, f)), Some(rows)) = (follow, followed) {
            let read = match rows {
                Ok(rows) => self
                    .catalog
                    .follow_finish(&mut self.client, &f, rows, self.tx_gen),
                Err(e) => {
                    self.catalog.invalidate();
                    Err(error::map(&e))
                }
            };
            self.prefetched = Some((self.tx_gen, previous, self.note_lost(read)));
        }
        Ok(messages[ours..]
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(match row.try_get(0) {
                    Ok(v) => truthy(v),
                    Err(_) => true, // a row without columns asserts nothing false
                }),
                _ => None,
            })
            .collect())
    }

    /// After `what` (a statement) may have released the migration lock: make sure this
    /// session still holds it, taking it back at once if it is free. If another session
    /// took it meanwhile, nothing more may run or be written in this command (that session
    /// may be a run writing to the ledger now): the error says so, and so does every later
    /// attempt ([`Self::refuse_if_lost`]). `failed`: the statement's own error, if it
    /// failed.
    fn keep_lock(&mut self, what: &str, failed: Option<&str>) -> Result<(), DbError> {
        self.lock_check_due = false;
        let holder = match lock::still_held(&mut self.client)? {
            LockAttempt::Acquired => return Ok(()),
            LockAttempt::Held(holder) => holder,
        };
        self.lock_held = false;
        self.lock_lost = Some(match holder.as_ref().and_then(|h| h.pid) {
            Some(pid) => {
                format!("backstop's migration lock was lost to another session (pid {pid})")
            }
            None => "backstop's migration lock was lost to another session".to_string(),
        });
        let holder = holder.map_or_else(|| "another session".to_string(), |h| h.to_string());
        let lost = format!(
            "backstop's migration lock was released by {what}, and another session took it before backstop could take it back ({holder})"
        );
        let failed = failed
            .map(|m| format!(" (the statement itself failed too: {m})"))
            .unwrap_or_default();
        Err(DbError {
            kind: DbErrorKind::LockLost,
            ..DbError::other(format!(
                "{lost}{failed}: another run may be changing this database now, so backstop stopped before the migration's commit, and runs and writes nothing more in this command"
            ))
        })
    }

    /// Refuse to run or write anything once the migration lock was lost
    /// ([`Self::keep_lock`]); first ask whether it was, if a statement that may have
    /// released it failed in a transaction that has ended since.
    fn refuse_if_lost(&mut self) -> Result<(), DbError> {
        if self.lock_check_due && !self.in_tx && self.pending_begin.is_none() && self.lock_held {
            // A lost lock found only now is said in full, as right after the statement.
            return self.keep_lock(
                "a statement that failed (it calls pg_advisory_unlock)",
                None,
            );
        }
        match &self.lock_lost {
            None => Ok(()),
            Some(lost) => Err(DbError {
                kind: DbErrorKind::LockLost,
                ..DbError::other(format!("not done: {lost}, which may be writing now"))
            }),
        }
    }

    /// A record inside a migration's transaction that failed (`e`): one that waited the
    /// whole `--lock-wait` for a lock on backstop's tables says so and who holds what (the
    /// transaction has ended: the session can ask), and the writes after it try once more,
    /// briefly ([`ONCE_MORE`]), as after an own write that gave up.
    fn record_waited(&mut self, e: DbError) -> DbError {
        if e.kind != DbErrorKind::LockTimeout {
            return e;
        }
        self.gave_up = true;
        let holders = if self.in_tx {
            // Still in the aborted transaction: nothing can be asked.
            String::new()
        } else {
            format!(": {}", self.own_holders())
        };
        DbError {
            detail: Some(format!(
                "waited --lock-wait ({}) for a lock on backstop's tables{holders}",
                human(self.lock_wait)
            )),
            position: None,
            hint: None,
            ..e
        }
    }

    fn unhealthy(&mut self) -> Result<Vec<Unhealthy>, DbError> {
        let r = self.client.query(catalog::HEALTH, &[]);
        let rows = self.db(r)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let g = |i: usize| -> Result<String, DbError> {
                row.try_get::<_, String>(i).map_err(|e| error::map(&e))
            };
            out.push(Unhealthy {
                is_index: g(0)? == "index",
                name: g(1)?,
                table: g(2)?,
            });
        }
        Ok(out)
    }
}

impl Drop for PgDriver {
    /// A run that ended early (an error before its last write) still leaves its batched
    /// commits durable; closing the connection would not.
    fn drop(&mut self) {
        if self.pending_begin.take().is_some() {
            self.end_transaction(false);
        }
        if self.unflushed {
            if self.in_tx {
                let _ = self.client.batch_execute("ROLLBACK");
                self.end_transaction(false);
            }
            let _ = self.flush();
        }
    }
}

/// A row of the health query.
struct Unhealthy {
    is_index: bool,
    /// `schema.index` for indexes, the constraint name for constraints (quoted if needed).
    name: String,
    table: String,
}

impl Driver for PgDriver {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    fn display_url(&self) -> String {
        self.shown_url.clone()
    }

    fn transactional_ddl(&self) -> bool {
        true
    }

    fn history_exists(&mut self) -> Result<bool, DbError> {
        self.start_pending()?;
        let r = history::exists(&mut self.client);
        self.own(r)
    }

    fn ensure_history(&mut self) -> Result<(), DbError> {
        self.start_pending()?;
        self.refuse_if_lost()?;
        history::ensure(&mut self.client, &self.shown_url, self.in_tx)?;
        self.history_known = true;
        if !self.in_tx {
            // Add what a later layout has (never inside a transaction, where a refusal
            // would abort it).
            history::upgrade(&mut self.client, &mut self.history_stmts)?;
        }
        Ok(())
    }

    fn try_lock(&mut self) -> Result<LockAttempt, DbError> {
        self.start_pending()?;
        if self.lock_held {
            return Ok(LockAttempt::Acquired);
        }
        let attempt = lock::try_lock(&mut self.client)?;
        self.lock_held = attempt == LockAttempt::Acquired;
        if self.lock_held {
            // A new command: its writes wait in full again, whatever an earlier one met,
            // and it holds the lock afresh.
            self.gave_up = false;
            self.lock_lost = None;
            self.lock_check_due = false;
        }
        Ok(attempt)
    }

    fn unlock(&mut self) -> Result<(), DbError> {
        self.start_pending()?;
        if !self.lock_held {
            return Ok(());
        }
        self.lock_held = false;
        lock::unlock(&mut self.client)
    }

    /// From `pg_locks`, without taking the lock (see [`lock::holder`]).
    fn lock_holder(&mut self) -> Result<Option<LockHolder>, DbError> {
        self.start_pending()?;
        if self.lock_held {
            return Ok(None);
        }
        lock::holder(&mut self.client)
    }

    /// `REPEATABLE READ READ ONLY`: one snapshot for every statement of the transaction,
    /// taken at its first. The catalog counters a migration's transaction starts with are
    /// not read: no schema read is made inside it.
    fn begin_read(&mut self) -> Result<(), DbError> {
        self.start_pending()?;
        if self.in_tx {
            return Err(DbError::other(
                "cannot begin a read transaction: one is already open on this connection",
            ));
        }
        // Its reads of backstop's tables wait for another session's lock as any read of
        // them does (`own_read`), not without limit; anything else read in it
        // waits at most --lock-wait too.
        let r = self.client.batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL lock_timeout = '{}ms'",
            millis(self.lock_wait.max(Duration::from_millis(1)))
        ));
        if r.is_err() {
            let _ = self.client.batch_execute("ROLLBACK");
        }
        self.db(r)?;
        self.tx_gen += 1;
        self.in_tx = true;
        self.read_tx = true;
        Ok(())
    }

    fn end_read(&mut self) -> Result<(), DbError> {
        if !self.in_tx {
            return Ok(());
        }
        // Not `end_transaction`: nothing was written, so nothing is left to flush and the
        // history tables can't have been created in it.
        let r = self.client.batch_execute("ROLLBACK");
        self.catalog.on_rollback(self.tx_gen);
        self.in_tx = false;
        self.own_tx = false;
        self.read_tx = false;
        self.tx_gen += 1;
        self.db(r)
    }

    fn begin(&mut self, timeouts: Timeouts) -> Result<(), DbError> {
        self.begin_with(timeouts, false)
    }

    fn begin_batched(&mut self, timeouts: Timeouts) -> Result<(), DbError> {
        self.begin_with(timeouts, true)
    }

    /// A transaction without timeouts of its own: its writes to backstop's tables wait as
    /// `own_write` says, each in a savepoint.
    fn begin_bookkeeping(&mut self) -> Result<(), DbError> {
        self.begin_with(Timeouts::default(), false)?;
        self.own_tx = true;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DbError> {
        if !self.unflushed || self.in_tx {
            return Ok(());
        }
        // A commit waits for the WAL up to itself only if it wrote something, and the WAL is
        // written in order, so that takes every earlier commit with it: rewrite the state
        // row, unchanged, with synchronous_commit at least `local` (whatever else the
        // session asks for, such as waiting for a standby, stays). A write of backstop's
        // own: it waits for another session's lock on the state row as `own_write` says.
        let updated = self.wait_own(|d, limit| {
            let r = d.client.simple_query(&format!(
                "BEGIN; SET LOCAL lock_timeout = '{}ms'; \
                 SELECT CASE WHEN pg_catalog.current_setting('synchronous_commit') = 'off' \
                 THEN pg_catalog.set_config('synchronous_commit', 'on', true) END; \
                 UPDATE backstop.state SET ledger_seq = ledger_seq WHERE id = 1; COMMIT",
                millis(limit)
            ));
            match r {
                // BEGIN, SET, SELECT, UPDATE, COMMIT: the fourth completion is the UPDATE's
                // row count.
                Ok(messages) => Ok(messages
                    .iter()
                    .filter_map(|m| match m {
                        SimpleQueryMessage::CommandComplete(n) => Some(*n),
                        _ => None,
                    })
                    .nth(3)
                    == Some(1)),
                Err(e) => {
                    let _ = d.client.batch_execute("ROLLBACK");
                    Err(error::map(&e))
                }
            }
        })?;
        if !updated {
            return Err(DbError::other(
                "cannot confirm that this run's commits reached the disk: backstop.state has no row to rewrite",
            ));
        }
        self.unflushed = false;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), DbError> {
        if self.pending_begin.take().is_some() {
            // Nothing was sent: there is nothing to commit.
            self.end_transaction(true);
            return Ok(());
        }
        let r = self.client.batch_execute("COMMIT");
        // A failed COMMIT (deferred constraint, serialization failure) rolls back.
        self.end_transaction(r.is_ok());
        self.db(r)
    }

    fn rollback(&mut self) -> Result<(), DbError> {
        if self.pending_begin.take().is_some() {
            self.end_transaction(false);
            return Ok(());
        }
        let r = self.client.batch_execute("ROLLBACK");
        self.end_transaction(false);
        self.db(r)
    }

    /// Each migration starts from the session backstop opened: a `SET search_path` or
    /// `SET statement_timeout` left by an earlier one (a session-level setting outlives its
    /// transaction) would otherwise change what the next one does — and only in this run,
    /// not when it runs alone. Costs a round trip only after such a statement.
    fn reset_session(&mut self) -> Result<(), DbError> {
        if !self.session_changed {
            return Ok(());
        }
        self.start_pending()?;
        if self.in_tx {
            return Err(DbError::other(
                "cannot reset the session: a transaction is open on this connection",
            ));
        }
        let r = self.client.batch_execute("RESET ALL");
        self.db(r)?;
        let r = self.client.batch_execute(CONNECTION_CHECK);
        self.db(r)?;
        self.session_timeouts = None;
        self.session_changed = false;
        Ok(())
    }

    fn set_session_timeouts(&mut self, timeouts: Timeouts) -> Result<(), DbError> {
        self.start_pending()?;
        let lock = match timeouts.lock {
            Some(d) => format!("SET lock_timeout = '{}ms'", millis(d)),
            None => "RESET lock_timeout".to_string(),
        };
        let statement = match timeouts.statement {
            Some(d) => format!("SET statement_timeout = '{}ms'", millis(d)),
            None => "RESET statement_timeout".to_string(),
        };
        let r = self.client.batch_execute(&format!("{lock}; {statement}"));
        if r.is_ok() {
            self.session_timeouts = Some(timeouts);
        }
        self.db(r)
    }

    fn execute(&mut self, sql: &str) -> Result<FirstColumn, DbError> {
        self.run_statement(sql, true)
    }

    fn load_history(&mut self) -> Result<Vec<HistoryRow>, DbError> {
        self.start_pending()?;
        if !self.history_present()? {
            return Ok(Vec::new());
        }
        self.own_read(history::load_history)
    }

    fn load_history_brief(&mut self) -> Result<Vec<HistoryRow>, DbError> {
        self.start_pending()?;
        if !self.history_present()? {
            return Ok(Vec::new());
        }
        self.own_read(history::load_history_brief)
    }

    fn save_history(&mut self, row: &HistoryRow) -> Result<(), DbError> {
        self.own_write(|client, stmts, around| history::save_history(client, stmts, row, around))
    }

    fn load_events(&mut self) -> Result<Vec<Event>, DbError> {
        self.start_pending()?;
        if !self.history_present()? {
            return Ok(Vec::new());
        }
        self.own_read(history::load_events)
    }

    fn load_events_brief(&mut self) -> Result<Vec<Event>, DbError> {
        self.start_pending()?;
        if !self.history_present()? {
            return Ok(Vec::new());
        }
        self.own_read(history::load_events_brief)
    }

    fn append_event(&mut self, event: &Event) -> Result<(), DbError> {
        self.own_write(|client, stmts, around| history::append_event(client, stmts, event, around))
    }

    fn load_state(&mut self) -> Result<Option<StoredState>, DbError> {
        self.start_pending()?;
        if !self.history_present()? {
            return Ok(None);
        }
        self.own_read(history::load_state)
    }

    fn recorded_head(&mut self) -> Result<Option<(i64, String)>, DbError> {
        self.start_pending()?;
        if !self.history_present()? {
            return Ok(None);
        }
        self.own_read(history::recorded_head)
    }

    fn ledger_end(&mut self) -> Result<Option<(i64, String)>, DbError> {
        self.start_pending()?;
        if !self.history_present()? {
            return Ok(None);
        }
        self.own_read(history::ledger_end)
    }

    fn save_state(&mut self, state: &StoredState) -> Result<(), DbError> {
        self.own_write(|client, stmts, around| history::save_state(client, stmts, state, around))
    }

    fn record(
        &mut self,
        row: Option<&HistoryRow>,
        event: &Event,
        state: &StoredState,
    ) -> Result<(), DbError> {
        self.own_write(|client, stmts, around| {
            history::record(client, stmts, row, event, state, around)
        })
    }

    fn record_and_commit(
        &mut self,
        row: Option<&HistoryRow>,
        event: &Event,
        state: &StoredState,
    ) -> Result<(), RecordCommitError> {
        self.start_pending().map_err(RecordCommitError::Record)?;
        self.refuse_if_lost().map_err(RecordCommitError::Record)?;
        if !self.in_tx || self.own_tx {
            // No transaction of ours to end: the write commits on its own, as it would
            // without pipelining. Or backstop's own bookkeeping transaction, whose write
            // waits as `own_write` says (in a savepoint: the COMMIT can't go with it).
            return backstop_core::driver::record_then_commit(self, row, event, state);
        }
        // The record waits for another session's lock on backstop's tables up to
        // `--lock-wait`, whatever the migration's own lock_timeout (or none: no limit)
        // says: the migration holds its locks meanwhile. Set for it alone (the COMMIT
        // comes next) and sent with it: no round trip more.
        let wait = format!(
            "SET LOCAL lock_timeout = '{}ms'",
            millis(self.lock_wait.max(Duration::from_millis(1)))
        );
        let (recorded, committed) = history::record_and_commit(
            &mut self.client,
            &mut self.history_stmts,
            row,
            event,
            state,
            &wait,
        )
        .map_err(RecordCommitError::Record)?;
        // A refused privilege is never a lost connection: said with what to grant, whichever
        // arm it takes.
        let recorded = self.own(recorded);
        match (recorded, committed) {
            (Ok(()), Some(Ok(()))) => {
                self.end_transaction(true);
                Ok(())
            }
            // Failed before anything was sent: the transaction is still open, for the
            // caller to roll back.
            (Err(e), None) => Err(RecordCommitError::Record(e)),
            // Whether the COMMIT got there is unknown.
            (Err(e), _) | (Ok(()), Some(Err(e))) if e.kind == DbErrorKind::Connection => {
                self.end_transaction(false);
                Err(RecordCommitError::Commit(e))
            }
            // The COMMIT after the failed record rolled the transaction back.
            (Err(e), Some(_)) => {
                self.end_transaction(false);
                Err(RecordCommitError::Record(self.record_waited(e)))
            }
            // A failed COMMIT (deferred constraints) rolls back too.
            (Ok(()), Some(Err(e))) => {
                self.end_transaction(false);
                Err(RecordCommitError::Commit(e))
            }
            (Ok(()), None) => Err(RecordCommitError::Commit(DbError::other(
                "COMMIT was not sent after the bookkeeping",
            ))),
        }
    }

    fn schema(&mut self, previous: Option<&SchemaState>) -> Result<SchemaState, DbError> {
        if let (Some((tx_gen, announced, read)), Some(previous)) =
            (self.prefetched.take(), previous)
        {
            if tx_gen == self.tx_gen && announced == std::ptr::from_ref(previous) as usize {
                return read;
            }
        }
        self.start_pending()?;
        let read = if self.in_tx {
            // Inside a migration's transaction the read waits as the migration's own
            // statements do (its lock_timeout).
            self.catalog
                .read(&mut self.client, previous, true, self.tx_gen)
        } else {
            self.read_waiting(previous)
        };
        self.note_lost(read)
    }

    fn schema_read_follows(&mut self, previous: &SchemaState) {
        self.follow = (self.in_tx && self.catalog.can_follow(previous, self.tx_gen))
            .then(|| std::ptr::from_ref(previous) as usize);
    }

    fn catalog_stamp(&mut self) -> Result<Option<String>, DbError> {
        self.start_pending()?;
        let r = self.client.query_one(&catalog::stamp(), &[]);
        let row = self.db(r)?;
        let md5: String = self.db(row.try_get(0))?;
        Ok(Some(format!("xmin-md5:{md5}")))
    }

    fn health(&mut self) -> Result<Vec<HealthIssue>, DbError> {
        self.start_pending()?;
        Ok(self
            .unhealthy()?
            .into_iter()
            .map(|u| {
                if u.is_index {
                    HealthIssue::InvalidIndex {
                        name: u.name,
                        table: u.table,
                    }
                } else {
                    HealthIssue::NotValidConstraint {
                        name: u.name,
                        table: u.table,
                    }
                }
            })
            .collect())
    }

    fn drop_invalid_indexes(
        &mut self,
        keep: &[String],
        failed: &str,
    ) -> Result<Vec<String>, DbError> {
        self.start_pending()?;
        self.refuse_if_lost()?;
        if self.in_tx {
            return Err(DbError::other(
                "drop_invalid_indexes must run outside a transaction (DROP INDEX CONCURRENTLY)",
            ));
        }
        // Only what the failed statement itself can have left: an INVALID index that is new
        // since the migration began may equally be another session's, failed or still
        // being built (and a DROP INDEX CONCURRENTLY would wait for that build to finish,
        // then drop a valid index its owner relies on).
        let Some(build) = ConcurrentBuild::of(failed) else {
            return Ok(Vec::new());
        };
        // The table, resolved as the statement resolved it: same session, same search_path.
        let (sql, name) = match &build.on {
            On::Table(t) => (
                "SELECT pg_catalog.to_regclass($1)::pg_catalog.oid",
                t.regclass(),
            ),
            On::TableOfIndex(ix) => (
                "SELECT i.indrelid FROM pg_catalog.pg_index i WHERE i.indexrelid = pg_catalog.to_regclass($1)",
                ix.regclass(),
            ),
        };
        let r = self.client.query(sql, &[&name]);
        let Some(table) = self
            .db(r)?
            .first()
            .and_then(|row| row.try_get::<_, Option<u32>>(0).ok().flatten())
        else {
            return Ok(Vec::new());
        };
        let r = self.client.query(catalog::DROPPABLE_INVALID, &[&table]);
        let rows = self.db(r)?;
        let mut dropped = Vec::new();
        for row in &rows {
            let g = |i: usize| -> Result<String, DbError> {
                row.try_get::<_, String>(i).map_err(|e| error::map(&e))
            };
            let (name, schema, bare) = (g(0)?, g(1)?, g(2)?);
            if keep
                .iter()
                .any(|k| *k == name || *k == format!("{schema}.{bare}"))
                || !build.left(&bare)
            {
                continue;
            }
            // CONCURRENTLY: the table may be busy; a plain DROP INDEX would queue an ACCESS
            // EXCLUSIVE lock behind its readers and block everyone behind it.
            let r = self
                .client
                .batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {name}"));
            self.catalog.invalidate();
            self.db(r)?;
            dropped.push(name);
        }
        Ok(dropped)
    }
}

/// A name as PostgreSQL stores it: unquoted names fold ASCII letters to lower case (only
/// those), and every name is cut to 63 bytes.
fn stored_name(token: &Token) -> Option<String> {
    let mut name = match token {
        Token::Word(w) => w.to_ascii_lowercase(),
        Token::Quoted(q) => q.clone(),
        Token::Punct(_) => return None,
    };
    let mut end = name.len().min(63);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name.truncate(end);
    Some(name)
}

/// A possibly schema-qualified name from a statement.
#[derive(Debug, PartialEq)]
struct QualifiedName {
    schema: Option<String>,
    name: String,
}

impl QualifiedName {
    /// `[schema.]name` starting at token `i`, and the index after it.
    fn at(t: &[Token], i: usize) -> Option<(QualifiedName, usize)> {
        let first = stored_name(t.get(i)?)?;
        match (t.get(i + 1), t.get(i + 2).and_then(stored_name)) {
            (Some(Token::Punct('.')), Some(name)) => Some((
                QualifiedName {
                    schema: Some(first),
                    name,
                },
                i + 3,
            )),
            _ => Some((
                QualifiedName {
                    schema: None,
                    name: first,
                },
                i + 1,
            )),
        }
    }

    /// The text `to_regclass` resolves as the statement did (unqualified: by search_path).
    fn regclass(&self) -> String {
        match &self.schema {
            Some(s) => quote_qualified(s, &self.name),
            None => quote::quote_ident(&self.name),
        }
    }
}

/// What a failed concurrent index build is on.
#[derive(Debug, PartialEq)]
enum On {
    Table(QualifiedName),
    /// `REINDEX INDEX`: the table of that index.
    TableOfIndex(QualifiedName),
}

/// A concurrent index build, as a failed statement names it: what it can leave behind.
#[derive(Debug, PartialEq)]
struct ConcurrentBuild {
    on: On,
    /// `CREATE INDEX CONCURRENTLY name`: that index only; unnamed: any new one on the
    /// table. None for REINDEX, which leaves `_ccnew` copies (or `_ccold` originals).
    index: Option<String>,
    reindex: bool,
}

impl ConcurrentBuild {
    /// `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] [name] ON [ONLY] [schema.]table`
    /// or `REINDEX [(options)] {INDEX|TABLE} CONCURRENTLY [schema.]name`. Anything else
    /// (REINDEX SCHEMA or DATABASE among them) leaves nothing backstop could tell apart.
    fn of(sql: &str) -> Option<ConcurrentBuild> {
        let t = tokens(sql, 40);
        let word = |i: usize| match t.get(i) {
            Some(Token::Word(w)) => Some(w.to_ascii_lowercase()),
            _ => None,
        };
        let is = |i: usize, w: &str| word(i).as_deref() == Some(w);
        if is(0, "reindex") {
            let mut i = 1;
            // PostgreSQL 14+: `REINDEX (CONCURRENTLY, VERBOSE) TABLE t`.
            let mut concurrently = false;
            if t.get(i) == Some(&Token::Punct('(')) {
                let close = i + t[i..].iter().position(|x| *x == Token::Punct(')'))?;
                concurrently = (i..close).any(|k| is(k, "concurrently"));
                i = close + 1;
            }
            let kind = word(i)?;
            i += 1;
            if is(i, "concurrently") {
                concurrently = true;
                i += 1;
            }
            if !concurrently {
                return None;
            }
            let (name, _) = QualifiedName::at(&t, i)?;
            let on = match kind.as_str() {
                "index" => On::TableOfIndex(name),
                "table" => On::Table(name),
                _ => return None,
            };
            return Some(ConcurrentBuild {
                on,
                index: None,
                reindex: true,
            });
        }
        if !is(0, "create") {
            return None;
        }
        let mut i = 1;
        if is(i, "unique") {
            i += 1;
        }
        if !is(i, "index") || !is(i + 1, "concurrently") {
            return None;
        }
        i += 2;
        if is(i, "if") && is(i + 1, "not") && is(i + 2, "exists") {
            i += 3;
        }
        let index = if is(i, "on") {
            None
        } else {
            let n = stored_name(t.get(i)?)?;
            i += 1;
            Some(n)
        };
        if !is(i, "on") {
            return None;
        }
        i += 1;
        if is(i, "only") {
            i += 1;
        }
        let (table, _) = QualifiedName::at(&t, i)?;
        Some(ConcurrentBuild {
            on: On::Table(table),
            index,
            reindex: false,
        })
    }

    /// Whether the INVALID index called `index`, on this build's table, can be its own.
    fn left(&self, index: &str) -> bool {
        if self.reindex {
            // `_ccnew`: the copy a failed REINDEX was building; `_ccold`: the original it
            // swapped out but could not drop. PostgreSQL's advice for both is to drop them.
            return ["_ccnew", "_ccold"].iter().any(|suffix| {
                index.rfind(suffix).is_some_and(|i| {
                    index[i + suffix.len()..]
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
            });
        }
        self.index.as_deref().is_none_or(|n| n == index)
    }
}

/// A token of a statement's start: a word or a quoted identifier (as written), or a
/// punctuation character.
#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Punct(char),
}

/// The first `max` tokens of `sql`, skipping comments; stops at a string constant.
fn tokens(sql: &str, max: usize) -> Vec<Token> {
    let mut out = Vec::new();
    let mut rest = sql;
    while out.len() < max {
        rest = skip_space_and_comments(rest);
        let Some(c) = rest.chars().next() else { break };
        if c == '"' {
            let mut name = String::new();
            let mut body = &rest[1..];
            loop {
                match body.find('"') {
                    Some(k) if body[k + 1..].starts_with('"') => {
                        name.push_str(&body[..=k]);
                        body = &body[k + 2..];
                    }
                    Some(k) => {
                        name.push_str(&body[..k]);
                        body = &body[k + 1..];
                        break;
                    }
                    None => return out,
                }
            }
            out.push(Token::Quoted(name));
            rest = body;
        } else if c.is_alphanumeric() || c == '_' || !c.is_ascii() {
            // PostgreSQL takes every non-ASCII character as part of a name (`t€`).
            let end = rest
                .find(|x: char| !(x.is_alphanumeric() || x == '_' || x == '$' || !x.is_ascii()))
                .unwrap_or(rest.len());
            out.push(Token::Word(rest[..end].to_string()));
            rest = &rest[end..];
        } else if c == '\'' || c == '$' {
            break;
        } else {
            out.push(Token::Punct(c));
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_builds_are_read_as_postgresql_reads_them() {
        let table = |schema: Option<&str>, name: &str| QualifiedName {
            schema: schema.map(str::to_string),
            name: name.to_string(),
        };
        let b = ConcurrentBuild::of("REINDEX (CONCURRENTLY, VERBOSE) TABLE s.T").expect("reindex");
        assert_eq!(b.on, On::Table(table(Some("s"), "t")));
        assert!(b.reindex && b.left("t_a_ccnew1") && b.left("t_a_ccold") && !b.left("t_a"));
        assert!(!b.left("t_a_ccnew_x"));
        assert_eq!(ConcurrentBuild::of("REINDEX (VERBOSE) TABLE t"), None);
        assert_eq!(ConcurrentBuild::of("REINDEX SCHEMA CONCURRENTLY s"), None);
        let b = ConcurrentBuild::of("REINDEX INDEX CONCURRENTLY i").expect("reindex index");
        assert_eq!(b.on, On::TableOfIndex(table(None, "i")));
        let b = ConcurrentBuild::of("create index concurrently on t€ (a)").expect("create");
        assert_eq!(b.on, On::Table(table(None, "t€")));
        assert_eq!(b.index, None);
        let b = ConcurrentBuild::of(
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"A b\" ON ONLY \"S\".x (a)",
        )
        .expect("create named");
        assert_eq!(
            (b.on, b.index.as_deref()),
            (On::Table(table(Some("S"), "x")), Some("A b"))
        );
        assert_eq!(ConcurrentBuild::of("CREATE INDEX i ON t (a)"), None);
    }

    #[test]
    fn truthiness() {
        for v in ["f", "false", "FALSE", "0", "0.0", "-0", "+0e5", "00.000"] {
            assert!(!truthy(Some(v)), "{v}");
        }
        for v in ["t", "true", "1", "0.1", "-1", "x", "", "0x", "1e0", "NaN"] {
            assert!(truthy(Some(v)), "{v}");
        }
        assert!(!truthy(None));
    }

    #[test]
    fn classifies_statements() {
        assert_eq!(
            classify("  -- hi\n /* a /* b */ */ select 1"),
            StatementClass::NoCatalogChange
        );
        assert_eq!(
            classify("CREATE TABLE t()"),
            StatementClass::MayChangeCatalog
        );
        assert_eq!(
            classify("rollback to savepoint a"),
            StatementClass::RollbackToSavepoint
        );
        assert_eq!(classify("ROLLBACK"), StatementClass::Rollback);
        assert_eq!(
            classify("begin isolation level serializable"),
            StatementClass::Begin
        );
        assert_eq!(
            classify("do $$ begin end $$"),
            StatementClass::MayChangeCatalog
        );
    }

    #[test]
    fn millis_never_rounds_to_zero() {
        assert_eq!(millis(Duration::from_micros(10)), 1);
        assert_eq!(millis(Duration::ZERO), 0);
        assert_eq!(millis(Duration::from_secs(2)), 2000);
    }
}
