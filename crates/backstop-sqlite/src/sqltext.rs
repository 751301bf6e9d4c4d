//! A small SQLite tokenizer, used to read the few facts the catalog pragmas don't expose
//! (CHECK constraints, collations, generated-column expressions, AUTOINCREMENT, deferred
//! foreign keys, index expressions and partial-index WHERE clauses) out of the CREATE text
//! kept in `sqlite_schema`, and to normalise SQL text (views, triggers) for fingerprints.
//!
//! SQLite keeps that text as the user wrote it and edits it in place on ALTER TABLE, so the
//! same logical object can be spelled many ways. Normalising tokens (case-folding bare words
//! and plain quoted identifiers, one canonical spacing) makes spellings that SQLite treats as
//! identical compare equal. The reader never fails: text it can't make sense of yields fewer
//! facts, never an error.
//!
//! One spelling is not what it seems: SQLite reads a double-quoted word that names nothing
//! in scope as a string literal (<https://sqlite.org/quirks.html#dblquote>), so in
//! `CHECK (s IN ("Open"))` the case of `"Open"` matters. Expressions are therefore
//! normalised in a [`Scope`] that says which names resolve there; a double-quoted word that
//! is not one of them keeps its spelling, written as the string it is.

use std::collections::BTreeSet;

/// One lexical token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// A bare word: keyword or unquoted identifier.
    Word(String),
    /// A quoted identifier (`` `x` ``, `[x]`), unquoted.
    Ident(String),
    /// A double-quoted identifier (`"x"`), unquoted: a name, or the string `'x'` where no
    /// such name is in scope (see the module docs).
    DqIdent(String),
    /// A string or blob literal, verbatim with its quotes.
    Str(String),
    Num(String),
    Punct(String),
}

impl Token {
    /// Whether this is the bare word `kw` (ASCII case-insensitive).
    pub(crate) fn is_kw(&self, kw: &str) -> bool {
        matches!(self, Token::Word(w) if w.eq_ignore_ascii_case(kw))
    }
    fn is_punct(&self, p: &str) -> bool {
        matches!(self, Token::Punct(x) if x == p)
    }
    /// The identifier this token names, case-folded (SQLite resolves names ignoring ASCII case).
    pub(crate) fn name(&self) -> Option<String> {
        match self {
            Token::Word(w) | Token::Ident(w) | Token::DqIdent(w) => Some(w.to_ascii_lowercase()),
            Token::Str(s) => Some(s.trim_matches('\'').to_ascii_lowercase()),
            _ => None,
        }
    }
}

/// Split SQL text into tokens, dropping whitespace and comments.
pub(crate) fn tokenize(sql: &str) -> Vec<Token> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let n = chars.len();
    let take_quoted = |start: usize, close: char, doubled: bool| -> (String, usize) {
        // Returns the content and the index after the closing quote. An unterminated quote
        // swallows the rest, which is what SQLite would complain about anyway.
        let mut s = String::new();
        let mut j = start + 1;
        while j < n {
            if chars[j] == close {
                if doubled && j + 1 < n && chars[j + 1] == close {
                    s.push(close);
                    j += 2;
                    continue;
                }
                return (s, j + 1);
            }
            s.push(chars[j]);
            j += 1;
        }
        (s, n)
    };
    while i < n {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && next == Some('-') {
            while i < n && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i < n && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i = (i + 2).min(n);
        } else if c == '\'' {
            let (s, j) = take_quoted(i, '\'', true);
            out.push(Token::Str(format!("'{}'", s.replace('\'', "''"))));
            i = j;
        } else if c == '"' {
            let (s, j) = take_quoted(i, c, true);
            out.push(Token::DqIdent(s));
            i = j;
        } else if c == '`' {
            let (s, j) = take_quoted(i, c, true);
            out.push(Token::Ident(s));
            i = j;
        } else if c == '[' {
            let (s, j) = take_quoted(i, ']', false);
            out.push(Token::Ident(s));
            i = j;
        } else if (c == 'x' || c == 'X') && next == Some('\'') {
            let (s, j) = take_quoted(i + 1, '\'', false);
            out.push(Token::Str(format!("X'{}'", s.to_ascii_uppercase())));
            i = j;
        } else if c.is_ascii_digit() || (c == '.' && next.is_some_and(|d| d.is_ascii_digit())) {
            let mut s = String::new();
            while i < n {
                let d = chars[i];
                let exp_sign = (d == '+' || d == '-')
                    && s.ends_with(['e', 'E'])
                    && !s.starts_with("0x")
                    && !s.starts_with("0X");
                if d.is_ascii_alphanumeric() || d == '.' || d == '_' || exp_sign {
                    s.push(d);
                    i += 1;
                } else {
                    break;
                }
            }
            out.push(Token::Num(s.to_ascii_lowercase()));
        } else if c.is_alphabetic() || c == '_' || !c.is_ascii() {
            let mut s = String::new();
            while i < n
                && (chars[i].is_alphanumeric()
                    || chars[i] == '_'
                    || chars[i] == '$'
                    || !chars[i].is_ascii())
            {
                s.push(chars[i]);
                i += 1;
            }
            out.push(Token::Word(s));
        } else {
            let three: String = chars[i..(i + 3).min(n)].iter().collect();
            let two: String = chars[i..(i + 2).min(n)].iter().collect();
            let p = if three == "->>" {
                three
            } else if matches!(
                two.as_str(),
                "||" | "<=" | ">=" | "<>" | "!=" | "==" | "<<" | ">>" | "->"
            ) {
                two
            } else {
                c.to_string()
            };
            i += p.chars().count();
            out.push(Token::Punct(p));
        }
    }
    out
}

