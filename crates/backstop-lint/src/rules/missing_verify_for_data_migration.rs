//! A data migration without verify.sql.

use super::*;
use crate::ir::StmtKind;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "missing-verify-for-data-migration",
        severity: Severity::Warning,
        summary: "A migration that changes existing data has no verify.sql",
        engines: ALL,
        category: "reversibility",
    },
    check: Check::Migration(check),
    docs: r#"Schema changes are checked by the schema fingerprint, but nothing checks that a data
migration (UPDATE, INSERT or DELETE on a table that existed before) did what it meant to.
verify.sql runs right after up.sql in the same transaction, again on every `backstop
verify`, and during rehearsal after the rollback: a query whose first column is false, 0 or
NULL fails the migration.

## Bad
A migration with `UPDATE users SET email = lower(email);` and no verify.sql.

## Good
```sql
-- verify.sql
SELECT count(*) = 0 FROM users WHERE email <> lower(email);
```"#,
};

fn check(cx: &MigCx, out: &mut Out) {
    if !cx.mig.is_migration || cx.verify.is_some() {
        return;
    }
    for (i, s) in cx.up.stmts.iter().enumerate() {
        let dml = matches!(
            s.kind,
            StmtKind::Update { .. } | StmtKind::Insert { .. } | StmtKind::Delete { .. }
        );
        if dml && cx.up.on_existing.get(i).copied().unwrap_or(false) {
            let table = crate::analyze::main_table(s)
                .map(|t| t.to_string())
                .unwrap_or_default();
            out.at_part(
                Part::Up,
                i,
                format!("this data migration ({} on {table}) has no verify.sql, so nothing checks the data after it runs or after a rollback", s.kind.verb()),
                "Add a verify.sql with queries that return false when the data is wrong.",
            );
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "missing-verify-for-data-migration";

    #[test]
    fn ok_with_verify_or_schema_only() {
        lint_case_ok(
            ID,
            Case::pg("UPDATE users SET email = lower(email);")
                .verify("SELECT count(*) = 0 FROM users WHERE email <> lower(email);"),
        );
        lint_ok(ID, "ALTER TABLE users ADD COLUMN n text;");
    }

    #[test]
    fn err_no_verify() {
        expect![[r#"
            warning[missing-verify-for-data-migration]: this data migration (UPDATE on users) has no verify.sql, so nothing checks the data after it runs or after a rollback
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | UPDATE users SET email = lower(email);
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Add a verify.sql with queries that return false when the data is wrong.

            0 errors, 1 warning, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "UPDATE users SET email = lower(email);"));
    }
}
