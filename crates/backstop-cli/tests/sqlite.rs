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
