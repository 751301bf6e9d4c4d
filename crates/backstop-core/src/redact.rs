//! The one place secrets are removed from text before it is printed, logged or stored.
//!
//! Two strengths, because masking must never corrupt text that isn't secret:
//!
//! - [`redact_credentials`] masks credentials by their shape only: the password in a URL's
//!   userinfo (`scheme://user:***@host`, also when the `://` is mangled, as in
//!   `postgres:/user:pw@host`) and the value of a `password=` / `password:` parameter (also
//!   with the key or the `=` percent-encoded, as in a mistyped `?password%3Dpw`). It is
//!   safe on any text, and is what reports are printed through.
//! - [`redact`] also masks, wherever they occur, the passwords registered with
//!   [`register_secret`] / [`register_url_password`] (taken from the URL the user gave),
//!   because drivers and servers sometimes echo a password in their own words. It is for
//!   error messages, progress lines and what is stored in the audit ledger — text that
//!   comes from outside backstop's own formatting.
//!
//! A password is masked by value only when it is [distinctive](is_distinctive): at least 8
//! characters mixing at least two kinds (lower case, upper case, digits, other), or at least
//! 16 characters. A short or common password (`postgres`, `public`, `2026`) would otherwise
//! turn every such word of the output into `***`; it is still masked wherever it stands in
//! a URL or a `password=` parameter, and [`redact`] masks a password of the user's URL there
//! to its full length even where the shape of the text alone would end it early
//! (`?password=a b`, `user:a` b@host`).
//!
//! Every function here is total: it takes any text (it is often cut mid-value, as a
//! statement excerpt is, or malformed, as a mistyped URL is) and never panics. Indices only
//! ever stop at ASCII delimiters, and text is taken with `get`, never by slicing. And
//! masking masked text changes nothing (see `settle`): stored events are masked again when
//! they are shown, and must still match their hashes.

use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

/// What a masked secret is replaced with.
pub const MASK: &str = "***";

/// What [`redact`] masks by value. Each list longest first, so a password is masked before
/// any shorter one that is part of it.
#[derive(Clone, Default)]
struct Registered {
    /// [Distinctive](is_distinctive) secrets: masked wherever they occur.
    secrets: Vec<String>,
    /// Every form of the passwords of the URLs the user gave, whatever their length: masked
    /// to their full length where they stand as a URL's password (`:pw@`) or a `password=`
    /// value, which their shape alone may end too early (`password=a b`, `u:a` b@host`).
    passwords: Vec<String>,
    /// The URLs the user gave, as given, each with its passwords masked: a short password
    /// is masked by position only inside them, or after `scheme://user:` (see
    /// [`in_url_userinfo`]), never as any `:pw@` of other text (a release id
    /// `shop:prod@2026-11-25`, an e-mail address `bob:a@example.com`).
    urls: Vec<(String, String)>,
}

static SECRETS: Mutex<Registered> = Mutex::new(Registered {
    secrets: Vec::new(),
    passwords: Vec::new(),
    urls: Vec::new(),
});

/// The registered secrets. A panic elsewhere while the list was locked must not switch
/// masking off, so a poisoned lock is used as it is.
fn secrets() -> MutexGuard<'static, Registered> {
    SECRETS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Add `value` to `list`, longest first, once.
fn remember(list: &mut Vec<String>, value: &str) {
    if !list.iter().any(|x| x == value) {
        list.push(value.to_string());
        list.sort_by_key(|x| std::cmp::Reverse(x.len()));
    }
}

