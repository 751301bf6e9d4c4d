//! The net schema effect of a script, for the reversibility rules: which named objects and
//! columns it leaves created or dropped (an object created and dropped again in the same
//! script has no net effect).

use crate::analyze::Analysed;
use crate::ir::*;
use backstop_core::driver::Engine;

#[derive(Debug, Clone)]
pub(crate) struct Effect {
    pub obj: Obj,
    /// Catalog key: `schema.name`, or `schema.table.name` for constraints and triggers.
    pub key: String,
    /// As written, for messages.
    pub display: String,
    /// Key of the table it belongs to (indexes, triggers, constraints).
    pub table: Option<String>,
    pub stmt: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct ColEffect {
    pub table: String,
    pub table_display: String,
    pub column: String,
    /// The engine resolves column names ignoring (ASCII) case, quoted or not (SQLite).
    pub nocase: bool,
    pub stmt: usize,
}

impl ColEffect {
    /// The same column of the same table, as the engine resolves names.
    fn same(&self, other: &ColEffect) -> bool {
        self.table == other.table
            && if self.nocase || other.nocase {
                self.column.eq_ignore_ascii_case(&other.column)
            } else {
                self.column == other.column
            }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub created: Vec<Effect>,
    pub dropped: Vec<Effect>,
    /// Made by `CREATE OR REPLACE`: there afterwards, whether or not it was before.
    pub replaced: Vec<Effect>,
    pub cols_added: Vec<ColEffect>,
    pub cols_dropped: Vec<ColEffect>,
}

/// The name of a constraint of `table`: unqualified, resolved like the table's name.
fn part_of(table: &Name, name: &str) -> Name {
    Name {
        nocase: table.nocase,
        ..Name::new(None, name)
    }
}

impl Effects {
    fn create(&mut self, e: Effect) {
        // Dropped and created again (a table rebuild): the object exists before and after.
        if let Some(p) = self
            .dropped
            .iter()
            .position(|d| d.obj.same_kind(e.obj) && d.key == e.key)
        {
            self.dropped.remove(p);
            return;
        }
        self.created.push(e);
    }
    /// `CREATE OR REPLACE`: undoes an earlier drop; otherwise it may have replaced an object
    /// that was already there, so it is no creation to undo, only a guarantee it exists.
    fn replace(&mut self, e: Effect) {
        if let Some(p) = self
            .dropped
            .iter()
            .position(|d| d.obj.same_kind(e.obj) && d.key == e.key)
        {
            self.dropped.remove(p);
            return;
        }
        self.replaced.push(e);
    }
    fn drop(&mut self, e: Effect) {
        let before = self.created.len();
        self.created
            .retain(|c| !(c.obj.same_kind(e.obj) && c.key == e.key));
        self.replaced
            .retain(|c| !(c.obj.same_kind(e.obj) && c.key == e.key));
        if e.obj.is_table() {
            self.created
                .retain(|c| c.table.as_deref() != Some(e.key.as_str()));
            self.cols_added.retain(|c| c.table != e.key);
        }
        if self.created.len() == before {
            self.dropped.push(e);
        }
    }
    fn add_col(&mut self, c: ColEffect) {
        self.cols_dropped.retain(|d| !d.same(&c));
        self.cols_added.push(c);
    }
    fn drop_col(&mut self, c: ColEffect) {
        let before = self.cols_added.len();
        self.cols_added.retain(|a| !a.same(&c));
        let created_table = self
            .created
            .iter()
            .any(|t| t.obj.is_table() && t.key == c.table);
        if self.cols_added.len() == before && !created_table {
            self.cols_dropped.push(c);
        }
    }

