//! Failure paths found in review; each test's first comment line names what it guards.
mod common;
use common::{Db, Kind, Project};
use std::time::Duration;

const NO_TX: &str = "transaction = false\n[contract]\ndata_loss = \"accepted\"\n";

#[test]
fn non_transactional_data_change_is_undone_by_down_before_claiming_clean() {
    // Regression: a failure after a data change was reported "nothing remains" while the change stayed.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add("1_acct", "CREATE TABLE acct (id int PRIMARY KEY, bal int);\nINSERT INTO acct VALUES (1, 100), (2, 200);", Some("DROP TABLE acct;"), None, None);
    p.add(
        "2_scale",
        "UPDATE acct SET bal = bal * 10;\nCREATE INDEX CONCURRENTLY acct_bad ON acct ((1 / 0));",
        Some("DROP INDEX CONCURRENTLY IF EXISTS acct_bad;\nUPDATE acct SET bal = bal / 10;"),
        None,
        Some(NO_TX),
    );
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("ran down.sql"), "{r:?}");
    assert!(
        db.check("SELECT sum(bal) = 300 FROM acct"),
        "the data change was undone"
    );
}

#[test]
fn non_transactional_change_without_down_is_left_dirty_not_called_clean() {
    // Regression: completed statements without a down script were reported as cleaned up.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_acct",
        "CREATE TABLE acct (id int PRIMARY KEY, bal int);\nINSERT INTO acct VALUES (1, 100);",
        Some("DROP TABLE acct;"),
        None,
        None,
    );
    p.add("2_scale", "UPDATE acct SET bal = bal * 10;\nCREATE INDEX CONCURRENTLY acct_bad ON acct ((1 / 0));", None, None, Some("transaction = false\nirreversible = true\nreason = \"one-off\"\n[contract]\ndata_loss = \"accepted\"\n"));
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(
        r.stderr.contains("no down.sql") && r.stderr.contains("1. line 1: UPDATE acct"),
        "{r:?}"
    );
    // What the migration left is the error's news, not a sign of another session.
    assert!(!r.stderr.contains("escaped tracking"), "{r:?}");
    assert_eq!(p.status(&db)["dirty"], serde_json::json!([2]));
}

#[test]
fn verify_failure_outside_a_transaction_lists_the_up_statements_that_ran() {
    // Regression: the exit-5 message counted verify statements as up statements ("(none)").
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_two",
        "CREATE TABLE a (x int);\nCREATE TABLE b (x int);",
        None,
        Some("SELECT 0;"),
        Some("transaction = false\nirreversible = true\nreason = \"test\"\n"),
    );
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(
        r.stderr.contains("1. line 1: CREATE TABLE a")
            && r.stderr.contains("2. line 2: CREATE TABLE b"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("2 of 2 statements") || r.stderr.contains("verify"),
        "{r:?}"
    );
}

#[test]
fn connection_lost_outside_a_transaction_needs_a_person() {
    // Regression: a lost connection after the dirty marker exited 2 without instructions.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_slow",
        "CREATE TABLE z1 (a int);\nSELECT pg_sleep(20);",
        Some("DROP TABLE IF EXISTS z1;"),
        None,
        Some("transaction = false\n"),
    );
    let child = p
        .cmd(&db, &["apply"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(1500));
    let name = db.url.rsplit('/').next().expect("db name").to_string();
    let mut admin =
        ::postgres::Client::connect(&backstop_postgres::testing::base_url(), ::postgres::NoTls)
            .expect("admin");
    admin
        .execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'backstop apply%'", &[&name])
        .expect("terminate");
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(
        err.contains("dirty")
            && err.contains("1. line 1: CREATE TABLE z1")
            && err.contains("resolve 1")
            // Which statement was running when the connection went.
            && err.contains("1_slow/up.sql:2:1: migration 1 (slow) up statement 2 failed")
            && err.contains("may or may not have completed"),
        "{err}"
    );
    // The ledger knows the migration started, whatever happened to the process.
    assert!(
        db.check(
            "SELECT count(*) = 1 FROM backstop.events WHERE kind = 'apply-started' AND version = 1"
        ),
        "{err}"
    );
}

