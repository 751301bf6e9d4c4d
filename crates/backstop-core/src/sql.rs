//! Splitting a SQL script into statements, with the position of each one.
//!
//! backstop runs scripts statement by statement so that a failure names the exact statement
//! and line, and so that non-transactional migrations can record progress between statements.
//! The splitter understands the lexical forms that may contain a `;` without ending a
//! statement: quoted strings (with `''` and, for `E'…'`, backslash escapes), quoted
//! identifiers, PostgreSQL dollar quoting, line and (nested) block comments, and bodies
//! delimited by BEGIN … END (SQLite triggers, SQL-standard `BEGIN ATOMIC` functions).

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

/// Split `script` into statements. Empty statements (only whitespace and comments) are
/// dropped. An unterminated string, identifier or comment keeps the rest of the script in
/// the last statement, so the database reports the syntax error at the right place.
pub fn split(script: &str) -> Vec<Statement> {
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

    fn sqls(s: &str) -> Vec<String> {
        split(s).into_iter().map(|s| s.sql).collect()
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
}
