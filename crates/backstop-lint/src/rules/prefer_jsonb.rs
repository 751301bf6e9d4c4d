//! json instead of jsonb.

use super::prefer_timestamptz::columns;
use super::*;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "prefer-jsonb",
        severity: Severity::Info,
        summary: "json columns have no equality operator and are re-parsed on every access",
        engines: PG,
        category: "hygiene",
    },
    check: Check::Stmt(Parts::Up, check),
    docs: r#"`json` stores the text as given: it has no equality operator (so `SELECT DISTINCT`,
`GROUP BY` and `UNION` on it fail), can't be indexed with GIN, and is parsed again on every
access. `jsonb` has none of these problems.

## Bad
```sql
ALTER TABLE events ADD COLUMN payload json;
```

## Good
```sql
ALTER TABLE events ADD COLUMN payload jsonb;
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    for (table, col) in columns(&cx.stmt.kind) {
        if col.ty.as_ref().is_some_and(|t| t.name == "json") {
            out.at(cx.index, format!("column {table}.{} is json: it has no equality operator, so DISTINCT, GROUP BY and UNION fail on it", col.name), "Use jsonb.")
                .token(cx.src, col.at, cx.engine);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "prefer-jsonb";

    #[test]
    fn ok_jsonb() {
        lint_ok(ID, "ALTER TABLE events ADD COLUMN payload jsonb;");
    }

    #[test]
    fn err_json() {
        expect![[r#"
            info[prefer-jsonb]: column events.payload is json: it has no equality operator, so DISTINCT, GROUP BY and UNION fail on it
             --> migrations/20260101000000_m/up.sql:1:31
              |
            1 | ALTER TABLE events ADD COLUMN payload json;
              |                               ^^^^^^^
              = help: Use jsonb.

            0 errors, 0 warnings, 1 info in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "ALTER TABLE events ADD COLUMN payload json;"));
    }
}