#[test]
fn connection_lost_during_a_down_statement_outside_a_transaction_may_have_completed() {
    // Regression: a rollback step outside a transaction whose connection was cut off
    // during statement 2 said "stopped-part-way" and that statement 2 "failed" and did
    // not run; it may well have completed.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_two",
        "CREATE TABLE a (x int);\nCREATE TABLE b (x int);",
        Some("DROP TABLE b;\nSELECT pg_sleep(20);\nDROP TABLE a;"),
        None,
        Some("transaction = false\n"),
    );
    p.ok(&db, &["apply"]);
    let child = p
        .cmd(&db, &["--format", "json", "rollback"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let t = std::time::Instant::now();
    while !db.check("SELECT to_regclass('public.b') IS NULL") {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "statement 1 never ran"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let name = db.url.rsplit('/').next().expect("db name").to_string();
    let mut admin =
        ::postgres::Client::connect(&backstop_postgres::testing::base_url(), ::postgres::NoTls)
            .expect("admin");
    admin
        .execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'backstop rollback%'", &[&name])
        .expect("terminate");
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let needs = &v["needs_person"];
    assert_eq!(needs["situation"], "connection-lost", "{v}");
    assert_eq!(needs["statements"]["failed"]["index"], 2, "{v}");
    assert_eq!(
        needs["statements"]["failed_may_have_completed"], true,
        "{v}"
    );
    assert!(
        err.contains("may or may not have completed")
            && err.contains("1 of 3 down statements recorded as completed")
            && err.contains("resolve 1 --rolled-back"),
        "{err}"
    );
}

#[test]
fn deferred_constraint_failing_at_commit_is_an_ordinary_failure() {
    // Regression: a deferred FK failing at COMMIT was reported as "recording failed" (exit 5).
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add("1_fk", "CREATE TABLE p (id int PRIMARY KEY);\nCREATE TABLE c (pid int REFERENCES p DEFERRABLE INITIALLY DEFERRED);\nINSERT INTO c VALUES (1);", Some("DROP TABLE c;\nDROP TABLE p;"), None, None);
    let r = p.run(&db, &["--format", "json", "apply"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.json()["failure"]["statement"]
            .as_str()
            .expect("statement")
            .starts_with("COMMIT"),
        "{r:?}"
    );
    // The run's warnings travel with the failure (here: no backstop.sum).
    assert!(
        r.json()["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.contains("backstop.sum"))),
        "{r:?}"
    );
    assert!(db.check("SELECT to_regclass('public.c') IS NULL"));
    assert!(db.check("SELECT count(*) = 1 FROM backstop.events WHERE kind = 'apply-failed'"));
}

#[test]
fn atomic_refuses_to_promise_undoing_irreversible_migrations() {
    // Regression: --atomic ran the down script of an irreversible migration without --force.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_keep",
        "CREATE TABLE keep (x int);",
        Some("DROP TABLE keep;"),
        None,
        Some("irreversible = true\nreason = \"holds customer data\"\n"),
    );
    p.add(
        "2_fails",
        "INSERT INTO missing VALUES (1);",
        Some("SELECT 1;"),
        None,
        None,
    );
    let r = p.run(&db, &["apply", "--atomic"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("1_keep"), "{r:?}");
    assert_eq!(p.status(&db)["applied"], 0);
}

#[test]
fn json_output_stays_valid_when_redaction_applies_inside_strings() {
    // Regression: masking `password="…"` inside serialised JSON broke the document.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add("1_cfg", "CREATE TABLE cfg (k text, v text);\nINSERT INTO cfg VALUES ('dsn', 'password=\"changeme\"');", Some("DROP TABLE cfg;"), None, None);
    let j = p.ok(&db, &["--format", "json", "plan"]).json();
    assert!(!j.to_string().contains("changeme"));
}

#[test]
fn empty_override_reasons_are_refused() {
    // Regression: `--reason ""` satisfied the requirement for a reason.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (x int);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    let r = p.run(&db, &["apply", "--allow-drift", "--reason", "  "]);
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn a_run_that_loses_its_connection_does_not_claim_its_commits_are_durable() {
    // Migrations commit without waiting for the disk and the run ends with a durable
    // write. When the connection dies first, what committed is real but unconfirmed: the
    // report must say so (exit 5), not list it as done.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id int);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.add(
        "2_b",
        "CREATE TABLE b (id int);",
        Some("DROP TABLE b;"),
        None,
        None,
    );
    p.add(
        "3_gone",
        "SELECT pg_terminate_backend(pg_backend_pid());",
        Some("SELECT 1;"),
        None,
        None,
    );
    p.ok(&db, &["sum"]);
    let r = p.run(&db, &["--format", "json", "apply"]);
    assert_eq!(r.code, 5, "{r:?}");
    let j = r.json();
    assert_eq!(j["kind"], "needs-person", "{j}");
    let e = j["error"].as_str().expect("error");
    assert!(
        e.contains("[1, 2]") && e.contains("could not confirm"),
        "{e}"
    );
    // The same, as data: which commits are unconfirmed, and where the run stopped.
    let n = &j["needs_person"];
    assert_eq!(n["situation"], "not-durable", "{j}");
    assert_eq!(n["unconfirmed"], serde_json::json!([1, 2]), "{j}");
    assert_eq!(n["version"], 3, "{j}");
    assert_eq!(n["commands"][0]["command"], "backstop status", "{j}");
    // The server did not crash, so both are applied; status says so.
    let st = p.status(&db);
    let applied: Vec<i64> = st["migrations"]
        .as_array()
        .expect("migrations")
        .iter()
        .filter(|m| m["state"] == "applied")
        .map(|m| m["version"].as_i64().expect("version"))
        .collect();
    assert_eq!(applied, vec![1, 2], "{st}");
}

#[test]
fn cleanup_down_outside_a_transaction_keeps_the_migrations_lock_timeout() {
    // Regression: down.sql undoing a failed non-transactional migration ran without its
    // lock_timeout, queueing an ACCESS EXCLUSIVE request behind a long reader (and every
    // later query behind it).
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
        "2_z",
        "ALTER TABLE t ADD COLUMN z int;\nSELECT pg_advisory_xact_lock(4243), pg_sleep(0.5);\nSELECT 1 / 0;",
        Some("ALTER TABLE t DROP COLUMN z;"),
        None,
        Some("transaction = false\nlock_timeout = \"200ms\"\nretries = 0\n"),
    );
    // A reader takes t as soon as statement 2 runs, and keeps it for 3 s.
    let reader = common::when_migrating(
        &db.url,
        4243,
        "BEGIN; SELECT count(*) FROM t; SELECT pg_sleep(3); COMMIT".into(),
    );
    let r = p.run(&db, &["apply"]);
    reader.join().expect("join");
    // The down script timed out instead of waiting: the migration is left dirty for a
    // person, the column still there.
    assert_eq!(r.code, 5, "{r:?}");
    assert!(r.stderr.contains("lock timeout"), "{r:?}");
    assert_eq!(p.status(&db)["dirty"], serde_json::json!([2]));
    assert!(db.check("SELECT count(*) = 1 FROM information_schema.columns WHERE table_name = 't' AND column_name = 'z'"));
}

#[test]
fn non_transactional_rollback_retries_lock_timeouts_and_stays_applied_when_nothing_ran() {
    // Regression: outside a transaction a lock timeout in the down script was not retried,
    // and left the migration dirty although nothing had run.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id int);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.add(
        "2_z",
        "ALTER TABLE t ADD COLUMN z int;",
        Some("ALTER TABLE t DROP COLUMN z;"),
        None,
        Some("transaction = false\nlock_timeout = \"200ms\"\nretries = 5\n"),
    );
    p.add(
        "3_w",
        "ALTER TABLE t ADD COLUMN w int;",
        Some("ALTER TABLE t DROP COLUMN w;"),
        None,
        Some("transaction = false\nlock_timeout = \"200ms\"\nretries = 0\n"),
    );
    p.ok(&db, &["apply"]);
    let hold = |secs: f64| {
        let url = db.url.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let h = std::thread::spawn(move || {
            let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).expect("connect");
            c.batch_execute("BEGIN; SELECT count(*) FROM t")
                .expect("read");
            tx.send(()).expect("send");
            std::thread::sleep(Duration::from_secs_f64(secs));
            c.batch_execute("COMMIT").expect("commit");
        });
        rx.recv().expect("holding");
        h
    };
    // Without retries: nothing ran, so the migration is still applied, not dirty.
    let h = hold(1.0);
    let r = p.run(&db, &["rollback"]);
    h.join().expect("join");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("nothing of it ran"), "{r:?}");
    let st = p.status(&db);
    assert_eq!(st["dirty"], serde_json::json!([]), "{st}");
    assert_eq!(st["migrations"][2]["state"], "applied", "{st}");
    p.ok(&db, &["rollback"]);
    // Held longer than one lock_timeout, shorter than the retries: it goes through.
    let h = hold(1.0);
    let r = p.ok(&db, &["rollback"]);
    h.join().expect("join");
    assert!(r.stdout.contains("rolled back 2"), "{r:?}");
    assert!(
        r.stderr
            .contains("lock timeout in z (statement 1): retry 1/5"),
        "{r:?}"
    );
}

