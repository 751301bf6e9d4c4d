//! The user schema as backstop's canonical [`SchemaState`], read from the PostgreSQL
//! catalog — in full, or incrementally after a migration.
//!
//! # Canonical form
//! One object per root: `table s.t`, `view s.v`, `materialized view s.m`, `sequence s.q`,
//! `foreign table s.f`, `function s.f(argtypes)`, `procedure …`, `aggregate …`,
//! `type s.t`, `extension e`, `schema s`. A table's lines are its columns (name, type,
//! collation, NOT NULL, identity, default/generation expression, and when not the default
//! storage, compression, statistics target, options, FDW options), constraints (by name,
//! with NOT VALID), indexes (with INVALID, REPLICA IDENTITY, column statistics targets),
//! triggers, rules (with their enabled state), policies, extended statistics, comments,
//! `DEPENDS ON EXTENSION` and table-level properties (the TOAST table's storage parameters
//! among them). Properties that have a default print only when they differ from it, so a
//! schema without them keeps the text it always had. Lines are sorted, so column order and
//! creation order never show, and so are lists whose order means nothing (an index's
//! storage parameters, a trigger's `UPDATE OF` columns, a list partition's values); OIDs
//! never appear. Multi-line definitions (views, functions) are kept on one line with `\n`
//! escaped, so sorting can't scramble them. Objects created by extensions are left out, and
//! so are backstop's own tables; anything else in its schema prints.
//!
//! # Incremental reads
//! The engine reads the schema after every migration, inside the migration's transaction.
//! A full read costs ~10 ms on a few hundred tables, so after the first read only the roots
//! changed since the previous read on this connection are re-read:
//! - relations: any DDL that touches a relation's catalog rows takes at least
//!   ShareUpdateExclusiveLock on it and holds it to the end of the transaction, so our own
//!   `pg_locks` name every relation this transaction may have changed (an index stands for
//!   its table). In a new transaction all of them are re-read; when several migrations
//!   share one transaction, their catalog rows' `xmin`/`cmin` tell which ones changed since
//!   the previous read;
//!   A sequence a re-read table owns is re-read with it when the owning column's row
//!   changed since the last read: whether a sequence prints its owner depends on that
//!   column's default, which changes without locking the sequence;
//! - routines, types, enum labels, schemas, extensions, domain constraints, and comments
//!   on routines, types and schemas (COMMENT ON locks no relation for those): scanned only
//!   when this transaction's write counters for that catalog (`pg_stat_get_xact_tuples_*`,
//!   captured in the same round trip as `BEGIN`) moved. A deleted comment leaves no row:
//!   every routine, type and schema that printed one is re-read;
//! - deletions leave no rows: they show as locked relations that are gone, as moved delete
//!   counters, and as tracked OIDs that no longer exist;
//! - renames change the text of dependants (a view printing `t.col`, an FK printing
//!   `REFERENCES t(id)`), which are then found through `pg_depend` and re-read too.
//!
//! - a transaction that ran only data statements and wrote none of the catalogs the text is
//!   read from (their write counters, summed, are where `BEGIN` left them — triggers and
//!   functions that run DDL write them too) keeps the previous state without reading;
//!
//! - in a new transaction, a re-read relation's column, constraint and index lines whose
//!   catalog rows are all older than the previous read (`xmin` before its snapshot's
//!   `xmin`; an index's line prints from its pg_index, pg_class and pg_attribute rows, an
//!   exclusion constraint's from its index's pg_class row too) are not printed again: the
//!   statement answers with a marker and the line the previous read kept is used.
//!   Printing (`pg_get_indexdef`, `format_type`, …) is most of a read's cost on a wide
//!   table that a migration merely locks (a foreign key to it, a new column). A line can
//!   also print names kept elsewhere: a renamed root, or an index whose line changed (a
//!   regclass constant names it), re-reads its dependants in full, and the relation itself
//!   is printed in full when its own name or a column's changed;
//! - a read after a transaction (or the part of one since the last read) updated a
//!   catalog of names `pg_depend` can't trace to what prints them (collations, operator
//!   classes and families, operators, text search objects, access methods, schemas,
//!   extensions, types, routines, enum labels — an enum label inside a range constant
//!   depends only on the range type — roles, extended statistics objects, which ALTER
//!   STATISTICS changes without locking their table), created or dropped an operator class (a
//!   type's default one is not printed), or changed a composite type (a field selection
//!   depends on the type's column) is a full one. So is the read after any statement that
//!   ran outside a transaction or after the last read of its transaction (a function
//!   called by a data statement may change the catalog), in a transaction the migration
//!   began itself, after a statement that names `track_counts`, and whenever
//!   statistics are off (the counters then stand still and rule nothing out). A
//!   function that switches statistics off and on again without naming the setting
//!   (superusers only) hides what it did meanwhile; the end-of-run full read reports it;
//!
//! The common case — a migration that changes tables — is one round trip: one statement
//! finds the locked relations and returns their canonical text. Statements are kept small
//! and run only when needed, because starting up a large plan costs more than a round trip.
//!
//! Whenever the previous state is not the one this connection produced last, we are not in
//! a transaction, or the bookkeeping can't vouch for what happened in between (a rollback,
//! DDL committed without a read, a schema rename), the read is a full one. What the
//! incremental path cannot see — and a full read would — is DDL committed by *other*
//! sessions while a migration runs, `ALTER EXTENSION … ADD/DROP` membership changes and
//! `DEPENDS ON EXTENSION` made where the statement's text doesn't name `EXTENSION` (the
//! driver reads in full after one that does: by a function, say), and
//! DDL in a savepoint that was open across the previous read. A relation such a change
//! made stale keeps the stale lines when it is re-read later, as long as their rows are
//! older than the last read. Backstop holds the migration lock, and the full read at the
//! end of every run reports such drift.

mod sql;

use crate::error;
use crate::pg::types::ToSql;
use crate::pg::{Client, Row, Statement};
use backstop_core::driver::DbError;
use backstop_core::schema::SchemaState;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

pub(crate) use sql::{stamp, DROPPABLE_INVALID, HEALTH};

/// The kind of a root object; the canonical query tags rows with the same letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    Rel,
    Proc,
    Type,
    Ext,
    Ns,
}

impl Kind {
    fn parse(tag: &str) -> Option<Kind> {
        Some(match tag {
            "r" => Kind::Rel,
            "f" => Kind::Proc,
            "t" => Kind::Type,
            "e" => Kind::Ext,
            "n" => Kind::Ns,
            _ => return None,
        })
    }
}

type Root = (Kind, u32);

/// A sub-object whose disappearance must be traced back to its root: an index (`i`, by
/// pg_class OID) or a domain constraint (`k`).
type Sub = (u8, u32);

/// `r:16384` → `(Rel, 16384)`.
fn parse_root(s: &str) -> Option<Root> {
    let (k, o) = s.split_once(':')?;
    Some((Kind::parse(k)?, o.parse().ok()?))
}

