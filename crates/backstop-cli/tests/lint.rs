//! `backstop lint`, the apply gate, and the risk-aware plan.
mod common;
use common::{Db, Kind, Project};

fn risky(p: &Project) {
    p.add(
        "1_t",
        "CREATE TABLE t (id bigint PRIMARY KEY, email text);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.add(
        "2_index",
        "CREATE INDEX t_email_idx ON t (email);",
        Some("DROP INDEX t_email_idx;"),
        None,
        None,
    );
}

#[test]
fn lint_exit_codes_and_formats() {
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    risky(&p);
    let r = p.run(&db, &["lint", "--engine", "postgres"]);
    assert_eq!(r.code, 1, "error findings exit 1: {r:?}");
    assert!(
        r.stdout.contains("error[create-index-non-concurrently]")
            && r.stdout.contains("2_index/up.sql:1:1"),
        "{r:?}"
    );
    assert!(r.stdout.contains("help:"), "code frame with help: {r:?}");

    let j = p
        .run(&db, &["--format", "json", "lint", "--engine", "postgres"])
        .json();
    assert_eq!(j["errors"], 1, "{j}");
    let sarif = p
        .run(&db, &["--format", "sarif", "lint", "--engine", "postgres"])
        .json();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    let hit = results
        .iter()
        .find(|r| r["ruleId"] == "create-index-non-concurrently")
        .expect("the finding is a SARIF result");
    assert_eq!(hit["level"], "error");
    assert_eq!(
        hit["locations"][0]["physicalLocation"]["region"]["startLine"],
        1
    );
    let gh = p.run(&db, &["--format", "github", "lint", "--engine", "postgres"]);
    assert!(
        gh.stdout.contains("::error file=") && gh.stdout.contains("line=1"),
        "{gh:?}"
    );

    // Only warnings: exit 0, unless --deny warnings.
    let ok = Project::new();
    ok.add(
        "1_t",
        "CREATE TABLE t (id bigint PRIMARY KEY, n int);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    ok.add(
        "2_u",
        "UPDATE t SET n = 0;",
        Some("UPDATE t SET n = NULL;"),
        Some("SELECT count(*) = 0 FROM t WHERE n <> 0;"),
        Some("lock_timeout = \"1s\"\n[contract]\ndata_loss = \"accepted\"\n"),
    );
    let r = ok.run(&db, &["lint", "--engine", "postgres"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("warning["), "{r:?}");
    assert_eq!(
        ok.run(&db, &["lint", "--engine", "postgres", "--deny", "warnings"])
            .code,
        1
    );
    // --format sarif is for lint only
    assert_eq!(ok.run(&db, &["--format", "sarif", "status"]).code, 2);
}

#[test]
fn apply_refuses_lint_errors_unless_allowed_and_audits_the_override() {
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    risky(&p);
    p.ok(&db, &["apply", "--to", "1"]);
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("create-index-non-concurrently")
            && r.stderr.contains("2_index/up.sql:1:1"),
        "{r:?}"
    );
    assert_eq!(p.status(&db)["applied"], 1);
    assert!(db.check(
        "SELECT count(*) = 1 FROM backstop.events WHERE kind = 'refused' AND detail LIKE '%lint%'"
    ));
    let r = p.run(&db, &["apply", "--allow", "no-such-rule", "--reason", "x"]);
    assert_eq!(r.code, 2, "{r:?}");
    let r = p.ok(
        &db,
        &[
            "apply",
            "--allow",
            "create-index-non-concurrently",
            "--reason",
            "table is empty at launch",
        ],
    );
    assert!(r.stderr.contains("suppressed"), "{r:?}");
    assert_eq!(p.status(&db)["applied"], 2);
    assert!(db.check("SELECT count(*) = 1 FROM backstop.events WHERE kind = 'override' AND detail LIKE '%table is empty at launch%' AND detail LIKE '%create-index-non-concurrently%'"));
}

#[test]
fn inline_suppression_is_applied_and_audited() {
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id bigint PRIMARY KEY, legacy text);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.add("2_drop", "-- backstop:allow data-loss-without-contract legacy was never written in production\nALTER TABLE t DROP COLUMN legacy;", Some("ALTER TABLE t ADD COLUMN legacy text;"), None, None);
    p.ok(&db, &["apply"]);
    assert!(db.check("SELECT count(*) = 1 FROM backstop.events WHERE kind = 'override' AND detail LIKE '%legacy was never written in production%'"));
}

