//! A transaction's BEGIN travels with its first statement, and the bookkeeping with its
//! COMMIT: the statement still runs only inside the transaction, with its timeouts; errors
//! keep their positions; results are the statement's own; and a failed record or a failed
//! commit is reported as such, with nothing of the transaction left behind.

mod common;

use backstop_core::driver::{DbErrorKind, Driver, RecordCommitError, Timeouts};
use backstop_core::history::{HistoryRow, Status, StoredState};
use backstop_core::ledger::{seal, NewEvent, GENESIS};
use backstop_core::migration::RunOptions;
use backstop_postgres::testing::TestDb;
use serde_json::json;
use std::time::{Duration, Instant};

fn count(d: &mut backstop_postgres::PgDriver, sql: &str) -> usize {
    d.execute(sql).expect(sql).len()
}

/// How many relations called `name` this session sees.
fn tables_named(d: &mut backstop_postgres::PgDriver, name: &str) -> usize {
    count(
        d,
        &format!("SELECT 1 FROM pg_class WHERE relname = '{name}'"),
    )
}

/// The state row whose ledger head is `e` (and some fingerprint).
/// The state after event `e`, written by the record of `e`: it expects the head before `e`
/// in the state row (none before the first event).
fn head_at(e: &backstop_core::ledger::Event) -> StoredState {
    StoredState {
        ledger_seq: e.seq,
        ledger_hash: e.hash.clone(),
        fingerprint: "sha256:f".into(),
        schema_json: None,
        catalog_stamp: None,
        stored_head: (e.seq > 1).then(|| (e.seq - 1, e.prev_hash.clone())),
    }
}

#[test]
fn first_statement_of_a_transaction_returns_its_own_rows() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    for batched in [false, true] {
        let t = Timeouts {
            lock: Some(Duration::from_secs(2)),
            statement: Some(Duration::from_secs(5)),
        };
        if batched {
            d.begin_batched(t).unwrap();
        } else {
            d.begin(t).unwrap();
        }
        // The counters row read at BEGIN is truthy: it must not show up here.
        assert_eq!(d.execute("SELECT false").unwrap(), vec![false]);
        assert_eq!(
            d.execute("SELECT x > 1 FROM generate_series(1, 3) x")
                .unwrap(),
            vec![false, true, true]
        );
        d.rollback().unwrap();
    }
    d.begin(Timeouts::default()).unwrap();
    assert_eq!(
        d.execute("SELECT 1 WHERE false").unwrap(),
        Vec::<bool>::new()
    );
    d.commit().unwrap();
}

#[test]
fn first_statement_runs_inside_the_transaction_with_its_timeouts() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    d.begin(Timeouts::default()).unwrap();
    d.execute("CREATE TABLE t (a int)").unwrap();
    d.rollback().unwrap();
    assert_eq!(
        tables_named(&mut d, "t"),
        0,
        "the statement sent with BEGIN was rolled back with it"
    );

    // statement_timeout set at BEGIN governs the first statement.
    d.begin_batched(Timeouts {
        lock: None,
        statement: Some(Duration::from_millis(100)),
    })
    .unwrap();
    let started = Instant::now();
    let e = d.execute("SELECT pg_sleep(3)").unwrap_err();
    assert_eq!(e.kind, DbErrorKind::StatementTimeout, "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    d.rollback().unwrap();

    // lock_timeout too.
    let mut holder = common::connect(&db);
    common::exec(&mut holder, "CREATE TABLE u (a int)");
    holder.begin(Timeouts::default()).unwrap();
    holder.execute("LOCK TABLE u").unwrap();
    d.begin(Timeouts {
        lock: Some(Duration::from_millis(100)),
        statement: None,
    })
    .unwrap();
    let e = d.execute("ALTER TABLE u ADD b int").unwrap_err();
    assert_eq!(e.kind, DbErrorKind::LockTimeout, "{e:?}");
    d.rollback().unwrap();
    holder.rollback().unwrap();
    // ... and both were local to their transaction.
    assert_eq!(
        d.execute("SELECT 1 FROM pg_sleep(0.2)").unwrap(),
        vec![true]
    );
}

