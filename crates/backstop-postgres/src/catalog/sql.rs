//! The catalog queries behind the schema fingerprint. Kept apart from the Rust logic so the
//! SQL can be read (and run in psql) as a whole.
//!
//! Every object is a *root* — a relation (`r`), routine (`f`), type (`t`), extension (`e`)
//! or schema (`n`) — identified by its OID. The canonical query returns one row with the
//! root's key and one row per canonical line; Rust sorts the lines.

/// One row per root: kind, OID, key, its lines (unsorted) and the OIDs of its indexes
/// (relations) or constraints (domains). Relations and the other kinds are separate
/// statements so that a migration touching only tables runs only the first. One row per
/// root with correlated sub-selects keeps the plans small: starting up a plan of a few
/// hundred nodes costs more than the read itself.
///
/// [`wrapped`] switches `search_path` to `pg_catalog, pg_temp` and back around the read
/// (`set_config(..., true)` is transaction-local, so an error or autocommit undoes it too):
/// the `pg_get_*def` functions schema-qualify exactly the names not visible on the
/// search_path, and the text must not depend on the session. UNION ALL branches run in
/// order (a non-parallel Append; `set_config` is parallel-unsafe), and the saved path rides
/// in a custom setting so the statement needs no extra round trip.
fn wrapped(ctes: &[&str], select: &str) -> String {
    // Each setting is saved in a custom setting and set in the first branch, and put back
    // in the last one. Besides search_path, the ones that change how constants print
    // (defaults, CHECK clauses, view bodies): the same schema must give the same text
    // whatever the role's or database's DateStyle.
    let set = PINNED
        .iter()
        .map(|(name, value)| {
            format!(
                "pg_catalog.set_config('{name}', '{value}' || pg_catalog.left(\
                 pg_catalog.set_config('backstop.saved_{name}', pg_catalog.current_setting('{name}'), true), 0), true)"
            )
        })
        .collect::<Vec<_>>()
        .join(",\n           ");
    let reset = PINNED
        .iter()
        .map(|(name, _)| {
            format!(
                "pg_catalog.set_config('{name}', pg_catalog.current_setting('backstop.saved_{name}'), true)"
            )
        })
        .collect::<Vec<_>>()
        .join(",\n           ");
    format!(
        r#"
SELECT 'S'::pg_catalog.text AS k, NULL::pg_catalog.oid AS root, NULL::pg_catalog.text AS key,
       ARRAY[{set}] AS lines,
       NULL::pg_catalog.oid[] AS subs
UNION ALL
(
WITH
{ctes}
{select}
)
UNION ALL
SELECT 'S', NULL, NULL,
       ARRAY[{reset}],
       NULL
"#,
        ctes = ctes.join(",\n")
    )
}

/// Settings fixed while the schema is read, with their values: `search_path` (the
/// `pg_get_*def` functions qualify exactly the names not visible on it), the output
/// styles of dates, intervals, floats and byte strings (PostgreSQL's defaults), the time
/// zone timestamptz constants print in, and how string constants escape backslashes.
const PINNED: [(&str, &str); 8] = [
    // Temporary objects after the catalog's: a temporary table named like a built-in
    // type must not hide that type, which would then print with its schema in this
    // session only.
    ("search_path", "pg_catalog, pg_temp"),
    ("DateStyle", "ISO, MDY"),
    ("IntervalStyle", "postgres"),
    ("extra_float_digits", "1"),
    ("bytea_output", "hex"),
    ("quote_all_identifiers", "off"),
    ("TimeZone", "UTC"),
    ("standard_conforming_strings", "on"),
];

/// The schemas read: not the system's, not created by an extension. backstop's own schema
/// is among them, but prints no `schema` root and its three tables are left out
/// ([`REL_CTE`]): anything else in it — a table moved there with `SET SCHEMA` — prints
/// like an object of any other schema, instead of vanishing from the text.
const NS_CTE: &str = r#"
ns AS MATERIALIZED (
    SELECT n.oid, n.nspname
      FROM pg_catalog.pg_namespace n
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND pg_catalog.left(n.nspname, 8) NOT IN ('pg_toast', 'pg_temp_')
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                        WHERE d.classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
                          AND d.objid = n.oid AND d.deptype = 'e')
)"#;

/// `{REL}`: `true`, or a filter on `c.oid`. backstop's own tables (`backstop.migrations`,
/// `.events`, `.state`, with their indexes, constraints and row types) are left out by
/// name: they are not user schema.
const REL_CTE: &str = r#"
rel AS (
    SELECT c.oid, c.relname, c.relkind, c.relpersistence, c.reloptions, c.relrowsecurity,
           c.relforcerowsecurity, c.relispartition, c.relpartbound, c.relreplident, c.relam,
           c.reloftype,
           -- `ALTER TABLE … SET (toast.…)` keeps its options on the TOAST table's row
           CASE WHEN c.reltoastrelid <> 0 THEN (SELECT tc.reloptions FROM pg_catalog.pg_class tc
                                                 WHERE tc.oid = c.reltoastrelid) END AS toastoptions,
           ns.nspname
      FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {REL}
       AND NOT (ns.nspname = 'backstop' AND c.relkind = 'r' AND c.relname IN ('migrations', 'events', 'state'))
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                          AND d.objid = c.oid AND d.deptype = 'e')
)"#;

const PROC_CTE: &str = r#"
proc AS (
    SELECT p.oid, p.proname, p.prokind, p.prorettype, p.proargtypes, p.proconfig, ns.nspname
      FROM pg_catalog.pg_proc p JOIN ns ON ns.oid = p.pronamespace
     WHERE {PROC}
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                        WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                          AND d.objid = p.oid AND d.deptype = 'e')
)"#;

const TYP_CTE: &str = r#"
typ AS (
    SELECT t.oid, t.typname, t.typtype, t.typrelid, t.typbasetype, t.typtypmod, t.typnotnull,
           t.typdefaultbin, t.typcollation, t.typinput, t.typoutput, t.typlen, t.typalign,
           t.typstorage, t.typcategory, ns.nspname
      FROM pg_catalog.pg_type t JOIN ns ON ns.oid = t.typnamespace
     WHERE {TYPE}
       AND t.typtype IN ('e', 'd', 'r', 'b', 'c')
       -- implicit array types come and go with their element type
       AND NOT (t.typtype = 'b' AND t.typelem <> 0 AND t.typlen = -1)
       -- a table's row type is the table; only free-standing composite types count
       AND (t.typtype <> 'c' OR EXISTS (SELECT 1 FROM pg_catalog.pg_class r
                                         WHERE r.oid = t.typrelid AND r.relkind = 'c'))
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                        WHERE d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
                          AND d.objid = t.oid AND d.deptype = 'e')
)"#;

