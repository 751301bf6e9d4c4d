//! NOT NULL on a column without a default.

use super::*;
use crate::ir::{AlterCmd, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "not-null-without-default",
        severity: Severity::Error,
        summary:
            "A NOT NULL column without a default fails on existing rows and breaks running inserts",
        engines: ALL,
        category: "compatibility",
    },
    check: Check::Stmt(Parts::Up, check),
    docs: r#"`ADD COLUMN … NOT NULL` without a `DEFAULT` fails on any table that has rows (SQLite refuses
it outright; MySQL fills in an implicit 0 or ''), and running code that inserts without the
new column starts failing. Setting NOT NULL on an existing column that has no default
(known from earlier migrations) breaks the same inserts — a warning.

## Bad
```sql
ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;
```

## Good
```sql
ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL DEFAULT 0;
-- or: add it nullable, backfill, ship code that always writes it, then SET NOT NULL
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
        match c {
            AlterCmd::AddColumn { col, .. }
                if col.not_null
                    && col.default.is_none()
                    && !col.identity
                    && !col.serial
                    && !col.generated_stored =>
            {
                out.at(
                    cx.index,
                    format!("ADD COLUMN {} NOT NULL without a DEFAULT fails if {table} has rows, and breaks running code that inserts without {}", col.name, col.name),
                    "Give the column a DEFAULT, or add it nullable and set NOT NULL after a backfill.",
                )
                .token(cx.src, col.at, cx.engine);
            }
            AlterCmd::SetNotNull { column } => {
                let Some(col) = cx.catalog.column(table, column) else {
                    continue;
                };
                let set_here = cmds.iter().any(|c| matches!(c, AlterCmd::SetDefault { column: c2, expr: Some(_) } if c2 == column));
                if !col.has_default && !set_here && cx.catalog.column_has_old_data(table, column) {
                    out.at(
                        cx.index,
                        format!("SET NOT NULL on {table}.{column}, which has no default, breaks running code that inserts rows without {column}"),
                        "Set a DEFAULT first, or make sure every running version writes the column before adding NOT NULL.",
                    )
                    .severity(Severity::Warning);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use backstop_core::driver::Engine;
    use expect_test::expect;
    const ID: &str = "not-null-without-default";

    #[test]
    fn ok_with_default() {
        lint_ok(
            ID,
            "ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL DEFAULT 0;",
        );
        lint_ok(
            ID,
            "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b int NOT NULL;",
        );
    }

    #[test]
    fn err_no_default() {
        expect![[r#"
            error[not-null-without-default]: ADD COLUMN tenant_id NOT NULL without a DEFAULT fails if users has rows, and breaks running code that inserts without tenant_id
             --> migrations/20260101000000_m/up.sql:1:30
              |
            1 | ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;
              |                              ^^^^^^^^^
              = help: Give the column a DEFAULT, or add it nullable and set NOT NULL after a backfill.

            1 error, 0 warnings, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;"));
    }

    #[test]
    fn err_sqlite() {
        expect![[r#"
            error[not-null-without-default]: ADD COLUMN tenant_id NOT NULL without a DEFAULT fails if users has rows, and breaks running code that inserts without tenant_id
             --> migrations/20260101000000_m/up.sql:1:30
              |
            1 | ALTER TABLE users ADD COLUMN tenant_id INTEGER NOT NULL;
              |                              ^^^^^^^^^
              = help: Give the column a DEFAULT, or add it nullable and set NOT NULL after a backfill.

            1 error, 0 warnings, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&Case::on(Engine::Sqlite, "ALTER TABLE users ADD COLUMN tenant_id INTEGER NOT NULL;").render(ID));
    }
}
