//! The `backstop` binary: argument parsing, connecting, printing. Every decision is made by
//! backstop-core; this crate only wires it to the terminal.

// Errors are on the cold path and carry everything the person at the terminal needs; their
// size is irrelevant (see backstop-core).
#![allow(clippy::result_large_err)]

mod cli;
mod connect;
mod lint;
mod print;
mod scaffold;

use backstop_core::config::ConfigFile;
use backstop_core::driver::Driver;
use backstop_core::engine::{self, Ctx, RunFailure};
use backstop_core::error::{exit, EngineError};
use backstop_core::migration::{self, Migration};
use backstop_core::redact::redact;
use backstop_core::sumfile;
use clap::Parser;
use cli::{AuditAction, Cli, Command, Format};
use print::Printer;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Settings after merging flags, environment and backstop.toml.
struct Resolved {
    url: String,
    dir: PathBuf,
    lock_wait: Duration,
    require_sum: bool,
    actor: String,
}

fn main() {
    std::panic::set_hook(Box::new(report_panic));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => std::process::exit(bad_arguments(e)),
    };
    let p = Printer::new(cli.global.format, cli.global.quiet, cli.global.verbose);
    let code = match run(&cli, &p) {
        Ok(code) => code,
        Err(f) => p.failure(&f),
    };
    std::process::exit(code);
}

/// A bug: say where, with the message masked like any other output (the default hook would
/// print it as it is, and it can quote a statement or a URL), and the backtrace when
/// `RUST_BACKTRACE` asks for one (it names functions only, never data).
fn report_panic(info: &std::panic::PanicHookInfo) {
    let at = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    eprintln!(
        "error: internal error{at}: {}\n  this is a bug in backstop; please report it",
        backstop_core::redact::panic_message(info.payload())
    );
    let trace = std::backtrace::Backtrace::capture();
    if trace.status() == std::backtrace::BacktraceStatus::Captured {
        eprintln!("{trace}");
    }
}

/// Arguments clap could not parse. Help and version print as usual; a real error is a
/// usage error (exit 2), and a script that asked for `--format json` gets the failure
/// document on stdout like any other failure, not an empty stdout, saying all that clap
/// says but the usage.
fn bad_arguments(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    // Not `std::env::args()`: it panics on an argument that is not UTF-8, which is one of
    // the errors reported here.
    let args_os: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let args: Vec<String> = args_os
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let wants_json = args
        .windows(2)
        .any(|w| w[0] == "--format" && w[1] == "json")
        || args.iter().any(|a| a == "--format=json");
    let informational = matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if informational {
        e.exit();
    }
    // clap quotes the argument it could not place, which may be a URL with a password:
    // learn every password on the command line, and mask the message in every format.
    for a in &args {
        let value = a
            .strip_prefix("--")
            .and_then(|flag| flag.split_once('='))
            .map_or(a.as_str(), |(_, v)| v);
        backstop_core::redact::register_url_password(value);
    }
    let text = redact(&e.render().to_string());
    if !wants_json {
        eprint!("{text}");
        return e.exit_code();
    }
    // clap lists what is missing (and the possible values, a tip) on the lines under its
    // first: all of them are kept, joined on one line.
    let message = cli::one_line(&text);
    let help = cli::help_command(&args_os);
    let p = Printer::new(cli::Format::Json, false, false);
    p.failure(&Box::<RunFailure>::from(EngineError::Usage(format!(
        "{message} (see `{help}`)"
    ))))
}

