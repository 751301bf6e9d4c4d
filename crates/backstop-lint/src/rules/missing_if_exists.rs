//! CREATE without IF NOT EXISTS, DROP without IF EXISTS.

use super::*;
use crate::ir::{AlterCmd, Obj, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "missing-if-exists",
        severity: Severity::Info,
        summary: "CREATE without IF NOT EXISTS or DROP without IF EXISTS fails when re-run after a partial apply",
        engines: ALL,
        category: "hygiene",
    },
    check: Check::Stmt(Parts::UpDown, check),
    docs: r#"In a transactional migration a failure undoes everything, so re-running is always safe and
this is only informational. In a migration with `transaction = false` (and on MySQL, where
DDL commits on its own) a failure leaves the statements before it applied; re-running then
fails on the first `CREATE` of something that exists, so there it is a warning.

Checked: CREATE TABLE / INDEX / SCHEMA / SEQUENCE / EXTENSION / VIEW (PostgreSQL and SQLite
indexes; MySQL has no `CREATE INDEX IF NOT EXISTS`), ADD COLUMN (PostgreSQL), and every DROP.

## Bad
```sql
CREATE INDEX CONCURRENTLY users_email_idx ON users (email);
```

## Good
```sql
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx ON users (email);
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let non_tx = !cx.mig.transaction || cx.engine == Engine::Mysql;
    let found = match &cx.stmt.kind {
        StmtKind::CreateTable {
            table,
            if_not_exists: false,
            temporary: false,
            ..
        } => Some((format!("CREATE TABLE {table}"), "IF NOT EXISTS")),
        StmtKind::CreateIndex {
            name,
            if_not_exists: false,
            ..
        } if cx.engine != Engine::Mysql => Some((
            format!(
                "CREATE INDEX{}",
                name.as_ref().map(|n| format!(" {n}")).unwrap_or_default()
            ),
            "IF NOT EXISTS",
        )),
        StmtKind::Create {
            obj: obj @ (Obj::Schema | Obj::Sequence | Obj::Extension),
            name,
            if_not_exists: false,
            ..
        } => Some((format!("CREATE {} {name}", obj.sql()), "IF NOT EXISTS")),
        StmtKind::CreateView {
            name,
            replace: false,
            if_not_exists: false,
            materialized,
            ..
        } if cx.engine != Engine::Postgres || *materialized => Some((
            format!(
                "CREATE {}VIEW {name}",
                if *materialized { "MATERIALIZED " } else { "" }
            ),
            "IF NOT EXISTS",
        )),
        StmtKind::Drop {
            obj,
            names,
            table,
            if_exists: false,
            ..
        } if !matches!(obj, Obj::Other(_)) => {
            let list = names
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let on = table
                .as_ref()
                .map(|t| format!(" ON {t}"))
                .unwrap_or_default();
            Some((format!("DROP {} {list}{on}", obj.sql()), "IF EXISTS"))
        }
        StmtKind::AlterTable {
            table, obj, cmds, ..
        } if cx.engine == Engine::Postgres => {
            // A composite type's columns are attributes, and ADD ATTRIBUTE has no IF NOT EXISTS.
            let word = if *obj == Obj::Type {
                "ATTRIBUTE"
            } else {
                "COLUMN"
            };
            let alter = format!("ALTER {} {table}", obj.sql());
            cmds.iter().find_map(|c| match c {
                AlterCmd::AddColumn {
                    col,
                    if_not_exists: false,
                } if *obj != Obj::Type => {
                    Some((format!("{alter} ADD {word} {}", col.name), "IF NOT EXISTS"))
                }
                AlterCmd::DropColumn {
                    name,
                    if_exists: false,
                    ..
                } => Some((format!("{alter} DROP {word} {name}"), "IF EXISTS")),
                _ => None,
            })
        }
        _ => None,
    };
    let Some((what, clause)) = found else { return };
    // `CREATE INDEX IF NOT EXISTS` needs a name to look for.
    let unnamed_index = matches!(&cx.stmt.kind, StmtKind::CreateIndex { name: None, .. });
    let hit = out.at(
        cx.index,
        format!(
            "{what} has no {clause}: re-running the migration after a partial apply fails here"
        ),
        if unnamed_index {
            format!("Name the index and add {clause} so the statement can be re-run.")
        } else {
            format!("Add {clause} so the statement can be re-run.")
        },
    );
    if non_tx {
        hit.severity(Severity::Warning);
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "missing-if-exists";

    #[test]
    fn ok_guarded() {
        lint_ok(ID, "CREATE TABLE IF NOT EXISTS t (a int);\nDROP INDEX IF EXISTS i;\nALTER TABLE t ADD COLUMN IF NOT EXISTS b int;");
    }

    #[test]
    fn err_unguarded() {
        expect![[r#"
            info[missing-if-exists]: CREATE TABLE t has no IF NOT EXISTS: re-running the migration after a partial apply fails here
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | CREATE TABLE t (a int);
              | ^^^^^^^^^^^^^^^^^^^^^^
              = help: Add IF NOT EXISTS so the statement can be re-run.

            info[missing-if-exists]: DROP INDEX i has no IF EXISTS: re-running the migration after a partial apply fails here
             --> migrations/20260101000000_m/up.sql:2:1
              |
            2 | DROP INDEX i;
              | ^^^^^^^^^^^^
              = help: Add IF EXISTS so the statement can be re-run.

            0 errors, 0 warnings, 2 infos in 1 file (2 statements)
        "#]].assert_eq(&lint_errors(ID, "CREATE TABLE t (a int);\nDROP INDEX i;"));
    }

    #[test]
    fn schema_statements_are_named_as_written() {
        use backstop_core::driver::Engine;
        // Regression: `DROP SCHEMA s2` was reported as `DROP DATABASE s2` on SQLite and MySQL.
        for engine in [Engine::Postgres, Engine::Mysql] {
            let out = Case::on(engine, "DROP SCHEMA s2;").render(ID);
            assert!(out.contains("DROP SCHEMA s2 has no IF EXISTS"), "{out}");
        }
        // SQLite has no schemas to create or drop (ATTACH is its way to another database).
        lint_case_ok(
            ID,
            Case::on(Engine::Sqlite, "CREATE SCHEMA s2;").down("DROP SCHEMA s2;"),
        );
    }

    #[test]
    fn statements_are_named_as_written() {
        // Regression: ALTER FOREIGN TABLE and ALTER TYPE … ATTRIBUTE were reported as
        // ALTER TABLE … COLUMN, DROP PROCEDURE as DROP FUNCTION, and ADD ATTRIBUTE (which
        // has no IF NOT EXISTS) was told to add one.
        let out = lint_errors(
            ID,
            "ALTER FOREIGN TABLE remote.orders ADD COLUMN c int;\n\
             ALTER TYPE app.pair ADD ATTRIBUTE c int;\n\
             ALTER TYPE app.pair DROP ATTRIBUTE c;\n\
             DROP PROCEDURE app.p();\n\
             DROP AGGREGATE app.total(int);\n\
             DROP FOREIGN TABLE remote.orders;\n\
             DROP TRIGGER tr ON app.t;",
        );
        for line in [
            "ALTER FOREIGN TABLE remote.orders ADD COLUMN c has no IF NOT EXISTS",
            "ALTER TYPE app.pair DROP ATTRIBUTE c has no IF EXISTS",
            "DROP PROCEDURE app.p has no IF EXISTS",
            "DROP AGGREGATE app.total has no IF EXISTS",
            "DROP FOREIGN TABLE remote.orders has no IF EXISTS",
            "DROP TRIGGER tr ON app.t has no IF EXISTS",
        ] {
            assert!(out.contains(line), "{line}\n{out}");
        }
        assert!(!out.contains("ADD ATTRIBUTE"), "{out}");
        assert!(!out.contains("FUNCTION"), "{out}");
    }

    #[test]
    fn unnamed_index_is_told_to_take_a_name() {
        // `CREATE INDEX IF NOT EXISTS ON t (a)` is a syntax error: the name comes first.
        let out = lint_errors(ID, "CREATE INDEX ON users (email);");
        assert!(
            out.contains("help: Name the index and add IF NOT EXISTS"),
            "{out}"
        );
    }

    #[test]
    fn warning_without_transaction() {
        expect![[r#"
            warning[missing-if-exists]: CREATE INDEX i has no IF NOT EXISTS: re-running the migration after a partial apply fails here
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | CREATE INDEX CONCURRENTLY i ON users (email);
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Add IF NOT EXISTS so the statement can be re-run.

            0 errors, 1 warning, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&Case::pg("CREATE INDEX CONCURRENTLY i ON users (email);").toml("transaction = false\n").render(ID));
    }
}
