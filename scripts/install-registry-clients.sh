#!/usr/bin/env bash
# Installs the registry and chart-repository clients the vendir reference tests use to
# build fixtures, idempotently, into $TOOLS: helm (`helm package`, `helm repo index`,
# `helm push`; vendir's helmChart source also runs it) and crane (`crane append`,
# `crane index append`). Both are built from source with the local Go toolchain
# through the Go module proxy. Cold (nothing in the Go module/build caches), on 2
# shared and busy cores: helm 305 s, crane 31 s (after helm, whose downloads it
# partly shares); later runs are a version check (0.1 s).
set -euo pipefail

HELM_VERSION=${HELM_VERSION:-v3.22.0}
CRANE_VERSION=${CRANE_VERSION:-v0.22.1}
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${TOOLS:-$repo_root/target/tools/bin}
mkdir -p "$TOOLS"

command -v go >/dev/null 2>&1 || {
  echo "install-registry-clients: Go is needed to build helm $HELM_VERSION and crane $CRANE_VERSION" >&2
  exit 1
}

# Outputs are captured before matching: with pipefail, `helm version | grep -q`
# can fail with SIGPIPE when the reader exits first.
have_version() { # binary, version-args..., expected
  local bin=$1 want=${*: -1} out
  [[ -x $bin ]] || return 1
  out=$("$bin" "${@:2:$#-2}" 2>/dev/null) || return 1
  [[ $out == *"$want"* ]]
}

build() { # name, version, package, extra ldflags
  local name=$1 version=$2 pkg=$3 ldflags=$4 start
  echo "install-registry-clients: building $name $version into $TOOLS"
  start=$(date +%s)
  # GOTOOLCHAIN=local: fail rather than download another Go toolchain.
  GOBIN=$TOOLS GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 \
    go install -trimpath -ldflags "-s -w $ldflags" "$pkg@$version"
  echo "install-registry-clients: $name done in $(($(date +%s) - start))s"
}

# helm's version string comes from ldflags (release builds set it); without them a
# `go install` build reports only the major.minor it was cut from.
if ! have_version "$TOOLS/helm" version --template '{{.Version}}' "$HELM_VERSION"; then
  build helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm \
    "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  out=$("$TOOLS/helm" version --template '{{.Version}}')
  [[ $out == "$HELM_VERSION" ]] || {
    echo "install-registry-clients: helm reports '$out', expected $HELM_VERSION" >&2
    exit 1
  }
fi

if ! have_version "$TOOLS/crane" version "${CRANE_VERSION}"; then
  build crane "$CRANE_VERSION" github.com/google/go-containerregistry/cmd/crane ""
  out=$("$TOOLS/crane" version)
  [[ $out == *"$CRANE_VERSION"* ]] || {
    echo "install-registry-clients: crane reports '$out', expected $CRANE_VERSION" >&2
    exit 1
  }
fi
