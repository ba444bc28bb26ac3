#!/usr/bin/env bash
# Checks that e2e/prerequisites/ is the only source of what `make test` and `make demo`
# install on the machine (run by the lint suite of e2e/scripts/test-all.sh; about a second):
#
#   1. no file outside install.sh calls a package installer (apt-get/apt install, dpkg -i,
#      rustup component add, ...; comment lines aside), so every install step goes through
#      the declared lists;
#   2. the lists parse, every entry names known groups and says what needs it;
#   3. the entry points install their groups through install.sh;
#   4. install.sh decides from the lists and dpkg's status alone: with stand-ins for
#      dpkg-query, apt-get, rustup and sudo first on PATH, and a `php` without mysqli on PATH
#      (the machine of the bug this guards against), it asks apt-get for exactly the declared
#      packages, php-mysql included; with everything installed it calls neither apt-get
#      nor rustup.
#
# Prints "prerequisites: N passed, N failed".
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
INSTALL="$HERE/install.sh"

passed=0
failed=0
check() { # NAME COMMAND...
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    printf '[prerequisites] FAIL %s\n' "$name" >&2
    [[ -z $out ]] || printf '%s\n' "$out" | sed 's/^/    /' >&2
  fi
}

# Files that may name an installer: the installer itself, this check, the image's own
# Dockerfile (packages inside the image, not on this machine), and prose.
allowed() {
  case $1 in
    e2e/prerequisites/install.sh | e2e/prerequisites/check.sh | containers/redcap/Dockerfile | *.md) return 0 ;;
  esac
  return 1
}

repo_files() {
  if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$REPO" ls-files --cached --others --exclude-standard
  else
    (cd "$REPO" && find . -name .git -prune -o -name target -prune -o -type f -print | sed 's|^\./||')
  fi
}

INSTALLER_RE='\b(apt-get|apt|aptitude)\b[^#]*\binstall\b|\bdpkg +(-i|--install)\b|\brustup +component +add\b|\b(yum|dnf|zypper|brew) +install\b|\b(apk|nix-env) +(add|-i)\b|\bsnap +install\b'

only_install_sh_installs() {
  local f files=() hits
  while IFS= read -r f; do
    allowed "$f" || [[ ! -f $REPO/$f ]] || files+=("$f")
  done < <(repo_files)
  hits=$(
    cd "$REPO"
    printf '%s\0' "${files[@]}" | xargs -0 grep -nIE "$INSTALLER_RE" -- |
      grep -vE '^[^:]+:[0-9]+:[[:space:]]*#' || true
  )
  if [[ -n $hits ]]; then
    printf '%s\n' "$hits"
    echo "install only through e2e/prerequisites/install.sh, from its lists"
    return 1
  fi
}

lists_are_well_formed() {
  local file line n name rest bad=0
  for file in "$HERE/debian-packages.txt" "$HERE/rustup-components.txt"; do
    n=0
    while IFS= read -r line || [[ -n $line ]]; do
      n=$((n + 1))
      [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
      read -r name _ rest <<<"$line" || true
      if [[ $rest != '#'?* ]]; then
        echo "${file#"$REPO"/}:$n: $name does not say what needs it (# ...)"
        bad=1
      fi
    done <"$file"
  done
  # install.sh validates the names of the groups and the format.
  bash "$INSTALL" --list lint unit emulator container e2e chart demo >/dev/null || bad=1
  ((bad == 0))
}

# has FILE PATTERN MESSAGE [GREP-OPTION]: the repository's FILE has a line matching
# PATTERN (a regular expression, or with -F a fixed string); prints MESSAGE otherwise.
has() {
  grep -q "${4:--G}" -- "$2" "$REPO/$1" || {
    echo "$3"
    return 1
  }
}

entry_points_use_the_installer() {
  local bad=0
  has e2e/scripts/test-all.sh 'install_prerequisites lint unit emulator container e2e chart$' \
    "e2e/scripts/test-all.sh does not install the groups of all its suites" || bad=1
  has e2e/scripts/demo.sh '^install_prerequisites demo$' \
    "e2e/scripts/demo.sh does not install the demo group" || bad=1
  has containers/redcap/tests/run.sh 'e2e/prerequisites/install.sh" container$' \
    "containers/redcap/tests/run.sh does not install the container group" || bad=1
  # shellcheck disable=SC2016 # the literal text of the call
  has e2e/scripts/lib.sh 'bash "$E2E_DIR/prerequisites/install.sh" "$@"' \
    "e2e/scripts/lib.sh's install_prerequisites does not call install.sh" -F || bad=1
  ((bad == 0))
}

# stubs DIR: stand-ins for dpkg-query, apt-get, rustup, sudo and a php without mysqli.
# $STUB/installed lists installed packages, $STUB/components installed components,
# $STUB/calls every apt-get and rustup call.
stubs() {
  local d=$1
  mkdir -p "$d/bin"
  : >"$d/installed"
  : >"$d/components"
  : >"$d/calls"
  cat >"$d/bin/dpkg-query" <<'EOF'
#!/usr/bin/env bash
pkg=${!#}
if grep -qxF -- "$pkg" "$STUB/installed"; then printf 'install ok installed'; exit 0; fi
echo "dpkg-query: no packages found matching $pkg" >&2
exit 1
EOF
  cat >"$d/bin/apt-get" <<'EOF'
#!/usr/bin/env bash
echo "apt-get $*" >>"$STUB/calls"
if [[ " $* " == *" install "* ]]; then
  for a in "$@"; do [[ $a == -* || $a == install ]] || echo "$a" >>"$STUB/installed"; done
fi
EOF
  cat >"$d/bin/rustup" <<'EOF'
#!/usr/bin/env bash
case "$*" in
  "component list --installed") cat "$STUB/components" ;;
  "component add "*) echo "rustup $*" >>"$STUB/calls"; shift 2; for c in "$@"; do echo "$c-x86_64-unknown-linux-gnu" >>"$STUB/components"; done ;;
  *) exit 3 ;;
