#!/usr/bin/env bash
# Installs the operator's CRD and RBAC into the local cluster through the Helm chart and
# runs the operator binary as a local process under the chart's ServiceAccount, so the
# shipped permissions are what the tests exercise.
#
# Usage (after `source <statedir>/env.sh`):
#   operator.sh install <statedir>        helm template | kubectl apply (replicas 0: no
#                                         nodes here; the process below plays the pod)
#                                         and writes <statedir>/operator.kubeconfig
#   operator.sh grant <statedir> NS...    lets the operator read and create Secrets in
#                                         each namespace NS, as its admin would: a
#                                         RoleBinding to the chart's ClusterRole
#                                         redcap-operator-secrets (docs/install.md)
#   operator.sh start <statedir> [args]   starts `redcap-operator run` in the background
#                                         (pid in operator.pid, log in operator.log)
#   operator.sh stop <statedir>           SIGTERM, then waits
set -euo pipefail
export E2E_LOG_TAG=operator
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO_DIR="$(cd "$E2E_DIR/.." && pwd)"
RELEASE=redcap-operator
OPERATOR_NAMESPACE=redcap-system

: "${KUBECTL:?source <statedir>/env.sh first}" "${HELM:?source <statedir>/env.sh first}"

operator_bin() {
  echo "${REDCAP_OPERATOR_BIN:-${CARGO_TARGET_DIR:-$REPO_DIR/target}/debug/redcap-operator}"
}

install() {
  local state=$1
  log "installing CRD + RBAC from charts/redcap-operator into $OPERATOR_NAMESPACE"
  "$KUBECTL" create namespace "$OPERATOR_NAMESPACE" --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null
  "$HELM" template "$RELEASE" "$REPO_DIR/charts/redcap-operator" --namespace "$OPERATOR_NAMESPACE" \
    --set replicaCount=0 >"$state/chart.yaml"
  "$KUBECTL" apply --server-side --field-manager=e2e -f "$state/chart.yaml" >/dev/null
  "$KUBECTL" wait --for=condition=Established --timeout=60s crd/redcapenvironments.redcap.dev >/dev/null
  "$E2E_DIR/scripts/sa-kubeconfig.sh" "$KUBECONFIG" "$OPERATOR_NAMESPACE" "$RELEASE" "$state/operator.kubeconfig"
}

grant() {
  shift
  local ns
  for ns in "$@"; do
    log "granting the operator Secret access in namespace $ns"
    "$KUBECTL" get namespace "$ns" >/dev/null 2>&1 || "$KUBECTL" create namespace "$ns" >/dev/null
    "$KUBECTL" create rolebinding "$RELEASE-secrets" --namespace "$ns" \
      --clusterrole="$RELEASE-secrets" --serviceaccount="$OPERATOR_NAMESPACE:$RELEASE" \
      --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null
  done
}

start() {
  local state=$1
  shift
  local bin
  bin=$(operator_bin)
  [[ -x $bin ]] || die "operator binary $bin not found: build it with cargo build -p redcap-operator"
  local port
  port=$(free_port)
  log "starting $bin (metrics on 127.0.0.1:$port, log $state/operator.log)"
  # The tenancy policy, as the chart's `tenancy` values would mount it (docs/install.md).
  local policy=()
  [[ -f $state/tenancy.yaml ]] && policy=("--tenancy-policy-file=$state/tenancy.yaml")
  KUBECONFIG="$state/operator.kubeconfig" POD_NAMESPACE="$OPERATOR_NAMESPACE" \
    REDCAP_S3_FORCE_PATH_STYLE=true \
    "$bin" run --metrics-addr="127.0.0.1:$port" --lease-namespace="$OPERATOR_NAMESPACE" "${policy[@]}" "$@" \
    >"$state/operator.log" 2>&1 &
  echo $! >"$state/operator.pid"
  echo "$port" >"$state/operator.port"
  wait_for "operator /healthz" 60 curl -fsS "http://127.0.0.1:$port/healthz" ||
    { tail -n 30 "$state/operator.log" >&2; die "the operator did not become healthy"; }
}

stop() {
  stop_pidfile redcap-operator "$1/operator.pid" 30
}

case "${1:-}" in
  install) install "${2:?statedir}" ;;
  grant) grant "${2:?statedir}" "${@:3}" ;;
  start) start "${2:?statedir}" "${@:3}" ;;
  stop) stop "${2:?statedir}" ;;
  *) print_usage 16 ;;
esac
