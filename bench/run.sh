#!/usr/bin/env bash
# bench/run.sh — run by hand, not in CI. Times backstop against the physical floor in the
# same run, on the local PostgreSQL (127.0.0.1:5432, or PGURL=postgres://…/postgres):
#   apply of N generated migrations  vs  psql -f all_up.sql   (same SQL, BEGIN/COMMIT each)
#   rollback --to 0                  vs  psql -f all_down.sql
#   (each floor also with synchronous_commit off, as backstop commits within a run)
#   status with S migrations on disk and in history
#   peak RSS of apply, rollback and status (GNU time)
# Knobs: N (default 1000), S (10000), RUNS (3). Results: bench/work/results.md
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000} S=${S:-10000} RUNS=${RUNS:-3}
ADMIN=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
. scripts/lib.sh; ensure_rust; ensure_postgres
cargo build --release -q -p backstop-cli
BS=$PWD/target/release/backstop
W=$PWD/bench/work; rm -rf "$W"; mkdir -p "$W"
python3 bench/gen.py "$N" "$W/n"
python3 bench/gen.py "$S" "$W/s"
"$BS" --dir "$W/n/migrations" sum >/dev/null
"$BS" --dir "$W/s/migrations" sum >/dev/null
base=${ADMIN%/*}
mkdb() { psql -X -q -d "$ADMIN" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"; echo "$base/$1"; }
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>"$W/last.err" || { cat "$W/last.err" >&2; exit 1; }; e=$(date +%s.%N); python3 -c "print(f'{$e-$s:.3f}')"; }
rss() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }
export BACKSTOP_ACTOR=bench
# The generated migrations build indexes without CONCURRENTLY and backfill with UPDATE; the
# lint gate refuses those unless allowed (audited), as it would in production.
ALLOW=(--allow create-index-non-concurrently --allow data-loss-without-contract --reason "generated benchmark migrations")
# Two floors: psql as it comes (every COMMIT waits for the disk), and psql with
# synchronous_commit off, like backstop's commits within a run (one durable write at the
# end). The first moves with the speed of fsync on the machine; the second does not.
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
echo "run | psql apply s | psql apply, async commit s | backstop apply s | × floor | × async floor | psql rollback s | psql rollback, async s | backstop rollback s | × floor | × async floor" > "$W/rows.txt"
for r in $(seq 1 "$RUNS"); do
  u=$(mkdb bs_bench_floor); pa=$(t psql -X -q -v ON_ERROR_STOP=1 -d "$u" -f "$W/n/all_up.sql"); pr=$(t psql -X -q -v ON_ERROR_STOP=1 -d "$u" -f "$W/n/all_down.sql")
  u=$(mkdb bs_bench_floor); qa=$(PGOPTIONS="-c synchronous_commit=off" t psql -X -q -v ON_ERROR_STOP=1 -d "$u" -f "$W/n/all_up.sql"); qr=$(PGOPTIONS="-c synchronous_commit=off" t psql -X -q -v ON_ERROR_STOP=1 -d "$u" -f "$W/n/all_down.sql")
  u=$(mkdb bs_bench_tool); ba=$(t "$BS" --database-url "$u" --dir "$W/n/migrations" --yes apply "${ALLOW[@]}"); br=$(t "$BS" --database-url "$u" --dir "$W/n/migrations" --yes rollback --to 0)
  echo "$r | $pa | $qa | $ba | $(ratio "$ba" "$pa") | $(ratio "$ba" "$qa") | $pr | $qr | $br | $(ratio "$br" "$pr") | $(ratio "$br" "$qr")" | tee -a "$W/rows.txt"
done
u=$(mkdb bs_bench_tool)
ra=$(rss "$BS" --database-url "$u" --dir "$W/n/migrations" --yes apply "${ALLOW[@]}")
rr=$(rss "$BS" --database-url "$u" --dir "$W/n/migrations" --yes rollback --to 0)
u=$(mkdb bs_bench_status)
# Put S migrations into history quickly: apply them (one-off cost, not timed).
"$BS" --database-url "$u" --dir "$W/s/migrations" --yes apply "${ALLOW[@]}" >/dev/null
st=""; for r in 1 2 3; do st="$st $(t "$BS" --database-url "$u" --dir "$W/s/migrations" status)"; done
rs=$(rss "$BS" --database-url "$u" --dir "$W/s/migrations" status)
# The same after a change made outside backstop: the catalog stamp no longer holds, so
# status reads the whole catalog to compute the fingerprint (and reports the drift).
psql -X -q -d "$u" -c "ALTER TABLE t_1 ALTER COLUMN name SET DEFAULT 'x'"
sd=""; for r in 1 2 3; do sd="$sd $(t "$BS" --database-url "$u" --dir "$W/s/migrations" status)"; done
for d in bs_bench_floor bs_bench_tool bs_bench_status; do psql -X -q -d "$ADMIN" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)"; done
{
  echo "N=$N migrations, $RUNS runs; status with S=$S; $(date -u +%FT%TZ); $(psql -X -At -d "$ADMIN" -c 'show server_version') ; fsync=$(psql -X -At -d "$ADMIN" -c 'show fsync')"
  cat "$W/rows.txt"
  # Medians of the ratio columns: single runs spread widely on a shared machine.
  python3 - "$W/rows.txt" <<'PY'
import statistics, sys
rows = [l.split("|") for l in open(sys.argv[1]).read().splitlines()[1:] if l.strip()]
cols = {"apply × floor": 4, "apply × async floor": 5, "rollback × floor": 9, "rollback × async floor": 10}
print("medians: " + ", ".join(f"{k} {statistics.median(float(r[i]) for r in rows):.2f}" for k, i in cols.items()))
PY
  echo "status on $S migrations (s): $st"
  echo "status on $S migrations after an outside schema change (s): $sd"
  echo "peak RSS (KiB): apply $ra, rollback $rr, status $rs"
} | tee "$W/results.md"
