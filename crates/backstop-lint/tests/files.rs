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
