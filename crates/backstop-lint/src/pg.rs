//! PostgreSQL: parse with libpg_query (the server's own grammar) and translate the parse
//! tree into [`crate::ir`]. Node locations are byte offsets, so every finding keeps its
//! exact position.

use crate::ir::*;
use crate::lex::{self, Kind};
use backstop_core::driver::Engine;
use pg_query::protobuf as pb;
use pg_query::{NodeEnum as N, NodeRef};
use std::ops::Range;

/// A statement PostgreSQL's grammar rejects (or one too deeply nested to analyse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    /// Where the error is, as a byte range of the script.
    pub at: Range<usize>,
    /// The statement's range.
    pub stmt: Range<usize>,
    pub message: String,
    /// True when the SQL is valid but could not be analysed (nesting limit).
    pub not_analysed: bool,
}

pub(crate) struct Parsed {
    pub stmts: Vec<Stmt>,
    pub errors: Vec<SyntaxError>,
}

/// Parse a whole script. Never panics; statements that don't parse become errors and the
/// others are still analysed.
pub(crate) fn parse(src: &str) -> Parsed {
    // Fast path: the whole script in one call.
    if let Ok(res) = pg_query::parse(src, pg_query::ParserOptions::default()) {
        let mut stmts = Vec::with_capacity(res.protobuf.stmts.len());
        for raw in &res.protobuf.stmts {
            let start = usize::try_from(raw.stmt_location)
                .unwrap_or(0)
                .min(src.len());
            let end = if raw.stmt_len <= 0 {
                src.len()
            } else {
                (start + raw.stmt_len as usize).min(src.len())
            };
            let span = trim_span(src, start..end);
            if let Some(node) = raw.stmt.as_ref().and_then(|n| n.node.as_ref()) {
                stmts.push(Stmt {
                    settings: crate::settings::changes(
                        node,
                        src,
                        src.get(span.clone()).unwrap_or(""),
                    ),
                    span: span.clone(),
                    kind: convert(node, &Cx { src, base: 0, span }),
                });
            }
        }
        return Parsed {
            stmts,
            errors: Vec::new(),
        };
    }
    // Slow path: statement by statement, so one bad statement doesn't hide the others.
    let mut out = Parsed {
        stmts: Vec::new(),
        errors: Vec::new(),
    };
    // Our own token-based split: it keeps BEGIN ATOMIC … END bodies whole.
    let toks: Vec<lex::Token> = lex::tokenize(src, Engine::Postgres)
        .into_iter()
        .filter(|t| !t.is_comment())
        .collect();
    for group in crate::lite::split(src, &toks, Engine::Postgres) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let base = first.start;
        let text = &src[base..last.end];
        let span = base..last.end;
        match pg_query::parse(text, pg_query::ParserOptions::default()) {
            Ok(res) => {
                for raw in &res.protobuf.stmts {
                    if let Some(node) = raw.stmt.as_ref().and_then(|n| n.node.as_ref()) {
                        let s = usize::try_from(raw.stmt_location)
                            .unwrap_or(0)
                            .min(text.len());
                        let e = if raw.stmt_len <= 0 {
                            text.len()
                        } else {
                            (s + raw.stmt_len as usize).min(text.len())
                        };
                        let sp = trim_span(src, base + s..base + e);
                        out.stmts.push(Stmt {
                            settings: crate::settings::changes(
                                node,
                                text,
                                src.get(sp.clone()).unwrap_or(""),
                            ),
                            span: sp.clone(),
                            kind: convert(
                                node,
                                &Cx {
                                    src,
                                    base,
                                    span: sp,
                                },
                            ),
                        });
                    }
                }
            }
            Err(pg_query::Error::Decode(_)) => out.errors.push(SyntaxError {
                at: span.start..lex::token_end(src, span.start, Engine::Postgres),
                stmt: span.clone(),
                message: "statement is nested too deeply to analyse".into(),
                not_analysed: true,
            }),
            Err(e) => {
                let message = match &e {
                    pg_query::Error::Parse(m)
                    | pg_query::Error::Scan(m)
                    | pg_query::Error::Split(m) => m.clone(),
                    pg_query::Error::Conversion(_) => "the statement contains a NUL byte".into(),
                    other => other.to_string(),
                };
                let at = error_position(text)
                    .map(|r| base + r.start..base + r.end)
                    .unwrap_or(span.start..span.end);
                out.errors.push(SyntaxError {
                    at,
                    stmt: span.clone(),
                    message,
                    not_analysed: false,
                });
            }
        }
    }
    out
}

/// Drop leading comments/whitespace and trailing whitespace from a statement range.
fn trim_span(src: &str, r: Range<usize>) -> Range<usize> {
    let Some(text) = src.get(r.clone()) else {
        return r;
    };
    let toks = lex::tokenize(text, Engine::Postgres);
    match toks.iter().find(|t| !t.is_comment()) {
        Some(first) => {
            let last = toks
                .iter()
                .rev()
                .find(|t| !t.is_comment())
                .map(|t| t.end)
                .unwrap_or(text.len());
            r.start + first.start..r.start + last
        }
        None => r.start..r.start,
    }
}

/// Where in `text` PostgreSQL's grammar fails: libpg_query reports the message but the crate
/// drops the cursor position, so find the first token whose prefix fails for a reason other
/// than "end of input" (binary search; the property is monotone in practice).
fn error_position(text: &str) -> Option<Range<usize>> {
    if let Some(nul) = text.find('\0') {
        return Some(nul..nul + 1);
    }
    let toks: Vec<_> = lex::tokenize(text, Engine::Postgres)
        .into_iter()
        .filter(|t| !t.is_comment())
        .collect();
    if let Some(t) = toks.iter().find(|t| t.unterminated) {
        return Some(t.start..(t.start + 1).min(text.len()));
    }
    let fails_before_end = |k: usize| -> bool {
        let end = toks[k - 1].end;
        match pg_query::parse(&text[..end], pg_query::ParserOptions::default()) {
            Ok(_) => false,
            Err(pg_query::Error::Parse(m)) => !m.contains("end of input"),
            Err(_) => true,
        }
    };
    let n = toks.len();
    if n == 0 {
        return None;
    }
    if !fails_before_end(n) {
        let last = toks[n - 1];
        return Some(last.start..last.end);
    }
    let (mut lo, mut hi) = (1, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if fails_before_end(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let t = toks[lo - 1];
    Some(t.start..t.end)
}

struct Cx<'a> {
    src: &'a str,
    /// Offset of the parsed text in the script (node locations are relative to it).
    base: usize,
    span: Range<usize>,
}

impl Cx<'_> {
    fn loc(&self, l: i32) -> usize {
        match usize::try_from(l) {
            Ok(l) => (self.base + l).min(self.src.len()),
            Err(_) => self.span.start,
        }
    }
}

