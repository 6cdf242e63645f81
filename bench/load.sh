#!/usr/bin/env bash
# Load test (issues 8 and 16): the service as shipped (the `production` profile) against a bare
# actix-web baseline built the same way, in one run on this machine, with three order-select
# requests of one baricitinib order each:
#   bench/small.json    the fixture as it is: 16 resources, 11 KB (what most calls look like)
#   bench/typical.json  20 conditions, 10 medications, 50 observations, 5 immunizations, 51 KB
#   bench/heavy.json    500 conditions, 200 medications, 2,000 observations, 100 immunizations, 1.6 MB
#
#   bench/load.sh                      # 10 s per run at 1 and 32 connections, each request
#   DURATION=30 CONNECTIONS="8 32 128" REQUESTS=bench/small.json bench/load.sh
#   SERVICE=target/pgo/advanced-therapy-cds bench/load.sh   # a service binary built already
#                                      # (deploy/pgo-build.sh: the profile-guided build that ships)
#
# For each request and connection count it runs wrk (a fixed duration, a bounded number of
# connections, a 2 s warm-up first) against the baseline (bench/baseline: parses the same JSON
# body into a serde_json::Value and answers one fixed card, on the system allocator), the same
# baseline built with the service's allocator (mimalloc), and the service, and prints
# throughput, p50/p99/p99.9 latency and peak RSS of each, and the service/baseline ratios. At 1
# connection the p50 is the time of one whole call: for the heavy request, the service's call
# against the baseline's parse of the same body. All listen on 127.0.0.1 with the same number
# of worker threads; the load generator shares the machine's cores with them, so compare the
# rows, don't quote the absolutes. Before the load it times the service's start-up (exec to a
# ready /health/ready); after it, the service's peak RSS over the whole run.
#
# The service logs one INFO line per call (to a file here), as it does in production; the
# baseline logs nothing. Both accept bodies up to 8 MiB (the heavy request is over the
# service's default limit of 1 MiB).
#
# Needs wrk (installed here from Debian's packages when missing and run as root), curl,
# python3 and a C compiler (mimalloc is built from source by cargo).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-"1 32"}
REQUESTS=${REQUESTS:-"bench/small.json bench/typical.json bench/heavy.json"}
WORKERS=${WORKERS:-2}
# The build profile measured: what ships (Cargo.toml); PROFILE=release for a quicker build.
PROFILE=${PROFILE:-production}
check_profile
SERVICE_ID=advanced-therapy-order-select

need_tool wrk

