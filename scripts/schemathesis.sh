#!/usr/bin/env bash
# The OpenAPI document as a contract: validates it with openapi-spec-validator, then runs
# schemathesis (every check, positive and negative data) against a served `numberd serve` on
# SQLite and on PostgreSQL. Any server error, undocumented status or schema violation fails.
#
# Tools are pinned and installed into target/contract-venv (reused between runs). PostgreSQL:
# the server of TEST_POSTGRES_URL's host, or 127.0.0.1:5432; this script creates its own
# uniquely named database there and drops only that one.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS=3.39.16
SPEC_VALIDATOR=0.7.1
# schemathesis 3.39 breaks with Hypothesis after 6.131.14 ('many' object has no attribute 'more').
HYPOTHESIS=6.131.14
# Per operation; with the fixed seed a run is repeatable and takes about a minute per backend.
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-40}"
BACKEND_TIMEOUT=300

venv=target/contract-venv
stamp="$venv/.pinned-$SCHEMATHESIS-$SPEC_VALIDATOR-$HYPOTHESIS"
if [ ! -f "$stamp" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS" "openapi-spec-validator==$SPEC_VALIDATOR" "hypothesis==$HYPOTHESIS"
  touch "$stamp"
fi

echo "== openapi-spec-validator openapi.json" >&2
"$venv/bin/openapi-spec-validator" openapi.json

cargo build --locked --quiet --bin numberd
bin="${CARGO_TARGET_DIR:-target}/debug/numberd"   # where the build above put it
work=$(mktemp -d)
server=""
pg_admin=""
pg_db=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  if [ -n "$pg_db" ]; then
    psql -q "$pg_admin" -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS ${pg_db} WITH (FORCE)" >/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# run NAME DATABASE_URL
run() {
  local name=$1 url=$2 port
  port=$(free_port)
  export NUMBERD_DATABASE_URL="$url" NUMBERD_LISTEN="127.0.0.1:$port"
  "$bin" serve >"$work/$name.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/$name.log" >&2; exit 1; }
  # A test-mode workspace, so the test-clock routes are exercised too.
  local ws key
  read -r ws key < <("$bin" workspace create schemathesis --test-mode |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["workspaceId"], d["accessKey"])')
  echo "== schemathesis on $name" >&2
  local rc=0
  timeout "$BACKEND_TIMEOUT" "$venv/bin/st" run "http://127.0.0.1:$port/openapi.json" \
    --experimental=openapi-3.1 \
    --checks all \
    --data-generation-method all \
    --header "Authorization: Bearer $key" \
    --set-path "workspaceId=$ws" \
    --hypothesis-max-examples "$MAX_EXAMPLES" \
    --hypothesis-seed 1 \
    --hypothesis-database none \
    --hypothesis-suppress-health-check all \
    --no-color || rc=$?
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
  if [ "$rc" -ne 0 ]; then
    echo "schemathesis failed on $name (exit $rc); the server's log:" >&2
    tail -n 50 "$work/$name.log" >&2
    exit 1
  fi
}

run sqlite "sqlite://$work/numberd.db"

pg_base="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pg_admin="${pg_base%/*}/postgres"
pg_db="numberd_schemathesis_$$_$(date +%s)"
psql -q "$pg_admin" -v ON_ERROR_STOP=1 -c "CREATE DATABASE ${pg_db}" >/dev/null
run postgres "${pg_base%/*}/${pg_db}"
