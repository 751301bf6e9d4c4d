//! Splitting a SQL script into statements, with the position of each one.
//!
//! backstop runs scripts statement by statement so that a failure names the exact statement
//! and line, and so that non-transactional migrations can record progress between statements.
//! Where a statement ends depends on the engine's lexical rules, so [`split_for`] takes the
//! engine the script will run on:
//!
//! - PostgreSQL (MySQL/MariaDB scripts are split the same way): quoted strings (with `''`
//!   and, for `E'…'`, backslash escapes), quoted identifiers, dollar quoting, line and
//!   *nested* block comments, and bodies delimited by BEGIN … END (SQL-standard
//!   `BEGIN ATOMIC` functions, MySQL trigger and routine bodies).
//! - SQLite: SQLite's own rule, the token state machine of `sqlite3_complete()` (SQLite's
//!   `src/complete.c`): block comments do not nest, identifiers may be quoted with `[…]`
//!   and backticks, there is no dollar quoting or backslash escaping, and inside
//!   `CREATE [TEMP] TRIGGER` only `; END ;` ends the statement, whatever words the body uses.

use crate::driver::Engine;

/// One statement of a script and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement text, from its first token up to (not including) the terminating `;`.
    pub sql: String,
    /// Byte offset of the first token in the script.
    pub offset: usize,
    /// 1-based line of the first token.
    pub line: usize,
    /// 1-based column (in characters) of the first token.
    pub column: usize,
}

impl Statement {
    /// Line and column in the whole script of a 1-based *character* position inside this
    /// statement, as PostgreSQL reports it in an error's `position` field.
    pub fn script_position(&self, char_pos: usize) -> (usize, usize) {
        let mut line = self.line;
        let mut col = self.column;
        for (i, c) in self.sql.chars().enumerate() {
            if i + 1 >= char_pos {
                break;
            }
            if c == '\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
        }
        (line, col)
    }

    /// The first line of the statement, shortened, for messages.
    pub fn excerpt(&self) -> String {
        let first = self.sql.lines().next().unwrap_or("").trim();
        let mut s: String = first.chars().take(100).collect();
        if first.chars().count() > 100 || self.sql.lines().nth(1).is_some() {
            s.push_str(" …");
        }
        s
    }
}

/// Split `script`, which will run on `engine`, into statements by that engine's lexical
/// rules. Empty statements (only whitespace and comments) are dropped. An unterminated
/// string, identifier or comment keeps the rest of the script in the last statement, so the
/// database reports the syntax error at the right place.
pub fn split_for(engine: Engine, script: &str) -> Vec<Statement> {
    match engine {
        Engine::Sqlite => split_sqlite(script),
        Engine::Postgres | Engine::Mysql => split_postgres(script),
    }
}

/// Whether `script` holds no statement by the rules of *every* engine (`Some(true)`), of
/// none (`Some(false)`), or only by some of them (`None`): the engines disagree on comments
/// (PostgreSQL nests `/* */`, SQLite ends a comment at the first `*/`), so text such as
/// `/* a /* b */ SELECT 1; */` is a statement on SQLite and a comment on PostgreSQL.
/// Loading migrations happens before the engine is known, and must refuse such text rather
/// than guess.
pub fn is_empty(script: &str) -> Option<bool> {
    let pg = split_postgres(script).is_empty();
    let sqlite = split_sqlite(script).is_empty();
    (pg == sqlite).then_some(pg)
}