/// One row per relation. Lines of columns, constraints and indexes carry their identity in
/// front — `#attnum `, `&constraint-oid `, `%index-oid ` — which Rust strips and keeps, so
/// that a later read may answer `=#attnum`, `=&oid` or `=%oid` instead: "the line printed
/// last time still holds" ([`rel_select`]).
const REL_SELECT: &str = r#"
-- relations ------------------------------------------------------------------------------
SELECT 'r', c.oid,
       CASE c.relkind WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view '
                      WHEN 'S' THEN 'sequence ' WHEN 'f' THEN 'foreign table ' ELSE 'table ' END
       || pg_catalog.quote_ident(c.nspname) || '.' || pg_catalog.quote_ident(c.relname),
       pg_catalog.array_remove(ARRAY[
           CASE WHEN c.relpersistence = 'u' THEN 'unlogged' END,
           -- the TOAST table's options as `toast.name=value` among the table's own, as
           -- `ALTER TABLE … SET (toast.…)` names them
           CASE WHEN c.reloptions IS NOT NULL OR c.toastoptions IS NOT NULL THEN 'with (' ||
                (SELECT pg_catalog.string_agg(w.o, ', ' ORDER BY w.o COLLATE "C")
                   FROM (SELECT pg_catalog.unnest(c.reloptions) AS o
                         UNION ALL SELECT 'toast.' || pg_catalog.unnest(c.toastoptions)) w) || ')' END,
           -- a typed table (`CREATE TABLE … OF type`; `NOT OF` clears it)
           CASE WHEN c.reloftype <> 0 THEN 'of ' || pg_catalog.format_type(c.reloftype, NULL) END,
           CASE WHEN c.relrowsecurity THEN 'row level security' END,
           CASE WHEN c.relforcerowsecurity THEN 'force row level security' END,
           CASE WHEN c.relkind = 'p' THEN 'partition by ' || pg_catalog.pg_get_partkeydef(c.oid) END,
           CASE WHEN c.relkind IN ('v', 'm') THEN 'definition ' || pg_catalog.pg_get_viewdef(c.oid) END,
           -- the default (`d`: the primary key) prints nothing; with `i` the index line says
           -- which index. Views and sequences have `n` and no way to change it.
           CASE WHEN c.relkind IN ('r', 'p', 'm') THEN
               CASE c.relreplident WHEN 'n' THEN 'replica identity nothing' WHEN 'f' THEN 'replica identity full'
                                   WHEN 'i' THEN 'replica identity index' END END,
           -- heap (OID 2, fixed) is the default access method; the sub-select runs only for others
           CASE WHEN c.relkind IN ('r', 'p', 'm') AND c.relam <> 0 AND c.relam <> 2
                THEN 'using ' || (SELECT pg_catalog.quote_ident(am.amname) FROM pg_catalog.pg_am am WHERE am.oid = c.relam) END,
           CASE WHEN c.relkind = 'f' THEN (
               -- options as `name 'value'`, split by the server: raw `name=value` entries
               -- joined with commas could spell two different option lists alike
               SELECT 'server ' || pg_catalog.quote_ident(fs.srvname)
                      || COALESCE(' options (' || (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(o.option_name) || ' ' || pg_catalog.quote_literal(o.option_value), ', ' ORDER BY o.option_name)
                                                     FROM pg_catalog.pg_options_to_table(ft.ftoptions) o) || ')', '')
                 FROM pg_catalog.pg_foreign_table ft JOIN pg_catalog.pg_foreign_server fs ON fs.oid = ft.ftserver
                WHERE ft.ftrelid = c.oid) END,
           -- the definition, never the current value
           CASE WHEN c.relkind = 'S' THEN (
               SELECT 'as ' || pg_catalog.format_type(s.seqtypid, NULL) || ' increment ' || s.seqincrement
                      || ' minvalue ' || s.seqmin || ' maxvalue ' || s.seqmax || ' start ' || s.seqstart
                      || ' cache ' || s.seqcache || CASE WHEN s.seqcycle THEN ' cycle' ELSE ' no cycle' END
                      -- OWNED BY a column (`a`; identity sequences depend with `i` and the
                      -- column says it), unless that column's default calls the sequence: a
                      -- serial column's, which printed like this before ownership was shown.
                      -- A table that is re-read re-reads the sequences it owns too
                      -- ([`incremental`]): dropping the default changes this line.
                      || COALESCE((
                          SELECT ' owned by ' || pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(t.relname)
                                 || '.' || pg_catalog.quote_ident(ta.attname)
                            FROM pg_catalog.pg_depend dp
                            JOIN pg_catalog.pg_class t ON t.oid = dp.refobjid
                            JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
                            JOIN pg_catalog.pg_attribute ta ON ta.attrelid = dp.refobjid AND ta.attnum = dp.refobjsubid
                           WHERE dp.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND dp.objid = c.oid
                             AND dp.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND dp.deptype = 'a'
                             AND NOT EXISTS (
                                 SELECT 1 FROM pg_catalog.pg_attrdef ad
                                   JOIN pg_catalog.pg_depend dd ON dd.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass
                                                               AND dd.objid = ad.oid
                                  WHERE ad.adrelid = dp.refobjid AND ad.adnum = dp.refobjsubid
                                    AND dd.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND dd.refobjid = c.oid)
                           LIMIT 1), '')
                 FROM pg_catalog.pg_sequence s WHERE s.seqrelid = c.oid) END
       ], NULL)
       || ARRAY(
           SELECT CASE WHEN c.relispartition
                       THEN 'partition of ' || pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(p.relname)
                            || ' ' || pg_catalog.pg_get_expr(c.relpartbound, c.oid)
                       ELSE 'inherits ' || pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(p.relname) END
             FROM pg_catalog.pg_inherits i
             JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
             JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
            WHERE i.inhrelid = c.oid)
       -- columns, sorted by name in Rust: physical order is not part of the logical schema.
       -- `#attnum ` in front, which Rust strips: a column that keeps its number but not its
       -- name was renamed, and dependants that print it must be re-read.
       || ARRAY(
           SELECT CASE WHEN {REUSE} AND {OLD:a}
                        AND (NOT a.atthasdef OR (SELECT {OLD:d} FROM pg_catalog.pg_attrdef d
                                                  WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum))
                       THEN '=#' || a.attnum ELSE
                  '#' || a.attnum || ' column ' || pg_catalog.quote_ident(a.attname) || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
                  || CASE WHEN a.attcollation <> 0 AND a.attcollation <> ty.typcollation
                          THEN ' collate ' || (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
                                                 FROM pg_catalog.pg_collation co
                                                 JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
                                                WHERE co.oid = a.attcollation)
                          ELSE '' END
                  || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                  || CASE a.attidentity WHEN 'a' THEN ' generated always as identity'
                                        WHEN 'd' THEN ' generated by default as identity' ELSE '' END
                  || CASE WHEN NOT a.atthasdef THEN ''
                          ELSE (SELECT CASE WHEN a.attgenerated = 's'
                                            THEN ' generated always as (' || pg_catalog.pg_get_expr(d.adbin, d.adrelid) || ') stored'
                                            ELSE ' default ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid) END
                                  FROM pg_catalog.pg_attrdef d WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum) END
                  -- what ALTER COLUMN SET STORAGE / COMPRESSION / STATISTICS / (options) and
                  -- a foreign table's column OPTIONS set, each only when not the default; all
                  -- in pg_attribute, so the line's reuse stays sound. Sub-selects only run
                  -- for options that are set.
                  || CASE WHEN a.attstorage <> ty.typstorage
                          THEN ' storage ' || CASE a.attstorage WHEN 'p' THEN 'plain' WHEN 'e' THEN 'external'
                                                                WHEN 'm' THEN 'main' ELSE 'extended' END
                          ELSE '' END
                  {COMPRESSION}
                  -- -1 up to PostgreSQL 16, NULL from 17 on
                  || CASE WHEN a.attstattarget IS NOT NULL AND a.attstattarget <> -1
                          THEN ' statistics ' || a.attstattarget ELSE '' END
                  -- only the options ALTER COLUMN SET (...) accepts: a server may keep
                  -- entries of its own in attoptions that no migration sets
                  || CASE WHEN a.attoptions IS NOT NULL
                          THEN COALESCE(' with (' || (SELECT pg_catalog.string_agg(o, ', ' ORDER BY o)
                                                        FROM pg_catalog.unnest(a.attoptions) o
                                                       WHERE pg_catalog.split_part(o, '=', 1) IN ('n_distinct', 'n_distinct_inherited')) || ')', '')
                          ELSE '' END
                  || CASE WHEN a.attfdwoptions IS NOT NULL
                          THEN ' options (' || (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(o.option_name) || ' ' || pg_catalog.quote_literal(o.option_value), ', ' ORDER BY o.option_name)
                                                  FROM pg_catalog.pg_options_to_table(a.attfdwoptions) o) || ')'
                          ELSE '' END
                  END
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
            WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind <> 'S')
       -- pg_get_constraintdef prints NOT VALID and DEFERRABLE states itself. An exclusion
       -- constraint prints its index's storage parameters too, which live in the index's
       -- pg_class row.
       || ARRAY(
           SELECT CASE WHEN {REUSE} AND {OLD:k}
                        AND (k.contype <> 'x' OR (SELECT {OLD:kc} FROM pg_catalog.pg_class kc WHERE kc.oid = k.conindid))
                       THEN '=&' || k.oid
                       ELSE '&' || k.oid || ' constraint ' || pg_catalog.quote_ident(k.conname) || ' ' || {CONDEF} END
             FROM pg_catalog.pg_constraint k WHERE k.conrelid = c.oid)
       -- an index's line: its definition, its state, the statistics targets of its columns
       -- (`ALTER INDEX … ALTER COLUMN n SET STATISTICS`, kept in the index's pg_attribute
       -- rows; only expression columns take one, so only indexes with expressions are
       -- looked at) and the extensions it was marked as depending on
       || ARRAY(
           SELECT CASE WHEN {REUSE} AND {OLD:i} AND {OLD:ic}
                        AND (i.indexprs IS NULL
                             OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute ia
                                             WHERE ia.attrelid = i.indexrelid AND NOT {OLD:ia}))
                       THEN '=%' || i.indexrelid
                       ELSE '%' || i.indexrelid || ' ' || {INDEXDEF}
                            || CASE WHEN NOT i.indisvalid THEN ' INVALID' ELSE '' END
                            || CASE WHEN i.indisreplident THEN ' REPLICA IDENTITY' ELSE '' END
                            -- -1 up to PostgreSQL 16, NULL from 17 on
                            || CASE WHEN i.indexprs IS NOT NULL THEN
                                   COALESCE((SELECT pg_catalog.string_agg(' column ' || ia.attnum || ' statistics ' || ia.attstattarget, '' ORDER BY ia.attnum)
                                               FROM pg_catalog.pg_attribute ia
                                              WHERE ia.attrelid = i.indexrelid AND ia.attstattarget IS NOT NULL AND ia.attstattarget <> -1), '')
                                   ELSE '' END
                            || {EXTDEPS:pg_class:i.indexrelid} END
             FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
            WHERE i.indrelid = c.oid)
       || ARRAY(
           SELECT {TRIGDEF}
                  || CASE g.tgenabled WHEN 'D' THEN ' DISABLED' WHEN 'R' THEN ' ENABLE REPLICA'
                                      WHEN 'A' THEN ' ENABLE ALWAYS' ELSE '' END
                  || {EXTDEPS:pg_trigger:g.oid}
             FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal)
       || ARRAY(
           SELECT pg_catalog.pg_get_ruledef(w.oid)
                  || CASE w.ev_enabled WHEN 'D' THEN ' DISABLED' WHEN 'R' THEN ' ENABLE REPLICA'
                                       WHEN 'A' THEN ' ENABLE ALWAYS' ELSE '' END
             FROM pg_catalog.pg_rewrite w WHERE w.ev_class = c.oid AND w.rulename <> '_RETURN')
       || ARRAY(
           SELECT 'policy ' || pg_catalog.quote_ident(p.polname)
                  || CASE WHEN p.polpermissive THEN ' permissive' ELSE ' restrictive' END
                  || ' for ' || CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert' WHEN 'w' THEN 'update'
                                              WHEN 'd' THEN 'delete' ELSE 'all' END
                  || ' to ' || (SELECT pg_catalog.string_agg(r.name, ', ' ORDER BY r.name)
                                  FROM (SELECT CASE WHEN o = 0 THEN 'public'
                                                    ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(o)) END AS name
                                          FROM pg_catalog.unnest(p.polroles) o) r)
                  || COALESCE(' using (' || pg_catalog.pg_get_expr(p.polqual, p.polrelid) || ')', '')
                  || COALESCE(' with check (' || pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) || ')', '')
             FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid)
       -- comments on the relation and its columns, and extended statistics: one sub-select
       || ARRAY(
           SELECT 'comment ' || CASE WHEN dc.objsubid = 0 THEN ''
                                     ELSE 'on column ' || (SELECT pg_catalog.quote_ident(ca.attname) FROM pg_catalog.pg_attribute ca
                                                            WHERE ca.attrelid = dc.objoid AND ca.attnum = dc.objsubid) || ' ' END
                  || pg_catalog.quote_literal(dc.description)
             FROM pg_catalog.pg_description dc
            WHERE dc.objoid = c.oid AND dc.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
           UNION ALL
           SELECT 'statistics ' || pg_catalog.pg_get_statisticsobjdef(sx.oid) {STXTARGET}
             FROM pg_catalog.pg_statistic_ext sx WHERE sx.stxrelid = c.oid
           -- `ALTER MATERIALIZED VIEW … DEPENDS ON EXTENSION`
           UNION ALL
           SELECT 'depends on extension ' || pg_catalog.quote_ident(e.extname)
             FROM pg_catalog.pg_depend dx JOIN pg_catalog.pg_extension e ON e.oid = dx.refobjid
            WHERE c.relkind = 'm' AND {EXTDEP_WHERE:pg_class:c.oid}),
       ARRAY(SELECT i.indexrelid FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid)
  FROM rel c
