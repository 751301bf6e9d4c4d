//! What the docs promise about refusals, warnings and messages, checked end to end; each
//! test's first comment line names what it guards.
mod common;
use common::{Db, Kind, Project};
use std::path::Path;

const SNAPSHOT: &str = "[contract]\ndata_loss = \"snapshot\"\n";

/// A project whose second migration's contract asks for a snapshot.
fn snapshot_project() -> Project {
    let p = Project::new();
    p.add(
        "1_notes",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);",
        Some("DROP TABLE notes;"),
        None,
        None,
    );
    p.add(
        "2_drop_notes",
        "DROP TABLE notes;",
        Some("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"),
        None,
        Some(SNAPSHOT),
    );
    p
}

#[test]
fn a_snapshot_contract_is_refused_because_this_version_takes_no_snapshots() {
    // A `data_loss = "snapshot"` contract was accepted and the data lost on rollback.
    let db = Db::new(Kind::Sqlite);
    let p = snapshot_project();
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("2_drop_notes")
            && r.stderr.contains("migration.toml")
            && r.stderr.contains("can't take snapshots")
            && r.stderr.contains("data_loss = \"accepted\""),
        "{r:?}"
    );
    // Before anything runs: not even the first migration.
    assert_eq!(p.status(&db)["applied"], 0);
    let dry = p.run(&db, &["apply", "--dry-run"]);
    assert_eq!(dry.code, 3, "{dry:?}");
    assert!(dry.stderr.contains("can't take snapshots"), "{dry:?}");
    let plan = p.ok(&db, &["--format", "json", "plan"]).json();
    let warnings = plan["warnings"].to_string();
    assert!(
        warnings.contains("apply would refuse") && warnings.contains("can't take snapshots"),
        "{plan}"
    );
    // Up to the migration before it, the run goes ahead.
    p.ok(&db, &["apply", "--to", "1"]);
}

#[test]
fn plan_warns_about_the_sum_lint_errors_and_drift_that_refuse_an_apply() {
    // plan said nothing of three refusals apply makes.
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
        None,
    );
    p.ok(&db, &["sum"]);
    let warnings = |p: &Project| {
        let plan = p.ok(&db, &["--format", "json", "plan"]).json();
        plan["warnings"].to_string()
    };
    assert_eq!(warnings(&p), "[]");
    let text = p.ok(&db, &["plan"]);
    assert!(!text.all().contains("would refuse"), "{text:?}");

    std::fs::write(
        p.dir().join("2_u/up.sql"),
        "CREATE TABLE u (id INTEGER, n INTEGER);",
    )
    .unwrap();
    let w = warnings(&p);
    assert!(
        w.contains("apply would refuse: migration files disagree with") && w.contains("2_u"),
        "{w}"
    );
    p.ok(&db, &["sum"]);

    std::fs::write(p.dir().join("2_u/up.sql"), "DROP TABLE t;").unwrap();
    p.ok(&db, &["sum"]);
    let w = warnings(&p);
    assert!(
        w.contains("apply would refuse: lint found 1 error(s)")
            && w.contains("data-loss-without-contract"),
        "{w}"
    );
    let text = p.ok(&db, &["plan"]);
    assert!(
        text.all().contains("apply would refuse: lint found"),
        "{text:?}"
    );
    std::fs::write(p.dir().join("2_u/up.sql"), "CREATE TABLE u (id INTEGER);").unwrap();
    p.ok(&db, &["sum"]);

    db.exec("CREATE TABLE outside (x INTEGER)");
    let w = warnings(&p);
    assert!(
        w.contains("apply would refuse: the schema changed outside backstop"),
        "{w}"
    );
}

/// A database URL naming an SQLite file that does not exist yet, beside the project.
fn fresh_file(p: &Project) -> (std::path::PathBuf, String) {
    let file = p.tmp.path().join("fresh.db");
    (file.clone(), format!("sqlite://{}", file.display()))
}

fn leaves_nothing(file: &Path) {
    assert!(!file.exists(), "{} was created", file.display());
    let lock = file.with_extension("db.lock");
    assert!(!lock.exists(), "{} was created", lock.display());
}

#[test]
fn a_refused_first_apply_does_not_create_the_sqlite_file() {
    // A refusal the files decide (require_sum, lint, snapshot) created the database first.
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    let (file, url) = fresh_file(&p);
    let mut db = Db::new(Kind::Sqlite);
    db.url = url;
    std::fs::write(p.tmp.path().join("backstop.toml"), "require_sum = true\n").unwrap();
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr
            .contains("does not exist and this environment requires it")
            && r.stderr.contains("was not created"),
        "{r:?}"
    );
    leaves_nothing(&file);

    std::fs::remove_file(p.tmp.path().join("backstop.toml")).unwrap();
    p.add(
        "2_drop",
        "DROP TABLE t;",
        Some("CREATE TABLE t (id INTEGER);"),
        None,
        None,
    );
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("data-loss-without-contract"), "{r:?}");
    leaves_nothing(&file);

    std::fs::write(p.dir().join("2_drop/migration.toml"), SNAPSHOT).unwrap();
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("can't take snapshots"), "{r:?}");
    leaves_nothing(&file);

    // A run the files allow creates it.
    p.ok(&db, &["apply", "--to", "1"]);
    assert!(file.exists());
}

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

