#!/usr/bin/env bash
# A real, node-less Kubernetes control plane on loopback: etcd +
# kube-apiserver + kube-controller-manager, built by build-tools.sh.
#
# Usage:
#   cluster.sh up   <statedir>   generate PKI, start etcd/apiserver/controller-manager,
#                                wait for /readyz + default namespace + default SA
#   cluster.sh down <statedir>   stop the processes started for <statedir> (by PID)
#   cluster.sh kill-apiserver <statedir>
#                                SIGKILL the running kube-apiserver (a crash; etcd and
#                                the controller-manager keep running)
#   cluster.sh start-apiserver <statedir>
#                                start it again, same port and flags, wait for /readyz
#                                (tests of clients across an API server restart)
#
# Layout of <statedir> (all created by `up`):
#   admin.kubeconfig             cluster-admin (client cert, O=system:masters)
#   controller-manager.kubeconfig
#   pki/                         ca, apiserver, front-proxy, admin, controller-manager,
#                                service-account (sa.key/sa.pub) keys and certs
#   etcd-data/                   etcd data dir
#   {etcd,kube-apiserver,kube-controller-manager}.{pid,log}
#   cluster.env                  APISERVER_URL, ports, ...
#
# Tool paths come from KUBE_APISERVER/KUBE_CONTROLLER_MANAGER/KUBECTL/ETCD if
# set, else from build-tools.sh (which builds them on first use).
set -euo pipefail
export E2E_LOG_TAG=cluster
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVICE_CIDR="10.96.0.0/16"
SERVICE_IP="10.96.0.1" # first IP of SERVICE_CIDR: the `kubernetes` Service
STARTUP_TIMEOUT="${E2E_STARTUP_TIMEOUT:-180}"

usage() { print_usage 25; }

load_tools() {
  if [[ -z ${KUBE_APISERVER:-} || -z ${KUBE_CONTROLLER_MANAGER:-} || -z ${KUBECTL:-} || -z ${ETCD:-} ]]; then
    local exports
    exports=$("$E2E_DIR/scripts/build-tools.sh")
    eval "$exports"
  fi
  local b
  for b in "$KUBE_APISERVER" "$KUBE_CONTROLLER_MANAGER" "$KUBECTL" "$ETCD"; do
    [[ -x $b ]] || die "tool not executable: $b"
  done
}

# ---------------------------------------------------------------- PKI

# new_ca NAME CN
new_ca() {
  local name=$1 cn=$2
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
    -subj "/CN=$cn" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -keyout "$PKI/$name.key" -out "$PKI/$name.crt" 2>/dev/null
}

# new_cert NAME CA SUBJECT EXTENDED_KEY_USAGE [SAN]
new_cert() {
  local name=$1 ca=$2 subj=$3 eku=$4 san=${5:-}
  local ext="$PKI/$name.ext"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [[ -n $san ]] && echo "subjectAltName=$san"
  } >"$ext"
  openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "$subj" \
    -keyout "$PKI/$name.key" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -sha256 -days 365 -in "$PKI/$name.csr" \
    -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
}

gen_pki() {
  if [[ -f $PKI/.complete ]]; then
    log "reusing PKI in $PKI"
    return 0
  fi
  log "generating PKI in $PKI"
  rm -rf "$PKI"
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  new_ca ca redcap-e2e-ca
  new_ca front-proxy-ca redcap-e2e-front-proxy-ca
  new_cert apiserver ca "/CN=kube-apiserver" serverAuth \
    "IP:127.0.0.1,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  new_cert admin ca "/O=system:masters/CN=kubernetes-admin" clientAuth
  new_cert controller-manager ca "/CN=system:kube-controller-manager" clientAuth
  new_cert front-proxy-client front-proxy-ca "/CN=front-proxy-client" clientAuth
  # ServiceAccount token signing key pair (RSA, PKCS#8 private + SPKI public).
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
  openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  touch "$PKI/.complete"
}

# write_kubeconfig FILE USER CERT KEY
write_kubeconfig() {
  local file=$1 user=$2 cert=$3 key=$4
  cat >"$file.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: redcap-e2e
  cluster:
    server: $APISERVER_URL
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 <"$cert")
    client-key-data: $(base64 -w0 <"$key")
contexts:
- name: $user@redcap-e2e
  context:
    cluster: redcap-e2e
    user: $user
    namespace: default
current-context: $user@redcap-e2e
EOF
  chmod 600 "$file.tmp"
  mv -f "$file.tmp" "$file"
}

