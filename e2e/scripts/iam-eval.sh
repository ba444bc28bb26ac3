#!/usr/bin/env bash
# Decides requests against the operator's IAM policy and the permissions boundary with
# @cloud-copilot/iam-simulate (e2e/iam-eval/evaluate.mjs; a test-time tool, never shipped:
# the package is AGPL-3.0).
#
#   iam-eval.sh install            install the pinned packages (e2e/iam-eval/package-lock.json)
#                                  into the cache, print the node_modules path
#   iam-eval.sh [CASES.json...]    evaluate the cases (default: e2e/iam-eval/cases/*.json);
#                                  exits 1 if any request is decided other than expected
#
# The packages live in $REDCAP_CACHE/iam-eval-<hash of the lock file>, installed once by
# e2e/iam-eval/fetch_locked.py (exactly what the lock file names, checked against its
# integrity hashes, no install scripts, no npm needed) and shared by worktrees.
set -euo pipefail
export E2E_LOG_TAG=iam-eval
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SRC="$E2E_DIR/iam-eval"
LOCK_HASH=$(cat "$SRC/package.json" "$SRC/package-lock.json" "$SRC/fetch_locked.py" | sha256sum | cut -c1-12)
DIR="$REDCAP_CACHE/iam-eval-$LOCK_HASH"

ensure_packages() {
  local entry="$DIR/node_modules/@cloud-copilot/iam-simulate/dist/esm/index.js"
  [[ -f $DIR/.stamp && -f $entry ]] && return 0
  mkdir -p "$REDCAP_CACHE"
  exec 8>"$REDCAP_CACHE/.iam-eval.lock"
  flock 8
  [[ -f $DIR/.stamp && -f $entry ]] && return 0
  log "installing $SRC/package-lock.json into $DIR"
  local tmp="$DIR.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  cp "$SRC/package.json" "$SRC/package-lock.json" "$tmp/"
  if ! python3 "$SRC/fetch_locked.py" "$SRC/package-lock.json" "$tmp" ||
    [[ ! -f $tmp/node_modules/@cloud-copilot/iam-simulate/dist/esm/index.js ]]; then
    rm -rf "$tmp"
    die "installing $SRC/package-lock.json failed"
  fi
  rm -rf "$DIR"
  mv "$tmp" "$DIR"
  date -u +%FT%TZ >"$DIR/.stamp"
}

case "${1:-}" in
  install)
    ensure_packages
    echo "$DIR/node_modules"
    ;;
  -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' ;;
  *)
    ensure_packages
    command -v node >/dev/null || die "node not found (e2e/prerequisites/install.sh chart)"
    if (($# == 0)); then
      set -- "$SRC"/cases/*.json
    fi
    IAM_EVAL_NODE_MODULES="$DIR/node_modules" exec node "$SRC/evaluate.mjs" "$(cd "$E2E_DIR/.." && pwd)" "$@"
    ;;
esac
