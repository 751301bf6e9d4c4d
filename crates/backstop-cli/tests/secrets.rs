//! Passwords never appear in output, errors or the audit ledger, and masking them never
//! corrupts output that isn't secret.
mod common;
use common::{Project, Run, BIN};
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
        assert!(r.stderr.contains("TOML parse error"), "{r:?}");
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
