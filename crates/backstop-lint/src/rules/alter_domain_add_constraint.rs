//! ALTER DOMAIN … ADD CONSTRAINT without NOT VALID.

use super::*;
use crate::ir::StmtKind;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "alter-domain-add-constraint",
        severity: Severity::Error,
        summary:
            "ALTER DOMAIN … ADD CONSTRAINT checks every column of the domain while blocking writes",
        engines: PG,
        category: "locking",
    },
    check: Check::Stmt(Parts::UpDown, check),
    docs: r#"Adding a constraint to a domain validates every column that uses the domain, in every
table, locking each table against writes for its scan. Add it `NOT VALID` and validate it
later with `ALTER DOMAIN … VALIDATE CONSTRAINT`.

## Bad
```sql
ALTER DOMAIN email ADD CONSTRAINT email_at CHECK (VALUE ~ '@');
```

## Good
```sql
ALTER DOMAIN email ADD CONSTRAINT email_at CHECK (VALUE ~ '@') NOT VALID;
-- next migration
ALTER DOMAIN email VALIDATE CONSTRAINT email_at;
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let StmtKind::AlterDomainAddConstraint {
        domain,
        not_valid: false,
    } = &cx.stmt.kind
    else {
        return;
    };
    out.at(
        cx.index,
        format!("ALTER DOMAIN {domain} ADD CONSTRAINT scans every column of type {domain}, taking SHARE locks that block writes to each of those tables"),
        "Add the constraint with NOT VALID, then VALIDATE CONSTRAINT in a separate migration.",
    );
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "alter-domain-add-constraint";

    #[test]
    fn ok_not_valid() {
        lint_ok(
            ID,
            "ALTER DOMAIN email ADD CONSTRAINT c CHECK (VALUE ~ '@') NOT VALID;",
        );
    }

    #[test]
    fn err_validating() {
        expect![[r#"
            error[alter-domain-add-constraint]: ALTER DOMAIN email ADD CONSTRAINT scans every column of type email, taking SHARE locks that block writes to each of those tables
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | ALTER DOMAIN email ADD CONSTRAINT c CHECK (VALUE ~ '@');
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Add the constraint with NOT VALID, then VALIDATE CONSTRAINT in a separate migration.

            1 error, 0 warnings, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "ALTER DOMAIN email ADD CONSTRAINT c CHECK (VALUE ~ '@');"));
    }
}
