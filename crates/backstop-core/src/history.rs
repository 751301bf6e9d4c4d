//! The history the tool keeps in the target database, as data.

use crate::migration::RunOptions;
use serde::{Deserialize, Serialize};

/// State of a migration in history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Applied,
    Failed,
    RolledBack,
    Dirty,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Applied => "applied",
            Status::Failed => "failed",
            Status::RolledBack => "rolled_back",
            Status::Dirty => "dirty",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "applied" => Status::Applied,
            "failed" => Status::Failed,
            "rolled_back" => Status::RolledBack,
            "dirty" => Status::Dirty,
            _ => return None,
        })
    }
}

/// One migration's row in history: what was applied, exactly, and how to undo it.
/// Rolled-back migrations keep their row (status `rolled_back`); a re-apply overwrites it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub version: i64,
    pub name: String,
    pub checksum: String,
    pub up_sql: String,
    pub down_sql: Option<String>,
    pub verify_sql: Option<String>,
    /// `Some(reason)` when the migration was declared irreversible.
    pub irreversible: Option<String>,
    pub options: RunOptions,
    pub release_id: String,
    pub actor: String,
    /// RFC 3339 UTC.
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub fingerprint_before: String,
    pub fingerprint_after: Option<String>,
    /// JSON object: canonical text before the migration of every object it changed
    /// (`null` for objects it created). Lets rollback show exactly what differs.
    pub schema_delta: String,
    pub status: Status,
    /// Statements of up.sql that completed (non-transactional progress).
    pub progress: i32,
    /// Free text: what happened last (error, resolve reason).
    pub note: Option<String>,
}

/// Some of backstop's three tables exist and `missing` don't: created together in one
/// transaction, so the missing ones were dropped behind backstop's back. Nothing read from
/// the rest can be trusted (least of all "the ledger is intact"): every command refuses.
pub fn incomplete_history(missing: &[String]) -> crate::driver::DbError {
    let (which, verb) = match missing {
        [one] => (format!("table {one} is"), "it was"),
        many => (format!("tables {} are", many.join(" and ")), "they were"),
    };
    crate::driver::DbError {
        kind: crate::driver::DbErrorKind::Tampered,
        ..crate::driver::DbError::other(format!(
            "backstop's history is incomplete: its {which} missing, so {verb} dropped behind backstop's back; nothing was changed. Restore {} from a backup: until then neither the history nor the audit ledger can vouch for this database",
            if missing.len() == 1 { "it" } else { "them" }
        ))
    }
}

/// A write of the state row that found another head there than `read`, the one the command
/// read or last wrote (`None`: it found no row, and one was written meanwhile): another run
/// appended to the ledger meanwhile. Nothing of the write was made, so the ledger is intact.
/// `table`: the state table as the database names it.
pub fn head_moved(read: Option<&(i64, String)>, table: &str) -> crate::driver::DbError {
    let read = match read {
        Some((seq, _)) => {
            format!("no longer holds the ledger head this command read or last wrote (event {seq})")
        }
        None => "was written by another session after this command found it empty".to_string(),
    };
    crate::driver::DbError {
        kind: crate::driver::DbErrorKind::HeadMoved,
        ..crate::driver::DbError::other(format!(
            "backstop's state row ({table}) {read}: another run wrote to the ledger meanwhile (one that got past the migration lock: a migration that releases it with pg_advisory_unlock_all or DISCARD ALL lets the next run in). This write was not made, so the ledger is intact and its head is the other run's"
        ))
    }
}

/// The note a non-transactional run writes with its dirty marker, before its first
/// statement. It is replaced when the run ends, however it ends, unless the process died.
pub const RUNNING_NOTE: &str = "running outside a transaction";

/// The same, for a rollback step outside a transaction. Written as
/// [`rollback_running_note`], with how many statements of the down script completed; an
/// older backstop wrote it alone.
pub const ROLLBACK_RUNNING_NOTE: &str = "rollback running outside a transaction";

