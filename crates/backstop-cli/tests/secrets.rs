//! Passwords never appear in output, errors or the audit ledger, and masking them never
//! corrupts output that isn't secret.
mod common;
use backstop_core::ledger::{verify_chain, Event};
use common::{Db, Kind, Project, Run, BIN};
use std::process::{Command, Stdio};

/// Run the binary in `p`'s folder with exactly `args` (no database URL added).
fn raw(p: &Project, args: &[&str]) -> Run {
    let out = Command::new(BIN)
        .current_dir(p.tmp.path())
        .env_remove("DATABASE_URL")
        .env("BACKSTOP_ACTOR", "tester")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run backstop");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// `db`'s URL with `password` added to its userinfo (the test server trusts every login).
fn with_password(db: &Db, password: &str) -> String {
    db.url.replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{password}@"),
        1,
    )
}

#[test]
fn malformed_database_urls_never_show_their_password() {
    // Regression: only a literal `://` was recognised, so `postgres:/u:pw@h` was printed whole.
    let p = Project::new();
    for url in [
        "postgres:/u:Zq9Secret@127.0.0.1:5432/x",
        "postgres//u:Zq9Secret@127.0.0.1:5432/x",
        "postgres:u:Zq9Secret@127.0.0.1:5432/x",
        "postgresql:/u:Zq9Secret@127.0.0.1:5432/x",
        "postgres:\\\\u:Zq9Secret@127.0.0.1:5432/x",
        "mysql:/u:Zq9Secret@127.0.0.1:5432/x",
        // short: masked by its place in the URL, not by its value
        "postgres:/u:hunter@127.0.0.1:5432/x",
    ] {
        for format in ["text", "json"] {
            let r = raw(&p, &["--database-url", url, "--format", format, "status"]);
            assert_eq!(r.code, 2, "{url}: {r:?}");
            for s in ["Zq9Secret", "hunter"] {
                assert!(!r.all().contains(s), "{url} leaked {s}: {r:?}");
            }
            if format == "json" {
                let e = r.json()["error"].as_str().unwrap_or_default().to_string();
                assert!(e.contains("u:***@127.0.0.1"), "{url}: {e}");
            }
        }
    }
}

