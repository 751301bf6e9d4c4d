//! What a statement does to the tables it touches: the lock it takes, whether it rewrites
//! or scans the table, what it blocks, whether it destroys data. Shared by the rules and by
//! `backstop plan` (through [`crate::statement_impacts`]).
//!
//! PostgreSQL lock levels follow the "Explicit Locking" chapter and the ALTER TABLE notes
//! (<https://www.postgresql.org/docs/current/explicit-locking.html>). MySQL figures follow
//! InnoDB online DDL (<https://dev.mysql.com/doc/refman/8.0/en/innodb-online-ddl-operations.html>).
//! SQLite has one write lock for the whole database.

use crate::catalog::Catalog;
use crate::ir::*;
use backstop_core::driver::Engine;

/// PostgreSQL's table lock modes, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Lock {
    AccessShare,
    RowShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    Exclusive,
    AccessExclusive,
    /// SQLite: the database write lock, held to commit.
    DatabaseWrite,
    /// MySQL: a brief exclusive metadata lock; the operation itself runs online.
    Metadata,
    /// MySQL: a table copy with LOCK=SHARED (writes blocked).
    CopyShared,
    /// MySQL: LOCK=EXCLUSIVE.
    MysqlExclusive,
}

impl Lock {
    pub fn name(self) -> &'static str {
        match self {
            Lock::AccessShare => "ACCESS SHARE",
            Lock::RowShare => "ROW SHARE",
            Lock::RowExclusive => "ROW EXCLUSIVE",
            Lock::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            Lock::Share => "SHARE",
            Lock::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            Lock::Exclusive => "EXCLUSIVE",
            Lock::AccessExclusive => "ACCESS EXCLUSIVE",
            // Printed as "<name> lock on <table>", like the PostgreSQL modes.
            Lock::DatabaseWrite => "database write",
            Lock::Metadata => "exclusive metadata lock (brief)",
            Lock::CopyShared => "SHARED (table copy)",
            Lock::MysqlExclusive => "EXCLUSIVE",
        }
    }
    /// What other sessions can't do while the lock is held.
    pub fn blocks(self) -> &'static str {
        match self {
            Lock::AccessExclusive | Lock::MysqlExclusive => "reads and writes",
            Lock::Share
            | Lock::ShareRowExclusive
            | Lock::Exclusive
            | Lock::CopyShared
            | Lock::DatabaseWrite => "writes",
            _ => "nothing",
        }
    }
    /// Locks that make other sessions wait (the ones worth a lock_timeout).
    pub fn is_blocking(self) -> bool {
        self.blocks() != "nothing"
    }
    pub fn from_name(s: &str) -> Lock {
        match s {
            "ACCESS SHARE" => Lock::AccessShare,
            "ROW SHARE" => Lock::RowShare,
            "ROW EXCLUSIVE" => Lock::RowExclusive,
            "SHARE UPDATE EXCLUSIVE" => Lock::ShareUpdateExclusive,
            "SHARE" => Lock::Share,
            "SHARE ROW EXCLUSIVE" => Lock::ShareRowExclusive,
            "EXCLUSIVE" => Lock::Exclusive,
            _ => Lock::AccessExclusive,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Impact {
    pub lock: Option<Lock>,
    /// Tables (and other relations) locked, in statement order, deduplicated.
    pub tables: Vec<Name>,
    /// The lock taken on each of `tables` (a foreign key locks the referenced table less
    /// strongly than the table it is added to).
    pub table_locks: Vec<Lock>,
    pub rewrites: bool,
    pub scans: bool,
    /// What data the statement destroys, for messages (`rows of users`, `column users.email`).
    pub destroys: Vec<String>,
}

impl Impact {
    fn lock(&mut self, l: Lock, t: &Name) {
        self.lock = Some(self.lock.map_or(l, |o| o.max(l)));
        if t.name.is_empty() {
            return;
        }
        match self.tables.iter().position(|x| x == t) {
            Some(i) => self.table_locks[i] = self.table_locks[i].max(l),
            None => {
                self.tables.push(t.clone());
                self.table_locks.push(l);
            }
        }
    }
    pub fn blocks(&self) -> &'static str {
        self.lock.map(Lock::blocks).unwrap_or("nothing")
    }
}

/// `a` or `an` before a lock name.
pub(crate) fn article(word: &str) -> &'static str {
    if word.starts_with(['A', 'E', 'I', 'O', 'U', 'a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// Functions whose result differs between two runs of the same migration (rehearsal and
/// production, or apply and re-apply after rollback).
pub(crate) fn is_nondeterministic(f: &str) -> bool {
    matches!(
        f,
        "now"
            | "current_timestamp"
            | "current_date"
            | "current_time"
            | "localtime"
            | "localtimestamp"
            | "transaction_timestamp"
            | "statement_timestamp"
            | "clock_timestamp"
            | "timeofday"
            | "random"
            | "random_normal"
            | "setseed"
            | "gen_random_uuid"
            | "uuidv4"
            | "uuidv7"
            | "uuid_generate_v1"
            | "uuid_generate_v1mc"
            | "uuid_generate_v4"
            | "nextval"
            | "setval"
            | "txid_current"
            | "pg_current_xact_id"
            // MySQL
            | "sysdate"
            | "utc_timestamp"
            | "utc_date"
            | "utc_time"
            | "curdate"
            | "curtime"
            | "rand"
            | "uuid"
            | "uuid_short"
            | "unix_timestamp"
            // SQLite (the lite parser reports the 'now' modifier as a call to `now`)
            | "randomblob"
            | "unixepoch"
    )
}

/// Volatile in PostgreSQL's sense: evaluated per row, so a column default using it must be
/// computed for every existing row (a rewrite). `now()` and CURRENT_TIMESTAMP are stable.
pub(crate) fn is_volatile(f: &str) -> bool {
    matches!(
        f,
        "clock_timestamp"
            | "timeofday"
            | "random"
            | "random_normal"
            | "gen_random_uuid"
            | "uuidv4"
            | "uuidv7"
            | "uuid_generate_v1"
            | "uuid_generate_v1mc"
            | "uuid_generate_v4"
            | "nextval"
            | "setval"
            | "rand"
            | "uuid"
            | "randomblob"
    )
}

/// The effect of changing a column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeChange {
    /// Binary-coercible: catalog only (indexes may still be rebuilt).
    NoRewrite,
    Rewrite,
    /// A rewrite that can fail or lose data (shorter, smaller, less precise).
    Narrowing,
    /// The old type is unknown and some old types would make this change safe.
    Unknown,
}

/// Classify `old → new` for PostgreSQL (<https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-NOTES>).
pub(crate) fn type_change(old: Option<&TypeName>, new: &TypeName, using: bool) -> TypeChange {
    let n = new.name.as_str();
    let Some(old) = old else {
        // Targets some old type could reach without a rewrite.
        return if matches!(
            n,
            "varchar" | "text" | "numeric" | "varbit" | "inet" | "citext"
        ) && !using
        {
            TypeChange::Unknown
        } else {
            TypeChange::Rewrite
        };
    };
    let o = old.name.as_str();
    if old.array != new.array {
        return TypeChange::Rewrite;
    }
    let int_rank = |t: &str| match t {
        "int2" => Some(2),
        "int4" => Some(4),
        "int8" => Some(8),
        _ => None,
    };
    if using {
        // A USING expression may change the contents: assume a rewrite.
        return if narrower(old, new) {
            TypeChange::Narrowing
        } else {
            TypeChange::Rewrite
        };
    }
    if o == n && old.mods == new.mods {
        return TypeChange::NoRewrite;
    }
    match (o, n) {
        ("varchar", "varchar") | ("varbit", "varbit") => match (old.mods.first(), new.mods.first())
        {
            (_, None) => TypeChange::NoRewrite,
            (Some(a), Some(b)) if b >= a => TypeChange::NoRewrite,
            _ => TypeChange::Narrowing,
        },
        ("varchar" | "text" | "citext", "text") | ("text", "citext") => TypeChange::NoRewrite,
        ("text" | "citext", "varchar") => {
            if new.mods.is_empty() {
                TypeChange::NoRewrite
            } else {
                TypeChange::Narrowing
            }
        }
        ("numeric", "numeric") => match (&old.mods[..], &new.mods[..]) {
            (_, []) => TypeChange::NoRewrite,
            ([p, s], [p2, s2]) if s == s2 && p2 >= p => TypeChange::NoRewrite,
            ([p], [p2]) if p2 >= p => TypeChange::NoRewrite,
            _ => TypeChange::Narrowing,
        },
        ("cidr", "inet") => TypeChange::NoRewrite,
        _ => {
            if let (Some(a), Some(b)) = (int_rank(o), int_rank(n)) {
                return if b < a {
                    TypeChange::Narrowing
                } else {
                    TypeChange::Rewrite
                };
            }
            if narrower(old, new) {
                TypeChange::Narrowing
            } else {
                TypeChange::Rewrite
            }
        }
    }
}

/// Whether `new` can't hold every value of `old`.
fn narrower(old: &TypeName, new: &TypeName) -> bool {
    let (o, n) = (old.name.as_str(), new.name.as_str());
    let textual = |t: &str| matches!(t, "text" | "varchar" | "bpchar" | "citext");
    let int_rank = |t: &str| match t {
        "int2" => 2,
        "int4" => 4,
        "int8" => 8,
        "numeric" | "float8" => 16,
        "float4" => 12,
        _ => 0,
    };
    if textual(o) && matches!(n, "varchar" | "bpchar") && !new.mods.is_empty() {
        return match (old.mods.first(), new.mods.first()) {
            (Some(a), Some(b)) => b < a,
            _ => true,
        };
    }
    if int_rank(o) > 0 && int_rank(n) > 0 {
        if o == "numeric" && n == "numeric" {
            return match (&old.mods[..], &new.mods[..]) {
                (_, []) => false,
                ([], _) => true,
                ([p, s], [p2, s2]) => p2 < p || s2 < s,
                ([p], [p2, ..]) => p2 < p,
                _ => false,
            };
        }
        return int_rank(n) < int_rank(o)
            || (matches!(o, "numeric" | "float8" | "float4")
                && matches!(n, "int2" | "int4" | "int8"));
    }
    matches!(
        (o, n),
        ("timestamp" | "timestamptz", "date" | "time" | "timetz") | ("float8", "float4")
    )
}

/// Analyse one statement against the schema as it is before it runs.
pub(crate) fn analyse(s: &Stmt, cat: &Catalog, engine: Engine) -> Impact {
    match engine {
        Engine::Postgres => postgres(s, cat),
        Engine::Mysql => mysql(s, cat),
        Engine::Sqlite => sqlite(s, cat),
    }
}

fn destroys_common(s: &Stmt, cat: &Catalog, im: &mut Impact) {
    match &s.kind {
        StmtKind::Drop {
            obj: Obj::Table,
            names,
            ..
        } => {
            for n in names.iter().filter(|n| cat.is_existing(n)) {
                im.destroys.push(format!("every row of {n}"));
            }
        }
        StmtKind::Drop {
            obj: Obj::Schema,
            names,
            cascade: true,
            ..
        } => {
            for n in names {
                im.destroys
                    .push(format!("every table in schema {}", n.name));
            }
        }
        StmtKind::Drop {
            obj: Obj::Database { .. },
            names,
            ..
        } => {
            for n in names {
                im.destroys.push(format!("database {}", n.name));
            }
        }
        StmtKind::Truncate { tables, .. } => {
            for n in tables.iter().filter(|n| cat.is_existing(n)) {
                im.destroys.push(format!("every row of {n}"));
            }
        }
        StmtKind::Delete {
            table, has_where, ..
        } if cat.is_existing(table) => {
            im.destroys.push(if *has_where {
                format!("the deleted rows of {table}")
            } else {
                format!("every row of {table}")
            });
        }
        StmtKind::Update { table, set, .. } if cat.is_existing(table) => {
            let cols: Vec<&str> = set
                .iter()
                .map(|(c, _)| c.as_str())
                .filter(|c| cat.column_has_old_data(table, c))
                .collect();
            if !cols.is_empty() {
                im.destroys.push(format!(
                    "the previous values of {table}.{}",
                    cols.join(", ")
                ));
            }
        }
        StmtKind::AlterTable {
            table, obj, cmds, ..
        } if obj.has_storage() && cat.is_existing(table) => {
            for c in cmds {
                match c {
                    AlterCmd::DropColumn { name, .. } if cat.column_has_old_data(table, name) => {
                        im.destroys.push(format!("column {table}.{name}"))
                    }
                    AlterCmd::ColumnType {
                        column, ty, using, ..
                    } => {
                        let old = cat.column(table, column).and_then(|c| c.ty.as_ref());
                        if type_change(old, ty, using.is_some()) == TypeChange::Narrowing {
                            im.destroys.push(format!(
                                "values of {table}.{column} that don't fit {}",
                                ty.display
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

fn postgres(s: &Stmt, cat: &Catalog) -> Impact {
    let mut im = Impact::default();
    destroys_common(s, cat, &mut im);
    match &s.kind {
        StmtKind::CreateTable {
            columns,
            constraints,
            as_select,
            partition_of,
            ..
        } => {
            for k in constraints
                .iter()
                .chain(columns.iter().flat_map(|c| c.constraints.iter()))
            {
                if let ConKind::ForeignKey { references, .. } = &k.kind {
                    im.lock(Lock::ShareRowExclusive, references);
                }
            }
            if let Some(p) = partition_of {
                im.lock(Lock::AccessExclusive, p);
            }
            im.scans = *as_select;
        }
        // A composite type's attributes: no query reads or writes the type itself, so its
        // lock holds nobody up.
        StmtKind::AlterTable { obj: Obj::Type, .. } => {}
        StmtKind::AlterTable {
            table, obj, cmds, ..
        } => {
            // Only stored rows are rewritten or scanned (not a foreign table's).
            let existing = obj.has_storage() && cat.is_existing(table);
            for c in cmds {
                match c {
                    AlterCmd::AddColumn { col, .. } => {
                        im.lock(Lock::AccessExclusive, table);
                        let volatile = col
                            .default
                            .as_ref()
                            .is_some_and(|d| d.funcs.iter().any(|(f, _)| is_volatile(f)));
                        if existing
                            && (volatile || col.serial || col.identity || col.generated_stored)
                        {
                            im.rewrites = true;
                        }
                        for k in &col.constraints {
                            add_constraint_lock(&mut im, table, k, existing);
                        }
                    }
                    AlterCmd::ColumnType {
                        column, ty, using, ..
                    } => {
                        im.lock(Lock::AccessExclusive, table);
                        let old = cat.column(table, column).and_then(|c| c.ty.as_ref());
                        if existing
                            && type_change(old, ty, using.is_some()) != TypeChange::NoRewrite
                        {
                            im.rewrites = true;
                        }
                    }
                    AlterCmd::SetNotNull { column } => {
                        im.lock(Lock::AccessExclusive, table);
                        if existing && !has_validated_not_null_check(cat, table, column) {
                            im.scans = true;
                        }
                    }
                    AlterCmd::AddConstraint(k) => add_constraint_lock(&mut im, table, k, existing),
                    AlterCmd::ValidateConstraint { .. } => {
                        im.lock(Lock::ShareUpdateExclusive, table);
                        im.scans = existing;
                    }
                    AlterCmd::Rewrite { .. } => {
                        im.lock(Lock::AccessExclusive, table);
                        im.rewrites = existing;
                    }
                    AlterCmd::AttachPartition { partition } => {
                        im.lock(Lock::ShareUpdateExclusive, table);
                        im.lock(Lock::AccessExclusive, partition);
                        im.scans = true;
                    }
                    AlterCmd::DetachPartition {
                        partition,
                        concurrently,
                    } => {
                        let l = if *concurrently {
                            Lock::ShareUpdateExclusive
                        } else {
                            Lock::AccessExclusive
                        };
                        im.lock(l, table);
                        im.lock(l, partition);
                    }
                    AlterCmd::Light { .. } => im.lock(Lock::ShareUpdateExclusive, table),
                    AlterCmd::Other {
                        share_row_exclusive: true,
                        ..
                    } => im.lock(Lock::ShareRowExclusive, table),
                    _ => im.lock(Lock::AccessExclusive, table),
                }
            }
        }
        StmtKind::CreateIndex {
            table,
            concurrently,
            ..
        } => {
            im.lock(
                if *concurrently {
                    Lock::ShareUpdateExclusive
                } else {
                    Lock::Share
                },
                table,
            );
            im.scans = true;
        }
        StmtKind::Drop {
            obj,
            names,
            concurrently,
            table,
            ..
        } => match obj {
            Obj::Table | Obj::ForeignTable | Obj::View | Obj::MatView => {
                for n in names {
                    im.lock(Lock::AccessExclusive, n);
                }
            }
            Obj::Index => {
                for n in names {
                    let table = cat
                        .indexes
                        .get(&n.key())
                        .map(|i| key_name(&i.table))
                        .unwrap_or_else(|| n.clone());
                    im.lock(
                        if *concurrently {
                            Lock::ShareUpdateExclusive
                        } else {
                            Lock::AccessExclusive
                        },
                        &table,
                    );
                }
            }
            // DROP TRIGGER / POLICY / RULE … ON t lock t (checked on PostgreSQL 15).
            _ => {
                if let Some(t) = table {
                    im.lock(Lock::AccessExclusive, t);
                }
            }
        },
        StmtKind::Rename {
            target, table, obj, ..
        } => {
            let t = table.clone().unwrap_or_else(|| target.clone());
            if matches!(
                obj,
                Obj::Table
                    | Obj::ForeignTable
                    | Obj::View
                    | Obj::MatView
                    | Obj::Index
                    | Obj::Sequence
                    | Obj::Constraint
                    | Obj::Trigger
            ) {
                im.lock(Lock::AccessExclusive, &t);
            }
        }
        StmtKind::Truncate { tables, .. } => {
            for t in tables {
                im.lock(Lock::AccessExclusive, t);
            }
        }
        StmtKind::Delete {
            table, has_where, ..
        } => {
            im.lock(Lock::RowExclusive, table);
            im.scans = !has_where;
        }
        StmtKind::Update {
            table, has_where, ..
        } => {
            im.lock(Lock::RowExclusive, table);
            im.scans = !has_where;
        }
        StmtKind::Insert { table, .. } => im.lock(Lock::RowExclusive, table),
        StmtKind::CreateView { materialized, .. } => im.scans = *materialized,
        StmtKind::Refresh { name, concurrently } => {
            im.lock(
                if *concurrently {
                    Lock::Exclusive
                } else {
                    Lock::AccessExclusive
                },
                name,
            );
            im.scans = true;
        }
        StmtKind::Reindex {
            table,
            concurrently,
            target,
        } => {
            let t = table
                .clone()
                .unwrap_or_else(|| Name::new(None, target.clone()));
            im.lock(
                if *concurrently {
                    Lock::ShareUpdateExclusive
                } else {
                    Lock::AccessExclusive
                },
                &t,
            );
            im.scans = true;
        }
        StmtKind::Cluster { table } => {
            im.lock(Lock::AccessExclusive, &table.clone().unwrap_or_default());
            im.rewrites = true;
        }
        StmtKind::Vacuum { full, tables } => {
            for t in tables {
                im.lock(
                    if *full {
                        Lock::AccessExclusive
                    } else {
                        Lock::ShareUpdateExclusive
                    },
                    t,
                );
            }
            if tables.is_empty() {
                im.lock = Some(if *full {
                    Lock::AccessExclusive
                } else {
                    Lock::ShareUpdateExclusive
                });
            }
            im.rewrites = *full;
            im.scans = true;
        }
        StmtKind::Create {
            obj: Obj::Trigger,
            table: Some(t),
            ..
        } => im.lock(Lock::ShareRowExclusive, t),
        StmtKind::AlterDomainAddConstraint { not_valid, .. } => im.scans = !not_valid,
        StmtKind::LockTable { tables, mode } => {
            for t in tables {
                im.lock(Lock::from_name(mode), t);
            }
        }
        _ => {}
    }
    im
}

fn key_name(key: &str) -> Name {
    match key.split_once('.') {
        Some(("public", n)) => Name::new(None, n),
        Some((s, n)) => Name::new(Some(s.to_string()), n),
        None => Name::new(None, key),
    }
}

fn add_constraint_lock(im: &mut Impact, table: &Name, k: &Constraint, existing: bool) {
    match &k.kind {
        ConKind::ForeignKey { references, .. } => {
            im.lock(Lock::ShareRowExclusive, table);
            im.lock(Lock::ShareRowExclusive, references);
            im.scans |= existing && !k.not_valid;
        }
        ConKind::Check { .. } => {
            im.lock(Lock::AccessExclusive, table);
            im.scans |= existing && !k.not_valid;
        }
        ConKind::Unique | ConKind::PrimaryKey | ConKind::Exclude => {
            im.lock(Lock::AccessExclusive, table);
            im.scans |= existing && k.using_index.is_none();
        }
        ConKind::NotNull => {
            im.lock(Lock::AccessExclusive, table);
            im.scans |= existing && !k.not_valid;
        }
    }
}

/// A valid `CHECK (col IS NOT NULL)` lets PostgreSQL 12+ skip SET NOT NULL's scan.
pub(crate) fn has_validated_not_null_check(cat: &Catalog, table: &Name, column: &str) -> bool {
    cat.table(table).is_some_and(|t| {
        t.constraints.iter().any(|k| {
            k.validated
                && matches!(&k.kind, ConKind::Check { not_null_of: Some(c), .. } if c == column)
        })
    })
}

fn mysql(s: &Stmt, cat: &Catalog) -> Impact {
    let mut im = Impact::default();
    destroys_common(s, cat, &mut im);
    match &s.kind {
        StmtKind::AlterTable { table, cmds, .. } => {
            let existing = cat.is_existing(table);
            let mut l = Lock::Metadata;
            for c in cmds {
                match c {
                    AlterCmd::ColumnType { column, ty, .. } => {
                        let old = cat.column(table, column).and_then(|c| c.ty.as_ref());
                        if existing && mysql_type_copies(old, ty) {
                            l = l.max(Lock::CopyShared);
                            im.rewrites = true;
                        }
                    }
                    AlterCmd::DropColumn { .. }
                    | AlterCmd::AddConstraint(Constraint {
                        kind: ConKind::PrimaryKey,
                        ..
                    }) => {
                        // Online (INPLACE) but the table is rebuilt.
                        im.rewrites = existing;
                    }
                    AlterCmd::AddConstraint(Constraint {
                        kind: ConKind::ForeignKey { references, .. },
                        ..
                    }) => {
                        im.scans = existing;
                        im.lock(Lock::Metadata, references);
                    }
                    AlterCmd::MysqlOption { option, value, .. } => {
                        let v = value.to_ascii_uppercase();
                        if option == "algorithm" && v == "COPY" {
                            l = l.max(Lock::CopyShared);
                            im.rewrites = true;
                        } else if option == "lock" && v == "EXCLUSIVE" {
                            l = l.max(Lock::MysqlExclusive);
                        } else if option == "lock" && v == "SHARED" {
                            l = l.max(Lock::CopyShared);
                        }
                    }
                    _ => {}
                }
            }
            im.lock(l, table);
        }
        StmtKind::CreateIndex { table, .. } => {
            im.lock(Lock::Metadata, table);
            im.scans = true;
        }
        StmtKind::Drop {
            obj: Obj::Table | Obj::View,
            names,
            ..
        }
        | StmtKind::Truncate { tables: names, .. } => {
            for n in names {
                im.lock(Lock::Metadata, n);
            }
        }
        StmtKind::Rename { target, table, .. } => im.lock(
            Lock::Metadata,
            &table.clone().unwrap_or_else(|| target.clone()),
        ),
        StmtKind::Delete {
            table, has_where, ..
        }
        | StmtKind::Update {
            table, has_where, ..
        } => {
            im.lock(Lock::RowExclusive, table);
            im.scans = !has_where;
        }
        StmtKind::Insert { table, .. } => im.lock(Lock::RowExclusive, table),
        StmtKind::LockTable { tables, mode } => {
            for t in tables {
                im.lock(
                    if mode.contains("WRITE") {
                        Lock::MysqlExclusive
                    } else {
                        Lock::CopyShared
                    },
                    t,
                );
            }
        }
        _ => {}
    }
    im
}

/// InnoDB changes a column type in place only for VARCHAR growth within the same length-byte class.
fn mysql_type_copies(old: Option<&TypeName>, new: &TypeName) -> bool {
    match old {
        Some(o) if o.name == new.name && o.mods == new.mods => false,
        Some(o) if o.name == "varchar" && new.name == "varchar" => {
            match (o.mods.first(), new.mods.first()) {
                (Some(a), Some(b)) => !(b >= a && ((*a <= 255) == (*b <= 255))),
                _ => true,
            }
        }
        _ => true,
    }
}

fn sqlite(s: &Stmt, cat: &Catalog) -> Impact {
    let mut im = Impact::default();
    destroys_common(s, cat, &mut im);
    let writes = !matches!(
        s.kind,
        StmtKind::Select { .. }
            | StmtKind::Transaction { .. }
            | StmtKind::Pragma { .. }
            | StmtKind::Set { .. }
    );
    let target: Option<Name> = match &s.kind {
        StmtKind::CreateTable { table, .. }
        | StmtKind::AlterTable { table, .. }
        | StmtKind::CreateIndex { table, .. } => Some(table.clone()),
        StmtKind::Delete { table, .. }
        | StmtKind::Update { table, .. }
        | StmtKind::Insert { table, .. } => Some(table.clone()),
        StmtKind::Drop { names, .. } | StmtKind::Truncate { tables: names, .. } => {
            names.first().cloned()
        }
        StmtKind::Rename { target, .. } => Some(target.clone()),
        _ => None,
    };
    if writes {
        im.lock(Lock::DatabaseWrite, &target.unwrap_or_default());
    }
    match &s.kind {
        StmtKind::CreateIndex { .. } => im.scans = true,
        StmtKind::Delete { has_where, .. } | StmtKind::Update { has_where, .. } => {
            im.scans = !has_where
        }
        StmtKind::Insert {
            from_select: true, ..
        }
        | StmtKind::CreateTable {
            as_select: true, ..
        } => im.scans = true,
        StmtKind::Vacuum { .. } => {
            im.rewrites = true;
            im.lock = Some(Lock::DatabaseWrite);
        }
        _ => {}
    }
    im
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, mods: &[i64]) -> TypeName {
        TypeName {
            name: name.into(),
            mods: mods.to_vec(),
            array: false,
            display: name.into(),
        }
    }

    #[test]
    fn binary_coercible_changes_do_not_rewrite() {
        assert_eq!(
            type_change(Some(&t("varchar", &[20])), &t("varchar", &[40]), false),
            TypeChange::NoRewrite
        );
        assert_eq!(
            type_change(Some(&t("varchar", &[20])), &t("text", &[]), false),
            TypeChange::NoRewrite
        );
        assert_eq!(
            type_change(
                Some(&t("numeric", &[10, 2])),
                &t("numeric", &[12, 2]),
                false
            ),
            TypeChange::NoRewrite
        );
        assert_eq!(
            type_change(Some(&t("varchar", &[40])), &t("varchar", &[20]), false),
            TypeChange::Narrowing
        );
        assert_eq!(
            type_change(Some(&t("int4", &[])), &t("int8", &[]), false),
            TypeChange::Rewrite
        );
        assert_eq!(
            type_change(Some(&t("int8", &[])), &t("int4", &[]), false),
            TypeChange::Narrowing
        );
        assert_eq!(
            type_change(None, &t("text", &[]), false),
            TypeChange::Unknown
        );
        assert_eq!(
            type_change(None, &t("int8", &[]), false),
            TypeChange::Rewrite
        );
    }
}
