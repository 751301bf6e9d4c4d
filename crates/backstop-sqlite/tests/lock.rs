//! The migration lock: exclusive between connections, reports its holder, and cannot
//! outlive a killed process.
#![allow(clippy::unwrap_used)]

mod common;

use backstop_core::driver::{Driver, LockAttempt};
use std::io::Read;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

const CHILD_URL: &str = "BACKSTOP_SQLITE_CHILD_URL";

/// Not a test on its own: the body of a child process spawned by the tests below (this
/// test binary re-run with `--ignored --exact`). It takes the lock, says so, and waits to
/// be killed, or with a `history` URL runs ensure_history and exits.
#[test]
#[ignore = "child process helper; spawned by the other tests"]
fn child_process_helper() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    let mut d = common::open(&url);
    if std::env::var("BACKSTOP_SQLITE_CHILD_MODE").as_deref() == Ok("history") {
        d.ensure_history().unwrap();
        d.load_history().unwrap();
        // Leading newline: libtest has printed "test child_process_helper ... " without one.
        println!("\nDONE");
        return;
    }
    d.set_application_name("backstop child");
    assert_eq!(d.try_lock().unwrap(), LockAttempt::Acquired);
    println!("\nLOCKED");
    std::thread::sleep(std::time::Duration::from_secs(60));
}