/// PostgreSQL's lexical rules (also used for MySQL/MariaDB).
fn split_postgres(script: &str) -> Vec<Statement> {
    let bytes = script.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut start: Option<usize> = None; // first token of the current statement
    let mut depth = 0usize; // BEGIN/CASE … END nesting inside bodies
    let mut body_capable = false; // statement header names TRIGGER/FUNCTION/PROCEDURE
    let mut words_seen = 0usize;
    let mut header_create = false; // still inside `CREATE [OR REPLACE] [TEMP] …`

    while i < bytes.len() {
        let c = bytes[i];
        // Comments are trivia: they never start a statement.
        if c == b'-' && bytes.get(i + 1) == Some(&b'-') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            let mut nest = 1;
            i += 2;
            while i < bytes.len() && nest > 0 {
                if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                    nest += 1;
                    i += 2;
                } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                    nest -= 1;
                    i += 2;
                } else {
                    i += 1;
                }
            }
            continue;
        }
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b';' {
            if depth == 0 {
                if let Some(s) = start.take() {
                    out.push(make(script, s, i));
                }
                body_capable = false;
                words_seen = 0;
            }
            i += 1;
            continue;
        }
        if start.is_none() {
            start = Some(i);
        }
        match c {
            b'\'' => {
                // E'…' strings allow backslash escapes.
                let escapes = i > 0
                    && matches!(bytes[i - 1], b'E' | b'e')
                    && !i.checked_sub(2).is_some_and(|j| is_word(bytes, j));
                i = skip_quoted(bytes, i, b'\'', escapes);
            }
            b'"' => i = skip_quoted(bytes, i, b'"', false),
            b'`' => i = skip_quoted(bytes, i, b'`', false),
            b'$' => {
                // Dollar quote: $tag$ … $tag$ (tag may be empty); `$1` is a parameter.
                match dollar_tag(bytes, i) {
                    Some(tag) => {
                        let body = i + tag.len();
                        match find(bytes, body, tag) {
                            Some(end) => i = end + tag.len(),
                            None => i = bytes.len(),
                        }
                    }
                    None => i += 1,
                }
            }
            _ if is_word_start(c) => {
                let w_start = i;
                while i < bytes.len() && is_word_char(bytes[i]) {
                    i += 1;
                }
                let word = &script[w_start..i];
                words_seen += 1;
                // Only `CREATE [OR REPLACE] [TEMP|TEMPORARY|CONSTRAINT] TRIGGER|FUNCTION|
                // PROCEDURE` can have a BEGIN … END body; a column called `trigger` or
                // `begin` elsewhere must not swallow the rest of the script.
                if words_seen == 1 {
                    header_create = word.eq_ignore_ascii_case("create");
                } else if header_create && !body_capable {
                    let w = word.to_ascii_lowercase();
                    match w.as_str() {
                        "or" | "replace" | "temp" | "temporary" | "constraint" => {}
                        "trigger" | "function" | "procedure" => body_capable = true,
                        _ => header_create = false,
                    }
                }
                if body_capable {
                    if word.eq_ignore_ascii_case("begin") || word.eq_ignore_ascii_case("case") {
                        depth += 1;
                    } else if word.eq_ignore_ascii_case("end") {
                        depth = depth.saturating_sub(1);
                    }
                }
            }
            _ => i += 1,
        }
    }
    if let Some(s) = start {
        out.push(make(script, s, script.len()));
    }
    out
}

/// A token class of `sqlite3_complete()`. Public so that the linter groups its own tokens
/// into statements by the same table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteToken {
    Semi,
    Ws,
    Other,
    Explain,
    Create,
    Temp,
    Trigger,
    End,
}

impl SqliteToken {
    /// The class of a keyword or unquoted identifier.
    pub fn word(w: &str) -> SqliteToken {
        if w.eq_ignore_ascii_case("create") {
            SqliteToken::Create
        } else if w.eq_ignore_ascii_case("temp") || w.eq_ignore_ascii_case("temporary") {
            SqliteToken::Temp
        } else if w.eq_ignore_ascii_case("trigger") {
            SqliteToken::Trigger
        } else if w.eq_ignore_ascii_case("end") {
            SqliteToken::End
        } else if w.eq_ignore_ascii_case("explain") {
            SqliteToken::Explain
        } else {
            SqliteToken::Other
        }
    }
}

/// A state of `sqlite3_complete()`. SQLite's INVALID (nothing seen yet) and START (after a
/// complete statement) behave the same for splitting, so they are one state here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteState {
    /// Between statements.
    Start,
    /// In a statement that the next `;` ends.
    Normal,
    /// After a leading EXPLAIN.
    Explain,
    /// After a leading `[EXPLAIN] CREATE [TEMP|TEMPORARY]`.
    Create,
    /// In a CREATE TRIGGER, which only `; END ;` ends.
    Trigger,
    /// In a trigger, after a `;`.
    Semi,
    /// In a trigger, after `; END`.
    End,
}

