#!/usr/bin/env bash
# Install helios hts (a FHIR R4 terminology server, crate `helios-hts` on crates.io) for the
# terminology-server test, into ~/.cache/advanced-therapy-cds/tools/bin (or $ATCDS_TOOLS_DIR/bin).
# About an hour on 2 cores (measured: 60 min at opt-level 1), once per machine; the test uses
# the recorded answers of hts until it is there. OPT_LEVEL=0 builds faster and runs slower.
set -euo pipefail
VERSION=${HTS_VERSION:-0.2.7}
TOOLS=${ATCDS_TOOLS_DIR:-$HOME/.cache/advanced-therapy-cds/tools}
if [ -x "$TOOLS/bin/hts" ] && "$TOOLS/bin/hts" --version | grep -q "$VERSION"; then
  echo "hts $VERSION is already at $TOOLS/bin/hts"
  exit 0
fi
mkdir -p "$TOOLS"
start=$(date +%s)
CARGO_PROFILE_RELEASE_OPT_LEVEL=${OPT_LEVEL:-1} \
CARGO_PROFILE_RELEASE_LTO=false \
CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
CARGO_TARGET_DIR="$TOOLS/hts-target" \
  cargo install --locked helios-hts --version "$VERSION" --root "$TOOLS"
rm -rf "$TOOLS/hts-target"
echo "hts $VERSION installed at $TOOLS/bin/hts in $(( $(date +%s) - start )) s"
