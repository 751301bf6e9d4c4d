//! Batched commits: the transactions of a run commit without waiting for the disk, and the
//! run ends with a durable write that takes all of them with it.

mod common;

use backstop_core::driver::{Driver, Timeouts};
use backstop_core::history::StoredState;
use backstop_postgres::testing::TestDb;

fn state_xmin(db: &TestDb) -> String {
    let mut c = db.client();
    c.query_one("SELECT xmin::text FROM backstop.state WHERE id = 1", &[])
        .expect("state row")
        .get(0)
}

/// The state row every write here leaves: the first write creates it (`first`), the ones
/// after it find it as it was left (a write is compare-and-set on the head it expects).
fn state_write(first: bool) -> StoredState {
    StoredState {
        ledger_seq: 0,
        ledger_hash: "genesis".into(),
        fingerprint: "sha256:x".into(),
        schema_json: None,
        catalog_stamp: None,
        stored_head: (!first).then(|| (0, "genesis".to_string())),
    }
}

fn state() -> StoredState {
    state_write(false)
}

#[test]
fn batched_transactions_skip_the_disk_wait_and_flush_makes_them_durable() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    d.ensure_history().unwrap();
    d.save_state(&state_write(true)).unwrap();

    // Any commit counts as unconfirmed (the session's own synchronous_commit may be off):
    // the first flush writes, a second one has nothing left to do.
    let before = state_xmin(&db);
    d.flush().unwrap();
    let after = state_xmin(&db);
    assert_ne!(after, before, "flush did not write after a commit");
    d.flush().unwrap();
    assert_eq!(state_xmin(&db), after, "flush wrote with nothing to flush");

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

    // An ordinary commit after a batched one does not count as the flush: with the
    // session's synchronous_commit off (a migration's own SET), it isn't durable either.
    d.execute("SET synchronous_commit = off").unwrap();
    d.begin_batched(Timeouts::default()).unwrap();
    d.save_state(&state()).unwrap();
    d.commit().unwrap();
    d.begin(Timeouts::default()).unwrap();
    d.save_state(&state()).unwrap();
    d.commit().unwrap();
    let before = state_xmin(&db);
    d.flush().unwrap();
    assert_ne!(
        state_xmin(&db),
        before,
        "flush trusted a commit of the session"
    );
    // The flush itself waited: it raised the setting for its own transaction only.
    assert_eq!(
        d.execute("SELECT current_setting('synchronous_commit') = 'off'")
            .unwrap(),
        vec![true]
    );
    d.execute("RESET synchronous_commit").unwrap();

    // A driver dropped with batched commits outstanding flushes on the way out.
    d.begin_batched(Timeouts::default()).unwrap();
    d.save_state(&state()).unwrap();
    d.commit().unwrap();
    let before = state_xmin(&db);
    drop(d);
    assert_ne!(state_xmin(&db), before, "drop did not flush");
}

/// The catalog counters read at BEGIN are a session-level prepared statement; a migration
/// that deallocates it, or a session that already has one of that name, must not break
/// the next transaction or the schema proof.
#[test]
fn begin_survives_deallocate_and_a_clashing_prepared_statement() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    d.execute("PREPARE backstop_catalog_counters AS SELECT 'not', 'ours'")
        .unwrap();
    let s0 = d.schema(None).unwrap();
    d.begin(Timeouts::default()).unwrap();
    d.execute("CREATE TABLE a (id int)").unwrap();
    let s1 = d.schema(Some(&s0)).unwrap();
    assert!(d.last_schema_read().incremental);
    d.commit().unwrap();
    assert!(s1.objects.contains_key("table public.a"));

    d.execute("DEALLOCATE ALL").unwrap();
    let s1 = d.schema(None).unwrap();
    d.begin_batched(Timeouts::default()).unwrap();
    d.execute("CREATE TYPE mood AS ENUM ('ok')").unwrap();
    let s2 = d.schema(Some(&s1)).unwrap();
    // The counters came back, so the type was found without a full read.
    assert!(d.last_schema_read().incremental);
    assert!(s2.objects.contains_key("type public.mood"), "{}", s2.text());
    d.commit().unwrap();
    assert_eq!(s2, d.schema(None).unwrap());
}

/// Without a state row there is nothing to rewrite, so durability can't be confirmed: an
/// error, never a silent success.
#[test]
fn flush_without_a_state_row_is_an_error() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    d.ensure_history().unwrap();
    d.begin_batched(Timeouts::default()).unwrap();
    d.execute("CREATE TABLE t (id int)").unwrap();
    d.commit().unwrap();
    let e = d.flush().expect_err("no state row");
    assert!(e.message.contains("reach"), "{e:?}");
}

/// A DEALLOCATE hidden in a DO block drops backstop's prepared statements as surely as one
/// on its own: the bookkeeping that follows in the same transaction must still work.
#[test]
fn deallocate_inside_a_do_block_does_not_break_the_bookkeeping() {
    let db = TestDb::new();
    let mut d = common::connect(&db);
    d.ensure_history().unwrap();
    d.save_state(&state_write(true)).unwrap();
    let s0 = d.schema(None).unwrap();
    d.begin_batched(Timeouts::default()).unwrap();
    d.execute("CREATE TABLE a (id int)").unwrap();
    d.execute("DO $$ BEGIN EXECUTE 'DEALLOCATE ALL'; END $$")
        .unwrap();
    let s1 = d.schema(Some(&s0)).unwrap();
    d.save_state(&state()).unwrap();
    d.commit().unwrap();
    assert!(s1.objects.contains_key("table public.a"));
    d.flush().unwrap();
}
