#!/usr/bin/env bash
# bench/profile.sh — run by hand: where the server's time goes per migration and per
# rollback step, for backstop and for the psql floor (same SQL, synchronous_commit off),
# from `perf record -a -g` (needs perf and permission to record all CPUs). N (default 500).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-500}
ADMIN=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
command -v perf >/dev/null || { echo "perf is missing: apt-get install linux-perf (matching the kernel)" >&2; exit 2; }
. scripts/lib.sh; ensure_rust; ensure_postgres
cargo build --release -q -p backstop-cli
BS=$PWD/target/release/backstop
W=$PWD/bench/work/profile; rm -rf "$W"; mkdir -p "$W"
python3 bench/gen.py "$N" "$W/n" >/dev/null
"$BS" --dir "$W/n/migrations" sum >/dev/null
base=${ADMIN%/*}
mkdb() { psql -X -q -d "$ADMIN" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"; echo "$base/$1"; }
rec() { local out=$1; shift; perf record -q -F 4999 -g -a -o "$out" -- "$@" >/dev/null 2>&1; }
export BACKSTOP_ACTOR=bench
ALLOW=(--allow create-index-non-concurrently --allow data-loss-without-contract --reason "generated benchmark migrations")
u=$(mkdb bs_profile_floor)
PGOPTIONS="-c synchronous_commit=off" rec "$W/floor-up.data" psql -X -q -v ON_ERROR_STOP=1 -d "$u" -f "$W/n/all_up.sql"
PGOPTIONS="-c synchronous_commit=off" rec "$W/floor-down.data" psql -X -q -v ON_ERROR_STOP=1 -d "$u" -f "$W/n/all_down.sql"
u=$(mkdb bs_profile_tool)
rec "$W/apply.data" "$BS" --database-url "$u" --dir "$W/n/migrations" --yes apply "${ALLOW[@]}"
rec "$W/rollback.data" "$BS" --database-url "$u" --dir "$W/n/migrations" --yes rollback --to 0
for d in bs_profile_floor bs_profile_tool; do psql -X -q -d "$ADMIN" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)"; done
for x in floor-up apply floor-down rollback; do echo "== $x"; python3 bench/phases.py "$W/$x.data" "$N"; done | tee "$W/phases.txt"