#[test]
fn an_empty_release_id_is_refused() {
    // `apply --release ""` stored an empty release id.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    for blank in ["", "  "] {
        let r = p.run(&db, &["apply", "--release", blank]);
        assert_eq!(r.code, 2, "{r:?}");
        assert!(r.stderr.contains("--release must not be empty"), "{r:?}");
    }
    assert_eq!(p.status(&db)["applied"], 0);
}

#[test]
fn apply_to_an_applied_version_says_it_is_applied_when_nothing_else_is_pending() {
    // With nothing after V pending, `apply --to V` said only "up to date".
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
    let r = p.ok(&db, &["apply", "--to", "1"]);
    assert!(r.stdout.contains("migration 1 is already applied"), "{r:?}");
    let r = p.ok(&db, &["apply", "--to", "1", "--dry-run"]);
    assert!(r.stdout.contains("migration 1 is already applied"), "{r:?}");
}

#[cfg(unix)]
#[test]
fn a_dangling_symlink_is_reported_as_one() {
    // A dangling verify.sql was ignored, a dangling down.sql or single file called "missing".
    use std::os::unix::fs::symlink;
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    let d = p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    symlink("../shared/check.sql", d.join("verify.sql")).unwrap();
    let r = p.run(&db, &["sum"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains(
            "1_t/verify.sql: is a symbolic link to ../shared/check.sql, which does not exist"
        ),
        "{r:?}"
    );
    std::fs::remove_file(d.join("verify.sql")).unwrap();

    std::fs::remove_file(d.join("down.sql")).unwrap();
    symlink("gone.sql", d.join("down.sql")).unwrap();
    let r = p.run(&db, &["status"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("down.sql: is a symbolic link to gone.sql")
            && !r.stderr.contains("is missing"),
        "{r:?}"
    );
    std::fs::remove_dir_all(&d).unwrap();

    symlink("/nowhere/9_x.sql", p.dir().join("9_x.sql")).unwrap();
    let r = p.run(&db, &["status"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("9_x.sql: is a symbolic link to /nowhere/9_x.sql, which does not exist")
            && !r.stderr.contains("up.sql is missing"),
        "{r:?}"
    );
}

#[cfg(unix)]
#[test]
fn a_migration_name_that_is_not_utf8_is_refused() {
    // `2_caf\xe9` was accepted and stored as `2_caf\u{fffd}`.
    use std::os::unix::ffi::OsStrExt;
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    let name = std::ffi::OsStr::from_bytes(b"2_caf\xe9");
    let d = p.dir().join(name);
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("up.sql"), "CREATE TABLE t (id INTEGER);").unwrap();
    std::fs::write(d.join("down.sql"), "DROP TABLE t;").unwrap();
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("2_caf\u{fffd}: the name is not valid UTF-8"),
        "{r:?}"
    );
    std::fs::remove_dir_all(&d).unwrap();
    assert_eq!(p.status(&db)["history_exists"], false);

    let f = p.dir().join(std::ffi::OsStr::from_bytes(b"3_caf\xe9.sql"));
    std::fs::write(&f, "-- backstop:up\nCREATE TABLE t (id INTEGER);\n").unwrap();
    let r = p.run(&db, &["status"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("3_caf\u{fffd}.sql: the name is not valid UTF-8"),
        "{r:?}"
    );
}

#[test]
fn a_dirty_migration_is_named_as_the_cause_of_the_schema_difference() {
    // status said "DRIFT: changed outside backstop" about a dirty migration's own work.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_two",
        "CREATE TABLE a (x INTEGER);\nCREATE TABLE b (x INTEGER);",
        None,
        Some("SELECT 0;"),
        Some("transaction = false\nirreversible = true\nreason = \"test\"\n"),
    );
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 5, "{r:?}");
    let status = p.ok(&db, &["status"]);
    assert!(!status.stdout.contains("DRIFT"), "{status:?}");
    assert!(
        status.stdout.contains("because migration 1 (two) is dirty")
            && status.stdout.contains("backstop resolve 1"),
        "{status:?}"
    );
    let json = p.status(&db);
    assert_eq!(json["drift"]["dirty_migration"]["version"], 1, "{json}");
    let v = p.run(&db, &["--format", "json", "verify"]);
    assert_eq!(v.code, 3, "{v:?}");
    let drift = v.json()["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "drift")
        .cloned()
        .unwrap();
    assert!(
        drift["detail"]
            .as_str()
            .unwrap()
            .contains("because migration 1 (two) is dirty"),
        "{drift}"
    );
    // Drift that is not a dirty migration's is still called drift.
    p.ok(
        &db,
        &["resolve", "1", "--applied", "--reason", "checked by hand"],
    );
    db.exec("CREATE TABLE outside (x INTEGER)");
    let status = p.ok(&db, &["status"]);
    assert!(
        status
            .stdout
            .contains("DRIFT: the schema changed outside backstop"),
        "{status:?}"
    );
}
