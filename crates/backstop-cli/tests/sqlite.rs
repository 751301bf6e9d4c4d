//! SQLite end to end: the embedded default's own failure modes, on real database files.
mod common;
use common::{Db, Kind, Project};

#[test]
fn a_down_that_changes_the_case_of_double_quoted_strings_is_not_a_proven_rollback() {
    // Regression: "Open" and "open" (strings to SQLite) printed alike, so rollback exited 0.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_t",
        r#"CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT DEFAULT "Open" CHECK (s IN ("Open", "Closed")));"#,
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.add(
        "2_lower",
        "CREATE TABLE t2 (id INTEGER PRIMARY KEY, s TEXT DEFAULT \"open\" CHECK (s IN (\"open\", \"closed\")));\n\
         INSERT INTO t2 SELECT id, lower(s) FROM t;\nDROP TABLE t;\nALTER TABLE t2 RENAME TO t;",
        Some("SELECT 1;"),
        None,
        Some("[contract]\ndata_loss = \"accepted\"\n"),
    );
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply"]);
    let r = p.run(&db, &["rollback"]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(
        r.stderr.contains("-   check (s in('Open', 'Closed'))")
            && r.stderr.contains("+   check (s in('open', 'closed'))"),
        "{r:?}"
    );
}

#[test]
fn a_begin_in_a_non_transactional_migration_is_refused_and_history_agrees() {
    // Regression: the script's BEGIN swallowed backstop's records; exit 1 said rolled_back
    // while the row stayed dirty and the failure event was lost.
    for up in [
        "BEGIN;\nCREATE TABLE b (y);\nINSERT INTO nope VALUES (1);\nCOMMIT;",
        "BEGIN;\nCREATE TABLE b (y);",
    ] {
        let db = Db::new(Kind::Sqlite);
        let p = Project::new();
        p.add(
            "1_a",
            "CREATE TABLE a (x);",
            Some("DROP TABLE a;"),
            None,
            None,
        );
        p.add(
            "2_n",
            up,
            Some("DROP TABLE b;"),
            None,
            Some("transaction = false\n"),
        );
        p.ok(&db, &["sum"]);
        let r = p.run(
            &db,
            &[
                "apply",
                "--allow",
                "transaction-control",
                "--reason",
                "test",
            ],
        );
        assert_eq!(r.code, 1, "{up}: {r:?}");
        assert!(
            r.stderr.contains("BEGIN is refused")
                && r.stderr.contains("history marks it rolled_back"),
            "{r:?}"
        );
        assert!(db.check(&format!(
            "SELECT status = 'rolled_back' FROM {} WHERE version = 2",
            db.t("migrations")
        )));
        assert!(db.check(&format!(
            "SELECT count(*) = 1 FROM {} WHERE kind = 'apply-failed' AND version = 2",
            db.t("events")
        )));
        assert!(db.check("SELECT count(*) = 0 FROM sqlite_schema WHERE name = 'b'"));
        p.ok(&db, &["audit", "verify"]);
    }
}

#[test]
fn commands_wait_for_a_busy_database_as_long_as_lock_wait_and_name_the_holder() {
    // Regression: while a long migration held the file, apply failed after a fixed 5 s with
    // "database is locked" (exit 2) before trying the migration lock; status failed too.
    use backstop_core::driver::{Driver, LockAttempt};
    use std::time::{Duration, Instant};

    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (x);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply"]);
    p.add(
        "2_b",
        "CREATE TABLE b (x);",
        Some("DROP TABLE b;"),
        None,
        None,
    );
    p.ok(&db, &["sum"]);

    let mut holder = backstop_sqlite::connect(&db.url).expect("connect");
    holder.set_application_name("backstop apply (ann)");
    assert_eq!(holder.try_lock().expect("lock"), LockAttempt::Acquired);
    // Keeps the file locked, as a migration whose transaction spilled to disk does.
    holder
        .execute("PRAGMA locking_mode = EXCLUSIVE")
        .expect("pragma");
    holder.execute("INSERT INTO a VALUES (1)").expect("write");

    let started = Instant::now();
    let r = p.run(&db, &["apply", "--lock-wait", "1s"]);
    let waited = started.elapsed();
    assert_eq!(r.code, 4, "{r:?}");
    assert!(waited < Duration::from_secs(4), "{waited:?} {r:?}");
    assert!(
        r.stderr.contains("the migration lock on") && r.stderr.contains("backstop apply (ann)"),
        "{r:?}"
    );

    let r = p.run(&db, &["status", "--lock-wait", "1s"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr.contains("waiting up to 1s") && r.stderr.contains("backstop apply (ann)"),
        "{r:?}"
    );
    let r = p.run(&db, &["--format", "json", "status", "--lock-wait", "1s"]);
    assert_eq!(r.json()["kind"], "lock-timeout", "{r:?}");

    drop(holder);
    let r = p.ok(&db, &["status", "--lock-wait", "1s"]);
    assert!(r.stdout.contains("1 applied, 1 pending"), "{r:?}");
    p.ok(&db, &["apply", "--lock-wait", "1s"]);
}

#[test]
fn a_deleted_state_row_is_drift_and_the_ledger_goes_on() {
    // Regression: drift detection turned off and the next apply failed with
    // "UNIQUE constraint failed" on the ledger (a duplicate key on PostgreSQL).
    for kind in [Kind::Sqlite, Kind::Postgres] {
        let db = Db::new(kind);
        let p = Project::new();
        p.add(
            "1_a",
            "CREATE TABLE a (x int);",
            Some("DROP TABLE a;"),
            None,
            None,
        );
        p.ok(&db, &["sum"]);
        p.ok(&db, &["apply"]);
        p.add(
            "2_b",
            "CREATE TABLE b (x int);",
            Some("DROP TABLE b;"),
            None,
            None,
        );
        p.ok(&db, &["sum"]);
        db.exec(&format!("DELETE FROM {}", db.t("state")));
        // No recorded head: a deleted tail would go unnoticed, so the ledger is not intact.
        let r = p.run(&db, &["audit", "verify"]);
        assert_eq!(r.code, 3, "{r:?}");
        assert!(!p.status(&db)["drift"].is_null(), "{}", p.status(&db));
        let r = p.run(&db, &["apply"]);
        assert_eq!(r.code, 3, "{r:?}");
        assert!(r.stderr.contains("state row was deleted"), "{r:?}");
        p.ok(
            &db,
            &["apply", "--allow-drift", "--reason", "state row lost"],
        );
        p.ok(&db, &["audit", "verify"]);
        assert!(p.status(&db)["drift"].is_null());
    }
}

#[test]
fn audit_verify_names_an_event_whose_column_was_given_another_type() {
    // Regression: exit 2 "Invalid column type Blob" instead of exit 3 naming the event.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (x);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.add(
        "2_b",
        "CREATE TABLE b (x);",
        Some("DROP TABLE b;"),
        None,
        None,
    );
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply"]);
    db.exec("UPDATE backstop_events SET actor = X'41' WHERE seq = 2");
    let r = p.run(&db, &["audit", "verify"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.all().contains("event 2"), "{r:?}");
}

#[test]
fn zero_timeouts_mean_no_limit() {
    // Regression: statement_timeout = "0s" interrupted every statement at once on SQLite,
    // where PostgreSQL takes 0 as no limit.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_fill",
        "CREATE TABLE n (x);\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) INSERT INTO n SELECT x FROM c;",
        Some("DROP TABLE n;"),
        None,
        Some("statement_timeout = \"0s\"\nlock_timeout = \"0s\"\n"),
    );
    p.ok(&db, &["apply"]);
    assert!(db.check("SELECT count(*) = 200000 FROM n"));
}

#[test]
fn commands_that_check_a_database_do_not_create_one_at_a_mistyped_path() {
    // Regression: `audit verify` on a mistyped path created an empty file and called its
    // ledger intact; `status`, `plan`, `schema` and dry runs created an empty file too.
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);\n",
        Some("DROP TABLE t;\n"),
        None,
        None,
    );
    let missing = p.tmp.path().join("typo.db");
    let url = format!("sqlite://{}", missing.display());
    let run = |args: &[&str]| {
        std::process::Command::new(common::BIN)
            .current_dir(p.tmp.path())
            .env("BACKSTOP_ACTOR", "tester")
            .args(["--database-url", &url, "--dir"])
            .arg(p.dir())
            .args(args)
            .output()
            .expect("run")
    };
    // Commands that vouch for a database refuse one that isn't there.
    for args in [
        &["audit", "verify"][..],
        &["verify"],
        &["audit", "log"],
        &["audit", "export"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("no such SQLite database")
                && err.contains(&missing.display().to_string())
                && err.contains("nothing was created"),
            "{args:?}: {err}"
        );
        assert!(!missing.exists(), "{args:?} created the file");
    }
    // Commands that show what is there and what would happen show an empty database, say
    // so with the path, and don't create it.
    for args in [
        &["status"][..],
        &["plan"],
        &["schema"],
        &["apply", "--dry-run"],
        &["rollback", "--dry-run"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&missing.display().to_string())
                && err.contains("does not exist yet")
                && err.contains("nothing was created"),
            "{args:?}: {err}"
        );
        assert!(!missing.exists(), "{args:?} created the file");
    }
    let out = run(&["--format", "json", "status"]);
    let st: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(st["pending"], 1, "{st}");
    assert!(!missing.exists());
    // Commands that write create it.
    let out = std::process::Command::new(common::BIN)
        .current_dir(p.tmp.path())
        .env("BACKSTOP_ACTOR", "tester")
        .args(["--database-url", &url, "--dir"])
        .arg(p.dir())
        .arg("apply")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(missing.is_file());
}

