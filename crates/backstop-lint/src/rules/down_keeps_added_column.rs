//! Columns added by up.sql that down.sql doesn't remove.

use super::*;
use crate::effects;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "down-keeps-added-column",
        severity: Severity::Warning,
        summary: "A column added in up.sql is not removed by down.sql",
        engines: ALL,
        category: "reversibility",
    },
    check: Check::Migration(check),
    docs: r#"A column that up.sql adds to an existing table must be dropped by down.sql (or renamed
back), otherwise the schema after a rollback differs from the one before the migration and
backstop's fingerprint check fails.

## Bad
```sql
-- up.sql
ALTER TABLE users ADD COLUMN nickname text;
-- down.sql
SELECT 1;
```

## Good
```sql
-- down.sql
ALTER TABLE users DROP COLUMN nickname;
```"#,
};

fn check(cx: &MigCx, out: &mut Out) {
    let Some(down) = cx.down else { return };
    if cx.mig.irreversible.is_some() {
        return;
    }
    let up = effects::of(cx.up);
    let back = effects::of(down);
    for c in &up.cols_added {
        if back.removes_col(c) {
            continue;
        }
        out.at_part(
            Part::Up,
            c.stmt,
            format!("column {}.{} added here is not dropped by down.sql, so a rollback leaves it behind", c.table_display, c.column),
            format!("Add `ALTER TABLE {} DROP COLUMN {}` to down.sql.", c.table_display, c.column),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "down-keeps-added-column";

    #[test]
    fn ok_dropped() {
        lint_case_ok(
            ID,
            Case::pg("ALTER TABLE users ADD COLUMN nickname text;")
                .down("ALTER TABLE users DROP COLUMN nickname;"),
        );
    }

    #[test]
    fn sqlite_columns_match_ignoring_case() {
        use backstop_core::driver::Engine;
        // SQLite resolves `email` to the column added as "Email"; PostgreSQL does not.
        lint_case_ok(
            ID,
            Case::on(Engine::Sqlite, "ALTER TABLE t ADD COLUMN \"Email\" TEXT;")
                .down("ALTER TABLE T DROP COLUMN email;"),
        );
        let c = Case::pg("ALTER TABLE t ADD COLUMN \"Email\" text;")
            .down("ALTER TABLE t DROP COLUMN email;");
        assert!(c.render(ID).contains("not dropped"), "{}", c.render(ID));
    }

    #[test]
    fn err_kept() {
        expect![[r#"
            warning[down-keeps-added-column]: column users.nickname added here is not dropped by down.sql, so a rollback leaves it behind
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | ALTER TABLE users ADD COLUMN nickname text;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Add `ALTER TABLE users DROP COLUMN nickname` to down.sql.

            0 errors, 1 warning, 0 infos in 2 files (2 statements)
        "#]].assert_eq(&Case::pg("ALTER TABLE users ADD COLUMN nickname text;").down("SELECT 1;").render(ID));
    }
}