fn sval(n: &pb::Node) -> Option<&str> {
    match n.node.as_ref()? {
        N::String(s) => Some(&s.sval),
        _ => None,
    }
}

fn strings(list: &[pb::Node]) -> Vec<String> {
    list.iter().filter_map(sval).map(str::to_string).collect()
}

fn qualified(parts: &[String]) -> Name {
    match parts {
        [] => Name::default(),
        [n] => Name::new(None, n.clone()),
        [.., s, n] => Name::new(Some(s.clone()), n.clone()),
    }
}

fn rv(r: &Option<pb::RangeVar>) -> Name {
    match r {
        Some(r) => Name::new(Some(r.schemaname.clone()), r.relname.clone()),
        None => Name::default(),
    }
}

fn rv_node(n: &pb::Node) -> Option<Name> {
    match n.node.as_ref()? {
        N::RangeVar(r) => Some(Name::new(Some(r.schemaname.clone()), r.relname.clone())),
        _ => None,
    }
}

fn cascade(behavior: i32) -> bool {
    behavior == pb::DropBehavior::DropCascade as i32
}

/// Normalise a type name to PostgreSQL's internal spelling.
pub(crate) fn canonical_type(name: &str) -> &str {
    match name {
        "int" | "integer" | "int4" => "int4",
        "bigint" | "int8" => "int8",
        "smallint" | "int2" => "int2",
        "decimal" | "numeric" => "numeric",
        "bool" | "boolean" => "bool",
        "character varying" | "varchar" => "varchar",
        "char" | "character" | "bpchar" => "bpchar",
        "float" | "float8" | "double precision" => "float8",
        "real" | "float4" => "float4",
        "timestamp" | "timestamp without time zone" => "timestamp",
        "timestamptz" | "timestamp with time zone" => "timestamptz",
        "time" | "time without time zone" => "time",
        "timetz" | "time with time zone" => "timetz",
        "serial4" | "serial" => "serial",
        "serial8" | "bigserial" => "bigserial",
        "serial2" | "smallserial" => "smallserial",
        other => other,
    }
}

/// How a canonical type is usually written, for messages.
pub(crate) fn pretty_type(name: &str) -> &str {
    match name {
        "int4" => "integer",
        "int8" => "bigint",
        "int2" => "smallint",
        "bool" => "boolean",
        "bpchar" => "char",
        "float8" => "double precision",
        "float4" => "real",
        other => other,
    }
}

