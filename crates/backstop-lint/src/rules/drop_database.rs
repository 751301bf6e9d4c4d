//! DROP DATABASE / CREATE DATABASE in a migration.

use super::*;
use crate::ir::{Obj, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "drop-database",
        severity: Severity::Error,
        summary: "DROP DATABASE in a migration destroys everything in it",
        engines: PG_MYSQL,
        category: "destructive",
    },
    check: Check::Stmt(Parts::UpDown, check),
    docs: r#"A migration runs against one database in every environment it is applied to. A
`DROP DATABASE` there destroys everything in that database (on MySQL, `DROP SCHEMA` is the
same statement) and nothing can restore it from down.sql.

## Bad
```sql
DROP DATABASE analytics;
```

## Good
Drop databases by hand, with a backup, outside migrations."#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let StmtKind::Drop {
        obj: obj @ Obj::Database { .. },
        names,
        ..
    } = &cx.stmt.kind
    else {
        return;
    };
    let list = names
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    out.at(
        cx.index,
        format!(
            "DROP {} {list} destroys every table and row in it",
            obj.sql()
        ),
        format!(
            "Remove DROP {} from the migration and drop databases by hand, after a backup.",
            obj.sql()
        ),
    );
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "drop-database";

    #[test]
    fn ok_drop_table() {
        lint_ok(ID, "DROP TABLE IF EXISTS t;");
    }

    #[test]
    fn mysql_drop_schema_is_named_as_written() {
        use backstop_core::driver::Engine;
        // MySQL's DROP SCHEMA is DROP DATABASE; the finding keeps the script's word.
        expect![[r#"
            error[drop-database]: DROP SCHEMA analytics destroys every table and row in it
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | DROP SCHEMA IF EXISTS analytics;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Remove DROP SCHEMA from the migration and drop databases by hand, after a backup.

            1 error, 0 warnings, 0 infos in 1 file (1 statement)
        "#]]
        .assert_eq(&Case::on(Engine::Mysql, "DROP SCHEMA IF EXISTS analytics;").render(ID));
        // PostgreSQL's DROP SCHEMA drops a schema, not a database.
        lint_ok(ID, "DROP SCHEMA IF EXISTS analytics;");
    }

    #[test]
    fn err_drop_database() {
        expect![[r#"
            error[drop-database]: DROP DATABASE analytics destroys every table and row in it
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | DROP DATABASE analytics;
              | ^^^^^^^^^^^^^^^^^^^^^^^
              = help: Remove DROP DATABASE from the migration and drop databases by hand, after a backup.

            1 error, 0 warnings, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&Case::pg("DROP DATABASE analytics;").toml("transaction = false\n").render(ID));
    }
}
