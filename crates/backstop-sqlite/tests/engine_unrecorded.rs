//! A rollback step outside a transaction whose own writes another connection keeps from the
//! database at a chosen moment: the engine called directly, through a driver that takes
//! the file's write lock on a second connection right then.
#![allow(clippy::unwrap_used)]

mod common;

use backstop_core::driver::{DbError, Driver, Engine, FirstColumn, LockAttempt, Timeouts};
use backstop_core::engine::{self, ApplyOptions, Ctx, Resolution, RollbackOptions};
use backstop_core::error::EngineError;
use backstop_core::history::{HistoryRow, StoredState};
use backstop_core::ledger::Event;
use backstop_core::report::{HistoryState, Situation};
use backstop_core::schema::{HealthIssue, SchemaState};
use backstop_sqlite::SqliteDriver;
use std::path::PathBuf;
use std::time::Duration;

/// When the other connection takes the write lock.
enum When {
    /// Just before this statement runs.
    Before(&'static str),
    /// At the first schema read after this statement ran.
    ReadAfter(&'static str),
}

/// A driver that lets another connection take the file's write lock at the moment `when`
/// says, and keeps it until `let_go`.
struct Held {
    db: SqliteDriver,
    path: PathBuf,
    when: When,
    armed: bool,
    holder: Option<rusqlite::Connection>,
}

impl Held {
    fn new(url: &str, path: PathBuf, when: When) -> Held {
        let mut db = common::open(url);
        db.set_lock_wait(Duration::from_millis(300));
        Held {
            db,
            path,
            when,
            armed: false,
            holder: None,
        }
    }

    fn hold(&mut self) {
        if self.holder.is_none() {
            let c = rusqlite::Connection::open(&self.path).unwrap();
            c.execute_batch("BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")
                .unwrap();
            self.holder = Some(c);
        }
    }

    fn let_go(&mut self) {
        self.holder = None;
    }
}

impl Driver for Held {
    fn engine(&self) -> Engine {
        self.db.engine()
    }
    fn display_url(&self) -> String {
        self.db.display_url()
    }
    fn transactional_ddl(&self) -> bool {
        self.db.transactional_ddl()
    }
    fn history_exists(&mut self) -> Result<bool, DbError> {
        self.db.history_exists()
    }
    fn ensure_history(&mut self) -> Result<(), DbError> {
        self.db.ensure_history()
    }
    fn try_lock(&mut self) -> Result<LockAttempt, DbError> {
        self.db.try_lock()
    }
    fn unlock(&mut self) -> Result<(), DbError> {
        self.db.unlock()
    }
    fn reset_session(&mut self) -> Result<(), DbError> {
        self.db.reset_session()
    }
    fn begin(&mut self, timeouts: Timeouts) -> Result<(), DbError> {
        self.db.begin(timeouts)
    }
    fn commit(&mut self) -> Result<(), DbError> {
        self.db.commit()
    }
    fn rollback(&mut self) -> Result<(), DbError> {
        self.db.rollback()
    }
    fn set_session_timeouts(&mut self, timeouts: Timeouts) -> Result<(), DbError> {
        self.db.set_session_timeouts(timeouts)
    }
    fn execute(&mut self, sql: &str) -> Result<FirstColumn, DbError> {
        if matches!(self.when, When::Before(s) if sql.contains(s)) {
            self.hold();
        }
        let r = self.db.execute(sql);
        if matches!(self.when, When::ReadAfter(s) if sql.contains(s)) && r.is_ok() {
            self.armed = true;
        }
        r
    }
    fn load_history(&mut self) -> Result<Vec<HistoryRow>, DbError> {
        self.db.load_history()
    }
    fn save_history(&mut self, row: &HistoryRow) -> Result<(), DbError> {
        self.db.save_history(row)
    }
    fn load_events(&mut self) -> Result<Vec<Event>, DbError> {
        self.db.load_events()
    }
    fn load_events_brief(&mut self) -> Result<Vec<Event>, DbError> {
        self.db.load_events_brief()
    }
    fn append_event(&mut self, event: &Event) -> Result<(), DbError> {
        self.db.append_event(event)
    }
    fn ledger_end(&mut self) -> Result<Option<(i64, String)>, DbError> {
        self.db.ledger_end()
    }
    fn load_state(&mut self) -> Result<Option<StoredState>, DbError> {
        self.db.load_state()
    }
    fn recorded_head(&mut self) -> Result<Option<(i64, String)>, DbError> {
        self.db.recorded_head()
    }
    fn save_state(&mut self, state: &StoredState) -> Result<(), DbError> {
        self.db.save_state(state)
    }
    fn schema(&mut self, previous: Option<&SchemaState>) -> Result<SchemaState, DbError> {
        let r = self.db.schema(previous);
        if std::mem::take(&mut self.armed) {
            self.hold();
        }
        r
    }
    fn health(&mut self) -> Result<Vec<HealthIssue>, DbError> {
        self.db.health()
    }
    fn drop_invalid_indexes(
        &mut self,
        keep: &[String],
        failed: &str,
    ) -> Result<Vec<String>, DbError> {
        self.db.drop_invalid_indexes(keep, failed)
    }
}

fn ctx() -> Ctx {
    Ctx {
        actor: "ann".into(),
        lock_wait: Duration::from_millis(300),
        require_sum: false,
        progress: None,
    }
}

fn steps(n: usize) -> RollbackOptions {
    RollbackOptions {
        target: engine::RollbackTarget::Steps(n),
        dry_run: false,
        force_reason: None,
        allow_drift: None,
    }
}

/// Migration 1 (table `t`, which the other connection writes to) and migration 2, outside
/// a transaction, both applied; the fingerprint before migration 2.
fn applied(toml: &str) -> (tempfile::TempDir, PathBuf, String, String) {
    let (tmp, path, url) = common::temp_db();
    let migrations = tmp.path().join("migrations");
    for (id, up, down, toml) in [
        ("1_t", "CREATE TABLE t (id INTEGER);", "DROP TABLE t;", ""),
        (
            "2_n",
            "CREATE TABLE u (id INTEGER);\nCREATE INDEX u_id ON u (id);",
            "DROP INDEX IF EXISTS u_id;\nDROP TABLE IF EXISTS u;",
            toml,
        ),
    ] {
        let d = migrations.join(id);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("up.sql"), up).unwrap();
        std::fs::write(d.join("down.sql"), down).unwrap();
        std::fs::write(d.join("migration.toml"), toml).unwrap();
    }
    let ms = backstop_core::migration::load_dir(&migrations).unwrap();
    let opts = |to| ApplyOptions {
        to: Some(to),
        sum_path: tmp.path().join("backstop.sum"),
        ..Default::default()
    };
    let mut db = common::open(&url);
    engine::apply(&mut db, &ms, &ctx(), &opts(1)).unwrap();
    let before = db.schema(None).unwrap().fingerprint();
    engine::apply(&mut db, &ms, &ctx(), &opts(2)).unwrap();
    (tmp, path, url, before)
}

fn dirty_row(db: &mut dyn Driver) -> HistoryRow {
    let row = db
        .load_history()
        .unwrap()
        .into_iter()
        .find(|r| r.version == 2)
        .unwrap();
    assert_eq!(row.status.as_str(), "dirty", "{row:?}");
    row
}

#[test]
fn a_rollback_step_whose_record_cannot_be_written_says_it_is_done_and_resolves() {
    // Regression: when the record that ends a rollback step outside a transaction (every
    // down statement run, the schema proven) was kept from the database by another
    // connection, the step said its down script "may have run in part", or advised
    // running the rollback again, which refuses the migration it left dirty.
    let (_tmp, path, url, before) = applied("transaction = false\n");
    let mut db = Held::new(&url, path, When::ReadAfter("DROP TABLE IF EXISTS u"));
    let f = engine::rollback(&mut db, &ctx(), &steps(1)).unwrap_err();
    let text = f.error.to_string();
    let EngineError::NeedsPerson { needs, .. } = &f.error else {
        panic!("{text}");
    };
    assert_eq!(needs.situation, Situation::RecordFailed, "{text}");
    assert_eq!(needs.history, HistoryState::Dirty, "{text}");
    assert_eq!(needs.command, "rollback", "{text}");
    let progress = needs.statements.as_ref().unwrap();
    assert_eq!(progress.completed.len(), 2, "{text}");
    assert!(progress.not_run.is_empty(), "{text}");
    assert!(
        text.contains("history:2/down.sql (stored at apply time): the rollback of migration 2 (n) ran to its end outside a transaction and the schema is the one recorded before the migration, but recording that in history failed: database is locked [SQLITE_BUSY]\n    detail: waited --lock-wait (300ms) for the database: another connection is writing it"),
        "{text}"
    );
    assert!(
        text.contains("the migration is undone in the database; only its record is missing"),
        "{text}"
    );
    assert!(
        text.contains("`backstop resolve 2 --rolled-back --reason \"…\"` records the migration as rolled back"),
        "{text}"
    );
    assert!(!text.contains("run the rollback again"), "{text}");
    assert!(!text.contains("run the command again"), "{text}");
    assert!(!text.contains("may have run in part"), "{text}");
    assert_eq!(db.db.schema(None).unwrap().fingerprint(), before);
    db.let_go();
    let row = dirty_row(&mut db);
    assert!(
        row.explained_note(Engine::Sqlite)
            .unwrap()
            .contains("history records 2 of 2 statements of its stored down script completed"),
        "{row:?}"
    );

    // The advice, followed once the other connection is done.
    engine::resolve(
        &mut db,
        &ctx(),
        2,
        Resolution::RolledBack,
        "proven, only unrecorded",
    )
    .unwrap();
    assert!(engine::audit_verify(&mut db).unwrap().ok);
    let rows = db.load_history().unwrap();
    assert_eq!(rows[1].status.as_str(), "rolled_back", "{rows:?}");
    assert_eq!(db.db.schema(None).unwrap().fingerprint(), before);
}

#[test]
fn a_rollback_step_whose_first_statement_and_undirtying_fail_says_it_is_still_applied() {
    // Regression: when the first statement of a rollback step outside a transaction timed
    // out and taking back the dirty mark failed too (another connection held the file),
    // the step said its down script "may have run in part", though nothing of it ran.
    let (_tmp, path, url, before) = applied("transaction = false\nretries = 0\n");
    let mut db = Held::new(&url, path, When::Before("DROP INDEX IF EXISTS u_id"));
    let after = db.db.schema(None).unwrap().fingerprint();
    let f = engine::rollback(&mut db, &ctx(), &steps(1)).unwrap_err();
    let text = f.error.to_string();
    let EngineError::NeedsPerson { needs, failure, .. } = &f.error else {
        panic!("{text}");
    };
    assert_eq!(needs.history, HistoryState::Dirty, "{text}");
    assert_eq!(failure.as_ref().unwrap().statement_index, 1, "{text}");
    let progress = needs.statements.as_ref().unwrap();
    assert!(progress.completed.is_empty(), "{text}");
    assert_eq!(progress.failed.as_ref().unwrap().index, 1, "{text}");
    assert!(
        text.contains("nothing of the down script of migration 2 ran (its first statement failed) and the schema is as before this rollback step, so the migration is still applied in the database; but history marks it dirty: the mark written before the first statement could not be taken back: database is locked [SQLITE_BUSY]"),
        "{text}"
    );
    assert!(
        text.contains(
            "`backstop resolve 2 --applied --reason \"…\"` records the migration as applied again"
        ),
        "{text}"
    );
    assert!(!text.contains("may have run in part"), "{text}");
    assert_eq!(db.db.schema(None).unwrap().fingerprint(), after);
    db.let_go();
    dirty_row(&mut db);

    // The advice, followed: applied again, and the rollback goes through.
    engine::resolve(&mut db, &ctx(), 2, Resolution::Applied, "nothing of it ran").unwrap();
    let mut plain = common::open(&url);
    engine::rollback(&mut plain, &ctx(), &steps(1)).unwrap();
    assert_eq!(plain.schema(None).unwrap().fingerprint(), before);
    assert!(engine::audit_verify(&mut plain).unwrap().ok);
}

#[test]
fn a_failure_left_dirty_whose_record_cannot_be_written_is_still_reported() {
    // Regression: when a migration outside a transaction stopped part-way with nothing to
    // undo it, and another connection kept its dirty row from the database, the report
    // named only "database is locked" (not the statement that failed, nor who held the
    // file) and advised running the command again, which refuses a dirty migration.
    let (tmp, path, url) = common::temp_db();
    let migrations = tmp.path().join("migrations");
    for (id, up, toml) in [
        (
            "1_t",
            "CREATE TABLE t (id INTEGER);",
            "irreversible = true\nreason = \"test\"\n",
        ),
        (
            "2_half",
            "CREATE TABLE u (id INTEGER);\nINSERT INTO missing VALUES (1);",
            "transaction = false\nirreversible = true\nreason = \"test\"\n",
        ),
    ] {
        let d = migrations.join(id);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("up.sql"), up).unwrap();
        std::fs::write(d.join("migration.toml"), toml).unwrap();
    }
    let ms = backstop_core::migration::load_dir(&migrations).unwrap();
    let opts = |to| ApplyOptions {
        to: Some(to),
        sum_path: tmp.path().join("backstop.sum"),
        ..Default::default()
    };
    let mut plain = common::open(&url);
    engine::apply(&mut plain, &ms, &ctx(), &opts(1)).unwrap();
    let before = plain.schema(None).unwrap().fingerprint();
    let mut db = Held::new(&url, path, When::Before("INSERT INTO missing"));
    let f = engine::apply(&mut db, &ms, &ctx(), &opts(2)).unwrap_err();
    let text = f.error.to_string();
    let EngineError::NeedsPerson { needs, failure, .. } = &f.error else {
        panic!("{text}");
    };
    assert_eq!(needs.situation, Situation::StoppedPartWay, "{text}");
    assert_eq!(failure.as_ref().unwrap().statement_index, 2, "{text}");
    assert!(
        text.contains("migration 2 (half) up statement 2 failed: no such table: missing"),
        "{text}"
    );
    assert!(
        text.contains("1. line 1: CREATE TABLE u (id INTEGER)"),
        "{text}"
    );
    assert!(
        text.contains("this failure could not be recorded in the ledger (database is locked; waited --lock-wait (300ms) for the database: another connection is writing it"),
        "{text}"
    );
    assert!(!text.contains("run the command again"), "{text}");
    db.let_go();
    let row = dirty_row(&mut db);
    assert_eq!(row.progress, 1, "{row:?}");

    // The way out it gave works.
    plain.execute("DROP TABLE u").unwrap();
    engine::resolve(
        &mut plain,
        &ctx(),
        2,
        Resolution::RolledBack,
        "undone by hand",
    )
    .unwrap();
    assert_eq!(plain.schema(None).unwrap().fingerprint(), before);
    assert!(engine::audit_verify(&mut plain).unwrap().ok);
}