/// Whether `s` can be written without quotes.
pub(crate) fn is_plain_ident(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Quote an identifier for canonical text: bare when plain, else `"..."`. Case is kept:
/// this is for names as *defined* (tables, columns, indexes), which users see.
pub(crate) fn ident(s: &str) -> String {
    if is_plain_ident(s) {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// Where an expression is read: which double-quoted words are names there.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope<'a> {
    /// Not an expression (type names, a virtual table's module arguments, which the module
    /// parses itself): every double-quoted word is a name.
    Names,
    /// An expression. A double-quoted word is a name where the syntax makes it one (a
    /// function, a qualified name, a collation, an alias) or when it matches, ignoring
    /// case, one of these names (case-folded) or a name the statement itself defines
    /// (`AS x`, a CTE); otherwise SQLite reads it as a string.
    Resolve(&'a BTreeSet<String>),
}

/// SQLite's keywords (<https://sqlite.org/lang_keywords.html>), lower-case and sorted. A
/// double-quoted word right after one of them is not an alias.
const KEYWORDS: [&str; 147] = [
    "abort",
    "action",
    "add",
    "after",
    "all",
    "alter",
    "always",
    "analyze",
    "and",
    "as",
    "asc",
    "attach",
    "autoincrement",
    "before",
    "begin",
    "between",
    "by",
    "cascade",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "commit",
    "conflict",
    "constraint",
    "create",
    "cross",
    "current",
    "current_date",
    "current_time",
    "current_timestamp",
    "database",
    "default",
    "deferrable",
    "deferred",
    "delete",
    "desc",
    "detach",
    "distinct",
    "do",
    "drop",
    "each",
    "else",
    "end",
    "escape",
    "except",
    "exclude",
    "exclusive",
    "exists",
    "explain",
    "fail",
    "filter",
    "first",
    "following",
    "for",
    "foreign",
    "from",
    "full",
    "generated",
    "glob",
    "group",
    "groups",
    "having",
    "if",
    "ignore",
    "immediate",
    "in",
    "index",
    "indexed",
    "initially",
    "inner",
    "insert",
    "instead",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "key",
    "last",
    "left",
    "like",
    "limit",
    "match",
    "materialized",
    "natural",
    "no",
    "not",
    "nothing",
    "notnull",
    "null",
    "nulls",
    "of",
    "offset",
    "on",
    "or",
    "order",
    "others",
    "outer",
    "over",
    "partition",
    "plan",
    "pragma",
    "preceding",
    "primary",
    "query",
    "raise",
    "range",
    "recursive",
    "references",
    "regexp",
    "reindex",
    "release",
    "rename",
    "replace",
    "restrict",
    "returning",
    "right",
    "rollback",
    "row",
    "rows",
    "savepoint",
    "select",
    "set",
    "table",
    "temp",
    "temporary",
    "then",
    "ties",
    "to",
    "transaction",
    "trigger",
    "unbounded",
    "union",
    "unique",
    "update",
    "using",
    "vacuum",
    "values",
    "view",
    "virtual",
    "when",
    "where",
    "window",
    "with",
    "without",
];

pub(crate) fn is_keyword(w: &str) -> bool {
    KEYWORDS
        .binary_search(&w.to_ascii_lowercase().as_str())
        .is_ok()
}

/// Whether `t` can end an operand, so that a word right after it is an alias
/// (`SELECT a "x"`, `FROM t "x"`): in SQL an expression never follows an operand directly.
fn ends_operand(t: &Token) -> bool {
    match t {
        Token::Ident(_) | Token::DqIdent(_) | Token::Str(_) | Token::Num(_) => true,
        Token::Word(w) => !is_keyword(w),
        Token::Punct(p) => p == ")",
    }
}

/// Names a statement defines for itself: aliases after `AS`, and CTE names (`c AS (`).
fn defined_names(tokens: &[Token]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, t) in tokens.iter().enumerate() {
        let next = |k: usize| tokens.get(i + k);
        if t.is_kw("as") {
            if let Some(n) = next(1).filter(|n| !n.is_punct("(")).and_then(Token::name) {
                out.insert(n);
            }
        } else if next(1).is_some_and(|a| a.is_kw("as"))
            && next(2).is_some_and(|p| p.is_punct("(") || p.is_kw("not") || p.is_kw("materialized"))
        {
            out.extend(t.name());
        }
    }
    out
}

/// Whether the double-quoted word at `i` is a name (else it is a string literal).
fn dq_is_name(
    tokens: &[Token],
    i: usize,
    known: &BTreeSet<String>,
    defined: &BTreeSet<String>,
) -> bool {
    let prev = i.checked_sub(1).and_then(|p| tokens.get(p));
    let next = tokens.get(i + 1);
    if next.is_some_and(|n| n.is_punct("(") || n.is_punct(".")) {
        return true;
    }
    if is_raise_message(tokens, i) {
        return false;
    }
    if prev
        .is_some_and(|p| p.is_punct(".") || p.is_kw("collate") || p.is_kw("as") || ends_operand(p))
    {
        return true;
    }
    match tokens.get(i).and_then(Token::name) {
        Some(n) => known.contains(&n) || defined.contains(&n),
        None => false,
    }
}

/// Whether the token at `i` is the whole message of `RAISE(action, message)`. That message
/// is text: older SQLite reads it as a name-or-string token whose quotes only delimit the
/// text, and current SQLite as an expression in which a double-quoted word is the string
/// unless a column of that name is in scope, which a trigger's `SELECT RAISE(…)` has none
/// of. Taking it for the string can at worst make a column's case count as a change; taking
/// it for a name would hide a changed message.
fn is_raise_message(tokens: &[Token], i: usize) -> bool {
    let at = |k: usize| i.checked_sub(k).and_then(|p| tokens.get(p));
    at(4).is_some_and(|t| t.is_kw("raise"))
        && at(3).is_some_and(|t| t.is_punct("("))
        && at(1).is_some_and(|t| t.is_punct(","))
        && tokens.get(i + 1).is_some_and(|t| t.is_punct(")"))
}

/// `s` as an SQL string literal.
pub(crate) fn quote_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Canonical text of a token sequence: bare words and plain quoted identifiers
/// lower-cased, literals verbatim, a double-quoted word that `scope` says is a string as
/// that string, `main.` dropped, one space between tokens except around `(`, `)`, `,`,
/// `;`, `.`.
pub(crate) fn normalize(tokens: &[Token], scope: Scope<'_>) -> String {
    let defined = match scope {
        Scope::Names => BTreeSet::new(),
        Scope::Resolve(_) => defined_names(tokens),
    };
    let is_name = |i: usize| match scope {
        Scope::Names => true,
        Scope::Resolve(known) => dq_is_name(tokens, i, known, &defined),
    };
    // `main.t` is `t`: unqualified names are looked up in the main schema first, and
    // SQLite itself drops the prefix from the names of the objects it stores.
    let mut skip = BTreeSet::new();
    for (i, t) in tokens.iter().enumerate() {
        let is_main = matches!(t, Token::Word(w) | Token::Ident(w) | Token::DqIdent(w) if w.eq_ignore_ascii_case("main"));
        let qualifies = tokens.get(i + 1).is_some_and(|n| n.is_punct("."))
            && tokens.get(i + 2).is_some_and(|n| n.name().is_some())
            && i.checked_sub(1)
                .and_then(|p| tokens.get(p))
                .is_none_or(|p| !p.is_punct("."));
        if is_main && qualifies {
            skip.extend([i, i + 1]);
        }
    }
    let mut out = String::new();
    let mut prev: Option<&Token> = None;
    for (i, t) in tokens.iter().enumerate() {
        if skip.contains(&i) {
            continue;
        }
        let literal = matches!(t, Token::DqIdent(_)) && !is_name(i);
        let text = match t {
            Token::Word(w) => w.to_ascii_lowercase(),
            Token::DqIdent(s) if literal => quote_str(s),
            Token::Ident(s) | Token::DqIdent(s) if is_plain_ident(s) => s.to_ascii_lowercase(),
            Token::Ident(s) | Token::DqIdent(s) => format!("\"{}\"", s.replace('"', "\"\"")),
            Token::Str(s) | Token::Num(s) | Token::Punct(s) => s.clone(),
        };
        if let Some(p) = prev {
            let glue = t.is_punct(")") || t.is_punct(",") || t.is_punct(";") || t.is_punct(".") || p.is_punct("(") || p.is_punct(".")
                // A call or a name followed by its column list: `count(*)`, `t(a)`.
                || (t.is_punct("(") && matches!(p, Token::Word(_) | Token::Ident(_) | Token::DqIdent(_)));
            if !glue {
                out.push(' ');
            }
        }
        out.push_str(&text);
        prev = Some(t);
    }
    out
}

/// Index of the `)` matching the `(` at `open` (or the end when unbalanced).
pub(crate) fn matching_paren(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        if t.is_punct("(") {
            depth += 1;
        } else if t.is_punct(")") {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return i;
            }
        }
    }
    tokens.len()
}

