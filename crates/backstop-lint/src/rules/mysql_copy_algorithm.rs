//! MySQL ALTER TABLE … ALGORITHM=COPY / LOCK=SHARED|EXCLUSIVE.

use super::*;
use crate::ir::{AlterCmd, StmtKind};

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "mysql-copy-algorithm",
        severity: Severity::Warning,
        summary: "ALGORITHM=COPY or LOCK=SHARED/EXCLUSIVE forces a blocking ALTER on MySQL/MariaDB",
        engines: &[Engine::Mysql],
        category: "locking",
    },
    check: Check::Stmt(Parts::UpDown, check),
    docs: r#"InnoDB runs most `ALTER TABLE` operations online (ALGORITHM=INSTANT or INPLACE with
LOCK=NONE). Asking for `ALGORITHM=COPY` copies the whole table while blocking writes, and
`LOCK=SHARED` / `LOCK=EXCLUSIVE` block writes / reads and writes for the whole operation.

## Bad
```sql
ALTER TABLE orders ADD COLUMN note TEXT, ALGORITHM=COPY;
```

## Good
```sql
ALTER TABLE orders ADD COLUMN note TEXT, ALGORITHM=INSTANT;
```
For changes that really need a copy, use an online schema change tool (gh-ost, pt-osc)."#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let StmtKind::AlterTable { table, cmds, .. } = &cx.stmt.kind else {
        return;
    };
    for c in cmds {
        let AlterCmd::MysqlOption { option, value, at } = c else {
            continue;
        };
        let v = value.to_ascii_uppercase();
        let msg = match (option.as_str(), v.as_str()) {
            ("algorithm", "COPY") => {
                format!("ALGORITHM=COPY copies {table}, blocking writes for the whole copy")
            }
            ("lock", "SHARED") => {
                format!("LOCK=SHARED blocks writes to {table} for the whole ALTER")
            }
            ("lock", "EXCLUSIVE") => {
                format!("LOCK=EXCLUSIVE blocks reads and writes on {table} for the whole ALTER")
            }
            _ => continue,
        };
        out.at(cx.index, msg, "Let InnoDB run the change online (ALGORITHM=INPLACE or INSTANT, LOCK=NONE), or use gh-ost or pt-osc.")
            .token(cx.src, *at, cx.engine);
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use backstop_core::driver::Engine;
    use expect_test::expect;
    const ID: &str = "mysql-copy-algorithm";

    #[test]
    fn ok_inplace() {
        lint_case_ok(
            ID,
            Case::on(
                Engine::Mysql,
                "ALTER TABLE orders ADD COLUMN note TEXT, ALGORITHM=INPLACE, LOCK=NONE;",
            ),
        );
    }

    #[test]
    fn err_copy() {
        expect![[r#"
            warning[mysql-copy-algorithm]: ALGORITHM=COPY copies orders, blocking writes for the whole copy
             --> migrations/20260101000000_m/up.sql:1:42
              |
            1 | ALTER TABLE orders ADD COLUMN note TEXT, ALGORITHM=COPY;
              |                                          ^^^^^^^^^
              = help: Let InnoDB run the change online (ALGORITHM=INPLACE or INSTANT, LOCK=NONE), or use gh-ost or pt-osc.

            0 errors, 1 warning, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&Case::on(Engine::Mysql, "ALTER TABLE orders ADD COLUMN note TEXT, ALGORITHM=COPY;").render(ID));
    }
}
