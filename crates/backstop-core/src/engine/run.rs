//! Running scripts statement by statement, and writing ledger events.

use crate::driver::{DbError, DbErrorKind, Driver, Engine, RecordCommitError};
use crate::error::{EngineError, Failure};
use crate::history::{HistoryRow, StoredState};
use crate::ledger::{self, NewEvent, GENESIS};
use crate::migration::Part;
use crate::report::{NextCommand, PlannedStatement, ScriptProgress};
use crate::schema::SchemaState;
use crate::sql::{self, Statement};
use std::collections::HashMap;
use std::time::Duration;

/// Which script is running, for error positions.
pub(crate) struct ScriptRef<'a> {
    pub version: i64,
    pub name: &'a str,
    pub part: Part,
    /// The file shown in errors.
    pub file: String,
    /// Added to statement lines (single-file sections start further down the file).
    pub line_offset: usize,
}

/// The command a failed run's advice says to run again: its name (`apply` or `rollback`,
/// what [`lock_options`] and `needs_person.command` go by) and the options that select
/// the migrations of the run. Run bare, `apply` would go past its `--to` and a rollback
/// would undo only the newest migration, not what is left of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Again {
    pub name: &'static str,
    /// Options as typed, each with a leading space (empty for none).
    pub args: String,
}

impl Again {
    /// What a person types: `backstop apply --to 9`.
    pub fn shell(&self) -> String {
        format!("backstop {self}")
    }
}

impl std::fmt::Display for Again {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.name, self.args)
    }
}

/// Why a script stopped.
pub(crate) struct ScriptError {
    pub failure: Failure,
    pub db: Option<DbError>,
    /// Statements that completed before the failure.
    pub completed: usize,
    /// The schema read after the statements failed, not a statement.
    pub read: bool,
    /// The statement completed (it is counted in `completed`), but recording its progress
    /// failed (`db`): history counts one statement fewer than ran.
    pub unrecorded: bool,
}

impl ScriptError {
    pub fn is_lock_timeout(&self) -> bool {
        self.db
            .as_ref()
            .is_some_and(|e| e.kind == DbErrorKind::LockTimeout)
    }
}

pub(crate) fn failure_at(
    s: &ScriptRef,
    index: usize,
    st: &Statement,
    error: String,
    db: Option<&DbError>,
) -> Failure {
    let (line, column) = match db.and_then(|e| e.position) {
        Some(p) => st.script_position(p),
        None => (st.line, st.column),
    };
    // The line the error points at, when the statement's first line doesn't show it. Taken
    // from the masked statement, so that a credential split over lines is masked whole (and
    // not shown at all if masking joined lines).
    let line_text = (line > st.line)
        .then(|| {
            let masked = crate::redact::redact(&st.sql);
            (masked.lines().count() == st.sql.lines().count())
                .then(|| masked.lines().nth(line - st.line).map(str::to_string))
                .flatten()
        })
        .flatten()
        .map(|l| {
            let l = l.trim();
            let mut t: String = l.chars().take(200).collect();
            if l.chars().count() > 200 {
                t.push_str(" …");
            }
            t
        });
    Failure {
        version: s.version,
        name: s.name.to_string(),
        part: s.part,
        file: s.file.clone(),
        statement_index: index + 1,
        line: line + s.line_offset,
        column,
        // The statement may quote a password (the database's message already had it
        // masked); the failure is printed and stored in the ledger as it is here.
        statement: crate::redact::redact(&st.excerpt()),
        line_text,
        error: crate::redact::redact(&error),
        code: db.and_then(|e| e.code.clone()),
        detail: db.and_then(|e| e.detail.clone()),
        hint: db.and_then(|e| e.hint.clone()),
    }
}

/// Run `statements` in order (skipping the first `skip`). For verify scripts, a row whose
/// first column is false/0/NULL fails the script. `after_each` runs after each statement
/// (non-transactional progress recording). `read_follows`: the schema will be read with
/// this previous state right after the last statement ([`Driver::schema_read_follows`]).
pub(crate) fn run_statements(
    db: &mut dyn Driver,
    s: &ScriptRef,
    statements: &[Statement],
    skip: usize,
    read_follows: Option<&SchemaState>,
    mut after_each: impl FnMut(&mut dyn Driver, usize) -> Result<(), DbError>,
) -> Result<usize, ScriptError> {
    for (i, st) in statements.iter().enumerate().skip(skip) {
        if let (Some(previous), true) = (read_follows, i + 1 == statements.len()) {
            db.schema_read_follows(previous);
        }
        // A database may repeat a password literal of the statement without the words
        // that mark it as one (`near "'…'": syntax error`).
        crate::redact::register_sql_passwords(&st.sql);
        match db.execute(&st.sql) {
            Ok(rows) => {
                if s.part == Part::Verify {
                    if let Some(row) = rows.iter().position(|ok| !ok) {
                        let msg = format!(
                            "verify check returned false/0/NULL in row {} (of {})",
                            row + 1,
                            rows.len()
                        );
                        return Err(ScriptError {
                            failure: failure_at(s, i, st, msg, None),
                            db: None,
                            completed: i,
                            read: false,
                            unrecorded: false,
                        });
                    }
                }
            }
            Err(e) => {
                return Err(ScriptError {
                    failure: failure_at(s, i, st, e.message.clone(), Some(&e)),
                    db: Some(e),
                    completed: i,
                    read: false,
                    unrecorded: false,
                });
            }
        }
        if let Err(e) = after_each(db, i + 1) {
            // The position, if any, is in backstop's write, not in the statement.
            let shown = DbError {
                position: None,
                ..e.clone()
            };
            return Err(ScriptError {
                failure: failure_at(
                    s,
                    i,
                    st,
                    format!("recording progress failed: {}", e.message),
                    Some(&shown),
                ),
                db: Some(e),
                completed: i + 1,
                read: false,
                unrecorded: true,
            });
        }
    }
    Ok(statements.len())
}