#[test]
fn an_unproven_rollback_undone_by_hand_is_resolved_as_rolled_back_once_it_matches() {
    // Regression: after an unproven rollback (exit 5) the advised `resolve --rolled-back`
    // refused an applied migration, leaving no way out; and resolve took the claim on trust.
    for kind in [Kind::Postgres, Kind::Sqlite] {
        let db = Db::new(kind);
        let p = Project::new();
        p.add(
            "1_t",
            "CREATE TABLE t (id int);",
            Some("DROP TABLE t;"),
            None,
            None,
        );
        p.add(
            "2_x",
            "ALTER TABLE t ADD COLUMN x int;\nCREATE TABLE t2 (id int);",
            Some("DROP TABLE t2;"),
            None,
            None,
        );
        p.add(
            "3_y",
            "CREATE TABLE t3 (id int);",
            Some("DROP TABLE t3;"),
            None,
            None,
        );
        p.ok(&db, &["apply"]);
        p.ok(&db, &["rollback"]);
        let r = p.run(&db, &["rollback"]);
        assert_eq!(r.code, 5, "{r:?}");
        assert!(
            r.stderr.contains("backstop resolve 2 --rolled-back"),
            "{r:?}"
        );
        // Not the newest applied one.
        let r = p.run(&db, &["resolve", "1", "--rolled-back", "--reason", "x"]);
        assert_eq!(r.code, 3, "{r:?}");
        // Still differs: refused, with what differs.
        let r = p.run(&db, &["resolve", "2", "--rolled-back", "--reason", "x"]);
        assert_eq!(r.code, 3, "{r:?}");
        assert!(r.stderr.contains("column x"), "{r:?}");
        db.exec("DROP TABLE t2");
        db.exec("ALTER TABLE t DROP COLUMN x");
        p.ok(
            &db,
            &[
                "resolve",
                "2",
                "--rolled-back",
                "--reason",
                "undid x by hand",
            ],
        );
        let st = p.status(&db);
        assert_eq!(st["migrations"][1]["state"], "rolled_back", "{st}");
        assert_eq!(st["drift"], serde_json::Value::Null, "{st}");
        // And it applies again.
        p.ok(&db, &["apply"]);
        assert_eq!(p.status(&db)["pending"], 0);
    }
}