/// One root as read: its key and sorted, escaped lines.
struct Object {
    key: String,
    text: String,
}

/// A relation's columns by number: `(attnum, quoted name)`, sorted by number.
type Columns = Vec<(i32, String)>;

/// A relation's column, constraint and index lines by identity (attnum, OID), as last
/// printed: what a later read's reuse markers stand for. Columns keep their name too.
#[derive(Default)]
struct RelLines {
    cols: HashMap<i32, (String, String)>,
    cons: HashMap<u32, String>,
    idx: HashMap<u32, String>,
}

#[derive(Default)]
struct ReadResult {
    objects: HashMap<Root, Object>,
    subs: HashMap<Root, Vec<Sub>>,
    lines: HashMap<Root, RelLines>,
    /// Relations with reused lines.
    reused: BTreeSet<Root>,
    /// Relations with a marker we hold no line for: to be read again in full.
    unresolved: BTreeSet<Root>,
    reused_lines: usize,
}

/// What the last read saw, to tell what changed since.
struct Tracking {
    /// The state this connection produced last; incremental reads start from it.
    state: SchemaState,
    keys: HashMap<Root, String>,
    subs: HashMap<Sub, Root>,
    root_subs: HashMap<Root, Vec<Sub>>,
    /// Each relation's lines by identity, for reuse by the next read, and its columns'
    /// names, to tell a renamed column from a dropped one.
    lines: HashMap<Root, RelLines>,
    /// The read's snapshot xmin (low 32 bits): rows older than it were printed by the
    /// read, or before it and unchanged since.
    hx: Option<u32>,
    /// The gate of [`sql::counters_select`] at the read: a later read in the same
    /// transaction compares with it.
    gate: Option<i64>,
    /// The driver's transaction generation at the read.
    tx_gen: u64,
    /// Largest command id among our own transaction's catalog rows at the read, when known.
    max_cmin: Option<i64>,
    /// Snapshot of the read: xmax and in-progress xids, low 32 bits.
    xmax: u32,
    xip: Vec<u32>,
    /// Write and delete counters of the counted catalogs at the read.
    ch: Vec<i64>,
    del: Vec<i64>,
}

#[derive(Default)]
struct Stmts {
    head: Option<Statement>,
    inc_new_tx: Option<Statement>,
    inc_same_tx: Option<Statement>,
    other_rows: Option<Statement>,
    part_rel: Option<Statement>,
    part_other: Option<Statement>,
    deps: Option<Statement>,
    total: Option<Statement>,
}

/// How a read went, for tests and measurements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Whether the last read was incremental.
    pub incremental: bool,
    /// Roots re-read by the last incremental read.
    pub reread: usize,
    /// Round trips the last read took.
    pub round_trips: usize,
    /// Lines of re-read relations taken from the previous read instead of printed again.
    pub reused_lines: usize,
}

/// The parameters of [`sql::incremental`], owned: `$1`–`$5`, and in a new transaction
/// `$6` (the last read's snapshot xmin) and `$7` (the reuse gate at the transaction's
/// start). Baselines not known yet are NULL: the statement then takes them from what the
/// counters after `BEGIN` left in a transaction-local setting.
pub struct IncParams {
    same_tx: bool,
    m: i64,
    h: String,
    xip: Vec<String>,
    base_ch: Option<Vec<i64>>,
    base_del: Option<Vec<i64>>,
    hx: Option<String>,
    gate: Option<i64>,
}

impl IncParams {
    fn new(c: &Catalog, t: &Tracking, tx_gen: u64) -> IncParams {
        let same_tx = t.tx_gen == tx_gen;
        // Counter baselines: the last read in this transaction, or the transaction's start.
        let start = c.tx_start.as_ref().filter(|s| s.0 == tx_gen);
        let (base_ch, base_del) = if same_tx {
            (Some(t.ch.clone()), Some(t.del.clone()))
        } else {
            (start.map(|s| s.1.clone()), start.map(|s| s.2.clone()))
        };
        IncParams {
            same_tx,
            m: if same_tx {
                t.max_cmin.unwrap_or(-1)
            } else {
                -1
            },
            h: t.xmax.to_string(),
            xip: t.xip.iter().map(u32::to_string).collect(),
            base_ch,
            base_del,
            hx: t.hx.map(|x| x.to_string()),
            gate: c.tx_start_gate.filter(|g| g.0 == tx_gen).map(|g| g.1),
        }
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        let mut v: Vec<&(dyn ToSql + Sync)> =
            vec![&self.m, &self.h, &self.xip, &self.base_ch, &self.base_del];
        if !self.same_tx {
            v.push(&self.hx);
            v.push(&self.gate);
        }
        v
    }
}

/// A schema read sent together with a migration's last statement
/// ([`Catalog::follow_request`]).
pub enum Follow {
    /// The transaction ran data statements only: did it write a catalog?
    Cheap(Statement),
    Incremental(Statement, IncParams),
}

impl Follow {
    pub fn statement(&self) -> &Statement {
        match self {
            Follow::Cheap(s) | Follow::Incremental(s, _) => s,
        }
    }

    pub fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        match self {
            Follow::Cheap(_) => Vec::new(),
            Follow::Incremental(_, p) => p.refs(),
        }
    }
}

/// The schema reader of one connection.
#[derive(Default)]
pub struct Catalog {
    stmts: Stmts,
    tracking: Option<Tracking>,
    /// A statement that may have changed the catalog ran in this transaction after the
    /// last read: committing it leaves changes a later transaction can't see.
    pending: bool,
    /// A statement of any kind ran in this transaction after the last read: one that looks
    /// like data may still have changed the catalog (a function, a trigger).
    after_read: bool,
    /// The catalog write/delete counters when the transaction with this generation began.
    tx_start: Option<(u64, Vec<i64>, Vec<i64>)>,
    /// The transaction's total catalog writes ([`sql::total_writes`]) when it began.
    tx_start_total: Option<(u64, i64)>,
    /// The reuse gate ([`sql::counters_select`]) when the transaction began.
    tx_start_gate: Option<(u64, i64)>,
    /// Objects in the schema when the statements were prepared.
    prepared_for: usize,
    /// The server's `server_version_num`: which catalog columns exist.
    version: i32,
    pub last: ReadStats,
}

/// Keep each line on one line: multi-line definitions would be split and sorted otherwise.
fn escape_line(s: &str) -> String {
    if !s.contains(['\\', '\n', '\r']) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// Names a dependant may print: column names of a relation, labels of an enum, attributes
/// of a composite type. If one of them disappears, dependants must be re-read.
fn printed_names(text: &str) -> HashSet<&str> {
    let mut names = HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("column ") {
            names.insert(leading_ident(rest));
        } else if let Some(rest) = line
            .strip_prefix("enum (")
            .or_else(|| line.strip_prefix("composite ("))
        {
            names.extend(rest.trim_end_matches(')').split(", "));
        }
    }
    names
}

