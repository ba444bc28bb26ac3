#!/usr/bin/env bash
# Local AWS emulator (moto server) for e2e tests.
#
# Usage:
#   moto.sh install            create/refresh the pinned venv, print its path
#   moto.sh start <statedir>   start moto_server on 127.0.0.1:<free port>
#   moto.sh stop  <statedir>   stop the server started for <statedir> (by PID)
#   moto.sh url   <statedir>   print the endpoint URL of a started server
#
# start writes <statedir>/moto.pid, moto.port, moto.url and logs to
# <statedir>/moto.log. The venv lives in $REDCAP_CACHE/venv-moto-<version>-<hash>
# (pins: e2e/versions.env MOTO_VERSION + e2e/moto/requirements.txt; <hash> covers
# requirements.txt and the python version, so worktrees with different pins never
# rebuild each other's venv under a running server).
# The server is e2e/moto/moto_server_compat.py: moto plus the extensions in
# e2e/emulator (control API at <url>/_emulator, see e2e/emulator/README.md).
set -euo pipefail
export E2E_LOG_TAG=moto
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REQS="$E2E_DIR/moto/requirements.txt"
REQS_HASH=$({
  python3 --version
  cat "$REQS"
} | sha256sum | cut -c1-16)
VENV="$REDCAP_CACHE/venv-moto-$MOTO_VERSION-${REQS_HASH:0:8}"

usage() { print_usage 16; }

ensure_venv() {
  grep -qxF "moto[server]==$MOTO_VERSION" "$REQS" ||
    die "$REQS does not pin moto[server]==$MOTO_VERSION (versions.env)"
  local want=$REQS_HASH
  if [[ -x $VENV/bin/moto_server && -f $VENV/.stamp && $(<"$VENV/.stamp") == "$want" ]]; then
    return 0
  fi
  mkdir -p "$REDCAP_CACHE"
  exec 8>"$REDCAP_CACHE/.venv-moto.lock"
  flock 8
  if [[ -x $VENV/bin/moto_server && -f $VENV/.stamp && $(<"$VENV/.stamp") == "$want" ]]; then
    return 0
  fi
  log "creating venv $VENV (moto[server]==$MOTO_VERSION)"
  local tmp="$VENV.tmp.$$"
  rm -rf "$tmp"
  # Build in place under the final name (venv scripts embed absolute paths),
  # keeping the old one aside until the new one works.
  [[ -d $VENV ]] && mv "$VENV" "$tmp"
  if ! {
    python3 -m venv "$VENV" &&
      PIP_CACHE_DIR="$REDCAP_CACHE/pip-cache" "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS" >&2 &&
      "$VENV/bin/python" -c 'import moto, moto.server, cbor2, pytest' 2>/dev/null
  }; then
    rm -rf "$VENV"
    [[ -d $tmp ]] && mv "$tmp" "$VENV"
    die "pip install of $REQS failed"
  fi
  rm -rf "$tmp"
  echo "$want" >"$VENV/.stamp"
  log "venv ready"
}

moto_answers() {
  curl -fsS -o /dev/null --max-time 2 "$1/_emulator/health" 2>/dev/null
}

start() {
  local state=$1
  mkdir -p "$state"
  state=$(cd "$state" && pwd)
  if pid_alive "$state/moto.pid"; then
    log "moto already running for $state (pid $(<"$state/moto.pid"), $(<"$state/moto.url"))"
    return 0
  fi
  ensure_venv
  local attempt port url pid
  for attempt in 1 2 3; do
    port=$(free_port)
    url="http://127.0.0.1:$port"
    log "starting moto_server $MOTO_VERSION on $url (attempt $attempt)"
    # setsid: own session, so a caller's Ctrl-C does not race our stop.
    # moto_server_compat.py is moto_server plus the fixes the Rust SDK needs.
    MOTO_IAM_LOAD_MANAGED_POLICIES=${MOTO_IAM_LOAD_MANAGED_POLICIES:-true} \
      MOTO_ACM_VALIDATION_WAIT=0 \
      MOTO_ENABLE_AMI_VALIDATION=true \
      MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION=true \
      setsid "$VENV/bin/python" "$E2E_DIR/moto/moto_server_compat.py" -H 127.0.0.1 -p "$port" \
      >>"$state/moto.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$state/moto.pid"
    local deadline=$((SECONDS + 60))
    while ((SECONDS < deadline)); do
      if ! proc_running "$pid"; then
        break
      fi
      if moto_answers "$url"; then
        echo "$port" >"$state/moto.port"
        echo "$url" >"$state/moto.url"
        log "moto ready at $url (pid $pid, log $state/moto.log)"
        return 0
      fi
      sleep 0.3
    done
    log "moto did not come up on port $port; last log lines:"
    tail -n 5 "$state/moto.log" >&2 || true
    stop_pidfile moto "$state/moto.pid" 5 moto
  done
  die "could not start moto_server (see $state/moto.log)"
}

stop() {
  local state=$1
  [[ -d $state ]] || return 0
  stop_pidfile moto "$state/moto.pid" 15 moto
  rm -f "$state/moto.port" "$state/moto.url"
}

url() {
  [[ -s $1/moto.url ]] || die "no moto started in $1"
  cat "$1/moto.url"
}

if [[ ${1:-} == install ]]; then
  ensure_venv
  echo "$VENV"
else
  state_command start stop url -- "$@"
fi
