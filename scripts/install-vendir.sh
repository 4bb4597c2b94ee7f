#!/usr/bin/env bash
# Builds vendir v0.44.0 (the reference the parity suites run side by side) into $TOOLS,
# idempotently, offline apart from the Go module proxy. `go install` of vendir is
# refused (its go.mod has replace directives), so: download the module, copy it to a
# writable directory, drop its vendor/ tree, and build it with -mod=mod.
set -euo pipefail

VENDIR_VERSION=${VENDIR_VERSION:-v0.44.0}
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${TOOLS:-$repo_root/target/tools/bin}
mkdir -p "$TOOLS"

if [[ -x $TOOLS/vendir ]]; then
  have=$("$TOOLS/vendir" version 2>/dev/null || true)
  [[ $have == *"${VENDIR_VERSION#v}"* ]] && exit 0
fi

command -v go >/dev/null 2>&1 || {
  echo "install-vendir: Go is needed to build vendir $VENDIR_VERSION" >&2
  exit 1
}
echo "install-vendir: building vendir $VENDIR_VERSION into $TOOLS"
start=$(date +%s)
info=$(GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "carvel.dev/vendir@$VENDIR_VERSION")
dir=$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[[ -n $dir && -d $dir ]] || {
  echo "install-vendir: go mod download gave no module directory" >&2
  exit 1
}
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$dir" "$work/vendir"
chmod -R u+w "$work/vendir"
rm -rf "$work/vendir/vendor"
(cd "$work/vendir" && GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 \
  go build -trimpath -ldflags "-s -w -X carvel.dev/vendir/pkg/vendir/version.Version=${VENDIR_VERSION#v}" \
  -o "$TOOLS/vendir" ./cmd/vendir)
echo "install-vendir: done in $(($(date +%s) - start))s"
out=$("$TOOLS/vendir" version 2>/dev/null || true)
echo "${out%%$'\n'*}"
