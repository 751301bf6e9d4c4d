//! CREATE INDEX without CONCURRENTLY on a table that already exists.

use super::*;
use crate::ir::StmtKind;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "create-index-non-concurrently",
        severity: Severity::Error,
        summary: "CREATE INDEX without CONCURRENTLY blocks writes to an existing table while the index builds",
        engines: PG,
        category: "locking",
    },
    check: Check::Stmt(Parts::UpDown, check),
    docs: r#"A plain `CREATE INDEX` takes a SHARE lock on the table: reads go on, but every INSERT,
UPDATE and DELETE waits until the whole index is built, which on a large table takes
minutes. `CREATE INDEX CONCURRENTLY` takes SHARE UPDATE EXCLUSIVE instead and lets writes
continue (it scans the table twice and cannot run inside a transaction block).

Tables created earlier in the same migration are empty, so indexing them is fine.

## Bad
```sql
CREATE INDEX users_email_idx ON users (email);
```

## Good
```sql
-- migration.toml: transaction = false
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx ON users (email);
```
If a concurrent build fails it leaves an INVALID index: drop it and retry."#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let StmtKind::CreateIndex {
        table,
        concurrently: false,
        ..
    } = &cx.stmt.kind
    else {
        return;
    };
    if !cx.catalog.is_existing(table) {
        return;
    }
    out.at(
        cx.index,
        format!("CREATE INDEX takes a SHARE lock on existing table {table}, blocking writes to {table} until the index is built"),
        "Use CREATE INDEX CONCURRENTLY in a migration with `transaction = false`.",
    );
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "create-index-non-concurrently";

    #[test]
    fn ok_concurrently_or_new_table() {
        lint_ok(
            ID,
            "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);",
        );
        lint_ok(
            ID,
            "CREATE TABLE t (a int);\nCREATE INDEX t_a_idx ON t (a);",
        );
    }

    #[test]
    fn err_plain_index_on_existing_table() {
        expect![[r#"
            error[create-index-non-concurrently]: CREATE INDEX takes a SHARE lock on existing table users, blocking writes to users until the index is built
             --> migrations/20260101000000_m/up.sql:2:1
              |
            2 | CREATE INDEX users_email_idx ON users (email);
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Use CREATE INDEX CONCURRENTLY in a migration with `transaction = false`.

            1 error, 0 warnings, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "-- speed up login\nCREATE INDEX users_email_idx ON users (email);\n"));
    }
}
