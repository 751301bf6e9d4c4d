//! Blocking DDL without a lock_timeout.

use super::*;
use crate::ir::{Setting, SettingChange, SettingValue, StmtKind, TxKind};

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

The rule is satisfied by `lock_timeout` in migration.toml, or earlier in the script by a
`SET lock_timeout` or a `SELECT set_config('lock_timeout', '2s', false)`. A timeout of zero
(`0`, `'0s'`, `"0ms"`) means no limit in PostgreSQL, so it does not count, nor does an empty
one, which PostgreSQL refuses. Neither does `SET lock_timeout TO DEFAULT`, `RESET lock_timeout`, `RESET ALL`,
`DISCARD ALL` or `set_config('lock_timeout', NULL, …)`: they undo the timeout set before them
(migration.toml's too) and go back to the server's default, which is no limit unless the
server, database or role sets one.

`SET LOCAL lock_timeout` and `set_config(…, true)` last until the transaction ends: the
migration's own, or a COMMIT in the script. In a migration with `transaction = false` every
statement is a transaction of its own, so they cover nothing after them.

A DO block is read too: the `SET`, `RESET` and `set_config` calls it runs (`PERFORM`,
`x := set_config(…)`) and the commands of an `EXECUTE` with a constant string count as if
written in the script. Where its effect can't be known before it runs, lint takes the
reading that covers least, so the statements after it count as having no timeout, and the
finding says why:
- an `EXECUTE` of a command built at run time that may change a setting (it mentions
  `RESET`, `DISCARD` or `set_config`, or a string starting with `SET`, itself or in what is
  assigned to a variable it uses);
- a `set_config` whose name or value is computed (also outside a DO block);
- a change inside an `IF`, `CASE` or loop, or in a block with an `EXCEPTION` clause (which
  undoes it when it catches an error), and a `set_config` in a query with `FROM` or `WHERE`
  (it runs once per row, maybe never): a timeout set there covers nothing after it, and a
  reset there counts as done, unless a timeout was already in force and this one only sets
  another.

Functions the script calls are not followed.

## Bad
```sql
ALTER TABLE users ADD COLUMN nickname text;
```

```sql
-- migration.toml sets lock_timeout = "2s", and then:
DO $$ BEGIN PERFORM set_config('lock_timeout', '0', false); END $$;
ALTER TABLE users ADD COLUMN nickname text;
```

## Good
```toml
# migration.toml
lock_timeout = "2s"
retries = 5
```"#,
};

/// The lock_timeout in force at a statement, as far as the script shows. The texts say
/// what set it so and where, for the finding.
#[derive(Clone, PartialEq)]
enum Limit {
    /// None set.
    Unset,
    Positive,
    /// Zero (no limit), or a value PostgreSQL refuses.
    Unlimited(String),
    /// Back to the server's default, which the script doesn't show.
    Default(String),
    /// Set in a way lint can't follow: it counts as none.
    Unknown(String),
    /// A transaction-local timeout whose transaction has ended.
    Ended(String),
}

/// The session's timeout and, while a transaction lasts, a local one over it (with what
/// set it, in case the transaction ends).
struct State {
    session: Limit,
    local: Option<(Limit, String)>,
    in_tx: bool,
}

impl State {
    fn current(&self) -> &Limit {
        self.local.as_ref().map(|(l, _)| l).unwrap_or(&self.session)
    }

    /// The transaction ends: a local timeout goes with it.
    fn end_transaction(&mut self, how: &str) {
        if let Some((Limit::Positive, origin)) = self.local.take() {
            if self.session != Limit::Positive {
                self.session =
                    Limit::Ended(format!("{origin} set it for its transaction, which {how}"));
            }
        }
    }