/// The quote_ident'ed identifier at the start of `s`.
fn leading_ident(s: &str) -> &str {
    if s.starts_with('"') {
        let bytes = s.as_bytes();
        let mut i = 1;
        while i < bytes.len() {
            if bytes[i] == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    i += 2;
                    continue;
                }
                return &s[..=i];
            }
            i += 1;
        }
        s
    } else {
        s.split(' ').next().unwrap_or(s)
    }
}

/// A partition's line with the values of `FOR VALUES IN (…)` sorted: a list partition
/// holds the rows equal to any of them, so `IN (3, 1, 2)` and `IN (1, 2, 3)` are the same
/// partition, yet the server prints them in the order given. The line is `partition of
/// schema.table FOR VALUES IN (v, …)`; values are split at top-level commas (outside
/// quotes and parentheses) and sorted as printed, `NULL` among them. Any other line, or
/// one that doesn't parse as expected, is returned as it is.
fn sorted_list_bound(line: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let parse = || -> Option<String> {
        // quote_ident'ed names: quoted, or plain words without dots or spaces
        let ident = |s: &str| -> usize {
            if s.starts_with('"') {
                leading_ident(s).len()
            } else {
                s.find(['.', ' ']).unwrap_or(s.len())
            }
        };
        let rest = line.strip_prefix("partition of ")?;
        let schema = &rest[..ident(rest)];
        let rest = rest[schema.len()..].strip_prefix('.')?;
        let table = &rest[..ident(rest)];
        let list = rest
            .get(table.len()..)?
            .strip_prefix(" FOR VALUES IN (")?
            .strip_suffix(')')?;
        let values = split_top_level(list)?;
        if values.len() < 2 {
            return None;
        }
        let mut sorted = values.clone();
        sorted.sort_unstable();
        (sorted != values).then(|| {
            format!(
                "partition of {schema}.{table} FOR VALUES IN ({})",
                sorted.join(", ")
            )
        })
    };
    match parse() {
        Some(s) => Cow::Owned(s),
        None => Cow::Borrowed(line),
    }
}

/// `a, 'b, c', f(1, 2)` → `["a", "'b, c'", "f(1, 2)"]`: split at the commas outside
/// quotes (single or double, a doubled quote inside staying inside) and parentheses.
/// `None` when quotes or parentheses don't balance.
fn split_top_level(s: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    let (mut depth, mut quote, mut start) = (0usize, None::<u8>, 0usize);
    for (i, b) in s.bytes().enumerate() {
        match quote {
            // a doubled quote closes and reopens: the same state either way
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'\'' | b'"' => quote = Some(b),
                b'(' => depth += 1,
                b')' => depth = depth.checked_sub(1)?,
                b',' if depth == 0 => {
                    out.push(s[start..i].trim());
                    start = i + 1;
                }
                _ => {}
            },
        }
    }
    if quote.is_some() || depth != 0 {
        return None;
    }
    out.push(s[start..].trim());
    Some(out)
}

/// A read's snapshot and counters, remembered for the next read.
struct Head {
    xmax: i64,
    xip: Vec<i64>,
    ch: Vec<i64>,
    del: Vec<i64>,
    xmin: i64,
    gate: Option<i64>,
}

/// `{1,2,3}` → `[1, 2, 3]`.
fn parse_int_array(s: &str) -> Option<Vec<i64>> {
    let inner = s.trim().strip_prefix('{')?.strip_suffix('}')?;
    if inner.is_empty() {
        return Some(Vec::new());
    }
    inner.split(',').map(|x| x.trim().parse().ok()).collect()
}

fn low32(x: i64) -> u32 {
    (x.rem_euclid(1 << 32)) as u32
}

impl Catalog {
    /// The reader for a connection to a server of `server_version_num` `version`.
    pub fn new(version: i32) -> Catalog {
        Catalog {
            version,
            ..Catalog::default()
        }
    }

    /// SQL to append to `BEGIN` (same round trip); its row goes to [`Catalog::on_begin`].
    pub fn begin_sql(with_total: bool) -> String {
        sql::counters_select(with_total)
    }

    /// The transaction `tx_gen` began; `row` is what [`Catalog::begin_sql`] returned: the
    /// raw counters, the other catalogs' writes (when asked for) and track_counts.
    pub fn on_begin(&mut self, tx_gen: u64, row: Option<(&str, Option<&str>, &str)>) {
        let base = row.and_then(|(raw, ..)| sql::Baselines::from_raw(&parse_int_array(raw)?));
        // With track_counts off the counters never move: no conclusion from them.
        let counting = row.is_some_and(|r| r.2 == "on");
        self.tx_start_total = None;
        self.tx_start_gate = None;
        if let (Some(b), true) = (&base, counting) {
            self.tx_start_gate = Some((tx_gen, b.gate));
            let rest = row.and_then(|r| r.1).and_then(|t| t.parse::<i64>().ok());
            self.tx_start_total = rest.map(|t| (tx_gen, t + b.counted_writes));
        }
        self.tx_start = base.map(|b| (tx_gen, b.ch, b.del));
    }

    /// The session's prepared statements may be gone (DEALLOCATE, DISCARD): prepare
    /// ours again on next use.
    pub fn forget_statements(&mut self) {
        self.stmts = Stmts::default();
    }

    /// Forget what the last read saw: the next read is a full one.
    pub fn invalidate(&mut self) {
        self.tracking = None;
    }

    /// A statement that may change the catalog ran inside the current transaction.
    pub fn note_catalog_change(&mut self) {
        self.pending = true;
    }

    /// A statement ran, in a transaction or (`in_tx` false) on its own: what it changed
    /// commits unread, unless a read follows in the same transaction. Forget what the last
    /// read saw when it commits: the next read is a full one.
    pub fn note_statement(&mut self, in_tx: bool) {
        if in_tx {
            self.after_read = true;
        } else {
            self.invalidate();
        }
    }

    /// The current transaction commits.
    pub fn on_commit(&mut self) {
        if self.pending || self.after_read {
            self.tracking = None;
        }
        self.pending = false;
        self.after_read = false;
    }

    /// The transaction with generation `tx_gen` rolls back: a read made inside it saw
    /// changes that are now undone.
    pub fn on_rollback(&mut self, tx_gen: u64) {
        if self.tracking.as_ref().is_some_and(|t| t.tx_gen == tx_gen) {
            self.tracking = None;
        }
        self.pending = false;
        self.after_read = false;
    }

    /// Read the schema; incrementally from `previous` when that is safe.
    pub fn read(
        &mut self,
        client: &mut Client,
        previous: Option<&SchemaState>,
        in_tx: bool,
        tx_gen: u64,
    ) -> Result<SchemaState, DbError> {
        let result = self.read_inner(client, previous, in_tx, tx_gen);
        self.read_done(result)
    }

