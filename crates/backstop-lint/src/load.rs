//! Turning the paths given to `backstop lint` into migrations and scripts.

use crate::analyze::Unit;
use crate::types::LintError;
use backstop_core::migration::{self, Layout, LoadError, Migration, MigrationToml, RunOptions};
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
    let is_migrations_dir = |p: &Path| {
        migrations_dir.is_some_and(|d| {
            d.canonicalize()
                .is_ok_and(|d| p.canonicalize().is_ok_and(|p| p == d))
        })
    };
    for p in paths {
        if !p.exists() {
            return Err(LintError::NotFound { path: p.clone() });
        }
        if p.is_dir() {
            if !is_migrations_dir(p) && MIGRATION_FILES.iter().any(|f| holds(p, f)) {
                if !seen_folders.contains(p) {
                    seen_folders.push(p.clone());
                    items.push(Item::Named(Box::new(migration::read_folder(p)?)));
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
        // One of a migration folder's files: the folder is what is linted, and refused as
        // the loader refuses it (without its up.sql, say). A folder is known by its up.sql
        // or, when that is what is missing, by a name that starts with a version.
        let versioned = parent
            .canonicalize()
            .ok()
            .and_then(|c| c.file_name().map(|n| n.to_string_lossy().to_string()))
            .is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()));
        if MIGRATION_FILES.contains(&name.as_str()) && (holds(&parent, "up.sql") || versioned) {
            if !seen_folders.contains(&parent) {
                seen_folders.push(parent.clone());
                items.push(Item::Named(Box::new(migration::read_folder(&parent)?)));
            }
            continue;
        }
        if !migration::has_sql_extension(&name) {
            return Err(LintError::Unsupported { path: p.clone() });
        }
        let text = migration::read_script(p)?;
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
    refuse_shared_versions(&items)?;
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
            // A version the named migration shares with another there is its own problem,
            // which the loader refuses; the others' problems are only said.
            Err(LoadError::DuplicateVersion {
                version,
                path,
                other,
            }) if [&path, &other].into_iter().any(|p| {
                items
                    .iter()
                    .any(|i| matches!(i, Item::Named(m) if same_file(&m.path, p)))
            }) =>
            {
                return Err(LoadError::DuplicateVersion {
                    version,
                    path,
                    other,
                }
                .into())
            }
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

/// The files of a migration folder.
const MIGRATION_FILES: [&str; 4] = ["up.sql", "down.sql", "verify.sql", "migration.toml"];

/// Whether `dir` has an entry `name`, even a link to nothing (which the loader reports).
fn holds(dir: &Path, name: &str) -> bool {
    std::fs::symlink_metadata(dir.join(name)).is_ok()
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Two migrations named with one version are refused, as the loader refuses them in one
/// directory. Version 0 is a single file named without a version, read on its own.
fn refuse_shared_versions(items: &[Item]) -> Result<(), LoadError> {
    let named: Vec<&Migration> = items
        .iter()
        .filter_map(|i| match i {
            Item::Named(m) if m.version != 0 => Some(&**m),
            _ => None,
        })
        .collect();
    for (k, m) in named.iter().enumerate() {
        if let Some(first) = named[..k]
            .iter()
            .find(|o| o.version == m.version && !same_file(&o.path, &m.path))
        {
            return Err(LoadError::DuplicateVersion {
                version: m.version,
                path: m.path.clone(),
                other: first.path.clone(),
            });
        }
    }
    Ok(())
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
