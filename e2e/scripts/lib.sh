# shellcheck shell=bash
# Common helpers for the e2e scripts. Source it; do not execute it.

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export E2E_DIR

# shellcheck source=../versions.env
source "$E2E_DIR/versions.env"

REDCAP_CACHE="${REDCAP_CACHE:-$HOME/.cache/redcap-operator}"
export REDCAP_CACHE
# kubectl's discovery/http cache: keep it out of ~/.kube
export KUBECACHEDIR="${KUBECACHEDIR:-$REDCAP_CACHE/kube-cache}"

log() { printf '[%s] %s\n' "${E2E_LOG_TAG:-e2e}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# repo_script TAG: how the scripts that work on the whole repository (test-all.sh,
# demo.sh, bench/run.sh) start: log lines tagged TAG, the repository root as the working
# directory, cargo's target dir in the cache (unless CARGO_TARGET_DIR is set).
repo_script() {
  export E2E_LOG_TAG=$1
  cd "$E2E_DIR/.." || exit
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REDCAP_CACHE/target}"
}

# print_usage LAST: the script's header comment, lines 2 to LAST, on stderr; exits 2.
print_usage() {
  sed -n "2,${1}p" "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# state_command NAME... -- ARG...: the `<script> <command> <statedir>` interface of
# cluster.sh, env.sh and moto.sh. Runs the function the first ARG names (one of NAME...)
# with the state dir, the second and last ARG; the script's `usage` otherwise.
state_command() {
  local names=() name
  while [[ $1 != -- ]]; do
    names+=("$1")
    shift
  done
  shift
  for name in "${names[@]}"; do
    if [[ ${1:-} == "$name" ]]; then
      (($# == 2)) || usage
      "$name" "$2"
      return
    fi
  done
  usage
}

# Go environment: keep module + build caches inside the cache root, never
# download a different toolchain, never use cgo.
go_env() {
  export GOPATH="$REDCAP_CACHE/go" # also holds pkg/sumdb
  export GOMODCACHE="$REDCAP_CACHE/go/mod"
  export GOCACHE="$REDCAP_CACHE/go/build-cache"
  export GOTOOLCHAIN=local
  export CGO_ENABLED=0
  export GOFLAGS="-buildvcs=false"
  export GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"
}

# Prints a free TCP port on 127.0.0.1. There is a small window between the
# probe and the real bind; callers retry the start when that race is lost.
free_port() {
  python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

# wait_for DESCRIPTION TIMEOUT_SECONDS COMMAND... : polls COMMAND until it succeeds.
wait_for() {
  local what=$1 timeout=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 0.5
  done
}

# proc_running PID: true while PID exists and is not a zombie.
proc_running() {
  local pid=$1 state
  kill -0 "$pid" 2>/dev/null || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
  [[ $state != Z ]]
}

# pid_alive PIDFILE: true when the file names a running process.
pid_alive() {
  local f=$1 pid
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  proc_running "$pid"
}

# stop_pidfile NAME PIDFILE [TIMEOUT] [MATCH]: TERM the process named in
# PIDFILE, wait, then KILL it if it is still there. Only ever signals that one
# PID, and, when MATCH is given, only if its command line contains MATCH, so a
# stale pid file whose PID was reused by another process is left alone.
stop_pidfile() {
  local name=$1 f=$2 timeout=${3:-20} match=${4:-} pid cmdline
  if [[ ! -s $f ]]; then
    return 0
  fi
  pid=$(<"$f")
  if [[ $pid =~ ^[0-9]+$ ]] && proc_running "$pid"; then
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
    if [[ -n $match && $cmdline != *"$match"* ]]; then
      log "pid $pid is no longer $name (stale $f); not signalling it"
      rm -f "$f"
      return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + timeout))
    while proc_running "$pid"; do
      if ((SECONDS >= deadline)); then
        log "$name (pid $pid) did not exit after ${timeout}s, sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
        break
      fi
      sleep 0.2
    done
  fi
  rm -f "$f"
}

# install_prerequisites GROUP...: installs the Debian packages and rustup components that
# e2e/prerequisites/ declares for GROUP... (suites of `make test`, or demo) and that are not
# installed yet, so the README's two commands work on a fresh machine.
install_prerequisites() {
  bash "$E2E_DIR/prerequisites/install.sh" "$@"
}
