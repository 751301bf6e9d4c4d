//! SQLite and MySQL/MariaDB: a light reader over [`crate::lex`] tokens that recognises the
//! statement shapes the rules care about (DDL, DML, transaction control, PRAGMA) and leaves
//! everything else as `Other`. It does not validate grammar: the only syntax errors it
//! reports are lexical (an unterminated string, identifier or comment) and unbalanced
//! parentheses, so it never rejects SQL the database would accept.

use crate::ir::*;
use crate::lex::{self, Kind, Token};
use crate::pg::{canonical_type, pretty_type, Parsed, SyntaxError};
use backstop_core::driver::Engine;

pub(crate) fn parse(src: &str, engine: Engine) -> Parsed {
    let toks: Vec<Token> = lex::tokenize(src, engine)
        .into_iter()
        .filter(|t| !t.is_comment())
        .collect();
    let mut out = Parsed {
        stmts: Vec::new(),
        errors: Vec::new(),
    };
    for t in lex::tokenize(src, engine)
        .iter()
        .filter(|t| t.is_comment() && t.unterminated)
    {
        out.errors.push(SyntaxError {
            at: t.start..t.start + 2,
            stmt: t.start..t.end,
            message: "unterminated comment".into(),
            not_analysed: false,
        });
    }
    for group in split(src, &toks, engine) {
        let span = group[0].start..group[group.len() - 1].end;
        if let Some(bad) = group.iter().find(|t| t.unterminated) {
            let what = match bad.kind {
                Kind::Quoted => "quoted identifier",
                _ => "string",
            };
            out.errors.push(SyntaxError {
                at: bad.start..bad.start + 1,
                stmt: span,
                message: format!("unterminated {what}"),
                not_analysed: false,
            });
            continue;
        }
        if let Some(at) = unbalanced(src, group) {
            out.errors.push(SyntaxError {
                at: at..at + 1,
                stmt: span,
                message: "unbalanced parenthesis".into(),
                not_analysed: false,
            });
            continue;
        }
        let mut p = P {
            src,
            t: group,
            i: 0,
            engine,
        };
        let kind = p.statement();
        out.stmts.push(Stmt {
            span,
            kind,
            settings: Vec::new(),
        });
    }
    out
}

/// Group tokens (comments left out) into statements as `engine` reads them.
pub(crate) fn split<'a>(src: &str, toks: &'a [Token], engine: Engine) -> Vec<&'a [Token]> {
    match engine {
        Engine::Sqlite => split_sqlite(src, toks),
        Engine::Postgres | Engine::Mysql => split_bodies(src, toks),
    }
}

/// SQLite's rule, the table of `sqlite3_complete()` that the engine splits scripts by: a
/// `;` ends a statement except in a CREATE TRIGGER, which only `; END ;` ends, so column
/// names such as `end`, `begin` or `case` (`AFTER UPDATE OF end`, `new.end`) cannot end a
/// trigger early or leave a stray `END` statement behind.
fn split_sqlite<'a>(src: &str, toks: &'a [Token]) -> Vec<&'a [Token]> {
    use backstop_core::sql::{SqliteState, SqliteToken};
    let mut out = Vec::new();
    let mut start = 0;
    let mut state = SqliteState::Start;
    for (i, t) in toks.iter().enumerate() {
        let class = if t.is_punct(src, ';') {
            SqliteToken::Semi
        } else if t.kind == Kind::Word {
            SqliteToken::word(t.text(src))
        } else {
            SqliteToken::Other
        };
        state = state.next(class);
        if class == SqliteToken::Semi && state == SqliteState::Start {
            if i > start {
                out.push(&toks[start..i]);
            }
            start = i + 1;
        }
    }
    if start < toks.len() {
        out.push(&toks[start..]);
    }
    out
}

/// PostgreSQL and MySQL: groups end at `;`, keeping bodies (BEGIN … END) whole.
fn split_bodies<'a>(src: &str, toks: &'a [Token]) -> Vec<&'a [Token]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut depth = 0usize;
    let mut body = false;
    for (i, t) in toks.iter().enumerate() {
        if i - start < 6
            && (t.is_word(src, "trigger")
                || t.is_word(src, "procedure")
                || t.is_word(src, "function"))
        {
            body = true;
        }
        if body && (t.is_word(src, "begin") || t.is_word(src, "case")) {
            depth += 1;
        } else if body && t.is_word(src, "end") {
            depth = depth.saturating_sub(1);
        }
        if t.is_punct(src, ';') && depth == 0 {
            if i > start {
                out.push(&toks[start..i]);
            }
            start = i + 1;
            body = false;
        }
    }
    if start < toks.len() {
        out.push(&toks[start..]);
    }
    out
}

fn unbalanced(src: &str, toks: &[Token]) -> Option<usize> {
    let mut open: Vec<usize> = Vec::new();
    for t in toks {
        if t.is_punct(src, '(') {
            open.push(t.start);
        } else if t.is_punct(src, ')') && open.pop().is_none() {
            return Some(t.start);
        }
    }
    open.first().copied()
}

