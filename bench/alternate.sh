#!/usr/bin/env bash
# CPU per call of service binaries run in turn (issue 16): on a shared machine whose speed drifts
# by ±15 % within minutes, two builds are compared by alternating them, each started fresh, under
# the same load. For each binary given it runs wrk (2 threads, 32 connections, a 2 s warm-up,
# then SECS seconds) with one request and prints calls per second and the service's CPU time
# (user + system, from /proc/PID/stat) per call.
#
#   bench/alternate.sh target/production/advanced-therapy-cds target/pgo/advanced-therapy-cds \
#     target/production/advanced-therapy-cds target/pgo/advanced-therapy-cds
#   REQUEST=bench/typical.json SECS=10 bench/alternate.sh A B A B A B
#
# Needs wrk (installed here from Debian's packages when missing and run as root), curl, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

REQUEST=${REQUEST:-bench/small.json}
SECS=${SECS:-6}
[ $# -gt 0 ] || { echo "usage: bench/alternate.sh BINARY [BINARY ...]" >&2; exit 2; }
need_tool wrk

WORK=$(mktemp -d)
trap 'kill "${PID:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

for binary in "$@"; do
  p=$(port)
  url="http://127.0.0.1:$p/cds-services/advanced-therapy-order-select"
  "$binary" serve --bind "127.0.0.1:$p" --workers 2 --data-dir "$WORK/data-$p" --as-of 2026-11-28 \
    --max-body-bytes 8388608 >"$WORK/service.log" 2>&1 &
  PID=$!
  wait_ready "$p" "$PID" || { echo "alternate.sh: $binary did not start:" >&2; tail -20 "$WORK/service.log" >&2; exit 1; }
  BODY_FILE=$REQUEST wrk -t2 -c32 -d2s -s bench/post.lua "$url" >/dev/null
  before=$(ticks "$PID")
  calls=$(BODY_FILE=$REQUEST wrk -t2 -c32 -d"${SECS}s" -s bench/post.lua "$url" | sed -n 's/.*requests=\([0-9]*\).*/\1/p')
  after=$(ticks "$PID")
  kill "$PID"; wait "$PID" 2>/dev/null || true
  python3 -c "import sys; b,n,s,t,a,c=sys.argv[1],int(sys.argv[2]),int(sys.argv[3]),int(sys.argv[4]),int(sys.argv[5]),int(sys.argv[6]); print(f'{b}: {n/s:.0f} calls/s, {1e6*(a-t)/c/n:.1f} µs CPU per call')" \
    "$binary" "$calls" "$SECS" "$before" "$after" "$(getconf CLK_TCK)"
done