# ---------------------------------------------------------------- processes

# launch NAME CMD...: start CMD detached (own session), log to NAME.log, pid to NAME.pid
launch() {
  local name=$1
  shift
  {
    echo "=== $(date -u +%FT%TZ) starting $name"
    printf '%q ' "$@"
    echo
  } >>"$STATE/$name.log"
  setsid "$@" >>"$STATE/$name.log" 2>&1 </dev/null &
  echo "$!" >"$STATE/$name.pid"
}

# wait_up NAME TIMEOUT CHECK_CMD...: wait until CHECK_CMD succeeds, failing
# early if the process dies. Returns 1 on death, 2 on timeout.
wait_up() {
  local name=$1 timeout=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if ! pid_alive "$STATE/$name.pid"; then
      log "$name exited during startup; last log lines:"
      tail -n 15 "$STATE/$name.log" >&2 || true
      return 1
    fi
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  log "$name not ready after ${timeout}s; last log lines:"
  tail -n 15 "$STATE/$name.log" >&2 || true
  return 2
}

etcd_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_CLIENT_PORT/health" | grep -q '"health":"true"'; }

apiserver_ready() {
  curl -fsS --max-time 3 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "$APISERVER_URL/readyz" | grep -qx ok
}

start_etcd() {
  local attempt rc
  for attempt in 1 2 3; do
    ETCD_CLIENT_PORT=$(free_port)
    ETCD_PEER_PORT=$(free_port)
    [[ $ETCD_CLIENT_PORT != "$ETCD_PEER_PORT" ]] || continue
    log "starting etcd $ETCD_VERSION on 127.0.0.1:$ETCD_CLIENT_PORT (attempt $attempt)"
    launch etcd "$ETCD" \
      --name=e2e \
      --data-dir="$STATE/etcd-data" \
      --listen-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT" \
      --advertise-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT" \
      --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-cluster="e2e=http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-cluster-state=new \
      --unsafe-no-fsync=true \
      --log-level=warn
    rc=0
    wait_up etcd 60 etcd_healthy || rc=$?
    ((rc == 0)) && return 0
    stop_pidfile etcd "$STATE/etcd.pid" 10 "$STATE"
    ((rc == 1)) || break
    # a lost port race leaves a half-initialised data dir behind
    rm -rf "$STATE/etcd-data"
  done
  die "etcd did not start (see $STATE/etcd.log)"
}

# launch_apiserver: kube-apiserver on APISERVER_PORT, its storage in etcd on
# ETCD_CLIENT_PORT (the one command line for the first start and a restart)
launch_apiserver() {
  launch kube-apiserver "$KUBE_APISERVER" \
    --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --secure-port="$APISERVER_PORT" \
    --cert-dir="$STATE/apiserver-certs" \
    --tls-cert-file="$PKI/apiserver.crt" \
    --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --authorization-mode=Node,RBAC \
    --anonymous-auth=true \
    --allow-privileged=true \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$PKI/front-proxy-client.crt" \
    --proxy-client-key-file="$PKI/front-proxy-client.key" \
    --endpoint-reconciler-type=none \
    --profiling=false \
    --v=1
}

start_apiserver() {
  local attempt rc
  for attempt in 1 2 3; do
    APISERVER_PORT=$(free_port)
    APISERVER_URL="https://127.0.0.1:$APISERVER_PORT"
    log "starting kube-apiserver $KUBERNETES_VERSION on $APISERVER_URL (attempt $attempt)"
    launch_apiserver
    rc=0
    wait_up kube-apiserver "$STARTUP_TIMEOUT" apiserver_ready || rc=$?
    ((rc == 0)) && return 0
    stop_pidfile kube-apiserver "$STATE/kube-apiserver.pid" 20 "$STATE"
    ((rc == 1)) || break
  done
  die "kube-apiserver did not become ready (see $STATE/kube-apiserver.log)"
}

start_controller_manager() {
  log "starting kube-controller-manager $KUBERNETES_VERSION"
  # No nodes and no cloud: skip the controllers that only manage nodes,
  # volumes attached to nodes, or cloud load balancers/routes.
  launch kube-controller-manager "$KUBE_CONTROLLER_MANAGER" \
    --kubeconfig="$STATE/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$STATE/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$STATE/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 \
    --secure-port=0 \
    --leader-elect=false \
    --use-service-account-credentials=true \
    --service-account-private-key-file="$PKI/sa.key" \
    --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" \
    --cluster-signing-key-file="$PKI/ca.key" \
    --cluster-name=redcap-e2e \
    --controllers='*,-node-ipam-controller,-node-lifecycle-controller,-persistentvolume-attach-detach-controller,-service-lb-controller,-node-route-controller,-cloud-node-lifecycle-controller' \
    --v=1
}

