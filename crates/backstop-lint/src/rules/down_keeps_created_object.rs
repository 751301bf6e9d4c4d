//! Objects created by up.sql that down.sql leaves behind.

use super::*;
use crate::effects;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "down-keeps-created-object",
        severity: Severity::Warning,
        summary: "An object created in up.sql is not dropped by down.sql",
        engines: ALL,
        category: "reversibility",
    },
    check: Check::Migration(check),
    docs: r#"A rollback must bring the schema back to exactly what it was; backstop checks the schema
fingerprint after every rollback and fails (exit 5) when it differs. Every table, index,
view, sequence, type, function, procedure, trigger, schema or named constraint that up.sql
creates (or renames into existence) should be dropped (or renamed back) by down.sql.
Dropping a table also covers its indexes, triggers and constraints.

Objects are matched by the names the database gives them: an index created without a name
by PostgreSQL's (`CREATE INDEX ON users (lower(email))` makes `users_lower_idx`), a trigger
by its table on PostgreSQL (`DROP TRIGGER tr ON t`) and by its name alone on SQLite and
MySQL.

## Bad
```sql
-- up.sql
CREATE TABLE invites (id bigint PRIMARY KEY, email text NOT NULL);
CREATE INDEX invites_email_idx ON invites (email);
-- down.sql
DROP INDEX invites_email_idx;
```

## Good
```sql
-- down.sql
DROP TABLE invites;
```"#,
};

