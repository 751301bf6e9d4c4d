//! REFRESH MATERIALIZED VIEW without CONCURRENTLY.

use super::*;
use crate::ir::StmtKind;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "refresh-matview-non-concurrently",
        severity: Severity::Warning,
        summary: "REFRESH MATERIALIZED VIEW without CONCURRENTLY blocks reads of the view",
        engines: PG,
        category: "locking",
    },
    check: Check::Stmt(Parts::UpDown, check),
    docs: r#"A plain refresh takes ACCESS EXCLUSIVE on the materialized view: queries reading it wait
until the query behind it has been recomputed. `REFRESH MATERIALIZED VIEW CONCURRENTLY`
takes EXCLUSIVE, which lets reads continue (it needs a unique index on the view).

## Bad
```sql
REFRESH MATERIALIZED VIEW daily_totals;
```

## Good
```sql
REFRESH MATERIALIZED VIEW CONCURRENTLY daily_totals;
```"#,
};

fn check(cx: &StmtCx, out: &mut Out) {
    let StmtKind::Refresh {
        name,
        concurrently: false,
    } = &cx.stmt.kind
    else {
        return;
    };
    if !cx.catalog.is_existing(name) {
        return;
    }
    out.at(
        cx.index,
        format!("REFRESH MATERIALIZED VIEW takes an ACCESS EXCLUSIVE lock on {name}, blocking reads of {name} until it is recomputed"),
        "Use REFRESH MATERIALIZED VIEW CONCURRENTLY (it needs a unique index on the view).",
    );
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "refresh-matview-non-concurrently";

    #[test]
    fn ok_concurrently() {
        lint_ok(ID, "REFRESH MATERIALIZED VIEW CONCURRENTLY daily_totals;");
    }

    #[test]
    fn err_plain() {
        expect![[r#"
            warning[refresh-matview-non-concurrently]: REFRESH MATERIALIZED VIEW takes an ACCESS EXCLUSIVE lock on daily_totals, blocking reads of daily_totals until it is recomputed
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | REFRESH MATERIALIZED VIEW daily_totals;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Use REFRESH MATERIALIZED VIEW CONCURRENTLY (it needs a unique index on the view).

            0 errors, 1 warning, 0 infos in 1 file (1 statement)
        "#]].assert_eq(&lint_errors(ID, "REFRESH MATERIALIZED VIEW daily_totals;"));
    }
}
