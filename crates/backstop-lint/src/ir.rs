//! The engine-neutral shape of a statement that rules read. [`crate::pg`] builds it from
//! PostgreSQL's own parse tree; [`crate::lite`] builds a coarser one from tokens for SQLite
//! and MySQL/MariaDB. Rules never see a parser's types, so one rule can serve every engine.

use std::ops::Range;

/// A possibly schema-qualified object name. Unquoted names are lower-cased by the parsers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub(crate) struct Name {
    pub schema: Option<String>,
    /// As written (quoted names keep their case), for messages.
    pub name: String,
    /// The engine resolves this name ignoring ASCII case even when it is quoted (SQLite:
    /// `"Users"`, `USERS` and `users` are one table), so its key is case-folded. PostgreSQL
    /// names are exact once the parser has folded the unquoted ones.
    pub nocase: bool,
}

impl Name {
    pub fn new(schema: Option<String>, name: impl Into<String>) -> Self {
        Name {
            schema: schema.filter(|s| !s.is_empty()),
            name: name.into(),
            nocase: false,
        }
    }
    /// Another name in the same schema, resolved by the same rules (an index named after
    /// its table, a table's new name after a rename).
    pub fn sibling(&self, name: impl Into<String>) -> Self {
        Name {
            nocase: self.nocase,
            ..Name::new(self.schema.clone(), name)
        }
    }
    /// The catalog key: schema-qualified, unqualified names in `public` for PostgreSQL
    /// (and in the unnamed main schema elsewhere); case-folded when the engine resolves
    /// names ignoring case, so every spelling of one object finds the same entry.
    pub fn key(&self) -> String {
        let key = match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => format!("public.{}", self.name),
        };
        if self.nocase {
            key.to_ascii_lowercase()
        } else {
            key
        }
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A column type, normalised: `int4`, `int8`, `varchar`, `numeric`, `timestamptz`, …
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct TypeName {
    /// Lower-case base name without schema (`pg_catalog.` dropped).
    pub name: String,
    /// Type modifiers: `varchar(20)` → `[20]`, `numeric(10,2)` → `[10, 2]`.
    pub mods: Vec<i64>,
    pub array: bool,
    /// As written, for messages.
    pub display: String,
}

/// What we know about an expression without evaluating it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Expr {
    /// Functions called (lower-case, schema dropped) with their byte offset in the script.
    pub funcs: Vec<(String, usize)>,
    /// Columns referenced (last name part).
    pub columns: Vec<String>,
    /// Contains a sub-query.
    pub subquery: bool,
    /// The expression's text, for messages.
    pub text: String,
    /// Byte offset of the expression in the script, when known.
    pub at: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnDef {
    pub name: String,
    pub ty: Option<TypeName>,
    pub not_null: bool,
    pub default: Option<Expr>,
    /// `GENERATED … AS IDENTITY`.
    pub identity: bool,
    /// `GENERATED ALWAYS AS (…) STORED`.
    pub generated_stored: bool,
    /// `serial`, `bigserial`, `smallserial` (PostgreSQL) or `AUTO_INCREMENT` (MySQL).
    pub serial: bool,
    /// Inline constraints: PRIMARY KEY, UNIQUE, REFERENCES, CHECK.
    pub constraints: Vec<Constraint>,
    /// Byte offset of the column name in the script.
    pub at: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConKind {
    Check {
        expr: Expr,
        not_null_of: Option<String>,
    },
    ForeignKey {
        references: Name,
        ref_columns: Vec<String>,
        /// `ON DELETE` action, upper case with single spaces (`CASCADE`, `SET NULL`, …);
        /// `None` when the clause is absent (NO ACTION).
        on_delete: Option<String>,
    },
    Unique,
    PrimaryKey,
    Exclude,
    NotNull,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Constraint {
    pub name: Option<String>,
    pub kind: ConKind,
    pub columns: Vec<String>,
    pub not_valid: bool,
    /// `… USING INDEX idx`.
    pub using_index: Option<String>,
    pub at: usize,
}

/// Kinds of named objects, for drops, renames and reversibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Obj {
    Table,
    /// Its rows live on another server: dropping it loses none of them.
    ForeignTable,
    View,
    MatView,
    Index,
    Sequence,
    Schema,
    Type,
    Domain,
    Function,
    Procedure,
    Aggregate,
    /// `DROP/ALTER ROUTINE`: a function, procedure or aggregate, whichever it is.
    Routine,
    Trigger,
    Extension,
    /// `as_schema`: written `SCHEMA`, MySQL's synonym of `DATABASE`; messages keep the
    /// script's word.
    Database {
        as_schema: bool,
    },
    Constraint,
    /// A kind no rule models (policy, rule, collation, role, …): its SQL words, for messages.
    Other(&'static str),
}

impl Obj {
    pub fn sql(self) -> &'static str {
        match self {
            Obj::Table => "TABLE",
            Obj::ForeignTable => "FOREIGN TABLE",
            Obj::View => "VIEW",
            Obj::MatView => "MATERIALIZED VIEW",
            Obj::Index => "INDEX",
            Obj::Sequence => "SEQUENCE",
            Obj::Schema => "SCHEMA",
            Obj::Type => "TYPE",
            Obj::Domain => "DOMAIN",
            Obj::Function => "FUNCTION",
            Obj::Procedure => "PROCEDURE",
            Obj::Aggregate => "AGGREGATE",
            Obj::Routine => "ROUTINE",
            Obj::Trigger => "TRIGGER",
            Obj::Extension => "EXTENSION",
            Obj::Database { as_schema: false } => "DATABASE",
            Obj::Database { as_schema: true } => "SCHEMA",
            Obj::Constraint => "CONSTRAINT",
            Obj::Other(words) => words,
        }
    }
    /// Whether a statement about a `self` addresses an object made as `other`: the same
    /// kind, or a ROUTINE, which stands for any function, procedure or aggregate.
    pub fn same_kind(self, other: Obj) -> bool {
        const ROUTINES: [Obj; 3] = [Obj::Function, Obj::Procedure, Obj::Aggregate];
        self == other
            || (self == Obj::Routine && ROUTINES.contains(&other))
            || (other == Obj::Routine && ROUTINES.contains(&self))
    }
    /// Has storage here that altering it can rewrite or scan: a table, materialized view
    /// or index. A foreign table's rows live on another server; a view or composite type
    /// stores nothing.
    pub fn has_storage(self) -> bool {
        matches!(self, Obj::Table | Obj::MatView | Obj::Index)
    }
    /// A table, whose indexes, triggers, constraints and columns go with it.
    pub fn is_table(self) -> bool {
        matches!(self, Obj::Table | Obj::ForeignTable)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AlterCmd {
    AddColumn {
        col: ColumnDef,
        if_not_exists: bool,
    },
    DropColumn {
        name: String,
        if_exists: bool,
        cascade: bool,
    },
    /// Also MySQL `MODIFY`/`CHANGE` with a type.
    ColumnType {
        column: String,
        ty: TypeName,
        using: Option<Expr>,
        at: usize,
    },
    SetNotNull {
        column: String,
    },
    DropNotNull {
        column: String,
    },
    SetDefault {
        column: String,
        expr: Option<Expr>,
    },
    AddConstraint(Constraint),
    ValidateConstraint {
        name: String,
    },
    /// MySQL `ADD [FULLTEXT|SPATIAL] INDEX|KEY [name] (…)`: an index named per table (after
    /// its first column when unnamed).
    AddIndex {
        name: String,
    },
    /// MySQL `DROP INDEX|KEY name`.
    DropIndex {
        name: String,
    },
    DropConstraint {
        name: String,
        if_exists: bool,
        cascade: bool,
    },
    /// SET TABLESPACE, SET LOGGED/UNLOGGED, SET ACCESS METHOD: rewrite under ACCESS EXCLUSIVE.
    Rewrite {
        what: &'static str,
    },
    AttachPartition {
        partition: Name,
    },
    DetachPartition {
        partition: Name,
        concurrently: bool,
    },
    /// Triggers, REPLICA IDENTITY, row security, inheritance: SHARE ROW EXCLUSIVE or ACCESS EXCLUSIVE, brief.
    Other {
        what: String,
        share_row_exclusive: bool,
    },
    /// SET STATISTICS, SET (storage params), CLUSTER ON: SHARE UPDATE EXCLUSIVE.
    Light {
        what: String,
    },
    /// MySQL `ALGORITHM=COPY` / `LOCK=SHARED|EXCLUSIVE`.
    MysqlOption {
        option: String,
        value: String,
        at: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxKind {
    Begin,
    Commit,
    Rollback,
    Savepoint,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StmtKind {
    CreateTable {
        table: Name,
        if_not_exists: bool,
        columns: Vec<ColumnDef>,
        constraints: Vec<Constraint>,
        as_select: bool,
        temporary: bool,
        partition_of: Option<Name>,
    },
    AlterTable {
        table: Name,
        obj: Obj,
        if_exists: bool,
        cmds: Vec<AlterCmd>,
    },
    CreateIndex {
        /// As written; `None` when the statement lets the engine choose it.
        name: Option<Name>,
        /// `name`, or the name the engine chooses for an index created without one.
        resolved: Name,
        table: Name,
        unique: bool,
        concurrently: bool,
        if_not_exists: bool,
        columns: Vec<String>,
    },
    Drop {
        obj: Obj,
        names: Vec<Name>,
        /// The table the dropped object belongs to, for objects named per table
        /// (PostgreSQL `DROP TRIGGER tr ON t`, `DROP POLICY`, `DROP RULE`).
        table: Option<Name>,
        if_exists: bool,
        cascade: bool,
        concurrently: bool,
    },
    /// `table` is the relation for triggers/constraints/columns; `column` set for column renames.
    Rename {
        obj: Obj,
        target: Name,
        column: Option<String>,
        new_name: String,
        table: Option<Name>,
    },
    Truncate {
        tables: Vec<Name>,
        cascade: bool,
    },
    Delete {
        table: Name,
        has_where: bool,
        exprs: Vec<Expr>,
    },
    Update {
        table: Name,
        has_where: bool,
        set: Vec<(String, Expr)>,
        exprs: Vec<Expr>,
    },
    Insert {
        table: Name,
        from_select: bool,
        exprs: Vec<Expr>,
    },
    /// Plain SELECT and other read-only queries.
    Select {
        exprs: Vec<Expr>,
    },
    CreateView {
        name: Name,
        materialized: bool,
        replace: bool,
        tables: Vec<Name>,
        columns: Vec<String>,
        star: bool,
        if_not_exists: bool,
    },
    Refresh {
        name: Name,
        concurrently: bool,
    },
    Reindex {
        target: String,
        table: Option<Name>,
        concurrently: bool,
    },
    Cluster {
        table: Option<Name>,
    },
    Vacuum {
        full: bool,
        tables: Vec<Name>,
    },
    Transaction {
        kind: TxKind,
        word: String,
    },
    Set {
        name: String,
        value: String,
        local: bool,
        /// `SET … TO DEFAULT`, `RESET …` or `RESET ALL` (`name` "all"): back to whatever
        /// the server, database or role sets, which the script doesn't show.
        reset: bool,
    },
    /// Schemas, sequences, types, domains, functions, triggers, extensions, databases.
    Create {
        obj: Obj,
        name: Name,
        if_not_exists: bool,
        or_replace: bool,
        table: Option<Name>,
        domain_check: bool,
    },
    AlterEnumAddValue {
        ty: Name,
        value: String,
        if_not_exists: bool,
        ordered: bool,
    },
    /// `ALTER TYPE ty RENAME VALUE 'old' TO 'new'`.
    RenameEnumValue {
        ty: Name,
        old: String,
        new: String,
    },
    AlterDomainAddConstraint {
        domain: Name,
        not_valid: bool,
    },
    LockTable {
        tables: Vec<Name>,
        mode: String,
    },
    /// SQLite `PRAGMA name = value`.
    Pragma {
        name: String,
        value: String,
    },
    /// Anything else: the statement's leading keywords (`GRANT`, `COMMENT ON`, …).
    Other {
        tag: String,
    },
}

/// One analysed statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stmt {
    /// Byte range in the script, without the terminating `;`.
    pub span: Range<usize>,
    pub kind: StmtKind,
    /// The run-time settings it changes, in the order it changes them (PostgreSQL only).
    pub settings: Vec<SettingChange>,
}

/// A change to a run-time setting: `SET`, `RESET`, `DISCARD ALL`, a call of `set_config`,
/// or one of these inside a DO block (run there, or by its `EXECUTE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SettingChange {
    pub setting: Setting,
    pub value: SettingValue,
    /// `SET LOCAL`, `set_config(…, true)`: until the transaction ends. `None`: decided
    /// when it runs.
    pub local: Option<bool>,
    /// Why it may not happen, or not last, when that depends on the run: it sits inside a
    /// DO block's IF or loop, in a block that catches errors (which undoes it when one is
    /// caught), or in a query that may return no row.
    pub condition: Option<&'static str>,
    /// Made by a command built at run time (`EXECUTE` of a computed string): what it
    /// changes, and to what, is known only then.
    pub dynamic: bool,
    /// Inside a DO block.
    pub in_do: bool,
    /// How it is written, for messages: `set_config('lock_timeout', '0', false)`,
    /// `RESET ALL`, `EXECUTE 'SET lock_timeout = ' || v`.
    pub how: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Setting {
    /// Lower case, as PostgreSQL compares names.
    Named(String),
    /// `RESET ALL`, `DISCARD ALL`.
    All,
    /// Computed when it runs.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SettingValue {
    /// The value as written, unquoted.
    To(String),
    /// Back to whatever the server, database or role sets (`RESET`, `SET … TO DEFAULT`,
    /// `set_config(…, NULL, …)`), which the script doesn't show.
    Default,
    /// Computed when it runs.
    Unknown,
}

impl StmtKind {
    /// The statement's leading words, for messages: `DROP TABLE`, `ALTER TABLE`, `UPDATE`.
    pub fn verb(&self) -> String {
        match self {
            StmtKind::CreateTable { .. } => "CREATE TABLE".into(),
            StmtKind::AlterTable { obj, .. } => format!("ALTER {}", obj.sql()),
            StmtKind::CreateIndex { .. } => "CREATE INDEX".into(),
            StmtKind::Drop { obj, .. } => format!("DROP {}", obj.sql()),
            StmtKind::Rename { obj, .. } => format!("ALTER {} … RENAME", obj.sql()),
            StmtKind::Truncate { .. } => "TRUNCATE".into(),
            StmtKind::Delete { .. } => "DELETE".into(),
            StmtKind::Update { .. } => "UPDATE".into(),
            StmtKind::Insert { .. } => "INSERT".into(),
            StmtKind::Select { .. } => "SELECT".into(),
            StmtKind::CreateView {
                materialized: true, ..
            } => "CREATE MATERIALIZED VIEW".into(),
            StmtKind::CreateView { .. } => "CREATE VIEW".into(),
            StmtKind::Refresh { .. } => "REFRESH MATERIALIZED VIEW".into(),
            StmtKind::Reindex { .. } => "REINDEX".into(),
            StmtKind::Cluster { .. } => "CLUSTER".into(),
            StmtKind::Vacuum { .. } => "VACUUM".into(),
            StmtKind::Transaction { word, .. } => word.clone(),
            StmtKind::Set { .. } => "SET".into(),
            StmtKind::Create { obj, .. } => format!("CREATE {}", obj.sql()),
            StmtKind::AlterEnumAddValue { .. } => "ALTER TYPE … ADD VALUE".into(),
            StmtKind::RenameEnumValue { .. } => "ALTER TYPE … RENAME VALUE".into(),
            StmtKind::AlterDomainAddConstraint { .. } => "ALTER DOMAIN … ADD CONSTRAINT".into(),
            StmtKind::LockTable { .. } => "LOCK TABLE".into(),
            StmtKind::Pragma { .. } => "PRAGMA".into(),
            StmtKind::Other { tag } => tag.clone(),
        }
    }
}
