#!/usr/bin/env bash
# Installs what building vendoras needs beyond Rust and Go, on Debian/Ubuntu,
# when missing: a C compiler (cgo, linking) and cmake (flate2's zlib-ng backend).
# `install-build-deps.sh bindings` also installs libclang, which only
# `make bindings` / `make lint` need (bindgen reads the Go shim's header).
# Go >= 1.26 is only checked: Debian's golang-go is older; get it from go.dev.
# Idempotent; needs root only to install.
set -euo pipefail

missing=()
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
if [[ ${1:-} == bindings ]] && [[ -z ${LIBCLANG_PATH:-} ]] &&
  ! ldconfig -p 2>/dev/null | grep -q 'libclang\(-[0-9.]*\)\?\.so'; then
  missing+=(libclang-dev)
fi

go=${GO:-go}
if ! version=$("$go" env GOVERSION 2>/dev/null); then
  echo "install-build-deps: Go >= 1.26 is needed (\`$go\` not found): install it from go.dev" >&2
  exit 1
fi
if [[ $version =~ ^go1\.([0-9]+) ]] && ((BASH_REMATCH[1] < 26)); then
  echo "install-build-deps: Go >= 1.26 is needed, \`$go\` is $version: install it from go.dev" >&2
  exit 1
fi

((${#missing[@]})) || exit 0

if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-build-deps: please install: ${missing[*]}" >&2
  exit 1
fi
echo "install-build-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "${missing[@]}" ||
  { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; }
