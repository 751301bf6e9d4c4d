//! ADD COLUMN whose value must be computed for every existing row.

use super::*;
use crate::impact::is_volatile;
use crate::ir::{AlterCmd, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "add-column-volatile-default",
        severity: Severity::Error,
        summary: "ADD COLUMN with a volatile default, serial or identity rewrites the table under ACCESS EXCLUSIVE",
        engines: PG,
        category: "locking",
    },
    check: Check::Stmt(Parts::UpDown, check),
    docs: r#"Since PostgreSQL 11 a new column with a constant (or stable, like `now()`) default is
stored in the catalog and costs nothing. A *volatile* default such as `gen_random_uuid()`,
`clock_timestamp()` or `random()`, a `serial` type or an identity column must be evaluated
for every existing row: PostgreSQL rewrites the table and all its indexes while holding
ACCESS EXCLUSIVE, so nothing can read or write the table until it is done.

## Bad
```sql
ALTER TABLE orders ADD COLUMN public_id uuid NOT NULL DEFAULT gen_random_uuid();
```

## Good
```sql
ALTER TABLE orders ADD COLUMN public_id uuid;
ALTER TABLE orders ALTER COLUMN public_id SET DEFAULT gen_random_uuid();
-- then backfill existing rows in batches, in a later migration
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
        let AlterCmd::AddColumn { col, .. } = c else {
            continue;
        };
        let why = if let Some((f, _)) = col
            .default
            .as_ref()
            .and_then(|d| d.funcs.iter().find(|(f, _)| is_volatile(f)))
        {
            format!("with volatile default {f}()")
        } else if col.serial {
            format!(
                "of type {}",
                col.ty
                    .as_ref()
                    .map(|t| t.display.as_str())
                    .unwrap_or("serial")
            )
        } else if col.identity {
            "as an identity column".to_string()
        } else {
            continue;
        };
        out.at(
            cx.index,
            format!("ADD COLUMN {} {why} rewrites {table} under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole rewrite", col.name),
            "Add the column without a default, set the default in a second statement, then backfill existing rows in batches.",
        )
        .token(cx.src, col.at, cx.engine);
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "add-column-volatile-default";

    #[test]
    fn ok_constant_or_stable_default() {
        lint_ok(
            ID,
            "ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new';",
        );
        lint_ok(
            ID,
            "ALTER TABLE orders ADD COLUMN created_at timestamptz DEFAULT now();",
        );
        lint_ok(ID, "CREATE TABLE t (id uuid DEFAULT gen_random_uuid());\nALTER TABLE t ADD COLUMN n bigserial;");
    }

    #[test]
    fn err_volatile_serial_identity() {
        expect![[r#"
            error[add-column-volatile-default]: ADD COLUMN public_id with volatile default gen_random_uuid() rewrites orders under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole rewrite
             --> migrations/20260101000000_m/up.sql:1:31
              |
            1 | ALTER TABLE orders ADD COLUMN public_id uuid DEFAULT gen_random_uuid();
              |                               ^^^^^^^^^
              = help: Add the column without a default, set the default in a second statement, then backfill existing rows in batches.

            error[add-column-volatile-default]: ADD COLUMN seq of type bigserial rewrites orders under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole rewrite
             --> migrations/20260101000000_m/up.sql:2:31
              |
            2 | ALTER TABLE orders ADD COLUMN seq bigserial;
              |                               ^^^
              = help: Add the column without a default, set the default in a second statement, then backfill existing rows in batches.

            error[add-column-volatile-default]: ADD COLUMN n as an identity column rewrites orders under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole rewrite
             --> migrations/20260101000000_m/up.sql:3:31
              |
            3 | ALTER TABLE orders ADD COLUMN n int GENERATED ALWAYS AS IDENTITY;
              |                               ^
              = help: Add the column without a default, set the default in a second statement, then backfill existing rows in batches.

            3 errors, 0 warnings, 0 infos in 1 file (3 statements)
        "#]].assert_eq(&lint_errors(
            ID,
            "ALTER TABLE orders ADD COLUMN public_id uuid DEFAULT gen_random_uuid();\nALTER TABLE orders ADD COLUMN seq bigserial;\nALTER TABLE orders ADD COLUMN n int GENERATED ALWAYS AS IDENTITY;",
        ));
    }
}
