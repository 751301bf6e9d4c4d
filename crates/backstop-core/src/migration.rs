//! Migrations on disk: the native folder form and the single-file form, their options
//! (`migration.toml`) and their checksums.

use crate::checksum;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where a migration came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// `VERSION_name/` with up.sql, down.sql, verify.sql, migration.toml.
    Folder,
    /// `VERSION_name.sql` with `-- backstop:up|down|verify` sections.
    SingleFile,
}

/// A migration's options and contract from `migration.toml`. Every key is optional and an
/// unknown key is an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationToml {
    pub description: Option<String>,
    pub owner: Option<String>,
    pub ticket: Option<String>,
    pub transaction: Option<bool>,
    pub irreversible: Option<bool>,
    pub reason: Option<String>,
    pub lock_timeout: Option<String>,
    pub statement_timeout: Option<String>,
    pub retries: Option<u32>,
    pub contract: Option<Contract>,
}

/// Budgets a migration promises to stay within. Parsed and validated now; enforced by
/// rehearsal and by environments that enforce contracts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    pub max_duration: Option<String>,
    pub max_lock: Option<String>,
    pub max_rows_affected: Option<u64>,
    pub data_loss: Option<DataLoss>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataLoss {
    None,
    Snapshot,
    Accepted,
}

/// The options that change how a migration runs, resolved from `migration.toml` (with
/// durations parsed). Stored in history so rollback runs the down script the same way even
/// when the files are gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOptions {
    pub transaction: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement_timeout_ms: Option<u64>,
    pub retries: u32,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            transaction: true,
            lock_timeout_ms: None,
            statement_timeout_ms: None,
            retries: 3,
        }
    }
}

impl RunOptions {
    pub fn lock_timeout(&self) -> Option<Duration> {
        self.lock_timeout_ms.map(Duration::from_millis)
    }
    pub fn statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout_ms.map(Duration::from_millis)
    }
}

/// One migration as found on disk.
#[derive(Debug, Clone, Serialize)]
pub struct Migration {
    pub version: i64,
    pub name: String,
    /// The folder (folder form) or the file (single-file form).
    pub path: PathBuf,
    pub layout: Layout,
    pub up: String,
    pub down: Option<String>,
    pub verify: Option<String>,
    /// Raw text of migration.toml, part of the checksum.
    pub toml_text: Option<String>,
    pub config: MigrationToml,
    pub options: RunOptions,
    /// `sha256:<hex>` over up/down/verify/migration.toml with line endings normalised.
    pub checksum: String,
}

impl Migration {
    /// `20261123120000_create_users`: the folder or file stem.
    pub fn id(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }
    /// Reason the migration can't be rolled back, when `irreversible = true`.
    pub fn irreversible_reason(&self) -> Option<String> {
        if self.config.irreversible == Some(true) {
            Some(self.config.reason.clone().unwrap_or_default())
        } else {
            None
        }
    }
    /// The file a script lives in, for messages: `dir/up.sql` or the single file.
    pub fn script_path(&self, part: Part) -> PathBuf {
        match self.layout {
            Layout::Folder => self.path.join(part.file_name()),
            Layout::SingleFile => self.path.clone(),
        }
    }
    /// Line in the file where a script's text starts (single-file sections start later).
    pub fn script_line_offset(&self, part: Part) -> usize {
        if self.layout == Layout::Folder {
            return 0;
        }
        let Ok(text) = std::fs::read_to_string(&self.path) else {
            return 0;
        };
        // Same reading of the marker as the loader: `-- backstop: up` counts too.
        text.lines()
            .position(|l| {
                let lower = l.trim().to_ascii_lowercase();
                lower
                    .strip_prefix("-- backstop:")
                    .is_some_and(|rest| rest.trim() == part.name())
            })
            .map(|p| p + 1)
            .unwrap_or(0)
    }
}

