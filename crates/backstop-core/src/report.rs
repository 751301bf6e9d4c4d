//! Serializable reports: what every command returns, printed as text or as one JSON
//! document (`--format json`). The shapes are documented in docs/json.md.

use crate::driver::LockHolder;
use crate::error::Failure;
use crate::history::Status;
use crate::ledger::{BrokenLink, Event};
use crate::migration::Part;
use crate::schema::HealthIssue;
use crate::sumfile::SumDiff;
use serde::Serialize;

/// One statement as it will run, for plans and dry runs.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedStatement {
    pub index: usize,
    pub line: usize,
    pub sql: String,
    /// The lock it takes and its effect on the table (filled in by static analysis).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact: Option<Impact>,
}

/// What one statement does to the tables it touches.
#[derive(Debug, Clone, Serialize)]
pub struct Impact {
    /// The strongest table lock, e.g. `ACCESS EXCLUSIVE`.
    pub lock: Option<String>,
    pub tables: Vec<String>,
    /// The lock taken on each of `tables` (empty when not known per table).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub table_locks: Vec<String>,
    /// Rewrites the whole table while holding the lock.
    pub rewrites: bool,
    /// Scans the whole table while holding the lock.
    pub scans: bool,
    /// What the lock blocks: `reads and writes`, `writes`, `nothing`.
    pub blocks: String,
    /// Destroys data (rows or columns), so a snapshot would be needed to restore it.
    pub destroys_data: bool,
}

/// A lint finding, as shown in a plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanFinding {
    pub rule: String,
    pub severity: String,
    pub message: String,
    pub help: String,
    /// `file:line:column`
    pub location: String,
    /// The suppression reason, when suppressed.
    pub suppressed: Option<String>,
}