/// The schema read after a script's last statement (sent along with it where the driver
/// can). Its failure is reported at that statement and handled like the statement's: a
/// lock timeout, met when another session holds a lock on something the read prints (a
/// table a view reads from, say), is retried.
pub(crate) fn read_after(
    db: &mut dyn Driver,
    s: &ScriptRef,
    statements: &[Statement],
    previous: &SchemaState,
) -> Result<SchemaState, ScriptError> {
    db.schema(Some(previous)).map_err(|e| {
        let what = if e.kind == DbErrorKind::LockTimeout {
            "the schema read sent with it hit lock_timeout waiting for a lock another session holds on an object the read prints (a table a view reads from, say)"
        } else {
            "the schema read sent with it failed"
        };
        let message = format!("{what}: {}", e.message);
        // The position, if any, is in backstop's query, not in the statement.
        let shown = DbError {
            position: None,
            ..e.clone()
        };
        let failure = match statements.last() {
            Some(st) => failure_at(s, statements.len() - 1, st, message, Some(&shown)),
            None => Failure {
                version: s.version,
                name: s.name.to_string(),
                part: s.part,
                file: s.file.clone(),
                statement_index: 0,
                line: 1 + s.line_offset,
                column: 1,
                statement: String::new(),
                line_text: None,
                error: message,
                code: e.code.clone(),
                detail: e.detail.clone(),
                hint: e.hint.clone(),
            },
        };
        ScriptError {
            failure,
            db: Some(e),
            completed: statements.len(),
            read: true,
            unrecorded: false,
        }
    })
}

/// What to do after the schema read that follows a script failed (`command`: the command
/// to run again; `own_limit`: whether the migration sets its own lock_timeout, which the
/// read waited under).
pub(crate) fn read_next(
    se: &ScriptError,
    command: &Again,
    engine: Engine,
    own_limit: bool,
) -> String {
    if se.is_lock_timeout() {
        let (_, options) = lock_options(command.name, own_limit);
        // Where to look for the holder: PostgreSQL's lock view, or the error's detail
        // (SQLite locks the whole file and names who it can).
        let holder = match engine {
            Engine::Sqlite => "another connection holds the database file the schema read waited for (the error's detail says who, where backstop can tell)",
            _ => "another session holds a lock the schema read waited for (see pg_locks)",
        };
        format!("{holder}; run `backstop {command}` again once it is released{options}")
    } else {
        format!("check the connection and the server log, then run `backstop {command}` again")
    }
}

/// A transaction that could not begin because another connection held the lock it takes
/// (SQLite's `BEGIN IMMEDIATE` takes the file's write lock): a lock timeout of the script's
/// first statement, which is what waited, retried and reported as one. Any other error is
/// returned as it is.
pub(crate) fn begin_lock_timeout(
    s: &ScriptRef,
    statements: &[Statement],
    e: DbError,
) -> Result<ScriptError, DbError> {
    match statements.first() {
        Some(st) if e.kind == DbErrorKind::LockTimeout => Ok(ScriptError {
            failure: failure_at(s, 0, st, e.message.clone(), Some(&e)),
            db: Some(e),
            completed: 0,
            read: false,
            unrecorded: false,
        }),
        _ => Err(e),
    }
}

/// What to do after a statement of a script failed: `fix`, unless it timed out waiting for
/// a lock, which is no fault of the script (`command`: the command to run again;
/// `own_limit`: whether the migration sets the lock_timeout that ran out, or the wait was
/// `--lock-wait`'s).
pub(crate) fn script_next(
    se: &ScriptError,
    command: &Again,
    own_limit: bool,
    fix: String,
) -> String {
    if se
        .db
        .as_ref()
        .is_some_and(|e| e.kind == DbErrorKind::LockLost)
    {
        format!("a migration must not release backstop's migration lock (pg_advisory_unlock_all, pg_advisory_unlock, DISCARD ALL): take that out of the script. Another session took the lock meanwhile (the error names it): let it finish, see where the database is with `backstop status` and `backstop audit verify`, then run `backstop {command}` again")
    } else if se.is_lock_timeout() {
        let (limit, options) = lock_options(command.name, own_limit);
        format!("another session held a lock this statement needed for longer than {limit}, in every attempt: find it (PostgreSQL: pg_locks joined with pg_stat_activity; SQLite: another process writing to the file) and run `backstop {command}` again once it is released{options}")
    } else {
        match se.db.as_ref().map(|e| (e.kind, e.code.as_deref())) {
            // Cancelled: by statement_timeout, or by someone (pg_cancel_backend).
            Some((DbErrorKind::StatementTimeout, _)) => format!("the statement was cancelled: by the migration's statement_timeout (make the statement faster, or raise statement_timeout in the migration's options) or by another session (pg_cancel_backend); then run `backstop {command}` again"),
            // Terminated by an administrator or a server shutdown: nothing to fix in the file.
            Some((_, Some("57P01" | "57P02" | "57P03"))) => format!("the session was terminated by the server or an administrator (pg_terminate_backend, a shutdown or restart), not by anything in the script: find out why, then run `backstop {command}` again"),
            _ => fix,
        }
    }
}

/// What to do after COMMIT waited for a lock past the migration's lock_timeout (in every
/// attempt): another connection kept the database busy. `own_limit` as for [`lock_options`].
pub(crate) fn commit_lock_next(command: &Again, own_limit: bool) -> String {
    let (limit, options) = lock_options(command.name, own_limit);
    format!(
        "another connection held the database (SQLite: a reader or writer of the file; PostgreSQL: see pg_locks) while COMMIT waited, longer than {limit}: run `backstop {command}` again once it is done{options}"
    )
}

/// After a lock timeout that outlasted the retries: which limit ran out, and how to change
/// it. A rollback waits as the options stored with the migration say: editing the file
/// changes nothing for it (and would only make the applied migration look edited).
/// `own_limit`: whether the migration sets the lock_timeout that ran out, or the wait was
/// `--lock-wait`'s.
pub(crate) fn lock_options(command: &str, own_limit: bool) -> (&'static str, &'static str) {
    match (command, own_limit) {
        ("rollback", true) => (
            "the migration's lock_timeout",
            " (a rollback uses the lock_timeout and retries stored when the migration was applied)",
        ),
        // Stored without a lock_timeout: its statements waited as long as the command does.
        ("rollback", false) => (
            "--lock-wait (the migration was applied with no lock_timeout)",
            ", or run with a longer --lock-wait",
        ),
        (_, true) => (
            "the migration's lock_timeout",
            ", or raise lock_timeout or retries in the migration's options",
        ),
        (_, false) => (
            "--lock-wait (the migration sets no lock_timeout)",
            ", or run with a longer --lock-wait",
        ),
    }
}