/// The scripts of a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    Up,
    Down,
    Verify,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::Up => "up",
            Part::Down => "down",
            Part::Verify => "verify",
        }
    }
    pub fn file_name(self) -> &'static str {
        match self {
            Part::Up => "up.sql",
            Part::Down => "down.sql",
            Part::Verify => "verify.sql",
        }
    }
}

/// Why a migrations directory could not be loaded. Every variant names the path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("migrations directory {path} does not exist (create it with `backstop init`, or pass --dir)")]
    MissingDir { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: the name does not start with a version number (expected e.g. 20261123120000_create_users)")]
    NoVersion { path: PathBuf },
    #[error("{path}: version 0 is reserved (`rollback --to 0` means \"undo everything\"); number migrations from 1")]
    ZeroVersion { path: PathBuf },
    #[error("{path}: the version {digits} is too large (at most {max})", max = i64::MAX)]
    VersionTooLarge { path: PathBuf, digits: String },
    #[error("{path}: version {version} is also used by {other}; versions must be unique")]
    DuplicateVersion {
        version: i64,
        path: PathBuf,
        other: PathBuf,
    },
    #[error("{path}: up.sql is missing; every migration needs one")]
    MissingUp { path: PathBuf },
    #[error("{path}: down.sql is missing; add one, or set `irreversible = true` with a `reason` in migration.toml")]
    MissingDown { path: PathBuf },
    #[error("{path}: the `-- backstop:up` section is missing; every migration needs one")]
    MissingUpSection { path: PathBuf },
    #[error("{path}: the `-- backstop:down` section is missing or empty; add one, or declare the migration irreversible with `-- irreversible = true` and `-- reason = \"…\"` lines before `-- backstop:up`")]
    MissingDownSection { path: PathBuf },
    #[error(
        "{path}: `irreversible = true` needs a `reason = \"…\"` saying why it can't be undone"
    )]
    IrreversibleWithoutReason { path: PathBuf },
    #[error("{path}: is not valid UTF-8 (at byte {offset})")]
    NotUtf8 { path: PathBuf, offset: usize },
    /// Scripts with no statement, every one found: `backstop new` leaves its templates so,
    /// and several are written (or deleted) in one go.
    #[error("{}", empty_text(paths))]
    Empty { paths: Vec<PathBuf> },
    #[error("{path}: holds a statement by SQLite's comment rules but none by PostgreSQL's (or the reverse): PostgreSQL nests `/* */` comments, SQLite ends one at the first `*/`; write comments both read alike")]
    AmbiguousComments { path: PathBuf },
    #[error("{path}: invalid TOML: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("{path}: unknown key `{key}` (allowed: {allowed})")]
    UnknownKey {
        path: PathBuf,
        key: String,
        allowed: String,
    },
    #[error(
        "{path}: `{key} = \"{value}\"` is not a duration (use e.g. \"200ms\", \"2s\", \"5m\")"
    )]
    BadDuration {
        path: PathBuf,
        key: String,
        value: String,
    },
    #[error("{path}: {message}")]
    BadSingleFile { path: PathBuf, message: String },
    #[error("{path}: unexpected file in migration folder (expected up.sql, down.sql, verify.sql, migration.toml)")]
    UnexpectedFile { path: PathBuf },
    #[error("{path}: is a symbolic link to {target}, which does not exist; point the link at the file, or replace it with the file itself")]
    DanglingLink { path: PathBuf, target: PathBuf },
    #[error("{path}: the name is not valid UTF-8 (its invalid bytes are shown as �); rename it: history stores migration names as text, and a name stored altered would no longer match its folder")]
    NotUtf8Name { path: PathBuf },
}