const CONSTRAINT_WORDS: &[&str] = &[
    "constraint",
    "primary",
    "unique",
    "foreign",
    "check",
    "key",
    "index",
    "fulltext",
    "spatial",
    "exclude",
];
const NILADIC: &[&str] = &[
    "current_timestamp",
    "current_date",
    "current_time",
    "localtime",
    "localtimestamp",
];

struct P<'a> {
    src: &'a str,
    t: &'a [Token],
    i: usize,
    engine: Engine,
}

impl<'a> P<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.t.get(self.i)
    }
    fn is(&self, w: &str) -> bool {
        self.peek().is_some_and(|t| t.is_word(self.src, w))
    }
    fn is_at(&self, k: usize, w: &str) -> bool {
        self.t
            .get(self.i + k)
            .is_some_and(|t| t.is_word(self.src, w))
    }
    fn eat(&mut self, w: &str) -> bool {
        if self.is(w) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn eat_all(&mut self, ws: &[&str]) -> bool {
        for (k, w) in ws.iter().enumerate() {
            if !self.is_at(k, w) {
                return false;
            }
        }
        self.i += ws.len();
        true
    }
    fn punct(&self, c: char) -> bool {
        self.peek().is_some_and(|t| t.is_punct(self.src, c))
    }
    fn eat_punct(&mut self, c: char) -> bool {
        if self.punct(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn at(&self) -> usize {
        self.peek()
            .map(|t| t.start)
            .or_else(|| self.t.last().map(|t| t.end))
            .unwrap_or(0)
    }
    fn ident(&mut self) -> Option<String> {
        let t = self.peek()?;
        if matches!(t.kind, Kind::Word | Kind::Quoted)
            || (self.engine == Engine::Mysql && t.kind == Kind::Str)
        {
            self.i += 1;
            let s = t.ident(self.src);
            Some(if t.kind == Kind::Str {
                s.trim_matches(['\'', '"']).to_string()
            } else {
                s
            })
        } else {
            None
        }
    }
    fn name(&mut self) -> Name {
        let Some(first) = self.ident() else {
            return Name::default();
        };
        let mut name = if self.punct('.') {
            self.i += 1;
            let second = self.ident().unwrap_or_default();
            let schema = if self.engine == Engine::Sqlite && first.eq_ignore_ascii_case("main") {
                None
            } else {
                Some(first)
            };
            Name::new(schema, second)
        } else {
            Name::new(None, first)
        };
        // SQLite resolves object names ignoring ASCII case, quoted or not.
        name.nocase = self.engine == Engine::Sqlite;
        name
    }
    /// The clauses after `REFERENCES parent (cols)`: `ON DELETE`/`ON UPDATE` actions and
    /// `MATCH`, in any order. Returns the ON DELETE action (`CASCADE`, `SET NULL`, …).
    fn fk_actions(&mut self) -> Option<String> {
        let mut on_delete = None;
        loop {
            if self.eat("match") {
                self.i += 1;
            } else if self.is("on") && (self.is_at(1, "delete") || self.is_at(1, "update")) {
                let delete = self.is_at(1, "delete");
                self.i += 2;
                let action = if self.eat_all(&["set", "null"]) {
                    "SET NULL"
                } else if self.eat_all(&["set", "default"]) {
                    "SET DEFAULT"
                } else if self.eat("cascade") {
                    "CASCADE"
                } else if self.eat("restrict") {
                    "RESTRICT"
                } else if self.eat_all(&["no", "action"]) {
                    "NO ACTION"
                } else {
                    continue;
                };
                if delete {
                    on_delete = Some(action.to_string());
                }
            } else {
                return on_delete;
            }
        }
    }
    /// MySQL's `DATABASE` or its synonym `SCHEMA`. SQLite has neither statement (another
    /// database is ATTACHed), so there the words are left for `Other`.
    fn database_word(&mut self) -> Option<Obj> {
        if self.engine != Engine::Mysql {
            return None;
        }
        if self.eat("database") {
            Some(Obj::Database { as_schema: false })
        } else if self.eat("schema") {
            Some(Obj::Database { as_schema: true })
        } else {
            None
        }
    }
    fn if_not_exists(&mut self) -> bool {
        self.eat_all(&["if", "not", "exists"])
    }
    fn if_exists(&mut self) -> bool {
        self.eat_all(&["if", "exists"])
    }
    /// Tokens of a parenthesised group starting at the cursor (cursor moves past it).
    fn group(&mut self) -> &'a [Token] {
        if !self.punct('(') {
            return &[];
        }
        let start = self.i + 1;
        let mut depth = 0;
        while let Some(t) = self.peek() {
            if t.is_punct(self.src, '(') {
                depth += 1;
            } else if t.is_punct(self.src, ')') {
                depth -= 1;
                if depth == 0 {
                    let g = &self.t[start..self.i];
                    self.i += 1;
                    return g;
                }
            }
            self.i += 1;
        }
        &self.t[start.min(self.t.len())..]
    }
    fn rest(&self) -> &'a [Token] {
        &self.t[self.i.min(self.t.len())..]
    }

    fn statement(&mut self) -> StmtKind {
        let first = self
            .peek()
            .map(|t| t.text(self.src).to_ascii_lowercase())
            .unwrap_or_default();
        match first.as_str() {
            "create" => self.create(),
            "alter" => self.alter(),
            "drop" => self.drop(),
            "rename" => self.rename_table(),
            "truncate" => {
                self.i += 1;
                self.eat("table");
                StmtKind::Truncate {
                    tables: vec![self.name()],
                    cascade: false,
                }
            }
            "delete" => {
                self.i += 1;
                while self.eat("low_priority") || self.eat("quick") || self.eat("ignore") {}
                self.eat("from");
                let table = self.name();
                let rest = self.rest();
                StmtKind::Delete {
                    table,
                    has_where: top_word(self.src, rest, "where"),
                    exprs: vec![expr(self.src, rest)],
                }
            }
            "update" => self.update(),
            "insert" | "replace" => {
                self.i += 1;
                if self.eat("or") {
                    self.i += 1;
                }
                while self.eat("low_priority")
                    || self.eat("delayed")
                    || self.eat("high_priority")
                    || self.eat("ignore")
                {}
                self.eat("into");
                let table = self.name();
                let rest = self.rest();
                StmtKind::Insert {
                    table,
                    from_select: top_word(self.src, rest, "select"),
                    exprs: vec![expr(self.src, rest)],
                }
            }
            "select" | "with" | "values" => StmtKind::Select {
                exprs: vec![expr(self.src, self.t)],
            },
            "begin" | "start" => StmtKind::Transaction {
                kind: TxKind::Begin,
                word: self.tag(),
            },
            "commit" | "end" => StmtKind::Transaction {
                kind: TxKind::Commit,
                word: self.tag(),
            },
            "rollback" => {
                let kind = if self.t.iter().any(|t| t.is_word(self.src, "to")) {
                    TxKind::Savepoint
                } else {
                    TxKind::Rollback
                };
                StmtKind::Transaction {
                    kind,
                    word: self.tag(),
                }
            }
            "savepoint" | "release" => StmtKind::Transaction {
                kind: TxKind::Savepoint,
                word: self.tag(),
            },
            "pragma" => {
                self.i += 1;
                let n = self.name();
                let value = if self.eat_punct('=') {
                    self.peek()
                        .map(|t| t.text(self.src).to_string())
                        .unwrap_or_default()
                } else {
                    let g = self.group();
                    g.first()
                        .map(|t| t.text(self.src).to_string())
                        .unwrap_or_default()
                };
                StmtKind::Pragma {
                    name: n.name,
                    value: value.trim_matches(['\'', '"']).to_ascii_lowercase(),
                }
            }
            "vacuum" | "optimize" => StmtKind::Vacuum {
                full: true,
                tables: vec![],
            },
            "reindex" => StmtKind::Reindex {
                target: self
                    .t
                    .get(1)
                    .map(|t| t.text(self.src).to_string())
                    .unwrap_or_default(),
                table: None,
                concurrently: false,
            },
            "set" => {
                self.i += 1;
                let local = self.eat("local") || self.eat("session");
                let n = self.name();
                self.eat_punct('=');
                self.eat("to");
                let value = self
                    .rest()
                    .iter()
                    .map(|t| t.text(self.src))
                    .collect::<Vec<_>>()
                    .join(" ");
                StmtKind::Set {
                    name: n.name,
                    value: value.trim_matches(['\'', '"']).to_string(),
                    local,
                    reset: false,
                }
            }
            "lock" => {
                self.i += 1;
                self.eat("tables");
                self.eat("table");
                let t = self.name();
                let mode = self
                    .rest()
                    .iter()
                    .map(|t| t.text(self.src).to_ascii_uppercase())
                    .collect::<Vec<_>>()
                    .join(" ");
                StmtKind::LockTable {
                    tables: vec![t],
                    mode,
                }
            }
            _ => StmtKind::Other { tag: self.tag() },
        }
    }

    fn tag(&self) -> String {
        self.t
            .iter()
            .take_while(|t| t.kind == Kind::Word)
            .take(2)
            .map(|t| t.text(self.src).to_uppercase())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn create(&mut self) -> StmtKind {
        self.i += 1;
        let or_replace = self.eat_all(&["or", "replace"]);
        let temporary = self.eat("temp") || self.eat("temporary");
        let unique = self.eat("unique");
        self.eat("fulltext");
        self.eat("spatial");
        self.eat("virtual");
        // MySQL view/routine clauses before the object word.
        while self.is("algorithm") || self.is("definer") || self.is("sql") {
            self.i += 1;
            while !(self.is("view")
                || self.is("procedure")
                || self.is("function")
                || self.is("trigger")
                || self.peek().is_none())
            {
                self.i += 1;
            }
        }
        if self.eat("table") {
            let if_not_exists = self.if_not_exists();
            let table = self.name();
            if self.punct('(') {
                let body = self.group();
                let (columns, constraints) = self.table_body(body);
                let as_select = top_word(self.src, self.rest(), "select");
                return StmtKind::CreateTable {
                    table,
                    if_not_exists,
                    columns,
                    constraints,
                    as_select,
                    temporary,
                    partition_of: None,
                };
            }
            return StmtKind::CreateTable {
                table,
                if_not_exists,
                columns: vec![],
                constraints: vec![],
                as_select: true,
                temporary,
                partition_of: None,
            };
        }
        if self.eat("index") {
            let if_not_exists = self.if_not_exists();
            let idx = self.name();
            self.eat("on");
            let table = self.name();
            let cols = self.group();
            let columns = split_commas(self.src, cols)
                .iter()
                .filter_map(|c| c.first().map(|t| t.ident(self.src)))
                .collect();
            let resolved = Name {
                nocase: idx.nocase,
                ..Name::new(idx.schema.clone().or(table.schema.clone()), idx.name)
            };
            return StmtKind::CreateIndex {
                name: Some(resolved.clone()),
                resolved,
                table,
                unique,
                concurrently: false,
                if_not_exists,
                columns,
            };
        }
        if self.eat("view") {
            let if_not_exists = self.if_not_exists();
            let name = self.name();
            let rest = self.rest();
            let mut tables = Vec::new();
            for (k, t) in rest.iter().enumerate() {
                if t.is_word(self.src, "from") || t.is_word(self.src, "join") {
                    let mut q = P {
                        src: self.src,
                        t: rest,
                        i: k + 1,
                        engine: self.engine,
                    };
                    if !q.punct('(') {
                        tables.push(q.name());
                    }
                }
            }
            let columns = rest
                .iter()
                .filter(|t| matches!(t.kind, Kind::Word | Kind::Quoted))
                .map(|t| t.ident(self.src))
                .collect();
            let star = rest.iter().any(|t| t.is_punct(self.src, '*'));
            return StmtKind::CreateView {
                name,
                materialized: false,
                replace: or_replace,
                tables,
                columns,
                star,
                if_not_exists,
            };
        }
        let obj = if self.eat("trigger") {
            Obj::Trigger
        } else if let Some(db) = self.database_word() {
            db
        } else if self.eat("procedure") {
            Obj::Procedure
        } else if self.eat("function") {
            Obj::Function
        } else {
            return StmtKind::Other { tag: self.tag() };
        };
        let if_not_exists = self.if_not_exists();
        let name = self.name();
        let table = if obj == Obj::Trigger {
            let rest = self.rest();
            rest.iter()
                .position(|t| t.is_word(self.src, "on"))
                .map(|k| {
                    let mut q = P {
                        src: self.src,
                        t: rest,
                        i: k + 1,
                        engine: self.engine,
                    };
                    q.name()
                })
        } else {
            None
        };
        StmtKind::Create {
            obj,
            name,
            if_not_exists,
            or_replace,
            table,
            domain_check: false,
        }
    }

    fn table_body(&self, body: &'a [Token]) -> (Vec<ColumnDef>, Vec<Constraint>) {
        let mut columns = Vec::new();
        let mut constraints = Vec::new();
        for el in split_commas(self.src, body) {
            let Some(first) = el.first() else { continue };
            if first.kind == Kind::Word
                && CONSTRAINT_WORDS.contains(&first.text(self.src).to_ascii_lowercase().as_str())
            {
                if let Some(c) = self.table_constraint(el) {
                    constraints.push(c);
                }
            } else {
                columns.push(self.column_def(el));
            }
        }
        (columns, constraints)
    }

    fn table_constraint(&self, el: &'a [Token]) -> Option<Constraint> {
        let mut p = P {
            src: self.src,
            t: el,
            i: 0,
            engine: self.engine,
        };
        let at = p.at();
        let name = if p.eat("constraint") { p.ident() } else { None };
        let kind = if p.eat_all(&["primary", "key"]) {
            ConKind::PrimaryKey
        } else if p.eat("unique") {
            p.eat("key");
            p.eat("index");
            if !p.punct('(') {
                p.ident();
            }
            ConKind::Unique
        } else if p.eat_all(&["foreign", "key"]) {
            if !p.punct('(') {
                p.ident();
            }
            let cols = p.group();
            let columns: Vec<String> = split_commas(self.src, cols)
                .iter()
                .filter_map(|c| c.first().map(|t| t.ident(self.src)))
                .collect();
            p.eat("references");
            let references = p.name();
            let g = p.group();
            let ref_columns = split_commas(self.src, g)
                .iter()
                .filter_map(|c| c.first().map(|t| t.ident(self.src)))
                .collect();
            let on_delete = p.fk_actions();
            return Some(Constraint {
                name,
                kind: ConKind::ForeignKey {
                    references,
                    ref_columns,
                    on_delete,
                },
                columns,
                not_valid: false,
                using_index: None,
                at,
            });
        } else if p.eat("check") {
            let g = p.group();
            ConKind::Check {
                expr: expr(self.src, g),
                not_null_of: None,
            }
        } else {
            // MySQL INDEX/KEY definitions inside CREATE TABLE: plain indexes.
            return None;
        };
        let cols = p.group();
        let columns = split_commas(self.src, cols)
            .iter()
            .filter_map(|c| c.first().map(|t| t.ident(self.src)))
            .collect();
        Some(Constraint {
            name,
            kind,
            columns,
            not_valid: false,
            using_index: None,
            at,
        })
    }

    fn column_def(&self, el: &'a [Token]) -> ColumnDef {
        let mut p = P {
            src: self.src,
            t: el,
            i: 0,
            engine: self.engine,
        };
        let at = p.at();
        let name = p.ident().unwrap_or_default();
        let ty = p.type_name();
        let mut col = ColumnDef {
            name: name.clone(),
            serial: false,
            ty,
            not_null: false,
            default: None,
            identity: false,
            generated_stored: false,
            constraints: Vec::new(),
            at,
        };
        while let Some(t) = p.peek() {
            let w = t.text(self.src).to_ascii_lowercase();
            let here = t.start;
            p.i += 1;
            match w.as_str() {
                "not" if p.eat("null") => col.not_null = true,
                "default" => {
                    let start = p.i;
                    if p.punct('(') {
                        p.group();
                    } else {
                        p.i += 1;
                        if p.punct('(') {
                            p.group();
                        }
                    }
                    col.default = Some(expr(self.src, &el[start.min(el.len())..p.i.min(el.len())]));
                }
                "primary" => {
                    p.eat("key");
                    col.not_null = true;
                    col.constraints.push(Constraint {
                        name: None,
                        kind: ConKind::PrimaryKey,
                        columns: vec![name.clone()],
                        not_valid: false,
                        using_index: None,
                        at: here,
                    });
                }
                "unique" => col.constraints.push(Constraint {
                    name: None,
                    kind: ConKind::Unique,
                    columns: vec![name.clone()],
                    not_valid: false,
                    using_index: None,
                    at: here,
                }),
                "references" => {
                    let references = p.name();
                    let g = p.group();
                    let ref_columns = split_commas(self.src, g)
                        .iter()
                        .filter_map(|c| c.first().map(|t| t.ident(self.src)))
                        .collect();
                    let on_delete = p.fk_actions();
                    col.constraints.push(Constraint {
                        name: None,
                        kind: ConKind::ForeignKey {
                            references,
                            ref_columns,
                            on_delete,
                        },
                        columns: vec![name.clone()],
                        not_valid: false,
                        using_index: None,
                        at: here,
                    });
                }
                "check" => {
                    let g = p.group();
                    col.constraints.push(Constraint {
                        name: None,
                        kind: ConKind::Check {
                            expr: expr(self.src, g),
                            not_null_of: None,
                        },
                        columns: vec![name.clone()],
                        not_valid: false,
                        using_index: None,
                        at: here,
                    });
                }
                "auto_increment" | "autoincrement" => col.serial = true,
                "stored" => col.generated_stored = true,
                _ => {}
            }
        }
        col
    }

    fn type_name(&mut self) -> Option<TypeName> {
        let t = self.peek()?;
        // SQLite columns may have no type at all: `parent_id REFERENCES parent(id)`,
        // `n NOT NULL`, `g AS (a + b)`. A word that starts a column constraint is one.
        const NO_TYPE: &[&str] = &[
            "not",
            "null",
            "default",
            "references",
            "generated",
            "as",
            "collate",
        ];
        let first = t.text(self.src).to_ascii_lowercase();
        if t.kind != Kind::Word
            || CONSTRAINT_WORDS.contains(&first.as_str())
            || NO_TYPE.contains(&first.as_str())
        {
            return None;
        }
        let stop = [
            "not",
            "null",
            "default",
            "primary",
            "unique",
            "references",
            "check",
            "auto_increment",
            "autoincrement",
            "generated",
            "as",
            "collate",
            "constraint",
            "comment",
            "unsigned",
            "signed",
            "zerofill",
            "character",
            "charset",
            "first",
            "after",
            "on",
        ];
        let mut words = vec![t.text(self.src).to_ascii_lowercase()];
        self.i += 1;
        // Multi-word types: double precision, character varying, timestamp with time zone.
        while let Some(n) = self.peek() {
            let w = n.text(self.src).to_ascii_lowercase();
            if n.kind == Kind::Word
                && (matches!(
                    w.as_str(),
                    "precision" | "varying" | "with" | "without" | "time" | "zone"
                ) || (words[0] == "character" && w == "varying"))
                && !stop.contains(&w.as_str())
            {
                words.push(w);
                self.i += 1;
            } else {
                break;
            }
        }
        let mut mods = Vec::new();
        if self.punct('(') {
            let g = self.group();
            mods = g
                .iter()
                .filter(|t| t.kind == Kind::Num)
                .filter_map(|t| t.text(self.src).parse().ok())
                .collect();
        }
        let raw = words.join(" ");
        let name = canonical_type(&raw).to_string();
        let mut display = pretty_type(&name).to_string();
        if !mods.is_empty() {
            display = format!(
                "{display}({})",
                mods.iter()
                    .map(|m: &i64| m.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            );
        }
        Some(TypeName {
            name,
            mods,
            array: false,
            display,
        })
    }

    fn alter(&mut self) -> StmtKind {
        self.i += 1;
        self.eat("online");
        self.eat("ignore");
        if !self.eat("table") {
            return StmtKind::Other { tag: self.tag() };
        }
        let if_exists = self.if_exists();
        let table = self.name();
        let rest = self.rest();
        let parts = split_commas(self.src, rest);
        let mut cmds = Vec::new();
        for part in &parts {
            let mut p = P {
                src: self.src,
                t: part,
                i: 0,
                engine: self.engine,
            };
            let at = p.at();
            if p.eat("rename") {
                if p.eat("column") || p.is_at(1, "to") && !p.is("to") {
                    let old = p.ident().unwrap_or_default();
                    p.eat("to");
                    let new_name = p.ident().unwrap_or_default();
                    if parts.len() == 1 {
                        return StmtKind::Rename {
                            obj: Obj::Table,
                            target: table.clone(),
                            column: Some(old),
                            new_name,
                            table: Some(table),
                        };
                    }
                    continue;
                }
                if p.eat("index") || p.eat("key") {
                    cmds.push(AlterCmd::Other {
                        what: "RENAME INDEX".into(),
                        share_row_exclusive: false,
                    });
                    continue;
                }
                let _ = p.eat("to") || p.eat("as");
                let new = p.name();
                if parts.len() == 1 {
                    return StmtKind::Rename {
                        obj: Obj::Table,
                        target: table,
                        column: None,
                        new_name: new.name,
                        table: None,
                    };
                }
                continue;
            }
            if p.eat("add") {
                if p.is("constraint")
                    || p.is("primary")
                    || p.is("unique")
                    || p.is("foreign")
                    || p.is("check")
                {
                    if let Some(c) = self.table_constraint(&part[p.i..]) {
                        cmds.push(AlterCmd::AddConstraint(c));
                    }
                    continue;
                }
                if p.is("index") || p.is("key") || p.is("fulltext") || p.is("spatial") {
                    let _ = p.eat("fulltext") || p.eat("spatial");
                    let _ = p.eat("index") || p.eat("key");
                    let name = if p.punct('(') { None } else { p.ident() };
                    let first_col = p.group().first().map(|t| t.ident(self.src));
                    if let Some(name) = name.or(first_col) {
                        cmds.push(AlterCmd::AddIndex { name });
                    }
                    continue;
                }
                p.eat("column");
                let if_not_exists = p.if_not_exists();
                let col = self.column_def(&part[p.i.min(part.len())..]);
                cmds.push(AlterCmd::AddColumn { col, if_not_exists });
                continue;
            }
            if p.eat("drop") {
                if p.eat("column")
                    || !(p.is("index")
                        || p.is("key")
                        || p.is("primary")
                        || p.is("foreign")
                        || p.is("constraint")
                        || p.is("check")
                        || p.is("default"))
                {
                    let if_exists = p.if_exists();
                    let name = p.ident().unwrap_or_default();
                    cmds.push(AlterCmd::DropColumn {
                        name,
                        if_exists,
                        cascade: p.eat("cascade"),
                    });
                    continue;
                }
                if p.eat("index") || p.eat("key") {
                    cmds.push(AlterCmd::DropIndex {
                        name: p.ident().unwrap_or_default(),
                    });
                    continue;
                }
                let _ = p.eat_all(&["primary", "key"])
                    || p.eat_all(&["foreign", "key"])
                    || p.eat("constraint")
                    || p.eat("check");
                let if_exists = p.if_exists();
                let name = p.ident().unwrap_or_default();
                cmds.push(AlterCmd::DropConstraint {
                    name,
                    if_exists,
                    cascade: false,
                });
                continue;
            }
            if p.eat("modify") || p.is("change") {
                let change = p.eat("change");
                p.eat("column");
                let old = if change { p.ident() } else { None };
                let col = self.column_def(&part[p.i.min(part.len())..]);
                if let Some(old) = old.filter(|o| *o != col.name) {
                    if parts.len() == 1 {
                        return StmtKind::Rename {
                            obj: Obj::Table,
                            target: table.clone(),
                            column: Some(old),
                            new_name: col.name,
                            table: Some(table),
                        };
                    }
                }
                if let Some(ty) = col.ty.clone() {
                    cmds.push(AlterCmd::ColumnType {
                        column: col.name.clone(),
                        ty,
                        using: None,
                        at: col.at,
                    });
                }
                if col.not_null {
                    cmds.push(AlterCmd::SetNotNull {
                        column: col.name.clone(),
                    });
                }
                continue;
            }
            if p.eat("alter") {
                p.eat("column");
                let column = p.ident().unwrap_or_default();
                if p.eat_all(&["set", "default"]) {
                    let e = expr(self.src, p.rest());
                    cmds.push(AlterCmd::SetDefault {
                        column,
                        expr: Some(e),
                    });
                } else if p.eat_all(&["drop", "default"]) {
                    cmds.push(AlterCmd::SetDefault { column, expr: None });
                } else {
                    cmds.push(AlterCmd::Other {
                        what: "ALTER COLUMN".into(),
                        share_row_exclusive: false,
                    });
                }
                continue;
            }
            if p.is("algorithm") || p.is("lock") {
                let option = p
                    .peek()
                    .map(|t| t.text(self.src).to_ascii_lowercase())
                    .unwrap_or_default();
                p.i += 1;
                p.eat_punct('=');
                let value = p
                    .peek()
                    .map(|t| t.text(self.src).to_string())
                    .unwrap_or_default();
                cmds.push(AlterCmd::MysqlOption { option, value, at });
                continue;
            }
            cmds.push(AlterCmd::Other {
                what: part
                    .first()
                    .map(|t| t.text(self.src).to_uppercase())
                    .unwrap_or_default(),
                share_row_exclusive: false,
            });
        }
        StmtKind::AlterTable {
            table,
            obj: Obj::Table,
            if_exists,
            cmds,
        }
    }

    fn drop(&mut self) -> StmtKind {
        self.i += 1;
        self.eat("temporary");
        let obj = if self.eat("table") {
            Obj::Table
        } else if self.eat("index") {
            Obj::Index
        } else if self.eat("view") {
            Obj::View
        } else if self.eat("trigger") {
            Obj::Trigger
        } else if let Some(db) = self.database_word() {
            db
        } else if self.eat("procedure") {
            Obj::Procedure
        } else if self.eat("function") {
            Obj::Function
        } else {
            return StmtKind::Other { tag: self.tag() };
        };
        let if_exists = self.if_exists();
        let mut names = vec![self.name()];
        while self.eat_punct(',') {
            names.push(self.name());
        }
        // MySQL `DROP INDEX i ON t`: the index is t's, in t's schema.
        let table = (obj == Obj::Index && self.eat("on")).then(|| self.name());
        if let Some(t) = &table {
            for n in names.iter_mut().filter(|n| n.schema.is_none()) {
                n.schema = t.schema.clone();
            }
        }
        let cascade = self.rest().iter().any(|t| t.is_word(self.src, "cascade"));
        StmtKind::Drop {
            obj,
            names,
            table,
            if_exists,
            cascade,
            concurrently: false,
        }
    }

    fn rename_table(&mut self) -> StmtKind {
        self.i += 1;
        self.eat("table");
        let target = self.name();
        self.eat("to");
        let new = self.name();
        StmtKind::Rename {
            obj: Obj::Table,
            target,
            column: None,
            new_name: new.name,
            table: None,
        }
    }

    fn update(&mut self) -> StmtKind {
        self.i += 1;
        if self.eat("or") {
            self.i += 1;
        }
        while self.eat("low_priority") || self.eat("ignore") {}
        let table = self.name();
        while !(self.is("set") || self.peek().is_none()) {
            self.i += 1;
        }
        self.eat("set");
        let rest = self.rest();
        let end = rest
            .iter()
            .position(|t| {
                ["where", "from", "order", "limit", "returning"]
                    .iter()
                    .any(|w| t.is_word(self.src, w))
            })
            .unwrap_or(rest.len());
        let mut set = Vec::new();
        for a in split_commas(self.src, &rest[..end]) {
            let Some(eq) = a.iter().position(|t| t.is_punct(self.src, '=')) else {
                continue;
            };
            let col = a[..eq]
                .last()
                .map(|t| t.ident(self.src))
                .unwrap_or_default();
            set.push((col, expr(self.src, &a[eq + 1..])));
        }
        StmtKind::Update {
            table,
            has_where: top_word(self.src, rest, "where"),
            set,
            exprs: vec![expr(self.src, &rest[end..])],
        }
    }
}

/// Split tokens at top-level commas.
fn split_commas<'a>(src: &str, toks: &'a [Token]) -> Vec<&'a [Token]> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        if t.is_punct(src, '(') {
            depth += 1;
        } else if t.is_punct(src, ')') {
            depth -= 1;
        } else if t.is_punct(src, ',') && depth == 0 {
            if i > start {
                out.push(&toks[start..i]);
            }
            start = i + 1;
        }
    }
    if start < toks.len() {
        out.push(&toks[start..]);
    }
    out
}