/// The statements of a script that will run on `engine`, split by that engine's rules.
pub(crate) fn split(engine: Engine, script: Option<&str>) -> Vec<Statement> {
    script
        .map(|s| sql::split_for(engine, s))
        .unwrap_or_default()
}

/// Backoff before retry `attempt` (1-based) after a lock timeout: 200 ms doubling, capped
/// at 5 s, with jitter so competing deploys don't retry in lockstep.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = 200u64
        .saturating_mul(1 << attempt.min(5).saturating_sub(1))
        .min(5000);
    let jitter = (std::process::id() as u64).wrapping_mul(2654435761) % (base / 4 + 1);
    Duration::from_millis(base + jitter)
}

/// The recorded fingerprint, when the schema (`current`, its fingerprint) no longer has
/// it: a change made outside backstop. `stored` is the state row and `history` the rows of
/// a database with history, read at one moment; without a recorded fingerprint, none.
pub(crate) fn drifted(
    stored: Option<StoredState>,
    history: &[HistoryRow],
    current: &str,
) -> Option<String> {
    state_or_history(stored, history)
        .map(|s| s.fingerprint)
        .filter(|f| !f.is_empty() && f != current)
}

/// The schema history says the database should have when nothing else records it: after
/// the newest applied migration, or before the oldest one when all were rolled back.
fn history_baseline(history: &[HistoryRow]) -> Option<String> {
    let applied = history
        .iter()
        .filter(|r| r.status == crate::history::Status::Applied)
        .max_by_key(|r| r.version);
    match applied {
        Some(r) => r.fingerprint_after.clone(),
        None => history
            .iter()
            .min_by_key(|r| r.version)
            .map(|r| r.fingerprint_before.clone()),
    }
}

/// The stored state, or, when the state row and the ledger are both gone while history
/// still lists migrations (deleted behind backstop's back), a state at the ledger's
/// genesis whose baseline is what history says the schema should be: drift stays checked
/// instead of being switched off with the state row.
pub(crate) fn state_or_history(
    stored: Option<StoredState>,
    history: &[HistoryRow],
) -> Option<StoredState> {
    stored.or_else(|| {
        history_baseline(history).map(|fingerprint| StoredState {
            ledger_seq: 0,
            ledger_hash: GENESIS.to_string(),
            fingerprint,
            schema_json: None,
            catalog_stamp: None,
            // No row: a write creates one.
            stored_head: None,
        })
    })
}

/// The ledger head is gone: no state row records it, yet the ledger has events or history
/// has rows (each written together with an event and the head); or the state row names an
/// event beyond the ledger's last (events deleted from its end). Appending to the ledger
/// as it is would write the head again and leave `audit verify` nothing to find, so a run
/// writes nothing until a person accepts it (`--allow-drift --reason`), and the override
/// that re-establishes the head records what was found.
#[derive(Debug, Clone)]
pub(crate) struct LostHead {
    /// The last event left in the ledger (0: none).
    pub ledger_end: i64,
    pub history_rows: usize,
    /// The head the state row records, when it is ahead of the ledger's last event.
    pub recorded_head: Option<i64>,
    /// Each history row's status as found: what the override accepts, and where the
    /// ledger's account of the statuses starts again (see `crosscheck`).
    pub statuses: std::collections::BTreeMap<i64, &'static str>,
    /// Each history row's checksum as found, accepted with its status.
    pub checksums: std::collections::BTreeMap<i64, String>,
}

impl LostHead {
    pub fn what(&self) -> String {
        if let Some(head) = self.recorded_head {
            format!("backstop's state row records event {head} as the ledger's last, but the ledger ends at event {}: events {} to {head} were deleted from its end behind backstop's back", self.ledger_end, self.ledger_end + 1)
        } else if self.ledger_end == 0 {
            format!("backstop's ledger and its state row (the ledger head and the recorded schema) are both empty, yet history lists {} migration row(s), each written together with a ledger event: they were deleted behind backstop's back", self.history_rows)
        } else {
            format!("backstop's state row was deleted behind backstop's back: it recorded the ledger head and the schema baseline, and without it events deleted from the end of the ledger (which has {} event(s) now) can't be told from an intact ledger", self.ledger_end)
        }
    }

    /// The refusal of `command` while the head is lost. It is not recorded: recording it
    /// would write the head again.
    pub fn refusal(&self, command: &str) -> EngineError {
        EngineError::refused(
            format!("{} (this refusal is not recorded in the ledger: writing to it would re-create the head and hide the gap)", self.what()),
            format!("run `backstop audit verify` and `backstop status`, and find out what happened (restore backstop's tables from a backup if you can); to go on with the database as it is, run `backstop {command} --allow-drift --reason \"…\"`: it records the gap in the ledger and accepts the current schema and history as they are (stored scripts no event recorded stay unverifiable: rollback refuses to run them)"),
        )
    }

    /// What the override that re-establishes the head records about the gap.
    pub fn detail(&self) -> serde_json::Value {
        let mut d = serde_json::json!({"ledger_end": self.ledger_end, "history_rows": self.history_rows, "statuses": self.statuses, "checksums": self.checksums});
        if let Some(head) = self.recorded_head {
            d["recorded_head"] = head.into();
        }
        d
    }
}

/// The ledger head as the state row records it, and the ledger's last event: read once,
/// then asked whether the head is [`damaged`](Head::damaged) or [`lost`](Head::lost).
pub(crate) struct Head {
    recorded: Option<(i64, String)>,
    end: Option<(i64, String)>,
}

impl Head {
    pub fn read(db: &mut dyn Driver) -> Result<Head, DbError> {
        Ok(Head {
            recorded: db.recorded_head()?,
            end: db.ledger_end()?,
        })
    }

    /// The ledger's last event as read.
    pub fn end(&self) -> &Option<(i64, String)> {
        &self.end
    }

