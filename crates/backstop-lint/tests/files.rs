//! lint_files: every kind of path, the output formats and the options, end to end.

use backstop_core::driver::Engine;
use backstop_lint::{
    lint_files, render_github, render_json, render_sarif_with_docs, render_text, LintError,
    LintOptions, Severity,
};
use std::path::Path;

fn write(p: &Path, text: &str) {
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    std::fs::write(p, text).expect("write");
}

fn fixture() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    let m = d.path().join("migrations");
    write(
        &m.join("20260101000000_users/up.sql"),
        "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
    );
    write(
        &m.join("20260101000000_users/down.sql"),
        "DROP TABLE users;\n",
    );
    write(
        &m.join("20260102000000_index/up.sql"),
        "CREATE INDEX users_email_idx ON users (email);\n",
    );
    write(
        &m.join("20260102000000_index/down.sql"),
        "DROP INDEX users_email_idx;\n",
    );
    write(
        &m.join("20260102000000_index/migration.toml"),
        "lock_timeout = \"2s\"\n",
    );
    write(
        &m.join("20260103000000_drop.sql"),
        "-- lock_timeout = \"2s\"\n-- backstop:up\nALTER TABLE users DROP COLUMN email;\n-- backstop:down\nALTER TABLE users ADD COLUMN email text;\n",
    );
    d
}

fn rules_of(r: &backstop_lint::LintReport) -> Vec<&'static str> {
    let mut v: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .map(|f| f.rule)
        .collect();
    v.dedup();
    v
}

#[test]
fn migrations_dir_replays_in_order() {
    let d = fixture();
    let r = lint_files(&[d.path().join("migrations")], &LintOptions::default()).expect("lint");
    // users exists by the second migration, so its index is on an existing table.
    assert_eq!(
        rules_of(&r),
        [
            "create-index-non-concurrently",
            "data-loss-without-contract"
        ],
        "{}",
        render_text(&r)
    );
    let drop = r
        .findings
        .iter()
        .find(|f| f.rule == "data-loss-without-contract")
        .expect("finding");
    assert_eq!(
        (drop.line, drop.column, drop.version),
        (3, 1, Some(20260103000000))
    );
    assert!(drop.file.ends_with("20260103000000_drop.sql"));
    // Two folders of two scripts, and one single-file migration.
    assert_eq!(r.files, 5);
    assert_eq!(r.statements, 6);
}

#[test]
fn folder_file_and_plain_paths() {
    let d = fixture();
    let folder = d.path().join("migrations/20260102000000_index");
    let by_folder =
        lint_files(std::slice::from_ref(&folder), &LintOptions::default()).expect("folder");
    let by_file = lint_files(
        &[folder.join("up.sql"), folder.join("down.sql")],
        &LintOptions::default(),
    )
    .expect("file");
    assert_eq!(render_text(&by_folder), render_text(&by_file));
    assert_eq!(by_folder.files, 2);
    let plain = d.path().join("adhoc.sql");
    write(&plain, "UPDATE users SET email = NULL;\n");
    let r = lint_files(&[plain], &LintOptions::default()).expect("plain");
    assert!(rules_of(&r).contains(&"update-without-where"));
    assert!(matches!(
        lint_files(&[d.path().join("nope")], &LintOptions::default()),
        Err(LintError::NotFound { .. })
    ));
}

#[test]
fn allow_and_deny_warnings() {
    let d = fixture();
    let dir = d.path().join("migrations");
    let allow = LintOptions {
        engine: Engine::Postgres,
        deny_warnings: false,
        allow: vec![("create-index-non-concurrently".into(), "tiny table".into())],
    };
    let r = lint_files(std::slice::from_ref(&dir), &allow).expect("lint");
    let f = r
        .findings
        .iter()
        .find(|f| f.rule == "create-index-non-concurrently")
        .expect("still reported");
    assert_eq!(f.suppressed.as_deref(), Some("tiny table"));
    assert!(render_text(&r).contains("= suppressed: tiny table"));
    assert_eq!(r.errors, 1);
    let deny = LintOptions {
        deny_warnings: true,
        ..LintOptions::default()
    };
    let r = lint_files(&[dir], &deny).expect("lint");
    assert!(r.findings.iter().all(|f| f.severity != Severity::Warning));
}

#[test]
fn output_formats() {
    let d = fixture();
    let r = lint_files(&[d.path().join("migrations")], &LintOptions::default()).expect("lint");
    let json: serde_json::Value = serde_json::from_str(&render_json(&r)).expect("json");
    assert_eq!(json["errors"], 2);
    assert!(json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .all(|f| ["up", "down", "verify"].contains(&f["part"].as_str().unwrap_or(""))));
    let sarif: serde_json::Value = serde_json::from_str(&render_sarif_with_docs(
        &r,
        Some("https://example.org/backstop/blob/main"),
    ))
    .expect("sarif");
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rule = &run["tool"]["driver"]["rules"][0];
    assert!(rule["helpUri"]
        .as_str()
        .expect("helpUri")
        .starts_with("https://example.org/backstop/blob/main/docs/rules/"));
    assert!(rule["defaultConfiguration"]["level"].is_string());
    let res = &run["results"][0];
    assert!(
        res["locations"][0]["physicalLocation"]["region"]["startLine"]
            .as_u64()
            .is_some()
    );
    assert!(
        !res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .expect("uri")
            .contains(' ')
    );
    let gh = render_github(&r);
    assert!(
        gh.lines().all(|l| l.starts_with("::error file=")
            || l.starts_with("::warning file=")
            || l.starts_with("::notice file=")),
        "{gh}"
    );
    assert!(gh.contains(",title=create-index-non-concurrently::"));
}

