//! ADD CHECK without NOT VALID on an existing table.

use super::*;
use crate::ir::{AlterCmd, ConKind, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "add-check-without-not-valid",
        severity: Severity::Error,
        summary: "ADD CHECK validates every row under ACCESS EXCLUSIVE",
        engines: PG,
        category: "locking",
    },
    check: Check::Stmt(Parts::UpDown, check),
    docs: r#"`ADD CONSTRAINT … CHECK (…)` holds ACCESS EXCLUSIVE while it reads every row: no reads and
no writes on the table until the scan ends. Add it `NOT VALID` (instant; new rows are
checked) and `VALIDATE CONSTRAINT` in a later migration (SHARE UPDATE EXCLUSIVE: reads and
writes continue).

## Bad
```sql
ALTER TABLE orders ADD CONSTRAINT amount_positive CHECK (amount > 0);
```

## Good
```sql
ALTER TABLE orders ADD CONSTRAINT amount_positive CHECK (amount > 0) NOT VALID;
-- next migration
ALTER TABLE orders VALIDATE CONSTRAINT amount_positive;
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let StmtKind::AlterTable {
        table, obj, cmds, ..
    } = &cx.stmt.kind
    else {
        return;
    };
    if !obj.has_storage() || !cx.catalog.is_existing(table) {
        return;
    }
    for c in cmds {
        let AlterCmd::AddConstraint(k) = c else {
            continue;
        };
        if !matches!(k.kind, ConKind::Check { .. }) || k.not_valid {
            continue;
        }
        out.at(
            cx.index,
            format!("ADD CHECK scans {table} under an ACCESS EXCLUSIVE lock, blocking reads and writes on {table} until every row is checked"),
            "Add the constraint with NOT VALID, then VALIDATE CONSTRAINT in a separate migration.",
        )
        .token(cx.src, k.at, cx.engine);
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "add-check-without-not-valid";

    #[test]
    fn ok_not_valid() {
        lint_ok(
            ID,
            "ALTER TABLE orders ADD CONSTRAINT c CHECK (amount > 0) NOT VALID;",
        );
    }

    #[test]
    fn err_validating_check() {
        expect![[r#"
            error[add-check-without-not-valid]: ADD CHECK scans orders under an ACCESS EXCLUSIVE lock, blocking reads and writes on orders until every row is checked
             --> migrations/20260101000000_m/up.sql:1:24
              |
            1 | ALTER TABLE orders ADD CONSTRAINT amount_positive CHECK (amount > 0);
              |                        ^^^^^^^^^^
              = help: Add the constraint with NOT VALID, then VALIDATE CONSTRAINT in a separate migration.

            1 error, 0 warnings, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "ALTER TABLE orders ADD CONSTRAINT amount_positive CHECK (amount > 0);"));
    }
}