esac
EOF
  printf '#!/usr/bin/env bash\nexec "$@"\n' >"$d/bin/sudo"
  printf '#!/usr/bin/env bash\nexit 1\n' >"$d/bin/php" # present, but no mysqli (nor anything else)
  chmod +x "$d/bin/"*
}

declared_debs() { bash "$INSTALL" --list "$@" | sed -n 's/^debian //p' | sort; }

installs_from_the_list_alone() {
  local d bad=0 want got
  d=$(mktemp -d "${TMPDIR:-/tmp}/prerequisites-check.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$d'" RETURN
  stubs "$d"
  local stubbed=(env PATH="$d/bin:$PATH" STUB="$d")

  # A machine with nothing: every declared container package, php-mysql among them.
  "${stubbed[@]}" bash "$INSTALL" container
  want=$(declared_debs container)
  got=$(grep '^apt-get .*install' "$d/calls" | tr ' ' '\n' | grep -v '^-' | grep -vx 'apt-get\|install\|env\|DEBIAN_FRONTEND=noninteractive' | sort)
  if [[ $got != "$want" ]]; then
    printf 'apt-get was asked for:\n%s\nthe list declares:\n%s\n' "$got" "$want"
    bad=1
  fi
  grep -qx php-mysql <<<"$got" || {
    echo "php-mysql was not installed for the container suite"
    bad=1
  }
  grep -q '^apt-get update' "$d/calls" || {
    echo "no apt-get update before the install"
    bad=1
  }

  # Everything installed: no apt-get call at all.
  : >"$d/calls"
  "${stubbed[@]}" bash "$INSTALL" container lint unit emulator e2e chart demo >/dev/null 2>&1 || true
  : >"$d/calls"
  "${stubbed[@]}" bash "$INSTALL" container lint unit emulator e2e chart demo
  if [[ -s $d/calls ]]; then
    printf 'calls with everything installed:\n%s\n' "$(cat "$d/calls")"
    bad=1
  fi

  # One package and one component removed: exactly those come back.
  grep -vx 'php-mysql' "$d/installed" >"$d/installed.new" && mv "$d/installed.new" "$d/installed"
  grep -v '^clippy-' "$d/components" >"$d/components.new" && mv "$d/components.new" "$d/components"
  : >"$d/calls"
  "${stubbed[@]}" bash "$INSTALL" container lint
  got=$(grep -E '^(apt-get .*install|rustup )' "$d/calls" | sed 's/.* //' | sort | tr '\n' ' ')
  if [[ $got != "clippy php-mysql " ]]; then
    echo "after removing php-mysql and clippy, installed: $got"
    bad=1
  fi
  ((bad == 0))
}

check "only install.sh installs packages" only_install_sh_installs
check "the declared lists are well formed" lists_are_well_formed
check "make test, make demo and the container suite install through install.sh" entry_points_use_the_installer
check "install.sh installs what the lists declare, whatever else is present" installs_from_the_list_alone
echo "prerequisites: $passed passed, $failed failed"
((failed == 0))
