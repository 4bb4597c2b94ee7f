#!/usr/bin/env bash
# Checks that `make dist` is byte-reproducible: builds it in this checkout, then
# in a fresh clone of HEAD at another path (of another length), and compares the
# archives. The cargo registry and Go's module and build caches are shared
# (downloads and content-keyed results); each tree has its own target/, so every
# Rust crate is compiled twice, once per path.
#
# The checkout must be clean: the clone has only what HEAD has.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

if [[ -n $(git status --porcelain --untracked-files=no) ]]; then
  echo "check-reproducible: commit or stash your changes first (the clone builds HEAD)" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vendoras-reproducible.XXXXXX")
trap 'rm -rf "$work"' EXIT
clone=$work/another/path/to/vendoras
git clone -q --no-hardlinks "$repo" "$clone"
git -C "$clone" checkout -q --detach "$(git rev-parse HEAD)"

build() {
  local dir=$1 start=$SECONDS
  make -C "$dir" --no-print-directory dist >"$work/dist-$2.log" 2>&1 || {
    tail -n 40 "$work/dist-$2.log" >&2
    echo "check-reproducible: make dist failed in $dir" >&2
    exit 1
  }
  echo "check-reproducible: make dist in $dir: $((SECONDS - start)) s"
}
build "$repo" here
build "$clone" clone

archive=$(cd "$repo/target/dist" && ls vendoras-*.tar.gz)
a=$repo/target/dist/$archive
b=$clone/target/dist/$archive
if cmp -s "$a" "$b"; then
  echo "check-reproducible: identical: $(cat "$a.sha256")"
  exit 0
fi

echo "check-reproducible: $archive differs between $repo and $clone" >&2
sha256sum "$a" "$b" >&2
mkdir -p "$work/x/a" "$work/x/b"
tar -xzf "$a" -C "$work/x/a"
tar -xzf "$b" -C "$work/x/b"
diff -r "$work/x/a" "$work/x/b" >&2 || true
exit 1
