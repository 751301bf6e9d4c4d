//! Exit 5 with `--format json`: the failure document says, as data, what ran, the state the
//! migration is left in and the commands that end it.
mod common;
use common::{Db, Kind, Project, Run};
use serde_json::{json, Value};

/// The `sql` of each statement in a list of `statements` entries.
fn sqls(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s["sql"].as_str().expect("sql").to_string())
        .collect()
}

/// The `command`s of `needs_person.commands`.
fn commands(j: &Value) -> Vec<String> {
    j["needs_person"]["commands"]
        .as_array()
        .unwrap_or_else(|| panic!("no commands: {j}"))
        .iter()
        .map(|c| c["command"].as_str().expect("command").to_string())
        .collect()
}

/// Run one of the advised commands as given, with a real reason for the placeholder.
fn run_advised(p: &Project, db: &Db, command: &str) -> Run {
    let args = command
        .strip_prefix("backstop ")
        .unwrap_or_else(|| panic!("not a backstop command: {command}"))
        .replace("\"…\"", "checked-by-hand");
    let args: Vec<&str> = args.split_whitespace().collect();
    p.run(db, &args)
}

fn needs_person(r: &Run) -> Value {
    assert_eq!(r.code, 5, "{r:?}");
    let j = r.json();
    assert_eq!(j["kind"], "needs-person", "{j}");
    assert_eq!(j["exit_code"], 5, "{j}");
    assert!(j["needs_person"].is_object(), "{j}");
    j
}

#[test]
fn a_non_transactional_migration_stopped_part_way_says_what_ran_and_how_to_resolve() {
    // Guards against the exit-5 JSON document carrying what ran and what to do only as text.
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
        // Statement 1 creates a table, statement 2 fails, and the down script that should
        // clean up fails too: the migration is left dirty.
        p.add(
            "2_half",
            "CREATE TABLE kept (id int);\nINSERT INTO missing VALUES (1);\nCREATE TABLE never (id int);",
            Some("SELECT * FROM also_missing;"),
            None,
            Some("transaction = false\n"),
        );
        let j = needs_person(&p.run(&db, &["--format", "json", "apply"]));
        let f = &j["failure"];
        assert_eq!(f["version"], 2, "{j}");
        assert_eq!(f["name"], "half", "{j}");
        assert_eq!(f["part"], "up", "{j}");
        assert_eq!(f["statement_index"], 2, "{j}");
        assert_eq!(f["line"], 2, "{j}");
        assert!(f["column"].as_u64().is_some_and(|c| c >= 1), "{j}");
        assert!(
            f["file"]
                .as_str()
                .is_some_and(|x| x.ends_with("2_half/up.sql")),
            "{j}"
        );
        assert!(
            f["error"].as_str().is_some_and(|e| e.contains("missing")),
            "{j}"
        );
        if kind == Kind::Postgres {
            assert_eq!(f["code"], "42P01", "{j}");
        }
        let n = &j["needs_person"];
        assert_eq!(n["situation"], "stopped-part-way", "{j}");
        assert_eq!(n["command"], "apply", "{j}");
        assert_eq!(n["version"], 2, "{j}");
        assert_eq!(n["name"], "half", "{j}");
        assert_eq!(n["part"], "up", "{j}");
        assert_eq!(n["transaction"], false, "{j}");
        assert_eq!(n["history"], "dirty", "{j}");
        let s = &n["statements"];
        assert_eq!(s["part"], "up", "{j}");
        assert_eq!(s["total"], 3, "{j}");
        assert_eq!(sqls(&s["completed"]), ["CREATE TABLE kept (id int)"], "{j}");
        assert_eq!(s["failed"]["index"], 2, "{j}");
        assert_eq!(s["failed"]["line"], 2, "{j}");
        assert_eq!(s["failed"]["sql"], "INSERT INTO missing VALUES (1)", "{j}");
        assert_eq!(s["failed_may_have_completed"], false, "{j}");
        assert_eq!(sqls(&s["not_run"]), ["CREATE TABLE never (id int)"], "{j}");
        assert!(
            n["cleanup"][0]
                .as_str()
                .is_some_and(|c| c.contains("down.sql")),
            "the failed clean-up is named: {j}"
        );
        assert_eq!(
            commands(&j),
            [
                "backstop resolve 2 --applied --reason \"…\"",
                "backstop resolve 2 --rolled-back --reason \"…\""
            ],
            "{j}"
        );
        // What the completed statement left, against the schema before the migration.
        let diff = j["diff"].as_str().unwrap_or_else(|| panic!("no diff: {j}"));
        assert!(diff.contains("kept") && !diff.contains("never"), "{diff}");
        // The structured facts match what history says, and the advised command works
        // once the person has undone what ran.
        assert_eq!(p.status(&db)["dirty"], json!([2]));
        db.exec("DROP TABLE kept");
        let r = run_advised(&p, &db, &commands(&j)[1]);
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(p.status(&db)["dirty"], json!([]));
    }
}

