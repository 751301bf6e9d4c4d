//! What a PostgreSQL statement does to run-time settings: `SET`, `RESET`, `DISCARD ALL`
//! and calls of `set_config`, also inside DO blocks (their PL/pgSQL is read with
//! libpg_query's own PL/pgSQL parser), for rules that follow a setting through a script.
//!
//! What can't be known before the statement runs is marked so rather than guessed: a
//! command an `EXECUTE` builds at run time, a value or name computed by an expression, a
//! change under a condition. The rules choose how to read those.

use crate::ir::{Setting, SettingChange, SettingValue};
use crate::lex::{self, Kind};
use backstop_core::driver::Engine;
use pg_query::protobuf as pb;
use pg_query::{NodeEnum as N, NodeRef};
use serde_json::Value;

const BRANCH: &str = "inside an IF, CASE or loop of the DO block";
const CATCHES: &str = "inside a block that catches errors, which undoes it when it catches one";
const HANDLER: &str = "in an exception handler of the DO block";
const PER_ROW: &str = "once per row of its query, which may return none";

/// DO blocks that run DO blocks (through `EXECUTE`) are followed this deep.
const MAX_DEPTH: u8 = 4;

/// Where the statement being read runs.
#[derive(Clone, Copy)]
struct At<'a> {
    in_do: bool,
    condition: Option<&'static str>,
    depth: u8,
    /// How the user wrote the command, when it is run by an `EXECUTE` of a string.
    how: Option<&'a str>,
}

/// The setting changes of one statement, in order. `text` is what the node's locations
/// refer to; `stmt` the statement's own text.
pub(crate) fn changes(node: &N, text: &str, stmt: &str) -> Vec<SettingChange> {
    let mut out = Vec::new();
    let at = At {
        in_do: false,
        condition: None,
        depth: 0,
        how: None,
    };
    stmt_changes(node, text, stmt, at, &mut out);
    out
}