#[test]
fn errors_in_the_first_statement_keep_their_positions() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    // A syntax error: nothing of the string runs, not even BEGIN.
    d.begin_batched(Timeouts::default()).unwrap();
    let e = d.execute("SELECT 1 FROM WHERE").unwrap_err();
    assert_eq!(e.code.as_deref(), Some("42601"), "{e:?}");
    assert_eq!(e.position, Some(15), "{e:?}");
    d.rollback().unwrap();
    // An error while running: BEGIN ran, the transaction is rolled back.
    d.begin(Timeouts::default()).unwrap();
    let e = d.execute("SELECT * FROM missing_table").unwrap_err();
    assert_eq!(e.code.as_deref(), Some("42P01"));
    assert_eq!(e.position, Some(15));
    d.rollback().unwrap();
    // The session is usable and out of any transaction afterwards.
    d.execute("CREATE TABLE kept (a int)").unwrap();
    let mut other = common::connect(&db);
    assert_eq!(tables_named(&mut other, "kept"), 1);
}

#[test]
fn a_transaction_without_statements_still_reads_and_commits() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    d.begin_batched(Timeouts::default()).unwrap();
    d.commit().unwrap();
    d.begin(Timeouts::default()).unwrap();
    let s = d.schema(None).unwrap();
    common::assert_same(
        &common::fresh_full_read(&db),
        &s,
        "read first in a transaction",
    );
    d.rollback().unwrap();
}

fn row(version: i64) -> HistoryRow {
    HistoryRow {
        version,
        // Everything a literal must carry through unchanged.
        name: format!("m{version} 'q' \"d\" \\ \\' $$ $x$ E'\\n' ünïcode\n\t"),
        checksum: "sha256:abc".into(),
        up_sql: "CREATE TABLE t (id int);\n-- it's 'quoted' \\ and $$dollar$$\n".into(),
        down_sql: Some("DROP TABLE t; -- \\'".into()),
        verify_sql: None,
        irreversible: None,
        options: RunOptions {
            transaction: true,
            lock_timeout_ms: Some(2000),
            statement_timeout_ms: None,
            retries: 5,
        },
        release_id: "rel-1".into(),
        actor: "o'brien\\".into(),
        started_at: "2026-11-24T01:30:00.123456Z".into(),
        finished_at: Some("2026-11-24T01:30:01.000001Z".into()),
        duration_ms: Some(877),
        fingerprint_before: "sha256:before".into(),
        fingerprint_after: Some("sha256:after".into()),
        schema_delta: "{\"table public.t\":\"x\\\\y\"}".into(),
        status: Status::Applied,
        progress: 1,
        note: None,
    }
}

fn sealed(seq: i64, hash: &str) -> backstop_core::ledger::Event {
    seal(
        NewEvent::new("apply")
            .version(1)
            .release("r'1")
            .reason(Some("why \\ 'not'"))
            .detail(json!({"a": "x\ny'\\"})),
        "ann",
        seq,
        hash,
        "2026-11-24T01:30:00.000100Z".into(),
    )
}

#[test]
fn record_and_commit_writes_every_value_exactly() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    d.ensure_history().unwrap();
    let r = row(1);
    let e = sealed(0, GENESIS);
    let state = StoredState {
        ledger_seq: e.seq,
        ledger_hash: e.hash.clone(),
        fingerprint: "sha256:f'".into(),
        schema_json: None,
        catalog_stamp: Some("x'\\".into()),
        stored_head: None,
    };
    d.begin_batched(Timeouts::default()).unwrap();
    d.execute("CREATE TABLE t (id int)").unwrap();
    d.record_and_commit(Some(&r), &e, &state).unwrap();
    // Committed: another session sees the change and the bookkeeping.
    let mut other = common::connect(&db);
    assert_eq!(other.load_history().unwrap(), vec![r.clone()]);
    assert_eq!(other.load_events().unwrap(), vec![e.clone()]);
    let loaded = other.load_state().unwrap().expect("state row");
    assert_eq!(loaded.ledger_hash, state.ledger_hash);
    assert_eq!(loaded.fingerprint, state.fingerprint);
    assert_eq!(loaded.catalog_stamp, state.catalog_stamp);
    assert_eq!(tables_named(&mut other, "t"), 1);

    // Without a history row (an event alone), in a second transaction.
    let e2 = sealed(e.seq, &e.hash);
    let s2 = StoredState {
        ledger_seq: e2.seq,
        ledger_hash: e2.hash.clone(),
        stored_head: Some((e.seq, e.hash.clone())),
        ..state.clone()
    };
    d.begin(Timeouts::default()).unwrap();
    d.record_and_commit(None, &e2, &s2).unwrap();
    assert_eq!(other.load_events().unwrap(), vec![e, e2]);
    // The session is out of the transaction.
    d.execute("CREATE TABLE after_commit (a int)").unwrap();
    assert_eq!(tables_named(&mut other, "after_commit"), 1);
}