    fn apply(&mut self, c: &SettingChange, origin: &str) {
        let about_it = match &c.setting {
            Setting::Named(n) => n == "lock_timeout",
            Setting::All | Setting::Unknown => true,
        };
        if !about_it {
            return;
        }
        let known = |v: &SettingValue| match v {
            SettingValue::To(v) if v.trim().is_empty() => Some(Limit::Unlimited(format!(
                "an empty lock_timeout, which PostgreSQL refuses with an error ({origin})"
            ))),
            SettingValue::To(v) if is_zero(v) => Some(Limit::Unlimited(format!(
                "a lock_timeout of 0, which means no limit ({origin})"
            ))),
            SettingValue::To(_) => Some(Limit::Positive),
            SettingValue::Default => Some(Limit::Default(format!("by {origin}"))),
            SettingValue::Unknown => None,
        };
        let value = if c.setting == Setting::Unknown {
            None
        } else {
            known(&c.value)
        };
        let limit = match (value, c.condition) {
            (None, _) if c.dynamic => {
                Limit::Unknown(format!("{origin} runs a command built at run time"))
            }
            (None, _) if c.setting == Setting::Unknown => Limit::Unknown(format!(
                "{origin} changes a setting whose name is known only when it runs"
            )),
            (None, _) => Limit::Unknown(format!(
                "{origin} sets it to a value known only when it runs"
            )),
            // A timeout set on a condition: set or not, the statements after it are covered.
            (Some(Limit::Positive), Some(_)) if *self.current() == Limit::Positive => return,
            (Some(_), Some(cond)) => {
                Limit::Unknown(format!("{origin} runs only under a condition ({cond})"))
            }
            (Some(l), None) => l,
        };
        // When it is local is decided at run time, read it the way that covers least: a
        // positive timeout as local, anything else as lasting.
        let local = match c.local {
            Some(l) => l,
            None => limit == Limit::Positive,
        };
        if !local || matches!(limit, Limit::Unknown(_)) {
            self.session = limit;
            self.local = None;
        } else if self.in_tx {
            self.local = Some((limit, origin.to_string()));
        } else if limit == Limit::Positive && *self.current() != Limit::Positive {
            // Outside a transaction the statement is one of its own, which ends with it.
            self.session = Limit::Ended(format!("{origin} set it for its transaction, which ended with its own statement (the migration runs without a transaction)"));
        }
    }
}

fn check(cx: &ScriptCx, out: &mut Out) {
    let mut state = State {
        session: match cx.mig.lock_timeout_ms {
            None => Limit::Unset,
            Some(0) => Limit::Unlimited(
                "a lock_timeout of 0, which means no limit (migration.toml)".into(),
            ),
            Some(_) => Limit::Positive,
        },
        local: None,
        in_tx: cx.mig.transaction,
    };
    for (i, s) in cx.a.stmts.iter().enumerate() {
        let line = cx.a.position(s.span.start).0;
        if let StmtKind::Transaction { kind, word } = &s.kind {
            match kind {
                TxKind::Begin => state.in_tx = true,
                TxKind::Commit | TxKind::Rollback => {
                    state.end_transaction(&format!("ended at the {word} at line {line}"));
                    state.in_tx = false;
                }
                _ => {}
            }
        }
        // The lock is taken when the statement starts, before a set_config in it runs.
        if *state.current() != Limit::Positive && blocking(cx, i, s, &state, out) {
            return;
        }
        for c in &s.settings {
            let origin = if c.in_do {
                format!("`{}` in the DO block at line {line}", c.how)
            } else {
                format!("`{}` at line {line}", c.how)
            };
            state.apply(c, &origin);
        }
    }
}