#[test]
fn a_relative_sqlite_path_in_backstop_toml_is_relative_to_the_file() {
    // `dir` in backstop.toml is relative to the file; the database next to it must be too,
    // or a run from another directory reaches (and creates) another database.
    let tmp = tempfile::tempdir().expect("tmp");
    let conf = tmp.path().join("conf");
    std::fs::create_dir_all(conf.join("migrations/1_t")).expect("mkdir");
    std::fs::write(
        conf.join("migrations/1_t/up.sql"),
        "CREATE TABLE t (id INTEGER);\n",
    )
    .expect("w");
    std::fs::write(conf.join("migrations/1_t/down.sql"), "DROP TABLE t;\n").expect("w");
    std::fs::write(
        conf.join("backstop.toml"),
        "database_url = \"sqlite://app.db\"\ndir = \"migrations\"\n",
    )
    .expect("w");
    let run = |args: &[&str]| {
        std::process::Command::new(common::BIN)
            .current_dir(tmp.path())
            .env_remove("DATABASE_URL")
            .env("BACKSTOP_ACTOR", "tester")
            .args(["--config", "conf/backstop.toml"])
            .args(args)
            .output()
            .expect("run")
    };
    // Before the first apply: the note names the file beside the config, not one here.
    let out = run(&["status"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&conf.join("app.db").display().to_string()),
        "{out:?}"
    );
    let out = run(&["apply"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(conf.join("app.db").is_file());
    assert!(!tmp.path().join("app.db").exists());
    let out = run(&["--format", "json", "status"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn plan_and_apply_agree_on_a_target_and_say_what_is_left() {
    // Regression: `plan --to V` with no migration V exited 0 while apply exited 2, and
    // `apply --to V` with V applied and later migrations pending said "up to date".
    let p = Project::new();
    let db = Db::new(Kind::Sqlite);
    for (v, t) in [(1, "a"), (2, "b"), (3, "customers")] {
        p.add(
            &format!("{v}_{t}"),
            &format!("CREATE TABLE {t} (id INTEGER);\n"),
            Some(&format!("DROP TABLE {t};\n")),
            None,
            None,
        );
    }
    for cmd in [&["plan", "--to", "9"][..], &["apply", "--to", "9"]] {
        let r = p.run(&db, cmd);
        assert_eq!(r.code, 2, "{cmd:?}: {r:?}");
        assert!(
            r.stderr
                .contains("no migration in the migrations folder has version 9"),
            "{r:?}"
        );
    }
    // The SQLite lock reads as a phrase: no "lock lock".
    let plan = p.ok(&db, &["plan"]);
    assert!(
        plan.stdout.contains("database write lock on customers"),
        "{plan:?}"
    );
    assert!(!plan.stdout.contains("lock lock"), "{plan:?}");

    p.ok(&db, &["apply", "--to", "2"]);
    // plan says the same as apply about what --to leaves out.
    let r = p.ok(&db, &["plan", "--to", "1"]);
    assert!(r.stdout.contains("still pending after --to: 3"), "{r:?}");
    let j = p.ok(&db, &["--format", "json", "plan", "--to", "2"]).json();
    assert_eq!(j["remaining"], serde_json::json!([3]), "{j}");
    let r = p.ok(&db, &["apply", "--to", "1"]);
    assert!(!r.stdout.contains("up to date"), "{r:?}");
    assert!(
        r.stdout.contains("1 is already applied") && r.stdout.contains("3 customers"),
        "{r:?}"
    );
    let j = p
        .ok(&db, &["--format", "json", "apply", "--to", "2"])
        .json();
    assert_eq!(j["applied"], serde_json::json!([]));
    assert_eq!(j["remaining"], serde_json::json!([3]));
    let j = p.ok(&db, &["--format", "json", "apply"]).json();
    assert_eq!(j["remaining"], serde_json::json!([]));
    assert!(p.ok(&db, &["apply"]).stdout.contains("up to date"));
}

#[test]
fn a_dropped_trigger_whose_on_clause_spells_its_table_in_another_case_is_not_a_proven_rollback() {
    // Regression: the trigger was missing from the fingerprint, so a down script that did
    // not re-create it rolled back "proven" (exit 0).
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_orders",
        "CREATE TABLE Orders(id INTEGER PRIMARY KEY,total INT NOT NULL);\n\
         CREATE TRIGGER orders_no_negative BEFORE INSERT ON orders WHEN new.total<0 BEGIN SELECT RAISE(ABORT,'neg'); END;",
        Some("DROP TABLE Orders;"),
        None,
        None,
    );
    p.add(
        "2_drop_trigger",
        "DROP TRIGGER orders_no_negative;",
        Some("SELECT 1;"),
        None,
        None,
    );
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply"]);
    let r = p.run(&db, &["rollback"]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(r.stderr.contains("orders_no_negative"), "{r:?}");
}

#[test]
fn vacuum_runs_in_a_non_transactional_migration() {
    // Regression: VACUUM's internal transaction was refused as the script's own BEGIN.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (x);\nINSERT INTO a VALUES (1);\nDELETE FROM a;",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.add(
        "2_vacuum",
        "-- backstop:allow cluster-or-vacuum-full a small database\nVACUUM;\n\
         -- backstop:allow cluster-or-vacuum-full a small database\nVACUUM INTO 'copy.db';",
        Some("SELECT 1;"),
        None,
        Some("transaction = false\n"),
    );
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply"]);
    assert!(p.tmp.path().join("copy.db").exists());
    p.ok(&db, &["rollback", "--steps", "2"]);
    p.ok(&db, &["audit", "verify"]);
}

#[test]
fn a_savepoint_in_a_non_transactional_migration_is_refused_before_anything_runs() {
    // Regression: the lint skipped SAVEPOINT, so it was refused only when it ran, after the
    // statements before it committed (exit 5, a dirty migration).
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_n",
        "CREATE TABLE a (x);\nSAVEPOINT s;\nINSERT INTO a VALUES (1);\nRELEASE s;",
        Some("DROP TABLE a;"),
        None,
        Some("transaction = false\n"),
    );
    p.ok(&db, &["sum"]);
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("transaction-control: SAVEPOINT")
            && r.stderr.contains("transaction-control: RELEASE"),
        "{r:?}"
    );
    assert!(db.check("SELECT count(*) = 0 FROM sqlite_schema WHERE name = 'a'"));
    let status = p.status(&db);
    assert_eq!(status["applied"], 0, "{status}");
    assert_eq!(status["dirty"], serde_json::json!([]), "{status}");
}

#[test]
fn foreign_keys_off_in_a_non_transactional_migration_does_not_reach_the_next_one() {
    // Regression: the PRAGMA outlived its migration, so the next migration of the same run
    // committed an orphan row that a separate run would have refused.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_tables",
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);\n\
         CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));",
        Some("DROP TABLE child;\nDROP TABLE parent;"),
        None,
        None,
    );
    p.add(
        "2_fk_off",
        "PRAGMA foreign_keys = OFF;\nCREATE TABLE other (x);",
        Some("DROP TABLE other;"),
        None,
        Some("transaction = false\n"),
    );
    p.add(
        "3_orphan",
        "INSERT INTO child VALUES (1, 999);",
        Some("DELETE FROM child WHERE id = 1;"),
        None,
        None,
    );
    p.ok(&db, &["sum"]);
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("FOREIGN KEY constraint failed"), "{r:?}");
    assert!(db.check("SELECT count(*) = 0 FROM child"));
}

#[test]
fn foreign_keys_off_in_a_non_transactional_down_script_does_not_reach_the_next_step() {
    // Regression: each rollback step ran with whatever the step before it left, so a down
    // script deleted a parent row its children still pointed at.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_tables",
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);\n\
         CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));",
        Some("DROP TABLE child;\nDROP TABLE parent;"),
        None,
        None,
    );
    p.add(
        "2_seed",
        "INSERT INTO parent VALUES (1);",
        Some("DELETE FROM parent WHERE id = 1;"),
        None,
        None,
    );
    p.add(
        "3_fk_off",
        "CREATE TABLE other (x);",
        Some("PRAGMA foreign_keys = OFF;\nDROP TABLE other;"),
        None,
        Some("transaction = false\n"),
    );
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply"]);
    db.exec("INSERT INTO child VALUES (1, 1)");
    let r = p.run(&db, &["rollback", "--steps", "2"]);
    assert_ne!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("FOREIGN KEY constraint failed"), "{r:?}");
    assert!(db.check("SELECT count(*) = 1 FROM parent"));
}

#[test]
fn schema_waits_for_a_busy_database_as_long_as_lock_wait_once() {
    // Regression: `schema --lock-wait 2s` waited 4 s before exit 4: a best-effort first read
    // spent the whole wait, failed quietly, and the next read waited again.
    use backstop_core::driver::Driver;
    use std::time::{Duration, Instant};

    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (x);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply"]);

    let mut holder = backstop_sqlite::connect(&db.url).expect("connect");
    // Keeps the file locked, as a migration whose transaction spilled to disk does.
    holder
        .execute("PRAGMA locking_mode = EXCLUSIVE")
        .expect("pragma");
    holder.execute("INSERT INTO a VALUES (1)").expect("write");

    let started = Instant::now();
    let r = p.run(&db, &["schema", "--lock-wait", "2s"]);
    let waited = started.elapsed();
    assert_eq!(r.code, 4, "{r:?}");
    assert!(waited < Duration::from_millis(3500), "{waited:?} {r:?}");
    assert!(r.stderr.contains("database is locked"), "{r:?}");
    drop(holder);
    p.ok(&db, &["schema", "--lock-wait", "2s"]);
}

