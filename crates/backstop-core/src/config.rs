//! `backstop.toml`: project settings, optionally per environment.
//!
//! ```toml
//! database_url = "sqlite://backstop.db"   # or use DATABASE_URL / --database-url
//! dir = "migrations"
//! lock_wait = "60s"
//! require_sum = false                     # true: refuse to apply without backstop.sum
//!
//! [env.production]
//! database_url = "postgres://deploy@db.internal/shop"
//! require_sum = true
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub database_url: Option<String>,
    pub dir: Option<PathBuf>,
    pub lock_wait: Option<String>,
    pub require_sum: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(flatten)]
    pub base: Settings,
    #[serde(default)]
    pub env: BTreeMap<String, Settings>,
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: PathBuf,
    pub message: String,
}

/// A TOML error as `line N: message`. An unknown key is reported by the whole document's
/// span (line 1): its own line is found instead.
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim();
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    let line = unknown
        .and_then(|key| {
            text.lines().position(|l| {
                let l = l.trim_start();
                l.strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
        })
        .or_else(|| {
            // The 0-based line of the span's start is the number of line breaks before it
            // (`lines()` would not count an empty last line, so a span at the start of a
            // line came out one line early).
            e.span().map(|s| {
                text.get(..s.start.min(text.len()))
                    .unwrap_or(text)
                    .matches('\n')
                    .count()
            })
        })
        .map(|i| i + 1);
    match line {
        // The line itself too (masked like everything else), as TOML's own frame showed it.
        Some(n) => match text
            .lines()
            .nth(n - 1)
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            Some(l) => format!("line {n}: {message}: `{l}`"),
            None => format!("line {n}: {message}"),
        },
        None => message.to_string(),
    }
}

impl ConfigFile {
    pub fn read(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.into(),
            message: format!("cannot read: {e}"),
        })?;
        // Before parsing: a syntax error quotes the line, password and all, and a password
        // with an unencoded space or `/` is not recognisable there by its shape alone.
        register_passwords(&text);
        toml::from_str(&text).map_err(|e: toml::de::Error| ConfigError {
            path: path.into(),
            message: crate::redact::redact(&describe_toml_error(&text, &e)),
        })
    }

    /// The settings for `env` (environment values override the top level).
    pub fn settings(&self, env: Option<&str>, path: &Path) -> Result<Settings, ConfigError> {
        let mut s = self.base.clone();
        if let Some(name) = env {
            let e = self.env.get(name).ok_or_else(|| ConfigError {
                path: path.into(),
                message: format!(
                    "no [env.{name}] section (known: {})",
                    self.env.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            })?;
            if e.database_url.is_some() {
                s.database_url = e.database_url.clone();
            }
            if e.dir.is_some() {
                s.dir = e.dir.clone();
            }
            if e.lock_wait.is_some() {
                s.lock_wait = e.lock_wait.clone();
            }
            if e.require_sum.is_some() {
                s.require_sum = e.require_sum;
            }
        }
        Ok(s)
    }
}

/// Register the password of every value in `text` that holds a database URL or connection
/// string, reading the file line by line so that a file TOML can't parse still counts.
fn register_passwords(text: &str) {
    for line in text.lines() {
        register_urls_in(line);
        let Some((_, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let inner = match value.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let rest = &value[1..];
                rest.find(q).map_or(rest, |end| &rest[..end])
            }
            _ => value,
        };
        crate::redact::register_url_password(inner);
    }
}

/// A URL may also stand on a line of its own, inside a multi-line string: register each
/// in `line` from its scheme to the string's end (or the line's).
fn register_urls_in(line: &str) {
    let mut from = 0;
    while let Some(at) = line.get(from..).and_then(|rest| rest.find("://")) {
        let at = from + at;
        // The scheme's first character: a run of scheme characters back from `://`.
        let start = line
            .get(..at)
            .unwrap_or_default()
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
            .last()
            .map_or(at, |(i, _)| i);
        let rest = line.get(start..).unwrap_or_default();
        let end = ["\"\"\"", "'''"]
            .iter()
            .filter_map(|q| rest.find(q))
            .min()
            .unwrap_or(rest.len());
        crate::redact::register_url_password(rest.get(..end).unwrap_or(rest).trim_end());
        from = at + 3;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_does_not_parse_never_shows_its_password() {
        // Regression: the file was parsed before its password was registered, so a syntax
        // error quoted a password the redactor could not recognise.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backstop.toml");
        std::fs::write(
            &path,
            "[env.prod]\ndatabase_url = \"postgres://u:Zq9 Se/cret@h/d\" x\n",
        )
        .unwrap();
        let e = ConfigFile::read(&path).unwrap_err().to_string();
        assert!(e.contains("backstop.toml: line 2: "), "{e}");
        assert!(!e.contains("Zq9") && !e.contains("cret"), "{e}");
    }

    #[test]
    fn a_url_in_a_multi_line_string_never_shows_its_password() {
        // Regression: passwords were registered from `key = value` lines only, so a URL on
        // a line of its own inside a multi-line string was masked by its shape alone,
        // which ends a password= value at a space.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backstop.toml");
        std::fs::write(
            &path,
            "database_url = \"\"\"\npostgres://postgres@127.0.0.1:1/x?password=Qz1 Wv2\"\"\" x\n",
        )
        .unwrap();
        let e = crate::redact::redact(&ConfigFile::read(&path).unwrap_err().to_string());
        assert!(e.contains("backstop.toml: line 2"), "{e}");
        assert!(!e.contains("Qz1") && !e.contains("Wv2"), "{e}");
    }

    #[test]
    fn an_error_at_the_start_of_a_line_after_a_blank_one_names_that_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backstop.toml");
        std::fs::write(&path, "dir=\"m\"\n# comment\n\ndir=\"n\"").unwrap();
        let e = ConfigFile::read(&path).unwrap_err().to_string();
        assert!(e.contains("backstop.toml: line 4: "), "{e}");
        assert!(e.ends_with("`dir=\"n\"`"), "{e}");
        std::fs::write(&path, "dir=\"m\"\ndir=\"n\"\n").unwrap();
        let e = ConfigFile::read(&path).unwrap_err().to_string();
        assert!(e.contains("backstop.toml: line 2: "), "{e}");
    }

    #[test]
    fn an_unknown_key_is_reported_on_its_own_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backstop.toml");
        std::fs::write(
            &path,
            "database_url = \"sqlite://x.db\"\n\nlock_wiat = \"5s\"\n",
        )
        .unwrap();
        let e = ConfigFile::read(&path).unwrap_err().to_string();
        assert!(
            e.ends_with("backstop.toml: line 3: unknown field `lock_wiat`: `lock_wiat = \"5s\"`"),
            "{e}"
        );
    }
}