#[test]
fn a_verify_failure_outside_a_transaction_lists_every_up_statement_as_completed() {
    // Guards against the up statements of a migration whose verify failed being reported
    // as not run in the exit-5 JSON document.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_two",
        "CREATE TABLE a (x int);\nCREATE TABLE b (x int);",
        None,
        Some("SELECT 0;"),
        Some("transaction = false\nirreversible = true\nreason = \"test\"\n"),
    );
    let j = needs_person(&p.run(&db, &["--format", "json", "apply"]));
    assert_eq!(j["failure"]["part"], "verify", "{j}");
    let n = &j["needs_person"];
    assert_eq!(n["part"], "verify", "{j}");
    assert_eq!(n["history"], "dirty", "{j}");
    assert!(
        n["cleanup"][0]
            .as_str()
            .is_some_and(|c| c.contains("no down.sql")),
        "{j}"
    );
    let s = &n["statements"];
    assert_eq!(s["part"], "up", "{j}");
    assert_eq!(
        sqls(&s["completed"]),
        ["CREATE TABLE a (x int)", "CREATE TABLE b (x int)"],
        "{j}"
    );
    assert_eq!(s["failed"], Value::Null, "{j}");
    assert_eq!(s["not_run"], json!([]), "{j}");
}

#[test]
fn an_unproven_rollback_names_the_migration_its_state_and_the_way_out() {
    // Guards against an unproven rollback (exit 5) leaving its state and next commands
    // only in the error text.
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
        // The down script forgets the column.
        p.add(
            "2_x",
            "ALTER TABLE t ADD COLUMN x int;\nCREATE TABLE t2 (id int);",
            Some("DROP TABLE t2;"),
            None,
            None,
        );
        p.ok(&db, &["apply"]);
        let j = needs_person(&p.run(&db, &["--format", "json", "rollback"]));
        assert_eq!(j["failure"], Value::Null, "no statement failed: {j}");
        assert!(j["diff"].as_str().is_some_and(|d| d.contains("x")), "{j}");
        let n = &j["needs_person"];
        assert_eq!(n["situation"], "rollback-unproven", "{j}");
        assert_eq!(n["command"], "rollback", "{j}");
        assert_eq!(n["version"], 2, "{j}");
        assert_eq!(n["name"], "x", "{j}");
        assert_eq!(n["part"], "down", "{j}");
        assert_eq!(n["transaction"], true, "{j}");
        // Its transaction was rolled back: still applied, with nothing half-run to list.
        assert_eq!(n["history"], "applied", "{j}");
        assert_eq!(n["statements"], Value::Null, "{j}");
        assert_eq!(
            commands(&j),
            [
                "backstop schema",
                "backstop resolve 2 --rolled-back --reason \"…\""
            ],
            "{j}"
        );
        assert_eq!(p.status(&db)["migrations"][1]["state"], "applied");
        db.exec("DROP TABLE t2");
        db.exec("ALTER TABLE t DROP COLUMN x");
        let r = run_advised(&p, &db, &commands(&j)[1]);
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(p.status(&db)["migrations"][1]["state"], "rolled_back");
    }
}

