//! backstop's own tables changed behind its back: dropped tables, a deleted head, an emptied
//! ledger, edited stored scripts and event texts, a head set back. Every case must stay
//! evident (`audit verify`, `verify`) and refuse to run anything (exit 3).
mod common;
use common::{Db, Kind, Project};

both!(
    a_dropped_history_table_refuses_every_command,
    a_rewritten_event_detail_is_an_edit,
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
                r.all().contains("2 of its 3 tables"),
                "{table} dropped, {args:?}: {r:?}"
            );
        }
        let r = p.run(&db, &["--format", "json", "audit", "verify"]);
        assert_eq!(r.json()["ok"], false, "{r:?}");
        assert!(t1_rows(&db), "the data migration ran again");
    }
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

