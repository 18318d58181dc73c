#!/usr/bin/env bash
# Resident memory across first-time API token checks (issue 16.5, SPEC §10 < 64 MiB).
# Each first use of a token costs one argon2id run (19 MiB of working memory). keydrop
# runs them on a fixed pair of threads that reuse their memory, so RSS must stay flat
# however many tokens are checked for the first time, 4 at once as after a restart.
# Usage: bench/cold_tokens.sh [N]   (default 100 tokens; SQLite; release build)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100}
[ -n "${KEYDROP_BIN:-}" ] || cargo build --release --quiet --bin keydrop
BIN=${KEYDROP_BIN:-target/release/keydrop}
WORK=$(mktemp -d)
PORT=18495
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
export KEYDROP_DATA_DIR="$WORK" KEYDROP_LOG=warn KEYDROP_RATE_LIMIT=off
"$BIN" serve --bind 127.0.0.1:$PORT >/dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
for _ in $(seq 50); do [ -s "$WORK/bootstrap-admin-token" ] && break; sleep 0.1; done
ADMIN=$(cat "$WORK/bootstrap-admin-token")
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$pid/status"; }
hwm() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$pid/status"; }
echo "after start: RSS $(rss) MiB"
for i in $(seq "$N"); do
  curl -fs -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
    -d "{\"name\":\"w$i\",\"role\":\"worker\"}" "http://127.0.0.1:$PORT/api/v1/tokens" |
    python3 -c "import json,sys; print(json.load(sys.stdin)[\"token\"])" >>"$WORK/tokens"
done
echo "after minting $(wc -l <"$WORK/tokens") tokens: RSS $(rss) MiB"
# Restart: every token is cold again.
kill $pid; wait $pid 2>/dev/null || true
"$BIN" serve --bind 127.0.0.1:$PORT >/dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
echo "after restart: RSS $(rss) MiB"
check() {
  head -n "$1" "$WORK/tokens" | tail -n "$2" |
    xargs -P4 -I{} curl -s -o /dev/null -w '%{http_code}\n' -H 'Authorization: Bearer {}' \
      "http://127.0.0.1:$PORT/api/v1/credentials?limit=1" | sort | uniq -c | tr '\n' ' '
}
echo "first 8 cold tokens, 4 at once: $(check 8 8)→ RSS $(rss) MiB"
echo "all $N cold tokens, 4 at once: $(check "$N" $((N - 8)))→ RSS $(rss) MiB, peak $(hwm) MiB"
