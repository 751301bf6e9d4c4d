//! A type change to a type that can't hold every old value.

use super::*;
use crate::impact::{type_change, TypeChange};
use crate::ir::{AlterCmd, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "narrowing-type-change",
        severity: Severity::Warning,
        summary:
            "A narrowing type change can fail on existing rows or silently truncate or round them",
        engines: PG_MYSQL,
        category: "destructive",
    },
    check: Check::Stmt(Parts::Up, check),
    docs: r#"Changing `varchar(255)` to `varchar(50)`, `bigint` to `integer`, `numeric(12,4)` to
`numeric(10,2)` or `timestamptz` to `date` either fails half-way when a row doesn't fit
(after holding the lock for the whole rewrite), or, on MySQL without strict mode and with
explicit casts, silently truncates or rounds the data. backstop reports it when it knows
the old type from an earlier migration.

## Bad
```sql
ALTER TABLE users ALTER COLUMN name TYPE varchar(50);   -- was varchar(255)
```

## Good
Check the data first (`SELECT count(*) FROM users WHERE length(name) > 50`), fix it in a data
migration (back up the rows it changes and set `data_loss = "accepted"`), then narrow the
type."#,
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
        let AlterCmd::ColumnType {
            column,
            ty,
            using,
            at,
        } = c
        else {
            continue;
        };
        let Some(old) = cx.catalog.column(table, column).and_then(|c| c.ty.as_ref()) else {
            continue;
        };
        if type_change(Some(old), ty, using.is_some()) == TypeChange::Narrowing {
            out.at(
                cx.index,
                format!("changing {table}.{column} from {} to {} fails on rows whose values don't fit, or truncates or rounds them", old.display, ty.display),
                "Check and fix the existing values in an earlier data migration, then narrow the type.",
            )
            .token(cx.src, *at, cx.engine);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "narrowing-type-change";

    #[test]
    fn ok_widening() {
        let r = Case::pg("ALTER TABLE u ALTER COLUMN name TYPE varchar(400);").report();
        assert!(r.findings.iter().all(|f| f.rule != ID));
    }

    #[test]
    fn err_narrowing_known_column() {
        // The column is known from an earlier migration in the same run.
        let m1 = crate::in_memory_migration(
            1,
            "a",
            "CREATE TABLE u (name varchar(255), n bigint);",
            Some("DROP TABLE u;"),
            None,
            None,
        );
        let m2 = crate::in_memory_migration(
            2,
            "b",
            "ALTER TABLE u ALTER COLUMN name TYPE varchar(50), ALTER COLUMN n TYPE int;",
            Some("SELECT 1;"),
            None,
            None,
        );
        let mut r = crate::lint_migrations(&[m1, m2], &crate::LintOptions::default());
        r.findings.retain(|f| f.rule == ID);
        r.finish();
        expect![[r#"
            warning[narrowing-type-change]: changing u.name from varchar(255) to varchar(50) fails on rows whose values don't fit, or truncates or rounds them
             --> migrations/2_b/up.sql:1:38
              |
            1 | ALTER TABLE u ALTER COLUMN name TYPE varchar(50), ALTER COLUMN n TYPE int;
              |                                      ^^^^^^^
              = help: Check and fix the existing values in an earlier data migration, then narrow the type.

            warning[narrowing-type-change]: changing u.n from bigint to integer fails on rows whose values don't fit, or truncates or rounds them
             --> migrations/2_b/up.sql:1:71
              |
            1 | ALTER TABLE u ALTER COLUMN name TYPE varchar(50), ALTER COLUMN n TYPE int;
              |                                                                       ^^^
              = help: Check and fix the existing values in an earlier data migration, then narrow the type.

            0 errors, 2 warnings, 0 infos in 4 files (4 statements)
        "#]].assert_eq(&crate::render_text(&r));
    }
}
