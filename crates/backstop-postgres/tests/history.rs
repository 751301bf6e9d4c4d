//! History, ledger and state tables: creation (also under concurrency) and byte-identical
//! round trips.

mod common;

use backstop_core::driver::Driver;
use backstop_core::history::{HistoryRow, Status, StoredState};
use backstop_core::ledger::{seal, NewEvent, GENESIS};
use backstop_core::migration::RunOptions;
use backstop_postgres::testing::TestDb;
use serde_json::json;

fn row(version: i64, status: Status) -> HistoryRow {
    HistoryRow {
        version,
        name: format!("m{version} ünïcode '\" \\ \n"),
        checksum: "sha256:abc".into(),
        up_sql: "CREATE TABLE t (id int);\n-- comment 'quoted'\n".into(),
        down_sql: Some("DROP TABLE t;".into()),
        verify_sql: None,
        irreversible: if version % 2 == 0 {
            Some("drops data".into())
        } else {
            None
        },
        options: RunOptions {
            transaction: version % 2 == 1,
            lock_timeout_ms: Some(2000),
            statement_timeout_ms: None,
            retries: 5,
        },
        release_id: "rel-1".into(),
        actor: "ann".into(),
        started_at: "2026-11-24T01:30:00.123456Z".into(),
        finished_at: if status == Status::Applied {
            Some("2026-11-24T01:30:01.000001Z".into())
        } else {
            None
        },
        duration_ms: Some(877),
        fingerprint_before: "sha256:before".into(),
        fingerprint_after: Some("sha256:after".into()),
        schema_delta: "{\"table public.t\":null}".into(),
        status,
        progress: 3,
        note: Some("note".into()),
    }
}

#[test]
fn empty_database_has_no_history_and_loads_empty() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    assert!(!d.history_exists().unwrap());
    assert!(d.load_history().unwrap().is_empty());
    assert!(d.load_events().unwrap().is_empty());
    assert_eq!(d.load_state().unwrap(), None);
    assert!(
        !d.history_exists().unwrap(),
        "loading must not create anything"
    );
}

#[test]
fn history_events_and_state_round_trip_byte_identical() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    d.ensure_history().unwrap();
    d.ensure_history().unwrap(); // idempotent
    assert!(d.history_exists().unwrap());

    let rows = vec![
        row(20261123120000, Status::Applied),
        row(20261123120001, Status::Dirty),
    ];
    for r in &rows {
        d.save_history(r).unwrap();
    }
    assert_eq!(d.load_history().unwrap(), rows);
    // Upsert: a re-apply overwrites the row.
    let mut again = rows[1].clone();
    again.status = Status::RolledBack;
    again.finished_at = None;
    again.down_sql = None;
    again.note = None;
    d.save_history(&again).unwrap();
    assert_eq!(d.load_history().unwrap(), vec![rows[0].clone(), again]);

    let mut events = Vec::new();
    let (mut seq, mut hash) = (0, GENESIS.to_string());
    for i in 0..3 {
        let e = seal(
            NewEvent::new("apply")
                .version(i)
                .release("r1")
                .reason(Some("why"))
                .detail(json!({"b": [1, 2], "a": "x\ny"})),
            "ann",
            seq,
            &hash,
            format!("2026-11-24T01:30:0{i}.000100Z"),
        );
        d.append_event(&e).unwrap();
        seq = e.seq;
        hash = e.hash.clone();
        events.push(e);
    }
    let loaded = d.load_events().unwrap();
    assert_eq!(loaded, events);
    assert!(backstop_core::ledger::verify_chain(&loaded, Some((seq, &hash))).is_ok());

    let state = StoredState {
        ledger_seq: seq,
        ledger_hash: hash,
        fingerprint: "sha256:f".into(),
        schema_json: Some("{\"objects\":{}}".into()),
        catalog_stamp: None,
        // No row yet: the first write creates it.
        stored_head: None,
    };
    d.save_state(&state).unwrap();
    // `schema_json: None` moves the head but keeps the stored schema text.
    let second = StoredState {
        fingerprint: "sha256:e".into(),
        schema_json: None,
        stored_head: Some((state.ledger_seq, state.ledger_hash.clone())),
        ..state.clone()
    };
    d.save_state(&second).unwrap();
    let second = StoredState {
        schema_json: state.schema_json.clone(),
        ..second
    };
    assert_eq!(d.load_state().unwrap(), Some(second));

    // A new connection sees the same bytes (nothing cached).
    let mut other = common::connect(&db);
    assert_eq!(other.load_events().unwrap(), events);
}