#[test]
fn a_dropped_history_table_is_not_an_empty_intact_ledger() {
    // Regression: with backstop_state dropped the history counted as absent, and `audit
    // verify` called the ledger intact with 0 events.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id int);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    db.exec("DROP TABLE backstop_state");
    for args in [&["audit", "verify"][..], &["status"], &["apply"]] {
        let r = p.run(&db, args);
        assert_eq!(r.code, 3, "{args:?}: {r:?}");
        assert!(r.all().contains("history is incomplete"), "{args:?}: {r:?}");
    }
}

#[test]
fn temporary_objects_attachments_and_like_settings_stay_in_their_migration() {
    // Regression: a TEMP trigger, an ATTACHed database and PRAGMA case_sensitive_like from
    // one migration reached the next one of the same run.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    let other = p.tmp.path().join("other.db");
    p.add(
        "1_a",
        "CREATE TABLE p (id INTEGER PRIMARY KEY);\nCREATE TABLE log (x);",
        Some("DROP TABLE log;\nDROP TABLE p;"),
        None,
        None,
    );
    p.add(
        "2_b",
        &format!(
            "CREATE TEMP TRIGGER tt AFTER INSERT ON main.p BEGIN INSERT INTO main.log VALUES ('temp trigger fired'); END;\n\
             CREATE TEMP TABLE scratch (x);\n\
             ATTACH '{}' AS o;\n\
             PRAGMA case_sensitive_like = ON;",
            other.display()
        ),
        Some("SELECT 1;"),
        None,
        Some("transaction = false\n"),
    );
    p.add(
        "3_c",
        "INSERT INTO p VALUES (1);\nINSERT INTO log SELECT 'like matched' WHERE 'ABC' LIKE 'abc';",
        Some("DELETE FROM log;\nDELETE FROM p;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    assert!(
        db.check("SELECT count(*) = 1 FROM log WHERE x = 'like matched'"),
        "LIKE as in a run of its own"
    );
    assert!(
        db.check("SELECT count(*) = 0 FROM log WHERE x = 'temp trigger fired'"),
        "no temp trigger"
    );
}

#[test]
fn query_only_in_a_migration_does_not_keep_backstop_from_recording_it() {
    // Regression: after `PRAGMA query_only = ON` in a `transaction = false` script, the
    // write of its own progress failed and the migration stayed dirty.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_no_tx",
        "CREATE TABLE a (x);\nPRAGMA query_only = ON;\nSELECT count(*) FROM a;",
        Some("DROP TABLE a;\nPRAGMA query_only = ON;"),
        None,
        Some("transaction = false\n"),
    );
    p.add(
        "2_tx",
        "CREATE TABLE b (x);\nPRAGMA query_only = ON;",
        Some("DROP TABLE b;\nPRAGMA query_only = ON;"),
        None,
        None,
    );
    p.add(
        "3_after",
        "INSERT INTO a VALUES (1);",
        Some("DELETE FROM a;"),
        None,
        None,
    );
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply"]);
    let migrations = db.t("migrations");
    assert!(db.check(&format!(
        "SELECT count(*) = 3 FROM {migrations} WHERE status = 'applied'"
    )));
    p.ok(&db, &["audit", "verify"]);
    // Each migration starts with writes allowed, as in a run of its own.
    assert!(db.check("SELECT count(*) = 1 FROM a"));

    p.ok(&db, &["rollback", "--steps", "3"]);
    assert!(db.check(&format!(
        "SELECT count(*) = 3 FROM {migrations} WHERE status = 'rolled_back'"
    )));
    p.ok(&db, &["audit", "verify"]);
}

#[test]
fn query_only_stays_in_force_for_the_rest_of_its_script() {
    // Regression: the cleanup after the failure ran down.sql with the up script's
    // `query_only` still on, so it failed and left the migration dirty. backstop lifts the
    // PRAGMA only for its own records: the script's later statements still run as SQLite
    // would run them after it.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_no_tx",
        "CREATE TABLE a (x);\nPRAGMA query_only = ON;\nINSERT INTO a VALUES (1);",
        Some("DROP TABLE a;"),
        None,
        Some("transaction = false\n"),
    );
    p.ok(&db, &["sum"]);
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("attempt to write a readonly database"),
        "{r:?}"
    );
    // The cleanup's down script starts from backstop's settings, so it can undo the rest.
    assert!(
        r.stderr
            .contains("the schema fingerprint again equals the one before"),
        "{r:?}"
    );
    assert!(db.check(&format!(
        "SELECT status = 'rolled_back' FROM {} WHERE version = 1",
        db.t("migrations")
    )));
    assert!(db.check("SELECT count(*) = 0 FROM sqlite_schema WHERE name = 'a'"));
}

#[test]
fn a_temporary_table_named_like_backstops_own_does_not_take_its_records() {
    // A temporary table shadows a main one of the same name in unqualified statements:
    // backstop's progress and ledger writes must still reach its own tables.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_shadow",
        "CREATE TEMP TABLE backstop_migrations (x);\nCREATE TEMP TABLE backstop_events (x);\nCREATE TEMP TABLE backstop_state (x);\nCREATE TABLE a (x);",
        Some("DROP TABLE a;"),
        None,
        Some("transaction = false\n"),
    );
    p.add(
        "2_b",
        "CREATE TABLE b (x);",
        Some("DROP TABLE b;"),
        None,
        None,
    );
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply"]);
    assert!(db.check(&format!(
        "SELECT count(*) = 2 FROM {} WHERE status = 'applied'",
        db.t("migrations")
    )));
    p.ok(&db, &["audit", "verify"]);
    p.ok(&db, &["rollback", "--to", "0"]);
    p.ok(&db, &["audit", "verify"]);
}

/// A database file, or its directory, that this user may not write: the write commands say
/// so before anything runs (exit 2) instead of failing in a migration with SQLite's
/// "readonly database", which reads as the migration's fault.
#[test]
fn a_database_this_user_may_not_write_is_refused_up_front() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let chmod = |p: &std::path::Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    // root may write anything: run the command as nobody then.
    let as_other = |c: &mut std::process::Command| {
        // The effective uid, from /proc (no libc needed).
        let root = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("Uid:"))
                    .map(|l| l.split_whitespace().nth(2) == Some("0"))
            })
            .unwrap_or(false);
        if root {
            c.uid(65534).gid(65534);
        }
    };
    for what in ["file", "directory"] {
        let db = Db::new(Kind::Sqlite);
        let p = Project::new();
        p.add(
            "1_t",
            "CREATE TABLE t (id INTEGER);",
            Some("DROP TABLE t;"),
            None,
            None,
        );
        p.add(
            "2_u",
            "CREATE TABLE u (id INTEGER);",
            Some("DROP TABLE u;"),
            None,
            None,
        );
        p.ok(&db, &["apply", "--to", "1"]);
        let file = std::path::PathBuf::from(db.url.trim_start_matches("sqlite://"));
        let dir = file.parent().expect("dir").to_path_buf();
        // Readable (and the project too) for the other user; not writable.
        chmod(&dir, 0o755);
        chmod(p.tmp.path(), 0o755);
        for e in std::fs::read_dir(p.dir()).expect("ls").flatten() {
            chmod(&e.path(), 0o755);
        }
        chmod(&p.dir(), 0o755);
        match what {
            "file" => {
                chmod(&file, 0o444);
                // The lock file exists and is writable: only the database is not.
                chmod(&dir.join("test.db.lock"), 0o666);
            }
            _ => {
                chmod(&file, 0o666);
                chmod(&dir.join("test.db.lock"), 0o666);
                chmod(&dir, 0o555);
            }
        }
        let before = std::fs::read(&file).expect("read db");
        for args in [&["apply"][..], &["rollback"][..]] {
            let mut c = p.cmd(&db, args);
            as_other(&mut c);
            let out = c.output().expect("run");
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(out.status.code(), Some(2), "{what} {args:?}: {all}");
            assert!(
                all.contains("not writable") || all.contains("read-only"),
                "{all}"
            );
            assert!(all.contains("nothing was changed"), "{all}");
            assert!(
                !all.contains("migration 2"),
                "not the migration's fault: {all}"
            );
        }
        chmod(&dir, 0o755);
        chmod(&file, 0o644);
        assert_eq!(
            std::fs::read(&file).expect("read db"),
            before,
            "{what}: unchanged"
        );
    }
}

#[test]
fn a_verify_check_after_a_comment_that_would_nest_on_postgres_runs_and_fails_the_apply() {
    // Regression: scripts were split by PostgreSQL's rules, where `/* a /* b */` opens a
    // nested comment that swallowed the failing check after it, so verify passed.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);\nINSERT INTO t VALUES (1);",
        Some("DROP TABLE t;"),
        Some("SELECT 1; /* old check /* kept for history */\nSELECT count(*) = 42 FROM t;"),
        None,
    );
    p.ok(&db, &["sum"]);
    let plan = p.ok(&db, &["--format", "json", "plan"]).json();
    assert_eq!(
        plan["pending"][0]["verify"][1]["sql"], "SELECT count(*) = 42 FROM t",
        "{plan}"
    );
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("SELECT count(*) = 42 FROM t"), "{r:?}");
    // The failed verify rolled the migration back.
    assert!(db.check("SELECT count(*) = 0 FROM sqlite_master WHERE name = 't'"));
}