impl SqliteState {
    /// The transition table of `sqlite3_complete()`. A `;` that leads to `Start` ends a
    /// statement; any other `;` is inside a trigger body.
    pub fn next(self, t: SqliteToken) -> SqliteState {
        use SqliteState as S;
        use SqliteToken as T;
        match (self, t) {
            (_, T::Ws) => self,
            (S::Start | S::Normal | S::Explain | S::Create | S::End, T::Semi) => S::Start,
            (S::Start, T::Explain) => S::Explain,
            (S::Start | S::Explain, T::Create) => S::Create,
            (S::Explain, T::Other) => S::Explain,
            (S::Create, T::Temp) => S::Create,
            (S::Create, T::Trigger) => S::Trigger,
            (S::Start | S::Normal | S::Explain | S::Create, _) => S::Normal,
            (S::Trigger | S::Semi, T::Semi) => S::Semi,
            (S::Semi, T::End) => S::End,
            (S::Trigger | S::Semi | S::End, _) => S::Trigger,
        }
    }
}

/// SQLite's lexical rules: a port of `sqlite3_complete()` that records where each statement
/// starts and which `;` completes it, in one pass. Unlike `sqlite3_complete()`, an
/// unterminated comment here runs to the end of the script, as in SQLite's tokenizer (which
/// accepts it), and an unterminated string or identifier does too, so the database reports
/// it.
fn split_sqlite(script: &str) -> Vec<Statement> {
    let b = script.as_bytes();
    let mut out = Vec::new();
    let mut state = SqliteState::Start;
    let mut start: Option<usize> = None;
    let mut i = 0;
    while i < b.len() {
        let at = i;
        let token = match b[i] {
            b';' => {
                i += 1;
                SqliteToken::Semi
            }
            // complete.c's whitespace: not vertical tab, which SQLite's tokenizer also
            // rejects outside strings.
            b' ' | b'\r' | b'\t' | b'\n' | 0x0c => {
                i += 1;
                SqliteToken::Ws
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                // Comments do not nest: the first `*/` ends this one.
                i = find(b, i + 2, b"*/").map_or(b.len(), |e| e + 2);
                SqliteToken::Ws
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = find(b, i, b"\n").map_or(b.len(), |e| e + 1);
                SqliteToken::Ws
            }
            b'[' => {
                // `[…]` has no escape: the first `]` ends it.
                i = find(b, i + 1, b"]").map_or(b.len(), |e| e + 1);
                SqliteToken::Other
            }
            q @ (b'\'' | b'"' | b'`') => {
                // A doubled quote (`'it''s'`) reads as two adjacent tokens, which splits
                // the same way.
                i = find(b, i + 1, &[q]).map_or(b.len(), |e| e + 1);
                SqliteToken::Other
            }
            c if is_lite_id_char(c) => {
                while i < b.len() && is_lite_id_char(b[i]) {
                    i += 1;
                }
                SqliteToken::word(&script[at..i])
            }
            _ => {
                // Operators and other ASCII symbols: bytes of multi-byte characters are
                // identifier characters above, so `i` stays on a character boundary.
                i += 1;
                SqliteToken::Other
            }
        };
        state = state.next(token);
        match token {
            SqliteToken::Ws => {}
            SqliteToken::Semi if state == SqliteState::Start => {
                if let Some(s) = start.take() {
                    out.push(make(script, s, at));
                }
            }
            _ => {
                start.get_or_insert(at);
            }
        }
    }
    if let Some(s) = start {
        out.push(make(script, s, script.len()));
    }
    out
}

/// complete.c's `IdChar`: letters, digits, `_`, `$` and every byte of a non-ASCII character.
fn is_lite_id_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

fn make(script: &str, start: usize, end: usize) -> Statement {
    let sql = script[start..end].trim_end().to_string();
    let before = &script[..start];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|p| p + 1).unwrap_or(0);
    let column = script[line_start..start].chars().count() + 1;
    Statement {
        sql,
        offset: start,
        line,
        column,
    }
}

fn is_word_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

fn is_word(bytes: &[u8], i: usize) -> bool {
    bytes.get(i).is_some_and(|c| is_word_char(*c))
}

