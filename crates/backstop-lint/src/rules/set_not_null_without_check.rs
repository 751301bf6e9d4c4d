//! SET NOT NULL without a validated CHECK (col IS NOT NULL) first.

use super::*;
use crate::impact::has_validated_not_null_check;
use crate::ir::{AlterCmd, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "set-not-null-without-check",
        severity: Severity::Error,
        summary: "SET NOT NULL scans the whole table under ACCESS EXCLUSIVE unless a validated CHECK proves it",
        engines: PG,
        category: "locking",
    },
    check: Check::Stmt(Parts::UpDown, check),
    docs: r#"`ALTER COLUMN … SET NOT NULL` reads every row to prove there is no NULL, holding ACCESS
EXCLUSIVE (no reads, no writes) for the whole scan. Since PostgreSQL 12 the scan is
skipped when a *validated* `CHECK (col IS NOT NULL)` constraint already proves it.

## Bad
```sql
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
```

## Good
```sql
-- migration 1
ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;
-- migration 2 (VALIDATE takes SHARE UPDATE EXCLUSIVE: reads and writes continue)
ALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;
-- migration 3
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
ALTER TABLE users DROP CONSTRAINT users_email_not_null;
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
        let AlterCmd::SetNotNull { column } = c else {
            continue;
        };
        if has_validated_not_null_check(cx.catalog, table, column) {
            continue;
        }
        out.at(
            cx.index,
            format!("SET NOT NULL on {table}.{column} scans the whole table under an ACCESS EXCLUSIVE lock, blocking reads and writes on {table} until the scan ends"),
            format!("Add CHECK ({column} IS NOT NULL) NOT VALID, validate it in a separate migration, then SET NOT NULL."),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "set-not-null-without-check";

    #[test]
    fn ok_after_validated_check() {
        lint_ok(
            ID,
            "ALTER TABLE users ADD CONSTRAINT c CHECK (email IS NOT NULL) NOT VALID;\nALTER TABLE users VALIDATE CONSTRAINT c;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;",
        );
        lint_ok(
            ID,
            "CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a SET NOT NULL;",
        );
    }

    #[test]
    fn err_plain_set_not_null() {
        expect![[r#"
            error[set-not-null-without-check]: SET NOT NULL on users.email scans the whole table under an ACCESS EXCLUSIVE lock, blocking reads and writes on users until the scan ends
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | ALTER TABLE users ALTER COLUMN email SET NOT NULL;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Add CHECK (email IS NOT NULL) NOT VALID, validate it in a separate migration, then SET NOT NULL.

            1 error, 0 warnings, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "ALTER TABLE users ALTER COLUMN email SET NOT NULL;"));
    }
}
