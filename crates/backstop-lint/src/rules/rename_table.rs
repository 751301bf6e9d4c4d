//! Renaming a table, view, sequence or schema under running code.

use super::*;
use crate::ir::{Obj, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "rename-table",
        severity: Severity::Error,
        summary:
            "Renaming a table, view or schema breaks running code that still uses the old name",
        engines: ALL,
        category: "compatibility",
    },
    check: Check::Stmt(Parts::Up, check),
    docs: r#"Queries from the application version that is still running name the old table (or view,
materialized view, sequence, schema). From the moment the rename commits they fail.

## Bad
```sql
ALTER TABLE customers RENAME TO clients;
```

## Good
Rename, then create a view with the old name for the old code
(`CREATE VIEW customers AS SELECT * FROM clients`), and drop the view in a later release
once nothing uses it."#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let StmtKind::Rename {
        obj,
        target,
        column: None,
        new_name,
        ..
    } = &cx.stmt.kind
    else {
        return;
    };
    if !matches!(
        obj,
        Obj::Table | Obj::ForeignTable | Obj::View | Obj::MatView | Obj::Sequence | Obj::Schema
    ) {
        return;
    }
    if *obj != Obj::Schema && !cx.catalog.is_existing(target) {
        return;
    }
    let what = obj.sql().to_lowercase();
    out.at(
        cx.index,
        format!(
            "renaming {what} {target} to {new_name} breaks running code that still uses {target}"
        ),
        format!(
            "Keep the old name working (e.g. a view named {}) until no running code uses it.",
            target.name
        ),
    );
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "rename-table";

    #[test]
    fn ok_index_rename_and_new_table() {
        lint_ok(ID, "ALTER INDEX users_email_idx RENAME TO users_email_key;");
        lint_ok(ID, "CREATE TABLE t (a int);\nALTER TABLE t RENAME TO u;");
    }

    #[test]
    fn err_rename_table() {
        expect![[r#"
            error[rename-table]: renaming table customers to clients breaks running code that still uses customers
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | ALTER TABLE customers RENAME TO clients;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Keep the old name working (e.g. a view named customers) until no running code uses it.

            error[rename-table]: renaming schema billing to finance breaks running code that still uses billing
             --> migrations/20260101000000_m/up.sql:2:1
              |
            2 | ALTER SCHEMA billing RENAME TO finance;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Keep the old name working (e.g. a view named billing) until no running code uses it.

            2 errors, 0 warnings, 0 infos in 1 file (2 statements)
        "#]].assert_eq(&lint_errors(ID, "ALTER TABLE customers RENAME TO clients;\nALTER SCHEMA billing RENAME TO finance;"));
    }
}
