//! audit log / verify: reading and checking the hash-chained ledger.

use crate::driver::Driver;
use crate::error::EngineError;
use crate::ledger::{verify_chain, BrokenLink, GENESIS};
use crate::report::{AuditReport, AuditVerifyReport};

/// The ledger and its recorded head, read in one snapshot (a run appending meanwhile
/// would otherwise show a head that is not the last event's).
pub fn audit_log(db: &mut dyn Driver) -> Result<AuditReport, EngineError> {
    super::snapshot::snapshot(db, |db| read(db).map(|(report, _)| report))
}

/// The ledger and the head recorded for it (`None`: no state row, or no history at all).
fn read(db: &mut dyn Driver) -> Result<(AuditReport, Option<(i64, String)>), EngineError> {
    if !db.history_exists()? {
        let report = AuditReport {
            database: db.display_url(),
            events: vec![],
            head_seq: 0,
            head_hash: GENESIS.into(),
        };
        return Ok((report, None));
    }
    let events = db.load_events()?;
    let recorded = db.recorded_head()?;
    let (head_seq, head_hash) = recorded.clone().unwrap_or_else(|| (0, GENESIS.into()));
    let report = AuditReport {
        database: db.display_url(),
        events,
        head_seq,
        head_hash,
    };
    Ok((report, recorded))
}

/// Check every link and the head. The report names the first broken link. The ledger, the
/// head, history and the state row are read in one snapshot: a run commits its event, the
/// head and its history row together, and read one after another while it runs they would
/// disagree (events "deleted" from the end, a baseline "rewritten") though nothing is wrong.
pub fn audit_verify(db: &mut dyn Driver) -> Result<AuditVerifyReport, EngineError> {
    super::snapshot::snapshot(db, verify_read)
}

fn verify_read(db: &mut dyn Driver) -> Result<AuditVerifyReport, EngineError> {
    let (log, recorded) = match read(db) {
        // A ledger table (or the one beside it) dropped: as broken as an edited event.
        Err(EngineError::Db { source }) if source.kind == crate::driver::DbErrorKind::Tampered => {
            return Ok(AuditVerifyReport {
                database: db.display_url(),
                ok: false,
                events: 0,
                broken: Some(BrokenLink {
                    seq: 0,
                    problem: source.message,
                }),
                disagreements: vec![],
            });
        }
        other => other?,
    };
    let res = match (&recorded, log.events.len()) {
        // Nothing recorded at all, yet history lists migrations: every apply wrote an
        // event and the head with it, so the ledger and the state row were both emptied.
        (None, 0) => match db.load_history_brief()?.len() {
            0 => Ok(()),
            rows => Err(BrokenLink {
                seq: 1,
                problem: format!("the ledger has no events and no head is recorded, but backstop's history has {rows} migration row(s), each written together with an event: the events and the state row were deleted"),
            }),
        },
        (Some((seq, hash)), _) => verify_chain(&log.events, Some((*seq, hash))),
        // Events but no recorded head: the state row is gone, and with it the one way to
        // tell a ledger whose last events were deleted from an intact one.
        (None, n) => verify_chain(&log.events, None).and(Err(BrokenLink {
            seq: n as i64 + 1,
            problem: format!("the ledger ends at event {n} but no head is recorded for it (backstop's state row was deleted), so events at its end may have been deleted too"),
        })),
    };
    // The chain holds: then history and the state row must say what it says.
    let disagreements = match (&res, &recorded) {
        (Ok(()), Some(_)) => super::crosscheck::crosscheck(
            &db.load_history_brief()?,
            &log.events,
            db.load_state()?.as_ref(),
            super::crosscheck::history_table(db.engine()),
        )
        .into_iter()
        .map(|d| d.what)
        .collect(),
        _ => vec![],
    };
    Ok(AuditVerifyReport {
        database: log.database,
        ok: res.is_ok() && disagreements.is_empty(),
        events: log.events.len(),
        broken: res.err(),
        disagreements,
    })
}
