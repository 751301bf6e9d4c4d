//! Statements that can't run inside a transaction block, in a transactional migration.

use super::*;
use crate::ir::{AlterCmd, Obj, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "statement-not-in-transaction",
        severity: Severity::Error,
        summary: "CONCURRENTLY operations, VACUUM and CREATE/DROP DATABASE can't run in a migration with transaction = true",
        engines: &[Engine::Postgres, Engine::Sqlite],
        category: "transactions",
    },
    check: Check::Stmt(Parts::UpDown, check),
    docs: r#"backstop runs a migration in one transaction unless its migration.toml says
`transaction = false`. Some statements refuse to run inside a transaction block and make the
migration fail every time:

- PostgreSQL: `CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`,
  `REINDEX … CONCURRENTLY`, `DETACH PARTITION … CONCURRENTLY`, `VACUUM`,
  `CREATE/DROP DATABASE`, `CREATE/DROP TABLESPACE`, `ALTER SYSTEM`. (`ALTER TYPE … ADD VALUE`
  could not run in a transaction before PostgreSQL 12; backstop supports 12+, where the new
  value just can't be *used* before COMMIT — see `enum-value-used-in-transaction`.)
- SQLite: `VACUUM`.

## Bad
```sql
CREATE INDEX CONCURRENTLY users_email_idx ON users (email);   -- transaction = true (default)
```

## Good
```toml
# migration.toml
transaction = false
```
Keep such a statement in a migration of its own, written so it can be re-run
(`IF NOT EXISTS`), since nothing rolls it back automatically."#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    if !cx.mig.transaction {
        return;
    }
    let what = match &cx.stmt.kind {
        StmtKind::CreateIndex {
            concurrently: true, ..
        } => "CREATE INDEX CONCURRENTLY".to_string(),
        StmtKind::Drop {
            obj: Obj::Index,
            concurrently: true,
            ..
        } => "DROP INDEX CONCURRENTLY".to_string(),
        StmtKind::Reindex {
            concurrently: true, ..
        } => "REINDEX CONCURRENTLY".to_string(),
        StmtKind::Vacuum { .. } => "VACUUM".to_string(),
        StmtKind::Create {
            obj: Obj::Database { .. },
            ..
        } => "CREATE DATABASE".to_string(),
        StmtKind::Drop {
            obj: Obj::Database { .. },
            ..
        } if cx.engine == Engine::Postgres => "DROP DATABASE".to_string(),
        StmtKind::AlterTable { cmds, .. }
            if cmds.iter().any(|c| {
                matches!(
                    c,
                    AlterCmd::DetachPartition {
                        concurrently: true,
                        ..
                    }
                )
            }) =>
        {
            "DETACH PARTITION CONCURRENTLY".to_string()
        }
        StmtKind::Other { tag }
            if cx.engine == Engine::Postgres
                && matches!(
                    tag.as_str(),
                    "ALTER SYSTEM" | "CREATE TABLESPACE" | "DROP TABLESPACE"
                ) =>
        {
            tag.clone()
        }
        _ => return,
    };
    out.at(
        cx.index,
        format!("{what} cannot run inside a transaction block, and this migration runs in one (`transaction = true` is the default)"),
        "Set `transaction = false` in migration.toml and keep this statement in a migration of its own.",
    );
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use backstop_core::driver::Engine;
    use expect_test::expect;
    const ID: &str = "statement-not-in-transaction";

    #[test]
    fn ok_without_transaction() {
        lint_case_ok(
            ID,
            Case::pg("CREATE INDEX CONCURRENTLY i ON users (email);").toml("transaction = false\n"),
        );
    }

    #[test]
    fn err_in_transaction() {
        expect![[r#"
            error[statement-not-in-transaction]: CREATE INDEX CONCURRENTLY cannot run inside a transaction block, and this migration runs in one (`transaction = true` is the default)
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | CREATE INDEX CONCURRENTLY i ON users (email);
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Set `transaction = false` in migration.toml and keep this statement in a migration of its own.

            error[statement-not-in-transaction]: VACUUM cannot run inside a transaction block, and this migration runs in one (`transaction = true` is the default)
             --> migrations/20260101000000_m/up.sql:2:1
              |
            2 | VACUUM users;
              | ^^^^^^^^^^^^
              = help: Set `transaction = false` in migration.toml and keep this statement in a migration of its own.

            2 errors, 0 warnings, 0 infos in 1 file (2 statements)
        "#]].assert_eq(&lint_errors(ID, "CREATE INDEX CONCURRENTLY i ON users (email);\nVACUUM users;"));
    }

    #[test]
    fn ok_schema_statements() {
        // Regression: the SQLite and MySQL reader took `SCHEMA` for `DATABASE`, so
        // `CREATE SCHEMA` was reported as a CREATE DATABASE that can't run in a transaction.
        // SQLite has neither statement; PostgreSQL's CREATE SCHEMA is transactional.
        for engine in [Engine::Sqlite, Engine::Postgres] {
            lint_case_ok(
                ID,
                Case::on(engine, "CREATE SCHEMA s2;").down("DROP SCHEMA s2;"),
            );
        }
        lint_case_ok(ID, Case::on(Engine::Sqlite, "CREATE DATABASE d;"));
    }

    #[test]
    fn err_sqlite_vacuum() {
        expect![[r#"
            error[statement-not-in-transaction]: VACUUM cannot run inside a transaction block, and this migration runs in one (`transaction = true` is the default)
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | VACUUM;
              | ^^^^^^
              = help: Set `transaction = false` in migration.toml and keep this statement in a migration of its own.

            1 error, 0 warnings, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&Case::on(Engine::Sqlite, "VACUUM;").render(ID));
    }
}
