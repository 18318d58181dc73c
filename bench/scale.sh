#!/usr/bin/env bash
# Scale benchmark of SPEC §10: the same requests against the real `keydrop
# serve` release binary on an EMPTY database and on a FULL one (1 000 000
# credentials, 10 000 000 audit events), for each backend; then `keydrop
# audit verify` on both (events/s and peak RSS). Prints a table at the end.
#
# Usage: bench/scale.sh [sqlite|postgres ...]            (default: both)
# Env:   CREDENTIALS=1000000 EVENTS=10000000              size of the full database
#        DURATION=10s WARMUP=2s CONNS=64 THREADS=2        wrk runs
#        CLAIM_CONNS=32 CLAIM_SECONDS=10 CLAIM_MAX=15000  claim+ack runs
#        KEYDROP_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test
#        SIZES="empty full"                               which databases
#        FULL_SQLITE_FROM=<file> FULL_POSTGRES_FROM=<db>  copy a full database loaded
#                                                         earlier instead of loading
#        NO_BUILD=1 BIN_DIR=<dir>  use keydrop and examples/ from <dir> as they are
#        VERIFY=0                  skip `audit verify` and `audit export`
#        AUDIT_ONLY=1              only load, `audit verify` and `audit export` (no wrk)
#        KEYDROP_BENCH_KEY=<base64>  master key (the one a FULL_*_FROM copy was loaded with)
# Needs: wrk; a local PostgreSQL for the postgres run (creates and drops
# databases named keydrop_scale_*); about 10 GB of disk for the full size.
#
# "Empty" is the bench_setup fixture (one open drop, one verified
# credential, a worker token) plus CLAIM_MAX waiting credentials so that
# claim+ack has something to claim, and no other audit events. "Full" is
# bench_scale_load's realistic mix plus the same fixture.
set -euo pipefail
cd "$(dirname "$0")/.."
CREDENTIALS=${CREDENTIALS:-1000000}
EVENTS=${EVENTS:-10000000}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
CLAIM_CONNS=${CLAIM_CONNS:-32}
CLAIM_SECONDS=${CLAIM_SECONDS:-10}
CLAIM_MAX=${CLAIM_MAX:-15000}
SIZES=${SIZES:-empty full}
PG=${KEYDROP_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
PORT=18481
T=${BIN_DIR:-${CARGO_TARGET_DIR:-target}/release}
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet --bin keydrop --example bench_setup \
  --example bench_scale_load --example bench_claim_ack
BIN=$T/keydrop
KEY=${KEYDROP_BENCH_KEY:-$(head -c 32 /dev/urandom | base64)}
WORK=$(mktemp -d)
RESULTS=$WORK/results.tsv
DBS=()
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  for db in "${DBS[@]}"; do psql "$PG" -qc "DROP DATABASE IF EXISTS $db" 2>/dev/null || true; done
  [ -n "${KEEP_RESULTS:-}" ] && cp "$RESULTS" "$KEEP_RESULTS" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

rss_mib() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
# result <backend> <size> <what> <value>
result() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" | tee -a "$RESULTS"; }
# verify_run <backend> <size> <url>: `keydrop audit verify`, events/s and peak RSS
verify_run() {
  local b=$1 s=$2 url=$3 out n secs kib
  echo "## $b, $s: audit verify" >&2
  out=$( { KEYDROP_DATABASE_URL="$url" KEYDROP_MASTER_KEY="$KEY" KEYDROP_DATA_DIR="$WORK/data-$b-$s" \
    /usr/bin/time -f 'TIME %e %M' "$BIN" audit verify; } 2>&1 ) || true
  n=$(awk '/intact/ {print $4}' <<<"$out")
  read -r secs kib < <(awk '/^TIME/ {print $2, $3}' <<<"$out")
  if [ -z "$n" ]; then
    result "$b" "$s" "audit verify" "FAILED: $out"
  else
    result "$b" "$s" "audit verify" "$n events in $secs s = $(awk -v n="$n" -v t="$secs" 'BEGIN {printf "%.0f", n/t}') events/s, peak RSS $(awk -v k="$kib" 'BEGIN {printf "%.1f", k/1024}') MiB"
  fi
}

# export_run <backend> <size> <url> <format>: `keydrop audit export` to /dev/null, events/s and
# peak RSS
export_run() {
  local b=$1 s=$2 url=$3 f=$4 out n secs kib
  echo "## $b, $s: audit export --format $f" >&2
  out=$( { KEYDROP_DATABASE_URL="$url" KEYDROP_MASTER_KEY="$KEY" KEYDROP_DATA_DIR="$WORK/data-$b-$s" \
    /usr/bin/time -f 'TIME %e %M' "$BIN" audit export --format "$f" >/dev/null; } 2>&1 ) || true
  n=$(awk '/^exported/ {print $2}' <<<"$out")
  read -r secs kib < <(awk '/^TIME/ {print $2, $3}' <<<"$out")
  if [ -z "$n" ]; then
    result "$b" "$s" "audit export $f" "FAILED: $out"
  else
    result "$b" "$s" "audit export $f" "$n events in $secs s = $(awk -v n="$n" -v t="$secs" 'BEGIN {printf "%.0f", n/t}') events/s, peak RSS $(awk -v k="$kib" 'BEGIN {printf "%.1f", k/1024}') MiB"
  fi
}

# wrk_run <backend> <size> <name> [wrk args…] <url>: req/s, p50, p99
wrk_run() {
  local b=$1 s=$2 name=$3; shift 3
  wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" "$@" >/dev/null
  local out
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@")
  local rps p50 p99 bad
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  result "$b" "$s" "$name" "$rps req/s, p50 $p50, p99 $p99${bad:+, NON-2XX $bad}"
}

run() {
  local backend=$1 size=$2 url db=""
  case $backend in
    sqlite) mkdir -p "$WORK/$size"; url="sqlite://$WORK/$size/keydrop.db" ;;
    postgres)
      db="keydrop_scale_${size}_$$"
      DBS+=("$db")
      psql "$PG" -qc "DROP DATABASE IF EXISTS $db" && psql "$PG" -qc "CREATE DATABASE $db"
      url="${PG%/*}/$db" ;;
  esac
  echo "## $backend, $size: loading" >&2
  if [ "$size" = full ] && [ "$backend" = sqlite ] && [ -n "${FULL_SQLITE_FROM:-}" ]; then
    cp "$FULL_SQLITE_FROM" "$WORK/$size/keydrop.db"
  elif [ "$size" = full ] && [ "$backend" = postgres ] && [ -n "${FULL_POSTGRES_FROM:-}" ]; then
    psql "$PG" -qc "DROP DATABASE $db" && psql "$PG" -qc "CREATE DATABASE $db TEMPLATE $FULL_POSTGRES_FROM"
  elif [ "$size" = full ]; then
    "$T/examples/bench_scale_load" "$url" "$KEY" --credentials "$CREDENTIALS" --events "$EVENTS" >&2
  else
    "$T/examples/bench_scale_load" "$url" "$KEY" --credentials "$CLAIM_MAX" --events 0 --mix waiting >&2
  fi
  # Start from a quiet disk: a freshly loaded database has gigabytes of
  # writes still to flush, which a long-lived one does not.
  [ "$backend" = postgres ] && psql "${PG%/*}/$db" -qc "CHECKPOINT"
  sync
  if [ -n "${AUDIT_ONLY:-}" ]; then
    verify_run "$backend" "$size" "$url"
    export_run "$backend" "$size" "$url" ndjson
    export_run "$backend" "$size" "$url" csv
    case $backend in
      sqlite) rm -rf "$WORK/$size" ;;
      postgres) psql "$PG" -qc "DROP DATABASE IF EXISTS $db" ;;
    esac
    return
  fi
  eval "$("$T/examples/bench_setup" "$url" "$KEY")"
  export WORKER
  KEYDROP_DATABASE_URL="$url" KEYDROP_MASTER_KEY="$KEY" KEYDROP_DATA_DIR="$WORK/data-$backend-$size" \
    KEYDROP_LOG=warn KEYDROP_RATE_LIMIT=off "$BIN" serve --bind 127.0.0.1:$PORT >"$WORK/serve.log" 2>&1 &
  local pid=$!
  for _ in $(seq 300); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
  local base="http://127.0.0.1:$PORT"
  echo "## $backend, $size: measuring" >&2
  wrk_run "$backend" "$size" "GET /d/{token}" "$base$LINK_PATH"
  wrk_run "$backend" "$size" "GET /credentials?limit=100" -s bench/secret.lua "$base/api/v1/credentials?limit=100"
  wrk_run "$backend" "$size" "GET /credentials?status=verified&delivery=waiting&limit=100" -s bench/secret.lua \
    "$base/api/v1/credentials?status=verified&delivery=waiting&limit=100"
  wrk_run "$backend" "$size" "GET /credentials/{id}/secret" -s bench/secret.lua "$base/api/v1/credentials/$CREDENTIAL/secret"
  result "$backend" "$size" "claim+ack, 1 connection" "$("$T/examples/bench_claim_ack" "$base" \
    --connections 1 --seconds 5 --max "$CLAIM_MAX")"
  result "$backend" "$size" "claim+ack" "$("$T/examples/bench_claim_ack" "$base" \
    --connections "$CLAIM_CONNS" --seconds "$CLAIM_SECONDS" --max "$CLAIM_MAX")"
  result "$backend" "$size" "serve peak RSS" "$(rss_mib $pid) MiB"
  kill $pid; wait $pid 2>/dev/null || true
  if [ "${VERIFY:-1}" != 0 ]; then
    verify_run "$backend" "$size" "$url"
    export_run "$backend" "$size" "$url" ndjson
    export_run "$backend" "$size" "$url" csv
  fi
  case $backend in
    sqlite) rm -rf "$WORK/$size" ;;
    postgres) psql "$PG" -qc "DROP DATABASE IF EXISTS $db" ;;
  esac
}

[ $# -gt 0 ] || set -- sqlite postgres
for b in "$@"; do
  for s in $SIZES; do run "$b" "$s"; done
done
echo
echo "| backend | database | what | result |"
echo "|---|---|---|---|"
awk -F'\t' '{printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4}' "$RESULTS"
