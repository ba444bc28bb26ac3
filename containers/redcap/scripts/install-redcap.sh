#!/usr/bin/env bash
# Build step of the REDCap image: puts the REDCap release into the web root.
#
#   install-redcap.sh <redcap.zip> <languages dir> <web root> <version> <lib dir>
#
# The zip is the consortium's full install zip: one top-level folder redcap/ holding the
# non-versioned files and exactly one redcap_v<version>/ folder. Language files
# (<Language>.ini) are copied into languages/. The web root's database.php becomes a stub
# that reads the file the entrypoint writes at start (lib/render.php).
set -euo pipefail

die() {
  echo "install-redcap: $*" >&2
  exit 1
}

(($# == 5)) || die "usage: install-redcap.sh <redcap.zip> <languages dir> <web root> <version> <lib dir>"
zip=$1 languages=$2 webroot=$3 version=$4 lib=$5

[[ $version =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "REDCAP_VERSION must be X.Y.Z, got '$version'"
[[ -f $zip ]] || die "$zip is missing: the build puts the release zip there (see README.md, build contract)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unzip -q "$zip" -d "$tmp" || die "$zip is not a readable zip file"
[[ -d $tmp/redcap ]] || die "$zip has no top-level folder redcap/ (is it the full install zip, not an upgrade zip?)"

shopt -s nullglob
versions=()
for d in "$tmp"/redcap/redcap_v*/; do
  d=${d%/}
  versions+=("${d##*/redcap_v}")
done
[[ -d $tmp/redcap/redcap_v$version ]] ||
  die "$zip holds no redcap_v$version/ (found: ${versions[*]:-none}); the zip and REDCAP_VERSION disagree"
((${#versions[@]} == 1)) || die "$zip holds several version folders (${versions[*]}); expected only redcap_v$version"
[[ -f $tmp/redcap/redcap_v$version/install.php ]] || die "redcap_v$version/ has no install.php: not a REDCap release"

mkdir -p "$webroot"
cp -a "$tmp/redcap/." "$webroot/"
mkdir -p "$webroot/languages" "$webroot/temp" "$webroot/edocs" "$webroot/modules"

count=0
for f in "$languages"/*.ini; do
  install -m 0644 "$f" "$webroot/languages/"
  count=$((count + 1))
done

php "$lib/cli.php" stub >"$webroot/database.php"
echo "install-redcap: REDCap $version in $webroot, $count language file(s)"