/// The note of a rollback step outside a transaction while it runs: its dirty marker,
/// written before the first statement of the down script (`done` = 0) and again after
/// each one, as `progress` is for up.sql (which it leaves as the apply recorded it).
pub fn rollback_running_note(done: usize, total: usize) -> String {
    format!("{ROLLBACK_RUNNING_NOTE}: {done} of {total} down statements completed")
}

/// Whether `note` is a running rollback step's ([`rollback_running_note`]), and then how
/// many statements of its down script it records as completed (`None`: an older
/// backstop's note, which does not say).
pub fn rollback_running(note: &str) -> Option<Option<usize>> {
    let rest = note.strip_prefix(ROLLBACK_RUNNING_NOTE)?;
    if rest.is_empty() {
        return Some(None);
    }
    let done = rest.strip_prefix(": ")?.split(' ').next()?.parse().ok()?;
    Some(Some(done))
}

impl HistoryRow {
    /// The note as a person should read it. A dirty row that still carries the note its run
    /// wrote before starting was left by a run that died (killed, connection lost) part-way:
    /// say that and, for apply, how far up.sql got, from the progress saved after each
    /// statement. While a run is still going it holds the migration lock, so a command that
    /// holds the lock itself (apply, rollback, resolve) knows the run is gone; `status` and
    /// `verify`, which take no lock, look who holds it, and while another session does they
    /// say [`Self::running_note`] instead.
    pub fn explained_note(&self, engine: crate::driver::Engine) -> Option<String> {
        if self.status != Status::Dirty {
            return self.note.clone();
        }
        match self.note.as_deref() {
            Some(RUNNING_NOTE) => {
                let up = crate::sql::split_for(engine, &self.up_sql);
                let done = usize::try_from(self.progress).unwrap_or(0).min(up.len());
                // Progress is written after each statement: a run that stopped between the
                // two (killed, or the write failed) ran one statement more than it says.
                let next = up
                    .get(done)
                    .map(|st| format!("; the next would have been statement {} (up.sql line {}), which may have completed without being recorded (progress is written after each statement; the run's error, if it printed one, says)", done + 1, st.line))
                    // Every statement ran: the verify script, or only the record of the
                    // run's end, is what did not get done.
                    .unwrap_or_else(|| "; it stopped after them, in its verify script or while recording its end (the run's error, if it printed one, says)".into());
                Some(format!(
                    "its run stopped part-way outside a transaction (killed, disconnected, or its progress could not be recorded; a run still going holds the migration lock): history records {done} of {} statements of up.sql completed{next}",
                    up.len()
                ))
            }
            Some(note) => match rollback_running(note) {
                Some(done) => Some(self.rollback_stopped(engine, done)),
                None => self.note.clone(),
            },
            None => None,
        }
    }

