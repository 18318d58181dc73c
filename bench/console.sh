#!/usr/bin/env bash
# Console benchmark of SPEC §10: with 1 000 000 drops, the drop list (no filter, a state, a
# kind, a broad and a narrow org prefix, a prefix nobody has, a page deep in the list) and a
# drop's page, at 16 connections, against the real `keydrop serve` release binary signed in
# as an admin through a single-use console link; p50 and p99 from wrk. Then the console's
# streamed audit download, timed with curl.
#
# Usage: bench/console.sh [sqlite|postgres ...]          (default: both)
# Env:   DROPS=1000000 EVENTS=1000000   size of the database (bench_scale_load's mix: drops
#                                        with credentials, orgs "Bench Org 0" … "Bench Org 4999")
#        DURATION=10s WARMUP=2s CONNS=16 THREADS=2
#        KEYDROP_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test
# Needs: wrk, curl, sqlite3 (to read a cursor from the middle of the list); a local
# PostgreSQL for the postgres run (creates and drops keydrop_console_* databases).
set -euo pipefail
cd "$(dirname "$0")/.."
DROPS=${DROPS:-1000000}
EVENTS=${EVENTS:-1000000}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
PG=${KEYDROP_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
PORT=18491
T=${CARGO_TARGET_DIR:-target}/release
cargo build --release --quiet --bin keydrop --example bench_scale_load
BIN=$T/keydrop
KEY=$(head -c 32 /dev/urandom | base64)
WORK=$(mktemp -d)
RESULTS=$WORK/results.tsv
DBS=()
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  for db in "${DBS[@]}"; do psql "$PG" -qc "DROP DATABASE IF EXISTS $db" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

result() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" | tee -a "$RESULTS"; }

# wrk_run <backend> <name> <url>: req/s, p50, p99 (signed in)
wrk_run() {
  local b=$1 name=$2 url=$3 out
  wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -H "Cookie: keydrop-console=$SESSION" "$url" >/dev/null
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "Cookie: keydrop-console=$SESSION" "$url")
  local rps p50 p99 bad
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  result "$b" "$name" "$rps req/s, p50 $p50, p99 $p99${bad:+, NON-2XX $bad}"
}

run() {
  local backend=$1 url db="" mid
  case $backend in
    sqlite) mkdir -p "$WORK/db"; url="sqlite://$WORK/db/keydrop.db" ;;
    postgres)
      db="keydrop_console_$$"
      DBS+=("$db")
      psql "$PG" -qc "DROP DATABASE IF EXISTS $db" && psql "$PG" -qc "CREATE DATABASE $db"
      url="${PG%/*}/$db" ;;
  esac
  echo "## $backend: loading $DROPS drops" >&2
  "$T/examples/bench_scale_load" "$url" "$KEY" --credentials "$DROPS" --events "$EVENTS" >&2
  local env=(KEYDROP_DATABASE_URL="$url" KEYDROP_MASTER_KEY="$KEY" KEYDROP_DATA_DIR="$WORK/data-$backend")
  # Migrations (the console's indexes) run at the first start; time them too.
  local t0=$SECONDS
  env "${env[@]}" KEYDROP_LOG=warn KEYDROP_RATE_LIMIT=off KEYDROP_PUBLIC_URL="http://127.0.0.1:$PORT" \
    "$BIN" serve --bind 127.0.0.1:$PORT >"$WORK/serve.log" 2>&1 &
  local pid=$!
  for _ in $(seq 3000); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
  result "$backend" "start with $DROPS drops (migrations included)" "$((SECONDS - t0)) s"
  # A loaded table as autovacuum leaves it (statistics, visibility map for index-only scans).
  [ "$backend" = postgres ] && psql "$url" -qc "VACUUM ANALYZE drops" && psql "$url" -qc "CHECKPOINT"
  sync
  local base="http://127.0.0.1:$PORT"
  local link csrf
  link=$(env "${env[@]}" "$BIN" console link --email bench@example.com --role admin \
    --public-url "$base" | grep -o "$base/console/link/[A-Za-z0-9_-]*")
  csrf=$(curl -fs "$link" | grep -o 'name="csrf_token" value="[^"]*"' | sed 's/.*value="//; s/"$//')
  SESSION=$(curl -fs -o /dev/null -D - --data-urlencode "csrf_token=$csrf" "$link" |
    tr -d '\r' | awk -F'[=;]' 'tolower($0) ~ /^set-cookie: keydrop-console=/ {print $2}')
  [ -n "$SESSION" ] || { echo "no console session" >&2; exit 1; }
  case $backend in
    sqlite) mid=$(sqlite3 "$WORK/db/keydrop.db" \
      "SELECT created_at || '.' || id FROM drops ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET $((DROPS / 2))") ;;
    postgres) mid=$(psql "$url" -Atc \
      "SELECT created_at || '.' || id FROM drops ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET $((DROPS / 2))") ;;
  esac
  local id=${mid#*.}
  echo "## $backend: measuring" >&2
  wrk_run "$backend" "GET /console/drops" "$base/console/drops"
  wrk_run "$backend" "GET /console/drops?state=submitted" "$base/console/drops?state=submitted"
  wrk_run "$backend" "GET /console/drops?state=locked (none)" "$base/console/drops?state=locked"
  wrk_run "$backend" "GET /console/drops?kind=harvest_v3" "$base/console/drops?kind=harvest_v3"
  wrk_run "$backend" "GET /console/drops?q=bench (every drop)" "$base/console/drops?q=bench"
  wrk_run "$backend" "GET /console/drops?q=bench+org+4999 (~200)" "$base/console/drops?q=bench+org+4999"
  wrk_run "$backend" "GET /console/drops?q=zz (none)" "$base/console/drops?q=zz"
  wrk_run "$backend" "GET /console/drops?after=<the middle>" "$base/console/drops?after=$mid"
  wrk_run "$backend" "GET /console/drops?state=submitted&q=bench+org+12&after=<the middle>" \
    "$base/console/drops?state=submitted&q=bench+org+12&after=$mid"
  wrk_run "$backend" "GET /console/drops/{id}" "$base/console/drops/$id"
  local t1=$SECONDS bytes
  bytes=$(curl -fs -H "Cookie: keydrop-console=$SESSION" "$base/console/audit/export?format=ndjson" | wc -l)
  result "$backend" "GET /console/audit/export?format=ndjson" "$bytes events in $((SECONDS - t1)) s"
  result "$backend" "serve peak RSS" "$(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$pid/status) MiB"
  kill $pid; wait $pid 2>/dev/null || true
  case $backend in
    sqlite) rm -rf "$WORK/db" ;;
    postgres) psql "$PG" -qc "DROP DATABASE IF EXISTS $db" ;;
  esac
}

[ $# -gt 0 ] || set -- sqlite postgres
for b in "$@"; do run "$b"; done
echo
echo "| backend | what | result |"
echo "|---|---|---|"
awk -F'\t' '{printf "| %s | %s | %s |\n", $1, $2, $3}' "$RESULTS"