fn resolve_settings(cli: &Cli) -> Result<Resolved, EngineError> {
    let g = &cli.global;
    let (config_path, explicit) = match &g.config {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from("backstop.toml"), false),
    };
    // `init --config FILE` creates FILE: it need not exist yet. Something else by that name
    // (a directory) is init's to refuse, with what to do, before anything is created.
    let creating = matches!(cli.command, Command::Init) && !config_path.is_file();
    let settings = if !creating && (explicit || config_path.exists()) {
        let cf = ConfigFile::read(&config_path).map_err(|e| EngineError::Usage(e.to_string()))?;
        cf.settings(g.env.as_deref(), &config_path)
            .map_err(|e| EngineError::Usage(e.to_string()))?
    } else if let Some(env) = &g.env {
        return Err(EngineError::Usage(format!(
            "--env {env} given but there is no backstop.toml (pass --config FILE)"
        )));
    } else {
        Default::default()
    };
    let base = config_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let dir = match (&g.dir, &settings.dir) {
        (Some(d), _) => d.clone(),
        (None, Some(d)) if d.is_relative() => base.join(d),
        (None, Some(d)) => d.clone(),
        // `dir` defaults to its value in the template, which is relative to the file too.
        (None, None) => base.join("migrations"),
    };
    let url = match (&g.database_url, settings.database_url) {
        (Some(u), _) => u.clone(),
        (None, Some(u)) => sqlite_beside(&u, &base),
        (None, None) => "sqlite://backstop.db".into(),
    };
    // Before anything else can quote it, and before any driver parses the URL: whatever is
    // said about it (a malformed URL, a flag value that repeats it), the password is masked.
    backstop_core::redact::register_url_password(&url);
    let lock_wait_text = g
        .lock_wait
        .clone()
        .or(settings.lock_wait)
        .unwrap_or_else(|| "60s".into());
    let lock_wait = migration::parse_duration(&lock_wait_text).ok_or_else(|| {
        // Say where the value came from: the flag, or the config file.
        let source = if g.lock_wait.is_some() {
            "--lock-wait".to_string()
        } else {
            format!("{}: lock_wait", config_path.display())
        };
        EngineError::Usage(format!(
            "{source} `{lock_wait_text}` is not a duration (e.g. 60s, 500ms)"
        ))
    })?;
    // The engine masks the actor it stores; it is masked here too because the connection
    // carries it in its application name (`pg_stat_activity` shows it to anyone).
    let actor = redact(
        &g.actor
            .clone()
            .filter(|a| !a.trim().is_empty())
            .unwrap_or_else(os_user),
    );
    Ok(Resolved {
        url,
        dir,
        lock_wait,
        require_sum: settings.require_sum.unwrap_or(false),
        actor,
    })
}

/// A relative SQLite path in backstop.toml is relative to the file, as `dir` is: the same
/// project must reach the same database from any working directory (a flag or
/// `DATABASE_URL` stays relative to the working directory, as paths on a command line are).
fn sqlite_beside(url: &str, base: &Path) -> String {
    if base.as_os_str().is_empty() || !connect::is_sqlite(url) {
        return url.to_string();
    }
    match backstop_sqlite::file(url) {
        Ok(Some(path)) if path.is_relative() => match base.join(&path).to_str() {
            Some(joined) => format!("sqlite://{joined}"),
            // A path that isn't UTF-8 can't be written into a URL; the driver reports it.
            None => url.to_string(),
        },
        // In memory, absolute, or not a valid URL (the driver names the problem).
        _ => url.to_string(),
    }
}

/// The OS user: `$USER`/`$LOGNAME` (`%USERNAME%` on Windows) when set, as a login shell
/// sets them; otherwise (cron, containers, systemd units often run with neither) the name
/// of the effective uid, so the ledger never records an anonymous "unknown".
fn os_user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .or_else(uid_user)
        .unwrap_or_else(|| "unknown".into())
}

/// The effective uid's name from /etc/passwd, or `uid:N` when it has none there (a uid
/// given to a container with no passwd entry, or one known only to NSS/LDAP). Read from
/// /proc without a libc call: the workspace forbids unsafe code.
#[cfg(unix)]
fn uid_user() -> Option<String> {
    let uid = effective_uid()?;
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let uid_field = fields.nth(1)?;
        (uid_field.parse::<u32>().ok()? == uid && !name.is_empty()).then(|| name.to_string())
    });
    Some(name.unwrap_or_else(|| format!("uid:{uid}")))
}

#[cfg(not(unix))]
fn uid_user() -> Option<String> {
    None
}

/// The effective uid: the second field of `Uid:` in /proc/self/status (real, effective,
/// saved, filesystem), or the owner of /proc/self, which is the effective uid too.
#[cfg(unix)]
fn effective_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1))
                .and_then(|euid| euid.parse().ok())
        })
        .or_else(|| std::fs::metadata("/proc/self").ok().map(|m| m.uid()))
}

fn load(dir: &Path) -> Result<Vec<Migration>, EngineError> {
    Ok(migration::load_dir(dir)?)
}

