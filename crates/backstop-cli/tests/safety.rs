//! Concurrency, crashes, locks, non-transactional work, the ledger, input errors, secrets.
mod common;
use common::{Db, Kind, Project};
use std::time::{Duration, Instant};

both!(
    ten_simultaneous_applies_apply_each_migration_once,
    kill_9_during_a_slow_migration_leaves_a_consistent_database,
    held_lock_gives_exit_4_naming_the_holder,
    tampered_ledger_is_found,
    input_errors_exit_2_name_the_path_and_change_nothing,
);

fn slow_sql(k: Kind) -> &'static str {
    match k {
        // ~seconds of CPU inside the migration's transaction
        Kind::Sqlite => "CREATE TABLE slow AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 30000000) SELECT count(*) AS n FROM c;",
        Kind::Postgres => "CREATE TABLE slow (n int);\nSELECT pg_sleep(3);",
    }
}

fn ten_simultaneous_applies_apply_each_migration_once(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    for i in 1..=6 {
        p.add(
            &format!("{i}_t{i}"),
            &format!("CREATE TABLE t{i} (id INTEGER);\nINSERT INTO t{i} VALUES ({i});"),
            Some(&format!("DROP TABLE t{i};")),
            None,
            None,
        );
    }
    let children: Vec<_> = (0..10)
        .map(|_| {
            p.cmd(&db, &["--lock-wait", "120s", "apply"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect();
    for o in &outs {
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let applied_lines: usize = outs
        .iter()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .matches("applied  ")
                .count()
        })
        .sum();
    assert_eq!(
        applied_lines, 6,
        "each migration applied by exactly one process"
    );
    for i in 1..=6 {
        assert!(
            db.check(&format!("SELECT count(*) = 1 FROM t{i}")),
            "t{i} has exactly one row"
        );
    }
    assert!(db.check(&format!(
        "SELECT count(*) = 6 FROM {} WHERE kind = 'apply'",
        db.t("events")
    )));
    // No lock left behind: a new run gets it at once.
    let t = Instant::now();
    p.ok(&db, &["--lock-wait", "0s", "apply"]);
    assert!(t.elapsed() < Duration::from_secs(10));
}

fn kill_9_during_a_slow_migration_leaves_a_consistent_database(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    p.add(
        "1_first",
        "CREATE TABLE first (id INTEGER);",
        Some("DROP TABLE first;"),
        None,
        None,
    );
    p.add("2_slow", slow_sql(k), Some("DROP TABLE slow;"), None, None);
    p.add(
        "3_after",
        "CREATE TABLE after_slow (id INTEGER);",
        Some("DROP TABLE after_slow;"),
        None,
        None,
    );
    p.ok(&db, &["apply", "--to", "1"]);
    let mut child = p
        .cmd(&db, &["apply"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(700));
    child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix
    let _ = child.wait();
    let st = p.status(&db);
    assert_eq!(st["migrations"][0]["state"], "applied");
    assert_eq!(
        st["migrations"][1]["state"], "pending",
        "the killed migration left nothing: {st}"
    );
    assert!(st["dirty"].as_array().expect("dirty").is_empty());
    // A rerun waits for the dead session to be cleaned up, then applies each migration once.
    let r = p.ok(&db, &["--lock-wait", "60s", "apply"]);
    assert_eq!(r.stdout.matches("applied  ").count(), 2, "{r:?}");
    assert!(db.check(&format!(
        "SELECT count(*) = 3 FROM {} WHERE status = 'applied'",
        db.t("migrations")
    )));
    p.ok(&db, &["verify"]);
}

fn held_lock_gives_exit_4_naming_the_holder(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id INTEGER);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    let mut holder = db.connect();
    holder.ensure_history().expect("history");
    assert_eq!(
        holder.try_lock().expect("lock"),
        backstop_core::driver::LockAttempt::Acquired
    );
    let t = Instant::now();
    let r = p.run(&db, &["--lock-wait", "1s", "apply"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(t.elapsed() >= Duration::from_secs(1));
    assert!(
        r.stderr.contains("held by") && r.stderr.contains("pid"),
        "names the holder: {r:?}"
    );
    assert!(
        r.stderr.contains("waiting up to 1s for the migration lock"),
        "says it is waiting: {r:?}"
    );
    if k == Kind::Postgres {
        assert!(
            r.stderr.contains("backstop-test"),
            "PostgreSQL names the holder's application_name: {r:?}"
        );
    }
    assert_eq!(p.status(&db)["pending"], 1, "nothing applied");
    holder.unlock().expect("unlock");
    p.ok(&db, &["--lock-wait", "1s", "apply"]);
}

fn tampered_ledger_is_found(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    for i in 1..=4 {
        p.add(
            &format!("{i}_t{i}"),
            &format!("CREATE TABLE t{i} (id INTEGER);"),
            Some(&format!("DROP TABLE t{i};")),
            None,
            None,
        );
    }
    p.ok(&db, &["apply"]);
    p.ok(&db, &["rollback"]);
    let ev = db.t("events");
    assert!(p
        .ok(&db, &["audit", "verify"])
        .stdout
        .contains("ledger intact"));

    // UPDATE behind the tool's back
    db.exec(&format!("UPDATE {ev} SET actor = 'mallory' WHERE seq = 2"));
    let r = p.run(&db, &["--format", "json", "audit", "verify"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(r.json()["broken"]["seq"], 2);
    db.exec(&format!("UPDATE {ev} SET actor = 'tester' WHERE seq = 2"));
    assert_eq!(p.run(&db, &["audit", "verify"]).code, 0);

    // DELETE in the middle
    let backup = format!("{}_copy", db.t("events"));
    db.exec(&format!("CREATE TABLE {backup} AS SELECT * FROM {ev}"));
    db.exec(&format!("DELETE FROM {ev} WHERE seq = 3"));
    let r = p.run(&db, &["--format", "json", "audit", "verify"]);
    assert_eq!(r.code, 3);
    assert_eq!(r.json()["broken"]["seq"], 3, "{r:?}");
    db.exec(&format!("DELETE FROM {ev}"));
    db.exec(&format!("INSERT INTO {ev} SELECT * FROM {backup}"));
    assert_eq!(p.run(&db, &["audit", "verify"]).code, 0);

    // INSERT of a forged event at the end
    db.exec(&format!("INSERT INTO {ev} (seq, at, actor, kind, version, release_id, reason, detail, prev_hash, hash) SELECT seq + 1, at, 'mallory', 'apply', 99, NULL, NULL, '{{}}', hash, hash FROM {ev} WHERE seq = (SELECT max(seq) FROM {ev})"));
    let r = p.run(&db, &["--format", "json", "audit", "verify"]);
    assert_eq!(r.code, 3, "{r:?}");
    db.exec(&format!("DELETE FROM {ev} WHERE actor = 'mallory'"));
    assert_eq!(p.run(&db, &["audit", "verify"]).code, 0);

    // Truncated tail: the head kept beside history notices.
    db.exec(&format!(
        "DELETE FROM {ev} WHERE seq = (SELECT max(seq) FROM {backup})"
    ));
    let r = p.run(&db, &["audit", "verify"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stdout.contains("head"), "{r:?}");
    db.exec(&format!("DROP TABLE {backup}"));

    // Truncated tail and the head deleted with it. Regression: SQLite read the head from
    // the ledger's own last event and called the ledger intact.
    db.exec(&format!("DELETE FROM {}", db.t("state")));
    let r = p.run(&db, &["--format", "json", "audit", "verify"]);
    assert_eq!(r.code, 3, "{r:?}");
    let broken = &r.json()["broken"];
    assert!(
        broken["problem"]
            .as_str()
            .is_some_and(|p| p.contains("no head is recorded")),
        "{r:?}"
    );
}

fn input_errors_exit_2_name_the_path_and_change_nothing(k: Kind) {
    let db = Db::new(k);
    type Make = Box<dyn Fn(&Project)>;
    let cases: Vec<(&str, Make, &str)> = vec![
        (
            "missing up.sql",
            Box::new(|p: &Project| {
                std::fs::create_dir_all(p.dir().join("2_x")).expect("mkdir");
                std::fs::write(p.dir().join("2_x/down.sql"), "SELECT 1;").expect("w");
            }),
            "2_x/up.sql",
        ),
        (
            "missing down.sql",
            Box::new(|p: &Project| {
                p.add("2_x", "CREATE TABLE x (id INTEGER);", None, None, None);
            }),
            "down.sql is missing",
        ),
        (
            "duplicate version",
            Box::new(|p: &Project| {
                p.add("1_again", "SELECT 1;", Some("SELECT 1;"), None, None);
            }),
            "version 1",
        ),
        (
            "no version",
            Box::new(|p: &Project| {
                p.add("add_stuff", "SELECT 1;", Some("SELECT 1;"), None, None);
            }),
            "add_stuff",
        ),
        (
            "version 0",
            Box::new(|p: &Project| {
                p.add("0_zero", "SELECT 1;", Some("SELECT 1;"), None, None);
            }),
            "version 0 is reserved",
        ),
        (
            "version too large",
            Box::new(|p: &Project| {
                p.add(
                    "99999999999999999999_x",
                    "SELECT 1;",
                    Some("SELECT 1;"),
                    None,
                    None,
                );
            }),
            "too large",
        ),
        (
            "not utf-8",
            Box::new(|p: &Project| {
                let d = p.add("2_x", "SELECT 1;", Some("SELECT 1;"), None, None);
                std::fs::write(d.join("up.sql"), b"SELECT '\xff\xfe';").expect("w");
            }),
            "not valid UTF-8",
        ),
        (
            "empty",
            Box::new(|p: &Project| {
                p.add("2_x", "-- nothing here\n", Some("SELECT 1;"), None, None);
            }),
            "is empty (no SQL statement): write the migration's SQL in it",
        ),
        (
            "invalid toml",
            Box::new(|p: &Project| {
                p.add(
                    "2_x",
                    "SELECT 1;",
                    Some("SELECT 1;"),
                    None,
                    Some("transaction = tru\n"),
                );
            }),
            "invalid TOML",
        ),
        (
            "unknown key",
            Box::new(|p: &Project| {
                p.add(
                    "2_x",
                    "SELECT 1;",
                    Some("SELECT 1;"),
                    None,
                    Some("transactoin = false\n"),
                );
            }),
            "unknown key `transactoin`",
        ),
        (
            "bad duration",
            Box::new(|p: &Project| {
                p.add(
                    "2_x",
                    "SELECT 1;",
                    Some("SELECT 1;"),
                    None,
                    Some("lock_timeout = \"2 parsecs\"\n"),
                );
            }),
            "lock_timeout",
        ),
        (
            "irreversible without reason",
            Box::new(|p: &Project| {
                p.add(
                    "2_x",
                    "SELECT 1;",
                    None,
                    None,
                    Some("irreversible = true\n"),
                );
            }),
            "reason",
        ),
    ];
    for (what, make, expect) in cases {
        let p = Project::new();
        p.add(
            "1_a",
            "CREATE TABLE a (id INTEGER);",
            Some("DROP TABLE a;"),
            None,
            None,
        );
        make(&p);
        let fp = Project::new().fingerprint(&db);
        let r = p.run(&db, &["apply"]);
        assert_eq!(r.code, 2, "{what}: {r:?}");
        assert!(
            r.stderr.contains(expect),
            "{what}: expected `{expect}` in:\n{r:?}"
        );
        assert!(
            r.stderr.contains(&p.dir().display().to_string()),
            "{what}: names the path: {r:?}"
        );
        assert_eq!(
            Project::new().fingerprint(&db),
            fp,
            "{what}: nothing changed"
        );
    }
    // A bad backstop.toml
    let p = Project::new();
    std::fs::write(p.tmp.path().join("backstop.toml"), "databse_url = 'x'\n").expect("w");
    let r = p.run(&db, &["status"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("backstop.toml") && r.stderr.contains("databse_url"),
        "{r:?}"
    );
}

#[test]
fn create_index_concurrently_with_a_waiting_runner_does_not_deadlock() {
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id int);\nINSERT INTO t SELECT generate_series(1, 200000);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    p.add(
        "2_cic",
        "CREATE INDEX CONCURRENTLY t_id_idx ON t (id);",
        Some("DROP INDEX CONCURRENTLY t_id_idx;"),
        None,
        Some("transaction = false\n"),
    );
    // Slow the build so the second runner is surely waiting meanwhile.
    p.add(
        "3_slow_after",
        "SELECT pg_sleep(1);",
        Some("SELECT 1;"),
        None,
        None,
    );
    let first = p
        .cmd(&db, &["apply"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(100));
    let second = p
        .cmd(&db, &["--lock-wait", "60s", "apply"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let t = Instant::now();
    let a = first.wait_with_output().expect("first");
    let b = second.wait_with_output().expect("second");
    assert_eq!(
        a.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&a.stderr)
    );
    assert_eq!(
        b.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&b.stderr)
    );
    assert!(t.elapsed() < Duration::from_secs(50), "no deadlock");
    assert!(db.check("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_id_idx'::regclass"));
}

#[test]
fn failed_concurrent_index_is_cleaned_up_and_half_done_work_is_marked_dirty() {
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1), (1);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    let fp = p.fingerprint(&db);
    // Fails on the duplicate; PostgreSQL leaves an INVALID index behind, backstop drops it.
    let m = p.add(
        "2_unique",
        "CREATE UNIQUE INDEX CONCURRENTLY t_id_key ON t (id);",
        Some("DROP INDEX CONCURRENTLY IF EXISTS t_id_key;"),
        None,
        Some("transaction = false\n"),
    );
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("INVALID index"), "{r:?}");
    assert_eq!(p.fingerprint(&db), fp);
    assert!(db.check("SELECT to_regclass('public.t_id_key') IS NULL"));
    std::fs::remove_dir_all(&m).expect("rm");

    // Half-way failure whose down script can't undo it: dirty, exit 5, then resolve.
    p.add("3_half", "CREATE INDEX CONCURRENTLY t_a ON t (id);\nCREATE INDEX CONCURRENTLY t_b ON t (no_such_column);", Some("DROP INDEX CONCURRENTLY t_b;\nDROP INDEX CONCURRENTLY t_a;"), None, Some("transaction = false\n"));
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(
        r.stderr.contains("dirty") && r.stderr.contains("resolve 3"),
        "{r:?}"
    );
    // t_a, left by the half-done migration, is the error's news, not another session's.
    assert!(!r.stderr.contains("escaped tracking"), "{r:?}");
    assert!(
        r.stderr
            .contains("1. line 1: CREATE INDEX CONCURRENTLY t_a"),
        "says what ran: {r:?}"
    );
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 3, "nothing runs on a dirty database: {r:?}");
    let r = p.run(&db, &["rollback"]);
    assert_eq!(r.code, 3, "{r:?}");
    db.exec("DROP INDEX t_a");
    p.ok(
        &db,
        &[
            "resolve",
            "3",
            "--rolled-back",
            "--reason",
            "dropped t_a by hand",
        ],
    );
    assert_eq!(p.status(&db)["migrations"][1]["state"], "rolled_back");
    assert!(db.check("SELECT count(*) = 1 FROM backstop.events WHERE kind = 'resolve' AND reason = 'dropped t_a by hand'"));
}

#[test]
fn lock_timeout_is_retried_with_backoff() {
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id int);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    p.add(
        "2_alter",
        "ALTER TABLE t ADD COLUMN c int;",
        Some("ALTER TABLE t DROP COLUMN c;"),
        None,
        Some("lock_timeout = \"100ms\"\nretries = 5\n"),
    );
    // Another session holds a lock on t for ~1 s, longer than one lock_timeout.
    let blocker = hold_access_share(&db.url, "t", 1.0);
    std::thread::sleep(Duration::from_millis(200));
    let r = p.ok(&db, &["--format", "json", "apply"]);
    blocker.join().expect("join");
    let retries = r.json()["applied"][0]["retries"].as_u64().expect("retries");
    assert!(retries >= 1, "retried after lock timeouts: {r:?}");
}

#[test]
fn a_lock_timeout_that_outlasts_the_retries_says_whose_lock_not_to_fix_the_file() {
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id int);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    p.add(
        "2_alter",
        "ALTER TABLE t ADD COLUMN c int;",
        Some("ALTER TABLE t DROP COLUMN c;"),
        None,
        Some("lock_timeout = \"50ms\"\nretries = 1\n"),
    );
    let blocker = hold_access_share(&db.url, "t", 3.0);
    std::thread::sleep(Duration::from_millis(300));
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("another session held a lock"), "{r:?}");
    assert!(
        !r.stderr.contains("next: fix "),
        "nothing in the file to fix: {r:?}"
    );
    // The same for a rollback step.
    blocker.join().expect("join");
    p.ok(&db, &["apply"]);
    let blocker = hold_access_share(&db.url, "t", 3.0);
    std::thread::sleep(Duration::from_millis(300));
    let r = p.run(&db, &["rollback"]);
    blocker.join().expect("join");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("another session held a lock"), "{r:?}");
    assert!(
        !r.stderr.contains("cannot run on the current schema"),
        "{r:?}"
    );
    // A rollback runs with the options stored at apply: editing the file would not help.
    assert!(!r.stderr.contains("raise lock_timeout"), "{r:?}");
    assert!(
        r.stderr.contains("stored when the migration was applied"),
        "{r:?}"
    );
}

/// Another session holding ACCESS SHARE on `table` for `secs` seconds, from now: enough to
/// make a migration's ALTER on it wait.
fn hold_access_share(url: &str, table: &str, secs: f64) -> std::thread::JoinHandle<()> {
    let url = url.to_string();
    let sql =
        format!("BEGIN; LOCK TABLE {table} IN ACCESS SHARE MODE; SELECT pg_sleep({secs}); COMMIT;");
    std::thread::spawn(move || {
        let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).expect("connect");
        c.batch_execute(&sql).expect("blocker");
    })
}

/// Holds an ACCESS EXCLUSIVE lock on `table` for `hold`, taken as soon as a migration
/// holds advisory lock 4242 (so after the run's first schema read, which would wait).
fn lock_while_migrating(url: &str, table: &str, hold: Duration) -> std::thread::JoinHandle<()> {
    common::when_migrating(
        url,
        4242,
        format!(
            "BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep({}); COMMIT;",
            hold.as_secs_f64()
        ),
    )
}

/// The schema read after a migration prints a view, and printing a view takes a lock on
/// the tables it reads from: another session's lock there makes the read time out. That
/// is retried like a lock timeout in a statement and, when the retries run out, reported
/// as the read's, with everything rolled back.
#[test]
fn a_schema_read_that_waits_on_a_lock_is_retried_then_reported() {
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_view",
        "CREATE TABLE u (id int);\nCREATE TABLE t (id int);\nCREATE VIEW v AS SELECT u.id FROM u JOIN t USING (id);",
        Some("DROP VIEW v;\nDROP TABLE t;\nDROP TABLE u;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    // The statements never wait: the view itself is all they lock. The pause lets the
    // other session take its lock after the signal.
    p.add(
        "2_barrier",
        "SELECT pg_advisory_xact_lock(4242);\nSELECT pg_sleep(0.5);\nALTER VIEW v SET (security_barrier = true);",
        Some("SELECT pg_advisory_xact_lock(4242);\nSELECT pg_sleep(0.5);\nALTER VIEW v RESET (security_barrier);"),
        None,
        Some("lock_timeout = \"100ms\"\nretries = 1\n"),
    );
    let before = p.fingerprint(&db);
    let blocker = lock_while_migrating(&db.url, "u", Duration::from_millis(2500));
    let r = p.run(&db, &["apply"]);
    blocker.join().expect("join");
    assert_eq!(r.code, 1, "{r:?}");
    for part in [
        "2_barrier/up.sql:3:1: migration 2 (barrier) up statement 3 failed: the schema read sent with it hit lock_timeout",
        "[55P03]",
        "rolled back after 1 retries on lock timeout",
        "another session holds a lock the schema read waited for",
    ] {
        assert!(r.stderr.contains(part), "{part}\n{r:?}");
    }
    assert_eq!(p.fingerprint(&db), before);
    assert_eq!(p.status(&db)["pending"], 1);

    // Without the other session's lock it goes through; its rollback meets the same.
    p.ok(&db, &["apply"]);
    let applied = p.fingerprint(&db);
    let blocker = lock_while_migrating(&db.url, "u", Duration::from_millis(2500));
    let r = p.run(&db, &["rollback"]);
    blocker.join().expect("join");
    assert_eq!(r.code, 1, "{r:?}");
    for part in [
        "migration 2 (barrier) down statement 3 failed: the schema read sent with it hit lock_timeout",
        "the migration is still applied",
        "another session holds a lock the schema read waited for",
    ] {
        assert!(r.stderr.contains(part), "{part}\n{r:?}");
    }
    assert_eq!(p.fingerprint(&db), applied);
    p.ok(&db, &["rollback"]);
    assert_eq!(p.fingerprint(&db), before);
}

/// Holds an ACCESS EXCLUSIVE lock on `table` from another session for `hold`; returns once
/// the lock is held.
fn hold_lock(url: &str, table: &str, hold: Duration) -> std::thread::JoinHandle<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    let (url, table) = (url.to_string(), table.to_string());
    let h = std::thread::spawn(move || {
        let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).expect("connect");
        c.batch_execute(&format!(
            "BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"
        ))
        .expect("lock");
        tx.send(()).expect("signal");
        std::thread::sleep(hold);
        c.batch_execute("COMMIT").expect("commit");
    });
    rx.recv().expect("lock taken");
    h
}

