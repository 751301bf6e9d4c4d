//! `init` and `new`: files on disk for a new project or migration.

use backstop_core::error::EngineError;
use backstop_core::migration;
use backstop_core::sumfile;
use serde::Serialize;
use std::path::{Component, Path, PathBuf};

/// What `init` did: the paths it created and those that were already there (left alone).
#[derive(Debug, Serialize)]
pub struct Initialised {
    pub created: Vec<String>,
    pub existing: Vec<String>,
    /// What to do next, for people.
    pub next: String,
}

impl Initialised {
    pub fn lines(&self) -> Vec<String> {
        if self.created.is_empty() {
            return vec!["already initialised: nothing to do".into()];
        }
        self.created
            .iter()
            .map(|p| format!("created {p}"))
            .chain([format!("next: {}", self.next)])
            .collect()
    }
}

/// What `new` created.
#[derive(Debug, Serialize)]
pub struct NewMigration {
    pub version: i64,
    pub name: String,
    /// The migration: its folder, or its file in the single-file form.
    pub path: String,
    /// Every file written.
    pub created: Vec<String>,
    pub next: String,
}

impl NewMigration {
    pub fn lines(&self) -> Vec<String> {
        let files: Vec<&str> = self
            .created
            .iter()
            .filter_map(|f| Path::new(f).file_name()?.to_str())
            .collect();
        let what = if self.created.len() > 1 {
            format!("created {}/ ({})", self.path, files.join(", "))
        } else {
            format!("created {}", self.path)
        };
        vec![what, self.next.clone()]
    }
}

#[derive(Debug, Serialize)]
pub struct SumWritten {
    pub path: String,
    pub migrations: usize,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> EngineError + '_ {
    move |e| EngineError::Usage(format!("cannot write {}: {e}", path.display()))
}

/// A path as a person typed it: without the `./` that joining onto an empty parent adds.
fn shown(path: &Path) -> String {
    let clean: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    if clean.as_os_str().is_empty() {
        ".".into()
    } else {
        clean.display().to_string()
    }
}

/// `path` made absolute and with `.` and `..` taken out by the text alone (the migrations
/// folder may not exist yet, so it can't be canonicalised).
fn lexical_absolute(path: &Path) -> Option<PathBuf> {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    let mut out = PathBuf::new();
    for c in std::path::absolute(path).ok()?.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// `target` relative to the folder `base`, as `dir` in backstop.toml is read; `None` when
/// there is no relative way (another drive on Windows).
fn relative_to(base: &Path, target: &Path) -> Option<PathBuf> {
    let base = lexical_absolute(base)?;
    let target = lexical_absolute(target)?;
    let (b, t): (Vec<_>, Vec<_>) = (base.components().collect(), target.components().collect());
    let common = b.iter().zip(&t).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return None;
    }
    let mut rel: PathBuf = std::iter::repeat_n(Component::ParentDir, b.len() - common).collect();
    rel.extend(&t[common..]);
    Some(if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    })
}

/// The commented defaults, with the migrations folder that `init` creates.
fn config_text(dir: &str) -> String {
    format!(
        r#"# backstop settings. Flags and environment variables (DATABASE_URL) override these.
# Relative paths (dir, and an SQLite database_url) are relative to this file.
database_url = "sqlite://backstop.db"
dir = {dir}
lock_wait = "60s"
# require_sum = true     # refuse to apply without backstop.sum

# [env.production]
# database_url = "postgres://deploy@db.internal/app"   # prefer DATABASE_URL for secrets
# require_sum = true
"#
    )
}

/// Create what is missing of `config`, `dir` and the sum beside it. Everything is checked
/// before anything is written, so a refusal leaves the folder as it was.
pub fn init(dir: &Path, config: &Path) -> Result<Initialised, EngineError> {
    let sum = sumfile::sum_path(dir);
    let not_a = |p: &Path, what: &str| {
        EngineError::Usage(format!(
            "{} exists and is not a {what}; nothing was created (move it away, or pass --dir/--config to use other paths)",
            shown(p)
        ))
    };
    if dir.exists() && !dir.is_dir() {
        return Err(not_a(dir, "directory"));
    }
    for file in [config, sum.as_path()] {
        if file.exists() && !file.is_file() {
            return Err(not_a(file, "file"));
        }
    }
    // `dir` in the file is read relative to the file: record the folder created, as seen
    // from there, so the next command (and the next `init`) finds it.
    let config_dir = config.parent().unwrap_or(Path::new(""));
    let recorded = relative_to(config_dir, dir).unwrap_or_else(|| dir.to_path_buf());
    let recorded = recorded.to_str().ok_or_else(|| {
        EngineError::Usage(format!(
            "{}: a path that is not UTF-8 can't be written into backstop.toml; pass --dir with another path",
            dir.display()
        ))
    })?;
    // A JSON string is a valid TOML basic string (same escapes), quotes and backslashes
    // included.
    let recorded =
        serde_json::to_string(recorded).map_err(|e| EngineError::Usage(e.to_string()))?;
    let sum_text = if sum.exists() {
        None
    } else if dir.is_dir() {
        Some(sumfile::render(&migration::load_dir(dir)?))
    } else {
        Some(sumfile::render(&[]))
    };

    // Created in this order, so that a failure part-way leaves no backstop.toml (it is
    // what says the project is set up), and listed config, folder, sum.
    let mut made = [false; 3];
    if !config.exists() && !config_dir.as_os_str().is_empty() {
        std::fs::create_dir_all(config_dir).map_err(io(config_dir))?;
    }
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        made[1] = true;
    }
    if let Some(text) = sum_text {
        std::fs::write(&sum, text).map_err(io(&sum))?;
        made[2] = true;
    }
    if !config.exists() {
        std::fs::write(config, config_text(&recorded)).map_err(io(config))?;
        made[0] = true;
    }
    let (mut created, mut existing) = (Vec::new(), Vec::new());
    for (path, new) in [config, dir, sum.as_path()].into_iter().zip(made) {
        if new { &mut created } else { &mut existing }.push(shown(path));
    }
    Ok(Initialised {
        created,
        existing,
        next: "create a migration with `backstop new NAME`".into(),
    })
}