"#;

const OTHER_SELECT: &str = r#"
-- routines -------------------------------------------------------------------------------
SELECT 'f', p.oid,
       CASE p.prokind WHEN 'p' THEN 'procedure ' WHEN 'a' THEN 'aggregate ' ELSE 'function ' END
       || pg_catalog.quote_ident(p.nspname) || '.' || pg_catalog.quote_ident(p.proname)
       || '(' || pg_catalog.oidvectortypes(p.proargtypes) || ')',
       ARRAY[CASE WHEN p.prokind <> 'a' AND (COALESCE(pg_catalog.cardinality(p.proconfig), 0) <= 1
                                             OR pg_catalog.array_to_string(p.proconfig, '') LIKE E'%\n%')
                  THEN pg_catalog.pg_get_functiondef(p.oid)
             -- SET clauses print in the order they were set, one ` SET name TO value` line
             -- each, as one block ahead of the body: sorted, so that the same settings set
             -- in another order print the same. Left as printed when a value spans lines
             -- (its lines would sort among the others) or the block is not found as expected.
             WHEN p.prokind <> 'a' THEN (
                 SELECT CASE WHEN k.i IS NOT NULL
                              AND pg_catalog.cardinality(x.ls[k.i:k.i + x.n - 1]) = x.n
                              AND (SELECT pg_catalog.bool_and(z LIKE ' SET %') FROM pg_catalog.unnest(x.ls[k.i:k.i + x.n - 1]) z)
                             THEN pg_catalog.array_to_string(
                                      x.ls[:k.i - 1]
                                      || ARRAY(SELECT z FROM pg_catalog.unnest(x.ls[k.i:k.i + x.n - 1]) z ORDER BY z COLLATE "C")
                                      || x.ls[k.i + x.n:], E'\n')
                             ELSE x.d END
                   FROM (SELECT y.d, pg_catalog.string_to_array(y.d, E'\n') AS ls, pg_catalog.cardinality(p.proconfig) AS n
                           FROM (SELECT pg_catalog.pg_get_functiondef(p.oid) AS d OFFSET 0) y OFFSET 0) x,
                        LATERAL (SELECT pg_catalog.min(u.o) AS i FROM pg_catalog.unnest(x.ls) WITH ORDINALITY u(l, o)
                                  WHERE u.l LIKE ' SET %') k)
             -- pg_get_functiondef refuses aggregates
             ELSE (SELECT 'aggregate returns ' || pg_catalog.format_type(p.prorettype, NULL)
                          || ' sfunc ' || a.aggtransfn::pg_catalog.text
                          || ' stype ' || pg_catalog.format_type(a.aggtranstype, NULL)
                          || CASE WHEN a.aggfinalfn::pg_catalog.oid <> 0 THEN ' finalfunc ' || a.aggfinalfn::pg_catalog.text ELSE '' END
                          || CASE WHEN a.aggcombinefn::pg_catalog.oid <> 0 THEN ' combinefunc ' || a.aggcombinefn::pg_catalog.text ELSE '' END
                          || COALESCE(' initcond ' || pg_catalog.quote_literal(a.agginitval), '')
                          || ' kind ' || a.aggkind::pg_catalog.text
                     FROM pg_catalog.pg_aggregate a WHERE a.aggfnoid = p.oid) END,
             {COMMENT:p:pg_proc}]
       -- `ALTER FUNCTION … DEPENDS ON EXTENSION`: dropping the extension drops the routine
       || ARRAY(SELECT 'depends on extension ' || pg_catalog.quote_ident(e.extname)
                  FROM pg_catalog.pg_depend dx JOIN pg_catalog.pg_extension e ON e.oid = dx.refobjid
                 WHERE {EXTDEP_WHERE:pg_proc:p.oid}),
       NULL
  FROM proc p
