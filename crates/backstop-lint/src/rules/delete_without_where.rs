//! DELETE without WHERE on an existing table.

use super::*;
use crate::ir::StmtKind;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "delete-without-where",
        severity: Severity::Warning,
        summary: "DELETE without WHERE removes every row, locking them all until COMMIT",
        engines: ALL,
        category: "destructive",
    },
    check: Check::Stmt(Parts::Up, check),
    docs: r#"A `DELETE` without `WHERE` empties the table one row at a time inside the migration's
transaction: it locks every row until COMMIT, bloats the table, and is often a mistake
(a forgotten or lost condition).

## Bad
```sql
DELETE FROM sessions;
```

## Good
```sql
DELETE FROM sessions WHERE expires_at < now() - interval '30 days';
-- or, if emptying the table is the point: TRUNCATE sessions;
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let StmtKind::Delete {
        table,
        has_where: false,
        ..
    } = &cx.stmt.kind
    else {
        return;
    };
    if !cx.catalog.is_existing(table) {
        return;
    }
    out.at(
        cx.index,
        format!(
            "DELETE without WHERE removes every row of {table} and locks them all until COMMIT"
        ),
        "Add a WHERE clause, or use TRUNCATE if emptying the table is intended.",
    );
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "delete-without-where";

    #[test]
    fn ok_with_where() {
        lint_ok(ID, "DELETE FROM sessions WHERE expired;");
    }

    #[test]
    fn err_no_where() {
        expect![[r#"
            warning[delete-without-where]: DELETE without WHERE removes every row of sessions and locks them all until COMMIT
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | DELETE FROM sessions;
              | ^^^^^^^^^^^^^^^^^^^^
              = help: Add a WHERE clause, or use TRUNCATE if emptying the table is intended.

            0 errors, 1 warning, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "DELETE FROM sessions;"));
    }
}
