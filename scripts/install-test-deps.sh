#!/usr/bin/env bash
# Installs what the integration tests need, idempotently, on Debian 12 (as root):
# the CNCF distribution registry, htpasswd, openssl, pigz, curl, zstd, cmake
# (flate2's zlib-ng backend), libclang (bindgen, for `make lint`'s bindings
# check), man-db (tests/install.rs renders the installed man pages), git and
# mercurial (the git/hg sources and their loopback servers), gnupg (GPG-signed git
# commits and tags for git `verification`), stunnel (TLS in front
# of loopback test servers), zip (zip fixtures), and the oras CLI (the parity
# reference) into $TOOLS; Renovate and its Node through scripts/install-renovate.sh.
set -euo pipefail

ORAS_VERSION=1.3.6
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${TOOLS:-$repo_root/target/tools/bin}

# package -> a command it provides (empty: check with dpkg only)
declare -A pkgs=(
  [docker-registry]=docker-registry
  [libclang-dev]=
  [apache2-utils]=htpasswd
  [openssl]=openssl
  [pigz]=pigz
  [curl]=curl
  [cmake]=cmake
  [zstd]=zstd
  [git]=git
  [mercurial]=hg
  [stunnel4]=stunnel
  [zip]=zip
  [man-db]=man
  [gnupg]=gpg
)
missing=()
for pkg in "${!pkgs[@]}"; do
  cmd=${pkgs[$pkg]}
  if [[ -n $cmd ]]; then
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  else
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  if [[ $(id -u) != 0 ]]; then
    echo "install-test-deps: missing packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
  echo "install-test-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep package scripts from starting services (docker-registry's postinst would
  # start one on :5000); the tests run their own registries on free ports.
  policy=/usr/sbin/policy-rc.d
  own_policy=
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
  fi
  trap 'if [[ -n $own_policy ]]; then rm -f "$policy"; fi' EXIT
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

# Whatever happened at install time (now or earlier), leave no packaged registry
# service running or enabled.
if [[ $(id -u) == 0 ]] && dpkg -s docker-registry >/dev/null 2>&1; then
  if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
  elif [[ -x /etc/init.d/docker-registry ]]; then
    /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
  fi
fi

# Renovate 44 and the Node 24 it needs, both from the npm registry (tests/renovate.rs).
TOOLS=$TOOLS "$repo_root/scripts/install-renovate.sh"

# Outputs are captured before matching: with pipefail, `oras version | grep -q`
# or `| head -1` can fail with SIGPIPE when the reader exits first.
if [[ -x $TOOLS/oras ]] && [[ $("$TOOLS/oras" version 2>/dev/null) =~ (^|$'\n')Version:\ +"$ORAS_VERSION"($'\n'|$) ]]; then
  exit 0
fi
echo "install-test-deps: installing oras v$ORAS_VERSION into $TOOLS"
mkdir -p "$TOOLS"
GOBIN=$TOOLS go install "oras.land/oras/cmd/oras@v$ORAS_VERSION"
oras_version=$("$TOOLS/oras" version)
echo "${oras_version%%$'\n'*}"