/// Split at commas outside parentheses.
pub(crate) fn split_top_level(tokens: &[Token]) -> Vec<&[Token]> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if t.is_punct("(") {
            depth += 1;
        } else if t.is_punct(")") {
            depth = depth.saturating_sub(1);
        } else if t.is_punct(",") && depth == 0 {
            out.push(&tokens[start..i]);
            start = i + 1;
        }
    }
    if start < tokens.len() {
        out.push(&tokens[start..]);
    }
    out
}

/// Index of the first `(` at depth 0 at or after `from`.
fn first_paren(tokens: &[Token], from: usize) -> Option<usize> {
    tokens
        .iter()
        .skip(from)
        .position(|t| t.is_punct("("))
        .map(|p| p + from)
}

/// A CHECK constraint as written, normalised (`(a > 0)`, with its parentheses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Check {
    pub name: Option<String>,
    pub expr: String,
}

/// Facts about one column that only the CREATE TABLE text holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ColumnText {
    /// Collation name, upper-cased (SQLite compares collation names ignoring case).
    pub collate: Option<String>,
    /// Generated-column expression, normalised, with its parentheses.
    pub generated: Option<String>,
    pub autoincrement: bool,
    /// `NOT NULL ON CONFLICT …` other than the default ABORT.
    pub not_null_conflict: Option<String>,
}