    /// Bookkeeping after a read: what it saw is now the baseline, or, when it failed,
    /// nothing is.
    fn read_done(&mut self, result: Result<SchemaState, DbError>) -> Result<SchemaState, DbError> {
        match &result {
            Ok(_) => {
                self.pending = false;
                self.after_read = false;
            }
            Err(_) => self.tracking = None,
        }
        result
    }

    fn read_inner(
        &mut self,
        client: &mut Client,
        previous: Option<&SchemaState>,
        in_tx: bool,
        tx_gen: u64,
    ) -> Result<SchemaState, DbError> {
        if let Some(prev) = previous {
            self.replan_if_grown(prev.objects.len());
        }
        if let (Some(prev), true) = (previous, in_tx) {
            if let Some(t) = self.tracking.take() {
                if t.state == *prev {
                    // The first read of a transaction that ran data statements only.
                    if t.tx_gen != tx_gen
                        && !self.pending
                        && self.no_catalog_writes(client, tx_gen)?
                    {
                        self.last = ReadStats {
                            incremental: true,
                            reread: 0,
                            round_trips: 1,
                            reused_lines: 0,
                        };
                        self.tracking = Some(t);
                        return Ok(prev.clone());
                    }
                    if let Some(state) = self.incremental(client, t, tx_gen)? {
                        return Ok(state);
                    }
                }
            }
        }
        self.full(client, tx_gen)
    }

    /// A cached generic plan keeps the join strategy chosen for the catalog's size when
    /// it was made: one made for an empty database scans whole catalogs once the schema
    /// has grown. Prepare again when the schema has more than doubled since.
    fn replan_if_grown(&mut self, n: usize) {
        if n > 2 * self.prepared_for + 50 {
            self.forget_statements();
            self.prepared_for = n;
        }
    }

    /// Whether a read with `previous` in transaction `tx_gen` could start from what this
    /// connection read last, in an earlier transaction: then it can be sent ahead, with
    /// the transaction's last statement.
    pub fn can_follow(&self, previous: &SchemaState, tx_gen: u64) -> bool {
        self.tracking
            .as_ref()
            .is_some_and(|t| t.tx_gen != tx_gen && t.state == *previous)
    }

    /// The read to send along with a statement of transaction `tx_gen` ([`Catalog::can_follow`]
    /// said yes): the check for catalog writes when the transaction may have run data
    /// statements only (`data_only`), else the incremental statement.
    pub fn follow_request(
        &mut self,
        client: &mut Client,
        tx_gen: u64,
        data_only: bool,
    ) -> Result<Follow, DbError> {
        if let Some(n) = self.tracking.as_ref().map(|t| t.state.objects.len()) {
            self.replan_if_grown(n);
        }
        if data_only && !self.pending {
            let stmt = crate::prepared(client, &mut self.stmts.total, sql::total_check)?;
            return Ok(Follow::Cheap(stmt.clone()));
        }
        let t = self
            .tracking
            .as_ref()
            .ok_or_else(|| DbError::other("no previous schema read to continue from"))?;
        let p = IncParams::new(self, t, tx_gen);
        let stmt = self.inc_statement(client, false)?;
        Ok(Follow::Incremental(stmt, p))
    }

    /// Finish a read sent along with the transaction's last statement: `rows` is what its
    /// statement returned. The same result and bookkeeping as [`Catalog::read`].
    pub fn follow_finish(
        &mut self,
        client: &mut Client,
        follow: &Follow,
        rows: Vec<Row>,
        tx_gen: u64,
    ) -> Result<SchemaState, DbError> {
        let result = self.follow_finish_inner(client, follow, rows, tx_gen);
        self.read_done(result)
    }

    fn follow_finish_inner(
        &mut self,
        client: &mut Client,
        follow: &Follow,
        rows: Vec<Row>,
        tx_gen: u64,
    ) -> Result<SchemaState, DbError> {
        // The statement sent ahead may have made the reader forget what it saw.
        let Some(t) = self.tracking.take() else {
            return self.full(client, tx_gen);
        };
        let incremental = match follow {
            Follow::Cheap(_) => {
                let row = rows
                    .first()
                    .ok_or_else(|| DbError::other("the catalog write check returned no row"))?;
                if !self.pending && self.unwritten(row, tx_gen)? {
                    self.last = ReadStats {
                        incremental: true,
                        reread: 0,
                        round_trips: 0,
                        reused_lines: 0,
                    };
                    let state = t.state.clone();
                    self.tracking = Some(t);
                    return Ok(state);
                }
                self.incremental(client, t, tx_gen)?
            }
            Follow::Incremental(..) => {
                let r = self.incremental_rows(client, t, tx_gen, rows)?;
                if r.is_some() {
                    // Its first round trip was the statement's.
                    self.last.round_trips = self.last.round_trips.saturating_sub(1);
                }
                r
            }
        };
        match incremental {
            Some(state) => Ok(state),
            None => self.full(client, tx_gen),
        }
    }

    /// Whether transaction `tx_gen` wrote none of the catalogs the schema text comes from
    /// (their write counters, summed, are where BEGIN left them): `row` is
    /// [`sql::total_check`]'s. `false` when that can't be told: no baseline, or
    /// track_counts off.
    fn unwritten(&self, row: &Row, tx_gen: u64) -> Result<bool, DbError> {
        let Some(base) = self.tx_start_total.filter(|s| s.0 == tx_gen).map(|s| s.1) else {
            return Ok(false);
        };
        let now: i64 = row.try_get(0).map_err(|e| error::map(&e))?;
        let counting: bool = row.try_get(1).map_err(|e| error::map(&e))?;
        Ok(now == base && counting)
    }

    /// Whether transaction `tx_gen` wrote none of the catalogs the schema text comes from
    /// (their write counters, summed, are where BEGIN left them). `false` when that can't
    /// be told: no baseline, or track_counts off.
    fn no_catalog_writes(&mut self, client: &mut Client, tx_gen: u64) -> Result<bool, DbError> {
        if self.tx_start_total.filter(|s| s.0 == tx_gen).is_none() {
            return Ok(false);
        }
        let stmt = crate::prepared(client, &mut self.stmts.total, sql::total_check)?;
        let row = client.query_one(stmt, &[]).map_err(|e| error::map(&e))?;
        self.unwritten(&row, tx_gen)
    }

    fn head(&mut self, client: &mut Client) -> Result<Head, DbError> {
        let stmt = crate::prepared(client, &mut self.stmts.head, sql::head)?;
        let row = client.query_one(stmt, &[]).map_err(|e| error::map(&e))?;
        let g = |e: crate::pg::Error| error::map(&e);
        Ok(Head {
            xmax: row.try_get(0).map_err(g)?,
            xip: row.try_get(1).map_err(g)?,
            ch: row.try_get(2).map_err(g)?,
            del: row.try_get(3).map_err(g)?,
            xmin: row.try_get(5).map_err(g)?,
            gate: row.try_get(6).map_err(g)?,
        })
    }