UNION ALL
-- types ----------------------------------------------------------------------------------
SELECT 't', t.oid, 'type ' || pg_catalog.quote_ident(t.nspname) || '.' || pg_catalog.quote_ident(t.typname),
       ARRAY[CASE t.typtype
       -- labels in enumsortorder on ONE line: their order is semantic and lines get sorted
       WHEN 'e' THEN 'enum (' || COALESCE((SELECT pg_catalog.string_agg(pg_catalog.quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                                             FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid), '') || ')'
       WHEN 'd' THEN 'domain ' || pg_catalog.format_type(t.typbasetype, t.typtypmod)
                     || CASE WHEN t.typcollation <> 0
                              AND t.typcollation <> (SELECT bt.typcollation FROM pg_catalog.pg_type bt WHERE bt.oid = t.typbasetype)
                             THEN ' collate ' || (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
                                                    FROM pg_catalog.pg_collation co
                                                    JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
                                                   WHERE co.oid = t.typcollation)
                             ELSE '' END
                     || CASE WHEN t.typnotnull THEN ' not null' ELSE '' END
                     || COALESCE(' default ' || pg_catalog.pg_get_expr(t.typdefaultbin, 0), '')
       -- attribute order of a composite type is semantic (row constructors): one line
       -- an attribute's collation prints as a column's does: only when not its type's
       WHEN 'c' THEN 'composite (' || COALESCE((
                         SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname) || ' '
                                    || pg_catalog.format_type(a.atttypid, a.atttypmod)
                                    || CASE WHEN a.attcollation <> 0 AND a.attcollation <> ty.typcollation
                                            THEN ' collate ' || (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
                                                                   FROM pg_catalog.pg_collation co
                                                                   JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
                                                                  WHERE co.oid = a.attcollation)
                                            ELSE '' END, ', ' ORDER BY a.attnum)
                           FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
                          WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')'
       WHEN 'r' THEN (
           SELECT 'range subtype ' || pg_catalog.format_type(rg.rngsubtype, NULL)
                  || COALESCE(' opclass ' || (SELECT pg_catalog.quote_ident(oc.opcname) FROM pg_catalog.pg_opclass oc
                                               WHERE oc.oid = rg.rngsubopc), '')
                  || COALESCE(' collation ' || (SELECT pg_catalog.quote_ident(rn.nspname) || '.' || pg_catalog.quote_ident(rc.collname)
                                                  FROM pg_catalog.pg_collation rc
                                                  JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.collnamespace
                                                 WHERE rc.oid = rg.rngcollation), '')
                  || CASE WHEN rg.rngcanonical::pg_catalog.oid <> 0 THEN ' canonical ' || rg.rngcanonical::pg_catalog.text ELSE '' END
                  || CASE WHEN rg.rngsubdiff::pg_catalog.oid <> 0 THEN ' subtype_diff ' || rg.rngsubdiff::pg_catalog.text ELSE '' END
             FROM pg_catalog.pg_range rg WHERE rg.rngtypid = t.oid)
       ELSE 'base input ' || t.typinput::pg_catalog.text || ' output ' || t.typoutput::pg_catalog.text
            || ' length ' || t.typlen || ' align ' || t.typalign::pg_catalog.text
            || ' storage ' || t.typstorage::pg_catalog.text || ' category ' || t.typcategory::pg_catalog.text
       END,
       {COMMENT:t:pg_type}]
       || ARRAY(
           SELECT 'constraint ' || pg_catalog.quote_ident(k.conname) || ' ' || pg_catalog.pg_get_constraintdef(k.oid)
             FROM pg_catalog.pg_constraint k WHERE k.conrelid = 0 AND k.contypid = t.oid),
       ARRAY(SELECT k.oid FROM pg_catalog.pg_constraint k WHERE k.conrelid = 0 AND k.contypid = t.oid)
  FROM typ t
UNION ALL
-- extensions and schemas -----------------------------------------------------------------
SELECT 'e', e.oid, 'extension ' || pg_catalog.quote_ident(e.extname),
       ARRAY['schema ' || pg_catalog.quote_ident(n.nspname), 'version ' || e.extversion], NULL
  FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
 WHERE {EXT}
UNION ALL
SELECT 'n', n.oid, 'schema ' || pg_catalog.quote_ident(n.nspname), ARRAY[{COMMENT:n:pg_namespace}], NULL
  FROM ns n WHERE {NS} AND n.nspname <> 'backstop'"#;

/// Relations: all (`full`) or those in `$1`.
///
/// Parameters are wrapped in sub-selects throughout (`(SELECT $1)`; with a cast after it
/// inside `ANY`, which would otherwise read it as a subquery): the planner can't see
/// their values, so a custom plan costs the same as the generic one and the plan cache
/// switches to the generic plan after its five trial runs. Planning these statements costs
/// milliseconds; executing them, a fraction of one.
pub fn canonical_rel(full: bool, version: i32) -> String {
    let filter = if full {
        "true"
    } else {
        "c.oid = ANY((SELECT $1::pg_catalog.oid[])::pg_catalog.oid[])"
    };
    wrapped(
        &[NS_CTE, &REL_CTE.replace("{REL}", filter)],
        &rel_select(false, version),
    )
}

/// [`REL_SELECT`], printing every line (`reuse` false) or answering with a marker for a
/// line whose catalog rows are all older than the last read (`reuse`: needs the `ru` CTE
/// of [`incremental`]). Older means written by a transaction that had ended before the
/// last read's snapshot was taken: xmin before that snapshot's xmin (frozen rows keep
/// their xmin). Rows of the current transaction, of the last read's own (a function may
/// have changed the catalog after the read) and of any transaction still running at the
/// last read — subtransactions included — are new.
///
/// A line's text also depends on names stored elsewhere. Those of relations, columns,
/// types and routines that are roots are followed by the Rust side: a renamed root, or an
/// index whose line changed, has its dependants re-read in full. Renames the catalog
/// can't trace to their users — collations, operator classes and families, operators,
/// text search objects, access methods, schemas, extensions, types, routines, enum labels
/// — make the whole read a full one when this transaction updated their catalogs
/// ([`counted_exprs`]), and so does a changed composite type (a field selection depends
/// on the type's column, which no root stands for).
fn rel_select(reuse: bool, version: i32) -> String {
    let mut out = REL_SELECT
        .replace("{COMPRESSION}", compression(version))
        .replace("{STXTARGET}", stx_target(version))
        .replace(
            "{REUSE}",
            if reuse {
                "(SELECT ok FROM ru)"
            } else {
                "false"
            },
        );
    out = out
        .replace("{CONDEF}", &constraint_def())
        .replace("{INDEXDEF}", &index_def())
        .replace("{TRIGDEF}", TRIGGER_DEF)
        .replace(
            "{EXTDEPS:pg_class:i.indexrelid}",
            &ext_deps_suffix("pg_class", "i.indexrelid"),
        )
        .replace(
            "{EXTDEPS:pg_trigger:g.oid}",
            &ext_deps_suffix("pg_trigger", "g.oid"),
        )
        .replace(
            "{EXTDEP_WHERE:pg_class:c.oid}",
            &ext_dep_where("pg_class", "c.oid"),
        );
    for alias in ["a", "d", "k", "kc", "i", "ic", "ia"] {
        let old = if reuse {
            format!("pg_catalog.age({alias}.xmin) > pg_catalog.age((SELECT hx FROM ru))")
        } else {
            "false".to_string()
        };
        out = out.replace(&format!("{{OLD:{alias}}}"), &old);
    }
    out
}

/// `def`, a definition that ends in `WITH (options)` and then `tail` when the index whose
/// storage parameters `opts` holds has any (`pg_get_indexdef`, an exclusion constraint's
/// `pg_get_constraintdef`), with those options sorted. They print in the order stored,
/// and `ALTER INDEX … RESET` then `SET` moves one to the end: the same index would print
/// two ways. Only that clause is rewritten, found by its exact text right before `tail`
/// (the predicate and the constraint's states, printed after it), spelled as the server
/// spells it (`name=value`, the value quoted unless it is a plain identifier); when it is
/// not found there, `def` is left as printed.
fn with_sorted(def: &str, opts: &str, tail: &str) -> String {
    // `name=value` as the server prints it; the value is all after the first `=` ('' when
    // there is none: `substr` past the end)
    let value = "pg_catalog.substr(u.o, pg_catalog.length(pg_catalog.split_part(u.o, '=', 1)) + 2)";
    let item = format!(
        "pg_catalog.quote_ident(pg_catalog.split_part(u.o, '=', 1)) || '=' || \
         CASE WHEN pg_catalog.quote_ident({value}) = {value} THEN {value} \
              ELSE '''' || pg_catalog.replace({value}, '''', '''''') || '''' END"
    );
    // One row: the definition, the tail, and the clause's list as stored (`f`) and sorted
    // (`s`); the clause is the `length(f) + 8` characters before the tail.
    format!(
        "CASE WHEN pg_catalog.cardinality({opts}) > 1 THEN (
             SELECT CASE WHEN pg_catalog.right(x.d, pg_catalog.length(x.f) + pg_catalog.length(x.t) + 8) = ' WITH (' || x.f || ')' || x.t
                         THEN pg_catalog.left(x.d, -(pg_catalog.length(x.f) + pg_catalog.length(x.t) + 8)) || ' WITH (' || x.s || ')' || x.t
                         ELSE x.d END
               FROM (SELECT {def} AS d, {tail} AS t,
                            pg_catalog.string_agg({item}, ', ' ORDER BY u.n) AS f,
                            pg_catalog.string_agg({item}, ', ' ORDER BY u.o COLLATE \"C\") AS s
                       FROM pg_catalog.unnest({opts}) WITH ORDINALITY u(o, n)) x)
         ELSE {def} END"
    )
}

/// An index's line ([`with_sorted`]): after the options, `pg_get_indexdef` prints only
/// the predicate.
fn index_def() -> String {
    with_sorted(
        "pg_catalog.pg_get_indexdef(i.indexrelid)",
        "ic.reloptions",
        "COALESCE(' WHERE ' || pg_catalog.pg_get_expr(i.indpred, i.indrelid), '')",
    )
}

/// A constraint's definition; an exclusion constraint's with its options sorted
/// ([`with_sorted`]): after them it prints its predicate, in parentheses, and its states.
fn constraint_def() -> String {
    let tail = "(SELECT COALESCE(' WHERE (' || pg_catalog.pg_get_expr(kx.indpred, kx.indrelid) || ')', '') \
                   FROM pg_catalog.pg_index kx WHERE kx.indexrelid = k.conindid) \
                || CASE WHEN k.condeferrable THEN ' DEFERRABLE' ELSE '' END \
                || CASE WHEN k.condeferred THEN ' INITIALLY DEFERRED' ELSE '' END \
                || CASE WHEN NOT k.convalidated THEN ' NOT VALID' ELSE '' END";
    format!(
        "CASE WHEN k.contype = 'x' THEN {} ELSE pg_catalog.pg_get_constraintdef(k.oid) END",
        with_sorted(
            "pg_catalog.pg_get_constraintdef(k.oid)",
            "(SELECT kc.reloptions FROM pg_catalog.pg_class kc WHERE kc.oid = k.conindid)",
            tail,
        )
    )
}

/// A trigger's definition with the columns of `UPDATE OF a, b` sorted: the trigger fires
/// when any of them is updated, so their order means nothing, yet it prints in the order
/// given. The list is looked for after the trigger's name (which may spell anything),
/// exactly as `pg_get_triggerdef` prints it; when it is not found there the definition is
/// left as printed.
const TRIGGER_DEF: &str = r#"CASE WHEN pg_catalog.cardinality(g.tgattr::pg_catalog.int2[]) > 1 THEN (
    SELECT CASE WHEN x.p > 0
                THEN pg_catalog.left(x.d, x.pre + x.p - 1) || ' UPDATE OF ' || x.s || ' '
                     || pg_catalog.substr(x.d, x.pre + x.p + pg_catalog.length(x.u) + 12)
                ELSE x.d END
      FROM (SELECT y.d, y.pre, y.u, y.s, pg_catalog.strpos(pg_catalog.substr(y.d, y.pre + 1), ' UPDATE OF ' || y.u || ' ') AS p
              FROM (SELECT pg_catalog.pg_get_triggerdef(g.oid) AS d,
                           pg_catalog.length('CREATE ' || CASE WHEN g.tgconstraint <> 0 THEN 'CONSTRAINT ' ELSE '' END
                                             || 'TRIGGER ' || pg_catalog.quote_ident(g.tgname)) AS pre,
                           pg_catalog.string_agg(pg_catalog.quote_ident(ta.attname), ', ' ORDER BY q.n) AS u,
                           pg_catalog.string_agg(pg_catalog.quote_ident(ta.attname), ', '
                                                 ORDER BY pg_catalog.quote_ident(ta.attname) COLLATE "C") AS s
                      FROM pg_catalog.unnest(g.tgattr::pg_catalog.int2[]) WITH ORDINALITY q(a, n)
                      JOIN pg_catalog.pg_attribute ta ON ta.attrelid = g.tgrelid AND ta.attnum = q.a) y) x)
    ELSE pg_catalog.pg_get_triggerdef(g.oid) END"#;

/// The condition on `pg_depend dx` for the extensions object `obj` of catalog `catalog`
/// was marked as depending on (`ALTER … DEPENDS ON EXTENSION`, deptype `x`).
fn ext_dep_where(catalog: &str, obj: &str) -> String {
    format!(
        "dx.classid = 'pg_catalog.{catalog}'::pg_catalog.regclass AND dx.objid = {obj} AND dx.objsubid = 0 \
         AND dx.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND dx.deptype = 'x'"
    )
}

/// ` DEPENDS ON EXTENSION e` for each extension an index or trigger was marked as
/// depending on, or ''.
fn ext_deps_suffix(catalog: &str, obj: &str) -> String {
    format!(
        "COALESCE((SELECT pg_catalog.string_agg(' DEPENDS ON EXTENSION ' || pg_catalog.quote_ident(e.extname), '' \
                                                 ORDER BY e.extname) \
                     FROM pg_catalog.pg_depend dx JOIN pg_catalog.pg_extension e ON e.oid = dx.refobjid \
                    WHERE {}), '')",
        ext_dep_where(catalog, obj)
    )
}

/// A column's compression method when set (`attcompression`, PostgreSQL 14+; `\0` is the
/// default): nothing on older servers, which have no such column. Chosen by the server's
/// version rather than read through `to_jsonb(a)`, which would cost more than the rest of
/// the column line.
fn compression(version: i32) -> &'static str {
    if version >= 140000 {
        "|| CASE WHEN a.attcompression <> '' THEN ' compression ' || CASE a.attcompression WHEN 'p' THEN 'pglz' \
         WHEN 'l' THEN 'lz4' ELSE a.attcompression::pg_catalog.text END ELSE '' END"
    } else {
        ""
    }
}

/// An extended statistics object's statistics target when set (`stxstattarget`,
/// PostgreSQL 13+: -1 by default up to 16, NULL from 17 on).
fn stx_target(version: i32) -> &'static str {
    if version >= 130000 {
        "|| CASE WHEN sx.stxstattarget IS NOT NULL AND sx.stxstattarget <> -1 \
         THEN ' statistics ' || sx.stxstattarget ELSE '' END"
    } else {
        ""
    }
}

/// The comment on the routine, type or schema `alias` (of catalog `catalog`), as a line,
/// or NULL. The public schema's comment from `initdb` is the default and prints nothing.
fn comment_line(alias: &str, catalog: &str) -> String {
    let builtin = if catalog == "pg_namespace" {
        " AND NOT (dc.objoid = 2200 AND dc.description = 'standard public schema')"
    } else {
        ""
    };
    format!(
        "(SELECT 'comment ' || pg_catalog.quote_literal(dc.description) FROM pg_catalog.pg_description dc \
         WHERE dc.objoid = {alias}.oid AND dc.classoid = 'pg_catalog.{catalog}'::pg_catalog.regclass \
         AND dc.objsubid = 0{builtin})"
    )
}