#[test]
fn dry_runs_see_drift_and_targets_must_name_a_migration() {
    // Regression: `apply --dry-run` passed on a drifted schema the real apply refuses, and
    // `--to` took versions no migration has (a digit short undid everything).
    for kind in [Kind::Postgres, Kind::Sqlite] {
        let db = Db::new(kind);
        let p = Project::new();
        p.add(
            "20240101000000_a",
            "CREATE TABLE a (id int);",
            Some("DROP TABLE a;"),
            None,
            None,
        );
        p.add(
            "20240201000000_b",
            "CREATE TABLE b (id int);",
            Some("DROP TABLE b;"),
            None,
            None,
        );
        p.add(
            "20240301000000_c",
            "CREATE TABLE c (id int);",
            Some("DROP TABLE c;"),
            None,
            None,
        );
        for to in ["99", "202402010000", "-1"] {
            let r = p.run(&db, &["apply", &format!("--to={to}")]);
            assert_eq!(r.code, 2, "{to}: {r:?}");
            assert!(r.stderr.contains("no migration"), "{r:?}");
        }
        p.ok(&db, &["apply"]);
        let fp = p.fingerprint(&db);
        for to in ["202402010000", "-1", "5"] {
            let r = p.run(&db, &["rollback", &format!("--to={to}")]);
            assert_eq!(r.code, 2, "{to}: {r:?}");
        }
        assert_eq!(p.status(&db)["applied"], 3);
        let dry = p.ok(
            &db,
            &[
                "--format",
                "json",
                "rollback",
                "--dry-run",
                "--to",
                "20240101000000",
            ],
        );
        assert_eq!(dry.json()["fingerprint"], fp.as_str());
        assert_eq!(dry.json()["planned"].as_array().map(Vec::len), Some(2));

        db.exec("CREATE TABLE behind_our_back (id int)");
        p.add(
            "20240401000000_d",
            "CREATE TABLE d (id int);",
            Some("DROP TABLE d;"),
            None,
            None,
        );
        let r = p.run(&db, &["apply", "--dry-run"]);
        assert_eq!(r.code, 3, "{r:?}");
        assert!(r.stderr.contains("changed outside backstop"), "{r:?}");
        let r = p.ok(
            &db,
            &[
                "--format",
                "json",
                "apply",
                "--dry-run",
                "--allow-drift",
                "--reason",
                "ok",
            ],
        );
        assert!(
            r.json()["fingerprint"]
                .as_str()
                .is_some_and(|f| f.starts_with("sha256:")),
            "{r:?}"
        );
        let r = p.ok(&db, &["rollback", "--dry-run"]);
        assert!(r.all().contains("rollback will refuse"), "{r:?}");
        assert_eq!(p.status(&db)["applied"], 3, "dry runs change nothing");
        p.ok(
            &db,
            &["rollback", "--to", "0", "--allow-drift", "--reason", "test"],
        );
    }
}

#[test]
fn a_down_script_that_would_not_do_what_it_says_is_refused_at_apply() {
    // Regression: a transactional down script with PRAGMA foreign_keys = OFF (ignored inside
    // the transaction) was stored without a word; at rollback, rebuilding the parent table
    // ran ON DELETE CASCADE and emptied its children.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_base",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\nCREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INT NOT NULL REFERENCES users (id) ON DELETE CASCADE);",
        Some("DROP TABLE orders;\nDROP TABLE users;"),
        None,
        None,
    );
    p.add(
        "2_nick",
        "ALTER TABLE users ADD COLUMN nick TEXT;",
        Some("PRAGMA foreign_keys = OFF;\nCREATE TABLE u_old (id INTEGER PRIMARY KEY, email TEXT);\nINSERT INTO u_old SELECT id, email FROM users;\nDROP TABLE users;\nALTER TABLE u_old RENAME TO users;"),
        None,
        None,
    );
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr
            .contains("2_nick/down.sql:1:1 sqlite-pragma-in-transaction"),
        "{r:?}"
    );
    assert_eq!(p.status(&db)["applied"], 0, "nothing applied");
    // Up-script lock findings in a down script stay advisory (`lint` and `plan` show them).
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id int);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    let db = Db::new(Kind::Postgres);
    p.add(
        "2_i",
        "DROP INDEX IF EXISTS nothing_here;",
        Some("CREATE INDEX t_id ON t (id);"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
}

#[test]
fn a_concurrent_index_build_that_times_out_is_retried_after_its_invalid_index_is_dropped() {
    // Regression: the INVALID index a timed-out CREATE INDEX CONCURRENTLY left was dropped
    // under the same lock_timeout, which failed quietly; the retry then failed with
    // "already exists".
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id int PRIMARY KEY, n int);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    p.add(
        "2_n",
        "CREATE INDEX CONCURRENTLY t_n ON t (n);",
        Some("DROP INDEX CONCURRENTLY IF EXISTS t_n;"),
        None,
        Some("transaction = false\nlock_timeout = \"300ms\"\nretries = 3\n"),
    );
    // An open transaction with a snapshot: the build waits for it, past lock_timeout.
    let url = db.url.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).expect("connect");
        c.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM t")
            .expect("reader");
        tx.send(()).expect("send");
        std::thread::sleep(Duration::from_millis(1500));
        c.batch_execute("COMMIT").expect("commit");
    });
    rx.recv().expect("reading");
    let r = p.run(&db, &["apply"]);
    reader.join().expect("join");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("lock timeout in n (statement 1): retry 1/3"),
        "{r:?}"
    );
    assert!(db.check("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_n'::regclass"));
    assert!(db.check(
        "SELECT count(*) = 1 FROM pg_index WHERE indrelid = 't'::regclass AND NOT indisprimary"
    ));
}

#[test]
fn atomic_says_so_when_a_half_done_migration_keeps_it_from_undoing() {
    // Regression: with a dirty migration in the run, --atomic left the earlier migrations
    // applied without saying its promise was not kept.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id int);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.add(
        "2_half",
        "CREATE TABLE b (id int);\nSELECT 1 / 0;",
        Some("SELECT 1 / 0;"),
        None,
        Some("transaction = false\n"),
    );
    let r = p.run(&db, &["apply", "--atomic"]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(
        r.stderr
            .contains("--atomic did not undo the migration(s) this run applied before it ([1])")
            && r.stderr.contains("backstop rollback --release"),
        "{r:?}"
    );
    assert_eq!(p.status(&db)["dirty"], serde_json::json!([2]));
}

#[test]
fn a_failed_single_file_migration_names_its_file_as_what_to_fix() {
    // Regression: the next step said "fix migrations" (the folder holding every migration).
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    std::fs::write(
        p.dir().join("1_bad.sql"),
        "-- backstop:up\nCREATE TABLE a (id int);\nINSERT INTO nope VALUES (1);\n-- backstop:down\nDROP TABLE a;\n",
    )
    .expect("write");
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 1, "{r:?}");
    let want = format!("next: fix {} and run", p.dir().join("1_bad.sql").display());
    assert!(r.stderr.contains(&want), "{want}\n{r:?}");
}