    /// A head that points behind the ledger's last event, or names it with another hash:
    /// the next event would collide with one already there, or chain to a hash no event
    /// has. `None` while the head and the ledger's end agree (or the head is lost or
    /// ahead, which [`Head::lost`] reports).
    pub fn damaged(&self) -> Option<String> {
        let (Some((seq, hash)), Some((end_seq, end_hash))) = (&self.recorded, &self.end) else {
            return None;
        };
        if seq < end_seq {
            Some(format!("the ledger head is damaged: backstop's state row records event {seq} as the ledger's last, but the ledger goes on to event {end_seq}, so the next event would collide with event {}", seq + 1))
        } else if seq == end_seq && hash != end_hash {
            Some(format!("the ledger head is damaged: backstop's state row records event {seq} with a hash that is not event {seq}'s, so the next event would chain to a hash no event has"))
        } else {
            None
        }
    }

    /// Whether the head is lost ([`LostHead`]).
    pub fn lost(&self, history: &[HistoryRow]) -> Option<LostHead> {
        let end_seq = self.end.as_ref().map_or(0, |(seq, _)| *seq);
        let recorded_head = match &self.recorded {
            Some((seq, _)) if *seq > end_seq => Some(*seq),
            Some(_) => return None,
            None if self.end.is_some() || !history.is_empty() => None,
            None => return None,
        };
        Some(LostHead {
            ledger_end: end_seq,
            history_rows: history.len(),
            recorded_head,
            statuses: history
                .iter()
                .map(|r| (r.version, r.status.as_str()))
                .collect(),
            checksums: history
                .iter()
                .map(|r| (r.version, r.checksum.clone()))
                .collect(),
        })
    }
}

/// The refusal of a run for a [damaged](Head::damaged) head.
pub(crate) fn damaged_head_refusal(what: String) -> EngineError {
    EngineError::refused(
        format!("{what} (this refusal is not recorded in the ledger: writing to it would damage it further)"),
        "run `backstop audit verify` to see what does not check out, then restore backstop's tables from a backup; nothing runs until the recorded head and the ledger agree",
    )
}

/// The stored state a run writes after, or a fresh one at the ledger's genesis, and
/// whether the head is lost ([`LostHead`]). A head that points behind the ledger's last
/// event is refused outright: the next event would take the seq of one already there.
pub(crate) fn load_state(
    db: &mut dyn Driver,
    history: &[HistoryRow],
) -> Result<(StoredState, Option<LostHead>), EngineError> {
    let head = Head::read(db)?;
    if let Some(what) = head.damaged() {
        return Err(damaged_head_refusal(what));
    }
    let lost = head.lost(history);
    let mut state = state_or_history(db.load_state()?, history).unwrap_or_else(|| StoredState {
        ledger_seq: 0,
        ledger_hash: GENESIS.to_string(),
        fingerprint: String::new(),
        schema_json: None,
        catalog_stamp: None,
        stored_head: None,
    });
    if lost.as_ref().is_some_and(|l| l.recorded_head.is_some()) {
        // Ahead of the ledger: the override that accepts the gap is appended after the
        // last event that is left.
        let (seq, hash) = head.end.unwrap_or((0, GENESIS.to_string()));
        state.ledger_seq = seq;
        state.ledger_hash = hash;
    }
    // The stored schema text is only for drift diffs; leaving it out of the state carried
    // through a run keeps each per-migration save small (`None` keeps the stored text).
    state.schema_json = None;
    // The run changes the catalog: the stamp is taken again at its end.
    state.catalog_stamp = None;
    Ok((state, lost))
}

/// Append an event inside the caller's transaction and move the head; with `row`, write
/// that history row in the same call (one round trip where the driver can).
pub(crate) fn append_with(
    db: &mut dyn Driver,
    row: Option<&HistoryRow>,
    state: &mut StoredState,
    actor: &str,
    ev: NewEvent,
) -> Result<(), DbError> {
    let (e, mut next) = sealed(state, actor, ev);
    db.record(row, &e, &next)?;
    next.stored_head = Some((next.ledger_seq, next.ledger_hash.clone()));
    *state = next;
    Ok(())
}

/// The event sealed onto the ledger head in `state`, and the state with the head moved. Its
/// `stored_head` is still `state`'s: the head the write expects to find in the state row.
fn sealed(state: &StoredState, actor: &str, ev: NewEvent) -> (ledger::Event, StoredState) {
    let e = ledger::seal(
        ev,
        actor,
        state.ledger_seq,
        &state.ledger_hash,
        crate::now_rfc3339(),
    );
    let mut next = state.clone();
    next.ledger_seq = e.seq;
    next.ledger_hash = e.hash.clone();
    (e, next)
}

/// [`append_with`], then COMMIT ([`Driver::record_and_commit`]): `state` moves only when
/// both succeeded.
pub(crate) fn append_and_commit(
    db: &mut dyn Driver,
    row: Option<&HistoryRow>,
    state: &mut StoredState,
    actor: &str,
    ev: NewEvent,
) -> Result<(), RecordCommitError> {
    let (e, mut next) = sealed(state, actor, ev);
    db.record_and_commit(row, &e, &next)?;
    next.stored_head = Some((next.ledger_seq, next.ledger_hash.clone()));
    *state = next;
    Ok(())
}

/// Append an event inside the caller's transaction and move the head.
pub(crate) fn append(
    db: &mut dyn Driver,
    state: &mut StoredState,
    actor: &str,
    ev: NewEvent,
) -> Result<(), DbError> {
    append_with(db, None, state, actor, ev)
}

/// Append an event in a transaction of its own (refusals, failures, overrides).
pub(crate) fn record(
    db: &mut dyn Driver,
    state: &mut StoredState,
    actor: &str,
    ev: NewEvent,
) -> Result<(), DbError> {
    record_with(db, None, state, actor, ev)
}

/// [`record`], writing history row `row` in the same transaction. On any failure, the
/// COMMIT's included, the transaction is rolled back and `state` is as before: SQLite
/// leaves a transaction whose COMMIT failed (SQLITE_BUSY) open, and the run's later writes
/// would join it and be lost; and the head must not point at an event that was never
/// stored, or the run's next event would chain to it.
pub(crate) fn record_with(
    db: &mut dyn Driver,
    row: Option<&HistoryRow>,
    state: &mut StoredState,
    actor: &str,
    ev: NewEvent,
) -> Result<(), DbError> {
    let saved = state.clone();
    db.begin_bookkeeping()?;
    let r = append_with(db, row, state, actor, ev).and_then(|()| db.commit());
    if r.is_err() {
        // Harmless where the failed COMMIT already ended the transaction.
        let _ = db.rollback();
        *state = saved;
    }
    r
}

