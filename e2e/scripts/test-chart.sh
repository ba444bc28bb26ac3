#!/usr/bin/env bash
# Tests the packaging of redcap-operator: the Helm chart, its values schema, the plain
# manifests in manifests/install, the CRD copy in the chart, the Argo CD health check,
# the IAM policy and the Dockerfile, and (with a cluster) validates everything the chart
# renders against a real kube-apiserver and checks the shipped RBAC with a real install.
#
# Env:
#   HELM, KUBECTL   binaries (default: from $REDCAP_CACHE/bin/current.env, else PATH)
#   KUBECONFIG      a running API server (e2e/scripts/env.sh). Unset: a private control
#                   plane (e2e/scripts/cluster.sh) is started in the scratch directory for
#                   the cluster tests and stopped at the end. Set but not answering: the
#                   cluster tests fail.
#   REQUIRE_CLUSTER=0  skip the cluster tests instead (static checks only, with a notice).
#                   The default (1) never passes without them; test-all.sh sets it too.
#   KEEP_WORK=1     keep the scratch directory with every rendered manifest
#
# Prints one line per check and "N passed, N failed" at the end; exits 1 on any failure.
# jq programs and `bash -c` bodies are single-quoted on purpose.
# shellcheck disable=SC2016 source-path=SCRIPTDIR
set -uo pipefail
E2E_LOG_TAG=test-chart
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPO="$(cd "$E2E_DIR/.." && pwd)"
CHART="$REPO/charts/redcap-operator"
# The Python checks, each runnable alone (see its docstring).
CHECKS="$E2E_DIR/checks"

if [[ -z ${HELM:-} || -z ${KUBECTL:-} ]] && [[ -f $REDCAP_CACHE/bin/current.env ]]; then
  # shellcheck disable=SC1091
  source "$REDCAP_CACHE/bin/current.env"
fi
HELM="${HELM:-helm}"
KUBECTL="${KUBECTL:-kubectl}"
export HELM KUBECTL
# Go module and build caches shared with the other e2e tools (the health-check harness).
go_env

for tool in "$HELM" "$KUBECTL" jq yq python3 go; do
  command -v "$tool" >/dev/null || die "$tool not found (set HELM/KUBECTL, see e2e/README.md)"
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/test-chart.XXXXXX")"
CLUSTER_NS=""
RELEASE=""
# Namespaces and cluster-scoped objects the cluster tests created (deleted at the end).
SCRATCH_NAMESPACES=()
SCRATCH_OBJECTS=()
PRIVATE_CLUSTER=""
cleanup() {
  if [[ -n $RELEASE ]]; then
    "$HELM" uninstall "$RELEASE" --namespace "$CLUSTER_NS" >/dev/null 2>&1 || true
  fi
  local ns obj
  for ns in "${SCRATCH_NAMESPACES[@]}"; do
    "$KUBECTL" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
  done
  for obj in "${SCRATCH_OBJECTS[@]}"; do
    "$KUBECTL" delete "$obj" --wait=false >/dev/null 2>&1 || true
  done
  if [[ -n $PRIVATE_CLUSTER ]]; then
    "$E2E_DIR/scripts/cluster.sh" down "$PRIVATE_CLUSTER" >/dev/null 2>&1 || true
  fi
  if [[ ${KEEP_WORK:-0} == 1 ]]; then
    log "kept $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

passed=0
failed=0
skipped=0
failures=()

# check NAME COMMAND...: runs COMMAND, counts it, shows its output only on failure.
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    passed=$((passed + 1))
    printf 'ok   %s\n' "$name"
  else
    failed=$((failed + 1))
    failures+=("$name")
    printf 'FAIL %s\n' "$name"
    printf '%s\n' "$out" | tail -n 40 | sed 's/^/     /'
  fi
}

skip() {
  skipped=$((skipped + 1))
  printf 'skip %s (%s)\n' "$1" "$2"
}

# render NAME [helm template args...]: renders the chart into $WORK/NAME.yaml and, as a
# JSON array of its documents, $WORK/NAME.json.
render() {
  local name=$1
  shift
  "$HELM" template redcap-operator "$CHART" --namespace redcap-system "$@" >"$WORK/$name.yaml" &&
    yq -s 'map(select(. != null))' "$WORK/$name.yaml" >"$WORK/$name.json"
}

# jqcheck FILE EXPR: true when the jq expression is true on FILE; prints FILE's relevant
# part on failure through the expression's own output.
jqcheck() {
  local file=$1 expr=$2
  jq -e "$expr" "$file" >/dev/null || {
    echo "jq expression was not true: $expr"
    return 1
  }
}

