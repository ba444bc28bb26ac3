#!/usr/bin/env bash
# The one installer of what `make test` and `make demo` need on the machine: the Debian
# packages of debian-packages.txt and the rustup components of rustup-components.txt that
# are declared for the requested groups and not installed yet. "Installed" is dpkg's status
# of that package and rustup's list of installed components, never the presence of some
# command; nothing outside these two lists is installed.
#
#   install.sh GROUP...            install what GROUP... needs
#   install.sh --list GROUP...     print what GROUP... needs ("debian NAME", "rustup NAME")
#   install.sh --missing GROUP...  print what of it is not installed; installs nothing
#
# GROUP: lint, unit, emulator, container, e2e, chart (the suites of `make test`) or demo.
# Debian packages are installed with apt-get (as root, or through sudo).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEBIAN_LIST="$HERE/debian-packages.txt"
RUSTUP_LIST="$HERE/rustup-components.txt"
KNOWN_GROUPS=(lint unit emulator container e2e chart demo)

log() { printf '[prerequisites] %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# declared FILE GROUP...: sets DECLARED to the names FILE declares for any of GROUP..., in
# FILE's order; dies on a malformed line or an unknown group.
declared() {
  local file=$1 line name groups extra g want n=0 match
  shift
  DECLARED=()
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    line=${line%%#*}
    name='' groups='' extra=''
    read -r name groups extra <<<"$line" || true
    [[ -n $name ]] || continue
    [[ -n $groups && -z $extra ]] || die "$file:$n: expected '<name> <group>[,<group>...]  # why'"
    match=0
    for g in ${groups//,/ }; do
      [[ " ${KNOWN_GROUPS[*]} " == *" $g "* ]] || die "$file:$n: unknown group '$g'"
      for want in "$@"; do
        if [[ $g == "$want" ]]; then
          match=1
        fi
      done
    done
    if ((match)); then
      DECLARED+=("$name")
    fi
  done <"$file"
}

deb_installed() {
  [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

# rustup lists installed components as NAME-<target triple> (or NAME).
rustup_installed() {
  local name=$1 have
  while IFS= read -r have; do
    [[ $have == "$name" || $have == "$name"-* ]] && return 0
  done <<<"$RUSTUP_HAVE"
  return 1
}

mode=install
case "${1:-}" in
  --list) mode=list && shift ;;
  --missing) mode=missing && shift ;;
  -h | --help | "") usage ;;
  -*) usage ;;
esac
(($#)) || usage
for g in "$@"; do
  [[ " ${KNOWN_GROUPS[*]} " == *" $g "* ]] || die "unknown group '$g' (known: ${KNOWN_GROUPS[*]})"
done

declared "$DEBIAN_LIST" "$@"
debs=("${DECLARED[@]}")
declared "$RUSTUP_LIST" "$@"
comps=("${DECLARED[@]}")

if [[ $mode == list ]]; then
  for p in "${debs[@]}"; do echo "debian $p"; done
  for c in "${comps[@]}"; do echo "rustup $c"; done
  exit 0
fi

if ((${#debs[@]})) && ! command -v dpkg-query >/dev/null; then
  die "no dpkg-query: this machine is not Debian-based; install these Debian packages' equivalents yourself: ${debs[*]}"
fi
missing_debs=()
for p in "${debs[@]}"; do
  deb_installed "$p" || missing_debs+=("$p")
done

missing_comps=()
if ((${#comps[@]})); then
  command -v rustup >/dev/null || die "rustup is not on PATH (a prerequisite, see README.md)"
  RUSTUP_HAVE=$(rustup component list --installed)
  for c in "${comps[@]}"; do
    rustup_installed "$c" || missing_comps+=("$c")
  done
fi

if [[ $mode == missing ]]; then
  for p in "${missing_debs[@]}"; do echo "debian $p"; done
  for c in "${missing_comps[@]}"; do echo "rustup $c"; done
  exit 0
fi

if ((${#missing_debs[@]})); then
  sudo=()
  if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || die "not root and no sudo: install as root: apt-get install ${missing_debs[*]}"
    sudo=(sudo)
  fi
  log "installing Debian packages (e2e/prerequisites/debian-packages.txt): ${missing_debs[*]}"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing_debs[@]}" >/dev/null
  for p in "${missing_debs[@]}"; do
    deb_installed "$p" || die "apt-get did not install $p"
  done
fi

if ((${#missing_comps[@]})); then
  log "adding rustup components (e2e/prerequisites/rustup-components.txt): ${missing_comps[*]}"
  rustup component add "${missing_comps[@]}"
fi
