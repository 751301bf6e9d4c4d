//! Turning the paths given to `backstop lint` into migrations and scripts.

use crate::analyze::Unit;
use crate::types::LintError;
use backstop_core::migration::{self, Layout, Migration, MigrationToml, RunOptions};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What a path holds.
pub(crate) enum Input {
    Migrations(Vec<Migration>),
    Script {
        file: PathBuf,
        text: String,
    },
    /// Migrations named one by one that sit in the migrations directory: checked against
    /// the schema the directory's earlier migrations build, as when the directory is linted.
    InDir {
        all: Vec<Migration>,
        named: BTreeSet<i64>,
    },
}

/// A path read so far: an input, or a migration named by itself.
enum Item {
    Input(Input),
    Named(Box<Migration>),
}

/// The inputs, and notes on what could not be used (a migrations directory that does not
/// load, so the files in it were linted without the earlier migrations).
pub(crate) fn inputs(
    paths: &[PathBuf],
    migrations_dir: Option<&Path>,
) -> Result<(Vec<Input>, Vec<String>), LintError> {
    let mut items = Vec::new();
    let mut seen_folders: Vec<PathBuf> = Vec::new();
    for p in paths {
        if !p.exists() {
            return Err(LintError::NotFound { path: p.clone() });
        }
        if p.is_dir() {
            if p.join("up.sql").is_file() {
                if !seen_folders.contains(p) {
                    seen_folders.push(p.clone());
                    items.push(Item::Named(Box::new(load_folder(p)?)));
                }
            } else {
                items.push(Item::Input(Input::Migrations(migration::load_dir(p)?)));
            }
            continue;
        }
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let parent = parent_of(p);
        if matches!(
            name.as_str(),
            "up.sql" | "down.sql" | "verify.sql" | "migration.toml"
        ) && parent.join("up.sql").is_file()
        {
            if !seen_folders.contains(&parent) {
                seen_folders.push(parent.clone());
                items.push(Item::Named(Box::new(load_folder(&parent)?)));
            }
            continue;
        }
        if !migration::has_sql_extension(&name) {
            return Err(LintError::Unsupported { path: p.clone() });
        }
        let text = read(p)?;
        let is_single_file = text
            .lines()
            .any(|l| l.trim().eq_ignore_ascii_case("-- backstop:up"));
        if is_single_file {
            // The file on its own: its siblings, and where the command runs, don't matter.
            items.push(Item::Named(Box::new(migration::read_single_file(p)?)));
        } else {
            items.push(Item::Input(Input::Script {
                file: p.clone(),
                text,
            }));
        }
    }
    let mut notes = Vec::new();
    let context = migrations_dir.and_then(|d| Some((d, d.canonicalize().ok()?)));
    let inside = |m: &Migration| {
        context.as_ref().is_some_and(|(_, dir)| {
            parent_of(&m.path)
                .canonicalize()
                .is_ok_and(|parent| parent == *dir)
        })
    };
    // The migrations directory is read only when a named migration sits in it.
    let mut all: Option<Vec<Migration>> = None;
    if let Some((dir, _)) = context.as_ref().filter(|_| {
        items
            .iter()
            .any(|i| matches!(i, Item::Named(m) if inside(m)))
    }) {
        match migration::load_dir(dir) {
            Ok(ms) => all = Some(ms),
            Err(e) => notes.push(format!(
                "linted without the schema the earlier migrations build, because the migrations directory does not load ({e}); fix that to lint them with the earlier migrations"
            )),
        }
    }
    let mut out = Vec::new();
    let mut in_dir: Option<usize> = None;
    for item in items {
        let m = match item {
            Item::Input(i) => {
                out.push(i);
                continue;
            }
            Item::Named(m) => m,
        };
        let found = all.as_ref().filter(|_| inside(&m)).and_then(|all| {
            let canon = m.path.canonicalize().ok()?;
            all.iter()
                .find(|a| a.path.canonicalize().is_ok_and(|c| c == canon))
                .map(|a| a.version)
        });
        match (found, all.as_ref()) {
            (Some(version), Some(all)) => match in_dir {
                Some(at) => {
                    if let Input::InDir { named, .. } = &mut out[at] {
                        named.insert(version);
                    }
                }
                None => {
                    in_dir = Some(out.len());
                    out.push(Input::InDir {
                        all: all.clone(),
                        named: BTreeSet::from([version]),
                    });
                }
            },
            _ => out.push(Input::Migrations(vec![*m])),
        }
    }
    Ok((out, notes))
}

