//! Batched commits: the transactions of a run commit without waiting for the disk, and the
//! run ends with a durable write that takes all of them with it.

mod common;

use backstop_core::driver::{Driver, Timeouts};
use backstop_core::history::StoredState;
use backstop_postgres::testing::TestDb;

fn state_xmin(db: &TestDb) -> String {
    let mut c = db.client();
    c.query_one("SELECT xmin::text FROM backstop.state WHERE id = 1", &[])
        .unwrap()
        .get(0)
}

fn state() -> StoredState {
    StoredState {
        ledger_seq: 0,
        ledger_hash: "genesis".into(),
        fingerprint: "sha256:x".into(),
        schema_json: None,
    }
}

#[test]
fn batched_transactions_skip_the_disk_wait_and_flush_makes_them_durable() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    d.ensure_history().unwrap();
    d.save_state(&state()).unwrap();

    // Nothing batched yet: flush has nothing to do and writes nothing.
    let before = state_xmin(&db);
    d.flush().unwrap();
    assert_eq!(state_xmin(&db), before, "flush wrote with nothing to flush");

    // Only the batched transaction runs with synchronous_commit off, and only locally.
    d.begin(Timeouts::default()).unwrap();
    assert_eq!(
        d.execute("SELECT current_setting('synchronous_commit') = 'off'")
            .unwrap(),
        vec![false]
    );
    d.commit().unwrap();
    d.begin_batched(Timeouts::default()).unwrap();
    assert_eq!(
        d.execute("SELECT current_setting('synchronous_commit') = 'off'")
            .unwrap(),
        vec![true]
    );
    d.execute("CREATE TABLE t (id int)").unwrap();
    d.save_state(&state()).unwrap();
    d.commit().unwrap();
    assert_eq!(
        d.execute("SELECT current_setting('synchronous_commit') = 'off'")
            .unwrap(),
        vec![false],
        "the setting must not outlive the transaction"
    );

    // flush makes a durable write (the state row, rewritten unchanged) ...
    let before = state_xmin(&db);
    d.flush().unwrap();
    let after = state_xmin(&db);
    assert_ne!(after, before, "flush did not write");
    // ... once: afterwards there is nothing left to flush.
    d.flush().unwrap();
    assert_eq!(state_xmin(&db), after);

    // A durable bookkeeping commit after a batched one counts as the flush.
    d.begin_batched(Timeouts::default()).unwrap();
    d.save_state(&state()).unwrap();
    d.commit().unwrap();
    d.begin(Timeouts::default()).unwrap();
    d.save_state(&state()).unwrap();
    d.commit().unwrap();
    let before = state_xmin(&db);
    d.flush().unwrap();
    assert_eq!(
        state_xmin(&db),
        before,
        "already durable, flush wrote again"
    );

    // A driver dropped with batched commits outstanding flushes on the way out.
    d.begin_batched(Timeouts::default()).unwrap();
    d.save_state(&state()).unwrap();
    d.commit().unwrap();
    let before = state_xmin(&db);
    drop(d);
    assert_ne!(state_xmin(&db), before, "drop did not flush");
}