WORK=$(mktemp -d)
cleanup() {
  kill "${SVC_PID:-}" "${BASE_PID:-}" "${MI_PID:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "building the service and the baselines ..." >&2
service_binary
cargo build --profile "$PROFILE" --quiet -p atcds-load-baseline
cp "target/$PROFILE/atcds-load-baseline" "$WORK/baseline"
cargo build --profile "$PROFILE" --quiet -p atcds-load-baseline --features mimalloc
cp "target/$PROFILE/atcds-load-baseline" "$WORK/baseline-mimalloc"


# Start-up: from exec to the first 200 of /health/ready (knowledge loaded and validated,
# SQLite created and migrated, listening), 5 starts on a fresh data directory each.
python3 - "$WORK" "$SERVICE" <<'PY'
import http.client, pathlib, socket, statistics, subprocess, sys, time
work, binary = pathlib.Path(sys.argv[1]), sys.argv[2]
times = []
for n in range(5):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    started = time.perf_counter()
    svc = subprocess.Popen([binary, "serve", "--bind", f"127.0.0.1:{port}",
                            "--data-dir", str(work / f"start-{n}")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if svc.poll() is not None:
                sys.exit(f"load.sh: the service exited with {svc.returncode} during start-up")
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/health/ready")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.001)
        times.append((time.perf_counter() - started) * 1000)
    finally:
        svc.terminate(); svc.wait()
print(f"start-up to ready: median {statistics.median(times):.0f} ms, max {max(times):.0f} ms (5 starts, fresh SQLite each)")
PY

SVC_PORT=$(port)
BASE_PORT=$(port)
MI_PORT=$(port)
"$SERVICE" serve --bind "127.0.0.1:$SVC_PORT" --workers "$WORKERS" \
  --data-dir "$WORK/data" --as-of 2026-11-28 --max-body-bytes 8388608 >"$WORK/service.log" 2>&1 &
SVC_PID=$!
"$WORK/baseline" --serve "$BASE_PORT" --workers "$WORKERS" >"$WORK/baseline.log" 2>&1 &
BASE_PID=$!
"$WORK/baseline-mimalloc" --serve "$MI_PORT" --workers "$WORKERS" >"$WORK/baseline-mimalloc.log" 2>&1 &
MI_PID=$!

SVC_URL="http://127.0.0.1:$SVC_PORT/cds-services/$SERVICE_ID"
BASE_URL="http://127.0.0.1:$BASE_PORT/cds-services/$SERVICE_ID"
MI_URL="http://127.0.0.1:$MI_PORT/cds-services/$SERVICE_ID"
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$SVC_PORT/health/ready" >/dev/null 2>&1 &&
    curl -s -o /dev/null "http://127.0.0.1:$BASE_PORT/" 2>/dev/null &&
    curl -s -o /dev/null "http://127.0.0.1:$MI_PORT/" 2>/dev/null && break
  sleep 0.1
done
for url in "http://127.0.0.1:$SVC_PORT/health/ready" "http://127.0.0.1:$BASE_PORT/" "http://127.0.0.1:$MI_PORT/"; do
  curl -s -o /dev/null "$url" || { echo "load.sh: nothing answers at $url; logs in $WORK:" >&2; tail -5 "$WORK"/*.log >&2; exit 1; }
done

# Both must answer the request with cards before they are loaded; the load then counts every
# answer that is not 2xx as an error.
for REQUEST in $REQUESTS; do for url in "$BASE_URL" "$MI_URL" "$SVC_URL"; do
  curl -s -H 'Content-Type: application/json' --data-binary @"$REQUEST" -o "$WORK/answer.json" -w '%{http_code}' "$url" >"$WORK/status"
  python3 - "$url" "$(cat "$WORK/status")" "$WORK/answer.json" <<'PY'
import json, sys
url, status, path = sys.argv[1:]
cards = json.load(open(path)).get("cards", []) if status == "200" else None
if not cards:
    sys.exit(f"load.sh: {url} answered {status} without cards: {open(path).read()[:300]}")
print(f"{url}: 200, {len(cards)} card(s): " + ", ".join(c["source"]["topic"]["code"] for c in cards), file=sys.stderr)
PY
done; done

rss_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
reset_peak() {
  echo 5 >"/proc/$1/clear_refs" 2>/dev/null ||
    echo "load.sh: cannot reset the peak RSS of $1: its figure is the peak since it started" >&2
}

run() { # name pid url connections
  local threads=$(($4 < 2 ? 1 : 2))
  BODY_FILE=$REQUEST wrk -t"$threads" -c"$4" -d"${WARMUP}s" --timeout 10s -s bench/post.lua "$3" >/dev/null
  reset_peak "$2"
  local out
  out=$(BODY_FILE=$REQUEST wrk -t"$threads" -c"$4" -d"${DURATION}s" --timeout 10s -s bench/post.lua "$3")
  echo "$(basename "$REQUEST" .json) $1 $4 $(grep '^RESULT' <<<"$out" | cut -d' ' -f2-) rss_kib=$(rss_kib "$2")" >>"$WORK/results"
  echo "  $(basename "$REQUEST" .json): $1 at $4 connections: done" >&2
}

echo "load: ${DURATION}s per run (after ${WARMUP}s warm-up), $WORKERS workers each" >&2
for REQUEST in $REQUESTS; do
  echo "request $REQUEST ($(wc -c <"$REQUEST") bytes)" >&2
  for c in $CONNECTIONS; do
    run baseline "$BASE_PID" "$BASE_URL" "$c"
    run baseline+mimalloc "$MI_PID" "$MI_URL" "$c"
    run service "$SVC_PID" "$SVC_URL" "$c"
  done
done

python3 - "$WORK/results" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    size, name, conns, *fields = line.split()
    rows[(size, name, int(conns))] = {k: float(v) for k, v in (f.split("=") for f in fields)}
sizes = list(dict.fromkeys(k[0] for k in rows))
order = {"baseline": 0, "baseline+mimalloc": 1, "service": 2}
print("| request | connections | server            | req/s   | p50 ms | p99 ms | p99.9 ms | peak RSS MiB | errors |")
print("|---|---|---|---|---|---|---|---|---|")
for (size, name, conns), r in sorted(rows.items(), key=lambda kv: (sizes.index(kv[0][0]), kv[0][2], order[kv[0][1]])):
    rps = r["requests"] / r["seconds"]
    print(f"| {size} | {conns:>3} | {name:<17} | {rps:7.0f} | {r['p50_us']/1000:6.2f} | {r['p99_us']/1000:6.2f} | "
          f"{r['p999_us']/1000:8.2f} | {r['rss_kib']/1024:12.1f} | {int(r['errors'] + r['non2xx']):>6} |")
for base in ("baseline", "baseline+mimalloc"):
    print()
    print(f"service / {base}: throughput, p50 and p99 latency")
    print("| request | connections | throughput | p50 | p99 |")
    print("|---|---|---|---|---|")
    for size in sizes:
        for conns in sorted({c for s, _, c in rows if s == size}):
            s, b = rows.get((size, "service", conns)), rows.get((size, base, conns))
            if s and b:
                print(f"| {size} | {conns} | {(s['requests']/s['seconds']) / (b['requests']/b['seconds']):.2f}x | "
                      f"{s['p50_us'] / b['p50_us']:.2f}x | {s['p99_us'] / b['p99_us']:.2f}x |")
print()
print(f"service peak RSS: {max(r['rss_kib'] for (s, n, c), r in rows.items() if n == 'service') / 1024:.1f} MiB")
errors = sum(r["errors"] + r["non2xx"] for r in rows.values())
if errors:
    sys.exit(f"load.sh: {int(errors)} request(s) failed or were not 2xx")
PY