    /// The step a dirty row's run was taking outside a transaction when it last wrote the
    /// row, while the row still carries the note that run wrote for it: `apply` (up.sql)
    /// or `rollback` (the stored down script). Until the run ends it holds the migration
    /// lock; once the lock is free, the run stopped part-way ([`Self::explained_note`]).
    pub fn running_step(&self) -> Option<&'static str> {
        if self.status != Status::Dirty {
            return None;
        }
        match self.note.as_deref()? {
            RUNNING_NOTE => Some("apply"),
            note if rollback_running(note).is_some() => Some("rollback"),
            _ => None,
        }
    }

    /// The note of a row [`Self::running_step`] names while its run is still going:
    /// `holder` holds the migration lock right now. How far it got so far, and to wait.
    pub fn running_note(
        &self,
        engine: crate::driver::Engine,
        holder: &crate::driver::LockHolder,
    ) -> Option<String> {
        let (doing, progress) = match self.running_step()? {
            "apply" => {
                let total = crate::sql::split_for(engine, &self.up_sql).len();
                let done = usize::try_from(self.progress).unwrap_or(0).min(total);
                (
                    "applied",
                    format!(
                        "history records {done} of {total} statements of up.sql completed so far"
                    ),
                )
            }
            _ => {
                let down = self.down_sql.as_deref().unwrap_or("");
                let total = crate::sql::split_for(engine, down).len();
                let progress = match self.note.as_deref().and_then(rollback_running) {
                    Some(Some(done)) => format!(
                        "history records {} of {total} statements of its stored down script completed so far",
                        done.min(total)
                    ),
                    _ => "its stored down script is running".into(),
                };
                ("rolled back", progress)
            }
        };
        Some(format!(
            "being {doing} right now, outside a transaction, by the backstop run that holds the migration lock ({holder}): {progress}; wait for that run to finish (it records how its step ended) and change nothing of this migration meanwhile"
        ))
    }

    /// [`Self::explained_note`] of a dirty row whose rollback step stopped part-way, with
    /// `done` statements of its down script recorded as completed (`None`: not said).
    fn rollback_stopped(&self, engine: crate::driver::Engine, done: Option<usize>) -> String {
        let Some(done) = done else {
            return "its rollback stopped part-way outside a transaction (killed or disconnected; a run still going holds the migration lock): its down script may have run in part".into();
        };
        let down = crate::sql::split_for(engine, self.down_sql.as_deref().unwrap_or(""));
        let done = done.min(down.len());
        // As for apply: a run that stopped between a statement and its record ran one
        // statement more than it says.
        let next = down
            .get(done)
            .map(|st| format!("; the next would have been statement {} (down.sql line {}), which may have completed without being recorded (progress is written after each statement; the run's error, if it printed one, says)", done + 1, st.line))
            .unwrap_or_default();
        format!(
            "its rollback stopped part-way outside a transaction (killed, disconnected, or its progress could not be recorded; a run still going holds the migration lock): history records {done} of {} statements of its stored down script completed{next}",
            down.len()
        )
    }

    /// Digest of what later commands take from this row on trust: the stored up, down and
    /// verify scripts and the irreversible reason. Recorded in the ledger with the events
    /// that write the row (`apply-started`, `apply`, `resolve`), where the hash chain
    /// protects it, so a script edited in the table is caught before it runs. (The row's
    /// `checksum` can't be recomputed from the row: migration.toml is not stored.)
    pub fn scripts_digest(&self) -> String {
        crate::checksum::framed(&[
            ("up", Some(&self.up_sql)),
            ("down", self.down_sql.as_deref()),
            ("verify", self.verify_sql.as_deref()),
            ("irreversible", self.irreversible.as_deref()),
        ])
    }
}

/// The ledger head and last recorded schema, kept in one row so a truncated ledger tail
/// and schema drift are both detectable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredState {
    pub ledger_seq: i64,
    pub ledger_hash: String,
    /// Fingerprint of the schema after the last apply/rollback/resolve.
    pub fingerprint: String,
    /// JSON of the [`SchemaState`](crate::schema::SchemaState) at the end of the last run,
    /// for drift diffs. May lag behind `fingerprint` if a run was killed.
    pub schema_json: Option<String>,
    /// The driver's [catalog stamp](crate::driver::Driver::catalog_stamp) when
    /// `fingerprint` was read in full at the end of a run; `None` when unknown. While the
    /// catalog still has this stamp, its fingerprint is still `fingerprint`.
    #[serde(default)]
    pub catalog_stamp: Option<String>,
    /// The head (`seq`, `hash`) the state row held when this state was read, or after the
    /// command's last write to it; `None` when there was no row. A write of this state
    /// ([`Driver::save_state`](crate::driver::Driver::save_state),
    /// [`Driver::record`](crate::driver::Driver::record)) is made only while the row still
    /// holds it, and then moves it to this state's head: a run that got past the migration
    /// lock (a migration that released it) may have moved the head meanwhile, and writing
    /// an older head over a newer one would leave the ledger looking set back. Not stored.
    #[serde(skip)]
    pub stored_head: Option<(i64, String)>,
}

impl StoredState {
    /// The stored schema text, when it is that of the recorded `fingerprint` (it may lag
    /// behind after a killed run, or be absent).
    pub fn recorded_schema(&self) -> Option<crate::schema::SchemaState> {
        let s: crate::schema::SchemaState =
            serde_json::from_str(self.schema_json.as_deref()?).ok()?;
        (s.fingerprint() == self.fingerprint).then_some(s)
    }
}
