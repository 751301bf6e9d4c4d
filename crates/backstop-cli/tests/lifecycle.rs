//! apply / verify / rollback end to end, on SQLite and PostgreSQL.
mod common;
use common::{Db, Kind, Project};

both!(
    shop_applies_verifies_rolls_back_to_empty_and_reapplies,
    failing_verify_leaves_no_trace,
    syntax_error_names_file_migration_line_and_applies_nothing,
    edited_applied_migration_is_refused_by_name,
    rollback_works_with_the_migrations_folder_deleted,
    rollback_proof_mismatch_exits_5_with_diff_and_changes_nothing,
    irreversible_stops_rollback_unless_forced,
    drift_is_refused_unless_allowed_with_reason,
    atomic_undoes_the_whole_release,
    to_steps_release_and_dry_run,
    sum_file_disagreement_is_refused,
    a_rollback_reaching_a_migration_without_down_script_refuses_before_undoing_anything,
    a_refused_rollback_does_not_accept_the_drift,
    a_migration_without_down_script_undone_by_hand_is_resolved_when_the_schema_proves_it,
    under_drift_a_migration_that_recorded_no_changes_is_not_proven_by_a_down_that_does_nothing,
    a_migration_without_down_script_resolved_applied_can_later_be_resolved_rolled_back,
    resolve_rolled_back_after_accepted_drift_proves_the_migrations_objects,
    resolve_rolled_back_waits_for_a_newer_dirty_migration,
    a_rollback_left_dirty_under_accepted_drift_is_resolved_by_its_objects,
    a_refused_release_rollback_is_audited,
    drift_on_an_object_the_migration_created_fails_the_proof,
);

fn shop_applies_verifies_rolls_back_to_empty_and_reapplies(k: Kind) {
    let db = Db::new(k);
    let p = Project::shop();
    p.ok(&db, &["sum"]);
    let empty = p.fingerprint(&db);
    let r = p.ok(&db, &["--format", "json", "apply", "--release", "r1"]);
    let applied = r.json()["applied"].as_array().expect("applied").len();
    assert!(applied >= 10, "{r:?}");
    let full = p.fingerprint(&db);
    assert_ne!(full, empty);
    p.ok(&db, &["verify"]);
    let st = p.status(&db);
    assert_eq!(st["pending"], 0);
    assert!(st["drift"].is_null());
    // Every history row records the fingerprints around it.
    assert!(db.check(&format!("SELECT count(*) = {applied} FROM {} WHERE status = 'applied' AND fingerprint_after IS NOT NULL", db.t("migrations"))));

    let rb = p.ok(&db, &["--format", "json", "rollback", "--to", "0"]);
    assert_eq!(
        rb.json()["rolled_back"]
            .as_array()
            .expect("rolled_back")
            .len(),
        applied
    );
    assert_eq!(
        p.fingerprint(&db),
        empty,
        "rollback to 0 must restore the empty schema"
    );
    assert_eq!(p.status(&db)["pending"], applied);

    p.ok(&db, &["apply", "--release", "r2"]);
    assert_eq!(
        p.fingerprint(&db),
        full,
        "re-apply must give the same schema"
    );
    p.ok(&db, &["verify"]);
    let audit = p.ok(&db, &["audit", "verify"]);
    assert!(audit.stdout.contains("ledger intact"), "{audit:?}");
}

fn failing_verify_leaves_no_trace(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    p.add(
        "1_base",
        "CREATE TABLE a (id INTEGER PRIMARY KEY);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    let fp = p.fingerprint(&db);
    let history_before = p.status(&db)["migrations"].clone();
    p.add(
        "2_bad",
        "CREATE TABLE b (id INTEGER PRIMARY KEY);\nINSERT INTO a (id) VALUES (1);",
        Some("DROP TABLE b;"),
        Some("SELECT count(*) = 1 FROM a;\nSELECT count(*) = 5 FROM a;"),
        None,
    );
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("verify.sql:2:1"),
        "names the verify file and line: {r:?}"
    );
    assert!(r.stderr.contains("rolled back"), "{r:?}");
    assert_eq!(p.fingerprint(&db), fp, "schema unchanged");
    assert!(
        db.check("SELECT count(*) = 0 FROM a"),
        "data of the failed migration is gone"
    );
    let st = p.status(&db);
    assert_eq!(st["migrations"][0], history_before[0]);
    assert_eq!(st["migrations"][1]["state"], "pending");
    assert!(db.check(&format!("SELECT count(*) = 1 FROM {}", db.t("migrations"))));
    // The failure itself is in the ledger.
    assert!(db.check(&format!(
        "SELECT count(*) = 1 FROM {} WHERE kind = 'apply-failed' AND version = 2",
        db.t("events")
    )));
}