/// Whether `secret` is distinctive enough to be masked wherever it occurs (see the module
/// docs): ordinary words and numbers in the output must not turn into `***`.
pub fn is_distinctive(secret: &str) -> bool {
    let len = secret.chars().count();
    let classes = [
        secret.chars().any(|c| c.is_lowercase()),
        secret.chars().any(|c| c.is_uppercase()),
        secret.chars().any(|c| c.is_numeric()),
        secret.chars().any(|c| !c.is_alphanumeric()),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    len >= 16 || (len >= 8 && classes >= 2)
}

/// Remember a secret so that [`redact`] masks it in any text from now on. Secrets that are
/// not [distinctive](is_distinctive) are ignored: shape-based masking still covers them.
pub fn register_secret(secret: &str) {
    if !is_distinctive(secret) {
        return;
    }
    remember(&mut secrets().secrets, secret);
}

/// Register the password of a database URL or key=value connection string, before anything
/// parses it. Liberal on purpose, so a malformed URL can't leak it either: any scheme
/// followed by any run of `:`, `/` or `\` (or none), and the userinfo up to the LAST `@`
/// (passwords with `@`, `/`, quotes or spaces that were not percent-encoded still count) as
/// well as up to each earlier `@`.
///
/// A [distinctive](is_distinctive) password is masked wherever it occurs. Any other is
/// masked only where it stands as the password of a URL or a `password=` value, but there to
/// its full length, even where the shape of the text alone would end it early.
pub fn register_url_password(url: &str) {
    let mut forms = Vec::new();
    for pw in url_passwords(url) {
        register_secret(&pw);
        // Not blank: `: @` is no password's place.
        if !pw.trim().is_empty() {
            remember(&mut secrets().passwords, &pw);
            remember(&mut forms, &pw);
        }
    }
    let url = url.trim();
    let masked = mask_in_userinfo(url, &forms, |_, _| true);
    if masked != url {
        let mut s = secrets();
        if !s.urls.iter().any(|(u, _)| u == url) {
            s.urls.push((url.to_string(), masked));
            s.urls.sort_by_key(|(u, _)| std::cmp::Reverse(u.len()));
        }
    }
}

/// `text` with every `:pw@` of the `passwords` (longest first) for which `keep(text, colon)`
/// holds replaced by `:***@`.
fn mask_in_userinfo(
    text: &str,
    passwords: &[String],
    keep: impl Fn(&str, usize) -> bool,
) -> String {
    let mut cur = text.to_string();
    for p in passwords {
        let userinfo = format!(":{p}@");
        if !cur.contains(&userinfo) {
            continue;
        }
        let mut out = String::with_capacity(cur.len());
        let mut copied = 0;
        for (at, _) in cur.match_indices(&userinfo) {
            if at < copied || !keep(&cur, at) {
                continue;
            }
            out.push_str(cur.get(copied..at).unwrap_or_default());
            out.push(':');
            out.push_str(MASK);
            out.push('@');
            copied = at + userinfo.len();
        }
        out.push_str(cur.get(copied..).unwrap_or_default());
        cur = out;
    }
    cur
}

/// Whether the `:` at `colon` ends the user name of a URL: `scheme://user` (any run of `:`,
/// `/` and `\` holding a `/` or `\` after the scheme, the user name possibly empty) stands
/// right before it. A bare `word:` does not: `shop:prod@2026-11-25` is no URL.
fn in_url_userinfo(text: &str, colon: usize) -> bool {
    let b = text.as_bytes();
    let mut j = colon;
    // No user name is hundreds of bytes long: long runs cost no more than short ones.
    let shortest = colon.saturating_sub(LONGEST_USERINFO);
    while j > shortest
        && b.get(j - 1)
            .is_some_and(|c| !c.is_ascii_whitespace() && !matches!(c, b'@' | b':' | b'/' | b'\\'))
    {
        j -= 1;
    }
    let user = j;
    while j > 0 && matches!(b.get(j - 1), Some(b':' | b'/' | b'\\')) {
        j -= 1;
    }
    let separator = b.get(j..user).unwrap_or_default();
    if !separator.iter().any(|c| matches!(c, b'/' | b'\\')) {
        return false;
    }
    let mut s = j;
    while s > 0 && b.get(s - 1).is_some_and(|c| is_scheme_byte(*c)) {
        s -= 1;
    }
    scheme_end(b, s).is_some_and(|(end, _)| end == j)
}

/// The passwords [`register_url_password`] registers, in every form they may be echoed in.
fn url_passwords(url: &str) -> Vec<String> {
    let (mut found, userinfo) = userinfo_passwords(url);
    for v in password_values(url) {
        // `u:Kq7 password=Jy8@h/db`: a `password=` inside the userinfo's password is part
        // of it, not a parameter. Registered on its own (`Jy8@h/db`), it would be masked
        // first and leave the rest of the password without the shape that masks it.
        if userinfo.iter().any(|u| u.contains(&v.range.start)) {
            continue;
        }
        let Some(raw) = url.get(v.range.clone()) else {
            continue;
        };
        if !v.quoted || v.query {
            // The value as the driver reads it: with the punctuation the shape of a message
            // leaves out (`?password=pw.`), and in a URL's query with the spaces a mistyped
            // URL holds (`?password=a b&sslmode=…`) and the quotes it takes as they are.
            let b = url.as_bytes();
            let mut full = vec![value_end(b, v.range.start, false, v.query)];
            if v.query {
                full.push(
                    b.get(v.range.start..)
                        .and_then(|r| r.iter().position(|c| *c == b'&'))
                        .map_or(url.len(), |p| v.range.start + p),
                );
            }
            for end in full {
                let Some(value) = url.get(v.range.start..end).map(str::trim_end) else {
                    continue;
                };
                if value.len() > raw.len() {
                    found.push(value.to_string());
                    found.push(unescape(value));
                    found.push(percent_decode(value));
                }
            }
        }
        // Without its quotes: masking leaves quotes in place, as `password='***'`.
        let inner = String::from_utf8_lossy(v.inner(url.as_bytes())).into_owned();
        // A URL's query parameter is percent-decoded by the driver, which may echo it so.
        let decoded = percent_decode(&inner);
        if decoded != inner {
            found.push(decoded);
        }
        found.push(inner);
        found.push(unescape(raw));
    }
    found
}

/// The passwords in the userinfo of `url` (up to each of its `@`, as [`password_span`]
/// reads it), raw and percent-decoded, and the byte ranges of `url` they span.
fn userinfo_passwords(url: &str) -> (Vec<String>, Vec<std::ops::Range<usize>>) {
    let mut found = Vec::new();
    let mut spans = Vec::new();
    let leading = url.len() - url.trim_start().len();
    let url = url.trim();
    // A SQLite URL holds a path, no password: `sqlite:sq/a@b/app.db` is a file's name.
    let sqlite = scheme_end(url.as_bytes(), 0)
        .and_then(|(end, _)| url.get(..end))
        .is_some_and(is_sqlite_scheme);
    if sqlite {
        return (found, spans);
    }
    let (start, bare_colon, empty_user) = match scheme_end(url.as_bytes(), 0) {
        Some((scheme_end, rest)) => (
            rest,
            url.get(scheme_end..rest) == Some(":"),
            empty_user_name(url.get(scheme_end..rest).unwrap_or_default()),
        ),
        None => (0, false, false),
    };
    let full = url.get(start..).unwrap_or_default();
    // No `@` of a `?password=` value ends the userinfo (see `password_span`), unless its
    // `?` or `&` stands in the password (`u:Kq7?password=Jy8@h/db`).
    let rest = full
        .get(..userinfo_bound(full, 0, full.len(), empty_user || bare_colon))
        .unwrap_or_default();
    for (at, _) in rest.match_indices('@') {
        let userinfo = rest.get(..at).unwrap_or_default();
        // `u@h:5432/db?application_name=a@b`: no password, the `@` is the query's.
        if user_then_host(userinfo).is_some() {
            continue;
        }
        let pw = match userinfo.split_once(':') {
            // `postgres://:pw@host`: all of the userinfo is the password.
            _ if empty_user => userinfo,
            // A MySQL DSN (`u:ab c:d@tcp(h:3306)/db`): what looked like the scheme was the
            // user name, and all of the userinfo is the password.
            _ if bare_colon && is_dsn_address(full.get(at + 1..).unwrap_or_default()) => userinfo,
            Some((_, pw)) => pw,
            // `user:password@host` with no scheme at all: what looked like one was the user.
            None if bare_colon => userinfo,
            None => continue,
        };
        let end = leading + start + at;
        spans.push(end - pw.len()..end);
        found.push(pw.to_string());
        let decoded = percent_decode(pw);
        if decoded != pw {
            found.push(decoded);
        }
    }
    (found, spans)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let hex = |c: Option<&u8>| c.and_then(|c| (*c as char).to_digit(16));
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            if let (Some(h), Some(l)) = (hex(b.get(i + 1)), hex(b.get(i + 2))) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A `password=` value as the connection library reads it: quotes removed, `\x` → `x`.
fn unescape(value: &str) -> String {
    let inner = ['\'', '"']
        .into_iter()
        .find_map(|q| value.strip_prefix(q)?.strip_suffix(q))
        .unwrap_or(value);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// Mask credentials in error or log text: every registered [distinctive](is_distinctive)
/// password wherever it occurs (raw and percent-decoded forms), then what
/// [`redact_credentials`] masks, a registered password of any length to its full length
/// where it stands as a URL's password or a `password=` value.
pub fn redact(text: &str) -> String {
    // A copy, so the lock is never held while masking: see `panic_message`.
    let registered = secrets().clone();
    redact_with(text, &registered)
}

/// [`redact`] with the given secrets and passwords.
fn redact_with(text: &str, registered: &Registered) -> String {
    settle(text, |text| {
        // First, so that no other shape cuts a password literal short.
        let sql = redact_sql_passwords(text);
        let text = sql.as_str();
        let mut out = None::<String>;
        // The user's URL as given, with its passwords masked whatever their length.
        for (url, masked) in &registered.urls {
            let cur = out.as_deref().unwrap_or(text);
            if cur.contains(url.as_str()) {
                out = Some(cur.replace(url.as_str(), masked));
            }
        }
        for s in &registered.secrets {
            let cur = out.as_deref().unwrap_or(text);
            if cur.contains(s.as_str()) {
                out = Some(cur.replace(s.as_str(), MASK));
            }
        }
        // A password of the user's URL where it stands as one in a URL (`scheme://user:`
        // before it), whatever its length.
        let cur = out.as_deref().unwrap_or(text);
        let masked = mask_in_userinfo(cur, &registered.passwords, in_url_userinfo);
        if masked != cur {
            out = Some(masked);
        }
        let text = redact_userinfo(out.as_deref().unwrap_or(text));
        redact_key_value(&text, &registered.passwords)
    })
}

/// Rounds of masking before text that keeps changing is given up on (see [`settle`]).
const MAX_ROUNDS: usize = 8;

/// Repeat a round of masking until it changes nothing, so that masking masked text changes
/// nothing: the ledger stores events masked and `audit log`/`audit export` mask them again
/// on the way out, and the two must be identical for an export to match its hashes.
///
/// One round almost always settles, but removing a password can join what stood around it
/// into a new shape (a `password:` key next to what now reads as a URL, a registered
/// secret spanning the mask). Text that still changes after [`MAX_ROUNDS`] rounds (none is
/// known) is replaced whole by the mask, which masks to itself: showing less is the safe
/// direction.
fn settle(text: &str, round: impl Fn(&str) -> String) -> String {
    let mut cur = round(text);
    if cur == text {
        return cur;
    }
    for _ in 0..MAX_ROUNDS {
        let next = round(&cur);
        if next == cur {
            return cur;
        }
        cur = next;
    }
    MASK.to_string()
}

/// A panic's message, masked like every other output, for a panic hook: a panic can quote
/// the text being worked on (a statement, a URL, an error), and the default hook would
/// print it as it is. Never blocks for long: when the secrets can't be read (a thread holds
/// the lock), the message is withheld rather than shown unmasked.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(s), _) => *s,
        (_, Some(s)) => s.as_str(),
        _ => return "(no message)".into(),
    };
    // Another thread may hold the lock for a moment; the panicking one never does (it is
    // only held to copy or extend the list), but waiting for it would hang if it did.
    for _ in 0..200 {
        match SECRETS.try_lock() {
            Ok(s) => return redact_with(text, &s.clone()),
            Err(TryLockError::Poisoned(p)) => return redact_with(text, &p.into_inner().clone()),
            Err(TryLockError::WouldBlock) => {
                std::thread::sleep(std::time::Duration::from_millis(1))
            }
        }
    }
    "(message withheld: it could not be checked for passwords)".into()
}

/// Mask credentials by their shape only: `user:***@` in URLs (whatever the URL's scheme
/// separator looks like) and `password=***` in connection strings. Never touches text that
/// has neither shape, so it is safe on reports and data; applying it twice changes nothing.
pub fn redact_credentials(text: &str) -> String {
    settle(text, |text| {
        redact_key_value(&redact_userinfo(&redact_sql_passwords(text)), &[])
    })
}

/// `line` masked as [`redact`] masks it, and where the characters `chars` of `line`
/// (0-based character indices, end exclusive) stand in it: the same characters where they
/// are still shown, the mask that replaced them where they are not. For a caret under a
/// line of SQL, which must point at the same place once the line is masked
/// (`password=hunter2 AND x = ;` → `password=*** AND x = ;`, the caret under the `;` moved
/// four characters to the left).
pub fn redact_span(line: &str, chars: std::ops::Range<usize>) -> (String, std::ops::Range<usize>) {
    let registered = secrets().clone();
    let masked = redact_with(line, &registered);
    if masked == line {
        return (masked, chars);
    }
    let first = masked_char(line, &masked, chars.start, &registered);
    let end = match chars.end.checked_sub(1) {
        _ if chars.is_empty() => first.start,
        Some(last) if last > chars.start => masked_char(line, &masked, last, &registered).end,
        _ => first.end,
    };
    (masked, first.start..end.max(first.start))
}

/// Where character `c` of `line` stands in `masked` (`line` masked with `registered`), in
/// characters: itself, or the mask that replaced it. Masking reads text left to right, so
/// the text up to a character masks as the start of the whole line does, nearly always;
/// where it does not (the character is in a password whose end only shows further on), the
/// text from the character on is tried, then the one mask the two lines differ by, and
/// then where the character was.
fn masked_char(
    line: &str,
    masked: &str,
    c: usize,
    registered: &Registered,
) -> std::ops::Range<usize> {
    let count = masked.chars().count();
    let Some((at, ch)) = line.char_indices().nth(c) else {
        return count..count;
    };
    let through = at + ch.len_utf8();
    let upto = redact_with(line.get(..through).unwrap_or_default(), registered);
    if masked.starts_with(&upto) {
        let n = upto.chars().count();
        let before = redact_with(line.get(..at).unwrap_or_default(), registered);
        if upto.strip_prefix(before.as_str()) == Some(ch.encode_utf8(&mut [0; 4])) {
            return n - 1..n;
        }
        if upto.ends_with(MASK) {
            return n - MASK.len()..n;
        }
    }
    let from = redact_with(line.get(at..).unwrap_or_default(), registered);
    if masked.ends_with(&from) && from.starts_with(ch) {
        let n = count - from.chars().count();
        return n..n + 1;
    }
    // What differs between the two lines, when it is one mask: the character is in it.
    let prefix = line
        .chars()
        .zip(masked.chars())
        .take_while(|(a, b)| a == b)
        .count();
    let suffix = line
        .chars()
        .rev()
        .zip(masked.chars().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let line_count = line.chars().count();
    let differs: String = masked
        .chars()
        .skip(prefix)
        .take(count.saturating_sub(prefix + suffix))
        .collect();
    if differs == MASK && (prefix..line_count.saturating_sub(suffix)).contains(&c) {
        return prefix..prefix + MASK.len();
    }
    let n = c.min(count.saturating_sub(1));
    n..n + 1
}

/// Register the contents of the password literals of a SQL script (see
/// [`redact_sql_passwords`]), so that [`redact`] masks them wherever a database repeats them
/// without the words around them (`near "'S3cretRolePw!'": syntax error`). Only
/// [distinctive](is_distinctive) ones, as for any secret.
pub fn register_sql_passwords(sql: &str) {
    for literal in sql_password_literals(sql) {
        if let Some(content) = sql.get(literal) {
            register_secret(content);
            // As the database reads it: a doubled quote is one, a backslash escapes.
            register_secret(&unescape(&content.replace("''", "'")));
        }
    }
}

/// SQL that sets a password, with the content of its string literal masked and its quotes
/// kept (`PASSWORD '***'`): PostgreSQL's `CREATE|ALTER ROLE|USER … [ENCRYPTED] PASSWORD '…'`
/// (and a foreign server's `password '…'` option), MySQL's and MariaDB's `IDENTIFIED [WITH
/// plugin] BY|AS '…'` (with `REPLACE '…'`, the current password), `IDENTIFIED VIA plugin
/// USING '…'`, `PASSWORD('…')` and `SET PASSWORD FOR user = '…'`. See
/// [`sql_password_literals`].
fn redact_sql_passwords(text: &str) -> String {
    let literals = sql_password_literals(text);
    if literals.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for literal in literals {
        out.push_str(text.get(copied..literal.start).unwrap_or_default());
        out.push_str(MASK);
        copied = literal.end;
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    out
}

/// The byte ranges of the contents of the string literals that set a password in `text`
/// (see [`redact_sql_passwords`]), in order, without their quotes. The keywords in any case,
/// as whole words, with any whitespace (line breaks too) between them. A literal with no
/// closing quote runs to the end of the text: it was cut short, as a statement excerpt is,
/// and the rest may be the password. Empty ones are left out.
fn sql_password_literals(text: &str) -> Vec<std::ops::Range<usize>> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(c) = b.get(i) {
        let before = i.checked_sub(1).and_then(|p| b.get(p));
        if !c.is_ascii_alphabetic() || before.is_some_and(|c| is_sql_word_byte(*c)) {
            i += 1;
            continue;
        }
        let end = sql_word_end(b, i);
        let word = b.get(i..end).unwrap_or_default();
        // A quoted name (`"password": "…"` in JSON, a column `"password"`) is no keyword.
        let quoted = before.is_some_and(|c| is_quote(*c as char))
            || b.get(end).is_some_and(|c| is_quote(*c as char));
        let literals = if quoted {
            Vec::new()
        } else if word.eq_ignore_ascii_case(b"password") {
            password_literal(b, end).into_iter().collect()
        } else if word.eq_ignore_ascii_case(b"identified") {
            identified_literals(b, end)
        } else {
            Vec::new()
        };
        i = end;
        for literal in literals {
            i = i.max(literal.end);
            if !literal.is_empty() {
                found.push(literal);
            }
        }
    }
    found
}

/// Bytes that continue an SQL word: a keyword that runs on (`mysql_native_password`,
/// `old_password`) is another word. Any non-ASCII byte counts, as identifiers may hold such
/// letters.
fn is_sql_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || !c.is_ascii()
}

fn sql_word_end(b: &[u8], mut j: usize) -> usize {
    while b.get(j).is_some_and(|c| is_sql_word_byte(*c)) {
        j += 1;
    }
    j
}

fn skip_sql_space(b: &[u8], mut j: usize) -> usize {
    while b.get(j).is_some_and(u8::is_ascii_whitespace) {
        j += 1;
    }
    j
}

/// The literal after a `PASSWORD` keyword that ends at `end`: `PASSWORD '…'`,
/// `PASSWORD('…')`, or `PASSWORD FOR user = '…'` (MySQL's `SET PASSWORD`).
fn password_literal(b: &[u8], end: usize) -> Option<std::ops::Range<usize>> {
    let mut j = skip_sql_space(b, end);
    if b.get(j) == Some(&b'(') {
        j = skip_sql_space(b, j + 1);
    } else if b
        .get(j..j + 3)
        .is_some_and(|w| w.eq_ignore_ascii_case(b"for"))
        && !b.get(j + 3).is_some_and(|c| is_sql_word_byte(*c))
    {
        // The account (`'app'@'%'`, `app@localhost`) up to its `=`, within the statement.
        let mut k = j + 3;
        loop {
            match b.get(k)? {
                b'=' => break,
                b';' => return None,
                q @ (b'\'' | b'"' | b'`') => {
                    k = b
                        .get(k + 1..)?
                        .iter()
                        .position(|c| c == q)
                        .map(|p| k + 1 + p)?
                        + 1;
                }
                _ => k += 1,
            }
            if k - j > LONGEST_USERINFO {
                return None;
            }
        }
        j = skip_sql_space(b, k + 1);
    }
    sql_literal(b, j)
}

/// The literals after an `IDENTIFIED` keyword that ends at `end`: `IDENTIFIED [WITH|VIA
/// plugin] BY|AS|USING '…'`, and the current password of MySQL's `… REPLACE '…'` after it.
fn identified_literals(b: &[u8], end: usize) -> Vec<std::ops::Range<usize>> {
    let word_at = |j: usize, w: &[u8]| {
        b.get(j..j + w.len())
            .is_some_and(|x| x.eq_ignore_ascii_case(w))
            && !b.get(j + w.len()).is_some_and(|c| is_sql_word_byte(*c))
    };
    let mut j = skip_sql_space(b, end);
    if word_at(j, b"with") || word_at(j, b"via") {
        j = skip_sql_space(b, sql_word_end(b, j));
        // The plugin's name, quoted or not.
        j = match b.get(j) {
            Some(&q @ (b'\'' | b'"' | b'`')) => {
                match b.get(j + 1..).and_then(|r| r.iter().position(|c| *c == q)) {
                    Some(p) => j + p + 2,
                    None => return Vec::new(),
                }
            }
            _ => sql_word_end(b, j),
        };
        j = skip_sql_space(b, j);
    }
    let Some(keyword) = [&b"by"[..], b"as", b"using"]
        .into_iter()
        .find(|w| word_at(j, w))
    else {
        return Vec::new();
    };
    let Some(literal) = sql_literal(b, skip_sql_space(b, j + keyword.len())) else {
        return Vec::new();
    };
    let mut found = vec![literal.clone()];
    let after = skip_sql_space(b, literal.end + 1);
    if word_at(after, b"replace") {
        found.extend(sql_literal(b, skip_sql_space(b, after + "replace".len())));
    }
    found
}

/// The content of the SQL string literal that starts at `j`, without its quotes: `'…'` (a
/// doubled quote is one; a backslash escapes, as in MySQL and `E'…'`: for a standard string
/// that only masks more), `"…"` (MySQL), with an `E` or `N` before it, or `$tag$…$tag$`.
/// Without its closing quote, to the end of the text.
fn sql_literal(b: &[u8], mut j: usize) -> Option<std::ops::Range<usize>> {
    if matches!(b.get(j), Some(b'E' | b'e' | b'N' | b'n')) && b.get(j + 1) == Some(&b'\'') {
        j += 1;
    }
    match *b.get(j)? {
        q @ (b'\'' | b'"') => {
            let mut k = j + 1;
            while let Some(&c) = b.get(k) {
                match c {
                    b'\\' => k += 2,
                    c if c == q && b.get(k + 1) == Some(&q) => k += 2,
                    c if c == q => return Some(j + 1..k),
                    _ => k += 1,
                }
            }
            Some(j + 1..b.len())
        }
        b'$' => {
            let tag_end = j
                + 1
                + b.get(j + 1..)?
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_' || !c.is_ascii()))?;
            let starts_as_tag = b.get(j + 1).is_some_and(|c| !c.is_ascii_digit());
            if b.get(tag_end) != Some(&b'$') || !starts_as_tag {
                return None;
            }
            let tag = b.get(j..=tag_end)?;
            let content = tag_end + 1;
            let close = b
                .get(content..)?
                .windows(tag.len())
                .position(|w| w == tag)
                .map_or(b.len(), |p| content + p);
            Some(content..close)
        }
        _ => None,
    }
}

/// Mask every string in a JSON value with [`redact`], value by value: masking inside
/// serialised text could break the document.
pub fn redact_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => {
            let masked = redact(s);
            if masked != *s {
                *s = masked;
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(redact_json),
        serde_json::Value::Object(o) => o.values_mut().for_each(redact_json),
        _ => {}
    }
}

/// Whether a URL's scheme is SQLite's, whose URLs name a file and hold no password.
fn is_sqlite_scheme(scheme: &str) -> bool {
    scheme.eq_ignore_ascii_case("sqlite") || scheme.eq_ignore_ascii_case("sqlite3")
}

fn is_scheme_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-')
}

/// With a URL scheme (`[A-Za-z][A-Za-z0-9+.-]*`) starting at `i`, followed by a run of
/// separator characters: where the scheme ends and where the separator run ends. The run
/// is any mix of `:`, `/` and `\`, because a mistyped `://` (`:/`, `//`, `:`, `:\\`) must not
/// turn a URL into text whose password is shown. A run without a `:` after a `/` or `\` is
/// a folder of a path (`/srv/sq/team@corp:x1@y/app.db`), not a scheme.
fn scheme_end(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let before = i.checked_sub(1).and_then(|p| b.get(p));
    if !b.get(i)?.is_ascii_alphabetic() || before.is_some_and(|c| is_scheme_byte(*c)) {
        return None;
    }
    let mut j = i + 1;
    while b.get(j).is_some_and(|c| is_scheme_byte(*c)) {
        j += 1;
    }
    let mut k = j;
    while matches!(b.get(k), Some(b':' | b'/' | b'\\')) {
        k += 1;
    }
    let folder = matches!(before, Some(b'/' | b'\\')) && !b.get(j..k)?.contains(&b':');
    (k > j && !folder).then_some((j, k))
}

/// Past this many bytes a run without whitespace is not taken for a URL's user name and
/// password any more when it has no `@` of its own.
const LONGEST_USERINFO: usize = 256;

