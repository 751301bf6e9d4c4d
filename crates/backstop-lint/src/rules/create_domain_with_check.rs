//! CREATE DOMAIN with a CHECK constraint.

use super::*;
use crate::ir::{Obj, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "create-domain-with-check",
        severity: Severity::Info,
        summary:
            "A domain CHECK is hard to change later: every column using the domain is revalidated",
        engines: PG,
        category: "locking",
    },
    check: Check::Stmt(Parts::Up, check),
    docs: r#"Constraints on a domain apply to every column of that type in every table. Changing them
later (`ALTER DOMAIN … ADD CONSTRAINT`) re-checks all those columns while blocking writes,
and there is no `NOT VALID` + separate validation path as convenient as for table
constraints.

## Bad
```sql
CREATE DOMAIN email AS text CHECK (VALUE ~ '@');
```

## Good
```sql
CREATE DOMAIN email AS text;
ALTER TABLE users ADD CONSTRAINT users_email_format CHECK (email ~ '@') NOT VALID;
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let StmtKind::Create {
        obj: Obj::Domain,
        name,
        domain_check: true,
        ..
    } = &cx.stmt.kind
    else {
        return;
    };
    out.at(
        cx.index,
        format!("domain {name} has a CHECK constraint: changing it later revalidates every column of type {name}, blocking writes to those tables"),
        "Put the CHECK on the table columns instead of on the domain.",
    );
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "create-domain-with-check";

    #[test]
    fn ok_plain_domain() {
        lint_ok(ID, "CREATE DOMAIN email AS text;");
    }

    #[test]
    fn err_domain_check() {
        expect![[r#"
            info[create-domain-with-check]: domain email has a CHECK constraint: changing it later revalidates every column of type email, blocking writes to those tables
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | CREATE DOMAIN email AS text CHECK (VALUE ~ '@');
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Put the CHECK on the table columns instead of on the domain.

            0 errors, 0 warnings, 1 info in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "CREATE DOMAIN email AS text CHECK (VALUE ~ '@');"));
    }
}