/// The finding for statement `i` when it waits for a blocking lock on an existing table
/// with no positive timeout in force; whether there was one.
fn blocking(cx: &ScriptCx, i: usize, s: &Stmt, state: &State, out: &mut Out) -> bool {
    let im = &cx.a.impacts[i];
    let Some(lock) = im.lock.filter(|l| l.is_blocking()) else {
        return false;
    };
    let Some(t) = im.tables.iter().find(|t| !cx.a.fresh.contains(&t.key())) else {
        return false;
    };
    let help = if cx.mig.is_migration {
        "Set `lock_timeout = \"2s\"` (and `retries`) in migration.toml."
    } else {
        "Run `SET lock_timeout = '2s'` before the statement."
    };
    let (what, help) = match state.current() {
        Limit::Unlimited(what) => (what.clone(), format!("Use a positive timeout. {help}")),
        Limit::Default(by) => (
            format!("lock_timeout reset to the server's default (no limit unless the server, database or role sets one) {by}"),
            "Set a positive timeout after the reset: `SET lock_timeout = '2s'`.".to_string(),
        ),
        Limit::Unknown(why) => (
            format!("a lock_timeout lint can't know: {why}, so it counts as none"),
            "After it, set a positive timeout with a statement of its own and a literal value: `SET lock_timeout = '2s'`.".to_string(),
        ),
        Limit::Ended(why) => (
            format!("no lock_timeout: {why}"),
            "Set it for the session: `SET lock_timeout = '2s'` without LOCAL (or `set_config` with false), or `lock_timeout` in migration.toml.".to_string(),
        ),
        Limit::Unset | Limit::Positive => ("no lock_timeout".to_string(), help.to_string()),
    };
    out.at(
        i,
        format!("{} waits for {} {} lock on {t} with {what}; while it waits, every query on {t} queues behind it", s.kind.verb(), crate::impact::article(lock.name()), lock.name()),
        help,
    );
    true
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
            "DISCARD ALL;",
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

    /// The findings after `sql` and one blocking statement, with `toml` as migration.toml.
    fn after(sql: &str, toml: &str) -> String {
        Case::pg(&format!("{sql}\nALTER TABLE users ADD COLUMN note text;"))
            .toml(toml)
            .render(ID)
    }

    #[test]
    fn set_config_sets_and_undoes_the_timeout() {
        // A plain statement: a positive value counts, for the session or (third argument
        // true) for the migration's transaction.
        for set in [
            "SELECT set_config('lock_timeout', '2s', false);",
            "SELECT set_config('lock_timeout', '2s', true);",
            "SELECT pg_catalog.set_config('Lock_Timeout'::text, '500', 'on');",
            "SELECT set_config('lock_timeout', '2s', false), set_config('statement_timeout', '0', false);",
        ] {
            lint_ok(ID, &format!("{set}\nALTER TABLE users ADD COLUMN n text;"));
        }
        // Zero, NULL (back to the default) and an empty value undo migration.toml's.
        for (set, says) in [
            (
                "SELECT set_config('lock_timeout', '0', false);",
                "lock_timeout of 0, which means no limit",
            ),
            (
                "SELECT set_config('lock_timeout', '0s', true);",
                "lock_timeout of 0, which means no limit",
            ),
            (
                "SELECT set_config('lock_timeout', NULL, false);",
                "reset to the server's default",
            ),
            (
                "SELECT set_config('lock_timeout', '', false);",
                "empty lock_timeout",
            ),
        ] {
            let r = after(set, "lock_timeout = \"2s\"\n");
            assert!(r.contains(says) && r.contains(":2:1"), "{set}: {r}");
            assert!(
                r.contains("set_config('lock_timeout'") && r.contains("line 1"),
                "the finding names what undid it: {set}: {r}"
            );
        }
        // Other settings don't matter.
        lint_case_ok(
            ID,
            Case::pg(
                "SELECT set_config('statement_timeout', '0', false);\nALTER TABLE users ADD COLUMN n text;",
            )
            .toml("lock_timeout = \"2s\"\n"),
        );
    }

    #[test]
    fn do_blocks_set_and_undo_the_timeout() {
        for body in [
            "PERFORM set_config('lock_timeout', '0', false);",
            "PERFORM pg_catalog.set_config('lock_timeout', '0', true);",
            "EXECUTE 'SET lock_timeout = 0';",
            "SET lock_timeout = 0;",
        ] {
            let r = after(
                &format!("DO $$ BEGIN {body} END $$;"),
                "lock_timeout = \"2s\"\n",
            );
            assert!(
                r.contains("lock_timeout of 0, which means no limit")
                    && r.contains("DO block at line 1")
                    && r.contains(":2:1"),
                "{body}: {r}"
            );
        }
        for body in [
            "EXECUTE 'RESET lock_timeout';",
            "EXECUTE 'RESET ALL';",
            "RESET lock_timeout;",
            "RESET ALL;",
            "PERFORM set_config('lock_timeout', NULL, false);",
            "EXECUTE 'SELECT set_config(''lock_timeout'', NULL, false)';",
        ] {
            let r = after(
                &format!("DO $$ BEGIN {body} END $$;"),
                "lock_timeout = \"2s\"\n",
            );
            assert!(
                r.contains("reset to the server's default") && r.contains("DO block at line 1"),
                "{body}: {r}"
            );
        }
        // A DO block that sets a positive timeout covers what follows it.
        for block in [
            "DO $$ BEGIN PERFORM set_config('lock_timeout', '2s', false); END $$;",
            "DO $$ BEGIN EXECUTE 'SET lock_timeout = ''2s'''; END $$;",
            "DO $$ BEGIN SET lock_timeout = '2s'; END $$;",
            "DO $$ DECLARE x text; BEGIN x := set_config('lock_timeout', '2s', true); END $$;",
            "DO LANGUAGE plpgsql $body$ BEGIN BEGIN SET lock_timeout = '2s'; END; END $body$;",
        ] {
            lint_ok(
                ID,
                &format!("{block}\nALTER TABLE users ADD COLUMN n text;"),
            );
        }
        // One that does other things leaves the timeout as it was.
        for body in [
            "EXECUTE format('ANALYZE %I', 'users');",
            "PERFORM set_config('statement_timeout', '0', false);",
            "RAISE NOTICE 'nothing to reset';",
        ] {
            lint_case_ok(
                ID,
                Case::pg(&format!(
                    "DO $$ BEGIN {body} END $$;\nALTER TABLE users ADD COLUMN n text;"
                ))
                .toml("lock_timeout = \"2s\"\n"),
            );
        }
    }

    #[test]
    fn an_effect_known_only_at_run_time_counts_as_no_timeout() {
        // The value or the command is built at run time: whatever it turns out to be, the
        // statements after it are not counted as covered, and the finding says why.
        for (sql, says) in [
            (
                "DO $$ BEGIN EXECUTE 'SET lock_timeout = ' || quote_literal(current_setting('app.t')); END $$;",
                "built at run time",
            ),
            (
                "DO $$ DECLARE v text := 'RESET ALL'; BEGIN EXECUTE v; END $$;",
                "built at run time",
            ),
            (
                "DO $$ BEGIN PERFORM set_config('lock_timeout', current_setting('app.t'), false); END $$;",
                "known only when it runs",
            ),
            (
                "SELECT set_config('lock_timeout', current_setting('app.t'), false);",
                "known only when it runs",
            ),
            (
                "SELECT set_config(name, '0', false) FROM pg_settings WHERE name LIKE 'lock%';",
                "known only when it runs",
            ),
            (
                "DO $$ BEGIN IF now() > '2020-01-01' THEN RESET lock_timeout; END IF; END $$;",
                "only under a condition",
            ),
            (
                "DO LANGUAGE plpython3u $$ plpy.execute('RESET ALL') $$;",
                "built at run time",
            ),
        ] {
            let r = after(sql, "lock_timeout = \"2s\"\n");
            assert!(
                r.contains("can't know") && r.contains(says) && r.contains(":2:1"),
                "{sql}: {r}"
            );
        }
        // A timeout set only under a condition, in a loop or in a block that catches
        // errors (which undoes it when it does) covers nothing.
        for body in [
            "IF now() > '2020-01-01' THEN SET lock_timeout = '2s'; END IF;",
            "FOR i IN 1..1 LOOP PERFORM set_config('lock_timeout', '2s', false); END LOOP;",
            "BEGIN SET lock_timeout = '2s'; EXCEPTION WHEN others THEN NULL; END;",
        ] {
            let r = lint_errors(
                ID,
                &format!("DO $$ BEGIN {body} END $$;\nALTER TABLE users ADD COLUMN n text;"),
            );
            assert!(
                r.contains("only under a condition") && r.contains(":2:1"),
                "{body}: {r}"
            );
        }
    }

    #[test]
    fn a_local_timeout_lasts_until_the_transaction_ends() {
        // In the migration's transaction it covers the rest of the script.
        lint_ok(
            ID,
            "SET LOCAL lock_timeout = '2s';\nALTER TABLE users ADD COLUMN n text;",
        );
        // Without one, each statement is its own transaction: it ends with its statement.
        for set in [
            "SET LOCAL lock_timeout = '2s';",
            "SELECT set_config('lock_timeout', '2s', true);",
            "DO $$ BEGIN PERFORM set_config('lock_timeout', '2s', true); END $$;",
        ] {
            let r = after(set, "transaction = false\n");
            assert!(
                r.contains("ended with its own statement") && r.contains(":2:1"),
                "{set}: {r}"
            );
        }
        // A local zero is gone after its statement too; the session's timeout stays.
        lint_case_ok(
            ID,
            Case::pg("SET LOCAL lock_timeout = 0;\nALTER TABLE users ADD COLUMN n text;")
                .toml("transaction = false\nlock_timeout = \"2s\"\n"),
        );
        // A COMMIT in the script ends it as well.
        let r = lint_errors(
            ID,
            "SET LOCAL lock_timeout = '2s';\nCOMMIT;\nALTER TABLE users ADD COLUMN n text;",
        );
        assert!(r.contains("ended") && r.contains(":3:1"), "{r}");
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
