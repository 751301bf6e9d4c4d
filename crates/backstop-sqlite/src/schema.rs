//! The user schema as a canonical [`SchemaState`], and schema health.
//!
//! Structure comes from the catalog pragmas (`table_xinfo`, `index_list`, `index_xinfo`,
//! `foreign_key_list`), never from the raw CREATE TABLE text: SQLite edits that text in
//! place on ALTER TABLE (ADD COLUMN appends to it, RENAME quotes names), so the same logical
//! table can carry many texts. What the pragmas don't expose (CHECKs, collations,
//! generated-column expressions, AUTOINCREMENT, deferred FKs, index expressions and WHERE
//! clauses, WITHOUT ROWID/STRICT) is read from the text by [`crate::sqltext`] and normalised.
//!
//! One object per table (`table NAME`) holds its columns, constraints, indexes and triggers,
//! one line each, sorted, so neither creation order nor column order matters. Views are
//! `view NAME` with their normalised SQL and INSTEAD OF triggers. Internal `sqlite_*` tables
//! and backstop's own tables (exactly those, by name: a user's `backstop_orders` is the
//! user's) are left out.
//!
//! Every pragma is read with one join over `sqlite_schema` rather than one query per table:
//! four statements whatever the number of tables.

use crate::error::db;
use crate::sqltext::{
    self, ident, normalize_default, normalize_sql, normalize_type, Scope, TableText,
};
use backstop_core::driver::DbError;
use backstop_core::schema::{HealthIssue, SchemaState};
use rusqlite::Connection;
use std::collections::{BTreeMap, BTreeSet};

/// `sqlite_schema` rows that belong to the user: not SQLite's internal tables, and not
/// backstop's tables (nor their indexes). `LIKE` is case-insensitive and `_` is a wildcard,
/// hence the escapes; names compare ignoring ASCII case, as SQLite resolves them.
const USER_FILTER: &str = "m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
     AND lower(m.tbl_name) NOT IN ('backstop_migrations', 'backstop_events', 'backstop_state')";

/// User tables whose catalog can be read with pragmas (virtual tables need their module).
fn table_filter() -> String {
    format!("m.type = 'table' AND {USER_FILTER} AND m.sql NOT LIKE 'create virtual %'")
}

#[derive(Debug)]
struct Column {
    name: String,
    ty: String,
    notnull: bool,
    default: Option<String>,
    pk: i64,
    /// 0 normal, 1 hidden (virtual tables), 2 generated VIRTUAL, 3 generated STORED.
    hidden: i64,
}

#[derive(Debug)]
struct IndexColumn {
    seqno: usize,
    /// -1 rowid, -2 expression, else the table column.
    cid: i64,
    name: Option<String>,
    desc: bool,
    coll: Option<String>,
}

#[derive(Debug)]
struct Index {
    name: String,
    unique: bool,
    /// `c` CREATE INDEX, `u` UNIQUE constraint, `pk` PRIMARY KEY.
    origin: String,
    columns: Vec<IndexColumn>,
}

#[derive(Debug)]
struct ForeignKeyPart {
    id: i64,
    parent: String,
    from: String,
    to: Option<String>,
    on_update: String,
    on_delete: String,
    match_: String,
}

#[derive(Debug, Default)]
struct Table {
    sql: String,
    columns: Vec<Column>,
    indexes: BTreeMap<String, Index>,
    fks: Vec<ForeignKeyPart>,
    triggers: Vec<(String, String)>,
}

