#!/usr/bin/env bash
# The main job: build backstop and take the example shop project (examples/shop) through
# its whole life on the embedded SQLite default: plan, apply, verify, prove a full
# rollback to the empty schema, re-apply, and check the audit ledger.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_rust
say "building backstop"
cargo build -q -p backstop-cli
bs="$PWD/target/debug/backstop"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp -r examples/shop "$work/shop"
cd "$work/shop"
export BACKSTOP_ACTOR=demo
run() { printf '\n$ backstop %s\n' "$*"; "$bs" "$@"; }

run --version
run sum                                   # record the reviewed checksums (backstop.sum)
run status
run plan | head -25; echo "   …"
empty=$("$bs" --format json schema | python3 -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])')
run apply --release demo-1
run verify
run schema | tail -12
run rollback --to 0 --yes
after=$("$bs" --format json schema | python3 -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])')
printf '\nfingerprint of the empty database: %s\nfingerprint after rolling back all: %s\n' "$empty" "$after"
[ "$empty" = "$after" ] || { echo "rollback did not restore the empty schema" >&2; exit 1; }
run apply --release demo-2
run status
run audit log
run audit verify
printf "\ndemo finished: applied, verified, rolled back to the empty schema (proven), re-applied\n"