#[test]
fn bracketed_names_with_semicolons_and_a_trigger_using_end_as_a_column_apply_and_roll_back() {
    // Regression: `[semi;col]` was split at its `;`, and `OF end` / `new.end` ended the
    // trigger body early, so both statements reached SQLite cut in two.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_events",
        "CREATE TABLE \"odd; name\" ([semi;col] TEXT, `tick;col` INT);\n\
         CREATE TABLE events(id INTEGER PRIMARY KEY, start INT, end INT, duration INT);\n\
         CREATE TRIGGER tr AFTER UPDATE OF end ON events BEGIN\n\
         UPDATE events SET duration = new.end - new.start WHERE id = new.id;\n\
         END;\n\
         INSERT INTO \"odd; name\" ([semi;col]) VALUES ('a;b'); /* note /* not nested */\n\
         INSERT INTO events (id, start, end) VALUES (1, 2, 0);\n\
         UPDATE events SET end = 7 WHERE id = 1;",
        Some("DROP TRIGGER tr;\nDROP TABLE events;\nDROP TABLE [odd; name];"),
        Some("SELECT duration = 5 FROM events WHERE id = 1;\nSELECT [semi;col] = 'a;b' FROM \"odd; name\";"),
        None,
    );
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply"]);
    assert!(
        db.check("SELECT count(*) = 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'tr'")
    );
    p.ok(&db, &["verify"]);
    let r = p.ok(&db, &["rollback"]);
    assert!(!r.stdout.contains("not proven"), "{r:?}");
    assert!(db.check(
        "SELECT count(*) = 0 FROM sqlite_master WHERE name IN ('events', 'odd; name', 'tr')"
    ));
}

#[test]
fn a_parent_table_rebuild_in_a_transaction_is_refused_before_it_empties_the_children() {
    // Regression: DROP TABLE parent runs ON DELETE CASCADE even with defer_foreign_keys,
    // so apply exited 0 with every child row deleted.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_tables",
        "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);\n\
         CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id) ON DELETE CASCADE);\n\
         INSERT INTO parent VALUES (1, 'a');\nINSERT INTO child VALUES (1, 1);",
        Some("DROP TABLE child;\nDROP TABLE parent;"),
        None,
        None,
    );
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply"]);
    p.add(
        "2_rebuild",
        "PRAGMA defer_foreign_keys = ON;\n\
         CREATE TABLE parent_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '');\n\
         INSERT INTO parent_new SELECT id, coalesce(name, '') FROM parent;\n\
         DROP TABLE parent;\n\
         ALTER TABLE parent_new RENAME TO parent;",
        Some("SELECT 1;"),
        None,
        Some("irreversible = true\nreason = \"rebuild\"\n[contract]\ndata_loss = \"accepted\"\n"),
    );
    p.ok(&db, &["sum"]);
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("sqlite-drop-table-runs-on-delete") && r.stderr.contains("child"),
        "{r:?}"
    );
    assert!(db.check("SELECT count(*) = 1 FROM child"));
}

#[test]
fn plan_names_no_table_for_a_statement_on_none() {
    // Regression: CREATE VIEW / CREATE TRIGGER printed "database write lock on ;".
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_v",
        "CREATE TABLE t (a INTEGER);\nCREATE VIEW v AS SELECT a FROM t;\nCREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END;",
        Some("DROP TRIGGER tr;\nDROP VIEW v;\nDROP TABLE t;"),
        None,
        None,
    );
    let plan = p.ok(&db, &["plan"]);
    assert!(
        plan.stdout.contains("database write lock on t;"),
        "{plan:?}"
    );
    assert!(
        plan.stdout.contains("database write lock; blocks writes"),
        "{plan:?}"
    );
    assert!(!plan.stdout.contains("lock on ;"), "{plan:?}");
}

#[test]
fn rollback_to_an_unknown_target_without_history_is_a_usage_error() {
    // Regression: with no history, `rollback --to 99` and `--release nosuch` said "nothing
    // to roll back" (exit 0), and on a missing SQLite file created it.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    for args in [
        &["rollback", "--to", "99"][..],
        &["rollback", "--release", "nosuch"],
    ] {
        let r = p.run(&db, args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
    }
    p.ok(&db, &["rollback"]);
    let dir = tempfile::tempdir().expect("tmp");
    let missing = dir.path().join("typo.db");
    let r = std::process::Command::new(common::BIN)
        .current_dir(p.tmp.path())
        .env_remove("DATABASE_URL")
        .args(["--database-url", &format!("sqlite://{}", missing.display())])
        .arg("--dir")
        .arg(p.dir())
        .arg("rollback")
        .output()
        .expect("run");
    assert_eq!(r.status.code(), Some(2), "{r:?}");
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("no such SQLite database"),
        "{r:?}"
    );
    assert!(!missing.exists(), "a rollback creates no database");
}

#[test]
fn rollback_dry_run_names_a_dirty_migration_not_drift() {
    // Regression: the dry run called a dirty migration's partial work drift and suggested
    // --allow-drift, where status and plan name the migration.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id INTEGER);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.add(
        "2_half",
        "CREATE TABLE h2 (id INTEGER);\nINSERT INTO nope VALUES (1);",
        None,
        None,
        Some("transaction = false\nirreversible = true\nreason = \"one way\"\n"),
    );
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 5, "{r:?}");
    let r = p.ok(&db, &["--format", "json", "rollback", "--dry-run"]);
    let warnings = r.json()["warnings"].to_string();
    assert!(warnings.contains("migration 2 is dirty"), "{warnings}");
    assert!(!warnings.contains("outside backstop"), "{warnings}");
}

#[test]
fn resolve_refuses_a_missing_database_file_without_creating_it() {
    let p = Project::new();
    let dir = tempfile::tempdir().expect("tmp");
    let missing = dir.path().join("typo.db");
    let r = std::process::Command::new(common::BIN)
        .current_dir(p.tmp.path())
        .env_remove("DATABASE_URL")
        .args(["--database-url", &format!("sqlite://{}", missing.display())])
        .arg("--dir")
        .arg(p.dir())
        .args(["resolve", "1", "--applied", "--reason", "x"])
        .output()
        .expect("run");
    assert_eq!(r.status.code(), Some(2), "{r:?}");
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("no such SQLite database"),
        "{r:?}"
    );
    assert!(!missing.exists(), "resolve creates no database");
    assert!(!dir.path().join("typo.db.lock").exists(), "nor a lock file");
}

#[test]
fn a_rollback_that_stops_part_way_lists_the_down_statements_that_ran() {
    // Which DROPs already happened is what a person needs first: listed, with their lines.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id INTEGER);\nCREATE INDEX a_idx ON a (id);",
        Some("DROP INDEX a_idx;\nDROP TABLE nothere;\nDROP TABLE a;"),
        None,
        Some("transaction = false\n"),
    );
    p.ok(&db, &["apply"]);
    let r = p.run(&db, &["rollback"]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(
        r.stderr.contains(
            "Statements of the stored down script that completed:\n  1. line 1: DROP INDEX a_idx"
        ),
        "{r:?}"
    );
    let st = p.status(&db).to_string();
    assert!(!st.contains("what it did is not recorded"), "{st}");
}

#[test]
fn a_migration_that_cannot_get_the_write_lock_is_retried_and_reported_as_a_lock_timeout() {
    // Regression: SQLite takes the file's write lock at BEGIN IMMEDIATE, and a timeout
    // there skipped the migration's retries and ended in a bare "database is locked" (exit
    // 4); the bookkeeping write after it then failed the moment the other writer committed.
    use backstop_core::driver::Driver;
    use std::time::Duration;
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    p.add(
        "2_c",
        "ALTER TABLE t ADD COLUMN c INTEGER;",
        Some("ALTER TABLE t DROP COLUMN c;"),
        None,
        Some("lock_timeout = \"200ms\"\nretries = 1\n"),
    );
    let url = db.url.clone();
    let (held, holding) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let mut h = backstop_sqlite::connect(&url).expect("connect");
        h.begin(Default::default()).expect("begin");
        h.execute("INSERT INTO t VALUES (1)").expect("write");
        held.send(()).expect("send");
        // Longer than a bookkeeping write used to wait (5 s): the failure's event must
        // wait for the lock as long as the command does (--lock-wait), not be dropped.
        std::thread::sleep(Duration::from_secs(6));
        h.commit().expect("commit");
    });
    holding.recv().expect("holding");
    let r = p.run(&db, &["apply", "--lock-wait", "30s"]);
    holder.join().expect("join");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.all().contains("retry 1/1"), "{r:?}");
    assert!(r.stderr.contains("another session held a lock"), "{r:?}");
    assert!(r.stderr.contains("up.sql:1:1"), "{r:?}");
    // The failure is in the ledger, and the run goes through once the lock is gone.
    assert!(db.check(&format!(
        "SELECT count(*) = 1 FROM {} WHERE kind = 'apply-failed'",
        db.t("events")
    )));
    p.ok(&db, &["apply"]);
    p.ok(&db, &["audit", "verify"]);
}