#[test]
fn a_failed_record_is_told_from_a_failed_commit() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    d.ensure_history().unwrap();
    common::exec(
        &mut d,
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no events today'; END $$;\n\
         CREATE TRIGGER refuse BEFORE INSERT ON backstop.events FOR EACH ROW EXECUTE FUNCTION refuse()",
    );
    let e = sealed(0, GENESIS);
    let state = head_at(&e);
    // The record fails: the COMMIT sent with it rolls the transaction back.
    d.begin_batched(Timeouts::default()).unwrap();
    d.execute("CREATE TABLE t1 (id int)").unwrap();
    match d.record_and_commit(Some(&row(1)), &e, &state) {
        Err(RecordCommitError::Record(err)) => {
            assert!(err.message.contains("no events today"), "{err:?}")
        }
        other => panic!("expected a record failure, got {other:?}"),
    }
    d.rollback().unwrap();
    let mut other = common::connect(&db);
    assert_eq!(tables_named(&mut other, "t1"), 0);
    assert!(other.load_history().unwrap().is_empty());
    common::exec(&mut d, "DROP TRIGGER refuse ON backstop.events");

    // The record is written but COMMIT fails (a deferred constraint): the transaction is
    // over and nothing of it remains.
    common::exec(
        &mut d,
        "CREATE TABLE p (id int PRIMARY KEY);\n\
         CREATE TABLE c (pid int REFERENCES p DEFERRABLE INITIALLY DEFERRED)",
    );
    d.begin(Timeouts::default()).unwrap();
    d.execute("INSERT INTO c VALUES (1)").unwrap();
    match d.record_and_commit(Some(&row(2)), &e, &state) {
        Err(RecordCommitError::Commit(err)) => {
            assert_eq!(err.code.as_deref(), Some("23503"), "{err:?}")
        }
        other => panic!("expected a commit failure, got {other:?}"),
    }
    d.rollback().unwrap();
    assert!(other.load_history().unwrap().is_empty());
    assert!(other.load_events().unwrap().is_empty());
    assert_eq!(count(&mut other, "SELECT 1 FROM c"), 0);
}

#[test]
fn a_lost_counters_statement_is_prepared_again_before_the_first_statement() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    d.begin(Timeouts::default()).unwrap();
    d.execute("SELECT 1").unwrap();
    d.commit().unwrap();
    // DEALLOCATE hidden where the driver can't see it.
    common::exec(
        &mut d,
        "CREATE FUNCTION forget() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'DEAL' || 'LOCATE ALL'; END $$",
    );
    d.execute("SELECT forget()").unwrap();
    d.begin_batched(Timeouts::default()).unwrap();
    assert_eq!(d.execute("SELECT false").unwrap(), vec![false]);
    d.execute("CREATE TABLE t (a int)").unwrap();
    d.commit().unwrap();
    let mut other = common::connect(&db);
    assert_eq!(tables_named(&mut other, "t"), 1);
}

