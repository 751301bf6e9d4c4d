//! backstop's own tables: created idempotently (also under concurrency) and round-tripped
//! byte for byte.
#![allow(clippy::unwrap_used)]

mod common;

use backstop_core::driver::Driver;
use backstop_core::history::{HistoryRow, Status, StoredState};
use backstop_core::ledger::{seal, NewEvent, GENESIS};
use backstop_core::migration::RunOptions;
use serde_json::json;

fn row(version: i64, status: Status) -> HistoryRow {
    HistoryRow {
        version,
        name: "create_users".into(),
        checksum: "sha256:abc".into(),
        up_sql: "CREATE TABLE users (id INTEGER PRIMARY KEY);\n-- ünïcode, 'quotes', \"dq\"\r\n"
            .into(),
        down_sql: Some("DROP TABLE users;".into()),
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
        release_id: "r-1".into(),
        actor: "ann".into(),
        started_at: "2026-11-24T01:30:00.123456Z".into(),
        finished_at: Some("2026-11-24T01:30:01.000001Z".into()),
        duration_ms: Some(877),
        fingerprint_before: "sha256:00".into(),
        fingerprint_after: None,
        schema_delta: "{\"table users\":null}".into(),
        status,
        progress: 3,
        note: Some("  leading and trailing spaces kept  ".into()),
    }
}

#[test]
fn load_before_ensure_is_empty_and_creates_nothing() {
    let (_dir, _path, url) = common::temp_db();
    let mut d = common::open(&url);
    assert!(!d.history_exists().unwrap());
    assert!(d.load_history().unwrap().is_empty());
    assert!(d.load_events().unwrap().is_empty());
    assert_eq!(d.load_state().unwrap(), None);
    assert!(!d.history_exists().unwrap());
    d.ensure_history().unwrap();
    d.ensure_history().unwrap();
    assert!(d.history_exists().unwrap());
    // backstop's tables are not part of the user schema.
    assert!(d.schema(None).unwrap().objects.is_empty());
}

#[test]
fn history_events_and_state_round_trip_exactly() {
    let (_dir, _path, url) = common::temp_db();
    let mut d = common::open(&url);
    d.ensure_history().unwrap();

    let rows = [
        row(20261123120000, Status::Applied),
        row(20261124120000, Status::Dirty),
    ];
    for r in rows.iter().rev() {
        d.save_history(r).unwrap();
    }
    // Re-saving replaces the row (a re-apply overwrites a rolled-back one).
    let mut replaced = rows[1].clone();
    replaced.status = Status::RolledBack;
    replaced.note = None;
    d.save_history(&replaced).unwrap();

    let mut events = Vec::new();
    let mut prev = (0, GENESIS.to_string());
    for (i, kind) in ["apply", "rollback", "override"].iter().enumerate() {
        let e = seal(
            NewEvent::new(kind)
                .version(i as i64)
                .release("r-1")
                .reason(Some("ticket ID-1 ✓"))
                .detail(json!({"b": 1, "a": [1.5, "x"]})),
            "ann",
            prev.0,
            &prev.1,
            format!("2026-11-24T01:30:0{i}.000001Z"),
        );
        prev = (e.seq, e.hash.clone());
        d.append_event(&e).unwrap();
        events.push(e);
    }
    // Append-only: the same seq twice is an error, not a replace.
    assert!(d.append_event(&events[0]).is_err());

    let state = StoredState {
        ledger_seq: prev.0,
        ledger_hash: prev.1.clone(),
        fingerprint: "sha256:ff".into(),
        schema_json: Some("{\"objects\":{}}".into()),
        catalog_stamp: None,
        // No row yet: the first write creates it.
        stored_head: None,
    };
    d.save_state(&state).unwrap();
    // `schema_json: None` moves the head but keeps the stored schema text.
    let state2 = StoredState {
        ledger_seq: prev.0,
        fingerprint: "sha256:ee".into(),
        schema_json: None,
        stored_head: Some(prev.clone()),
        ..state.clone()
    };
    d.save_state(&state2).unwrap();
    let state2 = StoredState {
        schema_json: state.schema_json.clone(),
        ..state2
    };
    // Compare-and-set: a write expecting another head than the row holds (an older one,
    // or none) writes nothing and says the head moved.
    for stale in [None, Some((1, events[0].hash.clone()))] {
        let e = d
            .save_state(&StoredState {
                ledger_seq: 1,
                ledger_hash: events[0].hash.clone(),
                stored_head: stale,
                ..state.clone()
            })
            .unwrap_err();
        assert_eq!(
            e.kind,
            backstop_core::driver::DbErrorKind::HeadMoved,
            "{e:?}"
        );
        assert!(e.message.contains("the ledger is intact"), "{e:?}");
    }

    // A second connection sees exactly what was written.
    let mut d2 = common::open(&url);
    assert_eq!(d2.load_history().unwrap(), vec![rows[0].clone(), replaced]);
    assert_eq!(d2.load_events().unwrap(), events);
    assert_eq!(d2.load_state().unwrap(), Some(state2));
    let stored = d2.load_events().unwrap();
    assert!(backstop_core::ledger::verify_chain(&stored, Some((prev.0, &prev.1))).is_ok());
}

