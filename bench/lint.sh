#!/usr/bin/env bash
# Lint throughput: backstop-lint vs squawk on the same generated corpus.
#
#   bash bench/lint.sh            # 10,000 statements in 1,000 files, best of 5 runs each
#   STATEMENTS=20000 PER_FILE=20 RUNS=3 bash bench/lint.sh
#
# Installs squawk (pip install squawk-cli) into bench/work/venv when missing, builds the
# lint_bench example of crates/backstop-lint in release mode, and prints files/s and
# statements/s for both, each measured as the wall time of one whole process run (start-up
# included; output to /dev/null). Not part of CI.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$ROOT/bench/work"
STATEMENTS="${STATEMENTS:-10000}"
PER_FILE="${PER_FILE:-10}"
RUNS="${RUNS:-5}"
CORPUS="$WORK/lint-corpus"
mkdir -p "$WORK"

python3 "$ROOT/bench/gen-lint-corpus.py" "$CORPUS" "$STATEMENTS" "$PER_FILE"
FILES=$(find "$CORPUS" -name '*.sql' | wc -l)

if [ ! -x "$WORK/venv/bin/squawk" ]; then
  python3 -m venv "$WORK/venv"
  "$WORK/venv/bin/pip" install -q --disable-pip-version-check squawk-cli
fi
SQUAWK="$WORK/venv/bin/squawk"

(cd "$ROOT" && . scripts/lib.sh && ensure_rust && cargo build -q --release -p backstop-lint --example lint_bench)
BACKSTOP="$ROOT/target/release/examples/lint_bench"

# best wall time (seconds) of $RUNS runs of "$@"
best() {
  local best="" t0 t1 d
  for _ in $(seq "$RUNS"); do
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    t1=$(date +%s.%N)
    d=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$d < $best" | bc -l)" = 1 ]; then best=$d; fi
  done
  echo "$best"
}

report() {
  local name=$1 secs=$2
  printf '%-14s %8.3f s  %10.0f files/s  %12.0f statements/s\n' "$name" "$secs" \
    "$(echo "$FILES / $secs" | bc -l)" "$(echo "$STATEMENTS / $secs" | bc -l)"
}

echo "corpus: $FILES files, $STATEMENTS statements ($CORPUS); best of $RUNS runs"
echo "squawk:   $("$SQUAWK" --version | head -1)"
echo "backstop: $("$BACKSTOP" "$CORPUS" 2>&1 >/dev/null | tail -1)"
SQ=$(best "$SQUAWK" "$CORPUS"/*.sql)
BS=$(best "$BACKSTOP" "$CORPUS")
report squawk "$SQ"
report backstop-lint "$BS"
