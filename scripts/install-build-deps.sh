#!/usr/bin/env bash
# Installs what building vendoras needs beyond Rust, Go and a C compiler, on
# Debian/Ubuntu, when missing: libclang (bindgen reads the Go shim's header)
# and cmake (flate2's zlib-ng backend). Idempotent; needs root only to install.
set -euo pipefail

missing=()
if ! ldconfig -p 2>/dev/null | grep -q 'libclang\(-[0-9.]*\)\?\.so' && [[ -z ${LIBCLANG_PATH:-} ]]; then
  missing+=(libclang-dev)
fi
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
((${#missing[@]})) || exit 0

if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-build-deps: please install: ${missing[*]}" >&2
  exit 1
fi
echo "install-build-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "${missing[@]}" ||
  { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; }
