#!/usr/bin/env bash
# Benchmark: 50 environments against the local control plane and moto, with a release
# build of the operator. Prints figures (peak RSS, apply-to-Ready median/p95, AWS calls
# per environment per steady-state resync); never fails on a figure.
#
#   BENCH_ENVIRONMENTS=50 BENCH_RESYNC_SECONDS=60 BENCH_RESYNCS=2 make bench
set -euo pipefail
# shellcheck source=../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
repo_script bench
export BENCH_ENVIRONMENTS="${BENCH_ENVIRONMENTS:-50}"
export BENCH_RESYNC_SECONDS="${BENCH_RESYNC_SECONDS:-60}"
# 50 environments resynced every minute need ~18 S3 reads/s; the default budget (10/s per
# service) is sized for the default 5-minute resync, so the bench raises it.
BENCH_AWS_CALLS_PER_SECOND="${BENCH_AWS_CALLS_PER_SECOND:-40}"
export BENCH_RESYNCS="${BENCH_RESYNCS:-2}"

if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  log "building the operator (release) and the benchmark driver"
  cargo build --release --locked -p redcap-operator -p redcap-e2e --bin redcap-operator --bin redcap-bench
fi

STATE=$(mktemp -d "${TMPDIR:-/tmp}/redcap-bench.XXXXXX")
cleanup() {
  bash e2e/scripts/operator.sh stop "$STATE" || true
  bash e2e/scripts/env.sh down "$STATE" || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bash e2e/scripts/env.sh up "$STATE"
# shellcheck source=/dev/null
source "$STATE/env.sh"
bash e2e/scripts/operator.sh install "$STATE"
# The benchmark's environments send mail from example.org in a namespace it creates.
printf 'default:\n  domains: [example.org]\n' >"$STATE/tenancy.yaml"
export REDCAP_OPERATOR_BIN="$CARGO_TARGET_DIR/release/redcap-operator"
export REDCAP_OPERATOR_KUBECONFIG="$STATE/operator.kubeconfig"
bash e2e/scripts/operator.sh start "$STATE" --resync-seconds="$BENCH_RESYNC_SECONDS" --leader-election=false \
  --aws-calls-per-second="$BENCH_AWS_CALLS_PER_SECOND" --aws-burst=80
BENCH_OPERATOR_PID=$(<"$STATE/operator.pid")
BENCH_METRICS_PORT=$(<"$STATE/operator.port")
export BENCH_OPERATOR_PID BENCH_METRICS_PORT
"$CARGO_TARGET_DIR/release/redcap-bench"