fn type_name(t: &pb::TypeName) -> TypeName {
    let names = strings(&t.names);
    let raw = names.last().cloned().unwrap_or_default().to_lowercase();
    let name = canonical_type(&raw).to_string();
    let mods: Vec<i64> = t
        .typmods
        .iter()
        .filter_map(|m| match m.node.as_ref()? {
            N::AConst(c) => match &c.val {
                Some(pb::a_const::Val::Ival(i)) => Some(i.ival as i64),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let array = !t.array_bounds.is_empty();
    let mut display = pretty_type(&name).to_string();
    if !mods.is_empty() {
        display.push('(');
        display.push_str(
            &mods
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
        display.push(')');
    }
    if array {
        display.push_str("[]");
    }
    TypeName {
        name,
        mods,
        array,
        display,
    }
}

fn expr_of(n: &pb::Node, cx: &Cx) -> Expr {
    let mut e = Expr::default();
    if let Some(node) = n.node.as_ref() {
        add_expr(node, cx, &mut e);
    }
    e
}

fn add_expr(node: &N, cx: &Cx, e: &mut Expr) {
    for (r, _, _, _) in node.nodes() {
        match r {
            NodeRef::FuncCall(f) => {
                if let Some(name) = f.funcname.last().and_then(sval) {
                    e.funcs.push((name.to_lowercase(), cx.loc(f.location)));
                }
                if e.at.is_none() {
                    e.at = Some(cx.loc(f.location));
                }
            }
            NodeRef::SqlvalueFunction(f) => {
                use pb::SqlValueFunctionOp as Op;
                let name = match Op::try_from(f.op).unwrap_or(Op::SqlvalueFunctionOpUndefined) {
                    Op::SvfopCurrentDate => "current_date",
                    Op::SvfopCurrentTime | Op::SvfopCurrentTimeN => "current_time",
                    Op::SvfopCurrentTimestamp | Op::SvfopCurrentTimestampN => "current_timestamp",
                    Op::SvfopLocaltime | Op::SvfopLocaltimeN => "localtime",
                    Op::SvfopLocaltimestamp | Op::SvfopLocaltimestampN => "localtimestamp",
                    _ => "current_user",
                };
                e.funcs.push((name.to_string(), cx.loc(f.location)));
            }
            NodeRef::ColumnRef(c) => {
                if let Some(last) = c.fields.last().and_then(sval) {
                    e.columns.push(last.to_string());
                }
                if e.at.is_none() {
                    e.at = Some(cx.loc(c.location));
                }
            }
            NodeRef::SubLink(_) | NodeRef::SelectStmt(_) => e.subquery = true,
            _ => {}
        }
    }
}

fn column_def(c: &pb::ColumnDef, cx: &Cx) -> ColumnDef {
    let ty = c.type_name.as_ref().map(type_name);
    let serial = ty
        .as_ref()
        .is_some_and(|t| matches!(t.name.as_str(), "serial" | "bigserial" | "smallserial"));
    let mut col = ColumnDef {
        name: c.colname.clone(),
        ty,
        not_null: c.is_not_null,
        default: c.raw_default.as_ref().map(|d| expr_of(d, cx)),
        identity: !c.identity.is_empty(),
        generated_stored: false,
        serial,
        constraints: Vec::new(),
        at: cx.loc(c.location),
    };
    for n in &c.constraints {
        let Some(N::Constraint(k)) = n.node.as_ref() else {
            continue;
        };
        use pb::ConstrType as T;
        match T::try_from(k.contype).unwrap_or(T::Undefined) {
            T::ConstrNotnull => col.not_null = true,
            T::ConstrDefault => col.default = k.raw_expr.as_ref().map(|d| expr_of(d, cx)),
            T::ConstrIdentity => col.identity = true,
            T::ConstrGenerated => col.generated_stored = k.generated_kind != "v",
            T::ConstrPrimary => {
                col.not_null = true;
                col.constraints
                    .push(constraint(k, cx, std::slice::from_ref(&c.colname)));
            }
            T::ConstrUnique | T::ConstrForeign | T::ConstrCheck => col
                .constraints
                .push(constraint(k, cx, std::slice::from_ref(&c.colname))),
            _ => {}
        }
    }
    col
}

fn constraint(k: &pb::Constraint, cx: &Cx, default_cols: &[String]) -> Constraint {
    use pb::ConstrType as T;
    let mut columns = strings(&k.keys);
    if columns.is_empty() {
        columns = strings(&k.fk_attrs);
    }
    if columns.is_empty() {
        columns = default_cols.to_vec();
    }
    let kind = match T::try_from(k.contype).unwrap_or(T::Undefined) {
        T::ConstrCheck => {
            let expr = k
                .raw_expr
                .as_ref()
                .map(|e| expr_of(e, cx))
                .unwrap_or_default();
            ConKind::Check {
                not_null_of: k.raw_expr.as_ref().and_then(|e| is_not_null_check(e)),
                expr,
            }
        }
        T::ConstrForeign => ConKind::ForeignKey {
            references: rv(&k.pktable),
            ref_columns: strings(&k.pk_attrs),
            // pg_constraint.confdeltype's letters.
            on_delete: match k.fk_del_action.as_str() {
                "r" => Some("RESTRICT"),
                "c" => Some("CASCADE"),
                "n" => Some("SET NULL"),
                "d" => Some("SET DEFAULT"),
                _ => None,
            }
            .map(String::from),
        },
        T::ConstrUnique => ConKind::Unique,
        T::ConstrPrimary => ConKind::PrimaryKey,
        T::ConstrExclusion => ConKind::Exclude,
        T::ConstrNotnull => ConKind::NotNull,
        _ => ConKind::Check {
            expr: Expr::default(),
            not_null_of: None,
        },
    };
    if columns.is_empty() {
        if let ConKind::Check { expr, not_null_of } = &kind {
            columns = match not_null_of {
                Some(c) => vec![c.clone()],
                None => expr.columns.clone(),
            };
            columns.dedup();
        }
    }
    Constraint {
        name: (!k.conname.is_empty()).then(|| k.conname.clone()),
        kind,
        columns,
        not_valid: k.skip_validation,
        using_index: (!k.indexname.is_empty()).then(|| k.indexname.clone()),
        at: cx.loc(k.location),
    }
}

/// `CHECK (col IS NOT NULL)` → `col`.
fn is_not_null_check(n: &pb::Node) -> Option<String> {
    let N::NullTest(t) = n.node.as_ref()? else {
        return None;
    };
    if t.nulltesttype != pb::NullTestType::IsNotNull as i32 {
        return None;
    }
    let N::ColumnRef(c) = t.arg.as_ref()?.node.as_ref()? else {
        return None;
    };
    c.fields.last().and_then(sval).map(str::to_string)
}

fn obj_type(t: i32) -> Obj {
    use pb::ObjectType as O;
    match O::try_from(t).unwrap_or(O::Undefined) {
        O::ObjectTable => Obj::Table,
        O::ObjectForeignTable => Obj::ForeignTable,
        O::ObjectView => Obj::View,
        O::ObjectMatview => Obj::MatView,
        O::ObjectIndex => Obj::Index,
        O::ObjectSequence => Obj::Sequence,
        O::ObjectSchema => Obj::Schema,
        O::ObjectType => Obj::Type,
        O::ObjectDomain => Obj::Domain,
        O::ObjectFunction => Obj::Function,
        O::ObjectProcedure => Obj::Procedure,
        O::ObjectAggregate => Obj::Aggregate,
        O::ObjectRoutine => Obj::Routine,
        O::ObjectTrigger => Obj::Trigger,
        O::ObjectExtension => Obj::Extension,
        O::ObjectDatabase => Obj::Database { as_schema: false },
        O::ObjectTabconstraint => Obj::Constraint,
        O::ObjectAccessMethod => Obj::Other("ACCESS METHOD"),
        O::ObjectAttribute => Obj::Other("ATTRIBUTE"),
        O::ObjectCast => Obj::Other("CAST"),
        O::ObjectColumn => Obj::Other("COLUMN"),
        O::ObjectCollation => Obj::Other("COLLATION"),
        O::ObjectConversion => Obj::Other("CONVERSION"),
        O::ObjectDomconstraint => Obj::Other("DOMAIN CONSTRAINT"),
        O::ObjectEventTrigger => Obj::Other("EVENT TRIGGER"),
        O::ObjectFdw => Obj::Other("FOREIGN DATA WRAPPER"),
        O::ObjectForeignServer => Obj::Other("SERVER"),
        O::ObjectLanguage => Obj::Other("LANGUAGE"),
        O::ObjectLargeobject => Obj::Other("LARGE OBJECT"),
        O::ObjectOpclass => Obj::Other("OPERATOR CLASS"),
        O::ObjectOperator => Obj::Other("OPERATOR"),
        O::ObjectOpfamily => Obj::Other("OPERATOR FAMILY"),
        O::ObjectPolicy => Obj::Other("POLICY"),
        O::ObjectPublication | O::ObjectPublicationNamespace | O::ObjectPublicationRel => {
            Obj::Other("PUBLICATION")
        }
        O::ObjectRole => Obj::Other("ROLE"),
        O::ObjectRule => Obj::Other("RULE"),
        O::ObjectSubscription => Obj::Other("SUBSCRIPTION"),
        O::ObjectStatisticExt => Obj::Other("STATISTICS"),
        O::ObjectTablespace => Obj::Other("TABLESPACE"),
        O::ObjectTransform => Obj::Other("TRANSFORM"),
        O::ObjectTsconfiguration => Obj::Other("TEXT SEARCH CONFIGURATION"),
        O::ObjectTsdictionary => Obj::Other("TEXT SEARCH DICTIONARY"),
        O::ObjectTsparser => Obj::Other("TEXT SEARCH PARSER"),
        O::ObjectTstemplate => Obj::Other("TEXT SEARCH TEMPLATE"),
        O::ObjectUserMapping => Obj::Other("USER MAPPING"),
        _ => Obj::Other("OBJECT"),
    }
}

/// Objects named per table (`DROP TRIGGER tr ON t`, `DROP POLICY p ON t`): their names
/// arrive as `[schema.]table.name`.
fn named_per_table(t: i32) -> bool {
    use pb::ObjectType as O;
    matches!(
        O::try_from(t).unwrap_or(O::Undefined),
        O::ObjectTrigger | O::ObjectPolicy | O::ObjectRule | O::ObjectTabconstraint
    )
}

/// Names in a DROP's object list, whatever node shape the object kind uses, and the table
/// of an object named per table.
fn drop_name(n: &pb::Node, per_table: bool) -> (Name, Option<Name>) {
    match n.node.as_ref() {
        Some(N::List(l)) => {
            let parts = strings(&l.items);
            if per_table && parts.len() >= 2 {
                // [schema.]table.name
                let (table, name) = parts.split_at(parts.len() - 1);
                (Name::new(None, name[0].clone()), Some(qualified(table)))
            } else {
                (qualified(&parts), None)
            }
        }
        Some(N::String(s)) => (Name::new(None, s.sval.clone()), None),
        Some(N::TypeName(t)) => (qualified(&strings(&t.names)), None),
        Some(N::ObjectWithArgs(o)) => (qualified(&strings(&o.objname)), None),
        _ => (Name::default(), None),
    }
}

fn def_names(opts: &[pb::Node]) -> Vec<String> {
    opts.iter()
        .filter_map(|o| match o.node.as_ref()? {
            N::DefElem(d) => Some(d.defname.to_lowercase()),
            _ => None,
        })
        .collect()
}

fn tag(cx: &Cx) -> String {
    let text = cx.src.get(cx.span.clone()).unwrap_or("");
    let toks = lex::tokenize(text, Engine::Postgres);
    toks.iter()
        .filter(|t| t.kind == Kind::Word)
        .take(2)
        .map(|t| t.text(text).to_uppercase())
        .collect::<Vec<_>>()
        .join(" ")
}

fn convert(node: &N, cx: &Cx) -> StmtKind {
    match node {
        N::CreateStmt(c) => {
            let mut columns = Vec::new();
            let mut constraints = Vec::new();
            for e in &c.table_elts {
                match e.node.as_ref() {
                    Some(N::ColumnDef(d)) => columns.push(column_def(d, cx)),
                    Some(N::Constraint(k)) => constraints.push(constraint(k, cx, &[])),
                    _ => {}
                }
            }
            let table = rv(&c.relation);
            let partition_of = if c.partbound.is_some() {
                c.inh_relations.first().and_then(rv_node)
            } else {
                None
            };
            let temporary = c.relation.as_ref().is_some_and(|r| r.relpersistence == "t");
            StmtKind::CreateTable {
                table,
                if_not_exists: c.if_not_exists,
                columns,
                constraints,
                as_select: false,
                temporary,
                partition_of,
            }
        }
        N::CreateTableAsStmt(c) => {
            let name = c.into.as_ref().map(|i| rv(&i.rel)).unwrap_or_default();
            if c.objtype == pb::ObjectType::ObjectMatview as i32 {
                let (tables, columns, star) =
                    c.query.as_ref().map(|q| query_refs(q)).unwrap_or_default();
                StmtKind::CreateView {
                    name,
                    materialized: true,
                    replace: false,
                    tables,
                    columns,
                    star,
                    if_not_exists: c.if_not_exists,
                }
            } else {
                StmtKind::CreateTable {
                    table: name,
                    if_not_exists: c.if_not_exists,
                    columns: vec![],
                    constraints: vec![],
                    as_select: true,
                    temporary: false,
                    partition_of: None,
                }
            }
        }
        N::AlterTableStmt(a) => {
            let table = rv(&a.relation);
            let cmds = a.cmds.iter().filter_map(|c| match c.node.as_ref()? {
                N::AlterTableCmd(c) => Some(alter_cmd(c, cx)),
                _ => None,
            });
            StmtKind::AlterTable {
                table,
                obj: obj_type(a.objtype),
                if_exists: a.missing_ok,
                cmds: cmds.collect(),
            }
        }
        N::IndexStmt(i) => {
            let table = rv(&i.relation);
            let name =
                (!i.idxname.is_empty()).then(|| Name::new(table.schema.clone(), i.idxname.clone()));
            let resolved = name
                .clone()
                .unwrap_or_else(|| default_index_name(&table, i));
            let columns = i
                .index_params
                .iter()
                .filter_map(|p| match p.node.as_ref()? {
                    N::IndexElem(e) => Some(if e.name.is_empty() {
                        "(expression)".to_string()
                    } else {
                        e.name.clone()
                    }),
                    _ => None,
                })
                .collect();
            StmtKind::CreateIndex {
                name,
                resolved,
                table,
                unique: i.unique,
                concurrently: i.concurrent,
                if_not_exists: i.if_not_exists,
                columns,
            }
        }
        N::DropStmt(d) => {
            let obj = obj_type(d.remove_type);
            let (names, tables): (Vec<Name>, Vec<Option<Name>>) = d
                .objects
                .iter()
                .map(|o| drop_name(o, named_per_table(d.remove_type)))
                .unzip();
            StmtKind::Drop {
                obj,
                names,
                // The grammar takes one `name ON table` per DROP TRIGGER/POLICY/RULE.
                table: tables.into_iter().next().flatten(),
                if_exists: d.missing_ok,
                cascade: cascade(d.behavior),
                concurrently: d.concurrent,
            }
        }
        N::DropdbStmt(d) => StmtKind::Drop {
            obj: Obj::Database { as_schema: false },
            names: vec![Name::new(None, d.dbname.clone())],
            table: None,
            if_exists: d.missing_ok,
            cascade: false,
            concurrently: false,
        },
        N::RenameStmt(r) => {
            let obj = obj_type(r.rename_type);
            use pb::ObjectType as O;
            match O::try_from(r.rename_type).unwrap_or(O::Undefined) {
                O::ObjectColumn | O::ObjectAttribute => StmtKind::Rename {
                    obj: match obj_type(r.relation_type) {
                        Obj::Other(_) => Obj::Table,
                        o => o,
                    },
                    target: rv(&r.relation),
                    column: Some(r.subname.clone()),
                    new_name: r.newname.clone(),
                    table: Some(rv(&r.relation)),
                },
                // Objects outside any schema, named by one identifier.
                O::ObjectSchema | O::ObjectDatabase | O::ObjectRole | O::ObjectTablespace => {
                    StmtKind::Rename {
                        obj,
                        target: Name::new(None, r.subname.clone()),
                        column: None,
                        new_name: r.newname.clone(),
                        table: None,
                    }
                }
                O::ObjectTabconstraint | O::ObjectTrigger | O::ObjectPolicy | O::ObjectRule => {
                    StmtKind::Rename {
                        obj,
                        target: Name::new(None, r.subname.clone()),
                        column: None,
                        new_name: r.newname.clone(),
                        table: Some(rv(&r.relation)),
                    }
                }
                _ => {
                    let target = if r.relation.is_some() {
                        rv(&r.relation)
                    } else {
                        r.object
                            .as_ref()
                            .map(|o| drop_name(o, named_per_table(r.rename_type)).0)
                            .unwrap_or_default()
                    };
                    StmtKind::Rename {
                        obj,
                        target,
                        column: None,
                        new_name: r.newname.clone(),
                        table: None,
                    }
                }
            }
        }
        N::TruncateStmt(t) => StmtKind::Truncate {
            tables: t.relations.iter().filter_map(rv_node).collect(),
            cascade: cascade(t.behavior),
        },
        N::DeleteStmt(d) => {
            let mut exprs = Vec::new();
            if let Some(w) = &d.where_clause {
                exprs.push(expr_of(w, cx));
            }
            StmtKind::Delete {
                table: rv(&d.relation),
                has_where: d.where_clause.is_some(),
                exprs,
            }
        }
        N::UpdateStmt(u) => {
            let mut set = Vec::new();
            for t in &u.target_list {
                if let Some(N::ResTarget(r)) = t.node.as_ref() {
                    let e = r.val.as_ref().map(|v| expr_of(v, cx)).unwrap_or_default();
                    set.push((r.name.clone(), e));
                }
            }
            let mut exprs = Vec::new();
            if let Some(w) = &u.where_clause {
                exprs.push(expr_of(w, cx));
            }
            for f in &u.from_clause {
                exprs.push(expr_of(f, cx));
            }
            StmtKind::Update {
                table: rv(&u.relation),
                has_where: u.where_clause.is_some(),
                set,
                exprs,
            }
        }
        N::InsertStmt(i) => {
            let mut exprs = Vec::new();
            let mut from_select = false;
            if let Some(s) = &i.select_stmt {
                if let Some(N::SelectStmt(sel)) = s.node.as_ref() {
                    from_select = sel.values_lists.is_empty();
                }
                exprs.push(expr_of(s, cx));
            }
            StmtKind::Insert {
                table: rv(&i.relation),
                from_select,
                exprs,
            }
        }
        N::SelectStmt(_) => StmtKind::Select {
            exprs: vec![{
                let mut e = Expr::default();
                add_expr(node, cx, &mut e);
                e
            }],
        },
        N::ViewStmt(v) => {
            let (tables, columns, star) =
                v.query.as_ref().map(|q| query_refs(q)).unwrap_or_default();
            StmtKind::CreateView {
                name: rv(&v.view),
                materialized: false,
                replace: v.replace,
                tables,
                columns,
                star,
                if_not_exists: false,
            }
        }
        N::RefreshMatViewStmt(r) => StmtKind::Refresh {
            name: rv(&r.relation),
            concurrently: r.concurrent,
        },
        N::ReindexStmt(r) => {
            use pb::ReindexObjectType as R;
            let kind = R::try_from(r.kind).unwrap_or(R::Undefined);
            let concurrently = def_names(&r.params).iter().any(|d| d == "concurrently");
            let (target, table) = match kind {
                R::ReindexObjectTable => {
                    (format!("TABLE {}", rv(&r.relation)), Some(rv(&r.relation)))
                }
                R::ReindexObjectIndex => (format!("INDEX {}", rv(&r.relation)), None),
                R::ReindexObjectSchema => (format!("SCHEMA {}", r.name), None),
                R::ReindexObjectSystem => (format!("SYSTEM {}", r.name), None),
                _ => (format!("DATABASE {}", r.name), None),
            };
            StmtKind::Reindex {
                target,
                table,
                concurrently,
            }
        }
        N::ClusterStmt(c) => StmtKind::Cluster {
            table: c.relation.as_ref().map(|_| rv(&c.relation)),
        },
        N::VacuumStmt(v) => {
            let tables = v
                .rels
                .iter()
                .filter_map(|r| match r.node.as_ref()? {
                    N::VacuumRelation(vr) => Some(rv(&vr.relation)),
                    _ => None,
                })
                .collect();
            if v.is_vacuumcmd {
                StmtKind::Vacuum {
                    full: def_names(&v.options).iter().any(|d| d == "full"),
                    tables,
                }
            } else {
                StmtKind::Other {
                    tag: "ANALYZE".into(),
                }
            }
        }
        N::TransactionStmt(t) => {
            use pb::TransactionStmtKind as T;
            let kind = match T::try_from(t.kind).unwrap_or(T::Undefined) {
                T::TransStmtBegin | T::TransStmtStart => TxKind::Begin,
                T::TransStmtCommit | T::TransStmtCommitPrepared | T::TransStmtPrepare => {
                    TxKind::Commit
                }
                T::TransStmtRollback | T::TransStmtRollbackPrepared => TxKind::Rollback,
                T::TransStmtSavepoint | T::TransStmtRelease | T::TransStmtRollbackTo => {
                    TxKind::Savepoint
                }
                T::Undefined => TxKind::Other,
            };
            StmtKind::Transaction {
                kind,
                word: tag(cx),
            }
        }
        N::VariableSetStmt(v) => {
            let value = crate::settings::set_value(v);
            let reset = matches!(
                v.kind(),
                pb::VariableSetKind::VarSetDefault
                    | pb::VariableSetKind::VarReset
                    | pb::VariableSetKind::VarResetAll
            );
            StmtKind::Set {
                name: if v.kind() == pb::VariableSetKind::VarResetAll {
                    "all".into()
                } else {
                    v.name.to_lowercase()
                },
                value,
                local: v.is_local,
                reset,
            }
        }
        N::CreateSchemaStmt(s) => StmtKind::Create {
            obj: Obj::Schema,
            // `CREATE SCHEMA AUTHORIZATION role` names the schema after the role.
            name: Name::new(
                None,
                if s.schemaname.is_empty() {
                    s.authrole
                        .as_ref()
                        .map(|r| r.rolename.clone())
                        .unwrap_or_default()
                } else {
                    s.schemaname.clone()
                },
            ),
            if_not_exists: s.if_not_exists,
            or_replace: false,
            table: None,
            domain_check: false,
        },
        N::CreateSeqStmt(s) => StmtKind::Create {
            obj: Obj::Sequence,
            name: rv(&s.sequence),
            if_not_exists: s.if_not_exists,
            or_replace: false,
            table: None,
            domain_check: false,
        },
        N::CreateEnumStmt(e) => StmtKind::Create {
            obj: Obj::Type,
            name: qualified(&strings(&e.type_name)),
            if_not_exists: false,
            or_replace: false,
            table: None,
            domain_check: false,
        },
        N::CompositeTypeStmt(c) => StmtKind::Create {
            obj: Obj::Type,
            name: rv(&c.typevar),
            if_not_exists: false,
            or_replace: false,
            table: None,
            domain_check: false,
        },
        N::CreateRangeStmt(r) => StmtKind::Create {
            obj: Obj::Type,
            name: qualified(&strings(&r.type_name)),
            if_not_exists: false,
            or_replace: false,
            table: None,
            domain_check: false,
        },
        N::DefineStmt(d)
            if matches!(
                pb::ObjectType::try_from(d.kind),
                Ok(pb::ObjectType::ObjectType | pb::ObjectType::ObjectAggregate)
            ) =>
        {
            StmtKind::Create {
                obj: if d.kind == pb::ObjectType::ObjectAggregate as i32 {
                    Obj::Aggregate
                } else {
                    Obj::Type
                },
                name: qualified(&strings(&d.defnames)),
                if_not_exists: d.if_not_exists,
                or_replace: d.replace,
                table: None,
                domain_check: false,
            }
        }
        N::CreateForeignTableStmt(f) => StmtKind::Create {
            obj: Obj::ForeignTable,
            name: f
                .base_stmt
                .as_ref()
                .map(|c| rv(&c.relation))
                .unwrap_or_default(),
            if_not_exists: f.base_stmt.as_ref().is_some_and(|c| c.if_not_exists),
            or_replace: false,
            table: None,
            domain_check: false,
        },
        N::CreateDomainStmt(d) => {
            let check = d.constraints.iter().any(|c| matches!(c.node.as_ref(), Some(N::Constraint(k)) if k.contype == pb::ConstrType::ConstrCheck as i32));
            StmtKind::Create {
                obj: Obj::Domain,
                name: qualified(&strings(&d.domainname)),
                if_not_exists: false,
                or_replace: false,
                table: None,
                domain_check: check,
            }
        }
        N::CreateFunctionStmt(f) => StmtKind::Create {
            obj: if f.is_procedure {
                Obj::Procedure
            } else {
                Obj::Function
            },
            name: qualified(&strings(&f.funcname)),
            if_not_exists: false,
            or_replace: f.replace,
            table: None,
            domain_check: false,
        },
        N::CreateTrigStmt(t) => StmtKind::Create {
            obj: Obj::Trigger,
            name: Name::new(None, t.trigname.clone()),
            if_not_exists: false,
            or_replace: t.replace,
            table: Some(rv(&t.relation)),
            domain_check: false,
        },
        N::CreateExtensionStmt(e) => StmtKind::Create {
            obj: Obj::Extension,
            name: Name::new(None, e.extname.clone()),
            if_not_exists: e.if_not_exists,
            or_replace: false,
            table: None,
            domain_check: false,
        },
        N::CreatedbStmt(d) => StmtKind::Create {
            obj: Obj::Database { as_schema: false },
            name: Name::new(None, d.dbname.clone()),
            if_not_exists: false,
            or_replace: false,
            table: None,
            domain_check: false,
        },
        N::AlterEnumStmt(e) => {
            let ty = qualified(&strings(&e.type_name));
            if e.old_val.is_empty() {
                StmtKind::AlterEnumAddValue {
                    ty,
                    value: e.new_val.clone(),
                    if_not_exists: e.skip_if_new_val_exists,
                    ordered: !e.new_val_neighbor.is_empty(),
                }
            } else {
                StmtKind::RenameEnumValue {
                    ty,
                    old: e.old_val.clone(),
                    new: e.new_val.clone(),
                }
            }
        }
        N::AlterDomainStmt(d) if d.subtype == "C" => {
            let not_valid = matches!(d.def.as_ref().and_then(|n| n.node.as_ref()), Some(N::Constraint(k)) if k.skip_validation);
            StmtKind::AlterDomainAddConstraint {
                domain: qualified(&strings(&d.type_name)),
                not_valid,
            }
        }
        N::LockStmt(l) => {
            let mode = match l.mode {
                1 => "ACCESS SHARE",
                2 => "ROW SHARE",
                3 => "ROW EXCLUSIVE",
                4 => "SHARE UPDATE EXCLUSIVE",
                5 => "SHARE",
                6 => "SHARE ROW EXCLUSIVE",
                7 => "EXCLUSIVE",
                _ => "ACCESS EXCLUSIVE",
            };
            StmtKind::LockTable {
                tables: l.relations.iter().filter_map(rv_node).collect(),
                mode: mode.into(),
            }
        }
        _ => StmtKind::Other { tag: tag(cx) },
    }
}

/// The name PostgreSQL gives `CREATE INDEX ON t (…)` (`ChooseIndexName`): the table, the
/// label of every column (INCLUDE ones too) and `idx`, joined by `_` and shortened to fit
/// 63 bytes. Only a clash with an existing name (`…_idx1`) is beyond what a script shows.
fn default_index_name(table: &Name, i: &pb::IndexStmt) -> Name {
    // ChooseIndexColumnNames: a column's name, or an expression's (`lower`, `expr`, …),
    // made unique within the index by a number (`a`, `a1`).
    let mut labels: Vec<String> = Vec::new();
    for p in i.index_params.iter().chain(&i.index_including_params) {
        let Some(N::IndexElem(e)) = p.node.as_ref() else {
            continue;
        };
        let base = if !e.indexcolname.is_empty() {
            e.indexcolname.clone()
        } else if !e.name.is_empty() {
            e.name.clone()
        } else {
            e.expr
                .as_deref()
                .and_then(|x| figure_colname(x).1)
                .unwrap_or_else(|| "expr".into())
        };
        let mut label = base.clone();
        let mut n = 1;
        while labels.contains(&label) {
            label = format!("{base}{n}");
            n += 1;
        }
        labels.push(label);
    }
    // ChooseIndexNameAddition stops adding labels once the result can't fit anyway.
    let mut addition = String::new();
    for l in &labels {
        if !addition.is_empty() {
            addition.push('_');
        }
        addition.push_str(l);
        if addition.len() >= 63 {
            break;
        }
    }
    table.sibling(object_name(&table.name, &addition, "idx"))
}

/// PostgreSQL's `makeObjectName`: `name1_name2_label`, shortening the longer of the two
/// names a character at a time until the whole fits in 63 bytes.
fn object_name(name1: &str, name2: &str, label: &str) -> String {
    let avail = 63usize.saturating_sub(label.len() + 1 + usize::from(!name2.is_empty()));
    let (mut n1, mut n2) = (name1.len(), name2.len());
    while n1 + n2 > avail {
        if n1 > n2 {
            n1 -= 1;
        } else {
            n2 -= 1;
        }
    }
    // Never cut inside a character (pg_mbcliplen).
    let clip = |s: &str, mut n: usize| {
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        s[..n].to_string()
    };
    let mut out = clip(name1, n1);
    if !name2.is_empty() {
        out.push('_');
        out.push_str(&clip(name2, n2));
    }
    out.push('_');
    out.push_str(label);
    out
}

/// PostgreSQL's `FigureColnameInternal`: the name an expression would have as a column,
/// and how sure that is (2: a column or function name, 1: a fallback such as `case`).
fn figure_colname(n: &pb::Node) -> (u8, Option<String>) {
    let word = |w: &str| (2, Some(w.to_string()));
    match n.node.as_ref() {
        Some(N::ColumnRef(c)) => match c.fields.last().and_then(sval) {
            Some(f) => word(f),
            None => (0, None),
        },
        Some(N::AIndirection(a)) => match a.indirection.last().and_then(sval) {
            Some(f) => word(f),
            None => a.arg.as_deref().map(figure_colname).unwrap_or((0, None)),
        },
        Some(N::FuncCall(f)) => match f.funcname.last().and_then(sval) {
            Some(f) => word(f),
            None => (0, None),
        },
        Some(N::AExpr(a)) if a.kind == pb::AExprKind::AexprNullif as i32 => word("nullif"),
        Some(N::TypeCast(t)) => {
            let inner = t.arg.as_deref().map(figure_colname).unwrap_or((0, None));
            match t
                .type_name
                .as_ref()
                .and_then(|ty| ty.names.last())
                .and_then(sval)
            {
                Some(ty) if inner.0 <= 1 => (1, Some(ty.to_string())),
                _ => inner,
            }
        }
        Some(N::CollateClause(c)) => c.arg.as_deref().map(figure_colname).unwrap_or((0, None)),
        Some(N::GroupingFunc(_)) => word("grouping"),
        Some(N::CaseExpr(c)) => {
            let inner = c
                .defresult
                .as_deref()
                .map(figure_colname)
                .unwrap_or((0, None));
            if inner.0 <= 1 {
                (1, Some("case".into()))
            } else {
                inner
            }
        }
        Some(N::AArrayExpr(_)) => (1, Some("array".into())),
        Some(N::RowExpr(_)) => (1, Some("row".into())),
        Some(N::CoalesceExpr(_)) => word("coalesce"),
        Some(N::MinMaxExpr(m)) => word(if m.op == pb::MinMaxOp::IsGreatest as i32 {
            "greatest"
        } else {
            "least"
        }),
        Some(N::SqlvalueFunction(f)) => {
            use pb::SqlValueFunctionOp as Op;
            word(
                match Op::try_from(f.op).unwrap_or(Op::SqlvalueFunctionOpUndefined) {
                    Op::SvfopCurrentDate => "current_date",
                    Op::SvfopCurrentTime | Op::SvfopCurrentTimeN => "current_time",
                    Op::SvfopCurrentTimestamp | Op::SvfopCurrentTimestampN => "current_timestamp",
                    Op::SvfopLocaltime | Op::SvfopLocaltimeN => "localtime",
                    Op::SvfopLocaltimestamp | Op::SvfopLocaltimestampN => "localtimestamp",
                    Op::SvfopCurrentRole => "current_role",
                    Op::SvfopUser => "user",
                    Op::SvfopSessionUser => "session_user",
                    Op::SvfopCurrentCatalog => "current_catalog",
                    Op::SvfopCurrentSchema => "current_schema",
                    _ => "current_user",
                },
            )
        }
        _ => (0, None),
    }
}

/// Tables and columns a view's query reads, and whether it uses `*`.
fn query_refs(q: &pb::Node) -> (Vec<Name>, Vec<String>, bool) {
    let mut tables = Vec::new();
    let mut columns = Vec::new();
    let mut star = false;
    if let Some(node) = q.node.as_ref() {
        for (r, _, _, _) in node.nodes() {
            match r {
                NodeRef::RangeVar(v) => {
                    tables.push(Name::new(Some(v.schemaname.clone()), v.relname.clone()))
                }
                NodeRef::ColumnRef(c) => match c.fields.last().and_then(|f| f.node.as_ref()) {
                    Some(N::String(s)) => columns.push(s.sval.clone()),
                    Some(N::AStar(_)) => star = true,
                    _ => {}
                },
                _ => {}
            }
        }
    }
    (tables, columns, star)
}

fn alter_cmd(c: &pb::AlterTableCmd, cx: &Cx) -> AlterCmd {
    use pb::AlterTableType as A;
    let def = c.def.as_ref().and_then(|d| d.node.as_ref());
    let sub = A::try_from(c.subtype).unwrap_or(A::Undefined);
    match sub {
        A::AtAddColumn | A::AtAddColumnToView => match def {
            Some(N::ColumnDef(d)) => AlterCmd::AddColumn {
                col: column_def(d, cx),
                if_not_exists: c.missing_ok,
            },
            _ => AlterCmd::Other {
                what: "ADD COLUMN".into(),
                share_row_exclusive: false,
            },
        },
        A::AtDropColumn => AlterCmd::DropColumn {
            name: c.name.clone(),
            if_exists: c.missing_ok,
            cascade: cascade(c.behavior),
        },
        A::AtAlterColumnType => match def {
            Some(N::ColumnDef(d)) => AlterCmd::ColumnType {
                column: c.name.clone(),
                ty: d.type_name.as_ref().map(type_name).unwrap_or_default(),
                using: d.raw_default.as_ref().map(|u| expr_of(u, cx)),
                at: d
                    .type_name
                    .as_ref()
                    .map(|t| cx.loc(t.location))
                    .unwrap_or(cx.span.start),
            },
            _ => AlterCmd::Other {
                what: "ALTER COLUMN TYPE".into(),
                share_row_exclusive: false,
            },
        },
        A::AtSetNotNull => AlterCmd::SetNotNull {
            column: c.name.clone(),
        },
        A::AtDropNotNull => AlterCmd::DropNotNull {
            column: c.name.clone(),
        },
        A::AtColumnDefault => AlterCmd::SetDefault {
            column: c.name.clone(),
            expr: c.def.as_ref().map(|d| expr_of(d, cx)),
        },
        A::AtAddConstraint | A::AtAddIndexConstraint => match def {
            Some(N::Constraint(k)) => AlterCmd::AddConstraint(constraint(k, cx, &[])),
            _ => AlterCmd::Other {
                what: "ADD CONSTRAINT".into(),
                share_row_exclusive: false,
            },
        },
        A::AtValidateConstraint => AlterCmd::ValidateConstraint {
            name: c.name.clone(),
        },
        A::AtDropConstraint => AlterCmd::DropConstraint {
            name: c.name.clone(),
            if_exists: c.missing_ok,
            cascade: cascade(c.behavior),
        },
        A::AtSetTableSpace => AlterCmd::Rewrite {
            what: "SET TABLESPACE",
        },
        A::AtSetLogged => AlterCmd::Rewrite { what: "SET LOGGED" },
        A::AtSetUnLogged => AlterCmd::Rewrite {
            what: "SET UNLOGGED",
        },
        A::AtSetAccessMethod => AlterCmd::Rewrite {
            what: "SET ACCESS METHOD",
        },
        A::AtAttachPartition => match def {
            Some(N::PartitionCmd(p)) => AlterCmd::AttachPartition {
                partition: rv(&p.name),
            },
            _ => AlterCmd::Other {
                what: "ATTACH PARTITION".into(),
                share_row_exclusive: false,
            },
        },
        A::AtDetachPartition => match def {
            Some(N::PartitionCmd(p)) => AlterCmd::DetachPartition {
                partition: rv(&p.name),
                concurrently: p.concurrent,
            },
            _ => AlterCmd::Other {
                what: "DETACH PARTITION".into(),
                share_row_exclusive: false,
            },
        },
        A::AtEnableTrig
        | A::AtEnableAlwaysTrig
        | A::AtEnableReplicaTrig
        | A::AtDisableTrig
        | A::AtEnableTrigAll
        | A::AtDisableTrigAll
        | A::AtEnableTrigUser
        | A::AtDisableTrigUser => AlterCmd::Other {
            what: "ENABLE/DISABLE TRIGGER".into(),
            share_row_exclusive: true,
        },
        A::AtSetStatistics
        | A::AtSetOptions
        | A::AtResetOptions
        | A::AtSetRelOptions
        | A::AtResetRelOptions
        | A::AtClusterOn
        | A::AtDropCluster => AlterCmd::Light {
            what: sub.as_str_name().trim_start_matches("AT_").to_string(),
        },
        other => AlterCmd::Other {
            what: other.as_str_name().trim_start_matches("AT_").to_string(),
            share_row_exclusive: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_positions_and_kinds() {
        let src = "-- c\nCREATE INDEX i ON t (a);\n\nALTER TABLE s.t ADD COLUMN b int NOT NULL DEFAULT 0;";
        let p = parse(src);
        assert!(p.errors.is_empty());
        assert_eq!(p.stmts.len(), 2);
        assert_eq!(&src[p.stmts[0].span.clone()], "CREATE INDEX i ON t (a)");
        assert!(
            matches!(&p.stmts[1].kind, StmtKind::AlterTable { table, .. } if table.to_string() == "s.t")
        );
    }

    #[test]
    fn syntax_error_has_position_and_others_still_parse() {
        let src = "CREATE TABLE a (x int);\nALTER TABLE a ADD COLUMN;\nCREATE INDEX i ON a (x);";
        let p = parse(src);
        assert_eq!(p.stmts.len(), 2);
        assert_eq!(p.errors.len(), 1);
        let e = &p.errors[0];
        assert_eq!(&src[e.at.clone()], "COLUMN");
        assert!(e.message.contains("syntax error"), "{}", e.message);
    }

    #[test]
    fn unnamed_indexes_get_the_names_postgres_gives_them() {
        // Checked against PostgreSQL 15 (pg_indexes after each CREATE INDEX ON users …).
        let long = "v".repeat(70);
        for (cols, want) in [
            ("(lower(email))".to_string(), "users_lower_idx".to_string()),
            ("((a + b))".into(), "users_expr_idx".into()),
            ("((email::varchar))".into(), "users_email_idx".into()),
            ("(((n || 'x')::varchar))".into(), "users_varchar_idx".into()),
            ("(coalesce(a, 0))".into(), "users_coalesce_idx".into()),
            (
                "((CASE WHEN a > 0 THEN b END))".into(),
                "users_case_idx".into(),
            ),
            ("((greatest(a, b)))".into(), "users_greatest_idx".into()),
            (
                "(lower(email), lower(n))".into(),
                "users_lower_lower1_idx".into(),
            ),
            ("(a, a)".into(), "users_a_a1_idx".into()),
            ("(id) INCLUDE (email)".into(), "users_id_email_idx".into()),
            (format!("({long})"), format!("users_{}_idx", "v".repeat(53))),
        ] {
            let p = parse(&format!("CREATE UNIQUE INDEX ON app.users {cols};"));
            let got = match p.stmts.first().map(|s| &s.kind) {
                Some(StmtKind::CreateIndex { resolved, .. }) => resolved.clone(),
                other => panic!("{other:?}"),
            };
            assert_eq!(got.to_string(), format!("app.{want}"), "{cols}");
            assert!(got.name.len() <= 63);
        }
    }

    #[test]
    fn statements_are_named_as_written() {
        let verbs: Vec<String> = parse(
            "CREATE PROCEDURE p() LANGUAGE sql AS $$SELECT 1$$;\n\
             DROP PROCEDURE p();\n\
             DROP ROUTINE p();\n\
             CREATE AGGREGATE ag(int) (sfunc = int4pl, stype = int);\n\
             ALTER AGGREGATE ag(int) RENAME TO ag2;\n\
             CREATE FOREIGN TABLE ft (a int) SERVER srv;\n\
             ALTER FOREIGN TABLE ft ADD COLUMN b int;\n\
             DROP FOREIGN TABLE ft;\n\
             DROP POLICY p ON t;\n\
             ALTER ROLE r RENAME TO r2;\n\
             DROP TEXT SEARCH CONFIGURATION c;\n\
             CREATE TYPE r4 AS RANGE (subtype = int4);\n\
             ALTER TYPE mood RENAME VALUE 'a' TO 'b';",
        )
        .stmts
        .iter()
        .map(|s| s.kind.verb())
        .collect();
        assert_eq!(
            verbs,
            [
                "CREATE PROCEDURE",
                "DROP PROCEDURE",
                "DROP ROUTINE",
                "CREATE AGGREGATE",
                "ALTER AGGREGATE … RENAME",
                "CREATE FOREIGN TABLE",
                "ALTER FOREIGN TABLE",
                "DROP FOREIGN TABLE",
                "DROP POLICY",
                "ALTER ROLE … RENAME",
                "DROP TEXT SEARCH CONFIGURATION",
                "CREATE TYPE",
                "ALTER TYPE … RENAME VALUE",
            ]
        );
        // Objects outside schemas are named by their one identifier.
        let p = parse("ALTER DATABASE d1 RENAME TO d2;\nCREATE SCHEMA AUTHORIZATION rr;");
        assert!(
            matches!(&p.stmts[0].kind, StmtKind::Rename { target, .. } if target.name == "d1"),
            "{:?}",
            p.stmts[0].kind
        );
        assert!(
            matches!(&p.stmts[1].kind, StmtKind::Create { name, .. } if name.name == "rr"),
            "{:?}",
            p.stmts[1].kind
        );
    }

    #[test]
    fn error_token_is_found() {
        let r = error_position("SELECT 1 FROM t WHERE x = = 2").unwrap_or(0..0);
        assert_eq!(&"SELECT 1 FROM t WHERE x = = 2"[r], "=");
        let r = error_position("CREATE TABL x (a int)").unwrap_or(0..0);
        assert_eq!(&"CREATE TABL x (a int)"[r], "TABL");
    }
}
