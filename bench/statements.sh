#!/usr/bin/env bash
# bench/statements.sh — run by hand, as root or postgres: the server's CPU time per
# migration and per rollback step, for the psql floor and for backstop, and where
# backstop's share goes statement by statement (pg_stat_statements, with planning times).
# Runs on a throw-away PostgreSQL cluster of its own (port $PORT, a temporary directory;
# stopped and removed at the end) so that pg_stat_statements can be loaded without
# touching the machine's server. N (default 1000). Results: bench/work/statements.txt
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000} PORT=${PORT:-54329}
. scripts/lib.sh; ensure_rust
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { echo "initdb not found under /usr/lib/postgresql/*/bin: install postgresql" >&2; exit 2; }
cargo build --release -q -p backstop-cli
BS=$PWD/target/release/backstop
W=$PWD/bench/work; mkdir -p "$W"; G=$W/statements-gen; rm -rf "$G"
python3 bench/gen.py "$N" "$G" >/dev/null
"$BS" --dir "$G/migrations" sum >/dev/null
C=$(mktemp -d /tmp/backstop-bench-XXXXXX); chmod 755 "$C"
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -c "$*"; else sh -c "$*"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$C"
cleanup() { as_pg "'$PGBIN/pg_ctl' -D '$C/data' -m immediate stop" >/dev/null 2>&1 || true; rm -rf "$C"; }
trap cleanup EXIT
as_pg "'$PGBIN/initdb' -D '$C/data' -A trust -U postgres" >/dev/null
cat >> "$C/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$C'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track_planning = on
pg_stat_statements.max = 10000
CONF
as_pg "'$PGBIN/pg_ctl' -D '$C/data' -l '$C/log' -w start" >/dev/null
ADMIN="postgres://postgres@127.0.0.1:$PORT/postgres"
q() { psql -X -q -At -d "$1" -c "$2"; }
fresh() { q "$ADMIN" "DROP DATABASE IF EXISTS $1 WITH (FORCE)"; q "$ADMIN" "CREATE DATABASE $1"; q "postgres://postgres@127.0.0.1:$PORT/$1" "CREATE EXTENSION pg_stat_statements"; }
reset() { q "postgres://postgres@127.0.0.1:$PORT/$1" "SELECT pg_stat_statements_reset()" >/dev/null; }
# The statements of the last command, dearest first: calls, execution and planning per call.
top() {
  psql -X -q -d "postgres://postgres@127.0.0.1:$PORT/$1" -c "
    SELECT calls, round((total_exec_time * 1000 / calls)::numeric) AS exec_us_per_call,
           plans, round((total_plan_time * 1000 / calls)::numeric) AS plan_us_per_call,
           round(((total_exec_time + total_plan_time) * 1000 / $N)::numeric) AS us_per_migration,
           pg_catalog.left(pg_catalog.regexp_replace(query, '\s+', ' ', 'g'), 70) AS statement
      FROM pg_stat_statements WHERE calls > 0 AND query NOT LIKE '%pg_stat_statements%'
     ORDER BY total_exec_time + total_plan_time DESC LIMIT 8"
}
export BACKSTOP_ACTOR=bench
ALLOW=(--allow create-index-non-concurrently --allow data-loss-without-contract --reason "generated benchmark migrations")
run() { # LABEL DB COMMAND...: wall and backend CPU, per migration
  local label=$1 db=$2; shift 2
  read -r wall cpu < <(python3 bench/backend_cpu.py "$db" -- "$@")
  python3 -c "print(f'$label: wall {$wall:.2f} s, server CPU {$cpu:.2f} s = {$cpu*1e6/$N:.0f} µs per migration')"
}
{
  echo "N=$N; $(date -u +%FT%TZ); $("$PGBIN/postgres" --version); throw-away cluster, synchronous_commit off for the floor"
  fresh floor
  U="postgres://postgres@127.0.0.1:$PORT/floor"
  PGOPTIONS="-c synchronous_commit=off" run "psql floor, apply" floor psql -X -q -v ON_ERROR_STOP=1 -d "$U" -f "$G/all_up.sql"
  PGOPTIONS="-c synchronous_commit=off" run "psql floor, rollback" floor psql -X -q -v ON_ERROR_STOP=1 -d "$U" -f "$G/all_down.sql"
  fresh tool
  U="postgres://postgres@127.0.0.1:$PORT/tool"
  reset tool
  run "backstop apply" tool "$BS" --database-url "$U" --dir "$G/migrations" --yes apply "${ALLOW[@]}"
  echo "backstop apply, by statement:"; top tool
  reset tool
  run "backstop rollback --to 0" tool "$BS" --database-url "$U" --dir "$G/migrations" --yes rollback --to 0
  echo "backstop rollback, by statement:"; top tool
} | tee "$W/statements.txt"
