//! A small SQL tokenizer shared by every engine: it finds comments (for suppressions),
//! token ends (for caret spans) and, for SQLite and MySQL/MariaDB, the tokens the light
//! analysis in [`crate::lite`] reads.
//!
//! It never fails: an unterminated string, identifier or comment becomes one token up to
//! the end of the input, marked `unterminated`.

use backstop_core::driver::Engine;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Keyword or unquoted identifier.
    Word,
    /// `"x"`, `` `x` `` or `[x]`.
    Quoted,
    /// `'x'`, `E'x'`, `$$x$$`.
    Str,
    Num,
    /// `?`, `$1`, `:name`.
    Param,
    LineComment,
    BlockComment,
    /// Any other single character.
    Punct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    pub unterminated: bool,
}

impl Token {
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.start..self.end).unwrap_or("")
    }
    pub fn is_comment(&self) -> bool {
        matches!(self.kind, Kind::LineComment | Kind::BlockComment)
    }
    /// A keyword or identifier equal (ASCII case-insensitively) to `w`.
    pub fn is_word(&self, src: &str, w: &str) -> bool {
        self.kind == Kind::Word && self.text(src).eq_ignore_ascii_case(w)
    }
    pub fn is_punct(&self, src: &str, c: char) -> bool {
        self.kind == Kind::Punct && self.text(src).starts_with(c)
    }
    /// The identifier this token names: unquoted words are folded to lower case (every
    /// engine here compares them case-insensitively); quoted ones keep their case.
    pub fn ident(&self, src: &str) -> String {
        let t = self.text(src);
        match self.kind {
            Kind::Quoted => {
                let inner = if t.len() >= 2 && !self.unterminated {
                    &t[1..t.len() - 1]
                } else {
                    t.get(1..).unwrap_or("")
                };
                match t.as_bytes().first() {
                    Some(b'"') => inner.replace("\"\"", "\""),
                    Some(b'`') => inner.replace("``", "`"),
                    _ => inner.to_string(),
                }
            }
            // PostgreSQL (in UTF-8) and SQLite fold only ASCII letters: `Äpfel` and
            // `äpfel` are two names to both.
            _ => t.to_ascii_lowercase(),
        }
    }
}

/// Tokenize `src` with the lexical rules of `engine`.
pub(crate) fn tokenize(src: &str, engine: Engine) -> Vec<Token> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mysql = engine == Engine::Mysql;
    let sqlite = engine == Engine::Sqlite;
    let pg = engine == Engine::Postgres;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let (kind, end, unterminated) = if c == b'-' && b.get(i + 1) == Some(&b'-')
            || (mysql && c == b'#')
        {
            let e = memchr(b, i, b'\n').unwrap_or(b.len());
            (Kind::LineComment, e, false)
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            // Only PostgreSQL nests block comments; SQLite and MySQL end one at the first `*/`.
            let (e, ok) = block_comment(b, i, pg);
            (Kind::BlockComment, e, !ok)
        } else if c == b'\'' {
            let escapes = mysql || (pg && i > 0 && matches!(b[i - 1], b'E' | b'e'));
            let (e, ok) = quoted(b, i, b'\'', escapes);
            (Kind::Str, e, !ok)
        } else if c == b'"' {
            // MySQL without ANSI_QUOTES treats "x" as a string; either way it is one token.
            let (e, ok) = quoted(b, i, b'"', mysql);
            (if mysql { Kind::Str } else { Kind::Quoted }, e, !ok)
        } else if c == b'`' && !pg {
            let (e, ok) = quoted(b, i, b'`', false);
            (Kind::Quoted, e, !ok)
        } else if c == b'[' && sqlite {
            match memchr(b, i + 1, b']') {
                Some(e) => (Kind::Quoted, e + 1, false),
                None => (Kind::Quoted, b.len(), true),
            }
        } else if c == b'$' && pg {
            match dollar_tag(b, i) {
                Some(tag_len) => {
                    let tag = &b[i..i + tag_len];
                    match find(b, i + tag_len, tag) {
                        Some(e) => (Kind::Str, e + tag_len, false),
                        None => (Kind::Str, b.len(), true),
                    }
                }
                None => {
                    let mut e = i + 1;
                    while e < b.len() && b[e].is_ascii_digit() {
                        e += 1;
                    }
                    (if e > i + 1 { Kind::Param } else { Kind::Punct }, e, false)
                }
            }
        } else if c.is_ascii_digit()
            || (c == b'.' && b.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let mut e = i + 1;
            while e < b.len() && (b[e].is_ascii_alphanumeric() || b[e] == b'.' || b[e] == b'_') {
                e += 1;
            }
            (Kind::Num, e, false)
        } else if is_word_start(c) {
            let mut e = i + 1;
            // `$` continues an identifier on PostgreSQL and SQLite (`a$b`).
            while e < b.len() && is_word_char(b[e], pg || sqlite) {
                e += 1;
            }
            (Kind::Word, e, false)
        } else if c == b'?' {
            (Kind::Param, i + 1, false)
        } else {
            // One character (multi-byte characters stay whole so slices stay valid).
            let len = src[i..].chars().next().map(|ch| ch.len_utf8()).unwrap_or(1);
            (Kind::Punct, i + len, false)
        };
        let end = end.max(start + 1).min(b.len());
        // Keep slices on character boundaries whatever the input.
        let end = (end..=b.len())
            .find(|e| src.is_char_boundary(*e))
            .unwrap_or(b.len());
        out.push(Token {
            kind,
            start,
            end,
            unterminated,
        });
        i = end;
    }
    out
}