/// How [`LoadError::Empty`] reads: what is empty, and what to do about it. A verify.sql is
/// optional: an empty one needs a check written in it or can go on its own, while the
/// migration stays.
fn empty_text(paths: &[PathBuf]) -> String {
    let verify = |p: &PathBuf| p.ends_with("verify.sql");
    match paths {
        [path] if verify(path) => format!("{}: is empty (no SQL statement): write a check in it (a query whose rows' first column must be true), or delete the verify.sql if there is nothing to check (a migration without verify.sql is allowed); nothing was run", path.display()),
        [path] => format!("{}: is empty (no SQL statement): write the migration's SQL in it, or delete the migration if it is not wanted; nothing was run", path.display()),
        // One a line: a path to open, and several templates' worth of them.
        _ => format!(
            "{} migration scripts are empty (no SQL statement); nothing was run:{}\n  next: {}",
            paths.len(),
            paths
                .iter()
                .map(|p| format!("\n  {}", p.display()))
                .collect::<String>(),
            if paths.iter().all(verify) {
                "write a check in each, or delete the verify.sql files with nothing to check (a migration without verify.sql is allowed)"
            } else if paths.iter().any(verify) {
                "write the migrations' SQL in them, or delete the migrations that are not wanted (a verify.sql with nothing to check can go on its own)"
            } else {
                "write the migrations' SQL in them, or delete the migrations that are not wanted"
            }
        ),
    }
}

/// A dangling symbolic link at `path`, with where it points: reading through it says "not
/// found", which must not pass for an absent optional file (a verify.sql left out of the
/// checksum) or a missing one (a down.sql "missing" while the link is right there).
fn dangling_link(path: &Path) -> Option<LoadError> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_symlink() || path.exists() {
        return None;
    }
    Some(LoadError::DanglingLink {
        path: path.to_path_buf(),
        target: std::fs::read_link(path).unwrap_or_default(),
    })
}

/// Parse a human duration such as `200ms`, `2s`, `5m`, `1h 30m`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    humantime::parse_duration(s.trim()).ok()
}

/// Load every migration under `dir`, sorted by version.
pub fn load_dir(dir: &Path) -> Result<Vec<Migration>, LoadError> {
    if !dir.is_dir() {
        return Err(LoadError::MissingDir {
            path: dir.to_path_buf(),
        });
    }
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut found: BTreeMap<i64, Migration> = BTreeMap::new();
    // Each entry: its path, whether it is (or links to) a folder, and whether it may be a
    // link (only those can dangle: the others need no extra look at the file system).
    let mut names: Vec<(PathBuf, bool, bool)> = Vec::new();
    for e in entries {
        let e = e.map_err(|source| LoadError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        // file_type() comes from the listing itself on Linux; a symlink is followed.
        let (is_dir, may_link) = match e.file_type() {
            Ok(t) if t.is_symlink() => (e.path().is_dir(), true),
            Ok(t) => (t.is_dir(), false),
            Err(_) => (e.path().is_dir(), true),
        };
        names.push((e.path(), is_dir, may_link));
    }
    names.sort();
    let load_one =
        |(path, is_dir, may_link): &(PathBuf, bool, bool)| -> Option<Result<Migration, LoadError>> {
            let raw_name = path.file_name().unwrap_or_default();
            let file_name = raw_name.to_string_lossy().to_string();
            if file_name.starts_with('.') {
                return None; // editor swap files, .gitkeep
            }
            let is_migration = *is_dir || has_sql_extension(&file_name);
            if is_migration && raw_name.to_str().is_none() {
                // The lossy name would be stored in history and no longer name the folder.
                return Some(Err(LoadError::NotUtf8Name { path: path.clone() }));
            }
            // A link whose target is gone looks like a plain file that is neither a folder
            // nor (without .sql) a migration: a versioned name says it was meant to be one.
            let versioned = file_name.starts_with(|c: char| c.is_ascii_digit());
            if *may_link && !*is_dir && (versioned || is_migration) {
                if let Some(e) = dangling_link(path) {
                    return Some(Err(e));
                }
            }
            if *is_dir {
                Some(load_folder(path, &file_name))
            } else if is_migration {
                Some(load_single_file(path, &file_name))
            } else {
                None // README.md and friends next to the migrations
            }
        };
    // Reading and hashing thousands of small files is most of `status` on a long history:
    // spread it over the cores, then check the results in order, so the error reported is
    // the same one a sequential load would report.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    let loaded: Vec<Option<Result<Migration, LoadError>>> = if names.len() < 256 || threads < 2 {
        names.iter().map(load_one).collect()
    } else {
        let chunk = names.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = names
                .chunks(chunk)
                .map(|part| scope.spawn(move || part.iter().map(load_one).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| match h.join() {
                    Ok(v) => v,
                    Err(panic) => std::panic::resume_unwind(panic),
                })
                .collect()
        })
    };
    // Every empty script is named at once (see `LoadError::Empty`). Another error that
    // comes first is reported as before; one after an empty script is left for the next
    // run, once the empty ones are dealt with.
    let mut empty: Vec<PathBuf> = Vec::new();
    for m in loaded.into_iter().flatten() {
        let m = match m {
            Ok(m) if empty.is_empty() => m,
            Err(LoadError::Empty { paths }) => {
                empty.extend(paths);
                continue;
            }
            Err(e) if empty.is_empty() => return Err(e),
            _ => continue,
        };
        if let Some(other) = found.get(&m.version) {
            return Err(LoadError::DuplicateVersion {
                version: m.version,
                path: m.path.clone(),
                other: other.path.clone(),
            });
        }
        found.insert(m.version, m);
    }
    if !empty.is_empty() {
        return Err(LoadError::Empty { paths: empty });
    }
    Ok(found.into_values().collect())
}