#[test]
fn a_commit_that_waits_past_lock_timeout_is_retried() {
    // Regression: COMMIT needs the file to itself; a reader that held it past the
    // migration's lock_timeout failed the migration at once, with advice to fix the data.
    use std::time::Duration;
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    p.add(
        "2_c",
        "ALTER TABLE t ADD COLUMN c INTEGER;",
        Some("ALTER TABLE t DROP COLUMN c;"),
        None,
        Some("lock_timeout = \"300ms\"\nretries = 8\n"),
    );
    let path = db.url.trim_start_matches("sqlite://").to_string();
    let (held, holding) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let c = rusqlite::Connection::open(&path).expect("open");
        c.execute_batch("BEGIN").expect("begin");
        let n: i64 = c
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("read");
        assert_eq!(n, 0);
        held.send(()).expect("send");
        std::thread::sleep(Duration::from_millis(1500));
        c.execute_batch("COMMIT").expect("commit");
    });
    holding.recv().expect("holding");
    let r = p.run(&db, &["apply"]);
    reader.join().expect("join");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.all().contains("lock timeout at COMMIT"), "{r:?}");
    p.ok(&db, &["audit", "verify"]);
}

/// A read transaction on the SQLite file at `url`, from another connection: while it is
/// open, no other connection's COMMIT can take the file to itself.
fn hold_read(url: &str) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(url.trim_start_matches("sqlite://")).expect("open");
    c.execute_batch("BEGIN").expect("begin");
    let _: i64 = c
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .expect("read");
    c
}

#[test]
fn a_refusal_whose_event_cannot_be_committed_is_still_reported_as_the_refusal() {
    // Regression: when the COMMIT of a refusal's ledger event failed (a reader held the
    // file past --lock-wait), the refusal was replaced by a bare "database is locked".
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    let m = p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply"]);
    std::fs::write(m.join("up.sql"), "CREATE TABLE t (id INTEGER, x INTEGER);").expect("edit");
    p.ok(&db, &["sum"]);
    let reader = hold_read(&db.url);
    let r = p.run(&db, &["apply", "--lock-wait", "600ms"]);
    drop(reader);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("refused: "), "{r:?}");
    assert!(r.stderr.contains("1_t"), "{r:?}");
    assert!(
        r.stderr
            .contains("this refusal could not be recorded in the ledger (database is locked"),
        "{r:?}"
    );
    assert!(r.stderr.contains("state: nothing was changed"), "{r:?}");
    // Nothing half-written stays behind, and the refusal is recorded once it can be.
    p.ok(&db, &["audit", "verify"]);
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(!r.stderr.contains("could not be recorded"), "{r:?}");
    p.ok(&db, &["audit", "verify"]);
    let log = p.ok(&db, &["--format", "json", "audit", "log"]).stdout;
    assert_eq!(log.matches("\"refused\"").count(), 1, "{log}");
}

#[test]
fn a_failure_event_whose_commit_fails_leaves_no_transaction_open_and_the_ledger_intact() {
    // Regression: when the COMMIT of a failed migration's ledger event failed, its
    // transaction stayed open and the head moved to the event that was never stored, so
    // --atomic's undo could not begin ("a transaction is open on this connection"), and
    // an event written after it would have chained to a hash missing from the ledger.
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    // Slow enough for the reader below to start while it runs, then fails.
    p.add(
        "2_bad",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT count(*) FROM c;\nINSERT INTO missing VALUES (1);",
        Some("SELECT 1;"),
        None,
        None,
    );
    p.ok(&db, &["sum"]);
    let mut child = p
        .cmd(&db, &["apply", "--atomic", "--lock-wait", "2s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run backstop");
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut reader = None;
    let mut waits = 0;
    let mut lines = Vec::new();
    for line in stderr.lines() {
        let line = line.expect("line");
        // Migration 1 is committed: hold the file while migration 2 runs and fails, so
        // its event's COMMIT waits past --lock-wait and fails.
        if line.contains("[2/2] applying 2") {
            reader = Some(hold_read(&db.url));
        }
        // The second wait is the undo's COMMIT: let it through.
        if line.contains("waiting up to") {
            waits += 1;
            if waits == 2 {
                reader = None;
            }
        }
        lines.push(line);
    }
    drop(reader);
    let out = child.wait_with_output().expect("wait");
    let stderr = lines.join("\n");
    let r = format!("{}\n{stderr}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(out.status.code(), Some(1), "{r}");
    assert!(stderr.contains("no such table: missing"), "{r}");
    assert!(
        stderr.contains("--atomic undid the 1 migration(s) this run had applied ([1])"),
        "{r}"
    );
    assert!(
        stderr.contains("this failure could not be recorded in the ledger (database is locked; waited --lock-wait (2s) for the database: another connection is reading it (a read transaction keeps a commit waiting in rollback-journal mode"),
        "{r}"
    );
    // The wait was for a reader: the commit holds the write lock, no one else writes.
    assert!(!stderr.contains("writing it"), "{r}");
    // The undo's event chains to the last event stored.
    p.ok(&db, &["audit", "verify"]);
    assert!(db.check("SELECT count(*) = 0 FROM sqlite_master WHERE name = 't'"));
    let status = p.ok(&db, &["status"]).stdout;
    assert!(status.contains("0 applied, 2 pending"), "{status}");
}

#[test]
fn verify_waits_for_another_writer_as_long_as_lock_wait_and_names_it() {
    // Regression: verify's transaction waited a fixed 5 s for another writer, whatever
    // --lock-wait said, and ended with a bare "database is locked".
    use backstop_core::driver::Driver;
    use std::time::{Duration, Instant};
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (x);",
        Some("DROP TABLE a;"),
        Some("SELECT count(*) = 0 FROM a;"),
        None,
    );
    p.ok(&db, &["apply"]);
    let mut holder = backstop_sqlite::connect(&db.url).expect("connect");
    holder.begin(Default::default()).expect("begin");
    holder.execute("CREATE TABLE other (x)").expect("write");
    let started = Instant::now();
    let r = p.run(&db, &["verify", "--lock-wait", "1s"]);
    let waited = started.elapsed();
    assert_eq!(r.code, 4, "{r:?}");
    assert!(waited < Duration::from_secs(4), "{waited:?} {r:?}");
    assert!(
        r.stderr.contains("run the command again when it is done"),
        "{r:?}"
    );
    // Waits longer when asked to, and goes through once the writer is done.
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(6));
        holder.rollback().expect("rollback");
    });
    let r = p.run(&db, &["verify", "--lock-wait", "30s"]);
    h.join().expect("join");
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn a_failure_that_cannot_be_recorded_says_so() {
    // Regression: with another writer holding the file past --lock-wait, the migration's
    // failure event was dropped without a word, and the advice was to raise a lock_timeout
    // the migration does not set.
    use backstop_core::driver::Driver;
    use std::time::Duration;
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    p.add(
        "2_u",
        "CREATE TABLE u (id INTEGER);",
        Some("DROP TABLE u;"),
        None,
        Some("retries = 0\n"),
    );
    p.ok(&db, &["sum"]);
    let url = db.url.clone();
    let (held, holding) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let mut h = backstop_sqlite::connect(&url).expect("connect");
        h.begin(Default::default()).expect("begin");
        h.execute("CREATE TABLE other (x)").expect("write");
        held.send(()).expect("send");
        std::thread::sleep(Duration::from_secs(5));
        h.rollback().expect("rollback");
    });
    holding.recv().expect("holding");
    let r = p.run(&db, &["apply", "--lock-wait", "1s"]);
    holder.join().expect("join");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("could not be recorded in the ledger"),
        "{r:?}"
    );
    assert!(r.stderr.contains("longer --lock-wait"), "{r:?}");
    assert!(!r.stderr.contains("raise lock_timeout"), "{r:?}");
    p.ok(&db, &["apply"]);
}

/// A migration outside a transaction whose second statement is a read long enough for
/// another connection to take the file's write lock while it runs: the read completes, and
/// the write of its progress that follows has to wait for that connection.
fn progress_waits_for_a_holder(toml: &str) -> (Db, Project) {
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    p.add(
        "2_n",
        "CREATE TABLE u (id INTEGER);\n\
         SELECT count(*) >= 0 FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT x FROM c);\n\
         CREATE INDEX u_id ON u (id);",
        Some("DROP INDEX IF EXISTS u_id;\nDROP TABLE IF EXISTS u;"),
        None,
        Some(toml),
    );
    p.ok(&db, &["sum"]);
    (db, p)
}

/// On another connection: once migration 2 has recorded its first statement (the second,
/// the long read, is running), take the write lock and keep it until `release` says so.
/// `holding` is told once it is held.
fn hold_during_statement_2(
    db: &Db,
    holding: std::sync::mpsc::Sender<()>,
    release: std::sync::mpsc::Receiver<()>,
) -> std::thread::JoinHandle<()> {
    // Still at statement 1 once the lock is held: the long read had not ended.
    const AT_1: &str = "SELECT coalesce((SELECT progress = 1 FROM backstop_migrations WHERE version = 2 AND status = 'dirty'), false)";
    hold_when(db, AT_1, AT_1, holding, release)
}