/// A foreign key whose text says `DEFERRABLE INITIALLY DEFERRED`, identified by its
/// (case-folded) child columns and parent table, which is how it is matched to the pragma.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct DeferredFk {
    pub from: Vec<String>,
    pub parent: String,
}

/// What the CREATE TABLE text adds to the pragmas.
#[derive(Debug, Clone, Default)]
pub(crate) struct TableText {
    /// Column name (case-folded) → facts.
    pub columns: std::collections::BTreeMap<String, ColumnText>,
    /// Table- and column-level CHECKs alike: SQLite enforces them the same way, and a
    /// rebuild may move one from a column to the table.
    pub checks: Vec<Check>,
    pub deferred_fks: Vec<DeferredFk>,
    /// `PRIMARY KEY … ON CONFLICT …` other than the default ABORT.
    pub primary_key_conflict: Option<String>,
    /// `UNIQUE … ON CONFLICT …` other than ABORT, by the constraint's (case-folded)
    /// columns, which is how it is matched to its index. SQLite merges UNIQUE constraints
    /// on the same columns into one index that takes the first non-default clause.
    pub unique_conflicts: std::collections::BTreeMap<Vec<String>, String>,
}

/// The names an expression in a table's constraints, generated columns and indexes can
/// resolve to: its columns and the rowid's names (case-folded).
pub(crate) fn table_scope<'a>(columns: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = columns.into_iter().map(str::to_ascii_lowercase).collect();
    names.extend(["rowid", "oid", "_rowid_"].map(String::from));
    names
}