fn check(cx: &MigCx, out: &mut Out) {
    let Some(down) = cx.down else { return };
    if cx.mig.irreversible.is_some() {
        return;
    }
    let up = effects::of(cx.up);
    let back = effects::of(down);
    for e in &up.created {
        if back.removes(e) {
            continue;
        }
        out.at_part(
            Part::Up,
            e.stmt,
            format!(
                "{} {} created here is not dropped by down.sql, so a rollback leaves it behind",
                e.obj.sql(),
                e.display
            ),
            format!("Drop {} {} in down.sql.", e.obj.sql(), e.display),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "down-keeps-created-object";

    #[test]
    fn ok_table_drop_covers_index() {
        lint_case_ok(
            ID,
            Case::pg(
                "CREATE TABLE invites (id int);\nCREATE INDEX invites_id_idx ON invites (id);",
            )
            .down("DROP TABLE invites;"),
        );
    }

    #[test]
    fn sqlite_names_match_ignoring_case_even_quoted() {
        use backstop_core::driver::Engine;
        // SQLite resolves `USERS` and `"USERS"` to the table created as `"Users"`.
        for down in [
            "DROP TABLE USERS;",
            "DROP TABLE \"USERS\";",
            "DROP TABLE main.users;",
        ] {
            lint_case_ok(
                ID,
                Case::on(
                    Engine::Sqlite,
                    "CREATE TABLE \"Users\" (id INTEGER);\nCREATE INDEX \"Users_Id\" ON \"Users\" (id);\nCREATE TRIGGER \"Tr\" AFTER INSERT ON \"Users\" BEGIN SELECT 1; END;",
                )
                .down(down),
            );
        }
        lint_case_ok(
            ID,
            Case::on(Engine::Sqlite, "CREATE INDEX \"Users_Id\" ON users (id);")
                .down("DROP INDEX users_id;"),
        );
        // Only ASCII letters fold, on both engines: `Äpfel` and `äpfel` are two tables, and
        // unquoted `Äpfel` is the table `"Äpfel"`.
        lint_case_ok(
            ID,
            Case::on(Engine::Sqlite, "CREATE TABLE Äpfel (id INTEGER);")
                .down("DROP TABLE \"Äpfel\";"),
        );
        let c =
            Case::on(Engine::Sqlite, "CREATE TABLE Äpfel (id INTEGER);").down("DROP TABLE äpfel;");
        assert!(c.render(ID).contains("created here"), "{}", c.render(ID));
        lint_case_ok(
            ID,
            Case::pg("CREATE TABLE Äpfel (id int);").down("DROP TABLE \"Äpfel\";"),
        );
        // PostgreSQL keeps quoted names exact: "Users" and users are two tables.
        let c = Case::pg("CREATE TABLE \"Users\" (id int);").down("DROP TABLE users;");
        assert!(
            c.render(ID).contains("TABLE Users created here"),
            "{}",
            c.render(ID)
        );
    }

    #[test]
    fn trigger_dropped_on_its_table_is_covered() {
        // Regression: DROP TRIGGER … ON table lost its table, so the trigger created by
        // up.sql (keyed by its table) never matched and every rollback script was flagged.
        for (up, down) in [
            (
                "CREATE TRIGGER tr BEFORE UPDATE OF a3 ON s2.t FOR EACH ROW WHEN (NEW.a3 > 0) EXECUTE FUNCTION tf();",
                "DROP TRIGGER tr ON s2.t;",
            ),
            (
                "CREATE TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION tf();",
                "DROP TRIGGER IF EXISTS tr ON public.t;",
            ),
            (
                "CREATE CONSTRAINT TRIGGER tr AFTER INSERT ON s2.t DEFERRABLE FOR EACH ROW EXECUTE FUNCTION tf();",
                "DROP TRIGGER tr ON s2.t CASCADE;",
            ),
        ] {
            lint_case_ok(ID, Case::pg(up).down(down));
        }
        // A trigger of the same name on another table is another trigger.
        let c =
            Case::pg("CREATE TRIGGER tr BEFORE UPDATE ON s2.t FOR EACH ROW EXECUTE FUNCTION tf();")
                .down("DROP TRIGGER tr ON s2.other;");
        assert!(
            c.render(ID).contains("TRIGGER tr created here"),
            "{}",
            c.render(ID)
        );
    }

    #[test]
    fn sqlite_and_mysql_triggers_are_named_per_schema() {
        use backstop_core::driver::Engine;
        // SQLite and MySQL drop a trigger by its (schema-qualified) name, without its table.
        for (engine, up, down) in [
            (
                Engine::Sqlite,
                "CREATE TRIGGER tr AFTER UPDATE OF a ON t FOR EACH ROW WHEN NEW.a > 0 BEGIN SELECT 1; END;",
                "DROP TRIGGER tr;",
            ),
            (
                Engine::Sqlite,
                "CREATE TRIGGER main.tr AFTER INSERT ON t BEGIN SELECT 1; END;",
                "DROP TRIGGER IF EXISTS TR;",
            ),
            (
                Engine::Mysql,
                "CREATE TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW SET NEW.a = NEW.a + 1;",
                "DROP TRIGGER tr;",
            ),
            (
                Engine::Mysql,
                "CREATE TRIGGER tr BEFORE UPDATE ON other.t FOR EACH ROW SET NEW.a = 1;",
                "DROP TRIGGER IF EXISTS other.tr;",
            ),
        ] {
            lint_case_ok(ID, Case::on(engine, up).down(down));
        }
        let c = Case::on(
            Engine::Mysql,
            "CREATE TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW SET NEW.a = 1;",
        )
        .down("DROP TRIGGER other.tr;");
        assert!(
            c.render(ID).contains("TRIGGER tr created here"),
            "{}",
            c.render(ID)
        );
    }

    #[test]
    fn mysql_index_dropped_through_alter_table() {
        use backstop_core::driver::Engine;
        // Regression: ALTER TABLE … DROP INDEX was read as dropping a constraint, so the
        // index CREATE INDEX (or ADD INDEX) made was never matched.
        for (up, down) in [
            (
                "CREATE INDEX t_a_idx ON t (a) ALGORITHM=INPLACE LOCK=NONE;",
                "ALTER TABLE t DROP INDEX t_a_idx;",
            ),
            (
                "ALTER TABLE other.t ADD INDEX t_a_idx (a);",
                "DROP INDEX t_a_idx ON other.t;",
            ),
            (
                "CREATE INDEX t_a_idx ON other.t (a);",
                "ALTER TABLE other.t DROP KEY t_a_idx;",
            ),
        ] {
            lint_case_ok(ID, Case::on(Engine::Mysql, up).down(down));
        }
        let c = Case::on(Engine::Mysql, "ALTER TABLE t ADD INDEX t_a_idx (a);").down("SELECT 1;");
        assert!(
            c.render(ID).contains("INDEX t_a_idx created here"),
            "{}",
            c.render(ID)
        );
    }

    #[test]
    fn objects_are_matched_by_the_names_postgres_gives_them() {
        // Regression: an expression index was keyed `users_(expression)_idx`, a schema made
        // by `CREATE SCHEMA AUTHORIZATION role` had no name, and a renamed database was
        // taken for a schema object created and dropped.
        for (up, down) in [
            (
                "CREATE INDEX ON users (lower(email));",
                "DROP INDEX users_lower_idx;",
            ),
            (
                "CREATE INDEX ON users (lower(email), lower(name)) INCLUDE (id);",
                "DROP INDEX users_lower_lower1_id_idx;",
            ),
            (
                "CREATE SCHEMA AUTHORIZATION reporting;",
                "DROP SCHEMA reporting;",
            ),
            (
                "ALTER DATABASE old_name RENAME TO new_name;",
                "ALTER DATABASE new_name RENAME TO old_name;",
            ),
            (
                "CREATE PROCEDURE app.p() LANGUAGE sql AS $$SELECT 1$$;",
                "DROP ROUTINE app.p();",
            ),
        ] {
            lint_case_ok(ID, Case::pg(up).down(down));
        }
        let c =
            Case::pg("CREATE PROCEDURE app.p() LANGUAGE sql AS $$SELECT 1$$;").down("SELECT 1;");
        assert!(
            c.render(ID).contains("PROCEDURE app.p created here"),
            "{}",
            c.render(ID)
        );
    }

    #[test]
    fn err_left_behind() {
        let c = Case::pg("CREATE TABLE invites (id int);\nCREATE INDEX ON users (email);\nCREATE SCHEMA billing;").down("DROP TABLE invites;");
        expect![[r#"
            warning[down-keeps-created-object]: INDEX users_email_idx created here is not dropped by down.sql, so a rollback leaves it behind
             --> migrations/20260101000000_m/up.sql:2:1
              |
            2 | CREATE INDEX ON users (email);
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Drop INDEX users_email_idx in down.sql.

            warning[down-keeps-created-object]: SCHEMA billing created here is not dropped by down.sql, so a rollback leaves it behind
             --> migrations/20260101000000_m/up.sql:3:1
              |
            3 | CREATE SCHEMA billing;
              | ^^^^^^^^^^^^^^^^^^^^^
              = help: Drop SCHEMA billing in down.sql.

            0 errors, 2 warnings, 0 infos in 2 files (4 statements)
        "#]].assert_eq(&c.render(ID));
    }
}
