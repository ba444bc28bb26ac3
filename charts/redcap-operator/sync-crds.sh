#!/usr/bin/env bash
# Copies the repository's generated CRDs (crds/*.yaml, written by `redcap-operator crd`)
# into the chart (files/crds/), where templates/crds.yaml reads them.
#
# Usage: charts/redcap-operator/sync-crds.sh          copy
#        charts/redcap-operator/sync-crds.sh --check  exit 1 when the copies differ
set -euo pipefail
chart_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(cd "$chart_dir/../.." && pwd)"
src="$repo_dir/crds"
dst="$chart_dir/files/crds"

shopt -s nullglob
sources=("$src"/*.yaml)
if ((${#sources[@]} == 0)); then
  echo "sync-crds: no CRDs in $src (generate them with: cargo run -p redcap-operator -- crd > crds/redcapenvironments.redcap.dev.yaml)" >&2
  exit 1
fi

if [[ ${1:-} == --check ]]; then
  status=0
  for f in "${sources[@]}"; do
    if ! diff -u "$f" "$dst/$(basename "$f")" >&2; then
      status=1
    fi
  done
  # A CRD removed or renamed in crds/ must not linger in the chart.
  for f in "$dst"/*.yaml; do
    if [[ ! -e $src/$(basename "$f") ]]; then
      echo "sync-crds: $f has no counterpart in $src" >&2
      status=1
    fi
  done
  if ((status)); then
    echo "sync-crds: the chart's CRDs differ from crds/; run charts/redcap-operator/sync-crds.sh" >&2
  fi
  exit "$status"
fi

mkdir -p "$dst"
rm -f "$dst"/*.yaml
cp "${sources[@]}" "$dst/"
echo "sync-crds: copied ${#sources[@]} file(s) into ${dst#"$repo_dir"/}" >&2