fn skip_quoted(bytes: &[u8], open: usize, q: u8, backslash: bool) -> usize {
    let mut i = open + 1;
    while i < bytes.len() {
        if backslash && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == q {
            if bytes.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

fn dollar_tag(bytes: &[u8], i: usize) -> Option<&[u8]> {
    // A '$' right after a word character is part of an identifier (e.g. `a$b`).
    if i > 0 && is_word_char(bytes[i - 1]) {
        return None;
    }
    let mut j = i + 1;
    while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
        j += 1;
    }
    if bytes.get(j) != Some(&b'$') {
        return None;
    }
    let tag = &bytes[i..=j];
    // `$1$` is not a tag: tags can't start with a digit.
    if tag.len() > 2 && tag[1].is_ascii_digit() {
        return None;
    }
    Some(tag)
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<Statement> {
        split_for(Engine::Postgres, s)
    }

    fn sqls(s: &str) -> Vec<String> {
        split(s).into_iter().map(|s| s.sql).collect()
    }

    fn lite(s: &str) -> Vec<String> {
        split_for(Engine::Sqlite, s)
            .into_iter()
            .map(|s| s.sql)
            .collect()
    }

    #[test]
    fn splits_plain_statements_and_keeps_positions() {
        let st = split("-- header\nCREATE TABLE a (x int);\n\n  INSERT INTO a VALUES (1);");
        assert_eq!(st.len(), 2);
        assert_eq!(st[0].sql, "CREATE TABLE a (x int)");
        assert_eq!((st[0].line, st[0].column), (2, 1));
        assert_eq!((st[1].line, st[1].column), (4, 3));
    }

    #[test]
    fn semicolons_inside_literals_comments_and_dollar_quotes() {
        let s = "SELECT 'a;b', \"c;d\", E'x\\';y' /* ; /* ; */ */;\n\
                 CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;\n\
                 SELECT $$;$$; -- trailing ; comment";
        let v = sqls(s);
        assert_eq!(v.len(), 3, "{v:?}");
        assert!(v[1].ends_with("LANGUAGE sql"));
    }

    #[test]
    fn sqlite_trigger_bodies_stay_whole() {
        let s = "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE b SET n = CASE WHEN n > 0 THEN n ELSE 0 END;\n  INSERT INTO c VALUES (1);\nEND;\nSELECT 1;";
        let v = sqls(s);
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].ends_with("END"));
    }

    #[test]
    fn empty_statements_are_dropped_and_positions_map() {
        let st = split(";;\n-- only a comment\n;SELECT\n  oops");
        assert_eq!(st.len(), 1);
        assert_eq!(st[0].script_position(10), (4, 3));
    }

    #[test]
    fn columns_named_like_keywords_do_not_open_a_body() {
        // Regression: `trigger`/`begin` as column names merged the following statements.
        let v =
            sqls("CREATE TABLE shifts (id int, trigger text, begin int); CREATE TABLE u (x int);");
        assert_eq!(v.len(), 2, "{v:?}");
        let v = sqls("CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT 3;");
        assert_eq!(v.len(), 2, "{v:?}");
        let v = sqls("CREATE TEMP TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END; SELECT 2;");
        assert_eq!(v.len(), 2, "{v:?}");
    }

    #[test]
    fn script_starting_with_an_escape_string() {
        // Regression: the E'…' look-behind underflowed at the start of a script.
        assert_eq!(
            sqls("E'a;b'; SELECT 1"),
            vec!["E'a;b'".to_string(), "SELECT 1".to_string()]
        );
    }

    #[test]
    fn unterminated_string_keeps_rest() {
        let v = sqls("SELECT 'abc; SELECT 2;");
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn sqlite_block_comments_do_not_nest() {
        // The comment ends at the first `*/`: the check after it is a statement and runs.
        assert_eq!(
            lite("SELECT 1; /* old check /* kept for history */\nSELECT count(*) = 42 FROM t;"),
            ["SELECT 1", "SELECT count(*) = 42 FROM t"]
        );
        assert_eq!(
            lite("CREATE TABLE a(x); /* TODO /* old */\nCREATE TABLE b(x); CREATE TABLE c(x);"),
            [
                "CREATE TABLE a(x)",
                "CREATE TABLE b(x)",
                "CREATE TABLE c(x)"
            ]
        );
        // What PostgreSQL reads as the end of a nested comment is SQL on SQLite, where the
        // database reports it.
        assert_eq!(lite("/* a /* b */ */ SELECT 1;"), ["*/ SELECT 1"]);
    }

    #[test]
    fn postgres_block_comments_still_nest() {
        assert_eq!(
            sqls("SELECT 1; /* old check /* kept for history */\nSELECT 2; */ SELECT 3;"),
            ["SELECT 1", "SELECT 3"]
        );
        assert!(sqls("/* a /* b */ */").is_empty());
    }

    #[test]
    fn sqlite_bracket_and_backtick_identifiers() {
        assert_eq!(
            lite("CREATE TABLE \"odd; name\" ([semi;col] TEXT, `tick;col` INT); SELECT 1"),
            [
                "CREATE TABLE \"odd; name\" ([semi;col] TEXT, `tick;col` INT)",
                "SELECT 1"
            ]
        );
    }

    #[test]
    fn sqlite_trigger_ends_only_at_semicolon_end_semicolon() {
        let s = "CREATE TABLE events(id, start, end, duration);\n\
                 CREATE TRIGGER tr AFTER UPDATE OF end ON events BEGIN \
                 UPDATE events SET duration = new.end - new.start WHERE id = new.id; END;\n\
                 CREATE TABLE after_it(x);";
        let st = split_for(Engine::Sqlite, s);
        let v: Vec<&str> = st.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(
            v,
            [
                "CREATE TABLE events(id, start, end, duration)",
                "CREATE TRIGGER tr AFTER UPDATE OF end ON events BEGIN UPDATE events SET duration = new.end - new.start WHERE id = new.id; END",
                "CREATE TABLE after_it(x)"
            ]
        );
        assert_eq!((st[1].line, st[1].column), (2, 1));
        assert_eq!(
            (st[2].line, st[2].column, st[2].offset),
            (3, 1, s.find("CREATE TABLE after_it").unwrap_or(0))
        );
        // `begin` and `case` as column names, CASE … END inside the body, TEMP triggers,
        // comments between `;`, END and `;`.
        let v = lite(
            "CREATE TEMP TRIGGER t2 AFTER INSERT ON a BEGIN \
             UPDATE a SET begin = new.begin, x = CASE WHEN new.case THEN 1 ELSE 0 END; \
             SELECT 1; -- c\n end /* c */ ; SELECT 2",
        );
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].ends_with("end /* c */"), "{v:?}");
        // Only CREATE [TEMP] TRIGGER opens a body: `begin`/`trigger` as names do not.
        assert_eq!(
            lite("CREATE TABLE s(trigger, begin, end); SELECT trigger FROM s; SELECT 1"),
            [
                "CREATE TABLE s(trigger, begin, end)",
                "SELECT trigger FROM s",
                "SELECT 1"
            ]
        );
        // EXPLAIN CREATE TRIGGER is a trigger too (as in sqlite3_complete).
        assert_eq!(
            lite("EXPLAIN CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END; SELECT 2").len(),
            2
        );
    }

    #[test]
    fn sqlite_has_no_dollar_quotes_or_backslash_escapes() {
        assert_eq!(lite("SELECT $$; SELECT $$"), ["SELECT $$", "SELECT $$"]);
        assert_eq!(
            lite("SELECT E'a\\'; SELECT 2"),
            ["SELECT E'a\\'", "SELECT 2"]
        );
        assert_eq!(
            lite("SELECT 'it''s; ok'; SELECT 2"),
            ["SELECT 'it''s; ok'", "SELECT 2"]
        );
        // The same texts on PostgreSQL: one dollar-quoted string, one escaped quote.
        assert_eq!(sqls("SELECT $$; SELECT $$").len(), 1);
        assert_eq!(sqls("SELECT E'a\\'; SELECT 2").len(), 1);
    }

    #[test]
    fn sqlite_empty_unterminated_and_positions() {
        assert!(lite(";; -- only a comment\n;/* c */;").is_empty());
        assert_eq!(
            lite("SELECT 1; SELECT 'abc; SELECT 2;"),
            ["SELECT 1", "SELECT 'abc; SELECT 2;"]
        );
        assert_eq!(lite("SELECT [a; SELECT 2;"), ["SELECT [a; SELECT 2;"]);
        // An unterminated comment runs to the end, as SQLite's tokenizer reads it.
        assert_eq!(lite("SELECT 1; /* x; SELECT 2;"), ["SELECT 1"]);
        assert_eq!(
            lite("SELECT 1 /* x; SELECT 2;"),
            ["SELECT 1 /* x; SELECT 2;"]
        );
        let st = split_for(Engine::Sqlite, "-- h\n  SELECT 'é';\n\tSELECT ü FROM t;");
        assert_eq!((st[0].line, st[0].column, st[0].offset), (2, 3, 7));
        assert_eq!((st[1].line, st[1].column), (3, 2));
        assert_eq!(st[1].sql, "SELECT ü FROM t");
    }

    #[test]
    fn emptiness_by_every_engine() {
        assert_eq!(is_empty("-- c\n/* a */ ;"), Some(true));
        assert_eq!(is_empty("SELECT 1"), Some(false));
        // A statement on SQLite, a comment on PostgreSQL.
        assert_eq!(is_empty("/* a /* b */ SELECT 1; */"), None);
    }
}
