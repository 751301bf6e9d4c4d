//! Objects and columns dropped by up.sql that down.sql doesn't recreate.

use super::*;
use crate::effects;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "down-misses-dropped-object",
        severity: Severity::Warning,
        summary: "An object or column dropped in up.sql is not recreated by down.sql",
        engines: ALL,
        category: "reversibility",
    },
    check: Check::Migration(check),
    docs: r#"If up.sql drops a table, view, index, function, type, constraint or column, down.sql has
to create it again for the rollback to restore the schema (tables and columns come back
empty: their data is gone unless you backed it up, as `data_loss = "accepted"` in the
contract acknowledges). A down.sql that forgets one
fails backstop's schema fingerprint check at rollback time, when you can least afford it.

## Bad
```sql
-- up.sql
ALTER TABLE users DROP COLUMN legacy_flags;
-- down.sql
SELECT 1;
```

## Good
```sql
-- down.sql
ALTER TABLE users ADD COLUMN legacy_flags integer NOT NULL DEFAULT 0;
```"#,
};

fn check(cx: &MigCx, out: &mut Out) {
    let Some(down) = cx.down else { return };
    if cx.mig.irreversible.is_some() {
        return;
    }
    let up = effects::of(cx.up);
    let back = effects::of(down);
    for e in &up.dropped {
        if back.recreates(e) {
            continue;
        }
        out.at_part(
            Part::Up,
            e.stmt,
            format!("{} {} dropped here is not recreated by down.sql, so a rollback can't restore the schema", e.obj.sql(), e.display),
            format!("Recreate {} {} in down.sql.", e.obj.sql(), e.display),
        );
    }
    for c in &up.cols_dropped {
        if back.recreates_col(c) {
            continue;
        }
        out.at_part(
            Part::Up,
            c.stmt,
            format!("column {}.{} dropped here is not added back by down.sql, so a rollback can't restore the schema", c.table_display, c.column),
            format!("Add {}.{} back in down.sql.", c.table_display, c.column),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "down-misses-dropped-object";

    #[test]
    fn ok_recreated() {
        lint_case_ok(
            ID,
            Case::pg("ALTER TABLE users DROP COLUMN flags;")
                .down("ALTER TABLE users ADD COLUMN flags int;"),
        );
        lint_case_ok(
            ID,
            Case::pg("DROP VIEW v;").down("CREATE VIEW v AS SELECT 1;"),
        );
    }

    #[test]
    fn ok_trigger_recreated() {
        use backstop_core::driver::Engine;
        // Regression: a dropped trigger never matched the one down.sql creates again.
        lint_case_ok(
            ID,
            Case::pg("DROP TRIGGER IF EXISTS tr ON s2.t;").down(
                "CREATE TRIGGER tr BEFORE UPDATE OF a3 ON s2.t FOR EACH ROW WHEN (NEW.a3 > 0) EXECUTE FUNCTION tf();",
            ),
        );
        lint_case_ok(
            ID,
            Case::on(Engine::Sqlite, "DROP TRIGGER tr;")
                .down("CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END;"),
        );
        lint_case_ok(
            ID,
            Case::on(Engine::Mysql, "DROP TRIGGER other.tr;")
                .down("CREATE TRIGGER tr BEFORE UPDATE ON other.t FOR EACH ROW SET NEW.a = 1;"),
        );
    }

    #[test]
    fn ok_mysql_index_recreated() {
        use backstop_core::driver::Engine;
        // Regression: `ALTER TABLE t DROP INDEX i` was reported as dropping CONSTRAINT i,
        // which no CREATE INDEX in down.sql could bring back.
        for down in [
            "CREATE INDEX t_a_idx ON t (a);",
            "ALTER TABLE t ADD INDEX t_a_idx (a);",
            "ALTER TABLE t ADD KEY t_a_idx (a), ALGORITHM=INPLACE;",
        ] {
            lint_case_ok(
                ID,
                Case::on(Engine::Mysql, "ALTER TABLE t DROP INDEX t_a_idx;").down(down),
            );
        }
        let c = Case::on(Engine::Mysql, "ALTER TABLE t DROP INDEX t_a_idx;").down("SELECT 1;");
        assert!(
            c.render(ID).contains("INDEX t_a_idx dropped here"),
            "{}",
            c.render(ID)
        );
    }

    #[test]
    fn ok_replaced_and_renamed_kinds() {
        // Regression: CREATE OR REPLACE in down.sql did not count as recreating what up.sql
        // dropped; range and shell types, aggregates and foreign tables were not read as
        // created at all.
        for (up, down) in [
            (
                "DROP VIEW IF EXISTS app.v;",
                "CREATE OR REPLACE VIEW app.v AS SELECT 1 AS a;",
            ),
            (
                "DROP FUNCTION f();",
                "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS $$SELECT 1$$;",
            ),
            ("DROP TYPE r4;", "CREATE TYPE r4 AS RANGE (subtype = int4);"),
            ("DROP TYPE app.shell;", "CREATE TYPE app.shell;"),
            (
                "DROP AGGREGATE app.ag(int);",
                "CREATE AGGREGATE app.ag(int) (sfunc = int4pl, stype = int);",
            ),
            (
                "DROP ROUTINE app.p();",
                "CREATE PROCEDURE app.p() LANGUAGE sql AS $$SELECT 1$$;",
            ),
            (
                "DROP FOREIGN TABLE ft;",
                "CREATE FOREIGN TABLE ft (a int) SERVER srv;",
            ),
        ] {
            lint_case_ok(ID, Case::pg(up).down(down));
        }
    }

    #[test]
    fn err_not_recreated() {
        let c = Case::pg("ALTER TABLE users DROP COLUMN flags;\nDROP INDEX users_legacy_idx;")
            .down("SELECT 1;");
        expect![[r#"
            warning[down-misses-dropped-object]: column users.flags dropped here is not added back by down.sql, so a rollback can't restore the schema
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | ALTER TABLE users DROP COLUMN flags;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Add users.flags back in down.sql.

            warning[down-misses-dropped-object]: INDEX users_legacy_idx dropped here is not recreated by down.sql, so a rollback can't restore the schema
             --> migrations/20260101000000_m/up.sql:2:1
              |
            2 | DROP INDEX users_legacy_idx;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Recreate INDEX users_legacy_idx in down.sql.

            0 errors, 2 warnings, 0 infos in 2 files (3 statements)
        "#]].assert_eq(&c.render(ID));
    }
}
