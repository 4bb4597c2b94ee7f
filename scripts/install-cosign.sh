#!/usr/bin/env bash
# Installs the cosign CLI (the reference for `vendoras verify` parity tests) into
# $TOOLS, idempotently. Built from source with the local Go toolchain through the Go
# module proxy: v3.1.3 is the newest cosign v3 that builds with Go 1.26 (the
# cosign/v3 versions after it need a newer Go). A cold build takes ~9 minutes
# (module downloads + compile); later runs are a version check.
set -euo pipefail

COSIGN_VERSION=${COSIGN_VERSION:-v3.1.3}
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${TOOLS:-$repo_root/target/tools/bin}
mkdir -p "$TOOLS"

if [[ -x $TOOLS/cosign ]] &&
  [[ $("$TOOLS/cosign" version 2>/dev/null) =~ (^|$'\n')GitVersion:[[:space:]]+"$COSIGN_VERSION"($'\n'|$) ]]; then
  exit 0
fi

command -v go >/dev/null 2>&1 || {
  echo "install-cosign: Go >= 1.26 is needed to build cosign $COSIGN_VERSION" >&2
  exit 1
}

major=${COSIGN_VERSION%%.*} # v3 or v2
module=github.com/sigstore/cosign/$major/cmd/cosign
echo "install-cosign: building cosign $COSIGN_VERSION ($module) into $TOOLS"
start=$(date +%s)
# GOTOOLCHAIN=local: fail rather than download another Go toolchain.
if ! GOBIN=$TOOLS GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 \
  go install -trimpath -ldflags "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION" \
  "$module@$COSIGN_VERSION"; then
  echo "install-cosign: could not build cosign $COSIGN_VERSION with $(go version);" \
    "set COSIGN_VERSION=v2.6.5 to fall back to cosign v2" >&2
  exit 1
fi
echo "install-cosign: done in $(($(date +%s) - start))s"
"$TOOLS/cosign" version 2>/dev/null | grep -E "^(GitVersion|GoVersion)" || true