/// Outside a migration (the check before a run, `schema`, `status`) the schema is read
/// with no transaction of backstop's: another session's lock on a table a view reads from
/// is waited for up to `--lock-wait`, said on the progress line, then reported with exit 4
/// naming the session. Released in time, the command goes on. It never hangs unbounded.
#[test]
fn a_schema_read_outside_a_migration_waits_up_to_lock_wait_naming_the_holder() {
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_view",
        "CREATE TABLE t (id int);\nCREATE VIEW v AS SELECT id FROM t;",
        Some("DROP VIEW v;\nDROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    p.add(
        "2_other",
        "CREATE TABLE other (id int);",
        Some("DROP TABLE other;"),
        None,
        None,
    );

    let blocker = hold_lock(&db.url, "t", Duration::from_secs(8));
    for args in [
        &["--lock-wait", "1500ms", "schema"][..],
        &["--lock-wait", "1500ms", "apply"][..],
    ] {
        let t = Instant::now();
        let r = p.run(&db, args);
        let took = t.elapsed();
        assert_eq!(r.code, 4, "{args:?}: {r:?}");
        assert!(
            took >= Duration::from_millis(1400) && took < Duration::from_secs(6),
            "{args:?} gave up after --lock-wait, not before, not much later: {took:?}"
        );
        let all = r.all();
        assert!(all.contains("waited 1.5s for a lock"), "{all}");
        assert!(all.contains("on public.t"), "names the table: {all}");
        assert!(all.contains("pid "), "names the session: {all}");
        assert!(
            all.contains("waiting up to 1.5s to read the schema"),
            "says it waits: {all}"
        );
    }
    // Nothing was applied meanwhile.
    assert!(!db.check("SELECT to_regclass('public.other') IS NOT NULL"));
    blocker.join().expect("join");

    // Released within the wait: the run goes on.
    let blocker = hold_lock(&db.url, "t", Duration::from_millis(1500));
    let r = p.ok(&db, &["--lock-wait", "30s", "apply"]);
    blocker.join().expect("join");
    assert!(
        r.stderr.contains("waiting up to 30s to read the schema"),
        "{r:?}"
    );
    assert!(db.check("SELECT to_regclass('public.other') IS NOT NULL"));
    // The session's own lock_timeout is not left changed: `status` reads as before.
    p.ok(&db, &["status"]);
}