#[test]
fn a_non_transactional_rollback_that_stops_lists_the_down_statements_that_ran() {
    // Guards against a down script stopped part-way outside a transaction (exit 5) saying
    // what ran only in the error text.
    for kind in [Kind::Postgres, Kind::Sqlite] {
        let db = Db::new(kind);
        let p = Project::new();
        p.add(
            "1_t",
            "CREATE TABLE t (id int);\nCREATE TABLE u (id int);",
            Some("DROP TABLE u;\nDROP TABLE nope;\nDROP TABLE t;"),
            None,
            Some("transaction = false\n"),
        );
        p.ok(&db, &["apply"]);
        let j = needs_person(&p.run(&db, &["--format", "json", "rollback"]));
        assert_eq!(j["failure"]["part"], "down", "{j}");
        assert_eq!(j["failure"]["statement_index"], 2, "{j}");
        // What is left to undo: t is still there (u is gone, as before the migration).
        let diff = j["diff"].as_str().unwrap_or_else(|| panic!("no diff: {j}"));
        assert!(diff.contains('t') && !diff.contains("u   ("), "{diff}");
        let n = &j["needs_person"];
        assert_eq!(n["situation"], "stopped-part-way", "{j}");
        assert_eq!(n["command"], "rollback", "{j}");
        // Advice for a rollback: "what did not run" is the rest of the down script.
        assert!(
            n["commands"]
                .to_string()
                .contains("rest of the down script"),
            "{j}"
        );
        assert_eq!(n["transaction"], false, "{j}");
        assert_eq!(n["history"], "dirty", "{j}");
        let s = &n["statements"];
        assert_eq!(s["part"], "down", "{j}");
        assert_eq!(sqls(&s["completed"]), ["DROP TABLE u"], "{j}");
        assert_eq!(s["failed"]["sql"], "DROP TABLE nope", "{j}");
        assert_eq!(sqls(&s["not_run"]), ["DROP TABLE t"], "{j}");
        assert_eq!(
            commands(&j),
            [
                "backstop resolve 1 --rolled-back --reason \"…\"",
                "backstop resolve 1 --applied --reason \"…\""
            ],
            "{j}"
        );
        assert_eq!(p.status(&db)["dirty"], json!([1]));
        db.exec("DROP TABLE t");
        let r = run_advised(&p, &db, &commands(&j)[0]);
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(p.status(&db)["migrations"][0]["state"], "rolled_back");
    }
}

#[test]
fn atomic_names_the_migrations_it_left_applied() {
    // Guards against --atomic's unkept promise (exit 5) being stated only in the text.
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
    let j = needs_person(&p.run(
        &db,
        &[
            "--format",
            "json",
            "apply",
            "--atomic",
            "--release",
            "rel-1",
        ],
    ));
    let n = &j["needs_person"];
    assert_eq!(n["version"], 2, "{j}");
    assert_eq!(n["history"], "dirty", "{j}");
    assert_eq!(n["still_applied"], json!([1]), "{j}");
    let c = commands(&j);
    assert_eq!(
        c.last().map(String::as_str),
        Some("backstop rollback --release rel-1"),
        "{j}"
    );
}

#[test]
fn a_dirty_migration_shows_what_it_left_and_resolve_shows_what_is_still_to_undo() {
    // The statements that completed left a table the down script doesn't drop: the exit-5
    // document and the refused resolve both show it, rather than pointing at a diff they
    // don't carry.
    for kind in [Kind::Postgres, Kind::Sqlite] {
        let db = Db::new(kind);
        let p = Project::new();
        p.add(
            "1_nt",
            "CREATE TABLE x (id int);\nCREATE TABLE y (id int);\nINSERT INTO nope VALUES (1);",
            Some("DROP TABLE x;"),
            None,
            Some("transaction = false\n"),
        );
        let r = p.run(&db, &["--format", "json", "apply"]);
        let j = needs_person(&r);
        let diff = j["diff"].as_str().unwrap_or_else(|| panic!("no diff: {j}"));
        assert!(
            diff.contains("y") && !diff.contains("table x") && !diff.contains(".x"),
            "{diff}"
        );
        let r = p.run(&db, &["resolve", "1", "--rolled-back", "--reason", "check"]);
        assert_eq!(r.code, 3, "{r:?}");
        assert!(
            r.stderr.contains("+ table") && r.stderr.contains('y'),
            "the diff shows y: {r:?}"
        );
        db.exec("DROP TABLE y");
        p.ok(
            &db,
            &[
                "resolve",
                "1",
                "--rolled-back",
                "--reason",
                "dropped y by hand",
            ],
        );
        assert!(p.status(&db)["drift"].is_null(), "{kind:?}");
    }
}