#[test]
fn history_writes_are_transactional() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    d.ensure_history().unwrap();
    common::begin(&mut d);
    d.save_history(&row(1, Status::Applied)).unwrap();
    d.rollback().unwrap();
    assert!(d.load_history().unwrap().is_empty());
}

#[test]
fn ensure_history_is_safe_when_ten_processes_race() {
    let db = TestDb::new();
    let url = db.url.clone();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(10));
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let url = url.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut d = backstop_postgres::connect(&url, "race").expect("connect");
                barrier.wait();
                d.ensure_history()
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread").expect("ensure_history");
    }
    let mut d = common::connect(&db);
    assert!(d.history_exists().unwrap());
}

/// Adding the column a later layout has must not hang behind a session that has the
/// state table open: it gives up after a moment and backstop carries on without it.
#[test]
fn upgrading_the_state_table_gives_up_rather_than_wait() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    d.ensure_history().unwrap();
    let mut admin = db.client();
    admin
        .batch_execute("ALTER TABLE backstop.state DROP COLUMN catalog_stamp")
        .unwrap();
    let mut reader = db.client();
    let mut tx = reader.transaction().unwrap();
    tx.batch_execute("SELECT count(*) FROM backstop.state")
        .unwrap();
    let mut d2 = common::connect(&db);
    let t = std::time::Instant::now();
    d2.ensure_history().unwrap();
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        t.elapsed()
    );
    // Still usable: the state is written without the column.
    d2.save_state(&StoredState {
        ledger_seq: 0,
        ledger_hash: "genesis".into(),
        fingerprint: "sha256:x".into(),
        schema_json: None,
        catalog_stamp: Some("xmin-md5:ignored".into()),
        stored_head: None,
    })
    .unwrap();
    tx.commit().unwrap();
    // Once nobody holds it open, the next run adds it.
    let mut d3 = common::connect(&db);
    d3.ensure_history().unwrap();
    assert!(admin
        .query_one(
            "SELECT count(*) = 1 FROM pg_attribute WHERE attrelid = 'backstop.state'::regclass AND attname = 'catalog_stamp'",
            &[]
        )
        .unwrap()
        .get::<_, bool>(0));
}

/// A read transaction sees one moment: a run committing its row, event and state row
/// meanwhile shows in none of them until the transaction ends, so status and audit can't
/// read the event without its head or the head without its event.
#[test]
fn a_read_transaction_sees_one_moment() {
    let db = TestDb::new();
    let mut writer = common::connect(&db);
    writer.ensure_history().unwrap();
    let mut reader = common::connect(&db);
    reader.begin_read().unwrap();
    assert_eq!(reader.ledger_end().unwrap(), None);
    assert!(reader.load_history().unwrap().is_empty());
    // A migration's bookkeeping, committed by another session in one transaction.
    let e = seal(
        NewEvent::new("apply").version(1),
        "ann",
        0,
        GENESIS,
        "2026-11-24T01:30:00.000100Z".into(),
    );
    let state = StoredState {
        ledger_seq: e.seq,
        ledger_hash: e.hash.clone(),
        fingerprint: "sha256:f".into(),
        schema_json: None,
        catalog_stamp: None,
        stored_head: None,
    };
    writer.begin(Default::default()).unwrap();
    writer
        .record(Some(&row(1, Status::Applied)), &e, &state)
        .unwrap();
    writer.commit().unwrap();
    assert_eq!(reader.ledger_end().unwrap(), None);
    assert!(reader.load_history().unwrap().is_empty());
    assert_eq!(reader.recorded_head().unwrap(), None);
    // Nothing can be written in it.
    assert!(reader.append_event(&e).is_err());
    reader.end_read().unwrap();
    assert_eq!(reader.ledger_end().unwrap(), Some((e.seq, e.hash.clone())));
    assert_eq!(reader.recorded_head().unwrap(), Some((e.seq, e.hash)));
    assert_eq!(reader.load_history().unwrap().len(), 1);
    // Once ended, the session is an ordinary one again.
    reader.begin(Default::default()).unwrap();
    reader.rollback().unwrap();
}
