//! Printing reports: text for people, or exactly one JSON document on stdout.
//! Every string that could carry a URL passes through `redact` on the way out.

use crate::cli::Format;
use backstop_core::engine::RunFailure;
use backstop_core::error::EngineError;
use backstop_core::migration::Migration;
use backstop_core::redact::redact;
use backstop_core::report::*;
use serde::Serialize;

pub struct Printer {
    format: Format,
    quiet: bool,
    verbose: bool,
}

/// Print one line to stdout. Write errors (a closed pipe, as in `backstop plan | head`) are
/// ignored: the command's work and exit code do not depend on whether anyone still reads.
fn out(s: &str) {
    out_as_is(&redact(s));
}

/// [`out`] for text that is already masked and must print exactly as it is.
fn out_as_is(s: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{s}");
}

impl Printer {
    pub fn new(format: Format, quiet: bool, verbose: bool) -> Self {
        Printer {
            format,
            quiet,
            verbose,
        }
    }

    fn json<T: Serialize>(&self, v: &T) -> bool {
        self.json_masked(v, true)
    }

    /// [`Self::json`], and in JSON mode the report's warnings on stderr as well (they are in
    /// the document too): warnings go to stderr whatever the format.
    fn json_warned<T: Serialize>(&self, v: &T, warnings: &[String]) -> bool {
        let printed = self.json(v);
        if printed {
            self.warnings(warnings);
        }
        printed
    }

    /// With `mask` false, `v` is already masked and is printed exactly as it is.
    fn json_masked<T: Serialize>(&self, v: &T, mask: bool) -> bool {
        if self.format == Format::Json {
            // Redact the values, not the serialised text: masking inside an escaped string
            // could break the JSON.
            let text = match serde_json::to_value(v) {
                Ok(mut value) => {
                    if mask {
                        redact_value(&mut value);
                    }
                    serde_json::to_string_pretty(&value).unwrap_or_default()
                }
                Err(e) => format!("{{\"error\": \"cannot serialise report: {e}\"}}"),
            };
            use std::io::Write;
            let _ = writeln!(std::io::stdout().lock(), "{text}");
            return true;
        }
        false
    }

    /// A report whose text form is a few lines.
    pub fn lines<T: Serialize>(&self, v: &T, lines: &[String]) {
        if self.json(v) || self.quiet {
            return;
        }
        for l in lines {
            out(l);
        }
    }

    pub fn status(&self, r: &StatusReport) {
        if self.json_warned(r, &r.warnings) {
            return;
        }
        if self.quiet {
            return;
        }
        out(&format!("database: {}", r.database));
        if !r.history_exists {
            out("history: none yet (nothing applied by backstop)");
        }
        // One write for the whole list: a line at a time is a system call per migration.
        let mut list = String::new();
        for m in &r.migrations {
            let mut flags = Vec::new();
            if m.checksum_mismatch {
                flags.push("CHECKSUM MISMATCH: edited after apply".to_string());
            }
            if m.missing_file {
                flags.push("no file on disk".to_string());
            }
            if let (true, Some(n)) = (m.state == "dirty" || m.state == "failed", &m.note) {
                flags.push(n.clone());
            }
            let when = m
                .applied_at
                .as_deref()
                .map(|a| format!("  {a}"))
                .unwrap_or_default();
            let when = match (&m.release_id, m.state.as_str()) {
                (Some(r), "applied" | "dirty" | "failed") if !r.is_empty() => {
                    format!("{when}  release {r}")
                }
                _ => when,
            };
            let flag = if flags.is_empty() {
                String::new()
            } else {
                format!("  [{}]", flags.join("; "))
            };
            list.push_str(&format!(
                "  {:<12} {} {}{when}{flag}\n",
                m.state, m.version, m.name
            ));
        }
        if !list.is_empty() {
            out(list.trim_end_matches('\n'));
        }
        out(&format!(
            "{} applied, {} pending{}",
            r.applied,
            r.pending,
            if r.dirty.is_empty() {
                String::new()
            } else {
                format!(", {} dirty/failed: {:?}", r.dirty.len(), r.dirty)
            }
        ));
        if let Some(run) = &r.run_in_progress {
            out(&match &run.migration {
                Some(m) => format!(
                    "run in progress: migration {} ({}) is being {} right now, outside a transaction, by the backstop run holding the migration lock ({}); wait for it to finish, then run `backstop status` again",
                    m.version,
                    m.name,
                    if m.step == "rollback" { "rolled back" } else { "applied" },
                    run.holder
                ),
                None => format!(
                    "run in progress: a backstop run holds the migration lock ({}); what this lists may change as it goes",
                    run.holder
                ),
            });
        }
        if let Some(fp) = &r.fingerprint {
            out(&format!("schema fingerprint: {fp}"));
        }
        match &r.drift {
            Some(d) => {
                // Shouted only when it is drift; a dirty migration's own work is news the
                // dirty list above already gave.
                let label = if d.dirty_migration.is_some() {
                    "schema"
                } else {
                    "DRIFT"
                };
                out(&format!("{label}: {}", d.explain()));
                if let Some(diff) = &d.diff {
                    out(diff.trim_end());
                }
            }
            // Not compared: the warning says why.
            None if r.drift_unchecked => {}
            None if r.history_exists => out("no drift since the last recorded fingerprint"),
            None => {}
        }
        if let Some(s) = &r.sum {
            if !s.is_clean() {
                out(&format!(
                    "backstop.sum disagrees: changed {:?}, not in sum {:?}, missing {:?}{}",
                    s.changed,
                    s.added,
                    s.removed,
                    if s.total_mismatch {
                        ", total line wrong"
                    } else {
                        ""
                    }
                ));
            }
        }
        self.warnings(&r.warnings);
    }