fn syntax_error_names_file_migration_line_and_applies_nothing(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    p.add(
        "1_ok",
        "CREATE TABLE a (id INTEGER PRIMARY KEY);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    let bad = p.add("2_typo", "CREATE TABLE b (id INTEGER PRIMARY KEY);\n\n-- a typo on line 4\nCREATE TABEL c (id INTEGER);", Some("DROP TABLE b;"), None, None);
    let up = bad.join("up.sql").display().to_string();
    if k == Kind::Postgres {
        // PostgreSQL's own grammar (the linter) catches it before anything runs.
        let r = p.run(&db, &["apply"]);
        assert_eq!(r.code, 3, "{r:?}");
        assert!(
            r.stderr.contains(&format!("{up}:4:")) && r.stderr.contains("syntax-error"),
            "{r:?}"
        );
        assert_eq!(p.status(&db)["applied"], 0, "nothing applied");
    }
    // Past the linter, the database's own error names the same place and that migration
    // is rolled back; the one before it stays applied (its own transaction).
    let r = p.run(
        &db,
        &[
            "--format",
            "json",
            "apply",
            "--allow",
            "syntax-error",
            "--reason",
            "test the database's error path",
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    let j = r.json();
    assert_eq!(j["failure"]["version"], 2);
    assert_eq!(j["failure"]["line"], 4);
    assert_eq!(j["failure"]["statement_index"], 2);
    assert_eq!(j["failure"]["file"].as_str().expect("file"), up);
    assert!(
        r.stderr.contains("(typo)") && r.stderr.contains(&format!("{up}:4:")),
        "{r:?}"
    );
    let st = p.status(&db);
    assert_eq!(st["migrations"][0]["state"], "applied");
    assert_eq!(st["migrations"][1]["state"], "pending");
    match k {
        Kind::Sqlite => {
            assert!(db.check("SELECT count(*) = 0 FROM sqlite_master WHERE name = 'b'"))
        }
        Kind::Postgres => assert!(db.check("SELECT to_regclass('public.b') IS NULL")),
    }
}

fn edited_applied_migration_is_refused_by_name(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    let m = p.add(
        "1_create",
        "CREATE TABLE a (id INTEGER PRIMARY KEY);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    std::fs::write(
        m.join("up.sql"),
        "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT);",
    )
    .expect("edit");
    p.add(
        "2_next",
        "CREATE TABLE b (id INTEGER);",
        Some("DROP TABLE b;"),
        None,
        None,
    );
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("1_create"),
        "names the edited migration: {r:?}"
    );
    assert_eq!(
        p.status(&db)["migrations"][1]["state"],
        "pending",
        "nothing applied"
    );
    assert_eq!(p.status(&db)["checksum_mismatches"][0], 1);
    // A CRLF checkout of the same text is not an edit.
    std::fs::write(m.join("up.sql"), "CREATE TABLE a (id INTEGER PRIMARY KEY);").expect("restore");
    let crlf = p.add(
        "3_crlf",
        "CREATE TABLE c (id INTEGER);\r\n",
        Some("DROP TABLE c;\r\n"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    std::fs::write(crlf.join("up.sql"), "CREATE TABLE c (id INTEGER);\n").expect("lf");
    assert_eq!(
        p.status(&db)["checksum_mismatches"]
            .as_array()
            .expect("array")
            .len(),
        0
    );
}

fn rollback_works_with_the_migrations_folder_deleted(k: Kind) {
    let db = Db::new(k);
    let p = Project::shop();
    let empty = p.fingerprint(&db);
    p.ok(&db, &["apply"]);
    std::fs::remove_dir_all(p.dir()).expect("delete folder");
    let r = p.ok(&db, &["rollback", "--to", "0"]);
    assert!(r.stdout.contains("rolled back"), "{r:?}");
    // `schema` needs no folder either.
    let fp = Project {
        tmp: tempfile::tempdir().expect("tmp"),
    }
    .fingerprint(&db);
    assert_eq!(fp, empty);
}

fn rollback_proof_mismatch_exits_5_with_diff_and_changes_nothing(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER PRIMARY KEY);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    // The down script forgets the index.
    p.add(
        "2_col_and_index",
        "ALTER TABLE t ADD COLUMN email TEXT;\n-- backstop:allow create-index-non-concurrently empty test table\nCREATE INDEX t_email_idx ON t (email);",
        Some("DROP INDEX t_email_idx;\nCREATE INDEX t_other_idx ON t (id);"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    let fp = p.fingerprint(&db);
    let r = p.run(&db, &["rollback"]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(
        r.stderr.contains("t_other_idx"),
        "the diff shows the unexpected index: {r:?}"
    );
    assert!(
        r.stderr.contains("email"),
        "the diff shows the column left behind: {r:?}"
    );
    assert_eq!(
        p.fingerprint(&db),
        fp,
        "the down script's transaction was rolled back"
    );
    assert_eq!(p.status(&db)["migrations"][1]["state"], "applied");
}

fn irreversible_stops_rollback_unless_forced(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, legacy TEXT);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.add(
        "2_drop_legacy",
        "ALTER TABLE t DROP COLUMN legacy;",
        Some("ALTER TABLE t ADD COLUMN legacy TEXT;"),
        None,
        Some("irreversible = true\nreason = \"legacy values are discarded\"\n[contract]\ndata_loss = \"accepted\"\n"),
    );
    p.add(
        "3_u",
        "CREATE TABLE u (id INTEGER PRIMARY KEY);",
        Some("DROP TABLE u;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    let r = p.run(&db, &["rollback", "--to", "0"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("irreversible") && r.stderr.contains("legacy values are discarded"),
        "{r:?}"
    );
    assert_eq!(p.status(&db)["applied"], 3, "nothing rolled back");
    assert!(
        r.stderr.contains("`--to 2`"),
        "the newer ones can go: {r:?}"
    );
    // With the irreversible one newest, there is nothing newer to suggest.
    p.ok(&db, &["rollback"]);
    let r = p.run(&db, &["rollback"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(!r.stderr.contains("--to"), "{r:?}");
    assert!(r.stderr.contains("--force --reason"), "{r:?}");
    p.ok(&db, &["apply"]);
    let r = p.run(&db, &["rollback", "--to", "0", "--force"]);
    assert_eq!(r.code, 2, "--force needs --reason: {r:?}");
    p.ok(
        &db,
        &[
            "rollback",
            "--to",
            "0",
            "--force",
            "--reason",
            "staging reset",
        ],
    );
    assert_eq!(p.status(&db)["applied"], 0);
    assert!(db.check(&format!(
        "SELECT count(*) = 1 FROM {} WHERE kind = 'override' AND reason = 'staging reset'",
        db.t("events")
    )));
}

fn drift_is_refused_unless_allowed_with_reason(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER PRIMARY KEY);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    db.exec("CREATE TABLE hotfix (id INTEGER)");
    let st = p.status(&db);
    assert!(!st["drift"].is_null(), "status reports drift: {st}");
    assert!(st["drift"]["diff"]
        .as_str()
        .expect("diff")
        .contains("hotfix"));
    p.add(
        "2_u",
        "CREATE TABLE u (id INTEGER);",
        Some("DROP TABLE u;"),
        None,
        None,
    );
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("outside backstop"), "{r:?}");
    p.ok(
        &db,
        &[
            "apply",
            "--allow-drift",
            "--reason",
            "hotfix table from incident 42",
        ],
    );
    assert!(p.status(&db)["drift"].is_null());
    assert!(db.check(&format!(
        "SELECT count(*) = 1 FROM {} WHERE kind = 'override'",
        db.t("events")
    )));
}

fn atomic_undoes_the_whole_release(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    let empty = p.fingerprint(&db);
    p.add(
        "1_a",
        "CREATE TABLE a (id INTEGER PRIMARY KEY);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.add(
        "2_b",
        "CREATE TABLE b (id INTEGER PRIMARY KEY);",
        Some("DROP TABLE b;"),
        None,
        None,
    );
    p.add(
        "3_fails",
        "INSERT INTO missing_table VALUES (1);",
        Some("SELECT 1;"),
        None,
        None,
    );
    let r = p.run(&db, &["--format", "json", "apply", "--atomic"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.json()["undone"], serde_json::json!([2, 1]));
    assert_eq!(p.fingerprint(&db), empty);
    assert_eq!(p.status(&db)["applied"], 0);
    // The text says they were undone, not only that they were applied, and leaves no
    // rollback to run.
    let r = p.run(&db, &["apply", "--atomic"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("undone   1") && r.stdout.contains("undone   2"),
        "{r:?}"
    );
    assert!(!r.stdout.contains("stay applied"), "{r:?}");
}

fn to_steps_release_and_dry_run(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    for i in 1..=5 {
        p.add(
            &format!("{i}_t{i}"),
            &format!("CREATE TABLE t{i} (id INTEGER);"),
            Some(&format!("DROP TABLE t{i};")),
            None,
            None,
        );
    }
    let fp0 = p.fingerprint(&db);
    let dry = p.ok(&db, &["--format", "json", "apply", "--dry-run"]);
    assert_eq!(dry.json()["pending"], serde_json::json!([1, 2, 3, 4, 5]));
    assert_eq!(p.fingerprint(&db), fp0, "dry run changed nothing");
    p.ok(&db, &["apply", "--to", "2", "--release", "first"]);
    assert_eq!(p.status(&db)["applied"], 2);
    p.ok(&db, &["apply", "--release", "second"]);
    assert_eq!(p.status(&db)["applied"], 5);
    let r = p.run(&db, &["rollback", "--release", "first"]);
    assert_eq!(r.code, 3, "release first is not the newest: {r:?}");
    let dry = p.ok(
        &db,
        &[
            "--format",
            "json",
            "rollback",
            "--release",
            "second",
            "--dry-run",
        ],
    );
    assert_eq!(dry.json()["planned"].as_array().expect("planned").len(), 3);
    assert_eq!(p.status(&db)["applied"], 5);
    p.ok(&db, &["rollback", "--steps", "1"]);
    assert_eq!(p.status(&db)["applied"], 4);
    p.ok(&db, &["rollback", "--release", "second"]);
    assert_eq!(p.status(&db)["applied"], 2);
    p.ok(&db, &["rollback", "--to", "1"]);
    assert_eq!(p.status(&db)["applied"], 1);
}

fn sum_file_disagreement_is_refused(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id INTEGER);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    let r = p.ok(&db, &["apply"]);
    assert!(
        r.stderr.contains("backstop.sum does not exist"),
        "warns without a sum: {r:?}"
    );
    p.ok(&db, &["sum"]);
    p.add(
        "2_b",
        "CREATE TABLE b (id INTEGER);",
        Some("DROP TABLE b;"),
        None,
        None,
    );
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("2_b"), "{r:?}");
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply"]);
}

/// Three migrations, the oldest irreversible without a down script.
fn irreversible_base(p: &Project) {
    p.add(
        "1_base",
        "CREATE TABLE base (id INTEGER PRIMARY KEY);",
        None,
        None,
        Some("irreversible = true\nreason = \"baseline\"\n"),
    );
    p.add(
        "2_b",
        "CREATE TABLE b (id INTEGER PRIMARY KEY);",
        Some("DROP TABLE b;"),
        None,
        None,
    );
    p.add(
        "3_c",
        "CREATE TABLE c (id INTEGER PRIMARY KEY);",
        Some("DROP TABLE c;"),
        None,
        None,
    );
}

fn a_rollback_reaching_a_migration_without_down_script_refuses_before_undoing_anything(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    irreversible_base(&p);
    p.ok(&db, &["apply"]);
    let fp = p.fingerprint(&db);
    let dry = p.ok(
        &db,
        &["--format", "json", "rollback", "--to", "0", "--dry-run"],
    );
    assert!(
        dry.json()["warnings"]
            .to_string()
            .contains("no down script"),
        "the dry run says where the rollback would stop: {dry:?}"
    );
    let r = p.run(
        &db,
        &[
            "--format", "json", "rollback", "--to", "0", "--force", "--reason", "reset",
        ],
    );
    assert_eq!(r.code, 3, "{r:?}");
    let j = r.json();
    assert_eq!(j["kind"], "refused", "{r:?}");
    assert!(
        j["error"]
            .as_str()
            .expect("error")
            .contains("no down script"),
        "{r:?}"
    );
    assert!(
        j["error"]
            .as_str()
            .expect("error")
            .contains("nothing was rolled back"),
        "{r:?}"
    );
    assert!(
        j["rolled_back"].as_array().is_none_or(|a| a.is_empty()),
        "nothing was undone: {r:?}"
    );
    assert_eq!(p.status(&db)["applied"], 3, "all three still applied");
    assert_eq!(p.fingerprint(&db), fp, "schema unchanged");
    // Refused, and no override recorded for a run that never started.
    assert!(db.check(&format!(
        "SELECT count(*) = 0 FROM {} WHERE kind = 'override'",
        db.t("events")
    )));
    assert!(db.check(&format!(
        "SELECT count(*) = 1 FROM {} WHERE kind = 'refused' AND version = 1",
        db.t("events")
    )));
    // The advice works: the newer ones roll back.
    p.ok(&db, &["rollback", "--to", "1"]);
    assert_eq!(p.status(&db)["applied"], 1);
}

fn a_refused_rollback_does_not_accept_the_drift(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    irreversible_base(&p);
    p.ok(&db, &["apply"]);
    db.exec("CREATE TABLE hotfix (id INTEGER)");
    // Refused for the missing down script, with drift allowed: the drift stays unaccepted.
    let r = p.run(
        &db,
        &[
            "rollback",
            "--to",
            "0",
            "--force",
            "--allow-drift",
            "--reason",
            "hotfix ok",
        ],
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(!r.all().contains("drift accepted"), "{r:?}");
    assert!(
        !p.status(&db)["drift"].is_null(),
        "the drift is still reported"
    );
    // Refused for irreversibility (no --force), drift allowed: the same.
    let r = p.run(
        &db,
        &[
            "rollback",
            "--to",
            "1",
            "--allow-drift",
            "--reason",
            "hotfix ok",
        ],
    );
    assert_eq!(r.code, 0, "2 and 3 are reversible: {r:?}");
    let r = p.run(
        &db,
        &[
            "rollback",
            "--to",
            "0",
            "--allow-drift",
            "--reason",
            "again",
        ],
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        db.check(&format!(
            "SELECT count(*) = 1 FROM {} WHERE kind = 'override'",
            db.t("events")
        )),
        "only the rollback that ran recorded an override"
    );
}

fn a_migration_without_down_script_undone_by_hand_is_resolved_when_the_schema_proves_it(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    let empty = p.fingerprint(&db);
    irreversible_base(&p);
    p.ok(&db, &["apply"]);
    p.ok(&db, &["rollback", "--to", "1"]);
    // Not undone yet: refused with the difference, and no advice that cannot work.
    let r = p.run(
        &db,
        &[
            "resolve",
            "1",
            "--rolled-back",
            "--reason",
            "dropped by hand",
        ],
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("base"), "the diff names the table: {r:?}");
    assert!(r.stderr.contains("still applied"), "{r:?}");
    assert!(!r.stderr.contains("resolve 1 --applied"), "{r:?}");
    db.exec("DROP TABLE base");
    p.ok(
        &db,
        &[
            "resolve",
            "1",
            "--rolled-back",
            "--reason",
            "dropped by hand",
        ],
    );
    assert_eq!(p.status(&db)["applied"], 0);
    assert_eq!(p.fingerprint(&db), empty);
    assert!(p.status(&db)["drift"].is_null());

    // A data migration without a down script: nothing could prove it undone, so it is
    // taken on the person's word, said and recorded as such — or older migrations could
    // never be rolled back past it.
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
        "2_seed",
        "INSERT INTO t (id) VALUES (1);",
        None,
        None,
        Some("irreversible = true\nreason = \"seed\"\n"),
    );
    p.ok(&db, &["apply"]);
    db.exec("DELETE FROM t");
    let r = p.run(
        &db,
        &[
            "resolve",
            "2",
            "--rolled-back",
            "--reason",
            "deleted by hand",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.all().contains("changed no schema object")
            && r.all().contains("taken on the reason given"),
        "{r:?}"
    );
    assert!(db.check(&format!(
        "SELECT count(*) = 1 FROM {} WHERE kind = 'resolve' AND detail LIKE '%\"data_unchecked\":true%'",
        db.t("events")
    )));
    assert_eq!(p.status(&db)["applied"], 1);
    p.ok(&db, &["rollback"]);
    p.ok(&db, &["apply"]);
    assert!(db.check("SELECT count(*) = 1 FROM t"), "the seed ran again");
    p.ok(&db, &["audit", "verify"]);
}

#[test]
fn extension_membership_changed_by_a_migration_is_recorded_and_its_rollback_proven() {
    // `ALTER EXTENSION … ADD` moves a function out of the user schema without a relation
    // lock; the fingerprint recorded after the migration must still see it, or a down
    // script that does nothing would pass as proven.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_f",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';",
        Some("DROP FUNCTION f();"),
        None,
        None,
    );
    p.add(
        "2_ext",
        "ALTER EXTENSION plpgsql ADD FUNCTION f();",
        Some("SELECT 1;"),
        None,
        None,
    );
    let r = p.ok(&db, &["apply"]);
    assert!(!r.stderr.contains("escaped tracking"), "{r:?}");
    assert!(db.check(&format!(
        "SELECT fingerprint_after <> fingerprint_before FROM {} WHERE version = 2",
        db.t("migrations")
    )));
    let r = p.run(&db, &["rollback"]);
    assert_eq!(
        r.code, 5,
        "the no-op down script leaves f() in the extension: {r:?}"
    );
    assert!(r.stderr.contains("f()"), "{r:?}");
}

#[test]
fn a_change_no_migration_recorded_is_drift_not_this_runs() {
    // A function that adds to an extension where the migration's text can't show it:
    // the end-of-run full read differs from what the migrations recorded. That difference
    // is not claimed by the run: it shows as drift, and the next apply refuses.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_f",
        "CREATE FUNCTION g() RETURNS int LANGUAGE sql AS 'SELECT 1';\n\
         CREATE FUNCTION hide() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'ALTER EXT' || 'ENSION plpgsql ADD FUNCTION g()'; END $$;",
        Some("DROP FUNCTION hide(); DROP FUNCTION g();"),
        None,
        None,
    );
    p.add("2_call", "SELECT hide();", Some("SELECT 1;"), None, None);
    let r = p.ok(&db, &["apply"]);
    assert!(r.stderr.contains("escaped tracking"), "{r:?}");
    let st = p.status(&db);
    assert!(
        !st["drift"].is_null(),
        "the unclaimed change is drift: {st}"
    );
    p.add(
        "3_next",
        "CREATE TABLE n (id int);",
        Some("DROP TABLE n;"),
        None,
        None,
    );
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 3, "{r:?}");
}

fn under_drift_a_migration_that_recorded_no_changes_is_not_proven_by_a_down_that_does_nothing(
    k: Kind,
) {
    // A migration resolved as applied by hand records no changed objects: under accepted
    // drift there is then nothing to prove its rollback by, and a down script that undoes
    // nothing must not pass.
    let db = Db::new(k);
    let p = Project::new();
    p.add(
        "1_half",
        "CREATE TABLE a (id INTEGER);\nINSERT INTO nope VALUES (1);",
        Some("SELECT 1;"),
        None,
        Some("transaction = false\n"),
    );
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 5, "{r:?}");
    p.ok(
        &db,
        &[
            "resolve",
            "1",
            "--applied",
            "--reason",
            "table a is what we wanted",
        ],
    );
    db.exec("CREATE TABLE hotfix (id INTEGER)");
    let r = p.run(
        &db,
        &["rollback", "--allow-drift", "--reason", "hotfix stays"],
    );
    assert_eq!(r.code, 5, "{r:?}");
    assert!(r.stderr.contains("could not be proven"), "{r:?}");
    // It ran outside a transaction: a person decides (the row is dirty, not rolled back).
    assert_eq!(p.status(&db)["dirty"], serde_json::json!([1]));
}

fn a_migration_without_down_script_resolved_applied_can_later_be_resolved_rolled_back(k: Kind) {
    // Resolved `--applied` after it stopped part way, it recorded no changed object; its
    // fingerprints still show it changed the schema, so undoing it by hand is provable.
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
        "2_nd",
        "CREATE TABLE b (id INTEGER);\nINSERT INTO nope VALUES (1);",
        None,
        None,
        Some("transaction = false\nirreversible = true\nreason = \"no way back\"\n"),
    );
    assert_eq!(p.run(&db, &["apply"]).code, 5);
    p.ok(
        &db,
        &["resolve", "2", "--applied", "--reason", "finished by hand"],
    );
    db.exec("DROP TABLE b");
    p.ok(
        &db,
        &["resolve", "2", "--rolled-back", "--reason", "dropped b"],
    );
    p.ok(&db, &["rollback", "--to", "0"]);
    assert_eq!(p.status(&db)["applied"], 0);
}

fn resolve_rolled_back_after_accepted_drift_proves_the_migrations_objects(k: Kind) {
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
        "2_nd",
        "CREATE TABLE b (id INTEGER);",
        None,
        None,
        Some("irreversible = true\nreason = \"x\"\n"),
    );
    p.ok(&db, &["apply"]);
    db.exec("CREATE TABLE hotfix (id INTEGER)");
    p.add(
        "3_c",
        "CREATE TABLE c (id INTEGER);",
        Some("DROP TABLE c;"),
        None,
        None,
    );
    p.ok(&db, &["apply", "--allow-drift", "--reason", "keep hotfix"]);
    p.ok(&db, &["rollback", "--to", "2"]);
    // Not undone yet: refused, the diff names b and not the accepted hotfix.
    let r = p.run(
        &db,
        &["resolve", "2", "--rolled-back", "--reason", "dropped b"],
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("b") && !r.stderr.contains("hotfix"),
        "{r:?}"
    );
    db.exec("DROP TABLE b");
    p.ok(
        &db,
        &["resolve", "2", "--rolled-back", "--reason", "dropped b"],
    );
    assert!(
        p.status(&db)["drift"].is_null(),
        "the accepted hotfix stays accepted"
    );
    p.ok(&db, &["rollback", "--to", "0"]);
}

fn resolve_rolled_back_waits_for_a_newer_dirty_migration(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    p.add(
        "1_x",
        "CREATE TABLE x (id INTEGER);",
        None,
        None,
        Some("irreversible = true\nreason = \"no down\"\n"),
    );
    p.add(
        "2_w",
        "CREATE TABLE w (id INTEGER);\nINSERT INTO nope VALUES (1);",
        None,
        None,
        Some("transaction = false\nirreversible = true\nreason = \"no down\"\n"),
    );
    assert_eq!(p.run(&db, &["apply"]).code, 5);
    db.exec("DROP TABLE w");
    let r = p.run(&db, &["resolve", "1", "--rolled-back", "--reason", "r"]);
    assert_eq!(r.code, 3, "the newer dirty migration comes first: {r:?}");
    assert!(r.stderr.contains("dirty"), "{r:?}");
    // The refusal is recorded, with who tried what and why.
    assert!(
        db.check(&format!(
            "SELECT count(*) = 1 FROM {} WHERE kind = 'refused' AND version = 1 AND reason = 'r' \
             AND detail LIKE '%\"command\":\"resolve\"%' AND detail LIKE '%\"to\":\"rolled_back\"%'",
            db.t("events")
        )),
        "{:?}",
        p.run(&db, &["audit", "log", "-v"])
    );
    p.ok(
        &db,
        &["resolve", "2", "--rolled-back", "--reason", "w dropped"],
    );
    db.exec("DROP TABLE x");
    p.ok(
        &db,
        &["resolve", "1", "--rolled-back", "--reason", "x dropped"],
    );
    assert!(p.status(&db)["drift"].is_null());
    p.ok(&db, &["audit", "verify"]);
}

fn a_rollback_left_dirty_under_accepted_drift_is_resolved_by_its_objects(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    p.add(
        "1_base",
        "CREATE TABLE base (id INTEGER);",
        Some("DROP TABLE base;"),
        None,
        None,
    );
    p.add(
        "2_two",
        "CREATE TABLE c1 (id INTEGER);\nCREATE TABLE c2 (id INTEGER);",
        Some("DROP TABLE c1;"),
        None,
        Some("transaction = false\n"),
    );
    p.ok(&db, &["apply"]);
    db.exec("CREATE TABLE other (id INTEGER)");
    let r = p.run(
        &db,
        &["rollback", "--allow-drift", "--reason", "keep other"],
    );
    assert_eq!(r.code, 5, "the down script leaves c2: {r:?}");
    db.exec("DROP TABLE c2");
    p.ok(
        &db,
        &["resolve", "2", "--rolled-back", "--reason", "dropped c2"],
    );
    assert!(p.status(&db)["drift"].is_null(), "other stays accepted");
    assert!(db.check("SELECT count(*) = 0 FROM other"), "and exists");
}

fn a_refused_release_rollback_is_audited(k: Kind) {
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
    p.ok(&db, &["apply", "--to", "1", "--release", "R1"]);
    p.ok(&db, &["apply", "--release", "R2"]);
    let r = p.run(&db, &["rollback", "--release", "R1"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(db.check(&format!(
        "SELECT count(*) = 1 FROM {} WHERE kind = 'refused'",
        db.t("events")
    )));
}

fn drift_on_an_object_the_migration_created_fails_the_proof(k: Kind) {
    // A column added by hand to a table the migration created would go with the table:
    // the step can't be told from the drift and is left to a person, never "proven".
    let db = Db::new(k);
    let p = Project::new();
    p.add(
        "1_t1",
        "CREATE TABLE t1 (id INTEGER);",
        Some("DROP TABLE t1;"),
        None,
        None,
    );
    p.add(
        "2_t2",
        "CREATE TABLE t2 (id INTEGER);",
        Some("DROP TABLE t2;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    db.exec("ALTER TABLE t2 ADD COLUMN x INTEGER");
    let r = p.run(&db, &["rollback", "--allow-drift", "--reason", "accept x"]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(r.stderr.contains("t2"), "{r:?}");
    // Said as what it is: the down script is fine, the drift is in the way.
    assert!(r.stderr.contains("changed objects it changed too"), "{r:?}");
    assert!(!r.stderr.contains("expected fingerprint"), "{r:?}");
    assert!(!r.stderr.contains("is incomplete"), "{r:?}");
    assert!(r.stderr.contains("undo the accepted drift"), "{r:?}");
    assert!(
        db.check("SELECT count(x) = 0 FROM t2"),
        "the drifted column is still there"
    );
    // Drift elsewhere does not stop the rollback of a migration it did not touch.
    let db = Db::new(k);
    p.ok(&db, &["apply"]);
    db.exec("CREATE TABLE hotfix (id INTEGER)");
    p.ok(
        &db,
        &["rollback", "--allow-drift", "--reason", "keep hotfix"],
    );
}

#[test]
fn a_rollback_whose_end_read_differs_from_its_proven_steps_is_not_called_proven() {
    // Regression: a down script that changed extension membership through dynamic SQL
    // passed its step's proof; the full read at the end saw the difference, yet the
    // rollback said every step was proven and exited 0.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_setup",
        "CREATE TABLE u (id int);\nCREATE FUNCTION myf() RETURNS int LANGUAGE sql AS 'SELECT 1';",
        Some("DROP FUNCTION myf();\nDROP TABLE u;"),
        None,
        None,
    );
    p.add(
        "2_chg",
        "ALTER TABLE u ADD COLUMN z int;",
        Some("ALTER TABLE u DROP COLUMN z;\nDO $$BEGIN EXECUTE 'ALTER EXT' || 'ENSION plpgsql ADD FUNCTION myf()'; END$$;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    let r = p.run(&db, &["--format", "json", "rollback", "--steps", "1"]);
    assert_eq!(r.code, 5, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["needs_person"]["situation"], "run-unproven", "{v}");
    assert!(
        r.stderr.contains(
            "the full schema read at the end of the rollback differs from what its steps proved"
        ),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("every step was committed and recorded as rolled back (2)"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains(
            "schema diff (- as the rollback steps left it, + now):\n- function public.myf()"
        ),
        "{r:?}"
    );
    let st = p.status(&db);
    assert!(!st["drift"].is_null(), "the difference is drift: {st}");
}