/// `scheme://user:secret@host` → `scheme://user:***@host`, for every URL in the text.
fn redact_userinfo(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        let Some((scheme, k)) = scheme_end(b, i) else {
            i += 1;
            continue;
        };
        // A URL quoted in a message (`'postgres://…' found`) ends at its closing quote.
        let opened = i
            .checked_sub(1)
            .and_then(|p| b.get(p))
            .map(|c| *c as char)
            .filter(|c| is_quote(*c));
        // A SQLite URL holds a path, no password: `sqlite://sq/team@corp:x1@y/app.db` names
        // a file, shown as given.
        if text.get(i..scheme).is_some_and(is_sqlite_scheme) {
            i = url_end(text, k, opened).max(i + 1);
            continue;
        }
        match password_span(text, scheme, k, opened) {
            Ok((start, end)) => {
                out.push_str(text.get(copied..start).unwrap_or_default());
                out.push_str(MASK);
                copied = end;
                i = end;
            }
            // Always forward, so the scan ends. Past a long token (no URL has a user name
            // and password of hundreds of bytes) in one step: retrying from every
            // scheme-like word inside it (`a/b/a/b/…`) would take quadratic time.
            Err(resume) => {
                let end = url_end(text, k, opened);
                i = if end.saturating_sub(k) > LONGEST_USERINFO {
                    end.max(i + 1)
                } else {
                    resume.max(i + 1)
                };
            }
        }
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    out
}

/// Quotes a message may put around a URL.
fn is_quote(c: char) -> bool {
    matches!(c, '\'' | '"' | '`')
}

/// Where the part of a URL that starts at `from` ends: at whitespace, or at a quote that
/// closes it, one followed by the end of the text, whitespace or punctuation
/// (`'postgres://…' found`, `"postgres://…",`). Only the quote that opened the URL, if one
/// did, closes it. Any other quote is part of the URL: a password may hold one.
fn url_end(text: &str, from: usize, opened: Option<char>) -> usize {
    let Some(rest) = text.get(from..) else {
        return from.min(text.len());
    };
    let mut chars = rest.char_indices().peekable();
    while let Some((j, c)) = chars.next() {
        let closing = is_quote(c)
            && opened.is_none_or(|q| q == c)
            && chars
                .peek()
                .is_none_or(|(_, n)| n.is_whitespace() || ",.;:!?)]}".contains(*n));
        if c.is_whitespace() || closing {
            return from + j;
        }
    }
    text.len()
}

/// The byte range of the password in the userinfo of a URL whose authority starts at `k`,
/// or where to look for the next URL: past everything that can't hold one, so that text
/// with many `word:` or `a/b` runs costs one pass. `scheme` is where what looks like the
/// URL's scheme ends: it may have been a user name (`user:pw@tcp(host)/db`).
fn password_span(
    text: &str,
    scheme: usize,
    k: usize,
    opened: Option<char>,
) -> Result<(usize, usize), usize> {
    let end = url_end(text, k, opened);
    let separator = text.get(scheme..k).unwrap_or_default();
    let empty_user = empty_user_name(separator);
    // An `@` in the query's `password=` value is the value's, not the userinfo's
    // (`…@h:5432/db?password=Sup3r@Secret`): that value is masked whole on its own. Unless
    // the `?` or `&` before it stands in a password (`u:Kq7?password=Jy8@h:5432/db`).
    let token = text
        .get(k..userinfo_bound(text, k, end, empty_user || separator == ":"))
        .unwrap_or_default();
    // The userinfo ends at the LAST '@' before the URL ends (whitespace or a closing quote):
    // a password may contain '@', ':', '/' or quotes when the user did not percent-encode
    // it. Masking too much is the safe direction.
    // `://` (or `:\\`) is a URL's; after another `:` what follows may be a MySQL DSN's
    // password (`user:pw@tcp(host)/db`), whatever it holds (`:`, `/`).
    let dsn_like = separator.starts_with(':')
        && !["://", ":\\\\", ":/\\", ":\\/"]
            .iter()
            .any(|s| separator.starts_with(s));
    // `user:a`,b@host`: a quote that only looked like it closed the URL, after what can be
    // a user name and password.
    let userinfo_like = token.contains(':') || separator.ends_with(':') || dsn_like;
    let at = token
        .rfind('@')
        .map(|at| k + at)
        .or_else(|| quoted_at(text, k, end, opened).filter(|_| userinfo_like));
    let mut at = match at {
        Some(at) => at,
        None => {
            // `user:pass word@host`: an unencoded space in the password. Only a bare
            // `user:pass` (no '/', so not host:port/path; something after the colon)
            // continues, to an '@' on the same line within two more words without ':' or
            // '/': prose after a URL must stay readable. A MySQL DSN's password may hold
            // both (`u:ab c:d@tcp(h:3306)/db`): what looked like the scheme was the user name,
            // and the DSN's address after the '@' says it is one.
            let Some(next) = continued_at(text, end, opened, dsn_like) else {
                return Err(end);
            };
            let bare = if empty_user {
                !token.is_empty() && !token.contains('/')
            } else if dsn_like && is_dsn_address(text.get(next + 1..).unwrap_or_default()) {
                !token.is_empty()
            } else {
                token
                    .split_once(':')
                    .is_some_and(|(_, pw)| !pw.is_empty() && !pw.contains('/'))
            };
            if !bare {
                return Err(k);
            }
            next
        }
    };
    // `user:p@ss word@host`: a password with an '@' and a space. What follows an '@' is the
    // host only when it has a port, path or query, or no further '@' follows within two
    // words; otherwise it was more of the password. A further '@' after a quote that only
    // looked like it closed the URL (`user:p@h:1',x@host`) is the userinfo's either way, as
    // it would be without the quote.
    loop {
        let host_end = url_end(text, at + 1, opened);
        if let Some(next) = quoted_at(text, at + 1, host_end, opened) {
            at = next;
            continue;
        }
        let host = text.get(at + 1..host_end).unwrap_or_default();
        if host.contains([':', '/', '?', '#']) {
            break;
        }
        match continued_at(text, host_end, opened, false) {
            Some(next) => at = next,
            None => break,
        }
    }
    // A MySQL DSN (`user:pw@tcp(host:3306)/db`, `user:pw@/db`): no scheme, and after the '@'
    // a protocol with its address in parentheses, or the database's path. What looked like
    // the scheme was the user name, and the password starts at the colon after it.
    if dsn_like && is_dsn_address(text.get(at + 1..).unwrap_or_default()) {
        return Ok((scheme + 1, at));
    }
    // An empty user name (`postgres://:pw@host`): the separator run took its colon, and the
    // password is all of the userinfo, `:` and all.
    if empty_user {
        return Ok((k, at));
    }
    // `u@h:5432/db?application_name=a@b`: a user name without a password, then the host
    // and port, and the later '@' in the path or query. The colon is the port's. The scan
    // goes on at the path: the query may hold a URL of its own. Not past the longest
    // userinfo there is: going back from that far would cost a pass per URL, and masking
    // that much is the safe direction.
    if let Some(path) = text
        .get(k..at)
        .filter(|u| u.len() <= LONGEST_USERINFO)
        .and_then(user_then_host)
    {
        return Err(k + path);
    }
    match text.get(k..at).and_then(|userinfo| userinfo.find(':')) {
        Some(colon) => Ok((k + colon + 1, at)),
        // No ':' before the '@': nothing up to it can be a password.
        None => Err(at),
    }
}

/// Where the userinfo of a URL whose authority runs from `from` to `end` can end at the
/// latest: before the query's `password` parameter (see [`query_password`]), whose value
/// may hold an `@` of its own, unless the `?` or `&` before it can only be part of a
/// password: after a user name's `:` and what is not a port (`u:Kq7?password=Jy8@h/db`),
/// or after an empty user name's or a DSN's colon (`colon_taken`, where the separator run
/// took it). A port (`h:5432?password=a@b`, `h:5432/db?…`), a path (`h/db?…`) or an `@`
/// (`u@h/db?…`) before it make it a query. Then `end`.
fn userinfo_bound(text: &str, from: usize, end: usize, colon_taken: bool) -> usize {
    let query = query_password(text, from, end);
    let Some(before) = text.get(from..query).filter(|_| query < end) else {
        return query;
    };
    let password = if colon_taken {
        Some(before)
    } else {
        before.split_once(':').map(|(_, pw)| pw)
    };
    let in_password = password.is_some_and(|pw| {
        let digits = pw.bytes().take_while(u8::is_ascii_digit).count();
        let port = digits > 0
            && pw
                .get(digits..)
                .is_some_and(|r| r.is_empty() || r.starts_with('/'));
        !before.contains('@') && !pw.is_empty() && !port
    });
    if in_password {
        end
    } else {
        query
    }
}

/// Where the path, query or fragment of `userinfo` (all that stands before a URL's last `@`)
/// starts when it reads as `user@host[:port]` followed by one: a user name without a
/// password, the later `@` standing in the path or query (`u@h:5432/db?x=a@b`). `None`
/// when a `:` comes before the first `@` (then it starts the password), or what follows the
/// first `@` is no host and port (`user@server:pw`, a user name holding an `@`).
fn user_then_host(userinfo: &str) -> Option<usize> {
    let at = userinfo.find('@')?;
    if userinfo.get(..at)?.contains(':') {
        return None;
    }
    let rest = userinfo.get(at + 1..)?;
    let host = if rest.starts_with('[') {
        rest.find(']')? + 1
    } else {
        rest.find([':', '/', '?', '#', '@']).unwrap_or(rest.len())
    };
    if host == 0 {
        return None;
    }
    let mut after = rest.get(host..)?;
    if let Some(port) = after.strip_prefix(':') {
        let digits = port.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        after = port.get(digits..)?;
    }
    after
        .starts_with(['/', '?', '#'])
        .then(|| userinfo.len() - after.len())
}

/// Whether a URL's scheme separator run (`://:`) took the colon of an empty user name: it
/// ends in a `:` after a `/` or `\`.
fn empty_user_name(separator: &str) -> bool {
    separator.len() >= 2
        && separator.ends_with(':')
        && separator
            .get(..separator.len() - 1)
            .is_some_and(|s| s.ends_with(['/', '\\']))
}

/// Where the first `password` parameter of a URL's query (`?password=`, `&sslpassword=`,
/// the key or `=` percent-encoded or not) between `from` and `end` starts: at the `?` or `&`
/// before it. `end` when there is none.
fn query_password(text: &str, from: usize, end: usize) -> usize {
    let b = text.as_bytes();
    // Only in the name after each `?` or `&`, so that any text costs one pass.
    let key_at = |start: usize| {
        let mut j = start;
        for &want in KEY {
            j += encoded_len(b, j, want)?;
        }
        Some(j)
    };
    (from..end)
        .filter(|i| matches!(b.get(*i), Some(b'?' | b'&')))
        .find(|i| {
            let name = i + 1;
            let mut j = name;
            loop {
                if let Some(key_end) = key_at(j).filter(|e| *e <= end) {
                    return name_start(b, j) == name && encoded_len(b, key_end, b'=').is_some();
                }
                if j >= end
                    || !b.get(j).is_some_and(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')
                    })
                {
                    return false;
                }
                j += 1;
            }
        })
        .unwrap_or(end)
}

/// Whether `rest`, after the `@` of a scheme-less `user:pw@…`, is a MySQL DSN's address: a
/// protocol with its address in parentheses (`tcp(host:3306)`, `unix(/tmp/sock)`) or, with
/// the default address, the database's path (`/db`). An e-mail address is neither.
fn is_dsn_address(rest: &str) -> bool {
    let protocol = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    rest.starts_with('/')
        || (protocol > 0 && rest.get(protocol..).is_some_and(|r| r.starts_with('(')))
}

/// Where a URL part that a quote seemed to close at `end` continues to, when the quote was
/// part of its user name or password (`user:a`,b@host`, `user:p@s',x@host`): the last `@`
/// of the first run after it that holds one, the runs being cut by whitespace or closing
/// quotes, and only quotes joining them. `None` when whitespace or the end of the text comes
/// first, or punctuation and another quote (`"sha256:ab","ann@example.com"`,
/// `('a:b'),('ann@example.com')`): the quote did close the URL, or a string of JSON or SQL.
/// Only past a few quotes and within the longest userinfo there is (from `from`, where the
/// URL part starts), so long lines of quotes cost one pass.
fn quoted_at(text: &str, from: usize, end: usize, opened: Option<char>) -> Option<usize> {
    let b = text.as_bytes();
    let mut e = end;
    for _ in 0..QUOTES_IN_USERINFO {
        if !b.get(e).is_some_and(|c| is_quote(*c as char)) || e - from > LONGEST_USERINFO {
            return None;
        }
        let punctuation = b
            .get(e + 1..)?
            .iter()
            .position(|c| !c.is_ascii_punctuation() || is_quote(*c as char))?;
        if punctuation > 0
            && b.get(e + 1 + punctuation)
                .is_some_and(|c| is_quote(*c as char))
        {
            return None;
        }
        let next = url_end(text, e + 1, opened);
        if let Some(at) = text.get(e + 1..next)?.rfind('@') {
            return Some(e + 1 + at);
        }
        e = next;
    }
    None
}

/// Past this many quotes that look as if they closed it, a URL's user name and password are
/// not looked for any further (see [`quoted_at`]).
const QUOTES_IN_USERINFO: usize = 4;

/// Where a URL part cut by whitespace at `from` continues to: the last `@` of the first of
/// the next two words on the same line that holds one (as without a space, the password
/// runs to the last `@`). `None` when a `:` or `/` comes first (prose, a time, another
/// URL), or the URL's closing quote, or the line ends; with `dsn`, a word whose last `@`
/// is followed by a MySQL DSN's address counts whatever comes first (`c:d@tcp(h:3306)/db`:
/// see [`is_dsn_address`]). Stops early, so long lines cost no more than short ones.
fn continued_at(text: &str, from: usize, opened: Option<char>, dsn: bool) -> Option<usize> {
    let mut j = from;
    for _ in 0..2 {
        let rest = text.get(j..)?;
        let gap = rest
            .find(|c: char| !c.is_whitespace() || matches!(c, '\n' | '\r'))
            .unwrap_or(rest.len());
        // A word follows unless the text or the line ends, or no whitespace does: the
        // URL's closing quote ended the part before.
        j += gap;
        if gap == 0 || matches!(text.as_bytes().get(j), None | Some(b'\n' | b'\r')) {
            return None;
        }
        let end = url_end(text, j, opened);
        let word = text.get(j..end)?;
        if let Some(at) = word.rfind('@').filter(|_| dsn) {
            if is_dsn_address(text.get(j + at + 1..).unwrap_or_default()) {
                return Some(j + at);
            }
        }
        match word.find(['@', ':', '/']) {
            Some(p) if word.as_bytes().get(p) == Some(&b'@') => {
                return word.rfind('@').map(|at| j + at)
            }
            Some(_) => return None,
            None => {}
        }
        j = end;
    }
    None
}

