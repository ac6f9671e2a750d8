#!/usr/bin/env bash
# Checks formatting and lints, then runs the whole test suite — unit, integration (SQLite and PostgreSQL) and CLI tests.
#
# PostgreSQL: set TEST_POSTGRES_URL to use a server of your own; otherwise the local server on
# 127.0.0.1:5432 (user postgres, trust auth) is used, started if it is down, and given a fresh,
# uniquely named database for this run that is dropped when the run ends. Each test then
# works in its own schema inside it.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }

if [ -z "${TEST_POSTGRES_URL:-}" ]; then
  if ! pg_up; then
    echo "PostgreSQL is not running on 127.0.0.1:5432; starting it" >&2
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    fi
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
  if ! pg_up; then
    echo "error: PostgreSQL is unreachable on 127.0.0.1:5432; the PostgreSQL tests cannot run" >&2
    exit 1
  fi
  # A name no one else uses, so a shared server's databases are never touched; only the
  # database this run created is dropped, whatever way the run ends.
  db="numberd_test_$(date +%s)_$$_${RANDOM}"
  psql -q -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -c "CREATE DATABASE ${db}" >/dev/null
  trap 'psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS ${db} WITH (FORCE)" >/dev/null' EXIT
  export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/${db}"
fi

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked --all-targets "$@"

# The OpenAPI contract: a validator, then schemathesis against a served numberd on both backends.
scripts/schemathesis.sh
