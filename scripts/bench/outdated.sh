#!/usr/bin/env bash
# `vendoras outdated` on a 100-content mixed config, cold (a new cache directory each
# run), against loopback servers: 80 registry contents (60 ociArtifact, 20 image) over
# 40 repositories, 10 git contents of one repository (git daemon), 5 hg contents of one
# repository (hg serve), 5 helm charts from one chart index (python's http.server).
# Prints the median wall time of the whole run, per content, and of the slowest
# single listing (one content of each kind alone, each cold); the issue's target is
# whole <= slowest single * 1.2, which holds only when lookups run concurrently and
# each repository is listed once. Not a test: it prints numbers.
#
#   scripts/bench/outdated.sh          # BENCH_REPS=5 for more runs per figure
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
TOOLS=${VENDORAS_TOOLS:-$ROOT/target/tools/bin}
ORAS=$TOOLS/oras
REPS=${BENCH_REPS:-3}
VENDORAS=${VENDORAS:-$ROOT/target/release/vendoras}
[ -x "$VENDORAS" ] || VENDORAS=$ROOT/target/debug/vendoras
for t in "$ORAS" "$VENDORAS" docker-registry git hg python3 curl; do
  command -v "$t" >/dev/null || { echo "bench: $t not found" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Registry: 40 repositories, tags 1.0.0 and 1.1.0.
port=$(free_port)
host=127.0.0.1:$port
cat >"$work/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: $host}
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://$host/v2/" >/dev/null && break; sleep 0.1; done
echo "file" >"$work/f.txt"
for i in $(seq 0 39); do
  for t in 1.0.0 1.1.0; do
    (cd "$work" && "$ORAS" push --plain-http "$host/r$i:$t" f.txt >/dev/null)
  done
done

# git: one repository with 5 tags.
mkdir -p "$work/git/src" && cd "$work/git/src"
git init -q -b main && git config user.email b@b && git config user.name b
for t in 1.0.0 1.1.0 1.2.0 2.0.0 2.1.0; do
  echo "$t" >v && git add v && git commit -q -m "$t" && git tag "v$t"
done
git clone -q --bare . ../app.git && touch ../app.git/git-daemon-export-ok
cd "$ROOT"
gport=$(free_port)
git daemon --reuseaddr --base-path="$work/git" --export-all --listen=127.0.0.1 --port="$gport" "$work/git" >/dev/null 2>&1 &
pids+=($!)

# hg: one repository with 3 tags.
mkdir -p "$work/hg" && cd "$work/hg"
hg init -q && echo a >a && hg add -q a && hg commit -q -u b -m a
hg tag -q -u b v1.0.0 && hg tag -q -u b v1.1.0 && hg tag -q -u b v2.0.0
hport=$(free_port)
hg serve -q -a 127.0.0.1 -p "$hport" >/dev/null 2>&1 &
pids+=($!)
cd "$ROOT"

# helm: an index with 4 versions of one chart.
mkdir -p "$work/charts"
{
  echo "apiVersion: v1"; echo "entries:"; echo "  demo:"
  for v in 0.1.0 0.2.0 0.3.0 1.0.0; do
    printf '  - name: demo\n    version: %s\n    urls: [demo-%s.tgz]\n' "$v" "$v"
  done
} >"$work/charts/index.yaml"
cport=$(free_port)
python3 -m http.server -b 127.0.0.1 -d "$work/charts" "$cport" >/dev/null 2>&1 &
pids+=($!)
for p in "$gport" "$hport" "$cport"; do
  for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.1; done
done

# The config.
mkdir -p "$work/proj"
{
  echo "apiVersion: vendir.k14s.io/v1alpha1"; echo "kind: Config"; echo "directories:"
  echo "- path: vendor"; echo "  contents:"
  for i in $(seq 0 59); do
    printf '  - path: oci%s\n    ociArtifact:\n      image: %s/r%s\n      tag: "1.0.0"\n      plainHTTP: true\n' "$i" "$host" $((i % 40))
  done
  for i in $(seq 0 19); do
    printf '  - path: img%s\n    image:\n      url: %s/r%s:1.0.0\n' "$i" "$host" "$i"
  done
  for i in $(seq 0 9); do
    printf '  - path: git%s\n    git:\n      url: git://127.0.0.1:%s/app.git\n      ref: v1.0.0\n' "$i" "$gport"
  done
  for i in $(seq 0 4); do
    printf '  - path: hg%s\n    hg:\n      url: http://127.0.0.1:%s/\n      ref: v1.0.0\n' "$i" "$hport"
  done
  for i in $(seq 0 4); do
    printf '  - path: chart%s\n    helmChart:\n      name: demo\n      version: 0.1.0\n      repository:\n        url: http://127.0.0.1:%s/\n' "$i" "$cport"
  done
} >"$work/proj/vendir.yml"

# Median wall seconds of `vendoras outdated ARGS`, cold each time.
measure() {
  local times=()
  for r in $(seq "$REPS"); do
    rm -rf "$work/cache"
    local s e
    s=$(date +%s.%N)
    "$VENDORAS" outdated --chdir "$work/proj" --cache-dir "$work/cache" --json "$@" >"$work/out.json"
    e=$(date +%s.%N)
    times+=("$(python3 -c "print($e - $s)")")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((REPS + 1) / 2))p"
}

whole=$(measure)
n=$(python3 -c "import json; print(len(json.load(open('$work/out.json'))))")
slowest=0 slowest_kind=
for c in oci0 img0 git0 hg0 chart0; do
  t=$(measure -d "vendor/$c")
  echo "single listing vendor/$c: ${t}s"
  if python3 -c "import sys; sys.exit(0 if $t > $slowest else 1)"; then slowest=$t slowest_kind=$c; fi
done
python3 - "$whole" "$n" "$slowest" "$slowest_kind" "$REPS" <<'PY'
import sys
whole, n, slowest, kind, reps = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
print(f"outdated, {n} contents, cold (median of {reps}): {whole:.3f}s, {whole / n * 1000:.1f} ms per content")
print(f"slowest single listing ({kind}): {slowest:.3f}s; whole / slowest = {whole / slowest:.2f} (target <= 1.20: {'met' if whole <= slowest * 1.2 else 'NOT met'})")
PY
