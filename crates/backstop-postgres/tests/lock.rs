//! The migration lock: non-blocking, reports its holder, dies with the session.

mod common;

use backstop_core::driver::{Driver, LockAttempt};
use backstop_postgres::testing::TestDb;

#[test]
fn second_session_sees_holder_and_lock_dies_with_first() {
    let db = TestDb::new();
    let mut first = common::connect_as(&db, "backstop-first");
    let mut second = common::connect_as(&db, "backstop-second");
    let first_pid = first.backend_pid().unwrap();

    assert_eq!(first.try_lock().unwrap(), LockAttempt::Acquired);
    // Asking again while holding it must not stack a second lock.
    assert_eq!(first.try_lock().unwrap(), LockAttempt::Acquired);

    let started = std::time::Instant::now();
    match second.try_lock().unwrap() {
        LockAttempt::Held(Some(holder)) => {
            assert_eq!(holder.pid, Some(i64::from(first_pid)));
            assert_eq!(holder.application_name.as_deref(), Some("backstop-first"));
            assert!(
                holder.since.as_deref().is_some_and(|s| s.ends_with('Z')),
                "{holder:?}"
            );
            assert!(holder.to_string().contains("backstop-first"), "{holder}");
        }
        other => panic!("expected Held(Some(..)), got {other:?}"),
    }
    assert!(started.elapsed().as_secs() < 2, "try_lock must not wait");

    // Unlock once releases it (no stacking).
    first.unlock().unwrap();
    assert_eq!(second.try_lock().unwrap(), LockAttempt::Acquired);
    second.unlock().unwrap();

    // A session that dies releases the lock.
    assert_eq!(first.try_lock().unwrap(), LockAttempt::Acquired);
    assert!(matches!(second.try_lock().unwrap(), LockAttempt::Held(_)));
    drop(first);
    let mut acquired = false;
    for _ in 0..50 {
        if second.try_lock().unwrap() == LockAttempt::Acquired {
            acquired = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        acquired,
        "the lock must be free once its holder disconnected"
    );
}

/// DISCARD ALL (allowed in a migration that runs outside a transaction) releases every
/// session advisory lock; the driver takes the migration lock back at once.
#[test]
fn discard_all_in_a_migration_does_not_give_the_lock_away() {
    let db = TestDb::new();
    let mut a = common::connect(&db);
    let mut b = common::connect(&db);
    assert_eq!(a.try_lock().unwrap(), LockAttempt::Acquired);
    a.set_session_timeouts(backstop_core::driver::Timeouts {
        lock: Some(std::time::Duration::from_secs(2)),
        statement: None,
    })
    .unwrap();
    a.execute("DISCARD ALL").unwrap();
    // The migration's timeouts survive it too.
    assert_eq!(
        a.execute("SELECT current_setting('lock_timeout') = '2s'")
            .unwrap(),
        vec![true]
    );
    assert!(
        matches!(b.try_lock().unwrap(), LockAttempt::Held(_)),
        "the lock was free after DISCARD ALL"
    );
    a.unlock().unwrap();
    assert_eq!(b.try_lock().unwrap(), LockAttempt::Acquired);
}

/// Who holds the lock, found without taking it: `status` asks while a run may be about to
/// take it.
#[test]
fn the_holder_is_found_without_taking_the_lock() {
    let db = TestDb::new();
    let mut run = common::connect_as(&db, "backstop apply (ann)");
    let mut looker = common::connect_as(&db, "backstop status (bob)");
    assert_eq!(looker.lock_holder().unwrap(), None, "nobody holds it");
    assert_eq!(run.try_lock().unwrap(), LockAttempt::Acquired);
    let run_pid = run.backend_pid().unwrap();
    let holder = looker.lock_holder().unwrap().expect("the run holds it");
    assert_eq!(holder.pid, Some(i64::from(run_pid)));
    assert_eq!(
        holder.application_name.as_deref(),
        Some("backstop apply (ann)")
    );
    // The holder itself is no other session.
    assert_eq!(run.lock_holder().unwrap(), None);
    run.unlock().unwrap();
    assert_eq!(looker.lock_holder().unwrap(), None);
    // Looking took nothing: another session takes it at once.
    assert_eq!(run.try_lock().unwrap(), LockAttempt::Acquired);
}