/// `password=secret` / `password: secret` / `"password":"secret"` (libpq conninfo, URL
/// query parameters, driver debug output) → `password=***`, but not `password: old one was
/// revoked`: see [`password_values`].
fn redact_key_value(text: &str, passwords: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for v in password_values(text) {
        // A quoted value keeps its quotes, so the text around it stays balanced; one cut
        // before its closing quote keeps its opening quote only.
        let inner = v.inner_range();
        // Inside a value masked to a registered password's length.
        if v.range.start < copied {
            continue;
        }
        // Or a registered password that runs on past it, quotes and all.
        let end = registered_end(text, v.range.clone(), passwords);
        let (start, end) = if end > v.range.end {
            (v.range.start, end)
        } else {
            (inner.start, inner.end)
        };
        out.push_str(text.get(copied..start).unwrap_or_default());
        out.push_str(MASK);
        copied = end;
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    out
}

/// Where a value found at `value` (quotes included) ends when it is one of the registered
/// `passwords` that its shape ended early (`password=a b`, `password=pw.`, a URL's
/// `?password='a' b`): at the end of the longest one that starts where it does and is
/// followed by what may follow a value. Otherwise where it ends.
fn registered_end(text: &str, value: std::ops::Range<usize>, passwords: &[String]) -> usize {
    let rest = text.get(value.start..).unwrap_or_default();
    let b = text.as_bytes();
    passwords
        .iter()
        .filter(|p| p.len() > value.len() && rest.starts_with(p.as_str()))
        .map(|p| value.start + p.len())
        .find(|end| {
            b.get(*end).is_none_or(|c| {
                c.is_ascii_whitespace() || TRAILING.contains(c) || matches!(c, b'&' | b'`')
            })
        })
        .unwrap_or(value.end)
}

/// The value of a `password` parameter: its byte range, quotes included.
struct Value {
    range: std::ops::Range<usize>,
    /// Opened with a quote.
    quoted: bool,
    /// Opened with a quote, and closed by the same quote (the range's last byte).
    closed: bool,
    /// A URL's query parameter (`?password=…`, `&password=…`).
    query: bool,
}

impl Value {
    /// The range without its quotes. Quotes are ASCII, so both ends stay on character
    /// boundaries whatever the value holds.
    fn inner_range(&self) -> std::ops::Range<usize> {
        let start = self.range.start + usize::from(self.quoted);
        let end = self.range.end - usize::from(self.closed);
        start..end.max(start)
    }

    fn inner<'a>(&self, b: &'a [u8]) -> &'a [u8] {
        b.get(self.inner_range()).unwrap_or_default()
    }
}

/// The values of `password` parameters in `text`. libpq's rules: a value is quoted with
/// `'` (or `"`) and runs to the closing quote, or runs to the next space (in a URL's query,
/// also to the next `&`: see [`unquoted_end`]); a backslash escapes the character after it
/// either way. A quoted value with no closing quote runs to the end of the text (it was cut
/// short, as a statement excerpt is, and the rest may be the secret), or to the quote that
/// closes the parameter when it is quoted itself; one whose closing quote is followed by more
/// of it (`'a b'c`) runs on as an unquoted value does.
///
/// `password: value` is also how prose reads (`password: old one was revoked`), so there an
/// unquoted value counts only when it stands alone, as a parameter's does (see
/// [`stands_alone`]), or follows the colon with no space, or a quoted key (JSON).
///
/// The key and its `=` may be percent-encoded (`p%61ssword=`, `password%3D`): a mistyped or
/// hand-encoded query string is decoded by the driver, and the value must not show.
fn password_values(text: &str) -> Vec<Value> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    let mut ticks = Backticks::default();
    while let Some((key, key_end)) = next_key(b, i) {
        let mut j = key_end;
        i = j;
        // `"password": "…"` in JSON-like text: the key's closing quote.
        let quoted_key = matches!(b.get(j), Some(b'"' | b'\''));
        if quoted_key {
            j += 1;
        }
        while b.get(j) == Some(&b' ') {
            j += 1;
        }
        // `=` may be percent-encoded too: `?password%3Dsecret` is a mistyped parameter.
        let separator = match b.get(j) {
            Some(b':') => {
                j += 1;
                b':'
            }
            _ => match encoded_len(b, j, b'=') {
                Some(len) => {
                    j += len;
                    b'='
                }
                None => continue,
            },
        };
        let after_separator = j;
        while b.get(j) == Some(&b' ') {
            j += 1;
        }
        let start = j;
        let name = name_start(b, key);
        // A URL's query parameter (`?password=…`, `&password=…`) ends at the next one.
        let query = matches!(
            name.checked_sub(1).and_then(|p| b.get(p)),
            Some(b'?' | b'&')
        );
        let ticked = ticks.open_at(b, j);
        // Unquoted, as the value of `password: value` in prose is.
        let mut plain = true;
        let (end, quoted, closed) = match b.get(j) {
            None => continue,
            Some(q @ (b'\'' | b'"')) => match closing_quote(b, j + 1, *q) {
                // `'a b'c`: what follows the closing quote is more of the value (a URL's
                // query takes quotes as they are), unless it ends the value or the text's
                // sentence or brackets.
                Some(e) if b.get(e + 1).is_some_and(|c| !ends_quoted(*c)) => {
                    (unquoted_end(b, e + 1, ticked, query), false, false)
                }
                Some(e) => {
                    plain = false;
                    (e + 1, true, true)
                }
                None => {
                    plain = false;
                    (unclosed_end(b, name, j), true, false)
                }
            },
            // Rust's Debug output of an `Option`.
            Some(_) if b.get(j..).is_some_and(|v| v.starts_with(b"Some(")) => {
                plain = false;
                (some_end(b, j), false, false)
            }
            // JSON's `"password": null,`: a literal, which holds no `,` or closing bracket.
            Some(_) if quoted_key => {
                let end = unquoted_end(b, j, ticked, query);
                let literal = b.get(j..end).unwrap_or_default();
                let end = literal
                    .iter()
                    .position(|c| matches!(c, b',' | b'}' | b']'))
                    .map_or(end, |p| j + p);
                (end, false, false)
            }
            Some(_) => (unquoted_end(b, j, ticked, query), false, false),
        };
        let prose = plain
            && separator == b':'
            && !quoted_key
            && start > after_separator
            && !stands_alone(b, end);
        if prose {
            continue;
        }
        if end > start {
            found.push(Value {
                range: start..end,
                quoted,
                closed,
                query,
            });
            ticks.skip(b, start..end);
        }
        i = end.max(i);
    }
    found
}

/// Whether a backtick opened earlier on the line is still open, as one that quotes a URL or
/// parameter in a message is (`` `postgres://u@h/db?password=x` ``): its closing backtick
/// ends the value. Counted left to right in one pass over the text, without the values found
/// so far, so masking a value (which may hold backticks) changes nothing for the values
/// after it, and masking twice changes nothing.
#[derive(Default)]
struct Backticks {
    /// Counted up to here.
    at: usize,
    open: bool,
}

impl Backticks {
    /// Whether a backtick is open at `pos` (at or after where it was last asked about).
    fn open_at(&mut self, b: &[u8], pos: usize) -> bool {
        for c in b.get(self.at..pos).unwrap_or_default() {
            match c {
                b'`' => self.open = !self.open,
                b'\n' | b'\r' => self.open = false,
                _ => {}
            }
        }
        self.at = self.at.max(pos);
        self.open
    }

    /// Leave a value out of the count.
    fn skip(&mut self, b: &[u8], value: std::ops::Range<usize>) {
        self.open_at(b, value.start);
        self.at = self.at.max(value.end);
    }
}

/// The name of the parameters whose values [`password_values`] finds.
const KEY: &[u8] = b"password";

/// Where the next `password` key at or after `from` starts and ends, in any case. Each of
/// its letters may be percent-encoded, once or twice (`p%61ssword`, `p%2561ssword`), as in
/// a query string encoded by hand or by a tool: the driver decodes it to `password`.
fn next_key(b: &[u8], from: usize) -> Option<(usize, usize)> {
    (from..b.len()).find_map(|start| {
        let mut j = start;
        for &want in KEY {
            j += encoded_len(b, j, want)?;
        }
        Some((start, j))
    })
}

/// How many bytes at `i` spell the ASCII character `want` (letters in either case): 1 for
/// the character itself, 3 for `%XX`, 5 for `%25XX` (percent-encoded twice); `None` when
/// they spell something else.
fn encoded_len(b: &[u8], i: usize, want: u8) -> Option<usize> {
    let c = *b.get(i)?;
    if c.eq_ignore_ascii_case(&want) {
        return Some(1);
    }
    if c != b'%' {
        return None;
    }
    let hex = |at: usize| -> Option<u8> {
        let digit = |at: usize| b.get(at).and_then(|c| (*c as char).to_digit(16));
        Some((digit(at)? * 16 + digit(at + 1)?) as u8)
    };
    let (code, len) = match (hex(i + 1), hex(i + 3)) {
        (Some(0x25), Some(code)) => (code, 5),
        (Some(code), _) => (code, 3),
        (None, _) => return None,
    };
    code.eq_ignore_ascii_case(&want).then_some(len)
}

/// Where the name of the parameter whose `password` key starts at `key` starts: it may
/// begin before it (`sslpassword`, `PGPASSWORD`).
fn name_start(b: &[u8], key: usize) -> usize {
    let mut name = key;
    while let Some(c) = name.checked_sub(1).and_then(|p| b.get(p)) {
        if !(c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')) {
            break;
        }
        name -= 1;
    }
    name
}

/// Where a quoted value with no closing quote, starting at `start`, ends: at the end of the
/// text, or at the quote that closes the parameter when one opened it (`` `password='x` is
/// not a duration``), so that the rest of the message stays. `name` is where the
/// parameter's name starts (see [`name_start`]).
fn unclosed_end(b: &[u8], name: usize, start: usize) -> usize {
    match name.checked_sub(1).and_then(|p| b.get(p)) {
        Some(&q @ (b'`' | b'\'' | b'"')) => b
            .get(start + 1..)
            .and_then(|v| v.iter().position(|c| *c == q))
            .map_or(b.len(), |p| start + 1 + p),
        _ => b.len(),
    }
}

/// Where a `Some(…)` value starting at `start` ends: after its closing parenthesis (a
/// quoted string inside may hold one), or at the end of the text without one.
fn some_end(b: &[u8], start: usize) -> usize {
    let mut j = start + "Some(".len();
    if let Some(q @ (b'\'' | b'"')) = b.get(j) {
        match closing_quote(b, j + 1, *q) {
            Some(e) => j = e + 1,
            None => return b.len(),
        }
    }
    b.get(j..)
        .and_then(|rest| rest.iter().position(|c| *c == b')'))
        .map_or(b.len(), |p| j + p + 1)
}