/// Read the complete user schema.
pub(crate) fn read(conn: &Connection) -> Result<SchemaState, DbError> {
    let shadow = shadow_tables(conn)?;
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    let mut views: BTreeMap<String, (String, Vec<(String, String)>)> = BTreeMap::new();
    let mut virtual_tables: BTreeMap<String, (String, Vec<(String, String)>)> = BTreeMap::new();
    let mut index_sql: BTreeMap<String, String> = BTreeMap::new();
    let mut triggers: Vec<(String, String, String)> = Vec::new();

    let mut st = conn.prepare_cached(&format!("SELECT m.type, m.name, m.tbl_name, m.sql FROM main.sqlite_schema m WHERE {USER_FILTER}")).map_err(db)?;
    let mut rows = st.query([]).map_err(db)?;
    while let Some(r) = rows.next().map_err(db)? {
        let kind: String = r.get(0).map_err(db)?;
        let name: String = r.get(1).map_err(db)?;
        let tbl: String = r.get(2).map_err(db)?;
        let sql: Option<String> = r.get(3).map_err(db)?;
        let sql = sql.unwrap_or_default();
        match kind.as_str() {
            "table" if shadow.contains(&name) => {}
            // SQLite stores this prefix itself, in this spelling, whatever the user typed.
            "table"
                if sql
                    .get(..14)
                    .is_some_and(|p| p.eq_ignore_ascii_case("CREATE VIRTUAL")) =>
            {
                virtual_tables.insert(name, (sql, Vec::new()));
            }
            "table" => {
                tables.insert(
                    name,
                    Table {
                        sql,
                        ..Table::default()
                    },
                );
            }
            "view" => {
                views.insert(name, (sql, Vec::new()));
            }
            "index" => {
                index_sql.insert(name, sql);
            }
            "trigger" => triggers.push((tbl, name, sql)),
            _ => {}
        }
    }
    drop(rows);

    read_columns(conn, &mut tables)?;
    read_indexes(conn, &mut tables)?;
    read_foreign_keys(conn, &mut tables)?;

    // A trigger's `tbl_name` is its ON clause as typed (`ON orders` for a table created as
    // `Orders`), while the objects are keyed by their own spelling: join ignoring ASCII
    // case, as SQLite resolves names. Tables, views and virtual tables share one namespace,
    // so the folded name finds exactly one of them.
    let owners: BTreeMap<String, String> = tables
        .keys()
        .chain(views.keys())
        .chain(virtual_tables.keys())
        .map(|n| (n.to_ascii_lowercase(), n.clone()))
        .collect();
    for (tbl, name, sql) in triggers {
        let t = (name, sql);
        let Some(owner) = owners.get(&tbl.to_ascii_lowercase()) else {
            continue;
        };
        if let Some(table) = tables.get_mut(owner) {
            table.triggers.push(t);
        } else if let Some(v) = views.get_mut(owner) {
            v.1.push(t);
        } else if let Some(v) = virtual_tables.get_mut(owner) {
            v.1.push(t);
        }
    }

    // Parent primary keys, for `REFERENCES parent` without a column list.
    let primary_keys: BTreeMap<String, Vec<String>> = tables
        .iter()
        .map(|(name, t)| {
            let mut pk: Vec<&Column> = t.columns.iter().filter(|c| c.pk > 0).collect();
            pk.sort_by_key(|c| c.pk);
            (
                name.to_ascii_lowercase(),
                pk.iter().map(|c| c.name.to_ascii_lowercase()).collect(),
            )
        })
        .collect();

    // What a name in a view or trigger may refer to. Which of these is in scope at each
    // place would take SQLite's name resolution; any of them is close enough to tell a
    // name from a double-quoted string (a string spelled like a column of some table is
    // taken for a name, and only its case is then lost).
    let mut known: BTreeSet<String> = ["new", "old", "rowid", "oid", "_rowid_"]
        .map(String::from)
        .into();
    let object_names = tables
        .keys()
        .chain(views.keys())
        .chain(virtual_tables.keys())
        .chain(index_sql.keys());
    known.extend(object_names.map(|n| n.to_ascii_lowercase()));
    for t in tables.values() {
        known.extend(t.columns.iter().map(|c| c.name.to_ascii_lowercase()));
        known.extend(t.triggers.iter().map(|(n, _)| n.to_ascii_lowercase()));
    }
    let mut result_columns: BTreeMap<&String, Vec<String>> = BTreeMap::new();
    for (name, (_, trigs)) in views.iter().chain(virtual_tables.iter()) {
        let columns = view_columns(conn, name)?;
        known.extend(columns.iter().map(|c| c.to_ascii_lowercase()));
        known.extend(trigs.iter().map(|(n, _)| n.to_ascii_lowercase()));
        result_columns.insert(name, columns);
    }

    let mut state = SchemaState::default();
    for (name, t) in &tables {
        state.objects.insert(
            format!("table {}", ident(name)),
            render_table(t, &index_sql, &primary_keys, &known).into(),
        );
    }
    for (name, (sql, trigs)) in views.iter().chain(virtual_tables.iter()) {
        let (kind, scope) = if views.contains_key(name) {
            ("view", Scope::Resolve(&known))
        } else {
            // A virtual table's arguments go to its module unparsed: they are not SQL.
            ("table", Scope::Names)
        };
        let mut lines = vec![normalize_sql(sql, scope)];
        if kind == "view" {
            let columns = result_columns.get(name).map(Vec::as_slice).unwrap_or(&[]);
            lines.extend(view_columns_line(sql, columns));
        }
        lines.extend(trigs.iter().map(|t| trigger_line(t, &known)));
        lines.sort();
        state
            .objects
            .insert(format!("{kind} {}", ident(name)), lines.join("\n").into());
    }
    Ok(state)
}