kctl() { "$KUBECTL" --kubeconfig="$STATE/admin.kubeconfig" "$@"; }

default_sa_exists() { kctl -n default get serviceaccount default -o name; }

write_cluster_env() {
  cat >"$STATE/cluster.env" <<EOF
# generated by e2e/scripts/cluster.sh
export APISERVER_URL=$APISERVER_URL
export APISERVER_PORT=$APISERVER_PORT
export ETCD_URL=http://127.0.0.1:$ETCD_CLIENT_PORT
export KUBECONFIG_ADMIN=$STATE/admin.kubeconfig
export KUBERNETES_VERSION=$KUBERNETES_VERSION
EOF
}

# ---------------------------------------------------------------- commands

up() {
  mkdir -p "$1"
  STATE=$(cd "$1" && pwd)
  PKI="$STATE/pki"
  if pid_alive "$STATE/kube-apiserver.pid" && [[ -f $STATE/admin.kubeconfig && -f $STATE/cluster.env ]]; then
    log "cluster already running for $STATE"
    return 0
  fi
  local t0=$SECONDS
  load_tools
  gen_pki
  # a previous partial `up` may have left processes behind; every `up`
  # starts from an empty etcd
  down_processes
  rm -rf "$STATE/etcd-data"
  start_etcd
  start_apiserver
  write_kubeconfig "$STATE/admin.kubeconfig" kubernetes-admin "$PKI/admin.crt" "$PKI/admin.key"
  write_kubeconfig "$STATE/controller-manager.kubeconfig" system:kube-controller-manager \
    "$PKI/controller-manager.crt" "$PKI/controller-manager.key"
  start_controller_manager
  log "waiting for namespace default and its default ServiceAccount"
  wait_up kube-controller-manager "$STARTUP_TIMEOUT" default_sa_exists ||
    die "default ServiceAccount did not appear (see $STATE/kube-controller-manager.log)"
  write_cluster_env
  log "cluster up in $((SECONDS - t0))s: $APISERVER_URL (KUBECONFIG=$STATE/admin.kubeconfig)"
}

down_processes() {
  stop_pidfile kube-controller-manager "$STATE/kube-controller-manager.pid" 20 "$STATE"
  stop_pidfile kube-apiserver "$STATE/kube-apiserver.pid" 30 "$STATE"
  stop_pidfile etcd "$STATE/etcd.pid" 20 "$STATE"
}

down() {
  if [[ ! -d $1 ]]; then
    return 0
  fi
  STATE=$(cd "$1" && pwd)
  down_processes
  rm -f "$STATE/cluster.env"
  log "cluster in $STATE stopped (data and logs kept)"
}

# the state of a running cluster: paths, ports (cluster.env), tools
load_running() {
  STATE=$(cd "$1" && pwd)
  PKI="$STATE/pki"
  [[ -f $STATE/cluster.env ]] || die "no cluster is running for $STATE (no cluster.env)"
  # shellcheck source=/dev/null
  source "$STATE/cluster.env"
  ETCD_CLIENT_PORT=${ETCD_URL##*:}
  load_tools
}

kill-apiserver() {
  load_running "$1"
  pid_alive "$STATE/kube-apiserver.pid" || die "kube-apiserver is not running (pid file $STATE/kube-apiserver.pid)"
  local pid
  pid=$(<"$STATE/kube-apiserver.pid")
  log "killing kube-apiserver (pid $pid)"
  kill -KILL "$pid"
  local deadline=$((SECONDS + 20))
  while proc_running "$pid"; do
    ((SECONDS < deadline)) || die "kube-apiserver (pid $pid) still runs after SIGKILL"
    sleep 0.1
  done
}

start-apiserver() {
  load_running "$1"
  if pid_alive "$STATE/kube-apiserver.pid"; then
    die "kube-apiserver is already running (pid $(<"$STATE/kube-apiserver.pid"))"
  fi
  log "starting kube-apiserver $KUBERNETES_VERSION again on $APISERVER_URL"
  launch_apiserver
  wait_up kube-apiserver "$STARTUP_TIMEOUT" apiserver_ready ||
    die "kube-apiserver did not become ready again (see $STATE/kube-apiserver.log)"
  log "kube-apiserver ready again"
}

state_command up down kill-apiserver start-apiserver -- "$@"
