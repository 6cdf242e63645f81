#!/usr/bin/env bash
# Installs Debian's chromium for the matrix-page browser test (tests/api/matrix_browser.rs), as
# bench/load.sh installs wrk: from the distribution's packages, into the system, only when it is
# missing (running it again does nothing). Needs root and apt-get; otherwise it says what to do
# and fails.
#
#   tests/tools/install-chromium.sh        # prints the path of the browser on success
set -euo pipefail

find_browser() {
  for b in chromium chromium-browser; do
    if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return 0; fi
  done
  return 1
}

if path=$(find_browser); then
  echo "$path"
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "install-chromium.sh: installing chromium from Debian's packages" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
else
  echo "install-chromium.sh: chromium is missing and cannot be installed here (needs root and apt-get); install it (Debian: apt-get install chromium)" >&2
  exit 1
fi
if path=$(find_browser); then
  echo "$path"
else
  echo "install-chromium.sh: apt-get ran but no chromium is on PATH" >&2
  exit 1
fi