/// The counters that make the gate of [`counted_exprs`], besides the updates of
/// [`GATED_COUNTED`]: `(catalog OID, counter)`. Updates of pg_collation, pg_language,
/// pg_opclass, pg_opfamily, pg_operator, pg_am, pg_ts_config, pg_ts_dict, pg_ts_parser,
/// pg_ts_template and pg_authid (renames and schema moves; a policy prints role names),
/// of pg_statistic_ext (ALTER STATISTICS renames, moves or sets a target without locking
/// the table whose lines print it), of pg_foreign_server (a foreign table prints its
/// server's name, and a rename locks no relation), and every write to pg_opclass: creating
/// or dropping a type's default operator class
/// changes how its indexes and exclusion constraints print. Creating any other such
/// object changes no name printed already, and one in use can't be dropped without what
/// uses it.
const GATE_TERMS: [(u32, &str); 15] = [
    (3456, "updated"),
    (2612, "updated"),
    (2616, "inserted"),
    (2616, "updated"),
    (2616, "deleted"),
    (2753, "updated"),
    (2617, "updated"),
    (2601, "updated"),
    (3602, "updated"),
    (3600, "updated"),
    (3601, "updated"),
    (3764, "updated"),
    (1260, "updated"),
    (3381, "updated"),
    // pg_foreign_server: a foreign table prints its server's name
    (1417, "updated"),
];

fn gate_term(&(oid, counter): &(u32, &str)) -> String {
    format!("pg_catalog.pg_stat_get_xact_tuples_{counter}({oid})")
}

/// The [`COUNTED`] catalogs whose updates count in the gate: pg_namespace, pg_extension,
/// pg_type, pg_proc, pg_enum.
const GATED_COUNTED: [u32; 5] = [2615, 3079, 1247, 1255, 3501];

/// This transaction's counters of the [`COUNTED`] catalogs, each read once: `i<oid>`,
/// `u<oid>`, `d<oid>` (inserted, updated, deleted) as columns of a subquery that is not
/// pulled up (`OFFSET 0`), where every reference would call the function again.
fn counted_columns() -> String {
    let cols = COUNTED_OIDS
        .iter()
        .map(|o| {
            format!(
                "pg_catalog.pg_stat_get_xact_tuples_inserted({o}) AS i{o}, \
                 pg_catalog.pg_stat_get_xact_tuples_updated({o}) AS u{o}, \
                 pg_catalog.pg_stat_get_xact_tuples_deleted({o}) AS d{o}"
            )
        })
        .collect::<Vec<_>>()
        .join(",\n           ");
    format!("SELECT {cols} OFFSET 0")
}

/// From [`counted_columns`] aliased `k`: the write counters (`ch`), the delete counters
/// (`del`) and the reuse gate (`gate`): [`GATE_TERMS`] and the updates of
/// [`GATED_COUNTED`] (creating a table inserts its row type, which changes no name).
fn counted_exprs() -> (String, String, String) {
    let ch = COUNTED_OIDS
        .iter()
        .map(|o| format!("k.i{o} + k.u{o} + k.d{o}"))
        .collect::<Vec<_>>()
        .join(", ");
    let del = COUNTED_OIDS
        .iter()
        .map(|o| format!("k.d{o}"))
        .collect::<Vec<_>>()
        .join(", ");
    let gate = GATE_TERMS
        .iter()
        .map(gate_term)
        .chain(GATED_COUNTED.iter().map(|o| format!("k.u{o}")))
        .collect::<Vec<_>>()
        .join(" + ");
    (format!("ARRAY[{ch}]"), format!("ARRAY[{del}]"), gate)
}

/// Routines, types, extensions and schemas: all (`full`) or those in `$1`..`$4`.
pub fn canonical_other(full: bool) -> String {
    let (proc_, typ, ext, ns) = if full {
        ("true", "true", "true", "true")
    } else {
        (
            "p.oid = ANY((SELECT $1::pg_catalog.oid[])::pg_catalog.oid[])",
            "t.oid = ANY((SELECT $2::pg_catalog.oid[])::pg_catalog.oid[])",
            "e.oid = ANY((SELECT $3::pg_catalog.oid[])::pg_catalog.oid[])",
            "n.oid = ANY((SELECT $4::pg_catalog.oid[])::pg_catalog.oid[])",
        )
    };
    wrapped(
        &[
            NS_CTE,
            &PROC_CTE.replace("{PROC}", proc_),
            &TYP_CTE.replace("{TYPE}", typ),
        ],
        &OTHER_SELECT
            .replace("{EXT}", ext)
            .replace("{NS}", ns)
            .replace("{COMMENT:p:pg_proc}", &comment_line("p", "pg_proc"))
            .replace(
                "{EXTDEP_WHERE:pg_proc:p.oid}",
                &ext_dep_where("pg_proc", "p.oid"),
            )
            .replace("{COMMENT:t:pg_type}", &comment_line("t", "pg_type"))
            .replace(
                "{COMMENT:n:pg_namespace}",
                &comment_line("n", "pg_namespace"),
            ),
    )
}

/// `own(x)`: the catalog row `x` was written by this transaction or one of its
/// subtransactions — a visible row whose xmin is still in progress can only be ours. Only
/// rows at least as new as our top-level xid (`age` 0 or less) are checked.
const OWN: &str = "(pg_catalog.age(x.xmin) <= 0 AND (SELECT top FROM own) IS NOT NULL \
     AND pg_catalog.txid_status((SELECT top FROM own) \
         + ((x.xmin::pg_catalog.text::pg_catalog.int8 - (SELECT top FROM own) % 4294967296 + 4294967296) % 4294967296)) = 'in progress')";

/// `changed(x)`: the catalog row `x` was written after the last read. Our own rows carry
/// our xid whatever command wrote them, so their command id (`cmin`) tells earlier from
/// later: `$1` is the largest `cmin` among own rows at the last read in this transaction
/// (-1 when unknown). Other rows are new when newer than the last read's snapshot (`$2`,
/// its xmax; `age` compares modulo 2^32 as the server does) or in progress at the time
/// (`$3`).
const CHANGED: &str = "(CASE WHEN {OWN} THEN x.cmin::pg_catalog.text::pg_catalog.int8 > (SELECT $1::pg_catalog.int8) \
     ELSE pg_catalog.age(x.xmin) <= pg_catalog.age((SELECT $2::pg_catalog.text::pg_catalog.xid)) OR x.xmin = ANY((SELECT $3::pg_catalog.text[])::pg_catalog.xid[]) END)";

/// Catalogs whose per-transaction write counters tell which catalogs this transaction
/// wrote to since the last read, in this order.
pub const COUNTED: [&str; 11] = [
    "pg_proc",
    "pg_type",
    "pg_enum",
    "pg_namespace",
    "pg_extension",
    "pg_constraint",
    "pg_trigger",
    "pg_rewrite",
    "pg_policy",
    "pg_description",
    "pg_statistic_ext",
];

/// The OIDs of [`COUNTED`], in the same order. System catalogs have fixed OIDs, the same
/// in every PostgreSQL version (a test checks them against the server): the statement
/// after every `BEGIN` is parsed and planned each time, and looking the names up cost more
/// than the rest of it.
pub const COUNTED_OIDS: [u32; 11] = [
    1255, 1247, 3501, 2615, 3079, 2606, 2620, 2618, 3256, 2609, 3381,
];

/// This transaction's raw counters, run right after `BEGIN` in the same simple query: one
/// int8 array of [`COUNTED`]'s inserted, updated and deleted counts (three per catalog, in
/// order) followed by the [`GATE_TERMS`] ([`Baselines::from_raw`] makes the
/// write, delete and gate values of them); then, when `with_total`, the writes of the
/// other catalogs [`total_writes`] sums (only a transaction of data statements can skip
/// the schema read, and the statement sent along tells whether it might be one); then
/// track_counts. One flat array: building the executor state for each output expression
/// is most of what such a statement costs. The counters are backend-local and only
/// reset when the backend reports its statistics (at most once a second, between
/// transactions), so a transaction's own writes are the difference to the values at its
/// start.
pub fn counters_select(with_total: bool) -> String {
    let raw = COUNTED_OIDS
        .iter()
        .flat_map(|o| {
            ["inserted", "updated", "deleted"]
                .map(|f| format!("pg_catalog.pg_stat_get_xact_tuples_{f}({o})"))
        })
        .chain(GATE_TERMS.iter().map(gate_term))
        .collect::<Vec<_>>()
        .join(", ");
    let total = if with_total {
        format!("({})::pg_catalog.text", total_writes_except_counted())
    } else {
        "NULL::pg_catalog.text".to_string()
    };
    // The raw array also goes to a transaction-local setting, where an incremental read
    // sent before this result came back takes its baselines from ([`base_from_setting`]).
    format!(
        "SELECT pg_catalog.set_config('{BASE_SETTING}', ARRAY[{raw}]::pg_catalog.text, true), {total}, \
         pg_catalog.current_setting('track_counts')"
    )
}

/// Where [`counters_select`] leaves its raw array for the rest of the transaction.
const BASE_SETTING: &str = "backstop.catalog_base";

