//! Identifiers longer than PostgreSQL's 63 bytes.

use super::prefer_timestamptz::columns;
use super::*;
use crate::ir::{AlterCmd, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "identifier-too-long",
        severity: Severity::Warning,
        summary: "Identifiers longer than 63 bytes are silently truncated by PostgreSQL",
        engines: PG,
        category: "hygiene",
    },
    check: Check::Stmt(Parts::Up, check),
    docs: r#"PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1) with only a NOTICE. Two
long names that share their first 63 bytes collide, and the name in the catalog differs
from the one in the migration, which confuses later drops and renames.

## Bad
```sql
CREATE INDEX index_on_customer_invoices_by_billing_period_and_currency_and_status ON invoices (...);
```

## Good
Keep names at most 63 bytes long."#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let mut names: Vec<String> = columns(&cx.stmt.kind)
        .into_iter()
        .map(|(_, c)| c.name.clone())
        .collect();
    match &cx.stmt.kind {
        StmtKind::CreateTable {
            table, constraints, ..
        } => {
            names.push(table.name.clone());
            names.extend(constraints.iter().filter_map(|k| k.name.clone()));
        }
        StmtKind::CreateIndex { name: Some(n), .. } => names.push(n.name.clone()),
        StmtKind::Create { name, .. } | StmtKind::CreateView { name, .. } => {
            names.push(name.name.clone())
        }
        StmtKind::Rename { new_name, .. } => names.push(new_name.clone()),
        StmtKind::AlterTable { cmds, .. } => {
            for c in cmds {
                if let AlterCmd::AddConstraint(k) = c {
                    names.extend(k.name.clone());
                }
            }
        }
        _ => {}
    }
    for n in names.iter().filter(|n| n.len() > 63) {
        let mut cut = 63;
        while !n.is_char_boundary(cut) {
            cut -= 1;
        }
        out.at(
            cx.index,
            format!(
                "identifier `{n}` is {} bytes long; PostgreSQL truncates it to `{}`",
                n.len(),
                &n[..cut]
            ),
            "Shorten the name to at most 63 bytes.",
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "identifier-too-long";

    #[test]
    fn ok_short() {
        lint_ok(ID, "CREATE TABLE t (a int);");
    }

    #[test]
    fn err_long() {
        expect![[r#"
            no findings in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "CREATE INDEX index_on_customer_invoices_by_billing_period_and_currency_and_status ON t (a);"));
    }
}