#[test]
fn an_atomic_undo_that_fails_keeps_the_cause_and_the_diff() {
    // The failure that started the undo says why the run failed; the undo's unproven step
    // says what is left. Both reach the document.
    for kind in [Kind::Sqlite, Kind::Postgres] {
        let db = Db::new(kind);
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
            "CREATE TABLE b (id int);\nCREATE TABLE b2 (id int);",
            Some("DROP TABLE b;"),
            None,
            None,
        );
        p.add(
            "3_c",
            "CREATE TABLE c (id int);\nINSERT INTO nope VALUES (1);",
            Some("DROP TABLE c;"),
            None,
            None,
        );
        p.ok(&db, &["apply", "--to", "1"]);
        let r = p.run(
            &db,
            &["--format", "json", "apply", "--atomic", "--release", "rel1"],
        );
        let j = needs_person(&r);
        assert_eq!(j["needs_person"]["situation"], "atomic-undo-failed", "{j}");
        let stmt = j["failure"]["statement"]
            .as_str()
            .unwrap_or_else(|| panic!("{j}"));
        assert!(stmt.contains("nope"), "the cause: {j}");
        let diff = j["diff"].as_str().unwrap_or_else(|| panic!("no diff: {j}"));
        assert!(diff.contains("b2"), "{diff}");
        assert!(
            j["error"].as_str().is_some_and(|e| e.contains("nope")),
            "{j}"
        );
        // The text: one state and one next (the run's), and the diff's + side is what the
        // down script left before its transaction was rolled back, not the schema now.
        let db = Db::new(kind);
        p.ok(&db, &["apply", "--to", "1"]);
        let r = p.run(&db, &["apply", "--atomic", "--release", "rel2"]);
        assert_eq!(r.code, 5, "{r:?}");
        // What stays applied points at the undo's own advice, not at a resolve of the
        // migration that failed (it was rolled back: there is nothing to resolve).
        assert!(r.stdout.contains("see `next:` below"), "{r:?}");
        assert_eq!(r.stderr.matches("  state: ").count(), 1, "{r:?}");
        assert_eq!(r.stderr.matches("  next: ").count(), 1, "{r:?}");
        assert!(
            r.stderr
                .contains("schema diff (- as before the migration, + after the down script)"),
            "{r:?}"
        );
    }
}

#[test]
fn a_single_file_migration_left_dirty_numbers_lines_as_its_file_does() {
    // The text and the JSON name the same lines: the file's, not the section's.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    std::fs::write(
        p.dir().join("1_sf.sql"),
        "-- transaction = false\n-- irreversible = true\n-- reason = \"no\"\n-- backstop:up\nCREATE TABLE s (id int);\nCREATE TABLE s2 (id int);\nINSERT INTO nope VALUES (1);\n",
    )
    .expect("write");
    let r = p.run(&db, &["--format", "json", "apply"]);
    let j = needs_person(&r);
    let lines: Vec<u64> = j["needs_person"]["statements"]["completed"]
        .as_array()
        .unwrap_or_else(|| panic!("{j}"))
        .iter()
        .map(|s| s["line"].as_u64().expect("line"))
        .collect();
    assert_eq!(lines, vec![5, 6], "{j}");
    let text = j["error"].as_str().expect("error");
    assert!(
        text.contains("1. line 5:") && text.contains("2. line 6:") && !text.contains("up.sql"),
        "{text}"
    );
}