    /// Run the canonical queries, for everything (`roots` None) or for some roots: the
    /// relation statement and/or the one for the other kinds, as needed. Returns the
    /// objects and the number of statements run.
    fn canonical(
        &mut self,
        client: &mut Client,
        roots: Option<&BTreeSet<Root>>,
    ) -> Result<(ReadResult, usize), DbError> {
        let mut batches = Vec::new();
        match roots {
            None => {
                // Planned afresh each time (a full read runs a few times per command): a
                // plan cached when the schema was small stays in use as it grows, and a
                // plan made for an empty database read 200 tables 3× slower.
                batches.push(client.query(&sql::canonical_rel(true, self.version), &[]));
                batches.push(client.query(&sql::canonical_other(true), &[]));
            }
            Some(roots) => {
                let of = |k: Kind| -> Vec<u32> {
                    roots.iter().filter(|r| r.0 == k).map(|r| r.1).collect()
                };
                let rels = of(Kind::Rel);
                if !rels.is_empty() {
                    let version = self.version;
                    let stmt = crate::prepared(client, &mut self.stmts.part_rel, || {
                        sql::canonical_rel(false, version)
                    })?;
                    batches.push(client.query(stmt, &[&rels]));
                }
                let (procs, types, exts, nss) =
                    (of(Kind::Proc), of(Kind::Type), of(Kind::Ext), of(Kind::Ns));
                if !(procs.is_empty() && types.is_empty() && exts.is_empty() && nss.is_empty()) {
                    let stmt = crate::prepared(client, &mut self.stmts.part_other, || {
                        sql::canonical_other(false)
                    })?;
                    batches.push(client.query(stmt, &[&procs, &types, &exts, &nss]));
                }
            }
        }
        let statements = batches.len();
        let mut out = ReadResult::default();
        for rows in batches {
            let rows = rows.map_err(|e| error::map(&e))?;
            for row in &rows {
                parse_object(row, &mut out, None)?;
            }
        }
        Ok((out, statements))
    }

    fn full(&mut self, client: &mut Client, tx_gen: u64) -> Result<SchemaState, DbError> {
        let head = self.head(client)?;
        let (r, statements) = self.canonical(client, None)?;
        let mut t = Tracking {
            state: SchemaState::default(),
            keys: HashMap::with_capacity(r.objects.len()),
            subs: HashMap::new(),
            root_subs: HashMap::new(),
            lines: HashMap::new(),
            hx: None,
            gate: None,
            tx_gen,
            max_cmin: None,
            xmax: 0,
            xip: Vec::new(),
            ch: Vec::new(),
            del: Vec::new(),
        };
        apply(&mut t, &BTreeSet::new(), r);
        remember(&mut t, &head);
        let state = t.state.clone();
        self.tracking = Some(t);
        self.last = ReadStats {
            incremental: false,
            reread: 0,
            round_trips: 1 + statements,
            reused_lines: 0,
        };
        Ok(state)
    }

    fn inc_statement(&mut self, client: &mut Client, same_tx: bool) -> Result<Statement, DbError> {
        let slot = if same_tx {
            &mut self.stmts.inc_same_tx
        } else {
            &mut self.stmts.inc_new_tx
        };
        let version = self.version;
        crate::prepared(client, slot, || sql::incremental(same_tx, version)).cloned()
    }

    /// `Ok(None)`: the change can't be applied incrementally (a schema was renamed).
    fn incremental(
        &mut self,
        client: &mut Client,
        t: Tracking,
        tx_gen: u64,
    ) -> Result<Option<SchemaState>, DbError> {
        let p = IncParams::new(self, &t, tx_gen);
        let stmt = self.inc_statement(client, p.same_tx)?;
        let rows = client.query(&stmt, &p.refs()).map_err(|e| error::map(&e))?;
        self.incremental_rows(client, t, tx_gen, rows)
    }