#[test]
fn a_record_that_fails_before_it_is_sent_does_not_commit() {
    // A value the client can't encode fails before anything leaves: the COMMIT that would
    // have gone with it must not be sent on its own.
    let db = TestDb::new();
    let mut d = common::connect(&db);
    d.ensure_history().unwrap();
    common::exec(
        &mut d,
        "ALTER TABLE backstop.events ALTER COLUMN version TYPE integer",
    );
    let e = sealed(0, GENESIS);
    let state = head_at(&e);
    let mut fresh = common::connect(&db);
    fresh.begin_batched(Timeouts::default()).unwrap();
    fresh.execute("CREATE TABLE migrated (id int)").unwrap();
    match fresh.record_and_commit(Some(&row(1)), &e, &state) {
        Err(RecordCommitError::Record(err)) => {
            assert!(err.message.contains("serializing"), "{err:?}")
        }
        other => panic!("expected a record failure, got {other:?}"),
    }
    fresh.rollback().unwrap();
    // Again, with the record prepared now: it goes out behind the SET LOCAL that bounds
    // its wait, and still without the COMMIT.
    fresh.begin_batched(Timeouts::default()).unwrap();
    fresh
        .execute("CREATE TABLE migrated_again (id int)")
        .unwrap();
    match fresh.record_and_commit(Some(&row(1)), &e, &state) {
        Err(RecordCommitError::Record(err)) => {
            assert!(err.message.contains("serializing"), "{err:?}")
        }
        other => panic!("expected a record failure, got {other:?}"),
    }
    fresh.rollback().unwrap();
    let mut other = common::connect(&db);
    for t in ["migrated", "migrated_again"] {
        assert_eq!(
            tables_named(&mut other, t),
            0,
            "nothing of the transaction may be committed"
        );
    }
    assert!(other.load_history().unwrap().is_empty());
}

#[test]
fn a_record_that_finds_another_head_writes_nothing_and_commits_nothing() {
    // Another run moved the head: the record's compare-and-set fails the whole statement,
    // and the COMMIT sent with it rolls the migration back instead of committing it
    // unrecorded.
    let db = TestDb::new();
    let mut d = common::connect(&db);
    d.ensure_history().unwrap();
    let e1 = sealed(0, GENESIS);
    d.begin(Timeouts::default()).unwrap();
    d.record_and_commit(None, &e1, &head_at(&e1)).unwrap();
    let e2 = sealed(e1.seq, &e1.hash);
    let mut other = common::connect(&db);
    other.begin(Timeouts::default()).unwrap();
    other.record_and_commit(None, &e2, &head_at(&e2)).unwrap();
    // A run that read the head at event 1, after the other one moved it to event 2: its
    // event 2 and its state.
    let mut stale = head_at(&e2);
    stale.fingerprint = "sha256:stale".into();
    for row_too in [true, false] {
        d.begin_batched(Timeouts::default()).unwrap();
        d.execute("CREATE TABLE migrated (id int)").unwrap();
        let row_too = row_too.then(|| row(7));
        match d.record_and_commit(row_too.as_ref(), &e2, &stale) {
            Err(RecordCommitError::Record(err)) => {
                assert_eq!(err.kind, DbErrorKind::HeadMoved, "{err:?}");
                assert!(err.message.contains("event 1"), "{err:?}");
                assert!(err.message.contains("the ledger is intact"), "{err:?}");
            }
            other => panic!("expected the record to be refused, got {other:?}"),
        }
        d.rollback().unwrap();
        assert_eq!(tables_named(&mut other, "migrated"), 0);
        assert!(other.load_history().unwrap().is_empty());
        assert_eq!(other.load_events().unwrap(), vec![e1.clone(), e2.clone()]);
        let kept = other.load_state().unwrap().expect("state row");
        assert_eq!(
            (kept.ledger_seq, kept.fingerprint.as_str()),
            (2, "sha256:f")
        );
    }
    // And a save of the state alone (the end of a run) that expects the older head.
    let mut end = head_at(&e1);
    end.stored_head = Some((e1.seq, e1.hash.clone()));
    let err = d.save_state(&end).unwrap_err();
    assert_eq!(err.kind, DbErrorKind::HeadMoved, "{err:?}");
    assert_eq!(other.load_state().unwrap().expect("row").ledger_seq, 2);
}

