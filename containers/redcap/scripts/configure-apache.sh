#!/usr/bin/env bash
# Build step of the REDCap image: Apache's configuration on top of the base image's Debian
# layout. Works on $APACHE_CONFDIR (default /etc/apache2), so the tests run it on a copy.
#
#   configure-apache.sh <redcap.conf>
#
# Installs redcap.conf as conf-enabled/zz-redcap.conf (read last, so it wins over the
# base's settings), enables the modules it uses, and switches off what it replaces: the
# default site, port 80 (ports.conf), security.conf (ServerTokens OS, ServerSignature On)
# and the second access log.
set -euo pipefail

(($# == 1)) || {
  echo "usage: configure-apache.sh <redcap.conf>" >&2
  exit 2
}
conf_dir=${APACHE_CONFDIR:-/etc/apache2}
export APACHE_CONFDIR=$conf_dir

install -m 0644 "$1" "$conf_dir/conf-available/zz-redcap.conf"
a2enmod -q rewrite headers remoteip setenvif alias
if [[ -e $conf_dir/sites-enabled/000-default.conf ]]; then
  a2dissite -q 000-default
fi
for c in security other-vhosts-access-log; do
  if [[ -e $conf_dir/conf-enabled/$c.conf ]]; then
    a2disconf -q "$c"
  fi
done
a2enconf -q zz-redcap
echo '# Listen is in conf-enabled/zz-redcap.conf (port REDCAP_HTTP_PORT)' >"$conf_dir/ports.conf"