    /// The rest of [`Catalog::incremental`], from the rows of its statement (which may have
    /// been sent before the transaction's counters were known).
    fn incremental_rows(
        &mut self,
        client: &mut Client,
        mut t: Tracking,
        tx_gen: u64,
        rows: Vec<Row>,
    ) -> Result<Option<SchemaState>, DbError> {
        let IncParams {
            same_tx,
            m,
            h,
            xip,
            base_ch,
            base_del,
            gate,
            ..
        } = IncParams::new(self, &t, tx_gen);
        let mut round_trips = 1;
        let mut read = ReadResult::default();
        let mut reread: BTreeSet<Root> = BTreeSet::new(); // relation roots the statement re-read
        let mut more_rels: BTreeSet<Root> = BTreeSet::new();
        let mut others: BTreeSet<Root> = BTreeSet::new();
        let mut head: Option<(Head, Option<i64>)> = None;
        for row in &rows {
            let g = |e: crate::pg::Error| error::map(&e);
            let tag: &str = row.try_get(0).map_err(g)?;
            let lines = || -> Result<Vec<String>, DbError> {
                Ok(row
                    .try_get::<_, Option<Vec<Option<String>>>>(3)
                    .map_err(g)?
                    .unwrap_or_default()
                    .into_iter()
                    .flatten()
                    .collect())
            };
            match tag {
                "H" => {
                    let l: Vec<Option<String>> = row
                        .try_get::<_, Option<Vec<Option<String>>>>(3)
                        .map_err(g)?
                        .unwrap_or_default();
                    let get = |i: usize| l.get(i).cloned().flatten().unwrap_or_default();
                    let bad = || {
                        DbError::other("unexpected snapshot data from the incremental schema read")
                    };
                    let track_counts = get(5) == "true";
                    let mut ch = parse_int_array(&get(3)).ok_or_else(bad)?;
                    let mut del = parse_int_array(&get(4)).ok_or_else(bad)?;
                    if !track_counts {
                        // Without counters nothing can be ruled out: empty readings never
                        // compare equal, so every gate stays open.
                        ch.clear();
                        del.clear();
                    }
                    // A name the catalog can't trace to its users changed since the last
                    // read (in this transaction) or since BEGIN, or that can't be told
                    // (statistics off, no baseline): read all.
                    let now_gate = get(8).parse::<i64>().ok();
                    let base = if same_tx { t.gate } else { gate };
                    match (base, now_gate) {
                        (Some(base), Some(now)) if track_counts && now == base => {}
                        _ => return Ok(None),
                    }
                    head = Some((
                        Head {
                            xmax: get(1).parse().map_err(|_| bad())?,
                            xip: parse_int_array(&get(2)).ok_or_else(bad)?,
                            ch,
                            del,
                            xmin: get(7).parse().map_err(|_| bad())?,
                            gate: now_gate.filter(|_| track_counts),
                        },
                        get(6).parse().ok(),
                    ));
                }
                "L" => {
                    for entry in lines()? {
                        let Some((oid, root)) = entry.split_once(' ') else {
                            continue;
                        };
                        let Ok(oid) = oid.parse::<u32>() else {
                            continue;
                        };
                        if root.starts_with("g:") {
                            if t.keys.contains_key(&(Kind::Rel, oid)) {
                                reread.insert((Kind::Rel, oid)); // dropped: re-reading finds nothing
                            } else if let Some(table) = t.subs.get(&(b'i', oid)) {
                                more_rels.insert(*table); // a dropped index: its table changed
                            }
                        } else if let Some((Kind::Type, _)) = parse_root(root) {
                            // A composite type's attributes changed: a field selection
                            // (`(x).a`) depends on the type's column, which no root
                            // stands for, so what prints it can't be found. Read all.
                            return Ok(None);
                        }
                    }
                }
                "T" => {
                    let changed = lines()?;
                    // A multirange type is no root of its own, yet routines and columns
                    // print its name: when one was created, renamed or moved, read all.
                    if changed.iter().any(|s| s.starts_with("m:")) {
                        return Ok(None);
                    }
                    others.extend(changed.iter().filter_map(|s| parse_root(s)));
                }
                "R" => {
                    let roots: Vec<u32> = row
                        .try_get::<_, Option<Vec<u32>>>(4)
                        .map_err(g)?
                        .unwrap_or_default();
                    reread.extend(roots.into_iter().map(|o| (Kind::Rel, o)));
                }
                _ => parse_object(row, &mut read, Some(&t.lines))?,
            }
        }
        let (head, mut max_cmin) = head.ok_or_else(|| {
            DbError::other("the incremental schema read returned no snapshot row")
        })?;
        // Routines, types, enum labels, schemas, extensions, domain constraints: only when
        // their catalogs saw writes since the baseline.
        let moved = |now: &[i64], base: &Option<Vec<i64>>, i: usize| {
            base.as_ref()
                .is_none_or(|b| now.get(i).is_none() || now.get(i) != b.get(i))
        };
        let wrote: Vec<bool> = (0..sql::COUNTED.len())
            .map(|i| moved(&head.ch, &base_ch, i))
            .collect();
        let deleted: Vec<bool> = (0..sql::COUNTED.len())
            .map(|i| moved(&head.del, &base_del, i))
            .collect();
        // Types and domain constraints were scanned by the statement above. Comments on
        // routines, types and schemas (pg_description) lock nothing: scanned here too.
        let other_writes = wrote[0] || wrote[2] || wrote[3] || wrote[4] || wrote[9];
        let tracked = |kind: Kind| -> Vec<u32> {
            t.keys.keys().filter(|r| r.0 == kind).map(|r| r.1).collect()
        };
        let (procs, types, nss, exts) = (
            tracked(Kind::Proc),
            tracked(Kind::Type),
            tracked(Kind::Ns),
            tracked(Kind::Ext),
        );
        let dcons: Vec<u32> = t.subs.keys().filter(|s| s.0 == b'k').map(|s| s.1).collect();
        // Deletes only matter where something we track could be gone: dropping a table
        // deletes its row type and constraints, which are not roots of their own.
        let deleted = [
            deleted[0] && !procs.is_empty(),
            deleted[1] && !types.is_empty(),
            false,
            deleted[3] && !nss.is_empty(),
            deleted[4] && !exts.is_empty(),
            deleted[5] && !dcons.is_empty(),
        ];
        let other_deletes = deleted.iter().any(|d| *d);
        // A dropped comment leaves no row to find: every routine, type and schema that
        // printed one is read again (a relation's is seen through its lock).
        if moved(&head.del, &base_del, 9) {
            others.extend(t.keys.keys().filter(|r| {
                matches!(r.0, Kind::Proc | Kind::Type | Kind::Ns)
                    && t.state
                        .objects
                        .get(&t.keys[*r])
                        .is_some_and(|text| text.lines().any(|l| l.starts_with("comment ")))
            }));
        }
        if other_writes || other_deletes {
            let stmt = crate::prepared(client, &mut self.stmts.other_rows, sql::other_rows)?;
            let row = client
                .query_one(
                    stmt,
                    &[
                        &m,
                        &h,
                        &xip,
                        &wrote[0],
                        &false,
                        &wrote[2],
                        &wrote[3],
                        &wrote[4],
                        &false,
                        &deleted[0],
                        &deleted[1],
                        &deleted[3],
                        &deleted[4],
                        &deleted[5],
                        &procs,
                        &types,
                        &nss,
                        &exts,
                        &dcons,
                        &wrote[9],
                    ],
                )
                .map_err(|e| error::map(&e))?;
            round_trips += 1;
            let g = |e: crate::pg::Error| error::map(&e);
            let mut found: Vec<String> = row.try_get(0).map_err(g)?;
            found.extend(row.try_get::<_, Vec<String>>(2).map_err(g)?);
            for s in found {
                match s.strip_prefix("k:").and_then(|o| o.parse::<u32>().ok()) {
                    Some(con) => others.extend(t.subs.get(&(b'k', con)).copied()),
                    None => others.extend(parse_root(&s)),
                }
            }
            max_cmin = max_cmin.max(row.try_get(1).map_err(g)?);
        }
        more_rels.retain(|r| !reread.contains(r));
        more_rels.extend(others);
        if !more_rels.is_empty() {
            let (r, statements) = self.canonical(client, Some(&more_rels))?;
            round_trips += statements;
            read.objects.extend(r.objects);
            read.subs.extend(r.subs);
            read.lines.extend(r.lines);
            reread.extend(more_rels);
        }
        // A marker for a line we don't hold (not expected: every printed relation keeps its
        // lines): print that relation again in full.
        let unresolved = std::mem::take(&mut read.unresolved);
        if !unresolved.is_empty() {
            for root in &unresolved {
                read.objects.remove(root);
                read.subs.remove(root);
                read.lines.remove(root);
                read.reused.remove(root);
            }
            let (r, statements) = self.canonical(client, Some(&unresolved))?;
            round_trips += statements;
            read.objects.extend(r.objects);
            read.subs.extend(r.subs);
            read.lines.extend(r.lines);
        }
        // A renamed schema renames everything in it: read it all again.
        for root in reread.iter().filter(|r| r.0 == Kind::Ns) {
            if let (Some(old), Some(new)) = (t.keys.get(root), read.objects.get(root)) {
                if *old != new.key {
                    return Ok(None);
                }
            }
        }
        // An index whose line changed (renamed, above all) may be named elsewhere, by a
        // regclass constant: its dependants are re-read too.
        let mut changed_indexes: Vec<u32> = Vec::new();
        for (root, new) in &read.lines {
            if let Some(old) = t.lines.get(root) {
                changed_indexes.extend(
                    new.idx
                        .iter()
                        .filter(|(oid, text)| old.idx.get(oid).is_some_and(|o| o != *text))
                        .map(|(oid, _)| *oid),
                );
            }
        }
        let mut count = reread.len();
        let reused = std::mem::take(&mut read.reused);
        let reused_lines = read.reused_lines;
        let mut renamed = apply(&mut t, &reread, read);
        // A reused line may print a name that changed: the relation's own (an index line
        // names its table) or a column's. Such relations are printed again in full now;
        // the other ones with reused lines stay open to the dependants pass below, which
        // re-reads what prints a renamed root.
        let stale: BTreeSet<Root> = renamed.intersection(&reused).copied().collect();
        if !stale.is_empty() {
            let (r, statements) = self.canonical(client, Some(&stale))?;
            round_trips += statements;
            renamed.extend(apply(&mut t, &stale, r));
        }
        let mut done: BTreeSet<Root> = reread
            .iter()
            .filter(|r| stale.contains(r) || !reused.contains(r))
            .copied()
            .collect();
        while !renamed.is_empty() || !changed_indexes.is_empty() {
            let deps = self.dependents(client, &renamed, &std::mem::take(&mut changed_indexes))?;
            round_trips += 1;
            let next: BTreeSet<Root> = deps.into_iter().filter(|r| !done.contains(r)).collect();
            if next.is_empty() {
                break;
            }
            let (r, statements) = self.canonical(client, Some(&next))?;
            round_trips += statements;
            count += next.len();
            done.extend(next.iter().copied());
            renamed = apply(&mut t, &next, r);
        }
        // The largest own command id is only known when every own row was looked at:
        // in the same transaction, relations through their rows.
        t.max_cmin = if same_tx {
            t.max_cmin.max(max_cmin)
        } else {
            None
        };
        remember(&mut t, &head);
        t.tx_gen = tx_gen;
        let state = t.state.clone();
        self.tracking = Some(t);
        self.last = ReadStats {
            incremental: true,
            reread: count,
            round_trips,
            reused_lines,
        };
        Ok(Some(state))
    }

