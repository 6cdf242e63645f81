#!/usr/bin/env bash
# The production binary, built with profile-guided optimisation (issue 16).
#
# Most of a call's time is not in its instructions but in fetching them: a call runs code from
# serde, fhir-sdk's generated readers, the engine, the cards and actix — callgrind's cache
# simulation counts 13 times the baseline endpoint's instruction-cache misses for 2.2 times its
# instructions. LLVM lays out hot code together only when it knows which code is hot. So:
#   1. build the service instrumented (-Cprofile-generate),
#   2. run it on the 484 fixture calls (fixtures/cases.json, both languages) and the
#      decision-matrix pages they link to — not on bench/*.json, which measure the result,
#   3. merge the counts and build again with them (-Cprofile-use).
# The result is target/pgo/advanced-therapy-cds (PGO_DIR): its own target directories, so that
# a plain `cargo build --profile production` (other RUSTFLAGS) neither rebuilds nor overwrites
# it. The Dockerfile runs this script; `SERVICE=target/pgo/advanced-therapy-cds bench/load.sh`
# measures its output.
#
# Needs llvm-profdata of the LLVM rustc was built with (`rustc -vV`, "LLVM version"): taken
# from LLVM_PROFDATA, else rustup's llvm-tools, else Debian's llvm-N package (installed here
# with apt-get when missing and run as root). And curl. Two full builds: about 33 min on 2 cores (18 + 15).
set -euo pipefail
cd "$(dirname "$0")/.."

WORK=${PGO_DIR:-$PWD/target/pgo}
llvm=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
[ -n "$llvm" ] || { echo "pgo-build.sh: cannot tell rustc's LLVM version" >&2; exit 1; }

find_profdata() {
  if [ -n "${LLVM_PROFDATA:-}" ]; then echo "$LLVM_PROFDATA"; return; fi
  local sysroot
  sysroot=$(rustc --print sysroot)
  for p in "$sysroot"/lib/rustlib/*/bin/llvm-profdata "/usr/lib/llvm-$llvm/bin/llvm-profdata"; do
    [ -x "$p" ] && { echo "$p"; return; }
  done
  return 0 # none: the caller installs one or says so
}
PROFDATA=$(find_profdata)
if [ -z "$PROFDATA" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing llvm-$llvm for llvm-profdata ..." >&2
  apt-get install -y -q "llvm-$llvm" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q "llvm-$llvm" >/dev/null; }
  PROFDATA=$(find_profdata)
fi
[ -n "$PROFDATA" ] || { echo "pgo-build.sh: no llvm-profdata for LLVM $llvm (set LLVM_PROFDATA)" >&2; exit 1; }
case $("$PROFDATA" --version) in
  *"LLVM version $llvm."*) ;;
  *) echo "pgo-build.sh: $PROFDATA is not LLVM $llvm, the LLVM of rustc" >&2; exit 1 ;;
esac

rm -rf "$WORK/raw" "$WORK/data" "$WORK"/service-*.profdata && mkdir -p "$WORK/raw"

echo "1/3 instrumented build ..." >&2
RUSTFLAGS="-Cprofile-generate=$WORK/raw" cargo build --profile production --locked \
  --target-dir "$WORK/generate" --bin advanced-therapy-cds

echo "2/3 training on the fixture calls ..." >&2
port=$((20000 + RANDOM % 20000))
LLVM_PROFILE_FILE="$WORK/raw/service-%p.profraw" "$WORK/generate/production/advanced-therapy-cds" serve \
  --bind "127.0.0.1:$port" --workers 1 --data-dir "$WORK/data" --as-of "$(sed -n 's/.*"as_of": *"\([0-9-]*\)".*/\1/p' fixtures/cases.json | head -1)" \
  >"$WORK/service.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -sf "$base/health/ready" >/dev/null && break; sleep 0.1; done
curl -sf "$base/cds-services" >/dev/null \
  || { echo "pgo-build.sh: the instrumented service did not start:" >&2; tail -20 "$WORK/service.log" >&2; exit 1; }
calls=0
for round in 1 2 3; do
  for file in $(grep -o '"file": *"[^"]*"' fixtures/cases.json | sed 's/.*"\([^"]*\)"$/\1/'); do
    hook=$(grep -o '"hook": *"[a-z-]*"' "fixtures/$file" | head -1 | sed 's/.*"\([a-z-]*\)"$/\1/')
    lang=$([ "$round" = 2 ] && echo nl || echo en)
    curl -sf -o "$WORK/answer.json" -H 'Content-Type: application/json' -H "Accept-Language: $lang" \
      --data-binary "@fixtures/$file" "$base/cds-services/advanced-therapy-$hook"
    for page in $(grep -o '/matrix/[A-Za-z0-9_-]*' "$WORK/answer.json" | sort -u); do
      curl -sf -o /dev/null -H "Accept-Language: $lang" "$base$page"
    done
    calls=$((calls + 1))
  done
done
kill -INT "$pid" && wait "$pid" || true
trap - EXIT
echo "   $calls calls" >&2

echo "3/3 optimised build ..." >&2
"$PROFDATA" merge -o "$WORK/service.profdata" "$WORK"/raw/service-*.profraw
# Named by its content: cargo rebuilds when RUSTFLAGS change, not when a file they name does.
profile="$WORK/service-$(sha256sum "$WORK/service.profdata" | cut -c1-16).profdata"
mv "$WORK/service.profdata" "$profile"
RUSTFLAGS="-Cprofile-use=$profile" cargo build --profile production --locked \
  --target-dir "$WORK/use" --bin advanced-therapy-cds
cp "$WORK/use/production/advanced-therapy-cds" "$WORK/advanced-therapy-cds"
echo "$WORK/advanced-therapy-cds: built with the profile of $calls calls" >&2