fn run(cli: &Cli, p: &Printer) -> Result<i32, Box<RunFailure>> {
    let s = resolve_settings(cli)?;
    // An override needs a real reason: it goes to the audit ledger.
    let empty_reason = |r: &Option<String>| r.as_deref().is_some_and(|r| r.trim().is_empty());
    match &cli.command {
        Command::Apply { reason, .. } | Command::Rollback { reason, .. }
            if empty_reason(reason) =>
        {
            return Err(EngineError::Usage(
                "--reason must say why (it is recorded in the audit ledger)".into(),
            )
            .into());
        }
        // A release id is how `rollback --release` finds the run again: a blank one would
        // label it with nothing a person can name.
        Command::Apply {
            release: Some(r), ..
        }
        | Command::Rollback {
            release: Some(r), ..
        } if r.trim().is_empty() => {
            return Err(EngineError::Usage(
                "--release must not be empty: a release id labels an apply's migrations in history and the ledger, and `rollback --release ID` finds them by it; give one such as 2026-11-24.1 (apply without --release generates one); nothing was changed".into(),
            )
            .into());
        }
        _ => {}
    }
    let ctx = Ctx {
        actor: s.actor.clone(),
        lock_wait: s.lock_wait,
        require_sum: s.require_sum,
        // Step-by-step progress on stderr for people; JSON and --quiet stay silent.
        progress: (cli.global.format == Format::Text && !cli.global.quiet).then(|| {
            engine::Progress(std::sync::Arc::new(|line: &str| {
                eprintln!("{}", redact(line))
            }))
        }),
    };
    let sum_path = sumfile::sum_path(&s.dir);
    let app = |cmd: &str| format!("backstop {cmd} ({})", s.actor);
    if matches!(cli.global.format, Format::Sarif | Format::Github)
        && !matches!(cli.command, Command::Lint { .. })
    {
        return Err(EngineError::Usage(
            "--format sarif|github is only for `backstop lint`; use text or json".into(),
        )
        .into());
    }
    let engine = lint::engine_of(&s.url);
    match &cli.command {
        Command::Init => {
            let r = scaffold::init(
                &s.dir,
                cli.global
                    .config
                    .as_deref()
                    .unwrap_or(Path::new("backstop.toml")),
            )?;
            p.lines(&r, &r.lines());
            Ok(exit::OK)
        }
        Command::New {
            name,
            no_transaction,
            single_file,
        } => {
            let r = scaffold::new_migration(&s.dir, name, *no_transaction, *single_file)?;
            p.lines(&r, &r.lines());
            Ok(exit::OK)
        }
        Command::Sum => {
            let ms = load(&s.dir)?;
            let text = sumfile::render(&ms);
            std::fs::write(&sum_path, &text).map_err(|e| {
                EngineError::Usage(format!("cannot write {}: {e}", sum_path.display()))
            })?;
            let r = scaffold::SumWritten {
                path: sum_path.display().to_string(),
                migrations: ms.len(),
            };
            p.lines(
                &r,
                &[format!("wrote {} ({} migrations)", r.path, r.migrations)],
            );
            Ok(exit::OK)
        }
        Command::Status => {
            // Read the files and the database at the same time; a problem with the files
            // is reported first, as it would be one after the other. Only when the folder
            // is there and the database is a server: a local SQLite file is read quickly,
            // and a mistyped --dir is then reported without touching the database.
            let overlap = s.dir.is_dir() && !connect::is_sqlite(&s.url);
            let observe = || {
                connect::connect_reading(&s.url, &ctx, &app("status"))
                    .and_then(|mut db| engine::observe(db.as_mut()))
            };
            let (ms, seen) = if overlap {
                std::thread::scope(|scope| {
                    let files = scope.spawn(|| load(&s.dir));
                    let seen = observe();
                    match files.join() {
                        Ok(ms) => (ms, seen),
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                })
            } else if s.dir.exists() {
                let ms = load(&s.dir)?;
                (Ok(ms), observe())
            } else {
                // A server with the database but not the project: history alone still
                // says what is applied, dirty or drifted; what is pending can't be known.
                (Ok(Vec::new()), observe())
            };
            let ms = ms?;
            let mut r = engine::status_of(seen?, &ms, &sum_path)?;
            if !s.dir.exists() {
                // The sum is about the files, which aren't here: nothing to compare.
                r.sum = None;
                r.warnings.push(format!(
                    "the migrations folder {} does not exist: this list comes from history alone, so pending migrations can't be shown",
                    s.dir.display()
                ));
            }
            p.status(&r);
            Ok(exit::OK)
        }
        Command::Plan { to } => {
            let ms = load(&s.dir)?;
            let mut db = connect::connect_reading(&s.url, &ctx, &app("plan"))?;
            // The checks of an apply with the same target, to warn about its refusals.
            let opts = engine::ApplyOptions {
                to: *to,
                sum_path,
                lint: Some(lint::hook(ms.clone(), engine, vec![])),
                ..Default::default()
            };
            let mut r = engine::plan(db.as_mut(), &ms, &ctx, &opts)?;
            lint::annotate(&mut r, &ms, engine);
            p.plan(&r);
            Ok(exit::OK)
        }
        Command::Apply {
            to,
            release,
            dry_run,
            atomic,
            allow_drift,
            allow,
            reason,
        } => {
            let ms = load(&s.dir)?;
            let allow: Vec<(String, String)> = allow
                .iter()
                .map(|rule| (rule.clone(), reason.clone().unwrap_or_default()))
                .collect();
            for (rule, _) in &allow {
                if !backstop_lint::rules().iter().any(|r| r.id == rule) {
                    return Err(EngineError::Usage(format!("--allow {rule}: no such lint rule (`backstop lint --explain RULE`; rules are listed in docs/rules/README.md)")).into());
                }
            }
            let opts = engine::ApplyOptions {
                to: *to,
                release: release.clone(),
                dry_run: *dry_run,
                atomic: *atomic,
                allow_drift: allow_drift.then(|| reason.clone().unwrap_or_default()),
                sum_path,
                lint: Some(lint::hook(ms.clone(), engine, allow)),
            };
            // A dry run only reads: it must not create the SQLite file it reports on. A
            // real run creates it, but not for a run the files alone refuse.
            let mut db = if *dry_run {
                connect::connect_reading(&s.url, &ctx, &app("apply"))?
            } else {
                if connect::sqlite_file_missing(&s.url)? {
                    engine::refusal_before_create(&ms, &ctx, &opts)?;
                }
                connect::connect(&s.url, &ctx, &app("apply"))?
            };
            let mut r = engine::apply(db.as_mut(), &ms, &ctx, &opts)?;
            if let Some(plan) = r.plan.as_mut() {
                lint::annotate(plan, &ms, engine);
            }
            p.apply(&r, *to, &ms);
            Ok(exit::OK)
        }
        Command::Rollback {
            to,
            steps,
            release,
            dry_run,
            force,
            allow_drift,
            reason,
        } => {
            let target = match (to, steps, release.clone()) {
                (Some(v), _, _) => engine::RollbackTarget::To(*v),
                (_, _, Some(r)) => engine::RollbackTarget::Release(r),
                (_, Some(n), _) => engine::RollbackTarget::Steps(*n),
                _ => engine::RollbackTarget::Steps(1),
            };
            // A rollback has nothing to undo in a database that does not exist: a missing
            // SQLite file is a mistyped path, refused without creating it.
            let mut db = if *dry_run {
                connect::connect_reading(&s.url, &ctx, &app("rollback"))?
            } else {
                connect::connect_existing(&s.url, &ctx, &app("rollback"))?
            };
            let opts = engine::RollbackOptions {
                target,
                dry_run: *dry_run,
                force_reason: force.then(|| reason.clone().unwrap_or_default()),
                allow_drift: allow_drift.then(|| reason.clone().unwrap_or_default()),
            };
            if !opts.dry_run && !confirm(cli, db.as_mut(), &ctx, &opts)? {
                p.lines(
                    &serde_json::json!({"cancelled": true}),
                    &["cancelled; nothing was changed".to_string()],
                );
                return Ok(exit::USAGE);
            }
            let r = engine::rollback(db.as_mut(), &ctx, &opts)?;
            p.rollback(&r);
            Ok(exit::OK)
        }
        Command::Verify => {
            // Without the folder (a server that has the database, not the project) the
            // stored scripts are still verified; only the checksums can't be compared.
            let ms = if s.dir.exists() {
                Some(load(&s.dir)?)
            } else {
                None
            };
            let mut db = connect::connect_existing(&s.url, &ctx, &app("verify"))?;
            let r = engine::verify(db.as_mut(), ms.as_deref(), &sum_path, s.require_sum)?;
            p.verify(&r);
            Ok(if r.ok { exit::OK } else { exit::REFUSED })
        }
        Command::Lint {
            paths,
            engine: engine_arg,
            deny,
            explain,
        } => {
            if let Some(rule) = explain {
                let page = backstop_lint::explain(rule)
                    .ok_or_else(|| EngineError::Usage(format!("no lint rule `{rule}`")))?;
                p.lines(
                    &serde_json::json!({"rule": rule, "docs": page}),
                    std::slice::from_ref(&page),
                );
                return Ok(exit::OK);
            }
            let lint_engine = match engine_arg {
                Some(cli::EngineArg::Postgres) => backstop_core::driver::Engine::Postgres,
                Some(cli::EngineArg::Sqlite) => backstop_core::driver::Engine::Sqlite,
                Some(cli::EngineArg::Mysql) => backstop_core::driver::Engine::Mysql,
                None => engine,
            };
            let paths = if paths.is_empty() {
                vec![s.dir.clone()]
            } else {
                paths.clone()
            };
            let opts = backstop_lint::LintOptions {
                engine: lint_engine,
                deny_warnings: deny.is_some(),
                allow: vec![],
            };
            // A migration that doesn't load is an input error, as it is for every other
            // command; a path that names nothing lint can read is a usage error.
            let report =
                backstop_lint::lint_files_in(&paths, Some(&s.dir), &opts).map_err(|e| match e {
                    backstop_lint::LintError::Load(e) => EngineError::Load(e),
                    e => EngineError::Usage(e.to_string()),
                })?;
            p.lint(&report);
            Ok(if report.has_errors() {
                exit::FAILED_UNDONE
            } else {
                exit::OK
            })
        }
        Command::Schema => {
            let mut db = connect::connect_reading(&s.url, &ctx, &app("schema"))?;
            let r = engine::schema(db.as_mut())?;
            p.schema(&r);
            Ok(exit::OK)
        }
        Command::Resolve {
            migration,
            applied,
            rolled_back: _,
            reason,
        } => {
            // Nothing to resolve in a database that does not exist: refused, not created.
            let mut db = connect::connect_existing(&s.url, &ctx, &app("resolve"))?;
            let to = if *applied {
                engine::Resolution::Applied
            } else {
                engine::Resolution::RolledBack
            };
            let r = engine::resolve(db.as_mut(), &ctx, *migration, to, reason)?;
            let mut lines = vec![format!("migration {} ({}) resolved: {} → {} ({}); schema fingerprint {} is now the baseline", r.version, r.name, r.from.as_str(), r.to.as_str(), r.reason, r.fingerprint)];
            // Everything --applied accepted is named, and what the run did not change most.
            match &r.objects {
                Some(o) if !o.is_empty() => lines.push(format!("accepted as they are now (recorded in the ledger): {}", o.join(", "))),
                None if r.to == backstop_core::history::Status::Applied => lines.push("the objects accepted could not be listed (the recorded schema text was not at hand): the ledger records them as unknown, and a later rollback can't prove a step whose migration changed any object".into()),
                _ => {}
            }
            // Warnings go to stderr, as every command's do, -q or not, JSON or not.
            let mut warnings = r.warnings.clone();
            if r.data_unchecked {
                warnings.push(format!("migration {} changed no schema object: that its data change was undone was not checked, it is taken on the reason given; the next apply runs it again", r.version));
            }
            if !r.not_from_run.is_empty() {
                warnings.push(format!("the migration's run did not record changing {}: they were changed by hand, and are accepted as they are now", r.not_from_run.join(", ")));
            }
            p.lines(&r, &lines);
            p.warnings(&warnings);
            Ok(exit::OK)
        }
        Command::Audit { action } => {
            let mut db = connect::connect_existing(&s.url, &ctx, &app("audit"))?;
            match action.unwrap_or(AuditAction::Log) {
                AuditAction::Log => {
                    let r = engine::audit_log(db.as_mut())?;
                    p.audit_log(&r);
                    Ok(exit::OK)
                }
                AuditAction::Export => {
                    let r = engine::audit_log(db.as_mut())?;
                    p.audit_export(&r);
                    Ok(exit::OK)
                }
                AuditAction::Verify => {
                    let r = engine::audit_verify(db.as_mut())?;
                    p.audit_verify(&r);
                    Ok(if r.ok { exit::OK } else { exit::REFUSED })
                }
            }
        }
    }
}

/// Ask before a rollback on a terminal; never when stdin is not a terminal or with --yes.
fn confirm(
    cli: &Cli,
    db: &mut dyn Driver,
    ctx: &Ctx,
    opts: &engine::RollbackOptions,
) -> Result<bool, Box<RunFailure>> {
    use std::io::{BufRead, IsTerminal, Write};
    if cli.global.yes || !std::io::stdin().is_terminal() || cli.global.format == Format::Json {
        return Ok(true);
    }
    let mut dry = opts.clone();
    dry.dry_run = true;
    let plan = engine::rollback(db, ctx, &dry)?;
    if plan.planned.is_empty() {
        return Ok(true);
    }
    let versions: Vec<String> = plan
        .planned
        .iter()
        .map(|m| format!("{} {}", m.version, m.name))
        .collect();
    eprint!(
        "roll back {} migration(s) on {}:\n  {}\nproceed? [y/N] ",
        versions.len(),
        redact(&db.display_url()),
        versions.join("\n  ")
    );
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}