#[test]
fn a_missing_statement_of_a_similar_name_is_the_migrations_own_error() {
    // Only our own counters statement is prepared again, and only once: a migration's
    // EXECUTE of a statement that doesn't exist is its error, not a reason to loop.
    let db = TestDb::new();
    let mut d = common::connect(&db);
    d.begin(Timeouts::default()).unwrap();
    let e = d
        .execute("EXECUTE backstop_catalog_counters_v2")
        .unwrap_err();
    assert_eq!(e.code.as_deref(), Some("26000"), "{e:?}");
    d.rollback().unwrap();
    assert_eq!(d.execute("SELECT true").unwrap(), vec![true]);
}

#[test]
fn only_our_own_failing_statement_is_sent_again() {
    // A migration statement that names backstop's counters statement and fails with the
    // same SQLSTATE after doing work must not be run a second time.
    let db = TestDb::new();
    let mut d = common::connect(&db);
    common::exec(&mut d, "CREATE SEQUENCE s");
    d.begin(Timeouts::default()).unwrap();
    let e = d
        .execute(
            "SELECT nextval('s'); DEALLOCATE backstop_catalog_counters; EXECUTE backstop_catalog_counters",
        )
        .unwrap_err();
    assert_eq!(e.code.as_deref(), Some("26000"), "{e:?}");
    d.rollback().unwrap();
    // Sequences are not transactional: a second run would show here.
    assert_eq!(
        d.execute("SELECT last_value = 1 FROM s").unwrap(),
        vec![true],
        "the statement ran twice"
    );
    // The driver still works (its counters are prepared again on the next BEGIN).
    d.begin(Timeouts::default()).unwrap();
    assert_eq!(d.execute("SELECT false").unwrap(), vec![false]);
    d.commit().unwrap();
}

#[test]
fn dropping_a_connection_inside_another_runtime_or_while_unwinding_does_not_abort() {
    let db = TestDb::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let d = common::connect(&db);
    rt.block_on(async move { drop(d) });
    let d = common::connect(&db);
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async move {
            let _held = d;
            panic!("a panic while a connection is held");
        })
    }));
    assert!(unwound.is_err(), "the panic unwinds and is caught");
}

/// Migrations as the engine runs them when it announces the read: every statement but
/// the last, then the last one with the schema read sent along.
fn migrate(
    d: &mut backstop_postgres::PgDriver,
    statements: &[&str],
    prev: &backstop_core::schema::SchemaState,
) -> Result<backstop_core::schema::SchemaState, backstop_core::driver::DbError> {
    d.begin_batched(Timeouts::default())?;
    let (last, rest) = statements.split_last().expect("a statement");
    for s in rest {
        d.execute(s)?;
    }
    d.schema_read_follows(prev);
    d.execute(last)?;
    d.schema(Some(prev))
}

/// The read sent with a migration's last statement equals a full read, whether BEGIN
/// went with that statement (a single-statement migration: the baselines come from the
/// transaction-local setting) or before it; after data statements (the write check) and
/// after a data statement whose function changed the schema.
#[test]
fn a_read_sent_with_the_last_statement_equals_a_full_read() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    common::exec(
        &mut d,
        "CREATE TABLE t (id int PRIMARY KEY, a int);\n\
         CREATE FUNCTION add_col() RETURNS int LANGUAGE plpgsql AS $$ BEGIN ALTER TABLE t ADD COLUMN w int; RETURN 1; END $$",
    );
    let mut prev = d.schema(None).unwrap();
    let steps: &[&[&str]] = &[
        &["ALTER TABLE t ADD COLUMN b text"],
        &["CREATE TYPE mood AS ENUM ('a', 'b')"],
        &["CREATE DOMAIN posint AS int CHECK (VALUE > 0)"],
        &[
            "CREATE TABLE u (m mood, p posint)",
            "CREATE INDEX u_m ON u (m)",
        ],
        &["INSERT INTO t (id) VALUES (1)", "UPDATE t SET a = 2"],
        &["INSERT INTO t (id) VALUES (2)", "SELECT add_col()"],
        &[
            "ALTER TABLE t DROP COLUMN b",
            "INSERT INTO t (id) VALUES (3)",
        ],
        &["DROP TABLE u"],
    ];
    for step in steps {
        let state = migrate(&mut d, step, &prev).unwrap();
        let stats = d.last_schema_read();
        d.commit().unwrap();
        common::assert_same(
            &common::fresh_full_read(&db),
            &state,
            &format!("after {step:?} ({stats:?})"),
        );
        assert!(stats.incremental, "{step:?}: {stats:?}");
        // Nothing beyond what came back with the statement: the incremental statement
        // (BEGIN went along too), and the write check after data statements.
        if step[0] == "ALTER TABLE t ADD COLUMN b text"
            || step[1..].iter().any(|s| s.starts_with("UPDATE"))
        {
            assert_eq!(stats.round_trips, 0, "{step:?}: {stats:?}");
        }
        prev = state;
    }
}