/// Read a `CREATE TABLE name (...) options` statement.
pub(crate) fn parse_create_table(sql: &str) -> TableText {
    let tokens = tokenize(sql);
    let mut out = TableText::default();
    let Some(open) = first_paren(&tokens, 0) else {
        return out;
    };
    let close = matching_paren(&tokens, open);
    let body = &tokens[open + 1..close.min(tokens.len())];
    let is_table_constraint = |first: &Token| {
        ["constraint", "primary", "unique", "check", "foreign"]
            .iter()
            .any(|k| first.is_kw(k))
    };
    let items = split_top_level(body);
    // ALTER TABLE ADD COLUMN appends to this text, so it names every column.
    let column_names: Vec<String> = items
        .iter()
        .filter_map(|item| item.first())
        .filter(|first| !is_table_constraint(first))
        .filter_map(Token::name)
        .collect();
    let scope = table_scope(column_names.iter().map(String::as_str));
    for item in items {
        let Some(first) = item.first() else { continue };
        if is_table_constraint(first) {
            read_constraints(item, None, &scope, &mut out);
        } else if let Some(col) = first.name() {
            let rest = &item[1..];
            let text = read_constraints(rest, Some(&col), &scope, &mut out);
            out.columns.insert(col, text);
        }
    }
    out
}

/// `ON CONFLICT action` starting at `i`: the action, upper-cased, when it is not the
/// default ABORT (which is the same as no clause).
fn conflict_clause(tokens: &[Token], i: usize) -> Option<String> {
    let on = tokens.get(i).is_some_and(|t| t.is_kw("on"))
        && tokens.get(i + 1).is_some_and(|t| t.is_kw("conflict"));
    if !on {
        return None;
    }
    tokens
        .get(i + 2)
        .and_then(Token::name)
        .map(|a| a.to_ascii_uppercase())
        .filter(|a| a != "ABORT")
}

/// The case-folded column names of a `(a COLLATE x DESC, b)` list starting at `open`.
fn column_list(tokens: &[Token], open: usize) -> Vec<String> {
    let close = matching_paren(tokens, open);
    split_top_level(&tokens[open + 1..close.min(tokens.len())])
        .iter()
        .filter_map(|c| c.first().and_then(Token::name))
        .collect()
}

