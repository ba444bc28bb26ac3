#!/usr/bin/env bash
# Writes a kubeconfig that authenticates as an existing ServiceAccount with a
# bound token (TokenRequest API, `kubectl create token`), against the same
# server and CA as the admin kubeconfig. This is how the operator process runs
# "in cluster-like" conditions: with exactly the RBAC the chart grants its SA.
#
# Usage: sa-kubeconfig.sh <admin-kubeconfig> <namespace> <serviceaccount> <out-file>
#
# Env: KUBECTL (else built/located via build-tools.sh),
#      SA_TOKEN_DURATION (default 24h), SA_TOKEN_AUDIENCE (default: the API server's).
set -euo pipefail
export E2E_LOG_TAG=sa-kubeconfig
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ $# -ne 4 ]]; then
  sed -n '7p' "$0" | sed 's/^# //' >&2
  exit 2
fi
admin=$1 ns=$2 sa=$3 out=$4
[[ -r $admin ]] || die "cannot read admin kubeconfig $admin"

if [[ -z ${KUBECTL:-} ]]; then
  eval "$("$E2E_DIR/scripts/build-tools.sh")"
fi

k() { "$KUBECTL" --kubeconfig="$admin" "$@"; }

k -n "$ns" get serviceaccount "$sa" -o name >/dev/null ||
  die "ServiceAccount $ns/$sa does not exist"

args=(-n "$ns" create token "$sa" --duration="${SA_TOKEN_DURATION:-24h}")
if [[ -n ${SA_TOKEN_AUDIENCE:-} ]]; then
  args+=(--audience="$SA_TOKEN_AUDIENCE")
fi
token=$(k "${args[@]}")
[[ -n $token ]] || die "empty token for $ns/$sa"

# server + CA of the admin kubeconfig's current context
server=$(k config view --minify --raw -o jsonpath='{.clusters[0].cluster.server}')
ca_data=$(k config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
if [[ -z $ca_data ]]; then
  ca_file=$(k config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority}')
  [[ -n $ca_file && -r $ca_file ]] || die "admin kubeconfig has no CA"
  ca_data=$(base64 -w0 <"$ca_file")
fi

mkdir -p "$(dirname "$out")"
umask 077
cat >"$out.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: redcap-e2e
  cluster:
    server: $server
    certificate-authority-data: $ca_data
users:
- name: system:serviceaccount:$ns:$sa
  user:
    token: $token
contexts:
- name: $sa@redcap-e2e
  context:
    cluster: redcap-e2e
    user: system:serviceaccount:$ns:$sa
    namespace: $ns
current-context: $sa@redcap-e2e
EOF
mv -f "$out.tmp" "$out"
log "wrote $out (ServiceAccount $ns/$sa, token valid ${SA_TOKEN_DURATION:-24h})"