/// Whether an unquoted `password: value` ending at `end` stands alone, as a parameter's
/// value does: followed by the end of the line, a closing bracket, `;`, or another
/// `key:` / `key=` (a comma may come first), and not by more words, as in a sentence.
fn stands_alone(b: &[u8], end: usize) -> bool {
    let skip_blanks = |mut j: usize| {
        while matches!(b.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        j
    };
    // An unquoted value ends at a backtick only when it closes the backticks around the
    // parameter (see `unquoted_end`): what follows that backtick is what follows the value.
    let mut j = end + usize::from(b.get(end) == Some(&b'`'));
    // The punctuation the value's end left out (see `TRAILING`): a closing bracket or `;`
    // ends the parameter, the end of a sentence or quotation is passed over.
    let mut comma = false;
    while let Some(c) = b.get(j).filter(|c| TRAILING.contains(c)) {
        match c {
            b';' | b')' | b']' | b'}' => return true,
            b',' => comma = true,
            _ => {}
        }
        j += 1;
    }
    j = skip_blanks(j);
    if !comma && b.get(j) == Some(&b',') {
        j = skip_blanks(j + 1);
    }
    match b.get(j) {
        None | Some(b'\n' | b'\r' | b';' | b')' | b']' | b'}') => true,
        Some(_) => {
            let word = j;
            while b
                .get(j)
                .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
            {
                j += 1;
            }
            j > word && matches!(b.get(j), Some(b'=' | b':'))
        }
    }
}

/// Index of the quote `q` that closes a value starting at `from`, skipping `\`-escapes.
fn closing_quote(b: &[u8], mut from: usize, q: u8) -> Option<usize> {
    while let Some(&c) = b.get(from) {
        match c {
            b'\\' => from += 2,
            c if c == q => return Some(from),
            _ => from += 1,
        }
    }
    None
}

/// Punctuation that may follow a value in a sentence, or close the brackets or quotes
/// around it (`(password=x).`, `'password=x' found`, `…?password=x: refused`): at the end of
/// an unquoted value, right before whitespace or the end of the text, it is the text's.
const TRAILING: &[u8] = b",.;:)]}'\"";

/// Whether `c`, right after the closing quote of a quoted value, ends the value: whitespace,
/// the next query parameter, or what may follow a value in a sentence (see [`TRAILING`]).
fn ends_quoted(c: u8) -> bool {
    c.is_ascii_whitespace() || TRAILING.contains(&c) || matches!(c, b'&' | b'`')
}

/// Where an unquoted value starting at `start` ends. As libpq reads a connection string: at
/// whitespace (a backslash escapes the character after it); in a URL's query (`query`), also
/// at the `&` of the next parameter; anything else may be part of the password (`se,cret`,
/// `ab"cd`), and masking too much is the safe direction. [`TRAILING`] punctuation before the
/// whitespace or the end of the text is left out. Inside backticks (`ticked`), the value
/// also ends at the backtick that closes them: one followed by the end of the text or
/// whitespace, after punctuation or not (`` `password=x`, then ``); any other backtick may be
/// part of the password.
fn unquoted_end(b: &[u8], start: usize, ticked: bool, query: bool) -> usize {
    let mut end = value_end(b, start, ticked, query);
    if b.get(end).is_none_or(u8::is_ascii_whitespace) {
        while end > start + 1
            && b.get(end - 1).is_some_and(|c| TRAILING.contains(c))
            && b.get(end - 2) != Some(&b'\\')
        {
            end -= 1;
        }
    }
    end
}

/// [`unquoted_end`] with the trailing punctuation.
fn value_end(b: &[u8], start: usize, ticked: bool, query: bool) -> usize {
    let closing_tick = |j: usize| {
        ticked && b.get(j) == Some(&b'`') && {
            let after = b
                .get(j + 1..)
                .unwrap_or_default()
                .iter()
                .position(|c| !b",.;:!?)]}".contains(c))
                .map_or(b.len(), |p| j + 1 + p);
            b.get(after).is_none_or(u8::is_ascii_whitespace)
        }
    };
    let mut j = start;
    while let Some(&c) = b.get(j) {
        if c.is_ascii_whitespace() || (query && c == b'&') || closing_tick(j) {
            break;
        }
        j += if c == b'\\' { 2 } else { 1 };
    }
    // A trailing backslash may have stepped past the end.
    j.min(b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_runs_of_scheme_like_words_before_an_at_cost_one_pass() {
        // `a/b/a/b/… ann@example.com`: every `a` looks like a scheme; retrying from each
        // took quadratic time (seconds for a 200 KB error).
        for unit in ["a/b/", "a.b/", "a:b/", "word:x/"] {
            let text = format!("{} ann@example.com", unit.repeat(100_000));
            // Quadratic, these inputs took minutes: this test would not finish.
            let out = redact_credentials(&text);
            assert!(out.ends_with(" ann@example.com"), "{unit}");
        }
        // A short one with a space in its password is still masked.
        assert_eq!(
            redact_credentials("postgres://u:pass word@host/db"),
            "postgres://u:***@host/db"
        );
    }

    /// Generated texts for property tests: fragments of URLs, connection strings, quotes,
    /// escapes, masks and multibyte characters in random order, some cut at a random
    /// character and ended with " …" as statement excerpts are. Deterministic (a fixed
    /// seed); `BACKSTOP_REDACT_CASES` runs more of them.
    fn generated(seed: u64) -> impl Iterator<Item = String> {
        const PIECES: &[&str] = &[
            "password",
            "PASSWORD",
            "sslpassword",
            "Password",
            "=",
            "=",
            ":",
            ": ",
            " = ",
            "'",
            "'",
            "\"",
            "`",
            "\\",
            "@",
            "@",
            ":",
            "/",
            "//",
            "://",
            ":/",
            "\\\\",
            " ",
            " ",
            "  ",
            "\n",
            "\t",
            "postgres",
            "postgresql://",
            "mysql:",
            "sqlite::memory:",
            "u",
            "user",
            "pw",
            "ab cd",
            "p@s w",
            "host=db",
            "user=app",
            "?",
            "&",
            ",",
            "}",
            "{",
            ")",
            "(",
            ";",
            ".",
            "***",
            "*",
            "**",
            "é",
            "…",
            " …",
            "😀",
            "ß",
            "\u{a0}",
            "\u{2028}",
            "%",
            "%4",
            "%40",
            "%3D",
            "%3d",
            "%253D",
            "%2",
            "p%61ssword",
            "%70",
            "%é",
            "Some(",
            "\"password\": ",
            " PASSWORD ",
            "IDENTIFIED BY ",
            "E'",
            "$q$",
            "''",
            "`,",
            "',",
            "\",",
            "@tcp(",
            "h:5432",
            "db.internal",
            "x",
            "Zq9Secret",
            "S3cretPw",
            "hunter2",
            "a",
            "b",
            "1",
        ];
        let mut state = seed | 1;
        let mut next = move |n: usize| {
            // xorshift64*: a small, fast generator; quality is not the point.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
        };
        let cases = std::env::var("BACKSTOP_REDACT_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(20_000);
        (0..cases).map(move |_| {
            let mut s: String = (0..next(24)).map(|_| PIECES[next(PIECES.len())]).collect();
            if next(4) == 0 {
                let cut = next(s.chars().count() + 1);
                s = s.chars().take(cut).collect::<String>() + " …";
            }
            s
        })
    }

    /// Secrets and passwords as [`register_url_password`] registers them, for generated texts:
    /// distinctive ones, and short ones with spaces, quotes and punctuation, as pieces of
    /// [`generated`] texts hold.
    fn test_registered() -> Registered {
        let mut r = Registered::default();
        for pw in ["Zq9Secret", "S3cretPw"] {
            remember(&mut r.secrets, pw);
        }
        for pw in [
            "Zq9Secret",
            "pw",
            "ab cd",
            "p@s w",
            "a`,b",
            "x ***",
            "hunter2.",
            "u:p",
        ] {
            remember(&mut r.passwords, pw);
        }
        r
    }

    /// Generated passwords without whitespace: runs of letters and digits that no template
    /// holds, so that any of them in the output is a leak, between punctuation, quotes and
    /// escapes. Deterministic, as [`generated`] is.
    fn generated_passwords(seed: u64) -> impl Iterator<Item = String> {
        const PIECES: &[&str] = &[
            "Kq7", "Zx3", "Wv5", "Jy8", "Kq7", "Zx3", ",", ";", ".", ":", "`", "'", "\"", ")", "(",
            "}", "{", "]", "[", "@", "/", "%", "%40", "!", "?", "#", "*", "***", "=", "\\", "&",
            "é", "-", "_", "+", "$",
        ];
        let mut state = seed | 1;
        let mut next = move |n: usize| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
        };
        let cases = std::env::var("BACKSTOP_REDACT_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(5_000);
        (0..cases).map(move |_| {
            let mut s = PIECES[next(4)].to_string();
            for _ in 0..next(8) {
                s.insert_str(
                    if next(2) == 0 { 0 } else { s.len() },
                    PIECES[next(PIECES.len())],
                );
            }
            s
        })
    }

    #[test]
    fn no_letter_or_digit_of_a_password_is_shown_for_generated_passwords() {
        let quote = |c: char| is_quote(c);
        // A quote, punctuation and another quote in a URL's userinfo reads as strings of
        // JSON or SQL (see `quoted_at`); past a few quotes it is not looked into.
        let joins_strings = |pw: &str| {
            let b = pw.as_bytes();
            b.iter().enumerate().any(|(i, c)| {
                quote(*c as char) && {
                    let rest = &b[i + 1..];
                    let p = rest
                        .iter()
                        .position(|c| !c.is_ascii_punctuation() || quote(*c as char));
                    p.is_some_and(|p| p > 0 && quote(rest[p] as char))
                }
            }) || pw.chars().filter(|c| quote(*c)).count() > 3
        };
        let userinfo = [
            "postgres://u:{}@h:5432/db",
            "cannot connect to postgres://u:{}@h:5432/db: refused",
            "unexpected argument 'postgres://u:{}@h/db' found",
            "`postgres://u:{}@h/db`, then `x`",
            "url \"postgres://u:{}@h/db\", then",
            "mysql://u:{}@tcp(h:3306)/db",
            "postgres:/u:{}@h/db",
        ];
        // libpq reads a value that starts with a quote as quoted, and a URL's query ends a
        // value at `&`.
        let parameters = [
            "postgres://u@h/db?password={}",
            "postgres://u@h/db?sslmode=disable&password={}&x=1",
            "cannot connect to postgres://u@h/db?password={}: refused",
            "`postgres://u@h/db?password={}`, then `x`",
            "'postgres://u@h/db?password={}' found",
            "db?p%61ssword={}",
            "db?password%3D{} x",
            "host=h password={} user=u",
            "host=h sslpassword={}",
            "password: {}",
        ];
        let runs = ["Kq7", "Zx3", "Wv5", "Jy8"];
        let mut checked = 0;
        for pw in generated_passwords(3) {
            let mut texts = Vec::new();
            if !joins_strings(&pw) {
                texts.extend(userinfo.iter().map(|t| t.replace("{}", &pw)));
            }
            // `u://…@tcp(…)` is a URL's user name, not a DSN's password.
            if !joins_strings(&pw)
                && !["//", "\\\\", "/\\", "\\/"]
                    .iter()
                    .any(|s| pw.starts_with(s))
            {
                texts.push(format!("dsn u:{pw}@tcp(h:3306)/db"));
            }
            if !pw.starts_with(['\'', '"']) && !pw.contains('&') {
                texts.extend(parameters.iter().map(|t| t.replace("{}", &pw)));
            }
            for text in texts {
                let shown = redact_credentials(&text);
                for run in runs {
                    assert!(!shown.contains(run), "{pw:?}: {text:?} → {shown:?}");
                }
                assert_eq!(redact_credentials(&shown), shown, "{text:?}");
                checked += 1;
            }
        }
        assert!(checked > 50_000, "{checked}");
    }

    #[test]
    fn no_part_of_a_registered_password_is_shown_for_generated_passwords() {
        // With spaces too: the password of the user's URL, registered from it, is masked
        // whole where it stands, whatever its shape does.
        let mut checked = 0;
        for (i, pw) in generated_passwords(4).enumerate() {
            let pw = if i % 2 == 0 {
                pw.replacen(['.', ',', '`'], " ", 1)
            } else {
                pw
            };
            for url in [
                format!("postgres://u:{pw}@h:5432/db"),
                format!("postgres://u@h/db?password={pw}"),
                format!("postgres://u@h/db?password={pw}&sslmode=disable"),
            ] {
                if pw.contains('&') && url.contains('?') {
                    continue;
                }
                let mut registered = Registered::default();
                for form in url_passwords(&url) {
                    if is_distinctive(&form) {
                        remember(&mut registered.secrets, &form);
                    }
                    if !form.trim().is_empty() {
                        remember(&mut registered.passwords, &form);
                    }
                }
                for text in [
                    format!("database: {url}"),
                    format!("cannot connect to {url}: refused"),
                ] {
                    let shown = redact_with(&text, &registered);
                    for run in ["Kq7", "Zx3", "Wv5", "Jy8"] {
                        assert!(!shown.contains(run), "{pw:?}: {text:?} → {shown:?}");
                    }
                    assert_eq!(redact_with(&shown, &registered), shown, "{text:?}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 20_000, "{checked}");
    }

    #[test]
    fn every_function_takes_any_text_without_panicking() {
        // Regression: an unterminated quoted value running to the end of a text that ends in
        // a multibyte character was cut mid-character.
        let registered = test_registered();
        for text in generated(1) {
            let _ = redact_with(&text, &registered);
            let _ = redact_credentials(&text);
            let _ = redact_userinfo(&text);
            let _ = redact_key_value(&text, &registered.passwords);
            for v in password_values(&text) {
                let _ = v.inner(text.as_bytes());
            }
            let _ = url_passwords(&text);
            let _ = unescape(&text);
            let _ = percent_decode(&text);
            let _ = is_distinctive(&text);
            let _ = panic_message(&text.clone());
            let mut json = serde_json::json!({ "a": [text.clone()], "b": text.clone() });
            redact_json(&mut json);
        }
        for text in [
            "sslpassword='é",
            "password='…",
            "x password=\"é",
            "password='a\\é",
        ] {
            assert!(redact_credentials(text).ends_with(MASK), "{text}");
        }
    }

    #[test]
    fn panic_messages_are_masked() {
        register_secret("Zq9Secret-panic");
        for payload in [
            Box::new("static: password=hunter2 Zq9Secret-panic") as Box<dyn std::any::Any + Send>,
            Box::new(String::from(
                "formatted: postgres://u:pw@h/db Zq9Secret-panic",
            )),
        ] {
            let shown = panic_message(payload.as_ref());
            assert!(shown.contains(MASK), "{shown}");
            for leak in ["hunter2", ":pw@", "Zq9Secret-panic"] {
                assert!(!shown.contains(leak), "{shown}");
            }
        }
        assert_eq!(panic_message(&42_u8), "(no message)");
    }

    #[test]
    fn masks_url_passwords_with_reserved_characters() {
        let s = redact("cannot connect to postgres://app:p@ss:w/rd@db.internal:5432/prod now");
        assert!(!s.contains("p@ss"), "{s}");
        assert!(
            s.contains("postgres://app:***@db.internal:5432/prod"),
            "{s}"
        );
    }

    #[test]
    fn keeps_urls_without_password() {
        assert_eq!(redact("postgres://app@h/db"), "postgres://app@h/db");
        assert_eq!(redact("sqlite://backstop.db"), "sqlite://backstop.db");
    }

    #[test]
    fn masks_passwords_of_urls_with_a_mangled_scheme_separator() {
        // Regression: only a literal `://` was recognised.
        for (url, shown) in [
            (
                "postgres:/u:pw@127.0.0.1:5432/x",
                "postgres:/u:***@127.0.0.1:5432/x",
            ),
            ("postgres//u:pw@h/x", "postgres//u:***@h/x"),
            ("postgres:u:pw@h/x", "postgres:u:***@h/x"),
            ("postgres:///u:pw@h/x", "postgres:///u:***@h/x"),
            ("postgres:\\\\u:pw@h/x", "postgres:\\\\u:***@h/x"),
            ("POSTGRESQL:/:pw@h/x", "POSTGRESQL:/:***@h/x"),
            ("postgres://:pw@h/x", "postgres://:***@h/x"),
        ] {
            let text = format!("error: cannot connect to {url}: invalid connection string");
            let want = format!("error: cannot connect to {shown}: invalid connection string");
            assert_eq!(redact_credentials(&text), want);
        }
    }

    #[test]
    fn masks_url_passwords_with_unencoded_spaces() {
        // Regression: the part after the space was shown (`Secret@h/d`).
        assert_eq!(
            redact_credentials(r#"1 | database_url = "postgres://u:ab cd@h/d" x"#),
            r#"1 | database_url = "postgres://u:***@h/d" x"#
        );
        assert_eq!(
            redact_credentials("unexpected argument 'postgres://u:a b c@h/db' found"),
            "unexpected argument 'postgres://u:***@h/db' found"
        );
        // host:port, not a password: the rest of the line is left alone.
        let s = "cannot connect to postgres://h:5432/db: ask ops@example.com";
        assert_eq!(redact_credentials(s), s);
        let s = "postgres://h:5432 is down: ask the ops team or oncall@example.com";
        assert_eq!(redact_credentials(s), s);
    }

    #[test]
    fn masks_url_passwords_with_quotes_or_an_at_sign_and_a_space() {
        // Regression: a quote ended the URL, so a password holding one was shown whole, and
        // in `p@s w` only the part up to the first '@' was masked.
        for (text, shown) in [
            (
                "cannot connect to postgres://u:ab'cd@127.0.0.1:notaport/db: invalid",
                "cannot connect to postgres://u:***@127.0.0.1:notaport/db: invalid",
            ),
            (
                r#"cannot connect to postgres://u:a"b@127.0.0.1:5432/nodb: role "u" does not exist"#,
                r#"cannot connect to postgres://u:***@127.0.0.1:5432/nodb: role "u" does not exist"#,
            ),
            (
                "cannot connect to postgres://u:p@s w@127.0.0.1:5432/nodb: refused",
                "cannot connect to postgres://u:***@127.0.0.1:5432/nodb: refused",
            ),
            (
                "unexpected argument 'postgres://u:ab'cd@h/db' found",
                "unexpected argument 'postgres://u:***@h/db' found",
            ),
            (
                r#"url "postgres://u:a"b@h/db", then 'postgres://u:a"b c@h/db'."#,
                r#"url "postgres://u:***@h/db", then 'postgres://u:***@h/db'."#,
            ),
            ("postgres://u:p@s w x@h/db", "postgres://u:***@h/db"),
            ("`postgres://u:p'q@h` is", "`postgres://u:***@h` is"),
        ] {
            assert_eq!(redact_credentials(text), shown, "{text}");
        }
        // A closing quote ends the URL, and a host with a port or path ends the password.
        for s in [
            r#"{"url":"postgres://u@h/db","actor":"ann@example.com"}"#,
            "'postgres://u:pw@h' or 'ann@example.com'",
            "cannot connect to postgres://h:5432/db: ask ann@example.com",
            "postgres://u@h:5432/db is down: mail ops@example.com",
        ] {
            assert_eq!(redact_credentials(s), s.replace(":pw@", ":***@"), "{s}");
        }
    }

    #[test]
    fn a_quote_in_a_url_password_does_not_end_the_url() {
        // Regression: a quote followed by `,` or `;` was taken for one that closes the URL,
        // so `postgres://u:a`,b@h/db` was shown as it is.
        for (text, shown) in [
            (
                "database: postgres://postgres:a`,b@127.0.0.1/db",
                "database: postgres://postgres:***@127.0.0.1/db",
            ),
            ("postgres://u:a`;b@h/db", "postgres://u:***@h/db"),
            ("postgres://u:a',b@h/db", "postgres://u:***@h/db"),
            ("postgres://u:a\",b@h/db", "postgres://u:***@h/db"),
            ("postgres://u:a`.b@h/db", "postgres://u:***@h/db"),
            ("postgres://u:a`)b@h/db", "postgres://u:***@h/db"),
            ("postgres://u:a`,b`,c@h/db", "postgres://u:***@h/db"),
            ("postgres://:a`,b@h/db", "postgres://:***@h/db"),
            ("postgres://u:p@s`,x@h/db", "postgres://u:***@h/db"),
            // After an '@' and what reads as a host with a port, as without the quote.
            ("postgres://u:p@h:1',x@h/db", "postgres://u:***@h/db"),
            (
                "mysql://u:a`,b@tcp(h:3306)/db",
                "mysql://u:***@tcp(h:3306)/db",
            ),
            (
                "cannot connect to postgres://u:a`,b@h:5432/db: refused",
                "cannot connect to postgres://u:***@h:5432/db: refused",
            ),
            (
                "unexpected argument 'postgres://u:ab',cd@h/db' found",
                "unexpected argument 'postgres://u:***@h/db' found",
            ),
            (
                "`postgres://u:a`,b@h/db`, then `x`",
                "`postgres://u:***@h/db`, then `x`",
            ),
        ] {
            let once = redact_credentials(text);
            assert_eq!(once, shown, "{text}");
            assert_eq!(redact_credentials(&once), once, "{text}");
        }
        // A quote that closes a URL, or a string of JSON or SQL, still does.
        for s in [
            r#"{"checksum":"sha256:abc","actor":"ann@example.com"}"#,
            r#"["sha256:abc","ann@example.com"]"#,
            r#"["postgres://h:5432/db","ann@example.com"]"#,
            "VALUES ('x:y'),('ann@example.com')",
            "'postgres://h:5432/db', 'ann@example.com'",
            "`postgres://h:5432/db`, ann@example.com",
            r#"{"url":"postgres://u@h/db","actor":"ann@example.com"}"#,
        ] {
            assert_eq!(redact_credentials(s), s);
        }
        assert_eq!(
            redact_credentials(r#"{"url":"postgres://u:pw@h","actor":"ann@example.com"}"#),
            r#"{"url":"postgres://u:***@h","actor":"ann@example.com"}"#
        );
    }

    #[test]
    fn masks_the_password_of_a_mysql_dsn() {
        // `user:password@protocol(address)/dbname`: no scheme, so nothing looked like a URL.
        for (text, shown) in [
            (
                "u:pw@tcp(127.0.0.1:3306)/db",
                "u:***@tcp(127.0.0.1:3306)/db",
            ),
            (
                "cannot connect to app:p@ss@unix(/tmp/mysql.sock)/db?parseTime=true: refused",
                "cannot connect to app:***@unix(/tmp/mysql.sock)/db?parseTime=true: refused",
            ),
            ("dsn app:hunter2@/db", "dsn app:***@/db"),
            ("u:a`,b@tcp(h)/db", "u:***@tcp(h)/db"),
            // The password starts at the colon after the user name, whatever it holds.
            ("u:a:b@tcp(h)/db", "u:***@tcp(h)/db"),
            ("u:/ab@tcp(h)/db", "u:***@tcp(h)/db"),
            ("u:\\'!ab@tcp(h)/db", "u:***@tcp(h)/db"),
            // A URL's user name is no password.
            ("mysql://u@tcp(h)/db", "mysql://u@tcp(h)/db"),
        ] {
            let once = redact_credentials(text);
            assert_eq!(once, shown, "{text}");
            assert_eq!(redact_credentials(&once), once, "{text}");
        }
        for s in [
            "mailto:ann@example.com",
            "sqlite::memory: and mailto:ann@example.com",
            "by ann@example.com (tcp)",
        ] {
            assert_eq!(redact_credentials(s), s);
        }
    }

    #[test]
    fn long_lines_cost_one_pass() {
        // Statements and schema text can be megabytes on one line.
        for unit in [
            "a:b,",
            "a/b/",
            "x:y@z/",
            "password=x&",
            "u:p q@",
            "a:b`,",
            "a:b`,c@d`,",
            "u:p@s',",
            "u:p@h:1',",
            "a/u@h',",
            "x:y@tcp(",
            "PASSWORD $a",
            "PASSWORD FOR '",
            "IDENTIFIED WITH `",
            "IDENTIFIED BY 'a' REPLACE ",
        ] {
            // Some 2 MB at most: the time a pass takes grows with the text, not with the unit.
            let text = unit.repeat(200_000.min(2_000_000 / unit.len()));
            let started = std::time::Instant::now();
            let _ = redact_credentials(&text);
            assert!(
                started.elapsed().as_secs() < 2,
                "{unit}: {:?}",
                started.elapsed()
            );
        }
    }

    #[test]
    fn leaves_text_that_is_not_a_credential_alone() {
        for s in [
            "expected postgres://USER@HOST:PORT/DATABASE, with USER:PASSWORD for a password",
            "sha256:0123abcd applied_at 2026-11-24T01:30:00.123456Z by ann@example.com",
            "error: c.toml: TOML parse error at line 1, column 46",
            "sqlite::memory: and mailto:ann@example.com",
            "ALTER TABLE users ADD COLUMN password_hash text; -- passwords: none",
        ] {
            assert_eq!(redact_credentials(s), s);
        }
    }

    #[test]
    fn masks_key_value_passwords_with_escapes_and_quotes() {
        // Regression: an escaped or quoted space ended the value, showing the rest.
        for (text, shown) in [
            (
                r"host=x password=Zq9\ Secret user=y",
                "host=x password=*** user=y",
            ),
            (
                r#"host=x password="Zq9 Secret" user=y"#,
                r#"host=x password="***" user=y"#,
            ),
            (
                "host=x password='a b c' user=y",
                "host=x password='***' user=y",
            ),
            (
                r"host=x password='it\'s x' user=y",
                "host=x password='***' user=y",
            ),
            (
                "host=x password=hunter22 user=y",
                "host=x password=*** user=y",
            ),
            (r#"{"password": "x y"}"#, r#"{"password": "***"}"#),
            ("Config { password: Some(x) }", "Config { password: *** }"),
            (
                "postgres://u@h/db?password=pw&sslmode=disable",
                "postgres://u@h/db?password=***&sslmode=disable",
            ),
            // the colon ends the message's clause, not the password
            (
                "postgres://u@h/db?password=pw: connection refused",
                "postgres://u@h/db?password=***: connection refused",
            ),
        ] {
            assert_eq!(redact_credentials(text), shown, "{text}");
        }
    }

    #[test]
    fn no_part_of_a_password_value_is_shown_after_punctuation_or_a_quote() {
        // Regression: `,`, `"` and `}` ended an unquoted value, so `password=se,cret` was
        // shown as `password=***,cret`; `&` ended a connection string's too.
        for (text, shown) in [
            (
                "postgres://u@h/db?password=se,cret",
                "postgres://u@h/db?password=***",
            ),
            (
                "cannot connect to postgres://u@h/db?password=se,cret: refused",
                "cannot connect to postgres://u@h/db?password=***: refused",
            ),
            (
                "postgres://u@h/db?password=se,cret&sslmode=disable",
                "postgres://u@h/db?password=***&sslmode=disable",
            ),
            ("db?password=se}cret", "db?password=***"),
            ("db?password=se\"cret", "db?password=***"),
            ("db?password=se]cret x", "db?password=*** x"),
            ("db?password=se,,cret.", "db?password=***."),
            ("db?sslpassword=se,cret", "db?sslpassword=***"),
            ("db?p%61ssword=se,cret", "db?p%61ssword=***"),
            ("db?password%3Dse,cret", "db?password%3D***"),
            ("db?PASSWORD=se,cret", "db?PASSWORD=***"),
            (
                "host=h password=se,cret user=u",
                "host=h password=*** user=u",
            ),
            ("host=h password=a&b user=u", "host=h password=*** user=u"),
            (
                "host=h password=ab\"cd user=u",
                "host=h password=*** user=u",
            ),
            ("host=h password=ab}cd", "host=h password=***"),
            ("host=h sslpassword=a,b&c", "host=h sslpassword=***"),
            // What follows a closing quote is more of the value: a URL's query takes
            // quotes as they are.
            (
                "host=h password='a b'c user=u",
                "host=h password=*** user=u",
            ),
            ("db?password='a b'c&x=1", "db?password=***&x=1"),
            // `password:` parameters.
            ("password: se,cret", "password: ***"),
            ("password: se,cret, user: app", "password: ***, user: app"),
            ("password: [se;cret,:", "password: ***,:"),
            ("password:se\"cret was it", "password:*** was it"),
            // Inside backticks, a backtick followed by punctuation and more of the value.
            ("`password=se`,cret` x", "`password=***` x"),
            ("`password=se,cret` x", "`password=***` x"),
        ] {
            let once = redact_credentials(text);
            assert_eq!(once, shown, "{text}");
            assert_eq!(redact_credentials(&once), once, "{text}");
        }
        // What ends a sentence, or closes the quotes or brackets around a parameter, right
        // before whitespace or the end of the text, is the text's, and is kept.
        for (text, shown) in [
            (
                "postgres://u@h/db?password=pw: connection refused",
                "postgres://u@h/db?password=***: connection refused",
            ),
            ("'password=pw' found", "'password=***' found"),
            ("\"password=pw\", then", "\"password=***\", then"),
            ("(password=pw).", "(password=***)."),
            ("use password=pw, or not", "use password=***, or not"),
            ("password: hunter2.", "password: ***."),
            ("password: hunter2; user: app", "password: ***; user: app"),
            ("`password=pw`, then `x`", "`password=***`, then `x`"),
            ("see (`password=pw`).", "see (`password=***`)."),
            // JSON's literals end at a comma or bracket.
            (
                r#"{"password":null,"user":"u"}"#,
                r#"{"password":***,"user":"u"}"#,
            ),
            (r#"['password', 1]"#, r#"['password', 1]"#),
        ] {
            let once = redact_credentials(text);
            assert_eq!(once, shown, "{text}");
            assert_eq!(redact_credentials(&once), once, "{text}");
        }
        // An escaped punctuation character is the value's.
        assert_eq!(redact_credentials(r"password=pw\. x"), "password=*** x");
        assert_eq!(
            redact_credentials("Password: wrong. Try again"),
            "Password: wrong. Try again"
        );
    }

    #[test]
    fn masks_password_parameters_with_a_percent_encoded_key_or_equals_sign() {
        // Regression: `?password%3Dsecret` (a mistyped query string) was shown as it is.
        for (text, shown) in [
            (
                "cannot connect to postgres://u@127.0.0.1/db?password%3DssWord9xQ: invalid PostgreSQL URL",
                "cannot connect to postgres://u@127.0.0.1/db?password%3D***: invalid PostgreSQL URL",
            ),
            ("db?password%3dssWord9xQ", "db?password%3d***"),
            ("db?PASSWORD%3DssWord9xQ x", "db?PASSWORD%3D*** x"),
            (
                "db?p%61ssword=ssWord9xQ&sslmode=disable",
                "db?p%61ssword=***&sslmode=disable",
            ),
            ("db?%70ASSWORD%3DssWord9xQ", "db?%70ASSWORD%3D***"),
            (
                "db?%70%61%73%73%77%6f%72%64%3DssWord9xQ",
                "db?%70%61%73%73%77%6f%72%64%3D***",
            ),
            // Encoded twice.
            ("db?password%253DssWord9xQ", "db?password%253D***"),
            ("db?p%2561ssword%253dssWord9xQ", "db?p%2561ssword%253d***"),
            // The whole query encoded: the value runs on, which shows less, not more.
            (
                "db?sslmode%3Drequire%26password%3DssWord9xQ%26x%3D1 refused",
                "db?sslmode%3Drequire%26password%3D*** refused",
            ),
            ("sslpassword%3D'a b' x", "sslpassword%3D'***' x"),
        ] {
            let once = redact_credentials(text);
            assert_eq!(once, shown, "{text}");
            assert_eq!(redact_credentials(&once), once, "{text}");
        }
        // The word without a value, or with something other than `=` after it.
        for s in [
            "reset your password%20here",
            "password%3D",
            "password%3",
            "password%",
            "p%61ssword reset",
            "passw%6Frd%3A",
            "%password",
            "password%3G x",
            "pa%73%73word%2Dhash",
        ] {
            assert_eq!(redact_credentials(s), s);
        }
        // The value is learnt from such a URL, and masked wherever a driver repeats it
        // (percent-decoded too).
        register_url_password("postgres://u@h/db?password%3DZq9Secret10");
        register_url_password("postgres://u@h/db?p%61ssword=Zq9%40Secret11");
        assert_eq!(
            redact("server said: Zq9Secret10 and Zq9@Secret11 are wrong"),
            "server said: *** and *** are wrong"
        );
    }

    #[test]
    fn a_masked_value_keeps_the_backtick_that_closes_it() {
        // Regression: `` `postgres://u@h/db?password=secret` `` lost its closing backtick.
        for (text, shown) in [
            (
                "`postgres://u@h/db?password=secret`",
                "`postgres://u@h/db?password=***`",
            ),
            (
                "cannot connect to `postgres://u@h/db?password=secret`: refused",
                "cannot connect to `postgres://u@h/db?password=***`: refused",
            ),
            (
                "--database-url `postgres://u@h/db?password=secret` is not valid. Check it.",
                "--database-url `postgres://u@h/db?password=***` is not valid. Check it.",
            ),
            (
                "`postgres://u:pw@h/db?sslmode=disable&password=secret`, then `x`",
                "`postgres://u:***@h/db?sslmode=disable&password=***`, then `x`",
            ),
            ("use `password=hunter2` here", "use `password=***` here"),
            ("`password: hunter2`", "`password: ***`"),
            ("`host=h password=hunter2`.", "`host=h password=***`."),
            (
                "`password=a` and `password=b`",
                "`password=***` and `password=***`",
            ),
            // A backtick that doesn't close the quoted text may be part of the password.
            ("`password=ab`cd` x", "`password=***` x"),
            // With no backtick open before it, a backtick is part of the password.
            ("password=ab` x", "password=*** x"),
            ("`a` password=ab` x", "`a` password=*** x"),
            // Backticks on an earlier line don't open this one.
            ("`\npassword=ab` x", "`\npassword=*** x"),
        ] {
            let once = redact_credentials(text);
            assert_eq!(once, shown, "{text}");
            assert_eq!(redact_credentials(&once), once, "{text}");
        }
    }

    #[test]
    fn password_in_prose_is_left_alone() {
        // Regression: `password: old one…` lost its first word, and an unterminated quoted
        // value in a message hid the whole rest of the message.
        for s in [
            "password: old one was revoked",
            "rotated the password: see the ticket",
            "Password: wrong, try again",
            "-- passwords: none",
        ] {
            assert_eq!(redact_credentials(s), s);
        }
        for (text, shown) in [
            (
                "--lock-wait `password='x` is not a duration (e.g. 60s, 500ms)",
                "--lock-wait `password='***` is not a duration (e.g. 60s, 500ms)",
            ),
            (
                "invalid value 'password='a b' for '--x'",
                "invalid value 'password='***' for '--x'",
            ),
            // Cut short, with nothing to close it: masked to the end.
            (
                "SELECT password = '$2b$12$R9h/cIPz …",
                "SELECT password = '***",
            ),
            // Parameters, still masked.
            ("password: hunter2", "password: ***"),
            ("password: hunter2\nuser: app", "password: ***\nuser: app"),
            ("password: hunter2, user: app", "password: ***, user: app"),
            (
                "password: hunter2 sslmode=disable",
                "password: *** sslmode=disable",
            ),
            ("password:hunter2 was it", "password:*** was it"),
            ("password: 'old one' was it", "password: '***' was it"),
            (
                "\"password\": null, \"user\": \"u\"",
                "\"password\": ***, \"user\": \"u\"",
            ),
            (
                r#"Config { password: Some("a b"), user: Some("u") }"#,
                r#"Config { password: ***, user: Some("u") }"#,
            ),
            (
                "Config { password: Some([104, 117]) }",
                "Config { password: *** }",
            ),
        ] {
            assert_eq!(redact_credentials(text), shown, "{text}");
        }
    }

    #[test]
    fn masking_twice_changes_nothing() {
        // Regression: `password=***: …` lost its colon when masked again.
        for s in [
            "host=x password='a b' user=y: unknown database URL scheme",
            "host=x password=abc: unknown database URL scheme",
            r#"password="a b": x"#,
            "postgres://u:p@ss w@h/db: refused",
            "postgres:/u:pw@h/db?password=x",
        ] {
            let once = redact_credentials(s);
            assert_eq!(redact_credentials(&once), once, "{s}");
            assert!(once.contains(MASK), "{once}");
        }
    }

    #[test]
    fn masking_twice_changes_nothing_for_generated_text() {
        // Regression: `svc:pa ss@db.internal@corp` was masked to `svc:***@db.internal@corp`,
        // which masked again to `svc:***@corp`, so an exported event no longer matched the
        // hash of the event as stored.
        let once = redact_credentials("old DSN postgres://svc:pa ss@db.internal@corp was revoked");
        assert_eq!(once, "old DSN postgres://svc:***@corp was revoked");
        let registered = test_registered();
        for text in generated(2) {
            let once = redact_credentials(&text);
            assert_eq!(redact_credentials(&once), once, "{text:?}");
            let once = redact_with(&text, &registered);
            assert_eq!(redact_with(&once, &registered), once, "{text:?}");
        }
    }

    #[test]
    fn masks_passwords_of_malformed_urls_once_registered() {
        for (url, pw) in [
            ("mysql://app:s3cr'etpw1@db/prod", "s3cr'etpw1"),
            ("postgres://app:s3cr etpw2@h:notaport/db", "s3cr etpw2"),
            ("postgres://app:s3cr\"etpw3@h/db", "s3cr\"etpw3"),
            ("postgres:/app:Zq9Secret4@h/db", "Zq9Secret4"),
            ("postgres//app:Zq9Secret5@h/db", "Zq9Secret5"),
            ("app:Zq9Secret6@h/db", "Zq9Secret6"),
            (r"host=h password=Zq9\ Secret7", "Zq9 Secret7"),
            (r"host=h password=Zq9\ Secret7", r"Zq9\ Secret7"),
            (r#"host=h password="Zq9 Secret8""#, "Zq9 Secret8"),
            ("host=h password='Zq9 Secret9'", "Zq9 Secret9"),
        ] {
            register_url_password(url);
            let shown = redact(&format!("the server said: {pw} is wrong"));
            assert_eq!(shown, "the server said: *** is wrong", "{url}");
        }
        assert_eq!(
            redact("host=h password='Zq9 Secret9': unknown"),
            "host=h password='***': unknown"
        );
        register_url_password("postgres://u:p%40ssw0rd9@h/db");
        assert!(!redact("password p@ssw0rd9 rejected").contains("p@ssw0rd9"));
        register_url_password("postgres://u:%é%4@h/db"); // no panic on odd escapes
    }

    #[test]
    fn passwords_of_the_users_url_are_masked_to_their_full_length_where_they_stand() {
        // Regression: `?password=s`e c`ret` was shown as `password=*** c`ret`: the value's
        // shape ends at the space, and only the part before it was registered.
        let url = "postgres://postgres@127.0.0.1/db?password=s`e c`ret";
        register_url_password(url);
        assert_eq!(
            redact(&format!("database: {url}")),
            "database: postgres://postgres@127.0.0.1/db?password=***"
        );
        // Distinctive: masked wherever a driver repeats it.
        assert_eq!(redact("server said: s`e c`ret"), "server said: ***");

        // Short or common ones: masked to their full length, but only where they stand as a
        // password, as the shape alone would end them too early.
        for url in [
            "postgres://u@h/db?password=q1 z&sslmode=disable",
            "host=h password=qz.",
            "postgres://u:k` w@h/db",
            "postgres://u:j`,`v@h/db",
            "app:g y@tcp(h:3306)/db",
        ] {
            register_url_password(url);
        }
        for (text, shown) in [
            (
                "cannot connect to postgres://u@h/db?password=q1 z&sslmode=disable: refused",
                "cannot connect to postgres://u@h/db?password=***&sslmode=disable: refused",
            ),
            (
                "cannot connect to postgres://u@h/db?password=q1 z: refused",
                "cannot connect to postgres://u@h/db?password=***: refused",
            ),
            ("host=h password=qz. user=u", "host=h password=*** user=u"),
            (
                "postgres://u:k` w@h/db is down",
                "postgres://u:***@h/db is down",
            ),
            ("postgres://u:j`,`v@h/db", "postgres://u:***@h/db"),
            ("app:g y@tcp(h:3306)/db", "app:***@tcp(h:3306)/db"),
        ] {
            let once = redact(text);
            assert_eq!(once, shown, "{text}");
            assert_eq!(redact(&once), once, "{text}");
        }
        for s in ["q1 z qz. k` w j`,`v g y", "x:qz.y@h"] {
            assert_eq!(redact(s), s);
        }
        // Not when more of the value follows.
        assert_eq!(redact("password=q1 zx"), "password=*** zx");
        // A URL's query takes quotes as they are: the value runs on past them.
        register_url_password("postgres://u@h/db?password=\"\" q7");
        assert_eq!(
            redact("postgres://u@h/db?password=\"\" q7: refused"),
            "postgres://u@h/db?password=***: refused"
        );
        // Text that is already masked stays as it is.
        assert_eq!(redact("password=*** z"), "password=*** z");
    }

    #[test]
    fn short_or_common_passwords_are_masked_by_shape_only() {
        // Regression: `postgres` as a password turned `postgres://` into `***://`.
        for pw in [
            "postgres", "public", "applied", "2026", "abc", "hunter", "20261124",
        ] {
            assert!(!is_distinctive(pw), "{pw}");
            register_url_password(&format!("postgres://postgres:{pw}@h/db"));
        }
        let s = "postgres://postgres:postgres@h/db: table public.a applied 2026-11-24";
        assert_eq!(
            redact(s),
            "postgres://postgres:***@h/db: table public.a applied 2026-11-24"
        );
        for pw in [
            "hunter22",
            "S3cretPw",
            "Zq9 Secret",
            "correcthorsebatterystaple",
        ] {
            assert!(is_distinctive(pw), "{pw}");
        }
    }

    #[test]
    fn short_passwords_of_the_users_url_are_masked_only_in_a_url() {
        // Regression: every registered password was masked as any `:pw@`, so a release id
        // `shop:prod@2026-11-25` was shown and stored as `shop:***@2026-11-25`, an SQL
        // literal `'bob:a@example.com'` as `'bob:***@example.com'`, and the path of
        // `sqlite:sq/a@b/app.db` as `sqlite:***@b/app.db`.
        let mut registered = Registered::default();
        for url in [
            "postgres://postgres:prod@127.0.0.1:5432/db",
            "postgres://u:a@h/db",
            "sqlite:sq/a@b/app.db",
        ] {
            for form in url_passwords(url) {
                assert!(!is_distinctive(&form), "{form}");
                remember(&mut registered.passwords, &form);
            }
        }
        assert!(url_passwords("sqlite:sq/a@b/app.db").is_empty());
        assert!(url_passwords("SQLite:sq/Zq9Secret@b/app.db").is_empty());
        for text in [
            "applied release shop:prod@2026-11-25",
            "INSERT INTO t VALUES ('bob:a@example.com')",
            "database: sqlite:sq/a@b/app.db",
            "x:prod@h y:a@h",
        ] {
            assert_eq!(redact_with(text, &registered), text);
        }
        // In a URL, still masked whatever their length, also with an empty user name.
        for (text, shown) in [
            (
                "cannot connect to postgres://postgres:prod@127.0.0.1:5432/db",
                "cannot connect to postgres://postgres:***@127.0.0.1:5432/db",
            ),
            ("postgres://u:a@h/db", "postgres://u:***@h/db"),
            ("postgres://:a@h/db", "postgres://:***@h/db"),
        ] {
            assert_eq!(redact_with(text, &registered), shown, "{text}");
        }

        // Through the registry, as the CLI registers the URL it was given.
        register_url_password("postgres://postgres:prod@127.0.0.1:5432/db");
        register_url_password("sqlite:sq/a@b/app.db");
        assert_eq!(
            redact("release shop:prod@2026-11-25 applied"),
            "release shop:prod@2026-11-25 applied"
        );
        assert_eq!(
            redact("database: sqlite:sq/a@b/app.db"),
            "database: sqlite:sq/a@b/app.db"
        );
        // The URL as given is masked whole where it stands, whatever its shape.
        register_url_password("app:m y@tcp(h:3306)/db");
        assert_eq!(
            redact("cannot connect to app:m y@tcp(h:3306)/db"),
            "cannot connect to app:***@tcp(h:3306)/db"
        );
        assert_eq!(
            redact("e-mail ann:m y@example.com"),
            "e-mail ann:m y@example.com"
        );
    }

    #[test]
    fn a_query_password_with_an_at_sign_is_masked_whole() {
        // Regression: the userinfo ran to the `@` inside the value, so
        // `…@127.0.0.1:5432/db?password=Sup3r@Secret` was shown as
        // `…@127.0.0.1:***@Secret`, the `password=` key masked and the value's end shown.
        for pw in ["Sup3r@Secret", "p@ssw0rd!", "a@b", "x@y@z"] {
            let url = format!("postgres://postgres@127.0.0.1:5432/db?password={pw}");
            let shown = "postgres://postgres@127.0.0.1:5432/db?password=***";
            assert_eq!(redact_credentials(&url), shown, "{url}");
            assert_eq!(
                redact_credentials(&format!("cannot connect to {url}: refused")),
                format!("cannot connect to {shown}: refused")
            );
            let forms = url_passwords(&url);
            assert!(forms.iter().all(|f| pw.contains(f.as_str())), "{forms:?}");
            let mut registered = Registered::default();
            for form in &forms {
                remember(&mut registered.passwords, form);
            }
            assert_eq!(
                redact_with(&format!("database: {url}"), &registered),
                format!("database: {shown}")
            );
        }
        assert_eq!(
            redact_credentials("postgres://u:pw@h/db?sslmode=require&p%61ssword%3DS@cret&x=1"),
            "postgres://u:***@h/db?sslmode=require&p%61ssword%3D***&x=1"
        );
        // Still to the last `@` before the query: a password may hold one.
        assert_eq!(
            redact_credentials("postgres://u:p@ss@h/db?password=x@y"),
            "postgres://u:***@h/db?password=***"
        );
    }

    /// `text` as [`redact`] shows it once the passwords of `url` are registered, as the CLI
    /// registers the URL it is given (without touching the process-wide list).
    fn shown_with(url: &str, text: &str) -> String {
        let mut registered = Registered::default();
        for form in url_passwords(url) {
            if is_distinctive(&form) {
                remember(&mut registered.secrets, &form);
            }
            if !form.trim().is_empty() {
                remember(&mut registered.passwords, &form);
            }
        }
        redact_with(text, &registered)
    }

    #[test]
    fn a_url_password_holding_a_password_parameter_is_masked_whole() {
        // Regression: in `postgres://u:Kq7?password=Jy8@127.0.0.1:1/db` the `?` was taken
        // for the query's, so the userinfo ended before it and `Kq7` was shown, by shape and
        // once registered (nothing of the userinfo was registered).
        for (url, shown) in [
            (
                "postgres://u:Kq7?password=Jy8@127.0.0.1:1/db",
                "postgres://u:***@127.0.0.1:1/db",
            ),
            (
                "postgres://u:Kq7&password=Jy8@127.0.0.1:1/db",
                "postgres://u:***@127.0.0.1:1/db",
            ),
            (
                "postgres://u:Kq7 password=Jy8@127.0.0.1:1/db",
                "postgres://u:***@127.0.0.1:1/db",
            ),
            (
                "postgres://:Kq7&password=Jy8@127.0.0.1:1/db",
                "postgres://:***@127.0.0.1:1/db",
            ),
            (
                "postgres://u:Kq7?password=Jy8@127.0.0.1:1/db?sslmode=disable",
                "postgres://u:***@127.0.0.1:1/db?sslmode=disable",
            ),
            ("u:Kq7?password=Jy8@tcp(h:3306)/db", "u:***@tcp(h:3306)/db"),
        ] {
            let text = format!("cannot connect to {url}: refused");
            let want = format!("cannot connect to {shown}: refused");
            let once = redact_credentials(&text);
            assert_eq!(once, want, "{url}");
            assert_eq!(redact_credentials(&once), once, "{url}");
            assert_eq!(shown_with(url, &text), want, "{url}");
            assert!(
                url_passwords(url).iter().any(|f| f.contains("Kq7")),
                "{url}: {:?}",
                url_passwords(url)
            );
        }
        // After a port or a path, the `?` is the query's, and its value may hold an `@`.
        for (url, shown) in [
            (
                "postgres://h:5432?password=a@b",
                "postgres://h:5432?password=***",
            ),
            (
                "postgres://h:5432/db?password=a@b",
                "postgres://h:5432/db?password=***",
            ),
            (
                "postgres://h/db?password=a@b",
                "postgres://h/db?password=***",
            ),
        ] {
            assert_eq!(redact_credentials(url), shown, "{url}");
            assert_eq!(shown_with(url, url), shown, "{url}");
        }
    }

    #[test]
    fn a_dsn_password_with_a_space_and_a_colon_is_masked_whole() {
        // Regression: `u:ab c:d@tcp(h:3306)/db` was shown as `u:ab c:***@…`: the space ended
        // the password's shape and `c` was taken for the user name, and the password
        // registered from the DSN was `d`.
        for (dsn, shown) in [
            (
                "u:ab c:d@tcp(127.0.0.1:3306)/db",
                "u:***@tcp(127.0.0.1:3306)/db",
            ),
            (
                "app:Kq7 Zx3:Wv5@tcp(127.0.0.1:3306)/db",
                "app:***@tcp(127.0.0.1:3306)/db",
            ),
            ("app:Kq7 Zx3:Wv5@/db", "app:***@/db"),
            (
                "app:Kq7 password=Wv5@unix(/tmp/mysql.sock)/db",
                "app:***@unix(/tmp/mysql.sock)/db",
            ),
        ] {
            for (text, want) in [
                (dsn.to_string(), shown.to_string()),
                (
                    format!("cannot connect to {dsn}: refused"),
                    format!("cannot connect to {shown}: refused"),
                ),
            ] {
                let once = redact_credentials(&text);
                assert_eq!(once, want, "{text}");
                assert_eq!(redact_credentials(&once), once, "{text}");
                assert_eq!(shown_with(dsn, &text), want, "{text}");
            }
        }
        assert!(url_passwords("u:ab c:d@tcp(127.0.0.1:3306)/db")
            .iter()
            .any(|f| f == "ab c:d"));
        // Not a DSN: prose and e-mail addresses stay as they are.
        for s in [
            "note:abc def ann@example.com",
            "at 10:30 ann:x@example.com",
            "error: c d:e@example.com",
        ] {
            assert_eq!(redact_credentials(s), s);
        }
    }

    #[test]
    fn an_at_sign_in_the_query_after_a_host_and_port_is_no_password() {
        // Regression: `postgres://u@127.0.0.1:5432/db?application_name=a@b` was shown as
        // `postgres://u@127.0.0.1:***@b`: the userinfo ran to the query's `@`, and the port
        // was taken for the start of a password (and registered as one).
        for url in [
            "postgres://u@127.0.0.1:5432/db?application_name=a@b",
            "postgres://u@db.internal:5432/app?application_name=ops@backstop&x=1",
            "postgres://u@[::1]:5432/db?options=a@b",
            "postgres://u@h:5432?application_name=a@b",
            "postgres://u@h/db?application_name=a@b",
        ] {
            let text = format!("cannot connect to {url}: refused");
            assert_eq!(redact_credentials(&text), text);
            assert!(url_passwords(url).is_empty(), "{url}");
            assert_eq!(shown_with(url, &text), text);
        }
        // Passwords are still masked: in a URL inside the query, and after a user name
        // that holds an `@`.
        for (text, shown) in [
            (
                "postgres://u@h:5432/db?target=postgres://v:pw@h2/x",
                "postgres://u@h:5432/db?target=postgres://v:***@h2/x",
            ),
            (
                "postgres://user@server:pw@h:5432/db",
                "postgres://user@server:***@h:5432/db",
            ),
            (
                "postgres://u@h:5432/db?application_name=a@b&password=pw",
                "postgres://u@h:5432/db?application_name=a@b&password=***",
            ),
        ] {
            assert_eq!(redact_credentials(text), shown, "{text}");
        }
    }

    #[test]
    fn sqlite_paths_are_shown_as_given() {
        // Regression: `sqlite://sq/team@corp:x1@y/app.db` was shown as
        // `sqlite://sq/team@corp:***@y/app.db`, and the file it names as
        // `/srv/sq/team@corp:***@y/app.db`: a SQLite URL holds a path, no password, and a
        // folder of a path is no URL's scheme.
        for s in [
            "database: sqlite://sq/team@corp:x1@y/app.db",
            "SQLite3:sq/a:b@c/app.db is locked",
            "note: /srv/sq/team@corp:x1@y/app.db does not exist yet",
            "sqlite:///srv/a:b@c/d.db: no such SQLite database: /srv/a:b@c/d.db does not exist",
        ] {
            assert_eq!(redact_credentials(s), s);
            assert_eq!(shown_with("sqlite://sq/team@corp:x1@y/app.db", s), s);
        }
        // Other URLs, also after a SQLite one or a path, are masked as before.
        for (text, shown) in [
            (
                "sqlite://a.db and postgres://u:pw@h/db",
                "sqlite://a.db and postgres://u:***@h/db",
            ),
            ("/srv/x postgres//u:pw@h/x", "/srv/x postgres//u:***@h/x"),
            (
                "see /srv/postgres://u:pw@h/x",
                "see /srv/postgres://u:***@h/x",
            ),
        ] {
            assert_eq!(redact_credentials(text), shown, "{text}");
        }
    }

    #[test]
    fn password_literals_of_sql_are_masked() {
        // Regression: `CREATE ROLE app LOGIN PASSWORD 'S3cretRolePw!'` was shown and stored
        // as written, in statement excerpts, plans and the ledger.
        for (sql, shown) in [
            (
                "CREATE ROLE app LOGIN PASSWORD 'S3cretRolePw!'",
                "CREATE ROLE app LOGIN PASSWORD '***'",
            ),
            (
                "alter role app encrypted password 'S3cret' valid until '2027-01-01'",
                "alter role app encrypted password '***' valid until '2027-01-01'",
            ),
            (
                "CREATE USER app WITH\n  PASSWORD\n  'S3cret';",
                "CREATE USER app WITH\n  PASSWORD\n  '***';",
            ),
            (
                r"ALTER ROLE app PASSWORD E'S3\'cret' LOGIN",
                "ALTER ROLE app PASSWORD E'***' LOGIN",
            ),
            (
                "ALTER ROLE app PASSWORD 'it''s x' LOGIN",
                "ALTER ROLE app PASSWORD '***' LOGIN",
            ),
            (
                "ALTER ROLE app PASSWORD $pw$S3'cret$pw$ LOGIN",
                "ALTER ROLE app PASSWORD $pw$***$pw$ LOGIN",
            ),
            (
                "OPTIONS (user 'u', password 'S3cret')",
                "OPTIONS (user 'u', password '***')",
            ),
            (
                "CREATE USER 'app'@'%' IDENTIFIED BY 'S3cret';",
                "CREATE USER 'app'@'%' IDENTIFIED BY '***';",
            ),
            (
                "CREATE USER app IDENTIFIED WITH caching_sha2_password BY \"S3cret\"",
                "CREATE USER app IDENTIFIED WITH caching_sha2_password BY \"***\"",
            ),
            (
                "ALTER USER app IDENTIFIED BY 'new one' REPLACE 'old one'",
                "ALTER USER app IDENTIFIED BY '***' REPLACE '***'",
            ),
            (
                "CREATE USER app IDENTIFIED VIA ed25519 USING PASSWORD('S3cret')",
                "CREATE USER app IDENTIFIED VIA ed25519 USING PASSWORD('***')",
            ),
            (
                "CREATE USER app IDENTIFIED BY PASSWORD '*94BDCEBE19083CE2'",
                "CREATE USER app IDENTIFIED BY PASSWORD '***'",
            ),
            (
                "SET PASSWORD FOR 'app'@'%' = 'S3cret';",
                "SET PASSWORD FOR 'app'@'%' = '***';",
            ),
            // A statement excerpt cut inside the literal: masked to the end.
            (
                "CREATE ROLE app LOGIN PASSWORD 'S3cretRo …",
                "CREATE ROLE app LOGIN PASSWORD '***",
            ),
        ] {
            let once = redact_credentials(sql);
            assert_eq!(once, shown, "{sql}");
            assert_eq!(redact_credentials(&once), once, "{sql}");
            assert_eq!(redact_with(sql, &Registered::default()), shown, "{sql}");
        }
        // Columns, comments and other strings are no password literals.
        for sql in [
            "ALTER TABLE users ADD COLUMN password text DEFAULT 'x'",
            "ALTER TABLE users ADD COLUMN old_password text DEFAULT 'x'",
            "COMMENT ON COLUMN users.password IS 'bcrypt hash'",
            "INSERT INTO users (name, password) VALUES ('a', 'b')",
            "ALTER ROLE app PASSWORD NULL",
            "CREATE USER app IDENTIFIED BY RANDOM PASSWORD",
            "CREATE USER app IDENTIFIED WITH mysql_native_password_x",
            "ALTER ROLE app PASSWORD ''",
        ] {
            assert_eq!(redact_credentials(sql), sql);
        }
        // Registered from a script, a distinctive one is masked where a database repeats it
        // alone.
        register_sql_passwords("CREATE ROLE app LOGIN PASSWORD 'Zq9RolePw''s!';");
        assert_eq!(
            redact("near \"'Zq9RolePw's!'\": syntax error"),
            "near \"'***'\": syntax error"
        );
    }

    #[test]
    fn a_span_of_a_masked_line_covers_the_same_characters() {
        // Regression: a caret under a line of SQL printed masked was placed by the columns
        // of the line as written, so it pointed characters too far to the right.
        let chars = |line: &str, needle: &str| {
            let at = line
                .find(needle)
                .unwrap_or_else(|| panic!("{needle} in {line}"));
            let start = line[..at].chars().count();
            start..start + needle.chars().count()
        };
        let covered = |masked: &str, span: std::ops::Range<usize>| -> String {
            masked.chars().skip(span.start).take(span.len()).collect()
        };
        for (line, masked, marked, shown) in [
            (
                "SELECT 1 FROM t WHERE password=hunter2 AND x = ;",
                "SELECT 1 FROM t WHERE password=*** AND x = ;",
                ";",
                ";",
            ),
            (
                "SELECT 1 FROM t WHERE password=hunter2 AND x = ;",
                "SELECT 1 FROM t WHERE password=*** AND x = ;",
                "hunter2",
                "***",
            ),
            (
                "SELECT 1 FROM t WHERE password=hunter2 AND x = ;",
                "SELECT 1 FROM t WHERE password=*** AND x = ;",
                "password=hunter2 AND",
                "password=*** AND",
            ),
            (
                "SELECT 1 FROM t WHERE password=hunter2 AND x = ;",
                "SELECT 1 FROM t WHERE password=*** AND x = ;",
                "nter2 A",
                "*** A",
            ),
            (
                "ALTER ROLE é PASSWORD 'S3cret' VALID UNTIL 'x'; CREATE TABLE u (id int);",
                "ALTER ROLE é PASSWORD '***' VALID UNTIL 'x'; CREATE TABLE u (id int);",
                "CREATE TABLE u (id int)",
                "CREATE TABLE u (id int)",
            ),
            (
                "SELECT 'postgres://u:pw@h/db', x FROM t WHERE",
                "SELECT 'postgres://u:***@h/db', x FROM t WHERE",
                "x FROM",
                "x FROM",
            ),
            // A password whose end only shows further on: the mask that replaced it.
            (
                "SELECT 'postgres://u:pw@h/db', x FROM t WHERE",
                "SELECT 'postgres://u:***@h/db', x FROM t WHERE",
                "w",
                "***",
            ),
            (
                "SELECT 1 FROM t WHERE a = ;",
                "SELECT 1 FROM t WHERE a = ;",
                "a = ",
                "a = ",
            ),
        ] {
            let (shown_line, span) = redact_span(line, chars(line, marked));
            assert_eq!(shown_line, masked, "{line}");
            assert_eq!(covered(&shown_line, span), shown, "{line}: {marked}");
        }
        // Past the end, or empty: at the end, or where it was.
        let line = "password=hunter2 x";
        let (shown_line, span) = redact_span(line, 40..41);
        assert_eq!((shown_line.as_str(), span), ("password=*** x", 14..14));
        let (_, span) = redact_span(line, 17..17);
        assert_eq!(span, 13..13);
    }

    #[test]
    fn masks_the_whole_password_after_an_empty_user_name() {
        // Regression: with no user name, a password with a space was shown whole and one
        // with a `:` was shown up to it.
        for pw in ["Qz1 Wv2", "Qz1:Wv2", "Qz1", "Qz1:Wv2:Jy8"] {
            let url = format!("postgres://:{pw}@127.0.0.1:1/d");
            let shown = "postgres://:***@127.0.0.1:1/d";
            assert_eq!(redact_credentials(&url), shown, "{url}");
            assert_eq!(
                redact_credentials(&format!("cannot connect to {url}: refused")),
                format!("cannot connect to {shown}: refused")
            );
            assert!(url_passwords(&url).iter().any(|f| f == pw), "{url}");
            let mut registered = Registered::default();
            for form in url_passwords(&url) {
                remember(&mut registered.passwords, &form);
            }
            let text = format!("database: {url} is down");
            assert_eq!(
                redact_with(&text, &registered),
                format!("database: {shown} is down")
            );
        }
    }

    #[test]
    fn masks_registered_secrets_in_json_values() {
        register_secret("s3cr3t-Value");
        assert_eq!(redact("error near s3cr3t-Value!"), "error near ***!");
        let mut v = serde_json::json!({"statement": "SELECT 's3cr3t-Value'", "n": 1,
            "list": ["password=\"x\""]});
        redact_json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"statement": "SELECT '***'", "n": 1, "list": ["password=\"***\""]})
        );
    }
}
