#!/usr/bin/env bash
# bench/read_floor.sh — run by hand, not in CI. What the per-step schema read costs inside a
# real `rollback --to 0`, and the least any per-step read could cost there.
#
# Builds backstop from HEAD with bench/read_floor.patch applied (a measurement-only change,
# not part of backstop: with BACKSTOP_BENCH_READ set, the read sent with each rollback
# step's last statement is replaced, its rows are not parsed, and the step goes on as if
# proven). Then times, interleaved on fresh databases of N generated migrations:
#   floor     psql -f all_down.sql
#   backstop  the patched build without the variable: backstop as it is
#   as is     the same read, rows not parsed: what the client does with them
#   cut       the read without four of its parts (pinned settings, the type scan, the rare
#             relation lines, owned sequences through pg_depend)
#   probe     the least a per-step read must do: our relation locks, the xmin of the locked
#             relations' rows in pg_class, pg_attribute, pg_attrdef, pg_constraint and
#             pg_index, and write counters; nothing printed
#   probe+rt  the probe and one more round trip per step, to price a round trip
# Knobs: N (1000), RUNS (3), PGURL (…/postgres). Results: bench/work/read_floor.txt
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${N:-1000} RUNS=${RUNS:-3}
ADMIN=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
. scripts/lib.sh; ensure_rust; ensure_postgres
W=$ROOT/bench/work/read_floor; rm -rf "$W/src" "$W/gen"; mkdir -p "$W/src"
git archive HEAD | tar -x -C "$W/src"
# Its own repository, so that git apply does not read paths against ours.
(cd "$W/src" && git init -q && git apply "$ROOT/bench/read_floor.patch")
grep -q BACKSTOP_BENCH_READ "$W/src/crates/backstop-postgres/src/catalog/mod.rs" || { echo "bench/read_floor.patch did not apply to HEAD" >&2; exit 2; }
CARGO_TARGET_DIR=$W/target cargo build --release -q -p backstop-cli --manifest-path "$W/src/Cargo.toml"
BS=$W/target/release/backstop
python3 bench/gen.py "$N" "$W/gen" >/dev/null
"$BS" --dir "$W/gen/migrations" sum >/dev/null
base=${ADMIN%/*}
mkdb() { psql -X -q -d "$ADMIN" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" 2>/dev/null; echo "$base/$1"; }
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>"$W/last.err" || { cat "$W/last.err" >&2; exit 1; }; e=$(date +%s.%N); python3 -c "print(f'{$e-$s:.3f}')"; }
export BACKSTOP_ACTOR=bench
ALLOW=(--allow create-index-non-concurrently --allow data-loss-without-contract --reason "generated benchmark migrations")
applied() { local u; u=$(mkdb "$1"); "$BS" --database-url "$u" --dir "$W/gen/migrations" --yes apply "${ALLOW[@]}" >/dev/null 2>&1; echo "$u"; }
rb() { t "$BS" --database-url "$1" --dir "$W/gen/migrations" --yes rollback --to 0; }
trap 'for d in bs_read_floor bs_read_tool; do psql -X -q -d "$ADMIN" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)"; done' EXIT
out=$W/rows.txt; : > "$out"
for r in $(seq 1 "$RUNS"); do
  u=$(mkdb bs_read_floor); psql -X -q -v ON_ERROR_STOP=1 -d "$u" -f "$W/gen/all_up.sql" >/dev/null
  f=$(t psql -X -q -v ON_ERROR_STOP=1 -d "$u" -f "$W/gen/all_down.sql")
  b=$(rb "$(applied bs_read_tool)")
  a=$(BACKSTOP_BENCH_READ=asis rb "$(applied bs_read_tool)")
  c=$(BACKSTOP_BENCH_READ=nopin,notscan,norare,nodep rb "$(applied bs_read_tool)")
  p=$(BACKSTOP_BENCH_READ=probe rb "$(applied bs_read_tool)")
  x=$(BACKSTOP_BENCH_READ=probe BACKSTOP_BENCH_ROUND_TRIP=1 rb "$(applied bs_read_tool)")
  echo "$r $f $b $a $c $p $x" >> "$out"
done
{
  echo "read floor: $(date -u +%FT%TZ); N=$N; $(psql -X -At -d "$ADMIN" -c 'show server_version'); rollback --to 0, s (× the psql floor)"
  echo "run | floor | backstop | as is, rows not parsed | four parts cut | probe | probe + a round trip"
  python3 - "$out" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
for r in rows:
    f = r[1]
    print(f"{int(r[0])} | {f:.3f} | " + " | ".join(f"{v:.3f} ({v / f:.2f})" for v in r[2:]))
med = lambda i: statistics.median(r[i] / r[1] for r in rows)
print("medians × floor: " + ", ".join(f"{n} {med(i):.2f}" for n, i in
      [("backstop", 2), ("as is", 3), ("cut", 4), ("probe", 5), ("probe + round trip", 6)]))
PY
} | tee "$W/../read_floor.txt"