fn spawn_child(url: &str, mode: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_process_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_URL, url)
        .env("BACKSTOP_SQLITE_CHILD_MODE", mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Wait for the child to print `word` on a line of its own. Returns the rest of its
/// output, to be kept open while the child still writes (a closed pipe would fail it).
fn wait_for(child: &mut Child, word: &str) -> BufReader<ChildStdout> {
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 {
        if line.trim() == word {
            return out;
        }
        line.clear();
    }
    panic!("child exited without printing {word}");
}

#[test]
fn second_connection_sees_the_holder_until_it_unlocks() {
    let (_dir, path, url) = common::temp_db();
    let mut a = common::open(&url);
    let mut b = common::open(&url);
    a.set_application_name("backstop apply");
    assert_eq!(a.try_lock().unwrap(), LockAttempt::Acquired);
    // Re-entrant for the holder.
    assert_eq!(a.try_lock().unwrap(), LockAttempt::Acquired);
    match b.try_lock().unwrap() {
        LockAttempt::Held(Some(h)) => {
            assert_eq!(h.pid, Some(i64::from(std::process::id())));
            assert_eq!(h.application_name.as_deref(), Some("backstop apply"));
            assert!(
                h.since.as_deref().is_some_and(|s| s.ends_with('Z')),
                "{h:?}"
            );
            let lock_file = format!("{}.lock", path.display());
            assert!(
                h.detail.as_deref().is_some_and(|d| d.contains(&lock_file)),
                "{h:?}"
            );
            assert!(h.to_string().contains("pid "), "{h}");
        }
        other => panic!("expected Held, got {other:?}"),
    }
    a.unlock().unwrap();
    assert_eq!(b.try_lock().unwrap(), LockAttempt::Acquired);
    match a.try_lock().unwrap() {
        LockAttempt::Held(Some(h)) => assert_eq!(
            h.application_name.as_deref(),
            Some("backstop"),
            "the default name"
        ),
        other => panic!("expected Held, got {other:?}"),
    }
    drop(b);
    // Dropping the holder releases the lock.
    assert_eq!(a.try_lock().unwrap(), LockAttempt::Acquired);
    a.unlock().unwrap();
    // unlock when not held is fine (guards call it from Drop).
    a.unlock().unwrap();
    assert!(
        path.with_extension("db.lock").exists(),
        "the lock file stays in place"
    );
}

/// The same database reached by another path — a symlink, a `..` — meets the same lock:
/// otherwise two runs would both apply the pending migrations.
#[test]
fn the_lock_is_the_files_whatever_the_path_to_it() {
    let (dir, path, url) = common::temp_db();
    let mut a = common::open(&url);
    assert_eq!(a.try_lock().unwrap(), LockAttempt::Acquired);
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    for other in [link, dir.path().join("sub/../test.db")] {
        let mut b = common::open(&format!("sqlite://{}", other.display()));
        assert!(
            matches!(b.try_lock().unwrap(), LockAttempt::Held(_)),
            "{} reaches the same database and must see its lock",
            other.display()
        );
    }
    a.unlock().unwrap();
}

#[test]
fn in_memory_lock_is_always_acquired() {
    let mut a = common::memory();
    let mut b = common::memory();
    assert_eq!(a.lock_path(), None);
    assert_eq!(a.try_lock().unwrap(), LockAttempt::Acquired);
    assert_eq!(b.try_lock().unwrap(), LockAttempt::Acquired);
    a.unlock().unwrap();
}

#[test]
fn a_killed_holder_leaves_the_lock_free() {
    let (_dir, _path, url) = common::temp_db();
    let mut child = spawn_child(&url, "lock");
    let _output = wait_for(&mut child, "LOCKED");
    let mut d = common::open(&url);
    match d.try_lock().unwrap() {
        LockAttempt::Held(Some(h)) => {
            assert_eq!(h.pid, Some(i64::from(child.id())));
            assert_eq!(h.application_name.as_deref(), Some("backstop child"));
        }
        other => panic!("expected Held by the child, got {other:?}"),
    }
    // SIGKILL: no destructor runs; only the kernel can release the lock.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(d.try_lock().unwrap(), LockAttempt::Acquired);
}

#[test]
fn ensure_history_is_safe_with_ten_concurrent_processes() {
    let (_dir, _path, url) = common::temp_db();
    let mut children: Vec<Child> = (0..10).map(|_| spawn_child(&url, "history")).collect();
    for c in &mut children {
        let mut rest = String::new();
        wait_for(c, "DONE").read_to_string(&mut rest).unwrap();
        assert!(c.wait().unwrap().success(), "{rest}");
    }
    assert!(common::open(&url).history_exists().unwrap());
}

#[test]
fn a_database_kept_busy_by_another_run_is_waited_for_and_its_holder_named() {
    // Regression: connecting read the file under a fixed 5 s busy timeout, so while a long
    // migration held the file every command failed with "database is locked", unexplained.
    use backstop_core::driver::DbErrorKind;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let (_dir, _path, url) = common::temp_db();
    let mut holder = common::open(&url);
    holder.set_application_name("backstop apply (ann)");
    assert_eq!(holder.try_lock().unwrap(), LockAttempt::Acquired);
    // Keeps the file locked after the write, as a transaction that spilled to disk does.
    holder.execute("PRAGMA locking_mode = EXCLUSIVE").unwrap();
    holder.execute("CREATE TABLE busy (x)").unwrap();

    let started = Instant::now();
    let mut d = common::open(&url);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "connecting waited"
    );
    let told: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&told);
    d.set_notice(Some(Arc::new(move |line: &str| {
        sink.lock().unwrap().push(line.to_string())
    })));
    d.set_lock_wait(Duration::from_millis(1500));
    let started = Instant::now();
    let e = d.load_history().unwrap_err();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    assert_eq!(e.kind, DbErrorKind::LockTimeout, "{e:?}");
    // Who holds the file and how long it waited, in the detail; what to do, in the hint.
    let detail = e.detail.clone().unwrap_or_default();
    assert!(
        detail.starts_with("waited --lock-wait (1500ms) for the database: ")
            && detail.contains("backstop apply (ann)"),
        "{e:?}"
    );
    assert!(
        e.hint
            .as_deref()
            .is_some_and(|h| h.starts_with("run the command again when it is done")),
        "{e:?}"
    );
    let lines = told.lock().unwrap().clone();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("waiting up to 1500ms") && lines[0].contains("backstop apply (ann)"),
        "{lines:?}"
    );
    drop(holder);
    assert!(d.load_history().unwrap().is_empty());

    // Another application writing: the migration lock is free, and the message says so.
    let mut app = common::open(&url);
    app.execute("PRAGMA locking_mode = EXCLUSIVE").unwrap();
    app.execute("CREATE TABLE app (x)").unwrap();
    d.set_lock_wait(Duration::from_millis(100));
    let e = d.schema(None).unwrap_err();
    assert!(
        e.detail
            .as_deref()
            .is_some_and(|d| d.contains("the migration lock is free")),
        "{e:?}"
    );
}

/// Who holds the lock, found without taking it (on Linux from the kernel's table of file
/// locks): `status` asks while a run may be about to take it.
#[test]
fn the_holder_is_found_without_taking_the_lock() {
    let (_dir, _path, url) = common::temp_db();
    let mut looker = common::open(&url);
    assert_eq!(looker.lock_holder().unwrap(), None, "nobody holds it");
    let mut child = spawn_child(&url, "lock");
    let _output = wait_for(&mut child, "LOCKED");
    let holder = looker.lock_holder().unwrap().expect("the child holds it");
    assert_eq!(holder.pid, Some(i64::from(child.id())));
    assert_eq!(holder.application_name.as_deref(), Some("backstop child"));
    child.kill().unwrap();
    child.wait().unwrap();
    // The child's line stays in the file; the lock went with the process.
    assert_eq!(looker.lock_holder().unwrap(), None);
    // The holder itself is no other connection.
    assert_eq!(looker.try_lock().unwrap(), LockAttempt::Acquired);
    assert_eq!(looker.lock_holder().unwrap(), None);
    // An in-memory database has nobody else.
    assert_eq!(common::memory().lock_holder().unwrap(), None);
}