/// Record a refusal's or a failure's event `ev` (`what`: "refusal", "failure") in a
/// transaction of its own. When even that can't be written (the lock that stopped the run,
/// still held), returns what the refusal's or failure's message adds to say so, rather
/// than let a bare database error take the place of what the person must act on, or leave
/// the ledger's silence unexplained; empty when it was recorded.
pub(crate) fn record_or_say(
    db: &mut dyn Driver,
    state: &mut StoredState,
    actor: &str,
    ev: NewEvent,
    what: &str,
) -> String {
    record_with_or_say(db, None, state, actor, ev, what)
}

/// [`record_or_say`], writing history row `row` in the same transaction ([`record_with`]):
/// when the event can't be written, neither is the row.
pub(crate) fn record_with_or_say(
    db: &mut dyn Driver,
    row: Option<&HistoryRow>,
    state: &mut StoredState,
    actor: &str,
    ev: NewEvent,
    what: &str,
) -> String {
    match record_with(db, row, state, actor, ev) {
        Ok(()) => String::new(),
        Err(e) => {
            // What to grant, where a missing privilege stopped the write.
            // Where a lock stopped it, who held the database and how long backstop waited.
            let more = match (e.kind, &e.hint, &e.detail) {
                (DbErrorKind::Privilege, Some(h), _) => format!("; {h}"),
                (DbErrorKind::LockTimeout, _, Some(d)) => format!("; {d}"),
                _ => String::new(),
            };
            format!("; this {what} {UNRECORDED} ({}{more})", e.message)
        }
    }
}

/// How [`record_or_say`]'s note says an event was not written, after "; this refusal".
const UNRECORDED: &str = "could not be recorded in the ledger";

/// The note [`record_or_say`] added to `state`, if it did, said of `whose` event ("this
/// failure", "the undo's failure"): for a message that replaces that state with its own,
/// which must still say the event is missing from the ledger. Empty when there is none.
/// The note ends its line: a state may go on with a list below it.
pub(crate) fn unrecorded_note(state: &str, whose: &str) -> String {
    let Some(at) = state.find(UNRECORDED) else {
        return String::new();
    };
    let note = &state[at..];
    let note = note.split('\n').next().unwrap_or(note);
    format!("; {whose} {note}")
}

/// Record the refusal event `ev` ([`record_or_say`]) and return the refusal's `reason`,
/// with a note when its event could not be written: the refusal is still what is reported.
pub(crate) fn record_refusal(
    db: &mut dyn Driver,
    state: &mut StoredState,
    actor: &str,
    ev: NewEvent,
    reason: String,
) -> String {
    let unrecorded = record_or_say(db, state, actor, ev, "refusal");
    reason + &unrecorded
}

/// A script as plan entries: each statement with its index and line.
/// The statements of a script as a plan shows them; `line_offset`: where the script starts
/// in its file (a single-file migration's section), so lines are the file's, as in errors.
pub(crate) fn planned_statements(
    engine: Engine,
    script: Option<&str>,
    line_offset: usize,
) -> Vec<crate::report::PlannedStatement> {
    split(engine, script)
        .into_iter()
        .enumerate()
        .map(|(i, st)| crate::report::PlannedStatement {
            index: i + 1,
            line: st.line + line_offset,
            sql: st.sql,
            impact: None,
        })
        .collect()
}

/// Where a record written inside the step's transaction is reported when it waited the
/// whole `--lock-wait` for another session's lock on backstop's tables: after the script's
/// last statement, at line 0, like a failed COMMIT. The detail names who holds what.
pub(crate) fn record_failure(s: &ScriptRef, index: usize, e: &DbError) -> Failure {
    Failure {
        statement: "the record of this step in backstop's tables (history row, ledger event, ledger head), written in its transaction before COMMIT".into(),
        ..commit_failure(s, index, e)
    }
}

/// What to do after a step's record waited `--lock-wait` in every attempt (`command`: the
/// command to run again).
pub(crate) fn record_lock_next(command: &Again) -> String {
    format!("another session held a lock on backstop's tables (the detail names it) for longer than --lock-wait, in every attempt: run `backstop {command}` again once it has finished (or end it), or run with a longer --lock-wait; nothing needs fixing in the migration")
}

/// Where a failed COMMIT is reported: after the script's last statement, at line 0.
/// Deferred constraints and deferred triggers are what fail there.
pub(crate) fn commit_failure(s: &ScriptRef, index: usize, e: &DbError) -> Failure {
    Failure {
        version: s.version,
        name: s.name.to_string(),
        part: s.part,
        file: s.file.clone(),
        statement_index: index,
        line: 0,
        column: 0,
        statement: "COMMIT (deferred constraints and deferred triggers are checked here)".into(),
        line_text: None,
        error: e.message.clone(),
        code: e.code.clone(),
        detail: e.detail.clone(),
        hint: e.hint.clone(),
    }
}

/// How far a script got, for the person who takes over: its first `completed` statements
/// completed, and statement `failed` (1-based, when it is one of this script's) stopped it.
/// `may_have_completed`: the failed statement was cut off by a lost connection.
pub(crate) fn progress(
    s: &ScriptRef,
    statements: &[Statement],
    completed: usize,
    failed: Option<usize>,
    may_have_completed: bool,
) -> ScriptProgress {
    let entry = |(i, st): (usize, &Statement)| PlannedStatement {
        index: i + 1,
        line: st.line + s.line_offset,
        // Printed and possibly stored by a caller: masked like a failure's statement.
        sql: crate::redact::redact(&st.sql),
        impact: None,
    };
    let completed = completed.min(statements.len());
    // Only a statement after the completed ones: a failure in recording progress is
    // reported at a statement that did complete.
    let failed = failed
        .filter(|&f| f > completed)
        .and_then(|f| statements.get(f - 1).map(|st| (f - 1, st)));
    let not_run_from = failed.map_or(completed, |(i, _)| i + 1);
    ScriptProgress {
        part: s.part,
        file: s.file.clone(),
        total: statements.len(),
        completed: statements
            .iter()
            .enumerate()
            .take(completed)
            .map(entry)
            .collect(),
        failed_may_have_completed: may_have_completed && failed.is_some(),
        failed: failed.map(entry),
        not_run: statements
            .iter()
            .enumerate()
            .skip(not_run_from)
            .map(entry)
            .collect(),
    }
}

