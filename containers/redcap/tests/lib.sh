# shellcheck shell=bash
# Helpers of the REDCap image's tests (sourced by run.sh): assertions, a MariaDB server
# with TLS run by the current user, an Apache run by the current user, the fixture.

IMAGE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TESTS_DIR="$IMAGE_DIR/tests"
FIXTURE_DIR="$TESTS_DIR/fixture"

log() { printf '[container] %s\n' "$*" >&2; }

fail() {
  printf '    FAIL: %s\n' "$*" >&2
  return 1
}

assert_eq() { # actual expected [what]
  [[ $1 == "$2" ]] || fail "${3:-value}: expected '$2', got '$1'"
}

assert_contains() { # haystack needle [what]
  [[ $1 == *"$2"* ]] || fail "${3:-output} does not contain '$2'"
}

assert_not_contains() { # haystack needle [what]
  [[ $1 != *"$2"* ]] || fail "${3:-output} contains '$2'"
}

# free_port: a free TCP port on 127.0.0.1 (a small race remains; callers retry).
free_port() {
  # shellcheck disable=SC2016
  php -r '$s = stream_socket_server("tcp://127.0.0.1:0"); $n = stream_socket_get_name($s, false); echo substr($n, strrpos($n, ":") + 1), "\n";'
}

# wait_until TIMEOUT COMMAND...: polls COMMAND until it succeeds.
wait_until() {
  local timeout=$1 deadline
  shift
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# stop_pid NAME PIDFILE: TERM, then KILL after 20 s, the one process in PIDFILE.
stop_pid() {
  local name=$1 file=$2 pid i
  [[ -s $file ]] || return 0
  pid=$(<"$file")
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) ignored TERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$file"
}

# make_certs DIR: a test CA, a server certificate for 127.0.0.1 signed by it, and a second,
# unrelated CA (for the "wrong CA" test).
make_certs() {
  local d=$1
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/O=Test/CN=Test Amazon RDS CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$d/server.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/server.ext" -out "$d/server.pem" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/O=Test/CN=Other CA" \
    -keyout "$d/other-ca.key" -out "$d/other-ca.pem" 2>/dev/null
}

# start_mariadb DIR: a MariaDB server of the current user (datadir, socket and logs in DIR),
# TLS on a random port of 127.0.0.1 (the name in its certificate) and 127.0.0.2 (not in it)
# with the certificates of make_certs DIR/certs, and an administrator account like Aurora's
# master user. Sets DB_PORT, DB_SOCKET.
start_mariadb() {
  local d=$1 user attempt
  user=$(id -un)
  mkdir -p "$d/data"
  mariadb-install-db --no-defaults --datadir="$d/data" --user="$user" \
    --auth-root-authentication-method=normal --skip-test-db >"$d/install-db.log" 2>&1 ||
    {
      cat "$d/install-db.log" >&2
      return 1
    }
  DB_SOCKET="$d/mysqld.sock"
  for attempt in 1 2 3; do
    DB_PORT=$(free_port)
    mariadbd --no-defaults --datadir="$d/data" --user="$user" --socket="$DB_SOCKET" \
      --port="$DB_PORT" --bind-address=127.0.0.1,127.0.0.2 --skip-name-resolve --pid-file="$d/mysqld.pid" \
      --log-error="$d/mysqld.err" --innodb-buffer-pool-size=32M --innodb-log-file-size=16M \
      --skip-log-bin --performance-schema=OFF \
      --ssl-ca="$d/certs/ca.pem" --ssl-cert="$d/certs/server.pem" --ssl-key="$d/certs/server.key" \
      >"$d/mysqld.out" 2>&1 &
    echo $! >"$d/mariadbd.pid"
    if wait_until 30 mariadb --no-defaults -S "$DB_SOCKET" -uroot -e 'SELECT 1'; then
      break
    fi
    log "MariaDB did not start (attempt $attempt):"
    tail -n 20 "$d/mysqld.err" >&2 || true
    stop_pid mariadbd "$d/mariadbd.pid"
    ((attempt < 3)) || return 1
  done
  root_sql "CREATE USER 'admin'@'%' IDENTIFIED BY 'Master-Pa55word!'; GRANT ALL PRIVILEGES ON *.* TO 'admin'@'%' WITH GRANT OPTION;"
  export DB_PORT DB_SOCKET
}

# root_sql SQL: runs SQL as MariaDB's root over the socket, prints tab-separated rows.
root_sql() {
  mariadb --no-defaults -S "$DB_SOCKET" -uroot -N -B -e "$1"
}

# reset_db: no REDCap database and no REDCap user, as on a new cluster.
reset_db() {
  root_sql "DROP DATABASE IF EXISTS redcap; DROP USER IF EXISTS 'redcap_user'@'%';"
}

# config_value FIELD: redcap_config.value of FIELD.
config_value() {
  root_sql "SELECT value FROM redcap.redcap_config WHERE field_name = '$1'"
}

# make_zip OUT SRC_DIR: zips SRC_DIR's contents (the folder redcap/ inside it) like a release.
make_zip() {
  python3 - "$1" "$2" <<'EOF'
import os, sys, zipfile
out, src = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for root, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(dirs):
            p = os.path.join(root, name)
            z.write(p, os.path.relpath(p, src) + "/")
        for name in sorted(files):
            p = os.path.join(root, name)
            z.write(p, os.path.relpath(p, src))
EOF
}

# release_tree DIR VERSION...: DIR/redcap/ as a release with one folder per VERSION.
release_tree() {
  local dir=$1 v
  shift
  mkdir -p "$dir/redcap"
  cp -R "$FIXTURE_DIR/root/." "$dir/redcap/"
  for v in "$@"; do
    mkdir -p "$dir/redcap/redcap_v$v"
    cp -R "$FIXTURE_DIR/version/." "$dir/redcap/redcap_v$v/"
  done
}

# build_webroot WEBROOT VERSION: runs the image's build step on a fixture release zip.
build_webroot() {
  local webroot=$1 version=$2 work
  work=$(mktemp -d "$TEST_TMP/build.XXXXXX")
  release_tree "$work/src" "$version"
  make_zip "$work/redcap.zip" "$work/src"
  mkdir -p "$work/languages"
  bash "$IMAGE_DIR/scripts/install-redcap.sh" "$work/redcap.zip" "$work/languages" "$webroot" "$version" "$IMAGE_DIR/lib" >/dev/null
}
