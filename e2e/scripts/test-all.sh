#!/usr/bin/env bash
# The whole test suite: what `make test` and CI (.ci/run) run.
#
#   lint    cargo fmt --check, clippy -D warnings, shellcheck
#   unit    unit tests of the operator crate, CRD golden file
#   emulator the AWS emulator's own suite (moto + our extensions, pytest + boto3)
#   container the REDCap image's entrypoint, PHP helpers, Apache and mail configuration,
#           without Docker (php-cli, MariaDB, Apache; containers/redcap/tests/run.sh)
#   e2e     a real kube-apiserver + etcd + kube-controller-manager and the moto AWS
#           emulator; the operator runs as a process with the chart's RBAC
#   chart   helm lint/template + server-side dry-run against the real API server
#
# Installs what it needs first: the Debian packages and rustup components declared in
# e2e/prerequisites/ (install.sh; nothing else is installed on the machine), then, into
# $REDCAP_CACHE, Kubernetes and helm built from their pinned Go modules and moto in a
# virtualenv from e2e/moto/requirements.txt.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
repo_script test
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

passed=0
failed=0
failures=()
# fail NAME...: each NAME is a failed suite.
fail() {
  failed=$((failed + $#))
  failures+=("$@")
}
suite() { # NAME COMMAND...
  local name=$1 start=$SECONDS result=ok
  shift
  log "=== $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    fail "$name"
    result=FAILED
  fi
  log "=== $name: $result ($((SECONDS - start))s)"
}

lint() {
  cargo fmt --all -- --check &&
    cargo clippy --workspace --all-targets --locked -- -D warnings &&
    shellcheck_all &&
    bash e2e/prerequisites/check.sh
}

shellcheck_all() {
  if ! command -v shellcheck >/dev/null; then
    log "shellcheck is not available: cannot lint shell scripts"
    return 1
  fi
  shellcheck -x e2e/scripts/*.sh e2e/prerequisites/*.sh e2e/bench/*.sh charts/redcap-operator/*.sh .ci/run \
    containers/redcap/scripts/*.sh containers/redcap/tests/*.sh
}

unit() {
  cargo test -p redcap-operator --locked
}

e2e() {
  # The binary under test is copied out of the target directory, which other checkouts
  # sharing it (worktrees, a cache reused between runs) may overwrite while tests run.
  cargo build -p redcap-operator --locked &&
    cp "$CARGO_TARGET_DIR/debug/redcap-operator" "$STATE/redcap-operator" &&
    cargo test -p redcap-e2e --locked --no-run &&
    REDCAP_OPERATOR_BIN="$STATE/redcap-operator" \
      REDCAP_OPERATOR_KUBECONFIG="$STATE/operator.kubeconfig" \
      cargo test -p redcap-e2e --locked --no-fail-fast -- --test-threads=4
}

chart() {
  # The cluster checks are part of the suite: no API server here is a failure, not a skip.
  REQUIRE_CLUSTER=1 bash e2e/scripts/test-chart.sh
}

install_prerequisites lint unit emulator container e2e chart
suite lint lint
suite unit unit
suite emulator bash e2e/scripts/test-emulator.sh
suite container bash containers/redcap/tests/run.sh

STATE=$(mktemp -d "${TMPDIR:-/tmp}/redcap-test.XXXXXX")
trap 'e2e/scripts/env.sh down "$STATE" || true' EXIT
trap 'exit 130' INT TERM
if e2e/scripts/env.sh up "$STATE"; then
  # shellcheck source=/dev/null
  source "$STATE/env.sh"
  if e2e/scripts/operator.sh install "$STATE"; then
    suite e2e e2e
  else
    fail "e2e (install)"
  fi
  suite chart chart
else
  fail "e2e (environment)" "chart (environment)"
  log "the local control plane did not start; logs in $STATE"
fi

if ((failed > 0)); then
  log "failed suites: ${failures[*]} (logs: $STATE)"
fi
echo "suites: $passed passed, $failed failed"
((failed == 0))