#[test]
fn history_writes_roll_back_with_the_transaction() {
    let (_dir, _path, url) = common::temp_db();
    let mut d = common::open(&url);
    d.ensure_history().unwrap();
    d.begin(Default::default()).unwrap();
    d.execute("CREATE TABLE t (a INT)").unwrap();
    d.save_history(&row(1, Status::Applied)).unwrap();
    d.rollback().unwrap();
    assert!(d.load_history().unwrap().is_empty());
    assert!(d.schema(None).unwrap().objects.is_empty());
}

#[test]
fn ensure_history_is_safe_with_ten_concurrent_connections() {
    let (_dir, _path, url) = common::temp_db();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(10));
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let url = url.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut d = backstop_sqlite::connect(&url)?;
                barrier.wait();
                d.ensure_history()?;
                d.load_history().map(|h| h.len())
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap(), 0);
    }
}

/// A file database with history and `n` sealed events, the state row at their head.
fn ledger_of(n: i64) -> (tempfile::TempDir, String, Vec<backstop_core::ledger::Event>) {
    let (dir, _path, url) = common::temp_db();
    let mut d = common::open(&url);
    d.ensure_history().unwrap();
    let mut events = Vec::new();
    let mut prev = GENESIS.to_string();
    for seq in 0..n {
        let e = seal(
            NewEvent::new("apply")
                .version(seq + 1)
                .detail(json!({"n": seq})),
            "ann",
            seq,
            &prev,
            "2026-11-24T01:30:00.000000Z".into(),
        );
        prev = e.hash.clone();
        d.append_event(&e).unwrap();
        events.push(e);
    }
    d.save_state(&StoredState {
        ledger_seq: n,
        ledger_hash: prev,
        fingerprint: "sha256:11".into(),
        schema_json: None,
        catalog_stamp: None,
        stored_head: None,
    })
    .unwrap();
    (dir, url, events)
}

#[test]
fn a_deleted_state_row_is_read_as_the_ledger_head_with_no_recorded_fingerprint() {
    // Regression: read as "no state", the next event was appended as seq 1 (UNIQUE
    // constraint failed) and drift detection was off.
    let (_dir, url, events) = ledger_of(3);
    let mut d = common::open(&url);
    d.execute("DELETE FROM backstop_state").unwrap();
    let st = d.load_state().unwrap().unwrap();
    assert_eq!(st.ledger_seq, 3);
    assert_eq!(st.ledger_hash, events[2].hash);
    assert!(!st.fingerprint.is_empty() && !st.fingerprint.starts_with("sha256:"));

    // Before the first event there is no state, as before.
    let mut fresh = common::memory();
    fresh.ensure_history().unwrap();
    assert!(fresh.load_state().unwrap().is_none());
}

#[test]
fn events_with_values_of_the_wrong_type_are_read_as_edited() {
    // Regression: a blob in an event's text column made `audit verify` fail to read the
    // ledger ("Invalid column type Blob") instead of naming the edited event.
    let (_dir, url, _events) = ledger_of(3);
    let mut d = common::open(&url);
    d.execute("UPDATE backstop_events SET actor = X'41' WHERE seq = 2")
        .unwrap();
    d.execute("UPDATE backstop_events SET version = 'x' WHERE seq = 3")
        .unwrap();
    let events = d.load_events().unwrap();
    assert_eq!(events[1].actor, "<BLOB X'41'>");
    let broken =
        backstop_core::ledger::verify_chain(&events, Some((3, &events[2].hash))).unwrap_err();
    assert_eq!(broken.seq, 2, "{broken:?}");
    assert!(
        backstop_core::ledger::verify_chain(&events[2..], None).is_err(),
        "the retyped version changes the hash too"
    );
}

#[test]
fn own_records_are_written_whatever_a_script_left_set() {
    // Regression: after a script's `PRAGMA query_only = ON` (or a `max_page_count` capped at
    // the database's size) backstop could not record its own progress, and the migration
    // that set it stayed dirty.
    let (_dir, _path, url) = common::temp_db();
    let mut d = common::open(&url);
    d.ensure_history().unwrap();
    d.execute("PRAGMA max_page_count = 1").unwrap();
    d.execute("PRAGMA query_only = ON").unwrap();
    // Large enough to need new pages.
    let mut big = row(1, Status::Dirty);
    big.up_sql = "-- padding\n".repeat(20_000);
    d.save_history(&big).unwrap();
    d.begin(backstop_core::driver::Timeouts::default()).unwrap();
    big.status = Status::Applied;
    d.save_history(&big).unwrap();
    d.save_state(&StoredState {
        ledger_seq: 0,
        ledger_hash: GENESIS.into(),
        fingerprint: "sha256:00".into(),
        schema_json: Some("x".repeat(100_000)),
        catalog_stamp: None,
        stored_head: None,
    })
    .unwrap();
    d.commit().unwrap();
    assert_eq!(d.load_history().unwrap(), vec![big]);

    // Lifted for backstop's writes only: the script's own statements still see its settings.
    let e = d.execute("CREATE TABLE t (x)").unwrap_err();
    assert!(e.message.contains("readonly"), "{e:?}");
    d.execute("PRAGMA query_only = OFF").unwrap();
    let e = d
        .execute("CREATE TABLE t AS SELECT randomblob(1000000) AS x")
        .unwrap_err();
    assert!(e.message.contains("full"), "{e:?}");
    // And the next step starts without either.
    d.reset_session().unwrap();
    d.execute("PRAGMA query_only = ON").unwrap();
    d.reset_session().unwrap();
    d.execute("CREATE TABLE t AS SELECT randomblob(1000000) AS x")
        .unwrap();
}
