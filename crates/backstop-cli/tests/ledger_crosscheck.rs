//! What a person accepts as it is stays on record: a later rollback can't be proven by
//! mistake over changes it can't tell from its migration's own.
mod common;
use common::{Db, Kind, Project};

both!(
    drift_accepted_without_its_objects_touches_everything,
    resolve_applied_records_every_object_it_accepts,
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