#[test]
fn passwords_never_appear_in_any_output() {
    let secret = "S3cr3t:p@ss/word";
    let enc = "S3cr3t%3Ap%40ss%2Fword";
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id INTEGER);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    let urls = [
        format!("postgres://app:{enc}@127.0.0.1:1/db"), // closed port
        format!("postgres://app:{secret}@127.0.0.1:1/db"), // unencoded: parse error path
        format!("postgresql://postgres:{enc}@127.0.0.1:5432/no_such_db_backstop"),
        format!("postgres://app:{enc}@no-such-host.invalid/db"),
        format!("mysql://root:{enc}@127.0.0.1:1/db"),
        format!("oracle://root:{enc}@127.0.0.1:1/db"),
        "mysql://app:S3cr3t'p@ss@db/prod".to_string(), // quote in the password
        "postgres://app:S3cr3t p@ss@127.0.0.1:notaport/db".to_string(), // space, bad port
    ];
    for url in &urls {
        for args in [
            &["status"][..],
            &["apply"],
            &["rollback"],
            &["verify"],
            &["schema"],
            &["audit", "verify"],
            &["--format", "json", "apply"],
            &["plan"],
        ] {
            let out = std::process::Command::new(common::BIN)
                .current_dir(p.tmp.path())
                .env("DATABASE_URL", url)
                .arg("--dir")
                .arg(p.dir())
                .args(args)
                .output()
                .expect("run");
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_ne!(
                out.status.code(),
                Some(0),
                "{url} {args:?} should fail: {all}"
            );
            for s in [secret, enc, "S3cr3t", "p@ss"] {
                assert!(
                    !all.contains(s),
                    "password leaked by {args:?} with {url}:\n{all}"
                );
            }
            assert!(
                all.contains("***")
                    || all.contains("app@")
                    || all.contains("root@")
                    || all.contains("postgres@"),
                "the URL is shown redacted: {all}"
            );
        }
    }
}

