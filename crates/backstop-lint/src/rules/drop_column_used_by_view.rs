//! Dropping a column a view still reads.

use super::*;
use crate::ir::{AlterCmd, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "drop-column-used-by-view",
        severity: Severity::Error,
        summary: "Dropping a column that a view still reads fails, or drops the view with CASCADE",
        engines: PG,
        category: "compatibility",
    },
    check: Check::Stmt(Parts::Up, check),
    docs: r#"PostgreSQL refuses to drop a column a view depends on; with `CASCADE` it drops the view
as well, and every query on the view starts failing. backstop knows the views created by
the migrations it lints (`SELECT *` views depend on every column the table had when the
view was created).

## Bad
```sql
ALTER TABLE users DROP COLUMN nickname;   -- active_users selects nickname
```

## Good
```sql
CREATE OR REPLACE VIEW active_users AS SELECT id, email FROM users WHERE active;
ALTER TABLE users DROP COLUMN nickname;
```
(`CREATE OR REPLACE VIEW` can't remove columns; drop and recreate the view in that case.)"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let StmtKind::AlterTable { table, cmds, .. } = &cx.stmt.kind else {
        return;
    };
    for c in cmds {
        let AlterCmd::DropColumn { name, cascade, .. } = c else {
            continue;
        };
        let views = cx.catalog.views_using_column(table, name);
        if views.is_empty() {
            continue;
        }
        let outcome = if *cascade {
            "CASCADE drops it too, breaking every query on it"
        } else {
            "the statement fails unless the view changes first"
        };
        let outcome = if views.len() > 1 {
            outcome
                .replace("drops it", "drops them")
                .replace("on it", "on them")
                .replace("the view changes", "the views change")
        } else {
            outcome.to_string()
        };
        out.at(
            cx.index,
            if views.len() == 1 {
                format!(
                    "dropping {table}.{name} breaks view {}, which reads it: {outcome}",
                    views[0]
                )
            } else {
                format!(
                    "dropping {table}.{name} breaks views {}, which read it: {outcome}",
                    views.join(", ")
                )
            },
            "Recreate the view without the column first, in the same migration.",
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "drop-column-used-by-view";

    #[test]
    fn ok_view_does_not_read_it() {
        lint_ok(ID, "CREATE TABLE u (id int, a text, b text);\nCREATE VIEW v AS SELECT id, a FROM u;\nALTER TABLE u DROP COLUMN b;");
    }

    #[test]
    fn err_view_reads_it() {
        expect![[r#"
            error[drop-column-used-by-view]: dropping u.nickname breaks views active_users, everything, which read it: the statement fails unless the views change first
             --> migrations/20260101000000_m/up.sql:4:1
              |
            4 | ALTER TABLE u DROP COLUMN nickname;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Recreate the view without the column first, in the same migration.

            1 error, 0 warnings, 0 infos in 1 file (4 statements)
        "#]].assert_eq(&lint_errors(
            ID,
            "CREATE TABLE u (id int, nickname text);\nCREATE VIEW active_users AS SELECT id, nickname FROM u;\nCREATE VIEW everything AS SELECT * FROM u;\nALTER TABLE u DROP COLUMN nickname;",
        ));
    }
}
