//! REINDEX without CONCURRENTLY.

use super::*;
use crate::ir::StmtKind;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "reindex-non-concurrently",
        severity: Severity::Error,
        summary:
            "REINDEX without CONCURRENTLY blocks writes and most reads until the index is rebuilt",
        engines: PG,
        category: "locking",
    },
    check: Check::Stmt(Parts::UpDown, check),
    docs: r#"Plain `REINDEX` takes SHARE on the table and ACCESS EXCLUSIVE on each index it rebuilds.
Because the planner locks every index of a table when planning a query, it blocks virtually
every query on the table, not just writes. `REINDEX … CONCURRENTLY` (PostgreSQL 12+) rebuilds
under SHARE UPDATE EXCLUSIVE and cannot run in a transaction block.

## Bad
```sql
REINDEX INDEX users_email_idx;
```

## Good
```sql
-- migration.toml: transaction = false
REINDEX INDEX CONCURRENTLY users_email_idx;
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let StmtKind::Reindex {
        target,
        concurrently: false,
        ..
    } = &cx.stmt.kind
    else {
        return;
    };
    out.at(
        cx.index,
        format!("REINDEX {target} takes ACCESS EXCLUSIVE locks on the indexes it rebuilds and SHARE on their table, blocking writes and most reads until it finishes"),
        "Use REINDEX … CONCURRENTLY in a migration with `transaction = false`.",
    );
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "reindex-non-concurrently";

    #[test]
    fn ok_concurrently() {
        lint_ok(ID, "REINDEX INDEX CONCURRENTLY users_email_idx;");
    }

    #[test]
    fn err_plain() {
        expect![[r#"
            error[reindex-non-concurrently]: REINDEX TABLE users takes ACCESS EXCLUSIVE locks on the indexes it rebuilds and SHARE on their table, blocking writes and most reads until it finishes
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | REINDEX TABLE users;
              | ^^^^^^^^^^^^^^^^^^^
              = help: Use REINDEX … CONCURRENTLY in a migration with `transaction = false`.

            1 error, 0 warnings, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "REINDEX TABLE users;"));
    }
}
