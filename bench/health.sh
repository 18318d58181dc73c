#!/usr/bin/env bash
# Health checks (SPEC §10, §15): page views and releases of one keydrop process holding
# 100 000 live credentials, with daily health checks spread evenly over the day against the
# fake Greenhouse, side by side with the same process and KEYDROP_HEALTH_CHECK_EVERY=off;
# then a stress variant (every 2 hours: ~14 checks a second) to show the headroom.
# Then, without load: the CPU the service (and the fake Greenhouse) spend in IDLE seconds with
# checks and without — the cost itself, free of the load test's round-to-round noise.
# Usage: bench/health.sh        (SQLite; CREDENTIALS=100000 ROUNDS=3 DURATION=10s CONNS=64
#                                IDLE=60 STRESS=1: the 2-hour variant, 0 to skip it)
# Needs: wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
CREDENTIALS=${CREDENTIALS:-100000}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
IDLE=${IDLE:-60}
STRESS=${STRESS:-1}
cargo build --release --quiet --bin keydrop --example bench_setup --example bench_scale_load --example bench_greenhouse
T=target/release
KEY=$(head -c 32 /dev/urandom | base64)
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
URL="sqlite://$WORK/keydrop.db"

"$T/examples/bench_scale_load" "$URL" "$KEY" --credentials "$CREDENTIALS" --events 0 --mix waiting >&2
eval "$("$T/examples/bench_setup" "$URL" "$KEY")"
export WORKER
"$T/examples/bench_greenhouse" > "$WORK/gh.txt" &
for _ in $(seq 100); do grep -q GREENHOUSE= "$WORK/gh.txt" 2>/dev/null && break; sleep 0.1; done
eval "$(cat "$WORK/gh.txt")"
live() { sqlite3 "$WORK/keydrop.db" "SELECT COUNT(*) FROM credentials WHERE status = 'verified' AND delivery <> 'destroyed'"; }
echo "live credentials: $(live)"

wrk_rps() { awk '/Requests\/sec/ {print $2}'; }
start() { # health check period
  KEYDROP_DATABASE_URL="$URL" KEYDROP_DATA_DIR="$WORK/data" KEYDROP_MASTER_KEY="$KEY" \
    KEYDROP_GREENHOUSE_AUTH_URL="$GREENHOUSE" KEYDROP_GREENHOUSE_API_URL="$GREENHOUSE" \
    KEYDROP_HEALTH_CHECK_EVERY="$1" KEYDROP_LOG=warn KEYDROP_RATE_LIMIT=off \
    "$T/keydrop" serve --bind 127.0.0.1:18570 >/dev/null 2>&1 &
  SERVED=$!
  for _ in $(seq 200); do curl -fs http://127.0.0.1:18570/healthz >/dev/null && break; sleep 0.05; done
}
stop() { kill "$SERVED"; wait "$SERVED" 2>/dev/null || true; }
unscheduled() { sqlite3 "$WORK/keydrop.db" "SELECT COUNT(*) FROM credentials WHERE status = 'verified' AND delivery <> 'destroyed' AND health_due_at IS NULL"; }
# Every release appends an audit event, so the database grows with each run and later runs
# would be slower: every run starts from the same snapshot, taken once every live
# credential has its place in a daily period (the steady state after an upgrade).
start 24h
for _ in $(seq 900); do [ "$(unscheduled)" = 0 ] && break; sleep 1; done
stop
SNAP_AT=0
snapshot() { SNAP_AT=$(date +%s%3N); for f in keydrop.db keydrop.db-wal keydrop.db-shm; do [ -e "$WORK/$f" ] && cp "$WORK/$f" "$WORK/snap-$f"; done; true; }
restore() { rm -f "$WORK"/keydrop.db*; for f in keydrop.db keydrop.db-wal keydrop.db-shm; do [ -e "$WORK/snap-$f" ] && cp "$WORK/snap-$f" "$WORK/$f"; done; true; }
snapshot
checked_since() { sqlite3 "$WORK/keydrop.db" "SELECT COUNT(*) FROM credentials WHERE last_checked_at >= $1"; }

