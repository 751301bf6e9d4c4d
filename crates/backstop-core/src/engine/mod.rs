//! The one migration algorithm: apply, rollback, status, plan, verify, resolve, audit.
//! Drivers provide capabilities; everything that decides lives here.

mod apply;
mod audit;
mod crosscheck;
mod dirty;
mod inspect;
mod lock;
mod rollback;
mod rollback_stopped;
mod run;
mod snapshot;

pub use apply::{apply, refusal_before_create, ApplyOptions, LintGate, LintHook, LintOverride};
pub use audit::{audit_log, audit_verify};
pub use inspect::{
    observe, plan, resolve, schema, status, status_of, verify, Observed, Resolution,
};
pub use lock::{acquire, LockGuard};
pub use rollback::{rollback, RollbackOptions, RollbackTarget};

use crate::error::EngineError;
use crate::report::{AppliedMigration, RolledBackMigration};
use std::time::Duration;

/// Who runs a command and how long to wait for the lock.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: String,
    pub lock_wait: Duration,
    /// Refuse to apply when there is no backstop.sum.
    pub require_sum: bool,
    /// Told what is about to run, step by step (a long migration, or one waiting for a
    /// table lock, should not look like a hang).
    pub progress: Option<Progress>,
}

impl Ctx {
    /// This context with the actor masked ([`redact`](crate::redact::redact)). Every
    /// command that writes to the database works with it, so history rows, their notes and
    /// ledger events hold the same masked actor whoever calls the engine; masking is
    /// idempotent, so an actor a caller masked already stays as it is.
    pub(crate) fn masked(&self) -> Ctx {
        Ctx {
            actor: crate::redact::redact(&self.actor),
            ..self.clone()
        }
    }

    pub(crate) fn say(&self, what: impl FnOnce() -> String) {
        if let Some(p) = &self.progress {
            (p.0)(&what());
        }
    }
}

/// A progress sink, e.g. a line on stderr.
#[derive(Clone)]
pub struct Progress(pub std::sync::Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

/// A run that stopped: the error and what had happened before it.
#[derive(Debug)]
pub struct RunFailure {
    pub error: EngineError,
    pub applied: Vec<AppliedMigration>,
    pub undone: Vec<i64>,
    pub rolled_back: Vec<RolledBackMigration>,
    /// Warnings of the run so far (overrides, the end-of-run schema check).
    pub warnings: Vec<String>,
    /// The release the `applied` migrations were recorded under.
    pub release_id: Option<String>,
}

impl From<EngineError> for Box<RunFailure> {
    fn from(error: EngineError) -> Self {
        Box::new(RunFailure {
            error,
            applied: vec![],
            undone: vec![],
            rolled_back: vec![],
            warnings: vec![],
            release_id: None,
        })
    }
}

impl From<crate::driver::DbError> for Box<RunFailure> {
    fn from(e: crate::driver::DbError) -> Self {
        EngineError::from(e).into()
    }
}