fn split_version(path: &Path, stem: &str) -> Result<(i64, String), LoadError> {
    let digits: String = stem.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() {
        return Err(LoadError::NoVersion {
            path: path.to_path_buf(),
        });
    }
    let version: i64 = digits.parse().map_err(|_| LoadError::VersionTooLarge {
        path: path.to_path_buf(),
        digits: digits.clone(),
    })?;
    if version == 0 {
        return Err(LoadError::ZeroVersion {
            path: path.to_path_buf(),
        });
    }
    let rest = &stem[digits.len()..];
    let name = rest.trim_start_matches(['_', '-', '.']).to_string();
    Ok((version, name))
}

fn read_text(path: &Path) -> Result<Option<String>, LoadError> {
    // Neither `fs::read` nor `read_to_end`, which ask for the file's size (and position)
    // first: migration files are small, and `status` on 10,000 migrations is mostly
    // system calls.
    let read = |path: &Path| -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let mut file = std::fs::File::open(path)?;
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 16384];
        loop {
            match file.read(&mut chunk) {
                Ok(0) => return Ok(bytes),
                Ok(n) => bytes.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    };
    match read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(mut s) => {
                // A UTF-8 BOM is an editor artefact, not SQL.
                if s.starts_with('\u{feff}') {
                    s.drain(..3);
                }
                Ok(Some(s))
            }
            Err(e) => Err(LoadError::NotUtf8 {
                path: path.to_path_buf(),
                offset: e.utf8_error().valid_up_to(),
            }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match dangling_link(path) {
            Some(dangling) => Err(dangling),
            None => Ok(None),
        },
        Err(source) => Err(LoadError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Refuse a migration folder's scripts that hold no statement ([`LoadError::Empty`]), every
/// one named at once: a fresh `backstop new` template has three. `scripts`: each file with
/// its text, `None` when it is absent.
fn refuse_empty_scripts(scripts: &[(PathBuf, Option<&str>)]) -> Result<(), LoadError> {
    let mut empty = Vec::new();
    for (path, text) in scripts {
        if let Some(t) = text {
            if is_empty(path, t)? {
                empty.push(path.clone());
            }
        }
    }
    if empty.is_empty() {
        Ok(())
    } else {
        Err(LoadError::Empty { paths: empty })
    }
}

/// Whether a script holds no statement. Migrations load before the engine is known, and
/// the engines split by different comment rules, so a script that is empty for one engine
/// and not for another is refused: taking either answer would, on the other engine, run a
/// migration with no statement or silently drop a script (a verify section) that has one.
fn is_empty(path: &Path, script: &str) -> Result<bool, LoadError> {
    crate::sql::is_empty(script).ok_or_else(|| LoadError::AmbiguousComments {
        path: path.to_path_buf(),
    })
}

/// One migration folder read on its own, with every check [`load_dir`] makes of it (its
/// name's version, its files, migration.toml), for `backstop lint FOLDER`: whatever its
/// siblings hold, it is refused or taken exactly as the directory's loader would.
pub fn read_folder(dir: &Path) -> Result<Migration, LoadError> {
    // `lint .` from inside the folder: the name is the folder's own.
    let named = match dir.file_name() {
        Some(n) => Some(n.to_os_string()),
        None => dir
            .canonicalize()
            .ok()
            .and_then(|c| c.file_name().map(|n| n.to_os_string())),
    };
    let name = named.unwrap_or_default();
    let Some(name) = name.to_str() else {
        return Err(LoadError::NotUtf8Name {
            path: dir.to_path_buf(),
        });
    };
    load_folder(dir, name)
}

/// A SQL file read as the loader reads a script: UTF-8 (the error says at which byte),
/// without a byte-order mark. For `backstop lint FILE` of a plain script.
pub fn read_script(path: &Path) -> Result<String, LoadError> {
    read_text(path)?.ok_or_else(|| LoadError::Io {
        path: path.to_path_buf(),
        source: std::io::ErrorKind::NotFound.into(),
    })
}

fn load_folder(dir: &Path, name: &str) -> Result<Migration, LoadError> {
    let (version, name) = split_version(dir, name)?;
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    // One listing tells which files exist, so absent optional files cost no failed open
    // (status on 10,000 migrations is mostly syscalls).
    let mut present = [false; 4];
    const FILES: [&str; 4] = ["up.sql", "down.sql", "verify.sql", "migration.toml"];
    for e in entries {
        let e = e.map_err(|source| LoadError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let raw = e.file_name();
        let f = raw.to_string_lossy().to_string();
        if raw.to_str().is_none() && !f.starts_with('.') {
            return Err(LoadError::NotUtf8Name { path: e.path() });
        }
        match FILES.iter().position(|x| *x == f) {
            Some(i) => present[i] = true,
            None if f.starts_with('.') || f == "README.md" => {}
            None => return Err(LoadError::UnexpectedFile { path: e.path() }),
        }
    }
    let read_if = |i: usize| -> Result<Option<String>, LoadError> {
        if present[i] {
            read_text(&dir.join(FILES[i]))
        } else {
            Ok(None)
        }
    };
    let up = read_if(0)?.ok_or(LoadError::MissingUp {
        path: dir.join("up.sql"),
    })?;
    let down = read_if(1)?;
    let verify = read_if(2)?;
    refuse_empty_scripts(&[
        (dir.join("up.sql"), Some(up.as_str())),
        (dir.join("down.sql"), down.as_deref()),
        (dir.join("verify.sql"), verify.as_deref()),
    ])?;
    let toml_path = dir.join("migration.toml");
    let toml_text = read_if(3)?;
    let config = match &toml_text {
        Some(t) => parse_toml(&toml_path, t)?,
        None => MigrationToml::default(),
    };
    finish(
        version,
        name,
        dir.to_path_buf(),
        Layout::Folder,
        up,
        down,
        verify,
        toml_text,
        config,
        dir,
    )
}

#[allow(clippy::too_many_arguments)]
fn finish(
    version: i64,
    name: String,
    path: PathBuf,
    layout: Layout,
    up: String,
    down: Option<String>,
    verify: Option<String>,
    toml_text: Option<String>,
    config: MigrationToml,
    err_path: &Path,
) -> Result<Migration, LoadError> {
    let toml_path = if layout == Layout::Folder {
        err_path.join("migration.toml")
    } else {
        err_path.to_path_buf()
    };
    let irreversible = config.irreversible == Some(true);
    if irreversible && config.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(LoadError::IrreversibleWithoutReason { path: toml_path });
    }
    if down.is_none() && !irreversible {
        return Err(if layout == Layout::Folder {
            LoadError::MissingDown {
                path: err_path.join("down.sql"),
            }
        } else {
            LoadError::MissingDownSection {
                path: err_path.to_path_buf(),
            }
        });
    }
    let options = resolve_options(&toml_path, &config)?;
    let checksum = checksum::migration_checksum(
        &up,
        down.as_deref(),
        verify.as_deref(),
        toml_text.as_deref(),
    );
    // A password a script sets is masked wherever a database or the linter repeats it
    // without the words that mark it as one (`unterminated quoted string at or near "'…`).
    for script in [Some(&up), down.as_ref(), verify.as_ref()]
        .into_iter()
        .flatten()
    {
        crate::redact::register_sql_passwords(script);
    }
    Ok(Migration {
        version,
        name,
        path,
        layout,
        up,
        down,
        verify,
        toml_text,
        config,
        options,
        checksum,
    })
}

fn resolve_options(path: &Path, c: &MigrationToml) -> Result<RunOptions, LoadError> {
    let dur = |key: &str, v: &Option<String>| -> Result<Option<u64>, LoadError> {
        match v {
            None => Ok(None),
            Some(s) => parse_duration(s)
                .map(|d| Some(d.as_millis() as u64))
                .ok_or_else(|| LoadError::BadDuration {
                    path: path.to_path_buf(),
                    key: key.into(),
                    value: s.clone(),
                }),
        }
    };
    let lock_timeout_ms = dur("lock_timeout", &c.lock_timeout)?;
    let statement_timeout_ms = dur("statement_timeout", &c.statement_timeout)?;
    if let Some(ct) = &c.contract {
        dur("contract.max_duration", &ct.max_duration)?;
        dur("contract.max_lock", &ct.max_lock)?;
    }
    Ok(RunOptions {
        transaction: c.transaction.unwrap_or(true),
        lock_timeout_ms,
        statement_timeout_ms,
        retries: c.retries.unwrap_or(3),
    })
}

const TOP_KEYS: &str = "description, owner, ticket, transaction, irreversible, reason, lock_timeout, statement_timeout, retries, [contract]";
const CONTRACT_KEYS: &str = "max_duration, max_lock, max_rows_affected, data_loss";

/// Parse migration.toml; unknown keys are reported by name rather than serde's wording.
pub fn parse_toml(path: &Path, text: &str) -> Result<MigrationToml, LoadError> {
    let value: toml::Table = text.parse().map_err(|e: toml::de::Error| LoadError::Toml {
        path: path.to_path_buf(),
        message: e.to_string().trim().replace('\n', " "),
    })?;
    for (k, v) in &value {
        if k == "contract" {
            if let Some(t) = v.as_table() {
                for ck in t.keys() {
                    if !CONTRACT_KEYS.split(", ").any(|a| a == ck) {
                        return Err(LoadError::UnknownKey {
                            path: path.to_path_buf(),
                            key: format!("contract.{ck}"),
                            allowed: CONTRACT_KEYS.into(),
                        });
                    }
                }
            }
        } else if !TOP_KEYS.split(", ").any(|a| a == k) {
            return Err(LoadError::UnknownKey {
                path: path.to_path_buf(),
                key: k.clone(),
                allowed: TOP_KEYS.into(),
            });
        }
    }
    MigrationToml::deserialize(value).map_err(|e| LoadError::Toml {
        path: path.to_path_buf(),
        message: e.to_string().trim().replace('\n', " "),
    })
}

/// `.sql` in any case: `0003_fix.SQL` copied from a Windows tool is a migration too, not a
/// file to skip without a word.
pub fn has_sql_extension(file_name: &str) -> bool {
    file_name.len() > 4
        && file_name
            .get(file_name.len() - 4..)
            .is_some_and(|ext| ext.eq_ignore_ascii_case(".sql"))
}

/// One single-file migration read on its own, without the directory around it (for
/// `backstop lint FILE`): the version comes from the name, 0 when the name has none.
pub fn read_single_file(path: &Path) -> Result<Migration, LoadError> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let stem = file_name
        .get(..file_name.len().saturating_sub(4))
        .unwrap_or(&file_name);
    let (version, name) = match split_version(path, stem) {
        Ok(v) => v,
        Err(LoadError::NoVersion { .. } | LoadError::ZeroVersion { .. }) => {
            let digits = stem.chars().take_while(|c| c.is_ascii_digit()).count();
            (
                0,
                stem[digits..]
                    .trim_start_matches(['_', '-', '.'])
                    .to_string(),
            )
        }
        Err(e) => return Err(e),
    };
    single_file(path, version, name)
}

fn load_single_file(path: &Path, file_name: &str) -> Result<Migration, LoadError> {
    let stem = file_name
        .get(..file_name.len().saturating_sub(4))
        .unwrap_or(file_name);
    let (version, name) = split_version(path, stem)?;
    single_file(path, version, name)
}

fn single_file(path: &Path, version: i64, name: String) -> Result<Migration, LoadError> {
    let text = read_text(path)?.unwrap_or_default();
    let mut sections: BTreeMap<&str, String> = BTreeMap::new();
    let mut current: Option<&str> = None;
    let mut toml_lines: Vec<String> = Vec::new();
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        let lower = t.to_ascii_lowercase();
        if let Some(sec) = lower.strip_prefix("-- backstop:") {
            let sec = sec.trim();
            let key = match sec {
                "up" => "up",
                "down" => "down",
                "verify" => "verify",
                _ => {
                    // `-- backstop:allow …` lint suppressions live inside sections.
                    if sec.starts_with("allow") {
                        if let Some(c) = current {
                            sections.entry(c).or_default().push_str(line);
                        }
                        continue;
                    }
                    return Err(LoadError::BadSingleFile { path: path.to_path_buf(), message: format!("unknown section marker `{t}` (expected -- backstop:up, -- backstop:down or -- backstop:verify)") });
                }
            };
            if sections.contains_key(key) {
                return Err(LoadError::BadSingleFile {
                    path: path.to_path_buf(),
                    message: format!("section `-- backstop:{key}` appears twice"),
                });
            }
            sections.insert(key, String::new());
            current = Some(key);
            continue;
        }
        match current {
            Some(c) => sections.entry(c).or_default().push_str(line),
            None => {
                // Options before the first section: `-- key = value` lines, TOML syntax.
                if let Some(opt) = t.strip_prefix("--") {
                    let opt = opt.trim();
                    if opt.contains('=') || opt.starts_with('[') {
                        toml_lines.push(opt.to_string());
                    }
                } else if !t.is_empty() {
                    return Err(LoadError::BadSingleFile {
                        path: path.to_path_buf(),
                        message: "SQL before the first `-- backstop:up` line".into(),
                    });
                }
            }
        }
    }
    let up = sections.remove("up").ok_or(LoadError::MissingUpSection {
        path: path.to_path_buf(),
    })?;
    if is_empty(path, &up)? {
        return Err(LoadError::Empty {
            paths: vec![path.to_path_buf()],
        });
    }
    // Empty down and verify sections count as absent.
    let mut section = |name: &str| match sections.remove(name) {
        Some(text) if is_empty(path, &text)? => Ok(None),
        other => Ok(other),
    };
    let down = section("down")?;
    let verify = section("verify")?;
    let toml_text = if toml_lines.is_empty() {
        None
    } else {
        Some(toml_lines.join("\n") + "\n")
    };
    let config = match &toml_text {
        Some(t) => parse_toml(path, t)?,
        None => MigrationToml::default(),
    };
    finish(
        version,
        name,
        path.to_path_buf(),
        Layout::SingleFile,
        up,
        down,
        verify,
        toml_text,
        config,
        path,
    )
}
