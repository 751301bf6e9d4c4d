//! backstop's own tables changed behind its back: dropped tables, a deleted head, an emptied
//! ledger, edited stored scripts and event texts, a head set back. Every case must stay
//! evident (`audit verify`, `verify`) and refuse to run anything (exit 3).
mod common;
use common::{Db, Kind, Project};

both!(
    a_dropped_history_table_refuses_every_command,
    deleting_the_newest_event_with_the_state_row_stays_evident,
    an_emptied_ledger_and_state_row_are_tampering,
    an_edited_stored_script_is_refused_before_it_runs,
    a_rewritten_event_detail_is_an_edit,
    a_head_set_back_is_refused_before_anything_runs,
    a_resolved_migration_keeps_its_scripts_checked,
);

/// Three migrations, the first a data migration (it must never run twice), all applied.
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
        Some("description = \"a migration.toml is not stored in history\"\n"),
    );
    p.add(
        "3_t3",
        "CREATE TABLE t3 (x int);",
        Some("DROP TABLE t3;"),
        Some("SELECT count(*) = 0 FROM t3;"),
        None,
    );
    p.ok(db, &["sum"]);
    p.ok(db, &["apply"]);
    p
}

fn t1_rows(db: &Db) -> bool {
    db.check("SELECT count(*) = 1 FROM t1")
}

fn a_dropped_history_table_refuses_every_command(kind: Kind) {
    // Regression (PostgreSQL): with one table dropped the history read as "none yet":
    // `audit verify` said intact, and apply re-ran every migration (data ones twice).
    for table in ["migrations", "events", "state"] {
        let db = Db::new(kind);
        let p = applied(&db);
        db.exec(&format!("DROP TABLE {}", db.t(table)));
        for args in [
            &["status"][..],
            &["verify"],
            &["apply"],
            &["rollback"],
            &["audit", "verify"],
        ] {
            let r = p.run(&db, args);
            assert_eq!(r.code, 3, "{table} dropped, {args:?}: {r:?}");
            assert!(
                r.all()
                    .contains(&format!("its table {} is missing", db.t(table))),
                "{table} dropped, {args:?}: {r:?}"
            );
        }
        let r = p.run(&db, &["--format", "json", "audit", "verify"]);
        assert_eq!(r.json()["ok"], false, "{r:?}");
        assert!(t1_rows(&db), "the data migration ran again");
    }
    // Two gone: both named.
    let db = Db::new(kind);
    let p = applied(&db);
    db.exec(&format!("DROP TABLE {}", db.t("events")));
    db.exec(&format!("DROP TABLE {}", db.t("state")));
    let r = p.run(&db, &["status"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.all().contains(&format!(
            "its tables {} and {} are missing",
            db.t("events"),
            db.t("state")
        )),
        "{r:?}"
    );
}

fn deleting_the_newest_event_with_the_state_row_stays_evident(kind: Kind) {
    // Regression: the refused apply was appended with the deleted event's seq and wrote
    // the state row again, after which `audit verify` called the ledger intact.
    let db = Db::new(kind);
    let p = applied(&db);
    p.add(
        "4_t4",
        "CREATE TABLE t4 (x int);",
        Some("DROP TABLE t4;"),
        None,
        None,
    );
    p.ok(&db, &["sum"]);
    db.exec(&format!("DELETE FROM {}", db.t("state")));
    db.exec(&format!("DELETE FROM {} WHERE seq = 3", db.t("events")));
    for args in [&["apply"][..], &["rollback"]] {
        let r = p.run(&db, args);
        assert_eq!(r.code, 3, "{args:?}: {r:?}");
        assert!(
            r.stderr.contains("state row was deleted"),
            "{args:?}: {r:?}"
        );
        assert!(
            r.stderr.contains("--allow-drift --reason"),
            "{args:?}: {r:?}"
        );
        // Still evident afterwards: nothing was written.
        let r = p.run(&db, &["audit", "verify"]);
        assert_eq!(r.code, 3, "after {args:?}: {r:?}");
    }
    assert!(!db.check(&format!("SELECT count(*) > 0 FROM {}", db.t("state"))));
    let st = p.status(&db);
    assert!(!st["drift"].is_null(), "{st}");
    assert!(
        st["warnings"].to_string().contains("state row was deleted"),
        "{st}"
    );
    let r = p.run(&db, &["--format", "json", "verify"]);
    assert_eq!(r.code, 3, "{r:?}");
    let checks = r.json()["checks"].clone();
    let head = checks
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "ledger head"))
        .cloned()
        .expect("a ledger head check");
    assert_eq!(head["ok"], false, "{checks}");

    // The explicit override re-establishes the head and says what it found.
    let r = p.ok(
        &db,
        &[
            "apply",
            "--allow-drift",
            "--reason",
            "state row lost, checked",
        ],
    );
    assert!(r.all().contains("missing ledger head"), "{r:?}");
    p.ok(&db, &["audit", "verify"]);
    let log = p.ok(&db, &["--format", "json", "audit", "log"]).json();
    let override_ev = log["events"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["seq"] == 3))
        .cloned()
        .expect("event 3");
    assert_eq!(override_ev["kind"], "override", "{log}");
    let detail: serde_json::Value =
        serde_json::from_str(override_ev["detail"].as_str().unwrap_or_default())
            .expect("detail is JSON");
    assert_eq!(detail["lost_head"]["ledger_end"], 2, "{detail}");
    assert!(db.check("SELECT count(*) = 0 FROM t4"), "4 was applied");
    assert!(t1_rows(&db), "the data migration ran again");
}