/// A failing last statement: the read sent with it fails too and is dropped; the
/// statement's error is reported as it was, and the next read is a plain one.
#[test]
fn a_failing_last_statement_drops_the_read_sent_with_it() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    common::exec(&mut d, "CREATE TABLE t (id int PRIMARY KEY)");
    let prev = d.schema(None).unwrap();
    d.begin_batched(Timeouts::default()).unwrap();
    d.schema_read_follows(&prev);
    let e = d
        .execute("ALTER TABLE t ADD COLUMN x nosuchtype")
        .unwrap_err();
    assert_eq!(e.code.as_deref(), Some("42704"), "{e:?}");
    d.rollback().unwrap();
    assert_eq!(tables_named(&mut d, "t"), 1);
    let state = migrate(&mut d, &["ALTER TABLE t ADD COLUMN y int"], &prev).unwrap();
    d.commit().unwrap();
    common::assert_same(&common::fresh_full_read(&db), &state, "after the retry");
}

/// A migration that drops prepared statements gets no read sent along (ours may be
/// gone); the read after it is a plain one and still right.
#[test]
fn no_read_goes_with_a_statement_that_drops_prepared_statements() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    common::exec(&mut d, "CREATE TABLE t (id int PRIMARY KEY)");
    let prev = d.schema(None).unwrap();
    let state = migrate(
        &mut d,
        &["ALTER TABLE t ADD COLUMN y int", "DEALLOCATE ALL"],
        &prev,
    )
    .unwrap();
    d.commit().unwrap();
    common::assert_same(
        &common::fresh_full_read(&db),
        &state,
        "after DEALLOCATE ALL",
    );
    let state = migrate(&mut d, &["ALTER TABLE t ADD COLUMN z int"], &state).unwrap();
    d.commit().unwrap();
    common::assert_same(
        &common::fresh_full_read(&db),
        &state,
        "the migration after it",
    );
}

/// A single-statement migration sends BEGIN, its counters, the statement and the read in
/// one round trip: the read takes its baselines from what the counters left in the
/// transaction, and with them it may reuse lines (seen once no older transaction of
/// another session held the snapshot back; other tests run on the same server).
#[test]
fn a_read_sent_with_begin_takes_its_baselines_from_the_transaction() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    common::exec(&mut d, "CREATE TABLE t (id int PRIMARY KEY, a int, b text)");
    let mut prev = d.schema(None).unwrap();
    let mut seen = Vec::new();
    for i in 0..20 {
        common::settle(&db);
        let step = format!("ALTER TABLE t ALTER COLUMN id SET STATISTICS {}", 100 + i);
        let state = migrate(&mut d, &[step.as_str()], &prev).unwrap();
        let stats = d.last_schema_read();
        d.commit().unwrap();
        common::assert_same(&common::fresh_full_read(&db), &state, &step);
        assert_eq!(stats.round_trips, 0, "{stats:?}");
        seen.push(stats.reused_lines);
        prev = state;
        // Columns a and b, the primary key constraint and its index.
        if stats.reused_lines == 4 {
            return;
        }
    }
    panic!("no read reused the unchanged lines: {seen:?}");
}

