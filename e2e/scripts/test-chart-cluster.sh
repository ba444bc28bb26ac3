# shellcheck shell=bash
# The chart against a real kube-apiserver; sourced by test-chart.sh, which provides check,
# CHART, REPO, WORK, HELM, KUBECTL, E2E_DIR and the cleanup lists (SCRATCH_NAMESPACES,
# SCRATCH_OBJECTS, RELEASE/CLUSTER_NS). Defines cluster_tests:
#
#   - every value set renders objects the API server accepts (server-side dry run, no
#     warnings), manifests/install too;
#   - a real install into a namespace that enforces Pod Security `restricted`, whose
#     Deployment's pod the controller manager creates there (and a privileged variant that
#     the same namespace refuses);
#   - the RBAC as the operator's ServiceAccount with its own token (`kubectl auth can-i`):
#     Secrets only in a namespace that bound the chart's Secret ClusterRole, nothing of
#     Secrets in kube-system, the default namespace or the release namespace;
#   - the ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) as that
#     ServiceAccount: a service-account-token Secret, another name, another owner or
#     another key are denied; the `<environment>-cron` Opaque Secret controlled by a
#     RedcapEnvironment is created.
# shellcheck disable=SC2016 # `bash -c` bodies are single-quoted on purpose

cluster_tests() {
  CLUSTER_NS="chart-test-$(date +%s)-$$"
  SCRATCH_NAMESPACES+=("$CLUSTER_NS")
  check "create scratch namespace $CLUSTER_NS (Pod Security enforce=restricted, warn=restricted)" bash -c '
    "$KUBECTL" create namespace "$0" &&
    "$KUBECTL" label namespace "$0" \
      pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/enforce-version=latest \
      pod-security.kubernetes.io/warn=restricted pod-security.kubernetes.io/warn-version=latest' "$CLUSTER_NS"

  check "the API server serves ValidatingAdmissionPolicy as GA (admissionregistration.k8s.io/v1)" bash -c '
    "$KUBECTL" get --raw /apis/admissionregistration.k8s.io/v1 \
      | jq -e "[.resources[].name] | index(\"validatingadmissionpolicies\") != null
               and index(\"validatingadmissionpolicybindings\") != null" >/dev/null'

  dry_run_value_sets
  dry_run_plain_manifests

  # A real install (CRD left out: the cluster may already have one from crds/), with one
  # replica so that the controller manager creates the pod under Pod Security.
  RELEASE="rct-$$"
  check "helm install (crds.install=false, replicaCount=1) into $CLUSTER_NS" \
    "$HELM" install "$RELEASE" "$CHART" --namespace "$CLUSTER_NS" --set crds.install=false \
    --set replicaCount=1
  export SA_NS="$CLUSTER_NS" SA_NAME="$RELEASE-redcap-operator" RELEASE WORK
  export SECRETS_ROLE="$RELEASE-redcap-operator-secrets"
  pod_security_checks
  check "NetworkPolicy installed for the operator pod" \
    "$KUBECTL" get networkpolicy "$SA_NAME" --namespace "$CLUSTER_NS"

  # A namespace whose admin lets the operator serve it: the documented opt-in.
  TENANT_NS="$CLUSTER_NS-tenant"
  SCRATCH_NAMESPACES+=("$TENANT_NS")
  export TENANT_NS
  check "tenant namespace $TENANT_NS binds the chart's Secret ClusterRole (opt-in)" bash -c '
    "$KUBECTL" create namespace "$TENANT_NS" &&
    "$KUBECTL" create rolebinding redcap-operator-secrets --namespace "$TENANT_NS" \
      --clusterrole="$SECRETS_ROLE" --serviceaccount="$SA_NS:$SA_NAME"'
  check "kubeconfig with the operator ServiceAccount's own token" \
    "$E2E_DIR/scripts/sa-kubeconfig.sh" "$KUBECONFIG" "$SA_NS" "$SA_NAME" "$WORK/sa.kubeconfig"
  rbac_checks
  admission_policy_checks

  check "helm uninstall" "$HELM" uninstall "$RELEASE" --namespace "$CLUSTER_NS"
  RELEASE=""
}

# dryrun FILE: server-side dry-run apply; warnings (Pod Security, deprecations) count as
# failures.
dryrun() {
  local file=$1 out
  out=$("$KUBECTL" apply --server-side --dry-run=server --force-conflicts \
    --field-manager=redcap-chart-test -f "$file" 2>&1) || {
    echo "$out"
    return 1
  }
  if grep -qi 'warning' <<<"$out"; then
    echo "$out"
    return 1
  fi
}

dry_run_value_sets() {
  local values set_name has_sm=0
  if "$KUBECTL" get crd servicemonitors.monitoring.coreos.com >/dev/null 2>&1; then
    has_sm=1
  fi
  for values in "" "$CHART"/ci/*-values.yaml; do
    set_name=default
    local args=(--namespace "$CLUSTER_NS")
    if [[ -n $values ]]; then
      set_name=$(basename "$values" -values.yaml)
      args+=(-f "$values")
    fi
    # Namespaced RBAC goes to namespaces that exist in this cluster.
    case $set_name in
      namespaced-secrets) args+=(--set "rbac.secrets.namespaces={$CLUSTER_NS}") ;;
      single-namespace) args+=(--set "operator.watchNamespace=$CLUSTER_NS") ;;
    esac
    "$HELM" template "rct-$set_name" "$CHART" "${args[@]}" >"$WORK/cluster-$set_name.yaml" 2>&1
    if ((has_sm == 0)); then
      # The ServiceMonitor kind needs the Prometheus Operator CRDs, absent here.
      yq -s -y 'map(select(. != null and .kind != "ServiceMonitor")) | .[]' "$WORK/cluster-$set_name.yaml" \
        | sed 's/^\.\.\.$/---/' >"$WORK/cluster-$set_name.filtered.yaml"
    else
      cp "$WORK/cluster-$set_name.yaml" "$WORK/cluster-$set_name.filtered.yaml"
    fi
    check "server-side dry-run apply ($set_name), no warnings" dryrun "$WORK/cluster-$set_name.filtered.yaml"
  done
}

# manifests/install, moved to the scratch namespace (redcap-system may not exist) and
# renamed so that its cluster-scoped objects do not meet a real install's.
dry_run_plain_manifests() {
  check "server-side dry-run apply (manifests/install via kustomize)" bash -c '
    set -euo pipefail
    "$KUBECTL" kustomize "$0/manifests/install" \
      | yq -s -y --arg ns "$1" "map(select(. != null and .kind != \"Namespace\")
          | if .metadata.namespace then .metadata.namespace = \$ns else . end
          | if .subjects then .subjects |= map(.namespace = \$ns) else . end
          | if .kind == \"CustomResourceDefinition\" then . else .metadata.name |= \"kz-\" + . end
          | if .roleRef then .roleRef.name |= \"kz-\" + . else . end
          | if .spec.policyName then .spec.policyName |= \"kz-\" + . else . end) | .[]" \
      | sed "s/^\.\.\.$/---/" >"$2/cluster-kustomize.yaml"
    "$KUBECTL" apply --server-side --dry-run=server --force-conflicts \
      --field-manager=redcap-chart-test -f "$2/cluster-kustomize.yaml"
    "$KUBECTL" apply --server-side --dry-run=server -f "$0/manifests/install/namespace.yaml"' \
    "$REPO" "$CLUSTER_NS" "$WORK"
}

# The namespace enforces `restricted`: only a compliant pod is created in it. Pod Security
# judges pods, not Deployments, so the proof is the pod the ReplicaSet controller creates
# (it stays Pending: this control plane has no nodes), and a variant that breaks the
# profile is refused by the same namespace.
pod_security_checks() {
  export CLUSTER_NS CHART
  check "Pod Security restricted (enforced): the Deployment's pod is admitted" bash -c '
    selector="app.kubernetes.io/name=redcap-operator,app.kubernetes.io/instance=$RELEASE"
    for _ in $(seq 1 120); do
      if [[ -n $("$KUBECTL" get pods -n "$CLUSTER_NS" -l "$selector" -o name) ]]; then exit 0; fi
      sleep 0.5
    done
    echo "no operator pod in $CLUSTER_NS after 60 s; ReplicaSet events:"
    "$KUBECTL" get events -n "$CLUSTER_NS" --field-selector involvedObject.kind=ReplicaSet
    exit 1'
  check "Pod Security restricted (enforced): a pod that allows privilege escalation is refused" bash -c '
    set -o pipefail
    "$HELM" template "$RELEASE" "$CHART" --namespace "$CLUSTER_NS" --show-only templates/deployment.yaml \
      --set containerSecurityContext.allowPrivilegeEscalation=true \
      | yq -y "{apiVersion: \"v1\", kind: \"Pod\",
                metadata: {name: \"psa-negative\", namespace: \"$CLUSTER_NS\"}, spec: .spec.template.spec}" \
      >"$WORK/psa-negative.yaml"
    if out=$("$KUBECTL" create --dry-run=server -f "$WORK/psa-negative.yaml" 2>&1); then
      echo "admitted, should be refused: $out"; exit 1
    fi
    grep -q "violates PodSecurity \"restricted:latest\"" <<<"$out" || { echo "$out"; exit 1; }'
}

rbac_checks() {
  # can ALLOW|DENY ARGS...: `kubectl auth can-i ARGS` as the operator's ServiceAccount
  # (its own token, so its real groups), compared with what it should say.
  cat >"$WORK/can.sh" <<'CAN'
can() {
  local want=$1 got
  shift
  got=$("$KUBECTL" --kubeconfig="$WORK/sa.kubeconfig" auth can-i "$@" 2>/dev/null) || true
  if [[ $want == ALLOW && $got != yes ]]; then echo "denied, should be allowed: auth can-i $*"; return 1; fi
  if [[ $want == DENY && $got != no ]]; then echo "allowed ($got), should be denied: auth can-i $*"; return 1; fi
}
CAN
  check "kubectl auth can-i (operator ServiceAccount): Secrets only in the namespace that opted in" bash -c '
    set -e; source "$WORK/can.sh"
    can ALLOW get secrets -n "$TENANT_NS"
    can ALLOW create secrets -n "$TENANT_NS"
    for verb in list watch update patch delete deletecollection; do can DENY "$verb" secrets -n "$TENANT_NS"; done
    for ns in kube-system default "$SA_NS"; do
      for verb in get list watch create update patch delete; do can DENY "$verb" secrets -n "$ns"; done
    done
    can DENY create secrets --all-namespaces
    can DENY get secrets --all-namespaces'
  check "kubectl auth can-i --list -n kube-system: only the operator's cluster-wide rules, no Secrets" bash -c '
    set -o pipefail
    "$KUBECTL" --kubeconfig="$WORK/sa.kubeconfig" auth can-i --list -n kube-system >"$WORK/can-list.txt" || exit 1
    # Resource rows (the first column is not a [non-resource URL] list).
    awk "NR > 1 && \$1 !~ /^\\[/ {print \$1}" "$WORK/can-list.txt" | sort -u >"$WORK/can-list.resources"
    unexpected=$(grep -vxE "events|events\.events\.k8s\.io|redcapenvironments\.redcap\.dev(/status|/finalizers)?|selfsubject(access|rules)reviews\.authorization\.k8s\.io|selfsubjectreviews\.authentication\.k8s\.io" \
      "$WORK/can-list.resources" || true)
    if [[ -n $unexpected ]]; then
      echo "unexpected rights in kube-system: $unexpected"; cat "$WORK/can-list.txt"; exit 1
    fi
    grep -qx "redcapenvironments.redcap.dev" "$WORK/can-list.resources" || { cat "$WORK/can-list.txt"; exit 1; }'

  # SubjectAccessReviews name the API group explicitly, so they answer correctly even
  # when the CRD is not installed in this cluster (kubectl auth can-i needs it for
  # discovery).
  cat >"$WORK/sar.sh" <<'SAR'
# sar ALLOW|DENY VERB GROUP RESOURCE[/SUBRESOURCE] [NAMESPACE]: asks the API server
# whether the operator's ServiceAccount ($SA_NS/$SA_NAME) may do VERB.
sar() {
  local want=$1 verb=$2 group=$3 resource=${4%%/*} sub="" ns=${5:-} got
  [[ $4 == */* ]] && sub=${4#*/}
  got=$(jq -n --arg user "system:serviceaccount:$SA_NS:$SA_NAME" --arg sans "system:serviceaccounts:$SA_NS" \
      --arg verb "$verb" --arg group "$group" --arg res "$resource" --arg sub "$sub" --arg ns "$ns" '{
        apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview",
        spec: {user: $user, groups: ["system:serviceaccounts", $sans, "system:authenticated"],
               resourceAttributes: {verb: $verb, group: $group, resource: $res, subresource: $sub, namespace: $ns}}}' |
    "$KUBECTL" create -f - -o jsonpath='{.status.allowed}') || return 1
  [[ $got == true ]] || got=false
  if [[ $want == ALLOW && $got != true ]]; then echo "denied, should be allowed: $verb $group/$4 ns=${ns:-<all>}"; return 1; fi
  if [[ $want == DENY && $got == true ]]; then echo "allowed, should be denied: $verb $group/$4 ns=${ns:-<all>}"; return 1; fi
}
SAR
  check "RBAC allows what the operator needs (SubjectAccessReview)" bash -c '
    set -e; source "$WORK/sar.sh"
    for verb in get list watch patch update; do sar ALLOW "$verb" redcap.dev redcapenvironments; done
    for verb in get patch update; do sar ALLOW "$verb" redcap.dev redcapenvironments/status default; done
    sar ALLOW update redcap.dev redcapenvironments/finalizers default
    sar ALLOW create events.k8s.io events default
    sar ALLOW patch events.k8s.io events default
    sar ALLOW create "" events default
    for verb in get create; do sar ALLOW "$verb" "" secrets "$TENANT_NS"; done
    for verb in get create update patch; do sar ALLOW "$verb" coordination.k8s.io leases "$SA_NS"; done'
  check "RBAC denies everything else (SubjectAccessReview)" bash -c '
    set -e; source "$WORK/sar.sh"
    for verb in create delete deletecollection; do sar DENY "$verb" redcap.dev redcapenvironments default; done
    sar DENY delete redcap.dev redcapenvironments/status default
    for verb in get create list watch update patch delete; do sar DENY "$verb" "" secrets default; done
    for verb in get create; do sar DENY "$verb" "" secrets kube-system; sar DENY "$verb" "" secrets; done
    sar DENY get coordination.k8s.io leases default
    sar DENY list coordination.k8s.io leases "$SA_NS"
    sar DENY delete coordination.k8s.io leases "$SA_NS"
    sar DENY delete events.k8s.io events default
    sar DENY list "" pods default
    sar DENY create "" serviceaccounts/token kube-system
    sar DENY get "" configmaps default
    sar DENY list "" namespaces
    sar DENY create rbac.authorization.k8s.io rolebindings "$TENANT_NS"
    sar DENY delete admissionregistration.k8s.io validatingadmissionpolicies
    sar DENY create apiextensions.k8s.io customresourcedefinitions
    sar DENY "*" "*" "*"'
}

