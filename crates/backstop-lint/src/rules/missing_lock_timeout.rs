//! Blocking DDL without a lock_timeout.

use super::*;
use crate::ir::StmtKind;

pub(crate) const RULE: Rule = Rule {
    info: RuleInfo {
        id: "missing-lock-timeout",
        severity: Severity::Warning,
        summary: "A blocking lock on an existing table without lock_timeout can stall all traffic while it waits",
        engines: PG,
        category: "locking",
    },
    check: Check::Script(Parts::UpDown, check),
    docs: r#"Even an instant `ALTER TABLE` needs its lock first. While it waits behind a long-running
query or an idle transaction, every later query on the table queues behind the waiting
statement, so a "harmless" migration halts the application. A short `lock_timeout` makes the
statement give up instead; backstop then retries it (`retries`, with backoff).

The rule is satisfied by `lock_timeout` in migration.toml or a `SET lock_timeout` earlier in
the script.

## Bad
```sql
ALTER TABLE users ADD COLUMN nickname text;
```

## Good
```toml
# migration.toml
lock_timeout = "2s"
retries = 5
```"#,
};

fn check(cx: &ScriptCx, out: &mut Out) {
    if cx.mig.lock_timeout {
        return;
    }
    for (i, s) in cx.a.stmts.iter().enumerate() {
        if let StmtKind::Set { name, .. } = &s.kind {
            if name == "lock_timeout" {
                return;
            }
        }
        let im = &cx.a.impacts[i];
        let Some(lock) = im.lock.filter(|l| l.is_blocking()) else {
            continue;
        };
        let Some(t) = im.tables.iter().find(|t| !cx.a.fresh.contains(&t.key())) else {
            continue;
        };
        let help = if cx.mig.is_migration {
            "Set `lock_timeout = \"2s\"` (and `retries`) in migration.toml."
        } else {
            "Run `SET lock_timeout = '2s'` before the statement."
        };
        out.at(
            i,
            format!("{} waits for {} {} lock on {t} with no lock_timeout; while it waits, every query on {t} queues behind it", s.kind.verb(), crate::impact::article(lock.name()), lock.name()),
            help,
        );
        return;
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;
    use expect_test::expect;
    const ID: &str = "missing-lock-timeout";

    #[test]
    fn ok_with_timeout() {
        lint_case_ok(
            ID,
            Case::pg("ALTER TABLE users ADD COLUMN n text;").toml("lock_timeout = \"2s\"\n"),
        );
        lint_ok(
            ID,
            "SET lock_timeout = '1s';\nALTER TABLE users ADD COLUMN n text;",
        );
        lint_ok(ID, "CREATE TABLE t (a int);\nCREATE INDEX ON t (a);");
    }

    #[test]
    fn err_no_timeout() {
        expect![[r#"
            warning[missing-lock-timeout]: ALTER TABLE waits for an ACCESS EXCLUSIVE lock on users with no lock_timeout; while it waits, every query on users queues behind it
             --> migrations/20260101000000_m/up.sql:1:1
              |
            1 | ALTER TABLE users ADD COLUMN nickname text;
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: Set `lock_timeout = "2s"` (and `retries`) in migration.toml.

            0 errors, 1 warning, 0 infos in 1 file (2 statements)
        "#]].assert_eq(&lint_errors(ID, "ALTER TABLE users ADD COLUMN nickname text;\nALTER TABLE users ADD COLUMN bio text;"));
    }
}