#[test]
fn an_unproven_rollback_of_a_migration_that_recorded_no_objects_shows_no_misleading_diff() {
    // Resolved `--applied` by hand, the migration recorded no changed object: a diff
    // computed from that would claim objects were missing that never existed before it.
    for kind in [Kind::Sqlite, Kind::Postgres] {
        let db = Db::new(kind);
        let p = Project::new();
        p.add(
            "1_base",
            "CREATE TABLE base (id int);",
            Some("DROP TABLE base;"),
            None,
            None,
        );
        p.add(
            "2_half",
            "CREATE TABLE a2 (id int);\nINSERT INTO nope VALUES (1);\nCREATE TABLE b2 (id int);\nCREATE TABLE c2 (id int);",
            Some("DROP TABLE a2;\nDROP TABLE b2;"),
            None,
            Some("transaction = false\n"),
        );
        assert_eq!(p.run(&db, &["apply"]).code, 5);
        // The cleanup's down script dropped a2 before it stopped: finish by hand.
        db.exec("CREATE TABLE IF NOT EXISTS a2 (id int)");
        db.exec("CREATE TABLE IF NOT EXISTS b2 (id int)");
        db.exec("CREATE TABLE IF NOT EXISTS c2 (id int)");
        p.ok(
            &db,
            &["resolve", "2", "--applied", "--reason", "finished by hand"],
        );
        let j = needs_person(&p.run(&db, &["--format", "json", "rollback"]));
        assert!(
            !j["diff"].as_str().is_some_and(|d| d.contains("(missing)")),
            "{j}"
        );
    }
}

/// Migration 2, outside a transaction, whose second statement holds advisory lock 4252 for
/// half a second (the signal for a [`common::TableHolder`]), after migration 1 is applied.
/// Its own lock_timeout is short: the waits for backstop's tables must not be under it.
fn progress_past_a_holder() -> (Db, Project, String) {
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
        "CREATE TABLE u (id int);\nSELECT pg_advisory_xact_lock(4252), pg_sleep(0.5);\nCREATE INDEX u_id ON u (id);",
        Some("DROP INDEX IF EXISTS u_id;\nDROP TABLE IF EXISTS u;"),
        None,
        Some("transaction = false\nlock_timeout = \"200ms\"\nretries = 0\n"),
    );
    (db, p, before)
}