# secret_yaml NAME TYPE OWNER_KIND CONTROLLER KEYS...: a Secret in $TENANT_NS owned by the
# RedcapEnvironment $ENV_NAME (uid $ENV_UID) in the shape the test asks for.
secret_yaml() {
  local name=$1 type=$2 kind=$3 controller=$4 key
  shift 4
  printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\n' "$name" "$TENANT_NS"
  printf '  annotations: {kubernetes.io/service-account.name: default}\n'
  if [[ $kind != none ]]; then
    printf '  ownerReferences: [{apiVersion: redcap.dev/v1alpha1, kind: %s, name: %s, uid: %s, controller: %s}]\n' \
      "$kind" "$ENV_NAME" "$ENV_UID" "$controller"
  fi
  printf 'type: %s\ndata:\n' "$type"
  for key in "$@"; do printf '  %s: c2VlZC1vZi10aGUtY3Jvbi1zZWNyZXQtb2YtdGhpcnR5LXR3bw==\n' "$key"; done
}

admission_policy_checks() {
  local policy="$RELEASE-redcap-operator-secrets"
  check "ValidatingAdmissionPolicy compiled without type-checking warnings" bash -c '
    for _ in $(seq 1 60); do
      status=$("$KUBECTL" get validatingadmissionpolicy "$0" -o json | jq -c ".status // {}")
      if jq -e ".observedGeneration == 1" <<<"$status" >/dev/null; then
        jq -e "(.typeChecking.expressionWarnings // []) == []" <<<"$status" >/dev/null && exit 0
        echo "$status"; exit 1
      fi
      sleep 0.5
    done
    echo "the policy was never type-checked: $status"; exit 1' "$policy"

  # A RedcapEnvironment to own the Secret (the CRD too when this cluster has none; no
  # operator runs here, so nothing reconciles it).
  if ! "$KUBECTL" get crd redcapenvironments.redcap.dev >/dev/null 2>&1; then
    SCRATCH_OBJECTS+=("crd/redcapenvironments.redcap.dev")
    check "install the RedcapEnvironment CRD from crds/" bash -c '
      "$KUBECTL" create -f "$0"/crds/redcapenvironments.redcap.dev.yaml &&
      "$KUBECTL" wait --for=condition=Established --timeout=60s crd/redcapenvironments.redcap.dev' "$REPO"
  fi
  export ENV_NAME=vap
  check "a RedcapEnvironment $TENANT_NS/$ENV_NAME to own the cron Secret" bash -c '
    set -o pipefail
    yq -y ".metadata.name = \"$ENV_NAME\" | .metadata.namespace = \"$TENANT_NS\"" \
      "$0/manifests/examples/redcap-dev.yaml" | "$KUBECTL" create -f -' "$REPO"
  ENV_UID=$("$KUBECTL" get redcapenvironment "$ENV_NAME" -n "$TENANT_NS" -o jsonpath='{.metadata.uid}' 2>/dev/null)
  export ENV_UID
  export -f secret_yaml

  # as_operator EXPECT FILE: creates FILE as the operator's ServiceAccount; EXPECT is
  # "denied" (by the policy, named in the error) or "created".
  cat >"$WORK/as-operator.sh" <<'AS'
as_operator() {
  local expect=$1 file=$2 out
  if out=$("$KUBECTL" --kubeconfig="$WORK/sa.kubeconfig" create -f "$file" 2>&1); then
    [[ $expect == created ]] && return 0
    echo "created, should have been denied: $(cat "$file")"; return 1
  fi
  if [[ $expect == denied ]] && grep -q "ValidatingAdmissionPolicy '$POLICY'" <<<"$out"; then return 0; fi
  echo "expected $expect, got: $out"; return 1
}
AS
  export POLICY="$policy"
  # The policy takes effect once the API server has loaded it: wait for it on a Secret
  # that is harmless either way (dry run).
  check "the policy is in effect for the operator's ServiceAccount" bash -c '
    secret_yaml probe Opaque RedcapEnvironment true secret >"$WORK/probe.yaml"
    for _ in $(seq 1 60); do
      out=$("$KUBECTL" --kubeconfig="$WORK/sa.kubeconfig" create --dry-run=server -f "$WORK/probe.yaml" 2>&1) ||
        { grep -q "ValidatingAdmissionPolicy" <<<"$out" && exit 0; }
      sleep 0.5
    done
    echo "the policy never denied the probe: $out"; exit 1'
  check "VAP denies the operator a service-account-token Secret (the path to cluster-admin)" bash -c '
    source "$WORK/as-operator.sh"
    secret_yaml "$ENV_NAME-cron" kubernetes.io/service-account-token RedcapEnvironment true >"$WORK/vap-token.yaml"
    as_operator denied "$WORK/vap-token.yaml" &&
    ! "$KUBECTL" get secret -n "$TENANT_NS" "$ENV_NAME-cron" -o name 2>/dev/null'
  check "VAP denies the operator a Secret with another name" bash -c '
    source "$WORK/as-operator.sh"
    secret_yaml other-cron Opaque RedcapEnvironment true secret >"$WORK/vap-name.yaml"
    as_operator denied "$WORK/vap-name.yaml"
    secret_yaml "$ENV_NAME" Opaque RedcapEnvironment true secret >"$WORK/vap-name2.yaml"
    as_operator denied "$WORK/vap-name2.yaml"'
  check "VAP denies the operator a Secret not controlled by a RedcapEnvironment" bash -c '
    source "$WORK/as-operator.sh"
    secret_yaml "$ENV_NAME-cron" Opaque none true secret >"$WORK/vap-noowner.yaml"
    as_operator denied "$WORK/vap-noowner.yaml"
    secret_yaml "$ENV_NAME-cron" Opaque ConfigMap true secret >"$WORK/vap-kind.yaml"
    as_operator denied "$WORK/vap-kind.yaml"
    secret_yaml "$ENV_NAME-cron" Opaque RedcapEnvironment false secret >"$WORK/vap-notcontroller.yaml"
    as_operator denied "$WORK/vap-notcontroller.yaml"'
  check "VAP denies the operator a cron Secret with other keys" bash -c '
    source "$WORK/as-operator.sh"
    secret_yaml "$ENV_NAME-cron" Opaque RedcapEnvironment true secret token >"$WORK/vap-keys.yaml"
    as_operator denied "$WORK/vap-keys.yaml"'
  check "VAP allows the operator <environment>-cron, Opaque, controlled by its RedcapEnvironment" bash -c '
    source "$WORK/as-operator.sh"
    secret_yaml "$ENV_NAME-cron" Opaque RedcapEnvironment true secret >"$WORK/vap-ok.yaml"
    as_operator created "$WORK/vap-ok.yaml" &&
    [[ $("$KUBECTL" get secret -n "$TENANT_NS" "$ENV_NAME-cron" -o jsonpath="{.type}") == Opaque ]]'
  check "VAP binds only the operator: an admin may still create a service-account-token Secret" bash -c '
    secret_yaml other-token kubernetes.io/service-account-token none true >"$WORK/vap-admin.yaml"
    "$KUBECTL" create --dry-run=server -f "$WORK/vap-admin.yaml"'
}
