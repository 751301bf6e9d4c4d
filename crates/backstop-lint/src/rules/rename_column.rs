//! Renaming a column (or an enum value) under running code.

use super::*;
use crate::ir::{Obj, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "rename-column",
        severity: Severity::Error,
        summary: "Renaming a column breaks running code that still uses the old name",
        engines: ALL,
        category: "compatibility",
    },
    check: Check::Stmt(Parts::Up, check),
    docs: r#"During a deploy the old application version keeps running while the migration applies
(and after a rollback of the code, it runs against the new schema). Every query it sends
that names the old column fails at once. The same holds for renaming an enum value
(`ALTER TYPE … RENAME VALUE`).

## Bad
```sql
ALTER TABLE users RENAME COLUMN name TO full_name;
```

## Good
Expand and contract: add `full_name`, write both columns, backfill, move readers to
`full_name`, and drop `name` in a later release."#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    if let StmtKind::RenameEnumValue { ty, old, new } = &cx.stmt.kind {
        out.at(
            cx.index,
            format!("renaming value '{old}' of type {ty} to '{new}' breaks running code that still writes or compares '{old}'"),
            "Add the new value, migrate rows and code to it, and stop using the old value before removing it.",
        );
        return;
    }
    let StmtKind::Rename {
        obj,
        target,
        column: Some(old),
        new_name,
        ..
    } = &cx.stmt.kind
    else {
        return;
    };
    if !cx.catalog.is_existing(target) || !cx.catalog.column_has_old_data(target, old) {
        return;
    }
    if *obj == Obj::Type {
        out.at(
            cx.index,
            format!("renaming attribute {old} of type {target} to {new_name} breaks running code that still uses {old}"),
            "Add the new attribute, move code to it, then drop the old attribute in a later release.",
        );
        return;
    }
    out.at(
        cx.index,
        format!("renaming column {target}.{old} to {new_name} breaks running code that still uses {old}"),
        "Add the new column, write to both, backfill, move readers, then drop the old column in a later release.",
    );
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use backstop_core::driver::Engine;
    use expect_test::expect;
    const ID: &str = "rename-column";

    #[test]
    fn ok_new_table() {
        lint_ok(
            ID,
            "CREATE TABLE t (a int);\nALTER TABLE t RENAME COLUMN a TO b;",
        );
    }

    #[test]
    fn err_rename() {
        expect![[r#"
            error[rename-column]: renaming column users.name to full_name breaks running code that still uses name
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | ALTER TABLE users RENAME COLUMN name TO full_name;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Add the new column, write to both, backfill, move readers, then drop the old column in a later release.

            error[rename-column]: renaming value 'sad' of type mood to 'unhappy' breaks running code that still writes or compares 'sad'
             --> migrations/20260101000000_m/up.sql:2:1
              |
            2 | ALTER TYPE mood RENAME VALUE 'sad' TO 'unhappy';
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Add the new value, migrate rows and code to it, and stop using the old value before removing it.

            2 errors, 0 warnings, 0 infos in 1 file (2 statements)
        "#]].assert_eq(&lint_errors(ID, "ALTER TABLE users RENAME COLUMN name TO full_name;\nALTER TYPE mood RENAME VALUE 'sad' TO 'unhappy';"));
    }

    #[test]
    fn composite_type_attribute_is_not_an_enum_value() {
        // Regression: RENAME ATTRIBUTE of a composite type was reported as renaming an
        // enum value.
        let out = lint_errors(ID, "ALTER TYPE app.pair RENAME ATTRIBUTE a TO a2;");
        assert!(
            out.contains(
                "renaming attribute a of type app.pair to a2 breaks running code that still uses a"
            ),
            "{out}"
        );
    }

    #[test]
    fn err_rename_sqlite() {
        expect![[r#"
            error[rename-column]: renaming column users.name to full_name breaks running code that still uses name
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | ALTER TABLE users RENAME COLUMN name TO full_name;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Add the new column, write to both, backfill, move readers, then drop the old column in a later release.

            1 error, 0 warnings, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&Case::on(Engine::Sqlite, "ALTER TABLE users RENAME COLUMN name TO full_name;").render(ID));
    }
}