/// The baselines of a read in a new transaction: the parameters `$4`, `$5`, `$7` when
/// known, else made from the raw array in [`BASE_SETTING`] as [`Baselines::from_raw`]
/// makes them (NULL when this transaction has none).
fn new_tx_baselines() -> String {
    let n = COUNTED_OIDS.len();
    let ch = (0..n)
        .map(|i| {
            format!(
                "br.r[{}] + br.r[{}] + br.r[{}]",
                3 * i + 1,
                3 * i + 2,
                3 * i + 3
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let del = (0..n)
        .map(|i| format!("br.r[{}]", 3 * i + 3))
        .collect::<Vec<_>>()
        .join(", ");
    let gate = (0..GATE_TERMS.len())
        .map(|i| format!("br.r[{}]", 3 * n + i + 1))
        .chain(GATED_COUNTED.iter().filter_map(|o| {
            let i = COUNTED_OIDS.iter().position(|c| c == o)?;
            Some(format!("br.r[{}]", 3 * i + 2))
        }))
        .collect::<Vec<_>>()
        .join(" + ");
    format!(
        r#"
b AS MATERIALIZED (
    SELECT COALESCE((SELECT $4::pg_catalog.int8[]), ARRAY[{ch}]) AS ch,
           COALESCE((SELECT $5::pg_catalog.int8[]), ARRAY[{del}]) AS del,
           COALESCE((SELECT $7::pg_catalog.int8), {gate}) AS gate
      FROM (SELECT (NULLIF(pg_catalog.current_setting('{BASE_SETTING}', true), ''))::pg_catalog.int8[] AS r OFFSET 0) br
),"#
    )
}

/// Counter values at a transaction's start, from [`counters_select`]'s raw array: per
/// [`COUNTED`] catalog its writes and deletes, and the reuse gate of [`counted_exprs`].
pub struct Baselines {
    pub ch: Vec<i64>,
    pub del: Vec<i64>,
    pub gate: i64,
    /// The writes to the [`COUNTED`] catalogs, summed: part of [`total_writes`].
    pub counted_writes: i64,
}

impl Baselines {
    pub fn from_raw(raw: &[i64]) -> Option<Baselines> {
        let n = COUNTED_OIDS.len();
        if raw.len() != 3 * n + GATE_TERMS.len() {
            return None;
        }
        let (counted, gated) = raw.split_at(3 * n);
        let ch: Vec<i64> = counted.chunks(3).map(|c| c.iter().sum()).collect();
        let del = counted.chunks(3).map(|c| c[2]).collect();
        // The updates of pg_namespace, pg_extension, pg_type and pg_proc, as in the SQL.
        let updates_of = |oid: u32| -> i64 {
            COUNTED_OIDS
                .iter()
                .position(|o| *o == oid)
                .map_or(0, |i| counted[3 * i + 1])
        };
        let gate =
            gated.iter().sum::<i64>() + GATED_COUNTED.iter().map(|o| updates_of(*o)).sum::<i64>();
        let counted_writes = ch.iter().sum();
        Some(Baselines {
            ch,
            del,
            gate,
            counted_writes,
        })
    }
}

/// This transaction's writes (inserts, updates and deletes) to the catalog `rel` (an OID
/// or a regclass literal), as an expression.
fn writes_of(rel: &str) -> String {
    format!(
        "pg_catalog.pg_stat_get_xact_tuples_inserted({rel}) + pg_catalog.pg_stat_get_xact_tuples_updated({rel}) \
         + pg_catalog.pg_stat_get_xact_tuples_deleted({rel})"
    )
}

/// This transaction's writes (inserts, updates, deletes) to every catalog the schema text
/// is read from ([`STAMPED`] and pg_depend), summed. The counters only grow inside a
/// transaction, so an unchanged sum means no such catalog was written: a transaction of
/// data changes alone (even through functions or triggers) did not change the schema.
pub fn total_writes() -> String {
    total_of(STAMPED.iter().chain(["pg_depend", "pg_authid"].iter()))
}

fn total_of<'a>(catalogs: impl Iterator<Item = &'a &'a str>) -> String {
    catalogs
        .map(|c| writes_of(&format!("'pg_catalog.{c}'::pg_catalog.regclass")))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// [`total_writes`] without the [`COUNTED`] catalogs (all of which it includes).
fn total_writes_except_counted() -> String {
    total_of(
        STAMPED
            .iter()
            .chain(["pg_depend", "pg_authid"].iter())
            .filter(|c| !COUNTED.contains(c)),
    )
}

/// [`total_writes`] now, and track_counts: compared with the total at `BEGIN`, whether
/// the transaction wrote a catalog.
pub fn total_check() -> String {
    format!(
        "SELECT ({})::pg_catalog.int8, pg_catalog.current_setting('track_counts')::pg_catalog.bool",
        total_writes()
    )
}

/// Our xid, snapshot and this transaction's catalog write/delete counters: what a full
/// read records so that the next read can tell what changed since.
pub fn head() -> String {
    let (ch, del, gate) = counted_exprs();
    format!(
        "SELECT pg_catalog.txid_snapshot_xmax(s.s), ARRAY(SELECT pg_catalog.txid_snapshot_xip(s.s)), \
         {ch}, {del}, pg_catalog.current_setting('track_counts')::pg_catalog.bool, \
         pg_catalog.txid_snapshot_xmin(s.s), {gate} \
         FROM (SELECT pg_catalog.txid_current_snapshot() AS s) s, ({}) k",
        counted_columns()
    )
}

/// Our relation locks of DDL strength, mapped to the root they belong to: `rk`/`root` of
/// a relation, an index's table or a composite type; `gone` when the relation was dropped.
const LOCKS_CTE: &str = r#"
lk AS MATERIALIZED (
    SELECT DISTINCT l.relation AS oid FROM pg_catalog.pg_locks l
     WHERE l.locktype = 'relation' AND l.pid = pg_catalog.pg_backend_pid() AND l.relation >= 16384
       AND l.mode IN ('ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
),
lkmap AS MATERIALIZED (
    SELECT l.oid AS lockoid, c.oid IS NULL AS gone,
           CASE WHEN c.relkind = 'c' THEN 't' ELSE 'r' END AS rk,
           CASE WHEN c.oid IS NULL THEN l.oid
                WHEN c.relkind IN ('i', 'I') THEN (SELECT i.indrelid FROM pg_catalog.pg_index i WHERE i.indexrelid = c.oid)
                WHEN c.relkind = 'c' THEN c.reltype
                ELSE l.oid END AS root
      FROM lk l LEFT JOIN pg_catalog.pg_class c ON c.oid = l.oid
     WHERE c.oid IS NULL OR c.relnamespace <> 'pg_toast'::pg_catalog.regnamespace
)"#;

/// Catalog rows of the locked relations, for a transaction that already read the schema.
const LROWS_CTE: &str = r#"
lrows AS MATERIALIZED (
    SELECT l.lockoid AS rel, x.xmin, x.cmin FROM lkmap l JOIN pg_catalog.pg_class x ON x.oid = l.lockoid
    -- the TOAST table's row: it holds the `toast.…` storage parameters
    UNION ALL SELECT l.lockoid, x.xmin, x.cmin FROM lkmap l JOIN pg_catalog.pg_class r ON r.oid = l.lockoid
                                                  JOIN pg_catalog.pg_class x ON x.oid = r.reltoastrelid
    UNION ALL SELECT l.lockoid, x.xmin, x.cmin FROM lkmap l JOIN pg_catalog.pg_attribute x ON x.attrelid = l.lockoid
    UNION ALL SELECT l.lockoid, x.xmin, x.cmin FROM lkmap l JOIN pg_catalog.pg_attrdef x ON x.adrelid = l.lockoid
    UNION ALL SELECT l.lockoid, x.xmin, x.cmin FROM lkmap l JOIN pg_catalog.pg_constraint x ON x.conrelid = l.lockoid
    UNION ALL SELECT l.lockoid, x.xmin, x.cmin FROM lkmap l JOIN pg_catalog.pg_index x ON x.indrelid = l.lockoid
    UNION ALL SELECT l.lockoid, x.xmin, x.cmin FROM lkmap l JOIN pg_catalog.pg_trigger x ON x.tgrelid = l.lockoid
    UNION ALL SELECT l.lockoid, x.xmin, x.cmin FROM lkmap l JOIN pg_catalog.pg_rewrite x ON x.ev_class = l.lockoid
    UNION ALL SELECT l.lockoid, x.xmin, x.cmin FROM lkmap l JOIN pg_catalog.pg_policy x ON x.polrelid = l.lockoid
    UNION ALL SELECT l.lockoid, x.xmin, x.cmin FROM lkmap l JOIN pg_catalog.pg_sequence x ON x.seqrelid = l.lockoid
    UNION ALL SELECT l.lockoid, x.xmin, x.cmin FROM lkmap l JOIN pg_catalog.pg_inherits x ON x.inhrelid = l.lockoid
    UNION ALL SELECT l.lockoid, x.xmin, x.cmin FROM lkmap l JOIN pg_catalog.pg_description x
                                                  ON x.objoid = l.lockoid AND x.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
    UNION ALL SELECT l.lockoid, x.xmin, x.cmin FROM lkmap l JOIN pg_catalog.pg_statistic_ext x ON x.stxrelid = l.lockoid
    UNION ALL SELECT l.lockoid, x.xmin, x.cmin FROM lkmap l JOIN pg_catalog.pg_foreign_table x ON x.ftrelid = l.lockoid
)"#;

/// The catalogs without relation locks (routines, types, enum labels, schemas,
/// extensions, domain constraints, and the comments on routines, types and schemas), each
/// scanned only when this transaction wrote to it since the last read (`$4`..`$9`, `$20`); and tracked roots of those kinds (`$15`..`$19`)
/// checked for existence when their catalog saw deletes (`$10`..`$14`). Returns changed
/// roots, the largest own `cmin` seen, and the gone ones (`k:<oid>` for a domain
/// constraint). `$1`–`$3`: see [`CHANGED`].
///
/// A separate statement, run only when needed: even with their one-time filters false,
/// these scans cost more to start up than a round trip. Types and domain constraints are
/// normally scanned by [`incremental`] already (then `$5`/`$9` are false).
const OTHER_ROWS: &str = r#"
WITH own AS MATERIALIZED (SELECT pg_catalog.txid_current_if_assigned() AS top),
nr AS MATERIALIZED (
    SELECT 'f'::pg_catalog.text AS rk, x.oid AS root, x.xmin, x.cmin FROM pg_catalog.pg_proc x
     WHERE (SELECT $4::pg_catalog.bool) AND x.oid >= 16384
    UNION ALL
    SELECT 't', x.oid, x.xmin, x.cmin FROM pg_catalog.pg_type x
     WHERE (SELECT $5::pg_catalog.bool) AND x.oid >= 16384 AND x.typrelid = 0 AND NOT (x.typelem <> 0 AND x.typlen = -1)
    UNION ALL
    SELECT 't', x.enumtypid, x.xmin, x.cmin FROM pg_catalog.pg_enum x
     WHERE (SELECT $6::pg_catalog.bool) AND x.oid >= 16384
    UNION ALL
    SELECT 'n', x.oid, x.xmin, x.cmin FROM pg_catalog.pg_namespace x WHERE (SELECT $7::pg_catalog.bool)
    UNION ALL
    SELECT 'e', x.oid, x.xmin, x.cmin FROM pg_catalog.pg_extension x WHERE (SELECT $8::pg_catalog.bool)
    UNION ALL
    SELECT 't', x.contypid, x.xmin, x.cmin FROM pg_catalog.pg_constraint x
     WHERE (SELECT $9::pg_catalog.bool) AND x.conrelid = 0 AND x.contypid <> 0
    UNION ALL
    -- comments on routines, types and schemas: COMMENT ON locks no relation
    SELECT CASE x.classoid WHEN 'pg_catalog.pg_proc'::pg_catalog.regclass THEN 'f'
                           WHEN 'pg_catalog.pg_type'::pg_catalog.regclass THEN 't' ELSE 'n' END,
           x.objoid, x.xmin, x.cmin FROM pg_catalog.pg_description x
     WHERE (SELECT $20::pg_catalog.bool) AND x.objsubid = 0
       AND x.classoid IN ('pg_catalog.pg_proc'::pg_catalog.regclass, 'pg_catalog.pg_type'::pg_catalog.regclass,
                          'pg_catalog.pg_namespace'::pg_catalog.regclass)
),
gone AS (
    SELECT 'f:' || o AS r FROM pg_catalog.unnest((SELECT $15::pg_catalog.oid[])) o
     WHERE (SELECT $10::pg_catalog.bool) AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc x WHERE x.oid = o)
    UNION ALL
    SELECT 't:' || o FROM pg_catalog.unnest((SELECT $16::pg_catalog.oid[])) o
     WHERE (SELECT $11::pg_catalog.bool) AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type x WHERE x.oid = o)
    UNION ALL
    SELECT 'n:' || o FROM pg_catalog.unnest((SELECT $17::pg_catalog.oid[])) o
     WHERE (SELECT $12::pg_catalog.bool) AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace x WHERE x.oid = o)
    UNION ALL
    SELECT 'e:' || o FROM pg_catalog.unnest((SELECT $18::pg_catalog.oid[])) o
     WHERE (SELECT $13::pg_catalog.bool) AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension x WHERE x.oid = o)
    UNION ALL
    SELECT 'k:' || o FROM pg_catalog.unnest((SELECT $19::pg_catalog.oid[])) o
     WHERE (SELECT $14::pg_catalog.bool) AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint x WHERE x.oid = o)
)
SELECT ARRAY(SELECT DISTINCT x.rk || ':' || x.root FROM nr x WHERE {CHANGED}),
       (SELECT pg_catalog.max(x.cmin::pg_catalog.text::pg_catalog.int8) FROM nr x WHERE {OWN}),
       ARRAY(SELECT r FROM gone)