# expect_render_error NAME PATTERN [helm args...]: the render must fail, with PATTERN in
# the error.
expect_render_error() {
  local name=$1 pattern=$2 out
  shift 2
  if out=$("$HELM" template redcap-operator "$CHART" "$@" 2>&1); then
    echo "rendered without error, expected: $pattern"
    return 1
  fi
  grep -Eq "$pattern" <<<"$out" || {
    echo "error did not match /$pattern/:"
    echo "$out"
    return 1
  }
}

# --------------------------------------------------------------------------------------
# Lint and render
# --------------------------------------------------------------------------------------

check "helm lint --strict (default values)" "$HELM" lint --strict "$CHART"
for values in "$CHART"/ci/*-values.yaml; do
  set_name=$(basename "$values" -values.yaml)
  check "helm lint --strict ($set_name)" "$HELM" lint --strict "$CHART" -f "$values"
  check "helm template ($set_name)" render "$set_name" -f "$values"
done
check "helm template (default values)" render default

D="$WORK/default.json"

check "default: renders exactly the expected kinds" jqcheck "$D" '
  [.[].kind] | unique ==
  ["ClusterRole","ClusterRoleBinding","ConfigMap","CustomResourceDefinition","Deployment",
   "NetworkPolicy","Role","RoleBinding","Service","ServiceAccount","ValidatingAdmissionPolicy",
   "ValidatingAdmissionPolicyBinding"]'

check "default: every namespaced object is in the release namespace" jqcheck "$D" '
  [.[] | select(.kind | IN("ClusterRole","ClusterRoleBinding","CustomResourceDefinition",
                           "ValidatingAdmissionPolicy","ValidatingAdmissionPolicyBinding") | not)
       | .metadata.namespace] | all(. == "redcap-system")'

check "default: CRD is kept on uninstall (helm.sh/resource-policy: keep)" jqcheck "$D" '
  [.[] | select(.kind == "CustomResourceDefinition")] as $c
  | ($c | length) >= 1
    and ($c | all(.metadata.annotations["helm.sh/resource-policy"] == "keep"))
    and ($c | all(.metadata.labels["app.kubernetes.io/name"] == "redcap-operator"))'

check "crds.keep=false: no keep annotation" bash -c '
  set -o pipefail
  out=$("$HELM" template r "$0" --set crds.keep=false --show-only templates/crds.yaml) &&
    grep -q "kind: CustomResourceDefinition" <<<"$out" && ! grep -q "helm.sh/resource-policy" <<<"$out"' "$CHART"

# The ClusterRoles must be exactly these: least privilege, reviewed rule by rule. The one
# bound in every namespace has no Secret access; the Secret one is bound per namespace.
check "default: ClusterRole rules are exactly the least-privilege set" jqcheck "$D" '
  ([.[] | select(.kind == "ClusterRole") | .metadata.name] | sort
     == ["redcap-operator","redcap-operator-secrets"])
  and ([.[] | select(.kind == "ClusterRole" and .metadata.name == "redcap-operator")][0].rules ==
  [
    {"apiGroups":["redcap.dev"],"resources":["redcapenvironments"],"verbs":["get","list","watch","patch","update"]},
    {"apiGroups":["redcap.dev"],"resources":["redcapenvironments/status"],"verbs":["get","patch","update"]},
    {"apiGroups":["redcap.dev"],"resources":["redcapenvironments/finalizers"],"verbs":["update"]},
    {"apiGroups":["events.k8s.io"],"resources":["events"],"verbs":["create","patch"]},
    {"apiGroups":[""],"resources":["events"],"verbs":["create","patch"]}
  ])
  and ([.[] | select(.kind == "ClusterRole" and .metadata.name == "redcap-operator-secrets")][0].rules ==
  [{"apiGroups":[""],"resources":["secrets"],"verbs":["get","create"]}])'

check "default: Secret access bound nowhere (namespaces opt in), never cluster-wide" jqcheck "$D" '
  [.[] | select(.kind | IN("RoleBinding","ClusterRoleBinding")) | .roleRef.name]
  | index("redcap-operator-secrets") == null'

check "default: admission policy lets the operator create only its cron Secret" jqcheck "$D" '
  ([.[] | select(.kind == "ValidatingAdmissionPolicy")] | length == 1)
  and ([.[] | select(.kind == "ValidatingAdmissionPolicy")][0] as $p
       | $p.metadata.name == "redcap-operator-secrets"
       and $p.spec.failurePolicy == "Fail"
       and $p.spec.matchConstraints.resourceRules
           == [{"apiGroups":[""],"apiVersions":["*"],"operations":["CREATE","UPDATE"],"resources":["secrets"]}]
       and $p.spec.matchConditions
           == [{"name":"is-the-operator","expression":"request.userInfo.username == '"'"'system:serviceaccount:redcap-system:redcap-operator'"'"'"}]
       and ([$p.spec.validations[].expression] | any(test("object.type == .Opaque."))))
  and ([.[] | select(.kind == "ValidatingAdmissionPolicyBinding")][0].spec
       == {"policyName":"redcap-operator-secrets","validationActions":["Deny"]})'

check "default: NetworkPolicy: no ingress peer, egress to DNS, 443/6443 and the Pod Identity agent" jqcheck "$D" '
  [.[] | select(.kind == "NetworkPolicy")][0].spec as $n
  | $n.policyTypes == ["Ingress","Egress"] and $n.ingress == []
  and $n.podSelector.matchLabels
      == {"app.kubernetes.io/name":"redcap-operator","app.kubernetes.io/instance":"redcap-operator"}
  and $n.egress == [
    {"ports":[{"port":53,"protocol":"UDP"},{"port":53,"protocol":"TCP"}]},
    {"ports":[{"port":443,"protocol":"TCP"},{"port":6443,"protocol":"TCP"}]},
    {"to":[{"ipBlock":{"cidr":"169.254.170.23/32"}},{"ipBlock":{"cidr":"fd00:ec2::23/128"}}],
     "ports":[{"port":80,"protocol":"TCP"}]}]'

check "default: Lease access only through a namespaced Role" jqcheck "$D" '
  ([.[] | select(.kind == "Role")] | length == 1)
  and ([.[] | select(.kind == "Role")][0].rules ==
       [{"apiGroups":["coordination.k8s.io"],"resources":["leases"],"verbs":["get","create","update","patch"]}])
  and ([.[] | select(.kind == "ClusterRole") | .rules[].apiGroups[]] | index("coordination.k8s.io") == null)'

for set_name in default irsa namespaced-secrets emulator external-sa single-namespace cluster-secrets; do
  check "$set_name: no wildcard in any RBAC rule" jqcheck "$WORK/$set_name.json" '
    [.[] | select(.kind | IN("Role","ClusterRole")) | .rules[] | (.apiGroups + .resources + .verbs)[]]
    | all(. != "*" and (contains("*") | not))'
done

check "default: bindings point at the chart ServiceAccount" jqcheck "$D" '
  [.[] | select(.kind | IN("RoleBinding","ClusterRoleBinding")) | .subjects]
  | all(. == [{"kind":"ServiceAccount","name":"redcap-operator","namespace":"redcap-system"}])'

DEPLOY='[.[] | select(.kind == "Deployment")][0]'
check "default: Deployment pod is hardened (non-root 65532, read-only root, no caps, seccomp)" jqcheck "$D" "
  $DEPLOY.spec.template.spec as \$p | \$p.containers[0].securityContext as \$c |
  \$p.securityContext.runAsNonRoot == true and \$p.securityContext.runAsUser == 65532
  and \$p.securityContext.seccompProfile.type == \"RuntimeDefault\"
  and \$c.runAsNonRoot == true and \$c.runAsUser == 65532
  and \$c.readOnlyRootFilesystem == true and \$c.allowPrivilegeEscalation == false
  and \$c.capabilities.drop == [\"ALL\"] and \$c.seccompProfile.type == \"RuntimeDefault\"
  and (\$c | has(\"privileged\") | not)"

check "default: probes, port, resources, replicas" jqcheck "$D" "
  $DEPLOY as \$d | \$d.spec.template.spec.containers[0] as \$c |
  \$d.spec.replicas == 1
  and \$c.ports == [{\"name\":\"http-metrics\",\"containerPort\":8080,\"protocol\":\"TCP\"}]
  and \$c.livenessProbe.httpGet == {\"path\":\"/healthz\",\"port\":\"http-metrics\"}
  and \$c.readinessProbe.httpGet == {\"path\":\"/readyz\",\"port\":\"http-metrics\"}
  and \$c.resources == {\"requests\":{\"cpu\":\"50m\",\"memory\":\"64Mi\"},\"limits\":{\"cpu\":\"200m\",\"memory\":\"128Mi\"}}"

check "default: args, downward-API env, image" jqcheck "$D" "
  $DEPLOY.spec.template.spec.containers[0] as \$c |
  \$c.args == [\"run\",\"--log-format=json\"]
  and \$c.image == \"ghcr.io/redcap-operator/redcap-operator:0.1.0\"
  and ([\$c.env[] | select(.name == \"POD_NAME\")][0].valueFrom.fieldRef.fieldPath == \"metadata.name\")
  and ([\$c.env[] | select(.name == \"POD_NAMESPACE\")][0].valueFrom.fieldRef.fieldPath == \"metadata.namespace\")
  and ([\$c.env[].name] | index(\"AWS_ENDPOINT_URL\") == null)
  and ([\$c.env[].name] | index(\"AWS_REGION\") == null)"

check "default: metrics Service selects the operator pod" jqcheck "$D" "
  [.[] | select(.kind == \"Service\")][0].spec as \$s | $DEPLOY.spec.template.metadata.labels as \$l |
  (\$s.selector | to_entries | all(\$l[.key] == .value))
  and \$s.ports == [{\"name\":\"http-metrics\",\"port\":8080,\"targetPort\":\"http-metrics\",\"protocol\":\"TCP\"}]"

check "irsa: role ARN on the ServiceAccount, region env, ServiceMonitor, PDB" jqcheck "$WORK/irsa.json" "
  ([.[] | select(.kind == \"ServiceAccount\")][0].metadata.annotations[\"eks.amazonaws.com/role-arn\"]
     == \"arn:aws:iam::111122223333:role/redcap-operator\")
  and ($DEPLOY.spec.replicas == 2)
  and ([$DEPLOY.spec.template.spec.containers[0].env[] | select(.name == \"AWS_REGION\")][0].value == \"us-east-1\")
  and ([.[] | select(.kind == \"ServiceMonitor\")][0].metadata.labels.release == \"kube-prometheus-stack\")
  and ([.[] | select(.kind == \"PodDisruptionBudget\")][0].spec.minAvailable == 1)
  and ([.[] | select(.kind == \"NetworkPolicy\")][0].spec.ingress
       == [{\"from\":[{\"namespaceSelector\":{\"matchLabels\":{\"kubernetes.io/metadata.name\":\"monitoring\"}}}],
            \"ports\":[{\"port\":\"http-metrics\",\"protocol\":\"TCP\"}]}])
  and ([.[] | .metadata.labels.team] | all(. == \"research-it\"))"

check "namespaced-secrets: Secrets only through RoleBindings in the listed namespaces" jqcheck "$WORK/namespaced-secrets.json" '
  ([.[] | select(.kind == "ClusterRoleBinding") | .roleRef.name] | index("redcap-operator-secrets") == null)
  and ([.[] | select(.kind == "RoleBinding" and .roleRef.name == "redcap-operator-secrets")
        | select(.roleRef.kind == "ClusterRole") | .metadata.namespace] | sort
       == ["redcap-dev","redcap-prod"])'

check "namespaced-secrets: no Lease Role without leader election; digest image" jqcheck "$WORK/namespaced-secrets.json" "
  ([.[] | select(.kind == \"Role\") | .rules[].apiGroups[]] | index(\"coordination.k8s.io\") == null)
  and ([$DEPLOY.spec.template.spec.containers[0].env[] | select(.name == \"REDCAP_LEADER_ELECTION\")][0].value == \"false\")
  and ($DEPLOY.spec.template.spec.containers[0].image
       == \"ghcr.io/redcap-operator/redcap-operator@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\")"

check "emulator: endpoint override, human logs, extra env from a Secret" jqcheck "$WORK/emulator.json" "
  $DEPLOY.spec.template.spec.containers[0] as \$c |
  ([\$c.env[] | select(.name == \"AWS_ENDPOINT_URL\")][0].value == \"http://moto.redcap-system.svc:5000\")
  and (\$c.args == [\"run\",\"--log-format=human\"])
  and ([\$c.env[] | select(.name == \"REDCAP_LOG_LEVEL\")][0].value == \"info,redcap_operator=debug\")
  and ([\$c.env[] | select(.name == \"REDCAP_S3_FORCE_PATH_STYLE\")][0].value == \"true\")
  and ([\$c.env[] | select(.name == \"AWS_SECRET_ACCESS_KEY\")][0].valueFrom.secretKeyRef.name == \"moto-credentials\")"

check "external-sa: no CRD, no ServiceAccount, no Secret access, no Service" jqcheck "$WORK/external-sa.json" "
  ([.[].kind] | (index(\"CustomResourceDefinition\") == null) and (index(\"ServiceAccount\") == null)
                and (index(\"Service\") == null))
  and ($DEPLOY.spec.template.spec.serviceAccountName == \"redcap-operator-platform\")
  and ([.[] | select(.kind | IN(\"Role\",\"ClusterRole\")) | .rules[].resources[]] | index(\"secrets\") == null)"

check "single-namespace: RoleBindings in the watched namespace, no ClusterRoleBinding" jqcheck "$WORK/single-namespace.json" "
  ([.[].kind] | index(\"ClusterRoleBinding\") == null)
  and ([.[] | select(.kind == \"RoleBinding\" and .roleRef.kind == \"ClusterRole\") | [.roleRef.name, .metadata.namespace]]
       | sort == [[\"redcap-operator\",\"redcap-prod\"],[\"redcap-operator-secrets\",\"redcap-prod\"]])
  and ([.[] | select(.kind == \"RoleBinding\" and .roleRef.kind == \"ClusterRole\")][0].metadata.namespace == \"redcap-prod\")
  and ([$DEPLOY.spec.template.spec.containers[0].env[] | select(.name == \"REDCAP_NAMESPACE\")][0].value == \"redcap-prod\")"

check "cluster-secrets: Secret access in every namespace, with the admission policy" jqcheck "$WORK/cluster-secrets.json" '
  ([.[] | select(.kind == "ClusterRoleBinding") | .roleRef.name] | sort
     == ["redcap-operator","redcap-operator-secrets"])
  and ([.[] | select(.kind == "ValidatingAdmissionPolicyBinding")] | length == 1)'

check "networkPolicy: metrics peers, open egress, extra rules" bash -c '
  "$HELM" template r "$0" --show-only templates/networkpolicy.yaml \
    --set networkPolicy.egress.restrict=false \
    --set-json "networkPolicy.metrics.from=[{\"podSelector\":{\"matchLabels\":{\"app\":\"prometheus\"}}}]" \
    | yq -e ".spec.policyTypes == [\"Ingress\"] and (has(\"egress\") | not)
             and .spec.ingress[0].from[0].podSelector.matchLabels.app == \"prometheus\"" >/dev/null &&
  "$HELM" template r "$0" --show-only templates/networkpolicy.yaml \
    --set networkPolicy.egress.podIdentityAgent=false --set "networkPolicy.egress.tcpPorts={443}" \
    --set-json "networkPolicy.egress.extraRules=[{\"ports\":[{\"port\":3128,\"protocol\":\"TCP\"}]}]" \
    | yq -e ".spec.egress | length == 3 and .[1].ports == [{\"port\":443,\"protocol\":\"TCP\"}]
             and .[2].ports[0].port == 3128" >/dev/null' "$CHART"

check "default: operator settings reach the REDCAP_* variables" jqcheck "$D" "
  ($DEPLOY.spec.template.spec.containers[0].env | map({(.name): (.value // .valueFrom.fieldRef.fieldPath)}) | add) as \$e |
  \$e.REDCAP_LOG_LEVEL == \"info\" and \$e.REDCAP_METRICS_ADDR == \"0.0.0.0:8080\"
  and \$e.REDCAP_LEADER_ELECTION == \"true\" and \$e.REDCAP_LEASE_NAME == \"redcap-operator\"
  and \$e.REDCAP_LEASE_NAMESPACE == \"metadata.namespace\" and \$e.REDCAP_CONCURRENCY == \"4\"
  and \$e.REDCAP_RESYNC_SECONDS == \"300\" and \$e.REDCAP_AWS_MAX_ATTEMPTS == \"5\"
  and \$e.REDCAP_AWS_CALLS_PER_SECOND == \"10\" and \$e.REDCAP_AWS_BURST == \"20\"
  and \$e.REDCAP_AWS_PERMISSIONS_BOUNDARY == \"redcap-operator-boundary\"
  and \$e.REDCAP_S3_FORCE_PATH_STYLE == \"false\" and (\$e | has(\"REDCAP_NAMESPACE\") | not)"

check "extraArgs are appended after run" bash -c '
  "$HELM" template r "$0" --set "operator.extraArgs={--a=1,--b}" --show-only templates/deployment.yaml \
    | yq -e ".spec.template.spec.containers[0].args == [\"run\",\"--log-format=json\",\"--a=1\",\"--b\"]" >/dev/null' "$CHART"

# The CRD the chart installs is the generated one, unchanged apart from labels/annotations.
check "rendered CRD spec equals crds/ (no damage by the template)" bash -c '
  set -euo pipefail
  shopt -s nullglob
  files=("$0"/crds/*.yaml)
  (( ${#files[@]} > 0 )) || { echo "no CRDs in crds/"; exit 1; }
  want=$(yq -s "map(select(. != null)) | map({name: .metadata.name, spec}) | sort_by(.name)" "${files[@]}")
  got=$(jq "map(select(.kind == \"CustomResourceDefinition\")) | map({name: .metadata.name, spec}) | sort_by(.name)" "$1")
  diff <(jq -S . <<<"$want") <(jq -S . <<<"$got")' "$REPO" "$D"

check "chart README documents every value of values.yaml" python3 "$CHECKS/chart_values_documented.py" "$CHART"

check "chart CRDs are in sync with crds/ (sync-crds.sh --check)" "$CHART/sync-crds.sh" --check

# --------------------------------------------------------------------------------------
# Values schema and template guards reject bad input
# --------------------------------------------------------------------------------------

bad_values() {
  local name=$1 yaml=$2 pattern=$3
  printf '%s\n' "$yaml" >"$WORK/bad-$name.yaml"
  check "schema rejects: $name" expect_render_error "$name" "$pattern" -f "$WORK/bad-$name.yaml"
}
SCHEMA_ERR='values don.t meet the specifications of the schema'
bad_values "unknown top-level key" 'replicas: 2' "$SCHEMA_ERR"
bad_values "unknown nested key" $'metrics:\n  serviceMonitor:\n    enable: true' "$SCHEMA_ERR"
bad_values "replicaCount as a string" 'replicaCount: "2"' "$SCHEMA_ERR"
bad_values "unknown log format" $'operator:\n  logFormat: xml' "$SCHEMA_ERR"
bad_values "unknown secrets scope" $'rbac:\n  secrets:\n    scope: all' "$SCHEMA_ERR"
bad_values "malformed role ARN" $'aws:\n  roleArn: my-role' "$SCHEMA_ERR"
bad_values "malformed digest" $'image:\n  digest: latest' "$SCHEMA_ERR"
bad_values "resource quantity typo" $'resources:\n  limits:\n    memory: 128MB' "$SCHEMA_ERR"
bad_values "privileged metrics port" $'metrics:\n  port: 80' "$SCHEMA_ERR"
bad_values "empty metrics peer (would admit everyone)" $'networkPolicy:\n  metrics:\n    from: [{}]' "$SCHEMA_ERR"
bad_values "egress port out of range" $'networkPolicy:\n  egress:\n    tcpPorts: [0]' "$SCHEMA_ERR"
bad_values "admission policy switch as a string" $'rbac:\n  secrets:\n    admissionPolicy:\n      enabled: "no"' "$SCHEMA_ERR"

check "guard: scope cluster needs the admission policy" expect_render_error "cluster-no-policy" \
  'needs rbac.secrets.admissionPolicy.enabled' --set rbac.secrets.scope=cluster \
  --set rbac.secrets.admissionPolicy.enabled=false
check "guard: a ServiceMonitor needs networkPolicy.metrics.from" expect_render_error "sm-np" \
  'needs networkPolicy.metrics.from' --set metrics.serviceMonitor.enabled=true
check "guard: the permissions boundary is required" expect_render_error "no-boundary" \
  'permissionsBoundary' --set aws.permissionsBoundary=
check "guard: the permissions boundary is a policy name, not an ARN or pattern" expect_render_error "arn-boundary" \
  'permissionsBoundary' --set 'aws.permissionsBoundary=arn:aws:iam::1:policy/*'
check "guard: PDB must not block drains" expect_render_error "pdb" \
  'must be lower than replicaCount' --set podDisruptionBudget.enabled=true
check "guard: ServiceMonitor needs the Service" expect_render_error "sm" \
  'needs metrics.service.enabled' --set metrics.serviceMonitor.enabled=true --set metrics.service.enabled=false
check "guard: leader election durations must nest" expect_render_error "lease-timing" \
  'renewDeadlineSeconds .15. < leaseDurationSeconds .15. must hold' --set leaderElection.renewDeadlineSeconds=15

# --------------------------------------------------------------------------------------
# Plain manifests, GitOps, IAM, image
# --------------------------------------------------------------------------------------

check "manifests/install is in sync with the chart (generate.sh --check)" \
  "$REPO/manifests/install/generate.sh" --check

check "manifests/install builds with kustomize and matches the chart's objects" bash -c '
  set -euo pipefail
  "$KUBECTL" kustomize "$0/manifests/install" >"$2/kustomize.yaml"
  yq -s "map(select(. != null))" "$2/kustomize.yaml" >"$2/kustomize.json"
  jq -e "(map(select(.kind == \"Namespace\")) | length == 1 and .[0].metadata.name == \"redcap-system\")
    and (map(select(.kind != \"Namespace\") | [.kind, .metadata.name, (.metadata.namespace // \"\")]) | sort)
        == (\$chart[0] | map([.kind, .metadata.name, (.metadata.namespace // \"\")]) | sort)
    and (map(.metadata.labels // {} | has(\"helm.sh/chart\")) | any | not)" \
    --slurpfile chart "$1" "$2/kustomize.json" >/dev/null' "$REPO" "$D" "$WORK"

check "Argo CD health check passes its test cases (gopher-lua)" bash -c '
  cd "$0/manifests/gitops/health-test" && go run . ../argocd-health.lua ../argocd-health_test.yaml' "$REPO"

check "argocd-cm-patch.yaml embeds argocd-health.lua verbatim" bash -c '
  diff <(yq . "$0/manifests/gitops/argocd-cm-patch.yaml" \
           | jq -j ".data[\"resource.customizations.health.redcap.dev_RedcapEnvironment\"]") \
       "$0/manifests/gitops/argocd-health.lua"' "$REPO"

# An Allow on every resource without a condition: only reads, and the few writes AWS
# offers no resource scope or condition key for (docs/install.md names each).
check "IAM policy: valid, no wildcard actions, no Allow without a resource scope" jqcheck "$REPO/docs/iam-policy.json" '
  .Version == "2012-10-17"
  and ([.Statement[].Action[]] | all(test("^[a-z0-9-]+:[A-Za-z]+$")))
  and ([.Statement[] | select(.Effect == "Allow" and .Resource == "*" and (has("Condition") | not))
        | .Action[]
        | select(test(":(Describe|List)[A-Za-z]*$") | not)
        | select(IN("ecs:DeregisterTaskDefinition",
                    "application-autoscaling:RegisterScalableTarget",
                    "application-autoscaling:DeregisterScalableTarget",
                    "application-autoscaling:PutScalingPolicy",
                    "wafv2:CheckCapacity",
                    "route53:CreateHostedZone") | not)] | length == 0)
  and ([.Statement[].Sid] | length == (unique | length))'

# Finding 6 of issue 15: every role and user the operator creates carries the shipped
# boundary, which it can neither remove nor swap; foreign keys cannot be tagged as the
# operator's; only the operator's own roles can be passed, each to named services.
check "IAM policy: the permissions boundary is required, kept, and foreign keys and roles are out of reach" \
  jq -e --arg b 'arn:aws:iam::${aws:PrincipalAccount}:policy/redcap-operator-boundary' '
  def acts: if (.Action | type) == "array" then .Action[] else .Action end;
  def denies($a): [.Statement[] | select(.Effect == "Deny" and ([acts] | any(. == $a)))];
  ([.Statement[] | select(.Effect == "Allow" and ([acts] | any(IN("iam:CreateRole","iam:CreateUser",
        "iam:AttachRolePolicy","iam:PutRolePermissionsBoundary","iam:PutUserPermissionsBoundary"))))
    | .Condition.StringEquals["iam:PermissionsBoundary"] == $b] | length > 0 and all)
  and ([("iam:CreateRole","iam:CreateUser","iam:PutRolePolicy","iam:PutUserPolicy",
         "iam:AttachRolePolicy","iam:AttachUserPolicy","iam:PutRolePermissionsBoundary")
        | . as $a | $doc[0] | denies($a)
        | any(.Resource == "*" and .Condition.StringNotEquals["iam:PermissionsBoundary"] == $b)] | all)
  and ([("iam:DeleteRolePermissionsBoundary","iam:DeleteUserPermissionsBoundary")
        | . as $a | $doc[0] | denies($a) | any(.Resource == "*" and (has("Condition") | not))] | all)
  and (denies("kms:TagResource") | any(.Condition.StringNotEquals["aws:ResourceTag/redcap.dev/managed-by"] == "redcap-operator"))
  and (denies("kms:UntagResource") | any(.Condition.StringNotEquals["aws:ResourceTag/redcap.dev/managed-by"] == "redcap-operator"))
  and ([.Statement[] | select(.Effect == "Allow" and ([acts] | any(. == "kms:TagResource")))
        | (.Condition.StringEquals["aws:RequestTag/redcap.dev/managed-by"] // .Condition.StringEquals["aws:ResourceTag/redcap.dev/managed-by"]) == "redcap-operator"] | all)
  and ([.Statement[] | select(.Effect == "Allow" and ([acts] | any(. == "kms:CreateKey")))
        | .Condition.StringEquals["aws:RequestTag/redcap.dev/managed-by"] == "redcap-operator"] | all)
  and ([.Statement[] | select(.Effect == "Allow" and ([acts] | any(. == "iam:PassRole")))
        | (.Condition.StringEquals["iam:PassedToService"] != null)
          and ([.Resource] | flatten | all(test("^arn:aws:iam::\\*:role/(redcap/rc-|rc-[*]-flow-logs$)")))] | all)
  and (denies("iam:PassRole") | any(.NotResource != null))' \
  --slurpfile doc "$REPO/docs/iam-policy.json" "$REPO/docs/iam-policy.json"

check "IAM boundary: valid, allows no identity, key or policy administration" jqcheck "$REPO/docs/iam-boundary.json" '
  def acts: if (.Action | type) == "array" then .Action[] else .Action end;
  .Version == "2012-10-17"
  and ([.Statement[] | select(.Effect == "Allow") | acts] as $allowed
       | ["iam:*","iam:CreateRole","iam:PassRole","iam:PutRolePolicy","kms:*","kms:PutKeyPolicy",
          "kms:ScheduleKeyDeletion","sts:AssumeRole","*"] | all(. as $a | $allowed | any(. == $a) | not))
  and ([.Statement[] | select(.Effect == "Allow") | acts | select(startswith("iam:"))] == ["iam:CreateServiceLinkedRole"])
  and ([.Statement[] | select(.Effect == "Allow" and ([acts] | any(. == "iam:CreateServiceLinkedRole")))
        | .Condition.StringEquals["iam:AWSServiceName"] != null] | all)
  and ([.Statement[] | select(.Effect == "Deny") | acts]
       | any(. == "iam:PassRole") and any(. == "kms:PutKeyPolicy") and any(. == "iam:DeleteRolePermissionsBoundary"))
  and ([.Statement[].Sid] | length == (unique | length))'

# The policy enforced (issue 15 section 2): an IAM evaluator decides the requests the
# operator makes for an environment (allowed) and the ones it must never get (denied).
check "IAM policy and boundary decide the operator's requests as expected (iam-simulate)" \
  "$E2E_DIR/scripts/iam-eval.sh"

check "IAM policy allows every AWS operation the operator source calls" python3 "$CHECKS/iam_policy_coverage.py" "$REPO"

check "Dockerfile: non-root 65532 (as the chart), entrypoint, distroless runtime" bash -c '
  set -euo pipefail
  f="$0/containers/operator/Dockerfile"
  grep -qx "USER 65532:65532" "$f"
  grep -qx "ENTRYPOINT \[\"/redcap-operator\"\]" "$f"
  grep -qx "CMD \[\"run\"\]" "$f"
  grep -q "^ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot$" "$f"
  [[ $(yq ".podSecurityContext.runAsUser" "$0/charts/redcap-operator/values.yaml") == 65532 ]]' "$REPO"

check "docs: every relative link and #anchor resolves" python3 "$CHECKS/doc_links.py" "$REPO"

if command -v shellcheck >/dev/null; then
  check "shellcheck of the packaging scripts" shellcheck -x "$E2E_DIR/scripts/test-chart.sh" \
    "$CHART/sync-crds.sh" "$REPO/manifests/install/generate.sh"
else
  skip "shellcheck of the packaging scripts" "shellcheck not installed"
fi

# --------------------------------------------------------------------------------------
# Against a real API server (test-chart-cluster.sh): the one KUBECONFIG names, else a
# private control plane started here (cluster.sh), so a run never passes without them.
# --------------------------------------------------------------------------------------

# shellcheck source=test-chart-cluster.sh
source "$E2E_DIR/scripts/test-chart-cluster.sh"

no_cluster=""
if [[ -n ${KUBECONFIG:-} ]]; then
  "$KUBECTL" version >/dev/null 2>&1 || no_cluster="the API server of KUBECONFIG=$KUBECONFIG does not answer"
elif [[ ${REQUIRE_CLUSTER:-1} == 0 ]]; then
  no_cluster="KUBECONFIG is unset and REQUIRE_CLUSTER=0"
else
  log "KUBECONFIG is unset: starting a private control plane in $WORK/cluster"
  if "$E2E_DIR/scripts/cluster.sh" up "$WORK/cluster" >"$WORK/cluster-up.log" 2>&1; then
    PRIVATE_CLUSTER="$WORK/cluster"
    export KUBECONFIG="$WORK/cluster/admin.kubeconfig"
  else
    tail -n 20 "$WORK/cluster-up.log" >&2
    no_cluster="the private control plane did not start (e2e/scripts/cluster.sh up)"
  fi
fi
if [[ -z $no_cluster ]]; then
  log "API server: $("$KUBECTL" config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
  cluster_tests
elif [[ ${REQUIRE_CLUSTER:-1} != 0 ]]; then
  failed=$((failed + 1))
  failures+=("cluster tests: $no_cluster")
  echo "FAIL cluster tests: $no_cluster (REQUIRE_CLUSTER=0 skips them)"
else
  skip "cluster tests" "$no_cluster"
fi

echo
if ((skipped > 0)); then
  echo "$skipped skipped"
fi
if [[ -n $no_cluster && ${REQUIRE_CLUSTER:-1} == 0 ]]; then
  cat <<EOF
NOTE: the cluster tests did NOT run: $no_cluster.
      Nothing the chart renders was validated by a kube-apiserver, and neither the RBAC,
      the admission policy nor Pod Security was checked with a real install. Run again
      without REQUIRE_CLUSTER=0 (a private control plane is started when KUBECONFIG is
      unset).
EOF
fi
echo "$passed passed, $failed failed"
if ((failed > 0)); then
  printf '  failed: %s\n' "${failures[@]}"
  exit 1
fi