#[test]
fn plan_shows_locks_rewrites_findings_snapshot_and_rollback_path() {
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id bigint PRIMARY KEY, n int, note text);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    p.add(
        "2_change",
        "ALTER TABLE t ALTER COLUMN n TYPE bigint;\nALTER TABLE t DROP COLUMN note;",
        Some("ALTER TABLE t ADD COLUMN note text;\nALTER TABLE t ALTER COLUMN n TYPE int;"),
        None,
        None,
    );
    let r = p.ok(&db, &["plan"]);
    assert!(r.stdout.contains("ACCESS EXCLUSIVE lock on t"), "{r:?}");
    assert!(r.stdout.contains("REWRITES the table"), "{r:?}");
    assert!(
        r.stdout.contains("destroys data (back it up first")
            && r.stdout.contains("DROP COLUMN note"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("rollback path") && r.stdout.contains("ADD COLUMN note text"),
        "{r:?}"
    );
    assert!(r.stdout.contains("data-loss-without-contract"), "{r:?}");
    let j = p.ok(&db, &["--format", "json", "plan"]).json();
    let st = &j["pending"][0]["statements"][0];
    assert_eq!(st["impact"]["lock"], "ACCESS EXCLUSIVE");
    assert_eq!(st["impact"]["rewrites"], true);
    assert_eq!(
        j["pending"][0]["rollback"]
            .as_array()
            .expect("rollback")
            .len(),
        2
    );
}

/// Two single-file migrations: the second changes a column the first created, which only
/// rewrites the table when the old type is unknown.
fn widening(p: &Project) {
    std::fs::write(
        p.dir().join("1_t.sql"),
        "-- backstop:up\nCREATE TABLE t (id bigint PRIMARY KEY, n varchar(10));\n-- backstop:down\nDROP TABLE t;\n",
    )
    .expect("write");
    std::fs::write(
        p.dir().join("2_c.sql"),
        "-- backstop:up\nALTER TABLE t ALTER COLUMN n TYPE varchar(20);\n-- backstop:down\nSELECT 1;\n",
    )
    .expect("write");
}

#[test]
fn lint_of_named_files_ignores_their_siblings_and_the_working_directory() {
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    widening(&p);
    let lint = ["lint", "--engine", "postgres"];

    // In the migrations directory: checked against the earlier migrations, as a directory
    // lint does (t.n is known to be varchar(10), so no rewrite), and counted as one file.
    let r = p.ok(&db, &[&lint[..], &["migrations/2_c.sql"]].concat());
    assert!(!r.stdout.contains("alter-column-type-rewrite"), "{r:?}");
    assert!(r.stdout.contains("in 1 file (2 statements)"), "{r:?}");
    let whole = p.ok(&db, &lint);
    assert!(
        whole.stdout.contains("in 2 files (4 statements)"),
        "{whole:?}"
    );

    // A folder-form migration's script, next to an entry that is no migration.
    p.add("3_f", "SELECT 1;", Some("SELECT 1;"), None, None);
    std::fs::create_dir(p.dir().join("junk")).expect("mkdir");
    for file in ["migrations/2_c.sql", "migrations/3_f/up.sql"] {
        let r = p.run(&db, &[&lint[..], &[file]].concat());
        assert_eq!(r.code, 0, "{file}: {r:?}");
        assert!(
            r.stdout.contains("note: ") && r.stdout.contains("junk"),
            "the lint says what it could not use: {r:?}"
        );
    }

    // From inside the migrations directory, with the default one not found from there.
    let r = std::process::Command::new(common::BIN)
        .current_dir(p.dir())
        .env_remove("DATABASE_URL")
        .args(["lint", "--engine", "postgres", "2_c.sql"])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert_eq!(
        r.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(stdout.contains("2_c.sql:2:1"), "{stdout}");

    // A file outside any migrations directory: linted on its own.
    let elsewhere = tempfile::tempdir().expect("tmp");
    std::fs::create_dir(elsewhere.path().join("notes")).expect("mkdir");
    let x = elsewhere.path().join("x.sql");
    std::fs::copy(p.dir().join("2_c.sql"), &x).expect("copy");
    let r = p.run(&db, &[&lint[..], &[x.to_str().expect("utf-8")]].concat());
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("alter-column-type-rewrite"), "{r:?}");
}

#[test]
fn plan_names_the_weaker_lock_on_a_referenced_table() {
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE users (id bigint PRIMARY KEY);\nCREATE TABLE orders (id bigint PRIMARY KEY);",
        Some("DROP TABLE orders;\nDROP TABLE users;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    p.add(
        "2_fk",
        "ALTER TABLE orders ADD COLUMN uid2 bigint REFERENCES users(id);",
        Some("ALTER TABLE orders DROP COLUMN uid2;"),
        None,
        None,
    );
    let r = p.ok(&db, &["plan"]);
    assert!(
        r.stdout
            .contains("ACCESS EXCLUSIVE lock on orders, SHARE ROW EXCLUSIVE lock on users"),
        "{r:?}"
    );
    assert!(r.stdout.contains("scans orders"), "{r:?}");
    assert!(!r.stdout.contains("lock on orders, users"), "{r:?}");
    let j = p.ok(&db, &["--format", "json", "plan"]).json();
    let st = &j["pending"][0]["statements"][0];
    assert_eq!(st["impact"]["lock"], "ACCESS EXCLUSIVE");
    assert_eq!(st["impact"]["table_locks"][1], "SHARE ROW EXCLUSIVE");
}