/// A last statement naming track_counts: no read goes along, and the read after it is a
/// full one that succeeds (it used to fail for want of a previous read to continue from).
#[test]
fn a_last_statement_naming_track_counts_is_read_in_full() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    common::exec(&mut d, "CREATE TABLE t (id int PRIMARY KEY)");
    let mut prev = d.schema(None).unwrap();
    for step in [
        &["CREATE TABLE track_counts_log (id int)"][..],
        &[
            "ALTER TABLE t ADD COLUMN a int",
            "SELECT current_setting('track_counts') = 'on'",
        ],
    ] {
        let state = migrate(&mut d, step, &prev).unwrap();
        let stats = d.last_schema_read();
        d.commit().unwrap();
        assert!(!stats.incremental, "{step:?}: {stats:?}");
        common::assert_same(&common::fresh_full_read(&db), &state, &format!("{step:?}"));
        prev = state;
    }
}

/// With statistics off for the session the write counters stand still, so nothing can
/// be ruled out: a rename no root traces (a collation) is still seen, by a full read.
#[test]
fn with_statistics_off_every_read_is_full_and_right() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    common::exec(
        &mut d,
        "CREATE COLLATION c1 FROM \"C\";\n\
         CREATE TABLE z (id int PRIMARY KEY, s text COLLATE c1);\n\
         CREATE LANGUAGE mypl HANDLER plpgsql_call_handler;\n\
         CREATE FUNCTION f() RETURNS int LANGUAGE mypl AS $$ BEGIN RETURN 1; END $$;\n\
         SET track_counts = off",
    );
    let prev = d.schema(None).unwrap();
    let state = migrate(&mut d, &["ALTER COLLATION c1 RENAME TO c2"], &prev).unwrap();
    d.commit().unwrap();
    common::assert_same(&common::fresh_full_read(&db), &state, "statistics off");
    common::exec(&mut d, "SET track_counts = on");
    // And with statistics on, a language rename (printed by its functions) is seen too.
    let prev = d.schema(None).unwrap();
    let state = migrate(&mut d, &["ALTER LANGUAGE mypl RENAME TO mypl2"], &prev).unwrap();
    d.commit().unwrap();
    common::assert_same(&common::fresh_full_read(&db), &state, "language renamed");
}

/// A migration whose function deallocates every prepared statement under a name built at
/// run time fails at the read (ours are gone), and the connection prepares them again:
/// the next migration and its read work.
#[test]
fn prepared_statements_dropped_unseen_are_prepared_again() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    common::exec(
        &mut d,
        "CREATE TABLE t (id int PRIMARY KEY);\n\
         CREATE FUNCTION forget() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'DEAL' || 'LOCATE ALL'; END $$",
    );
    let prev = d.schema(None).unwrap();
    let r = migrate(
        &mut d,
        &["ALTER TABLE t ADD COLUMN a int", "SELECT forget()"],
        &prev,
    );
    let e = r.expect_err("our statements are gone");
    assert_eq!(e.code.as_deref(), Some("26000"), "{e:?}");
    d.rollback().unwrap();
    let prev = d.schema(None).unwrap();
    let state = migrate(&mut d, &["ALTER TABLE t ADD COLUMN b int"], &prev).unwrap();
    d.commit().unwrap();
    common::assert_same(
        &common::fresh_full_read(&db),
        &state,
        "after the lost statements",
    );
}

