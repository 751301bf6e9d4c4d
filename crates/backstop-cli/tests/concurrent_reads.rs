//! Commands that only read (status, verify, audit) while a run is going: what they report
//! is one moment of the database, and a migration a run is still taking outside a
//! transaction is said to be going, not to have stopped.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Db, Kind, Project};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How many times the readers look while the runs go.
const CHECKS: usize = 40;

/// Twelve small migrations, each creating a table with an index.
fn twelve(db: &Db) -> Project {
    let p = Project::new();
    for i in 1..=12 {
        p.add(
            &format!("{i}_m{i}"),
            &format!("CREATE TABLE t{i} (id integer PRIMARY KEY, v text);\nCREATE INDEX t{i}_v ON t{i} (v);"),
            Some(&format!("DROP TABLE t{i};")),
            None,
            None,
        );
    }
    p.ok(db, &["sum"]);
    p
}

/// Regression: `audit verify` and `status` read the ledger, the state row and history one
/// after another, so a run committing in between looked like tampering ("events … were
/// deleted", "the schema baseline … was rewritten", "the ledger head is damaged") and like
/// drift, though the database was intact.
fn readers_see_one_moment_while_runs_go(kind: Kind) {
    let db = Db::new(kind);
    let p = twelve(&db);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        let apply = p.cmd(&db, &["apply"]);
        let rollback = p.cmd(&db, &["rollback", "--to", "0", "--yes"]);
        std::thread::spawn(move || {
            let (mut apply, mut rollback) = (apply, rollback);
            let mut rounds = 0;
            while !stop.load(Ordering::Relaxed) && rounds < 500 {
                for c in [&mut apply, &mut rollback] {
                    let out = c.output().unwrap();
                    assert!(
                        out.status.success(),
                        "{c:?}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                rounds += 1;
            }
            rounds
        })
    };
    let mut alarms = Vec::new();
    let mut unchecked = 0;
    for _ in 0..CHECKS {
        let audit = p.run(&db, &["audit", "verify"]);
        if audit.code != 0 {
            alarms.push(format!("audit verify: {audit:?}"));
        }
        let status = p.run(&db, &["--format", "json", "status"]);
        assert_eq!(status.code, 0, "{status:?}");
        let s = status.json();
        if s["drift_unchecked"] == true {
            // Said, not alarmed: a run recorded something each time the schema was read.
            unchecked += 1;
        }
        let warnings: Vec<&str> = s["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|w| w.as_str())
            .filter(|w| !w.starts_with("drift could not be checked"))
            .collect();
        if !warnings.is_empty() || !s["drift"].is_null() {
            alarms.push(format!("status: {}", status.stdout));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = writer.join().unwrap();
    assert!(rounds >= 1, "no run went while the readers looked");
    assert!(
        alarms.is_empty(),
        "{} false alarms in {CHECKS} checks (audit verify and status each) while {rounds} apply/rollback rounds ran:\n{}",
        alarms.len(),
        alarms.join("\n")
    );
    assert!(
        unchecked < CHECKS / 2,
        "drift went unchecked {unchecked} times of {CHECKS}"
    );
    // Everything is intact once the runs are over.
    p.ok(&db, &["audit", "verify"]);
    p.ok(&db, &["verify"]);
}

/// A statement that keeps a `transaction = false` migration going for a minute or more.
fn slow(kind: Kind) -> &'static str {
    match kind {
        Kind::Postgres => "SELECT pg_sleep(120);",
        // Counting to a billion takes SQLite minutes.
        Kind::Sqlite => "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) > 0 FROM c;",
    }
}

/// Poll `status` until `done` holds for it, for up to 30 s.
fn status_until(
    p: &Project,
    db: &Db,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let s = p.status(db);
        if done(&s) {
            return s;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{what}: {s:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Regression: `status` during a `transaction = false` migration told the person that its
/// run had stopped part-way, to undo its work by hand and resolve it — while the run was
/// still going. The run holds the migration lock: status names it and says to wait; once
/// the run is gone (killed), the lock is free and the stopped-part-way advice is back; and
/// whoever holds the lock then is named in the same way.
fn status_tells_a_run_still_going_from_one_that_stopped(kind: Kind) {
    let db = Db::new(kind);
    let p = Project::new();
    p.add(
        "1_slow",
        &format!(
            "CREATE TABLE s1 (id integer);\n{}\nCREATE TABLE s2 (id integer);",
            slow(kind)
        ),
        Some("DROP TABLE IF EXISTS s2;\nDROP TABLE IF EXISTS s1;"),
        None,
        Some("transaction = false\n"),
    );
    p.ok(&db, &["sum"]);
    let mut child = p
        .cmd(&db, &["apply"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The first statement is recorded: the run is in its slow one.
    let s = status_until(&p, &db, "the run never got to its slow statement", |s| {
        s["dirty"] == serde_json::json!([1]) && s["drift"].is_object()
    });
    let run = &s["run_in_progress"];
    assert_eq!(run["migration"]["version"], 1, "{s:#}");
    assert_eq!(run["migration"]["step"], "apply", "{s:#}");
    assert!(
        run["holder"]["application_name"]
            .as_str()
            .is_some_and(|a| a.starts_with("backstop apply")),
        "{s:#}"
    );
    if kind == Kind::Sqlite {
        // The lock file's holder: the process itself.
        assert_eq!(run["holder"]["pid"], child.id(), "{s:#}");
    } else {
        assert!(run["holder"]["pid"].is_i64(), "{s:#}");
    }
    let note = s["migrations"][0]["note"].as_str().unwrap();
    assert!(
        note.contains("being applied right now")
            && note.contains("1 of 3 statements of up.sql completed so far")
            && note.contains("wait for that run to finish")
            && !note.contains("stopped part-way"),
        "{note}"
    );
    // The difference is the run's work so far: named as such, with no diff to undo.
    let drift = &s["drift"];
    assert_eq!(drift["dirty_migration"]["version"], 1, "{s:#}");
    assert_eq!(
        drift["dirty_migration"]["running"]["pid"], run["holder"]["pid"],
        "{s:#}"
    );
    assert!(drift["diff"].is_null(), "{s:#}");
    let text = p.ok(&db, &["status"]).stdout;
    assert!(
        text.contains("run in progress: migration 1 (slow) is being applied right now")
            && !text.contains("inspect the database")
            && !text.contains("stopped part-way"),
        "{text}"
    );
    let verify = p.run(&db, &["verify"]);
    assert!(
        verify
            .stdout
            .contains("migration 1 (slow) is being applied right now")
            && !verify.stdout.contains("stopped part-way"),
        "{verify:?}"
    );

    // The run dies: its lock goes with it, and its row is what it left.
    child.kill().unwrap();
    child.wait().unwrap();
    let s = status_until(&p, &db, "the killed run's lock was not released", |s| {
        s["run_in_progress"].is_null()
    });
    let note = s["migrations"][0]["note"].as_str().unwrap();
    assert!(note.contains("its run stopped part-way"), "{s:#}");
    assert!(s["drift"]["dirty_migration"]["running"].is_null(), "{s:#}");
    let text = p.ok(&db, &["status"]).stdout;
    assert!(
        text.contains("inspect the database") && !text.contains("run in progress"),
        "{text}"
    );

    // Whoever holds the lock now, taken the way a run takes it, is named as the run.
    let mut holder = db.connect();
    assert_eq!(
        holder.try_lock().unwrap(),
        backstop_core::driver::LockAttempt::Acquired
    );
    let s = p.status(&db);
    assert_eq!(s["run_in_progress"]["migration"]["version"], 1, "{s:#}");
    if kind == Kind::Sqlite {
        assert_eq!(
            s["run_in_progress"]["holder"]["pid"],
            std::process::id(),
            "{s:#}"
        );
    }
    // Looking took nothing: the holder still has it, and lets go.
    holder.unlock().unwrap();
    drop(holder);
    let s = p.status(&db);
    assert!(s["run_in_progress"].is_null(), "{s:#}");
    // And nothing of the looking kept a run from taking the lock.
    let mut other = db.connect();
    assert_eq!(
        other.try_lock().unwrap(),
        backstop_core::driver::LockAttempt::Acquired
    );
}

both!(
    readers_see_one_moment_while_runs_go,
    status_tells_a_run_still_going_from_one_that_stopped
);