/// A migration the loader refuses is refused by `lint` alike, named by its folder or one of
/// its files, or as part of the directory: exit 2, JSON kind `input`, and the very error
/// `status` gives. Paths are relative to the migrations directory.
#[test]
fn lint_refuses_what_status_refuses_with_the_same_error() {
    let db = Db::new(Kind::Sqlite);
    let script = |d: &std::path::Path, f: &str, text: &[u8]| {
        std::fs::create_dir_all(d).expect("mkdir");
        std::fs::write(d.join(f), text).expect("write");
    };
    type Make = fn(&std::path::Path, &dyn Fn(&std::path::Path, &str, &[u8]));
    let cases: [(&str, Make, &str); 11] = [
        (
            "up.sql missing",
            |m, w| w(&m.join("2_x"), "down.sql", b"SELECT 1;"),
            "2_x",
        ),
        (
            "down.sql missing",
            |m, w| w(&m.join("2_x"), "up.sql", b"SELECT 1;"),
            "2_x/up.sql",
        ),
        (
            "version used twice",
            |m, w| {
                for f in ["2_x", "2_y"] {
                    w(&m.join(f), "up.sql", b"SELECT 1;");
                    w(&m.join(f), "down.sql", b"SELECT 1;");
                }
            },
            "2_y",
        ),
        (
            "no version",
            |m, w| {
                w(&m.join("x"), "up.sql", b"SELECT 1;");
                w(&m.join("x"), "down.sql", b"SELECT 1;");
            },
            "x",
        ),
        (
            "not UTF-8",
            |m, w| {
                w(&m.join("2_x"), "up.sql", b"SELECT '\xff';");
                w(&m.join("2_x"), "down.sql", b"SELECT 1;");
            },
            "2_x",
        ),
        (
            "empty script",
            |m, w| {
                w(&m.join("2_x"), "up.sql", b"SELECT 1;");
                w(&m.join("2_x"), "down.sql", b"-- later\n");
            },
            "2_x",
        ),
        (
            "invalid TOML",
            |m, w| {
                w(&m.join("2_x"), "up.sql", b"SELECT 1;");
                w(&m.join("2_x"), "down.sql", b"SELECT 1;");
                w(&m.join("2_x"), "migration.toml", b"retries = [\n");
            },
            "2_x",
        ),
        (
            "unknown key",
            |m, w| {
                w(&m.join("2_x"), "up.sql", b"SELECT 1;");
                w(&m.join("2_x"), "down.sql", b"SELECT 1;");
                w(&m.join("2_x"), "migration.toml", b"lock_timout = \"2s\"\n");
            },
            "2_x",
        ),
        (
            "bad duration",
            |m, w| {
                w(&m.join("2_x"), "up.sql", b"SELECT 1;");
                w(&m.join("2_x"), "down.sql", b"SELECT 1;");
                w(
                    &m.join("2_x"),
                    "migration.toml",
                    b"lock_timeout = \"2 minutes-ish\"\n",
                );
            },
            "2_x/migration.toml",
        ),
        (
            "unexpected file",
            |m, w| {
                w(&m.join("2_x"), "up.sql", b"SELECT 1;");
                w(&m.join("2_x"), "down.sql", b"SELECT 1;");
                w(&m.join("2_x"), "up.sql.orig", b"SELECT 1;");
            },
            "2_x",
        ),
        // A stray up.sql in the migrations directory does not make it a migration folder.
        (
            "up.sql in the migrations directory",
            |m, w| w(m, "up.sql", b"SELECT 1;"),
            "",
        ),
    ];
    for (what, make, path) in cases {
        let p = Project::new();
        p.add("1_ok", "SELECT 1;", Some("SELECT 1;"), None, None);
        make(&p.dir(), &script);
        let status = p.run(&db, &["--format", "json", "status"]);
        // Named as --dir names the directory, so that the paths in the errors are alike.
        let named = p.dir().join(path);
        let mut lint = vec!["--format", "json", "lint", "--engine", "postgres"];
        if !path.is_empty() {
            lint.push(named.to_str().expect("UTF-8"));
        }
        let lint = p.run(&db, &lint);
        assert_eq!(
            (status.code, lint.code),
            (2, 2),
            "{what}: {status:?}\n{lint:?}"
        );
        let (s, l) = (status.json(), lint.json());
        assert_eq!(l["kind"], "input", "{what}: {l}");
        assert_eq!(l["error"], s["error"], "{what}");
    }
}