/// Create the next migration: version = current UTC time (YYYYMMDDHHMMSS), or one more than
/// the newest existing version if that is later.
pub fn new_migration(
    dir: &Path,
    name: &str,
    no_tx: bool,
    single: bool,
) -> Result<NewMigration, EngineError> {
    let slug: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let slug = slug.trim_matches('_').to_string();
    if slug.is_empty() {
        return Err(EngineError::Usage(format!(
            "`{name}` is not a usable migration name (use letters, digits, _)"
        )));
    }
    if !dir.is_dir() {
        return Err(EngineError::Usage(format!(
            "{} does not exist; run `backstop init` first or pass --dir",
            dir.display()
        )));
    }
    // Only the existing version numbers matter here; a half-written migration (say, the
    // template `new` created a minute ago) must not stop the next `new`.
    let entries = std::fs::read_dir(dir)
        .map_err(|e| EngineError::Usage(format!("cannot read {}: {e}", dir.display())))?;
    let newest = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect::<String>()
                .parse::<i64>()
                .ok()
        })
        .max();
    let now = backstop_core::now_rfc3339();
    let stamp: i64 = now
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(14)
        .collect::<String>()
        .parse()
        .unwrap_or(1);
    // Versions are applied in ascending order: the new one must be newer than every
    // existing one, and past the largest version there is none.
    let after_newest = match newest {
        Some(v) => Some(v.checked_add(1).ok_or_else(|| {
            EngineError::Usage(format!(
                "{}: the newest migration has version {v}, the largest version there is, so a migration after it can't be numbered; nothing was created. If that migration is not applied to any database yet, rename it to a timestamp version (e.g. {stamp}_…) and run `backstop sum`, then run `backstop new {slug}` again",
                dir.display()
            ))
        })?),
        None => None,
    };
    let version = after_newest.filter(|v| *v > stamp).unwrap_or(stamp);
    let id = format!("{version}_{slug}");
    let toml = if no_tx {
        "# Runs outside a transaction, statement by statement; progress is recorded after each.\n\
         # If it fails half-way backstop cleans up what it can (e.g. an INVALID index) or marks it dirty.\n\
         transaction = false\nlock_timeout = \"2s\"\n"
    } else {
        "# description = \"\"\n# lock_timeout = \"2s\"\n# statement_timeout = \"5m\"\n"
    };
    let up = match (no_tx, single) {
        (true, _) => "-- The change. Runs statement by statement, outside a transaction (transaction = false);\n\
                      -- progress is recorded after each statement.\n",
        (false, false) => "-- The change. Runs with verify.sql in one transaction.\n",
        (false, true) => "-- The change. Runs with the verify section in one transaction.\n",
    };
    let down =
        "-- Undo the change exactly: rollback proves the schema fingerprint returns to what it was.\n";
    let checks = "-- Checks that must hold after the change: any row whose first column is false, 0 or NULL fails.\n";
    let path;
    let mut created = Vec::new();
    if single {
        path = dir.join(format!("{id}.sql"));
        // Options go before the first section as `-- key = value` lines; `#` keeps them commented.
        let opts: String = toml.lines().map(|l| format!("-- {l}\n")).collect();
        let text = format!(
            "{opts}-- backstop:up\n{up}\n-- backstop:down\n{down}\n-- backstop:verify\n{checks}-- Delete this section if there is nothing to check.\n"
        );
        std::fs::write(&path, text).map_err(io(&path))?;
        created.push(shown(&path));
    } else {
        path = dir.join(&id);
        std::fs::create_dir_all(&path).map_err(io(&path))?;
        let verify = format!("{checks}-- Delete this file if there is nothing to check.\n");
        for (f, text) in [
            ("up.sql", up),
            ("down.sql", down),
            ("verify.sql", verify.as_str()),
            ("migration.toml", toml),
        ] {
            let p = path.join(f);
            std::fs::write(&p, text).map_err(io(&p))?;
            created.push(shown(&p));
        }
    }
    Ok(NewMigration {
        version,
        name: slug,
        path: shown(&path),
        created,
        next: "write the SQL, then run `backstop sum` and commit both".into(),
    })
}