/// A `SET` statement's value as written: constants joined with `, `.
pub(crate) fn set_value(v: &pb::VariableSetStmt) -> String {
    v.args
        .iter()
        .filter_map(|a| match a.node.as_ref()? {
            N::AConst(c) => match &c.val {
                Some(pb::a_const::Val::Sval(s)) => Some(s.sval.clone()),
                Some(pb::a_const::Val::Ival(i)) => Some(i.ival.to_string()),
                Some(pb::a_const::Val::Fval(f)) => Some(f.fval.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn stmt_changes(node: &N, text: &str, stmt: &str, at: At, out: &mut Vec<SettingChange>) {
    let change = |setting, value, local| SettingChange {
        setting,
        value,
        local,
        condition: at.condition,
        dynamic: false,
        in_do: at.in_do,
        how: short(at.how.unwrap_or(stmt)),
    };
    match node {
        N::VariableSetStmt(v) => {
            use pb::VariableSetKind as K;
            let named = || Setting::Named(v.name.to_lowercase());
            let c = match v.kind() {
                K::VarSetValue => change(named(), SettingValue::To(set_value(v)), Some(v.is_local)),
                K::VarSetDefault | K::VarReset => {
                    change(named(), SettingValue::Default, Some(v.is_local))
                }
                K::VarResetAll => change(Setting::All, SettingValue::Default, Some(false)),
                // FROM CURRENT keeps the value; SET TRANSACTION … and the like are not
                // settings a later statement reads.
                _ => return,
            };
            out.push(c);
        }
        N::DiscardStmt(d) if d.target == pb::DiscardMode::DiscardAll as i32 => {
            out.push(change(Setting::All, SettingValue::Default, Some(false)));
        }
        N::DoStmt(d) => do_changes(d, stmt, at, out),
        _ if mentions(stmt, "set_config") => calls(node, text, at, out),
        _ => {}
    }
}

/// The `set_config(name, value, is_local)` calls in a statement, in the order they are
/// written. One that is a plain `SELECT set_config(…)` (no FROM, WHERE, …) surely runs
/// once; any other may run once per row, or not at all.
fn calls(node: &N, text: &str, at: At, out: &mut Vec<SettingChange>) {
    let mut once: Vec<*const pb::FuncCall> = Vec::new();
    if let N::SelectStmt(s) = node {
        let plain = s.from_clause.is_empty()
            && s.where_clause.is_none()
            && s.having_clause.is_none()
            && s.limit_count.is_none()
            && s.limit_offset.is_none()
            && s.with_clause.is_none()
            && s.group_clause.is_empty()
            && s.values_lists.is_empty()
            && s.op == pb::SetOperation::SetopNone as i32;
        if plain {
            for t in &s.target_list {
                if let Some(N::ResTarget(r)) = t.node.as_ref() {
                    if let Some(N::FuncCall(f)) = r.val.as_ref().and_then(|v| v.node.as_ref()) {
                        once.push(&**f);
                    }
                }
            }
        }
    }
    let mut found = Vec::new();
    for (r, _, _, _) in node.nodes() {
        let NodeRef::FuncCall(f) = r else { continue };
        if !is_set_config(f) {
            continue;
        }
        let runs_once = once.iter().any(|p| std::ptr::eq(*p, f));
        let arg = |i: usize| f.args.get(i).and_then(|a| a.node.as_ref()).map(constant);
        let setting = match arg(0) {
            Some(Const::Text(n)) => Setting::Named(n.to_lowercase()),
            _ => Setting::Unknown,
        };
        let value = match arg(1) {
            Some(Const::Text(v)) => SettingValue::To(v),
            Some(Const::Null) => SettingValue::Default,
            _ => SettingValue::Unknown,
        };
        let local = match arg(2) {
            Some(Const::Bool(b)) => Some(b),
            Some(Const::Text(t)) => parse_bool(&t),
            _ => None,
        };
        let call = call_text(text, f.location);
        found.push((
            f.location,
            SettingChange {
                setting,
                value,
                local,
                condition: at.condition.or((!runs_once).then_some(PER_ROW)),
                dynamic: false,
                in_do: at.in_do,
                how: short(at.how.unwrap_or(&call)),
            },
        ));
    }
    found.sort_by_key(|(loc, _)| *loc);
    out.extend(found.into_iter().map(|(_, c)| c));
}

fn is_set_config(f: &pb::FuncCall) -> bool {
    let names: Vec<&str> = f
        .funcname
        .iter()
        .filter_map(|n| match n.node.as_ref()? {
            N::String(s) => Some(s.sval.as_str()),
            _ => None,
        })
        .collect();
    matches!(
        names.as_slice(),
        ["set_config"] | ["pg_catalog", "set_config"]
    ) && f.args.len() == 3
}

enum Const {
    Text(String),
    Bool(bool),
    Null,
    /// Computed when it runs.
    Other,
}

/// The value of a constant argument (through casts and `||` of constants).
fn constant(n: &N) -> Const {
    match n {
        N::AConst(c) if c.isnull => Const::Null,
        N::AConst(c) => match &c.val {
            Some(pb::a_const::Val::Sval(s)) => Const::Text(s.sval.clone()),
            Some(pb::a_const::Val::Ival(i)) => Const::Text(i.ival.to_string()),
            Some(pb::a_const::Val::Fval(f)) => Const::Text(f.fval.clone()),
            Some(pb::a_const::Val::Boolval(b)) => Const::Bool(b.boolval),
            _ => Const::Other,
        },
        N::TypeCast(t) => match t.arg.as_ref().and_then(|a| a.node.as_ref()) {
            Some(a) => constant(a),
            None => Const::Other,
        },
        N::AExpr(e) if e.kind == pb::AExprKind::AexprOp as i32 && is_concat(e) => {
            let side =
                |s: &Option<Box<pb::Node>>| s.as_ref().and_then(|x| x.node.as_ref()).map(constant);
            match (side(&e.lexpr), side(&e.rexpr)) {
                (Some(Const::Text(a)), Some(Const::Text(b))) => Const::Text(a + &b),
                _ => Const::Other,
            }
        }
        _ => Const::Other,
    }
}

fn is_concat(e: &pb::AExpr) -> bool {
    matches!(e.name.as_slice(), [n] if matches!(n.node.as_ref(), Some(N::String(s)) if s.sval == "||"))
}

/// A boolean as PostgreSQL reads one from text (`'on'`, `'t'`, `'yes'`, a prefix of
/// `true`, …); `None` for what it would refuse.
fn parse_bool(s: &str) -> Option<bool> {
    let v = s.trim().to_ascii_lowercase();
    let prefix = |word: &str, min: usize| v.len() >= min && word.starts_with(v.as_str());
    if prefix("true", 1) || prefix("yes", 1) || v == "on" || v == "1" {
        Some(true)
    } else if prefix("false", 1) || prefix("no", 1) || prefix("off", 2) || v == "0" {
        Some(false)
    } else {
        None
    }
}

/// The text of the call starting at `at`: its name up to the closing parenthesis.
fn call_text(text: &str, at: i32) -> String {
    let start = usize::try_from(at).unwrap_or(0).min(text.len());
    let rest = text.get(start..).unwrap_or("");
    let mut depth = 0usize;
    for t in lex::tokenize(rest, Engine::Postgres) {
        if t.is_punct(rest, '(') {
            depth += 1;
        } else if t.is_punct(rest, ')') {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return rest[..t.end].to_string();
            }
        }
    }
    rest.to_string()
}

/// A command as it can be quoted in a message: one line, not too long.
fn short(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= 80 {
        one
    } else {
        format!("{}…", one.chars().take(79).collect::<String>())
    }
}

/// Whether `text` mentions `word` (ASCII case-insensitively, as a whole word).
fn mentions(text: &str, word: &str) -> bool {
    let hay = text.as_bytes();
    let w = word.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    hay.windows(w.len()).enumerate().any(|(i, win)| {
        win.eq_ignore_ascii_case(w)
            && (i == 0 || !is_ident(hay[i - 1]))
            && hay.get(i + w.len()).is_none_or(|b| !is_ident(*b))
    })
}

/// Whether code may change a setting: the words that every way of doing so contains.
fn may_change_settings(text: &str) -> bool {
    ["set", "reset", "discard", "set_config"]
        .iter()
        .any(|w| mentions(text, w))
}

/// Whether code that builds a command at run time may build one that changes a setting:
/// it mentions `RESET`, `DISCARD` or `set_config`, or one of its strings starts with `SET`
/// (`'SET lock_timeout = ' || v`; not the `SET NOT NULL` inside an `ALTER TABLE`).
fn may_build_settings_command(code: &str) -> bool {
    if ["reset", "discard", "set_config"]
        .iter()
        .any(|w| mentions(code, w))
    {
        return true;
    }
    lex::tokenize(code, Engine::Postgres)
        .iter()
        .filter(|t| t.kind == Kind::Str)
        .any(|t| {
            let raw = t.text(code).trim_start_matches(['E', 'e']);
            let content = match raw.strip_prefix('$') {
                Some(rest) => rest.split_once('$').map(|(_, c)| c).unwrap_or(""),
                None => raw.get(1..).unwrap_or(""),
            };
            let content = content.trim_start();
            content
                .get(..3)
                .is_some_and(|w| w.eq_ignore_ascii_case("set"))
                && content[3..]
                    .bytes()
                    .next()
                    .is_none_or(|b| !(b.is_ascii_alphanumeric() || b == b'_'))
        })
}

/// A change whose setting and value are known only when it runs.
fn unknown(at: At, dynamic: bool, how: &str) -> SettingChange {
    SettingChange {
        setting: Setting::Unknown,
        value: SettingValue::Unknown,
        local: None,
        condition: at.condition,
        dynamic,
        in_do: true,
        how: short(how),
    }
}

fn do_changes(d: &pb::DoStmt, stmt: &str, at: At, out: &mut Vec<SettingChange>) {
    let arg = |name: &str| {
        d.args.iter().find_map(|a| match a.node.as_ref()? {
            N::DefElem(e) if e.defname == name => match e.arg.as_ref()?.node.as_ref()? {
                N::String(s) => Some(s.sval.clone()),
                _ => None,
            },
            _ => None,
        })
    };
    let body = arg("as").unwrap_or_default();
    if !may_change_settings(&body) {
        return;
    }
    let inner = At {
        in_do: true,
        depth: at.depth + 1,
        how: None,
        ..at
    };
    let language = arg("language")
        .unwrap_or_else(|| "plpgsql".into())
        .to_lowercase();
    if language != "plpgsql" {
        out.push(unknown(inner, true, &format!("DO LANGUAGE {language}")));
        return;
    }
    let tree = if at.depth >= MAX_DEPTH {
        None
    } else {
        pg_query::parse_plpgsql(stmt).ok()
    };
    let Some(tree) = tree else {
        // PostgreSQL will say what is wrong with it; until then nothing is known.
        out.push(unknown(inner, true, stmt));
        return;
    };
    let mut vars = Vec::new();
    assignments(&tree, &mut vars);
    let mut w = Walk {
        at: inner,
        vars: &vars,
        out,
    };
    w.value(&tree, inner.condition);
}

/// Every variable of a PL/pgSQL tree with the text assigned to it anywhere (`v := …`, a
/// DECLARE default, `SELECT … INTO v`): where an `EXECUTE v` may take its command from.
fn assignments(v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| assignments(i, out)),
        Value::Object(map) => {
            for (k, inner) in map {
                match k.as_str() {
                    "PLpgSQL_stmt_assign" => {
                        if let Some(q) = query_of(inner.get("expr")) {
                            let name = q.split(":=").next().unwrap_or("").trim();
                            out.push((name.to_lowercase(), q.to_string()));
                        }
                    }
                    "PLpgSQL_var" => {
                        let name = inner.get("refname").and_then(Value::as_str);
                        if let (Some(n), Some(q)) = (name, query_of(inner.get("default_val"))) {
                            out.push((n.to_lowercase(), q.to_string()));
                        }
                    }
                    "PLpgSQL_stmt_execsql" => {
                        if let Some(q) = query_of(inner.get("sqlstmt")) {
                            let fields = inner
                                .pointer("/target/PLpgSQL_row/fields")
                                .and_then(Value::as_array);
                            for f in fields.into_iter().flatten() {
                                if let Some(n) = f.get("name").and_then(Value::as_str) {
                                    out.push((n.to_lowercase(), q.to_string()));
                                }
                            }
                        }
                    }
                    _ => {}
                }
                assignments(inner, out);
            }
        }
        _ => {}
    }
}

/// `{"PLpgSQL_expr": {"query": …}}` → the query.
fn query_of(v: Option<&Value>) -> Option<&str> {
    v?.get("PLpgSQL_expr")?.get("query")?.as_str()
}

struct Walk<'a, 'o> {
    at: At<'a>,
    vars: &'a [(String, String)],
    out: &'o mut Vec<SettingChange>,
}

impl Walk<'_, '_> {
    fn value(&mut self, v: &Value, cond: Option<&'static str>) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| self.value(i, cond)),
            Value::Object(map) => {
                for (k, inner) in map {
                    self.node(k, inner, cond);
                }
            }
            _ => {}
        }
    }

    fn node(&mut self, kind: &str, v: &Value, cond: Option<&'static str>) {
        match kind {
            // Declared defaults are set when the block starts, before its body.
            "PLpgSQL_function" => {
                if let Some(d) = v.get("datums") {
                    self.value(d, cond);
                }
                if let Some(a) = v.get("action") {
                    self.value(a, cond);
                }
            }
            "PLpgSQL_stmt_block" => {
                let catches = v.get("exceptions").is_some();
                if let Some(b) = v.get("body") {
                    self.value(
                        b,
                        if catches {
                            cond.or(Some(CATCHES))
                        } else {
                            cond
                        },
                    );
                }
                if let Some(e) = v.get("exceptions") {
                    self.value(e, cond.or(Some(HANDLER)));
                }
            }
            "PLpgSQL_stmt_dynexecute" | "PLpgSQL_stmt_dynfors" => {
                if let Some(q) = query_of(v.get("query")) {
                    self.execute(q, cond);
                }
                if let Some(b) = v.get("body") {
                    self.value(b, cond.or(Some(BRANCH)));
                }
            }
            "PLpgSQL_stmt_open" | "PLpgSQL_stmt_return_query" => {
                if let Some(q) = query_of(v.get("dynquery")) {
                    self.execute(q, cond);
                }
                if let Some(q) = v.get("query") {
                    self.value(q, cond);
                }
            }
            "PLpgSQL_stmt_if"
            | "PLpgSQL_stmt_case"
            | "PLpgSQL_stmt_loop"
            | "PLpgSQL_stmt_while"
            | "PLpgSQL_stmt_fori"
            | "PLpgSQL_stmt_fors"
            | "PLpgSQL_stmt_forc"
            | "PLpgSQL_stmt_foreach_a" => {
                self.value(v, cond.or(Some(BRANCH)));
            }
            "PLpgSQL_expr" => {
                let query = v.get("query").and_then(Value::as_str).unwrap_or("");
                let mode = v.get("parseMode").and_then(Value::as_i64).unwrap_or(0);
                self.expr(query, mode, cond);
            }
            _ => self.value(v, cond),
        }
    }

    /// SQL the block runs as written: a statement (parse mode 0), an expression (2) or an
    /// assignment `target := expression` (3 to 5).
    fn expr(&mut self, query: &str, mode: i64, cond: Option<&'static str>) {
        if !may_change_settings(query) {
            return;
        }
        let sql = match mode {
            0 => query.to_string(),
            2 => format!("SELECT {query}"),
            3..=5 => match query.split_once(":=").or_else(|| query.split_once('=')) {
                Some((_, e)) => format!("SELECT {e}"),
                None => return,
            },
            _ => return,
        };
        let at = At {
            condition: cond,
            how: None,
            ..self.at
        };
        self.sql(&sql, at, query);
    }

    /// The command of an `EXECUTE`: a string constant is read like any SQL; one built at
    /// run time is unknown when it may change a setting: when it mentions one of the words
    /// that do, or a variable that is given such a text somewhere in the block.
    fn execute(&mut self, expr: &str, cond: Option<&'static str>) {
        let how = format!("EXECUTE {expr}");
        let at = At {
            condition: cond,
            how: Some(&how),
            ..self.at
        };
        let parsed = pg_query::parse(
            &format!("SELECT {expr}"),
            pg_query::ParserOptions::default(),
        );
        let command = parsed.ok().and_then(|r| {
            let N::SelectStmt(s) = r.protobuf.stmts.first()?.stmt.as_ref()?.node.as_ref()? else {
                return None;
            };
            let N::ResTarget(t) = s.target_list.first()?.node.as_ref()? else {
                return None;
            };
            match constant(t.val.as_ref()?.node.as_ref()?) {
                Const::Text(c) => Some(c),
                _ => None,
            }
        });
        match command {
            Some(c) if may_change_settings(&c) => self.sql(&c, at, &how),
            Some(_) => {}
            None => {
                let words: Vec<String> = lex::tokenize(expr, Engine::Postgres)
                    .iter()
                    .filter(|t| t.kind == Kind::Word)
                    .map(|t| t.ident(expr))
                    .collect();
                let via_var = self
                    .vars
                    .iter()
                    .any(|(name, text)| words.contains(name) && may_build_settings_command(text));
                if may_build_settings_command(expr) || via_var {
                    self.out.push(unknown(at, true, &how));
                }
            }
        }
    }

    /// Statements of `sql`, run at `at`; `how` names them when they can't be read.
    fn sql(&mut self, sql: &str, at: At, how: &str) {
        let Ok(res) = pg_query::parse(sql, pg_query::ParserOptions::default()) else {
            self.out.push(unknown(at, true, how));
            return;
        };
        for raw in &res.protobuf.stmts {
            let Some(node) = raw.stmt.as_ref().and_then(|n| n.node.as_ref()) else {
                continue;
            };
            let start = usize::try_from(raw.stmt_location)
                .unwrap_or(0)
                .min(sql.len());
            let end = match usize::try_from(raw.stmt_len) {
                Ok(0) | Err(_) => sql.len(),
                Ok(n) => (start + n).min(sql.len()),
            };
            let stmt = sql.get(start..end).unwrap_or(sql).trim();
            stmt_changes(node, sql, stmt, at, self.out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(sql: &str) -> Vec<SettingChange> {
        let res = pg_query::parse(sql, pg_query::ParserOptions::default()).expect("parses");
        let node = res.protobuf.stmts[0]
            .stmt
            .as_ref()
            .and_then(|n| n.node.clone())
            .expect("a statement");
        changes(&node, sql, sql)
    }

    #[test]
    fn set_config_arguments() {
        let c = of("SELECT set_config('Lock_Timeout'::text, '2s', 'on')");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].setting, Setting::Named("lock_timeout".into()));
        assert_eq!(c[0].value, SettingValue::To("2s".into()));
        assert_eq!(c[0].local, Some(true));
        assert_eq!(c[0].condition, None);
        assert_eq!(c[0].how, "set_config('Lock_Timeout'::text, '2s', 'on')");
        let c = of("SELECT 1 FROM t WHERE set_config('lock_timeout', NULL, x) IS NULL");
        assert_eq!(c[0].value, SettingValue::Default);
        assert_eq!(c[0].local, None);
        assert_eq!(c[0].condition, Some(PER_ROW));
        assert!(of("SELECT my_set_config('lock_timeout', '0', false)").is_empty());
    }

    #[test]
    fn booleans_as_postgresql_reads_them() {
        for (s, b) in [
            ("t", Some(true)),
            ("YES", Some(true)),
            ("on", Some(true)),
            ("of", Some(false)),
            ("o", None),
            ("0", Some(false)),
            ("maybe", None),
        ] {
            assert_eq!(parse_bool(s), b, "{s}");
        }
    }

    #[test]
    fn do_block_changes_in_order_with_their_conditions() {
        let c = of("DO $$ BEGIN RESET ALL; IF x THEN PERFORM set_config('lock_timeout', '1s', false); END IF; EXECUTE 'SET LOCAL lock_timeout = 0'; EXECUTE 'SELECT ' || 'set_config(''a'', ''b'', false)'; END $$");
        let got: Vec<_> = c
            .iter()
            .map(|c| {
                (
                    c.setting.clone(),
                    c.value.clone(),
                    c.local,
                    c.condition,
                    c.how.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    Setting::All,
                    SettingValue::Default,
                    Some(false),
                    None,
                    "RESET ALL"
                ),
                (
                    Setting::Named("lock_timeout".into()),
                    SettingValue::To("1s".into()),
                    Some(false),
                    Some(BRANCH),
                    "set_config('lock_timeout', '1s', false)"
                ),
                (
                    Setting::Named("lock_timeout".into()),
                    SettingValue::To("0".into()),
                    Some(true),
                    None,
                    "EXECUTE 'SET LOCAL lock_timeout = 0'"
                ),
                (
                    Setting::Named("a".into()),
                    SettingValue::To("b".into()),
                    Some(false),
                    None,
                    "EXECUTE 'SELECT ' || 'set_config(''a'', ''b'', false)'"
                ),
            ]
        );
        assert!(c.iter().all(|c| c.in_do && !c.dynamic));
        // Nothing that could change a setting: nothing to read.
        assert!(of("DO $$ BEGIN EXECUTE format('ANALYZE %I', 't'); END $$").is_empty());
        assert!(of(
            "DO $$ BEGIN EXECUTE format('ALTER TABLE %I ALTER a SET NOT NULL', 't'); END $$"
        )
        .is_empty());
        // A command built at run time that may.
        let c = of("DO $$ DECLARE cmd text; BEGIN cmd := 'RE' || 'SET ALL'; EXECUTE cmd; END $$");
        assert_eq!(c.len(), 1);
        assert!(c[0].dynamic && c[0].setting == Setting::Unknown, "{c:?}");
        assert_eq!(c[0].how, "EXECUTE cmd");
    }
}
