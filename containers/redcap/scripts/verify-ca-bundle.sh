#!/usr/bin/env bash
# Build step of the REDCap image: checks the RDS CA bundle downloaded from AWS before it is
# trusted for database connections.
#
#   verify-ca-bundle.sh <bundle.pem> [<sha256>]
#
# Always: the file holds at least one certificate, every certificate parses, is a CA
# (basicConstraints CA:TRUE) and is issued to Amazon, and at least one has not expired
# (the bundle keeps retired CAs for a while; they are counted, not refused). With <sha256>
# (the build argument RDS_CA_BUNDLE_SHA256): the file's digest must be exactly that.
set -euo pipefail

die() {
  echo "verify-ca-bundle: $*" >&2
  exit 1
}

(($# == 1 || $# == 2)) || die "usage: verify-ca-bundle.sh <bundle.pem> [<sha256>]"
bundle=$1 want=${2:-}

[[ -s $bundle ]] || die "$bundle is missing or empty"
if [[ -n $want ]]; then
  have=$(sha256sum "$bundle" | cut -d' ' -f1)
  [[ $have == "$want" ]] || die "$bundle has sha256 $have, expected $want"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk -v dir="$tmp" '
  /-----BEGIN CERTIFICATE-----/ { n++; out = sprintf("%s/cert-%04d.pem", dir, n) }
  out != "" { print > out }
  /-----END CERTIFICATE-----/ { close(out); out = "" }
' "$bundle"

shopt -s nullglob
certs=("$tmp"/cert-*.pem)
((${#certs[@]} > 0)) || die "$bundle holds no PEM certificate"
valid=0 expired=0
for c in "${certs[@]}"; do
  n=${c##*/}
  text=$(openssl x509 -in "$c" -noout -subject -text 2>/dev/null) || die "certificate ${n%.pem} of $bundle does not parse"
  grep -q 'CA:TRUE' <<<"$text" || die "certificate ${n%.pem} of $bundle is not a CA certificate"
  grep -q '^subject=.*Amazon' <<<"$text" || die "certificate ${n%.pem} of $bundle is not issued to Amazon"
  if openssl x509 -in "$c" -noout -checkend 0 >/dev/null; then
    valid=$((valid + 1))
  else
    expired=$((expired + 1))
  fi
done
((valid > 0)) || die "every certificate of $bundle has expired"
echo "verify-ca-bundle: $bundle holds $valid current and $expired expired Amazon CA certificates"
