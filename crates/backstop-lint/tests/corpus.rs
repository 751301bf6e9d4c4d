//! Every file of tests/lint-corpus is a realistic single-file migration. Files under `ok/`
//! must produce no error or warning; files under `err/` name, on their first line
//! (`-- expect: rule-a, rule-b`), exactly the rules whose errors or warnings they produce.
//! A `-- engine: sqlite|mysql` line selects the engine (PostgreSQL by default).

use backstop_core::driver::Engine;
use backstop_lint::{lint_migrations, render_text, LintOptions, Severity};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn corpus(dir: &str) -> Vec<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/lint-corpus")
        .join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    v.sort();
    v
}

fn header(text: &str, key: &str) -> Option<String> {
    text.lines()
        .take_while(|l| !l.trim().eq_ignore_ascii_case("-- backstop:up"))
        .find_map(|l| {
            l.trim()
                .strip_prefix(&format!("-- {key}:"))
                .map(|v| v.trim().to_string())
        })
}

/// Lint one corpus file as a migration; returns the rules with active errors/warnings and the text output.
fn lint(path: &Path) -> (BTreeSet<String>, String) {
    let text = std::fs::read_to_string(path).expect("read");
    let engine = match header(&text, "engine").as_deref() {
        Some("sqlite") => Engine::Sqlite,
        Some("mysql") => Engine::Mysql,
        _ => Engine::Postgres,
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let name = path.file_name().expect("name");
    std::fs::copy(path, tmp.path().join(name)).expect("copy");
    let migrations = backstop_core::migration::load_dir(tmp.path())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let report = lint_migrations(
        &migrations,
        &LintOptions {
            engine,
            deny_warnings: false,
            allow: vec![],
        },
    );
    let rules = report
        .findings
        .iter()
        .filter(|f| f.suppressed.is_none() && f.severity != Severity::Info)
        .map(|f| f.rule.to_string())
        .collect();
    (rules, render_text(&report))
}

#[test]
fn ok_corpus_has_no_errors_or_warnings() {
    let files = corpus("ok");
    assert!(files.len() >= 10);
    for f in files {
        let (rules, out) = lint(&f);
        assert!(
            rules.is_empty(),
            "{}: unexpected {rules:?}\n{out}",
            f.display()
        );
    }
}

#[test]
fn err_corpus_finds_exactly_the_expected_rules() {
    let files = corpus("err");
    assert!(files.len() >= 10);
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        let expect: BTreeSet<String> = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("-- expect:"))
            .unwrap_or_else(|| panic!("{}: first line must be `-- expect: rule, …`", f.display()))
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        for id in &expect {
            assert!(
                backstop_lint::rules().iter().any(|r| r.id == id),
                "{}: unknown rule {id}",
                f.display()
            );
        }
        let (rules, out) = lint(&f);
        assert_eq!(rules, expect, "{}:\n{out}", f.display());
    }
}

#[test]
fn findings_point_into_the_single_file() {
    // Regression guard: single-file sections start after their marker line, and findings
    // must carry the line in the file, not in the section.
    let f = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/lint-corpus/err/101_index_on_busy_table.sql");
    let (_, out) = lint(&f);
    assert!(out.contains("101_index_on_busy_table.sql:3:1"), "{out}");
}
