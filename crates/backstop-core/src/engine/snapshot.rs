//! Reads without the migration lock that see one moment.
//!
//! A run commits each migration's change, its history row, its ledger event and the state
//! row in one transaction. A command that reads them without the lock (status, verify,
//! plan, the dry runs, audit) and compares them must read them all at one moment, or a run
//! committing between two of its reads looks like tampering: an event the recorded head
//! does not know yet ("the ledger head is damaged"), a head whose event is not there yet
//! ("events were deleted"), a row ahead of the ledger. So backstop's tables are read in one
//! read transaction ([`snapshot`]).
//!
//! The schema is read in the same transaction where that reads the transaction's moment
//! ([`Driver::snapshot_covers_schema`]: SQLite). Elsewhere (PostgreSQL) it is read after it
//! ([`schema_since`]), and belongs to the same moment when no run recorded anything in
//! between: every migration and rollback step commits its change with its ledger event, so
//! an unchanged ledger end means an unchanged schema, but for changes made outside backstop
//! (drift, whenever it is read). When a run did record something, the command reads
//! everything again, a few times ([`ATTEMPTS`]), and then says that it could not compare
//! the two.

use super::run::Head;
use crate::driver::{DbError, Driver};
use crate::error::EngineError;
use crate::history::{HistoryRow, StoredState};
use crate::schema::SchemaState;
use std::time::Duration;

/// How many times a command reads backstop's tables and the schema when a run records
/// something in between each time. With the pauses between them ([`pause`]) that is
/// about three quarters of a second: time for a run to finish its last migrations, not
/// long enough to keep anyone waiting on a long run.
pub(crate) const ATTEMPTS: u32 = 5;

/// The pause before attempt `attempt` + 1.
pub(crate) fn pause(attempt: u32) {
    std::thread::sleep(Duration::from_millis(25 << attempt.min(5)));
}

/// The ledger's last event (`seq`, `hash`), or `None`: what changes whenever a run records
/// anything.
pub(crate) type LedgerEnd = Option<(i64, String)>;

/// `reads`, in one read transaction ([`Driver::begin_read`]): every read of backstop's
/// tables in it sees the same moment. The transaction ends whatever `reads` returns.
pub(crate) fn snapshot<T>(
    db: &mut dyn Driver,
    reads: impl FnOnce(&mut dyn Driver) -> Result<T, EngineError>,
) -> Result<T, EngineError> {
    db.begin_read()?;
    let r = reads(db);
    let ended = db.end_read();
    let value = r?;
    ended?;
    Ok(value)
}

/// The ledger's end now, outside any snapshot (`None` without history).
pub(crate) fn ledger_end_now(db: &mut dyn Driver) -> Result<LedgerEnd, DbError> {
    if !db.history_exists()? {
        return Ok(None);
    }
    db.ledger_end()
}

/// The schema now, read after a snapshot whose ledger ended at `end`, when it is the schema
/// of that moment: when the ledger still ends there once it has been read. `None` when a
/// run recorded something meanwhile — also when the read failed then: on PostgreSQL a
/// table a rollback step dropped while the catalog was read fails it ("could not open
/// relation"), and reading again is the answer, not an error.
pub(crate) fn schema_since(
    db: &mut dyn Driver,
    end: &LedgerEnd,
) -> Result<Option<SchemaState>, DbError> {
    let read = db.schema(None);
    let same = ledger_end_now(db)? == *end;
    match read {
        Ok(schema) => Ok(same.then_some(schema)),
        Err(_) if !same => Ok(None),
        Err(e) => Err(e),
    }
}

/// What [`tables_then_schema`] read of the schema.
pub(crate) enum SchemaRead {
    /// Not asked for, for what the tables hold.
    NotWanted,
    /// The schema at the tables' moment.
    Read(SchemaState),
    /// A run recorded something between the tables and the schema each time.
    Unsettled,
}

/// Backstop's tables as a command that checks a run's preconditions without running it
/// reads them (plan, the dry runs), in one snapshot.
pub(crate) struct Tables {
    pub exists: bool,
    /// With the stored scripts.
    pub history: Vec<HistoryRow>,
    /// `None` without history.
    pub head: Option<Head>,
    /// All of the ledger (`full`), or what the cross-check reads of it.
    pub events: Vec<crate::ledger::Event>,
    pub stored: Option<StoredState>,
}

impl Tables {
    /// Read them, inside the caller's snapshot.
    fn read_in(db: &mut dyn Driver, full: bool) -> Result<Tables, EngineError> {
        if !db.history_exists()? {
            return Ok(Tables {
                exists: false,
                history: vec![],
                head: None,
                events: vec![],
                stored: None,
            });
        }
        Ok(Tables {
            exists: true,
            history: db.load_history()?,
            head: Some(Head::read(db)?),
            events: if full {
                db.load_events()?
            } else {
                db.load_events_brief()?
            },
            stored: db.load_state()?,
        })
    }

    /// Where the ledger ended at the snapshot.
    pub fn end(&self) -> LedgerEnd {
        self.head.as_ref().and_then(|h| h.end().clone())
    }
}

/// Backstop's tables in one snapshot (`full`: the whole ledger, else what the cross-check
/// reads of it), and the schema when `wants_schema` says so for what was read: in the
/// snapshot where the driver can, else after it ([`schema_since`]), again while a run
/// records something in between, up to [`ATTEMPTS`] times.
pub(crate) fn tables_then_schema(
    db: &mut dyn Driver,
    full: bool,
    wants_schema: impl Fn(&Tables) -> bool,
) -> Result<(Tables, SchemaRead), EngineError> {
    let inside = db.snapshot_covers_schema();
    let mut attempt = 1;
    loop {
        let (tables, schema) = snapshot(db, |db| {
            let tables = Tables::read_in(db, full)?;
            let schema = if inside && wants_schema(&tables) {
                Some(db.schema(None)?)
            } else {
                None
            };
            Ok((tables, schema))
        })?;
        if let Some(schema) = schema {
            return Ok((tables, SchemaRead::Read(schema)));
        }
        if !wants_schema(&tables) {
            return Ok((tables, SchemaRead::NotWanted));
        }
        if let Some(schema) = schema_since(db, &tables.end())? {
            return Ok((tables, SchemaRead::Read(schema)));
        }
        if attempt >= ATTEMPTS {
            return Ok((tables, SchemaRead::Unsettled));
        }
        pause(attempt);
        attempt += 1;
    }
}

/// The warning of a command whose schema read met a run recording something every time.
pub(crate) fn unsettled_warning(what: &str) -> String {
    format!("{what} could not be checked: a backstop run recorded changes each of the {ATTEMPTS} times the schema was read, so the schema read and the fingerprint recorded for it were not of one moment; run the command again once that run is done")
}