/// A server that asks for a cleartext password, answers "authentication failed", and
/// returns the password it was sent (None when the client gave up without one).
fn password_catcher() -> (u16, std::thread::JoinHandle<Option<String>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let h = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let read_startup = |s: &mut std::net::TcpStream| -> Vec<u8> {
            let mut len = [0u8; 4];
            s.read_exact(&mut len).expect("length");
            let mut body = vec![0u8; u32::from_be_bytes(len) as usize - 4];
            s.read_exact(&mut body).expect("startup");
            body
        };
        let mut startup = read_startup(&mut s);
        if startup[..4] == 80877103u32.to_be_bytes() {
            s.write_all(b"N").expect("no TLS");
            startup = read_startup(&mut s);
        }
        assert_eq!(startup[..4], 196608u32.to_be_bytes(), "protocol 3.0");
        // AuthenticationCleartextPassword
        s.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).expect("ask");
        let mut tag = [0u8; 1];
        let password = match s.read_exact(&mut tag) {
            Ok(()) if tag[0] == b'p' => {
                let mut len = [0u8; 4];
                s.read_exact(&mut len).expect("length");
                let mut body = vec![0u8; u32::from_be_bytes(len) as usize - 4];
                s.read_exact(&mut body).expect("password");
                Some(String::from_utf8_lossy(&body[..body.len() - 1]).into_owned())
            }
            _ => None,
        };
        let mut fields = Vec::new();
        for (code, text) in [
            (b'S', "FATAL"),
            (b'C', "28P01"),
            (b'M', "password authentication failed"),
        ] {
            fields.push(code);
            fields.extend_from_slice(text.as_bytes());
            fields.push(0);
        }
        fields.push(0);
        let mut msg = vec![b'E'];
        msg.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
        msg.extend_from_slice(&fields);
        let _ = s.write_all(&msg);
        password
    });
    (port, h)
}