/// A keyword outside parentheses.
fn top_word(src: &str, toks: &[Token], w: &str) -> bool {
    let mut depth = 0i32;
    for t in toks {
        if t.is_punct(src, '(') {
            depth += 1;
        } else if t.is_punct(src, ')') {
            depth -= 1;
        } else if depth == 0 && t.is_word(src, w) {
            return true;
        }
    }
    false
}

fn expr(src: &str, toks: &[Token]) -> Expr {
    let mut e = Expr {
        at: toks.first().map(|t| t.start),
        ..Expr::default()
    };
    for (k, t) in toks.iter().enumerate() {
        match t.kind {
            Kind::Word => {
                let w = t.text(src).to_ascii_lowercase();
                let call = toks.get(k + 1).is_some_and(|n| n.is_punct(src, '('));
                if call || NILADIC.contains(&w.as_str()) {
                    e.funcs.push((w, t.start));
                } else if w == "select" {
                    e.subquery = true;
                } else {
                    e.columns.push(w);
                }
            }
            Kind::Str if t.text(src).eq_ignore_ascii_case("'now'") => {
                e.funcs.push(("now".into(), t.start))
            }
            _ => {}
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str, e: Engine) -> Vec<StmtKind> {
        parse(src, e).stmts.into_iter().map(|s| s.kind).collect()
    }

    #[test]
    fn sqlite_shapes() {
        let k = kinds(
            "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL DEFAULT '');\n\
             CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET name = 'x'; END;\n\
             PRAGMA foreign_keys = OFF;\nDELETE FROM t;",
            Engine::Sqlite,
        );
        assert_eq!(k.len(), 4);
        assert!(
            matches!(&k[0], StmtKind::CreateTable { columns, .. } if columns.len() == 2 && columns[0].serial && columns[1].not_null)
        );
        assert!(matches!(
            &k[1],
            StmtKind::Create {
                obj: Obj::Trigger,
                ..
            }
        ));
        assert!(
            matches!(&k[2], StmtKind::Pragma { name, value } if name == "foreign_keys" && value == "off")
        );
        assert!(matches!(
            &k[3],
            StmtKind::Delete {
                has_where: false,
                ..
            }
        ));
    }

    #[test]
    fn mysql_alter_table() {
        let k = kinds("ALTER TABLE `users` MODIFY COLUMN email VARCHAR(100) NOT NULL, ALGORITHM=COPY, LOCK=SHARED;", Engine::Mysql);
        let StmtKind::AlterTable { table, cmds, .. } = &k[0] else {
            panic!("{k:?}")
        };
        assert_eq!(table.name, "users");
        assert!(
            matches!(&cmds[0], AlterCmd::ColumnType { column, ty, .. } if column == "email" && ty.mods == vec![100])
        );
        assert!(cmds
            .iter()
            .any(|c| matches!(c, AlterCmd::MysqlOption { option, .. } if option == "algorithm")));
    }

    #[test]
    fn lexical_errors_are_reported_not_panicked() {
        let p = parse("SELECT 'abc;\n", Engine::Sqlite);
        assert_eq!(p.errors.len(), 1);
        let p = parse("CREATE TABLE t (a int;", Engine::Mysql);
        assert_eq!(p.errors.len(), 1);
    }

    #[test]
    fn sqlite_comments_do_not_nest_and_brackets_quote() {
        // A comment ends at the first `*/`: no unterminated comment, and the statement
        // after it is read.
        let p = parse(
            "SELECT 1; /* old check /* kept for history */\nSELECT count(*) = 42 FROM t;",
            Engine::Sqlite,
        );
        assert!(p.errors.is_empty(), "{:?}", p.errors.len());
        assert_eq!(p.stmts.len(), 2);
        // PostgreSQL still nests: the same text is one statement and an unterminated comment.
        let toks = lex::tokenize("/* a /* b */", Engine::Postgres);
        assert!(toks[0].unterminated);
        let p = parse(
            "CREATE TABLE \"odd; name\" ([semi;col] TEXT, `b;c` INT);\nDROP TABLE [x;y];",
            Engine::Sqlite,
        );
        assert!(p.errors.is_empty());
        let k: Vec<StmtKind> = p.stmts.into_iter().map(|s| s.kind).collect();
        assert_eq!(k.len(), 2);
        assert!(
            matches!(&k[0], StmtKind::CreateTable { table, columns, .. }
                if table.name == "odd; name" && columns.len() == 2 && columns[0].name == "semi;col" && columns[1].name == "b;c"),
            "{k:?}"
        );
    }

    #[test]
    fn sqlite_trigger_with_end_as_a_column_stays_whole() {
        let k = kinds(
            "CREATE TABLE events(id, start, end, duration);\n\
             CREATE TRIGGER tr AFTER UPDATE OF end ON events BEGIN \
             UPDATE events SET duration = new.end - new.start, begin = new.begin WHERE id = new.id; END;\n\
             DELETE FROM events WHERE id = 0;",
            Engine::Sqlite,
        );
        assert_eq!(k.len(), 3, "{k:?}");
        assert!(matches!(
            &k[1],
            StmtKind::Create {
                obj: Obj::Trigger,
                ..
            }
        ));
        assert!(matches!(&k[2], StmtKind::Delete { .. }));
    }
}