/// The example project lints without errors on both engines: its risky statements carry
/// reasoned suppressions, which the report shows.
#[test]
fn shop_example_has_no_unsuppressed_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop/migrations");
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let r = lint_files(
            std::slice::from_ref(&dir),
            &LintOptions {
                engine,
                deny_warnings: false,
                allow: vec![],
            },
        )
        .expect("lint");
        assert_eq!(r.errors, 0, "{engine}:\n{}", render_text(&r));
        assert!(
            r.suppressed >= 1,
            "{engine}: the rename is suppressed with a reason"
        );
        assert!(
            render_text(&r).contains("suppressed: the storefront release"),
            "{engine}"
        );
    }
}

/// A migration folder that the migrations loader refuses, built by `make` in `dir/2_x`
/// (next to a good `1_ok`), and the path lint is given for it.
struct Refused {
    what: &'static str,
    make: fn(&Path),
    /// Relative to the migrations directory.
    lint: &'static str,
}

fn scripts(d: &Path, up: bool, down: bool) {
    std::fs::create_dir_all(d).expect("mkdir");
    if up {
        write(&d.join("up.sql"), "SELECT 1;\n");
    }
    if down {
        write(&d.join("down.sql"), "SELECT 1;\n");
    }
}

fn with_toml(d: &Path, toml: &str) {
    scripts(d, true, true);
    write(&d.join("migration.toml"), toml);
}

fn refused_cases() -> Vec<Refused> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::symlink;
    let case = |what, make, lint| Refused { what, make, lint };
    vec![
        case("up.sql missing", |d| scripts(d, false, true), "2_x"),
        case(
            "up.sql missing, down.sql named",
            |d| scripts(d, false, true),
            "2_x/down.sql",
        ),
        case(
            "up.sql is a folder",
            |d| {
                scripts(d, false, true);
                std::fs::create_dir(d.join("up.sql")).expect("mkdir");
            },
            "2_x",
        ),
        case("down.sql missing", |d| scripts(d, true, false), "2_x"),
        case(
            "down.sql missing, up.sql named",
            |d| scripts(d, true, false),
            "2_x/up.sql",
        ),
        case(
            "non-UTF-8 up.sql",
            |d| {
                scripts(d, false, true);
                std::fs::write(d.join("up.sql"), b"SELECT '\xff';\n").expect("write");
            },
            "2_x",
        ),
        case(
            "non-UTF-8 verify.sql",
            |d| {
                scripts(d, true, true);
                std::fs::write(d.join("verify.sql"), b"SELECT '\xff';\n").expect("write");
            },
            "2_x/up.sql",
        ),
        case("invalid TOML", |d| with_toml(d, "lock_timeout =\n"), "2_x"),
        case(
            "unknown key",
            |d| with_toml(d, "lock_timout = \"2s\"\n"),
            "2_x",
        ),
        case(
            "bad lock_timeout",
            |d| with_toml(d, "lock_timeout = \"a while\"\n"),
            "2_x",
        ),
        case(
            "bad statement_timeout",
            |d| with_toml(d, "statement_timeout = \"soon\"\n"),
            "2_x/migration.toml",
        ),
        case(
            "bad contract.max_lock",
            |d| with_toml(d, "[contract]\nmax_lock = \"brief\"\n"),
            "2_x",
        ),
        case(
            "irreversible without a reason",
            |d| {
                scripts(d, true, false);
                write(&d.join("migration.toml"), "irreversible = true\n");
            },
            "2_x",
        ),
        case(
            "irreversible with a blank reason",
            |d| {
                scripts(d, true, false);
                write(
                    &d.join("migration.toml"),
                    "irreversible = true\nreason = \" \"\n",
                );
            },
            "2_x",
        ),
        case(
            "unexpected file",
            |d| {
                scripts(d, true, true);
                write(&d.join("notes.txt"), "todo\n");
            },
            "2_x",
        ),
        case(
            "dangling down.sql",
            |d| {
                scripts(d, true, false);
                symlink("gone.sql", d.join("down.sql")).expect("symlink");
            },
            "2_x",
        ),
        case(
            "dangling verify.sql",
            |d| {
                scripts(d, true, true);
                symlink("/nowhere/check.sql", d.join("verify.sql")).expect("symlink");
            },
            "2_x/up.sql",
        ),
        case(
            "non-UTF-8 file name in the folder",
            |d| {
                scripts(d, true, true);
                let name = std::ffi::OsStr::from_bytes(b"n\xffx.sql");
                write(&d.join(name), "SELECT 1;\n");
            },
            "2_x",
        ),
    ]
}