declare -A PAGE SECRET CHECKS
# Daily checks against none, the order swapped every round; then the stress variant once
# (a 2-hour period: every credential gets a new place first, then ~14 checks a second).
extra=""; [ "$STRESS" = 1 ] && extra=stress
for round in $(seq "$ROUNDS") $extra; do
  if [ "$round" = stress ]; then periods="2h"
  elif [ $((round % 2)) = 1 ]; then periods="off 24h"
  else periods="24h off"; fi
  for every in $periods; do
    restore
    # The snapshot's due times move with the clock, so each run sees the steady state (about
    # 1.2 checks a second for 100 000 credentials a day), not a backlog that built up while
    # the earlier runs ran.
    sqlite3 "$WORK/keydrop.db" "UPDATE credentials SET health_due_at = health_due_at + $(( $(date +%s%3N) - SNAP_AT )) WHERE health_due_at IS NOT NULL" >/dev/null
    if [ "$every" = 2h ]; then
      sqlite3 "$WORK/keydrop.db" "UPDATE credentials SET health_due_at = NULL" >/dev/null
    fi
    start "$every"
    if [ "$every" = 2h ]; then
      for _ in $(seq 900); do [ "$(unscheduled)" = 0 ] && break; sleep 1; done
    fi
    t0=$(date +%s)
    p=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" "http://127.0.0.1:18570$LINK_PATH" | wrk_rps)
    s=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s bench/secret.lua \
      "http://127.0.0.1:18570/api/v1/credentials/$CREDENTIAL/secret" | wrk_rps)
    t1=$(date +%s)
    n=$(checked_since $((t0 * 1000)))
    stop
    PAGE[$every]+="$p "
    SECRET[$every]+="$s "
    CHECKS[$every]+="$(awk -v n="$n" -v t=$((t1 - t0)) 'BEGIN { printf "%.1f", (t > 0 ? n / t : 0) }') "
    echo "round $round, checks $every: page $p/s, release $s/s, health checks $n in $((t1 - t0)) s"
  done
done
# CPU seconds (user + system) a process has used so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"; }
declare -A IDLE_CPU IDLE_GH
for every in off 24h off 24h; do
  restore
  sqlite3 "$WORK/keydrop.db" "UPDATE credentials SET health_due_at = health_due_at + $(( $(date +%s%3N) - SNAP_AT )) WHERE health_due_at IS NOT NULL" >/dev/null
  start "$every"
  sleep 5 # past start-up
  GH_PID=$(pgrep -f examples/bench_greenhouse | head -1)
  k0=$(cpu "$SERVED"); g0=$(cpu "$GH_PID"); t0=$(date +%s%3N)
  sleep "$IDLE"
  k1=$(cpu "$SERVED"); g1=$(cpu "$GH_PID"); t1=$(date +%s%3N)
  stop
  k=$(awk -v a="$k0" -v b="$k1" -v t=$((t1 - t0)) 'BEGIN { printf "%.1f", (b - a) * 1e6 / t }')
  g=$(awk -v a="$g0" -v b="$g1" -v t=$((t1 - t0)) 'BEGIN { printf "%.1f", (b - a) * 1e6 / t }')
  IDLE_CPU[$every]+="$k "
  IDLE_GH[$every]+="$g "
  echo "idle, checks $every: keydrop $k ms of CPU per second, fake Greenhouse $g ms/s, checks $(checked_since "$t0")"
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ r[NR] = $1 } END { print (NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2) }'; }
po=$(echo "${PAGE[off]}" | median)
so=$(echo "${SECRET[off]}" | median)
echo
echo "| health checks | checks/s during the run | page view req/s (median of $ROUNDS; 2h: one run) | vs off | release req/s | vs off |"
echo "|---|---|---|---|---|---|"
for every in off 24h $([ "$STRESS" = 1 ] && echo 2h); do
  awk -v e="$every" -v c="$(echo "${CHECKS[$every]}" | median)" -v p="$(echo "${PAGE[$every]}" | median)" \
    -v s="$(echo "${SECRET[$every]}" | median)" -v po="$po" -v so="$so" \
    'BEGIN { printf "| %s | %s | %.0f | %+.1f %% | %.0f | %+.1f %% |\n", e, c, p, (p / po - 1) * 100, s, (s / so - 1) * 100 }'
done
echo
echo "| without load, ${IDLE} s | keydrop CPU ms per second (runs) | fake Greenhouse CPU ms per second (runs) |"
echo "|---|---|---|"
for every in off 24h; do
  echo "| $every | ${IDLE_CPU[$every]}| ${IDLE_GH[$every]}|"
done
echo "live credentials at the end of the last run: $(live) (the fake Greenhouse knows only bulk-loaded"
echo "Harvest v3 clients; the fixture's other kinds are refused and leave the live set when checked)"
