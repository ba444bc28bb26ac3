#!/usr/bin/env bash
# The local AWS emulator's own test suite (e2e/emulator/tests, pytest + boto3).
#
# Usage: test-emulator.sh [pytest args...]
#
# Starts a private emulator with `moto.sh start` on a free loopback port, runs
# pytest against it (EMULATOR_URL), stops the emulator by its PID and exits with
# pytest's status; the last line is pytest's summary.
set -euo pipefail
export E2E_LOG_TAG=emulator-test
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SCRIPTS="$E2E_DIR/scripts"
STATE=$(mktemp -d "${TMPDIR:-/tmp}/redcap-emulator-test.XXXXXX")
# The stop is logged into the state dir so that pytest's summary stays the last line.
trap '"$SCRIPTS/moto.sh" stop "$STATE" 2>>"$STATE/stop.log" || true' EXIT
trap 'exit 130' INT TERM

# Managed IAM policies make every reset take ~2 s; no test here needs them.
export MOTO_IAM_LOAD_MANAGED_POLICIES=false
venv=$("$SCRIPTS/moto.sh" install)
"$SCRIPTS/moto.sh" start "$STATE"
url=$("$SCRIPTS/moto.sh" url "$STATE")
log "emulator at $url (log $STATE/moto.log)"
cd "$E2E_DIR/emulator"
EMULATOR_URL=$url "$venv/bin/python" -m pytest -p no:cacheprovider -q "$@" tests
