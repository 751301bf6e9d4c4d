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

impl ConfigFile {
    pub fn read(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.into(),
            message: format!("cannot read: {e}"),
        })?;
        toml::from_str(&text).map_err(|e| ConfigError {
            path: path.into(),
            message: crate::redact::redact(e.to_string().trim()).replace('\n', " "),
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
