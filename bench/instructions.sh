#!/usr/bin/env bash
# Instructions per call (issue 16): what one call costs the service, counted by valgrind's
# callgrind rather than timed, so that it does not move with the load on a shared machine and
# a change of a few per cent shows. For each request it starts the service under callgrind
# (one worker), makes N sequential calls over one connection, and subtracts the same run with
# no calls (start-up and shutdown): the difference over N is the user-space instructions per
# call — the HTTP layer, the call and the decision-matrix page writer included, the kernel not.
#
#   bench/instructions.sh                         # small and typical, 400 calls each
#   CALLS=100 REQUESTS=bench/heavy.json bench/instructions.sh
#   BINARY=/path/to/advanced-therapy-cds bench/instructions.sh   # compare another build
#
# Instructions are not time: a cache miss or a system call costs more than its count says.
# Use it to compare builds of the same code path; use bench/load.sh for throughput.
#
# Needs valgrind (installed here from Debian's packages when missing and run as root),
# curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

CALLS=${CALLS:-400}
REQUESTS=${REQUESTS:-"bench/small.json bench/typical.json"}
PROFILE=${PROFILE:-release}
check_profile

need_tool valgrind

if [ -z "${BINARY:-}" ]; then
  cargo build --profile "$PROFILE" --quiet --bin advanced-therapy-cds
  BINARY="target/$PROFILE/advanced-therapy-cds"
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Instructions of one service run with `calls` calls of `body`.
run() {
  local body=$1 calls=$2 p out
  p=$(port)
  out="$WORK/cg.$calls.out"
  valgrind --tool=callgrind --callgrind-out-file="$out" --cache-sim=no \
    "$BINARY" serve --bind "127.0.0.1:$p" --workers 1 --data-dir "$WORK/data-$calls" \
    --as-of 2026-11-28 --max-body-bytes 8388608 >"$WORK/service.log" 2>&1 &
  local pid=$!
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$p/health/ready" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$WORK/service.log" >&2; exit 1; }
    sleep 0.2
  done
  python3 - "$p" "$body" "$calls" <<'PY'
import http.client, sys
port, body, n = int(sys.argv[1]), open(sys.argv[2], "rb").read(), int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
for _ in range(n):
    c.request("POST", "/cds-services/advanced-therapy-order-select", body, {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    if r.status != 200:
        sys.exit(f"instructions.sh: the service answered {r.status}")
PY
  sleep 0.5
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  awk '/^(summary|totals):/ {print $2; exit}' "$out"
}

echo "$BINARY, $CALLS calls per request"
for body in $REQUESTS; do
  idle=$(run "$body" 0)
  busy=$(run "$body" "$CALLS")
  python3 -c "import sys; i,b,n=map(int,sys.argv[1:4]); print(f'{sys.argv[4]}: {(b-i)/n/1e6:.3f} M instructions per call')" \
    "$idle" "$busy" "$CALLS" "$(basename "$body")"
done