#[test]
fn a_progress_write_kept_from_history_past_lock_wait_names_the_holder_and_resolves() {
    // Regression: on PostgreSQL, a session holding backstop.migrations made the progress write
    // after a statement outside a transaction fail at the migration's lock_timeout, and the
    // report did not say who held it.
    let (db, p, before) = progress_past_a_holder();
    let holder = common::TableHolder::when_migrating(
        &db.url,
        4252,
        "backstop.migrations",
        std::time::Duration::from_secs(60),
    );
    let started = std::time::Instant::now();
    let r = p.run(&db, &["apply", "--lock-wait", "2s"]);
    let took = started.elapsed();
    let pid = holder.pid();
    holder.release();
    assert_eq!(r.code, 5, "{r:?}");
    let e = &r.stderr;
    // What happened and where: statement 2 completed, its record did not.
    assert!(
        e.contains("2_n/up.sql:2:1: migration 2 (n) up statement 2 completed outside a transaction, but recording its progress in history failed: canceling statement due to lock timeout [55P03]"),
        "{r:?}"
    );
    // Who holds the lock, and that the wait was --lock-wait's, not the migration's 200 ms.
    assert!(
        e.contains("detail: waited --lock-wait (2s) for a lock on backstop's tables: another session holds one (pid"),
        "{r:?}"
    );
    assert!(
        e.contains(&format!("pid {pid}, application \"lock-holder\""))
            && e.contains("AccessExclusiveLock on backstop.migrations"),
        "{r:?}"
    );
    assert!(took >= std::time::Duration::from_secs(2), "{took:?}");
    assert!(took < std::time::Duration::from_secs(15), "{took:?}");
    // What history says, what ran and what did not, and the two ways out.
    assert!(
        e.contains("state: migration 2 is dirty, and history counts 1 of its 3 up statements as completed, but 2 ran"),
        "{r:?}"
    );
    assert!(
        e.contains("  not run:\n  3. line 3: CREATE INDEX u_id ON u (id)"),
        "{r:?}"
    );
    assert!(
        e.contains("run statement 3 by hand and `backstop resolve 2 --applied --reason \"…\"`"),
        "{r:?}"
    );
    assert!(
        e.contains("`backstop resolve 2 --rolled-back --reason \"…\"`"),
        "{r:?}"
    );
    assert!(!e.contains("run the command again"), "{r:?}");
    assert!(db.check(
        "SELECT status = 'dirty' AND progress = 1 FROM backstop.migrations WHERE version = 2"
    ));

    // The way out it gave, once the holder is gone: finish by hand, resolve as applied.
    db.exec("CREATE INDEX u_id ON u (id)");
    let r = run_advised(&p, &db, "backstop resolve 2 --applied --reason \"…\"");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.status(&db)["migrations"][1]["state"], "applied");
    p.ok(&db, &["audit", "verify"]);
    p.ok(&db, &["rollback"]);
    assert_eq!(p.fingerprint(&db), before);

    // Again as JSON, and the other way out: undo what ran, resolve as rolled back.
    let holder = common::TableHolder::when_migrating(
        &db.url,
        4252,
        "backstop.migrations",
        std::time::Duration::from_secs(60),
    );
    let r = p.run(&db, &["--format", "json", "apply", "--lock-wait", "1s"]);
    holder.release();
    let j = needs_person(&r);
    let n = &j["needs_person"];
    assert_eq!(n["situation"], "progress-not-recorded", "{j}");
    assert_eq!(n["history"], "dirty", "{j}");
    assert!(j["failure"].is_null(), "{j}");
    assert_eq!(
        sqls(&n["statements"]["not_run"]),
        ["CREATE INDEX u_id ON u (id)"],
        "{j}"
    );
    let c = commands(&j);
    assert_eq!(
        c[1], "backstop resolve 2 --rolled-back --reason \"…\"",
        "{j}"
    );
    db.exec("DROP TABLE u");
    let r = run_advised(&p, &db, &c[1]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.fingerprint(&db), before);
    p.ok(&db, &["audit", "verify"]);
    p.ok(&db, &["apply"]);
}