#[test]
fn a_statement_whose_progress_cannot_be_recorded_leaves_an_exact_report_and_resolves() {
    // Regression: another connection holding the file past --lock-wait made the progress
    // write after a completed statement fail; that was retried and reported as the
    // statement's own lock timeout, history's count was said to include it, and the run
    // ended in a bare "database is locked" with "run the command again".
    use std::time::{Duration, Instant};
    let (db, p) = progress_waits_for_a_holder("transaction = false\n");
    let before = p.fingerprint(&db);
    let (held, holding) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel();
    let holder = hold_during_statement_2(&db, held, released);
    let started = Instant::now();
    let r = p.run(&db, &["apply", "--lock-wait", "1s"]);
    let took = started.elapsed();
    holding.recv().expect("the holder held the file");
    release.send(()).expect("release");
    holder.join().expect("join");

    assert_eq!(r.code, 5, "{r:?}");
    let e = &r.stderr;
    // What happened and where: the statement completed, its record did not.
    assert!(
        e.contains("up.sql:2:1: migration 2 (n) up statement 2 completed outside a transaction, but recording its progress in history failed: database is locked [SQLITE_BUSY]"),
        "{r:?}"
    );
    assert!(e.contains("\n    SELECT count(*) >= 0 FROM"), "{r:?}");
    // Who held the database, and for how long backstop waited (announced as it began).
    assert!(
        e.contains("detail: waited --lock-wait (1s) for the database: another connection is writing it (not a backstop run: this one holds the migration lock)"),
        "{r:?}"
    );
    assert_eq!(e.matches("waiting up to 1s for").count(), 1, "{r:?}");
    assert!(took < Duration::from_secs(10), "{took:?} {r:?}");
    // The state: dirty, history one statement behind, exactly what ran and what did not.
    assert!(
        e.contains("state: migration 2 is dirty, and history counts 1 of its 3 up statements as completed, but 2 ran"),
        "{r:?}"
    );
    assert!(
        e.contains("  1. line 1: CREATE TABLE u (id INTEGER)\n  2. line 2: SELECT count(*)"),
        "{r:?}"
    );
    assert!(
        e.contains("  not run:\n  3. line 3: CREATE INDEX u_id ON u (id)"),
        "{r:?}"
    );
    assert!(
        e.contains("nothing runs on this database until the migration is resolved"),
        "{r:?}"
    );
    // The next step.
    assert!(
        e.contains("statements 1 to 2 of the up script ran, statement 3 did not"),
        "{r:?}"
    );
    assert!(
        e.contains("run statement 3 by hand and `backstop resolve 2 --applied --reason \"…\"`"),
        "{r:?}"
    );
    assert!(!e.contains("run the command again"), "{r:?}");
    assert!(!e.contains("retry"), "{r:?}");
    // Nothing ran after statement 2 (no retry, no down script), and history is as said.
    assert!(db.check(&format!(
        "SELECT status = 'dirty' AND progress = 1 FROM {} WHERE version = 2",
        db.t("migrations")
    )));
    assert!(db.check("SELECT count(*) = 1 FROM sqlite_master WHERE name = 'u'"));
    assert!(db.check("SELECT count(*) = 0 FROM sqlite_master WHERE name = 'u_id'"));
    // The same as data.
    let st = p.status(&db);
    assert_eq!(st["migrations"][1]["state"], "dirty", "{st}");
    assert!(
        st["migrations"][1]["note"]
            .as_str()
            .is_some_and(|n| n.contains(
                "statement 2 (up.sql line 2), which may have completed without being recorded"
            )),
        "{st}"
    );

    // Once the holder is gone, the next step it gave works: finish by hand, resolve.
    db.exec("CREATE INDEX u_id ON u (id)");
    p.ok(
        &db,
        &[
            "resolve",
            "2",
            "--applied",
            "--reason",
            "statement 3 run by hand",
        ],
    );
    p.ok(&db, &["audit", "verify"]);
    let st = p.status(&db);
    assert_eq!(st["migrations"][1]["state"], "applied", "{st}");
    p.ok(&db, &["rollback"]);
    assert_eq!(p.fingerprint(&db), before);
    p.ok(&db, &["audit", "verify"]);

    // Again, as JSON, and the other way out: undo what ran, resolve as rolled back.
    let (held, holding) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel();
    let holder = hold_during_statement_2(&db, held, released);
    let r = p.run(&db, &["--format", "json", "apply", "--lock-wait", "1s"]);
    holding.recv().expect("the holder held the file");
    release.send(()).expect("release");
    holder.join().expect("join");
    assert_eq!(r.code, 5, "{r:?}");
    let j = r.json();
    let n = &j["needs_person"];
    assert_eq!(j["kind"], "needs-person", "{j}");
    assert!(j["failure"].is_null(), "{j}");
    assert_eq!(n["situation"], "progress-not-recorded", "{j}");
    assert_eq!(n["history"], "dirty", "{j}");
    assert_eq!(indexes(&n["statements"]["completed"]), [1, 2], "{j}");
    assert_eq!(indexes(&n["statements"]["not_run"]), [3], "{j}");
    assert!(n["statements"]["failed"].is_null(), "{j}");
    assert_eq!(
        n["commands"][1]["command"], "backstop resolve 2 --rolled-back --reason \"…\"",
        "{j}"
    );
    db.exec("DROP TABLE u");
    p.ok(
        &db,
        &[
            "resolve",
            "2",
            "--rolled-back",
            "--reason",
            "statement 1 undone by hand",
        ],
    );
    p.ok(&db, &["audit", "verify"]);
    assert_eq!(p.fingerprint(&db), before);
    p.ok(&db, &["apply"]);
    p.ok(&db, &["audit", "verify"]);
}

#[test]
fn the_progress_of_a_statement_waits_for_a_holder_as_long_as_lock_wait() {
    // Regression: the progress write after a statement outside a transaction waited only
    // the migration's lock_timeout (meant for its statements), so a holder that let go well
    // within --lock-wait failed the migration.
    use std::time::Duration;
    let (db, p) =
        progress_waits_for_a_holder("transaction = false\nlock_timeout = \"200ms\"\nretries = 0\n");
    let before = p.fingerprint(&db);
    let (held, holding) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel();
    let holder = hold_during_statement_2(&db, held, released);
    let letting_go = std::thread::spawn(move || {
        holding.recv().expect("the holder held the file");
        std::thread::sleep(Duration::from_secs(2));
        release.send(()).expect("release");
    });
    let r = p.run(&db, &["apply", "--lock-wait", "30s"]);
    letting_go.join().expect("join");
    holder.join().expect("join");
    assert_eq!(r.code, 0, "{r:?}");
    // The wait was said, with who holds the file.
    assert!(
        r.stderr.contains("waiting up to 30s for")
            && r.stderr.contains("another connection is writing it"),
        "{r:?}"
    );
    assert!(r.stdout.contains("applied  2 n"), "{r:?}");
    assert!(db.check(&format!(
        "SELECT status = 'applied' AND progress = 3 FROM {} WHERE version = 2",
        db.t("migrations")
    )));
    p.ok(&db, &["audit", "verify"]);
    p.ok(&db, &["rollback"]);
    assert_eq!(p.fingerprint(&db), before);
}