/// A pending migration in a plan: what runs and how it would be undone.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedMigration {
    pub version: i64,
    pub name: String,
    pub path: String,
    pub transaction: bool,
    pub lock_timeout_ms: Option<u64>,
    pub statement_timeout_ms: Option<u64>,
    pub statements: Vec<PlannedStatement>,
    pub verify: Vec<PlannedStatement>,
    /// The down statements in order; empty with `irreversible` set.
    pub rollback: Vec<PlannedStatement>,
    pub irreversible: Option<String>,
    /// Static-analysis findings for this migration.
    pub findings: Vec<PlanFinding>,
    /// Statements that destroy data (what a snapshot would have to keep).
    pub snapshot: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub database: String,
    pub pending: Vec<PlannedMigration>,
    /// Pending migrations after `--to`'s target, which this plan leaves out.
    pub remaining: Vec<i64>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AppliedMigration {
    pub version: i64,
    pub name: String,
    pub duration_ms: i64,
    pub statements: usize,
    pub retries: u32,
    pub fingerprint_before: String,
    pub fingerprint_after: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    pub database: String,
    pub release_id: String,
    pub actor: String,
    pub dry_run: bool,
    pub applied: Vec<AppliedMigration>,
    /// `--atomic`: migrations of this run undone after a later one failed.
    pub undone: Vec<i64>,
    pub pending: Vec<i64>,
    /// Pending migrations the run leaves for later (those after `--to`).
    pub remaining: Vec<i64>,
    pub fingerprint: String,
    pub warnings: Vec<String>,
    /// With `--dry-run`: the plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RolledBackMigration {
    pub version: i64,
    pub name: String,
    pub duration_ms: i64,
    pub statements: usize,
    /// The fingerprint after the step: the one recorded before the migration was applied,
    /// unless `by_objects`.
    pub fingerprint_restored: String,
    pub forced: bool,
    /// Drift was accepted since the migration was applied, so the step was proven by the
    /// migration's objects being as before it and everything else as before the step (the
    /// fingerprint recorded before the migration predates the accepted change).
    pub by_objects: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RollbackReport {
    pub database: String,
    pub actor: String,
    pub dry_run: bool,
    pub rolled_back: Vec<RolledBackMigration>,
    /// With `--dry-run`: what would be undone, newest first, with the stored down statements.
    pub planned: Vec<PlannedMigration>,
    pub fingerprint: String,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusEntry {
    pub version: i64,
    pub name: String,
    /// `applied`, `pending`, `rolled_back` (pending again), `dirty`, `failed`.
    pub state: String,
    pub applied_at: Option<String>,
    pub release_id: Option<String>,
    pub checksum_mismatch: bool,
    /// In history but not on disk (rollback still works from stored scripts).
    pub missing_file: bool,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    pub recorded: String,
    pub current: String,
    /// Canonical-text diff when the recorded schema text is available.
    pub diff: Option<String>,
    /// The dirty or failed migration in history whose partial work the difference is (a
    /// migration that stopped part-way recorded no fingerprint after it): not a change
    /// made outside backstop, and `backstop resolve` is the way out. `None`: no such
    /// migration, so the schema changed outside backstop.
    pub dirty_migration: Option<DirtyMigration>,
}

/// A migration that is dirty or failed in history, as drift is explained by it.
#[derive(Debug, Clone, Serialize)]
pub struct DirtyMigration {
    pub version: i64,
    pub name: String,
    /// `dirty` or `failed`.
    pub status: String,
    /// The session running it right now, outside a transaction (the holder of the
    /// migration lock): its work so far is what differs, and it is still going. `None`:
    /// its run stopped.
    pub running: Option<LockHolder>,
}

/// A backstop run going on right now: another session holds the migration lock.
#[derive(Debug, Clone, Serialize)]
pub struct RunInProgress {
    /// Who holds the lock, as a run waiting for it would name them (pid, application,
    /// since when).
    pub holder: LockHolder,
    /// The migration it is running outside a transaction (dirty in history, with the note
    /// its run writes before its first statement), if any.
    pub migration: Option<RunningMigration>,
}

/// A migration a run is applying or rolling back outside a transaction right now.
#[derive(Debug, Clone, Serialize)]
pub struct RunningMigration {
    pub version: i64,
    pub name: String,
    /// `apply` (its up.sql runs) or `rollback` (its stored down script runs).
    pub step: String,
}

impl Drift {
    /// What the difference is, in words, and what to do about it.
    pub fn explain(&self) -> String {
        match &self.dirty_migration {
            None => format!(
                "the schema changed outside backstop (recorded {}, now {})",
                self.recorded, self.current
            ),
            Some(d) if d.running.is_some() => format!(
                "the schema differs from the last recorded fingerprint (recorded {}, now {}) because migration {} ({}) is being run right now, outside a transaction, by {}: its work so far is recorded when its run ends; wait for that run to finish, then run `backstop status` again",
                self.recorded,
                self.current,
                d.version,
                d.name,
                d.running.as_ref().map(|h| h.to_string()).unwrap_or_default()
            ),
            Some(d) => format!(
                "the schema differs from the last recorded fingerprint (recorded {}, now {}) because migration {} ({}) is {}: it stopped part-way, and its partial work is not part of any recorded fingerprint (its row's note says how far it got); inspect the database, finish or undo its work by hand, then record it with `backstop resolve {} --applied --reason \"…\"` (its change is complete) or `--rolled-back` (nothing of it remains)",
                self.recorded, self.current, d.version, d.name, d.status, d.version
            ),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub database: String,
    pub history_exists: bool,
    pub migrations: Vec<StatusEntry>,
    pub applied: usize,
    pub pending: usize,
    pub dirty: Vec<i64>,
    pub checksum_mismatches: Vec<i64>,
    pub drift: Option<Drift>,
    /// A backstop run recorded changes each time the schema was read, so the schema read
    /// and the recorded fingerprint were never of one moment: drift was not compared
    /// (`drift` is `None`, and a warning says so).
    pub drift_unchecked: bool,
    pub sum: Option<SumDiff>,
    pub fingerprint: Option<String>,
    /// Another session holds the migration lock right now: a run is going on.
    pub run_in_progress: Option<RunInProgress>,
    pub warnings: Vec<String>,
}

impl StatusReport {
    pub fn state_of(&self, version: i64) -> Option<&str> {
        self.migrations
            .iter()
            .find(|m| m.version == version)
            .map(|m| m.state.as_str())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub database: String,
    /// false: backstop never applied anything here, so only the sum and health were checked.
    pub history_exists: bool,
    pub ok: bool,
    pub checks: Vec<Check>,
    pub health: Vec<HealthIssue>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SchemaReport {
    pub database: String,
    pub fingerprint: String,
    pub objects: usize,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResolveReport {
    pub version: i64,
    pub name: String,
    pub from: Status,
    pub to: Status,
    pub reason: String,
    pub fingerprint: String,
    /// `--applied`: every schema object accepted as it is now (it differs from the recorded
    /// baseline), as recorded in the event; `None` when the baseline's schema text was not
    /// at hand, or for `--rolled-back` (the schema is proven as before the migration).
    pub objects: Option<Vec<String>>,
    /// Those of `objects` the migration's run did not record changing: changed by hand.
    pub not_from_run: Vec<String>,
    /// `--rolled-back` of a migration that changed no schema object (a data migration):
    /// no fingerprint can show its data change undone, so it was taken on the reason given.
    pub data_unchecked: bool,
    /// What the schema's health check finds after the resolve (an INVALID index left by a
    /// build that died, a NOT VALID constraint): accepted as it is, but not healthy.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub database: String,
    pub events: Vec<Event>,
    pub head_seq: i64,
    pub head_hash: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditVerifyReport {
    pub database: String,
    pub ok: bool,
    pub events: usize,
    pub broken: Option<BrokenLink>,
    /// Where history or the state row disagrees with the ledger (statuses, the schema
    /// baseline); checked when the chain and the head check out.
    pub disagreements: Vec<String>,
}

/// A failed run: what was applied, undone and what remains, beside the error.
#[derive(Debug, Clone, Serialize)]
pub struct FailureReport {
    pub error: String,
    pub kind: String,
    pub exit_code: i32,
    /// The statement that failed (exit 1, and exit 5 where a statement failed).
    pub failure: Option<Failure>,
    /// Exit 5 only: what a person has to take over.
    pub needs_person: Option<NeedsPersonReport>,
    pub applied: Vec<AppliedMigration>,
    pub undone: Vec<i64>,
    pub rolled_back: Vec<RolledBackMigration>,
    pub diff: Option<String>,
    /// Warnings of the run up to the failure.
    pub warnings: Vec<String>,
}

/// What a person has to take over after exit 5: the migration, its state in history, what
/// ran of the script that stopped and the commands that end the situation. The same facts
/// as the error text, as data.
#[derive(Debug, Clone, Serialize)]
pub struct NeedsPersonReport {
    /// What happened, one of [`Situation`].
    pub situation: Situation,
    /// The command that was running: `apply` or `rollback`.
    pub command: String,
    pub version: i64,
    pub name: String,
    /// The script that was running when it stopped, if one was.
    pub part: Option<Part>,
    /// That script's file (`history:V/down.sql …` for a stored down script).
    pub file: Option<String>,
    /// Whether the script ran in a transaction.
    pub transaction: bool,
    /// The migration's state in history now.
    pub history: HistoryState,
    /// Which statements of the script completed and which did not; `null` when a
    /// transaction kept them all-or-nothing or when it is not known.
    pub statements: Option<ScriptProgress>,
    /// What backstop did to clean up before giving up, one sentence each.
    pub cleanup: Vec<String>,
    /// Migrations this run applied that stay applied until this one is resolved
    /// (`--atomic` could not undo them).
    pub still_applied: Vec<i64>,
    /// Migrations this run committed whose commit the server could not confirm on disk.
    pub unconfirmed: Vec<i64>,
    /// The state, as in the error text.
    pub state: String,
    /// What to do next, as in the error text.
    pub next: String,
    /// The commands that end the situation, in the order to consider them.
    pub commands: Vec<NextCommand>,
}

impl NeedsPersonReport {
    pub fn new(
        situation: Situation,
        command: &str,
        version: i64,
        name: &str,
        history: HistoryState,
    ) -> Self {
        NeedsPersonReport {
            situation,
            command: command.to_string(),
            version,
            name: name.to_string(),
            part: None,
            file: None,
            transaction: true,
            history,
            statements: None,
            cleanup: vec![],
            still_applied: vec![],
            unconfirmed: vec![],
            state: String::new(),
            next: String::new(),
            commands: vec![],
        }
    }
}

/// Why a person is needed. The names are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Situation {
    /// A script running outside a transaction failed part-way and could not be undone:
    /// the migration is dirty.
    StoppedPartWay,
    /// The connection was lost while a statement ran outside a transaction: it may or may
    /// not have completed.
    ConnectionLost,
    /// Work outside a transaction stopped on an error that was not a statement's (a
    /// schema read, a history write).
    Interrupted,
    /// The connection was lost during COMMIT: the outcome is unknown.
    CommitUnknown,
    /// A statement outside a transaction completed, but recording its progress in history
    /// failed: history counts one statement fewer than ran.
    ProgressNotRecorded,
    /// The script ran, but writing history or the ledger failed.
    RecordFailed,
    /// A down script ran to its end, but the schema is not the one recorded before the
    /// migration.
    RollbackUnproven,
    /// Every rollback step was proven, but the full schema read at the end of the run
    /// differs from what the steps proved: another session changed the schema during the
    /// run, or a change escaped the per-step reads.
    RunUnproven,
    /// `--atomic` could not undo a migration of the run after a later one failed.
    AtomicUndoFailed,
    /// Commits of the run could not be confirmed durable.
    NotDurable,
}

/// A migration's state in history, as far as backstop knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryState {
    Applied,
    Dirty,
    /// Not applied: no row, or a `rolled_back` one.
    Pending,
    /// The connection went before the outcome was known: `backstop status` tells.
    Unknown,
}

/// The statements of one script and how far it got.
#[derive(Debug, Clone, Serialize)]
pub struct ScriptProgress {
    pub part: Part,
    pub file: String,
    pub total: usize,
    /// Statements that completed (each committed on its own).
    pub completed: Vec<PlannedStatement>,
    /// The statement that failed, if it is one of this script's.
    pub failed: Option<PlannedStatement>,
    /// The failed statement was cut off by a lost connection, so it may have completed.
    pub failed_may_have_completed: bool,
    /// Statements that never ran.
    pub not_run: Vec<PlannedStatement>,
}

/// A command to run, and when it is the right one.
#[derive(Debug, Clone, Serialize)]
pub struct NextCommand {
    pub command: String,
    pub when: String,
}

impl NextCommand {
    pub fn new(command: impl Into<String>, when: impl Into<String>) -> Self {
        NextCommand {
            command: command.into(),
            when: when.into(),
        }
    }
}
