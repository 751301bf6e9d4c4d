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

/// One lexical token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// A bare word: keyword or unquoted identifier.
    Word(String),
    /// A quoted identifier (`"x"`, `` `x` ``, `[x]`), unquoted.
    Ident(String),
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
            Token::Word(w) | Token::Ident(w) => Some(w.to_ascii_lowercase()),
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
        } else if c == '"' || c == '`' {
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

/// Canonical text of a token sequence: bare words and plain quoted identifiers
/// lower-cased, literals verbatim, one space between tokens except around `(`, `)`, `,`, `;`, `.`.
pub(crate) fn normalize(tokens: &[Token]) -> String {
    let mut out = String::new();
    let mut prev: Option<&Token> = None;
    for t in tokens {
        let text = match t {
            Token::Word(w) => w.to_ascii_lowercase(),
            Token::Ident(s) if is_plain_ident(s) => s.to_ascii_lowercase(),
            Token::Ident(s) => format!("\"{}\"", s.replace('"', "\"\"")),
            Token::Str(s) | Token::Num(s) | Token::Punct(s) => s.clone(),
        };
        if let Some(p) = prev {
            let glue = t.is_punct(")") || t.is_punct(",") || t.is_punct(";") || t.is_punct(".") || p.is_punct("(") || p.is_punct(".")
                // A call or a name followed by its column list: `count(*)`, `t(a)`.
                || (t.is_punct("(") && matches!(p, Token::Word(_) | Token::Ident(_)));
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
    for item in split_top_level(body) {
        let Some(first) = item.first() else { continue };
        let table_constraint = ["constraint", "primary", "unique", "check", "foreign"]
            .iter()
            .any(|k| first.is_kw(k));
        if table_constraint {
            read_constraints(item, None, &mut out);
        } else if let Some(col) = first.name() {
            let rest = &item[1..];
            let text = read_constraints(rest, Some(&col), &mut out);
            out.columns.insert(col, text);
        }
    }
    out
}

/// Walk a column definition's tail or a table constraint, collecting CHECKs, deferred FKs
/// and (for columns) collation, generated expression and AUTOINCREMENT.
fn read_constraints(tokens: &[Token], column: Option<&str>, out: &mut TableText) -> ColumnText {
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
            let expr = normalize(&tokens[i + 1..(close + 1).min(tokens.len())]);
            out.checks.push(Check {
                name: name.take(),
                expr,
            });
            i = close + 1;
            continue;
        }
        if t.is_kw("as") && tokens.get(i + 1).is_some_and(|p| p.is_punct("(")) {
            let close = matching_paren(tokens, i + 1);
            let expr = normalize(&tokens[i + 1..(close + 1).min(tokens.len())]);
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
        if t.is_kw("autoincrement") {
            col.autoincrement = true;
        }
        if t.is_kw("foreign") {
            // FOREIGN KEY (a, b) REFERENCES parent ...
            if let Some(open) = first_paren(tokens, i) {
                let close = matching_paren(tokens, open);
                let from: Vec<String> = split_top_level(&tokens[open + 1..close.min(tokens.len())])
                    .iter()
                    .filter_map(|c| c.first().and_then(Token::name))
                    .collect();
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

pub(crate) fn parse_create_index(sql: &str) -> IndexText {
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
        .map(|t| normalize(t))
        .collect();
    if tokens.get(close + 1).is_some_and(|t| t.is_kw("where")) {
        out.where_clause = Some(normalize(&tokens[close + 2..]));
    }
    out
}

/// Normalised text of a whole statement (views, triggers, virtual tables).
pub(crate) fn normalize_sql(sql: &str) -> String {
    normalize(&tokenize(sql))
}

/// A declared column type in canonical form: upper-case, single spaces, no space before `(`.
pub(crate) fn normalize_type(t: &str) -> String {
    normalize(&tokenize(t)).to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_spacing_case_and_quotes() {
        assert_eq!(
            normalize_sql("CREATE VIEW \"V\" AS SELECT  a,b FROM [t] -- c\n WHERE x='It''s'"),
            "create view v as select a, b from t where x = 'It''s'"
        );
        assert_eq!(
            normalize_sql("check ( length( \"my col\" )>=3 )"),
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
        );
        assert_eq!(i.items, vec!["lower(email)", "b desc"]);
        assert_eq!(i.where_clause.as_deref(), Some("deleted_at is null"));
    }
}