/// Without a password in the URL, the one libpq would use: PGPASSWORD, then the password
/// file (PGPASSFILE or ~/.pgpass), which is ignored when others can read it. The password
/// never shows in the output.
#[cfg(unix)]
#[test]
fn passwords_come_from_pgpassword_and_the_password_file() {
    use std::os::unix::fs::PermissionsExt;
    let p = Project::new();
    let home = tempfile::tempdir().expect("home");
    let pgpass = home.path().join(".pgpass");
    let run = |port: u16, env: &[(&str, &str)]| {
        let mut c = std::process::Command::new(common::BIN);
        c.current_dir(p.tmp.path())
            .env_remove("PGPASSWORD")
            .env_remove("PGPASSFILE")
            .env("HOME", home.path())
            .env("BACKSTOP_ACTOR", "tester")
            .args([
                "--database-url",
                &format!("postgres://deploy@127.0.0.1:{port}/shop"),
                "status",
            ])
            .stdin(std::process::Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().expect("run");
        assert_eq!(out.status.code(), Some(2));
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    std::fs::write(
        &pgpass,
        "# deploy credentials\nother:*:*:*:not-this-one\n127.0.0.1:*:shop:deploy:Fr0m-the-file\n",
    )
    .expect("write");
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).expect("chmod");

    let (port, h) = password_catcher();
    let out = run(port, &[]);
    assert_eq!(h.join().expect("server").as_deref(), Some("Fr0m-the-file"));
    assert!(
        !out.contains("Fr0m-the-file") && out.contains("password authentication failed"),
        "{out}"
    );

    let (port, h) = password_catcher();
    let out = run(port, &[("PGPASSWORD", "Fr0m-the-env")]);
    assert_eq!(h.join().expect("server").as_deref(), Some("Fr0m-the-env"));
    assert!(!out.contains("Fr0m-the-env"), "{out}");

    let elsewhere = home.path().join("elsewhere");
    std::fs::write(&elsewhere, "*:*:*:deploy:Fr0m-PGPASSFILE\n").expect("write");
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let (port, h) = password_catcher();
    run(
        port,
        &[("PGPASSFILE", elsewhere.to_str().expect("utf-8 path"))],
    );
    assert_eq!(
        h.join().expect("server").as_deref(),
        Some("Fr0m-PGPASSFILE")
    );

    // Readable by others: ignored, as libpq does; the error says where a password goes.
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let (port, h) = password_catcher();
    let out = run(port, &[]);
    assert_eq!(h.join().expect("server"), None);
    assert!(out.contains("password file"), "{out}");
}

/// A non-transactional migration whose process is killed part-way: history says the run
/// stopped (not that it is running) and how far up.sql got, in `status` and in the refusal
/// of the next run.
#[test]
fn a_killed_non_transactional_migration_says_how_far_it_got() {
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_slow",
        "CREATE TABLE a (x int);\nSELECT pg_sleep(30);\nCREATE TABLE b (x int);",
        Some("DROP TABLE IF EXISTS b;\nDROP TABLE a;"),
        None,
        Some("transaction = false\n"),
    );
    let mut child = p
        .cmd(&db, &["apply"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let t = Instant::now();
    while !db.check("SELECT to_regclass('public.a') IS NOT NULL") {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "statement 1 never ran"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Statement 1 committed; its progress is saved right after it.
    std::thread::sleep(Duration::from_millis(300));
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let st = status_once_the_run_is_gone(&p, &db);
    let note = st["migrations"][0]["note"].as_str().unwrap_or_default();
    assert_eq!(st["migrations"][0]["state"], "dirty", "{st}");
    assert!(note.contains("stopped part-way"), "{st}");
    assert!(
        note.contains("1 of 3 statements of up.sql completed"),
        "{st}"
    );
    assert!(note.contains("statement 2 (up.sql line 2)"), "{st}");
    let r = p.run(&db, &["--lock-wait", "60s", "apply"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("1 of 3 statements of up.sql completed"),
        "{r:?}"
    );
}

/// `status` once the killed run's session is gone. The server ends it (and the migration
/// lock with it) when it notices the client is gone, within about a second; until then
/// status says the run is still going.
fn status_once_the_run_is_gone(p: &Project, db: &Db) -> serde_json::Value {
    let t = Instant::now();
    loop {
        let st = p.status(db);
        if st["run_in_progress"].is_null() {
            return st;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the run's lock stayed held: {st}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The same for a rollback step outside a transaction: `status` counts its stored down
/// script's statements (a listing that left the script out counted "0 of 0").
#[test]
fn a_killed_non_transactional_rollback_step_says_how_far_it_got() {
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_two",
        "CREATE TABLE a (x int);\nCREATE TABLE b (x int);",
        Some("DROP TABLE b;\nSELECT pg_sleep(30);\nDROP TABLE a;"),
        None,
        Some("transaction = false\n"),
    );
    p.ok(&db, &["apply"]);
    let mut child = p
        .cmd(&db, &["rollback"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let t = Instant::now();
    while !db.check("SELECT to_regclass('public.b') IS NULL") {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "statement 1 never ran"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Statement 1 committed; its progress is saved right after it.
    std::thread::sleep(Duration::from_millis(300));
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let st = status_once_the_run_is_gone(&p, &db);
    let note = st["migrations"][0]["note"].as_str().unwrap_or_default();
    assert_eq!(st["migrations"][0]["state"], "dirty", "{st}");
    assert!(
        note.contains("history records 1 of 3 statements of its stored down script completed"),
        "{st}"
    );
    assert!(note.contains("statement 2 (down.sql line 2)"), "{st}");
}

/// The down script a failed non-transactional migration runs to clean up retries lock
/// timeouts as the up script and a rollback step do: a brief lock must not leave the
/// migration dirty for a person.
#[test]
fn the_cleanup_after_a_failed_non_transactional_migration_retries_lock_timeouts() {
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_x",
        "CREATE TABLE x2 (id int);\nSELECT pg_sleep(1);\nSELECT 1/0;",
        Some("DROP TABLE x2;"),
        None,
        Some("transaction = false\nlock_timeout = \"200ms\"\nretries = 5\n"),
    );
    let child = p
        .cmd(&db, &["apply"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let t = Instant::now();
    while !db.check("SELECT to_regclass('public.x2') IS NOT NULL") {
        assert!(t.elapsed() < Duration::from_secs(20), "x2 never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Held across the failure and the first tries of the clean-up's DROP.
    let blocker = {
        let url = db.url.clone();
        std::thread::spawn(move || {
            let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).expect("connect");
            c.batch_execute(
                "BEGIN; LOCK TABLE x2 IN ACCESS SHARE MODE; SELECT pg_sleep(1.6); COMMIT;",
            )
            .expect("blocker");
        })
    };
    let out = child.wait_with_output().expect("wait");
    blocker.join().expect("join");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "cleaned up, not dirty: {stderr}"
    );
    assert!(stderr.contains("lock timeout undoing"), "{stderr}");
    let st = p.status(&db);
    assert_eq!(st["migrations"][0]["state"], "rolled_back", "{st}");
    assert!(!db.check("SELECT to_regclass('public.x2') IS NOT NULL"));
}

/// A migration resolved `--applied` after its rollback stopped part-way keeps the changes
/// its apply recorded: a later failed rollback's diff still shows the schema from before
/// the migration on its `-` side, not the one from before this rollback.
#[test]
fn resolve_applied_after_a_stopped_rollback_keeps_the_migrations_recorded_changes() {
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_base",
        "CREATE TABLE base (id int);",
        Some("DROP TABLE base;"),
        None,
        None,
    );
    p.add(
        "2_two",
        "CREATE TABLE a2 (x int);\nALTER TABLE base ADD COLUMN c int;",
        Some("ALTER TABLE base DROP COLUMN c;\nSELECT 1/0;\nDROP TABLE a2;"),
        None,
        Some("transaction = false\n"),
    );
    p.ok(&db, &["apply"]);
    let r = p.run(&db, &["rollback"]);
    assert_eq!(r.code, 5, "{r:?}");
    // Put back what the down script undid, and say the migration stays.
    db.exec("ALTER TABLE base ADD COLUMN c int");
    p.ok(&db, &["resolve", "2", "--applied", "--reason", "kept"]);
    let r = p.run(&db, &["--format", "json", "rollback"]);
    assert_eq!(r.code, 5, "{r:?}");
    let diff = r.json()["diff"].as_str().unwrap_or_default().to_string();
    // Before the migration there was no a2 and no c: a2 is what is left to undo.
    assert!(diff.contains("+ table public.a2"), "{diff}");
    assert!(
        !diff.contains("column c"),
        "c is gone, as before the migration: {diff}"
    );
}

#[test]
fn a_cancelled_statement_is_not_advised_as_a_broken_file() {
    // statement_timeout (or pg_cancel_backend) cancels with 57014: the advice names both
    // causes instead of "fix the file".
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_slow",
        "CREATE TABLE s (id int);\nSELECT pg_sleep(2);",
        Some("DROP TABLE s;"),
        None,
        Some("statement_timeout = \"100ms\"\nretries = 0\n"),
    );
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("the statement was cancelled"), "{r:?}");
    assert!(r.stderr.contains("statement_timeout"), "{r:?}");
    assert!(!r.stderr.contains("next: fix "), "{r:?}");
}

#[test]
fn resolve_applied_warns_of_an_invalid_index_it_accepts() {
    // A build that died leaves an INVALID index; resolve --applied accepted it silently
    // and the next verify failed on it.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (v int);\nINSERT INTO t VALUES (1), (1);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.add(
        "2_x",
        "CREATE TABLE x (id int);\nINSERT INTO nope VALUES (1);",
        Some("DROP TABLE x_typo;"),
        None,
        Some("transaction = false\n"),
    );
    assert_eq!(p.run(&db, &["apply"]).code, 5);
    // A unique index built on duplicates fails and stays behind, INVALID.
    let mut c = ::postgres::Client::connect(&db.url, ::postgres::NoTls).expect("connect");
    assert!(c
        .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY t_u ON t (v)")
        .is_err());
    let r = p.run(
        &db,
        &["resolve", "2", "--applied", "--reason", "finished by hand"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("warning: health:") && r.stderr.contains("t_u"),
        "{r:?}"
    );
}

/// backstop's migration lock on PostgreSQL: a session advisory lock on this key.
const MIGRATION_LOCK: i64 = i64::from_be_bytes(*b"backstop");

/// Regression: a migration that released the migration lock (`pg_advisory_unlock_all()` in
/// a statement of its own) let a second `apply` in while it ran; the second applied the
/// same migration, failed to record it (duplicate ledger event) and then saved its stale
/// ledger head over the first run's, so `audit verify` called the ledger broken and
/// `rollback` refused. The lock is taken back right after such a statement: the second run
/// waits for it, finds the migration applied, and the ledger stays intact.
#[test]
fn a_migration_that_releases_the_migration_lock_does_not_let_a_second_run_in() {
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_tbl",
        "CREATE TABLE acct(id serial primary key, who text);",
        Some("DROP TABLE acct;"),
        None,
        None,
    );
    p.add(
        "2_data",
        "SELECT pg_advisory_unlock_all();\nINSERT INTO acct(who) VALUES (current_setting('application_name'));\nSELECT pg_sleep(4);",
        Some("DELETE FROM acct;"),
        None,
        None,
    );
    p.ok(&db, &["apply", "--to", "1"]);
    let first = p
        .cmd(&db, &["apply"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the first apply");
    std::thread::sleep(Duration::from_millis(1500));
    let second = p.run(&db, &["apply"]);
    let first = first.wait_with_output().expect("first apply");
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(second.code, 0, "{second:?}");
    assert!(
        second.stderr.contains("waiting up to") && second.all().contains("nothing to apply"),
        "the second run waited for the lock and found the migration applied: {second:?}"
    );
    assert!(db.check("SELECT count(*) = 1 FROM acct"), "applied once");
    p.ok(&db, &["audit", "verify"]);
    p.ok(&db, &["rollback"]);
    p.ok(&db, &["audit", "verify"]);
}

/// On another connection (application `thief`): once backstop holds its migration lock,
/// take it as soon as it is free, and keep it until the returned sender is dropped. The
/// receiver gives the session's pid once it holds the lock.
fn take_the_migration_lock_when_released(
    url: &str,
) -> (
    std::sync::mpsc::Receiver<i32>,
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let url = url.to_string();
    let (pid_tx, pid_rx) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).expect("connect");
        c.batch_execute("SET application_name = 'thief'")
            .expect("application_name");
        let start = Instant::now();
        let held_by_backstop = "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND classid = (($1::int8 >> 32) & 4294967295)::oid AND objid = ($1::int8 & 4294967295)::oid AND objsubid = 1";
        while !c
            .query_one(held_by_backstop, &[&MIGRATION_LOCK])
            .expect("look")
            .get::<_, bool>(0)
        {
            assert!(start.elapsed() < Duration::from_secs(30), "no run started");
            std::thread::sleep(Duration::from_millis(10));
        }
        while !c
            .query_one("SELECT pg_try_advisory_lock($1)", &[&MIGRATION_LOCK])
            .expect("try")
            .get::<_, bool>(0)
        {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the lock was never released"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let pid: i32 = c
            .query_one("SELECT pg_backend_pid()", &[])
            .expect("pid")
            .get(0);
        let _ = pid_tx.send(pid);
        let _ = released.recv_timeout(Duration::from_secs(60));
    });
    (pid_rx, release, thread)
}

/// A statement that releases the migration lock while another session takes it: the run
/// stops before the migration's commit (its transaction rolls back), says who holds the lock
/// now and what to do, and writes nothing more, neither the failure's event nor the state
/// row: the other session may be a run writing to the ledger.
#[test]
fn a_run_whose_migration_lets_another_session_take_the_lock_stops_before_its_commit() {
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_tbl",
        "CREATE TABLE acct(id serial primary key, who text);",
        Some("DROP TABLE acct;"),
        None,
        None,
    );
    p.add(
        "2_data",
        "INSERT INTO acct(who) VALUES ('lost');\nDO $$ BEGIN PERFORM pg_advisory_unlock_all(); PERFORM pg_sleep(1.5); END $$;",
        Some("DELETE FROM acct;"),
        None,
        None,
    );
    p.ok(&db, &["apply", "--to", "1"]);
    let head = || {
        db.check("SELECT ledger_seq = 1 FROM backstop.state")
            && db.check("SELECT count(*) = 1 FROM backstop.events")
    };
    assert!(head());
    let (pid, release, thief) = take_the_migration_lock_when_released(&db.url);
    let r = p.run(&db, &["apply"]);
    let pid = pid
        .recv_timeout(Duration::from_secs(30))
        .expect("the other session took the lock");
    drop(release);
    thief.join().expect("thief");
    assert_eq!(r.code, 1, "{r:?}");
    let e = &r.stderr;
    assert!(
        e.contains("backstop's migration lock was released by the statement")
            && e.contains(&format!("pid {pid}"))
            && e.contains("'thief'"),
        "says what happened and who holds the lock: {r:?}"
    );
    assert!(
        e.contains("stopped before the migration's commit")
            && e.contains("migration 2 was rolled back"),
        "{r:?}"
    );
    assert!(
        e.contains("a migration must not release backstop's migration lock"),
        "says what to do: {r:?}"
    );
    assert!(
        e.contains("could not be recorded in the ledger"),
        "says why the failure is not in the ledger: {r:?}"
    );
    // Nothing of the migration, and nothing more written.
    assert!(db.check("SELECT count(*) = 0 FROM acct"));
    assert!(db.check("SELECT count(*) = 0 FROM backstop.migrations WHERE version = 2"));
    assert!(head(), "no event or state written after the lock was lost");
    p.ok(&db, &["audit", "verify"]);
}

/// Appends a valid event to the ledger and moves the state row's head to it, as another run
/// would, once a migration holds advisory lock `key` (its signal that it is running).
fn another_run_writes_when_migrating(url: &str, key: i64) -> std::thread::JoinHandle<()> {
    let url = url.to_string();
    std::thread::spawn(move || {
        let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).expect("connect");
        let start = Instant::now();
        while c
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .expect("try")
            .get::<_, bool>(0)
        {
            c.execute("SELECT pg_advisory_unlock($1)", &[&key])
                .expect("unlock");
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no migration started"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let last = c
            .query_one(
                "SELECT seq, hash FROM backstop.events ORDER BY seq DESC LIMIT 1",
                &[],
            )
            .expect("last event");
        let e = backstop_core::ledger::seal(
            backstop_core::ledger::NewEvent::new("refused")
                .detail(serde_json::json!({"command": "apply", "reason": "another run"})),
            "other-run",
            last.get(0),
            last.get::<_, &str>(1),
            backstop_core::now_rfc3339(),
        );
        let mut tx = c.transaction().expect("begin");
        tx.execute(
            "INSERT INTO backstop.events (seq, at, actor, kind, version, release_id, reason, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[&e.seq, &e.at, &e.actor, &e.kind, &e.version, &e.release_id, &e.reason, &e.detail, &e.prev_hash, &e.hash],
        )
        .expect("event");
        tx.execute(
            "UPDATE backstop.state SET ledger_seq = $1, ledger_hash = $2 WHERE id = 1",
            &[&e.seq, &e.hash],
        )
        .expect("head");
        tx.commit().expect("commit");
    })
}

/// Regression: a run whose ledger head another run had moved (one that got past the
/// migration lock) failed to record its migration on a duplicate ledger event, then saved
/// its own older head over the other run's at the end of the run: the ledger looked broken
/// (`audit verify`: "the recorded head is event 1") and `rollback` refused. The state row is
/// written compare-and-set on the head the run read: the record is refused (exit 3) saying
/// the ledger is intact, and the head is never set back.
#[test]
fn a_run_whose_ledger_head_another_run_moved_never_sets_it_back() {
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id int);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    p.add(
        "2_u",
        "SELECT pg_advisory_lock(4252);\nCREATE TABLE u (id int);\nSELECT pg_sleep(1);",
        Some("DROP TABLE u;"),
        None,
        None,
    );
    let other = another_run_writes_when_migrating(&db.url, 4252);
    let r = p.run(&db, &["apply"]);
    other.join().expect("the other run's write");
    assert_eq!(r.code, 3, "{r:?}");
    let e = &r.stderr;
    assert!(
        e.contains("migration 2 ran, but its record was refused")
            && e.contains("another run wrote to the ledger meanwhile")
            && e.contains("the ledger is intact"),
        "{r:?}"
    );
    assert!(e.contains("backstop status"), "says what to do: {r:?}");
    assert!(!e.contains("check the connection and permissions"), "{r:?}");
    // The other run's head stays; this run's migration left nothing.
    assert!(db.check("SELECT ledger_seq = 2 FROM backstop.state"));
    assert!(db.check("SELECT count(*) = 2 FROM backstop.events"));
    assert!(db.check("SELECT to_regclass('public.u') IS NULL"));
    p.ok(&db, &["audit", "verify"]);
    // The advice works: the next run applies it on top of the other run's event.
    p.ok(&db, &["apply"]);
    p.ok(&db, &["audit", "verify"]);
    p.ok(&db, &["rollback"]);
}