/// A view's column names as SQLite reports them, in order; none when the view can't be
/// read (it may refer to a table that no longer exists, which SQLite allows until the view
/// is used).
fn view_columns(conn: &Connection, view: &str) -> Result<Vec<String>, DbError> {
    let read = || -> rusqlite::Result<Vec<String>> {
        let mut st =
            conn.prepare_cached("SELECT name FROM pragma_table_xinfo(?1, 'main') ORDER BY cid")?;
        let names = st.query_map([view], |r| r.get(0))?;
        names.collect()
    };
    best_effort(read())
}

/// The case of a view's result column names, which queries report (`SELECT * FROM v`,
/// ORMs mapping columns to fields) while the normalised body folds unquoted words: a
/// `columns (…)` line with the names SQLite reports. A name keeps its case when the view
/// text spells it as a name (an alias, an entry of the view's column list) or it is a
/// plain word that is no keyword (a column the view selects); a name SQLite took from an
/// expression's text (`count(*)`, `NULL`) is folded like that expression, so keyword case
/// still doesn't count. No line when every name is lower case, so a view without
/// upper-case column names keeps the text it had before the line existed.
fn view_columns_line(sql: &str, columns: &[String]) -> Option<String> {
    let tokens = sqltext::tokenize(sql);
    let spelled = |t: &sqltext::Token| match t {
        sqltext::Token::Word(w) | sqltext::Token::Ident(w) | sqltext::Token::DqIdent(w) => {
            Some(w.clone())
        }
        _ => None,
    };
    let mut names: BTreeSet<String> = BTreeSet::new();
    // Aliases: the name after any `AS`.
    for pair in tokens.windows(2) {
        if pair[0].is_kw("as") {
            names.extend(spelled(&pair[1]));
        }
    }
    // The column list of `CREATE VIEW v (a, b) AS`: names in parentheses before the first AS.
    let first_as = tokens
        .iter()
        .position(|t| t.is_kw("as"))
        .unwrap_or(tokens.len());
    let mut depth = 0usize;
    for t in &tokens[..first_as] {
        match t {
            sqltext::Token::Punct(p) if p == "(" => depth += 1,
            sqltext::Token::Punct(p) if p == ")" => depth = depth.saturating_sub(1),
            _ if depth > 0 => names.extend(spelled(t)),
            _ => {}
        }
    }
    let shown: Vec<String> = columns
        .iter()
        .map(|c| {
            let is_name =
                names.contains(c) || (sqltext::is_plain_ident(c) && !sqltext::is_keyword(c));
            if is_name {
                c.clone()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    if shown
        .iter()
        .all(|c| !c.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return None;
    }
    let list: Vec<String> = shown.iter().map(|c| ident(c)).collect();
    Some(format!("columns ({})", list.join(", ")))
}

/// Tables that belong to a virtual table (FTS, R*Tree). Their layout is the module's
/// business; the virtual table's own SQL already pins it. Best effort: without
/// `PRAGMA table_list` they are simply listed as tables.
fn shadow_tables(conn: &Connection) -> Result<BTreeSet<String>, DbError> {
    let read = || -> rusqlite::Result<BTreeSet<String>> {
        let mut st = conn.prepare_cached(
            "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'shadow'",
        )?;
        let names = st.query_map([], |r| r.get(0))?;
        names.collect()
    };
    best_effort(read())
}

/// A read whose failure leaves a detail out, except that a database locked by another
/// connection fails the whole read: the lock wait was spent on this statement (the next
/// would wait as long again), and what it left out would change the fingerprint.
fn best_effort<T: Default>(r: rusqlite::Result<T>) -> Result<T, DbError> {
    match r {
        Ok(v) => Ok(v),
        Err(e)
            if matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ) =>
        {
            Err(db(e))
        }
        Err(_) => Ok(T::default()),
    }
}

fn read_columns(conn: &Connection, tables: &mut BTreeMap<String, Table>) -> Result<(), DbError> {
    let sql = format!(
        "SELECT m.name, c.name, c.type, c.\"notnull\", c.dflt_value, c.pk, c.hidden \
         FROM main.sqlite_schema m, pragma_table_xinfo(m.name, 'main') c WHERE {} ORDER BY m.name, c.cid",
        table_filter()
    );
    per_table_rows(conn, &sql, tables, |t, r| {
        t.columns.push(Column {
            name: r.get(1)?,
            ty: r.get(2)?,
            notnull: r.get(3)?,
            default: r.get(4)?,
            pk: r.get(5)?,
            hidden: r.get(6)?,
        });
        Ok(())
    })
}

/// Run `sql`, whose first column names a table, and hand each row to `f` with that table's
/// entry (rows of tables not in `tables` are skipped).
fn per_table_rows(
    conn: &Connection,
    sql: &str,
    tables: &mut BTreeMap<String, Table>,
    mut f: impl FnMut(&mut Table, &rusqlite::Row<'_>) -> rusqlite::Result<()>,
) -> Result<(), DbError> {
    let mut st = conn.prepare_cached(sql).map_err(db)?;
    let mut rows = st.query([]).map_err(db)?;
    while let Some(r) = rows.next().map_err(db)? {
        let table: String = r.get(0).map_err(db)?;
        if let Some(t) = tables.get_mut(&table) {
            f(t, r).map_err(db)?;
        }
    }
    Ok(())
}

fn read_indexes(conn: &Connection, tables: &mut BTreeMap<String, Table>) -> Result<(), DbError> {
    let sql = format!(
        "SELECT m.name, il.name, il.\"unique\", il.origin, x.seqno, x.cid, x.name, x.\"desc\", x.coll \
         FROM main.sqlite_schema m, pragma_index_list(m.name, 'main') il, pragma_index_xinfo(il.name, 'main') x \
         WHERE {} AND x.key = 1 ORDER BY m.name, il.name, x.seqno",
        table_filter()
    );
    per_table_rows(conn, &sql, tables, |t, r| {
        let name: String = r.get(1)?;
        let unique: bool = r.get(2)?;
        let origin: String = r.get(3)?;
        let seqno: i64 = r.get(4)?;
        let col = IndexColumn {
            seqno: usize::try_from(seqno).unwrap_or(0),
            cid: r.get(5)?,
            name: r.get(6)?,
            desc: r.get(7)?,
            coll: r.get(8)?,
        };
        t.indexes
            .entry(name.clone())
            .or_insert_with(|| Index {
                name,
                unique,
                origin,
                columns: Vec::new(),
            })
            .columns
            .push(col);
        Ok(())
    })
}

fn read_foreign_keys(
    conn: &Connection,
    tables: &mut BTreeMap<String, Table>,
) -> Result<(), DbError> {
    let sql = format!(
        "SELECT m.name, f.id, f.\"table\", f.\"from\", f.\"to\", f.on_update, f.on_delete, f.\"match\" \
         FROM main.sqlite_schema m, pragma_foreign_key_list(m.name, 'main') f WHERE {} ORDER BY m.name, f.id, f.seq",
        table_filter()
    );
    per_table_rows(conn, &sql, tables, |t, r| {
        t.fks.push(ForeignKeyPart {
            id: r.get(1)?,
            parent: r.get(2)?,
            from: r.get(3)?,
            to: r.get(4)?,
            on_update: r.get(5)?,
            on_delete: r.get(6)?,
            match_: r.get(7)?,
        });
        Ok(())
    })
}

fn trigger_line((name, sql): &(String, String), known: &BTreeSet<String>) -> String {
    format!(
        "trigger {}: {}",
        ident(name),
        normalize_sql(sql, Scope::Resolve(known))
    )
}

/// Names referenced inside clauses are case-folded (SQLite resolves them ignoring ASCII
/// case); names being defined keep their spelling.
fn reference(name: &str) -> String {
    ident(&name.to_ascii_lowercase())
}

fn render_table(
    t: &Table,
    index_sql: &BTreeMap<String, String>,
    primary_keys: &BTreeMap<String, Vec<String>>,
    known: &BTreeSet<String>,
) -> String {
    let text: TableText = sqltext::parse_create_table(&t.sql);
    let scope = sqltext::table_scope(t.columns.iter().map(|c| c.name.as_str()));
    let mut lines: Vec<String> = Vec::new();
    let pk_columns = t.columns.iter().filter(|c| c.pk > 0).count();
    // The primary key's own index, when it has one: a rowid table's INTEGER PRIMARY KEY is
    // the rowid and has none, unless declared `INTEGER PRIMARY KEY DESC`, which SQLite
    // does not make a rowid alias (<https://sqlite.org/lang_createtable.html#rowid>). Its
    // column directions and collations are part of the key.
    let pk_index = t.indexes.values().find(|ix| ix.origin == "pk");

    for c in &t.columns {
        let mut l = format!("column {}", ident(&c.name));
        let ty = normalize_type(&c.ty);
        if !ty.is_empty() {
            l.push(' ');
            l.push_str(&ty);
        }
        let facts = text.columns.get(&c.name.to_ascii_lowercase());
        if c.notnull {
            l.push_str(" NOT NULL");
            if let Some(action) = facts.and_then(|f| f.not_null_conflict.as_deref()) {
                l.push_str(&format!(" ON CONFLICT {action}"));
            }
        }
        if let Some(d) = &c.default {
            l.push_str(" DEFAULT ");
            l.push_str(&normalize_default(d));
        }
        if c.pk > 0 {
            l.push_str(" PRIMARY KEY");
            if pk_columns > 1 {
                l.push_str(&format!(" {}", c.pk));
            }
            let key_column = pk_index.and_then(|ix| {
                ix.columns.iter().find(|k| {
                    k.name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(&c.name))
                })
            });
            if let Some(k) = key_column {
                if k.desc {
                    l.push_str(" DESC");
                }
                // Only a collation other than the column's own is news here.
                let own = facts.and_then(|f| f.collate.as_deref()).unwrap_or("BINARY");
                if let Some(coll) = k.coll.as_deref().filter(|k| !k.eq_ignore_ascii_case(own)) {
                    l.push_str(&format!(" COLLATE {}", coll.to_ascii_uppercase()));
                }
            }
            if let Some(action) = &text.primary_key_conflict {
                l.push_str(&format!(" ON CONFLICT {action}"));
            }
        }
        if let Some(coll) = facts
            .and_then(|f| f.collate.as_deref())
            .filter(|c| *c != "BINARY")
        {
            l.push_str(&format!(" COLLATE {coll}"));
        }
        if c.hidden == 2 || c.hidden == 3 {
            match facts.and_then(|f| f.generated.as_deref()) {
                Some(g) => l.push_str(&format!(" GENERATED AS {g}")),
                None => l.push_str(if c.hidden == 3 {
                    " GENERATED STORED"
                } else {
                    " GENERATED VIRTUAL"
                }),
            }
        }
        if facts.is_some_and(|f| f.autoincrement) {
            l.push_str(" AUTOINCREMENT");
        }
        lines.push(l);
    }

    for check in &text.checks {
        lines.push(match &check.name {
            Some(n) => format!("constraint {} check {}", ident(n), check.expr),
            None => format!("check {}", check.expr),
        });
    }

    for ix in t.indexes.values() {
        match ix.origin.as_str() {
            // Implied by the columns' PRIMARY KEY positions.
            "pk" => {}
            // UNIQUE constraints get sqlite_autoindex_T_N names that depend on their order in
            // the CREATE text, so they are identified by their columns only.
            "u" => {
                let mut l = format!("unique ({})", index_columns(ix, None));
                let columns: Vec<String> = ix
                    .columns
                    .iter()
                    .filter_map(|c| c.name.as_deref().map(str::to_ascii_lowercase))
                    .collect();
                if let Some(action) = text.unique_conflicts.get(&columns) {
                    l.push_str(&format!(" ON CONFLICT {action}"));
                }
                lines.push(l);
            }
            _ => {
                let parsed = index_sql
                    .get(&ix.name)
                    .map(|s| sqltext::parse_create_index(s, &scope));
                let mut l = format!(
                    "index {} ({})",
                    ident(&ix.name),
                    index_columns(ix, parsed.as_ref())
                );
                if ix.unique {
                    l.push_str(" UNIQUE");
                }
                if let Some(w) = parsed.as_ref().and_then(|p| p.where_clause.as_deref()) {
                    l.push_str(" WHERE ");
                    l.push_str(w);
                }
                lines.push(l);
            }
        }
    }

    let mut fk_ids: Vec<i64> = t.fks.iter().map(|f| f.id).collect();
    fk_ids.dedup();
    for id in fk_ids {
        let parts: Vec<&ForeignKeyPart> = t.fks.iter().filter(|f| f.id == id).collect();
        let Some(first) = parts.first() else { continue };
        let from: Vec<String> = parts.iter().map(|p| p.from.to_ascii_lowercase()).collect();
        let parent = first.parent.to_ascii_lowercase();
        let to: Vec<String> = if parts.iter().all(|p| p.to.is_some()) {
            parts
                .iter()
                .filter_map(|p| p.to.as_deref())
                .map(str::to_ascii_lowercase)
                .collect()
        } else {
            // `REFERENCES parent` means the parent's primary key.
            primary_keys
                .get(&parent)
                .cloned()
                .unwrap_or_else(|| vec!["<primary key>".to_string()])
        };
        let quote = |v: &[String]| v.iter().map(|s| ident(s)).collect::<Vec<_>>().join(", ");
        let mut l = format!(
            "foreign key ({}) REFERENCES {}({}) ON UPDATE {} ON DELETE {}",
            quote(&from),
            reference(&parent),
            quote(&to),
            first.on_update,
            first.on_delete
        );
        if first.match_ != "NONE" {
            l.push_str(&format!(" MATCH {}", first.match_));
        }
        if text
            .deferred_fks
            .iter()
            .any(|d| d.parent == parent && d.from == from)
        {
            l.push_str(" DEFERRABLE INITIALLY DEFERRED");
        }
        lines.push(l);
    }

    for opt in table_options(&t.sql) {
        lines.push(format!("option {opt}"));
    }
    lines.extend(t.triggers.iter().map(|tr| trigger_line(tr, known)));
    lines.sort();
    lines.join("\n")
}

/// `WITHOUT ROWID` and `STRICT`, from the text after the column list.
fn table_options(sql: &str) -> Vec<&'static str> {
    let tokens = sqltext::tokenize(sql);
    let Some(open) = tokens
        .iter()
        .position(|t| matches!(t, sqltext::Token::Punct(p) if p == "("))
    else {
        return Vec::new();
    };
    let close = sqltext::matching_paren(&tokens, open);
    let tail = tokens.get(close + 1..).unwrap_or(&[]);
    let mut out = Vec::new();
    if tail.iter().any(|t| t.is_kw("rowid")) {
        out.push("WITHOUT ROWID");
    }
    if tail.iter().any(|t| t.is_kw("strict")) {
        out.push("STRICT");
    }
    out
}

fn index_columns(ix: &Index, parsed: Option<&sqltext::IndexText>) -> String {
    ix.columns
        .iter()
        .map(|c| {
            let expression = || {
                parsed
                    .and_then(|p| p.items.get(c.seqno))
                    .cloned()
                    .unwrap_or_else(|| "<expression>".to_string())
            };
            match (c.cid, c.name.as_deref()) {
                (-1, _) => "rowid".to_string(),
                (-2, _) | (_, None) => expression(),
                (_, Some(name)) => {
                    let mut s = ident(name);
                    if c.desc {
                        s.push_str(" DESC");
                    }
                    if let Some(coll) = c
                        .coll
                        .as_deref()
                        .filter(|c| !c.eq_ignore_ascii_case("BINARY"))
                    {
                        s.push_str(&format!(" COLLATE {}", coll.to_ascii_uppercase()));
                    }
                    s
                }
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows violating foreign keys (possible when they were inserted with `foreign_keys` off,
/// or before the constraint existed: SQLite never validates existing rows), and foreign
/// keys that can't be checked at all ("foreign key mismatch": the parent columns have no
/// unique index), one issue per table and constraint.
pub(crate) fn health(conn: &Connection) -> Result<Vec<HealthIssue>, DbError> {
    // Tables with foreign keys, and each constraint's child columns for the message.
    let sql = format!(
        "SELECT m.name, f.id, f.\"table\", f.\"from\" FROM main.sqlite_schema m, pragma_foreign_key_list(m.name, 'main') f \
         WHERE {} ORDER BY m.name, f.id, f.seq",
        table_filter()
    );
    let mut fks: BTreeMap<String, BTreeMap<i64, (String, Vec<String>)>> = BTreeMap::new();
    {
        let mut st = conn.prepare_cached(&sql).map_err(db)?;
        let mut rows = st.query([]).map_err(db)?;
        while let Some(r) = rows.next().map_err(db)? {
            let table: String = r.get(0).map_err(db)?;
            let id: i64 = r.get(1).map_err(db)?;
            let parent: String = r.get(2).map_err(db)?;
            let from: String = r.get(3).map_err(db)?;
            fks.entry(table)
                .or_default()
                .entry(id)
                .or_insert_with(|| (parent, Vec::new()))
                .1
                .push(from);
        }
    }
    let tables: BTreeSet<String> = {
        let mut st = conn
            .prepare_cached("SELECT lower(name) FROM main.sqlite_schema WHERE type = 'table'")
            .map_err(db)?;
        let names = st.query_map([], |r| r.get(0)).map_err(db)?;
        names.collect::<rusqlite::Result<_>>().map_err(db)?
    };
    let mut issues = Vec::new();
    for (table, constraints) in &fks {
        // One table at a time, so a mismatch in one table is reported against it instead of
        // failing the whole check.
        let check = || -> rusqlite::Result<BTreeMap<i64, (u64, Vec<i64>)>> {
            let mut st = conn
                .prepare_cached("SELECT fkid, rowid FROM pragma_foreign_key_check(?1, 'main')")?;
            let mut rows = st.query([table])?;
            let mut found: BTreeMap<i64, (u64, Vec<i64>)> = BTreeMap::new();
            while let Some(r) = rows.next()? {
                let e = found.entry(r.get(0)?).or_default();
                e.0 += 1;
                if let (true, Some(rowid)) = (e.1.len() < 5, r.get::<_, Option<i64>>(1)?) {
                    e.1.push(rowid);
                }
            }
            Ok(found)
        };
        match check() {
            Ok(found) => {
                for (fkid, (count, sample)) in found {
                    let (parent, from) = constraints.get(&fkid).cloned().unwrap_or_default();
                    let mut detail = format!(
                        "{count} row(s) whose ({}) has no matching row in {}",
                        from.join(", "),
                        parent
                    );
                    if !tables.contains(&parent.to_ascii_lowercase()) {
                        detail.push_str(&format!(" (table {parent} does not exist)"));
                    }
                    if !sample.is_empty() {
                        let ids: Vec<String> = sample.iter().map(i64::to_string).collect();
                        detail.push_str(&format!(
                            " (rowid {}{})",
                            ids.join(", "),
                            if count > sample.len() as u64 {
                                ", …"
                            } else {
                                ""
                            }
                        ));
                    }
                    issues.push(HealthIssue::ForeignKeyOrphans {
                        table: table.clone(),
                        detail,
                    });
                }
            }
            Err(e) => issues.push(HealthIssue::ForeignKeyOrphans {
                table: table.clone(),
                detail: format!("its foreign keys cannot be checked: {}", db(e).message),
            }),
        }
    }
    Ok(issues)
}
