#!/usr/bin/env bash
# make bench, git part (issue 8): N git repositories served by `git daemon` on
# loopback, synced by vendir v0.44.0 and by vendoras side by side.
#   cold vendoras vs cold `vendir sync`   (target <= 0.4x, issue 15)
#   warm re-sync, nothing changed, vs cold (target <= 0.1x)
#   --locked warm: requests to the daemon (target: none beyond ref resolution)
# Not a test: prints figures; fails only when a command fails.
#
#   scripts/bench/git.sh                     # 20 repos x 300 files
#   GIT_BENCH_REPOS=5 GIT_BENCH_FILES=50 scripts/bench/git.sh
#   VENDORAS=target/debug/vendoras scripts/bench/git.sh   # skip the release build
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
REPOS=${GIT_BENCH_REPOS:-20}
FILES=${GIT_BENCH_FILES:-300}
# shellcheck source=scripts/bench/git-common.sh
source scripts/bench/git-common.sh git

echo "== generating $REPOS repositories of $FILES files"
for i in $(seq 1 "$REPOS"); do
  w=$tmp/src/r$i
  mkdir -p "$w"
  python3 - "$w" "$FILES" "$i" <<'PY'
import os, random, sys
root, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
for f in range(n):
    d = os.path.join(root, f"d{f % 10}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{f}.txt"), "w") as out:
        out.write("".join(rnd.choice("abcdefgh \n") for _ in range(4096)))
PY
  git -C "$w" init -q -b main
  git -C "$w" add -A
  git -C "$w" commit -q -m "r$i"
  git -C "$w" tag v1.0.0
  git clone -q --bare "$w" "$tmp/srv/r$i.git"
  serve_packed "$tmp/srv/r$i.git"
done

serve_git_daemon

cfg() {
  echo "apiVersion: vendir.k14s.io/v1alpha1"
  echo "kind: Config"
  echo "directories:"
  for i in $(seq 1 "$REPOS"); do
    printf -- "- path: vendor/r%s\n  contents:\n  - path: .\n    git:\n      url: git://127.0.0.1:%s/r%s.git\n      ref: main\n" "$i" "$port" "$i"
  done
}
mkdir -p "$tmp/vendir" "$tmp/ours"
cfg >"$tmp/vendir/vendir.yml"
cfg >"$tmp/ours/vendir.yml"
requests() { grep -c "Request upload-pack" "$tmp/daemon.log" || true; }

echo "== syncing"
t_vendir=$( cd "$tmp/vendir" && timed env -u VENDIR_CACHE_DIR "$VENDIR" sync )
ours() { (cd "$tmp/ours" && "$VENDORAS" sync --cache-dir "$tmp/cache" "$@"); }
t_cold=$(timed ours)
r0=$(requests); t_warm=$(timed ours); r1=$(requests)
t_locked=$(timed ours --locked); r2=$(requests)
rm -rf "$tmp/ours/vendor"
t_rebuild=$(timed ours); r3=$(requests)

# Processes: one more cold sync of each tool with a `git` on PATH that logs its
# calls (apart from the timed runs: the wrapper costs a shell per call).
mkdir -p "$tmp/wrap"
printf '#!/bin/sh\necho "$*" >>"%s"\nexec %s "$@"\n' "$tmp/wrap/log" "$(command -v git)" >"$tmp/wrap/git"
chmod +x "$tmp/wrap/git"
count() { rm -f "$tmp/wrap/log"; PATH=$tmp/wrap:$PATH "$@" >/dev/null 2>&1; wc -l <"$tmp/wrap/log"; }
rm -rf "$tmp/vendir/vendor" "$tmp/ours/vendor" "$tmp/cache"
p_vendir=$(cd "$tmp/vendir" && count env -u VENDIR_CACHE_DIR "$VENDIR" sync)
p_ours=$(count ours)

python3 - "$REPOS" "$t_vendir" "$t_cold" "$t_warm" "$t_locked" "$t_rebuild" \
  "$((r1 - r0))" "$((r2 - r1))" "$((r3 - r2))" "$p_vendir" "$p_ours" <<'PY'
import sys
n = int(sys.argv[1]); v, cold, warm, locked, rebuild = map(float, sys.argv[2:7])
rw, rl, rr, pv, po = map(int, sys.argv[7:12])
def ok(c): return "met" if c else "NOT met"
print(f"git: {n} repositories from git daemon on loopback")
print(f"  vendir sync (cold, no cache)    {v:7.2f} s")
print(f"  vendoras sync (cold cache)      {cold:7.2f} s  = {cold/v:.2f}x vendir   (target <= 0.4x: {ok(cold <= 0.4*v)})")
print(f"  vendoras re-sync (unchanged)    {warm:7.2f} s  = {warm/cold:.2f}x cold     (target <= 0.1x: {ok(warm <= 0.1*cold)}); {rw} upload-pack requests (ls-remote)")
print(f"  vendoras --locked (warm)        {locked:7.2f} s  {rl} upload-pack requests (target: none beyond ref resolution: {ok(rl <= n)})")
print(f"  vendoras tree deleted, re-sync  {rebuild:7.2f} s  {rr} upload-pack requests (from the cache mirror; ls-remote only)")
print(f"  git processes per content, cold: vendir {pv / n:.1f}, vendoras {po / n:.1f}")
PY
