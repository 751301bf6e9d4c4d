//! ADD FOREIGN KEY without NOT VALID on an existing table.

use super::*;
use crate::ir::{AlterCmd, ConKind, Constraint, Name, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "add-foreign-key-without-not-valid",
        severity: Severity::Error,
        summary: "ADD FOREIGN KEY validates every row while blocking writes to both tables",
        engines: PG,
        category: "locking",
    },
    check: Check::Stmt(Parts::UpDown, check),
    docs: r#"Adding a foreign key takes SHARE ROW EXCLUSIVE on the table *and* on the referenced table
and checks every existing row before releasing them: writes to both tables wait for the
whole scan. With `NOT VALID` the constraint is added instantly (new rows are checked) and
`VALIDATE CONSTRAINT`, run later in its own migration, checks old rows under SHARE UPDATE
EXCLUSIVE, which blocks neither reads nor writes.

## Bad
```sql
ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);
```

## Good
```sql
ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
-- next migration
ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;
```

An inline `REFERENCES` on `ADD COLUMN` is checked the same way and can't be marked
`NOT VALID`: add the column, then the constraint `NOT VALID`, then validate it.
```sql
ALTER TABLE orders ADD COLUMN user_id bigint;
ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
-- next migration
ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;
```"#,
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
        match c {
            AlterCmd::AddConstraint(k) => report(cx, table, k, None, out),
            // An inline REFERENCES on a new column is a foreign key too.
            AlterCmd::AddColumn { col, .. } => {
                for k in &col.constraints {
                    report(cx, table, k, Some(&col.name), out);
                }
            }
            _ => {}
        }
    }
}

fn report(cx: &StmtCx, table: &Name, k: &Constraint, column: Option<&str>, out: &mut Out) {
    let ConKind::ForeignKey { references, .. } = &k.kind else {
        return;
    };
    if k.not_valid {
        return;
    }
    let (message, help) = match column {
        None => (
            format!("ADD FOREIGN KEY scans {table} while holding SHARE ROW EXCLUSIVE locks on {table} and {references}, blocking writes to both until every row is checked"),
            "Add the constraint with NOT VALID, then VALIDATE CONSTRAINT in a separate migration."
                .to_string(),
        ),
        Some(col) => (
            format!("ADD COLUMN {col} … REFERENCES scans {table} while holding an ACCESS EXCLUSIVE lock on {table} and SHARE ROW EXCLUSIVE on {references}, blocking all access to {table} and writes to {references} until every row is checked"),
            format!("Add the column without REFERENCES, then `ALTER TABLE {table} ADD CONSTRAINT … FOREIGN KEY ({col}) REFERENCES {references} … NOT VALID`, then VALIDATE CONSTRAINT in a separate migration."),
        ),
    };
    out.at(cx.index, message, help)
        .token(cx.src, k.at, cx.engine);
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "add-foreign-key-without-not-valid";

    #[test]
    fn ok_not_valid_or_new_table() {
        lint_ok(ID, "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;");
        lint_ok(ID, "CREATE TABLE o (u int);\nALTER TABLE o ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES users (id);");
    }

    #[test]
    fn err_validating_fk() {
        expect![[r#"
            error[add-foreign-key-without-not-valid]: ADD FOREIGN KEY scans orders while holding SHARE ROW EXCLUSIVE locks on orders and users, blocking writes to both until every row is checked
             --> migrations/20260101000000_m/up.sql:2:7
              |
            2 |   ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);
              |       ^^^^^^^^^^
              = help: Add the constraint with NOT VALID, then VALIDATE CONSTRAINT in a separate migration.

            1 error, 0 warnings, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "ALTER TABLE orders\n  ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);"));
    }

    #[test]
    fn err_inline_fk_on_add_column() {
        expect![[r#"
            error[add-foreign-key-without-not-valid]: ADD COLUMN uid2 … REFERENCES scans orders while holding an ACCESS EXCLUSIVE lock on orders and SHARE ROW EXCLUSIVE on users, blocking all access to orders and writes to users until every row is checked
             --> migrations/20260101000000_m/up.sql:1:43
              |
            1 | ALTER TABLE orders ADD COLUMN uid2 bigint REFERENCES users(id);
              |                                           ^^^^^^^^^^
              = help: Add the column without REFERENCES, then `ALTER TABLE orders ADD CONSTRAINT … FOREIGN KEY (uid2) REFERENCES users … NOT VALID`, then VALIDATE CONSTRAINT in a separate migration.

            1 error, 0 warnings, 0 infos in 1 file (1 statement)
        "#]]
        .assert_eq(&lint_errors(
            ID,
            "ALTER TABLE orders ADD COLUMN uid2 bigint REFERENCES users(id);",
        ));
        lint_ok(
            ID,
            "CREATE TABLE o (u int);\nALTER TABLE o ADD COLUMN u2 bigint REFERENCES users (id);",
        );
        lint_ok(ID, "ALTER TABLE orders ADD COLUMN uid2 bigint;\nALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (uid2) REFERENCES users (id) NOT VALID;");
    }
}
