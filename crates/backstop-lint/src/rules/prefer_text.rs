//! varchar(n) instead of text.

use super::prefer_timestamptz::columns;
use super::*;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "prefer-text",
        severity: Severity::Info,
        summary: "varchar(n) limits are cheaper to keep as a CHECK on a text column",
        engines: PG,
        category: "hygiene",
    },
    check: Check::Stmt(Parts::Up, check),
    docs: r#"In PostgreSQL `varchar(n)` and `text` are stored the same way. The limit in `varchar(n)` can
only change with `ALTER COLUMN … TYPE`, which takes ACCESS EXCLUSIVE (and rewrites the table
when shrinking). A `CHECK (length(col) <= n)` on a `text` column can be replaced with
`NOT VALID` + `VALIDATE` without blocking anyone.

## Bad
```sql
CREATE TABLE users (email varchar(255) NOT NULL);
```

## Good
```sql
CREATE TABLE users (email text NOT NULL CHECK (length(email) <= 255));
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    for (table, col) in columns(&cx.stmt.kind) {
        let Some(t) = &col.ty else { continue };
        if t.name == "varchar" && !t.mods.is_empty() {
            out.at(
                cx.index,
                format!("column {table}.{} is {}: changing the limit later needs ALTER COLUMN TYPE and its ACCESS EXCLUSIVE lock", col.name, t.display),
                format!("Use text with CHECK (length({}) <= {}) if a limit is needed.", col.name, t.mods[0]),
            )
            .token(cx.src, col.at, cx.engine);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "prefer-text";

    #[test]
    fn ok_text() {
        lint_ok(ID, "CREATE TABLE u (email text, code varchar);");
    }

    #[test]
    fn err_varchar_n() {
        expect![[r#"
            info[prefer-text]: column users.email is varchar(255): changing the limit later needs ALTER COLUMN TYPE and its ACCESS EXCLUSIVE lock
             --> migrations/20260101000000_m/up.sql:1:21
              |
            1 | CREATE TABLE users (email varchar(255) NOT NULL);
              |                     ^^^^^
              = help: Use text with CHECK (length(email) <= 255) if a limit is needed.

            0 errors, 0 warnings, 1 info in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "CREATE TABLE users (email varchar(255) NOT NULL);"));
    }
}
