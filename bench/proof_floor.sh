#!/usr/bin/env bash
# bench/proof_floor.sh — run by hand, not in CI. The least a per-step schema proof can cost
# on this server: pgbench times a rollback-like step (BEGIN; ALTER TABLE … DROP COLUMN;
# ROLLBACK, so every iteration starts from the same schema) alone, with one extra round
# trip (SELECT 1), and with the narrowest read that could still prove the table afterwards:
# our own relation locks, and the table's columns with types and defaults, its constraints
# and its indexes, printed. backstop's proof reads more than that (triggers, rules,
# policies, comments, statistics, sequences, dependants, the catalogs without relation
# locks), so what this measures is a lower bound for any proof that prints what it compares.
# A control runs the same catalog-row read in a transaction without DDL.
# Runs on a fresh database on the local PostgreSQL (PGURL=postgres://…/postgres), dropped at
# the end. Knobs: N (generated migrations for the schema, default 100), T (seconds per
# pgbench run, 5), RUNS (3). Results: bench/work/proof_floor.txt
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100} T=${T:-5} RUNS=${RUNS:-3}
ADMIN=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
. scripts/lib.sh; ensure_postgres
command -v pgbench >/dev/null || apt_install postgresql-contrib
W=$PWD/bench/work/proof_floor; rm -rf "$W"; mkdir -p "$W"
python3 bench/gen.py "$N" "$W/gen" >/dev/null
DB=bs_proof_floor_$$_$RANDOM
U=${ADMIN%/*}/$DB
psql -X -q -d "$ADMIN" -c "CREATE DATABASE $DB"
trap 'psql -X -q -d "$ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"' EXIT
psql -X -q -v ON_ERROR_STOP=1 -d "$U" -f "$W/gen/all_up.sql" >/dev/null
# t_1 is the widest table of the generated schema: the one most steps touch.
# The table's OID goes in as a parameter (`:oid`), as backstop passes OIDs: a cached plan
# holding an oid or regclass constant depends on that relation and is re-planned after
# every DDL on it.
read -r oid cols idx cons < <(psql -X -At -F ' ' -d "$U" -c "SELECT 't_1'::regclass::oid,
  (SELECT count(*) FROM pg_attribute WHERE attrelid = 't_1'::regclass AND attnum > 0 AND NOT attisdropped),
  (SELECT count(*) FROM pg_index WHERE indrelid = 't_1'::regclass),
  (SELECT count(*) FROM pg_constraint WHERE conrelid = 't_1'::regclass)")
step='ALTER TABLE t_1 DROP COLUMN c_2;'
lean="SELECT (SELECT pg_catalog.array_agg(l.relation) FROM pg_catalog.pg_locks l
          WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation' AND l.relation >= 16384),
       (SELECT pg_catalog.array_agg(a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
                 || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                 || COALESCE(' DEFAULT ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid), '') ORDER BY a.attname)
          FROM pg_catalog.pg_attribute a
          LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = (:oid)::pg_catalog.oid AND a.attnum > 0 AND NOT a.attisdropped),
       (SELECT pg_catalog.array_agg(c.conname || ' ' || pg_catalog.pg_get_constraintdef(c.oid) ORDER BY c.conname)
          FROM pg_catalog.pg_constraint c WHERE c.conrelid = (:oid)::pg_catalog.oid),
       (SELECT pg_catalog.array_agg(pg_catalog.pg_get_indexdef(i.indexrelid) ORDER BY 1)
          FROM pg_catalog.pg_index i WHERE i.indrelid = (:oid)::pg_catalog.oid);"
# What a read that reuses unchanged lines must still do: find its locks and the table's
# catalog rows with their xmin (nothing printed).
rows="SELECT (SELECT pg_catalog.array_agg(l.relation) FROM pg_catalog.pg_locks l
          WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation' AND l.relation >= 16384),
       ARRAY(SELECT x.xmin::text FROM pg_catalog.pg_class x WHERE x.oid = (:oid)::pg_catalog.oid
             UNION ALL SELECT x.xmin::text FROM pg_catalog.pg_attribute x WHERE x.attrelid = (:oid)::pg_catalog.oid
             UNION ALL SELECT x.xmin::text FROM pg_catalog.pg_attrdef x WHERE x.adrelid = (:oid)::pg_catalog.oid
             UNION ALL SELECT x.xmin::text FROM pg_catalog.pg_constraint x WHERE x.conrelid = (:oid)::pg_catalog.oid
             UNION ALL SELECT x.xmin::text FROM pg_catalog.pg_index x WHERE x.indrelid = (:oid)::pg_catalog.oid);"
printf 'BEGIN;\n%s\nROLLBACK;\n' "$step" > "$W/step.sql"
printf 'BEGIN;\n%s\nSELECT 1;\nROLLBACK;\n' "$step" > "$W/round_trip.sql"
printf 'BEGIN;\n%s\n%s\nROLLBACK;\n' "$step" "$rows" > "$W/rows_only.sql"
# The control: the same read with no DDL before it in its transaction.
printf 'BEGIN;\nSELECT 1;\nROLLBACK;\n' > "$W/no_ddl.sql"
printf 'BEGIN;\n%s\nROLLBACK;\n' "$rows" > "$W/no_ddl_rows.sql"
printf 'BEGIN;\n%s\n%s\nROLLBACK;\n' "$step" "$lean" > "$W/lean_proof.sql"
# Mean latency of one pgbench run, in µs (prepared statements: plans are cached, as backstop's are).
lat() { pgbench -n -M prepared -c 1 -T "$T" -D oid="$oid" -f "$W/$1.sql" "$U" 2>&1 | awk '/latency average/ {printf "%.0f", $4 * 1000}'; }
out="$W/rows.txt"; : > "$out"
for r in $(seq 1 "$RUNS"); do
  s=$(lat step); t=$(lat round_trip); o=$(lat rows_only); l=$(lat lean_proof); n=$(lat no_ddl); m=$(lat no_ddl_rows)
  echo "$r $s $t $o $l $n $m" >> "$out"
done
{
  echo "proof floor: $(date -u +%FT%TZ); $(psql -X -At -d "$ADMIN" -c 'show server_version'); t_1 has $cols columns, $idx indexes, $cons constraints; pgbench -M prepared -T $T, $RUNS runs interleaved"
  # Each read is compared with a SELECT 1 in its place: what it costs beyond a statement's
  # round trip, which backstop saves by sending the read with the step's last statement.
  echo "run | step µs | + SELECT 1 µs | + catalog rows µs | + narrowest proof µs | no DDL: SELECT 1 µs | no DDL: catalog rows µs"
  awk '{printf "%s | %s | %s | %s | %s | %s | %s\n", $1, $2, $3, $4, $5, $6, $7}' "$out"
  python3 - "$out" <<'PY'
import statistics, sys
rows = [list(map(int, l.split()[1:])) for l in open(sys.argv[1]) if l.strip()]
m = lambda f: statistics.median(f(r) for r in rows)
print(f"medians, per step: the step {m(lambda r: r[0])} µs; a round trip {m(lambda r: r[1] - r[0])} µs; "
      f"beyond a round trip, after the DDL: catalog rows {m(lambda r: r[2] - r[1])} µs, "
      f"narrowest proof {m(lambda r: r[3] - r[1])} µs; catalog rows with no DDL before them {m(lambda r: r[5] - r[4])} µs")
PY
} | tee "$W/../proof_floor.txt"
