//! DROP INDEX without CONCURRENTLY.

use super::*;
use crate::ir::{Obj, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "drop-index-non-concurrently",
        severity: Severity::Warning,
        summary: "DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the table",
        engines: PG,
        category: "locking",
    },
    check: Check::Stmt(Parts::UpDown, check),
    docs: r#"Dropping an index is quick, but plain `DROP INDEX` needs ACCESS EXCLUSIVE on the index's
table. While it waits behind a long-running query, every later query on the table queues
behind it. `DROP INDEX CONCURRENTLY` waits without blocking others (it cannot run in a
transaction block, drops one index at a time, and can't drop an index that backs a
constraint).

## Bad
```sql
DROP INDEX users_legacy_idx;
```

## Good
```sql
-- migration.toml: transaction = false
DROP INDEX CONCURRENTLY IF EXISTS users_legacy_idx;
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let StmtKind::Drop {
        obj: Obj::Index,
        names,
        concurrently: false,
        ..
    } = &cx.stmt.kind
    else {
        return;
    };
    for n in names {
        if !cx.catalog.is_existing(n) {
            continue;
        }
        let table = cx
            .impact
            .tables
            .first()
            .map(|t| t.to_string())
            .filter(|t| *t != n.to_string());
        let on = table
            .map(|t| format!(" on {t}"))
            .unwrap_or_else(|| " on its table".into());
        out.at(
            cx.index,
            format!("DROP INDEX {n} takes an ACCESS EXCLUSIVE lock{on}, blocking reads and writes while it waits for and holds the lock"),
            "Use DROP INDEX CONCURRENTLY in a migration with `transaction = false`.",
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "drop-index-non-concurrently";

    #[test]
    fn ok_concurrently() {
        lint_ok(ID, "DROP INDEX CONCURRENTLY IF EXISTS users_legacy_idx;");
    }

    #[test]
    fn err_plain() {
        expect![[r#"
            warning[drop-index-non-concurrently]: DROP INDEX users_legacy_idx takes an ACCESS EXCLUSIVE lock on its table, blocking reads and writes while it waits for and holds the lock
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | DROP INDEX users_legacy_idx;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Use DROP INDEX CONCURRENTLY in a migration with `transaction = false`.

            0 errors, 1 warning, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "DROP INDEX users_legacy_idx;"));
    }
}
