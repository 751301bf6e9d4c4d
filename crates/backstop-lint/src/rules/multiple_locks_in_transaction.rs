//! Blocking locks on several existing tables held together until COMMIT.

use super::*;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "multiple-locks-in-transaction",
        severity: Severity::Warning,
        summary:
            "Blocking locks on several existing tables in one transaction are all held until COMMIT",
        engines: PG,
        category: "locking",
    },
    check: Check::Script(Parts::UpDown, check),
    docs: r#"Locks taken inside a transaction are released only at COMMIT. A migration that takes a
blocking lock (SHARE or stronger) on one busy table and then another keeps the first table
blocked while it waits for and works on the second, and two sessions taking the same locks
in a different order deadlock. Tables created in the same migration don't count.

## Bad
```sql
ALTER TABLE orders ADD COLUMN note text;
ALTER TABLE invoices ADD COLUMN note text;
```

## Good
One busy table per migration, or `transaction = false` with idempotent statements."#,
};

fn check(cx: &ScriptCx, out: &mut Out) {
    if !cx.mig.transaction {
        return;
    }
    let mut held: Vec<(String, &'static str, usize)> = Vec::new();
    for (i, im) in cx.a.impacts.iter().enumerate() {
        let Some(lock) = im.lock.filter(|l| l.is_blocking()) else {
            continue;
        };
        for t in &im.tables {
            let key = t.key();
            if cx.a.fresh.contains(&key) || held.iter().any(|(k, _, _)| *k == key) {
                continue;
            }
            // One statement locking two tables (a foreign key) is that statement's own cost.
            if let Some((first, first_lock, at)) = held.iter().find(|(_, _, at)| *at != i) {
                let (line, _) = cx.a.position(cx.a.stmts[*at].span.start);
                let first = first.strip_prefix("public.").unwrap_or(first);
                out.at(
                    i,
                    format!(
                        "{} {} lock on {t} is taken while the transaction still holds {first_lock} on {first} (line {line}); both stay locked until COMMIT, blocking {} on {first} meanwhile",
                        crate::impact::article(lock.name()).replace('a', "A"),
                        lock.name(),
                        crate::impact::Lock::from_name(first_lock).blocks()
                    ),
                    "Change one busy table per migration.",
                );
            }
            held.push((key, lock.name(), i));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "multiple-locks-in-transaction";

    #[test]
    fn ok_one_table_or_new_tables() {
        lint_ok(
            ID,
            "ALTER TABLE orders ADD COLUMN a text;\nALTER TABLE orders ADD COLUMN b text;",
        );
        lint_ok(ID, "CREATE TABLE x (a int);\nALTER TABLE orders ADD COLUMN a text;\nCREATE INDEX ON x (a);");
    }

    #[test]
    fn err_two_busy_tables() {
        expect![[r#"
            warning[multiple-locks-in-transaction]: An ACCESS EXCLUSIVE lock on invoices is taken while the transaction still holds ACCESS EXCLUSIVE on orders (line 1); both stay locked until COMMIT, blocking reads and writes on orders meanwhile
             --> migrations/20260101000000_m/up.sql:2:1
              |
            2 | ALTER TABLE invoices ADD COLUMN note text;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Change one busy table per migration.

            0 errors, 1 warning, 0 infos in 1 file (2 statements)
        "#]].assert_eq(&lint_errors(ID, "ALTER TABLE orders ADD COLUMN note text;\nALTER TABLE invoices ADD COLUMN note text;"));
    }
}
