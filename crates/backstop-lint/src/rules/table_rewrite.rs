//! ALTER TABLE forms that rewrite or move the table.

use super::*;
use crate::ir::{AlterCmd, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "table-rewrite",
        severity: Severity::Error,
        summary: "SET TABLESPACE, SET LOGGED/UNLOGGED and SET ACCESS METHOD rewrite the table under ACCESS EXCLUSIVE",
        engines: PG,
        category: "locking",
    },
    check: Check::Stmt(Parts::UpDown, check),
    docs: r#"These `ALTER TABLE` forms copy every row into a new file while holding ACCESS EXCLUSIVE, so
the table can be neither read nor written until the copy ends.

## Bad
```sql
ALTER TABLE events SET TABLESPACE fast_ssd;
ALTER TABLE events SET LOGGED;
```

## Good
Run them in a maintenance window, or create a new table in the target form, copy in
batches and swap names."#,
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
        if let AlterCmd::Rewrite { what } = c {
            out.at(
                cx.index,
                format!("ALTER {} … {what} rewrites {table} under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole rewrite", obj.sql()),
                "Run it in a maintenance window, or build a new table and swap it in.",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "table-rewrite";

    #[test]
    fn ok_storage_params() {
        lint_ok(ID, "ALTER TABLE events SET (fillfactor = 90);");
    }

    #[test]
    fn err_set_tablespace() {
        expect![[r#"
            error[table-rewrite]: ALTER TABLE … SET TABLESPACE rewrites events under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole rewrite
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | ALTER TABLE events SET TABLESPACE fast;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Run it in a maintenance window, or build a new table and swap it in.

            1 error, 0 warnings, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "ALTER TABLE events SET TABLESPACE fast;"));
    }
}