    /// True when this (down) script removes `e`.
    pub fn removes(&self, e: &Effect) -> bool {
        self.dropped.iter().any(|d| {
            (d.obj.same_kind(e.obj) && d.key == e.key)
                || (d.obj.is_table() && e.table.as_deref() == Some(d.key.as_str()))
                || (d.obj == Obj::Schema && e.key.starts_with(&format!("{}.", d.display)))
                || (d.obj == Obj::Schema && e.obj == Obj::Schema && d.display == e.display)
        })
    }
    /// True when this (down) script creates `e` again.
    pub fn recreates(&self, e: &Effect) -> bool {
        self.created
            .iter()
            .chain(&self.replaced)
            .any(|c| c.obj.same_kind(e.obj) && c.key == e.key)
            || (e.table.is_some()
                && self
                    .created
                    .iter()
                    .any(|c| c.obj.is_table() && Some(c.key.as_str()) == e.table.as_deref()))
    }
    pub fn removes_col(&self, c: &ColEffect) -> bool {
        self.cols_dropped.iter().any(|d| d.same(c))
            || self
                .dropped
                .iter()
                .any(|d| d.obj.is_table() && d.key == c.table)
    }
    pub fn recreates_col(&self, c: &ColEffect) -> bool {
        self.cols_added.iter().any(|d| d.same(c))
            || self
                .created
                .iter()
                .any(|d| d.obj.is_table() && d.key == c.table)
    }
}

pub(crate) fn of(a: &Analysed) -> Effects {
    let mut fx = Effects::default();
    // PostgreSQL names a trigger per table (`DROP TRIGGER tr ON t`); SQLite and MySQL per
    // schema (`DROP TRIGGER [schema.]tr`, the schema being the table's).
    let trigger_per_table = a.engine == Engine::Postgres;
    for (i, s) in a.stmts.iter().enumerate() {
        let eff = |obj: Obj, n: &Name, table: Option<&Name>| {
            let key = match (obj, table) {
                (Obj::Trigger, Some(t)) if !trigger_per_table => Name {
                    nocase: n.nocase,
                    ..Name::new(
                        n.schema.clone().or_else(|| t.schema.clone()),
                        n.name.clone(),
                    )
                }
                .key(),
                // The last part of a key folds like the rest of it.
                (Obj::Constraint | Obj::Trigger, Some(t)) => {
                    let part = if n.nocase {
                        n.name.to_ascii_lowercase()
                    } else {
                        n.name.clone()
                    };
                    format!("{}.{}", t.key(), part)
                }
                (Obj::Schema, _) => n.name.clone(),
                _ => n.key(),
            };
            Effect {
                obj,
                key,
                display: n.to_string(),
                table: table.map(Name::key),
                stmt: i,
            }
        };
        match &s.kind {
            StmtKind::CreateTable {
                table,
                temporary: false,
                ..
            } => fx.create(eff(Obj::Table, table, None)),
            StmtKind::CreateIndex {
                resolved, table, ..
            } => fx.create(eff(Obj::Index, resolved, Some(table))),
            StmtKind::CreateView {
                name,
                materialized,
                replace,
                ..
            } => {
                let e = eff(
                    if *materialized {
                        Obj::MatView
                    } else {
                        Obj::View
                    },
                    name,
                    None,
                );
                if *replace {
                    fx.replace(e)
                } else {
                    fx.create(e)
                }
            }
            // Databases are not part of the schema a migration changes.
            StmtKind::Create {
                obj,
                name,
                or_replace,
                table,
                ..
            } if !matches!(obj, Obj::Database { .. }) => {
                let e = eff(*obj, name, table.as_ref());
                if *or_replace {
                    fx.replace(e)
                } else {
                    fx.create(e)
                }
            }
            StmtKind::Drop {
                obj, names, table, ..
            } if !matches!(obj, Obj::Database { .. } | Obj::Other(_)) => {
                for n in names {
                    fx.drop(eff(*obj, n, table.as_ref()));
                }
            }
            StmtKind::Rename {
                obj,
                target,
                column: None,
                new_name,
                table,
            } if !matches!(obj, Obj::Other(_) | Obj::Type | Obj::Database { .. }) => {
                let new = target.sibling(new_name.clone());
                fx.drop(eff(*obj, target, table.as_ref()));
                fx.create(eff(*obj, &new, table.as_ref()));
            }
            StmtKind::Rename {
                obj: Obj::Table | Obj::View | Obj::MatView,
                target,
                column: Some(old),
                new_name,
                ..
            } => {
                fx.drop_col(ColEffect {
                    table: target.key(),
                    table_display: target.to_string(),
                    column: old.clone(),
                    nocase: target.nocase,
                    stmt: i,
                });
                fx.add_col(ColEffect {
                    table: target.key(),
                    table_display: target.to_string(),
                    column: new_name.clone(),
                    nocase: target.nocase,
                    stmt: i,
                });
            }
            StmtKind::AlterTable { table, cmds, .. } => {
                for c in cmds {
                    let col = |column: &str| ColEffect {
                        table: table.key(),
                        table_display: table.to_string(),
                        column: column.to_string(),
                        nocase: table.nocase,
                        stmt: i,
                    };
                    match c {
                        AlterCmd::AddColumn { col: d, .. }
                            if !fx
                                .created
                                .iter()
                                .any(|t| t.obj == Obj::Table && t.key == table.key()) =>
                        {
                            fx.add_col(col(&d.name))
                        }
                        AlterCmd::DropColumn { name, .. } => fx.drop_col(col(name)),
                        AlterCmd::AddConstraint(k) => {
                            if let Some(n) = &k.name {
                                if !fx
                                    .created
                                    .iter()
                                    .any(|t| t.obj == Obj::Table && t.key == table.key())
                                {
                                    fx.create(eff(
                                        Obj::Constraint,
                                        &part_of(table, n),
                                        Some(table),
                                    ));
                                }
                            }
                        }
                        AlterCmd::AddIndex { name } => {
                            fx.create(eff(Obj::Index, &table.sibling(name.clone()), Some(table)))
                        }
                        AlterCmd::DropIndex { name } => {
                            fx.drop(eff(Obj::Index, &table.sibling(name.clone()), Some(table)))
                        }
                        AlterCmd::DropConstraint { name, .. } => {
                            fx.drop(eff(Obj::Constraint, &part_of(table, name), Some(table)))
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    fx
}
