#!/usr/bin/env bash
# PHP's sendmail_path in the REDCap image (/usr/local/bin/redcap-sendmail): msmtp with the
# configuration the entrypoint wrote (SES SMTP, STARTTLS), with the header lines of
# mail-headers (the SES configuration set, when one is configured) put in front of the
# message so that SES publishes its bounce and complaint events.
set -euo pipefail

runtime_dir=${REDCAP_RUNTIME_DIR:-/run/redcap}
config="$runtime_dir/msmtprc"
headers="$runtime_dir/mail-headers"

if [[ ! -r $config ]]; then
  echo "redcap-sendmail: mail is not configured (the container started without REDCAP_SMTP_CREDENTIALS)" >&2
  exit 69 # EX_UNAVAILABLE
fi
if [[ -s $headers ]]; then
  cat "$headers" - | msmtp -C "$config" "$@"
else
  exec msmtp -C "$config" "$@"
fi
