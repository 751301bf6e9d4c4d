//! History (its statuses and checksums) and the state row are caches of the ledger: edited
//! behind backstop's back, they must not steer a run. Every command reads them against the ledger: apply, rollback,
//! resolve and their dry runs refuse (exit 3), verify and audit verify report, status and
//! plan warn.
mod common;
use common::{Db, Kind, Project};

both!(
    an_emptied_or_truncated_ledger_keeps_the_stored_scripts_checked,
    a_dirty_rows_scripts_are_checked_too,
    drift_accepted_without_its_objects_touches_everything,
    a_rewritten_baseline_is_tampering,
    history_statuses_follow_the_ledger,
    legitimate_flows_keep_history_and_ledger_in_agreement,
    a_damaged_head_shows_before_the_real_run,
    a_lost_head_override_before_a_dirty_refusal_says_what_it_wrote,
    resolve_applied_records_every_object_it_accepts,
    a_rewritten_checksum_is_tampering_not_an_edited_file,
    a_checksum_rewritten_to_hide_an_edit_is_found,
    a_migration_edited_between_rollback_and_reapply_is_no_tampering,
);

/// `1_t1` a data migration (it must never run twice), `2_t2`, `3_t3`, all applied.
fn applied(db: &Db) -> Project {
    let p = Project::new();
    p.add(
        "1_t1",
        "CREATE TABLE t1 (x int);\nINSERT INTO t1 VALUES (1);",
        Some("DROP TABLE t1;"),
        None,
        None,
    );
    p.add(
        "2_t2",
        "CREATE TABLE t2 (x int);",
        Some("DROP TABLE t2;"),
        None,
        None,
    );
    p.add(
        "3_t3",
        "CREATE TABLE t3 (x int);",
        Some("DROP TABLE t3;"),
        None,
        None,
    );
    p.ok(db, &["sum"]);
    p.ok(db, &["apply"]);
    p
}

fn t1_intact(db: &Db) -> bool {
    db.check("SELECT count(*) = 1 FROM t1")
}

fn check<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no {name} check in {v}"))
}

/// Migration `8_half` left dirty: outside a transaction, its up script stops after
/// creating z1 and its down script fails too, so nothing cleans up.
fn with_dirty(db: &Db, p: &Project) {
    p.add(
        "8_half",
        "CREATE TABLE z1 (x int);\nINSERT INTO missing VALUES (1);",
        Some("DROP TABLE nothing_here;"),
        None,
        Some("transaction = false\n"),
    );
    p.ok(db, &["sum"]);
    let r = p.run(db, &["apply"]);
    assert_eq!(r.code, 5, "{r:?}");
}

