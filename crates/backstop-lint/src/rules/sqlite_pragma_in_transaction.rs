//! SQLite PRAGMAs that do nothing (or fail) inside a transaction.

use super::*;
use crate::ir::StmtKind;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "sqlite-pragma-in-transaction",
        severity: Severity::Error,
        summary:
            "PRAGMA foreign_keys and journal_mode have no effect (or fail) inside a transaction",
        engines: &[Engine::Sqlite],
        category: "transactions",
    },
    check: Check::Stmt(Parts::UpDown, check),
    docs: r#"SQLite ignores `PRAGMA foreign_keys = …` inside a transaction, and refuses to change
`journal_mode` to or from WAL inside one. The usual table-rebuild recipe
(`PRAGMA foreign_keys = OFF`, create the new table, copy, drop the old one, rename) then
runs with foreign keys still enforced: dropping the old table cascades or fails.

## Bad
```sql
PRAGMA foreign_keys = OFF;   -- transaction = true (default): no effect
CREATE TABLE users_new (...);
```

`PRAGMA defer_foreign_keys = ON` is no substitute: it only moves the checks to COMMIT.
Dropping a table still runs the `ON DELETE CASCADE` / `SET NULL` actions of the foreign
keys that point at it, so a rebuild of a parent table empties or rewrites its children
([`sqlite-drop-table-runs-on-delete`](sqlite-drop-table-runs-on-delete.md) reports that
`DROP TABLE`).

## Good
Set `transaction = false` in migration.toml, so the PRAGMA takes effect. Each statement
then commits on its own; backstop records its progress statement by statement, runs
down.sql if a later one fails, and leaves the migration `dirty` for a person when that is
not enough (a script's own `BEGIN`/`COMMIT` is refused: it would take that bookkeeping
with it).
```sql
PRAGMA foreign_keys = OFF;
CREATE TABLE users_new (...);
INSERT INTO users_new SELECT ... FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
PRAGMA foreign_key_check;
PRAGMA foreign_keys = ON;
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let StmtKind::Pragma { name, value } = &cx.stmt.kind else {
        return;
    };
    if !cx.mig.transaction {
        return;
    }
    match name.as_str() {
        "foreign_keys" => {
            out.at(
                cx.index,
                format!("PRAGMA foreign_keys = {value} has no effect inside a transaction, and this migration runs in one: foreign keys stay as they were"),
                "Set `transaction = false` in migration.toml so the PRAGMA takes effect (PRAGMA defer_foreign_keys only delays the checks: dropping a parent table still runs ON DELETE CASCADE).",
            );
        }
        "journal_mode" => {
            out.at(cx.index, "PRAGMA journal_mode can't change to or from WAL inside a transaction, and this migration runs in one", "Set the journal mode outside migrations, when the database is opened.");
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use backstop_core::driver::Engine;
    use expect_test::expect;
    const ID: &str = "sqlite-pragma-in-transaction";

    #[test]
    fn ok_defer() {
        lint_case_ok(
            ID,
            Case::on(Engine::Sqlite, "PRAGMA defer_foreign_keys = ON;"),
        );
        lint_case_ok(
            ID,
            Case::on(Engine::Sqlite, "PRAGMA foreign_keys = OFF;").toml("transaction = false\n"),
        );
    }

    #[test]
    fn err_foreign_keys() {
        expect![[r#"
            error[sqlite-pragma-in-transaction]: PRAGMA foreign_keys = off has no effect inside a transaction, and this migration runs in one: foreign keys stay as they were
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | PRAGMA foreign_keys = OFF;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Set `transaction = false` in migration.toml so the PRAGMA takes effect (PRAGMA defer_foreign_keys only delays the checks: dropping a parent table still runs ON DELETE CASCADE).

            1 error, 0 warnings, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&Case::on(Engine::Sqlite, "PRAGMA foreign_keys = OFF;").render(ID));
    }
}
