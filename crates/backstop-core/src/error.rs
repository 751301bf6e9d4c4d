//! Errors of the algorithm, each mapped to one exit code of the contract.

use crate::driver::{DbError, LockHolder};
use crate::migration::{LoadError, Part};
use crate::report::NeedsPersonReport;
use crate::sumfile::SumError;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// Exit codes (SPEC "Exit codes").
pub mod exit {
    pub const OK: i32 = 0;
    /// A migration failed and was undone: nothing half-applied.
    pub const FAILED_UNDONE: i32 = 1;
    /// Usage, config or input error.
    pub const USAGE: i32 = 2;
    /// Refused by a safety check.
    pub const REFUSED: i32 = 3;
    /// Lock not acquired in time.
    pub const LOCK: i32 = 4;
    /// The database needs a person.
    pub const NEEDS_PERSON: i32 = 5;
}

/// Exactly where and how a migration script failed.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub version: i64,
    pub name: String,
    pub part: Part,
    /// File the statement came from (the stored script when files are gone: `history:VERSION/down.sql`).
    pub file: String,
    /// 1-based index of the statement in its script.
    pub statement_index: usize,
    pub line: usize,
    pub column: usize,
    /// The statement's first line.
    pub statement: String,
    /// The line the database pointed at, when it is not the statement's first (the
    /// statement's first line alone would not show it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_text: Option<String>,
    /// The database's error, or the verify check that returned false.
    pub error: String,
    pub code: Option<String>,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: migration {} ({}) {} statement {} failed: {}",
            self.file,
            self.line,
            self.column,
            self.version,
            self.name,
            self.part.name(),
            self.statement_index,
            self.error
        )?;
        if let Some(c) = &self.code {
            write!(f, " [{c}]")?;
        }
        write!(f, "\n    {}", self.statement)?;
        if let Some(l) = &self.line_text {
            write!(f, "\n    line {}: {l}", self.line)?;
        }
        if let Some(d) = &self.detail {
            write!(f, "\n    detail: {d}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n    hint: {h}")?;
        }
        Ok(())
    }
}

/// How a database error reads. A missing privilege reads like a refusal: what backstop
/// could not do and where, that nothing was changed, and what to grant. Anything else is
/// the database's own words; a lock timeout adds the driver's detail and hint.
fn db_text(e: &DbError) -> String {
    match (e.kind, &e.hint) {
        // `detail` says the state where the refused write came after work of the run.
        (crate::driver::DbErrorKind::Privilege, Some(next)) => {
            format!(
                "{}\n  state: {}\n  next: {next}",
                e.message,
                e.detail.as_deref().unwrap_or("nothing was changed")
            )
        }
        // Another connection held a lock for as long as the command would wait: who held it
        // and how long backstop waited, where the driver knows, and what to do.
        (crate::driver::DbErrorKind::LockTimeout, _) => {
            let mut text = format!("database error: {e}");
            if let Some(d) = &e.detail {
                text.push_str(&format!("\n    detail: {d}"));
            }
            if let Some(h) = &e.hint {
                text.push_str(&format!("\n    hint: {h}"));
            }
            text
        }
        // The compare-and-set on the ledger head refused the write: a safety check, with
        // what it means and what to do.
        (crate::driver::DbErrorKind::HeadMoved, _) => format!(
            "refused: {}\n  state: nothing of this write was made, and the ledger is intact; what this command committed before it stays (`backstop status` shows it)\n  next: run `backstop audit verify` (it checks the ledger) and `backstop status` (it shows what the other run did); find out how two runs got past the migration lock at once (a migration that releases it?), then run the command again if anything is left to do",
            e.message
        ),
        (crate::driver::DbErrorKind::LockLost, _) => format!(
            "{}\n  next: find out what the session that holds the migration lock now is doing (`backstop status` once it has finished); a migration must not release backstop's migration lock (pg_advisory_unlock_all, pg_advisory_unlock, DISCARD ALL): take that out of it, then run the command again",
            e.message
        ),
        _ => format!("database error: {e}"),
    }
}

/// Everything that can stop a command. [`EngineError::exit_code`] maps to the contract.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Sum(#[from] SumError),
    #[error("{0}")]
    Usage(String),
    #[error("{}", db_text(source))]
    Db {
        #[from]
        source: DbError,
    },
    /// A safety check refused the command; nothing was changed.
    #[error("refused: {reason}\n  state: nothing was changed\n  next: {next}")]
    Refused { reason: String, next: String },
    /// A safety check refused the command after an override the command was given had
    /// been recorded (a missing ledger head accepted, say): `state` says what was written.
    #[error("refused: {reason}\n  state: {state}\n  next: {next}")]
    RefusedAfter {
        reason: String,
        state: String,
        next: String,
    },
    #[error("the migration lock on {database} is held by {holder} (waited {:.1} s); nothing was changed\n  next: wait for that run to finish, or raise --lock-wait; if the holder is gone, its session ends and frees the lock by itself", .waited.as_secs_f64())]
    LockTimeout {
        database: String,
        holder: String,
        holder_info: Option<Box<LockHolder>>,
        waited: Duration,
    },
    /// A migration failed and everything it did was undone.
    #[error("{failure}\n  state: {state}\n  next: {next}")]
    Failed {
        failure: Box<Failure>,
        state: String,
        next: String,
    },
    /// The database needs a person: something could not be undone or proven. The text says
    /// what happened, the state it left and what to do; `needs` says the same as data, for
    /// programs that have to act on it.
    #[error("{what}\n  state: {}\n  next: {}", .needs.state, .needs.next)]
    NeedsPerson {
        what: String,
        /// The statement that failed, where one did.
        failure: Option<Box<Failure>>,
        needs: Box<NeedsPersonReport>,
        diff: Option<String>,
        path: Option<PathBuf>,
    },
}