/// Walk a column definition's tail or a table constraint, collecting CHECKs, deferred FKs,
/// conflict clauses and (for columns) collation, generated expression and AUTOINCREMENT.
fn read_constraints(
    tokens: &[Token],
    column: Option<&str>,
    scope: &BTreeSet<String>,
    out: &mut TableText,
) -> ColumnText {
    let mut col = ColumnText::default();
    let mut name: Option<String> = None;
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        if t.is_punct("(") {
            // Type arguments such as VARCHAR(10), or a list we don't need: skip it whole.
            i = matching_paren(tokens, i) + 1;
            continue;
        }
        if t.is_kw("constraint") {
            name = tokens.get(i + 1).and_then(Token::name);
            i += 2;
            continue;
        }
        if t.is_kw("check") && tokens.get(i + 1).is_some_and(|p| p.is_punct("(")) {
            let close = matching_paren(tokens, i + 1);
            let expr = normalize(
                &tokens[i + 1..(close + 1).min(tokens.len())],
                Scope::Resolve(scope),
            );
            out.checks.push(Check {
                name: name.take(),
                expr,
            });
            i = close + 1;
            continue;
        }
        if t.is_kw("as") && tokens.get(i + 1).is_some_and(|p| p.is_punct("(")) {
            let close = matching_paren(tokens, i + 1);
            let expr = normalize(
                &tokens[i + 1..(close + 1).min(tokens.len())],
                Scope::Resolve(scope),
            );
            let stored = tokens.get(close + 1).is_some_and(|k| k.is_kw("stored"));
            col.generated = Some(format!(
                "{expr} {}",
                if stored { "STORED" } else { "VIRTUAL" }
            ));
            i = close + 1;
            continue;
        }
        if t.is_kw("collate") {
            col.collate = tokens
                .get(i + 1)
                .and_then(Token::name)
                .map(|c| c.to_ascii_uppercase());
            i += 2;
            continue;
        }
        if t.is_kw("not") && tokens.get(i + 1).is_some_and(|k| k.is_kw("null")) {
            col.not_null_conflict = conflict_clause(tokens, i + 2);
            name = None;
            i += 2;
            continue;
        }
        if t.is_kw("primary") && tokens.get(i + 1).is_some_and(|k| k.is_kw("key")) {
            // Column: PRIMARY KEY [ASC|DESC] [conflict]; table: PRIMARY KEY (cols) [conflict].
            let mut j = i + 2;
            if tokens.get(j).is_some_and(|k| k.is_punct("(")) {
                j = matching_paren(tokens, j) + 1;
            } else if tokens
                .get(j)
                .is_some_and(|k| k.is_kw("asc") || k.is_kw("desc"))
            {
                j += 1;
            }
            out.primary_key_conflict = conflict_clause(tokens, j);
            name = None;
            i = j;
            continue;
        }
        if t.is_kw("unique") {
            // Column: UNIQUE [conflict]; table: UNIQUE (cols) [conflict].
            let mut j = i + 1;
            let cols = if tokens.get(j).is_some_and(|k| k.is_punct("(")) {
                let cols = column_list(tokens, j);
                j = matching_paren(tokens, j) + 1;
                cols
            } else {
                column.map(|c| vec![c.to_string()]).unwrap_or_default()
            };
            if let Some(action) = conflict_clause(tokens, j) {
                out.unique_conflicts.entry(cols).or_insert(action);
            }
            name = None;
            i = j;
            continue;
        }
        if t.is_kw("autoincrement") {
            col.autoincrement = true;
        }
        if t.is_kw("foreign") {
            // FOREIGN KEY (a, b) REFERENCES parent ...
            if let Some(open) = first_paren(tokens, i) {
                let close = matching_paren(tokens, open);
                let from = column_list(tokens, open);
                let refs = tokens
                    .iter()
                    .skip(close)
                    .position(|k| k.is_kw("references"))
                    .map(|p| p + close);
                if let Some(r) = refs {
                    note_deferred(&tokens[r..], from, out);
                }
                return col;
            }
        }
        if t.is_kw("references") {
            if let Some(c) = column {
                note_deferred(&tokens[i..], vec![c.to_string()], out);
            }
            // Keep scanning: the tail may hold other constraints after the REFERENCES clause.
        }
        // A constraint name applies only to the constraint right after it.
        name = None;
        i += 1;
    }
    col
}

/// `tokens` starts at REFERENCES: record the FK when it is DEFERRABLE INITIALLY DEFERRED
/// (the only form that SQLite defers; see <https://sqlite.org/foreignkeys.html#fk_deferred>).
/// Grammar: REFERENCES parent [(cols)] {ON DELETE|UPDATE action | MATCH name}*
/// [[NOT] DEFERRABLE [INITIALLY DEFERRED|IMMEDIATE]].
fn note_deferred(tokens: &[Token], from: Vec<String>, out: &mut TableText) {
    let Some(parent) = tokens.get(1).and_then(Token::name) else {
        return;
    };
    let mut i = 2;
    if tokens.get(i).is_some_and(|t| t.is_punct("(")) {
        i = matching_paren(tokens, i) + 1;
    }
    loop {
        let Some(t) = tokens.get(i) else { return };
        if t.is_kw("on") {
            // ON DELETE|UPDATE, then SET NULL | SET DEFAULT | NO ACTION | CASCADE | RESTRICT
            let two_words = tokens
                .get(i + 2)
                .is_some_and(|a| a.is_kw("set") || a.is_kw("no"));
            i += if two_words { 4 } else { 3 };
        } else if t.is_kw("match") {
            i += 2;
        } else if t.is_kw("deferrable") {
            let deferred = tokens.get(i + 1).is_some_and(|k| k.is_kw("initially"))
                && tokens.get(i + 2).is_some_and(|k| k.is_kw("deferred"));
            if deferred {
                out.deferred_fks.push(DeferredFk { from, parent });
            }
            return;
        } else {
            // NOT DEFERRABLE, or the next column constraint: not deferred.
            return;
        }
    }
}

