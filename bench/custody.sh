#!/usr/bin/env bash
# Key custody (SPEC §10, §14): release and access-token throughput of one
# keydrop process whose master key is kept by each custody — file, aws-kms
# (moto_server), transit (OpenBao dev server), pkcs11 (SoftHSM2) — on the same
# database and the same master key, measured in interleaved rounds; then the
# start-up time (spawn to /healthz) with a keyring of 10 versions under each.
# Usage: bench/custody.sh        (SQLite; ROUNDS=3, DURATION=10s, CONNS=64)
# Needs: wrk; moto_server, bao and libsofthsm2.so as the tests name them
# (KEYDROP_TEST_MOTO_SERVER, KEYDROP_TEST_BAO, KEYDROP_TEST_SOFTHSM2; .ci/run
# installs them into target/custody-py and /usr/lib/softhsm).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
MOTO=${KEYDROP_TEST_MOTO_SERVER:-target/custody-py/bin/moto_server}
BAO=${KEYDROP_TEST_BAO:?set KEYDROP_TEST_BAO to the bao binary}
SOFTHSM=${KEYDROP_TEST_SOFTHSM2:-/usr/lib/softhsm/libsofthsm2.so}
cargo build --release --quiet --bin keydrop --example bench_setup
BIN=target/release/keydrop
SETUP=target/release/examples/bench_setup
KEY=$(head -c 32 /dev/urandom | base64)
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

# The custodies, on loopback.
"$MOTO" -H 127.0.0.1 -p 18551 >/dev/null 2>&1 &
MOTO_PID=$!
"$BAO" server -dev -dev-root-token-id=bench-root -dev-listen-address=127.0.0.1:18552 >/dev/null 2>&1 &
BAO_PID=$!
for _ in $(seq 100); do
  curl -fs http://127.0.0.1:18552/v1/sys/health >/dev/null 2>&1 && curl -s -o /dev/null http://127.0.0.1:18551/ && break
  sleep 0.2
done
KMS_KEY=$(curl -fs -X POST http://127.0.0.1:18551/ -H 'x-amz-target: TrentService.CreateKey' \
  -H 'content-type: application/x-amz-json-1.1' \
  -H 'authorization: AWS4-HMAC-SHA256 Credential=AKIABENCH/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0' \
  -d '{}' | sed -E 's/.*"KeyId": "([^"]+)".*/\1/')
curl -fs -X POST -H 'x-vault-token: bench-root' http://127.0.0.1:18552/v1/sys/mounts/transit -d '{"type":"transit"}'
curl -fs -X POST -H 'x-vault-token: bench-root' http://127.0.0.1:18552/v1/transit/keys/keydrop -d '{}' >/dev/null
mkdir -p "$WORK/tokens"
printf 'directories.tokendir = %s\nlog.level = ERROR\n' "$WORK/tokens" > "$WORK/softhsm2.conf"
export SOFTHSM2_CONF="$WORK/softhsm2.conf"
softhsm2-util --init-token --free --label bench --so-pin 11112222 --pin 33334444 >/dev/null
printf '33334444' > "$WORK/pin"
echo bench-root > "$WORK/vault-token"
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=AKIABENCH AWS_SECRET_ACCESS_KEY=bench AWS_EC2_METADATA_DISABLED=true
export KEYDROP_AWS_KMS_ENDPOINT=http://127.0.0.1:18551
export KEYDROP_VAULT_ADDR=http://127.0.0.1:18552 KEYDROP_VAULT_TOKEN_FILE="$WORK/vault-token"
export KEYDROP_PKCS11_MODULE="$SOFTHSM" KEYDROP_PKCS11_TOKEN=bench KEYDROP_PKCS11_PIN_FILE="$WORK/pin"
export KEYDROP_LOG=warn KEYDROP_RATE_LIMIT=off
CUSTODIES=(file "aws-kms:$KMS_KEY" transit:transit/keydrop "pkcs11:bench kek")
name() { echo "${1%%:*}"; }

# One database, one master key; each custody wraps that same key in its own keyring file.
URL="sqlite://$WORK/keydrop.db"
eval "$($SETUP "$URL" "$KEY")"
export WORKER
for c in "${CUSTODIES[@]}"; do
  KEYDROP_DATABASE_URL="$URL" KEYDROP_DATA_DIR="$WORK/data" KEYDROP_MASTER_KEY="$KEY" \
    KEYDROP_KEYRING_FILE="$WORK/ring-$(name "$c").json" "$BIN" keys init --custody "$c" >/dev/null