"#;

pub fn other_rows() -> String {
    OTHER_ROWS
        .replace("{CHANGED}", CHANGED)
        .replace("{OWN}", OWN)
}

/// Whether lines may be reused in a read in a new transaction ([`rel_select`]): `$6` the
/// last read's snapshot xmin, and the gate of [`counted_exprs`] at this transaction's
/// start ([`new_tx_baselines`]); no reuse when either is unknown, without statistics, or
/// when the gate moved (the Rust side then reads everything).
const RU_CTE: &str = r#"
ru AS MATERIALIZED (
    SELECT COALESCE(c.tc AND (SELECT $6::pg_catalog.text) IS NOT NULL AND c.gate = (SELECT gate FROM b), false) AS ok,
           (SELECT $6::pg_catalog.text)::pg_catalog.xid AS hx
      FROM cnt c
),"#;

/// The incremental read after a migration, in one round trip: our snapshot and catalog
/// counters, the relations this transaction changed, and their canonical text. Besides
/// the relation rows it returns `H` (own xid, snapshot xmax and xip, write and delete
/// counters, track_counts, largest own cmin seen), `L` (locked relations as
/// `<oid> r:<root>`, `<oid> t:<type>`, `<oid> g:<oid>` when dropped), `T` (changed types
/// and domains) and `R` (the relation roots re-read).
///
/// Relations: any DDL that touches a relation's catalog rows holds at least
/// ShareUpdateExclusiveLock on it until the transaction ends
/// (<https://www.postgresql.org/docs/current/explicit-locking.html>), so our own
/// `pg_locks` name every relation this transaction may have changed. In a transaction
/// whose earlier changes were already read (`same_tx`), their catalog rows tell which
/// changed since ([`CHANGED`]), unless a constraint, trigger, rule, policy, comment or statistics object was dropped
/// (delete counters moved): then all of them.
///
/// Types and domain constraints are scanned here when their catalogs' write counters moved
/// since the baseline (`$4`, `$5`; NULL: unknown), because nearly every migration that
/// creates a table writes pg_type (its row type) and pg_constraint; a second statement
/// would cost more than the scan. The rarer catalogs are left to [`other_rows`].
///
/// Parameters: `$1`–`$3` see [`CHANGED`], `$4`/`$5` the write/delete counter baselines.
pub fn incremental(same_tx: bool, version: i32) -> String {
    let counted = counted_exprs();
    let head_ctes = format!(
        r#"
cnt AS MATERIALIZED (
    SELECT {ch} AS ch,
           {del} AS del,
           pg_catalog.current_setting('track_counts')::pg_catalog.bool AS tc,
           {gate} AS gate
      FROM ({counted}) k
),
{b}
g AS MATERIALIZED (
    SELECT NOT c.tc OR b.ch IS NULL OR c.ch[2] IS DISTINCT FROM b.ch[2] AS g_type,
           NOT c.tc OR b.ch IS NULL OR c.ch[6] IS DISTINCT FROM b.ch[6] AS g_con,
           NOT c.tc OR b.del IS NULL OR c.del[6:11] IS DISTINCT FROM b.del[6:11] AS subdel
      FROM cnt c, b
),
own AS MATERIALIZED (SELECT pg_catalog.txid_current_if_assigned() AS top),
tscan AS MATERIALIZED (
    SELECT CASE WHEN x.typtype = 'm' THEN 'm' ELSE 't' END::pg_catalog.text AS rk, x.oid AS root, x.xmin, x.cmin
      FROM pg_catalog.pg_type x
     WHERE (SELECT g_type FROM g) AND x.oid >= 16384 AND x.typrelid = 0 AND NOT (x.typelem <> 0 AND x.typlen = -1)
    UNION ALL
    SELECT 't', x.contypid, x.xmin, x.cmin FROM pg_catalog.pg_constraint x
     WHERE (SELECT g_con FROM g) AND x.conrelid = 0 AND x.contypid <> 0
)"#,
        ch = counted.0,
        del = counted.1,
        gate = counted.2,
        counted = counted_columns(),
        b = if same_tx {
            "\nb AS MATERIALIZED (SELECT (SELECT $4::pg_catalog.int8[]) AS ch, (SELECT $5::pg_catalog.int8[]) AS del),"
                .to_string()
        } else {
            new_tx_baselines()
        },
    );
    let (lrows, dirty_cond, max_cmin) = if same_tx {
        (
            LROWS_CTE.to_string(),
            format!("(SELECT subdel FROM g) OR m.lockoid IN (SELECT x.rel FROM lrows x WHERE {CHANGED})"),
            format!(
                "(SELECT pg_catalog.max(x.cmin::pg_catalog.text::pg_catalog.int8) \
                    FROM (SELECT xmin, cmin FROM lrows UNION ALL SELECT xmin, cmin FROM tscan) x WHERE {OWN})::pg_catalog.text"
            ),
        )
    } else {
        // A new transaction: every relation it locked for DDL, it locked for a reason.
        (
            String::new(),
            "true".to_string(),
            "NULL::pg_catalog.text".to_string(),
        )
    };
    let dirty = format!(
        r#"
dirty0 AS MATERIALIZED (
    SELECT DISTINCT m.root FROM lkmap m
     WHERE m.rk = 'r' AND NOT m.gone AND m.root IS NOT NULL AND ({dirty_cond})
),
-- with the sequences the re-read tables own through a column whose catalog row changed
-- since the last read: whether a sequence prints its owner depends on that column's
-- default, which changes without locking the sequence. Setting or dropping a default
-- rewrites the column's pg_attribute row (atthasdef), as does renaming the column; a
-- renamed table re-reads its dependants, the sequence with them, and everything else
-- that changes the line locks the sequence itself (ALTER SEQUENCE, OWNED BY, DROP).
dirty AS MATERIALIZED (
    SELECT d.root FROM dirty0 d
    UNION
    SELECT dp.objid FROM dirty0 d JOIN pg_catalog.pg_depend dp
        ON dp.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND dp.refobjid = d.root
       AND dp.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND dp.deptype = 'a'
      JOIN pg_catalog.pg_attribute x ON x.attrelid = dp.refobjid AND x.attnum = dp.refobjsubid
     WHERE {CHANGED}
)"#
    );
    let rel = REL_CTE.replace("{REL}", "c.oid IN (SELECT d.root FROM dirty d)");
    let select = format!(
        r#"{rel_select}
UNION ALL
SELECT 'H', NULL, NULL,
       ARRAY[pg_catalog.txid_current_if_assigned()::pg_catalog.text,
             pg_catalog.txid_snapshot_xmax(pg_catalog.txid_current_snapshot())::pg_catalog.text,
             ARRAY(SELECT pg_catalog.txid_snapshot_xip(pg_catalog.txid_current_snapshot()))::pg_catalog.text,
             (SELECT ch FROM cnt)::pg_catalog.text, (SELECT del FROM cnt)::pg_catalog.text, (SELECT tc FROM cnt)::pg_catalog.text,
             {max_cmin},
             pg_catalog.txid_snapshot_xmin(pg_catalog.txid_current_snapshot())::pg_catalog.text,
             (SELECT gate FROM cnt)::pg_catalog.text],
       NULL
UNION ALL
SELECT 'L', NULL, NULL,
       ARRAY(SELECT m.lockoid || ' ' || CASE WHEN m.gone THEN 'g' ELSE m.rk END || ':' || m.root
               FROM lkmap m WHERE m.root IS NOT NULL),
       NULL
UNION ALL
SELECT 'T', NULL, NULL, ARRAY(SELECT DISTINCT x.rk || ':' || x.root FROM tscan x WHERE {CHANGED}), NULL
UNION ALL
SELECT 'R', NULL, NULL, NULL, ARRAY(SELECT d.root FROM dirty d)"#,
        rel_select = rel_select(!same_tx, version)
    );
    let ru = if same_tx {
        ""
    } else {
        RU_CTE.trim_end_matches(',')
    };
    let ctes = [
        head_ctes.as_str(),
        LOCKS_CTE,
        ru,
        &lrows,
        &dirty,
        NS_CTE,
        &rel,
    ];
    let ctes: Vec<&str> = ctes.iter().copied().filter(|c| !c.is_empty()).collect();
    wrapped(&ctes, &select)
        .replace("{CHANGED}", CHANGED)
        .replace("{OWN}", OWN)
}

