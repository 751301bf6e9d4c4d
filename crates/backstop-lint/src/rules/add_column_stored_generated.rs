//! ADD COLUMN … GENERATED ALWAYS AS (…) STORED on an existing table.

use super::*;
use crate::ir::{AlterCmd, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "add-column-stored-generated",
        severity: Severity::Error,
        summary: "Adding a stored generated column rewrites the table under ACCESS EXCLUSIVE",
        engines: PG,
        category: "locking",
    },
    check: Check::Stmt(Parts::UpDown, check),
    docs: r#"A `GENERATED ALWAYS AS (…) STORED` column is computed and written for every existing row
when it is added, so PostgreSQL rewrites the table and its indexes under an ACCESS EXCLUSIVE
lock: no reads, no writes until the rewrite ends.

## Bad
```sql
ALTER TABLE people ADD COLUMN full_name text GENERATED ALWAYS AS (first || ' ' || last) STORED;
```

## Good
Add a plain column, fill new rows with a trigger, backfill old rows in batches; or compute
the value in a view or in the application."#,
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
        if let AlterCmd::AddColumn { col, .. } = c {
            if col.generated_stored {
                out.at(
                    cx.index,
                    format!("ADD COLUMN {} GENERATED … STORED rewrites {table} under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole rewrite", col.name),
                    "Add a plain column, fill it with a trigger for new rows and backfill old rows in batches.",
                )
                .token(cx.src, col.at, cx.engine);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "add-column-stored-generated";

    #[test]
    fn ok_on_new_table() {
        lint_ok(
            ID,
            "CREATE TABLE p (a text, b text GENERATED ALWAYS AS (upper(a)) STORED);",
        );
    }

    #[test]
    fn err_on_existing_table() {
        expect![[r#"
            error[add-column-stored-generated]: ADD COLUMN u GENERATED … STORED rewrites people under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole rewrite
             --> migrations/20260101000000_m/up.sql:1:31
              |
            1 | ALTER TABLE people ADD COLUMN u text GENERATED ALWAYS AS (upper(name)) STORED;
              |                               ^
              = help: Add a plain column, fill it with a trigger for new rows and backfill old rows in batches.

            1 error, 0 warnings, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "ALTER TABLE people ADD COLUMN u text GENERATED ALWAYS AS (upper(name)) STORED;"));
    }
}
