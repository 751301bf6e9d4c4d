//! A schema model built by replaying the migrations in order. It lets rules know what the
//! SQL alone doesn't say: a column's old type, whether a table is new in this migration,
//! which views read a column, which constraint an index backs.
//!
//! It only knows what the migrations being linted created; an object it has never seen is
//! "unknown", and rules treat unknown conservatively (no finding where the answer depends
//! on it, unless the statement is risky whatever the answer).

use crate::ir::*;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::rc::Rc;

/// A table's key as messages name it: without `public.`.
fn short(key: &str) -> String {
    key.strip_prefix("public.").unwrap_or(key).to_string()
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Column {
    pub name: String,
    pub ty: Option<TypeName>,
    pub not_null: bool,
    pub has_default: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Con {
    pub name: String,
    pub kind: ConKind,
    pub columns: Vec<String>,
    pub validated: bool,
    pub index: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    pub columns: Vec<Column>,
    pub constraints: Vec<Con>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
    fn column_mut(&mut self, name: &str) -> Option<&mut Column> {
        self.columns.iter_mut().find(|c| c.name == name)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Index {
    pub table: String,
    pub unique: bool,
    /// Backs the table's primary key.
    pub primary: bool,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct View {
    pub tables: Vec<String>,
    pub columns: Vec<String>,
    /// Columns of the tables read with `*`, as they were when the view was created.
    pub star_columns: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    /// Copy-on-write, maps and tables alike: the model is cloned per script (down/verify
    /// see the schema after up), so a clone costs nothing until it changes, and then
    /// copies only the map it changes, sharing every table it doesn't.
    pub tables: Rc<BTreeMap<String, Rc<Table>>>,
    pub indexes: Rc<BTreeMap<String, Index>>,
    pub views: Rc<BTreeMap<String, View>>,
    pub schemas: BTreeSet<String>,
    /// Keys of tables (and indexes, types) created in the migration being analysed.
    pub fresh: HashSet<String>,
    /// Enum values added in the current transaction: (type key, value).
    pub new_enum_values: Vec<(String, String)>,
    /// Columns added in the migration being analysed: (table key, column).
    pub fresh_columns: HashSet<(String, String)>,
}

impl Catalog {
    /// Start a new migration: nothing is fresh any more.
    pub fn begin_migration(&mut self) {
        self.fresh.clear();
        self.new_enum_values.clear();
        self.fresh_columns.clear();
    }

    pub fn table(&self, n: &Name) -> Option<&Table> {
        self.tables.get(&n.key()).map(|t| &**t)
    }

    /// A table that existed before this migration (known or not): the one that matters
    /// for locks, since only such a table can be large and busy.
    pub fn is_existing(&self, n: &Name) -> bool {
        !self.fresh.contains(&n.key())
    }

    /// A column that held data before this migration (true when unknown).
    pub fn column_has_old_data(&self, t: &Name, c: &str) -> bool {
        self.is_existing(t) && !self.fresh_columns.contains(&(t.key(), c.to_string()))
    }

    pub fn column(&self, t: &Name, c: &str) -> Option<&Column> {
        self.table(t).and_then(|t| t.column(c))
    }

    /// Views that read `column` of `table`, by name.
    pub fn views_using_column(&self, table: &Name, column: &str) -> Vec<String> {
        let key = table.key();
        self.views
            .iter()
            .filter(|(_, v)| {
                v.tables.contains(&key)
                    && (v.columns.iter().any(|c| c == column)
                        || v.star_columns.iter().any(|(t, c)| *t == key && c == column))
            })
            .map(|(k, _)| k.strip_prefix("public.").unwrap_or(k).to_string())
            .collect()
    }

    /// Foreign keys of other tables that point at `table` with an ON DELETE action that
    /// changes their rows (CASCADE, SET NULL, SET DEFAULT), followed through CASCADE:
    /// deleting a child's rows runs its own children's actions in turn. Each as
    /// (referencing table, action, the table whose delete reaches it when that is not
    /// `table` itself), children before grandchildren, each table once: CASCADE when any
    /// path deletes its rows, else the first action that reaches it. Foreign keys from
    /// earlier migrations count, since the model replays them.
    pub fn delete_actions_on(&self, table: &Name) -> Vec<(String, String, Option<String>)> {
        let start = table.key();
        // The tables whose rows the delete removes: `table`'s, and through CASCADE those of
        // every table it reaches, each with the table whose delete reaches it first and the
        // actions of the foreign keys pointing at it.
        // (table, the table whose delete reaches it, the actions pointing at it)
        type Deleted = (String, Option<String>, Vec<(String, String)>);
        let mut deleted: Vec<Deleted> =
            vec![(start.clone(), None, self.direct_delete_actions(&start))];
        let mut seen: HashSet<String> = HashSet::from([start.clone()]);
        let mut i = 0;
        while let Some((key, _, actions)) = deleted.get(i) {
            let via = (*key != start).then(|| short(key));
            let next: Vec<String> = actions
                .iter()
                .filter(|(child, action)| action == "CASCADE" && seen.insert(child.clone()))
                .map(|(child, _)| child.clone())
                .collect();
            i += 1;
            for child in next {
                let actions = self.direct_delete_actions(&child);
                deleted.push((child, via.clone(), actions));
            }
        }
        // Every table an action reaches, in that order: CASCADE for those whose rows go
        // (a table reached through SET NULL first and through CASCADE later loses its rows
        // all the same), else the action of the first deleted table that reaches it.
        let mut out: Vec<(String, String, Option<String>)> = Vec::new();
        let mut named: HashSet<String> = HashSet::from([start.clone()]);
        for (key, _, actions) in &deleted {
            for (child, action) in actions {
                if !named.insert(child.clone()) {
                    continue;
                }
                match deleted.iter().find(|(d, _, _)| d == child) {
                    Some((_, via, _)) => out.push((short(child), "CASCADE".into(), via.clone())),
                    None => out.push((
                        short(child),
                        action.clone(),
                        (*key != start).then(|| short(key)),
                    )),
                }
            }
        }
        out
    }

    /// The ON DELETE actions that change rows of the tables referencing the table `key`
    /// directly: (referencing table's key, action), sorted.
    fn direct_delete_actions(&self, key: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .tables
            .iter()
            .filter(|(tk, _)| tk.as_str() != key)
            .flat_map(|(tk, t)| {
                t.constraints.iter().filter_map(move |k| match &k.kind {
                    ConKind::ForeignKey {
                        references,
                        on_delete: Some(action),
                        ..
                    } if references.key() == key
                        && matches!(action.as_str(), "CASCADE" | "SET NULL" | "SET DEFAULT") =>
                    {
                        Some((tk.clone(), action.clone()))
                    }
                    _ => None,
                })
            })
            .collect();
        out.sort();
        out.dedup_by(|a, b| a.0 == b.0);
        out
    }

    /// Apply one statement's effect.
    pub fn apply(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::CreateTable {
                table,
                columns,
                constraints,
                ..
            } => {
                let key = table.key();
                if self.tables.contains_key(&key) && !self.fresh.contains(&key) {
                    // CREATE TABLE IF NOT EXISTS of a known table: keep what we know.
                    return;
                }
                let mut t = Table::default();
                for c in columns {
                    t.columns.push(col_of(c));
                    for k in &c.constraints {
                        add_con(&mut t, Rc::make_mut(&mut self.indexes), table, k);
                    }
                }
                for k in constraints {
                    add_con(&mut t, Rc::make_mut(&mut self.indexes), table, k);
                }
                for k in constraints {
                    if matches!(k.kind, ConKind::PrimaryKey) {
                        for c in &k.columns {
                            if let Some(col) = t.column_mut(c) {
                                col.not_null = true;
                            }
                        }
                    }
                }
                Rc::make_mut(&mut self.tables).insert(key.clone(), Rc::new(t));
                self.fresh.insert(key);
            }
            StmtKind::AlterTable { table, cmds, .. } => {
                let key = table.key();
                let mut t = Rc::make_mut(&mut self.tables)
                    .remove(&key)
                    .map(Rc::unwrap_or_clone)
                    .unwrap_or_default();
                let known = !t.columns.is_empty() || !t.constraints.is_empty();
                for c in cmds {
                    match c {
                        AlterCmd::AddColumn { col, .. } => {
                            self.fresh_columns.insert((key.clone(), col.name.clone()));
                            t.columns.retain(|x| x.name != col.name);
                            t.columns.push(col_of(col));
                            for k in &col.constraints {
                                add_con(&mut t, Rc::make_mut(&mut self.indexes), table, k);
                            }
                        }
                        AlterCmd::DropColumn { name, .. } => {
                            t.columns.retain(|x| x.name != *name);
                            t.constraints.retain(|k| !k.columns.contains(name));
                        }
                        AlterCmd::ColumnType { column, ty, .. } => {
                            if let Some(c) = t.column_mut(column) {
                                c.ty = Some(ty.clone());
                            }
                        }
                        AlterCmd::SetNotNull { column } => {
                            if let Some(c) = t.column_mut(column) {
                                c.not_null = true;
                            }
                        }
                        AlterCmd::DropNotNull { column } => {
                            if let Some(c) = t.column_mut(column) {
                                c.not_null = false;
                            }
                        }
                        AlterCmd::SetDefault { column, expr } => {
                            if let Some(c) = t.column_mut(column) {
                                c.has_default = expr.is_some();
                            }
                        }
                        AlterCmd::AddConstraint(k) => {
                            add_con(&mut t, Rc::make_mut(&mut self.indexes), table, k)
                        }
                        AlterCmd::ValidateConstraint { name } => {
                            for k in t.constraints.iter_mut().filter(|k| k.name == *name) {
                                k.validated = true;
                            }
                        }
                        // A MySQL unique key is an index: DROP INDEX removes it too.
                        AlterCmd::DropConstraint { name, .. } | AlterCmd::DropIndex { name } => {
                            t.constraints.retain(|k| k.name != *name)
                        }
                        _ => {}
                    }
                }
                if known || !t.columns.is_empty() || !t.constraints.is_empty() {
                    Rc::make_mut(&mut self.tables).insert(key, Rc::new(t));
                }
            }
            StmtKind::CreateIndex {
                resolved: iname,
                table,
                unique,
                columns,
                ..
            } => {
                Rc::make_mut(&mut self.indexes).insert(
                    iname.key(),
                    Index {
                        table: table.key(),
                        unique: *unique,
                        primary: false,
                        columns: columns.clone(),
                    },
                );
                self.fresh.insert(iname.key());
            }
            StmtKind::Drop { obj, names, .. } => {
                for n in names {
                    let key = n.key();
                    match obj {
                        Obj::Table => {
                            Rc::make_mut(&mut self.tables).remove(&key);
                            Rc::make_mut(&mut self.indexes).retain(|_, i| i.table != key);
                        }
                        Obj::View | Obj::MatView => {
                            Rc::make_mut(&mut self.views).remove(&key);
                        }
                        Obj::Index => {
                            Rc::make_mut(&mut self.indexes).remove(&key);
                        }
                        Obj::Schema => {
                            self.schemas.remove(&n.name);
                            let prefix = format!("{}.", n.name);
                            Rc::make_mut(&mut self.tables).retain(|k, _| !k.starts_with(&prefix));
                            Rc::make_mut(&mut self.views).retain(|k, _| !k.starts_with(&prefix));
                            Rc::make_mut(&mut self.indexes).retain(|k, _| !k.starts_with(&prefix));
                        }
                        _ => {}
                    }
                }
            }
            StmtKind::Rename {
                obj,
                target,
                column,
                new_name,
                ..
            } => {
                let key = target.key();
                let new_key = target.sibling(new_name.clone()).key();
                match (obj, column) {
                    (Obj::Table | Obj::View | Obj::MatView, Some(col)) => {
                        if let Some(t) = Rc::make_mut(&mut self.tables)
                            .get_mut(&key)
                            .map(Rc::make_mut)
                        {
                            if let Some(c) = t.column_mut(col) {
                                c.name = new_name.clone();
                            }
                        }
                    }
                    (Obj::Table, None) => {
                        if let Some(t) = Rc::make_mut(&mut self.tables).remove(&key) {
                            Rc::make_mut(&mut self.tables).insert(new_key.clone(), t);
                        }
                        // Foreign keys follow the table they reference (PostgreSQL by OID;
                        // SQLite rewrites the other tables' REFERENCES clauses).
                        let renamed = target.sibling(new_name.clone());
                        for t in Rc::make_mut(&mut self.tables).values_mut() {
                            let points_here = t.constraints.iter().any(|k| {
                                matches!(&k.kind, ConKind::ForeignKey { references, .. } if references.key() == key)
                            });
                            if points_here {
                                for k in Rc::make_mut(t).constraints.iter_mut() {
                                    if let ConKind::ForeignKey { references, .. } = &mut k.kind {
                                        if references.key() == key {
                                            *references = renamed.clone();
                                        }
                                    }
                                }
                            }
                        }
                        for i in Rc::make_mut(&mut self.indexes)
                            .values_mut()
                            .filter(|i| i.table == key)
                        {
                            i.table = new_key.clone();
                        }
                        if self.fresh.remove(&key) {
                            self.fresh.insert(new_key);
                        }
                    }
                    (Obj::View | Obj::MatView, None) => {
                        if let Some(v) = Rc::make_mut(&mut self.views).remove(&key) {
                            Rc::make_mut(&mut self.views).insert(new_key, v);
                        }
                    }
                    (Obj::Index, None) => {
                        if let Some(i) = Rc::make_mut(&mut self.indexes).remove(&key) {
                            Rc::make_mut(&mut self.indexes).insert(new_key, i);
                        }
                    }
                    (Obj::Schema, None) => {
                        self.schemas.remove(&target.name);
                        self.schemas.insert(new_name.clone());
                    }
                    _ => {}
                }
            }
            StmtKind::CreateView {
                name,
                tables,
                columns,
                star,
                ..
            } => {
                let tables: Vec<String> = tables.iter().map(Name::key).collect();
                let star_columns = if *star {
                    tables
                        .iter()
                        .flat_map(|t| {
                            self.tables.get(t).into_iter().flat_map(move |tb| {
                                tb.columns.iter().map(move |c| (t.clone(), c.name.clone()))
                            })
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                Rc::make_mut(&mut self.views).insert(
                    name.key(),
                    View {
                        tables,
                        columns: columns.clone(),
                        star_columns,
                    },
                );
                self.fresh.insert(name.key());
            }
            StmtKind::Create { obj, name, .. } => {
                if *obj == Obj::Schema {
                    self.schemas.insert(name.name.clone());
                }
                self.fresh.insert(name.key());
            }
            StmtKind::AlterEnumAddValue { ty, value, .. } => {
                self.new_enum_values.push((ty.key(), value.clone()))
            }
            StmtKind::Transaction {
                kind: TxKind::Commit,
                ..
            } => self.new_enum_values.clear(),
            _ => {}
        }
    }

    /// The constraint `name` on `table` and whether an index of that name backs it.
    pub fn index_dependents(&self, index: &Name) -> Vec<String> {
        let key = index.key();
        let Some(idx) = self.indexes.get(&key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(t) = self.tables.get(&idx.table) {
            for k in &t.constraints {
                if k.index.as_deref() == Some(index.name.as_str())
                    || (k.name == index.name
                        && matches!(k.kind, ConKind::PrimaryKey | ConKind::Unique))
                {
                    out.push(format!("constraint {}", k.name));
                }
            }
        }
        if idx.unique {
            // Foreign keys that reference exactly the indexed columns depend on the index.
            for (tk, t) in self.tables.iter() {
                for k in &t.constraints {
                    if let ConKind::ForeignKey {
                        references,
                        ref_columns,
                        ..
                    } = &k.kind
                    {
                        let uses = if ref_columns.is_empty() {
                            idx.primary
                        } else {
                            *ref_columns == idx.columns
                        };
                        if references.key() == idx.table && uses {
                            out.push(format!(
                                "foreign key {} on {}",
                                k.name,
                                tk.strip_prefix("public.").unwrap_or(tk)
                            ));
                        }
                    }
                }
            }
        }
        out
    }
}

fn col_of(c: &ColumnDef) -> Column {
    Column {
        name: c.name.clone(),
        ty: c.ty.clone(),
        not_null: c.not_null
            || c.constraints
                .iter()
                .any(|k| matches!(k.kind, ConKind::PrimaryKey)),
        has_default: c.default.is_some() || c.identity || c.serial || c.generated_stored,
    }
}

fn add_con(t: &mut Table, indexes: &mut BTreeMap<String, Index>, table: &Name, k: &Constraint) {
    let name = k.name.clone().unwrap_or_else(|| default_con_name(table, k));
    if matches!(k.kind, ConKind::PrimaryKey | ConKind::Unique) {
        let iname = k.using_index.clone().unwrap_or_else(|| name.clone());
        let ikey = table.sibling(iname).key();
        let columns = if k.columns.is_empty() {
            indexes
                .get(&ikey)
                .map(|i| i.columns.clone())
                .unwrap_or_default()
        } else {
            k.columns.clone()
        };
        indexes.insert(
            ikey,
            Index {
                table: table.key(),
                unique: true,
                primary: matches!(k.kind, ConKind::PrimaryKey),
                columns,
            },
        );
    }
    t.constraints.push(Con {
        name,
        kind: k.kind.clone(),
        columns: k.columns.clone(),
        validated: !k.not_valid,
        index: k.using_index.clone(),
    });
}

/// PostgreSQL's default constraint names: `t_pkey`, `t_a_key`, `t_a_fkey`, `t_a_check`.
fn default_con_name(table: &Name, k: &Constraint) -> String {
    let cols = k.columns.join("_");
    match k.kind {
        ConKind::PrimaryKey => format!("{}_pkey", table.name),
        ConKind::Unique => format!("{}_{cols}_key", table.name),
        ConKind::ForeignKey { .. } => format!("{}_{cols}_fkey", table.name),
        ConKind::Exclude => format!("{}_{cols}_excl", table.name),
        _ => format!("{}_{cols}_check", table.name),
    }
}
