#!/usr/bin/env bash
# Median time of one order-select call without prefetch (the service fetches the record from a
# real FHIR server, helios hfs) next to the same call with full prefetch: 100 calls each,
# sequential, on 127.0.0.1, the `production` profile (PROFILE=release for a quicker build). Issue 6's measurement.
#
#   bench/no-prefetch-latency.sh [fixtures/requests/CASE.json] [N]
#
# Needs hfs (the tests install it into ~/.cache/advanced-therapy-cds/tools on first run:
# `ATCDS_FHIR_SERVER= cargo test fhir_server`), curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
CASE=${1:-fixtures/requests/baricitinib-age-71-ex-smoker.json}
N=${2:-100}
TOOLS=${ATCDS_TOOLS_DIR:-$HOME/.cache/advanced-therapy-cds/tools}
HFS=${ATCDS_HFS:-$TOOLS/bin/hfs}
[ -x "$HFS" ] || { echo "no hfs at $HFS: run 'cargo test fhir_server' once to install it" >&2; exit 1; }
[ -f "$TOOLS/search-parameters-r4.json" ] || { echo "no $TOOLS/search-parameters-r4.json (cargo test fhir_server fetches it)" >&2; exit 1; }

# The build profile measured: what ships (Cargo.toml); PROFILE=release for a quicker build.
PROFILE=${PROFILE:-production}
check_profile
cargo build --profile "$PROFILE" --quiet
WORK=$(mktemp -d)
cleanup() { kill "${SVC_PID:-}" "${HFS_PID:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

HFS_PORT=$(port); SVC_PORT=$(port)
cp "$TOOLS/search-parameters-r4.json" "$WORK/"
HFS_UI_ENABLED=false HFS_BASE_URL="http://127.0.0.1:$HFS_PORT" "$HFS" --host 127.0.0.1 --port "$HFS_PORT" \
  --database-url :memory: --data-dir "$WORK" --log-level warn >"$WORK/hfs.log" 2>&1 &
HFS_PID=$!
"target/$PROFILE/advanced-therapy-cds" serve --bind "127.0.0.1:$SVC_PORT" --data-dir "$WORK/data" --as-of 2026-11-28 \
  >"$WORK/svc.log" 2>&1 &
SVC_PID=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$HFS_PORT/metadata" >/dev/null && curl -sf "http://127.0.0.1:$SVC_PORT/health/ready" >/dev/null && break
  sleep 0.1
done

# Load the case's patient into hfs; write the request without prefetch.
python3 - "$CASE" "http://127.0.0.1:$HFS_PORT" "$WORK" <<'PY'
import json, sys, urllib.request
case, base, work = sys.argv[1:]
req = json.load(open(case))
entries = []
for v in req["prefetch"].values():
    for r in ([e["resource"] for e in v.get("entry", [])] if v.get("resourceType") == "Bundle" else [v]):
        entries.append({"resource": r, "request": {"method": "PUT", "url": f'{r["resourceType"]}/{r["id"]}'}})
body = json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries}).encode()
urllib.request.urlopen(urllib.request.Request(base, body, {"Content-Type": "application/fhir+json"})).read()
json.dump(req, open(f"{work}/with.json", "w"))
del req["prefetch"]
req["fhirServer"] = base
req["fhirAuthorization"] = {"access_token": "t", "token_type": "Bearer", "expires_in": 300, "scope": "user/*.read", "subject": "bench"}
json.dump(req, open(f"{work}/without.json", "w"))
PY

URL="http://127.0.0.1:$SVC_PORT/cds-services/advanced-therapy-order-$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['hook'].split('-')[1])" "$CASE")"
measure() {
  for _ in $(seq 5); do curl -s -o /dev/null -H 'Content-Type: application/json' --data-binary @"$1" "$URL"; done
  for _ in $(seq "$N"); do
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H 'Content-Type: application/json' --data-binary @"$1" "$URL"
  done | python3 -c '
import sys, statistics
rows = [l.split() for l in sys.stdin]
bad = [c for c, _ in rows if c != "200"]
t = sorted(float(s) * 1000 for _, s in rows)
print(f"median {statistics.median(t):7.2f} ms   p90 {t[int(len(t)*0.9)-1]:7.2f} ms   ({len(t)} calls, {len(bad)} not 200)")'
}
echo "case: $CASE"
printf 'with full prefetch:          '; measure "$WORK/with.json"
printf 'without prefetch (hfs fetch): '; measure "$WORK/without.json"
