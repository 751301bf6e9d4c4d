//! DROP … CASCADE / TRUNCATE … CASCADE.

use super::*;
use crate::ir::{AlterCmd, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "cascade-drops-dependents",
        severity: Severity::Warning,
        summary: "CASCADE silently drops or empties objects the migration doesn't name",
        engines: PG,
        category: "destructive",
    },
    check: Check::Stmt(Parts::Up, check),
    docs: r#"`DROP … CASCADE` also drops every view, foreign key, default or trigger that depends on the
object, and `TRUNCATE … CASCADE` empties every table with a foreign key to the truncated
one. None of those objects appear in the migration, so reviewers can't see them and
down.sql doesn't recreate them.

## Bad
```sql
DROP TABLE accounts CASCADE;
```

## Good
```sql
DROP VIEW account_summaries;
ALTER TABLE payments DROP CONSTRAINT payments_account_fk;
DROP TABLE accounts;
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let help = "Drop the dependent objects explicitly, then drop without CASCADE.";
    match &cx.stmt.kind {
        StmtKind::Drop {
            obj,
            names,
            cascade: true,
            ..
        } => {
            let list = names
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            out.at(cx.index, format!("DROP {} {list} CASCADE also drops every object that depends on it (views, foreign keys, defaults), none of them named here", obj.sql()), help);
        }
        StmtKind::Truncate {
            tables,
            cascade: true,
        } => {
            let list = tables
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            out.at(
                cx.index,
                format!(
                    "TRUNCATE {list} CASCADE also empties every table with a foreign key to it"
                ),
                "Truncate the referencing tables explicitly, or delete only the rows you mean to.",
            );
        }
        StmtKind::AlterTable { table, cmds, .. } => {
            for c in cmds {
                match c {
                    AlterCmd::DropColumn {
                        name,
                        cascade: true,
                        ..
                    } => {
                        out.at(cx.index, format!("DROP COLUMN {table}.{name} CASCADE also drops the views, indexes and constraints that use it"), help);
                    }
                    AlterCmd::DropConstraint {
                        name,
                        cascade: true,
                        ..
                    } => {
                        out.at(cx.index, format!("DROP CONSTRAINT {name} CASCADE also drops the foreign keys that rely on it"), help);
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "cascade-drops-dependents";

    #[test]
    fn ok_restrict() {
        lint_ok(ID, "DROP TABLE accounts;");
    }

    #[test]
    fn err_cascade() {
        expect![[r#"
            warning[cascade-drops-dependents]: DROP TABLE accounts CASCADE also drops every object that depends on it (views, foreign keys, defaults), none of them named here
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | DROP TABLE accounts CASCADE;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Drop the dependent objects explicitly, then drop without CASCADE.

            warning[cascade-drops-dependents]: TRUNCATE users CASCADE also empties every table with a foreign key to it
             --> migrations/20260101000000_m/up.sql:2:1
              |
            2 | TRUNCATE users CASCADE;
              | ^^^^^^^^^^^^^^^^^^^^^^
              = help: Truncate the referencing tables explicitly, or delete only the rows you mean to.

            0 errors, 2 warnings, 0 infos in 1 file (2 statements)
        "#]].assert_eq(&lint_errors(ID, "DROP TABLE accounts CASCADE;\nTRUNCATE users CASCADE;"));
    }
}
