//! Suppression comments that are malformed or useless.

use super::*;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "invalid-suppression",
        severity: Severity::Error,
        summary: "A `-- backstop:allow` comment without a reason, naming an unknown rule, or suppressing nothing",
        engines: ALL,
        category: "meta",
    },
    check: Check::Builtin,
    docs: r#"`-- backstop:allow <rule-id> <reason>` suppresses that rule for the statement that follows
the comment (or, when the comment trails a statement on its last line, for that
statement). The reason is required: it is shown in the output and, when `apply` uses the
suppression, recorded in the audit ledger.

- no reason, or an unknown rule id: error;
- a suppression that matched no finding: warning (it may sit before the wrong statement).

## Bad
```sql
-- backstop:allow create-index-non-concurrently
CREATE INDEX users_email_idx ON users (email);
```

## Good
```sql
-- backstop:allow create-index-non-concurrently users has 200 rows; a plain build takes milliseconds
CREATE INDEX users_email_idx ON users (email);
```"#,
};

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "invalid-suppression";

    #[test]
    fn ok_valid_suppression() {
        lint_ok(ID, "-- backstop:allow create-index-non-concurrently tiny table\nCREATE INDEX i ON users (email);");
    }

    #[test]
    fn trailing_comment_suppresses_its_own_statement() {
        let r = Case::pg("CREATE INDEX i ON users (email); -- backstop:allow create-index-non-concurrently tiny table\nCREATE INDEX j ON users (name);").report();
        let idx: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.rule == "create-index-non-concurrently")
            .collect();
        assert_eq!(idx.len(), 2);
        assert_eq!(idx[0].suppressed.as_deref(), Some("tiny table"));
        assert_eq!(idx[1].suppressed, None);
        assert!(r.findings.iter().all(|f| f.rule != ID));
    }

    #[test]
    fn suppressed_finding_shows_reason() {
        let out = Case::pg("-- backstop:allow create-index-non-concurrently tiny table\nCREATE INDEX i ON users (email);").render("create-index-non-concurrently");
        expect![[r#"
            error[create-index-non-concurrently]: CREATE INDEX takes a SHARE lock on existing table users, blocking writes to users until the index is built
             --> migrations/20260101000000_m/up.sql:2:1
              |
            2 | CREATE INDEX i ON users (email);
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Use CREATE INDEX CONCURRENTLY in a migration with `transaction = false`.
              = suppressed: tiny table

            0 errors, 0 warnings, 0 infos (1 suppressed) in 1 file (1 statement)
        "#]].assert_eq(&out);
    }

    #[test]
    fn err_missing_reason_unknown_rule_unused() {
        expect![[r#"
            error[invalid-suppression]: `backstop:allow create-index-non-concurrently` has no reason
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | -- backstop:allow create-index-non-concurrently
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Write why the risk is acceptable after the rule id: `-- backstop:allow create-index-non-concurrently <reason>`.

            error[invalid-suppression]: `backstop:allow no-such-rule` names no known rule
             --> migrations/20260101000000_m/up.sql:3:1
              |
            3 | -- backstop:allow no-such-rule because
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Use a rule id from `docs/rules/README.md`, followed by the reason.

            warning[invalid-suppression]: `backstop:allow rename-table` suppresses nothing
             --> migrations/20260101000000_m/up.sql:5:11
              |
            5 | SELECT 2; -- backstop:allow rename-table not needed here
              |           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Remove the comment, or move it to the line right before the statement it is about.

            2 errors, 1 warning, 0 infos in 1 file (3 statements)
        "#]].assert_eq(&lint_errors(
            ID,
            "-- backstop:allow create-index-non-concurrently\nCREATE INDEX i ON users (email);\n-- backstop:allow no-such-rule because\nSELECT 1;\nSELECT 2; -- backstop:allow rename-table not needed here",
        ));
    }
}
