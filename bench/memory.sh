#!/usr/bin/env bash
# Peak memory with bodies at the default body limit (issue 16): a 1.0 MB order-select request
# written like bench/heavy.json (300 conditions, 120 medications, 1,250 observations, 60
# immunizations: just under the 1 MiB limit), sent by wrk to a fresh production-profile service at each
# connection count, RUNS times each. Prints the service's RSS after start-up, its peak RSS
# (VmHWM: the binary's code pages included) and the calls answered per second.
#
#   bench/memory.sh                         # 10 s at 1, 2 and 32 connections, 2 runs each
#   CONNECTIONS=32 RUNS=5 bench/memory.sh
#   SERVICE=target/pgo/advanced-therapy-cds bench/memory.sh   # a service binary built already
#
# Needs wrk (see bench/load.sh), curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-"1 2 32"}
RUNS=${RUNS:-2}
command -v wrk >/dev/null || { echo "memory.sh: wrk is missing (bench/load.sh installs it)" >&2; exit 1; }

WORK=$(mktemp -d)
PID=
trap 'if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; fi; rm -rf "$WORK"' EXIT
# A failure says why, with the end of the service's log (which the trap then removes).
fail() {
  echo "memory.sh: $*" >&2
  tail -20 "$WORK/service.log" >&2 2>/dev/null || true
  exit 1
}
# The build profile measured: what ships (Cargo.toml); PROFILE=release for a quicker build.
PROFILE=${PROFILE:-production}
check_profile
service_binary
python3 - "$WORK/body.json" <<'PY'
import json, sys
sys.path.insert(0, "bench")
import make_requests
body = json.dumps(make_requests.build(300, 120, 1250, 60), ensure_ascii=False, separators=(",", ":")).encode()
assert len(body) < 1024 * 1024, len(body)
open(sys.argv[1], "wb").write(body)
print(f"request: {len(body)} bytes (limit 1 MiB)")
PY

echo "| connections | run | calls/s | RSS after start-up MiB | peak RSS MiB |"
echo "|---|---|---|---|---|"
for C in $CONNECTIONS; do
  for RUN in $(seq "$RUNS"); do
    PORT=$(port)
    rm -rf "$WORK/data"
    "$SERVICE" serve --bind "127.0.0.1:$PORT" --workers 2 --data-dir "$WORK/data" \
      --as-of 2026-11-28 >"$WORK/service.log" 2>&1 &
    PID=$!
    wait_ready "$PORT" "$PID" || fail "the service was not ready within 10 s"
    IDLE=$(awk '/VmRSS/{print $2}' "/proc/$PID/status" 2>/dev/null) || fail "the service is gone"
    URL="http://127.0.0.1:$PORT/cds-services/advanced-therapy-order-select"
    STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
      --data-binary @"$WORK/body.json" "$URL" || true)
    [ "$STATUS" = 200 ] || fail "the service answered '$STATUS' to the request"
    THREADS=$((C < 2 ? C : 2))
    BODY_FILE="$WORK/body.json" wrk -t"$THREADS" -c"$C" -d"${DURATION}s" -s bench/post.lua "$URL" >"$WORK/wrk.txt"
    RATE=$(awk '/Requests\/sec/{printf "%.0f", $2}' "$WORK/wrk.txt")
    # Every call must have been answered 2xx: a refused or failed call is no measurement.
    grep -q 'RESULT .* errors=0 non2xx=0' "$WORK/wrk.txt" || fail "calls failed under load: $(grep RESULT "$WORK/wrk.txt")"
    PEAK=$(awk '/VmHWM/{print $2}' "/proc/$PID/status" 2>/dev/null) || fail "the service is gone"
    kill "$PID"; wait "$PID" 2>/dev/null || true
    PID=
    echo "| $C | $RUN | $RATE | $((IDLE / 1024)) | $((PEAK / 1024)) |"
  done
done