    /// Roots that print a name of `renamed` or of the relations (indexes) `more_rels`.
    fn dependents(
        &mut self,
        client: &mut Client,
        renamed: &BTreeSet<Root>,
        more_rels: &[u32],
    ) -> Result<Vec<Root>, DbError> {
        let of =
            |k: Kind| -> Vec<u32> { renamed.iter().filter(|r| r.0 == k).map(|r| r.1).collect() };
        let (mut rels, types, procs) = (of(Kind::Rel), of(Kind::Type), of(Kind::Proc));
        rels.extend_from_slice(more_rels);
        let stmt = crate::prepared(client, &mut self.stmts.deps, || sql::DEPENDENTS.to_string())?;
        let rows = client
            .query(stmt, &[&rels, &types, &procs])
            .map_err(|e| error::map(&e))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let s: &str = row.try_get(0).map_err(|e| error::map(&e))?;
            out.extend(parse_root(s));
        }
        Ok(out)
    }
}

/// One row of the canonical statements: `(kind, oid, key, lines, subs)`; the search_path
/// rows and any other tag are skipped. A relation's reuse markers are answered from `old`.
fn parse_object(
    row: &Row,
    out: &mut ReadResult,
    old: Option<&HashMap<Root, RelLines>>,
) -> Result<(), DbError> {
    let g = |e: crate::pg::Error| error::map(&e);
    let tag: &str = row.try_get(0).map_err(g)?;
    let Some(kind) = Kind::parse(tag) else {
        return Ok(());
    };
    let (Some(oid), Some(key)) = (
        row.try_get::<_, Option<u32>>(1).map_err(g)?,
        row.try_get::<_, Option<String>>(2).map_err(g)?,
    ) else {
        return Ok(());
    };
    let root = (kind, oid);
    let prev = old.and_then(|o| o.get(&root));
    let mut rel = RelLines::default();
    let mut lines: Vec<String> = Vec::new();
    let raw = row
        .try_get::<_, Option<Vec<Option<&str>>>>(3)
        .map_err(g)?
        .unwrap_or_default();
    for line in raw.into_iter().flatten() {
        if let Some((num, rest)) = numbered_column(line) {
            let name = leading_ident(&rest["column ".len()..]).to_string();
            let text = escape_line(rest);
            if kind == Kind::Rel {
                rel.cols.insert(num, (text.clone(), name));
            }
            lines.push(text);
            continue;
        }
        if kind != Kind::Rel {
            lines.push(escape_line(line));
            continue;
        }
        match Tagged::parse(line) {
            Some(Tagged::Printed(b'&', id, rest)) => {
                let text = escape_line(rest);
                rel.cons.insert(id, text.clone());
                lines.push(text);
            }
            Some(Tagged::Printed(_, id, rest)) => {
                let text = escape_line(rest);
                rel.idx.insert(id, text.clone());
                lines.push(text);
            }
            Some(Tagged::Same(tag, id)) => {
                let found = prev.and_then(|p| match tag {
                    b'#' => {
                        let num = i32::try_from(id).ok()?;
                        let (text, name) = p.cols.get(&num)?;
                        rel.cols.insert(num, (text.clone(), name.clone()));
                        Some(text.clone())
                    }
                    b'&' => {
                        let text = p.cons.get(&id)?;
                        rel.cons.insert(id, text.clone());
                        Some(text.clone())
                    }
                    _ => {
                        let text = p.idx.get(&id)?;
                        rel.idx.insert(id, text.clone());
                        Some(text.clone())
                    }
                });
                match found {
                    Some(text) => {
                        lines.push(text);
                        out.reused_lines += 1;
                        out.reused.insert(root);
                    }
                    None => {
                        out.unresolved.insert(root);
                    }
                }
            }
            None => lines.push(escape_line(&sorted_list_bound(line))),
        }
    }
    lines.sort_unstable();
    if kind == Kind::Rel {
        out.lines.insert(root, rel);
    }
    if let Some(subs) = row.try_get::<_, Option<Vec<u32>>>(4).map_err(g)? {
        let sk = if kind == Kind::Rel { b'i' } else { b'k' };
        out.subs
            .insert(root, subs.into_iter().map(|s| (sk, s)).collect());
    }
    out.objects.insert(
        root,
        Object {
            key,
            text: lines.join("\n"),
        },
    );
    Ok(())
}

/// A relation line with its identity in front: `&oid rest` (constraint) or `%oid rest`
/// (index), printed; or a reuse marker `=#attnum`, `=&oid`, `=%oid`.
enum Tagged<'a> {
    Printed(u8, u32, &'a str),
    Same(u8, u32),
}

