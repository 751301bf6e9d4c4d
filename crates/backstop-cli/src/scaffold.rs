//! `init` and `new`: files on disk for a new project or migration.

use backstop_core::error::EngineError;
use backstop_core::migration;
use backstop_core::sumfile;
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Serialize)]
pub struct Created {
    pub created: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct SumWritten {
    pub path: String,
    pub migrations: usize,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> EngineError + '_ {
    move |e| EngineError::Usage(format!("cannot write {}: {e}", path.display()))
}

const CONFIG: &str = r#"# backstop settings. Flags and environment variables (DATABASE_URL) override these.
database_url = "sqlite://backstop.db"
dir = "migrations"
lock_wait = "60s"
# require_sum = true     # refuse to apply without backstop.sum

# [env.production]
# database_url = "postgres://deploy@db.internal/app"   # prefer DATABASE_URL for secrets
# require_sum = true
"#;

pub fn init(dir: &Path, config: &Path) -> Result<Created, EngineError> {
    let mut created = Vec::new();
    if !config.exists() {
        std::fs::write(config, CONFIG).map_err(io(config))?;
        created.push(format!("created {}", config.display()));
    }
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        created.push(format!("created {}/", dir.display()));
    }
    let sum = sumfile::sum_path(dir);
    if !sum.exists() {
        let ms = migration::load_dir(dir)?;
        std::fs::write(&sum, sumfile::render(&ms)).map_err(io(&sum))?;
        created.push(format!("created {}", sum.display()));
    }
    if created.is_empty() {
        created.push("already initialised: nothing to do".into());
    }
    Ok(Created { created })
}

/// Create the next migration: version = current UTC time (YYYYMMDDHHMMSS), or one more than
/// the newest existing version if that is later.
pub fn new_migration(
    dir: &Path,
    name: &str,
    no_tx: bool,
    single: bool,
) -> Result<Created, EngineError> {
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
    let version = newest
        .map(|v| v + 1)
        .filter(|v| *v > stamp)
        .unwrap_or(stamp);
    let id = format!("{version}_{slug}");
    let toml = if no_tx {
        "# Runs outside a transaction, statement by statement; progress is recorded after each.\n\
         # If it fails half-way backstop cleans up what it can (e.g. an INVALID index) or marks it dirty.\n\
         transaction = false\nlock_timeout = \"2s\"\n"
    } else {
        "# description = \"\"\n# lock_timeout = \"2s\"\n# statement_timeout = \"5m\"\n"
    };
    let up = "-- The change. Runs with verify.sql in one transaction.\n";
    let down =
        "-- Undo up.sql exactly: rollback proves the schema fingerprint returns to what it was.\n";
    let verify = "-- Checks that must hold after up.sql: any row whose first column is false, 0 or NULL fails.\n-- Delete this file if there is nothing to check.\n";
    let mut created = Vec::new();
    if single {
        let path = dir.join(format!("{id}.sql"));
        // Options go before the first section as `-- key = value` lines; `#` keeps them commented.
        let opts: String = toml.lines().map(|l| format!("-- {l}\n")).collect();
        let text = format!(
            "{opts}-- backstop:up\n{up}\n-- backstop:down\n{down}\n-- backstop:verify\n{verify}"
        );
        std::fs::write(&path, text).map_err(io(&path))?;
        created.push(format!("created {}", path.display()));
    } else {
        let folder = dir.join(&id);
        std::fs::create_dir_all(&folder).map_err(io(&folder))?;
        for (f, text) in [
            ("up.sql", up),
            ("down.sql", down),
            ("verify.sql", verify),
            ("migration.toml", toml),
        ] {
            let p = folder.join(f);
            std::fs::write(&p, text).map_err(io(&p))?;
        }
        created.push(format!(
            "created {}/ (up.sql, down.sql, verify.sql, migration.toml)",
            folder.display()
        ));
    }
    created.push("write the SQL, then run `backstop sum` and commit both".into());
    Ok(Created { created })
}
