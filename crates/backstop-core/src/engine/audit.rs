//! audit log / verify: reading and checking the hash-chained ledger.

use crate::driver::Driver;
use crate::error::EngineError;
use crate::ledger::{verify_chain, GENESIS};
use crate::report::{AuditReport, AuditVerifyReport};

pub fn audit_log(db: &mut dyn Driver) -> Result<AuditReport, EngineError> {
    if !db.history_exists()? {
        return Ok(AuditReport {
            database: db.display_url(),
            events: vec![],
            head_seq: 0,
            head_hash: GENESIS.into(),
        });
    }
    let events = db.load_events()?;
    let state = db.load_state()?;
    Ok(AuditReport {
        database: db.display_url(),
        events,
        head_seq: state.as_ref().map(|s| s.ledger_seq).unwrap_or(0),
        head_hash: state
            .map(|s| s.ledger_hash)
            .unwrap_or_else(|| GENESIS.into()),
    })
}

/// Check every link and the head. The report names the first broken link.
pub fn audit_verify(db: &mut dyn Driver) -> Result<AuditVerifyReport, EngineError> {
    let log = audit_log(db)?;
    let head = if log.head_seq == 0 && log.events.is_empty() {
        None
    } else {
        Some((log.head_seq, log.head_hash.as_str()))
    };
    let res = verify_chain(&log.events, head);
    Ok(AuditVerifyReport {
        database: log.database,
        ok: res.is_ok(),
        events: log.events.len(),
        broken: res.err(),
    })
}