#[test]
fn a_rollback_failure_whose_event_cannot_be_committed_says_so() {
    // Regression: when a rollback's down script failed and its `rollback-failed` event
    // could not be committed (a reader held the file past --lock-wait), the event was
    // dropped without a word: the report's state did not say the ledger lacks it.
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    // The down script is slow enough for the reader below to start while it runs, then
    // fails.
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);",
        Some("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT count(*) FROM c;\nINSERT INTO missing VALUES (1);"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    let mut child = p
        .cmd(&db, &["rollback", "--steps", "1", "--lock-wait", "1s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run backstop");
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut reader = None;
    let mut lines = Vec::new();
    for line in stderr.lines() {
        let line = line.expect("line");
        // Hold the file while the down script runs and fails, so its event's COMMIT waits
        // past --lock-wait and fails.
        if line.contains("[1/1] rolling back 1") {
            reader = Some(hold_read(&db.url));
        }
        lines.push(line);
    }
    let out = child.wait_with_output().expect("wait");
    drop(reader);
    let stderr = lines.join("\n");
    let r = format!("{}\n{stderr}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(out.status.code(), Some(1), "{r}");
    assert!(stderr.contains("no such table: missing"), "{r}");
    assert!(
        stderr.contains("the down script of migration 1 was rolled back; the migration is still applied and the database is as before this rollback step; this failure could not be recorded in the ledger (database is locked"),
        "{r}"
    );
    // Nothing half-written stays behind: the ledger chains, and has no event of the failure.
    p.ok(&db, &["audit", "verify"]);
    let log = p.ok(&db, &["--format", "json", "audit", "log"]).stdout;
    assert!(!log.contains("rollback-failed"), "{log}");
    assert!(db.check("SELECT count(*) = 1 FROM sqlite_master WHERE name = 't'"));
    let status = p.ok(&db, &["status"]).stdout;
    assert!(status.contains("1 applied"), "{status}");
}

#[test]
fn an_atomic_undo_whose_failure_cannot_be_recorded_says_so() {
    // Regression: when --atomic's undo of an earlier migration failed and neither its
    // event nor the failed migration's could be committed (a reader held the file past
    // --lock-wait), the report's state said nothing of the events missing from the ledger.
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);",
        Some("INSERT INTO missing VALUES (1);"),
        None,
        None,
    );
    // Slow enough for the reader below to start while it runs, then fails.
    p.add(
        "2_bad",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT count(*) FROM c;\nINSERT INTO missing VALUES (1);",
        Some("SELECT 1;"),
        None,
        None,
    );
    p.ok(&db, &["sum"]);
    let mut child = p
        .cmd(&db, &["apply", "--atomic", "--lock-wait", "1s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run backstop");
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut reader = None;
    let mut lines = Vec::new();
    for line in stderr.lines() {
        let line = line.expect("line");
        // Migration 1 is committed: hold the file while migration 2 runs and fails, and
        // while the undo of migration 1 fails.
        if line.contains("[2/2] applying 2") {
            reader = Some(hold_read(&db.url));
        }
        lines.push(line);
    }
    let out = child.wait_with_output().expect("wait");
    drop(reader);
    let stderr = lines.join("\n");
    let r = format!("{}\n{stderr}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(out.status.code(), Some(5), "{r}");
    assert!(
        stderr.contains("--atomic: undoing migration 1 after the failure did not complete"),
        "{r}"
    );
    assert!(
        stderr.contains("state: undone so far: []; still applied from this run: [1]; the failure that started the undo could not be recorded in the ledger (database is locked; waited --lock-wait (1s) for the database: another connection is reading it (a read transaction keeps a commit waiting in rollback-journal mode; WAL mode lets them go on together)); the undo's failure could not be recorded in the ledger (database is locked; waited --lock-wait (1s) for the database: another connection is reading it"),
        "{r}"
    );
    // Nothing half-written stays behind: the ledger chains, and has neither event.
    p.ok(&db, &["audit", "verify"]);
    let log = p.ok(&db, &["--format", "json", "audit", "log"]).stdout;
    assert!(!log.contains("apply-failed"), "{log}");
    assert!(!log.contains("rollback-failed"), "{log}");
}

/// A read slow enough (about a second) for another connection to take the file's write
/// lock while it runs.
const SLOW_READ: &str = "SELECT count(*) >= 0 FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT x FROM c)";

/// On another connection: once `ready` (a query whose first column is true or false) says
/// so, take the file's write lock, check `still` (that the run has not gone past the point
/// the lock is meant to stop it at), and keep the lock until `release` says so. `holding`
/// is told once it is held.
fn hold_when(
    db: &Db,
    ready: &'static str,
    still: &'static str,
    holding: std::sync::mpsc::Sender<()>,
    release: std::sync::mpsc::Receiver<()>,
) -> std::thread::JoinHandle<()> {
    use std::time::{Duration, Instant};
    let path = db.url.trim_start_matches("sqlite://").to_string();
    std::thread::spawn(move || {
        let c = rusqlite::Connection::open(&path).expect("open");
        c.busy_timeout(Duration::from_secs(5))
            .expect("busy timeout");
        let holds = |c: &rusqlite::Connection, q: &str| -> bool {
            c.query_row(q, [], |r| r.get::<_, bool>(0)).unwrap_or(false)
        };
        let started = Instant::now();
        while !holds(&c, ready) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "never ready: {ready}"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        c.execute_batch("BEGIN IMMEDIATE").expect("begin");
        c.execute_batch("INSERT INTO t VALUES (1)").expect("write");
        assert!(holds(&c, still), "the run went too far: {still}");
        holding.send(()).expect("send");
        let _ = release.recv();
        c.execute_batch("ROLLBACK").expect("rollback");
    })
}

/// Migration 1 (table `t`, for the holder to write to) applied, and migration 2 outside a
/// transaction with the given scripts.
fn non_transactional(up: &str, down: &str, verify: Option<&str>) -> (Db, Project) {
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    p.add("2_n", up, Some(down), verify, Some("transaction = false\n"));
    p.ok(&db, &["sum"]);
    (db, p)
}

/// The indexes of a JSON list of statements.
fn indexes(v: &serde_json::Value) -> Vec<i64> {
    v.as_array()
        .map(|a| a.iter().filter_map(|s| s["index"].as_i64()).collect())
        .unwrap_or_default()
}

#[test]
fn a_rollback_whose_progress_cannot_be_recorded_says_what_ran_and_resolves() {
    // Regression: a rollback outside a transaction recorded no progress between its down
    // statements and wrote its dirty row again before each retry; with another connection
    // holding the file past --lock-wait that write failed, and the run ended saying only
    // that the down script "may have run in part", without which statements ran or who
    // held the file.
    use std::time::{Duration, Instant};
    let down = format!("DROP INDEX IF EXISTS u_id;\n{SLOW_READ};\nDROP TABLE IF EXISTS u;");
    let (db, p) = non_transactional(
        "CREATE TABLE u (id INTEGER);\nCREATE INDEX u_id ON u (id);",
        &down,
        None,
    );
    let before = p.fingerprint(&db);
    p.ok(&db, &["apply"]);
    let after = p.fingerprint(&db);
    // Once statement 1 of the down script completed (and its progress, where it is
    // recorded, was written): the long read is running.
    let ready = "SELECT (SELECT status = 'dirty' AND note NOT LIKE '%: 0 of %' FROM backstop_migrations WHERE version = 2) AND NOT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'u_id')";
    let still = "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'u')";
    let (held, holding) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel();
    let holder = hold_when(&db, ready, still, held, released);
    let started = Instant::now();
    let r = p.run(&db, &["rollback", "--yes", "--lock-wait", "1s"]);
    let took = started.elapsed();
    holding.recv().expect("the holder held the file");
    release.send(()).expect("release");
    holder.join().expect("join");

    assert_eq!(r.code, 5, "{r:?}");
    let e = &r.stderr;
    // What happened and where: statement 2 completed, its record did not.
    assert!(
        e.contains("history:2/down.sql (stored at apply time):2:1: migration 2 (n) down statement 2 completed outside a transaction, but recording its progress in history failed: database is locked [SQLITE_BUSY]"),
        "{r:?}"
    );
    assert!(e.contains("\n    SELECT count(*) >= 0 FROM"), "{r:?}");
    // Who held the database, and how long backstop waited.
    assert!(
        e.contains("detail: waited --lock-wait (1s) for the database: another connection is writing it (not a backstop run: this one holds the migration lock)"),
        "{r:?}"
    );
    assert!(took < Duration::from_secs(10), "{took:?} {r:?}");
    // The state: dirty, exactly what ran and what did not.
    assert!(
        e.contains("state: migration 2 is dirty: its rollback ran outside a transaction, and history counts 1 of its 3 down statements as completed, but 2 ran"),
        "{r:?}"
    );
    assert!(
        e.contains("  1. line 1: DROP INDEX IF EXISTS u_id\n  2. line 2: SELECT count(*)"),
        "{r:?}"
    );
    assert!(
        e.contains("  not run:\n  3. line 3: DROP TABLE IF EXISTS u"),
        "{r:?}"
    );
    assert!(
        e.contains("nothing runs on this database until the migration is resolved"),
        "{r:?}"
    );
    // The next step.
    assert!(
        e.contains("statements 1 to 2 of the down script ran, statement 3 did not"),
        "{r:?}"
    );
    assert!(
        e.contains("run statement 3 by hand and `backstop resolve 2 --rolled-back --reason \"…\"`"),
        "{r:?}"
    );
    assert!(!e.contains("run the command again"), "{r:?}");
    assert!(!e.contains("retry"), "{r:?}");
    assert!(!e.contains("may have run in part"), "{r:?}");
    // Nothing ran after statement 2, and history is as said.
    assert!(db.check("SELECT count(*) = 1 FROM sqlite_master WHERE name = 'u'"));
    assert!(db.check("SELECT count(*) = 0 FROM sqlite_master WHERE name = 'u_id'"));
    assert!(db.check(&format!(
        "SELECT status = 'dirty' FROM {} WHERE version = 2",
        db.t("migrations")
    )));
    let st = p.status(&db);
    assert_eq!(st["migrations"][1]["state"], "dirty", "{st}");
    assert!(
        st["migrations"][1]["note"]
            .as_str()
            .is_some_and(|n| n.contains("history records 1 of 3 statements of its stored down script completed; the next would have been statement 2 (down.sql line 2), which may have completed without being recorded")),
        "{st}"
    );

    // Once the holder is gone, the next step it gave works: finish by hand, resolve.
    db.exec("DROP TABLE IF EXISTS u");
    p.ok(
        &db,
        &[
            "resolve",
            "2",
            "--rolled-back",
            "--reason",
            "statement 3 run by hand",
        ],
    );
    p.ok(&db, &["audit", "verify"]);
    assert_eq!(p.fingerprint(&db), before);
    let st = p.status(&db);
    assert_eq!(st["migrations"][1]["state"], "rolled_back", "{st}");
    p.ok(&db, &["apply"]);
    assert_eq!(p.fingerprint(&db), after);

    // Again, as JSON, and the other way out: redo what ran, resolve as applied.
    let (held, holding) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel();
    let holder = hold_when(&db, ready, still, held, released);
    let r = p.run(
        &db,
        &["--format", "json", "rollback", "--yes", "--lock-wait", "1s"],
    );
    holding.recv().expect("the holder held the file");
    release.send(()).expect("release");
    holder.join().expect("join");
    assert_eq!(r.code, 5, "{r:?}");
    let j = r.json();
    let n = &j["needs_person"];
    assert!(j["failure"].is_null(), "{j}");
    assert_eq!(n["situation"], "progress-not-recorded", "{j}");
    assert_eq!(n["command"], "rollback", "{j}");
    assert_eq!(n["history"], "dirty", "{j}");
    assert_eq!(n["part"], "down", "{j}");
    assert_eq!(indexes(&n["statements"]["completed"]), [1, 2], "{j}");
    assert_eq!(indexes(&n["statements"]["not_run"]), [3], "{j}");
    assert!(n["statements"]["failed"].is_null(), "{j}");
    assert_eq!(
        n["commands"][0]["command"], "backstop resolve 2 --rolled-back --reason \"…\"",
        "{j}"
    );
    assert_eq!(
        n["commands"][1]["command"], "backstop resolve 2 --applied --reason \"…\"",
        "{j}"
    );
    db.exec("CREATE INDEX u_id ON u (id)");
    p.ok(
        &db,
        &[
            "resolve",
            "2",
            "--applied",
            "--reason",
            "index dropped by the rollback made again",
        ],
    );
    p.ok(&db, &["audit", "verify"]);
    assert_eq!(p.fingerprint(&db), after);
    p.ok(&db, &["rollback"]);
    assert_eq!(p.fingerprint(&db), before);
    p.ok(&db, &["audit", "verify"]);
}

#[test]
fn a_complete_run_whose_record_cannot_be_written_says_so_and_resolves() {
    // Regression: when the final record of a migration outside a transaction (all of its
    // statements run, its verify script passed) was kept from history by another
    // connection holding the file past --lock-wait, the run said "run the command again"
    // (which refuses a dirty migration) and "finish or undo the remaining statements" (there
    // were none), and not that the verify script had passed.
    let (db, p) = non_transactional(
        "CREATE TABLE u (id INTEGER);\nCREATE INDEX u_id ON u (id);",
        "DROP INDEX IF EXISTS u_id;\nDROP TABLE IF EXISTS u;",
        Some(&format!("{SLOW_READ};")),
    );
    let before = p.fingerprint(&db);
    // Both statements completed and recorded: the verify script is running.
    let ready =
        "SELECT status = 'dirty' AND progress = 2 FROM backstop_migrations WHERE version = 2";
    let still = ready;
    let (held, holding) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel();
    let holder = hold_when(&db, ready, still, held, released);
    let r = p.run(&db, &["apply", "--lock-wait", "1s"]);
    holding.recv().expect("the holder held the file");
    release.send(()).expect("release");
    holder.join().expect("join");

    assert_eq!(r.code, 5, "{r:?}");
    let e = &r.stderr;
    assert!(
        e.contains("migration 2 (n) ran to its end outside a transaction and its verify script passed, but recording that in history failed: database is locked"),
        "{r:?}"
    );
    assert!(
        e.contains("detail: waited --lock-wait (1s) for the database: another connection is writing it (not a backstop run: this one holds the migration lock)"),
        "{r:?}"
    );
    assert!(
        e.contains("state: migration 2 is dirty: every statement of its up script completed"),
        "{r:?}"
    );
    assert!(
        e.contains(
            "  1. line 1: CREATE TABLE u (id INTEGER)\n  2. line 2: CREATE INDEX u_id ON u (id)"
        ),
        "{r:?}"
    );
    assert!(
        e.contains("`backstop resolve 2 --applied --reason \"…\"`"),
        "{r:?}"
    );
    assert!(!e.contains("run the command again"), "{r:?}");
    assert!(!e.contains("remaining statements"), "{r:?}");
    assert!(db.check(&format!(
        "SELECT status = 'dirty' AND progress = 2 FROM {} WHERE version = 2",
        db.t("migrations")
    )));

    // The advice works once the holder is gone.
    p.ok(
        &db,
        &[
            "resolve",
            "2",
            "--applied",
            "--reason",
            "ran completely, verify passed",
        ],
    );
    p.ok(&db, &["audit", "verify"]);
    let st = p.status(&db);
    assert_eq!(st["migrations"][1]["state"], "applied", "{st}");
    p.ok(&db, &["rollback"]);
    assert_eq!(p.fingerprint(&db), before);
    p.ok(&db, &["audit", "verify"]);

    // As JSON, and the other way out: undo by hand, resolve as rolled back.
    let (held, holding) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel();
    let holder = hold_when(&db, ready, still, held, released);
    let r = p.run(&db, &["--format", "json", "apply", "--lock-wait", "1s"]);
    holding.recv().expect("the holder held the file");
    release.send(()).expect("release");
    holder.join().expect("join");
    assert_eq!(r.code, 5, "{r:?}");
    let j = r.json();
    let n = &j["needs_person"];
    assert!(j["failure"].is_null(), "{j}");
    assert_eq!(n["situation"], "record-failed", "{j}");
    assert_eq!(n["history"], "dirty", "{j}");
    assert_eq!(indexes(&n["statements"]["completed"]), [1, 2], "{j}");
    assert_eq!(
        indexes(&n["statements"]["not_run"]),
        Vec::<i64>::new(),
        "{j}"
    );
    assert_eq!(
        n["commands"][0]["command"], "backstop resolve 2 --applied --reason \"…\"",
        "{j}"
    );
    assert_eq!(
        n["commands"][1]["command"], "backstop resolve 2 --rolled-back --reason \"…\"",
        "{j}"
    );
    db.exec("DROP TABLE u");
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
    p.ok(&db, &["audit", "verify"]);
    assert_eq!(p.fingerprint(&db), before);
    p.ok(&db, &["apply"]);
    p.ok(&db, &["audit", "verify"]);
}

#[test]
fn a_ledger_commit_kept_waiting_by_a_reader_names_the_reader() {
    // Regression: when the COMMIT of a refusal's ledger event waited for a connection that
    // only read the file, the wait was said to be for one writing it, and the note that the
    // event could not be recorded said neither who held the file nor how long backstop
    // waited.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    let m = p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply"]);
    std::fs::write(m.join("up.sql"), "CREATE TABLE t (id INTEGER, x INTEGER);").expect("edit");
    p.ok(&db, &["sum"]);
    let reader = hold_read(&db.url);
    let r = p.run(&db, &["apply", "--lock-wait", "600ms"]);
    drop(reader);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("waiting up to 600ms for")
            && r.stderr.contains(": another connection is reading it (a read transaction keeps a commit waiting in rollback-journal mode"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("writing it"), "{r:?}");
    assert!(
        r.stderr.contains("this refusal could not be recorded in the ledger (database is locked; waited --lock-wait (600ms) for the database: another connection is reading it (a read transaction keeps a commit waiting in rollback-journal mode"),
        "{r:?}"
    );
    p.ok(&db, &["audit", "verify"]);
}

#[test]
fn a_rollback_step_without_a_lock_timeout_that_waits_too_long_names_lock_wait() {
    // Regression: a rollback step whose migration was applied with no lock_timeout waits
    // --lock-wait for another connection's lock, but when that ran out the advice named
    // the migration's lock_timeout, which it does not have, and not --lock-wait.
    use backstop_core::driver::Driver;
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);",
        Some("DROP TABLE t;"),
        None,
        Some("retries = 0\n"),
    );
    p.ok(&db, &["apply"]);
    let mut holder = backstop_sqlite::connect(&db.url).expect("connect");
    holder.begin(Default::default()).expect("begin");
    holder.execute("CREATE TABLE other (x)").expect("write");
    let r = p.run(&db, &["rollback", "--lock-wait", "600ms"]);
    holder.rollback().expect("rollback");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("for longer than --lock-wait (the migration was applied with no lock_timeout), in every attempt"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains(", or run with a longer --lock-wait"),
        "{r:?}"
    );
    assert!(
        !r.stderr
            .contains("uses the lock_timeout and retries stored"),
        "{r:?}"
    );
    p.ok(&db, &["rollback"]);
    p.ok(&db, &["audit", "verify"]);
}

