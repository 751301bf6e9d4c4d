//! UPDATE without WHERE on an existing table.

use super::*;
use crate::ir::StmtKind;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "update-without-where",
        severity: Severity::Warning,
        summary: "UPDATE without WHERE rewrites every row in one transaction, locking them all",
        engines: ALL,
        category: "destructive",
    },
    check: Check::Stmt(Parts::Up, check),
    docs: r#"An `UPDATE` of a whole table writes a new version of every row inside one transaction:
every row stays locked against other writers until COMMIT, the table and its indexes
double in size until vacuum catches up, and replicas fall behind. Backfill in batches
instead.

## Bad
```sql
UPDATE orders SET currency = 'EUR';
```

## Good
```sql
-- repeat until it updates 0 rows, in a migration with transaction = false
UPDATE orders SET currency = 'EUR'
WHERE id IN (SELECT id FROM orders WHERE currency IS NULL LIMIT 10000);
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let StmtKind::Update {
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
    out.at(cx.index, format!("UPDATE without WHERE rewrites every row of {table} in one transaction, locking them all against writes until COMMIT"), "Backfill in batches keyed on the primary key.");
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "update-without-where";

    #[test]
    fn ok_batched() {
        lint_ok(
            ID,
            "UPDATE orders SET currency = 'EUR' WHERE id BETWEEN 1 AND 10000;",
        );
    }

    #[test]
    fn err_whole_table() {
        expect![[r#"
            warning[update-without-where]: UPDATE without WHERE rewrites every row of orders in one transaction, locking them all against writes until COMMIT
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | UPDATE orders SET currency = 'EUR';
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Backfill in batches keyed on the primary key.

            0 errors, 1 warning, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "UPDATE orders SET currency = 'EUR';"));
    }
}
