#!/usr/bin/env bash
# Installs Renovate (the bot whose vendoras preset tests/renovate.rs checks) into
# $TOOLS/../renovate, with a `renovate` wrapper in $TOOLS, idempotently. Renovate 44
# needs Node >= 24.11, newer than Debian's: the Node binary comes from the npm registry
# too (the `node-linux-<arch>` package ships the official build). Both go through npm,
# the ordinary client; nothing else is downloaded. About 5 minutes cold on 2 cores;
# later runs are a version check.
set -euo pipefail

NODE_MAJOR=${NODE_MAJOR:-24}
RENOVATE_VERSION=${RENOVATE_VERSION:-44.121.2}
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${TOOLS:-$repo_root/target/tools/bin}
mkdir -p "$TOOLS"
TOOLS=$(cd "$TOOLS" && pwd)
prefix=$(dirname "$TOOLS")/renovate
wrapper=$TOOLS/renovate

if [[ -x $wrapper ]] && [[ $("$wrapper" --version 2>/dev/null) == "$RENOVATE_VERSION" ]]; then
  exit 0
fi

if ! command -v npm >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
  echo "install-renovate: installing Debian's npm (the client; Renovate runs under the Node 24 installed below)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm ||
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm; }
fi
command -v npm >/dev/null 2>&1 || {
  echo "install-renovate: npm is needed (apt-get install npm)" >&2
  exit 1
}
case $(uname -m) in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "install-renovate: no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac

echo "install-renovate: Node $NODE_MAJOR and Renovate $RENOVATE_VERSION into $prefix"
start=$(date +%s)
npm install --no-audit --no-fund --loglevel=error --prefix "$prefix/node" "node-linux-$arch@$NODE_MAJOR"
node=$prefix/node/node_modules/node-linux-$arch/bin/node
"$node" --version
# Renovate's own install runs under that Node (its engines field wants it).
PATH="$(dirname "$node"):$PATH" npm install --no-audit --no-fund --loglevel=error \
  --prefix "$prefix/app" "renovate@$RENOVATE_VERSION"
cat >"$wrapper.tmp" <<WRAPPER
#!/bin/sh
# Renovate $RENOVATE_VERSION under Node $NODE_MAJOR (scripts/install-renovate.sh).
exec "$node" "$prefix/app/node_modules/renovate/dist/renovate.js" "\$@"
WRAPPER
chmod 755 "$wrapper.tmp"
mv "$wrapper.tmp" "$wrapper"
echo "install-renovate: renovate $("$wrapper" --version) in $(($(date +%s) - start))s"