#[test]
fn a_failure_report_under_a_holder_waits_lock_wait_once_not_once_per_write() {
    // Regression: with another connection holding the file's write lock, a migration outside
    // a transaction that stopped part-way waited --lock-wait for its dirty record and again
    // for the end-of-run save: the person waited twice as long for the same report.
    use std::time::{Duration, Instant};
    // Statement 2 reads for a while, then fails at its last row (integer overflow).
    let (db, p) = non_transactional(
        "CREATE TABLE kept (id INTEGER);\n\
         SELECT abs(CASE WHEN x = 3000000 THEN -9223372036854775807 - 1 ELSE x END) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT x FROM c);\n\
         CREATE TABLE never (id INTEGER);",
        "SELECT * FROM also_missing;",
        None,
    );
    let dirty_after_1 =
        "SELECT progress = 1 FROM backstop_migrations WHERE version = 2 AND status = 'dirty'";
    let (held, holding) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel();
    let holder = hold_when(&db, dirty_after_1, dirty_after_1, held, released);
    let started = Instant::now();
    let r = p.run(&db, &["apply", "--lock-wait", "5s"]);
    let took = started.elapsed();
    holding.recv().expect("the holder held the file");
    release.send(()).expect("release");
    holder.join().expect("join");
    assert_eq!(r.code, 5, "{r:?}");
    let e = &r.stderr;
    assert!(
        e.contains("up statement 2 failed: integer overflow"),
        "{r:?}"
    );
    assert!(
        e.contains("this failure could not be recorded in the ledger")
            && e.contains("waited --lock-wait (5s) for the database"),
        "{r:?}"
    );
    // One full wait, said once; the end-of-run save after it tried for a second only.
    assert_eq!(e.matches("waiting up to 5s").count(), 1, "{r:?}");
    assert!(took >= Duration::from_secs(5), "{took:?}");
    assert!(took < Duration::from_secs(9), "{took:?} {r:?}");
    // The way out it gave, once the holder is gone.
    assert!(
        e.contains("`backstop resolve 2 --rolled-back --reason \"…\"`"),
        "{r:?}"
    );
    db.exec("DROP TABLE kept");
    p.ok(
        &db,
        &[
            "resolve",
            "2",
            "--rolled-back",
            "--reason",
            "kept dropped by hand",
        ],
    );
    p.ok(&db, &["audit", "verify"]);
}