fn an_emptied_or_truncated_ledger_keeps_the_stored_scripts_checked(kind: Kind) {
    // Regression: with the events deleted, an edited down script ran ("proven", exit 0)
    // and the only sign was a warning calling the row one of an older backstop.
    let db = Db::new(kind);
    let p = applied(&db);
    db.exec(&format!("DELETE FROM {}", db.t("events")));
    db.exec(&format!(
        "UPDATE {} SET down_sql = 'DELETE FROM t1;' WHERE version = 3",
        db.t("migrations")
    ));
    for args in [
        &["rollback"][..],
        &["rollback", "--dry-run"],
        &["apply"],
        &["apply", "--dry-run"],
        &["verify"],
        &["audit", "verify"],
    ] {
        let r = p.run(&db, args);
        assert_eq!(r.code, 3, "{args:?}: {r:?}");
    }
    let r = p.run(&db, &["rollback"]);
    assert!(r.stderr.contains("deleted from its end"), "{r:?}");
    assert!(t1_intact(&db), "the edited down script ran");
    let st = p.status(&db);
    assert!(
        st["warnings"].to_string().contains("deleted from its end"),
        "{st}"
    );

    // Only the tail deleted: the head is ahead of the ledger. The override records the
    // gap after the last event left; the migration whose event went with the tail can't
    // be rolled back on trust, the others still can.
    let db = Db::new(kind);
    let p = applied(&db);
    db.exec(&format!("DELETE FROM {} WHERE seq = 3", db.t("events")));
    assert_eq!(p.run(&db, &["rollback"]).code, 3);
    let r = p.run(&db, &["--format", "json", "verify"]);
    assert_eq!(check(&r.json(), "ledger head")["ok"], false, "{r:?}");
    p.ok(
        &db,
        &["apply", "--allow-drift", "--reason", "tail lost, checked"],
    );
    p.ok(&db, &["audit", "verify"]);
    let log = p.ok(&db, &["--format", "json", "audit", "log"]).json();
    let ev = &log["events"][2];
    assert_eq!(ev["kind"], "override", "{log}");
    let detail: serde_json::Value =
        serde_json::from_str(ev["detail"].as_str().unwrap_or_default()).expect("detail");
    assert_eq!(detail["lost_head"]["recorded_head"], 3, "{detail}");
    assert_eq!(detail["lost_head"]["ledger_end"], 2, "{detail}");
    let r = p.run(&db, &["rollback"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("no event in the ledger wrote"), "{r:?}");
    assert!(db.check("SELECT count(*) = 0 FROM t3"), "t3 was dropped");
}

fn a_dirty_rows_scripts_are_checked_too(kind: Kind) {
    // Regression: verify said "ok stored scripts" for an edited dirty row, and resolve
    // --applied recorded the edited scripts' digest as genuine.
    let db = Db::new(kind);
    let p = applied(&db);
    with_dirty(&db, &p);
    db.exec(&format!(
        "UPDATE {} SET down_sql = 'DROP TABLE t1; DROP TABLE z1;' WHERE version = 8",
        db.t("migrations")
    ));
    let r = p.run(&db, &["--format", "json", "verify"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(check(&r.json(), "stored scripts")["ok"], false, "{r:?}");
    let r = p.run(&db, &["resolve", "8", "--applied", "--reason", "x"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("stored scripts of migration 8"), "{r:?}");
    assert!(db.check(&format!(
        "SELECT count(*) = 1 FROM {} WHERE version = 8 AND status = 'dirty'",
        db.t("migrations")
    )));
    assert!(t1_intact(&db));
}

fn drift_accepted_without_its_objects_touches_everything(kind: Kind) {
    // Regression: after a lost-head override (`"objects": null`) a column added by hand to
    // migration 3's table was dropped with it by a "proven" rollback.
    for lose_head in [false, true] {
        let db = Db::new(kind);
        let p = applied(&db);
        db.exec("ALTER TABLE t3 ADD COLUMN extra int");
        db.exec("INSERT INTO t3 (x, extra) VALUES (1, 2)");
        if lose_head {
            db.exec(&format!("DELETE FROM {}", db.t("state")));
        }
        p.ok(
            &db,
            &["apply", "--allow-drift", "--reason", "kept on purpose"],
        );
        let r = p.run(&db, &["rollback"]);
        assert_eq!(r.code, 5, "lose_head {lose_head}: {r:?}");
        assert!(
            db.check("SELECT count(*) = 1 FROM t3"),
            "lose_head {lose_head}: t3 and its row were dropped"
        );
    }
}

fn a_rewritten_baseline_is_tampering(kind: Kind) {
    // Regression: the state row's fingerprint set to the schema's own made status, verify
    // and audit verify call a hand-made table no drift.
    let db = Db::new(kind);
    let p = applied(&db);
    db.exec("CREATE TABLE sneaky (x int)");
    let fp = p.fingerprint(&db);
    db.exec(&format!(
        "UPDATE {} SET fingerprint = '{fp}'",
        db.t("state")
    ));
    let st = p.status(&db);
    assert!(st["warnings"].to_string().contains("rewritten"), "{st}");
    for args in [
        &["verify"][..],
        &["audit", "verify"],
        &["apply"],
        &["apply", "--dry-run"],
        &["rollback"],
        &["rollback", "--dry-run"],
    ] {
        let r = p.run(&db, args);
        assert_eq!(r.code, 3, "{args:?}: {r:?}");
    }
    let r = p.run(&db, &["--format", "json", "audit", "verify"]);
    assert!(
        r.json()["disagreements"].to_string().contains("rewritten"),
        "{r:?}"
    );
    assert!(db.check("SELECT count(*) = 0 FROM t3"), "t3 was dropped");
    // A person who is sure accepts it: the drift from the ledger's baseline is recorded.
    let r = p.ok(
        &db,
        &["apply", "--allow-drift", "--reason", "sneaky is ours"],
    );
    assert!(r.all().contains("ledger's baseline"), "{r:?}");
    p.ok(&db, &["audit", "verify"]);
    p.ok(&db, &["verify"]);
}

fn history_statuses_follow_the_ledger(kind: Kind) {
    // Regression: a data migration marked rolled back (or its row deleted) was applied
    // again, with verify and audit verify clean.
    for edit in [
        "UPDATE {t} SET status = 'rolled_back' WHERE version = 1",
        "DELETE FROM {t} WHERE version = 1",
    ] {
        let db = Db::new(kind);
        let p = applied(&db);
        db.exec(&edit.replace("{t}", &db.t("migrations")));
        for args in [
            &["verify"][..],
            &["audit", "verify"],
            &["apply"],
            &["apply", "--dry-run"],
            &["rollback", "--dry-run"],
        ] {
            let r = p.run(&db, args);
            assert_eq!(r.code, 3, "{edit}: {args:?}: {r:?}");
        }
        let r = p.run(&db, &["apply"]);
        assert!(r.stderr.contains("disagrees with its ledger"), "{r:?}");
        assert!(r.stderr.contains("migration 1"), "{r:?}");
        assert!(t1_intact(&db), "{edit}: the data migration ran again");
        let st = p.status(&db);
        assert!(st["warnings"].to_string().contains("migration 1"), "{st}");
        let r = p.run(&db, &["--format", "json", "plan"]);
        assert!(
            r.json()["warnings"]
                .to_string()
                .contains("apply would refuse"),
            "{r:?}"
        );
    }
}

fn legitimate_flows_keep_history_and_ledger_in_agreement(kind: Kind) {
    let db = Db::new(kind);
    let p = applied(&db);
    let clean = |what: &str| {
        let r = p.run(&db, &["--format", "json", "audit", "verify"]);
        assert_eq!(r.code, 0, "after {what}: {r:?}");
        // status reads a brief ledger (few details, no hashes): no false alarm either.
        let st = p.status(&db);
        assert!(
            !st["warnings"].to_string().contains("ledger"),
            "after {what}: {st}"
        );
    };
    clean("apply");
    let bad = "CREATE TABLE t4 (x int);\nSELECT * FROM missing;";
    // A failed apply in a transaction, then one outside a transaction that is cleaned up.
    p.add("4_bad", bad, Some("DROP TABLE t4;"), None, None);
    p.ok(&db, &["sum"]);
    assert_eq!(p.run(&db, &["apply"]).code, 1);
    clean("a failed apply");
    p.add(
        "4_bad",
        bad,
        Some("DROP TABLE t4;"),
        None,
        Some("transaction = false\n"),
    );
    p.ok(&db, &["sum"]);
    assert_eq!(p.run(&db, &["apply"]).code, 1);
    clean("a cleaned-up apply outside a transaction");
    std::fs::remove_dir_all(p.dir().join("4_bad")).expect("rm");
    p.ok(&db, &["sum"]);
    // Rollback and re-apply, a forced rollback of an irreversible migration.
    p.ok(&db, &["rollback", "--steps", "1"]);
    clean("rollback");
    p.ok(&db, &["apply"]);
    clean("re-apply");
    let irr = Some("irreversible = true\nreason = \"test\"\n");
    p.add(
        "5_irr",
        "CREATE TABLE t5 (x int);",
        Some("DROP TABLE t5;"),
        None,
        irr,
    );
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply"]);
    p.ok(
        &db,
        &["rollback", "--steps", "1", "--force", "--reason", "test"],
    );
    clean("forced rollback");
    std::fs::remove_dir_all(p.dir().join("5_irr")).expect("rm");
    // --atomic undoes what the run applied.
    p.add(
        "6_ok",
        "CREATE TABLE t6 (x int);",
        Some("DROP TABLE t6;"),
        None,
        None,
    );
    p.add(
        "7_bad",
        "SELECT * FROM missing_too;",
        Some("SELECT 1;"),
        None,
        None,
    );
    p.ok(&db, &["sum"]);
    assert_eq!(p.run(&db, &["apply", "--atomic"]).code, 1);
    clean("--atomic");
    std::fs::remove_dir_all(p.dir().join("6_ok")).expect("rm");
    std::fs::remove_dir_all(p.dir().join("7_bad")).expect("rm");
    // Dirty, resolved both ways.
    with_dirty(&db, &p);
    clean("a dirty apply");
    db.exec("DROP TABLE z1");
    p.ok(
        &db,
        &["resolve", "8", "--rolled-back", "--reason", "undone"],
    );
    clean("resolve --rolled-back");
    assert_eq!(p.run(&db, &["apply"]).code, 5);
    db.exec("CREATE TABLE missing (x int)");
    p.ok(&db, &["resolve", "8", "--applied", "--reason", "finished"]);
    clean("resolve --applied");
    p.ok(&db, &["verify"]);
}

fn a_damaged_head_shows_before_the_real_run(kind: Kind) {
    // Regression: a set-back head was silent in status and plan, and dry runs exit 0.
    for damage in ["back", "ahead"] {
        let db = Db::new(kind);
        let p = applied(&db);
        let state = db.t("state");
        match damage {
            "back" => db.exec(&format!("UPDATE {state} SET ledger_seq = 2")),
            _ => db.exec(&format!("DELETE FROM {} WHERE seq = 3", db.t("events"))),
        }
        for args in [&["apply", "--dry-run"][..], &["rollback", "--dry-run"]] {
            let r = p.run(&db, args);
            assert_eq!(r.code, 3, "{damage}: {args:?}: {r:?}");
            assert!(r.stderr.contains("backstop audit verify"), "{r:?}");
        }
        let st = p.status(&db);
        assert!(
            st["warnings"].to_string().contains("ledger"),
            "{damage}: {st}"
        );
        let r = p.ok(&db, &["--format", "json", "plan"]);
        assert!(
            r.json()["warnings"]
                .to_string()
                .contains("apply would refuse"),
            "{damage}: {r:?}"
        );
    }
}

fn a_lost_head_override_before_a_dirty_refusal_says_what_it_wrote(kind: Kind) {
    // Regression: the override was written, then the refusal said "nothing was changed"
    // with no warnings.
    let db = Db::new(kind);
    let p = applied(&db);
    with_dirty(&db, &p);
    db.exec(&format!("DELETE FROM {}", db.t("state")));
    let r = p.run(
        &db,
        &[
            "--format",
            "json",
            "apply",
            "--allow-drift",
            "--reason",
            "x",
        ],
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(!r.stderr.contains("nothing was changed"), "{r:?}");
    assert!(
        r.stderr.contains("missing ledger head was recorded"),
        "{r:?}"
    );
    assert!(
        r.json()["warnings"]
            .to_string()
            .contains("missing ledger head"),
        "{r:?}"
    );
    p.ok(&db, &["audit", "verify"]);
}

fn resolve_applied_records_every_object_it_accepts(kind: Kind) {
    // Regression: a table of migration 1 dropped by hand while 8 was dirty was accepted by
    // `resolve 8 --applied` with no record of it.
    let db = Db::new(kind);
    let p = applied(&db);
    with_dirty(&db, &p);
    db.exec("DROP TABLE t2");
    let r = p.ok(&db, &["resolve", "8", "--applied", "--reason", "finished"]);
    assert!(r.all().contains("did not record changing"), "{r:?}");
    assert!(r.all().contains("t2"), "{r:?}");
    let log = p.ok(&db, &["--format", "json", "audit", "log"]).json();
    let last = log["events"]
        .as_array()
        .and_then(|e| e.last())
        .cloned()
        .expect("events");
    assert_eq!(last["kind"], "resolve", "{log}");
    let detail: serde_json::Value =
        serde_json::from_str(last["detail"].as_str().unwrap_or_default()).expect("detail");
    let objects = detail["objects"].to_string();
    assert!(objects.contains("t2") && objects.contains("z1"), "{detail}");
    let r = p.ok(&db, &["--format", "json", "status"]);
    assert!(r.json()["drift"].is_null(), "{r:?}");
}

/// The checksum `backstop sum` wrote for migration `id`.
fn summed_checksum(p: &Project, id: &str) -> String {
    let sum = std::fs::read_to_string(p.tmp.path().join("backstop.sum")).expect("backstop.sum");
    sum.lines()
        .find_map(|l| l.strip_prefix(&format!("{id} ")))
        .unwrap_or_else(|| panic!("no {id} in backstop.sum:\n{sum}"))
        .to_string()
}

/// Every command refuses or reports migration `v`'s rewritten checksum as a disagreement
/// with the ledger, never as an edited migration file.
fn checksum_tampering_is_reported(db: &Db, p: &Project, v: i64) {
    let said = format!("history's checksum of migration {v}");
    for args in [
        &["apply"][..],
        &["apply", "--dry-run"],
        &["rollback"],
        &["rollback", "--dry-run"],
        &["verify"],
        &["audit", "verify"],
    ] {
        let r = p.run(db, args);
        assert_eq!(r.code, 3, "{args:?}: {r:?}");
        if args[0] != "verify" {
            assert!(r.all().contains(&said), "{args:?}: {r:?}");
        }
    }
    // The disagreement is what refuses, before the files are compared with history.
    for args in [&["apply"][..], &["apply", "--dry-run"], &["rollback"]] {
        let r = p.run(db, args);
        assert!(r.stderr.contains("disagrees with the ledger"), "{r:?}");
        assert!(r.stderr.contains("restore backstop's tables"), "{r:?}");
        assert!(!r.stderr.contains("edited after"), "{args:?}: {r:?}");
    }
    let r = p.run(db, &["--format", "json", "verify"]);
    let v = r.json();
    let ledger = check(&v, "history and ledger");
    assert_eq!(ledger["ok"], false, "{r:?}");
    assert!(ledger["detail"].to_string().contains(&said), "{r:?}");
    let r = p.run(db, &["--format", "json", "audit", "verify"]);
    assert!(
        r.json()["disagreements"].to_string().contains(&said),
        "{r:?}"
    );
    let st = p.status(db);
    assert!(st["warnings"].to_string().contains(&said), "{st}");
    let r = p.ok(db, &["--format", "json", "plan"]);
    let warnings = r.json()["warnings"].to_string();
    assert!(warnings.contains("apply would refuse"), "{r:?}");
    assert!(warnings.contains(&said), "{r:?}");
}

fn a_rewritten_checksum_is_tampering_not_an_edited_file(kind: Kind) {
    // Regression: a history row's checksum rewritten behind backstop's back was refused as
    // an edited migration file (the file was unchanged), and verify's "history and ledger"
    // check and audit verify passed.
    // (Migration 2's: status reads the details of the applies other than the last only
    // in brief.)
    let db = Db::new(kind);
    let p = applied(&db);
    db.exec(&format!(
        "UPDATE {} SET checksum = 'sha256:0000' WHERE version = 2",
        db.t("migrations")
    ));
    checksum_tampering_is_reported(&db, &p, 2);
    // The file is compared with the checksum the ledger recorded: it was not edited.
    let r = p.ok(&db, &["--format", "json", "plan"]);
    assert!(
        !r.json()["warnings"].to_string().contains("edited after"),
        "{r:?}"
    );
    let r = p.run(&db, &["--format", "json", "verify"]);
    assert_eq!(check(&r.json(), "checksums")["ok"], true, "{r:?}");
    assert_eq!(p.status(&db)["checksum_mismatches"], serde_json::json!([]));
    assert!(db.check("SELECT count(*) = 0 FROM t3"), "t3 was dropped");
    assert!(t1_intact(&db));

    // A dirty row's: resolve would record it as genuine.
    let db = Db::new(kind);
    let p = applied(&db);
    with_dirty(&db, &p);
    db.exec(&format!(
        "UPDATE {} SET checksum = 'sha256:0000' WHERE version = 8",
        db.t("migrations")
    ));
    db.exec("CREATE TABLE missing (x int)");
    let r = p.run(&db, &["resolve", "8", "--applied", "--reason", "x"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("history's checksum of migration 8"),
        "{r:?}"
    );
    assert!(db.check(&format!(
        "SELECT count(*) = 1 FROM {} WHERE version = 8 AND status = 'dirty'",
        db.t("migrations")
    )));

    // After a lost head is accepted, the checksums the override recorded are the account.
    let db = Db::new(kind);
    let p = applied(&db);
    db.exec(&format!("DELETE FROM {}", db.t("state")));
    p.ok(
        &db,
        &[
            "apply",
            "--allow-drift",
            "--reason",
            "state row lost, checked",
        ],
    );
    p.ok(&db, &["audit", "verify"]);
    db.exec(&format!(
        "UPDATE {} SET checksum = 'sha256:0000' WHERE version = 1",
        db.t("migrations")
    ));
    checksum_tampering_is_reported(&db, &p, 1);
}

fn a_checksum_rewritten_to_hide_an_edit_is_found(kind: Kind) {
    // Regression: an applied migration's file edited and its history checksum rewritten
    // to match: apply, verify and audit verify all passed.
    let db = Db::new(kind);
    let p = applied(&db);
    p.add(
        "2_t2",
        "CREATE TABLE t2 (x int, y int);",
        Some("DROP TABLE t2;"),
        None,
        None,
    );
    p.ok(&db, &["sum"]);
    db.exec(&format!(
        "UPDATE {} SET checksum = '{}' WHERE version = 2",
        db.t("migrations"),
        summed_checksum(&p, "2_t2")
    ));
    checksum_tampering_is_reported(&db, &p, 2);
    // The edit itself shows too: the file against what the ledger says was applied.
    let r = p.run(&db, &["--format", "json", "verify"]);
    let v = r.json();
    let checksums = check(&v, "checksums");
    assert_eq!(checksums["ok"], false, "{r:?}");
    assert!(checksums["detail"].to_string().contains("[2]"), "{r:?}");
    assert_eq!(p.status(&db)["checksum_mismatches"], serde_json::json!([2]));
}

fn a_migration_edited_between_rollback_and_reapply_is_no_tampering(kind: Kind) {
    let db = Db::new(kind);
    let p = applied(&db);
    let clean = |what: &str| {
        let r = p.run(&db, &["--format", "json", "audit", "verify"]);
        assert_eq!(r.code, 0, "after {what}: {r:?}");
        let r = p.run(&db, &["--format", "json", "verify"]);
        assert_eq!(r.code, 0, "after {what}: {r:?}");
        // status reads a brief ledger (only the applies' checksums of their details).
        let st = p.status(&db);
        assert!(
            !st["warnings"].to_string().contains("ledger"),
            "after {what}: {st}"
        );
        assert_eq!(st["checksum_mismatches"], serde_json::json!([]), "{what}");
        p.ok(&db, &["apply", "--dry-run"]);
    };
    let notx = Some("transaction = false\n");
    // In a transaction: rolled back, edited, a failed try (the row stays as the rollback
    // left it), then applied again with the new checksum.
    p.ok(&db, &["rollback", "--steps", "1"]);
    clean("rollback");
    let edit = |id: &str, up: &str, down: &str, toml: Option<&str>| {
        p.add(id, up, Some(down), None, toml);
        p.ok(&db, &["sum"]);
    };
    edit(
        "3_t3",
        "CREATE TABLE t3 (x int);\nSELECT * FROM missing;",
        "DROP TABLE t3;",
        None,
    );
    assert_eq!(p.run(&db, &["apply"]).code, 1);
    clean("a failed re-apply in a transaction");
    edit(
        "3_t3",
        "CREATE TABLE t3 (x int, y int);",
        "DROP TABLE t3;",
        None,
    );
    p.ok(&db, &["apply"]);
    clean("re-apply");
    // Outside a transaction (`apply-started` records the checksum): applied, rolled back,
    // edited into a failure that is cleaned up, fixed and applied again.
    edit("4_t4", "CREATE TABLE t4 (x int);", "DROP TABLE t4;", notx);
    p.ok(&db, &["apply"]);
    p.ok(&db, &["rollback", "--steps", "1"]);
    edit(
        "4_t4",
        "CREATE TABLE t4 (x int);\nSELECT * FROM missing;",
        "DROP TABLE t4;",
        notx,
    );
    assert_eq!(p.run(&db, &["apply"]).code, 1);
    clean("a cleaned-up re-apply outside a transaction");
    edit(
        "4_t4",
        "CREATE TABLE t4 (x int, y int);",
        "DROP TABLE t4;",
        notx,
    );
    p.ok(&db, &["apply"]);
    clean("re-apply outside a transaction");
    // Left dirty, resolved rolled back, edited and applied; then resolved applied.
    with_dirty(&db, &p);
    db.exec("DROP TABLE z1");
    p.ok(
        &db,
        &["resolve", "8", "--rolled-back", "--reason", "undone"],
    );
    clean("resolve --rolled-back");
    edit("8_half", "CREATE TABLE z1 (x int);", "DROP TABLE z1;", notx);
    p.ok(&db, &["apply"]);
    clean("re-apply after resolve");
    p.ok(&db, &["rollback", "--steps", "1"]);
    edit(
        "8_half",
        "CREATE TABLE z1 (x int);\nINSERT INTO missing VALUES (1);",
        "DROP TABLE nothing_here;",
        notx,
    );
    assert_eq!(p.run(&db, &["apply"]).code, 5);
    db.exec("CREATE TABLE missing (x int)");
    p.ok(&db, &["resolve", "8", "--applied", "--reason", "finished"]);
    clean("resolve --applied");
}
