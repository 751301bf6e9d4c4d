//! init, new, sum, verify, schema, audit export: the smaller commands end to end.
mod common;
use common::{Db, Kind, Project, BIN};
use std::process::Command;

both!(
    verify_finds_failing_checks_drift_and_edits,
    audit_export_round_trips_the_chain
);

#[test]
fn init_new_and_sum_scaffold_a_working_project() {
    let tmp = tempfile::tempdir().expect("tmp");
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .current_dir(tmp.path())
            .env_remove("DATABASE_URL")
            .args(args)
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, out, _) = run(&["init"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        tmp.path().join("backstop.toml").is_file()
            && tmp.path().join("migrations").is_dir()
            && tmp.path().join("backstop.sum").is_file()
    );
    assert_eq!(
        run(&["init"]).1.trim(),
        "already initialised: nothing to do"
    );

    let (code, _, err) = run(&["new", "Create Users!"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = run(&["new", "add_index", "--no-transaction"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = run(&["new", "seed", "--single-file"]);
    assert_eq!(code, Some(0), "{err}");
    let mut names: Vec<String> = std::fs::read_dir(tmp.path().join("migrations"))
        .expect("dir")
        .map(|e| e.expect("e").file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(
        names[0].ends_with("_create_users")
            && names[1].ends_with("_add_index")
            && names[2].ends_with("_seed.sql"),
        "{names:?}"
    );
    let v: Vec<i64> = names
        .iter()
        .map(|n| n.split('_').next().expect("v").parse().expect("version"))
        .collect();
    assert!(v[0] < v[1] && v[1] < v[2], "versions increase: {v:?}");
    let toml = std::fs::read_to_string(
        tmp.path()
            .join("migrations")
            .join(&names[1])
            .join("migration.toml"),
    )
    .expect("toml");
    assert!(toml.contains("transaction = false"));

    // Templates must be filled in: an empty up.sql is named.
    let (code, _, err) = run(&["status"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("up.sql") && err.contains("empty"), "{err}");

    // Fill them in; the default database is sqlite://backstop.db from backstop.toml.
    let m = tmp.path().join("migrations");
    std::fs::write(
        m.join(&names[0]).join("up.sql"),
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\n",
    )
    .expect("w");
    std::fs::write(m.join(&names[0]).join("down.sql"), "DROP TABLE users;\n").expect("w");
    std::fs::write(
        m.join(&names[0]).join("verify.sql"),
        "SELECT count(*) >= 0 FROM users;\n",
    )
    .expect("w");
    std::fs::write(
        m.join(&names[1]).join("up.sql"),
        "CREATE INDEX IF NOT EXISTS users_email ON users (email);\n",
    )
    .expect("w");
    std::fs::write(
        m.join(&names[1]).join("down.sql"),
        "DROP INDEX IF EXISTS users_email;\n",
    )
    .expect("w");
    std::fs::remove_file(m.join(&names[1]).join("verify.sql")).expect("rm");
    std::fs::write(m.join(&names[2]), "-- backstop:up\nINSERT INTO users (id, email) VALUES (1, 'a@example.com');\n-- backstop:down\nDELETE FROM users WHERE id = 1;\n-- backstop:verify\nSELECT count(*) = 1 FROM users WHERE id = 1;\n").expect("w");
    let (code, _, err) = run(&["apply"]);
    assert_eq!(
        code,
        Some(3),
        "the sum written by init no longer matches: {err}"
    );
    assert_eq!(run(&["sum"]).0, Some(0));
    let (code, out, err) = run(&["apply"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(tmp.path().join("backstop.db").is_file());
    let (code, out, _) = run(&["verify"]);
    assert_eq!(code, Some(0), "{out}");
}

fn verify_finds_failing_checks_drift_and_edits(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    let m = p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, qty INTEGER);",
        Some("DROP TABLE t;"),
        Some("SELECT count(*) = 0 FROM t WHERE qty < 0;"),
        None,
    );
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply"]);
    p.ok(&db, &["verify"]);
    db.exec("INSERT INTO t (id, qty) VALUES (1, -5)");
    let r = p.run(&db, &["--format", "json", "verify"]);
    assert_eq!(r.code, 3, "{r:?}");
    let j = r.json();
    assert_eq!(j["ok"], false);
    let failing: Vec<&str> = j["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(failing, vec!["verify 1 (t)"], "{j}");
    db.exec("DELETE FROM t");
    std::fs::write(
        m.join("up.sql"),
        "CREATE TABLE t (id INTEGER PRIMARY KEY, qty INTEGER, x INTEGER);",
    )
    .expect("edit");
    db.exec("CREATE INDEX t_qty ON t (qty)");
    let j = p.run(&db, &["--format", "json", "verify"]).json();
    let failing: Vec<&str> = j["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(failing, vec!["checksums", "backstop.sum", "drift"], "{j}");
    if k == Kind::Postgres {
        db.exec("DROP INDEX t_qty");
        db.exec("ALTER TABLE t ADD CONSTRAINT qty_positive CHECK (qty >= 0) NOT VALID");
        let j = p.run(&db, &["--format", "json", "verify"]).json();
        assert_eq!(j["health"][0]["kind"], "not-valid-constraint", "{j}");
    }
}

fn audit_export_round_trips_the_chain(k: Kind) {
    let db = Db::new(k);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    p.ok(&db, &["rollback"]);
    let r = p.ok(&db, &["audit", "export"]);
    let events: Vec<backstop_core::ledger::Event> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one event per line"))
        .collect();
    assert_eq!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        vec!["apply", "rollback"]
    );
    assert!(
        backstop_core::ledger::verify_chain(&events, None).is_ok(),
        "an export verifies on its own"
    );
    assert_eq!(events[0].actor, "tester");
    let log = p.ok(&db, &["--format", "json", "audit", "log"]).json();
    assert_eq!(log["head_seq"], 2);
    assert_eq!(log["head_hash"], events[1].hash);
}

#[test]
fn progress_is_shown_to_people_and_kept_out_of_json_and_quiet_runs() {
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (x int);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.add(
        "2_b",
        "CREATE TABLE b (x int);",
        Some("DROP TABLE b;"),
        None,
        None,
    );
    let r = p.ok(&db, &["apply", "--to", "1"]);
    assert!(r.stderr.contains("[1/1] applying 1 a"), "{r:?}");
    let r = p.ok(&db, &["--format", "json", "apply"]);
    assert!(!r.stderr.contains("applying"), "{r:?}");
    r.json();
    let r = p.ok(&db, &["--quiet", "rollback", "--to", "0"]);
    assert!(r.stderr.is_empty() && r.stdout.is_empty(), "{r:?}");
    let r = p.ok(&db, &["apply"]);
    assert!(r.stderr.contains("[2/2] applying 2 b"), "{r:?}");
}

/// On PostgreSQL a run ends by recording the catalog stamp with the fingerprint; `status`
/// trusts the recorded fingerprint only while the stamp holds, and finds drift after any
/// change made behind backstop's back, however small.
#[test]
fn status_trusts_the_recorded_fingerprint_only_while_the_catalog_stamp_holds() {
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, qty INTEGER);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply"]);
    assert!(db.check("SELECT catalog_stamp LIKE 'xmin-md5:%' FROM backstop.state"));
    let fp = p.fingerprint(&db);
    let st = p.status(&db);
    assert_eq!(st["fingerprint"], fp.as_str(), "{st}");
    assert!(st["drift"].is_null(), "{st}");
    db.exec("INSERT INTO t VALUES (1, 2)");
    assert!(p.status(&db)["drift"].is_null(), "data is not drift");
    db.exec("ALTER TABLE t ALTER COLUMN qty SET DEFAULT 0");
    let st = p.status(&db);
    assert_eq!(st["drift"]["recorded"], fp.as_str(), "{st}");
    assert_ne!(st["fingerprint"], fp.as_str(), "{st}");
    // Back to the recorded schema by another route: a new stamp, the same fingerprint.
    db.exec("ALTER TABLE t ALTER COLUMN qty DROP DEFAULT");
    let st = p.status(&db);
    assert!(st["drift"].is_null(), "{st}");
    assert_eq!(st["fingerprint"], fp.as_str(), "{st}");
    // A rollback ends with a stamp too.
    p.ok(&db, &["--yes", "rollback"]);
    assert!(db.check("SELECT catalog_stamp IS NOT NULL FROM backstop.state"));
}

/// A script asking for JSON gets a failure document even when the arguments don't parse;
/// help and version still print as usual.
#[test]
fn bad_arguments_in_json_mode_still_print_a_failure_document() {
    for args in [
        &["--format", "json", "aply"][..],
        &["--format=json", "status", "--bogus"][..],
        &["--format", "json", "rollback", "--steps", "many"][..],
    ] {
        let out = Command::new(BIN)
            .args(args)
            .env_remove("DATABASE_URL")
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let j: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e})"));
        assert_eq!(j["kind"], "usage", "{j}");
        assert_eq!(j["exit_code"], 2, "{j}");
        assert!(j["error"].as_str().is_some_and(|m| !m.is_empty()), "{j}");
    }
    let out = Command::new(BIN).args(["aply"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "text mode keeps stdout for results");
    let out = Command::new(BIN)
        .args(["--format", "json", "--version"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("backstop "));
}

/// A parse error in JSON mode says what clap says in text mode: which arguments are
/// missing, the possible values, and the help of the command that was given.
#[test]
fn argument_errors_in_json_mode_name_the_arguments_and_the_command() {
    // Regression: only clap's first line was kept, so `rollback --force` said "the following
    // required arguments were not provided:" without naming `--reason`, and pointed to
    // `backstop --help`.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id int);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    let missing = "the following required arguments were not provided:";
    for (args, error) in [
        (
            &["rollback", "--force"][..],
            format!("{missing} --reason <REASON> (see `backstop rollback --help`)"),
        ),
        (
            &["apply", "--allow-drift"],
            format!("{missing} --reason <REASON> (see `backstop apply --help`)"),
        ),
        (
            &["resolve", "1", "--applied"],
            format!("{missing} --reason <REASON> (see `backstop resolve --help`)"),
        ),
        (
            &["resolve", "1"],
            format!(
                "{missing} --reason <REASON>, <--applied|--rolled-back> (see `backstop resolve --help`)"
            ),
        ),
        (
            &["lint", "--engine", "oracle"],
            "invalid value 'oracle' for '--engine <ENGINE>' [possible values: postgres, sqlite, mysql] (see `backstop lint --help`)".into(),
        ),
        (
            &["rollback", "--to", "0", "--release", "r1"],
            "the argument '--to <TO>' cannot be used with '--release <RELEASE>' (see `backstop rollback --help`)".into(),
        ),
        (
            &["audit", "verify", "--bogus"],
            "unexpected argument '--bogus' found (see `backstop audit verify --help`)".into(),
        ),
        (
            &["new", "-x"],
            "unexpected argument '-x' found; tip: to pass '-x' as a value, use '-- -x' (see `backstop new --help`)".into(),
        ),
        (
            &["audit", "frob"],
            "unrecognized subcommand 'frob' (see `backstop audit --help`)".into(),
        ),
    ] {
        let json: Vec<&str> = ["--format", "json"].into_iter().chain(args.iter().copied()).collect();
        let r = p.run(&db, &json);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        let j = r.json();
        assert_eq!(j["kind"], "usage", "{args:?}: {j}");
        assert_eq!(j["error"], error.as_str(), "{args:?}");
        assert_eq!(r.stderr.trim_end(), format!("error: {error}"), "{args:?}");
        // Text mode still prints clap's own message and usage.
        let r = p.run(&db, args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(r.stdout.is_empty(), "{args:?}: {r:?}");
        assert!(r.stderr.starts_with("error: "), "{args:?}: {r:?}");
    }
    // Nothing was rolled back.
    assert!(db.check("SELECT count(*) = 1 FROM sqlite_master WHERE name = 'a'"));
}

/// An argument that is not UTF-8 is a usage error like any other.
#[cfg(unix)]
#[test]
fn an_argument_that_is_not_utf8_is_a_usage_error() {
    // Regression: reading the arguments to report the error panicked (exit 101).
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"x\xff");
    for json in [false, true] {
        let mut c = Command::new(BIN);
        c.env_remove("DATABASE_URL");
        if json {
            c.args(["--format", "json"]);
        }
        let out = c.arg("status").arg(bad).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("unexpected argument 'x\u{fffd}' found"),
            "{stderr}"
        );
        assert!(!stderr.contains("internal error"), "{stderr}");
        if json {
            let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
            assert_eq!(j["kind"], "usage", "{j}");
            assert_eq!(
                j["error"],
                "unexpected argument 'x\u{fffd}' found (see `backstop status --help`)"
            );
        }
    }
}

/// A deploy role that doesn't own backstop's tables, on history tables of the first layout
/// (no `catalog_stamp` column): apply, status and rollback work without the stamp; a run
/// by the owner later adds the column and records it.
#[test]
fn a_least_privilege_role_on_the_first_state_layout_still_deploys() {
    // Before the database, so dropped after it: the grants go with the database.
    let mut roles = backstop_postgres::testing::TestRoles::new();
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id int);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.add(
        "2_b",
        "CREATE TABLE b (id int);",
        Some("DROP TABLE b;"),
        None,
        None,
    );
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply", "--to", "1"]);
    let dbname = db.url.rsplit('/').next().expect("db name").to_string();
    let role = roles.create("deploy");
    db.exec(&format!(
        "ALTER TABLE backstop.state DROP COLUMN catalog_stamp; \
         GRANT USAGE ON SCHEMA backstop TO {r}; \
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA backstop TO {r}; \
         GRANT CREATE, USAGE ON SCHEMA public TO {r}; \
         GRANT CONNECT ON DATABASE {dbname} TO {r}",
        r = role
    ));
    let as_role = format!("{}?options=-c%20role%3D{}", db.url, role);
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .env_remove("DATABASE_URL")
            .env("BACKSTOP_ACTOR", "deployer")
            .args(["--database-url", &as_role, "--dir"])
            .arg(p.dir())
            .args(args)
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, out, err) = run(&["apply"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(db.check("SELECT count(*) = 0 FROM pg_attribute WHERE attrelid = 'backstop.state'::regclass AND attname = 'catalog_stamp'"));
    let (code, out, err) = run(&["--format", "json", "status"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("\"pending\": 0"), "{out}");
    let (code, out, err) = run(&["--yes", "rollback"]);
    assert_eq!(code, Some(0), "{out}{err}");
    // The owner's next run brings the layout up to date and records the stamp.
    p.ok(&db, &["apply"]);
    assert!(db.check("SELECT catalog_stamp IS NOT NULL FROM backstop.state"));
}

#[test]
fn plan_numbers_the_lines_of_a_single_file_migration_as_the_file_does() {
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    std::fs::write(
        p.dir().join("1_x.sql"),
        "-- description = \"x\"\n-- backstop:up\nCREATE TABLE t8 (id INTEGER);\n\n-- c\nINSERT INTO t8\n  VALUES (1);\n-- backstop:down\nDROP TABLE t8;\n",
    )
    .expect("write");
    p.ok(&db, &["sum"]);
    let j = p.ok(&db, &["--format", "json", "plan"]).json();
    let m = &j["pending"][0];
    let lines = |key: &str| -> Vec<u64> {
        m[key]
            .as_array()
            .expect("statements")
            .iter()
            .map(|s| s["line"].as_u64().expect("line"))
            .collect()
    };
    assert_eq!(lines("statements"), vec![3, 6], "{j}");
    assert_eq!(lines("rollback"), vec![9], "{j}");
}

/// `backstop ARGS` in `dir` with no DATABASE_URL: exit code, stdout, stderr.
fn run_in(dir: &std::path::Path, args: &[&str]) -> common::Run {
    let out = Command::new(BIN)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("BACKSTOP_ACTOR", "tester")
        .args(args)
        .output()
        .expect("run");
    common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

#[test]
fn init_records_the_migrations_directory_it_was_given() {
    // Regression: `--dir db/migrations init` wrote `dir = "migrations"`, so every later
    // command (and a second `init`) looked for ./migrations.
    let tmp = tempfile::tempdir().expect("tmp");
    let r = run_in(tmp.path(), &["--dir", "db/migrations", "init"]);
    assert_eq!(r.code, 0, "{r:?}");
    let toml = std::fs::read_to_string(tmp.path().join("backstop.toml")).expect("toml");
    assert!(toml.contains("dir = \"db/migrations\""), "{toml}");
    assert!(
        tmp.path().join("db/migrations").is_dir() && tmp.path().join("db/backstop.sum").is_file()
    );
    let again = run_in(tmp.path(), &["init"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.stdout.trim(), "already initialised: nothing to do");
    assert!(
        !tmp.path().join("migrations").exists(),
        "a second init made ./migrations"
    );
    let r = run_in(tmp.path(), &["new", "first"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        std::fs::read_dir(tmp.path().join("db/migrations"))
            .expect("dir")
            .count(),
        1
    );

    // With --config elsewhere, `dir` is recorded as seen from the config file.
    let tmp = tempfile::tempdir().expect("tmp");
    let r = run_in(
        tmp.path(),
        &[
            "--config",
            "conf/backstop.toml",
            "--dir",
            "db/migrations",
            "init",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let toml = std::fs::read_to_string(tmp.path().join("conf/backstop.toml")).expect("toml");
    assert!(toml.contains("dir = \"../db/migrations\""), "{toml}");
    let again = run_in(
        tmp.path(),
        &["--config", "conf/backstop.toml", "--format", "json", "init"],
    );
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.json()["created"], serde_json::json!([]), "{again:?}");
    assert!(!tmp.path().join("conf/migrations").exists());
}

#[test]
fn init_refuses_a_migrations_file_before_creating_anything() {
    // Regression: with a file named `migrations`, init wrote backstop.toml and then failed
    // telling the user to run init.
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(tmp.path().join("migrations"), "not a folder").expect("write");
    let r = run_in(tmp.path(), &["init"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("migrations exists and is not a directory"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("run `backstop init`"), "{r:?}");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).expect("dir").collect();
    assert_eq!(left.len(), 1, "init changed the folder: {left:?}");
}

#[test]
fn init_refuses_a_config_directory_like_a_migrations_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::create_dir(tmp.path().join("backstop.toml")).expect("mkdir");
    let r = run_in(tmp.path(), &["init"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("backstop.toml exists and is not a file; nothing was created (move it away"),
        "{r:?}"
    );
    let left: Vec<_> = std::fs::read_dir(tmp.path()).expect("dir").collect();
    assert_eq!(left.len(), 1, "init changed the folder: {left:?}");
}

#[test]
fn init_and_new_print_paths_as_data_in_json() {
    // Regression: `--format json` init/new printed prose lines in `created`.
    let tmp = tempfile::tempdir().expect("tmp");
    let r = run_in(tmp.path(), &["--format", "json", "init"]);
    assert_eq!(r.code, 0, "{r:?}");
    let j = r.json();
    assert_eq!(
        j["created"],
        serde_json::json!(["backstop.toml", "migrations", "backstop.sum"])
    );
    assert_eq!(j["existing"], serde_json::json!([]));
    assert!(
        j["next"]
            .as_str()
            .is_some_and(|n| n.contains("backstop new")),
        "{j}"
    );
    let j = run_in(tmp.path(), &["--format", "json", "init"]).json();
    assert_eq!(j["created"], serde_json::json!([]));
    assert_eq!(
        j["existing"],
        serde_json::json!(["backstop.toml", "migrations", "backstop.sum"])
    );

    let r = run_in(tmp.path(), &["--format", "json", "new", "Add Users"]);
    assert_eq!(r.code, 0, "{r:?}");
    let j = r.json();
    let version = j["version"].as_i64().expect("version");
    assert_eq!(j["name"], "add_users");
    let folder = format!("migrations/{version}_add_users");
    assert_eq!(j["path"], folder.as_str());
    let files: Vec<String> = ["up.sql", "down.sql", "verify.sql", "migration.toml"]
        .iter()
        .map(|f| format!("{folder}/{f}"))
        .collect();
    assert_eq!(j["created"], serde_json::json!(files));
    for f in &files {
        assert!(tmp.path().join(f).is_file(), "{f}");
    }
    let j = run_in(
        tmp.path(),
        &["--format", "json", "new", "seed", "--single-file"],
    )
    .json();
    let file = format!("migrations/{}_seed.sql", j["version"]);
    assert_eq!(j["path"], file.as_str());
    assert_eq!(j["created"], serde_json::json!([file]));
    assert!(
        j["next"]
            .as_str()
            .is_some_and(|n| n.contains("backstop sum")),
        "{j}"
    );
}

#[test]
fn new_templates_describe_how_the_migration_runs() {
    // Regression: a `transaction = false` up.sql said it ran in one transaction, and the
    // single-file verify section said to delete "this file".
    let tmp = tempfile::tempdir().expect("tmp");
    assert_eq!(run_in(tmp.path(), &["init"]).code, 0);
    let j = run_in(
        tmp.path(),
        &["--format", "json", "new", "idx", "--no-transaction"],
    )
    .json();
    let dir = tmp.path().join(j["path"].as_str().expect("path"));
    let up = std::fs::read_to_string(dir.join("up.sql")).expect("up");
    assert!(
        !up.contains("one transaction") && up.contains("outside a transaction"),
        "{up}"
    );
    let verify = std::fs::read_to_string(dir.join("verify.sql")).expect("verify");
    assert!(verify.contains("Delete this file"), "{verify}");
    let j = run_in(
        tmp.path(),
        &["--format", "json", "new", "seed", "--single-file"],
    )
    .json();
    let text =
        std::fs::read_to_string(tmp.path().join(j["path"].as_str().expect("path"))).expect("sql");
    assert!(
        text.contains("Delete this section") && !text.contains("Delete this file"),
        "{text}"
    );
    assert!(text.contains("in one transaction"), "{text}");
}

#[test]
fn the_actor_is_the_effective_user_when_user_and_logname_are_unset() {
    // Regression: without $USER and $LOGNAME (cron, containers) history and the ledger
    // recorded the actor "unknown".
    let p = Project::new();
    let db = Db::new(Kind::Sqlite);
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);\n",
        Some("DROP TABLE t;\n"),
        None,
        None,
    );
    let id = |flag: &str| {
        let out = Command::new("id").arg(flag).output().expect("id");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let (name, uid) = (id("-un"), id("-u"));
    let run = |args: &[&str]| {
        p.cmd(&db, args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .expect("run")
    };
    let out = run(&["apply"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = run(&["--format", "json", "audit", "log"]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let actor = j["events"][0]["actor"].as_str().expect("actor").to_string();
    assert_ne!(actor, "unknown");
    assert!(
        actor == name || actor == format!("uid:{uid}"),
        "{actor} is neither {name} nor uid:{uid}"
    );
}

#[test]
fn verify_fails_without_backstop_sum_when_the_config_requires_one() {
    // Regression: with require_sum = true and no backstop.sum, verify said "all checks
    // passed" while apply refused.
    let p = Project::new();
    let db = Db::new(Kind::Sqlite);
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);\n",
        Some("DROP TABLE t;\n"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    std::fs::write(p.tmp.path().join("backstop.toml"), "require_sum = true\n").expect("toml");
    let r = p.run(&db, &["verify"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stdout.contains("FAIL backstop.sum") && r.stdout.contains("require_sum"),
        "{r:?}"
    );
    assert!(!r.stdout.contains("all checks passed"), "{r:?}");
    assert_eq!(p.run(&db, &["apply"]).code, 3, "apply refuses the same way");
    p.ok(&db, &["sum"]);
    p.ok(&db, &["verify"]);
}

#[test]
fn verify_on_a_database_backstop_never_migrated_says_there_is_no_history() {
    // Regression: verify on a database with no backstop history said "all checks passed",
    // as if applied migrations had been checked.
    let p = Project::new();
    let db = Db::new(Kind::Sqlite);
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);\n",
        Some("DROP TABLE t;\n"),
        None,
        None,
    );
    db.exec("CREATE TABLE legacy (id INTEGER)");
    let r = p.ok(&db, &["verify"]);
    assert!(!r.stdout.contains("all checks passed"), "{r:?}");
    assert!(r.stdout.contains("no backstop history"), "{r:?}");
    let j = p.ok(&db, &["--format", "json", "verify"]).json();
    assert_eq!(j["history_exists"], false);
    assert_eq!(j["checks"][0]["name"], "history");
    assert!(
        !j["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .any(|c| c["name"] == "checksums"),
        "{j}"
    );
}

#[test]
fn status_and_verify_work_from_history_when_the_migrations_folder_is_gone() {
    // On a server that has the database but not the project, status and verify still say
    // what is applied and re-run the stored verify scripts, as rollback works from history.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);",
        Some("DROP TABLE t;"),
        Some("SELECT count(*) >= 0 FROM t;"),
        None,
    );
    p.ok(&db, &["sum"]);
    p.ok(&db, &["apply", "--release", "r7"]);
    let r = p.ok(&db, &["status"]);
    assert!(
        r.stdout.contains("release r7"),
        "text status names the release: {r:?}"
    );
    std::fs::remove_dir_all(p.dir()).expect("rm");
    let r = p.ok(&db, &["--format", "json", "status"]);
    let st = r.json();
    assert_eq!(st["applied"], 1, "{st}");
    assert_eq!(st["migrations"][0]["missing_file"], true, "{st}");
    assert!(
        st["warnings"].to_string().contains("does not exist"),
        "{st}"
    );
    assert!(
        st["sum"].is_null(),
        "no files to compare the sum with: {st}"
    );
    let r = p.ok(&db, &["--format", "json", "verify"]);
    let j = r.json();
    assert_eq!(j["ok"], true, "{j}");
    let checks = j["checks"].as_array().expect("checks");
    assert!(
        checks.iter().any(|c| c["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("verify 1"))
            && c["ok"] == true),
        "the stored verify script ran: {j}"
    );
    assert!(
        checks.iter().any(|c| c["name"] == "checksums"
            && c["detail"]
                .as_str()
                .is_some_and(|d| d.contains("not compared"))),
        "{j}"
    );
}

#[test]
fn verify_says_which_applied_migrations_have_no_file_and_plan_shows_no_limit_as_none() {
    let db = Db::new(Kind::Sqlite);
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
        Some("lock_timeout = \"0s\"\n"),
    );
    let r = p.ok(&db, &["plan"]);
    assert!(r.stdout.contains("lock_timeout none"), "{r:?}");
    p.ok(&db, &["apply"]);
    std::fs::remove_dir_all(p.dir().join("2_b")).expect("rm");
    let r = p.run(&db, &["verify"]);
    assert!(
        r.stdout.contains("except [2], which have no files here"),
        "{r:?}"
    );
}

#[test]
fn warnings_go_to_stderr_in_json_mode_too() {
    // Regression: status, plan, apply and rollback put their warnings only inside the JSON
    // document; a script watching stderr missed them.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id INTEGER);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    // Drift: every reading command warns of it.
    db.exec("CREATE TABLE hand (id INTEGER)");
    for args in [
        &["--format", "json", "status"][..],
        &["--format", "json", "plan"],
    ] {
        let r = p.ok(&db, args);
        let j = r.json();
        let w = j["warnings"].as_array().expect("warnings");
        assert!(!w.is_empty(), "{args:?}: {j}");
        assert!(r.stderr.contains("warning: "), "{args:?}: {r:?}");
    }
    let r = p.ok(
        &db,
        &[
            "--format",
            "json",
            "rollback",
            "--allow-drift",
            "--reason",
            "hand is fine",
        ],
    );
    assert!(r.stderr.contains("warning: schema drift accepted"), "{r:?}");
}

#[test]
fn sum_and_lint_name_every_migration_left_as_an_empty_template() {
    // Regression: with several templates from `backstop new` still empty, `sum` and `lint`
    // named only the first, so they were found one run at a time.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["new", "add_a"]);
    p.ok(&db, &["new", "add_b"]);
    p.ok(&db, &["new", "add_c", "--single-file"]);
    let mut made: Vec<_> = std::fs::read_dir(p.dir())
        .expect("ls")
        .map(|e| e.expect("entry").path())
        .filter(|m| !m.ends_with("1_t"))
        .collect();
    made.sort();
    let empty: Vec<String> = made
        .into_iter()
        .flat_map(|m| {
            if m.is_dir() {
                ["up.sql", "down.sql", "verify.sql"]
                    .map(|f| m.join(f).display().to_string())
                    .to_vec()
            } else {
                vec![m.display().to_string()]
            }
        })
        .collect();
    assert_eq!(empty.len(), 7, "{empty:?}");
    for args in [&["sum"][..], &["lint"]] {
        let r = p.run(&db, args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(
            r.stderr
                .contains("7 migration scripts are empty (no SQL statement); nothing was run:\n"),
            "{args:?}: {r:?}"
        );
        // Each on a line of its own, in order.
        let at: Vec<usize> = empty
            .iter()
            .map(|f| {
                r.stderr
                    .find(&format!("\n  {f}\n"))
                    .unwrap_or_else(|| panic!("{args:?}: {f} not named: {r:?}"))
            })
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{args:?}: {r:?}");
        assert!(
            r.stderr.contains("next: write the migrations' SQL in them, or delete the migrations that are not wanted"),
            "{args:?}: {r:?}"
        );
        // The same kind of failure whichever command met it: the migrations are input.
        let j = p.run(&db, &[&["--format", "json"][..], args].concat());
        assert_eq!(j.code, 2, "{args:?}: {j:?}");
        let doc: serde_json::Value = serde_json::from_str(&j.stdout).expect("json");
        assert_eq!(doc["kind"], "input", "{args:?}: {j:?}");
    }
    // Written or deleted in one go, the directory loads.
    for f in &empty {
        let f = std::path::Path::new(f);
        match f.file_name().and_then(|n| n.to_str()) {
            Some("up.sql" | "down.sql") => std::fs::write(f, "SELECT 1;").expect("write"),
            // verify.sql is optional; the single-file one is not wanted.
            _ => std::fs::remove_file(f).expect("rm"),
        }
    }
    p.ok(&db, &["sum"]);
    p.ok(&db, &["lint"]);
}

#[test]
fn lint_of_one_migration_folder_or_file_names_its_empty_scripts_as_lint_of_the_directory_does() {
    // Regression: `lint FOLDER` (or a script of it) read the folder on its own and found
    // nothing to say about a `backstop new` template left empty, while `lint` of the whole
    // directory refused it.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_t",
        "CREATE TABLE t (id INTEGER);",
        Some("DROP TABLE t;"),
        None,
        None,
    );
    p.ok(&db, &["new", "add_a"]);
    let folder = std::fs::read_dir(p.dir())
        .expect("ls")
        .map(|e| e.expect("entry").path())
        .find(|m| !m.ends_with("1_t"))
        .expect("the template");
    let whole = p.run(&db, &["lint"]);
    assert_eq!(whole.code, 2, "{whole:?}");
    let listed: String = ["up.sql", "down.sql", "verify.sql"]
        .map(|f| format!("\n  {}", folder.join(f).display()))
        .concat();
    assert!(
        whole.stderr.contains(&format!(
            "3 migration scripts are empty (no SQL statement); nothing was run:{listed}\n"
        )),
        "{whole:?}"
    );
    for path in [
        folder.clone(),
        folder.join("up.sql"),
        folder.join("down.sql"),
        folder.join("verify.sql"),
    ] {
        let r = p.run(&db, &["lint", &path.display().to_string()]);
        assert_eq!((r.code, &r.stderr), (whole.code, &whole.stderr), "{path:?}");
        assert!(!r.stdout.contains("no findings"), "{path:?}: {r:?}");
    }
    // Written, the folder lints.
    for f in ["up.sql", "down.sql"] {
        std::fs::write(folder.join(f), "SELECT 1;").expect("write");
    }
    std::fs::remove_file(folder.join("verify.sql")).expect("rm");
    p.ok(&db, &["lint", &folder.display().to_string()]);
}

#[test]
fn an_empty_verify_sql_on_its_own_is_advised_as_an_optional_check() {
    // Regression: a migration whose only empty script was its verify.sql was told to
    // "write the migration's SQL in it, or delete the migration", though only the check is
    // missing and a migration needs no verify.sql.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    let a = p.add(
        "1_a",
        "CREATE TABLE a (id INTEGER);",
        Some("DROP TABLE a;"),
        Some("-- Checks that must hold after the change.\n"),
        None,
    );
    let verify = a.join("verify.sql").display().to_string();
    for args in [&["sum"][..], &["lint"], &["lint", &verify], &["apply"]] {
        let r = p.run(&db, args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(
            r.stderr.contains(&format!("{verify}: is empty (no SQL statement): write a check in it (a query whose rows' first column must be true), or delete the verify.sql if there is nothing to check (a migration without verify.sql is allowed); nothing was run")),
            "{args:?}: {r:?}"
        );
        assert!(
            !r.stderr.contains("delete the migration"),
            "{args:?}: {r:?}"
        );
    }
    // Several, and only verify.sql files: the same advice for each.
    let b = p.add(
        "2_b",
        "CREATE TABLE b (id INTEGER);",
        Some("DROP TABLE b;"),
        Some(""),
        None,
    );
    let r = p.run(&db, &["sum"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "2 migration scripts are empty (no SQL statement); nothing was run:\n  {verify}\n  {}\n  next: write a check in each, or delete the verify.sql files with nothing to check (a migration without verify.sql is allowed)",
            b.join("verify.sql").display()
        )),
        "{r:?}"
    );
    assert!(!r.stderr.contains("delete the migrations"), "{r:?}");
    // Deleted, the migrations apply.
    std::fs::remove_file(a.join("verify.sql")).expect("rm");
    std::fs::remove_file(b.join("verify.sql")).expect("rm");
    p.ok(&db, &["apply"]);
}