impl<'a> Tagged<'a> {
    fn parse(line: &'a str) -> Option<Tagged<'a>> {
        let b = line.as_bytes();
        match b.first()? {
            t @ (b'&' | b'%') => {
                let (id, rest) = line[1..].split_once(' ')?;
                Some(Tagged::Printed(*t, id.parse().ok()?, rest))
            }
            b'=' => {
                let t = *b.get(1)?;
                if !matches!(t, b'#' | b'&' | b'%') {
                    return None;
                }
                Some(Tagged::Same(t, line.get(2..)?.parse().ok()?))
            }
            _ => None,
        }
    }
}

/// `#3 column a int` → `(3, "column a int")`.
fn numbered_column(line: &str) -> Option<(i32, &str)> {
    let (num, rest) = line.strip_prefix('#')?.split_once(' ')?;
    rest.starts_with("column ")
        .then_some(())
        .and(num.parse().ok().map(|n| (n, rest)))
}

/// A relation's columns, sorted by number.
fn columns_of(lines: &RelLines) -> Columns {
    let mut c: Columns = lines
        .cols
        .iter()
        .map(|(num, (_, name))| (*num, name.clone()))
        .collect();
    c.sort_unstable();
    c
}

/// Whether a column kept its number but changed its name. Dropped or added columns are not
/// renames: whatever printed a dropped column was dropped with it (or the drop failed), and
/// so it was locked and re-read already.
fn columns_renamed(old: &Columns, new: &Columns) -> bool {
    let new: HashMap<i32, &str> = new.iter().map(|(n, c)| (*n, c.as_str())).collect();
    old.iter()
        .any(|(n, c)| new.get(n).is_some_and(|now| *now != c.as_str()))
}

/// Replace the objects of `reread` (roots that were re-read: gone ones disappear) with `r`
/// (for a full read, `reread` is empty and `r` has everything). Returns the re-read roots
/// whose dependants may print differently now: renamed, or a printed name gone.
fn apply(t: &mut Tracking, reread: &BTreeSet<Root>, mut r: ReadResult) -> BTreeSet<Root> {
    let mut old_texts: HashMap<Root, (String, Option<Arc<str>>)> = HashMap::new();
    // Remove every old key first: two roots may have swapped names.
    for root in reread {
        if let Some(key) = t.keys.remove(root) {
            let text = t.state.objects.remove(&key);
            old_texts.insert(*root, (key, text));
        }
        for sub in t.root_subs.remove(root).unwrap_or_default() {
            t.subs.remove(&sub);
        }
    }
    let mut old_lines: HashMap<Root, RelLines> = HashMap::new();
    for root in reread {
        if let Some(l) = t.lines.remove(root) {
            old_lines.insert(*root, l);
        }
    }
    let mut renamed = BTreeSet::new();
    for (root, obj) in r.objects.drain() {
        if let Some((old_key, old_text)) = old_texts.get(&root) {
            let names_gone = if root.0 == Kind::Rel {
                match (old_lines.get(&root), r.lines.get(&root)) {
                    (Some(old), Some(new)) => columns_renamed(&columns_of(old), &columns_of(new)),
                    _ => true,
                }
            } else {
                old_text.as_deref().is_some_and(|old| {
                    let now = printed_names(&obj.text);
                    printed_names(old).iter().any(|n| !now.contains(n))
                })
            };
            if *old_key != obj.key || names_gone {
                renamed.insert(root);
            }
        }
        // An unchanged text keeps its allocation: comparing states is then cheap.
        let text = match old_texts.get(&root) {
            Some((_, Some(old))) if **old == *obj.text => Arc::clone(old),
            _ => Arc::from(obj.text),
        };
        t.keys.insert(root, obj.key.clone());
        t.state.objects.insert(obj.key, text);
    }
    for (root, subs) in r.subs {
        for s in &subs {
            t.subs.insert(*s, root);
        }
        t.root_subs.insert(root, subs);
    }
    t.lines.extend(r.lines);
    renamed
}

/// Record the snapshot and counters of this read, for the next one.
fn remember(t: &mut Tracking, head: &Head) {
    t.hx = Some(low32(head.xmin));
    t.gate = head.gate;
    t.xmax = low32(head.xmax);
    t.xip = head.xip.iter().map(|x| low32(*x)).collect();
    t.ch = head.ch.clone();
    t.del = head.del.clone();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_multiline_definitions() {
        assert_eq!(escape_line("a\nb\\c"), "a\\nb\\\\c");
        assert_eq!(escape_line("plain"), "plain");
    }

    #[test]
    fn finds_printed_names() {
        let t = "column \"we\"\"ird col\" integer\ncolumn id bigint not null\nconstraint x CHECK (a > 0)";
        let n = printed_names(t);
        assert!(
            n.contains("\"we\"\"ird col\"") && n.contains("id") && n.len() == 2,
            "{n:?}"
        );
        let e = printed_names("enum ('a', 'b')");
        assert!(e.contains("'a'") && e.contains("'b'"), "{e:?}");
    }

    #[test]
    fn tells_renamed_columns_from_dropped_ones() {
        assert_eq!(
            numbered_column("#12 column \"a b\" text"),
            Some((12, "column \"a b\" text"))
        );
        assert_eq!(numbered_column("constraint x CHECK (a > 0)"), None);
        assert_eq!(numbered_column("#x column a int"), None);
        let cols =
            |v: &[(i32, &str)]| -> Columns { v.iter().map(|(n, c)| (*n, c.to_string())).collect() };
        let old = cols(&[(1, "id"), (2, "a"), (3, "b")]);
        assert!(
            !columns_renamed(&old, &cols(&[(1, "id"), (2, "a")])),
            "a drop"
        );
        assert!(
            !columns_renamed(&old, &cols(&[(1, "id"), (2, "a"), (3, "b"), (4, "c")])),
            "an add"
        );
        assert!(
            columns_renamed(&old, &cols(&[(1, "id"), (2, "b")])),
            "drop b, rename a to b"
        );
    }

    #[test]
    fn sorts_list_partition_values_only() {
        assert_eq!(
            sorted_list_bound("partition of public.p FOR VALUES IN (3, NULL, '-1', 1)"),
            "partition of public.p FOR VALUES IN ('-1', 1, 3, NULL)"
        );
        assert_eq!(
            sorted_list_bound(
                "partition of \"my s\".\"p FOR VALUES IN (\" FOR VALUES IN ('b', 'a, (x', 'it''s')"
            ),
            "partition of \"my s\".\"p FOR VALUES IN (\" FOR VALUES IN ('a, (x', 'b', 'it''s')"
        );
        for unchanged in [
            "partition of public.p FOR VALUES FROM (2) TO (1)",
            "partition of public.p FOR VALUES WITH (modulus 4, remainder 1)",
            "partition of public.p DEFAULT",
            "inherits public.p",
            "partition of public.p FOR VALUES IN ('unbalanced, 1)",
        ] {
            assert_eq!(sorted_list_bound(unchanged), unchanged);
        }
        assert_eq!(
            split_top_level("f(1, 2), 'a'')', \"x,y\""),
            Some(vec!["f(1, 2)", "'a'')'", "\"x,y\""])
        );
        assert_eq!(split_top_level("a)"), None);
    }

    #[test]
    fn parses_counter_arrays() {
        assert_eq!(parse_int_array("{1,0,22}"), Some(vec![1, 0, 22]));
        assert_eq!(parse_int_array("{}"), Some(vec![]));
        assert_eq!(parse_int_array("x"), None);
    }

    #[test]
    fn parses_roots() {
        assert_eq!(parse_root("r:16384"), Some((Kind::Rel, 16384)));
        assert_eq!(parse_root("x:1"), None);
    }
}
