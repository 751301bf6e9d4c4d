//! VALIDATE CONSTRAINT in the transaction that added the constraint.

use super::*;
use crate::ir::{AlterCmd, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "validate-in-same-transaction",
        severity: Severity::Warning,
        summary: "VALIDATE CONSTRAINT in the same transaction as ADD … NOT VALID keeps the ACCESS EXCLUSIVE lock during the scan",
        engines: PG,
        category: "locking",
    },
    check: Check::Script(Parts::UpDown, check),
    docs: r#"`NOT VALID` + `VALIDATE CONSTRAINT` only helps when the two run in separate transactions.
In one transaction, the lock taken by `ADD CONSTRAINT` (ACCESS EXCLUSIVE for CHECK, SHARE ROW
EXCLUSIVE for foreign keys) is still held while `VALIDATE` scans the table, so the table is
blocked exactly as if the constraint had been added without `NOT VALID`.

## Bad
```sql
ALTER TABLE orders ADD CONSTRAINT amount_positive CHECK (amount > 0) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT amount_positive;
```

## Good
Put the `VALIDATE CONSTRAINT` statement in the next migration."#,
};

fn check(cx: &ScriptCx, out: &mut Out) {
    if !cx.mig.transaction {
        return;
    }
    let mut added: Vec<(String, String, usize)> = Vec::new();
    for (i, s) in cx.a.stmts.iter().enumerate() {
        let StmtKind::AlterTable { table, cmds, .. } = &s.kind else {
            continue;
        };
        for c in cmds {
            match c {
                AlterCmd::AddConstraint(k) if k.not_valid => {
                    if let Some(n) = &k.name {
                        added.push((table.key(), n.clone(), i));
                    }
                }
                AlterCmd::ValidateConstraint { name } => {
                    if let Some((_, _, at)) = added
                        .iter()
                        .find(|(t, n, _)| *t == table.key() && n == name)
                    {
                        let (line, _) = cx.a.position(cx.a.stmts[*at].span.start);
                        out.at(
                            i,
                            format!("VALIDATE CONSTRAINT {name} runs in the transaction that added it (line {line}), so the lock ADD CONSTRAINT took on {table} is held for the whole validation scan"),
                            "Move VALIDATE CONSTRAINT to a separate migration.",
                        );
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "validate-in-same-transaction";

    #[test]
    fn ok_separate_or_no_transaction() {
        lint_ok(ID, "ALTER TABLE orders VALIDATE CONSTRAINT c;");
        lint_case_ok(ID, Case::pg("ALTER TABLE o ADD CONSTRAINT c CHECK (a > 0) NOT VALID;\nALTER TABLE o VALIDATE CONSTRAINT c;").toml("transaction = false\n"));
    }

    #[test]
    fn err_same_transaction() {
        expect![[r#"
            warning[validate-in-same-transaction]: VALIDATE CONSTRAINT c runs in the transaction that added it (line 1), so the lock ADD CONSTRAINT took on o is held for the whole validation scan
             --> migrations/20260101000000_m/up.sql:2:1
              |
            2 | ALTER TABLE o VALIDATE CONSTRAINT c;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Move VALIDATE CONSTRAINT to a separate migration.

            0 errors, 1 warning, 0 infos in 1 file (2 statements)
        "#]].assert_eq(&lint_errors(ID, "ALTER TABLE o ADD CONSTRAINT c CHECK (a > 0) NOT VALID;\nALTER TABLE o VALIDATE CONSTRAINT c;"));
    }
}
