//! A rollback step outside a transaction whose own writes another connection keeps from the
//! database at a chosen moment: the engine called directly, through a driver that takes
//! the file's write lock on a second connection right then.
#![allow(clippy::unwrap_used)]

mod common;

use backstop_core::driver::{
    DbError, Driver, Engine, FirstColumn, LockAttempt, LockHolder, Timeouts,
};
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
    /// Just before this statement runs, exclusively: the file can't even be read.
    ExclusiveBefore(&'static str),
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
            let begin = if matches!(self.when, When::ExclusiveBefore(_)) {
                "BEGIN EXCLUSIVE"
            } else {
                "BEGIN IMMEDIATE"
            };
            c.execute_batch(&format!("{begin}; INSERT INTO t VALUES (1);"))
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
    fn lock_holder(&mut self) -> Result<Option<LockHolder>, DbError> {
        self.db.lock_holder()
    }
    fn begin_read(&mut self) -> Result<(), DbError> {
        self.db.begin_read()
    }
    fn end_read(&mut self) -> Result<(), DbError> {
        self.db.end_read()
    }
    fn snapshot_covers_schema(&self) -> bool {
        self.db.snapshot_covers_schema()
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
        if matches!(self.when, When::Before(s) | When::ExclusiveBefore(s) if sql.contains(s)) {
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

/// One migration's directory: id, up, down, verify, migration.toml.
type MigrationFiles<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>, &'a str);

/// Migrations written to `tmp`'s `migrations` directory, loaded.
fn migrations(
    tmp: &tempfile::TempDir,
    list: &[MigrationFiles],
) -> Vec<backstop_core::migration::Migration> {
    let dir = tmp.path().join("migrations");
    for (id, up, down, verify, toml) in list {
        let d = dir.join(id);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("up.sql"), up).unwrap();
        if let Some(down) = down {
            std::fs::write(d.join("down.sql"), down).unwrap();
        }
        if let Some(verify) = verify {
            std::fs::write(d.join("verify.sql"), verify).unwrap();
        }
        std::fs::write(d.join("migration.toml"), toml).unwrap();
    }
    backstop_core::migration::load_dir(&dir).unwrap()
}

#[test]
fn an_atomic_undo_stopped_part_way_by_a_lock_says_what_ran_and_to_resolve_first() {
    // Regression: when --atomic's undo of a migration outside a transaction ran some of its
    // down statements and then could not record its progress (another connection held the
    // file), the report kept none of the step's own: not which down statements ran, and it
    // called the dirty migration still applied and advised `rollback --release`, which
    // refuses while it is dirty.
    let (tmp, path, url) = common::temp_db();
    let ms = migrations(
        &tmp,
        &[
            (
                "1_t",
                "CREATE TABLE t (id INTEGER);",
                Some("DROP TABLE t;"),
                None,
                "",
            ),
            (
                "2_nt",
                "CREATE TABLE a (x INTEGER);\nCREATE TABLE b (x INTEGER);",
                Some("DROP TABLE b;\nSELECT 'slow';\nDROP TABLE a;"),
                None,
                "transaction = false\n",
            ),
            (
                "3_bad",
                "CREATE TABLE c (x INTEGER);\nINSERT INTO nosuch VALUES (1);",
                Some("DROP TABLE c;"),
                None,
                "",
            ),
        ],
    );
    let before = common::open(&url).schema(None).unwrap().fingerprint();
    let opts = ApplyOptions {
        atomic: true,
        sum_path: tmp.path().join("backstop.sum"),
        ..Default::default()
    };
    let mut db = Held::new(&url, path, When::Before("SELECT 'slow'"));
    let f = engine::apply(&mut db, &ms, &ctx(), &opts).unwrap_err();
    let release = f.release_id.clone().unwrap();
    let text = f.error.to_string();
    let EngineError::NeedsPerson { needs, .. } = &f.error else {
        panic!("{text}");
    };
    assert_eq!(needs.situation, Situation::AtomicUndoFailed, "{text}");
    assert_eq!(needs.history, HistoryState::Dirty, "{text}");
    assert_eq!(needs.still_applied, vec![1], "{text}");
    let progress = needs.statements.as_ref().unwrap();
    assert_eq!(progress.completed.len(), 2, "{text}");
    assert_eq!(progress.not_run.len(), 1, "{text}");
    assert!(
        text.contains("down statement 2 completed outside a transaction, but recording its progress in history failed"),
        "{text}"
    );
    // The step's own lists, in the text too.
    assert!(text.contains("1. line 1: DROP TABLE b"), "{text}");
    assert!(text.contains("2. line 2: SELECT 'slow'"), "{text}");
    assert!(text.contains("3. line 3: DROP TABLE a"), "{text}");
    assert!(
        text.contains("--atomic: undone so far: []; migration 2 is dirty (as above); still applied from this run: [1]"),
        "{text}"
    );
    assert!(
        !text.contains("still applied from this run: [1, 2]"),
        "{text}"
    );
    let next = &needs.next;
    let resolve_at = next.find("backstop resolve 2 --").expect(next);
    let rollback_at = next
        .find(&format!("backstop rollback --release {release}"))
        .expect(next);
    assert!(resolve_at < rollback_at, "{next}");
    let cmds: Vec<&str> = needs.commands.iter().map(|c| c.command.as_str()).collect();
    assert!(cmds[0].starts_with("backstop resolve 2 --"), "{cmds:?}");
    assert_eq!(
        cmds.last().copied(),
        Some(format!("backstop rollback --release {release}").as_str()),
        "{cmds:?}"
    );
    db.let_go();
    dirty_row(&mut db);

    // The advice, followed: the rest of the down script by hand, resolve, then the release.
    let mut plain = common::open(&url);
    plain.execute("DROP TABLE a").unwrap();
    engine::resolve(
        &mut plain,
        &ctx(),
        2,
        Resolution::RolledBack,
        "finished the undo by hand",
    )
    .unwrap();
    engine::rollback(
        &mut plain,
        &ctx(),
        &RollbackOptions {
            target: engine::RollbackTarget::Release(release),
            dry_run: false,
            force_reason: None,
            allow_drift: None,
        },
    )
    .unwrap();
    assert_eq!(plain.schema(None).unwrap().fingerprint(), before);
    assert!(engine::audit_verify(&mut plain).unwrap().ok);
}

#[test]
fn a_lock_during_the_verify_script_outside_a_transaction_is_reported_as_the_failure() {
    // Regression: when another connection locked the file during the verify script of a
    // migration outside a transaction, the clean-up that followed met the same lock and
    // its error replaced the verify's: no file, statement or holder, no failure, "finish
    // the remaining statements" though none remained; and a later `resolve --applied`
    // called the migration's own tables changed by hand.
    let (tmp, path, url) = common::temp_db();
    let ms = migrations(
        &tmp,
        &[
            (
                "1_t",
                "CREATE TABLE t (id INTEGER);",
                Some("DROP TABLE t;"),
                None,
                "",
            ),
            (
                "2_nt",
                "CREATE TABLE a (x INTEGER);\nCREATE TABLE b (x INTEGER);",
                Some("DROP TABLE b;\nDROP TABLE a;"),
                Some("SELECT 'slow';\nSELECT count(*) = 0 FROM a;"),
                "transaction = false\nretries = 0\n",
            ),
        ],
    );
    let opts = |to| ApplyOptions {
        to: Some(to),
        sum_path: tmp.path().join("backstop.sum"),
        ..Default::default()
    };
    let mut plain = common::open(&url);
    engine::apply(&mut plain, &ms, &ctx(), &opts(1)).unwrap();
    let mut db = Held::new(&url, path, When::ExclusiveBefore("count(*) = 0 FROM a"));
    let f = engine::apply(&mut db, &ms, &ctx(), &opts(2)).unwrap_err();
    let text = f.error.to_string();
    let EngineError::NeedsPerson { needs, failure, .. } = &f.error else {
        panic!("{text}");
    };
    assert_eq!(needs.situation, Situation::StoppedPartWay, "{text}");
    assert_eq!(needs.history, HistoryState::Dirty, "{text}");
    let failure = failure.as_ref().expect(&text);
    assert_eq!(
        failure.part,
        backstop_core::migration::Part::Verify,
        "{text}"
    );
    assert_eq!(failure.statement_index, 2, "{text}");
    assert!(
        text.contains(
            "verify.sql:2:1: migration 2 (nt) verify statement 2 failed: database is locked"
        ),
        "{text}"
    );
    assert!(
        text.contains("detail: another connection is writing it"),
        "{text}"
    );
    assert!(
        text.contains("1. line 1: CREATE TABLE a (x INTEGER)"),
        "{text}"
    );
    assert!(
        text.contains("2. line 2: CREATE TABLE b (x INTEGER)"),
        "{text}"
    );
    assert!(
        text.contains("this failure could not be recorded in the ledger"),
        "{text}"
    );
    assert!(
        text.contains("every statement of the up script ran"),
        "{text}"
    );
    assert!(!text.contains("remaining statements"), "{text}");
    assert!(!text.contains("run the command again"), "{text}");
    db.let_go();
    let row = dirty_row(&mut db);
    assert_eq!(row.progress, 2, "{row:?}");

    // The advice, followed: the verify script by hand, then resolve.
    assert_eq!(
        plain.execute("SELECT count(*) = 0 FROM a").unwrap(),
        vec![true]
    );
    let r = engine::resolve(
        &mut plain,
        &ctx(),
        2,
        Resolution::Applied,
        "verified by hand",
    )
    .unwrap();
    assert!(r.not_from_run.is_empty(), "{r:?}");
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("can't be told apart from changes by hand")),
        "{r:?}"
    );
    assert!(engine::audit_verify(&mut plain).unwrap().ok);
    assert_eq!(plain.load_history().unwrap()[1].status.as_str(), "applied");
}
