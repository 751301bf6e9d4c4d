//! DETACH PARTITION without CONCURRENTLY.

use super::*;
use crate::ir::{AlterCmd, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "detach-partition-non-concurrently",
        severity: Severity::Warning,
        summary:
            "DETACH PARTITION without CONCURRENTLY takes ACCESS EXCLUSIVE on the partitioned table",
        engines: PG,
        category: "locking",
    },
    check: Check::Stmt(Parts::UpDown, check),
    docs: r#"`ALTER TABLE parent DETACH PARTITION child` takes ACCESS EXCLUSIVE on the parent, blocking
every query on the whole partitioned table while it waits and runs.
`DETACH PARTITION … CONCURRENTLY` (PostgreSQL 14+) only takes SHARE UPDATE EXCLUSIVE on the
parent; it can't run in a transaction block or when a default partition exists.

## Bad
```sql
ALTER TABLE events DETACH PARTITION events_2023;
```

## Good
```sql
-- migration.toml: transaction = false
ALTER TABLE events DETACH PARTITION events_2023 CONCURRENTLY;
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let StmtKind::AlterTable { table, cmds, .. } = &cx.stmt.kind else {
        return;
    };
    for c in cmds {
        if let AlterCmd::DetachPartition {
            partition,
            concurrently: false,
        } = c
        {
            out.at(
                cx.index,
                format!("DETACH PARTITION {partition} takes an ACCESS EXCLUSIVE lock on {table}, blocking reads and writes on every partition"),
                "Use DETACH PARTITION … CONCURRENTLY in a migration with `transaction = false`.",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "detach-partition-non-concurrently";

    #[test]
    fn ok_concurrently() {
        lint_case_ok(
            ID,
            Case::pg("ALTER TABLE events DETACH PARTITION events_2023 CONCURRENTLY;")
                .toml("transaction = false\n"),
        );
    }

    #[test]
    fn err_plain() {
        expect![[r#"
            warning[detach-partition-non-concurrently]: DETACH PARTITION events_2023 takes an ACCESS EXCLUSIVE lock on events, blocking reads and writes on every partition
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | ALTER TABLE events DETACH PARTITION events_2023;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Use DETACH PARTITION … CONCURRENTLY in a migration with `transaction = false`.

            0 errors, 1 warning, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "ALTER TABLE events DETACH PARTITION events_2023;"));
    }
}