/// The two ways out of a dirty migration. `rollback`: it was left dirty by a rollback (its
/// down script stopped), so undoing is the likelier and "what did not run" is the rest of
/// the down script.
pub(crate) fn resolve_commands(version: i64, rollback: bool) -> Vec<NextCommand> {
    let (applied_when, rolled_back_when) = if rollback {
        (
            "the migration is to stay (redo by hand what the down script removed first)",
            "the rollback is to be finished (run the rest of the down script by hand first; resolve checks that the schema is as before the migration)",
        )
    } else {
        (
            "the migration's change is complete in the database (finish what did not run by hand first)",
            "nothing of the migration remains (undo what ran by hand first; resolve checks that the schema is as before it)",
        )
    };
    let applied = NextCommand::new(
        format!("backstop resolve {version} --applied --reason \"…\""),
        applied_when,
    );
    let rolled_back = NextCommand::new(
        format!("backstop resolve {version} --rolled-back --reason \"…\""),
        rolled_back_when,
    );
    if rollback {
        vec![rolled_back, applied]
    } else {
        vec![applied, rolled_back]
    }
}

/// The objects whose canonical text differs between the schema stored with the recorded
/// baseline (`recorded_fp`) and `current`: what accepting drift accepts, kept with the
/// override so that a later rollback can tell a migration's objects from the drift.
/// `None` when the stored text is missing or belongs to another baseline.
pub(crate) fn drifted_objects(
    db: &mut dyn Driver,
    recorded_fp: &str,
    current: &SchemaState,
) -> Result<Option<Vec<String>>, DbError> {
    Ok(recorded_schema(db, recorded_fp)?.map(|s| s.delta_to(current).into_keys().collect()))
}

/// The stored schema text of the baseline with fingerprint `fingerprint`, when the
/// database has it (the state a run carries leaves it out).
pub(crate) fn recorded_schema(
    db: &mut dyn Driver,
    fingerprint: &str,
) -> Result<Option<SchemaState>, DbError> {
    Ok(db
        .load_state()?
        .filter(|s| s.fingerprint == fingerprint)
        .and_then(|s| s.recorded_schema()))
}

/// The schema objects accepted as they are (drift overrides, `resolve --applied` of
/// another migration) since a migration was last applied or resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AcceptedDrift {
    /// An acceptance that could not say which objects it covered (`"objects": null`, or an
    /// override written before `objects` was recorded): it may have covered any of them.
    pub unknown: bool,
    pub objects: std::collections::BTreeSet<String>,
}

impl AcceptedDrift {
    /// Whether the accepted changes may have touched object `key`.
    pub fn touches(&self, key: &str) -> bool {
        self.unknown || self.objects.contains(key)
    }
}

/// The objects accepted since migration `version` was last applied or resolved (from the
/// `objects` of the drift overrides, and of other migrations' `resolve --applied`, after
/// that event in `events`). An acceptance that did not record its objects counts as
/// touching every object: a rollback can then prove no step whose migration changed one.
///
/// A `resolve --applied` stops counting once its migration was undone with proof, as
/// `undone` ([`proven_undos`]) says: that proof put every object it accepted back as it
/// was before the migration.
pub(crate) fn accepted_drift(
    events: &[crate::ledger::Event],
    version: i64,
    undone: &HashMap<i64, i64>,
) -> AcceptedDrift {
    let since = events
        .iter()
        .filter(|e| e.version == Some(version) && matches!(e.kind.as_str(), "apply" | "resolve"))
        .map(|e| e.seq)
        .max()
        .unwrap_or(0);
    let mut accepted = AcceptedDrift::default();
    for e in events.iter().filter(|e| e.seq > since) {
        if !matches!(e.kind.as_str(), "override" | "resolve") {
            continue;
        }
        let Ok(d) = serde_json::from_str::<serde_json::Value>(&e.detail) else {
            continue;
        };
        let objects = match e.kind.as_str() {
            "override" if d["check"] == "drift" => d.get("objects"),
            "resolve"
                if e.version
                    .and_then(|v| undone.get(&v))
                    .is_some_and(|&at| at > e.seq) =>
            {
                continue
            }
            // A resolve written before it recorded `objects` accepted only its own
            // migration's work, as far as anyone said: not counted.
            "resolve" if d["to"] == "applied" && d.get("objects").is_some() => d.get("objects"),
            _ => continue,
        };
        match objects.and_then(serde_json::Value::as_array) {
            Some(a) => accepted
                .objects
                .extend(a.iter().filter_map(|k| k.as_str().map(str::to_string))),
            None => accepted.unknown = true,
        }
    }
    accepted
}

/// The seq of the last proven undo of each migration: a rollback that was not forced, or a
/// `resolve --rolled-back` (which checks the schema). A migration undone later in the same
/// run is added with `i64::MAX`: after everything in the events read before it.
pub(crate) fn proven_undos(events: &[crate::ledger::Event]) -> HashMap<i64, i64> {
    let mut undone = HashMap::new();
    for e in events {
        let Some(v) = e.version else { continue };
        let proven = match e.kind.as_str() {
            "rollback" => serde_json::from_str::<serde_json::Value>(&e.detail)
                .is_ok_and(|d| d["forced"] == false),
            "resolve" => serde_json::from_str::<serde_json::Value>(&e.detail)
                .is_ok_and(|d| d["to"] == "rolled_back"),
            _ => false,
        };
        if proven {
            undone.insert(v, e.seq);
        }
    }
    undone
}

