//! verify.sql statements that change the database.

use super::*;
use crate::ir::StmtKind;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "verify-has-side-effects",
        severity: Severity::Error,
        summary: "verify.sql must only read: it is re-run by `backstop verify`",
        engines: ALL,
        category: "reversibility",
    },
    check: Check::Stmt(Parts::Verify, check),
    docs: r#"verify.sql runs after up.sql, again on every `backstop verify` (against production), and
during rehearsal. A statement in it that writes data or changes the schema changes the
database each time someone checks it.

## Bad
```sql
-- verify.sql
UPDATE users SET verified_at = now();
```

## Good
```sql
-- verify.sql
SELECT count(*) = 0 FROM users WHERE email IS NULL;
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    if matches!(
        cx.stmt.kind,
        StmtKind::Select { .. }
            | StmtKind::Set { .. }
            | StmtKind::Transaction { .. }
            | StmtKind::Pragma { .. }
    ) {
        return;
    }
    if let StmtKind::Other { tag } = &cx.stmt.kind {
        if matches!(
            tag.as_str(),
            "SHOW" | "EXPLAIN" | "ANALYZE" | "TABLE" | "VALUES" | "DO"
        ) || tag.starts_with("SHOW")
            || tag.starts_with("EXPLAIN")
        {
            return;
        }
    }
    out.at(
        cx.index,
        format!("{} in verify.sql changes the database, but verify scripts are re-run by `backstop verify` and must only read", cx.stmt.kind.verb()),
        "Move the change to up.sql and keep verify.sql to SELECT queries.",
    );
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "verify-has-side-effects";

    #[test]
    fn ok_select() {
        lint_case_ok(
            ID,
            Case::pg("ALTER TABLE u ADD COLUMN a int;")
                .verify("SELECT count(*) = 0 FROM u WHERE a IS NULL;"),
        );
    }

    #[test]
    fn statements_are_named_as_written() {
        // Regression: kinds no rule models were named `DROP OBJECT` / `ALTER OBJECT … RENAME`.
        let c = Case::pg("CREATE TABLE t (a int);")
            .down("DROP TABLE t;")
            .verify("DROP POLICY IF EXISTS p ON t;\nALTER ROLE r RENAME TO r2;\nDROP TEXT SEARCH CONFIGURATION c;");
        let out = c.render(ID);
        for verb in [
            "DROP POLICY in verify.sql",
            "ALTER ROLE … RENAME in verify.sql",
            "DROP TEXT SEARCH CONFIGURATION in verify.sql",
        ] {
            assert!(out.contains(verb), "{verb}\n{out}");
        }
        assert!(!out.contains("OBJECT"), "{out}");
    }

    #[test]
    fn err_update_in_verify() {
        expect![[r#"
            error[verify-has-side-effects]: UPDATE in verify.sql changes the database, but verify scripts are re-run by `backstop verify` and must only read
             --> migrations/20260101000000_m/verify.sql:1:1
              |
            1 | UPDATE u SET a = 1;
              | ^^^^^^^^^^^^^^^^^^
              = help: Move the change to up.sql and keep verify.sql to SELECT queries.

            1 error, 0 warnings, 0 infos in 2 files (2 statements)
        "#]].assert_eq(&Case::pg("ALTER TABLE u ADD COLUMN a int;").verify("UPDATE u SET a = 1;").render(ID));
    }
}