#[test]
fn a_rollback_after_accepted_drift_may_not_destroy_the_drift() {
    // Regression: under --allow-drift a down script that also dropped the accepted drift
    // (DROP SCHEMA … CASCADE) matched the fingerprint recorded before the migration and
    // passed as proven, taking the drifted table and its rows with it.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_keep",
        "CREATE TABLE keep (id int);",
        Some("DROP TABLE keep;"),
        None,
        None,
    );
    p.add(
        "2_reporting",
        "CREATE SCHEMA reporting;\nCREATE TABLE reporting.cfg (k text);",
        Some("DROP SCHEMA reporting CASCADE;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    db.exec("CREATE TABLE reporting.daily (d date, n int)");
    db.exec("INSERT INTO reporting.daily VALUES (now(), 42)");
    let r = p.run(
        &db,
        &[
            "rollback",
            "--allow-drift",
            "--reason",
            "analyst table accepted",
        ],
    );
    assert_eq!(r.code, 5, "{r:?}");
    assert!(
        db.check("SELECT count(*) = 1 FROM reporting.daily"),
        "the drift survives"
    );
}

#[test]
fn resolve_does_not_mark_an_applied_migration_undone_without_a_failed_rollback() {
    // Regression: a data migration's schema equals the one before it, so resolve
    // --rolled-back accepted it, and the next apply ran it a second time.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_acct",
        "CREATE TABLE acct (id int PRIMARY KEY, bal numeric);\nINSERT INTO acct VALUES (1, 100);",
        Some("DROP TABLE acct;"),
        None,
        None,
    );
    p.add(
        "2_raise",
        "UPDATE acct SET bal = bal * 2;",
        Some("UPDATE acct SET bal = bal / 2;"),
        None,
        Some("[contract]\ndata_loss = \"accepted\"\n"),
    );
    p.ok(&db, &["apply"]);
    let r = p.run(&db, &["resolve", "2", "--rolled-back", "--reason", "x"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("no rollback of it has failed"), "{r:?}");
    p.ok(&db, &["apply"]);
    assert!(db.check("SELECT bal = 200 FROM acct"), "applied once");
}

#[test]
fn a_session_setting_one_migration_leaves_does_not_reach_the_next() {
    // Regression: on PostgreSQL a plain SET (session-level) outlived its migration, so the
    // next migration of the same run ran under it — and differently when run alone.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_set",
        "SET statement_timeout = '50ms';\nCREATE TABLE a (id int);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.add(
        "2_slow",
        "SELECT pg_sleep(0.3);\nCREATE TABLE b (id int);",
        Some("DROP TABLE b;"),
        None,
        None,
    );
    p.add(
        "3_path",
        "SELECT set_config('search_path', 'nowhere', false);",
        Some("SELECT 1;"),
        None,
        None,
    );
    p.add(
        "4_c",
        "CREATE TABLE c (id int);",
        Some("DROP TABLE c;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    assert!(
        db.check("SELECT to_regclass('public.c') IS NOT NULL"),
        "c found its schema"
    );
    p.ok(&db, &["rollback", "--to", "0"]);
}

#[test]
fn a_data_migrations_rollback_under_drift_must_leave_the_schema_alone() {
    // Regression: a data migration records no changed objects, so under --allow-drift its
    // rollback fell back to the fingerprint recorded before it: a down that also dropped
    // the accepted drift passed, and a right one was refused.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (a int);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.add(
        "2_data",
        "INSERT INTO t VALUES (1);",
        Some("DELETE FROM t WHERE a = 1;\nDROP TABLE IF EXISTS keepme;"),
        None,
        None,
    );
    p.add(
        "3_data",
        "INSERT INTO t VALUES (2);",
        Some("DELETE FROM t WHERE a = 2;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    db.exec("CREATE TABLE keepme (x int)");
    p.ok(
        &db,
        &["rollback", "--allow-drift", "--reason", "keepme stays"],
    );
    let r = p.run(
        &db,
        &["rollback", "--allow-drift", "--reason", "keepme stays"],
    );
    assert_eq!(r.code, 5, "{r:?}");
    assert!(db.check("SELECT to_regclass('public.keepme') IS NOT NULL"));
    // Its down script fails: the schema can't tell whether the data was undone by hand, so
    // resolve takes the person's word for it, says so, and records it as unchecked.
    let q = Project::new();
    q.add(
        "1_t",
        "CREATE TABLE t (a int);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    q.add(
        "2_data",
        "INSERT INTO t VALUES (1);",
        Some("DELETE FROM t WHERE a = 1;\nSELECT 1 / 0;"),
        None,
        None,
    );
    let db = Db::new(Kind::Postgres);
    q.ok(&db, &["apply"]);
    assert_eq!(q.run(&db, &["rollback"]).code, 1);
    db.exec("DELETE FROM t WHERE a = 1");
    let r = q.run(
        &db,
        &["resolve", "2", "--rolled-back", "--reason", "row 1 deleted"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.all().contains("was not checked"), "{r:?}");
    q.ok(&db, &["apply"]);
    assert!(db.check("SELECT count(*) = 1 FROM t"), "applied once");
}

#[test]
fn a_concurrent_index_build_cut_off_says_to_drop_its_invalid_index() {
    // A CREATE INDEX CONCURRENTLY whose connection dies leaves its index INVALID; the
    // advice to run the statement again by hand failed with "already exists".
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_idx",
        "CREATE TABLE t (v int);\nCREATE INDEX CONCURRENTLY t_v ON t (v);",
        Some("DROP INDEX CONCURRENTLY IF EXISTS t_v;\nDROP TABLE t;"),
        None,
        Some("transaction = false\n"),
    );
    // An open snapshot makes the build wait for it.
    let mut reader = ::postgres::Client::connect(&db.url, ::postgres::NoTls).expect("reader");
    reader
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1;")
        .expect("snapshot");
    let child = p
        .cmd(&db, &["apply"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let name = db.url.rsplit('/').next().expect("db name").to_string();
    let mut admin =
        ::postgres::Client::connect(&backstop_postgres::testing::base_url(), ::postgres::NoTls)
            .expect("admin");
    // Wait until the build is waiting, then cut it off.
    let start = std::time::Instant::now();
    while !admin
        .query_one(
            "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'",
            &[&name],
        )
        .expect("poll")
        .get::<_, bool>(0)
    {
        assert!(start.elapsed() < Duration::from_secs(30), "the build never waited");
        std::thread::sleep(Duration::from_millis(50));
    }
    admin
        .execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'backstop apply%'", &[&name])
        .expect("terminate");
    let out = child.wait_with_output().expect("wait");
    reader.batch_execute("COMMIT").expect("commit");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(
        err.contains("NOT indisvalid") && err.contains("DROP INDEX CONCURRENTLY"),
        "{err}"
    );
}

#[test]
fn the_progress_of_a_statement_outside_a_transaction_waits_lock_wait_not_its_lock_timeout() {
    // Regression: on PostgreSQL the progress write after a statement outside a transaction
    // waited under the migration's lock_timeout (meant for its statements), so a session
    // that held backstop.migrations briefly failed the migration.
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
    let before = p.fingerprint(&db);
    p.add(
        "2_n",
        "CREATE TABLE u (id int);\nSELECT pg_advisory_xact_lock(4251), pg_sleep(0.5);\nCREATE INDEX u_id ON u (id);",
        Some("DROP INDEX IF EXISTS u_id;\nDROP TABLE IF EXISTS u;"),
        None,
        Some("transaction = false\nlock_timeout = \"200ms\"\nretries = 0\n"),
    );
    // Takes backstop.migrations while statement 2 runs, and lets go 2.5 s later.
    let holder = common::TableHolder::when_migrating(
        &db.url,
        4251,
        "backstop.migrations",
        Duration::from_millis(2500),
    );
    let r = p.run(&db, &["apply", "--lock-wait", "30s"]);
    let pid = holder.pid();
    holder.release();
    assert_eq!(r.code, 0, "{r:?}");
    // The wait was said, naming the session that holds the lock.
    assert!(r.stderr.contains("waiting up to 30s"), "{r:?}");
    assert!(
        r.stderr.contains(&format!("pid {pid}")) && r.stderr.contains("lock-holder"),
        "{r:?}"
    );
    assert!(db.check(
        "SELECT status = 'applied' AND progress = 3 FROM backstop.migrations WHERE version = 2"
    ));
    p.ok(&db, &["audit", "verify"]);
    p.ok(&db, &["rollback"]);
    assert_eq!(p.fingerprint(&db), before);
}

#[test]
fn a_down_script_that_undoes_accepted_drift_is_named_for_it_and_resolves_as_advised() {
    // Regression: under accepted drift a down script that also dropped a column added by
    // hand was reported as "expected fingerprint X, got X" (the same fingerprint twice:
    // the one recorded before the migration predates the drift) and as "incomplete".
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_setup",
        "CREATE TABLE t (id int, a int);\nCREATE TABLE x (id int);",
        Some("DROP TABLE x;\nDROP TABLE t;"),
        None,
        None,
    );
    p.add(
        "2_chg",
        "ALTER TABLE t ADD COLUMN z int;\nALTER TABLE t ALTER a SET DEFAULT 1;",
        Some("ALTER TABLE t DROP COLUMN z;\nALTER TABLE t ALTER a DROP DEFAULT;\nALTER TABLE x DROP COLUMN hand;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    db.exec("ALTER TABLE x ADD COLUMN hand int");
    let r = p.run(
        &db,
        &[
            "rollback",
            "--steps",
            "1",
            "--allow-drift",
            "--reason",
            "kept",
        ],
    );
    assert_eq!(r.code, 5, "{r:?}");
    let e = &r.stderr;
    assert!(
        e.contains("rollback of migration 2 (chg) could not be proven: drift was accepted since it was applied, so the step must leave the objects it changed as before it and every other object as it was before the step, but its down script changed objects the migration did not change (table public.x); the schema is now exactly the one recorded before the migration, so the down script undid accepted drift too"),
        "{r:?}"
    );
    assert!(!e.contains("expected fingerprint"), "{r:?}");
    assert!(!e.contains("incomplete"), "{r:?}");
    assert!(e.contains("-   column hand integer"), "{r:?}");
    assert!(
        db.check("SELECT count(*) = 1 FROM information_schema.columns WHERE table_name = 'x' AND column_name = 'hand'"),
        "the step was rolled back"
    );
    // The advice, followed: the migration's own changes undone by hand, the drift kept.
    db.exec("ALTER TABLE t DROP COLUMN z; ALTER TABLE t ALTER a DROP DEFAULT");
    p.ok(
        &db,
        &[
            "resolve",
            "2",
            "--rolled-back",
            "--reason",
            "undone by hand",
        ],
    );
    let st = p.status(&db);
    assert!(st["drift"].is_null(), "{st}");
}

#[test]
fn a_rollback_under_accepted_drift_says_which_steps_were_proven_by_their_objects() {
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id int);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.add(
        "2_c",
        "ALTER TABLE t ADD COLUMN c int;",
        Some("ALTER TABLE t DROP COLUMN c;"),
        None,
        None,
    );
    p.add(
        "3_d",
        "ALTER TABLE t ADD COLUMN d int;",
        Some("ALTER TABLE t DROP COLUMN d;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    // No drift: nothing said about it.
    let r = p.ok(&db, &["rollback", "--steps", "1"]);
    assert!(
        r.stdout.contains("rolled back 3 d  (")
            && r.stdout.contains("schema fingerprint restored to"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains(
            "1 migration(s) rolled back, each proven against the schema recorded before it\n"
        ),
        "{r:?}"
    );
    assert!(!r.stdout.contains("drift"), "{r:?}");
    db.exec("CREATE TABLE other (id int)");
    let r = p.ok(
        &db,
        &[
            "rollback",
            "--steps",
            "1",
            "--allow-drift",
            "--reason",
            "kept",
        ],
    );
    assert!(
        r.stdout.contains(
            "its objects as before it, the rest as before the step; schema fingerprint now"
        ),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("(1 of them applied before drift that was accepted"),
        "{r:?}"
    );
    let p2 = p.run(&db, &["--format", "json", "rollback", "--steps", "1"]);
    assert_eq!(p2.code, 0, "{p2:?}");
    let v: serde_json::Value = serde_json::from_str(&p2.stdout).expect("json");
    assert_eq!(v["rolled_back"][0]["by_objects"], true, "{v}");
}

#[test]
fn commands_that_read_backstops_tables_wait_lock_wait_for_another_sessions_lock_then_name_it() {
    // Regression: with another session holding `LOCK TABLE backstop.state` (or events, or
    // migrations), status, apply, rollback, verify, audit and resolve hung silently past
    // --lock-wait, a hung apply holding the migration lock meanwhile.
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
        "CREATE TABLE u (id int);",
        Some("DROP TABLE u;"),
        None,
        None,
    );
    let every: &[&[&str]] = &[
        &["status"],
        &["verify"],
        &["audit", "verify"],
        &["audit", "log"],
        &["resolve", "1", "--applied", "--reason", "x"],
        &["apply"],
        &["rollback"],
    ];
    for (table, commands) in [
        ("backstop.state", every),
        ("backstop.events", &[&["audit", "log"][..], &["apply"]][..]),
        ("backstop.migrations", &[&["status"][..], &["rollback"]][..]),
    ] {
        let holder = common::TableHolder::now(
            &db.url,
            &format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"),
            Duration::from_secs(60),
        );
        let pid = holder.pid();
        for args in commands {
            let args = [&["--lock-wait", "1s"][..], args].concat();
            let t = std::time::Instant::now();
            let r = p.run(&db, &args);
            let took = t.elapsed();
            assert_eq!(r.code, 4, "{table} {args:?}: {r:?}");
            assert!(
                took >= Duration::from_millis(900) && took < Duration::from_secs(6),
                "{table} {args:?} gave up after --lock-wait: {took:?}"
            );
            let e = &r.stderr;
            assert!(
                e.contains("reading backstop's tables waited --lock-wait (1s)")
                    && e.contains(&format!("pid {pid}, application \"lock-holder\""))
                    && e.contains(&format!("AccessExclusiveLock on {table}"))
                    && e.contains("in a transaction since")
                    && e.contains("Nothing was changed"),
                "names the holder, its lock and table, and says nothing changed: {table} {args:?}: {r:?}"
            );
        }
        if table == "backstop.state" {
            // Said while it waits, and as JSON a lock timeout.
            let r = p.run(&db, &["--lock-wait", "2s", "--format", "json", "status"]);
            assert_eq!(r.code, 4, "{r:?}");
            assert_eq!(r.json()["kind"], "lock-timeout", "{r:?}");
            let r = p.run(&db, &["--lock-wait", "2s", "status"]);
            assert!(
                r.stderr.contains(
                    "waiting up to 2s to read backstop's tables: another session holds one"
                ),
                "{r:?}"
            );
        }
        holder.release();
    }
    // Nothing was changed meanwhile, and the migration lock is free.
    assert!(db.check("SELECT to_regclass('public.u') IS NULL"));
    assert!(db.check("SELECT count(*) = 1 FROM backstop.events"));
    p.ok(&db, &["audit", "verify"]);
    p.ok(&db, &["--lock-wait", "1s", "apply"]);
}

#[test]
fn a_record_in_the_migrations_transaction_waits_lock_wait_is_retried_and_reported_as_rolled_back() {
    // Regression: with another session holding `SELECT * FROM backstop.state FOR UPDATE`,
    // the record written in a migration's transaction waited under the migration's
    // lock_timeout (none: without limit, its locks on user tables held meanwhile), then was
    // reported as exit 5 "check the connection and permissions", not retried, not in the
    // ledger and not said so, and the end-of-run save waited out the holder.
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
    let dir = p.add(
        "2_u",
        "CREATE TABLE u (id int);",
        Some("DROP TABLE u;"),
        None,
        Some("lock_timeout = \"1s\"\nretries = 1\n"),
    );
    let holder = common::TableHolder::now(
        &db.url,
        "SELECT * FROM backstop.state FOR UPDATE",
        Duration::from_secs(60),
    );
    let pid = holder.pid();
    let t = std::time::Instant::now();
    let r = p.run(&db, &["apply", "--lock-wait", "1s"]);
    let took = t.elapsed();
    assert_eq!(r.code, 1, "{r:?}");
    let e = &r.stderr;
    assert!(
        e.contains("lock timeout recording u in backstop's tables: rolled back; retry 1/1"),
        "retried as a statement's lock timeout: {r:?}"
    );
    assert!(
        e.contains("the record of this step in backstop's tables")
            && e.contains("waited --lock-wait (1s) for a lock on backstop's tables")
            && e.contains(&format!("pid {pid}, application \"lock-holder\""))
            && e.contains("RowShareLock on backstop.state"),
        "says which write waited and who holds what: {r:?}"
    );
    assert!(
        e.contains("migration 2 was rolled back after 1 retries on lock timeout")
            && e.contains("this failure could not be recorded in the ledger"),
        "{r:?}"
    );
    assert!(e.contains("run with a longer --lock-wait"), "{r:?}");
    assert!(!e.contains("check the connection and permissions"), "{r:?}");
    // Two waits of --lock-wait, the backoff, then a second each for the failure's event,
    // the end-of-run save and the flush: not the holder's minute.
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(db.check("SELECT to_regclass('public.u') IS NULL"));
    assert!(db.check("SELECT count(*) = 0 FROM backstop.migrations WHERE version = 2"));

    // Without a lock_timeout of its own the record waits --lock-wait too, not without limit.
    std::fs::write(dir.join("migration.toml"), "retries = 0\n").expect("write");
    let t = std::time::Instant::now();
    let r = p.run(&db, &["--format", "json", "apply", "--lock-wait", "1s"]);
    let took = t.elapsed();
    assert_eq!(r.code, 1, "{r:?}");
    let j = r.json();
    assert_eq!(j["kind"], "migration-failed", "{r:?}");
    assert!(
        j["failure"]["statement"]
            .as_str()
            .is_some_and(|s| s.contains("the record of this step")),
        "{r:?}"
    );
    assert_eq!(j["failure"]["code"], "55P03", "{r:?}");
    assert!(took < Duration::from_secs(8), "{took:?}");
    holder.release();
    assert!(db.check("SELECT to_regclass('public.u') IS NULL"));
    p.ok(&db, &["audit", "verify"]);
    p.ok(&db, &["apply"]);
    p.ok(&db, &["audit", "verify"]);
}

/// Migrations 1 (table t), 2 (table a), 3 (a column of t, with a short lock_timeout and no
/// retries) and 4 (table u): with t held by another session, 3 times out, in apply and
/// rollback alike.
fn four_with_a_lockable_third(p: &Project) {
    p.add(
        "1_t",
        "CREATE TABLE t (id int);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.add(
        "2_a",
        "CREATE TABLE a (id int);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.add(
        "3_z",
        "ALTER TABLE t ADD COLUMN z int;",
        Some("ALTER TABLE t DROP COLUMN z;"),
        None,
        Some("lock_timeout = \"200ms\"\nretries = 0\n"),
    );
    p.add(
        "4_u",
        "CREATE TABLE u (id int);",
        Some("DROP TABLE u;"),
        None,
        None,
    );
}

#[test]
fn after_a_lock_timeout_apply_is_advised_again_with_its_target() {
    // Regression: `apply --to 3` that timed out on a lock said to run `backstop apply`
    // again, which would also have applied 4.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    four_with_a_lockable_third(&p);
    p.ok(&db, &["apply", "--to", "2"]);
    let holder =
        common::TableHolder::now(&db.url, "SELECT count(*) FROM t", Duration::from_secs(60));
    let r = p.run(&db, &["apply", "--to", "3"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("run `backstop apply --to 3` again"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("`backstop apply` again"), "{r:?}");
    let r = p.run(&db, &["apply", "--to", "3", "--atomic"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("run `backstop apply --to 3 --atomic` again"),
        "{r:?}"
    );
    holder.release();
    // Followed as said, it stops where the run was to stop.
    p.ok(&db, &["apply", "--to", "3", "--atomic"]);
    let st = p.status(&db);
    assert_eq!(st["migrations"][2]["state"], "applied", "{st}");
    assert_eq!(st["migrations"][3]["state"], "pending", "{st}");
}

#[test]
fn a_rollback_that_stops_part_way_is_advised_again_with_what_is_left_of_it() {
    // Regression: a rollback that failed at a later step said to run `backstop rollback`
    // again, which undoes only the newest migration, not the rest of the run.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    four_with_a_lockable_third(&p);
    p.ok(&db, &["apply"]);
    let holder =
        common::TableHolder::now(&db.url, "SELECT count(*) FROM t", Duration::from_secs(60));
    // `--to 0`: 4 is undone, 3 times out.
    let r = p.run(&db, &["rollback", "--to", "0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("rolled back 4 u"), "{r:?}");
    assert!(
        r.stderr.contains("run `backstop rollback --to 0` again"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("`backstop rollback` again"), "{r:?}");
    // `--steps 2` from 4 applied: 4 is undone, 3 times out; what is left of it is 3 alone,
    // which `--to 2` undoes (`--steps 2` again would undo 2 as well).
    holder.release();
    p.ok(&db, &["apply"]);
    let holder =
        common::TableHolder::now(&db.url, "SELECT count(*) FROM t", Duration::from_secs(60));
    let r = p.run(&db, &["rollback", "--steps", "2"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("run `backstop rollback --to 2` again"),
        "{r:?}"
    );
    let st = p.status(&db);
    assert_eq!(st["migrations"][3]["state"], "rolled_back", "{st}");
    assert_eq!(st["migrations"][2]["state"], "applied", "{st}");
    holder.release();
    // Followed as said, it undoes exactly the rest of the run.
    p.ok(&db, &["rollback", "--to", "2"]);
    let st = p.status(&db);
    assert_eq!(st["migrations"][2]["state"], "rolled_back", "{st}");
    assert_eq!(st["migrations"][1]["state"], "applied", "{st}");
}
