//! A new enum value used in the transaction that added it.

use super::*;
use crate::ir::StmtKind;
use crate::lex::{self, Kind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "enum-value-used-in-transaction",
        severity: Severity::Error,
        summary:
            "A value added by ALTER TYPE … ADD VALUE can't be used before the transaction commits",
        engines: PG,
        category: "transactions",
    },
    check: Check::Script(Parts::All, check),
    docs: r#"Since PostgreSQL 12, `ALTER TYPE … ADD VALUE` may run inside a transaction block, but the
new value cannot be used until that transaction commits: any statement using it fails with
"unsafe use of new value". In a migration with `transaction = true` that means the
migration always fails. verify.sql runs in the same transaction as up.sql, so a check
that uses the new value fails the same way.

## Bad
```sql
ALTER TYPE order_status ADD VALUE 'refunded';
UPDATE orders SET status = 'refunded' WHERE refund_id IS NOT NULL;
```

## Good
Add the value in one migration and use it in the next one."#,
};

fn check(cx: &ScriptCx, out: &mut Out) {
    if !cx.mig.transaction {
        return;
    }
    // Where each value was added, for the message.
    let mut added: Vec<(String, String)> = Vec::new();
    if cx.a.part == Part::Verify {
        // verify.sql shares up.sql's transaction; without one, up.sql's values are committed.
        let Some(up) = cx.same_tx else { return };
        let file = up
            .file
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        for s in &up.stmts {
            match &s.kind {
                StmtKind::AlterEnumAddValue { value, .. } => {
                    let (line, _) = up.position(s.span.start);
                    added.push((value.clone(), format!("line {line} of {file}")));
                }
                StmtKind::Transaction { .. } => added.clear(),
                _ => {}
            }
        }
    }
    for (i, s) in cx.a.stmts.iter().enumerate() {
        if let StmtKind::AlterEnumAddValue { value, .. } = &s.kind {
            let (line, _) = cx.a.position(s.span.start);
            added.push((value.clone(), format!("line {line}")));
            continue;
        }
        if let StmtKind::Transaction { .. } = s.kind {
            added.clear();
            continue;
        }
        if added.is_empty() {
            continue;
        }
        let text = cx.a.text(i);
        for t in lex::tokenize(text, Engine::Postgres)
            .iter()
            .filter(|t| t.kind == Kind::Str)
        {
            let lit = t.text(text).trim_matches('\'').replace("''", "'");
            if let Some((v, at)) = added.iter().find(|(v, _)| *v == lit) {
                let start = s.span.start + t.start;
                let help = if cx.a.part == Part::Verify {
                    format!("verify.sql runs in the same transaction as up.sql: check '{v}' in a later migration than the one that adds it.")
                } else {
                    format!("Use '{v}' in a later migration than the one that adds it.")
                };
                out.at(
                    i,
                    format!("enum value '{v}' added on {at} is used before the transaction commits, which fails with \"unsafe use of new value\""),
                    help,
                )
                .span(start..s.span.start + t.end);
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "enum-value-used-in-transaction";

    #[test]
    fn ok_only_added() {
        lint_ok(ID, "ALTER TYPE order_status ADD VALUE 'refunded';");
    }

    #[test]
    fn err_used_in_verify() {
        let case = Case::pg("ALTER TYPE st ADD VALUE 'b';")
            .verify("SELECT count(*) = 0 FROM orders WHERE s = 'b';");
        expect![[r#"
            error[enum-value-used-in-transaction]: enum value 'b' added on line 1 of up.sql is used before the transaction commits, which fails with "unsafe use of new value"
             --> migrations/20260101000000_m/verify.sql:1:43
              |
            1 | SELECT count(*) = 0 FROM orders WHERE s = 'b';
              |                                           ^^^
              = help: verify.sql runs in the same transaction as up.sql: check 'b' in a later migration than the one that adds it.

            1 error, 0 warnings, 0 infos in 2 files (2 statements)
        "#]]
        .assert_eq(&case.render(ID));
        lint_case_ok(
            ID,
            Case::pg("ALTER TYPE st ADD VALUE 'b';")
                .verify("SELECT count(*) = 0 FROM orders WHERE s = 'b';")
                .toml("transaction = false\n"),
        );
        lint_case_ok(
            ID,
            Case::pg("ALTER TYPE st ADD VALUE 'b';")
                .down("SELECT 'b';")
                .verify("SELECT count(*) = 0 FROM orders WHERE s = 'c';"),
        );
    }

    #[test]
    fn err_used() {
        expect![[r#"
            error[enum-value-used-in-transaction]: enum value 'refunded' added on line 1 is used before the transaction commits, which fails with "unsafe use of new value"
             --> migrations/20260101000000_m/up.sql:2:28
              |
            2 | UPDATE orders SET status = 'refunded' WHERE refund_id IS NOT NULL;
              |                            ^^^^^^^^^^
              = help: Use 'refunded' in a later migration than the one that adds it.

            1 error, 0 warnings, 0 infos in 1 file (2 statements)
        "#]].assert_eq(&lint_errors(ID, "ALTER TYPE order_status ADD VALUE 'refunded';\nUPDATE orders SET status = 'refunded' WHERE refund_id IS NOT NULL;"));
    }
}