/// The parts of a `CREATE [UNIQUE] INDEX name ON table (items) [WHERE expr]` statement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IndexText {
    /// Each indexed item, normalised (expression, COLLATE and ASC/DESC included).
    pub items: Vec<String>,
    pub where_clause: Option<String>,
}

/// Read an index's text; `scope` is its table's [`table_scope`].
pub(crate) fn parse_create_index(sql: &str, scope: &BTreeSet<String>) -> IndexText {
    let tokens = tokenize(sql);
    let mut out = IndexText::default();
    let Some(on) = tokens.iter().position(|t| t.is_kw("on")) else {
        return out;
    };
    let Some(open) = first_paren(&tokens, on) else {
        return out;
    };
    let close = matching_paren(&tokens, open);
    out.items = split_top_level(&tokens[open + 1..close.min(tokens.len())])
        .iter()
        .map(|t| normalize(t, Scope::Resolve(scope)))
        .collect();
    if tokens.get(close + 1).is_some_and(|t| t.is_kw("where")) {
        out.where_clause = Some(normalize(&tokens[close + 2..], Scope::Resolve(scope)));
    }
    out
}

/// Normalised text of a whole statement (views, triggers, virtual tables).
pub(crate) fn normalize_sql(sql: &str, scope: Scope<'_>) -> String {
    normalize(&tokenize(sql), scope)
}

/// A declared column type in canonical form: upper-case, single spaces, no space before `(`.
pub(crate) fn normalize_type(t: &str) -> String {
    normalize(&tokenize(t), Scope::Names).to_ascii_uppercase()
}

/// Words that a lone DEFAULT keeps as themselves; any other lone word is a string.
const DEFAULT_TERMS: [&str; 6] = [
    "current_date",
    "current_time",
    "current_timestamp",
    "false",
    "null",
    "true",
];

