#!/usr/bin/env bash
# make bench (issue 8): N http archives and N GitHub release assets from loopback,
# vendoras vs vendir side by side. Not a test: prints figures and ratios.
#
#   scripts/bench/http.sh                 # N=20, 3 runs each (median)
#   BENCH_HTTP_N=5 BENCH_REPS=1 scripts/bench/http.sh
#
# vendir has the GitHub API built in, so its githubRelease contents use `url:`;
# vendoras's use `tag:` with GITHUB_API_URL (the same requests otherwise).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
TOOLS=${VENDORAS_TOOLS:-$ROOT/target/tools/bin}
N=${BENCH_HTTP_N:-20}
REPS=${BENCH_REPS:-3}
B=$ROOT/scripts/bench
VENDORAS=${VENDORAS_BIN:-$ROOT/target/release/vendoras}
if [ -z "${VENDORAS_BIN:-}" ]; then cargo build --release --locked -q --bin vendoras; fi
vendir_bin=$(command -v vendir || true)
[ -z "$vendir_bin" ] && [ -x "$TOOLS/vendir" ] && vendir_bin=$TOOLS/vendir

# Everything (served files, both tools' trees and caches) on tmpfs by default, as in
# bench.sh: on ext4, writing 8,000 files right after deleting the previous run's
# 8,000 spends most of a sync in the inode allocator (perf: find_get_block_common,
# recently_deleted: 93 % kernel time in one vendoras sync writing them), which measures the
# file system's churn, not the tools. BENCH_TMPDIR=/tmp measures that instead.
tmpdir=${BENCH_TMPDIR:-/dev/shm}
[ -d "$tmpdir" ] && [ -w "$tmpdir" ] || tmpdir=/tmp
work=$(mktemp -d "$tmpdir/vendoras-bench-http-XXXXXX")
srv=
cleanup() {
  if [ -n "$srv" ]; then kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
python3 "$B/http_fixture.py" "$work/site" "$N" "$work/port" &
srv=$!
for _ in $(seq 300); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
base=http://127.0.0.1:$port
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset GITHUB_TOKEN VENDIR_GITHUB_API_TOKEN GITHUB_API_URL HTTPS_PROXY https_proxy HTTP_PROXY http_proxy

config() { # KIND(ours|vendir)
  printf 'apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n'
  for i in $(seq 0 $((N - 1))); do
    ii=$(printf %02d "$i")
    sum=$(sha256sum "$work/site/files/pkg$ii.tgz" | cut -c1-64)
    printf -- '- path: vendor/http%s\n  contents:\n  - path: .\n    http: {url: %s/files/pkg%s.tgz, sha256: "%s"}\n' "$ii" "$base" "$ii" "$sum"
    if [ "$1" = ours ]; then
      sel="tag: v1.0.0"
    else
      sel="url: $base/repos/bench/r$ii/releases/tags/v1.0.0"
    fi
    printf -- '- path: vendor/gh%s\n  contents:\n  - path: .\n    githubRelease: {slug: bench/r%s, %s, unpackArchive: {path: pkg.tgz}}\n' "$ii" "$ii" "$sel"
  done
}
unpinned() { # the http archives without sha256: a warm sync asks with If-None-Match
  printf 'apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n'
  for i in $(seq 0 $((N - 1))); do
    ii=$(printf %02d "$i")
    printf -- '- path: vendor/http%s\n  contents:\n  - path: .\n    http: {url: %s/files/pkg%s.tgz}\n' "$ii" "$base" "$ii"
  done
}
mkdir -p "$work/ours" "$work/vendir" "$work/unpinned"
unpinned >"$work/unpinned/vendir.yml"
config ours >"$work/ours/vendir.yml"
config vendir >"$work/vendir/vendir.yml"

R=$work/results
: >"$R"
run() { python3 "$B/run1.py" "$R" "$@"; }
cold() { rm -rf "$work/ours/vendor" "$work/ours/vendir.lock.yml" "$work/cache"; sync; }
echo "== issue 8 / http + githubRelease: $N http archives (with sha256) and $N release assets (~1 MiB tgz, 200 files each) from loopback; $REPS runs each; files in $tmpdir ($(stat -f -c %T "$tmpdir"))"
for _ in $(seq "$REPS"); do
  cold
  run "vendoras sync (cold)" -- env GITHUB_API_URL="$base" "$VENDORAS" sync --chdir "$work/ours" --cache-dir "$work/cache"
  : >"$work/site/requests.log"; : >"$work/site/not-modified.log"
  run "vendoras sync (warm)" -- env GITHUB_API_URL="$base" "$VENDORAS" sync --chdir "$work/ours" --cache-dir "$work/cache"
  warm_requests=$(wc -l <"$work/site/requests.log")
  warm_304=$(wc -l <"$work/site/not-modified.log")
  rm -rf "$work/unpinned/vendor" "$work/unpinned/vendir.lock.yml" "$work/cache-unpinned"; sync
  run "vendoras sync, unpinned http (cold)" -- "$VENDORAS" sync --chdir "$work/unpinned" --cache-dir "$work/cache-unpinned"
  : >"$work/site/requests.log"; : >"$work/site/not-modified.log"
  run "vendoras sync, unpinned http (warm)" -- "$VENDORAS" sync --chdir "$work/unpinned" --cache-dir "$work/cache-unpinned"
  unpinned_requests=$(wc -l <"$work/site/requests.log")
  unpinned_304=$(wc -l <"$work/site/not-modified.log")
  if [ -n "$vendir_bin" ]; then
    rm -rf "$work/vendir/vendor" "$work/vendir/vendir.lock.yml"; sync
    run "vendir sync" -- sh -c "cd '$work/vendir' && '$vendir_bin' sync"
  fi
done
if [ -n "$vendir_bin" ]; then
  diff -r "$work/ours/vendor" "$work/vendir/vendor" >/dev/null || echo "  WARNING: vendoras and vendir trees differ"
fi
python3 "$B/report.py" "$R" table "vendoras sync (cold)" "vendoras sync (warm)" "vendir sync" \
  "vendoras sync, unpinned http (cold)" "vendoras sync, unpinned http (warm)"
echo "  warm re-sync asked the server $warm_requests times, $warm_304 answered 304 (sha256-pinned http archives: none; releases: one API call each)"
echo "  warm unpinned re-sync asked the server $unpinned_requests times, $unpinned_304 answered 304 (one conditional GET per archive)"
S="python3 $B/report.py $R"
[ -n "$vendir_bin" ] && $S ratio "issue 8: cold vendoras / vendir sync (http + githubRelease)" "vendoras sync (cold)" "vendir sync" 0.5
$S ratio "issue 8: warm re-sync / cold (http + githubRelease)" "vendoras sync (warm)" "vendoras sync (cold)" 0.1
$S ratio "issue 15: warm / cold, unpinned http (conditional GETs)" "vendoras sync, unpinned http (warm)" "vendoras sync, unpinned http (cold)" -
