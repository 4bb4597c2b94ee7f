#!/usr/bin/env bash
# make bench, git partial fetch (issue 15): one repository of N files in 100
# folders with two commits (so history holds a second copy of every blob),
# served by `git daemon` with uploadpack.allowFilter, of which a content keeps
# one folder (`includePaths: [d7/**/*]`, `newRootPath: d7`: 1% of the files).
# Cold syncs, vendir v0.44.0 vs vendoras, at depth 0 (full history) and 1.
#   target: vendoras <= 0.1x vendir
# Not a test: prints figures; fails only when a command fails.
#
#   scripts/bench/git-sparse.sh                        # 20,000 files of 4 KiB
#   GIT_SPARSE_FILES=2000 scripts/bench/git-sparse.sh
#   VENDORAS=target/debug/vendoras scripts/bench/git-sparse.sh   # no release build
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
FILES=${GIT_SPARSE_FILES:-20000}
# shellcheck source=scripts/bench/git-common.sh
source scripts/bench/git-common.sh git-sparse

echo "== generating one repository of $FILES files, two commits"
w=$tmp/src
mkdir -p "$w"
git -C "$w" init -q -b main
for round in 1 2; do
  python3 - "$w" "$FILES" "$round" <<'PY'
import base64, os, sys
root, n, round_ = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for f in range(n):
    d = os.path.join(root, f"d{f % 100}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{f}.txt"), "wb") as out:
        out.write(round_.encode() + base64.b64encode(os.urandom(3072)))
PY
  git -C "$w" add -A
  git -C "$w" commit -q -m "round $round"
done
git clone -q --bare "$w" "$tmp/srv/big.git"
serve_packed "$tmp/srv/big.git"
git -C "$tmp/srv/big.git" config uploadpack.allowFilter true
echo "   .git of the served repository: $(du -sm "$tmp/srv/big.git" | cut -f1) MB"

serve_git_daemon

cfg() {
  printf 'apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n'
  printf -- '- path: vendor/d7\n  contents:\n  - path: .\n    includePaths:\n    - d7/**/*\n'
  printf '    newRootPath: d7\n    git:\n      url: git://127.0.0.1:%s/big.git\n      ref: main\n' "$port"
  [[ $1 == 0 ]] || printf '      depth: %s\n' "$1"
}

# Medians of $GIT_SPARSE_RUNS cold syncs each (default 3; a single vendoras run
# moves by ±20 ms, a tenth of the figure), every run from an empty directory
# and cache.
RUNS=${GIT_SPARSE_RUNS:-3}
median() { python3 -c "import statistics, sys; print(statistics.median(map(float, sys.argv[1:])))" "$@"; }
for depth in 1 0; do
  vs=() os=()
  for _ in $(seq "$RUNS"); do
    for side in vendir ours; do
      rm -rf "$tmp/$side" "$tmp/ours-cache" && mkdir -p "$tmp/$side" && cfg "$depth" >"$tmp/$side/vendir.yml"
    done
    vs+=("$(cd "$tmp/vendir" && timed "$VENDIR" sync)")
    os+=("$(cd "$tmp/ours" && timed "$VENDORAS" sync --cache-dir "$tmp/ours-cache")")
  done
  diff -r "$tmp/vendir/vendor" "$tmp/ours/vendor" >/dev/null \
    || { echo "bench/git-sparse: trees differ at depth $depth" >&2; exit 1; }
  cmp -s "$tmp/vendir/vendir.lock.yml" "$tmp/ours/vendir.lock.yml" \
    || { echo "bench/git-sparse: locks differ at depth $depth" >&2; exit 1; }
  kept=$(find "$tmp/ours/vendor/d7" -type f | wc -l)
  python3 -c "import sys; v, o = float(sys.argv[1]), float(sys.argv[2]); print(f'depth {sys.argv[3]}: {sys.argv[4]} files kept; vendir {v:.2f}s, vendoras {o:.2f}s = {o / v:.2f}x (target <= 0.10x; medians of {sys.argv[5]})')" \
    "$(median "${vs[@]}")" "$(median "${os[@]}")" "$depth" "$kept" "$RUNS"
done
