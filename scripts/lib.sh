# Shared by scripts/demo.sh and scripts/test.sh: make sure the tools and services the
# project needs are present on this machine, installing or starting them when they are not.

say() { printf '==> %s\n' "$*" >&2; }

ensure_rust() {
  command -v cargo >/dev/null || { echo "cargo is not installed: install Rust (https://rustup.rs) first" >&2; exit 2; }
  # pg_query (the linter's PostgreSQL parser) generates its bindings with libclang.
  if command -v dpkg >/dev/null && ! dpkg -s libclang-dev >/dev/null 2>&1; then apt_install libclang-dev; fi
}

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing $*"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "missing: $* (install them with your package manager)" >&2; exit 2
  fi
}

# PostgreSQL at 127.0.0.1:5432 (override with BACKSTOP_TEST_PG_URL). Installed and started
# when it is missing or down; tests never stop or reconfigure it.
ensure_postgres() {
  if [ -n "${BACKSTOP_TEST_PG_URL:-}" ]; then return 0; fi
  command -v pg_isready >/dev/null || apt_install postgresql postgresql-client
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    say "starting PostgreSQL"
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
    fi
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable at 127.0.0.1:5432; start it with: pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2; exit 2; }
}