/// Roots whose canonical text mentions the given objects by name: what must be re-read
/// when a relation, type or routine was renamed (a view printing `t.col`, an FK printing
/// `REFERENCES t(id)`, a column of type `mood`, a trigger calling `f()`). `$1` relations,
/// `$2` types, `$3` routines.
pub const DEPENDENTS: &str = r#"
WITH src(cls, o) AS (
    SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid, o FROM pg_catalog.unnest($1::pg_catalog.oid[]) o
    UNION SELECT 'pg_catalog.pg_type'::pg_catalog.regclass::pg_catalog.oid, o FROM pg_catalog.unnest($2::pg_catalog.oid[]) o
    UNION SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass::pg_catalog.oid, o FROM pg_catalog.unnest($3::pg_catalog.oid[]) o
    UNION SELECT 'pg_catalog.pg_type'::pg_catalog.regclass::pg_catalog.oid, c.reltype
            FROM pg_catalog.pg_class c WHERE c.oid = ANY($1::pg_catalog.oid[]) AND c.reltype <> 0
    UNION SELECT 'pg_catalog.pg_type'::pg_catalog.regclass::pg_catalog.oid, t.typarray
            FROM pg_catalog.pg_type t
           WHERE (t.oid = ANY($2::pg_catalog.oid[]) OR t.typrelid = ANY($1::pg_catalog.oid[])) AND t.typarray <> 0
)
SELECT DISTINCT m.rk || ':' || m.root
  FROM src
  JOIN pg_catalog.pg_depend d ON d.refclassid = src.cls AND d.refobjid = src.o
  CROSS JOIN LATERAL (
      SELECT CASE WHEN c.relkind = 'c' THEN 't' ELSE 'r' END,
             CASE WHEN c.relkind IN ('i', 'I') THEN (SELECT i.indrelid FROM pg_catalog.pg_index i WHERE i.indexrelid = c.oid)
                  WHEN c.relkind = 'c' THEN c.reltype ELSE c.oid END
        FROM pg_catalog.pg_class c
       WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND c.oid = d.objid AND c.relkind <> 't'
      UNION ALL
      SELECT 'r', x.ev_class FROM pg_catalog.pg_rewrite x
       WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND x.oid = d.objid
      UNION ALL
      SELECT 'r', x.adrelid FROM pg_catalog.pg_attrdef x
       WHERE d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND x.oid = d.objid
      UNION ALL
      SELECT CASE WHEN x.conrelid <> 0 THEN 'r' ELSE 't' END,
             CASE WHEN x.conrelid <> 0 THEN x.conrelid ELSE x.contypid END
        FROM pg_catalog.pg_constraint x
       WHERE d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass AND x.oid = d.objid
      UNION ALL
      SELECT 'r', x.tgrelid FROM pg_catalog.pg_trigger x
       WHERE d.classid = 'pg_catalog.pg_trigger'::pg_catalog.regclass AND x.oid = d.objid
      UNION ALL
      SELECT 'r', x.polrelid FROM pg_catalog.pg_policy x
       WHERE d.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass AND x.oid = d.objid
      UNION ALL
      SELECT 'f', d.objid WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
      UNION ALL
      SELECT CASE WHEN x.typrelid <> 0 AND r.relkind <> 'c' THEN 'r' ELSE 't' END,
             CASE WHEN x.typrelid <> 0 AND r.relkind <> 'c' THEN x.typrelid ELSE x.oid END
        FROM pg_catalog.pg_type x LEFT JOIN pg_catalog.pg_class r ON r.oid = x.typrelid
       WHERE d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND x.oid = d.objid
         AND NOT (x.typelem <> 0 AND x.typlen = -1)
  ) m(rk, root)
 WHERE d.deptype IN ('n', 'a') AND m.root IS NOT NULL
"#;

/// Invalid indexes and NOT VALID constraints in user schemas (for `health`): kind,
/// qualified name, qualified table.
pub const HEALTH: &str = r#"
SELECT 'index', pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(ic.relname),
       pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(c.relname)
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = ic.relnamespace
  JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
  JOIN pg_catalog.pg_namespace tn ON tn.oid = c.relnamespace
 WHERE NOT i.indisvalid
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'backstop')
   AND pg_catalog.left(n.nspname, 8) NOT IN ('pg_toast', 'pg_temp_')
UNION ALL
SELECT 'constraint', pg_catalog.quote_ident(k.conname),
       pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)
  FROM pg_catalog.pg_constraint k
  JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT k.convalidated
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'backstop')
   AND pg_catalog.left(n.nspname, 8) NOT IN ('pg_toast', 'pg_temp_')
 ORDER BY 1, 2, 3
"#;

/// INVALID plain indexes on table `$1` (an oid) or its partitions (a REINDEX of a
/// partitioned table builds its copies there), when no other session is building or
/// rebuilding an index on that table right now (for `drop_invalid_indexes`): qualified
/// name, schema, name. A build this role may not see the table of (another role's,
/// without pg_read_all_stats) holds back every candidate.
pub const DROPPABLE_INVALID: &str = r#"
SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(ic.relname),
       n.nspname::pg_catalog.text, ic.relname::pg_catalog.text
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = ic.relnamespace
 WHERE (i.indrelid = $1 OR i.indrelid IN (SELECT t.relid FROM pg_catalog.pg_partition_tree($1::pg_catalog.oid::pg_catalog.regclass) t))
   AND NOT i.indisvalid AND ic.relkind = 'i'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'backstop')
   AND pg_catalog.left(n.nspname, 8) NOT IN ('pg_toast', 'pg_temp_')
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_progress_create_index p
                    WHERE p.pid <> pg_catalog.pg_backend_pid()
                      AND (p.relid IS NULL OR p.relid = i.indrelid
                           OR p.index_relid = i.indexrelid))
 ORDER BY 1
"#;

/// Every catalog the canonical text is read from, directly or through the `pg_get_*def`
/// functions (which print names of types, operators, opclasses, collations, text search
/// configurations and so on) — except pg_authid, which only superusers may read: roles
/// are printed by name only, and [`stamp`] reads their names from pg_roles instead.
pub const STAMPED: &[&str] = &[
    "pg_namespace",
    "pg_class",
    "pg_attribute",
    "pg_attrdef",
    "pg_constraint",
    "pg_index",
    "pg_trigger",
    "pg_rewrite",
    "pg_policy",
    "pg_inherits",
    "pg_partitioned_table",
    "pg_sequence",
    "pg_proc",
    "pg_aggregate",
    "pg_type",
    "pg_enum",
    "pg_range",
    "pg_collation",
    "pg_extension",
    "pg_am",
    "pg_opclass",
    "pg_opfamily",
    "pg_operator",
    "pg_language",
    "pg_ts_config",
    "pg_ts_dict",
    "pg_foreign_table",
    "pg_foreign_server",
    "pg_description",
    "pg_statistic_ext",
    "pg_foreign_data_wrapper",
    "pg_cast",
    "pg_conversion",
];

/// The catalog stamp: per catalog of [`STAMPED`], its row count and the sum of a hash of
/// each row's `xmin`, all hashed together. A row inserted or updated after the stamp was
/// taken carries the id of a transaction that had not committed then, so it brings a
/// hash the sum did not have, and a delete lowers the count: a change goes unnoticed only
/// if hashes cancel out exactly (the sums of the ids themselves can: a transaction that
/// got its id before the stamp and commits after it writes rows *older* than some already
/// there). Of pg_depend only extension membership, sequence ownership and the
/// dependencies `DEPENDS ON EXTENSION` declares (deptypes `e`, `a` and `x`) shape the
/// text; roles
/// are printed only in policies, so only the roles policies name count, by oid and name
/// from pg_roles (readable by every user; roles are shared by the whole cluster, and
/// creating one elsewhere must not look like a change here).
///
/// `xmin` is read as `r - age(xmin)`, where `r = 3 + age('3')` is the reference `age`
/// counts from (stable within the statement): that is `xmin` itself, without the text
/// round trip `xmin::pg_catalog.text::pg_catalog.int8` would cost on every row. Rows of bootstrap or frozen ids
/// (`age` = 2^31-1) are counted, not summed. Reading the stamp costs a fraction of reading
/// the canonical text (tens of ms for 2,000 tables, against about half a second).
pub fn stamp() -> String {
    let part = |c: &str, filter: &str| {
        format!(
            "SELECT '{c}', pg_catalog.count(*), \
             pg_catalog.sum(pg_catalog.hashint8((SELECT r FROM r) - y.a)::pg_catalog.int8) FILTER (WHERE y.a < 2147483647) \
             FROM (SELECT pg_catalog.age(x.xmin)::pg_catalog.int8 AS a FROM pg_catalog.{c} x{filter}) y"
        )
    };
    let mut parts: Vec<String> = STAMPED.iter().map(|c| part(c, "")).collect();
    parts.push(part("pg_depend", " WHERE x.deptype IN ('e', 'a', 'x')"));
    parts.push(
        "SELECT 'pg_roles', pg_catalog.count(*), \
         pg_catalog.sum(pg_catalog.hashtext(x.oid::pg_catalog.text || ':' || x.rolname)::pg_catalog.int8) \
         FROM pg_catalog.pg_roles x \
         WHERE x.oid IN (SELECT pg_catalog.unnest(p.polroles) FROM pg_catalog.pg_policy p)"
            .to_string(),
    );
    format!(
        "WITH r AS MATERIALIZED (SELECT 3 + pg_catalog.age('3'::pg_catalog.xid)::pg_catalog.int8 AS r) \
         SELECT pg_catalog.md5(pg_catalog.string_agg(c || ':' || n || ':' || COALESCE(s, 0), ',' ORDER BY c)) \
         FROM ({}) t(c, n, s)",
        parts.join(" UNION ALL ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    /// The fixed OIDs used after every BEGIN name the catalogs they stand for.
    #[test]
    fn counted_oids_match_the_server() {
        let db = TestDb::new();
        let mut c = db.client();
        for (name, oid) in COUNTED.iter().zip(COUNTED_OIDS) {
            let row = c
                .query_one(
                    "SELECT to_regclass($1)::pg_catalog.oid",
                    &[&format!("pg_catalog.{name}")],
                )
                .unwrap();
            let found: u32 = row.get(0);
            assert_eq!(found, oid, "pg_catalog.{name}");
        }
    }
}
