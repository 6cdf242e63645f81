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
#   CACHE=1 bench/instructions.sh                 # also instruction-cache (I1) misses per call
#   BASELINE=1 CACHE=1 bench/instructions.sh      # the same for bench/baseline (load.sh's ceiling)
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

if [ -n "${BASELINE:-}" ]; then
  cargo build --profile "$PROFILE" --quiet -p atcds-load-baseline --features mimalloc
  BINARY="target/$PROFILE/atcds-load-baseline"
elif [ -z "${BINARY:-}" ]; then
  cargo build --profile "$PROFILE" --quiet --bin advanced-therapy-cds
  BINARY="target/$PROFILE/advanced-therapy-cds"
fi
CACHE_SIM=$([ -n "${CACHE:-}" ] && echo yes || echo no)

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Instructions (and I1 misses) of one run with `calls` calls of `body`: "Ir I1mr".
run() {
  local body=$1 calls=$2 p out
  p=$(port)
  out="$WORK/cg.$calls.out"
  if [ -n "${BASELINE:-}" ]; then
    set -- "$BINARY" --serve "$p" --workers 1
  else
    set -- "$BINARY" serve --bind "127.0.0.1:$p" --workers 1 --data-dir "$WORK/data-$calls" \
      --as-of 2026-11-28 --max-body-bytes 8388608
  fi
  valgrind --tool=callgrind --callgrind-out-file="$out" --cache-sim="$CACHE_SIM" "$@" >"$WORK/service.log" 2>&1 &
  local pid=$!
  for _ in $(seq 600); do
    # Any HTTP answer means listening (the baseline has no /health/ready).
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/health/ready")" != 000 ] && break
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
  awk '/^(summary|totals):/ {print $2, ($5 == "" ? 0 : $5); exit}' "$out"
}

echo "$BINARY, $CALLS calls per request"
for body in $REQUESTS; do
  idle=$(run "$body" 0)
  busy=$(run "$body" "$CALLS")
  python3 - "$idle" "$busy" "$CALLS" "$(basename "$body")" "$CACHE_SIM" <<'PY'
import sys
(ir0, i10), (ir1, i11) = (map(int, a.split()) for a in sys.argv[1:3])
n, name, cache = int(sys.argv[3]), sys.argv[4], sys.argv[5] == "yes"
misses = f", {(i11 - i10) / n:,.0f} I1 misses" if cache else ""
print(f"{name}: {(ir1 - ir0) / n / 1e6:.3f} M instructions{misses} per call")
PY
done