fn an_emptied_ledger_and_state_row_are_tampering(kind: Kind) {
    // Regression: with history rows left and the events and state row deleted, `audit
    // verify` said "intact: 0 events" and apply/rollback ran without drift checks.
    let db = Db::new(kind);
    let p = applied(&db);
    let after_3 = p.fingerprint(&db);
    db.exec(&format!("DELETE FROM {}", db.t("state")));
    db.exec(&format!("DELETE FROM {}", db.t("events")));
    let r = p.run(&db, &["--format", "json", "audit", "verify"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.json()["broken"]["problem"]
            .to_string()
            .contains("3 migration row"),
        "{r:?}"
    );
    let r = p.run(&db, &["verify"]);
    assert_eq!(r.code, 3, "{r:?}");
    for args in [&["apply"][..], &["rollback"]] {
        let r = p.run(&db, args);
        assert_eq!(r.code, 3, "{args:?}: {r:?}");
        assert!(r.stderr.contains("ledger and its state row"), "{r:?}");
    }
    assert!(db.check("SELECT count(*) = 0 FROM t3"), "t3 is still there");
    // Drift is checked against history's own record of the schema.
    assert!(p.status(&db)["drift"].is_null());
    db.exec("CREATE TABLE sneaky (x int)");
    let st = p.status(&db);
    assert_eq!(st["drift"]["recorded"], after_3.as_str(), "{st}");
    db.exec("DROP TABLE sneaky");
    // The override records the gap, but no event is left that recorded migration 3's
    // stored scripts: nothing vouches for its down script, so the rollback refuses it,
    // and says what the override wrote.
    let r = p.run(&db, &["rollback", "--allow-drift", "--reason", "checked"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("no event in the ledger wrote its row"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("missing ledger head was recorded"),
        "{r:?}"
    );
    assert!(db.check("SELECT count(*) = 0 FROM t3"), "t3 was dropped");
    p.ok(&db, &["audit", "verify"]);
}

fn an_edited_stored_script_is_refused_before_it_runs(kind: Kind) {
    // Regression: rollback ran an edited down script ("proven"), and verify and audit
    // verify stayed clean.
    let db = Db::new(kind);
    let p = applied(&db);
    let t = db.t("migrations");
    db.exec(&format!(
        "UPDATE {t} SET down_sql = 'DROP TABLE t3; DELETE FROM t1;' WHERE version = 3"
    ));
    let r = p.run(&db, &["rollback"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("stored scripts of migration 3 (t3)"),
        "{r:?}"
    );
    assert!(t1_rows(&db), "the edited down script ran");
    assert!(db.check("SELECT count(*) = 0 FROM t3"), "t3 was dropped");
    let r = p.run(&db, &["--format", "json", "verify"]);
    assert_eq!(r.code, 3, "{r:?}");
    let v = r.json();
    let check = v["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "stored scripts"))
        .cloned()
        .expect("a stored scripts check");
    assert_eq!(check["ok"], false, "{v}");
    // The refusal is audited, and the ledger itself is intact.
    p.ok(&db, &["audit", "verify"]);

    // Each part counts, in a migration with a migration.toml (not stored) too.
    db.exec(&format!(
        "UPDATE {t} SET down_sql = 'DROP TABLE t3;' WHERE version = 3"
    ));
    db.exec(&format!(
        "UPDATE {t} SET verify_sql = 'SELECT 1;' WHERE version = 2"
    ));
    let r = p.run(&db, &["rollback", "--steps", "2"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("migration 2 (t2)"), "{r:?}");
    db.exec(&format!(
        "UPDATE {t} SET verify_sql = NULL WHERE version = 2"
    ));
    // Put back as applied, it runs.
    p.ok(&db, &["verify"]);
    p.ok(&db, &["rollback", "--steps", "2"]);
    assert!(t1_rows(&db));
}

fn a_rewritten_event_detail_is_an_edit(kind: Kind) {
    // Regression: the hash covers the parsed detail, so a duplicate key passed `audit
    // verify` while `audit log` showed the edited text.
    let db = Db::new(kind);
    let p = applied(&db);
    let t = db.t("events");
    let log = p.ok(&db, &["--format", "json", "audit", "log"]).json();
    let detail = log["events"][1]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(detail.starts_with("{\""), "{detail}");
    let edited = detail
        .replacen('{', "{\"name\":\"X\",", 1)
        .replace('\'', "''");
    db.exec(&format!("UPDATE {t} SET detail = '{edited}' WHERE seq = 2"));
    let r = p.run(&db, &["--format", "json", "audit", "verify"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(r.json()["broken"]["seq"], 2, "{r:?}");
    let spaced = detail.replace(',', ", ").replace('\'', "''");
    db.exec(&format!("UPDATE {t} SET detail = '{spaced}' WHERE seq = 2"));
    let r = p.run(&db, &["--format", "json", "audit", "verify"]);
    assert_eq!(r.json()["broken"]["seq"], 2, "{r:?}");
    db.exec(&format!(
        "UPDATE {t} SET detail = '{}' WHERE seq = 2",
        detail.replace('\'', "''")
    ));
    p.ok(&db, &["audit", "verify"]);
}

fn a_head_set_back_is_refused_before_anything_runs(kind: Kind) {
    // Regression: with the head set back to an earlier event, rollback failed with exit 5
    // on a duplicate key; an edited head hash was reported "at event 4" of 3 events.
    let db = Db::new(kind);
    let p = applied(&db);
    let log = p.ok(&db, &["--format", "json", "audit", "log"]).json();
    let hash1 = log["events"][0]["hash"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let state = db.t("state");
    db.exec(&format!(
        "UPDATE {state} SET ledger_hash = '{}' WHERE id = 1",
        hash1
    ));
    let r = p.run(&db, &["--format", "json", "audit", "verify"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(r.json()["broken"]["seq"], 3, "{r:?}");
    db.exec(&format!(
        "UPDATE {state} SET ledger_seq = 1, ledger_hash = '{hash1}' WHERE id = 1"
    ));
    for args in [&["rollback"][..], &["apply"]] {
        let r = p.run(&db, args);
        assert_eq!(r.code, 3, "{args:?}: {r:?}");
        assert!(r.stderr.contains("ledger head is damaged"), "{r:?}");
        assert!(r.stderr.contains("backstop audit verify"), "{r:?}");
    }
    assert!(db.check("SELECT count(*) = 0 FROM t3"), "t3 was dropped");
    let r = p.run(&db, &["--format", "json", "audit", "verify"]);
    assert_eq!(r.json()["broken"]["seq"], 2, "{r:?}");
    assert_eq!(p.run(&db, &["verify"]).code, 3);
}

fn a_resolved_migration_keeps_its_scripts_checked(kind: Kind) {
    // `resolve --applied` rewrites the row: its event records the scripts as they stand,
    // so a row resolved by hand is checked like an applied one.
    let db = Db::new(kind);
    let p = applied(&db);
    p.add(
        "4_half",
        "CREATE TABLE n1 (x int);\nINSERT INTO missing VALUES (1);",
        Some("SELECT 1;"),
        None,
        Some("transaction = false\n"),
    );
    p.ok(&db, &["sum"]);
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 5, "{r:?}");
    p.ok(
        &db,
        &["resolve", "4", "--applied", "--reason", "finished by hand"],
    );
    let stored = |r: &common::Run| {
        r.json()["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == "stored scripts"))
            .cloned()
            .expect("a stored scripts check")
    };
    let r = p.run(&db, &["--format", "json", "verify"]);
    assert_eq!(stored(&r)["ok"], true, "{r:?}");
    db.exec(&format!(
        "UPDATE {} SET down_sql = 'DROP TABLE t1;' WHERE version = 4",
        db.t("migrations")
    ));
    let r = p.run(&db, &["--format", "json", "verify"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(stored(&r)["ok"], false, "{r:?}");
    let r = p.run(&db, &["rollback"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(t1_rows(&db));
}
