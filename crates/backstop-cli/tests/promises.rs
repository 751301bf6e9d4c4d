//! What the docs promise about refusals, warnings and messages, checked end to end; each
//! test's first comment line names what it guards.
mod common;
use common::{Db, Kind, Project};

#[test]
fn new_after_the_largest_version_fails_instead_of_numbering_out_of_order() {
    // `new` after version i64::MAX created a timestamp version older than the newest.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "9223372036854775807_last",
        "CREATE TABLE t (id INTEGER);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    let r = p.run(&db, &["new", "next"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("9223372036854775807") && r.stderr.contains("largest version"),
        "{r:?}"
    );
    assert_eq!(
        std::fs::read_dir(p.dir()).unwrap().count(),
        1,
        "nothing was created"
    );
}
