//! Command-line arguments (SPEC "Commands").

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "backstop",
    version,
    about = "Schema migrations with a verified way back",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Database URL: sqlite://PATH, postgres://USER@HOST/DB (default: sqlite://backstop.db)
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Migrations directory (default: migrations)
    #[arg(long, global = true)]
    pub dir: Option<PathBuf>,
    /// Config file (default: backstop.toml if present)
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Environment section of the config file ([env.NAME])
    #[arg(long, global = true)]
    pub env: Option<String>,
    /// Who is running this, for history and the audit ledger (default: the OS user)
    #[arg(long, global = true, env = "BACKSTOP_ACTOR")]
    pub actor: Option<String>,
    /// Output format (sarif and github: lint only)
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Answer yes to prompts (prompts never appear when stdin is not a terminal)
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// Print only errors
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// Print more detail (statements, fingerprints)
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,
    /// How long to wait for the migration lock before giving up with exit 4 (e.g. 60s, 500ms)
    #[arg(long, global = true)]
    pub lock_wait: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    /// SARIF 2.1.0 (lint only), for GitHub code scanning
    Sarif,
    /// GitHub workflow annotations (lint only)
    Github,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create backstop.toml, migrations/ and backstop.sum
    Init,
    /// Create the next migration with up/down/verify templates
    New {
        name: String,
        /// Run outside a transaction (CREATE INDEX CONCURRENTLY, …)
        #[arg(long)]
        no_transaction: bool,
        /// One .sql file with -- backstop:up/down/verify sections
        #[arg(long)]
        single_file: bool,
    },
    /// Applied, pending, dirty, checksum mismatches and schema drift
    Status,
    /// What apply would do; changes nothing
    Plan {
        #[arg(long)]
        to: Option<i64>,
    },
    /// Apply pending migrations
    Apply {
        /// Apply up to and including this version
        #[arg(long)]
        to: Option<i64>,
        /// Release id recorded with each migration (default: generated)
        #[arg(long)]
        release: Option<String>,
        /// Show what would run; change nothing
        #[arg(long)]
        dry_run: bool,
        /// If a migration fails, roll back every migration this run applied
        #[arg(long)]
        atomic: bool,
        /// Apply although the schema drifted from the last recorded fingerprint (needs --reason)
        #[arg(long, requires = "reason")]
        allow_drift: bool,
        /// Apply despite error findings of this lint rule (repeatable; needs --reason)
        #[arg(long, value_name = "RULE", requires = "reason")]
        allow: Vec<String>,
        /// Why an override is acceptable (recorded in the audit ledger)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Undo applied migrations, newest first, with the down scripts stored at apply time
    Rollback {
        /// Undo everything applied after this version (0: everything)
        #[arg(long, conflicts_with_all = ["steps", "release"])]
        to: Option<i64>,
        /// Undo the newest N migrations (default 1)
        #[arg(long, conflicts_with = "release")]
        steps: Option<usize>,
        /// Undo every migration of this release
        #[arg(long)]
        release: Option<String>,
        /// Show what would run; change nothing
        #[arg(long)]
        dry_run: bool,
        /// Roll back irreversible migrations too (needs --reason)
        #[arg(long, requires = "reason")]
        force: bool,
        /// Roll back although the schema drifted (needs --reason)
        #[arg(long, requires = "reason")]
        allow_drift: bool,
        /// Why an override is acceptable (recorded in the audit ledger)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Re-run verify scripts; check checksums, drift and schema health
    Verify,
    /// Static risk analysis of migrations (default: the migrations directory)
    Lint {
        /// Migrations directories, migration folders or .sql files
        paths: Vec<std::path::PathBuf>,
        /// Which engine's rules to run (default: from the database URL; sqlite when none)
        #[arg(long, value_enum)]
        engine: Option<EngineArg>,
        /// `warnings`: treat warnings as errors (exit 1)
        #[arg(long, value_enum)]
        deny: Option<Deny>,
        /// Print a rule's documentation and exit
        #[arg(long, value_name = "RULE")]
        explain: Option<String>,
    },
    /// Print the canonical schema text and fingerprint
    Schema,
    /// Rewrite backstop.sum
    Sum,
    /// Record how a dirty migration was resolved by a person
    #[command(group = clap::ArgGroup::new("outcome").required(true).args(["applied", "rolled_back"]))]
    Resolve {
        /// The dirty migration's version
        #[arg(value_name = "VERSION")]
        migration: i64,
        /// Its change is complete in the database
        #[arg(long)]
        applied: bool,
        /// Its change is gone from the database
        #[arg(long)]
        rolled_back: bool,
        /// What was checked (recorded in the audit ledger)
        #[arg(long)]
        reason: String,
    },
    /// Read, check or export the audit ledger
    Audit {
        #[command(subcommand)]
        action: Option<AuditAction>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    Postgres,
    Sqlite,
    Mysql,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Deny {
    Warnings,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum AuditAction {
    /// List events (default)
    Log,
    /// Check the hash chain and head; name the first broken link
    Verify,
    /// Every event with its hashes, one JSON object per line (or one document with --format json)
    Export,
}

/// A parse error as clap renders it, on one line for the failure document: the message and
/// every detail clap puts on the lines under it (the arguments that are missing, the
/// possible values, a tip), without the usage and clap's pointer to `--help` (the caller
/// names the help of the command that was given: see [`help_command`]).
pub fn one_line(rendered: &str) -> String {
    let mut out = String::new();
    // After a line ending in `:`, the indented lines under it are a list: `--reason
    // <REASON>` and `<--applied|--rolled-back>` under "required arguments were not provided:".
    let mut list = false;
    for line in rendered.lines() {
        let indented = line.starts_with([' ', '\t']);
        let line = line.trim();
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        if line.is_empty() {
            list = false;
            continue;
        }
        let line = line.strip_prefix("error:").map_or(line, str::trim_start);
        let separator = if out.is_empty() {
            ""
        } else if out.ends_with(':') {
            list = indented;
            " "
        } else if list && indented {
            ", "
        } else if line.starts_with('[') {
            " "
        } else {
            list = false;
            "; "
        };
        out.push_str(separator);
        out.push_str(line);
    }
    if out.is_empty() {
        "invalid arguments".into()
    } else {
        out
    }
}

/// `backstop [SUBCOMMAND…] --help` for the deepest subcommand named in `args` (the program
/// name first), read as far as the arguments allow: the help that explains the arguments
/// a parse error is about.
pub fn help_command(args: &[std::ffi::OsString]) -> String {
    use clap::CommandFactory;
    let mut words = vec!["backstop".to_string()];
    if let Ok(mut m) = Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(args)
    {
        while let Some((name, sub)) = m.remove_subcommand() {
            // `backstop help frob` is about `backstop --help`.
            if name == "help" {
                break;
            }
            words.push(name);
            m = sub;
        }
    }
    words.push("--help".into());
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn the_argument_definitions_are_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }

    /// What the failure document says for these arguments: clap's error on one line, and
    /// the help to see.
    fn said(args: &[&str]) -> (String, String) {
        let args: Vec<std::ffi::OsString> = std::iter::once("backstop")
            .chain(args.iter().copied())
            .map(Into::into)
            .collect();
        let e = Cli::try_parse_from(&args).expect_err("a parse error");
        (one_line(&e.render().to_string()), help_command(&args))
    }

    #[test]
    fn parse_errors_keep_their_details_on_one_line() {
        // Regression: only clap's first line was kept, so the missing arguments, listed on
        // the lines under it, were lost.
        for (args, message, help) in [
            (
                &["rollback", "--force"][..],
                "the following required arguments were not provided: --reason <REASON>",
                "backstop rollback --help",
            ),
            (
                &["--format", "json", "apply", "--allow-drift"],
                "the following required arguments were not provided: --reason <REASON>",
                "backstop apply --help",
            ),
            (
                &["resolve", "1"],
                "the following required arguments were not provided: --reason <REASON>, <--applied|--rolled-back>",
                "backstop resolve --help",
            ),
            (
                &["new"],
                "the following required arguments were not provided: <NAME>",
                "backstop new --help",
            ),
            (
                &["lint", "--engine", "oracle"],
                "invalid value 'oracle' for '--engine <ENGINE>' [possible values: postgres, sqlite, mysql]",
                "backstop lint --help",
            ),
            (
                &["new", "-x"],
                "unexpected argument '-x' found; tip: to pass '-x' as a value, use '-- -x'",
                "backstop new --help",
            ),
            (
                &["rollback", "--to", "1", "--steps", "2"],
                "the argument '--to <TO>' cannot be used with '--steps <STEPS>'",
                "backstop rollback --help",
            ),
            (
                &["rollback", "--steps", "x"],
                "invalid value 'x' for '--steps <STEPS>': invalid digit found in string",
                "backstop rollback --help",
            ),
            (
                &["audit", "verify", "--bogus"],
                "unexpected argument '--bogus' found",
                "backstop audit verify --help",
            ),
            (
                &["audit", "frob"],
                "unrecognized subcommand 'frob'",
                "backstop audit --help",
            ),
            (
                &["frob"],
                "unrecognized subcommand 'frob'",
                "backstop --help",
            ),
            (
                &["--format", "json"],
                "'backstop' requires a subcommand but one was not provided [subcommands: init, new, status, plan, apply, rollback, verify, lint, schema, sum, resolve, audit, help]",
                "backstop --help",
            ),
            (
                &["help", "frob"],
                "unrecognized subcommand 'frob'",
                "backstop --help",
            ),
        ] {
            assert_eq!(said(args), (message.to_string(), help.to_string()), "{args:?}");
        }
    }

    #[test]
    fn one_line_takes_any_text() {
        assert_eq!(one_line(""), "invalid arguments");
        assert_eq!(one_line("error: x\n\nUsage: y"), "x");
        assert_eq!(one_line("error: a:\n  b\n  c\nd"), "a: b, c; d");
    }
}