    pub fn warnings(&self, w: &[String]) {
        for x in w {
            eprintln!("warning: {}", redact(x));
        }
    }

    fn statements(&self, label: &str, s: &[PlannedStatement]) {
        if s.is_empty() {
            return;
        }
        out(&format!("    {label}:"));
        for st in s {
            let first = st.sql.lines().next().unwrap_or("");
            let more = if st.sql.lines().nth(1).is_some() {
                " …"
            } else {
                ""
            };
            if self.verbose {
                out(&format!(
                    "      {}. (line {})\n{}",
                    st.index,
                    st.line,
                    indent(&st.sql, 9)
                ));
            } else {
                out(&format!(
                    "      {}. line {}: {first}{more}",
                    st.index, st.line
                ));
            }
            if let Some(i) = &st.impact {
                if let Some(lock) = &i.lock {
                    // A statement on no table (SQLite's CREATE VIEW, CREATE TRIGGER: the
                    // database's write lock) names none.
                    let tables: Vec<&String> = i.tables.iter().filter(|t| !t.is_empty()).collect();
                    let per_table = i.table_locks.len() == i.tables.len()
                        && i.table_locks.iter().any(|l| l != lock);
                    let mut what = vec![if tables.is_empty() {
                        format!("{lock} lock")
                    } else if per_table {
                        // e.g. a foreign key: the referenced table is locked less strongly.
                        i.tables
                            .iter()
                            .zip(&i.table_locks)
                            .map(|(t, l)| format!("{l} lock on {t}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    } else {
                        format!(
                            "{lock} lock on {}",
                            tables
                                .iter()
                                .map(|t| t.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }];
                    if i.blocks != "nothing" {
                        what.push(format!("blocks {}", i.blocks));
                    }
                    if i.rewrites {
                        what.push("REWRITES the table".into());
                    } else if i.scans && tables.len() > 1 {
                        what.push(format!("scans {}", tables[0]));
                    } else if i.scans {
                        what.push("scans the table".into());
                    }
                    if i.destroys_data {
                        what.push("DESTROYS DATA".into());
                    }
                    out(&format!("         ↳ {}", what.join("; ")));
                }
            }
        }
    }

    pub fn plan(&self, r: &PlanReport) {
        if self.json_warned(r, &r.warnings) {
            return;
        }
        if self.quiet {
            return;
        }
        self.plan_text(r);
        // What --to leaves out: a plan never reads "nothing to apply" as "up to date".
        if !r.remaining.is_empty() {
            let list: Vec<String> = r.remaining.iter().map(i64::to_string).collect();
            out(&format!(
                "still pending after --to: {} (plan without --to to include them)",
                list.join(", ")
            ));
        }
    }

    fn plan_text(&self, r: &PlanReport) {
        out(&format!("database: {}", r.database));
        if r.pending.is_empty() {
            out("nothing to apply");
        }
        for m in &r.pending {
            let mut opts = vec![if m.transaction {
                "in one transaction".to_string()
            } else {
                "OUTSIDE a transaction (progress recorded per statement)".to_string()
            }];
            // 0 is how a migration turns a limit off.
            let limit = |l: u64| match l {
                0 => "none".to_string(),
                l => format!("{l}ms"),
            };
            if let Some(l) = m.lock_timeout_ms {
                opts.push(format!("lock_timeout {}", limit(l)));
            }
            if let Some(l) = m.statement_timeout_ms {
                opts.push(format!("statement_timeout {}", limit(l)));
            }
            out(&format!(
                "  {} {}  ({})",
                m.version,
                m.name,
                opts.join(", ")
            ));
            self.statements("up", &m.statements);
            self.statements("verify", &m.verify);
            match &m.irreversible {
                Some(reason) => out(&format!("    rollback: IRREVERSIBLE ({reason})")),
                None => self.statements("rollback path", &m.rollback),
            }
            if !m.snapshot.is_empty() {
                out("    destroys data (back it up first: this version of backstop takes no snapshots):");
                for x in &m.snapshot {
                    out(&format!("      {x}"));
                }
            }
            for f in &m.findings {
                let sup = f
                    .suppressed
                    .as_ref()
                    .map(|r| format!(" (suppressed: {r})"))
                    .unwrap_or_default();
                out(&format!(
                    "    {} {} at {}: {}{sup}",
                    f.severity, f.rule, f.location, f.message
                ));
            }
        }
        self.warnings(&r.warnings);
    }

    /// `to` is the `--to` target; `names` the migrations on disk, to name what remains.
    pub fn apply(&self, r: &ApplyReport, to: Option<i64>, names: &[Migration]) {
        if self.json_warned(r, &r.warnings) {
            return;
        }
        // What a run with --to leaves for later; never "up to date" while something is.
        let later = || {
            let list: Vec<String> = r
                .remaining
                .iter()
                .map(|v| match names.iter().find(|m| m.version == *v) {
                    Some(m) => format!("{v} {}", m.name),
                    None => v.to_string(),
                })
                .collect();
            match to {
                Some(t) => format!(
                    "still pending after --to {t}: {} (apply without --to to include them)",
                    list.join(", ")
                ),
                None => format!("still pending: {}", list.join(", ")),
            }
        };
        if let Some(plan) = &r.plan {
            if !self.quiet {
                out("dry run: nothing will be changed");
                self.plan_text(plan);
                if let (true, Some(v)) = (plan.pending.is_empty(), to) {
                    out(&format!("migration {v} is already applied"));
                }
                if !r.remaining.is_empty() {
                    out(&later());
                }
            }
            return;
        }
        if !self.quiet {
            for a in &r.applied {
                let retry = if a.retries > 0 {
                    format!(", {} retries", a.retries)
                } else {
                    String::new()
                };
                out(&format!(
                    "applied  {} {}  ({} ms, {} statements{retry})",
                    a.version, a.name, a.duration_ms, a.statements
                ));
                if self.verbose {
                    out(&format!(
                        "         fingerprint {} → {}",
                        a.fingerprint_before, a.fingerprint_after
                    ));
                }
            }
            // With --to V and nothing applied, V is applied already (a pending V would have
            // run): say so whether or not later migrations remain.
            match (r.applied.is_empty(), r.remaining.is_empty(), to) {
                (true, true, Some(v)) => out(&format!(
                    "nothing to apply up to {v}: migration {v} is already applied, and the database is up to date"
                )),
                (true, true, None) => out("nothing to apply: the database is up to date"),
                (true, false, Some(v)) => {
                    out(&format!(
                        "nothing to apply up to {v}: migration {v} is already applied"
                    ));
                }
                _ => {}
            }
            if !r.applied.is_empty() {
                out(&format!(
                    "{} migration(s) applied as release {} by {}",
                    r.applied.len(),
                    r.release_id,
                    r.actor
                ));
            }
            if !r.remaining.is_empty() {
                out(&later());
            }
            out(&format!("schema fingerprint: {}", r.fingerprint));
        }
        self.warnings(&r.warnings);
    }

    pub fn rollback(&self, r: &RollbackReport) {
        if self.json_warned(r, &r.warnings) {
            return;
        }
        if !self.quiet {
            if r.dry_run {
                out("dry run: nothing will be changed");
                if r.planned.is_empty() {
                    out("nothing to roll back");
                }
                for m in &r.planned {
                    out(&format!(
                        "  undo {} {}{}",
                        m.version,
                        m.name,
                        m.irreversible
                            .as_ref()
                            .map(|x| format!("  (IRREVERSIBLE: {x})"))
                            .unwrap_or_default()
                    ));
                    self.statements("stored down script", &m.rollback);
                }
            } else {
                for m in &r.rolled_back {
                    let proof = if m.by_objects {
                        "its objects as before it, the rest as before the step; schema fingerprint now"
                    } else {
                        "schema fingerprint restored to"
                    };
                    out(&format!(
                        "rolled back {} {}  ({} ms; {proof} {}{})",
                        m.version,
                        m.name,
                        m.duration_ms,
                        m.fingerprint_restored,
                        if m.forced { ", forced" } else { "" }
                    ));
                }
                if r.rolled_back.is_empty() {
                    out("nothing to roll back");
                } else {
                    // Under accepted drift a step is proven by its migration's objects, not
                    // by the fingerprint recorded before it (which predates the drift).
                    let by_objects = r.rolled_back.iter().filter(|m| m.by_objects).count();
                    let how = match by_objects {
                        0 => String::new(),
                        n => format!(" ({n} of them applied before drift that was accepted: proven by their migration's objects as before it, the rest as accepted)"),
                    };
                    out(&format!(
                        "{} migration(s) rolled back, each proven against the schema recorded before it{how}",
                        r.rolled_back.len()
                    ));
                    out(&format!("schema fingerprint: {}", r.fingerprint));
                }
            }
        }
        self.warnings(&r.warnings);
    }

    pub fn verify(&self, r: &VerifyReport) {
        if self.json(r) {
            return;
        }
        for c in &r.checks {
            if c.ok && self.quiet {
                continue;
            }
            out(&format!(
                "  {} {}: {}",
                if c.ok { "ok  " } else { "FAIL" },
                c.name,
                c.detail
            ));
        }
        if !self.quiet {
            out(match (r.ok, r.history_exists) {
                (true, true) => "all checks passed",
                (true, false) => "no backstop history here (nothing applied by backstop): nothing to verify; the files and the schema's health passed",
                (false, _) => "some checks failed",
            });
        }
    }

    pub fn lint(&self, r: &backstop_lint::LintReport) {
        let text = match self.format {
            Format::Json => backstop_lint::render_json(r),
            Format::Sarif => backstop_lint::render_sarif(r),
            Format::Github => backstop_lint::render_github(r),
            Format::Text => {
                if self.quiet && !r.has_errors() {
                    return;
                }
                backstop_lint::render_text(r)
            }
        };
        if matches!(self.format, Format::Json | Format::Sarif) {
            // JSON documents are redacted value by value, so masking can't break them.
            if let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&text) {
                redact_value(&mut value);
                use std::io::Write;
                let _ = writeln!(
                    std::io::stdout().lock(),
                    "{}",
                    serde_json::to_string_pretty(&value).unwrap_or_default()
                );
                return;
            }
        }
        out(text.trim_end());
    }

    pub fn schema(&self, r: &SchemaReport) {
        if self.json(r) {
            return;
        }
        out(r.text.trim_end());
        if !self.quiet {
            out(&format!(
                "-- {} objects, fingerprint {}",
                r.objects, r.fingerprint
            ));
        }
    }

    pub fn audit_log(&self, r: &AuditReport) {
        let r = &shown_ledger(r);
        if self.json_masked(r, false) || self.quiet {
            return;
        }
        for e in &r.events {
            let v = e.version.map(|v| format!(" {v}")).unwrap_or_default();
            let why = e
                .reason
                .as_deref()
                .map(|x| format!("  reason: {x}"))
                .unwrap_or_default();
            out_as_is(&format!(
                "{:>5} {} {:<16} {}{v}{why}",
                e.seq, e.at, e.kind, e.actor
            ));
            if self.verbose {
                out_as_is(&format!("      {}  {}", e.hash, e.detail));
            }
        }
        out_as_is(&format!(
            "{} events; head {} {}",
            r.events.len(),
            r.head_seq,
            r.head_hash
        ));
    }

    pub fn audit_export(&self, r: &AuditReport) {
        let r = &shown_ledger(r);
        if self.json_masked(r, false) {
            return;
        }
        for e in &r.events {
            out_as_is(&serde_json::to_string(e).unwrap_or_default());
        }
    }

    pub fn audit_verify(&self, r: &AuditVerifyReport) {
        if self.json(r) {
            return;
        }
        for d in &r.disagreements {
            out(&format!("HISTORY DISAGREES WITH THE LEDGER: {d}"));
        }
        match &r.broken {
            None if !r.disagreements.is_empty() => {}
            None => {
                if !self.quiet {
                    out(&format!(
                        "ledger intact: {} events, every link and the head check out",
                        r.events
                    ));
                }
            }
            Some(b) => out(&format!("LEDGER BROKEN at event {}: {}", b.seq, b.problem)),
        }
    }

    /// Print a failure (stderr; plus the JSON document on stdout with --format json) and
    /// return its exit code.
    pub fn failure(&self, f: &RunFailure) -> i32 {
        let e = &f.error;
        let code = e.exit_code();
        if self.format == Format::Json {
            let r = FailureReport {
                error: redact(&e.to_string()),
                kind: e.kind().to_string(),
                exit_code: code,
                failure: e.failure().cloned(),
                needs_person: match e {
                    EngineError::NeedsPerson { needs, .. } => Some((**needs).clone()),
                    _ => None,
                },
                applied: f.applied.clone(),
                undone: f.undone.clone(),
                rolled_back: f.rolled_back.clone(),
                diff: match e {
                    EngineError::NeedsPerson { diff, .. } => diff.clone(),
                    _ => None,
                },
                warnings: f.warnings.iter().map(|w| redact(w)).collect(),
            };
            self.json(&r);
        }
        for w in &f.warnings {
            eprintln!("warning: {}", redact(w));
        }
        // What the run did before it stopped, as a run that finished says it (stdout in
        // text mode: the JSON document carries it otherwise), and what of it stays.
        if self.format != Format::Json && !self.quiet {
            for a in &f.applied {
                println!(
                    "applied  {} {}  ({} ms, {} statements)",
                    a.version, a.name, a.duration_ms, a.statements
                );
            }
            for v in &f.undone {
                println!("undone   {v}  (--atomic, after the failure)");
            }
            let kept: Vec<i64> = f
                .applied
                .iter()
                .map(|a| a.version)
                .filter(|v| !f.undone.contains(v))
                .collect();
            if let (false, Some(release)) = (kept.is_empty(), &f.release_id) {
                // A migration left for a person comes first: the release can't be rolled
                // back around it.
                // An --atomic undo that stopped says itself what to do with them (`next:`).
                // Resolving comes first only where a migration was left dirty; otherwise
                // the error's own advice (an unfinished undo, an unconfirmed commit) does.
                let how = match e {
                    EngineError::NeedsPerson { needs, .. }
                        if needs.situation != Situation::AtomicUndoFailed
                            && needs.history == HistoryState::Dirty =>
                    {
                        format!("once the failed migration is resolved, `backstop rollback --release {release}` undoes them")
                    }
                    EngineError::NeedsPerson { .. } => "see `next:` below".to_string(),
                    _ => format!("`backstop rollback --release {release}` undoes them"),
                };
                println!(
                    "{} migration(s) of this run stay applied, as release {release} ({kept:?}): {how}",
                    kept.len()
                );
            }
            for r in &f.rolled_back {
                println!("rolled back {} {}", r.version, r.name);
            }
        }
        eprintln!("error: {}", redact(&e.to_string()));
        if let EngineError::NeedsPerson {
            diff: Some(d),
            needs,
            ..
        } = e
        {
            // After an unproven rollback in a transaction the down script's work was rolled
            // back: the + lines are what it would have left, not the schema now.
            // So after an --atomic undo step that could not be proven in a transaction.
            let plus = if needs.situation == Situation::RollbackUnproven
                || (needs.situation == Situation::AtomicUndoFailed && needs.transaction)
            {
                "after the down script"
            } else {
                "now"
            };
            let minus = if needs.situation == Situation::RunUnproven {
                "as the rollback steps left it"
            } else {
                "as before the migration"
            };
            eprintln!(
                "schema diff (- {minus}, + {plus}):\n{}",
                redact(d.trim_end())
            );
        }
        code
    }
}

/// The ledger as it is shown. Events are masked before they are hashed and stored, so they
/// print exactly as stored and an export verifies outside the database; masking the
/// serialised text again could change it. Only an event stored before its password was
/// known to backstop can still hold one: that event is masked here, value by value, and
/// then no longer matches its hash — showing the password would be worse.
fn shown_ledger(r: &AuditReport) -> AuditReport {
    use backstop_core::redact::redact_json;
    let mut r = r.clone();
    r.database = redact(&r.database);
    for e in &mut r.events {
        e.actor = redact(&e.actor);
        e.reason = e.reason.as_deref().map(redact);
        e.release_id = e.release_id.as_deref().map(redact);
        match serde_json::from_str::<serde_json::Value>(&e.detail) {
            Ok(stored) => {
                let mut masked = stored.clone();
                redact_json(&mut masked);
                if masked != stored {
                    e.detail = backstop_core::ledger::canonical(&masked);
                }
            }
            Err(_) => e.detail = redact(&e.detail),
        }
    }
    r
}

fn redact_value(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => *s = redact(s),
        serde_json::Value::Array(a) => a.iter_mut().for_each(redact_value),
        serde_json::Value::Object(o) => o.values_mut().for_each(redact_value),
        _ => {}
    }
}

fn indent(s: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    s.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