impl EngineError {
    pub fn exit_code(&self) -> i32 {
        match self {
            // Another connection held a lock for as long as the command would wait.
            EngineError::Db { source }
                if source.kind == crate::driver::DbErrorKind::LockTimeout =>
            {
                exit::LOCK
            }
            EngineError::Db { source }
                if matches!(
                    source.kind,
                    crate::driver::DbErrorKind::Tampered | crate::driver::DbErrorKind::HeadMoved
                ) =>
            {
                exit::REFUSED
            }
            EngineError::Load(_)
            | EngineError::Sum(_)
            | EngineError::Usage(_)
            | EngineError::Db { .. } => exit::USAGE,
            EngineError::Refused { .. } | EngineError::RefusedAfter { .. } => exit::REFUSED,
            EngineError::LockTimeout { .. } => exit::LOCK,
            EngineError::Failed { .. } => exit::FAILED_UNDONE,
            EngineError::NeedsPerson { .. } => exit::NEEDS_PERSON,
        }
    }

    /// Short machine-readable kind for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            EngineError::Load(_) => "input",
            EngineError::Sum(_) => "input",
            EngineError::Usage(_) => "usage",
            EngineError::Db { source }
                if source.kind == crate::driver::DbErrorKind::LockTimeout =>
            {
                "lock-timeout"
            }
            EngineError::Db { source }
                if matches!(
                    source.kind,
                    crate::driver::DbErrorKind::Tampered | crate::driver::DbErrorKind::HeadMoved
                ) =>
            {
                "refused"
            }
            EngineError::Db { source } if source.kind == crate::driver::DbErrorKind::Privilege => {
                "privilege"
            }
            EngineError::Db { .. } => "database",
            EngineError::Refused { .. } | EngineError::RefusedAfter { .. } => "refused",
            EngineError::LockTimeout { .. } => "lock-timeout",
            EngineError::Failed { .. } => "migration-failed",
            EngineError::NeedsPerson { .. } => "needs-person",
        }
    }

    /// A [`EngineError::NeedsPerson`] without a failed statement, diff or path.
    pub fn needs_person(what: impl Into<String>, needs: NeedsPersonReport) -> Self {
        EngineError::NeedsPerson {
            what: what.into(),
            failure: None,
            needs: Box::new(needs),
            diff: None,
            path: None,
        }
    }

    /// The failed statement behind this error, if any (exit 1 and exit 5 alike).
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            EngineError::Failed { failure, .. } => Some(failure),
            EngineError::NeedsPerson { failure, .. } => failure.as_deref(),
            _ => None,
        }
    }

    /// This refusal, saying that `wrote` was written before it (`None`: nothing was).
    pub fn after(self, wrote: Option<&str>) -> Self {
        match (self, wrote) {
            (EngineError::Refused { reason, next }, Some(state)) => EngineError::RefusedAfter {
                reason,
                state: state.to_string(),
                next,
            },
            (other, _) => other,
        }
    }

    /// Add what the run recorded before it failed (an override it was given, say) to the
    /// state the error reports; an error that reports no state is returned as it is.
    pub fn with_state_note(self, note: &str) -> Self {
        match self {
            EngineError::Failed {
                failure,
                state,
                next,
            } => EngineError::Failed {
                failure,
                state: format!("{state}; {note}"),
                next,
            },
            EngineError::NeedsPerson {
                what,
                failure,
                mut needs,
                diff,
                path,
            } => {
                // Its state may end in a list (the statements that ran): a line of its own.
                needs.state = format!("{}\n{note}", needs.state);
                EngineError::NeedsPerson {
                    what,
                    failure,
                    needs,
                    diff,
                    path,
                }
            }
            EngineError::RefusedAfter {
                reason,
                state,
                next,
            } => EngineError::RefusedAfter {
                reason,
                state: format!("{state}; {note}"),
                next,
            },
            other => other,
        }
    }

    pub fn refused(reason: impl Into<String>, next: impl Into<String>) -> Self {
        EngineError::Refused {
            reason: reason.into(),
            next: next.into(),
        }
    }
}
