# Shared by the bench/*.sh scripts (sourced, not run).

# The build profile measured: `production` (what ships) or `release` (a quicker build);
# the default is the caller's. Exits on anything else: its binary would not be target/$PROFILE.
check_profile() {
  case "$PROFILE" in
    production | release) ;;
    *) echo "$(basename "$0"): PROFILE must be production or release, not '$PROFILE'" >&2; exit 1 ;;
  esac
}

# Make sure the command `$1` exists: installed from Debian's package of the same name when run
# as root, else a message saying what to install.
need_tool() {
  command -v "$1" >/dev/null && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "$(basename "$0"): installing $1 from Debian's packages" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
  else
    echo "$(basename "$0"): $1 is missing; install it (Debian: apt-get install $1)" >&2
    exit 1
  fi
}

# A free TCP port on 127.0.0.1.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The service binary measured, in SERVICE: as given (built already, e.g. by deploy/pgo-build.sh),
# else target/$PROFILE's, built now.
service_binary() {
  if [ -z "${SERVICE:-}" ]; then
    cargo build --profile "$PROFILE" --quiet --bin advanced-therapy-cds
    SERVICE="target/$PROFILE/advanced-therapy-cds"
  fi
  [ -x "$SERVICE" ] || { echo "$(basename "$0"): no service binary at $SERVICE" >&2; exit 1; }
}

# Wait until the service on port $1 (process $2) is ready; false when it is not within 10 s or
# has exited.
wait_ready() {
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$1/health/ready" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
