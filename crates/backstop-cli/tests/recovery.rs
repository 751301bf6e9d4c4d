//! Ways out after a rollback or a run fails: what the messages advise must work, on SQLite
//! and PostgreSQL.
mod common;
use common::{Db, Kind, Project};

both!(
    a_stored_down_script_that_fails_is_resolved_once_the_migration_is_undone_by_hand,
    a_data_migration_whose_down_script_fails_is_resolved_on_the_reason_given,
    a_failed_rollback_after_accepted_drift_says_the_drift_stays_accepted,
    a_failed_apply_after_accepted_drift_says_the_drift_stays_accepted,
    a_resolved_migration_rolled_back_with_proof_is_no_drift_for_older_ones_in_one_run,
    a_resolved_migration_rolled_back_with_proof_is_no_drift_for_older_ones_in_two_runs,
    a_failure_inside_a_long_statement_shows_the_line_it_points_at,
    a_failed_run_says_what_it_applied_and_under_which_release,
    a_data_migration_is_resolved_after_drift_was_accepted,
);

fn a_stored_down_script_that_fails_is_resolved_once_the_migration_is_undone_by_hand(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id INTEGER);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    // A typo in the down script: it can never run.
    p.add(
        "2_c",
        "CREATE TABLE c (id INTEGER);\nCREATE TABLE cb (id INTEGER);",
        Some("DROP TABLE cb;\nDROP TABLE c_typo;\nDROP TABLE c;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    // No rollback tried yet: `rollback` is the way, and it proves its own work.
    let r = p.run(&db, &["resolve", "2", "--rolled-back", "--reason", "early"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("no rollback of it has failed"), "{r:?}");
    let r = p.run(&db, &["rollback"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("backstop resolve 2 --rolled-back"),
        "the advice names the way out: {r:?}"
    );
    // Not yet undone: resolve checks the schema, and refuses with what differs.
    let r = p.run(&db, &["resolve", "2", "--rolled-back", "--reason", "early"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("is not rolled back"), "{r:?}");
    db.exec("DROP TABLE cb");
    db.exec("DROP TABLE c");
    p.ok(
        &db,
        &[
            "resolve",
            "2",
            "--rolled-back",
            "--reason",
            "dropped by hand",
        ],
    );
    let st = p.status(&db);
    assert_eq!(st["applied"], 1, "{st}");
    assert!(st["drift"].is_null(), "{st}");
    p.ok(&db, &["audit", "verify"]);
    // With the down script fixed in a new version of the migration, it applies again.
    std::fs::write(
        p.dir().join("2_c/down.sql"),
        "DROP TABLE cb;\nDROP TABLE c;",
    )
    .expect("write");
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply"]);
    p.ok(&db, &["rollback", "--to", "0"]);
}

fn a_data_migration_whose_down_script_fails_is_resolved_on_the_reason_given(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id INTEGER);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.add(
        "2_seed",
        "INSERT INTO a VALUES (1);",
        Some("DELETE FROM a_typo;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    let r = p.run(&db, &["rollback"]);
    assert_eq!(r.code, 1, "{r:?}");
    db.exec("DELETE FROM a");
    // Its schema looks the same either way: no fingerprint proves the data undone, so it
    // is taken on the reason given, said, and recorded as such.
    let r = p.run(
        &db,
        &["resolve", "2", "--rolled-back", "--reason", "deleted"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    // A warning, on stderr as every command's.
    assert!(
        r.stderr
            .contains("warning: migration 2 changed no schema object"),
        "{r:?}"
    );
    assert!(r.stderr.contains("taken on the reason given"), "{r:?}");
    assert_eq!(p.status(&db)["applied"], 1);
    // Older migrations can be rolled back past it, and it applies again.
    p.ok(&db, &["rollback"]);
    p.ok(&db, &["apply"]);
    assert!(db.check("SELECT count(*) = 1 FROM a"));
    p.ok(&db, &["audit", "verify"]);
}

/// Two migrations applied, the newer one's table dropped by hand: drift.
fn drifted_project(k: Kind) -> (Db, Project) {
    let db = Db::new(k);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id INTEGER);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.add(
        "2_b",
        "CREATE TABLE b (id INTEGER);",
        Some("DROP TABLE b;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    db.exec("DROP TABLE b");
    (db, p)
}

fn a_failed_rollback_after_accepted_drift_says_the_drift_stays_accepted(k: Kind) {
    let (db, p) = drifted_project(k);
    let r = p.run(
        &db,
        &["rollback", "--allow-drift", "--reason", "b dropped by hand"],
    );
    // The down script finds no table b: the step fails, but the acceptance was recorded.
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("override event"), "{r:?}");
    assert!(r.stderr.contains("stays so"), "{r:?}");
    assert!(db.check(&format!(
        "SELECT count(*) = 1 FROM {} WHERE kind = 'override'",
        db.t("events")
    )));
    assert!(p.status(&db)["drift"].is_null());
    // The way out: the schema proves migration 2 undone.
    p.ok(
        &db,
        &[
            "resolve",
            "2",
            "--rolled-back",
            "--reason",
            "b dropped by hand",
        ],
    );
    assert_eq!(p.status(&db)["applied"], 1);
    p.ok(&db, &["audit", "verify"]);
}

fn a_failed_apply_after_accepted_drift_says_the_drift_stays_accepted(k: Kind) {
    let (db, p) = drifted_project(k);
    p.add(
        "3_bad",
        "INSERT INTO nope VALUES (1);",
        Some("SELECT 1;"),
        None,
        None,
    );
    let r = p.run(&db, &["apply", "--allow-drift", "--reason", "b is gone"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("override event"), "{r:?}");
    assert!(p.status(&db)["drift"].is_null());
}

fn a_resolved_migration_rolled_back_with_proof_is_no_drift_for_older_ones_in_one_run(k: Kind) {
    resolved_then_rolled_back(k, true)
}

fn a_resolved_migration_rolled_back_with_proof_is_no_drift_for_older_ones_in_two_runs(k: Kind) {
    resolved_then_rolled_back(k, false)
}

fn resolved_then_rolled_back(k: Kind, one_run: bool) {
    let db = Db::new(k);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id INTEGER);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    // Outside a transaction: it stops after the index, and its clean-up can't finish.
    let concurrently = match k {
        Kind::Postgres => "CONCURRENTLY ",
        Kind::Sqlite => "",
    };
    p.add(
        "2_b",
        &format!("CREATE INDEX {concurrently}a_idx ON a (id);\nINSERT INTO nope VALUES (1);\nCREATE TABLE b_tmp (id INTEGER);"),
        Some(&format!("DROP INDEX {concurrently}a_idx;\nDROP TABLE b_tmp;")),
        None,
        Some("transaction = false\n"),
    );
    assert_eq!(p.run(&db, &["apply"]).code, 5);
    // Finished by hand and accepted as applied: its resolve accepts table a (the index).
    db.exec("CREATE INDEX a_idx ON a (id)");
    db.exec("CREATE TABLE b_tmp (id INTEGER)");
    let r = p.ok(
        &db,
        &[
            "--format",
            "json",
            "resolve",
            "2",
            "--applied",
            "--reason",
            "finished by hand",
        ],
    );
    assert!(
        r.json()["objects"]
            .as_array()
            .expect("objects")
            .iter()
            .any(|o| o
                .as_str()
                .is_some_and(|s| s.ends_with(".a") || s == "table a")),
        "{r:?}"
    );
    // Unrelated drift, accepted by the rollback.
    db.exec("CREATE TABLE z (id INTEGER)");
    // Rolling 2 back proves table a is as migration 1 left it; that proof must stand for
    // migration 1, whether it is rolled back in the same run or a later one.
    let drift = ["--allow-drift", "--reason", "z is someone else's"];
    if one_run {
        let r = p.run(&db, &[&["rollback", "--to", "0"][..], &drift].concat());
        assert_eq!(r.code, 0, "{r:?}");
    } else {
        let r = p.run(&db, &[&["rollback", "--steps", "1"][..], &drift].concat());
        assert_eq!(r.code, 0, "{r:?}");
        let r = p.run(&db, &["rollback"]);
        assert_eq!(r.code, 0, "{r:?}");
    }
    assert_eq!(p.status(&db)["applied"], 0);
    p.ok(&db, &["audit", "verify"]);
}

fn a_failure_inside_a_long_statement_shows_the_line_it_points_at(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);\nINSERT INTO t\n  SELECT id\n  FROM t\n  WHERE nosuch = 1;",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    let r = p.run(&db, &["--format", "json", "apply"]);
    assert_eq!(r.code, 1, "{r:?}");
    let f = &r.json()["failure"];
    assert_eq!(f["statement"], "INSERT INTO t …", "{r:?}");
    if matches!(k, Kind::Postgres) {
        // PostgreSQL says where in the statement; SQLite does not.
        assert_eq!(f["line"], 5, "{r:?}");
        assert_eq!(f["line_text"], "WHERE nosuch = 1", "{r:?}");
        let r = p.run(&db, &["apply"]);
        assert!(
            r.stderr.contains("line 5: WHERE nosuch = 1"),
            "the text shows it too: {r:?}"
        );
    }
}

fn a_failed_run_says_what_it_applied_and_under_which_release(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id INTEGER);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.add(
        "2_bad",
        "INSERT INTO nope VALUES (1);",
        Some("SELECT 1;"),
        None,
        None,
    );
    let r = p.run(&db, &["apply", "--release", "r7"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("applied  1 a"), "{r:?}");
    assert!(
        r.stdout.contains("stay applied, as release r7")
            && r.stdout.contains("backstop rollback --release r7"),
        "{r:?}"
    );
    // The advice works.
    p.ok(&db, &["rollback", "--release", "r7"]);
    assert_eq!(p.status(&db)["applied"], 0);
}

fn a_data_migration_is_resolved_after_drift_was_accepted(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER PRIMARY KEY);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.add(
        "2_data",
        "INSERT INTO t VALUES (1);",
        Some("DELETE FROM nosuch;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    db.exec("CREATE TABLE h (id INTEGER)");
    let r = p.run(&db, &["rollback", "--allow-drift", "--reason", "h is fine"]);
    assert_eq!(r.code, 1, "{r:?}");
    db.exec("DELETE FROM t");
    let r = p.run(
        &db,
        &["resolve", "2", "--rolled-back", "--reason", "row deleted"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.all().contains("taken on the reason given"), "{r:?}");
    // Unaccepted drift is still refused.
    db.exec("CREATE TABLE h2 (id INTEGER)");
    p.ok(&db, &["apply", "--allow-drift", "--reason", "h2 too"]);
    p.ok(&db, &["audit", "verify"]);
}
