#!/usr/bin/env bash
# The main job end to end on the local embedded default: builds the operator, starts a
# real kube-apiserver (+ etcd, kube-controller-manager) and the moto AWS emulator,
# installs the chart's CRD and RBAC, runs the operator under the chart's
# ServiceAccount, applies manifests/examples/redcap-dev.yaml, shows progress until the
# implemented components are Ready and prints `kubectl get redcapenvironments -o wide`.
#
#   DEMO_KEEP=1 make demo     leave everything running afterwards (prints how to use it)
#   DEMO_TIMEOUT=600          seconds to wait for Ready (default 300)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
repo_script demo
EXAMPLE=manifests/examples/redcap-dev.yaml
TIMEOUT=${DEMO_TIMEOUT:-300}

install_prerequisites demo
log "building the operator (first run compiles the dependencies: several minutes)"
cargo build -p redcap-operator --locked

STATE=$(mktemp -d "${TMPDIR:-/tmp}/redcap-demo.XXXXXX")
cleanup() {
  if [[ ${DEMO_KEEP:-0} == 1 ]]; then
    cat >&2 <<MSG

Everything is still running (DEMO_KEEP=1). To use it:
  source $STATE/env.sh
  kubectl get redcapenvironments -A -o wide
  tail -f $STATE/operator.log
To stop it:
  bash e2e/scripts/operator.sh stop $STATE; bash e2e/scripts/env.sh down $STATE
MSG
    return
  fi
  if [[ -f $STATE/env.sh ]]; then
    bash e2e/scripts/operator.sh stop "$STATE" || true
  fi
  bash e2e/scripts/env.sh down "$STATE" || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "starting the local control plane and the AWS emulator (state in $STATE)"
bash e2e/scripts/env.sh up "$STATE"
# shellcheck source=/dev/null
source "$STATE/env.sh"
bash e2e/scripts/operator.sh install "$STATE"

ns=$("$KUBECTL" apply --dry-run=client -f "$EXAMPLE" -o go-template='{{if .items}}{{range .items}}{{if eq .kind "RedcapEnvironment"}}{{.metadata.namespace}}/{{.metadata.name}}{{"\n"}}{{end}}{{end}}{{else}}{{.metadata.namespace}}/{{.metadata.name}}{{"\n"}}{{end}}' |
  head -n1)
namespace=${ns%%/*}
name=${ns##*/}
[[ -n $namespace && -n $name ]] || die "could not find the RedcapEnvironment in $EXAMPLE"
mail_domain=$(sed -n 's/^ *fromAddress: *[^@]*@\([^ #]*\).*/\1/p' "$EXAMPLE" | head -n1)
[[ -n $mail_domain ]] || die "could not find spec.email.fromAddress in $EXAMPLE"
# The operator acts for a namespace only within what the tenancy policy grants it: the
# example's namespace may send mail from its domain (chart values `tenancy`, docs/install.md).
cat >"$STATE/tenancy.yaml" <<POLICY
namespaces:
  $namespace:
    domains: [$mail_domain]
POLICY
bash e2e/scripts/operator.sh start "$STATE" --log-format=json

# The example builds REDCap's image from a release zip in S3: put a stand-in there.
release=$(python3 - "$EXAMPLE" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
version = re.search(r"^\s+version:\s*\"?([0-9.]+)", text, re.M).group(1)
bucket = re.search(r"s3:\s*\n\s+bucket:\s*(\S+)", text).group(1)
print(bucket, version)
PY
)
read -r release_bucket release_version <<<"$release"
log "uploading a stand-in REDCap $release_version release zip to s3://$release_bucket (the emulator builds nothing from it)"
bash e2e/scripts/release-zip.sh "$release_bucket" "$release_version" >/dev/null

# The chart grants Secret access only where a namespace asks for it (docs/install.md).
bash e2e/scripts/operator.sh grant "$STATE" "$namespace"

log "applying $EXAMPLE"
"$KUBECTL" apply --server-side -f "$EXAMPLE"

log "waiting up to ${TIMEOUT}s for $namespace/$name to be Ready"
last=""
deadline=$((SECONDS + TIMEOUT))
while :; do
  line=$("$KUBECTL" get redcapenvironment "$name" -n "$namespace" --no-headers \
    -o custom-columns='PHASE:.status.phase,READY:.status.conditions[?(@.type=="Ready")].status,REASON:.status.phaseReason' 2>/dev/null || true)
  if [[ $line != "$last" ]]; then
    log "  $line"
    last=$line
  fi
  ready=$("$KUBECTL" get redcapenvironment "$name" -n "$namespace" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
  gen=$("$KUBECTL" get redcapenvironment "$name" -n "$namespace" -o jsonpath='{.metadata.generation}/{.status.observedGeneration}' 2>/dev/null || true)
  if [[ $ready == True && ${gen%/*} == "${gen#*/}" ]]; then
    break
  fi
  if ((SECONDS >= deadline)); then
    "$KUBECTL" get redcapenvironment "$name" -n "$namespace" -o yaml >&2 || true
    tail -n 40 "$STATE/operator.log" >&2 || true
    die "$namespace/$name did not become Ready within ${TIMEOUT}s"
  fi
  sleep 1
done

echo
echo "\$ kubectl get redcapenvironments -A -o wide"
"$KUBECTL" get redcapenvironments -A -o wide
echo
echo "Components:"
"$KUBECTL" get redcapenvironment "$name" -n "$namespace" \
  -o jsonpath='{range .status.components[*]}  {.name}: {.state} {.id}{"\n"}{end}'
echo "Outputs:"
"$KUBECTL" get redcapenvironment "$name" -n "$namespace" -o jsonpath='{.status.outputs}' | python3 -m json.tool | sed 's/^/  /'
url=$("$KUBECTL" get redcapenvironment "$name" -n "$namespace" -o jsonpath='{.status.outputs.url}')
echo "REDCap's URL: ${url:-<none>} (served by the local emulator's stand-in, not a real REDCap)"
echo "Events:"
"$KUBECTL" get events -n "$namespace" --field-selector "involvedObject.name=$name" \
  -o custom-columns='REASON:.reason,MESSAGE:.message' 2>/dev/null | sed 's/^/  /' || true
