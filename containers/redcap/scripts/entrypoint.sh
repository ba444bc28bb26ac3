#!/usr/bin/env bash
# Entrypoint of the REDCap image (/usr/local/bin/redcap-entrypoint).
#
# At every start, before the command (default: apache2-foreground):
#   1. validates the environment (README.md, "Runtime contract"); secrets arrive as
#      environment variables that the compute service fills from Secrets Manager;
#   2. writes database.php and the mail relay's configuration into the runtime directory;
#   3. prepares the database: REDCap's user, install on an empty database, upgrade, read
#      replica, settings (lib/bootstrap.php);
#   4. removes the secret variables from the environment and runs the command.
# Any failure stops the container with a one-line reason on stderr; no secret is printed.
set -euo pipefail

share_dir=${REDCAP_SHARE_DIR:-/usr/local/share/redcap}

# Files the start writes are readable by this user only.
(
  umask 077
  php "$share_dir/lib/cli.php" start
)

# Apache and REDCap need none of these from the environment any more: the values are in
# the runtime files (0600) and the database. Their children do not inherit them.
unset REDCAP_DB_MASTER_SECRET REDCAP_SALT REDCAP_S3_CREDENTIALS REDCAP_SMTP_CREDENTIALS \
  REDCAP_SITE_ADMIN_PASSWORD

if (($# == 0)); then
  set -- apache2-foreground
fi
printf 'redcap-entrypoint: ready, starting %s\n' "$1" >&2
exec "$@"