#[test]
fn urls_in_argument_errors_are_masked_in_every_format() {
    // Regression: in text mode clap's "unexpected argument '…'" was printed as given.
    let p = Project::new();
    for url in [
        "postgres://u:Zq9Secret@h/db",
        "postgres://u:Zq9 Secret@h/db",
        "postgres:/u:Zq9Secret@h/db",
    ] {
        let r = raw(&p, &["status", url]);
        assert_eq!(r.code, 2, "{r:?}");
        assert!(r.stdout.is_empty(), "{r:?}");
        assert!(r.stderr.contains("unexpected argument"), "{r:?}");
        assert!(r.stderr.contains("u:***@h/db"), "{r:?}");
        assert!(r.stderr.contains("Usage: backstop status"), "{r:?}");
        assert!(
            !r.all().contains("Zq9") && !r.all().contains("Secret"),
            "{r:?}"
        );

        let r = raw(&p, &["--format", "json", "status", url]);
        assert_eq!(r.code, 2, "{r:?}");
        assert_eq!(r.json()["kind"], "usage");
        assert!(
            !r.all().contains("Zq9") && !r.all().contains("Secret"),
            "{r:?}"
        );
    }
    // Help is unchanged.
    let r = raw(&p, &["--help"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Usage: backstop"), "{r:?}");
}

#[test]
fn passwords_with_spaces_are_masked_in_config_errors_and_key_value_strings() {
    // Regression: backstop.toml was parsed before its password was known, and key=value
    // strings with an escaped or quoted space showed the part after the space.
    let p = Project::new();
    for (password, leak) in [("Zq9 Secret", "Secret"), ("ab cd", "cd@")] {
        let toml = p.tmp.path().join("c.toml");
        std::fs::write(
            &toml,
            format!("database_url = \"postgres://u:{password}@h/d\" x\n"),
        )
        .expect("write");
        let r = raw(&p, &["--config", "c.toml", "status"]);
        assert_eq!(r.code, 2, "{r:?}");
        assert!(r.stderr.contains("c.toml: line 1: "), "{r:?}");
        assert!(r.stderr.contains("postgres://u:***@h/d"), "{r:?}");
        assert!(!r.all().contains(leak), "{password}: {r:?}");
    }
    for url in [
        r"host=127.0.0.1 password=Zq9\ Secret user=u",
        r#"host=127.0.0.1 password="Zq9 Secret" user=u"#,
        "host=127.0.0.1 password='Zq9 Secret' user=u",
    ] {
        for format in ["text", "json"] {
            let r = raw(&p, &["--database-url", url, "--format", format, "status"]);
            assert_eq!(r.code, 2, "{r:?}");
            assert!(!r.all().contains("Zq9"), "{url}: {r:?}");
            assert!(!r.all().contains("Secret"), "{url}: {r:?}");
            assert!(r.all().contains("user=u"), "{url}: {r:?}");
        }
    }
}

/// The ledger as exported, checked the way an auditor would: outside the database.
fn exported_chain_verifies(p: &Project, url: &str) -> Vec<Event> {
    let run = |args: &[&str]| {
        let r = raw(p, &[&["--database-url", url], args].concat());
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        r.stdout
    };
    let doc: serde_json::Value =
        serde_json::from_str(&run(&["--format", "json", "audit", "export"]))
            .expect("one JSON document");
    let events: Vec<Event> =
        serde_json::from_value(doc["events"].clone()).expect("events as stored");
    let head = doc["head_hash"].as_str().expect("head").to_string();
    let seq = doc["head_seq"].as_i64().expect("head seq");
    assert_eq!(verify_chain(&events, Some((seq, &head))), Ok(()), "{doc}");
    // The JSON-lines form is the same events.
    let lines: Vec<Event> = run(&["audit", "export"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("one event per line"))
        .collect();
    assert_eq!(lines, events);
    events
}

#[test]
fn failing_statements_are_masked_in_the_ledger_and_the_export_verifies() {
    // Regression: the failing statement was stored unmasked, and masking at print time
    // made `audit export` differ from what was hashed.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id int);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.add(
        "2_bad",
        "SELECT 'S3cretPw'::int;",
        Some("SELECT 1;"),
        None,
        None,
    );
    let url = with_password(&db, "S3cretPw");
    let r = raw(
        &p,
        &["--database-url", &url, "--dir", "migrations", "apply"],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(!r.all().contains("S3cretPw"), "{r:?}");
    assert!(r.stderr.contains("SELECT '***'::int"), "{r:?}");
    let r = raw(
        &p,
        &[
            "--database-url",
            &url,
            "--dir",
            "migrations",
            "--format",
            "json",
            "apply",
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(!r.all().contains("S3cretPw"), "{r:?}");
    assert_eq!(r.json()["failure"]["statement"], "SELECT '***'::int");

    assert!(db
        .check("SELECT NOT EXISTS (SELECT 1 FROM backstop.events WHERE detail LIKE '%S3cretPw%')"));
    assert!(db.check(
        "SELECT EXISTS (SELECT 1 FROM backstop.events WHERE kind = 'apply-failed' AND detail LIKE '%\"statement\":\"SELECT ''***''::int\"%')"
    ));
    let events = exported_chain_verifies(&p, &url);
    assert!(events
        .iter()
        .any(|e| e.kind == "apply-failed" && e.detail.contains("SELECT '***'::int")));
}

#[test]
fn an_export_of_events_that_quote_a_password_parameter_matches_the_hashes() {
    // Regression: the export was masked again as text, which turned the stored
    // `password=\"***\"` into `password=***"***\"`, so it no longer matched its hash.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_bad",
        "INSERT INTO missing VALUES ('dsn password=\"x\"');",
        Some("SELECT 1;"),
        None,
        None,
    );
    assert_eq!(p.run(&db, &["apply"]).code, 1);
    let events = exported_chain_verifies(&p, &db.url);
    assert!(
        events
            .iter()
            .any(|e| e.detail.contains(r#"password=\"***\""#)),
        "{events:?}"
    );
}

#[test]
fn a_ledger_that_holds_a_password_still_verifies_and_its_export_masks_it() {
    // An event stored before events were redacted (here: written without the password in
    // the URL, so backstop did not know it) still verifies; the export masks it.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_bad",
        "SELECT 'S3cretPw'::int;",
        Some("SELECT 1;"),
        None,
        None,
    );
    assert_eq!(p.run(&db, &["apply"]).code, 1);
    assert!(
        db.check("SELECT EXISTS (SELECT 1 FROM backstop.events WHERE detail LIKE '%S3cretPw%')")
    );
    let url = with_password(&db, "S3cretPw");
    for args in [
        &["--format", "json", "audit", "verify"][..],
        &["audit", "export"],
        &["--format", "json", "audit", "export"],
        &["--verbose", "audit", "log"],
    ] {
        let r = raw(&p, &[&["--database-url", url.as_str()], args].concat());
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        assert!(!r.all().contains("S3cretPw"), "{args:?}: {r:?}");
    }
}

#[test]
fn short_or_common_passwords_do_not_corrupt_output() {
    // Regression: every occurrence of the password was replaced at print time, so
    // `postgres`, `applied`, `2026` or `public` turned into `***` all over the output.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE public.a (id int);",
        Some("DROP TABLE public.a;"),
        None,
        None,
    );
    let name = db.url.rsplit('/').next().expect("db name").to_string();
    let year = &backstop_core::now_rfc3339()[..4];
    for (i, password) in ["postgres", "applied", year, "public", "apply"]
        .into_iter()
        .enumerate()
    {
        let url = with_password(&db, password);
        let run = |args: &[&str]| {
            let r = raw(
                &p,
                &[
                    &["--database-url", url.as_str(), "--dir", "migrations"],
                    args,
                ]
                .concat(),
            );
            assert_eq!(r.code, 0, "{password} {args:?}: {r:?}");
            r
        };
        if i == 0 {
            run(&["apply"]);
        }
        let st = run(&["--format", "json", "status"]).json();
        assert_eq!(
            st["database"],
            format!("postgres://postgres:***@127.0.0.1:5432/{name}"),
            "{password}: {st}"
        );
        let m = &st["migrations"][0];
        assert_eq!(m["state"], "applied", "{password}: {st}");
        assert!(
            m["applied_at"]
                .as_str()
                .is_some_and(|a| a.starts_with(year)),
            "{password}: {st}"
        );
        let text = run(&["status"]).stdout;
        assert!(text.contains("applied      1 a"), "{password}: {text}");
        let schema = run(&["schema"]).stdout;
        assert!(schema.contains("table public.a"), "{password}: {schema}");
        assert!(!schema.contains("***"), "{password}: {schema}");
        let events = exported_chain_verifies(&p, &url);
        assert_eq!(events[0].kind, "apply", "{password}");
        // The password is still masked where it stands in for a password.
        let log = run(&["--verbose", "audit", "log"]).all();
        assert!(!log.contains(&format!(":{password}@")), "{log}");
    }
}

#[test]
fn a_short_password_is_masked_only_in_the_url_not_in_a_release_id_or_sql() {
    // Regression: a short password of the URL was masked as any `:pw@` of other text, so a
    // release id `shop:prod@…` was printed and stored as `shop:***@…` and `rollback
    // --release` with the id as given found nothing, and SQL literals were shown altered.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE public.a (id int, who text DEFAULT 'bob:prod@example.com');",
        Some("DROP TABLE public.a;"),
        None,
        None,
    );
    let url = with_password(&db, "prod");
    let release = "shop:prod@2026-11-25";
    let run = |args: &[&str]| {
        let r = raw(
            &p,
            &[
                &["--database-url", url.as_str(), "--dir", "migrations"],
                args,
            ]
            .concat(),
        );
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        r
    };
    let applied = run(&["apply", "--release", release]);
    assert!(applied.all().contains(release), "{applied:?}");
    assert!(
        db.check(&format!(
            "SELECT release_id = '{release}' FROM backstop.migrations WHERE version = 1"
        )),
        "the release id is stored as given"
    );
    let schema = run(&["schema"]).stdout;
    assert!(schema.contains("bob:prod@example.com"), "{schema}");
    // The URL itself is still masked.
    let st = run(&["status"]).all();
    assert!(st.contains("postgres://postgres:***@"), "{st}");
    assert!(!st.contains(":prod@127"), "{st}");
    let rolled = run(&["rollback", "--release", release]);
    assert!(rolled.all().contains("rolled back"), "{rolled:?}");
}

#[test]
fn text_cut_inside_a_quoted_password_value_is_masked_without_a_panic() {
    // Regression: masking an unterminated quoted `password=` value that ran to the end of a
    // text ending in a non-ASCII character panicked (exit 101, backtrace, no cleanup). A
    // failing statement's excerpt is cut at 100 characters and ends in " …".
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_accounts",
        "INSERT INTO service_accounts (name,password) SELECT 'reporting', password = '$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW' FROM nosuch;",
        Some("SELECT 1;"),
        None,
        Some("transaction = false\n"),
    );
    let r = p.run(&db, &["apply"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(!r.all().contains("panicked"), "{r:?}");
    assert!(!r.all().contains("R9h/cIPz0gi"), "{r:?}");
    assert!(r.stderr.contains("password = '***"), "{r:?}");
    // The failure was recorded and cleaned up: nothing is left dirty.
    let st = p.status(&db);
    assert_ne!(st["migrations"][0]["state"], "dirty", "{st}");
    assert!(db.check(&format!(
        "SELECT NOT EXISTS (SELECT 1 FROM {} WHERE status = 'dirty')",
        db.t("migrations")
    )));
    exported_chain_verifies(&p, &db.url);

    // A key=value connection string ending in an unterminated quoted value.
    let r = raw(
        &p,
        &[
            "--database-url",
            "host=db user=app password=hunter2 sslpassword='é",
            "status",
        ],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(!r.all().contains("panicked"), "{r:?}");
    assert!(!r.all().contains("hunter2"), "{r:?}");

    // A reason ending in one.
    db.exec("CREATE TABLE drifted (id int)");
    let r = p.run(
        &db,
        &["apply", "--allow-drift", "--reason", "rotated password='é"],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(!r.all().contains("panicked"), "{r:?}");
    assert!(r.all().contains("rotated password='***"), "{r:?}");
    exported_chain_verifies(&p, &db.url);
}

#[test]
fn a_reason_masked_when_stored_is_exported_as_stored() {
    // Regression: the stored reason `…svc:***@db.internal@corp…` was masked again on export
    // to `…svc:***@corp…`, so the export no longer matched the event's hash.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id int);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    db.exec("CREATE TABLE drifted (id int)");
    let reason = "old DSN postgres://svc:pa ss@db.internal@corp was revoked";
    p.ok(&db, &["apply", "--allow-drift", "--reason", reason]);
    let events = exported_chain_verifies(&p, &db.url);
    let stored: Vec<_> = events.iter().filter_map(|e| e.reason.as_deref()).collect();
    assert_eq!(
        stored,
        ["old DSN postgres://svc:***@corp was revoked"],
        "{events:?}"
    );
}

#[test]
fn url_passwords_with_quotes_or_an_at_sign_and_a_space_are_masked_by_position() {
    // Regression: a quote in the password ended the URL, so the whole password was shown,
    // and `p@s w` was shown as `***@s w@`: only the part up to the first '@' was masked.
    let p = Project::new();
    for (url, leaks) in [
        (
            "postgres://u:ab'cd@127.0.0.1:notaport/db",
            &["ab'cd", "'cd@"][..],
        ),
        (
            "postgres://u:a\"b@127.0.0.1:5432/nodb",
            &[":a\"b", ":a\\\"b", "b@"],
        ),
        ("postgres://u:p@s w@127.0.0.1:5432/nodb", &["p@s", "s w@"]),
    ] {
        for format in ["text", "json"] {
            let r = raw(&p, &["--database-url", url, "--format", format, "status"]);
            assert_eq!(r.code, 2, "{url}: {r:?}");
            for leak in leaks {
                assert!(!r.all().contains(leak), "{url} leaked {leak}: {r:?}");
            }
            assert!(
                r.all().contains("postgres://u:***@127.0.0.1:"),
                "{url}: {r:?}"
            );
        }
        // Quoted by the argument parser.
        let r = raw(&p, &["status", url]);
        assert_eq!(r.code, 2, "{r:?}");
        assert!(r.stderr.contains("'postgres://u:***@127.0.0.1:"), "{r:?}");
        for leak in leaks {
            assert!(!r.all().contains(leak), "{url} leaked {leak}: {r:?}");
        }
    }
}

#[test]
fn prose_that_mentions_a_password_is_left_alone() {
    // Regression: `--reason "password: old one…"` was stored as `password: ***`, and a
    // `--lock-wait` error quoting `password='x` lost everything after it.
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id int);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    db.exec("CREATE TABLE drifted (id int)");
    let reason = "password: old one was revoked";
    p.ok(&db, &["apply", "--allow-drift", "--reason", reason]);
    let events = exported_chain_verifies(&p, &db.url);
    assert!(
        events.iter().any(|e| e.reason.as_deref() == Some(reason)),
        "{events:?}"
    );

    let r = p.run(&db, &["--lock-wait", "password='x", "status"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("--lock-wait `password='***` is not a duration (e.g. 60s, 500ms)"),
        "{r:?}"
    );
}

#[test]
fn password_parameters_with_a_percent_encoded_key_or_equals_sign_are_masked() {
    // Regression: `?password%3Dsecret` made the URL invalid, and the error quoted it whole.
    let p = Project::new();
    for param in [
        "password%3D",
        "password%3d",
        "password%253D",
        "p%61ssword%3D",
        "PASSWORD%3D",
    ] {
        let url = format!("postgres://u@127.0.0.1:1/db?{param}ssWord9xQ");
        for format in ["text", "json"] {
            let r = raw(&p, &["--database-url", &url, "--format", format, "status"]);
            assert_eq!(r.code, 2, "{url}: {r:?}");
            assert!(!r.all().contains("ssWord9xQ"), "{url} leaked: {r:?}");
            let shown = format!("postgres://u@127.0.0.1:1/db?{param}***");
            assert!(r.stderr.contains(&shown), "{url}: {r:?}");
            if format == "json" {
                let e = r.json()["error"].as_str().unwrap_or_default().to_string();
                assert!(e.contains(&shown), "{url}: {e}");
            }
        }
    }
}

#[test]
fn actor_release_and_reason_are_masked_in_history_as_in_the_ledger() {
    // Regression: the ledger masked the password in --actor and --release, but
    // backstop.migrations stored actor, release_id and note ("rolled back by …") as given.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (id int);",
        Some("DROP TABLE a;"),
        None,
        None,
    );
    p.add(
        "2_b",
        "CREATE TABLE b (id int);",
        Some("DROP TABLE b;"),
        None,
        Some("irreversible = true\nreason = \"drops b\"\n"),
    );
    let url = with_password(&db, "Zq9Secret");
    let run = |args: &[&str]| {
        let r = raw(
            &p,
            &[
                &[
                    "--database-url",
                    url.as_str(),
                    "--dir",
                    "migrations",
                    "--actor",
                    "ann Zq9Secret",
                ],
                args,
            ]
            .concat(),
        );
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        assert!(!r.all().contains("Zq9Secret"), "{args:?}: {r:?}");
        r
    };
    run(&["apply", "--release", "rel-Zq9Secret"]);
    // The release is found by the id as given.
    run(&[
        "rollback",
        "--release",
        "rel-Zq9Secret",
        "--force",
        "--reason",
        "b holds Zq9Secret",
    ]);
    let history = db.t("migrations");
    assert!(db.check(&format!(
        "SELECT NOT EXISTS (SELECT 1 FROM {history} WHERE actor LIKE '%Zq9Secret%' OR release_id LIKE '%Zq9Secret%' OR note LIKE '%Zq9Secret%')"
    )));
    assert!(db.check(&format!(
        "SELECT count(*) = 2 FROM {history} WHERE actor = 'ann ***' AND release_id = 'rel-***'"
    )));
    assert!(db.check(&format!(
        "SELECT EXISTS (SELECT 1 FROM {history} WHERE note = 'rolled back by ann *** (forced: b holds ***)')"
    )));
    // History and ledger agree.
    assert!(db.check(&format!(
        "SELECT NOT EXISTS (SELECT 1 FROM {history} m JOIN backstop.events e ON e.version = m.version AND e.kind = 'apply' WHERE e.release_id <> m.release_id OR e.actor <> m.actor)"
    )));
    exported_chain_verifies(&p, &url);
}

#[test]
fn passwords_holding_punctuation_quotes_or_spaces_are_never_shown() {
    // Regression: in `postgres://u:a`,b@…` the backtick was taken for the URL's closing
    // quote, so `status` printed the password whole; `?password=se,cret` was printed as
    // `password=***,cret`, and `?password=s`e c`ret` as `password=*** c`ret`. The test
    // server trusts every login, so `status` connects and prints the URL as it shows it.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    let userinfo = with_password(&db, "***");
    let query = format!("{}?password=***", db.url);
    for (url, shown, leaks) in [
        (with_password(&db, "a`,b"), &userinfo, &[":a`", ",b@"][..]),
        (with_password(&db, "a`;b"), &userinfo, &[":a`", ";b@"]),
        (with_password(&db, "a',b"), &userinfo, &[":a'", ",b@"]),
        (with_password(&db, "k` w"), &userinfo, &[":k`", " w@"]),
        (
            format!("{}?password=se,cret", db.url),
            &query,
            &["=se,", "cret"],
        ),
        (
            format!("{}?password=se\"cret", db.url),
            &query,
            &["=se\"", "cret"],
        ),
        (
            format!("{}?password=s`e c`ret", db.url),
            &query,
            &["=s`e", "c`ret"],
        ),
        (
            format!("{}?password=q1 z", db.url),
            &query,
            &["=q1", "*** z"],
        ),
    ] {
        for format in ["text", "json"] {
            let r = raw(
                &p,
                &[
                    "--database-url",
                    &url,
                    "--dir",
                    "migrations",
                    "--format",
                    format,
                    "status",
                ],
            );
            assert_eq!(r.code, 0, "{url}: {r:?}");
            // No part of the password on either side of its punctuation or space.
            for leak in leaks {
                assert!(!r.all().contains(leak), "{url} leaked {leak}: {r:?}");
            }
            if format == "json" {
                assert_eq!(r.json()["database"], shown.as_str(), "{url}: {r:?}");
            } else {
                assert!(
                    r.stdout.contains(&format!("database: {shown}\n")),
                    "{url}: {r:?}"
                );
            }
        }
    }
}

#[test]
fn a_url_password_holding_a_password_parameter_is_never_shown() {
    // Regression: `postgres://u:Kq7?password=Jy8@…` was printed as
    // `postgres://u:Kq7?password=***`: the `?` was taken for the query's, so the userinfo
    // ended before it. A password holding ` password=` was masked whole only where the URL
    // was quoted exactly as given.
    let p = Project::new();
    for url in [
        "postgres://u:Kq7 password=Jy8@127.0.0.1:1/db",
        "postgres://u:Kq7?password=Jy8@127.0.0.1:1/db",
        "postgres://u:Kq7&password=Jy8@127.0.0.1:1/db",
        "postgres://u:Kq7 password=Jy8?x@127.0.0.1:1/db",
    ] {
        for format in ["text", "json"] {
            let r = raw(&p, &["--database-url", url, "--format", format, "status"]);
            assert_eq!(r.code, 2, "{url}: {r:?}");
            for leak in ["Kq7", "Jy8"] {
                assert!(!r.all().contains(leak), "{url} leaked {leak}: {r:?}");
            }
            let shown = "cannot connect to postgres://u:***@127.0.0.1:1/db: ";
            assert!(r.stderr.contains(shown), "{url}: {r:?}");
            if format == "json" {
                let e = r.json()["error"].as_str().unwrap_or_default().to_string();
                assert!(e.starts_with(shown), "{url}: {e}");
            }
        }
    }
}

#[test]
fn a_mysql_dsn_password_with_a_space_and_a_colon_is_never_shown() {
    // Regression: `app:Kq7 Zx3:Wv5@tcp(…)/db` was printed as `app:Kq7 Zx3:***@tcp(…)/db`:
    // the space ended the password's shape, `Zx3` was taken for the user name, and only
    // `Wv5` was registered as the password.
    let p = Project::new();
    let url = "app:Kq7 Zx3:Wv5@tcp(127.0.0.1:3306)/db";
    for format in ["text", "json"] {
        let r = raw(&p, &["--database-url", url, "--format", format, "status"]);
        assert_eq!(r.code, 2, "{r:?}");
        for leak in ["Kq7", "Zx3", "Wv5"] {
            assert!(!r.all().contains(leak), "leaked {leak}: {r:?}");
        }
        assert!(
            r.stderr
                .contains("app:***@tcp(127.0.0.1:3306)/db: unknown database URL scheme"),
            "{r:?}"
        );
    }
}

#[test]
fn a_query_value_with_an_at_sign_after_the_port_is_shown_as_given() {
    // Regression: `postgres://u@127.0.0.1:5432/db?application_name=a@b` was shown as
    // `postgres://u@127.0.0.1:***@b`: the query's `@` was taken for the end of a userinfo
    // and the port for a password, though the URL has none.
    let db = Db::new(Kind::Postgres);
    let p = Project::new();
    let url = format!("{}?application_name=ops@backstop", db.url);
    for format in ["text", "json"] {
        let r = raw(
            &p,
            &[
                "--database-url",
                &url,
                "--dir",
                "migrations",
                "--format",
                format,
                "status",
            ],
        );
        assert_eq!(r.code, 0, "{r:?}");
        assert!(!r.all().contains("***"), "{r:?}");
        if format == "json" {
            assert_eq!(r.json()["database"], url.as_str(), "{r:?}");
        } else {
            assert!(r.stdout.contains(&format!("database: {url}\n")), "{r:?}");
        }
    }
    // Unreachable: the connection error quotes it as given too.
    let url = "postgres://u@127.0.0.1:1/db?application_name=a@b";
    let r = raw(&p, &["--database-url", url, "status"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains(&format!("cannot connect to {url}: ")),
        "{r:?}"
    );
}

#[test]
fn a_sqlite_path_that_looks_like_userinfo_is_shown_as_given() {
    // Regression: `sqlite://sq/team@corp:x1@y/app.db` was shown as
    // `sqlite://sq/team@corp:***@y/app.db`, and the file it names, in the note that it does
    // not exist yet, as `…/sq/team@corp:***@y/app.db`. A SQLite URL holds no password.
    let p = Project::new();
    let url = "sqlite://sq/team@corp:x1@y/app.db";
    let path = p
        .tmp
        .path()
        .canonicalize()
        .expect("project path")
        .join("sq/team@corp:x1@y/app.db");
    for format in ["text", "json"] {
        let r = raw(&p, &["--database-url", url, "--format", format, "status"]);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(!r.all().contains("***"), "{r:?}");
        if format == "json" {
            assert_eq!(r.json()["database"], url, "{r:?}");
        } else {
            assert!(r.stdout.contains(&format!("database: {url}\n")), "{r:?}");
            assert!(
                r.stderr
                    .contains(&format!("note: {} does not exist yet", path.display())),
                "{r:?}"
            );
        }
    }
    // A command that refuses the missing file names it as given too.
    let r = raw(&p, &["--database-url", url, "verify"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "{url}: no such SQLite database: {} does not exist",
            path.display()
        )),
        "{r:?}"
    );
    assert!(!path.exists(), "nothing was created");
}

/// The code frames of `lint` text output: each source line as shown, and the part of it the
/// caret line under it covers.
fn frames(out: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = out.lines().collect();
    let mut found = Vec::new();
    for pair in lines.windows(2) {
        let source = pair[0]
            .split_once(" | ")
            .filter(|(n, _)| n.trim().parse::<usize>().is_ok());
        let caret = pair[1].split_once(" | ").map(|(_, c)| c);
        if let (Some((_, src)), Some(caret)) = (source, caret) {
            let start = caret.len() - caret.trim_start().len();
            let width = caret.trim().chars().filter(|c| *c == '^').count();
            let covered: String = src.chars().skip(start).take(width).collect();
            found.push((src.to_string(), covered));
        }
    }
    found
}

#[test]
fn lint_carets_point_at_the_same_characters_of_a_masked_line() {
    // Regression: the line above a caret was printed masked (`password=***`), but the caret
    // was placed by the columns of the line as written, so it pointed characters too far
    // to the right, and ran past what it marked.
    let p = Project::new();
    p.add(
        "1_a",
        "SELECT 'password=hunter2', 1; CREATE TABLE t (id int);\n\
         SELECT 1 FROM t WHERE password=hunter AND 1 = ;\n\
         CREATE ROLE app LOGIN PASSWORD 'S3cretRolePw!'; CREATE TABLE u (id int);\n",
        Some("DROP TABLE u;\nDROP TABLE t;"),
        None,
        None,
    );
    for url in ["postgres://postgres@127.0.0.1:1/x", "sqlite://lint.db"] {
        let r = raw(&p, &["--database-url", url, "lint", "migrations"]);
        assert!(!r.all().contains("hunter"), "{r:?}");
        assert!(!r.all().contains("S3cretRolePw"), "{r:?}");
        let frames = frames(&r.stdout);
        let covered = |line: &str| {
            frames
                .iter()
                .filter(|(src, _)| src == line)
                .map(|(_, c)| c.clone())
                .collect::<Vec<_>>()
        };
        let first = covered("SELECT 'password=***', 1; CREATE TABLE t (id int);");
        assert!(!first.is_empty(), "{url}: {r:?}");
        assert!(
            first.iter().all(|c| c == "CREATE TABLE t (id int)"),
            "{url}: {first:?}\n{r:?}"
        );
        let third = covered("CREATE ROLE app LOGIN PASSWORD '***'; CREATE TABLE u (id int);");
        assert!(!third.is_empty(), "{url}: {r:?}");
        assert!(
            third.iter().all(|c| c == "CREATE TABLE u (id int)"),
            "{url}: {third:?}\n{r:?}"
        );
        if url.starts_with("postgres") {
            // PostgreSQL's parser points at the `=` whose right side is missing, as it does
            // in the line as written.
            assert_eq!(
                covered("SELECT 1 FROM t WHERE password=*** AND 1 = ;"),
                ["="],
                "{r:?}"
            );
        }
    }
}

#[test]
fn sql_password_literals_are_masked_in_reports_plans_and_the_ledger() {
    // Regression: `CREATE ROLE app LOGIN PASSWORD 'S3cretRolePw!'` was printed as written
    // in the failure's statement excerpt, in `plan` and `apply --dry-run`, text and JSON,
    // and stored so in the ledger's apply-failed event. SQLite refuses every one of these
    // statements, so each fails where it stands.
    for (sql, shown, secret) in [
        (
            "CREATE ROLE app LOGIN PASSWORD 'S3cretRolePw!'",
            "CREATE ROLE app LOGIN PASSWORD '***'",
            "S3cretRolePw!",
        ),
        (
            "ALTER ROLE app ENCRYPTED PASSWORD 'S3cretRolePw!'",
            "ALTER ROLE app ENCRYPTED PASSWORD '***'",
            "S3cretRolePw!",
        ),
        (
            "CREATE USER app WITH PASSWORD 'hunter'",
            "CREATE USER app WITH PASSWORD '***'",
            "hunter",
        ),
        (
            "CREATE USER 'app'@'%' IDENTIFIED BY 'S3cretRolePw!'",
            "CREATE USER 'app'@'%' IDENTIFIED BY '***'",
            "S3cretRolePw!",
        ),
    ] {
        let db = Db::new(Kind::Sqlite);
        let p = Project::new();
        p.add(
            "1_a",
            "CREATE TABLE a (id int);",
            Some("DROP TABLE a;"),
            None,
            None,
        );
        p.add(
            "2_role",
            &format!("CREATE TABLE b (id int);\n{sql};\n"),
            Some("DROP TABLE b;"),
            None,
            None,
        );
        let no_secret = |r: &Run| assert!(!r.all().contains(secret), "{sql}: {r:?}");
        for args in [&["plan"][..], &["apply", "--dry-run"]] {
            let r = p.ok(&db, args);
            no_secret(&r);
            assert!(r.stdout.contains(&format!("2. line 2: {shown}\n")), "{r:?}");
            let r = p.ok(&db, &[&["--format", "json"], args].concat());
            no_secret(&r);
            let doc = r.json();
            // `apply --dry-run` holds the plan under `plan`.
            let plan = if args[0] == "plan" {
                &doc
            } else {
                &doc["plan"]
            };
            assert_eq!(plan["pending"][1]["statements"][1]["sql"], shown, "{r:?}");
        }
        let r = p.run(&db, &["apply"]);
        assert_eq!(r.code, 1, "{r:?}");
        no_secret(&r);
        assert!(r.stderr.contains("up statement 2 failed: near "), "{r:?}");
        assert!(r.stderr.contains(&format!("\n    {shown}\n")), "{r:?}");
        let r = p.run(&db, &["--format", "json", "apply"]);
        assert_eq!(r.code, 1, "{r:?}");
        no_secret(&r);
        assert_eq!(r.json()["failure"]["statement"], shown, "{r:?}");

        // Stored masked: the ledger never held it, and its export verifies.
        assert!(db.check(&format!(
            "SELECT NOT EXISTS (SELECT 1 FROM {} WHERE detail LIKE '%{secret}%')",
            db.t("events")
        )));
        let events = exported_chain_verifies(&p, &db.url);
        assert!(
            events
                .iter()
                .any(|e| e.kind == "apply-failed" && e.detail.contains(shown)),
            "{events:?}"
        );
        let r = p.ok(&db, &["--verbose", "audit", "log"]);
        no_secret(&r);
    }
}

#[test]
fn a_stored_down_script_is_shown_masked_and_runs_as_written() {
    // The history keeps the down script as written, for rollback to run; `rollback
    // --dry-run` shows its password literal masked. (SQLite reads `password '…'` as a
    // column and its alias.)
    let db = Db::new(Kind::Sqlite);
    let p = Project::new();
    p.add(
        "1_a",
        "CREATE TABLE a (password text);",
        Some("SELECT password 'S3cretRolePw!' FROM a;\nDROP TABLE a;"),
        None,
        None,
    );
    p.ok(&db, &["apply"]);
    assert!(db.check(&format!(
        "SELECT down_sql = 'SELECT password ''S3cretRolePw!'' FROM a;\nDROP TABLE a;' FROM {} WHERE version = 1",
        db.t("migrations")
    )));
    // The files are gone: only the stored script can undo the migration.
    std::fs::remove_dir_all(p.dir().join("1_a")).expect("remove");
    let r = p.ok(&db, &["rollback", "--dry-run"]);
    assert!(!r.all().contains("S3cretRolePw"), "{r:?}");
    assert!(
        r.stdout
            .contains("1. line 1: SELECT password '***' FROM a\n"),
        "{r:?}"
    );
    let r = p.ok(&db, &["--format", "json", "rollback", "--dry-run"]);
    assert!(!r.all().contains("S3cretRolePw"), "{r:?}");
    assert!(r.stdout.contains("SELECT password '***' FROM a"), "{r:?}");
    let r = p.ok(&db, &["rollback"]);
    assert!(!r.all().contains("S3cretRolePw"), "{r:?}");
    assert!(db.check("SELECT NOT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'a')"));
    exported_chain_verifies(&p, &db.url);
}

/// Drops a role made by a test, whatever the test did.
struct Role<'a>(&'a Db, String);

impl Drop for Role<'_> {
    fn drop(&mut self) {
        self.0.exec(&format!("DROP ROLE IF EXISTS {}", self.1));
    }
}

#[test]
fn a_password_a_migration_sets_on_postgres_is_never_shown_or_stored_by_backstop() {
    // Regression: the statements that set a role's password were printed as written by
    // `plan`, by `rollback --dry-run` (the stored down script), and in the statements a
    // failed migration outside a transaction had completed; the ledger stored them so.
    let db = Db::new(Kind::Postgres);
    // Roles belong to the server, not the test's database: named after it, and dropped.
    let name = db.url.rsplit('/').next().expect("db name").to_string();
    let role = Role(&db, format!("r_{name}"));
    let r = &role.1;
    let p = Project::new();
    p.add(
        "1_role",
        &format!("CREATE ROLE {r} LOGIN PASSWORD 'S3cretRolePw1!';"),
        Some(&format!(
            "ALTER ROLE {r} ENCRYPTED PASSWORD 'S3cretRolePw2!';\nDROP ROLE {r};"
        )),
        None,
        None,
    );
    p.add(
        "2_rotate",
        &format!("ALTER ROLE {r} PASSWORD 'S3cretRolePw3!';\nSELECT 1/0;"),
        None,
        None,
        Some("transaction = false\nirreversible = true\nreason = \"rotates a password\"\n"),
    );
    let no_secret = |r: &Run| assert!(!r.all().contains("S3cretRolePw"), "{r:?}");
    let plan = p.ok(&db, &["plan"]);
    no_secret(&plan);
    for shown in [
        format!("CREATE ROLE {r} LOGIN PASSWORD '***'"),
        format!("ALTER ROLE {r} ENCRYPTED PASSWORD '***'"),
        format!("ALTER ROLE {r} PASSWORD '***'"),
    ] {
        assert!(plan.stdout.contains(&shown), "{shown}: {plan:?}");
    }
    no_secret(&p.ok(&db, &["--format", "json", "plan"]));

    // The first applies; the second stops after its first statement, outside a
    // transaction and with no way back: the report lists the statement that ran.
    let r2 = p.run(&db, &["apply"]);
    assert_eq!(r2.code, 5, "{r2:?}");
    no_secret(&r2);
    assert!(
        r2.all().contains(&format!("ALTER ROLE {r} PASSWORD '***'")),
        "{r2:?}"
    );
    assert!(db.check(&format!(
        "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{r}')"
    )));
    assert!(db.check(
        "SELECT NOT EXISTS (SELECT 1 FROM backstop.events WHERE detail LIKE '%S3cretRolePw%')"
    ));
    no_secret(&p.ok(&db, &["--verbose", "audit", "log"]));
    no_secret(&p.ok(&db, &["--format", "json", "status"]));
    // The history keeps the scripts as written.
    assert!(db.check(
        "SELECT down_sql LIKE '%''S3cretRolePw2!''%' FROM backstop.migrations WHERE version = 1"
    ));
    exported_chain_verifies(&p, &db.url);
}