/// A lost ledger head, met by `command` under the lock: refused (exit 3) unless
/// `--allow-drift` (`allow_drift`: its reason), whose override records the gap as the
/// first event after it and accepts the current schema as the baseline. Until a person
/// accepts it nothing may be written: a recorded refusal would write the head again.
/// Returns what the override wrote, to be said with any later refusal of the run.
#[allow(clippy::too_many_arguments)]
pub(crate) fn accept_lost_head(
    db: &mut dyn Driver,
    state: &mut StoredState,
    actor: &str,
    lost: Option<&LostHead>,
    allow_drift: Option<&str>,
    command: &str,
    release: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<Option<String>, EngineError> {
    let Some(lost) = lost else {
        return Ok(None);
    };
    let Some(reason) = allow_drift else {
        return Err(lost.refusal(command));
    };
    let schema = db.schema(None)?;
    let fp = schema.fingerprint();
    accept_drift(db, state, actor, reason, &schema, &fp, release, Some(lost))?;
    warnings.push(format!(
        "the missing ledger head was recorded (override event {}) and the current schema and history accepted as they are: {reason}",
        state.ledger_seq
    ));
    Ok(Some(format!("the missing ledger head was recorded (override event {}, with --allow-drift's reason) and the current schema accepted as the baseline; nothing else was changed", state.ledger_seq)))
}

/// Accept drift as the new baseline: `current` (with fingerprint `current_fp`) becomes the
/// recorded schema, and an override event says who, why and which objects the drift
/// changed (a later rollback checks its migrations against them).
#[allow(clippy::too_many_arguments)]
pub(crate) fn accept_drift(
    db: &mut dyn Driver,
    state: &mut StoredState,
    actor: &str,
    reason: &str,
    current: &SchemaState,
    current_fp: &str,
    release: Option<&str>,
    lost: Option<&LostHead>,
) -> Result<(), DbError> {
    let recorded = state.fingerprint.clone();
    let objects = drifted_objects(db, &recorded, current)?;
    state.fingerprint = current_fp.to_string();
    let mut detail = serde_json::json!({"check": "drift", "recorded": recorded, "current": current_fp, "objects": objects});
    if let Some(lost) = lost {
        // The evidence of the gap, kept in the chain from here on: the head was missing,
        // and this event was appended after the last event that was left.
        detail["lost_head"] = lost.detail();
    }
    let mut ev = NewEvent::new("override")
        .reason(Some(reason))
        .detail(detail);
    if let Some(r) = release {
        ev = ev.release(r);
    }
    record(db, state, actor, ev)
}

/// Whether a history row's stored scripts are the ones the ledger recorded for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoredScripts {
    Intact,
    /// Nothing in the ledger to check them against (a row written by an older backstop for
    /// a migration with a migration.toml, which is not stored): the reason.
    Unverifiable(String),
    /// Edited behind backstop's back: what does not match.
    Edited(String),
    /// No event in the ledger wrote the row (it was inserted, or the events that wrote it
    /// were deleted and the gap accepted): nothing vouches for its scripts, so they are
    /// refused like edited ones.
    Unrecorded(String),
}

/// Check `row`'s stored up/down/verify scripts and irreversible reason against the ledger
/// (`events`, in seq order) before anything of them runs: the ledger is hash-chained and
/// the row is not, so an edited `down_sql` would otherwise run as if it were the script
/// that was applied.
pub(crate) fn check_stored_scripts(row: &HistoryRow, events: &[ledger::Event]) -> StoredScripts {
    // The newest event that wrote the row's scripts. `resolve` rewrites the row too and
    // records the digest; rollbacks and `dirty` events leave the scripts as they were.
    let written = events.iter().rev().find(|e| {
        e.version == Some(row.version)
            && matches!(e.kind.as_str(), "apply" | "apply-started" | "resolve")
    });
    let Some(written) = written else {
        return StoredScripts::Unrecorded(format!("no event in the ledger wrote its row (an `apply`, `apply-started` or `resolve` for version {}): the row was inserted behind backstop's back, or the events that wrote it were deleted, so nothing vouches for its stored scripts", row.version));
    };
    let detail = serde_json::from_str::<serde_json::Value>(&written.detail).ok();
    let seq = written.seq;
    if let Some(recorded) = detail.as_ref().and_then(|d| d["scripts"].as_str()) {
        let stored = row.scripts_digest();
        return if stored == recorded {
            StoredScripts::Intact
        } else {
            StoredScripts::Edited(format!("its stored scripts (up, down, verify) or irreversible reason digest to {stored}, but ledger event {seq} recorded {recorded} when it wrote them"))
        };
    }
    // Written by a backstop that did not record the digest: the checksum the ledger
    // recorded covers the scripts and migration.toml, which is not stored, so it can only
    // confirm a migration that had none.
    let recorded = detail
        .as_ref()
        .and_then(|d| d["checksum"].as_str().map(str::to_string))
        .unwrap_or_else(|| row.checksum.clone());
    let without_toml = crate::checksum::migration_checksum(
        &row.up_sql,
        row.down_sql.as_deref(),
        row.verify_sql.as_deref(),
        None,
    );
    if without_toml == recorded {
        StoredScripts::Intact
    } else if row.checksum != recorded {
        StoredScripts::Edited(format!("its checksum is {} in history, but ledger event {seq} recorded {recorded} when it was applied", row.checksum))
    } else {
        StoredScripts::Unverifiable(format!("migration {} ({}) was recorded by an older backstop with a migration.toml, which history does not store, so its stored scripts can't be checked against the ledger", row.version, row.name))
    }
}

/// The refusal to run anything of a migration whose stored scripts were edited or that no
/// event recorded (`found`: [`StoredScripts::Edited`] or [`StoredScripts::Unrecorded`]).
pub(crate) fn edited_scripts(
    db: &dyn Driver,
    row: &HistoryRow,
    found: &StoredScripts,
) -> (String, String) {
    let table = super::crosscheck::history_table(db.engine());
    let unrecorded = matches!(found, StoredScripts::Unrecorded(_));
    let what = match found {
        StoredScripts::Unrecorded(w)
        | StoredScripts::Edited(w)
        | StoredScripts::Unverifiable(w) => w.as_str(),
        StoredScripts::Intact => "",
    };
    let how = if unrecorded {
        "can't be checked against the ledger"
    } else {
        "were edited behind backstop's back"
    };
    let reason = format!(
        "the stored scripts of migration {} ({}) in {table} {how}: {what}",
        row.version, row.name
    );
    let next = if unrecorded {
        format!("run `backstop audit verify` and `backstop audit log` to see what is missing, and restore backstop's tables from a backup taken before it went missing; without one, nothing can vouch for these scripts, so backstop won't run them: undo migration {v} in a new migration if it must go (compare its stored scripts with the migration's files first)", v = row.version)
    } else {
        "compare the row with the migration's files and `backstop audit log` (event detail `scripts`), restore the row's up_sql, down_sql, verify_sql and irreversible from a backup as they were applied, then run the command again; `backstop verify` checks them without running anything".into()
    };
    (reason, next)
}

