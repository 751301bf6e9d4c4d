//! Lint every .sql file under a directory as plain scripts and print the text report to
//! stdout (as `backstop lint` would), with counts on stderr. Used by bench/lint.sh.
//!
//! `cargo run --release -p backstop-lint --example lint_bench -- DIR [postgres|sqlite|mysql]`

use backstop_core::driver::Engine;
use backstop_lint::{lint_files, render_text, LintOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

fn sql_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            sql_files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "sql") {
            out.push(p);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: lint_bench DIR [postgres|sqlite|mysql]")?,
    );
    let engine = match args.next().as_deref() {
        Some("sqlite") => Engine::Sqlite,
        Some("mysql") => Engine::Mysql,
        _ => Engine::Postgres,
    };
    let mut files = Vec::new();
    sql_files(&dir, &mut files)?;
    files.sort();
    let t = std::time::Instant::now();
    let report = lint_files(
        &files,
        &LintOptions {
            engine,
            deny_warnings: false,
            allow: vec![],
        },
    )?;
    let text = render_text(&report);
    let secs = t.elapsed().as_secs_f64();
    std::io::stdout().write_all(text.as_bytes())?;
    eprintln!(
        "files={} statements={} findings={} seconds={secs:.4}",
        report.files,
        report.statements,
        report.findings.len()
    );
    Ok(())
}