done

wrk_rps() { awk '/Requests\/sec/ {print $2}'; }
serve() { # custody, port
  KEYDROP_DATABASE_URL="$URL" KEYDROP_DATA_DIR="$WORK/data" KEYDROP_KEY_CUSTODY="$1" \
    KEYDROP_KEYRING_FILE="$WORK/ring-$(name "$1").json" "$BIN" serve --bind "127.0.0.1:$2" >/dev/null 2>&1 &
  SERVED=$!
  for _ in $(seq 200); do curl -fs "http://127.0.0.1:$2/healthz" >/dev/null && return; sleep 0.05; done
  echo "keydrop did not start with $1" >&2; exit 1
}

# While wrk runs, moto and OpenBao are frozen (SIGSTOP): they take no CPU from
# the measurement, and a request that called a custody would hang and show.
freeze() { kill "-$1" "$MOTO_PID" "$BAO_PID"; }
declare -A SECRET ACCESS
for round in $(seq "$ROUNDS"); do
  for c in "${CUSTODIES[@]}"; do
    freeze CONT
    serve "$c" 18560
    freeze STOP
    s=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s bench/secret.lua \
      "http://127.0.0.1:18560/api/v1/credentials/$CREDENTIAL/secret" | wrk_rps)
    a=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s bench/access.lua \
      "http://127.0.0.1:18560/api/v1/credentials/$VEND/access-token" | wrk_rps)
    kill "$SERVED"; wait "$SERVED" 2>/dev/null || true
    SECRET[$(name "$c")]+="$s "
    ACCESS[$(name "$c")]+="$a "
    echo "round $round $(name "$c"): release $s/s, access-token $a/s"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ r[NR] = $1 } END { print (NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2) }'; }
fs=$(echo "${SECRET[file]}" | median)
fa=$(echo "${ACCESS[file]}" | median)
echo
echo "| custody | release req/s (median of $ROUNDS, custody frozen) | vs file | access-token req/s | vs file |"
echo "|---|---|---|---|---|"
for c in "${CUSTODIES[@]}"; do
  n=$(name "$c")
  s=$(echo "${SECRET[$n]}" | median)
  a=$(echo "${ACCESS[$n]}" | median)
  awk -v n="$n" -v s="$s" -v a="$a" -v fs="$fs" -v fa="$fa" \
    'BEGIN { printf "| %s | %.0f | %+.1f %% | %.0f | %+.1f %% |\n", n, s, (s / fs - 1) * 100, a, (a / fa - 1) * 100 }'
done

freeze CONT

# Start-up with 10 key versions under each custody (its own database).
echo
echo "| custody | start-up with 10 key versions (spawn to /healthz 200, median of 5) |"
echo "|---|---|"
for c in "${CUSTODIES[@]}"; do
  n=$(name "$c")
  U="sqlite://$WORK/start-$n.db"
  R="$WORK/start-$n.json"
  KEYDROP_DATABASE_URL="$U" KEYDROP_DATA_DIR="$WORK/data" KEYDROP_KEYRING_FILE="$R" "$BIN" keys init --custody "$c" >/dev/null
  for _ in $(seq 9); do
    KEYDROP_DATABASE_URL="$U" KEYDROP_DATA_DIR="$WORK/data" KEYDROP_KEYRING_FILE="$R" KEYDROP_KEY_CUSTODY="$c" \
      "$BIN" keys rotate >/dev/null 2>&1
  done
  times=""
  for _ in $(seq 5); do
    t0=$(date +%s%N)
    KEYDROP_DATABASE_URL="$U" KEYDROP_DATA_DIR="$WORK/data" KEYDROP_KEYRING_FILE="$R" \
      "$BIN" serve --bind 127.0.0.1:18561 >/dev/null 2>&1 &
    pid=$!
    until curl -fs http://127.0.0.1:18561/healthz >/dev/null 2>&1; do sleep 0.005; done
    t1=$(date +%s%N)
    kill $pid; wait $pid 2>/dev/null || true
    times+="$(( (t1 - t0) / 1000000 )) "
  done
  echo "| $n | $(echo "$times" | median) ms ($times) |"
done