/// Lint refuses a migration folder the loader refuses (`status`, `apply`, `sum`), whether
/// the folder, one of its files or the whole directory is named, with the loader's error.
#[test]
fn a_folder_the_loader_refuses_is_refused_alike() {
    // Every case is tried, and every one that goes wrong is said.
    let mut wrong = Vec::new();
    for c in refused_cases() {
        let d = tempfile::tempdir().expect("tempdir");
        let dir = d.path().join("migrations");
        scripts(&dir.join("1_ok"), true, true);
        (c.make)(&dir.join("2_x"));
        let loader = match backstop_core::migration::load_dir(&dir) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{}: the loader takes it", c.what),
        };
        for (named, inside) in [
            (dir.join(c.lint), Some(dir.as_path())),
            (dir.join(c.lint), None),
        ] {
            let what = format!(
                "{} (lint {}, in --dir: {})",
                c.what,
                c.lint,
                inside.is_some()
            );
            match backstop_lint::lint_files_in(
                std::slice::from_ref(&named),
                inside,
                &LintOptions::default(),
            ) {
                Err(LintError::Load(e)) if e.to_string() == loader => {}
                Err(e) => wrong.push(format!("{what}: {e}\n  the loader: {loader}")),
                Ok(r) => wrong.push(format!("{what}: linted: {}", render_text(&r).trim())),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A folder's name must be a version, in UTF-8, as the loader wants it, wherever the folder
/// is.
#[test]
fn a_folder_name_without_a_usable_version_is_refused() {
    use std::os::unix::ffi::OsStrExt;
    let names: [&[u8]; 4] = [
        b"x_no_version",
        b"0_zero",
        b"99999999999999999999_too_large",
        b"2_\xff",
    ];
    for name in names {
        let name = std::ffi::OsStr::from_bytes(name);
        let d = tempfile::tempdir().expect("tempdir");
        let dir = d.path().join("migrations");
        scripts(&dir.join(name), true, true);
        let loader = backstop_core::migration::load_dir(&dir)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            loader.starts_with(&dir.join(name).display().to_string()),
            "{loader}"
        );
        for named in [dir.join(name), dir.join(name).join("up.sql")] {
            match lint_files(std::slice::from_ref(&named), &LintOptions::default()) {
                Err(LintError::Load(e)) => assert_eq!(e.to_string(), loader),
                other => panic!("{}: {:?}", named.display(), other.map(|r| render_text(&r))),
            }
        }
    }
}

/// Two migrations with one version: refused when both are named, and when the one named
/// shares its version with another in the migrations directory, as the loader does.
#[test]
fn a_version_used_twice_is_refused() {
    let d = tempfile::tempdir().expect("tempdir");
    let dir = d.path().join("migrations");
    scripts(&dir.join("2_x"), true, true);
    scripts(&dir.join("2_y"), true, true);
    let loader = backstop_core::migration::load_dir(&dir)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(loader.contains("version 2 is also used by"), "{loader}");
    let both = [dir.join("2_x"), dir.join("2_y")];
    for inside in [Some(dir.as_path()), None] {
        match backstop_lint::lint_files_in(&both, inside, &LintOptions::default()) {
            Err(LintError::Load(e)) => assert_eq!(e.to_string(), loader),
            other => panic!("{:?}", other.map(|r| render_text(&r))),
        }
    }
    // One named, the other beside it in the migrations directory.
    match backstop_lint::lint_files_in(&both[1..], Some(&dir), &LintOptions::default()) {
        Err(LintError::Load(e)) => assert_eq!(e.to_string(), loader),
        other => panic!("{:?}", other.map(|r| render_text(&r))),
    }
    // Elsewhere, the folder is read on its own.
    let other = tempfile::tempdir().expect("tempdir");
    let r = backstop_lint::lint_files_in(
        &both[1..],
        Some(&other.path().join("m")),
        &LintOptions::default(),
    );
    assert!(r.is_ok(), "{:?}", r.err().map(|e| e.to_string()));
}

/// A plain .sql file that is not UTF-8: the loader's message, saying where.
#[test]
fn a_plain_script_that_is_not_utf8_says_where() {
    let d = tempfile::tempdir().expect("tempdir");
    let f = d.path().join("adhoc.sql");
    std::fs::write(&f, b"SELECT 1;\nSELECT '\xff';\n").expect("write");
    match lint_files(std::slice::from_ref(&f), &LintOptions::default()) {
        Err(LintError::Load(e)) => assert_eq!(
            e.to_string(),
            format!("{}: is not valid UTF-8 (at byte 18)", f.display())
        ),
        other => panic!("{:?}", other.map(|r| render_text(&r))),
    }
}
