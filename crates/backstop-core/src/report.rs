//! Serializable reports: what every command returns, printed as text or as one JSON
//! document (`--format json`). The shapes are documented in docs/json.md.

use crate::error::Failure;
use crate::history::Status;
use crate::ledger::{BrokenLink, Event};
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
    /// The fingerprint now equals the one recorded before the migration was applied.
    pub fingerprint_restored: String,
    pub forced: bool,
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
    pub sum: Option<SumDiff>,
    pub fingerprint: Option<String>,
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
}

/// A failed run: what was applied, undone and what remains, beside the error.
#[derive(Debug, Clone, Serialize)]
pub struct FailureReport {
    pub error: String,
    pub kind: String,
    pub exit_code: i32,
    pub failure: Option<Failure>,
    pub applied: Vec<AppliedMigration>,
    pub undone: Vec<i64>,
    pub rolled_back: Vec<RolledBackMigration>,
    pub diff: Option<String>,
    /// Warnings of the run up to the failure.
    pub warnings: Vec<String>,
}
