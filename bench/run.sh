#!/usr/bin/env bash
# Benchmarks of SPEC §10, side by side in one run, load generator (wrk) on the
# same machine. Usage: bench/run.sh [sqlite|postgres ...]   (default: both)
# Needs: wrk and nginx (apt-get install wrk nginx-light), a local PostgreSQL for
# the postgres run (KEYDROP_BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test).
# WEBHOOKS=3 registers that many webhook endpoints (all events) pointing to a local
# receiver (examples/bench_webhooks.rs --receive-only) before serving.
# The page view is compared with nginx serving the very same page as a static file,
# measured right after it (back to back, so both see the same machine), and the
# script prints the ratio (SPEC §10: >= 0.7). ROUNDS=3 repeats that pair and
# prints the median ratio too.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
PG=${KEYDROP_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
WEBHOOKS=${WEBHOOKS:-0}
ROUNDS=${ROUNDS:-1}
cargo build --release --quiet --bin keydrop --example bench_setup --example bench_webhooks
# KEYDROP_BIN=<path> benchmarks another build (an older commit's) with this script and fixture.
BIN=${KEYDROP_BIN:-target/release/keydrop}
SETUP=target/release/examples/bench_setup
KEY=$(head -c 32 /dev/urandom | base64)
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
if [ "$WEBHOOKS" != 0 ]; then
  target/release/examples/bench_webhooks --receive-only 18491 2>/dev/null &
fi

rss_mib() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
# wrk's lines worth keeping (of a file, or stdin), and its Requests/sec alone.
wrk_lines() { grep -E "Requests/sec|^ +(50|99)%|Non-2xx" "${1:--}" || true; }
wrk_rps() { awk '/Requests\/sec/ {print $2}' "$1"; }

# nginx (2 workers, no access log) serving $WORK/nginx/index.html, if installed. Started as
# root, its workers run as nobody: they must be able to reach the file (mktemp -d is 0700;
# before this, every "nginx" number of this script on such a machine was a 153-byte 403).
NGINX=
if command -v nginx >/dev/null; then
  mkdir -p "$WORK/nginx"
  chmod 711 "$WORK"
  chmod 755 "$WORK/nginx"
  cat > "$WORK/nginx.conf" <<CONF
worker_processes 2; pid $WORK/nginx.pid; error_log /dev/null; daemon off;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:18490; root $WORK/nginx; } }
CONF
  nginx -c "$WORK/nginx.conf" &
  NGINX=http://127.0.0.1:18490/index.html
fi

# GET /d/{token}, then the same page from nginx right after; ROUNDS pairs.
page_vs_nginx() {
  local url=$1 round ratios=()
  curl -fs "$url" > "$WORK/nginx/index.html"
  chmod 644 "$WORK/nginx/index.html"
  echo "(page: $(wc -c < "$WORK/nginx/index.html") bytes)"
  if [ -n "$NGINX" ] && ! curl -fs "$NGINX" | cmp -s - "$WORK/nginx/index.html"; then
    echo "nginx does not answer with the page; no ratio without it" >&2
    exit 1
  fi
  for round in $(seq "$ROUNDS"); do
    [ "$ROUNDS" = 1 ] || echo "#### round $round"
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$url" > "$WORK/page.txt"
    wrk_lines "$WORK/page.txt"
    [ -n "$NGINX" ] || continue
    echo "### nginx, the same page as a static file, right after"
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$NGINX" > "$WORK/nginx.txt"
    wrk_lines "$WORK/nginx.txt"
    ratios+=("$(awk -v k="$(wrk_rps "$WORK/page.txt")" -v n="$(wrk_rps "$WORK/nginx.txt")" \
      'BEGIN { printf "%.2f", (n > 0 ? k / n : 0) }')")
    echo "page view / nginx: ${ratios[-1]} (SPEC §10: >= 0.7)"
  done
  if [ -z "$NGINX" ]; then
    echo "page view / nginx: not measured (nginx is not installed)"
  elif [ "$ROUNDS" != 1 ]; then
    echo "page view / nginx, median of $ROUNDS: $(printf '%s\n' "${ratios[@]}" | sort -n |
      awk '{ r[NR] = $1 } END { printf "%.2f", (NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2) }')"
  fi
}

run_backend() {
  local backend=$1 url port=18480
  case $backend in
    sqlite) url="sqlite://$WORK/sqlite/keydrop.db"; mkdir -p "$WORK/sqlite" ;;
    postgres)
      local db="keydrop_bench_$$"
      psql "$PG" -qc "DROP DATABASE IF EXISTS $db" && psql "$PG" -qc "CREATE DATABASE $db"
      url="${PG%/*}/$db" ;;
  esac
  eval "$($SETUP "$url" "$KEY")"
  export WORKER
  for i in $(seq "$WEBHOOKS"); do
    KEYDROP_DATABASE_URL="$url" KEYDROP_MASTER_KEY="$KEY" KEYDROP_DATA_DIR="$WORK/data-$backend" \
      KEYDROP_LOG=warn "$BIN" webhook add "http://127.0.0.1:18491/hooks/$i" --allow-private true >/dev/null 2>&1
  done
  [ "$WEBHOOKS" = 0 ] || echo "($WEBHOOKS webhook endpoints registered)"
  KEYDROP_DATABASE_URL="$url" KEYDROP_MASTER_KEY="$KEY" KEYDROP_DATA_DIR="$WORK/data-$backend" \
    KEYDROP_LOG=warn KEYDROP_RATE_LIMIT=off KEYDROP_WEBHOOK_ALLOW_PRIVATE=true "$BIN" serve --bind 127.0.0.1:$port >/dev/null &
  local pid=$!
  for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
  echo "## $backend"
  echo "### GET /d/{token} (customer page)"
  page_vs_nginx "http://127.0.0.1:$port$LINK_PATH"
  echo "### GET /api/v1/credentials/{id}/secret (audited release)"
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/secret.lua \
    "http://127.0.0.1:$port/api/v1/credentials/$CREDENTIAL/secret" | wrk_lines
  echo "### POST /api/v1/credentials/{id}/access-token (vend, fresh cached token, audited)"
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/access.lua \
    "http://127.0.0.1:$port/api/v1/credentials/$VEND/access-token" | wrk_lines
  echo "peak RSS: $(rss_mib $pid) MiB"
  kill $pid; wait $pid 2>/dev/null || true
  if [ "$backend" = postgres ]; then psql "$PG" -qc "DROP DATABASE IF EXISTS $db"; fi
}

[ $# -gt 0 ] || set -- sqlite postgres
for b in "$@"; do run_backend "$b"; done

# SnapPass's form page, for comparison (SPEC §10): start it yourself, e.g.
#   python3 -m venv /tmp/snapenv && /tmp/snapenv/bin/pip install snappass gunicorn
#   NO_SSL=True /tmp/snapenv/bin/gunicorn -w 2 -b 127.0.0.1:18600 snappass.main:app   (needs Redis on 6379)
# and run this script with SNAPPASS_URL=http://127.0.0.1:18600/
if [ -n "${SNAPPASS_URL:-}" ]; then
  echo "## SnapPass form page ($SNAPPASS_URL)"
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$SNAPPASS_URL" | wrk_lines
fi