/// After a lock timeout with retries left: count the attempt, say so (`what`: where it
/// waited, as in "in add_email (statement 2):") and wait the backoff before the next one.
pub(crate) fn retry_after_lock_timeout(
    ctx: &super::Ctx,
    attempt: &mut u32,
    retries: u32,
    what: impl FnOnce() -> String,
) {
    *attempt += 1;
    let n = *attempt;
    let wait = backoff(n);
    ctx.say(|| {
        format!(
            "    lock timeout {} retry {n}/{retries} in {} ms",
            what(),
            wait.as_millis()
        )
    });
    std::thread::sleep(wait);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Status;

    #[test]
    fn a_schema_read_that_waited_too_long_says_where_to_find_the_holder_and_which_limit_ran_out() {
        let se = ScriptError {
            failure: Failure {
                version: 2,
                name: "b".into(),
                part: Part::Down,
                file: "history:2/down.sql".into(),
                statement_index: 1,
                line: 1,
                column: 1,
                statement: "DROP TABLE b".into(),
                line_text: None,
                error: "the schema read sent with it hit lock_timeout".into(),
                code: None,
                detail: None,
                hint: None,
            },
            db: Some(DbError {
                kind: DbErrorKind::LockTimeout,
                ..DbError::other("database is locked")
            }),
            completed: 1,
            read: true,
            unrecorded: false,
        };
        let rollback = Again {
            name: "rollback",
            args: " --to 0".into(),
        };
        let pg = read_next(&se, &rollback, Engine::Postgres, true);
        assert!(pg.contains("run `backstop rollback --to 0` again"), "{pg}");
        assert!(pg.contains("see pg_locks"), "{pg}");
        assert!(pg.contains("lock_timeout and retries stored"), "{pg}");
        // SQLite has no pg_locks; a migration without a lock_timeout waited --lock-wait.
        let lite = read_next(&se, &rollback, Engine::Sqlite, false);
        assert!(!lite.contains("pg_locks"), "{lite}");
        assert!(lite.contains("holds the database file"), "{lite}");
        assert!(lite.contains("longer --lock-wait"), "{lite}");
        let apply = read_next(
            &se,
            &Again {
                name: "apply",
                args: String::new(),
            },
            Engine::Sqlite,
            true,
        );
        assert!(apply.contains("raise lock_timeout or retries"), "{apply}");
    }

    fn row() -> HistoryRow {
        HistoryRow {
            version: 3,
            name: "t3".into(),
            checksum: crate::checksum::migration_checksum(
                "CREATE TABLE t3 (x int);",
                Some("DROP TABLE t3;"),
                None,
                None,
            ),
            up_sql: "CREATE TABLE t3 (x int);".into(),
            down_sql: Some("DROP TABLE t3;".into()),
            verify_sql: None,
            irreversible: None,
            options: Default::default(),
            release_id: "r".into(),
            actor: "ann".into(),
            started_at: "2026-01-01T00:00:00.000000Z".into(),
            finished_at: None,
            duration_ms: None,
            fingerprint_before: "sha256:00".into(),
            fingerprint_after: None,
            schema_delta: "{}".into(),
            status: Status::Applied,
            progress: 0,
            note: None,
        }
    }

    fn applied(detail: serde_json::Value) -> Vec<ledger::Event> {
        vec![ledger::seal(
            NewEvent::new("apply").version(3).detail(detail),
            "ann",
            0,
            GENESIS,
            "2026-01-01T00:00:00.000000Z".into(),
        )]
    }

    #[test]
    fn stored_scripts_are_checked_against_the_ledger() {
        let r = row();
        let events =
            applied(serde_json::json!({"checksum": r.checksum, "scripts": r.scripts_digest()}));
        assert_eq!(check_stored_scripts(&r, &events), StoredScripts::Intact);
        for edit in [
            |r: &mut HistoryRow| r.down_sql = Some("DROP TABLE t3; DELETE FROM t1;".into()),
            |r: &mut HistoryRow| r.up_sql.push(' '),
            |r: &mut HistoryRow| r.verify_sql = Some("SELECT 1".into()),
            |r: &mut HistoryRow| r.irreversible = Some("x".into()),
            // Moved from one script to another: the framing tells.
            |r: &mut HistoryRow| {
                r.up_sql = "CREATE TABLE t3 (x int);DROP TABLE t3;".into();
                r.down_sql = Some(String::new());
            },
        ] {
            let mut edited = row();
            edit(&mut edited);
            assert!(
                matches!(
                    check_stored_scripts(&edited, &events),
                    StoredScripts::Edited(_)
                ),
                "{edited:?}"
            );
        }
    }

    #[test]
    fn rows_of_an_older_backstop_are_checked_by_their_checksum_where_it_can_be() {
        // No `scripts` in the event: the checksum, recomputed without a migration.toml.
        let r = row();
        let events = applied(serde_json::json!({"checksum": r.checksum}));
        assert_eq!(check_stored_scripts(&r, &events), StoredScripts::Intact);
        // The checksum column edited to match edited scripts: the ledger's still tells.
        let mut edited = row();
        edited.down_sql = Some("DELETE FROM t1;".into());
        edited.checksum = crate::checksum::migration_checksum(
            &edited.up_sql,
            edited.down_sql.as_deref(),
            None,
            None,
        );
        assert!(matches!(
            check_stored_scripts(&edited, &events),
            StoredScripts::Edited(_)
        ));
        // A migration.toml (not stored) makes the checksum unusable: said, not assumed.
        let mut with_toml = row();
        with_toml.checksum = crate::checksum::migration_checksum(
            &with_toml.up_sql,
            with_toml.down_sql.as_deref(),
            None,
            Some("description = \"x\"\n"),
        );
        let events = applied(serde_json::json!({"checksum": with_toml.checksum}));
        assert!(matches!(
            check_stored_scripts(&with_toml, &events),
            StoredScripts::Unverifiable(_)
        ));
    }
}
