//! The one way identifiers are put into SQL text. Values are always bound as parameters.

/// Quote an identifier the way PostgreSQL's `quote_ident` does when in doubt: always, with
/// embedded double quotes doubled. Always quoting is correct for any name and keeps the
/// function trivially auditable.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `"schema"."name"`.
pub fn quote_qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_doubles() {
        assert_eq!(quote_ident("users"), "\"users\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(quote_qualified("app", "T"), "\"app\".\"T\"");
    }
}
