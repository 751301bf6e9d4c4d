//! Identifiers longer than PostgreSQL's 63 bytes.

use super::prefer_timestamptz::columns;
use super::*;
use crate::ir::{AlterCmd, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "identifier-too-long",
        severity: Severity::Warning,
        summary: "Identifiers longer than 63 bytes are silently truncated by PostgreSQL",
        engines: PG,
        category: "hygiene",
    },
    check: Check::Stmt(Parts::Up, check),
    docs: r#"PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1) with only a NOTICE. Two
long names that share their first 63 bytes collide, and the name in the catalog differs
from the one in the migration, which confuses later drops and renames.

## Bad
```sql
CREATE INDEX index_on_customer_invoices_by_billing_period_and_currency_and_status ON invoices (a);
```

## Good
Keep names at most 63 bytes long."#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let mut names: Vec<String> = columns(&cx.stmt.kind)
        .into_iter()
        .map(|(_, c)| c.name.clone())
        .collect();
    match &cx.stmt.kind {
        StmtKind::CreateTable {
            table, constraints, ..
        } => {
            names.push(table.name.clone());
            names.extend(constraints.iter().filter_map(|k| k.name.clone()));
        }
        StmtKind::CreateIndex { name: Some(n), .. } => names.push(n.name.clone()),
        StmtKind::Create { name, .. } | StmtKind::CreateView { name, .. } => {
            names.push(name.name.clone())
        }
        StmtKind::Rename { new_name, .. } => names.push(new_name.clone()),
        StmtKind::AlterTable { cmds, .. } => {
            for c in cmds {
                if let AlterCmd::AddConstraint(k) = c {
                    names.extend(k.name.clone());
                }
            }
        }
        _ => {}
    }
    // The parser has already cut every name to 63 bytes, so the length is measured on the
    // identifier as written in the statement's text. A name it cut is 60–63 bytes long (a
    // cut never splits a character): without one, there is nothing to look for there.
    if names.iter().all(|n| n.len() < 60) {
        return;
    }
    let names: std::collections::HashSet<&str> = names.iter().map(String::as_str).collect();
    let src = cx.src.get(cx.stmt.span.clone()).unwrap_or("");
    let mut seen = std::collections::HashSet::new();
    for tok in crate::lex::tokenize(src, cx.engine) {
        if !matches!(tok.kind, crate::lex::Kind::Word | crate::lex::Kind::Quoted) {
            continue;
        }
        let n = tok.ident(src);
        if n.len() <= 63 {
            continue;
        }
        let cut = truncated(&n);
        if !names.contains(cut) && !names.contains(n.as_str()) {
            continue;
        }
        if !seen.insert(n.clone()) {
            continue;
        }
        out.at(
            cx.index,
            format!(
                "identifier `{n}` is {} bytes long; PostgreSQL truncates it to `{cut}`",
                n.len(),
            ),
            "Shorten the name to at most 63 bytes.",
        )
        .span(cx.stmt.span.start + tok.start..cx.stmt.span.start + tok.end);
    }
}

/// `n` cut to at most 63 bytes on a character boundary, as PostgreSQL does.
fn truncated(n: &str) -> &str {
    let mut cut = n.len().min(63);
    while !n.is_char_boundary(cut) {
        cut -= 1;
    }
    &n[..cut]
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "identifier-too-long";

    #[test]
    fn ok_short() {
        lint_ok(ID, "CREATE TABLE t (a int);");
    }

    #[test]
    fn err_long() {
        expect![[r#"
            warning[identifier-too-long]: identifier `index_on_customer_invoices_by_billing_period_and_currency_and_status` is 68 bytes long; PostgreSQL truncates it to `index_on_customer_invoices_by_billing_period_and_currency_and_s`
             --> migrations/20260101000000_m/up.sql:1:14
              |
            1 | CREATE INDEX index_on_customer_invoices_by_billing_period_and_currency_and_status ON invoices (a);
              |              ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Shorten the name to at most 63 bytes.

            0 errors, 1 warning, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "CREATE INDEX index_on_customer_invoices_by_billing_period_and_currency_and_status ON invoices (a);"));
    }

    #[test]
    fn err_long_table_column_constraint() {
        let long = "a".repeat(64);
        let quoted = format!("\"{}\"", "b".repeat(70));
        for sql in [
            format!("CREATE TABLE {long} (id int);"),
            format!("CREATE TABLE t ({long} int);"),
            format!("CREATE TABLE t (id int, CONSTRAINT {long} CHECK (id > 0));"),
            format!("ALTER TABLE users ADD COLUMN {long} text;"),
            format!("ALTER TABLE users ADD CONSTRAINT {long} CHECK (id > 0) NOT VALID;"),
            format!("ALTER TABLE users RENAME COLUMN id TO {long};"),
            format!("CREATE TABLE {quoted} (id int);"),
            format!("CREATE TABLE T (X{} INT);", "Y".repeat(63)),
        ] {
            let r = lint_errors(ID, &sql);
            assert!(
                r.contains("bytes long; PostgreSQL truncates it"),
                "{sql}: {r}"
            );
        }
        // Multi-byte characters are counted in bytes: 32 × "é" is 64 bytes.
        let r = lint_errors(ID, &format!("CREATE TABLE t ({} int);", "é".repeat(32)));
        assert!(r.contains("is 64 bytes long"), "{r}");
        lint_ok(ID, &format!("CREATE TABLE t ({} int);", "a".repeat(63)));
        // A long string literal is not an identifier.
        lint_ok(ID, &format!("CREATE TABLE t (a text DEFAULT '{long}');"));
    }
}