/// The directory holding `p` (`.` for a bare file name).
fn parent_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

pub(crate) fn units(inputs: &[Input]) -> Vec<Unit<'_>> {
    let mut u = Vec::new();
    for i in inputs {
        match i {
            Input::Migrations(ms) => u.extend(ms.iter().map(Unit::Migration)),
            Input::Script { file, text } => u.push(Unit::Script {
                file: file.clone(),
                text: text.clone(),
            }),
            Input::InDir { all, named } => {
                let last = named.last().copied().unwrap_or(0);
                u.extend(all.iter().filter(|m| m.version <= last).map(|m| {
                    if named.contains(&m.version) {
                        Unit::Migration(m)
                    } else {
                        Unit::Replay(m)
                    }
                }));
            }
        }
    }
    u
}

fn read(p: &Path) -> Result<String, LintError> {
    let bytes = std::fs::read(p).map_err(|source| LintError::Io {
        path: p.to_path_buf(),
        source,
    })?;
    let mut s = String::from_utf8(bytes).map_err(|_| LintError::NotUtf8 {
        path: p.to_path_buf(),
    })?;
    if s.starts_with('\u{feff}') {
        s.drain(..3);
    }
    Ok(s)
}

fn read_opt(p: &Path) -> Result<Option<String>, LintError> {
    if p.is_file() {
        read(p).map(Some)
    } else {
        Ok(None)
    }
}

/// One migration folder on its own. The migrations directory loader would also do, but a
/// folder given by itself should lint even when its siblings don't load.
fn load_folder(dir: &Path) -> Result<Migration, LintError> {
    let stem = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let digits: String = stem.chars().take_while(|c| c.is_ascii_digit()).collect();
    let version = digits.parse().unwrap_or(0);
    let name = stem[digits.len()..]
        .trim_start_matches(['_', '-', '.'])
        .to_string();
    let up = read(&dir.join("up.sql"))?;
    let down = read_opt(&dir.join("down.sql"))?;
    let verify = read_opt(&dir.join("verify.sql"))?;
    // As when the directory is linted: an untouched `backstop new` template is no
    // migration without findings.
    migration::refuse_empty_scripts(&[
        (dir.join("up.sql"), Some(up.as_str())),
        (dir.join("down.sql"), down.as_deref()),
        (dir.join("verify.sql"), verify.as_deref()),
    ])?;
    let toml_path = dir.join("migration.toml");
    let toml_text = read_opt(&toml_path)?;
    let config = match &toml_text {
        Some(t) => migration::parse_toml(&toml_path, t)?,
        None => MigrationToml::default(),
    };
    let options = options_of(&config);
    let checksum = backstop_core::checksum::migration_checksum(
        &up,
        down.as_deref(),
        verify.as_deref(),
        toml_text.as_deref(),
    );
    Ok(Migration {
        version,
        name,
        path: dir.to_path_buf(),
        layout: Layout::Folder,
        up,
        down,
        verify,
        toml_text,
        config,
        options,
        checksum,
    })
}

fn options_of(c: &MigrationToml) -> RunOptions {
    let ms = |v: &Option<String>| {
        v.as_deref()
            .and_then(migration::parse_duration)
            .map(|d| d.as_millis() as u64)
    };
    RunOptions {
        transaction: c.transaction.unwrap_or(true),
        lock_timeout_ms: ms(&c.lock_timeout),
        statement_timeout_ms: ms(&c.statement_timeout),
        retries: c.retries.unwrap_or(3),
    }
}

/// A migration that exists only in memory (tests, the fuzz target, `plan` on stored SQL).
pub fn in_memory_migration(
    version: i64,
    name: &str,
    up: &str,
    down: Option<&str>,
    verify: Option<&str>,
    toml: Option<&str>,
) -> Migration {
    let path = PathBuf::from("migrations").join(format!("{version}_{name}"));
    let config = toml
        .and_then(|t| migration::parse_toml(&path.join("migration.toml"), t).ok())
        .unwrap_or_default();
    let options = options_of(&config);
    Migration {
        version,
        name: name.to_string(),
        path,
        layout: Layout::Folder,
        up: up.to_string(),
        down: down.map(str::to_string),
        verify: verify.map(str::to_string),
        toml_text: toml.map(str::to_string),
        config,
        options,
        checksum: backstop_core::checksum::migration_checksum(up, down, verify, toml),
    }
}