fn memchr(b: &[u8], from: usize, c: u8) -> Option<usize> {
    b.get(from..)?
        .iter()
        .position(|x| *x == c)
        .map(|p| p + from)
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

fn block_comment(b: &[u8], i: usize, nested: bool) -> (usize, bool) {
    let mut depth = 1;
    let mut j = i + 2;
    while j < b.len() {
        if nested && b[j] == b'/' && b.get(j + 1) == Some(&b'*') {
            depth += 1;
            j += 2;
        } else if b[j] == b'*' && b.get(j + 1) == Some(&b'/') {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return (j, true);
            }
        } else {
            j += 1;
        }
    }
    (b.len(), false)
}

fn quoted(b: &[u8], i: usize, q: u8, backslash: bool) -> (usize, bool) {
    let mut j = i + 1;
    while j < b.len() {
        if backslash && b[j] == b'\\' {
            j += 2;
            continue;
        }
        if b[j] == q {
            if b.get(j + 1) == Some(&q) {
                j += 2;
                continue;
            }
            return (j + 1, true);
        }
        j += 1;
    }
    (b.len(), false)
}

fn dollar_tag(b: &[u8], i: usize) -> Option<usize> {
    if i > 0 && is_word_char(b[i - 1], true) {
        return None;
    }
    let mut j = i + 1;
    if b.get(j).is_some_and(|c| c.is_ascii_digit()) {
        return None;
    }
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80) {
        j += 1;
    }
    (b.get(j) == Some(&b'$')).then_some(j + 1 - i)
}

fn is_word_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_word_char(c: u8, dollar: bool) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 || (dollar && c == b'$')
}

/// End (byte offset) of the token starting at `at`, for caret spans.
pub(crate) fn token_end(src: &str, at: usize, engine: Engine) -> usize {
    let Some(rest) = src.get(at..) else { return at };
    let first = tokenize(first_token_text(rest), engine);
    match first.first() {
        Some(t) => at + t.end,
        None => at,
    }
}

/// A prefix of `s` long enough to hold its first token, without tokenizing a whole file.
fn first_token_text(s: &str) -> &str {
    let mut end = s.len().min(4096);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str, e: Engine) -> Vec<(Kind, String)> {
        tokenize(s, e)
            .into_iter()
            .map(|t| (t.kind, t.text(s).to_string()))
            .collect()
    }

    #[test]
    fn comments_strings_and_quotes() {
        let k = kinds(
            "SELECT 'a''b', \"x\" -- c\n/* a /* b */ */ $q$ ; $q$ $1",
            Engine::Postgres,
        );
        let texts: Vec<&str> = k.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(
            texts,
            [
                "SELECT",
                "'a''b'",
                ",",
                "\"x\"",
                "-- c",
                "/* a /* b */ */",
                "$q$ ; $q$",
                "$1"
            ]
        );
    }

    #[test]
    fn mysql_hash_comments_and_backslash_escapes() {
        let k = kinds("SELECT 'it\\'s', `t` # c", Engine::Mysql);
        assert_eq!(k[1], (Kind::Str, "'it\\'s'".into()));
        assert_eq!(k[3], (Kind::Quoted, "`t`".into()));
        assert_eq!(k[4].0, Kind::LineComment);
    }

    #[test]
    fn unterminated_and_multibyte_never_panic() {
        for s in ["'abc", "\"x", "/* x", "$a$ b", "é'ü", "[x", "`y", "ü"] {
            for e in [Engine::Postgres, Engine::Sqlite, Engine::Mysql] {
                let _ = tokenize(s, e);
                let _ = token_end(s, 0, e);
            }
        }
        assert!(tokenize("'abc", Engine::Postgres)[0].unterminated);
    }
}