/// A column's DEFAULT as `pragma table_xinfo` prints it (the text as written), normalised.
/// SQLite's grammar reads a lone name there as a string: `DEFAULT "Open"`, `DEFAULT [Open]`
/// and `DEFAULT Open` all mean `'Open'` (<https://sqlite.org/syntax/column-constraint.html>;
/// `true` and `false` excepted). In `DEFAULT (expr)` no name can resolve.
pub(crate) fn normalize_default(text: &str) -> String {
    let tokens = tokenize(text);
    if let [only] = tokens.as_slice() {
        match only {
            Token::Ident(s) | Token::DqIdent(s) => return quote_str(s),
            Token::Word(w) if !DEFAULT_TERMS.contains(&w.to_ascii_lowercase().as_str()) => {
                return quote_str(w)
            }
            _ => {}
        }
    }
    normalize(&tokens, Scope::Resolve(&BTreeSet::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn normalizes_spacing_case_and_quotes() {
        let known = names(&["v", "t", "a", "b", "x"]);
        assert_eq!(
            normalize_sql(
                "CREATE VIEW \"V\" AS SELECT  a,b FROM [t] -- c\n WHERE x='It''s'",
                Scope::Resolve(&known)
            ),
            "create view v as select a, b from t where x = 'It''s'"
        );
        assert_eq!(
            normalize_sql("check ( length( \"my col\" )>=3 )", Scope::Names),
            "check(length(\"my col\") >= 3)"
        );
        assert_eq!(normalize_type("varchar ( 10 )"), "VARCHAR(10)");
        assert_eq!(normalize_type("numeric(10, 2)"), "NUMERIC(10, 2)");
    }

    #[test]
    fn reads_checks_collations_generated_and_deferred_fks() {
        let t = parse_create_table(
            "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT COLLATE nocase CHECK (length(name) > 0), \
             total REAL GENERATED ALWAYS AS (price * qty) STORED, price REAL, qty INT, \
             p INT REFERENCES parent(id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED, \
             CONSTRAINT pos CHECK (price >= 0), FOREIGN KEY (qty) REFERENCES other (n) DEFERRABLE INITIALLY IMMEDIATE)",
        );
        assert!(t.columns["id"].autoincrement);
        assert_eq!(t.columns["name"].collate.as_deref(), Some("NOCASE"));
        assert_eq!(
            t.columns["total"].generated.as_deref(),
            Some("(price * qty) STORED")
        );
        assert_eq!(
            t.checks,
            vec![
                Check {
                    name: None,
                    expr: "(length(name) > 0)".into()
                },
                Check {
                    name: Some("pos".into()),
                    expr: "(price >= 0)".into()
                }
            ]
        );
        assert_eq!(
            t.deferred_fks,
            vec![DeferredFk {
                from: vec!["p".into()],
                parent: "parent".into()
            }]
        );
    }

    #[test]
    fn reads_index_items_and_where() {
        let i = parse_create_index(
            "CREATE UNIQUE INDEX ix ON t (lower(email), b DESC) WHERE deleted_at IS NULL",
            &table_scope(["email", "b", "deleted_at"]),
        );
        assert_eq!(i.items, vec!["lower(email)", "b desc"]);
        assert_eq!(i.where_clause.as_deref(), Some("deleted_at is null"));
    }

    #[test]
    fn double_quoted_words_that_name_nothing_are_strings() {
        let t = parse_create_table(
            "CREATE TABLE t (\"S\" TEXT CHECK (\"S\" IN (\"Open\", 'Closed', \"rowid\")), n INT CHECK (\"Lower\"(\"N\") = \"T\".\"N\"))",
        );
        let exprs: Vec<&str> = t.checks.iter().map(|c| c.expr.as_str()).collect();
        assert_eq!(
            exprs,
            ["(s in('Open', 'Closed', rowid))", "(lower(n) = t.n)"]
        );
        let known = names(&["t", "s", "v"]);
        let view = |sql: &str| normalize_sql(sql, Scope::Resolve(&known));
        assert_eq!(
            view("CREATE VIEW v AS SELECT \"S\" AS \"Label\", x \"Alias\" FROM \"T\" \"A\" WHERE \"A\".s = \"Open\" ORDER BY \"Label\""),
            "create view v as select s as label, x alias from t a where a.s = 'Open' order by label"
        );
        assert_eq!(
            view("CREATE VIEW v AS WITH \"C\" AS (SELECT 1) SELECT * FROM \"C\" WHERE \"x\" = CASE WHEN 1 THEN \"Y\" ELSE \"z\" END"),
            "create view v as with c as(select 1) select * from c where 'x' = case when 1 then 'Y' else 'z' end"
        );
        assert_eq!(
            view("CREATE TRIGGER tr AFTER INSERT ON main.t BEGIN SELECT * FROM main.\"T\"; END"),
            "create trigger tr after insert on t begin select * from t; end"
        );
    }

    #[test]
    fn lone_default_words_are_strings() {
        for spelling in ["\"Open\"", "[Open]", "`Open`", "Open", "'Open'"] {
            assert_eq!(normalize_default(spelling), "'Open'", "{spelling}");
        }
        assert_eq!(normalize_default("\"it's\""), "'it''s'");
        assert_eq!(normalize_default("CURRENT_TIMESTAMP"), "current_timestamp");
        assert_eq!(normalize_default("TRUE"), "true");
        assert_eq!(normalize_default("\"true\""), "'true'");
        assert_eq!(normalize_default("( 1+ 2 )"), "(1 + 2)");
    }

    #[test]
    fn reads_conflict_clauses() {
        let t = parse_create_table(
            "CREATE TABLE t (id INTEGER PRIMARY KEY DESC ON CONFLICT REPLACE, a TEXT NOT NULL ON CONFLICT IGNORE UNIQUE ON CONFLICT fail, \
             b NOT NULL ON CONFLICT ABORT, c, UNIQUE (\"B\" COLLATE nocase, c DESC) ON CONFLICT ROLLBACK, UNIQUE (c))",
        );
        assert_eq!(t.primary_key_conflict.as_deref(), Some("REPLACE"));
        assert_eq!(t.columns["a"].not_null_conflict.as_deref(), Some("IGNORE"));
        assert_eq!(t.columns["b"].not_null_conflict, None);
        let conflicts: Vec<(Vec<String>, String)> = t.unique_conflicts.into_iter().collect();
        assert_eq!(
            conflicts,
            [
                (vec!["a".to_string()], "FAIL".to_string()),
                (
                    vec!["b".to_string(), "c".to_string()],
                    "ROLLBACK".to_string()
                )
            ]
        );
    }
}
