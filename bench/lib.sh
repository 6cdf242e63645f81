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
