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
the script. A timeout of zero (`0`, `'0s'`, `"0ms"`) means no limit in PostgreSQL, so it does
not count. Neither does `SET lock_timeout TO DEFAULT`, `RESET lock_timeout` or `RESET ALL`:
they undo the timeout set before them (migration.toml's too) and go back to the server's
default, which is no limit unless the server, database or role sets one.

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

/// The lock_timeout in force at a statement, as far as the script shows.
#[derive(Clone, Copy, PartialEq)]
enum Limit {
    /// None set.
    Unset,
    /// Zero: no limit.
    Zero,
    /// Back to the server's default, which the script doesn't show.
    Default,
    Positive,
}

fn check(cx: &ScriptCx, out: &mut Out) {
    let mut limit = match cx.mig.lock_timeout_ms {
        None => Limit::Unset,
        Some(0) => Limit::Zero,
        Some(_) => Limit::Positive,
    };
    for (i, s) in cx.a.stmts.iter().enumerate() {
        if let StmtKind::Set {
            name, value, reset, ..
        } = &s.kind
        {
            if *reset && (name == "lock_timeout" || name == "all") {
                limit = Limit::Default;
            } else if name == "lock_timeout" {
                limit = if is_zero(value) {
                    Limit::Zero
                } else {
                    Limit::Positive
                };
            }
            continue;
        }
        // Covered; a later reset or zero can still leave the statements after it bare.
        if limit == Limit::Positive {
            continue;
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
        let (what, help) = match limit {
            Limit::Zero => (
                "a lock_timeout of 0, which means no limit",
                format!("Use a positive timeout. {help}"),
            ),
            Limit::Default => (
                "lock_timeout reset to the server's default (no limit unless the server, database or role sets one)",
                "Set a positive timeout after the reset: `SET lock_timeout = '2s'`.".to_string(),
            ),
            Limit::Unset | Limit::Positive => ("no lock_timeout", help.to_string()),
        };
        out.at(
            i,
            format!("{} waits for {} {} lock on {t} with {what}; while it waits, every query on {t} queues behind it", s.kind.verb(), crate::impact::article(lock.name()), lock.name()),
            help,
        );
        return;
    }
}

/// True for a `SET lock_timeout` value of zero in any unit (`0`, `'0'`, `'0s'`, `'0ms'`).
fn is_zero(value: &str) -> bool {
    let v = value.trim().trim_matches(|c| c == '\'' || c == '"').trim();
    let num = v.trim_end_matches(|c: char| c.is_ascii_alphabetic()).trim();
    !num.is_empty() && num.parse::<f64>().is_ok_and(|n| n == 0.0)
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
    fn err_timeout_reset_to_the_default() {
        for reset in [
            "SET lock_timeout TO DEFAULT;",
            "SET lock_timeout = DEFAULT;",
            "RESET lock_timeout;",
            "RESET ALL;",
        ] {
            // After a timeout set in the script, and after migration.toml's.
            let sql = format!(
                "SET lock_timeout = '1s';\n{reset}\nALTER TABLE users ADD COLUMN note text;"
            );
            let r = lint_errors(ID, &sql);
            assert!(r.contains("reset to the server's default"), "{reset}: {r}");
            let r = Case::pg(&format!("{reset}\nALTER TABLE users ADD COLUMN note text;"))
                .toml("lock_timeout = \"2s\"\n")
                .render(ID);
            assert!(r.contains("reset to the server's default"), "{reset}: {r}");
        }
        // A reset after statements that had a limit leaves the ones after it bare.
        for (set, reset) in [
            ("SET lock_timeout = '1s';", "RESET lock_timeout;"),
            ("SET lock_timeout = '1s';", "RESET ALL;"),
            ("SET lock_timeout = '1s';", "SET lock_timeout TO DEFAULT;"),
        ] {
            let sql = format!(
                "{set}\nALTER TABLE users ADD COLUMN a text;\n{reset}\nALTER TABLE users ADD COLUMN b text;"
            );
            let r = lint_errors(ID, &sql);
            assert!(
                r.contains("reset to the server's default") && r.contains(":4:1"),
                "{reset}: {r}"
            );
        }
        let r = Case::pg("ALTER TABLE users ADD COLUMN a text;\nRESET ALL;\nALTER TABLE users ADD COLUMN b text;")
            .toml("lock_timeout = \"2s\"\n")
            .render(ID);
        assert!(
            r.contains("reset to the server's default") && r.contains(":3:1"),
            "{r}"
        );
        let r = lint_errors(
            ID,
            "SET lock_timeout = '1s';\nALTER TABLE users ADD COLUMN a text;\nSET lock_timeout = 0;\nALTER TABLE users ADD COLUMN b text;",
        );
        assert!(r.contains("lock_timeout of 0") && r.contains(":4:1"), "{r}");
        // A timeout set again after the reset counts; other settings' resets don't matter.
        lint_ok(
            ID,
            "RESET lock_timeout;\nSET lock_timeout = '1s';\nALTER TABLE users ADD COLUMN n text;",
        );
        lint_ok(
            ID,
            "SET lock_timeout = '1s';\nRESET statement_timeout;\nALTER TABLE users ADD COLUMN n text;",
        );
    }

    #[test]
    fn err_zero_timeout() {
        for v in ["0", "'0'", "'0s'", "'0ms'", "0.0", "'0 min'"] {
            let sql = format!("SET lock_timeout = {v};\nALTER TABLE users ADD COLUMN note text;");
            let r = lint_errors(ID, &sql);
            assert!(
                r.contains("lock_timeout of 0, which means no limit"),
                "{v}: {r}"
            );
        }
        for t in ["0s", "0", "0ms"] {
            let r = Case::pg("ALTER TABLE users ADD COLUMN note text;")
                .toml(&format!("lock_timeout = \"{t}\"\n"))
                .render(ID);
            assert!(
                r.contains("lock_timeout of 0, which means no limit"),
                "{t}: {r}"
            );
        }
        let r = Case::pg("SET lock_timeout = 0;\nALTER TABLE users ADD COLUMN note text;")
            .toml("lock_timeout = \"2s\"\n")
            .render(ID);
        assert!(r.contains("which means no limit"), "{r}");
        lint_case_ok(
            ID,
            Case::pg("SET lock_timeout = '1s';\nALTER TABLE users ADD COLUMN n text;")
                .toml("lock_timeout = \"0s\"\n"),
        );
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
