//! DROP INDEX of an index a constraint depends on.

use super::*;
use crate::ir::{Obj, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "drop-index-used-by-constraint",
        severity: Severity::Error,
        summary:
            "DROP INDEX of an index that backs a primary key, unique constraint or foreign key",
        engines: PG,
        category: "destructive",
    },
    check: Check::Stmt(Parts::Up, check),
    docs: r#"An index that backs a PRIMARY KEY or UNIQUE constraint, or that a FOREIGN KEY elsewhere
relies on, can't be dropped on its own: the statement fails, and with `CASCADE` it silently
drops the constraints too, removing integrity guarantees the application relies on.
backstop knows these dependencies for objects created by the migrations it lints.

## Bad
```sql
DROP INDEX users_email_key;   -- backs UNIQUE (email)
```

## Good
```sql
ALTER TABLE users DROP CONSTRAINT users_email_key;   -- explicit, reviewable
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let StmtKind::Drop {
        obj: Obj::Index,
        names,
        cascade,
        ..
    } = &cx.stmt.kind
    else {
        return;
    };
    for n in names {
        let deps = cx.catalog.index_dependents(n);
        if deps.is_empty() {
            continue;
        }
        let them = if deps.len() == 1 { "it" } else { "them" };
        let outcome = if *cascade {
            format!("CASCADE drops {them} too")
        } else {
            format!("the statement fails without CASCADE, and CASCADE would drop {them} too")
        };
        out.at(
            cx.index,
            format!("index {n} backs {}: {outcome}", deps.join(", ")),
            "Drop or replace the dependent constraints explicitly before dropping the index.",
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "drop-index-used-by-constraint";

    #[test]
    fn ok_plain_index() {
        lint_ok(
            ID,
            "CREATE TABLE t (a int);\nCREATE INDEX t_a_idx ON t (a);\nDROP INDEX t_a_idx;",
        );
    }

    #[test]
    fn err_backing_index() {
        expect![[r#"
            error[drop-index-used-by-constraint]: index users_email_key backs constraint users_email_key: the statement fails without CASCADE, and CASCADE would drop it too
             --> migrations/20260101000000_m/up.sql:4:1
              |
            4 | DROP INDEX users_email_key;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Drop or replace the dependent constraints explicitly before dropping the index.

            error[drop-index-used-by-constraint]: index users_pkey backs constraint users_pkey, foreign key orders_user_id_fkey on orders: CASCADE drops them too
             --> migrations/20260101000000_m/up.sql:5:1
              |
            5 | DROP INDEX users_pkey CASCADE;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Drop or replace the dependent constraints explicitly before dropping the index.

            2 errors, 0 warnings, 0 infos in 1 file (5 statements)
        "#]].assert_eq(&lint_errors(
            ID,
            "CREATE TABLE users (id bigint PRIMARY KEY, email text);\nALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);\nCREATE TABLE orders (user_id bigint REFERENCES users (id));\nDROP INDEX users_email_key;\nDROP INDEX users_pkey CASCADE;",
        ));
    }
}