#[test]
fn a_failed_concurrent_build_cleaned_up_whose_record_cannot_be_written_says_only_the_record_is_missing(
) {
    // Regression: when a failed CREATE INDEX CONCURRENTLY was cleaned up (its INVALID index
    // dropped, the schema proven as before) but a session holding backstop.migrations kept the
    // `rolled_back` record from being written, the run ended as "interrupted" with generic
    // advice to finish or undo statements by hand (on PostgreSQL after waiting for the
    // holder with no limit).
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    // The index expression holds advisory lock 4253 for half a second, then fails.
    p.add(
        "1_t",
        "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\nCREATE FUNCTION slow_fail(x int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock(4253); PERFORM pg_sleep(0.5); RETURN x / 0; END $$;",
        Some("DROP FUNCTION slow_fail(int);\nDROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    let before = p.fingerprint(&db);
    p.add(
        "2_idx",
        "CREATE INDEX CONCURRENTLY t_bad ON t (slow_fail(id));",
        Some("DROP INDEX CONCURRENTLY IF EXISTS t_bad;"),
        None,
        Some("transaction = false\n"),
    );
    // Held longer than the run waits, but not forever: without a limit on the wait, the
    // run would record its end once the holder let go, and the test fails on the exit code.
    let holder = common::TableHolder::when_migrating(
        &db.url,
        4253,
        "backstop.migrations",
        std::time::Duration::from_secs(20),
    );
    let started = std::time::Instant::now();
    let r = p.run(&db, &["apply", "--lock-wait", "1s"]);
    let took = started.elapsed();
    let pid = holder.pid();
    holder.release();
    assert_eq!(r.code, 5, "{r:?}");
    assert!(took < std::time::Duration::from_secs(15), "{took:?}");
    let e = &r.stderr;
    // What ran and how it failed.
    assert!(
        e.contains("2_idx/up.sql:1:1: migration 2 (idx) up statement 1 failed: division by zero"),
        "{r:?}"
    );
    // That the clean-up succeeded and is proven, and only the record is missing.
    assert!(
        e.contains(
            "backstop dropped the INVALID index(es) the failed statement left (public.t_bad)"
        ),
        "{r:?}"
    );
    assert!(
        e.contains("the schema fingerprint equals the one before the migration"),
        "{r:?}"
    );
    assert!(
        e.contains("only its record is missing: history still marks it dirty"),
        "{r:?}"
    );
    assert!(
        e.contains(&format!("pid {pid}, application \"lock-holder\"")),
        "{r:?}"
    );
    assert!(
        e.contains("`backstop resolve 2 --rolled-back --reason \"…\"` records the migration as rolled back"),
        "{r:?}"
    );
    assert!(
        !e.contains("finish or undo the remaining statements"),
        "{r:?}"
    );
    assert!(!e.contains("run the command again"), "{r:?}");
    assert!(db.check("SELECT count(*) = 0 FROM pg_class WHERE relname = 't_bad'"));
    assert_eq!(p.status(&db)["dirty"], json!([2]));
    assert_eq!(p.fingerprint(&db), before);

    // The command it gave works, and leaves the migration pending with the ledger intact.
    let r = run_advised(&p, &db, "backstop resolve 2 --rolled-back --reason \"…\"");
    assert_eq!(r.code, 0, "{r:?}");
    let st = p.status(&db);
    assert_eq!(st["migrations"][1]["state"], "rolled_back", "{st}");
    assert_eq!(st["dirty"], json!([]), "{st}");
    p.ok(&db, &["audit", "verify"]);
    assert_eq!(p.fingerprint(&db), before);
}

#[test]
fn a_failure_undone_by_down_sql_whose_record_cannot_be_written_says_only_the_record_is_missing() {
    // Regression: when down.sql undid a failed migration outside a transaction and the
    // schema was proven as before it, but a session holding backstop.migrations kept the
    // `rolled_back` record from being written, the run ended as "interrupted" with generic
    // advice.
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
        "2_z",
        "ALTER TABLE t ADD COLUMN z int;\nDO $$ BEGIN PERFORM pg_advisory_xact_lock(4254); PERFORM pg_sleep(0.5); RAISE EXCEPTION 'stop here'; END $$;\nCREATE TABLE never (id int);",
        Some("ALTER TABLE t DROP COLUMN z;"),
        None,
        Some("transaction = false\n"),
    );
    let holder = common::TableHolder::when_migrating(
        &db.url,
        4254,
        "backstop.migrations",
        std::time::Duration::from_secs(20),
    );
    let r = p.run(&db, &["--format", "json", "apply", "--lock-wait", "1s"]);
    let pid = holder.pid();
    holder.release();
    let j = needs_person(&r);
    let n = &j["needs_person"];
    assert_eq!(n["situation"], "record-failed", "{j}");
    assert_eq!(n["history"], "dirty", "{j}");
    assert_eq!(j["failure"]["statement_index"], 2, "{j}");
    assert_eq!(
        sqls(&n["statements"]["completed"]),
        ["ALTER TABLE t ADD COLUMN z int"],
        "{j}"
    );
    assert_eq!(
        sqls(&n["statements"]["not_run"]),
        ["CREATE TABLE never (id int)"],
        "{j}"
    );
    let state = n["state"].as_str().expect("state");
    assert!(
        state.contains("backstop ran down.sql (1 statements) and the schema fingerprint again equals the one before the migration"),
        "{j}"
    );
    assert!(state.contains("only its record is missing"), "{j}");
    assert!(
        r.stderr
            .contains(&format!("pid {pid}, application \"lock-holder\"")),
        "{r:?}"
    );
    let c = commands(&j);
    assert_eq!(
        c[0], "backstop resolve 2 --rolled-back --reason \"…\"",
        "{j}"
    );
    assert_eq!(p.fingerprint(&db), before);
    let r = run_advised(&p, &db, &c[0]);
    assert_eq!(r.code, 0, "{r:?}");
    let st = p.status(&db);
    assert_eq!(st["migrations"][1]["state"], "rolled_back", "{st}");
    p.ok(&db, &["audit", "verify"]);
    assert_eq!(p.fingerprint(&db), before);
}

#[test]
fn a_failure_report_under_a_holder_waits_lock_wait_once_not_once_per_write() {
    // Regression: with a session holding all of backstop's tables, a migration outside a
    // transaction that stopped part-way waited --lock-wait for its dirty record, again for
    // the end-of-run save and again for the flush: the person waited three times as long
    // for the same report.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_half",
        "CREATE TABLE kept (id int);\nDO $$ BEGIN PERFORM pg_advisory_xact_lock(4255); PERFORM pg_sleep(0.5); RAISE EXCEPTION 'stop here'; END $$;\nCREATE TABLE never (id int);",
        Some("SELECT * FROM also_missing;"),
        None,
        Some("transaction = false\n"),
    );
    let holder = common::TableHolder::when_migrating(
        &db.url,
        4255,
        "backstop.migrations, backstop.events, backstop.state",
        std::time::Duration::from_secs(40),
    );
    let started = std::time::Instant::now();
    let r = p.run(&db, &["apply", "--lock-wait", "4s"]);
    let took = started.elapsed();
    let pid = holder.pid();
    holder.release();
    assert_eq!(r.code, 5, "{r:?}");
    assert!(took >= std::time::Duration::from_secs(4), "{took:?}");
    assert!(took < std::time::Duration::from_secs(9), "{took:?} {r:?}");
    // The one long wait was said once, naming the holder.
    assert_eq!(r.stderr.matches("waiting up to 4s").count(), 1, "{r:?}");
    let e = &r.stderr;
    assert!(
        e.contains("this failure could not be recorded in the ledger")
            && e.contains(&format!("pid {pid}, application \"lock-holder\"")),
        "{r:?}"
    );
    assert!(e.contains("1. line 1: CREATE TABLE kept (id int)"), "{r:?}");
    // The way out it gave, once the holder is gone.
    db.exec("DROP TABLE kept");
    let r = run_advised(&p, &db, "backstop resolve 1 --rolled-back --reason \"…\"");
    assert_eq!(r.code, 0, "{r:?}");
    p.ok(&db, &["audit", "verify"]);
}

