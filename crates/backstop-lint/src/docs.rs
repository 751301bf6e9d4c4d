//! `docs/rules/*.md`, generated from the registry so the pages can't drift from the code.
//! `BACKSTOP_UPDATE_DOCS=1 cargo test -p backstop-lint docs` rewrites them; the test fails
//! when a page is out of date.

use crate::rules::Rule;
#[cfg(test)]
use crate::rules::RULES;
#[cfg(test)]
use backstop_core::driver::Engine;
#[cfg(test)]
use std::path::PathBuf;

fn engines(r: &Rule) -> String {
    r.info
        .engines
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn page(r: &Rule) -> String {
    let i = &r.info;
    format!(
        "# `{id}`\n\n**Severity:** {sev} · **Category:** {cat} · **Engines:** {eng}\n\n{summary}.\n\n{body}\n\n## Suppress\n\nFor one statement, on the line(s) right before it:\n\n```sql\n-- backstop:allow {id} <why this is safe here>\n```\n\nFor a whole `apply`: `backstop apply --allow {id} --reason \"…\"` (recorded in the audit ledger).\n",
        id = i.id,
        sev = i.severity,
        cat = i.category,
        eng = engines(r),
        summary = i.summary,
        body = r.docs.trim(),
    )
}

#[cfg(test)]
pub(crate) fn index() -> String {
    let mark = |r: &Rule, e: Engine| {
        if r.info.engines.contains(&e) {
            "✓"
        } else {
            ""
        }
    };
    let mut s = String::from(
        "# Lint rules\n\n\
`backstop lint` (and the lint gate of `apply` and `plan`) checks migrations for changes that lock or rewrite busy tables, destroy data, break running code, behave differently between rehearsal and production, fight the transaction backstop opens, or can't be rolled back.\n\n\
## How each engine is analysed\n\n\
- **PostgreSQL**: every script is parsed with libpg_query, PostgreSQL's own grammar (the `pg_query` crate). All rules below marked for PostgreSQL run, with exact positions. Lock levels follow the PostgreSQL documentation (\"Explicit Locking\", ALTER TABLE notes); backstop supports PostgreSQL 12+.\n\
- **SQLite** and **MySQL/MariaDB**: scripts are read by a tokenizer that recognises the statement shapes the rules need (CREATE/ALTER/DROP TABLE and INDEX, RENAME, DELETE, UPDATE, INSERT, transaction control, PRAGMA, SET). It does not validate grammar, so the only syntax errors it reports are lexical ones and unbalanced parentheses. Only the rules marked for the engine run.\n\n\
Statements are replayed in migration order against a small schema model, so rules know which tables were created earlier in the same migration (\"new\", and free to lock), column types from earlier migrations, the views that read a column and the constraints an index backs. Objects the model has never seen are treated conservatively.\n\n\
## Severities\n\n\
- **error**: `backstop lint` exits 1; `apply` refuses (exit 3) unless `--allow RULE --reason TEXT`.\n\
- **warning**: reported; fails only with `--deny warnings`.\n\
- **info**: advice; never fails.\n\n\
## Suppressing a finding\n\n\
```sql\n-- backstop:allow create-index-non-concurrently users holds 300 rows\nCREATE INDEX users_email_idx ON users (email);\n```\n\n\
The comment applies to the next statement (or to the statement whose last line it trails). The reason is required and appears in the output as `suppressed: <reason>`. A suppression without a reason, naming an unknown rule, or suppressing nothing is reported as [`invalid-suppression`](invalid-suppression.md).\n\n\
## Rules\n\n\
| rule | severity | category | PostgreSQL | SQLite | MySQL/MariaDB | summary |\n|---|---|---|:-:|:-:|:-:|---|\n",
    );
    for r in RULES {
        s.push_str(&format!(
            "| [`{id}`]({id}.md) | {sev} | {cat} | {pg} | {sq} | {my} | {sum} |\n",
            id = r.info.id,
            sev = r.info.severity,
            cat = r.info.category,
            pg = mark(r, Engine::Postgres),
            sq = mark(r, Engine::Sqlite),
            my = mark(r, Engine::Mysql),
            sum = r.info.summary.replace('|', "\\|"),
        ));
    }
    s
}

#[cfg(test)]
pub(crate) fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_are_up_to_date() {
        let dir = dir();
        let mut want: Vec<(PathBuf, String)> = RULES
            .iter()
            .map(|r| (dir.join(format!("{}.md", r.info.id)), page(r)))
            .collect();
        want.push((dir.join("README.md"), index()));
        if std::env::var_os("BACKSTOP_UPDATE_DOCS").is_some() {
            std::fs::create_dir_all(&dir).expect("create docs/rules");
            for (p, text) in &want {
                std::fs::write(p, text).expect("write doc page");
            }
            return;
        }
        let stale: Vec<String> = want
            .iter()
            .filter(|(p, text)| std::fs::read_to_string(p).ok().as_deref() != Some(text.as_str()))
            .map(|(p, _)| p.display().to_string())
            .collect();
        assert!(
            stale.is_empty(),
            "out of date (run BACKSTOP_UPDATE_DOCS=1 cargo test -p backstop-lint docs): {stale:?}"
        );
    }
}