/// Temporary tables named like the types backstop's own statements cast to change
/// nothing. A temporary table's row type is found before pg_catalog's types, and a
/// statement prepared (or analysed again) while such a table exists would take `::text`
/// for it: every type is named with its schema.
#[test]
fn temporary_tables_named_like_built_in_types_change_nothing() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    d.ensure_history().unwrap();
    let shadows = [
        "text",
        "int8",
        "int4",
        "oid",
        "bool",
        "xid",
        "name",
        "json",
        "jsonb",
        "timestamptz",
        "numeric",
        "regclass",
    ];
    let mut first: Vec<String> = shadows
        .iter()
        .map(|t| format!("CREATE TEMP TABLE {t} (x int)"))
        .collect();
    first.push("CREATE TABLE a (id int PRIMARY KEY)".into());
    // DEALLOCATE ALL makes every statement of ours be prepared again while they exist.
    let steps: Vec<Vec<String>> = vec![
        first,
        // The session's own statements would find the temporary ones.
        vec!["ALTER TABLE a ADD COLUMN b pg_catalog.text".into()],
        vec!["DEALLOCATE ALL".into(), "CREATE INDEX a_b ON a (b)".into()],
        vec!["INSERT INTO a VALUES (1, 'x')".into()],
        vec!["DROP TABLE a".into()],
    ];
    let mut prev = d.schema(None).unwrap();
    let mut e = sealed(0, GENESIS);
    for (i, step) in steps.iter().enumerate() {
        let statements: Vec<&str> = step.iter().map(String::as_str).collect();
        let state = match migrate(&mut d, &statements, &prev) {
            Ok(s) => s,
            Err(err) => panic!("{step:?}: {err:?}"),
        };
        let version = i64::try_from(i).expect("few steps") + 1;
        d.record_and_commit(Some(&row(version)), &e, &head_at(&e))
            .unwrap_or_else(|err| panic!("{step:?}: {err:?}"));
        common::assert_same(&common::fresh_full_read(&db), &state, &format!("{step:?}"));
        // A full read in the session that holds the temporary tables too.
        common::assert_same(&state, &d.schema(None).unwrap(), &format!("{step:?}"));
        prev = state;
        e = sealed(e.seq, &e.hash);
    }
    assert_eq!(d.load_history().unwrap().len(), steps.len());
    assert_eq!(tables_named(&mut d, "text"), 1, "the session's own");
}

/// When preparing the schema read fails inside the migration's transaction, the server
/// aborts that transaction: the error says so, instead of the statement failing with
/// "current transaction is aborted", and the statement does not run.
#[test]
fn a_read_that_cannot_be_prepared_is_reported_as_such() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    let prev = d.schema(None).unwrap();
    // A catalog the read names, locked by another session (catalog locks are per
    // database: this one only).
    let mut other = db.client();
    other
        .batch_execute("BEGIN; LOCK TABLE pg_catalog.pg_policy IN ACCESS EXCLUSIVE MODE")
        .expect("lock");
    let t = Timeouts {
        lock: Some(Duration::from_millis(100)),
        statement: None,
    };
    d.begin_batched(t).unwrap();
    // Our statements are prepared again from here on.
    d.execute("DEALLOCATE ALL").unwrap();
    d.schema_read_follows(&prev);
    let err = d
        .execute("CREATE TABLE x (id int)")
        .expect_err("the read waits for the lock");
    assert!(
        err.message
            .starts_with("backstop could not prepare its schema read"),
        "{err:?}"
    );
    assert_eq!(err.code.as_deref(), Some("55P03"), "{err:?}");
    assert_eq!(err.kind, DbErrorKind::LockTimeout, "{err:?}");
    assert_eq!(err.position, None);
    d.rollback().unwrap();
    other.batch_execute("ROLLBACK").expect("unlock");
    assert_eq!(tables_named(&mut d, "x"), 0);
    // The next migration prepares the read and goes through.
    let state = migrate(&mut d, &["CREATE TABLE y (id int)"], &prev).unwrap();
    d.commit().unwrap();
    common::assert_same(&common::fresh_full_read(&db), &state, "after the lock");
}

#[test]
fn catalog_reads_are_never_jit_compiled() {
    // The catalog reads' cost estimates cross the JIT thresholds, and compiling them costs
    // several times what running them does: the session runs with JIT off, also after a
    // migration reset the session.
    let db = TestDb::new();
    let mut d = common::connect(&db);
    assert_eq!(
        d.execute("SELECT current_setting('jit') = 'off'").unwrap(),
        vec![true]
    );
    d.execute("SET jit = on").unwrap();
    d.reset_session().unwrap();
    assert_eq!(
        d.execute("SELECT current_setting('jit') = 'off'").unwrap(),
        vec![true]
    );
}