#[test]
fn a_complete_run_whose_record_is_kept_from_history_names_the_holder_and_resolves() {
    // Guards the end of a run outside a transaction on PostgreSQL: every statement ran and
    // the verify script passed, but a session holding backstop.migrations kept the final
    // record out (it used to wait for it with no limit).
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
    // The verify script holds advisory lock 4256 for half a second: the holder's signal.
    p.add(
        "2_u",
        "CREATE TABLE u (id int);",
        Some("DROP TABLE u;"),
        Some("SELECT true FROM (SELECT pg_advisory_xact_lock(4256), pg_sleep(0.5)) AS held;"),
        Some("transaction = false\n"),
    );
    let holder = common::TableHolder::when_migrating(
        &db.url,
        4256,
        "backstop.migrations",
        std::time::Duration::from_secs(20),
    );
    let r = p.run(&db, &["--format", "json", "apply", "--lock-wait", "1s"]);
    let pid = holder.pid();
    holder.release();
    let j = needs_person(&r);
    let n = &j["needs_person"];
    assert_eq!(n["situation"], "record-failed", "{j}");
    assert_eq!(n["history"], "dirty", "{j}");
    assert!(
        r.stderr
            .contains("its verify script passed, but recording that in history failed")
            && r.stderr
                .contains(&format!("pid {pid}, application \"lock-holder\"")),
        "{r:?}"
    );
    let c = commands(&j);
    assert_eq!(c[0], "backstop resolve 2 --applied --reason \"…\"", "{j}");
    let r = run_advised(&p, &db, &c[0]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.status(&db)["migrations"][1]["state"], "applied");
    p.ok(&db, &["audit", "verify"]);
    p.ok(&db, &["rollback"]);
    assert_eq!(p.fingerprint(&db), before);
}
